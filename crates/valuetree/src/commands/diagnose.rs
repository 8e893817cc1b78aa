//! `valuetree diagnose …` and `valuetree whatif PLAN.csv`: HR's diagnostics of the
//! organisation (docs/diagnostics.md), printed from the application layer's reports.

use super::render::{self, ViewFormat};
use crate::parse_date;
use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use valuetree_app::queries::{CollaborationQuery, KeptBy, KeptQuery, Names, TreeHealthQuery};
use valuetree_app::{Actor, App};
use valuetree_core::NaiveDate;
use valuetree_store::FileRowError;

#[derive(Subcommand, Debug)]
pub enum DiagnoseCommand {
    /// Credit kept: each person's credit under valuetree beside the credit an org-chart tool
    /// would give them (the team view), and why they were off the team.
    KeptCredit {
        /// Only outcomes dated on or after this day.
        #[arg(long, value_parser = parse_date)]
        from: Option<NaiveDate>,
        /// Only outcomes dated on or before this day (also the day units are read on).
        #[arg(long, value_parser = parse_date)]
        to: Option<NaiveDate>,
        /// Per person, or totals per unit or per cause (each reorganisation by date).
        #[arg(long, value_enum, default_value_t = By::Person)]
        by: By,
        #[command(flatten)]
        format: FormatArg,
    },
    /// Churn hot spots: people moved off live work again and again, manager changes, units
    /// reorganised most, repeated hand-overs, flagpoles nobody joined.
    Churn {
        /// The day to look back from (default: today): 24 months of moves and
        /// reorganisations, 12 of manager changes.
        #[arg(long, value_parser = parse_date)]
        as_of: Option<NaiveDate>,
        #[command(flatten)]
        format: FormatArg,
    },
    /// Collaboration: effort shared between units, each initiative's cross-unit share, the
    /// people who bridge units, and the silos.
    Collaboration {
        /// Count everyone under their unit on this day (default: their unit on each
        /// contribution's own date).
        #[arg(long, value_parser = parse_date)]
        as_of: Option<NaiveDate>,
        /// Contributions dated on or after this day (default: a year before --to).
        #[arg(long, value_parser = parse_date)]
        from: Option<NaiveDate>,
        /// Contributions dated on or before this day (default: today).
        #[arg(long, value_parser = parse_date)]
        to: Option<NaiveDate>,
        /// Roll units up to their ancestor this deep in the unit tree (0: the top units), as
        /// the tree stood on --as-of or --to: a large organisation's teams, seen as
        /// departments.
        #[arg(long)]
        depth: Option<usize>,
        #[command(flatten)]
        format: FormatArg,
    },
    /// The value tree's health: work with no path to a customer need, needs with no live
    /// initiative, effort against value, value left unattributed.
    Tree {
        /// The day the tree's links and statuses are read on (default: today).
        #[arg(long, value_parser = parse_date)]
        as_of: Option<NaiveDate>,
        /// Effort and value dated on or after this day (default: a year before --to).
        #[arg(long, value_parser = parse_date)]
        from: Option<NaiveDate>,
        /// Effort and value dated on or before this day (default: --as-of).
        #[arg(long, value_parser = parse_date)]
        to: Option<NaiveDate>,
        #[command(flatten)]
        format: FormatArg,
    },
    /// A review cycle's rating anomalies: managers whose ratings stand apart from everyone
    /// else's, and each rater's leniency.
    Ratings {
        /// The review cycle.
        #[arg(long)]
        cycle: String,
        #[command(flatten)]
        format: FormatArg,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum By {
    Person,
    Unit,
    Reorganisation,
}

#[derive(Args, Debug)]
pub struct FormatArg {
    /// How to print it.
    #[arg(long, value_enum, default_value_t = ViewFormat::Table)]
    format: ViewFormat,
}

#[derive(Args, Debug)]
pub struct WhatIfArgs {
    /// The plan: a CSV file with the columns action,subject_id,target_id,date[,manager_id];
    /// actions move_person, move_unit, dissolve_unit, change_manager.
    plan: PathBuf,
    /// Record the plan (all rows or none) as assignment and unit events, each effective on
    /// its row's date. Without it nothing is written.
    #[arg(long)]
    apply: bool,
    #[command(flatten)]
    format: FormatArg,
}

/// How many people a table lists where the JSON gives them all.
const LISTED: usize = 50;

fn money(x: f64) -> String {
    // An empty sum is -0.0; nobody should read "-0.00".
    let x = if x == 0.0 { 0.0 } else { x };
    format!("{x:.2}")
}

fn named(names: &std::collections::BTreeMap<String, String>, id: &str) -> String {
    match names.get(id).filter(|n| !n.is_empty()) {
        Some(name) => format!("{name} ({id})"),
        None => id.to_string(),
    }
}

fn person(names: &Names, id: &str) -> String {
    named(&names.people, id)
}

fn unit(names: &Names, id: &str) -> String {
    named(&names.units, id)
}

pub fn run(app: &App, actor: &Actor, command: DiagnoseCommand) -> Result<ExitCode> {
    match command {
        DiagnoseCommand::KeptCredit {
            from,
            to,
            by,
            format,
        } => kept_credit(app, actor, KeptQuery { from, to }, by, format.format),
        DiagnoseCommand::Churn { as_of, format } => churn(app, actor, as_of, format.format),
        DiagnoseCommand::Collaboration {
            as_of,
            from,
            to,
            depth,
            format,
        } => collaboration(
            app,
            actor,
            &CollaborationQuery {
                as_of,
                from,
                to,
                depth,
            },
            format.format,
        ),
        DiagnoseCommand::Tree {
            as_of,
            from,
            to,
            format,
        } => tree(
            app,
            actor,
            &TreeHealthQuery { as_of, from, to },
            format.format,
        ),
        DiagnoseCommand::Ratings { cycle, format } => ratings(app, actor, &cycle, format.format),
    }
}

fn kept_credit(
    app: &App,
    actor: &Actor,
    query: KeptQuery,
    by: By,
    format: ViewFormat,
) -> Result<ExitCode> {
    let report = app.kept_credit(actor, &query)?;
    let by = match by {
        By::Person => KeptBy::Person,
        By::Unit => KeptBy::Unit,
        By::Reorganisation => KeptBy::Reorganisation,
    };
    if format == ViewFormat::Json {
        return match by {
            KeptBy::Person => render::json(&report.people),
            KeptBy::Unit => render::json(&report.units),
            KeptBy::Reorganisation => render::json(&report.causes),
        };
    }
    say!(
        "Credit kept{}: value realised {}, unattributed {} (the team view would leave {}); kept in all {}",
        match (report.from, report.to) {
            (None, None) => String::new(),
            (from, to) => format!(
                " from {} to {}",
                from.map_or("the start".into(), |d| d.to_string()),
                to.map_or("today".into(), |d| d.to_string())
            ),
        },
        money(report.value_realised),
        money(report.unattributed),
        money(report.team_view_unattributed),
        money(report.kept_total)
    );
    match by {
        KeptBy::Person => {
            say!(
                "{:<40} {:>12} {:>12} {:>12}  why off the team",
                "person",
                "credit",
                "team view",
                "kept"
            );
            for p in &report.people {
                let reasons: Vec<&str> = p.reasons.iter().map(|r| r.as_str()).collect();
                say!(
                    "{:<40} {:>12} {:>12} {:>12}  {}",
                    if p.name.is_empty() {
                        p.person_id.clone()
                    } else {
                        format!("{} ({})", p.name, p.person_id)
                    },
                    money(p.credit),
                    money(p.team_view_credit),
                    money(p.kept),
                    reasons.join(", ")
                );
            }
        }
        KeptBy::Unit => {
            say!(
                "{:<40} {:>7} {:>12} {:>12} {:>12}",
                "unit (on the report's date)",
                "people",
                "credit",
                "team view",
                "kept"
            );
            for u in &report.units {
                say!(
                    "{:<40} {:>7} {:>12} {:>12} {:>12}",
                    u.unit.as_ref().map_or("no unit".into(), render::unit),
                    u.totals.people,
                    money(u.totals.credit),
                    money(u.totals.team_view_credit),
                    money(u.totals.kept)
                );
            }
        }
        KeptBy::Reorganisation => {
            say!("{:<52} {:>7} {:>12}", "cause", "people", "kept");
            for c in &report.causes {
                let label = match c.date {
                    Some(date) => {
                        let units: Vec<String> = c
                            .units_changed
                            .iter()
                            .map(|u| unit(&report.names, u))
                            .collect();
                        format!(
                            "reorganisation {date}: {}{} moved",
                            if units.is_empty() {
                                String::new()
                            } else {
                                format!("{}; ", units.join(", "))
                            },
                            c.people_moved
                        )
                    }
                    None => c.cause.as_str().replace('_', " "),
                };
                say!(
                    "{:<52} {:>7} {:>12}",
                    label,
                    c.totals.people,
                    money(c.totals.kept)
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn churn(
    app: &App,
    actor: &Actor,
    as_of: Option<NaiveDate>,
    format: ViewFormat,
) -> Result<ExitCode> {
    let report = app.churn(actor, as_of)?;
    if format == ViewFormat::Json {
        return render::json(&report);
    }
    let c = &report.churn;
    let names = &report.names;
    say!("Churn from {} to {}", c.from, c.as_of);
    say!(
        "\nMoved off live work before its outcome twice or more: {}",
        c.moved_off_live_work_repeatedly.len()
    );
    for r in c.moved_off_live_work_repeatedly.iter().take(LISTED) {
        let moves: Vec<String> = r
            .moves
            .iter()
            .map(|m| {
                format!(
                    "{} {} → {} (left {})",
                    m.date,
                    unit(names, &m.from_unit_id),
                    unit(names, &m.to_unit_id),
                    m.node_ids.join(", ")
                )
            })
            .collect();
        say!("  {}: {}", person(names, &r.person_id), moves.join("; "));
    }
    if c.moved_off_live_work_repeatedly.len() > LISTED {
        say!(
            "  … and {} more (--format json lists them all)",
            c.moved_off_live_work_repeatedly.len() - LISTED
        );
    }
    let d = c.manager_changes_distribution;
    say!(
        "\nManager changes in the last 12 months (people employed on {}): none {}, one {}, two {}, three {}, four or more {}",
        c.as_of,
        d[0],
        d[1],
        d[2],
        d[3],
        d[4]
    );
    for m in &c.manager_changes_top {
        say!("  {:>3}  {}", m.changes, person(names, &m.person_id));
    }
    say!("\nUnits reorganised most often:");
    for u in &c.units_reorganised {
        let dates: Vec<String> = u.dates.iter().map(ToString::to_string).collect();
        say!(
            "  {:>3}  {}  ({})",
            u.reorganisations,
            unit(names, &u.unit_id),
            dates.join(", ")
        );
    }
    say!(
        "\nHanded over more than once: {}",
        c.handed_over_repeatedly.len()
    );
    for h in &c.handed_over_repeatedly {
        let dates: Vec<String> = h.dates.iter().map(ToString::to_string).collect();
        say!("  {}  ({})", h.node_id, dates.join(", "));
    }
    say!(
        "\nFlagpoles nobody joined: {}",
        c.flagpoles_without_people.len()
    );
    for f in &c.flagpoles_without_people {
        say!(
            "  {}  open {} days, lead {}{}",
            f.node_id,
            f.days_open,
            f.lead_id
                .as_deref()
                .map_or("none".into(), |l| person(names, l)),
            if f.roles_wanted.is_empty() {
                String::new()
            } else {
                format!(", wants {}", f.roles_wanted.join(", "))
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn collaboration(
    app: &App,
    actor: &Actor,
    query: &CollaborationQuery,
    format: ViewFormat,
) -> Result<ExitCode> {
    let report = app.collaboration(actor, query)?;
    if format == ViewFormat::Json {
        return render::json(&report);
    }
    let c = &report.collaboration;
    let names = &report.names;
    say!(
        "Collaboration from {} to {}{}: effort {}",
        c.from,
        c.to,
        c.as_of
            .map_or(String::new(), |d| format!(", units as of {d}")),
        money(c.effort)
    );
    say!(
        "\nEffort on nodes shared between units (unit → beside unit; {} pairs{}):",
        c.matrix_entries,
        c.depth
            .map_or(String::new(), |d| format!(", units rolled up to depth {d}"))
    );
    for e in c
        .matrix
        .iter()
        .filter(|e| e.unit_id != e.with_unit_id)
        .take(40)
    {
        say!(
            "  {:>10}  {} → {}",
            money(e.effort),
            unit(names, &e.unit_id),
            unit(names, &e.with_unit_id)
        );
    }
    say!(
        "\nInitiatives by cross-unit share (top {}):",
        valuetree_app::queries::TOP
    );
    for i in c.initiatives.iter().take(valuetree_app::queries::TOP) {
        say!(
            "  {:>5.1}%  {}  (effort {}, units: {})",
            i.cross_unit_share * 100.0,
            i.node_id,
            money(i.effort),
            i.units
        );
    }
    say!("\nPeople who bridge the most units:");
    for b in &c.bridges {
        say!(
            "  {:>3} units  {}  (shared effort {})",
            b.units,
            person(names, &b.person_id),
            money(b.shared_effort)
        );
    }
    say!(
        "\nSilos (work that never touches another unit's): {}",
        c.silos.len()
    );
    for s in &c.silos {
        say!(
            "  {}  effort {}, {} people, {} nodes",
            unit(names, &s.unit_id),
            money(s.effort),
            s.people,
            s.nodes
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn tree(app: &App, actor: &Actor, query: &TreeHealthQuery, format: ViewFormat) -> Result<ExitCode> {
    let report = app.tree_health(actor, query)?;
    if format == ViewFormat::Json {
        return render::json(&report);
    }
    let h = &report.health;
    let title = |id: &str| named(&report.titles, id);
    say!(
        "The value tree as of {}; effort and value from {} to {}",
        h.as_of,
        h.from,
        h.to
    );
    say!(
        "\nWork with no path to a customer need: {}",
        h.orphan_work.len()
    );
    for o in h.orphan_work.iter().take(40) {
        say!(
            "  {}  effort {}, {} people",
            title(&o.node_id),
            money(o.effort),
            o.people
        );
    }
    say!(
        "\nNeeds with no proposed or active initiative: {}",
        h.needs_without_live_initiative.len()
    );
    for n in &h.needs_without_live_initiative {
        say!("  {}", title(n));
    }
    say!("\nEffort against value (needs, then objectives):");
    say!(
        "  {:>12} {:>14} {:>10}  node",
        "effort",
        "value",
        "per effort"
    );
    for e in &h.effort_and_value {
        say!(
            "  {:>12} {:>14} {:>10}  {} [{}]",
            money(e.effort),
            money(e.value),
            e.value_per_effort.map_or("–".into(), money),
            title(&e.node_id),
            e.kind
        );
    }
    say!(
        "\nValue left unattributed: {} at {} nodes",
        money(h.unattributed_total),
        h.unattributed.len()
    );
    for u in h.unattributed.iter().take(40) {
        say!(
            "  {:>12}  {}  (children take {:.0}% over {} links)",
            money(u.unattributed),
            title(&u.node_id),
            u.children_weight * 100.0,
            u.children
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn ratings(app: &App, actor: &Actor, cycle: &str, format: ViewFormat) -> Result<ExitCode> {
    let report = app.rating_anomalies(actor, cycle)?;
    if format == ViewFormat::Json {
        return render::json(&report);
    }
    say!(
        "Rating anomalies in {}: {} ratings by {} raters",
        report.cycle_id,
        report.ratings,
        report.raters
    );
    if report.calibrated {
        say!(
            "\nManagers whose ratings stand apart from the calibrated view: {} flagged of {}",
            report.managers_flagged,
            report.managers
        );
    } else {
        say!(
            "\nManager anomalies need the calibrated scores: run `valuetree calibrate --cycle {}` first.",
            report.cycle_id
        );
    }
    for a in &report.manager_anomalies {
        say!(
            "  {}  {:+.2} over {} reports{}",
            render::person(&a.manager),
            a.anomaly.mean_gap,
            a.anomaly.reports,
            if a.anomaly.flagged { "  FLAGGED" } else { "" }
        );
    }
    let [p10, median, p90] = report.leniency_spread;
    say!(
        "\nRater leniency: 10th percentile {p10:+.2}, median {median:+.2}, 90th {p90:+.2}; {} outlying",
        report.raters_outlying
    );
    for r in report
        .rater_leniency
        .iter()
        .take(valuetree_app::queries::TOP)
    {
        say!(
            "  {:+.2} ± {:.2}  {} ({} ratings){}",
            r.leniency,
            r.std_error,
            render::person(&r.rater),
            r.n_ratings,
            if r.outlier { "  OUTLIER" } else { "" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn whatif(app: &App, actor: &Actor, args: WhatIfArgs) -> Result<ExitCode> {
    let label = args.plan.display().to_string();
    let file =
        std::fs::File::open(&args.plan).with_context(|| format!("cannot open the plan {label}"))?;
    let rows = match valuetree_exchange::plan::parse_plan(std::io::BufReader::new(file)) {
        Ok(rows) => rows,
        Err(errors) => {
            eprintln!(
                "error: {} bad row(s) in the plan; nothing was looked at:",
                errors.len()
            );
            for error in errors.into_iter().take(valuetree_store::MAX_LISTED_ERRORS) {
                eprintln!(
                    "  {}",
                    FileRowError {
                        file: label.clone(),
                        error
                    }
                );
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    let report = match app.whatif(actor, &rows, &label, args.apply) {
        Err(valuetree_app::AppError::Rejected(errors)) => {
            eprintln!(
                "error: the plan cannot hold; nothing was {}. {} bad row(s):",
                if args.apply { "recorded" } else { "looked at" },
                errors.len()
            );
            for e in errors.iter().take(valuetree_store::MAX_LISTED_ERRORS) {
                eprintln!("  {e}");
            }
            return Ok(ExitCode::FAILURE);
        }
        other => other?,
    };
    if args.format.format == ViewFormat::Json {
        return render::json(&report);
    }
    let w = &report.whatif;
    let names = &report.names;
    let manager = |m: &Option<String>| {
        m.as_deref()
            .map_or("none".to_string(), |m| person(names, m))
    };
    say!(
        "{} {} rows: {} people change unit, {} change manager",
        if report.applied {
            "Recorded"
        } else {
            "What if:"
        },
        w.rows,
        w.people_moved.len(),
        w.manager_changes.len()
    );
    say!("\nManager changes:");
    for c in &w.manager_changes {
        say!(
            "  {}  {}: {} → {}",
            c.date,
            person(names, &c.person_id),
            manager(&c.from_manager_id),
            manager(&c.to_manager_id)
        );
    }
    say!(
        "\nLive initiatives whose people the plan takes off the lead's team: {}",
        w.live_initiatives.len()
    );
    for i in &w.live_initiatives {
        let people: Vec<String> = i
            .people
            .iter()
            .map(|p| {
                format!(
                    "{} ({:.0}% of recent effort)",
                    person(names, &p.person_id),
                    p.recent_share * 100.0
                )
            })
            .collect();
        say!(
            "  {} on {}: {}{}",
            i.node_id,
            i.date,
            people.join(", "),
            if i.value_realised {
                ""
            } else {
                "  — no value yet"
            }
        );
    }
    say!(
        "\nWork at stake (kept by valuetree, lost by the team view): effort {} by {} people on nodes no value has reached",
        money(w.work_at_stake_effort),
        {
            let mut who: Vec<&str> = w
                .work_at_stake
                .iter()
                .map(|s| s.person_id.as_str())
                .collect();
            who.sort_unstable();
            who.dedup();
            who.len()
        }
    );
    let repeated: Vec<&valuetree_core::diagnose::MovedPerson> = w
        .people_moved
        .iter()
        .filter(|p| p.earlier_moves_off_live_work > 0)
        .collect();
    say!(
        "\nPeople moved who were already moved off live work in the last 24 months: {}",
        repeated.len()
    );
    for p in repeated.iter().take(40) {
        say!(
            "  {}×  {}",
            p.earlier_moves_off_live_work,
            person(names, &p.person_id)
        );
    }
    if let Some(receipt) = &report.receipt {
        say!(
            "\nRecorded {} events; the ledger's head is {}",
            receipt.events.len(),
            receipt.head.as_deref().unwrap_or("unchanged")
        );
    } else {
        say!(
            "\nNothing was written; add --apply to record the plan ({} events).",
            w.events
        );
    }
    Ok(ExitCode::SUCCESS)
}
