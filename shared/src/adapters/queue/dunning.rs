//! The FIFO dunning queue: one job per account and (Oslo) day. The schedule's fan-out and a
//! user's "run now" put a job; a run that stops before its invocation's deadline puts its
//! continuation. Ids only.
//!
//! Message group = the account (an account's runs never overlap); deduplication id
//! `dunning:{accountId}:{date}` (a continuation: `…:continue:{n}`), so the schedule and a retried
//! request within SQS's five minutes send one job. Beyond that the run record (one per account
//! and day) and the exactly-once notices make a second job harmless.

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use aws_sdk_sqs::Client;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::QueueError;
use crate::domain::setup::{AccountId, OrgId};

/// Why a run was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DunningReason {
    /// The daily schedule's fan-out.
    Scheduled,
    /// A user's `POST …/dunning/run`.
    Manual,
    /// The rest of a run that stopped before its invocation's deadline.
    Continue,
}

/// One account's run on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DunningJob {
    pub org: OrgId,
    pub account_id: AccountId,
    /// The Oslo day of the run.
    pub date: NaiveDate,
    pub reason: DunningReason,
    /// 0 for the first job of the day; 1, 2, … for continuations.
    #[serde(default)]
    pub continuation: u32,
    pub requested_at: DateTime<Utc>,
}

impl DunningJob {
    pub fn deduplication_id(&self) -> String {
        match self.reason {
            DunningReason::Continue => format!(
                "dunning:{}:{}:continue:{}",
                self.account_id, self.date, self.continuation
            ),
            DunningReason::Scheduled | DunningReason::Manual => {
                format!("dunning:{}:{}", self.account_id, self.date)
            }
        }
    }

    pub fn message_group_id(&self) -> &str {
        self.account_id.as_str()
    }

    /// The job that goes on with this run.
    pub fn continuation(&self, n: u32, at: DateTime<Utc>) -> DunningJob {
        DunningJob {
            reason: DunningReason::Continue,
            continuation: n,
            requested_at: at,
            ..self.clone()
        }
    }
}

/// The dunning queue.
#[derive(Debug, Clone)]
pub struct DunningQueue {
    client: Client,
    url: String,
}

impl DunningQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }

    /// Sends the jobs, 10 a SendMessageBatch call; fails if SQS did not take one (a retry sends
    /// them again and deduplication drops the ones it took).
    pub async fn enqueue(&self, jobs: &[DunningJob]) -> Result<u32, QueueError> {
        let mut sent = 0;
        for chunk in jobs.chunks(10) {
            let mut entries = Vec::with_capacity(chunk.len());
            for (i, job) in chunk.iter().enumerate() {
                let body = serde_json::to_string(job)
                    .map_err(|e| QueueError::Serialise(format!("the job: {e}")))?;
                entries.push(
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body)
                        .message_group_id(job.message_group_id())
                        .message_deduplication_id(job.deduplication_id())
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
                    "{} of {} dunning jobs were not accepted",
                    out.failed().len(),
                    chunk.len()
                )));
            }
            sent += chunk.len() as u32;
        }
        Ok(sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_job_per_account_and_day_and_continuations_apart() {
        let job = DunningJob {
            org: OrgId::parse("org_a").unwrap(),
            account_id: AccountId::from_suffix("0192f0c4a1b27f3e8c1d2e3f4a5b6c7d").unwrap(),
            date: NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
            reason: DunningReason::Scheduled,
            continuation: 0,
            requested_at: DateTime::from_timestamp(1_790_000_000, 0).unwrap(),
        };
        assert_eq!(
            job.deduplication_id(),
            "dunning:acc_0192f0c4a1b27f3e8c1d2e3f4a5b6c7d:2026-10-01"
        );
        let manual = DunningJob {
            reason: DunningReason::Manual,
            ..job.clone()
        };
        assert_eq!(manual.deduplication_id(), job.deduplication_id());
        let next = job.continuation(2, job.requested_at);
        assert!(next.deduplication_id().ends_with(":continue:2"));
        assert_eq!(next.message_group_id(), job.message_group_id());
        let json = serde_json::to_value(&next).unwrap();
        assert_eq!(json["reason"], "continue");
        let back: DunningJob = serde_json::from_value(json).unwrap();
        assert_eq!(back, next);
        assert!(job.deduplication_id().len() <= 128);
    }
}
