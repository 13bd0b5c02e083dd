//! What room calendars read and keep: the visible bookings of a room with their change
//! numbers (CalDAV ETags, ctags and sync tokens, RFC 6578), who follows which room calendar,
//! and private feed tokens.
//!
//! A booking is in its room's calendar while its status is `pending` or `approved` and one of
//! its dates still blocks. Change numbers are kept by the `audit_to_change_seq` trigger
//! (migration 0005): each audit row raises the room's number and stamps the booking with it.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::booking::{BookingRow, booking_from_row};
use super::{BookingRecord, MAX_BLOCK, Pool, Store, StoreError};

/// A booking in a room calendar, with the change number of its last change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalendarEntry {
    pub booking: BookingRecord,
    pub change_seq: i64,
}

/// A booking changed after a sync token: still in the calendar, or gone from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalendarChange {
    pub id: String,
    pub change_seq: i64,
    pub visible: bool,
}

/// A private feed token (only its hash is stored).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FeedTokenRecord {
    pub id: String,
    #[serde(skip)]
    pub token_hash: String,
    pub user_id: String,
    /// The owner's directory login.
    #[serde(skip)]
    pub login: String,
    pub room_id: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct EntryRow {
    #[sqlx(flatten)]
    booking: BookingRow,
    change_seq: i64,
}

const ENTRY_COLUMNS: &str = "b.id, b.room_id, b.requester_id, b.requester_name, b.purpose, \
     b.attendees, b.local_start, b.local_end, b.time_zone, b.recurrence, b.on_conflict, b.status, \
     b.status_reason, b.hold_until, b.reasons, b.created_at, b.updated_at, b.change_seq";

/// The condition that puts booking `b` in its room's calendar.
const VISIBLE: &str = "b.status IN ('pending', 'approved') AND EXISTS (SELECT 1 FROM occurrences v \
     WHERE v.booking_id = b.id AND v.status IN ('pending', 'approved'))";

/// Which rooms' bookings a room calendar (the room `$1`) holds, as a condition on `col`: the
/// room's own, or with `family` those of every room sharing a physical part with it too (a
/// divisible hall's in each half's calendar, and the halves' in the hall's). Rooms sharing a
/// part share one change sequence (migration 0013), so their bookings' change numbers are
/// comparable with each of their calendars' sync tokens.
fn rooms_of(family: bool, col: &str) -> String {
    if family {
        format!(
            "{col} IN ({} UNION SELECT $1)",
            super::booking::RELATED_TO_1
        )
    } else {
        format!("{col} = $1")
    }
}

/// The bookings `b` a room calendar (the room `$1`) holds, read room by room: a FROM clause
/// and its condition. With `family` the rooms come first and each one's bookings are read by
/// the `(room_id, change_seq)` index (CROSS JOIN keeps SQLite from scanning every blocking
/// booking by status instead).
fn bookings_of(family: bool) -> (String, &'static str) {
    if family {
        (
            format!(
                "({} UNION SELECT $1) f CROSS JOIN bookings b",
                super::booking::RELATED_TO_1
            ),
            "b.room_id = f.room_id",
        )
    } else {
        ("bookings b".to_owned(), "b.room_id = $1")
    }
}

type FeedTokenRow = (
    String,
    String,
    String,
    String,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

fn token_from_row(r: FeedTokenRow) -> FeedTokenRecord {
    FeedTokenRecord {
        id: r.0,
        token_hash: r.1,
        user_id: r.2,
        login: r.3,
        room_id: r.4,
        created_at: r.5,
        revoked_at: r.6,
    }
}

const SELECT_TOKENS: &str =
    "SELECT id, token_hash, user_id, login, room_id, created_at, revoked_at FROM feed_tokens";

impl Store {
    /// The room's change number: its calendar's ctag and sync token. `None` if no such room.
    pub async fn room_change_seq(&self, room_id: &str) -> Result<Option<i64>, StoreError> {
        let row: Option<(i64,)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT change_seq FROM rooms WHERE id = $1",
        )
        .bind(room_id)
        .fetch_optional(pool)
        .await?);
        Ok(row.map(|r| r.0))
    }

    /// The ids and change numbers of the bookings in a room's calendar (with `family`, of the
    /// rooms sharing a physical part with it too), without their content (for listings and
    /// ETags).
    pub async fn calendar_index(
        &self,
        room_id: &str,
        family: bool,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let (from, cond) = bookings_of(family);
        let sql = format!(
            "SELECT b.id, b.change_seq FROM {from} WHERE {cond} AND {VISIBLE} ORDER BY b.id"
        );
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(room_id).fetch_all(pool).await?))
    }

    /// The bookings in a room's calendar (with `family`, of the rooms sharing a physical part
    /// with it too), with their dates: all of them, or those of `ids`.
    pub async fn calendar_entries(
        &self,
        room_id: &str,
        family: bool,
        ids: Option<&[String]>,
    ) -> Result<Vec<CalendarEntry>, StoreError> {
        let rooms = rooms_of(family, "b.room_id");
        let mut rows: Vec<EntryRow> = Vec::new();
        match ids {
            None => {
                let (from, cond) = bookings_of(family);
                let sql = format!(
                    "SELECT {ENTRY_COLUMNS} FROM {from} WHERE {cond} AND {VISIBLE} ORDER BY b.id"
                );
                rows = on_pool!(self, pool => sqlx::query_as(&sql).bind(room_id).fetch_all(pool).await?);
            }
            Some(ids) => {
                let ids: Vec<&String> = ids.iter().collect::<BTreeSet<_>>().into_iter().collect();
                for chunk in ids.chunks(500) {
                    let values: Vec<String> =
                        (2..chunk.len() + 2).map(|i| format!("(${i})")).collect();
                    // The ids first, then each booking by its key: CROSS JOIN keeps SQLite from
                    // leading with `b.room_id = $1`, which walks every booking of the room.
                    let sql = format!(
                        "SELECT {ENTRY_COLUMNS} FROM (VALUES {}) w CROSS JOIN bookings b \
                         WHERE b.id = w.column1 AND {rooms} AND {VISIBLE} ORDER BY b.id",
                        values.join(", ")
                    );
                    let part: Vec<EntryRow> = on_pool!(self, pool => {
                        let mut q = sqlx::query_as(&sql).bind(room_id);
                        for id in chunk {
                            q = q.bind((*id).clone());
                        }
                        q.fetch_all(pool).await?
                    });
                    rows.extend(part);
                }
            }
        }
        self.entries_of(rows).await
    }

    /// The bookings in a room's calendar (with `family`, of the rooms sharing a physical part
    /// with it too) with a blocking date overlapping `[from, to)`.
    pub async fn calendar_entries_between(
        &self,
        room_id: &str,
        family: bool,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<CalendarEntry>, StoreError> {
        // Bounded on both sides of block_start (no date blocks longer than MAX_BLOCK), so the
        // occurrence index serves it. The window's bookings are then read by id: CROSS JOIN
        // keeps SQLite from leading with `b.room_id = $1` instead, which walks every booking of
        // the room (PostgreSQL plans it as an inner join).
        let sql = format!(
            "SELECT {ENTRY_COLUMNS} FROM (SELECT DISTINCT o.booking_id FROM occurrences o \
             WHERE {} AND o.block_start > $4 AND o.block_start < $3 \
             AND o.start_at < $3 AND o.end_at > $2 AND o.status IN ('pending', 'approved')) w \
             CROSS JOIN bookings b WHERE b.id = w.booking_id AND {} AND {VISIBLE} \
             ORDER BY b.id",
            rooms_of(family, "o.room_id"),
            rooms_of(family, "b.room_id"),
        );
        let earliest = from.checked_sub_signed(MAX_BLOCK).unwrap_or(from);
        let rows: Vec<EntryRow> = on_pool!(self, pool => sqlx::query_as(&sql)
            .bind(room_id)
            .bind(from)
            .bind(to)
            .bind(earliest)
            .fetch_all(pool)
            .await?);
        self.entries_of(rows).await
    }

    async fn entries_of(&self, rows: Vec<EntryRow>) -> Result<Vec<CalendarEntry>, StoreError> {
        let seqs: Vec<i64> = rows.iter().map(|r| r.change_seq).collect();
        let bookings = self
            .attach_occurrences(
                rows.into_iter()
                    .map(|r| booking_from_row(r.booking))
                    .collect(),
            )
            .await?;
        Ok(bookings
            .into_iter()
            .zip(seqs)
            .map(|(booking, change_seq)| CalendarEntry {
                booking,
                change_seq,
            })
            .collect())
    }

    /// The room's bookings (with `family`, those of the rooms sharing a physical part with it
    /// too) changed after change number `since`, in or out of the calendar.
    pub async fn calendar_changes(
        &self,
        room_id: &str,
        family: bool,
        since: i64,
    ) -> Result<Vec<CalendarChange>, StoreError> {
        let (from, cond) = bookings_of(family);
        let sql = format!(
            "SELECT b.id, b.change_seq, CASE WHEN {VISIBLE} THEN 1 ELSE 0 END FROM {from} \
             WHERE {cond} AND b.change_seq > $2 ORDER BY b.change_seq"
        );
        let rows: Vec<(String, i64, i32)> = on_pool!(self, pool => sqlx::query_as(&sql)
            .bind(room_id)
            .bind(since)
            .fetch_all(pool)
            .await?);
        Ok(rows
            .into_iter()
            .map(|(id, change_seq, visible)| CalendarChange {
                id,
                change_seq,
                visible: visible == 1,
            })
            .collect())
    }

    /// A user's follow settings that differ from the default (following every bookable
    /// room): (room id, follows).
    pub async fn follows(&self, user_id: &str) -> Result<Vec<(String, bool)>, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_as(
            "SELECT room_id, follow FROM calendar_follows WHERE user_id = $1 ORDER BY room_id",
        )
        .bind(user_id)
        .fetch_all(pool)
        .await?))
    }

    /// Follows or unfollows a room calendar for a user.
    pub async fn set_follow(
        &self,
        user_id: &str,
        room_id: &str,
        follow: bool,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let _turn = self.write_turn().await;
            sqlx::query(
                "INSERT INTO calendar_follows (user_id, room_id, follow, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (user_id, room_id) DO UPDATE SET follow = excluded.follow, updated_at = excluded.updated_at",
            )
            .bind(user_id)
            .bind(room_id)
            .bind(follow)
            .bind(now)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Stores a new feed token.
    pub async fn add_feed_token(&self, token: &FeedTokenRecord) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let _turn = self.write_turn().await;
            sqlx::query(
                "INSERT INTO feed_tokens (id, token_hash, user_id, login, room_id, created_at, revoked_at) \
                 VALUES ($1, $2, $3, $6, $4, $5, NULL)",
            )
            .bind(&token.id)
            .bind(&token.token_hash)
            .bind(&token.user_id)
            .bind(&token.room_id)
            .bind(token.created_at)
            .bind(&token.login)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// A user's feed tokens, revoked ones included, newest first.
    pub async fn feed_tokens(&self, user_id: &str) -> Result<Vec<FeedTokenRecord>, StoreError> {
        let sql = format!("{SELECT_TOKENS} WHERE user_id = $1 ORDER BY created_at DESC, id");
        let rows: Vec<FeedTokenRow> =
            on_pool!(self, pool => sqlx::query_as(&sql).bind(user_id).fetch_all(pool).await?);
        Ok(rows.into_iter().map(token_from_row).collect())
    }

    /// Revokes one of a user's tokens. False if the user has no such live token.
    pub async fn revoke_feed_token(
        &self,
        user_id: &str,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = on_pool!(self, pool => {
            let _turn = self.write_turn().await;
            sqlx::query(
                "UPDATE feed_tokens SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
            )
            .bind(id)
            .bind(user_id)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(done == 1)
    }

    /// The live (not revoked) token with this hash.
    pub async fn live_feed_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<FeedTokenRecord>, StoreError> {
        let sql = format!("{SELECT_TOKENS} WHERE token_hash = $1 AND revoked_at IS NULL");
        let row: Option<FeedTokenRow> = on_pool!(self, pool => sqlx::query_as(&sql).bind(token_hash).fetch_optional(pool).await?);
        Ok(row.map(token_from_row))
    }
}

impl Store {
    /// When a booking of the room, or of a room sharing a physical part with it (a divisible
    /// hall and its halves), last changed (any status): a feed's Last-Modified.
    pub async fn room_last_change(
        &self,
        room_id: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row: Option<(Option<DateTime<Utc>>,)> = on_pool!(self, pool => sqlx::query_as(
            &format!(
                "SELECT MAX(updated_at) FROM bookings WHERE room_id = $1 OR room_id IN ({})",
                super::booking::RELATED_TO_1
            ),
        )
        .bind(room_id)
        .fetch_optional(pool)
        .await?);
        Ok(row.and_then(|r| r.0))
    }
}
