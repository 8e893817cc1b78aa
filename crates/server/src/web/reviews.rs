//! Reviews: the reviews a person is asked to write (each with why the ledger names them),
//! rated on the cycle's scale as drafts and then submitted; and a person's own review — their
//! rating of themself, goals and key results, the three-circle self review linking ledger
//! entries, values behaviours with evidence, and who reviews them (added or removed with a
//! reason). The app decides who may see and change what.

use super::cycles::phase_label;
use super::i18n::Lang;
use super::{Viewer, error_page, page, redirect, refused_origin};
use crate::auth::same_origin;
use crate::error::ApiError;
use crate::{ServerState, blocking};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use std::collections::BTreeMap;
use valuetree_app::commands::review::NewRating;
use valuetree_app::queries::{
    CycleSummary, OwnReview, REVIEWERS_SUGGESTED, ReviewersView, ReviewsToWrite,
};
use valuetree_core::Amount;
use valuetree_core::domain::Relationship;
use valuetree_core::review::suggest::{NodeLabel, Reason};
use valuetree_core::review::{
    BehaviourAssessment, Circle, CyclePhase, CycleRecord, GoalRecord, KeyResult, Measurement,
    RatingRecord, RatingStatus, ReviewerChange, SelfReviewEntry,
};

/// As whom a reviewer reviews: in the reviewer's words (`to_write`: "as their manager") or
/// in the ratee's ("your manager").
fn relationship_label(lang: Lang, r: Relationship, to_write: bool) -> String {
    let side = if to_write { "rel" } else { "rel-of" };
    lang.t(&format!("{side}-{}", r.as_str()))
}

fn nodes(list: &[NodeLabel]) -> String {
    list.iter()
        .map(|n| n.title.clone())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A reason in words. `to_write` is the reviewer's view ("you led …"); otherwise the
/// ratee's ("led …, where you contributed").
fn reason_text(
    lang: Lang,
    reason: &Reason,
    to_write: bool,
    names: &BTreeMap<String, String>,
) -> String {
    let side = if to_write { "reason-to" } else { "reason-of" };
    let n = |x: f64| lang.number(x, 1);
    match reason {
        Reason::SharedMembership {
            node,
            from,
            to,
            days,
        } => lang.t_with(
            &format!("{side}-member"),
            &[
                ("node", node.title.clone().into()),
                ("from", lang.date(*from).into()),
                ("to", lang.date(*to).into()),
                ("days", (*days).into()),
            ],
        ),
        Reason::LedNode { node, effort, .. } => lang.t_with(
            &format!("{side}-led"),
            &[
                ("node", node.title.clone().into()),
                ("effort", n(*effort).into()),
            ],
        ),
        Reason::WorkedTogether {
            node,
            yours,
            theirs,
            ..
        } => lang.t_with(
            &format!("{side}-worked"),
            &[
                ("node", node.title.clone().into()),
                ("yours", n(*yours).into()),
                ("theirs", n(*theirs).into()),
            ],
        ),
        Reason::LeadsParent { parent, fed } => lang.t_with(
            &format!("{side}-leads-parent"),
            &[
                ("parent", parent.title.clone().into()),
                ("fed", nodes(fed).into()),
            ],
        ),
        Reason::ContributedToParent {
            parent,
            effort,
            fed,
        } => lang.t_with(
            &format!("{side}-fed-parent"),
            &[
                ("parent", parent.title.clone().into()),
                ("effort", n(*effort).into()),
                ("fed", nodes(fed).into()),
            ],
        ),
        Reason::WasManager { days, period_days } => lang.t_with(
            &format!("{side}-manager"),
            &[("days", (*days).into()), ("period", n(*period_days).into())],
        ),
        Reason::ReportedTo { days } => {
            lang.t_with(&format!("{side}-report"), &[("days", (*days).into())])
        }
        Reason::Chosen {
            included,
            by,
            reason,
        } => lang.t_with(
            if *included {
                "reason-added"
            } else {
                "reason-removed"
            },
            &[
                (
                    "by",
                    names.get(by).cloned().unwrap_or_else(|| by.clone()).into(),
                ),
                ("reason", reason.clone().into()),
            ],
        ),
    }
}

/// What was typed into a rating form, kept when it is refused.
#[derive(Default, Clone)]
struct Typed {
    ratee: String,
    fields: BTreeMap<String, String>,
    problem: String,
}

/// The rating form for one ratee: a score on the cycle's scale and a comment per dimension,
/// saved as a draft or submitted.
fn rating_form(
    lang: Lang,
    cycle: &CycleRecord,
    phase: CyclePhase,
    ratee: &str,
    ratings: &[RatingRecord],
    typed: Option<&Typed>,
) -> Markup {
    let open = phase < CyclePhase::Calibration;
    let typed = typed.filter(|t| t.ratee == ratee);
    html! {
        form method="post" action={ "/reviews/" (cycle.cycle_id) "/ratings" } class="stack rating" {
            input type="hidden" name="ratee_id" value=(ratee);
            @if let Some(t) = typed { p class="error" role="alert" { (t.problem) } }
            @for d in &cycle.dimensions {
                @let current = ratings.iter().find(|r| r.dimension == d.name);
                @let score_field = format!("score.{}", d.name);
                @let comment_field = format!("comment.{}", d.name);
                @let chosen = typed
                    .and_then(|t| t.fields.get(&score_field).cloned())
                    .or_else(|| current.map(|r| format!("{}", r.score.value().round() as i64)))
                    .unwrap_or_default();
                @let comment = typed
                    .and_then(|t| t.fields.get(&comment_field).cloned())
                    .or_else(|| current.map(|r| r.comment.clone()))
                    .unwrap_or_default();
                @let id = format!("{}-{}", ratee, d.name);
                fieldset {
                    legend {
                        (d.name) " "
                        span class="help" { (lang.t_with("reviews-weight", &[("weight", lang.number(d.weight.value() * 100.0, 0).into())])) }
                        @if let Some(r) = current {
                            " " span class="status" { (lang.t(if r.status == RatingStatus::Submitted { "reviews-submitted" } else { "reviews-draft" })) }
                        }
                    }
                    label for={ "score-" (id) } { (lang.t("reviews-score")) }
                    select id={ "score-" (id) } name=(score_field) disabled[!open] {
                        option value="" selected[chosen.is_empty()] { (lang.t("reviews-no-score")) }
                        @for (level, label) in cycle.scale.iter().enumerate() {
                            @let value = (level + 1).to_string();
                            option value=(value) selected[chosen == value] { (value) " · " (label) }
                        }
                    }
                    label for={ "comment-" (id) } { (lang.t("reviews-comment")) }
                    textarea id={ "comment-" (id) } name=(comment_field) rows="2" disabled[!open] { (comment) }
                }
            }
            @if open {
                div class="row" {
                    button type="submit" name="action" value="draft" { (lang.t("reviews-save-draft")) }
                    button type="submit" name="action" value="submit" { (lang.t("reviews-submit")) }
                }
            } @else {
                p class="help" { (lang.t("reviews-closed")) }
            }
        }
    }
}

fn cycle_switch(lang: Lang, cycles: &[CycleSummary], current: &str, target: &str) -> Markup {
    html! {
        @if cycles.len() > 1 {
            nav class="tabs" aria-label=(lang.t("reviews-cycles")) {
                @for c in cycles.iter().rev() {
                    @if c.cycle_id == current {
                        span aria-current="page" { (c.name) }
                    } @else {
                        a href={ "/reviews/" (c.cycle_id) (target) } { (c.name) }
                    }
                }
            }
        }
    }
}

fn tabs(lang: Lang, cycle_id: &str, me: Option<&str>, on_own: bool) -> Markup {
    html! {
        nav class="tabs" aria-label=(lang.t("reviews-title")) {
            @if on_own { a href={ "/reviews/" (cycle_id) } { (lang.t("reviews-to-write")) } }
            @else { span aria-current="page" { (lang.t("reviews-to-write")) } }
            @if let Some(me) = me {
                @if on_own { span aria-current="page" { (lang.t("reviews-own")) } }
                @else { a href={ "/reviews/" (cycle_id) "/people/" (me) } { (lang.t("reviews-own")) } }
            }
        }
    }
}

fn to_write_markup(
    viewer: &Viewer,
    cycles: &[CycleSummary],
    found: &ReviewsToWrite,
    typed: Option<&Typed>,
) -> Markup {
    let lang = viewer.lang;
    let cycle = &found.cycle;
    let no_names = BTreeMap::new();
    page(
        lang,
        &lang.t("reviews-title"),
        viewer.nav(),
        html! {
            h1 { (lang.t("reviews-title")) " · " (cycle.name) }
            (cycle_switch(lang, cycles, &cycle.cycle_id, ""))
            p class="help" { (lang.t_with("reviews-phase", &[("phase", phase_label(lang, found.phase).into()), ("from", lang.date(cycle.starts_on).into()), ("to", lang.date(cycle.ends_on).into())])) }
            (tabs(lang, &cycle.cycle_id, viewer.identity.person_id.as_deref(), false))
            h2 { (lang.t("reviews-to-write")) }
            p class="help" { (lang.t("reviews-to-write-help")) }
            @if found.reviews.is_empty() {
                p class="empty" { (lang.t("reviews-none")) }
            }
            @if found.truncated { p class="help" { (lang.t_with("reviews-truncated", &[("count", valuetree_app::queries::REVIEW_CANDIDATES.into())])) } }
            @for review in &found.reviews {
                @let done = review.ratings.len() == cycle.dimensions.len() && review.ratings.iter().all(|r| r.status == RatingStatus::Submitted);
                article class="review" id={ "ratee-" (review.ratee.person_id) } aria-labelledby={ "ratee-h-" (review.ratee.person_id) } {
                    h3 id={ "ratee-h-" (review.ratee.person_id) } {
                        a href={ "/people/" (review.ratee.person_id) } { (review.ratee.name) }
                        " · " (relationship_label(lang, review.relationship, true))
                        @if done { " " span class="status" { (lang.t("reviews-done")) } }
                    }
                    ul class="reasons" {
                        @for reason in &review.reasons { li { (reason_text(lang, reason, true, &no_names)) } }
                    }
                    (rating_form(lang, cycle, found.phase, &review.ratee.person_id, &review.ratings, typed))
                }
            }
        },
    )
}

/// `GET /reviews`: the reviews of the current cycle.
pub async fn reviews_home(State(state): State<ServerState>, viewer: Viewer) -> Response {
    let lang = viewer.lang;
    let actor = viewer.actor.clone();
    match blocking(&state, move |app| app.current_cycle(&actor)).await {
        Ok(current) => match current {
            Some(cycle_id) => redirect(&format!("/reviews/{cycle_id}")),
            None => page(
                lang,
                &lang.t("reviews-title"),
                viewer.nav(),
                html! {
                    h1 { (lang.t("reviews-title")) }
                    p class="empty" { (lang.t("reviews-no-cycle")) }
                },
            )
            .into_response(),
        },
        Err(e) => error_page(lang, e),
    }
}

async fn render_to_write(
    state: &ServerState,
    viewer: &Viewer,
    cycle_id: String,
    status: StatusCode,
    typed: Option<&Typed>,
) -> Response {
    let lang = viewer.lang;
    let Some(me) = viewer.identity.person_id.clone() else {
        return error_page(
            lang,
            ApiError::new(StatusCode::FORBIDDEN, "no_person", lang.t("home-service")),
        );
    };
    let actor = viewer.actor.clone();
    let found = blocking(state, move |app| {
        Ok((
            app.cycles(&actor)?,
            app.reviews_to_write(&actor, &cycle_id, &me)?,
        ))
    })
    .await;
    match found {
        Ok((cycles, found)) => {
            (status, to_write_markup(viewer, &cycles, &found, typed)).into_response()
        }
        Err(e) => error_page(lang, e),
    }
}

/// `GET /reviews/{cycle_id}`: the reviews the viewer is asked to write.
pub async fn to_write_page(
    State(state): State<ServerState>,
    viewer: Viewer,
    Path(cycle_id): Path<String>,
) -> Response {
    render_to_write(&state, &viewer, cycle_id, StatusCode::OK, None).await
}

/// The ratings a rating form carries, one per dimension given a score. A submission needs a
/// score on every dimension; a draft keeps what there is.
fn ratings_of(
    lang: Lang,
    fields: &BTreeMap<String, String>,
    dimensions: &[String],
    submit: bool,
) -> Result<Vec<(String, Amount, String)>, String> {
    let mut ratings = Vec::new();
    for d in dimensions {
        let score = fields
            .get(&format!("score.{d}"))
            .map(|s| s.trim())
            .unwrap_or("");
        let comment = fields
            .get(&format!("comment.{d}"))
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        if score.is_empty() {
            if submit {
                return Err(
                    lang.t_with("reviews-score-missing", &[("dimension", d.clone().into())])
                );
            }
            continue;
        }
        let score = Amount::parse(score).map_err(|e| format!("{d}: {e}"))?;
        ratings.push((d.clone(), score, comment));
    }
    if ratings.is_empty() {
        return Err(lang.t("reviews-nothing"));
    }
    Ok(ratings)
}

/// `POST /reviews/{cycle_id}/ratings`: saves (or submits) the viewer's ratings of one person,
/// one per dimension scored; the viewer is the rater, always.
pub async fn rate(
    State(state): State<ServerState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(cycle_id): Path<String>,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Response {
    if !same_origin(&headers, &state) {
        return refused_origin(viewer.lang);
    }
    let lang = viewer.lang;
    let fields: BTreeMap<String, String> = form.into_iter().collect();
    let ratee = fields.get("ratee_id").cloned().unwrap_or_default();
    let submit = fields.get("action").map(String::as_str) == Some("submit");
    let own = viewer.identity.person_id.as_deref() == Some(ratee.as_str());
    let actor = viewer.actor.clone();
    let (cycle_c, ratee_c, fields_c) = (cycle_id.clone(), ratee.clone(), fields.clone());
    let saved = blocking(&state, move |app| {
        let cycle = app.cycle(&actor, &cycle_c)?;
        let dimensions: Vec<String> = cycle.cycle.dimensions.iter().map(|d| d.name.clone()).collect();
        let ratings = ratings_of(lang, &fields_c, &dimensions, submit).map_err(|message| {
            valuetree_app::AppError::rejected("score", None, message)
        })?;
        // The relationship is the one the ledger names (the app checks the rest).
        let relationship = if own {
            Relationship::SelfReview
        } else {
            let me = actor.person_id().ok_or_else(|| {
                valuetree_app::AppError::forbidden(
                    valuetree_app::authz::rule::OWN_WORK_ONLY,
                    "a service account is nobody's reviewer",
                )
            })?;
            app.reviews_to_write(&actor, &cycle_c, me)?
                .reviews
                .into_iter()
                .find(|r| r.ratee.person_id == ratee_c)
                .map(|r| r.relationship)
                .ok_or_else(|| {
                    valuetree_app::AppError::forbidden(
                        valuetree_app::authz::rule::OWN_WORK_ONLY,
                        format!("you are not among {ratee_c}'s reviewers in cycle {cycle_c}; they or their manager can add you"),
                    )
                })?
        };
        for (dimension, score, comment) in ratings {
            app.rate(
                &actor,
                NewRating {
                    cycle_id: cycle_c.clone(),
                    rater_id: None,
                    ratee_id: ratee_c.clone(),
                    relationship,
                    dimension,
                    score,
                    comment,
                    draft: !submit,
                },
            )?;
        }
        Ok(())
    })
    .await;
    let back = if own {
        format!("/reviews/{cycle_id}/people/{ratee}#self-rating")
    } else {
        format!("/reviews/{cycle_id}#ratee-{ratee}")
    };
    match saved {
        Ok(()) => redirect(&back),
        Err(e) => {
            let typed = Typed {
                ratee: ratee.clone(),
                fields,
                problem: e.message.clone(),
            };
            if own {
                render_own(
                    &state,
                    &viewer,
                    cycle_id,
                    ratee,
                    e.status,
                    Some(&typed),
                    None,
                )
                .await
            } else {
                render_to_write(&state, &viewer, cycle_id, e.status, Some(&typed)).await
            }
        }
    }
}

fn circle_label(lang: Lang, circle: Circle) -> String {
    lang.t(&format!("circle-{}", circle.as_str()))
}

/// A refused form on the own-review page: which form, and what was wrong.
struct Refused {
    form: &'static str,
    message: String,
    fields: BTreeMap<String, String>,
}

fn refused_for<'a>(refused: Option<&'a Refused>, form: &str) -> Option<&'a Refused> {
    refused.filter(|r| r.form == form)
}

fn field(refused: Option<&Refused>, name: &str) -> String {
    refused
        .and_then(|r| r.fields.get(name).cloned())
        .unwrap_or_default()
}

#[allow(clippy::too_many_arguments)]
fn own_markup(
    viewer: &Viewer,
    cycles: &[CycleSummary],
    own: &OwnReview,
    reviewers: &ReviewersView,
    typed: Option<&Typed>,
    refused: Option<&Refused>,
) -> Markup {
    let lang = viewer.lang;
    let cycle = &own.cycle;
    let person = &own.person;
    let is_me = viewer.identity.person_id.as_deref() == Some(person.person_id.as_str());
    let open = own.phase < CyclePhase::Calibration;
    let base = format!("/reviews/{}/people/{}", cycle.cycle_id, person.person_id);
    let contribution_title = |id: &str| {
        own.contributions
            .iter()
            .find(|c| c.contribution_id == id)
            .map(|c| format!("{} · {}", c.node.title, c.description))
    };
    page(
        lang,
        &lang.t("reviews-own"),
        viewer.nav(),
        html! {
            h1 {
                @if is_me { (lang.t("reviews-own")) } @else { (lang.t_with("reviews-own-of", &[("name", person.name.clone().into())])) }
                " · " (cycle.name)
            }
            (cycle_switch(lang, cycles, &cycle.cycle_id, &format!("/people/{}", person.person_id)))
            p class="help" { (lang.t_with("reviews-phase", &[("phase", phase_label(lang, own.phase).into()), ("from", lang.date(cycle.starts_on).into()), ("to", lang.date(cycle.ends_on).into())])) }
            @if is_me { (tabs(lang, &cycle.cycle_id, Some(&person.person_id), true)) }

            @if is_me {
                section aria-labelledby="self-rating" {
                    h2 id="self-rating" { (lang.t("reviews-self-rating")) }
                    p class="help" { (lang.t("reviews-self-rating-help")) }
                    (rating_form(lang, cycle, own.phase, &person.person_id, &own.self_ratings, typed))
                }
            }

            section aria-labelledby="goals" {
                h2 id="goals" { (lang.t("reviews-goals")) }
                @if own.goals.is_empty() { p class="empty" { (lang.t("reviews-no-goals")) } }
                @for g in &own.goals {
                    article class="goal" {
                        h3 { (g.goal.title) " " span class="help" { "· " a href={ "/nodes/" (g.goal.node_id) } { (g.goal.node_id) } } }
                        @if !g.goal.key_results.is_empty() {
                            table {
                                thead { tr { th scope="col" { (lang.t("reviews-metric")) } th scope="col" { (lang.t("reviews-target")) } th scope="col" { (lang.t("reviews-actual")) } } }
                                tbody {
                                    @for kr in &g.goal.key_results {
                                        @let latest = g.measurements.iter().filter(|m| m.metric == kr.metric).max_by_key(|m| m.measured_on);
                                        tr {
                                            td { (kr.metric) }
                                            td class="num" { (lang.number(kr.target.value(), 2)) }
                                            td class="num" { @match latest { Some(m) => { (lang.number(m.actual.value(), 2)) " (" (lang.date(m.measured_on)) ")" }, None => "—" } }
                                        }
                                    }
                                }
                            }
                            @if open {
                                @let r = refused_for(refused, "measure").filter(|r| r.fields.get("goal_id").map(String::as_str) == Some(g.goal.goal_id.as_str()));
                                form method="post" action={ (base) "/measurements" } class="row" {
                                    @if let Some(r) = r { p class="error" role="alert" { (r.message) } }
                                    input type="hidden" name="goal_id" value=(g.goal.goal_id);
                                    label for={ "metric-" (g.goal.goal_id) } { (lang.t("reviews-metric")) }
                                    select id={ "metric-" (g.goal.goal_id) } name="metric" {
                                        @for kr in &g.goal.key_results { option value=(kr.metric) { (kr.metric) } }
                                    }
                                    label for={ "actual-" (g.goal.goal_id) } { (lang.t("reviews-actual")) }
                                    input id={ "actual-" (g.goal.goal_id) } name="actual" type="text" inputmode="decimal" value=(field(r, "actual")) required;
                                    button type="submit" { (lang.t("reviews-measure")) }
                                }
                            }
                        }
                    }
                }
                @if open {
                    @let r = refused_for(refused, "goal");
                    h3 { (lang.t("reviews-new-goal")) }
                    form method="post" action={ (base) "/goals" } class="stack" {
                        @if let Some(r) = r { p class="error" role="alert" id="goal-error" { (r.message) } }
                        label for="goal-title" { (lang.t("reviews-goal-title")) }
                        input id="goal-title" name="title" type="text" value=(field(r, "title")) required;
                        label for="goal-node" { (lang.t("reviews-goal-node")) }
                        input id="goal-node" name="node_id" type="text" list="goal-nodes" value=(field(r, "node_id")) required;
                        datalist id="goal-nodes" {
                            @for c in unique_nodes(own) { option value=(c.0) { (c.1) } }
                        }
                        label for="goal-krs" { (lang.t("reviews-key-results")) }
                        textarea id="goal-krs" name="key_results" rows="3" aria-describedby="goal-krs-help" { (field(r, "key_results")) }
                        p class="help" id="goal-krs-help" { (lang.t("reviews-key-results-help")) }
                        button type="submit" { (lang.t("reviews-set-goal")) }
                    }
                }
            }

            section aria-labelledby="self-review" {
                h2 id="self-review" { (lang.t("reviews-self-review")) }
                p class="help" { (lang.t("reviews-self-review-help")) }
                @for circle in [Circle::OwnResults, Circle::OthersSuccess, Circle::BuiltOn] {
                    h3 { (circle_label(lang, circle)) }
                    @let entries: Vec<&SelfReviewEntry> = own.self_review.iter().filter(|e| e.circle == circle).collect();
                    @if entries.is_empty() { p class="empty" { (lang.t("reviews-circle-empty")) } }
                    ul {
                        @for e in entries {
                            li { (e.text) " " span class="help" { "· " (contribution_title(&e.contribution_id).unwrap_or_else(|| e.contribution_id.clone())) } }
                        }
                    }
                }
                @if is_me && open {
                    @let r = refused_for(refused, "self-review");
                    form method="post" action={ (base) "/self-review" } class="stack" {
                        @if let Some(r) = r { p class="error" role="alert" { (r.message) } }
                        label for="sr-circle" { (lang.t("reviews-circle")) }
                        select id="sr-circle" name="circle" {
                            @for circle in [Circle::OwnResults, Circle::OthersSuccess, Circle::BuiltOn] {
                                option value=(circle.as_str()) selected[field(r, "circle") == circle.as_str()] { (circle_label(lang, circle)) }
                            }
                        }
                        label for="sr-contribution" { (lang.t("reviews-entry")) }
                        input id="sr-contribution" name="contribution_id" type="text" list="sr-contributions" value=(field(r, "contribution_id")) required aria-describedby="sr-contribution-help";
                        datalist id="sr-contributions" {
                            @for c in &own.contributions { option value=(c.contribution_id) { (c.node.title) " · " (c.description) } }
                        }
                        p class="help" id="sr-contribution-help" { (lang.t("reviews-entry-help")) }
                        label for="sr-text" { (lang.t("reviews-entry-text")) }
                        textarea id="sr-text" name="text" rows="2" required { (field(r, "text")) }
                        button type="submit" { (lang.t("reviews-link")) }
                    }
                }
            }

            section aria-labelledby="values" {
                h2 id="values" { (lang.t("reviews-values")) }
                p class="help" { (lang.t_with("reviews-values-count", &[("met", own.behaviours.iter().filter(|b| b.met).count().into()), ("total", cycle.behaviours.len().into())])) }
                @if !cycle.behaviours.is_empty() {
                    table {
                        thead { tr { th scope="col" { (lang.t("reviews-value")) } th scope="col" { (lang.t("reviews-behaviour")) } th scope="col" { (lang.t("reviews-met")) } th scope="col" { (lang.t("reviews-evidence")) } } }
                        tbody {
                            @for b in &cycle.behaviours {
                                @let a: Option<&BehaviourAssessment> = own.behaviours.iter().find(|x| x.value == b.value && x.behaviour == b.behaviour);
                                tr {
                                    td { (b.value) }
                                    td { (b.behaviour) }
                                    td { @match a { Some(a) if a.met => (lang.t("reviews-yes")), Some(_) => (lang.t("reviews-no")), None => "—" } }
                                    td { @if let Some(a) = a { (a.evidence) } }
                                }
                            }
                        }
                    }
                }
                @if !is_me && own.phase < CyclePhase::Finalised && !cycle.behaviours.is_empty() {
                    @let r = refused_for(refused, "behaviour");
                    h3 { (lang.t("reviews-assess")) }
                    form method="post" action={ (base) "/behaviours" } class="stack" {
                        @if let Some(r) = r { p class="error" role="alert" { (r.message) } }
                        label for="b-behaviour" { (lang.t("reviews-behaviour")) }
                        select id="b-behaviour" name="behaviour" {
                            @for b in &cycle.behaviours {
                                @let key = format!("{}|{}", b.value, b.behaviour);
                                option value=(key) selected[field(r, "behaviour") == key] { (b.value) " · " (b.behaviour) }
                            }
                        }
                        label class="check" { input type="checkbox" name="met" value="true" checked[field(r, "met") == "true"]; " " (lang.t("reviews-met")) }
                        label for="b-evidence" { (lang.t("reviews-evidence")) }
                        input id="b-evidence" name="evidence" type="text" value=(field(r, "evidence")) aria-describedby="b-evidence-help";
                        p class="help" id="b-evidence-help" { (lang.t("reviews-evidence-help")) }
                        button type="submit" { (lang.t("reviews-assess-submit")) }
                    }
                }
            }

            section aria-labelledby="reviewers" {
                h2 id="reviewers" { (lang.t("reviews-reviewers")) }
                p class="help" { (lang.t("reviews-reviewers-help")) }
                @if let Some(w) = &reviewers.suggestions.spread_warning { p class="warning" { (w) } }
                @if reviewers.suggestions.reviewers.is_empty() { p class="empty" { (lang.t("reviews-no-reviewers")) } }
                @let r = refused_for(refused, "reviewer");
                ul class="reviewers" {
                    @for s in &reviewers.suggestions.reviewers {
                        li {
                            strong { (reviewers.names.get(&s.reviewer_id).cloned().unwrap_or_else(|| s.reviewer_id.clone())) } " · " (relationship_label(lang, s.relationship, false))
                            ul class="reasons" { @for reason in &s.reasons { li { (reason_text(lang, reason, false, &reviewers.names)) } } }
                            @if open {
                                form method="post" action={ (base) "/reviewers" } class="row" {
                                    input type="hidden" name="reviewer_id" value=(s.reviewer_id);
                                    input type="hidden" name="change" value="remove";
                                    label for={ "rm-" (s.reviewer_id) } { (lang.t("reviews-reason")) }
                                    input id={ "rm-" (s.reviewer_id) } name="reason" type="text" required;
                                    button type="submit" { (lang.t("reviews-remove")) }
                                }
                            }
                        }
                    }
                }
                @if !reviewers.suggestions.left_out.is_empty() {
                    details {
                        summary { (lang.t_with("reviews-left-out", &[("count", reviewers.suggestions.left_out.len().into())])) }
                        ul {
                            @for s in &reviewers.suggestions.left_out {
                                li { (reviewers.names.get(&s.reviewer_id).cloned().unwrap_or_else(|| s.reviewer_id.clone())) " · " (relationship_label(lang, s.relationship, false)) }
                            }
                        }
                    }
                }
                @if open {
                    h3 { (lang.t("reviews-add-reviewer")) }
                    form method="post" action={ (base) "/reviewers" } class="stack" {
                        @if let Some(r) = r { p class="error" role="alert" { (r.message) } }
                        input type="hidden" name="change" value="add";
                        label for="add-reviewer" { (lang.t("reviews-reviewer-id")) }
                        input id="add-reviewer" name="reviewer_id" type="text" value=(field(r, "reviewer_id")) required;
                        label for="add-reason" { (lang.t("reviews-reason")) }
                        input id="add-reason" name="reason" type="text" value=(field(r, "reason")) required;
                        button type="submit" { (lang.t("reviews-add")) }
                    }
                }
            }
        },
    )
}

/// The nodes a goal can hang on, from the person's contributions in the cycle.
fn unique_nodes(own: &OwnReview) -> Vec<(String, String)> {
    let mut seen = BTreeMap::new();
    for c in &own.contributions {
        seen.entry(c.node.node_id.clone())
            .or_insert_with(|| c.node.title.clone());
    }
    seen.into_iter().collect()
}

async fn render_own(
    state: &ServerState,
    viewer: &Viewer,
    cycle_id: String,
    person_id: String,
    status: StatusCode,
    typed: Option<&Typed>,
    refused: Option<&Refused>,
) -> Response {
    let lang = viewer.lang;
    let actor = viewer.actor.clone();
    let found = blocking(state, move |app| {
        Ok((
            app.cycles(&actor)?,
            app.own_review(&actor, &cycle_id, &person_id)?,
            app.reviewers(&actor, &cycle_id, &person_id, REVIEWERS_SUGGESTED)?,
        ))
    })
    .await;
    match found {
        Ok((cycles, own, reviewers)) => (
            status,
            own_markup(viewer, &cycles, &own, &reviewers, typed, refused),
        )
            .into_response(),
        Err(e) => error_page(lang, e),
    }
}

/// `GET /reviews/{cycle_id}/people/{person_id}`: a person's own review (they, their managers
/// in the cycle and HR).
pub async fn own_page(
    State(state): State<ServerState>,
    viewer: Viewer,
    Path((cycle_id, person_id)): Path<(String, String)>,
) -> Response {
    render_own(
        &state,
        &viewer,
        cycle_id,
        person_id,
        StatusCode::OK,
        None,
        None,
    )
    .await
}

/// Runs a change posted from the own-review page: back to the page's section, or the page
/// again with the form as typed and the message beside it.
async fn own_change(
    state: ServerState,
    headers: HeaderMap,
    viewer: Viewer,
    (cycle_id, person_id): (String, String),
    form: &'static str,
    fields: Vec<(String, String)>,
    change: impl FnOnce(
        &valuetree_app::App,
        &valuetree_app::Actor,
        &BTreeMap<String, String>,
    ) -> valuetree_app::AppResult<()>
    + Send
    + 'static,
) -> Response {
    if !same_origin(&headers, &state) {
        return refused_origin(viewer.lang);
    }
    let fields: BTreeMap<String, String> = fields.into_iter().collect();
    let actor = viewer.actor.clone();
    let given = fields.clone();
    let done = blocking(&state, move |app| change(app, &actor, &given)).await;
    match done {
        Ok(()) => redirect(&format!(
            "/reviews/{cycle_id}/people/{person_id}#{}",
            match form {
                "goal" | "measure" => "goals",
                "behaviour" => "values",
                "reviewer" => "reviewers",
                _ => form,
            }
        )),
        Err(e) => {
            let refused = Refused {
                form,
                message: e.message.clone(),
                fields,
            };
            render_own(
                &state,
                &viewer,
                cycle_id,
                person_id,
                e.status,
                None,
                Some(&refused),
            )
            .await
        }
    }
}

fn text(fields: &BTreeMap<String, String>, name: &str) -> String {
    fields
        .get(name)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn amount(fields: &BTreeMap<String, String>, name: &str) -> valuetree_app::AppResult<Amount> {
    Amount::parse(&text(fields, name))
        .map_err(|e| valuetree_app::AppError::rejected(name, None, e.to_string()))
}

/// Key results typed one per line as `metric = target`.
fn key_results(typed: &str) -> valuetree_app::AppResult<Vec<KeyResult>> {
    typed
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .enumerate()
        .map(|(i, line)| {
            let (metric, target) = line.rsplit_once(['=', '＝']).ok_or_else(|| {
                valuetree_app::AppError::rejected(
                    "key_results",
                    Some(line),
                    format!("line {}: write each key result as `metric = target`", i + 1),
                )
            })?;
            let target = Amount::parse(target.trim()).map_err(|e| {
                valuetree_app::AppError::rejected(
                    "key_results",
                    Some(line),
                    format!("line {}: {e}", i + 1),
                )
            })?;
            Ok(KeyResult {
                metric: metric.trim().to_string(),
                target,
            })
        })
        .collect()
}

/// `POST /reviews/{cycle_id}/people/{person_id}/{form}`: a change from one of the own-review
/// page's forms — `goals` (a goal with its key results), `measurements` (a key result's
/// actual today), `self-review` (a ledger entry in one of the three circles), `behaviours`
/// (a manager or HR assesses a values behaviour, as themself), `reviewers` (added or
/// removed, with the reason; the viewer is who did it).
pub async fn own_post(
    State(state): State<ServerState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path((cycle_id, person_id, form)): Path<(String, String, String)>,
    axum::Form(fields): axum::Form<Vec<(String, String)>>,
) -> Response {
    let kind: &'static str = match form.as_str() {
        "goals" => "goal",
        "measurements" => "measure",
        "self-review" => "self-review",
        "behaviours" => "behaviour",
        "reviewers" => "reviewer",
        _ => {
            return error_page(
                viewer.lang,
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    format!("no form {form}"),
                ),
            );
        }
    };
    let ids = (cycle_id, person_id);
    let (cycle_id, person_id) = ids.clone();
    own_change(
        state,
        headers,
        viewer,
        ids,
        kind,
        fields,
        move |app, actor, f| own_review_change(kind, app, actor, cycle_id, person_id, f),
    )
    .await
}

fn own_review_change(
    kind: &str,
    app: &valuetree_app::App,
    actor: &valuetree_app::Actor,
    cycle_id: String,
    person_id: String,
    f: &BTreeMap<String, String>,
) -> valuetree_app::AppResult<()> {
    let refused = |field: &str, why: String| valuetree_app::AppError::rejected(field, None, why);
    match kind {
        "goal" => app.set_goal(
            actor,
            GoalRecord {
                cycle_id,
                goal_id: String::new(),
                key_results: key_results(&text(f, "key_results"))?,
                node_id: text(f, "node_id"),
                person_id,
                title: text(f, "title"),
            },
        ),
        "measure" => app.measure(
            actor,
            Measurement {
                actual: amount(f, "actual")?,
                goal_id: text(f, "goal_id"),
                measured_on: app.today(),
                metric: text(f, "metric"),
            },
        ),
        "self-review" => app.link_self_review(
            actor,
            SelfReviewEntry {
                circle: text(f, "circle").parse().map_err(
                    |e: valuetree_core::domain::UnknownValue| refused("circle", e.to_string()),
                )?,
                contribution_id: text(f, "contribution_id"),
                cycle_id,
                entry_id: String::new(),
                person_id,
                text: text(f, "text"),
            },
        ),
        "behaviour" => {
            let chosen = text(f, "behaviour");
            let (value, behaviour) = chosen
                .split_once('|')
                .ok_or_else(|| refused("behaviour", "choose a behaviour".into()))?;
            app.assess_behaviour(
                actor,
                BehaviourAssessment {
                    assessed_by: String::new(),
                    behaviour: behaviour.to_string(),
                    cycle_id,
                    evidence: text(f, "evidence"),
                    met: text(f, "met") == "true",
                    person_id,
                    value: value.to_string(),
                },
            )
        }
        _ => app.change_reviewer(
            actor,
            ReviewerChange {
                by: String::new(),
                cycle_id,
                ratee_id: person_id,
                reason: text(f, "reason"),
                reviewer_id: text(f, "reviewer_id"),
            },
            text(f, "change") != "remove",
        ),
    }
    .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_results_read_one_per_line_and_name_the_bad_line() {
        let krs = key_results("uptime = 99.9\n\n  tickets closed ＝ 40 ").expect("two key results");
        assert_eq!(krs.len(), 2);
        assert_eq!(krs[1].metric, "tickets closed");
        assert_eq!(krs[1].target.value(), 40.0);
        let e = key_results("uptime = 99.9\nno target here").expect_err("a line without a target");
        assert!(e.to_string().contains("metric = target"), "{e}");
    }

    #[test]
    fn a_submission_needs_every_dimension_and_a_draft_keeps_what_there_is() {
        let lang = Lang::negotiate(Some("en"), None);
        let dims = vec!["results".to_string(), "values".to_string()];
        let fields: BTreeMap<String, String> =
            [("score.results".to_string(), "4".to_string())].into();
        assert!(ratings_of(lang, &fields, &dims, true).is_err());
        let draft = ratings_of(lang, &fields, &dims, false).expect("a draft");
        assert_eq!(draft.len(), 1);
        assert_eq!(draft[0].1.value(), 4.0);
    }
}
