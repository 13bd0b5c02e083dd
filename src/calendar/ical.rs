//! iCalendar (RFC 5545) for room calendars: bookings as VEVENTs with their VTIMEZONE.
//!
//! What a calendar shows of a booking:
//! - only *blocking* dates (occurrence status `pending` or `approved`) of bookings that are
//!   themselves `pending` or `approved`; anything else is not in the calendar at all;
//! - every component of a booking has the UID `{booking id}@lokal`, stable for its lifetime,
//!   so a calendar app updates the event in place when the booking changes;
//! - times are local wall time with the room zone's TZID, and the same VCALENDAR carries that
//!   zone's VTIMEZONE with explicit observances (no rules), found from chrono-tz;
//! - a series is one master VEVENT whose RRULE, EXDATEs and RDATEs generate exactly the stored
//!   blocking dates (the stored series may have been cut at the booking horizon, so the rule
//!   always ends with the UTC `UNTIL` of the last stored date), plus an override VEVENT
//!   (RECURRENCE-ID) for each date whose status or length differs from the master's;
//! - [`Detail::Busy`] shows a fixed label and nothing personal.
//!
//! Properties, their escaping (RFC 5545 §3.3.11) and date formats come from the icalendar
//! crate. Two things of its writer are not used, and this module writes the component tree
//! itself from the crate's properties (`Block`):
//! - the crate adds a `DTSTAMP` of the current time and a random `UID` to *every* component
//!   that lacks them, VTIMEZONE and its STANDARD/DAYLIGHT observances included, where
//!   RFC 5545 allows neither (and the output would change on every request);
//! - its line folding leaves a 76-octet line when the last piece of a long line is exactly
//!   75 octets; lines are therefore unfolded and folded again here at 75 octets (RFC 5545 §3.1),
//!   never inside a UTF-8 character.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::{OffsetComponents, OffsetName};
use icalendar::{
    CalendarDateTime, Class, Component, DatePerhapsTime, Event, EventLike, EventStatus, Property,
    parser::unfold,
};

use crate::scheduling::{Interval, OccurrenceStatus, Recurrence, Truncation, Zone};
use crate::store::{BookingRecord, OccurrenceRecord};

/// The PRODID of every calendar written here.
pub use crate::ical::PRODID;
use crate::ical::{clean_text, fold as fold_into};

/// The most occurrences the emitted RRULE may generate when it is checked against the stored
/// dates; a rule generating more is replaced by a plain list of dates (RDATEs).
const MAX_GENERATED: usize = 20_000;

/// The longest span of years a VTIMEZONE covers; a wider request is cut at its start + this.
const MAX_ZONE_YEARS: i32 = 100;

/// What a viewer may see of a booking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Detail {
    /// Public feeds: busy only, no personal data at all. The label is the SUMMARY, e.g.
    /// "Opptatt" or "Busy".
    Busy { label: String },
    /// Staff: the purpose as SUMMARY; the organiser (the requester's name, as
    /// `ORGANIZER;CN=...`) only when `show_organiser`.
    Staff { show_organiser: bool },
}

/// The room a calendar belongs to. `id` is for the caller's hrefs; which bookings belong in
/// the room's calendar (e.g. those of its physical parts too) is the caller's choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoomInfo<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub zone: Zone,
}

/// The UID of every component of a booking: `{booking id}@lokal`. It never changes, so a
/// calendar app replaces the event when the booking changes instead of adding another.
pub fn uid(booking_id: &str) -> String {
    format!("{booking_id}@lokal")
}

/// One calendar object resource (the body of `GET /dav/.../{booking}.ics`): a VCALENDAR with
/// the room zone's VTIMEZONE (covering the years of the booking's dates) and the booking's
/// VEVENTs. `None` when the booking blocks nothing (its status is not pending or approved, or
/// none of its dates is): such bookings are not in the calendar.
pub fn calendar_object(
    booking: &BookingRecord,
    room: &RoomInfo,
    detail: &Detail,
    stamp: DateTime<Utc>,
) -> Option<String> {
    object_with(booking, room, detail, stamp, None)
}

/// A VCALENDAR with the room zone's VTIMEZONE and the booking's events (with `window`, only
/// the overrides overlapping it).
fn object_with(
    booking: &BookingRecord,
    room: &RoomInfo,
    detail: &Detail,
    stamp: DateTime<Utc>,
    window: Option<(DateTime<Utc>, DateTime<Utc>)>,
) -> Option<String> {
    let events = booking_events(booking, room, detail, stamp, window)?;
    let (from, to) = years(std::iter::once(booking), room.zone)?;
    let mut calendar = calendar_block().child(vtimezone_block(room.zone, from, to));
    calendar.children.extend(events);
    Some(render(&calendar))
}

/// A calendar object limited for CALDAV:limit-recurrence-set (RFC 4791 §9.6.6): the master
/// and only the overrides that overlap `[from, to)`.
pub fn limited_object(
    booking: &BookingRecord,
    room: &RoomInfo,
    detail: &Detail,
    stamp: DateTime<Utc>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Option<String> {
    object_with(booking, room, detail, stamp, Some((from, to)))
}

/// A whole feed: one VCALENDAR with X-WR-CALNAME (the room's name), one VTIMEZONE and every
/// visible booking's VEVENTs, in the order given.
pub fn feed(
    bookings: &[BookingRecord],
    room: &RoomInfo,
    detail: &Detail,
    stamp: DateTime<Utc>,
) -> String {
    let visible: Vec<&BookingRecord> = bookings.iter().filter(|b| is_visible(b)).collect();
    let (from, to) = years(visible.iter().copied(), room.zone).unwrap_or_else(|| {
        let year = room.zone.local(stamp).year();
        (year, year)
    });
    let mut calendar = calendar_block()
        .prop(("X-WR-CALNAME", clean_text(room.name).as_str()))
        .prop(("X-WR-TIMEZONE", room.zone.name()))
        .child(vtimezone_block(room.zone, from, to));
    for booking in visible {
        if let Some(events) = booking_events(booking, room, detail, stamp, None) {
            calendar.children.extend(events);
        }
    }
    render(&calendar)
}

/// The VTIMEZONE for `zone` covering the local years `[from_year, to_year]` (inclusive; at
/// most 100 years): one observance giving the offset in force at the span's start, then an
/// explicit STANDARD or DAYLIGHT observance (DTSTART, TZOFFSETFROM, TZOFFSETTO and, when
/// chrono-tz knows one, TZNAME) for each change of the UTC offset in the span. The changes
/// are found by sampling the zone hourly and bisecting to the second.
pub fn vtimezone(zone: Zone, from_year: i32, to_year: i32) -> String {
    render(&vtimezone_block(zone, from_year, to_year))
}

/// Expanded instances for `CALDAV:expand` (RFC 4791 §9.6.5): every blocking occurrence
/// overlapping `[from, to)` as its own VEVENT in UTC (RECURRENCE-ID in UTC too when the
/// booking is a series), with no RRULE, EXDATE or VTIMEZONE. `None` when the booking is not
/// visible or none of its blocking dates overlaps the window.
pub fn expanded_object(
    booking: &BookingRecord,
    room: &RoomInfo,
    detail: &Detail,
    stamp: DateTime<Utc>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Option<String> {
    if !is_visible(booking) {
        return None;
    }
    let series = booking.recurrence.is_some() || booking.occurrences.len() > 1;
    let mut instances: Vec<&OccurrenceRecord> = booking
        .occurrences
        .iter()
        .filter(|o| o.status.is_blocking() && overlaps(o.start, o.end, from, to))
        .collect();
    if instances.is_empty() {
        return None;
    }
    instances.sort_by_key(|o| (o.start, o.seq));
    let mut calendar = calendar_block();
    for o in instances {
        let mut event = base_event(booking, room, detail, stamp);
        event
            .starts(o.start)
            .ends(o.end)
            .status(event_status(o.status));
        if series {
            event.recurrence_id(o.start);
        }
        calendar = calendar.child(Block::from_component(&event));
    }
    Some(render(&calendar))
}

/// The busy periods (UTC) of the booking's blocking occurrences overlapping `[from, to)`, for
/// free-busy-query (RFC 4791 §7.10): `(start, end, tentative)`, tentative for a pending date
/// (BUSY-TENTATIVE), not for an approved one (BUSY). The periods are the occurrences' own
/// times, not clipped to the window ([`freebusy`] clips).
pub fn busy_periods(
    booking: &BookingRecord,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, DateTime<Utc>, bool)> {
    if !booking.status.is_blocking() {
        return Vec::new();
    }
    booking
        .occurrences
        .iter()
        .filter(|o| o.status.is_blocking() && overlaps(o.start, o.end, from, to))
        .map(|o| {
            (
                o.start,
                o.end,
                o.status == crate::scheduling::BookingStatus::Pending,
            )
        })
        .collect()
}

/// A VFREEBUSY reply body: a VCALENDAR with one VFREEBUSY (DTSTAMP, DTSTART, DTEND, UID and
/// one FREEBUSY per period). Periods are clipped to `[from, to)`, merged where they overlap
/// or touch and sorted; where a busy and a tentative period overlap, the time is BUSY.
pub fn freebusy(
    periods: &[(DateTime<Utc>, DateTime<Utc>, bool)],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    stamp: DateTime<Utc>,
) -> String {
    let uid = format!("freebusy-{}-{}@lokal", utc_text(from), utc_text(to));
    render(&calendar_block().child(vfreebusy(periods, from, to, stamp, &uid, &[])))
}

/// Who a free-busy reply is between (RFC 5546 §3.3.2): the request's UID, its ORGANIZER, and
/// the one ATTENDEE (the room) whose busy time the reply carries.
#[derive(Clone, Copy, Debug)]
pub struct FreeBusyReply<'a> {
    pub uid: &'a str,
    pub organizer: &'a str,
    pub attendee: &'a str,
    /// The attendee's display name (`CN`).
    pub attendee_name: &'a str,
}

/// The iTIP reply to a VFREEBUSY request (RFC 5546 §3.3.2, RFC 6638 §5): a VCALENDAR with
/// `METHOD:REPLY` and one VFREEBUSY with the request's UID, ORGANIZER and the room as ATTENDEE,
/// and the busy periods as [`freebusy`] writes them.
pub fn freebusy_reply(
    periods: &[(DateTime<Utc>, DateTime<Utc>, bool)],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    stamp: DateTime<Utc>,
    reply: FreeBusyReply<'_>,
) -> String {
    let parties = [
        Property::new("ORGANIZER", clean_text(reply.organizer)).done(),
        Property::new("ATTENDEE", clean_text(reply.attendee))
            .add_parameter("CN", &param_text(reply.attendee_name))
            .add_parameter("CUTYPE", "ROOM")
            .done(),
    ];
    render(
        &calendar_block()
            .prop(("METHOD", "REPLY"))
            .child(vfreebusy(periods, from, to, stamp, reply.uid, &parties)),
    )
}

/// One VFREEBUSY: DTSTAMP, DTSTART, DTEND, UID, `extra` properties, then a FREEBUSY per
/// period (see [`freebusy`]).
fn vfreebusy(
    periods: &[(DateTime<Utc>, DateTime<Utc>, bool)],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    stamp: DateTime<Utc>,
    uid: &str,
    extra: &[Property],
) -> Block {
    let clipped = |tentative: bool| -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        periods
            .iter()
            .filter(|p| p.2 == tentative)
            .map(|&(s, e, _)| (s.max(from), e.min(to)))
            .filter(|(s, e)| s < e)
            .collect()
    };
    let busy = merge(clipped(false));
    let tentative = subtract(merge(clipped(true)), &busy);
    let mut all: Vec<(DateTime<Utc>, DateTime<Utc>, &str)> = busy
        .into_iter()
        .map(|(s, e)| (s, e, "BUSY"))
        .chain(tentative.into_iter().map(|(s, e)| (s, e, "BUSY-TENTATIVE")))
        .collect();
    all.sort();
    let mut vfreebusy = Block::new("VFREEBUSY")
        .prop(DatePerhapsTime::from(stamp).to_property("DTSTAMP"))
        .prop(DatePerhapsTime::from(from).to_property("DTSTART"))
        .prop(DatePerhapsTime::from(to).to_property("DTEND"))
        .prop(("UID", clean_text(uid).as_str()));
    for property in extra {
        vfreebusy = vfreebusy.prop(property.clone());
    }
    for (s, e, kind) in all {
        vfreebusy = vfreebusy.prop(
            Property::new("FREEBUSY", format!("{}/{}", utc_text(s), utc_text(e)))
                .add_parameter("FBTYPE", kind)
                .done(),
        );
    }
    vfreebusy
}

type Span = (DateTime<Utc>, DateTime<Utc>);

/// Sorted, with overlapping or touching spans joined (the core's merge; empty spans dropped).
fn merge(spans: Vec<Span>) -> Vec<Span> {
    crate::scheduling::interval::merge(
        spans
            .into_iter()
            .filter_map(|(s, e)| Interval::new(s, e).ok())
            .collect(),
    )
    .into_iter()
    .map(|i| (i.start(), i.end()))
    .collect()
}

/// The parts of `spans` outside `cut`; both sorted and merged.
fn subtract(spans: Vec<Span>, cut: &[Span]) -> Vec<Span> {
    let mut out = Vec::new();
    for (mut s, e) in spans {
        for &(cs, ce) in cut {
            if ce <= s || cs >= e {
                continue;
            }
            if cs > s {
                out.push((s, cs));
            }
            s = s.max(ce);
        }
        if s < e {
            out.push((s, e));
        }
    }
    out
}

/// Whether a booking is in the calendar: it is pending or approved and blocks some date.
fn is_visible(booking: &BookingRecord) -> bool {
    booking.status.is_blocking() && booking.occurrences.iter().any(|o| o.status.is_blocking())
}

fn event_status(status: OccurrenceStatus) -> EventStatus {
    if status == crate::scheduling::BookingStatus::Approved {
        EventStatus::Confirmed
    } else {
        EventStatus::Tentative
    }
}

/// RFC 4791 §9.9 for an event with an end: it overlaps `[from, to)`.
fn overlaps(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> bool {
    start < to && (end > from || (start == end && start >= from))
}

fn utc_text(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// The local years spanned by the bookings' dates (all of them: EXDATEs are local times too).
fn years<'b>(bookings: impl Iterator<Item = &'b BookingRecord>, zone: Zone) -> Option<(i32, i32)> {
    let mut span: Option<(i32, i32)> = None;
    for o in bookings.flat_map(|b| &b.occurrences) {
        let (a, b) = (
            zone.local(o.start.min(o.end)).year(),
            zone.local(o.end.max(o.start)).year(),
        );
        span = Some(match span {
            None => (a, b),
            Some((lo, hi)) => (lo.min(a), hi.max(b)),
        });
    }
    span
}

/// A parameter value: the crate quotes values with `:`, `;` or `,` but cannot write a DQUOTE
/// or a line break, so those are encoded as RFC 6868 says (`^'`, `^n`, and `^^` for `^`);
/// other control characters are dropped.
fn param_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in clean_text(s).chars() {
        match c {
            '^' => out.push_str("^^"),
            '\n' => out.push_str("^n"),
            '"' => out.push_str("^'"),
            '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The organiser's calendar address: a URN naming the requester (`resident:<id>` or
/// `staff:<id>`), percent-encoded; the store keeps no e-mail address with a booking.
fn organiser_address(requester_id: &str) -> String {
    let mut out = String::from("urn:x-lokal:requester:");
    for b in requester_id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b':') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The properties every VEVENT of a booking shares: UID, stamps, status-independent text.
fn base_event(
    booking: &BookingRecord,
    room: &RoomInfo,
    detail: &Detail,
    stamp: DateTime<Utc>,
) -> Event {
    let mut event = Event::new();
    event
        .uid(&uid(&booking.id))
        .timestamp(stamp)
        .created(booking.created_at)
        .last_modified(booking.updated_at)
        .location(&clean_text(room.name))
        .add_property("TRANSP", "OPAQUE");
    match detail {
        Detail::Busy { label } => {
            event.summary(&clean_text(label)).class(Class::Public);
        }
        Detail::Staff { show_organiser } => {
            event.summary(&clean_text(&booking.purpose));
            // A booking of another room sharing a physical part is shown busy only, with
            // no requester to name.
            if *show_organiser && !booking.requester_id.is_empty() {
                event.append_property(
                    Property::new("ORGANIZER", organiser_address(&booking.requester_id))
                        .add_parameter("CN", &param_text(&booking.requester_name))
                        .done(),
                );
            }
        }
    }
    event
}

/// How a booking's blocking dates are written: a master event, and what it generates.
struct Plan<'b> {
    /// The occurrence whose times are the master's DTSTART and DTEND.
    anchor: &'b OccurrenceRecord,
    /// The master's status (a booking or occurrence status).
    status: OccurrenceStatus,
    rrule: Option<String>,
    exdates: Vec<NaiveDateTime>,
    rdates: Vec<NaiveDateTime>,
}

/// The plan for a booking, `None` when it blocks nothing.
fn plan<'b>(booking: &'b BookingRecord, zone: Zone) -> Option<Plan<'b>> {
    let mut occurrences: Vec<&OccurrenceRecord> = booking.occurrences.iter().collect();
    occurrences.sort_by_key(|o| (o.seq, o.start));
    let blocking: Vec<&OccurrenceRecord> = occurrences
        .iter()
        .copied()
        .filter(|o| o.status.is_blocking())
        .collect();
    let first_blocking = *blocking.iter().min_by_key(|o| (o.start, o.seq))?;
    if let Some(text) = &booking.recurrence
        && let Some(plan) = series_plan(booking, text, &occurrences, &blocking, zone)
    {
        return Some(plan);
    }
    // No rule, or one that cannot be written: the first blocking date and RDATEs for the rest.
    let mut rdates: Vec<NaiveDateTime> = blocking
        .iter()
        .filter(|o| !std::ptr::eq(**o, first_blocking))
        .map(|o| zone.local(o.start))
        .collect();
    rdates.sort();
    rdates.dedup();
    Some(Plan {
        anchor: first_blocking,
        status: first_blocking.status,
        rrule: None,
        exdates: Vec::new(),
        rdates,
    })
}

/// The plan for a series: DTSTART at its first stored date (seq 0), the stored rule without
/// COUNT or UNTIL plus `UNTIL` at the last stored start (UTC), EXDATEs for what that rule
/// generates beyond the stored blocking dates and RDATEs for blocking dates it does not
/// generate. `None` when the rule cannot be read, rewritten or expanded within bounds.
fn series_plan<'b>(
    booking: &'b BookingRecord,
    text: &str,
    occurrences: &[&'b OccurrenceRecord],
    blocking: &[&'b OccurrenceRecord],
    zone: Zone,
) -> Option<Plan<'b>> {
    let stored = Recurrence::parse(text).ok()?;
    let anchor = *occurrences.first()?;
    let last_start = occurrences.iter().map(|o| o.start).max()?;
    let trimmed = text.trim();
    let body = match trimmed.get(..6) {
        Some(p) if p.eq_ignore_ascii_case("RRULE:") => trimmed.get(6..)?,
        _ => trimmed,
    };
    let mut parts: Vec<String> = body
        .split(';')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .filter(|part| {
            let key = part.split('=').next().unwrap_or_default();
            !key.eq_ignore_ascii_case("COUNT") && !key.eq_ignore_ascii_case("UNTIL")
        })
        .map(str::to_ascii_uppercase)
        .collect();
    parts.push(format!("UNTIL={}", utc_text(last_start)));
    let rule = parts.join(";");
    let emitted = Recurrence::parse(&rule)
        .ok()?
        .with_rdates(stored.rdates().iter().copied());
    let start = zone.local(anchor.start);
    let window_end = zone
        .local(last_start)
        .checked_add_signed(TimeDelta::days(2))?;
    let expansion = emitted
        .expand(start, zone, window_end, MAX_GENERATED)
        .ok()?;
    if matches!(expansion.truncated, Some(Truncation::MaxCount { .. })) {
        return None;
    }
    let generated: BTreeSet<NaiveDateTime> = expansion.starts.into_iter().collect();
    let wanted: BTreeSet<NaiveDateTime> = blocking.iter().map(|o| zone.local(o.start)).collect();
    let mut rdates: BTreeSet<NaiveDateTime> = stored.rdates().iter().copied().collect();
    rdates.extend(wanted.difference(&generated).copied());
    Some(Plan {
        anchor,
        status: OccurrenceStatus::Booked(booking.status),
        rrule: Some(rule),
        exdates: generated.difference(&wanted).copied().collect(),
        rdates: rdates.into_iter().collect(),
    })
}

/// A local wall time in the room's zone, as a DATE-TIME with TZID.
fn zoned(zone: Zone, t: DateTime<Utc>) -> CalendarDateTime {
    zoned_local(zone, zone.local(t))
}

fn zoned_local(zone: Zone, local: NaiveDateTime) -> CalendarDateTime {
    CalendarDateTime::WithTimezone {
        date_time: local,
        tzid: zone.name().to_owned(),
    }
}

/// Whether an occurrence needs its own VEVENT: its status or its length (elapsed, or on the
/// wall clock) differs from the master's.
fn differs(o: &OccurrenceRecord, plan: &Plan, zone: Zone) -> bool {
    let elapsed = |o: &OccurrenceRecord| o.end - o.start;
    let wall = |o: &OccurrenceRecord| zone.local(o.end) - zone.local(o.start);
    o.status != plan.status || elapsed(o) != elapsed(plan.anchor) || wall(o) != wall(plan.anchor)
}

/// The VEVENTs of a visible booking: the master and its overrides.
/// With `window`, only the overrides overlapping it (CALDAV:limit-recurrence-set).
fn booking_events(
    booking: &BookingRecord,
    room: &RoomInfo,
    detail: &Detail,
    stamp: DateTime<Utc>,
    window: Option<(DateTime<Utc>, DateTime<Utc>)>,
) -> Option<Vec<Block>> {
    if !is_visible(booking) {
        return None;
    }
    let zone = room.zone;
    let plan = plan(booking, zone)?;
    let mut master = base_event(booking, room, detail, stamp);
    master
        .starts(zoned(zone, plan.anchor.start))
        .ends(zoned(zone, plan.anchor.end))
        .status(event_status(plan.status));
    if let Some(rule) = &plan.rrule {
        master.add_property("RRULE", rule);
    }
    for &x in &plan.exdates {
        master.exdate(zoned_local(zone, x));
    }
    for &r in &plan.rdates {
        master.rdate(zoned_local(zone, r));
    }
    let mut events = vec![Block::from_component(&master)];
    let mut blocking: Vec<&OccurrenceRecord> = booking
        .occurrences
        .iter()
        .filter(|o| o.status.is_blocking())
        .collect();
    blocking.sort_by_key(|o| (o.start, o.seq));
    for o in blocking {
        if !differs(o, &plan, zone)
            || window.is_some_and(|(from, to)| o.start >= to || o.end <= from)
        {
            continue;
        }
        let mut event = base_event(booking, room, detail, stamp);
        event
            .recurrence_id(zoned(zone, o.start))
            .starts(zoned(zone, o.start))
            .ends(zoned(zone, o.end))
            .status(event_status(o.status));
        events.push(Block::from_component(&event));
    }
    Some(events)
}

/// The iTIP method (RFC 5546 §1.4) of a scheduling message Lokal sends by e-mail (iMIP,
/// RFC 6047) to a booking's requester.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItipMethod {
    /// An approved booking for the requester's calendar (RFC 5546 §3.2.2).
    Request,
    /// The whole booking is gone (RFC 5546 §3.2.5).
    Cancel,
}

impl ItipMethod {
    /// The `METHOD` value, also the `method` parameter of the MIME type (RFC 6047 §2.4).
    pub fn as_str(self) -> &'static str {
        match self {
            ItipMethod::Request => "REQUEST",
            ItipMethod::Cancel => "CANCEL",
        }
    }
}

/// The iTIP parts of a scheduling message: who organises (Lokal's sender address), who
/// attends (the requester), and the SEQUENCE (RFC 5545 §3.8.7.4), which the caller derives so
/// that a CANCEL is always higher than the REQUEST before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Itip<'a> {
    pub method: ItipMethod,
    pub sequence: i64,
    pub organiser_email: &'a str,
    pub organiser_name: &'a str,
    pub attendee_email: &'a str,
    pub attendee_name: &'a str,
}

/// A booking as an iTIP message (RFC 5546) for an iMIP mail: the VCALENDAR of
/// [`calendar_object`] with `METHOD`, and each VEVENT with SEQUENCE, ORGANIZER and the requester
/// as ATTENDEE (`PARTSTAT=ACCEPTED;RSVP=FALSE`: the room is theirs, nothing to answer).
///
/// A REQUEST is the booking's approved dates as its CalDAV object would show them (series
/// rule, EXDATEs, RDATEs, overrides), dates still waiting for a clerk left out; `None` when
/// none is approved. A CANCEL is the master
/// VEVENT alone, without RECURRENCE-ID so that it removes every instance (RFC 5546 §3.2.5),
/// with `STATUS:CANCELLED`; it is written from the dates the booking blocked before it was
/// cancelled (its `cancelled` dates count as blocking), `None` when it never had any.
pub fn itip_object(
    booking: &BookingRecord,
    room: &RoomInfo,
    detail: &Detail,
    stamp: DateTime<Utc>,
    itip: &Itip,
) -> Option<String> {
    let cancel = itip.method == ItipMethod::Cancel;
    let mut events = if cancel {
        let mut before = booking.clone();
        before.status = crate::scheduling::BookingStatus::Approved;
        for o in &mut before.occurrences {
            if o.status == crate::scheduling::BookingStatus::Cancelled {
                o.status = OccurrenceStatus::Booked(crate::scheduling::BookingStatus::Approved);
            }
        }
        let mut events = booking_events(&before, room, detail, stamp, None)?;
        events.truncate(1);
        events
    } else {
        // What the requester's calendar gets is what is theirs: the approved dates. A date
        // still waiting for a clerk is left out (an exception of the series), so a later
        // rejection or expiry never leaves a phantom event behind.
        let mut granted = booking.clone();
        granted.status = crate::scheduling::BookingStatus::Approved;
        for o in &mut granted.occurrences {
            if o.status == crate::scheduling::BookingStatus::Pending {
                o.status = OccurrenceStatus::Booked(crate::scheduling::BookingStatus::Rejected);
            }
        }
        booking_events(&granted, room, detail, stamp, None)?
    };
    for event in &mut events {
        if cancel {
            event.properties.retain(|p| p.key() != "STATUS");
            event.properties.push(EventStatus::Cancelled.into());
        }
        add_itip_parts(event, itip);
    }
    itip_calendar(booking, room, itip, events)
}

/// A CANCEL (RFC 5546 §3.2.5) of some dates of a series: one VEVENT a date, each with the
/// booking's UID and the date's RECURRENCE-ID (its start on the room's wall clock, as the
/// series' DTSTART, RRULE and RDATEs generate it), `STATUS:CANCELLED`; the calendar app removes
/// those instances and keeps the rest. A booking of one date, or dates that are all of it, is
/// cancelled whole ([`itip_object`]). `None` when none of `seqs` is a date of the booking.
pub fn itip_cancel_dates(
    booking: &BookingRecord,
    room: &RoomInfo,
    detail: &Detail,
    stamp: DateTime<Utc>,
    itip: &Itip,
    seqs: &[i64],
) -> Option<String> {
    let mut dates: Vec<&OccurrenceRecord> = booking
        .occurrences
        .iter()
        .filter(|o| seqs.contains(&o.seq))
        .collect();
    if dates.is_empty() {
        return None;
    }
    if booking.occurrences.len() <= 1 || dates.len() == booking.occurrences.len() {
        let whole = Itip {
            method: ItipMethod::Cancel,
            ..*itip
        };
        return itip_object(booking, room, detail, stamp, &whole);
    }
    dates.sort_by_key(|o| (o.start, o.seq));
    let zone = room.zone;
    let mut events = Vec::with_capacity(dates.len());
    for o in dates {
        let mut event = base_event(booking, room, detail, stamp);
        event
            .recurrence_id(zoned(zone, o.start))
            .starts(zoned(zone, o.start))
            .ends(zoned(zone, o.end))
            .status(EventStatus::Cancelled);
        let mut block = Block::from_component(&event);
        add_itip_parts(
            &mut block,
            &Itip {
                method: ItipMethod::Cancel,
                ..*itip
            },
        );
        events.push(block);
    }
    itip_calendar(
        booking,
        room,
        &Itip {
            method: ItipMethod::Cancel,
            ..*itip
        },
        events,
    )
}

/// SEQUENCE, ORGANIZER and the requester as ATTENDEE of an iTIP VEVENT.
fn add_itip_parts(event: &mut Block, itip: &Itip) {
    event
        .properties
        .push(Property::new("SEQUENCE", itip.sequence.max(0).to_string()));
    event.properties.push(
        Property::new("ORGANIZER", format!("mailto:{}", itip.organiser_email))
            .add_parameter("CN", &param_text(itip.organiser_name))
            .done(),
    );
    event.properties.push(
        Property::new("ATTENDEE", format!("mailto:{}", itip.attendee_email))
            .add_parameter("CN", &param_text(itip.attendee_name))
            .add_parameter("CUTYPE", "INDIVIDUAL")
            .add_parameter("ROLE", "REQ-PARTICIPANT")
            .add_parameter("PARTSTAT", "ACCEPTED")
            .add_parameter("RSVP", "FALSE")
            .done(),
    );
}

/// The VCALENDAR of an iTIP message: METHOD, the zone's VTIMEZONE, the events.
fn itip_calendar(
    booking: &BookingRecord,
    room: &RoomInfo,
    itip: &Itip,
    events: Vec<Block>,
) -> Option<String> {
    let (from, to) = years(std::iter::once(booking), room.zone)?;
    let mut calendar = calendar_block()
        .prop(("METHOD", itip.method.as_str()))
        .child(vtimezone_block(room.zone, from, to));
    calendar.children.extend(events);
    Some(render(&calendar))
}

/// An offset of a zone at some instant.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ZoneOffset {
    /// Local minus UTC, in seconds.
    seconds: i32,
    dst: bool,
    name: Option<String>,
}

fn offset_at(zone: Zone, t: DateTime<Utc>) -> ZoneOffset {
    let offset = zone.tz().offset_from_utc_datetime(&t.naive_utc());
    ZoneOffset {
        seconds: offset.fix().local_minus_utc(),
        dst: !offset.dst_offset().is_zero(),
        name: offset.abbreviation().map(str::to_owned),
    }
}

/// A UTC offset as RFC 5545 §3.3.14 writes it: `+HHMM`, or `+HHMMSS` with seconds.
fn offset_text(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.unsigned_abs();
    let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
    if sec == 0 {
        format!("{sign}{h:02}{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}{sec:02}")
    }
}

/// One observance: from `from` to `to`, starting at `onset`, the local time under `from`.
fn observance(from: &ZoneOffset, to: &ZoneOffset, onset: NaiveDateTime) -> Block {
    let mut block = Block::new(if to.dst { "DAYLIGHT" } else { "STANDARD" })
        .prop(DatePerhapsTime::from(onset).to_property("DTSTART"))
        .prop(("TZOFFSETFROM", offset_text(from.seconds).as_str()))
        .prop(("TZOFFSETTO", offset_text(to.seconds).as_str()));
    if let Some(name) = &to.name {
        block = block.prop(("TZNAME", clean_text(name).as_str()));
    }
    block
}

fn new_year(zone: Zone, year: i32) -> Option<DateTime<Utc>> {
    let local = NaiveDate::from_ymd_opt(year, 1, 1)?.and_hms_opt(0, 0, 0)?;
    Some(zone.to_utc_or_after_gap(local))
}

/// VTIMEZONEs already built, by zone and span of years. One depends on nothing else (the zone
/// data is compiled in), and building one samples its years hour by hour: about 9,000 offset
/// look-ups a year, which would otherwise be paid again for every object of a report.
type BuiltZones = std::collections::HashMap<(Zone, i32, i32), Block>;

/// Past this many spans, the cache starts afresh (each entry is a few hundred bytes).
const MAX_BUILT_ZONES: usize = 512;

fn vtimezone_block(zone: Zone, from_year: i32, to_year: i32) -> Block {
    static BUILT: std::sync::OnceLock<std::sync::Mutex<BuiltZones>> = std::sync::OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let key = (zone, from_year, to_year);
    if let Some(block) = built.lock().ok().and_then(|b| b.get(&key).cloned()) {
        return block;
    }
    let block = build_vtimezone(zone, from_year, to_year);
    if let Ok(mut b) = built.lock() {
        if b.len() >= MAX_BUILT_ZONES {
            b.clear();
        }
        b.insert(key, block.clone());
    }
    block
}

fn build_vtimezone(zone: Zone, from_year: i32, to_year: i32) -> Block {
    let (lo, hi) = (from_year.min(to_year), from_year.max(to_year));
    let lo = lo.clamp(1, 9998);
    let hi = hi.clamp(lo, lo + MAX_ZONE_YEARS - 1).min(9998);
    let mut block = Block::new("VTIMEZONE").prop(("TZID", zone.name()));
    let (Some(start), Some(end)) = (new_year(zone, lo), new_year(zone, hi + 1)) else {
        return block;
    };
    let mut current = offset_at(zone, start);
    block = block.child(observance(&current, &current, zone.local(start)));
    let step = TimeDelta::hours(1);
    let mut t = start;
    while t < end {
        let next = (t + step).min(end);
        if offset_at(zone, next).seconds == current.seconds {
            t = next;
            continue;
        }
        // The offset changed in (t, next]: bisect to the first second of the new one.
        let (mut old, mut new) = (t, next);
        while new - old > TimeDelta::seconds(1) {
            let mid = old + (new - old) / 2;
            if offset_at(zone, mid).seconds == current.seconds {
                old = mid;
            } else {
                new = mid;
            }
        }
        if new >= end {
            break;
        }
        let after = offset_at(zone, new);
        let onset = new.naive_utc() + TimeDelta::seconds(i64::from(current.seconds));
        block = block.child(observance(&current, &after, onset));
        current = after;
        t = new;
    }
    block
}

/// A VCALENDAR with this project's PRODID.
fn calendar_block() -> Block {
    Block::new("VCALENDAR")
        .prop(("PRODID", PRODID))
        .prop(("VERSION", "2.0"))
        .prop(("CALSCALE", "GREGORIAN"))
}

/// A component as written by this module: a name, the crate's properties in order, and
/// sub-components. See the module documentation for why the crate's writer is not used.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Block {
    name: String,
    properties: Vec<Property>,
    children: Vec<Block>,
}

impl Block {
    fn new(name: &str) -> Self {
        Block {
            name: name.to_owned(),
            properties: Vec::new(),
            children: Vec::new(),
        }
    }

    fn prop(mut self, property: impl Into<Property>) -> Self {
        self.properties.push(property.into());
        self
    }

    fn child(mut self, child: Block) -> Self {
        self.children.push(child);
        self
    }

    /// A component built with the crate's API (an [`Event`]): its properties in the crate's
    /// order (single ones by name, then repeated ones) and its sub-components.
    fn from_component<C: Component>(component: &C) -> Self {
        Block {
            name: component.component_kind(),
            properties: component
                .properties()
                .values()
                .chain(component.multi_properties().values().flatten())
                .cloned()
                .collect(),
            children: component
                .components()
                .iter()
                .map(Block::from_component)
                .collect(),
        }
    }

    fn write(&self, out: &mut String) -> fmt::Result {
        fold_into(out, &format!("BEGIN:{}", self.name));
        for property in &self.properties {
            // The crate escapes and quotes; its folding is undone and done again here.
            let written: String = property.clone().try_into()?;
            let line = unfold(&written);
            fold_into(out, line.trim_end_matches(['\r', '\n']));
        }
        for child in &self.children {
            child.write(out)?;
        }
        fold_into(out, &format!("END:{}", self.name));
        Ok(())
    }
}

/// The text of a component. Writing into a `String` cannot fail; should the crate ever
/// report an error anyway, the text is empty rather than a panic.
fn render(block: &Block) -> String {
    let mut out = String::new();
    match block.write(&mut out) {
        Ok(()) => out,
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduling::BookingStatus;

    fn status_named(name: &str) -> OccurrenceStatus {
        OccurrenceStatus::parse(name).unwrap()
    }
    use crate::scheduling::parse_local;
    use icalendar::parser::{self, read_calendar, read_components};

    const PURPOSE: &str = "Korøvelse for Kari Nordmann (kari@example.no)";

    fn oslo() -> Zone {
        Zone::parse("Europe/Oslo").unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn at(zone: Zone, local: &str) -> DateTime<Utc> {
        zone.to_utc(parse_local(local).unwrap()).unwrap()
    }

    fn occ(seq: i64, start: DateTime<Utc>, minutes: i64, status: &str) -> OccurrenceRecord {
        let end = start + TimeDelta::minutes(minutes);
        OccurrenceRecord {
            seq,
            start,
            end,
            block_start: start,
            block_end: end,
            status: status_named(status),

            status_reason: None,
            reasons: None,
            replaces: None,
            asked_at: None,
        }
    }

    /// `n` approved weekly dates of two hours from `first` (local, Oslo).
    fn weekly(first: &str, n: i64) -> Vec<OccurrenceRecord> {
        let first = parse_local(first).unwrap();
        (0..n)
            .map(|i| {
                let local = first + TimeDelta::weeks(i);
                occ(i, oslo().to_utc(local).unwrap(), 120, "approved")
            })
            .collect()
    }

    fn booking(
        id: &str,
        status: &str,
        recurrence: Option<&str>,
        occurrences: Vec<OccurrenceRecord>,
    ) -> BookingRecord {
        BookingRecord {
            id: id.to_owned(),
            room_id: "r1".into(),
            requester_id: "resident:r-42".into(),
            requester_name: "Kari Nordmann".into(),
            purpose: PURPOSE.into(),
            attendees: 12,
            local_start: "2027-01-05T18:00".into(),
            local_end: "2027-01-05T20:00".into(),
            time_zone: "Europe/Oslo".into(),
            recurrence: recurrence.map(str::to_owned),
            on_conflict: "skip".into(),
            status: BookingStatus::parse(status).unwrap(),
            status_reason: None,
            hold_until: None,
            reasons: "[]".into(),
            created_at: utc("2026-11-30T10:00:00Z"),
            updated_at: utc("2026-12-01T09:30:00Z"),
            occurrences,
        }
    }

    fn room() -> RoomInfo<'static> {
        RoomInfo {
            id: "r1",
            name: "Storsalen, Huset",
            zone: oslo(),
        }
    }

    fn staff() -> Detail {
        Detail::Staff {
            show_organiser: true,
        }
    }

    fn stamp() -> DateTime<Utc> {
        utc("2026-12-01T12:00:00Z")
    }

    fn prop<'a>(c: &'a parser::Component<'a>, name: &str) -> Option<&'a str> {
        c.find_prop(name).map(|p| p.val.as_str())
    }

    fn props<'a>(c: &'a parser::Component<'a>, name: &str) -> Vec<&'a parser::Property<'a>> {
        c.properties.iter().filter(|p| p.name == name).collect()
    }

    fn param<'a>(p: &'a parser::Property<'a>, key: &str) -> Option<&'a str> {
        p.params
            .iter()
            .find(|x| x.key == key)
            .and_then(|x| x.val.as_ref())
            .map(|v| v.as_str())
    }

    fn of_kind<'a>(cs: &'a [parser::Component<'a>], name: &str) -> Vec<&'a parser::Component<'a>> {
        cs.iter().filter(|c| c.name == name).collect()
    }

    /// Every line of the text as written: at most 75 octets, CRLF-terminated, no bare CR/LF.
    fn assert_well_formed(text: &str) {
        assert!(text.ends_with("\r\n"), "{text:?}");
        for line in text.trim_end_matches("\r\n").split("\r\n") {
            assert!(line.len() <= 75, "{} octets: {line:?}", line.len());
            assert!(!line.contains(['\r', '\n']), "{line:?}");
        }
    }

    /// The master's recurrence set expanded by the rrule crate (not by this project's
    /// `Recurrence`), in UTC. DTSTART is added explicitly when there is no RRULE, as the
    /// rrule crate yields only RDATEs then.
    fn independent_starts(master: &parser::Component) -> Vec<DateTime<Utc>> {
        let mut text = String::new();
        for p in &master.properties {
            let name = p.name.as_str();
            if !matches!(name, "DTSTART" | "RRULE" | "EXDATE" | "RDATE") {
                continue;
            }
            let params: String = p
                .params
                .iter()
                .map(|x| format!(";{}={}", x.key, x.val.as_ref().unwrap()))
                .collect();
            text.push_str(&format!("{name}{params}:{}\n", p.val));
            if name == "DTSTART" && master.find_prop("RRULE").is_none() {
                text.push_str(&format!("RDATE{params}:{}\n", p.val));
            }
        }
        let set: rrule::RRuleSet = text.parse().unwrap();
        let result = set.all(1000);
        assert!(!result.limited);
        result
            .dates
            .into_iter()
            .map(|d| d.with_timezone(&Utc))
            .collect()
    }

    fn blocking_starts(b: &BookingRecord) -> Vec<DateTime<Utc>> {
        let mut v: Vec<_> = b
            .occurrences
            .iter()
            .filter(|o| o.status.is_blocking())
            .map(|o| o.start)
            .collect();
        v.sort();
        v
    }

    type Observance = (String, String, String, String, Option<String>);

    fn observances(tz: &parser::Component) -> Vec<Observance> {
        tz.components
            .iter()
            .map(|o| {
                (
                    o.name.to_string(),
                    prop(o, "DTSTART").unwrap().to_owned(),
                    prop(o, "TZOFFSETFROM").unwrap().to_owned(),
                    prop(o, "TZOFFSETTO").unwrap().to_owned(),
                    prop(o, "TZNAME").map(str::to_owned),
                )
            })
            .collect()
    }

    fn offset_seconds(text: &str) -> i64 {
        let sign = if text.starts_with('-') { -1 } else { 1 };
        let h: i64 = text[1..3].parse().unwrap();
        let m: i64 = text[3..5].parse().unwrap();
        sign * (h * 3600 + m * 60)
    }

    fn vtimezone_of(zone: &str, from: i32, to: i32) -> Vec<Observance> {
        let text = vtimezone(Zone::parse(zone).unwrap(), from, to);
        assert_well_formed(&text);
        let unfolded = unfold(&text);
        let cs = read_components(&unfolded).unwrap();
        assert_eq!(cs.len(), 1);
        assert_eq!(cs[0].name, "VTIMEZONE");
        assert_eq!(prop(&cs[0], "TZID"), Some(zone));
        // RFC 5545 allows neither in VTIMEZONE or its observances (the crate's writer adds both).
        assert!(!unfolded.contains("DTSTAMP") && !unfolded.contains("UID"));
        observances(&cs[0])
    }

    #[test]
    fn the_oslo_vtimezone_for_2026_has_both_changes_at_0100_utc() {
        let obs = vtimezone_of("Europe/Oslo", 2026, 2026);
        let expected: Vec<Observance> = [
            ("STANDARD", "20260101T000000", "+0100", "+0100", "CET"),
            ("DAYLIGHT", "20260329T020000", "+0100", "+0200", "CEST"),
            ("STANDARD", "20261025T030000", "+0200", "+0100", "CET"),
        ]
        .into_iter()
        .map(|(a, b, c, d, e)| (a.into(), b.into(), c.into(), d.into(), Some(e.into())))
        .collect();
        assert_eq!(obs, expected);
        // Each onset is local time under TZOFFSETFROM: as an instant, the change itself.
        let instants: Vec<DateTime<Utc>> = obs[1..]
            .iter()
            .map(|(_, start, from, _, _)| {
                let local = NaiveDateTime::parse_from_str(start, "%Y%m%dT%H%M%S").unwrap();
                (local - TimeDelta::seconds(offset_seconds(from))).and_utc()
            })
            .collect();
        assert_eq!(
            instants,
            [utc("2026-03-29T01:00:00Z"), utc("2026-10-25T01:00:00Z")]
        );
    }

    #[test]
    fn other_zones_utc_lord_howe_and_apia() {
        let only = |o: &str, name: &str| (o.to_owned(), Some(name.to_owned()));
        let utc_obs = vtimezone_of("UTC", 2026, 2028);
        assert_eq!(utc_obs.len(), 1);
        assert_eq!(utc_obs[0].0, "STANDARD");
        assert_eq!(
            (utc_obs[0].3.clone(), utc_obs[0].4.clone()),
            only("+0000", "UTC")
        );

        // Lord Howe: half-hour DST, in force at new year (southern summer).
        let lh = vtimezone_of("Australia/Lord_Howe", 2026, 2026);
        let offsets: Vec<(&str, &str, &str)> = lh
            .iter()
            .map(|o| (o.0.as_str(), o.2.as_str(), o.3.as_str()))
            .collect();
        assert_eq!(
            offsets,
            [
                ("DAYLIGHT", "+1100", "+1100"),
                ("STANDARD", "+1100", "+1030"),
                ("DAYLIGHT", "+1030", "+1100"),
            ]
        );
        assert_eq!(lh[1].1, "20260405T020000");
        assert_eq!(lh[2].1, "20261004T020000");

        // Apia skipped 30 December 2011 (UTC-10 to UTC+14) and has had no DST since 2021.
        let apia_2011 = vtimezone_of("Pacific/Apia", 2011, 2011);
        assert!(
            apia_2011
                .iter()
                .any(|o| o.1 == "20111230T000000" && o.2 == "-1000" && o.3 == "+1400"),
            "{apia_2011:?}"
        );
        let apia = vtimezone_of("Pacific/Apia", 2026, 2026);
        assert_eq!(apia.len(), 1);
        assert_eq!(apia[0].3, "+1300");
    }

    #[test]
    fn a_weekly_series_with_a_skipped_date_is_a_rule_with_until_and_one_exdate() {
        let mut occurrences = weekly("2027-01-05T18:00", 10);
        occurrences[2].status = status_named("skipped");
        let b = booking(
            "b1",
            "approved",
            Some("FREQ=WEEKLY;BYDAY=TU;COUNT=10"),
            occurrences,
        );
        let text = calendar_object(&b, &room(), &staff(), stamp()).unwrap();
        assert_well_formed(&text);
        let unfolded = unfold(&text);
        let cal = read_calendar(&unfolded).unwrap();
        assert_eq!(
            cal.properties
                .iter()
                .map(|p| (p.name.as_str(), p.val.as_str()))
                .collect::<Vec<_>>(),
            [
                ("PRODID", PRODID),
                ("VERSION", "2.0"),
                ("CALSCALE", "GREGORIAN")
            ]
        );
        let tzs = of_kind(&cal.components, "VTIMEZONE");
        assert_eq!(tzs.len(), 1);
        assert_eq!(prop(tzs[0], "TZID"), Some("Europe/Oslo"));
        let events = of_kind(&cal.components, "VEVENT");
        assert_eq!(events.len(), 1, "no overrides");
        let master = events[0];
        assert_eq!(prop(master, "UID"), Some("b1@lokal"));
        assert_eq!(prop(master, "DTSTAMP"), Some("20261201T120000Z"));
        assert_eq!(prop(master, "CREATED"), Some("20261130T100000Z"));
        assert_eq!(prop(master, "LAST-MODIFIED"), Some("20261201T093000Z"));
        assert_eq!(prop(master, "STATUS"), Some("CONFIRMED"));
        assert_eq!(prop(master, "TRANSP"), Some("OPAQUE"));
        assert_eq!(prop(master, "LOCATION"), Some("Storsalen, Huset"));
        assert_eq!(prop(master, "SUMMARY"), Some(PURPOSE));
        let start = master.find_prop("DTSTART").unwrap();
        assert_eq!(param(start, "TZID"), Some("Europe/Oslo"));
        assert_eq!(start.val, "20270105T180000");
        assert_eq!(prop(master, "DTEND"), Some("20270105T200000"));
        assert!(unfolded.contains("DTSTART;TZID=Europe/Oslo:20270105T180000\r\n"));
        assert_eq!(
            prop(master, "RRULE"),
            Some("FREQ=WEEKLY;BYDAY=TU;UNTIL=20270309T170000Z")
        );
        let exdates = props(master, "EXDATE");
        assert_eq!(exdates.len(), 1);
        assert_eq!(exdates[0].val, "20270119T180000");
        assert_eq!(param(exdates[0], "TZID"), Some("Europe/Oslo"));
        assert!(props(master, "RDATE").is_empty());
        assert_eq!(independent_starts(master), blocking_starts(&b));
        assert_eq!(independent_starts(master).len(), 9);
    }

    #[test]
    fn a_booking_shown_busy_only_names_no_organiser_even_where_organisers_are_shown() {
        // A divisible hall's booking in a half's calendar comes without a requester.
        let mut b = booking(
            "hall",
            "approved",
            None,
            vec![occ(0, at(oslo(), "2027-01-07T18:00"), 120, "approved")],
        );
        b.requester_id = String::new();
        b.requester_name = String::new();
        b.purpose = "Opptatt".into();
        let text = calendar_object(&b, &room(), &staff(), stamp()).unwrap();
        assert!(!text.contains("ORGANIZER"), "{text}");
        assert!(unfold(&text).contains("SUMMARY:Opptatt\r\n"), "{text}");
    }

    #[test]
    fn a_series_cut_at_the_horizon_ends_at_its_last_stored_date() {
        let mut b = booking(
            "b2",
            "approved",
            Some("RRULE:FREQ=WEEKLY;BYDAY=TU"),
            weekly("2027-01-05T18:00", 6),
        );
        let text = calendar_object(&b, &room(), &staff(), stamp()).unwrap();
        let unfolded = unfold(&text);
        let cal = read_calendar(&unfolded).unwrap();
        let master = of_kind(&cal.components, "VEVENT")[0];
        assert_eq!(
            prop(master, "RRULE"),
            Some("FREQ=WEEKLY;BYDAY=TU;UNTIL=20270209T170000Z")
        );
        assert!(props(master, "EXDATE").is_empty());
        assert_eq!(independent_starts(master), blocking_starts(&b));

        // Dates left out at the end and the start are EXDATEs; UNTIL is still the last stored.
        b.occurrences[0].status = status_named("cancelled");
        b.occurrences[5].status = status_named("skipped");
        let text = calendar_object(&b, &room(), &staff(), stamp()).unwrap();
        let unfolded = unfold(&text);
        let cal = read_calendar(&unfolded).unwrap();
        let master = of_kind(&cal.components, "VEVENT")[0];
        assert_eq!(prop(master, "DTSTART"), Some("20270105T180000"));
        assert!(
            prop(master, "RRULE")
                .unwrap()
                .ends_with("UNTIL=20270209T170000Z")
        );
        let exdates: Vec<&str> = props(master, "EXDATE")
            .iter()
            .map(|p| p.val.as_str())
            .collect();
        assert_eq!(exdates, ["20270105T180000", "20270209T180000"]);
        assert_eq!(independent_starts(master), blocking_starts(&b));
    }

    #[test]
    fn a_pending_date_in_an_approved_series_is_a_tentative_override() {
        let mut occurrences = weekly("2027-01-05T18:00", 10);
        occurrences[4].status = status_named("pending");
        // A longer evening is an override too.
        occurrences[6].end += TimeDelta::hours(1);
        let b = booking("b3", "approved", Some("FREQ=WEEKLY;COUNT=10"), occurrences);
        let text = calendar_object(&b, &room(), &staff(), stamp()).unwrap();
        let unfolded = unfold(&text);
        let cal = read_calendar(&unfolded).unwrap();
        let events = of_kind(&cal.components, "VEVENT");
        assert_eq!(events.len(), 3);
        let master = events[0];
        assert_eq!(prop(master, "STATUS"), Some("CONFIRMED"));
        assert!(master.find_prop("RECURRENCE-ID").is_none());
        assert_eq!(independent_starts(master), blocking_starts(&b));

        let pending = events[1];
        assert_eq!(prop(pending, "UID"), Some("b3@lokal"));
        let rid = pending.find_prop("RECURRENCE-ID").unwrap();
        assert_eq!(param(rid, "TZID"), Some("Europe/Oslo"));
        assert_eq!(rid.val, "20270202T180000");
        assert_eq!(prop(pending, "DTSTART"), Some("20270202T180000"));
        assert_eq!(prop(pending, "STATUS"), Some("TENTATIVE"));
        assert!(pending.find_prop("RRULE").is_none());

        let longer = events[2];
        assert_eq!(prop(longer, "RECURRENCE-ID"), Some("20270216T180000"));
        assert_eq!(prop(longer, "DTEND"), Some("20270216T210000"));
        assert_eq!(prop(longer, "STATUS"), Some("CONFIRMED"));
    }

    #[test]
    fn limit_recurrence_set_keeps_the_master_and_only_the_overrides_in_the_window() {
        let mut occurrences = weekly("2027-01-05T18:00", 10);
        occurrences[4].status = status_named("pending"); // 2 February
        occurrences[6].end += TimeDelta::hours(1); // 16 February
        let b = booking("b3", "approved", Some("FREQ=WEEKLY;COUNT=10"), occurrences);
        let window = (utc("2027-02-10T00:00:00Z"), utc("2027-02-20T00:00:00Z"));
        let text = limited_object(&b, &room(), &staff(), stamp(), window.0, window.1).unwrap();
        let unfolded = unfold(&text);
        let cal = read_calendar(&unfolded).unwrap();
        let events = of_kind(&cal.components, "VEVENT");
        assert_eq!(events.len(), 2, "{text}");
        assert!(events[0].find_prop("RRULE").is_some());
        assert_eq!(prop(events[1], "RECURRENCE-ID"), Some("20270216T180000"));
    }

    #[test]
    fn busy_detail_shows_the_label_and_nothing_personal() {
        let mut occurrences = weekly("2027-01-05T18:00", 4);
        occurrences[1].status = status_named("pending");
        let b = booking("b4", "approved", Some("FREQ=WEEKLY"), occurrences);
        let busy = Detail::Busy {
            label: "Opptatt".into(),
        };
        let from = utc("2027-01-01T00:00:00Z");
        let to = utc("2027-03-01T00:00:00Z");
        let outputs = [
            calendar_object(&b, &room(), &busy, stamp()).unwrap(),
            feed(std::slice::from_ref(&b), &room(), &busy, stamp()),
            expanded_object(&b, &room(), &busy, stamp(), from, to).unwrap(),
        ];
        for text in outputs {
            let unfolded = unfold(&text);
            for secret in [
                "Korøvelse",
                "Kari",
                "Nordmann",
                "kari@example.no",
                "r-42",
                "ORGANIZER",
                "ATTENDEE",
                "DESCRIPTION",
            ] {
                assert!(!unfolded.contains(secret), "{secret} in {unfolded}");
            }
            let cal = read_calendar(&unfolded).unwrap();
            for e in of_kind(&cal.components, "VEVENT") {
                assert_eq!(prop(e, "SUMMARY"), Some("Opptatt"));
                assert_eq!(prop(e, "CLASS"), Some("PUBLIC"));
            }
        }

        let with = calendar_object(&b, &room(), &staff(), stamp()).unwrap();
        let unfolded = unfold(&with);
        let cal = read_calendar(&unfolded).unwrap();
        let organiser = of_kind(&cal.components, "VEVENT")[0]
            .find_prop("ORGANIZER")
            .unwrap();
        assert_eq!(param(organiser, "CN"), Some("Kari Nordmann"));
        assert_eq!(organiser.val, "urn:x-lokal:requester:resident:r-42");
        let without = calendar_object(
            &b,
            &room(),
            &Detail::Staff {
                show_organiser: false,
            },
            stamp(),
        )
        .unwrap();
        assert!(!without.contains("ORGANIZER") && !without.contains("CN="));
        assert!(unfold(&without).contains("SUMMARY:Korøvelse"));
    }

    #[test]
    fn bookings_that_block_nothing_are_not_in_the_calendar() {
        let single = |status: &str, occurrence_status: &str| {
            booking(
                "x",
                status,
                None,
                vec![occ(
                    0,
                    at(oslo(), "2027-01-05T18:00"),
                    120,
                    occurrence_status,
                )],
            )
        };
        for (status, occurrence_status) in [
            ("cancelled", "cancelled"),
            ("rejected", "rejected"),
            ("expired", "expired"),
            ("approved", "skipped"),
            ("approved", "cancelled"),
            ("cancelled", "approved"),
        ] {
            let b = single(status, occurrence_status);
            assert_eq!(calendar_object(&b, &room(), &staff(), stamp()), None);
            assert_eq!(
                expanded_object(
                    &b,
                    &room(),
                    &staff(),
                    stamp(),
                    utc("2027-01-01T00:00:00Z"),
                    utc("2027-02-01T00:00:00Z")
                ),
                None
            );
            assert!(
                busy_periods(&b, utc("2027-01-01T00:00:00Z"), utc("2027-02-01T00:00:00Z"))
                    .is_empty()
            );
        }
    }

    #[test]
    fn a_series_across_the_dst_change_stays_at_1800_local() {
        // Tuesdays from 3 March to 14 April 2026 (Oslo moves to CEST on 29 March), one
        // cancelled date, and one extra Thursday the rule does not generate.
        let mut occurrences = weekly("2026-03-03T18:00", 7);
        occurrences[1].status = status_named("cancelled");
        occurrences[5].status = status_named("pending");
        occurrences.push(occ(7, at(oslo(), "2026-04-02T18:00"), 120, "approved"));
        let b = booking(
            "b5",
            "approved",
            Some("FREQ=WEEKLY;BYDAY=TU;COUNT=7"),
            occurrences,
        );
        let text = calendar_object(&b, &room(), &staff(), stamp()).unwrap();
        let unfolded = unfold(&text);
        let cal = read_calendar(&unfolded).unwrap();
        let events = of_kind(&cal.components, "VEVENT");
        let mut seen = 0;
        for e in &events {
            for p in &e.properties {
                if matches!(
                    p.name.as_str(),
                    "DTSTART" | "EXDATE" | "RDATE" | "RECURRENCE-ID"
                ) {
                    assert!(p.val.as_str().ends_with("T180000"), "{p:?}");
                    assert_eq!(param(p, "TZID"), Some("Europe/Oslo"));
                    seen += 1;
                }
            }
        }
        // master DTSTART, one EXDATE, one RDATE, the override's DTSTART and RECURRENCE-ID
        assert_eq!(seen, 5);
        let master = events[0];
        assert_eq!(props(master, "RDATE")[0].val, "20260402T180000");
        assert_eq!(
            prop(master, "RRULE"),
            Some("FREQ=WEEKLY;BYDAY=TU;UNTIL=20260414T160000Z")
        );
        let starts = independent_starts(master);
        assert_eq!(starts, blocking_starts(&b));
        // 17:00Z before the change, 16:00Z after: 18:00 on the wall throughout.
        assert_eq!(starts[0], utc("2026-03-03T17:00:00Z"));
        assert_eq!(starts.last(), Some(&utc("2026-04-14T16:00:00Z")));
        // The VTIMEZONE covers 2026, change included.
        let tz = of_kind(&cal.components, "VTIMEZONE")[0];
        assert!(
            observances(tz)
                .iter()
                .any(|o| o.1 == "20260329T020000" && o.3 == "+0200")
        );
    }

    #[test]
    fn text_is_escaped_and_folded_at_75_octets() {
        let purpose = "Årsmøte i Velforeningen; sak 1, 2 og 3\r\nDel 2: «Økonomi» – æøå ÆØÅ, \
                       semikolon; komma, backslash \\ og tab\there. "
            .repeat(4);
        let mut b = booking(
            "b6",
            "pending",
            None,
            vec![occ(0, at(oslo(), "2027-01-05T18:00"), 120, "pending")],
        );
        b.purpose = purpose.clone();
        b.requester_name = "Ola \"Olsen\" Nordmann, jr.\u{7}".into();
        let text = calendar_object(&b, &room(), &staff(), stamp()).unwrap();
        assert_well_formed(&text);
        assert!(text.lines().count() > 10);
        let unfolded = unfold(&text);
        let summary_line = unfolded
            .split("\r\n")
            .find(|l| l.starts_with("SUMMARY:"))
            .unwrap();
        assert!(
            summary_line.starts_with(
                "SUMMARY:Årsmøte i Velforeningen\\; sak 1\\, 2 og 3\\nDel 2: «Økonomi»"
            )
        );
        assert!(summary_line.contains("backslash \\\\ og"));
        let cal = read_calendar(&unfolded).unwrap();
        let event = of_kind(&cal.components, "VEVENT")[0];
        assert_eq!(
            prop(event, "SUMMARY"),
            Some(purpose.replace("\r\n", "\n").as_str())
        );
        assert_eq!(prop(event, "STATUS"), Some("TENTATIVE"));
        assert!(event.find_prop("RRULE").is_none() && event.find_prop("RDATE").is_none());
        let organiser = event.find_prop("ORGANIZER").unwrap();
        // RFC 6868: a DQUOTE in a parameter value is ^'; the bell character is dropped.
        assert_eq!(param(organiser, "CN"), Some("Ola ^'Olsen^' Nordmann, jr."));
    }

    #[test]
    fn folding_never_exceeds_75_octets_where_the_crate_would() {
        // The crate's own folding leaves 76 octets when the last piece is exactly 75.
        for n in [60, 74, 75, 76, 142, 149, 150, 151, 223, 224, 300] {
            let mut b = booking(
                "b7",
                "approved",
                None,
                vec![occ(0, at(oslo(), "2027-01-05T18:00"), 60, "approved")],
            );
            b.purpose = "a".repeat(n);
            let text = calendar_object(&b, &room(), &staff(), stamp()).unwrap();
            assert_well_formed(&text);
            assert!(unfold(&text).contains(&format!("SUMMARY:{}\r\n", b.purpose)));
        }
        for line in ["", "x", &"ø".repeat(80), &"€a".repeat(70), &"z".repeat(75)] {
            let mut out = String::new();
            fold_into(&mut out, line);
            assert_well_formed(&out);
            assert_eq!(unfold(&out), format!("{line}\r\n"));
        }
    }

    #[test]
    fn expanded_instances_are_in_utc_and_inside_the_window() {
        let mut occurrences = weekly("2027-01-05T18:00", 10);
        occurrences[2].status = status_named("skipped");
        occurrences[3].status = status_named("pending");
        let b = booking("b8", "approved", Some("FREQ=WEEKLY;COUNT=10"), occurrences);
        let text = expanded_object(
            &b,
            &room(),
            &staff(),
            stamp(),
            utc("2027-01-12T18:00:00Z"),
            utc("2027-01-26T17:30:00Z"),
        )
        .unwrap();
        assert_well_formed(&text);
        let unfolded = unfold(&text);
        for absent in ["VTIMEZONE", "TZID", "RRULE", "EXDATE", "RDATE"] {
            assert!(!unfolded.contains(absent), "{absent}");
        }
        let cal = read_calendar(&unfolded).unwrap();
        let events = of_kind(&cal.components, "VEVENT");
        let got: Vec<(&str, &str, &str, &str)> = events
            .iter()
            .map(|e| {
                (
                    prop(e, "DTSTART").unwrap(),
                    prop(e, "DTEND").unwrap(),
                    prop(e, "RECURRENCE-ID").unwrap(),
                    prop(e, "STATUS").unwrap(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "20270112T170000Z",
                    "20270112T190000Z",
                    "20270112T170000Z",
                    "CONFIRMED"
                ),
                (
                    "20270126T170000Z",
                    "20270126T190000Z",
                    "20270126T170000Z",
                    "TENTATIVE"
                ),
            ]
        );
        assert!(events.iter().all(|e| prop(e, "UID") == Some("b8@lokal")));
        assert_eq!(
            expanded_object(
                &b,
                &room(),
                &staff(),
                stamp(),
                utc("2027-01-12T19:00:00Z"),
                utc("2027-01-19T17:00:00Z"),
            ),
            None
        );
        // A single booking has no RECURRENCE-ID.
        let single = booking(
            "b9",
            "approved",
            None,
            vec![occ(0, at(oslo(), "2027-01-05T18:00"), 60, "approved")],
        );
        let text = expanded_object(
            &single,
            &room(),
            &staff(),
            stamp(),
            utc("2027-01-01T00:00:00Z"),
            utc("2027-02-01T00:00:00Z"),
        )
        .unwrap();
        assert!(!text.contains("RECURRENCE-ID") && text.contains("DTSTART:20270105T170000Z"));
    }

    #[test]
    fn freebusy_merges_sorts_and_marks_pending_as_tentative() {
        let mut occurrences = weekly("2027-01-05T18:00", 3);
        occurrences[1].status = status_named("pending");
        let b = booking("b10", "approved", Some("FREQ=WEEKLY"), occurrences);
        let from = utc("2027-01-01T00:00:00Z");
        let to = utc("2027-01-15T00:00:00Z");
        assert_eq!(
            busy_periods(&b, from, to),
            [
                (
                    utc("2027-01-05T17:00:00Z"),
                    utc("2027-01-05T19:00:00Z"),
                    false
                ),
                (
                    utc("2027-01-12T17:00:00Z"),
                    utc("2027-01-12T19:00:00Z"),
                    true
                ),
            ]
        );

        let p = |s: &str, e: &str, tentative: bool| {
            (
                utc(&format!("2027-01-05T{s}:00Z")),
                utc(&format!("2027-01-05T{e}:00Z")),
                tentative,
            )
        };
        let periods = [
            p("14:00", "15:00", true),
            p("11:00", "13:00", false),
            p("12:30", "14:30", true),
            p("10:00", "12:00", false),
            p("16:00", "17:00", false),
            p("17:00", "18:00", false),
            p("05:00", "09:00", true),
            p("22:00", "23:30", false),
        ];
        let text = freebusy(
            &periods,
            utc("2027-01-05T08:00:00Z"),
            utc("2027-01-05T23:00:00Z"),
            stamp(),
        );
        assert_well_formed(&text);
        let unfolded = unfold(&text);
        let cal = read_calendar(&unfolded).unwrap();
        let fb = of_kind(&cal.components, "VFREEBUSY");
        assert_eq!(fb.len(), 1);
        assert_eq!(prop(fb[0], "DTSTAMP"), Some("20261201T120000Z"));
        assert_eq!(prop(fb[0], "DTSTART"), Some("20270105T080000Z"));
        assert_eq!(prop(fb[0], "DTEND"), Some("20270105T230000Z"));
        let got: Vec<(&str, &str)> = props(fb[0], "FREEBUSY")
            .iter()
            .map(|p| (param(p, "FBTYPE").unwrap(), p.val.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("BUSY-TENTATIVE", "20270105T080000Z/20270105T090000Z"),
                ("BUSY", "20270105T100000Z/20270105T130000Z"),
                ("BUSY-TENTATIVE", "20270105T130000Z/20270105T150000Z"),
                ("BUSY", "20270105T160000Z/20270105T180000Z"),
                ("BUSY", "20270105T220000Z/20270105T230000Z"),
            ]
        );
    }

    #[test]
    fn an_unreadable_rule_falls_back_to_a_list_of_dates() {
        let mut occurrences = weekly("2027-01-05T18:00", 4);
        occurrences[0].status = status_named("skipped");
        let b = booking("b11", "approved", Some("FREQ=SOMETIMES"), occurrences);
        let text = calendar_object(&b, &room(), &staff(), stamp()).unwrap();
        let unfolded = unfold(&text);
        let cal = read_calendar(&unfolded).unwrap();
        let events = of_kind(&cal.components, "VEVENT");
        assert_eq!(events.len(), 1);
        let master = events[0];
        assert!(master.find_prop("RRULE").is_none() && master.find_prop("EXDATE").is_none());
        assert_eq!(prop(master, "DTSTART"), Some("20270112T180000"));
        assert_eq!(props(master, "RDATE").len(), 2);
        assert_eq!(independent_starts(master), blocking_starts(&b));
    }

    #[test]
    fn a_feed_has_the_room_name_one_vtimezone_and_only_visible_bookings() {
        let approved = booking(
            "a",
            "approved",
            None,
            vec![occ(0, at(oslo(), "2026-12-20T10:00"), 60, "approved")],
        );
        let cancelled = booking(
            "c",
            "cancelled",
            None,
            vec![occ(0, at(oslo(), "2027-01-05T18:00"), 60, "cancelled")],
        );
        let pending = booking(
            "p",
            "pending",
            Some("FREQ=WEEKLY;COUNT=3"),
            weekly("2027-01-05T18:00", 3)
                .into_iter()
                .map(|mut o| {
                    o.status = status_named("pending");
                    o
                })
                .collect(),
        );
        let text = feed(&[approved, cancelled, pending], &room(), &staff(), stamp());
        assert_well_formed(&text);
        let unfolded = unfold(&text);
        let cal = read_calendar(&unfolded).unwrap();
        let calname = cal
            .properties
            .iter()
            .find(|p| p.name == "X-WR-CALNAME")
            .unwrap();
        assert_eq!(calname.val, "Storsalen, Huset");
        let tzs = of_kind(&cal.components, "VTIMEZONE");
        assert_eq!(tzs.len(), 1);
        // Spans 2026 and 2027: new year 2026, then both years' changes.
        assert_eq!(observances(tzs[0]).len(), 5);
        let events = of_kind(&cal.components, "VEVENT");
        let summary: Vec<(&str, &str)> = events
            .iter()
            .map(|e| (prop(e, "UID").unwrap(), prop(e, "STATUS").unwrap()))
            .collect();
        assert_eq!(
            summary,
            [("a@lokal", "CONFIRMED"), ("p@lokal", "TENTATIVE")]
        );
        assert_eq!(prop(events[0], "DTSTART"), Some("20261220T100000"));
        assert!(events[0].find_prop("RRULE").is_none());
        assert!(prop(events[1], "RRULE").is_some());

        // An empty feed is still a calendar with its zone.
        let empty = feed(&[], &room(), &staff(), stamp());
        assert!(empty.contains("BEGIN:VTIMEZONE") && !empty.contains("VEVENT"));
    }
}
