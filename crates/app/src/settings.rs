//! Settings given as text (TOML), parsed and validated in one place for every face: a
//! review cycle's settings, the credit policy, the final-score policy. A face reads the text
//! (a file, a form, a request body) and hands it here; errors say which setting is wrong.

use crate::error::{AppError, AppResult};
use serde::Deserialize;
use valuetree_core::NaiveDate;
use valuetree_core::credit::Policy;
use valuetree_core::review::final_score::FinalPolicy;
use valuetree_core::review::{Band, Behaviour, CyclePhase, CycleRecord, Deadline, Dimension};

/// The settings a cycle may be opened with; anything left out keeps its default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CycleSettings {
    pub name: Option<String>,
    pub scale: Option<Vec<String>>,
    pub dimensions: Option<Vec<Dimension>>,
    pub deadlines: Option<Vec<Deadline>>,
    pub anonymity_threshold: Option<u32>,
    pub attributed_comments: Option<bool>,
    pub guidance: Option<Vec<Band>>,
    pub enforce_guidance: Option<bool>,
    pub behaviours: Option<Vec<Behaviour>>,
    pub committee: Option<Vec<String>>,
    pub min_sources: Option<u32>,
    pub phase: Option<CyclePhase>,
}

fn toml_error(source: &str, error: impl std::fmt::Display) -> AppError {
    AppError::invalid(format!("{source}: {error}"))
}

/// A cycle record: the defaults, then the settings in `text` (TOML, if any), then `name`.
/// `source` names where the text came from, for errors. The ledger's rules check the whole
/// record when the cycle is opened.
pub fn cycle_record(
    cycle_id: &str,
    from: NaiveDate,
    to: NaiveDate,
    name: Option<String>,
    text: Option<(&str, &str)>,
) -> AppResult<CycleRecord> {
    let mut cycle = CycleRecord::with_defaults(cycle_id, from, to);
    if let Some((source, text)) = text {
        let s: CycleSettings = toml::from_str(text).map_err(|e| toml_error(source, e))?;
        macro_rules! take {
            ($($field:ident),*) => { $(if let Some(v) = s.$field { cycle.$field = v; })* };
        }
        take!(
            name,
            scale,
            dimensions,
            deadlines,
            anonymity_threshold,
            attributed_comments,
            guidance,
            enforce_guidance,
            behaviours,
            committee,
            min_sources,
            phase
        );
    }
    if let Some(name) = name {
        cycle.name = name;
    }
    Ok(cycle)
}

/// The credit policy in `text` (TOML; see docs/credit.md), validated; the default if none.
pub fn credit_policy(text: Option<(&str, &str)>) -> AppResult<Policy> {
    let Some((source, text)) = text else {
        return Ok(Policy::default());
    };
    let policy: Policy = toml::from_str(text).map_err(|e| toml_error(source, e))?;
    policy.validate().map_err(|e| toml_error(source, e))?;
    Ok(policy)
}

/// The final-score policy in `text` (TOML), the default if none.
pub fn final_policy(text: Option<(&str, &str)>) -> AppResult<FinalPolicy> {
    match text {
        None => Ok(FinalPolicy::default()),
        Some((source, text)) => toml::from_str(text).map_err(|e| toml_error(source, e)),
    }
}
