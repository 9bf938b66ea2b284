//! Foreldelse (limitation), foreldelsesloven.
//!
//! - The period is 3 years (§ 2) from the day the creditor could first demand payment (§ 3
//!   nr. 1): the due date when one was agreed in advance; the caller passes it as `start`.
//! - Counting: the period runs out at the end of the day with the same date three years later
//!   (`last_day`); the claim is time-barred from the next day (`time_barred_on`). A last day on
//!   a weekend or holiday is NOT moved (the conservative reading: warn and act earlier).
//!   29 February + 3 years = 28 February.
//! - An acknowledgement by the debtor, including a part payment, starts a new 3-year period
//!   from its date (§ 14, § 20). A legal step (forliksklage, stevning, begjæring om utlegg)
//!   suspends the period while pursued (`last_day = None`); a judgment or forlik starts a
//!   10-year period (§ 21). Reminders, inkassovarsel and betalingsoppfordring do not
//!   interrupt. An event after the claim is time-barred does not revive it.
//! - Interest becomes time-barred day by day: each day's accrual 3 years after it accrued,
//!   moved by the same interruptions.
//! - Not modelled: a legal step dropped without the creditor's fault (§ 22, one extra year),
//!   the extension for ignorance (§ 10), and a claim reported in bankruptcy: record these as a
//!   manual review.

use super::calendar::next_business_day_on_or_after;
use super::interest::{Interest, InterestError};
use super::rulebook::{add_days, add_months, RuleGap, RuleRef, Rulebook};
use crate::domain::money::Money;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InterruptionKind {
    PartPayment,
    Acknowledgement,
    /// Forliksklage, stevning or begjæring om utlegg filed: suspends while pursued.
    LegalStep,
    /// Judgment or court settlement (dom, rettsforlik, forliksrådets dom): 10 years.
    Judgment,
}

#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Interruption {
    pub date: NaiveDate,
    pub kind: InterruptionKind,
}

#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LimitationState {
    Running,
    /// A legal step is pending.
    Suspended,
    TimeBarred,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limitation {
    /// Start of the period now running.
    pub period_start: NaiveDate,
    pub period_years: u32,
    /// The last day the claim can be interrupted; `None` while a legal step is pending.
    pub last_day: Option<NaiveDate>,
    /// The first day the claim is time-barred; `None` while a legal step is pending.
    pub time_barred_on: Option<NaiveDate>,
    /// The last interruption that moved the period.
    pub interrupted_by: Option<Interruption>,
    /// Events dated after the claim was already time-barred (they do not revive it).
    pub ignored_events: u32,
    pub rule: RuleRef,
}

impl Limitation {
    pub fn state_on(&self, date: NaiveDate) -> LimitationState {
        match self.time_barred_on {
            None => LimitationState::Suspended,
            Some(b) if date >= b => LimitationState::TimeBarred,
            Some(_) => LimitationState::Running,
        }
    }
}

/// Interest accruals that are time-barred on a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarredInterest {
    /// The runs of interest days (inclusive) whose accruals are time-barred.
    pub runs: Vec<(NaiveDate, NaiveDate)>,
    /// The barred part (with segments), rounded once; `None` when nothing is barred.
    pub interest: Option<Interest>,
    pub total: Money,
}

/// A claim expiring soon (the answer to "time-barred within N days").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiring<Id> {
    pub id: Id,
    pub last_day: NaiveDate,
    pub time_barred_on: NaiveDate,
    /// Days from `today` to `time_barred_on`.
    pub days_left: i64,
}

impl Rulebook {
    /// The limitation of a claim whose period started on `start`, given its interruptions
    /// (any order).
    pub fn limitation(
        &self,
        start: NaiveDate,
        interruptions: &[Interruption],
    ) -> Result<Limitation, RuleGap> {
        let (rule_entry, rule) = self.limitation_on(start)?;
        let (years, judgment_years) = (rule_entry.years, rule_entry.judgment_years);
        let mut events: Vec<Interruption> = interruptions.to_vec();
        events.sort_by_key(|e| e.date);
        let mut lim = Limitation {
            period_start: start,
            period_years: years,
            last_day: Some(add_months(start, 12 * years)),
            time_barred_on: None,
            interrupted_by: None,
            ignored_events: 0,
            rule,
        };
        for e in events.iter().filter(|e| e.date >= start) {
            // Already time-barred when the event happened: no revival.
            if lim.last_day.is_some_and(|last| e.date > last) {
                lim.ignored_events += 1;
                continue;
            }
            match e.kind {
                InterruptionKind::PartPayment | InterruptionKind::Acknowledgement => {
                    if lim.last_day.is_none() {
                        // A pending legal step keeps the claim suspended.
                        continue;
                    }
                    lim.period_start = e.date;
                    lim.period_years = years;
                    lim.last_day = Some(add_months(e.date, 12 * years));
                }
                InterruptionKind::LegalStep => {
                    lim.period_start = e.date;
                    lim.last_day = None;
                }
                InterruptionKind::Judgment => {
                    lim.period_start = e.date;
                    lim.period_years = judgment_years;
                    lim.last_day = Some(add_months(e.date, 12 * judgment_years));
                }
            }
            lim.interrupted_by = Some(*e);
        }
        lim.time_barred_on = lim.last_day.map(|d| add_days(d, 1));
        Ok(lim)
    }

    /// Forsinkelsesrente accruals on `principal` (due `due`, limitation started `start`) that
    /// are time-barred on `as_of`: each day's accrual is barred three years after it accrued,
    /// moved by the same interruptions. When the claim itself is time-barred, all of it is.
    pub fn time_barred_interest(
        &self,
        principal: Money,
        due: NaiveDate,
        start: NaiveDate,
        interruptions: &[Interruption],
        as_of: NaiveDate,
    ) -> Result<BarredInterest, InterestError> {
        let first = add_days(next_business_day_on_or_after(due), 1);
        let mut runs: Vec<(NaiveDate, NaiveDate)> = Vec::new();
        if as_of >= first {
            let claim = self.limitation(start, interruptions)?;
            if claim.state_on(as_of) == LimitationState::TimeBarred {
                runs.push((first, as_of));
            } else {
                let barred = |day: NaiveDate| -> Result<bool, InterestError> {
                    Ok(self
                        .limitation(day, interruptions)?
                        .time_barred_on
                        .is_some_and(|b| b <= as_of))
                };
                // Between two interruption dates the same events apply to every day, and a
                // later day is barred later: the barred days of each piece are a prefix of it.
                let mut cuts: Vec<NaiveDate> = interruptions
                    .iter()
                    .map(|i| i.date)
                    .filter(|&x| x >= first && x < as_of)
                    .collect();
                cuts.sort();
                cuts.dedup();
                let mut lo = first;
                for hi in cuts.into_iter().chain(std::iter::once(as_of)) {
                    if hi < lo {
                        continue;
                    }
                    if barred(lo)? {
                        let (mut a, mut b) = (lo, hi);
                        while a < b {
                            let half = ((b - a).num_days() + 1) / 2;
                            let mid = add_days(a, half as u32);
                            if barred(mid)? {
                                a = mid;
                            } else {
                                b = mid.pred_opt().unwrap_or(a);
                            }
                        }
                        match runs.last_mut() {
                            Some(last) if add_days(last.1, 1) == lo => last.1 = a,
                            _ => runs.push((lo, a)),
                        }
                    }
                    lo = add_days(hi, 1);
                }
            }
        }
        if runs.is_empty() {
            return Ok(BarredInterest {
                runs,
                interest: None,
                total: Money::ZERO,
            });
        }
        let interest = self.interest_over_runs(principal, &runs)?;
        Ok(BarredInterest {
            total: interest.total,
            interest: Some(interest),
            runs,
        })
    }

    /// The claims that become time-barred within `days` days after `today` (barred on a date
    /// in `today+1 ..= today+days`), soonest first. Claims already time-barred and claims
    /// under a pending legal step are not listed. A claim whose start has no limitation rule
    /// is reported as an error for that claim.
    pub fn expiring_within<'a, Id: Copy>(
        &self,
        claims: impl IntoIterator<Item = (Id, NaiveDate, &'a [Interruption])>,
        today: NaiveDate,
        days: u32,
    ) -> (Vec<Expiring<Id>>, Vec<(Id, RuleGap)>) {
        let horizon = add_days(today, days);
        let mut out = Vec::new();
        let mut gaps = Vec::new();
        for (id, start, ints) in claims {
            match self.limitation(start, ints) {
                Ok(l) => {
                    if let (Some(last), Some(b)) = (l.last_day, l.time_barred_on) {
                        if b > today && b <= horizon {
                            out.push(Expiring {
                                id,
                                last_day: last,
                                time_barred_on: b,
                                days_left: (b - today).num_days(),
                            });
                        }
                    }
                }
                Err(g) => gaps.push((id, g)),
            }
        }
        out.sort_by_key(|e| e.time_barred_on);
        (out, gaps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn three_years_from_start() {
        let b = Rulebook::norway();
        let l = b.limitation(d("2023-03-15"), &[]).unwrap();
        assert_eq!(l.last_day, Some(d("2026-03-15")));
        assert_eq!(l.time_barred_on, Some(d("2026-03-16")));
        assert_eq!(l.state_on(d("2026-03-15")), LimitationState::Running);
        assert_eq!(l.state_on(d("2026-03-16")), LimitationState::TimeBarred);
        assert_eq!(
            b.tag(l.rule),
            "limitation:foreldelsesloven@foreldelsesloven§2"
        );
        // Leap day start.
        let l = b.limitation(d("2024-02-29"), &[]).unwrap();
        assert_eq!(l.last_day, Some(d("2027-02-28")));
    }

    #[test]
    fn interruptions_move_it_and_cannot_revive() {
        let b = Rulebook::norway();
        let ack = |s: &str, k| Interruption {
            date: d(s),
            kind: k,
        };
        let l = b
            .limitation(
                d("2023-03-15"),
                &[
                    ack("2024-05-02", InterruptionKind::PartPayment),
                    ack("2023-09-01", InterruptionKind::Acknowledgement),
                ],
            )
            .unwrap();
        assert_eq!(l.last_day, Some(d("2027-05-02")));
        assert_eq!(
            l.interrupted_by.unwrap().kind,
            InterruptionKind::PartPayment
        );
        // After barring: ignored.
        let l = b
            .limitation(
                d("2020-01-10"),
                &[ack("2023-01-11", InterruptionKind::Acknowledgement)],
            )
            .unwrap();
        assert_eq!(l.last_day, Some(d("2023-01-10")));
        assert_eq!(l.ignored_events, 1);
        // On the last day it still interrupts.
        let l = b
            .limitation(
                d("2020-01-10"),
                &[ack("2023-01-10", InterruptionKind::Acknowledgement)],
            )
            .unwrap();
        assert_eq!(l.last_day, Some(d("2026-01-10")));
        // Legal step suspends; judgment gives ten years.
        let l = b
            .limitation(
                d("2023-03-15"),
                &[ack("2025-01-02", InterruptionKind::LegalStep)],
            )
            .unwrap();
        assert_eq!(l.last_day, None);
        assert_eq!(l.state_on(d("2030-01-01")), LimitationState::Suspended);
        let l = b
            .limitation(
                d("2023-03-15"),
                &[
                    ack("2025-01-02", InterruptionKind::LegalStep),
                    ack("2025-06-10", InterruptionKind::Judgment),
                ],
            )
            .unwrap();
        assert_eq!(l.last_day, Some(d("2035-06-10")));
    }

    #[test]
    fn interest_older_than_three_years_is_barred_day_by_day() {
        let b = Rulebook::norway();
        let p: Money = "10000".parse().unwrap();
        // Due Monday 2022-01-03 (limitation start), acknowledged 2024-06-01 → the claim lives
        // until 2027-06-01. On 2026-03-01, days with d + 3y < 2026-03-01 (through 2023-02-28),
        // accrued before the acknowledgement, are... not barred: the acknowledgement on
        // 2024-06-01 came before they were barred and restarted them.
        let ints = [Interruption {
            date: d("2024-06-01"),
            kind: InterruptionKind::Acknowledgement,
        }];
        let r = b
            .time_barred_interest(p, d("2022-01-03"), d("2022-01-03"), &ints, d("2026-03-01"))
            .unwrap();
        assert!(r.runs.is_empty());
        assert_eq!(r.total, Money::ZERO);
        // Without the acknowledgement the claim is barred from 2025-01-04: all interest is lost.
        let r = b
            .time_barred_interest(p, d("2022-01-03"), d("2022-01-03"), &[], d("2026-03-01"))
            .unwrap();
        assert_eq!(r.runs, vec![(d("2022-01-04"), d("2026-03-01"))]);
        // A claim kept alive by a judgment: accruals older than 3 years are barred.
        let ints = [Interruption {
            date: d("2022-06-01"),
            kind: InterruptionKind::Judgment,
        }];
        let r = b
            .time_barred_interest(p, d("2022-01-03"), d("2022-01-03"), &ints, d("2026-03-01"))
            .unwrap();
        // Days up to 2022-06-01 were restarted by the judgment (10 years); later days run
        // 3 years each: barred 2022-06-02 … 2023-02-28 (2023-02-28 + 3y = 2026-02-28, barred on 03-01).
        assert_eq!(r.runs, vec![(d("2022-06-02"), d("2023-02-28"))]);
        let direct = b
            .interest_over_days(p, d("2022-06-02"), d("2023-02-28"))
            .unwrap();
        assert_eq!(r.total, direct.total);
    }

    #[test]
    fn expiring_within_n_days() {
        let b = Rulebook::norway();
        let none: &[Interruption] = &[];
        let ack = [Interruption {
            date: d("2025-01-01"),
            kind: InterruptionKind::PartPayment,
        }];
        let claims = vec![
            ("a", d("2023-11-01"), none),     // barred 2026-11-02
            ("b", d("2023-10-01"), none),     // barred 2026-10-02 (already, today 2026-10-06)
            ("c", d("2023-12-20"), none),     // barred 2026-12-21
            ("d", d("2023-11-20"), &ack[..]), // moved to 2028
            ("e", d("2023-10-07"), none),     // barred 2026-10-08
        ];
        let (list, gaps) = b.expiring_within(claims, d("2026-10-06"), 60);
        assert!(gaps.is_empty());
        let ids: Vec<&str> = list.iter().map(|e| e.id).collect();
        assert_eq!(ids, vec!["e", "a"]);
        assert_eq!(list[0].days_left, 2);
    }
}
