//! The only place that reads the wall clock. Everything else takes `now` as an argument, so
//! clippy forbids `Utc::now` elsewhere (see `clippy.toml`).

use chrono::{DateTime, Utc};

/// The current instant.
#[allow(clippy::disallowed_methods)]
pub fn now() -> DateTime<Utc> {
    Utc::now()
}
