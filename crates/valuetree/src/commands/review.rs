//! `valuetree review …`: everything that happens in a review cycle, from goals to the final
//! score. Every change is a ledger event; every view reads the ledger's projections.

use super::credit::Format;
use super::record::record;
use crate::commands::show::person_label;
use crate::{open_store, parse_date};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use valuetree_core::domain::Relationship;
use valuetree_core::event::Event;
use valuetree_core::review::feedback::feedback_for;
use valuetree_core::review::final_score::{FinalInput, FinalPolicy, TIERS, final_scores};
use valuetree_core::review::session::{Proposed, session};
use valuetree_core::review::*;
use valuetree_core::state::State;
use valuetree_core::{Amount, NaiveDate, org};
use valuetree_store::Preload;

#[derive(Args, Debug)]
pub struct ReviewArgs {
    /// The review cycle.
    #[arg(long, global = true)]
    cycle: Option<String>,
    #[command(subcommand)]
    command: ReviewCommand,
}

#[derive(Subcommand, Debug)]
enum ReviewCommand {
    /// Suggested reviewers for a person, found in the ledger (who they worked with, the leads
    /// of their nodes, every manager they had in the period, internal customers, reports),
    /// ranked, each with its reason; plus those added or removed by hand.
    Reviewers {
        person: String,
        /// How many reviewers to list.
        #[arg(long, default_value_t = 8)]
        limit: usize,
    },
    /// Add a reviewer by hand (the person or one of their managers in the period).
    AddReviewer(ReviewerArgs),
    /// Remove a suggested reviewer (the person or one of their managers in the period).
    RemoveReviewer(ReviewerArgs),
    /// Record a rating (submitted, or a draft with --draft); a later one with the same rater,
    /// ratee and dimension revises it.
    Rate {
        ratee: String,
        #[arg(long)]
        rater: String,
        /// manager, report (upward), peer, lead, customer or self.
        #[arg(long)]
        relationship: Relationship,
        #[arg(long, default_value = "results")]
        dimension: String,
        #[arg(long)]
        score: Amount,
        #[arg(long, default_value = "")]
        comment: String,
        #[arg(long)]
        draft: bool,
    },
    /// Set (or revise) a goal: a link from the person to a value-tree node, with key results.
    Goal {
        goal_id: String,
        #[arg(long)]
        person: String,
        #[arg(long)]
        node: String,
        #[arg(long)]
        title: String,
        /// A key result as metric=target (repeatable), e.g. --key-result conversion=0.05.
        #[arg(long = "key-result", value_parser = parse_key_result)]
        key_results: Vec<KeyResult>,
    },
    /// Record a key result's actual value on a date.
    Measure {
        goal_id: String,
        metric: String,
        actual: Amount,
        #[arg(long, value_parser = parse_date)]
        on: Option<NaiveDate>,
    },
    /// Link a self-review entry to a contribution in the ledger: own_results (your work),
    /// others_success (someone else's result you helped), built_on (others' work your
    /// result built on — it shows on their record too).
    Link {
        person: String,
        #[arg(long)]
        circle: Circle,
        #[arg(long)]
        contribution: String,
        /// What the linked work achieved, in a sentence.
        #[arg(long)]
        text: String,
        /// Entry id (default: circle and contribution).
        #[arg(long)]
        entry: Option<String>,
    },
    /// Assess one behaviour of one value: met (needs evidence) or not.
    Behaviour {
        person: String,
        #[arg(long)]
        value: String,
        #[arg(long)]
        behaviour: String,
        #[arg(long, conflicts_with = "not_met")]
        met: bool,
        #[arg(long)]
        not_met: bool,
        /// A ledger entry id or a written case (required with --met).
        #[arg(long, default_value = "")]
        evidence: String,
        #[arg(long)]
        by: String,
    },
    /// What the person sees of their feedback: the manager's and their own ratings, others
    /// only aggregated from at least the cycle's anonymity threshold (never below 3).
    Feedback { person: String },
    /// The person's whole record in the cycle, as each of their managers (past or new) and HR
    /// see it: goals, self review, work others built on, values, every rating, the score.
    Record { person: String },
    /// The calibration session: proposed scores against the guidance per unit and per
    /// manager, and managers whose ratings stand far from everyone else's.
    Session {
        /// Record the forced-distribution moves as committee overrides (only if the cycle
        /// opted in to enforcing its guidance).
        #[arg(long)]
        apply_quota: bool,
        /// The committee member applying the quota.
        #[arg(long)]
        by: Option<String>,
    },
    /// A committee override of a person's calibrated score (needs a reason; the previous value
    /// is kept in the ledger).
    Override {
        person: String,
        #[arg(long)]
        score: Amount,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        by: String,
        /// The dimension (default: the overall score).
        #[arg(long, default_value = "")]
        dimension: String,
    },
    /// The final score: an explained blend of the calibrated rating, credit from the value
    /// tree in the cycle's period and the values score; and the results × values 9-box.
    Final {
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// Blend weights and 9-box cut points (TOML: rating_weight, credit_weight,
        /// values_weight, results_cuts = [a, b], values_cuts = [a, b]).
        #[arg(long)]
        policy: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
struct ReviewerArgs {
    person: String,
    reviewer: String,
    #[arg(long)]
    by: String,
    #[arg(long)]
    reason: String,
}

fn parse_key_result(text: &str) -> Result<KeyResult, String> {
    let (metric, target) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not metric=target"))?;
    Ok(KeyResult {
        metric: metric.trim().to_string(),
        target: Amount::parse(target)?,
    })
}

const VALUES_NOTE: &str =
    "Values scores are evidence for a conversation, never a sole ground for a decision.";

fn load(db: &str, cycle_id: &str, preload_all: bool) -> Result<State> {
    let mut store = open_store(db)?;
    let preload = if preload_all {
        Preload::All
    } else {
        Preload::Ids {
            contributions: Vec::new(),
            outcomes: Vec::new(),
            cycles: vec![cycle_id.to_string()],
        }
    };
    let state = store.load_state(&preload)?;
    state
        .cycle(cycle_id)
        .map_err(|r| anyhow::anyhow!("{r}; `valuetree cycle list` shows the cycles"))?;
    Ok(state)
}

fn known_person(state: &State, id: &str) -> Result<()> {
    if !state.people.contains_key(id) {
        bail!("unknown person {id}; `valuetree org` lists who is here");
    }
    Ok(())
}

pub fn run(db: &str, actor: &str, args: ReviewArgs) -> Result<ExitCode> {
    let Some(cycle_id) = args.cycle.clone() else {
        bail!("say which cycle with --cycle ID; `valuetree cycle list` shows the cycles");
    };
    let today = || -> Result<NaiveDate> { Ok(crate::clock()?.today()) };
    let done = |head: Option<valuetree_store::Head>, what: String| {
        say!(
            "{what}{}",
            head.map_or(String::new(), |h| format!(" (event {})", h.seq))
        );
        Ok(ExitCode::SUCCESS)
    };
    match args.command {
        ReviewCommand::Reviewers { person, limit } => reviewers(db, &cycle_id, &person, limit),
        ReviewCommand::AddReviewer(a) | ReviewCommand::RemoveReviewer(a)
            if a.reason.trim().is_empty() =>
        {
            bail!("say why with --reason")
        }
        ReviewCommand::AddReviewer(a) => {
            let change = reviewer_change(&cycle_id, a);
            let what = format!(
                "{} added to the reviewers of {}",
                change.reviewer_id, change.ratee_id
            );
            done(record(db, actor, vec![Event::ReviewerAdded(change)])?, what)
        }
        ReviewCommand::RemoveReviewer(a) => {
            let change = reviewer_change(&cycle_id, a);
            let what = format!(
                "{} removed from the reviewers of {}",
                change.reviewer_id, change.ratee_id
            );
            done(
                record(db, actor, vec![Event::ReviewerRemoved(change)])?,
                what,
            )
        }
        ReviewCommand::Rate {
            ratee,
            rater,
            relationship,
            dimension,
            score,
            comment,
            draft,
        } => {
            let rating = RatingRecord {
                comment,
                cycle_id,
                dimension,
                ratee_id: ratee,
                rater_id: rater,
                relationship,
                score,
                status: if draft {
                    RatingStatus::Draft
                } else {
                    RatingStatus::Submitted
                },
            };
            let what = format!(
                "{} rating of {} by {}: {} on {}",
                rating.status, rating.ratee_id, rating.rater_id, rating.score, rating.dimension
            );
            done(
                record(db, actor, vec![Event::RatingRecorded(rating)])?,
                what,
            )
        }
        ReviewCommand::Goal {
            goal_id,
            person,
            node,
            title,
            key_results,
        } => {
            let what = format!("goal {goal_id} of {person} on node {node}");
            let goal = GoalRecord {
                cycle_id,
                goal_id,
                key_results,
                node_id: node,
                person_id: person,
                title,
            };
            done(record(db, actor, vec![Event::GoalSet(goal)])?, what)
        }
        ReviewCommand::Measure {
            goal_id,
            metric,
            actual,
            on,
        } => {
            let measured_on = match on {
                Some(d) => d,
                None => today()?,
            };
            let what = format!("{goal_id} {metric} = {actual} on {measured_on}");
            let m = Measurement {
                actual,
                goal_id,
                measured_on,
                metric,
            };
            done(record(db, actor, vec![Event::KeyResultMeasured(m)])?, what)
        }
        ReviewCommand::Link {
            person,
            circle,
            contribution,
            text,
            entry,
        } => {
            let entry_id = entry.unwrap_or_else(|| format!("{circle}:{contribution}"));
            let what = format!("{person}'s self review links {contribution} under {circle}");
            let e = SelfReviewEntry {
                circle,
                contribution_id: contribution,
                cycle_id,
                entry_id,
                person_id: person,
                text,
            };
            done(record(db, actor, vec![Event::SelfReviewLinked(e)])?, what)
        }
        ReviewCommand::Behaviour {
            person,
            value,
            behaviour,
            met,
            not_met,
            evidence,
            by,
        } => {
            if met == not_met {
                bail!("say --met (with --evidence) or --not-met");
            }
            let what = format!(
                "{person}: `{behaviour}` ({value}) {}",
                if met { "met" } else { "not met" }
            );
            let b = BehaviourAssessment {
                assessed_by: by,
                behaviour,
                cycle_id,
                evidence,
                met,
                person_id: person,
                value,
            };
            done(record(db, actor, vec![Event::BehaviourAssessed(b)])?, what)
        }
        ReviewCommand::Feedback { person } => feedback(db, &cycle_id, &person),
        ReviewCommand::Record { person } => person_record(db, &cycle_id, &person),
        ReviewCommand::Session { apply_quota, by } => {
            session_view(db, actor, &cycle_id, apply_quota, by.as_deref())
        }
        ReviewCommand::Override {
            person,
            score,
            reason,
            by,
            dimension,
        } => {
            let state = load(db, &cycle_id, false)?;
            let Some(previous) = state
                .reviews
                .final_calibrated(&cycle_id, &dimension, &person)
            else {
                bail!(
                    "{person} has no calibrated score in cycle {cycle_id}{}; run `valuetree calibrate --cycle {cycle_id}` first",
                    if dimension.is_empty() {
                        String::new()
                    } else {
                        format!(" for {dimension}")
                    }
                );
            };
            let what = format!("{person}: {previous:.2} → {score} ({reason})");
            let o = OverrideRecord {
                by,
                cycle_id,
                dimension,
                person_id: person,
                previous: Amount(previous),
                reason,
                score,
            };
            done(record(db, actor, vec![Event::ScoreOverridden(o)])?, what)
        }
        ReviewCommand::Final { format, policy } => final_view(db, &cycle_id, format, policy),
    }
}

fn reviewer_change(cycle_id: &str, a: ReviewerArgs) -> ReviewerChange {
    ReviewerChange {
        by: a.by,
        cycle_id: cycle_id.to_string(),
        ratee_id: a.person,
        reason: a.reason,
        reviewer_id: a.reviewer,
    }
}

fn reviewers(db: &str, cycle_id: &str, person: &str, limit: usize) -> Result<ExitCode> {
    let state = load(db, cycle_id, true)?;
    known_person(&state, person)?;
    let cycle = &state.reviews.cycles[cycle_id].record;
    let found = state.suggest_reviewers(cycle, person, limit);
    say!(
        "reviewers for {} in cycle {cycle_id} ({} to {}):",
        person_label(&state, person),
        cycle.starts_on,
        cycle.ends_on
    );
    for (i, s) in found.reviewers.iter().enumerate() {
        say!(
            "{:>2}. {} — {}",
            i + 1,
            person_label(&state, &s.reviewer_id),
            s.relationship
        );
        for reason in &s.reasons {
            say!("      {reason}");
        }
    }
    if !found.left_out.is_empty() {
        say!("not on the list:");
        for s in found.left_out.iter().take(10) {
            say!(
                "    {} — {}: {}",
                person_label(&state, &s.reviewer_id),
                s.relationship,
                s.reasons.last().map_or("", String::as_str)
            );
        }
        if found.left_out.len() > 10 {
            say!("    … and {} more", found.left_out.len() - 10);
        }
    }
    if let Some(warning) = &found.spread_warning {
        say!("note: {warning}");
    }
    Ok(ExitCode::SUCCESS)
}

fn feedback(db: &str, cycle_id: &str, person: &str) -> Result<ExitCode> {
    let state = load(db, cycle_id, false)?;
    known_person(&state, person)?;
    let cycle = &state.reviews.cycles[cycle_id].record;
    let view = feedback_for(cycle, state.reviews.ratings.values(), person);
    say!(
        "feedback for {} in cycle {cycle_id}",
        person_label(&state, person)
    );
    if view.groups.is_empty() && view.withheld_ratings == 0 {
        say!("  no submitted ratings yet");
    }
    for g in &view.groups {
        let who = match &g.rater {
            Some(rater) => format!("{} — {}", g.label, person_label(&state, rater)),
            None => format!("{} — {} raters, aggregated", g.label, g.raters),
        };
        let means: Vec<String> = g
            .means
            .iter()
            .map(|(d, (mean, n))| {
                format!(
                    "{d} {mean:.2} ({n} rating{})",
                    if *n == 1 { "" } else { "s" }
                )
            })
            .collect();
        say!("  {who}: {}", means.join(", "));
        for (author, text) in &g.comments {
            match author {
                Some(a) if g.rater.is_none() => {
                    say!("      “{text}” — {}", person_label(&state, a))
                }
                _ => say!("      “{text}”"),
            }
        }
    }
    if view.withheld_ratings > 0 {
        say!(
            "  {} rating(s) from {} colleague(s) withheld: feedback is shown only from {} raters or more, so that nobody can be identified",
            view.withheld_ratings,
            view.withheld_raters,
            view.threshold
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn joined_or(items: &[String], empty: &str) -> String {
    if items.is_empty() {
        empty.to_string()
    } else {
        items.join(", ")
    }
}

fn person_record(db: &str, cycle_id: &str, person: &str) -> Result<ExitCode> {
    let state = load(db, cycle_id, true)?;
    known_person(&state, person)?;
    let cycle = &state.reviews.cycles[cycle_id].record;
    let book = &state.reviews;
    say!(
        "{} in cycle {cycle_id} ({} to {})",
        person_label(&state, person),
        cycle.starts_on,
        cycle.ends_on
    );
    let managers = state.managers_during(person, cycle.starts_on, cycle.ends_on);
    let managers: Vec<String> = managers
        .iter()
        .map(|(m, days)| format!("{} for {days} days", person_label(&state, m)))
        .collect();
    say!("managers in the period: {}", joined_or(&managers, "none"));
    say!("goals:");
    for g in book
        .goals
        .values()
        .filter(|g| g.person_id == person && g.cycle_id == cycle_id)
    {
        say!("  {} “{}” on node {}", g.goal_id, g.title, g.node_id);
        for kr in &g.key_results {
            let actuals: Vec<String> = book
                .measurements
                .values()
                .filter(|m| m.goal_id == g.goal_id && m.metric == kr.metric)
                .map(|m| format!("{} on {}", m.actual, m.measured_on))
                .collect();
            say!(
                "      {} target {}; actual {}",
                kr.metric,
                kr.target,
                joined_or(&actuals, "not measured yet")
            );
        }
    }
    say!("self review:");
    for e in book
        .self_reviews
        .values()
        .filter(|e| e.person_id == person && e.cycle_id == cycle_id)
    {
        say!("  [{}] {}: {}", e.circle, e.contribution_id, e.text);
    }
    // Others' results that built on this person's work: evidence for their review too.
    for e in book
        .self_reviews
        .values()
        .filter(|e| e.circle == Circle::BuiltOn)
    {
        if let Some(c) = state.contributions.get(&e.contribution_id)
            && c.record.person_id == person
        {
            say!(
                "  [built on your work] {} built on {} in cycle {}: {}",
                person_label(&state, &e.person_id),
                e.contribution_id,
                e.cycle_id,
                e.text
            );
        }
    }
    let assessed: Vec<&BehaviourAssessment> = book
        .behaviours
        .values()
        .filter(|b| b.person_id == person && b.cycle_id == cycle_id)
        .collect();
    say!(
        "values: {} of {} behaviours met{}",
        assessed.iter().filter(|b| b.met).count(),
        cycle.behaviours.len(),
        if assessed.is_empty() {
            " (not assessed yet)"
        } else {
            ""
        }
    );
    for b in assessed {
        say!(
            "  {} / {}: {}{}",
            b.value,
            b.behaviour,
            if b.met { "met" } else { "not met" },
            if b.evidence.is_empty() {
                String::new()
            } else {
                format!(" — {}", b.evidence)
            }
        );
    }
    say!("  ({VALUES_NOTE})");
    let mut ratings: Vec<&RatingRecord> = book
        .ratings
        .values()
        .filter(|r| r.ratee_id == person && r.cycle_id == cycle_id)
        .collect();
    ratings.sort_by(|a, b| (&a.dimension, &a.rater_id).cmp(&(&b.dimension, &b.rater_id)));
    say!("ratings (every one, whoever the manager is now):");
    for r in ratings {
        say!(
            "  {} {} by {} ({}){}{}",
            r.dimension,
            r.score,
            person_label(&state, &r.rater_id),
            r.relationship,
            if r.status == RatingStatus::Draft {
                " [draft]"
            } else {
                ""
            },
            if r.comment.is_empty() {
                String::new()
            } else {
                format!(": “{}”", r.comment)
            }
        );
    }
    let key = (cycle_id.to_string(), String::new(), person.to_string());
    match (book.scores.get(&key), book.overrides.get(&key)) {
        (Some(s), o) => {
            say!(
                "calibrated: {:.2} ± {:.2} from {} ratings (raw mean {:.2})",
                s.calibrated.value(),
                s.std_error.value(),
                s.n_ratings,
                s.raw_mean.value()
            );
            if let Some(o) = o {
                say!(
                    "committee override: {:.2} → {} by {}: {}",
                    o.previous.value(),
                    o.score,
                    person_label(&state, &o.by),
                    o.reason
                );
            }
        }
        (None, _) => say!("calibrated: not yet (`valuetree calibrate --cycle {cycle_id}`)"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Where the person stood at the end of the cycle (or on their last day, if they left).
fn placement_at_end(state: &State, cycle: &CycleRecord, person: &str) -> Option<org::Placement> {
    let last = state
        .people
        .get(person)
        .and_then(|p| p.left_on)
        .map_or(cycle.ends_on, |left| left.min(cycle.ends_on));
    org::placement(state, person, last)
}

fn session_view(
    db: &str,
    actor: &str,
    cycle_id: &str,
    apply_quota: bool,
    by: Option<&str>,
) -> Result<ExitCode> {
    let state = load(db, cycle_id, false)?;
    let cycle = &state.reviews.cycles[cycle_id].record;
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
            let place = placement_at_end(&state, cycle, &k.2);
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
        bail!(
            "cycle {cycle_id} has no calibrated scores yet; run `valuetree calibrate --cycle {cycle_id}` first"
        );
    }
    proposed.sort_by(|a, b| a.person_id.cmp(&b.person_id));
    let view = session(cycle, &proposed);
    say!(
        "calibration session, cycle {cycle_id} (phase {}): {} people",
        state.reviews.cycles[cycle_id].phase,
        view.overall.people
    );
    say!(
        "guidance is {}",
        if view.enforced {
            "ENFORCED: this cycle opted in to a forced distribution; every move is recorded as an override"
        } else {
            "shown as guidance with its deviation, never enforced as a quota"
        }
    );
    let print = |d: &session::Distribution| {
        let bands: Vec<String> = d
            .bands
            .iter()
            .map(|b| {
                format!(
                    "{} {:>3} ({:>4.0}% vs {:.0}%, {:+.0} pts)",
                    b.label,
                    b.count,
                    b.share * 100.0,
                    b.target * 100.0,
                    b.deviation * 100.0
                )
            })
            .collect();
        say!("  {:<28} {:>4}  {}", d.group, d.people, bands.join("  "));
    };
    say!("overall:");
    print(&view.overall);
    say!("by unit:");
    view.by_unit.iter().for_each(print);
    say!("by manager:");
    view.by_manager.iter().for_each(print);
    let flagged: Vec<&session::ManagerAnomaly> =
        view.anomalies.iter().filter(|a| a.flagged).collect();
    say!(
        "managers whose ratings stand apart from the calibrated multi-source view: {}",
        flagged.len()
    );
    for a in flagged {
        say!(
            "  {}: {:+.2} points on average over {} report(s) ({})",
            person_label(&state, &a.manager_id),
            a.mean_gap,
            a.reports,
            if a.mean_gap > 0.0 {
                "more lenient"
            } else {
                "more severe"
            }
        );
    }
    if view.enforced {
        say!("forced-distribution moves: {}", view.forced_moves.len());
        for m in &view.forced_moves {
            say!(
                "  {} (rank {}): level {} → {} (band {})",
                person_label(&state, &m.person_id),
                m.rank,
                m.from_level,
                m.to_level,
                m.band
            );
        }
    }
    if apply_quota {
        if !view.enforced {
            bail!(
                "cycle {cycle_id} does not enforce its guidance; nothing was applied (the guidance is never a quota unless the cycle opts in)"
            );
        }
        let Some(by) = by else {
            bail!("say which committee member applies the quota with --by");
        };
        let events: Vec<Event> = view
            .forced_moves
            .iter()
            .map(|m| {
                let previous = proposed
                    .iter()
                    .find(|p| p.person_id == m.person_id)
                    .map_or(0.0, |p| p.score);
                Event::ScoreOverridden(OverrideRecord {
                    by: by.to_string(),
                    cycle_id: cycle_id.to_string(),
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
            .collect();
        let n = events.len();
        record(db, actor, events)?;
        say!("recorded {n} override(s)");
    }
    Ok(ExitCode::SUCCESS)
}

fn final_view(
    db: &str,
    cycle_id: &str,
    format: Format,
    policy: Option<PathBuf>,
) -> Result<ExitCode> {
    let policy: FinalPolicy = match &policy {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        }
        None => FinalPolicy::default(),
    };
    let state = load(db, cycle_id, false)?;
    let cycle = state.reviews.cycles[cycle_id].record.clone();
    let (engine, _) = super::credit::engine(
        db,
        Some(cycle.starts_on),
        Some(cycle.ends_on),
        valuetree_core::credit::Policy::default(),
    )?;
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
        bail!(
            "cycle {cycle_id} has no calibrated scores yet; run `valuetree calibrate --cycle {cycle_id}` first"
        );
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
    let tier = |b: Option<(usize, usize)>| {
        b.map_or(String::new(), |(r, v)| {
            format!("results {} / values {}", TIERS[r], TIERS[v])
        })
    };
    match format {
        Format::Csv => {
            say!("person_id,rating,credit,values_share,final,results_tier,values_tier");
            for (s, i) in scores.iter().zip(&inputs) {
                let (r, v) = s.nine_box.map_or(("", ""), |(r, v)| (TIERS[r], TIERS[v]));
                say!(
                    "{},{},{:.2},{},{:.4},{r},{v}",
                    s.person_id,
                    i.rating.map_or(String::new(), |x| format!("{x:.4}")),
                    i.credit.unwrap_or(0.0),
                    i.values_share.map_or(String::new(), |x| format!("{x:.4}")),
                    s.score
                );
            }
        }
        Format::Json => {
            let rows: Vec<serde_json::Value> = scores
                .iter()
                .zip(&inputs)
                .map(|(s, i)| serde_json::json!({
                    "person_id": s.person_id, "rating": i.rating, "credit": i.credit,
                    "values_share": i.values_share, "final": s.score,
                    "nine_box": s.nine_box.map(|(r, v)| serde_json::json!({"results": TIERS[r], "values": TIERS[v]})),
                    "explanation": s.explanation,
                }))
                .collect();
            say!(
                "{}",
                serde_json::to_string_pretty(
                    &serde_json::json!({ "cycle": cycle_id, "note": VALUES_NOTE, "people": rows })
                )?
            );
        }
        Format::Table => {
            say!(
                "final scores, cycle {cycle_id}: {:.2} × rating + {:.2} × credit + {:.2} × values (weights renormalised where a part is missing)",
                policy.rating_weight,
                policy.credit_weight,
                policy.values_weight
            );
            for s in &scores {
                say!(
                    "{:<32} {:>5.2}  {:<30} {}",
                    person_label(&state, &s.person_id),
                    s.score,
                    tier(s.nine_box),
                    s.explanation
                );
            }
            let mut grid = [[0usize; 3]; 3];
            for (r, v) in scores.iter().filter_map(|s| s.nine_box) {
                grid[r][v] += 1;
            }
            say!("9-box (rows: results high → low; columns: values low → high):");
            for r in (0..3).rev() {
                say!(
                    "  {:<7} {:>6} {:>6} {:>6}",
                    TIERS[r],
                    grid[r][0],
                    grid[r][1],
                    grid[r][2]
                );
            }
            say!("{VALUES_NOTE}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
