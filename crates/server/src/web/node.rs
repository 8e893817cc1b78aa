//! The node page: what the node is for, who leads it and works on it, its contributions (the
//! lead confirms them here), the value realised, the credit breakdown, and the form to record
//! one's own contribution.

use super::{Viewer, error_page, kind_label, page, redirect, refused_origin, status_label};
use crate::auth::same_origin;
use crate::error::ApiError;
use crate::{ServerState, blocking};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use valuetree_app::commands::work::NewContribution;
use valuetree_app::queries::NodeView;
use valuetree_app::{ContributionFilter, Page};
use valuetree_core::NaiveDate;
use valuetree_core::domain::Phase;

use super::i18n::Lang;

/// Contributions shown per page.
const PER_PAGE: usize = 50;

fn phase_label(lang: Lang, phase: Phase) -> String {
    lang.t(&format!("phase-{}", phase.as_str()))
}

#[derive(Deserialize, Default)]
pub struct NodeQuery {
    offset: Option<usize>,
    /// Set after a contribution was recorded here: the page says so.
    recorded: Option<String>,
}

/// What was typed into the contribution form, kept when it is refused.
#[derive(Deserialize, Default, Clone)]
pub struct ContributionForm {
    #[serde(default)]
    phase: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    effort: String,
    #[serde(default)]
    description: String,
    /// Not typed: the page was shown right after a contribution was recorded.
    #[serde(skip)]
    recorded: bool,
}

/// A refusal of the form: the field it is about (if any) and what to do.
struct Problem {
    field: Option<&'static str>,
    message: String,
}

fn contribution_form(
    lang: Lang,
    node_id: &str,
    today: NaiveDate,
    typed: &ContributionForm,
    problem: Option<&Problem>,
) -> Markup {
    let error_for = |field: &str| {
        problem
            .filter(|p| p.field == Some(field))
            .map(|p| p.message.clone())
    };
    let general = problem
        .filter(|p| p.field.is_none())
        .map(|p| p.message.clone());
    let date = if typed.date.is_empty() {
        today.to_string()
    } else {
        typed.date.clone()
    };
    html! {
        form method="post" action={ "/nodes/" (node_id) "/contributions" } class="stack" id="record" {
            @if typed.recorded {
                p class="done" role="status" { (lang.t("node-recorded")) }
            }
            @if let Some(message) = general {
                p class="error" role="alert" { (message) }
            }
            label for="phase" { (lang.t("node-phase")) }
            select id="phase" name="phase" aria-describedby=[error_for("phase").map(|_| "phase-error")] {
                @for phase in Phase::ALL {
                    option value=(phase.as_str()) selected[typed.phase == phase.as_str()] { (phase_label(lang, *phase)) }
                }
            }
            @if let Some(message) = error_for("phase") { p class="error" id="phase-error" { (message) } }
            label for="date" { (lang.t("node-date")) }
            input id="date" name="date" type="date" value=(date) required
                aria-describedby=[error_for("date").map(|_| "date-error")];
            @if let Some(message) = error_for("date") { p class="error" id="date-error" { (message) } }
            label for="effort" { (lang.t("node-effort")) }
            input id="effort" name="effort" type="text" inputmode="decimal" value=(typed.effort) required
                aria-describedby=[error_for("effort").map(|_| "effort-error")];
            @if let Some(message) = error_for("effort") { p class="error" id="effort-error" { (message) } }
            label for="description" { (lang.t("node-description")) }
            textarea id="description" name="description" rows="3" { (typed.description) }
            button type="submit" { (lang.t("node-record-submit")) }
        }
    }
}

fn node_markup(
    viewer: &Viewer,
    view: &NodeView,
    today: NaiveDate,
    typed: &ContributionForm,
    problem: Option<&Problem>,
) -> Markup {
    let lang = viewer.lang;
    let viewer_id = viewer.identity.person_id.as_deref();
    let is_lead = view
        .lead
        .as_ref()
        .is_some_and(|l| Some(l.person_id.as_str()) == viewer_id);
    let contributions = &view.contributions;
    let shown_to = contributions.offset + contributions.items.len();
    page(
        lang,
        &view.node.title,
        viewer.nav(),
        html! {
            p class="kind" { (kind_label(lang, view.kind)) " · " (status_label(lang, view.status)) " · " span class="id" { (view.node.node_id) } }
            h1 { (view.node.title) }
            @if !view.description.is_empty() { p { (view.description) } }
            dl class="facts" {
                dt { (lang.t("node-lead")) }
                dd { @match &view.lead { Some(l) => a href={ "/people/" (l.person_id) } { (l.name) }, None => (lang.t("node-no-lead")) } }
                @if let Some(serves) = &view.serves {
                    dt { (lang.t("node-serves")) }
                    dd { a href={ "/nodes/" (serves.node_id) } { (serves.title) } }
                }
                @if !view.parents.is_empty() {
                    dt { (lang.t("node-part-of")) }
                    dd { @for (i, p) in view.parents.iter().enumerate() { @if i > 0 { ", " } a href={ "/nodes/" (p.node.node_id) } { (p.node.title) } } }
                }
                @if !view.children.is_empty() {
                    dt { (lang.t("node-made-of")) }
                    dd { @for (i, c) in view.children.iter().enumerate() { @if i > 0 { ", " } a href={ "/nodes/" (c.node.node_id) } { (c.node.title) } } }
                }
            }
            @if !view.members.is_empty() {
                h2 { (lang.t("node-members")) }
                ul { @for m in &view.members { li { (m.person.name) " · " (m.role) " · " (lang.date(m.joined_on)) @if let Some(left) = m.left_on { " – " (lang.date(left)) } } } }
            }
            @if !view.handovers.is_empty() {
                h2 { (lang.t("node-handovers")) }
                ol class="timeline" {
                    @for h in &view.handovers {
                        li { (lang.t_with("node-handover", &[
                            ("date", lang.date(h.date).into()),
                            ("from", h.from_lead.as_ref().map_or_else(String::new, |p| p.name.clone()).into()),
                            ("to", h.to_lead.as_ref().map_or_else(String::new, |p| p.name.clone()).into()),
                        ])) @if !h.note.is_empty() { " — " (h.note) } }
                    }
                }
            }
            @if let Some(me) = viewer_id {
                @let member = view.members.iter().any(|m| m.person.person_id == me && m.left_on.is_none());
                @if member {
                    form method="post" action={ "/nodes/" (view.node.node_id) "/leave" } class="row" id="leave" {
                        button type="submit" { (lang.t("node-leave")) }
                        span class="help" { (lang.t("node-leave-help")) }
                    }
                } @else if !is_lead {
                    h2 { (lang.t("node-join")) }
                    form method="post" action={ "/flagpoles/" (view.node.node_id) "/ask" } class="row" id="join" {
                        input type="hidden" name="back" value="node";
                        label for="join-role" { (lang.t("flagpoles-role")) }
                        @if view.roles_wanted.is_empty() {
                            input id="join-role" name="role" type="text" required;
                        } @else {
                            select id="join-role" name="role" {
                                @for role in &view.roles_wanted { option value=(role) { (role) } }
                            }
                        }
                        label for="join-message" { (lang.t("flagpoles-message")) }
                        input id="join-message" name="message" type="text";
                        button type="submit" { (lang.t("node-join-submit")) }
                    }
                }
            }
            @if is_lead {
                h2 { (lang.t("node-hand-over")) }
                p class="help" { (lang.t("node-hand-over-help")) }
                form method="post" action={ "/nodes/" (view.node.node_id) "/hand-over" } class="stack" id="hand-over" {
                    label for="to_lead_id" { (lang.t("node-to-lead")) }
                    input id="to_lead_id" name="to_lead_id" type="text" required;
                    label for="note" { (lang.t("node-note")) }
                    input id="note" name="note" type="text";
                    button type="submit" { (lang.t("node-hand-over-submit")) }
                }
            }
            @if viewer_id.is_some() {
                h2 { (lang.t("node-record")) }
                (contribution_form(lang, &view.node.node_id, today, typed, problem))
            }
            h2 { (lang.t("node-contributions")) }
            @if contributions.items.is_empty() {
                p class="empty" { (lang.t("node-contributions-empty")) }
            } @else {
                p class="help" { (lang.t_with("node-page", &[
                    ("from", (contributions.offset + 1).into()),
                    ("to", shown_to.into()),
                    ("total", contributions.total.into()),
                ])) }
                div class="scroll" tabindex="0" role="region" aria-label=(lang.t("node-contributions")) {
                    table class="contributions" {
                        thead { tr {
                            th scope="col" { (lang.t("col-person")) }
                            th scope="col" { (lang.t("col-phase")) }
                            th scope="col" { (lang.t("col-date")) }
                            th scope="col" { (lang.t("col-effort")) }
                            th scope="col" { (lang.t("col-what")) }
                            th scope="col" { (lang.t("col-status")) }
                        } }
                        tbody {
                            @for c in &contributions.items {
                                tr id={ "c-" (c.contribution_id) } {
                                    td { a href={ "/people/" (c.person.person_id) } { (c.person.name) } }
                                    td { (phase_label(lang, c.phase)) }
                                    td { (lang.date(c.date)) }
                                    td class="number" { (lang.number(c.effort, 2)) }
                                    td { (c.description) }
                                    td class="status" {
                                        @if c.retracted_on.is_some() {
                                            (lang.t("node-retracted"))
                                        } @else if c.confirmed {
                                            (lang.t("node-confirmed"))
                                        } @else if is_lead && Some(c.person.person_id.as_str()) != viewer_id {
                                            form method="post" action={ "/contributions/" (c.contribution_id) "/confirm" } class="inline" {
                                                button type="submit" aria-label={ (lang.t("node-confirm")) ": " (c.description) } { (lang.t("node-confirm")) }
                                            }
                                        } @else {
                                            (lang.t("node-unconfirmed"))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                nav class="pages" {
                    @if contributions.offset > 0 {
                        a href={ "/nodes/" (view.node.node_id) "?offset=" (contributions.offset.saturating_sub(PER_PAGE)) } { (lang.t("node-newer")) }
                    }
                    @if shown_to < contributions.total {
                        " " a href={ "/nodes/" (view.node.node_id) "?offset=" (shown_to) } { (lang.t("node-older")) }
                    }
                }
            }
            h2 { (lang.t("node-outcomes")) }
            @if view.outcomes.is_empty() {
                p class="empty" { (lang.t("node-outcomes-empty")) }
            } @else {
                ul { @for o in &view.outcomes { li { (lang.date(o.date)) " · " strong { (lang.number(o.value, 2)) } " · " (o.description) } } }
            }
            h2 { (lang.t("node-credit")) }
            @if view.credit.is_empty() {
                p class="empty" { (lang.t("node-credit-empty")) }
            } @else {
                ul class="credit" {
                    @for line in &view.credit {
                        li { strong { a href={ "/people/" (line.person.person_id) } { (line.person.name) } } " — " (lang.t_with("node-credit-line", &[
                            ("amount", lang.number(line.amount, 2).into()),
                            ("outcome", line.outcome_id.clone().into()),
                            ("date", lang.date(line.outcome_date).into()),
                            ("phase", phase_label(lang, line.phase).into()),
                            ("effort", lang.number(line.effort, 2).into()),
                            ("phase-effort", lang.number(line.phase_effort, 2).into()),
                        ])) }
                    }
                }
            }
        },
    )
}

async fn load(
    state: &ServerState,
    viewer: &Viewer,
    node_id: String,
    offset: usize,
) -> Result<(NodeView, NaiveDate), ApiError> {
    let actor = viewer.actor.clone();
    blocking(state, move |app| {
        let page = Page {
            offset,
            limit: PER_PAGE,
        };
        // Newest first: what a lead confirms is what came in last.
        let filter = ContributionFilter {
            newest_first: true,
            ..ContributionFilter::default()
        };
        let view = app.node_page(&actor, &node_id, &filter, page)?;
        Ok((view, app.today()))
    })
    .await
}

/// `GET /nodes/{node_id}`.
pub async fn node_page(
    State(state): State<ServerState>,
    viewer: Viewer,
    Path(node_id): Path<String>,
    Query(query): Query<NodeQuery>,
) -> Response {
    match load(&state, &viewer, node_id, query.offset.unwrap_or(0)).await {
        Ok((view, today)) => {
            let typed = ContributionForm {
                recorded: query.recorded.is_some(),
                ..ContributionForm::default()
            };
            node_markup(&viewer, &view, today, &typed, None).into_response()
        }
        Err(e) => error_page(viewer.lang, e),
    }
}

/// `POST /nodes/{node_id}/contributions`: records the viewer's own contribution and shows
/// the node again; a refusal keeps what was typed and says why beside the field.
pub async fn record(
    State(state): State<ServerState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(node_id): Path<String>,
    axum::Form(form): axum::Form<ContributionForm>,
) -> Response {
    let lang = viewer.lang;
    if !same_origin(&headers, &state) {
        return refused_origin(lang);
    }
    let parsed = (|| {
        let phase = form.phase.parse::<Phase>().map_err(|e| Problem {
            field: Some("phase"),
            message: e.to_string(),
        })?;
        let date = form.date.parse::<NaiveDate>().map_err(|_| Problem {
            field: Some("date"),
            message: format!("{:?} is not a date (YYYY-MM-DD)", form.date),
        })?;
        let effort = form.effort.trim().parse::<f64>().map_err(|_| Problem {
            field: Some("effort"),
            message: format!("{:?} is not a number of days", form.effort),
        })?;
        Ok::<_, Problem>((phase, date, effort))
    })();
    let outcome = match parsed {
        Err(problem) => Err(problem),
        Ok((phase, date, effort)) => {
            let actor = viewer.actor.clone();
            let new = NewContribution {
                contribution_id: None,
                person_id: None,
                node_id: node_id.clone(),
                phase,
                date: Some(date),
                effort,
                description: form.description.trim().to_string(),
                evidence: None,
            };
            blocking(&state, move |app| app.record_contribution(&actor, new))
                .await
                .map_err(|e| Problem {
                    field: match e.details["fields"].get(0).and_then(|f| f["field"].as_str()) {
                        Some("effort") => Some("effort"),
                        Some("date") => Some("date"),
                        Some("phase") => Some("phase"),
                        _ => None,
                    },
                    message: e.message,
                })
        }
    };
    match outcome {
        Ok(_) => redirect(&format!("/nodes/{node_id}?recorded=1#record")),
        Err(problem) => match load(&state, &viewer, node_id, 0).await {
            Ok((view, today)) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                node_markup(&viewer, &view, today, &form, Some(&problem)),
            )
                .into_response(),
            Err(e) => error_page(lang, e),
        },
    }
}

/// `POST /contributions/{contribution_id}/confirm`: the node's lead confirms; back to the
/// node.
pub async fn confirm(
    State(state): State<ServerState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(contribution_id): Path<String>,
) -> Response {
    if !same_origin(&headers, &state) {
        return refused_origin(viewer.lang);
    }
    let actor = viewer.actor.clone();
    let id = contribution_id.clone();
    let confirmed = blocking(&state, move |app| {
        app.confirm_contribution(&actor, &id)?;
        app.contribution_node(&actor, &id)
    })
    .await;
    match confirmed {
        Ok(node_id) => redirect(&format!("/nodes/{node_id}#c-{contribution_id}")),
        Err(e) => error_page(viewer.lang, e),
    }
}

#[derive(Deserialize, Default)]
pub struct HandOverForm {
    #[serde(default)]
    to_lead_id: String,
    #[serde(default)]
    note: String,
}

/// `POST /nodes/{node_id}/hand-over`: the lead hands the node to another lead, today.
pub async fn hand_over(
    State(state): State<ServerState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(node_id): Path<String>,
    axum::Form(form): axum::Form<HandOverForm>,
) -> Response {
    if !same_origin(&headers, &state) {
        return refused_origin(viewer.lang);
    }
    let actor = viewer.actor.clone();
    let id = node_id.clone();
    let handed = blocking(&state, move |app| {
        app.hand_over(&actor, &id, form.to_lead_id.trim(), None, form.note.trim())
    })
    .await;
    match handed {
        Ok(_) => redirect(&format!("/nodes/{node_id}")),
        Err(e) => error_page(viewer.lang, e),
    }
}

/// `POST /nodes/{node_id}/leave`: the viewer ends their membership today.
pub async fn leave(
    State(state): State<ServerState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(node_id): Path<String>,
) -> Response {
    if !same_origin(&headers, &state) {
        return refused_origin(viewer.lang);
    }
    let actor = viewer.actor.clone();
    let id = node_id.clone();
    match blocking(&state, move |app| app.leave(&actor, &id, None, None)).await {
        Ok(_) => redirect(&format!("/nodes/{node_id}")),
        Err(e) => error_page(viewer.lang, e),
    }
}
