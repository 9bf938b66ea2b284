//! SQS: the FIFO sync queue (message group = Tripletex key id, so two syncs never use one key at
//! once: Tripletex rate-limits per key), the FIFO classification queue ([`classification`]), the
//! FIFO voucher-posting queue ([`posting`]), the FIFO dunning queue ([`dunning`]), and one batch
//! helper for every SQS worker.
//!
//! Messages carry ids only, never tokens.

pub mod classification;
pub mod dunning;
pub mod posting;

pub use classification::{
    customer_group, BatchPacker, ClassificationBatch, ClassificationBody, ClassificationMessage,
    ClassificationQueue, PackedBatch, Sent, GROUPS_PER_ACCOUNT, MAX_BATCH_BYTES,
    MAX_EVENTS_PER_BATCH,
};
pub use dunning::{DunningJob, DunningQueue, DunningReason};
pub use posting::{PostingMessage, VoucherPostingQueue};

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use aws_sdk_sqs::{error::DisplayErrorContext, Client};
use chrono::{DateTime, Utc};
use lambda_runtime::LambdaEvent;
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use crate::domain::setup::{AccountId, IntegrationId, KeyId, OrgId};

/// Why a sync was asked for.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncReason {
    /// First sync after an integration was set up (or moved to another key/company).
    Initial,
    /// A user asked for it.
    Manual,
    /// The nightly schedule.
    Scheduled,
    /// The rest of a sync that stopped before its invocation's deadline (it resumes from its
    /// checkpoint); keeps the job's `requestedAt`.
    Continue,
}

impl SyncReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initial => "initial",
            Self::Manual => "manual",
            Self::Scheduled => "scheduled",
            Self::Continue => "continue",
        }
    }
}

/// One sync job on the FIFO sync queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SyncJob {
    pub org: OrgId,
    pub account_id: AccountId,
    pub integration_id: IntegrationId,
    pub key_id: KeyId,
    pub client_company_id: i64,
    pub reason: SyncReason,
    /// The integration's settings version this job was created for.
    pub settings_version: u32,
    pub requested_at: DateTime<Utc>,
}

impl SyncJob {
    /// Deterministic deduplication id: a retried request produces the same id, so SQS drops the copy.
    /// `initial:{integrationId}:{settingsVersion}`; other reasons use the request's second.
    pub fn deduplication_id(&self) -> String {
        match self.reason {
            SyncReason::Initial => {
                format!("initial:{}:{}", self.integration_id, self.settings_version)
            }
            other => format!(
                "{}:{}:{}",
                other.as_str(),
                self.integration_id,
                self.requested_at.timestamp()
            ),
        }
    }

    /// The FIFO message group: the Tripletex key.
    pub fn message_group_id(&self) -> &str {
        self.key_id.as_str()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("could not serialise {0}")]
    Serialise(String),
    #[error("SQS: {0}")]
    Service(String),
}

/// The sync queue.
#[derive(Debug, Clone)]
pub struct SyncQueue {
    client: Client,
    url: String,
}

impl SyncQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }

    /// Sends the job with message group = key id and its deterministic deduplication id.
    /// Returns the SQS message id.
    pub async fn enqueue(&self, job: &SyncJob) -> Result<String, QueueError> {
        self.send(job, job.deduplication_id()).await
    }

    /// Sends the continuation of `job`, checkpointed after `pages` pages: reason `continue`, the
    /// same group (key) and `requestedAt`, deduplication id
    /// `continue:{integrationId}:{settingsVersion}:{pages}` (a redelivered suspension that got no
    /// further sends nothing twice; each further checkpoint is a new message).
    pub async fn enqueue_continuation(
        &self,
        job: &SyncJob,
        pages: u32,
    ) -> Result<String, QueueError> {
        let next = SyncJob {
            reason: SyncReason::Continue,
            ..job.clone()
        };
        let dedup = format!(
            "continue:{}:{}:{pages}",
            job.integration_id, job.settings_version
        );
        self.send(&next, dedup).await
    }

    /// Sends many jobs, each with its deduplication id (the nightly run's `scheduled:…`), 10 a
    /// SendMessageBatch call. Fails if SQS did not take every entry of a call: a retry sends them
    /// all again, and deduplication drops those it took. Returns how many were sent.
    pub async fn enqueue_all(&self, jobs: &[(SyncJob, String)]) -> Result<u32, QueueError> {
        let mut sent = 0;
        for chunk in jobs.chunks(10) {
            let mut entries = Vec::with_capacity(chunk.len());
            for (n, (job, deduplication_id)) in chunk.iter().enumerate() {
                entries.push(
                    SendMessageBatchRequestEntry::builder()
                        .id(n.to_string())
                        .message_body(body(job)?)
                        .message_group_id(job.message_group_id())
                        .message_deduplication_id(deduplication_id)
                        .build()
                        .map_err(|e| QueueError::Service(e.to_string()))?,
                );
            }
            let out = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| QueueError::Service(DisplayErrorContext(&e).to_string()))?;
            if !out.failed().is_empty() {
                return Err(QueueError::Service(format!(
                    "{} of {} jobs were not accepted",
                    out.failed().len(),
                    chunk.len()
                )));
            }
            sent += chunk.len() as u32;
        }
        Ok(sent)
    }

    /// Makes a received message visible again after `delay` rather than after the queue's
    /// visibility timeout (a job that should go on soon).
    pub async fn redeliver_after(
        &self,
        receipt_handle: &str,
        delay: Duration,
    ) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(i32::try_from(delay.as_secs()).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| QueueError::Service(DisplayErrorContext(&e).to_string()))?;
        Ok(())
    }

    async fn send(&self, job: &SyncJob, deduplication_id: String) -> Result<String, QueueError> {
        let body = body(job)?;
        let out = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .message_group_id(job.message_group_id())
            .message_deduplication_id(deduplication_id)
            .send()
            .await
            .map_err(|e| QueueError::Service(DisplayErrorContext(&e).to_string()))?;
        Ok(out.message_id().unwrap_or_default().to_string())
    }
}

fn body(job: &SyncJob) -> Result<String, QueueError> {
    serde_json::to_string(job).map_err(|e| QueueError::Serialise(format!("the job: {e}")))
}

/// What a worker that also runs on a schedule was invoked with.
#[derive(Debug)]
pub enum SqsOrScheduled {
    Sqs(SqsEvent),
    /// The scheduler's input, `{"<flag>": true}`.
    Scheduled,
}

/// Why an invocation failed as a whole (a record's failure is reported per record instead).
#[derive(Debug, PartialEq, Eq)]
pub struct InvocationError(pub String);

impl std::fmt::Display for InvocationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for InvocationError {}

/// Tells an SQS event from the scheduler's `{"<flag>": true}`; anything else is an error.
pub fn sqs_or_scheduled(
    payload: serde_json::Value,
    flag: &str,
) -> Result<SqsOrScheduled, InvocationError> {
    if payload.get("Records").is_some() {
        return serde_json::from_value(payload)
            .map(SqsOrScheduled::Sqs)
            .map_err(|e| InvocationError(format!("not an SQS event: {e}")));
    }
    if payload.get(flag) == Some(&serde_json::Value::Bool(true)) {
        return Ok(SqsOrScheduled::Scheduled);
    }
    Err(InvocationError(format!(
        "unknown event: expected an SQS event or {{\"{flag}\": true}}"
    )))
}

/// Runs `f` on every record of an SQS batch, each inside a tracing span carrying its message id, and
/// reports the failed records (the trigger must say `FunctionResponseTypes: [ReportBatchItemFailures]`).
///
/// FIFO order is kept: once a record of a message group fails, the later records of that group in the
/// batch are not processed and are reported failed too, so they are retried after it.
pub async fn process_sqs_batch<F, Fut, E>(event: LambdaEvent<SqsEvent>, f: F) -> SqsBatchResponse
where
    F: Fn(SqsMessage) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let mut response = SqsBatchResponse::default();
    let mut failed_groups: HashSet<String> = HashSet::new();
    for record in event.payload.records {
        let message_id = record.message_id.clone().unwrap_or_default();
        let group = record.attributes.get("MessageGroupId").cloned();
        let span = tracing::info_span!(
            "sqs_record",
            message_id = %message_id,
            message_group = group.as_deref().unwrap_or("")
        );
        if let Some(g) = &group {
            if failed_groups.contains(g) {
                span.in_scope(|| {
                    tracing::warn!("skipped: an earlier message of its group failed in this batch")
                });
                response.add_failure(message_id);
                continue;
            }
        }
        let result = f(record).instrument(span.clone()).await;
        if let Err(e) = result {
            span.in_scope(|| tracing::error!(error = %e, "record failed; it will be retried"));
            if let Some(g) = group {
                failed_groups.insert(g);
            }
            response.add_failure(message_id);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_runtime::Context;

    fn job(reason: SyncReason) -> SyncJob {
        SyncJob {
            org: OrgId::parse("org_a").unwrap(),
            account_id: AccountId::from_suffix("0192f0c4a1b27f3e8c1d2e3f4a5b6c7d").unwrap(),
            integration_id: IntegrationId::from_suffix("0192f0c4a1b27f3e8c1d2e3f4a5b6c7e").unwrap(),
            key_id: KeyId::from_suffix("0192f0c4a1b27f3e8c1d2e3f4a5b6c7f").unwrap(),
            client_company_id: 42,
            reason,
            settings_version: 3,
            requested_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        }
    }

    #[test]
    fn job_json_has_ids_only_and_a_stable_dedup_id() {
        let j = job(SyncReason::Initial);
        let v = serde_json::to_value(&j).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(
            keys.len(),
            8,
            "unexpected fields in the job message: {keys:?}"
        );
        assert_eq!(v["reason"], "initial");
        assert_eq!(v["clientCompanyId"], 42);
        assert_eq!(
            j.deduplication_id(),
            "initial:int_0192f0c4a1b27f3e8c1d2e3f4a5b6c7e:3"
        );
        assert!(j.deduplication_id().len() <= 128);
        assert_eq!(j.message_group_id(), "key_0192f0c4a1b27f3e8c1d2e3f4a5b6c7f");
        let back: SyncJob = serde_json::from_value(v).unwrap();
        assert_eq!(back, j);
        assert!(job(SyncReason::Scheduled)
            .deduplication_id()
            .starts_with("scheduled:"));
    }

    fn event(records: &[(&str, &str)]) -> LambdaEvent<SqsEvent> {
        let recs: Vec<serde_json::Value> = records
            .iter()
            .map(|(id, group)| {
                serde_json::json!({
                    "messageId": id, "body": id,
                    "attributes": {"MessageGroupId": group}
                })
            })
            .collect();
        let ev: SqsEvent = serde_json::from_value(serde_json::json!({ "Records": recs })).unwrap();
        LambdaEvent::new(ev, Context::default())
    }

    #[tokio::test]
    async fn failures_are_reported_and_later_records_of_the_group_are_held_back() {
        let seen = std::sync::Mutex::new(Vec::new());
        let resp = process_sqs_batch(
            event(&[("m1", "g1"), ("m2", "g2"), ("m3", "g1"), ("m4", "g2")]),
            |m: SqsMessage| {
                let body = m.body.unwrap_or_default();
                seen.lock().unwrap().push(body.clone());
                async move {
                    if body == "m1" {
                        Err("boom")
                    } else {
                        Ok(())
                    }
                }
            },
        )
        .await;
        let failed: Vec<&str> = resp
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(failed, vec!["m1", "m3"]);
        assert_eq!(*seen.lock().unwrap(), vec!["m1", "m2", "m4"]);
    }
}
