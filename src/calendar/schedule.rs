//! Booking a room by inviting it: staff calendars and implicit scheduling for ROOM attendees
//! (RFC 6638 §3, server-side; the room is the attendee, Lokal answers for it).
//!
//! A PUT of an event whose ORGANIZER is the staff member and whose ATTENDEEs include rooms
//! books each room through [`Bookings::create`], exactly as the API does (same transaction,
//! same conflict check, same outbox), as that staff member. The object is stored as sent;
//! the room's answer is never stored in it but computed when the object is read, from the
//! linked booking's current status (approved → ACCEPTED, pending → TENTATIVE, refused,
//! rejected, cancelled or expired → DECLINED with REQUEST-STATUS and COMMENT), so the
//! organiser's copy can never be stale. The store moves the object's ETag with every status
//! change of the booking (migration 0008).
//!
//! Invariants:
//! - a write that keeps an event's times and recurrence (its fingerprint) never books again;
//! - a changed fingerprint of a one-date event moves its one-date booking
//!   ([`Bookings::move_date`]): the core decides the new time in the same transaction as the
//!   move, and a refused move keeps the booking at its old time (the copy says DECLINED, why,
//!   and that the old time is still held); other changes (a series, a whole-day event) cancel
//!   the old booking, then book anew, and between the two another request may take the slot
//!   (documented in docs/scheduling.md);
//! - what Lokal adds to a copy (REQUEST-STATUS, COMMENTs and overrides marked `X-LOKAL`) is
//!   taken out again when a client writes the copy back;
//! - writes to staff calendars run one at a time (one process-wide lock), so two writes of one
//!   object cannot both book.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::{Calendars, RoomCalendar};
use crate::booking::{BookingError, Bookings, CreateBooking, OnConflict};
use crate::i18n::Lang;
use crate::ical::{self as object, Component, EventTimes, Fault, Frame, Object, Prop, When};
use crate::ical::{escape_text as escape, unescape_text as unescape};
use crate::identity::Principal;
use crate::store::{BookingRecord, RoomLink, StaffObject, StoreError};

/// The largest calendar object a staff member may store (CALDAV:max-resource-size).
pub const MAX_RESOURCE_SIZE: usize = 256 * 1024;

/// The purpose of a booking made from an event without a SUMMARY.
const UNTITLED: &str = "(uten tittel)";

/// One staff write at a time: scheduling reads links, books, then stores.
static WRITES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The staff member writing, and their calendar user addresses (RFC 6638 §2.4.1).
pub struct Organiser<'a> {
    pub principal: &'a Principal,
    pub login: &'a str,
    /// `mailto:` their directory email, `urn:lokal:staff:<login>`, their principal href.
    pub addresses: Vec<String>,
    pub lang: Lang,
}

impl Organiser<'_> {
    fn is_me(&self, address: &str) -> bool {
        let a = address.trim();
        self.addresses.iter().any(|mine| {
            mine.eq_ignore_ascii_case(a)
                || a.to_ascii_lowercase().ends_with(&mine.to_ascii_lowercase())
                    && mine.starts_with('/')
        })
    }
}

/// A rule of staff calendar writes that a write broke (RFC 4791 §5.3.2.1, RFC 6638 §3.2.4).
/// The CalDAV face names each as its precondition, with its status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// The object is larger than [`MAX_RESOURCE_SIZE`].
    MaxResourceSize,
    /// The body is not UTF-8 text.
    SupportedCalendarData,
    /// The body is not iCalendar.
    ValidCalendarData,
    /// iCalendar, but not one calendar object resource, or an event without definite times
    /// that invites a room.
    ValidCalendarObjectResource,
    /// A component other than VEVENT.
    SupportedCalendarComponent,
    /// Another object of the calendar has the same UID.
    NoUidConflict,
    /// An event inviting a room without the writer as its ORGANIZER.
    ValidOrganizer,
    /// Components of one event with different ORGANIZERs.
    SameOrganizerInAllComponents,
}

impl From<Fault> for Rule {
    fn from(f: Fault) -> Self {
        match f {
            Fault::Data => Rule::ValidCalendarData,
            Fault::Object => Rule::ValidCalendarObjectResource,
            Fault::Component => Rule::SupportedCalendarComponent,
        }
    }
}

/// What a staff write can fail with, besides storage.
#[derive(Debug)]
pub enum WriteError {
    /// A rule of the write, and a sentence for people.
    Refused {
        rule: Rule,
        message: String,
    },
    /// `If-Match` or `If-None-Match` did not hold (RFC 7232 §3.1, §3.2).
    Stale(String),
    /// The object does not exist.
    NotFound,
    Store(StoreError),
}

impl From<StoreError> for WriteError {
    fn from(e: StoreError) -> Self {
        WriteError::Store(e)
    }
}

fn refused(rule: Rule, message: impl Into<String>) -> WriteError {
    WriteError::Refused {
        rule,
        message: message.into(),
    }
}

fn invalid(e: object::Invalid) -> WriteError {
    refused(e.fault.into(), e.message)
}

fn failed_precondition(message: &str) -> WriteError {
    WriteError::Stale(message.to_owned())
}

/// A staff member's own calendar: writes that book the rooms they invite, and the copies as
/// served (with the rooms' answers now).
impl Calendars {
    /// PUT of an object into `me`'s calendar, booking the rooms it invites (implicit
    /// scheduling, RFC 6638 §3.2).
    pub async fn put_staff_object(
        &self,
        me: &Organiser<'_>,
        name: &str,
        body: &[u8],
        conditions: &Conditions,
    ) -> Result<Written, WriteError> {
        put(self, me, name, body, conditions).await
    }

    /// DELETE of an object of `me`'s calendar, cancelling the bookings it made.
    pub async fn delete_staff_object(
        &self,
        me: &Organiser<'_>,
        name: &str,
        conditions: &Conditions,
    ) -> Result<(), WriteError> {
        delete(self, me, name, conditions).await
    }

    /// The organiser's copy of a stored object as served, with each room's answer now.
    pub async fn served_staff_object(
        &self,
        owner: &str,
        stored: &StaffObject,
    ) -> Result<String, StoreError> {
        render(self, owner, stored).await
    }
}

/// The result of a PUT.
pub struct Written {
    pub created: bool,
    /// The new ETag, only when the stored copy reads back byte for byte as sent (RFC 4791
    /// §5.3.4); a copy Lokal answered for has none, so the client reads it again.
    pub etag: Option<String>,
}

/// The ETag of a staff object with this change number.
pub fn etag(change_seq: i64) -> String {
    format!("\"s{change_seq}\"")
}

/// The sync token of a staff calendar.
pub fn sync_token(login: &str, change_seq: i64) -> String {
    format!("urn:lokal:sync:staff:{login}:{change_seq}")
}

/// The change number in one of this staff calendar's sync tokens.
pub fn parse_sync_token(login: &str, token: &str) -> Option<i64> {
    let rest = token.strip_prefix("urn:lokal:sync:staff:")?;
    let (who, seq) = rest.rsplit_once(':')?;
    if who != login {
        return None;
    }
    seq.parse().ok().filter(|s: &i64| *s >= 0)
}

/// Why a date the organiser moved in an override shows the room unanswered (docs/scheduling.md
/// "Moving one date"): Lokal books series without exceptions, so the room keeps the original.
const MOVED_EN: &str = "this single date was moved in your calendar; single-date moves are not booked (the room keeps the series' original date). Move the whole series, or book this date separately.";
const MOVED_NB: &str = "denne datoen er flyttet i kalenderen din; flytting av én dato bookes ikke (rommet beholder seriens opprinnelige dato). Flytt hele serien, eller book denne datoen for seg.";

/// The room's answer as kept with the link (JSON in `staff_object_rooms.answer`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Answer {
    /// The ATTENDEE address the room was invited by.
    address: String,
    room_name: String,
    /// The room's zone (whole-day frames are written in it).
    zone: String,
    /// Set when the room declined at once (no booking was made).
    refused: Option<Refusal>,
    /// Why single dates of a series were skipped: (start, sentence).
    #[serde(default)]
    skipped: Vec<(DateTime<Utc>, String)>,
    /// The sentence for a single date the organiser moved (not booked), in their language;
    /// empty in answers stored before it existed (English is used then).
    #[serde(default)]
    moved: String,
    /// The organiser moved the event and the room refused the new time: the booking still
    /// holds the old time (its fingerprint is the link's), and `refused` says why. Moving the
    /// event back to the booked time answers from the booking again.
    #[serde(default)]
    kept: bool,
    /// The organiser moved the event and the new time waits for a clerk: the date (`seq`) that
    /// waits, beside the old date the booking still holds. Its status gives the answer.
    #[serde(default)]
    waiting: Option<i64>,
    /// "The room is still yours at the earlier time", in the organiser's language.
    #[serde(default)]
    kept_note: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Refusal {
    /// The core's code (`conflict`, `outside-opening-hours`...).
    code: String,
    /// RFC 5546 §3.6 status code.
    status: String,
    sentence: String,
}

/// RFC 5546 §3.6 codes: busy (a booking or a closure holds the time) is 4.0; any other
/// refusal of the request as asked (opening hours, length, lead time, quota, who may book)
/// is 3.1, an invalid value for this room; a clerk's later decision is 2.0: delivered and
/// answered, the answer being in PARTSTAT.
fn status_for(code: &str) -> &'static str {
    match code {
        "conflict" | "closure" | "taken" => "4.0",
        "decided" => "2.0",
        _ => "3.1",
    }
}

fn status_text(status: &str) -> &'static str {
    match status {
        "4.0" => "Event conflict. Date/time is busy.",
        "2.0" => "Success.",
        _ => "Invalid property value.",
    }
}

/// The marker on what Lokal adds to a copy.
const MARK: &str = "X-LOKAL";

/// Takes out what Lokal added to a copy it served (a client writes back what it read).
fn strip_answers(root: &mut Component) {
    root.children
        .retain(|c| !(c.name == "VEVENT" && c.prop("X-LOKAL-OVERRIDE").is_some()));
    for c in root.children.iter_mut().filter(|c| c.name == "VEVENT") {
        c.remove("REQUEST-STATUS");
        c.props
            .retain(|p| !(p.name == "COMMENT" && p.param(MARK).is_some()));
    }
}

/// What kind of attendee an ATTENDEE line is, as far as Lokal schedules.
enum Kind {
    /// SCHEDULE-AGENT=CLIENT or NONE (RFC 6638 §7.1), or the organiser: left alone.
    Skip,
    Room(Box<RoomCalendar>),
    /// Claims CUTYPE=ROOM but is no bookable room here.
    UnknownRoom,
    Person,
}

/// The bookable room an attendee address names: `mailto:` the room's directory address or
/// `urn:uuid:<room id>` ([`Calendars::room_by_address`]), or a room principal's URL (which
/// some apps put in ATTENDEE when the room was picked from the server's principals).
async fn room_by_address(
    cals: &Calendars,
    address: &str,
) -> Result<Option<RoomCalendar>, StoreError> {
    if let Some(room) = cals.room_by_address(address).await? {
        return Ok(Some(room));
    }
    let a = address.trim();
    let id = {
        a.split("/dav/principals/rooms/")
            .nth(1)
            .map(|rest| rest.trim_end_matches('/').to_owned())
    };
    match id {
        Some(id) if !id.is_empty() && !id.contains('/') => {
            Ok(cals.room(&id).await?.filter(|c| c.bookable))
        }
        _ => Ok(None),
    }
}

async fn kind(cals: &Calendars, me: &Organiser<'_>, attendee: &Prop) -> Result<Kind, StoreError> {
    let agent = attendee.param("SCHEDULE-AGENT").unwrap_or_default();
    if agent.eq_ignore_ascii_case("CLIENT") || agent.eq_ignore_ascii_case("NONE") {
        return Ok(Kind::Skip);
    }
    if me.is_me(&attendee.value) {
        return Ok(Kind::Skip);
    }
    if let Some(room) = room_by_address(cals, &attendee.value).await? {
        return Ok(Kind::Room(Box::new(room)));
    }
    let cutype = attendee.param("CUTYPE").unwrap_or_default();
    Ok(if cutype.eq_ignore_ascii_case("ROOM") {
        Kind::UnknownRoom
    } else {
        Kind::Person
    })
}

/// A digest of what a booking is made from: the event's times and recurrence.
fn fingerprint(master: &Component) -> String {
    let mut d = Sha256::new();
    for name in ["DTSTART", "DTEND", "DURATION", "RRULE"] {
        for p in master.props(name) {
            d.update(name.as_bytes());
            for (k, v) in &p.params {
                if k == "TZID" || k == "VALUE" {
                    d.update(k.as_bytes());
                    d.update(v.as_bytes());
                }
            }
            d.update(p.value.trim().as_bytes());
            d.update([0]);
        }
    }
    hex(&d.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The booking request an event makes of a room.
fn request_for(
    master: &Component,
    times: &EventTimes,
    room_id: &str,
    people: u32,
) -> CreateBooking {
    let local = |w: When| match w {
        When::At(t) => t.to_rfc3339(),
        When::Day(d) => format!("{}T00:00", d.format("%Y-%m-%d")),
    };
    let summary = master
        .value("SUMMARY")
        .map(unescape)
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| UNTITLED.to_owned());
    CreateBooking {
        room_id: room_id.to_owned(),
        start: local(times.start),
        end: local(times.end),
        purpose: summary.chars().take(500).collect(),
        attendees: people.max(1),
        recurrence: master.value("RRULE").map(|r| r.trim().to_owned()),
        on_conflict: OnConflict::Skip,
    }
}

/// Books one room for an event; the link that records the room's answer.
#[allow(clippy::too_many_arguments)]
async fn book(
    bookings: &Bookings,
    me: &Organiser<'_>,
    uid: &str,
    master: &Component,
    times: &EventTimes,
    room: &RoomCalendar,
    address: &str,
    people: u32,
    print: &str,
    previous: &str,
) -> Result<RoomLink, WriteError> {
    let mut answer = Answer {
        address: address.to_owned(),
        room_name: room.room.room.name.clone(),
        zone: room.zone.name().to_owned(),
        refused: None,
        skipped: Vec::new(),
        moved: match me.lang {
            Lang::Nb => MOVED_NB.into(),
            Lang::En => MOVED_EN.into(),
        },
        kept: false,
        waiting: None,
        kept_note: String::new(),
    };
    let refuse = |answer: &mut Answer, code: &str, sentence: String| {
        answer.refused = Some(Refusal {
            code: code.to_owned(),
            status: status_for(code).to_owned(),
            sentence,
        });
    };
    let mut booking_id = None;
    {
        {
            let request = request_for(master, times, &room.room.room.id, people);
            // A retry of the same write replays the same booking: the key names who, what
            // event, which room, which times, and the state of the object it changes: its
            // write generation (raised by every PUT and DELETE, kept by tombstones, never
            // moved by the audit trigger) and the booking it replaces. So moving back to
            // earlier times, or re-creating a deleted event, books anew rather than replaying
            // a booking that was cancelled since; a retry after a crash between booking and
            // storing the object finds the same generation and replays.
            let key = format!(
                "caldav:{}",
                hex(&Sha256::digest(
                    format!(
                        "{}\n{uid}\n{}\n{print}\n{}",
                        me.login, room.room.room.id, previous
                    )
                    .as_bytes()
                ))
            );
            // Words for dates a series may skip: the decision as it stands just before.
            let words: HashMap<chrono::NaiveDateTime, String> = if request.recurrence.is_some() {
                match bookings.preview(me.principal, request.clone()).await {
                    Ok(p) => p
                        .decision
                        .occurrences
                        .iter()
                        .filter(|o| !o.reasons.is_empty())
                        .map(|o| (o.local_start, sentences(me.lang, &o.reasons, p.zone)))
                        .collect(),
                    Err(_) => HashMap::new(),
                }
            } else {
                HashMap::new()
            };
            match bookings.create(me.principal, request, Some(&key)).await {
                Ok(created) => {
                    for o in &created.booking.occurrences {
                        if o.status == crate::scheduling::OccurrenceStatus::Skipped {
                            let local = room.zone.local(o.start);
                            let sentence =
                                words.get(&local).cloned().unwrap_or_else(|| match me.lang {
                                    Lang::Nb => "Rommet er ikke ledig denne dagen.".into(),
                                    Lang::En => "The room is not free on this date.".into(),
                                });
                            answer.skipped.push((o.start, sentence));
                        }
                    }
                    booking_id = Some(created.booking.id);
                }
                Err(BookingError::Refused {
                    code,
                    decision,
                    zone,
                    ..
                }) => {
                    let reasons: Vec<crate::scheduling::Reason> =
                        decision.all_reasons().cloned().collect();
                    refuse(&mut answer, code, sentences(me.lang, &reasons, zone));
                }
                Err(BookingError::Overlap) => refuse(
                    &mut answer,
                    "taken",
                    match me.lang {
                        Lang::Nb => "Noen andre booket rommet i samme øyeblikk.".into(),
                        Lang::En => "Somebody else booked the room at the same moment.".into(),
                    },
                ),
                Err(BookingError::Store(e)) => return Err(WriteError::Store(e)),
                Err(e @ BookingError::Misconfigured(_)) => {
                    return Err(WriteError::Store(StoreError::Config(e.to_string())));
                }
                // Too many dates: the organiser's language, not the API's English record.
                Err(BookingError::Invalid {
                    code: code @ "too-many-occurrences",
                    ..
                }) => refuse(&mut answer, code, me.lang.t("book-error-too-many")),
                Err(e @ BookingError::Invalid { code, .. }) => {
                    refuse(&mut answer, code, e.to_string())
                }
                Err(e) => refuse(&mut answer, "refused", e.to_string()),
            }
        }
    }
    Ok(RoomLink {
        room_id: room.room.room.id.clone(),
        booking_id,
        fingerprint: print.to_owned(),
        answer: serde_json::to_string(&answer).unwrap_or_else(|_| "{}".into()),
    })
}

/// A one-date event moved: its one-date booking moves through the core
/// ([`Bookings::move_date`]), keeping its slot when the new time is refused. `None` when the
/// move is not one of a single date (a series, overrides, a whole-day event, a booking no
/// longer holding its slot): the caller cancels and books anew.
#[allow(clippy::too_many_arguments)]
async fn move_booking(
    bookings: &Bookings,
    me: &Organiser<'_>,
    obj: &Object,
    times: &EventTimes,
    room: &RoomCalendar,
    address: &str,
    old: &RoomLink,
    print: &str,
) -> Result<Option<RoomLink>, WriteError> {
    let Some(previous) = old.booking_id.as_deref() else {
        return Ok(None);
    };
    let single = obj
        .master()
        .is_some_and(|m| m.value("RRULE").is_none() && m.value("RDATE").is_none())
        && obj
            .root
            .children
            .iter()
            .filter(|c| c.name == "VEVENT")
            .count()
            == 1;
    let (start, end) = match (&times.start, &times.end) {
        (When::At(s), When::At(e)) => (*s, *e),
        _ => return Ok(None),
    };
    if !single {
        return Ok(None);
    }
    let booking = match bookings.get(me.principal, previous).await {
        Ok(b) => b,
        Err(BookingError::Store(e)) => return Err(WriteError::Store(e)),
        Err(_) => return Ok(None),
    };
    // The booking's one date (a move waiting for a clerk adds a second, which replaces it).
    let own: Vec<_> = booking
        .occurrences
        .iter()
        .filter(|o| o.replaces.is_none())
        .collect();
    let [date] = own.as_slice() else {
        return Ok(None);
    };
    if !date.status.is_blocking() {
        return Ok(None);
    }
    let seq = date.seq;
    let mut answer = Answer {
        address: address.to_owned(),
        room_name: room.room.room.name.clone(),
        zone: room.zone.name().to_owned(),
        refused: None,
        skipped: Vec::new(),
        moved: match me.lang {
            Lang::Nb => MOVED_NB.into(),
            Lang::En => MOVED_EN.into(),
        },
        kept: false,
        waiting: None,
        kept_note: String::new(),
    };
    let request = crate::booking::MoveDate {
        start: start.to_rfc3339(),
        end: end.to_rfc3339(),
    };
    let still_yours = match me.lang {
        Lang::Nb => "Rommet er fortsatt ditt på den gamle tiden.",
        Lang::En => "The room is still yours at the earlier time.",
    };
    let refusal = |code: &str, sentence: String| Refusal {
        code: code.to_owned(),
        status: status_for(code).to_owned(),
        sentence: format!("{sentence} {still_yours}"),
    };
    answer.kept_note = still_yours.to_owned();
    let (fingerprint, refused) = match bookings
        .move_date(me.principal, previous, seq, request)
        .await
    {
        Ok(after) => {
            answer.waiting = after
                .occurrences
                .iter()
                .find(|o| o.replaces == Some(seq) && o.status.is_blocking())
                .map(|o| o.seq);
            (print.to_owned(), None)
        }
        Err(BookingError::Refused {
            code,
            decision,
            zone,
            ..
        }) => {
            let reasons: Vec<crate::scheduling::Reason> = decision.all_reasons().cloned().collect();
            (
                old.fingerprint.clone(),
                Some(refusal(code, sentences(me.lang, &reasons, zone))),
            )
        }
        Err(BookingError::Overlap) => (
            old.fingerprint.clone(),
            Some(refusal(
                "taken",
                match me.lang {
                    Lang::Nb => "Noen andre booket rommet i samme øyeblikk.".into(),
                    Lang::En => "Somebody else booked the room at the same moment.".into(),
                },
            )),
        ),
        // The change cannot be held beside the date (it overlaps it, or another waits):
        // refused, the date kept.
        Err(BookingError::Invalid { code, .. })
            if matches!(code, "change-overlaps" | "change-waiting" | "date-passed") =>
        {
            (
                old.fingerprint.clone(),
                Some(refusal(code, me.lang.t(&format!("book-error-{code}")))),
            )
        }
        Err(BookingError::Store(e)) => return Err(WriteError::Store(e)),
        Err(e @ BookingError::Misconfigured(_)) => {
            return Err(WriteError::Store(StoreError::Config(e.to_string())));
        }
        Err(_) => return Ok(None),
    };
    answer.kept = refused.is_some();
    answer.refused = refused;
    Ok(Some(RoomLink {
        room_id: room.room.room.id.clone(),
        booking_id: Some(previous.to_owned()),
        fingerprint,
        answer: serde_json::to_string(&answer).unwrap_or_else(|_| "{}".into()),
    }))
}

fn sentences(
    lang: Lang,
    reasons: &[crate::scheduling::Reason],
    zone: crate::scheduling::Zone,
) -> String {
    let mut out: Vec<String> = Vec::new();
    for r in reasons {
        let s = crate::i18n::reasons::sentence(lang, r, zone);
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out.join(" ")
}

async fn cancel_quietly(
    bookings: &Bookings,
    me: &Organiser<'_>,
    booking_id: &str,
    reason: &str,
) -> Result<(), WriteError> {
    match bookings
        .cancel(me.principal, booking_id, Some(reason.to_owned()))
        .await
    {
        Ok(_) | Err(BookingError::WrongStatus { .. }) | Err(BookingError::NotFound { .. }) => {
            Ok(())
        }
        Err(BookingError::Store(e)) => Err(WriteError::Store(e)),
        Err(e) => Err(WriteError::Store(StoreError::Unavailable(e.to_string()))),
    }
}

/// Preconditions of a write (RFC 4918 §12.1.1, RFC 7232): `If-Match` and `If-None-Match`.
pub struct Conditions {
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
}

fn check_conditions(c: &Conditions, current: Option<&StaffObject>) -> Result<(), WriteError> {
    if let Some(m) = &c.if_match {
        let ok = match current {
            None => false,
            Some(o) => m
                .split(',')
                .any(|t| t.trim() == "*" || t.trim() == etag(o.change_seq)),
        };
        if !ok {
            return Err(failed_precondition(
                "If-Match: the object has changed (or is gone) since you read it; read it again",
            ));
        }
    }
    if let Some(m) = &c.if_none_match {
        let hit = match current {
            None => false,
            Some(o) => m
                .split(',')
                .any(|t| t.trim() == "*" || t.trim() == etag(o.change_seq)),
        };
        if hit {
            return Err(failed_precondition(
                "If-None-Match: an object already exists at this URL",
            ));
        }
    }
    Ok(())
}

/// PUT of an object into the staff member's calendar, scheduling its room attendees.
async fn put(
    cals: &Calendars,
    me: &Organiser<'_>,
    name: &str,
    body: &[u8],
    conditions: &Conditions,
) -> Result<Written, WriteError> {
    let bookings = &cals.bookings;
    if body.len() > MAX_RESOURCE_SIZE {
        return Err(refused(
            Rule::MaxResourceSize,
            format!("a calendar object may be at most {MAX_RESOURCE_SIZE} bytes"),
        ));
    }
    let text = std::str::from_utf8(body).map_err(|_| {
        refused(
            Rule::SupportedCalendarData,
            "the body must be iCalendar text in UTF-8",
        )
    })?;
    let mut obj: Object = object::check(text).map_err(invalid)?;
    let _one = WRITES.lock().await;
    let store = &cals.store;
    let current = store.staff_object(me.login, name).await?;
    check_conditions(conditions, current.as_ref())?;
    if let Some(other) = store.staff_object_by_uid(me.login, &obj.uid).await?
        && other != name
    {
        return Err(refused(
            Rule::NoUidConflict,
            format!(
                "another event in this calendar ({other}.ics) already has UID {}",
                obj.uid
            ),
        ));
    }
    strip_answers(&mut obj.root);
    let stored_text = if obj.root == object::parse(text).map_err(invalid)? {
        text.to_owned()
    } else {
        obj.root.to_text()
    };

    // Who is invited.
    let mut rooms: Vec<(String, RoomCalendar)> = Vec::new();
    let mut people: u32 = 0;
    if let Some(master) = obj.master() {
        for a in master.props("ATTENDEE") {
            match kind(cals, me, a).await? {
                Kind::Room(room) => {
                    if !rooms
                        .iter()
                        .any(|(_, r)| r.room.room.id == room.room.room.id)
                    {
                        rooms.push((a.value.trim().to_owned(), *room));
                    }
                }
                Kind::Person | Kind::UnknownRoom => people += 1,
                Kind::Skip => {
                    if me.is_me(&a.value) {
                        people += 1;
                    }
                }
            }
        }
        if !rooms.is_empty() {
            // RFC 6638 §3.2.4: only the organiser's copy schedules; Lokal schedules for rooms
            // only, so the organiser must be the one writing.
            let organisers: Vec<&Prop> = obj
                .root
                .children
                .iter()
                .filter(|c| c.name == "VEVENT")
                .filter_map(|c| c.prop("ORGANIZER"))
                .collect();
            let Some(first) = organisers.first() else {
                return Err(refused(
                    Rule::ValidOrganizer,
                    "an event that invites a room needs an ORGANIZER: your own address",
                ));
            };
            if organisers
                .iter()
                .any(|o| o.value.trim() != first.value.trim())
            {
                return Err(refused(
                    Rule::SameOrganizerInAllComponents,
                    "every component of the event must have the same ORGANIZER",
                ));
            }
            if !me.is_me(&first.value) {
                return Err(refused(
                    Rule::ValidOrganizer,
                    format!(
                        "the ORGANIZER {} is not you: only the organiser's copy may invite rooms (your addresses: {})",
                        first.value.trim(),
                        me.addresses.join(", ")
                    ),
                ));
            }
        }
    }

    let old_links = store.staff_links(me.login, name).await?;
    // Read before any cancellation below; not moved by booking status changes either way.
    let generation = store
        .staff_write_generation(me.login, name, &obj.uid)
        .await?;
    // Rooms no longer invited are freed first, before the rooms now invited are booked: an
    // organiser swapping a divisible hall for one of its halves at the same times would
    // otherwise find the half refused by their own booking of the hall, then lose the hall
    // too. Every room invited gets a link below (or the write fails), so these are exactly
    // the old links the new object no longer has.
    for old in &old_links {
        if !rooms.iter().any(|(_, r)| r.room.room.id == old.room_id)
            && let Some(id) = &old.booking_id
        {
            cancel_quietly(
                bookings,
                me,
                id,
                "removed from the meeting in the organiser's calendar",
            )
            .await?;
        }
    }
    let mut links: Vec<RoomLink> = Vec::new();
    let mut replies: Vec<RoomLink> = Vec::new();
    if let Some(master) = obj.master() {
        let print = fingerprint(master);
        let times = object::event_times(master);
        let times = match (&times, rooms.is_empty()) {
            (_, true) => None,
            (Ok(t), false) => Some(t),
            // A room is booked at definite times only.
            (Err(e), false) => {
                return Err(refused(Rule::ValidCalendarObjectResource, e.0.clone()));
            }
        };
        for (address, room) in &rooms {
            let old = old_links.iter().find(|l| l.room_id == room.room.room.id);
            if let Some(old) = old
                && old.fingerprint == print
            {
                let mut kept = old.clone();
                // Back at the time the booking holds after a refused move: the booking answers.
                let mut answer: Answer = serde_json::from_str(&old.answer).unwrap_or_default();
                if answer.kept {
                    answer.kept = false;
                    answer.refused = None;
                    kept.answer = serde_json::to_string(&answer).unwrap_or_else(|_| "{}".into());
                }
                links.push(kept);
                continue;
            }
            if let (Some(old), Some(t)) = (old, times)
                && let Some(link) =
                    move_booking(bookings, me, &obj, t, room, address, old, &print).await?
            {
                replies.push(link.clone());
                links.push(link);
                continue;
            }
            if let Some(previous) = old.and_then(|l| l.booking_id.as_deref()) {
                cancel_quietly(bookings, me, previous, "moved in the organiser's calendar").await?;
            }
            let link = book(
                bookings,
                me,
                &obj.uid,
                master,
                times.ok_or_else(|| {
                    refused(Rule::ValidCalendarObjectResource, "the event has no times")
                })?,
                room,
                address,
                people,
                &print,
                &format!(
                    "g{generation}:{}",
                    old.and_then(|l| l.booking_id.as_deref()).unwrap_or("")
                ),
            )
            .await?;
            replies.push(link.clone());
            links.push(link);
        }
    }
    let now = cals.now();
    let seq = match store
        .put_staff_object(me.login, name, &obj.uid, &stored_text, &links, now)
        .await
    {
        Ok(seq) => seq,
        Err(StoreError::DuplicateKey) => {
            return Err(refused(
                Rule::NoUidConflict,
                format!("another event in this calendar already has UID {}", obj.uid),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    // iTIP replies from the rooms that answered now (RFC 6638 §4, RFC 5546 §3.2.3).
    for link in &replies {
        let reply = reply_message(cals, &obj, link, now).await?;
        let item = uuid::Uuid::new_v4().to_string();
        store.add_inbox_item(me.login, &item, &reply, now).await?;
    }
    let stored = StaffObject {
        name: name.to_owned(),
        uid: obj.uid.clone(),
        body: stored_text,
        change_seq: seq,
        updated_at: now,
    };
    let served = render(cals, me.login, &stored).await?;
    Ok(Written {
        created: current.is_none(),
        etag: (served.as_bytes() == body).then(|| etag(seq)),
    })
}

/// DELETE of an object: cancels the bookings it made (RFC 6638 §3.2.2.3: the organiser
/// removing the event cancels it for every attendee).
async fn delete(
    cals: &Calendars,
    me: &Organiser<'_>,
    name: &str,
    conditions: &Conditions,
) -> Result<(), WriteError> {
    let bookings = &cals.bookings;
    let _one = WRITES.lock().await;
    let store = &cals.store;
    let current = store.staff_object(me.login, name).await?;
    check_conditions(conditions, current.as_ref())?;
    if current.is_none() {
        return Err(WriteError::NotFound);
    }
    for link in store.staff_links(me.login, name).await? {
        if let Some(id) = &link.booking_id {
            cancel_quietly(bookings, me, id, "the meeting was deleted in the calendar").await?;
        }
    }
    if store
        .delete_staff_object(me.login, name, cals.now())
        .await?
    {
        Ok(())
    } else {
        Err(WriteError::NotFound)
    }
}

/// What [`put_steps`] made of a body.
#[doc(hidden)]
#[derive(Debug)]
pub enum PutSteps {
    /// Refused as a PUT refuses it: the sentence for people.
    Refused(String),
    /// Accepted: the text stored, the booking request the master makes of a room (when its
    /// times are definite), and the copy served back with every room's answer written in.
    Accepted {
        stored: String,
        request: Option<CreateBooking>,
        served: String,
    },
}

/// The pure steps a PUT takes with a body, without a store: the checks, taking out what
/// Lokal added to a copy it served, the text stored, the fingerprint and times of the master,
/// the booking request it makes of a room, and the organiser's copy as served with room
/// answers of each kind written in (declined with a sentence, accepted with skipped dates, a
/// moved date). For the fuzz targets and their corpus replay (`fuzz/harness.rs`), which
/// check that what Lokal stores and serves reads back.
#[doc(hidden)]
pub fn put_steps(text: &str) -> PutSteps {
    let mut obj = match object::check(text) {
        Ok(o) => o,
        Err(e) => return PutSteps::Refused(e.message),
    };
    strip_answers(&mut obj.root);
    let stored = match object::parse(text) {
        Ok(root) if root == obj.root => text.to_owned(),
        _ => obj.root.to_text(),
    };
    let mut request = None;
    let mut answers = Vec::new();
    if let Some(master) = obj.master() {
        let _ = fingerprint(master);
        if let Ok(times) = object::event_times(master) {
            let people = u32::try_from(master.props("ATTENDEE").count()).unwrap_or(u32::MAX);
            request = Some(request_for(master, &times, "fuzz-room", people));
            let first = match times.start {
                When::At(t) => Some(t),
                When::Day(d) => d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()),
            };
            for (i, a) in master.props("ATTENDEE").enumerate() {
                let mut n = Now {
                    partstat: "ACCEPTED",
                    declined: None,
                    skipped: Vec::new(),
                    zone: chrono_tz::Europe::Oslo,
                    address: a.value.clone(),
                    room_name: format!("Rom {i}; \\, \"sal\""),
                    moved: MOVED_NB.to_owned(),
                };
                match i % 3 {
                    0 => {
                        n.partstat = "DECLINED";
                        n.declined = Some((
                            "3.1".into(),
                            "Rommet er stengt, også\nneste dag; se: «regler»".into(),
                        ));
                    }
                    1 => n
                        .skipped
                        .extend(first.map(|t| (t, "Opptatt, beklager.".into()))),
                    _ => n.partstat = "TENTATIVE",
                }
                answers.push(n);
            }
        }
    }
    let mut root = obj.root.clone();
    annotate(&mut root, &answers);
    PutSteps::Accepted {
        stored,
        request,
        served: root.to_text(),
    }
}

/// The room's answer now, from its link and the booking's current state.
struct Now {
    partstat: &'static str,
    /// (RFC 5546 status, sentence) when declined.
    declined: Option<(String, String)>,
    /// Skipped dates of a series: (start, sentence).
    skipped: Vec<(DateTime<Utc>, String)>,
    zone: chrono_tz::Tz,
    address: String,
    room_name: String,
    /// The sentence for a moved single date ([`Answer::moved`]).
    moved: String,
}

fn answer_now(link: &RoomLink, booking: Option<&BookingRecord>, now: DateTime<Utc>) -> Now {
    let answer: Answer = serde_json::from_str(&link.answer).unwrap_or_default();
    let zone = answer.zone.parse().unwrap_or(chrono_tz::UTC);
    let mut out = Now {
        partstat: "DECLINED",
        declined: None,
        skipped: Vec::new(),
        zone,
        address: answer.address.clone(),
        room_name: answer.room_name.clone(),
        moved: if answer.moved.is_empty() {
            MOVED_EN.to_owned()
        } else {
            answer.moved.clone()
        },
    };
    if let Some(r) = &answer.refused {
        out.declined = Some((r.status.clone(), r.sentence.clone()));
        return out;
    }
    let Some(b) = booking else {
        out.declined = Some(("2.0".into(), "the booking is gone".into()));
        return out;
    };
    // A move waiting for a clerk: the new time's own date answers.
    if let Some(date) = answer
        .waiting
        .and_then(|w| b.occurrences.iter().find(|o| o.seq == w))
    {
        use crate::scheduling::BookingStatus as S;
        match date.status.booked() {
            Some(S::Pending) if b.hold_until.is_none_or(|h| h > now) => {
                out.partstat = "TENTATIVE";
                return out;
            }
            Some(S::Approved) => {}
            _ => {
                let why = date
                    .status_reason
                    .clone()
                    .unwrap_or_else(|| "the new time was not approved".into());
                let note = if answer.kept_note.is_empty() {
                    "The room is still yours at the earlier time."
                } else {
                    answer.kept_note.as_str()
                };
                out.declined = Some(("2.0".into(), format!("{why}. {note}")));
                return out;
            }
        }
    }
    let decided = |why: String| Some(("2.0".to_owned(), why));
    match b.status.as_str() {
        "approved" => {
            out.partstat = "ACCEPTED";
            out.skipped = answer.skipped.clone();
        }
        "pending" if b.hold_until.is_none_or(|h| h > now) => {
            out.partstat = "TENTATIVE";
            out.skipped = answer.skipped.clone();
        }
        "pending" | "expired" => {
            out.declined = decided("the request expired before a clerk decided".into());
        }
        "rejected" => {
            out.declined = decided(format!(
                "rejected by a clerk: {}",
                b.status_reason.clone().unwrap_or_default()
            ));
        }
        _ => {
            out.declined = decided(
                b.status_reason
                    .clone()
                    .unwrap_or_else(|| "the booking was cancelled".into()),
            );
        }
    }
    // Dates skipped without words kept (a series booked another way) still decline.
    for o in &b.occurrences {
        if o.status == crate::scheduling::OccurrenceStatus::Skipped
            && !out.skipped.iter().any(|(s, _)| *s == o.start)
        {
            out.skipped
                .push((o.start, "the room is not free on this date".into()));
        }
    }
    // Dates decided on their own since (issue 16): a date a clerk rejected, one cancelled
    // (by the requester, for a closure, or moved away) or expired, while the rest of the
    // series holds: the room declines that date, with why.
    for o in &b.occurrences {
        let Some(status) = o.status.booked() else {
            continue;
        };
        if status.is_blocking() || out.skipped.iter().any(|(s, _)| *s == o.start) {
            continue;
        }
        let why = match (status, o.status_reason.as_deref()) {
            (_, Some(r)) if !r.trim().is_empty() => format!("{status}: {}", r.trim()),
            (s, _) => s.to_string(),
        };
        out.skipped.push((o.start, why));
    }
    out
}

/// The organiser's copy as served: the stored object with each room's answer now
/// (RFC 6638 §3.2.2: the server updates the organiser's copy with the attendees' replies).
async fn render(cals: &Calendars, owner: &str, stored: &StaffObject) -> Result<String, StoreError> {
    let links = cals.store.staff_links(owner, &stored.name).await?;
    let Ok(mut root) = object::parse(&stored.body) else {
        return Ok(stored.body.clone());
    };
    let has_attendees = root
        .children
        .iter()
        .any(|c| c.name == "VEVENT" && c.prop("ATTENDEE").is_some());
    if links.is_empty() && !has_attendees {
        return Ok(stored.body.clone());
    }
    let now_ = cals.now();
    let mut answers = Vec::new();
    for link in &links {
        let booking = match &link.booking_id {
            Some(id) => cals.store.booking(id).await?,
            None => None,
        };
        answers.push(answer_now(link, booking.as_ref(), now_));
    }
    annotate(&mut root, &answers);
    Ok(root.to_text())
}

fn same_address(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

fn set_answer(attendee: &mut Prop, partstat: &str) {
    attendee.set_param("PARTSTAT", partstat);
    attendee.set_param("SCHEDULE-STATUS", "2.0");
    attendee.remove_param("RSVP");
}

fn decline_props(event: &mut Component, room_name: &str, status: &str, sentence: &str) {
    event.props.push(Prop::new(
        "REQUEST-STATUS",
        format!(
            "{status};{};{}",
            escape(status_text(status)),
            escape(&format!("{room_name}: {sentence}"))
        ),
    ));
    let mut comment = Prop::new("COMMENT", escape(&format!("{room_name}: {sentence}")));
    comment.set_param(MARK, "1");
    event.props.push(comment);
}

fn annotate(root: &mut Component, answers: &[Now]) {
    let organiser = root
        .children
        .iter()
        .find_map(|c| c.prop("ORGANIZER").map(|o| o.value.clone()));
    let mut overrides = Vec::new();
    let master_index = root
        .children
        .iter()
        .position(|c| c.name == "VEVENT" && c.prop("RECURRENCE-ID").is_none());
    // The series' length, to tell an override that moves its date from one that only
    // changes other properties (RFC 5545 §3.8.4.4: the override replaces that instance).
    let master_length = master_index
        .and_then(|i| object::event_times(&root.children[i]).ok())
        .and_then(|t| length_of(&t));
    for (i, event) in root.children.iter_mut().enumerate() {
        if event.name != "VEVENT" {
            continue;
        }
        let is_master = Some(i) == master_index;
        let recurrence = event
            .prop("RECURRENCE-ID")
            .and_then(|p| object::when(p).ok())
            .map(|w| w.0);
        // A date the organiser moved: the room keeps the series' original date (the core
        // books series without exceptions), so the moved date is not booked.
        let moved = !is_master
            && event.prop("X-LOKAL-OVERRIDE").is_none()
            && match (recurrence, object::event_times(event)) {
                (Some(r), Ok(t)) => t.start != r || length_of(&t) != master_length,
                _ => false,
            };
        let mut declines: Vec<(String, String, String)> = Vec::new();
        let mut unbooked: Vec<String> = Vec::new();
        for a in event.props.iter_mut().filter(|p| p.name == "ATTENDEE") {
            if let Some(n) = answers.iter().find(|n| same_address(&n.address, &a.value)) {
                if moved && n.declined.is_none() {
                    // RFC 6638 §3.2.9 SCHEDULE-STATUS 5.3: no scheduling for this instance.
                    a.set_param("PARTSTAT", "NEEDS-ACTION");
                    a.set_param("SCHEDULE-STATUS", "5.3");
                    a.remove_param("RSVP");
                    unbooked.push(format!("{}: {}", n.room_name, n.moved));
                    continue;
                }
                let skipped_here = recurrence.and_then(|r| {
                    n.skipped.iter().find(|(s, _)| match r {
                        When::At(t) => *s == t,
                        When::Day(d) => s.with_timezone(&n.zone).date_naive() == d,
                    })
                });
                if let Some((_, why)) = skipped_here {
                    set_answer(a, "DECLINED");
                    declines.push((n.room_name.clone(), "4.0".into(), why.clone()));
                } else {
                    set_answer(a, n.partstat);
                    if let Some((status, why)) = &n.declined {
                        declines.push((n.room_name.clone(), status.clone(), why.clone()));
                    }
                }
                continue;
            }
            let agent = a.param("SCHEDULE-AGENT").unwrap_or_default();
            if agent.eq_ignore_ascii_case("CLIENT")
                || agent.eq_ignore_ascii_case("NONE")
                || organiser
                    .as_deref()
                    .is_some_and(|o| same_address(o, &a.value))
            {
                continue;
            }
            let cutype = a.param("CUTYPE").unwrap_or_default();
            // RFC 6638 §3.2.9 / RFC 5546 §3.6: 3.7 an invalid calendar user (a "room" that
            // is no bookable room here); 5.3 no scheduling support for this user (people:
            // Lokal delivers to rooms only; their groupware invites them).
            let status = if cutype.eq_ignore_ascii_case("ROOM") {
                "3.7"
            } else {
                "5.3"
            };
            a.set_param("SCHEDULE-STATUS", status);
        }
        for (room, status, why) in &declines {
            decline_props(event, room, status, why);
        }
        for sentence in &unbooked {
            let mut comment = Prop::new("COMMENT", escape(sentence));
            comment.set_param(MARK, "1");
            event.props.push(comment);
        }
        if is_master && event.prop("RRULE").is_some() {
            for n in answers {
                if n.declined.is_some() {
                    continue;
                }
                for (start, why) in &n.skipped {
                    overrides.push((event.clone(), n, *start, why.clone()));
                }
            }
        }
    }
    // Skipped dates of a series the client has no override for: one override each, with the
    // room DECLINED (RFC 5545 §3.8.4.4 RECURRENCE-ID).
    let existing: Vec<When> = root
        .children
        .iter()
        .filter_map(|c| c.prop("RECURRENCE-ID"))
        .filter_map(|p| object::when(p).ok().map(|w| w.0))
        .collect();
    for (master, n, start, why) in overrides {
        let Ok(times) = object::event_times(&master) else {
            continue;
        };
        let covered = existing.iter().any(|w| match w {
            When::At(t) => *t == start,
            When::Day(d) => start.with_timezone(&n.zone).date_naive() == *d,
        });
        if covered {
            continue;
        }
        let length = match (times.start, times.end) {
            (When::At(a), When::At(b)) => b - a,
            (When::Day(a), When::Day(b)) => chrono::TimeDelta::days((b - a).num_days()),
            _ => chrono::TimeDelta::zero(),
        };
        let Some(end) = start.checked_add_signed(length) else {
            continue;
        };
        let day_zone = match &times.frame {
            Frame::Zone { tz, .. } => *tz,
            _ => n.zone,
        };
        let mut o = master.clone();
        for name in [
            "RRULE",
            "RDATE",
            "EXDATE",
            "DTSTART",
            "DTEND",
            "DURATION",
            "REQUEST-STATUS",
        ] {
            o.remove(name);
        }
        o.props
            .retain(|p| !(p.name == "COMMENT" && p.param(MARK).is_some()));
        o.props.push(object::written(
            "RECURRENCE-ID",
            start,
            &times.frame,
            day_zone,
        ));
        o.props
            .push(object::written("DTSTART", start, &times.frame, day_zone));
        o.props
            .push(object::written("DTEND", end, &times.frame, day_zone));
        o.props.push(Prop::new("X-LOKAL-OVERRIDE", "1"));
        for a in o.props.iter_mut().filter(|p| p.name == "ATTENDEE") {
            if same_address(&a.value, &n.address) {
                set_answer(a, "DECLINED");
            }
        }
        decline_props(&mut o, &n.room_name, "4.0", &why);
        root.children.push(o);
    }
}

/// An event's length: exact for date-times, in days for dates.
fn length_of(t: &object::EventTimes) -> Option<chrono::TimeDelta> {
    match (t.start, t.end) {
        (When::At(a), When::At(b)) => Some(b - a),
        (When::Day(a), When::Day(b)) => Some(chrono::TimeDelta::days((b - a).num_days())),
        _ => None,
    }
}

/// An iTIP REPLY (RFC 5546 §3.2.3) from a room to the organiser, for the schedule inbox.
async fn reply_message(
    cals: &Calendars,
    obj: &Object,
    link: &RoomLink,
    now: DateTime<Utc>,
) -> Result<String, StoreError> {
    let booking = match &link.booking_id {
        Some(id) => cals.store.booking(id).await?,
        None => None,
    };
    let n = answer_now(link, booking.as_ref(), now);
    let mut event = Component {
        name: "VEVENT".into(),
        props: Vec::new(),
        children: Vec::new(),
    };
    if let Some(master) = obj.master() {
        for name in [
            "UID",
            "DTSTART",
            "DTEND",
            "DURATION",
            "RRULE",
            "ORGANIZER",
            "SUMMARY",
            "SEQUENCE",
        ] {
            if let Some(p) = master.prop(name) {
                event.props.push(p.clone());
            }
        }
    }
    event.props.push(Prop::new(
        "DTSTAMP",
        now.format("%Y%m%dT%H%M%SZ").to_string(),
    ));
    let mut attendee = Prop::new("ATTENDEE", n.address.clone());
    attendee.set_param("CUTYPE", "ROOM");
    attendee.set_param("CN", &n.room_name);
    attendee.set_param("PARTSTAT", n.partstat);
    event.props.push(attendee);
    match &n.declined {
        Some((status, why)) => decline_props(&mut event, &n.room_name, status, why),
        None => event
            .props
            .push(Prop::new("REQUEST-STATUS", "2.0;Success.")),
    }
    // The VTIMEZONEs the event's times name.
    let mut root = Component {
        name: "VCALENDAR".into(),
        props: vec![
            Prop::new("VERSION", "2.0"),
            Prop::new("PRODID", object::PRODID),
            Prop::new("METHOD", "REPLY"),
        ],
        children: obj
            .root
            .children
            .iter()
            .filter(|c| c.name == "VTIMEZONE")
            .cloned()
            .collect(),
    };
    root.children.push(event);
    Ok(root.to_text())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(answer: Answer, booking_id: Option<&str>) -> RoomLink {
        RoomLink {
            room_id: "r1".into(),
            booking_id: booking_id.map(str::to_owned),
            fingerprint: "f".into(),
            answer: serde_json::to_string(&answer).unwrap(),
        }
    }

    #[test]
    fn lokal_answers_come_out_when_a_client_writes_the_copy_back() {
        let text = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:u\r\nDTSTART:20270111T090000Z\r\nDTEND:20270111T100000Z\r\nRRULE:FREQ=WEEKLY;COUNT=3\r\nORGANIZER:mailto:a@b\r\nATTENDEE;CUTYPE=ROOM:urn:uuid:r1\r\nATTENDEE:mailto:p@q\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let mut root = object::parse(text).unwrap();
        let original = root.clone();
        let n = Now {
            partstat: "ACCEPTED",
            declined: None,
            skipped: vec![("2027-01-18T09:00:00Z".parse().unwrap(), "busy".into())],
            zone: chrono_tz::Europe::Oslo,
            address: "urn:uuid:r1".into(),
            room_name: "Room".into(),
            moved: MOVED_EN.into(),
        };
        annotate(&mut root, &[n]);
        let served = root.to_text();
        assert!(served.contains("PARTSTAT=ACCEPTED"), "{served}");
        assert!(
            served.contains("RECURRENCE-ID:20270118T090000Z"),
            "{served}"
        );
        assert!(
            served.contains("SCHEDULE-STATUS=5.3:mailto:p@q"),
            "{served}"
        );
        assert!(served.contains("REQUEST-STATUS:4.0"), "{served}");
        let mut back = object::parse(&served).unwrap();
        strip_answers(&mut back);
        assert_eq!(back.children.len(), 1);
        // Only the answer parameters differ from what was sent.
        assert_eq!(
            back.children[0].props.len(),
            original.children[0].props.len()
        );
    }

    #[test]
    fn the_answer_follows_the_booking() {
        let answer = Answer {
            address: "urn:uuid:r1".into(),
            room_name: "Room".into(),
            zone: "Europe/Oslo".into(),
            refused: None,
            skipped: Vec::new(),
            moved: String::new(),
            kept: false,
            waiting: None,
            kept_note: String::new(),
        };
        let now: DateTime<Utc> = "2027-01-04T09:00:00Z".parse().unwrap();
        assert_eq!(
            answer_now(&link(answer.clone(), Some("b")), None, now).partstat,
            "DECLINED"
        );
        let refused = Answer {
            refused: Some(Refusal {
                code: "conflict".into(),
                status: "4.0".into(),
                sentence: "busy".into(),
            }),
            ..answer
        };
        let n = answer_now(&link(refused, None), None, now);
        assert_eq!(n.partstat, "DECLINED");
        assert_eq!(n.declined.unwrap().0, "4.0");
        assert_eq!(parse_sync_token("a", &sync_token("a", 7)), Some(7));
        assert_eq!(parse_sync_token("b", &sync_token("a", 7)), None);
        assert_eq!(unescape(&escape("a;b,c\\d\ne")), "a;b,c\\d\ne");
    }
}
