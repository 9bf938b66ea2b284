//! Retry policy for 429 (rate limited), 5xx and transport failures: bounded attempts, bounded single
//! wait, bounded total wait. Pure computation; the client does the sleeping.

use std::time::Duration;

/// How hard the client tries before giving up. All bounds are configurable so tests run fast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts per request, the first included (>= 1).
    pub max_attempts: u32,
    /// First backoff wait; doubles per retry.
    pub base_delay: Duration,
    /// Upper bound for any single wait (also caps a long `X-Rate-Limit-Reset`).
    pub max_delay: Duration,
    /// Upper bound for the sum of all waits of one request; a wait that would exceed it is not taken.
    pub max_total_wait: Duration,
    /// Timeout of one HTTP request (connect + response).
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
            max_total_wait: Duration::from_secs(120),
            request_timeout: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// A policy for tests: few attempts, millisecond waits.
    pub fn fast_for_tests() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
            max_total_wait: Duration::from_secs(2),
            request_timeout: Duration::from_secs(10),
        }
    }

    /// Exponential backoff for retry number `retry` (1 = the first retry): base · 2^(retry-1),
    /// capped at `max_delay`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(30);
        let factor = 1u32 << exp;
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// The wait before retry number `retry` after a 429. Tripletex's 429 responses carry no
    /// `X-Rate-Limit-Reset`, so `until_reset` is the time left until the reset announced by the last
    /// response that had the header (None if unknown or already passed): wait that long (capped),
    /// else back off exponentially.
    pub fn rate_limit_wait(&self, retry: u32, until_reset: Option<Duration>) -> Duration {
        match until_reset {
            Some(d) if !d.is_zero() => d.min(self.max_delay),
            _ => self.backoff(retry),
        }
    }

    /// Whether a further attempt is allowed: `attempts_made` so far, `waited` so far, and the `next_wait`.
    pub fn may_retry(&self, attempts_made: u32, waited: Duration, next_wait: Duration) -> bool {
        attempts_made < self.max_attempts.max(1) && waited + next_wait <= self.max_total_wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            max_total_wait: Duration::from_secs(2),
            request_timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = policy();
        assert_eq!(p.backoff(1), Duration::from_millis(100));
        assert_eq!(p.backoff(2), Duration::from_millis(200));
        assert_eq!(p.backoff(3), Duration::from_millis(400));
        assert_eq!(p.backoff(4), Duration::from_millis(800));
        assert_eq!(p.backoff(5), Duration::from_secs(1));
        assert_eq!(p.backoff(40), Duration::from_secs(1));
        assert_eq!(p.backoff(0), Duration::from_millis(100));
    }

    #[test]
    fn rate_limit_wait_prefers_the_reset_and_caps_it() {
        let p = policy();
        assert_eq!(
            p.rate_limit_wait(1, Some(Duration::from_millis(300))),
            Duration::from_millis(300)
        );
        assert_eq!(
            p.rate_limit_wait(1, Some(Duration::from_secs(30))),
            Duration::from_secs(1)
        );
        assert_eq!(p.rate_limit_wait(3, None), Duration::from_millis(400));
        assert_eq!(
            p.rate_limit_wait(2, Some(Duration::ZERO)),
            Duration::from_millis(200)
        );
    }

    #[test]
    fn retries_are_bounded_by_attempts_and_total_wait() {
        let p = policy();
        assert!(p.may_retry(1, Duration::ZERO, Duration::from_millis(100)));
        assert!(!p.may_retry(5, Duration::ZERO, Duration::from_millis(100)));
        assert!(p.may_retry(4, Duration::from_millis(1900), Duration::from_millis(100)));
        assert!(!p.may_retry(4, Duration::from_millis(1950), Duration::from_millis(100)));
    }
}
