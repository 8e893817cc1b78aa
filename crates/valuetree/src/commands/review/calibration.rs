//! The calibration session and the final score.

use super::views::named;
use crate::commands::render::{self, Format, ViewFormat};
use anyhow::Result;
use std::process::ExitCode;
use valuetree_core::review::final_score::{FinalInput, TIERS};
use valuetree_core::review::*;

pub(super) fn session_view(
    app: &valuetree_app::App,
    actor: &valuetree_app::Actor,
    cycle_id: &str,
    apply_quota: bool,
    by: Option<&str>,
    format: ViewFormat,
) -> Result<ExitCode> {
    let report = app.session(actor, cycle_id)?;
    if format == ViewFormat::Json && !apply_quota {
        return render::json(&report);
    }
    let person_label = |id: &str| named(&report.names, id);
    let view = &report.session;
    say!(
        "calibration session, cycle {cycle_id} (phase {}): {} people",
        report.phase,
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
            person_label(&a.manager_id),
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
                person_label(&m.person_id),
                m.rank,
                m.from_level,
                m.to_level,
                m.band
            );
        }
    }
    if apply_quota {
        let receipt = app.apply_quota(actor, cycle_id, by)?;
        say!("recorded {} override(s)", receipt.events.len());
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn final_view(
    report: &valuetree_app::queries::FinalReport,
    format: Format,
) -> Result<ExitCode> {
    let cycle_id = report.cycle_id.as_str();
    let policy = &report.policy;
    let scores: Vec<&valuetree_core::review::final_score::FinalScore> =
        report.people.iter().map(|r| &r.score).collect();
    let inputs: Vec<FinalInput> = report
        .people
        .iter()
        .map(|r| FinalInput {
            person_id: r.person.person_id.clone(),
            rating: r.rating,
            credit: r.credit,
            values_share: r.values_share,
            values_rating: None,
        })
        .collect();
    let tier = |b: Option<(usize, usize)>| {
        b.map_or(String::new(), |(r, v)| {
            format!("results {} / values {}", TIERS[r], TIERS[v])
        })
    };
    match format {
        Format::Csv => {
            say!("person_id,rating,credit,values_share,final,results_tier,values_tier");
            for (s, i) in scores.iter().copied().zip(&inputs) {
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
        Format::Json => return render::json(report),
        Format::Table => {
            say!(
                "final scores, cycle {cycle_id}: {:.2} × rating + {:.2} × credit + {:.2} × values (weights renormalised where a part is missing)",
                policy.rating_weight,
                policy.credit_weight,
                policy.values_weight
            );
            // Columns as wide as their widest entry (a tier column of blanks takes none).
            let names: Vec<String> = report
                .people
                .iter()
                .map(|row| render::person(&row.person))
                .collect();
            let tiers: Vec<String> = report
                .people
                .iter()
                .map(|row| tier(row.score.nine_box))
                .collect();
            let name_width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
            let tier_width = tiers.iter().map(|t| t.chars().count()).max().unwrap_or(0);
            for ((row, name), tier) in report.people.iter().zip(&names).zip(&tiers) {
                let s = &row.score;
                let tier = if tier_width == 0 {
                    String::new()
                } else {
                    format!("  {tier:<tier_width$}")
                };
                say!(
                    "{name:<name_width$}  {:>5.2}{tier}  {}",
                    s.score,
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
            say!("{}", report.note);
        }
    }
    // On standard error in every format (the JSON carries them too).
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(ExitCode::SUCCESS)
}
