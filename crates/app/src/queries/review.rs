//! Review cycles: settings and progress, reviewers, feedback, a person's record in a cycle,
//! the calibration session and the final scores.

use super::{PersonRef, RatingView};
use crate::error::{AppError, AppResult};
use crate::{Actor, App, authz};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use valuetree_core::NaiveDate;
use valuetree_core::domain::Relationship;
use valuetree_core::org;
use valuetree_core::review::feedback::{FeedbackView, feedback_for};
use valuetree_core::review::final_score::{FinalInput, FinalPolicy, FinalScore, final_scores};
use valuetree_core::review::session::{Proposed, SessionView, session};
use valuetree_core::review::suggest::Suggestions;
use valuetree_core::review::*;
use valuetree_core::state::State;
use valuetree_store::Preload;

/// How many reviewers a person's list suggests unless asked for more.
pub const REVIEWERS_SUGGESTED: usize = 8;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CycleSummary {
    pub cycle_id: String,
    pub name: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub phase: CyclePhase,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CycleView {
    pub cycle: CycleRecord,
    pub phase: CyclePhase,
    pub goals: usize,
    pub submitted_ratings: usize,
    pub draft_ratings: usize,
    pub calibrated_scores: usize,
    pub overrides: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReviewersView {
    pub cycle_id: String,
    pub person: PersonRef,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub suggestions: Suggestions,
    /// The names of the people the suggestions mention, by id.
    pub names: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FeedbackReport {
    pub cycle_id: String,
    pub person: PersonRef,
    pub feedback: FeedbackView,
    /// The names of the raters the feedback attributes, by id.
    pub names: BTreeMap<String, String>,
}

/// A person's whole record in a cycle, as their managers (past or new) and HR see it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CycleRecordView {
    pub cycle_id: String,
    pub person: PersonRef,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    /// Managers in the period, with the days each managed the person.
    pub managers: Vec<(PersonRef, i64)>,
    pub goals: Vec<GoalView>,
    pub self_review: Vec<SelfReviewEntry>,
    /// Others' self-review entries that built on this person's work.
    pub built_on: Vec<SelfReviewEntry>,
    pub behaviours_total: usize,
    pub behaviours: Vec<BehaviourAssessment>,
    pub ratings: Vec<RatingView>,
    pub calibrated: Option<CalibratedScore>,
    pub override_: Option<OverrideRecord>,
    /// The names of the people the record mentions (authors of built-on entries, the
    /// override's author), by id.
    pub names: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GoalView {
    pub goal: GoalRecord,
    pub measurements: Vec<Measurement>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SessionReport {
    pub cycle_id: String,
    pub phase: CyclePhase,
    pub proposed: Vec<Proposed>,
    pub session: SessionView,
    /// The committee's overrides in the cycle, each with its reason and the score it replaced.
    pub overrides: Vec<OverrideRecord>,
    /// The names of the people the session mentions (managers, people moved, overrides), by id.
    pub names: BTreeMap<String, String>,
    /// The names of the units the session groups by, as of the cycle's end, by id.
    pub unit_names: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FinalReport {
    pub cycle_id: String,
    pub policy: FinalPolicy,
    pub note: &'static str,
    pub people: Vec<FinalRow>,
    /// The scores used that could not be calibrated (too few ratings): each names the
    /// dimension, and says that raw means stand in for them.
    pub warnings: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FinalRow {
    pub person: PersonRef,
    pub rating: Option<f64>,
    pub credit: Option<f64>,
    pub values_share: Option<f64>,
    pub score: FinalScore,
}

pub const VALUES_NOTE: &str =
    "Values scores are evidence for a conversation, never a sole ground for a decision.";

/// Names by id of the people `ids` mention (the known ones).
fn names_of<'a>(state: &State, ids: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, String> {
    ids.into_iter()
        .filter_map(|id| Some((id.to_string(), state.people.get(id)?.name.clone())))
        .collect()
}

/// A person's goals in a cycle, each with its measurements.
pub(crate) fn goals_of(book: &ReviewBook, cycle_id: &str, person: &str) -> Vec<GoalView> {
    book.goals
        .values()
        .filter(|g| g.person_id == person && g.cycle_id == cycle_id)
        .map(|g| GoalView {
            goal: g.clone(),
            measurements: book
                .measurements
                .values()
                .filter(|m| m.goal_id == g.goal_id)
                .cloned()
                .collect(),
        })
        .collect()
}

fn known_person(state: &State, id: &str) -> AppResult<()> {
    if state.people.contains_key(id) {
        Ok(())
    } else {
        Err(AppError::not_found(
            format!("person {id}"),
            "`valuetree org` lists who is here",
        ))
    }
}

fn cycle_of<'s>(state: &'s State, cycle_id: &str) -> AppResult<&'s Cycle> {
    state.reviews.cycles.get(cycle_id).ok_or_else(|| {
        AppError::not_found(
            format!("cycle {cycle_id}"),
            "`valuetree cycle list` shows the cycles",
        )
    })
}

/// Where the person stood at the end of the cycle (or on their last day, if they left).
pub fn placement_at_end(
    state: &State,
    cycle: &CycleRecord,
    person: &str,
) -> Option<org::Placement> {
    placement_until(state, person, cycle.ends_on)
}

/// Where the person stood on `date`, or on their last day if they left before it.
pub fn placement_until(state: &State, person: &str, date: NaiveDate) -> Option<org::Placement> {
    let last = state
        .people
        .get(person)
        .and_then(|p| p.left_on)
        .map_or(date, |left| left.min(date));
    org::placement(state, person, last)
}

/// The unit each person was in on `date`, or on their last day if they left before it
/// ([`placement_until`]'s unit), for everyone at once in one pass over the assignments: for a
/// cycle's ratings, where looking each person up in turn cost seconds.
pub fn units_until(state: &State, date: NaiveDate) -> HashMap<&str, &str> {
    let mut units = HashMap::with_capacity(state.people.len());
    let mut person: Option<(&str, Option<NaiveDate>)> = None;
    for ((person_id, valid_from), assignment) in &state.assignments {
        if person.is_none_or(|(p, _)| p != person_id.as_str()) {
            let last = state.people.get(person_id).and_then(|record| {
                let last = record.left_on.map_or(date, |left| left.min(date));
                record.employed_on(last).then_some(last)
            });
            person = Some((person_id.as_str(), last));
        }
        if let Some((_, Some(last))) = person
            && *valid_from <= last
        {
            units.insert(person_id.as_str(), assignment.record.unit_id.as_str());
        }
    }
    units
}

/// The scores the calibration session starts from: each calibrated person's final
/// calibrated score, with their unit and manager at the end of the cycle.
pub fn proposed_scores(state: &State, cycle_id: &str) -> AppResult<Vec<Proposed>> {
    let cycle = &cycle_of(state, cycle_id)?.record;
    let book = &state.reviews;
    let mut manager_ratings: HashMap<(&str, &str), (f64, usize)> = HashMap::new();
    for r in book.submitted(cycle_id) {
        if r.relationship == Relationship::Manager {
            let e = manager_ratings
                .entry((r.rater_id.as_str(), r.ratee_id.as_str()))
                .or_default();
            e.0 += r.score.value();
            e.1 += 1;
        }
    }
    let mut proposed: Vec<Proposed> = book
        .scores
        .keys()
        .filter(|k| k.0 == cycle_id && k.1.is_empty())
        .filter_map(|k| {
            let score = book.final_calibrated(cycle_id, "", &k.2)?;
            let place = placement_at_end(state, cycle, &k.2);
            let manager_id = place.as_ref().and_then(|p| p.manager_id.clone());
            let manager_rating = manager_id.as_deref().and_then(|m| {
                manager_ratings
                    .get(&(m, k.2.as_str()))
                    .map(|(sum, n)| sum / *n as f64)
            });
            Some(Proposed {
                person_id: k.2.clone(),
                unit_id: place.and_then(|p| p.unit_id),
                manager_id,
                score,
                manager_rating,
            })
        })
        .collect();
    if proposed.is_empty() {
        return Err(AppError::invalid(format!(
            "cycle {cycle_id} has no calibrated scores yet; run `valuetree calibrate --cycle {cycle_id}` first"
        )));
    }
    proposed.sort_by(|a, b| a.person_id.cmp(&b.person_id));
    Ok(proposed)
}

impl App {
    /// The master data with a cycle's ratings and scores (and every contribution, if `all`).
    /// Without the contributions it is kept with the snapshot: a calibration board reads it
    /// three times a view, and only a write (a new snapshot) changes it.
    pub(crate) fn cycle_state(
        &self,
        cycle_id: &str,
        all: bool,
    ) -> AppResult<std::sync::Arc<State>> {
        if all {
            let state = self.read(|store| Ok(store.load_state(&Preload::All)?))?;
            cycle_of(&state, cycle_id)?;
            return Ok(std::sync::Arc::new(state));
        }
        let preload = Preload::Ids {
            contributions: Vec::new(),
            outcomes: Vec::new(),
            cycles: vec![cycle_id.to_string()],
        };
        // A one-shot command (no snapshot yet) loads the cycle's state alone: building the
        // snapshot first would load the master data twice.
        if !self.has_snapshot() {
            let state = self.load_cycle_state(cycle_id, &preload)?;
            cycle_of(&state, cycle_id)?;
            return Ok(std::sync::Arc::new(state));
        }
        let snapshot = self.snapshot()?;
        if let Ok(kept) = snapshot.cycle_states.lock()
            && let Some(state) = kept.get(cycle_id)
        {
            return Ok(state.clone());
        }
        let state = self.read(|store| Ok(store.load_state(&preload)?))?;
        cycle_of(&state, cycle_id)?;
        let state = std::sync::Arc::new(state);
        if let Ok(mut kept) = snapshot.cycle_states.lock() {
            if kept.len() >= crate::context::CYCLE_STATES_KEPT {
                kept.clear();
            }
            kept.insert(cycle_id.to_string(), state.clone());
        }
        Ok(state)
    }

    /// The master data and one cycle's ratings and scores, each read on its own connection
    /// at the same time (at an organisation's scale each takes seconds); read again in one
    /// transaction if a write came between the two.
    fn load_cycle_state(&self, cycle_id: &str, preload: &Preload) -> AppResult<State> {
        let cycles = [cycle_id.to_string()];
        let (master, facts) = std::thread::scope(|scope| {
            let facts = scope.spawn(|| self.read(|store| Ok(store.load_cycle_facts(&cycles)?)));
            let master = self.read(|store| Ok(store.load_state_and_head(&Preload::None)?));
            (master, facts.join())
        });
        let (head, mut state) = master?;
        let (facts_head, facts) = facts
            .map_err(|_| AppError::Internal("loading the cycle's ratings failed".into()))??;
        if head != facts_head {
            return self.read(|store| Ok(store.load_state(preload)?));
        }
        state.reviews.ratings = facts.reviews.ratings;
        state.reviews.scores = facts.reviews.scores;
        Ok(state)
    }

    pub fn cycles(&self, actor: &Actor) -> AppResult<Vec<CycleSummary>> {
        authz::read_work(actor)?;
        let snapshot = self.snapshot()?;
        Ok(snapshot
            .state
            .reviews
            .cycles
            .iter()
            .map(|(id, c)| CycleSummary {
                cycle_id: id.clone(),
                name: c.record.name.clone(),
                starts_on: c.record.starts_on,
                ends_on: c.record.ends_on,
                phase: c.phase,
            })
            .collect())
    }

    pub fn cycle(&self, actor: &Actor, cycle_id: &str) -> AppResult<CycleView> {
        authz::read_work(actor)?;
        let state = self.cycle_state(cycle_id, false)?;
        let cycle = cycle_of(&state, cycle_id)?;
        let in_cycle = |r: &&RatingRecord| r.cycle_id == cycle_id;
        Ok(CycleView {
            cycle: cycle.record.clone(),
            phase: cycle.phase,
            goals: state
                .reviews
                .goals
                .values()
                .filter(|g| g.cycle_id == cycle_id)
                .count(),
            submitted_ratings: state
                .reviews
                .ratings
                .values()
                .filter(in_cycle)
                .filter(|r| r.status == RatingStatus::Submitted)
                .count(),
            draft_ratings: state
                .reviews
                .ratings
                .values()
                .filter(in_cycle)
                .filter(|r| r.status == RatingStatus::Draft)
                .count(),
            calibrated_scores: state
                .reviews
                .scores
                .keys()
                .filter(|k| k.0 == cycle_id)
                .count(),
            overrides: state
                .reviews
                .overrides
                .keys()
                .filter(|k| k.0 == cycle_id)
                .count(),
        })
    }

    /// Suggested reviewers for a person: the person, their managers in the cycle, HR.
    pub fn reviewers(
        &self,
        actor: &Actor,
        cycle_id: &str,
        person: &str,
        limit: usize,
    ) -> AppResult<ReviewersView> {
        let snapshot = self.snapshot()?;
        let state = &*snapshot.state;
        known_person(state, person)?;
        let cycle = &cycle_of(state, cycle_id)?.record;
        authz::person_or_manager(
            state,
            actor,
            person,
            (cycle.starts_on, cycle.ends_on),
            authz::rule::REVIEWERS_BY_PERSON_OR_MANAGER,
        )?;
        let mut work = HashMap::new();
        super::reviewing::PeriodWork::new(self, cycle).around(&snapshot, person, &mut work)?;
        let suggestions = state.suggest_reviewers_among(work.values(), cycle, person, limit);
        let names = names_of(
            state,
            suggestions
                .reviewers
                .iter()
                .chain(&suggestions.left_out)
                .flat_map(|s| {
                    std::iter::once(s.reviewer_id.as_str()).chain(s.reasons.iter().filter_map(
                        |r| match r {
                            valuetree_core::review::suggest::Reason::Chosen { by, .. } => {
                                Some(by.as_str())
                            }
                            _ => None,
                        },
                    ))
                }),
        );
        Ok(ReviewersView {
            cycle_id: cycle_id.to_string(),
            person: PersonRef::of(state, person),
            starts_on: cycle.starts_on,
            ends_on: cycle.ends_on,
            suggestions,
            names,
        })
    }

    /// What the person sees of their feedback in a cycle.
    pub fn feedback(
        &self,
        actor: &Actor,
        cycle_id: &str,
        person: &str,
    ) -> AppResult<FeedbackReport> {
        let state = self.cycle_state(cycle_id, false)?;
        known_person(&state, person)?;
        let cycle = &cycle_of(&state, cycle_id)?.record;
        authz::read_own_feedback(
            &state,
            actor,
            person,
            (cycle.starts_on, cycle.ends_on),
            cycle_id,
            self.today(),
        )?;
        let feedback = feedback_for(cycle, state.reviews.ratings.values(), person);
        let names = names_of(
            &state,
            feedback.groups.iter().flat_map(|g| {
                g.rater
                    .as_deref()
                    .into_iter()
                    .chain(g.comments.iter().filter_map(|(a, _)| a.as_deref()))
            }),
        );
        Ok(FeedbackReport {
            cycle_id: cycle_id.to_string(),
            person: PersonRef::of(&state, person),
            feedback,
            names,
        })
    }

    /// The person's whole record in a cycle (managers, HR, the committee).
    pub fn cycle_record(
        &self,
        actor: &Actor,
        cycle_id: &str,
        person: &str,
    ) -> AppResult<CycleRecordView> {
        let state = self.cycle_state(cycle_id, true)?;
        known_person(&state, person)?;
        let cycle = &cycle_of(&state, cycle_id)?.record;
        authz::read_private(
            &state,
            actor,
            person,
            Some((cycle.starts_on, cycle.ends_on)),
            Some(cycle_id),
            self.today(),
        )?;
        self.note_private_read(actor, person, format!("review record of cycle {cycle_id}"))?;
        let book = &state.reviews;
        let mut ratings: Vec<&RatingRecord> = book
            .ratings
            .values()
            .filter(|r| r.ratee_id == person && r.cycle_id == cycle_id)
            .collect();
        ratings.sort_by(|a, b| (&a.dimension, &a.rater_id).cmp(&(&b.dimension, &b.rater_id)));
        let key = (cycle_id.to_string(), String::new(), person.to_string());
        let override_ = book.overrides.get(&key).cloned();
        let built_on: Vec<SelfReviewEntry> = book
            .self_reviews
            .values()
            .filter(|e| e.circle == Circle::BuiltOn)
            .filter(|e| {
                state
                    .contributions
                    .get(&e.contribution_id)
                    .is_some_and(|c| c.record.person_id == person)
            })
            .cloned()
            .collect();
        let names = names_of(
            &state,
            built_on
                .iter()
                .map(|e| e.person_id.as_str())
                .chain(override_.as_ref().map(|o| o.by.as_str())),
        );
        Ok(CycleRecordView {
            cycle_id: cycle_id.to_string(),
            person: PersonRef::of(&state, person),
            starts_on: cycle.starts_on,
            ends_on: cycle.ends_on,
            managers: state
                .managers_during(person, cycle.starts_on, cycle.ends_on)
                .into_iter()
                .map(|(m, days)| (PersonRef::of(&state, &m), days))
                .collect(),
            goals: goals_of(book, cycle_id, person),
            self_review: book
                .self_reviews
                .values()
                .filter(|e| e.person_id == person && e.cycle_id == cycle_id)
                .cloned()
                .collect(),
            built_on,
            behaviours_total: cycle.behaviours.len(),
            behaviours: book
                .behaviours
                .values()
                .filter(|b| b.person_id == person && b.cycle_id == cycle_id)
                .cloned()
                .collect(),
            ratings: ratings
                .into_iter()
                .map(|r| RatingView::of(&state, r))
                .collect(),
            calibrated: book.scores.get(&key).cloned(),
            override_,
            names,
        })
    }

    /// The calibration session: proposed scores against the guidance (HR, committee).
    pub fn session(&self, actor: &Actor, cycle_id: &str) -> AppResult<SessionReport> {
        let state = self.cycle_state(cycle_id, false)?;
        self.session_of(&state, actor, cycle_id)
    }

    /// [`App::session`] on a cycle's state already loaded.
    pub(crate) fn session_of(
        &self,
        state: &State,
        actor: &Actor,
        cycle_id: &str,
    ) -> AppResult<SessionReport> {
        authz::read_organisation(state, actor, Some(cycle_id))?;
        let cycle = cycle_of(state, cycle_id)?;
        let proposed = proposed_scores(state, cycle_id)?;
        let view = session(&cycle.record, &proposed);
        let overrides: Vec<OverrideRecord> = state
            .reviews
            .overrides
            .values()
            .filter(|o| o.cycle_id == cycle_id)
            .cloned()
            .collect();
        let names = names_of(
            state,
            proposed
                .iter()
                .flat_map(|p| std::iter::once(p.person_id.as_str()).chain(p.manager_id.as_deref()))
                .chain(
                    overrides
                        .iter()
                        .flat_map(|o| [o.person_id.as_str(), o.by.as_str()]),
                ),
        );
        let unit_names = proposed
            .iter()
            .filter_map(|p| p.unit_id.as_deref())
            .map(|u| {
                let unit = super::UnitRef::of(state, u, cycle.record.ends_on);
                (unit.unit_id, unit.name)
            })
            .collect();
        Ok(SessionReport {
            cycle_id: cycle_id.to_string(),
            phase: cycle.phase,
            proposed,
            session: view,
            overrides,
            names,
            unit_names,
        })
    }

    /// The final scores and 9-box of a cycle (HR, committee).
    pub fn final_scores(
        &self,
        actor: &Actor,
        cycle_id: &str,
        policy: Option<FinalPolicy>,
    ) -> AppResult<FinalReport> {
        let policy = match policy {
            Some(policy) => policy,
            None => self.final_policy()?,
        };
        let state = self.cycle_state(cycle_id, false)?;
        authz::read_organisation(&state, actor, Some(cycle_id))?;
        let cycle = cycle_of(&state, cycle_id)?.record.clone();
        let engine = self.credit_engine_for(Some(cycle.starts_on), Some(cycle.ends_on), None)?;
        let credit: HashMap<&str, f64> = engine
            .people()
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), engine.credit(i as u32)))
            .collect();
        let mut people: Vec<&String> = state
            .reviews
            .scores
            .keys()
            .filter(|k| k.0 == cycle_id && k.1.is_empty())
            .map(|k| &k.2)
            .collect();
        if people.is_empty() {
            return Err(AppError::invalid(format!(
                "cycle {cycle_id} has no calibrated scores yet; run `valuetree calibrate --cycle {cycle_id}` first"
            )));
        }
        people.sort();
        let inputs: Vec<FinalInput> = people
            .iter()
            .map(|p| FinalInput {
                person_id: (*p).clone(),
                rating: state.reviews.final_calibrated(cycle_id, "", p),
                credit: Some(credit.get(p.as_str()).copied().unwrap_or(0.0)),
                values_share: state.reviews.values_share(&cycle, p),
                values_rating: state.reviews.final_calibrated(cycle_id, "values", p),
            })
            .collect();
        let scores = final_scores(&inputs, cycle.scale_max(), &policy);
        let warnings = uncalibrated_warnings(&state, cycle_id, &people);
        Ok(FinalReport {
            cycle_id: cycle_id.to_string(),
            note: VALUES_NOTE,
            warnings,
            people: scores
                .into_iter()
                .zip(&inputs)
                .map(|(score, input)| FinalRow {
                    person: PersonRef::of(&state, &score.person_id),
                    rating: input.rating,
                    credit: input.credit,
                    values_share: input.values_share,
                    score,
                })
                .collect(),
            policy,
        })
    }
}

/// For each dimension the final score reads (the overall rating and `values`), a warning when
/// some of `people`'s scores in it were too few ratings to calibrate.
fn uncalibrated_warnings(state: &State, cycle_id: &str, people: &[&String]) -> Vec<String> {
    [("", "the overall rating"), ("values", "the values rating")]
        .into_iter()
        .filter_map(|(dimension, what)| {
            let raw = people
                .iter()
                .filter(|p| {
                    let key = (cycle_id.to_string(), dimension.to_string(), (**p).clone());
                    state.reviews.scores.get(&key).is_some_and(|s| s.uncalibrated)
                })
                .count();
            (raw > 0).then(|| {
                let dimension_flag = if dimension.is_empty() {
                    String::new()
                } else {
                    format!(" --dimension {dimension}")
                };
                format!(
                    "{what} of {raw} {} had too few ratings to calibrate: their raw means stand in for calibrated scores (`valuetree calibrate --cycle {cycle_id}{dimension_flag}` says why)",
                    if raw == 1 { "person" } else { "people" }
                )
            })
        })
        .collect()
}
