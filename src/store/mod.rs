//! Storage: SQLite (the embedded default) and PostgreSQL, chosen by URL, with the same schema
//! and migrations of matching versions in `migrations/sqlite` and `migrations/postgres`.
//!
//! `sqlx::Error` is converted here and nowhere else. SQLite runs in WAL mode and takes its
//! write lock at the start of a write transaction (`BEGIN IMMEDIATE`), so two writers never
//! deadlock upgrading a read lock.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use crate::directory::DirRoom;

pub use booking::{
    AuditRecord, BookingRecord, ClosureRecord, CreateKey, Created, DateChange, DateMove, DateMoved,
    DatesDecided, DatesLoad, DatesSnapshot, MAX_BLOCK, MoveSnapshot, NewBooking, NewOccurrence,
    OccurrenceRecord, ResidentRecord, Snapshot, TransitionError,
};
pub use calendar::{CalendarChange, CalendarEntry, FeedTokenRecord};
pub use closure::{ClosureDecisionRecord, ClosureHits, HitQuery};
pub use outbox::{
    Attempt, AttemptOutcome, DeliveryRecord, DigestEntry, FanOut, Lane, NewDelivery,
    OUTBOX_CHANNEL, OutboxEvent, OutboxListener, ResidentContact,
};
pub use search::SearchFilter;
pub use session::SessionRecord;
pub use staff::{InboxItem, RoomLink, StaffChange, StaffObject};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store configuration: {0}")]
    Config(String),
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("the database schema could not be brought up to date: {0}")]
    Migration(String),
    /// The database refused an overlapping blocking booking (PostgreSQL's exclusion
    /// constraint): the last line of defence against double booking.
    #[error("the slot is already taken")]
    Overlap,
    /// A unique key (an idempotency key, a resident's email) is already in use.
    #[error("already exists")]
    DuplicateKey,
    /// SQLite's write lock could not be had in time: the database is busy, not down.
    #[error("the database is busy")]
    Busy,
    /// An occurrence would block its room for longer than [`MAX_BLOCK`].
    #[error("one booking may block a room for at most {} days", MAX_BLOCK.num_days())]
    TooLong,
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e
            && matches!(db.code().as_deref(), Some("5" | "261" | "517" | "773"))
        {
            // SQLITE_BUSY and its extended codes (RECOVERY, SNAPSHOT, TIMEOUT).
            return StoreError::Busy;
        }
        StoreError::Unavailable(e.to_string())
    }
}

impl Store {
    /// Queues this writer behind the others on SQLite; nothing on PostgreSQL.
    async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, group::State>> {
        match self.pool {
            Pool::Sqlite(_) => Some(self.sqlite_writer.turn().await),
            Pool::Postgres(_) => None,
        }
    }
}

/// A room as stored: the directory's description plus its life in Lokal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredRoom {
    pub room: DirRoom,
    pub synced_at: DateTime<Utc>,
    /// Set when the room left the directory; its bookings stay.
    pub retired_at: Option<DateTime<Utc>>,
}

/// What a directory sync changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub retired: usize,
    /// Retired rooms that came back into the directory.
    pub restored: usize,
    /// Rooms whose new parts were not stored: their coming bookings would overlap others.
    pub refused_parts: Vec<RefusedParts>,
}

/// A room whose new composition a sync refused, and the bookings in the way: the room's own
/// coming bookings and those on its new parts at the same times. The room keeps its old parts
/// until one of them is cancelled or moved; the next sync tries again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RefusedParts {
    pub room_id: String,
    pub booking_ids: Vec<String>,
}

enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The store.
pub struct Store {
    pool: Pool,
    /// SQLite allows one writer at a time; queueing writers here, in order, beats SQLite's
    /// own busy-retry loop (sleeps of up to 100 ms) by far under load, and lets creations
    /// that queue up share a commit (see `group`).
    sqlite_writer: group::Writer,
}

/// Runs the same body against either pool; the SQL is written to run on both.
macro_rules! on_pool {
    ($self:ident, $pool:ident => $body:expr) => {
        match &$self.pool {
            Pool::Sqlite($pool) => $body,
            Pool::Postgres($pool) => $body,
        }
    };
}

/// Makes `room_parts` and `room_leaves` match `$resolved` (a [`RoomParts`]) inside `$tx`,
/// rewriting them only when they differ; gives whether they did, and the rooms whose new parts
/// were refused. Rooms the directory no longer lists keep their last known leaves (their
/// bookings still block them). A room whose coming bookings (ending after `$now`) would
/// overlap other blocking bookings under its new parts keeps its old parts and is reported;
/// past bookings keep the parts they blocked.
macro_rules! sync_parts {
    ($tx:ident, $resolved:expr, $now:expr) => {{
        let resolved: &crate::directory::RoomParts = &$resolved;
        let now: DateTime<Utc> = $now;
        let mut refused: Vec<RefusedParts> = Vec::new();
        let old_parts: Vec<(String, String)> =
            sqlx::query_as("SELECT room_id, part_id FROM room_parts ORDER BY room_id, part_id")
                .fetch_all(&mut *$tx)
                .await?;
        let old_leaves: Vec<(String, String)> =
            sqlx::query_as("SELECT room_id, leaf_id FROM room_leaves ORDER BY room_id, leaf_id")
                .fetch_all(&mut *$tx)
                .await?;
        let flat = |m: &std::collections::BTreeMap<String, Vec<String>>| -> Vec<(String, String)> {
            m.iter()
                .flat_map(|(r, ps)| ps.iter().map(move |p| (r.clone(), p.clone())))
                .collect()
        };
        let new_parts = flat(&resolved.parts);
        // Leaves of rooms that left the directory stay as they were.
        let listed: std::collections::HashSet<&str> =
            resolved.leaves.keys().map(String::as_str).collect();
        let mut new_leaves: Vec<(String, String)> = flat(&resolved.leaves);
        new_leaves.extend(
            old_leaves
                .iter()
                .filter(|(r, _)| !listed.contains(r.as_str()))
                .cloned(),
        );
        new_leaves.sort();
        let changed = old_parts != new_parts || old_leaves != new_leaves;
        // Rooms whose physical parts changed: their bookings' `occurrence_parts` rows are
        // written again below, so what a hall blocks follows the directory.
        let leaves_of = |rows: &[(String, String)]| {
            let mut m: std::collections::BTreeMap<String, Vec<String>> = Default::default();
            for (r, l) in rows {
                m.entry(r.clone()).or_default().push(l.clone());
            }
            m
        };
        let (before, after) = (leaves_of(&old_leaves), leaves_of(&new_leaves));
        // A room without leaves yet blocked itself (the trigger's fallback).
        let moved: Vec<&String> = after
            .iter()
            .filter(|(r, l)| match before.get(*r) {
                Some(old) => old != *l,
                None => l.as_slice() != [(*r).clone()],
            })
            .map(|(r, _)| r)
            .collect();
        if changed {
            sqlx::query("DELETE FROM room_parts").execute(&mut *$tx).await?;
            sqlx::query("DELETE FROM room_leaves").execute(&mut *$tx).await?;
            for (table, cols, rows) in [
                ("room_parts", "room_id, part_id", &new_parts),
                ("room_leaves", "room_id, leaf_id", &new_leaves),
            ] {
                for chunk in rows.chunks(400) {
                    let values: Vec<String> = (0..chunk.len())
                        .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
                        .collect();
                    let sql = format!("INSERT INTO {table} ({cols}) VALUES {}", values.join(", "));
                    let mut q = sqlx::query(&sql);
                    for (a, b) in chunk {
                        q = q.bind(a.clone()).bind(b.clone());
                    }
                    q.execute(&mut *$tx).await?;
                }
            }
            for room in moved {
                // Only what is still to come follows the new parts: past dates keep the
                // parts they blocked (history may hold the whole and a half at one time,
                // booked before the directory named the parts).
                sqlx::query(
                    "DELETE FROM occurrence_parts WHERE EXISTS (SELECT 1 FROM occurrences o \
                     WHERE o.booking_id = occurrence_parts.booking_id AND o.seq = occurrence_parts.seq \
                     AND o.room_id = $1 AND o.block_end > $2)",
                )
                .bind(room)
                .bind(now)
                .execute(&mut *$tx)
                .await?;
                // Coming bookings of the room that would share a physical part with another
                // blocking booking at the same time under the new parts.
                let clashes: Vec<(String, String)> = sqlx::query_as(
                    "SELECT DISTINCT o.booking_id, p.booking_id FROM occurrences o \
                     JOIN room_leaves l ON l.room_id = o.room_id \
                     JOIN occurrence_parts p ON p.part_id = l.leaf_id \
                     AND p.block_start < o.block_end AND p.block_end > o.block_start \
                     WHERE o.room_id = $1 AND o.block_end > $2 AND o.status IN ('pending', 'approved') \
                     AND p.status IN ('pending', 'approved') AND p.booking_id <> o.booking_id",
                )
                .bind(room)
                .bind(now)
                .fetch_all(&mut *$tx)
                .await?;
                if !clashes.is_empty() {
                    // This hall keeps its old parts until the clash is resolved (a booking
                    // cancelled or moved); the rest of the directory is stored.
                    let mut ids: Vec<String> =
                        clashes.into_iter().flat_map(|(a, b)| [a, b]).collect();
                    ids.sort();
                    ids.dedup();
                    tracing::warn!(
                        room = %room,
                        bookings = ?ids,
                        "the directory changed the parts of a room whose coming bookings would \
                         then overlap others; the room keeps its old parts until they are resolved"
                    );
                    for (table, cols, rows) in [
                        ("room_parts", "room_id, part_id", &old_parts),
                        ("room_leaves", "room_id, leaf_id", &old_leaves),
                    ] {
                        sqlx::query(&format!("DELETE FROM {table} WHERE room_id = $1"))
                            .bind(room)
                            .execute(&mut *$tx)
                            .await?;
                        for (r, x) in rows.iter().filter(|(r, _)| r == room) {
                            sqlx::query(&format!("INSERT INTO {table} ({cols}) VALUES ($1, $2)"))
                                .bind(r)
                                .bind(x)
                                .execute(&mut *$tx)
                                .await?;
                        }
                    }
                    refused.push(RefusedParts {
                        room_id: room.clone(),
                        booking_ids: ids,
                    });
                }
                // On PostgreSQL the exclusion constraint still guards this: the check above
                // keeps it from firing (it would fail the whole sync).
                sqlx::query(
                    "INSERT INTO occurrence_parts (booking_id, seq, part_id, block_start, block_end, status) \
                     SELECT o.booking_id, o.seq, l.leaf_id, o.block_start, o.block_end, o.status \
                     FROM occurrences o JOIN room_leaves l ON l.room_id = o.room_id \
                     WHERE o.room_id = $1 AND o.block_end > $2 \
                     UNION ALL \
                     SELECT o.booking_id, o.seq, o.room_id, o.block_start, o.block_end, o.status \
                     FROM occurrences o WHERE o.room_id = $1 AND o.block_end > $2 \
                     AND NOT EXISTS (SELECT 1 FROM room_leaves l WHERE l.room_id = $1)",
                )
                .bind(room)
                .bind(now)
                .execute(&mut *$tx)
                .await
                .map_err(booking::map_insert_error)?;
                if refused.last().is_some_and(|r| r.room_id == *room) {
                    continue;
                }
                // The room's calendar now holds its new relatives' bookings: the rooms of its
                // hall go on from above every change number any of them has stamped (their one
                // sequence, migration 0013).
                // Its old relatives too: a part taken out of the hall no longer shows the
                // hall's bookings, and must move on as well.
                let old_of_room: Vec<&String> = match before.get(room) {
                    Some(old) => old.iter().collect(),
                    None => vec![room],
                };
                let placeholders: Vec<String> =
                    (0..old_of_room.len()).map(|i| format!("${}", i + 2)).collect();
                let sql = format!(
                    "UPDATE rooms SET change_seq = (SELECT MAX(change_seq) FROM rooms) + 1 \
                     WHERE id IN ({} UNION SELECT $1 \
                     UNION SELECT room_id FROM room_leaves WHERE leaf_id IN ({}))",
                    booking::RELATED_TO_1,
                    placeholders.join(", ")
                );
                let mut q = sqlx::query(&sql).bind(room);
                for leaf in old_of_room {
                    q = q.bind(leaf);
                }
                q.execute(&mut *$tx).await?;
            }
        }
        (changed, refused)
    }};
}

mod booking;
mod calendar;
mod closure;
mod group;
mod outbox;
mod search;
mod session;
mod staff;
mod status;

type RoomRow = (
    String,
    String,
    String,
    Option<String>,
    Option<i64>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<String>,
    String,
);

fn room_from_row(row: RoomRow) -> StoredRoom {
    let (
        id,
        dn,
        name,
        building,
        capacity,
        equipment,
        policy,
        approver_group,
        resource_type,
        floor,
        time_zone,
        description,
        synced_at,
        retired_at,
        email,
        parts,
    ) = row;
    StoredRoom {
        room: DirRoom {
            id,
            dn,
            name,
            building,
            capacity: capacity.and_then(|c| u32::try_from(c).ok()),
            equipment: serde_json::from_str(&equipment).unwrap_or_default(),
            policy,
            approver_group,
            resource_type,
            floor,
            time_zone,
            description,
            email,
            parts: serde_json::from_str(&parts).unwrap_or_default(),
        },
        synced_at,
        retired_at,
    }
}

const SELECT_ROOMS: &str = "SELECT id, dn, name, building, capacity, equipment, policy, approver_group, \
     resource_type, floor, time_zone, description, synced_at, retired_at, email, parts FROM rooms";

impl Store {
    /// Opens `sqlite:PATH` (created with its folder if missing) or `postgres://…`, and brings
    /// the schema up to date.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let pool = if let Some(path) = url.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path != ":memory:"
                && let Some(parent) = std::path::Path::new(path).parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent).map_err(|e| {
                    StoreError::Config(format!("cannot create {}: {e}", parent.display()))
                })?;
            }
            let options = SqliteConnectOptions::from_str(&format!("sqlite:{path}"))
                .map_err(|e| StoreError::Config(format!("{url}: {e}")))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .foreign_keys(true)
                .busy_timeout(std::time::Duration::from_secs(5));
            // A local file needs no liveness ping before each use; under load that ping is one
            // more round trip to the connection thread per transaction.
            let pool = SqlitePoolOptions::new()
                .test_before_acquire(false)
                .connect_with(options)
                .await?;
            SQLITE_MIGRATIONS
                .run(&pool)
                .await
                .map_err(|e| StoreError::Migration(e.to_string()))?;
            Pool::Sqlite(pool)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .acquire_timeout(std::time::Duration::from_secs(5))
                .connect(url)
                .await?;
            POSTGRES_MIGRATIONS
                .run(&pool)
                .await
                .map_err(|e| StoreError::Migration(e.to_string()))?;
            Pool::Postgres(pool)
        } else {
            return Err(StoreError::Config(format!(
                "unsupported store URL {url:?}: use sqlite:PATH or postgres://…"
            )));
        };
        Ok(Store {
            pool,
            sqlite_writer: group::Writer::new(),
        })
    }

    /// Every room, the retired ones too if asked, by name.
    pub async fn rooms(&self, include_retired: bool) -> Result<Vec<StoredRoom>, StoreError> {
        let sql = if include_retired {
            format!("{SELECT_ROOMS} ORDER BY name, id")
        } else {
            format!("{SELECT_ROOMS} WHERE retired_at IS NULL ORDER BY name, id")
        };
        let rows: Vec<RoomRow> =
            on_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await?);
        Ok(rows.into_iter().map(room_from_row).collect())
    }

    /// One room by id, retired or not.
    pub async fn room(&self, id: &str) -> Result<Option<StoredRoom>, StoreError> {
        let sql = format!("{SELECT_ROOMS} WHERE id = $1");
        let row: Option<RoomRow> =
            on_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?);
        Ok(row.map(room_from_row))
    }

    /// The physical parts a booking of the room blocks, sorted: the leaves of its part tree
    /// (a room without parts blocks itself).
    pub async fn room_leaves(&self, room_id: &str) -> Result<Vec<String>, StoreError> {
        let sql = format!("{} ORDER BY leaf_id", booking::LEAVES_OF_1);
        let rows: Vec<(String,)> =
            on_pool!(self, pool => sqlx::query_as(&sql).bind(room_id).fetch_all(pool).await?);
        let mut leaves: Vec<String> = rows.into_iter().map(|r| r.0).collect();
        if leaves.is_empty() {
            leaves.push(room_id.to_owned());
        }
        Ok(leaves)
    }

    /// Every divisible room's direct parts: `(room id, part id)`, sorted.
    pub async fn room_parts(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_as(
            "SELECT room_id, part_id FROM room_parts ORDER BY room_id, part_id",
        )
        .fetch_all(pool)
        .await?))
    }

    /// For every room sharing a physical part with another: those others, sorted (what
    /// [`Store::related_rooms`] gives one room, for all rooms in one query).
    pub async fn all_related_rooms(
        &self,
    ) -> Result<std::collections::HashMap<String, Vec<String>>, StoreError> {
        let rows: Vec<(String, String)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT DISTINCT m.room_id, o.room_id FROM room_leaves m JOIN room_leaves o \
             ON o.leaf_id = m.leaf_id WHERE o.room_id <> m.room_id ORDER BY 1, 2",
        )
        .fetch_all(pool)
        .await?);
        let mut related: std::collections::HashMap<String, Vec<String>> = Default::default();
        for (room, other) in rows {
            related.entry(room).or_default().push(other);
        }
        Ok(related)
    }

    /// The other rooms sharing a physical part with the room (a hall's halves, a half's
    /// hall), sorted.
    pub async fn related_rooms(&self, room_id: &str) -> Result<Vec<String>, StoreError> {
        let sql = format!(
            "SELECT DISTINCT room_id FROM ({}) r WHERE room_id <> $1 ORDER BY room_id",
            booking::RELATED_TO_1
        );
        let rows: Vec<(String,)> =
            on_pool!(self, pool => sqlx::query_as(&sql).bind(room_id).fetch_all(pool).await?);
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Makes the stored rooms match the directory's, in one transaction: new rooms are added,
    /// changed ones updated (a renamed DN is the same room), rooms missing from the directory
    /// retired (never deleted), and retired rooms that came back restored.
    pub async fn sync_rooms(
        &self,
        rooms: &[DirRoom],
        now: DateTime<Utc>,
    ) -> Result<SyncReport, StoreError> {
        // A hall is never stored without the parts it blocks: a bad part refuses the sync.
        let resolved = crate::directory::resolve_parts(rooms)
            .map_err(|e| StoreError::Config(format!("the directory's rooms: {e}")))?;
        let mut report = SyncReport::default();
        let seen: std::collections::HashSet<&str> = rooms.iter().map(|r| r.id.as_str()).collect();
        on_pool!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = match &self.pool {
                Pool::Sqlite(_) => pool.begin_with("BEGIN IMMEDIATE").await?,
                Pool::Postgres(_) => pool.begin().await?,
            };
            // Read inside the transaction, so the comparison and the writes see one state.
            let rows: Vec<RoomRow> = sqlx::query_as(SELECT_ROOMS).fetch_all(&mut *tx).await?;
            let before: std::collections::HashMap<String, StoredRoom> = rows
                .into_iter()
                .map(room_from_row)
                .map(|r| (r.room.id.clone(), r))
                .collect();
            if matches!(self.pool, Pool::Postgres(_)) {
                // Before any write: the advisory locks of every hall (before or after this
                // sync) and of its parts, by the key scheme and in the global order of
                // `LOCK_PARTS_OF_1`, so a creation in one of them waits for the new parts
                // (and this sync for the creation) instead of deciding against the old ones;
                // and of every room this sync rewrites, so no creation holds the key-share
                // lock of its room's foreign key while the upsert below waits for it.
                // SQLite's single writer serializes the two already.
                let old_leaves: Vec<(String, String)> =
                    sqlx::query_as("SELECT room_id, leaf_id FROM room_leaves")
                        .fetch_all(&mut *tx)
                        .await?;
                let mut of_room: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
                for (r, l) in &old_leaves {
                    of_room.entry(r).or_default().push(l);
                }
                let mut keys: std::collections::BTreeSet<&str> = Default::default();
                let halls = of_room.iter().map(|(r, ls)| (*r, ls.clone())).chain(
                    resolved
                        .leaves
                        .iter()
                        .map(|(r, ls)| (r.as_str(), ls.iter().map(String::as_str).collect())),
                );
                for (room, leaves) in halls {
                    if leaves.as_slice() != [room] {
                        keys.insert(room);
                        keys.extend(leaves);
                    }
                }
                keys.extend(
                    rooms
                        .iter()
                        .filter(|r| {
                            !before
                                .get(&r.id)
                                .is_some_and(|old| old.room == **r && old.retired_at.is_none())
                        })
                        .map(|r| r.id.as_str()),
                );
                if !keys.is_empty() {
                    // One statement, so the locks are taken in one order of the keys.
                    let keys: Vec<&str> = keys.into_iter().collect();
                    sqlx::query(
                        "SELECT COUNT(*) FROM (SELECT pg_advisory_xact_lock(k) FROM \
                         (SELECT DISTINCT hashtext(x) AS k FROM json_array_elements_text($1::json) x \
                         ORDER BY k OFFSET 0) s) t",
                    )
                    .bind(serde_json::to_string(&keys).unwrap_or_else(|_| "[]".into()))
                    .execute(&mut *tx)
                    .await?;
                }
                // Then every room's row, in id order, as the change-number trigger locks a
                // family's (migration 0014): the upserts and change-number bumps below touch
                // rooms in the directory's order, which would otherwise deadlock with a
                // booking's change in a hall.
                sqlx::query("SELECT id FROM rooms ORDER BY id FOR NO KEY UPDATE")
                    .execute(&mut *tx)
                    .await?;
            }
            for room in rooms {
                match before.get(&room.id) {
                    Some(old) if old.room == *room && old.retired_at.is_none() => {
                        report.unchanged += 1;
                        continue;
                    }
                    Some(old) if old.retired_at.is_some() => report.restored += 1,
                    Some(_) => report.updated += 1,
                    None => report.added += 1,
                }
                sqlx::query(
                    "INSERT INTO rooms (id, dn, name, building, capacity, equipment, policy, approver_group, \
                     resource_type, floor, time_zone, description, synced_at, retired_at, email, parts) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, NULL, $14, $15) \
                     ON CONFLICT (id) DO UPDATE SET dn = excluded.dn, name = excluded.name, \
                     building = excluded.building, capacity = excluded.capacity, equipment = excluded.equipment, \
                     policy = excluded.policy, approver_group = excluded.approver_group, \
                     resource_type = excluded.resource_type, floor = excluded.floor, \
                     time_zone = excluded.time_zone, description = excluded.description, \
                     synced_at = excluded.synced_at, retired_at = NULL, email = excluded.email, \
                     parts = excluded.parts",
                )
                .bind(&room.id)
                .bind(&room.dn)
                .bind(&room.name)
                .bind(&room.building)
                .bind(room.capacity.map(i64::from))
                .bind(serde_json::to_string(&room.equipment).unwrap_or_else(|_| "[]".into()))
                .bind(&room.policy)
                .bind(&room.approver_group)
                .bind(&room.resource_type)
                .bind(&room.floor)
                .bind(&room.time_zone)
                .bind(&room.description)
                .bind(now)
                .bind(&room.email)
                .bind(serde_json::to_string(&room.parts).unwrap_or_else(|_| "[]".into()))
                .execute(&mut *tx)
                .await?;
            }
            let (changed, refused) = sync_parts!(tx, resolved, now);
            if changed {
                tracing::info!(halls = resolved.parts.len(), "the rooms' parts changed");
            }
            report.refused_parts = refused;
            for (id, old) in &before {
                if old.retired_at.is_none() && !seen.contains(id.as_str()) {
                    sqlx::query("UPDATE rooms SET retired_at = $1 WHERE id = $2")
                        .bind(now)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    report.retired += 1;
                }
            }
            tx.commit().await?;
        });
        Ok(report)
    }
}
