//! The posting record of each settlement (`VOUCHER#{claimId}#{version:05}` in the account's
//! partition): the intent written first (a conditional put), then what happened in Tripletex
//! (the voucher booked, held with the reason, reversed). Writes are conditional on the stored
//! revision (`rev`), so two workers never both record a change: the posting worker's lease
//! (`status = posting` until `leaseUntil`) is taken with one such write before any POST.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::item::*;
use super::keys::{account_pk, voucher_sk, VOUCHER_PREFIX};
use super::{service_error, DynamoStore, StoreError};
use crate::domain::claim::{Allocation, ClaimId, SettlementAmounts, VoucherPostingJob};
use crate::domain::setup::{AccountId, OrgId};
use crate::domain::voucher::HeldReason;

const T_POSTING: &str = "SettlementPosting";

/// Where a settlement's posting stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PostingStatus {
    /// The intent is recorded; nothing is booked yet.
    Pending,
    /// A worker holds the lease and may be posting right now (until `leaseUntil`).
    Posting,
    /// The voucher is booked (and recorded here).
    Posted,
    /// Nothing to book (no interest, fees or recovery): Tripletex already holds the payment.
    NothingToPost,
    /// Tripletex refused, or a setting is missing: waits for a person (see `held`).
    Held,
    /// The settlement was undone before anything was booked.
    Withdrawn,
    /// The booked voucher was reversed (the settlement was undone).
    Reversed,
}

impl PostingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PostingStatus::Pending => "pending",
            PostingStatus::Posting => "posting",
            PostingStatus::Posted => "posted",
            PostingStatus::NothingToPost => "nothingToPost",
            PostingStatus::Held => "held",
            PostingStatus::Withdrawn => "withdrawn",
            PostingStatus::Reversed => "reversed",
        }
    }
}

/// The voucher booked in Tripletex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BookedVoucher {
    pub id: i64,
    /// «12-2026» as Tripletex shows it.
    pub number: String,
    pub date: NaiveDate,
    /// The receivables line's posting (closed with the over-settling payment).
    #[serde(default)]
    pub receivables_posting_id: Option<i64>,
    /// The receivables line and the payment were closed together.
    #[serde(default)]
    pub closed: bool,
    /// Why they were not closed (an excess left open, Tripletex's message), for a person.
    #[serde(default)]
    pub close_note: Option<String>,
    pub recorded_at: DateTime<Utc>,
}

/// Why the posting waits for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Held {
    pub reason: HeldReason,
    /// Tripletex's own message, when Tripletex refused.
    #[serde(default)]
    pub tripletex_message: Option<String>,
    pub fix_no: String,
    pub fix_en: String,
    pub at: DateTime<Utc>,
}

/// The reversal of the booked voucher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReversalRecord {
    /// The reversing voucher's date (chosen once, before `:reverse`, so a retry finds it).
    pub date: NaiveDate,
    #[serde(default)]
    pub voucher_id: Option<i64>,
    #[serde(default)]
    pub number: Option<String>,
    #[serde(default)]
    pub recorded_at: Option<DateTime<Utc>>,
}

/// One settlement's posting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostingRecord {
    pub org: OrgId,
    pub account_id: AccountId,
    pub claim_id: ClaimId,
    pub settlement_version: u32,
    /// The settlement's idempotency key.
    pub key: String,
    pub external_voucher_number: String,
    pub status: PostingStatus,
    pub job: VoucherPostingJob,
    /// What was (or is to be) booked, as read from the claim when posting.
    #[serde(default)]
    pub amounts: Option<SettlementAmounts>,
    /// The split of the payments and the rule, from the claim's settlement.
    #[serde(default)]
    pub allocation: Option<Allocation>,
    #[serde(default)]
    pub voucher: Option<BookedVoucher>,
    #[serde(default)]
    pub held: Option<Held>,
    #[serde(default)]
    pub reversal: Option<ReversalRecord>,
    /// The lease of the worker that may be posting (status `posting`).
    #[serde(default)]
    pub lease_until: Option<DateTime<Utc>>,
    /// Posting attempts (leases taken), and retries asked for by a person.
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub retries: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The stored revision; 0 = never stored.
    #[serde(skip)]
    pub rev: u64,
}

impl PostingRecord {
    /// The settlement's id in the API: `{claimId}.{version}`.
    pub fn settlement_id(&self) -> String {
        format!("{}.{}", self.claim_id, self.settlement_version)
    }
}

/// The outcome of a conditional write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Written,
    /// Someone else wrote first (the record exists, or its revision moved on).
    Lost,
}

fn record_item(r: &PostingRecord, rev: u64) -> Result<Item, StoreError> {
    let mut item = key(
        account_pk(&r.org, &r.account_id),
        voucher_sk(&r.claim_id, r.settlement_version),
    );
    item.insert("type".into(), s(T_POSTING));
    item.insert("org".into(), s(r.org.as_str()));
    item.insert("accountId".into(), s(r.account_id.as_str()));
    item.insert("claimId".into(), s(r.claim_id.as_str()));
    item.insert("status".into(), s(r.status.as_str()));
    item.insert("rev".into(), n(rev));
    item.insert("doc".into(), s(to_json(r)?));
    item.insert("updatedAt".into(), ts(&r.updated_at));
    Ok(item)
}

fn record_from(item: &Item) -> Result<PostingRecord, StoreError> {
    let mut r: PostingRecord = serde_json::from_str(get_s(item, "doc")?)
        .map_err(|e| StoreError::Corrupt(format!("posting record: {e}")))?;
    r.rev = get_n(item, "rev")?;
    Ok(r)
}

impl DynamoStore {
    /// The posting record of one settlement.
    pub async fn get_posting(
        &self,
        org: &OrgId,
        account: &AccountId,
        claim: &ClaimId,
        settlement_version: u32,
    ) -> Result<Option<PostingRecord>, StoreError> {
        self.get(
            account_pk(org, account),
            voucher_sk(claim, settlement_version),
        )
        .await?
        .map(|i| record_from(&i))
        .transpose()
    }

    /// Writes the record: created when `rec.rev` is 0 (`attribute_not_exists`), else only if the
    /// stored revision is still `rec.rev`. On success `rec.rev` is the new revision.
    pub async fn save_posting(&self, rec: &mut PostingRecord) -> Result<Written, StoreError> {
        let item = record_item(rec, rec.rev + 1)?;
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        put = if rec.rev == 0 {
            put.condition_expression("attribute_not_exists(PK)")
        } else {
            put.condition_expression("rev = :rev")
                .expression_attribute_values(":rev", n(rec.rev))
        };
        if super::written(put.send().await)? {
            rec.rev += 1;
            Ok(Written::Written)
        } else {
            Ok(Written::Lost)
        }
    }

    /// Every posting record of an account (by claim, then version).
    pub async fn list_postings(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<Vec<PostingRecord>, StoreError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk AND begins_with(SK, :sk)")
                .expression_attribute_values(":pk", s(account_pk(org, account)))
                .expression_attribute_values(":sk", s(VOUCHER_PREFIX))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(service_error)?;
            for item in page.items() {
                out.push(record_from(item)?);
            }
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(out);
            }
        }
    }
}
