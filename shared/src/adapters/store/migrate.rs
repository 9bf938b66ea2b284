//! Moving an account's mirrored ledger from its legacy partition (`ACC#{accountId}`) into the
//! account's partition (`ORG#{org}#ACCOUNT#{accountId}`), where its claims and cases already are.
//!
//! Why a move and not a fresh start: the mirror is what the next sync diffs against. An empty
//! mirror would re-send every open item's events (harmless: the claims know their keys) but would
//! also treat an item that closed since the last sync as history it never had, so its claim would
//! never hear that it closed (and could be dunned after it was paid). It would also lose the
//! summary's `firstReadyAt`, the `changedSince` times and an interrupted sync's checkpoint.
//!
//! How: every legacy item is moved by one transaction that puts it under the new key only if
//! nothing is there (`attribute_not_exists(PK)`) and deletes the legacy item only if it is still
//! there (`attribute_exists(PK)`), up to 50 items a transaction. So an item is moved exactly
//! once, even by two movers at the same time; a copy never overwrites something written under the
//! new key (that is newer, e.g. a manual sync request made after the deploy: the legacy item is
//! then dropped); and a mover that read a page before another mover moved it cannot bring an old
//! item back. The sync summary (`SYNC#STATE`) is moved last, so a summary under the new key means
//! the whole ledger is there: that is what [`DynamoStore::counts_after_legacy_move`] checks before
//! a sync. A crash half-way leaves the rest in the legacy partition for the next run; running it
//! again when nothing is left costs one empty query.

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};

use super::item::*;
use super::keys::{self, account_pk, legacy_ledger_pk};
use super::ledger::SyncSummary;
use super::{cancellation_codes, service_error, DynamoStore, StoreError, CONDITION_FAILED};
use crate::domain::setup::{AccountId, OrgId};

/// Items a transaction moves at most (two actions each; DynamoDB allows 100 actions).
const MOVES_PER_TRANSACTION: usize = 50;
/// Bytes a transaction carries at most (DynamoDB allows 4 MB; checkpoint chunks are 350 kB).
const BYTES_PER_TRANSACTION: usize = 2_000_000;

/// What [`DynamoStore::move_legacy_ledger`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LegacyMove {
    /// Items moved into the account's partition.
    pub moved: u32,
    /// Legacy items dropped because the account's partition already had a newer one.
    pub superseded: u32,
    /// Legacy items another mover moved first.
    pub moved_by_other: u32,
}

impl LegacyMove {
    /// Nothing was in the legacy partition.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

enum Outcome {
    Done,
    /// Cancelled: the reason code of each action (put, delete, put, delete, …).
    Cancelled(Vec<String>),
}

/// The approximate size of an item as DynamoDB counts it (names and values).
fn approx_size(item: &Item) -> usize {
    item.iter()
        .map(|(k, v)| {
            k.len()
                + match v {
                    AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
                    AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
                    _ => 1024,
                }
        })
        .sum()
}

impl DynamoStore {
    /// The account's sync summary. When there is none, the account's mirrored ledger is first
    /// moved out of the legacy partition, if anything is there (see the module docs), and the
    /// summary read again (consistently).
    pub async fn counts_after_legacy_move(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<Option<SyncSummary>, StoreError> {
        if let Some(summary) = self.counts(org, account).await? {
            return Ok(Some(summary));
        }
        let moved = self.move_legacy_ledger(org, account).await?;
        if !moved.is_empty() {
            tracing::info!(
                account = %account,
                moved = moved.moved,
                superseded = moved.superseded,
                moved_by_other = moved.moved_by_other,
                "mirrored ledger moved from its legacy partition"
            );
        }
        match self
            .get(account_pk(org, account), keys::SUMMARY_SK.into())
            .await?
        {
            None => Ok(None),
            Some(item) => opt_json(&item, "summary"),
        }
    }

    /// Moves everything in the account's legacy partition into the account's partition (the
    /// summary last). Idempotent and resumable; two concurrent runs cannot move an item twice
    /// (a transaction conflict between them is an error: run it again).
    pub async fn move_legacy_ledger(
        &self,
        org: &OrgId,
        account: &AccountId,
    ) -> Result<LegacyMove, StoreError> {
        let from = legacy_ledger_pk(account);
        let to = account_pk(org, account);
        let mut report = LegacyMove::default();
        let mut summary = None;
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk")
                .expression_attribute_values(":pk", s(from.as_str()))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(service_error)?;
            let mut batch: Vec<Item> = Vec::new();
            let mut bytes = 0;
            for item in page.items.unwrap_or_default() {
                if opt_s(&item, "SK") == Some(keys::SUMMARY_SK) {
                    summary = Some(item);
                    continue;
                }
                let size = approx_size(&item);
                if !batch.is_empty()
                    && (batch.len() == MOVES_PER_TRANSACTION
                        || bytes + size > BYTES_PER_TRANSACTION)
                {
                    self.move_items(&to, std::mem::take(&mut batch), &mut report)
                        .await?;
                    bytes = 0;
                }
                bytes += size;
                batch.push(item);
            }
            if !batch.is_empty() {
                self.move_items(&to, batch, &mut report).await?;
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        if let Some(item) = summary {
            self.move_items(&to, vec![item], &mut report).await?;
        }
        Ok(report)
    }

    /// Moves the items in one transaction; when it is cancelled, one by one (telling moved,
    /// superseded and moved by another apart).
    async fn move_items(
        &self,
        to: &str,
        items: Vec<Item>,
        report: &mut LegacyMove,
    ) -> Result<(), StoreError> {
        if items.len() > 1 {
            if let Outcome::Done = self.transact_moves(to, &items).await? {
                report.moved += items.len() as u32;
                return Ok(());
            }
        }
        for item in items {
            match self.transact_moves(to, std::slice::from_ref(&item)).await? {
                Outcome::Done => report.moved += 1,
                Outcome::Cancelled(codes) => {
                    let failed = |i: usize| codes.get(i).is_some_and(|c| c == CONDITION_FAILED);
                    if failed(1) {
                        report.moved_by_other += 1;
                    } else if failed(0) {
                        // The account's partition has a newer one: the legacy item is dropped.
                        self.client
                            .delete_item()
                            .table_name(&self.table)
                            .set_key(Some(legacy_key(&item)?))
                            .send()
                            .await
                            .map_err(service_error)?;
                        report.superseded += 1;
                    } else {
                        return Err(StoreError::Service(format!(
                            "moving a legacy ledger item was cancelled: {codes:?}"
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    async fn transact_moves(&self, to: &str, items: &[Item]) -> Result<Outcome, StoreError> {
        let mut actions = Vec::with_capacity(items.len() * 2);
        for item in items {
            let mut moved = item.clone();
            moved.insert("PK".into(), s(to));
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(moved))
                .condition_expression("attribute_not_exists(PK)")
                .build()
                .map_err(build_err)?;
            let delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(legacy_key(item)?))
                .condition_expression("attribute_exists(PK)")
                .build()
                .map_err(build_err)?;
            actions.push(TransactWriteItem::builder().put(put).build());
            actions.push(TransactWriteItem::builder().delete(delete).build());
        }
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(actions))
            .send()
            .await
        {
            Ok(_) => Ok(Outcome::Done),
            Err(e) => {
                let e = e.into_service_error();
                match cancellation_codes(&e) {
                    Some(codes) => Ok(Outcome::Cancelled(codes)),
                    None => Err(service_error(e)),
                }
            }
        }
    }
}

fn legacy_key(item: &Item) -> Result<Item, StoreError> {
    Ok(key(
        get_s(item, "PK")?.to_string(),
        get_s(item, "SK")?.to_string(),
    ))
}
