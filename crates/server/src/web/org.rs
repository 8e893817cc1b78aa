//! The organisation over time: everyone by unit as of a date (a date picker), and what
//! changed between two dates.

use super::i18n::Lang;
use super::{Viewer, error_page, page};
use crate::error::ApiError;
use crate::{ServerState, blocking};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use valuetree_app::queries::{PersonRef, PlacementView, ReorganisationView, UnitRef};
use valuetree_app::{Page, Paged};
use valuetree_core::NaiveDate;

const PER_PAGE: usize = 100;

#[derive(Deserialize, Default)]
pub struct OrgQuery {
    as_of: Option<String>,
    offset: Option<usize>,
    from: Option<String>,
    to: Option<String>,
    /// Where the list of reorganisations starts (newest first).
    reorgs: Option<usize>,
}

/// How many reorganisations the org page lists at a time.
const REORGS_PER_PAGE: usize = 10;

/// A date typed into a form: empty is none; anything else must be a date.
pub(super) fn date_field(lang: Lang, text: &Option<String>) -> Result<Option<NaiveDate>, ApiError> {
    match text.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(value) => value.parse().map(Some).map_err(|_| {
            ApiError::bad_request(
                lang.t_with("org-bad-date", &[("value", value.to_string().into())]),
            )
        }),
    }
}

fn person_link(p: &PersonRef) -> Markup {
    html! { a href={ "/people/" (p.person_id) } { (p.name) } }
}

fn unit_name(u: &Option<UnitRef>) -> Markup {
    html! { @match u { Some(u) => (u.name), None => "—" } }
}

fn placement_list(lang: Lang, people: &[PlacementView]) -> Markup {
    html! {
        @if people.is_empty() {
            p class="empty" { (lang.t("org-nothing")) }
        } @else {
            ul { @for p in people { li { (person_link(&p.person)) " · " (unit_name(&p.unit)) } } }
        }
    }
}

/// `GET /org`: the organisation as of a date, and the diff between two dates when asked.
pub async fn org_page(
    State(state): State<ServerState>,
    viewer: Viewer,
    Query(query): Query<OrgQuery>,
) -> Response {
    let lang = viewer.lang;
    let dates = (|| {
        Ok::<_, ApiError>((
            date_field(lang, &query.as_of)?,
            date_field(lang, &query.from)?,
            date_field(lang, &query.to)?,
        ))
    })();
    let (as_of, from, to) = match dates {
        Ok(dates) => dates,
        Err(e) => return error_page(lang, e),
    };
    let actor = viewer.actor.clone();
    let offset = query.offset.unwrap_or(0);
    let reorg_offset = query.reorgs.unwrap_or(0);
    let found = blocking(&state, move |app| {
        let org = app.org(
            &actor,
            as_of,
            Page {
                offset,
                limit: PER_PAGE,
            },
        )?;
        let diff = match (from, to) {
            (Some(from), Some(to)) => Some(app.org_diff(&actor, from, to)?),
            _ => None,
        };
        let reorgs = app.reorganisations(
            &actor,
            from,
            to,
            Page {
                offset: reorg_offset,
                limit: REORGS_PER_PAGE,
            },
        )?;
        Ok((org, diff, reorgs))
    })
    .await;
    let (org, diff, reorgs) = match found {
        Ok(found) => found,
        Err(e) => return error_page(lang, e),
    };
    let people = &org.people;
    let shown_to = people.offset + people.items.len();
    let as_of_text = org.as_of.to_string();
    let markup = page(
        lang,
        &lang.t("org-title"),
        viewer.nav(),
        html! {
            h1 { (lang.t("org-title")) }
            form method="get" action="/org" class="row" {
                label for="as_of" { (lang.t("org-as-of")) }
                input id="as_of" name="as_of" type="date" value=(as_of_text);
                button type="submit" { (lang.t("org-show")) }
            }
            p class="help" { (lang.t_with("org-people", &[
                ("total", people.total.into()),
                ("date", lang.date(org.as_of).into()),
                ("from", (people.offset + 1).min(people.total).into()),
                ("to", shown_to.into()),
            ])) }
            @for unit in &org.units {
                section class="unit" {
                    h2 { (unit.unit.name) " " span class="id" { (unit.unit.unit_id) } }
                    p class="help" {
                        (unit.people) " · "
                        @if let Some(parent) = &unit.parent { (lang.t_with("org-part-of", &[("unit", parent.name.clone().into())])) }
                    }
                    ul {
                        @for p in people.items.iter().filter(|p| p.unit.as_ref().map(|u| &u.unit_id) == Some(&unit.unit.unit_id)) {
                            li {
                                (person_link(&p.person))
                                @if let Some(m) = &p.manager { " · " (lang.t_with("home-manager", &[("name", m.name.clone().into())])) }
                                @if let Some(since) = p.since { " · " (lang.t_with("org-since", &[("date", lang.date(since).into())])) }
                            }
                        }
                    }
                }
            }
            nav class="pages" {
                @if people.offset > 0 {
                    a href={ "/org?as_of=" (as_of_text) "&offset=" (people.offset.saturating_sub(PER_PAGE)) } { (lang.t("node-newer")) }
                }
                @if shown_to < people.total {
                    " " a href={ "/org?as_of=" (as_of_text) "&offset=" (shown_to) } { (lang.t("node-older")) }
                }
            }
            h2 id="diff" { (lang.t("org-diff")) }
            form method="get" action="/org#diff" class="row" {
                input type="hidden" name="as_of" value=(as_of_text);
                label for="from" { (lang.t("org-from")) }
                input id="from" name="from" type="date" value=[from.map(|d| d.to_string())];
                label for="to" { (lang.t("org-to")) }
                input id="to" name="to" type="date" value=[to.map(|d| d.to_string())];
                button type="submit" { (lang.t("org-compare")) }
            }
            @if let Some(diff) = &diff {
                div class="diff" {
                    h3 { (lang.t("org-joined")) } (placement_list(lang, &diff.joined))
                    h3 { (lang.t("org-left")) } (placement_list(lang, &diff.left))
                    h3 { (lang.t("org-moved")) }
                    @if diff.moved.is_empty() { p class="empty" { (lang.t("org-nothing")) } } @else {
                        ul class="moved" { @for c in &diff.moved { li { (person_link(&c.person)) ": " (unit_name(&c.before)) " → " (unit_name(&c.after)) } } }
                    }
                    h3 { (lang.t("org-manager-changed")) }
                    @if diff.manager_changed.is_empty() { p class="empty" { (lang.t("org-nothing")) } } @else {
                        ul { @for c in &diff.manager_changed { li { (person_link(&c.person)) ": "
                            @match &c.before { Some(p) => (p.name), None => "—" } " → " @match &c.after { Some(p) => (p.name), None => "—" } } } }
                    }
                    h3 { (lang.t("org-units-created")) }
                    @if diff.units_created.is_empty() { p class="empty" { (lang.t("org-nothing")) } } @else {
                        ul { @for u in &diff.units_created { li { (u.name) } } }
                    }
                    h3 { (lang.t("org-units-dissolved")) }
                    @if diff.units_dissolved.is_empty() { p class="empty" { (lang.t("org-nothing")) } } @else {
                        ul { @for u in &diff.units_dissolved { li { (u.name) } } }
                    }
                }
            }
            (reorganisations_markup(lang, &reorgs, &as_of_text, from, to))
        },
    );
    markup.into_response()
}

fn reorganisations_markup(
    lang: Lang,
    reorgs: &Paged<ReorganisationView>,
    as_of: &str,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Markup {
    let link = |offset: usize| {
        let mut url = format!("/org?as_of={as_of}&reorgs={offset}");
        if let (Some(from), Some(to)) = (from, to) {
            url.push_str(&format!("&from={from}&to={to}"));
        }
        url + "#reorganisations"
    };
    let shown_to = reorgs.offset + reorgs.items.len();
    let units = |list: &[UnitRef]| {
        list.iter()
            .map(|u| u.name.clone())
            .collect::<Vec<_>>()
            .join(", ")
    };
    html! {
        h2 id="reorganisations" { (lang.t("org-reorgs")) }
        p class="help" { (lang.t("org-reorgs-help")) }
        @if reorgs.items.is_empty() { p class="empty" { (lang.t("org-no-reorgs")) } }
        @for r in &reorgs.items {
            section class="reorg" aria-labelledby={ "reorg-" (r.date) } {
                h3 id={ "reorg-" (r.date) } { (lang.date(r.date)) }
                ul {
                    @if !r.units_created.is_empty() { li { (lang.t_with("org-reorg-created", &[("units", units(&r.units_created).into())])) } }
                    @for m in &r.units_moved {
                        li { (lang.t_with("org-reorg-moved", &[
                            ("unit", m.unit.name.clone().into()),
                            ("from", m.from_parent.as_ref().map_or("—".to_string(), |u| u.name.clone()).into()),
                            ("to", m.to_parent.as_ref().map_or("—".to_string(), |u| u.name.clone()).into()),
                        ])) }
                    }
                    @if !r.units_dissolved.is_empty() { li { (lang.t_with("org-reorg-dissolved", &[("units", units(&r.units_dissolved).into())])) } }
                }
                @if !r.people_moved.is_empty() {
                    details {
                        summary { (lang.t_with("org-reorg-people", &[("count", r.people_moved.len().into())])) }
                        table {
                            thead { tr {
                                th scope="col" { (lang.t("col-person")) }
                                th scope="col" { (lang.t("org-from")) }
                                th scope="col" { (lang.t("org-to")) }
                                th scope="col" { (lang.t("org-manager-changed")) }
                            } }
                            tbody {
                                @for m in &r.people_moved {
                                    tr {
                                        td { (person_link(&m.person)) }
                                        td { (m.from_unit.name) }
                                        td { (m.to_unit.name) }
                                        td {
                                            @if m.from_manager != m.to_manager {
                                                @match &m.from_manager { Some(p) => (p.name), None => "—" } " → " @match &m.to_manager { Some(p) => (p.name), None => "—" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        nav class="pages" {
            @if reorgs.offset > 0 { a href=(link(reorgs.offset.saturating_sub(REORGS_PER_PAGE))) { (lang.t("org-later-reorgs")) } }
            @if shown_to < reorgs.total { " " a href=(link(shown_to)) { (lang.t("org-earlier-reorgs")) } }
        }
    }
}
