//! Who should review whom: found in the ledger, not in the org chart.
//!
//! For a person and a cycle, the candidates are the people the ledger says they worked with
//! during the cycle's period:
//! - **peers**: contributors to the same nodes in the period, ranked by effort overlap
//!   (the smaller of the two efforts on each shared node), and members of the same node at the
//!   same time;
//! - **leads**: the lead of every node the person contributed to (as of the contribution);
//! - **managers**: *every* manager the person had in the period, weighted by the days;
//! - **customers**: the leads of, and contributors to, the parent nodes the person's work fed;
//! - **reports** (upward feedback): the people who reported to the person in the period.
//!
//! Each candidate carries its reasons as data (`Reason`, which says itself in words). The ranking keeps the strongest of each kind
//! of source first, so that a short list still has the cycle's minimum spread of sources.

use super::{CycleRecord, ReviewerChoice};
use crate::domain::{Contribution, PersonId, Relationship};
use crate::state::State;
use chrono::NaiveDate;
use std::collections::{BTreeMap, HashMap};

/// A suggested (or chosen) reviewer.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Suggestion {
    pub reviewer_id: PersonId,
    pub relationship: Relationship,
    /// Strength of the working relationship (effort units, or days for managers and reports,
    /// scaled to be comparable); the ranking key.
    pub weight: f64,
    /// Why, as data; `Display` says it in words.
    pub reasons: Vec<Reason>,
    /// Set when the person or a manager added or removed this reviewer.
    pub choice: Option<ReviewerChoice>,
}

/// A node named in a reason: id and title.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct NodeLabel {
    pub node_id: String,
    pub title: String,
}

impl std::fmt::Display for NodeLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.title.is_empty() {
            write!(f, "{}", self.node_id)
        } else {
            write!(f, "'{}' ({})", self.title, self.node_id)
        }
    }
}

/// Why someone is suggested (or was chosen) as a reviewer.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// Member of the same node at the same time.
    SharedMembership {
        node: NodeLabel,
        from: NaiveDate,
        to: NaiveDate,
        days: i64,
    },
    /// Led a node the person contributed to.
    LedNode {
        node: NodeLabel,
        effort: f64,
        first: NaiveDate,
        last: NaiveDate,
    },
    /// Contributed to the same node in the period.
    WorkedTogether {
        node: NodeLabel,
        first: NaiveDate,
        last: NaiveDate,
        yours: f64,
        theirs: f64,
    },
    /// Leads a node the person's work feeds.
    LeadsParent {
        parent: NodeLabel,
        fed: Vec<NodeLabel>,
    },
    /// Contributed to a node the person's work feeds.
    ContributedToParent {
        parent: NodeLabel,
        effort: f64,
        fed: Vec<NodeLabel>,
    },
    /// Managed the person during the cycle.
    WasManager { days: i64, period_days: f64 },
    /// Reported to the person during the cycle.
    ReportedTo { days: i64 },
    /// Added or removed by hand.
    Chosen {
        included: bool,
        by: PersonId,
        reason: String,
    },
}

fn labels(nodes: &[NodeLabel]) -> String {
    nodes
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::SharedMembership {
                node,
                from,
                to,
                days,
            } => write!(
                f,
                "member of {node} with you from {from} to {to} ({days} days)"
            ),
            Reason::LedNode {
                node,
                effort,
                first,
                last,
            } => write!(
                f,
                "led {node}, where you contributed {effort} effort units in {}",
                month_span(*first, *last)
            ),
            Reason::WorkedTogether {
                node,
                first,
                last,
                yours,
                theirs,
            } => write!(
                f,
                "worked with you on {node} in {}: you {yours}, they {theirs} effort units",
                month_span(*first, *last)
            ),
            Reason::LeadsParent { parent, fed } => {
                write!(
                    f,
                    "leads {parent}, which your work on {} feeds",
                    labels(fed)
                )
            }
            Reason::ContributedToParent {
                parent,
                effort,
                fed,
            } => write!(
                f,
                "contributed {effort} effort units to {parent}, which your work on {} feeds",
                labels(fed)
            ),
            Reason::WasManager { days, period_days } => {
                write!(
                    f,
                    "was your manager for {days} of the cycle's {period_days} days"
                )
            }
            Reason::ReportedTo { days } => {
                write!(f, "reported to you for {days} days of the cycle")
            }
            Reason::Chosen {
                included,
                by,
                reason,
            } => write!(
                f,
                "{} by {by}: {reason}",
                if *included { "added" } else { "removed" }
            ),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Suggestions {
    /// Included reviewers, strongest first.
    pub reviewers: Vec<Suggestion>,
    /// Candidates left off the list or removed by hand, with why.
    pub left_out: Vec<Suggestion>,
    /// The distinct kinds of sources among the included reviewers.
    pub kinds: usize,
    /// Set when the ledger does not offer the cycle's minimum spread of sources.
    pub spread_warning: Option<String>,
}

/// Days of `[from, to]` (inclusive) that fall in `[start, end]` (inclusive; `end` open if None).
fn overlap_days(from: NaiveDate, to: Option<NaiveDate>, start: NaiveDate, end: NaiveDate) -> i64 {
    let lo = from.max(start);
    let hi = to.map_or(end, |t| t.min(end));
    ((hi - lo).num_days() + 1).max(0)
}

/// Lower is more specific: manager, lead, report, customer, peer.
fn specificity(r: Relationship) -> u8 {
    match r {
        Relationship::Manager => 0,
        Relationship::Lead => 1,
        Relationship::Report => 2,
        Relationship::Customer => 3,
        Relationship::Peer | Relationship::SelfReview => 4,
    }
}

fn month_span(first: NaiveDate, last: NaiveDate) -> String {
    let (a, b) = (first.format("%b %Y"), last.format("%b %Y"));
    if a.to_string() == b.to_string() {
        a.to_string()
    } else {
        format!("{a}–{b}")
    }
}

impl State {
    /// The person's managers in `[start, end]`, with the days each one managed them.
    pub fn managers_during(
        &self,
        person: &str,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Vec<(PersonId, i64)> {
        let mut days: BTreeMap<PersonId, i64> = BTreeMap::new();
        let range = (person.to_string(), NaiveDate::MIN)..=(person.to_string(), NaiveDate::MAX);
        for assignment in self.assignments.range(range).map(|(_, a)| a) {
            if let Some(manager) = &assignment.record.manager_id {
                let d = overlap_days(
                    assignment.record.valid_from,
                    assignment.valid_to,
                    start,
                    end,
                );
                if d > 0 {
                    *days.entry(manager.clone()).or_default() += d;
                }
            }
        }
        days.into_iter().collect()
    }

    /// The node's lead on `date`: the receiving lead of the latest hand-over on or before it,
    /// or the lead recorded on the node.
    pub fn lead_on(&self, node_id: &str, date: NaiveDate) -> Option<&PersonId> {
        let range = (node_id.to_string(), NaiveDate::MIN)..=(node_id.to_string(), date);
        self.handovers
            .range(range)
            .rev()
            .find_map(|(_, h)| h.to_lead_id.as_ref())
            .or_else(|| self.nodes.get(node_id).and_then(|n| n.lead_id.as_ref()))
    }

    /// Ranked reviewer suggestions for `person` in `cycle`; `limit` caps the included list.
    pub fn suggest_reviewers(
        &self,
        cycle: &CycleRecord,
        person: &str,
        limit: usize,
    ) -> Suggestions {
        self.suggest_reviewers_among(self.contributions.values(), cycle, person, limit)
    }

    /// [`State::suggest_reviewers`] over the contributions given rather than those the state
    /// holds: whoever asks for many people's lists loads the work concerned once and keeps
    /// the master data shared.
    pub fn suggest_reviewers_among<'c>(
        &self,
        contributions: impl Iterator<Item = &'c Contribution> + Clone,
        cycle: &CycleRecord,
        person: &str,
        limit: usize,
    ) -> Suggestions {
        let (start, end) = (cycle.starts_on, cycle.ends_on);
        let mut candidates: HashMap<(PersonId, Relationship), Suggestion> = HashMap::new();
        let mut add = |who: &PersonId, relationship: Relationship, weight: f64, reason: Reason| {
            if who == person {
                return;
            }
            let entry = candidates
                .entry((who.clone(), relationship))
                .or_insert_with(|| Suggestion {
                    reviewer_id: who.clone(),
                    relationship,
                    weight: 0.0,
                    reasons: Vec::new(),
                    choice: None,
                });
            entry.weight += weight;
            entry.reasons.push(reason);
        };

        // The person's work in the period, per node: effort and the months it spans.
        let mut own: BTreeMap<&str, (f64, NaiveDate, NaiveDate)> = BTreeMap::new();
        for c in contributions.clone() {
            let r = &c.record;
            if r.person_id == person && c.retracted_on.is_none() && cycle.covers(r.date) {
                let e = own
                    .entry(r.node_id.as_str())
                    .or_insert((0.0, r.date, r.date));
                e.0 += r.effort.value();
                e.1 = e.1.min(r.date);
                e.2 = e.2.max(r.date);
            }
        }
        // Everyone's effort in the period on the nodes the person worked on, or that their
        // work fed (the parents).
        let mut parents: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for edge in self.edges.values() {
            if own.contains_key(edge.child_id.as_str())
                && edge.valid_from.is_none_or(|f| f <= end)
                && edge.valid_to.is_none_or(|t| t >= start)
            {
                parents
                    .entry(edge.parent_id.as_str())
                    .or_default()
                    .push(edge.child_id.as_str());
            }
        }
        let mut others: HashMap<(&str, &str), f64> = HashMap::new();
        for c in contributions.clone() {
            let r = &c.record;
            let relevant =
                own.contains_key(r.node_id.as_str()) || parents.contains_key(r.node_id.as_str());
            if relevant && r.person_id != person && c.retracted_on.is_none() && cycle.covers(r.date)
            {
                *others
                    .entry((r.node_id.as_str(), r.person_id.as_str()))
                    .or_default() += r.effort.value();
            }
        }
        let title = |node: &str| NodeLabel {
            node_id: node.to_string(),
            title: self
                .nodes
                .get(node)
                .map_or(String::new(), |n| n.title.clone()),
        };

        // Members of the same node at the same time in the period, whether or not both
        // recorded contributions: a week of overlap counts like one effort unit.
        let mine: Vec<&crate::domain::MemberRecord> = self
            .members
            .values()
            .filter(|m| m.person_id == person)
            .collect();
        for m in &mine {
            let (from, to) = (
                m.joined_on.max(start),
                m.left_on.map_or(end, |l| l.min(end)),
            );
            if from > to {
                continue;
            }
            let range = (m.node_id.clone(), String::new(), NaiveDate::MIN)..;
            for other in self
                .members
                .range(range)
                .take_while(|(k, _)| k.0 == m.node_id)
                .map(|(_, o)| o)
                .filter(|o| o.person_id != person)
            {
                let days = overlap_days(other.joined_on, other.left_on, from, to);
                if days > 0 {
                    let (a, b) = (
                        other.joined_on.max(from),
                        other.left_on.map_or(to, |l| l.min(to)),
                    );
                    add(
                        &other.person_id,
                        Relationship::Peer,
                        days as f64 / 7.0,
                        Reason::SharedMembership {
                            node: title(&m.node_id),
                            from: a,
                            to: b,
                            days,
                        },
                    );
                }
            }
        }

        for (node, &(effort, first, last)) in &own {
            if let Some(lead) = self.lead_on(node, last) {
                add(
                    lead,
                    Relationship::Lead,
                    effort,
                    Reason::LedNode {
                        node: title(node),
                        effort,
                        first,
                        last,
                    },
                );
            }
            let mut peers: Vec<(&str, f64)> = others
                .iter()
                .filter(|((n, _), _)| n == node)
                .map(|((_, p), e)| (*p, *e))
                .collect();
            peers.sort_by(|a, b| a.0.cmp(b.0));
            for (peer, their) in peers {
                add(
                    &peer.to_string(),
                    Relationship::Peer,
                    effort.min(their),
                    Reason::WorkedTogether {
                        node: title(node),
                        first,
                        last,
                        yours: effort,
                        theirs: their,
                    },
                );
            }
        }
        for (parent, children) in &parents {
            let fed: Vec<NodeLabel> = children.iter().map(|c| title(c)).collect();
            if let Some(lead) = self.lead_on(parent, end) {
                add(
                    lead,
                    Relationship::Customer,
                    1.0,
                    Reason::LeadsParent {
                        parent: title(parent),
                        fed: fed.clone(),
                    },
                );
            }
            let mut contributors: Vec<(&str, f64)> = others
                .iter()
                .filter(|((n, _), _)| n == parent)
                .map(|((_, p), e)| (*p, *e))
                .collect();
            contributors.sort_by(|a, b| a.0.cmp(b.0));
            for (who, effort) in contributors {
                add(
                    &who.to_string(),
                    Relationship::Customer,
                    effort.min(1.0),
                    Reason::ContributedToParent {
                        parent: title(parent),
                        effort,
                        fed: fed.clone(),
                    },
                );
            }
        }
        let period_days = ((end - start).num_days() + 1).max(1) as f64;
        // A manager for the whole period weighs like a close peer: scale days to effort units
        // by the person's own effort in the period (at least 1).
        let own_effort: f64 = own.values().map(|(e, _, _)| e).sum::<f64>().max(1.0);
        for (manager, days) in self.managers_during(person, start, end) {
            add(
                &manager,
                Relationship::Manager,
                own_effort * days as f64 / period_days,
                Reason::WasManager { days, period_days },
            );
        }
        for assignment in self.assignments.values() {
            if assignment.record.manager_id.as_deref() == Some(person) {
                let days = overlap_days(
                    assignment.record.valid_from,
                    assignment.valid_to,
                    start,
                    end,
                );
                if days > 0 {
                    add(
                        &assignment.record.person_id,
                        Relationship::Report,
                        own_effort * days as f64 / period_days / 2.0,
                        Reason::ReportedTo { days },
                    );
                }
            }
        }

        let mut all: Vec<Suggestion> = candidates.into_values().collect();
        // The strongest relationship per person; the others' reasons join it.
        all.sort_by(|a, b| {
            b.weight
                .total_cmp(&a.weight)
                .then_with(|| a.reviewer_id.cmp(&b.reviewer_id))
        });
        let mut by_person: BTreeMap<PersonId, Suggestion> = BTreeMap::new();
        let mut order = Vec::new();
        for s in all {
            match by_person.get_mut(&s.reviewer_id) {
                Some(best) => {
                    // The most specific relationship names the reviewer (a lead who also
                    // worked beside the person is asked as the lead).
                    if specificity(s.relationship) < specificity(best.relationship) {
                        best.relationship = s.relationship;
                    }
                    best.weight += s.weight;
                    best.reasons.extend(s.reasons);
                }
                None => {
                    order.push(s.reviewer_id.clone());
                    by_person.insert(s.reviewer_id.clone(), s);
                }
            }
        }
        let ranked: Vec<Suggestion> = order.iter().filter_map(|id| by_person.remove(id)).collect();
        self.choose(cycle, person, ranked, limit)
    }

    /// Applies the hand-made choices and picks the list: the strongest of each kind of source
    /// first (for the minimum spread), then by strength.
    fn choose(
        &self,
        cycle: &CycleRecord,
        person: &str,
        mut ranked: Vec<Suggestion>,
        limit: usize,
    ) -> Suggestions {
        let choices = self
            .reviews
            .reviewers
            .range((cycle.cycle_id.clone(), person.to_string(), String::new())..)
            .take_while(|((c, p, _), _)| *c == cycle.cycle_id && p == person);
        let mut forced = Vec::new();
        for (_, choice) in choices {
            let id = &choice.change.reviewer_id;
            match ranked.iter_mut().find(|s| &s.reviewer_id == id) {
                Some(s) => s.choice = Some(choice.clone()),
                None => forced.push(Suggestion {
                    reviewer_id: id.clone(),
                    relationship: Relationship::Peer,
                    weight: 0.0,
                    reasons: vec![],
                    choice: Some(choice.clone()),
                }),
            }
        }
        ranked.extend(forced);
        for s in &mut ranked {
            if let Some(choice) = &s.choice {
                s.reasons.push(Reason::Chosen {
                    included: choice.included,
                    by: choice.change.by.clone(),
                    reason: choice.change.reason.clone(),
                });
            }
        }
        let (removed, candidates): (Vec<Suggestion>, Vec<Suggestion>) = ranked
            .into_iter()
            .partition(|s| s.choice.as_ref().is_some_and(|c| !c.included));
        let (added, candidates): (Vec<Suggestion>, Vec<Suggestion>) = candidates
            .into_iter()
            .partition(|s| s.choice.as_ref().is_some_and(|c| c.included));

        let mut picked: Vec<Suggestion> = added;
        let mut rest = Vec::new();
        let mut seen_kinds: Vec<Relationship> = picked.iter().map(|s| s.relationship).collect();
        // First pass: the strongest candidate of each kind not yet represented.
        for s in candidates {
            if !seen_kinds.contains(&s.relationship) && picked.len() < limit {
                seen_kinds.push(s.relationship);
                picked.push(s);
            } else {
                rest.push(s);
            }
        }
        let mut left_out = Vec::new();
        for s in rest {
            if picked.len() < limit {
                picked.push(s);
            } else {
                left_out.push(s);
            }
        }
        left_out.extend(removed);
        picked.sort_by(|a, b| {
            b.weight
                .total_cmp(&a.weight)
                .then_with(|| a.reviewer_id.cmp(&b.reviewer_id))
        });
        let mut kinds: Vec<Relationship> = picked.iter().map(|s| s.relationship).collect();
        kinds.sort();
        kinds.dedup();
        let spread_warning = (kinds.len() < cycle.min_sources as usize).then(|| {
            format!(
                "only {} kind(s) of source ({}) found in the ledger; cycle {} asks for at least {}: add a reviewer by hand",
                kinds.len(),
                kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", "),
                cycle.cycle_id,
                cycle.min_sources
            )
        });
        Suggestions {
            reviewers: picked,
            left_out,
            kinds: kinds.len(),
            spread_warning,
        }
    }
}
