//! The real sync-worker binary, run by the local stack from template.yaml (moto provisioned from
//! the template, the SQS event source, the Lambda runtime API): a job on the sync queue is
//! delivered to the worker, which checkpoints after `SyncPagesPerInvocation` pages, is delivered
//! again (batch item failure) and completes; the same job delivered once more does nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use inndrive_local::stack::{start, StackOptions};
use serde_json::json;
use shared::adapters::queue::{SyncQueue, SyncReason};
use shared::domain::setup::IntegrationStatus;
use test_support::moto;
use test_support::sync::*;

fn bin_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sync-worker"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_job_is_synced_by_the_worker_across_continuations_and_a_redelivery_does_nothing() {
    moto();
    let sandbox = tripletex_sandbox::start_in_thread(
        fixture_with(&base_company()),
        tripletex_sandbox::Faults::default(),
    )
    .unwrap();
    let brreg = format!(
        "{}/enhetsregisteret/api",
        sandbox.base_url.trim_end_matches("/v2")
    );
    let sender = "noreply@inndrive.test";
    let stack = start(StackOptions {
        fixture: None,
        tripletex_base_url: Some(sandbox.base_url.clone()),
        consumer_token: Some(tripletex_sandbox::DEMO_CONSUMER_TOKEN.into()),
        bin_dir: Some(bin_dir()),
        functions: Some(vec!["SyncWorkerFunction".into()]),
        moto_endpoint: Some(moto().to_string()),
        stack_name: format!("sync-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
        sqs_retry_delay: Duration::from_secs(1),
        parameters: BTreeMap::from([
            ("BrregBaseUrl".to_string(), brreg),
            ("SenderEmail".to_string(), sender.to_string()),
            ("SyncPagesPerInvocation".to_string(), "4".to_string()),
        ]),
        ..StackOptions::default()
    })
    .await
    .expect("local stack starts");
    let sdk = stack.sdk_config().await;
    let res = |id: &str| stack.resources.ref_value(id).expect(id).to_string();
    aws_sdk_sesv2::Client::new(&sdk)
        .create_email_identity()
        .email_identity(sender)
        .send()
        .await
        .unwrap();
    let w = World::populate(
        sdk,
        Resources {
            table: res("Table"),
            sync_queue_url: res("SyncQueue"),
            class_queue_url: res("ClassificationQueue"),
            secret_prefix: "inndrive/local/tripletex-keys/".into(),
            mail_from: sender.into(),
        },
        sandbox,
        2001,
        |_| {},
    )
    .await;
    let contact = format!("kontakt-{}@kunde.test", w.org);
    w.set_contact_email(&contact).await;

    // The initial job, as setup queues it.
    let job = w.job(SyncReason::Initial);
    SyncQueue::new(w.sqs.clone(), w.sync_queue_url.clone())
        .enqueue(&job)
        .await
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let i = w.current_integration().await;
        if i.status == IntegrationStatus::Ready {
            break;
        }
        assert_ne!(i.status, IntegrationStatus::Failed, "{:?}", i.last_sync);
        assert!(
            Instant::now() < deadline,
            "not ready in time; logs:\n{}",
            stack.logs().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let logs = stack.logs().join("\n");
    assert!(
        logs.matches("sync checkpointed before the deadline")
            .count()
            >= 1,
        "the worker did not checkpoint:\n{logs}"
    );
    // Each checkpoint went on in a continuation job, and no message was failed for it (a long
    // first sync does not use up the queue's maxReceiveCount).
    assert_eq!(
        logs.matches("sync continues in a new job").count(),
        logs.matches("sync checkpointed before the deadline")
            .count(),
        "{logs}"
    );
    assert!(!logs.contains("record failed"), "{logs}");
    let items = w.items().await;
    assert_eq!(
        items.keys().cloned().collect::<Vec<_>>(),
        vec!["inv_80001", "inv_80003"]
    );
    assert!(w
        .store
        .get_checkpoint(&w.org, &w.account)
        .await
        .unwrap()
        .is_none());
    let events = w.drain_classification().await;
    assert_eq!(events_of(&events).len(), 5, "{events:?}");
    // The mail goes out right after the status; give the worker a moment to finish.
    let until = Instant::now() + Duration::from_secs(10);
    while w.mails_to(&contact).await.is_empty() && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(w.mails_to(&contact).await.len(), 1);

    // The same job delivered again (an SQS-shaped event straight to the function): a no-op.
    let event = json!({"Records": [{
        "messageId": "redelivered-1", "receiptHandle": "rh-1", "body": serde_json::to_string(&job).unwrap(),
        "attributes": {"MessageGroupId": job.message_group_id(), "ApproximateReceiveCount": "2"},
        "messageAttributes": {}, "eventSource": "aws:sqs", "awsRegion": "eu-north-1",
        "eventSourceARN": "arn:aws:sqs:eu-north-1:123456789012:inndrive-local-sync.fifo"
    }]});
    let out = stack.invoke("SyncWorkerFunction", &event).await.unwrap();
    assert_eq!(out["batchItemFailures"], json!([]), "{out}");
    assert!(w.drain_classification().await.is_empty());
    assert_eq!(w.mails_to(&contact).await.len(), 1);
    assert_eq!(w.items().await, items);
    stack.shutdown().await;
}
