//! Credit policy: every number of the attribution rules, configurable in a TOML file.

use crate::domain::Phase;
use serde::{Deserialize, Serialize};

/// The attribution policy. Defaults are the documented default policy (`docs/credit.md`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Share of the value retained at a node that each phase's contributors share.
    pub phase_weights: PhaseWeights,
    /// How much a contribution's effort counts, by its confirmation status.
    pub confirmation: Confirmation,
    /// Older contributions count less: effort × 2^(−age / half_life_days) at the outcome's
    /// date. 0 (the default) turns decay off.
    pub half_life_days: f64,
    /// The largest share of the credit distributed at one node that one person may receive;
    /// the excess goes to the node's other contributors. 1 (the default) turns the cap off.
    pub max_share_per_node: f64,
    /// Peer allocation: within each phase pool of a node, this share is divided by the peer
    /// points the pool's contributors received from the node's members (allocations dated on
    /// or before the outcome), the rest by effort. 0 (the default) turns it off; a pool whose
    /// contributors received no points is shared by effort alone.
    pub peer_factor: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PhaseWeights {
    pub discover: f64,
    pub design: f64,
    pub build: f64,
    pub launch: f64,
    pub operate: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Confirmation {
    pub confirmed: f64,
    pub unconfirmed: f64,
    pub retracted: f64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            phase_weights: PhaseWeights::default(),
            confirmation: Confirmation::default(),
            half_life_days: 0.0,
            max_share_per_node: 1.0,
            peer_factor: 0.0,
        }
    }
}

impl Default for PhaseWeights {
    fn default() -> Self {
        PhaseWeights {
            discover: 0.15,
            design: 0.20,
            build: 0.35,
            launch: 0.15,
            operate: 0.15,
        }
    }
}

impl Default for Confirmation {
    fn default() -> Self {
        Confirmation {
            confirmed: 1.0,
            unconfirmed: 0.5,
            retracted: 0.0,
        }
    }
}

impl PhaseWeights {
    pub fn get(&self, phase: Phase) -> f64 {
        match phase {
            Phase::Discover => self.discover,
            Phase::Design => self.design,
            Phase::Build => self.build,
            Phase::Launch => self.launch,
            Phase::Operate => self.operate,
        }
    }
}

/// A policy setting out of its range: which one, and what it must be.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct PolicyError {
    pub setting: &'static str,
    pub reason: String,
}

impl Policy {
    /// Checks the numbers; the message names the setting and what it must be.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let w = &self.phase_weights;
        for (name, value) in [
            ("phase_weights.discover", w.discover),
            ("phase_weights.design", w.design),
            ("phase_weights.build", w.build),
            ("phase_weights.launch", w.launch),
            ("phase_weights.operate", w.operate),
            ("confirmation.confirmed", self.confirmation.confirmed),
            ("confirmation.unconfirmed", self.confirmation.unconfirmed),
            ("confirmation.retracted", self.confirmation.retracted),
            ("half_life_days", self.half_life_days),
        ] {
            if !value.is_finite() || value < 0.0 {
                return Err(PolicyError {
                    setting: name,
                    reason: format!("{name} = {value}: it must be a number of zero or more"),
                });
            }
        }
        if w.discover + w.design + w.build + w.launch + w.operate <= 0.0 {
            return Err(PolicyError {
                setting: "phase_weights",
                reason: "phase_weights: at least one phase must weigh more than zero".into(),
            });
        }
        if !(0.0..=1.0).contains(&self.peer_factor) {
            return Err(PolicyError {
                setting: "peer_factor",
                reason: format!(
                    "peer_factor = {}: it must be between 0 and 1",
                    self.peer_factor
                ),
            });
        }
        if !(self.max_share_per_node > 0.0 && self.max_share_per_node <= 1.0) {
            return Err(PolicyError {
                setting: "max_share_per_node",
                reason: format!(
                    "max_share_per_node = {}: it must be above 0 and at most 1",
                    self.max_share_per_node
                ),
            });
        }
        Ok(())
    }
}
