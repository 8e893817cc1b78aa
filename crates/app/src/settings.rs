//! Settings given as text (TOML), parsed and validated in one place for every face: a
//! review cycle's settings, the credit policy, the final-score policy. A face reads the text
//! (a file, a form, a request body) and hands it here; errors say which setting is wrong.

use crate::error::{AppError, AppResult};
use crate::queries::PersonRef;
use crate::{Actor, App, Receipt, authz};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use valuetree_core::NaiveDate;
use valuetree_core::credit::Policy;
use valuetree_core::domain::{PolicyKind, PolicySetting};
use valuetree_core::event::Event;
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

/// The final-score policy in `text` (TOML), validated; the default if none.
pub fn final_policy(text: Option<(&str, &str)>) -> AppResult<FinalPolicy> {
    let Some((source, text)) = text else {
        return Ok(FinalPolicy::default());
    };
    let policy: FinalPolicy = toml::from_str(text).map_err(|e| toml_error(source, e))?;
    for (name, weight) in [
        ("rating_weight", policy.rating_weight),
        ("credit_weight", policy.credit_weight),
        ("values_weight", policy.values_weight),
    ] {
        if !(weight.is_finite() && weight >= 0.0) {
            return Err(toml_error(
                source,
                format!("{name} = {weight}: it must be a number of zero or more"),
            ));
        }
    }
    if policy.rating_weight + policy.credit_weight + policy.values_weight <= 0.0 {
        return Err(toml_error(
            source,
            "at least one of rating_weight, credit_weight, values_weight must be above zero",
        ));
    }
    for (name, cuts) in [
        ("results_cuts", policy.results_cuts),
        ("values_cuts", policy.values_cuts),
    ] {
        if let Some([low, high]) = cuts
            && !(low.is_finite() && high.is_finite() && low < high)
        {
            return Err(toml_error(
                source,
                format!("{name} = [{low}, {high}]: the first cut must be below the second"),
            ));
        }
    }
    Ok(policy)
}

/// A policy as the organisation sees it: the settings in force and where they came from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PolicyView {
    pub kind: PolicyKind,
    /// False while the documented defaults apply (no `policy_set` of this kind yet).
    pub recorded: bool,
    pub set_on: Option<NaiveDate>,
    pub set_by: Option<PersonRef>,
    /// The settings as written (TOML); the defaults written out when none were recorded.
    pub text: String,
    /// The settings as data.
    pub settings: serde_json::Value,
}

impl App {
    /// The policies recorded in the ledger, by kind: from the snapshot when one is built,
    /// else read alone.
    fn recorded_policies(&self) -> AppResult<BTreeMap<PolicyKind, PolicySetting>> {
        if self.has_snapshot() {
            return Ok(self.snapshot()?.state.policies.clone());
        }
        self.read(|store| Ok(store.policies()?))
    }

    /// The credit policy in force: the last recorded, else the default.
    pub fn credit_policy(&self) -> AppResult<Policy> {
        credit_policy_in(&self.recorded_policies()?)
    }

    /// The final-score policy in force: the last recorded, else the default.
    pub fn final_policy(&self) -> AppResult<FinalPolicy> {
        let recorded = self.recorded_policies()?;
        final_policy(
            recorded
                .get(&PolicyKind::Final)
                .map(|p| (RECORDED_FINAL, p.text.as_str())),
        )
    }

    /// A policy in force, for anyone signed in: how credit and final scores are computed is
    /// open to everyone they are computed for.
    pub fn policy(&self, actor: &Actor, kind: PolicyKind) -> AppResult<PolicyView> {
        authz::read_work(actor)?;
        let recorded = self.recorded_policies()?;
        let setting = recorded.get(&kind);
        let (text, settings) = match kind {
            PolicyKind::Credit => {
                let policy = credit_policy_in(&recorded)?;
                (setting.map(|s| s.text.clone()), to_json(&policy)?)
            }
            PolicyKind::Final => {
                let policy = final_policy(setting.map(|p| (RECORDED_FINAL, p.text.as_str())))?;
                (setting.map(|s| s.text.clone()), to_json(&policy)?)
            }
            PolicyKind::Retention => {
                let policy =
                    retention_policy(setting.map(|p| (RECORDED_RETENTION, p.text.as_str())))?;
                (setting.map(|s| s.text.clone()), to_json(&policy)?)
            }
        };
        let text = match text {
            Some(text) => text,
            None => match kind {
                PolicyKind::Credit => toml::to_string(&Policy::default()),
                PolicyKind::Final => toml::to_string(&FinalPolicy::default()),
                PolicyKind::Retention => Ok(RETENTION_TEMPLATE.to_string()),
            }
            .map_err(|e| AppError::Internal(format!("cannot write the default policy: {e}")))?,
        };
        let names = self.directory(actor)?;
        Ok(PolicyView {
            kind,
            recorded: setting.is_some(),
            set_on: setting.map(|s| s.set_on),
            set_by: setting
                .and_then(|s| s.set_by.as_deref())
                .map(|p| names.person(p)),
            text,
            settings,
        })
    }

    /// Records a policy (HR or an administrator): checked here, then in force for every
    /// face from the next read on.
    pub fn set_policy(
        &self,
        actor: &Actor,
        kind: PolicyKind,
        source: &str,
        text: &str,
    ) -> AppResult<Receipt> {
        authz::set_policies(actor)?;
        match kind {
            PolicyKind::Credit => {
                credit_policy(Some((source, text)))?;
            }
            PolicyKind::Final => {
                final_policy(Some((source, text)))?;
            }
            PolicyKind::Retention => {
                retention_policy(Some((source, text)))?;
            }
        }
        self.append(
            actor,
            vec![Event::PolicySet {
                by: crate::commands::by_of(actor),
                kind,
                set_on: self.today(),
                text: text.to_string(),
            }],
        )
    }
}

const RECORDED_CREDIT: &str = "the credit policy recorded in the ledger";
const RECORDED_RETENTION: &str = "the retention policy recorded in the ledger";

/// How long free texts about people are kept, in whole years after their anchor (see
/// docs/privacy.md); a text not given is kept. Nothing is erased until a policy is recorded
/// and `retention apply` runs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionPolicy {
    /// Ratings' comments, after their cycle ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating_comments: Option<u32>,
    /// Self-review texts, behaviour evidence, goal titles, reviewer and override reasons,
    /// after their cycle ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_texts: Option<u32>,
    /// Contributions' descriptions and evidence, and retraction reasons, after the person
    /// left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contribution_texts: Option<u32>,
    /// Hand-over notes, after the hand-over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handover_notes: Option<u32>,
    /// Join requests' messages, after the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_messages: Option<u32>,
}

/// What `policy show retention` prints while none is recorded.
const RETENTION_TEMPLATE: &str = "\
# No retention policy is recorded: every text is kept. Years after which each kind of free
# text about a person is erased by `valuetree retention apply` (a kind not given is kept):
# rating_comments = 3      # after the cycle ends
# review_texts = 3         # self-review texts, behaviour evidence, goal titles,
#                          # reviewer and override reasons: after the cycle ends
# contribution_texts = 2   # descriptions, evidence, retraction reasons: after the person left
# handover_notes = 5       # after the hand-over
# join_messages = 1        # after the request
";

/// Reads a retention policy (`None`: none recorded, everything is kept).
pub fn retention_policy(text: Option<(&str, &str)>) -> AppResult<RetentionPolicy> {
    let Some((source, text)) = text else {
        return Ok(RetentionPolicy::default());
    };
    let policy: RetentionPolicy = toml::from_str(text).map_err(|e| toml_error(source, e))?;
    for (name, years) in policy.years() {
        if years > 100 {
            return Err(toml_error(
                source,
                format!("{name} = {years}: give whole years from 0 to 100"),
            ));
        }
    }
    Ok(policy)
}

impl RetentionPolicy {
    /// The kinds of text given, with their years.
    pub fn years(&self) -> Vec<(&'static str, u32)> {
        [
            ("rating_comments", self.rating_comments),
            ("review_texts", self.review_texts),
            ("contribution_texts", self.contribution_texts),
            ("handover_notes", self.handover_notes),
            ("join_messages", self.join_messages),
        ]
        .into_iter()
        .filter_map(|(name, years)| Some((name, years?)))
        .collect()
    }
}

impl App {
    /// The retention policy in force (none recorded: everything is kept), with its text.
    pub fn retention_policy(&self) -> AppResult<(RetentionPolicy, Option<String>)> {
        let recorded = self.recorded_policies()?;
        let setting = recorded.get(&PolicyKind::Retention);
        Ok((
            retention_policy(setting.map(|p| (RECORDED_RETENTION, p.text.as_str())))?,
            setting.map(|p| p.text.clone()),
        ))
    }
}
const RECORDED_FINAL: &str = "the final-score policy recorded in the ledger";

/// The credit policy in force among `recorded`.
pub(crate) fn credit_policy_in(
    recorded: &BTreeMap<PolicyKind, PolicySetting>,
) -> AppResult<Policy> {
    credit_policy(
        recorded
            .get(&PolicyKind::Credit)
            .map(|p| (RECORDED_CREDIT, p.text.as_str())),
    )
}

fn to_json(value: &impl Serialize) -> AppResult<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| AppError::Internal(e.to_string()))
}
