//! `valuetree demo`: a fixed-seed organisation loaded into an empty database, and its personas.

use anyhow::{Context, Result, bail};
use chrono::Datelike;
use std::process::ExitCode;
use valuetree_app::{Actor, App};
use valuetree_core::import::RecordBatch;
use valuetree_exchange::{Kind, parse_csv};
use valuetree_sim::SimConfig;
use valuetree_store::ImportSource;

/// The demo organisation: 2,000 people at a time (some 2,700 in all) over the three years up
/// to the month `today` falls in, so that "now" in the demo is now; always the same people
/// and work, its dates shifted to end where it is loaded.
pub fn demo_config(today: valuetree_core::NaiveDate) -> SimConfig {
    const YEARS: u32 = 3;
    let this_month = today.with_day(1).unwrap_or(today);
    SimConfig {
        people: 2_000,
        years: YEARS,
        seed: 2026,
        start: this_month
            .checked_sub_months(chrono::Months::new(YEARS * 12))
            .unwrap_or(this_month),
        describe_work: true,
        ..SimConfig::default()
    }
}

/// The ledger's head, `None` for an empty or missing database (the first write creates it).
pub fn head_or_empty(app: &App, actor: &Actor) -> Result<Option<valuetree_store::Head>> {
    match app.head(actor) {
        Ok(head) => Ok(head),
        Err(valuetree_app::AppError::NotFound { .. }) => Ok(None),
        Err(other) => Err(other.into()),
    }
}

/// Loads the demo organisation into an empty database; returns what was loaded.
pub fn load_demo(app: &App, actor: &Actor) -> Result<Loaded> {
    let dir = std::env::temp_dir().join(format!("valuetree-demo-{}", std::process::id()));
    let result = load(app, actor, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// What `load_demo` put in the database.
pub struct Loaded {
    pub summary: valuetree_sim::SimSummary,
    pub imported: valuetree_store::ImportSummary,
    pub last_cycle: Option<String>,
}

pub fn run(app: &App, actor: &Actor) -> Result<ExitCode> {
    valuetree_app::authz::administer(actor)?;
    if let Some(head) = head_or_empty(app, actor)? {
        bail!(
            "the database {} already holds {} events; the demo loads into an empty database only \
             (use another one, e.g. `valuetree --db demo.db demo`)",
            app.location(),
            head.seq
        );
    }
    let Loaded {
        summary,
        imported,
        last_cycle,
    } = load_demo(app, actor)?;
    report(app, &summary, &imported, last_cycle)
}

fn load(app: &App, actor: &Actor, dir: &std::path::Path) -> Result<Loaded> {
    let summary = super::sim::write(&demo_config(app.today()), dir)?;
    let mut batches: Vec<(String, ImportSource)> = Vec::new();
    for kind in Kind::ALL {
        let path = dir.join(kind.file_name());
        if !path.exists() {
            // The simulator writes no peer points.
            continue;
        }
        let file = std::fs::File::open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let batch = parse_csv(kind, std::io::BufReader::new(file)).map_err(|errors| {
            anyhow::anyhow!("the demo data is invalid ({}): {:?}", kind, errors.first())
        })?;
        batches.push((kind.file_name(), ImportSource::Whole(batch)));
    }
    let total = batches
        .iter()
        .map(|(_, b)| match b {
            ImportSource::Whole(batch) | ImportSource::Partly(batch, _) => batch.len() as u64,
            ImportSource::Chunks { estimated_rows, .. } => *estimated_rows,
        })
        .sum();
    let bar = crate::progress::bar(total, "loading");
    let last_cycle = batches.iter().find_map(|(_, batch)| match batch {
        ImportSource::Whole(RecordBatch::Cycles(rows)) => {
            rows.last().map(|r| r.record.cycle_id.clone())
        }
        _ => None,
    });
    let ticks = bar.clone();
    let imported = app.import_files(actor, batches, move |n| ticks.inc(n));
    bar.finish_and_clear();
    let imported = imported?;
    Ok(Loaded {
        summary,
        imported,
        last_cycle,
    })
}

fn report(
    app: &App,
    summary: &valuetree_sim::SimSummary,
    imported: &valuetree_store::ImportSummary,
    last_cycle: Option<String>,
) -> Result<ExitCode> {
    say!(
        "loaded the demo organisation into {}: {} people, {} units, {} nodes, {} contributions, {} ratings in its review cycles; {} events, head {}",
        app.location(),
        summary.people,
        summary.units,
        summary.nodes,
        summary.contributions,
        summary.ratings,
        imported.events,
        imported
            .head
            .as_ref()
            .map_or(String::new(), ToString::to_string)
    );
    say!("\npersonas:");
    for persona in &summary.personas {
        say!(
            "  {:<9} {}  {}",
            persona.role,
            persona.person_id,
            persona.story
        );
    }
    let db = app.location();
    let employee = summary
        .personas
        .first()
        .map_or("P0000001", |p| p.person_id.as_str());
    say!("\ntry: valuetree --db {db} show person {employee}");
    if let Some(cycle) = last_cycle {
        say!("     valuetree --db {db} calibrate --cycle {cycle} > /dev/null");
        say!("     valuetree --db {db} calibrate --cycle {cycle} --dimension values > /dev/null");
        say!("     valuetree --db {db} review --cycle {cycle} feedback {employee}");
        say!("     valuetree --db {db} review --cycle {cycle} session");
        say!("     valuetree --db {db} review --cycle {cycle} final");
    }
    Ok(ExitCode::SUCCESS)
}
