//! The one entry point of the core: [`decide`].
//!
//! It expands a request into occurrences in the room's zone, checks each against the policy,
//! the closures and the existing blocking bookings, and returns a [`Decision`] with a verdict
//! and reasons per occurrence. It is pure: the same inputs always give the same decision, and
//! `now` is an argument.

use chrono::{
    DateTime, Datelike, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Timelike, Utc,
};
use serde::Serialize;

use super::closure::ClosureSet;
use super::conflict::BookingIndex;
use super::interval::Interval;
use super::policy::{Audience, Policy, Quota, QuotaPeriod};
use super::reason::{ConflictingBooking, Reason, Severity};
use super::recurrence::{Recurrence, Truncation};
use super::time::Zone;

/// A bookable space, as the core needs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Room {
    pub id: String,
    pub zone: Zone,
    pub capacity: Option<u32>,
    /// The physical parts a booking of this room blocks; a plain room is one part, itself.
    pub parts: Vec<String>,
}

impl Room {
    /// A plain room: one part, named by its id.
    pub fn new(id: impl Into<String>, zone: Zone) -> Self {
        let id = id.into();
        Room {
            parts: vec![id.clone()],
            id,
            zone,
            capacity: None,
        }
    }

    pub fn with_capacity(mut self, capacity: u32) -> Self {
        self.capacity = Some(capacity);
        self
    }

    pub fn with_parts(mut self, parts: Vec<String>) -> Self {
        if !parts.is_empty() {
            self.parts = parts;
        }
        self
    }
}

/// Residents have accounts in the store; staff are directory people.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequesterKind {
    Resident,
    Staff,
}

/// Who is asking.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Requester {
    pub id: String,
    pub kind: RequesterKind,
    /// Directory group names.
    pub groups: Vec<String>,
}

impl Requester {
    /// Whether the requester belongs to any of `audiences`.
    pub fn is_in(&self, audiences: &[Audience]) -> bool {
        audiences.iter().any(|a| match a {
            Audience::Everyone => true,
            Audience::Residents => self.kind == RequesterKind::Resident,
            Audience::Staff => self.kind == RequesterKind::Staff,
            Audience::Group(g) => self.groups.iter().any(|mine| mine.eq_ignore_ascii_case(g)),
        })
    }
}

/// What the requester wants done with a series whose some occurrences are rejected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SeriesMode {
    /// Book every occurrence or none.
    #[default]
    AllOrNothing,
    /// Skip the rejected occurrences, within the policy's limits.
    SkipRejected,
}

/// Why a request could not even be put to the core.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("the end ({end}) is before the start ({start})")]
    EndBeforeStart {
        start: NaiveDateTime,
        end: NaiveDateTime,
    },
    #[error("the booking is empty: it starts and ends at {at}")]
    ZeroLength { at: NaiveDateTime },
    #[error("{at} is outside the years {FIRST_YEAR} to {LAST_YEAR}")]
    OutOfRange { at: NaiveDateTime },
    #[error("the extra date {rdate} comes before the series starts ({start})")]
    RdateBeforeStart {
        rdate: NaiveDateTime,
        start: NaiveDateTime,
    },
}

/// Requests must lie within these years; this keeps all date arithmetic far from chrono's
/// limits, so none of it can overflow.
pub const FIRST_YEAR: i32 = 1000;
pub const LAST_YEAR: i32 = 9999;

/// A booking request, in the room's local wall time. Built only through [`BookingRequest::new`],
/// so `start < end` always holds.
#[derive(Clone, Debug)]
pub struct BookingRequest {
    start: NaiveDateTime,
    end: NaiveDateTime,
    attendees: u32,
    recurrence: Option<Recurrence>,
    series_mode: SeriesMode,
}

impl BookingRequest {
    pub fn new(
        start: NaiveDateTime,
        end: NaiveDateTime,
        attendees: u32,
    ) -> Result<Self, RequestError> {
        if end < start {
            return Err(RequestError::EndBeforeStart { start, end });
        }
        if end == start {
            return Err(RequestError::ZeroLength { at: start });
        }
        for at in [start, end] {
            if !(FIRST_YEAR..=LAST_YEAR).contains(&at.year()) {
                return Err(RequestError::OutOfRange { at });
            }
        }
        Ok(BookingRequest {
            start,
            end,
            attendees,
            recurrence: None,
            series_mode: SeriesMode::AllOrNothing,
        })
    }

    /// Makes the request a series. Its start stays the first occurrence: an RDATE may not
    /// come before it (an EXDATE may remove it).
    pub fn with_recurrence(
        mut self,
        recurrence: Recurrence,
        mode: SeriesMode,
    ) -> Result<Self, RequestError> {
        for &at in recurrence.rdates() {
            if at < self.start {
                return Err(RequestError::RdateBeforeStart {
                    rdate: at,
                    start: self.start,
                });
            }
            if !(FIRST_YEAR..=LAST_YEAR).contains(&at.year()) {
                return Err(RequestError::OutOfRange { at });
            }
        }
        self.recurrence = Some(recurrence);
        self.series_mode = mode;
        Ok(self)
    }

    pub fn start(&self) -> NaiveDateTime {
        self.start
    }
    pub fn end(&self) -> NaiveDateTime {
        self.end
    }
    pub fn attendees(&self) -> u32 {
        self.attendees
    }
    pub fn recurrence(&self) -> Option<&Recurrence> {
        self.recurrence.as_ref()
    }
}

/// The verdict on a request, or on one occurrence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Booked at once, by policy.
    Approved,
    /// Held for a clerk to decide.
    Pending,
    Rejected,
    /// Rejected, but left out of a series the requester asked to keep without it.
    Skipped,
}

/// The decision on one occurrence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OccurrenceDecision {
    pub local_start: NaiveDateTime,
    pub local_end: NaiveDateTime,
    /// The booked time in UTC; absent when the local time does not exist.
    pub span: Option<Interval>,
    /// `span` widened by the policy's buffers.
    pub blocked: Option<Interval>,
    pub outcome: Outcome,
    pub reasons: Vec<Reason>,
}

/// The decision on a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub outcome: Outcome,
    pub zone: Zone,
    /// Reasons that concern the request as a whole.
    pub reasons: Vec<Reason>,
    pub occurrences: Vec<OccurrenceDecision>,
    /// Set when a series goes on beyond what was decided now.
    pub truncated: Option<Truncation>,
}

impl Decision {
    /// Every reason, request-level first, then per occurrence: a reason appears once per
    /// date. An occurrence's reasons are distinct ([`decide`] keeps them so), and a reason of
    /// the request as a whole (the room is closed, the requester may not book it) is not
    /// given again for each date that carries it too.
    pub fn all_reasons(&self) -> impl Iterator<Item = &Reason> {
        self.reasons.iter().chain(
            self.occurrences
                .iter()
                .flat_map(|o| o.reasons.iter())
                .filter(|r| !self.reasons.contains(r)),
        )
    }
}

/// Decides a request.
///
/// - `existing` holds the blocking bookings of the room (any others are ignored by part);
/// - `closures` the closure calendars and blocks that apply to it;
/// - `now` is the instant the request is made.
pub fn decide(
    request: &BookingRequest,
    requester: &Requester,
    room: &Room,
    policy: &Policy,
    existing: &BookingIndex,
    closures: &ClosureSet,
    now: DateTime<Utc>,
) -> Decision {
    let zone = room.zone;
    let horizon_end = now
        .checked_add_signed(policy.horizon.delta())
        .unwrap_or(now);
    let rejected = |reason: Reason, truncated| Decision {
        outcome: Outcome::Rejected,
        zone,
        reasons: vec![reason],
        occurrences: Vec::new(),
        truncated,
    };

    // 1. Occurrences, in local wall time.
    let (starts, truncated) = match &request.recurrence {
        None => (vec![request.start], None),
        Some(r) => match r.expand(
            request.start,
            zone,
            zone.local(horizon_end),
            policy.max_occurrences,
        ) {
            Ok(e) => (e.starts, e.truncated),
            Err(e) => {
                return rejected(
                    Reason::InvalidRecurrence {
                        message: e.to_string(),
                    },
                    None,
                );
            }
        },
    };
    if starts.is_empty() {
        return rejected(Reason::NoOccurrences, truncated);
    }
    let length = request.end - request.start;
    if starts.iter().any(|s| s.year() > LAST_YEAR) {
        return rejected(
            Reason::InvalidRecurrence {
                message: format!("the series reaches beyond the year {LAST_YEAR}"),
            },
            truncated,
        );
    }
    // Expansion stops by start; an occurrence that starts inside the horizon but ends beyond
    // it is left for later like the ones after it, unless it is the only one.
    let mut starts = starts;
    let mut truncated = truncated;
    while starts.len() > 1
        && starts
            .last()
            .is_some_and(|&s| zone.to_utc_or_after_gap(s + length) > horizon_end)
    {
        starts.pop();
        truncated = Some(Truncation::Horizon {
            window_end: zone.local(horizon_end),
        });
    }

    // 2. Who may book at all.
    let gate = if policy.approval.closed {
        Some(Reason::RoomClosed {
            policy: policy.name.clone(),
        })
    } else if !requester.is_in(&policy.approval.book_in)
        && !requester.is_in(&policy.approval.request_in)
    {
        Some(Reason::NotAllowed {
            requester: requester.id.clone(),
        })
    } else {
        None
    };
    if let Some(reason) = gate {
        let occurrences = starts
            .iter()
            .map(|&s| OccurrenceDecision {
                local_start: s,
                local_end: s + length,
                span: None,
                blocked: None,
                outcome: Outcome::Rejected,
                reasons: vec![reason.clone()],
            })
            .collect();
        return Decision {
            outcome: Outcome::Rejected,
            zone,
            reasons: vec![reason],
            occurrences,
            truncated,
        };
    }
    let auto_approve = requester.is_in(&policy.approval.book_in);
    let may_exceed_policy = requester.is_in(&policy.approval.out_of_policy);

    // 3. Each occurrence. Closures are resolved once, over the whole series.
    let closure_list = series_window(&starts, length, zone)
        .map(|w| closures.resolve(zone, &w))
        .unwrap_or_default();
    let mut occurrences: Vec<OccurrenceDecision> = Vec::with_capacity(starts.len());
    let mut longest_block = TimeDelta::zero();
    for &local_start in &starts {
        let local_end = local_start + length;
        let mut reasons = Vec::new();
        let span = match (zone.to_utc(local_start), zone.to_utc(local_end)) {
            (Ok(s), Ok(e)) => Interval::new(s, e).ok(),
            (Err(_), _) => {
                reasons.push(nonexistent(local_start, zone));
                None
            }
            (_, Err(_)) => {
                reasons.push(nonexistent(local_end, zone));
                None
            }
        };
        let blocked = span.map(|s| s.widen(policy.setup.delta(), policy.teardown.delta()));
        if let (Some(span), Some(blocked)) = (span, blocked) {
            check_policy(
                request.attendees(),
                room,
                policy,
                now,
                horizon_end,
                local_start,
                local_end,
                &span,
                &mut reasons,
            );
            let hits: Vec<_> = closure_list
                .iter()
                .filter(|c| c.interval.overlaps(&span))
                .cloned()
                .collect();
            if !hits.is_empty() {
                reasons.push(Reason::Closure { closures: hits });
            }
            let bookings: Vec<ConflictingBooking> = existing
                .conflicts(&room.parts, &blocked)
                .into_iter()
                .map(|b| ConflictingBooking {
                    id: b.id.clone(),
                    blocked: b.blocked,
                })
                .collect();
            // Earlier occurrences block from earlier instants (local order is instant order
            // under the earlier-offset rule), each for at most `longest_block`, so the walk
            // back can stop at the first one that starts that long before this one.
            let mut own: Vec<usize> = Vec::new();
            for (i, o) in occurrences.iter().enumerate().rev() {
                let Some(b) = o.blocked else { continue };
                if b.start() + longest_block <= blocked.start() {
                    break;
                }
                if is_kept(o.outcome) && b.overlaps(&blocked) {
                    own.push(i);
                }
            }
            own.reverse();
            longest_block = longest_block.max(blocked.duration());
            if !bookings.is_empty() || !own.is_empty() {
                reasons.push(Reason::Conflict {
                    bookings,
                    occurrences: own,
                });
            }
            if let Some(quota) = &policy.quota
                && let Some(reason) = check_quota(
                    quota,
                    requester,
                    room,
                    existing,
                    &occurrences,
                    local_start,
                    &span,
                )
            {
                reasons.push(reason);
            }
        }
        // One reason once per date, however many checks found it.
        let mut distinct: Vec<Reason> = Vec::with_capacity(reasons.len());
        for r in reasons {
            if !distinct.contains(&r) {
                distinct.push(r);
            }
        }
        let reasons = distinct;
        let outcome = if reasons.iter().any(|r| r.severity() == Severity::Hard) {
            Outcome::Rejected
        } else if !reasons.is_empty() {
            if may_exceed_policy {
                Outcome::Pending
            } else {
                Outcome::Rejected
            }
        } else if auto_approve {
            Outcome::Approved
        } else {
            Outcome::Pending
        };
        occurrences.push(OccurrenceDecision {
            local_start,
            local_end,
            span,
            blocked,
            outcome,
            reasons,
        });
    }

    // 4. The series as a whole.
    let total = occurrences.len();
    let rejected_count = occurrences
        .iter()
        .filter(|o| o.outcome == Outcome::Rejected)
        .count();
    let mut reasons = Vec::new();
    let mut outcome = if occurrences.iter().any(|o| o.outcome == Outcome::Pending) {
        Outcome::Pending
    } else {
        Outcome::Approved
    };
    if rejected_count > 0 {
        let skip_allowed = request.recurrence.is_some()
            && request.series_mode == SeriesMode::SkipRejected
            && rejected_count < total
            && rejected_count <= policy.series.max_skipped as usize
            && rejected_count * 100 <= usize::from(policy.series.max_skipped_percent) * total;
        if skip_allowed {
            for o in &mut occurrences {
                if o.outcome == Outcome::Rejected {
                    o.outcome = Outcome::Skipped;
                }
            }
        } else {
            if request.series_mode == SeriesMode::SkipRejected && request.recurrence.is_some() {
                reasons.push(Reason::TooManySkipped {
                    skipped: rejected_count,
                    total,
                    max_skipped: policy.series.max_skipped,
                    max_skipped_percent: policy.series.max_skipped_percent,
                });
            }
            outcome = Outcome::Rejected;
        }
    }
    Decision {
        outcome,
        zone,
        reasons,
        occurrences,
        truncated,
    }
}

/// Checks one date of a stored booking again, as a clerk decides it later (issue 16): its
/// booked time `span` against the policy's rules for a date (opening hours, duration, slot
/// grid, capacity; lead time and horizon as of `asked_at`, when the request was made), today's
/// `closures`, and the blocking bookings in `existing`, which must not hold the booking's own
/// dates. The blocked time is `span` widened by today's buffers.
///
/// Not checked again: who may book the room (the requester was allowed when asking) and
/// quotas (counted when the request was made). An empty list means the date may be approved;
/// a [`Severity::Hard`] reason means nobody may approve it; reasons of [`Severity::Policy`]
/// only, that a clerk allowed to may approve it out of policy.
pub fn check_date(
    span: Interval,
    attendees: u32,
    room: &Room,
    policy: &Policy,
    existing: &BookingIndex,
    closures: &ClosureSet,
    asked_at: DateTime<Utc>,
) -> Vec<Reason> {
    let zone = room.zone;
    let mut reasons = Vec::new();
    if policy.approval.closed {
        reasons.push(Reason::RoomClosed {
            policy: policy.name.clone(),
        });
    }
    let horizon_end = asked_at
        .checked_add_signed(policy.horizon.delta())
        .unwrap_or(asked_at);
    check_policy(
        attendees,
        room,
        policy,
        asked_at,
        horizon_end,
        zone.local(span.start()),
        zone.local(span.end()),
        &span,
        &mut reasons,
    );
    let hits: Vec<_> = closures
        .resolve(zone, &span)
        .into_iter()
        .filter(|c| c.interval.overlaps(&span))
        .collect();
    if !hits.is_empty() {
        reasons.push(Reason::Closure { closures: hits });
    }
    let blocked = span.widen(policy.setup.delta(), policy.teardown.delta());
    let bookings: Vec<ConflictingBooking> = existing
        .conflicts(&room.parts, &blocked)
        .into_iter()
        .map(|b| ConflictingBooking {
            id: b.id.clone(),
            blocked: b.blocked,
        })
        .collect();
    if !bookings.is_empty() {
        reasons.push(Reason::Conflict {
            bookings,
            occurrences: Vec::new(),
        });
    }
    reasons
}

fn is_kept(outcome: Outcome) -> bool {
    matches!(outcome, Outcome::Approved | Outcome::Pending)
}

fn nonexistent(local: NaiveDateTime, zone: Zone) -> Reason {
    Reason::NonexistentLocalTime {
        local,
        zone: zone.name().to_owned(),
    }
}

/// The UTC window covering every occurrence, with a day's margin for gaps.
fn series_window(starts: &[NaiveDateTime], length: TimeDelta, zone: Zone) -> Option<Interval> {
    let first = *starts.first()? - TimeDelta::days(1);
    let last = *starts.last()? + length + TimeDelta::days(1);
    Interval::new(
        zone.to_utc_or_after_gap(first),
        zone.to_utc_or_after_gap(last),
    )
    .ok()
}

#[allow(clippy::too_many_arguments)]
fn check_policy(
    attendees: u32,
    room: &Room,
    policy: &Policy,
    now: DateTime<Utc>,
    horizon_end: DateTime<Utc>,
    local_start: NaiveDateTime,
    local_end: NaiveDateTime,
    span: &Interval,
    reasons: &mut Vec<Reason>,
) {
    // Opening hours, in wall time: the booking must fit inside one window of its start day.
    let weekday = local_start.weekday();
    let windows = policy.opening_hours.windows(weekday);
    let from = local_start.num_seconds_from_midnight() / 60;
    let to = if local_end.date() == local_start.date() {
        Some(local_end.num_seconds_from_midnight() / 60)
    } else if local_end == local_start.date().and_time(NaiveTime::MIN) + TimeDelta::days(1) {
        Some(24 * 60)
    } else {
        None // spans midnight
    };
    let fits = to.is_some_and(|to| {
        windows
            .iter()
            .any(|w| w.start_minute() <= from && to <= w.end_minute())
    });
    if !fits {
        reasons.push(Reason::OutsideOpeningHours {
            weekday: weekday.to_string().to_lowercase(),
            windows: windows.to_vec(),
            local_start,
            local_end,
        });
    }

    let minutes = span.duration().num_minutes();
    if minutes < policy.min_duration.minutes() {
        reasons.push(Reason::TooShort {
            min: policy.min_duration,
            minutes,
        });
    }
    if minutes > policy.max_duration.minutes() {
        reasons.push(Reason::TooLong {
            max: policy.max_duration,
            minutes,
        });
    }

    let grid = u32::try_from(policy.granularity.minutes() * 60).unwrap_or(u32::MAX);
    let on_grid = |t: NaiveDateTime| {
        t.nanosecond() == 0 && t.num_seconds_from_midnight().is_multiple_of(grid)
    };
    if !on_grid(local_start) || !on_grid(local_end) {
        reasons.push(Reason::Misaligned {
            granularity: policy.granularity,
            local_start,
            local_end,
        });
    }

    let earliest_start = now
        .checked_add_signed(policy.lead_time.delta())
        .unwrap_or(now);
    if span.start() < earliest_start {
        reasons.push(Reason::TooSoon {
            lead_time: policy.lead_time,
            earliest_start,
        });
    }
    if span.end() > horizon_end {
        reasons.push(Reason::TooFarAhead {
            horizon: policy.horizon,
            latest_end: horizon_end,
        });
    }

    let limit = match (room.capacity, policy.max_attendees) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if let Some(limit) = limit
        && attendees > limit
    {
        reasons.push(Reason::OverCapacity { limit, attendees });
    }
}

/// The local calendar period (ISO week or month) that `day` falls in.
fn period_of(period: QuotaPeriod, day: NaiveDate) -> (NaiveDate, NaiveDate) {
    match period {
        QuotaPeriod::Week => {
            let start = day - TimeDelta::days(i64::from(day.weekday().num_days_from_monday()));
            (start, start + TimeDelta::days(7))
        }
        QuotaPeriod::Month => {
            let start = day.with_day(1).unwrap_or(day);
            (
                start,
                start.checked_add_months(Months::new(1)).unwrap_or(start),
            )
        }
    }
}

fn check_quota(
    quota: &Quota,
    requester: &Requester,
    room: &Room,
    existing: &BookingIndex,
    earlier: &[OccurrenceDecision],
    local_start: NaiveDateTime,
    span: &Interval,
) -> Option<Reason> {
    let zone = room.zone;
    let (first, next) = period_of(quota.period, local_start.date());
    let window = Interval::new(
        zone.to_utc_or_after_gap(first.and_time(NaiveTime::MIN)),
        zone.to_utc_or_after_gap(next.and_time(NaiveTime::MIN)),
    )
    .ok()?;
    let mut used_bookings: u32 = 0;
    let mut used_minutes: i64 = 0;
    // Quotas are per room: count the requester's bookings that block one of its parts.
    let bookings = existing
        .requester_bookings_in(&requester.id, &window)
        .filter(|b| b.parts.iter().any(|p| room.parts.contains(p)));
    for b in bookings {
        used_bookings += 1;
        used_minutes += b.span.duration().num_minutes();
    }
    // Earlier occurrences are in ascending order: walk back until the period's start.
    let in_period = earlier
        .iter()
        .rev()
        .take_while(|o| o.span.is_none_or(|s| s.start() >= window.start()));
    for o in in_period.filter(|o| is_kept(o.outcome)) {
        if let Some(s) = o.span
            && s.start() < window.end()
        {
            used_bookings += 1;
            used_minutes += s.duration().num_minutes();
        }
    }
    let requested_minutes = span.duration().num_minutes();
    let over_count = quota.max_bookings.is_some_and(|n| used_bookings >= n);
    let over_time = quota
        .max_minutes
        .is_some_and(|m| used_minutes + requested_minutes > m);
    (over_count || over_time).then_some(Reason::QuotaExceeded {
        period: quota.period,
        period_start: first,
        max_bookings: quota.max_bookings,
        max_minutes: quota.max_minutes,
        used_bookings,
        used_minutes,
        requested_minutes,
    })
}
