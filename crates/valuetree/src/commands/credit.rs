//! `valuetree credit` and `valuetree payout`.

use crate::{open_store, parse_date};
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use valuetree_core::NaiveDate;
use valuetree_core::credit::{Engine, PayoutInput, PayoutPolicy, Policy, date_of, payout};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

#[derive(Args, Debug)]
#[command(after_help = "\
The default policy (docs/credit.md), each number configurable in a TOML file given to --policy:
  phase_weights.{discover,design,build,launch,operate} = 0.15, 0.20, 0.35, 0.15, 0.15
  confirmation.{confirmed,unconfirmed,retracted}        = 1.0, 0.5, 0.0
  half_life_days = 0        (0: no time decay)
  max_share_per_node = 1.0  (1: no cap on one person's share of a node)
  peer_factor = 0           (0: no peer allocation; f: share f of each pool by the peer points
                             its contributors received, see `valuetree import peer_points`)

Example: valuetree credit --from 2024-01-01 --to 2024-12-31 --person P02 --explain")]
pub struct CreditArgs {
    /// Count outcomes dated on or after this day.
    #[arg(long, value_parser = parse_date)]
    from: Option<NaiveDate>,
    /// Count outcomes dated on or before this day.
    #[arg(long, value_parser = parse_date)]
    to: Option<NaiveDate>,
    /// Only this person (with the nodes their credit came from).
    #[arg(long)]
    person: Option<String>,
    /// Only the credit distributed at this node (and its unattributed value).
    #[arg(long)]
    node: Option<String>,
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Itemise each person's credit: node, phase, effort, outcome.
    #[arg(long)]
    explain: bool,
    /// A TOML file with the attribution policy.
    #[arg(long)]
    policy: Option<PathBuf>,
}

pub fn load_policy(path: Option<&PathBuf>) -> Result<Policy> {
    let Some(path) = path else {
        return Ok(Policy::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the policy file {}", path.display()))?;
    let policy: Policy =
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    policy
        .validate()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(policy)
}

pub(crate) fn engine(
    db: &str,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    policy: Policy,
) -> Result<(Engine, HashMap<String, String>)> {
    let mut store = open_store(db)?;
    let data = store.credit_data(from, to)?;
    let names = store.person_names()?;
    Ok((Engine::new(data, policy)?, names))
}

fn quote_csv(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

pub fn run(db: &str, args: CreditArgs) -> Result<ExitCode> {
    let policy = load_policy(args.policy.as_ref())?;
    let (engine, names) = engine(db, args.from, args.to, policy)?;
    let name = |p: u32| {
        names
            .get(&engine.people()[p as usize])
            .cloned()
            .unwrap_or_default()
    };
    let node_index = |id: &str| {
        engine
            .nodes()
            .iter()
            .position(|n| n.id == id)
            .map(|i| i as u32)
    };
    let person_filter = match &args.person {
        Some(id) => match engine.people().iter().position(|p| p == id) {
            Some(i) => Some(i as u32),
            None if names.contains_key(id) => None,
            None => bail!("unknown person {id}"),
        },
        None => None,
    };
    if args.person.is_some() && person_filter.is_none() {
        say!(
            "{} has no contributions: no credit",
            args.person.as_deref().unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    // Rows: (person, credit) — from the whole tree, or from one node.
    let mut rows: Vec<(u32, f64)> = match &args.node {
        Some(id) => {
            engine.node_allocation(node_index(id).with_context(|| format!("unknown node {id}"))?)
        }
        None => (0..engine.people().len() as u32)
            .map(|p| (p, engine.credit(p)))
            .filter(|(_, c)| *c > 0.0)
            .collect(),
    };
    if let Some(p) = person_filter {
        rows.retain(|(q, _)| *q == p);
        if rows.is_empty() {
            rows.push((p, 0.0));
        }
    }
    rows.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then(engine.people()[a.0 as usize].cmp(&engine.people()[b.0 as usize]))
    });
    let (value, credited, unattributed) = match &args.node {
        Some(id) => {
            let (c, u) = engine.node_totals(node_index(id).unwrap_or(0));
            (c + u, c, u)
        }
        None => (
            engine.total_value(),
            engine.total_credited(),
            engine.total_unattributed(),
        ),
    };
    match args.format {
        Format::Csv => {
            say!("person_id,name,credit");
            for (p, c) in &rows {
                say!(
                    "{},{},{c:.6}",
                    quote_csv(&engine.people()[*p as usize]),
                    quote_csv(&name(*p))
                );
            }
        }
        Format::Json => {
            // Each node is shared once; the per-person breakdown is gathered from that.
            let listed: std::collections::HashSet<u32> = rows.iter().map(|(p, _)| *p).collect();
            let mut by_person: HashMap<u32, Vec<serde_json::Value>> = HashMap::new();
            for v in 0..engine.nodes().len() as u32 {
                for (p, c) in engine.node_allocation(v) {
                    if listed.contains(&p) && c > 0.0 {
                        by_person
                            .entry(p)
                            .or_default()
                            .push(serde_json::json!({ "node_id": engine.nodes()[v as usize].id, "credit": c }));
                    }
                }
            }
            let people: Vec<serde_json::Value> = rows
                .iter()
                .map(|(p, c)| {
                    let nodes = by_person.remove(p).unwrap_or_default();
                    serde_json::json!({ "person_id": engine.people()[*p as usize], "name": name(*p), "credit": c, "nodes": nodes })
                })
                .collect();
            let nodes: Vec<serde_json::Value> = (0..engine.nodes().len() as u32)
                .filter(|v| args.node.as_deref().is_none_or(|id| engine.nodes()[*v as usize].id == id))
                .filter_map(|v| {
                    let (c, u) = engine.node_totals(v);
                    (c + u > 0.0).then(|| {
                        let n = &engine.nodes()[v as usize];
                        serde_json::json!({ "node_id": n.id, "title": n.title, "credited": c, "unattributed": u })
                    })
                })
                .collect();
            let report = serde_json::json!({
                "from": args.from, "to": args.to,
                "value_realised": value, "credited": credited, "unattributed": unattributed,
                "people": people, "nodes": nodes,
            });
            say!("{}", serde_json::to_string_pretty(&report)?);
        }
        Format::Table => {
            say!(
                "value realised {value:.2}: credited {credited:.2}, unattributed {unattributed:.2} ({} outcomes{})",
                engine.outcomes().len(),
                match (args.from, args.to) {
                    (None, None) => String::new(),
                    (f, t) => format!(
                        ", {} – {}",
                        f.map_or("start".into(), |d| d.to_string()),
                        t.map_or("now".into(), |d| d.to_string())
                    ),
                }
            );
            say!("{:>12}  {:>6}  person", "credit", "share");
            for (p, c) in &rows {
                let share = if credited > 0.0 {
                    100.0 * c / credited
                } else {
                    0.0
                };
                say!(
                    "{c:>12.2}  {share:>5.1}%  {} ({})",
                    name(*p),
                    engine.people()[*p as usize]
                );
            }
        }
    }
    if args.explain {
        let wanted: std::collections::HashSet<u32> = rows.iter().map(|(p, _)| *p).collect();
        let only_node = args.node.as_deref().and_then(node_index);
        say!("");
        for line in engine.explain(&|p| wanted.contains(&p)) {
            if only_node.is_some_and(|v| v != line.node) {
                continue;
            }
            let node = &engine.nodes()[line.node as usize];
            let outcome = &engine.outcomes()[line.outcome as usize];
            let peer = if line.phase_points > 0.0 {
                format!(" and {} of {} peer points", line.points, line.phase_points)
            } else {
                String::new()
            };
            say!(
                "{} ({}): {:.2} from {} \"{}\": phase {}, {} of {} effort units{peer}, outcome {} on {}",
                name(line.person),
                engine.people()[line.person as usize],
                line.amount,
                node.id,
                node.title,
                line.phase,
                line.effort,
                line.phase_effort,
                outcome.id,
                date_of(outcome.date)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum PayoutKind {
    Balanced,
    Immediate,
}

#[derive(Args, Debug)]
#[command(after_help = "\
immediate: the budget is shared by the credit of outcomes in the period.
balanced:  each person moves toward their share of everything paid so far plus this budget,
           by their lifetime credit (outcomes up to --to), net of what they were already paid
           (--paid): early work that bears fruit late is paid late, not never.")]
pub struct PayoutArgs {
    /// The reward budget to share.
    #[arg(long)]
    budget: f64,
    #[arg(long, value_parser = parse_date)]
    from: NaiveDate,
    #[arg(long, value_parser = parse_date)]
    to: NaiveDate,
    #[arg(long, value_enum)]
    policy: PayoutKind,
    /// CSV of earlier payouts (`person_id,paid`), for the balanced policy.
    #[arg(long)]
    paid: Option<PathBuf>,
    /// A TOML file with the attribution policy.
    #[arg(long)]
    credit_policy: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

fn read_paid(path: &PathBuf) -> Result<HashMap<String, f64>> {
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    let headers = reader.headers()?.clone();
    let (Some(id), Some(paid)) = (
        headers.iter().position(|h| h == "person_id"),
        headers.iter().position(|h| h == "paid"),
    ) else {
        bail!(
            "{}: line 1: the columns must include person_id and paid",
            path.display()
        );
    };
    let mut out = HashMap::new();
    for record in reader.records() {
        let record = record?;
        let line = record.position().map_or(0, |p| p.line());
        let amount: f64 = record.get(paid).unwrap_or("").trim().parse().map_err(|_| {
            anyhow::anyhow!("{}: line {line}, column paid: not a number", path.display())
        })?;
        *out.entry(record.get(id).unwrap_or("").to_string())
            .or_default() += amount;
    }
    Ok(out)
}

pub fn payout_run(db: &str, args: PayoutArgs) -> Result<ExitCode> {
    if !(args.budget.is_finite() && args.budget >= 0.0) {
        bail!("--budget must be a number of zero or more");
    }
    if args.from > args.to {
        bail!("--from {} is after --to {}", args.from, args.to);
    }
    let policy = load_policy(args.credit_policy.as_ref())?;
    let (period, names) = engine(db, Some(args.from), Some(args.to), policy.clone())?;
    let (lifetime, _) = engine(db, None, Some(args.to), policy)?;
    let paid = match &args.paid {
        Some(path) => read_paid(path)?,
        None => HashMap::new(),
    };
    let in_period: HashMap<&str, u32> = period
        .people()
        .iter()
        .enumerate()
        .map(|(i, p)| (p.as_str(), i as u32))
        .collect();
    let inputs: Vec<PayoutInput> = lifetime
        .people()
        .iter()
        .enumerate()
        .map(|(i, id)| PayoutInput {
            person: id.clone(),
            period_credit: in_period
                .get(id.as_str())
                .map_or(0.0, |j| period.credit(*j)),
            lifetime_credit: lifetime.credit(i as u32),
            paid: paid.get(id).copied().unwrap_or(0.0),
        })
        .collect();
    let kind = match args.policy {
        PayoutKind::Balanced => PayoutPolicy::Balanced,
        PayoutKind::Immediate => PayoutPolicy::Immediate,
    };
    let mut amounts: Vec<(String, f64)> = payout(&inputs, args.budget, kind)
        .into_iter()
        .filter(|(_, a)| *a > 0.0)
        .collect();
    amounts.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let name = |id: &str| names.get(id).cloned().unwrap_or_default();
    match args.format {
        Format::Csv => {
            say!("person_id,name,payout");
            for (id, a) in &amounts {
                say!("{},{},{a:.2}", quote_csv(id), quote_csv(&name(id)));
            }
        }
        Format::Json => {
            let rows: Vec<serde_json::Value> = amounts
                .iter()
                .map(
                    |(id, a)| serde_json::json!({ "person_id": id, "name": name(id), "payout": a }),
                )
                .collect();
            say!(
                "{}",
                serde_json::to_string_pretty(
                    &serde_json::json!({ "budget": args.budget, "payouts": rows })
                )?
            );
        }
        Format::Table => {
            say!(
                "payout of {:.2} ({:?}) for {} – {}",
                args.budget,
                args.policy,
                args.from,
                args.to
            );
            for (id, a) in &amounts {
                say!("{a:>12.2}  {} ({id})", name(id));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
