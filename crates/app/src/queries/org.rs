//! The org as of a date, its diffs, and units.

use super::{PersonRef, UnitRef};
use crate::error::{AppError, AppResult};
use crate::{Actor, App, Page, Paged, authz};
use serde::Serialize;
use valuetree_core::NaiveDate;
use valuetree_core::org;

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
    /// The units of the people on this page, each with the unit it is part of and its head
    /// count on `as_of` (over the whole list, not only the page).
    pub units: Vec<OrgUnit>,
    pub people: Paged<PlacementView>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OrgUnit {
    pub unit: UnitRef,
    pub parent: Option<UnitRef>,
    pub people: usize,
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

/// What changed in the organisation between two dates.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OrgDiffView {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Employed on `to`, not on `from` (placed as of `to`).
    pub joined: Vec<PlacementView>,
    /// Employed on `from`, not on `to` (placed as of `from`).
    pub left: Vec<PlacementView>,
    pub moved: Vec<UnitChange>,
    pub manager_changed: Vec<ManagerChange>,
    /// Units as named on `to`.
    pub units_created: Vec<UnitRef>,
    /// Units as named on `from`.
    pub units_dissolved: Vec<UnitRef>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UnitChange {
    pub person: PersonRef,
    pub before: Option<UnitRef>,
    pub after: Option<UnitRef>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ManagerChange {
    pub person: PersonRef,
    pub before: Option<PersonRef>,
    pub after: Option<PersonRef>,
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
        // Views only for the page: at scale the organisation is hundreds of thousands.
        let on_date = snapshot.placements(as_of);
        let placements = &on_date.placements;
        let total = placements.len();
        let shown: Vec<&org::Placement> = placements
            .iter()
            .skip(page.offset)
            .take(page.limit)
            .collect();
        let mut units: Vec<OrgUnit> = Vec::new();
        for p in &shown {
            let Some(unit) = &p.unit_id else { continue };
            if units.last().is_some_and(|last| &last.unit.unit_id == unit) {
                continue;
            }
            units.push(OrgUnit {
                unit: UnitRef::of(state, unit, as_of),
                parent: org::unit_version(state, unit, as_of)
                    .and_then(|v| v.parent_unit_id)
                    .map(|parent| UnitRef::of(state, &parent, as_of)),
                people: on_date.head_counts.get(unit).copied().unwrap_or(0),
            });
        }
        let items = shown
            .into_iter()
            .map(|p| placement_view(state, p, as_of))
            .collect();
        Ok(OrgView {
            as_of,
            units,
            people: Paged {
                total,
                offset: page.offset,
                items,
            },
        })
    }

    /// What changed between two dates.
    pub fn org_diff(
        &self,
        actor: &Actor,
        from: NaiveDate,
        to: NaiveDate,
    ) -> AppResult<OrgDiffView> {
        authz::read_work(actor)?;
        if from > to {
            return Err(AppError::invalid(format!("{from} is after {to}")));
        }
        let snapshot = self.snapshot()?;
        let state = &snapshot.state;
        let diff = org::diff(state, from, to);
        let unit_at = |u: &Option<String>, date| u.as_deref().map(|u| UnitRef::of(state, u, date));
        let person_ref = |p: &Option<String>| p.as_deref().map(|p| PersonRef::of(state, p));
        Ok(OrgDiffView {
            from,
            to,
            joined: diff
                .joined
                .iter()
                .map(|p| placement_view(state, p, to))
                .collect(),
            left: diff
                .left
                .iter()
                .map(|p| placement_view(state, p, from))
                .collect(),
            moved: diff
                .moved
                .iter()
                .map(|c| UnitChange {
                    person: PersonRef::of(state, &c.person_id),
                    before: unit_at(&c.before, from),
                    after: unit_at(&c.after, to),
                })
                .collect(),
            manager_changed: diff
                .manager_changed
                .iter()
                .map(|c| ManagerChange {
                    person: PersonRef::of(state, &c.person_id),
                    before: person_ref(&c.before),
                    after: person_ref(&c.after),
                })
                .collect(),
            units_created: diff
                .units_created
                .iter()
                .map(|u| UnitRef::of(state, u, to))
                .collect(),
            units_dissolved: diff
                .units_dissolved
                .iter()
                .map(|u| UnitRef::of(state, u, from))
                .collect(),
        })
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

/// A person moved in a reorganisation, named.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MovedPerson {
    pub person: PersonRef,
    /// As named the day before.
    pub from_unit: UnitRef,
    pub to_unit: UnitRef,
    pub from_manager: Option<PersonRef>,
    pub to_manager: Option<PersonRef>,
}

/// A unit given a new parent, named.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MovedUnit {
    pub unit: UnitRef,
    pub from_parent: Option<UnitRef>,
    pub to_parent: Option<UnitRef>,
}

/// A reorganisation (see [`org::reorganisations`]), named as of its date.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReorganisationView {
    pub date: NaiveDate,
    pub units_created: Vec<UnitRef>,
    pub units_moved: Vec<MovedUnit>,
    /// As named on their last day.
    pub units_dissolved: Vec<UnitRef>,
    pub people_moved: Vec<MovedPerson>,
}

impl App {
    /// The reorganisations dated in `[from, to]` (all if none), newest first, a page of them.
    pub fn reorganisations(
        &self,
        actor: &Actor,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        page: Page,
    ) -> AppResult<Paged<ReorganisationView>> {
        authz::read_work(actor)?;
        let (from, to) = (from.unwrap_or(NaiveDate::MIN), to.unwrap_or(NaiveDate::MAX));
        if from > to {
            return Err(AppError::rejected(
                "from",
                Some(&from.to_string()),
                format!("{from} is after {to}: give the earlier date first"),
            ));
        }
        let snapshot = self.snapshot()?;
        let state = &*snapshot.state;
        let mut all = org::reorganisations(state, from, to);
        all.reverse();
        let total = all.len();
        let person = |id: &str| PersonRef::of(state, id);
        let items = all
            .into_iter()
            .skip(page.offset)
            .take(page.limit)
            .map(|r| {
                let before = r.date.pred_opt().unwrap_or(r.date);
                let unit = |id: &str, date: NaiveDate| UnitRef::of(state, id, date);
                ReorganisationView {
                    date: r.date,
                    units_created: r.units_created.iter().map(|u| unit(u, r.date)).collect(),
                    units_moved: r
                        .units_moved
                        .iter()
                        .map(|m| MovedUnit {
                            unit: unit(&m.unit_id, r.date),
                            from_parent: m.from_parent.as_deref().map(|p| unit(p, before)),
                            to_parent: m.to_parent.as_deref().map(|p| unit(p, r.date)),
                        })
                        .collect(),
                    units_dissolved: r.units_dissolved.iter().map(|u| unit(u, before)).collect(),
                    people_moved: r
                        .people_moved
                        .iter()
                        .map(|m| MovedPerson {
                            person: person(&m.person_id),
                            from_unit: unit(&m.from_unit, before),
                            to_unit: unit(&m.to_unit, r.date),
                            from_manager: m.from_manager.as_deref().map(person),
                            to_manager: m.to_manager.as_deref().map(person),
                        })
                        .collect(),
                }
            })
            .collect();
        Ok(Paged {
            total,
            offset: page.offset,
            items,
        })
    }
}
