//! The customer ledger (reskontro) mirrored from Tripletex: the pure core of the
//! scheduled sync. See `docs/sync.md` for the design.
//!
//! 1. The adapter reads customers, invoices, customer-ledger postings and the vouchers of the
//!    credits ([`LedgerRead`], typed raw shapes in [`raw`]; [`raw::parse_items`] quarantines
//!    elements that cannot be read at all).
//! 2. [`build_ledger`] applies the integration's settings ([`LedgerPolicy`]) and gives the ledger
//!    as read now: [`MirroredCustomer`]s, [`LedgerItem`]s, [`SkipRecord`]s with reasons, and
//!    [`SyncCounts`].
//! 3. [`diff`] compares it with the mirror as last written ([`MirrorState`], content hashes) and
//!    gives the writes and the downstream [`LedgerEvent`]s with idempotency keys;
//!    [`MirrorState::apply`] gives the state after the writes.
//! 4. [`registry`] turns an Enhetsregisteret entity into a [`registry::RegistryStatus`] (stop
//!    dunning for bankrupt, dissolved or deleted entities; the postal address).
//! 5. [`texts`] says it to people: why an item was skipped, the "ledger is ready" mail.
//!
//! Pure: no clock (`today` is passed in), no I/O, no floats.

mod build;
mod diff;
pub mod hash;
mod model;
pub mod raw;
pub mod registry;
#[cfg(test)]
mod tests;
pub mod texts;

pub use build::{build_ledger, build_ledger_keeping, estimate_due_date, LedgerBuild, LedgerRead};
pub use diff::{
    diff, ClaimFacts, Completeness, CreditEvent, ItemClosedEvent, ItemMirroredEvent,
    ItemOverdueEvent, ItemRemovedEvent, ItemState, LedgerDiff, LedgerEvent, LedgerWrite,
    MirrorState,
};
pub use hash::ContentHash;
pub use model::*;

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

use super::setup::IntegrationSettings;
use crate::domain::collection::calendar::next_business_day_on_or_after;

/// The settings that decide what is mirrored, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerPolicy {
    /// Only items dated on or after this day.
    pub fetch_from: NaiveDate,
    /// Overdue when `today ≥ effective due date + daysPastDue` (see [`is_overdue`]).
    pub days_past_due: u16,
    /// Items without a due date get a derived one (flagged) instead of being skipped.
    pub include_saft_imported: bool,
    /// Items from vouchers with `voucherType: null` are mirrored instead of skipped.
    pub include_null_voucher_type: bool,
    /// The payment terms assumed for a derived due date when the customer has none.
    pub default_payment_terms_days: u16,
    /// The client's loss accounts (`classify::loss_accounts_in_chart`); empty = 7830, 7835.
    pub loss_accounts: Vec<u32>,
}

impl LedgerPolicy {
    /// 14 days: the common Norwegian invoice terms, and Tripletex's default.
    pub const DEFAULT_PAYMENT_TERMS_DAYS: u16 = 14;

    pub fn from_settings(s: &IntegrationSettings) -> Self {
        Self {
            fetch_from: s.fetch_from,
            days_past_due: s.days_past_due,
            include_saft_imported: s.include_saft_imported,
            include_null_voucher_type: s.include_null_voucher_type,
            default_payment_terms_days: Self::DEFAULT_PAYMENT_TERMS_DAYS,
            loss_accounts: Vec::new(),
        }
    }
}

/// An item is overdue when `today ≥ effective due date + daysPastDue` and `today > effective due
/// date`, where the effective due date is the due date moved to the next business day
/// (gjeldsbrevloven § 5 (2), [`crate::domain::collection::calendar`]). This is the day
/// `claim::ClaimState::case_opens_on` gives: effective due date + max(daysPastDue, 1). A due date
/// so late that adding the days overflows the calendar is never overdue.
pub fn is_overdue(due: NaiveDate, days_past_due: u16, today: NaiveDate) -> bool {
    next_business_day_on_or_after(due)
        .checked_add_days(Days::new(days_past_due.max(1).into()))
        .is_some_and(|threshold| today >= threshold)
}
