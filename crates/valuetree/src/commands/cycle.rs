//! `valuetree cycle open|phase|list|show`: review cycles and their phases.

use super::record::record;
use crate::{open_store, parse_date};
use anyhow::Result;
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;
use valuetree_core::NaiveDate;
use valuetree_core::event::Event;
use valuetree_core::review::CyclePhase;
use valuetree_store::Preload;

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
        id: String,
        /// First day of the period under review.
        #[arg(long, value_parser = parse_date)]
        from: NaiveDate,
        /// Last day of the period under review.
        #[arg(long, value_parser = parse_date)]
        to: NaiveDate,
        #[arg(long)]
        name: Option<String>,
        /// Settings (TOML) overriding the defaults.
        #[arg(long)]
        settings: Option<PathBuf>,
    },
    /// Move a cycle to a later phase: goals → self_review → review → calibration → finalised.
    Phase {
        id: String,
        phase: CyclePhase,
        /// The day the phase starts (default: today).
        #[arg(long, value_parser = parse_date)]
        on: Option<NaiveDate>,
    },
    /// Every cycle, with its period and phase.
    List,
    /// A cycle's settings, deadlines and progress.
    Show { id: String },
}

pub fn run(db: &str, actor: &str, command: CycleCommand) -> Result<ExitCode> {
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
            let head = record(db, actor, vec![Event::CycleOpened(cycle.clone())])?;
            say!(
                "opened cycle {id} ({from} to {to}) in phase {}{}",
                cycle.phase,
                head.map_or(String::new(), |h| format!("; event {}", h.seq))
            );
        }
        CycleCommand::Phase { id, phase, on } => {
            let effective_on = match on {
                Some(day) => day,
                None => crate::clock()?.today(),
            };
            record(
                db,
                actor,
                vec![Event::CyclePhaseChanged {
                    cycle_id: id.clone(),
                    effective_on,
                    phase,
                }],
            )?;
            say!("cycle {id} is in phase {phase} from {effective_on}");
        }
        CycleCommand::List => {
            let mut store = open_store(db)?;
            let state = store.load_state(&Preload::None)?;
            if state.reviews.cycles.is_empty() {
                say!("no review cycles yet; open one with `valuetree cycle open`");
            }
            for (id, c) in &state.reviews.cycles {
                say!(
                    "{id:<12} {} to {}  {:<12} {}",
                    c.record.starts_on,
                    c.record.ends_on,
                    c.phase.as_str(),
                    c.record.name
                );
            }
        }
        CycleCommand::Show { id } => show(db, &id)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn show(db: &str, id: &str) -> Result<()> {
    let mut store = open_store(db)?;
    let state = store.load_state(&Preload::Ids {
        contributions: Vec::new(),
        outcomes: Vec::new(),
        cycles: vec![id.to_string()],
    })?;
    let cycle = state.cycle(id).map_err(|r| anyhow::anyhow!("{r}"))?;
    let r = &cycle.record;
    say!("cycle {id}: {} ({} to {})", r.name, r.starts_on, r.ends_on);
    say!("phase: {}", cycle.phase);
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
    let (mut submitted, mut drafts) = (0, 0);
    for rating in state.reviews.ratings.values() {
        if rating.status == valuetree_core::review::RatingStatus::Submitted {
            submitted += 1;
        } else {
            drafts += 1;
        }
    }
    let goals = state
        .reviews
        .goals
        .values()
        .filter(|g| g.cycle_id == id)
        .count();
    let calibrated = state.reviews.scores.len();
    let overrides = state.reviews.overrides.keys().filter(|k| k.0 == id).count();
    say!(
        "progress: {goals} goals, {submitted} submitted ratings, {drafts} drafts, {calibrated} calibrated scores, {overrides} committee overrides"
    );
    Ok(())
}
