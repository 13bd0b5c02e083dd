//! Closures that touch bookings (issue 16): which bookings a clerk's closure hits, and what the
//! clerk chose for each (`closure_decisions`, migration 0016).
//!
//! A closure of a room hits the bookings that block one of the room's physical parts (a closed
//! half hits the whole hall's bookings, a closed hall its halves'), as `closures_for` closes
//! them; a closure of a building hits those of every room in it. A date is hit when its own
//! time (not its buffers) overlaps the closure: the rule the core refuses new requests by.
//! The lists are bounded: the caller asks for at most `limit` bookings and is told how many
//! there are in all.

use chrono::{DateTime, Utc};

use super::booking::MAX_BLOCK;
use super::booking::{ClosureRecord, ClosureRow, SELECT_CLOSURES, closure_from_row};
use super::{Pool, Store, StoreError};
use crate::scheduling::Interval;

/// A clerk's choice about one date a closure hit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClosureDecisionRecord {
    pub closure_id: String,
    pub booking_id: String,
    pub seq: i64,
    /// `keep` or `cancel`.
    pub decision: String,
    /// The date's status when the clerk chose (`approved` or `pending`).
    pub status: String,
    /// For `keep`, why; for `cancel`, the message the requester got.
    pub reason: String,
    pub actor: String,
    pub at: DateTime<Utc>,
}

/// The bookings a closure hits, first date first: at most the `limit` asked for, and how many
/// there are in all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClosureHits {
    pub booking_ids: Vec<String>,
    pub total: usize,
}

/// What to look for in [`Store::closure_hits`].
#[derive(Clone, Copy, Debug)]
pub struct HitQuery<'a> {
    /// The closure's rooms: one room, or a building's.
    pub rooms: &'a [String],
    /// The saved closure whose decided dates count as hit too (a date cancelled for it stays
    /// on its list); `None` for a closure not saved yet.
    pub closure_id: Option<&'a str>,
    pub window: Interval,
    /// Pending requests whose hold ran out by then do not count.
    pub now: DateTime<Utc>,
    /// Only bookings of these rooms (the rooms a clerk decides for); all when `None`.
    pub of_rooms: Option<&'a [String]>,
    /// Only this booking.
    pub booking: Option<&'a str>,
    /// Dates in any status count (a booking whose dates were cancelled meanwhile is still
    /// one the closure touches); otherwise only dates that hold their slot.
    pub any_status: bool,
    pub limit: usize,
}

type DecisionRow = (
    String,
    String,
    i64,
    String,
    String,
    String,
    String,
    DateTime<Utc>,
);

const SELECT_DECISIONS: &str = "SELECT closure_id, booking_id, seq, decision, status, reason, actor, at FROM closure_decisions";

fn decision_from_row(r: DecisionRow) -> ClosureDecisionRecord {
    ClosureDecisionRecord {
        closure_id: r.0,
        booking_id: r.1,
        seq: r.2,
        decision: r.3,
        status: r.4,
        reason: r.5,
        actor: r.6,
        at: r.7,
    }
}

/// `$first`, `$first+1`, … for `n` values.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// One closure of a clerk's, by id.
    pub async fn closure(&self, id: &str) -> Result<Option<ClosureRecord>, StoreError> {
        let row: Option<ClosureRow> = on_pool!(self, pool => sqlx::query_as(&format!("{SELECT_CLOSURES} WHERE id = $1"))
            .bind(id)
            .fetch_optional(pool)
            .await?);
        Ok(row.map(closure_from_row))
    }

    /// The bookings a closure hits (see the module's header), first date first.
    pub async fn closure_hits(&self, q: HitQuery<'_>) -> Result<ClosureHits, StoreError> {
        if q.rooms.is_empty() || q.limit == 0 {
            return Ok(ClosureHits::default());
        }
        let (start, end) = (q.window.start(), q.window.end());
        // Every occurrence blocks at most MAX_BLOCK, so one overlapping `start` begins after
        // this: the (part, block_start) index bounds the scan.
        let earliest = start.checked_sub_signed(MAX_BLOCK).unwrap_or(start);
        let rooms = placeholders(8, q.rooms.len());
        let of_rooms = match q.of_rooms {
            Some([]) => return Ok(ClosureHits::default()),
            Some(list) => format!(
                "AND b.room_id IN ({})",
                placeholders(8 + q.rooms.len(), list.len())
            ),
            None => String::new(),
        };
        // One booking's hits (a clerk's choice) start from its own rows, by their key.
        let (only_o, only_d) = if q.booking.is_some() {
            ("AND o.booking_id = $6", "AND d.booking_id = $6")
        } else {
            ("AND $6 = ''", "")
        };
        let sql = format!(
            "WITH hit AS (\
             SELECT o.booking_id AS booking_id, o.start_at AS start_at \
             FROM occurrence_parts p JOIN occurrences o ON o.booking_id = p.booking_id AND o.seq = p.seq \
             JOIN bookings b ON b.id = o.booking_id \
             WHERE p.part_id IN (SELECT leaf_id FROM room_leaves WHERE room_id IN ({rooms})) \
             AND p.block_start > $1 AND p.block_start < $3 \
             AND o.start_at < $3 AND o.end_at > $2 \
             AND ($7 OR (p.status IN ('pending', 'approved') \
                  AND NOT (b.status = 'pending' AND b.hold_until IS NOT NULL AND b.hold_until <= $4))) \
             {only_o} {of_rooms} \
             UNION ALL \
             SELECT d.booking_id, o.start_at FROM closure_decisions d \
             JOIN occurrences o ON o.booking_id = d.booking_id AND o.seq = d.seq \
             JOIN bookings b ON b.id = d.booking_id \
             WHERE d.closure_id = $5 {only_d} {of_rooms}) \
             SELECT booking_id, COUNT(*) OVER () FROM hit GROUP BY booking_id \
             ORDER BY MIN(start_at), booking_id LIMIT {}",
            q.limit
        );
        let rows: Vec<(String, i64)> = on_pool!(self, pool => {
            let mut query = sqlx::query_as(&sql)
                .bind(earliest)
                .bind(start)
                .bind(end)
                .bind(q.now)
                .bind(q.closure_id.unwrap_or(""))
                .bind(q.booking.unwrap_or(""))
                .bind(q.any_status);
            for r in q.rooms {
                query = query.bind(r.as_str());
            }
            for r in q.of_rooms.unwrap_or(&[]) {
                query = query.bind(r.as_str());
            }
            query.fetch_all(pool).await?
        });
        let total = rows
            .first()
            .map_or(0, |r| usize::try_from(r.1).unwrap_or(usize::MAX));
        Ok(ClosureHits {
            booking_ids: rows.into_iter().map(|r| r.0).collect(),
            total,
        })
    }

    /// The choices made for a closure about these bookings, by booking and date.
    pub async fn closure_decisions(
        &self,
        closure_id: &str,
        booking_ids: &[String],
    ) -> Result<Vec<ClosureDecisionRecord>, StoreError> {
        let mut out = Vec::new();
        for chunk in booking_ids.chunks(500) {
            let sql = format!(
                "{SELECT_DECISIONS} WHERE closure_id = $1 AND booking_id IN ({}) ORDER BY booking_id, seq",
                placeholders(2, chunk.len())
            );
            let rows: Vec<DecisionRow> = on_pool!(self, pool => {
                let mut q = sqlx::query_as(&sql).bind(closure_id);
                for id in chunk {
                    q = q.bind(id.as_str());
                }
                q.fetch_all(pool).await?
            });
            out.extend(rows.into_iter().map(decision_from_row));
        }
        Ok(out)
    }

    /// The `keep` choices about a booking, any closure, oldest first: notes of its history.
    pub async fn kept_notes(
        &self,
        booking_id: &str,
    ) -> Result<Vec<ClosureDecisionRecord>, StoreError> {
        let rows: Vec<DecisionRow> = on_pool!(self, pool => sqlx::query_as(&format!(
            "{SELECT_DECISIONS} WHERE booking_id = $1 AND decision = 'keep' ORDER BY at, seq"
        ))
        .bind(booking_id)
        .fetch_all(pool)
        .await?);
        Ok(rows.into_iter().map(decision_from_row).collect())
    }

    /// Records choices, in one transaction. A date already decided for the closure keeps its
    /// first choice (a retry, or two clerks at once); gives how many rows were new.
    pub async fn add_closure_decisions(
        &self,
        rows: &[ClosureDecisionRecord],
    ) -> Result<u64, StoreError> {
        if rows.is_empty() {
            return Ok(0);
        }
        let mut added = 0;
        on_pool!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = match &self.pool {
                Pool::Sqlite(_) => pool.begin_with("BEGIN IMMEDIATE").await?,
                Pool::Postgres(_) => pool.begin().await?,
            };
            for r in rows {
                added += sqlx::query(
                    "INSERT INTO closure_decisions (closure_id, booking_id, seq, decision, status, reason, actor, at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (closure_id, booking_id, seq) DO NOTHING",
                )
                .bind(&r.closure_id)
                .bind(&r.booking_id)
                .bind(r.seq)
                .bind(&r.decision)
                .bind(&r.status)
                .bind(&r.reason)
                .bind(&r.actor)
                .bind(r.at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            tx.commit().await?;
        });
        Ok(added)
    }
}
