//! The writes of a review cycle.

use super::acting_person;
use crate::error::{AppError, AppResult};
use crate::queries::proposed_scores;
use crate::{Actor, App, Receipt, authz};
use valuetree_core::domain::Relationship;
use valuetree_core::event::Event;
use valuetree_core::review::session::session;
use valuetree_core::review::*;
use valuetree_core::state::State;
use valuetree_core::{Amount, NaiveDate};
use valuetree_store::Preload;

fn cycle_preload(cycle_id: &str) -> Preload {
    Preload::Ids {
        contributions: Vec::new(),
        outcomes: Vec::new(),
        cycles: vec![cycle_id.to_string()],
    }
}

fn period(state: &State, cycle_id: &str) -> AppResult<(NaiveDate, NaiveDate)> {
    let cycle = state.reviews.cycles.get(cycle_id).ok_or_else(|| {
        AppError::not_found(
            format!("cycle {cycle_id}"),
            "`valuetree cycle list` shows the cycles",
        )
    })?;
    Ok((cycle.record.starts_on, cycle.record.ends_on))
}

/// A rating to record; the rater is the actor (the operator names one).
#[derive(Clone, Debug)]
pub struct NewRating {
    pub cycle_id: String,
    pub rater_id: Option<String>,
    pub ratee_id: String,
    pub relationship: Relationship,
    pub dimension: String,
    pub score: Amount,
    pub comment: String,
    pub draft: bool,
}

impl App {
    pub fn open_cycle(&self, actor: &Actor, cycle: CycleRecord) -> AppResult<Receipt> {
        authz::run_cycles(actor)?;
        self.append(actor, vec![Event::CycleOpened(cycle)])
    }

    pub fn move_cycle(
        &self,
        actor: &Actor,
        cycle_id: &str,
        phase: CyclePhase,
        on: Option<NaiveDate>,
    ) -> AppResult<Receipt> {
        authz::run_cycles(actor)?;
        self.append(
            actor,
            vec![Event::CyclePhaseChanged {
                cycle_id: cycle_id.to_string(),
                effective_on: on.unwrap_or_else(|| self.today()),
                phase,
            }],
        )
    }

    pub fn rate(&self, actor: &Actor, new: NewRating) -> AppResult<Receipt> {
        let rater = acting_person(actor, new.rater_id.as_deref(), "rater")?;
        authz::rate(actor, &rater)?;
        self.append(
            actor,
            vec![Event::RatingRecorded(RatingRecord {
                comment: new.comment,
                cycle_id: new.cycle_id,
                dimension: new.dimension,
                ratee_id: new.ratee_id,
                rater_id: rater,
                relationship: new.relationship,
                score: new.score,
                status: if new.draft {
                    RatingStatus::Draft
                } else {
                    RatingStatus::Submitted
                },
            })],
        )
    }

    /// Adds (or removes) a reviewer: the person, a manager of theirs in the cycle, HR.
    pub fn change_reviewer(
        &self,
        actor: &Actor,
        change: ReviewerChange,
        add: bool,
    ) -> AppResult<Receipt> {
        let by = acting_person(
            actor,
            Some(&change.by)
                .filter(|b| !b.is_empty())
                .map(String::as_str),
            "by",
        )?;
        if change.reason.trim().is_empty() {
            return Err(AppError::rejected("reason", None, "say why"));
        }
        let actor_c = actor.clone();
        self.append_decided(actor, Preload::None, move |state| {
            let period = period(state, &change.cycle_id)?;
            authz::person_or_manager(
                state,
                &actor_c,
                &change.ratee_id,
                period,
                authz::rule::REVIEWERS_BY_PERSON_OR_MANAGER,
            )?;
            let change = ReviewerChange { by, ..change };
            Ok(vec![if add {
                Event::ReviewerAdded(change)
            } else {
                Event::ReviewerRemoved(change)
            }])
        })
    }

    /// Sets a goal: the person or a manager of theirs in the cycle, HR.
    /// An empty `goal_id` gets a fresh one.
    pub fn set_goal(&self, actor: &Actor, mut goal: GoalRecord) -> AppResult<Receipt> {
        if goal.goal_id.trim().is_empty() {
            goal.goal_id = super::fresh_id("g-")?;
        }
        let actor_c = actor.clone();
        self.append_decided(actor, Preload::None, move |state| {
            let period = period(state, &goal.cycle_id)?;
            authz::person_or_manager(
                state,
                &actor_c,
                &goal.person_id,
                period,
                authz::rule::GOALS_BY_PERSON_OR_MANAGER,
            )?;
            Ok(vec![Event::GoalSet(goal)])
        })
    }

    /// Records a key result's actual value: the goal's owner or their manager, HR.
    pub fn measure(&self, actor: &Actor, m: Measurement) -> AppResult<Receipt> {
        let actor_c = actor.clone();
        self.append_decided(actor, Preload::None, move |state| {
            let goal = state
                .reviews
                .goals
                .get(&m.goal_id)
                .ok_or_else(|| AppError::not_found(format!("goal {}", m.goal_id), ""))?;
            let period = period(state, &goal.cycle_id)?;
            authz::person_or_manager(
                state,
                &actor_c,
                &goal.person_id,
                period,
                authz::rule::GOALS_BY_PERSON_OR_MANAGER,
            )?;
            Ok(vec![Event::KeyResultMeasured(m)])
        })
    }

    /// Links a self-review entry to a contribution: the person themself.
    /// An empty `entry_id` gets a fresh one.
    pub fn link_self_review(
        &self,
        actor: &Actor,
        mut entry: SelfReviewEntry,
    ) -> AppResult<Receipt> {
        if entry.entry_id.trim().is_empty() {
            entry.entry_id = super::fresh_id("sr-")?;
        }
        if !actor.is_operator() && !actor.is(&entry.person_id) {
            return Err(AppError::forbidden(
                authz::rule::OWN_WORK_ONLY,
                format!("you write your own self review, not {}'s", entry.person_id),
            ));
        }
        self.append(actor, vec![Event::SelfReviewLinked(entry)])
    }

    /// Assesses a values behaviour: a manager in the cycle or HR, as themselves.
    pub fn assess_behaviour(&self, actor: &Actor, b: BehaviourAssessment) -> AppResult<Receipt> {
        let by = acting_person(
            actor,
            Some(b.assessed_by.as_str()).filter(|s| !s.is_empty()),
            "by",
        )?;
        if !actor.is_operator() && !actor.is(&by) {
            return Err(AppError::forbidden(
                authz::rule::VALUES_BY_MANAGER,
                format!("you assess as yourself, not as {by}"),
            ));
        }
        let actor_c = actor.clone();
        self.append_decided(actor, Preload::None, move |state| {
            let period = period(state, &b.cycle_id)?;
            authz::assess_values(state, &actor_c, &b.person_id, period)?;
            Ok(vec![Event::BehaviourAssessed(BehaviourAssessment {
                assessed_by: by,
                ..b
            })])
        })
    }

    /// A committee override of a person's score. The previous value is read from the state
    /// the override is appended to (under the writer lock), never from an earlier read.
    #[allow(clippy::too_many_arguments)]
    pub fn override_score(
        &self,
        actor: &Actor,
        cycle_id: &str,
        person_id: &str,
        dimension: &str,
        score: Amount,
        reason: &str,
        by: Option<&str>,
    ) -> AppResult<Receipt> {
        let by = acting_person(actor, by, "by")?;
        let (actor_c, cycle_id, person_id, dimension, reason) = (
            actor.clone(),
            cycle_id.to_string(),
            person_id.to_string(),
            dimension.to_string(),
            reason.to_string(),
        );
        self.append_decided(actor, cycle_preload(&cycle_id), move |state| {
            period(state, &cycle_id)?;
            authz::override_score(state, &actor_c, &cycle_id, &by)?;
            let Some(previous) = state.reviews.final_calibrated(&cycle_id, &dimension, &person_id)
            else {
                return Err(AppError::invalid(format!(
                    "{person_id} has no calibrated score in cycle {cycle_id}{}; run `valuetree calibrate --cycle {cycle_id}` first",
                    if dimension.is_empty() {
                        String::new()
                    } else {
                        format!(" for {dimension}")
                    }
                )));
            };
            Ok(vec![Event::ScoreOverridden(OverrideRecord {
                by,
                cycle_id,
                dimension,
                person_id,
                previous: Amount(previous),
                reason,
                score,
            })])
        })
    }

    /// Applies the cycle's forced distribution (only if it opted in), computed from the
    /// state it is appended to: one override per move.
    pub fn apply_quota(
        &self,
        actor: &Actor,
        cycle_id: &str,
        by: Option<&str>,
    ) -> AppResult<Receipt> {
        let by = acting_person(actor, by, "by")?;
        let (actor_c, cycle_id) = (actor.clone(), cycle_id.to_string());
        self.append_decided(actor, cycle_preload(&cycle_id), move |state| {
            period(state, &cycle_id)?;
            authz::override_score(state, &actor_c, &cycle_id, &by)?;
            let cycle = &state.reviews.cycles[&cycle_id].record;
            let proposed = proposed_scores(state, &cycle_id)?;
            let view = session(cycle, &proposed);
            if !view.enforced {
                return Err(AppError::invalid(format!(
                    "cycle {cycle_id} does not enforce its guidance; nothing was applied (the guidance is never a quota unless the cycle opts in)"
                )));
            }
            Ok(view
                .forced_moves
                .iter()
                .map(|m| {
                    let previous = proposed
                        .iter()
                        .find(|p| p.person_id == m.person_id)
                        .map_or(0.0, |p| p.score);
                    Event::ScoreOverridden(OverrideRecord {
                        by: by.clone(),
                        cycle_id: cycle_id.clone(),
                        dimension: String::new(),
                        person_id: m.person_id.clone(),
                        previous: Amount(previous),
                        reason: format!(
                            "forced distribution (cycle {cycle_id} enforces its guidance): rank {} of {} falls in band {}",
                            m.rank, view.overall.people, m.band
                        ),
                        score: Amount(f64::from(m.to_level)),
                    })
                })
                .collect())
        })
    }
}
