//! The mirrored ledger: customers, items (claims), credits, skip records and counts.
//! Serialised in camelCase (DynamoDB items and HTTP responses); enum values in snake_case.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::hash::ContentHash;
use crate::domain::classify::{CreditEvidence, CreditKind};
use crate::domain::owed::{CreditEffect, CrossCheck};
use crate::domain::{DebtorKind, Money, OrgNumber};

/// A postal address (from Tripletex's `postalAddress`, or from Enhetsregisteret).
#[derive(utoipa::ToSchema, Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostalAddress {
    /// Street lines, blank lines removed.
    pub lines: Vec<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    /// ISO 3166-1 alpha-2 when known ("NO").
    pub country_code: Option<String>,
}

impl PostalAddress {
    /// No line, no postal code, no city.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty() && self.postal_code.is_none() && self.city.is_none()
    }
}

/// `invoicesDueInType`.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentTermsKind {
    /// Due `n` days after the invoice date.
    Days,
    /// Due `n` months after the invoice date (clamped to the month's last day).
    Months,
    /// Due on day `n` of the month after the invoice date's month (clamped to its last day).
    RecurringDayOfMonth,
}

/// A customer's default payment terms (`invoicesDueIn` + `invoicesDueInType`).
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentTerms {
    pub due_in: u32,
    pub kind: PaymentTermsKind,
}

/// A customer (debtor) as mirrored.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MirroredCustomer {
    pub id: i64,
    pub version: Option<i64>,
    pub name: String,
    pub customer_number: Option<i64>,
    /// A valid organisasjonsnummer (MOD11 checked).
    pub organization_number: Option<OrgNumber>,
    /// What Tripletex had when it is not a valid organisasjonsnummer (shown to the user).
    pub invalid_organization_number: Option<String>,
    /// `isPrivateIndividual`: true → consumer, false → business; absent → consumer (the stricter
    /// rules apply until the customer is known to be a business).
    pub debtor_kind: DebtorKind,
    pub inactive: bool,
    pub email: Option<String>,
    pub invoice_email: Option<String>,
    pub overdue_notice_email: Option<String>,
    pub postal_address: Option<PostalAddress>,
    pub payment_terms: Option<PaymentTerms>,
}

impl MirroredCustomer {
    pub fn content_hash(&self) -> ContentHash {
        ContentHash::of(self)
    }
}

/// Where an item comes from.
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
#[serde(rename_all = "snake_case")]
pub enum ItemSource {
    /// A Tripletex invoice (`/invoice`), with its postings.
    Invoice,
    /// Debit postings on the customer ledger without an invoice object: manual vouchers, SAF-T
    /// imports, opening balances.
    Voucher,
    /// A credit on the customer ledger that belongs to no item (an unapplied payment or credit).
    Credit,
}

/// The item's state in the mirror.
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
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// Tripletex shows a balance on it.
    Open,
    /// Settled in Tripletex by payments, credit notes or reversals.
    Closed,
    /// Tripletex shows no balance, but at least one credit is not plainly a payment, credit note
    /// or reversal (a write-off, or undecided): the claim is still owed and stays in the ledger
    /// until the classifier (or a person) decides.
    WrittenOffCandidate,
}

impl ItemStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Open => "open",
            ItemStatus::Closed => "closed",
            ItemStatus::WrittenOffCandidate => "written_off_candidate",
        }
    }
}

/// Where the due date came from.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DueDateSource {
    /// `Invoice.invoiceDueDate`.
    Invoice,
    /// `Posting.termOfPayment`.
    Posting,
    /// Estimated: the item's date + the customer's payment terms.
    CustomerTerms,
    /// Estimated: the item's date + the integration's default (14 days).
    DefaultTerms,
}

impl DueDateSource {
    pub fn is_estimated(self) -> bool {
        matches!(
            self,
            DueDateSource::CustomerTerms | DueDateSource::DefaultTerms
        )
    }
}

/// Something worth knowing about an item.
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
#[serde(rename_all = "snake_case")]
pub enum ItemFlag {
    /// The due date was not in Tripletex; it was derived (`includeSaftImported`).
    DueDateEstimated,
    /// A person must look: a credit on it needs review (the preliminary classification says
    /// so), or Tripletex's figure and the credits disagree (`SourcesDisagree`).
    NeedsReview,
    /// A credit's voucher was not read: its classification saw the posting only.
    EvidenceIncomplete,
    /// Paid or credited beyond the principal (`creditBalance`), or an unapplied credit.
    CreditBalance,
    /// Tripletex's outstanding figure is not the balance the credits imply (`crossCheck` holds
    /// both). What is owed is still derived from the credits; the item is held for review.
    SourcesDisagree,
}

/// A credit posting (negative amount) on the customer ledger, with what the classifier needs.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreditLine {
    pub posting_id: i64,
    pub posting_version: Option<i64>,
    pub date: NaiveDate,
    /// Negative (a credit).
    pub amount: Money,
    pub voucher_id: Option<i64>,
    pub close_group_id: Option<i64>,
    /// The voucher that later reverses this credit's voucher: its effect is undone, so the
    /// credit neither pays nor writes off anything.
    pub reversed_by: Option<i64>,
    /// Whether the credit's voucher was read (counter-postings, description, type).
    pub voucher_read: bool,
    /// The input to `classify::classify`.
    pub evidence: CreditEvidence,
    /// The classifier's verdict at sync time, used only to keep written-off claims: the
    /// classification worker decides for real (and a person may override).
    pub preliminary_kind: CreditKind,
    pub needs_review: bool,
}

impl CreditLine {
    /// How the credit counts toward what is owed on an item whose own voucher (the invoice's, or
    /// the first debit posting's) is `own_voucher` ([`crate::domain::owed`]): void when a later
    /// voucher reverses it, or when it reverses the item's own voucher (then what was booked is
    /// cancelled instead: [`CreditLine::cancels`]); else as its preliminary classification says
    /// (the claim maps the worker's classification, made from the same evidence, the same way).
    pub fn effect_on(&self, own_voucher: Option<i64>) -> CreditEffect {
        if self.reversed_by.is_some() || self.cancels(own_voucher) {
            return CreditEffect::Void;
        }
        CreditEffect::of_classified(self.preliminary_kind, self.needs_review)
    }

    /// Whether the credit is a reversal of the voucher `own_voucher` (not itself reversed): the
    /// item's principal is cancelled, as the claim cancels it when its invoice voucher is
    /// reversed.
    pub fn cancels(&self, own_voucher: Option<i64>) -> bool {
        self.reversed_by.is_none()
            && self.preliminary_kind == CreditKind::Reversal
            && own_voucher.is_some()
            && self.evidence.reverses_voucher_id == own_voucher
    }

    /// How much the credit reduces the customer ledger (positive; the posting is negative).
    pub fn reduction(&self) -> Money {
        Money::ZERO - self.amount
    }

    /// `credit:{postingId}:{version}` (the version is `h<hash>` when Tripletex sent none).
    pub fn event_key(&self) -> String {
        match self.posting_version {
            Some(v) => format!("credit:{}:{}", self.posting_id, v),
            None => format!("credit:{}:h{}", self.posting_id, ContentHash::of(self)),
        }
    }
}

/// One item of the customer ledger: a claim (invoice or voucher debit) or an unapplied credit.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerItem {
    /// `inv_{invoiceId}`, `item_{postingId}` (first debit posting) or `credit_{postingId}`; the
    /// first two are the claim ids of `domain::claim`.
    pub id: String,
    pub source: ItemSource,
    pub customer_id: i64,
    pub invoice_id: Option<i64>,
    /// The invoice number (also on postings of vouchers that carry one).
    pub invoice_number: Option<String>,
    pub kid: Option<String>,
    /// Invoice date, or the (first) debit posting's date, or the credit's date.
    pub date: NaiveDate,
    /// `None` only for unapplied credits.
    pub due_date: Option<NaiveDate>,
    pub due_date_source: Option<DueDateSource>,
    pub due_date_estimated: bool,
    /// The invoice amount / the sum of the debit postings / the credit (negative).
    pub principal: Money,
    /// What Tripletex shows as outstanding (`amountOutstanding`, or the postings' balance): for
    /// display and the cross-check only, never part of what is owed.
    pub ledger_outstanding: Money,
    /// Credits classified as write-offs (positive amount).
    pub written_off: Money,
    /// Credits not decided (unknown, or held for review; positive amount): never taken as
    /// payment.
    pub unclassified_credits: Money,
    /// Still owed, derived by `owed::derive`: the principal less payments, credit notes and
    /// reversals, never below zero. Write-offs and undecided credits do not reduce it. The claim
    /// computes its principal outstanding with the same function.
    pub owed: Money,
    /// Paid or credited beyond the principal; for an unapplied credit, the part still open.
    #[serde(default)]
    pub credit_balance: Money,
    /// Tripletex's figure and the balance the credits imply, when they disagree (flag
    /// `sources_disagree`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_check: Option<CrossCheck>,
    pub status: ItemStatus,
    /// `today ≥ dueDate + daysPastDue` and something is owed.
    pub overdue: bool,
    /// The ids of the debit postings (the invoice's own posting, fees booked on the number).
    pub debit_posting_ids: Vec<i64>,
    /// Credits on the item, by posting id.
    pub credits: Vec<CreditLine>,
    pub voucher_id: Option<i64>,
    /// An invoice PDF can be fetched (`GET /invoice/{id}/pdf`): only for Tripletex invoices.
    pub pdf_available: bool,
    pub document_id: Option<i64>,
    pub currency: Option<String>,
    /// The Tripletex version of the invoice or first debit posting.
    pub source_version: Option<i64>,
    /// Sorted.
    pub flags: Vec<ItemFlag>,
}

impl LedgerItem {
    pub fn content_hash(&self) -> ContentHash {
        ContentHash::of(self)
    }

    pub fn has_flag(&self, f: ItemFlag) -> bool {
        self.flags.contains(&f)
    }
}

/// What kind of Tripletex record a skip record is about.
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
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Customer,
    Invoice,
    Posting,
    Voucher,
}

impl RecordKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Customer => "customer",
            RecordKind::Invoice => "invoice",
            RecordKind::Posting => "posting",
            RecordKind::Voucher => "voucher",
        }
    }
}

/// Which record a skip is about.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordRef {
    pub kind: RecordKind,
    /// The Tripletex id; `None` when the record had none.
    pub id: Option<i64>,
    /// `inv_{id}` (an invoice), `{kind}_{id}` (customer, posting, voucher), the item id for a
    /// skipped item, or `{kind}_unidentified_{hash of the raw record}`.
    pub key: String,
    pub customer_id: Option<i64>,
    pub invoice_number: Option<String>,
    pub date: Option<NaiveDate>,
}

impl RecordRef {
    pub fn new(kind: RecordKind, id: i64) -> Self {
        Self {
            kind,
            id: Some(id),
            key: match kind {
                RecordKind::Invoice => format!("inv_{id}"),
                _ => format!("{}_{}", kind.as_str(), id),
            },
            customer_id: None,
            invoice_number: None,
            date: None,
        }
    }

    pub fn unidentified(kind: RecordKind, raw_hash: ContentHash) -> Self {
        Self {
            kind,
            id: None,
            key: format!("{}_unidentified_{}", kind.as_str(), raw_hash),
            customer_id: None,
            invoice_number: None,
            date: None,
        }
    }

    /// Overrides the key (a skipped item is keyed like the item would be: `inv_{id}`,
    /// `item_{postingId}`, `credit_{postingId}`).
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.key = key.into();
        self
    }

    pub fn with_customer(mut self, customer_id: Option<i64>) -> Self {
        self.customer_id = customer_id;
        self
    }

    pub fn with_invoice_number(mut self, n: Option<String>) -> Self {
        self.invoice_number = n;
        self
    }

    pub fn with_date(mut self, d: Option<NaiveDate>) -> Self {
        self.date = d;
        self
    }
}

/// Why a record is not in the ledger. The first three are settings at work ("skipped"); the rest
/// are records that could not be read ("quarantined"): the sync goes on without them.
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
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Dated before `fetchFrom`.
    BeforeFetchFrom,
    /// No due date, and `includeSaftImported` is off.
    MissingDueDate,
    /// Its voucher has `voucherType: null`, and `includeNullVoucherType` is off.
    NullVoucherType,
    /// The customer ledger item's customer was not among the customers read.
    UnknownCustomer,
    /// Quarantined: the record could not be read at all (not an object, wrong types).
    MalformedItem,
    /// Quarantined: no id.
    MissingId,
    /// Quarantined: no customer on an invoice or customer-ledger posting.
    MissingCustomer,
    /// Quarantined: an amount is missing, not a number, or not whole øre.
    MalformedAmount,
    /// Quarantined: a date is missing or not `yyyy-MM-dd`.
    MalformedDate,
    /// Quarantined: an invoice without an invoice number.
    MissingInvoiceNumber,
    /// Quarantined: the voucher type of a voucher item was neither on the posting nor read with
    /// the voucher, so the `includeNullVoucherType` rule cannot be applied.
    UnknownVoucherType,
}

impl SkipReason {
    /// Every reason, in the order the API lists them.
    pub const ALL: [SkipReason; 11] = [
        SkipReason::BeforeFetchFrom,
        SkipReason::MissingDueDate,
        SkipReason::NullVoucherType,
        SkipReason::UnknownCustomer,
        SkipReason::MalformedItem,
        SkipReason::MissingId,
        SkipReason::MissingCustomer,
        SkipReason::MalformedAmount,
        SkipReason::MalformedDate,
        SkipReason::MissingInvoiceNumber,
        SkipReason::UnknownVoucherType,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::BeforeFetchFrom => "before_fetch_from",
            SkipReason::MissingDueDate => "missing_due_date",
            SkipReason::NullVoucherType => "null_voucher_type",
            SkipReason::UnknownCustomer => "unknown_customer",
            SkipReason::MalformedItem => "malformed_item",
            SkipReason::MissingId => "missing_id",
            SkipReason::MissingCustomer => "missing_customer",
            SkipReason::MalformedAmount => "malformed_amount",
            SkipReason::MalformedDate => "malformed_date",
            SkipReason::MissingInvoiceNumber => "missing_invoice_number",
            SkipReason::UnknownVoucherType => "unknown_voucher_type",
        }
    }

    /// The record could not be read (as opposed to: a setting left it out).
    pub fn is_quarantine(self) -> bool {
        !matches!(
            self,
            SkipReason::BeforeFetchFrom | SkipReason::MissingDueDate | SkipReason::NullVoucherType
        )
    }
}

/// A record left out of the ledger, with the reason and a detail for the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkipRecord {
    pub record: RecordRef,
    pub reason: SkipReason,
    /// English, for the user and the operator (no secrets: built from Tripletex ledger data).
    pub detail: String,
}

impl SkipRecord {
    pub fn new(record: RecordRef, reason: SkipReason, detail: impl Into<String>) -> Self {
        Self {
            record,
            reason,
            detail: detail.into(),
        }
    }

    pub fn key(&self) -> &str {
        &self.record.key
    }

    pub fn content_hash(&self) -> ContentHash {
        ContentHash::of(self)
    }
}

/// Progress and status counts of one sync.
#[derive(utoipa::ToSchema, Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncCounts {
    pub customers: u32,
    /// Items with status open.
    pub open_items: u32,
    /// Open or written-off-candidate items that are overdue.
    pub overdue_items: u32,
    pub written_off_candidates: u32,
    /// Closed items read (most are not written: see the diff).
    pub closed_items: u32,
    /// Every skip and quarantine, by reason.
    pub skipped: BTreeMap<SkipReason, u32>,
    /// How many of `skipped` are quarantines.
    pub quarantined: u32,
}

impl SyncCounts {
    pub fn skipped_for(&self, reason: SkipReason) -> u32 {
        self.skipped.get(&reason).copied().unwrap_or(0)
    }

    pub fn skipped_total(&self) -> u32 {
        self.skipped.values().sum()
    }

    pub fn count_skip(&mut self, reason: SkipReason) {
        *self.skipped.entry(reason).or_insert(0) += 1;
        if reason.is_quarantine() {
            self.quarantined += 1;
        }
    }
}

/// The filters of `GET /v1/accounts/{id}/ledger` (query string, camelCase). With `skipped` set
/// the answer is the skip records with that reason ("why is this item not in my ledger?");
/// otherwise the items matching every filter given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct LedgerQuery {
    pub overdue: Option<bool>,
    pub customer_id: Option<i64>,
    pub status: Option<ItemStatus>,
    pub skipped: Option<SkipReason>,
}

impl LedgerQuery {
    pub fn wants_skips(&self) -> bool {
        self.skipped.is_some()
    }

    pub fn matches_item(&self, item: &LedgerItem) -> bool {
        self.skipped.is_none()
            && self.overdue.is_none_or(|o| item.overdue == o)
            && self.customer_id.is_none_or(|c| item.customer_id == c)
            && self.status.is_none_or(|s| item.status == s)
    }

    pub fn matches_skip(&self, skip: &SkipRecord) -> bool {
        self.skipped.is_some_and(|r| skip.reason == r)
            && self
                .customer_id
                .is_none_or(|c| skip.record.customer_id == Some(c))
    }
}
