//! Reasons: why the core decided what it did.
//!
//! Every reason has a stable machine code (`reason.code()`, also the `code` field when
//! serialised) that the API, the web pages and calendar replies show, plus the facts behind
//! it: which window, which booking, which limit. Codes are part of the public contract: add
//! new ones, never rename one.

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::Serialize;

use super::closure::Closure;
use super::interval::Interval;
use super::policy::{QuotaPeriod, Window};
use super::time::{Span, Zone};

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

fn hm(t: &NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// A reason worded for people, with instants shown in a room's local time.
pub struct InZone<'a> {
    reason: &'a Reason,
    zone: Zone,
}

impl Reason {
    /// The reason worded for people, with instants in `zone`'s wall time.
    pub fn in_zone(&self, zone: Zone) -> InZone<'_> {
        InZone { reason: self, zone }
    }
}

impl fmt::Display for Reason {
    /// The reason worded for people, with instants in UTC.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.in_zone(Zone::UTC).fmt(f)
    }
}

impl fmt::Display for InZone<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let zone = self.zone;
        let suffix = if zone == Zone::UTC { " UTC" } else { "" };
        let at = |t: &DateTime<Utc>| format!("{}{suffix}", hm(&zone.local(*t)));
        let span = |i: &Interval| {
            let (s, e) = (zone.local(i.start()), zone.local(i.end()));
            let end = if s.date() == e.date() {
                e.format("%H:%M").to_string()
            } else {
                hm(&e)
            };
            format!("{}–{end}{suffix}", hm(&s))
        };
        match self.reason {
            Reason::OutsideOpeningHours {
                weekday,
                windows,
                local_start,
                local_end,
            } => {
                let open = if windows.is_empty() {
                    "closed all day".to_owned()
                } else {
                    windows
                        .iter()
                        .map(|w| w.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                write!(
                    f,
                    "{} to {} is outside the opening hours for {weekday} ({open})",
                    hm(local_start),
                    hm(local_end)
                )
            }
            Reason::Conflict {
                bookings,
                occurrences,
            } => {
                let mut names: Vec<String> = bookings
                    .iter()
                    .map(|b| {
                        format!(
                            "booking {} (blocked {} with its buffers)",
                            b.id,
                            span(&b.blocked)
                        )
                    })
                    .collect();
                names.extend(
                    occurrences
                        .iter()
                        .map(|i| format!("occurrence #{} of this series", i + 1)),
                );
                write!(f, "clashes with {}", names.join(", "))
            }
            Reason::Closure { closures } => {
                let names: Vec<String> = closures
                    .iter()
                    .map(|c| format!("{} ({})", c.label, span(&c.interval)))
                    .collect();
                write!(f, "the room is closed: {}", names.join(", "))
            }
            Reason::TooShort { min, minutes } => {
                write!(f, "lasts {minutes} minutes; the minimum is {min}")
            }
            Reason::TooLong { max, minutes } => {
                write!(f, "lasts {minutes} minutes; the maximum is {max}")
            }
            Reason::Misaligned {
                granularity,
                local_start,
                local_end,
            } => write!(
                f,
                "{} to {} is not on the {granularity} slot grid",
                hm(local_start),
                hm(local_end)
            ),
            Reason::TooSoon {
                lead_time,
                earliest_start,
            } => write!(
                f,
                "must be asked for {lead_time} ahead: the earliest start now is {}",
                at(earliest_start)
            ),
            Reason::TooFarAhead {
                horizon,
                latest_end,
            } => write!(
                f,
                "may reach at most {horizon} ahead: the latest end now is {}",
                at(latest_end)
            ),
            Reason::OverCapacity { limit, attendees } => {
                write!(f, "{attendees} attendees; the room takes at most {limit}")
            }
            Reason::QuotaExceeded {
                period,
                period_start,
                max_bookings,
                max_minutes,
                used_bookings,
                used_minutes,
                requested_minutes,
            } => {
                let per = match period {
                    QuotaPeriod::Week => "week",
                    QuotaPeriod::Month => "month",
                };
                let mut limits = Vec::new();
                if let Some(n) = max_bookings {
                    limits.push(format!("{n} bookings"));
                }
                if let Some(m) = max_minutes {
                    limits.push(format!("{} hours", m / 60));
                }
                write!(
                    f,
                    "the quota is {} per {per}; the {per} from {period_start} already has {used_bookings} bookings, {used_minutes} minutes, and this asks for {requested_minutes} more minutes",
                    limits.join(" or ")
                )
            }
            Reason::NonexistentLocalTime { local, zone } => write!(
                f,
                "{} does not exist in {zone}: the clocks skip it (daylight-saving change)",
                hm(local)
            ),
            Reason::RoomClosed { policy } => {
                write!(f, "the room is not bookable (policy {policy:?} is closed)")
            }
            Reason::NotAllowed { requester } => {
                write!(f, "{requester} is not in a group allowed to book this room")
            }
            Reason::TooManySkipped {
                skipped,
                total,
                max_skipped,
                max_skipped_percent,
            } => write!(
                f,
                "{skipped} of {total} occurrences would be skipped; at most {max_skipped} and {max_skipped_percent}% may be"
            ),
            Reason::InvalidRecurrence { message } => {
                write!(f, "the recurrence is invalid: {message}")
            }
            Reason::NoOccurrences => write!(f, "the exception dates remove every occurrence"),
        }
    }
}
