//! The store's record types that the services hand to the faces, re-exported here so that a
//! face names `crate::booking::records`, never `crate::store` (only services reach the store;
//! `tests/it/architecture.rs`). These are plain data: holding one grants no access.

pub use crate::store::{
    AuditRecord, BookingRecord, DeliveryRecord, OccurrenceRecord, ResidentContact, ResidentRecord,
    StoreError, StoredRoom,
};
