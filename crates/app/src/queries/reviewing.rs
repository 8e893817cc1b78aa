//! A person's own side of a review cycle: the reviews they are asked to write (the people
//! whose suggested reviewers name them) and their own review (goals, self review, values,
//! their self rating).

use super::review::{GoalView, REVIEWERS_SUGGESTED, goals_of};
use super::{ContributionView, PersonRef};
use crate::error::{AppError, AppResult};
use crate::{Actor, App, Snapshot, authz};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use valuetree_core::domain::{Contribution, Relationship};
use valuetree_core::review::suggest::Reason;
use valuetree_core::review::*;
use valuetree_store::By;

/// How many of the people closest to a reviewer are checked for naming them; a person
/// further off than this rarely ranks them among their reviewers, and the list says so.
pub const REVIEW_CANDIDATES: usize = 60;

/// How many people's lists of reviews to write a snapshot keeps.
const REVIEW_LISTS_KEPT: usize = 4096;

/// A review the person is asked to write.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReviewToWrite {
    pub ratee: PersonRef,
    /// As whom the person reviews them (peer, lead, manager, customer, report).
    pub relationship: Relationship,
    /// Why the ledger names the person as a reviewer.
    pub reasons: Vec<Reason>,
    /// The person's ratings of them so far, one per dimension rated (drafts and submitted).
    pub ratings: Vec<RatingRecord>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReviewsToWrite {
    pub cycle: CycleRecord,
    pub phase: CyclePhase,
    pub reviewer: PersonRef,
    pub reviews: Vec<ReviewToWrite>,
    /// True when the people weighed were cut at [`REVIEW_CANDIDATES`].
    pub truncated: bool,
}

/// A person's own review in a cycle, as they and their managers see it (not the others'
/// ratings of them: those reach the person only as aggregated feedback).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OwnReview {
    pub cycle: CycleRecord,
    pub phase: CyclePhase,
    pub person: PersonRef,
    pub goals: Vec<GoalView>,
    pub self_review: Vec<SelfReviewEntry>,
    pub behaviours: Vec<BehaviourAssessment>,
    /// The person's rating of themself, per dimension.
    pub self_ratings: Vec<RatingRecord>,
    /// The person's contributions in the cycle's period, newest first: what a self review
    /// links and a goal hangs on.
    pub contributions: Vec<ContributionView>,
}

/// The cycle a person's reviews are about now: the latest one still taking ratings, else
/// the latest one.
pub fn current_cycle(state: &valuetree_core::state::State) -> Option<&Cycle> {
    let latest = |c: &&Cycle| (c.record.starts_on, c.record.cycle_id.clone());
    let cycles = state.reviews.cycles.values();
    cycles
        .clone()
        .filter(|c| c.phase < CyclePhase::Calibration)
        .max_by_key(latest)
        .or_else(|| cycles.max_by_key(latest))
}

fn in_period(c: &Contribution, cycle: &CycleRecord) -> bool {
    c.retracted_on.is_none() && cycle.covers(c.record.date)
}

/// Loads the work of a cycle's period that reviewer suggestions weigh, each node's once.
pub(crate) struct PeriodWork<'a> {
    app: &'a App,
    cycle: &'a CycleRecord,
    by_node: HashMap<String, Vec<Contribution>>,
}

impl<'a> PeriodWork<'a> {
    pub(crate) fn new(app: &'a App, cycle: &'a CycleRecord) -> Self {
        PeriodWork {
            app,
            cycle,
            by_node: HashMap::new(),
        }
    }

    /// A person's contributions in the period (not retracted).
    pub(crate) fn of_person(&self, person: &str) -> AppResult<Vec<Contribution>> {
        Ok(self
            .app
            .read(|store| Ok(store.contributions_by(By::Person(person))?))?
            .into_iter()
            .filter(|c| in_period(c, self.cycle))
            .collect())
    }

    /// Everyone's contributions to a node in the period.
    pub(crate) fn of_node(&mut self, node: &str) -> AppResult<Vec<Contribution>> {
        if let Some(found) = self.by_node.get(node) {
            return Ok(found.clone());
        }
        let found: Vec<Contribution> = self
            .app
            .read(|store| Ok(store.contributions_by(By::Node(node))?))?
            .into_iter()
            .filter(|c| in_period(c, self.cycle))
            .collect();
        self.by_node.insert(node.to_string(), found.clone());
        Ok(found)
    }

    /// Adds to `into` what a person's suggested reviewers are found from: their work in the
    /// period, and everyone's on the same nodes and on the nodes that work feeds.
    pub(crate) fn around(
        &mut self,
        snapshot: &Snapshot,
        person: &str,
        into: &mut HashMap<String, Contribution>,
    ) -> AppResult<()> {
        let theirs = self.of_person(person)?;
        let mut nodes: BTreeSet<String> = theirs.iter().map(|c| c.record.node_id.clone()).collect();
        for node in nodes.clone() {
            nodes.extend(
                snapshot
                    .edges_into(&node)
                    .iter()
                    .map(|e| e.parent_id.clone()),
            );
        }
        for c in theirs {
            into.insert(c.record.contribution_id.clone(), c);
        }
        for node in &nodes {
            for c in self.of_node(node)? {
                into.insert(c.record.contribution_id.clone(), c);
            }
        }
        Ok(())
    }
}

impl App {
    /// The cycle reviews are about now (see [`current_cycle`]), if any.
    pub fn current_cycle(&self, actor: &Actor) -> AppResult<Option<String>> {
        authz::read_work(actor)?;
        Ok(current_cycle(&self.snapshot()?.state).map(|c| c.record.cycle_id.clone()))
    }

    /// The reviews `person_id` is asked to write in a cycle: everyone whose suggested
    /// reviewers (the same ranking `reviewers` gives them) include the person, and everyone
    /// who added them by hand. The person themself, or an administrator.
    pub fn reviews_to_write(
        &self,
        actor: &Actor,
        cycle_id: &str,
        person_id: &str,
    ) -> AppResult<ReviewsToWrite> {
        if !actor.is(person_id) {
            authz::administer(actor)?;
        }
        let snapshot = self.snapshot()?;
        let key = (cycle_id.to_string(), person_id.to_string());
        if let Ok(kept) = snapshot.reviews_to_write.lock()
            && let Some(found) = kept.get(&key)
        {
            return Ok((**found).clone());
        }
        let found = self.find_reviews_to_write(&snapshot, cycle_id, person_id)?;
        if let Ok(mut kept) = snapshot.reviews_to_write.lock() {
            if kept.len() >= REVIEW_LISTS_KEPT {
                kept.clear();
            }
            kept.insert(key, std::sync::Arc::new(found.clone()));
        }
        Ok(found)
    }

    fn find_reviews_to_write(
        &self,
        snapshot: &Snapshot,
        cycle_id: &str,
        person_id: &str,
    ) -> AppResult<ReviewsToWrite> {
        let structure = &snapshot.state;
        let cycle = structure
            .reviews
            .cycles
            .get(cycle_id)
            .ok_or_else(|| {
                AppError::not_found(
                    format!("cycle {cycle_id}"),
                    "`valuetree cycle list` shows the cycles",
                )
            })?
            .clone();
        let record = &cycle.record;
        let (start, end) = (record.starts_on, record.ends_on);

        // Whoever could name the person: co-contributors on their nodes and on the nodes
        // their work feeds or that feed it, co-members, reports, managers, hand-picks.
        let mut loader = PeriodWork::new(self, record);
        let mine = loader.of_person(person_id)?;
        // How strongly each candidate is tied to the person, to weigh the closest first: the
        // ranking below is exact, this only decides whom it is run for.
        let mut ties: HashMap<String, f64> = HashMap::new();
        let mut tie = |who: &str, weight: f64| {
            if who != person_id {
                *ties.entry(who.to_string()).or_default() += weight;
            }
        };
        let mut my_effort: HashMap<String, f64> = HashMap::new();
        for c in &mine {
            *my_effort.entry(c.record.node_id.clone()).or_default() += c.record.effort.value();
        }
        let mut led: BTreeSet<String> = BTreeSet::new();
        for node in structure.nodes.keys() {
            if structure.lead_on(node, start).map(String::as_str) == Some(person_id)
                || structure.lead_on(node, end).map(String::as_str) == Some(person_id)
            {
                led.insert(node.clone());
            }
        }
        for handover in structure.handovers.values() {
            if handover.to_lead_id.as_deref() == Some(person_id) && record.covers(handover.date) {
                led.insert(handover.node_id.clone());
            }
        }
        let near: BTreeSet<String> = my_effort
            .keys()
            .cloned()
            .chain(led.iter().cloned())
            .collect();
        for node in &near {
            let mine_here = my_effort.get(node).copied();
            for c in loader.of_node(node)? {
                let theirs = c.record.effort.value();
                tie(
                    &c.record.person_id,
                    mine_here.map_or(theirs, |m| m.min(theirs)),
                );
            }
            for child in structure.links().children(node) {
                for c in loader.of_node(child)? {
                    tie(&c.record.person_id, c.record.effort.value().min(1.0));
                }
            }
        }
        for membership in snapshot.memberships_of(person_id) {
            let range = (
                membership.node_id.clone(),
                String::new(),
                valuetree_core::NaiveDate::MIN,
            )..;
            for (_, other) in structure
                .members
                .range(range)
                .take_while(|(k, _)| k.0 == membership.node_id)
            {
                tie(&other.person_id, 1.0);
            }
        }
        // Reporting lines and hand-picks are always weighed.
        const ALWAYS: f64 = 1e12;
        for assignment in structure.assignments.values() {
            let a = &assignment.record;
            let overlaps = a.valid_from <= end && assignment.valid_to.is_none_or(|t| t >= start);
            if overlaps && a.manager_id.as_deref() == Some(person_id) {
                tie(&a.person_id, ALWAYS);
            }
        }
        for (manager, _) in structure.managers_during(person_id, start, end) {
            tie(&manager, ALWAYS);
        }
        for ((c, ratee, reviewer), choice) in &structure.reviews.reviewers {
            if c == cycle_id && reviewer == person_id && choice.included {
                tie(ratee, ALWAYS);
            }
        }
        let mut ranked: Vec<(String, f64)> = ties.into_iter().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let truncated = ranked.len() > REVIEW_CANDIDATES;
        let candidates: Vec<String> = ranked
            .into_iter()
            .take(REVIEW_CANDIDATES)
            .map(|(who, _)| who)
            .collect();

        // Each candidate's own ranking needs their work and their co-workers' work.
        let mut work: HashMap<String, Contribution> = mine
            .into_iter()
            .map(|c| (c.record.contribution_id.clone(), c))
            .collect();
        for candidate in &candidates {
            loader.around(snapshot, candidate, &mut work)?;
        }
        let mut reviews = Vec::new();
        for candidate in &candidates {
            let suggestions = structure.suggest_reviewers_among(
                work.values(),
                record,
                candidate,
                REVIEWERS_SUGGESTED,
            );
            if let Some(me) = suggestions
                .reviewers
                .into_iter()
                .find(|s| s.reviewer_id == person_id)
            {
                let mut ratings: Vec<RatingRecord> = self
                    .read(|store| Ok(store.ratings_of(candidate)?))?
                    .into_iter()
                    .filter(|r| r.cycle_id == cycle_id && r.rater_id == person_id)
                    .collect();
                ratings.sort_by(|a, b| a.dimension.cmp(&b.dimension));
                reviews.push(ReviewToWrite {
                    ratee: PersonRef::of(structure, candidate),
                    relationship: me.relationship,
                    reasons: me.reasons,
                    ratings,
                });
            }
        }
        reviews.sort_by(|a, b| {
            let done = |r: &ReviewToWrite| {
                r.ratings.len() == record.dimensions.len()
                    && r.ratings
                        .iter()
                        .all(|r| r.status == RatingStatus::Submitted)
            };
            (done(a), &a.ratee.name).cmp(&(done(b), &b.ratee.name))
        });
        Ok(ReviewsToWrite {
            reviewer: PersonRef::of(structure, person_id),
            cycle: record.clone(),
            phase: cycle.phase,
            reviews,
            truncated,
        })
    }

    /// A person's own review in a cycle: the person, their managers in the cycle, HR.
    pub fn own_review(
        &self,
        actor: &Actor,
        cycle_id: &str,
        person_id: &str,
    ) -> AppResult<OwnReview> {
        let snapshot = self.snapshot()?;
        let state = &*snapshot.state;
        let cycle = state.reviews.cycles.get(cycle_id).ok_or_else(|| {
            AppError::not_found(
                format!("cycle {cycle_id}"),
                "`valuetree cycle list` shows the cycles",
            )
        })?;
        if !state.people.contains_key(person_id) {
            return Err(AppError::not_found(
                format!("person {person_id}"),
                "`valuetree org` lists who is here",
            ));
        }
        let record = &cycle.record;
        authz::person_or_manager(
            state,
            actor,
            person_id,
            (record.starts_on, record.ends_on),
            authz::rule::GOALS_BY_PERSON_OR_MANAGER,
        )?;
        let book = &state.reviews;
        let mut contributions: Vec<ContributionView> = self
            .read(|store| Ok(store.contributions_by(By::Person(person_id))?))?
            .iter()
            .filter(|c| in_period(c, record))
            .map(|c| ContributionView::of(state, c))
            .collect();
        contributions
            .sort_by(|a, b| (b.date, &b.contribution_id).cmp(&(a.date, &a.contribution_id)));
        let mut self_ratings: Vec<RatingRecord> = self
            .read(|store| Ok(store.ratings_of(person_id)?))?
            .into_iter()
            .filter(|r| r.cycle_id == cycle_id && r.rater_id == person_id)
            .collect();
        self_ratings.sort_by(|a, b| a.dimension.cmp(&b.dimension));
        Ok(OwnReview {
            cycle: record.clone(),
            phase: cycle.phase,
            person: PersonRef::of(state, person_id),
            goals: goals_of(book, cycle_id, person_id),
            self_review: book
                .self_reviews
                .values()
                .filter(|e| e.person_id == person_id && e.cycle_id == cycle_id)
                .cloned()
                .collect(),
            behaviours: book
                .behaviours
                .values()
                .filter(|b| b.person_id == person_id && b.cycle_id == cycle_id)
                .cloned()
                .collect(),
            self_ratings,
            contributions,
        })
    }
}
