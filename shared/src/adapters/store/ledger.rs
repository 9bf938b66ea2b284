//! The mirrored ledger of one account: customers, ledger items (claims and unapplied credits),
//! skip records, the sync summary (counts) and the sync checkpoint, all in the account's partition
//! (`keys::account_pk`, beside its claims and cases); the ready notice and the organization profile
//! in the organization's partition. The keys are in [`super::keys`], the items and attributes in
//! docs/data-model.md.
//!
//! The records are JSON documents in camelCase (the domain types, as the HTTP API shows them); the
//! top-level attributes are what filters and the mirror rebuild need. `hash` is the domain's content
//! hash (16 hex digits): an unchanged record is never written again.
//!
//! Read API for the HTTP endpoints (`GET /v1/accounts/{id}/ledger`, `/customers`): check that the
//! account belongs to the caller's org first (`get_account`), then [`DynamoStore::list_items`],
//! [`DynamoStore::list_customers`], [`DynamoStore::list_skips`], [`DynamoStore::counts`]. Pages are
//! in key order; `next` is an opaque cursor to pass back as [`PageRequest::cursor`].

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, PutRequest, WriteRequest};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::item::*;
use super::keys::{
    self, account_pk, checkpoint_chunk_sk, customer_sk, item_sk, org_pk, ready_notice_sk, skip_sk,
    CHECKPOINT_SK, PROFILE_SK, SUMMARY_SK,
};
use super::{service_error, written, DynamoStore, StoreError};
use crate::domain::ledger::raw::RawCustomer;
use crate::domain::ledger::registry::StopReason;
use crate::domain::ledger::{
    ContentHash, ItemState, LedgerItem, LedgerQuery, MirrorState, MirroredCustomer, PostalAddress,
    SkipReason, SkipRecord, SyncCounts,
};
use crate::domain::setup::{AccountId, OrgId};

pub const T_CUSTOMER: &str = "LedgerCustomer";
pub const T_ITEM: &str = "LedgerItem";
pub const T_SKIP: &str = "LedgerSkip";
pub const T_SUMMARY: &str = "SyncSummary";
pub const T_CHECKPOINT: &str = "SyncCheckpoint";
pub const T_READY: &str = "ReadyNotice";

/// DynamoDB's BatchWriteItem limit.
pub const BATCH_WRITE_MAX: usize = 25;
/// Largest checkpoint chunk (an item may hold 400 KB).
const CHECKPOINT_CHUNK_BYTES: usize = 350_000;
/// Default and largest page size of the read API.
pub const DEFAULT_PAGE_LIMIT: u32 = 100;
pub const MAX_PAGE_LIMIT: u32 = 1000;

// ------------------------------------------------------------------------------------- records

/// What Enhetsregisteret says about a customer (only when `updateAddressesFromBrreg` is on and
/// the customer has a valid organisation number). No timestamps: a daily look-up that finds the
/// same must not rewrite the customer.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerRegistry {
    /// Dunning must stop (bankrupt, under liquidation, forced dissolution, deleted, removed).
    pub stop_dunning: bool,
    pub stop_reasons: Vec<StopReason>,
    /// `false`: the register does not know the number (404).
    pub found: bool,
    pub registered_name: Option<String>,
    /// The register's postal address (also put into the mirrored customer's `postalAddress`).
    pub registered_address: Option<PostalAddress>,
}

impl CustomerRegistry {
    pub fn content_hash(&self) -> ContentHash {
        ContentHash::of(self)
    }

    /// The register's postal address for `customer`, when it differs from the customer's own
    /// ([`crate::domain::ledger::registry::address_update`]): what the mirror shows and what is
    /// written back to Tripletex.
    pub fn address_update_for(
        &self,
        customer: &crate::domain::ledger::MirroredCustomer,
    ) -> Option<PostalAddress> {
        let status = crate::domain::ledger::registry::RegistryStatus {
            organization_number: customer.organization_number.clone(),
            name: self.registered_name.clone(),
            bankrupt: false,
            bankrupt_since: None,
            under_liquidation: false,
            under_liquidation_since: None,
            forced_dissolution: false,
            deleted: false,
            deleted_on: None,
            stop_reasons: self.stop_reasons.clone(),
            postal_address: self.registered_address.clone(),
            address_source: None,
        };
        crate::domain::ledger::registry::address_update(customer, &status, true)
    }
}

/// A mirrored customer as stored and served (`GET /v1/accounts/{id}/customers`).
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredCustomer {
    /// As mirrored; `postalAddress` is the register's when `updateAddressesFromBrreg` is on and
    /// the register has one.
    #[serde(flatten)]
    pub customer: MirroredCustomer,
    /// The postal address as Tripletex has it, when the register's replaced it above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tripletex_postal_address: Option<PostalAddress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<CustomerRegistry>,
}

/// Counts and times of the account's syncs (`GET …/integration` shows them with the status).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncSummary {
    pub counts: SyncCounts,
    /// When the last completed sync started reading (a job requested before it is a no-op).
    pub last_completed_started_at: Option<DateTime<Utc>>,
    pub last_completed_at: Option<DateTime<Utc>>,
    /// The first completed sync (the account became ready).
    pub first_ready_at: Option<DateTime<Utc>>,
    /// When customers were last read in full (not with `changedSince`).
    pub last_full_customer_read_at: Option<DateTime<Utc>>,
    pub integration_id: Option<String>,
    pub settings_version: Option<u32>,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerPage<T> {
    pub items: Vec<T>,
    /// Pass back as [`PageRequest::cursor`] for the next page; `None` on the last page.
    pub next: Option<String>,
}

/// Which page: `cursor` from the previous page's `next`, `limit` 1..=1000 (default 100).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

impl PageRequest {
    pub fn first(limit: u32) -> Self {
        Self {
            cursor: None,
            limit: Some(limit),
        }
    }
    fn limit(&self) -> usize {
        self.limit
            .unwrap_or(DEFAULT_PAGE_LIMIT)
            .clamp(1, MAX_PAGE_LIMIT) as usize
    }
}

/// A cursor that is not one of ours (the API answers 400 `invalid_cursor`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the page cursor is not valid")]
pub struct InvalidCursor;

/// Errors of the read API.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error(transparent)]
    Cursor(#[from] InvalidCursor),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The mirror as stored: the domain's [`MirrorState`] plus what the adapter needs besides.
#[derive(Debug, Clone, Default)]
pub struct StoredMirror {
    pub state: MirrorState,
    /// Skip key → the reason it is stored under (its SK).
    pub skip_reasons: HashMap<String, SkipReason>,
    /// Customer id → the customer as last read from Tripletex (for `changedSince` reads).
    pub raw_customers: BTreeMap<i64, RawCustomer>,
    /// Customer id → the hash of its registry information.
    pub registry_hashes: HashMap<i64, ContentHash>,
    /// Query pages read to rebuild it.
    pub query_pages: u32,
}

/// One write of the mirror, as the store does it.
#[derive(Debug, Clone)]
pub enum MirrorWrite {
    PutCustomer {
        customer: Box<StoredCustomer>,
        raw: Option<Box<RawCustomer>>,
        hash: ContentHash,
    },
    DeleteCustomer(i64),
    PutItem {
        item: Box<LedgerItem>,
        hash: ContentHash,
    },
    DeleteItem(String),
    PutSkip {
        skip: SkipRecord,
        hash: ContentHash,
    },
    DeleteSkip {
        reason: SkipReason,
        key: String,
    },
}

/// How the batch writes went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchStats {
    /// BatchWriteItem calls made.
    pub requests: u32,
    /// Items put or deleted.
    pub items: u32,
    /// Calls that left items unprocessed.
    pub partial: u32,
    /// Time spent waiting on DynamoDB (calls and backoff).
    pub waited: Duration,
}

impl BatchStats {
    pub fn add(&mut self, o: BatchStats) {
        self.requests += o.requests;
        self.items += o.items;
        self.partial += o.partial;
        self.waited += o.waited;
    }
}

/// BatchWriteItem: the one call [`write_in_batches`] needs (a fake in unit tests).
#[async_trait]
pub trait BatchWriteApi: Send + Sync {
    /// Sends one batch (≤ 25) and returns the unprocessed requests.
    async fn batch_write(
        &self,
        table: &str,
        requests: Vec<WriteRequest>,
    ) -> Result<Vec<WriteRequest>, StoreError>;
}

#[async_trait]
impl BatchWriteApi for aws_sdk_dynamodb::Client {
    async fn batch_write(
        &self,
        table: &str,
        requests: Vec<WriteRequest>,
    ) -> Result<Vec<WriteRequest>, StoreError> {
        let out = self
            .batch_write_item()
            .request_items(table, requests)
            .send()
            .await
            .map_err(service_error)?;
        Ok(out
            .unprocessed_items
            .and_then(|mut m| m.remove(table))
            .unwrap_or_default())
    }
}

/// Backoff for unprocessed items.
#[derive(Debug, Clone, Copy)]
pub struct BatchRetry {
    /// Consecutive calls that leave items unprocessed before giving up.
    pub max_partial_in_a_row: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for BatchRetry {
    fn default() -> Self {
        Self {
            max_partial_in_a_row: 10,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(2),
        }
    }
}

/// Writes `requests` in BatchWriteItem calls of at most 25. Unprocessed items go back into the
/// queue and fill the next call (so the number of calls stays near ⌈n / 25⌉), with exponential
/// backoff while DynamoDB keeps returning unprocessed items; after `max_partial_in_a_row` such
/// calls in a row it gives up with an error (the caller's retry rewrites what is missing: the
/// writes are idempotent puts and deletes).
pub async fn write_in_batches<A: BatchWriteApi + ?Sized>(
    api: &A,
    table: &str,
    requests: Vec<WriteRequest>,
    retry: BatchRetry,
) -> Result<BatchStats, StoreError> {
    write_stream(api, table, requests.into_iter().map(Ok), retry).await
}

/// [`write_in_batches`] over requests built lazily (at most one call's worth is held at a time,
/// plus what DynamoDB left unprocessed).
pub async fn write_stream<A, I>(
    api: &A,
    table: &str,
    requests: I,
    retry: BatchRetry,
) -> Result<BatchStats, StoreError>
where
    A: BatchWriteApi + ?Sized,
    I: IntoIterator<Item = Result<WriteRequest, StoreError>>,
{
    let mut stats = BatchStats::default();
    let mut source = requests.into_iter();
    let mut queue: VecDeque<WriteRequest> = VecDeque::with_capacity(BATCH_WRITE_MAX);
    let mut partial_in_a_row = 0u32;
    let mut total = 0u32;
    loop {
        while queue.len() < BATCH_WRITE_MAX {
            match source.next() {
                Some(r) => {
                    queue.push_back(r?);
                    total += 1;
                }
                None => break,
            }
        }
        if queue.is_empty() {
            break;
        }
        let batch: Vec<WriteRequest> = queue.drain(..).collect();
        let started = Instant::now();
        let unprocessed = api.batch_write(table, batch).await?;
        stats.requests += 1;
        stats.waited += started.elapsed();
        if unprocessed.is_empty() {
            partial_in_a_row = 0;
            continue;
        }
        stats.partial += 1;
        partial_in_a_row += 1;
        if partial_in_a_row > retry.max_partial_in_a_row {
            return Err(StoreError::Service(format!(
                "BatchWriteItem left {} items unprocessed {} times in a row",
                unprocessed.len(),
                partial_in_a_row
            )));
        }
        queue.extend(unprocessed);
        let factor = 1u32 << partial_in_a_row.saturating_sub(1).min(16);
        let delay = retry.base_delay.saturating_mul(factor).min(retry.max_delay);
        let started = Instant::now();
        tokio::time::sleep(delay).await;
        stats.waited += started.elapsed();
    }
    stats.items = total;
    Ok(stats)
}

// ------------------------------------------------------------------------------------ item codec

fn customer_item(
    pk: &str,
    c: &StoredCustomer,
    raw: Option<&RawCustomer>,
    hash: ContentHash,
) -> Result<Item, StoreError> {
    let mut item = key(pk.to_string(), customer_sk(c.customer.id));
    item.insert("type".into(), s(T_CUSTOMER));
    item.insert("customerId".into(), n(c.customer.id));
    item.insert("hash".into(), s(hash.to_hex()));
    item.insert("customer".into(), s(to_json(c)?));
    if let Some(r) = raw {
        item.insert("raw".into(), s(to_json(r)?));
    }
    if let Some(reg) = &c.registry {
        item.insert("regHash".into(), s(reg.content_hash().to_hex()));
        item.insert("stopDunning".into(), b(reg.stop_dunning));
    }
    Ok(item)
}

/// The stored customer of a `CUST#` item.
pub(crate) fn customer_from(item: &Item) -> Result<StoredCustomer, StoreError> {
    serde_json::from_str(get_s(item, "customer")?)
        .map_err(|_| StoreError::Corrupt("attribute customer is not a customer".into()))
}

fn ledger_item(pk: &str, i: &LedgerItem, hash: ContentHash) -> Result<Item, StoreError> {
    let facts_hash = crate::domain::ledger::ClaimFacts::of(i).hash();
    let credit_keys: BTreeSet<String> = i
        .credits
        .iter()
        .map(crate::domain::ledger::CreditLine::event_key)
        .collect();
    let mut item = key(pk.to_string(), item_sk(&i.id));
    item.insert("type".into(), s(T_ITEM));
    item.insert("customerId".into(), n(i.customer_id));
    item.insert("hash".into(), s(hash.to_hex()));
    item.insert("status".into(), s(i.status.as_str()));
    item.insert("overdue".into(), b(i.overdue));
    if let Some(d) = i.due_date {
        item.insert("dueDate".into(), s(d.format("%Y-%m-%d").to_string()));
    }
    item.insert("factsHash".into(), s(facts_hash.to_hex()));
    item.insert("creditKeys".into(), s(to_json(&credit_keys)?));
    item.insert("item".into(), s(to_json(i)?));
    Ok(item)
}

fn skip_item(pk: &str, sk: &SkipRecord, hash: ContentHash) -> Result<Item, StoreError> {
    let mut item = key(pk.to_string(), skip_sk(sk.reason, sk.key()));
    item.insert("type".into(), s(T_SKIP));
    item.insert("hash".into(), s(hash.to_hex()));
    item.insert("reason".into(), s(sk.reason.as_str()));
    item.insert("key".into(), s(sk.key()));
    if let Some(c) = sk.record.customer_id {
        item.insert("customerId".into(), n(c));
    }
    item.insert("skip".into(), s(to_json(sk)?));
    Ok(item)
}

fn parse_hash(item: &Item, name: &str) -> Result<ContentHash, StoreError> {
    get_parsed(item, name, |s| ContentHash::parse_hex(s).ok_or(()))
}

fn reason_from(s: &str) -> Option<SkipReason> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
}

fn put(item: Item) -> Result<WriteRequest, StoreError> {
    Ok(WriteRequest::builder()
        .put_request(
            PutRequest::builder()
                .set_item(Some(item))
                .build()
                .map_err(build_err)?,
        )
        .build())
}

fn delete(pk: String, sk: String) -> Result<WriteRequest, StoreError> {
    Ok(WriteRequest::builder()
        .delete_request(
            DeleteRequest::builder()
                .set_key(Some(key(pk, sk)))
                .build()
                .map_err(build_err)?,
        )
        .build())
}

/// The DynamoDB request for one mirror write into the partition `pk` (pure).
fn write_request(pk: &str, w: &MirrorWrite) -> Result<WriteRequest, StoreError> {
    match w {
        MirrorWrite::PutCustomer {
            customer,
            raw,
            hash,
        } => put(customer_item(pk, customer, raw.as_deref(), *hash)?),
        MirrorWrite::DeleteCustomer(id) => delete(pk.to_string(), customer_sk(*id)),
        MirrorWrite::PutItem { item, hash } => put(ledger_item(pk, item, *hash)?),
        MirrorWrite::DeleteItem(id) => delete(pk.to_string(), item_sk(id)),
        MirrorWrite::PutSkip { skip, hash } => put(skip_item(pk, skip, *hash)?),
        MirrorWrite::DeleteSkip { reason, key } => delete(pk.to_string(), skip_sk(*reason, key)),
    }
}

// ------------------------------------------------------------------------------------ the store

impl DynamoStore {
    /// Items of the account's ledger matching `query` (`overdue`, `customerId`, `status`), in item
    /// id order. With `query.skipped` set the caller wants skip records: use [`Self::list_skips`].
    pub async fn list_items(
        &self,
        org: &OrgId,
        account: &AccountId,
        query: &LedgerQuery,
        page: &PageRequest,
    ) -> Result<LedgerPage<LedgerItem>, ListError> {
        let mut filters = Vec::new();
        let mut values: Vec<(&str, AttributeValue)> = Vec::new();
        let mut names: Vec<(&str, &str)> = Vec::new();
        if let Some(o) = query.overdue {
            filters.push("overdue = :ov");
            values.push((":ov", b(o)));
        }
        if let Some(c) = query.customer_id {
            filters.push("customerId = :cid");
            values.push((":cid", n(c)));
        }
        if let Some(st) = query.status {
            filters.push("#st = :st");
            names.push(("#st", "status"));
            values.push((":st", s(st.as_str())));
        }
        self.list_prefix(
            org,
            account,
            keys::ITEM_PREFIX,
            page,
            &filters,
            &names,
            values,
            |item| {
                let raw = get_s(item, "item")?;
                serde_json::from_str(raw)
                    .map_err(|_| StoreError::Corrupt("attribute item is not a ledger item".into()))
            },
        )
        .await
    }

    /// The account's mirrored customers, in id-key order.
    pub async fn list_customers(
        &self,
        org: &OrgId,
        account: &AccountId,
        page: &PageRequest,
    ) -> Result<LedgerPage<StoredCustomer>, ListError> {
        self.list_prefix(
            org,
            account,
            keys::CUSTOMER_PREFIX,
            page,
            &[],
            &[],
            Vec::new(),
            customer_from,
        )
        .await
    }

    /// The skip records with `reason` ("why is this item not in my ledger?"), in key order.
    pub async fn list_skips(
        &self,
        org: &OrgId,
        account: &AccountId,
        reason: SkipReason,
        page: &PageRequest,
    ) -> Result<LedgerPage<SkipRecord>, ListError> {
        let prefix = keys::skip_prefix(reason);
        self.list_prefix(org, account, &prefix, page, &[], &[], Vec::new(), |item| {
            serde_json::from_str(get_s(item, "skip")?)
                .map_err(|_| StoreError::Corrupt("attribute skip is not a skip record".into()))
        })
        .await
    }

    /// The counts and times of the account's last completed sync (`None` before the first).
    pub async fn counts(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<Option<SyncSummary>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(account_pk(org, account), SUMMARY_SK.into())))
            .send()
            .await
            .map_err(service_error)?;
        match out.item {
            None => Ok(None),
            Some(item) => opt_json(&item, "summary"),
        }
    }

    /// One ledger item by id.
    pub async fn get_ledger_item(
        &self,
        org: &OrgId,
        account: &AccountId,
        item_id: &str,
    ) -> Result<Option<LedgerItem>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(account_pk(org, account), item_sk(item_id))))
            .send()
            .await
            .map_err(service_error)?;
        match out.item {
            None => Ok(None),
            Some(item) => opt_json(&item, "item"),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn list_prefix<T>(
        &self,
        org: &OrgId,
        account: &AccountId,
        prefix: &str,
        page: &PageRequest,
        filters: &[&str],
        names: &[(&str, &str)],
        values: Vec<(&str, AttributeValue)>,
        decode: impl Fn(&Item) -> Result<T, StoreError>,
    ) -> Result<LedgerPage<T>, ListError> {
        let limit = page.limit();
        let mut start = match &page.cursor {
            Some(c) => Some(key(
                account_pk(org, account),
                decode_cursor(c, prefix).ok_or(InvalidCursor)?,
            )),
            None => None,
        };
        let mut out = Vec::new();
        let mut last_sk: Option<String> = None;
        loop {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
                .expression_attribute_values(":pk", s(account_pk(org, account)))
                .expression_attribute_values(":prefix", s(prefix))
                .set_exclusive_start_key(start.take());
            if !filters.is_empty() {
                q = q.filter_expression(filters.join(" AND "));
            }
            for (k, v) in names {
                q = q.expression_attribute_names(*k, *v);
            }
            for (k, v) in &values {
                q = q.expression_attribute_values(*k, v.clone());
            }
            if filters.is_empty() {
                // Without a filter every item read is returned: read one more than needed to know
                // whether there is a next page.
                q = q.limit((limit - out.len() + 1) as i32);
            }
            let res = q.send().await.map_err(service_error)?;
            for item in res.items() {
                if out.len() == limit {
                    // There is at least one more.
                    return Ok(LedgerPage {
                        items: out,
                        next: last_sk.map(|sk| encode_cursor(&sk)),
                    });
                }
                out.push(decode(item)?);
                last_sk = Some(get_s(item, "SK")?.to_string());
            }
            match res.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => {
                    return Ok(LedgerPage {
                        items: out,
                        next: None,
                    })
                }
            }
        }
    }

    /// Rebuilds the mirror of the account (one query sweep over `CUST#…`, `ITEM#…`, `SKIP#…`,
    /// projected to keys, hashes and the item state fields; about one page per MB stored).
    pub async fn load_mirror(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<StoredMirror, StoreError> {
        let mut m = StoredMirror::default();
        let mut start = None;
        loop {
            let res = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk AND SK BETWEEN :a AND :b")
                .expression_attribute_values(":pk", s(account_pk(org, account)))
                .expression_attribute_values(":a", s(keys::MIRROR_FIRST))
                .expression_attribute_values(":b", s(keys::MIRROR_LAST))
                .projection_expression("SK, #h, #cid, #st, #ov, #dd, #fh, #ck, #r, #k, #raw, #rh")
                .expression_attribute_names("#h", "hash")
                .expression_attribute_names("#cid", "customerId")
                .expression_attribute_names("#st", "status")
                .expression_attribute_names("#ov", "overdue")
                .expression_attribute_names("#dd", "dueDate")
                .expression_attribute_names("#fh", "factsHash")
                .expression_attribute_names("#ck", "creditKeys")
                .expression_attribute_names("#r", "reason")
                .expression_attribute_names("#k", "key")
                .expression_attribute_names("#raw", "raw")
                .expression_attribute_names("#rh", "regHash")
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(service_error)?;
            m.query_pages += 1;
            for item in res.items() {
                add_to_mirror(&mut m, item)?;
            }
            match res.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        Ok(m)
    }

    /// Applies the mirror writes (BatchWriteItem, 25 a call, unprocessed items retried).
    pub async fn write_mirror(
        &self,
        org: &OrgId,
        account: &AccountId,
        writes: &[MirrorWrite],
    ) -> Result<BatchStats, StoreError> {
        let pk = account_pk(org, account);
        let requests = writes.iter().map(|w| write_request(&pk, w));
        write_stream(&self.client, &self.table, requests, BatchRetry::default()).await
    }

    pub async fn put_summary(
        &self,
        org: &OrgId,
        account: &AccountId,
        summary: &SyncSummary,
    ) -> Result<(), StoreError> {
        let mut item = key(account_pk(org, account), SUMMARY_SK.into());
        item.insert("type".into(), s(T_SUMMARY));
        item.insert("summary".into(), s(to_json(summary)?));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(service_error)?;
        Ok(())
    }

    /// The checkpoint of the account's interrupted sync: (job key, state JSON), if any.
    pub async fn get_checkpoint(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<Option<(String, String)>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let res = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk AND begins_with(SK, :p)")
                .expression_attribute_values(":pk", s(account_pk(org, account)))
                .expression_attribute_values(":p", s(CHECKPOINT_SK))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(service_error)?;
            items.extend(res.items.unwrap_or_default());
            match res.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        let Some(header) = items.iter().find(|i| opt_s(i, "SK") == Some(CHECKPOINT_SK)) else {
            return Ok(None);
        };
        let job_key = get_s(header, "jobKey")?.to_string();
        let chunks: usize = get_n(header, "chunks")?;
        let mut text = String::new();
        for i in 0..chunks {
            let sk = checkpoint_chunk_sk(i);
            let Some(c) = items.iter().find(|it| opt_s(it, "SK") == Some(sk.as_str())) else {
                // An incomplete checkpoint is no checkpoint.
                return Ok(None);
            };
            text.push_str(get_s(c, "data")?);
        }
        Ok(Some((job_key, text)))
    }

    /// Stores the checkpoint (chunks first, the header last, so a crash in between leaves the old
    /// header or none). Returns the write stats.
    pub async fn put_checkpoint(
        &self,
        org: &OrgId,
        account: &AccountId,
        job_key: &str,
        state_json: &str,
        saved_at: DateTime<Utc>,
    ) -> Result<BatchStats, StoreError> {
        let mut chunks = Vec::new();
        let mut rest = state_json;
        while !rest.is_empty() {
            let mut cut = rest.len().min(CHECKPOINT_CHUNK_BYTES);
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            chunks.push(&rest[..cut]);
            rest = &rest[cut..];
        }
        let mut requests = Vec::new();
        for (i, c) in chunks.iter().enumerate() {
            let mut item = key(account_pk(org, account), checkpoint_chunk_sk(i));
            item.insert("type".into(), s(T_CHECKPOINT));
            item.insert("data".into(), s(*c));
            requests.push(put(item)?);
        }
        // Large chunks: a few per call keeps each call well under 16 MB.
        let mut stats = BatchStats::default();
        for part in requests.chunks(10) {
            stats.add(
                write_in_batches(
                    &self.client,
                    &self.table,
                    part.to_vec(),
                    BatchRetry::default(),
                )
                .await?,
            );
        }
        let mut header = key(account_pk(org, account), CHECKPOINT_SK.into());
        header.insert("type".into(), s(T_CHECKPOINT));
        header.insert("jobKey".into(), s(job_key));
        header.insert("chunks".into(), n(chunks.len()));
        header.insert("savedAt".into(), ts(&saved_at));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(header))
            .send()
            .await
            .map_err(service_error)?;
        stats.requests += 1;
        Ok(stats)
    }

    /// Removes the checkpoint (header first). No-op when there is none.
    pub async fn delete_checkpoint(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<(), StoreError> {
        let res = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :p)")
            .expression_attribute_values(":pk", s(account_pk(org, account)))
            .expression_attribute_values(":p", s(CHECKPOINT_SK))
            .projection_expression("SK")
            .send()
            .await
            .map_err(service_error)?;
        let mut sks: Vec<String> = res
            .items()
            .iter()
            .filter_map(|i| opt_s(i, "SK").map(str::to_string))
            .collect();
        if sks.is_empty() {
            return Ok(());
        }
        sks.sort();
        let requests = sks
            .into_iter()
            .map(|sk| delete(account_pk(org, account), sk))
            .collect::<Result<Vec<_>, _>>()?;
        write_in_batches(&self.client, &self.table, requests, BatchRetry::default()).await?;
        Ok(())
    }

    /// One mirrored customer of the account (read consistently); `None` when not mirrored.
    pub async fn get_customer(
        &self,
        org: &OrgId,
        account: &AccountId,
        customer_id: i64,
    ) -> Result<Option<StoredCustomer>, StoreError> {
        self.get(account_pk(org, account), customer_sk(customer_id))
            .await?
            .map(|i| customer_from(&i))
            .transpose()
    }

    /// Writes the "ready" notice of the account once (the frontend's pop-up). `true` if this call
    /// wrote it, `false` if it existed already.
    pub async fn put_ready_notice(
        &self,
        org: &OrgId,
        account: &AccountId,
        notice: &ReadyNotice,
    ) -> Result<bool, StoreError> {
        let mut item = key(org_pk(org), ready_notice_sk(account));
        item.insert("type".into(), s(T_READY));
        item.insert("accountId".into(), s(account.as_str()));
        item.insert("notice".into(), s(to_json(notice)?));
        item.insert("createdAt".into(), ts(&notice.created_at));
        item.insert("mail".into(), s(notice.mail.as_str()));
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        written(res)
    }

    /// The ready notice of an account, with its mail state.
    pub async fn get_ready_notice(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<Option<ReadyNotice>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(org_pk(org), ready_notice_sk(account))))
            .consistent_read(true)
            .send()
            .await
            .map_err(service_error)?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let mut notice: ReadyNotice = opt_json(&item, "notice")?
            .ok_or_else(|| StoreError::Corrupt("ready notice without notice".into()))?;
        notice.mail = match opt_s(&item, "mail") {
            Some("sent") => MailState::Sent,
            Some("pending") => MailState::Pending,
            _ => MailState::None,
        };
        Ok(Some(notice))
    }

    /// Moves the notice's mail state from pending to sent. `false` if it was not pending.
    pub async fn mark_ready_mail_sent(
        &self,
        org: &OrgId,
        account: &AccountId,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(org_pk(org), ready_notice_sk(account))))
            .update_expression("SET mail = :sent, mailSentAt = :t")
            .condition_expression("mail = :pending")
            .expression_attribute_values(":sent", s("sent"))
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":t", ts(&at))
            .send()
            .await;
        written(res)
    }

    /// The organization's contact address: `contactEmail` of the optional org profile item
    /// (`PK=ORG#{org}`, `SK=PROFILE`). There is no endpoint that writes it yet.
    pub async fn org_contact_email(&self, org: &OrgId) -> Result<Option<String>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(org_pk(org), PROFILE_SK.into())))
            .projection_expression("#ce")
            .expression_attribute_names("#ce", "contactEmail")
            .send()
            .await
            .map_err(service_error)?;
        Ok(out
            .item
            .as_ref()
            .and_then(|i| opt_s(i, "contactEmail"))
            .map(str::trim)
            .filter(|e| e.contains('@'))
            .map(str::to_string))
    }
}

/// Whether the ready e-mail is owed, sent, or not wanted (no contact address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailState {
    None,
    Pending,
    Sent,
}

impl MailState {
    pub fn as_str(self) -> &'static str {
        match self {
            MailState::None => "none",
            MailState::Pending => "pending",
            MailState::Sent => "sent",
        }
    }
}

/// "Your ledger is ready": shown once by the frontend after the first successful sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadyNotice {
    pub account_id: AccountId,
    pub integration_id: String,
    pub client_company_name: Option<String>,
    pub counts: SyncCounts,
    pub created_at: DateTime<Utc>,
    pub mail: MailState,
}

fn add_to_mirror(m: &mut StoredMirror, item: &Item) -> Result<(), StoreError> {
    let sk = get_s(item, "SK")?;
    if let Some(id) = keys::customer_id_of(sk) {
        let id: i64 = id
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("customer key {sk}")))?;
        m.state.customers.insert(id, parse_hash(item, "hash")?);
        if let Some(raw) = opt_json::<RawCustomer>(item, "raw")? {
            m.raw_customers.insert(id, raw);
        }
        if opt_s(item, "regHash").is_some() {
            m.registry_hashes.insert(id, parse_hash(item, "regHash")?);
        }
    } else if let Some(id) = keys::item_id_of(sk) {
        let status = serde_json::from_value(serde_json::Value::String(
            get_s(item, "status")?.to_string(),
        ))
        .map_err(|_| StoreError::Corrupt("item status".into()))?;
        let due_date: Option<NaiveDate> = match opt_s(item, "dueDate") {
            None => None,
            Some(_) => Some(get_date(item, "dueDate")?),
        };
        let credit_keys: BTreeSet<String> = opt_json(item, "creditKeys")?.unwrap_or_default();
        m.state.items.insert(
            id.to_string(),
            ItemState {
                hash: parse_hash(item, "hash")?,
                customer_id: get_n(item, "customerId")?,
                status,
                overdue: get_b(item, "overdue")?,
                due_date,
                facts_hash: parse_hash(item, "factsHash")?,
                credit_keys,
            },
        );
    } else if sk.starts_with(keys::SKIP_PREFIX) {
        let key = get_s(item, "key")?.to_string();
        let reason = reason_from(get_s(item, "reason")?)
            .ok_or_else(|| StoreError::Corrupt("skip reason".into()))?;
        m.state
            .skipped
            .insert(key.clone(), parse_hash(item, "hash")?);
        m.skip_reasons.insert(key, reason);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn req(i: usize) -> WriteRequest {
        put(key("pk".into(), item_sk(&i.to_string()))).unwrap()
    }

    fn sk_of(r: &WriteRequest) -> String {
        r.put_request()
            .and_then(|p| p.item().get("SK"))
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    }

    /// Leaves the last `unprocess` items of the first `times` calls unprocessed.
    struct Fake {
        calls: Mutex<Vec<Vec<String>>>,
        unprocess: usize,
        times: Mutex<usize>,
    }

    #[async_trait]
    impl BatchWriteApi for Fake {
        async fn batch_write(
            &self,
            _table: &str,
            requests: Vec<WriteRequest>,
        ) -> Result<Vec<WriteRequest>, StoreError> {
            assert!(requests.len() <= BATCH_WRITE_MAX, "DynamoDB refuses > 25");
            self.calls
                .lock()
                .unwrap()
                .push(requests.iter().map(sk_of).collect());
            let mut t = self.times.lock().unwrap();
            if *t == 0 {
                return Ok(Vec::new());
            }
            *t -= 1;
            let keep = requests.len().saturating_sub(self.unprocess);
            Ok(requests[keep..].to_vec())
        }
    }

    fn fast() -> BatchRetry {
        BatchRetry {
            max_partial_in_a_row: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
        }
    }

    #[tokio::test]
    async fn batches_are_chunked_to_25() {
        let fake = Fake {
            calls: Mutex::default(),
            unprocess: 0,
            times: Mutex::new(0),
        };
        let stats = write_in_batches(&fake, "t", (0..60).map(req).collect(), fast())
            .await
            .unwrap();
        let calls = fake.calls.lock().unwrap();
        let sizes: Vec<usize> = calls.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![25, 25, 10]);
        assert_eq!(stats.requests, 3);
        assert_eq!(stats.items, 60);
        assert_eq!(stats.partial, 0);
        let all: BTreeSet<String> = calls.iter().flatten().cloned().collect();
        assert_eq!(all.len(), 60);
    }

    #[tokio::test]
    async fn unprocessed_items_are_retried_and_fill_the_next_call() {
        let fake = Fake {
            calls: Mutex::default(),
            unprocess: 5,
            times: Mutex::new(2),
        };
        let stats = write_in_batches(&fake, "t", (0..50).map(req).collect(), fast())
            .await
            .unwrap();
        let calls = fake.calls.lock().unwrap();
        // 25 (5 back) → 25 (5 back) → 10: ⌈50/25⌉ + 1 calls, each item written exactly once in
        // the end, the unprocessed ones first in the next call.
        assert_eq!(
            calls.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![25, 25, 10]
        );
        assert_eq!(calls[1][..5], calls[0][20..]);
        assert_eq!(stats.requests, 3);
        assert_eq!(stats.partial, 2);
        let mut written: Vec<String> = Vec::new();
        for (i, c) in calls.iter().enumerate() {
            let n = if i < 2 { c.len() - 5 } else { c.len() };
            written.extend(c[..n].iter().cloned());
        }
        written.sort();
        written.dedup();
        assert_eq!(written.len(), 50);
    }

    #[tokio::test]
    async fn endless_unprocessed_items_give_up_with_an_error() {
        let fake = Fake {
            calls: Mutex::default(),
            unprocess: 1,
            times: Mutex::new(usize::MAX),
        };
        let err = write_in_batches(&fake, "t", (0..3).map(req).collect(), fast())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("unprocessed"), "{err}");
        assert_eq!(fake.calls.lock().unwrap().len(), 4);
    }

    #[test]
    fn skip_reasons_parse_from_their_stored_names() {
        assert_eq!(
            reason_from("null_voucher_type"),
            Some(SkipReason::NullVoucherType)
        );
        assert_eq!(reason_from("nope"), None);
    }
}
