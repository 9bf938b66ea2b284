//! Letters and fees (INKF §§ 1-2, 1-3, INKL §§ 9, 10, 17, tvfbl § 4-18) against the rulebook.

use chrono::{Days, NaiveDate};
use shared::domain::collection::letters::{
    ClaimFacts, DebtorKind, LetterKind, Objection, Reason, SentLetter,
};
use shared::domain::collection::rulebook::Missing;
use shared::domain::{Money, RuleGap, Rulebook};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}
fn kr(n: i64) -> Money {
    Money::from_kroner(n)
}
fn plus(date: NaiveDate, days: u64) -> NaiveDate {
    date + Days::new(days)
}

use LetterKind::{
    Betalingsoppfordring as B, Inkassovarsel as V, Paminnelse, Purring as P, Varsel418,
};

fn sent(kind: LetterKind, on: &str, deadline_days: u64, fee: i64) -> SentLetter {
    let s = d(on);
    SentLetter {
        kind,
        sent: s,
        deadline: Some(plus(s, deadline_days)),
        fee: kr(fee),
    }
}

fn claim<'a>(due: &str, letters: &'a [SentLetter]) -> ClaimFacts<'a> {
    ClaimFacts {
        due_date: d(due),
        principal: kr(10_000),
        debtor: DebtorKind::Consumer,
        letters,
        objection: None,
        compensation_claimed: None,
    }
}

// Due Monday 2025-03-03: fee from 2025-03-17, inkassosats 700, 1/20 = 35, 3/20 = 105.
const DUE: &str = "2025-03-03";

#[test]
fn purring_fee_only_from_fourteen_days_after_due() {
    let b = Rulebook::norway();
    let c = claim(DUE, &[]);
    let early = b.decide_letter(&c, P, d("2025-03-16")).unwrap();
    assert!(early.allowed);
    assert_eq!(early.fee, Money::ZERO);
    assert_eq!(early.reason, Reason::TooEarlyForFee);
    assert_eq!(early.earliest_fee_date, Some(d("2025-03-17")));
    assert_eq!(early.deadline_days, 14);
    assert_eq!(early.min_deadline, Some(d("2025-03-30")));
    let ok = b.decide_letter(&c, P, d("2025-03-17")).unwrap();
    assert_eq!(
        (ok.allowed, ok.fee, ok.reason),
        (true, kr(35), Reason::FeeAllowed)
    );
    assert_eq!(ok.min_deadline, Some(d("2025-03-31")));
    let tags: Vec<&str> = ok.rules.iter().map(|r| b.tag(r)).collect();
    assert!(
        tags.contains(&"inkassosats:2019-frozen@FOR-2018-12-20-2050"),
        "{tags:?}"
    );
    assert!(
        tags.contains(&"fee_fractions:twentieths@FOR-2020-06-19-1248"),
        "{tags:?}"
    );
    assert!(ok.message_no().contains("35.00 kr"), "{}", ok.message_no());
    assert!(ok.message_en().contains("NOK 35.00"), "{}", ok.message_en());
    // Inkassovarsel: same timing rule.
    let v = b.decide_letter(&c, V, d("2025-03-04")).unwrap();
    assert_eq!(
        (v.allowed, v.fee, v.reason),
        (true, Money::ZERO, Reason::TooEarlyForFee)
    );
    assert_eq!(v.min_deadline, Some(d("2025-03-18")));
}

#[test]
fn nothing_before_the_claim_is_overdue() {
    let b = Rulebook::norway();
    let c = claim(DUE, &[]);
    for k in [Paminnelse, P, V, B] {
        let x = b.decide_letter(&c, k, d(DUE)).unwrap();
        assert!(!x.allowed, "{k}");
        assert_eq!(x.reason, Reason::NotOverdue);
        assert_eq!(x.earliest_send_date, Some(d("2025-03-04")));
    }
    // A § 4-18 varsel may be sent on the due date; 2-week deadline, valid one year after it.
    let v = b.decide_letter(&c, Varsel418, d(DUE)).unwrap();
    assert!(v.allowed);
    assert_eq!(v.fee, Money::ZERO);
    assert_eq!(v.min_deadline, Some(d("2025-03-17")));
    assert_eq!(v.valid_until, Some(d("2026-03-17")));
    let p = b.decide_letter(&c, Paminnelse, d("2025-03-04")).unwrap();
    assert_eq!(
        (p.allowed, p.fee, p.deadline_days, p.reason),
        (true, Money::ZERO, 0, Reason::NoFeeForThisLetter)
    );
}

#[test]
fn due_date_on_a_weekend_moves_the_fee_date() {
    let b = Rulebook::norway();
    // Saturday 2025-03-01 → Monday 03-03 → fee from 03-17.
    let c = claim("2025-03-01", &[]);
    let x = b.decide_letter(&c, P, d("2025-03-16")).unwrap();
    assert_eq!(x.earliest_fee_date, Some(d("2025-03-17")));
    assert_eq!(x.effective_due_date, d("2025-03-03"));
    // Due Maundy Thursday 2025-04-17 → Tuesday 04-22 → fee from 05-06.
    let c = claim("2025-04-17", &[]);
    let x = b.decide_letter(&c, P, d("2025-05-05")).unwrap();
    assert_eq!(
        (x.fee, x.earliest_fee_date),
        (Money::ZERO, Some(d("2025-05-06")))
    );
    assert_eq!(b.decide_letter(&c, P, d("2025-05-06")).unwrap().fee, kr(35));
}

#[test]
fn second_small_fee_needs_a_missed_fourteen_day_deadline() {
    let b = Rulebook::norway();
    let letters = [sent(P, "2025-03-17", 14, 35)]; // deadline 2025-03-31
    let c = claim(DUE, &letters);
    let on_deadline = b.decide_letter(&c, P, d("2025-03-31")).unwrap();
    assert_eq!(
        (on_deadline.fee, on_deadline.reason),
        (Money::ZERO, Reason::SecondFeeNeedsMissedDeadline)
    );
    assert_eq!(on_deadline.earliest_fee_date, Some(d("2025-04-01")));
    assert_eq!(b.decide_letter(&c, P, d("2025-04-01")).unwrap().fee, kr(35));
    assert_eq!(b.decide_letter(&c, V, d("2025-04-01")).unwrap().fee, kr(35));
    // A first purring with only 10 days: no second 1/20 fee until the six-month reset.
    let short = [sent(P, "2025-03-17", 10, 35)];
    let c = claim(DUE, &short);
    let x = b.decide_letter(&c, V, d("2025-05-01")).unwrap();
    assert!(x.allowed);
    assert_eq!(
        (x.fee, x.reason),
        (Money::ZERO, Reason::SecondFeeNeedsMissedDeadline)
    );
    assert_eq!(x.earliest_fee_date, Some(d("2025-09-17")));
    // And a betalingsoppfordring cannot follow it at all.
    let bo = b.decide_letter(&c, B, d("2025-05-01")).unwrap();
    assert_eq!(
        (bo.allowed, bo.reason, bo.earliest_send_date),
        (false, Reason::NeedsMissedDeadline, None)
    );
}

#[test]
fn betalingsoppfordring_after_a_missed_deadline_with_three_twentieths() {
    let b = Rulebook::norway();
    let letters = [sent(V, "2025-03-17", 14, 35)];
    let c = claim(DUE, &letters);
    let early = b.decide_letter(&c, B, d("2025-03-31")).unwrap();
    assert_eq!(
        (early.allowed, early.reason),
        (false, Reason::NeedsMissedDeadline)
    );
    assert_eq!(early.earliest_send_date, Some(d("2025-04-01")));
    let ok = b.decide_letter(&c, B, d("2025-04-01")).unwrap();
    assert_eq!((ok.allowed, ok.fee, ok.deadline_days), (true, kr(105), 14));
    // Nothing before: not allowed.
    let none = b
        .decide_letter(&claim(DUE, &[]), B, d("2025-06-01"))
        .unwrap();
    assert_eq!(
        (none.allowed, none.reason),
        (false, Reason::NeedsMissedDeadline)
    );
    // A fee-free purring with a 14-day deadline also qualifies (INKF § 1-2: "purring").
    let free = [sent(P, "2025-03-05", 14, 0)];
    let x = b
        .decide_letter(&claim(DUE, &free), B, d("2025-03-20"))
        .unwrap();
    assert_eq!((x.allowed, x.fee), (true, kr(105)));
}

/// Every sequence of up to four fee-bearing letters (purring, inkassovarsel,
/// betalingsoppfordring), each sent the day after the previous letter's 14-day deadline,
/// against an independent oracle of INKF § 1-3: a fee is granted iff the fee-bearing letters
/// so far plus this one fit within {2 purring + 1 BO} or {1 purring + 1 varsel + 1 BO}, and a
/// betalingsoppfordring needs an earlier purring or varsel.
#[test]
fn every_inkf_1_3_combination() {
    let b = Rulebook::norway();
    let kinds = [P, V, B];
    let fits =
        |p: u8, v: u8, bo: u8| (p <= 2 && v == 0 && bo <= 1) || (p <= 1 && v <= 1 && bo <= 1);
    let mut checked = 0;
    for len in 1..=4u32 {
        for code in 0..3usize.pow(len) {
            let seq: Vec<LetterKind> = (0..len)
                .map(|i| kinds[(code / 3usize.pow(i)) % 3])
                .collect();
            let mut letters: Vec<SentLetter> = Vec::new();
            let (mut p, mut v, mut bo) = (0u8, 0u8, 0u8);
            let mut day = d("2025-03-17");
            for &k in &seq {
                let c = claim(DUE, &letters);
                let x = b.decide_letter(&c, k, day).unwrap();
                let has_small = letters.iter().any(|l| l.kind == P || l.kind == V);
                let (np, nv, nb) = match k {
                    P => (p + 1, v, bo),
                    V => (p, v + 1, bo),
                    _ => (p, v, bo + 1),
                };
                if k == B && !has_small {
                    assert!(
                        !x.allowed,
                        "{seq:?}: BO without a missed deadline must be refused"
                    );
                    continue; // not sent
                }
                assert!(x.allowed, "{seq:?} at {k}");
                let expect_fee = fits(np, nv, nb);
                assert_eq!(
                    !x.fee.is_zero(),
                    expect_fee,
                    "{seq:?} at {k}: {:?}",
                    x.reason
                );
                if expect_fee {
                    (p, v, bo) = (np, nv, nb);
                    assert_eq!(x.fee, if k == B { kr(105) } else { kr(35) });
                } else {
                    assert_eq!(x.reason, Reason::FeeLimitReached, "{seq:?} at {k}");
                    assert!(x.earliest_fee_date.unwrap() > day);
                }
                letters.push(SentLetter {
                    kind: k,
                    sent: day,
                    deadline: Some(plus(day, 14)),
                    fee: x.fee_nominal,
                });
                day = plus(day, 15);
                checked += 1;
            }
        }
    }
    assert!(checked > 200, "{checked}");
}

#[test]
fn fee_count_resets_six_months_after_the_last_fee_bearing_letter() {
    let b = Rulebook::norway();
    let letters = [
        sent(P, "2025-03-17", 14, 35),
        sent(V, "2025-04-01", 14, 35),
        sent(B, "2025-04-16", 14, 105),
    ];
    let c = claim(DUE, &letters);
    let blocked = b.decide_letter(&c, P, d("2025-10-15")).unwrap();
    assert_eq!(
        (blocked.fee, blocked.reason),
        (Money::ZERO, Reason::FeeLimitReached)
    );
    assert_eq!(blocked.earliest_fee_date, Some(d("2025-10-16")));
    let again = b.decide_letter(&c, P, d("2025-10-16")).unwrap();
    assert_eq!((again.fee, again.reason), (kr(35), Reason::FeeAllowed));
}

#[test]
fn fractions_change_for_claims_due_from_2020_10_01() {
    let b = Rulebook::norway();
    // Due Wednesday 2020-09-30: old fractions (1/10, 3/10) of 700.
    let old = claim("2020-09-30", &[]);
    assert_eq!(
        b.decide_letter(&old, P, d("2020-10-20")).unwrap().fee,
        kr(70)
    );
    let l = [sent(P, "2020-10-20", 14, 70)];
    assert_eq!(
        b.decide_letter(&claim("2020-09-30", &l), B, d("2020-11-04"))
            .unwrap()
            .fee,
        kr(210)
    );
    // Due Thursday 2020-10-01: new fractions.
    let new = claim("2020-10-01", &[]);
    assert_eq!(
        b.decide_letter(&new, P, d("2020-10-20")).unwrap().fee,
        kr(35)
    );
    let l = [sent(P, "2020-10-20", 14, 35)];
    assert_eq!(
        b.decide_letter(&claim("2020-10-01", &l), B, d("2020-11-04"))
            .unwrap()
            .fee,
        kr(105)
    );
}

#[test]
fn sats_750_and_whole_kroner_from_2026_01_01() {
    let b = Rulebook::norway();
    let c = claim("2025-11-03", &[]);
    assert_eq!(b.decide_letter(&c, P, d("2025-12-31")).unwrap().fee, kr(35));
    let jan = b.decide_letter(&c, P, d("2026-01-02")).unwrap();
    assert_eq!(jan.fee, kr(38)); // 750/20 = 37.50 → 38
    assert_eq!(jan.fee.to_string(), "38.00");
    let l = [sent(P, "2025-12-01", 14, 35)];
    let c = claim("2025-11-03", &l);
    assert_eq!(
        b.decide_letter(&c, B, d("2025-12-31")).unwrap().fee,
        kr(105)
    );
    assert_eq!(
        b.decide_letter(&c, B, d("2026-01-02")).unwrap().fee,
        kr(113)
    ); // 112.50 → 113
       // An old-fraction claim in 2026: 750/10 = 75, 3 × 750/10 = 225.
    let old = claim("2020-09-30", &[]);
    assert_eq!(
        b.decide_letter(&old, P, d("2026-01-05")).unwrap().fee,
        kr(75)
    );
}

#[test]
fn rule_gap_after_the_new_inkassolov_and_after_the_last_sats() {
    let b = Rulebook::norway();
    let c = claim("2026-11-02", &[]);
    for k in [P, V, B] {
        assert_eq!(
            b.decide_letter(&c, k, d("2027-01-01")),
            Err(RuleGap::new(
                d("2027-01-01"),
                Missing::NewInkassolovRegulations
            )),
            "{k}"
        );
    }
    // A fee-free påminnelse stays lawful under the new act, stamped with it.
    let p = b.decide_letter(&c, Paminnelse, d("2027-01-01")).unwrap();
    assert!(p.allowed);
    assert_eq!((p.fee, p.reason), (Money::ZERO, Reason::NoFeeForThisLetter));
    assert!(p
        .rules
        .iter()
        .any(|r| b.tag(r) == "inkassolov:inkassolov-2026@LOV-2026-05-22-19"));
    assert!(b.decide_letter(&c, P, d("2026-12-31")).is_ok());
    // The § 4-18 varsel is enforcement law, not inkasso law.
    assert!(
        b.decide_letter(&c, Varsel418, d("2027-01-04"))
            .unwrap()
            .allowed
    );
    // With the in-force date moved to 2027-07-01, a letter in 2027 H1 runs past the last known sats.
    let later = b.with_new_law_in_force(d("2027-07-01")).unwrap();
    assert_eq!(
        later.decide_letter(&c, P, d("2027-02-01")),
        Err(RuleGap::new(d("2027-02-01"), Missing::Inkassosats))
    );
    assert_eq!(
        later
            .decide_letter(&c, P, d("2027-07-01"))
            .unwrap_err()
            .missing,
        Missing::NewInkassolovRegulations
    );
    // Moved earlier: a gap already in 2026.
    let earlier = b.with_new_law_in_force(d("2026-12-01")).unwrap();
    assert_eq!(
        earlier
            .decide_letter(&c, P, d("2026-12-01"))
            .unwrap_err()
            .missing,
        Missing::NewInkassolovRegulations
    );
}

#[test]
fn no_letters_or_fees_after_an_objection_that_is_not_obviously_groundless() {
    let b = Rulebook::norway();
    let mut c = claim(DUE, &[]);
    c.objection = Some(Objection {
        raised_on: d("2025-03-20"),
        obviously_groundless: false,
    });
    let before = b.decide_letter(&c, P, d("2025-03-19")).unwrap();
    assert_eq!(before.fee, kr(35));
    for k in LetterKind::ALL {
        let x = b.decide_letter(&c, k, d("2025-03-25")).unwrap();
        assert!(!x.allowed, "{k}");
        assert_eq!((x.fee, x.reason), (Money::ZERO, Reason::DebtorObjected));
        assert!(x.message_no().contains("innsigelse"));
        assert!(x.message_en().contains("objection"));
    }
    c.objection = Some(Objection {
        raised_on: d("2025-03-20"),
        obviously_groundless: true,
    });
    assert_eq!(b.decide_letter(&c, P, d("2025-03-25")).unwrap().fee, kr(35));
}

#[test]
fn business_compensation_offsets_fees_and_never_adds() {
    let b = Rulebook::norway();
    let (comp, _) = b
        .standardkompensasjon(DebtorKind::Business, d(DUE))
        .unwrap()
        .unwrap();
    assert_eq!(comp, kr(470)); // 2025-H1
    assert_eq!(
        b.standardkompensasjon(DebtorKind::Consumer, d(DUE))
            .unwrap(),
        None
    );
    let mut c = claim(DUE, &[]);
    c.debtor = DebtorKind::Business;
    c.compensation_claimed = Some(comp);
    let x = b.decide_letter(&c, P, d("2025-03-17")).unwrap();
    assert!(x.allowed);
    assert_eq!(
        (x.fee, x.fee_nominal, x.reason),
        (Money::ZERO, kr(35), Reason::OffsetByCompensation)
    );
    // A (hypothetical) small compensation: the debtor owes max(compensation, fees).
    c.compensation_claimed = Some(kr(50));
    assert_eq!(
        b.decide_letter(&c, P, d("2025-03-17")).unwrap().fee,
        Money::ZERO
    );
    let l = [sent(P, "2025-03-17", 14, 35)];
    c.letters = &l;
    let second = b.decide_letter(&c, V, d("2025-04-01")).unwrap();
    assert_eq!((second.fee, second.fee_nominal), (kr(20), kr(35))); // max(50, 70) − max(50, 35)
                                                                    // Consumers: a compensation is not theirs to pay, nothing is offset.
    c.debtor = DebtorKind::Consumer;
    assert_eq!(b.decide_letter(&c, V, d("2025-04-01")).unwrap().fee, kr(35));
    // Half-years without a known compensation are gaps, not guesses.
    assert_eq!(
        b.standardkompensasjon(DebtorKind::Business, d("2021-03-01"))
            .unwrap_err()
            .missing,
        Missing::Standardkompensasjon
    );
}

#[test]
fn next_letter_follows_the_chain() {
    let b = Rulebook::norway();
    let c = claim(DUE, &[]);
    assert_eq!(b.next_letter(&c, d("2025-03-17")).unwrap().unwrap().kind, P);
    let l1 = [sent(P, "2025-03-17", 14, 35)];
    assert_eq!(
        b.next_letter(&claim(DUE, &l1), d("2025-04-01"))
            .unwrap()
            .unwrap()
            .kind,
        V
    );
    let l2 = [sent(P, "2025-03-17", 14, 35), sent(V, "2025-04-01", 14, 35)];
    let n = b
        .next_letter(&claim(DUE, &l2), d("2025-04-16"))
        .unwrap()
        .unwrap();
    assert_eq!((n.kind, n.fee), (B, kr(105)));
    let l4 = [
        sent(P, "2025-03-17", 14, 35),
        sent(V, "2025-04-01", 14, 35),
        sent(B, "2025-04-16", 14, 105),
        sent(Varsel418, "2025-04-16", 14, 0),
    ];
    assert_eq!(
        b.next_letter(&claim(DUE, &l4), d("2025-05-01")).unwrap(),
        None
    );
}
