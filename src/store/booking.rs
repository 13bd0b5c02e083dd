//! Bookings, residents, closures, the audit log and the outbox.
//!
//! Invariants kept here, on both backends:
//! - a booking is created in one transaction that first expires the room's stale holds, then
//!   reads the blocking occurrences of every room sharing a physical part with it (a
//!   divisible hall and its halves, migration 0013), lets the caller decide, and inserts.
//!   SQLite serializes writers (`BEGIN IMMEDIATE`); PostgreSQL takes an advisory lock per
//!   physical part (in one global order), and its `occurrence_parts_no_overlap` exclusion
//!   constraint stops any overlap that slips past, whichever room of the hall it was booked
//!   on (the `occurrence_parts` rows are written by trigger, from every entry point);
//! - every status change writes an audit row and an outbox row in the same transaction;
//! - nothing is deleted: rejected, cancelled and expired bookings stay with their reason.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use super::{Pool, Store, StoreError};
use crate::scheduling::{BookingStatus, ExistingBooking, Interval, OccurrenceStatus};

/// A booking as stored: one request, with its occurrences.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BookingRecord {
    pub id: String,
    pub room_id: String,
    pub requester_id: String,
    pub requester_name: String,
    pub purpose: String,
    pub attendees: u32,
    pub local_start: String,
    pub local_end: String,
    pub time_zone: String,
    pub recurrence: Option<String>,
    pub on_conflict: String,
    pub status: BookingStatus,
    pub status_reason: Option<String>,
    pub hold_until: Option<DateTime<Utc>>,
    /// The core's reasons at creation, as JSON.
    pub reasons: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub occurrences: Vec<OccurrenceRecord>,
}

/// One occurrence of a booking.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OccurrenceRecord {
    pub seq: i64,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub block_start: DateTime<Utc>,
    pub block_end: DateTime<Utc>,
    /// A booking status, or `skipped` for a date left out of a series.
    pub status: OccurrenceStatus,
    /// Why the date is what it is, in words, when it was decided on its own (a clerk's reason,
    /// or the core's when it refused the date on approval).
    pub status_reason: Option<String>,
    /// The core's reasons for the date as JSON (`[{"code", "message"}]`), when it refused or
    /// flagged the date on approval.
    pub reasons: Option<String>,
    /// The date (`seq`) this one would replace: a move waiting for a clerk (migration 0015).
    pub replaces: Option<i64>,
    /// When the date was asked for at its time, if it moved since the booking was made.
    pub asked_at: Option<DateTime<Utc>>,
}

/// A booking about to be inserted (ids, times and statuses decided by the caller).
#[derive(Clone, Debug)]
pub struct NewBooking {
    pub id: String,
    pub room_id: String,
    pub requester_id: String,
    pub requester_name: String,
    pub purpose: String,
    pub attendees: u32,
    pub local_start: String,
    pub local_end: String,
    pub time_zone: String,
    pub recurrence: Option<String>,
    pub on_conflict: String,
    pub status: BookingStatus,
    pub hold_until: Option<DateTime<Utc>>,
    pub reasons: String,
    pub occurrences: Vec<NewOccurrence>,
}

#[derive(Clone, Debug)]
pub struct NewOccurrence {
    pub span: Interval,
    pub blocked: Interval,
    /// `None` for a skipped date.
    pub status: Option<BookingStatus>,
}

/// A change of one date of a booking, decided by the caller of [`Store::decide_dates`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DateChange {
    pub seq: i64,
    pub to: BookingStatus,
    /// Why, in words: for the requester and the audit trail.
    pub reason: Option<String>,
    /// The core's reasons as JSON, when it refused or flagged the date.
    pub reasons: Option<String>,
}

/// What a decision on a booking's dates comes to: the dates' changes, and the reason written
/// on the booking when its own status changes with them.
#[derive(Clone, Debug, Default)]
pub struct DatesDecided {
    pub changes: Vec<DateChange>,
    pub reason: Option<String>,
}

/// What a decision on a booking's dates sees, read inside its transaction.
#[derive(Clone, Debug)]
pub struct DatesSnapshot {
    pub booking: BookingRecord,
    /// The room's blocking occurrences over the load window, the booking's own left out.
    pub existing: Vec<ExistingBooking>,
    /// The room's and its building's closures over the load window.
    pub closures: Vec<ClosureRecord>,
}

/// What a decision on dates needs loaded besides the booking: the room's blocking bookings
/// and closures over `window`.
#[derive(Clone, Copy, Debug)]
pub struct DatesLoad<'a> {
    pub building: Option<&'a str>,
    pub window: Interval,
}

/// Where a date of a booking is to move (issue 16), as the core decided it.
#[derive(Clone, Debug)]
pub enum DateMove {
    /// The date itself moves: granted at once, or it was only waiting for a clerk anyway.
    InPlace {
        seq: i64,
        span: Interval,
        blocked: Interval,
        status: BookingStatus,
    },
    /// The date stays where it is (approved) and a new date waits for a clerk at the new time;
    /// approving it cancels the old one (`occurrences.replaces`).
    Replace {
        replaces: i64,
        span: Interval,
        blocked: Interval,
    },
}

impl DateMove {
    /// The time the date blocks at its new place.
    pub fn blocked(&self) -> Option<Interval> {
        match self {
            DateMove::InPlace { blocked, .. } | DateMove::Replace { blocked, .. } => Some(*blocked),
        }
    }
}

/// What a change of a booking's date comes to, inside its transaction.
#[derive(Clone, Debug)]
pub struct DateMoved {
    pub change: DateMove,
    /// For the audit trail: from where to where, in words.
    pub reason: String,
    /// The booking's hold, when it now waits for a clerk.
    pub hold_until: Option<DateTime<Utc>>,
    /// The booking's own start and end (local wall time text), for a booking of one date.
    pub local: Option<(String, String)>,
}

/// What a change of a date sees, read inside its transaction.
#[derive(Clone, Debug)]
pub struct MoveSnapshot {
    pub booking: BookingRecord,
    /// The room's blocking occurrences and closures around the new time, and the requester's
    /// own over the quota window (as a creation sees them); the booking's own dates included.
    pub snapshot: Snapshot,
}

/// Who a creation is for, and how to recognise a retry.
#[derive(Clone, Debug)]
pub struct CreateKey<'a> {
    pub room_id: &'a str,
    pub requester_id: &'a str,
    pub idempotency_key: Option<&'a str>,
    /// A digest of the request body: a retry with the same key must send the same request.
    pub request_hash: &'a str,
    /// The time the caller's decision needs to see: blocking occurrences overlapping it are
    /// loaded.
    pub window: Interval,
    /// The room's building, whose closures apply too.
    pub building: Option<&'a str>,
    /// When the policy has a quota: the requester's own bookings in the room over this time
    /// are loaded as well.
    pub quota_window: Option<Interval>,
}

/// What the caller's decision sees.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub existing: Vec<ExistingBooking>,
    pub closures: Vec<ClosureRecord>,
    /// The physical parts a booking of the room blocks, as committed when the snapshot was
    /// read (inside the creation's transaction): the decision compares with these, so a
    /// directory sync changing the hall meanwhile cannot leave it comparing with old parts.
    /// Empty for a room without stored leaves (it blocks itself).
    pub leaves: Vec<String>,
}

/// The result of [`Store::create_booking`].
#[derive(Debug)]
pub enum Created<T> {
    Inserted(BookingRecord),
    /// The same idempotency key was used before with the same request: the first booking.
    Replayed(BookingRecord),
    /// The same key was used before for a different request.
    KeyReused,
    /// The caller's decision refused the request; nothing was written.
    Refused(T),
}

/// A clerk's closure of a room or of a whole building.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClosureRecord {
    pub id: String,
    pub room_id: Option<String>,
    pub building: Option<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub reason: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// One line of a booking's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub from: Option<String>,
    pub to: String,
    pub reason: Option<String>,
    /// The date (occurrence `seq`) the row is about; `None` for the whole booking.
    pub seq: Option<i64>,
}

/// A resident account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResidentRecord {
    pub id: String,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
}

/// Why a status change was refused.
#[derive(Debug, thiserror::Error)]
pub enum TransitionError {
    #[error("no such booking")]
    NotFound,
    #[error("the booking is {status}")]
    WrongStatus { status: BookingStatus },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for TransitionError {
    fn from(e: sqlx::Error) -> Self {
        TransitionError::Store(StoreError::from(e))
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct BookingRow {
    id: String,
    room_id: String,
    requester_id: String,
    requester_name: String,
    purpose: String,
    attendees: i64,
    local_start: String,
    local_end: String,
    time_zone: String,
    recurrence: Option<String>,
    on_conflict: String,
    status: BookingStatus,
    status_reason: Option<String>,
    hold_until: Option<DateTime<Utc>>,
    reasons: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

pub(super) const SELECT_BOOKINGS: &str = "SELECT id, room_id, requester_id, requester_name, purpose, attendees, \
     local_start, local_end, time_zone, recurrence, on_conflict, status, status_reason, hold_until, \
     reasons, created_at, updated_at FROM bookings";

pub(super) fn booking_from_row(r: BookingRow) -> BookingRecord {
    BookingRecord {
        id: r.id,
        room_id: r.room_id,
        requester_id: r.requester_id,
        requester_name: r.requester_name,
        purpose: r.purpose,
        attendees: u32::try_from(r.attendees).unwrap_or(u32::MAX),
        local_start: r.local_start,
        local_end: r.local_end,
        time_zone: r.time_zone,
        recurrence: r.recurrence,
        on_conflict: r.on_conflict,
        status: r.status,
        status_reason: r.status_reason,
        hold_until: r.hold_until,
        reasons: r.reasons,
        created_at: r.created_at,
        updated_at: r.updated_at,
        occurrences: Vec::new(),
    }
}

type OccurrenceRow = (
    String,
    i64,
    DateTime<Utc>,
    DateTime<Utc>,
    DateTime<Utc>,
    DateTime<Utc>,
    OccurrenceStatus,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<DateTime<Utc>>,
);

const SELECT_OCCURRENCES: &str = "SELECT booking_id, seq, start_at, end_at, block_start, block_end, status, \
     status_reason, reasons, replaces, asked_at FROM occurrences";

type ExistingRow = (
    String,
    String,
    DateTime<Utc>,
    DateTime<Utc>,
    DateTime<Utc>,
    DateTime<Utc>,
    String,
);

pub(super) type ClosureRow = (
    String,
    Option<String>,
    Option<String>,
    DateTime<Utc>,
    DateTime<Utc>,
    String,
    String,
    DateTime<Utc>,
);

/// A row of the creation snapshot: an occurrence (with its booking's hold and the physical
/// part it was found on) or a closure.
type SnapshotRow = (
    String,
    String,
    DateTime<Utc>,
    DateTime<Utc>,
    DateTime<Utc>,
    DateTime<Utc>,
    String,
    Option<DateTime<Utc>>,
    String,
    String,
);

pub(super) const SELECT_CLOSURES: &str =
    "SELECT id, room_id, building, start_at, end_at, reason, created_by, created_at FROM closures";

pub(super) fn closure_from_row(r: ClosureRow) -> ClosureRecord {
    ClosureRecord {
        id: r.0,
        room_id: r.1,
        building: r.2,
        start: r.3,
        end: r.4,
        reason: r.5,
        created_by: r.6,
        created_at: r.7,
    }
}

/// An existing booking of `room_id` from its row, as blocking that room's own part.
fn existing_from_row(room_id: &str, r: ExistingRow) -> Option<ExistingBooking> {
    existing_on(vec![room_id.to_owned()], r)
}

/// An existing booking from its row, blocking `parts` (the physical parts it was found on).
fn existing_on(parts: Vec<String>, r: ExistingRow) -> Option<ExistingBooking> {
    Some(ExistingBooking {
        id: r.0,
        parts,
        requester: r.1,
        span: Interval::new(r.2, r.3).ok()?,
        blocked: Interval::new(r.4, r.5).ok()?,
        status: BookingStatus::parse(&r.6)?,
    })
}

/// Begins a write transaction: `BEGIN IMMEDIATE` on SQLite takes the write lock at once.
/// The caller holds its writer turn (`write_turn`) for as long as the transaction runs.
macro_rules! begin_write {
    ($self:ident, $pool:ident) => {
        match &$self.pool {
            Pool::Sqlite(_) => $pool.begin_with("BEGIN IMMEDIATE").await?,
            Pool::Postgres(_) => $pool.begin().await?,
        }
    };
}

/// The longest time one occurrence may block, buffers included. Bounding it lets the conflict
/// query use the (room, block_start) index instead of reading every booking of the room.
pub const MAX_BLOCK: TimeDelta = TimeDelta::days(15);

/// Appends an audit row (and, by trigger, an outbox row) for one status change.
macro_rules! record_change {
    ($tx:ident, $booking:expr, $now:expr, $actor:expr, $from:expr, $to:expr, $reason:expr) => {{
        bind_audit!(
            sqlx::query(&audit_insert_sql(0)),
            $booking,
            $now,
            $actor,
            $from,
            $to,
            $reason
        )
        .execute(&mut *$tx)
        .await?;
        // The outbox row is written by the `audit_to_outbox` trigger (migration 0003), in
        // the same transaction.
    }};
}

/// Appends an audit row about the whole booking that only follows its dates: no outbox row
/// (migration 0015); the notice is the dates' own ([`date_notice`]).
macro_rules! record_quiet_change {
    ($tx:ident, $booking:expr, $now:expr, $actor:expr, $from:expr, $to:expr) => {{
        sqlx::query(
            "INSERT INTO audit (booking_id, at, actor, from_status, to_status, reason, quiet) \
             VALUES ($1, $2, $3, $4, $5, NULL, $6)",
        )
        .bind($booking)
        .bind($now)
        .bind($actor)
        .bind($from)
        .bind($to)
        .bind(true)
        .execute(&mut *$tx)
        .await?;
    }};
}

/// Appends an audit row about one date (`seq`) of a booking; its notice is written apart
/// ([`date_notice`], migration 0015).
macro_rules! record_date_change {
    ($tx:ident, $booking:expr, $seq:expr, $now:expr, $actor:expr, $from:expr, $to:expr, $reason:expr) => {{
        sqlx::query(
            "INSERT INTO audit (booking_id, at, actor, from_status, to_status, reason, seq) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind($booking)
        .bind($now)
        .bind($actor)
        .bind($from)
        .bind($to)
        .bind($reason)
        .bind($seq)
        .execute(&mut *$tx)
        .await?;
    }};
}

/// Writes the outbox row of a decision about some dates of a booking (migration 0015): one
/// row for the dates that moved to `$to`, their `seqs` listed, for the notifier to tell the
/// requester and the webhooks once. Written only when no row about the whole booking tells
/// it (see [`Store::decide_dates`]).
macro_rules! date_notice {
    ($tx:ident, $booking:expr, $now:expr, $actor:expr, $to:expr, $reason:expr, $seqs:expr) => {{
        let to: &str = $to;
        let seqs: &[i64] = $seqs;
        let payload = serde_json::json!({
            "booking_id": $booking,
            "from": serde_json::Value::Null,
            "to": to,
            "actor": $actor,
            "reason": $reason,
            "seqs": seqs,
        });
        sqlx::query(
            "INSERT INTO outbox (created_at, kind, booking_id, payload) VALUES ($1, $2, $3, $4)",
        )
        .bind($now)
        .bind(format!("booking.dates_{to}"))
        .bind($booking)
        .bind(payload.to_string())
        .execute(&mut *$tx)
        .await?;
    }};
}

/// Expires the pending bookings whose hold has run out (of one room, or all), inside `$tx`.
/// The dates still waiting for a clerk expire; dates already approved stay (a clerk may have
/// approved some dates of a series and left others), and the booking's status follows its
/// dates (`scheduling::derived_status`): `expired`, or `approved` when approved dates remain,
/// each expired date then with an audit row of its own.
macro_rules! expire_in_tx {
    ($tx:ident, $room:expr, $now:expr, $pg:expr, $also:expr) => {{
        let room: Option<&str> = $room;
        let also: Option<&str> = $also;
        let ids: Vec<(String,)> = match room {
            Some(room) => {
                // Every room sharing a physical part with it: a stale hold on a hall's half
                // is in the way of the hall as much as one on the hall itself.
                sqlx::query_as(
                    "SELECT id FROM bookings WHERE status = 'pending' AND hold_until <= $1 \
                     AND (room_id = $2 OR room_id IN (SELECT o.room_id FROM room_leaves m \
                     JOIN room_leaves o ON o.leaf_id = m.leaf_id WHERE m.room_id = $2)) \
                     ORDER BY id",
                )
                .bind($now)
                .bind(room)
                .fetch_all(&mut *$tx)
                .await?
            }
            None => {
                sqlx::query_as(
                    "SELECT id FROM bookings WHERE status = 'pending' AND hold_until <= $1 ORDER BY id",
                )
                .bind($now)
                .fetch_all(&mut *$tx)
                .await?
            }
        };
        if $pg && (!ids.is_empty() || also.is_some()) {
            // Each audit row's trigger locks the rows of its booking's family of rooms
            // (migration 0013); a transaction writing several would lock family after family
            // in its own order, and deadlock with another doing so in another order. So all
            // of them (and of `also`, the booking the transaction changes next) are locked
            // here first, in one statement, in id order: the triggers then hold them already.
            let mut bookings: Vec<&str> = ids.iter().map(|(id,)| id.as_str()).collect();
            bookings.extend(also);
            let rooms: Vec<&str> = room.into_iter().collect();
            sqlx::query(LOCK_FAMILIES)
                .bind(serde_json::to_string(&bookings).unwrap_or_else(|_| "[]".into()))
                .bind(serde_json::to_string(&rooms).unwrap_or_else(|_| "[]".into()))
                .execute(&mut *$tx)
                .await?;
        }
        let mut expired = 0;
        const EXPIRED_REASON: &str = "no clerk decided before the hold ran out";
        for (id,) in &ids {
            let dates: Vec<(i64, OccurrenceStatus)> =
                sqlx::query_as("SELECT seq, status FROM occurrences WHERE booking_id = $1 ORDER BY seq")
                    .bind(id)
                    .fetch_all(&mut *$tx)
                    .await?;
            let waiting: Vec<i64> = dates
                .iter()
                .filter(|d| d.1 == BookingStatus::Pending)
                .map(|d| d.0)
                .collect();
            let to = crate::scheduling::derived_status(dates.iter().map(|d| {
                if d.1 == BookingStatus::Pending {
                    OccurrenceStatus::Booked(BookingStatus::Expired)
                } else {
                    d.1
                }
            }))
            .unwrap_or(BookingStatus::Expired);
            // Only expired or approved dates remain, so the booking is one or the other.
            let to = if to == BookingStatus::Approved {
                to
            } else {
                BookingStatus::Expired
            };
            let to_name = to.as_str();
            let moved = sqlx::query(
                "UPDATE bookings SET status = $1, status_reason = $2, updated_at = $3 \
                 WHERE id = $4 AND status = 'pending'",
            )
            .bind(to_name)
            .bind((to == BookingStatus::Expired).then_some(EXPIRED_REASON))
            .bind($now)
            .bind(id)
            .execute(&mut *$tx)
            .await?
            .rows_affected();
            if moved != 1 {
                continue; // changed meanwhile by someone else
            }
            expired += 1;
            sqlx::query(
                "UPDATE occurrences SET status = 'expired', status_reason = $2 WHERE booking_id = $1 AND status = 'pending'",
            )
            .bind(id)
            .bind(EXPIRED_REASON)
            .execute(&mut *$tx)
            .await?;
            if to != BookingStatus::Expired {
                // Approved dates remain: the row about the booking does not cover the dates
                // that expired, so each gets its own, and the notice is about those dates
                // (the booking only follows them: its row is quiet, and says no reason).
                for seq in &waiting {
                    record_date_change!(
                        $tx,
                        id,
                        *seq,
                        $now,
                        "lokal",
                        Some("pending"),
                        "expired",
                        Some(EXPIRED_REASON)
                    );
                }
                record_quiet_change!($tx, id, $now, "lokal", Some("pending"), to_name);
                date_notice!($tx, id, $now, "lokal", "expired", Some(EXPIRED_REASON), &waiting);
            } else {
                record_change!(
                    $tx,
                    id,
                    $now,
                    "lokal",
                    Some("pending"),
                    to_name,
                    Some(EXPIRED_REASON)
                );
            }
        }
        expired
    }};
}

/// What one creation came to, inside its transaction.
enum Step<T> {
    Inserted(Box<NewBooking>),
    /// A retry of the request that made this booking.
    Replay(String),
    KeyReused,
    Refused(T),
}

/// The statements of one creation on `$conn`: an expression giving a [`Step`], leaving with
/// `?` on a store error. With `$sqlite`, the creation runs inside the group commit's savepoint
/// (opened with the snapshot query and released with the inserts, in the same round trips).
macro_rules! create_steps {
    ($conn:ident, $sqlite:expr, $key:expr, $now:expr, $actor:expr, $decide:expr) => {
        'steps: {
            let key: &CreateKey<'_> = $key;
            let now: DateTime<Utc> = $now;
            let (from, to) = (key.window.start(), key.window.end());
            // Every occurrence blocks at most MAX_BLOCK, so one overlapping `from` starts
            // after this.
            let earliest = from.checked_sub_signed(MAX_BLOCK).unwrap_or(from);
            let qwin = key.quota_window.unwrap_or(key.window);
            let qfrom = qwin
                .start()
                .checked_sub_signed(MAX_BLOCK)
                .unwrap_or(qwin.start());
            // One round trip for everything the decision needs: an earlier request with the
            // same idempotency key (looked for under the lock, so a retry sent while the
            // first was still running replays it), the room's blocking occurrences near the
            // request (with the requester's own over the quota window) and the closures, told
            // apart by `kind`. Each round trip to SQLite's connection thread costs, so
            // creation keeps them few (see docs/performance.md).
            let sql = format!(
                "{}{SNAPSHOT_SQL}",
                if $sqlite {
                    concat!("SAVEPOINT ", "lokal_create", "; ")
                } else {
                    ""
                }
            );
            let rows: Vec<SnapshotRow> = sqlx::query_as(&sql)
                .bind(key.room_id)
                .bind(earliest)
                .bind(from)
                .bind(to)
                .bind(key.requester_id)
                .bind(qfrom)
                .bind(qwin.start())
                .bind(qwin.end())
                .bind(key.quota_window.is_some())
                .bind(key.building.unwrap_or_default())
                .bind(key.idempotency_key)
                .fetch_all(&mut *$conn)
                .await?;
            if let Some(r) = rows.iter().find(|r| r.6 == "idem") {
                break 'steps if r.1 == key.request_hash {
                    Step::Replay(r.0.clone())
                } else {
                    Step::KeyReused
                };
            }
            let (snapshot, stale) = snapshot_of(rows, now);
            if stale {
                expire_in_tx!($conn, Some(key.room_id), now, !$sqlite, None);
            }
            let new = match ($decide)(&snapshot) {
                Ok(new) => new,
                Err(refusal) => break 'steps Step::Refused(refusal),
            };
            // The snapshot query looks back only MAX_BLOCK: the store itself refuses longer
            // blocks, so no stored occurrence can escape it.
            if new
                .occurrences
                .iter()
                .any(|o| o.blocked.end() - o.blocked.start() > MAX_BLOCK)
            {
                Err(StoreError::TooLong)?;
            }
            let status = BookingStatus::as_str(new.status);
            let n = new.occurrences.len();
            if $sqlite && n <= OCCURRENCE_CHUNK {
                // The booking, its dates and its audit row in one round trip, closing the
                // savepoint. The numbered parameters run on across the statements.
                let sql = format!(
                    "{}; {}; {}; RELEASE lokal_create",
                    booking_insert_sql(),
                    occurrence_insert_sql(BOOKING_PARAMS, n),
                    audit_insert_sql(BOOKING_PARAMS + OCCURRENCE_PARAMS * n),
                );
                let q = bind_booking!(sqlx::query(&sql), new, key, status, now);
                let q = bind_occurrences!(q, new, 0, &new.occurrences);
                bind_audit!(q, &new.id, now, $actor, None::<&str>, status, None::<&str>)
                    .execute(&mut *$conn)
                    .await
                    .map_err(map_insert_error)?;
            } else {
                bind_booking!(sqlx::query(&booking_insert_sql()), new, key, status, now)
                    .execute(&mut *$conn)
                    .await
                    .map_err(map_insert_error)?;
                // Many rows per statement (a series in a few round trips, not one per date);
                // chunks stay far below SQLite's limit on bound parameters.
                for (chunk_no, chunk) in new.occurrences.chunks(OCCURRENCE_CHUNK).enumerate() {
                    let sql = occurrence_insert_sql(0, chunk.len());
                    bind_occurrences!(sqlx::query(&sql), new, chunk_no * OCCURRENCE_CHUNK, chunk)
                        .execute(&mut *$conn)
                        .await
                        .map_err(map_insert_error)?;
                }
                let mut sql = audit_insert_sql(0);
                if $sqlite {
                    sql.push_str("; RELEASE lokal_create");
                }
                bind_audit!(
                    sqlx::query(&sql),
                    &new.id,
                    now,
                    $actor,
                    None::<&str>,
                    status,
                    None::<&str>
                )
                .execute(&mut *$conn)
                .await?;
            }
            Step::Inserted(Box::new(new))
        }
    };
}

/// What a decision sees, from the snapshot query's rows, and whether a pending request whose
/// hold ran out was among them (none of its dates blocks any more).
fn snapshot_of(rows: Vec<SnapshotRow>, now: DateTime<Utc>) -> (Snapshot, bool) {
    let mut snapshot = Snapshot::default();
    let mut stale = false;
    // An occurrence is found once per physical part it shares with the room asked for (and
    // again by the quota half): one existing booking, with every part it was found on.
    let mut seen: std::collections::HashMap<(String, DateTime<Utc>), usize> =
        std::collections::HashMap::new();
    for r in rows {
        if r.6 == "leaf" {
            snapshot.leaves.push(r.0);
        } else if r.6 == "closure" {
            snapshot.closures.push(ClosureRecord {
                id: r.0,
                room_id: None,
                building: None,
                start: r.2,
                end: r.3,
                reason: r.1,
                created_by: String::new(),
                created_at: r.2,
            });
        } else if r.8 == "pending" && r.7.is_some_and(|h| h <= now) {
            // A request whose hold ran out: expired by the caller, and none of its dates
            // blocks any more (a series may mix approved and pending dates).
            stale = true;
        } else if r.6 != "idem" {
            if let Some(&at) = seen.get(&(r.0.clone(), r.2)) {
                let parts = &mut snapshot.existing[at].parts;
                if !parts.contains(&r.9) {
                    parts.push(r.9);
                }
            } else if let Some(b) =
                existing_on(vec![r.9], (r.0.clone(), r.1, r.2, r.3, r.4, r.5, r.6))
            {
                seen.insert((r.0, r.2), snapshot.existing.len());
                snapshot.existing.push(b);
            }
        }
    }
    snapshot.leaves.sort();
    (snapshot, stale)
}

/// PostgreSQL: takes the transaction's advisory locks of room `$1` (by its id) and of each of
/// its physical parts, in one global order (by key) so that two halls never deadlock. Every
/// writer that decides against a room's bookings takes these first: a hall and its half then
/// share a lock, and each sees the other's booking.
pub(super) const LOCK_PARTS_OF_1: &str = "SELECT COUNT(*) FROM (SELECT pg_advisory_xact_lock(k) FROM \
     (SELECT hashtext(leaf_id) AS k FROM room_leaves WHERE room_id = $1 \
     UNION SELECT hashtext($1) ORDER BY k OFFSET 0) s) t";

/// PostgreSQL: locks, in id order, the rows of every room related (sharing a physical part)
/// to the rooms of the bookings in the JSON array `$1` or to the rooms in the JSON array `$2`:
/// every row the change-number trigger (migration 0013) will lock for their audit rows.
const LOCK_FAMILIES: &str = "WITH own AS (SELECT b.room_id AS r FROM bookings b \
     WHERE b.id IN (SELECT value FROM json_array_elements_text($1::json)) \
     UNION SELECT value FROM json_array_elements_text($2::json)) \
     SELECT id FROM rooms WHERE id IN (SELECT r FROM own UNION SELECT o.room_id FROM room_leaves m \
     JOIN room_leaves o ON o.leaf_id = m.leaf_id WHERE m.room_id IN (SELECT r FROM own)) \
     ORDER BY id FOR NO KEY UPDATE";

/// The physical parts a booking of room `$1` blocks (migration 0013).
pub(super) const LEAVES_OF_1: &str = "SELECT leaf_id FROM room_leaves WHERE room_id = $1";

/// The rooms sharing a physical part with room `$1`, itself included: a divisible hall, its
/// parts, and any other hall made of one of them.
pub(super) const RELATED_TO_1: &str = "SELECT o.room_id FROM room_leaves m JOIN room_leaves o \
     ON o.leaf_id = m.leaf_id WHERE m.room_id = $1";

/// The creation snapshot: `kind` (column 7) is `idem` for an earlier request with the same
/// idempotency key, `closure` for a closure, and the occurrence's status otherwise. Occurrences
/// are found by the physical parts they block (`occurrence_parts`), so a booking of a hall
/// sees those of its halves and each half those of the hall; column 10 is the part. Closures
/// of a room sharing a part apply too (a closed hall closes its halves).
const SNAPSHOT_SQL: &str = "SELECT o.booking_id, b.requester_id, o.start_at, o.end_at, o.block_start, o.block_end, o.status, b.hold_until, b.status, p.part_id \
     FROM occurrence_parts p JOIN occurrences o ON o.booking_id = p.booking_id AND o.seq = p.seq \
     JOIN bookings b ON b.id = p.booking_id \
     WHERE p.part_id IN (SELECT leaf_id FROM room_leaves WHERE room_id = $1) \
     AND p.block_start > $2 AND p.block_start < $4 AND p.block_end > $3 \
     AND p.status IN ('pending', 'approved') \
     UNION ALL \
     SELECT o.booking_id, b.requester_id, o.start_at, o.end_at, o.block_start, o.block_end, o.status, b.hold_until, b.status, p.part_id \
     FROM occurrence_parts p JOIN occurrences o ON o.booking_id = p.booking_id AND o.seq = p.seq \
     JOIN bookings b ON b.id = p.booking_id \
     WHERE $9 AND p.part_id IN (SELECT leaf_id FROM room_leaves WHERE room_id = $1) \
     AND p.block_start > $6 AND p.block_start < $8 AND o.end_at > $7 \
     AND p.status IN ('pending', 'approved') AND b.requester_id = $5 \
     UNION ALL \
     SELECT id, reason, start_at, end_at, start_at, end_at, 'closure', CAST(NULL AS TIMESTAMPTZ), 'closure', '' FROM closures \
     WHERE (room_id = $1 OR building = $10 OR room_id IN (SELECT o.room_id FROM room_leaves m \
     JOIN room_leaves o ON o.leaf_id = m.leaf_id WHERE m.room_id = $1)) AND start_at < $4 AND end_at > $3 \
     UNION ALL \
     SELECT id, request_hash, created_at, created_at, created_at, created_at, 'idem', CAST(NULL AS TIMESTAMPTZ), 'idem', '' FROM bookings \
     WHERE requester_id = $5 AND idempotency_key = $11 \
     UNION ALL \
     SELECT l.leaf_id, '', r.synced_at, r.synced_at, r.synced_at, r.synced_at, 'leaf', CAST(NULL AS TIMESTAMPTZ), 'leaf', l.leaf_id \
     FROM room_leaves l JOIN rooms r ON r.id = l.room_id WHERE l.room_id = $1";

/// Occurrence rows per insert statement.
const OCCURRENCE_CHUNK: usize = 500;
const BOOKING_PARAMS: usize = 17;
const OCCURRENCE_PARAMS: usize = 8;

fn booking_insert_sql() -> String {
    "INSERT INTO bookings (id, room_id, requester_id, requester_name, purpose, attendees, \
     local_start, local_end, time_zone, recurrence, on_conflict, status, status_reason, \
     hold_until, idempotency_key, request_hash, reasons, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL, $13, $14, $15, $16, $17, $17)"
        .to_owned()
}

/// An insert of `rows` occurrences whose parameters are numbered from `base + 1`.
fn occurrence_insert_sql(base: usize, rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|i| {
            let p = base + i * OCCURRENCE_PARAMS;
            let params: Vec<String> = (1..=OCCURRENCE_PARAMS)
                .map(|k| format!("${}", p + k))
                .collect();
            format!("({})", params.join(", "))
        })
        .collect();
    format!(
        "INSERT INTO occurrences (booking_id, seq, room_id, start_at, end_at, block_start, block_end, status) VALUES {}",
        values.join(", ")
    )
}

/// An audit insert whose six parameters are numbered from `base + 1`.
fn audit_insert_sql(base: usize) -> String {
    format!(
        "INSERT INTO audit (booking_id, at, actor, from_status, to_status, reason) \
         VALUES (${}, ${}, ${}, ${}, ${}, ${})",
        base + 1,
        base + 2,
        base + 3,
        base + 4,
        base + 5,
        base + 6
    )
}

/// Binds the [`BOOKING_PARAMS`] parameters of [`booking_insert_sql`].
macro_rules! bind_booking {
    ($q:expr, $new:expr, $key:expr, $status:expr, $now:expr) => {
        $q.bind(&$new.id)
            .bind(&$new.room_id)
            .bind(&$new.requester_id)
            .bind(&$new.requester_name)
            .bind(&$new.purpose)
            .bind(i64::from($new.attendees))
            .bind(&$new.local_start)
            .bind(&$new.local_end)
            .bind(&$new.time_zone)
            .bind(&$new.recurrence)
            .bind(&$new.on_conflict)
            .bind($status)
            .bind($new.hold_until)
            .bind($key.idempotency_key)
            .bind($key.request_hash)
            .bind(&$new.reasons)
            .bind($now)
    };
}

/// Binds [`OCCURRENCE_PARAMS`] parameters per occurrence of `$chunk`, numbered from `$first`.
macro_rules! bind_occurrences {
    ($q:expr, $new:expr, $first:expr, $chunk:expr) => {{
        let mut q = $q;
        for (i, o) in $chunk.iter().enumerate() {
            q = q
                .bind(&$new.id)
                .bind(i64::try_from($first + i).unwrap_or(i64::MAX))
                .bind(&$new.room_id)
                .bind(o.span.start())
                .bind(o.span.end())
                .bind(o.blocked.start())
                .bind(o.blocked.end())
                .bind(
                    o.status
                        .map_or(OccurrenceStatus::Skipped, OccurrenceStatus::Booked),
                );
        }
        q
    }};
}

/// Binds the six parameters of [`audit_insert_sql`].
macro_rules! bind_audit {
    ($q:expr, $booking:expr, $now:expr, $actor:expr, $from:expr, $to:expr, $reason:expr) => {
        $q.bind($booking)
            .bind($now)
            .bind($actor)
            .bind($from)
            .bind($to)
            .bind($reason)
    };
}

/// One creation's statements inside SQLite's group commit (see `group`).
async fn sqlite_steps<T>(
    conn: &mut sqlx::SqliteConnection,
    key: &CreateKey<'_>,
    now: DateTime<Utc>,
    actor: &str,
    decide: impl FnOnce(&Snapshot) -> Result<NewBooking, T>,
) -> Result<Step<T>, StoreError> {
    Ok(create_steps!(conn, true, key, now, actor, decide))
}

pub(super) fn map_insert_error(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        // 23P01: exclusion_violation (PostgreSQL's no-overlap constraint).
        if db.code().as_deref() == Some("23P01")
            || db.constraint() == Some("occurrences_no_overlap")
            || db.constraint() == Some("occurrence_parts_no_overlap")
        {
            return StoreError::Overlap;
        }
        if db.constraint() == Some("bookings_idempotency")
            || db
                .message()
                .contains("bookings.requester_id, bookings.idempotency_key")
        {
            return StoreError::DuplicateKey;
        }
        if db.constraint() == Some("residents_email_key")
            || db.message().contains("residents.email")
        {
            return StoreError::DuplicateKey;
        }
    }
    StoreError::from(e)
}

/// The record of a booking just inserted, as reading it back would give (timestamps in
/// whole microseconds, as both backends store them).
fn record_of(new: NewBooking, now: DateTime<Utc>) -> BookingRecord {
    use chrono::SubsecRound as _;
    let now = now.trunc_subsecs(6);
    BookingRecord {
        id: new.id,
        room_id: new.room_id,
        requester_id: new.requester_id,
        requester_name: new.requester_name,
        purpose: new.purpose,
        attendees: new.attendees,
        local_start: new.local_start,
        local_end: new.local_end,
        time_zone: new.time_zone,
        recurrence: new.recurrence,
        on_conflict: new.on_conflict,
        status: new.status,
        status_reason: None,
        hold_until: new.hold_until.map(|t| t.trunc_subsecs(6)),
        reasons: new.reasons,
        created_at: now,
        updated_at: now,
        occurrences: new
            .occurrences
            .iter()
            .enumerate()
            .map(|(seq, o)| OccurrenceRecord {
                seq: i64::try_from(seq).unwrap_or(i64::MAX),
                start: o.span.start(),
                end: o.span.end(),
                block_start: o.blocked.start(),
                block_end: o.blocked.end(),
                status: o
                    .status
                    .map_or(OccurrenceStatus::Skipped, OccurrenceStatus::Booked),
                status_reason: None,
                reasons: None,
                replaces: None,
                asked_at: None,
            })
            .collect(),
    }
}

impl Store {
    /// Creates a booking: in one transaction, expires the room's stale holds, replays an
    /// earlier request with the same idempotency key, loads what the decision needs, calls
    /// `decide`, and inserts what it returns with its audit and outbox rows.
    pub async fn create_booking<T>(
        &self,
        key: CreateKey<'_>,
        now: DateTime<Utc>,
        actor: &str,
        decide: impl FnOnce(&Snapshot) -> Result<NewBooking, T>,
    ) -> Result<Created<T>, StoreError> {
        let result = self.create_booking_once(&key, now, actor, decide).await;
        match result {
            // Two retries raced: the other one inserted first, so this one replays it.
            Err(StoreError::DuplicateKey) => match self.by_key(&key).await? {
                Some(b) if b.1 == key.request_hash => Ok(Created::Replayed(b.0)),
                Some(_) => Ok(Created::KeyReused),
                None => Err(StoreError::DuplicateKey),
            },
            other => other,
        }
    }

    /// What a creation with `key` would see now, read without a transaction and without
    /// writing anything (a stale hold is left for the next write to expire): for previews.
    pub async fn snapshot(
        &self,
        key: &CreateKey<'_>,
        now: DateTime<Utc>,
    ) -> Result<Snapshot, StoreError> {
        let (from, to) = (key.window.start(), key.window.end());
        let earliest = from.checked_sub_signed(MAX_BLOCK).unwrap_or(from);
        let qwin = key.quota_window.unwrap_or(key.window);
        let qfrom = qwin
            .start()
            .checked_sub_signed(MAX_BLOCK)
            .unwrap_or(qwin.start());
        let rows: Vec<SnapshotRow> = on_pool!(self, pool => sqlx::query_as(SNAPSHOT_SQL)
            .bind(key.room_id)
            .bind(earliest)
            .bind(from)
            .bind(to)
            .bind(key.requester_id)
            .bind(qfrom)
            .bind(qwin.start())
            .bind(qwin.end())
            .bind(key.quota_window.is_some())
            .bind(key.building.unwrap_or_default())
            .bind(None::<&str>)
            .fetch_all(pool)
            .await?);
        Ok(snapshot_of(rows, now).0)
    }

    async fn by_key(
        &self,
        key: &CreateKey<'_>,
    ) -> Result<Option<(BookingRecord, String)>, StoreError> {
        let Some(k) = key.idempotency_key else {
            return Ok(None);
        };
        let row: Option<(String, String)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT id, request_hash FROM bookings WHERE requester_id = $1 AND idempotency_key = $2",
        )
        .bind(key.requester_id)
        .bind(k)
        .fetch_optional(pool)
        .await?);
        match row {
            Some((id, hash)) => Ok(self.booking(&id).await?.map(|b| (b, hash))),
            None => Ok(None),
        }
    }

    async fn create_booking_once<T>(
        &self,
        key: &CreateKey<'_>,
        now: DateTime<Utc>,
        actor: &str,
        decide: impl FnOnce(&Snapshot) -> Result<NewBooking, T>,
    ) -> Result<Created<T>, StoreError> {
        let step = match &self.pool {
            Pool::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                // Serializes creations per physical part (and per room), so each decision sees
                // the one before it: a hall and its half take the half's lock both. The locks
                // are taken in one global order (by key), so two halls never deadlock.
                sqlx::query(LOCK_PARTS_OF_1)
                    .bind(key.room_id)
                    .execute(&mut *tx)
                    .await?;
                let conn: &mut sqlx::PgConnection = &mut tx;
                let step = create_steps!(conn, false, key, now, actor, decide);
                match step {
                    Step::Inserted(new) => {
                        tx.commit().await.map_err(map_insert_error)?;
                        Step::Inserted(new)
                    }
                    other => {
                        tx.rollback().await?;
                        other
                    }
                }
            }
            Pool::Sqlite(pool) => {
                let mut member = self.sqlite_writer.join(pool).await?;
                let step = match member.conn() {
                    Ok(conn) => sqlite_steps(conn, key, now, actor, decide).await,
                    Err(e) => Err(e),
                };
                match step {
                    Ok(Step::Inserted(new)) => {
                        member.commit().await?;
                        Step::Inserted(new)
                    }
                    Ok(Step::Replay(id)) => {
                        // The first booking may still be in the open batch: commit it, then read.
                        member.undo(true).await?;
                        Step::Replay(id)
                    }
                    Ok(other) => {
                        member.undo(false).await?;
                        other
                    }
                    Err(e) => {
                        member.undo(false).await?;
                        return Err(e);
                    }
                }
            }
        };
        match step {
            Step::Inserted(new) => Ok(Created::Inserted(record_of(*new, now))),
            Step::Replay(id) => match self.booking(&id).await? {
                Some(b) => Ok(Created::Replayed(b)),
                None => Err(StoreError::Unavailable(
                    "a replayed booking vanished".into(),
                )),
            },
            Step::KeyReused => Ok(Created::KeyReused),
            Step::Refused(refusal) => Ok(Created::Refused(refusal)),
        }
    }

    pub(super) async fn attach_occurrences(
        &self,
        mut bookings: Vec<BookingRecord>,
    ) -> Result<Vec<BookingRecord>, StoreError> {
        // One query per chunk of bookings, not one per booking.
        for chunk in bookings.chunks_mut(500) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "{SELECT_OCCURRENCES} WHERE booking_id IN ({}) ORDER BY booking_id, seq",
                placeholders.join(", ")
            );
            let rows: Vec<OccurrenceRow> = on_pool!(self, pool => {
                let mut q = sqlx::query_as(&sql);
                for b in chunk.iter() {
                    q = q.bind(b.id.clone());
                }
                q.fetch_all(pool).await?
            });
            let mut by_booking: std::collections::HashMap<String, Vec<OccurrenceRecord>> =
                std::collections::HashMap::new();
            for r in rows {
                by_booking.entry(r.0).or_default().push(OccurrenceRecord {
                    seq: r.1,
                    start: r.2,
                    end: r.3,
                    block_start: r.4,
                    block_end: r.5,
                    status: r.6,
                    status_reason: r.7,
                    reasons: r.8,
                    replaces: r.9,
                    asked_at: r.10,
                });
            }
            for b in chunk.iter_mut() {
                b.occurrences = by_booking.remove(&b.id).unwrap_or_default();
            }
        }
        Ok(bookings)
    }

    /// One booking, with its occurrences.
    pub async fn booking(&self, id: &str) -> Result<Option<BookingRecord>, StoreError> {
        let row: Option<BookingRow> = on_pool!(self, pool => sqlx::query_as(&format!("{SELECT_BOOKINGS} WHERE id = $1"))
            .bind(id)
            .fetch_optional(pool)
            .await?);
        let found = self
            .attach_occurrences(row.into_iter().map(booking_from_row).collect())
            .await?;
        Ok(found.into_iter().next())
    }

    /// A requester's bookings, newest first.
    pub async fn bookings_of(&self, requester_id: &str) -> Result<Vec<BookingRecord>, StoreError> {
        let rows: Vec<BookingRow> = on_pool!(self, pool => sqlx::query_as(&format!(
            "{SELECT_BOOKINGS} WHERE requester_id = $1 ORDER BY created_at DESC, id"
        ))
        .bind(requester_id)
        .fetch_all(pool)
        .await?);
        self.attach_occurrences(rows.into_iter().map(booking_from_row).collect())
            .await
    }

    /// Every pending booking, oldest first.
    pub async fn pending_bookings(&self) -> Result<Vec<BookingRecord>, StoreError> {
        let rows: Vec<BookingRow> = on_pool!(self, pool => sqlx::query_as(&format!(
            "{SELECT_BOOKINGS} WHERE status = 'pending' ORDER BY created_at, id"
        ))
        .fetch_all(pool)
        .await?);
        self.attach_occurrences(rows.into_iter().map(booking_from_row).collect())
            .await
    }

    /// Whether any booking exists at all.
    pub async fn has_bookings(&self) -> Result<bool, StoreError> {
        let row: Option<(String,)> = on_pool!(self, pool => sqlx::query_as("SELECT id FROM bookings LIMIT 1")
            .fetch_optional(pool)
            .await?);
        Ok(row.is_some())
    }

    /// Moves a booking (and its live occurrences) from one of `from` to `to`, with an audit
    /// row and an outbox row. Pending bookings whose hold ran out are expired first.
    pub async fn transition(
        &self,
        id: &str,
        from: &[BookingStatus],
        to: BookingStatus,
        actor: &str,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<BookingRecord, TransitionError> {
        let to_name = BookingStatus::as_str(to);
        on_pool!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = begin_write!(self, pool);
            let pg = matches!(self.pool, Pool::Postgres(_));
            expire_in_tx!(tx, None, now, pg, Some(id));
            let row: Option<(BookingStatus,)> = sqlx::query_as("SELECT status FROM bookings WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::from)?;
            let Some((current,)) = row else {
                return Err(TransitionError::NotFound);
            };
            if !from.contains(&current) {
                // Commit the expiries even though this change is refused.
                tx.commit().await.map_err(StoreError::from)?;
                return Err(TransitionError::WrongStatus { status: current });
            }
            // Guarded by the status just read: on PostgreSQL a concurrent change of the same
            // booking makes this update wait, re-check, and touch nothing.
            let moved = sqlx::query(
                "UPDATE bookings SET status = $1, status_reason = $2, updated_at = $3 WHERE id = $4 AND status = $5",
            )
            .bind(to_name)
            .bind(reason)
            .bind(now)
            .bind(id)
            .bind(current)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?
            .rows_affected();
            if moved != 1 {
                tx.rollback().await.map_err(StoreError::from)?;
                let status = self
                    .booking(id)
                    .await?
                    .map(|b| b.status)
                    .unwrap_or(current);
                return Err(TransitionError::WrongStatus { status });
            }
            // Approving moves the dates that wait for a clerk; cancelling, rejecting and
            // expiring free every date that still holds its slot (a series may mix dates
            // booked at once with dates a clerk must decide).
            let occurrences_from = if to == BookingStatus::Approved {
                "status = 'pending'"
            } else {
                "status IN ('pending', 'approved')"
            };
            sqlx::query(&format!(
                "UPDATE occurrences SET status = $1 WHERE booking_id = $2 AND {occurrences_from}"
            ))
            .bind(to_name)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(map_insert_error)?;
            record_change!(tx, id, now, actor, Some(current.as_str()), to_name, reason);
            tx.commit().await.map_err(StoreError::from)?;
        });
        self.booking(id).await?.ok_or(TransitionError::NotFound)
    }

    /// Decides dates of one booking in one write transaction (issue 16): takes the room's
    /// writer turn (SQLite `BEGIN IMMEDIATE`; PostgreSQL the room's advisory lock, the one
    /// creations take, so no creation in the room runs in between), expires the room's stale
    /// holds, reads the booking and, with `load`, the room's other blocking bookings and its
    /// closures; lets `decide` choose the dates' changes; writes them, an audit row per date
    /// (`seq`) and the booking's status derived from its dates
    /// (`scheduling::derived_status`) with an audit row about the booking when it changes.
    ///
    /// A date's row is left out when the booking's row covers it: the booking moved from
    /// `from` to `to` and so did the date, with the same reason. The requester and webhooks
    /// hear once per decision: from the booking's row when the booking moved as dates did,
    /// else from one outbox row per status listing its dates (migration 0015), the booking's
    /// row then quiet. `decide`'s refusal writes nothing but the expiries.
    #[allow(clippy::too_many_arguments)]
    pub async fn decide_dates<T>(
        &self,
        id: &str,
        room_id: &str,
        actor: &str,
        now: DateTime<Utc>,
        load: Option<DatesLoad<'_>>,
        decide: impl FnOnce(&DatesSnapshot) -> Result<DatesDecided, T>,
    ) -> Result<Result<BookingRecord, T>, TransitionError> {
        let for_update = match &self.pool {
            Pool::Sqlite(_) => "",
            Pool::Postgres(_) => " FOR UPDATE",
        };
        on_pool!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = begin_write!(self, pool);
            if matches!(self.pool, Pool::Postgres(_)) {
                // The locks creations in the room take (`create_booking_once`: the room's and
                // its physical parts'), taken first as they take them: nothing is booked in the
                // room, nor in a hall sharing a part with it, while these dates are decided.
                sqlx::query(LOCK_PARTS_OF_1)
                    .bind(room_id)
                    .execute(&mut *tx)
                    .await?;
            }
            let pg = matches!(self.pool, Pool::Postgres(_));
            expire_in_tx!(tx, Some(room_id), now, pg, Some(id));
            let row: Option<BookingRow> =
                sqlx::query_as(&format!("{SELECT_BOOKINGS} WHERE id = $1{for_update}"))
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some(row) = row.filter(|r| r.room_id == room_id) else {
                tx.commit().await?;
                return Err(TransitionError::NotFound);
            };
            let mut booking = booking_from_row(row);
            let dates: Vec<OccurrenceRow> = sqlx::query_as(&format!(
                "{SELECT_OCCURRENCES} WHERE booking_id = $1 ORDER BY seq"
            ))
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
            booking.occurrences = dates
                .into_iter()
                .map(|r| OccurrenceRecord {
                    seq: r.1,
                    start: r.2,
                    end: r.3,
                    block_start: r.4,
                    block_end: r.5,
                    status: r.6,
                    status_reason: r.7,
                    reasons: r.8,
                    replaces: r.9,
                    asked_at: r.10,
                })
                .collect();
            let mut snapshot = DatesSnapshot {
                booking,
                existing: Vec::new(),
                closures: Vec::new(),
            };
            if let Some(load) = load {
                let window = load.window;
                // Found by the physical parts they block (a divisible hall's bookings block its
                // halves and the other way round), each then counted as blocking this room.
                let rows: Vec<ExistingRow> = sqlx::query_as(
                    "SELECT DISTINCT o.booking_id, b.requester_id, o.start_at, o.end_at, o.block_start, o.block_end, o.status \
                     FROM occurrence_parts p JOIN occurrences o ON o.booking_id = p.booking_id AND o.seq = p.seq \
                     JOIN bookings b ON b.id = p.booking_id \
                     WHERE p.part_id IN (SELECT leaf_id FROM room_leaves WHERE room_id = $1) \
                     AND p.status IN ('pending', 'approved') \
                     AND p.block_start > $5 AND p.block_start < $3 AND p.block_end > $2 AND p.booking_id <> $4",
                )
                .bind(room_id)
                .bind(window.start())
                .bind(window.end())
                .bind(id)
                .bind(window.start().checked_sub_signed(MAX_BLOCK).unwrap_or(window.start()))
                .fetch_all(&mut *tx)
                .await?;
                snapshot.existing = rows
                    .into_iter()
                    .filter_map(|r| existing_from_row(room_id, r))
                    .collect();
                let rows: Vec<ClosureRow> = sqlx::query_as(&format!(
                    "{SELECT_CLOSURES} WHERE (room_id = $1 OR building = $2 OR room_id IN ({RELATED_TO_1})) \
                     AND start_at < $4 AND end_at > $3 ORDER BY start_at"
                ))
                .bind(room_id)
                .bind(load.building.unwrap_or_default())
                .bind(window.start())
                .bind(window.end())
                .fetch_all(&mut *tx)
                .await?;
                snapshot.closures = rows.into_iter().map(closure_from_row).collect();
            }
            let decided = match decide(&snapshot) {
                Ok(d) => d,
                Err(refusal) => {
                    // Keep the expiries; nothing else was written.
                    tx.commit().await?;
                    return Ok(Err(refusal));
                }
            };
            let mut booking = snapshot.booking;
            let old = booking.status;
            let mut moves: Vec<(DateChange, OccurrenceStatus)> = Vec::new();
            for change in decided.changes {
                let Some(date) = booking.occurrences.iter_mut().find(|o| o.seq == change.seq)
                else {
                    continue;
                };
                if date.status == change.to {
                    // A date left as it was may still carry what the decision found.
                    if change.reasons.is_some() && change.reasons != date.reasons {
                        sqlx::query("UPDATE occurrences SET reasons = $1 WHERE booking_id = $2 AND seq = $3")
                            .bind(&change.reasons)
                            .bind(id)
                            .bind(change.seq)
                            .execute(&mut *tx)
                            .await?;
                        date.reasons = change.reasons.clone();
                    }
                    continue;
                }
                let from = date.status;
                let moved = sqlx::query(
                    "UPDATE occurrences SET status = $1, status_reason = $2, reasons = $3 \
                     WHERE booking_id = $4 AND seq = $5 AND status = $6",
                )
                .bind(change.to.as_str())
                .bind(&change.reason)
                .bind(&change.reasons)
                .bind(id)
                .bind(change.seq)
                .bind(from)
                .execute(&mut *tx)
                .await
                .map_err(map_insert_error)?
                .rows_affected();
                if moved != 1 {
                    tx.rollback().await?;
                    return Err(TransitionError::WrongStatus { status: old });
                }
                date.status = OccurrenceStatus::Booked(change.to);
                moves.push((change, from));
            }
            let new = crate::scheduling::derived_status(booking.occurrences.iter().map(|o| o.status))
                .unwrap_or(old);
            // The booking's row tells the requester when the booking moved as some of these
            // dates did (all approved, the last cancelled): its mail shows every date, those
            // that went otherwise marked with their reasons. Otherwise the booking only
            // follows its dates (its last waiting date was rejected, and approved ones remain):
            // its row is quiet and the dates tell, one notice a status.
            let told_by_booking = new != old
                && moves
                    .iter()
                    .any(|(change, from)| *from == old && change.to == new);
            for (change, from) in &moves {
                // The booking's own row says it for a date that moved as the booking did, for
                // the same reason (an override's reason, say, is the date's own).
                if told_by_booking
                    && *from == old
                    && change.to == new
                    && change.reason == decided.reason
                {
                    continue;
                }
                record_date_change!(
                    tx,
                    id,
                    change.seq,
                    now,
                    actor,
                    Some(from.as_str()),
                    change.to.as_str(),
                    change.reason.as_deref()
                );
            }
            if new != old {
                let moved = sqlx::query(
                    "UPDATE bookings SET status = $1, status_reason = $2, updated_at = $3 WHERE id = $4 AND status = $5",
                )
                .bind(new.as_str())
                .bind(&decided.reason)
                .bind(now)
                .bind(id)
                .bind(old)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if moved != 1 {
                    tx.rollback().await?;
                    return Err(TransitionError::WrongStatus { status: old });
                }
                if told_by_booking {
                    record_change!(tx, id, now, actor, Some(old.as_str()), new.as_str(), decided.reason.as_deref());
                } else {
                    record_quiet_change!(tx, id, now, actor, Some(old.as_str()), new.as_str());
                }
            } else if !moves.is_empty() {
                sqlx::query("UPDATE bookings SET updated_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            // A booking of one date asked for (no series) whose date moved by an approved
            // change: its own start and end follow the date that holds.
            if booking.recurrence.is_none()
                && moves.iter().any(|(c, _)| {
                    booking
                        .occurrences
                        .iter()
                        .any(|o| o.seq == c.seq && o.replaces.is_some())
                })
                && let Ok(zone) = crate::scheduling::Zone::parse(&booking.time_zone)
                && let Some(first) = booking
                    .occurrences
                    .iter()
                    .filter(|o| o.status.is_blocking())
                    .min_by_key(|o| o.start)
            {
                sqlx::query("UPDATE bookings SET local_start = $1, local_end = $2 WHERE id = $3")
                    .bind(zone.local(first.start).format("%Y-%m-%dT%H:%M").to_string())
                    .bind(zone.local(first.end).format("%Y-%m-%dT%H:%M").to_string())
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            if !told_by_booking {
                let mut statuses: Vec<BookingStatus> = moves.iter().map(|(c, _)| c.to).collect();
                statuses.sort_by_key(|s| s.as_str());
                statuses.dedup();
                for to in statuses {
                    let dates: Vec<&DateChange> =
                        moves.iter().map(|(c, _)| c).filter(|c| c.to == to).collect();
                    let seqs: Vec<i64> = dates.iter().map(|c| c.seq).collect();
                    // One reason when the dates share it; else each date's own is shown.
                    let reason = dates
                        .first()
                        .and_then(|c| c.reason.clone())
                        .filter(|r| dates.iter().all(|c| c.reason.as_deref() == Some(r.as_str())));
                    date_notice!(tx, id, now, actor, to.as_str(), reason, &seqs);
                }
            }
            tx.commit().await?;
        });
        match self.booking(id).await? {
            Some(b) => Ok(Ok(b)),
            None => Err(TransitionError::NotFound),
        }
    }

    /// Moves one date of a booking (issue 16) in one write transaction: takes the room's
    /// writer turn and part locks as a creation does, expires stale holds, reads the booking
    /// and what a creation at the new time would see (`key`), lets `decide` (the core) say
    /// where the date goes, and writes it: the date moved in place, or a new date waiting for
    /// a clerk that replaces it. Nobody can book the old or the new slot in between; a refusal
    /// writes nothing but the expiries, so the requester keeps what they had.
    pub async fn move_date<T>(
        &self,
        booking_id: &str,
        key: &CreateKey<'_>,
        now: DateTime<Utc>,
        actor: &str,
        decide: impl FnOnce(&MoveSnapshot) -> Result<DateMoved, T>,
    ) -> Result<Result<BookingRecord, T>, TransitionError> {
        let for_update = match &self.pool {
            Pool::Sqlite(_) => "",
            Pool::Postgres(_) => " FOR UPDATE",
        };
        let id = booking_id;
        on_pool!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = begin_write!(self, pool);
            let pg = matches!(self.pool, Pool::Postgres(_));
            if pg {
                sqlx::query(LOCK_PARTS_OF_1)
                    .bind(key.room_id)
                    .execute(&mut *tx)
                    .await?;
            }
            expire_in_tx!(tx, Some(key.room_id), now, pg, Some(id));
            let row: Option<BookingRow> =
                sqlx::query_as(&format!("{SELECT_BOOKINGS} WHERE id = $1{for_update}"))
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some(row) = row.filter(|r| r.room_id == key.room_id) else {
                tx.commit().await?;
                return Err(TransitionError::NotFound);
            };
            let mut booking = booking_from_row(row);
            let dates: Vec<OccurrenceRow> = sqlx::query_as(&format!(
                "{SELECT_OCCURRENCES} WHERE booking_id = $1 ORDER BY seq"
            ))
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
            booking.occurrences = dates
                .into_iter()
                .map(|r| OccurrenceRecord {
                    seq: r.1,
                    start: r.2,
                    end: r.3,
                    block_start: r.4,
                    block_end: r.5,
                    status: r.6,
                    status_reason: r.7,
                    reasons: r.8,
                    replaces: r.9,
                    asked_at: r.10,
                })
                .collect();
            let (from, to) = (key.window.start(), key.window.end());
            let earliest = from.checked_sub_signed(MAX_BLOCK).unwrap_or(from);
            let qwin = key.quota_window.unwrap_or(key.window);
            let qfrom = qwin
                .start()
                .checked_sub_signed(MAX_BLOCK)
                .unwrap_or(qwin.start());
            let rows: Vec<SnapshotRow> = sqlx::query_as(SNAPSHOT_SQL)
                .bind(key.room_id)
                .bind(earliest)
                .bind(from)
                .bind(to)
                .bind(key.requester_id)
                .bind(qfrom)
                .bind(qwin.start())
                .bind(qwin.end())
                .bind(key.quota_window.is_some())
                .bind(key.building.unwrap_or_default())
                .bind(None::<&str>)
                .fetch_all(&mut *tx)
                .await?;
            let seen = MoveSnapshot {
                booking,
                snapshot: snapshot_of(rows, now).0,
            };
            let moved = match decide(&seen) {
                Ok(m) => m,
                Err(refusal) => {
                    tx.commit().await?;
                    return Ok(Err(refusal));
                }
            };
            if moved
                .change
                .blocked()
                .is_some_and(|b| b.end() - b.start() > MAX_BLOCK)
            {
                tx.rollback().await?;
                return Err(TransitionError::Store(StoreError::TooLong));
            }
            let mut booking = seen.booking;
            let old = booking.status;
            match &moved.change {
                DateMove::InPlace { seq, span, blocked, status } => {
                    let Some(date) = booking.occurrences.iter_mut().find(|o| o.seq == *seq) else {
                        tx.rollback().await?;
                        return Err(TransitionError::NotFound);
                    };
                    let from_status = date.status;
                    let changed = sqlx::query(
                        "UPDATE occurrences SET start_at = $1, end_at = $2, block_start = $3, block_end = $4, \
                         status = $5, status_reason = NULL, reasons = NULL, asked_at = $8 \
                         WHERE booking_id = $6 AND seq = $7 AND status IN ('pending', 'approved')",
                    )
                    .bind(span.start())
                    .bind(span.end())
                    .bind(blocked.start())
                    .bind(blocked.end())
                    .bind(status.as_str())
                    .bind(id)
                    .bind(*seq)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_insert_error)?
                    .rows_affected();
                    if changed != 1 {
                        tx.rollback().await?;
                        return Err(TransitionError::WrongStatus { status: old });
                    }
                    date.status = OccurrenceStatus::Booked(*status);
                    record_date_change!(
                        tx,
                        id,
                        *seq,
                        now,
                        actor,
                        Some(from_status.as_str()),
                        status.as_str(),
                        Some(moved.reason.as_str())
                    );
                }
                DateMove::Replace { replaces, span, blocked } => {
                    let next = booking.occurrences.iter().map(|o| o.seq).max().unwrap_or(-1) + 1;
                    sqlx::query(
                        "INSERT INTO occurrences (booking_id, seq, room_id, start_at, end_at, block_start, block_end, status, replaces, asked_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9)",
                    )
                    .bind(id)
                    .bind(next)
                    .bind(key.room_id)
                    .bind(span.start())
                    .bind(span.end())
                    .bind(blocked.start())
                    .bind(blocked.end())
                    .bind(*replaces)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_insert_error)?;
                    booking.occurrences.push(OccurrenceRecord {
                        seq: next,
                        start: span.start(),
                        end: span.end(),
                        block_start: blocked.start(),
                        block_end: blocked.end(),
                        status: OccurrenceStatus::Booked(BookingStatus::Pending),
                        status_reason: None,
                        reasons: None,
                        replaces: Some(*replaces),
                        asked_at: Some(now),
                    });
                    record_date_change!(
                        tx,
                        id,
                        next,
                        now,
                        actor,
                        None::<&str>,
                        "pending",
                        Some(moved.reason.as_str())
                    );
                }
            }
            let new = crate::scheduling::derived_status(booking.occurrences.iter().map(|o| o.status))
                .unwrap_or(old);
            sqlx::query(
                "UPDATE bookings SET status = $1, updated_at = $2, \
                 hold_until = CASE WHEN $1 = 'pending' THEN COALESCE($3, hold_until) ELSE hold_until END, \
                 local_start = COALESCE($4, local_start), local_end = COALESCE($5, local_end) WHERE id = $6",
            )
            .bind(new.as_str())
            .bind(now)
            .bind(moved.hold_until)
            .bind(moved.local.as_ref().map(|l| l.0.as_str()))
            .bind(moved.local.as_ref().map(|l| l.1.as_str()))
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if new != old {
                // The booking follows its dates; the date's notice tells.
                record_quiet_change!(tx, id, now, actor, Some(old.as_str()), new.as_str());
            }
            if let DateMove::InPlace { seq, .. } = &moved.change {
                date_notice!(tx, id, now, actor, "moved", Some(moved.reason.as_str()), &[*seq]);
            }
            tx.commit().await?;
        });
        match self.booking(id).await? {
            Some(b) => Ok(Ok(b)),
            None => Err(TransitionError::NotFound),
        }
    }

    /// Expires every pending booking whose hold has run out; returns how many.
    pub async fn expire_holds(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let n = on_pool!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = begin_write!(self, pool);
            let pg = matches!(self.pool, Pool::Postgres(_));
            let n = expire_in_tx!(tx, None, now, pg, None);
            tx.commit().await?;
            n
        });
        Ok(n)
    }

    /// Changes a booking's purpose and attendee count (issue 16), while it holds its slot; the
    /// audit trail gets a quiet row (no notice: nothing about the time changed) saying what
    /// changed. `check` sees the booking as it is inside the transaction and may refuse.
    pub async fn amend_booking<T>(
        &self,
        id: &str,
        purpose: Option<&str>,
        attendees: Option<u32>,
        actor: &str,
        now: DateTime<Utc>,
        check: impl FnOnce(&BookingRecord) -> Result<String, T>,
    ) -> Result<Result<BookingRecord, T>, TransitionError> {
        let for_update = match &self.pool {
            Pool::Sqlite(_) => "",
            Pool::Postgres(_) => " FOR UPDATE",
        };
        on_pool!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = begin_write!(self, pool);
            let row: Option<BookingRow> =
                sqlx::query_as(&format!("{SELECT_BOOKINGS} WHERE id = $1{for_update}"))
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some(row) = row else {
                tx.commit().await?;
                return Err(TransitionError::NotFound);
            };
            let mut booking = booking_from_row(row);
            if !booking.status.is_blocking() {
                tx.commit().await?;
                return Err(TransitionError::WrongStatus { status: booking.status });
            }
            let dates: Vec<OccurrenceRow> = sqlx::query_as(&format!(
                "{SELECT_OCCURRENCES} WHERE booking_id = $1 ORDER BY seq"
            ))
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
            booking.occurrences = dates
                .into_iter()
                .map(|r| OccurrenceRecord {
                    seq: r.1,
                    start: r.2,
                    end: r.3,
                    block_start: r.4,
                    block_end: r.5,
                    status: r.6,
                    status_reason: r.7,
                    reasons: r.8,
                    replaces: r.9,
                    asked_at: r.10,
                })
                .collect();
            let what = match check(&booking) {
                Ok(w) => w,
                Err(refusal) => {
                    tx.commit().await?;
                    return Ok(Err(refusal));
                }
            };
            sqlx::query(
                "UPDATE bookings SET purpose = COALESCE($1, purpose), attendees = COALESCE($2, attendees), \
                 updated_at = $3 WHERE id = $4",
            )
            .bind(purpose)
            .bind(attendees.map(i64::from))
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            let status = booking.status.as_str();
            sqlx::query(
                "INSERT INTO audit (booking_id, at, actor, from_status, to_status, reason, quiet) \
                 VALUES ($1, $2, $3, $4, $4, $5, $6)",
            )
            .bind(id)
            .bind(now)
            .bind(actor)
            .bind(status)
            .bind(what)
            .bind(true)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        match self.booking(id).await? {
            Some(b) => Ok(Ok(b)),
            None => Err(TransitionError::NotFound),
        }
    }

    /// A booking's audit trail, oldest first.
    pub async fn history(&self, id: &str) -> Result<Vec<AuditRecord>, StoreError> {
        type Row = (
            DateTime<Utc>,
            String,
            Option<String>,
            String,
            Option<String>,
            Option<i64>,
        );
        let rows: Vec<Row> = on_pool!(self, pool => sqlx::query_as(
            "SELECT at, actor, from_status, to_status, reason, seq FROM audit WHERE booking_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(pool)
        .await?);
        Ok(rows
            .into_iter()
            .map(|(at, actor, from, to, reason, seq)| AuditRecord {
                at,
                actor,
                from,
                to,
                reason,
                seq,
            })
            .collect())
    }

    /// The booked spans of the blocking occurrences overlapping `window` that share a
    /// physical part with the room (its own, a divisible hall's and its halves'), by start;
    /// pending requests whose hold ran out by `now` do not count, even before the expiry job
    /// has marked them.
    pub async fn busy(
        &self,
        room_id: &str,
        window: &Interval,
        now: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, DateTime<Utc>)>, StoreError> {
        let rows: Vec<(DateTime<Utc>, DateTime<Utc>)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT DISTINCT o.start_at, o.end_at FROM occurrence_parts p \
             JOIN occurrences o ON o.booking_id = p.booking_id AND o.seq = p.seq \
             JOIN bookings b ON b.id = p.booking_id \
             WHERE p.part_id IN (SELECT leaf_id FROM room_leaves WHERE room_id = $1) \
             AND p.status IN ('pending', 'approved') \
             AND p.block_start > $5 AND p.block_start < $3 \
             AND o.start_at < $3 AND o.end_at > $2 \
             AND NOT (b.status = 'pending' AND b.hold_until IS NOT NULL AND b.hold_until <= $4) \
             ORDER BY o.start_at",
        )
        .bind(room_id)
        .bind(window.start())
        .bind(window.end())
        .bind(now)
        .bind(window.start().checked_sub_signed(MAX_BLOCK).unwrap_or(window.start()))
        .fetch_all(pool)
        .await?);
        Ok(rows)
    }

    /// Blocking occurrences sharing a physical part with a room (a divisible hall's and its
    /// halves' too) overlapping `window` (buffers included), other than those of `except`.
    pub async fn blocking_overlaps(
        &self,
        room_id: &str,
        window: &Interval,
        except: &str,
    ) -> Result<Vec<ExistingBooking>, StoreError> {
        let rows: Vec<ExistingRow> = on_pool!(self, pool => sqlx::query_as(
            "SELECT DISTINCT o.booking_id, b.requester_id, o.start_at, o.end_at, o.block_start, o.block_end, o.status \
             FROM occurrence_parts p JOIN occurrences o ON o.booking_id = p.booking_id AND o.seq = p.seq \
             JOIN bookings b ON b.id = p.booking_id \
             WHERE p.part_id IN (SELECT leaf_id FROM room_leaves WHERE room_id = $1) \
             AND p.status IN ('pending', 'approved') \
             AND p.block_start > $5 AND p.block_start < $3 AND p.block_end > $2 AND p.booking_id <> $4",
        )
        .bind(room_id)
        .bind(window.start())
        .bind(window.end())
        .bind(except)
        .bind(window.start().checked_sub_signed(MAX_BLOCK).unwrap_or(window.start()))
        .fetch_all(pool)
        .await?);
        Ok(rows
            .into_iter()
            .filter_map(|r| existing_from_row(room_id, r))
            .collect())
    }

    /// Adds a clerk's closure.
    pub async fn add_closure(&self, closure: &ClosureRecord) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = begin_write!(self, pool);
            sqlx::query(
                "INSERT INTO closures (id, room_id, building, start_at, end_at, reason, created_by, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&closure.id)
            .bind(&closure.room_id)
            .bind(&closure.building)
            .bind(closure.start)
            .bind(closure.end)
            .bind(&closure.reason)
            .bind(&closure.created_by)
            .bind(closure.created_at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Closures of a room (its own, its building's, and those of any room sharing a physical
    /// part with it: a closed hall closes its halves) overlapping `window`.
    pub async fn closures_for(
        &self,
        room_id: &str,
        building: Option<&str>,
        window: &Interval,
    ) -> Result<Vec<ClosureRecord>, StoreError> {
        let rows: Vec<ClosureRow> = on_pool!(self, pool => sqlx::query_as(&format!(
            "{SELECT_CLOSURES} WHERE (room_id = $1 OR building = $2 OR room_id IN ({RELATED_TO_1})) \
             AND start_at < $4 AND end_at > $3 ORDER BY start_at"
        ))
        .bind(room_id)
        .bind(building.unwrap_or_default())
        .bind(window.start())
        .bind(window.end())
        .fetch_all(pool)
        .await?);
        Ok(rows.into_iter().map(closure_from_row).collect())
    }

    /// Registers a resident; [`StoreError::DuplicateKey`] when the email is taken.
    pub async fn add_resident(&self, resident: &ResidentRecord) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = begin_write!(self, pool);
            sqlx::query(
                "INSERT INTO residents (id, email, name, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&resident.id)
            .bind(&resident.email)
            .bind(&resident.name)
            .bind(&resident.password_hash)
            .bind(resident.created_at)
            .execute(&mut *tx)
            .await
            .map_err(map_insert_error)?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// The resident with this (lower-cased) email.
    pub async fn resident_by_email(
        &self,
        email: &str,
    ) -> Result<Option<ResidentRecord>, StoreError> {
        type Row = (String, String, String, String, DateTime<Utc>);
        let row: Option<Row> = on_pool!(self, pool => sqlx::query_as(
            "SELECT id, email, name, password_hash, created_at FROM residents WHERE email = $1",
        )
        .bind(email)
        .fetch_optional(pool)
        .await?);
        Ok(row.map(
            |(id, email, name, password_hash, created_at)| ResidentRecord {
                id,
                email,
                name,
                password_hash,
                created_at,
            },
        ))
    }

    /// Pairs of blocking occurrences sharing a physical part that overlap (buffers
    /// included). Always empty unless something is badly wrong; the concurrency tests check
    /// it.
    pub async fn overlapping_pairs(&self) -> Result<i64, StoreError> {
        let row: (i64,) = on_pool!(self, pool => sqlx::query_as(
            "SELECT COUNT(*) FROM occurrence_parts a JOIN occurrence_parts b \
             ON a.part_id = b.part_id AND (a.booking_id < b.booking_id OR (a.booking_id = b.booking_id AND a.seq < b.seq)) \
             WHERE a.status IN ('pending', 'approved') AND b.status IN ('pending', 'approved') \
             AND a.block_start < b.block_end AND b.block_start < a.block_end",
        )
        .fetch_one(pool)
        .await?);
        Ok(row.0)
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let _: (i64,) = on_pool!(self, pool => sqlx::query_as("SELECT CAST(1 AS BIGINT)").fetch_one(pool).await?);
        Ok(())
    }

    /// Outbox rows not yet delivered, oldest first: (kind, booking id, payload).
    pub async fn undelivered(&self) -> Result<Vec<(String, Option<String>, String)>, StoreError> {
        let rows = on_pool!(self, pool => sqlx::query_as(
            "SELECT kind, booking_id, payload FROM outbox WHERE delivered_at IS NULL ORDER BY id",
        )
        .fetch_all(pool)
        .await?);
        Ok(rows)
    }
}
