//! valuetree's application layer: what every face (the command line, the HTTP server, the
//! web pages) calls. It owns
//!
//! - [`queries`]: plain data structs (public fields, `Serialize`) for everything a face
//!   shows; a face renders them and decides nothing;
//! - [`commands`]: the writes a person makes one by one, each appending events and returning
//!   a [`Receipt`];
//! - [`Actor`] and [`authz`]: who acts, and the one module that decides what they may do;
//! - [`App`]: the long-running context (one writer thread, readers, an immutable
//!   [`Snapshot`] of the in-memory state kept up to date with the ledger).
//!
//! Synchronous on purpose: the store is synchronous, and an async face runs these calls on
//! its blocking threads.

pub mod accounts;
pub mod actor;
pub mod authz;
pub mod commands;
mod context;
pub mod error;
pub mod queries;
pub mod settings;

pub use actor::Actor;
pub use context::{App, OrgOnDate, Snapshot};
pub use error::{AppError, AppResult, FieldError};

use serde::Serialize;

/// What a command did: the events it wrote and the head of the ledger after them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Receipt {
    /// The event kinds written, in order (empty if nothing changed).
    pub events: Vec<String>,
    /// The ledger's head after the command, as `SEQ:HASH`.
    pub head: Option<String>,
    /// The sequence number of the last event (the head's).
    pub seq: Option<i64>,
    /// That event's hash.
    pub hash: Option<String>,
    /// True when the same write had been recorded before (a retry): nothing new was
    /// written, and `seq`/`hash` are those of the event that recorded it.
    pub already_recorded: bool,
}

/// A window into a long list: `offset` items skipped, at most `limit` returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Page {
    pub offset: usize,
    pub limit: usize,
}

impl Page {
    /// Everything (what the command line asks for by default).
    pub const ALL: Page = Page {
        offset: 0,
        limit: usize::MAX,
    };

    /// Cuts `items` to the page, returning it with the total before cutting.
    pub fn cut<T>(self, items: Vec<T>) -> Paged<T> {
        let total = items.len();
        let items = items
            .into_iter()
            .skip(self.offset)
            .take(self.limit)
            .collect();
        Paged {
            total,
            offset: self.offset,
            items,
        }
    }
}

/// Which contributions a list shows (every one when nothing is set). Summaries beside the
/// list (work by node, contributors) stay whole: the filter narrows the list only.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
pub struct ContributionFilter {
    pub phase: Option<valuetree_core::domain::Phase>,
    /// From this date on (inclusive).
    pub from: Option<valuetree_core::NaiveDate>,
    /// Up to this date (inclusive).
    pub to: Option<valuetree_core::NaiveDate>,
    pub node_id: Option<String>,
    pub person_id: Option<String>,
    /// Only confirmed (`true`) or only unconfirmed (`false`) ones.
    pub confirmed: Option<bool>,
    /// Only retracted (`true`) or only standing (`false`) ones.
    pub retracted: Option<bool>,
    /// Newest first (a lead confirming a node's work looks at what came in last); else in
    /// date order.
    pub newest_first: bool,
}

impl ContributionFilter {
    /// The contributions kept, in the order asked for.
    pub fn apply<'c>(
        &self,
        all: impl DoubleEndedIterator<Item = &'c valuetree_core::domain::Contribution>,
    ) -> Vec<&'c valuetree_core::domain::Contribution> {
        let kept = all.filter(|c| self.keeps(c));
        if self.newest_first {
            let mut kept: Vec<_> = kept.collect();
            kept.reverse();
            kept
        } else {
            kept.collect()
        }
    }

    pub fn keeps(&self, c: &valuetree_core::domain::Contribution) -> bool {
        let r = &c.record;
        self.phase.is_none_or(|p| p == r.phase)
            && self.from.is_none_or(|d| r.date >= d)
            && self.to.is_none_or(|d| r.date <= d)
            && self.node_id.as_deref().is_none_or(|n| n == r.node_id)
            && self.person_id.as_deref().is_none_or(|p| p == r.person_id)
            && self.confirmed.is_none_or(|want| want == c.is_confirmed())
            && self
                .retracted
                .is_none_or(|want| want == c.retracted_on.is_some())
    }
}

/// One page of a list, with the length of the whole list.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Paged<T> {
    pub total: usize,
    pub offset: usize,
    pub items: Vec<T>,
}
