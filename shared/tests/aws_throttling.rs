//! AWS throttling, at the SDK boundary: with the production retry configuration (the standard
//! retry mode, 3 attempts), the store's and the queue's calls succeed after DynamoDB's
//! `ProvisionedThroughputExceededException` and SQS's `ThrottlingException` / `RequestThrottled`,
//! each call on its third attempt; a call throttled three times fails with the throttling error.
//! The throttles are answered by an HTTP client on the SDK configuration
//! (`test_support::throttle`), so a throttled request never reaches moto.

use std::time::Instant;

use chrono::Utc;
use shared::adapters::aws::{https_client, sdk_config_with, AwsRetries};
use shared::adapters::queue::{SyncJob, SyncQueue, SyncReason};
use shared::adapters::store::DynamoStore;
use shared::domain::setup::{Account, AccountId, IntegrationId, KeyId, OrgId};
use test_support::throttle::Throttle;
use test_support::{id_suffix, Stack};

fn job(org: &OrgId, account: &AccountId, n: u32) -> SyncJob {
    SyncJob {
        org: org.clone(),
        account_id: account.clone(),
        integration_id: IntegrationId::parse(&format!("int_{}", id_suffix())).unwrap(),
        key_id: KeyId::parse(&format!("key_{}", id_suffix())).unwrap(),
        client_company_id: 2001,
        reason: SyncReason::Manual,
        settings_version: n,
        requested_at: Utc::now(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_retries_carry_the_store_and_the_queue_through_throttling() {
    test_support::moto();
    let plain = shared::adapters::aws::sdk_config().await;
    let stack = Stack::provision(&plain, &["Table", "SyncQueue"], None).await;
    let began = Instant::now();

    // Two throttles per call, production retries: each call succeeds on its third attempt.
    let throttle = Throttle::around(https_client(), 2);
    let sdk = sdk_config_with(throttle.client(), AwsRetries::Production).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), stack.table());
    let queue = SyncQueue::new(aws_sdk_sqs::Client::new(&sdk), stack.queue_url("SyncQueue"));
    let org = OrgId::parse(&format!("org_{}", &id_suffix()[..12])).unwrap();
    let account = Account {
        id: AccountId::parse(&format!("acc_{}", id_suffix())).unwrap(),
        org: org.clone(),
        name: "Fjordkraft Rørlegger AS".into(),
        organization_number: None,
        created_at: Utc::now(),
    };
    assert!(store
        .put_account(&account)
        .await
        .expect("PutItem after two throttles"));
    let read = store
        .get_account(&org, &account.id)
        .await
        .expect("GetItem after two throttles");
    assert_eq!(read.map(|a| a.name), Some(account.name.clone()));
    let listed = store
        .list_accounts(&org)
        .await
        .expect("Query after two throttles");
    assert_eq!(listed.len(), 1, "written once, although asked three times");
    queue
        .enqueue(&job(&org, &account.id, 1))
        .await
        .expect("SendMessage after two throttles");
    let batch: Vec<(SyncJob, String)> = (2..5)
        .map(|n| {
            let j = job(&org, &account.id, n);
            let dedup = format!("throttle-test:{n}:{}", id_suffix());
            (j, dedup)
        })
        .collect();
    assert_eq!(
        queue
            .enqueue_all(&batch)
            .await
            .expect("SendMessageBatch after two throttles"),
        3
    );
    let attempts = throttle.attempts();
    for (op, a) in &attempts {
        assert_eq!(
            (a.attempts, a.throttled),
            (3 * a.calls, 2 * a.calls),
            "{op}: each call throttled twice, then through on its third attempt"
        );
    }
    for op in [
        "DynamoDB_20120810.PutItem",
        "DynamoDB_20120810.GetItem",
        "DynamoDB_20120810.Query",
        "AmazonSQS.SendMessage",
        "AmazonSQS.SendMessageBatch",
    ] {
        assert!(attempts.contains_key(op), "{op} was called: {attempts:?}");
    }
    let through = began.elapsed();

    // Throttled on every attempt: the standard mode gives up after three, with the error.
    let always = Throttle::around(https_client(), u32::MAX);
    let sdk = sdk_config_with(always.client(), AwsRetries::Production).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), stack.table());
    let err = store
        .get_account(&org, &account.id)
        .await
        .expect_err("throttled three times over");
    assert!(
        err.to_string().contains("ProvisionedThroughputExceeded"),
        "the throttling error comes through: {err}"
    );
    assert_eq!(
        always.attempts()["DynamoDB_20120810.GetItem"].attempts,
        3,
        "three attempts, no more"
    );

    let calls: u32 = attempts.values().map(|a| a.calls).sum();
    let total: u32 = attempts.values().map(|a| a.attempts).sum();
    eprintln!(
        "AWS throttling (production retry configuration: standard mode, 3 attempts, 1-20 s backoff): \
         {calls} store and queue calls over {} operations, {total} attempts ({} throttled), all through \
         in {:.1} s; a call throttled on every attempt failed after 3",
        attempts.len(),
        total - calls,
        through.as_secs_f64()
    );
}
