//! HR's diagnostics of the organisation (`docs/diagnostics.md`): credit kept, churn,
//! collaboration, the value tree's health, rating anomalies, and the reorganisation what-if.
//! Every figure is computed in `core::diagnose`; this module loads what it reads, asks
//! [`crate::authz`] and names the people and units.

use super::{PersonRef, UnitRef};
use crate::context::build_engine;
use crate::error::{AppError, AppResult, FieldError};
use crate::{Actor, App, Receipt, authz};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use valuetree_core::NaiveDate;
use valuetree_core::credit::{CreditData, Engine, day};
use valuetree_core::diagnose::{self, Facts, OrgTimeline};
use valuetree_core::review::session::ManagerAnomaly;
use valuetree_core::state::State;

/// How many people, units and initiatives a top list holds.
pub const TOP: usize = 20;

/// What the diagnostics read: the master data and its timeline, the contributions and
/// outcomes (numbered as the engine numbers them) and the credit engine.
pub struct DiagnosticsBase {
    state: Arc<State>,
    timeline: OrgTimeline,
    data: CreditData,
    engine: Arc<Engine>,
}

type Base = DiagnosticsBase;

/// What a diagnostic reads besides the org.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reads {
    /// The credit engine (credit kept).
    Credit,
    /// The contributions (collaboration).
    Work,
    /// Both.
    WorkAndCredit,
}

impl Base {
    fn facts(&self) -> Facts<'_> {
        Facts::new(&self.state, &self.timeline, &self.data, &self.engine)
    }

    fn person(&self, id: &str) -> PersonRef {
        PersonRef::of(&self.state, id)
    }

    fn unit(&self, id: &str, on: NaiveDate) -> UnitRef {
        UnitRef::of(&self.state, id, on)
    }
}

/// Names by id: people and units the report mentions.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Names {
    pub people: BTreeMap<String, String>,
    pub units: BTreeMap<String, String>,
}

impl Names {
    fn person(&mut self, base: &Base, id: &str) {
        if !self.people.contains_key(id) {
            self.people.insert(id.to_string(), base.person(id).name);
        }
    }

    fn unit(&mut self, base: &Base, id: &str, on: NaiveDate) {
        if !self.units.contains_key(id) {
            self.units.insert(id.to_string(), base.unit(id, on).name);
        }
    }
}

/// How `diagnose kept-credit` totals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeptBy {
    #[default]
    Person,
    Unit,
    Reorganisation,
}

#[derive(Clone, Debug, Default)]
pub struct KeptQuery {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KeptPerson {
    pub person_id: String,
    pub name: String,
    pub credit: f64,
    pub team_view_credit: f64,
    pub kept: f64,
    pub reasons: Vec<diagnose::OffTeamReason>,
    pub nodes: Vec<diagnose::KeptAtNode>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KeptUnit {
    /// The people's unit on the report's date (or their last one); `None`: never placed.
    pub unit: Option<UnitRef>,
    #[serde(flatten)]
    pub totals: diagnose::KeptTotals,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KeptByCause {
    pub cause: diagnose::KeptCause,
    /// The reorganisation's date (for `reorganisation` only).
    pub date: Option<NaiveDate>,
    /// The units the reorganisation created, moved or dissolved, and how many people moved.
    pub units_changed: Vec<String>,
    pub people_moved: usize,
    #[serde(flatten)]
    pub totals: diagnose::KeptTotals,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KeptCreditReport {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// The date units are read on for `units`.
    pub as_of: NaiveDate,
    pub value_realised: f64,
    pub unattributed: f64,
    pub team_view_unattributed: f64,
    /// Everyone's kept credit: what the team view would not give (sums to the change in
    /// unattributed value).
    pub kept_total: f64,
    pub people: Vec<KeptPerson>,
    pub units: Vec<KeptUnit>,
    pub causes: Vec<KeptByCause>,
    pub names: Names,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChurnReport {
    #[serde(flatten)]
    pub churn: diagnose::Churn,
    pub names: Names,
}

#[derive(Clone, Debug, Default)]
pub struct CollaborationQuery {
    pub as_of: Option<NaiveDate>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// Roll units up to this depth of the unit tree (0: the top).
    pub depth: Option<usize>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CollaborationReport {
    #[serde(flatten)]
    pub collaboration: diagnose::Collaboration,
    pub names: Names,
}

#[derive(Clone, Debug, Default)]
pub struct TreeHealthQuery {
    pub as_of: Option<NaiveDate>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TreeHealthReport {
    #[serde(flatten)]
    pub health: diagnose::TreeHealth,
    /// Node titles by id.
    pub titles: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RaterLeniencyRow {
    pub rater: PersonRef,
    pub n_ratings: u32,
    pub leniency: f64,
    pub std_error: f64,
    pub outlier: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ManagerAnomalyRow {
    pub manager: PersonRef,
    #[serde(flatten)]
    pub anomaly: ManagerAnomaly,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RatingAnomalies {
    pub cycle_id: String,
    /// Whether the cycle has been calibrated (manager anomalies need its scores).
    pub calibrated: bool,
    pub ratings: usize,
    pub raters: usize,
    pub managers: usize,
    pub managers_flagged: usize,
    /// Flagged first, then by the size of the gap.
    pub manager_anomalies: Vec<ManagerAnomalyRow>,
    pub raters_outlying: usize,
    /// Outliers first, then by how far from an average rater.
    pub rater_leniency: Vec<RaterLeniencyRow>,
    /// The raters' leniency: 10th percentile, median, 90th percentile (0 with no raters).
    pub leniency_spread: [f64; 3],
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WhatIfReport {
    pub applied: bool,
    #[serde(flatten)]
    pub whatif: diagnose::WhatIf,
    /// The plan's moves, each person's unit and manager before and after.
    pub moves: Vec<diagnose::PlannedMove>,
    pub receipt: Option<Receipt>,
    pub names: Names,
}

impl App {
    /// The master data, the outcomes of `[from, to]` and their engine, and the contributions,
    /// as `reads` needs them (credit kept needs no contributions, collaboration no engine). A
    /// long-running face keeps the whole-period base with its snapshot (built from its warm
    /// engine); a one-shot command builds the snapshot's org part (the timeline) and the
    /// engine on two threads.
    fn diagnostics_base(
        &self,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        reads: Reads,
    ) -> AppResult<Arc<Base>> {
        if from.is_none() && to.is_none() && self.has_snapshot() {
            let snapshot = self.snapshot()?;
            if let Some(base) = snapshot.diagnostics.get() {
                return Ok(base.clone());
            }
            let engine = self.credit_engine(&snapshot)?;
            let data = self.read(|store| Ok(store.credit_data(None, None)?))?;
            let base = Arc::new(Base {
                timeline: OrgTimeline::new(&snapshot.state),
                state: snapshot.state.clone(),
                data: numbered_as(data, &engine)?,
                engine,
            });
            return Ok(snapshot.diagnostics.get_or_init(|| base).clone());
        }
        let (org, credit) = std::thread::scope(|scope| {
            let credit = scope.spawn(|| -> AppResult<(CreditData, Engine)> {
                let policy = self.credit_policy()?;
                let mut data = self.read(|store| Ok(store.credit_data(from, to)?))?;
                let contributions = std::mem::take(&mut data.contributions);
                let mut facts = data.clone();
                match reads {
                    Reads::Credit => data.contributions = contributions,
                    Reads::WorkAndCredit => {
                        facts.contributions = contributions.clone();
                        data.contributions = contributions;
                    }
                    Reads::Work => {
                        // An engine over nothing: the figures read no credit.
                        facts.contributions = contributions;
                        data.outcomes.clear();
                    }
                }
                Ok((facts, build_engine(data, policy)?))
            });
            // A long-running face has its snapshot; a one-shot command reads only the org.
            let state = if self.has_snapshot() {
                self.snapshot().map(|snapshot| snapshot.state.clone())
            } else {
                self.read(|store| Ok(Arc::new(store.load_org_state()?)))
            };
            let org = state.map(|state| (OrgTimeline::new(&state), state));
            (org, credit.join())
        });
        let (timeline, state) = org?;
        let (data, engine) = credit
            .map_err(|_| AppError::Internal("building the credit engine failed".into()))??;
        Ok(Arc::new(Base {
            state,
            timeline,
            data,
            engine: Arc::new(engine),
        }))
    }

    /// Whether the actor may see the diagnostics (for a face's form before any figure).
    pub fn may_diagnose(&self, actor: &Actor) -> AppResult<()> {
        authz::diagnose(actor)
    }

    /// Credit kept: everyone's credit beside the team view's (HR).
    pub fn kept_credit(&self, actor: &Actor, q: &KeptQuery) -> AppResult<KeptCreditReport> {
        authz::diagnose(actor)?;
        super::check_period(q.from, q.to)?;
        let base = self.diagnostics_base(q.from, q.to, Reads::Credit)?;
        // The reorganisation dates walk every assignment: alongside the team view.
        let (kept, reorganisations) = std::thread::scope(|scope| {
            let reorganisations = scope.spawn(|| {
                valuetree_core::org::reorganisation_outline(
                    &base.state,
                    NaiveDate::MIN,
                    NaiveDate::MAX,
                )
            });
            let kept = diagnose::kept_credit(&base.engine, &base.timeline);
            (kept, reorganisations.join())
        });
        let reorganisations = reorganisations
            .map_err(|_| AppError::Internal("finding the reorganisations failed".into()))?;
        let as_of = q.to.unwrap_or_else(|| self.today());
        let mut names = Names::default();
        let unit_of = |id: &str| {
            let p = base.timeline.find_person(id)?;
            let line = base.timeline.line(p);
            let on = line.left.map_or(day(as_of), |l| l.min(day(as_of)));
            line.unit_on(on)
                .or_else(|| line.stints.last().map(|s| s.unit))
                .map(|u| base.timeline.unit_ids[u as usize].clone())
        };
        let units = diagnose::kept_by_unit(&kept, unit_of)
            .into_iter()
            .map(|(unit, totals)| KeptUnit {
                unit: unit.map(|u| base.unit(&u, as_of)),
                totals,
            })
            .collect();
        let days: Vec<NaiveDate> = reorganisations.iter().map(|(r, _)| r.date).collect();
        let causes = diagnose::kept_by_cause(&kept, &days)
            .into_iter()
            .map(|(cause, date, totals)| {
                let r = date.and_then(|d| {
                    let i = days.binary_search(&d).ok()?;
                    Some(&reorganisations[i])
                });
                KeptByCause {
                    cause,
                    date,
                    units_changed: r
                        .map(|(r, _)| {
                            r.units_created
                                .iter()
                                .chain(&r.units_dissolved)
                                .chain(r.units_moved.iter().map(|m| &m.unit_id))
                                .cloned()
                                .collect()
                        })
                        .unwrap_or_default(),
                    people_moved: r.map_or(0, |(_, moved)| *moved),
                    totals,
                }
            })
            .collect::<Vec<_>>();
        for c in &causes {
            for u in &c.units_changed {
                names.unit(&base, u, c.date.unwrap_or(as_of));
            }
        }
        let people: Vec<KeptPerson> = kept
            .people
            .into_iter()
            .map(|p| KeptPerson {
                name: base.person(&p.person_id).name,
                person_id: p.person_id,
                credit: p.credit,
                team_view_credit: p.team_view_credit,
                kept: p.kept,
                reasons: p.reasons,
                nodes: p.nodes,
            })
            .collect();
        Ok(KeptCreditReport {
            from: q.from,
            to: q.to,
            as_of,
            value_realised: kept.value_realised,
            unattributed: kept.unattributed,
            team_view_unattributed: kept.team_view_unattributed,
            kept_total: people.iter().fold(0.0, |sum, p| sum + p.kept),
            people,
            units,
            causes,
            names,
        })
    }

    /// Churn hot spots as of a date (HR).
    pub fn churn(&self, actor: &Actor, as_of: Option<NaiveDate>) -> AppResult<ChurnReport> {
        authz::diagnose(actor)?;
        let as_of = as_of.unwrap_or_else(|| self.today());
        let base = self.diagnostics_base(None, None, Reads::WorkAndCredit)?;
        let churn = diagnose::churn(&base.facts(), as_of, TOP);
        let mut names = Names::default();
        for r in &churn.moved_off_live_work_repeatedly {
            names.person(&base, &r.person_id);
            for m in &r.moves {
                names.unit(&base, &m.from_unit_id, m.date);
                names.unit(&base, &m.to_unit_id, m.date);
            }
        }
        for m in &churn.manager_changes_top {
            names.person(&base, &m.person_id);
        }
        for u in &churn.units_reorganised {
            names.unit(&base, &u.unit_id, as_of);
        }
        for f in &churn.flagpoles_without_people {
            if let Some(lead) = &f.lead_id {
                names.person(&base, lead);
            }
        }
        Ok(ChurnReport { churn, names })
    }

    /// Who works with whom across units (HR).
    pub fn collaboration(
        &self,
        actor: &Actor,
        q: &CollaborationQuery,
    ) -> AppResult<CollaborationReport> {
        authz::diagnose(actor)?;
        let to = q.to.unwrap_or_else(|| self.today());
        let from = q.from.unwrap_or_else(|| year_before(to));
        super::check_period(Some(from), Some(to))?;
        let base = self.diagnostics_base(None, None, Reads::Work)?;
        let collaboration = diagnose::collaboration(&base.facts(), from, to, q.as_of, q.depth, TOP);
        let mut names = Names::default();
        let on = q.as_of.unwrap_or(to);
        for e in &collaboration.matrix {
            names.unit(&base, &e.unit_id, on);
            names.unit(&base, &e.with_unit_id, on);
        }
        for s in &collaboration.silos {
            names.unit(&base, &s.unit_id, on);
        }
        for u in &collaboration.grid_units {
            names.unit(&base, u, on);
        }
        for b in &collaboration.bridges {
            names.person(&base, &b.person_id);
        }
        Ok(CollaborationReport {
            collaboration,
            names,
        })
    }

    /// The value tree's health (HR).
    pub fn tree_health(&self, actor: &Actor, q: &TreeHealthQuery) -> AppResult<TreeHealthReport> {
        authz::diagnose(actor)?;
        let as_of = q.as_of.unwrap_or_else(|| self.today());
        let to = q.to.unwrap_or(as_of);
        let from = q.from.unwrap_or_else(|| year_before(to));
        super::check_period(Some(from), Some(to))?;
        let base = self.diagnostics_base(Some(from), Some(to), Reads::WorkAndCredit)?;
        let health = diagnose::tree_health(&base.facts(), as_of, from, to);
        let titles = health
            .orphan_work
            .iter()
            .map(|o| &o.node_id)
            .chain(&health.needs_without_live_initiative)
            .chain(health.effort_and_value.iter().map(|e| &e.node_id))
            .chain(health.unattributed.iter().map(|u| &u.node_id))
            .filter_map(|id| Some((id.clone(), base.state.nodes.get(id)?.title.clone())))
            .collect();
        Ok(TreeHealthReport { health, titles })
    }

    /// A cycle's manager anomalies and rater leniency, as data (HR, the cycle's committee).
    pub fn rating_anomalies(&self, actor: &Actor, cycle_id: &str) -> AppResult<RatingAnomalies> {
        let state = self.cycle_state(cycle_id, false)?;
        authz::read_organisation(&state, actor, Some(cycle_id))?;
        // The session's figures and the raters' fit read the same state: side by side.
        let (session, fit) = std::thread::scope(|scope| {
            let fit = scope.spawn(|| -> AppResult<_> {
                let rows = crate::commands::calibration::cycle_ratings(&state, cycle_id)?;
                if rows.is_empty() {
                    return Ok((0, Vec::new()));
                }
                let report = crate::commands::calibration::calibration_of(
                    rows.iter().copied(),
                    None,
                    crate::commands::calibration::CalibrationModel::Full,
                    cycle_id,
                    crate::commands::calibration::cycle_scale(&state, cycle_id),
                )?;
                Ok((rows.len(), report.raters))
            });
            // Manager anomalies compare with the calibrated scores: none before calibration.
            let session = match self.session_of(&state, actor, cycle_id) {
                Ok(session) => Ok(Some(session)),
                Err(AppError::Invalid(_)) => Ok(None),
                Err(e) => Err(e),
            };
            (session, fit.join())
        });
        let session = session?;
        let (ratings, raters_fit) =
            fit.map_err(|_| AppError::Internal("fitting the raters failed".into()))??;
        let calibrated = session.is_some();
        let mut anomalies: Vec<ManagerAnomalyRow> = session
            .map(|s| s.session.anomalies)
            .unwrap_or_default()
            .into_iter()
            .map(|a| ManagerAnomalyRow {
                manager: PersonRef::of(&state, &a.manager_id),
                anomaly: a,
            })
            .collect();
        anomalies.sort_by(|a, b| {
            b.anomaly.flagged.cmp(&a.anomaly.flagged).then(
                b.anomaly
                    .mean_gap
                    .abs()
                    .total_cmp(&a.anomaly.mean_gap.abs()),
            )
        });
        let mut leniency: Vec<RaterLeniencyRow> = raters_fit
            .into_iter()
            .map(|r| RaterLeniencyRow {
                rater: PersonRef::of(&state, &r.rater_id),
                n_ratings: r.n_ratings,
                leniency: r.leniency,
                std_error: r.std_error,
                outlier: r.outlier,
            })
            .collect();
        let mut sorted: Vec<f64> = leniency.iter().map(|r| r.leniency).collect();
        sorted.sort_by(f64::total_cmp);
        let quantile = |q: f64| {
            if sorted.is_empty() {
                0.0
            } else {
                sorted[((sorted.len() - 1) as f64 * q).round() as usize]
            }
        };
        leniency.sort_by(|a, b| {
            b.outlier
                .cmp(&a.outlier)
                .then(b.leniency.abs().total_cmp(&a.leniency.abs()))
                .then(a.rater.person_id.cmp(&b.rater.person_id))
        });
        Ok(RatingAnomalies {
            cycle_id: cycle_id.to_string(),
            calibrated,
            ratings,
            raters: leniency.len(),
            managers: anomalies.len(),
            managers_flagged: anomalies.iter().filter(|a| a.anomaly.flagged).count(),
            manager_anomalies: anomalies,
            raters_outlying: leniency.iter().filter(|r| r.outlier).count(),
            leniency_spread: [quantile(0.1), quantile(0.5), quantile(0.9)],
            rater_leniency: leniency,
        })
    }

    /// What a reorganisation plan would do (HR); with `apply`, records it as assignment and
    /// unit events, all or nothing (HR or an administrator). `source` names the plan in
    /// messages.
    pub fn whatif(
        &self,
        actor: &Actor,
        rows: &[diagnose::PlanRow],
        source: &str,
        apply: bool,
    ) -> AppResult<WhatIfReport> {
        authz::diagnose(actor)?;
        if apply {
            authz::reorganise(actor)?;
        }
        let base = self.diagnostics_base(None, None, Reads::WorkAndCredit)?;
        let plan = diagnose::plan(&base.state, &base.timeline, rows)
            .map_err(|errors| plan_errors(errors, source))?;
        let whatif = diagnose::whatif(&base.facts(), rows, &plan);
        let mut names = Names::default();
        for m in &plan.moves {
            names.person(&base, &m.person_id);
            for id in m.from_manager_id.iter().chain(&m.to_manager_id) {
                names.person(&base, id);
            }
            for u in m.from_unit_id.iter().chain([&m.to_unit_id]) {
                names.unit(&base, u, m.date);
            }
        }
        let receipt = if apply {
            let (rows, source) = (rows.to_vec(), source.to_string());
            // Decided again under the writer lock, on the state the events go onto.
            Some(
                self.append_decided(actor, valuetree_store::Preload::None, move |state| {
                    let timeline = OrgTimeline::new(state);
                    let plan = diagnose::plan(state, &timeline, &rows)
                        .map_err(|errors| plan_errors(errors, &source))?;
                    Ok(plan.events)
                })?,
            )
        } else {
            None
        };
        Ok(WhatIfReport {
            applied: receipt.is_some(),
            whatif,
            moves: plan.moves,
            receipt,
            names,
        })
    }
}

/// `data` renumbered as `engine` numbers people and nodes (a warm engine that followed new
/// contributions numbers the newcomers in the order they came).
fn numbered_as(mut data: CreditData, engine: &Engine) -> AppResult<CreditData> {
    let unknown = |what: &str, id: &str| {
        AppError::Internal(format!(
            "the credit engine does not know {what} {id}; retry once the snapshot is current"
        ))
    };
    let people: Vec<u32> = data
        .people
        .iter()
        .map(|id| engine.find_person(id).ok_or_else(|| unknown("person", id)))
        .collect::<AppResult<_>>()?;
    let nodes: Vec<u32> = data
        .nodes
        .iter()
        .map(|n| {
            engine
                .find_node(&n.id)
                .ok_or_else(|| unknown("node", &n.id))
        })
        .collect::<AppResult<_>>()?;
    let mut renumbered = CreditData::default();
    for id in engine.people() {
        renumbered.person(id);
    }
    for n in engine.nodes() {
        renumbered.node(&n.id, &n.title);
    }
    renumbered.contributions = std::mem::take(&mut data.contributions);
    for c in &mut renumbered.contributions {
        c.person = people[c.person as usize];
        c.node = nodes[c.node as usize];
    }
    renumbered.outcomes = std::mem::take(&mut data.outcomes);
    for o in &mut renumbered.outcomes {
        o.node = nodes[o.node as usize];
    }
    Ok(renumbered)
}

fn plan_errors(errors: Vec<diagnose::PlanError>, source: &str) -> AppError {
    AppError::Rejected(
        errors
            .into_iter()
            .map(|e| FieldError {
                field: e.field.to_string(),
                value: None,
                reason: e.reason,
                file: Some(source.to_string()),
                line: Some(e.line as u64),
            })
            .collect(),
    )
}

fn year_before(to: NaiveDate) -> NaiveDate {
    to.checked_sub_months(chrono::Months::new(12))
        .and_then(|d| d.succ_opt())
        .unwrap_or(NaiveDate::MIN)
}
