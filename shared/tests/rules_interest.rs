//! Forsinkelsesrente: worked example, oracle and property tests.

use chrono::{Datelike, Days, NaiveDate};
use proptest::prelude::*;
use rust_decimal::Decimal;
use shared::domain::collection::interest::BalanceChange;
use shared::domain::{Money, Rulebook};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// An independent oracle: day by day, `principal × rate(day) / 100 / days(year)`, summed in
/// Decimal and rounded half-up once. Shares only the rate look-up with the implementation.
fn oracle(principal: Money, first: NaiveDate, last: NaiveDate) -> Money {
    let b = Rulebook::norway();
    let mut sum = Decimal::ZERO;
    let mut day = first;
    while day <= last {
        let (rate, _) = b.rate_on(day).unwrap();
        let year_days = if day.leap_year() { 366 } else { 365 };
        sum += principal.as_decimal() * rate.rate_percent
            / Decimal::from(100)
            / Decimal::from(year_days);
        day = day.succ_opt().unwrap();
    }
    Money::round_half_up(sum)
}

#[test]
fn worked_example_684_66() {
    let b = Rulebook::norway();
    let i = b
        .interest(Money::from_kroner(10_000), d("2025-06-20"), d("2026-01-10"))
        .unwrap();
    assert_eq!(i.total.to_string(), "684.66");
    assert_eq!(
        oracle(Money::from_kroner(10_000), d("2025-06-21"), d("2026-01-10")),
        i.total
    );
}

#[test]
fn rate_change_inside_a_claim_and_leap_year() {
    let b = Rulebook::norway();
    // 2019-12-02 … 2020-08-31: 9.25 % (2019, /365), 9.50 % (2020 H1, /366), 8.00 % (2020 H2, /366).
    let p = Money::from_kroner(250_000);
    let i = b.interest(p, d("2019-12-02"), d("2020-08-31")).unwrap();
    assert_eq!(i.segments.len(), 3);
    assert_eq!(i.segments[0].year_days, 365);
    assert_eq!(i.segments[1].year_days, 366);
    assert_eq!(i.segments[2].year_days, 366);
    assert_eq!(i.total, oracle(p, d("2019-12-03"), d("2020-08-31")));
    let exact = Decimal::from(250_000)
        * (Decimal::new(925, 4) * Decimal::from(29) / Decimal::from(365)
            + Decimal::new(950, 4) * Decimal::from(182) / Decimal::from(366)
            + Decimal::new(800, 4) * Decimal::from(62) / Decimal::from(366));
    assert_eq!(i.total, Money::round_half_up(exact));
}

#[test]
fn whole_table_against_the_oracle() {
    let b = Rulebook::norway();
    let p: Money = "123456.78".parse().unwrap();
    let i = b.interest(p, d("2014-12-31"), d("2026-12-31")).unwrap();
    assert_eq!(i.segments.len(), 24);
    assert_eq!(i.total, oracle(p, d("2015-01-01"), d("2026-12-31")));
}

fn arb_date(from: &str, span_days: u64) -> impl Strategy<Value = NaiveDate> {
    let base = d(from);
    (0..span_days).prop_map(move |n| base + Days::new(n))
}

fn arb_money() -> impl Strategy<Value = Money> {
    (1i64..=10_000_000_000).prop_map(Money::from_ore)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn matches_the_day_by_day_oracle(p in arb_money(), due in arb_date("2015-01-01", 4000), len in 0u64..800) {
        let b = Rulebook::norway();
        let until = (due + Days::new(len)).min(d("2026-12-31"));
        let i = b.interest(p, due, until).unwrap();
        let expected = match i.first_day {
            Some(first) => oracle(p, first, until),
            None => Money::ZERO,
        };
        prop_assert_eq!(i.total, expected);
        let t = b.interest_total(p, due, until).unwrap();
        prop_assert_eq!(t.total, i.total);
        prop_assert_eq!(t.days, i.days);
    }

    #[test]
    fn grows_with_days(p in arb_money(), due in arb_date("2015-01-01", 4000), a in 0u64..1500, extra in 0u64..400) {
        let b = Rulebook::norway();
        let u1 = (due + Days::new(a)).min(d("2026-12-31"));
        let u2 = (u1 + Days::new(extra)).min(d("2026-12-31"));
        let i1 = b.interest_total(p, due, u1).unwrap();
        let i2 = b.interest_total(p, due, u2).unwrap();
        prop_assert!(i2.total >= i1.total);
        prop_assert!(i2.days >= i1.days);
    }

    #[test]
    fn linear_in_the_principal_within_rounding(p in 1i64..=100_000_000, k in 1i64..50, due in arb_date("2015-01-01", 4000), len in 0u64..1500) {
        let b = Rulebook::norway();
        let until = (due + Days::new(len)).min(d("2026-12-31"));
        let one = b.interest_total(Money::from_ore(p), due, until).unwrap().total.to_ore();
        let many = b.interest_total(Money::from_ore(p * k), due, until).unwrap().total.to_ore();
        // |round(k·x) − k·round(x)| ≤ ½ + k/2 øre.
        let diff = (many - i128::from(k) * one).abs();
        prop_assert!(2 * diff <= 1 + i128::from(k), "diff {} øre for k = {}", diff, k);
        // Additive: I(p + q) within one øre of I(p) + I(q).
        let q = p / 3 + 1;
        let pq = b.interest_total(Money::from_ore(p + q), due, until).unwrap().total.to_ore();
        let qq = b.interest_total(Money::from_ore(q), due, until).unwrap().total.to_ore();
        prop_assert!((pq - one - qq).abs() <= 1);
    }

    #[test]
    fn splitting_a_period_moves_the_total_by_at_most_one_ore_per_split(
        p in arb_money(),
        due in arb_date("2015-01-01", 3000),
        cuts in proptest::collection::vec(1u64..1000, 1..6),
    ) {
        let b = Rulebook::norway();
        // Explicit interest days (no due-date shift): the period due ..= last.
        let whole_first = due;
        let mut points: Vec<NaiveDate> = cuts.iter().map(|c| whole_first + Days::new(*c)).collect();
        points.sort();
        points.dedup();
        let last = (*points.last().unwrap() + Days::new(30)).min(d("2026-12-31"));
        points.retain(|x| *x < last);
        let whole = b.interest_over_days(p, whole_first, last).unwrap().total.to_ore();
        let mut parts = 0i128;
        let mut start = whole_first;
        for cut in &points {
            parts += b.interest_over_days(p, start, *cut).unwrap().total.to_ore();
            start = cut.succ_opt().unwrap();
        }
        parts += b.interest_over_days(p, start, last).unwrap().total.to_ore();
        prop_assert!((parts - whole).abs() <= points.len() as i128, "{} vs {} with {} splits", parts, whole, points.len());
    }

    #[test]
    fn a_zero_change_is_no_change(p in arb_money(), due in arb_date("2015-01-01", 3000), at in 0u64..600, len in 0u64..900) {
        let b = Rulebook::norway();
        let until = (due + Days::new(len)).min(d("2026-12-31"));
        let change = [BalanceChange { date: due + Days::new(at), balance: p }];
        let with = b.interest_on_balances(due, p, &change, until).unwrap();
        let without = b.interest(p, due, until).unwrap();
        prop_assert_eq!(with.total, without.total);
    }
}

#[test]
fn part_payment_equals_the_sum_of_the_two_balances() {
    let b = Rulebook::norway();
    // 10 000 until 2025-09-30, 6 000 after; equivalently 6 000 throughout + 4 000 until 09-30.
    let change = [BalanceChange {
        date: d("2025-09-30"),
        balance: Money::from_kroner(6_000),
    }];
    let i = b
        .interest_on_balances(
            d("2025-06-20"),
            Money::from_kroner(10_000),
            &change,
            d("2026-01-10"),
        )
        .unwrap();
    let exact = oracle_exact(6_000, d("2025-06-21"), d("2026-01-10"))
        + oracle_exact(4_000, d("2025-06-21"), d("2025-09-30"));
    assert_eq!(i.total, Money::round_half_up(exact));
}

fn oracle_exact(kr: i64, first: NaiveDate, last: NaiveDate) -> Decimal {
    let b = Rulebook::norway();
    let mut sum = Decimal::ZERO;
    let mut day = first;
    while day <= last {
        let (rate, _) = b.rate_on(day).unwrap();
        let year_days = if day.year() % 4 == 0 { 366 } else { 365 };
        sum +=
            Decimal::from(kr) * rate.rate_percent / Decimal::from(100) / Decimal::from(year_days);
        day = day.succ_opt().unwrap();
    }
    sum
}
