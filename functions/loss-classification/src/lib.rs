//! loss-classification: one Lambda function, two triggers.
//!
//! - **SQS** (the FIFO classification queue, partial batch failures): each record is a
//!   [`shared::adapters::queue::ClassificationBatch`] from the ledger sync (one customer's changes; a
//!   single-event message of the earlier format is accepted too); [`ClassificationService::handle_batch`] classifies
//!   credits, keeps the claim's state, opens and follows its case and hands settlements to the
//!   voucher-posting queue. A failed record is reported in `batchItemFailures` (and the later
//!   records of its message group with it, keeping FIFO order).
//! - **EventBridge Scheduler** with the input `{"daily": true}`: the daily case job
//!   ([`CasesService::run_daily`]): resume paused cases whose deadline came, open cases for claims
//!   that became overdue, tell the creditor once about cases ready for legal steps and claims
//!   nearing limitation, and mail each organization its digest.

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use lambda_runtime::LambdaEvent;
use serde_json::Value;

pub use shared::adapters::queue::InvocationError;
use shared::adapters::queue::{
    process_sqs_batch, sqs_or_scheduled, ClassificationBody, SqsOrScheduled,
};
use shared::services::cases::{norwegian_date, CasesService};
use shared::services::classification::{ClassificationService, Handled};

/// What the function was invoked with.
#[derive(Debug)]
pub enum Trigger {
    Sqs(SqsEvent),
    Daily,
}

/// Tells an SQS event from the scheduler's `{"daily": true}`.
pub fn trigger(payload: Value) -> Result<Trigger, InvocationError> {
    Ok(match sqs_or_scheduled(payload, "daily")? {
        SqsOrScheduled::Sqs(sqs) => Trigger::Sqs(sqs),
        SqsOrScheduled::Scheduled => Trigger::Daily,
    })
}

/// The services, built once per process.
pub struct Worker {
    pub classification: ClassificationService,
    pub cases: CasesService,
}

impl Worker {
    /// Handles one invocation. `now` is passed in (the clock stays at the edge).
    pub async fn handle(
        &self,
        event: LambdaEvent<Value>,
        now: DateTime<Utc>,
    ) -> Result<Value, InvocationError> {
        let (payload, context) = (event.payload, event.context);
        let today = norwegian_date(now);
        match trigger(payload)? {
            Trigger::Sqs(sqs) => {
                let response =
                    process_sqs_batch(LambdaEvent::new(sqs, context), |m| self.record(m, now))
                        .await;
                serde_json::to_value(response).map_err(|e| InvocationError(e.to_string()))
            }
            Trigger::Daily => {
                let report = self
                    .cases
                    .run_daily(today, now)
                    .await
                    .map_err(|e| InvocationError(format!("daily case job failed: {e}")))?;
                serde_json::to_value(report).map_err(|e| InvocationError(e.to_string()))
            }
        }
    }

    async fn record(&self, m: SqsMessage, now: DateTime<Utc>) -> Result<(), String> {
        let body = m.body.unwrap_or_default();
        // A body that is not a message cannot get better by retrying; failing it sends it to the
        // dead-letter queue, where an operator sees it.
        let body = ClassificationBody::parse(&body)
            .map_err(|e| format!("not a classification message: {e}"))?;
        let today = norwegian_date(now);
        match body {
            ClassificationBody::Batch(batch) => {
                let outcomes = self
                    .classification
                    .handle_batch(&batch, today, now)
                    .await
                    .map_err(|e| e.to_string())?;
                let recorded = outcomes
                    .iter()
                    .filter(|o| matches!(o.handled, Handled::Recorded { .. }))
                    .count();
                tracing::info!(
                    account = %batch.account_id,
                    group = batch.group,
                    events = batch.events.len(),
                    claims = outcomes.len(),
                    recorded,
                    jobs_sent = outcomes.iter().map(|o| o.jobs_sent).sum::<usize>(),
                    "classification message handled"
                );
            }
            ClassificationBody::Single(msg) => {
                let outcome = self
                    .classification
                    .handle(&msg, today, now)
                    .await
                    .map_err(|e| e.to_string())?;
                tracing::info!(
                    account = %msg.account_id,
                    item = msg.event.item_id(),
                    key = msg.event.key(),
                    outcome = ?outcome.handled,
                    jobs_sent = outcome.jobs_sent,
                    "classification message handled"
                );
            }
        }
        Ok(())
    }
}
