//! Claim state: what one open item / invoice still owes, from the ledger
//! events mirrored out of Tripletex.
//!
//! [`ClaimState`] is an event-sourced aggregate. Each [`ClaimEvent`] carries an idempotency
//! [`EventKey`]; [`ClaimState::apply`] remembers the keys it applied, so the same event a second
//! time is [`Applied::Duplicate`] and changes nothing (SQS is at-least-once).
//!
//! The amounts are never accumulated in arrival order: they are recomputed from the recorded
//! credits, sorted by ledger date, after every event ([`ClaimAmounts::compute`]). So any arrival
//! order of the same credits gives the same amounts, and "a payment after a write-off is a
//! recovery" is decided by the ledger dates, not by when the worker happened to see them.
//!
//! The rules:
//! - `outstanding principal = principal − credited − paid` (never below zero), computed by
//!   [`owed::derive`], the one function the mirrored ledger item uses too. A write-off does
//!   **not** reduce what the debtor owes: it is tracked in `writtenOff` and the claim becomes
//!   [`ClaimStatus::WrittenOff`] ("open in collection, written off in the accounts"), although
//!   Tripletex shows the invoice closed (see [`ClaimAmounts::ledger_balance`]).
//! - When the sync found Tripletex's outstanding figure at odds with the credits
//!   ([`Mirror::cross_check`]), the claim needs review ([`ClaimState::review_reasons`]); what is
//!   owed is still derived from the credits.
//! - Credit notes that cover the principal (or a reversal of the invoice voucher) close the claim
//!   [`ClaimStatus::ClosedCredited`]; payments that cover principal, fees and interest demanded
//!   close it [`ClaimStatus::ClosedPaid`] and hand a [`VoucherPostingJob`] to the posting worker,
//!   exactly once per settlement version.
//! - Payments dated after an active write-off are recoveries (`recovered`, at most `writtenOff`).
//! - An unknown credit, or one the classifier flags for review, is held as pending review: it
//!   does not reduce anything until a person decides ([`ReviewDecision`]).
//! - A payment is split between principal, fees and interest by the account's
//!   [`AllocationRule`] (principal first by default, or costs → interest → principal), in ledger
//!   order ([`allocation::allocate`]); anything beyond what is owed is `excess` (overpaid or
//!   over-credited money a person must refund or place).
//! - An event for a claim that is not mirrored yet is [`Applied::HoldUntilMirrored`]; a reversal
//!   of a voucher not seen yet is [`Applied::HoldUntilReferenced`]. Neither records the key, so
//!   the worker's retry applies it. [`ClaimState::apply_batch`] retries held events within one
//!   batch (a first sync that brings the invoice and its write-off together).
//!
//! Amounts are [`Money`] (whole øre, rust_decimal); no clock: dates and timestamps are passed in.

pub mod allocation;
#[cfg(test)]
mod tests;

pub use allocation::{Allocation, AllocationLine, AllocationRule};

use super::classify::{Classification, CreditKind, Flag, Severity};
use super::money::Money;
use super::owed::{self, CreditEffect, CrossCheck};
use super::setup::{AccountId, OrgId};
use crate::domain::collection::calendar::next_business_day_on_or_after;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

// ---------------------------------------------------------------------------------------------
// Identifiers
// ---------------------------------------------------------------------------------------------

/// One claim of an account: `inv_<Tripletex invoice id>` for an invoice, `item_<posting id>` for
/// an open item without an invoice (opening balance, SAF-T import). Unique within an account.
#[derive(
    utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct ClaimId(String);

impl ClaimId {
    /// The claim of a Tripletex invoice.
    pub fn invoice(invoice_id: i64) -> Result<Self, ClaimError> {
        if invoice_id <= 0 {
            return Err(ClaimError::InvalidClaimId(format!("inv_{invoice_id}")));
        }
        Ok(Self(format!("inv_{invoice_id}")))
    }

    /// The claim of an open item without an invoice, named by its ledger posting.
    pub fn open_item(posting_id: i64) -> Result<Self, ClaimError> {
        if posting_id <= 0 {
            return Err(ClaimError::InvalidClaimId(format!("item_{posting_id}")));
        }
        Ok(Self(format!("item_{posting_id}")))
    }

    pub fn parse(s: &str) -> Result<Self, ClaimError> {
        let err = || ClaimError::InvalidClaimId(s.to_string());
        let (prefix, digits) = s.split_once('_').ok_or_else(err)?;
        if !matches!(prefix, "inv" | "item")
            || digits.is_empty()
            || digits.starts_with('0')
            || !digits.chars().all(|c| c.is_ascii_digit())
        {
            return Err(err());
        }
        digits.parse::<i64>().map_err(|_| err())?;
        Ok(Self(s.to_string()))
    }

    /// The Tripletex invoice id, for an invoice claim.
    pub fn invoice_id(&self) -> Option<i64> {
        self.0.strip_prefix("inv_").and_then(|d| d.parse().ok())
    }

    /// The ledger posting, for an open item without an invoice.
    pub fn posting_id(&self) -> Option<i64> {
        self.0.strip_prefix("item_").and_then(|d| d.parse().ok())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ClaimId {
    type Error = ClaimError;
    fn try_from(s: String) -> Result<Self, ClaimError> {
        Self::parse(&s)
    }
}
impl From<ClaimId> for String {
    fn from(c: ClaimId) -> String {
        c.0
    }
}
impl fmt::Display for ClaimId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The idempotency key of one ledger event: 1 to 200 printable ASCII characters, no spaces.
/// The sync worker builds it from what identifies the event in Tripletex, e.g.
/// [`EventKey::posting`] = `posting:<id>:v<version>`, or passes the ledger sync's own key
/// (`LedgerEvent::key`, e.g. `credit:<posting>:<version>`).
#[derive(
    utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct EventKey(String);

impl EventKey {
    pub fn new(s: &str) -> Result<Self, ClaimError> {
        let ok = !s.is_empty() && s.len() <= 200 && s.chars().all(|c| c.is_ascii_graphic());
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err(ClaimError::InvalidEventKey(s.chars().take(60).collect()))
        }
    }

    /// `posting:<id>:v<version>` (`posting:<id>` without a version): a credit posting.
    pub fn posting(posting: PostingRef) -> Self {
        match posting.version {
            Some(v) => Self(format!("posting:{}:v{v}", posting.id)),
            None => Self(format!("posting:{}", posting.id)),
        }
    }

    /// `reversal:<voucher id>`: a reversing voucher.
    pub fn reversal(voucher_id: i64) -> Self {
        Self(format!("reversal:{voucher_id}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for EventKey {
    type Error = ClaimError;
    fn try_from(s: String) -> Result<Self, ClaimError> {
        Self::new(&s)
    }
}
impl From<EventKey> for String {
    fn from(k: EventKey) -> String {
        k.0
    }
}
impl fmt::Display for EventKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Tripletex posting: id and version (the version rises when the posting is edited or matched;
/// `None` when Tripletex did not send one).
#[derive(
    utoipa::ToSchema,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "camelCase")]
pub struct PostingRef {
    pub id: i64,
    #[serde(default)]
    pub version: Option<i64>,
}

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

/// One ledger event for one claim, with its idempotency key.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimEvent {
    pub key: EventKey,
    pub event: ClaimEventKind,
}

impl ClaimEvent {
    pub fn new(key: EventKey, event: ClaimEventKind) -> Self {
        Self { key, event }
    }

    /// A mirror event keyed `mirror:<claimId>:v<version>`; without a version the key is made of
    /// the content (`mirror:<claimId>:<customer>:<principal>:<dueDate>`).
    pub fn mirrored(claim_id: &ClaimId, m: Mirror) -> Self {
        let key = match m.version {
            Some(v) => EventKey(format!("mirror:{claim_id}:v{v}")),
            None => EventKey(format!(
                "mirror:{claim_id}:{}:{}:{}",
                m.customer_id, m.principal, m.due_date
            )),
        };
        Self::new(key, ClaimEventKind::Mirrored(m))
    }

    /// A credit keyed by its posting (`posting:<id>:v<version>`).
    pub fn credit(c: Credit) -> Self {
        Self::new(EventKey::posting(c.posting), ClaimEventKind::Credit(c))
    }

    /// A reversal keyed by the reversing voucher (`reversal:<voucher id>`).
    pub fn reversal(r: Reversal) -> Self {
        Self::new(
            EventKey::reversal(r.voucher_id),
            ClaimEventKind::Reversal(r),
        )
    }
}

/// What happened.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ClaimEventKind {
    /// The invoice / open item as Tripletex has it (first sight or a later version).
    Mirrored(Mirror),
    /// A credit on the customer ledger against this claim, classified.
    Credit(Credit),
    /// A voucher that reverses an earlier voucher (a credit, or the invoice itself).
    Reversal(Reversal),
    /// Interest and fees demanded by a letter (dunning; none until dunning exists).
    ChargesDemanded(ChargesDemanded),
    /// A person's decision on a credit held for review.
    ReviewDecision(ReviewDecision),
}

/// The invoice (or open item) as mirrored from Tripletex.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mirror {
    /// Tripletex invoice id; `None` for an open item without an invoice.
    pub invoice_id: Option<i64>,
    pub invoice_number: Option<String>,
    /// The invoice's voucher: a reversal of it cancels the claim.
    pub voucher_id: Option<i64>,
    /// The debtor (Tripletex customer id).
    pub customer_id: i64,
    /// The amount invoiced (incl. VAT), not what Tripletex shows outstanding today.
    pub principal: Money,
    pub invoice_date: NaiveDate,
    pub due_date: NaiveDate,
    /// The due date was derived (SAF-T import without one), not read.
    #[serde(default)]
    pub due_date_estimated: bool,
    /// Tripletex's version of the invoice; an older version than the recorded one is stale, an
    /// equal one changes only the cross-check, a newer one with the same facts changes nothing
    /// (the recorded version stays). Without versions, a mirror that differs from the recorded
    /// one replaces it.
    #[serde(default)]
    pub version: Option<i64>,
    /// Tripletex's outstanding figure and the balance the credits imply, when the sync found them
    /// at odds (the invoice's version need not change when that happens). The claim then needs
    /// review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_check: Option<CrossCheck>,
}

/// A credit on the customer ledger (a payment, credit note, write-off, or unknown).
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Credit {
    pub posting: PostingRef,
    pub voucher_id: i64,
    /// The ledger date of the posting.
    pub date: NaiveDate,
    /// How much the credit reduces the customer ledger: positive (Tripletex's posting amount is
    /// negative; the sync worker passes its absolute value).
    pub amount: Money,
    pub kind: CreditKind,
    #[serde(default)]
    pub flags: Vec<Flag>,
    #[serde(default)]
    pub description: Option<String>,
    /// The voucher that later reversed this credit's voucher, when the ledger already knows it
    /// (the sync's `CreditLine::reversed_by`); the same as a [`Reversal`] event.
    #[serde(default)]
    pub reversed_by: Option<i64>,
}

impl Credit {
    /// A credit from the classifier's decision. Use [`ClaimEventKind::from_classified`] when the
    /// classification may be a reversal.
    pub fn from_classification(
        c: &Classification,
        posting: PostingRef,
        voucher_id: i64,
        date: NaiveDate,
        amount: Money,
        description: Option<String>,
    ) -> Self {
        Self {
            posting,
            voucher_id,
            date,
            amount,
            kind: c.kind,
            flags: c.flags.clone(),
            description,
            reversed_by: None,
        }
    }

    /// Whether the classifier left this credit for a person: unknown kind or a review flag.
    pub fn needs_review(&self) -> bool {
        self.kind == CreditKind::Unknown
            || self.flags.iter().any(|f| f.severity() == Severity::Review)
    }
}

impl ClaimEventKind {
    /// The event for a classified credit: a [`Reversal`] when the classifier says so (then
    /// `reverses_voucher_id` is required), a [`Credit`] otherwise.
    pub fn from_classified(
        c: &Classification,
        posting: PostingRef,
        voucher_id: i64,
        reverses_voucher_id: Option<i64>,
        date: NaiveDate,
        amount: Money,
        description: Option<String>,
    ) -> Result<Self, ClaimError> {
        if c.kind == CreditKind::Reversal {
            let target = reverses_voucher_id.ok_or(ClaimError::ReversalWithoutTarget)?;
            return Ok(ClaimEventKind::Reversal(Reversal {
                voucher_id,
                reverses_voucher_id: target,
                date,
            }));
        }
        Ok(ClaimEventKind::Credit(Credit::from_classification(
            c,
            posting,
            voucher_id,
            date,
            amount,
            description,
        )))
    }
}

/// A voucher reversing another voucher. Tripletex reverses whole vouchers, so every credit of the
/// reversed voucher on this claim is undone.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reversal {
    /// The reversing voucher.
    pub voucher_id: i64,
    /// The voucher it reverses.
    pub reverses_voucher_id: i64,
    pub date: NaiveDate,
}

/// Interest and fees demanded so far by one letter (added to what earlier letters demanded).
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargesDemanded {
    /// The letter (or other source) that demanded them.
    pub reference: String,
    pub date: NaiveDate,
    pub interest: Money,
    pub fees: Money,
}

/// A person's decision on a credit held for review.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewDecision {
    pub posting_id: i64,
    pub resolution: Resolution,
    /// The user (JWT `sub`).
    pub decided_by: String,
    pub decided_at: DateTime<Utc>,
}

/// What a held credit turned out to be.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "as", rename_all = "camelCase")]
pub enum Resolution {
    Payment,
    CreditNote,
    WriteOff,
    /// Part paid, part written off (the classifier's "mixed" case); the parts add up to the amount.
    #[serde(rename_all = "camelCase")]
    Split {
        payment: Money,
        write_off: Money,
    },
    /// The credit does not belong to this claim; it is kept in the record and ignored.
    NotThisClaim,
}

// ---------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------

/// Where a claim stands.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ClaimStatus {
    /// Events arrived, but the invoice itself has not been mirrored yet.
    Unmirrored,
    /// Owed and collectible.
    Open,
    /// Written off in the accounts, still owed and collectible ("open in collection").
    WrittenOff,
    /// Settled in full by payment (principal, fees and interest demanded).
    ClosedPaid,
    /// Cancelled by credit notes (or a reversal of the invoice).
    ClosedCredited,
}

impl ClaimStatus {
    /// Open or written off: collection goes on.
    pub fn is_collectible(self) -> bool {
        matches!(self, ClaimStatus::Open | ClaimStatus::WrittenOff)
    }

    pub fn is_closed(self) -> bool {
        matches!(self, ClaimStatus::ClosedPaid | ClaimStatus::ClosedCredited)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ClaimStatus::Unmirrored => "unmirrored",
            ClaimStatus::Open => "open",
            ClaimStatus::WrittenOff => "writtenOff",
            ClaimStatus::ClosedPaid => "closedPaid",
            ClaimStatus::ClosedCredited => "closedCredited",
        }
    }
}

/// How a recorded credit counts.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "as", rename_all = "camelCase")]
pub enum Treatment {
    Payment,
    CreditNote,
    WriteOff,
    #[serde(rename_all = "camelCase")]
    Split {
        payment: Money,
        write_off: Money,
    },
    /// Held for a person; counts for nothing yet.
    PendingReview,
    /// A person said it belongs elsewhere.
    NotThisClaim,
}

impl Treatment {
    fn from_credit(c: &Credit) -> Self {
        if c.needs_review() {
            return Treatment::PendingReview;
        }
        match c.kind {
            CreditKind::Payment => Treatment::Payment,
            CreditKind::CreditNote => Treatment::CreditNote,
            CreditKind::WriteOff => Treatment::WriteOff,
            CreditKind::Reversal | CreditKind::Unknown => Treatment::PendingReview,
        }
    }

    fn from_resolution(r: &Resolution) -> Self {
        match r {
            Resolution::Payment => Treatment::Payment,
            Resolution::CreditNote => Treatment::CreditNote,
            Resolution::WriteOff => Treatment::WriteOff,
            Resolution::Split { payment, write_off } => Treatment::Split {
                payment: *payment,
                write_off: *write_off,
            },
            Resolution::NotThisClaim => Treatment::NotThisClaim,
        }
    }

    /// How the parts of `amount` count toward what is owed ([`owed::derive`]).
    fn effects(&self, amount: Money) -> [(CreditEffect, Money); 2] {
        let none = (CreditEffect::Void, Money::ZERO);
        match self {
            Treatment::Payment | Treatment::CreditNote => [(CreditEffect::Reduces, amount), none],
            Treatment::WriteOff => [(CreditEffect::WritesOff, amount), none],
            Treatment::Split { payment, write_off } => [
                (CreditEffect::Reduces, *payment),
                (CreditEffect::WritesOff, *write_off),
            ],
            Treatment::PendingReview => [(CreditEffect::Undecided, amount), none],
            Treatment::NotThisClaim => [(CreditEffect::Void, amount), none],
        }
    }

    /// (payment part, write-off part, credit-note part) of `amount`.
    fn parts(&self, amount: Money) -> (Money, Money, Money) {
        match self {
            Treatment::Payment => (amount, Money::ZERO, Money::ZERO),
            Treatment::WriteOff => (Money::ZERO, amount, Money::ZERO),
            Treatment::CreditNote => (Money::ZERO, Money::ZERO, amount),
            Treatment::Split { payment, write_off } => (*payment, *write_off, Money::ZERO),
            Treatment::PendingReview | Treatment::NotThisClaim => {
                (Money::ZERO, Money::ZERO, Money::ZERO)
            }
        }
    }
}

/// A credit as recorded on the claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreditEntry {
    pub key: EventKey,
    pub credit: Credit,
    pub treatment: Treatment,
    /// The voucher that reversed this credit; a reversed credit counts for nothing.
    #[serde(default)]
    pub reversed_by: Option<i64>,
    /// Who decided a held credit, and when.
    #[serde(default)]
    pub reviewed_by: Option<String>,
    #[serde(default)]
    pub reviewed_at: Option<DateTime<Utc>>,
}

impl CreditEntry {
    fn is_active(&self) -> bool {
        self.reversed_by.is_none()
    }
}

/// One write-off in the accounts.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WriteOffRecord {
    pub amount: Money,
    pub date: NaiveDate,
    pub voucher_id: i64,
    pub posting_id: i64,
    /// The voucher text lacks "Tap"/"Avskriv"/"Avskrev": tell the user (classify's warning).
    pub marker_missing: bool,
}

/// Why a claim waits for a person. Later stages (dunning) hold a claim that has any.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[schema(as = ClaimReviewReason)]
pub struct ReviewReason {
    pub code: ReviewCode,
    /// English, for the user and the operator (built from Tripletex ledger data).
    pub message: String,
    /// The credit held, for `credit_pending_review`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub posting_id: Option<i64>,
    /// Both figures, for `sources_disagree`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_check: Option<CrossCheck>,
}

/// The kind of a [`ReviewReason`].
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewCode {
    /// A credit is held: unknown kind, or a flag that asks for a person.
    CreditPendingReview,
    /// Tripletex's outstanding figure is not the balance the credits imply.
    SourcesDisagree,
}

/// A settlement in full, handed to the voucher-posting worker.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Settlement {
    pub version: u32,
    pub settled_on: NaiveDate,
    pub amounts: SettlementAmounts,
    pub idempotency_key: String,
    /// A later event (a reversed payment, new charges) made the claim owing again.
    #[serde(default)]
    pub undone: bool,
    /// How the payments were split (the rule and one line per payment) when the claim settled.
    #[serde(default)]
    pub allocation: Allocation,
}

/// A credit's parts that reduce the principal ([`ClaimState::counted_credits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountedCredit {
    /// The ledger date.
    pub date: NaiveDate,
    /// The payment part (a part payment also interrupts limitation).
    pub paid: Money,
    /// The credit-note part.
    pub credited: Money,
}

/// The claim's amounts, recomputed from the recorded credits after every event.
#[derive(utoipa::ToSchema, Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimAmounts {
    /// The amount invoiced.
    pub principal: Money,
    /// Credit notes.
    pub credited: Money,
    /// Payments (recoveries included).
    pub paid: Money,
    /// Write-offs in the accounts; does not reduce what the debtor owes.
    pub written_off: Money,
    /// Payments dated after a write-off (at most `writtenOff`): booked as recovery (7820/7825).
    pub recovered: Money,
    /// Credits held for a person (unknown kind or review flags); not counted.
    pub pending_review: Money,
    /// The principal still owed by the debtor.
    pub principal_outstanding: Money,
    pub fees_demanded: Money,
    pub fees_outstanding: Money,
    pub interest_demanded: Money,
    pub interest_outstanding: Money,
    /// Principal + fees + interest still owed.
    pub outstanding: Money,
    /// Paid or credited beyond what is owed: a person refunds or places it.
    pub excess: Money,
    /// What Tripletex should show on the customer ledger for this item: principal − credited −
    /// paid − written off − pending review (a write-off nets it to zero there). May be negative.
    pub ledger_balance: Money,
    /// The invoice voucher itself was reversed.
    #[serde(default)]
    pub invoice_reversed: bool,
    /// The split of every payment by the account's rule ([`allocation::allocate`]).
    #[serde(default)]
    pub allocation: Allocation,
}

impl ClaimAmounts {
    /// The amounts from the mirror, the recorded credits and the demanded charges. Independent of
    /// the order the credits were recorded in: recoveries are decided by ledger date (ties by
    /// voucher id, then posting id).
    pub fn compute(
        principal: Money,
        credits: &[CreditEntry],
        charges: &[ChargesDemanded],
        invoice_reversed: bool,
        rule: AllocationRule,
    ) -> Result<Self, ClaimError> {
        let add = |a: Money, b: Money| a.checked_add(b).ok_or(ClaimError::Overflow);
        let sub = |a: Money, b: Money| a.checked_sub(b).ok_or(ClaimError::Overflow);
        let pos = |m: Money| m.max(Money::ZERO);

        let mut active: Vec<&CreditEntry> = credits.iter().filter(|e| e.is_active()).collect();
        active.sort_by_key(|e| (e.credit.date, e.credit.voucher_id, e.credit.posting.id));

        // What Tripletex should show, and what is undecided: the one function the ledger item
        // uses too.
        let booked = if invoice_reversed {
            Money::ZERO
        } else {
            principal
        };
        let derived = owed::derive(
            booked,
            active
                .iter()
                .flat_map(|e| e.treatment.effects(e.credit.amount)),
        )
        .map_err(|_| ClaimError::Overflow)?;

        let (mut paid, mut written_off, mut credited) = (Money::ZERO, Money::ZERO, Money::ZERO);
        let mut paid_after_write_off = Money::ZERO;
        let mut payments = Vec::new();
        for e in &active {
            let (p, w, c) = e.treatment.parts(e.credit.amount);
            // A payment on the write-off voucher itself (a split) is not a recovery.
            if !written_off.is_zero() {
                paid_after_write_off = add(paid_after_write_off, p)?;
            }
            if !p.is_zero() {
                payments.push(allocation::PaymentPart {
                    date: e.credit.date,
                    voucher_id: e.credit.voucher_id,
                    posting_id: e.credit.posting.id,
                    amount: p,
                });
            }
            paid = add(paid, p)?;
            written_off = add(written_off, w)?;
            credited = add(credited, c)?;
        }
        let recovered = paid_after_write_off.min(written_off);

        let credit_closed = invoice_reversed || credited >= principal;
        let (mut fees_demanded, mut interest_demanded) = (Money::ZERO, Money::ZERO);
        for ch in charges {
            fees_demanded = add(fees_demanded, ch.fees)?;
            interest_demanded = add(interest_demanded, ch.interest)?;
        }
        // A cancelled invoice was never owed, nor the charges on it.
        let charge_parts: Vec<allocation::ChargePart> = if credit_closed {
            Vec::new()
        } else {
            charges
                .iter()
                .map(|ch| allocation::ChargePart {
                    date: ch.date,
                    fees: ch.fees,
                    interest: ch.interest,
                })
                .collect()
        };

        // The principal net of credit notes: what payments can go to.
        let net_principal = if invoice_reversed {
            Money::ZERO
        } else {
            pos(sub(principal, credited)?)
        };
        // The one split of the payments, by the account's rule.
        let alloc = allocation::allocate(rule, net_principal, &payments, &charge_parts)?;
        let over_credit = if invoice_reversed {
            credited
        } else {
            pos(sub(credited, principal)?)
        };
        let excess = add(alloc.excess, over_credit)?;
        let principal_outstanding = alloc.principal_outstanding;
        let fees_outstanding = alloc.fees_outstanding;
        let interest_outstanding = alloc.interest_outstanding;
        let outstanding = add(
            add(principal_outstanding, fees_outstanding)?,
            interest_outstanding,
        )?;

        Ok(Self {
            principal,
            credited,
            paid,
            written_off,
            recovered,
            pending_review: derived.undecided,
            principal_outstanding,
            fees_demanded,
            fees_outstanding,
            interest_demanded,
            interest_outstanding,
            outstanding,
            excess,
            ledger_balance: derived.expected_balance,
            invoice_reversed,
            allocation: alloc,
        })
    }

    /// The status these amounts mean (for a mirrored claim).
    pub fn status(&self) -> ClaimStatus {
        if self.invoice_reversed || self.credited >= self.principal {
            ClaimStatus::ClosedCredited
        } else if self.outstanding.is_zero() {
            ClaimStatus::ClosedPaid
        } else if !self.written_off.is_zero() {
            ClaimStatus::WrittenOff
        } else {
            ClaimStatus::Open
        }
    }
}

/// One line of the claim's timeline.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimTimelineEntry {
    /// Order of processing (1, 2, …).
    pub seq: u64,
    /// The ledger date of the event (for a review decision: the day it was decided).
    pub date: NaiveDate,
    pub key: EventKey,
    pub change: ClaimChange,
    /// The status after the event.
    pub status: ClaimStatus,
}

/// What an event did, for the timeline.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ClaimChange {
    #[serde(rename_all = "camelCase")]
    Mirrored {
        principal: Money,
        due_date: NaiveDate,
        /// Tripletex's figure at odds with the credits (the claim needs review).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cross_check: Option<CrossCheck>,
    },
    /// A newer version of the invoice, or (same version) the cross-check changed.
    #[serde(rename_all = "camelCase")]
    MirrorUpdated {
        principal: Money,
        due_date: NaiveDate,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cross_check: Option<CrossCheck>,
    },
    #[serde(rename_all = "camelCase")]
    Credit {
        posting_id: i64,
        voucher_id: i64,
        amount: Money,
        kind: CreditKind,
        treatment: Treatment,
        /// A payment dated after a write-off.
        recovery: bool,
    },
    /// A newer version of a recorded posting replaced it.
    #[serde(rename_all = "camelCase")]
    CreditCorrected {
        posting_id: i64,
        amount: Money,
        treatment: Treatment,
    },
    #[serde(rename_all = "camelCase")]
    Reversed {
        voucher_id: i64,
        reverses_voucher_id: i64,
        /// The invoice voucher itself was reversed.
        invoice: bool,
    },
    #[serde(rename_all = "camelCase")]
    ChargesDemanded {
        reference: String,
        interest: Money,
        fees: Money,
    },
    #[serde(rename_all = "camelCase")]
    Reviewed {
        posting_id: i64,
        treatment: Treatment,
        decided_by: String,
    },
}

/// The result of applying an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum Applied {
    /// Recorded; the effects are for the adapters (cases, the posting queue, review lists).
    Changed { effects: Vec<ClaimEffect> },
    /// The key was applied before: nothing changed.
    Duplicate,
    /// An older version of something recorded in a newer version: key noted, nothing changed.
    Stale,
    /// The invoice is not mirrored yet: nothing recorded; retry after the mirror.
    HoldUntilMirrored,
    /// A reversal of a voucher not seen on this claim yet: nothing recorded; retry later.
    #[serde(rename_all = "camelCase")]
    HoldUntilReferenced { voucher_id: i64 },
}

impl Applied {
    pub fn is_hold(&self) -> bool {
        matches!(
            self,
            Applied::HoldUntilMirrored | Applied::HoldUntilReferenced { .. }
        )
    }

    pub fn effects(&self) -> &[ClaimEffect] {
        match self {
            Applied::Changed { effects } => effects,
            _ => &[],
        }
    }
}

/// Something the adapters act on after an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ClaimEffect {
    /// The status changed (cases follow: close on closed, reopen on a reopened claim).
    StatusChanged { from: ClaimStatus, to: ClaimStatus },
    /// Settled in full: enqueue this job (its idempotency key makes a re-send harmless).
    Settled(VoucherPostingJob),
    /// A settlement no longer holds (a payment was reversed, charges were added): the posting
    /// worker reverses what it posted for that version, if anything.
    #[serde(rename_all = "camelCase")]
    SettlementUndone {
        settlement_version: u32,
        idempotency_key: String,
    },
    /// A credit is held for a person.
    #[serde(rename_all = "camelCase")]
    ReviewNeeded {
        posting_id: i64,
        voucher_id: i64,
        amount: Money,
        kind: CreditKind,
        flags: Vec<Flag>,
    },
    /// More was recovered after a write-off (total recovered now).
    Recovered { total: Money },
    /// More was paid or credited than owed (total excess now).
    Excess { total: Money },
}

/// The voucher-posting job: enqueued once per settlement version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VoucherPostingJob {
    pub org: OrgId,
    pub account_id: AccountId,
    pub claim_id: ClaimId,
    pub invoice_id: Option<i64>,
    pub customer_id: i64,
    pub settlement_version: u32,
    /// The ledger date of the last counted payment.
    pub settled_on: NaiveDate,
    pub amounts: SettlementAmounts,
    /// [`VoucherPostingJob::key`]: `settle:<accountId>:<claimId>:<settlementVersion>`.
    pub idempotency_key: String,
}

/// The undo of a settlement whose job was sent: the posting worker reverses the voucher it booked
/// under `undoes` (if any), once. Key `undo:{accountId}:{claimId}:{settlementVersion}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VoucherUndoJob {
    pub org: OrgId,
    pub account_id: AccountId,
    pub claim_id: ClaimId,
    pub settlement_version: u32,
    /// The settlement's key ([`VoucherPostingJob::key`]).
    pub undoes: String,
    /// The ledger date of the event that undid the settlement (the reversing voucher's date).
    pub undone_on: NaiveDate,
    pub idempotency_key: String,
}

impl VoucherUndoJob {
    pub fn key(account_id: &AccountId, claim_id: &ClaimId, settlement_version: u32) -> String {
        format!("undo:{account_id}:{claim_id}:{settlement_version}")
    }
}

/// What a settlement consists of.
#[derive(utoipa::ToSchema, Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SettlementAmounts {
    /// Payments that went to principal.
    pub principal: Money,
    /// Interest paid (income, 8055).
    pub interest: Money,
    /// Fees paid (income).
    pub fees: Money,
    /// Of the payments, recovered after a write-off (7820/7825).
    pub recovered: Money,
    /// Paid beyond what was owed (for a person).
    pub excess: Money,
}

impl VoucherPostingJob {
    /// The idempotency key: `settle:<accountId>:<claimId>:<settlementVersion>`. The account is
    /// in it because claim ids are unique per account only (two organizations may follow the
    /// same Tripletex company) and an SQS FIFO deduplication id is unique per queue.
    pub fn key(account_id: &AccountId, claim_id: &ClaimId, settlement_version: u32) -> String {
        format!("settle:{account_id}:{claim_id}:{settlement_version}")
    }

    /// Whether there is anything to book (interest, fees, a recovery or an excess); a settlement
    /// of the bare principal needs no voucher, Tripletex already has the payment.
    pub fn needs_posting(&self) -> bool {
        let a = &self.amounts;
        !(a.interest.is_zero() && a.fees.is_zero() && a.recovered.is_zero() && a.excess.is_zero())
    }
}

/// The claim aggregate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimState {
    pub org: OrgId,
    pub account_id: AccountId,
    pub claim_id: ClaimId,
    pub mirror: Option<Mirror>,
    /// The voucher that reversed the invoice voucher, if any.
    #[serde(default)]
    pub invoice_reversed_by: Option<i64>,
    pub credits: Vec<CreditEntry>,
    #[serde(default)]
    pub charges: Vec<ChargesDemanded>,
    pub status: ClaimStatus,
    pub amounts: ClaimAmounts,
    #[serde(default)]
    pub settlements: Vec<Settlement>,
    pub timeline: Vec<ClaimTimelineEntry>,
    /// Every key applied (or noted as stale).
    pub applied_keys: BTreeSet<EventKey>,
    /// Reversing vouchers applied, with their target, so a reversal recorded before its target
    /// arrived again under another key is still recognised.
    #[serde(default)]
    pub reversals: Vec<Reversal>,
    /// Bumped on every change: the adapter's optimistic-lock version.
    pub version: u64,
    /// How payments are split ([`ClaimState::set_allocation_rule`], the account's setting).
    #[serde(default)]
    pub allocation_rule: AllocationRule,
}

/// A batch's results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchOutcome {
    /// The events that were applied (or found duplicate/stale) or failed, in order of processing.
    pub results: Vec<(EventKey, Result<Applied, ClaimError>)>,
    /// Events still held at the end (with why): the worker retries them later.
    pub held: Vec<(ClaimEvent, Applied)>,
}

impl BatchOutcome {
    /// Every effect of the batch, in order.
    pub fn effects(&self) -> Vec<ClaimEffect> {
        self.results
            .iter()
            .filter_map(|(_, r)| r.as_ref().ok())
            .flat_map(|a| a.effects().iter().cloned())
            .collect()
    }
}

impl ClaimState {
    /// An empty claim: nothing mirrored, nothing applied.
    pub fn new(org: OrgId, account_id: AccountId, claim_id: ClaimId) -> Self {
        Self {
            org,
            account_id,
            claim_id,
            mirror: None,
            invoice_reversed_by: None,
            credits: Vec::new(),
            charges: Vec::new(),
            status: ClaimStatus::Unmirrored,
            amounts: ClaimAmounts::default(),
            settlements: Vec::new(),
            timeline: Vec::new(),
            applied_keys: BTreeSet::new(),
            reversals: Vec::new(),
            version: 0,
            allocation_rule: AllocationRule::default(),
        }
    }

    /// Sets the account's allocation rule and recomputes the amounts with it. Not an event: the
    /// status, what is owed in all and the settlements do not depend on the rule (only the split
    /// between principal and charges does), so nothing else changes. Returns whether the rule
    /// changed.
    pub fn set_allocation_rule(&mut self, rule: AllocationRule) -> Result<bool, ClaimError> {
        if self.allocation_rule == rule {
            return Ok(false);
        }
        let mut next = self.clone();
        next.allocation_rule = rule;
        next.recompute()?;
        *self = next;
        Ok(true)
    }

    pub fn is_mirrored(&self) -> bool {
        self.mirror.is_some()
    }

    /// The debtor (Tripletex customer id), once mirrored.
    pub fn customer_id(&self) -> Option<i64> {
        self.mirror.as_ref().map(|m| m.customer_id)
    }

    /// The due date as the law reads it: moved to the next business day (gjeldsbrevloven § 5).
    pub fn effective_due_date(&self) -> Option<NaiveDate> {
        self.mirror
            .as_ref()
            .map(|m| next_business_day_on_or_after(m.due_date))
    }

    /// Days past the effective due date on `today` (0 or negative when not yet overdue).
    pub fn days_past_due(&self, today: NaiveDate) -> Option<i64> {
        self.effective_due_date()
            .map(|d| today.signed_duration_since(d).num_days())
    }

    /// Whether a case should be opened on `today`: the claim is collectible and at least
    /// `days_past_due` days (and at least one day) past its effective due date.
    pub fn is_overdue_by(&self, today: NaiveDate, days_past_due: u16) -> bool {
        self.status.is_collectible()
            && self
                .days_past_due(today)
                .is_some_and(|d| d >= 1 && d >= i64::from(days_past_due))
    }

    /// The first day [`ClaimState::is_overdue_by`] holds for a collectible claim: the effective
    /// due date plus `days_past_due` days (at least one). The adapter schedules the case's
    /// opening for this day when the sync reports the item overdue earlier.
    pub fn case_opens_on(&self, days_past_due: u16) -> Option<NaiveDate> {
        let due = self.effective_due_date()?;
        due.checked_add_days(chrono::Days::new(u64::from(days_past_due.max(1))))
    }

    /// The active write-offs (amount, date, voucher), by ledger date: "written off in the
    /// accounts" as the user sees it. A split's write-off part is included.
    pub fn write_offs(&self) -> Vec<WriteOffRecord> {
        let mut v: Vec<WriteOffRecord> = self
            .credits
            .iter()
            .filter(|e| e.is_active())
            .filter_map(|e| {
                let (_, w, _) = e.treatment.parts(e.credit.amount);
                (!w.is_zero()).then(|| WriteOffRecord {
                    amount: w,
                    date: e.credit.date,
                    voucher_id: e.credit.voucher_id,
                    posting_id: e.credit.posting.id,
                    marker_missing: e.credit.flags.contains(&Flag::MarkerMissing),
                })
            })
            .collect();
        v.sort_by_key(|w| (w.date, w.voucher_id, w.posting_id));
        v
    }

    /// Why the claim waits for a person: Tripletex and the credits disagree, or credits are held
    /// for review (by ledger date). Empty when nothing waits.
    pub fn review_reasons(&self) -> Vec<ReviewReason> {
        let mut reasons = Vec::new();
        if let Some(x) = self.mirror.as_ref().and_then(|m| m.cross_check) {
            reasons.push(ReviewReason {
                code: ReviewCode::SourcesDisagree,
                message: x.explain(self.amounts.principal_outstanding),
                posting_id: None,
                cross_check: Some(x),
            });
        }
        let mut held: Vec<&CreditEntry> = self
            .credits
            .iter()
            .filter(|e| e.is_active() && e.treatment == Treatment::PendingReview)
            .collect();
        held.sort_by_key(|e| (e.credit.date, e.credit.voucher_id, e.credit.posting.id));
        for e in held {
            let c = &e.credit;
            let flags: Vec<&str> = c.flags.iter().map(|f| f.as_str()).collect();
            reasons.push(ReviewReason {
                code: ReviewCode::CreditPendingReview,
                message: format!(
                    "the credit of {} on {} (posting {}, voucher {}) is held for a person:                      classified {}{}; it reduces nothing until decided",
                    c.amount,
                    c.date,
                    c.posting.id,
                    c.voucher_id,
                    c.kind.as_str(),
                    if flags.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", flags.join(", "))
                    }
                ),
                posting_id: Some(c.posting.id),
                cross_check: None,
            });
        }
        reasons
    }

    /// Whether anything on the claim waits for a person ([`ClaimState::review_reasons`]).
    pub fn needs_review(&self) -> bool {
        self.mirror
            .as_ref()
            .is_some_and(|m| m.cross_check.is_some())
            || self
                .credits
                .iter()
                .any(|e| e.is_active() && e.treatment == Treatment::PendingReview)
    }

    /// The credits that reduce the principal, as they count now: each active, decided credit
    /// with a payment or credit-note part, in recorded order (not sorted). Write-offs, credits
    /// held for review, credits placed elsewhere and reversed credits are left out. The
    /// principal outstanding after a day is `max(0, principal − credited − paid)` summed over
    /// the credits through that day (the order [`ClaimAmounts::compute`] applies: principal
    /// first), which is the balance forsinkelsesrente runs on.
    pub fn counted_credits(&self) -> impl Iterator<Item = CountedCredit> + '_ {
        self.credits
            .iter()
            .filter(|e| e.is_active())
            .filter_map(|e| {
                let (paid, _, credited) = e.treatment.parts(e.credit.amount);
                (!paid.is_zero() || !credited.is_zero()).then_some(CountedCredit {
                    date: e.credit.date,
                    paid,
                    credited,
                })
            })
    }

    /// The settlement in force (the last one, if not undone).
    pub fn current_settlement(&self) -> Option<&Settlement> {
        self.settlements.last().filter(|s| !s.undone)
    }

    /// Applies one event. Pure: the state changes only on `Ok(Applied::Changed)` (and a stale
    /// event notes its key); a hold or an error leaves it exactly as it was.
    pub fn apply(&mut self, event: ClaimEvent) -> Result<Applied, ClaimError> {
        if self.applied_keys.contains(&event.key) {
            return Ok(Applied::Duplicate);
        }
        // Work on a copy so an error halfway leaves `self` untouched.
        let mut next = self.clone();
        let outcome = next.apply_inner(&event)?;
        match &outcome {
            Applied::Changed { .. } | Applied::Stale | Applied::Duplicate => {
                next.applied_keys.insert(event.key);
                if matches!(outcome, Applied::Changed { .. }) {
                    next.version += 1;
                }
                *self = next;
            }
            Applied::HoldUntilMirrored | Applied::HoldUntilReferenced { .. } => {}
        }
        Ok(outcome)
    }

    /// Applies events in order; events held (not mirrored yet, reversal target not seen) are
    /// retried after every pass that changed something, so a batch that brings a write-off
    /// before its invoice ends with both applied.
    pub fn apply_batch(&mut self, events: impl IntoIterator<Item = ClaimEvent>) -> BatchOutcome {
        let mut results = Vec::new();
        let mut pending: Vec<ClaimEvent> = events.into_iter().collect();
        loop {
            let mut progress = false;
            let mut still = Vec::new();
            for ev in pending {
                match self.apply(ev.clone()) {
                    Ok(a) if a.is_hold() => still.push((ev, a)),
                    r => {
                        progress |= matches!(r, Ok(Applied::Changed { .. }));
                        results.push((ev.key, r));
                    }
                }
            }
            if !progress || still.is_empty() {
                return BatchOutcome {
                    results,
                    held: still,
                };
            }
            pending = still.into_iter().map(|(e, _)| e).collect();
        }
    }

    fn apply_inner(&mut self, event: &ClaimEvent) -> Result<Applied, ClaimError> {
        let before_status = self.status;
        let before_amounts = self.amounts.clone();
        let (date, change, mut effects) = match &event.event {
            ClaimEventKind::Mirrored(m) => match self.apply_mirror(m)? {
                Some(change) => (m.invoice_date, change, Vec::new()),
                None => return Ok(Applied::Stale),
            },
            ClaimEventKind::Credit(c) => {
                if self.mirror.is_none() {
                    return Ok(Applied::HoldUntilMirrored);
                }
                match self.apply_credit(&event.key, c)? {
                    Some(r) => r,
                    None => return Ok(Applied::Stale),
                }
            }
            ClaimEventKind::Reversal(r) => {
                if self.mirror.is_none() {
                    return Ok(Applied::HoldUntilMirrored);
                }
                match self.apply_reversal(r)? {
                    ReversalResult::Applied(change) => (r.date, change, Vec::new()),
                    ReversalResult::Stale => return Ok(Applied::Stale),
                    ReversalResult::NotSeen => {
                        return Ok(Applied::HoldUntilReferenced {
                            voucher_id: r.reverses_voucher_id,
                        })
                    }
                }
            }
            ClaimEventKind::ChargesDemanded(ch) => {
                if self.mirror.is_none() {
                    return Ok(Applied::HoldUntilMirrored);
                }
                if let Some(old) = self.charges.iter().find(|o| o.reference == ch.reference) {
                    if old == ch {
                        return Ok(Applied::Stale);
                    }
                    return Err(ClaimError::ChargesConflict {
                        reference: ch.reference.clone(),
                    });
                }
                if ch.interest.is_negative() || ch.fees.is_negative() {
                    return Err(ClaimError::NegativeAmount {
                        field: "charges",
                        amount: ch.interest.min(ch.fees),
                    });
                }
                self.charges.push(ch.clone());
                (
                    ch.date,
                    ClaimChange::ChargesDemanded {
                        reference: ch.reference.clone(),
                        interest: ch.interest,
                        fees: ch.fees,
                    },
                    Vec::new(),
                )
            }
            ClaimEventKind::ReviewDecision(d) => {
                let change = self.apply_review(d)?;
                (d.decided_at.date_naive(), change, Vec::new())
            }
        };

        self.recompute()?;
        if self.status != before_status {
            effects.push(ClaimEffect::StatusChanged {
                from: before_status,
                to: self.status,
            });
        }
        if self.amounts.recovered > before_amounts.recovered {
            effects.push(ClaimEffect::Recovered {
                total: self.amounts.recovered,
            });
        }
        if self.amounts.excess > before_amounts.excess {
            effects.push(ClaimEffect::Excess {
                total: self.amounts.excess,
            });
        }
        self.settle(&mut effects);

        let change = match change {
            ClaimChange::Credit {
                posting_id,
                voucher_id,
                amount,
                kind,
                treatment,
                ..
            } => {
                let recovery = self.amounts.recovered > before_amounts.recovered;
                ClaimChange::Credit {
                    posting_id,
                    voucher_id,
                    amount,
                    kind,
                    treatment,
                    recovery,
                }
            }
            other => other,
        };
        let seq = self.timeline.len() as u64 + 1;
        self.timeline.push(ClaimTimelineEntry {
            seq,
            date,
            key: event.key.clone(),
            change,
            status: self.status,
        });
        Ok(Applied::Changed { effects })
    }

    /// `Ok(None)`: stale (older or equal version of the recorded mirror).
    fn apply_mirror(&mut self, m: &Mirror) -> Result<Option<ClaimChange>, ClaimError> {
        if m.principal.is_negative() || m.principal.is_zero() {
            return Err(ClaimError::NonPositiveAmount {
                field: "principal",
                amount: m.principal,
            });
        }
        if m.invoice_id != self.claim_id.invoice_id() {
            return Err(ClaimError::MirrorMismatch {
                claim_id: self.claim_id.clone(),
                invoice_id: m.invoice_id,
            });
        }
        match &self.mirror {
            None => {
                self.mirror = Some(m.clone());
                Ok(Some(ClaimChange::Mirrored {
                    principal: m.principal,
                    due_date: m.due_date,
                    cross_check: m.cross_check,
                }))
            }
            // The same invoice version: Tripletex's figure may have moved without the invoice
            // being edited (a voucher matched later), so only the cross-check follows.
            Some(old)
                if m.version.is_some()
                    && m.version == old.version
                    && m.cross_check != old.cross_check =>
            {
                let mut next = old.clone();
                next.cross_check = m.cross_check;
                let change = ClaimChange::MirrorUpdated {
                    principal: next.principal,
                    due_date: next.due_date,
                    cross_check: next.cross_check,
                };
                self.mirror = Some(next);
                Ok(Some(change))
            }
            Some(old) if is_stale(m.version, old.version) || m == old => Ok(None),
            // A newer version with the same facts: Tripletex counts a voucher booked onto the
            // invoice (a payment, the settlement's own income voucher) as an edit of it. Nothing
            // the claim uses changed, so nothing is recorded.
            Some(old)
                if Mirror {
                    version: old.version,
                    ..m.clone()
                } == *old =>
            {
                Ok(None)
            }
            Some(old) => {
                if old.customer_id != m.customer_id {
                    return Err(ClaimError::CustomerChanged {
                        from: old.customer_id,
                        to: m.customer_id,
                    });
                }
                self.mirror = Some(m.clone());
                Ok(Some(ClaimChange::MirrorUpdated {
                    principal: m.principal,
                    due_date: m.due_date,
                    cross_check: m.cross_check,
                }))
            }
        }
    }

    /// `Ok(None)`: stale (an older version of a recorded posting).
    #[allow(clippy::type_complexity)]
    fn apply_credit(
        &mut self,
        key: &EventKey,
        c: &Credit,
    ) -> Result<Option<(NaiveDate, ClaimChange, Vec<ClaimEffect>)>, ClaimError> {
        if c.amount.is_negative() {
            return Err(ClaimError::NegativeAmount {
                field: "amount",
                amount: c.amount,
            });
        }
        if c.amount.is_zero() {
            return Err(ClaimError::NonPositiveAmount {
                field: "amount",
                amount: c.amount,
            });
        }
        if c.kind == CreditKind::Reversal {
            return Err(ClaimError::ReversalAsCredit {
                posting_id: c.posting.id,
            });
        }
        let treatment = Treatment::from_credit(c);
        let mut effects = Vec::new();
        if treatment == Treatment::PendingReview {
            effects.push(ClaimEffect::ReviewNeeded {
                posting_id: c.posting.id,
                voucher_id: c.voucher_id,
                amount: c.amount,
                kind: c.kind,
                flags: c.flags.clone(),
            });
        }
        // A reversal recorded earlier for this voucher (its credit arrived late, after a retry
        // gave up, or under a new posting version) still applies.
        let reversed_by = self
            .reversals
            .iter()
            .find(|r| r.reverses_voucher_id == c.voucher_id)
            .map(|r| r.voucher_id);

        if let Some(i) = self
            .credits
            .iter()
            .position(|e| e.credit.posting.id == c.posting.id)
        {
            let old = &self.credits[i];
            if is_stale(c.posting.version, old.credit.posting.version) || c == &old.credit {
                return Ok(None);
            }
            // A newer version of the same posting (edited or re-described): it replaces the old
            // one. A person's earlier decision stands only if the content is the same.
            let same_content = old.credit.amount == c.amount
                && old.credit.kind == c.kind
                && old.credit.flags == c.flags;
            let (treatment, reviewed_by, reviewed_at) = if same_content && old.reviewed_by.is_some()
            {
                (
                    old.treatment.clone(),
                    old.reviewed_by.clone(),
                    old.reviewed_at,
                )
            } else {
                (treatment, None, None)
            };
            if same_content {
                effects.retain(|e| !matches!(e, ClaimEffect::ReviewNeeded { .. }));
            }
            let entry = CreditEntry {
                key: key.clone(),
                credit: c.clone(),
                treatment: treatment.clone(),
                reversed_by: c.reversed_by.or(old.reversed_by).or(reversed_by),
                reviewed_by,
                reviewed_at,
            };
            self.credits[i] = entry;
            return Ok(Some((
                c.date,
                ClaimChange::CreditCorrected {
                    posting_id: c.posting.id,
                    amount: c.amount,
                    treatment,
                },
                effects,
            )));
        }

        self.credits.push(CreditEntry {
            key: key.clone(),
            credit: c.clone(),
            treatment: treatment.clone(),
            reversed_by: c.reversed_by.or(reversed_by),
            reviewed_by: None,
            reviewed_at: None,
        });
        Ok(Some((
            c.date,
            ClaimChange::Credit {
                posting_id: c.posting.id,
                voucher_id: c.voucher_id,
                amount: c.amount,
                kind: c.kind,
                treatment,
                recovery: false,
            },
            effects,
        )))
    }

    fn apply_reversal(&mut self, r: &Reversal) -> Result<ReversalResult, ClaimError> {
        if let Some(old) = self.reversals.iter().find(|x| x.voucher_id == r.voucher_id) {
            if old.reverses_voucher_id == r.reverses_voucher_id {
                return Ok(ReversalResult::Stale);
            }
            return Err(ClaimError::ReversalConflict {
                voucher_id: r.voucher_id,
            });
        }
        if self
            .reversals
            .iter()
            .any(|x| x.voucher_id == r.reverses_voucher_id)
        {
            return Err(ClaimError::ReversalOfReversal {
                voucher_id: r.reverses_voucher_id,
            });
        }
        let invoice_voucher = self.mirror.as_ref().and_then(|m| m.voucher_id);
        let mut hit = false;
        for e in self
            .credits
            .iter_mut()
            .filter(|e| e.credit.voucher_id == r.reverses_voucher_id)
        {
            e.reversed_by = Some(r.voucher_id);
            hit = true;
        }
        let invoice = invoice_voucher == Some(r.reverses_voucher_id);
        if invoice {
            self.invoice_reversed_by = Some(r.voucher_id);
        }
        if !hit && !invoice {
            return Ok(ReversalResult::NotSeen);
        }
        self.reversals.push(r.clone());
        Ok(ReversalResult::Applied(ClaimChange::Reversed {
            voucher_id: r.voucher_id,
            reverses_voucher_id: r.reverses_voucher_id,
            invoice,
        }))
    }

    fn apply_review(&mut self, d: &ReviewDecision) -> Result<ClaimChange, ClaimError> {
        if d.decided_by.trim().is_empty() {
            return Err(ClaimError::BlankReviewer);
        }
        let entry = self
            .credits
            .iter_mut()
            .find(|e| e.credit.posting.id == d.posting_id)
            .ok_or(ClaimError::NoSuchCredit {
                posting_id: d.posting_id,
            })?;
        if entry.treatment != Treatment::PendingReview {
            return Err(ClaimError::NotPendingReview {
                posting_id: d.posting_id,
            });
        }
        if let Resolution::Split { payment, write_off } = &d.resolution {
            if payment.is_negative() || write_off.is_negative() {
                return Err(ClaimError::NegativeAmount {
                    field: "split",
                    amount: (*payment).min(*write_off),
                });
            }
            let sum = payment
                .checked_add(*write_off)
                .ok_or(ClaimError::Overflow)?;
            if sum != entry.credit.amount {
                return Err(ClaimError::SplitDoesNotAddUp {
                    amount: entry.credit.amount,
                    payment: *payment,
                    write_off: *write_off,
                });
            }
        }
        entry.treatment = Treatment::from_resolution(&d.resolution);
        entry.reviewed_by = Some(d.decided_by.clone());
        entry.reviewed_at = Some(d.decided_at);
        Ok(ClaimChange::Reviewed {
            posting_id: d.posting_id,
            treatment: entry.treatment.clone(),
            decided_by: d.decided_by.clone(),
        })
    }

    fn recompute(&mut self) -> Result<(), ClaimError> {
        let Some(m) = &self.mirror else {
            self.status = ClaimStatus::Unmirrored;
            return Ok(());
        };
        self.amounts = ClaimAmounts::compute(
            m.principal,
            &self.credits,
            &self.charges,
            self.invoice_reversed_by.is_some(),
            self.allocation_rule,
        )?;
        self.status = self.amounts.status();
        Ok(())
    }

    /// Emits the settlement job once per settlement, or undoes the settlement in force.
    fn settle(&mut self, effects: &mut Vec<ClaimEffect>) {
        let settled = self.status == ClaimStatus::ClosedPaid;
        let in_force = self.current_settlement().is_some();
        if settled && !in_force {
            let Some(m) = &self.mirror else { return };
            let version = self.settlements.len() as u32 + 1;
            let a = &self.amounts;
            let settled_on = self
                .credits
                .iter()
                .filter(|e| e.is_active() && !e.treatment.parts(e.credit.amount).0.is_zero())
                .map(|e| e.credit.date)
                .max()
                .unwrap_or(m.invoice_date);
            // Settled in full and not cancelled by credit: the principal net of credit notes,
            // the fees and the interest demanded are all paid.
            let amounts = SettlementAmounts {
                principal: a.principal.checked_sub(a.credited).unwrap_or(Money::ZERO),
                interest: a.interest_demanded,
                fees: a.fees_demanded,
                recovered: a.recovered,
                excess: a.excess,
            };
            let key = VoucherPostingJob::key(&self.account_id, &self.claim_id, version);
            self.settlements.push(Settlement {
                version,
                settled_on,
                amounts: amounts.clone(),
                idempotency_key: key.clone(),
                undone: false,
                allocation: a.allocation.clone(),
            });
            effects.push(ClaimEffect::Settled(VoucherPostingJob {
                org: self.org.clone(),
                account_id: self.account_id.clone(),
                claim_id: self.claim_id.clone(),
                invoice_id: m.invoice_id,
                customer_id: m.customer_id,
                settlement_version: version,
                settled_on,
                amounts,
                idempotency_key: key,
            }));
        } else if !settled && in_force {
            if let Some(s) = self.settlements.last_mut() {
                s.undone = true;
                effects.push(ClaimEffect::SettlementUndone {
                    settlement_version: s.version,
                    idempotency_key: s.idempotency_key.clone(),
                });
            }
        }
    }
}

/// Whether `new` is older than or the same as `old` (both known). Unknown versions are never
/// stale by version; content decides.
fn is_stale(new: Option<i64>, old: Option<i64>) -> bool {
    matches!((new, old), (Some(n), Some(o)) if n <= o)
}

enum ReversalResult {
    Applied(ClaimChange),
    /// The same reversing voucher was applied before (under another key).
    Stale,
    /// The reversed voucher is not on this claim (yet).
    NotSeen,
}

/// Why an event was refused. The state is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    #[error("not a claim id: {0:?} (inv_<invoice id> or item_<posting id>)")]
    InvalidClaimId(String),
    #[error("not an event key: {0:?} (1 to 200 printable ASCII characters, no spaces)")]
    InvalidEventKey(String),
    #[error("{field} must be positive, got {amount}")]
    NonPositiveAmount { field: &'static str, amount: Money },
    #[error("{field} must not be negative, got {amount}")]
    NegativeAmount { field: &'static str, amount: Money },
    #[error("the mirror of invoice {invoice_id:?} does not belong to claim {claim_id}")]
    MirrorMismatch {
        claim_id: ClaimId,
        invoice_id: Option<i64>,
    },
    #[error("the invoice's customer changed from {from} to {to}: a person must look")]
    CustomerChanged { from: i64, to: i64 },
    #[error("a reversal needs the id of the voucher it reverses")]
    ReversalWithoutTarget,
    #[error("posting {posting_id} is a reversal: send it as a reversal event")]
    ReversalAsCredit { posting_id: i64 },
    #[error("reversing voucher {voucher_id} was recorded with another target")]
    ReversalConflict { voucher_id: i64 },
    #[error("voucher {voucher_id} is itself a reversal; reversing a reversal needs a person")]
    ReversalOfReversal { voucher_id: i64 },
    #[error("no credit from posting {posting_id} on this claim")]
    NoSuchCredit { posting_id: i64 },
    #[error("the credit from posting {posting_id} is not waiting for review")]
    NotPendingReview { posting_id: i64 },
    #[error("payment {payment} and write-off {write_off} do not add up to the credit {amount}")]
    SplitDoesNotAddUp {
        amount: Money,
        payment: Money,
        write_off: Money,
    },
    #[error("charges {reference:?} were recorded with other amounts")]
    ChargesConflict { reference: String },
    #[error("a review decision needs the deciding user")]
    BlankReviewer,
    #[error("the amounts are too large")]
    Overflow,
}
