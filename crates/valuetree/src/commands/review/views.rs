//! What people see: reviewer suggestions, the ratee's feedback, the whole record.

use super::{VALUES_NOTE, known_person, load};
use crate::commands::labels::person_label;
use anyhow::Result;
use std::process::ExitCode;
use valuetree_core::review::feedback::feedback_for;
use valuetree_core::review::*;

pub(super) fn reviewers(db: &str, cycle_id: &str, person: &str, limit: usize) -> Result<ExitCode> {
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

pub(super) fn feedback(db: &str, cycle_id: &str, person: &str) -> Result<ExitCode> {
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

pub(super) fn joined_or(items: &[String], empty: &str) -> String {
    if items.is_empty() {
        empty.to_string()
    } else {
        items.join(", ")
    }
}

pub(super) fn person_record(db: &str, cycle_id: &str, person: &str) -> Result<ExitCode> {
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
