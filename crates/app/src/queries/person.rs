//! A person's record: everything valuetree knows about them, across every reorganisation,
//! with the private parts shown as the viewer may see them.

use super::{NodeRef, PersonRef, PlacementView, UnitRef};
use crate::authz::{self, PrivateAccess};
use crate::error::{AppError, AppResult};
use crate::{Actor, App, ContributionFilter, Page, Paged};
use serde::Serialize;
use std::collections::BTreeMap;
use valuetree_core::NaiveDate;
use valuetree_core::domain::{Contribution, NodeKind, NodeStatus, Phase};
use valuetree_core::org;
use valuetree_core::review::feedback::{FeedbackView, feedback_for};
use valuetree_core::review::{RatingRecord, RatingStatus};
use valuetree_store::By;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PersonRecordView {
    pub person: PersonRef,
    pub email: Option<String>,
    pub joined_on: NaiveDate,
    pub left_on: Option<NaiveDate>,
    pub as_of: NaiveDate,
    /// Where the person stands on `as_of` (none if not employed then).
    pub placement: Option<PlacementView>,
    /// Every unit and manager, oldest first.
    pub history: Vec<HistoryItem>,
    /// The nodes contributed to, by phase: kept through every reorganisation.
    pub work: Vec<NodeWork>,
    /// Every contribution, newest last; a page of them when the query asks for one.
    pub contributions: Paged<ContributionView>,
    pub memberships: Vec<MembershipView>,
    /// Nodes the person leads now.
    pub leads: Vec<LedNode>,
    /// The hand-overs the person gave or received, oldest first.
    pub handovers: Vec<PersonHandover>,
    /// Ratings, feedback and credit, as this viewer may see them (`None`: none at all).
    pub private: Option<PrivateRecord>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HistoryItem {
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub unit: UnitRef,
    pub manager: Option<PersonRef>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeWork {
    pub node: NodeRef,
    pub phase: Phase,
    pub contributions: usize,
    pub effort: f64,
    pub first: NaiveDate,
    pub last: NaiveDate,
    pub retracted: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ContributionView {
    pub contribution_id: String,
    pub person: PersonRef,
    pub node: NodeRef,
    pub phase: Phase,
    pub date: NaiveDate,
    pub effort: f64,
    pub description: String,
    pub evidence: Option<String>,
    pub confirmed: bool,
    pub confirmed_on: Option<NaiveDate>,
    pub retracted_on: Option<NaiveDate>,
    pub retraction_reason: Option<String>,
}

impl ContributionView {
    pub fn of(state: &valuetree_core::state::State, c: &Contribution) -> ContributionView {
        ContributionView {
            contribution_id: c.record.contribution_id.clone(),
            person: PersonRef::of(state, &c.record.person_id),
            node: NodeRef::of(state, &c.record.node_id),
            phase: c.record.phase,
            date: c.record.date,
            effort: c.record.effort.value(),
            description: c.record.description.clone(),
            evidence: c.record.evidence.clone(),
            confirmed: c.is_confirmed(),
            confirmed_on: c.confirmed_on,
            retracted_on: c.retracted_on,
            retraction_reason: c.retraction_reason.clone(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MembershipView {
    pub node: NodeRef,
    pub role: String,
    pub joined_on: NaiveDate,
    pub left_on: Option<NaiveDate>,
}

/// A node handed over by or to the person.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PersonHandover {
    pub date: NaiveDate,
    pub node: NodeRef,
    pub from: Option<PersonRef>,
    pub to: Option<PersonRef>,
    pub note: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LedNode {
    pub node: NodeRef,
    pub kind: NodeKind,
    pub status: NodeStatus,
}

/// The private part of a record, as the viewer may see it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PrivateRecord {
    /// `own` (the person: peer feedback aggregated), `full` (manager, HR, operator) or
    /// `period` (a former manager: the cycles of their period only).
    pub access: String,
    /// Credit over every outcome (only when asked for).
    pub credit: Option<f64>,
    pub cycles: Vec<CycleRatings>,
}

/// One cycle's ratings of the person: every rating for a manager or HR, the feedback view
/// for the person themself.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CycleRatings {
    pub cycle_id: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub ratings: Vec<RatingView>,
    pub feedback: Option<FeedbackView>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RatingView {
    pub rater: PersonRef,
    pub relationship: String,
    pub dimension: String,
    pub score: f64,
    pub comment: String,
    pub status: RatingStatus,
}

impl RatingView {
    pub fn of(state: &valuetree_core::state::State, r: &RatingRecord) -> RatingView {
        RatingView {
            rater: PersonRef::of(state, &r.rater_id),
            relationship: r.relationship.to_string(),
            dimension: r.dimension.clone(),
            score: r.score.value(),
            comment: r.comment.clone(),
            status: r.status,
        }
    }
}

impl App {
    /// A person's whole record. `with_credit` adds their credit (building the credit engine
    /// if this process has not yet).
    pub fn person_record(
        &self,
        actor: &Actor,
        person_id: &str,
        as_of: Option<NaiveDate>,
        with_credit: bool,
    ) -> AppResult<PersonRecordView> {
        self.person_record_page(
            actor,
            person_id,
            as_of,
            with_credit,
            &ContributionFilter::default(),
            Page::ALL,
        )
    }

    /// [`App::person_record`] with one page of the contributions `filter` keeps (the rest
    /// of the record is whole: the summary by node covers them all).
    pub fn person_record_page(
        &self,
        actor: &Actor,
        person_id: &str,
        as_of: Option<NaiveDate>,
        with_credit: bool,
        filter: &ContributionFilter,
        page: Page,
    ) -> AppResult<PersonRecordView> {
        authz::read_work(actor)?;
        let snapshot = self.snapshot()?;
        let state = &snapshot.state;
        let today = self.today();
        let as_of = as_of.unwrap_or(today);
        let Some(history) = org::person_history(state, person_id) else {
            return Err(AppError::not_found(
                format!("person {person_id}"),
                "`valuetree org` lists everyone",
            ));
        };
        let p = &history.person;
        // The record as it stood on `as_of`: nothing that began after it, and what ended
        // after it still open.
        let open_on = |end: Option<NaiveDate>| end.filter(|end| *end <= as_of);
        let mut contributions =
            self.read(|store| Ok(store.contributions_by(By::Person(person_id))?))?;
        contributions.retain(|c| c.record.date <= as_of);
        let mut work: BTreeMap<(NaiveDate, String, Phase), NodeWork> = BTreeMap::new();
        let mut by_key: BTreeMap<(String, Phase), NaiveDate> = BTreeMap::new();
        for c in &contributions {
            let key = (c.record.node_id.clone(), c.record.phase);
            let first = *by_key.entry(key).or_insert(c.record.date);
            let entry = work
                .entry((first, c.record.node_id.clone(), c.record.phase))
                .or_insert_with(|| NodeWork {
                    node: NodeRef::of(state, &c.record.node_id),
                    phase: c.record.phase,
                    contributions: 0,
                    effort: 0.0,
                    first: c.record.date,
                    last: c.record.date,
                    retracted: 0,
                });
            entry.contributions += 1;
            entry.effort += c.record.effort.value();
            entry.first = entry.first.min(c.record.date);
            entry.last = entry.last.max(c.record.date);
            if c.retracted_on.is_some() {
                entry.retracted += 1;
            }
        }
        let memberships = snapshot
            .memberships_of(person_id)
            .into_iter()
            .filter(|m| m.joined_on <= as_of)
            .map(|m| MembershipView {
                node: NodeRef::of(state, &m.node_id),
                role: m.role.clone(),
                joined_on: m.joined_on,
                left_on: open_on(m.left_on),
            })
            .collect();
        let leads: Vec<LedNode> = snapshot
            .nodes_led_by(person_id)
            .iter()
            .filter_map(|id| state.nodes.get(id))
            .filter(|n| n.created_on <= as_of)
            .map(|n| LedNode {
                node: NodeRef::of(state, &n.node_id),
                kind: n.kind,
                status: n.status,
            })
            .collect();
        let mut handovers: Vec<PersonHandover> = state
            .handovers
            .values()
            .filter(|h| {
                h.date <= as_of
                    && (h.from_lead_id.as_deref() == Some(person_id)
                        || h.to_lead_id.as_deref() == Some(person_id))
            })
            .map(|h| PersonHandover {
                date: h.date,
                node: NodeRef::of(state, &h.node_id),
                from: h.from_lead_id.as_deref().map(|p| PersonRef::of(state, p)),
                to: h.to_lead_id.as_deref().map(|p| PersonRef::of(state, p)),
                note: h.note.clone(),
            })
            .collect();
        handovers.sort_by(|a, b| (a.date, &a.node.node_id).cmp(&(b.date, &b.node.node_id)));
        let private = self.private_record(actor, person_id, with_credit, &snapshot)?;
        if let Some(private) = &private {
            self.note_private_read(
                actor,
                person_id,
                format!("person record ({} access)", private.access),
            )?;
        }
        Ok(PersonRecordView {
            person: PersonRef::of(state, person_id),
            email: p.email.clone(),
            joined_on: p.joined_on,
            left_on: open_on(p.left_on),
            as_of,
            placement: org::placement(state, person_id, as_of).map(|pl| PlacementView {
                person: PersonRef::of(state, person_id),
                unit: pl.unit_id.as_deref().map(|u| UnitRef::of(state, u, as_of)),
                manager: pl.manager_id.as_deref().map(|m| PersonRef::of(state, m)),
                since: pl.since,
            }),
            history: history
                .assignments
                .iter()
                .filter(|a| a.valid_from <= as_of)
                .map(|a| HistoryItem {
                    valid_from: a.valid_from,
                    valid_to: open_on(a.valid_to),
                    unit: UnitRef::of(state, &a.unit_id, a.valid_from),
                    manager: a.manager_id.as_deref().map(|m| PersonRef::of(state, m)),
                })
                .collect(),
            work: work.into_values().collect(),
            contributions: page.cut(
                filter
                    .apply(contributions.iter())
                    .into_iter()
                    .map(|c| ContributionView::of(state, c))
                    .collect(),
            ),
            memberships,
            leads,
            handovers,
            private,
        })
    }

    fn private_record(
        &self,
        actor: &Actor,
        person_id: &str,
        with_credit: bool,
        snapshot: &crate::Snapshot,
    ) -> AppResult<Option<PrivateRecord>> {
        let state = &snapshot.state;
        let access = authz::private_access(state, actor, person_id, self.today());
        type InPeriod = Box<dyn Fn(NaiveDate, NaiveDate) -> bool>;
        let (label, period_ok): (&str, InPeriod) = match &access {
            PrivateAccess::None => return Ok(None),
            PrivateAccess::Own => ("own", Box::new(|_, _| true)),
            PrivateAccess::Full => ("full", Box::new(|_, _| true)),
            PrivateAccess::Periods(spans) => {
                let spans = spans.clone();
                (
                    "period",
                    Box::new(move |from, to| {
                        spans
                            .iter()
                            .any(|(s, e)| *s <= to && e.is_none_or(|e| from <= e))
                    }),
                )
            }
        };
        let ratings = self.read(|store| Ok(store.ratings_of(person_id)?))?;
        let mut cycles = Vec::new();
        for (cycle_id, cycle) in &state.reviews.cycles {
            let r = &cycle.record;
            if !period_ok(r.starts_on, r.ends_on) {
                continue;
            }
            let of_cycle: Vec<&RatingRecord> =
                ratings.iter().filter(|x| &x.cycle_id == cycle_id).collect();
            if of_cycle.is_empty() {
                continue;
            }
            let own = access == PrivateAccess::Own;
            cycles.push(CycleRatings {
                cycle_id: cycle_id.clone(),
                starts_on: r.starts_on,
                ends_on: r.ends_on,
                ratings: if own {
                    Vec::new()
                } else {
                    of_cycle
                        .iter()
                        .filter(|x| x.status == RatingStatus::Submitted)
                        .map(|x| RatingView::of(state, x))
                        .collect()
                },
                feedback: own.then(|| feedback_for(r, of_cycle.iter().copied(), person_id)),
            });
        }
        let credit = if with_credit && matches!(access, PrivateAccess::Own | PrivateAccess::Full) {
            let engine = self.credit_engine(snapshot)?;
            Some(
                engine
                    .find_person(person_id)
                    .map_or(0.0, |i| engine.credit(i)),
            )
        } else {
            None
        };
        Ok(Some(PrivateRecord {
            access: label.to_string(),
            credit,
            cycles,
        }))
    }
}
