//! The loss-classification worker's service against moto: the ledger events the sync sends →
//! classified credits, claim state, cases and settlement jobs. Each test has its own table.

use std::sync::Arc;

use shared::adapters::store::claims::{ClaimRecord, HoldReason};
use shared::domain::case::{CaseId, CaseState, CloseReason};
use shared::domain::claim::{ClaimId, ClaimStatus};
use shared::domain::classify::{CreditKind, Flag};
use shared::domain::ledger::ItemStatus;
use shared::domain::Money;
use shared::services::cases::CasesService;
use shared::services::classification::{ClassificationService, Handled};
use test_support::classification::*;

const CUSTOMER: i64 = 40001;

fn service(w: &World) -> ClassificationService {
    ClassificationService::new(w.store.clone(), w.jobs.clone())
}

async fn claim(w: &World, id: &str) -> ClaimRecord {
    w.store
        .get_claim(&w.org, &w.account, &ClaimId::parse(id).unwrap())
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("claim {id} stored"))
}

/// Invoice 10 000 kr dated 5 Jan 2026, due 19 Jan (a Monday).
fn invoice(id: i64) -> shared::domain::ledger::LedgerEvent {
    mirrored(
        id,
        CUSTOMER,
        kr(10_000),
        date(2026, 1, 5),
        date(2026, 1, 19),
    )
}

/// Before the due date: no case opens by itself.
fn early() -> chrono::NaiveDate {
    date(2026, 1, 10)
}

#[tokio::test]
async fn a_write_off_without_the_word_is_caught_by_the_loss_account_and_keeps_the_claim_open() {
    let w = World::new("org_tap", 14).await;
    let svc = service(&w);
    let now = t(2026, 3, 1);
    svc.handle(&w.msg(invoice(1001)), early(), now)
        .await
        .unwrap();
    // "Innbetaling" against 7830: the counter-account rule makes it a write-off, flagged.
    let wo = CreditSpec::new(1001, 61001, date(2026, 2, 20), 10_000)
        .text("Innbetaling")
        .counter(vec![debit(7830, 10_000)])
        .status(ItemStatus::WrittenOffCandidate)
        .event();
    let out = svc.handle(&w.msg(wo), early(), now).await.unwrap();
    assert!(matches!(
        out.handled,
        Handled::Recorded {
            status: ClaimStatus::WrittenOff,
            held: 0,
            ..
        }
    ));
    let rec = claim(&w, "inv_1001").await;
    assert_eq!(rec.state.status, ClaimStatus::WrittenOff);
    assert_eq!(rec.state.amounts.written_off, kr(10_000));
    assert_eq!(rec.state.amounts.outstanding, kr(10_000), "still owed");
    assert_eq!(
        rec.state.amounts.ledger_balance,
        Money::ZERO,
        "Tripletex shows it closed"
    );
    let c = &rec.classifications[0];
    assert_eq!(c.classification.kind, CreditKind::WriteOff);
    assert_eq!(c.classification.flags, vec![Flag::MarkerMissing]);
    assert!(
        format!("{:?}", c.classification.evidence).contains("7830"),
        "the evidence names the loss account: {:?}",
        c.classification.evidence
    );
    let wos = rec.state.write_offs();
    assert_eq!(wos.len(), 1);
    assert!(wos[0].marker_missing);
    assert_eq!(wos[0].voucher_id, 61001 + 100_000);
    assert!(rec.summary().written_off);
    assert!(w.jobs.keys().is_empty(), "a write-off settles nothing");
}

#[tokio::test]
async fn a_write_off_before_the_first_sync_opens_a_case_marked_written_off() {
    // The first sync sees an invoice Tripletex shows closed (netted by the write-off): the sync
    // mirrors it with its full principal and sends the write-off; the case opens, written off.
    let w = World::new("org_first", 14).await;
    let svc = service(&w);
    let today = date(2026, 3, 10);
    let now = t(2026, 3, 10);
    let wo = CreditSpec::new(1002, 61002, date(2026, 2, 1), 10_000)
        .text("Tap på fordring, faktura 11002")
        .counter(vec![debit(7830, 10_000)])
        .status(ItemStatus::WrittenOffCandidate)
        .event();
    svc.handle(&w.msg(invoice(1002)), today, now).await.unwrap();
    let out = svc.handle(&w.msg(wo), today, now).await.unwrap();
    assert!(
        matches!(
            out.handled,
            Handled::Recorded {
                case_opened: true,
                ..
            }
        ) || claim(&w, "inv_1002").await.case_opened,
        "{out:?}"
    );
    let case = w
        .store
        .get_case(&w.org, &w.account, &CaseId::parse("case_inv_1002").unwrap())
        .await
        .unwrap()
        .expect("a case was opened");
    assert_eq!(case.case.state(), CaseState::Open);
    assert!(case.summary.written_off);
    assert_eq!(case.summary.claim_status, ClaimStatus::WrittenOff);
}

#[tokio::test]
async fn a_payment_after_a_write_off_is_a_recovery_and_settles_once() {
    let w = World::new("org_rec", 14).await;
    let svc = service(&w);
    let now = t(2026, 5, 1);
    svc.handle(&w.msg(invoice(1003)), early(), now)
        .await
        .unwrap();
    let wo = CreditSpec::new(1003, 61003, date(2026, 2, 1), 10_000)
        .text("Tap på fordring")
        .counter(vec![debit(7830, 10_000)])
        .event();
    svc.handle(&w.msg(wo), early(), now).await.unwrap();
    // A bankruptcy dividend of 4 000, then the rest.
    let p1 = CreditSpec::new(1003, 61004, date(2026, 4, 1), 4_000)
        .text("Dividende konkursbo")
        .event();
    svc.handle(&w.msg(p1), early(), now).await.unwrap();
    let rec = claim(&w, "inv_1003").await;
    assert_eq!(rec.state.amounts.recovered, kr(4_000));
    assert_eq!(rec.state.amounts.outstanding, kr(6_000));
    assert_eq!(rec.state.status, ClaimStatus::WrittenOff);
    assert!(w.jobs.keys().is_empty());

    let p2 = CreditSpec::new(1003, 61005, date(2026, 4, 20), 6_000).event();
    let out = svc.handle(&w.msg(p2.clone()), early(), now).await.unwrap();
    assert_eq!(out.jobs_sent, 1);
    let rec = claim(&w, "inv_1003").await;
    assert_eq!(rec.state.status, ClaimStatus::ClosedPaid);
    assert_eq!(rec.state.amounts.recovered, kr(10_000));
    assert!(rec.outbox.is_empty(), "the sent job left the outbox");
    let jobs = w.jobs.sent.lock().unwrap().clone();
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        jobs[0].idempotency_key,
        format!("settle:{}:inv_1003:1", w.account)
    );
    assert_eq!(jobs[0].amounts.recovered, kr(10_000));
    assert_eq!(jobs[0].settled_on, date(2026, 4, 20));

    // Redelivery of the settling payment: nothing changes, no second job.
    let rev = w.claim_rev("inv_1003").await;
    let again = svc.handle(&w.msg(p2), early(), now).await.unwrap();
    assert_eq!(again.handled, Handled::Duplicate);
    assert_eq!(again.jobs_sent, 0);
    assert_eq!(w.claim_rev("inv_1003").await, rev, "not even rewritten");
    assert_eq!(w.jobs.keys().len(), 1);
}

#[tokio::test]
async fn part_payments_reduce_the_claim_and_the_last_one_closes_it_and_its_case() {
    let w = World::new("org_part", 14).await;
    let svc = service(&w);
    let now = t(2026, 3, 10);
    let today = date(2026, 3, 10);
    svc.handle(&w.msg(invoice(1004)), today, now).await.unwrap();
    // Overdue by far more than 14 days: the case is open.
    svc.handle(
        &w.msg(overdue(1004, CUSTOMER, date(2026, 1, 19), kr(10_000))),
        today,
        now,
    )
    .await
    .unwrap();
    let case_id = CaseId::parse("case_inv_1004").unwrap();
    let case = w
        .store
        .get_case(&w.org, &w.account, &case_id)
        .await
        .unwrap()
        .expect("case opened");
    assert_eq!(case.case.state(), CaseState::Open);

    for (i, (amount, day)) in [(2_500, 1), (2_500, 5)].into_iter().enumerate() {
        let p = CreditSpec::new(1004, 62000 + i as i64, date(2026, 3, day), amount).event();
        svc.handle(&w.msg(p), today, now).await.unwrap();
    }
    let rec = claim(&w, "inv_1004").await;
    assert_eq!(rec.state.amounts.paid, kr(5_000));
    assert_eq!(rec.state.amounts.principal_outstanding, kr(5_000));
    assert_eq!(rec.state.status, ClaimStatus::Open);
    assert!(w.jobs.keys().is_empty());

    let last = CreditSpec::new(1004, 62009, date(2026, 3, 9), 5_000).event();
    svc.handle(&w.msg(last), today, now).await.unwrap();
    let rec = claim(&w, "inv_1004").await;
    assert_eq!(rec.state.status, ClaimStatus::ClosedPaid);
    let case = w
        .store
        .get_case(&w.org, &w.account, &case_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(case.case.state(), CaseState::Closed);
    assert!(matches!(
        case.case.status,
        shared::domain::case::CaseStatus::Closed {
            reason: CloseReason::Paid,
            ..
        }
    ));
    assert_eq!(case.summary.claim_status, ClaimStatus::ClosedPaid);
    // A bare principal settlement still hands over a job (the posting worker records "nothing").
    assert_eq!(w.jobs.keys().len(), 1);
}

#[tokio::test]
async fn a_credit_before_its_invoice_is_held_on_the_claim_and_applied_when_the_mirror_arrives() {
    let w = World::new("org_order", 14).await;
    let svc = service(&w);
    let now = t(2026, 2, 1);
    let wo = CreditSpec::new(1005, 61006, date(2026, 1, 30), 3_000)
        .text("Avskrevet")
        .counter(vec![debit(7830, 3_000)])
        .event();
    let out = svc.handle(&w.msg(wo.clone()), early(), now).await.unwrap();
    assert!(
        matches!(
            out.handled,
            Handled::Recorded {
                held: 1,
                status: ClaimStatus::Unmirrored,
                ..
            }
        ),
        "{out:?}"
    );
    let rec = claim(&w, "inv_1005").await;
    assert_eq!(rec.held.len(), 1);
    assert_eq!(rec.held[0].reason, HoldReason::Mirrored);
    // The same early credit again: still one held event (not lost, not doubled).
    let again = svc.handle(&w.msg(wo), early(), now).await.unwrap();
    assert_eq!(again.handled, Handled::Duplicate);
    assert_eq!(claim(&w, "inv_1005").await.held.len(), 1);

    svc.handle(&w.msg(invoice(1005)), early(), now)
        .await
        .unwrap();
    let rec = claim(&w, "inv_1005").await;
    assert!(rec.held.is_empty(), "nothing left waiting");
    assert_eq!(rec.state.amounts.written_off, kr(3_000));
    assert_eq!(rec.state.status, ClaimStatus::WrittenOff);
    assert_eq!(rec.state.timeline.len(), 2, "mirror, then the write-off");
}

#[tokio::test]
async fn a_reversal_before_the_voucher_it_reverses_waits_then_undoes_it() {
    let w = World::new("org_rev", 14).await;
    let svc = service(&w);
    let now = t(2026, 2, 1);
    svc.handle(&w.msg(invoice(1006)), early(), now)
        .await
        .unwrap();
    let payment = CreditSpec::new(1006, 61007, date(2026, 1, 20), 10_000);
    let paid_voucher = payment.voucher_id;
    let reversal = CreditSpec::new(1006, 61008, date(2026, 1, 25), 10_000)
        .text("Tilbakeføring")
        .counter(vec![])
        .reverses(paid_voucher)
        .event();
    let out = svc.handle(&w.msg(reversal), early(), now).await.unwrap();
    assert!(
        matches!(out.handled, Handled::Recorded { held: 1, .. }),
        "{out:?}"
    );
    assert_eq!(
        claim(&w, "inv_1006").await.held[0].reason,
        HoldReason::Referenced {
            voucher_id: paid_voucher
        }
    );
    let out = svc
        .handle(&w.msg(payment.event()), early(), now)
        .await
        .unwrap();
    // The payment settled it, the held reversal undid it: owed again, no job left standing.
    let rec = claim(&w, "inv_1006").await;
    assert!(rec.held.is_empty());
    assert_eq!(rec.state.status, ClaimStatus::Open);
    assert_eq!(rec.state.amounts.paid, Money::ZERO);
    assert!(rec.state.current_settlement().is_none());
    assert_eq!(
        out.jobs_sent, 0,
        "the undone settlement's job was withdrawn before sending"
    );
    assert!(w.jobs.keys().is_empty());
}

#[tokio::test]
async fn an_unknown_credit_is_held_for_review_and_never_taken_as_payment() {
    let w = World::new("org_unknown", 14).await;
    let svc = service(&w);
    let now = t(2026, 2, 1);
    svc.handle(&w.msg(invoice(1007)), early(), now)
        .await
        .unwrap();
    let odd = CreditSpec::new(1007, 61009, date(2026, 1, 25), 10_000)
        .text("Korrigering")
        .counter(vec![])
        .event();
    svc.handle(&w.msg(odd), early(), now).await.unwrap();
    let rec = claim(&w, "inv_1007").await;
    assert_eq!(rec.state.status, ClaimStatus::Open);
    assert_eq!(rec.state.amounts.pending_review, kr(10_000));
    assert_eq!(rec.state.amounts.outstanding, kr(10_000));
    assert!(rec.summary().needs_review);
    assert!(w.jobs.keys().is_empty());
}

#[tokio::test]
async fn concurrent_events_of_one_claim_are_both_applied() {
    let w = World::new("org_race", 14).await;
    let svc = service(&w);
    let now = t(2026, 2, 1);
    svc.handle(&w.msg(invoice(1008)), early(), now)
        .await
        .unwrap();
    let a = w.msg(CreditSpec::new(1008, 61010, date(2026, 1, 20), 1_000).event());
    let b = w.msg(CreditSpec::new(1008, 61011, date(2026, 1, 21), 2_000).event());
    let (ra, rb) = tokio::join!(svc.handle(&a, early(), now), svc.handle(&b, early(), now));
    ra.unwrap();
    rb.unwrap();
    let rec = claim(&w, "inv_1008").await;
    assert_eq!(rec.state.amounts.paid, kr(3_000), "neither write was lost");
}

#[tokio::test]
async fn a_job_recorded_but_not_sent_is_sent_by_the_redelivery_exactly_once() {
    let w = World::new("org_outbox", 14).await;
    let svc = service(&w);
    let now = t(2026, 2, 1);
    svc.handle(&w.msg(invoice(1009)), early(), now)
        .await
        .unwrap();
    let pay = w.msg(CreditSpec::new(1009, 61012, date(2026, 1, 20), 10_000).event());
    *w.jobs.fail.lock().unwrap() = true;
    let err = svc.handle(&pay, early(), now).await;
    assert!(err.is_err(), "the queue failure fails the message");
    let rec = claim(&w, "inv_1009").await;
    assert_eq!(
        rec.state.status,
        ClaimStatus::ClosedPaid,
        "the claim was written"
    );
    assert_eq!(rec.outbox.len(), 1, "the job waits in the outbox");

    *w.jobs.fail.lock().unwrap() = false;
    let out = svc.handle(&pay, early(), now).await.unwrap();
    assert_eq!(out.handled, Handled::Duplicate);
    assert_eq!(out.jobs_sent, 1);
    let out = svc.handle(&pay, early(), now).await.unwrap();
    assert_eq!(out.jobs_sent, 0);
    assert_eq!(
        w.jobs.keys(),
        vec![format!("settle:{}:inv_1009:1", w.account)]
    );
    assert!(claim(&w, "inv_1009").await.outbox.is_empty());
}

#[tokio::test]
async fn events_that_name_no_claim_or_nothing_new_change_nothing() {
    let w = World::new("org_noop", 14).await;
    let svc = service(&w);
    let now = t(2026, 2, 1);
    // An unapplied credit (credit_{postingId}) names no claim.
    let mut ev = CreditSpec::new(1, 61013, date(2026, 1, 20), 500).event();
    if let shared::domain::ledger::LedgerEvent::Credit(c) = &mut ev {
        c.item_id = "credit_61013".into();
    }
    let out = svc.handle(&w.msg(ev), early(), now).await.unwrap();
    assert_eq!(out.handled, Handled::NotAClaim);
    // item_closed of an unknown claim: nothing stored.
    let out = svc
        .handle(&w.msg(closed(1010, CUSTOMER)), early(), now)
        .await
        .unwrap();
    assert_eq!(out.handled, Handled::NoChange);
    assert_eq!(w.claim_rev("inv_1010").await, None);
}

#[tokio::test]
async fn the_daily_job_opens_cases_on_the_day_and_resumes_paused_cases_on_their_deadline() {
    let w = World::new("org_daily", 14).await;
    let svc = service(&w);
    let cases = CasesService::new(w.store.clone());
    let now = t(2026, 1, 10);
    // Due Monday 19 Jan; 14 days past due → 2 Feb.
    svc.handle(&w.msg(invoice(1011)), early(), now)
        .await
        .unwrap();
    let r = cases
        .run_daily(date(2026, 2, 1), t(2026, 2, 1))
        .await
        .unwrap();
    assert_eq!(r.opened, 0, "one day early: {r:?}");
    let r = cases
        .run_daily(date(2026, 2, 2), t(2026, 2, 2))
        .await
        .unwrap();
    assert_eq!(r.opened, 1, "{r:?}");
    let r = cases
        .run_daily(date(2026, 2, 2), t(2026, 2, 2))
        .await
        .unwrap();
    assert_eq!(r.opened, 0, "a second run opens nothing: {r:?}");

    let case_id = CaseId::parse("case_inv_1011").unwrap();
    let public = shared::services::cases::public_case_id(&w.account, &case_id);
    cases
        .command(
            &w.org,
            &public,
            "user-1",
            shared::services::cases::CaseCommand::Pause(
                serde_json::from_value(serde_json::json!({
                    "until": "2026-02-10", "note": "Kunden har bedt om utsettelse"
                }))
                .unwrap(),
            ),
            None,
            date(2026, 2, 3),
            t(2026, 2, 3),
        )
        .await
        .unwrap();
    let r = cases
        .run_daily(date(2026, 2, 9), t(2026, 2, 9))
        .await
        .unwrap();
    assert_eq!(r.resumed, 0, "{r:?}");
    // A missed day catches up.
    let r = cases
        .run_daily(date(2026, 2, 11), t(2026, 2, 11))
        .await
        .unwrap();
    assert_eq!(r.resumed, 1, "{r:?}");
    let case = w
        .store
        .get_case(&w.org, &w.account, &case_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(case.case.state(), CaseState::Open);
    let r = cases
        .run_daily(date(2026, 2, 12), t(2026, 2, 12))
        .await
        .unwrap();
    assert_eq!((r.resumed, r.opened), (0, 0));
}

#[tokio::test]
async fn another_organizations_claims_and_cases_are_not_reachable() {
    let w = World::new("org_one", 0).await;
    let svc = service(&w);
    let today = date(2026, 3, 10);
    svc.handle(&w.msg(invoice(1012)), today, t(2026, 3, 10))
        .await
        .unwrap();
    let other = shared::domain::setup::OrgId::parse("org_two").unwrap();
    let case_id = CaseId::parse("case_inv_1012").unwrap();
    assert!(w
        .store
        .get_case(&w.org, &w.account, &case_id)
        .await
        .unwrap()
        .is_some());
    assert!(w
        .store
        .get_case(&other, &w.account, &case_id)
        .await
        .unwrap()
        .is_none());
    assert!(w
        .store
        .get_claim(&other, &w.account, case_id.claim_id())
        .await
        .unwrap()
        .is_none());
    let _ = Arc::clone(&w.jobs);
}

#[tokio::test]
async fn a_voucher_item_whose_principal_grows_under_the_same_posting_version_is_updated() {
    use shared::domain::ledger::{ClaimFacts, ItemMirroredEvent, ItemSource, LedgerEvent};
    let w = World::new("org_saft", 14).await;
    let svc = service(&w);
    let now = t(2026, 2, 1);
    let item = |principal: i64| {
        let facts = ClaimFacts {
            source: ItemSource::Voucher,
            customer_id: CUSTOMER,
            invoice_id: None,
            invoice_number: Some("7001".into()),
            voucher_id: Some(90_001),
            principal: kr(principal),
            date: date(2026, 1, 5),
            due_date: Some(date(2026, 1, 19)),
            due_date_estimated: false,
            // The first debit posting's version: unchanged when a fee is booked on the number.
            source_version: Some(3),
            cross_check: None,
        };
        LedgerEvent::ItemMirrored(ItemMirroredEvent {
            key: format!("mirror:item_55001:{}", facts.hash()),
            item_id: "item_55001".into(),
            facts,
        })
    };
    svc.handle(&w.msg(item(2_000)), early(), now).await.unwrap();
    svc.handle(&w.msg(item(2_070)), early(), now).await.unwrap();
    let rec = claim(&w, "item_55001").await;
    assert_eq!(rec.state.amounts.principal, kr(2_070));
}

/// What the sync sends: one message with a customer's changes. Each claim is written once, its
/// events in order (the credit after the mirror it needs); the same message again changes nothing.
#[tokio::test]
async fn a_customers_batch_is_handled_claim_by_claim_with_one_write_each() {
    let w = World::new("org_batch", 14).await;
    let svc = service(&w);
    let now = t(2026, 3, 1);
    let today = date(2026, 3, 1);
    let wo = CreditSpec::new(1101, 61101, date(2026, 2, 20), 10_000)
        .text("Tap på fordring")
        .counter(vec![debit(7830, 10_000)])
        .status(ItemStatus::WrittenOffCandidate)
        .event();
    let batch = shared::adapters::queue::ClassificationBatch {
        org: w.org.clone(),
        account_id: w.account.clone(),
        integration_id: w.integration.clone(),
        group: shared::adapters::queue::customer_group(CUSTOMER),
        events: vec![
            invoice(1101),
            invoice(1102),
            wo,
            overdue(1102, CUSTOMER, date(2026, 1, 19), kr(10_000)),
        ],
    };
    let out = svc.handle_batch(&batch, today, now).await.unwrap();
    assert_eq!(out.len(), 2, "two claims: {out:?}");
    assert!(matches!(
        out[0].handled,
        Handled::Recorded {
            status: ClaimStatus::WrittenOff,
            held: 0,
            ..
        }
    ));
    assert!(matches!(
        out[1].handled,
        Handled::Recorded {
            case_opened: true,
            ..
        }
    ));
    // One conditional write per claim (rev 1), however many events it had.
    assert_eq!(w.claim_rev("inv_1101").await, Some(1));
    let first = claim(&w, "inv_1101").await;
    assert_eq!(first.state.status, ClaimStatus::WrittenOff);
    assert!(first.held.is_empty());

    // Redelivered: every claim knows its events (an overdue event is never stored: nothing new);
    // nothing is written.
    let rev_second = w.claim_rev("inv_1102").await;
    let again = svc.handle_batch(&batch, today, now).await.unwrap();
    assert_eq!(again[0].handled, Handled::Duplicate, "{again:?}");
    assert_eq!(again[1].handled, Handled::NoChange, "{again:?}");
    assert_eq!(w.claim_rev("inv_1101").await, Some(1));
    assert_eq!(w.claim_rev("inv_1102").await, rev_second);
}

/// Claims of one message are handled several at a time; every claim is stored, and the outcomes
/// come back in the message's order.
#[tokio::test]
async fn a_batch_of_many_claims_stores_each_and_answers_in_order() {
    let w = World::new("org_batch_many", 14).await;
    let svc = service(&w);
    let events: Vec<_> = (0..25).map(|n| invoice(1200 + n)).collect();
    let batch = shared::adapters::queue::ClassificationBatch {
        org: w.org.clone(),
        account_id: w.account.clone(),
        integration_id: w.integration.clone(),
        group: shared::adapters::queue::customer_group(CUSTOMER),
        events,
    };
    let out = svc
        .handle_batch(&batch, early(), t(2026, 1, 10))
        .await
        .unwrap();
    assert_eq!(out.len(), 25);
    assert!(
        out.iter()
            .all(|o| matches!(o.handled, Handled::Recorded { .. })),
        "{out:?}"
    );
    for n in 0..25 {
        let rec = claim(&w, &format!("inv_{}", 1200 + n)).await;
        assert_eq!(rec.state.status, ClaimStatus::Open, "inv_{}", 1200 + n);
    }
    let again = svc
        .handle_batch(&batch, early(), t(2026, 1, 10))
        .await
        .unwrap();
    assert!(again.iter().all(|o| o.handled == Handled::Duplicate));
}
