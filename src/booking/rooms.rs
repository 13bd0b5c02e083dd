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

/// How a room is divided: the rooms it is made of (a divisible hall's halves) and the halls
/// it is part of, live rooms only, by name. Both empty for a plain room.
#[derive(Clone, Debug, Default)]
pub struct RoomStructure {
    pub parts: Vec<StoredRoom>,
    pub part_of: Vec<StoredRoom>,
}

impl Bookings {
    /// How `room_id` is divided (see [`RoomStructure`]).
    pub async fn structure(&self, room_id: &str) -> Result<RoomStructure, BookingError> {
        let pairs = self.store.room_parts().await?;
        if !pairs.iter().any(|(r, p)| r == room_id || p == room_id) {
            return Ok(RoomStructure::default());
        }
        let rooms = self.store.rooms(false).await?;
        let pick = |ids: Vec<&String>| -> Vec<StoredRoom> {
            rooms
                .iter()
                .filter(|r| ids.contains(&&r.room.id))
                .cloned()
                .collect()
        };
        Ok(RoomStructure {
            parts: pick(
                pairs
                    .iter()
                    .filter(|(r, _)| r == room_id)
                    .map(|(_, p)| p)
                    .collect(),
            ),
            part_of: pick(
                pairs
                    .iter()
                    .filter(|(_, p)| p == room_id)
                    .map(|(r, _)| r)
                    .collect(),
            ),
        })
    }

    /// Every divisible room's direct parts, `(room id, part id)`: for lists that mark halls and
    /// their parts without asking per room.
    pub async fn divisions(&self) -> Result<Vec<(String, String)>, BookingError> {
        Ok(self.store.room_parts().await?)
    }

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
