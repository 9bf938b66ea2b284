//! The voucher-posting worker against moto (the table, the key's token in Secrets Manager) and
//! the Tripletex sandbox, counting the vouchers Tripletex holds: a redelivered job, a crash
//! after the POST and two workers at once each end with one voucher; a locked period and a
//! missing permission are held with the fix; an undone settlement is reversed once.
//!
//! The claim is invoice 10023 (80001, 12 500 kr, Vestland Bygg AS) of the sandbox's scenario,
//! with a letter's 35 kr fee and 41.10 kr interest, paid 12 576.10 by KID on 1 Aug 2026.

use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};

use shared::adapters::queue::PostingMessage;
use shared::adapters::secrets::Secrets;
use shared::adapters::store::claims::ClaimRecord;
use shared::adapters::store::vouchers::PostingStatus;
use shared::domain::claim::{
    ChargesDemanded, ClaimEffect, ClaimEvent, ClaimEventKind, ClaimId, ClaimState, Credit,
    EventKey, Mirror, PostingRef, Reversal, VoucherPostingJob, VoucherUndoJob,
};
use shared::domain::classify::CreditKind;
use shared::domain::voucher::HeldReason;
use shared::services::vouchers::ports::TripletexBooks;
use shared::services::vouchers::{Outcome, PostingError, VoucherService, LEASE_SECONDS};
use test_support::sync::{d, voucher_company, World, AR, INTEREST_INCOME, OTHER_INCOME};
use tripletex_sandbox::{FaultKind, FaultRule, Faults};
use voucher_posting::Worker;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 8, 3, 10, 0, 0).unwrap()
}

async fn world(fee_account: Option<u32>) -> World {
    World::new(&voucher_company(), |s| {
        s.voucher_posting.fee_income_account = fee_account;
    })
    .await
}

fn service(w: &World) -> VoucherService {
    VoucherService::new(
        Arc::new(w.store.clone()),
        Arc::new(TripletexBooks::new(
            w.tripletex(),
            Secrets::new(w.sm.clone(), w.secret_prefix.clone()),
        )),
    )
}

/// The debtor's payment in Tripletex, and the claim settled by it (stored): the job.
async fn settle(w: &World) -> VoucherPostingJob {
    w.sandbox
        .book_voucher(
            2001,
            &tripletex_sandbox::scenario::kid_payment("2026-08-01", 40001, "10023", 12576.10),
        )
        .expect("the payment is booked");
    let claim = ClaimId::invoice(80001).unwrap();
    let mut state = ClaimState::new(w.org.clone(), w.account.clone(), claim.clone());
    state
        .apply(ClaimEvent::mirrored(
            &claim,
            Mirror {
                invoice_id: Some(80001),
                invoice_number: Some("10023".into()),
                voucher_id: Some(50001),
                customer_id: 40001,
                principal: "12500".parse().unwrap(),
                invoice_date: d("2026-05-02"),
                due_date: d("2026-05-16"),
                due_date_estimated: false,
                version: Some(1),
                cross_check: None,
            },
        ))
        .unwrap();
    state
        .apply(ClaimEvent::new(
            EventKey::new("charges:ltr_1").unwrap(),
            ClaimEventKind::ChargesDemanded(ChargesDemanded {
                reference: "ltr_1".into(),
                date: d("2026-06-01"),
                interest: "41.10".parse().unwrap(),
                fees: "35".parse().unwrap(),
            }),
        ))
        .unwrap();
    let applied = state
        .apply(ClaimEvent::credit(Credit {
            posting: PostingRef {
                id: 96_000_001,
                version: Some(0),
            },
            voucher_id: 95_000_001,
            date: d("2026-08-01"),
            amount: "12576.10".parse().unwrap(),
            kind: CreditKind::Payment,
            flags: vec![],
            description: None,
            reversed_by: None,
        }))
        .unwrap();
    let job = applied
        .effects()
        .iter()
        .find_map(|e| match e {
            ClaimEffect::Settled(j) => Some(j.clone()),
            _ => None,
        })
        .expect("settled");
    let rec = ClaimRecord::new(state, now());
    assert_eq!(
        format!("{:?}", w.store.save_claim(&rec, None).await.unwrap()),
        "Saved"
    );
    job
}

/// The vouchers in the sandbox carrying `external`.
fn vouchers_with(w: &World, external: &str) -> Vec<Value> {
    w.sandbox
        .vouchers(2001)
        .into_iter()
        .filter(|v| v["externalVoucherNumber"] == json!(external))
        .collect()
}

fn external(job: &VoucherPostingJob) -> String {
    shared::domain::voucher::external_voucher_number(
        &job.idempotency_key,
        &job.claim_id,
        job.settlement_version,
    )
}

fn sqs_event(message: &PostingMessage) -> LambdaEvent<SqsEvent> {
    let ev: SqsEvent = serde_json::from_value(json!({"Records": [{
        "messageId": "m1",
        "body": serde_json::to_string(message).unwrap(),
        "attributes": {"MessageGroupId": "g"},
    }]}))
    .unwrap();
    LambdaEvent::new(ev, Context::default())
}

#[tokio::test]
async fn one_voucher_on_the_right_accounts_closed_with_the_payment_and_a_redelivery_changes_nothing(
) {
    let w = world(Some(3900)).await;
    let job = settle(&w).await;
    let worker = Worker {
        vouchers: service(&w),
    };
    let msg = PostingMessage::Settle(job.clone());
    for _ in 0..2 {
        let response = worker.handle(sqs_event(&msg), now()).await.unwrap();
        assert_eq!(response["batchItemFailures"], json!([]), "{response}");
    }
    let found = vouchers_with(&w, &external(&job));
    assert_eq!(found.len(), 1, "one voucher in Tripletex");
    let v = &found[0];
    assert_eq!(
        v["description"],
        "Renter og gebyrer, faktura 10023 (Inndrive sak case_inv_80001)"
    );
    assert_eq!(v["date"], "2026-08-01");
    assert_eq!(v["voucherType"]["name"], "Betaling");
    let ids: Vec<i64> = v["postings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    let postings = w.sandbox.postings(2001);
    let lines: Vec<(i64, i64, f64, Value, Value)> = ids
        .iter()
        .map(|id| postings.iter().find(|p| p["id"] == json!(id)).unwrap())
        .map(|p| {
            (
                p["row"].as_i64().unwrap(),
                p["account"]["id"].as_i64().unwrap(),
                p["amountGross"].as_f64().unwrap(),
                p.get("customer").cloned().unwrap_or(Value::Null),
                p["invoiceNumber"].clone(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        vec![
            (1, AR, 76.10, json!({"id": 40001}), json!("10023")),
            (2, INTEREST_INCOME, -41.10, Value::Null, json!("")),
            (3, OTHER_INCOME, -35.0, Value::Null, json!("")),
        ]
    );
    // Closed together: the invoice, the over-settling payment and the voucher's receivables line.
    let open_on_invoice: Vec<&Value> = postings
        .iter()
        .filter(|p| p["invoiceNumber"] == "10023" && p["account"]["id"] == json!(AR))
        .filter(|p| p["closeGroup"].is_null())
        .collect();
    assert!(open_on_invoice.is_empty(), "{open_on_invoice:?}");
    let invoice = w
        .sandbox
        .invoices(2001)
        .into_iter()
        .find(|i| i["id"] == 80001)
        .unwrap();
    assert_eq!(invoice["amountOutstanding"].as_f64(), Some(0.0));
    let rec = w
        .store
        .get_posting(&w.org, &w.account, &job.claim_id, 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.status, PostingStatus::Posted);
    let booked = rec.voucher.unwrap();
    assert!(booked.closed);
    assert_eq!(booked.number, format!("{}-2026", v["number"]));
}

#[tokio::test]
async fn a_crash_after_the_post_ends_with_one_voucher() {
    let w = world(Some(3900)).await;
    let job = settle(&w).await;
    // Tripletex books the voucher, and the answer is lost on the way back.
    w.sandbox.set_faults(
        Faults::none().with_rule(
            FaultRule::new(FaultKind::ServerErrorAfterHandling { status: 502 })
                .times(1)
                .on_path("POST /v2/ledger/voucher"),
        ),
    );
    let svc = service(&w);
    let msg = PostingMessage::Settle(job.clone());
    assert!(matches!(
        svc.handle(&msg, now()).await,
        Err(PostingError::Tripletex(_))
    ));
    assert_eq!(vouchers_with(&w, &external(&job)).len(), 1);
    // SQS delivers it again after the visibility timeout (past the lease).
    let later = now() + Duration::seconds(LEASE_SECONDS + 60);
    let out = svc.handle(&msg, later).await.unwrap();
    assert!(
        matches!(out, Outcome::Posted { found: true, .. }),
        "{out:?}"
    );
    assert_eq!(vouchers_with(&w, &external(&job)).len(), 1);
    assert_eq!(
        w.sandbox
            .stats()
            .requests_matching("POST /v2/ledger/voucher"),
        1,
        "never posted twice"
    );
}

#[tokio::test]
async fn two_workers_at_once_end_with_one_voucher() {
    let w = world(Some(3900)).await;
    let job = settle(&w).await;
    let (a, b) = (service(&w), service(&w));
    let msg = PostingMessage::Settle(job.clone());
    let (ra, rb) = tokio::join!(a.handle(&msg, now()), b.handle(&msg, now()));
    let posted = [&ra, &rb]
        .iter()
        .filter(|r| matches!(r, Ok(Outcome::Posted { .. })))
        .count();
    assert_eq!(posted, 1, "{ra:?} {rb:?}");
    // The other one was told to come back (lease) or found it done.
    assert_eq!(vouchers_with(&w, &external(&job)).len(), 1);
    let again = a.handle(&msg, now()).await.unwrap();
    assert_eq!(again, Outcome::AlreadyDone(PostingStatus::Posted));
    assert_eq!(vouchers_with(&w, &external(&job)).len(), 1);
}

#[tokio::test]
async fn a_locked_period_is_held_with_tripletexs_message_and_the_fix() {
    let w = world(Some(3900)).await;
    let job = settle(&w).await;
    w.sandbox
        .lock_periods_through(2001, Some(NaiveDate::from_ymd_opt(2026, 8, 31).unwrap()));
    let svc = service(&w);
    let msg = PostingMessage::Settle(job.clone());
    assert_eq!(
        svc.handle(&msg, now()).await.unwrap(),
        Outcome::Held(HeldReason::PeriodLocked)
    );
    let rec = w
        .store
        .get_posting(&w.org, &w.account, &job.claim_id, 1)
        .await
        .unwrap()
        .unwrap();
    let held = rec.held.unwrap();
    assert!(held.tripletex_message.unwrap().contains("2026-08 er låst"));
    assert!(held
        .fix_no
        .starts_with("Perioden er låst: åpne perioden i Tripletex eller velg en annen dato"));
    // Redelivered: held, never retried blindly.
    svc.handle(&msg, now()).await.unwrap();
    assert_eq!(
        w.sandbox
            .stats()
            .requests_matching("POST /v2/ledger/voucher"),
        1
    );
    assert!(vouchers_with(&w, &external(&job)).is_empty());
}

#[tokio::test]
async fn posting_in_the_first_open_period_when_the_setting_is_on() {
    let w = World::new(&voucher_company(), |s| {
        s.voucher_posting.fee_income_account = Some(3900);
        s.voucher_posting.post_in_first_open_period = true;
    })
    .await;
    let job = settle(&w).await;
    w.sandbox
        .lock_periods_through(2001, Some(NaiveDate::from_ymd_opt(2026, 8, 31).unwrap()));
    let out = service(&w)
        .handle(&PostingMessage::Settle(job.clone()), now())
        .await
        .unwrap();
    assert!(matches!(out, Outcome::Posted { .. }), "{out:?}");
    let v = vouchers_with(&w, &external(&job));
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["date"], "2026-09-01");
}

#[tokio::test]
async fn an_undone_settlement_is_reversed_once() {
    let w = world(Some(3900)).await;
    let job = settle(&w).await;
    let svc = service(&w);
    svc.handle(&PostingMessage::Settle(job.clone()), now())
        .await
        .unwrap();
    // The payment is reversed in Tripletex; the classification worker undoes the settlement.
    let mut rec = w
        .store
        .get_claim(&w.org, &w.account, &job.claim_id)
        .await
        .unwrap()
        .unwrap();
    rec.state
        .apply(ClaimEvent::reversal(Reversal {
            voucher_id: 95_000_099,
            reverses_voucher_id: 95_000_001,
            date: d("2026-08-05"),
        }))
        .unwrap();
    w.store.save_claim(&rec, None).await.unwrap();
    let undo = PostingMessage::Undo(VoucherUndoJob {
        org: w.org.clone(),
        account_id: w.account.clone(),
        claim_id: job.claim_id.clone(),
        settlement_version: 1,
        undoes: job.idempotency_key.clone(),
        undone_on: d("2026-08-05"),
        idempotency_key: VoucherUndoJob::key(&w.account, &job.claim_id, 1),
    });
    let out = svc.handle(&undo, now()).await.unwrap();
    assert!(matches!(out, Outcome::Reversed { .. }), "{out:?}");
    assert_eq!(
        svc.handle(&undo, now()).await.unwrap(),
        Outcome::AlreadyDone(PostingStatus::Reversed)
    );
    let ours = vouchers_with(&w, &external(&job))[0]["id"].clone();
    let reversals: Vec<Value> = w
        .sandbox
        .vouchers(2001)
        .into_iter()
        .filter(|v| v["reverseVoucher"]["id"] == ours)
        .collect();
    assert_eq!(reversals.len(), 1);
    assert_eq!(reversals[0]["date"], "2026-08-05");
}

/// The function starts without reading the consumer token (a cold start needs no network); the
/// first job reads it. A token that is missing fails that job, retried by SQS, and the next job
/// after the operator puts the token posts.
#[tokio::test]
async fn the_consumer_token_is_read_with_the_first_job_and_a_missing_one_is_retried() {
    let w = world(Some(3900)).await;
    let job = settle(&w).await;
    let secret_id = format!("{}consumer-token-{}", w.secret_prefix, w.integration.id);
    let books = TripletexBooks::lazy(
        shared::services::sync::TripletexSource::lazy(w.sandbox.base_url.clone(), &secret_id),
        Secrets::new(w.sm.clone(), w.secret_prefix.clone()),
    );
    let worker = Worker {
        vouchers: VoucherService::new(Arc::new(w.store.clone()), Arc::new(books)),
    };
    let msg = PostingMessage::Settle(job.clone());

    let response = worker.handle(sqs_event(&msg), now()).await.unwrap();
    assert_eq!(
        response["batchItemFailures"],
        json!([{"itemIdentifier": "m1"}]),
        "no token yet: the job fails and is delivered again"
    );
    assert!(vouchers_with(&w, &external(&job)).is_empty());

    w.sm.create_secret()
        .name(&secret_id)
        .secret_string(tripletex_sandbox::DEMO_CONSUMER_TOKEN)
        .send()
        .await
        .unwrap();
    // SQS delivers it again after the visibility timeout (past the lease).
    let later = now() + Duration::seconds(LEASE_SECONDS + 60);
    let response = worker.handle(sqs_event(&msg), later).await.unwrap();
    assert_eq!(response["batchItemFailures"], json!([]), "{response}");
    assert_eq!(vouchers_with(&w, &external(&job)).len(), 1);
}
