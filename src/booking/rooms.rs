//! The room catalogue as anybody may query it (the API's `GET /api/v1/rooms`), and whether
//! the store answers (for `/readyz`).
//!
//! Invariants: only live rooms (not retired from the directory) are listed; the filters are
//! conjunctive; equipment matches case-insensitively and a room must have every item asked
//! for; the order is the store's (by name).

use super::{BookingError, Bookings};
use crate::store::StoredRoom;

/// What the caller asks of a room. Empty asks for nothing: every live room.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoomQuery {
    /// At least this many seats (a room without a known capacity does not match).
    pub capacity: Option<u32>,
    /// In this building (exact name).
    pub building: Option<String>,
    /// With all of this equipment.
    pub equipment: Vec<String>,
}

impl RoomQuery {
    /// `equipment` as the API takes it: comma-separated, blanks and repeats ignored (a list
    /// of a thousand copies costs what one does).
    pub fn with_equipment_list(mut self, list: Option<&str>) -> Self {
        let mut wanted: Vec<String> = list
            .unwrap_or("")
            .split(',')
            .map(|e| e.trim().to_lowercase())
            .filter(|e| !e.is_empty())
            .collect();
        wanted.sort();
        wanted.dedup();
        self.equipment = wanted;
        self
    }

    fn matches(&self, r: &StoredRoom) -> bool {
        self.capacity
            .is_none_or(|c| r.room.capacity.is_some_and(|have| have >= c))
            && self
                .building
                .as_deref()
                .is_none_or(|b| r.room.building.as_deref() == Some(b))
            && self.equipment.iter().all(|w| {
                r.room
                    .equipment
                    .iter()
                    .any(|e| e.to_lowercase() == w.to_lowercase())
            })
    }
}

impl Bookings {
    /// The live rooms that match `query`.
    pub async fn find_rooms(&self, query: &RoomQuery) -> Result<Vec<StoredRoom>, BookingError> {
        Ok(self
            .store
            .rooms(false)
            .await?
            .into_iter()
            .filter(|r| query.matches(r))
            .collect())
    }

    /// Whether the store answers.
    pub async fn store_health(&self) -> Result<(), BookingError> {
        Ok(self.store.ping().await?)
    }
}
