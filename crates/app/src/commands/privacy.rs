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
    /// Rows of the tables whose texts now read `[erased]`.
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
        let erasure = self.write_store(move |store| {
            store.erase_person(&name, |_| Ok::<_, valuetree_store::StoreError>(event))
        })?;
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
