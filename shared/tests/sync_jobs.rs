//! Sync jobs: the manual request and the nightly enqueue (moto).

mod sync_support;

use chrono::{TimeZone, Utc};
use shared::adapters::queue::SyncQueue;
use shared::services::ledger::LedgerService;
use shared::services::sync::enqueue_scheduled;
use sync_support::*;

async fn drain(w: &World) -> Vec<(String, String, serde_json::Value)> {
    use aws_sdk_sqs::types::MessageSystemAttributeName as A;
    let mut out = Vec::new();
    for _ in 0..10 {
        let got = w
            .sqs
            .receive_message()
            .queue_url(&w.sync_queue_url)
            .max_number_of_messages(10)
            .message_system_attribute_names(A::All)
            .send()
            .await
            .unwrap();
        if got.messages().is_empty() {
            break;
        }
        for m in got.messages() {
            let a = m.attributes().cloned().unwrap_or_default();
            w.sqs
                .delete_message()
                .queue_url(&w.sync_queue_url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
            out.push((
                a.get(&A::MessageGroupId).cloned().unwrap_or_default(),
                a.get(&A::MessageDeduplicationId)
                    .cloned()
                    .unwrap_or_default(),
                serde_json::from_str(m.body().unwrap()).unwrap(),
            ));
        }
    }
    out
}

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
    let msgs = drain(&w).await;
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
    let msgs = drain(&w).await;
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
