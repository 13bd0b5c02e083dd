//! What the clerks' console asks of the booking service beyond the API's use cases: the
//! rooms a clerk decides for, a queue whose conflicts carry their parts (for wording in the
//! clerk's language), a week of a room's bookings and closures, and booking search.
//!
//! Every method here applies the approval rule of [`Bookings::approvals`]: a clerk sees the
//! rooms whose approver group they are in; an administrator sees all.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};

use super::{ApprovalItem, BookingError, BookingView, Bookings, Overlap};
use crate::identity::Principal;
use crate::scheduling::{ClosureSource, Interval, OccurrenceStatus, Zone};
use crate::store::{BookingRecord, SearchFilter, StoredRoom};

/// What overlaps a pending request now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConflictKind {
    /// Another booking that holds its slot.
    Booking { id: String },
    /// A closure: a clerk's block or a holiday calendar's event.
    Closure { label: String },
}

/// A conflict with its local times in the room's zone.
#[derive(Clone, Debug)]
pub struct Conflict {
    pub kind: ConflictKind,
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
}

/// A pending request in the console's queue.
#[derive(Clone, Debug)]
pub struct QueueItem {
    pub item: ApprovalItem,
    pub zone: Zone,
    pub conflicts: Vec<Conflict>,
}

/// Something that holds time in a room's week: a booking's date or a closure.
#[derive(Clone, Debug)]
pub struct WeekEntry {
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub what: WeekEntryKind,
}

#[derive(Clone, Debug)]
pub enum WeekEntryKind {
    Booking {
        id: String,
        requester_name: String,
        purpose: String,
        status: OccurrenceStatus,
    },
    Closure {
        label: String,
        /// A clerk's block (rather than a holiday calendar's event).
        block: bool,
        /// The clerk's block's id: its page lists the bookings it hits.
        closure_id: Option<String>,
    },
    /// A booking of another room that blocks this one: a divisible hall booked whole, in
    /// the week of one of its parts, or a part, in the hall's. Nothing of who or why: it
    /// belongs to the other room's calendar.
    Elsewhere {
        /// The other room's name.
        room: String,
        status: OccurrenceStatus,
    },
}

/// One room's week.
#[derive(Clone, Debug)]
pub struct RoomWeek {
    pub room: StoredRoom,
    pub zone: Zone,
    pub entries: Vec<WeekEntry>,
}

/// A booking found by search, with its room and the requester's email when a resident.
#[derive(Clone, Debug)]
pub struct Found {
    pub booking: BookingRecord,
    pub room: StoredRoom,
    pub zone: Zone,
    pub email: Option<String>,
}

/// Search results, and whether there were more than shown.
#[derive(Clone, Debug, Default)]
pub struct SearchResult {
    pub found: Vec<Found>,
    pub capped: bool,
}

/// The most search results shown.
pub const SEARCH_CAP: usize = crate::limits::SEARCH_RESULTS;

/// An overlap in the room's local time: a booking by its own time, a closure by its span.
fn conflict(o: &Overlap, zone: Zone) -> Conflict {
    match o {
        Overlap::Booking { id, span, .. } => Conflict {
            kind: ConflictKind::Booking { id: id.clone() },
            start: zone.local(span.start()),
            end: zone.local(span.end()),
        },
        Overlap::Closure { label, interval } => Conflict {
            kind: ConflictKind::Closure {
                label: label.clone(),
            },
            start: zone.local(interval.start()),
            end: zone.local(interval.end()),
        },
    }
}

fn may_decide(who: &Principal, room: &StoredRoom) -> bool {
    who.is_admin()
        || room
            .room
            .approver_group
            .as_deref()
            .is_some_and(|g| who.is_member_of(g))
}

impl Bookings {
    /// The live rooms `who` decides for, by name. Empty for anybody but clerks.
    pub async fn clerk_rooms(&self, who: &Principal) -> Result<Vec<StoredRoom>, BookingError> {
        if !who.is_clerk() {
            return Ok(Vec::new());
        }
        Ok(self
            .store
            .rooms(false)
            .await?
            .into_iter()
            .filter(|r| may_decide(who, r))
            .collect())
    }

    /// A booking for the console: only for a clerk of its room (or an administrator);
    /// anybody else's is not found.
    pub async fn for_clerk(
        &self,
        who: &Principal,
        id: &str,
    ) -> Result<(BookingView, StoredRoom, Zone), BookingError> {
        let not_found = || BookingError::NotFound {
            what: "booking",
            id: id.to_owned(),
        };
        if !who.is_clerk() {
            return Err(not_found());
        }
        let booking = self.store.booking(id).await?.ok_or_else(not_found)?;
        let room = self
            .store
            .room(&booking.room_id)
            .await?
            .ok_or_else(not_found)?;
        if !may_decide(who, &room) {
            return Err(not_found());
        }
        let zone = self.rules.zone(&room);
        Ok((BookingView::from_record(booking), room, zone))
    }

    /// The clerk's queue ([`Bookings::approvals`]) with each conflict in parts.
    pub async fn queue(&self, who: &Principal) -> Result<Vec<QueueItem>, BookingError> {
        Ok(self
            .pending_for(who)
            .await?
            .into_iter()
            .map(|p| QueueItem {
                conflicts: p.overlaps.iter().map(|o| conflict(o, p.zone)).collect(),
                item: p.item,
                zone: p.zone,
            })
            .collect())
    }

    /// The week from local Monday `monday` of each room: bookings that hold their slot and
    /// closures, in the room's local time, by start.
    pub async fn week(
        &self,
        rooms: &[StoredRoom],
        monday: NaiveDate,
    ) -> Result<Vec<RoomWeek>, BookingError> {
        let mut out = Vec::with_capacity(rooms.len());
        for room in rooms {
            let zone = self.rules.zone(room);
            let from = zone.to_utc_or_after_gap(monday.and_time(NaiveTime::MIN));
            let to =
                zone.to_utc_or_after_gap((monday + TimeDelta::days(7)).and_time(NaiveTime::MIN));
            let Ok(window) = Interval::new(from, to) else {
                continue;
            };
            let mut entries = Vec::new();
            for e in self
                .store
                .calendar_entries_between(&room.room.id, false, from, to)
                .await?
            {
                let b = e.booking;
                for o in b
                    .occurrences
                    .iter()
                    .filter(|o| matches!(o.status.as_str(), "pending" | "approved"))
                    .filter(|o| o.start < to && o.end > from)
                {
                    entries.push(WeekEntry {
                        start: zone.local(o.start),
                        end: zone.local(o.end),
                        what: WeekEntryKind::Booking {
                            id: b.id.clone(),
                            requester_name: b.requester_name.clone(),
                            purpose: b.purpose.clone(),
                            status: o.status,
                        },
                    });
                }
            }
            // A divisible hall's bookings block its parts, and each part's the hall.
            for other in self.store.related_rooms(&room.room.id).await? {
                let name = match self.store.room(&other).await? {
                    Some(r) => r.room.name,
                    None => continue,
                };
                for e in self
                    .store
                    .calendar_entries_between(&other, false, from, to)
                    .await?
                {
                    for o in e
                        .booking
                        .occurrences
                        .iter()
                        .filter(|o| o.status.is_blocking())
                        .filter(|o| o.start < to && o.end > from)
                    {
                        entries.push(WeekEntry {
                            start: zone.local(o.start),
                            end: zone.local(o.end),
                            what: WeekEntryKind::Elsewhere {
                                room: name.clone(),
                                status: o.status,
                            },
                        });
                    }
                }
            }
            let policy = self.rules.policy(room)?;
            let blocks = self
                .store
                .closures_for(&room.room.id, room.room.building.as_deref(), &window)
                .await?;
            for c in self
                .rules
                .closure_set(policy, &blocks)
                .resolve(zone, &window)
            {
                entries.push(WeekEntry {
                    start: zone.local(c.interval.start()),
                    end: zone.local(c.interval.end()),
                    what: WeekEntryKind::Closure {
                        label: c.label,
                        block: matches!(c.source, ClosureSource::Block { .. }),
                        closure_id: match &c.source {
                            ClosureSource::Block { id } => Some(id.clone()),
                            _ => None,
                        },
                    },
                });
            }
            entries.sort_by(|a, b| a.start.cmp(&b.start).then(a.end.cmp(&b.end)));
            out.push(RoomWeek {
                room: room.clone(),
                zone,
                entries,
            });
        }
        Ok(out)
    }

    /// Bookings of the clerk's rooms by requester (name or email, any case), room and/or a
    /// local date on which one of its dates falls. At most [`SEARCH_CAP`], newest first.
    pub async fn search(
        &self,
        who: &Principal,
        text: &str,
        room_id: Option<&str>,
        date: Option<NaiveDate>,
    ) -> Result<SearchResult, BookingError> {
        let rooms: Vec<StoredRoom> = self
            .clerk_rooms(who)
            .await?
            .into_iter()
            .filter(|r| room_id.is_none_or(|id| r.room.id == id))
            .collect();
        if rooms.is_empty() {
            return Ok(SearchResult::default());
        }
        let needle = text.trim().to_lowercase();
        // The database narrows by a UTC window that holds the date in every zone; the exact
        // local day is checked below, per room.
        let window = date.and_then(|d| {
            let from = d.and_time(NaiveTime::MIN) - TimeDelta::days(1);
            let to = d.and_time(NaiveTime::MIN) + TimeDelta::days(2);
            Interval::new(from.and_utc(), to.and_utc()).ok()
        });
        let filter = SearchFilter {
            room_ids: rooms.iter().map(|r| r.room.id.clone()).collect(),
            text: (!needle.is_empty()).then(|| needle.clone()),
            window,
            limit: 5 * SEARCH_CAP,
        };
        let rows = self.store.search_bookings(&filter).await?;
        let mut result = SearchResult::default();
        for (booking, email) in rows {
            let Some(room) = rooms.iter().find(|r| r.room.id == booking.room_id) else {
                continue;
            };
            let zone = self.rules.zone(room);
            let text_ok = needle.is_empty()
                || booking.requester_name.to_lowercase().contains(&needle)
                || email
                    .as_deref()
                    .is_some_and(|e| e.to_lowercase().contains(&needle));
            let date_ok = date.is_none_or(|d| {
                let day_start = d.and_time(NaiveTime::MIN);
                let day_end = day_start + TimeDelta::days(1);
                booking
                    .occurrences
                    .iter()
                    .any(|o| zone.local(o.start) < day_end && zone.local(o.end) > day_start)
            });
            if !(text_ok && date_ok) {
                continue;
            }
            if result.found.len() == SEARCH_CAP {
                result.capped = true;
                break;
            }
            result.found.push(Found {
                booking,
                room: room.clone(),
                zone,
                email,
            });
        }
        Ok(result)
    }
}
