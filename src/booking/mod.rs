//! Booking use cases: load what the core needs, let it decide, persist in one transaction.
//!
//! Handlers call these and map [`BookingError`] to responses; nothing here knows HTTP. The
//! rules (policies and closure calendars) are loaded once at start into [`Rules`].

pub mod closures;
pub mod console;
pub mod deliveries;
pub mod records;
pub mod rooms;

use crate::limits;

pub use closures::{
    ChoiceView, ClosureChoice, ClosureDecision, ClosureHit, ClosurePreview, ClosureView,
    CreateClosure, HitDate,
};

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::clock::Clock;
use crate::identity::Principal;
use crate::scheduling::{
    BookingIndex, BookingRequest, BookingStatus, Closure, ClosureCalendar, ClosureSet,
    ClosureSource, Decision, Interval, OccurrenceStatus, Outcome, Policy, PolicySet, Reason,
    Recurrence, Room, SeriesMode, Zone, check_date, decide, parse_local,
};
use crate::store::{
    AuditRecord, BookingRecord, ClosureRecord, CreateKey, Created, DateChange, DateMove, DateMoved,
    DatesDecided, DatesLoad, NewBooking, NewOccurrence, Store, StoreError, StoredRoom,
    TransitionError,
};

/// The policies and closure calendars, loaded once.
pub struct Rules {
    policies: PolicySet,
    calendars: HashMap<String, ClosureCalendar>,
    default_policy: String,
    default_zone: Zone,
}

impl Rules {
    /// Reads the policy file and every calendar a policy names from `calendars_dir`.
    pub fn load(
        policies_file: &Path,
        calendars_dir: &Path,
        default_policy: &str,
        default_zone: &str,
    ) -> Result<Self, String> {
        let text = std::fs::read_to_string(policies_file)
            .map_err(|e| format!("{}: {e}", policies_file.display()))?;
        let policies =
            PolicySet::from_toml(&text).map_err(|e| format!("{}: {e}", policies_file.display()))?;
        policies
            .get(default_policy)
            .map_err(|e| format!("scheduling.default_policy: {e}"))?;
        let mut calendars = HashMap::new();
        for name in policies.names() {
            let Ok(policy) = policies.get(name) else {
                continue;
            };
            for calendar in &policy.closure_calendars {
                if calendars.contains_key(calendar) {
                    continue;
                }
                let path = calendars_dir.join(format!("{calendar}.ics"));
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    format!(
                        "policy {name:?} names calendar {calendar:?}: {}: {e}",
                        path.display()
                    )
                })?;
                let parsed = ClosureCalendar::parse(calendar, &text)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                calendars.insert(calendar.clone(), parsed);
            }
        }
        let default_zone = Zone::parse(default_zone).map_err(|e| e.to_string())?;
        Ok(Rules {
            policies,
            calendars,
            default_policy: default_policy.to_owned(),
            default_zone,
        })
    }

    /// A room's policy; an unknown name is a configuration error.
    pub fn policy(&self, room: &StoredRoom) -> Result<&Policy, BookingError> {
        let name = room.room.policy.as_deref().unwrap_or(&self.default_policy);
        self.policies
            .get(name)
            .map_err(|e| BookingError::Misconfigured(format!("room {}: {e}", room.room.id)))
    }

    /// Whether the policy file defines a policy of this name (checked before serving, so
    /// that no room names a missing one).
    pub fn defines(&self, name: &str) -> bool {
        self.policies.get(name).is_ok()
    }

    /// A room's zone; an unknown zone in the directory falls back to the default.
    pub fn zone(&self, room: &StoredRoom) -> Zone {
        room.room
            .time_zone
            .as_deref()
            .and_then(|z| Zone::parse(z).ok())
            .unwrap_or(self.default_zone)
    }

    fn closure_set(&self, policy: &Policy, blocks: &[ClosureRecord]) -> ClosureSet {
        let mut set = ClosureSet::new();
        for name in &policy.closure_calendars {
            if let Some(c) = self.calendars.get(name) {
                set = set.with_calendar(c.clone());
            }
        }
        for b in blocks {
            if let Ok(interval) = Interval::new(b.start, b.end) {
                set = set.with_block(Closure {
                    label: b.reason.clone(),
                    source: ClosureSource::Block { id: b.id.clone() },
                    interval,
                });
            }
        }
        set
    }
}

/// What a caller may get wrong, or what may go wrong underneath. Each has a stable code.
#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    #[error("{what} {id:?} does not exist")]
    NotFound { what: &'static str, id: String },
    #[error("room {0:?} has left the directory and can no longer be booked")]
    RoomRetired(String),
    #[error("{field}: {message}")]
    Invalid {
        code: &'static str,
        field: &'static str,
        message: String,
    },
    /// The core refused the request.
    #[error("{message}")]
    Refused {
        code: &'static str,
        message: String,
        decision: Box<Decision>,
        zone: Zone,
    },
    /// The database refused an overlap the decision did not see (a concurrent writer).
    #[error("the slot was taken by another booking at the same moment")]
    Overlap,
    #[error("this Idempotency-Key was already used for a different request")]
    KeyReused,
    #[error("{0}")]
    Forbidden(String),
    #[error("the booking is {status}: it cannot be {action}")]
    WrongStatus {
        status: BookingStatus,
        action: &'static str,
    },
    /// A date of the booking is not in a status the decision can start from.
    #[error("date {seq} of the booking is {status}: it cannot be {action}")]
    DateWrongStatus {
        seq: i64,
        status: OccurrenceStatus,
        action: &'static str,
    },
    /// A clerk already chose otherwise for a booking a closure hits.
    #[error("{0}")]
    AlreadyDecided(String),
    #[error("server configuration: {0}")]
    Misconfigured(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for BookingError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Overlap => BookingError::Overlap,
            other => BookingError::Store(other),
        }
    }
}

/// What to do with a series whose some dates are refused.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, Serialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum OnConflict {
    #[default]
    Reject,
    Skip,
}

/// A booking request as the API receives it.
#[derive(Clone, Debug)]
pub struct CreateBooking {
    pub room_id: String,
    pub start: String,
    pub end: String,
    pub purpose: String,
    pub attendees: u32,
    pub recurrence: Option<String>,
    pub on_conflict: OnConflict,
}

/// A reason, for people and programs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ReasonView {
    /// A stable code such as `conflict` or `outside-opening-hours`.
    pub code: String,
    /// The reason in words, with times in the room's zone.
    pub message: String,
}

fn reason_view(r: &Reason, zone: Zone) -> ReasonView {
    ReasonView {
        code: r.code().to_owned(),
        message: crate::i18n::reasons::record(r, zone),
    }
}

/// Parses a time as RFC 3339 with an offset (converted to the room's wall time) or as local
/// `YYYY-MM-DDTHH:MM` in the room's zone.
pub fn parse_time(
    text: &str,
    zone: Zone,
    field: &'static str,
) -> Result<NaiveDateTime, BookingError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text.trim()) {
        let instant = t.with_timezone(&Utc);
        let local = zone.local(instant);
        // In the autumn fold a wall time names two instants and the core takes the first;
        // an offset that names the second cannot be booked as asked, so say so.
        if zone.to_utc(local).is_ok_and(|first| first != instant) {
            return Err(BookingError::Invalid {
                code: "ambiguous-local-time",
                field,
                message: format!(
                    "{text:?} is the second pass of the hour repeated when daylight saving time ends in {}; bookings in that hour use its first pass",
                    zone.name()
                ),
            });
        }
        return Ok(local);
    }
    parse_local(text).map_err(|_| BookingError::Invalid {
        code: "invalid-time",
        field,
        message: format!(
            "{text:?} is neither RFC 3339 with an offset (2027-03-01T18:00:00+01:00) nor a local time in the room's zone (2027-03-01T18:00)"
        ),
    })
}

/// Parses an instant for a query window: RFC 3339, a local date-time, or a date (local
/// midnight), in `zone`.
pub fn parse_instant(
    text: &str,
    zone: Zone,
    field: &'static str,
) -> Result<DateTime<Utc>, BookingError> {
    let invalid = |message: String| BookingError::Invalid {
        code: "invalid-time",
        field,
        message,
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(text.trim()) {
        return Ok(t.with_timezone(&Utc));
    }
    let local = match NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") {
        Ok(d) => d.and_time(chrono::NaiveTime::MIN),
        Err(_) => parse_local(text).map_err(|_| {
            invalid(format!(
                "{text:?} is not RFC 3339, a local YYYY-MM-DDTHH:MM or a date YYYY-MM-DD"
            ))
        })?,
    };
    if !(crate::scheduling::decision::FIRST_YEAR..=crate::scheduling::decision::LAST_YEAR)
        .contains(&chrono::Datelike::year(&local))
    {
        return Err(invalid(format!("{text:?} is out of range")));
    }
    Ok(zone.to_utc_or_after_gap(local))
}

/// The booking service. Its store is private: faces reach bookings only through its methods,
/// where authorization and invariants live (`tests/it/architecture/layers.rs`).
#[derive(Clone)]
pub struct Bookings {
    store: Arc<Store>,
    pub rules: Arc<Rules>,
    pub clock: Arc<dyn Clock>,
    /// Pinged after every commit that wrote outbox rows, to wake this process's notification
    /// worker (other instances hear PostgreSQL's NOTIFY; see `notify`).
    outbox_written: Arc<tokio::sync::Notify>,
}

/// One occurrence (date), for the API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct OccurrenceView {
    /// The date's number within its booking, from 0: the `{seq}` of its own endpoints.
    pub seq: i64,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// `pending`, `approved`, `rejected`, `cancelled`, `expired`, or `skipped`.
    #[schema(value_type = String)]
    pub status: OccurrenceStatus,
    /// Why the date is what it is, when it was decided on its own: a clerk's or requester's
    /// words, or the core's when it refused the date on approval.
    pub status_reason: Option<String>,
    /// The core's reasons when an approval found the date closed, taken, or out of policy.
    pub reasons: Vec<ReasonView>,
    /// For a move that waits for a clerk: the date (`seq`) this one would replace. Approving
    /// this date cancels that one; until then it keeps its slot. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<i64>,
}

/// A booking, for its requester and clerks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct BookingView {
    pub id: String,
    pub room_id: String,
    /// `pending`, `approved`, `rejected`, `cancelled` or `expired`: derived from the dates'
    /// (any date pending → pending; else any approved → approved; else cancelled, rejected,
    /// expired in that order).
    #[schema(value_type = String)]
    pub status: BookingStatus,
    /// The dates by status, such as `8 approved, 1 rejected, 1 cancelled`.
    pub summary: String,
    pub purpose: String,
    pub attendees: u32,
    /// The booking's start and end as asked, in the room's zone.
    pub local_start: String,
    pub local_end: String,
    pub time_zone: String,
    pub recurrence: Option<String>,
    pub on_conflict: String,
    /// Why it was rejected or cancelled, when it was.
    pub status_reason: Option<String>,
    /// When a pending request expires unless a clerk decides.
    pub hold_until: Option<DateTime<Utc>>,
    pub occurrences: Vec<OccurrenceView>,
    /// The core's reasons at creation (why it is pending, which dates were skipped).
    pub reasons: Vec<ReasonView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The requester's name; shown to the requester and to clerks, never in public views.
    pub requester_name: String,
}

impl BookingView {
    pub fn from_record(b: BookingRecord) -> Self {
        BookingView {
            reasons: serde_json::from_str(&b.reasons).unwrap_or_default(),
            summary: summary_record(&dates_count(b.occurrences.iter().map(|o| o.status))),
            occurrences: b
                .occurrences
                .into_iter()
                .map(|o| OccurrenceView {
                    seq: o.seq,
                    start: o.start,
                    end: o.end,
                    status: o.status,
                    status_reason: o.status_reason,
                    reasons: o
                        .reasons
                        .as_deref()
                        .and_then(|r| serde_json::from_str(r).ok())
                        .unwrap_or_default(),
                    replaces: o.replaces,
                })
                .collect(),
            id: b.id,
            room_id: b.room_id,
            status: b.status,
            purpose: b.purpose,
            attendees: b.attendees,
            local_start: b.local_start,
            local_end: b.local_end,
            time_zone: b.time_zone,
            recurrence: b.recurrence,
            on_conflict: b.on_conflict,
            status_reason: b.status_reason,
            hold_until: b.hold_until,
            created_at: b.created_at,
            updated_at: b.updated_at,
            requester_name: b.requester_name,
        }
    }
}

/// A created booking, and whether it was a replay of an earlier identical request.
pub struct CreateResult {
    pub booking: BookingView,
    pub replayed: bool,
}

/// A clerk's approval of a booking's dates.
#[derive(Clone, Debug, Default)]
pub struct Approve {
    /// The dates (`seq`) to approve; every date that waits for a clerk when `None`.
    pub dates: Option<Vec<i64>>,
    /// Approve dates that are only out of policy anyway, and why: for clerks in the policy's
    /// `approval.out_of_policy` groups (and admins). Recorded in the audit trail.
    pub override_reason: Option<String>,
}

/// A change of a booking's purpose or attendee count (either may be left out).
#[derive(Clone, Debug, Default)]
pub struct Amend {
    pub purpose: Option<String>,
    pub attendees: Option<u32>,
}

/// A new time for one date of a booking (`start` and `end` on the room's wall clock, as a
/// new request gives them).
#[derive(Clone, Debug)]
pub struct MoveDate {
    pub start: String,
    pub end: String,
}

/// A date of a booking as a clerk sees it now: its status, and what the core says about it
/// today.
#[derive(Clone, Debug)]
pub struct DateNow {
    pub seq: i64,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub status: OccurrenceStatus,
    pub status_reason: Option<String>,
    /// What stands against the date now (empty for a date that no longer holds its slot).
    pub reasons: Vec<Reason>,
    /// Whether this clerk can approve it now.
    pub approvable: bool,
    pub zone: Zone,
    /// The date (`seq`) this one would replace, for a move waiting for a clerk: approving it
    /// cancels that date.
    pub replaces: Option<i64>,
}

/// A pending request in a clerk's queue.
#[derive(Clone, Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ApprovalItem {
    pub booking: BookingView,
    pub room_name: String,
    pub building: Option<String>,
    /// Other pending requests for the same room on the same local days.
    pub competing: Vec<BookingView>,
    /// What now overlaps the request: blocking bookings and closures added since.
    pub conflicts: Vec<ReasonView>,
}

/// Something that overlaps a pending request now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Overlap {
    /// A booking that holds its slot: its own time and the time it blocks with its buffers.
    Booking {
        id: String,
        span: Interval,
        blocked: Interval,
    },
    /// A closure: a clerk's block or a holiday calendar's event.
    Closure { label: String, interval: Interval },
}

/// A pending request with what overlaps it, in its room's zone.
pub(crate) struct Pending {
    pub item: ApprovalItem,
    pub zone: Zone,
    pub overlaps: Vec<Overlap>,
}

/// A request checked and ready for its decision.
struct Prepared<'a> {
    room: StoredRoom,
    zone: Zone,
    policy: &'a Policy,
    core_request: BookingRequest,
    core_room: Room,
    window: Interval,
    quota_window: Option<Interval>,
}

/// What a request would come to if it were sent now.
#[derive(Clone, Debug)]
pub struct Preview {
    pub decision: Decision,
    /// The room's zone, for showing times.
    pub zone: Zone,
}

const SERIES_LOAD_MARGIN: TimeDelta = TimeDelta::days(2);
const SINGLE_LOAD_MARGIN: TimeDelta = TimeDelta::hours(1);

impl Bookings {
    async fn live_room(&self, room_id: &str) -> Result<StoredRoom, BookingError> {
        let room = self
            .store
            .room(room_id)
            .await?
            .ok_or_else(|| BookingError::NotFound {
                what: "room",
                id: room_id.to_owned(),
            })?;
        if room.retired_at.is_some() {
            return Err(BookingError::RoomRetired(room_id.to_owned()));
        }
        Ok(room)
    }

    /// Checks a request and works out everything its decision needs, without touching the
    /// store's bookings: shared by [`Bookings::create`] and [`Bookings::preview`].
    async fn prepare(
        &self,
        request: &CreateBooking,
        now: DateTime<Utc>,
        check_purpose: bool,
    ) -> Result<Prepared<'_>, BookingError> {
        let room = self.live_room(&request.room_id).await?;
        let zone = self.rules.zone(&room);
        let policy = self.rules.policy(&room)?;
        let start = parse_time(&request.start, zone, "start")?;
        let end = parse_time(&request.end, zone, "end")?;
        let purpose = request.purpose.trim();
        if check_purpose && !limits::fits(purpose, limits::PURPOSE_CHARS) {
            return Err(BookingError::Invalid {
                code: "invalid-purpose",
                field: "purpose",
                message: "purpose must be 1 to 500 characters".into(),
            });
        }
        let invalid_time = |e: crate::scheduling::decision::RequestError| BookingError::Invalid {
            code: "invalid-time",
            field: "end",
            message: e.to_string(),
        };
        let mut core_request =
            BookingRequest::new(start, end, request.attendees).map_err(invalid_time)?;
        if let Some(rule) = &request.recurrence {
            let recurrence = Recurrence::parse(rule).map_err(|e| BookingError::Invalid {
                code: "invalid-recurrence",
                field: "recurrence",
                message: e.to_string(),
            })?;
            let mode = match request.on_conflict {
                OnConflict::Reject => SeriesMode::AllOrNothing,
                OnConflict::Skip => SeriesMode::SkipRejected,
            };
            core_request = core_request
                .with_recurrence(recurrence, mode)
                .map_err(invalid_time)?;
        }
        // The window whose bookings the decision must see: the request itself, or for a
        // series everything up to the policy's horizon; widened by the buffers.
        let first = zone.to_utc_or_after_gap(start);
        let last = if request.recurrence.is_some() {
            now.checked_add_signed(policy.horizon.delta())
                .unwrap_or(now)
        } else {
            zone.to_utc_or_after_gap(end)
        };
        // A single booking's conflicts lie within its buffers of it; a series is loaded with
        // a wide margin, as its dates move against UTC with the zone's offsets.
        let load_margin = if request.recurrence.is_some() {
            SERIES_LOAD_MARGIN
        } else {
            SINGLE_LOAD_MARGIN
        };
        let margin = load_margin + policy.setup.delta() + policy.teardown.delta();
        let window = Interval::new(
            first.checked_sub_signed(margin).unwrap_or(first),
            last.max(first).checked_add_signed(margin).unwrap_or(last),
        )
        .map_err(|e| BookingError::Invalid {
            code: "invalid-time",
            field: "end",
            message: e.to_string(),
        })?;
        // Quotas count the requester's bookings by week or month around the request.
        let quota_window = policy.quota.as_ref().map(|_| {
            let margin = TimeDelta::days(32);
            Interval::new(
                window
                    .start()
                    .checked_sub_signed(margin)
                    .unwrap_or(window.start()),
                window
                    .end()
                    .checked_add_signed(margin)
                    .unwrap_or(window.end()),
            )
            .unwrap_or(window)
        });
        // A divisible hall blocks its physical parts; a plain room blocks itself.
        let leaves = self.store.room_leaves(&room.room.id).await?;
        let core_room = Room::new(room.room.id.clone(), zone).with_parts(leaves);
        let core_room = match room.room.capacity {
            Some(c) => core_room.with_capacity(c),
            None => core_room,
        };
        Ok(Prepared {
            room,
            zone,
            policy,
            core_request,
            core_room,
            window,
            quota_window,
        })
    }

    /// Decides a request as [`Bookings::create`] would now, without writing anything: what
    /// the requester would get (approved, pending or refused) and why. The purpose is not
    /// needed for a preview.
    pub async fn preview(
        &self,
        who: &Principal,
        request: CreateBooking,
    ) -> Result<Preview, BookingError> {
        let (decision, zone) = self.decide_now(who, &request).await?;
        if decision.truncated.is_some() {
            return Err(too_many_occurrences(&decision));
        }
        Ok(Preview { decision, zone })
    }

    /// The last date (in the room's zone) up to which a series asked for now may be booked,
    /// when it reaches further than that (beyond the horizon, or more dates than may be
    /// decided at once); `None` when it does not. The portal offers "book until" that date.
    pub async fn last_bookable_date(
        &self,
        who: &Principal,
        request: &CreateBooking,
    ) -> Result<Option<NaiveDate>, BookingError> {
        let (decision, _) = self.decide_now(who, request).await?;
        Ok(last_kept_date(&decision))
    }

    /// The core's decision on a request as if it were sent now, without writing anything.
    async fn decide_now(
        &self,
        who: &Principal,
        request: &CreateBooking,
    ) -> Result<(Decision, Zone), BookingError> {
        let now = self.clock.now();
        let p = self.prepare(request, now, false).await?;
        let requester_id = who.requester_id();
        let key = CreateKey {
            room_id: &p.room.room.id,
            requester_id: &requester_id,
            idempotency_key: None,
            request_hash: "",
            window: p.window,
            building: p.room.room.building.as_deref(),
            quota_window: p.quota_window,
        };
        let snapshot = self.store.snapshot(&key, now).await?;
        let index = BookingIndex::new(snapshot.existing.iter().cloned());
        let closures = self.rules.closure_set(p.policy, &snapshot.closures);
        let core_room = p.core_room.clone().with_parts(snapshot.leaves.clone());
        let decision = decide(
            &p.core_request,
            &who.requester(),
            &core_room,
            p.policy,
            &index,
            &closures,
            now,
        );
        Ok((decision, p.zone))
    }

    /// Creates a booking for `who`. A retry with the same `idempotency_key` and the same
    /// request returns the first booking.
    #[tracing::instrument(name = "booking.create", skip_all, fields(who = %who.requester_id(), room = %request.room_id, series = request.recurrence.is_some()))]
    pub async fn create(
        &self,
        who: &Principal,
        request: CreateBooking,
        idempotency_key: Option<&str>,
    ) -> Result<CreateResult, BookingError> {
        let now = self.clock.now();
        let Prepared {
            room,
            zone,
            policy,
            core_request,
            core_room,
            window,
            quota_window,
        } = self.prepare(&request, now, true).await?;
        let requester = who.requester();
        let requester_id = who.requester_id();
        let hash = request_hash(&request);
        let rules = &self.rules;
        let booking_id = uuid::Uuid::new_v4().to_string();
        let key = CreateKey {
            room_id: &room.room.id,
            requester_id: &requester_id,
            idempotency_key,
            request_hash: &hash,
            window,
            building: room.room.building.as_deref(),
            quota_window,
        };
        let created = self
            .store
            .create_booking(key, now, &requester_id, |snapshot| {
                let index = BookingIndex::new(snapshot.existing.iter().cloned());
                let closures = rules.closure_set(policy, &snapshot.closures);
                // The parts as committed, read with the bookings in this transaction: a
                // directory sync may have changed the hall since `prepare`.
                let core_room = core_room.with_parts(snapshot.leaves.clone());
                let decision = decide(
                    &core_request,
                    &requester,
                    &core_room,
                    policy,
                    &index,
                    &closures,
                    now,
                );
                new_booking(
                    &decision,
                    booking_id,
                    &request,
                    &requester_id,
                    who.name(),
                    zone,
                    policy,
                    now,
                )
            })
            .await?;
        if matches!(created, Created::Inserted(_)) {
            self.outbox_written.notify_one();
        }
        match created {
            Created::Inserted(b) => Ok(CreateResult {
                booking: BookingView::from_record(b),
                replayed: false,
            }),
            Created::Replayed(b) => Ok(CreateResult {
                booking: BookingView::from_record(b),
                replayed: true,
            }),
            Created::KeyReused => Err(BookingError::KeyReused),
            Created::Refused(e) => Err(e),
        }
    }

    /// A booking, for its requester, a clerk of its room, or an administrator.
    pub async fn get(&self, who: &Principal, id: &str) -> Result<BookingView, BookingError> {
        let booking = self.visible(who, id).await?;
        Ok(BookingView::from_record(booking))
    }

    /// A booking as stored (for its calendar file), for those who may see it.
    pub async fn record(&self, who: &Principal, id: &str) -> Result<BookingRecord, BookingError> {
        self.visible(who, id).await
    }

    async fn visible(&self, who: &Principal, id: &str) -> Result<BookingRecord, BookingError> {
        let not_found = || BookingError::NotFound {
            what: "booking",
            id: id.to_owned(),
        };
        let booking = self.store.booking(id).await?.ok_or_else(not_found)?;
        if booking.requester_id == who.requester_id() || self.approves(who, &booking).await? {
            Ok(booking)
        } else {
            // Someone else's booking is not found, rather than forbidden: its existence is
            // nobody else's business.
            Err(not_found())
        }
    }

    async fn approves(
        &self,
        who: &Principal,
        booking: &BookingRecord,
    ) -> Result<bool, BookingError> {
        if who.is_admin() {
            return Ok(true);
        }
        let room = self.store.room(&booking.room_id).await?;
        Ok(room
            .and_then(|r| r.room.approver_group)
            .is_some_and(|g| who.is_member_of(&g)))
    }

    /// The caller's own bookings, newest first.
    pub async fn mine(&self, who: &Principal) -> Result<Vec<BookingView>, BookingError> {
        Ok(self
            .store
            .bookings_of(&who.requester_id())
            .await?
            .into_iter()
            .map(BookingView::from_record)
            .collect())
    }

    /// Cancels a pending or approved booking: its requester, or a clerk of its room.
    #[tracing::instrument(name = "booking.cancel", skip_all, fields(who = %who.requester_id(), booking = %id))]
    pub async fn cancel(
        &self,
        who: &Principal,
        id: &str,
        reason: Option<String>,
    ) -> Result<BookingView, BookingError> {
        let booking = self.visible(who, id).await?;
        let reason = reason.unwrap_or_else(|| {
            if booking.requester_id == who.requester_id() {
                "cancelled by the requester".into()
            } else {
                format!("cancelled by {}", who.name())
            }
        });
        self.transition(
            who,
            id,
            &[BookingStatus::Pending, BookingStatus::Approved],
            BookingStatus::Cancelled,
            Some(&reason),
            "cancelled",
        )
        .await
    }

    /// Approves dates of a booking that wait for a clerk: only a clerk in the room's approver
    /// group (or an admin). Every date is decided again by the core (`scheduling::check_date`)
    /// against today's closures, policy and other bookings, in the same write transaction as
    /// the change (`Store::decide_dates`), so nothing is booked in between:
    /// - a date with nothing against it is approved;
    /// - a date the core now refuses outright (closed, taken, a closed room) is rejected, with
    ///   the core's reasons, while the other dates are approved;
    /// - a date only out of policy is approved when `override_reason` is given by a clerk
    ///   allowed to (the policy's `approval.out_of_policy`, or an admin), recorded with who and
    ///   why; otherwise it stays pending, with the reasons, for a clerk who may.
    ///
    /// When no date at all can be approved nothing is written and the core's refusal is the
    /// answer (`BookingError::Refused`, date by date).
    #[tracing::instrument(name = "booking.approve", skip_all, fields(who = %who.requester_id(), booking = %id))]
    pub async fn approve(
        &self,
        who: &Principal,
        id: &str,
        request: Approve,
    ) -> Result<BookingView, BookingError> {
        let (booking, room) = self.clerk_decides(who, id).await?;
        let policy = self.rules.policy(&room)?;
        let zone = self.rules.zone(&room);
        let override_reason = match request.override_reason.as_deref().map(str::trim) {
            None => None,
            Some(r) if limits::fits(r, limits::DECISION_REASON_CHARS) => Some(r.to_owned()),
            Some(_) => {
                return Err(BookingError::Invalid {
                    code: "reason-required",
                    field: "override_reason",
                    message: "an approval out of policy needs a reason of 1 to 2000 characters"
                        .into(),
                });
            }
        };
        if override_reason.is_some() && !self.may_override(who, policy) {
            return Err(BookingError::Forbidden(
                "you are not in a group that may approve bookings out of policy".into(),
            ));
        }
        // Checked again inside the transaction; this early answer names a wrong date at once.
        chosen_dates(
            &booking,
            request.dates.as_deref(),
            &[BookingStatus::Pending],
            "approved",
        )?;
        let Some(window) = dates_window(&booking, policy) else {
            return Err(BookingError::WrongStatus {
                status: booking.status,
                action: "approved",
            });
        };
        let core_room = core_room_of(&room, zone);
        let rules = &self.rules;
        let who_name = who.name().to_owned();
        let now = self.clock.now();
        let load = DatesLoad {
            building: room.room.building.as_deref(),
            window,
        };
        let decided = self
            .store
            .decide_dates(
                id,
                &room.room.id,
                &who.requester_id(),
                now,
                Some(load),
                |snap| {
                    let b = &snap.booking;
                    let dates = chosen_dates(
                        b,
                        request.dates.as_deref(),
                        &[BookingStatus::Pending],
                        "approved",
                    )?;
                    let index = BookingIndex::new(snap.existing.iter().cloned());
                    let closures = rules.closure_set(policy, &snap.closures);
                    let mut changes = Vec::new();
                    let mut refused = Vec::new();
                    for o in b.occurrences.iter().filter(|o| dates.contains(&o.seq)) {
                        let Ok(span) = Interval::new(o.start, o.end) else {
                            continue;
                        };
                        let reasons = check_date(
                            span,
                            b.attendees,
                            &core_room,
                            policy,
                            &index,
                            &closures,
                            o.asked_at.unwrap_or(b.created_at),
                        );
                        let views: Vec<ReasonView> =
                            reasons.iter().map(|r| reason_view(r, zone)).collect();
                        let json = (!views.is_empty())
                            .then(|| serde_json::to_string(&views).unwrap_or_else(|_| "[]".into()));
                        let hard: Vec<&Reason> = reasons
                            .iter()
                            .filter(|r| r.severity() == crate::scheduling::Severity::Hard)
                            .collect();
                        let words = |list: &[&Reason]| {
                            list.iter()
                                .map(|r| crate::i18n::reasons::record(r, zone))
                                .collect::<Vec<_>>()
                                .join("; ")
                        };
                        let change = if reasons.is_empty() {
                            DateChange {
                                seq: o.seq,
                                to: BookingStatus::Approved,
                                reason: None,
                                reasons: None,
                            }
                        } else if !hard.is_empty() {
                            refused.push((o, reasons.clone()));
                            DateChange {
                                seq: o.seq,
                                to: BookingStatus::Rejected,
                                reason: Some(words(&hard)),
                                reasons: json,
                            }
                        } else if let Some(why) = &override_reason {
                            let all: Vec<&Reason> = reasons.iter().collect();
                            DateChange {
                                seq: o.seq,
                                to: BookingStatus::Approved,
                                reason: Some(format!(
                                    "approved out of policy by {who_name} ({}): {why}",
                                    words(&all)
                                )),
                                reasons: json,
                            }
                        } else {
                            refused.push((o, reasons.clone()));
                            // Left waiting for a clerk who may approve it out of policy.
                            DateChange {
                                seq: o.seq,
                                to: BookingStatus::Pending,
                                reason: None,
                                reasons: json,
                            }
                        };
                        changes.push(change);
                    }
                    if !changes.iter().any(|c| c.to == BookingStatus::Approved) {
                        return Err(refusal(&refused, zone));
                    }
                    // An approved change cancels the date it replaces, in this transaction.
                    let mut replaced = Vec::new();
                    for c in changes.iter().filter(|c| c.to == BookingStatus::Approved) {
                        let Some(new) = b.occurrences.iter().find(|o| o.seq == c.seq) else {
                            continue;
                        };
                        let Some(old) = new
                            .replaces
                            .and_then(|r| b.occurrences.iter().find(|o| o.seq == r))
                            .filter(|o| o.status.is_blocking())
                        else {
                            continue;
                        };
                        replaced.push(DateChange {
                            seq: old.seq,
                            to: BookingStatus::Cancelled,
                            reason: Some(format!(
                                "moved to {}",
                                zone.local(new.start).format("%Y-%m-%d %H:%M")
                            )),
                            reasons: None,
                        });
                    }
                    changes.extend(replaced);
                    Ok(DatesDecided {
                        changes,
                        reason: None,
                    })
                },
            )
            .await;
        self.decided(id, "approved", decided)
    }

    /// Rejects dates of a booking that wait for a clerk, with a reason for the requester: a
    /// clerk of the room. The booking's status follows its dates.
    #[tracing::instrument(name = "booking.reject_dates", skip_all, fields(who = %who.requester_id(), booking = %id))]
    pub async fn reject_dates(
        &self,
        who: &Principal,
        id: &str,
        dates: &[i64],
        reason: &str,
    ) -> Result<BookingView, BookingError> {
        let reason = reason.trim();
        if !limits::fits(reason, limits::DECISION_REASON_CHARS) {
            return Err(BookingError::Invalid {
                code: "reason-required",
                field: "reason",
                message: "a rejection needs a reason of 1 to 2000 characters, for the requester"
                    .into(),
            });
        }
        let (booking, room) = self.clerk_decides(who, id).await?;
        chosen_dates(&booking, Some(dates), &[BookingStatus::Pending], "rejected")?;
        self.set_dates(
            who,
            id,
            &room.room.id,
            Some(dates),
            &[BookingStatus::Pending],
            BookingStatus::Rejected,
            reason,
            "rejected",
        )
        .await
    }

    /// Cancels dates of a booking that hold their slot (pending or approved): its requester,
    /// or a clerk of its room. The other dates stay as they are; the booking's status follows
    /// its dates (all cancelled → cancelled).
    #[tracing::instrument(name = "booking.cancel_dates", skip_all, fields(who = %who.requester_id(), booking = %id))]
    pub async fn cancel_dates(
        &self,
        who: &Principal,
        id: &str,
        dates: &[i64],
        reason: Option<String>,
    ) -> Result<BookingView, BookingError> {
        let booking = self.visible(who, id).await?;
        let reason = match reason.as_deref().map(str::trim) {
            Some(r) if !r.is_empty() => {
                if !limits::fits(r, limits::DECISION_REASON_CHARS) {
                    return Err(BookingError::Invalid {
                        code: "reason-required",
                        field: "reason",
                        message: "a reason may be at most 2000 characters".into(),
                    });
                }
                r.to_owned()
            }
            _ if booking.requester_id == who.requester_id() => "cancelled by the requester".into(),
            _ => format!("cancelled by {}", who.name()),
        };
        let from = [BookingStatus::Pending, BookingStatus::Approved];
        chosen_dates(&booking, Some(dates), &from, "cancelled")?;
        self.set_dates(
            who,
            id,
            &booking.room_id,
            Some(dates),
            &from,
            BookingStatus::Cancelled,
            &reason,
            "cancelled",
        )
        .await
    }

    /// Moves one date of a booking to a new time: its requester, or a clerk of its room. The
    /// new time is a new decision of the core, as a request of one date by `who` would get
    /// now, against everything else in the room (the booking's other dates included), in the
    /// same write transaction as the change ([`Store::move_date`]):
    /// - refused → nothing changes, the core's reasons are the answer, the date keeps its slot;
    /// - granted at once, or the date was only waiting for a clerk anyway → the date moves
    ///   (the old slot is free, the new one taken, in one transaction);
    /// - an approved date whose new time needs a clerk → the approved date stays, and a new
    ///   date waits for the clerk at the new time; approving it cancels the old one in the
    ///   same transaction, rejecting it (or its hold running out) leaves the old one as it
    ///   was. A change never leaves the requester with nothing.
    #[tracing::instrument(name = "booking.move_date", skip_all, fields(who = %who.requester_id(), booking = %id, seq))]
    pub async fn move_date(
        &self,
        who: &Principal,
        id: &str,
        seq: i64,
        request: MoveDate,
    ) -> Result<BookingView, BookingError> {
        let booking = self.visible(who, id).await?;
        let room = self.live_room(&booking.room_id).await?;
        let zone = self.rules.zone(&room);
        let policy = self.rules.policy(&room)?;
        let start = parse_time(&request.start, zone, "start")?;
        let end = parse_time(&request.end, zone, "end")?;
        let invalid_time = |e: crate::scheduling::decision::RequestError| BookingError::Invalid {
            code: "invalid-time",
            field: "end",
            message: e.to_string(),
        };
        let core_request =
            BookingRequest::new(start, end, booking.attendees).map_err(invalid_time)?;
        // To the time it has: nothing to move (a calendar app saving the event back, say); a
        // change of it still waiting for a clerk is given up.
        if let Some(date) = booking.occurrences.iter().find(|o| o.seq == seq)
            && date.status.is_blocking()
            && zone.to_utc(start).ok() == Some(date.start)
            && zone.to_utc(end).ok() == Some(date.end)
        {
            let waiting: Vec<i64> = booking
                .occurrences
                .iter()
                .filter(|o| o.replaces == Some(seq) && o.status.is_blocking())
                .map(|o| o.seq)
                .collect();
            if waiting.is_empty() {
                return Ok(BookingView::from_record(booking));
            }
            return self
                .cancel_dates(
                    who,
                    id,
                    &waiting,
                    Some(format!("moved back to the time date {seq} holds")),
                )
                .await;
        }
        movable(&booking, seq, self.clock.now())?;
        let first = zone.to_utc_or_after_gap(start);
        let last = zone.to_utc_or_after_gap(end).max(first);
        let margin = SINGLE_LOAD_MARGIN + policy.setup.delta() + policy.teardown.delta();
        let window = Interval::new(
            first.checked_sub_signed(margin).unwrap_or(first),
            last.checked_add_signed(margin).unwrap_or(last),
        )
        .map_err(|e| BookingError::Invalid {
            code: "invalid-time",
            field: "end",
            message: e.to_string(),
        })?;
        let quota_window = policy.quota.as_ref().map(|_| {
            let m = TimeDelta::days(32);
            Interval::new(
                window
                    .start()
                    .checked_sub_signed(m)
                    .unwrap_or(window.start()),
                window.end().checked_add_signed(m).unwrap_or(window.end()),
            )
            .unwrap_or(window)
        });
        let key = CreateKey {
            room_id: &room.room.id,
            requester_id: &booking.requester_id,
            idempotency_key: None,
            request_hash: "",
            window,
            building: room.room.building.as_deref(),
            quota_window,
        };
        let requester = who.requester();
        let core_room = core_room_of(&room, zone);
        let rules = &self.rules;
        let now = self.clock.now();
        let moved = self
            .store
            .move_date(id, &key, now, &who.requester_id(), |seen| {
                let b = &seen.booking;
                let date = movable(b, seq, now)?;
                // Everything but the date itself: the booking's other dates count as anyone's.
                let existing = seen
                    .snapshot
                    .existing
                    .iter()
                    .filter(|e| !(e.id == b.id && e.span.start() == date.start))
                    .cloned();
                let index = BookingIndex::new(existing);
                let closures = rules.closure_set(policy, &seen.snapshot.closures);
                let core_room = core_room.clone().with_parts(seen.snapshot.leaves.clone());
                let decision = decide(
                    &core_request,
                    &requester,
                    &core_room,
                    policy,
                    &index,
                    &closures,
                    now,
                );
                let granted = match decision.outcome {
                    Outcome::Approved => BookingStatus::Approved,
                    Outcome::Pending => BookingStatus::Pending,
                    Outcome::Rejected | Outcome::Skipped => {
                        return Err(refused_decision(&decision, zone, "the new time"));
                    }
                };
                let (Some(span), Some(blocked)) = decision
                    .occurrences
                    .first()
                    .map_or((None, None), |o| (o.span, o.blocked))
                else {
                    return Err(refused_decision(&decision, zone, "the new time"));
                };
                let words = |s: DateTime<Utc>, e: DateTime<Utc>| {
                    format!(
                        "{}–{}",
                        zone.local(s).format("%Y-%m-%d %H:%M"),
                        zone.local(e).format("%H:%M")
                    )
                };
                let from_to = format!(
                    "from {} to {}",
                    words(date.start, date.end),
                    words(span.start(), span.end())
                );
                // A request's hold: until the policy's hold from now, or the first waiting date,
                // whichever comes first; a move never lengthens a hold already running.
                let hold_until = (granted == BookingStatus::Pending).then(|| {
                    let hold = now.checked_add_signed(policy.hold.delta()).unwrap_or(now);
                    let first_waiting = b
                        .occurrences
                        .iter()
                        .filter(|o| o.seq != seq && o.status == BookingStatus::Pending)
                        .map(|o| o.start)
                        .chain(std::iter::once(span.start()))
                        .min()
                        .unwrap_or(span.start());
                    let hold = hold.min(first_waiting);
                    match b.hold_until {
                        Some(running) if b.status == BookingStatus::Pending => hold.min(running),
                        _ => hold,
                    }
                });
                if granted == BookingStatus::Approved || date.status == BookingStatus::Pending {
                    let one_date = b.occurrences.len() == 1;
                    return Ok(DateMoved {
                        change: DateMove::InPlace {
                            seq,
                            span,
                            blocked,
                            status: granted,
                        },
                        reason: format!("moved {from_to}"),
                        hold_until,
                        local: one_date.then(|| {
                            (
                                zone.local(span.start()).format("%Y-%m-%dT%H:%M").to_string(),
                                zone.local(span.end()).format("%Y-%m-%dT%H:%M").to_string(),
                            )
                        }),
                    });
                }
                // An approved date whose new time needs a clerk: it keeps its slot meanwhile,
                // so the new time must not overlap it.
                let old_blocked = Interval::new(date.block_start, date.block_end).ok();
                if old_blocked.is_some_and(|o| o.overlaps(&blocked)) {
                    return Err(BookingError::Invalid {
                        code: "change-overlaps",
                        field: "start",
                        message: "this room needs a clerk to approve the change, and the date keeps its time until then; a new time that overlaps it cannot be held meanwhile. Choose a time that does not overlap, or cancel the date and book anew".into(),
                    });
                }
                Ok(DateMoved {
                    change: DateMove::Replace {
                        replaces: seq,
                        span,
                        blocked,
                    },
                    reason: format!("asks to move date {seq} {from_to}"),
                    hold_until,
                    local: None,
                })
            })
            .await;
        self.decided(id, "moved", moved)
    }

    /// Changes a booking's purpose or attendee count: its requester, or a clerk of its room,
    /// while it holds its slot. More people are a new question for the core: every date to
    /// come is checked against the room's capacity and the policy's limit as a request would
    /// be, in the write transaction of the change; over it, nothing changes (`over-capacity`).
    #[tracing::instrument(name = "booking.amend", skip_all, fields(who = %who.requester_id(), booking = %id))]
    pub async fn amend(
        &self,
        who: &Principal,
        id: &str,
        request: Amend,
    ) -> Result<BookingView, BookingError> {
        let booking = self.visible(who, id).await?;
        let purpose = match request.purpose.as_deref().map(str::trim) {
            None => None,
            Some(p) if limits::fits(p, limits::PURPOSE_CHARS) => Some(p.to_owned()),
            Some(_) => {
                return Err(BookingError::Invalid {
                    code: "invalid-purpose",
                    field: "purpose",
                    message: "purpose must be 1 to 500 characters".into(),
                });
            }
        };
        if request.attendees == Some(0) {
            return Err(BookingError::Invalid {
                code: "invalid-attendees",
                field: "attendees",
                message: "attendees must be at least 1".into(),
            });
        }
        if purpose.is_none() && request.attendees.is_none() {
            return Err(BookingError::Invalid {
                code: "nothing-to-change",
                field: "purpose",
                message: "give a new purpose, a new attendee count, or both".into(),
            });
        }
        let room =
            self.store
                .room(&booking.room_id)
                .await?
                .ok_or_else(|| BookingError::NotFound {
                    what: "room",
                    id: booking.room_id.clone(),
                })?;
        let policy = self.rules.policy(&room)?;
        let zone = self.rules.zone(&room);
        let core_room = core_room_of(&room, zone);
        let now = self.clock.now();
        let attendees = request.attendees;
        let amended = self
            .store
            .amend_booking(
                id,
                purpose.as_deref(),
                attendees,
                &who.requester_id(),
                now,
                |b| {
                    let mut what = Vec::new();
                    if let Some(n) = attendees.filter(|n| *n != b.attendees) {
                        if n > b.attendees {
                            let none = BookingIndex::new(std::iter::empty());
                            let no_closures = self.rules.closure_set(policy, &[]);
                            for o in b
                                .occurrences
                                .iter()
                                .filter(|o| o.status.is_blocking() && o.start > now)
                            {
                                let Ok(span) = Interval::new(o.start, o.end) else {
                                    continue;
                                };
                                let over: Vec<Reason> = check_date(
                                    span,
                                    n,
                                    &core_room,
                                    policy,
                                    &none,
                                    &no_closures,
                                    o.asked_at.unwrap_or(b.created_at),
                                )
                                .into_iter()
                                .filter(|r| r.code() == "over-capacity")
                                .collect();
                                if let Some(r) = over.first() {
                                    return Err(BookingError::Invalid {
                                        code: "over-capacity",
                                        field: "attendees",
                                        message: crate::i18n::reasons::record(r, zone),
                                    });
                                }
                            }
                        }
                        what.push(format!("attendees {} → {n}", b.attendees));
                    }
                    if let Some(p) = purpose.as_deref().filter(|p| *p != b.purpose) {
                        what.push(format!("purpose: {p}"));
                    }
                    Ok(if what.is_empty() {
                        "nothing changed".to_owned()
                    } else {
                        format!("changed {}", what.join("; "))
                    })
                },
            )
            .await;
        self.decided(id, "changed", amended)
    }

    /// Moves `dates` (all that are in one of `from`, with `None`) from one of `from` to `to`
    /// with `reason`, in one transaction.
    #[allow(clippy::too_many_arguments)]
    async fn set_dates(
        &self,
        who: &Principal,
        id: &str,
        room_id: &str,
        dates: Option<&[i64]>,
        from: &[BookingStatus],
        to: BookingStatus,
        reason: &str,
        action: &'static str,
    ) -> Result<BookingView, BookingError> {
        let now = self.clock.now();
        let decided = self
            .store
            .decide_dates(id, room_id, &who.requester_id(), now, None, |snap| {
                let chosen = chosen_dates(&snap.booking, dates, from, action)?;
                Ok::<_, BookingError>(DatesDecided {
                    changes: chosen
                        .into_iter()
                        .map(|seq| DateChange {
                            seq,
                            to,
                            reason: Some(reason.to_owned()),
                            reasons: None,
                        })
                        .collect(),
                    reason: Some(reason.to_owned()),
                })
            })
            .await;
        self.decided(id, action, decided)
    }

    /// The answer of a decision on dates.
    fn decided(
        &self,
        id: &str,
        action: &'static str,
        decided: Result<Result<BookingRecord, BookingError>, TransitionError>,
    ) -> Result<BookingView, BookingError> {
        match decided {
            Ok(Ok(b)) => {
                self.outbox_written.notify_one();
                Ok(BookingView::from_record(b))
            }
            Ok(Err(e)) => Err(e),
            Err(TransitionError::NotFound) => Err(BookingError::NotFound {
                what: "booking",
                id: id.to_owned(),
            }),
            Err(TransitionError::WrongStatus { status }) => {
                Err(BookingError::WrongStatus { status, action })
            }
            Err(TransitionError::Store(e)) => Err(e.into()),
        }
    }

    /// Whether `who` may approve dates out of policy in a room with `policy`.
    pub fn may_override(&self, who: &Principal, policy: &Policy) -> bool {
        who.is_admin() || who.requester().is_in(&policy.approval.out_of_policy)
    }

    /// A booking's dates for a clerk of its room, each with what the core says about it now
    /// (closures, other bookings, policy; nothing is written): the console shows a date that
    /// can no longer be approved, and why.
    pub async fn dates_now(&self, who: &Principal, id: &str) -> Result<Vec<DateNow>, BookingError> {
        let (booking, room) = self.clerk_decides(who, id).await?;
        let policy = self.rules.policy(&room)?;
        let zone = self.rules.zone(&room);
        let Some(window) = dates_window(&booking, policy) else {
            return Ok(Vec::new());
        };
        let existing = self
            .store
            .blocking_overlaps(&room.room.id, &window, &booking.id)
            .await?;
        let blocks = self
            .store
            .closures_for(&room.room.id, room.room.building.as_deref(), &window)
            .await?;
        let index = BookingIndex::new(existing);
        let closures = self.rules.closure_set(policy, &blocks);
        let core_room = core_room_of(&room, zone);
        let may_override = self.may_override(who, policy);
        Ok(booking
            .occurrences
            .iter()
            .map(|o| {
                let reasons = match Interval::new(o.start, o.end) {
                    Ok(span) if o.status.is_blocking() => check_date(
                        span,
                        booking.attendees,
                        &core_room,
                        policy,
                        &index,
                        &closures,
                        o.asked_at.unwrap_or(booking.created_at),
                    ),
                    _ => Vec::new(),
                };
                let hard = reasons
                    .iter()
                    .any(|r| r.severity() == crate::scheduling::Severity::Hard);
                DateNow {
                    seq: o.seq,
                    start: o.start,
                    end: o.end,
                    status: o.status,
                    status_reason: o.status_reason.clone(),
                    approvable: o.status == BookingStatus::Pending
                        && !hard
                        && (reasons.is_empty() || may_override),
                    reasons,
                    zone,
                    replaces: o.replaces,
                }
            })
            .collect())
    }

    /// Rejects a pending booking, with a reason for the requester.
    #[tracing::instrument(name = "booking.reject", skip_all, fields(who = %who.requester_id(), booking = %id))]
    pub async fn reject(
        &self,
        who: &Principal,
        id: &str,
        reason: &str,
    ) -> Result<BookingView, BookingError> {
        let reason = reason.trim();
        if !limits::fits(reason, limits::DECISION_REASON_CHARS) {
            return Err(BookingError::Invalid {
                code: "reason-required",
                field: "reason",
                message: "a rejection needs a reason of 1 to 2000 characters, for the requester"
                    .into(),
            });
        }
        let (booking, room) = self.clerk_decides(who, id).await?;
        // Every date still waiting; dates a clerk approved before stay approved.
        chosen_dates(&booking, None, &[BookingStatus::Pending], "rejected")?;
        self.set_dates(
            who,
            id,
            &room.room.id,
            None,
            &[BookingStatus::Pending],
            BookingStatus::Rejected,
            reason,
            "rejected",
        )
        .await
    }

    async fn clerk_decides(
        &self,
        who: &Principal,
        id: &str,
    ) -> Result<(BookingRecord, StoredRoom), BookingError> {
        if !who.is_clerk() {
            return Err(BookingError::Forbidden(
                "only clerks approve or reject requests".into(),
            ));
        }
        let booking = self
            .store
            .booking(id)
            .await?
            .ok_or_else(|| BookingError::NotFound {
                what: "booking",
                id: id.to_owned(),
            })?;
        let room = self.store.room(&booking.room_id).await?;
        let allowed = who.is_admin()
            || room
                .as_ref()
                .and_then(|r| r.room.approver_group.as_deref())
                .is_some_and(|g| who.is_member_of(g));
        let Some(room) = room.filter(|_| allowed) else {
            return Err(BookingError::Forbidden(
                "you are not in the approver group of this booking's room".into(),
            ));
        };
        Ok((booking, room))
    }

    async fn transition(
        &self,
        who: &Principal,
        id: &str,
        from: &[BookingStatus],
        to: BookingStatus,
        reason: Option<&str>,
        action: &'static str,
    ) -> Result<BookingView, BookingError> {
        let now = self.clock.now();
        match self
            .store
            .transition(id, from, to, &who.requester_id(), reason, now)
            .await
        {
            Ok(b) => {
                self.outbox_written.notify_one();
                Ok(BookingView::from_record(b))
            }
            Err(TransitionError::NotFound) => Err(BookingError::NotFound {
                what: "booking",
                id: id.to_owned(),
            }),
            Err(TransitionError::WrongStatus { status }) => {
                Err(BookingError::WrongStatus { status, action })
            }
            Err(TransitionError::Store(e)) => Err(e.into()),
        }
    }

    /// A booking's audit trail.
    pub async fn history(
        &self,
        who: &Principal,
        id: &str,
    ) -> Result<Vec<AuditRecord>, BookingError> {
        self.visible(who, id).await?;
        let audit = self.store.history(id).await?;
        self.with_kept_notes(id, audit).await
    }

    /// The pending requests the clerk may decide, oldest first, with what competes and
    /// conflicts with each.
    pub async fn approvals(&self, who: &Principal) -> Result<Vec<ApprovalItem>, BookingError> {
        Ok(self
            .pending_for(who)
            .await?
            .into_iter()
            .map(|p| {
                let conflicts = p
                    .overlaps
                    .iter()
                    .map(|o| match o {
                        Overlap::Booking { id, blocked, .. } => ReasonView {
                            code: "conflict".into(),
                            message: format!(
                                "overlaps booking {id} ({})",
                                span_text(blocked, p.zone)
                            ),
                        },
                        Overlap::Closure { label, interval } => ReasonView {
                            code: "closure".into(),
                            message: format!("{label} ({})", span_text(interval, p.zone)),
                        },
                    })
                    .collect();
                ApprovalItem {
                    conflicts,
                    ..p.item
                }
            })
            .collect())
    }

    /// The pending requests the clerk may decide, oldest first, each with what overlaps it
    /// now; the API's queue and the console's are both made from this.
    pub(crate) async fn pending_for(&self, who: &Principal) -> Result<Vec<Pending>, BookingError> {
        if !who.is_clerk() {
            return Err(BookingError::Forbidden(
                "the approval queue is for clerks".into(),
            ));
        }
        self.expire_holds_now().await?;
        let pending = self.store.pending_bookings().await?;
        let rooms: HashMap<String, StoredRoom> = self
            .store
            .rooms(true)
            .await?
            .into_iter()
            .map(|r| (r.room.id.clone(), r))
            .collect();
        let mine: Vec<&BookingRecord> = pending
            .iter()
            .filter(|b| {
                who.is_admin()
                    || rooms
                        .get(&b.room_id)
                        .and_then(|r| r.room.approver_group.as_deref())
                        .is_some_and(|g| who.is_member_of(g))
            })
            .collect();
        let mut items = Vec::new();
        for b in mine {
            let Some(room) = rooms.get(&b.room_id) else {
                continue;
            };
            let zone = self.rules.zone(room);
            let days: Vec<NaiveDate> = b
                .occurrences
                .iter()
                .map(|o| zone.local(o.start).date())
                .collect();
            let competing = pending
                .iter()
                .filter(|other| other.id != b.id && other.room_id == b.room_id)
                .filter(|other| {
                    other
                        .occurrences
                        .iter()
                        .any(|o| days.contains(&zone.local(o.start).date()))
                })
                .cloned()
                .map(BookingView::from_record)
                .collect();
            let overlaps = self.overlaps(b, room, zone).await?;
            items.push(Pending {
                item: ApprovalItem {
                    booking: BookingView::from_record(b.clone()),
                    room_name: room.room.name.clone(),
                    building: room.room.building.clone(),
                    competing,
                    conflicts: Vec::new(),
                },
                zone,
                overlaps,
            });
        }
        Ok(items)
    }

    /// What overlaps a booking's pending dates now, buffers included: bookings that hold
    /// their slot and closures (clerks' blocks and holiday calendars).
    pub(crate) async fn overlaps(
        &self,
        b: &BookingRecord,
        room: &StoredRoom,
        zone: Zone,
    ) -> Result<Vec<Overlap>, BookingError> {
        let policy = self.rules.policy(room)?;
        let mut out = Vec::new();
        for o in b
            .occurrences
            .iter()
            .filter(|o| o.status == BookingStatus::Pending)
        {
            let Ok(blocked) = Interval::new(o.block_start, o.block_end) else {
                continue;
            };
            for other in self
                .store
                .blocking_overlaps(&b.room_id, &blocked, &b.id)
                .await?
            {
                out.push(Overlap::Booking {
                    id: other.id,
                    span: other.span,
                    blocked: other.blocked,
                });
            }
            let blocks = self
                .store
                .closures_for(&b.room_id, room.room.building.as_deref(), &blocked)
                .await?;
            for c in self
                .rules
                .closure_set(policy, &blocks)
                .resolve(zone, &blocked)
            {
                out.push(Overlap::Closure {
                    label: c.label,
                    interval: c.interval,
                });
            }
        }
        Ok(out)
    }

    /// The busy intervals of a room in a window: bookings that hold their slot and closures,
    /// merged, with nothing about who booked.
    pub async fn busy(
        &self,
        room_id: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<Interval>, BookingError> {
        let room = self.live_room(room_id).await?;
        let zone = self.rules.zone(&room);
        let window = self.window(from, to, zone)?;
        self.busy_in(&room, zone, &window).await
    }

    fn window(&self, from: &str, to: &str, zone: Zone) -> Result<Interval, BookingError> {
        let start = parse_instant(from, zone, "from")?;
        let end = parse_instant(to, zone, "to")?;
        let window = Interval::new(start, end).map_err(|e| BookingError::Invalid {
            code: "invalid-window",
            field: "to",
            message: e.to_string(),
        })?;
        if window.end() - window.start() > TimeDelta::days(366) {
            return Err(BookingError::Invalid {
                code: "invalid-window",
                field: "to",
                message: "a window may span at most 366 days".into(),
            });
        }
        Ok(window)
    }

    async fn busy_in(
        &self,
        room: &StoredRoom,
        zone: Zone,
        window: &Interval,
    ) -> Result<Vec<Interval>, BookingError> {
        let policy = self.rules.policy(room)?;
        let mut spans: Vec<Interval> = self
            .store
            .busy(&room.room.id, window, self.clock.now())
            .await?
            .into_iter()
            .filter_map(|(s, e)| Interval::new(s, e).ok())
            .collect();
        let blocks = self
            .store
            .closures_for(&room.room.id, room.room.building.as_deref(), window)
            .await?;
        spans.extend(
            self.rules
                .closure_set(policy, &blocks)
                .resolve(zone, window)
                .into_iter()
                .map(|c| c.interval),
        );
        Ok(merge(spans, window))
    }

    /// The live, bookable rooms with at least `capacity` seats that are free for the whole
    /// window: nothing busy within the room's setup and teardown buffers of it, so that a
    /// booking of the window would not clash.
    pub async fn free_rooms(
        &self,
        from: &str,
        to: &str,
        capacity: Option<u32>,
    ) -> Result<Vec<StoredRoom>, BookingError> {
        // The window is checked even when no room has the seats asked for: nonsense is
        // refused whatever the rooms are.
        self.window(from, to, self.rules.default_zone)?;
        let mut free = Vec::new();
        for room in self.store.rooms(false).await? {
            if capacity.is_some_and(|c| room.room.capacity.is_none_or(|have| have < c)) {
                continue;
            }
            let Ok(policy) = self.rules.policy(&room) else {
                continue;
            };
            if policy.approval.closed {
                continue;
            }
            let zone = self.rules.zone(&room);
            let window = self.window(from, to, zone)?;
            // A booking in the window would block it widened by its own buffers, and what is
            // there already blocks with its buffers too: free means no busy time within both
            // buffers of the window.
            let pad = policy.setup.delta() + policy.teardown.delta();
            let wide = Interval::new(
                window
                    .start()
                    .checked_sub_signed(pad)
                    .unwrap_or(window.start()),
                window.end().checked_add_signed(pad).unwrap_or(window.end()),
            )
            .unwrap_or(window);
            if self.busy_in(&room, zone, &wide).await?.is_empty() {
                free.push(room);
            }
        }
        Ok(free)
    }

    /// Whether a room's policy lets anybody book it.
    pub fn bookable(&self, room: &StoredRoom) -> bool {
        room.retired_at.is_none() && self.rules.policy(room).is_ok_and(|p| !p.approval.closed)
    }

    // --- for the web face (issue 14): what its pages read, without the store ---

    /// Every room; retired ones too when asked (old bookings still name them).
    pub async fn rooms(&self, include_retired: bool) -> Result<Vec<StoredRoom>, BookingError> {
        Ok(self.store.rooms(include_retired).await?)
    }

    /// One room, retired or not; `None` when unknown.
    pub async fn room(&self, id: &str) -> Result<Option<StoredRoom>, BookingError> {
        Ok(self.store.room(id).await?)
    }

    /// Follows (or unfollows) a room's calendar for `who`, a staff member: the room must
    /// exist. Their calendar apps list the rooms they follow.
    pub async fn follow(
        &self,
        who: &Principal,
        room_id: &str,
        follow: bool,
    ) -> Result<(), BookingError> {
        if self.store.room(room_id).await?.is_none() {
            return Err(BookingError::NotFound {
                what: "room",
                id: room_id.to_owned(),
            });
        }
        self.store
            .set_follow(&who.requester_id(), room_id, follow, self.clock.now())
            .await?;
        Ok(())
    }

    /// The web sessions and web accounts service, on this service's store and clock.
    pub fn sessions(&self) -> crate::identity::session::Sessions {
        crate::identity::session::Sessions::new(self.store.clone(), self.clock.clone())
    }

    /// The service over `store`, deciding with `rules`, reading time from `clock`.
    pub fn new(store: Arc<Store>, rules: Arc<Rules>, clock: Arc<dyn Clock>) -> Bookings {
        Bookings {
            store,
            rules,
            clock,
            outbox_written: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Notified after each commit of this service that wrote outbox rows (a creation, a
    /// decision, a cancellation, expired holds): the notification worker waits on it.
    pub fn outbox_signal(&self) -> Arc<tokio::sync::Notify> {
        self.outbox_written.clone()
    }

    async fn expire_holds_now(&self) -> Result<usize, StoreError> {
        let n = self.store.expire_holds(self.clock.now()).await?;
        if n > 0 {
            self.outbox_written.notify_one();
        }
        Ok(n)
    }

    /// The store, for the other services built on this one (`calendar`, `identity::session`)
    /// and for the wiring that syncs rooms and makes demo data. Never for a face.
    pub(crate) fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Expires the pending requests whose hold ran out (with their audit and outbox rows);
    /// the number expired.
    pub async fn expire_holds(&self) -> Result<usize, BookingError> {
        Ok(self.expire_holds_now().await?)
    }
}

/// Clipped to `window`, then sorted and merged.
fn merge(spans: Vec<Interval>, window: &Interval) -> Vec<Interval> {
    crate::scheduling::interval::merge(
        spans
            .into_iter()
            .filter_map(|s| {
                Interval::new(s.start().max(window.start()), s.end().min(window.end())).ok()
            })
            .collect(),
    )
}

/// A digest of what was asked, to recognise a retry that changed the request.
fn request_hash(r: &CreateBooking) -> String {
    use sha2::{Digest, Sha256};
    let text = serde_json::json!([
        r.room_id,
        r.start,
        r.end,
        r.purpose,
        r.attendees,
        r.recurrence,
        r.on_conflict
    ])
    .to_string();
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The last date a series cut short keeps (the furthest it may reach now, by the horizon or
/// the most dates at once), in the room's zone; `None` when it was not cut short.
fn last_kept_date(decision: &Decision) -> Option<NaiveDate> {
    decision.truncated.as_ref()?;
    decision.occurrences.last().map(|o| o.local_start.date())
}

/// A series that reaches further than may be booked now: says why, and the last date that
/// may be booked, so that the requester can end it there.
fn too_many_occurrences(decision: &Decision) -> BookingError {
    let why = decision
        .truncated
        .as_ref()
        .map(crate::i18n::reasons::truncation_record)
        .unwrap_or_else(|| "the series has too many dates".into());
    let message = match last_kept_date(decision) {
        Some(last) => format!(
            "{why}; the last date that can be booked now is {}: end the series there or sooner with COUNT or UNTIL (UNTIL={}T235959)",
            last.format("%Y-%m-%d"),
            last.format("%Y%m%d")
        ),
        None => format!("{why}; end it sooner with COUNT or UNTIL"),
    };
    BookingError::Invalid {
        code: "too-many-occurrences",
        field: "recurrence",
        message,
    }
}

/// Turns the core's decision into a booking to insert, or into the refusal.
#[allow(clippy::too_many_arguments)]
fn new_booking(
    decision: &Decision,
    id: String,
    request: &CreateBooking,
    requester_id: &str,
    requester_name: &str,
    zone: Zone,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<NewBooking, BookingError> {
    let reasons: Vec<ReasonView> = decision
        .all_reasons()
        .map(|r| reason_view(r, zone))
        .collect();
    if decision.truncated.is_some() {
        return Err(too_many_occurrences(decision));
    }
    let status = match decision.outcome {
        Outcome::Approved => BookingStatus::Approved,
        Outcome::Pending => BookingStatus::Pending,
        Outcome::Rejected | Outcome::Skipped => {
            // The reason to report: a conflict first (409), then the first hard reason.
            let all: Vec<&Reason> = decision.all_reasons().collect();
            let main = all
                .iter()
                .find(|r| r.code() == "conflict")
                .or_else(|| {
                    all.iter()
                        .find(|r| r.severity() == crate::scheduling::Severity::Hard)
                })
                .or_else(|| all.first())
                .copied();
            let (code, message) = match main {
                Some(r) => (r.code(), crate::i18n::reasons::record(r, zone)),
                None => ("rejected", "the request was refused".to_owned()),
            };
            return Err(BookingError::Refused {
                code,
                message,
                decision: Box::new(decision.clone()),
                zone,
            });
        }
    };
    let mut occurrences = Vec::new();
    for o in &decision.occurrences {
        let (Some(span), Some(blocked)) = (o.span, o.blocked) else {
            continue;
        };
        if blocked.end() - blocked.start() > crate::store::MAX_BLOCK {
            return Err(BookingError::Invalid {
                code: "too-long",
                field: "end",
                message: format!(
                    "one booking may block a room for at most {} days, buffers included; book a series instead",
                    crate::store::MAX_BLOCK.num_days()
                ),
            });
        }
        let status = match o.outcome {
            Outcome::Approved => Some(BookingStatus::Approved),
            Outcome::Pending => Some(BookingStatus::Pending),
            Outcome::Rejected | Outcome::Skipped => None,
        };
        occurrences.push(NewOccurrence {
            span,
            blocked,
            status,
        });
    }
    let first_start = occurrences
        .iter()
        .filter(|o| o.status.is_some())
        .map(|o| o.span.start())
        .min();
    let hold_until = (status == BookingStatus::Pending).then(|| {
        let hold = now.checked_add_signed(policy.hold.delta()).unwrap_or(now);
        first_start.map_or(hold, |s| hold.min(s))
    });
    Ok(NewBooking {
        id,
        room_id: request.room_id.clone(),
        requester_id: requester_id.to_owned(),
        requester_name: requester_name.to_owned(),
        purpose: request.purpose.trim().to_owned(),
        attendees: request.attendees,
        local_start: request_local(&decision.occurrences, true),
        local_end: request_local(&decision.occurrences, false),
        time_zone: zone.name().to_owned(),
        recurrence: request.recurrence.clone(),
        on_conflict: match request.on_conflict {
            OnConflict::Reject => "reject".into(),
            OnConflict::Skip => "skip".into(),
        },
        status,
        hold_until,
        reasons: serde_json::to_string(&reasons).unwrap_or_else(|_| "[]".into()),
        occurrences,
    })
}

fn request_local(
    occurrences: &[crate::scheduling::decision::OccurrenceDecision],
    start: bool,
) -> String {
    occurrences
        .first()
        .map(|o| {
            let t = if start { o.local_start } else { o.local_end };
            t.format("%Y-%m-%dT%H:%M").to_string()
        })
        .unwrap_or_default()
}

fn span_text(i: &Interval, zone: Zone) -> String {
    format!(
        "{}–{}",
        zone.local(i.start()).format("%Y-%m-%d %H:%M"),
        zone.local(i.end()).format("%Y-%m-%d %H:%M")
    )
}

/// How many dates a booking has in each status, in the order of a booking's life, skipped
/// last; statuses no date has are left out.
pub fn dates_count(
    dates: impl Iterator<Item = OccurrenceStatus>,
) -> Vec<(OccurrenceStatus, usize)> {
    let order = [
        OccurrenceStatus::Booked(BookingStatus::Approved),
        OccurrenceStatus::Booked(BookingStatus::Pending),
        OccurrenceStatus::Booked(BookingStatus::Rejected),
        OccurrenceStatus::Booked(BookingStatus::Cancelled),
        OccurrenceStatus::Booked(BookingStatus::Expired),
        OccurrenceStatus::Skipped,
    ];
    let mut counts = [0usize; 6];
    for d in dates {
        if let Some(i) = order.iter().position(|o| *o == d) {
            counts[i] += 1;
        }
    }
    order
        .into_iter()
        .zip(counts)
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// The summary of a booking's dates in English, for the API: `8 approved, 1 rejected`.
fn summary_record(counts: &[(OccurrenceStatus, usize)]) -> String {
    counts
        .iter()
        .map(|(s, n)| format!("{n} {s}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The time a decision on `booking`'s dates must see: its dates, widened by today's buffers
/// and a margin.
fn dates_window(booking: &BookingRecord, policy: &Policy) -> Option<Interval> {
    let margin = SINGLE_LOAD_MARGIN + policy.setup.delta() + policy.teardown.delta();
    let first = booking
        .occurrences
        .iter()
        .map(|o| o.start.min(o.block_start))
        .min()?;
    let last = booking
        .occurrences
        .iter()
        .map(|o| o.end.max(o.block_end))
        .max()?;
    Interval::new(
        first.checked_sub_signed(margin).unwrap_or(first),
        last.checked_add_signed(margin).unwrap_or(last),
    )
    .ok()
}

/// The dates (`seq`) a decision names, each of them checked to be in one of `from`; every
/// date in one of `from` when `asked` is `None`.
fn chosen_dates(
    booking: &BookingRecord,
    asked: Option<&[i64]>,
    from: &[BookingStatus],
    action: &'static str,
) -> Result<Vec<i64>, BookingError> {
    let open = |s: OccurrenceStatus| s.booked().is_some_and(|b| from.contains(&b));
    match asked {
        None => {
            let all: Vec<i64> = booking
                .occurrences
                .iter()
                .filter(|o| open(o.status))
                .map(|o| o.seq)
                .collect();
            if all.is_empty() {
                return Err(BookingError::WrongStatus {
                    status: booking.status,
                    action,
                });
            }
            Ok(all)
        }
        Some(list) => {
            if list.is_empty() {
                return Err(BookingError::Invalid {
                    code: "no-dates",
                    field: "dates",
                    message: "name at least one date (seq) of the booking".into(),
                });
            }
            if list.len() > limits::MAX_DATES_LISTED {
                return Err(BookingError::Invalid {
                    code: "too-many-dates",
                    field: "dates",
                    message: format!("name at most {} dates at once", limits::MAX_DATES_LISTED),
                });
            }
            let by_seq: std::collections::HashMap<i64, &crate::store::OccurrenceRecord> =
                booking.occurrences.iter().map(|o| (o.seq, o)).collect();
            let mut seen = std::collections::HashSet::new();
            let mut out: Vec<i64> = Vec::new();
            for &seq in list {
                let date = by_seq.get(&seq).ok_or_else(|| BookingError::NotFound {
                    what: "date",
                    id: format!("{}/{seq}", booking.id),
                })?;
                if !open(date.status) {
                    return Err(BookingError::DateWrongStatus {
                        seq,
                        status: date.status,
                        action,
                    });
                }
                if seen.insert(seq) {
                    out.push(seq);
                }
            }
            Ok(out)
        }
    }
}

/// The date `seq` of a booking, if it can move now: it holds its slot, and no change of it
/// waits for a clerk.
fn movable(
    booking: &BookingRecord,
    seq: i64,
    now: DateTime<Utc>,
) -> Result<&crate::store::OccurrenceRecord, BookingError> {
    let date = booking
        .occurrences
        .iter()
        .find(|o| o.seq == seq)
        .ok_or_else(|| BookingError::NotFound {
            what: "date",
            id: format!("{}/{seq}", booking.id),
        })?;
    if !date.status.is_blocking() {
        return Err(BookingError::DateWrongStatus {
            seq,
            status: date.status,
            action: "moved",
        });
    }
    if date.start <= now {
        return Err(BookingError::Invalid {
            code: "date-passed",
            field: "seq",
            message: format!("date {seq} has already begun; only dates to come can move"),
        });
    }
    if date.replaces.is_some() && date.status == BookingStatus::Pending {
        return Err(BookingError::Invalid {
            code: "change-waiting",
            field: "seq",
            message: format!(
                "date {seq} is a change waiting for a clerk; cancel it, then move the date it would replace"
            ),
        });
    }
    if booking
        .occurrences
        .iter()
        .any(|o| o.replaces == Some(seq) && o.status.is_blocking())
    {
        return Err(BookingError::Invalid {
            code: "change-waiting",
            field: "seq",
            message: format!(
                "a change of date {seq} already waits for a clerk; cancel that one first"
            ),
        });
    }
    Ok(date)
}

/// A refusal of the core as the caller's answer: a conflict first (409), then the first hard
/// reason, naming `what` was refused.
fn refused_decision(decision: &Decision, zone: Zone, what: &str) -> BookingError {
    let all: Vec<&Reason> = decision.all_reasons().collect();
    let main = all
        .iter()
        .find(|r| r.code() == "conflict")
        .or_else(|| {
            all.iter()
                .find(|r| r.severity() == crate::scheduling::Severity::Hard)
        })
        .or_else(|| all.first())
        .copied();
    let (code, message) = match main {
        Some(r) => (
            r.code(),
            format!(
                "{what} cannot be booked: {}",
                crate::i18n::reasons::record(r, zone)
            ),
        ),
        None => ("rejected", format!("{what} cannot be booked")),
    };
    BookingError::Refused {
        code,
        message,
        decision: Box::new(decision.clone()),
        zone,
    }
}

/// The core's room for a stored room.
fn core_room_of(room: &StoredRoom, zone: Zone) -> Room {
    let core_room = Room::new(room.room.id.clone(), zone);
    match room.room.capacity {
        Some(c) => core_room.with_capacity(c),
        None => core_room,
    }
}

/// An approval of which no date could be approved: the core's refusal, date by date.
fn refusal(refused: &[(&crate::store::OccurrenceRecord, Vec<Reason>)], zone: Zone) -> BookingError {
    let occurrences: Vec<crate::scheduling::OccurrenceDecision> = refused
        .iter()
        .map(|(o, reasons)| crate::scheduling::OccurrenceDecision {
            local_start: zone.local(o.start),
            local_end: zone.local(o.end),
            span: Interval::new(o.start, o.end).ok(),
            blocked: Interval::new(o.block_start, o.block_end).ok(),
            outcome: Outcome::Rejected,
            reasons: reasons.clone(),
        })
        .collect();
    let decision = Decision {
        outcome: Outcome::Rejected,
        zone,
        reasons: Vec::new(),
        occurrences,
        truncated: None,
    };
    let all: Vec<&Reason> = decision.all_reasons().collect();
    let main = all
        .iter()
        .find(|r| r.code() == "conflict")
        .or_else(|| {
            all.iter()
                .find(|r| r.severity() == crate::scheduling::Severity::Hard)
        })
        .or_else(|| all.first())
        .copied();
    let (code, message) = match main {
        Some(r) => (
            r.code(),
            format!(
                "no date can be approved: {}",
                crate::i18n::reasons::record(r, zone)
            ),
        ),
        None => ("rejected", "no date can be approved".to_owned()),
    };
    BookingError::Refused {
        code,
        message,
        decision: Box::new(decision),
        zone,
    }
}
