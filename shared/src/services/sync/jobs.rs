//! Sync jobs onto the FIFO sync queue: the job for an integration, the continuation of a
//! suspended run, and the nightly run (one job per integration, deduplicated per Oslo day).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{oslo_today, RunStats, SyncError};
use crate::adapters::queue::{SyncJob, SyncQueue, SyncReason};
use crate::adapters::store::DynamoStore;
use crate::domain::setup::{Integration, IntegrationStatus};

/// After a suspended run: queues the rest of the sync (reason `continue`, same key group). The
/// caller acknowledges the current message when this succeeds, and fails it otherwise.
pub async fn continue_later(
    queue: &SyncQueue,
    job: &SyncJob,
    stats: &RunStats,
) -> Result<String, SyncError> {
    queue
        .enqueue_continuation(job, stats.checkpoint_pages)
        .await
        .map_err(|e| SyncError::Queue(e.to_string()))
}

/// The job that syncs integration `i`.
pub fn job_for(i: &Integration, reason: SyncReason, at: DateTime<Utc>) -> SyncJob {
    SyncJob {
        org: i.org.clone(),
        account_id: i.account_id.clone(),
        integration_id: i.id.clone(),
        key_id: i.settings.key_id.clone(),
        client_company_id: i.settings.client_company_id,
        reason,
        settings_version: i.version,
        requested_at: at,
    }
}

/// The deduplication id of the nightly job: `scheduled:{integrationId}:{YYYY-MM-DD}` (Oslo date),
/// so a retried schedule run enqueues nothing twice.
pub fn scheduled_dedup_id(i: &Integration, now: DateTime<Utc>) -> String {
    format!("scheduled:{}:{}", i.id, oslo_today(now).format("%Y-%m-%d"))
}

/// What the scheduled run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledRun {
    pub integrations: u32,
    pub enqueued: u32,
    pub skipped: u32,
}

/// The nightly run: one job per integration (GSI2), message group = the key, 10 a SendMessageBatch.
/// Integrations whose initial sync is still queued are left to it. A failed run is retried by the
/// schedule; the deduplication ids make that send nothing twice.
pub async fn enqueue_scheduled(
    store: &DynamoStore,
    queue: &SyncQueue,
    now: DateTime<Utc>,
) -> Result<ScheduledRun, SyncError> {
    let all = store.all_integrations().await?;
    let due: Vec<(SyncJob, String)> = all
        .iter()
        .filter(|i| !(i.status == IntegrationStatus::Pending && i.initial_sync_enqueued))
        .map(|i| {
            (
                job_for(i, SyncReason::Scheduled, now),
                scheduled_dedup_id(i, now),
            )
        })
        .collect();
    let enqueued = queue
        .enqueue_all(&due)
        .await
        .map_err(|e| SyncError::Queue(e.to_string()))?;
    Ok(ScheduledRun {
        integrations: all.len() as u32,
        enqueued,
        skipped: (all.len() - due.len()) as u32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn scheduled_dedup_id_uses_the_oslo_date() {
        // 23:30 UTC on 31 Dec is already 1 Jan in Oslo.
        let t = Utc.with_ymd_and_hms(2026, 12, 31, 23, 30, 0).unwrap();
        assert_eq!(oslo_today(t).to_string(), "2027-01-01");
    }
}
