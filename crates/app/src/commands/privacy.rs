//! Erasure of a person's personal data and the retention policy (see `docs/privacy.md`).
//! The store does the work in one transaction; the app decides who may.

use crate::error::{AppError, AppResult};
use crate::{Actor, App, authz};
use serde::Serialize;
use valuetree_core::event::Event;

/// What an erasure did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ErasureReceipt {
    pub person_id: String,
    /// The `person_erased` event.
    pub seq: Option<i64>,
    pub head: Option<String>,
    /// Personal values deleted; their commitments stay in the chain.
    pub values_deleted: u64,
    /// Rows of the tables besides the person's own record whose texts now read `[erased]`.
    pub rows_erased: u64,
    /// Sign-in accounts deleted (with their sessions and API tokens).
    pub accounts_deleted: u64,
    /// How the database files were cleaned of the deleted bytes.
    pub files: String,
}

impl App {
    /// Erases `person_id`'s personal data (their name, e-mail address, and the free texts
    /// written about them), keeping them as a pseudonymous id so that everyone's credit,
    /// calibration and reviews are unchanged. Irreversible: see [`authz::erase`].
    pub fn erase_person(
        &self,
        actor: &Actor,
        person_id: &str,
        reason: &str,
    ) -> AppResult<ErasureReceipt> {
        authz::erase(actor)?;
        if reason.trim().is_empty() {
            return Err(AppError::Invalid(
                "give the reason for the erasure (--reason, the request it answers): it is recorded in the ledger".into(),
            ));
        }
        let event = Event::PersonErased {
            by: actor.person_id().map(str::to_string),
            erased_on: self.today(),
            person_id: person_id.to_string(),
            reason: reason.trim().to_string(),
        };
        let name = actor.ledger_name();
        let erasure = self.write_store(move |store| store.erase_person(&name, event))?;
        Ok(ErasureReceipt {
            person_id: person_id.to_string(),
            seq: erasure.seq,
            head: erasure.head.map(|h| h.to_string()),
            values_deleted: erasure.values,
            rows_erased: erasure.rows,
            accounts_deleted: erasure.accounts,
            files: erasure.files,
        })
    }
}

/// What `upgrade` did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UpgradeReceipt {
    /// The head before, as `SEQ:HASH` (recorded in the new chain's first event).
    pub old_head: Option<String>,
    pub new_head: Option<String>,
    pub events: u64,
    pub values_taken_out: u64,
}

impl App {
    /// Re-encodes a ledger written before personal data left the chain (see
    /// `Store::upgrade`). The operator's alone: no person's roles can be read from a
    /// ledger nothing else may open.
    pub fn upgrade_ledger(&self, actor: &Actor) -> AppResult<UpgradeReceipt> {
        if !actor.is_operator() {
            return Err(AppError::forbidden(
                authz::rule::ADMIN_ADMINISTERS,
                "the upgrade of a ledger is the operator's (run it without --as)",
            ));
        }
        let mut store =
            valuetree_store::Store::open_any_form(self.location(), self.clock().clone())?;
        let name = actor.ledger_name();
        let upgrade = store.upgrade(&name)?;
        self.forget_snapshot();
        Ok(UpgradeReceipt {
            old_head: upgrade.old_head.map(|h| h.to_string()),
            new_head: upgrade.new_head.map(|h| h.to_string()),
            events: upgrade.events,
            values_taken_out: upgrade.values,
        })
    }
}

/// What a retention run erased, or would erase (a dry run).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RetentionReport {
    pub dry_run: bool,
    /// The settings applied (the recorded policy's text).
    pub settings: Option<String>,
    pub rules: Vec<RetentionLine>,
    pub values: u64,
    /// The `retention_applied` event (not for a dry run, nor when nothing was due).
    pub seq: Option<i64>,
    pub rows_erased: u64,
    pub files: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RetentionLine {
    pub texts: &'static str,
    pub years: u32,
    /// Texts whose anchor (cycle end, leaving, the hand-over or request) is on or before
    /// this date go.
    pub older_than: valuetree_core::NaiveDate,
    pub values: u64,
}

impl App {
    /// Applies the retention policy in force (or, `dry_run`, lists what it would erase).
    /// The same rule as an erasure decides who may.
    pub fn apply_retention(&self, actor: &Actor, dry_run: bool) -> AppResult<RetentionReport> {
        authz::erase(actor)?;
        let (policy, settings) = self.retention_policy()?;
        let today = self.today();
        let mut rules = Vec::new();
        let mut lines = Vec::new();
        for (texts, years) in policy.years() {
            let group = valuetree_store::RetentionGroup::from_name(texts).ok_or_else(|| {
                AppError::Internal(format!("no retention group is named {texts}"))
            })?;
            let older_than = years_before(today, years);
            rules.push(valuetree_store::RetentionRule {
                group,
                cutoff: older_than,
            });
            lines.push(RetentionLine {
                texts,
                years,
                older_than,
                values: 0,
            });
        }
        let counts = self.read(|store| Ok(store.retention_counts(&rules)?))?;
        for (line, count) in lines.iter_mut().zip(&counts) {
            line.values = count.values;
        }
        let values: u64 = counts.iter().map(|c| c.values).sum();
        let mut report = RetentionReport {
            dry_run,
            settings: settings.clone(),
            rules: lines,
            values,
            seq: None,
            rows_erased: 0,
            files: None,
        };
        if dry_run || values == 0 {
            return Ok(report);
        }
        let event = Event::RetentionApplied {
            applied_on: today,
            by: actor.person_id().map(str::to_string),
            erased: values,
            // Rules come from a recorded policy only.
            settings: settings.ok_or_else(|| {
                AppError::Internal("retention rules without a recorded policy".into())
            })?,
        };
        let name = actor.ledger_name();
        let erasure =
            self.write_store(move |store| store.apply_retention(&name, &rules, values, event))?;
        report.seq = erasure.seq;
        report.rows_erased = erasure.rows;
        report.files = Some(erasure.files);
        Ok(report)
    }
}

/// The same day `years` years earlier (29 February going to the 28th).
fn years_before(day: valuetree_core::NaiveDate, years: u32) -> valuetree_core::NaiveDate {
    use chrono::Months;
    day.checked_sub_months(Months::new(years.saturating_mul(12)))
        .unwrap_or(valuetree_core::NaiveDate::MIN)
}
