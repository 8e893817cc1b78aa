//! The org as of a date, its diffs, and units.

use super::{PersonRef, UnitRef};
use crate::error::{AppError, AppResult};
use crate::{Actor, App, Page, Paged, authz};
use serde::Serialize;
use valuetree_core::NaiveDate;
use valuetree_core::org::{self, OrgDiff};

/// One person's place on a date.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlacementView {
    pub person: PersonRef,
    pub unit: Option<UnitRef>,
    pub manager: Option<PersonRef>,
    pub since: Option<NaiveDate>,
}

/// The organisation as of a date: everyone employed, by unit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OrgView {
    pub as_of: NaiveDate,
    pub people: Paged<PlacementView>,
}

/// A unit as of a date.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UnitView {
    pub unit: UnitRef,
    pub as_of: NaiveDate,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub parent: Option<UnitRef>,
    pub members: Vec<PlacementView>,
}

fn placement_view(
    state: &valuetree_core::state::State,
    p: &org::Placement,
    date: NaiveDate,
) -> PlacementView {
    PlacementView {
        person: PersonRef::of(state, &p.person_id),
        unit: p.unit_id.as_deref().map(|u| UnitRef::of(state, u, date)),
        manager: p.manager_id.as_deref().map(|m| PersonRef::of(state, m)),
        since: p.since,
    }
}

impl App {
    /// Everyone employed on `as_of` (today if none), ordered by unit then person.
    pub fn org(&self, actor: &Actor, as_of: Option<NaiveDate>, page: Page) -> AppResult<OrgView> {
        authz::read_work(actor)?;
        let snapshot = self.snapshot()?;
        let state = &snapshot.state;
        let as_of = as_of.unwrap_or_else(|| self.today());
        let mut people: Vec<PlacementView> = org::org_as_of(state, as_of)
            .iter()
            .map(|p| placement_view(state, p, as_of))
            .collect();
        people.sort_by(|a, b| {
            let unit = |v: &PlacementView| v.unit.as_ref().map(|u| u.unit_id.clone());
            (unit(a), &a.person.person_id).cmp(&(unit(b), &b.person.person_id))
        });
        Ok(OrgView {
            as_of,
            people: page.cut(people),
        })
    }

    /// What changed between two dates.
    pub fn org_diff(&self, actor: &Actor, from: NaiveDate, to: NaiveDate) -> AppResult<OrgDiff> {
        authz::read_work(actor)?;
        if from > to {
            return Err(AppError::invalid(format!("{from} is after {to}")));
        }
        let snapshot = self.snapshot()?;
        Ok(org::diff(&snapshot.state, from, to))
    }

    /// A unit and its members as of a date.
    pub fn unit(
        &self,
        actor: &Actor,
        unit_id: &str,
        as_of: Option<NaiveDate>,
    ) -> AppResult<UnitView> {
        authz::read_work(actor)?;
        let snapshot = self.snapshot()?;
        let state = &snapshot.state;
        let as_of = as_of.unwrap_or_else(|| self.today());
        let Some(u) = state.units.get(unit_id) else {
            return Err(AppError::not_found(
                format!("unit {unit_id}"),
                "`valuetree org` lists the units",
            ));
        };
        Ok(UnitView {
            unit: UnitRef::of(state, unit_id, as_of),
            as_of,
            valid_from: u.valid_from,
            valid_to: u.valid_to,
            parent: org::unit_version(state, unit_id, as_of)
                .and_then(|v| v.parent_unit_id)
                .map(|p| UnitRef::of(state, &p, as_of)),
            members: org::unit_members(state, unit_id, as_of)
                .iter()
                .map(|p| placement_view(state, p, as_of))
                .collect(),
        })
    }
}
