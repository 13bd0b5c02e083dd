//! The only place that reads the wall clock. Everything else takes `now` as an argument or a
//! [`Clock`], so clippy forbids `Utc::now` elsewhere (see `clippy.toml`).

use std::sync::Mutex;

use chrono::{DateTime, SubsecRound as _, TimeDelta, Utc};

/// The current instant.
#[allow(clippy::disallowed_methods)]
pub fn now() -> DateTime<Utc> {
    Utc::now()
}

/// A source of the current instant, injected into the server so tests can move time.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    /// Whole microseconds, PostgreSQL's resolution, so both stores keep the same instants.
    fn now(&self) -> DateTime<Utc> {
        now().trunc_subsecs(6)
    }
}

/// A clock that stands still until told to move.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        ManualClock(Mutex::new(at))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }

    pub fn advance(&self, by: TimeDelta) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *t = t.checked_add_signed(by).unwrap_or(*t);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}
