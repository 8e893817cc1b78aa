//! Review cycles and the calibration board (HR and the cycle's committee: the app decides):
//! the distribution against the guidance (drawn as SVG), managers whose ratings stand apart,
//! the people's scores, calibration, overrides with a reason, and the results × values 9-box.

use super::i18n::Lang;
use super::{Viewer, error_page, page, redirect, refused_origin};
use crate::auth::same_origin;
use crate::{ServerState, blocking};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use std::collections::BTreeMap;
use valuetree_app::commands::calibration::{CalibrationModel, CalibrationReport};
use valuetree_app::queries::{FinalReport, SessionReport};
use valuetree_core::review::CyclePhase;
use valuetree_core::review::session::Distribution;

pub(crate) fn phase_label(lang: Lang, phase: CyclePhase) -> String {
    lang.t(&format!("cycle-phase-{}", phase.as_str()))
}

/// `GET /cycles`: the cycles, each linking to its board.
pub async fn cycles_page(State(state): State<ServerState>, viewer: Viewer) -> Response {
    let lang = viewer.lang;
    let actor = viewer.actor.clone();
    match blocking(&state, move |app| app.cycles(&actor)).await {
        Ok(cycles) => page(
            lang,
            &lang.t("cycles-title"),
            viewer.nav(),
            html! {
                h1 { (lang.t("cycles-title")) }
                @if cycles.is_empty() { p class="empty" { (lang.t("cycles-none")) } }
                ul class="cycles" {
                    @for c in &cycles {
                        li { a href={ "/cycles/" (c.cycle_id) "/calibration" } { (c.name) } " · " (lang.date(c.starts_on)) " – " (lang.date(c.ends_on)) " · " (phase_label(lang, c.phase)) }
                    }
                }
            },
        )
        .into_response(),
        Err(e) => error_page(lang, e),
    }
}

/// Bars of each band's share, with the guidance marked: one row per band.
fn distribution_chart(lang: Lang, d: &Distribution) -> Markup {
    let (width, row, label) = (560.0_f64, 26.0_f64, 120.0_f64);
    let height = row * d.bands.len().max(1) as f64 + 8.0;
    let scale = |share: f64| label + share.clamp(0.0, 1.0) * (width - label - 60.0);
    let summary: Vec<String> = d
        .bands
        .iter()
        .map(|b| {
            format!(
                "{} {}% / {}%",
                b.label,
                (b.share * 100.0).round(),
                (b.target * 100.0).round()
            )
        })
        .collect();
    html! {
        svg viewBox={ "0 0 " (width) " " (height) } role="img" aria-label=(summary.join("; ")) class="bars" {
            title { (lang.t("board-distribution")) ": " (summary.join("; ")) }
            @for (i, b) in d.bands.iter().enumerate() {
                @let y = 4.0 + i as f64 * row;
                text x="0" y=(y + 16.0) class="tick" { (b.label) }
                rect x=(label) y=(y + 3.0) width=(scale(b.share) - label) height=(row - 8.0) class={ "bar" @if b.deviation.abs() >= 0.05 { " off" } } {}
                line x1=(scale(b.target)) y1=(y) x2=(scale(b.target)) y2=(y + row - 2.0) class="target" {}
                text x=(scale(b.share.max(b.target)) + 6.0) y=(y + 16.0) class="tick" { (lang.number(b.share * 100.0, 0)) "%" }
            }
        }
    }
}

fn distribution_table(
    lang: Lang,
    title: &str,
    rows: &[Distribution],
    names: &BTreeMap<String, String>,
) -> Markup {
    let bands: Vec<&str> = rows
        .first()
        .map(|d| d.bands.iter().map(|b| b.label.as_str()).collect())
        .unwrap_or_default();
    html! {
        @if !rows.is_empty() {
            h3 { (title) }
            div class="scroll" tabindex="0" role="region" aria-label=(title) {
                table class="distribution" {
                    thead { tr { th scope="col" { (title) } th scope="col" { (lang.t("board-people")) } @for b in &bands { th scope="col" { (b) } } } }
                    tbody {
                        @for d in rows {
                            tr {
                                th scope="row" { (names.get(&d.group).cloned().unwrap_or_else(|| d.group.clone())) }
                                td class="number" { (d.people) }
                                @for b in &d.bands {
                                    td class={ "number" @if b.deviation.abs() >= 0.05 { " off" } } { (lang.number(b.share * 100.0, 0)) "%" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn nine_box(lang: Lang, report: &FinalReport) -> Markup {
    let mut counts = [[0usize; 3]; 3];
    let mut any = false;
    for row in &report.people {
        if let Some((values, results)) = row.score.nine_box {
            counts[values.min(2)][results.min(2)] += 1;
            any = true;
        }
    }
    html! {
        h2 { (lang.t("board-nine-box")) }
        @for warning in &report.warnings { p class="warning" { (warning) } }
        @if !any {
            p class="empty" { (lang.t("board-no-nine-box")) }
        } @else {
            p class="help" { (lang.t("board-nine-box-help")) }
            table class="nine-box" {
                tbody {
                    @for values in (0..3).rev() {
                        tr { @for results in 0..3 { td { (counts[values][results]) } } }
                    }
                }
            }
        }
    }
}

/// What the board shows of a cycle: its scores once calibrated, else why not yet.
struct Board {
    cycle_id: String,
    phase: CyclePhase,
    /// `Err`: nothing calibrated yet (the app's reason, for the log).
    scores: Result<(SessionReport, FinalReport), String>,
}

fn board_markup(viewer: &Viewer, board: &Board, calibration: Option<&CalibrationReport>) -> Markup {
    let lang = viewer.lang;
    let empty = BTreeMap::new();
    let names = match &board.scores {
        Ok((session, _)) => &session.names,
        Err(_) => &empty,
    };
    let name = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_string());
    page(
        lang,
        &lang.t("board-title"),
        viewer.nav(),
        html! {
            h1 { (lang.t("board-title")) " · " (board.cycle_id) }
            p class="help" { (lang.t("board-help")) }
            form method="post" action={ "/cycles/" (board.cycle_id) "/phase" } class="row" {
                span { (lang.t_with("board-phase", &[("phase", phase_label(lang, board.phase).into())])) }
                label for="phase" { (lang.t("board-move")) }
                select id="phase" name="phase" {
                    @for phase in CyclePhase::ALL {
                        option value=(phase.as_str()) selected[*phase == board.phase] { (phase_label(lang, *phase)) }
                    }
                }
                button type="submit" { (lang.t("board-move-submit")) }
            }
            form method="post" action={ "/cycles/" (board.cycle_id) "/calibrate" } {
                button type="submit" { (lang.t("board-calibrate")) }
            }
            @if let Some(report) = calibration {
                p class="done" role="status" { (lang.t_with("board-calibrated", &[("ratings", report.ratings.into()), ("people", report.people.len().into())])) }
                @for warning in &report.warnings { p class="warning" { (warning) } }
                h2 { (lang.t("board-people")) }
                div class="scroll" tabindex="0" role="region" aria-label=(lang.t("board-people")) {
                    table class="calibrated" {
                        thead { tr {
                            th scope="col" { (lang.t("board-person")) }
                            th scope="col" { (lang.t("board-raw")) }
                            th scope="col" { (lang.t("board-calibrated-score")) }
                            th scope="col" { (lang.t("board-std-error")) }
                            th scope="col" { (lang.t("board-raters")) }
                        } }
                        tbody {
                            @for p in &report.people {
                                tr {
                                    th scope="row" { a href={ "/people/" (p.person_id) } { (name(&p.person_id)) } }
                                    td class="number" { (lang.number(p.raw_mean, 2)) }
                                    td class="number" { (lang.number(p.calibrated, 2)) }
                                    td class="number" { (lang.number(p.std_error, 2)) }
                                    td class="number" { (p.n_ratings) }
                                }
                            }
                        }
                    }
                }
                h2 { (lang.t("board-leniency")) }
                ul class="leniency" {
                    @for r in &report.raters {
                        li { (lang.t_with("board-leniency-line", &[
                            ("name", name(&r.rater_id).into()),
                            ("leniency", lang.number(r.leniency, 2).into()),
                            ("error", lang.number(r.std_error, 2).into()),
                            ("ratings", r.n_ratings.into()),
                        ])) @if r.outlier { " · " strong { (lang.t("board-outlier")) } } }
                    }
                }
            }
            @match &board.scores {
            Err(_) => { p class="empty" { (lang.t("board-not-calibrated")) } },
            Ok((session, finals)) => {
            @let view = &session.session;
            h2 { (lang.t("board-distribution")) }
            (distribution_chart(lang, &view.overall))
            (distribution_table(lang, &lang.t("board-by-unit"), &view.by_unit, &session.unit_names))
            (distribution_table(lang, &lang.t("board-by-manager"), &view.by_manager, names))
            h2 { (lang.t("board-anomalies")) }
            @let flagged: Vec<_> = view.anomalies.iter().filter(|a| a.flagged).collect();
            @if flagged.is_empty() {
                p class="empty" { (lang.t("board-no-anomaly")) }
            } @else {
                ul class="anomalies" {
                    @for a in flagged {
                        li { (lang.t_with("board-anomaly", &[
                            ("name", name(&a.manager_id).into()),
                            ("reports", a.reports.into()),
                            ("gap", lang.number(a.mean_gap, 2).into()),
                        ])) }
                    }
                }
            }
            h2 { (lang.t("board-people")) }
            div class="scroll" tabindex="0" role="region" aria-label=(lang.t("board-people")) {
                table class="proposed" {
                    thead { tr {
                        th scope="col" { (lang.t("board-person")) }
                        th scope="col" { (lang.t("board-manager-rating")) }
                        th scope="col" { (lang.t("board-score")) }
                    } }
                    tbody {
                        @for p in &session.proposed {
                            tr {
                                th scope="row" { a href={ "/people/" (p.person_id) } { (name(&p.person_id)) } }
                                td class="number" { @if let Some(r) = p.manager_rating { (lang.number(r, 2)) } }
                                td class="number" { (lang.number(p.score, 2)) }
                            }
                        }
                    }
                }
            }
            h2 { (lang.t("board-override")) }
            p class="help" { (lang.t("board-override-help")) }
            @if let Ok((session, _)) = &board.scores {
                @if !session.overrides.is_empty() {
                    div class="scroll" tabindex="0" role="region" aria-label=(lang.t("board-overrides")) {
                        table class="overrides" {
                            caption { (lang.t("board-overrides")) }
                            thead { tr {
                                th scope="col" { (lang.t("board-person")) }
                                th scope="col" { (lang.t("board-previous")) }
                                th scope="col" { (lang.t("board-score")) }
                                th scope="col" { (lang.t("board-reason")) }
                                th scope="col" { (lang.t("board-by")) }
                            } }
                            tbody {
                                @for o in &session.overrides {
                                    tr {
                                        th scope="row" { a href={ "/people/" (o.person_id) } { (name(&o.person_id)) } @if !o.dimension.is_empty() { " · " (o.dimension) } }
                                        td class="number" { (lang.number(o.previous.value(), 2)) }
                                        td class="number" { (lang.number(o.score.value(), 2)) }
                                        td { (o.reason) }
                                        td { (name(&o.by)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            form method="post" action={ "/cycles/" (board.cycle_id) "/overrides" } class="stack" id="override" {
                label for="ov-person" { (lang.t("board-person")) }
                input id="ov-person" name="person_id" type="text" required;
                // The board shows the pooled score (every dimension fitted together).
                input type="hidden" name="dimension" value="";
                label for="ov-score" { (lang.t("board-new-score")) }
                input id="ov-score" name="score" type="text" inputmode="decimal" required;
                label for="ov-reason" { (lang.t("board-reason")) }
                textarea id="ov-reason" name="reason" rows="2" required {}
                button type="submit" { (lang.t("board-override-submit")) }
            }
            (nine_box(lang, finals))
            },
            }
        },
    )
}

async fn board(
    state: &ServerState,
    viewer: &Viewer,
    cycle_id: String,
    calibration: Option<CalibrationReport>,
    status: StatusCode,
) -> Response {
    let actor = viewer.actor.clone();
    let found = blocking(state, move |app| {
        let session = app.session(&actor, &cycle_id);
        // Nothing calibrated yet is not a failure of the board: it says so and offers to.
        let scores = match session {
            Ok(session) => Ok((session, app.final_scores(&actor, &cycle_id, None)?)),
            Err(valuetree_app::AppError::Invalid(why)) => Err(why),
            Err(e) => return Err(e),
        };
        let phase = app.cycle(&actor, &cycle_id)?.phase;
        Ok(Board {
            cycle_id,
            phase,
            scores,
        })
    })
    .await;
    match found {
        Ok(found) => (status, board_markup(viewer, &found, calibration.as_ref())).into_response(),
        Err(e) => error_page(viewer.lang, e),
    }
}

/// `GET /cycles/{cycle_id}/calibration`.
pub async fn board_page(
    State(state): State<ServerState>,
    viewer: Viewer,
    Path(cycle_id): Path<String>,
) -> Response {
    board(&state, &viewer, cycle_id, None, StatusCode::OK).await
}

/// `POST /cycles/{cycle_id}/calibrate`: fits the submitted ratings, records the result, and
/// shows it with the board.
pub async fn calibrate(
    State(state): State<ServerState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(cycle_id): Path<String>,
) -> Response {
    if !same_origin(&headers, &state) {
        return refused_origin(viewer.lang);
    }
    let (actor, id) = (viewer.actor.clone(), cycle_id.clone());
    match blocking(&state, move |app| {
        app.calibrate_cycle(&actor, &id, None, CalibrationModel::Full)
    })
    .await
    {
        Ok((report, _)) => {
            board(&state, &viewer, cycle_id, Some(report), StatusCode::CREATED).await
        }
        Err(e) => error_page(viewer.lang, e),
    }
}

#[derive(Deserialize, Default)]
pub struct OverrideForm {
    #[serde(default)]
    person_id: String,
    #[serde(default)]
    dimension: String,
    #[serde(default)]
    score: String,
    #[serde(default)]
    reason: String,
}

/// `POST /cycles/{cycle_id}/overrides`: a committee override with its reason.
pub async fn override_score(
    State(state): State<ServerState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(cycle_id): Path<String>,
    axum::Form(form): axum::Form<OverrideForm>,
) -> Response {
    if !same_origin(&headers, &state) {
        return refused_origin(viewer.lang);
    }
    let score = match valuetree_core::Amount::parse(form.score.trim()) {
        Ok(score) => score,
        Err(e) => {
            return error_page(
                viewer.lang,
                crate::error::ApiError::bad_request(format!("score: {e}")),
            );
        }
    };
    let (actor, id) = (viewer.actor.clone(), cycle_id.clone());
    let done = blocking(&state, move |app| {
        app.override_score(
            &actor,
            &id,
            form.person_id.trim(),
            form.dimension.trim(),
            score,
            form.reason.trim(),
            None,
        )
    })
    .await;
    match done {
        Ok(_) => redirect(&format!("/cycles/{cycle_id}/calibration")),
        Err(e) => error_page(viewer.lang, e),
    }
}

#[derive(Deserialize)]
pub struct PhaseForm {
    phase: CyclePhase,
}

/// `POST /cycles/{cycle_id}/phase`: HR moves the cycle on (today).
pub async fn move_phase(
    State(state): State<ServerState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(cycle_id): Path<String>,
    axum::Form(form): axum::Form<PhaseForm>,
) -> Response {
    if !same_origin(&headers, &state) {
        return refused_origin(viewer.lang);
    }
    let (actor, id) = (viewer.actor.clone(), cycle_id.clone());
    match blocking(&state, move |app| {
        app.move_cycle(&actor, &id, form.phase, None)
    })
    .await
    {
        Ok(_) => redirect(&format!("/cycles/{cycle_id}/calibration")),
        Err(e) => error_page(viewer.lang, e),
    }
}
