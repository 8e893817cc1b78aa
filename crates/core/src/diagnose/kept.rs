//! Credit kept: each person's credit under valuetree beside the team view's (what an org-chart
//! tool would give them), with why they were off the team where they were.

use super::timeline::{LeadUnitTeams, OrgTimeline};
use crate::credit::{Day, Engine, TeamView, date_of};
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::BTreeMap;

/// Why a contributor did not count for the team view when value reached the node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OffTeamReason {
    /// No longer employed on the outcome's date.
    Left,
    /// In the lead's unit when they contributed, elsewhere on the outcome's date (they moved,
    /// or the lead's unit did).
    Moved,
    /// The node had a new lead by the outcome's date, in another unit.
    HandedOver,
    /// The node's lead had left (or had no unit) by the outcome's date: an org-chart tool
    /// has no team to credit.
    LeadLeft,
    /// Not in the lead's unit even when they contributed: cross-unit work, which an org-chart
    /// tool never credits.
    OtherUnit,
}

impl OffTeamReason {
    pub fn as_str(self) -> &'static str {
        match self {
            OffTeamReason::Left => "left",
            OffTeamReason::Moved => "moved",
            OffTeamReason::HandedOver => "handed_over",
            OffTeamReason::LeadLeft => "lead_left",
            OffTeamReason::OtherUnit => "other_unit",
        }
    }
}

/// One person's credit from one node, where the two views differ.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KeptAtNode {
    pub node_id: String,
    pub credit: f64,
    pub team_view_credit: f64,
    pub kept: f64,
    /// Why they were off the team (`None`: they never were; the team view gives them more or
    /// less because others were).
    pub reason: Option<OffTeamReason>,
    /// The first outcome date on which value reached the node while they were off the team.
    pub off_team_from: Option<NaiveDate>,
    /// Their contribution that value found them off the team for.
    pub contribution_date: Option<NaiveDate>,
    /// The change that took them off the team: the day after they left, the hand-over, or
    /// the move (theirs or the lead's). `None` for cross-unit work.
    pub cause_date: Option<NaiveDate>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PersonKept {
    pub person_id: String,
    pub credit: f64,
    pub team_view_credit: f64,
    /// `credit − team_view_credit`.
    pub kept: f64,
    /// The reasons among `nodes`, each once.
    pub reasons: Vec<OffTeamReason>,
    /// The nodes where the views differ, largest kept first.
    pub nodes: Vec<KeptAtNode>,
}

/// Everyone's kept credit over the engine's outcomes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KeptCredit {
    pub value_realised: f64,
    pub unattributed: f64,
    pub team_view_unattributed: f64,
    /// Everyone with credit under either view, most kept first.
    pub people: Vec<PersonKept>,
}

/// Computes the team view of `engine` under `timeline` and sets it beside valuetree's.
pub fn kept_credit(engine: &Engine, timeline: &OrgTimeline) -> KeptCredit {
    let nodes: Vec<String> = engine.nodes().iter().map(|n| n.id.clone()).collect();
    let rule = LeadUnitTeams::new(timeline, engine.people(), &nodes);
    let team = engine.team_view(&rule);
    compare(engine, &rule, &team)
}

fn compare(engine: &Engine, rule: &LeadUnitTeams<'_>, team: &TeamView) -> KeptCredit {
    let mut by_person: BTreeMap<u32, Vec<KeptAtNode>> = BTreeMap::new();
    for d in &team.differences {
        let (reason, cause) = match (d.off_team_from, d.contribution_date) {
            (Some(off), Some(contributed)) => {
                let (reason, cause) = why_off_team(rule, d.node, d.person, contributed, off);
                (Some(reason), cause)
            }
            _ => (None, None),
        };
        by_person.entry(d.person).or_default().push(KeptAtNode {
            node_id: rule.node_id(d.node).to_string(),
            credit: d.credit,
            team_view_credit: d.team_credit,
            kept: d.credit - d.team_credit,
            reason,
            off_team_from: d.off_team_from.map(date_of),
            contribution_date: d.contribution_date.map(date_of),
            cause_date: cause.map(date_of),
        });
    }
    let mut people = Vec::new();
    for (p, id) in engine.people().iter().enumerate() {
        let credit = engine.credit(p as u32);
        let team_credit = team.credit.get(p).copied().unwrap_or(0.0);
        if credit == 0.0 && team_credit == 0.0 {
            continue;
        }
        let mut nodes = by_person.remove(&(p as u32)).unwrap_or_default();
        nodes.sort_by(|a, b| b.kept.total_cmp(&a.kept).then(a.node_id.cmp(&b.node_id)));
        let mut reasons: Vec<OffTeamReason> = nodes.iter().filter_map(|n| n.reason).collect();
        reasons.sort_unstable();
        reasons.dedup();
        people.push(PersonKept {
            person_id: id.clone(),
            credit,
            team_view_credit: team_credit,
            kept: credit - team_credit,
            reasons,
            nodes,
        });
    }
    people.sort_by(|a, b| {
        b.kept
            .total_cmp(&a.kept)
            .then(a.person_id.cmp(&b.person_id))
    });
    KeptCredit {
        value_realised: engine.total_value(),
        unattributed: engine.total_unattributed(),
        team_view_unattributed: team.unattributed,
        people,
    }
}

/// Why a person who counted for valuetree was off the team on `off`, for their contribution
/// of `contributed`; and the day of the change that took them off.
fn why_off_team(
    rule: &LeadUnitTeams<'_>,
    node: u32,
    person: u32,
    contributed: Day,
    off: Day,
) -> (OffTeamReason, Option<Day>) {
    let timeline = rule.timeline;
    let node_id = rule.node_id(node);
    let Some(who) = rule.person(person) else {
        return (OffTeamReason::OtherUnit, None);
    };
    let line = timeline.line(who);
    if !line.employed_on(off) {
        return (OffTeamReason::Left, line.left.map(|l| l + 1));
    }
    if !rule.counts(node, person, contributed) {
        return (OffTeamReason::OtherUnit, None);
    }
    let within = |d: &Day| contributed < *d && *d <= off;
    let lead = timeline.lead_on(node_id, off);
    if let Some(lead) = lead
        && timeline.unit_on(lead, off).is_none()
    {
        let line = timeline.line(lead);
        let gone = line.left.map(|l| l + 1).filter(within);
        return (OffTeamReason::LeadLeft, gone);
    }
    if lead.is_none() {
        return (OffTeamReason::LeadLeft, None);
    }
    if timeline.lead_on(node_id, contributed) != lead {
        let handed = timeline
            .handover_days(node_id)
            .iter()
            .copied()
            .filter(within)
            .max();
        return (OffTeamReason::HandedOver, handed);
    }
    let lead_stints = lead.map_or(&[][..], |l| timeline.line(l).stints.as_slice());
    let cause = line
        .stints
        .iter()
        .chain(lead_stints)
        .map(|s| s.from)
        .filter(within)
        .max();
    (OffTeamReason::Moved, cause)
}

/// Totals of a group of people or of kept lines.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct KeptTotals {
    pub people: usize,
    pub credit: f64,
    pub team_view_credit: f64,
    pub kept: f64,
}

/// Kept credit by unit: each person counted in `unit_of` them (their unit on the report's
/// date, or their last one).
pub fn kept_by_unit(
    kept: &KeptCredit,
    unit_of: impl Fn(&str) -> Option<String>,
) -> Vec<(Option<String>, KeptTotals)> {
    let mut units: BTreeMap<Option<String>, KeptTotals> = BTreeMap::new();
    for p in &kept.people {
        let t = units.entry(unit_of(&p.person_id)).or_default();
        t.people += 1;
        t.credit += p.credit;
        t.team_view_credit += p.team_view_credit;
        t.kept += p.kept;
    }
    let mut out: Vec<_> = units.into_iter().collect();
    out.sort_by(|a, b| b.1.kept.total_cmp(&a.1.kept).then(a.0.cmp(&b.0)));
    out
}

/// What took the credit off the team: a reorganisation (by date), or something else.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeptCause {
    /// A reorganisation date (see `org::reorganisations`).
    Reorganisation,
    /// A move on a date that is no reorganisation (one person alone).
    IndividualMove,
    HandOver,
    /// The person left, or the node's lead did.
    Departure,
    CrossUnitWork,
    /// What the team view gives more to the people who stayed (negative kept).
    StayedOnTheTeam,
}

impl KeptCause {
    pub fn as_str(&self) -> &'static str {
        match self {
            KeptCause::Reorganisation => "reorganisation",
            KeptCause::IndividualMove => "individual_move",
            KeptCause::HandOver => "hand_over",
            KeptCause::Departure => "departure",
            KeptCause::CrossUnitWork => "cross_unit_work",
            KeptCause::StayedOnTheTeam => "stayed_on_the_team",
        }
    }
}

/// Kept credit by cause: each node line's kept amount under the reorganisation on its cause
/// date, or under the other causes. The groups sum to the total kept.
pub fn kept_by_cause(
    kept: &KeptCredit,
    reorganisation_days: &[NaiveDate],
) -> Vec<(KeptCause, Option<NaiveDate>, KeptTotals)> {
    type Group<'k> = (KeptTotals, Vec<&'k str>);
    let mut groups: BTreeMap<(KeptCause, Option<NaiveDate>), Group<'_>> = BTreeMap::new();
    for p in &kept.people {
        for n in &p.nodes {
            let key = match (n.reason, n.cause_date) {
                (_, Some(date)) if reorganisation_days.binary_search(&date).is_ok() => {
                    (KeptCause::Reorganisation, Some(date))
                }
                (Some(OffTeamReason::Left | OffTeamReason::LeadLeft), date) => {
                    (KeptCause::Departure, date)
                }
                (Some(OffTeamReason::HandedOver), date) => (KeptCause::HandOver, date),
                (Some(OffTeamReason::Moved), date) => (KeptCause::IndividualMove, date),
                (Some(OffTeamReason::OtherUnit), _) => (KeptCause::CrossUnitWork, None),
                (None, _) => (KeptCause::StayedOnTheTeam, None),
            };
            // Per-date groups only for reorganisations; the other causes are totals.
            let key = match key.0 {
                KeptCause::Reorganisation => key,
                cause => (cause, None),
            };
            let (t, who) = groups.entry(key).or_default();
            t.credit += n.credit;
            t.team_view_credit += n.team_view_credit;
            t.kept += n.kept;
            who.push(&p.person_id);
        }
    }
    groups
        .into_iter()
        .map(|((cause, date), (mut t, mut who))| {
            who.sort_unstable();
            who.dedup();
            t.people = who.len();
            (cause, date, t)
        })
        .collect()
}
