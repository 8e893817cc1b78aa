//! `valuetree cycle open|phase|list|show`: review cycles and their phases.

use super::render::{self, Format, ViewFormat};
use crate::parse_date;
use anyhow::Result;
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;
use valuetree_app::queries::CycleView;
use valuetree_app::{Actor, App};
use valuetree_core::NaiveDate;
use valuetree_core::review::CyclePhase;

#[derive(Subcommand, Debug)]
pub enum CycleCommand {
    /// Open a review cycle (default settings: 1–5 scale, results 50% / values 50%, anonymity
    /// from 3 raters, guidance top 30% / middle 60% / bottom 10% shown but not enforced,
    /// 5 values × 4 behaviours, at least 3 kinds of reviewers).
    #[command(after_help = "\
A settings file (TOML) may set any of: name, scale (list of level labels), dimensions
([[dimensions]] name, weight), deadlines ([[deadlines]] phase, due_on as a quoted date), anonymity_threshold
(>= 3), attributed_comments, guidance ([[guidance]] label, levels, share; shares add up to 1),
enforce_guidance, behaviours ([[behaviours]] value, behaviour), committee (person ids),
min_sources, phase (the phase to open in). Settings never change once a cycle is open.")]
    Open {
        /// The new cycle's id (e.g. 2025H1).
        id: String,
        /// First day of the period under review.
        #[arg(long, value_parser = parse_date)]
        from: NaiveDate,
        /// Last day of the period under review.
        #[arg(long, value_parser = parse_date)]
        to: NaiveDate,
        /// Its name (default: the id).
        #[arg(long)]
        name: Option<String>,
        /// Settings (TOML) overriding the defaults.
        #[arg(long)]
        settings: Option<PathBuf>,
    },
    /// Move a cycle to a later phase: goals → self_review → review → calibration → finalised.
    Phase {
        /// The cycle.
        id: String,
        /// The phase to move it to: goals, self_review, review, calibration or finalised.
        phase: CyclePhase,
        /// The day the phase starts (default: today).
        #[arg(long, value_parser = parse_date)]
        on: Option<NaiveDate>,
    },
    /// Every cycle, with its period and phase.
    List {
        /// How to print the list.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// A cycle's settings, deadlines and progress.
    Show {
        /// The cycle.
        id: String,
        /// How to print it.
        #[arg(long, value_enum, default_value = "table")]
        format: ViewFormat,
    },
}

fn receipt_note(receipt: &valuetree_app::Receipt) -> String {
    receipt
        .seq
        .map_or(String::new(), |seq| format!("; event {seq}"))
}

pub fn run(app: &App, actor: &Actor, command: CycleCommand) -> Result<ExitCode> {
    match command {
        CycleCommand::Open {
            id,
            from,
            to,
            name,
            settings,
        } => {
            let settings = crate::settings_file(settings.as_ref())?;
            let cycle = valuetree_app::settings::cycle_record(
                &id,
                from,
                to,
                name,
                settings.as_ref().map(|(s, t)| (s.as_str(), t.as_str())),
            )?;
            let phase = cycle.phase;
            let receipt = app.open_cycle(actor, cycle)?;
            say!(
                "opened cycle {id} ({from} to {to}) in phase {phase}{}",
                receipt_note(&receipt)
            );
        }
        CycleCommand::Phase { id, phase, on } => {
            let receipt = app.move_cycle(actor, &id, phase, on)?;
            let on = on.unwrap_or_else(|| app.today());
            say!(
                "cycle {id} is in phase {phase} from {on}{}",
                receipt_note(&receipt)
            );
        }
        CycleCommand::List { format } => {
            let cycles = app.cycles(actor)?;
            match format {
                Format::Json => return render::json(&cycles),
                Format::Csv => {
                    render::csv_line(&["cycle_id", "name", "starts_on", "ends_on", "phase"]);
                    for c in &cycles {
                        render::csv_line(&[
                            c.cycle_id.clone(),
                            c.name.clone(),
                            c.starts_on.to_string(),
                            c.ends_on.to_string(),
                            c.phase.to_string(),
                        ]);
                    }
                }
                Format::Table => {
                    if cycles.is_empty() {
                        say!("no review cycles yet; open one with `valuetree cycle open`");
                    }
                    for c in &cycles {
                        say!(
                            "{:<12} {} to {}  {:<12} {}",
                            c.cycle_id,
                            c.starts_on,
                            c.ends_on,
                            c.phase.as_str(),
                            c.name
                        );
                    }
                }
            }
        }
        CycleCommand::Show { id, format } => {
            let view = app.cycle(actor, &id)?;
            match format {
                ViewFormat::Json => return render::json(&view),
                ViewFormat::Table => show(&view),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn show(view: &CycleView) {
    let r = &view.cycle;
    say!(
        "cycle {}: {} ({} to {})",
        r.cycle_id,
        r.name,
        r.starts_on,
        r.ends_on
    );
    say!("phase: {}", view.phase);
    for d in &r.deadlines {
        say!("  {} due {}", d.phase, d.due_on);
    }
    let scale: Vec<String> = r
        .scale
        .iter()
        .enumerate()
        .map(|(i, label)| format!("{} {label}", i + 1))
        .collect();
    say!("scale: {}", scale.join(", "));
    let dims: Vec<String> = r
        .dimensions
        .iter()
        .map(|d| format!("{} {:.0}%", d.name, d.weight.value() * 100.0))
        .collect();
    say!("dimensions: {}", dims.join(", "));
    let bands: Vec<String> = r
        .guidance
        .iter()
        .map(|b| {
            let levels: Vec<String> = b.levels.iter().map(u32::to_string).collect();
            format!(
                "{} (levels {}) {:.0}%",
                b.label,
                levels.join(","),
                b.share.value() * 100.0
            )
        })
        .collect();
    say!(
        "guidance: {} — {}",
        bands.join(", "),
        if r.enforce_guidance {
            "ENFORCED as a forced distribution (this cycle opts in; every move is logged)"
        } else {
            "shown as guidance, never enforced"
        }
    );
    say!(
        "anonymity: peer feedback shown from {} raters; comments {}",
        r.anonymity_threshold,
        if r.attributed_comments {
            "attributed"
        } else {
            "unattributed"
        }
    );
    say!(
        "values: {} behaviours under {} values; reviewers from at least {} kinds of source",
        r.behaviours.len(),
        r.behaviours
            .iter()
            .map(|b| b.value.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        r.min_sources
    );
    if !r.committee.is_empty() {
        say!("calibration committee: {}", r.committee.join(", "));
    }
    say!(
        "progress: {} goals, {} submitted ratings, {} drafts, {} calibrated scores, {} committee overrides",
        view.goals,
        view.submitted_ratings,
        view.draft_ratings,
        view.calibrated_scores,
        view.overrides
    );
}
