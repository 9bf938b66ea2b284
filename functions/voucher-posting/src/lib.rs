//! voucher-posting: the SQS worker of the FIFO voucher-posting queue (partial batch failures).
//!
//! Each record is a [`PostingMessage`]: a settlement to book
//! ([`shared::domain::claim::VoucherPostingJob`]) or the undo of one
//! ([`shared::domain::claim::VoucherUndoJob`]). [`VoucherService`] books it exactly once
//! (`docs/vouchers.md`). A settlement Tripletex refuses is held for a person and the record
//! succeeds; a Tripletex outage, a lease held by another worker or a store failure fails the
//! record, which SQS delivers again (then the DLQ). A body that is not a message goes to the
//! DLQ at once: retrying cannot make it one.

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use lambda_runtime::LambdaEvent;
use serde_json::Value;

use shared::adapters::queue::{process_sqs_batch, PostingMessage};
use shared::services::vouchers::VoucherService;

/// Why an invocation failed as a whole (a record's failure is reported per record instead).
#[derive(Debug)]
pub struct InvocationError(pub String);

impl std::fmt::Display for InvocationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for InvocationError {}

/// The service, built once per process.
pub struct Worker {
    pub vouchers: VoucherService,
}

impl Worker {
    /// Handles one SQS invocation. `now` is passed in (the clock stays at the edge).
    pub async fn handle(
        &self,
        event: LambdaEvent<SqsEvent>,
        now: DateTime<Utc>,
    ) -> Result<Value, InvocationError> {
        let response = process_sqs_batch(event, |m| self.record(m, now)).await;
        serde_json::to_value(response).map_err(|e| InvocationError(e.to_string()))
    }

    async fn record(&self, m: SqsMessage, now: DateTime<Utc>) -> Result<(), String> {
        let body = m.body.unwrap_or_default();
        let message = PostingMessage::parse(&body)
            .map_err(|e| format!("not a voucher-posting message: {e}"))?;
        let outcome = self
            .vouchers
            .handle(&message, now)
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(key = message.key(), outcome = ?outcome, "voucher-posting message handled");
        Ok(())
    }
}
