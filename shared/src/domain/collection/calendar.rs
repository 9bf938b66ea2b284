//! The Norwegian business-day calendar: weekends and the public holidays (helligdager).
//!
//! Holidays: 1 Jan, Maundy Thursday (skjærtorsdag), Good Friday (langfredag), Easter Monday
//! (2. påskedag), 1 May, 17 May, Ascension Day (Kristi himmelfartsdag, Easter + 39), Whit
//! Monday (2. pinsedag, Easter + 50), 25 and 26 Dec. Easter Sunday and Whit Sunday are Sundays
//! and therefore already non-business days. Easter is computed with the anonymous Gregorian
//! algorithm (Meeus/Jones/Butcher); no table, no allocation.

use chrono::{Datelike, Days, NaiveDate, Weekday};

/// Easter Sunday of `year` (Gregorian calendar).
pub fn easter_sunday(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    // The algorithm only yields 22 March … 25 April, always a valid date.
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).unwrap_or(NaiveDate::MIN)
}

/// Which public holiday `date` is, if any.
pub fn holiday_name(date: NaiveDate) -> Option<&'static str> {
    match (date.month(), date.day()) {
        (1, 1) => return Some("1. nyttårsdag"),
        (5, 1) => return Some("1. mai"),
        (5, 17) => return Some("17. mai"),
        (12, 25) => return Some("1. juledag"),
        (12, 26) => return Some("2. juledag"),
        _ => {}
    }
    // Easter-based holidays fall between 19 March (Maundy Thursday) and 14 June (Whit Monday).
    let m = date.month();
    if !(3..=6).contains(&m) {
        return None;
    }
    let offset = date
        .signed_duration_since(easter_sunday(date.year()))
        .num_days();
    match offset {
        -3 => Some("Skjærtorsdag"),
        -2 => Some("Langfredag"),
        0 => Some("1. påskedag"),
        1 => Some("2. påskedag"),
        39 => Some("Kristi himmelfartsdag"),
        49 => Some("1. pinsedag"),
        50 => Some("2. pinsedag"),
        _ => None,
    }
}

pub fn is_public_holiday(date: NaiveDate) -> bool {
    holiday_name(date).is_some()
}

/// Monday–Friday and not a public holiday.
pub fn is_business_day(date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && !is_public_holiday(date)
}

/// `date` itself if it is a business day, otherwise the next business day
/// (gjeldsbrevloven § 5 (2): a due date on a non-business day moves to the next business day).
pub fn next_business_day_on_or_after(date: NaiveDate) -> NaiveDate {
    let mut d = date;
    // At most 5 consecutive non-business days occur (e.g. Thu–Mon at Easter); bounded loop.
    for _ in 0..10 {
        if is_business_day(d) {
            return d;
        }
        match d.checked_add_days(Days::new(1)) {
            Some(n) => d = n,
            None => return d,
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn easter_matches_known_dates() {
        for (y, m, day) in [
            (2015, 4, 5),
            (2016, 3, 27),
            (2019, 4, 21),
            (2020, 4, 12),
            (2024, 3, 31),
            (2025, 4, 20),
            (2026, 4, 5),
            (2027, 3, 28),
            (2038, 4, 25),
            (2008, 3, 23),
        ] {
            assert_eq!(easter_sunday(y), d(y, m, day), "Easter {y}");
        }
    }

    #[test]
    fn holidays_2025() {
        for (m, day) in [
            (1, 1),
            (4, 17),
            (4, 18),
            (4, 21),
            (5, 1),
            (5, 17),
            (5, 29),
            (6, 9),
            (12, 25),
            (12, 26),
        ] {
            assert!(is_public_holiday(d(2025, m, day)), "2025-{m}-{day}");
        }
        assert!(!is_public_holiday(d(2025, 4, 16)));
        assert!(!is_public_holiday(d(2025, 12, 24)));
        assert!(!is_public_holiday(d(2025, 5, 2)));
    }

    #[test]
    fn moves_to_next_business_day() {
        // Maundy Thursday 2025-04-17 → Tuesday 2025-04-22 (Good Friday, weekend, Easter Monday).
        assert_eq!(
            next_business_day_on_or_after(d(2025, 4, 17)),
            d(2025, 4, 22)
        );
        // Saturday → Monday.
        assert_eq!(
            next_business_day_on_or_after(d(2025, 6, 21)),
            d(2025, 6, 23)
        );
        // 2026-05-17 is a Sunday, Monday 18 is a business day.
        assert_eq!(
            next_business_day_on_or_after(d(2026, 5, 17)),
            d(2026, 5, 18)
        );
        // Christmas 2026: Fri 25, Sat 26, Sun 27 → Mon 28.
        assert_eq!(
            next_business_day_on_or_after(d(2026, 12, 25)),
            d(2026, 12, 28)
        );
        // A business day stays.
        assert_eq!(
            next_business_day_on_or_after(d(2025, 6, 20)),
            d(2025, 6, 20)
        );
        // Ascension Day 2026 is Thursday 14 May → Friday 15 May.
        assert_eq!(
            next_business_day_on_or_after(d(2026, 5, 14)),
            d(2026, 5, 15)
        );
    }
}
