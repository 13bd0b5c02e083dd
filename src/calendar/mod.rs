//! The calendar service: the room calendars as the CalDAV face and the feeds see them (which
//! rooms there are, which a staff member follows, what a viewer may see of each booking, their
//! members by id, time and change), each staff member's own calendar and schedule inbox
//! (reads here, writes with implicit scheduling in [`schedule`]), private feeds, and the tags
//! (ETag, ctag, sync token) that tell clients what changed.
//!
//! Invariant: the faces reach the store only through this service; it re-exports the records
//! they read ([`CalendarEntry`], [`StaffObject`], ...). The store and the clock are private.
//!
//! Tags: an object's ETag is its booking's change number plus a "view" tag (a digest of what
//! else shapes the rendering: the room's name and zone, its policy's privacy setting, and the
//! rooms sharing a physical part with it, whose bookings it shows as busy), so a
//! booking change or a change of the view both change it. A calendar's ctag is the room's change
//! number plus the view tag; its sync token is `urn:lokal:sync:<room id>:<change number>`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};

pub mod ical;
pub mod schedule;

use crate::booking::{Bookings, Rules};
use crate::clock::Clock;
use crate::scheduling::Zone;
use crate::store::{Store, StoredRoom};
use ical::{Detail, RoomInfo};

/// The records the faces read through this service (they never reach the store themselves).
pub use crate::store::{
    BookingRecord, CalendarChange, CalendarEntry, InboxItem, StaffChange, StaffObject, StoreError,
};

/// One room's calendar, ready to render.
#[derive(Clone, Debug)]
pub struct RoomCalendar {
    pub room: StoredRoom,
    pub zone: Zone,
    /// The room's policy lets staff calendars name who booked.
    pub show_organiser: bool,
    /// A digest of everything besides the bookings that shapes the rendering.
    pub view: String,
    pub bookable: bool,
}

impl RoomCalendar {
    pub fn info(&self) -> RoomInfo<'_> {
        RoomInfo {
            id: &self.room.room.id,
            name: &self.room.room.name,
            zone: self.zone,
        }
    }

    /// What staff see.
    pub fn staff_detail(&self) -> Detail {
        Detail::Staff {
            show_organiser: self.show_organiser,
        }
    }

    /// An object's strong ETag.
    pub fn etag(&self, change_seq: i64) -> String {
        format!("\"{change_seq}-{}\"", self.view)
    }

    /// The calendar's ctag (getctag, for clients without sync-collection).
    pub fn ctag(&self, change_seq: i64) -> String {
        format!("{change_seq}-{}", self.view)
    }

    /// The sync token: the room, its change number, and the view. A token from before a
    /// change of the view (a renamed room, another zone, another privacy setting: every object
    /// looks different) is no longer valid, so clients sync again from scratch (RFC 6578
    /// §3.2, DAV:valid-sync-token).
    pub fn sync_token(&self, change_seq: i64) -> String {
        format!(
            "urn:lokal:sync:{}:{change_seq}:{}",
            self.room.room.id, self.view
        )
    }

    /// The change number in one of this calendar's current sync tokens; `None` for anything
    /// else.
    pub fn parse_sync_token(&self, token: &str) -> Option<i64> {
        let rest = token.strip_prefix("urn:lokal:sync:")?;
        let (rest, view) = rest.rsplit_once(':')?;
        let (room, seq) = rest.rsplit_once(':')?;
        if room != self.room.room.id || view != self.view {
            return None;
        }
        seq.parse().ok().filter(|s: &i64| *s >= 0)
    }
}

/// The room calendars.
#[derive(Clone)]
pub struct Calendars {
    store: Arc<Store>,
    rules: Arc<Rules>,
    bookings: Bookings,
    clock: Arc<dyn Clock>,
}

impl Calendars {
    pub fn new(bookings: &Bookings) -> Self {
        Calendars {
            store: bookings.store().clone(),
            rules: bookings.rules.clone(),
            bookings: bookings.clone(),
            clock: bookings.clock.clone(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// `related`: the other rooms sharing a physical part with it, sorted. A hall's calendar
    /// shows its parts' bookings and each part's the hall's, so a change of the hall's
    /// composition changes what every one of them shows without touching the bookings' own
    /// change numbers: it is part of the view, and old sync tokens, ctags and ETags go stale.
    fn calendar_of(&self, room: StoredRoom, related: &[String]) -> RoomCalendar {
        let zone = self.rules.zone(&room);
        let show_organiser = self
            .rules
            .policy(&room)
            .map(|p| p.show_organiser)
            .unwrap_or(false);
        let mut digest = Sha256::new();
        digest.update(room.room.name.as_bytes());
        digest.update([0]);
        digest.update(zone.name().as_bytes());
        digest.update([u8::from(show_organiser)]);
        for other in related {
            digest.update([0]);
            digest.update(other.as_bytes());
        }
        let view: String = digest
            .finalize()
            .iter()
            .take(4)
            .map(|b| format!("{b:02x}"))
            .collect();
        let bookable = self.bookings.bookable(&room);
        RoomCalendar {
            room,
            zone,
            show_organiser,
            view,
            bookable,
        }
    }

    /// A live room's calendar (retired rooms have none).
    pub async fn room(&self, id: &str) -> Result<Option<RoomCalendar>, StoreError> {
        let Some(room) = self
            .store
            .room(id)
            .await?
            .filter(|r| r.retired_at.is_none())
        else {
            return Ok(None);
        };
        let related = self.store.related_rooms(id).await?;
        Ok(Some(self.calendar_of(room, &related)))
    }

    /// Every live room's calendar, by name.
    pub async fn rooms(&self) -> Result<Vec<RoomCalendar>, StoreError> {
        let mut related = self.store.all_related_rooms().await?;
        Ok(self
            .store
            .rooms(false)
            .await?
            .into_iter()
            .map(|r| {
                let others = related.remove(&r.room.id).unwrap_or_default();
                self.calendar_of(r, &others)
            })
            .collect())
    }

    /// The room calendars `user_id` follows: every bookable room, unless unfollowed, and any
    /// other live room followed on purpose.
    pub async fn followed(&self, user_id: &str) -> Result<Vec<RoomCalendar>, StoreError> {
        let settings: std::collections::HashMap<String, bool> =
            self.store.follows(user_id).await?.into_iter().collect();
        Ok(self
            .rooms()
            .await?
            .into_iter()
            .filter(|c| settings.get(&c.room.room.id).copied().unwrap_or(c.bookable))
            .collect())
    }

    /// The room's calendar if `user_id` follows it.
    pub async fn followed_room(
        &self,
        user_id: &str,
        room_id: &str,
    ) -> Result<Option<RoomCalendar>, StoreError> {
        Ok(self
            .followed(user_id)
            .await?
            .into_iter()
            .find(|c| c.room.room.id == room_id))
    }

    /// The room's current change number.
    pub async fn change_seq(&self, cal: &RoomCalendar) -> Result<i64, StoreError> {
        Ok(self
            .store
            .room_change_seq(&cal.room.room.id)
            .await?
            .unwrap_or(0))
    }

    /// Every booking in the calendar, with its dates (those of rooms sharing a physical part
    /// busy only, see [`Calendars::entries`]).
    pub async fn bookings(&self, cal: &RoomCalendar) -> Result<Vec<BookingRecord>, StoreError> {
        Ok(self
            .entries(cal, None)
            .await?
            .into_iter()
            .map(|e| e.booking)
            .collect())
    }

    /// One booking of the calendar, if it is in it.
    pub async fn entry(
        &self,
        cal: &RoomCalendar,
        booking_id: &str,
    ) -> Result<Option<CalendarEntry>, StoreError> {
        Ok(self
            .entries(cal, Some(&[booking_id.to_owned()]))
            .await?
            .into_iter()
            .next())
    }
}

/// What a room calendar shows of a booking of another room that shares a physical part with
/// it (a divisible hall's booking in each half's calendar, a half's in the hall's): the time
/// and the status, as busy; nothing of who booked or why, whoever looks.
pub const OTHER_ROOM_BUSY: &str = "Opptatt";

fn busy_only(cal: &RoomCalendar, mut entry: CalendarEntry) -> CalendarEntry {
    if entry.booking.room_id != cal.room.room.id {
        let b = &mut entry.booking;
        b.purpose = OTHER_ROOM_BUSY.to_owned();
        b.requester_id = String::new();
        b.requester_name = String::new();
        b.status_reason = None;
        b.reasons = "[]".to_owned();
    }
    entry
}

/// Reading a room calendar's members, by id, by time and by change (RFC 6578). A room's
/// calendar holds its own bookings and, busy only, those of the rooms sharing a physical part
/// with it (a divisible hall and its halves): they share one change sequence, so ETags, ctags
/// and sync tokens cover both.
impl Calendars {
    /// Every booking of the calendar with its dates, or only those with the given ids.
    pub async fn entries(
        &self,
        cal: &RoomCalendar,
        ids: Option<&[String]>,
    ) -> Result<Vec<CalendarEntry>, StoreError> {
        Ok(self
            .store
            .calendar_entries(&cal.room.room.id, true, ids)
            .await?
            .into_iter()
            .map(|e| busy_only(cal, e))
            .collect())
    }

    /// The bookings of the calendar with an occurrence overlapping `[from, to)`.
    pub async fn entries_between(
        &self,
        cal: &RoomCalendar,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<CalendarEntry>, StoreError> {
        Ok(self
            .store
            .calendar_entries_between(&cal.room.room.id, true, from, to)
            .await?
            .into_iter()
            .map(|e| busy_only(cal, e))
            .collect())
    }

    /// The calendar's members without their bodies: `(booking id, change number)`.
    pub async fn index(&self, cal: &RoomCalendar) -> Result<Vec<(String, i64)>, StoreError> {
        self.store.calendar_index(&cal.room.room.id, true).await
    }

    /// The members changed after change number `since`, removed ones included.
    pub async fn changes(
        &self,
        cal: &RoomCalendar,
        since: i64,
    ) -> Result<Vec<CalendarChange>, StoreError> {
        self.store
            .calendar_changes(&cal.room.room.id, true, since)
            .await
    }

    /// When the calendar last changed (`None` before its first booking): a booking of the
    /// room, or of a room sharing a physical part with it.
    pub async fn last_change(
        &self,
        cal: &RoomCalendar,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.store.room_last_change(&cal.room.room.id).await
    }
}

/// Reading a staff member's own calendar ("Lokal: møter") and schedule inbox. Writes go
/// through [`schedule`], which books the rooms they invite.
impl Calendars {
    /// The staff calendar's current change number.
    pub async fn staff_change_seq(&self, login: &str) -> Result<i64, StoreError> {
        self.store.staff_change_seq(login).await
    }

    /// Every object of the staff calendar, as stored.
    pub async fn staff_objects(&self, login: &str) -> Result<Vec<StaffObject>, StoreError> {
        self.store.staff_objects(login).await
    }

    /// One object of the staff calendar, as stored.
    pub async fn staff_object(
        &self,
        login: &str,
        name: &str,
    ) -> Result<Option<StaffObject>, StoreError> {
        self.store.staff_object(login, name).await
    }

    /// The staff calendar's objects changed after change number `since`, removed ones
    /// included, oldest first.
    pub async fn staff_changes(
        &self,
        login: &str,
        since: i64,
    ) -> Result<Vec<StaffChange>, StoreError> {
        self.store.staff_changes(login, since).await
    }

    /// The messages in the schedule inbox.
    pub async fn inbox_items(&self, login: &str) -> Result<Vec<InboxItem>, StoreError> {
        self.store.inbox_items(login).await
    }

    /// Removes one inbox message; `false` when there was none by that name.
    pub async fn delete_inbox_item(&self, login: &str, name: &str) -> Result<bool, StoreError> {
        self.store.delete_inbox_item(login, name).await
    }
}

/// Rooms as calendar users (RFC 6638 §2.4.1): their addresses, and the room an address names.
impl RoomCalendar {
    /// The room's calendar-user addresses, preferred first: `mailto:` its directory e-mail
    /// address where it has one, then `urn:uuid:<room id>` (always).
    pub fn addresses(&self) -> Vec<String> {
        let room = &self.room.room;
        room.email
            .iter()
            .map(|m| format!("mailto:{m}"))
            .chain(std::iter::once(format!("urn:uuid:{}", room.id)))
            .collect()
    }
}

/// What a calendar-user address names, parsed: `mailto:` (the scheme and the address compared
/// without regard to case) or `urn:uuid:` (a room id). Anything else names no room.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Address {
    Mail(String),
    Uuid(String),
}

fn parse_address(addr: &str) -> Option<Address> {
    let addr = addr.trim();
    let after = |prefix: &str| {
        addr.get(..prefix.len())
            .filter(|head| head.eq_ignore_ascii_case(prefix))
            .and_then(|_| addr.get(prefix.len()..))
            .map(str::trim)
            .filter(|rest| !rest.is_empty())
    };
    if let Some(mail) = after("mailto:") {
        // Some clients percent-encode `@` (`mailto:a%40b`); RFC 6068 allows it.
        let mail = mail.replace("%40", "@");
        return Some(Address::Mail(mail.to_lowercase()));
    }
    after("urn:uuid:").map(|id| Address::Uuid(id.to_ascii_lowercase()))
}

impl Calendars {
    /// The bookable room a calendar-user address names (an invitation's ATTENDEE, a free-busy
    /// request's recipient): `mailto:<the room's mail>` without regard to case, or
    /// `urn:uuid:<room id>`. `None` for any other address, a retired or unbookable room, and
    /// an address that two live rooms share (a directory error: it is logged, never guessed).
    pub async fn room_by_address(&self, addr: &str) -> Result<Option<RoomCalendar>, StoreError> {
        let Some(wanted) = parse_address(addr) else {
            return Ok(None);
        };
        if let Address::Uuid(id) = &wanted {
            return Ok(self.room(id).await?.filter(|c| c.bookable));
        }
        let Address::Mail(mail) = wanted else {
            return Ok(None);
        };
        let mut found: Vec<RoomCalendar> = self
            .rooms()
            .await?
            .into_iter()
            .filter(|c| {
                c.room
                    .room
                    .email
                    .as_deref()
                    .is_some_and(|m| m.to_lowercase() == mail)
            })
            .collect();
        if found.len() > 1 {
            let ids: Vec<&str> = found.iter().map(|c| c.room.room.id.as_str()).collect();
            tracing::warn!(address = %mail, rooms = ?ids, "two rooms share one e-mail address; invitations to it match neither");
            return Ok(None);
        }
        Ok(found.pop().filter(|c| c.bookable))
    }

    /// The busy periods (UTC) of the blocking bookings overlapping `[from, to)` of a room and
    /// of the rooms sharing a physical part with it (busy only: nothing of who):
    /// `(start, end, tentative)`, as [`ical::freebusy`](ical::freebusy) takes them. One
    /// source for the free-busy-query REPORT (RFC 4791 §7.10) and the schedule outbox's
    /// VFREEBUSY requests (RFC 6638 §5).
    pub async fn busy_periods(
        &self,
        cal: &RoomCalendar,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, DateTime<Utc>, bool)>, StoreError> {
        let mut periods = Vec::new();
        // A divisible hall is busy when one of its halves is, and each half when the hall is.
        for entry in self
            .store
            .calendar_entries_between(&cal.room.room.id, true, from, to)
            .await?
        {
            periods.extend(ical::busy_periods(&entry.booking, from, to));
        }
        Ok(periods)
    }
}

/// A private feed as its owner sees it. The token itself is shown once, when it is made.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct FeedView {
    pub id: String,
    pub room_id: String,
    /// The feed's path (`/feeds/private/<token>.ics`): only in the answer that creates it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
}

fn feed_view(t: crate::store::FeedTokenRecord, url: Option<String>) -> FeedView {
    FeedView {
        id: t.id,
        room_id: t.room_id,
        url,
        created_at: t.created_at,
        revoked_at: t.revoked_at,
    }
}

/// The most live private feeds one staff member may have.
pub const MAX_FEEDS: usize = 50;

/// The stored form of a feed token: its SHA-256, hex (the same hash as a web session's).
pub use crate::identity::session::token_hash;

/// A staff member's id (`staff:<directory id>`) and login.
fn staff_id(
    who: &crate::identity::Principal,
) -> Result<(String, String), crate::booking::BookingError> {
    match who {
        crate::identity::Principal::Staff { login, .. } => Ok((who.requester_id(), login.clone())),
        crate::identity::Principal::Resident { .. } => {
            Err(crate::booking::BookingError::Forbidden(
                "private calendar feeds are for staff; residents see their bookings in the portal"
                    .into(),
            ))
        }
    }
}

impl Calendars {
    /// Makes a private feed of a room's calendar, with details, for a staff member.
    pub async fn create_feed(
        &self,
        who: &crate::identity::Principal,
        room_id: &str,
    ) -> Result<FeedView, crate::booking::BookingError> {
        let (user_id, login) = staff_id(who)?;
        let live = self
            .store
            .feed_tokens(&user_id)
            .await?
            .iter()
            .filter(|t| t.revoked_at.is_none())
            .count();
        if live >= MAX_FEEDS {
            return Err(crate::booking::BookingError::Invalid {
                code: "too-many-feeds",
                field: "room_id",
                message: format!(
                    "you have {MAX_FEEDS} private feeds already; revoke one you no longer use"
                ),
            });
        }
        if self.room(room_id).await?.is_none() {
            return Err(crate::booking::BookingError::NotFound {
                what: "room",
                id: room_id.to_owned(),
            });
        }
        let secret = crate::identity::random_bytes::<32>().map_err(|e| {
            crate::booking::BookingError::Store(StoreError::Unavailable(format!(
                "{e} (for a feed token)"
            )))
        })?;
        let token: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        let record = crate::store::FeedTokenRecord {
            id: uuid::Uuid::new_v4().to_string(),
            token_hash: token_hash(&token),
            user_id,
            login,
            room_id: room_id.to_owned(),
            created_at: self.now(),
            revoked_at: None,
        };
        self.store.add_feed_token(&record).await?;
        Ok(feed_view(
            record,
            Some(format!("/feeds/private/{token}.ics")),
        ))
    }

    /// A staff member's private feeds, revoked ones included.
    pub async fn feeds(
        &self,
        who: &crate::identity::Principal,
    ) -> Result<Vec<FeedView>, crate::booking::BookingError> {
        let (user_id, _) = staff_id(who)?;
        Ok(self
            .store
            .feed_tokens(&user_id)
            .await?
            .into_iter()
            .map(|t| feed_view(t, None))
            .collect())
    }

    /// Revokes one of a staff member's feeds; its URL answers 404 from then on.
    pub async fn revoke_feed(
        &self,
        who: &crate::identity::Principal,
        id: &str,
    ) -> Result<(), crate::booking::BookingError> {
        let (user_id, _) = staff_id(who)?;
        if self
            .store
            .revoke_feed_token(&user_id, id, self.now())
            .await?
        {
            Ok(())
        } else {
            Err(crate::booking::BookingError::NotFound {
                what: "feed",
                id: id.to_owned(),
            })
        }
    }

    /// The room calendar behind a live private feed token, and the owner's login.
    pub async fn private_feed_room(
        &self,
        token: &str,
    ) -> Result<Option<(RoomCalendar, String)>, StoreError> {
        match self.store.live_feed_token(&token_hash(token)).await? {
            Some(t) => Ok(self.room(&t.room_id).await?.map(|c| (c, t.login))),
            None => Ok(None),
        }
    }
}
