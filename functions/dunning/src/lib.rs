//! dunning: one Lambda function, two triggers.
//!
//! - **EventBridge Scheduler** with the input `{"fanOut": true}` (daily, Europe/Oslo, after the
//!   nightly sync and the daily case job): one job per account whose dunning is on, onto the
//!   FIFO dunning queue ([`DunningService::fan_out`]).
//! - **SQS** (the dunning queue, batch size 1, partial batch failures): each record is a
//!   [`DunningJob`]; [`DunningService::handle_job`] runs the account (plan, re-check, send each
//!   notice exactly once) and, when the invocation's deadline nears, queues the rest. A failed
//!   job is reported in `batchItemFailures` and delivered again; a body that is not a job goes
//!   to the dead-letter queue after the retries.

use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use lambda_runtime::LambdaEvent;
use serde_json::{json, Value};

pub use shared::adapters::queue::InvocationError;
use shared::adapters::queue::{process_sqs_batch, sqs_or_scheduled, DunningJob, SqsOrScheduled};
use shared::services::dunning::{DunningService, JobOutcome};

/// What the function was invoked with.
#[derive(Debug)]
pub enum Trigger {
    Sqs(SqsEvent),
    FanOut,
}

/// Tells an SQS event from the scheduler's `{"fanOut": true}`.
pub fn trigger(payload: Value) -> Result<Trigger, InvocationError> {
    Ok(match sqs_or_scheduled(payload, "fanOut")? {
        SqsOrScheduled::Sqs(sqs) => Trigger::Sqs(sqs),
        SqsOrScheduled::Scheduled => Trigger::FanOut,
    })
}

/// The invocation's deadline (epoch ms from the Lambda context) as an `Instant`, from `now`.
pub fn deadline_of(deadline_ms: u64, now: DateTime<Utc>) -> Option<Instant> {
    if deadline_ms == 0 {
        return None;
    }
    let now_ms = u64::try_from(now.timestamp_millis()).ok()?;
    Some(Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now_ms)))
}

/// The service, built once per process.
pub struct Worker {
    pub dunning: DunningService,
}

impl Worker {
    /// Handles one invocation. `now` is passed in (the clock stays at the edge): the deadline of
    /// the invocation is measured from it.
    pub async fn handle(
        &self,
        event: LambdaEvent<Value>,
        now: DateTime<Utc>,
    ) -> Result<Value, InvocationError> {
        let (payload, context) = (event.payload, event.context);
        let deadline = deadline_of(context.deadline, now);
        match trigger(payload)? {
            Trigger::Sqs(sqs) => {
                let response =
                    process_sqs_batch(LambdaEvent::new(sqs, context), |m| self.record(m, deadline))
                        .await;
                serde_json::to_value(response).map_err(|e| InvocationError(e.to_string()))
            }
            Trigger::FanOut => {
                let queued = self
                    .dunning
                    .fan_out()
                    .await
                    .map_err(|e| InvocationError(format!("the dunning fan-out failed: {e}")))?;
                Ok(json!({ "queued": queued }))
            }
        }
    }

    async fn record(&self, m: SqsMessage, deadline: Option<Instant>) -> Result<(), String> {
        let body = m.body.unwrap_or_default();
        // Not a job: retrying cannot fix it; after the retries it rests in the dead-letter queue,
        // where an operator sees it.
        let job: DunningJob =
            serde_json::from_str(&body).map_err(|e| format!("not a dunning job: {e}"))?;
        match self.dunning.handle_job(&job, deadline).await {
            Ok(JobOutcome::Completed(r)) => {
                tracing::info!(
                    account = %job.account_id,
                    date = %job.date,
                    report = %serde_json::to_string(&r).unwrap_or_default(),
                    "dunning run completed"
                );
                Ok(())
            }
            Ok(JobOutcome::Continued(r)) => {
                tracing::info!(account = %job.account_id, letters = r.letters, "dunning run continues in a new message");
                Ok(())
            }
            Ok(JobOutcome::AlreadyDone) => {
                tracing::info!(account = %job.account_id, date = %job.date, "the day's dunning run is complete already");
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        }
    }
}
