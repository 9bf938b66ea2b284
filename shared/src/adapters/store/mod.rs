//! DynamoDB store: one table (`TABLE_NAME`), keys `PK`/`SK`, indexes `GSI1` (`GSI1PK`/`GSI1SK`) and
//! `GSI2` (`GSI2PK`/`GSI2SK`), TTL attribute `expiresAt`. Every key is built in [`keys`]; every item
//! type and access pattern is listed in docs/data-model.md.
//!
//! SDK types stay in here: callers see domain types and outcome enums; `ConditionalCheckFailed` is
//! mapped to those outcomes.

pub mod claims;
pub mod dunning;
pub(crate) mod item;
pub mod keys;
pub mod ledger;
pub mod legal;
pub mod mail_log;
pub mod migrate;
pub mod setup;
pub mod vouchers;

use aws_sdk_dynamodb::Client;

/// A DynamoDB failure the caller cannot act on (the outcomes it can act on are enums of each method).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DynamoDB: {0}")]
    Service(String),
    /// An item that does not have the shape this code writes.
    #[error("stored item is malformed: {0}")]
    Corrupt(String),
}

/// The table.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn table_name(&self) -> &str {
        &self.table
    }

    /// One item, read consistently.
    pub(crate) async fn get(
        &self,
        pk: String,
        sk: String,
    ) -> Result<Option<item::Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(item::key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(service_error)?;
        Ok(out.item)
    }

    /// Many items by key, read consistently (BatchGetItem, 100 keys a call, up to `parallel`
    /// calls at once; unprocessed keys are asked for again). Missing items are simply absent;
    /// the order of the result is not the order of `keys`.
    pub(crate) async fn batch_get(
        &self,
        keys: Vec<(String, String)>,
        parallel: usize,
    ) -> Result<Vec<item::Item>, StoreError> {
        use futures::stream::{self, StreamExt, TryStreamExt};
        let mut unique: Vec<(String, String)> = keys;
        unique.sort();
        unique.dedup();
        let chunks: Vec<Vec<(String, String)>> = unique
            .chunks(100)
            .map(<[(String, String)]>::to_vec)
            .collect();
        let pages: Vec<Vec<item::Item>> = stream::iter(chunks)
            .map(|chunk| self.batch_get_chunk(chunk))
            .buffer_unordered(parallel.max(1))
            .try_collect()
            .await?;
        Ok(pages.into_iter().flatten().collect())
    }

    async fn batch_get_chunk(
        &self,
        chunk: Vec<(String, String)>,
    ) -> Result<Vec<item::Item>, StoreError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let mut out = Vec::new();
        let mut pending: Vec<item::Item> = chunk
            .into_iter()
            .map(|(pk, sk)| item::key(pk, sk))
            .collect();
        let mut rounds = 0u32;
        while !pending.is_empty() {
            if rounds > 0 {
                // Unprocessed keys: the table is throttling; back off a little.
                tokio::time::sleep(std::time::Duration::from_millis(20 << rounds.min(6))).await;
            }
            rounds += 1;
            let ka = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut pending)))
                .consistent_read(true)
                .build()
                .map_err(item::build_err)?;
            let res = self
                .client
                .batch_get_item()
                .request_items(&self.table, ka)
                .send()
                .await
                .map_err(service_error)?;
            if let Some(mut r) = res.responses {
                out.extend(r.remove(&self.table).unwrap_or_default());
            }
            if let Some(mut u) = res.unprocessed_keys {
                if let Some(ka) = u.remove(&self.table) {
                    pending = ka.keys;
                }
            }
        }
        Ok(out)
    }

    /// Every item of a partition whose sort key starts with `prefix` (read consistently, all
    /// pages), optionally filtered.
    pub(crate) async fn query_prefix(
        &self,
        pk: String,
        prefix: &str,
        filter: Option<(
            &str,
            Vec<(&str, &str)>,
            Vec<(&str, aws_sdk_dynamodb::types::AttributeValue)>,
        )>,
    ) -> Result<Vec<item::Item>, StoreError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
                .expression_attribute_values(":pk", item::s(pk.clone()))
                .expression_attribute_values(":prefix", item::s(prefix))
                .consistent_read(true)
                .set_exclusive_start_key(start.take());
            if let Some((expr, names, values)) = &filter {
                q = q.filter_expression(*expr);
                for (k, v) in names {
                    q = q.expression_attribute_names(*k, *v);
                }
                for (k, v) in values {
                    q = q.expression_attribute_values(*k, v.clone());
                }
            }
            let res = q.send().await.map_err(service_error)?;
            out.extend(res.items.unwrap_or_default());
            match res.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(out),
            }
        }
    }

    /// Every item of an index partition (eventually consistent, all pages).
    pub(crate) async fn query_index(
        &self,
        index: &str,
        pk_name: &str,
        pk: &str,
    ) -> Result<Vec<item::Item>, StoreError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let res = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", pk_name)
                .expression_attribute_values(":pk", item::s(pk))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(service_error)?;
            out.extend(res.items.unwrap_or_default());
            match res.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(out),
            }
        }
    }
}

pub(crate) fn service_error<E>(e: E) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    StoreError::Service(aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string())
}

/// The outcome of a conditional write: `Ok(true)` when it was written, `Ok(false)` when its
/// condition failed (`ConditionalCheckFailedException`), an error for anything else.
pub(crate) fn written<O, E, R>(
    result: Result<O, aws_sdk_dynamodb::error::SdkError<E, R>>,
) -> Result<bool, StoreError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    conditional(result).map(|o| o.is_some())
}

/// [`written`] keeping the output: `Some(output)` when written, `None` when the condition failed.
pub(crate) fn conditional<O, E, R>(
    result: Result<O, aws_sdk_dynamodb::error::SdkError<E, R>>,
) -> Result<Option<O>, StoreError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(o) => Ok(Some(o)),
        Err(e)
            if e.as_service_error().and_then(|s| s.code())
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(None)
        }
        Err(e) => Err(service_error(e)),
    }
}

/// The cancellation reason codes of a cancelled transaction, in item order (`"None"` for an item
/// that did not fail); `None` for any other failure.
pub(crate) fn cancellation_codes(
    err: &aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
) -> Option<Vec<String>> {
    match err {
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(e) => {
            Some(
                e.cancellation_reasons()
                    .iter()
                    .map(|r| r.code().unwrap_or("None").to_string())
                    .collect(),
            )
        }
        _ => None,
    }
}

/// The reason code of an item whose condition failed in a cancelled transaction.
pub(crate) const CONDITION_FAILED: &str = "ConditionalCheckFailed";
