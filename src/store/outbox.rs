//! Notification deliveries (migration 0007): the outbox fanned out into one delivery per
//! destination, and the leases, retries and dead letters of sending them.
//!
//! Invariants, on both backends:
//! - an outbox row is fanned out exactly once: its deliveries are inserted in the same
//!   transaction that stamps `outbox.delivered_at` (which means "fanned out", not "received"),
//!   and only if it was still unstamped; a second instance racing for the same row inserts
//!   nothing (and `message_id` is unique besides);
//! - a delivery is claimed by taking a lease (`locked_until`) with one conditional update, so
//!   several instances on one PostgreSQL never send the same delivery at the same time while
//!   the lease runs (`FOR UPDATE SKIP LOCKED` keeps them from waiting on each other); a lease
//!   that runs out (the instance died) makes the delivery due again, so nothing is lost;
//! - a delivery is marked delivered only after the receiver accepted it (at least once);
//! - a clerk's digest collects new requests while it is pending and has never been claimed;
//!   once claimed it takes no more items, also after a failed attempt (its items and
//!   Message-ID stay as sent; later requests open a new digest);
//! - a clerk's retry never clears a lease that is still running (that would let a second
//!   worker send the delivery while the first is still at it).
//!
//! Throughput (issue 15): the worker fans out a batch of outbox rows in one transaction
//! ([`Store::fan_out_batch`]), claims a batch of deliveries per query, per lane (mail or
//! webhooks, [`Lane`], so that a slow SMTP server never holds up webhooks nor the reverse), and
//! records a batch of outcomes in one transaction ([`Store::record_attempts`]): a few commits
//! per hundred mails, not three per mail. On PostgreSQL every new outbox row also sends a
//! `NOTIFY lokal_outbox` (migration 0011), which [`OutboxListener`] hears, so that the
//! workers of every instance wake up, not only the one that wrote the row.

use chrono::{DateTime, TimeDelta, Utc};

use super::booking::{BookingRecord, BookingRow, SELECT_BOOKINGS, booking_from_row};
use super::{
    Pool, ResidentRecord, RoomRow, SELECT_ROOMS, Store, StoreError, StoredRoom, room_from_row,
};

/// One row of the outbox, not yet fanned out.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct OutboxEvent {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    /// `booking.<to status>`.
    pub kind: String,
    pub booking_id: Option<String>,
    /// JSON: `{booking_id, from, to, actor, reason}`.
    pub payload: String,
}

/// One destination of an outbox event, decided by the notifier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDelivery {
    pub booking_id: Option<String>,
    pub room_id: Option<String>,
    /// `booking.requested`, `booking.approved`, …
    pub event: String,
    /// `email` or `webhook`.
    pub channel: String,
    pub target: String,
    pub lang: String,
    pub message_id: String,
    /// A webhook's body, fixed now so that every attempt sends the same bytes.
    pub body: Option<String>,
}

/// A new request for a clerk's digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestEntry {
    /// The clerk's address and name.
    pub target: String,
    pub name: String,
    pub lang: String,
    pub booking_id: String,
    /// When a new digest for this clerk is sent (the collecting window's end).
    pub due: DateTime<Utc>,
    /// The message id of a new digest.
    pub message_id: String,
}

/// One outbox row's fan-out: its deliveries and digest entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FanOut {
    pub outbox_id: i64,
    pub deliveries: Vec<NewDelivery>,
    pub digests: Vec<DigestEntry>,
}

/// Which deliveries a sender claims: each lane has its own senders, so that one slow receiver
/// (a dead SMTP server, a webhook that times out) never holds up the other kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// Every channel.
    All,
    /// Mails: `email` and `digest`.
    Mail,
    /// `webhook`.
    Webhooks,
}

impl Lane {
    fn condition(self) -> &'static str {
        match self {
            Lane::All => "",
            Lane::Mail => " AND channel <> 'webhook'",
            Lane::Webhooks => " AND channel = 'webhook'",
        }
    }
}

/// What one attempt at a delivery came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The receiver accepted it.
    Delivered,
    /// It failed: tried again at `retry_at`, or dead when `None`.
    Failed {
        error: String,
        retry_at: Option<DateTime<Utc>>,
    },
}

/// The outcome of an attempt at delivery `id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub id: i64,
    pub outcome: AttemptOutcome,
}

/// The PostgreSQL channel migration 0011's trigger notifies for every new outbox row.
pub const OUTBOX_CHANNEL: &str = "lokal_outbox";

/// A PostgreSQL connection that LISTENs on [`OUTBOX_CHANNEL`]; it holds one connection of the
/// pool for as long as it lives.
pub struct OutboxListener(sqlx::postgres::PgListener);

impl OutboxListener {
    /// Waits for the next notice. `Ok(false)` when the connection was lost and made again:
    /// notices sent meanwhile are gone, so the caller should look at the outbox anyway.
    pub async fn next(&mut self) -> Result<bool, StoreError> {
        Ok(self.0.try_recv().await?.is_some())
    }
}

/// A delivery as stored.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct DeliveryRecord {
    pub id: i64,
    pub outbox_id: Option<i64>,
    pub booking_id: Option<String>,
    pub room_id: Option<String>,
    pub event: String,
    pub channel: String,
    pub target: String,
    pub lang: String,
    pub message_id: String,
    /// A webhook's body; for a digest, the recipient's name.
    pub body: Option<String>,
    /// A digest's booking ids, as JSON.
    pub items: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub locked_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl DeliveryRecord {
    /// A digest's booking ids.
    pub fn digest_items(&self) -> Vec<String> {
        serde_json::from_str(&self.items).unwrap_or_default()
    }
}

/// Errors can quote a receiver's body: the stored text is kept short.
fn short_error(error: &str) -> String {
    error.chars().take(500).collect()
}

const DELIVERY_COLUMNS: &str = "id, outbox_id, booking_id, room_id, event, channel, target, lang, \
     message_id, body, items, status, attempts, next_attempt_at, locked_until, last_error, \
     created_at, delivered_at";

/// A resident's address, name and language, for their mails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResidentContact {
    pub email: String,
    pub name: String,
    pub lang: String,
}

macro_rules! begin_write {
    ($self:ident, $pool:ident) => {
        match &$self.pool {
            Pool::Sqlite(_) => $pool.begin_with("BEGIN IMMEDIATE").await?,
            Pool::Postgres(_) => $pool.begin().await?,
        }
    };
}

impl Store {
    /// Outbox rows not fanned out yet, oldest first.
    pub async fn unfanned(&self, limit: i64) -> Result<Vec<OutboxEvent>, StoreError> {
        self.unfanned_after(0, limit).await
    }

    /// Up to `limit` outbox rows not yet fanned out whose id is above `after`, oldest first:
    /// a round pages with this so that rows it could not fan out don't hide later ones.
    pub async fn unfanned_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        let rows = on_pool!(self, pool => sqlx::query_as(
            "SELECT id, created_at, kind, booking_id, payload FROM outbox \
             WHERE delivered_at IS NULL AND id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(pool)
        .await?);
        Ok(rows)
    }

    /// Fans one outbox row out: inserts its deliveries, adds its digest entries, and stamps
    /// the row, in one transaction. `false` (and nothing written) when the row was fanned out
    /// already, by another instance.
    pub async fn fan_out(
        &self,
        outbox_id: i64,
        deliveries: &[NewDelivery],
        digests: &[DigestEntry],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let one = FanOut {
            outbox_id,
            deliveries: deliveries.to_vec(),
            digests: digests.to_vec(),
        };
        Ok(self.fan_out_batch(std::slice::from_ref(&one), now).await? == 1)
    }

    /// Fans out several outbox rows in one transaction, each as [`Store::fan_out`] does (a
    /// row already stamped, by another instance, gets nothing). The number of rows this call
    /// stamped. Rows are taken in id order, so two instances racing over the same rows on
    /// PostgreSQL lock them in the same order and never deadlock.
    pub async fn fan_out_batch(
        &self,
        batch: &[FanOut],
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        if batch.is_empty() {
            return Ok(0);
        }
        let mut order: Vec<&FanOut> = batch.iter().collect();
        order.sort_by_key(|f| f.outbox_id);
        let mut stamped_rows = 0;
        on_pool!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = begin_write!(self, pool);
            for f in &order {
            let (outbox_id, deliveries, digests) = (f.outbox_id, &f.deliveries, &f.digests);
            // First, so that on PostgreSQL a racing instance waits here and then finds the row
            // stamped.
            let stamped = sqlx::query(
                "UPDATE outbox SET delivered_at = $1 WHERE id = $2 AND delivered_at IS NULL",
            )
            .bind(now)
            .bind(outbox_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if stamped != 1 {
                continue;
            }
            stamped_rows += 1;
            for d in deliveries {
                sqlx::query(
                    "INSERT INTO deliveries (outbox_id, booking_id, room_id, event, channel, target, lang, \
                     message_id, body, status, attempts, next_attempt_at, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', 0, $10, $10) \
                     ON CONFLICT (message_id) DO NOTHING",
                )
                .bind(outbox_id)
                .bind(&d.booking_id)
                .bind(&d.room_id)
                .bind(&d.event)
                .bind(&d.channel)
                .bind(&d.target)
                .bind(&d.lang)
                .bind(&d.message_id)
                .bind(&d.body)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            for e in digests {
                // An open digest: pending and never attempted. A claimed one is being sent; a
                // failed one keeps its Message-ID for the retry, so it must not grow (a retry
                // with more items under the same Message-ID would be deduplicated away by some
                // clients). New items open a new digest instead.
                let open: Option<(i64, String)> = sqlx::query_as(
                    "SELECT id, items FROM deliveries WHERE channel = 'digest' AND target = $1 \
                     AND status = 'pending' AND locked_until IS NULL AND attempts = 0 \
                     AND last_error IS NULL ORDER BY id LIMIT 1",
                )
                .bind(&e.target)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some((id, items)) = open {
                    let mut list: Vec<String> = serde_json::from_str(&items).unwrap_or_default();
                    if !list.contains(&e.booking_id) {
                        list.push(e.booking_id.clone());
                    }
                    let grown = serde_json::to_string(&list).unwrap_or_else(|_| "[]".into());
                    // Guarded again: a claim between the read and this update wins, and so does
                    // another instance that added its item first (the list read here would
                    // drop that item); either way this item opens a digest of its own below.
                    let added = sqlx::query(
                        "UPDATE deliveries SET items = $1 WHERE id = $2 AND items = $3 \
                         AND locked_until IS NULL AND attempts = 0 AND last_error IS NULL",
                    )
                    .bind(&grown)
                    .bind(id)
                    .bind(&items)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if added == 1 {
                        continue;
                    }
                }
                let items = serde_json::to_string(&[&e.booking_id]).unwrap_or_else(|_| "[]".into());
                sqlx::query(
                    "INSERT INTO deliveries (outbox_id, booking_id, room_id, event, channel, target, lang, \
                     message_id, body, items, status, attempts, next_attempt_at, created_at) \
                     VALUES (NULL, NULL, NULL, 'digest', 'digest', $1, $2, $3, $7, $4, 'pending', 0, $5, $6) \
                     ON CONFLICT (message_id) DO NOTHING",
                )
                .bind(&e.target)
                .bind(&e.lang)
                .bind(&e.message_id)
                .bind(&items)
                .bind(e.due)
                .bind(now)
                .bind(&e.name)
                .execute(&mut *tx)
                .await?;
            }
            }
            tx.commit().await?;
        });
        Ok(stamped_rows)
    }

    /// Claims up to `limit` due deliveries for `lease`: each comes back with its attempt
    /// counted and leased to the caller until `now + lease`.
    pub async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease: TimeDelta,
        limit: i64,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.claim_due_in(Lane::All, now, lease, limit).await
    }

    /// [`Store::claim_due`] for the deliveries of one lane.
    pub async fn claim_due_in(
        &self,
        lane: Lane,
        now: DateTime<Utc>,
        lease: TimeDelta,
        limit: i64,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let lane = lane.condition();
        let until = now.checked_add_signed(lease).unwrap_or(now);
        let rows: Vec<DeliveryRecord> = match &self.pool {
            Pool::Sqlite(pool) => {
                // One writer at a time on SQLite: the select and the update cannot interleave
                // with another claim.
                let _turn = self.write_turn().await;
                sqlx::query_as(&format!(
                    "UPDATE deliveries SET locked_until = $1, attempts = attempts + 1 \
                     WHERE id IN (SELECT id FROM deliveries WHERE status = 'pending' \
                     AND next_attempt_at <= $2 AND (locked_until IS NULL OR locked_until <= $2){lane} \
                     ORDER BY next_attempt_at, id LIMIT $3) \
                     RETURNING {DELIVERY_COLUMNS}"
                ))
                .bind(until)
                .bind(now)
                .bind(limit)
                .fetch_all(pool)
                .await?
            }
            Pool::Postgres(pool) => {
                sqlx::query_as(&format!(
                    "UPDATE deliveries SET locked_until = $1, attempts = attempts + 1 \
                     WHERE id IN (SELECT id FROM deliveries WHERE status = 'pending' \
                     AND next_attempt_at <= $2 AND (locked_until IS NULL OR locked_until <= $2){lane} \
                     ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
                     RETURNING {DELIVERY_COLUMNS}"
                ))
                .bind(until)
                .bind(now)
                .bind(limit)
                .fetch_all(pool)
                .await?
            }
        };
        let mut rows = rows;
        rows.sort_by_key(|d| (d.next_attempt_at, d.id));
        Ok(rows)
    }

    /// The receiver accepted the delivery.
    pub async fn mark_delivered(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let _turn = self.write_turn().await;
            sqlx::query(
                "UPDATE deliveries SET status = 'delivered', delivered_at = $1, locked_until = NULL, \
                 last_error = NULL WHERE id = $2 AND status = 'pending'",
            )
            .bind(now)
            .bind(id)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The attempt failed: due again at `retry_at`, or dead when `None`.
    pub async fn mark_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let error = short_error(error);
        on_pool!(self, pool => {
            let _turn = self.write_turn().await;
            match retry_at {
                Some(at) => sqlx::query(
                    "UPDATE deliveries SET next_attempt_at = $1, locked_until = NULL, last_error = $2 \
                     WHERE id = $3 AND status = 'pending'",
                )
                .bind(at)
                .bind(&error)
                .bind(id)
                .execute(pool)
                .await?,
                None => sqlx::query(
                    "UPDATE deliveries SET status = 'dead', locked_until = NULL, last_error = $1 \
                     WHERE id = $2 AND status = 'pending'",
                )
                .bind(&error)
                .bind(id)
                .execute(pool)
                .await?,
            };
        });
        Ok(())
    }

    /// Records the outcomes of several attempts in one transaction, each as
    /// [`Store::mark_delivered`] or [`Store::mark_failed`] would.
    pub async fn record_attempts(
        &self,
        attempts: &[Attempt],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if attempts.is_empty() {
            return Ok(());
        }
        on_pool!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = begin_write!(self, pool);
            for a in attempts {
                match &a.outcome {
                    AttemptOutcome::Delivered => sqlx::query(
                        "UPDATE deliveries SET status = 'delivered', delivered_at = $1, locked_until = NULL, \
                         last_error = NULL WHERE id = $2 AND status = 'pending'",
                    )
                    .bind(now)
                    .bind(a.id)
                    .execute(&mut *tx)
                    .await?,
                    AttemptOutcome::Failed { error, retry_at: Some(at) } => sqlx::query(
                        "UPDATE deliveries SET next_attempt_at = $1, locked_until = NULL, last_error = $2 \
                         WHERE id = $3 AND status = 'pending'",
                    )
                    .bind(at)
                    .bind(short_error(error))
                    .bind(a.id)
                    .execute(&mut *tx)
                    .await?,
                    AttemptOutcome::Failed { error, retry_at: None } => sqlx::query(
                        "UPDATE deliveries SET status = 'dead', locked_until = NULL, last_error = $1 \
                         WHERE id = $2 AND status = 'pending'",
                    )
                    .bind(short_error(error))
                    .bind(a.id)
                    .execute(&mut *tx)
                    .await?,
                };
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// A listener for new outbox rows on PostgreSQL; `None` on SQLite, where only the writing
    /// process can know (it wakes its own worker; see `booking::Bookings::outbox_signal`).
    pub async fn outbox_listener(&self) -> Result<Option<OutboxListener>, StoreError> {
        match &self.pool {
            Pool::Sqlite(_) => Ok(None),
            Pool::Postgres(pool) => {
                let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
                listener.listen(OUTBOX_CHANNEL).await?;
                Ok(Some(OutboxListener(listener)))
            }
        }
    }

    /// How many outbox rows wait to be fanned out, and how many deliveries are pending (due
    /// or not): the notification backlog, for operators and the mail bench.
    pub async fn notification_backlog(&self) -> Result<(i64, i64), StoreError> {
        let row: (i64, i64) = on_pool!(self, pool => sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL), \
             (SELECT COUNT(*) FROM deliveries WHERE status = 'pending')",
        )
        .fetch_one(pool)
        .await?);
        Ok(row)
    }

    /// Deliveries the clerks of these rooms should see: dead ones, and pending ones that
    /// have failed at least once. Newest first.
    pub async fn troubled_deliveries(
        &self,
        room_ids: &[String],
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        if room_ids.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (1..=room_ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE room_id IN ({}) \
             AND (status = 'dead' OR (status = 'pending' AND last_error IS NOT NULL)) \
             ORDER BY created_at DESC, id DESC LIMIT 500",
            marks.join(", ")
        );
        let rows = on_pool!(self, pool => {
            let mut q = sqlx::query_as(&sql);
            for id in room_ids {
                q = q.bind(id);
            }
            q.fetch_all(pool).await?
        });
        Ok(rows)
    }

    /// One delivery.
    pub async fn delivery(&self, id: i64) -> Result<Option<DeliveryRecord>, StoreError> {
        let row = on_pool!(self, pool => sqlx::query_as(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(pool)
        .await?);
        Ok(row)
    }

    /// Every delivery of a booking, oldest first.
    pub async fn deliveries_of(&self, booking_id: &str) -> Result<Vec<DeliveryRecord>, StoreError> {
        let rows = on_pool!(self, pool => sqlx::query_as(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE booking_id = $1 ORDER BY id"
        ))
        .bind(booking_id)
        .fetch_all(pool)
        .await?);
        Ok(rows)
    }

    /// Every delivery on a channel, oldest first (for operators and tests).
    pub async fn deliveries_on(&self, channel: &str) -> Result<Vec<DeliveryRecord>, StoreError> {
        let rows = on_pool!(self, pool => sqlx::query_as(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE channel = $1 ORDER BY id"
        ))
        .bind(channel)
        .fetch_all(pool)
        .await?);
        Ok(rows)
    }

    /// A clerk's retry of a dead or failing delivery: pending, due at `now`, with a fresh
    /// round of attempts. `false` when it was not dead or failing, or when a worker holds an
    /// unexpired lease on it (it is being sent right now; clearing the lease would let a
    /// second worker send it again).
    pub async fn retry_delivery(&self, id: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let n = on_pool!(self, pool => {
            let _turn = self.write_turn().await;
            sqlx::query(
                "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = $1, \
                 locked_until = NULL WHERE id = $2 \
                 AND (status = 'dead' OR (status = 'pending' AND last_error IS NOT NULL)) \
                 AND (locked_until IS NULL OR locked_until <= $1)",
            )
            .bind(now)
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    /// A resident's address, name and language, by id (without the `resident:` prefix).
    pub async fn resident_contact(&self, id: &str) -> Result<Option<ResidentContact>, StoreError> {
        let row: Option<(String, String, String)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT email, name, lang FROM residents WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await?);
        Ok(row.map(|(email, name, lang)| ResidentContact { email, name, lang }))
    }

    /// Sets the language a resident's mails are written in (`nb` or `en`).
    pub async fn set_resident_lang(&self, id: &str, lang: &str) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let _turn = self.write_turn().await;
            sqlx::query("UPDATE residents SET lang = $1 WHERE id = $2")
                .bind(lang)
                .bind(id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Registers a resident with the language of their mails (`nb` or `en`), in one
    /// transaction: the account never exists without its language. [`StoreError::DuplicateKey`]
    /// when the email is taken.
    pub async fn add_resident_with_lang(
        &self,
        resident: &ResidentRecord,
        lang: &str,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = begin_write!(self, pool);
            sqlx::query(
                "INSERT INTO residents (id, email, name, password_hash, created_at, lang) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&resident.id)
            .bind(&resident.email)
            .bind(&resident.name)
            .bind(&resident.password_hash)
            .bind(resident.created_at)
            .bind(lang)
            .execute(&mut *tx)
            .await
            .map_err(super::booking::map_insert_error)?;
            tx.commit().await?;
        });
        Ok(())
    }

    // --- what the notifier needs about many events at once (issue 15: one query per page or
    // batch, not four per mail) ---

    /// The bookings with these ids (with their occurrences); missing ids are left out.
    pub async fn bookings_by_ids(&self, ids: &[String]) -> Result<Vec<BookingRecord>, StoreError> {
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IN_CHUNK) {
            let sql = format!(
                "{SELECT_BOOKINGS} WHERE id IN ({})",
                placeholders(chunk.len())
            );
            let rows: Vec<BookingRow> = on_pool!(self, pool => {
                let mut q = sqlx::query_as(&sql);
                for id in chunk {
                    q = q.bind(id);
                }
                q.fetch_all(pool).await?
            });
            found.extend(rows.into_iter().map(booking_from_row));
        }
        self.attach_occurrences(found).await
    }

    /// The rooms with these ids, retired or not; missing ids are left out.
    pub async fn rooms_by_ids(&self, ids: &[String]) -> Result<Vec<StoredRoom>, StoreError> {
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IN_CHUNK) {
            let sql = format!("{SELECT_ROOMS} WHERE id IN ({})", placeholders(chunk.len()));
            let rows: Vec<RoomRow> = on_pool!(self, pool => {
                let mut q = sqlx::query_as(&sql);
                for id in chunk {
                    q = q.bind(id);
                }
                q.fetch_all(pool).await?
            });
            found.extend(rows.into_iter().map(room_from_row));
        }
        Ok(found)
    }

    /// The contacts of these residents (ids without `resident:`), by id.
    pub async fn resident_contacts(
        &self,
        ids: &[String],
    ) -> Result<Vec<(String, ResidentContact)>, StoreError> {
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT id, email, name, lang FROM residents WHERE id IN ({})",
                placeholders(chunk.len())
            );
            let rows: Vec<(String, String, String, String)> = on_pool!(self, pool => {
                let mut q = sqlx::query_as(&sql);
                for id in chunk {
                    q = q.bind(id);
                }
                q.fetch_all(pool).await?
            });
            found.extend(
                rows.into_iter()
                    .map(|(id, email, name, lang)| (id, ResidentContact { email, name, lang })),
            );
        }
        Ok(found)
    }

    /// The audit rows about these whole bookings that told somebody, oldest first:
    /// `(booking id, to status, reason)`.
    pub async fn reasons_of(
        &self,
        booking_ids: &[String],
    ) -> Result<Vec<(String, String, Option<String>)>, StoreError> {
        let mut found = Vec::new();
        for chunk in booking_ids.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT booking_id, to_status, reason FROM audit WHERE booking_id IN ({}) AND seq IS NULL AND NOT quiet ORDER BY id",
                placeholders(chunk.len())
            );
            let rows: Vec<(String, String, Option<String>)> = on_pool!(self, pool => {
                let mut q = sqlx::query_as(&sql);
                for id in chunk {
                    q = q.bind(id);
                }
                q.fetch_all(pool).await?
            });
            found.extend(rows);
        }
        Ok(found)
    }
}

/// Ids per `IN (...)` query: well under SQLite's 32,766 parameters and PostgreSQL's 65,535.
const IN_CHUNK: usize = 500;

/// `$1, $2, … $n`.
fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}
