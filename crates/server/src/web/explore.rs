//! The value tree explorer: the whole tree from the customer needs down as of a date, each
//! node with its value realised and its contributors; a search and a unit narrow it to the
//! nodes they pick and the nodes above them. Nodes with children fold (`details`), so a large
//! tree reads from the top and opens where the reader looks; no script needed.

use super::i18n::Lang;
use super::{Viewer, error_page, kind_label, page, status_label};
use crate::{ServerState, blocking};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use valuetree_app::queries::{ExploreQuery, Explorer, ExplorerNode};

#[derive(Deserialize, Default, Clone)]
pub struct ExploreForm {
    #[serde(default)]
    q: String,
    #[serde(default)]
    unit: String,
    #[serde(default)]
    as_of: String,
}

/// Levels open when nothing narrows the tree: the needs and their objectives.
const OPEN_LEVELS: usize = 1;

fn node_markup(lang: Lang, n: &ExplorerNode, depth: usize, narrowed: bool) -> Markup {
    let line = html! {
        span class="kind" { (kind_label(lang, n.kind)) }
        " "
        a href={ "/nodes/" (n.node.node_id) } class=[n.matched.then_some("matched")] { (n.node.title) }
        " " span class="id" { (n.node.node_id) }
        " " span class="status" { (status_label(lang, n.status)) }
        span class="facts" {
            @if let Some(w) = n.weight { " · " (lang.t_with("explore-weight", &[("weight", lang.number(w, 2).into())])) }
            @if let Some(lead) = &n.lead { " · " (lang.t_with("explore-lead", &[("name", lead.name.clone().into())])) }
            " · " (lang.t_with("explore-value", &[("value", lang.number(n.value_realised, 0).into())]))
            " · " (lang.t_with("explore-contributors", &[("count", n.contributors.into())]))
        }
    };
    // The node's line (with its link) stays outside the summary: a link inside a summary is
    // a control inside a control, which keyboards and screen readers cannot tell apart.
    html! {
        li {
            div class="node" { (line) }
            @if !n.children.is_empty() {
                details open[narrowed || depth < OPEN_LEVELS] {
                    summary { (lang.t_with("explore-parts", &[("count", n.children.len().into()), ("node", n.node.title.clone().into())])) }
                    ul { @for c in &n.children { (node_markup(lang, c, depth + 1, narrowed)) } }
                }
            }
        }
    }
}

fn explorer_markup(
    viewer: &Viewer,
    form: &ExploreForm,
    found: Option<&Explorer>,
    problem: Option<&str>,
) -> Markup {
    let lang = viewer.lang;
    page(
        lang,
        &lang.t("explore-title"),
        viewer.nav(),
        html! {
            h1 { (lang.t("explore-title")) }
            p class="help" { (lang.t("explore-help")) }
            form method="get" action="/tree" class="row filters" {
                label for="q" { (lang.t("explore-search")) }
                input id="q" name="q" type="search" value=(form.q);
                label for="unit" { (lang.t("explore-unit")) }
                input id="unit" name="unit" type="text" list="units" value=(form.unit) aria-describedby="unit-help";
                @if let Some(found) = found {
                    datalist id="units" { @for u in &found.units { option value=(u.unit_id) { (u.name) } } }
                }
                label for="as_of" { (lang.t("explore-as-of")) }
                input id="as_of" name="as_of" type="date" value=(form.as_of) aria-invalid=[problem.map(|_| "true")] aria-describedby="explore-error";
                button type="submit" { (lang.t("explore-show")) }
            }
            p class="help" id="unit-help" { (lang.t("explore-unit-help")) }
            @if let Some(problem) = problem { p class="error" role="alert" id="explore-error" { (problem) } }
            @if let Some(found) = found {
                @let narrowed = found.search.is_some() || found.unit.is_some();
                p class="help" {
                    (lang.t_with("explore-count", &[("matched", found.matched.into()), ("date", lang.date(found.as_of).into())]))
                    @if let Some(unit) = &found.unit { " · " (lang.t_with("explore-of-unit", &[("unit", unit.name.clone().into())])) }
                }
                @if found.truncated { p class="warning" { (lang.t_with("explore-truncated", &[("count", found.drawn.into())])) } }
                @if found.roots.is_empty() {
                    p class="empty" { (lang.t(if narrowed { "explore-none-matched" } else { "explore-empty" })) }
                } @else {
                    ul class="explorer" { @for n in &found.roots { (node_markup(lang, n, 0, narrowed)) } }
                }
            }
        },
    )
}

/// `GET /tree?q=&unit=&as_of=`.
pub async fn explorer_page(
    State(state): State<ServerState>,
    viewer: Viewer,
    Query(form): Query<ExploreForm>,
) -> Response {
    let lang = viewer.lang;
    let as_of = match form.as_of.trim() {
        "" => None,
        text => match text.parse() {
            Ok(date) => Some(date),
            Err(_) => {
                let problem = lang.t_with("org-bad-date", &[("value", text.to_string().into())]);
                return (
                    StatusCode::BAD_REQUEST,
                    explorer_markup(&viewer, &form, None, Some(&problem)),
                )
                    .into_response();
            }
        },
    };
    let query = ExploreQuery {
        search: Some(form.q.clone()),
        unit_id: Some(form.unit.trim().to_string()),
        as_of,
    };
    let actor = viewer.actor.clone();
    match blocking(&state, move |app| app.explore_tree(&actor, &query)).await {
        Ok(found) => {
            let shown = ExploreForm {
                as_of: found.as_of.to_string(),
                ..form
            };
            explorer_markup(&viewer, &shown, Some(&found), None).into_response()
        }
        Err(e) if e.status == StatusCode::NOT_FOUND => (
            StatusCode::NOT_FOUND,
            explorer_markup(&viewer, &form, None, Some(&e.message)),
        )
            .into_response(),
        Err(e) => error_page(lang, e),
    }
}
