//! `valuetree credit` and `valuetree payout`.

use crate::commands::render::{self, Format};
use crate::parse_date;
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use valuetree_app::queries::{CreditLine, CreditQuery};
use valuetree_app::{Actor, App};
use valuetree_core::NaiveDate;
use valuetree_core::credit::{PayoutPolicy, Policy};

#[derive(Args, Debug)]
#[command(after_help = "\
The policy in force is the one recorded with `valuetree policy set credit FILE`, else the
default (docs/credit.md); --policy FILE computes with another one instead (a what-if). Settings:
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
    /// How to print it.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Itemise each person's credit: node, phase, effort, outcome.
    #[arg(long)]
    explain: bool,
    /// Compute with the attribution policy in this TOML file instead of the one in force.
    #[arg(long)]
    policy: Option<PathBuf>,
}

/// The attribution policy of `--policy FILE` (a what-if), or `None`: the one in force.
pub fn load_policy(path: Option<&PathBuf>) -> Result<Option<Policy>> {
    let Some((name, text)) = crate::settings_file(path)? else {
        return Ok(None);
    };
    Ok(Some(valuetree_app::settings::credit_policy(Some((
        name.as_str(),
        text.as_str(),
    )))?))
}

/// One line of `--explain`, in words.
pub(crate) fn explain_line(line: &CreditLine) -> String {
    let peer = if line.phase_points > 0.0 {
        format!(" and {} of {} peer points", line.points, line.phase_points)
    } else {
        String::new()
    };
    // The arithmetic, in the order it happens: what of the outcome stays at the node, the
    // phase's pool of that, the person's share of the pool.
    let share = if line.phase_pool > 0.0 {
        100.0 * line.amount / line.phase_pool
    } else {
        0.0
    };
    format!(
        "{}: {:.2} from {} \"{}\", outcome {} on {}: {:.2} stays at the node, {:.2} of it for the {} phase, {:.1}% of that for {} of {} effort units{peer}",
        render::person(&line.person),
        line.amount,
        line.node.node_id,
        line.node.title,
        line.outcome_id,
        line.outcome_date,
        line.node_value,
        line.phase_pool,
        line.phase,
        share,
        line.effort,
        line.phase_effort,
    )
}

pub fn run(app: &App, actor: &Actor, args: CreditArgs) -> Result<ExitCode> {
    let query = CreditQuery {
        from: args.from,
        to: args.to,
        person: args.person.clone(),
        node: args.node.clone(),
        explain: args.explain,
        by_node: matches!(args.format, Format::Json),
        policy: load_policy(args.policy.as_ref())?,
        page: None,
    };
    let report = app.credit_report(actor, &query)?;
    if let Some(id) = &args.person
        && report.people.items.iter().all(|p| p.credit == 0.0)
        && args.node.is_none()
        && !matches!(args.format, Format::Json)
    {
        say!("{id} has no contributions: no credit");
        return Ok(ExitCode::SUCCESS);
    }
    match args.format {
        Format::Json => return render::json(&report),
        Format::Csv => {
            say!("person_id,name,credit");
            for row in &report.people.items {
                say!(
                    "{},{},{:.6}",
                    render::csv_cell(&row.person.person_id),
                    render::csv_cell(&row.person.name),
                    row.credit
                );
            }
        }
        Format::Table => {
            say!(
                "value realised {:.2}: credited {:.2}, unattributed {:.2} ({} outcome{}{}{})",
                report.value_realised,
                report.credited,
                report.unattributed,
                report.outcomes,
                if report.outcomes == 1 { "" } else { "s" },
                args.node
                    .as_deref()
                    .map_or(String::new(), |node| format!(" reaching {node}")),
                match (report.from, report.to) {
                    (None, None) => String::new(),
                    (f, t) => format!(
                        ", {} – {}",
                        f.map_or("start".into(), |d| d.to_string()),
                        t.map_or("now".into(), |d| d.to_string())
                    ),
                }
            );
            if report.unattributed > 0.0 {
                say!(
                    "(unattributed: value that stayed at a node with no work counted there by the outcome's date, or above a share cap; nobody is credited with it)"
                );
            }
            say!("{:>12}  {:>6}  person", "credit", "share");
            for row in &report.people.items {
                say!(
                    "{:>12.2}  {:>5.1}%  {}",
                    row.credit,
                    row.share,
                    render::person(&row.person)
                );
            }
        }
    }
    if args.explain {
        say!("");
        for line in &report.explain {
            say!("{}", explain_line(line));
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
    /// The reward budget to share (zero or more).
    #[arg(long, allow_negative_numbers = true)]
    budget: f64,
    /// The first day of the period whose outcomes are paid for (YYYY-MM-DD).
    #[arg(long, value_parser = parse_date)]
    from: NaiveDate,
    /// The last day of the period (inclusive; not before --from).
    #[arg(long, value_parser = parse_date)]
    to: NaiveDate,
    /// How the budget is shared: `immediate` by this period's credit, `balanced` toward each
    /// person's share of everything paid so far (see below).
    #[arg(long, value_enum)]
    policy: PayoutKind,
    /// CSV of earlier payouts (`person_id,paid`), for the balanced policy only.
    #[arg(long)]
    paid: Option<PathBuf>,
    /// Compute with the attribution policy in this TOML file instead of the one in force.
    #[arg(long)]
    credit_policy: Option<PathBuf>,
    /// How to print it.
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

pub fn payout_run(app: &App, actor: &Actor, args: PayoutArgs) -> Result<ExitCode> {
    let policy = load_policy(args.credit_policy.as_ref())?;
    let paid = match (&args.paid, args.policy) {
        (Some(path), PayoutKind::Balanced) => read_paid(path)?,
        (Some(_), PayoutKind::Immediate) => bail!(
            "--paid is read by the balanced policy only: the immediate policy shares the budget by this period's credit alone; drop --paid or use --policy balanced"
        ),
        (None, _) => HashMap::new(),
    };
    let kind = match args.policy {
        PayoutKind::Balanced => PayoutPolicy::Balanced,
        PayoutKind::Immediate => PayoutPolicy::Immediate,
    };
    let report = app.payout(
        actor,
        args.budget,
        args.from,
        args.to,
        kind,
        &paid,
        policy.as_ref(),
    )?;
    match args.format {
        Format::Csv => {
            say!("person_id,name,payout");
            for row in &report.payouts {
                say!(
                    "{},{},{:.2}",
                    render::csv_cell(&row.person.person_id),
                    render::csv_cell(&row.person.name),
                    row.payout
                );
            }
        }
        Format::Json => return render::json(&report),
        Format::Table => {
            say!(
                "payout of {:.2} ({}) for {} – {}",
                report.budget,
                report.policy,
                report.from,
                report.to
            );
            for row in &report.payouts {
                say!("{:>12.2}  {}", row.payout, render::person(&row.person));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
