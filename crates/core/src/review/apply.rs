//! The rules review events must pass, and how they change the review projections.

use super::*;
use crate::event::Event;
use crate::state::{Rejection, State, reject};

/// Peer feedback is shown to a ratee only from this many raters or more; a cycle may raise
/// the threshold, never lower it.
pub const MIN_ANONYMITY_THRESHOLD: u32 = 3;

impl State {
    pub(crate) fn apply_review(&mut self, event: &Event) -> Result<(), Rejection> {
        match event {
            Event::CycleOpened(c) => {
                if self.reviews.cycles.contains_key(&c.cycle_id) {
                    return reject("cycle_id", format!("cycle {} already exists", c.cycle_id));
                }
                self.check_cycle(c)?;
                self.reviews.cycles.insert(
                    c.cycle_id.clone(),
                    Cycle {
                        record: c.clone(),
                        phase: c.phase,
                    },
                );
                self.changes.reviews.cycles.insert(c.cycle_id.clone());
            }
            Event::CyclePhaseChanged {
                cycle_id, phase, ..
            } => {
                let cycle = self.cycle(cycle_id)?;
                if *phase <= cycle.phase {
                    return reject(
                        "phase",
                        format!(
                            "cycle {cycle_id} is in phase {}; phases only move forward (goals → self_review → review → calibration → finalised)",
                            cycle.phase
                        ),
                    );
                }
                if let Some(cycle) = self.reviews.cycles.get_mut(cycle_id) {
                    cycle.phase = *phase;
                }
                self.changes.reviews.cycles.insert(cycle_id.clone());
            }
            Event::GoalSet(g) => {
                let cycle = self
                    .open_cycle(&g.cycle_id, CyclePhase::Calibration)?
                    .clone();
                self.employed_during(&g.person_id, &cycle, "person_id")?;
                self.node(&g.node_id, "node_id")?;
                if g.title.trim().is_empty() {
                    return reject("title", "a goal needs a title");
                }
                if let Some(old) = self.reviews.goals.get(&g.goal_id)
                    && (old.person_id != g.person_id || old.cycle_id != g.cycle_id)
                {
                    return reject(
                        "goal_id",
                        format!(
                            "goal {} belongs to {} in cycle {}; a goal never changes hands",
                            g.goal_id, old.person_id, old.cycle_id
                        ),
                    );
                }
                let mut metrics = BTreeSet::new();
                for kr in &g.key_results {
                    if kr.metric.trim().is_empty() || !metrics.insert(kr.metric.as_str()) {
                        return reject(
                            "key_results",
                            format!("key result metric `{}` is empty or repeated", kr.metric),
                        );
                    }
                }
                self.reviews.goals.insert(g.goal_id.clone(), g.clone());
                self.changes.reviews.goals.insert(g.goal_id.clone());
            }
            Event::KeyResultMeasured(m) => {
                let Some(goal) = self.reviews.goals.get(&m.goal_id) else {
                    return reject("goal_id", format!("unknown goal {}", m.goal_id));
                };
                if !goal.key_results.iter().any(|kr| kr.metric == m.metric) {
                    return reject(
                        "metric",
                        format!("goal {} has no key result `{}`", m.goal_id, m.metric),
                    );
                }
                let key = (m.goal_id.clone(), m.metric.clone(), m.measured_on);
                self.reviews.measurements.insert(key.clone(), m.clone());
                self.changes.reviews.measurements.insert(key);
            }
            Event::ReviewerAdded(r) | Event::ReviewerRemoved(r) => {
                let included = matches!(event, Event::ReviewerAdded(_));
                self.check_reviewer_change(r)?;
                let key = (
                    r.cycle_id.clone(),
                    r.ratee_id.clone(),
                    r.reviewer_id.clone(),
                );
                self.reviews.reviewers.insert(
                    key.clone(),
                    ReviewerChoice {
                        change: r.clone(),
                        included,
                    },
                );
                self.changes.reviews.reviewers.insert(key);
            }
            Event::SelfReviewLinked(s) => {
                let cycle = self
                    .open_cycle(&s.cycle_id, CyclePhase::Calibration)?
                    .clone();
                self.employed_during(&s.person_id, &cycle, "person_id")?;
                if s.text.trim().is_empty() {
                    return reject("text", "say in a sentence what the linked work achieved");
                }
                self.check_circle(s)?;
                let key = (s.cycle_id.clone(), s.person_id.clone(), s.entry_id.clone());
                self.reviews.self_reviews.insert(key.clone(), s.clone());
                self.changes.reviews.self_reviews.insert(key);
            }
            Event::BehaviourAssessed(b) => {
                let cycle = self.open_cycle(&b.cycle_id, CyclePhase::Finalised)?.clone();
                self.employed_during(&b.person_id, &cycle, "person_id")?;
                self.person(&b.assessed_by, "assessed_by")?;
                let behaviour = Behaviour {
                    behaviour: b.behaviour.clone(),
                    value: b.value.clone(),
                };
                if !cycle.behaviours.contains(&behaviour) {
                    return reject(
                        "behaviour",
                        format!(
                            "cycle {} has no behaviour `{}` under value `{}`",
                            b.cycle_id, b.behaviour, b.value
                        ),
                    );
                }
                if b.met && b.evidence.trim().is_empty() {
                    return reject(
                        "evidence",
                        "a behaviour counts as met only with evidence: a ledger entry id or a written case",
                    );
                }
                let key = (
                    b.cycle_id.clone(),
                    b.person_id.clone(),
                    b.value.clone(),
                    b.behaviour.clone(),
                );
                self.reviews.behaviours.insert(key.clone(), b.clone());
                self.changes.reviews.behaviours.insert(key);
            }
            Event::RatingRecorded(r) => {
                self.check_rating(r)?;
                let key = r.key();
                // A new rating of a bulk import is kept by its importer (see
                // `State::ratings_in_import`), which writes its row from the event; a
                // revision of one held here replaces it as always.
                if self.set_aside_recorded && !self.reviews.ratings.contains_key(&key) {
                    return Ok(());
                }
                if let Some(digests) = &mut self.digests {
                    let hashed = crate::digests::FactKey::of_rating(r);
                    let digest = crate::digests::DigestedRating::new(
                        (digests.rating_digest)(r),
                        r.status == RatingStatus::Submitted,
                    );
                    digests.ratings.insert(hashed, digest);
                    if !digests.keep_whole.contains(&hashed) {
                        return Ok(());
                    }
                }
                self.reviews.ratings.insert(key.clone(), r.clone());
                self.changes.reviews.ratings.insert(key);
            }
            Event::CalibrationRecorded(result) => {
                let cycle = self.open_cycle(&result.cycle_id, CyclePhase::Finalised)?;
                if !result.dimension.is_empty()
                    && !cycle.dimensions.iter().any(|d| d.name == result.dimension)
                {
                    return reject(
                        "dimension",
                        format!(
                            "cycle {} has no dimension `{}`",
                            result.cycle_id, result.dimension
                        ),
                    );
                }
                for score in &result.scores {
                    self.person(&score.person_id, "scores")?;
                    if !score.calibrated.value().is_finite() || score.std_error.value() < 0.0 {
                        return reject(
                            "scores",
                            format!("the score of {} is not a number", score.person_id),
                        );
                    }
                }
                for score in &result.scores {
                    let key = (
                        result.cycle_id.clone(),
                        result.dimension.clone(),
                        score.person_id.clone(),
                    );
                    self.reviews.scores.insert(key.clone(), score.clone());
                    self.changes.reviews.scores.insert(key);
                }
            }
            Event::ScoreOverridden(o) => {
                let cycle = self.cycle(&o.cycle_id)?;
                if cycle.phase != CyclePhase::Calibration {
                    return reject(
                        "cycle_id",
                        format!(
                            "cycle {} is in phase {}; the committee overrides scores only during calibration",
                            o.cycle_id, cycle.phase
                        ),
                    );
                }
                let record = &cycle.record;
                if !record.committee.is_empty() && !record.committee.contains(&o.by) {
                    return reject(
                        "by",
                        format!(
                            "{} is not on the calibration committee of cycle {} ({})",
                            o.by,
                            o.cycle_id,
                            record.committee.join(", ")
                        ),
                    );
                }
                check_score(o.score, record, "score")?;
                self.person(&o.by, "by")?;
                self.person(&o.person_id, "person_id")?;
                if o.reason.trim().is_empty() {
                    return reject("reason", "an override needs a reason");
                }
                // The previous value is the one the override replaces, read from the state it
                // is appended to: a stale read (another override in between) is refused.
                match self
                    .reviews
                    .final_calibrated(&o.cycle_id, &o.dimension, &o.person_id)
                {
                    None => {
                        return reject(
                            "person_id",
                            format!(
                                "{} has no calibrated score in cycle {} to override",
                                o.person_id, o.cycle_id
                            ),
                        );
                    }
                    Some(current) if current != o.previous.value() => {
                        return reject(
                            "previous",
                            format!(
                                "the score stands at {current}, not {}; reload and decide again",
                                o.previous
                            ),
                        );
                    }
                    Some(_) => {}
                }
                let key = (o.cycle_id.clone(), o.dimension.clone(), o.person_id.clone());
                self.reviews.overrides.insert(key.clone(), o.clone());
                self.changes.reviews.overrides.insert(key);
            }
            _ => {}
        }
        Ok(())
    }

    pub fn cycle(&self, cycle_id: &str) -> Result<&Cycle, Rejection> {
        match self.reviews.cycles.get(cycle_id) {
            Some(c) => Ok(c),
            None => reject("cycle_id", format!("unknown cycle {cycle_id}")),
        }
    }

    /// The cycle, if it has not reached `closed_from` yet.
    fn open_cycle(
        &self,
        cycle_id: &str,
        closed_from: CyclePhase,
    ) -> Result<&CycleRecord, Rejection> {
        let cycle = self.cycle(cycle_id)?;
        if cycle.phase >= closed_from {
            return reject(
                "cycle_id",
                format!(
                    "cycle {cycle_id} is in phase {}; this can no longer change from phase {closed_from} on",
                    cycle.phase
                ),
            );
        }
        Ok(&cycle.record)
    }

    /// The person worked here at some point of the cycle's period.
    fn employed_during(
        &self,
        person_id: &str,
        cycle: &CycleRecord,
        field: &'static str,
    ) -> Result<(), Rejection> {
        let p = self.person(person_id, field)?;
        if p.joined_on > cycle.ends_on || p.left_on.is_some_and(|left| left < cycle.starts_on) {
            return reject(
                field,
                format!(
                    "{person_id} did not work here during cycle {} ({} to {})",
                    cycle.cycle_id, cycle.starts_on, cycle.ends_on
                ),
            );
        }
        Ok(())
    }

    fn check_cycle(&self, c: &CycleRecord) -> Result<(), Rejection> {
        if c.cycle_id.trim().is_empty() || c.name.trim().is_empty() {
            return reject("name", "a cycle needs an id and a name");
        }
        if c.ends_on < c.starts_on {
            return reject(
                "ends_on",
                format!("{} is before the start {}", c.ends_on, c.starts_on),
            );
        }
        if c.scale.len() < 2 {
            return reject("scale", "a rating scale needs at least two levels");
        }
        if c.anonymity_threshold < MIN_ANONYMITY_THRESHOLD {
            return reject(
                "anonymity_threshold",
                format!(
                    "peer feedback is shown from at least {MIN_ANONYMITY_THRESHOLD} raters; {} would identify them",
                    c.anonymity_threshold
                ),
            );
        }
        let mut names = BTreeSet::new();
        for d in &c.dimensions {
            if d.name.trim().is_empty() || !names.insert(d.name.as_str()) || d.weight.value() < 0.0
            {
                return reject(
                    "dimensions",
                    format!(
                        "dimension `{}` is unnamed, repeated or weighs less than 0",
                        d.name
                    ),
                );
            }
        }
        if c.dimensions.iter().map(|d| d.weight.value()).sum::<f64>() <= 0.0 {
            return reject(
                "dimensions",
                "the dimensions' weights must add up to more than 0",
            );
        }
        if !c.guidance.is_empty() {
            let total: f64 = c.guidance.iter().map(|b| b.share.value()).sum();
            if c.guidance
                .iter()
                .any(|b| !(0.0..=1.0).contains(&b.share.value()))
                || (total - 1.0).abs() > 1e-6
            {
                return reject(
                    "guidance",
                    format!("guidance shares must be between 0 and 1 and add up to 1, not {total}"),
                );
            }
        }
        let mut banded = BTreeSet::new();
        for band in &c.guidance {
            for &level in &band.levels {
                if level < 1 || level as usize > c.scale.len() || !banded.insert(level) {
                    return reject(
                        "guidance",
                        format!(
                            "band `{}` names level {level}, which is off the scale 1–{} or in another band",
                            band.label,
                            c.scale.len()
                        ),
                    );
                }
            }
        }
        let distinct: BTreeSet<&Behaviour> = c.behaviours.iter().collect();
        if distinct.len() != c.behaviours.len() {
            return reject("behaviours", "a behaviour is listed twice");
        }
        for member in &c.committee {
            self.person(member, "committee")?;
        }
        Ok(())
    }

    fn check_reviewer_change(&self, r: &ReviewerChange) -> Result<(), Rejection> {
        let cycle = self.open_cycle(&r.cycle_id, CyclePhase::Calibration)?;
        self.employed_during(&r.ratee_id, cycle, "ratee_id")?;
        self.person(&r.reviewer_id, "reviewer_id")?;
        if r.reviewer_id == r.ratee_id {
            return reject(
                "reviewer_id",
                "a person's own view is their self review, not a reviewer",
            );
        }
        if r.reason.trim().is_empty() {
            return reject("reason", "say why the reviewer is added or removed");
        }
        let managers = self.managers_during(&r.ratee_id, cycle.starts_on, cycle.ends_on);
        if r.by != r.ratee_id && !managers.iter().any(|(m, _)| *m == r.by) {
            return reject(
                "by",
                format!(
                    "{} may not change the reviewers of {}: only the person and their managers during the cycle may",
                    r.by, r.ratee_id
                ),
            );
        }
        Ok(())
    }

    fn check_circle(&self, s: &SelfReviewEntry) -> Result<(), Rejection> {
        let digested = || {
            let digests = self.digests.as_ref()?;
            let key = crate::digests::FactKey::contribution(&s.contribution_id);
            let c = digests.contributions.get(&key)?;
            Some((c.retracted(), digests.contributor(c)))
        };
        let found = match self.contributions.get(&s.contribution_id) {
            Some(c) => Some((c.retracted_on.is_some(), c.record.person_id.as_str())),
            None => digested(),
        };
        let Some((retracted, contributor)) = found else {
            return reject(
                "contribution_id",
                format!("unknown contribution {}", s.contribution_id),
            );
        };
        if retracted {
            return reject(
                "contribution_id",
                format!("contribution {} was retracted", s.contribution_id),
            );
        }
        let own = contributor == s.person_id;
        match (s.circle, own) {
            (Circle::OwnResults, false) => reject(
                "contribution_id",
                format!(
                    "contribution {} is by {}, not by {}: link it in `others_success` or `built_on`",
                    s.contribution_id, contributor, s.person_id
                ),
            ),
            (Circle::OthersSuccess | Circle::BuiltOn, true) => reject(
                "contribution_id",
                format!(
                    "contribution {} is {}'s own: circle `{}` links someone else's work",
                    s.contribution_id, s.person_id, s.circle
                ),
            ),
            _ => Ok(()),
        }
    }

    fn check_rating(&self, r: &RatingRecord) -> Result<(), Rejection> {
        let cycle = self.open_cycle(&r.cycle_id, CyclePhase::Calibration)?;
        self.employed_during(&r.rater_id, cycle, "rater_id")?;
        self.employed_during(&r.ratee_id, cycle, "ratee_id")?;
        let is_self = r.rater_id == r.ratee_id;
        if is_self != (r.relationship == Relationship::SelfReview) {
            return reject(
                "relationship",
                "relationship `self` is for a person's rating of themselves, and only for that",
            );
        }
        if !cycle.dimensions.iter().any(|d| d.name == r.dimension) {
            let names: Vec<&str> = cycle.dimensions.iter().map(|d| d.name.as_str()).collect();
            return reject(
                "dimension",
                format!(
                    "cycle {} rates {}, not `{}`",
                    r.cycle_id,
                    names.join(", "),
                    r.dimension
                ),
            );
        }
        check_score(r.score, cycle, "score")?;
        let was_submitted = match &self.digests {
            Some(digests) => digests
                .ratings
                .get(&crate::digests::FactKey::of_rating(r))
                .is_some_and(|d| d.submitted()),
            None => self
                .reviews
                .ratings
                .get(&r.key())
                .is_some_and(|old| old.status == RatingStatus::Submitted),
        };
        if was_submitted && r.status == RatingStatus::Draft {
            return reject(
                "status",
                "this rating was submitted; a submitted rating is revised, never turned back into a draft",
            );
        }
        Ok(())
    }
}

fn check_score(score: Amount, cycle: &CycleRecord, field: &'static str) -> Result<(), Rejection> {
    if !(1.0..=cycle.scale_max()).contains(&score.value()) {
        return reject(
            field,
            format!(
                "score {score} is outside the scale 1–{} of cycle {}",
                cycle.scale.len(),
                cycle.cycle_id
            ),
        );
    }
    Ok(())
}
