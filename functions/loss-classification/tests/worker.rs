//! The loss-classification function's handler against moto: SQS events with partial batch
//! failures, the scheduler's `{"daily": true}`, and the real FIFO voucher-posting queue.

use std::sync::Arc;

use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};

use loss_classification::{trigger, Trigger, Worker};
use shared::adapters::queue::ClassificationBatch;
use shared::adapters::queue::VoucherPostingQueue;
use shared::domain::case::CaseId;
use shared::domain::claim::{ClaimId, ClaimStatus};
use shared::domain::ledger::LedgerEvent;
use shared::services::cases::CasesService;
use shared::services::classification::ClassificationService;
use test_support::classification::*;
use test_support::{drain_fifo, Stack};

/// A record as the sync sends it: a `ClassificationBatch` (here with one event).
fn record(id: &str, w: &World, event: &LedgerEvent) -> Value {
    let packed = ClassificationBatch::pack(&w.org, &w.account, &w.integration, vec![event.clone()])
        .unwrap()
        .remove(0);
    json!({
        "messageId": id,
        "body": packed.body,
        "attributes": {"MessageGroupId": packed.group_id,
                        "MessageDeduplicationId": packed.deduplication_id},
        "eventSource": "aws:sqs"
    })
}

/// A record in the earlier single-event format (still accepted during a deploy).
fn single_event_record(id: &str, w: &World, event: &LedgerEvent) -> Value {
    let msg = w.msg(event.clone());
    json!({
        "messageId": id,
        "body": serde_json::to_string(&msg).unwrap(),
        "attributes": {"MessageGroupId": format!("{}#{}", w.account, event.item_id()),
                        "MessageDeduplicationId": event.key()},
        "eventSource": "aws:sqs"
    })
}

fn sqs_event(records: Vec<Value>) -> LambdaEvent<Value> {
    LambdaEvent::new(json!({ "Records": records }), Context::default())
}

/// template.yaml's voucher-posting queue, under a stage of its own.
async fn posting_queue(w: &World) -> (aws_sdk_sqs::Client, String) {
    let stack = Stack::provision(&w.sdk, &["VoucherPostingQueue"], None).await;
    (
        aws_sdk_sqs::Client::new(&w.sdk),
        stack.queue_url("VoucherPostingQueue"),
    )
}

/// The worker as main.rs builds it, with the real SQS voucher-posting queue.
fn worker(w: &World, sqs: &aws_sdk_sqs::Client, url: &str) -> Worker {
    Worker {
        classification: ClassificationService::new(
            w.store.clone(),
            Arc::new(VoucherPostingQueue::new(sqs.clone(), url)),
        ),
        cases: CasesService::new(w.store.clone()),
    }
}

#[test]
fn the_trigger_is_told_from_the_payload() {
    assert!(matches!(
        trigger(json!({"daily": true})),
        Ok(Trigger::Daily)
    ));
    assert!(matches!(
        trigger(json!({"Records": []})),
        Ok(Trigger::Sqs(_))
    ));
    assert!(trigger(json!({"daily": false})).is_err());
    assert!(trigger(json!({"detail-type": "Scheduled Event"})).is_err());
}

#[tokio::test]
async fn a_batch_settles_a_recovered_claim_once_and_reports_only_the_bad_record() {
    let w = World::new("org_fn", 14).await;
    let (sqs, url) = posting_queue(&w).await;
    let worker = worker(&w, &sqs, &url);
    let now = t(2026, 5, 2);
    let inv = mirrored(3001, 40001, kr(8_000), date(2026, 1, 5), date(2026, 1, 19));
    let wo = CreditSpec::new(3001, 81001, date(2026, 2, 10), 8_000)
        .text("Tap på kunde – konkurs")
        .counter(vec![debit(7830, 8_000)])
        .event();
    let pay = CreditSpec::new(3001, 81002, date(2026, 4, 30), 8_000)
        .text("Dividende fra konkursbo")
        .event();
    // A different claim's group carries a broken body; it alone fails.
    let broken = json!({
        "messageId": "m-bad", "body": "{\"not\": \"a message\"}",
        "attributes": {"MessageGroupId": "other#inv_9"}, "eventSource": "aws:sqs"
    });
    let out = worker
        .handle(
            sqs_event(vec![
                record("m1", &w, &wo), // the write-off before its invoice: held, not lost
                broken,
                single_event_record("m2", &w, &inv),
                record("m3", &w, &pay),
            ]),
            now,
        )
        .await
        .unwrap();
    let failed: Vec<&str> = out["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap())
        .collect();
    assert_eq!(failed, vec!["m-bad"]);

    let rec = w
        .store
        .get_claim(&w.org, &w.account, &ClaimId::parse("inv_3001").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.state.status, ClaimStatus::ClosedPaid);
    assert_eq!(
        rec.state.amounts.recovered,
        kr(8_000),
        "paid after the write-off"
    );
    assert!(rec.held.is_empty());

    let jobs = drain_fifo(&sqs, &url).await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let key = format!("settle:{}:inv_3001:1", w.account);
    assert_eq!(jobs[0].0, format!("{}#inv_3001", w.account));
    assert_eq!(jobs[0].1, key);
    assert_eq!(jobs[0].2["idempotencyKey"], key);
    assert_eq!(jobs[0].2["amounts"]["recovered"], "8000.00");
    assert_eq!(jobs[0].2["settledOn"], "2026-04-30");

    // The whole batch again (SQS redelivery): nothing changes, no second job.
    let rev = rec.rev;
    let out = worker
        .handle(
            sqs_event(vec![
                record("m1", &w, &wo),
                record("m2", &w, &inv),
                record("m3", &w, &pay),
            ]),
            now,
        )
        .await
        .unwrap();
    assert_eq!(out["batchItemFailures"], json!([]));
    assert_eq!(w.claim_rev("inv_3001").await, Some(rev));
    assert!(drain_fifo(&sqs, &url).await.is_empty());
}

#[tokio::test]
async fn the_daily_input_runs_the_case_job() {
    let w = World::new("org_fn_daily", 3).await;
    let (sqs, url) = posting_queue(&w).await;
    let worker = worker(&w, &sqs, &url);
    // Mirrored before it was due: no case yet.
    let inv = mirrored(3002, 40001, kr(1_000), date(2026, 3, 1), date(2026, 3, 16));
    worker
        .handle(sqs_event(vec![record("m1", &w, &inv)]), t(2026, 3, 2))
        .await
        .unwrap();
    let case_id = CaseId::parse("case_inv_3002").unwrap();
    assert!(w
        .store
        .get_case(&w.org, &w.account, &case_id)
        .await
        .unwrap()
        .is_none());
    // Due Monday 16 March + 3 days → 19 March.
    let report = worker
        .handle(
            LambdaEvent::new(json!({"daily": true}), Context::default()),
            t(2026, 3, 19),
        )
        .await
        .unwrap();
    assert_eq!(report["opened"], 1, "{report}");
    assert_eq!(report["today"], "2026-03-19");
    assert!(w
        .store
        .get_case(&w.org, &w.account, &case_id)
        .await
        .unwrap()
        .is_some());
    let err = worker
        .handle(
            LambdaEvent::new(json!({"hello": 1}), Context::default()),
            t(2026, 3, 19),
        )
        .await;
    assert!(err.is_err());
}
