use super::*;
use crate::domain::case::{Actor, CloseReason, ObjectionChannel, ObjectionOutcome};
use crate::domain::claim::{
    ClaimEvent, ClaimEventKind, ClaimId, ClaimStatus, Credit, EventKey, Mirror, PostingRef,
};
use crate::domain::classify::CreditKind;
use crate::domain::collection::dunning::grouping::{group_notices, CaseRef, LetterId};
use crate::domain::collection::dunning::policy::StepPolicy;
use crate::domain::collection::dunning::record::{compensation_claimed, NoticeRecord};
use crate::domain::collection::dunning::{BankAccount, Sender};
use crate::domain::collection::rulebook::{Missing, RuleGap};
use crate::domain::ledger::registry::StopReason;
use crate::domain::ledger::{MirroredCustomer, PostalAddress};
use crate::domain::setup::{AccountId, OrgId};
use chrono::{DateTime, Utc};
use proptest::prelude::*;
use rust_decimal_macros::dec;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn kr(n: i64) -> Money {
    Money::from_kroner(n)
}

fn at() -> DateTime<Utc> {
    "2026-01-01T06:00:00Z".parse().unwrap()
}

fn account() -> AccountId {
    AccountId::from_suffix("01hzy3k9q7m2v8x4c6n5b1t0ra").unwrap()
}

fn book() -> &'static Rulebook {
    Rulebook::norway()
}

const CUSTOMER: i64 = 77;

fn claim_due(invoice: i64, principal: Money, due: NaiveDate) -> ClaimState {
    let id = ClaimId::invoice(invoice).unwrap();
    let mut c = ClaimState::new(OrgId::parse("org_acme").unwrap(), account(), id.clone());
    c.apply(ClaimEvent::mirrored(
        &id,
        Mirror {
            invoice_id: Some(invoice),
            invoice_number: Some(format!("{invoice}")),
            voucher_id: Some(invoice * 10),
            customer_id: CUSTOMER,
            principal,
            invoice_date: due - chrono::Days::new(14),
            due_date: due,
            due_date_estimated: false,
            version: Some(1),
            cross_check: None,
        },
    ))
    .unwrap();
    c
}

fn credit(c: &mut ClaimState, posting: i64, date: &str, amount: Money, kind: CreditKind) {
    c.apply(ClaimEvent::credit(Credit {
        posting: PostingRef {
            id: posting,
            version: Some(1),
        },
        voucher_id: posting * 100,
        date: d(date),
        amount,
        kind,
        flags: vec![],
        description: None,
        reversed_by: None,
    }))
    .unwrap();
}

fn customer(kind: DebtorKind) -> MirroredCustomer {
    MirroredCustomer {
        id: CUSTOMER,
        version: None,
        name: "Ola Nordmann".into(),
        customer_number: None,
        organization_number: None,
        invalid_organization_number: None,
        debtor_kind: kind,
        inactive: false,
        email: Some("ola@example.no".into()),
        invoice_email: None,
        overdue_notice_email: None,
        postal_address: Some(PostalAddress {
            lines: vec!["Storgata 1".into()],
            postal_code: Some("0150".into()),
            city: Some("Oslo".into()),
            country_code: Some("NO".into()),
        }),
        payment_terms: None,
    }
}

fn policy() -> DunningPolicy {
    DunningPolicy {
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
    }
}

/// One claim with everything the planner reads, and what sending does to it.
struct World<'b> {
    book: &'b Rulebook,
    claim: ClaimState,
    case: Case,
    customer: MirroredCustomer,
    stops: Vec<StopReason>,
    letters: Vec<SentLetter>,
    records: Vec<NoticeRecord>,
    policy: DunningPolicy,
}

impl<'b> World<'b> {
    fn with(book: &'b Rulebook, claim: ClaimState, kind: DebtorKind) -> Self {
        let open_on = add_days(claim.effective_due_date().unwrap(), 1);
        let case = Case::open(&claim, open_on, 1, at()).unwrap();
        Self {
            book,
            claim,
            case,
            customer: customer(kind),
            stops: vec![],
            letters: vec![],
            records: vec![],
            policy: policy(),
        }
    }

    fn plan(&self, today: NaiveDate) -> PlanDecision {
        plan(&PlanInput {
            claim: &self.claim,
            case: &self.case,
            customer: CustomerView::of(&self.customer, &self.stops),
            letters: &self.letters,
            compensation_claimed: compensation_claimed(&self.records),
            policy: &self.policy,
            book: self.book,
            today,
        })
    }

    /// What the service does after sending: record the notice, its letters and its charges.
    fn sent(&mut self, n: &PlannedNotice) {
        let rec = NoticeRecord::new(&format!("ltr_{}", self.records.len() + 1), n);
        self.letters.extend(rec.sent_letters());
        let key = EventKey::new(&format!("charges:{}", rec.letter_id)).unwrap();
        self.claim
            .apply(ClaimEvent::new(
                key,
                ClaimEventKind::ChargesDemanded(rec.charges_demanded()),
            ))
            .unwrap();
        self.records.push(rec);
    }

    fn run(&mut self, today: &str) -> PlanDecision {
        let decision = self.plan(d(today));
        if let PlanDecision::Send(n) = &decision {
            self.sent(n);
        }
        decision
    }
}

fn consumer() -> World<'static> {
    // 1 000 kr due Monday 2026-01-19.
    World::with(
        book(),
        claim_due(1001, kr(1000), d("2026-01-19")),
        DebtorKind::Consumer,
    )
}

fn sent(decision: PlanDecision) -> PlannedNotice {
    match decision {
        PlanDecision::Send(n) => n,
        other => panic!("expected a notice, got {other:?}"),
    }
}

fn hold(decision: PlanDecision) -> HoldReason {
    match decision {
        PlanDecision::Hold(h) => h,
        other => panic!("expected a hold, got {other:?}"),
    }
}

fn fee(n: &PlannedNotice) -> Option<(Money, Money)> {
    n.amounts.fee.map(|f| (f.amount, f.nominal))
}

// ---------------------------------------------------------------------------------------------
// The chain
// ---------------------------------------------------------------------------------------------

#[test]
fn the_default_chain_runs_from_paminnelse_to_betalingsoppfordring_then_is_done() {
    let mut w = consumer();
    assert_eq!(
        w.run("2026-01-21"),
        PlanDecision::WaitUntil {
            date: d("2026-01-22"),
            step: Step::Paminnelse
        }
    );
    let p = sent(w.run("2026-01-22"));
    assert_eq!((p.step, p.deadline), (Step::Paminnelse, d("2026-02-01")));
    assert_eq!((fee(&p), p.fee_reason), (None, Reason::NoFeeForThisLetter));
    assert_eq!((p.channel, p.language), (Channel::Email, Language::Nb));
    // 1 000 × 12 % × 3/365 = 0.986 → 0.99
    assert_eq!(p.amounts.interest.unwrap().amount, Money::from_ore(99));
    assert_eq!(p.amounts.total, Money::from_ore(100_099));

    let p = sent(w.run("2026-02-02"));
    assert_eq!((p.step, p.deadline), (Step::Purring, d("2026-02-16")));
    assert_eq!(
        (fee(&p), p.fee_reason),
        (Some((kr(38), kr(38))), Reason::FeeAllowed)
    );
    // The interest increment is what the påminnelse had not demanded yet.
    let i = p.amounts.interest.unwrap();
    assert_eq!(p.amounts.interest_increment, i.amount - Money::from_ore(99));
    assert_eq!(p.amounts.interest_due, i.amount);
    assert_eq!(p.amounts.total, kr(1000) + i.amount + kr(38));

    let v = sent(w.run("2026-02-17"));
    assert_eq!(
        (v.step, v.channel),
        (Step::Inkassovarsel, Channel::EmailAndLetter)
    );
    assert_eq!(fee(&v), Some((kr(38), kr(38))));
    assert_eq!(v.amounts.earlier_fees_outstanding, kr(38));

    assert_eq!(
        w.run("2026-03-03"),
        PlanDecision::WaitUntil {
            date: d("2026-03-04"),
            step: Step::Betalingsoppfordring
        }
    );
    let b = sent(w.run("2026-03-04"));
    assert_eq!(
        (b.step, b.deadline),
        (Step::Betalingsoppfordring, d("2026-03-18"))
    );
    assert_eq!(fee(&b), Some((kr(113), kr(113))));
    let tags: Vec<&str> = b.rule_refs().map(|r| book().tag(r)).collect();
    assert!(
        tags.iter().any(|t| t.starts_with("deadline:tvfbl-4-18")),
        "{tags:?}"
    );
    assert!(tags
        .iter()
        .any(|t| t.starts_with("deadline:betalingsoppfordring-after-missed")));
    assert!(tags.iter().any(|t| t.starts_with("limitation:")));
    assert!(tags
        .iter()
        .any(|t| t.starts_with("forsinkelsesrente:2026-H1")));
    // The betalingsoppfordring is recorded as the § 4-18 varsel too.
    assert_eq!(
        w.letters.iter().map(|l| l.kind).collect::<Vec<_>>(),
        vec![
            LetterKind::Paminnelse,
            LetterKind::Purring,
            LetterKind::Inkassovarsel,
            LetterKind::Betalingsoppfordring,
            LetterKind::Varsel418
        ]
    );
    assert_eq!(w.run("2026-03-30"), PlanDecision::Done);
    // What the claim now owes: the fees and the interest demanded, summed from the records.
    assert_eq!(w.claim.amounts.fees_demanded, kr(38 + 38 + 113));
    let last_interest = w.records.last().unwrap().interest_total;
    assert_eq!(w.claim.amounts.interest_demanded, last_interest);
    assert_eq!(b.amounts.total, w.claim.amounts.outstanding);
}

#[test]
fn a_run_missed_for_ten_days_sends_exactly_one_step_with_the_deadline_from_the_real_send_date() {
    let mut w = consumer();
    // The påminnelse was due 2026-01-22; the first run is ten days later.
    let p = sent(w.run("2026-02-01"));
    assert_eq!(p.step, Step::Paminnelse);
    assert_eq!(
        (p.send_date, p.deadline),
        (d("2026-02-01"), d("2026-02-11"))
    );
    // The same day again: nothing more (the purring counts from the real deadline).
    assert_eq!(
        w.run("2026-02-01"),
        PlanDecision::WaitUntil {
            date: d("2026-02-12"),
            step: Step::Purring
        }
    );
    // Months late: still one step per run.
    let mut late = consumer();
    let p = sent(late.run("2026-05-01"));
    assert_eq!((p.step, p.deadline), (Step::Paminnelse, d("2026-05-11")));
    assert!(matches!(
        late.run("2026-05-01"),
        PlanDecision::WaitUntil { .. }
    ));
    let q = sent(late.run("2026-05-20"));
    assert_eq!((q.step, q.deadline), (Step::Purring, d("2026-06-03")));
}

#[test]
fn interest_matches_the_rulebooks_worked_example_with_its_rates_and_balance_history() {
    // 10 000 kr due Friday 2025-06-20, first run 2026-01-10: 684.66 kr.
    let mut w = World::with(
        book(),
        claim_due(2001, kr(10_000), d("2025-06-20")),
        DebtorKind::Consumer,
    );
    let p = sent(w.plan(d("2026-01-10")));
    let i = p.amounts.interest.unwrap();
    assert_eq!(i.amount.to_string(), "684.66");
    assert_eq!(
        (i.from_date, i.to_date, i.days),
        (d("2025-06-21"), d("2026-01-10"), 204)
    );
    let rates: Vec<_> = i
        .rates(book())
        .map(|r| (r.from, r.to, r.rate_percent))
        .collect();
    assert_eq!(
        rates,
        vec![
            (d("2025-06-21"), d("2025-06-30"), dec!(12.50)),
            (d("2025-07-01"), d("2025-12-31"), dec!(12.25)),
            (d("2026-01-01"), d("2026-01-10"), dec!(12.00)),
        ]
    );
    assert_eq!(p.amounts.interest_increment, i.amount);
    // A part payment of 4 000 on 2025-09-30 lowers the balance from 2025-10-01.
    credit(&mut w.claim, 1, "2025-09-30", kr(4000), CreditKind::Payment);
    let p = sent(w.plan(d("2026-01-10")));
    let expected = book()
        .interest_on_balances(
            d("2025-06-20"),
            kr(10_000),
            &[BalanceChange {
                date: d("2025-09-30"),
                balance: kr(6000),
            }],
            d("2026-01-10"),
        )
        .unwrap();
    assert_eq!(p.amounts.interest.unwrap().amount, expected.total);
    assert_eq!(p.amounts.principal_outstanding, kr(6000));
    // Interest already demanded is not demanded again.
    w.records.push(NoticeRecord {
        interest_increment: kr(100),
        ..NoticeRecord::new("ltr_earlier", &p)
    });
    w.claim
        .apply(ClaimEvent::new(
            EventKey::new("charges:earlier").unwrap(),
            ClaimEventKind::ChargesDemanded(crate::domain::claim::ChargesDemanded {
                reference: "ltr_earlier".into(),
                date: d("2025-12-01"),
                interest: kr(100),
                fees: Money::ZERO,
            }),
        ))
        .unwrap();
    let p = sent(w.plan(d("2026-01-10")));
    assert_eq!(p.amounts.interest_increment, expected.total - kr(100));
    assert_eq!(p.amounts.interest_due, expected.total);
    // Interest off: no line, nothing new demanded.
    w.policy.interest = false;
    let p = sent(w.plan(d("2026-01-10")));
    assert_eq!(
        (p.amounts.interest, p.amounts.interest_increment),
        (None, Money::ZERO)
    );
    assert_eq!(p.amounts.interest_due, kr(100));
}

#[test]
fn the_balance_history_of_many_credits_spills_to_the_heap_with_the_same_result() {
    let mut w = World::with(
        book(),
        claim_due(2002, kr(100_000), d("2025-06-20")),
        DebtorKind::Consumer,
    );
    // 20 small payments, recorded out of date order.
    let mut changes = Vec::new();
    for i in (0..20).rev() {
        let day = add_days(d("2025-07-01"), i * 7);
        credit(
            &mut w.claim,
            i64::from(i) + 1,
            &day.to_string(),
            kr(1000),
            CreditKind::Payment,
        );
    }
    for i in 0..20 {
        changes.push(BalanceChange {
            date: add_days(d("2025-07-01"), i * 7),
            balance: kr(100_000 - 1000 * (i64::from(i) + 1)),
        });
    }
    let p = sent(w.plan(d("2026-01-10")));
    let expected = book()
        .interest_on_balances(d("2025-06-20"), kr(100_000), &changes, d("2026-01-10"))
        .unwrap();
    assert_eq!(p.amounts.interest.unwrap().amount, expected.total);
}

// ---------------------------------------------------------------------------------------------
// Holds
// ---------------------------------------------------------------------------------------------

#[test]
fn every_hold_reason() {
    let today = d("2026-02-02");
    let plan_hold = |w: &World<'_>| hold(w.plan(today));

    let mut w = consumer();
    w.policy.enabled = false;
    assert_eq!(plan_hold(&w), HoldReason::DunningDisabled);

    let mut w = consumer();
    w.case
        .close(CloseReason::Withdrawn, None, Actor::user("u1"), today, at())
        .unwrap();
    assert_eq!(plan_hold(&w), HoldReason::CaseClosed);

    let mut w = consumer();
    w.case
        .pause(
            d("2026-03-01"),
            "avtale",
            Actor::user("u1"),
            d("2026-01-25"),
            at(),
        )
        .unwrap();
    assert_eq!(
        plan_hold(&w),
        HoldReason::CasePaused {
            until: d("2026-03-01")
        }
    );

    let mut w = consumer();
    credit(&mut w.claim, 1, "2026-01-30", kr(1000), CreditKind::Payment);
    assert_eq!(
        plan_hold(&w),
        HoldReason::NotCollectible {
            status: ClaimStatus::ClosedPaid
        }
    );
    let mut w = consumer();
    w.claim = ClaimState::new(
        OrgId::parse("org_acme").unwrap(),
        account(),
        ClaimId::invoice(1001).unwrap(),
    );
    assert_eq!(
        plan_hold(&w),
        HoldReason::NotCollectible {
            status: ClaimStatus::Unmirrored
        }
    );

    let mut w = consumer();
    credit(&mut w.claim, 1, "2026-01-30", kr(300), CreditKind::Unknown);
    assert_eq!(
        plan_hold(&w),
        HoldReason::NeedsReview {
            reason: ReviewReason::CreditPendingReview { amount: kr(300) }
        }
    );
    let mut w = consumer();
    w.claim.mirror.as_mut().unwrap().due_date_estimated = true;
    assert_eq!(
        plan_hold(&w),
        HoldReason::NeedsReview {
            reason: ReviewReason::DueDateEstimated
        }
    );

    let mut w = consumer();
    w.stops = vec![StopReason::Bankrupt];
    assert_eq!(
        plan_hold(&w),
        HoldReason::RegistryStop {
            reasons: StopReasons::of(&[StopReason::Bankrupt])
        }
    );

    // The objection is the case's: recorded there, it stops the chain until assessed.
    let mut w = consumer();
    let id = w
        .case
        .record_objection(
            "Arbeidet ble aldri utført",
            d("2026-01-30"),
            ObjectionChannel::Email,
            Actor::user("u1"),
            today,
            at(),
        )
        .unwrap();
    assert_eq!(
        plan_hold(&w),
        HoldReason::DebtorObjected {
            raised_on: d("2026-01-30")
        }
    );
    // Justified: still held until the claim is corrected by hand.
    let mut justified = w.case.clone();
    justified
        .assess_objection(
            id,
            ObjectionOutcome::Justified { note: None },
            Actor::user("u2"),
            at(),
        )
        .unwrap();
    let mut j = consumer();
    j.case = justified.clone();
    assert_eq!(
        plan_hold(&j),
        HoldReason::DebtorObjected {
            raised_on: d("2026-01-30")
        }
    );
    j.case
        .objection_corrected(id, "Kreditert 200 kr", Actor::user("u2"), at())
        .unwrap();
    assert!(matches!(j.plan(today), PlanDecision::Send(_)));
    // Assessed as obviously groundless: the chain goes on.
    w.case
        .assess_objection(
            id,
            ObjectionOutcome::Groundless {
                reason: "Arbeidet er dokumentert med timelister".into(),
            },
            Actor::user("u2"),
            at(),
        )
        .unwrap();
    assert!(matches!(w.plan(today), PlanDecision::Send(_)));

    // Due 2022-12-01: time-barred from 2025-12-02, unless a part payment interrupted it.
    let mut w = World::with(
        book(),
        claim_due(3001, kr(1000), d("2022-12-01")),
        DebtorKind::Consumer,
    );
    assert_eq!(
        plan_hold(&w),
        HoldReason::TimeBarred {
            since: d("2025-12-02")
        }
    );
    credit(&mut w.claim, 1, "2025-06-01", kr(100), CreditKind::Payment);
    assert!(matches!(w.plan(today), PlanDecision::Send(_)));

    let mut w = consumer();
    w.policy.minimum_amount = kr(1500);
    assert_eq!(
        plan_hold(&w),
        HoldReason::BelowMinimum {
            owed: kr(1000),
            minimum: kr(1500)
        }
    );
    w.policy.minimum_amount = kr(1000);
    assert!(matches!(w.plan(today), PlanDecision::Send(_)));

    // Interest after the last known rate: a rule gap, never a guess.
    let w = World::with(
        book(),
        claim_due(4001, kr(1000), d("2026-12-14")),
        DebtorKind::Consumer,
    );
    assert_eq!(
        hold(w.plan(d("2027-01-04"))),
        HoldReason::RuleGap {
            gap: RuleGap::new(d("2027-01-01"), Missing::ForsinkelsesrenteRate)
        }
    );

    let mut w = consumer();
    w.customer.email = None;
    w.customer.postal_address = None;
    assert_eq!(plan_hold(&w), HoldReason::NoChannel);

    let mut w = consumer();
    w.policy.chain = Chain::OnlyBetalingsoppfordring;
    assert_eq!(plan_hold(&w), HoldReason::NoPriorNotice);
}

#[test]
fn the_holds_are_checked_in_their_order() {
    // Everything wrong at once; put right one by one, the next hold shows.
    let mut w = World::with(
        book(),
        claim_due(5001, kr(1000), d("2022-12-01")),
        DebtorKind::Consumer,
    );
    let today = d("2026-02-02");
    w.policy.enabled = false;
    let mut closed = w.case.clone();
    closed
        .close(CloseReason::Withdrawn, None, Actor::user("u1"), today, at())
        .unwrap();
    let mut paused = w.case.clone();
    paused
        .pause(d("2026-03-01"), "avtale", Actor::user("u1"), today, at())
        .unwrap();
    let mut open = std::mem::replace(&mut w.case, closed);
    let mut assessed = open.clone();
    open.record_objection(
        "Bestrider kravet",
        d("2026-01-02"),
        ObjectionChannel::Letter,
        Actor::user("u1"),
        today,
        at(),
    )
    .unwrap();
    assessed
        .record_objection(
            "Bestrider kravet",
            d("2026-01-02"),
            ObjectionChannel::Letter,
            Actor::user("u1"),
            today,
            at(),
        )
        .unwrap();
    assessed
        .assess_objection(
            1,
            ObjectionOutcome::Groundless {
                reason: "Levert som avtalt".into(),
            },
            Actor::user("u1"),
            at(),
        )
        .unwrap();
    credit(&mut w.claim, 1, "2023-01-05", kr(100), CreditKind::Unknown);
    w.stops = vec![StopReason::Deleted];
    w.policy.minimum_amount = kr(5000);
    let mut codes = vec![];
    let mut step = |w: &mut World<'_>, fix: &mut dyn FnMut(&mut World<'_>)| {
        codes.push(hold(w.plan(today)).code());
        fix(w);
    };
    step(&mut w, &mut |w| w.policy.enabled = true);
    step(&mut w, &mut |w| w.case = paused.clone());
    step(&mut w, &mut |w| w.case = open.clone());
    step(&mut w, &mut |w| {
        // A person placed the held credit elsewhere.
        w.claim
            .apply(ClaimEvent::new(
                EventKey::new("review:1").unwrap(),
                ClaimEventKind::ReviewDecision(crate::domain::claim::ReviewDecision {
                    posting_id: 1,
                    resolution: crate::domain::claim::Resolution::NotThisClaim,
                    decided_by: "u1".into(),
                    decided_at: at(),
                }),
            ))
            .unwrap();
    });
    step(&mut w, &mut |w| w.stops.clear());
    step(&mut w, &mut |w| w.case = assessed.clone());
    step(&mut w, &mut |w| {
        // A part payment in 2025 interrupts the limitation.
        credit(&mut w.claim, 2, "2025-06-01", kr(100), CreditKind::Payment);
    });
    step(&mut w, &mut |_| {});
    assert_eq!(
        codes,
        vec![
            "dunning_disabled",
            "case_closed",
            "case_paused",
            "needs_review",
            "registry_stop",
            "debtor_objected",
            "time_barred",
            "below_minimum"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Consumer and business
// ---------------------------------------------------------------------------------------------

#[test]
fn a_business_is_claimed_standardkompensasjon_once_and_it_offsets_the_fees_never_a_consumer() {
    let mut b = World::with(
        book(),
        claim_due(6001, kr(1000), d("2026-01-19")),
        DebtorKind::Business,
    );
    let p = sent(b.run("2026-01-22"));
    // First interest day 2026-01-20: the 2026-H1 amount, 460 kr.
    let c = p.amounts.compensation.unwrap();
    assert_eq!((c.amount, c.nominal), (kr(460), kr(460)));
    assert!(book()
        .tag(c.rules[0].unwrap())
        .starts_with("standardkompensasjon:2026-H1"));
    // The purring's 38 kr is absorbed: the debtor owes the larger of the two, never the sum.
    let q = sent(b.run("2026-02-02"));
    assert_eq!(q.amounts.compensation, None);
    assert_eq!(fee(&q), Some((Money::ZERO, kr(38))));
    assert_eq!(q.fee_reason, Reason::OffsetByCompensation);
    assert_eq!(q.amounts.earlier_fees_outstanding, kr(460));
    let v = sent(b.run("2026-02-17"));
    let o = sent(b.run("2026-03-04"));
    assert_eq!(fee(&v), Some((Money::ZERO, kr(38))));
    assert_eq!(fee(&o), Some((Money::ZERO, kr(113))));
    assert_eq!(b.claim.amounts.fees_demanded, kr(460));
    // The nominal fees are what INKF § 1-3 counts.
    assert_eq!(
        b.letters.iter().map(|l| l.fee).collect::<Vec<_>>(),
        vec![Money::ZERO, kr(38), kr(38), kr(113), Money::ZERO]
    );

    // A consumer: no compensation, the full fees.
    let mut c = consumer();
    let p = sent(c.run("2026-01-22"));
    assert_eq!(p.amounts.compensation, None);
    c.run("2026-02-02");
    c.run("2026-02-17");
    c.run("2026-03-04");
    assert_eq!(c.claim.amounts.fees_demanded, kr(38 + 38 + 113));
    // Even when a record says one was claimed (it is ignored for a consumer).
    c.records[0].compensation_nominal = Some(kr(460));
    let mut c2 = consumer();
    c2.records = c.records.clone();
    let p = sent(c2.plan(d("2026-01-22")));
    assert_eq!(p.amounts.compensation, None);
}

#[test]
fn compensation_after_earlier_fees_adds_only_the_difference_and_can_be_switched_off() {
    // Tripletex already sent a purring with 38 kr.
    let mut b = World::with(
        book(),
        claim_due(6002, kr(1000), d("2026-01-19")),
        DebtorKind::Business,
    );
    b.letters.push(SentLetter {
        kind: LetterKind::Purring,
        sent: d("2026-02-02"),
        deadline: Some(d("2026-02-16")),
        fee: kr(38),
    });
    let v = sent(b.plan(d("2026-02-17")));
    assert_eq!(v.step, Step::Inkassovarsel);
    let c = v.amounts.compensation.unwrap();
    assert_eq!((c.amount, c.nominal), (kr(422), kr(460)));
    // max(460, 38 + 38) − max(460, 38) = 0: the varsel's fee is absorbed too.
    assert_eq!(fee(&v), Some((Money::ZERO, kr(38))));
    b.policy.standardkompensasjon = false;
    let v = sent(b.plan(d("2026-02-17")));
    assert_eq!(v.amounts.compensation, None);
    assert_eq!(fee(&v), Some((kr(38), kr(38))));
}

// ---------------------------------------------------------------------------------------------
// Fees, the new inkassolov, the only-betalingsoppfordring chain, channels
// ---------------------------------------------------------------------------------------------

#[test]
fn a_step_without_fee_in_the_policy_records_why_and_an_early_step_goes_without_its_fee() {
    let mut w = consumer();
    w.policy.steps.purring.fee = false;
    w.run("2026-01-22");
    let p = sent(w.run("2026-02-02"));
    assert_eq!((fee(&p), p.fee_reason), (None, Reason::FeeNotInPolicy));
    // A chain timed before due + 14 (a policy saved before the rule, or letters from
    // elsewhere): the purring goes, without the fee, and says why.
    let mut e = consumer();
    e.policy.steps.paminnelse.enabled = false;
    let p = sent(e.plan(d("2026-01-21")));
    assert_eq!(
        (p.step, fee(&p), p.fee_reason),
        (Step::Purring, None, Reason::TooEarlyForFee)
    );
}

#[test]
fn under_the_new_inkassolov_fee_bearing_steps_wait_for_the_regulations_and_a_paminnelse_goes() {
    let new_law = book().with_new_law_in_force(d("2026-01-01")).unwrap();
    let mut w = World::with(
        &new_law,
        claim_due(7001, kr(1000), d("2026-01-19")),
        DebtorKind::Consumer,
    );
    let p = sent(w.run("2026-01-22"));
    assert_eq!((p.step, fee(&p)), (Step::Paminnelse, None));
    assert!(p
        .rule_refs()
        .any(|r| new_law.tag(r) == "inkassolov:inkassolov-2026@LOV-2026-05-22-19"));
    let gap = HoldReason::RuleGap {
        gap: RuleGap::new(d("2026-02-02"), Missing::NewInkassolovRegulations),
    };
    assert_eq!(hold(w.plan(d("2026-02-02"))), gap);
    assert!(hold(w.plan(d("2026-02-02")))
        .message_en()
        .contains("Waiting for the new regulations"));
    // A fee-free purring is a reminder like the påminnelse.
    w.policy.steps.purring.fee = false;
    let q = sent(w.run("2026-02-02"));
    assert_eq!(
        (q.step, fee(&q), q.fee_reason),
        (Step::Purring, None, Reason::NoFeeForThisLetter)
    );
    assert_eq!(q.deadline, d("2026-02-16"));
    // The inkassovarsel is an inkassoforetak's letter under the new act: held, fee or not.
    w.policy.steps.inkassovarsel.fee = false;
    assert_eq!(
        hold(w.plan(d("2026-02-17"))),
        HoldReason::RuleGap {
            gap: RuleGap::new(d("2026-02-17"), Missing::NewInkassolovRegulations)
        }
    );
}

#[test]
fn only_betalingsoppfordring_needs_a_missed_14_day_deadline_from_elsewhere() {
    let mut w = consumer();
    w.policy.chain = Chain::OnlyBetalingsoppfordring;
    assert_eq!(hold(w.plan(d("2026-02-10"))), HoldReason::NoPriorNotice);
    // Tripletex's purring with a 14-day deadline, missed.
    w.letters.push(SentLetter {
        kind: LetterKind::Purring,
        sent: d("2026-02-02"),
        deadline: Some(d("2026-02-16")),
        fee: kr(38),
    });
    assert_eq!(
        w.plan(d("2026-02-10")),
        PlanDecision::WaitUntil {
            date: d("2026-02-17"),
            step: Step::Betalingsoppfordring
        }
    );
    let b = sent(w.plan(d("2026-02-17")));
    assert_eq!(
        (b.step, b.deadline),
        (Step::Betalingsoppfordring, d("2026-03-03"))
    );
    assert_eq!(fee(&b), Some((kr(113), kr(113))));
    // A purring with a 7-day deadline does not qualify, nor one without a deadline.
    for deadline in [Some(d("2026-02-09")), None] {
        w.letters[0].deadline = deadline;
        assert_eq!(hold(w.plan(d("2026-02-17"))), HoldReason::NoPriorNotice);
    }
    // After the betalingsoppfordring: done.
    w.letters[0].deadline = Some(d("2026-02-16"));
    w.sent(&b);
    assert_eq!(w.plan(d("2026-04-01")), PlanDecision::Done);
}

#[test]
fn the_channel_falls_back_to_what_the_customer_can_receive() {
    let step_with = |channel: Channel, email: bool, post: bool| {
        let mut w = consumer();
        w.policy.steps.paminnelse.channel = channel;
        if !email {
            w.customer.email = Some("not an address".into());
        }
        if !post {
            w.customer.postal_address = None;
        }
        let n = sent(w.plan(d("2026-01-22")));
        assert_eq!(n.requested_channel, channel);
        n.channel
    };
    use Channel::*;
    assert_eq!(step_with(Email, true, true), Email);
    assert_eq!(step_with(Email, false, true), Letter);
    assert_eq!(step_with(Letter, true, false), Email);
    assert_eq!(step_with(EmailAndLetter, true, true), EmailAndLetter);
    assert_eq!(step_with(EmailAndLetter, true, false), Email);
    assert_eq!(step_with(EmailAndLetter, false, true), Letter);
    // Abroad: English.
    let mut w = consumer();
    w.customer.postal_address.as_mut().unwrap().country_code = Some("SE".into());
    assert_eq!(sent(w.plan(d("2026-01-22"))).language, Language::En);
}

#[test]
fn letters_from_elsewhere_move_the_chain_on() {
    // Tripletex sent a purring (no fee recorded, 14 days): the next step is the inkassovarsel,
    // the day after its deadline, with the first fee.
    let mut w = consumer();
    w.letters.push(SentLetter {
        kind: LetterKind::Purring,
        sent: d("2026-01-26"),
        deadline: Some(d("2026-02-09")),
        fee: Money::ZERO,
    });
    assert_eq!(
        w.plan(d("2026-02-05")),
        PlanDecision::WaitUntil {
            date: d("2026-02-10"),
            step: Step::Inkassovarsel
        }
    );
    let v = sent(w.plan(d("2026-02-10")));
    assert_eq!(
        (v.step, fee(&v)),
        (Step::Inkassovarsel, Some((kr(38), kr(38))))
    );
    // A letter dated after today is not counted yet.
    let mut f = consumer();
    f.letters.push(SentLetter {
        kind: LetterKind::Purring,
        sent: d("2026-02-20"),
        deadline: Some(d("2026-03-06")),
        fee: kr(38),
    });
    assert_eq!(sent(f.plan(d("2026-01-22"))).step, Step::Paminnelse);
}

// ---------------------------------------------------------------------------------------------
// Records and grouping
// ---------------------------------------------------------------------------------------------

#[test]
fn a_record_rebuilds_the_letters_and_the_charges() {
    let w = World::with(
        book(),
        claim_due(8001, kr(1000), d("2026-01-19")),
        DebtorKind::Business,
    );
    let p = sent(w.plan(d("2026-01-22")));
    let rec = NoticeRecord::new("ltr_x", &p);
    let json = serde_json::to_value(&rec).unwrap();
    assert_eq!(json["compensationNominal"], "460.00");
    assert_eq!(serde_json::from_value::<NoticeRecord>(json).unwrap(), rec);
    let ch = rec.charges_demanded();
    assert_eq!(ch.fees, kr(460));
    assert_eq!(ch.interest, p.amounts.interest_increment);
    assert_eq!(
        compensation_claimed(std::slice::from_ref(&rec)),
        Some(kr(460))
    );
    assert_eq!(
        rec.sent_letters().collect::<Vec<_>>(),
        p.sent_letters().collect::<Vec<_>>()
    );
}

fn case_ref(invoice: i64) -> CaseRef {
    CaseRef {
        account_id: account(),
        case_id: crate::domain::case::CaseId::for_claim(&ClaimId::invoice(invoice).unwrap()),
    }
}

#[test]
fn two_claims_of_one_debtor_at_the_same_step_share_one_letter_with_one_fee() {
    let mut older = World::with(
        book(),
        claim_due(9001, kr(1000), d("2026-01-19")),
        DebtorKind::Consumer,
    );
    let mut newer = World::with(
        book(),
        claim_due(9002, kr(2000), d("2026-01-20")),
        DebtorKind::Consumer,
    );
    // Both at the purring on the same day (the påminnelser were sent together).
    for w in [&mut older, &mut newer] {
        w.letters.push(SentLetter {
            kind: LetterKind::Paminnelse,
            sent: d("2026-01-23"),
            deadline: Some(d("2026-02-02")),
            fee: Money::ZERO,
        });
    }
    let a = sent(older.plan(d("2026-02-03")));
    let b = sent(newer.plan(d("2026-02-03")));
    assert_eq!(fee(&a), Some((kr(38), kr(38))));
    assert_eq!(fee(&b), Some((kr(38), kr(38))));
    let letters = group_notices(vec![
        (case_ref(9002), CUSTOMER, b.clone()),
        (case_ref(9001), CUSTOMER, a.clone()),
    ]);
    assert_eq!(letters.len(), 1);
    let l = &letters[0];
    assert_eq!(l.claims.len(), 2);
    // Oldest first; the fee stays on it, the other's is dropped with its reason.
    assert_eq!(l.claims[0].case_id, case_ref(9001).case_id);
    assert_eq!(fee(&l.claims[0].notice), Some((kr(38), kr(38))));
    assert_eq!(l.claims[1].notice.amounts.fee, None);
    assert_eq!(l.claims[1].notice.fee_reason, Reason::OneFeePerLetter);
    assert_eq!(l.fee(), kr(38));
    assert_eq!(l.claims[1].notice.amounts.total, b.amounts.total - kr(38));
    assert_eq!(l.total, a.amounts.total + b.amounts.total - kr(38));
    // The claim without the fee records a letter without one (INKF § 1-3 counts it so).
    assert_eq!(
        l.claims[1].notice.sent_letters().next().unwrap().fee,
        Money::ZERO
    );
    // The id is the same whatever the order, and names the letter.
    let again = group_notices(vec![
        (case_ref(9001), CUSTOMER, a.clone()),
        (case_ref(9002), CUSTOMER, b.clone()),
    ]);
    assert_eq!(again[0].letter_id, l.letter_id);
    assert!(l.letter_id.as_str().starts_with("ltr_") && l.letter_id.as_str().len() == 36);
    let ids = [&case_ref(9002).case_id, &case_ref(9001).case_id];
    assert_eq!(
        LetterId::of(&account(), CUSTOMER, Step::Purring, d("2026-02-03"), &ids),
        l.letter_id
    );
    // Another day or another set of claims is another letter.
    assert_ne!(
        LetterId::of(&account(), CUSTOMER, Step::Purring, d("2026-02-04"), &ids),
        l.letter_id
    );
    assert_ne!(
        LetterId::of(
            &account(),
            CUSTOMER,
            Step::Purring,
            d("2026-02-03"),
            &ids[..1]
        ),
        l.letter_id
    );
}

#[test]
fn different_steps_or_debtors_get_their_own_letters() {
    let mut at_purring = consumer();
    at_purring.letters.push(SentLetter {
        kind: LetterKind::Paminnelse,
        sent: d("2026-01-23"),
        deadline: Some(d("2026-02-02")),
        fee: Money::ZERO,
    });
    let first = World::with(
        book(),
        claim_due(9003, kr(500), d("2026-01-30")),
        DebtorKind::Consumer,
    );
    let p = sent(at_purring.plan(d("2026-02-03")));
    let q = sent(first.plan(d("2026-02-03")));
    assert_eq!((p.step, q.step), (Step::Purring, Step::Paminnelse));
    let letters = group_notices(vec![
        (case_ref(1001), CUSTOMER, p.clone()),
        (case_ref(9003), CUSTOMER, q.clone()),
        (case_ref(9004), CUSTOMER + 1, p.clone()),
    ]);
    assert_eq!(letters.len(), 3);
    assert!(letters.iter().all(|l| l.claims.len() == 1));
    assert_eq!(
        letters
            .iter()
            .map(|l| (l.customer_id, l.step))
            .collect::<Vec<_>>(),
        vec![
            (CUSTOMER, Step::Paminnelse),
            (CUSTOMER, Step::Purring),
            (CUSTOMER + 1, Step::Purring)
        ]
    );
    // Each keeps its fee.
    assert_eq!(letters[1].fee(), kr(38));
    assert_eq!(letters[2].fee(), kr(38));
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

fn step_policy() -> impl Strategy<Value = StepPolicy> {
    (
        prop::bool::weighted(0.8),
        0u16..20,
        0u16..30,
        prop::bool::weighted(0.8),
        0u8..3,
    )
        .prop_map(|(enabled, days_after, deadline_days, fee, ch)| StepPolicy {
            enabled,
            days_after,
            deadline_days,
            fee,
            channel: [Channel::Email, Channel::Letter, Channel::EmailAndLetter][usize::from(ch)],
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Under any policy, with runs missed at random: a fee is never demanded before the law
    /// allows it (due + 14 days; a betalingsoppfordring only after a missed ≥14-day deadline in
    /// a purring or inkassovarsel), deadlines are never below the law's, steps only move
    /// forward, one step a day. Under a valid policy moreover every step whose policy wants a
    /// fee gets it (the validation makes the chain's own timing lawful) and nothing is held.
    #[test]
    fn a_fee_bearing_step_is_never_earlier_than_the_law_allows(
        steps in [step_policy(), step_policy(), step_policy(), step_policy()],
        due_offset in 0u64..450,
        business in any::<bool>(),
        missed in proptest::collection::vec(any::<bool>(), 400),
    ) {
        let mut p = policy();
        p.steps = crate::domain::collection::dunning::policy::StepPolicies {
            paminnelse: StepPolicy { fee: false, ..steps[0] },
            purring: steps[1],
            inkassovarsel: steps[2],
            betalingsoppfordring: steps[3],
        };
        // Lift the deadlines to the law's so that a good share of the policies is valid.
        if p.steps.inkassovarsel.deadline_days < 14 { p.steps.inkassovarsel.deadline_days += 14; }
        if p.steps.betalingsoppfordring.deadline_days < 14 { p.steps.betalingsoppfordring.deadline_days += 14; }
        let valid = p.validate(book()).is_ok();
        let due = add_days(d("2025-01-02"), due_offset as u32);
        let kind = if business { DebtorKind::Business } else { DebtorKind::Consumer };
        let mut w = World::with(book(), claim_due(42, kr(5000), due), kind);
        w.policy = p.clone();
        let effective_due = next_business_day_on_or_after(due);
        let mut last: Option<Step> = None;
        let mut day = add_days(effective_due, 1);
        let mut i = 0;
        while day <= d("2026-12-31") && i < missed.len() {
            if !missed[i] || day == d("2026-12-31") {
                match w.plan(day) {
                    PlanDecision::Send(n) => {
                        prop_assert_eq!(n.send_date, day);
                        prop_assert!(last.is_none_or(|l| n.step > l));
                        let sp = p.step(n.step);
                        prop_assert!(n.deadline >= add_days(day, u32::from(sp.deadline_days)));
                        let legal = match n.step {
                            Step::Paminnelse => 0,
                            Step::Purring if !p.purring_needs_long_deadline() => 0,
                            _ => 14,
                        };
                        prop_assert!(n.deadline >= add_days(day, legal));
                        if let Some(f) = n.amounts.fee {
                            prop_assert!(!f.nominal.is_zero());
                            prop_assert!(day >= add_days(effective_due, 14), "fee on {} for due {}", day, due);
                            if n.step == Step::Betalingsoppfordring {
                                let qualifying = w.letters.iter().any(|l| {
                                    matches!(l.kind, LetterKind::Purring | LetterKind::Inkassovarsel)
                                        && l.deadline.is_some_and(|dl| dl >= add_days(l.sent, 14) && dl < day)
                                });
                                prop_assert!(qualifying);
                            }
                        }
                        if valid && sp.fee && n.step != Step::Paminnelse {
                            prop_assert!(n.amounts.fee.is_some(), "{:?} without its fee: {:?}", n.step, n.fee_reason);
                        }
                        w.sent(&n);
                        last = Some(n.step);
                        // One step a day.
                        prop_assert!(!matches!(w.plan(day), PlanDecision::Send(_)));
                    }
                    PlanDecision::WaitUntil { date, step } => {
                        prop_assert!(date > day);
                        prop_assert!(last.is_none_or(|l| step > l));
                    }
                    PlanDecision::Done => break,
                    PlanDecision::Hold(h) => {
                        // Only a chain without a qualifying letter before its
                        // betalingsoppfordring (which validation refuses) stops.
                        prop_assert!(!valid, "unexpected hold {:?}", h);
                        prop_assert_eq!(h, HoldReason::NoPriorNotice);
                        break;
                    }
                }
            }
            day = add_days(day, 1);
            i += 1;
        }
        // Interest demanded adds up to the last notice's total (no credits here).
        if let Some(r) = w.records.last() {
            prop_assert_eq!(w.claim.amounts.interest_demanded, r.interest_total);
        }
    }
}
