//! Free-busy through the schedule outbox (RFC 6638 §5): a staff member's calendar app POSTs an
//! iTIP VFREEBUSY request (RFC 5546 §3.3.2) to `/dav/calendars/users/<login>/outbox/`, naming
//! rooms as ATTENDEEs, and gets a `CALDAV:schedule-response` (RFC 6638 §10.2) with one answer
//! per recipient: the room's busy time as a `METHOD:REPLY` VFREEBUSY, or why there is none.
//!
//! What it owns and promises:
//! - Only rooms answer. A recipient is a room when [`Calendars::room_by_address`] finds a
//!   bookable room for it (`mailto:` its directory address, or `urn:uuid:` its id). Anything
//!   else, people included, gets `3.7;Invalid calendar user` with the reason: Lokal keeps no
//!   calendars of people (their groupware does), so it cannot tell their free time.
//! - The busy time is the room calendar's: [`Calendars::busy_periods`] (the same source as the
//!   free-busy-query REPORT) rendered by [`ical::freebusy_reply`]: BUSY for approved dates,
//!   BUSY-TENTATIVE for pending ones, clipped to the window and merged.
//! - A request that is not iCalendar is refused with 400 and `CALDAV:valid-calendar-data`; one
//!   that is iCalendar but not a free-busy request Lokal can answer (another METHOD, a VEVENT,
//!   no ORGANIZER or ATTENDEE, no window, a floating or unknown-zone time, a window of more
//!   than [`MAX_WINDOW_DAYS`] days, more than [`MAX_RECIPIENTS`] recipients) with 400 and
//!   `CALDAV:valid-scheduling-message`; each with a sentence saying what to fix. An ORGANIZER
//!   that is not the caller gets 403 `CALDAV:organizer-allowed`.
//! - Nothing here writes: a free-busy request books nothing.
//!
//! Who may ask: any staff member (residents never reach CalDAV). Room free-busy is not secret
//! among staff: every staff member may already run free-busy-query on any room calendar.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};

use super::error::{DavError, Precondition};
use super::xml::{self, ScheduleItem};
use crate::calendar::Calendars;
use crate::calendar::ical::{self, FreeBusyReply};
use crate::ical::{self as object, Component, Prop};
use crate::identity::Principal;
use crate::scheduling::Zone;

/// The most recipients one request may name.
pub const MAX_RECIPIENTS: usize = 100;

/// The longest window one request may ask about, in days.
pub const MAX_WINDOW_DAYS: i64 = 366;

/// Answers a POST of a VFREEBUSY request to `who`'s schedule outbox. The ORGANIZER must be one
/// of `who`'s calendar-user addresses as far as Lokal can tell without the directory: see
/// [`outbox_post_as`], which takes the caller's addresses. Here `urn:lokal:staff:<login>` of
/// the caller and any `mailto:` address are accepted; another staff member's URN and a room's
/// address are refused.
pub async fn outbox_post(
    cals: &Calendars,
    who: &Principal,
    body: &[u8],
) -> Result<Response, DavError> {
    outbox_post_as(cals, who, None, body).await
}

/// [`outbox_post`] with the caller's calendar-user addresses (e.g. `mailto:` their directory
/// e-mail, as their principal lists them): when given, the ORGANIZER must be one of them
/// (compared without regard to case).
pub async fn outbox_post_as(
    cals: &Calendars,
    who: &Principal,
    addresses: Option<&[String]>,
    body: &[u8],
) -> Result<Response, DavError> {
    let Principal::Staff { login, .. } = who else {
        return Err(DavError::Forbidden(
            "CalDAV is for staff; residents follow their bookings in the portal".into(),
        ));
    };
    let request = match parse_request(body) {
        Ok(r) => r,
        Err(refusal) => return Ok(refusal.response()),
    };
    if let Some(refusal) = organizer_refusal(cals, login, addresses, &request.organizer).await? {
        return Ok(refusal.response());
    }
    let stamp = cals.now();
    let mut items = Vec::with_capacity(request.attendees.len());
    for recipient in &request.attendees {
        let room = if plausible_address(recipient) {
            cals.room_by_address(recipient).await?
        } else {
            None
        };
        let Some(room) = room else {
            items.push(ScheduleItem {
                recipient: recipient.clone(),
                request_status: format!(
                    "3.7;Invalid calendar user;{} is not a bookable room in Lokal: only rooms \
                     answer free-busy requests here (people's free time is in their own calendars)",
                    status_text(recipient)
                ),
                calendar_data: None,
            });
            continue;
        };
        let periods = cals.busy_periods(&room, request.start, request.end).await?;
        let data = ical::freebusy_reply(
            &periods,
            request.start,
            request.end,
            stamp,
            FreeBusyReply {
                uid: &request.uid,
                organizer: &request.organizer,
                attendee: recipient,
                attendee_name: &room.room.room.name,
            },
        );
        items.push(ScheduleItem {
            recipient: recipient.clone(),
            request_status: "2.0;Success".into(),
            calendar_data: Some(data),
        });
    }
    let mut response = (StatusCode::OK, xml::schedule_response(&items)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    Ok(response)
}

/// A free-busy request, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
struct FreeBusyRequest {
    uid: String,
    organizer: String,
    /// The recipients in the order asked, each once.
    attendees: Vec<String>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

/// Why a request is refused: a status, the precondition element (RFC 6638 §6.1 names for the
/// outbox POST) and a sentence for people.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Refusal {
    status: StatusCode,
    precondition: Precondition,
    message: String,
}

impl Refusal {
    fn bad(precondition: Precondition, message: impl Into<String>) -> Self {
        Refusal {
            status: StatusCode::BAD_REQUEST,
            precondition,
            message: message.into(),
        }
    }

    fn data(message: impl Into<String>) -> Self {
        Self::bad(Precondition::ValidCalendarData, message)
    }

    fn message(message: impl Into<String>) -> Self {
        Self::bad(Precondition::ValidSchedulingMessage, message)
    }

    fn response(&self) -> Response {
        let body = self.precondition.body(Some(&self.message));
        let mut response = (self.status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml; charset=utf-8"),
        );
        response
    }
}

/// The one value of a property that may appear once; `Err` when it appears more often.
fn single<'a>(c: &'a Component, name: &'static str) -> Result<Option<&'a Prop>, Refusal> {
    let mut found = c.props(name);
    let first = found.next();
    if found.next().is_some() {
        return Err(Refusal::message(format!(
            "the VFREEBUSY has more than one {name}; it may have only one (RFC 5545 §3.6.4)"
        )));
    }
    Ok(first)
}

/// Parses and checks the body; every failure says what to fix.
fn parse_request(body: &[u8]) -> Result<FreeBusyRequest, Refusal> {
    let text = std::str::from_utf8(body)
        .map_err(|_| Refusal::data("the request body is not UTF-8 text; send text/calendar"))?;
    if text.trim().is_empty() {
        return Err(Refusal::data(
            "the request body is empty; send a VCALENDAR with METHOD:REQUEST and one VFREEBUSY",
        ));
    }
    // The one bounded reader of untrusted iCalendar (`crate::ical`): it never panics, and
    // bounds nesting and length, so no guard is needed here.
    let calendar = object::parse(text).map_err(|e| {
        Refusal::data(format!(
            "the request body is not valid iCalendar (RFC 5545): {}",
            e.message
        ))
    })?;
    let calendar = &calendar;
    let method = single_of(calendar, "METHOD")?;
    match method {
        Some(m) if m.eq_ignore_ascii_case("REQUEST") => {}
        Some(m) => {
            return Err(Refusal::message(format!(
                "METHOD:{m} cannot be sent to the outbox; a free-busy request has METHOD:REQUEST \
                 (RFC 6638 §5)"
            )));
        }
        None => {
            return Err(Refusal::message(
                "the VCALENDAR has no METHOD; a free-busy request has METHOD:REQUEST (RFC 6638 §5)",
            ));
        }
    }
    let mut freebusy = Vec::new();
    for c in &calendar.children {
        let name = c.name.as_str();
        if name.eq_ignore_ascii_case("VFREEBUSY") {
            freebusy.push(c);
        } else if name.eq_ignore_ascii_case("VTIMEZONE") {
            // Zones are known by their IANA names; a VTIMEZONE adds nothing Lokal needs.
        } else if name.eq_ignore_ascii_case("VEVENT") {
            return Err(Refusal::message(
                "only free-busy requests (VFREEBUSY) can be POSTed to the outbox; to book a \
                 room, put the event with the room as ATTENDEE into your calendar",
            ));
        } else {
            return Err(Refusal::message(format!(
                "a free-busy request holds one VFREEBUSY, not a {name}"
            )));
        }
    }
    let [fb] = freebusy.as_slice() else {
        return Err(Refusal::message(format!(
            "a free-busy request holds exactly one VFREEBUSY; this one has {}",
            freebusy.len()
        )));
    };
    let uid = single(fb, "UID")?
        .map(|p| p.value.trim().to_owned())
        .filter(|u| !u.is_empty())
        .ok_or_else(|| Refusal::message("the VFREEBUSY has no UID (RFC 5546 §3.3.2)"))?;
    if uid.len() > 255 || uid.chars().any(char::is_control) {
        return Err(Refusal::message(
            "the UID must be at most 255 bytes without control characters",
        ));
    }
    let organizer = single(fb, "ORGANIZER")?
        .map(|p| p.value.trim().to_owned())
        .filter(|o| !o.is_empty())
        .ok_or_else(|| {
            Refusal::message("the VFREEBUSY has no ORGANIZER: name yourself as the organizer")
        })?;
    if !plausible_address(&organizer) {
        return Err(Refusal::message(
            "the ORGANIZER is not a calendar-user address (mailto:… or urn:…)",
        ));
    }
    let mut attendees: Vec<String> = Vec::new();
    for p in fb.props("ATTENDEE") {
        let a = p.value.trim().to_owned();
        if a.is_empty() {
            return Err(Refusal::message("an ATTENDEE has no address"));
        }
        if !attendees.iter().any(|b| b.eq_ignore_ascii_case(&a)) {
            attendees.push(a);
        }
    }
    if attendees.is_empty() {
        return Err(Refusal::message(
            "the VFREEBUSY has no ATTENDEE: name the rooms whose busy time you want",
        ));
    }
    if attendees.len() > MAX_RECIPIENTS {
        return Err(Refusal::message(format!(
            "ask about at most {MAX_RECIPIENTS} recipients at a time; this request names {}",
            attendees.len()
        )));
    }
    let start = time_of(single(fb, "DTSTART")?, "DTSTART")?;
    let end = time_of(single(fb, "DTEND")?, "DTEND")?;
    if end <= start {
        return Err(Refusal::message("DTEND must be after DTSTART"));
    }
    if end - start > TimeDelta::days(MAX_WINDOW_DAYS) {
        return Err(Refusal::message(format!(
            "ask about at most {MAX_WINDOW_DAYS} days at a time"
        )));
    }
    Ok(FreeBusyRequest {
        uid,
        organizer,
        attendees,
        start,
        end,
    })
}

/// The value of a VCALENDAR property that may appear once.
fn single_of<'a>(c: &'a Component, name: &'static str) -> Result<Option<&'a str>, Refusal> {
    let mut found = c.props(name);
    let first = found.next();
    if found.next().is_some() {
        return Err(Refusal::message(format!(
            "the VCALENDAR has more than one {name}"
        )));
    }
    Ok(first.map(|p| p.value.trim()))
}

/// A DTSTART or DTEND as an instant: UTC (`…Z`), or local time with an IANA `TZID` (a local
/// time in a spring-forward gap counts from the end of the gap: this is only a window).
/// Floating times, dates and unknown zones are refused: RFC 5545 §3.6.4 wants UTC here, and
/// a window without a zone means nothing for rooms in other zones.
fn time_of(p: Option<&Prop>, name: &str) -> Result<DateTime<Utc>, Refusal> {
    let p = p.ok_or_else(|| {
        Refusal::message(format!(
            "the VFREEBUSY has no {name}: give the window to ask about, in UTC"
        ))
    })?;
    let value = p.value.trim();
    if let Some(utc) = value.strip_suffix('Z').or_else(|| value.strip_suffix('z')) {
        return NaiveDateTime::parse_from_str(utc, "%Y%m%dT%H%M%S")
            .map(|t| t.and_utc())
            .map_err(|_| Refusal::message(format!("{name}:{value} is not a date-time")));
    }
    if NaiveDate::parse_from_str(value, "%Y%m%d").is_ok() {
        return Err(Refusal::message(format!(
            "{name} must be a date-time in UTC (like 20270105T080000Z), not a date"
        )));
    }
    let local = NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%S")
        .map_err(|_| Refusal::message(format!("{name}:{value} is not a date-time")))?;
    let Some(tzid) = p.param("TZID") else {
        return Err(Refusal::message(format!(
            "{name} is a floating time; give it in UTC (like {}Z)",
            local.format("%Y%m%dT%H%M%S")
        )));
    };
    let zone = Zone::parse(tzid.trim_start_matches('/')).map_err(|_| {
        Refusal::message(format!(
            "{name} has the time zone {tzid:?}, which Lokal does not know; use UTC or an IANA \
             name like Europe/Oslo"
        ))
    })?;
    Ok(zone.to_utc_or_after_gap(local))
}

/// Whether a calendar-user address is worth looking up: a URI with a scheme, not absurdly
/// long, without spaces or control characters.
fn plausible_address(a: &str) -> bool {
    a.len() <= 320
        && a.split_once(':').is_some_and(|(scheme, rest)| {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                && !rest.is_empty()
        })
        && !a.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// An address as the request-status text quotes it: `;` and control characters would break
/// the status's parts, so they are dropped, and a long one is cut.
fn status_text(a: &str) -> String {
    a.chars()
        .filter(|c| !c.is_control() && *c != ';' && *c != '\\')
        .take(120)
        .collect()
}

/// Why the ORGANIZER may not send from this outbox, if it may not (RFC 6638: the organizer
/// must be the outbox's owner).
async fn organizer_refusal(
    cals: &Calendars,
    login: &str,
    addresses: Option<&[String]>,
    organizer: &str,
) -> Result<Option<Refusal>, DavError> {
    let forbidden = |message: String| Refusal {
        status: StatusCode::FORBIDDEN,
        precondition: Precondition::OrganizerAllowed,
        message,
    };
    let mine = format!("urn:lokal:staff:{login}");
    if organizer.eq_ignore_ascii_case(&mine) {
        return Ok(None);
    }
    if let Some(addresses) = addresses {
        return Ok(
            (!addresses.iter().any(|a| a.eq_ignore_ascii_case(organizer))).then(|| {
                forbidden(format!(
                    "the ORGANIZER {} is not one of your addresses ({}); send free-busy requests \
                 as yourself",
                    status_text(organizer),
                    addresses.join(", ")
                ))
            }),
        );
    }
    let lower = organizer.to_ascii_lowercase();
    if lower.starts_with("urn:lokal:staff:") {
        return Ok(Some(forbidden(format!(
            "the ORGANIZER {} is another staff member; send free-busy requests as yourself \
             ({mine})",
            status_text(organizer)
        ))));
    }
    if cals.room_by_address(organizer).await?.is_some() {
        return Ok(Some(forbidden(
            "a room cannot organise: name yourself as the ORGANIZER".into(),
        )));
    }
    if lower.starts_with("mailto:") {
        return Ok(None);
    }
    Ok(Some(forbidden(format!(
        "the ORGANIZER {} is not one of your addresses; use mailto: your e-mail address",
        status_text(organizer)
    ))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caldav::xml::PropName;

    fn request(vfreebusy: &str) -> String {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nMETHOD:REQUEST\r\n\
             BEGIN:VFREEBUSY\r\n{vfreebusy}END:VFREEBUSY\r\nEND:VCALENDAR\r\n"
        )
    }

    const GOOD: &str = "UID:fb-1\r\nDTSTAMP:20270101T000000Z\r\nDTSTART:20270105T000000Z\r\n\
        DTEND:20270106T000000Z\r\nORGANIZER:mailto:lars.haugen@fjordvik.kommune.no\r\n\
        ATTENDEE;CUTYPE=ROOM:mailto:storsalen@rom.fjordvik.kommune.no\r\n\
        ATTENDEE:urn:uuid:769adcb4-f500-5f44-89c0-92ac30737755\r\n\
        ATTENDEE:MAILTO:Storsalen@rom.fjordvik.kommune.no\r\n";

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_free_busy_request_is_read_with_its_window_organiser_and_recipients_once() {
        let r = parse_request(request(GOOD).as_bytes()).unwrap();
        assert_eq!(r.uid, "fb-1");
        assert_eq!(r.organizer, "mailto:lars.haugen@fjordvik.kommune.no");
        assert_eq!(
            r.attendees,
            [
                "mailto:storsalen@rom.fjordvik.kommune.no",
                "urn:uuid:769adcb4-f500-5f44-89c0-92ac30737755"
            ]
        );
        assert_eq!(r.start, utc("2027-01-05T00:00:00Z"));
        assert_eq!(r.end, utc("2027-01-06T00:00:00Z"));
    }

    #[test]
    fn a_window_in_a_named_zone_is_converted_and_folded_lines_are_read() {
        let body = request(
            "UID:fb-2\r\nDTSTART;TZID=Europe/Oslo:20270105T080000\r\n\
             DTEND;TZID=\"Europe/Oslo\":20270105T170000\r\nORGANIZER:mailto:a@b.no\r\n\
             ATTENDEE:mailto:storsalen@rom.fjordvik.kom\r\n mune.no\r\n",
        );
        let r = parse_request(body.as_bytes()).unwrap();
        assert_eq!(r.start, utc("2027-01-05T07:00:00Z"));
        assert_eq!(r.end, utc("2027-01-05T16:00:00Z"));
        assert_eq!(r.attendees, ["mailto:storsalen@rom.fjordvik.kommune.no"]);
    }

    fn refused(body: &str) -> Refusal {
        parse_request(body.as_bytes()).unwrap_err()
    }

    #[test]
    fn what_is_not_icalendar_is_refused_as_invalid_calendar_data() {
        for body in [
            "",
            "hello",
            "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\n",
            "BEGIN:VEVENT\r\nEND:VEVENT\r\n",
            "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\nBEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
        ] {
            let r = refused(body);
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body:?}");
            assert_eq!(
                r.precondition.name().name,
                "valid-calendar-data",
                "{body:?}: {r:?}"
            );
        }
        let r = parse_request(&[0xff, 0xfe, 0x00]).unwrap_err();
        assert_eq!(r.precondition.name().name, "valid-calendar-data");
        // Thousands of nested components: refused before the (recursive) parser sees them.
        let deep = request(GOOD).replace(
            "BEGIN:VFREEBUSY",
            &format!("{}BEGIN:VFREEBUSY", "BEGIN:X-A\r\n".repeat(100_000)),
        );
        let r = refused(&deep);
        assert!(r.message.contains("nested"), "{r:?}");
    }

    #[test]
    fn what_is_not_a_free_busy_request_is_refused_with_a_reason() {
        let cases: Vec<(String, &str)> = vec![
            (
                request(GOOD).replace("METHOD:REQUEST", "METHOD:PUBLISH"),
                "METHOD:PUBLISH",
            ),
            (request(GOOD).replace("METHOD:REQUEST\r\n", ""), "no METHOD"),
            (
                request(GOOD).replace("VFREEBUSY", "VEVENT"),
                "only free-busy requests",
            ),
            (request(&GOOD.replace("UID:fb-1\r\n", "")), "no UID"),
            (
                request(&GOOD.replace("ORGANIZER:mailto:lars.haugen@fjordvik.kommune.no\r\n", "")),
                "no ORGANIZER",
            ),
            (
                request(
                    "UID:x\r\nDTSTART:20270105T000000Z\r\nDTEND:20270106T000000Z\r\nORGANIZER:mailto:a@b.no\r\n",
                ),
                "no ATTENDEE",
            ),
            (
                request(&GOOD.replace("DTSTART:20270105T000000Z\r\n", "")),
                "no DTSTART",
            ),
            (
                request(&GOOD.replace("DTSTART:20270105T000000Z", "DTSTART:20270105T000000")),
                "floating",
            ),
            (
                request(&GOOD.replace("DTSTART:20270105T000000Z", "DTSTART;VALUE=DATE:20270105")),
                "not a date",
            ),
            (
                request(&GOOD.replace(
                    "DTSTART:20270105T000000Z",
                    "DTSTART;TZID=W. Europe Standard Time:20270105T000000",
                )),
                "does not know",
            ),
            (
                request(&GOOD.replace("DTSTART:20270105T000000Z", "DTSTART:2027-01-05")),
                "not a date-time",
            ),
            (
                request(&GOOD.replace("DTEND:20270106T000000Z", "DTEND:20270104T000000Z")),
                "after DTSTART",
            ),
            (
                request(&GOOD.replace("DTEND:20270106T000000Z", "DTEND:20280107T000000Z")),
                "366 days",
            ),
            (
                request(&format!("{GOOD}DTSTART:20270105T000000Z\r\n")),
                "more than one DTSTART",
            ),
            (
                format!(
                    "{}BEGIN:VFREEBUSY\r\n{GOOD}END:VFREEBUSY\r\nEND:VCALENDAR\r\n",
                    request(GOOD).replace("END:VCALENDAR\r\n", "")
                ),
                "this one has 2",
            ),
        ];
        for (body, why) in cases {
            let r = refused(&body);
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{why}");
            assert_eq!(
                r.precondition.name().name,
                "valid-scheduling-message",
                "{why}: {r:?}"
            );
            assert!(r.message.contains(why), "{why}: {}", r.message);
        }
        let many: String = (0..=MAX_RECIPIENTS)
            .map(|i| format!("ATTENDEE:mailto:room{i}@x.no\r\n"))
            .collect();
        let r = refused(&request(&format!("{GOOD}{many}")));
        assert!(
            r.message.contains("at most 100 recipients"),
            "{}",
            r.message
        );
    }

    #[test]
    fn a_refusal_is_a_dav_error_body_with_the_precondition_and_the_reason() {
        let r = refused("hello");
        let response = r.response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/xml; charset=utf-8"
        );
        let body = xml::error(&PropName::caldav("valid-calendar-data"), Some(&r.message));
        assert!(body.contains("valid-calendar-data") && body.contains("not valid iCalendar"));
    }

    #[test]
    fn addresses_are_checked_before_they_are_looked_up_or_quoted() {
        assert!(plausible_address("mailto:a@b.no"));
        assert!(plausible_address(
            "urn:uuid:769adcb4-f500-5f44-89c0-92ac30737755"
        ));
        for bad in [
            "",
            "a@b.no",
            ":x",
            "mailto:",
            "mailto:a b@c",
            "mailto:a\u{7}@b",
        ] {
            assert!(!plausible_address(bad), "{bad:?}");
        }
        assert_eq!(status_text("mailto:a;b\\c@d"), "mailto:abc@d");
    }
}
