//! Staff calendars (CalDAV scheduling, RFC 6638): each staff member's writable "meetings"
//! calendar, the rooms each of its events invites with the booking made for each, and the
//! schedule inbox of iTIP replies.
//!
//! Invariants: an owner's change number only grows; every write of an object stamps it with a
//! fresh number, and a deleted object stays as a tombstone (body NULL) so sync-collection
//! reports it (RFC 6578 §3.5). The `audit_to_staff_objects` trigger (migration 0008) moves
//! the number of every object linked to a booking in the same transaction as the booking's
//! status change, so an organiser's copy never keeps an ETag while its room's answer changes.
//! At most one live object per (owner, UID) (RFC 4791 §5.3.2.1 no-uid-conflict).
//! `write_seq` (migration 0010) is the change number of an object's last PUT or DELETE only:
//! the trigger never moves it and a tombstone keeps it, so it names a state of the event for
//! booking idempotency keys ([`Store::staff_write_generation`]).

use chrono::{DateTime, Utc};

use super::{Pool, Store, StoreError};

/// One object of a staff calendar.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct StaffObject {
    pub name: String,
    pub uid: String,
    /// The iCalendar text as the organiser sent it.
    pub body: String,
    pub change_seq: i64,
    pub updated_at: DateTime<Utc>,
}

/// A room an object invites, with the room's answer.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct RoomLink {
    pub room_id: String,
    /// The booking made for the invitation; `None` when the room declined.
    pub booking_id: Option<String>,
    /// A digest of the event's times and recurrence when it was booked.
    pub fingerprint: String,
    /// The room's answer as JSON (reasons, per-occurrence words).
    pub answer: String,
}

/// An object changed after a sync token: live or deleted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaffChange {
    pub name: String,
    pub change_seq: i64,
    pub live: bool,
}

/// A message in a schedule inbox.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct InboxItem {
    pub name: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

macro_rules! begin {
    ($self:ident, $pool:ident) => {
        match &$self.pool {
            Pool::Sqlite(_) => $pool.begin_with("BEGIN IMMEDIATE").await?,
            Pool::Postgres(_) => $pool.begin().await?,
        }
    };
}

/// Raises the owner's change number in the transaction and evaluates to it.
macro_rules! bump {
    ($tx:ident, $owner:expr) => {{
        let row: (i64,) = sqlx::query_as(
            "INSERT INTO staff_calendars (owner, change_seq) VALUES ($1, 1) \
             ON CONFLICT (owner) DO UPDATE SET change_seq = staff_calendars.change_seq + 1 \
             RETURNING change_seq",
        )
        .bind($owner)
        .fetch_one(&mut *$tx)
        .await?;
        row.0
    }};
}

/// Replaces an object's room links in the transaction.
macro_rules! replace_links {
    ($tx:ident, $owner:expr, $name:expr, $links:expr) => {{
        sqlx::query("DELETE FROM staff_object_rooms WHERE owner = $1 AND name = $2")
            .bind($owner)
            .bind($name)
            .execute(&mut *$tx)
            .await?;
        for l in $links {
            sqlx::query(
                "INSERT INTO staff_object_rooms (owner, name, room_id, booking_id, fingerprint, answer) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind($owner)
            .bind($name)
            .bind(l.room_id.as_str())
            .bind(l.booking_id.as_deref())
            .bind(l.fingerprint.as_str())
            .bind(l.answer.as_str())
            .execute(&mut *$tx)
            .await?;
        }
    }};
}

impl Store {
    /// The owner's staff calendar change number (0 before its first write).
    pub async fn staff_change_seq(&self, owner: &str) -> Result<i64, StoreError> {
        let row: Option<(i64,)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT change_seq FROM staff_calendars WHERE owner = $1",
        )
        .bind(owner)
        .fetch_optional(pool)
        .await?);
        Ok(row.map(|r| r.0).unwrap_or(0))
    }

    /// The owner's live objects, by name.
    pub async fn staff_objects(&self, owner: &str) -> Result<Vec<StaffObject>, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_as(
            "SELECT name, uid, body, change_seq, updated_at FROM staff_objects \
             WHERE owner = $1 AND body IS NOT NULL ORDER BY name",
        )
        .bind(owner)
        .fetch_all(pool)
        .await?))
    }

    /// One live object.
    pub async fn staff_object(
        &self,
        owner: &str,
        name: &str,
    ) -> Result<Option<StaffObject>, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_as(
            "SELECT name, uid, body, change_seq, updated_at FROM staff_objects \
             WHERE owner = $1 AND name = $2 AND body IS NOT NULL",
        )
        .bind(owner)
        .bind(name)
        .fetch_optional(pool)
        .await?))
    }

    /// The name of the owner's live object with this UID.
    pub async fn staff_object_by_uid(
        &self,
        owner: &str,
        uid: &str,
    ) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT name FROM staff_objects WHERE owner = $1 AND uid = $2 AND body IS NOT NULL",
        )
        .bind(owner)
        .bind(uid)
        .fetch_optional(pool)
        .await?);
        Ok(row.map(|r| r.0))
    }

    /// The objects changed after `since`, deleted ones included, oldest change first.
    pub async fn staff_changes(
        &self,
        owner: &str,
        since: i64,
    ) -> Result<Vec<StaffChange>, StoreError> {
        let rows: Vec<(String, i64, i32)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT name, change_seq, CASE WHEN body IS NULL THEN 0 ELSE 1 END FROM staff_objects \
             WHERE owner = $1 AND change_seq > $2 ORDER BY change_seq, name",
        )
        .bind(owner)
        .bind(since)
        .fetch_all(pool)
        .await?);
        Ok(rows
            .into_iter()
            .map(|(name, change_seq, live)| StaffChange {
                name,
                change_seq,
                live: live == 1,
            })
            .collect())
    }

    /// The generation of an event for booking idempotency keys: the highest write number of
    /// the owner's objects, live or deleted, at this name or with this UID (0 if none). Every
    /// PUT and DELETE of such an object raises it; booking status changes (the audit trigger)
    /// never do, and deleting the object does not reset it.
    pub async fn staff_write_generation(
        &self,
        owner: &str,
        name: &str,
        uid: &str,
    ) -> Result<i64, StoreError> {
        let row: (Option<i64>,) = on_pool!(self, pool => sqlx::query_as(
            "SELECT MAX(write_seq) FROM staff_objects WHERE owner = $1 AND (name = $2 OR uid = $3)",
        )
        .bind(owner)
        .bind(name)
        .bind(uid)
        .fetch_one(pool)
        .await?);
        Ok(row.0.unwrap_or(0))
    }

    /// The rooms an object invites.
    pub async fn staff_links(&self, owner: &str, name: &str) -> Result<Vec<RoomLink>, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_as(
            "SELECT room_id, booking_id, fingerprint, answer FROM staff_object_rooms \
             WHERE owner = $1 AND name = $2 ORDER BY room_id",
        )
        .bind(owner)
        .bind(name)
        .fetch_all(pool)
        .await?))
    }

    /// Creates or replaces an object with its room links, in one transaction; returns its new
    /// change number.
    pub async fn put_staff_object(
        &self,
        owner: &str,
        name: &str,
        uid: &str,
        body: &str,
        links: &[RoomLink],
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let seq = on_pool!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = begin!(self, pool);
            let seq = bump!(tx, owner);
            sqlx::query(
                "INSERT INTO staff_objects (owner, name, uid, body, change_seq, updated_at, write_seq) \
                 VALUES ($1, $2, $3, $4, $5, $6, $5) ON CONFLICT (owner, name) DO UPDATE SET \
                 uid = excluded.uid, body = excluded.body, change_seq = excluded.change_seq, \
                 updated_at = excluded.updated_at, write_seq = excluded.write_seq",
            )
            .bind(owner)
            .bind(name)
            .bind(uid)
            .bind(body)
            .bind(seq)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(unique_to_duplicate)?;
            replace_links!(tx, owner, name, links);
            tx.commit().await?;
            seq
        });
        Ok(seq)
    }

    /// Deletes an object, leaving a tombstone; false if there was no live object.
    pub async fn delete_staff_object(
        &self,
        owner: &str,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = on_pool!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = begin!(self, pool);
            let seq = bump!(tx, owner);
            let n = sqlx::query(
                "UPDATE staff_objects SET body = NULL, change_seq = $3, updated_at = $4, write_seq = $3 \
                 WHERE owner = $1 AND name = $2 AND body IS NOT NULL",
            )
            .bind(owner)
            .bind(name)
            .bind(seq)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 1 {
                replace_links!(tx, owner, name, &[] as &[RoomLink]);
                tx.commit().await?;
            } else {
                tx.rollback().await?;
            }
            n == 1
        });
        Ok(done)
    }

    /// Puts an iTIP message into an owner's schedule inbox.
    pub async fn add_inbox_item(
        &self,
        owner: &str,
        name: &str,
        body: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let _turn = self.write_turn().await;
            sqlx::query(
                "INSERT INTO schedule_inbox (owner, name, body, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(owner)
            .bind(name)
            .bind(body)
            .bind(now)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The messages in an owner's schedule inbox, oldest first.
    pub async fn inbox_items(&self, owner: &str) -> Result<Vec<InboxItem>, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_as(
            "SELECT name, body, created_at FROM schedule_inbox WHERE owner = $1 ORDER BY created_at, name",
        )
        .bind(owner)
        .fetch_all(pool)
        .await?))
    }

    /// Removes a message from the inbox; false if there was none.
    pub async fn delete_inbox_item(&self, owner: &str, name: &str) -> Result<bool, StoreError> {
        let n = on_pool!(self, pool => {
            let _turn = self.write_turn().await;
            sqlx::query("DELETE FROM schedule_inbox WHERE owner = $1 AND name = $2")
                .bind(owner)
                .bind(name)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(n == 1)
    }
}

/// A second live object with the same UID: the partial unique index refused it.
fn unique_to_duplicate(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        return StoreError::DuplicateKey;
    }
    e.into()
}
