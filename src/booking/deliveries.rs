//! The delivery queue: the service between the notification worker (and the console's
//! notification page) and the store's outbox and deliveries (migrations 0003 and 0007).
//!
//! It owns two kinds of operations:
//! - the worker's: read new outbox rows, fan one out into its deliveries (one transaction with
//!   stamping the row), claim due deliveries with a lease, and record each attempt's outcome
//!   (delivered, or failed with the time of the next attempt, or dead); plus the reads a
//!   sender needs (the booking, its room, the resident's contact, the history's reasons);
//! - the clerks': list the deliveries about their rooms that failed, and retry one.
//!
//! Invariants:
//! - **a clerk sees and retries only deliveries about the rooms they decide for** (the rule of
//!   [`Bookings::clerk_rooms`]: the rooms whose approver group they are in; administrators all
//!   of them). A delivery about another room, or about no room (a clerk's digest), is "not
//!   found" to them, as elsewhere in the console: its existence is not revealed;
//! - a retry makes a dead or failing delivery pending and due now, with a fresh round of
//!   attempts, and never clears a lease that still runs (see `store::outbox`);
//! - times come from the injected clock.
//!
//! The faces never reach the store: the record types they get from here are re-exported.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use super::{BookingError, Bookings};
use crate::clock::Clock;
use crate::identity::Principal;
use crate::store::{AuditRecord, Store};

pub use crate::store::{
    Attempt, AttemptOutcome, BookingRecord, DeliveryRecord, DigestEntry, FanOut, Lane, NewDelivery,
    OutboxEvent, OutboxListener, ResidentContact, StoreError, StoredRoom,
};

/// The delivery queue service; cheap to make (`Deliveries::new(&state.bookings)`).
#[derive(Clone)]
pub struct Deliveries {
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
    bookings: Bookings,
}

/// What the worker needs to word the notifications about many bookings, read at once (a few
/// queries per page of events or batch of mails, not four per mail: issue 15). A cache: what
/// it lacks, the worker reads one by one.
#[derive(Clone, Debug, Default)]
pub struct NotifyFacts {
    bookings: HashMap<String, BookingRecord>,
    rooms: HashMap<String, StoredRoom>,
    contacts: HashMap<String, ResidentContact>,
    /// The reason of the latest change of a booking to a status: `(booking id, status)`.
    reasons: HashMap<(String, String), Option<String>>,
}

impl NotifyFacts {
    /// The booking, if it was read.
    pub fn booking(&self, id: &str) -> Option<&BookingRecord> {
        self.bookings.get(id)
    }

    /// The room, if it was read.
    pub fn room(&self, id: &str) -> Option<&StoredRoom> {
        self.rooms.get(id)
    }

    /// A resident's contact by id (without `resident:`), if it was read.
    pub fn contact(&self, resident_id: &str) -> Option<&ResidentContact> {
        self.contacts.get(resident_id)
    }

    /// The reason given with the latest change of a read booking to `status`: `None` when
    /// the booking was not read, `Some(None)` when that change had no reason.
    pub fn reason(&self, booking_id: &str, status: &str) -> Option<Option<&str>> {
        if !self.bookings.contains_key(booking_id) {
            return None;
        }
        Some(
            self.reasons
                .get(&(booking_id.to_owned(), status.to_owned()))
                .and_then(|r| r.as_deref()),
        )
    }
}

/// A delivery that failed, for the console, with the name of the room it is about.
#[derive(Clone, Debug)]
pub struct TroubledDelivery {
    pub delivery: DeliveryRecord,
    pub room_name: String,
}

/// Why a clerk's retry was refused.
#[derive(Debug, thiserror::Error)]
pub enum RetryRefused {
    /// No such delivery, or not about a room the clerk decides for.
    #[error("delivery {0} does not exist")]
    NotFound(i64),
    /// Not dead nor failing, or being sent right now.
    #[error("delivery {0} cannot be retried now")]
    NotRetryable(i64),
    #[error(transparent)]
    Unavailable(#[from] BookingError),
}

impl From<StoreError> for RetryRefused {
    fn from(e: StoreError) -> Self {
        RetryRefused::Unavailable(BookingError::from(e))
    }
}

impl Deliveries {
    pub fn new(bookings: &Bookings) -> Self {
        Deliveries {
            store: bookings.store.clone(),
            clock: bookings.clock.clone(),
            bookings: bookings.clone(),
        }
    }

    /// The clock the queue's due times follow.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    // --- the worker's side ---

    /// Outbox rows not fanned out yet with an id above `after`, oldest first, at most `limit`.
    pub async fn new_events_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        self.store.unfanned_after(after, limit).await
    }

    /// Fans an outbox row out into its deliveries and digest entries, in one transaction with
    /// stamping the row; a row already fanned out (by another instance) gets nothing more.
    pub async fn fan_out(
        &self,
        event_id: i64,
        deliveries: &[NewDelivery],
        digests: &[DigestEntry],
    ) -> Result<(), StoreError> {
        self.store
            .fan_out(event_id, deliveries, digests, self.clock.now())
            .await
            .map(|_| ())
    }

    /// Fans out several outbox rows in one transaction (see [`Deliveries::fan_out`]); the
    /// number of rows stamped by this call.
    pub async fn fan_out_batch(&self, batch: &[FanOut]) -> Result<usize, StoreError> {
        self.store.fan_out_batch(batch, self.clock.now()).await
    }

    /// Claims up to `limit` due deliveries for `lease`.
    pub async fn claim_due(
        &self,
        lease: TimeDelta,
        limit: i64,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.store.claim_due(self.clock.now(), lease, limit).await
    }

    /// Claims up to `limit` due deliveries of one lane for `lease`.
    pub async fn claim_due_in(
        &self,
        lane: Lane,
        lease: TimeDelta,
        limit: i64,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.store
            .claim_due_in(lane, self.clock.now(), lease, limit)
            .await
    }

    /// Records the outcomes of several attempts in one transaction.
    pub async fn record(&self, attempts: &[Attempt]) -> Result<(), StoreError> {
        self.store.record_attempts(attempts, self.clock.now()).await
    }

    /// Hears new outbox rows written by any instance (PostgreSQL); `None` on SQLite.
    pub async fn listener(&self) -> Result<Option<OutboxListener>, StoreError> {
        self.store.outbox_listener().await
    }

    /// Outbox rows not fanned out yet, and deliveries pending.
    pub async fn backlog(&self) -> Result<(i64, i64), StoreError> {
        self.store.notification_backlog().await
    }

    /// The receiver accepted delivery `id`.
    pub async fn delivered(&self, id: i64) -> Result<(), StoreError> {
        self.store.mark_delivered(id, self.clock.now()).await
    }

    /// An attempt failed: tried again at `retry_at`, or dead (`None`).
    pub async fn failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        self.store.mark_failed(id, error, retry_at).await
    }

    /// The bookings with these ids, their rooms, their residents' contacts and the reasons of
    /// their changes, in four queries (per 500 bookings).
    pub async fn facts(&self, booking_ids: &[String]) -> Result<NotifyFacts, StoreError> {
        let mut ids: Vec<String> = booking_ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let bookings = self.store.bookings_by_ids(&ids).await?;
        let mut room_ids: Vec<String> = bookings.iter().map(|b| b.room_id.clone()).collect();
        room_ids.sort_unstable();
        room_ids.dedup();
        let mut residents: Vec<String> = bookings
            .iter()
            .filter_map(|b| b.requester_id.strip_prefix("resident:").map(str::to_owned))
            .collect();
        residents.sort_unstable();
        residents.dedup();
        let rooms = self.store.rooms_by_ids(&room_ids).await?;
        let contacts = self.store.resident_contacts(&residents).await?;
        let reasons = self.store.reasons_of(&ids).await?;
        Ok(NotifyFacts {
            bookings: bookings.into_iter().map(|b| (b.id.clone(), b)).collect(),
            rooms: rooms.into_iter().map(|r| (r.room.id.clone(), r)).collect(),
            contacts: contacts.into_iter().collect(),
            // Oldest first: the latest change to a status wins.
            reasons: reasons
                .into_iter()
                .map(|(booking, to, reason)| ((booking, to), reason))
                .collect(),
        })
    }

    /// A booking, as the store has it (for the sender of a notification about it).
    pub async fn booking(&self, id: &str) -> Result<Option<BookingRecord>, StoreError> {
        self.store.booking(id).await
    }

    /// A room, retired or not.
    pub async fn room(&self, id: &str) -> Result<Option<StoredRoom>, StoreError> {
        self.store.room(id).await
    }

    /// A resident's address, name and mail language, by id (without `resident:`).
    pub async fn resident_contact(&self, id: &str) -> Result<Option<ResidentContact>, StoreError> {
        self.store.resident_contact(id).await
    }

    /// The reason given with the latest change of a booking to `status` (a rejection's, a
    /// cancellation's note), if any.
    pub async fn reason_for(
        &self,
        booking_id: &str,
        status: &str,
    ) -> Result<Option<String>, StoreError> {
        let history: Vec<AuditRecord> = self.store.history(booking_id).await?;
        Ok(history
            .into_iter()
            .rev()
            .find(|a| a.to == status && a.seq.is_none())
            .and_then(|a| a.reason))
    }

    // --- the clerks' side ---

    /// The deliveries about `who`'s rooms that are dead, or pending after a failure.
    /// Empty for anybody but clerks.
    pub async fn troubled(&self, who: &Principal) -> Result<Vec<TroubledDelivery>, BookingError> {
        let rooms = self.bookings.clerk_rooms(who).await?;
        if rooms.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = rooms.iter().map(|r| r.room.id.clone()).collect();
        let deliveries = self.store.troubled_deliveries(&ids).await?;
        Ok(deliveries
            .into_iter()
            .map(|delivery| {
                let room_name = rooms
                    .iter()
                    .find(|r| Some(&r.room.id) == delivery.room_id.as_ref())
                    .map(|r| r.room.name.clone())
                    .unwrap_or_default();
                TroubledDelivery {
                    delivery,
                    room_name,
                }
            })
            .collect())
    }

    /// A clerk retries delivery `id`: allowed only for deliveries about the rooms they decide
    /// for (anything else is [`RetryRefused::NotFound`]).
    #[tracing::instrument(name = "deliveries.retry", skip_all, fields(delivery = id, clerk = %who.requester_id()))]
    pub async fn retry(&self, who: &Principal, id: i64) -> Result<(), RetryRefused> {
        if !who.is_clerk() {
            return Err(RetryRefused::NotFound(id));
        }
        let delivery = self
            .store
            .delivery(id)
            .await?
            .ok_or(RetryRefused::NotFound(id))?;
        let rooms = self.bookings.clerk_rooms(who).await?;
        if !rooms
            .iter()
            .any(|r| Some(&r.room.id) == delivery.room_id.as_ref())
        {
            return Err(RetryRefused::NotFound(id));
        }
        if !self.store.retry_delivery(id, self.clock.now()).await? {
            return Err(RetryRefused::NotRetryable(id));
        }
        tracing::info!(delivery = id, clerk = %who.requester_id(), "a clerk retried a notification");
        Ok(())
    }
}
