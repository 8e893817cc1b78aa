//! `valuetree demo`: a fixed-seed organisation loaded into an empty database, and its personas.

use crate::open_store;
use anyhow::{Context, Result, bail};
use std::process::ExitCode;
use valuetree_core::import::RecordBatch;
use valuetree_exchange::{Kind, parse_csv};
use valuetree_sim::SimConfig;

/// The demo organisation: about 2,000 people over three years, always the same.
pub fn demo_config() -> SimConfig {
    SimConfig {
        people: 2_000,
        years: 3,
        seed: 2026,
        ..SimConfig::default()
    }
}

pub fn run(db: &str, actor: &str) -> Result<ExitCode> {
    let mut store = open_store(db)?;
    if let Some(head) = store.head()? {
        bail!(
            "the database {} already holds {} events; the demo loads into an empty database only \
             (use another one, e.g. `valuetree --db demo.db demo`)",
            store.location(),
            head.seq
        );
    }
    let dir = std::env::temp_dir().join(format!("valuetree-demo-{}", std::process::id()));
    let result = load(&mut store, actor, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn load(
    store: &mut valuetree_store::Store,
    actor: &str,
    dir: &std::path::Path,
) -> Result<ExitCode> {
    let summary = super::sim::write(&demo_config(), dir)?;
    let mut batches: Vec<(String, RecordBatch)> = Vec::new();
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
        batches.push((kind.file_name(), batch));
    }
    let total = batches.iter().map(|(_, b)| b.len() as u64).sum();
    let bar = crate::progress::bar(total, "loading");
    let last_cycle = batches.iter().find_map(|(_, batch)| match batch {
        RecordBatch::Cycles(rows) => rows.last().map(|r| r.record.cycle_id.clone()),
        _ => None,
    });
    let imported = store.import_records(batches, actor, &mut |n| bar.inc(n));
    bar.finish_and_clear();
    let imported = imported?;
    say!(
        "loaded the demo organisation into {}: {} people, {} units, {} nodes, {} contributions, {} ratings in its review cycles; {} events, head {}",
        store.location(),
        summary.people,
        summary.units,
        summary.nodes,
        summary.contributions,
        summary.ratings,
        imported.events,
        imported.head.map_or(String::new(), |h| h.to_string())
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
    let db = store.location();
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
