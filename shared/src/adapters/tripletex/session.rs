//! Session-token lifetime arithmetic (pure).
//!
//! Tripletex takes an `expirationDate` (yyyy-MM-dd, later than today) and the token expires at the
//! *start* of that date, Oslo time (reference §2.3). We ask for `today(Oslo) + validity_days` and
//! refresh `refresh_margin` before that instant.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Oslo;

/// How long sessions are asked for and how early they are renewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// `expirationDate = today (Oslo) + validity_days`; at least 1.
    pub validity_days: u32,
    /// Renew this long before the session expires.
    pub refresh_margin: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            validity_days: 7,
            refresh_margin: Duration::hours(6),
        }
    }
}

/// Today's date in Oslo at the instant `now`.
pub fn oslo_today(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&Oslo).date_naive()
}

/// The `expirationDate` to request at `now`.
pub fn expiration_date_for(now: DateTime<Utc>, validity_days: u32) -> NaiveDate {
    let days = validity_days.max(1);
    oslo_today(now) + Duration::days(i64::from(days))
}

/// The instant a session with this `expirationDate` stops working: 00:00 of that date in Oslo.
/// (Midnight always exists in Oslo: DST switches at 02:00/03:00.)
pub fn expires_at(expiration_date: NaiveDate) -> DateTime<Utc> {
    let midnight = expiration_date.and_hms_opt(0, 0, 0).unwrap_or_default();
    match Oslo.from_local_datetime(&midnight).earliest() {
        Some(t) => t.with_timezone(&Utc),
        // Unreachable for Oslo; fall back to UTC-1h (CET) to stay on the safe side.
        None => Utc.from_utc_datetime(&midnight) - Duration::hours(2),
    }
}

/// The `expirationDate` to request at `now` under `policy`: `today + validity_days`, pushed one day
/// further while the session would already be inside its refresh window (otherwise a session created
/// late in the evening with a short validity would be renewed on every call).
pub fn choose_expiration_date(now: DateTime<Utc>, policy: &SessionPolicy) -> NaiveDate {
    let mut date = expiration_date_for(now, policy.validity_days);
    for _ in 0..7 {
        if refresh_at(date, policy) > now {
            break;
        }
        date += Duration::days(1);
    }
    date
}

/// The instant from which the cached session must be renewed before use.
pub fn refresh_at(expiration_date: NaiveDate, policy: &SessionPolicy) -> DateTime<Utc> {
    expires_at(expiration_date) - policy.refresh_margin
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }
    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn today_is_oslo_today_not_utc_today() {
        // 23:30 UTC on 31 Dec is 00:30 on 1 Jan in Oslo (CET, UTC+1).
        assert_eq!(oslo_today(utc("2025-12-31T23:30:00Z")), date("2026-01-01"));
        // 22:30 UTC in summer is 00:30 next day in Oslo (CEST, UTC+2).
        assert_eq!(oslo_today(utc("2026-06-30T22:30:00Z")), date("2026-07-01"));
        assert_eq!(oslo_today(utc("2026-06-30T21:30:00Z")), date("2026-06-30"));
    }

    #[test]
    fn expiration_date_is_today_plus_days_and_never_today() {
        let now = utc("2026-03-10T12:00:00Z");
        assert_eq!(expiration_date_for(now, 7), date("2026-03-17"));
        assert_eq!(expiration_date_for(now, 0), date("2026-03-11"));
    }

    #[test]
    fn expiry_is_start_of_the_date_in_oslo() {
        // Winter: midnight Oslo = 23:00 UTC the day before.
        assert_eq!(expires_at(date("2026-01-15")), utc("2026-01-14T23:00:00Z"));
        // Summer: midnight Oslo = 22:00 UTC the day before.
        assert_eq!(expires_at(date("2026-07-01")), utc("2026-06-30T22:00:00Z"));
        // The DST switch days themselves (29 Mar 2026 spring forward, 25 Oct 2026 fall back).
        assert_eq!(expires_at(date("2026-03-29")), utc("2026-03-28T23:00:00Z"));
        assert_eq!(expires_at(date("2026-03-30")), utc("2026-03-29T22:00:00Z"));
        assert_eq!(expires_at(date("2026-10-26")), utc("2026-10-25T23:00:00Z"));
    }

    #[test]
    fn refresh_happens_margin_before_expiry() {
        let p = SessionPolicy {
            validity_days: 1,
            refresh_margin: Duration::hours(6),
        };
        assert_eq!(
            refresh_at(date("2026-01-15"), &p),
            utc("2026-01-14T17:00:00Z")
        );
        // A session created at 20:00 Oslo on the 14th with validity 1 day expires in 4 hours,
        // so it is already inside the refresh window: creation time must not be the reference.
        let now = utc("2026-01-14T19:00:00Z");
        let exp = expiration_date_for(now, 1);
        assert_eq!(exp, date("2026-01-15"));
        assert!(now >= refresh_at(exp, &p));
        // ... so the chosen date is pushed a day further.
        let chosen = choose_expiration_date(now, &p);
        assert_eq!(chosen, date("2026-01-16"));
        assert!(refresh_at(chosen, &p) > now);
        // In the morning the plain date is fine.
        assert_eq!(
            choose_expiration_date(utc("2026-01-14T08:00:00Z"), &p),
            date("2026-01-15")
        );
    }
}
