//! What people see: reviewer suggestions, the ratee's feedback, the whole record.

use crate::commands::render::{self, ViewFormat};
use anyhow::Result;
use std::collections::BTreeMap;
use std::process::ExitCode;
use valuetree_app::queries::{CycleRecordView, FeedbackReport, ReviewersView, VALUES_NOTE};
use valuetree_core::review::*;

/// "Name (ID)" from a view's names, or just the id.
pub(super) fn named(names: &BTreeMap<String, String>, id: &str) -> String {
    match names.get(id) {
        Some(name) => format!("{name} ({id})"),
        None => id.to_string(),
    }
}

pub(super) fn reviewers(view: &ReviewersView, format: ViewFormat) -> Result<ExitCode> {
    if format == ViewFormat::Json {
        return render::json(view);
    }
    let person_label = |id: &str| named(&view.names, id);
    let found = &view.suggestions;
    say!(
        "reviewers for {} in cycle {} ({} to {}):",
        render::person(&view.person),
        view.cycle_id,
        view.starts_on,
        view.ends_on
    );
    for (i, s) in found.reviewers.iter().enumerate() {
        say!(
            "{:>2}. {} — {}",
            i + 1,
            person_label(&s.reviewer_id),
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
                person_label(&s.reviewer_id),
                s.relationship,
                s.reasons.last().map_or(String::new(), ToString::to_string)
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

pub(super) fn feedback(report: &FeedbackReport, format: ViewFormat) -> Result<ExitCode> {
    if format == ViewFormat::Json {
        return render::json(report);
    }
    let person_label = |id: &str| named(&report.names, id);
    let view = &report.feedback;
    say!(
        "feedback for {} in cycle {}",
        render::person(&report.person),
        report.cycle_id
    );
    if view.groups.is_empty() && view.withheld_ratings == 0 {
        say!("  no submitted ratings yet");
    }
    for g in &view.groups {
        let who = match &g.rater {
            Some(rater) => format!("{} — {}", g.label, person_label(rater)),
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
                    say!("      “{text}” — {}", person_label(a))
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

pub(super) fn person_record(view: &CycleRecordView, format: ViewFormat) -> Result<ExitCode> {
    if format == ViewFormat::Json {
        return render::json(view);
    }
    let person_label = |id: &str| named(&view.names, id);
    let cycle_id = &view.cycle_id;
    say!(
        "{} in cycle {cycle_id} ({} to {})",
        render::person(&view.person),
        view.starts_on,
        view.ends_on
    );
    let managers: Vec<String> = view
        .managers
        .iter()
        .map(|(m, days)| format!("{} for {days} days", render::person(m)))
        .collect();
    say!("managers in the period: {}", joined_or(&managers, "none"));
    say!("goals:");
    for g in &view.goals {
        let goal = &g.goal;
        say!(
            "  {} “{}” on node {}",
            goal.goal_id,
            goal.title,
            goal.node_id
        );
        for kr in &goal.key_results {
            let actuals: Vec<String> = g
                .measurements
                .iter()
                .filter(|m| m.metric == kr.metric)
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
    for e in &view.self_review {
        say!("  [{}] {}: {}", e.circle, e.contribution_id, e.text);
    }
    for e in &view.built_on {
        say!(
            "  [built on your work] {} built on {} in cycle {}: {}",
            person_label(&e.person_id),
            e.contribution_id,
            e.cycle_id,
            e.text
        );
    }
    say!(
        "values: {} of {} behaviours met{}",
        view.behaviours.iter().filter(|b| b.met).count(),
        view.behaviours_total,
        if view.behaviours.is_empty() {
            " (not assessed yet)"
        } else {
            ""
        }
    );
    for b in &view.behaviours {
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
    say!("ratings (every one, whoever the manager is now):");
    for r in &view.ratings {
        say!(
            "  {} {} by {} ({}){}{}",
            r.dimension,
            r.score,
            render::person(&r.rater),
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
    match (&view.calibrated, &view.override_) {
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
                    person_label(&o.by),
                    o.reason
                );
            }
        }
        (None, _) => say!("calibrated: not yet (`valuetree calibrate --cycle {cycle_id}`)"),
    }
    Ok(ExitCode::SUCCESS)
}
