//! Forsinkelsesrente (forsinkelsesrenteloven §§ 2–3) to the øre.
//!
//! - Simple interest on the principal (no interest on interest or on fees).
//! - First interest day: the day after the due date; a due date on a Saturday, Sunday or
//!   public holiday first moves to the next business day (gjeldsbrevloven § 5 (2)).
//! - Last interest day: the payment (or as-of) date, inclusive.
//! - Each day at the half-year rate in force that day divided by the days of that calendar
//!   year (365 or 366): actual/actual by calendar year.
//! - The exact sum is rounded half-up to øre once, at the end.
//!
//! The computation is exact integer arithmetic: with the balance in øre `b`, the rate in
//! millionths `r` and `n` days, a segment is `b·r·n / (10⁶·Y)` øre. Segments of 365-day and
//! 366-day years are summed separately and combined over the common denominator
//! `10⁶·365·366`, so the only rounding is the final half-up to whole øre. The hot path
//! ([`Rulebook::interest_total`]) performs no heap allocation.

use super::calendar::next_business_day_on_or_after;
use super::rulebook::{Missing, RuleGap, RuleRef, Rulebook, Table};
use crate::domain::money::Money;
use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InterestError {
    #[error(transparent)]
    Gap(#[from] RuleGap),
    #[error("a balance must not be negative")]
    NegativeBalance,
    #[error("balance changes must be in date order")]
    ChangesOutOfOrder,
    #[error("the amount is too large to compute")]
    Overflow,
}

/// A change of the interest-bearing balance: at the end of `date` (after that day's interest)
/// the balance becomes `balance`. A part payment on day D is a change on D: the paid part
/// bears interest through the payment day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BalanceChange {
    pub date: NaiveDate,
    pub balance: Money,
}

/// One segment: a run of days with the same balance, rate and year length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterestSegment {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub days: u32,
    pub balance: Money,
    pub rate_percent: Decimal,
    /// 365 or 366.
    pub year_days: u32,
    /// The exact amount in kroner (not rounded; shown with up to 6 decimals at the edges).
    pub amount_exact: Decimal,
    pub rule: RuleRef,
}

/// The result with its segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interest {
    pub total: Money,
    /// `None` when no interest day falls in the period (paid on time).
    pub first_day: Option<NaiveDate>,
    pub last_day: NaiveDate,
    /// The due date after moving it to a business day.
    pub effective_due_date: NaiveDate,
    pub days: u32,
    pub segments: Vec<InterestSegment>,
    /// The rate entries used, as an index range into the forsinkelsesrente table.
    pub rules: Option<(RuleRef, RuleRef)>,
}

/// The total only (no segments, no allocation): the hot path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterestTotal {
    pub total: Money,
    pub days: u32,
    pub rules: Option<(RuleRef, RuleRef)>,
}

/// Numerators per year length, in øre × millionths × days.
#[derive(Debug, Default, Clone, Copy)]
struct Acc {
    n365: i128,
    n366: i128,
    days: u32,
    first_rule: Option<u16>,
    last_rule: Option<u16>,
}

const MICRO: i128 = 1_000_000;

impl Acc {
    fn total(&self) -> Result<Money, InterestError> {
        let num = self
            .n365
            .checked_mul(366)
            .and_then(|a| self.n366.checked_mul(365).and_then(|b| a.checked_add(b)))
            .ok_or(InterestError::Overflow)?;
        let den = MICRO * 365 * 366;
        // Half-up for a non-negative numerator.
        let ore = num
            .checked_mul(2)
            .and_then(|n| n.checked_add(den))
            .ok_or(InterestError::Overflow)?
            / (2 * den);
        let ore = i64::try_from(ore).map_err(|_| InterestError::Overflow)?;
        Ok(Money::from_ore(ore))
    }

    fn rules(&self) -> Option<(RuleRef, RuleRef)> {
        let r = |i| RuleRef {
            table: Table::Forsinkelsesrente,
            index: i,
        };
        match (self.first_rule, self.last_rule) {
            (Some(a), Some(b)) => Some((r(a), r(b))),
            _ => None,
        }
    }
}

/// Raw segment handed to the collector (no Decimal work unless the caller wants it).
#[derive(Clone, Copy)]
struct RawSeg {
    first: i32,
    last: i32,
    balance_ore: i128,
    numerator: i128,
    year_days: i64,
    entry: u16,
}

fn date_of(day: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(day).unwrap_or(NaiveDate::MAX)
}

impl Rulebook {
    /// Accrues `balance_ore` over the days `first..=last`, calling `seg` for each segment.
    fn accrue(
        &self,
        balance_ore: i128,
        first: NaiveDate,
        last: NaiveDate,
        acc: &mut Acc,
        seg: &mut impl FnMut(RawSeg),
    ) -> Result<(), InterestError> {
        if last < first {
            return Ok(());
        }
        if balance_ore < 0 {
            return Err(InterestError::NegativeBalance);
        }
        let segs = &self.rate_segments;
        let (a, b) = (first.num_days_from_ce(), last.num_days_from_ce());
        let (Some(head), Some(tail)) = (segs.first(), segs.last()) else {
            return Err(RuleGap::new(first, Missing::ForsinkelsesrenteRate).into());
        };
        if a < head.first {
            return Err(RuleGap::new(first, Missing::ForsinkelsesrenteRate).into());
        }
        if b > tail.last {
            // The first day after the last known rate.
            return Err(
                RuleGap::new(date_of(tail.last + 1), Missing::ForsinkelsesrenteRate).into(),
            );
        }
        let mut i = segs.partition_point(|s| s.last < a);
        let mut cur = a;
        loop {
            let s = segs[i];
            let end = b.min(s.last);
            let days = (end - cur + 1) as i128;
            let numerator = balance_ore
                .checked_mul(i128::from(s.rate_micro))
                .and_then(|x| x.checked_mul(days))
                .ok_or(InterestError::Overflow)?;
            if s.year_days == 366 {
                acc.n366 = acc
                    .n366
                    .checked_add(numerator)
                    .ok_or(InterestError::Overflow)?;
            } else {
                acc.n365 = acc
                    .n365
                    .checked_add(numerator)
                    .ok_or(InterestError::Overflow)?;
            }
            acc.days += days as u32;
            acc.first_rule = Some(acc.first_rule.map_or(s.entry, |f| f.min(s.entry)));
            acc.last_rule = Some(acc.last_rule.map_or(s.entry, |l| l.max(s.entry)));
            seg(RawSeg {
                first: cur,
                last: end,
                balance_ore,
                numerator,
                year_days: s.year_days,
                entry: s.entry,
            });
            if end >= b {
                return Ok(());
            }
            cur = end + 1;
            i += 1;
        }
    }

    /// Walks the balance periods: `opening` from the first interest day, then each change.
    fn accrue_balances(
        &self,
        due: NaiveDate,
        opening: Money,
        changes: &[BalanceChange],
        until: NaiveDate,
        seg: &mut impl FnMut(RawSeg),
    ) -> Result<(Acc, NaiveDate, NaiveDate), InterestError> {
        let effective_due = next_business_day_on_or_after(due);
        let first_day = effective_due.succ_opt().unwrap_or(NaiveDate::MAX);
        let mut acc = Acc::default();
        let mut balance = opening;
        let mut start = first_day;
        let mut prev_change: Option<NaiveDate> = None;
        for c in changes {
            if prev_change.is_some_and(|p| c.date < p) {
                return Err(InterestError::ChangesOutOfOrder);
            }
            prev_change = Some(c.date);
            if c.date >= until {
                break;
            }
            if c.date >= start {
                self.accrue(balance.to_ore(), start, c.date, &mut acc, seg)?;
                start = c.date.succ_opt().unwrap_or(NaiveDate::MAX);
            }
            // A change before interest starts only sets the opening balance.
            balance = c.balance;
        }
        if balance.is_negative() {
            return Err(InterestError::NegativeBalance);
        }
        self.accrue(balance.to_ore(), start, until, &mut acc, seg)?;
        Ok((acc, effective_due, first_day))
    }

    /// Forsinkelsesrente on `principal` due on `due`, through `until` (payment or as-of date),
    /// total only. No heap allocation.
    pub fn interest_total(
        &self,
        principal: Money,
        due: NaiveDate,
        until: NaiveDate,
    ) -> Result<InterestTotal, InterestError> {
        let (acc, _, _) = self.accrue_balances(due, principal, &[], until, &mut |_| {})?;
        Ok(InterestTotal {
            total: acc.total()?,
            days: acc.days,
            rules: acc.rules(),
        })
    }

    /// Forsinkelsesrente over a changing balance (see [`Rulebook::interest_on_balances`]),
    /// total only. No heap allocation: the dunning planner's hot path.
    pub fn interest_total_on_balances(
        &self,
        due: NaiveDate,
        opening: Money,
        changes: &[BalanceChange],
        until: NaiveDate,
    ) -> Result<InterestTotal, InterestError> {
        let (acc, _, _) = self.accrue_balances(due, opening, changes, until, &mut |_| {})?;
        Ok(InterestTotal {
            total: acc.total()?,
            days: acc.days,
            rules: acc.rules(),
        })
    }

    /// Forsinkelsesrente with its segments.
    pub fn interest(
        &self,
        principal: Money,
        due: NaiveDate,
        until: NaiveDate,
    ) -> Result<Interest, InterestError> {
        self.interest_on_balances(due, principal, &[], until)
    }

    /// Forsinkelsesrente over a balance that changes (part payments, credit notes, additions).
    /// `changes` must be in date order; see [`BalanceChange`] for the day convention.
    pub fn interest_on_balances(
        &self,
        due: NaiveDate,
        opening: Money,
        changes: &[BalanceChange],
        until: NaiveDate,
    ) -> Result<Interest, InterestError> {
        let mut raw: Vec<RawSeg> = Vec::new();
        let (acc, effective_due, first_day) =
            self.accrue_balances(due, opening, changes, until, &mut |s| raw.push(s))?;
        self.finish(acc, raw, effective_due, first_day, until)
    }

    /// Interest over explicit interest days `first..=last` (no due-date shift): used for
    /// time-barred accruals.
    pub fn interest_over_days(
        &self,
        balance: Money,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<Interest, InterestError> {
        let mut raw: Vec<RawSeg> = Vec::new();
        let mut acc = Acc::default();
        self.accrue(balance.to_ore(), first, last, &mut acc, &mut |s| {
            raw.push(s)
        })?;
        let effective_due = first.pred_opt().unwrap_or(first);
        self.finish(acc, raw, effective_due, first, last)
    }

    /// Interest over several runs of interest days (inclusive, in order, not overlapping),
    /// rounded once.
    pub fn interest_over_runs(
        &self,
        balance: Money,
        runs: &[(NaiveDate, NaiveDate)],
    ) -> Result<Interest, InterestError> {
        let mut raw: Vec<RawSeg> = Vec::new();
        let mut acc = Acc::default();
        for &(a, b) in runs {
            self.accrue(balance.to_ore(), a, b, &mut acc, &mut |s| raw.push(s))?;
        }
        let first = runs.first().map_or(NaiveDate::MIN, |r| r.0);
        let last = runs.last().map_or(NaiveDate::MIN, |r| r.1);
        self.finish(acc, raw, first.pred_opt().unwrap_or(first), first, last)
    }

    fn finish(
        &self,
        acc: Acc,
        raw: Vec<RawSeg>,
        effective_due: NaiveDate,
        first_day: NaiveDate,
        until: NaiveDate,
    ) -> Result<Interest, InterestError> {
        let segments = raw
            .iter()
            .map(|s| {
                let den = Decimal::from(MICRO * 100 * i128::from(s.year_days));
                let amount_exact = Decimal::try_from_i128_with_scale(s.numerator, 0)
                    .map(|n| n / den)
                    .map_err(|_| InterestError::Overflow)?;
                Ok(InterestSegment {
                    from: date_of(s.first),
                    to: date_of(s.last),
                    days: (s.last - s.first + 1) as u32,
                    balance: Money::from_ore(
                        i64::try_from(s.balance_ore).map_err(|_| InterestError::Overflow)?,
                    ),
                    rate_percent: self.rates[usize::from(s.entry)].rate_percent,
                    year_days: s.year_days as u32,
                    amount_exact,
                    rule: RuleRef {
                        table: Table::Forsinkelsesrente,
                        index: s.entry,
                    },
                })
            })
            .collect::<Result<Vec<_>, InterestError>>()?;
        Ok(Interest {
            total: acc.total()?,
            first_day: (acc.days > 0).then_some(first_day),
            last_day: until,
            effective_due_date: effective_due,
            days: acc.days,
            segments,
            rules: acc.rules(),
        })
    }

    /// The rule version string of an interest result: the rulebook version and every rate
    /// entry used, e.g.
    /// `"NO-2026.10.2 forsinkelsesrente:2025-H1@FOR-2024-12-19-3279+2025-H2@…"`.
    pub fn interest_rule_version(&self, rules: Option<(RuleRef, RuleRef)>) -> String {
        let mut s = format!("{} forsinkelsesrente:", self.version);
        match rules {
            None => s.push_str("none"),
            Some((a, b)) => {
                for i in a.index..=b.index {
                    if i > a.index {
                        s.push('+');
                    }
                    let m = &self.rates[usize::from(i)].meta;
                    s.push_str(&m.id);
                    s.push('@');
                    s.push_str(&m.basis);
                }
            }
        }
        s
    }
}

/// Whole days between two dates as the interest rule counts them (inclusive of both ends).
pub fn interest_days(first: NaiveDate, last: NaiveDate) -> u32 {
    if last < first {
        0
    } else {
        (last.num_days_from_ce() - first.num_days_from_ce() + 1) as u32
    }
}

/// Days in the calendar year of `d` (365 or 366).
pub fn days_in_year(d: NaiveDate) -> u32 {
    if d.leap_year() {
        366
    } else {
        365
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }
    fn kr(s: &str) -> Money {
        s.parse().unwrap()
    }

    #[test]
    fn worked_example_from_the_reference() {
        // 10 000 kr due Friday 2025-06-20, paid 2026-01-10:
        // 10 000 × 12.50 % × 10/365 = 34.2466 (2025-06-21 … 2025-06-30)
        // 10 000 × 12.25 % × 184/365 = 617.5342 (2025-07-01 … 2025-12-31)
        // 10 000 × 12.00 % × 10/365 = 32.8767 (2026-01-01 … 2026-01-10)
        // = 684.6575 → 684.66
        let b = Rulebook::norway();
        let i = b
            .interest(kr("10000"), d("2025-06-20"), d("2026-01-10"))
            .unwrap();
        assert_eq!(i.total.to_string(), "684.66");
        assert_eq!(i.days, 204);
        assert_eq!(i.segments.len(), 3);
        let s = &i.segments;
        assert_eq!(
            (s[0].from, s[0].to, s[0].days),
            (d("2025-06-21"), d("2025-06-30"), 10)
        );
        assert_eq!(
            (s[1].from, s[1].to, s[1].days),
            (d("2025-07-01"), d("2025-12-31"), 184)
        );
        assert_eq!(
            (s[2].from, s[2].to, s[2].days),
            (d("2026-01-01"), d("2026-01-10"), 10)
        );
        assert_eq!(s[0].rate_percent, dec!(12.50));
        assert_eq!(s[1].rate_percent, dec!(12.25));
        assert_eq!(s[2].rate_percent, dec!(12.00));
        assert_eq!(s[0].amount_exact.round_dp(4), dec!(34.2466));
        assert_eq!(s[1].amount_exact.round_dp(4), dec!(617.5342));
        assert_eq!(s[2].amount_exact.round_dp(4), dec!(32.8767));
        assert_eq!(
            b.tag(s[2].rule),
            "forsinkelsesrente:2026-H1@FOR-2025-12-18-2658"
        );
        assert_eq!(
            b.interest_rule_version(i.rules),
            "NO-2026.10.2 forsinkelsesrente:2025-H1@FOR-2024-12-19-3279+2025-H2@FOR-2025-06-23-1321+2026-H1@FOR-2025-12-18-2658"
        );
        let t = b
            .interest_total(kr("10000"), d("2025-06-20"), d("2026-01-10"))
            .unwrap();
        assert_eq!(t.total, i.total);
    }

    #[test]
    fn payment_on_the_due_date_is_on_time() {
        let b = Rulebook::norway();
        let i = b
            .interest(kr("10000"), d("2025-06-20"), d("2025-06-20"))
            .unwrap();
        assert_eq!(i.total, Money::ZERO);
        assert_eq!(i.first_day, None);
        assert!(i.segments.is_empty());
        // One day late: 10 000 × 12.5 % / 365 = 3.4246… → 3.42
        let i = b
            .interest(kr("10000"), d("2025-06-20"), d("2025-06-21"))
            .unwrap();
        assert_eq!(i.total.to_string(), "3.42");
    }

    #[test]
    fn leap_year_divides_by_366() {
        let b = Rulebook::norway();
        // 2024 is a leap year, 12.50 % all year: 100 000 × 0.125 × 366/366 = 12 500.00.
        let i = b
            .interest(kr("100000"), d("2023-12-29"), d("2024-12-31"))
            .unwrap();
        // Due Friday 2023-12-29: first day 2023-12-30 (2 days at 11.75 %/365), then all of 2024.
        let expected_2023 = dec!(100000) * dec!(0.1175) * dec!(2) / dec!(365);
        let expected = Money::round_half_up(expected_2023 + dec!(12500));
        assert_eq!(i.total, expected);
        assert_eq!(i.segments.len(), 3); // 2023-H2, 2024-H1, 2024-H2
        assert_eq!(i.segments[1].year_days, 366);
        assert_eq!(i.segments[0].year_days, 365);
        // A single leap day: 2024-02-29 at 12.5 %/366 on 36 600 kr = 12.50 exactly.
        let i = b
            .interest(kr("36600"), d("2024-02-28"), d("2024-02-29"))
            .unwrap();
        assert_eq!(i.total.to_string(), "12.50");
    }

    #[test]
    fn due_date_on_weekend_or_holiday_moves_first() {
        let b = Rulebook::norway();
        // Saturday 2025-06-21 → Monday 23; interest from Tuesday 24.
        let i = b
            .interest(kr("10000"), d("2025-06-21"), d("2025-06-30"))
            .unwrap();
        assert_eq!(i.effective_due_date, d("2025-06-23"));
        assert_eq!(i.first_day, Some(d("2025-06-24")));
        assert_eq!(i.days, 7);
        // Maundy Thursday 2025-04-17 → Tuesday 2025-04-22; first day 23 April.
        let i = b
            .interest(kr("10000"), d("2025-04-17"), d("2025-04-30"))
            .unwrap();
        assert_eq!(i.effective_due_date, d("2025-04-22"));
        assert_eq!(i.first_day, Some(d("2025-04-23")));
        assert_eq!(i.days, 8);
        // Paying on the moved due date is on time.
        let i = b
            .interest(kr("10000"), d("2025-04-17"), d("2025-04-22"))
            .unwrap();
        assert_eq!(i.total, Money::ZERO);
        // Whit Monday 2026-05-25 → Tuesday 26.
        let i = b
            .interest(kr("1000"), d("2026-05-25"), d("2026-05-27"))
            .unwrap();
        assert_eq!(i.first_day, Some(d("2026-05-27")));
    }

    #[test]
    fn part_payments_change_the_balance_after_the_payment_day() {
        let b = Rulebook::norway();
        // 10 000 due 2025-06-20; 4 000 paid 2025-09-30 → 6 000 from 2025-10-01; until 2026-01-10.
        let changes = [BalanceChange {
            date: d("2025-09-30"),
            balance: kr("6000"),
        }];
        let i = b
            .interest_on_balances(d("2025-06-20"), kr("10000"), &changes, d("2026-01-10"))
            .unwrap();
        let exact = dec!(10000) * dec!(0.125) * dec!(10) / dec!(365)
            + dec!(10000) * dec!(0.1225) * dec!(92) / dec!(365)
            + dec!(6000) * dec!(0.1225) * dec!(92) / dec!(365)
            + dec!(6000) * dec!(0.12) * dec!(10) / dec!(365);
        assert_eq!(i.total, Money::round_half_up(exact));
        let total = b
            .interest_total_on_balances(d("2025-06-20"), kr("10000"), &changes, d("2026-01-10"))
            .unwrap();
        assert_eq!(
            (total.total, total.days, total.rules),
            (i.total, i.days, i.rules)
        );
        assert_eq!(i.segments.len(), 4);
        assert_eq!(i.segments[1].to, d("2025-09-30"));
        assert_eq!(i.segments[2].from, d("2025-10-01"));
        // Paid in full: nothing accrues afterwards.
        let full = [BalanceChange {
            date: d("2025-07-10"),
            balance: Money::ZERO,
        }];
        let i = b
            .interest_on_balances(d("2025-06-20"), kr("10000"), &full, d("2026-01-10"))
            .unwrap();
        let until = b
            .interest(kr("10000"), d("2025-06-20"), d("2025-07-10"))
            .unwrap();
        assert_eq!(i.total, until.total);
        // Out of order is refused.
        let bad = [
            BalanceChange {
                date: d("2025-09-30"),
                balance: kr("6000"),
            },
            BalanceChange {
                date: d("2025-08-30"),
                balance: kr("5000"),
            },
        ];
        assert_eq!(
            b.interest_on_balances(d("2025-06-20"), kr("10000"), &bad, d("2026-01-10")),
            Err(InterestError::ChangesOutOfOrder)
        );
    }

    #[test]
    fn gap_after_the_last_known_rate_and_before_the_first() {
        let b = Rulebook::norway();
        let e = b
            .interest(kr("10000"), d("2026-06-20"), d("2027-01-05"))
            .unwrap_err();
        assert_eq!(
            e,
            InterestError::Gap(RuleGap::new(
                d("2027-01-01"),
                Missing::ForsinkelsesrenteRate
            ))
        );
        // Through the last known day is fine.
        assert!(b
            .interest(kr("10000"), d("2026-06-20"), d("2026-12-31"))
            .is_ok());
        let e = b
            .interest(kr("10000"), d("2014-06-20"), d("2015-01-05"))
            .unwrap_err();
        assert_eq!(
            e,
            InterestError::Gap(RuleGap::new(
                d("2014-06-21"),
                Missing::ForsinkelsesrenteRate
            ))
        );
    }
}
