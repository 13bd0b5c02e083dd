//! Reasons: why the core decided what it did.
//!
//! Every reason has a stable machine code (`reason.code()`, also the `code` field when
//! serialised) that the API, the web pages and calendar replies show, plus the facts behind
//! it: which window, which booking, which limit. Codes are part of the public contract: add
//! new ones, never rename one.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::Serialize;

use super::closure::Closure;
use super::interval::Interval;
use super::policy::{QuotaPeriod, Window};
use super::time::Span;

/// A booking a request clashes with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConflictingBooking {
    pub id: String,
    /// Its blocked interval, buffers included.
    pub blocked: Interval,
}

/// One reason, with its facts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "kebab-case")]
pub enum Reason {
    /// The booking does not fit inside one opening window of its weekday.
    OutsideOpeningHours {
        weekday: String,
        windows: Vec<Window>,
        local_start: NaiveDateTime,
        local_end: NaiveDateTime,
    },
    /// The blocked interval overlaps blocking bookings, or earlier occurrences of the same
    /// series (by index).
    Conflict {
        bookings: Vec<ConflictingBooking>,
        occurrences: Vec<usize>,
    },
    /// The booking falls in one or more closures.
    Closure {
        closures: Vec<Closure>,
    },
    TooShort {
        min: Span,
        minutes: i64,
    },
    TooLong {
        max: Span,
        minutes: i64,
    },
    /// Start or end is not on the slot grid.
    Misaligned {
        granularity: Span,
        local_start: NaiveDateTime,
        local_end: NaiveDateTime,
    },
    /// Asked for too late: the booking starts before `earliest_start`.
    TooSoon {
        lead_time: Span,
        earliest_start: DateTime<Utc>,
    },
    /// Reaches beyond the horizon: the booking ends after `latest_end`.
    TooFarAhead {
        horizon: Span,
        latest_end: DateTime<Utc>,
    },
    OverCapacity {
        limit: u32,
        attendees: u32,
    },
    /// The requester's bookings in the period would pass a limit.
    QuotaExceeded {
        period: QuotaPeriod,
        period_start: NaiveDate,
        max_bookings: Option<u32>,
        max_minutes: Option<i64>,
        used_bookings: u32,
        used_minutes: i64,
        requested_minutes: i64,
    },
    /// A wall time that the room's zone skips (spring-forward gap).
    NonexistentLocalTime {
        local: NaiveDateTime,
        zone: String,
    },
    /// The room's policy says it is not bookable at all.
    RoomClosed {
        policy: String,
    },
    /// The requester is in none of the groups allowed to book the room.
    NotAllowed {
        requester: String,
    },
    /// Skipping the rejected occurrences would skip more than the policy allows.
    TooManySkipped {
        skipped: usize,
        total: usize,
        max_skipped: u32,
        max_skipped_percent: u8,
    },
    /// The recurrence cannot be expanded for this start (e.g. UNTIL before it).
    InvalidRecurrence {
        message: String,
    },
    /// Every occurrence was removed by exception dates.
    NoOccurrences,
}

/// Whether a clerk may still approve a request with this reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// Out of policy: rejected, unless the requester may ask out of policy; then a clerk
    /// decides.
    Policy,
    /// Nobody can approve it: a double booking, a closure, a time that does not exist.
    Hard,
}

impl Reason {
    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::OutsideOpeningHours { .. } => "outside-opening-hours",
            Reason::Conflict { .. } => "conflict",
            Reason::Closure { .. } => "closure",
            Reason::TooShort { .. } => "too-short",
            Reason::TooLong { .. } => "too-long",
            Reason::Misaligned { .. } => "misaligned",
            Reason::TooSoon { .. } => "too-soon",
            Reason::TooFarAhead { .. } => "too-far-ahead",
            Reason::OverCapacity { .. } => "over-capacity",
            Reason::QuotaExceeded { .. } => "quota-exceeded",
            Reason::NonexistentLocalTime { .. } => "nonexistent-local-time",
            Reason::RoomClosed { .. } => "room-closed",
            Reason::NotAllowed { .. } => "not-allowed",
            Reason::TooManySkipped { .. } => "too-many-skipped",
            Reason::InvalidRecurrence { .. } => "invalid-recurrence",
            Reason::NoOccurrences => "no-occurrences",
        }
    }

    pub fn severity(&self) -> Severity {
        match self {
            Reason::OutsideOpeningHours { .. }
            | Reason::TooShort { .. }
            | Reason::TooLong { .. }
            | Reason::Misaligned { .. }
            | Reason::TooSoon { .. }
            | Reason::TooFarAhead { .. }
            | Reason::OverCapacity { .. }
            | Reason::QuotaExceeded { .. } => Severity::Policy,
            _ => Severity::Hard,
        }
    }
}
