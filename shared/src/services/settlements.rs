//! What the user sees of the voucher posting: each settlement with its split, the voucher in
//! Tripletex and its status (`GET /v1/accounts/{id}/settlements`), a retry after the user fixed
//! what held it (`POST /v1/accounts/{id}/settlements/{sid}/retry`), and the case timeline's
//! `settled` / `voucherPosted` entries. Served by cases-api: it needs the table and the posting
//! queue only (no Secrets Manager, no Tripletex); the retry hands the job back to the
//! voucher-posting worker, so every posting goes through its one exactly-once path.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::adapters::queue::{PostingMessage, VoucherPostingQueue};
use crate::adapters::store::claims::ClaimRecord;
use crate::adapters::store::vouchers::{PostingRecord, PostingStatus, Written};
use crate::adapters::store::{DynamoStore, StoreError};
use crate::domain::case::{Actor, CaseEntry, CaseEvent};
use crate::domain::claim::{
    Allocation, AllocationRule, ClaimId, Settlement, SettlementAmounts, VoucherUndoJob,
};
use crate::domain::setup::{AccountId, OrgId};

/// Where a retried job goes (the voucher-posting queue).
#[async_trait]
pub trait RetryQueue: Send + Sync {
    async fn resend(&self, message: &PostingMessage, deduplication_id: &str) -> Result<(), String>;
}

#[async_trait]
impl RetryQueue for VoucherPostingQueue {
    async fn resend(&self, message: &PostingMessage, deduplication_id: &str) -> Result<(), String> {
        self.send(message, Some(deduplication_id)).await
    }
}

/// The voucher booked, as shown.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VoucherView {
    pub id: i64,
    /// Tripletex's voucher number («12-2026»).
    pub number: String,
    pub date: NaiveDate,
    pub external_voucher_number: String,
    /// Closed together with the over-settling payment on the customer's ledger.
    pub closed: bool,
    pub close_note: Option<String>,
}

/// Why the settlement waits, as shown.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeldView {
    pub code: String,
    /// Tripletex's own message, when Tripletex refused.
    pub tripletex_message: Option<String>,
    pub fix: FixView,
    pub since: DateTime<Utc>,
}

#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixView {
    pub no: String,
    pub en: String,
}

/// `GET /v1/accounts/{id}/settlements`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SettlementsView {
    pub settlements: Vec<SettlementView>,
}

/// One settlement (`GET /v1/accounts/{id}/settlements`).
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SettlementView {
    /// `{claimId}.{settlementVersion}` (the `sid` of the retry route).
    pub id: String,
    pub claim_id: String,
    pub case_id: String,
    pub settlement_version: u32,
    pub settled_on: NaiveDate,
    /// `pending`, `posting`, `posted`, `nothingToPost`, `held`, `withdrawn`, `reversed`.
    pub status: &'static str,
    /// What was booked: principal, interest, fees, recovered, excess.
    pub split: Option<SettlementAmounts>,
    /// The allocation rule the split followed (`principalFirst` or `costsFirst`).
    pub rule: Option<AllocationRule>,
    /// How the payments were split, payment by payment.
    pub allocation: Option<Allocation>,
    pub voucher: Option<VoucherView>,
    pub held: Option<HeldView>,
    pub reversal: Option<ReversalView>,
    pub attempts: u32,
    pub retries: u32,
    pub updated_at: DateTime<Utc>,
}

#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReversalView {
    pub date: NaiveDate,
    pub voucher_id: Option<i64>,
    pub number: Option<String>,
}

/// The status as the API says it: a held reversal shows `held`.
fn status_of(r: &PostingRecord) -> &'static str {
    if r.held.is_some() {
        return "held";
    }
    r.status.as_str()
}

impl SettlementView {
    pub fn of(r: &PostingRecord) -> Self {
        Self {
            id: r.settlement_id(),
            claim_id: r.claim_id.to_string(),
            case_id: format!("case_{}", r.claim_id),
            settlement_version: r.settlement_version,
            settled_on: r.job.settled_on,
            status: status_of(r),
            split: r.amounts.clone().or_else(|| Some(r.job.amounts.clone())),
            rule: r.allocation.as_ref().map(|a| a.rule),
            allocation: r.allocation.clone(),
            voucher: r.voucher.as_ref().map(|v| VoucherView {
                id: v.id,
                number: v.number.clone(),
                date: v.date,
                external_voucher_number: r.external_voucher_number.clone(),
                closed: v.closed,
                close_note: v.close_note.clone(),
            }),
            held: r.held.as_ref().map(|h| HeldView {
                code: h.reason.code().to_string(),
                tripletex_message: h.tripletex_message.clone(),
                fix: FixView {
                    no: h.fix_no.clone(),
                    en: h.fix_en.clone(),
                },
                since: h.at,
            }),
            reversal: r.reversal.as_ref().map(|x| ReversalView {
                date: x.date,
                voucher_id: x.voucher_id,
                number: x.number.clone(),
            }),
            attempts: r.attempts,
            retries: r.retries,
            updated_at: r.updated_at,
        }
    }
}

/// Why a settlements request failed.
#[derive(Debug, thiserror::Error)]
pub enum SettlementsError {
    #[error("no such account")]
    AccountNotFound,
    #[error("no such settlement")]
    NotFound,
    #[error("the settlement is {0}, not held: nothing to retry")]
    NotHeld(&'static str),
    #[error("the settlement changed meanwhile; read it again")]
    Concurrent,
    #[error("the posting queue is not configured")]
    NoQueue,
    #[error("the posting queue did not take the job: {0}")]
    Queue(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a retry does with a settlement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RetryKind {
    /// Held for a person: cleared and sent again.
    Held,
    /// On its way (pending, posting, a reversal not yet done): sent again as it was.
    InFlight,
    /// Booked, nothing to book, withdrawn or reversed: nothing to retry.
    Done,
}

fn retry_kind(r: &PostingRecord) -> RetryKind {
    if r.held.is_some() {
        return RetryKind::Held;
    }
    match r.status {
        PostingStatus::Pending | PostingStatus::Posting => RetryKind::InFlight,
        PostingStatus::Posted if reversal_pending(r) => RetryKind::InFlight,
        // A held status without its reason (not written so): treat it as held.
        PostingStatus::Held => RetryKind::Held,
        PostingStatus::Posted
        | PostingStatus::NothingToPost
        | PostingStatus::Withdrawn
        | PostingStatus::Reversed => RetryKind::Done,
    }
}

/// The settlement was undone after its voucher was booked, and the reversal is not done yet.
fn reversal_pending(r: &PostingRecord) -> bool {
    r.voucher.is_some() && r.reversal.as_ref().is_some_and(|x| x.voucher_id.is_none())
}

/// The message that carries the settlement on: its undo when the booked voucher is to be
/// reversed, else its job.
fn retry_message(rec: &PostingRecord) -> PostingMessage {
    match &rec.reversal {
        Some(r) if rec.voucher.is_some() => PostingMessage::Undo(VoucherUndoJob {
            org: rec.org.clone(),
            account_id: rec.account_id.clone(),
            claim_id: rec.claim_id.clone(),
            settlement_version: rec.settlement_version,
            undoes: rec.key.clone(),
            undone_on: r.date,
            idempotency_key: VoucherUndoJob::key(
                &rec.account_id,
                &rec.claim_id,
                rec.settlement_version,
            ),
        }),
        _ => PostingMessage::Settle(rec.job.clone()),
    }
}

/// `{claimId}.{version}` → its parts.
pub fn parse_settlement_id(sid: &str) -> Option<(ClaimId, u32)> {
    let (claim, version) = sid.rsplit_once('.')?;
    let version: u32 = version.parse().ok().filter(|v| *v > 0)?;
    Some((ClaimId::parse(claim).ok()?, version))
}

/// The settlements' operations.
#[derive(Clone)]
pub struct SettlementsService {
    store: DynamoStore,
    queue: Option<Arc<dyn RetryQueue>>,
}

impl std::fmt::Debug for SettlementsService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SettlementsService")
            .field("queue", &self.queue.is_some())
            .finish()
    }
}

impl SettlementsService {
    pub fn new(store: DynamoStore, queue: Option<Arc<dyn RetryQueue>>) -> Self {
        Self { store, queue }
    }

    async fn account(&self, org: &OrgId, account: &str) -> Result<AccountId, SettlementsError> {
        let account = AccountId::parse(account).map_err(|_| SettlementsError::AccountNotFound)?;
        if self.store.get_account(org, &account).await?.is_none() {
            return Err(SettlementsError::AccountNotFound);
        }
        Ok(account)
    }

    /// `GET /v1/accounts/{id}/settlements`: newest first.
    pub async fn list(
        &self,
        org: &OrgId,
        account: &str,
    ) -> Result<Vec<SettlementView>, SettlementsError> {
        let account = self.account(org, account).await?;
        let mut records = self.store.list_postings(org, &account).await?;
        records.sort_by(|a, b| {
            (b.job.settled_on, &b.claim_id, b.settlement_version).cmp(&(
                a.job.settled_on,
                &a.claim_id,
                a.settlement_version,
            ))
        });
        let mut views: Vec<SettlementView> = records.iter().map(SettlementView::of).collect();
        self.complete(org, &account, &mut views).await?;
        Ok(views)
    }

    /// `POST /v1/accounts/{id}/settlements/{sid}/retry`: a held settlement goes back to the
    /// posting worker (its job, or its undo when the reversal was held), with a deduplication id
    /// of its own so SQS does not drop it as a copy of the first.
    ///
    /// Idempotent: a settlement already on its way (pending, posting, or a reversal not yet
    /// done) is sent again under the same deduplication id as its last send, so a repeated
    /// request within SQS's five minutes is dropped by SQS, and after that the worker's lease and
    /// look-up by `externalVoucherNumber` keep it to one voucher. A settlement that is done
    /// (posted, nothing to post, withdrawn, reversed) is not sent: `NotHeld`.
    pub async fn retry(
        &self,
        org: &OrgId,
        account: &str,
        sid: &str,
        now: DateTime<Utc>,
    ) -> Result<SettlementView, SettlementsError> {
        let account = self.account(org, account).await?;
        let (claim, version) = parse_settlement_id(sid).ok_or(SettlementsError::NotFound)?;
        let queue = self.queue.clone().ok_or(SettlementsError::NoQueue)?;
        let mut rec = self
            .store
            .get_posting(org, &account, &claim, version)
            .await?
            .ok_or(SettlementsError::NotFound)?;
        let message = retry_message(&rec);
        match retry_kind(&rec) {
            RetryKind::Done => return Err(SettlementsError::NotHeld(rec.status.as_str())),
            RetryKind::InFlight => {}
            RetryKind::Held => {
                if matches!(message, PostingMessage::Settle(_)) {
                    rec.status = PostingStatus::Pending;
                }
                rec.held = None;
                rec.retries += 1;
                rec.updated_at = now;
                if self.store.save_posting(&mut rec).await? == Written::Lost {
                    return Err(SettlementsError::Concurrent);
                }
            }
        }
        let dedup = format!("{}:retry:{}", message.key(), rec.retries);
        queue
            .resend(&message, &dedup)
            .await
            .map_err(SettlementsError::Queue)?;
        tracing::info!(key = %rec.key, retries = rec.retries, "settlement retried");
        let mut view = SettlementView::of(&rec);
        self.complete(org, &account, std::slice::from_mut(&mut view))
            .await?;
        Ok(view)
    }

    /// Fills in the split's rule from the claim's settlement for records the worker has not
    /// taken yet (it copies the allocation when it takes one).
    async fn complete(
        &self,
        org: &OrgId,
        account: &AccountId,
        views: &mut [SettlementView],
    ) -> Result<(), StoreError> {
        let mut claims: HashMap<String, Option<ClaimRecord>> = HashMap::new();
        for v in views.iter_mut().filter(|v| v.allocation.is_none()) {
            let Ok(id) = ClaimId::parse(&v.claim_id) else {
                continue;
            };
            if !claims.contains_key(&v.claim_id) {
                let c = self.store.get_claim(org, account, &id).await?;
                claims.insert(v.claim_id.clone(), c);
            }
            let settlement = claims[&v.claim_id].as_ref().and_then(|c| {
                c.state
                    .settlements
                    .iter()
                    .find(|s| s.version == v.settlement_version)
            });
            if let Some(s) = settlement {
                v.rule = Some(s.allocation.rule);
                v.allocation = Some(s.allocation.clone());
            }
        }
        Ok(())
    }

    /// The case timeline's money entries of one claim: `settled` for each settlement, and what
    /// the posting did (`voucherPosted`, `voucherHeld`, `voucherReversed`).
    pub async fn timeline_entries(
        &self,
        org: &OrgId,
        account: &AccountId,
        settlements: &[Settlement],
        claim: &ClaimId,
    ) -> Result<Vec<CaseEntry>, StoreError> {
        let mut out = Vec::new();
        for s in settlements {
            let rec = self
                .store
                .get_posting(org, account, claim, s.version)
                .await?;
            let settled_at = rec
                .as_ref()
                .map(|r| r.created_at)
                .unwrap_or_else(|| s.settled_on.and_time(chrono::NaiveTime::MIN).and_utc());
            out.push(CaseEntry {
                seq: 0,
                at: settled_at,
                by: Actor::System,
                event: CaseEvent::Settled {
                    settlement_version: s.version,
                    settled_on: s.settled_on,
                    amounts: s.amounts.clone(),
                    rule: s.allocation.rule,
                },
            });
            let Some(r) = rec else { continue };
            if let Some(v) = &r.voucher {
                out.push(CaseEntry {
                    seq: 0,
                    at: v.recorded_at,
                    by: Actor::System,
                    event: CaseEvent::VoucherPosted {
                        settlement_version: s.version,
                        voucher_id: v.id,
                        voucher_number: v.number.clone(),
                        date: v.date,
                    },
                });
            }
            if let Some(h) = &r.held {
                out.push(CaseEntry {
                    seq: 0,
                    at: h.at,
                    by: Actor::System,
                    event: CaseEvent::VoucherHeld {
                        settlement_version: s.version,
                        code: h.reason.code().to_string(),
                    },
                });
            }
            if let Some(x) = r.reversal.as_ref().filter(|x| x.voucher_id.is_some()) {
                out.push(CaseEntry {
                    seq: 0,
                    at: x.recorded_at.unwrap_or(r.updated_at),
                    by: Actor::System,
                    event: CaseEvent::VoucherReversed {
                        settlement_version: s.version,
                        voucher_number: x.number.clone().unwrap_or_default(),
                    },
                });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::store::vouchers::{BookedVoucher, Held, ReversalRecord};
    use crate::domain::claim::VoucherPostingJob;
    use crate::domain::voucher::HeldReason;
    use chrono::TimeZone;

    fn record(status: PostingStatus) -> PostingRecord {
        let at = Utc.with_ymd_and_hms(2026, 8, 3, 10, 0, 0).unwrap();
        let org = OrgId::parse("org_a").unwrap();
        let account = AccountId::from_suffix("0123456789abcdef0123456789abcdef").unwrap();
        let claim = ClaimId::invoice(1001).unwrap();
        let key = format!("settle:{account}:{claim}:1");
        PostingRecord {
            org: org.clone(),
            account_id: account.clone(),
            claim_id: claim.clone(),
            settlement_version: 1,
            key: key.clone(),
            external_voucher_number: "INNDRIVE-x".into(),
            status,
            job: VoucherPostingJob {
                org,
                account_id: account,
                claim_id: claim,
                invoice_id: Some(1001),
                customer_id: 40001,
                settlement_version: 1,
                settled_on: NaiveDate::from_ymd_opt(2026, 8, 1).unwrap(),
                amounts: SettlementAmounts::default(),
                idempotency_key: key,
            },
            amounts: None,
            allocation: None,
            voucher: None,
            held: None,
            reversal: None,
            lease_until: None,
            attempts: 1,
            retries: 0,
            created_at: at,
            updated_at: at,
            rev: 1,
        }
    }

    fn booked(r: &mut PostingRecord) {
        r.voucher = Some(BookedVoucher {
            id: 7,
            number: "7-2026".into(),
            date: r.job.settled_on,
            receivables_posting_id: None,
            closed: true,
            close_note: None,
            recorded_at: r.created_at,
        });
    }

    fn held(r: &mut PostingRecord) {
        let reason = HeldReason::PeriodLocked;
        r.held = Some(Held {
            fix_no: reason.no(),
            fix_en: reason.en(),
            reason,
            tripletex_message: Some("Perioden er låst".into()),
            at: r.created_at,
        });
    }

    #[test]
    fn a_held_settlement_is_sent_again_with_its_job() {
        let mut r = record(PostingStatus::Held);
        held(&mut r);
        assert_eq!(retry_kind(&r), RetryKind::Held);
        assert!(matches!(retry_message(&r), PostingMessage::Settle(j) if j == r.job));
        let v = SettlementView::of(&r);
        assert_eq!(v.status, "held");
        assert_eq!(v.held.unwrap().code, "period_locked");
    }

    #[test]
    fn a_held_reversal_is_sent_again_as_the_undo() {
        let mut r = record(PostingStatus::Posted);
        booked(&mut r);
        held(&mut r);
        r.reversal = Some(ReversalRecord {
            date: NaiveDate::from_ymd_opt(2026, 8, 10).unwrap(),
            voucher_id: None,
            number: None,
            recorded_at: None,
        });
        assert_eq!(retry_kind(&r), RetryKind::Held);
        assert_eq!(SettlementView::of(&r).status, "held");
        match retry_message(&r) {
            PostingMessage::Undo(u) => {
                assert_eq!(u.undoes, r.key);
                assert_eq!(u.undone_on, NaiveDate::from_ymd_opt(2026, 8, 10).unwrap());
            }
            other => panic!("an undo, not {other:?}"),
        }
        // Once retried (held cleared), a second retry finds it on its way, not done.
        r.held = None;
        assert_eq!(retry_kind(&r), RetryKind::InFlight);
    }

    #[test]
    fn what_is_on_its_way_is_resent_and_what_is_done_is_not() {
        for s in [PostingStatus::Pending, PostingStatus::Posting] {
            assert_eq!(retry_kind(&record(s)), RetryKind::InFlight, "{s:?}");
        }
        let mut posted = record(PostingStatus::Posted);
        booked(&mut posted);
        assert_eq!(retry_kind(&posted), RetryKind::Done);
        for s in [
            PostingStatus::NothingToPost,
            PostingStatus::Withdrawn,
            PostingStatus::Reversed,
        ] {
            assert_eq!(retry_kind(&record(s)), RetryKind::Done, "{s:?}");
        }
    }

    #[test]
    fn settlement_ids_name_the_claim_and_the_version() {
        assert_eq!(
            parse_settlement_id("inv_1001.2"),
            Some((ClaimId::invoice(1001).unwrap(), 2))
        );
        for bad in ["inv_1001", "inv_1001.0", "inv_1001.x", "x_1.1", ""] {
            assert_eq!(parse_settlement_id(bad), None, "{bad}");
        }
    }
}
