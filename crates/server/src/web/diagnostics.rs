//! HR's diagnostics (docs/diagnostics.md): credit kept through reorganisations, churn, the
//! collaboration matrix, the value tree's health, rating anomalies, and a reorganisation
//! plan's what-if — each a page over the same app calls as `/api/diagnose/…`.

use super::i18n::Lang;
use super::{Viewer, error_page, page, refused_origin};
use crate::auth::same_origin;
use crate::error::ApiError;
use crate::{ServerState, blocking};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use std::collections::BTreeMap;
use valuetree_app::queries::{
    CollaborationQuery, KeptCreditReport, KeptQuery, Names, TreeHealthQuery, WhatIfReport,
};
use valuetree_core::NaiveDate;
use valuetree_core::diagnose::KeptCause;

/// How many people, units and nodes a page lists.
const LISTED: usize = 50;

#[derive(Deserialize, Default)]
pub struct DiagnosticsQuery {
    as_of: Option<String>,
    from: Option<String>,
    to: Option<String>,
    depth: Option<String>,
    cycle: Option<String>,
}

use super::org::date_field as date;

fn named(names: &BTreeMap<String, String>, id: &str) -> String {
    match names.get(id).filter(|n| !n.is_empty()) {
        Some(name) => name.clone(),
        None => id.to_string(),
    }
}

fn person_link(names: &Names, id: &str) -> Markup {
    html! { a href={ "/people/" (id) } { (named(&names.people, id)) } }
}

/// The tabs of the diagnostics pages; `here` is marked as the current page.
fn tabs(lang: Lang, here: &str) -> Markup {
    let tab = |path: &str, label: &str| {
        html! {
            @if path == here { a href=(path) aria-current="page" { (lang.t(label)) } }
            @else { a href=(path) { (lang.t(label)) } }
        }
    };
    html! {
        nav class="tabs" aria-label=(lang.t("diag-title")) {
            (tab("/diagnostics", "diag-kept"))
            (tab("/diagnostics/churn", "diag-churn"))
            (tab("/diagnostics/collaboration", "diag-collaboration"))
            (tab("/diagnostics/tree", "diag-tree"))
            (tab("/diagnostics/ratings", "diag-ratings"))
            (tab("/diagnostics/whatif", "diag-whatif"))
        }
    }
}

fn frame(lang: Lang, viewer: &Viewer, here: &str, title: &str, content: Markup) -> Response {
    page(
        lang,
        title,
        viewer.nav(),
        html! {
            h1 { (title) }
            (tabs(lang, here))
            (content)
        },
    )
    .into_response()
}

/// A period form (`fields` among as_of, from, to).
fn period_form(lang: Lang, action: &str, q: &DiagnosticsQuery, fields: &[&str]) -> Markup {
    let value = |name: &str| match name {
        "as_of" => q.as_of.clone(),
        "from" => q.from.clone(),
        _ => q.to.clone(),
    };
    html! {
        form method="get" action=(action) class="row" {
            @for field in fields {
                label for=(field) { (lang.t(&format!("diag-field-{field}"))) }
                input id=(field) name=(field) type="date" value=[value(field)];
            }
            @if action == "/diagnostics/collaboration" {
                label for="depth" { (lang.t("diag-field-depth")) }
                input id="depth" name="depth" type="number" min="0" max="20" value=[q.depth.clone()];
            }
            button type="submit" { (lang.t("org-show")) }
        }
    }
}

fn cause_label(lang: Lang, cause: &KeptCause, date: Option<NaiveDate>) -> String {
    match cause {
        KeptCause::Reorganisation => lang.t_with(
            "diag-cause-reorganisation",
            &[(
                "date",
                date.map(|d| lang.date(d)).unwrap_or_default().into(),
            )],
        ),
        KeptCause::IndividualMove => lang.t("diag-cause-individual-move"),
        KeptCause::HandOver => lang.t("diag-cause-hand-over"),
        KeptCause::Departure => lang.t("diag-cause-departure"),
        KeptCause::CrossUnitWork => lang.t("diag-cause-cross-unit-work"),
        KeptCause::StayedOnTheTeam => lang.t("diag-cause-stayed"),
    }
}

/// Horizontal bars of kept credit by cause, drawn as SVG (positive right, negative left).
fn causes_chart(lang: Lang, report: &KeptCreditReport) -> Markup {
    let rows: Vec<(String, f64)> = report
        .causes
        .iter()
        .map(|c| (cause_label(lang, &c.cause, c.date), c.totals.kept))
        .collect();
    let (width, row, label) = (640.0_f64, 24.0_f64, 240.0_f64);
    let height = row * rows.len().max(1) as f64 + 8.0;
    let largest = rows
        .iter()
        .map(|(_, v)| v.abs())
        .fold(0.0_f64, f64::max)
        .max(1e-9);
    let zero = label + (width - label) / 2.0;
    let half = (width - label) / 2.0 - 4.0;
    let summary: Vec<String> = rows
        .iter()
        .map(|(name, v)| format!("{name}: {}", lang.number(*v, 0)))
        .collect();
    html! {
        svg class="bars" viewBox={ "0 0 " (width) " " (height) } role="img" aria-label=(summary.join("; ")) {
            line x1=(zero) y1="0" x2=(zero) y2=(height) class="target" {}
            @for (i, (name, value)) in rows.iter().enumerate() {
                @let y = 4.0 + i as f64 * row;
                @let w = value.abs() / largest * half;
                text x="0" y={ (y + row * 0.65) } class="tick" { (name) }
                rect x={ (if *value >= 0.0 { zero } else { zero - w }) } y=(y + 3.0) width=(w) height=(row - 8.0)
                    class={ @if *value >= 0.0 { "bar" } @else { "bar off" } } {}
            }
        }
    }
}

/// `GET /diagnostics`: credit kept.
pub async fn kept_page(
    State(state): State<ServerState>,
    viewer: Viewer,
    Query(q): Query<DiagnosticsQuery>,
) -> Response {
    let lang = viewer.lang;
    let query = match (date(lang, &q.from), date(lang, &q.to)) {
        (Ok(from), Ok(to)) => KeptQuery { from, to },
        (Err(e), _) | (_, Err(e)) => return error_page(lang, e),
    };
    let actor = viewer.actor.clone();
    let report = match blocking(&state, move |app| app.kept_credit(&actor, &query)).await {
        Ok(report) => report,
        Err(e) => return error_page(lang, e),
    };
    let money = |x: f64| lang.number(x, 2);
    let content = html! {
        p class="help" { (lang.t("diag-kept-help")) }
        (period_form(lang, "/diagnostics", &q, &["from", "to"]))
        p { (lang.t_with("diag-kept-summary", &[
            ("value", money(report.value_realised).into()),
            ("kept", money(report.kept_total).into()),
            ("unattributed", money(report.unattributed).into()),
            ("team", money(report.team_view_unattributed).into()),
        ])) }
        h2 { (lang.t("diag-kept-by-cause")) }
        (causes_chart(lang, &report))
        table class="data" {
            thead { tr { th scope="col" { (lang.t("diag-cause")) } th scope="col" { (lang.t("board-people")) } th scope="col" class="num" { (lang.t("diag-col-kept")) } } }
            tbody { @for c in &report.causes { tr {
                td { (cause_label(lang, &c.cause, c.date))
                    @if !c.units_changed.is_empty() {
                        " · " (c.units_changed.iter().take(5).map(|u| named(&report.names.units, u)).collect::<Vec<_>>().join(", "))
                        @if c.units_changed.len() > 5 { " " (lang.t_with("diag-more-units", &[("count", (c.units_changed.len() - 5).into())])) }
                    }
                }
                td class="num" { (c.totals.people) }
                td class="num" { (money(c.totals.kept)) }
            } } }
        }
        h2 { (lang.t("diag-kept-people")) }
        div class="scroll" tabindex="0" role="region" aria-label=(lang.t("diag-kept-people")) {
            table class="data" {
                thead { tr {
                    th scope="col" { (lang.t("col-person")) }
                    th scope="col" class="num" { (lang.t("diag-col-credit")) }
                    th scope="col" class="num" { (lang.t("diag-col-team")) }
                    th scope="col" class="num" { (lang.t("diag-col-kept")) }
                    th scope="col" { (lang.t("diag-col-why")) }
                } }
                tbody { @for p in report.people.iter().take(LISTED) { tr {
                    td { a href={ "/people/" (p.person_id) } { @if p.name.is_empty() { (p.person_id) } @else { (p.name) } } }
                    td class="num" { (money(p.credit)) }
                    td class="num" { (money(p.team_view_credit)) }
                    td class="num" { (money(p.kept)) }
                    td { (p.reasons.iter().map(|r| lang.t(&format!("diag-reason-{}", r.as_str()))).collect::<Vec<_>>().join(", ")) }
                } } }
            }
        }
        p class="help" { (lang.t_with("diag-listed", &[("shown", report.people.len().min(LISTED).into()), ("total", report.people.len().into())])) }
        h2 { (lang.t("diag-kept-units")) }
        table class="data" {
            thead { tr { th scope="col" { (lang.t("diag-col-unit")) } th scope="col" class="num" { (lang.t("board-people")) } th scope="col" class="num" { (lang.t("diag-col-kept")) } } }
            tbody { @for u in report.units.iter().take(LISTED) { tr {
                td { @match &u.unit { Some(u) => (u.name), None => "—" } }
                td class="num" { (u.totals.people) }
                td class="num" { (money(u.totals.kept)) }
            } } }
        }
    };
    frame(
        lang,
        &viewer,
        "/diagnostics",
        &lang.t("diag-title"),
        content,
    )
}

/// `GET /diagnostics/churn`.
pub async fn churn_page(
    State(state): State<ServerState>,
    viewer: Viewer,
    Query(q): Query<DiagnosticsQuery>,
) -> Response {
    let lang = viewer.lang;
    let as_of = match date(lang, &q.as_of) {
        Ok(d) => d,
        Err(e) => return error_page(lang, e),
    };
    let actor = viewer.actor.clone();
    let report = match blocking(&state, move |app| app.churn(&actor, as_of)).await {
        Ok(report) => report,
        Err(e) => return error_page(lang, e),
    };
    let (c, names) = (&report.churn, &report.names);
    let d = c.manager_changes_distribution;
    let content = html! {
        p class="help" { (lang.t("diag-churn-help")) }
        (period_form(lang, "/diagnostics/churn", &q, &["as_of"]))
        h2 { (lang.t("diag-churn-repeated")) }
        @if c.moved_off_live_work_repeatedly.is_empty() { p class="empty" { (lang.t("org-nothing")) } }
        ul { @for r in c.moved_off_live_work_repeatedly.iter().take(LISTED) { li {
            (person_link(names, &r.person_id)) ": "
            (r.moves.iter().map(|m| format!("{} {} → {} ({})", lang.date(m.date), named(&names.units, &m.from_unit_id), named(&names.units, &m.to_unit_id), m.node_ids.join(", "))).collect::<Vec<_>>().join("; "))
        } } }
        h2 { (lang.t("diag-churn-managers")) }
        p { (lang.t_with("diag-churn-distribution", &[("none", d[0].into()), ("one", d[1].into()), ("two", d[2].into()), ("three", d[3].into()), ("more", d[4].into())])) }
        ul { @for m in &c.manager_changes_top { li { (person_link(names, &m.person_id)) ": " (m.changes) } } }
        h2 { (lang.t("diag-churn-units")) }
        ul { @for u in &c.units_reorganised { li {
            (named(&names.units, &u.unit_id)) ": " (u.reorganisations) " (" (u.dates.iter().map(|d| lang.date(*d)).collect::<Vec<_>>().join(", ")) ")"
        } } }
        h2 { (lang.t("diag-churn-handovers")) }
        @if c.handed_over_repeatedly.is_empty() { p class="empty" { (lang.t("org-nothing")) } }
        ul { @for h in c.handed_over_repeatedly.iter().take(LISTED) { li {
            a href={ "/nodes/" (h.node_id) } { (h.node_id) } ": " (h.dates.iter().map(|d| lang.date(*d)).collect::<Vec<_>>().join(", "))
        } } }
        h2 { (lang.t("diag-churn-flagpoles")) }
        @if c.flagpoles_without_people.is_empty() { p class="empty" { (lang.t("org-nothing")) } }
        ul { @for f in c.flagpoles_without_people.iter().take(LISTED) { li {
            a href={ "/nodes/" (f.node_id) } { (f.node_id) } " · " (lang.t_with("diag-days-open", &[("days", f.days_open.into())]))
            @if !f.roles_wanted.is_empty() { " · " (f.roles_wanted.join(", ")) }
        } } }
    };
    frame(
        lang,
        &viewer,
        "/diagnostics/churn",
        &lang.t("diag-churn"),
        content,
    )
}

/// The matrix of the units sharing most as an SVG heat map: row unit's effort on nodes the
/// column unit also worked on, darker for more. Each cell says its figure on hover; the table
/// below gives every figure as text.
fn matrix_chart(
    lang: Lang,
    names: &Names,
    units: &[String],
    grid: &[Vec<f64>],
    largest: f64,
) -> Markup {
    let (size, label) = (28.0_f64, 170.0_f64);
    let n = units.len() as f64;
    let (width, height) = (label + n * size + 8.0, label + n * size + 8.0);
    let name = |u: &str| {
        let full = named(&names.units, u);
        if full.chars().count() > 24 {
            format!("{}…", full.chars().take(23).collect::<String>())
        } else {
            full
        }
    };
    let pairs = units.len() * units.len().saturating_sub(1);
    html! {
        svg class="matrix" viewBox={ "0 0 " (width) " " (height) } role="img"
            aria-label=(lang.t_with("diag-matrix-label", &[("units", units.len().into()), ("pairs", pairs.into())])) {
            @for (i, a) in units.iter().enumerate() {
                text x=(label - 6.0) y=(label + i as f64 * size + size * 0.65) class="tick end" { (name(a)) }
                text transform={ "translate(" (label + i as f64 * size + size * 0.65) "," (label - 6.0) ") rotate(-60)" } class="tick" { (name(a)) }
                @for (j, b) in units.iter().enumerate() {
                    @let v = grid[i][j];
                    // An attribute, not a style: the pages' content security policy allows no
                    // inline styles.
                    rect x=(label + j as f64 * size) y=(label + i as f64 * size) width=(size - 2.0) height=(size - 2.0)
                        fill-opacity=(format!("{:.2}", if i == j { 0.0 } else { 0.06 + 0.9 * v / largest }))
                        class={ @if i == j { "self" } @else { "cell" } } {
                        title { (named(&names.units, a)) " → " (named(&names.units, b)) ": " (lang.number(v, 0)) }
                    }
                }
            }
        }
    }
}

/// `GET /diagnostics/collaboration`: the matrix of the units sharing most, as a grid.
pub async fn collaboration_page(
    State(state): State<ServerState>,
    viewer: Viewer,
    Query(q): Query<DiagnosticsQuery>,
) -> Response {
    let lang = viewer.lang;
    let depth = match q.depth.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => match text.parse::<usize>() {
            Ok(d) => Some(d),
            Err(_) => return error_page(lang, ApiError::bad_request(lang.t("diag-bad-depth"))),
        },
    };
    let query = match (date(lang, &q.as_of), date(lang, &q.from), date(lang, &q.to)) {
        (Ok(as_of), Ok(from), Ok(to)) => CollaborationQuery {
            as_of,
            from,
            to,
            depth,
        },
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return error_page(lang, e),
    };
    let actor = viewer.actor.clone();
    let report = match blocking(&state, move |app| app.collaboration(&actor, &query)).await {
        Ok(report) => report,
        Err(e) => return error_page(lang, e),
    };
    let (c, names) = (&report.collaboration, &report.names);
    // The grid (the units sharing the most, with every figure among them), shaded in five
    // steps by class: the content security policy allows no inline styles.
    let grid = &c.grid;
    let largest = grid
        .iter()
        .flatten()
        .copied()
        .fold(0.0_f64, f64::max)
        .max(1e-9);
    let level = |v: f64| {
        if v <= 0.0 {
            0
        } else {
            1 + (4.0 * v / largest).floor().min(3.0) as u32
        }
    };
    let content = html! {
        p class="help" { (lang.t("diag-collaboration-help")) }
        (period_form(lang, "/diagnostics/collaboration", &q, &["as_of", "from", "to"]))
        p { (lang.t_with("diag-collaboration-summary", &[("effort", lang.number(c.effort, 0).into()), ("pairs", c.matrix_entries.into()), ("silos", c.silo_count.into())])) }
        h2 { (lang.t("diag-collaboration-grid")) }
        @if !grid.is_empty() { (matrix_chart(lang, names, &c.grid_units, grid, largest)) }
        @if grid.is_empty() { p class="empty" { (lang.t("org-nothing")) } } @else {
            div class="scroll" tabindex="0" role="region" aria-label=(lang.t("diag-collaboration-grid")) {
                table class="data grid" {
                    thead { tr { th scope="col" { (lang.t("diag-col-unit")) } @for b in &c.grid_units { th scope="col" { (named(&names.units, b)) } } } }
                    tbody { @for (i, a) in c.grid_units.iter().enumerate() { tr {
                        th scope="row" { (named(&names.units, a)) }
                        @for v in &grid[i] {
                            td class={ "num level-" (level(*v)) } { @if *v > 0.0 { (lang.number(*v, 0)) } }
                        }
                    } } }
                }
            }
        }
        h2 { (lang.t("diag-collaboration-initiatives")) }
        table class="data" {
            thead { tr { th scope="col" { (lang.t("diag-col-node")) } th scope="col" class="num" { (lang.t("diag-col-share")) } th scope="col" class="num" { (lang.t("diag-col-effort")) } } }
            tbody { @for i in c.initiatives.iter().take(LISTED) { tr {
                td { a href={ "/nodes/" (i.node_id) } { (i.node_id) } }
                td class="num" { (lang.number(i.cross_unit_share * 100.0, 0)) "%" }
                td class="num" { (lang.number(i.effort, 0)) }
            } } }
        }
        h2 { (lang.t("diag-collaboration-bridges")) }
        ul { @for b in &c.bridges { li { (person_link(names, &b.person_id)) ": " (lang.t_with("diag-units-met", &[("units", b.units.into())])) } } }
        h2 { (lang.t("diag-collaboration-silos")) }
        @if c.silos.is_empty() { p class="empty" { (lang.t("org-nothing")) } }
        ul { @for s in c.silos.iter().take(LISTED) { li { (named(&names.units, &s.unit_id)) ": " (lang.number(s.effort, 0)) } } }
    };
    frame(
        lang,
        &viewer,
        "/diagnostics/collaboration",
        &lang.t("diag-collaboration"),
        content,
    )
}

/// `GET /diagnostics/tree`.
pub async fn tree_page(
    State(state): State<ServerState>,
    viewer: Viewer,
    Query(q): Query<DiagnosticsQuery>,
) -> Response {
    let lang = viewer.lang;
    let query = match (date(lang, &q.as_of), date(lang, &q.from), date(lang, &q.to)) {
        (Ok(as_of), Ok(from), Ok(to)) => TreeHealthQuery { as_of, from, to },
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return error_page(lang, e),
    };
    let actor = viewer.actor.clone();
    let report = match blocking(&state, move |app| app.tree_health(&actor, &query)).await {
        Ok(report) => report,
        Err(e) => return error_page(lang, e),
    };
    let h = &report.health;
    let node = |id: &str| html! { a href={ "/nodes/" (id) } { (named(&report.titles, id)) } };
    let content = html! {
        p class="help" { (lang.t("diag-tree-help")) }
        (period_form(lang, "/diagnostics/tree", &q, &["as_of", "from", "to"]))
        h2 { (lang.t("diag-tree-orphans")) }
        @if h.orphan_work.is_empty() { p class="empty" { (lang.t("org-nothing")) } }
        ul { @for o in h.orphan_work.iter().take(LISTED) { li { (node(&o.node_id)) ": " (lang.number(o.effort, 0)) } } }
        h2 { (lang.t("diag-tree-unserved")) }
        @if h.needs_without_live_initiative.is_empty() { p class="empty" { (lang.t("org-nothing")) } }
        ul { @for n in &h.needs_without_live_initiative { li { (node(n)) } } }
        h2 { (lang.t("diag-tree-effort-value")) }
        table class="data" {
            thead { tr { th scope="col" { (lang.t("diag-col-node")) } th scope="col" class="num" { (lang.t("diag-col-effort")) } th scope="col" class="num" { (lang.t("diag-col-value")) } th scope="col" class="num" { (lang.t("diag-col-per-effort")) } } }
            tbody { @for e in h.effort_and_value.iter().take(LISTED) { tr {
                td { (node(&e.node_id)) " · " (super::kind_label(lang, e.kind)) }
                td class="num" { (lang.number(e.effort, 0)) }
                td class="num" { (lang.number(e.value, 0)) }
                td class="num" { @match e.value_per_effort { Some(v) => (lang.number(v, 2)), None => "—" } }
            } } }
        }
        h2 { (lang.t("diag-tree-unattributed")) }
        p { (lang.t_with("diag-tree-unattributed-total", &[("value", lang.number(h.unattributed_total, 2).into()), ("nodes", h.unattributed.len().into())])) }
        ul { @for u in h.unattributed.iter().take(LISTED) { li { (node(&u.node_id)) ": " (lang.number(u.unattributed, 2)) } } }
    };
    frame(
        lang,
        &viewer,
        "/diagnostics/tree",
        &lang.t("diag-tree"),
        content,
    )
}

/// `GET /diagnostics/ratings?cycle=…`.
pub async fn ratings_page(
    State(state): State<ServerState>,
    viewer: Viewer,
    Query(q): Query<DiagnosticsQuery>,
) -> Response {
    let lang = viewer.lang;
    let actor = viewer.actor.clone();
    let cycle = q.cycle.clone().filter(|c| !c.trim().is_empty());
    let found = blocking(&state, move |app| {
        let cycles = app.cycles(&actor)?;
        let chosen = cycle.or_else(|| cycles.last().map(|c| c.cycle_id.clone()));
        let report = match &chosen {
            Some(id) => Some(app.rating_anomalies(&actor, id)?),
            None => None,
        };
        Ok((cycles, chosen, report))
    })
    .await;
    let (cycles, chosen, report) = match found {
        Ok(found) => found,
        Err(e) => return error_page(lang, e),
    };
    let content = html! {
        p class="help" { (lang.t("diag-ratings-help")) }
        form method="get" action="/diagnostics/ratings" class="row" {
            label for="cycle" { (lang.t("diag-field-cycle")) }
            select id="cycle" name="cycle" {
                @for c in &cycles { option value=(c.cycle_id) selected[Some(&c.cycle_id) == chosen.as_ref()] { (c.name) } }
            }
            button type="submit" { (lang.t("org-show")) }
        }
        @if let Some(r) = &report {
            h2 { (lang.t("board-anomalies")) }
            @if !r.calibrated { p class="empty" { (lang.t("diag-ratings-uncalibrated")) } }
            ul { @for a in &r.manager_anomalies { li {
                a href={ "/people/" (a.manager.person_id) } { (a.manager.name) } ": "
                (lang.t_with("board-anomaly", &[("name", a.manager.name.clone().into()), ("reports", a.anomaly.reports.into()), ("gap", lang.number(a.anomaly.mean_gap, 2).into())]))
                @if a.anomaly.flagged { " · " strong { (lang.t("diag-flagged")) } }
            } } }
            h2 { (lang.t("diag-ratings-leniency")) }
            p { (lang.t_with("diag-ratings-spread", &[
                ("low", lang.number(r.leniency_spread[0], 2).into()),
                ("median", lang.number(r.leniency_spread[1], 2).into()),
                ("high", lang.number(r.leniency_spread[2], 2).into()),
                ("outliers", r.raters_outlying.into()),
            ])) }
            ul { @for l in r.rater_leniency.iter().take(LISTED) { li {
                a href={ "/people/" (l.rater.person_id) } { (l.rater.name) } ": " (lang.number(l.leniency, 2)) " ± " (lang.number(l.std_error, 2))
                @if l.outlier { " · " strong { (lang.t("diag-outlier")) } }
            } } }
        }
    };
    frame(
        lang,
        &viewer,
        "/diagnostics/ratings",
        &lang.t("diag-ratings"),
        content,
    )
}

#[derive(Deserialize, Default)]
pub struct WhatIfForm {
    #[serde(default)]
    plan: String,
    #[serde(default)]
    apply: Option<String>,
}

fn whatif_form(lang: Lang, plan: &str) -> Markup {
    html! {
        p class="help" { (lang.t("diag-whatif-help")) }
        form method="post" action="/diagnostics/whatif" {
            label for="plan" { (lang.t("diag-whatif-plan")) }
            textarea id="plan" name="plan" rows="8" required spellcheck="false" {
                @if plan.is_empty() { "action,subject_id,target_id,date,manager_id\n" } @else { (plan) }
            }
            div class="row" {
                button type="submit" name="preview" value="1" { (lang.t("diag-whatif-preview")) }
                button type="submit" name="apply" value="1" { (lang.t("diag-whatif-apply")) }
            }
        }
    }
}

fn whatif_result(lang: Lang, report: &WhatIfReport) -> Markup {
    let w = &report.whatif;
    let names = &report.names;
    let manager = |m: &Option<String>| {
        m.as_deref()
            .map_or("—".to_string(), |m| named(&names.people, m))
    };
    html! {
        h2 { @if report.applied { (lang.t("diag-whatif-recorded")) } @else { (lang.t("diag-whatif-would")) } }
        p role="status" { (lang.t_with("diag-whatif-summary", &[("moved", w.people_moved.len().into()), ("managers", w.manager_changes.len().into()), ("events", w.events.into())])) }
        h3 { (lang.t("org-manager-changed")) }
        div class="scroll" tabindex="0" role="region" aria-label=(lang.t("org-manager-changed")) {
            table class="data" {
                thead { tr { th scope="col" { (lang.t("col-person")) } th scope="col" { (lang.t("col-date")) } th scope="col" { (lang.t("org-from")) } th scope="col" { (lang.t("org-to")) } } }
                tbody { @for c in w.manager_changes.iter().take(LISTED * 4) { tr {
                    td { (person_link(names, &c.person_id)) } td { (lang.date(c.date)) } td { (manager(&c.from_manager_id)) } td { (manager(&c.to_manager_id)) }
                } } }
            }
        }
        h3 { (lang.t("diag-whatif-live")) }
        @if w.live_initiatives.is_empty() { p class="empty" { (lang.t("org-nothing")) } }
        ul { @for i in w.live_initiatives.iter().take(LISTED) { li {
            a href={ "/nodes/" (i.node_id) } { (i.node_id) } ": "
            (i.people.iter().map(|p| format!("{} ({}%)", named(&names.people, &p.person_id), lang.number(p.recent_share * 100.0, 0))).collect::<Vec<_>>().join(", "))
            @if !i.value_realised { " · " (lang.t("diag-whatif-no-value")) }
        } } }
        p { (lang.t_with("diag-whatif-stake", &[("effort", lang.number(w.work_at_stake_effort, 0).into())])) }
        h3 { (lang.t("diag-whatif-repeat")) }
        ul { @for p in w.people_moved.iter().filter(|p| p.earlier_moves_off_live_work > 0).take(LISTED) { li {
            (person_link(names, &p.person_id)) ": " (lang.t_with("diag-whatif-times", &[("times", p.earlier_moves_off_live_work.into())]))
        } } }
    }
}

/// `GET /diagnostics/whatif`: the plan form (HR).
pub async fn whatif_page(State(state): State<ServerState>, viewer: Viewer) -> Response {
    let lang = viewer.lang;
    let actor = viewer.actor.clone();
    if let Err(e) = blocking(&state, move |app| app.may_diagnose(&actor)).await {
        return error_page(lang, e);
    }
    frame(
        lang,
        &viewer,
        "/diagnostics/whatif",
        &lang.t("diag-whatif"),
        whatif_form(lang, ""),
    )
}

/// `POST /diagnostics/whatif`: the plan's what-if, or its recording with `apply`.
pub async fn whatif(
    State(state): State<ServerState>,
    headers: HeaderMap,
    viewer: Viewer,
    axum::Form(form): axum::Form<WhatIfForm>,
) -> Response {
    let lang = viewer.lang;
    if !same_origin(&headers, &state) {
        return refused_origin(lang);
    }
    let rows = match valuetree_exchange::plan::parse_plan(form.plan.as_bytes()) {
        Ok(rows) => rows,
        Err(errors) => {
            let listed: Vec<String> = errors
                .iter()
                .map(|e| {
                    format!(
                        "{}{}: {}",
                        lang.t_with("diag-line", &[("line", e.line.into())]),
                        e.column
                            .as_deref()
                            .map(|c| format!(", {c}"))
                            .unwrap_or_default(),
                        e.reason
                    )
                })
                .collect();
            let content = html! {
                div role="alert" { p { (lang.t("diag-whatif-bad")) } ul { @for l in &listed { li { (l) } } } }
                (whatif_form(lang, &form.plan))
            };
            let response = frame(
                lang,
                &viewer,
                "/diagnostics/whatif",
                &lang.t("diag-whatif"),
                content,
            );
            return (StatusCode::UNPROCESSABLE_ENTITY, response).into_response();
        }
    };
    let apply = form.apply.is_some();
    let actor = viewer.actor.clone();
    let found = blocking(&state, move |app| {
        app.whatif(&actor, &rows, "plan.csv", apply)
    })
    .await;
    match found {
        Ok(report) => {
            let content = html! { (whatif_result(lang, &report)) (whatif_form(lang, &form.plan)) };
            let status = if report.applied {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            (
                status,
                frame(
                    lang,
                    &viewer,
                    "/diagnostics/whatif",
                    &lang.t("diag-whatif"),
                    content,
                ),
            )
                .into_response()
        }
        Err(error) => {
            if error.status == StatusCode::UNPROCESSABLE_ENTITY {
                let fields = error.details["fields"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let content = html! {
                    div role="alert" {
                        p { (lang.t("diag-whatif-bad")) }
                        // A refusal that names no row still says why.
                        @if fields.is_empty() { p { (error.message) } }
                        ul { @for f in &fields { li {
                            (lang.t_with("diag-line", &[("line", f["line"].as_u64().unwrap_or(0).into())])) ", " (f["field"].as_str().unwrap_or("")) ": " (f["reason"].as_str().unwrap_or(""))
                        } } }
                    }
                    (whatif_form(lang, &form.plan))
                };
                let response = frame(
                    lang,
                    &viewer,
                    "/diagnostics/whatif",
                    &lang.t("diag-whatif"),
                    content,
                );
                return (StatusCode::UNPROCESSABLE_ENTITY, response).into_response();
            }
            error_page(lang, error)
        }
    }
}
