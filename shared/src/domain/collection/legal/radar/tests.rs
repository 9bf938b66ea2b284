use super::*;
use crate::domain::case::{Actor, Case};
use crate::domain::claim::{ClaimEvent, ClaimId, Credit, Mirror, PostingRef};
use crate::domain::classify::CreditKind;
use crate::domain::collection::dunning::{
    plan, BankAccount, CustomerView, DunningPolicy, HoldReason, PlanDecision, PlanInput, Sender,
};
use crate::domain::collection::legal::Route;
use crate::domain::collection::rulebook::add_days;
use crate::domain::ledger::MirroredCustomer;
use crate::domain::setup::{AccountId, OrgId};
use crate::domain::DebtorKind;
use chrono::{DateTime, Utc};
use proptest::prelude::*;

fn book() -> &'static Rulebook {
    Rulebook::norway()
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn at() -> DateTime<Utc> {
    "2026-01-01T06:00:00Z".parse().unwrap()
}

fn claim_due(invoice: i64, due: NaiveDate) -> ClaimState {
    let id = ClaimId::invoice(invoice).unwrap();
    let account = AccountId::from_suffix("01hzy3k9q7m2v8x4c6n5b1t0ra").unwrap();
    let mut c = ClaimState::new(OrgId::parse("org_acme").unwrap(), account, id.clone());
    c.apply(ClaimEvent::mirrored(
        &id,
        Mirror {
            invoice_id: Some(invoice),
            invoice_number: Some(invoice.to_string()),
            voucher_id: Some(invoice * 10),
            customer_id: 77,
            principal: Money::from_kroner(10_000),
            invoice_date: due,
            due_date: due,
            due_date_estimated: false,
            version: Some(1),
            cross_check: None,
        },
    ))
    .unwrap();
    c
}

fn pay(c: &mut ClaimState, posting: i64, on: NaiveDate, kr: i64) {
    c.apply(ClaimEvent::credit(Credit {
        posting: PostingRef {
            id: posting,
            version: Some(1),
        },
        voucher_id: posting,
        date: on,
        amount: Money::from_kroner(kr),
        kind: CreditKind::Payment,
        flags: vec![],
        description: None,
        reversed_by: None,
    }))
    .unwrap();
}

fn case_of(c: &ClaimState) -> Case {
    let due = c.mirror.as_ref().unwrap().due_date;
    Case::open(c, add_months(due, 1), 1, at()).unwrap()
}

fn input(id: u32, claim: &ClaimState, case: Option<&Case>) -> RadarInput<u32> {
    RadarInput::of(id, claim, case, None).unwrap()
}

#[test]
fn a_claim_35_months_past_due_appears_in_the_radar_with_its_one_month_warning() {
    let today = d("2026-10-06");
    // Due 35 months before today.
    let due = d("2023-11-06");
    let claim = claim_due(1, due);
    let young = claim_due(2, d("2025-01-10"));
    let (list, gaps) = scan(
        book(),
        &[input(1, &claim, None), input(2, &young, None)],
        today,
        90,
    );
    assert!(gaps.is_empty());
    assert_eq!(list.len(), 1);
    let e = &list[0];
    assert_eq!(e.id, 1);
    assert_eq!(e.last_day, d("2026-11-06"));
    assert_eq!(e.time_barred_on, d("2026-11-07"));
    assert_eq!(e.days_left, 32);
    assert_eq!(e.rule, "limitation:foreldelsesloven@foreldelsesloven§2");
    let w = e.warning.as_ref().unwrap();
    assert_eq!(w.level, WarningLevel::OneMonth);
    assert_eq!(w.file_before, d("2026-11-06"));
    assert_eq!(w.key, "limitation:1m:2026-11-07");
    // Nothing is lost yet: the claim is alive and no accrual is three years old.
    assert_eq!(e.interest_lost, Money::ZERO);
}

#[test]
fn a_part_payment_moves_the_date_by_the_rule_and_the_claim_leaves_the_radar() {
    let today = d("2026-10-06");
    let mut claim = claim_due(1, d("2023-11-06"));
    pay(&mut claim, 10, d("2026-05-02"), 1_000);
    let lim = claim_limitation(book(), &claim, None).unwrap().unwrap();
    // A new three-year period from the payment (foreldelsesloven § 14).
    assert_eq!(lim.limitation.last_day, Some(d("2029-05-02")));
    assert_eq!(lim.limitation.time_barred_on, Some(d("2029-05-03")));
    assert_eq!(
        lim.limitation.interrupted_by.map(|i| i.kind),
        Some(InterruptionKind::PartPayment)
    );
    let (list, _) = scan(book(), &[input(1, &claim, None)], today, 90);
    assert!(list.is_empty());
    // It comes back six months before the new date, with a new key.
    let (list, _) = scan(book(), &[input(1, &claim, None)], d("2028-11-02"), 200);
    assert_eq!(
        list[0].warning.as_ref().unwrap().level,
        WarningLevel::SixMonths
    );
    assert_eq!(
        list[0].warning.as_ref().unwrap().key,
        "limitation:6m:2029-05-03"
    );
    // The payment acknowledged the interest accrued before it too: nothing is lost yet.
    assert_eq!(list[0].interest_lost, Money::ZERO);
    // Without it, on the day the claim is barred, everything is.
    let unpaid = claim_due(2, d("2023-11-06"));
    let (list, _) = scan(book(), &[input(2, &unpaid, None)], d("2026-11-06"), 10);
    assert_eq!(list[0].days_left, 1);
    let lost = book()
        .time_barred_interest(
            Money::from_kroner(10_000),
            d("2023-11-06"),
            d("2023-11-06"),
            &[],
            d("2026-11-06"),
        )
        .unwrap()
        .total;
    assert_eq!(list[0].interest_lost, lost);
}

#[test]
fn an_acknowledgement_restarts_and_a_filed_legal_step_suspends() {
    let claim = claim_due(1, d("2023-11-06"));
    let mut case = case_of(&claim);
    case.record_acknowledgement(
        d("2026-01-15"),
        "Ba om betalingsutsettelse",
        Actor::user("u1"),
        d("2026-01-15"),
        at(),
    )
    .unwrap();
    let lim = claim_limitation(book(), &claim, Some(&case))
        .unwrap()
        .unwrap();
    assert_eq!(lim.limitation.last_day, Some(d("2029-01-15")));
    case.record_filed(
        Route::Utlegg,
        d("2026-09-01"),
        None,
        Actor::user("u1"),
        d("2026-09-01"),
        at(),
    )
    .unwrap();
    let lim = claim_limitation(book(), &claim, Some(&case))
        .unwrap()
        .unwrap();
    assert_eq!(lim.limitation.last_day, None);
    assert_eq!(
        lim.limitation.state_on(d("2030-01-01")),
        LimitationState::Suspended
    );
    let (list, _) = scan(
        book(),
        &[input(1, &claim, Some(&case))],
        d("2028-12-01"),
        400,
    );
    assert!(list.is_empty(), "a pending legal step is not on the radar");
}

#[test]
fn the_warnings_come_at_six_three_and_one_month_each_with_its_own_key() {
    // 31 March − 6 months is 30 September (the month's end clamps).
    let last = d("2027-03-31");
    assert_eq!(WarningLevel::due(last, d("2026-09-29")), None);
    assert_eq!(
        WarningLevel::due(last, d("2026-09-30")),
        Some(WarningLevel::SixMonths)
    );
    let last = d("2027-03-15");
    assert_eq!(WarningLevel::due(last, d("2026-09-14")), None);
    assert_eq!(
        WarningLevel::due(last, d("2026-09-15")),
        Some(WarningLevel::SixMonths)
    );
    assert_eq!(
        WarningLevel::due(last, d("2026-12-15")),
        Some(WarningLevel::ThreeMonths)
    );
    assert_eq!(
        WarningLevel::due(last, d("2027-02-15")),
        Some(WarningLevel::OneMonth)
    );
    assert_eq!(
        WarningLevel::due(last, d("2027-03-15")),
        Some(WarningLevel::OneMonth)
    );
    assert_eq!(WarningLevel::due(last, d("2027-03-16")), None);
    let keys: Vec<String> = WarningLevel::ALL
        .iter()
        .map(|l| super::super::keys::limitation_warning(*l, d("2027-03-16")))
        .collect();
    assert_eq!(keys.len(), 3);
    assert!(keys[0] != keys[1] && keys[1] != keys[2] && keys[0] != keys[2]);
}

#[test]
fn the_planners_time_barred_hold_is_the_radars_date() {
    let due = d("2022-12-01");
    let claim = claim_due(5, due);
    let case = case_of(&claim);
    let lim = claim_limitation(book(), &claim, Some(&case))
        .unwrap()
        .unwrap();
    let barred = lim.limitation.time_barred_on.unwrap();
    assert_eq!(barred, d("2025-12-02"));
    let customer = MirroredCustomer {
        id: 77,
        version: None,
        name: "Ola Nordmann".into(),
        customer_number: None,
        organization_number: None,
        invalid_organization_number: None,
        debtor_kind: DebtorKind::Consumer,
        inactive: false,
        email: Some("ola@example.no".into()),
        invoice_email: None,
        overdue_notice_email: None,
        postal_address: None,
        payment_terms: None,
    };
    let policy = DunningPolicy {
        enabled: true,
        sender: Some(Sender {
            name: "Kreditor AS".into(),
            organization_number: None,
            address: PostalAddress {
                lines: vec!["Kongens gate 1".into()],
                postal_code: Some("0153".into()),
                city: Some("Oslo".into()),
                country_code: Some("NO".into()),
            },
            bank_account: BankAccount::parse("8601 11 17947").unwrap(),
            email: None,
            phone: None,
            reply_to: None,
        }),
        ..DunningPolicy::default()
    };
    let planned = |case: &Case, today: NaiveDate| {
        plan(&PlanInput {
            claim: &claim,
            case,
            customer: CustomerView::of(&customer, &[]),
            letters: &[],
            compensation_claimed: None,
            policy: &policy,
            book: book(),
            today,
        })
    };
    assert_eq!(
        planned(&case, d("2026-02-02")),
        PlanDecision::Hold(HoldReason::TimeBarred { since: barred })
    );
    assert_eq!(
        time_barred_since(book(), &claim, &case, due, d("2025-12-01"))
            .unwrap()
            .1,
        None
    );
    // An acknowledgement recorded on the case before that day keeps it alive for both.
    let mut acked = case.clone();
    acked
        .record_acknowledgement(
            d("2025-11-20"),
            "Skyldner lovet betaling",
            Actor::user("u1"),
            d("2025-11-20"),
            at(),
        )
        .unwrap();
    assert!(!matches!(
        planned(&acked, d("2026-02-02")),
        PlanDecision::Hold(HoldReason::TimeBarred { .. })
    ));
    let lim = claim_limitation(book(), &claim, Some(&acked))
        .unwrap()
        .unwrap();
    assert_eq!(lim.limitation.time_barred_on, Some(d("2028-11-21")));
}

#[test]
fn a_debtor_in_insolvency_or_without_a_norwegian_address_is_held_for_review() {
    let oslo = PostalAddress {
        lines: vec!["Storgata 1".into()],
        postal_code: Some("0150".into()),
        city: Some("Oslo".into()),
        country_code: Some("NO".into()),
    };
    let stockholm = PostalAddress {
        country_code: Some("SE".into()),
        ..oslo.clone()
    };
    assert_eq!(LimitationReview::of_debtor(&[], Some(&oslo)), None);
    assert_eq!(
        LimitationReview::of_debtor(&[StopReason::Bankrupt], Some(&oslo)),
        Some(LimitationReview::InsolvencyProceedings)
    );
    assert_eq!(
        LimitationReview::of_debtor(&[], Some(&stockholm)),
        Some(LimitationReview::DebtorWhereaboutsUnknown)
    );
    assert_eq!(
        LimitationReview::of_debtor(&[], None),
        Some(LimitationReview::DebtorWhereaboutsUnknown)
    );
    for r in [
        LimitationReview::DebtorWhereaboutsUnknown,
        LimitationReview::InsolvencyProceedings,
    ] {
        assert!(r.message_nb().contains('§') && r.message_en().contains('§'));
    }
    // The radar carries the review with the entry.
    let claim = claim_due(1, d("2023-11-06"));
    let i = RadarInput::of(
        1u32,
        &claim,
        None,
        Some(LimitationReview::InsolvencyProceedings),
    )
    .unwrap();
    let (list, _) = scan(book(), &[i], d("2026-10-06"), 90);
    assert_eq!(
        list[0].review,
        Some(LimitationReview::InsolvencyProceedings)
    );
    let json = serde_json::to_value(&list[0]).unwrap();
    assert_eq!(json["review"]["code"], "insolvency_proceedings");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A part payment before the claim is barred moves the date to three years after the
    /// payment; one after it changes nothing.
    #[test]
    fn a_part_payment_restarts_the_period_only_while_the_claim_lives(
        due_offset in 0u32..1500, pay_offset in 1u32..1400
    ) {
        let due = add_days(d("2020-01-01"), due_offset);
        let paid_on = add_days(due, pay_offset);
        let mut claim = claim_due(9, due);
        pay(&mut claim, 11, paid_on, 100);
        let lim = claim_limitation(book(), &claim, None).unwrap().unwrap().limitation;
        let first_last = add_months(due, 36);
        if paid_on <= first_last {
            prop_assert_eq!(lim.last_day, Some(add_months(paid_on, 36)));
        } else {
            prop_assert_eq!(lim.last_day, Some(first_last));
            prop_assert_eq!(lim.ignored_events, 1);
        }
    }
}
