use super::*;
use crate::domain::classify::{classify, CounterPosting, CreditEvidence};
use proptest::prelude::*;
use rust_decimal_macros::dec;

const INVOICE: i64 = 1001;
const INVOICE_VOUCHER: i64 = 500;
const CUSTOMER: i64 = 77;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn kr(n: i64) -> Money {
    Money::from_kroner(n)
}

fn org() -> OrgId {
    OrgId::parse("org_acme").unwrap()
}

fn account() -> AccountId {
    AccountId::from_suffix("01hzy3k9q7m2v8x4c6n5b1t0ra").unwrap()
}

fn claim_id() -> ClaimId {
    ClaimId::invoice(INVOICE).unwrap()
}

fn empty() -> ClaimState {
    ClaimState::new(org(), account(), claim_id())
}

fn mirror_v(principal: Money, version: i64) -> ClaimEvent {
    ClaimEvent::mirrored(
        &claim_id(),
        Mirror {
            invoice_id: Some(INVOICE),
            invoice_number: Some("10023".into()),
            voucher_id: Some(INVOICE_VOUCHER),
            customer_id: CUSTOMER,
            principal,
            invoice_date: d("2026-01-05"),
            due_date: d("2026-01-19"),
            due_date_estimated: false,
            version: Some(version),
            cross_check: None,
        },
    )
}

fn mirror(principal: Money) -> ClaimEvent {
    mirror_v(principal, 1)
}

fn credit(posting: i64, voucher: i64, date: &str, amount: Money, kind: CreditKind) -> ClaimEvent {
    credit_flags(posting, voucher, date, amount, kind, vec![])
}

fn credit_flags(
    posting: i64,
    voucher: i64,
    date: &str,
    amount: Money,
    kind: CreditKind,
    flags: Vec<Flag>,
) -> ClaimEvent {
    ClaimEvent::credit(Credit {
        posting: PostingRef {
            id: posting,
            version: Some(1),
        },
        voucher_id: voucher,
        date: d(date),
        amount,
        kind,
        flags,
        description: None,
        reversed_by: None,
    })
}

fn reversal(voucher: i64, reverses: i64, date: &str) -> ClaimEvent {
    ClaimEvent::reversal(Reversal {
        voucher_id: voucher,
        reverses_voucher_id: reverses,
        date: d(date),
    })
}

fn mirrored(principal: Money) -> ClaimState {
    let mut c = empty();
    assert!(matches!(
        c.apply(mirror(principal)).unwrap(),
        Applied::Changed { .. }
    ));
    c
}

fn jobs(effects: &[ClaimEffect]) -> Vec<VoucherPostingJob> {
    effects
        .iter()
        .filter_map(|e| match e {
            ClaimEffect::Settled(j) => Some(j.clone()),
            _ => None,
        })
        .collect()
}

fn changed(a: Result<Applied, ClaimError>) -> Vec<ClaimEffect> {
    match a {
        Ok(Applied::Changed { effects }) => effects,
        other => panic!("expected Changed, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Ids and keys
// ---------------------------------------------------------------------------------------------

#[test]
fn claim_ids_parse_and_round_trip() {
    assert_eq!(ClaimId::invoice(42).unwrap().as_str(), "inv_42");
    assert_eq!(ClaimId::open_item(7).unwrap().as_str(), "item_7");
    assert_eq!(ClaimId::parse("inv_42").unwrap().invoice_id(), Some(42));
    assert_eq!(ClaimId::parse("item_42").unwrap().invoice_id(), None);
    for bad in [
        "",
        "inv_",
        "inv_0",
        "inv_01",
        "inv_-1",
        "foo_1",
        "inv_1a",
        "inv_99999999999999999999",
    ] {
        assert!(ClaimId::parse(bad).is_err(), "{bad}");
    }
    assert!(ClaimId::invoice(0).is_err());
    let json = serde_json::to_string(&claim_id()).unwrap();
    assert_eq!(json, "\"inv_1001\"");
    assert!(serde_json::from_str::<ClaimId>("\"x_1\"").is_err());
}

#[test]
fn event_keys_are_validated() {
    assert!(EventKey::new("posting:1:v2").is_ok());
    assert!(EventKey::new("").is_err());
    assert!(EventKey::new("has space").is_err());
    assert!(EventKey::new(&"x".repeat(201)).is_err());
    assert_eq!(
        EventKey::posting(PostingRef {
            id: 9,
            version: Some(3)
        })
        .as_str(),
        "posting:9:v3"
    );
}

// ---------------------------------------------------------------------------------------------
// Mirror and simple credits
// ---------------------------------------------------------------------------------------------

#[test]
fn mirrored_claim_is_open_with_full_outstanding() {
    let c = mirrored(kr(10_000));
    assert_eq!(c.status, ClaimStatus::Open);
    assert_eq!(c.amounts.principal_outstanding, kr(10_000));
    assert_eq!(c.amounts.outstanding, kr(10_000));
    assert_eq!(c.amounts.ledger_balance, kr(10_000));
    assert_eq!(c.customer_id(), Some(CUSTOMER));
    assert_eq!(c.version, 1);
    assert_eq!(c.timeline.len(), 1);
}

#[test]
fn part_payments_then_full_payment_closes_paid() {
    let mut c = mirrored(kr(10_000));
    changed(c.apply(credit(1, 601, "2026-02-01", kr(3_000), CreditKind::Payment)));
    assert_eq!(c.status, ClaimStatus::Open);
    assert_eq!(c.amounts.principal_outstanding, kr(7_000));
    changed(c.apply(credit(2, 602, "2026-02-10", kr(2_500), CreditKind::Payment)));
    assert_eq!(c.amounts.principal_outstanding, kr(4_500));
    assert_eq!(c.amounts.paid, kr(5_500));
    assert_eq!(c.status, ClaimStatus::Open);
    let eff = changed(c.apply(credit(3, 603, "2026-02-20", kr(4_500), CreditKind::Payment)));
    assert_eq!(c.status, ClaimStatus::ClosedPaid);
    assert_eq!(c.amounts.outstanding, Money::ZERO);
    assert_eq!(c.amounts.excess, Money::ZERO);
    assert!(eff.contains(&ClaimEffect::StatusChanged {
        from: ClaimStatus::Open,
        to: ClaimStatus::ClosedPaid
    }));
    assert_eq!(jobs(&eff).len(), 1);
    assert_eq!(c.timeline.len(), 4);
    assert_eq!(c.timeline.last().unwrap().status, ClaimStatus::ClosedPaid);
}

#[test]
fn full_credit_note_closes_credited_without_settlement_job() {
    let mut c = mirrored(kr(10_000));
    let eff = changed(c.apply(credit(
        1,
        601,
        "2026-02-01",
        kr(10_000),
        CreditKind::CreditNote,
    )));
    assert_eq!(c.status, ClaimStatus::ClosedCredited);
    assert_eq!(c.amounts.credited, kr(10_000));
    assert_eq!(c.amounts.outstanding, Money::ZERO);
    assert!(jobs(&eff).is_empty());
    assert!(c.settlements.is_empty());
}

#[test]
fn part_credit_note_reduces_and_rest_paid_closes_paid() {
    let mut c = mirrored(kr(10_000));
    changed(c.apply(credit(
        1,
        601,
        "2026-02-01",
        kr(4_000),
        CreditKind::CreditNote,
    )));
    assert_eq!(c.status, ClaimStatus::Open);
    assert_eq!(c.amounts.principal_outstanding, kr(6_000));
    let eff = changed(c.apply(credit(2, 602, "2026-02-02", kr(6_000), CreditKind::Payment)));
    assert_eq!(c.status, ClaimStatus::ClosedPaid);
    let job = &jobs(&eff)[0];
    assert_eq!(job.amounts.principal, kr(6_000));
}

#[test]
fn payment_then_full_credit_closes_credited_with_excess_to_refund() {
    let mut c = mirrored(kr(1_000));
    changed(c.apply(credit(1, 601, "2026-02-01", kr(300), CreditKind::Payment)));
    let eff = changed(c.apply(credit(
        2,
        602,
        "2026-02-05",
        kr(1_000),
        CreditKind::CreditNote,
    )));
    assert_eq!(c.status, ClaimStatus::ClosedCredited);
    assert_eq!(c.amounts.excess, kr(300));
    assert!(eff.contains(&ClaimEffect::Excess { total: kr(300) }));
    assert!(jobs(&eff).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Write-offs and recoveries
// ---------------------------------------------------------------------------------------------

#[test]
fn write_off_keeps_claim_open_and_collectible_with_outstanding_unchanged() {
    let mut c = mirrored(kr(10_000));
    changed(c.apply(credit(1, 601, "2026-02-01", kr(2_000), CreditKind::Payment)));
    let eff = changed(c.apply(credit(
        2,
        700,
        "2026-06-30",
        kr(8_000),
        CreditKind::WriteOff,
    )));
    assert_eq!(c.status, ClaimStatus::WrittenOff);
    assert!(c.status.is_collectible());
    assert!(!c.status.is_closed());
    // The debtor still owes what was left; Tripletex shows zero.
    assert_eq!(c.amounts.principal_outstanding, kr(8_000));
    assert_eq!(c.amounts.outstanding, kr(8_000));
    assert_eq!(c.amounts.written_off, kr(8_000));
    assert_eq!(c.amounts.ledger_balance, Money::ZERO);
    assert_eq!(
        c.write_offs(),
        vec![WriteOffRecord {
            amount: kr(8_000),
            date: d("2026-06-30"),
            voucher_id: 700,
            posting_id: 2,
            marker_missing: false,
        }]
    );
    assert!(jobs(&eff).is_empty());
    assert!(eff.contains(&ClaimEffect::StatusChanged {
        from: ClaimStatus::Open,
        to: ClaimStatus::WrittenOff
    }));
    // Still a case candidate.
    assert!(c.is_overdue_by(d("2026-07-01"), 14));
}

#[test]
fn write_off_flagged_marker_missing_still_counts_as_write_off() {
    let mut c = mirrored(kr(1_000));
    changed(c.apply(credit_flags(
        1,
        700,
        "2026-06-30",
        kr(1_000),
        CreditKind::WriteOff,
        vec![Flag::MarkerMissing],
    )));
    assert_eq!(c.status, ClaimStatus::WrittenOff);
    assert_eq!(c.amounts.outstanding, kr(1_000));
    assert!(c.write_offs()[0].marker_missing);
}

#[test]
fn payment_after_write_off_is_a_recovery() {
    let mut c = mirrored(kr(10_000));
    changed(c.apply(credit(
        1,
        700,
        "2026-06-30",
        kr(10_000),
        CreditKind::WriteOff,
    )));
    let eff = changed(c.apply(credit(2, 801, "2026-08-01", kr(4_000), CreditKind::Payment)));
    assert_eq!(c.amounts.recovered, kr(4_000));
    assert!(eff.contains(&ClaimEffect::Recovered { total: kr(4_000) }));
    assert_eq!(c.status, ClaimStatus::WrittenOff);
    assert_eq!(c.amounts.outstanding, kr(6_000));
    match &c.timeline.last().unwrap().change {
        ClaimChange::Credit { recovery, .. } => assert!(*recovery),
        other => panic!("{other:?}"),
    }
    let eff = changed(c.apply(credit(3, 802, "2026-09-01", kr(6_000), CreditKind::Payment)));
    assert_eq!(c.status, ClaimStatus::ClosedPaid);
    assert_eq!(c.amounts.recovered, kr(10_000));
    let job = &jobs(&eff)[0];
    assert_eq!(job.amounts.recovered, kr(10_000));
    assert!(job.needs_posting());
}

#[test]
fn payment_dated_before_write_off_is_not_a_recovery_even_when_it_arrives_later() {
    let mut c = mirrored(kr(10_000));
    changed(c.apply(credit(
        2,
        700,
        "2026-06-30",
        kr(10_000),
        CreditKind::WriteOff,
    )));
    changed(c.apply(credit(1, 601, "2026-03-01", kr(1_000), CreditKind::Payment)));
    assert_eq!(c.amounts.recovered, Money::ZERO);
    assert_eq!(c.amounts.outstanding, kr(9_000));
    // ...while one dated after it, arriving before the write-off, is.
    let mut c = mirrored(kr(10_000));
    changed(c.apply(credit(1, 801, "2026-08-01", kr(1_000), CreditKind::Payment)));
    assert_eq!(c.amounts.recovered, Money::ZERO);
    let eff = changed(c.apply(credit(
        2,
        700,
        "2026-06-30",
        kr(9_000),
        CreditKind::WriteOff,
    )));
    assert_eq!(c.amounts.recovered, kr(1_000));
    assert!(eff.contains(&ClaimEffect::Recovered { total: kr(1_000) }));
}

#[test]
fn write_off_before_first_sync_with_mirror_first() {
    // The invoice is already closed in Tripletex (netted by the write-off) when first synced.
    let mut c = empty();
    let out = c.apply_batch(vec![
        mirror(kr(5_000)),
        credit(1, 700, "2025-11-30", kr(5_000), CreditKind::WriteOff),
    ]);
    assert!(out.held.is_empty());
    assert_eq!(c.status, ClaimStatus::WrittenOff);
    assert_eq!(c.amounts.outstanding, kr(5_000));
    assert_eq!(c.amounts.ledger_balance, Money::ZERO);
}

#[test]
fn write_off_before_first_sync_with_write_off_first_in_batch() {
    let mut c = empty();
    let out = c.apply_batch(vec![
        credit(1, 700, "2025-11-30", kr(5_000), CreditKind::WriteOff),
        mirror(kr(5_000)),
    ]);
    assert!(out.held.is_empty(), "{:?}", out.held);
    assert_eq!(out.results.len(), 2);
    assert!(out
        .results
        .iter()
        .all(|(_, r)| matches!(r, Ok(Applied::Changed { .. }))));
    assert_eq!(c.status, ClaimStatus::WrittenOff);
    assert_eq!(c.amounts.outstanding, kr(5_000));
    assert!(out.effects().contains(&ClaimEffect::StatusChanged {
        from: ClaimStatus::Open,
        to: ClaimStatus::WrittenOff
    }));
}

#[test]
fn reversed_write_off_makes_it_plainly_open_again() {
    let mut c = mirrored(kr(1_000));
    changed(c.apply(credit(
        1,
        700,
        "2026-06-30",
        kr(1_000),
        CreditKind::WriteOff,
    )));
    changed(c.apply(reversal(701, 700, "2026-07-02")));
    assert_eq!(c.status, ClaimStatus::Open);
    assert_eq!(c.amounts.written_off, Money::ZERO);
    assert_eq!(c.amounts.ledger_balance, kr(1_000));
}

// ---------------------------------------------------------------------------------------------
// Idempotency and order
// ---------------------------------------------------------------------------------------------

#[test]
fn the_same_event_twice_is_a_duplicate_and_changes_nothing() {
    let mut c = mirrored(kr(10_000));
    let ev = credit(1, 601, "2026-02-01", kr(10_000), CreditKind::Payment);
    let eff = changed(c.apply(ev.clone()));
    assert_eq!(jobs(&eff).len(), 1);
    let snapshot = c.clone();
    assert_eq!(c.apply(ev.clone()).unwrap(), Applied::Duplicate);
    assert_eq!(c, snapshot);
    assert_eq!(c.apply(mirror(kr(10_000))).unwrap(), Applied::Duplicate);
    assert_eq!(c, snapshot);
    // Through serde, as the adapter stores it, too.
    let mut back: ClaimState = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
    assert_eq!(back, c);
    assert_eq!(back.apply(ev).unwrap(), Applied::Duplicate);
    assert_eq!(back, snapshot);
}

#[test]
fn same_posting_under_a_new_version_is_not_counted_twice() {
    let mut c = mirrored(kr(10_000));
    changed(c.apply(credit(1, 601, "2026-02-01", kr(3_000), CreditKind::Payment)));
    // Tripletex bumps the posting's version when it is matched; same content.
    let mut ev = credit(1, 601, "2026-02-01", kr(3_000), CreditKind::Payment);
    if let ClaimEventKind::Credit(cr) = &mut ev.event {
        cr.posting.version = Some(2);
    }
    let ev = ClaimEvent::credit(match ev.event {
        ClaimEventKind::Credit(cr) => cr,
        _ => unreachable!(),
    });
    changed(c.apply(ev));
    assert_eq!(c.amounts.paid, kr(3_000));
    assert_eq!(c.credits.len(), 1);
    // The older version arriving late is stale.
    let old = credit(1, 601, "2026-02-01", kr(3_000), CreditKind::Payment);
    let mut c2 = c.clone();
    assert_eq!(c2.apply(old).unwrap(), Applied::Duplicate);
    // A corrected amount in a newer version replaces the old one.
    let mut cr = match credit(1, 601, "2026-02-01", kr(3_500), CreditKind::Payment).event {
        ClaimEventKind::Credit(cr) => cr,
        _ => unreachable!(),
    };
    cr.posting.version = Some(3);
    changed(c.apply(ClaimEvent::credit(cr.clone())));
    assert_eq!(c.amounts.paid, kr(3_500));
    cr.posting.version = Some(2);
    cr.amount = kr(1);
    assert_eq!(
        c.apply(ClaimEvent::new(
            EventKey::new("other-key").unwrap(),
            ClaimEventKind::Credit(cr)
        ))
        .unwrap(),
        Applied::Stale
    );
    assert_eq!(c.amounts.paid, kr(3_500));
}

#[test]
fn credit_before_mirror_is_held_then_applies_after_mirror() {
    let mut c = empty();
    let pay = credit(1, 601, "2026-02-01", kr(4_000), CreditKind::Payment);
    let snapshot = c.clone();
    assert_eq!(c.apply(pay.clone()).unwrap(), Applied::HoldUntilMirrored);
    assert_eq!(c, snapshot, "a held event records nothing");
    assert_eq!(c.status, ClaimStatus::Unmirrored);
    changed(c.apply(mirror(kr(10_000))));
    // The worker's retry.
    changed(c.apply(pay.clone()));
    assert_eq!(c.amounts.paid, kr(4_000));
    assert_eq!(c.amounts.outstanding, kr(6_000));
    assert_eq!(c.apply(pay).unwrap(), Applied::Duplicate);
}

#[test]
fn batch_keeps_what_is_still_held() {
    let mut c = empty();
    let out = c.apply_batch(vec![credit(
        1,
        601,
        "2026-02-01",
        kr(4_000),
        CreditKind::Payment,
    )]);
    assert!(out.results.is_empty());
    assert_eq!(out.held.len(), 1);
    assert_eq!(out.held[0].1, Applied::HoldUntilMirrored);
    assert_eq!(c.version, 0);
}

#[test]
fn reversal_before_its_payment_is_held_until_referenced() {
    let mut c = mirrored(kr(1_000));
    assert_eq!(
        c.apply(reversal(650, 601, "2026-02-03")).unwrap(),
        Applied::HoldUntilReferenced { voucher_id: 601 }
    );
    let out = c.apply_batch(vec![
        reversal(650, 601, "2026-02-03"),
        credit(1, 601, "2026-02-01", kr(1_000), CreditKind::Payment),
    ]);
    assert!(out.held.is_empty());
    assert_eq!(c.status, ClaimStatus::Open);
    assert_eq!(c.amounts.paid, Money::ZERO);
    // The payment closed it and emitted a job; the reversal undid that settlement.
    let effects = out.effects();
    assert_eq!(jobs(&effects).len(), 1);
    assert!(effects.iter().any(|e| matches!(
        e,
        ClaimEffect::SettlementUndone {
            settlement_version: 1,
            ..
        }
    )));
}

#[test]
fn mirror_updates_only_forward() {
    let mut c = mirrored(kr(1_000));
    changed(c.apply(mirror_v(kr(1_200), 3)));
    assert_eq!(c.amounts.principal, kr(1_200));
    assert_eq!(c.apply(mirror_v(kr(900), 2)).unwrap(), Applied::Stale);
    assert_eq!(c.amounts.principal, kr(1_200));
    // A newer version with the same facts (a voucher booked onto the invoice): nothing changes,
    // nothing goes on the timeline; a later real change still applies.
    let entries = c.timeline.len();
    assert_eq!(c.apply(mirror_v(kr(1_200), 4)).unwrap(), Applied::Stale);
    assert_eq!(c.timeline.len(), entries);
    changed(c.apply(mirror_v(kr(1_300), 5)));
    assert_eq!(c.amounts.principal, kr(1_300));
}

// ---------------------------------------------------------------------------------------------
// Reversals
// ---------------------------------------------------------------------------------------------

#[test]
fn reversal_of_a_payment_reopens_and_undoes_the_settlement() {
    let mut c = mirrored(kr(1_000));
    let eff = changed(c.apply(credit(1, 601, "2026-02-01", kr(1_000), CreditKind::Payment)));
    assert_eq!(c.status, ClaimStatus::ClosedPaid);
    let first = jobs(&eff)[0].clone();
    assert_eq!(first.settlement_version, 1);

    let eff = changed(c.apply(reversal(650, 601, "2026-02-03")));
    assert_eq!(c.status, ClaimStatus::Open);
    assert_eq!(c.amounts.outstanding, kr(1_000));
    assert!(eff.contains(&ClaimEffect::StatusChanged {
        from: ClaimStatus::ClosedPaid,
        to: ClaimStatus::Open
    }));
    assert!(eff.contains(&ClaimEffect::SettlementUndone {
        settlement_version: 1,
        idempotency_key: first.idempotency_key.clone()
    }));
    assert!(c.credits[0].reversed_by == Some(650));

    // Paid again: a new settlement version with a new key.
    let eff = changed(c.apply(credit(2, 660, "2026-02-10", kr(1_000), CreditKind::Payment)));
    let second = jobs(&eff)[0].clone();
    assert_eq!(second.settlement_version, 2);
    assert_ne!(second.idempotency_key, first.idempotency_key);
    assert_eq!(c.settlements.len(), 2);
    assert!(c.settlements[0].undone);
}

#[test]
fn reversal_of_the_invoice_voucher_closes_credited() {
    let mut c = mirrored(kr(1_000));
    changed(c.apply(reversal(900, INVOICE_VOUCHER, "2026-02-03")));
    assert_eq!(c.status, ClaimStatus::ClosedCredited);
    assert_eq!(c.amounts.outstanding, Money::ZERO);
    assert_eq!(c.amounts.ledger_balance, Money::ZERO);
}

#[test]
fn reversal_of_a_reversal_and_conflicting_reversals_are_refused() {
    let mut c = mirrored(kr(1_000));
    changed(c.apply(credit(1, 601, "2026-02-01", kr(400), CreditKind::Payment)));
    changed(c.apply(reversal(650, 601, "2026-02-03")));
    let snapshot = c.clone();
    assert_eq!(
        c.apply(reversal(651, 650, "2026-02-04")),
        Err(ClaimError::ReversalOfReversal { voucher_id: 650 })
    );
    let conflicting = ClaimEvent::new(
        EventKey::new("reversal:650:again").unwrap(),
        ClaimEventKind::Reversal(Reversal {
            voucher_id: 650,
            reverses_voucher_id: 602,
            date: d("2026-02-03"),
        }),
    );
    assert_eq!(
        c.apply(conflicting),
        Err(ClaimError::ReversalConflict { voucher_id: 650 })
    );
    assert_eq!(c, snapshot);
}

// ---------------------------------------------------------------------------------------------
// Unknown credits and review
// ---------------------------------------------------------------------------------------------

#[test]
fn unknown_credit_is_held_for_review_and_not_counted_as_payment() {
    let mut c = mirrored(kr(1_000));
    let eff = changed(c.apply(credit(1, 601, "2026-02-01", kr(1_000), CreditKind::Unknown)));
    assert_eq!(c.status, ClaimStatus::Open);
    assert_eq!(c.amounts.paid, Money::ZERO);
    assert_eq!(c.amounts.outstanding, kr(1_000));
    assert_eq!(c.amounts.pending_review, kr(1_000));
    assert!(jobs(&eff).is_empty());
    assert!(eff
        .iter()
        .any(|e| matches!(e, ClaimEffect::ReviewNeeded { posting_id: 1, .. })));
    assert_eq!(c.credits[0].treatment, Treatment::PendingReview);
}

#[test]
fn review_flagged_credits_are_held_even_with_a_kind() {
    let mut c = mirrored(kr(1_000));
    changed(c.apply(credit_flags(
        1,
        601,
        "2026-02-01",
        kr(1_000),
        CreditKind::WriteOff,
        vec![Flag::MixedPaymentAndWriteOff],
    )));
    assert_eq!(c.amounts.written_off, Money::ZERO);
    assert_eq!(c.amounts.pending_review, kr(1_000));
    assert_eq!(c.status, ClaimStatus::Open);
}

#[test]
fn review_decision_resolves_a_held_credit() {
    let mut c = mirrored(kr(1_000));
    changed(c.apply(credit(1, 601, "2026-02-01", kr(1_000), CreditKind::Unknown)));
    let at: DateTime<Utc> = "2026-02-05T10:00:00Z".parse().unwrap();
    let decide = |resolution: Resolution, by: &str, key: &str| {
        ClaimEvent::new(
            EventKey::new(key).unwrap(),
            ClaimEventKind::ReviewDecision(ReviewDecision {
                posting_id: 1,
                resolution,
                decided_by: by.into(),
                decided_at: at,
            }),
        )
    };
    assert_eq!(
        c.apply(decide(
            Resolution::Split {
                payment: kr(300),
                write_off: kr(600)
            },
            "user-1",
            "review:1:a"
        )),
        Err(ClaimError::SplitDoesNotAddUp {
            amount: kr(1_000),
            payment: kr(300),
            write_off: kr(600)
        })
    );
    assert_eq!(
        c.apply(decide(Resolution::Payment, " ", "review:1:b")),
        Err(ClaimError::BlankReviewer)
    );
    changed(c.apply(decide(
        Resolution::Split {
            payment: kr(300),
            write_off: kr(700),
        },
        "user-1",
        "review:1:c",
    )));
    assert_eq!(c.amounts.paid, kr(300));
    assert_eq!(c.amounts.written_off, kr(700));
    assert_eq!(
        c.amounts.recovered,
        Money::ZERO,
        "the split's payment is not a recovery"
    );
    assert_eq!(c.amounts.pending_review, Money::ZERO);
    assert_eq!(c.status, ClaimStatus::WrittenOff);
    assert_eq!(c.amounts.outstanding, kr(700));
    assert_eq!(
        c.apply(decide(Resolution::Payment, "user-1", "review:1:d")),
        Err(ClaimError::NotPendingReview { posting_id: 1 })
    );
}

// ---------------------------------------------------------------------------------------------
// Overpayment, negative amounts, charges
// ---------------------------------------------------------------------------------------------

#[test]
fn overpayment_closes_paid_and_reports_the_excess() {
    let mut c = mirrored(kr(1_000));
    let eff = changed(c.apply(credit(1, 601, "2026-02-01", kr(1_250), CreditKind::Payment)));
    assert_eq!(c.status, ClaimStatus::ClosedPaid);
    assert_eq!(c.amounts.excess, kr(250));
    assert!(eff.contains(&ClaimEffect::Excess { total: kr(250) }));
    let job = &jobs(&eff)[0];
    assert_eq!(job.amounts.excess, kr(250));
    assert_eq!(job.amounts.principal, kr(1_000));
}

#[test]
fn negative_and_zero_amounts_are_refused_and_change_nothing() {
    let mut c = mirrored(kr(1_000));
    let snapshot = c.clone();
    assert!(matches!(
        c.apply(credit(
            1,
            601,
            "2026-02-01",
            Money::from_kroner(-5),
            CreditKind::Payment
        )),
        Err(ClaimError::NegativeAmount {
            field: "amount",
            ..
        })
    ));
    assert!(matches!(
        c.apply(credit(
            1,
            601,
            "2026-02-01",
            Money::ZERO,
            CreditKind::Payment
        )),
        Err(ClaimError::NonPositiveAmount {
            field: "amount",
            ..
        })
    ));
    assert_eq!(c, snapshot);
    let mut e = empty();
    assert!(matches!(
        e.apply(mirror(Money::from_kroner(-100))),
        Err(ClaimError::NonPositiveAmount {
            field: "principal",
            ..
        })
    ));
    assert_eq!(e.status, ClaimStatus::Unmirrored);
}

#[test]
fn mirror_of_another_invoice_or_customer_is_refused() {
    let mut c = empty();
    let mut ev = mirror(kr(1_000));
    if let ClaimEventKind::Mirrored(m) = &mut ev.event {
        m.invoice_id = Some(9999);
    }
    assert!(matches!(
        c.apply(ev),
        Err(ClaimError::MirrorMismatch { .. })
    ));
    let mut c = mirrored(kr(1_000));
    let mut ev = mirror_v(kr(1_000), 2);
    if let ClaimEventKind::Mirrored(m) = &mut ev.event {
        m.customer_id = 1;
    }
    assert_eq!(
        c.apply(ev),
        Err(ClaimError::CustomerChanged {
            from: CUSTOMER,
            to: 1
        })
    );
}

#[test]
fn settled_in_full_needs_the_demanded_interest_and_fees_too() {
    let mut c = mirrored(kr(1_000));
    changed(c.apply(ClaimEvent::new(
        EventKey::new("letter:purring-1").unwrap(),
        ClaimEventKind::ChargesDemanded(ChargesDemanded {
            reference: "purring-1".into(),
            date: d("2026-02-05"),
            interest: Money::from_ore(1_234),
            fees: kr(35),
        }),
    )));
    assert_eq!(c.amounts.outstanding, Money::from_ore(104_734));
    let eff = changed(c.apply(credit(1, 601, "2026-02-10", kr(1_000), CreditKind::Payment)));
    assert_eq!(
        c.status,
        ClaimStatus::Open,
        "principal paid, charges still owed"
    );
    assert_eq!(c.amounts.principal_outstanding, Money::ZERO);
    assert!(jobs(&eff).is_empty());
    let eff = changed(c.apply(credit(
        2,
        602,
        "2026-02-20",
        Money::from_ore(4_734),
        CreditKind::Payment,
    )));
    assert_eq!(c.status, ClaimStatus::ClosedPaid);
    let job = &jobs(&eff)[0];
    assert_eq!(job.amounts.principal, kr(1_000));
    assert_eq!(job.amounts.fees, kr(35));
    assert_eq!(job.amounts.interest, Money::from_ore(1_234));
    assert_eq!(job.settled_on, d("2026-02-20"));
    // The same letter's charges under another key are not added twice.
    let again = ClaimEvent::new(
        EventKey::new("letter:purring-1:retry").unwrap(),
        ClaimEventKind::ChargesDemanded(c.charges[0].clone()),
    );
    assert_eq!(c.apply(again).unwrap(), Applied::Stale);
}

// ---------------------------------------------------------------------------------------------
// Settlement hand-off
// ---------------------------------------------------------------------------------------------

#[test]
fn settlement_job_is_emitted_exactly_once_with_a_deterministic_key() {
    let events = vec![
        mirror(kr(1_000)),
        credit(1, 601, "2026-02-01", kr(600), CreditKind::Payment),
        credit(2, 602, "2026-02-02", kr(400), CreditKind::Payment),
        credit(3, 603, "2026-02-03", kr(50), CreditKind::Payment),
    ];
    let run = |evs: Vec<ClaimEvent>| {
        let mut c = empty();
        let mut all = Vec::new();
        // Every event delivered twice (at-least-once).
        for e in evs {
            all.extend(c.apply(e.clone()).unwrap().effects().to_vec());
            all.extend(c.apply(e).unwrap().effects().to_vec());
        }
        jobs(&all)
    };
    let a = run(events.clone());
    assert_eq!(a.len(), 1);
    let job = &a[0];
    assert_eq!(
        job.idempotency_key,
        "settle:acc_01hzy3k9q7m2v8x4c6n5b1t0ra:inv_1001:1"
    );
    assert_eq!(
        job.idempotency_key,
        VoucherPostingJob::key(&account(), &claim_id(), 1)
    );
    assert_eq!(job.settlement_version, 1);
    assert_eq!(job.org, org());
    assert_eq!(job.customer_id, CUSTOMER);
    assert_eq!(job.invoice_id, Some(INVOICE));
    assert_eq!(
        job.settled_on,
        d("2026-02-02"),
        "the later overpayment does not move it"
    );
    // Same events, other order: same job.
    let mut rev = events.clone();
    rev.reverse();
    let mut c = empty();
    let out = c.apply_batch(rev);
    let b = jobs(&out.effects());
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].idempotency_key, job.idempotency_key);
    // Serialised in camelCase for the queue.
    let json = serde_json::to_value(job).unwrap();
    assert_eq!(json["accountId"], "acc_01hzy3k9q7m2v8x4c6n5b1t0ra");
    assert_eq!(json["claimId"], "inv_1001");
    assert_eq!(json["settlementVersion"], 1);
    assert_eq!(json["amounts"]["principal"], "1000.00");
    assert_eq!(json["idempotencyKey"], job.idempotency_key.as_str());
    let back: VoucherPostingJob = serde_json::from_value(json).unwrap();
    assert_eq!(&back, job);
}

#[test]
fn bare_principal_settlement_needs_no_voucher() {
    let mut c = mirrored(kr(1_000));
    let eff = changed(c.apply(credit(1, 601, "2026-02-01", kr(1_000), CreditKind::Payment)));
    assert!(!jobs(&eff)[0].needs_posting());
}

// ---------------------------------------------------------------------------------------------
// From the classifier, overdue, serde
// ---------------------------------------------------------------------------------------------

#[test]
fn events_from_the_classifier() {
    let write_off = classify(&CreditEvidence {
        voucher_description: Some("Tap på fordring faktura 10023".into()),
        counter_postings: vec![CounterPosting {
            account_number: 7830,
            account_name: None,
            amount: dec!(1000),
        }],
        ..Default::default()
    });
    assert_eq!(write_off.kind, CreditKind::WriteOff);
    let p = PostingRef {
        id: 5,
        version: Some(1),
    };
    let ev =
        ClaimEventKind::from_classified(&write_off, p, 700, None, d("2026-06-30"), kr(1_000), None)
            .unwrap();
    let mut c = mirrored(kr(1_000));
    changed(c.apply(ClaimEvent::new(EventKey::posting(p), ev)));
    assert_eq!(c.status, ClaimStatus::WrittenOff);

    let rev = classify(&CreditEvidence {
        reverses_voucher_id: Some(700),
        ..Default::default()
    });
    assert_eq!(rev.kind, CreditKind::Reversal);
    assert_eq!(
        ClaimEventKind::from_classified(&rev, p, 701, None, d("2026-07-01"), kr(1_000), None),
        Err(ClaimError::ReversalWithoutTarget)
    );
    let ev =
        ClaimEventKind::from_classified(&rev, p, 701, Some(700), d("2026-07-01"), kr(1_000), None)
            .unwrap();
    assert!(matches!(ev, ClaimEventKind::Reversal(_)));
    changed(c.apply(ClaimEvent::new(EventKey::reversal(701), ev)));
    assert_eq!(c.status, ClaimStatus::Open);
    // A reversal sent as a plain credit is refused.
    assert_eq!(
        c.apply(credit(9, 702, "2026-07-01", kr(1), CreditKind::Reversal)),
        Err(ClaimError::ReversalAsCredit { posting_id: 9 })
    );
}

#[test]
fn overdue_counts_from_the_business_day_due_date() {
    // Due Saturday 2026-01-17 → effective Monday 2026-01-19.
    let mut c = empty();
    let mut ev = mirror(kr(1_000));
    if let ClaimEventKind::Mirrored(m) = &mut ev.event {
        m.due_date = d("2026-01-17");
    }
    changed(c.apply(ev));
    assert_eq!(c.effective_due_date(), Some(d("2026-01-19")));
    assert!(
        !c.is_overdue_by(d("2026-01-19"), 0),
        "never on the due date"
    );
    assert!(c.is_overdue_by(d("2026-01-20"), 0));
    assert!(c.is_overdue_by(d("2026-01-20"), 1));
    assert!(!c.is_overdue_by(d("2026-02-01"), 14));
    assert!(c.is_overdue_by(d("2026-02-02"), 14));
    changed(c.apply(credit(1, 601, "2026-01-25", kr(1_000), CreditKind::Payment)));
    assert!(
        !c.is_overdue_by(d("2026-03-01"), 1),
        "closed claims are not overdue"
    );
    assert!(!empty().is_overdue_by(d("2026-03-01"), 1));
    assert_eq!(c.case_opens_on(14), Some(d("2026-02-02")));
    assert_eq!(c.case_opens_on(0), Some(d("2026-01-20")));
    assert_eq!(empty().case_opens_on(14), None);
}

fn mirror_with(
    principal: Money,
    version: i64,
    cross_check: Option<CrossCheck>,
    key: &str,
) -> ClaimEvent {
    let mut m = match mirror_v(principal, version).event {
        ClaimEventKind::Mirrored(m) => m,
        _ => unreachable!(),
    };
    m.cross_check = cross_check;
    ClaimEvent::new(EventKey::new(key).unwrap(), ClaimEventKind::Mirrored(m))
}

#[test]
fn tripletex_at_odds_with_the_credits_holds_the_claim_for_review_without_changing_what_is_owed() {
    // Invoice of 4 200 written off by a manual voucher never matched to it: the sync saw
    // amountOutstanding 4 200 while the credits leave 0.
    let x = CrossCheck {
        tripletex_outstanding: kr(4200),
        derived_balance: Money::ZERO,
    };
    let mut c = empty();
    changed(c.apply(mirror_with(kr(4200), 3, Some(x), "mirror:inv_1001:h1")));
    changed(c.apply(credit(1, 601, "2026-05-20", kr(4200), CreditKind::WriteOff)));
    assert_eq!(c.amounts.outstanding, kr(4200), "owed once, never 8 400");
    assert_eq!(c.amounts.written_off, kr(4200));
    assert_eq!(c.amounts.ledger_balance, Money::ZERO);
    assert_eq!(c.status, ClaimStatus::WrittenOff);
    assert!(c.needs_review());
    let reasons = c.review_reasons();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert_eq!(reasons[0].code, ReviewCode::SourcesDisagree);
    assert_eq!(reasons[0].cross_check, Some(x));
    assert!(
        reasons[0].message.contains("4200.00") && reasons[0].message.contains("0.00"),
        "{}",
        reasons[0].message
    );
    let json = serde_json::to_value(&reasons[0]).unwrap();
    assert_eq!(json["code"], "sources_disagree");
    assert_eq!(json["crossCheck"]["tripletexOutstanding"], "4200.00");

    // An older invoice version is stale, whatever its cross-check says.
    assert_eq!(
        c.apply(mirror_with(kr(4200), 2, None, "mirror:inv_1001:h0"))
            .unwrap(),
        Applied::Stale
    );
    assert!(c.needs_review());
    // Matched in Tripletex later: the same invoice version, the cross-check clears.
    changed(c.apply(mirror_with(kr(4200), 3, None, "mirror:inv_1001:h2")));
    assert!(!c.needs_review());
    assert!(c.review_reasons().is_empty());
    assert_eq!(c.amounts.outstanding, kr(4200));
    assert!(matches!(
        c.timeline.last().unwrap().change,
        ClaimChange::MirrorUpdated {
            cross_check: None,
            ..
        }
    ));
    // The same version with other facts is still stale (only the cross-check follows).
    assert_eq!(
        c.apply(mirror_with(kr(9999), 3, None, "mirror:inv_1001:h3"))
            .unwrap(),
        Applied::Stale
    );
    assert_eq!(c.amounts.principal, kr(4200));
}

#[test]
fn a_credit_held_for_review_is_a_readable_reason() {
    let mut c = mirrored(kr(10_000));
    changed(c.apply(credit_flags(
        7,
        607,
        "2026-03-01",
        kr(2_000),
        CreditKind::Payment,
        vec![Flag::PossibleWriteOff],
    )));
    let reasons = c.review_reasons();
    assert_eq!(reasons.len(), 1);
    assert_eq!(reasons[0].code, ReviewCode::CreditPendingReview);
    assert_eq!(reasons[0].posting_id, Some(7));
    assert!(
        reasons[0].message.contains("2000.00") && reasons[0].message.contains("possible_write_off"),
        "{}",
        reasons[0].message
    );
    assert!(c.needs_review());
    assert_eq!(c.amounts.outstanding, kr(10_000));
}

#[test]
fn mirrors_and_claims_stored_before_the_cross_check_still_read() {
    let m: Mirror = serde_json::from_value(serde_json::json!({
        "invoiceId": 1001, "invoiceNumber": "10023", "voucherId": 500, "customerId": 77,
        "principal": "4200.00", "invoiceDate": "2026-01-05", "dueDate": "2026-01-19",
        "dueDateEstimated": false, "version": 1
    }))
    .unwrap();
    assert_eq!(m.cross_check, None);
    let change: ClaimChange = serde_json::from_value(serde_json::json!({
        "type": "mirrored", "principal": "4200.00", "dueDate": "2026-01-19"
    }))
    .unwrap();
    assert!(matches!(
        change,
        ClaimChange::Mirrored {
            cross_check: None,
            ..
        }
    ));
    // Without a cross-check nothing new is written either.
    let c = mirrored(kr(4200));
    let json = serde_json::to_string(&c).unwrap();
    assert!(!json.contains("crossCheck"), "{json}");
}

#[test]
fn without_versions_content_decides() {
    // Open items and hash-keyed sync events carry no Tripletex version.
    let mut c = empty();
    let mut m = match mirror(kr(1_000)).event {
        ClaimEventKind::Mirrored(m) => m,
        _ => unreachable!(),
    };
    m.version = None;
    changed(c.apply(ClaimEvent::mirrored(&claim_id(), m.clone())));
    let same = ClaimEvent::new(
        EventKey::new("mirror:other-key").unwrap(),
        ClaimEventKind::Mirrored(m.clone()),
    );
    assert_eq!(c.apply(same).unwrap(), Applied::Stale);
    m.principal = kr(1_100);
    changed(c.apply(ClaimEvent::mirrored(&claim_id(), m)));
    assert_eq!(c.amounts.principal, kr(1_100));

    let mut cr = match credit(1, 601, "2026-02-01", kr(300), CreditKind::Payment).event {
        ClaimEventKind::Credit(cr) => cr,
        _ => unreachable!(),
    };
    cr.posting.version = None;
    changed(c.apply(ClaimEvent::new(
        EventKey::new("credit:1:haaa").unwrap(),
        ClaimEventKind::Credit(cr.clone()),
    )));
    assert_eq!(
        c.apply(ClaimEvent::new(
            EventKey::new("credit:1:hbbb").unwrap(),
            ClaimEventKind::Credit(cr.clone())
        ))
        .unwrap(),
        Applied::Stale
    );
    assert_eq!(c.amounts.paid, kr(300));
    // The sync learns the voucher was reversed: the same posting with `reversedBy`.
    cr.reversed_by = Some(650);
    changed(c.apply(ClaimEvent::new(
        EventKey::new("credit:1:hccc").unwrap(),
        ClaimEventKind::Credit(cr),
    )));
    assert_eq!(c.amounts.paid, Money::ZERO);
    assert_eq!(c.credits.len(), 1);
    assert_eq!(c.credits[0].reversed_by, Some(650));
}

#[test]
fn state_serialises_in_camel_case() {
    let mut c = mirrored(kr(1_000));
    changed(c.apply(credit(
        1,
        700,
        "2026-06-30",
        kr(1_000),
        CreditKind::WriteOff,
    )));
    let v = serde_json::to_value(&c).unwrap();
    assert_eq!(v["status"], "writtenOff");
    assert_eq!(v["amounts"]["writtenOff"], "1000.00");
    assert_eq!(v["amounts"]["principalOutstanding"], "1000.00");
    assert_eq!(v["claimId"], "inv_1001");
    assert_eq!(v["credits"][0]["treatment"]["as"], "writeOff");
    assert_eq!(v["timeline"][1]["change"]["type"], "credit");
    assert!(v["appliedKeys"].as_array().unwrap().len() == 2);
    let back: ClaimState = serde_json::from_value(v).unwrap();
    assert_eq!(back, c);
}

// ---------------------------------------------------------------------------------------------
// Property: arrival order does not matter
// ---------------------------------------------------------------------------------------------

fn arb_kind() -> impl Strategy<Value = (CreditKind, Vec<Flag>)> {
    prop_oneof![
        4 => Just((CreditKind::Payment, vec![])),
        2 => Just((CreditKind::CreditNote, vec![])),
        2 => Just((CreditKind::WriteOff, vec![])),
        1 => Just((CreditKind::WriteOff, vec![Flag::MarkerMissing])),
        1 => Just((CreditKind::Unknown, vec![])),
        1 => Just((CreditKind::Payment, vec![Flag::ConflictingEvidence])),
    ]
}

/// Credits on distinct vouchers (some dated the same day), with reversals of some of them.
fn arb_events() -> impl Strategy<Value = Vec<ClaimEvent>> {
    prop::collection::vec((arb_kind(), 1i64..=60_000, 0u32..40, any::<bool>()), 1..9).prop_map(
        |specs| {
            let base = d("2026-02-01");
            let mut evs = Vec::new();
            for (i, ((kind, flags), ore, day, reverse)) in specs.into_iter().enumerate() {
                let i = i as i64;
                let voucher = 600 + i;
                let date = base + chrono::Duration::days(i64::from(day));
                evs.push(ClaimEvent::credit(Credit {
                    posting: PostingRef {
                        id: 10 + i,
                        version: Some(1),
                    },
                    voucher_id: voucher,
                    date,
                    amount: Money::from_ore(ore * 10),
                    kind,
                    flags,
                    description: None,
                    reversed_by: None,
                }));
                if reverse {
                    evs.push(ClaimEvent::reversal(Reversal {
                        voucher_id: 900 + i,
                        reverses_voucher_id: voucher,
                        date: date + chrono::Duration::days(3),
                    }));
                }
            }
            evs
        },
    )
}

proptest! {
    #[test]
    fn any_arrival_order_gives_the_same_amounts(
        (events, shuffled) in arb_events().prop_flat_map(|evs| (Just(evs.clone()), Just(evs).prop_shuffle())),
        principal_ore in 1i64..=500_000,
        twice in any::<bool>(),
    ) {
        let principal = Money::from_ore(principal_ore * 10);
        let run = |evs: &[ClaimEvent]| {
            let mut c = mirrored(principal);
            let mut list: Vec<ClaimEvent> = evs.to_vec();
            if twice {
                list.extend(evs.iter().cloned());
            }
            let out = c.apply_batch(list);
            prop_assert!(out.held.is_empty(), "held: {:?}", out.held);
            for (_, r) in &out.results {
                prop_assert!(r.is_ok(), "{:?}", r);
            }
            let settled = jobs(&out.effects()).len() - out.effects().iter().filter(|e| matches!(e, ClaimEffect::SettlementUndone{..})).count();
            Ok((c.amounts.clone(), c.status, settled))
        };
        let a = run(&events)?;
        let b = run(&shuffled)?;
        prop_assert_eq!(&a.0, &b.0);
        prop_assert_eq!(a.1, b.1);
        // In force at the end: one settlement exactly when closed paid.
        prop_assert_eq!(a.2, usize::from(a.1 == ClaimStatus::ClosedPaid));
        prop_assert_eq!(b.2, usize::from(b.1 == ClaimStatus::ClosedPaid));
        // The invariants hold.
        let m = &a.0;
        prop_assert!(m.recovered <= m.written_off);
        prop_assert!(m.recovered <= m.paid);
        prop_assert!(!m.outstanding.is_negative());
        prop_assert!(!m.excess.is_negative());
        prop_assert_eq!(
            m.ledger_balance,
            m.principal - m.credited - m.paid - m.written_off - m.pending_review
        );
        if a.1 != ClaimStatus::ClosedCredited {
            // principal = outstanding principal + credited + paid to principal
            prop_assert_eq!(
                m.principal_outstanding + m.credited + m.paid - m.excess,
                m.principal
            );
        }
    }
}
