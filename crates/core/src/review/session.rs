//! The calibration session: the distribution of proposed scores against the cycle's guidance,
//! per unit and per manager, and the managers whose own ratings stand far from what everyone
//! else saw.
//!
//! Guidance is shown with its deviation and never enforced, unless the cycle explicitly opts
//! in (`enforce_guidance`); then the session lists the moves a forced distribution would make,
//! and each move is recorded as a committee override with its reason, so it is logged.

use super::{Band, CycleRecord};
use crate::domain::{PersonId, UnitId};
use std::collections::BTreeMap;

/// One person's proposed score going into the session.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Proposed {
    pub person_id: PersonId,
    pub unit_id: Option<UnitId>,
    pub manager_id: Option<PersonId>,
    /// The calibrated score (or the committee's override), on the rating scale.
    pub score: f64,
    /// The mean of the manager's own submitted ratings of the person, if any.
    pub manager_rating: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct BandCount {
    pub label: String,
    pub target: f64,
    pub count: usize,
    pub share: f64,
    /// share − target, in shares (0.05 = five percentage points over).
    pub deviation: f64,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Distribution {
    /// `all`, a unit id or a manager id.
    pub group: String,
    pub people: usize,
    pub bands: Vec<BandCount>,
}

/// A manager whose ratings differ from the calibrated multi-source view of their reports.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ManagerAnomaly {
    pub manager_id: PersonId,
    pub reports: usize,
    /// Mean of (manager's rating − calibrated score) over their rated reports.
    pub mean_gap: f64,
    /// Flagged: the gap is at least half a point and at least twice its standard error.
    pub flagged: bool,
}

/// A move a forced distribution would make (only when the cycle opts in).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ForcedMove {
    pub person_id: PersonId,
    pub rank: usize,
    pub from_level: u32,
    pub to_level: u32,
    pub band: String,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SessionView {
    pub overall: Distribution,
    pub by_unit: Vec<Distribution>,
    pub by_manager: Vec<Distribution>,
    pub anomalies: Vec<ManagerAnomaly>,
    pub enforced: bool,
    pub forced_moves: Vec<ForcedMove>,
}

/// The level of the rating scale a score rounds to.
pub fn level_of(score: f64, scale_len: usize) -> u32 {
    (score.round().max(1.0) as u32).min(scale_len as u32)
}

fn band_of(bands: &[Band], level: u32) -> Option<&Band> {
    bands.iter().find(|b| b.levels.contains(&level))
}

fn distribution(cycle: &CycleRecord, group: String, scores: &[f64]) -> Distribution {
    let people = scores.len();
    let bands = cycle
        .guidance
        .iter()
        .map(|band| {
            let count = scores
                .iter()
                .filter(|s| band.levels.contains(&level_of(**s, cycle.scale.len())))
                .count();
            let share = if people == 0 {
                0.0
            } else {
                count as f64 / people as f64
            };
            BandCount {
                label: band.label.clone(),
                target: band.share.value(),
                count,
                share,
                deviation: share - band.share.value(),
            }
        })
        .collect();
    Distribution {
        group,
        people,
        bands,
    }
}

fn grouped(
    cycle: &CycleRecord,
    proposed: &[Proposed],
    key: impl Fn(&Proposed) -> Option<&String>,
) -> Vec<Distribution> {
    let mut groups: BTreeMap<&String, Vec<f64>> = BTreeMap::new();
    for p in proposed {
        if let Some(k) = key(p) {
            groups.entry(k).or_default().push(p.score);
        }
    }
    groups
        .into_iter()
        .map(|(k, scores)| distribution(cycle, k.clone(), &scores))
        .collect()
}

fn anomalies(proposed: &[Proposed]) -> Vec<ManagerAnomaly> {
    let mut gaps: BTreeMap<&String, Vec<f64>> = BTreeMap::new();
    for p in proposed {
        if let (Some(m), Some(rating)) = (&p.manager_id, p.manager_rating) {
            gaps.entry(m).or_default().push(rating - p.score);
        }
    }
    let mut out: Vec<ManagerAnomaly> = gaps
        .into_iter()
        .map(|(manager, gaps)| {
            let n = gaps.len() as f64;
            let mean = gaps.iter().sum::<f64>() / n;
            let variance = if gaps.len() > 1 {
                gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / (n - 1.0)
            } else {
                f64::INFINITY
            };
            let std_error = (variance / n).sqrt();
            ManagerAnomaly {
                manager_id: manager.clone(),
                reports: gaps.len(),
                mean_gap: mean,
                flagged: mean.abs() >= 0.5 && mean.abs() >= 2.0 * std_error,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.mean_gap
            .abs()
            .total_cmp(&a.mean_gap.abs())
            .then_with(|| a.manager_id.cmp(&b.manager_id))
    });
    out
}

/// The moves that put people into the guidance bands by rank (highest score first, ties by
/// id): the top `share` of people in the top band, and so on.
fn forced_moves(cycle: &CycleRecord, proposed: &[Proposed]) -> Vec<ForcedMove> {
    let mut ranked: Vec<&Proposed> = proposed.iter().collect();
    ranked.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.person_id.cmp(&b.person_id))
    });
    let n = ranked.len() as f64;
    let mut moves = Vec::new();
    let mut cumulative = 0.0;
    let mut start = 0usize;
    for band in &cycle.guidance {
        cumulative += band.share.value();
        let end = ((cumulative * n).round() as usize).min(ranked.len());
        let (Some(&lowest), Some(&highest)) = (band.levels.iter().min(), band.levels.iter().max())
        else {
            continue;
        };
        for (rank, p) in ranked.iter().enumerate().take(end).skip(start) {
            let level = level_of(p.score, cycle.scale.len());
            if band_of(&cycle.guidance, level).is_some_and(|b| b.label == band.label) {
                continue;
            }
            let to_level = if level > highest { highest } else { lowest };
            moves.push(ForcedMove {
                person_id: p.person_id.clone(),
                rank: rank + 1,
                from_level: level,
                to_level,
                band: band.label.clone(),
            });
        }
        start = end;
    }
    moves
}

pub fn session(cycle: &CycleRecord, proposed: &[Proposed]) -> SessionView {
    let all: Vec<f64> = proposed.iter().map(|p| p.score).collect();
    SessionView {
        overall: distribution(cycle, "all".into(), &all),
        by_unit: grouped(cycle, proposed, |p| p.unit_id.as_ref()),
        by_manager: grouped(cycle, proposed, |p| p.manager_id.as_ref()),
        anomalies: anomalies(proposed),
        enforced: cycle.enforce_guidance,
        forced_moves: if cycle.enforce_guidance {
            forced_moves(cycle, proposed)
        } else {
            Vec::new()
        },
    }
}
