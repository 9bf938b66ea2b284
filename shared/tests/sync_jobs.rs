//! Sync jobs: the manual request and the nightly enqueue (moto).

use chrono::{TimeZone, Utc};
use shared::adapters::queue::SyncQueue;
use shared::services::ledger::LedgerService;
use shared::services::sync::enqueue_scheduled;
use test_support::sync::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nightly_run_enqueues_one_job_per_integration_once_a_day() {
    let w = World::new(&base_company(), |_| {}).await;
    // Ready already (the initial sync is not pending any more).
    completed_initial(&w).await;
    let t = Utc.with_ymd_and_hms(2026, 11, 26, 1, 0, 0).unwrap();
    let queue = SyncQueue::new(w.sqs.clone(), w.sync_queue_url.clone());
    let r = enqueue_scheduled(&w.store, &queue, t).await.unwrap();
    // moto's table is per test, but GSI2 lists only this test's integrations.
    assert_eq!((r.integrations, r.enqueued), (1, 1));
    // A retried schedule the same Oslo day: deduplicated.
    enqueue_scheduled(&w.store, &queue, t + chrono::Duration::minutes(2))
        .await
        .unwrap();
    let msgs = w.drain_sync_queue().await;
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    let (group, dedup, body) = &msgs[0];
    assert_eq!(group, w.integration.settings.key_id.as_str());
    assert_eq!(dedup, &format!("scheduled:{}:2026-11-26", w.integration.id));
    assert_eq!(body["reason"], "scheduled");
    assert_eq!(body["integrationId"], w.integration.id.as_str());
}

async fn completed_initial(w: &World) {
    let out = w
        .service(shared::services::sync::SyncConfig::default())
        .run_job(&w.job(shared::adapters::queue::SyncReason::Initial), None)
        .await
        .unwrap();
    assert!(matches!(
        out,
        shared::services::sync::JobOutcome::Completed(_)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requested_sync_is_queued_on_the_keys_group_and_runs_like_any_other() {
    let w = World::new(&base_company(), |_| {}).await;
    completed_initial(&w).await;
    let queue = SyncQueue::new(w.sqs.clone(), w.sync_queue_url.clone());
    let ledger = LedgerService::new(w.store.clone(), w.ddb.clone(), queue);
    let requested = ledger
        .request_sync(&w.org, w.account.as_str(), Utc::now())
        .await
        .unwrap();
    assert!(!requested.deduplicated);
    let msgs = w.drain_sync_queue().await;
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].0, w.integration.settings.key_id.as_str());
    assert_eq!(msgs[0].2["reason"], "manual");
    let out = w
        .service(shared::services::sync::SyncConfig::default())
        .handle_message(&msgs[0].2.to_string(), None)
        .await
        .unwrap();
    assert!(matches!(
        out,
        shared::services::sync::JobOutcome::Completed(_)
    ));
}
