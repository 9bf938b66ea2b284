//! Items of loss classification and cases: claims (with their held events and the classifier's
//! evidence) and cases, in the account's partition (`keys::account_pk`, with the organization in
//! it: a read with the JWT's organization cannot reach another organization's claim or case; it is
//! simply not there, 404). Claims awaiting a case are in GSI2 (`CASE_DUE`), paused cases in GSI1
//! (`PAUSED_CASES`); the keys are in [`super::keys`].
//!
//! The claim item holds the [`ClaimRecord`] as a JSON document (`doc`) plus the attributes the
//! lists filter on. Writes are conditional on the stored revision (`rev`, claim) and `version`
//! (case): optimistic concurrency; a claim and its case change in one transaction.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::item::*;
use super::keys::{self, account_pk, case_sk, claim_sk};
use super::{cancellation_codes, service_error, DynamoStore, StoreError, CONDITION_FAILED};
use crate::domain::case::{Case, CaseId, CaseState};
use crate::domain::claim::{
    ClaimError, ClaimEvent, ClaimId, ClaimState, ClaimStatus, EventKey, VoucherPostingJob,
    VoucherUndoJob,
};
use crate::domain::classify::Classification;
use crate::domain::ledger::SkipReason;
use crate::domain::setup::{AccountId, IntegrationId, OrgId};
use crate::domain::Money;

const T_CLAIM: &str = "Claim";
const T_CASE: &str = "Case";

// ---------------------------------------------------------------------------------------------
// What is stored
// ---------------------------------------------------------------------------------------------

/// Why an event waits on the claim.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "until", rename_all = "camelCase")]
#[schema(as = ClaimHold)]
pub enum HoldReason {
    /// The invoice / open item is not mirrored yet.
    Mirrored,
    /// A reversal whose target voucher is not on the claim yet.
    #[serde(rename_all = "camelCase")]
    Referenced { voucher_id: i64 },
}

/// An event that arrived before what it refers to: kept with the claim and re-applied when the
/// claim changes (the mirror arrives, the referenced voucher arrives), not left to SQS redelivery.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeldEvent {
    pub event: ClaimEvent,
    pub reason: HoldReason,
    pub held_since: DateTime<Utc>,
}

/// The classifier's verdict on one credit, with the evidence it used (shown on the case).
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreditClassification {
    pub posting_id: i64,
    pub posting_version: Option<i64>,
    pub voucher_id: Option<i64>,
    /// The ledger event's key.
    pub event_key: String,
    pub date: NaiveDate,
    /// Positive: how much the credit reduces the customer ledger.
    pub amount: Money,
    pub description: Option<String>,
    pub classification: Classification,
    pub needs_review: bool,
    pub classified_at: DateTime<Utc>,
}

/// An event the claim refused (a person must look); the message itself is done.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// The ledger event's key.
    pub key: String,
    /// Machine code, e.g. `credit_without_voucher`, `customer_changed`.
    pub code: String,
    pub message: String,
    pub at: DateTime<Utc>,
}

/// The item is no longer in the ledger (deleted in Tripletex, or now skipped by a setting).
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Removal {
    pub key: String,
    pub skip_reason: Option<SkipReason>,
    pub at: DateTime<Utc>,
}

/// One claim as stored: the aggregate and what the worker keeps beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimRecord {
    pub state: ClaimState,
    #[serde(default)]
    pub integration_id: Option<IntegrationId>,
    /// Events waiting for the mirror or a referenced voucher.
    #[serde(default)]
    pub held: Vec<HeldEvent>,
    /// Per credit posting (the latest version).
    #[serde(default)]
    pub classifications: Vec<CreditClassification>,
    #[serde(default)]
    pub problems: Vec<Problem>,
    /// Voucher-posting jobs recorded with the claim but not yet confirmed sent (outbox).
    #[serde(default)]
    pub outbox: Vec<VoucherPostingJob>,
    /// Undo jobs of settlements whose job was sent, not yet confirmed sent.
    #[serde(default)]
    pub undo_outbox: Vec<VoucherUndoJob>,
    #[serde(default)]
    pub removed: Option<Removal>,
    /// A case was opened for this claim (it then lives in its own item).
    #[serde(default)]
    pub case_opened: bool,
    pub updated_at: DateTime<Utc>,
    /// The stored revision (the `rev` attribute), for conditional writes. 0 = never stored.
    #[serde(skip)]
    pub rev: u64,
}

impl ClaimRecord {
    pub fn new(state: ClaimState, at: DateTime<Utc>) -> Self {
        Self {
            state,
            integration_id: None,
            held: Vec::new(),
            classifications: Vec::new(),
            problems: Vec::new(),
            outbox: Vec::new(),
            undo_outbox: Vec::new(),
            removed: None,
            case_opened: false,
            updated_at: at,
            rev: 0,
        }
    }

    /// Whether the event key was seen: applied, noted stale, held or refused.
    pub fn knows_key(&self, key: &str) -> bool {
        EventKey::new(key).is_ok_and(|k| self.state.applied_keys.contains(&k))
            || self.held.iter().any(|h| h.event.key.as_str() == key)
            || self.problems.iter().any(|p| p.key == key)
            || self.removed.as_ref().is_some_and(|r| r.key == key)
    }

    /// What the lists filter on.
    pub fn summary(&self) -> ClaimSummary {
        ClaimSummary {
            claim_status: self.state.status,
            customer_id: self.state.customer_id(),
            written_off: !self.state.amounts.written_off.is_zero(),
            needs_review: self.state.needs_review()
                || !self.problems.is_empty()
                || self.removed.is_some(),
        }
    }

    /// Records a refused event once.
    pub fn add_problem(&mut self, key: &str, code: &str, message: String, at: DateTime<Utc>) {
        if !self.problems.iter().any(|p| p.key == key) {
            self.problems.push(Problem {
                key: key.to_string(),
                code: code.to_string(),
                message,
                at,
            });
        }
    }
}

/// The machine code of a refused claim event.
pub fn claim_error_code(e: &ClaimError) -> &'static str {
    match e {
        ClaimError::InvalidClaimId(_) => "invalid_claim_id",
        ClaimError::InvalidEventKey(_) => "invalid_event_key",
        ClaimError::NonPositiveAmount { .. } => "non_positive_amount",
        ClaimError::NegativeAmount { .. } => "negative_amount",
        ClaimError::MirrorMismatch { .. } => "mirror_mismatch",
        ClaimError::CustomerChanged { .. } => "customer_changed",
        ClaimError::ReversalWithoutTarget => "reversal_without_target",
        ClaimError::ReversalAsCredit { .. } => "reversal_as_credit",
        ClaimError::ReversalConflict { .. } => "reversal_conflict",
        ClaimError::ReversalOfReversal { .. } => "reversal_of_reversal",
        ClaimError::NoSuchCredit { .. } => "no_such_credit",
        ClaimError::NotPendingReview { .. } => "not_pending_review",
        ClaimError::SplitDoesNotAddUp { .. } => "split_does_not_add_up",
        ClaimError::ChargesConflict { .. } => "charges_conflict",
        ClaimError::BlankReviewer => "blank_reviewer",
        ClaimError::Overflow => "overflow",
    }
}

/// The claim's facts copied onto its case item (the case list filters on them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimSummary {
    pub claim_status: ClaimStatus,
    pub customer_id: Option<i64>,
    pub written_off: bool,
    pub needs_review: bool,
}

/// A case as stored, with the claim facts the list filters on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCase {
    pub case: Case,
    pub summary: ClaimSummary,
    /// The stored version (`None` for a case not stored yet).
    pub stored_version: Option<u64>,
}

/// A case write that goes with a claim write.
#[derive(Debug, Clone)]
pub struct CaseWrite<'a> {
    pub case: &'a Case,
    /// The version read (`None`: a new case, the put requires that it does not exist).
    pub expected_version: Option<u64>,
    pub summary: ClaimSummary,
}

/// Outcome of a conditional write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Save {
    Saved,
    /// Someone else wrote first (or the item was not what we read): reload and re-apply.
    Conflict,
}

/// The filters of `GET /v1/accounts/{id}/cases`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseFilter {
    pub state: Option<CaseState>,
    pub customer_id: Option<i64>,
    pub written_off: Option<bool>,
    pub needs_review: Option<bool>,
}

/// One page of cases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CasePage {
    pub cases: Vec<StoredCase>,
    /// Opaque; pass it back as `cursor` for the next page.
    pub next_cursor: Option<String>,
}

/// A reference to a case or claim found through a cross-organization index (back-end jobs only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRef {
    pub org: OrgId,
    pub account_id: AccountId,
}

fn state_str(s: CaseState) -> &'static str {
    match s {
        CaseState::Open => "open",
        CaseState::Paused => "paused",
        CaseState::Closed => "closed",
    }
}

fn claim_item(rec: &ClaimRecord, new_rev: u64) -> Result<Item, StoreError> {
    let st = &rec.state;
    let mut item = key(account_pk(&st.org, &st.account_id), claim_sk(&st.claim_id));
    let summary = rec.summary();
    item.insert("type".into(), s(T_CLAIM));
    item.insert("org".into(), s(st.org.as_str()));
    item.insert("accountId".into(), s(st.account_id.as_str()));
    item.insert("claimId".into(), s(st.claim_id.as_str()));
    item.insert("status".into(), s(st.status.as_str()));
    if let Some(c) = summary.customer_id {
        item.insert("customerId".into(), n(c));
    }
    item.insert("writtenOff".into(), b(summary.written_off));
    item.insert("needsReview".into(), b(summary.needs_review));
    item.insert("heldCount".into(), n(rec.held.len()));
    item.insert("rev".into(), n(new_rev));
    item.insert("doc".into(), s(to_json(rec)?));
    item.insert("updatedAt".into(), ts(&rec.updated_at));
    // Awaiting a case: collectible, mirrored, no case yet. The daily job walks this index.
    if !rec.case_opened && st.status.is_collectible() {
        if let Some(due) = st.effective_due_date() {
            item.insert("GSI2PK".into(), s(keys::CASE_DUE_GSI2PK));
            item.insert(
                "GSI2SK".into(),
                s(keys::case_due_gsi2sk(
                    due,
                    &st.org,
                    &st.account_id,
                    &st.claim_id,
                )),
            );
        }
    }
    Ok(item)
}

pub(crate) fn claim_from(item: &Item) -> Result<ClaimRecord, StoreError> {
    let doc = get_s(item, "doc")?;
    let mut rec: ClaimRecord = serde_json::from_str(doc)
        .map_err(|e| StoreError::Corrupt(format!("claim document: {e}")))?;
    rec.rev = get_n(item, "rev")?;
    Ok(rec)
}

fn case_item(case: &Case, summary: &ClaimSummary) -> Result<Item, StoreError> {
    let mut item = key(account_pk(&case.org, &case.account_id), case_sk(&case.id));
    item.insert("type".into(), s(T_CASE));
    item.insert("org".into(), s(case.org.as_str()));
    item.insert("accountId".into(), s(case.account_id.as_str()));
    item.insert("caseId".into(), s(case.id.to_string()));
    item.insert("claimId".into(), s(case.claim_id.as_str()));
    item.insert("state".into(), s(state_str(case.state())));
    item.insert("customerId".into(), n(case.customer_id));
    item.insert("writtenOff".into(), b(summary.written_off));
    item.insert("needsReview".into(), b(summary.needs_review));
    item.insert("claimStatus".into(), s(summary.claim_status.as_str()));
    item.insert("summary".into(), s(to_json(summary)?));
    item.insert("version".into(), n(case.version));
    item.insert("doc".into(), s(to_json(case)?));
    if let Some(until) = case.resumes_on() {
        item.insert("GSI1PK".into(), s(keys::PAUSED_CASES_GSI1PK));
        item.insert(
            "GSI1SK".into(),
            s(keys::paused_case_gsi1sk(
                until,
                &case.org,
                &case.account_id,
                &case.id,
            )),
        );
    }
    Ok(item)
}

pub(crate) fn case_from(item: &Item) -> Result<StoredCase, StoreError> {
    let case: Case = serde_json::from_str(get_s(item, "doc")?)
        .map_err(|e| StoreError::Corrupt(format!("case document: {e}")))?;
    let summary: ClaimSummary = opt_json(item, "summary")?
        .ok_or_else(|| StoreError::Corrupt("case summary missing".into()))?;
    let version = get_n(item, "version")?;
    Ok(StoredCase {
        case,
        summary,
        stored_version: Some(version),
    })
}

pub(crate) fn claim_put(
    rec: &ClaimRecord,
) -> Result<(Item, String, HashMap<String, AttributeValue>), StoreError> {
    let item = claim_item(rec, rec.rev + 1)?;
    let mut values = HashMap::new();
    let cond = if rec.rev == 0 {
        "attribute_not_exists(PK)".to_string()
    } else {
        values.insert(":rev".to_string(), n(rec.rev));
        "rev = :rev".to_string()
    };
    Ok((item, cond, values))
}

pub(crate) fn case_put(
    w: &CaseWrite<'_>,
) -> Result<(Item, String, HashMap<String, AttributeValue>), StoreError> {
    let item = case_item(w.case, &w.summary)?;
    let mut values = HashMap::new();
    let cond = match w.expected_version {
        None => "attribute_not_exists(PK)".to_string(),
        Some(v) => {
            values.insert(":v".to_string(), n(v));
            "version = :v".to_string()
        }
    };
    Ok((item, cond, values))
}

/// A malformed `cursor` query parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the cursor is not one this API returned")]
pub struct BadCursor;

impl DynamoStore {
    /// The claim, with its stored revision; `None` when never stored.
    pub async fn get_claim(
        &self,
        org: &OrgId,
        account: &AccountId,
        claim: &ClaimId,
    ) -> Result<Option<ClaimRecord>, StoreError> {
        self.get(account_pk(org, account), claim_sk(claim))
            .await?
            .map(|i| claim_from(&i))
            .transpose()
    }

    /// The case, with its stored version; `None` when there is none (or it is another
    /// organization's: the organization is in the key).
    pub async fn get_case(
        &self,
        org: &OrgId,
        account: &AccountId,
        case: &CaseId,
    ) -> Result<Option<StoredCase>, StoreError> {
        self.get(account_pk(org, account), case_sk(case))
            .await?
            .map(|i| case_from(&i))
            .transpose()
    }

    /// Writes the claim (conditional on `rec.rev`: the revision read, 0 = must not exist) and,
    /// when given, its case (conditional on its version) in one transaction.
    pub async fn save_claim(
        &self,
        rec: &ClaimRecord,
        case: Option<CaseWrite<'_>>,
    ) -> Result<Save, StoreError> {
        let (item, cond, values) = claim_put(rec)?;
        let Some(case) = case else {
            let result = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression(cond)
                .set_expression_attribute_values((!values.is_empty()).then_some(values))
                .send()
                .await;
            return match result {
                Ok(_) => Ok(Save::Saved),
                Err(e) => {
                    let e = e.into_service_error();
                    if e.is_conditional_check_failed_exception() {
                        Ok(Save::Conflict)
                    } else {
                        Err(service_error(e))
                    }
                }
            };
        };
        let (case_item, case_cond, case_values) = case_put(&case)?;
        let claim = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(cond)
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .build()
            .map_err(build_err)?;
        let case = Put::builder()
            .table_name(&self.table)
            .set_item(Some(case_item))
            .condition_expression(case_cond)
            .set_expression_attribute_values((!case_values.is_empty()).then_some(case_values))
            .build()
            .map_err(build_err)?;
        self.transact(vec![
            TransactWriteItem::builder().put(claim).build(),
            TransactWriteItem::builder().put(case).build(),
        ])
        .await
    }

    /// Writes a case alone (conditional on its version, or on not existing).
    pub async fn save_case(&self, w: CaseWrite<'_>) -> Result<Save, StoreError> {
        let (item, cond, values) = case_put(&w)?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(cond)
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Save::Saved),
            Err(e) => {
                let e = e.into_service_error();
                if e.is_conditional_check_failed_exception() {
                    Ok(Save::Conflict)
                } else {
                    Err(service_error(e))
                }
            }
        }
    }

    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<Save, StoreError> {
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Save::Saved),
            Err(e) => {
                let e = e.into_service_error();
                let cancelled = cancellation_codes(&e)
                    .is_some_and(|codes| codes.iter().any(|c| c == CONDITION_FAILED));
                if cancelled {
                    Ok(Save::Conflict)
                } else {
                    Err(service_error(e))
                }
            }
        }
    }

    /// One page of an account's cases (sorted by case id), filtered. `limit` 1–100.
    pub async fn list_cases(
        &self,
        org: &OrgId,
        account: &AccountId,
        filter: &CaseFilter,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Result<CasePage, BadCursor>, StoreError> {
        let mut start = match cursor {
            None => None,
            Some(c) => match decode_cursor(c, keys::CASE_PREFIX) {
                Some(sk) => Some(key(account_pk(org, account), sk)),
                None => return Ok(Err(BadCursor)),
            },
        };
        let mut filters = Vec::new();
        let mut values: HashMap<String, AttributeValue> = HashMap::new();
        values.insert(":pk".into(), s(account_pk(org, account)));
        values.insert(":sk".into(), s(keys::CASE_PREFIX));
        let mut names = HashMap::new();
        if let Some(st) = filter.state {
            filters.push("#state = :state");
            names.insert("#state".to_string(), "state".to_string());
            values.insert(":state".into(), s(state_str(st)));
        }
        if let Some(c) = filter.customer_id {
            filters.push("customerId = :customer");
            values.insert(":customer".into(), n(c));
        }
        if let Some(w) = filter.written_off {
            filters.push("writtenOff = :wo");
            values.insert(":wo".into(), b(w));
        }
        if let Some(r) = filter.needs_review {
            filters.push("needsReview = :nr");
            values.insert(":nr".into(), b(r));
        }
        let filter_expr = (!filters.is_empty()).then(|| filters.join(" AND "));
        let mut cases = Vec::new();
        let mut next = None;
        loop {
            let want = limit.saturating_sub(cases.len()).max(1);
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk AND begins_with(SK, :sk)")
                .set_filter_expression(filter_expr.clone())
                .set_expression_attribute_names((!names.is_empty()).then(|| names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .consistent_read(true)
                .limit(want as i32)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(service_error)?;
            for item in out.items() {
                cases.push(case_from(item)?);
            }
            let more = out.last_evaluated_key.filter(|k| !k.is_empty());
            if cases.len() >= limit {
                if more.is_some() {
                    if let Some(last) = cases.last() {
                        next = Some(encode_cursor(&case_sk(&last.case.id)));
                    }
                }
                break;
            }
            match more {
                Some(k) => start = Some(k),
                None => break,
            }
        }
        Ok(Ok(CasePage {
            cases,
            next_cursor: next,
        }))
    }

    /// Paused cases whose deadline is `today` or earlier, across organizations (GSI1; eventually
    /// consistent: the caller re-reads each case).
    pub async fn paused_cases_due(
        &self,
        today: NaiveDate,
    ) -> Result<Vec<(AccountRef, CaseId)>, StoreError> {
        let keys = self
            .query_index_upto("GSI1", "GSI1PK", keys::PAUSED_CASES_GSI1PK, "GSI1SK", today)
            .await?;
        keys.iter()
            .map(|item| {
                Ok((
                    AccountRef {
                        org: get_parsed(item, "org", OrgId::parse)?,
                        account_id: get_parsed(item, "accountId", AccountId::parse)?,
                    },
                    get_parsed(item, "caseId", CaseId::parse)?,
                ))
            })
            .collect()
    }

    /// Collectible claims without a case whose effective due date is `up_to` or earlier, across
    /// organizations (GSI2; the caller re-reads each claim).
    pub async fn claims_awaiting_case(
        &self,
        up_to: NaiveDate,
    ) -> Result<Vec<(AccountRef, ClaimId)>, StoreError> {
        let keys = self
            .query_index_upto("GSI2", "GSI2PK", keys::CASE_DUE_GSI2PK, "GSI2SK", up_to)
            .await?;
        keys.iter()
            .map(|item| {
                Ok((
                    AccountRef {
                        org: get_parsed(item, "org", OrgId::parse)?,
                        account_id: get_parsed(item, "accountId", AccountId::parse)?,
                    },
                    get_parsed(item, "claimId", ClaimId::parse)?,
                ))
            })
            .collect()
    }

    async fn query_index_upto(
        &self,
        index: &str,
        pk_name: &str,
        pk: &str,
        sk_name: &str,
        up_to: NaiveDate,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression("#pk = :pk AND #sk <= :upto")
                .expression_attribute_names("#pk", pk_name)
                .expression_attribute_names("#sk", sk_name)
                .expression_attribute_values(":pk", s(pk))
                .expression_attribute_values(":upto", s(keys::dated_upto(up_to)))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(service_error)?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_claim_record_round_trips_through_its_item_and_keys_carry_the_org() {
        let org = OrgId::parse("org_a").unwrap();
        let acc = AccountId::from_suffix("0192f0c4a1b27f3e8c1d2e3f4a5b6c7d").unwrap();
        let claim = ClaimId::invoice(1001).unwrap();
        let at = Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap();
        let mut rec = ClaimRecord::new(ClaimState::new(org.clone(), acc.clone(), claim), at);
        rec.rev = 4;
        let item = claim_item(&rec, 5).unwrap();
        assert_eq!(get_s(&item, "PK").unwrap(), account_pk(&org, &acc));
        assert_eq!(get_s(&item, "SK").unwrap(), claim_sk(&rec.state.claim_id));
        // Not mirrored: not awaiting a case.
        assert!(!item.contains_key("GSI2PK"));
        let back = claim_from(&item).unwrap();
        assert_eq!(back.rev, 5);
        assert_eq!(back.state, rec.state);
    }
}
