//! Credit reports and payouts.

use super::{CreditLine, NodeRef, PersonRef, credit_line};
use crate::error::{AppError, AppResult};
use crate::{Actor, App, Page, Paged, authz};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use valuetree_core::NaiveDate;
use valuetree_core::credit::{PayoutInput, PayoutPolicy, Policy, payout};

/// What a credit report covers.
#[derive(Clone, Debug, Default)]
pub struct CreditQuery {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub person: Option<String>,
    pub node: Option<String>,
    pub explain: bool,
    /// Each person's credit by node as well (`PersonCredit::nodes`; one pass over every
    /// node's allocation, so asked for only where it is shown).
    pub by_node: bool,
    /// A policy to compute with instead of the one in force (a what-if).
    pub policy: Option<Policy>,
    pub page: Option<Page>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CreditReport {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// The outcomes counted: all of them, or, for one node, those whose value reaches it.
    pub outcomes: usize,
    pub value_realised: f64,
    pub credited: f64,
    pub unattributed: f64,
    pub people: Paged<PersonCredit>,
    pub nodes: Vec<NodeCredit>,
    pub explain: Vec<CreditLine>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PersonCredit {
    pub person: PersonRef,
    pub credit: f64,
    /// Share of everything credited in the report, in percent.
    pub share: f64,
    /// Where the credit came from, by node (when the query asked `by_node`).
    pub nodes: Vec<NodeShare>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeShare {
    pub node_id: String,
    pub credit: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeCredit {
    pub node: NodeRef,
    pub credited: f64,
    pub unattributed: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PayoutReport {
    pub budget: f64,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub policy: String,
    pub payouts: Vec<Payout>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Payout {
    pub person: PersonRef,
    pub payout: f64,
}

impl App {
    /// Credit from the value tree. Everyone's credit is for HR; one person's for whoever may
    /// see their private data; one node's breakdown is the work, open to all.
    pub fn credit_report(&self, actor: &Actor, q: &CreditQuery) -> AppResult<CreditReport> {
        super::check_period(q.from, q.to)?;
        let directory = self.directory(actor)?;
        let state = directory.state();
        let period = match (q.from, q.to) {
            (None, None) => None,
            (from, to) => Some((from.unwrap_or(NaiveDate::MIN), to.unwrap_or(NaiveDate::MAX))),
        };
        match (&q.person, &q.node) {
            (Some(person), _) => {
                if !directory.knows(person) {
                    return Err(AppError::not_found(
                        format!("person {person}"),
                        "`valuetree org` lists everyone",
                    ));
                }
                authz::read_credit_of(state, actor, person, period, self.today())?
            }
            (None, Some(_)) => authz::read_work(actor)?,
            (None, None) => authz::read_organisation(state, actor, None)?,
        }
        let engine = self.credit_engine_for(q.from, q.to, q.policy.as_ref())?;
        let node_index = |id: &str| {
            engine
                .nodes()
                .iter()
                .position(|n| n.id == id)
                .map(|i| i as u32)
        };
        let node_filter = match &q.node {
            Some(id) => match node_index(id) {
                Some(v) => Some(v),
                None => {
                    return Err(AppError::not_found(format!("node {id}"), ""));
                }
            },
            None => None,
        };
        let person_index = q.person.as_deref().and_then(|id| engine.find_person(id));
        let mut rows: Vec<(u32, f64)> = match (&q.node, node_filter) {
            (Some(_), Some(v)) => engine.node_allocation(v),
            (Some(_), None) => Vec::new(),
            (None, _) => (0..engine.people().len() as u32)
                .map(|p| (p, engine.credit(p)))
                .filter(|(_, c)| *c > 0.0)
                .collect(),
        };
        if q.person.is_some() {
            rows.retain(|(p, _)| Some(*p) == person_index);
        }
        rows.sort_by(|a, b| {
            b.1.total_cmp(&a.1)
                .then(engine.people()[a.0 as usize].cmp(&engine.people()[b.0 as usize]))
        });
        let (value, credited, unattributed) = match (&q.node, node_filter) {
            (Some(_), Some(v)) => {
                let (c, u) = engine.node_totals(v);
                (c + u, c, u)
            }
            (Some(_), None) => (0.0, 0.0, 0.0),
            (None, _) => (
                engine.total_value(),
                engine.total_credited(),
                engine.total_unattributed(),
            ),
        };
        let listed: HashSet<u32> = rows.iter().map(|(p, _)| *p).collect();
        let mut by_person: HashMap<u32, Vec<NodeShare>> = HashMap::new();
        for v in 0..engine.nodes().len() as u32 {
            if !q.by_node || node_filter.is_some_and(|only| only != v) {
                continue;
            }
            for (p, c) in engine.node_allocation(v) {
                if listed.contains(&p) && c > 0.0 {
                    by_person.entry(p).or_default().push(NodeShare {
                        node_id: engine.nodes()[v as usize].id.clone(),
                        credit: c,
                    });
                }
            }
        }
        let mut people: Vec<PersonCredit> = rows
            .iter()
            .map(|(p, c)| PersonCredit {
                person: directory.person(&engine.people()[*p as usize]),
                credit: *c,
                share: if credited > 0.0 {
                    100.0 * c / credited
                } else {
                    0.0
                },
                nodes: by_person.remove(p).unwrap_or_default(),
            })
            .collect();
        if let (Some(id), true) = (&q.person, people.is_empty()) {
            people.push(PersonCredit {
                person: directory.person(id),
                credit: 0.0,
                share: 0.0,
                nodes: Vec::new(),
            });
        }
        let nodes = (0..engine.nodes().len() as u32)
            .filter(|v| q.node.is_none() || node_filter == Some(*v))
            .filter_map(|v| {
                let (c, u) = engine.node_totals(v);
                let n = &engine.nodes()[v as usize];
                (c + u > 0.0).then(|| NodeCredit {
                    node: NodeRef {
                        node_id: n.id.clone(),
                        title: n.title.clone(),
                    },
                    credited: c,
                    unattributed: u,
                })
            })
            .collect();
        let explain = if q.explain {
            let lines = match node_filter {
                Some(v) => engine.explain_node(v),
                None => engine.explain(&|p| listed.contains(&p)),
            };
            lines
                .iter()
                .filter(|line| listed.contains(&line.person))
                .map(|line| credit_line(|id| directory.person(id), &engine, line))
                .collect()
        } else {
            Vec::new()
        };
        Ok(CreditReport {
            from: q.from,
            to: q.to,
            outcomes: match node_filter {
                Some(v) => engine.outcomes_reaching(v),
                None => engine.outcomes().len(),
            },
            value_realised: value,
            credited,
            unattributed,
            people: q.page.unwrap_or(Page::ALL).cut(people),
            nodes,
            explain,
        })
    }

    /// A reward budget shared by credit (HR).
    #[allow(clippy::too_many_arguments)]
    pub fn payout(
        &self,
        actor: &Actor,
        budget: f64,
        from: NaiveDate,
        to: NaiveDate,
        kind: PayoutPolicy,
        paid: &HashMap<String, f64>,
        policy: Option<&Policy>,
    ) -> AppResult<PayoutReport> {
        super::check_period(Some(from), Some(to))?;
        let directory = self.directory(actor)?;
        authz::read_organisation(directory.state(), actor, None)?;
        if !(budget.is_finite() && budget >= 0.0) {
            return Err(AppError::invalid(
                "the budget must be a number of zero or more",
            ));
        }
        if from > to {
            return Err(AppError::invalid(format!("{from} is after {to}")));
        }
        let period = self.credit_engine_for(Some(from), Some(to), policy)?;
        let lifetime = self.credit_engine_for(None, Some(to), policy)?;
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
        let mut amounts: Vec<(String, f64)> = payout(&inputs, budget, kind)
            .into_iter()
            .filter(|(_, a)| *a > 0.0)
            .collect();
        amounts.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(PayoutReport {
            budget,
            from,
            to,
            policy: match kind {
                PayoutPolicy::Balanced => "balanced".into(),
                PayoutPolicy::Immediate => "immediate".into(),
            },
            payouts: amounts
                .into_iter()
                .map(|(id, payout)| Payout {
                    person: directory.person(&id),
                    payout,
                })
                .collect(),
        })
    }
}
