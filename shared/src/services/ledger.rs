//! What a user sees of the mirrored ledger: the ledger with its filters, the skipped
//! items with the reason in Norwegian and English ("why is this item not in my ledger?"), the
//! customers, the sync status with progress and counts, the manual sync trigger and the "ready"
//! notification.
//!
//! Organization isolation: every call first checks that the account belongs to the caller's
//! organization (the JWT's `org`); another organization's account answers exactly like one that
//! does not exist ([`LedgerError::AccountNotFound`], 404).
//!
//! Reads go through the store's read API (`store::ledger`). Two small records are this service's
//! own (kept in [`marks`], keyed through `store::keys`): the pending manual sync request
//! (`SYNC#REQUEST` in the account's partition) and the time a notification was seen (`seenAt` on
//! the ready notice item).
//!
//! **Manual sync deduplication.** `POST …/integration/sync` puts the request record with a
//! condition: only if there is none, or the one there was served (a sync that *started* after it
//! has completed), or it belongs to a replaced integration, or it is older than
//! [`STALE_REQUEST`] (a lost job must not block the button forever). If the condition fails a sync
//! is queued or running for this request already: the answer is 202 with that job and
//! `deduplicated: true`, and nothing is queued. While the initial sync is queued or running the
//! answer is the initial job, deduplicated. Behind that, two more layers: the FIFO queue drops a
//! copy with the same deduplication id (`manual:{integrationId}:{second}`), and the worker treats
//! a job requested before the last completed sync started as done.

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Serialize;

use crate::adapters::queue::{SyncJob, SyncQueue, SyncReason};
use crate::adapters::store::keys::{account_pk, org_pk, ready_notice_sk, SYNC_REQUEST_SK};
use crate::adapters::store::ledger::{
    ListError, PageRequest, ReadyNotice, StoredCustomer, SyncSummary,
};
use crate::adapters::store::{DynamoStore, StoreError};
use crate::domain::collection::legal::notify::{CaseNotice, CaseNotification};
use crate::domain::ledger::texts::skip_texts;
use crate::domain::ledger::{
    ItemStatus, LedgerItem, LedgerQuery, RecordRef, SkipReason, SkipRecord, SyncCounts,
};
use crate::domain::setup::{
    AccountId, Integration, IntegrationStatus, LastSync, OrgId, SyncProgress,
};
use crate::services::sync::job_for;

/// Page size of the listings: default and largest.
pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 500;
/// A manual sync request older than this no longer deduplicates (its job may have been lost).
pub const STALE_REQUEST: Duration = Duration::minutes(30);
/// The one notification kind there is: the ledger is ready (first successful sync).
pub const READY_NOTIFICATION_ID: &str = "ready";

// ------------------------------------------------------------------------------------ errors

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// A query parameter is unknown or has a bad value (400, the parameter named).
    #[error("{message}")]
    BadQuery {
        field: &'static str,
        message: String,
    },
    /// The cursor is not one of ours (400).
    #[error("the page cursor is not valid")]
    BadCursor,
    /// Not in the caller's organization (404).
    #[error("no such account")]
    AccountNotFound,
    #[error("the account has no integration")]
    IntegrationNotFound,
    #[error("no such notification")]
    NotificationNotFound,
    /// The sync queue did not take the job (503).
    #[error("the sync queue is unavailable: {0}")]
    QueueUnavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ListError> for LedgerError {
    fn from(e: ListError) -> Self {
        match e {
            ListError::Cursor(_) => LedgerError::BadCursor,
            ListError::Store(s) => LedgerError::Store(s),
        }
    }
}

fn bad(field: &'static str, message: impl Into<String>) -> LedgerError {
    LedgerError::BadQuery {
        field,
        message: message.into(),
    }
}

// ------------------------------------------------------------------------------ query strings

/// Which skip records `skipped=` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipFilter {
    Reason(SkipReason),
    All,
}

/// `GET /v1/accounts/{id}/ledger` query: `overdue`, `customer`, `status`, `skipped`, `limit`,
/// `cursor`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerParams {
    pub overdue: Option<bool>,
    pub customer_id: Option<i64>,
    pub status: Option<ItemStatus>,
    pub skipped: Option<SkipFilter>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

fn parse_bool(field: &'static str, v: &str) -> Result<bool, LedgerError> {
    match v {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(bad(field, format!("{field} must be true or false"))),
    }
}

fn parse_limit(v: &str) -> Result<u32, LedgerError> {
    v.parse::<u32>()
        .ok()
        .filter(|l| (1..=MAX_LIMIT).contains(l))
        .ok_or_else(|| {
            bad(
                "limit",
                format!("limit must be a number from 1 to {MAX_LIMIT}"),
            )
        })
}

fn parse_cursor(v: &str) -> Result<String, LedgerError> {
    if v.is_empty() || v.len() > 2048 {
        return Err(LedgerError::BadCursor);
    }
    Ok(v.to_string())
}

/// A skip reason from its snake_case name.
pub fn parse_reason(v: &str) -> Option<SkipReason> {
    SkipReason::ALL.iter().copied().find(|r| r.as_str() == v)
}

fn unknown_parameter(name: &str, known: &str) -> LedgerError {
    bad(
        "query",
        format!("unknown query parameter {name:?}; known: {known}"),
    )
}

impl LedgerParams {
    /// From the query-string parameters. Unknown parameters are refused, so a typo does not list
    /// everything; `overdue` and `status` do not apply to skipped records.
    pub fn parse<'a>(
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, LedgerError> {
        let mut q = LedgerParams::default();
        for (k, v) in params {
            match k {
                "overdue" => q.overdue = Some(parse_bool("overdue", v)?),
                "customer" => {
                    q.customer_id =
                        Some(v.parse::<i64>().ok().filter(|c| *c > 0).ok_or_else(|| {
                            bad(
                                "customer",
                                "customer is a Tripletex customer id (a positive number)",
                            )
                        })?)
                }
                "status" => {
                    q.status = Some(match v {
                        "open" => ItemStatus::Open,
                        "closed" => ItemStatus::Closed,
                        "written_off_candidate" => ItemStatus::WrittenOffCandidate,
                        _ => {
                            return Err(bad(
                                "status",
                                "status must be open, closed or written_off_candidate",
                            ))
                        }
                    })
                }
                "skipped" => {
                    q.skipped = Some(if v == "all" {
                        SkipFilter::All
                    } else {
                        SkipFilter::Reason(parse_reason(v).ok_or_else(|| {
                            bad(
                                "skipped",
                                format!(
                                    "skipped must be all or a reason: {}",
                                    SkipReason::ALL.map(SkipReason::as_str).join(", ")
                                ),
                            )
                        })?)
                    })
                }
                "limit" => q.limit = Some(parse_limit(v)?),
                "cursor" => q.cursor = Some(parse_cursor(v)?),
                other => {
                    return Err(unknown_parameter(
                        other,
                        "overdue, customer, status, skipped, limit, cursor",
                    ))
                }
            }
        }
        if q.skipped.is_some() {
            if q.overdue.is_some() {
                return Err(bad(
                    "overdue",
                    "overdue does not apply to skipped records (they are not in the ledger)",
                ));
            }
            if q.status.is_some() {
                return Err(bad(
                    "status",
                    "status does not apply to skipped records (they are not in the ledger)",
                ));
            }
        }
        Ok(q)
    }

    fn page(&self) -> PageRequest {
        PageRequest {
            cursor: self.cursor.clone(),
            limit: Some(self.limit.unwrap_or(DEFAULT_LIMIT)),
        }
    }
}

/// `GET /v1/accounts/{id}/customers` query: `limit`, `cursor`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageParams {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

impl PageParams {
    pub fn parse<'a>(
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, LedgerError> {
        let mut q = PageParams::default();
        for (k, v) in params {
            match k {
                "limit" => q.limit = Some(parse_limit(v)?),
                "cursor" => q.cursor = Some(parse_cursor(v)?),
                other => return Err(unknown_parameter(other, "limit, cursor")),
            }
        }
        Ok(q)
    }
}

// ------------------------------------------------------------------------------------ views

pub use crate::domain::ledger::texts::Texts;

/// The last sync as the user sees it.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LastSyncView {
    /// The last finished sync, successful or not (with the reason when it failed).
    pub finished_at: Option<DateTime<Utc>>,
    pub succeeded: Option<bool>,
    pub message: Option<String>,
    /// The last *completed* sync: the ledger shown is as of this read.
    pub last_completed_started_at: Option<DateTime<Utc>>,
    pub last_completed_at: Option<DateTime<Utc>>,
    pub first_ready_at: Option<DateTime<Utc>>,
}

fn last_sync_view(i: Option<&Integration>, s: Option<&SyncSummary>) -> Option<LastSyncView> {
    let l: Option<&LastSync> = i.and_then(|i| i.last_sync.as_ref());
    if l.is_none() && s.is_none() {
        return None;
    }
    Some(LastSyncView {
        finished_at: l.map(|l| l.finished_at),
        succeeded: l.map(|l| l.succeeded),
        message: l.and_then(|l| l.message.clone()),
        last_completed_started_at: s.and_then(|s| s.last_completed_started_at),
        last_completed_at: s.and_then(|s| s.last_completed_at),
        first_ready_at: s.and_then(|s| s.first_ready_at),
    })
}

/// `GET /v1/accounts/{id}/ledger` (without `skipped`).
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerView {
    pub items: Vec<LedgerItem>,
    pub next_cursor: Option<String>,
    /// Of the last completed sync (zeros before the first).
    pub counts: SyncCounts,
    pub status: Option<IntegrationStatus>,
    pub last_sync: Option<LastSyncView>,
}

/// A record left out of the ledger, as the user sees it.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SkipView {
    /// The item id it would have had (`inv_…`, `item_…`, `credit_…`) or `{kind}_{id}`.
    pub item_ref: String,
    pub reason: SkipReason,
    /// `true`: the record could not be read; `false`: a setting left it out.
    pub quarantined: bool,
    /// What exactly (English, from the sync).
    pub detail: String,
    pub record: RecordRef,
    pub explanation: Texts,
}

impl From<SkipRecord> for SkipView {
    fn from(s: SkipRecord) -> Self {
        Self {
            item_ref: s.record.key.clone(),
            reason: s.reason,
            quarantined: s.reason.is_quarantine(),
            detail: s.detail,
            record: s.record,
            explanation: skip_texts(s.reason).explanation,
        }
    }
}

/// `GET /v1/accounts/{id}/ledger?skipped=…`.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SkippedView {
    pub skipped: Vec<SkipView>,
    pub next_cursor: Option<String>,
    pub counts: SyncCounts,
    pub status: Option<IntegrationStatus>,
    pub last_sync: Option<LastSyncView>,
}

/// The ledger answer: items, or skipped records.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum LedgerAnswer {
    Items(LedgerView),
    Skipped(SkippedView),
}

/// `GET /v1/accounts/{id}/customers`.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomersView {
    pub customers: Vec<StoredCustomer>,
    pub next_cursor: Option<String>,
    /// Customers in the last completed sync (the inactive ones included).
    pub total: u32,
}

/// A manual sync request waiting for (or being served by) a sync.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingSync {
    pub reason: SyncReason,
    pub requested_at: DateTime<Utc>,
}

/// `GET /v1/accounts/{id}/integration/status`.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncStatusView {
    pub integration_id: String,
    pub status: IntegrationStatus,
    pub progress: Option<SyncProgress>,
    pub last_sync: Option<LastSyncView>,
    pub counts: SyncCounts,
    /// A manual sync that is queued or running, if any.
    pub pending_sync: Option<PendingSync>,
}

/// The job a sync request is served by.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobView {
    pub reason: SyncReason,
    pub requested_at: DateTime<Utc>,
    pub integration_id: String,
    /// The FIFO message group: the Tripletex key.
    pub message_group_id: String,
    pub deduplication_id: String,
}

impl From<&SyncJob> for JobView {
    fn from(j: &SyncJob) -> Self {
        Self {
            reason: j.reason,
            requested_at: j.requested_at,
            integration_id: j.integration_id.to_string(),
            message_group_id: j.message_group_id().to_string(),
            deduplication_id: j.deduplication_id(),
        }
    }
}

/// `POST /v1/accounts/{id}/integration/sync` → 202.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncRequested {
    pub job: JobView,
    /// `true`: a sync for an earlier request is queued or running; nothing new was queued.
    pub deduplicated: bool,
    pub status: IntegrationStatus,
}

/// A notification (the frontend's pop-up).
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationView {
    pub id: String,
    /// `ledger_ready`, `legal_steps_ready` or `limitation_warning`.
    pub kind: String,
    pub account_id: String,
    /// `ledger_ready`: the integration and what the first sync found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integration_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_company_name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub seen_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<SyncCounts>,
    /// A notification about a case: the case's URL id and what it says (route, dates, amounts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<CaseNotice>,
    pub title: Texts,
    pub message: Texts,
}

fn case_view(n: &CaseNotification) -> NotificationView {
    NotificationView {
        id: n.id.clone(),
        kind: n.notice.kind().to_string(),
        account_id: n.account_id.to_string(),
        integration_id: None,
        client_company_name: None,
        created_at: n.created_at,
        seen_at: n.seen_at,
        counts: None,
        case: Some(crate::services::cases::public_case_id(
            &n.account_id,
            &n.case_id,
        )),
        details: Some(n.notice.clone()),
        title: n.title(),
        message: n.message(),
    }
}

fn ready_view(n: &ReadyNotice, seen_at: Option<DateTime<Utc>>) -> NotificationView {
    let name = n
        .client_company_name
        .clone()
        .unwrap_or_else(|| "klienten".into());
    let c = &n.counts;
    let skipped = c.skipped_total();
    NotificationView {
        id: READY_NOTIFICATION_ID.into(),
        kind: "ledger_ready".into(),
        account_id: n.account_id.to_string(),
        integration_id: Some(n.integration_id.clone()),
        client_company_name: n.client_company_name.clone(),
        created_at: n.created_at,
        seen_at,
        counts: Some(c.clone()),
        case: None,
        details: None,
        title: Texts::new("Reskontroen er klar", "The ledger is ready"),
        message: Texts {
            no: format!(
                "Reskontroen for {name} er hentet fra Tripletex: {} kunder, {} åpne poster, {} forfalt, {} ikke tatt med.",
                c.customers, c.open_items, c.overdue_items, skipped
            ),
            en: format!(
                "The ledger of {} was read from Tripletex: {} customers, {} open items, {} overdue, {} left out.",
                n.client_company_name.as_deref().unwrap_or("the client"),
                c.customers,
                c.open_items,
                c.overdue_items,
                skipped
            ),
        },
    }
}

/// `GET /v1/accounts/{id}/notifications`.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationsView {
    pub notifications: Vec<NotificationView>,
    pub unseen: u32,
}

// ------------------------------------------------------------------------- skip cursor (all)

/// `skipped=all` walks the reasons in order; its cursor is (reason, the store's cursor in it).
fn encode_all_cursor(reason: SkipReason, inner: Option<&str>) -> String {
    let raw = format!("{}~{}", reason.as_str(), inner.unwrap_or(""));
    format!(
        "s.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw.as_bytes())
    )
}

fn decode_all_cursor(c: &str) -> Result<(SkipReason, Option<String>), LedgerError> {
    let body = c.strip_prefix("s.").ok_or(LedgerError::BadCursor)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| LedgerError::BadCursor)?;
    let text = String::from_utf8(bytes).map_err(|_| LedgerError::BadCursor)?;
    let (r, inner) = text.split_once('~').ok_or(LedgerError::BadCursor)?;
    let reason = parse_reason(r).ok_or(LedgerError::BadCursor)?;
    Ok((reason, Some(inner.to_string()).filter(|s| !s.is_empty())))
}

// ------------------------------------------------------------------------------------ service

/// The read service and the manual sync trigger.
#[derive(Debug, Clone)]
pub struct LedgerService {
    store: DynamoStore,
    marks: marks::Marks,
    queue: SyncQueue,
}

impl LedgerService {
    /// `ddb` must be a client of the store's table (the two records of [`marks`]).
    pub fn new(store: DynamoStore, ddb: aws_sdk_dynamodb::Client, queue: SyncQueue) -> Self {
        let marks = marks::Marks::new(ddb, store.table_name());
        Self {
            store,
            marks,
            queue,
        }
    }

    pub fn store(&self) -> &DynamoStore {
        &self.store
    }

    /// The account, if it is the caller's organization's.
    async fn account(&self, org: &OrgId, account: &str) -> Result<AccountId, LedgerError> {
        let id = AccountId::parse(account).map_err(|_| LedgerError::AccountNotFound)?;
        match self.store.get_account(org, &id).await? {
            Some(_) => Ok(id),
            None => Err(LedgerError::AccountNotFound),
        }
    }

    async fn context(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<(Option<Integration>, Option<SyncSummary>), LedgerError> {
        let integration = self.store.get_integration(org, account).await?;
        let summary = self.store.counts(org, account).await?;
        Ok((integration, summary))
    }

    /// `GET /v1/accounts/{id}/ledger`.
    pub async fn ledger(
        &self,
        org: &OrgId,
        account: &str,
        params: &LedgerParams,
    ) -> Result<LedgerAnswer, LedgerError> {
        let account = self.account(org, account).await?;
        let (integration, summary) = self.context(org, &account).await?;
        let counts = summary
            .as_ref()
            .map(|s| s.counts.clone())
            .unwrap_or_default();
        let status = integration.as_ref().map(|i| i.status);
        let last_sync = last_sync_view(integration.as_ref(), summary.as_ref());
        match params.skipped {
            None => {
                let query = LedgerQuery {
                    overdue: params.overdue,
                    customer_id: params.customer_id,
                    status: params.status,
                    skipped: None,
                };
                let page = self
                    .store
                    .list_items(org, &account, &query, &params.page())
                    .await?;
                Ok(LedgerAnswer::Items(LedgerView {
                    items: page.items,
                    next_cursor: page.next,
                    counts,
                    status,
                    last_sync,
                }))
            }
            Some(filter) => {
                let (records, next) = self.skips(org, &account, filter, params).await?;
                let skipped = records
                    .into_iter()
                    .filter(|s| {
                        params
                            .customer_id
                            .is_none_or(|c| s.record.customer_id == Some(c))
                    })
                    .map(SkipView::from)
                    .collect();
                Ok(LedgerAnswer::Skipped(SkippedView {
                    skipped,
                    next_cursor: next,
                    counts,
                    status,
                    last_sync,
                }))
            }
        }
    }

    async fn skips(
        &self,
        org: &OrgId,
        account: &AccountId,
        filter: SkipFilter,
        params: &LedgerParams,
    ) -> Result<(Vec<SkipRecord>, Option<String>), LedgerError> {
        let limit = params.limit.unwrap_or(DEFAULT_LIMIT) as usize;
        match filter {
            SkipFilter::Reason(r) => {
                let page = self
                    .store
                    .list_skips(org, account, r, &params.page())
                    .await?;
                Ok((page.items, page.next))
            }
            SkipFilter::All => {
                let (start, mut inner) = match &params.cursor {
                    Some(c) => decode_all_cursor(c)?,
                    None => (SkipReason::ALL[0], None),
                };
                // Every reason from the cursor's on (an empty one costs one small query; the
                // counts are not trusted to say which are empty: they are written last).
                let reasons: Vec<SkipReason> = SkipReason::ALL
                    .iter()
                    .copied()
                    .skip_while(|r| *r != start)
                    .collect();
                let mut out = Vec::new();
                for (n, r) in reasons.iter().enumerate() {
                    let want = limit - out.len();
                    let page = self
                        .store
                        .list_skips(
                            org,
                            account,
                            *r,
                            &PageRequest {
                                cursor: inner.take(),
                                limit: Some(want as u32),
                            },
                        )
                        .await?;
                    out.extend(page.items);
                    if let Some(next) = page.next {
                        return Ok((out, Some(encode_all_cursor(*r, Some(&next)))));
                    }
                    if out.len() >= limit {
                        let next = reasons.get(n + 1).map(|r| encode_all_cursor(*r, None));
                        return Ok((out, next));
                    }
                }
                Ok((out, None))
            }
        }
    }

    /// `GET /v1/accounts/{id}/customers` (inactive customers included).
    pub async fn customers(
        &self,
        org: &OrgId,
        account: &str,
        params: &PageParams,
    ) -> Result<CustomersView, LedgerError> {
        let account = self.account(org, account).await?;
        let page = self
            .store
            .list_customers(
                org,
                &account,
                &PageRequest {
                    cursor: params.cursor.clone(),
                    limit: Some(params.limit.unwrap_or(DEFAULT_LIMIT)),
                },
            )
            .await?;
        let total = self
            .store
            .counts(org, &account)
            .await?
            .map(|s| s.counts.customers)
            .unwrap_or(0);
        Ok(CustomersView {
            customers: page.items,
            next_cursor: page.next,
            total,
        })
    }

    /// `GET /v1/accounts/{id}/integration/status`.
    pub async fn status(
        &self,
        org: &OrgId,
        account: &str,
        now: DateTime<Utc>,
    ) -> Result<SyncStatusView, LedgerError> {
        let account = self.account(org, account).await?;
        let (integration, summary) = self.context(org, &account).await?;
        let i = integration.ok_or(LedgerError::IntegrationNotFound)?;
        let pending_sync = match initial_job(&i) {
            Some(job) => Some(PendingSync {
                reason: job.reason,
                requested_at: job.requested_at,
            }),
            None => self
                .marks
                .sync_request(org, &account)
                .await?
                .filter(|r| r.pending(&i, summary.as_ref(), now))
                .map(|r| PendingSync {
                    reason: SyncReason::Manual,
                    requested_at: r.requested_at,
                }),
        };
        Ok(SyncStatusView {
            integration_id: i.id.to_string(),
            status: i.status,
            progress: i.progress.clone(),
            last_sync: last_sync_view(Some(&i), summary.as_ref()),
            counts: summary.map(|s| s.counts).unwrap_or_default(),
            pending_sync,
        })
    }

    /// `POST /v1/accounts/{id}/integration/sync`: a sync now, deduplicated (see the module docs).
    pub async fn request_sync(
        &self,
        org: &OrgId,
        account: &str,
        now: DateTime<Utc>,
    ) -> Result<SyncRequested, LedgerError> {
        // Milliseconds: the request record keeps no more, and the job must match it.
        let now = DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now);
        let account = self.account(org, account).await?;
        let (integration, summary) = self.context(org, &account).await?;
        let i = integration.ok_or(LedgerError::IntegrationNotFound)?;
        if let Some(job) = initial_job(&i) {
            return Ok(SyncRequested {
                job: JobView::from(&job),
                deduplicated: true,
                status: i.status,
            });
        }
        let job = job_for(&i, SyncReason::Manual, now);
        let served_before = served_before(&i, summary.as_ref());
        let request = marks::SyncRequest {
            integration_id: i.id.to_string(),
            requested_at: now,
            deduplication_id: job.deduplication_id(),
        };
        match self
            .marks
            .put_sync_request(org, &account, &request, served_before, now - STALE_REQUEST)
            .await?
        {
            None => {}
            Some(existing) => {
                let mut earlier = job_for(&i, SyncReason::Manual, existing.requested_at);
                earlier.requested_at = existing.requested_at;
                let mut view = JobView::from(&earlier);
                view.deduplication_id = existing.deduplication_id;
                return Ok(SyncRequested {
                    job: view,
                    deduplicated: true,
                    status: i.status,
                });
            }
        }
        if let Err(e) = self.queue.enqueue(&job).await {
            // Not queued: the next request must not be deduplicated against this one.
            if let Err(del) = self.marks.delete_sync_request(org, &account, now).await {
                tracing::warn!(error = %del, "could not withdraw the sync request record");
            }
            return Err(LedgerError::QueueUnavailable(e.to_string()));
        }
        tracing::info!(account = %account, integration = %i.id, "manual sync queued");
        Ok(SyncRequested {
            job: JobView::from(&job),
            deduplicated: false,
            status: i.status,
        })
    }

    /// `GET /v1/accounts/{id}/notifications`.
    pub async fn notifications(
        &self,
        org: &OrgId,
        account: &str,
    ) -> Result<NotificationsView, LedgerError> {
        let account = self.account(org, account).await?;
        let mut notifications = Vec::new();
        if let Some(n) = self.store.get_ready_notice(org, &account).await? {
            let seen = self.marks.seen_at(org, &account).await?;
            notifications.push(ready_view(&n, seen));
        }
        // About cases (legal steps ready, limitation warnings): newest first after the ready one.
        let mut cases = self.store.case_notifications(org, &account).await?;
        cases.reverse();
        notifications.extend(cases.iter().map(case_view));
        let unseen = notifications.iter().filter(|n| n.seen_at.is_none()).count() as u32;
        Ok(NotificationsView {
            notifications,
            unseen,
        })
    }

    /// `POST /v1/accounts/{id}/notifications/{nid}/seen`: idempotent (the first time is kept).
    pub async fn mark_seen(
        &self,
        org: &OrgId,
        account: &str,
        notification: &str,
        now: DateTime<Utc>,
    ) -> Result<NotificationView, LedgerError> {
        let account = self.account(org, account).await?;
        if notification != READY_NOTIFICATION_ID {
            let well_formed = !notification.is_empty()
                && notification
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
            if !well_formed {
                return Err(LedgerError::NotificationNotFound);
            }
            return self
                .store
                .mark_case_notification_seen(org, &account, notification, now)
                .await?
                .map(|n| case_view(&n))
                .ok_or(LedgerError::NotificationNotFound);
        }
        let Some(n) = self.store.get_ready_notice(org, &account).await? else {
            return Err(LedgerError::NotificationNotFound);
        };
        let seen = self
            .marks
            .mark_seen(org, &account, now)
            .await?
            .ok_or(LedgerError::NotificationNotFound)?;
        Ok(ready_view(&n, Some(seen)))
    }
}

/// The initial sync, while it is queued or running (it serves any request made meanwhile).
fn initial_job(i: &Integration) -> Option<SyncJob> {
    let waiting = match i.status {
        IntegrationStatus::Pending => i.initial_sync_enqueued,
        IntegrationStatus::Syncing => true,
        IntegrationStatus::Ready | IntegrationStatus::Failed => false,
    };
    waiting.then(|| {
        let mut job = job_for(i, SyncReason::Initial, i.updated_at);
        job.settings_version = i.initial_sync_version;
        job
    })
}

/// A request made before this time has been served: a sync that started after it has completed.
fn served_before(i: &Integration, s: Option<&SyncSummary>) -> Option<DateTime<Utc>> {
    s.filter(|s| s.integration_id.as_deref() == Some(i.id.as_str()))
        .and_then(|s| s.last_completed_started_at)
}

fn time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The two records this service writes itself (raw DynamoDB; everything else is the store's).
mod marks {
    use super::*;
    use crate::adapters::store::item::{key, n, s};
    use crate::adapters::store::service_error as err;

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct SyncRequest {
        pub integration_id: String,
        pub requested_at: DateTime<Utc>,
        pub deduplication_id: String,
    }

    impl SyncRequest {
        /// Still waiting for (or being served by) a sync.
        pub fn pending(
            &self,
            i: &Integration,
            s: Option<&SyncSummary>,
            now: DateTime<Utc>,
        ) -> bool {
            self.integration_id == i.id.as_str()
                && self.requested_at >= now - STALE_REQUEST
                && served_before(i, s).is_none_or(|t| self.requested_at > t)
        }
    }

    #[derive(Debug, Clone)]
    pub struct Marks {
        ddb: aws_sdk_dynamodb::Client,
        table: String,
    }

    fn parse_time(v: Option<&AttributeValue>) -> Option<DateTime<Utc>> {
        let t = v?.as_s().ok()?;
        DateTime::parse_from_rfc3339(t)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    impl Marks {
        pub fn new(ddb: aws_sdk_dynamodb::Client, table: &str) -> Self {
            Self {
                ddb,
                table: table.to_string(),
            }
        }

        pub async fn sync_request(
            &self,
            org: &OrgId,
            account: &AccountId,
        ) -> Result<Option<SyncRequest>, StoreError> {
            let out = self
                .ddb
                .get_item()
                .table_name(&self.table)
                .set_key(Some(key(account_pk(org, account), SYNC_REQUEST_SK.into())))
                .consistent_read(true)
                .send()
                .await
                .map_err(err)?;
            let Some(item) = out.item else {
                return Ok(None);
            };
            let get = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
            Ok(Some(SyncRequest {
                integration_id: get("integrationId").unwrap_or_default(),
                requested_at: parse_time(item.get("requestedAt")).ok_or_else(|| {
                    StoreError::Corrupt("sync request without requestedAt".into())
                })?,
                deduplication_id: get("deduplicationId").unwrap_or_default(),
            }))
        }

        /// Puts the request unless a pending one is there (then returns that one). `served_before`:
        /// requests before it have been served; `stale_before`: requests before it no longer count.
        pub async fn put_sync_request(
            &self,
            org: &OrgId,
            account: &AccountId,
            r: &SyncRequest,
            served_before: Option<DateTime<Utc>>,
            stale_before: DateTime<Utc>,
        ) -> Result<Option<SyncRequest>, StoreError> {
            let mut item = key(account_pk(org, account), SYNC_REQUEST_SK.into());
            item.insert("type".into(), s("SyncRequest"));
            item.insert("integrationId".into(), s(&r.integration_id));
            item.insert("requestedAt".into(), s(time(&r.requested_at)));
            item.insert("requestedAtMs".into(), n(r.requested_at.timestamp_millis()));
            item.insert("deduplicationId".into(), s(&r.deduplication_id));
            // Gone by itself a week later (TTL); nothing depends on it being there.
            item.insert(
                "expiresAt".into(),
                n((r.requested_at + Duration::days(7)).timestamp()),
            );
            let served = served_before
                .map(|t| t.timestamp_millis())
                .unwrap_or(i64::MIN);
            let res = self
                .ddb
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression(
                    "attribute_not_exists(PK) OR integrationId <> :iid \
                     OR requestedAtMs <= :served OR requestedAtMs < :stale",
                )
                .expression_attribute_values(":iid", s(&r.integration_id))
                .expression_attribute_values(":served", n(served))
                .expression_attribute_values(":stale", n(stale_before.timestamp_millis()))
                .send()
                .await;
            if crate::adapters::store::written(res)? {
                return Ok(None);
            }
            Ok(Some(self.sync_request(org, account).await?.ok_or_else(
                || StoreError::Corrupt("sync request vanished".into()),
            )?))
        }

        /// Withdraws our request (only if it is still the one made at `requested_at`).
        pub async fn delete_sync_request(
            &self,
            org: &OrgId,
            account: &AccountId,
            requested_at: DateTime<Utc>,
        ) -> Result<(), StoreError> {
            let res = self
                .ddb
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key(account_pk(org, account), SYNC_REQUEST_SK.into())))
                .condition_expression("requestedAtMs = :t")
                .expression_attribute_values(":t", n(requested_at.timestamp_millis()))
                .send()
                .await;
            // Not ours any more (a newer request replaced it): nothing to withdraw.
            crate::adapters::store::written(res)?;
            Ok(())
        }

        /// When the ready notice was first seen.
        pub async fn seen_at(
            &self,
            org: &OrgId,
            account: &AccountId,
        ) -> Result<Option<DateTime<Utc>>, StoreError> {
            let out = self
                .ddb
                .get_item()
                .table_name(&self.table)
                .set_key(Some(key(org_pk(org), ready_notice_sk(account))))
                .projection_expression("seenAt")
                .consistent_read(true)
                .send()
                .await
                .map_err(err)?;
            Ok(out.item.as_ref().and_then(|i| parse_time(i.get("seenAt"))))
        }

        /// Sets `seenAt` once; returns it (`None` if the notice does not exist).
        pub async fn mark_seen(
            &self,
            org: &OrgId,
            account: &AccountId,
            now: DateTime<Utc>,
        ) -> Result<Option<DateTime<Utc>>, StoreError> {
            let res = self
                .ddb
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(org_pk(org), ready_notice_sk(account))))
                .update_expression("SET seenAt = if_not_exists(seenAt, :now)")
                .condition_expression("attribute_exists(PK)")
                .expression_attribute_values(":now", s(time(&now)))
                .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
                .send()
                .await;
            // The condition fails when there is no notice.
            Ok(crate::adapters::store::conditional(res)?
                .and_then(|out| out.attributes)
                .and_then(|a| parse_time(a.get("seenAt"))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &[(&str, &str)]) -> Result<LedgerParams, LedgerError> {
        LedgerParams::parse(q.iter().copied())
    }

    fn field(e: LedgerError) -> &'static str {
        match e {
            LedgerError::BadQuery { field, .. } => field,
            other => panic!("expected a bad query, got {other:?}"),
        }
    }

    #[test]
    fn the_ledger_query_is_read_strictly_and_names_the_field() {
        let q = parse(&[
            ("overdue", "true"),
            ("customer", "40001"),
            ("status", "written_off_candidate"),
            ("limit", "500"),
        ])
        .unwrap();
        assert_eq!(q.overdue, Some(true));
        assert_eq!(q.customer_id, Some(40001));
        assert_eq!(q.status, Some(ItemStatus::WrittenOffCandidate));
        assert_eq!(q.limit, Some(500));
        assert_eq!(
            parse(&[("skipped", "missing_due_date")]).unwrap().skipped,
            Some(SkipFilter::Reason(SkipReason::MissingDueDate))
        );
        assert_eq!(
            parse(&[("skipped", "all")]).unwrap().skipped,
            Some(SkipFilter::All)
        );
        for (k, v, f) in [
            ("overdue", "yes", "overdue"),
            ("customer", "abc", "customer"),
            ("customer", "-4", "customer"),
            ("status", "paid", "status"),
            ("skipped", "because", "skipped"),
            ("limit", "0", "limit"),
            ("limit", "501", "limit"),
            ("limit", "ten", "limit"),
            ("overdeu", "true", "query"),
        ] {
            assert_eq!(field(parse(&[(k, v)]).unwrap_err()), f, "{k}={v}");
        }
        assert_eq!(
            field(parse(&[("skipped", "all"), ("overdue", "true")]).unwrap_err()),
            "overdue"
        );
        assert!(matches!(
            parse(&[("cursor", "")]).unwrap_err(),
            LedgerError::BadCursor
        ));
    }

    #[test]
    fn every_reason_parses_from_its_name() {
        for r in SkipReason::ALL {
            assert_eq!(parse_reason(r.as_str()), Some(r));
        }
        assert_eq!(parse_reason("because"), None);
    }

    #[test]
    fn the_all_reasons_cursor_round_trips_and_foreign_ones_are_refused() {
        let c = encode_all_cursor(SkipReason::NullVoucherType, Some("U0tJUCM"));
        assert_eq!(
            decode_all_cursor(&c).unwrap(),
            (SkipReason::NullVoucherType, Some("U0tJUCM".to_string()))
        );
        let c = encode_all_cursor(SkipReason::MissingId, None);
        assert_eq!(
            decode_all_cursor(&c).unwrap(),
            (SkipReason::MissingId, None)
        );
        assert!(decode_all_cursor("SVRFTSM").is_err());
        assert!(decode_all_cursor("s.%%").is_err());
    }
}
