//! The scheduling core: pure, synchronous and deterministic.
//!
//! It decides, with reasons, whether a booking request conflicts and which approval rule
//! applies: opening hours, buffers, recurrence, closures and time zones with DST handled
//! correctly. It never reads the clock (`now` is an argument), the environment, files, the
//! network or a database, and it never panics on bad input: errors are values. A test
//! (`tests/architecture.rs`) keeps it that way.
//!
//! The entry point is [`decide`].

pub mod closure;
pub mod conflict;
pub mod decision;
pub mod interval;
pub mod policy;
pub mod reason;
pub mod recurrence;
pub mod time;

pub use closure::{Closure, ClosureCalendar, ClosureError, ClosureSet, ClosureSource};
pub use conflict::{
    BookingIndex, BookingStatus, ExistingBooking, OccurrenceStatus, brute_force_conflicts,
    derived_status,
};
pub use decision::{
    BookingRequest, Decision, OccurrenceDecision, Outcome, RequestError, Requester, RequesterKind,
    Room, SeriesMode, check_date, decide,
};
pub use interval::{Interval, IntervalError};
pub use policy::{Audience, Policy, PolicyError, PolicySet, QuotaPeriod};
pub use reason::{ConflictingBooking, Reason, Severity};
pub use recurrence::{ExDate, Expansion, Recurrence, RecurrenceError, Truncation};
pub use time::{Span, TimeError, Zone, parse_local};

#[cfg(test)]
mod tests;
