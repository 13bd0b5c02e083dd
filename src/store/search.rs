//! Finding bookings for clerks: by requester (name or a resident's email), room and date.
//!
//! User input reaches the database only as bound parameters; the text becomes a LIKE pattern
//! with `\`, `%` and `_` escaped. SQLite's LOWER folds ASCII only, so letters outside ASCII
//! that have another case match any one character here, and the caller checks the exact
//! (case-folded) match afterwards.

use chrono::{DateTime, Utc};

use super::booking::{BookingRow, booking_from_row};
use super::{BookingRecord, Pool, Store, StoreError};
use crate::scheduling::Interval;

/// What to look for. Rooms are required (a clerk's rooms); the rest is optional.
#[derive(Clone, Debug, Default)]
pub struct SearchFilter {
    pub room_ids: Vec<String>,
    /// Lower-case text found in the requester's name or email.
    pub text: Option<String>,
    /// A booking with a date overlapping this window.
    pub window: Option<Interval>,
    pub limit: usize,
}

#[derive(sqlx::FromRow)]
struct FoundRow {
    #[sqlx(flatten)]
    booking: BookingRow,
    email: Option<String>,
}

/// A LIKE pattern (with `ESCAPE '\'`) for text anywhere in a lower-cased value.
pub fn like_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.chars() {
        match c {
            '\\' | '%' | '_' => {
                p.push('\\');
                p.push(c);
            }
            c if !c.is_ascii() && c.to_uppercase().ne(c.to_lowercase()) => p.push('_'),
            c => p.extend(c.to_lowercase()),
        }
    }
    p.push('%');
    p
}

impl Store {
    /// Bookings matching `filter`, newest first, each with the requester's email when the
    /// requester is a resident.
    pub async fn search_bookings(
        &self,
        filter: &SearchFilter,
    ) -> Result<Vec<(BookingRecord, Option<String>)>, StoreError> {
        if filter.room_ids.is_empty() || filter.limit == 0 {
            return Ok(Vec::new());
        }
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        let rooms: Vec<String> = filter.room_ids.iter().map(|_| next()).collect();
        let mut sql = format!(
            "SELECT b.id, b.room_id, b.requester_id, b.requester_name, b.purpose, b.attendees, \
             b.local_start, b.local_end, b.time_zone, b.recurrence, b.on_conflict, b.status, \
             b.status_reason, b.hold_until, b.reasons, b.created_at, b.updated_at, r.email \
             FROM bookings b LEFT JOIN residents r ON b.requester_id = 'resident:' || r.id \
             WHERE b.room_id IN ({})",
            rooms.join(", ")
        );
        let pattern = filter.text.as_deref().map(like_pattern);
        if pattern.is_some() {
            let p = next();
            sql.push_str(&format!(
                " AND (LOWER(b.requester_name) LIKE {p} ESCAPE '\\' \
                 OR LOWER(COALESCE(r.email, '')) LIKE {p} ESCAPE '\\')"
            ));
        }
        let window: Option<(DateTime<Utc>, DateTime<Utc>)> =
            filter.window.map(|w| (w.start(), w.end()));
        if window.is_some() {
            let (from, to) = (next(), next());
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM occurrences o WHERE o.booking_id = b.id \
                 AND o.start_at < {to} AND o.end_at > {from})"
            ));
        }
        let limit = next();
        sql.push_str(&format!(" ORDER BY b.created_at DESC, b.id LIMIT {limit}"));
        let limit = i64::try_from(filter.limit).unwrap_or(i64::MAX);
        let rows: Vec<FoundRow> = on_pool!(self, pool => {
            let mut q = sqlx::query_as(&sql);
            for id in &filter.room_ids {
                q = q.bind(id.clone());
            }
            if let Some(p) = &pattern {
                q = q.bind(p.clone());
            }
            if let Some((from, to)) = window {
                q = q.bind(from).bind(to);
            }
            q.bind(limit).fetch_all(pool).await?
        });
        let emails: Vec<Option<String>> = rows.iter().map(|r| r.email.clone()).collect();
        let bookings = self
            .attach_occurrences(
                rows.into_iter()
                    .map(|r| booking_from_row(r.booking))
                    .collect(),
            )
            .await?;
        Ok(bookings.into_iter().zip(emails).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn wildcards_in_the_text_are_taken_literally() {
        assert_eq!(like_pattern("a%b_c\\"), "%a\\%b\\_c\\\\%");
        assert_eq!(like_pattern("Kari"), "%kari%");
        // Letters outside ASCII with another case match any one character.
        assert_eq!(like_pattern("Øy"), "%_y%");
    }
}
