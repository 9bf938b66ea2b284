use super::*;
use crate::domain::case::{Actor, CloseReason, ObjectionChannel, ObjectionOutcome};
use crate::domain::claim::{ClaimEvent, Credit, PostingRef};
use crate::domain::classify::CreditKind;
use crate::domain::collection::legal::sample::{sample_case, SampleCase};
use crate::domain::collection::letters::DebtorKind;
use chrono::{DateTime, Utc};
use proptest::prelude::*;

fn book() -> &'static Rulebook {
    Rulebook::norway()
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn at() -> DateTime<Utc> {
    "2026-07-20T06:00:00Z".parse().unwrap()
}

fn undisputed() -> SampleCase {
    sample_case(book(), DebtorKind::Business, false).unwrap()
}

fn ready(s: &SampleCase, policy: &LegalStepsPolicy, today: NaiveDate) -> Readiness {
    readiness(&ReadinessInput {
        claim: &s.claim,
        case: &s.case,
        letters: &s.letters,
        stop_reasons: &[],
        policy,
        book: book(),
        today,
    })
}

fn bo(s: &SampleCase) -> SentLetter {
    *s.letters
        .iter()
        .find(|l| l.kind == LetterKind::Betalingsoppfordring)
        .unwrap()
}

fn pay(s: &mut SampleCase, on: NaiveDate, kr: i64) {
    s.claim
        .apply(ClaimEvent::credit(Credit {
            posting: PostingRef {
                id: 9100,
                version: Some(1),
            },
            voucher_id: 9100,
            date: on,
            amount: Money::from_kroner(kr),
            kind: CreditKind::Payment,
            flags: vec![],
            description: None,
            reversed_by: None,
        }))
        .unwrap();
}

#[test]
fn after_the_betalingsoppfordring_and_the_4_18_varsel_ran_out_an_undisputed_claim_is_ready_for_utlegg(
) {
    let s = undisputed();
    let p = LegalStepsPolicy::default();
    let b = bo(&s);
    assert_eq!(b.deadline, Some(d("2026-07-15")));
    assert_eq!(s.ready_on, d("2026-07-16"));
    match ready(&s, &p, s.ready_on) {
        Readiness::Ready { route, why } => {
            assert_eq!(route, Route::Utlegg);
            assert_eq!(why.route_reason, RouteReason::Undisputed);
            assert_eq!(why.betalingsoppfordring.sent, b.sent);
            // Combined: the varsel is the same letter.
            assert_eq!(why.varsel_4_18.sent, b.sent);
            assert_eq!(why.varsel_valid_until, d("2027-07-15"));
            assert_eq!(why.file_by, d("2027-01-01"));
            assert_eq!(why.owed, s.claim.amounts.outstanding);
        }
        other => panic!("{other:?}"),
    }
    // The day before: the deadlines still run (the last day is the debtor's).
    assert_eq!(
        ready(&s, &p, d("2026-07-15")),
        Readiness::NotYet {
            until: Some(d("2026-07-16")),
            why: NotYetWhy::DeadlinesRunning {
                betalingsoppfordring_deadline: d("2026-07-15"),
                varsel_deadline: d("2026-07-15"),
            }
        }
    );
    let r = ready(&s, &p, s.ready_on);
    assert_eq!(r.code(), "ready:utlegg");
    assert_eq!(
        r.notice_key().as_deref(),
        Some("legal-ready:utlegg:2026-07-01")
    );
    assert!(r.message_nb().contains("§ 7-2 (1) f"), "{}", r.message_nb());
}

#[test]
fn without_a_betalingsoppfordring_it_waits_for_one() {
    let mut s = undisputed();
    s.letters.retain(|l| {
        !matches!(
            l.kind,
            LetterKind::Betalingsoppfordring | LetterKind::Varsel418
        )
    });
    assert_eq!(
        ready(&s, &LegalStepsPolicy::default(), s.ready_on),
        Readiness::NotYet {
            until: None,
            why: NotYetWhy::NoBetalingsoppfordring
        }
    );
}

#[test]
fn a_short_deadline_or_a_missing_or_expired_4_18_varsel_proposes_a_new_betalingsoppfordring() {
    let p = LegalStepsPolicy::default();
    let mut s = undisputed();
    for l in s.letters.iter_mut() {
        if l.kind == LetterKind::Betalingsoppfordring {
            l.deadline = Some(add_days(l.sent, 10));
        }
    }
    assert_eq!(
        ready(&s, &p, s.ready_on).code(),
        "propose_new_betalingsoppfordring:deadline_too_short"
    );

    let mut s = undisputed();
    s.letters.retain(|l| l.kind != LetterKind::Varsel418);
    assert_eq!(
        ready(&s, &p, s.ready_on),
        Readiness::ProposeNewBetalingsoppfordring {
            why: ProposeWhy::NoVarsel418 {
                betalingsoppfordring_sent: d("2026-07-01")
            }
        }
    );

    // The varsel sent alone (a week later) counts: ready after its own two weeks.
    let mut s = undisputed();
    for l in s.letters.iter_mut() {
        if l.kind == LetterKind::Varsel418 {
            l.sent = d("2026-07-08");
            l.deadline = Some(d("2026-07-22"));
        }
    }
    assert_eq!(
        ready(&s, &p, d("2026-07-20")),
        Readiness::NotYet {
            until: Some(d("2026-07-23")),
            why: NotYetWhy::DeadlinesRunning {
                betalingsoppfordring_deadline: d("2026-07-15"),
                varsel_deadline: d("2026-07-22"),
            }
        }
    );
    assert!(matches!(
        ready(&s, &p, d("2026-07-23")),
        Readiness::Ready { .. }
    ));
    // A varsel given one week only is no § 4-18 varsel.
    for l in s.letters.iter_mut() {
        if l.kind == LetterKind::Varsel418 {
            l.deadline = Some(d("2026-07-15"));
        }
    }
    assert_eq!(
        ready(&s, &p, d("2026-07-23")).code(),
        "propose_new_betalingsoppfordring:deadline_too_short"
    );
    // An old varsel (expired one year after its deadline) with a recent betalingsoppfordring.
    let mut s = undisputed();
    for l in s.letters.iter_mut() {
        if l.kind == LetterKind::Varsel418 {
            l.sent = d("2025-06-01");
            l.deadline = Some(d("2025-06-15"));
        }
    }
    assert_eq!(
        ready(&s, &p, s.ready_on),
        Readiness::ProposeNewBetalingsoppfordring {
            why: ProposeWhy::Varsel418Expired {
                valid_until: d("2026-06-15")
            }
        }
    );
}

#[test]
fn a_betalingsoppfordring_older_than_six_months_is_replaced_by_a_new_one() {
    let s = undisputed();
    let p = LegalStepsPolicy::default();
    assert!(matches!(
        ready(&s, &p, d("2027-01-01")),
        Readiness::Ready { .. }
    ));
    assert_eq!(
        ready(&s, &p, d("2027-01-02")),
        Readiness::ProposeNewBetalingsoppfordring {
            why: ProposeWhy::TooOld {
                sent: d("2026-07-01"),
                months: 6
            }
        }
    );
}

#[test]
fn a_payment_since_the_betalingsoppfordring_blocks_for_a_person_to_decide() {
    let mut s = undisputed();
    pay(&mut s, d("2026-07-10"), 500);
    assert_eq!(
        ready(&s, &LegalStepsPolicy::default(), s.ready_on),
        Readiness::Blocked {
            reason: Blocked::PaidSince {
                on: d("2026-07-10"),
                amount: Money::from_kroner(500)
            }
        }
    );
    // The part payment before it (10 June, in the sample) does not.
    assert!(matches!(
        ready(&undisputed(), &LegalStepsPolicy::default(), d("2026-07-16")),
        Readiness::Ready { .. }
    ));
}

#[test]
fn an_open_objection_blocks_and_after_a_groundless_assessment_the_route_is_forliksklage() {
    let mut s = undisputed();
    let p = LegalStepsPolicy::default();
    let id = s
        .case
        .record_objection(
            "Uenig i prisen",
            d("2026-07-14"),
            ObjectionChannel::Letter,
            Actor::user("u1"),
            d("2026-07-16"),
            at(),
        )
        .unwrap();
    assert_eq!(
        ready(&s, &p, s.ready_on),
        Readiness::Blocked {
            reason: Blocked::ObjectionOpen {
                received_on: d("2026-07-14")
            }
        }
    );
    let mut justified = s.case.clone();
    justified
        .assess_objection(
            id,
            ObjectionOutcome::Justified { note: None },
            Actor::user("u2"),
            at(),
        )
        .unwrap();
    let mut j = s.clone();
    j.case = justified;
    assert_eq!(
        ready(&j, &p, s.ready_on).code(),
        "blocked:objection_justified"
    );

    s.case
        .assess_objection(
            id,
            ObjectionOutcome::Groundless {
                reason: "Prisen står i tilbudet".into(),
            },
            Actor::user("u2"),
            at(),
        )
        .unwrap();
    match ready(&s, &p, s.ready_on) {
        Readiness::Ready { route, why } => {
            assert_eq!(route, Route::Forliksklage);
            assert_eq!(
                why.route_reason,
                RouteReason::Disputed {
                    objection_received_on: d("2026-07-14")
                }
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_threshold_and_the_route_preference_are_the_creditors() {
    let s = undisputed();
    let owed = s.claim.amounts.outstanding;
    let mut p = LegalStepsPolicy {
        minimum_amount: owed + Money::from_kroner(1),
        ..LegalStepsPolicy::default()
    };
    assert_eq!(
        ready(&s, &p, s.ready_on),
        Readiness::Blocked {
            reason: Blocked::BelowThreshold {
                owed,
                minimum: owed + Money::from_kroner(1)
            }
        }
    );
    p.minimum_amount = owed;
    assert!(matches!(
        ready(&s, &p, s.ready_on),
        Readiness::Ready {
            route: Route::Utlegg,
            ..
        }
    ));
    p.route = RoutePreference::Forliksklage;
    match ready(&s, &p, s.ready_on) {
        Readiness::Ready { route, why } => {
            assert_eq!(route, Route::Forliksklage);
            assert_eq!(why.route_reason, RouteReason::CreditorPrefersForliksklage);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_case_that_cannot_go_on_is_blocked_with_its_reason() {
    let p = LegalStepsPolicy::default();
    let mut s = undisputed();
    s.case
        .record_filed(
            Route::Utlegg,
            d("2026-07-17"),
            None,
            Actor::user("u1"),
            d("2026-07-17"),
            at(),
        )
        .unwrap();
    assert_eq!(
        ready(&s, &p, d("2026-07-18")).code(),
        "blocked:already_filed"
    );

    let mut s = undisputed();
    s.case
        .pause(
            d("2026-08-01"),
            "avtale om betaling",
            Actor::user("u1"),
            s.ready_on,
            at(),
        )
        .unwrap();
    assert_eq!(ready(&s, &p, s.ready_on).code(), "blocked:case_paused");
    let mut s = undisputed();
    s.case
        .close(
            CloseReason::Withdrawn,
            None,
            Actor::user("u1"),
            s.ready_on,
            at(),
        )
        .unwrap();
    assert_eq!(ready(&s, &p, s.ready_on).code(), "blocked:case_closed");

    let s = undisputed();
    let r = readiness(&ReadinessInput {
        claim: &s.claim,
        case: &s.case,
        letters: &s.letters,
        stop_reasons: &[StopReason::Bankrupt],
        policy: &p,
        book: book(),
        today: s.ready_on,
    });
    assert_eq!(r.code(), "blocked:registry_stop");
    assert!(r.message_nb().contains("boet"));

    let mut s = undisputed();
    pay(&mut s, d("2026-07-12"), 100_000);
    assert_eq!(ready(&s, &p, s.ready_on).code(), "blocked:not_collectible");
}

#[test]
fn every_state_has_a_code_and_a_sentence() {
    let s = undisputed();
    let p = LegalStepsPolicy::default();
    for day in ["2026-07-01", "2026-07-16", "2027-02-01"] {
        let r = ready(&s, &p, d(day));
        assert!(!r.message_nb().is_empty());
        assert!(r
            .code()
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '_' || c == ':'));
    }
    for b in [
        Blocked::CaseClosed,
        Blocked::NeedsReview,
        Blocked::TimeBarred {
            since: d("2026-01-01"),
        },
        Blocked::PaidSince {
            on: d("2026-07-10"),
            amount: Money::from_kroner(5),
        },
    ] {
        assert!(!b.message_nb().is_empty() && !b.message_en().is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Before the deadlines ran out it is never ready; from the day after until six months after
    /// the betalingsoppfordring it always is; after that a new one is proposed.
    #[test]
    fn readiness_follows_the_calendar(offset in 0u32..260) {
        let s = undisputed();
        let p = LegalStepsPolicy::default();
        let today = add_days(d("2026-07-01"), offset);
        let r = ready(&s, &p, today);
        if today < s.ready_on {
            let waits = matches!(r, Readiness::NotYet { until: Some(u), .. } if u == s.ready_on);
            prop_assert!(waits);
        } else if today <= d("2027-01-01") {
            let is_ready = matches!(r, Readiness::Ready { route: Route::Utlegg, .. });
            prop_assert!(is_ready);
        } else {
            prop_assert_eq!(r.code(), "propose_new_betalingsoppfordring:too_old");
        }
    }
}
