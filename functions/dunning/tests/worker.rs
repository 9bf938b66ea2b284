//! The dunning function's handler against moto and the Tripletex sandbox (test_support's dunning
//! world: a company synced, classified and its cases opened by the real services; the real
//! DynamoDB, SES, S3 and SQS adapters). Exactly once is counted in moto's SES data: every mail
//! SES took, read back from its `sent_messages`.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};

use dunning::{trigger, Trigger, Worker};
use shared::domain::case::CaseEvent;
use shared::domain::collection::dunning::{Mode, Notice, NoticeStatus, RunStatus, Step};
use shared::domain::collection::letters::LetterKind;
use shared::services::dunning::Resolution;
use test_support::drain_fifo;
use test_support::dunning::*;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

/// 07:00 in Oslo on 1 October 2026: 10023 (Vestland Bygg) and 10025 (Havbruk) are due for the
/// purring, each in a letter of its own.
const MORNING: &str = "2026-10-01T05:00:00Z";

fn event(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent::new(payload, Context::default())
}

/// The schedule's fan-out, then the job it queued, taken off the real FIFO queue as an SQS
/// record: (message group, deduplication id, the record).
async fn scheduled_job(w: &World, worker: &Worker) -> (String, String, Value) {
    let out = worker
        .handle(event(json!({"fanOut": true})), w.now())
        .await
        .expect("the fan-out");
    assert_eq!(out, json!({"queued": 1}), "one account has dunning on");
    let sqs = aws_sdk_sqs::Client::new(&w.sync.sdk);
    let mut jobs = drain_fifo(&sqs, &w.resources.dunning_queue_url).await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let (group, dedup, body) = jobs.remove(0);
    let record = json!({
        "messageId": format!("msg-{dedup}"),
        "body": body.to_string(),
        "attributes": {"MessageGroupId": group, "MessageDeduplicationId": dedup},
        "eventSource": "aws:sqs"
    });
    (group, dedup, record)
}

/// One delivery of `record`; the record ids the function reported failed.
async fn deliver(worker: &Worker, record: &Value, now: DateTime<Utc>) -> Vec<String> {
    let out = worker
        .handle(event(json!({ "Records": [record] })), now)
        .await
        .expect("an SQS invocation answers");
    out["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_string())
        .collect()
}

/// A delivery whose invocation dies (the injected crash): nothing answers SQS, so the message
/// comes again.
async fn deliver_crashing(worker: &Arc<Worker>, record: &Value, now: DateTime<Utc>) {
    let (worker, record) = (worker.clone(), record.clone());
    let died = tokio::spawn(async move { deliver(&worker, &record, now).await }).await;
    assert!(
        died.is_err_and(|e| e.is_panic()),
        "the invocation was to die"
    );
}

/// The job of `date` as the next day's fan-out queues it.
async fn next_days_job(w: &World, worker: &Worker) -> Value {
    scheduled_job(w, worker).await.2
}

/// Every mail of this world, by Message-ID: how often SES took each.
async fn mails_by_id(w: &World) -> BTreeMap<String, Vec<Mail>> {
    let mut out: BTreeMap<String, Vec<Mail>> = BTreeMap::new();
    for m in w.mails().await {
        out.entry(m.message_id.clone().expect("a Message-ID"))
            .or_default()
            .push(m);
    }
    out
}

/// No mail twice: each Message-ID (one per letter) once, and each case's thread in one mail.
async fn assert_no_duplicates(w: &World, what: &str) -> BTreeMap<String, Vec<Mail>> {
    let by_id = mails_by_id(w).await;
    for (id, ms) in &by_id {
        assert_eq!(
            ms.len(),
            1,
            "{what}: the letter {id} was mailed {} times",
            ms.len()
        );
    }
    let mut cases: BTreeMap<String, u32> = BTreeMap::new();
    for ms in by_id.values() {
        for r in ms[0]
            .references
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
        {
            *cases.entry(r.to_string()).or_default() += 1;
        }
    }
    for (case, n) in cases {
        assert_eq!(n, 1, "{what}: the purring of {case} was mailed {n} times");
    }
    by_id
}

/// Every notice of the world's cases.
async fn notices(w: &World) -> Vec<Notice> {
    let svc = w.service();
    let mut out = Vec::new();
    for c in svc
        .store
        .book(&w.sync.org, &w.sync.account)
        .await
        .unwrap()
        .cases
    {
        out.extend(
            svc.notices_of_case(&w.sync.org, &w.sync.account, &c.case.id)
                .await
                .unwrap(),
        );
    }
    out
}

/// The claim's charges demanded and the case's notice entries, for a sent notice: once each.
async fn assert_effects_once(w: &World, n: &Notice, what: &str) {
    let svc = w.service();
    let claim = svc
        .store
        .get_claim(&w.sync.org, &w.sync.account, &n.claim_id)
        .await
        .unwrap()
        .expect("the claim");
    assert_eq!(
        claim.state.charges.len(),
        1,
        "{what}: {:?}",
        claim.state.charges
    );
    let case = svc
        .store
        .get_case(&w.sync.org, &w.sync.account, &n.id.case_id)
        .await
        .unwrap()
        .expect("the case");
    let entries = case
        .case
        .timeline
        .iter()
        .filter(|e| matches!(e.event, CaseEvent::NoticeSent(_)))
        .count();
    assert_eq!(entries, 1, "{what}: notice entries on the case");
    assert_eq!(case.case.step, Some(LetterKind::Purring), "{what}");
}

#[test]
fn the_template_schedules_input_is_the_fan_out() {
    assert!(matches!(
        trigger(json!({"fanOut": true})),
        Ok(Trigger::FanOut)
    ));
    assert!(trigger(json!({"fanOut": false})).is_err());
    assert!(trigger(json!({"daily": true})).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_days_job_delivered_five_times_sends_each_letter_once() {
    let w = World::new(&company(), at(MORNING)).await;
    w.enable(Mode::Automatic, |_| {}).await;
    let worker = Worker {
        dunning: w.service(),
    };
    let (group, dedup, record) = scheduled_job(&w, &worker).await;
    assert_eq!(group, w.sync.account.as_str());
    assert_eq!(dedup, format!("dunning:{}:2026-10-01", w.sync.account));

    for delivery in 0..5 {
        let failed = deliver(&worker, &record, w.now()).await;
        assert!(failed.is_empty(), "delivery {delivery}: {failed:?}");
    }
    // "Run now" the same day answers the day's run; the schedule's job again finds it done.
    let run = w
        .service()
        .request_run(&w.sync.org, &w.sync.account, "user-1")
        .await
        .unwrap();
    assert_eq!(run.status, RunStatus::Completed);
    assert!(deliver(&worker, &record, w.now()).await.is_empty());

    let by_id = assert_no_duplicates(&w, "five deliveries").await;
    assert_eq!(by_id.len(), 2, "two debtors, two letters");
    let to: Vec<&str> = by_id.values().map(|m| m[0].to.as_str()).collect();
    assert!(to.contains(&"purring@vestlandbygg.no"), "{to:?}");
    assert!(to.contains(&"faktura@havbruk.no"), "{to:?}");
    let sent: Vec<Notice> = notices(&w).await;
    assert_eq!(sent.len(), 2);
    for n in &sent {
        assert_eq!(n.status, NoticeStatus::Sent);
        assert_eq!(n.id.step, Step::Purring);
        assert!(n.effects_applied);
        assert!(n.delivery.as_ref().unwrap().ses_message_id.is_some());
        assert_effects_once(&w, n, "five deliveries").await;
    }
    // Each letter's PDF is archived, exactly the bytes that were attached.
    for n in &sent {
        let (pdf, _) = w
            .service()
            .notice_pdf(&w.sync.org, &w.sync.account, &n.id)
            .await
            .unwrap();
        let mail = by_id
            .values()
            .map(|m| &m[0])
            .find(|m| {
                m.in_reply_to
                    .as_deref()
                    .unwrap()
                    .contains(&n.id.case_id.to_string())
            })
            .expect("the case's mail");
        assert_eq!(mail.attachments[0].2, pdf);
    }

    // The next day: nothing more is due (the inkassovarsel waits for the purring's deadline).
    w.set_now(at(MORNING) + Duration::days(1));
    let next = next_days_job(&w, &worker).await;
    assert!(deliver(&worker, &next, w.now()).await.is_empty());
    assert_eq!(mails_by_id(&w).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_that_is_not_a_job_is_reported_failed_and_the_others_run() {
    let w = World::new(&company(), at(MORNING)).await;
    w.enable(Mode::Automatic, |_| {}).await;
    let worker = Worker {
        dunning: w.service(),
    };
    let (_, _, good) = scheduled_job(&w, &worker).await;
    let bad = json!({
        "messageId": "msg-bad",
        "body": "{\"account\": \"nope\"}",
        "attributes": {"MessageGroupId": "acc_other", "MessageDeduplicationId": "x"},
        "eventSource": "aws:sqs"
    });
    let out = worker
        .handle(event(json!({ "Records": [bad, good] })), w.now())
        .await
        .expect("an SQS invocation answers");
    assert_eq!(
        out,
        json!({"batchItemFailures": [{"itemIdentifier": "msg-bad"}]}),
        "only the bad record is retried"
    );
    assert_eq!(mails_by_id(&w).await.len(), 2, "the good job ran");
    // Neither an SQS event nor the schedule's input: the invocation fails as a whole.
    assert!(worker
        .handle(event(json!({"hello": 1})), w.now())
        .await
        .is_err());
}

/// What a crash at `point` must leave once the job was delivered again the same day and the next
/// day's run passed: each letter mailed at most once, and what was not certainly sent held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_at_each_point_never_mails_a_letter_twice() {
    for point in CrashPoint::ALL {
        let what = format!("{point:?}");
        let w = World::new(&company(), at(MORNING)).await;
        w.enable(Mode::Automatic, |_| {}).await;
        let crash = Crash::default();
        let worker = Arc::new(Worker {
            dunning: w.crashing_service(&crash),
        });
        let (_, _, record) = scheduled_job(&w, &worker).await;
        crash.arm(point);
        deliver_crashing(&worker, &record, w.now()).await;
        assert_eq!(crash.armed(), None, "{what}: the crash fired");

        // SQS delivers the message again, a few times, within the same minutes.
        for _ in 0..3 {
            let failed = deliver(&worker, &record, w.now() + Duration::minutes(1)).await;
            assert!(failed.is_empty(), "{what}: {failed:?}");
        }
        // The next day's run finds what the crash left, long after.
        w.set_now(at(MORNING) + Duration::days(1));
        let next = next_days_job(&w, &worker).await;
        for _ in 0..2 {
            assert!(deliver(&worker, &next, w.now()).await.is_empty(), "{what}");
        }

        let by_id = assert_no_duplicates(&w, &what).await;
        let all = notices(&w).await;
        assert_eq!(all.len(), 2, "{what}: {all:?}");
        let status = |s: NoticeStatus| all.iter().filter(|n| n.status == s).count();
        match point {
            // Nothing had left: the redelivery sent both letters.
            CrashPoint::AfterReserve
            | CrashPoint::AfterArchive
            | CrashPoint::AfterSent
            | CrashPoint::AfterEffects => {
                assert_eq!(by_id.len(), 2, "{what}");
                assert_eq!(status(NoticeStatus::Sent), 2, "{what}");
                for n in &all {
                    assert!(n.effects_applied, "{what}");
                    assert_effects_once(&w, n, &what).await;
                }
            }
            // The crashed letter may have gone (after SES: it did; before: it did not — the run
            // cannot know which): uncertain, held for a person, never mailed again.
            CrashPoint::AfterSending | CrashPoint::AfterSes => {
                let expected_mails = if point == CrashPoint::AfterSes { 2 } else { 1 };
                assert_eq!(by_id.len(), expected_mails, "{what}");
                assert_eq!(status(NoticeStatus::Sent), 1, "{what}");
                assert_eq!(status(NoticeStatus::Uncertain), 1, "{what}");
                let held = w
                    .service()
                    .uncertain(&w.sync.org, &w.sync.account)
                    .await
                    .unwrap();
                assert_eq!(held.len(), 1, "{what}");

                // A third day: still held, still not mailed.
                w.set_now(at(MORNING) + Duration::days(2));
                let day3 = next_days_job(&w, &worker).await;
                assert!(deliver(&worker, &day3, w.now()).await.is_empty());
                assert_eq!(mails_by_id(&w).await.len(), expected_mails, "{what}");

                // A person decides: after SES it went out (recorded as sent, no mail); before,
                // it did not (released, and the next run mails it, once).
                let resolution = if point == CrashPoint::AfterSes {
                    Resolution::Sent
                } else {
                    Resolution::Release
                };
                w.service()
                    .resolve_uncertain(
                        &w.sync.org,
                        &w.sync.account,
                        &held[0].id,
                        resolution,
                        "user-1",
                        Some("checked the SES log"),
                    )
                    .await
                    .unwrap();
                w.set_now(at(MORNING) + Duration::days(3));
                let day4 = next_days_job(&w, &worker).await;
                for _ in 0..2 {
                    assert!(deliver(&worker, &day4, w.now()).await.is_empty());
                }
                let by_id = assert_no_duplicates(&w, &what).await;
                assert_eq!(
                    by_id.len(),
                    2,
                    "{what}: every letter mailed once in the end"
                );
                for n in notices(&w).await {
                    assert_eq!(n.status, NoticeStatus::Sent, "{what}");
                    assert!(n.effects_applied, "{what}");
                    assert_effects_once(&w, &n, &what).await;
                }
            }
        }
    }
}
