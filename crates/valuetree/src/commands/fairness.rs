//! `valuetree fairness --sim DIR`: each way of scoring people against the simulated truth.

use anyhow::{Context, Result};
use clap::Args;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use valuetree_app::commands::calibration::CalibrationModel;
use valuetree_sim::fairness::{MethodReport, Scores, compare, svg_chart};

#[derive(Args, Debug)]
#[command(after_help = "\
Methods compared with truth.csv:
  (a) the current manager's rating (mean of the manager's results ratings over the cycles)
  (b) the raw mean of all ratings (results, self-ratings excluded)
  (d) credit from the value tree (default policy), per month employed
  (c) calibrated ratings (results; the linear crossed-effects model with unit effects, the
      default)
  (c') calibrated ratings with the ordinal model (results; ordered probit, the same effects;
      each person's expected score on the scale)
  (e) the combined final score (`valuetree review final`): 0.5 × calibrated rating + 0.3 ×
      credit (as a percentile) + 0.2 × values (here the calibrated values ratings)
The moved-off group: people who worked on an initiative and were moved off it, or left the
company, before its first outcome.")]
pub struct FairnessArgs {
    /// A directory written by `valuetree sim`.
    #[arg(long)]
    sim: PathBuf,
    /// Where to write the SVG chart (default: fairness.svg in the simulation directory).
    #[arg(long)]
    svg: Option<PathBuf>,
}

/// One record of a simulation file, by column name.
struct Row<'a> {
    headers: &'a HashMap<String, usize>,
    record: &'a csv::StringRecord,
}

impl<'a> Row<'a> {
    fn get(&self, column: &str) -> &'a str {
        self.headers
            .get(column)
            .and_then(|&i| self.record.get(i))
            .unwrap_or("")
    }
}

/// Reads a CSV file of the simulation, handing each record to `each`.
fn read(dir: &Path, name: &str, mut each: impl FnMut(&Row<'_>) -> Result<()>) -> Result<()> {
    let path = dir.join(name);
    let mut reader =
        csv::Reader::from_path(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let headers: HashMap<String, usize> = reader
        .headers()
        .with_context(|| format!("cannot read the header of {}", path.display()))?
        .iter()
        .enumerate()
        .map(|(i, h)| (h.to_string(), i))
        .collect();
    let mut record = csv::StringRecord::new();
    loop {
        let more = reader
            .read_record(&mut record)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if !more {
            return Ok(());
        }
        let line = record.position().map_or(0, |p| p.line());
        each(&Row {
            headers: &headers,
            record: &record,
        })
        .with_context(|| format!("{}: line {line}", path.display()))?;
    }
}

/// Per person: the sum of their scores and how many there were.
type Sums = BTreeMap<String, (f64, u32)>;

fn mean(sums: Sums) -> Scores {
    sums.into_iter()
        .map(|(id, (sum, n))| (id, sum / f64::from(n.max(1))))
        .collect()
}

/// The people who worked on an initiative and were moved off it (or left) before its first
/// outcome.
fn moved_off(dir: &Path) -> Result<BTreeSet<String>> {
    let mut first_outcome: HashMap<String, String> = HashMap::new();
    read(dir, "outcomes.csv", |row: &Row<'_>| {
        let (node, date) = (row.get("node_id").to_string(), row.get("date").to_string());
        let entry = first_outcome.entry(node).or_insert_with(|| date.clone());
        if date < *entry {
            *entry = date;
        }
        Ok(())
    })?;
    let mut parents: HashMap<String, Vec<String>> = HashMap::new();
    read(dir, "edges.csv", |row: &Row<'_>| {
        parents
            .entry(row.get("child_id").to_string())
            .or_default()
            .push(row.get("parent_id").to_string());
        Ok(())
    })?;
    let mut left_company: HashMap<String, String> = HashMap::new();
    read(dir, "people.csv", |row: &Row<'_>| {
        if !row.get("left_on").is_empty() {
            left_company.insert(
                row.get("person_id").to_string(),
                row.get("left_on").to_string(),
            );
        }
        Ok(())
    })?;
    // The last day each person was a member of each node, and the last day anyone was
    // ("" while still a member): leaving a node others go on with is being moved off it;
    // leaving when the work ends is not.
    let mut membership_end: HashMap<(String, String), String> = HashMap::new();
    let mut work_end: HashMap<String, String> = HashMap::new();
    let later = |entry: &mut String, end: &str| {
        if end.is_empty() || (!entry.is_empty() && end > entry.as_str()) {
            *entry = end.to_string();
        }
    };
    read(dir, "members.csv", |row: &Row<'_>| {
        let (node, end) = (row.get("node_id"), row.get("left_on"));
        let key = (row.get("person_id").to_string(), node.to_string());
        later(
            membership_end.entry(key).or_insert_with(|| end.to_string()),
            end,
        );
        later(
            work_end
                .entry(node.to_string())
                .or_insert_with(|| end.to_string()),
            end,
        );
        Ok(())
    })?;
    let mut group = BTreeSet::new();
    read(dir, "contributions.csv", |row: &Row<'_>| {
        let (person, node) = (row.get("person_id"), row.get("node_id"));
        if group.contains(person) {
            return Ok(());
        }
        let mut initiatives: Vec<&str> = vec![node];
        initiatives.extend(parents.get(node).into_iter().flatten().map(String::as_str));
        for initiative in initiatives {
            let Some(outcome) = first_outcome.get(initiative) else {
                continue;
            };
            let left = left_company.get(person).is_some_and(|d| d < outcome);
            let node_end = work_end.get(initiative).map_or("", String::as_str);
            let moved = membership_end
                .get(&(person.to_string(), initiative.to_string()))
                .is_some_and(|end| {
                    !end.is_empty()
                        && end < outcome
                        && (node_end.is_empty() || end.as_str() < node_end)
                });
            if left || moved {
                group.insert(person.to_string());
                break;
            }
        }
        Ok(())
    })?;
    Ok(group)
}

/// Calibrated ratings of one dimension (the linear model with unit effects, the default).
fn calibrated(dir: &Path, dimension: &str) -> Result<Scores> {
    Ok(
        calibrated_with_errors(dir, dimension, CalibrationModel::Full)?
            .into_iter()
            .map(|(id, (score, _))| (id, score))
            .collect(),
    )
}

/// Each person's calibrated score under `model`, with its standard error.
fn calibrated_with_errors(
    dir: &Path,
    dimension: &str,
    model: CalibrationModel,
) -> Result<HashMap<String, (f64, f64)>> {
    let path = dir.join("ratings.csv");
    let interned =
        valuetree_exchange::ratings::read_ratings_file(&path, Some(dimension), model.is_plain())
            .map_err(|errors| {
                anyhow::anyhow!(
                    "{}: {}",
                    path.display(),
                    errors.first().map_or(String::new(), |e| e.to_string())
                )
            })?;
    let fit = model.fit(&interned.input)?;
    Ok(interned
        .ratees
        .into_iter()
        .zip(fit.ratees)
        .map(|(id, r)| (id, (r.calibrated, r.std_error)))
        .collect())
}

/// The nominal 90% interval's z.
const Z_90: f64 = 1.645;

/// The share of `people` whose nominal 90% interval (score ± 1.645 × standard error) holds
/// their expected rating, and how many were counted.
fn coverage(scores: &HashMap<String, (f64, f64)>, expected: &Scores) -> (f64, usize) {
    let (mut held, mut counted) = (0usize, 0usize);
    for (id, (score, error)) in scores {
        if let Some(target) = expected.get(id) {
            counted += 1;
            if (score - target).abs() <= Z_90 * error {
                held += 1;
            }
        }
    }
    (held as f64 / counted.max(1) as f64, counted)
}

/// Credit from the value tree (default policy) per month employed in the simulation: people
/// who joined late have had less time to contribute, and the truth is per month too.
fn credit_per_month(dir: &Path) -> Result<Scores> {
    use valuetree_core::credit::{
        CreditContribution, CreditData, CreditEdge, CreditOutcome, Engine, Policy, Status, day,
    };
    let date = |text: &str, what: &str| -> Result<i32> {
        let parsed = valuetree_core::NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .with_context(|| format!("{what} `{text}` is not a date"))?;
        Ok(day(parsed))
    };
    let mut data = CreditData::default();
    read(dir, "nodes.csv", |row: &Row<'_>| {
        data.node(row.get("node_id"), row.get("title"));
        Ok(())
    })?;
    let mut edges = Vec::new();
    read(dir, "edges.csv", |row: &Row<'_>| {
        let optional = |text: &str| {
            if text.is_empty() {
                Ok(None)
            } else {
                date(text, "valid_from").map(Some)
            }
        };
        edges.push(CreditEdge {
            parent: data.node(row.get("parent_id"), ""),
            child: data.node(row.get("child_id"), ""),
            weight: row
                .get("weight")
                .parse()
                .context("weight is not a number")?,
            from: optional(row.get("valid_from"))?,
            to: optional(row.get("valid_to"))?,
        });
        Ok(())
    })?;
    data.edges = edges;
    let mut contributions = Vec::new();
    let mut horizon = i32::MIN;
    read(dir, "contributions.csv", |row: &Row<'_>| {
        let when = date(row.get("date"), "date")?;
        horizon = horizon.max(when);
        contributions.push(CreditContribution {
            person: data.person(row.get("person_id")),
            node: data.node(row.get("node_id"), ""),
            phase: row
                .get("phase")
                .parse()
                .map_err(|e: valuetree_core::domain::UnknownValue| anyhow::anyhow!(e))?,
            date: when,
            effort: row
                .get("effort")
                .parse()
                .context("effort is not a number")?,
            status: if row.get("confirmed") == "true" {
                Status::Confirmed
            } else {
                Status::Unconfirmed
            },
        });
        Ok(())
    })?;
    data.contributions = contributions;
    let mut outcomes = Vec::new();
    read(dir, "outcomes.csv", |row: &Row<'_>| {
        outcomes.push(CreditOutcome {
            id: row.get("outcome_id").to_string(),
            node: data.node(row.get("node_id"), ""),
            date: date(row.get("date"), "date")?,
            value: row.get("value").parse().context("value is not a number")?,
        });
        Ok(())
    })?;
    data.outcomes = outcomes;
    let mut months: HashMap<String, f64> = HashMap::new();
    read(dir, "people.csv", |row: &Row<'_>| {
        let joined = date(row.get("joined_on"), "joined_on")?;
        let left = match row.get("left_on") {
            "" => horizon,
            text => date(text, "left_on")?.min(horizon),
        };
        months.insert(
            row.get("person_id").to_string(),
            (f64::from(left - joined) / 30.44).max(1.0),
        );
        Ok(())
    })?;
    let engine = Engine::new(data, Policy::default())?;
    Ok(engine
        .people()
        .iter()
        .enumerate()
        .map(|(i, id)| {
            (
                id.clone(),
                engine.credit(i as u32) / months.get(id).copied().unwrap_or(1.0),
            )
        })
        .collect())
}

/// The final score of the review cycles (default blend: 0.5 calibrated rating, 0.3 credit by
/// percentile, 0.2 values), here with the calibrated `values` ratings as the values part (the
/// simulation assesses no behaviours).
fn combined(rating: &Scores, credit: &Scores, values: &Scores) -> Scores {
    use valuetree_core::review::final_score::{FinalInput, FinalPolicy, final_scores};
    let people: BTreeSet<&String> = rating.keys().chain(credit.keys()).collect();
    let inputs: Vec<FinalInput> = people
        .into_iter()
        .map(|id| FinalInput {
            person_id: id.clone(),
            rating: rating.get(id).copied(),
            credit: Some(credit.get(id).copied().unwrap_or(0.0)),
            values_share: None,
            values_rating: values.get(id).copied(),
        })
        .collect();
    final_scores(&inputs, 5.0, &FinalPolicy::default())
        .into_iter()
        .map(|s| (s.person_id, s.score))
        .collect()
}

pub fn run(args: FairnessArgs) -> Result<ExitCode> {
    let dir = &args.sim;
    let mut truth = Scores::new();
    let mut expected = Scores::new();
    read(dir, "truth.csv", |row: &Row<'_>| {
        let value: f64 = row
            .get("true_performance")
            .parse()
            .context("true_performance is not a number")?;
        truth.insert(row.get("person_id").to_string(), value);
        // Simulations written before the column existed have none: no coverage then.
        if !row.get("expected_rating").is_empty() {
            let rating: f64 = row
                .get("expected_rating")
                .parse()
                .context("expected_rating is not a number")?;
            expected.insert(row.get("person_id").to_string(), rating);
        }
        Ok(())
    })?;
    let mut manager = Sums::new();
    let mut everyone = Sums::new();
    read(dir, "ratings.csv", |row: &Row<'_>| {
        if row.get("dimension") != "results" || row.get("relationship") == "self" {
            return Ok(());
        }
        let score: f64 = row.get("score").parse().context("score is not a number")?;
        let ratee = row.get("ratee_id").to_string();
        if row.get("relationship") == "manager" {
            let entry = manager.entry(ratee.clone()).or_default();
            entry.0 += score;
            entry.1 += 1;
        }
        let entry = everyone.entry(ratee).or_default();
        entry.0 += score;
        entry.1 += 1;
        Ok(())
    })?;
    let group = moved_off(dir)?;
    let reports: Vec<MethodReport> = vec![
        compare(
            "(a) current manager's rating",
            &mean(manager),
            &truth,
            &group,
        ),
        compare(
            "(b) raw mean of all ratings",
            &mean(everyone),
            &truth,
            &group,
        ),
    ];
    let with_errors = calibrated_with_errors(dir, "results", CalibrationModel::Full)?;
    let ordinal_with_errors = calibrated_with_errors(dir, "results", CalibrationModel::Ordinal)?;
    let scores_of = |with_errors: &HashMap<String, (f64, f64)>| -> Scores {
        with_errors
            .iter()
            .map(|(id, (s, _))| (id.clone(), *s))
            .collect()
    };
    let rating = scores_of(&with_errors);
    let ordinal = scores_of(&ordinal_with_errors);
    let credit = credit_per_month(dir)?;
    let values = calibrated(dir, "values")?;
    let combined = combined(&rating, &credit, &values);
    let reports: Vec<MethodReport> = reports
        .into_iter()
        .chain([
            compare("(c) calibrated ratings", &rating, &truth, &group),
            compare("(c') calibrated, ordinal model", &ordinal, &truth, &group),
            compare("(d) credit from the value tree", &credit, &truth, &group),
            compare("(e) combined final score", &combined, &truth, &group),
        ])
        .collect();
    say!(
        "{:<32} {:>7} {:>8} {:>9} {:>8} {:>10} {:>10} {:>12} {:>11}",
        "method",
        "people",
        "Pearson",
        "Spearman",
        "top 10%",
        "bottom 10%",
        "moved-off",
        "their Spear.",
        "their short"
    );
    for r in &reports {
        say!(
            "{:<32} {:>7} {:>8.3} {:>9.3} {:>7.0}% {:>9.0}% {:>10} {:>12.3} {:>+9.1}pp",
            r.method,
            r.people,
            r.pearson,
            r.spearman,
            100.0 * r.top_decile,
            100.0 * r.bottom_decile,
            r.moved_off_people,
            r.moved_off_spearman,
            r.moved_off_shortfall
        );
    }
    say!(
        "\nPearson, Spearman: agreement of each method's scores with the true performance, over everyone."
    );
    say!(
        "top 10%, bottom 10%: of the truly best (worst) tenth, the share the method also puts there."
    );
    say!(
        "moved-off: how many worked on an initiative and were moved off it, or left, before its first outcome;"
    );
    say!(
        "their Spear.: Spearman within that group; their short(fall): mean (percentile under the method − true percentile) within it."
    );
    if expected.is_empty() {
        say!(
            "coverage: truth.csv has no expected_rating (a simulation from before it was written); run `valuetree sim` again to measure it."
        );
    } else {
        for (method, scores) in [("(c)", &with_errors), ("(c')", &ordinal_with_errors)] {
            let (share, people) = coverage(scores, &expected);
            say!(
                "coverage: the nominal 90% interval of {method} (calibrated ± {Z_90} × standard error) holds the expected rating for {:.1}% of {people} people",
                100.0 * share
            );
        }
        say!(
            "  (expected rating: what a rater of average leniency would give on average for the work each of the person's raters saw, on the 1–5 scale; docs/calibration.md)"
        );
    }
    let svg_path = args.svg.clone().unwrap_or_else(|| dir.join("fairness.svg"));
    std::fs::write(&svg_path, svg_chart(&reports))
        .with_context(|| format!("cannot write {}", svg_path.display()))?;
    say!("chart: {}", svg_path.display());
    Ok(ExitCode::SUCCESS)
}
