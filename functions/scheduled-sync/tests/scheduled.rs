//! The real scheduled-sync binary run by the local stack from template.yaml. EventBridge Scheduler
//! is not emulated locally, so the test invokes the function as the schedule would (twice: a
//! retried schedule run) and reads the FIFO sync queue.

use std::path::PathBuf;
use std::time::Duration;

use inndrive_local::stack::{start, StackOptions};
use serde_json::json;
use test_support::moto;
use test_support::sync::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schedule_enqueues_one_job_per_integration_and_a_retry_adds_none() {
    moto();
    let sandbox = tripletex_sandbox::start_in_thread(
        fixture_with(&base_company()),
        tripletex_sandbox::Faults::default(),
    )
    .unwrap();
    let stack = start(StackOptions {
        fixture: None,
        tripletex_base_url: Some(sandbox.base_url.clone()),
        consumer_token: Some(tripletex_sandbox::DEMO_CONSUMER_TOKEN.into()),
        bin_dir: Some(
            PathBuf::from(env!("CARGO_BIN_EXE_scheduled-sync"))
                .parent()
                .unwrap()
                .to_path_buf(),
        ),
        functions: Some(vec!["ScheduledSyncFunction".into()]),
        moto_endpoint: Some(moto().to_string()),
        stack_name: format!("sched-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
        sqs_retry_delay: Duration::from_secs(1),
        ..StackOptions::default()
    })
    .await
    .expect("local stack starts");
    let sdk = stack.sdk_config().await;
    let res = |id: &str| stack.resources.ref_value(id).expect(id).to_string();
    let mut w = World::populate(
        sdk,
        Resources {
            table: res("Table"),
            sync_queue_url: res("SyncQueue"),
            class_queue_url: res("ClassificationQueue"),
            secret_prefix: "inndrive/local/tripletex-keys/".into(),
            mail_from: "noreply@inndrive.test".into(),
        },
        sandbox,
        2001,
        |_| {},
    )
    .await;
    // An integration whose initial sync is done (status ready).
    w.change_settings(|_| {}).await;
    w.store
        .update_sync_state(
            &w.org,
            &w.account,
            &w.integration.id,
            shared::domain::setup::IntegrationStatus::Ready,
            None,
            None,
        )
        .await
        .unwrap();

    let scheduler_event = json!({"source": "aws.scheduler", "detail-type": "Scheduled Event"});
    let out = stack
        .invoke("ScheduledSyncFunction", &scheduler_event)
        .await
        .unwrap();
    assert!(out["enqueued"].as_u64().unwrap() >= 1, "{out}");
    stack
        .invoke("ScheduledSyncFunction", &scheduler_event)
        .await
        .unwrap();

    // The stack's queue is this test's own; other integrations (none here) would be filtered out.
    let mine: Vec<_> = w
        .drain_sync_queue()
        .await
        .into_iter()
        .filter(|(_, _, body)| body["integrationId"] == json!(w.integration.id.as_str()))
        .collect();
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0].0, w.integration.settings.key_id.as_str());
    assert!(mine[0]
        .1
        .starts_with(&format!("scheduled:{}:", w.integration.id)));
    assert_eq!(mine[0].2["reason"], "scheduled");
    stack.shutdown().await;
}
