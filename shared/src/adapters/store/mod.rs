//! DynamoDB store: one table (`TABLE_NAME`), keys `PK`/`SK`, indexes `GSI1` (`GSI1PK`/`GSI1SK`) and
//! `GSI2` (`GSI2PK`/`GSI2SK`), TTL attribute `expiresAt`. Every key is built in [`keys`]; every item
//! type and access pattern is listed in docs/data-model.md.
//!
//! SDK types stay in here: callers see domain types and outcome enums; `ConditionalCheckFailed` is
//! mapped to those outcomes.

pub mod claims;
pub(crate) mod item;
pub mod keys;
pub mod ledger;
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
