//! The current time, handed in. Services and adapters that need "now" hold a [`Clock`], so a test
//! can fix it; the production clock ([`system`]) is given by the functions' `main` and by the
//! constructors' defaults, never read inside a service.

use std::sync::Arc;

use chrono::{DateTime, Utc};

/// The current time.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The system clock.
pub fn system() -> Clock {
    Arc::new(Utc::now)
}

/// A clock that always says `at` (tests).
pub fn fixed(at: DateTime<Utc>) -> Clock {
    Arc::new(move || at)
}
