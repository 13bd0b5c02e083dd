//! Closures: periods when a room cannot be booked.
//!
//! They come from iCalendar files (public holidays, a building's maintenance plan), read by
//! Lokal's one bounded iCalendar reader ([`crate::ical`], pure like this core), and from
//! clerks' blocks. A calendar is parsed once into
//! [`ClosureCalendar`]; [`ClosureSet::resolve`] turns it into UTC intervals for one room's
//! zone and one window, expanding recurring closures on the way.
//!
//! Time forms (RFC 5545 §3.3.4, §3.3.5):
//! - `DATE` (all-day): whole local days in the *room's* zone;
//! - `DATE-TIME` with `TZID`: wall time in that IANA zone;
//! - `DATE-TIME` ending in `Z`: an instant;
//! - floating `DATE-TIME`: wall time in the room's zone.
//!
//! A closure boundary that falls in a DST gap moves to the end of the gap; only *requests*
//! are refused for nonexistent times.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};
use serde::Serialize;

use crate::ical;

use super::interval::Interval;
use super::recurrence::{ExDate, Recurrence, RecurrenceError};
use super::time::Zone;

/// At most this many occurrences of one recurring closure are looked at per resolve: a daily
/// closure that began 270 years before the window still fits. Past it, the closure is taken
/// to cover the whole window, so a room is never opened by mistake.
const MAX_SCAN: usize = 100_000;

/// The longest closure accepted: about 100 years.
const MAX_LENGTH_DAYS: i64 = 100 * 366;

/// The longest file accepted, in bytes.
const MAX_ICS_LEN: usize = 8 * 1024 * 1024;

/// Where a closure comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ClosureSource {
    /// An event in a closure calendar.
    Calendar {
        calendar: String,
        uid: Option<String>,
    },
    /// A clerk's block.
    Block { id: String },
}

/// One concrete closed period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Closure {
    pub label: String,
    pub source: ClosureSource,
    pub interval: Interval,
}

/// Why a closure calendar was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClosureError {
    #[error("calendar {calendar:?} is not iCalendar: {message}")]
    Malformed { calendar: String, message: String },
    #[error("calendar {calendar:?}, event {event}: {message}")]
    Event {
        calendar: String,
        event: String,
        message: String,
    },
    #[error("calendar {calendar:?}, event {event}: {source}")]
    Recurrence {
        calendar: String,
        event: String,
        source: RecurrenceError,
    },
}

/// The frame a closure's times are written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Frame {
    Utc,
    Zoned(Zone),
    /// Floating times and all-day dates: the room's zone.
    Room,
}

#[derive(Clone, Debug)]
struct ClosureEvent {
    uid: Option<String>,
    label: String,
    frame: Frame,
    /// Wall time in `frame` (UTC's wall time for `Frame::Utc`).
    start: NaiveDateTime,
    /// Wall-clock length, so an all-day closure is a whole local day even on a DST day.
    length: TimeDelta,
    recurrence: Option<Recurrence>,
}

/// A parsed closure calendar.
#[derive(Clone, Debug)]
pub struct ClosureCalendar {
    name: String,
    events: Vec<ClosureEvent>,
}

/// A time value as written, before it is put into an event's frame.
enum Written {
    Date(NaiveDate),
    Utc(NaiveDateTime),
    Zoned(NaiveDateTime, Zone),
    Floating(NaiveDateTime),
}

fn parse_written(value: &str, tzid: Option<&str>) -> Result<Written, String> {
    let v = value.trim();
    if v.len() == 8 {
        return NaiveDate::parse_from_str(v, "%Y%m%d")
            .map(Written::Date)
            .map_err(|_| format!("{v:?} is not a date (YYYYMMDD)"));
    }
    let (text, utc) = match v.strip_suffix('Z') {
        Some(t) => (t, true),
        None => (v, false),
    };
    let t = NaiveDateTime::parse_from_str(text, "%Y%m%dT%H%M%S")
        .map_err(|_| format!("{v:?} is not a date-time (YYYYMMDDTHHMMSS)"))?;
    if utc {
        return Ok(Written::Utc(t));
    }
    match tzid {
        Some(name) => Zone::parse(name.trim_start_matches('/'))
            .map(|z| Written::Zoned(t, z))
            .map_err(|e| e.to_string()),
        None => Ok(Written::Floating(t)),
    }
}

/// A DTSTART or DTEND property as written: a DATE (`VALUE=DATE` or 8 digits), a UTC, zoned
/// (`TZID`) or floating date-time.
fn written_of(p: &ical::Prop) -> Result<Written, String> {
    parse_written(&p.value, p.param("TZID").as_deref())
        .map_err(|e| format!("{} {:?} is not a date or date-time: {e}", p.name, p.value))
}

/// Puts a written time into `frame`'s wall time. Only instants need converting.
fn in_frame(w: &Written, frame: Frame) -> NaiveDateTime {
    let instant = |t: chrono::DateTime<chrono::Utc>| match frame {
        Frame::Utc => t.naive_utc(),
        Frame::Zoned(z) => z.local(t),
        // Cannot happen for a well-formed event (a floating start with a zoned end); keep the
        // wall time as written.
        Frame::Room => t.naive_utc(),
    };
    match *w {
        Written::Date(d) => d.and_time(NaiveTime::MIN),
        Written::Floating(t) => t,
        Written::Utc(t) => instant(t.and_utc()),
        Written::Zoned(t, z) => match frame {
            Frame::Zoned(f) if f == z => t,
            _ => instant(z.to_utc_or_after_gap(t)),
        },
    }
}

/// Parses an RFC 5545 DURATION such as `P1D`, `PT2H30M` or `P1W`, as wall-clock length.
fn parse_duration(value: &str) -> Result<TimeDelta, String> {
    let bad = || format!("{value:?} is not a DURATION such as P1D or PT2H");
    let v = value.trim();
    let body = v.strip_prefix('+').unwrap_or(v);
    if body.starts_with('-') {
        return Err(format!("{value:?}: a closure cannot last a negative time"));
    }
    let body = body.strip_prefix('P').ok_or_else(bad)?;
    let mut total = TimeDelta::zero();
    let mut number: Option<i64> = None;
    let mut in_time = false;
    for c in body.chars() {
        match c {
            '0'..='9' => {
                let n = number.unwrap_or(0);
                number = Some(
                    n.checked_mul(10)
                        .and_then(|n| n.checked_add(i64::from(c as u8 - b'0')))
                        .filter(|n| *n < 1_000_000)
                        .ok_or_else(bad)?,
                );
            }
            'T' => in_time = true,
            'W' | 'D' | 'H' | 'M' | 'S' => {
                let n = number.take().ok_or_else(bad)?;
                let part = match (c, in_time) {
                    ('W', false) => TimeDelta::weeks(n),
                    ('D', false) => TimeDelta::days(n),
                    ('H', true) => TimeDelta::hours(n),
                    ('M', true) => TimeDelta::minutes(n),
                    ('S', true) => TimeDelta::seconds(n),
                    _ => return Err(bad()),
                };
                total = total
                    .checked_add(&part)
                    .filter(|t| *t <= TimeDelta::days(MAX_LENGTH_DAYS))
                    .ok_or_else(|| format!("{value:?} is longer than 100 years"))?;
            }
            _ => return Err(bad()),
        }
    }
    if number.is_some() {
        return Err(bad());
    }
    Ok(total)
}

impl ClosureCalendar {
    /// Parses an iCalendar text. `name` names the calendar in reasons and errors (the file
    /// stem, such as `holidays-no`).
    pub fn parse(name: &str, text: &str) -> Result<Self, ClosureError> {
        let malformed = |message: String| ClosureError::Malformed {
            calendar: name.to_owned(),
            message,
        };
        if text.len() > MAX_ICS_LEN {
            return Err(malformed(format!(
                "the file is larger than {MAX_ICS_LEN} bytes"
            )));
        }
        let head = text.trim_start_matches('\u{feff}').trim_start();
        if !head
            .get(..15)
            .is_some_and(|h| h.eq_ignore_ascii_case("BEGIN:VCALENDAR"))
        {
            return Err(malformed("it does not start with BEGIN:VCALENDAR".into()));
        }
        // The one bounded iCalendar reader (`crate::ical`), as for every calendar Lokal reads.
        // MAX_ICS_LEN bounds the file, so it bounds its lines too: a maintenance plan of
        // thousands of events is fine.
        let calendar = ical::parse_lines(head, MAX_ICS_LEN).map_err(|e| malformed(e.message))?;
        let mut events = Vec::new();
        let vevents = calendar.children.iter().filter(|c| c.name == "VEVENT");
        for (i, event) in vevents.enumerate() {
            let uid = event.value("UID").map(ical::unescape_text);
            let label_for_errors = uid
                .as_ref()
                .map(|u| format!("{u:?}"))
                .unwrap_or_else(|| format!("#{}", i + 1));
            let fail = |message: String| ClosureError::Event {
                calendar: name.to_owned(),
                event: label_for_errors.clone(),
                message,
            };
            if event
                .value("STATUS")
                .is_some_and(|s| s.trim().eq_ignore_ascii_case("CANCELLED"))
            {
                continue;
            }
            let start_prop = event
                .prop("DTSTART")
                .ok_or_else(|| fail("it has no DTSTART".into()))?;
            let start = written_of(start_prop).map_err(&fail)?;
            let frame = match start {
                Written::Date(_) | Written::Floating(_) => Frame::Room,
                Written::Utc(_) => Frame::Utc,
                Written::Zoned(_, z) => Frame::Zoned(z),
            };
            let all_day = matches!(start, Written::Date(_));
            let start_wall = in_frame(&start, frame);
            let length = if let Some(end_prop) = event.prop("DTEND") {
                let end = written_of(end_prop).map_err(&fail)?;
                if all_day != matches!(end, Written::Date(_)) {
                    return Err(fail(
                        "DTSTART and DTEND must both be dates or both date-times".into(),
                    ));
                }
                // A floating start has no zone until a room gives it one, so an end in UTC or
                // another zone cannot be put beside it here.
                if matches!(start, Written::Floating(_)) && !matches!(end, Written::Floating(_)) {
                    return Err(fail(
                        "DTSTART is floating (no zone) but DTEND is not; give both the same form"
                            .into(),
                    ));
                }
                in_frame(&end, frame) - start_wall
            } else if let Some(d) = event.value("DURATION") {
                parse_duration(d).map_err(&fail)?
            } else if all_day {
                TimeDelta::days(1) // RFC 5545 §3.6.1: a DATE start alone lasts one day.
            } else {
                return Err(fail("a timed closure needs DTEND or DURATION".into()));
            };
            if length <= TimeDelta::zero() {
                return Err(fail("it ends before or when it starts".into()));
            }
            if length > TimeDelta::days(MAX_LENGTH_DAYS) {
                return Err(fail("it lasts longer than 100 years".into()));
            }

            let recurrence = match event.value("RRULE") {
                None => None,
                Some(rule) => {
                    let r = Recurrence::parse(rule).map_err(|source| ClosureError::Recurrence {
                        calendar: name.to_owned(),
                        event: label_for_errors.clone(),
                        source,
                    })?;
                    if !r.is_daily_or_coarser() {
                        return Err(fail(
                            "a recurring closure may repeat at most once a day (one BYHOUR, BYMINUTE and BYSECOND)".into(),
                        ));
                    }
                    let mut exdates = Vec::new();
                    let mut rdates = Vec::new();
                    for (key, into_ex) in [("EXDATE", true), ("RDATE", false)] {
                        for p in event.props(key) {
                            let tzid = p.param("TZID");
                            for v in p.value.split(',') {
                                let w = parse_written(v, tzid.as_deref()).map_err(&fail)?;
                                match (into_ex, &w) {
                                    (true, Written::Date(d)) => exdates.push(ExDate::On(*d)),
                                    (true, _) => exdates.push(ExDate::At(in_frame(&w, frame))),
                                    (false, _) => rdates.push(in_frame(&w, frame)),
                                }
                            }
                        }
                    }
                    Some(r.with_exdates(exdates).with_rdates(rdates))
                }
            };
            events.push(ClosureEvent {
                uid,
                label: event
                    .value("SUMMARY")
                    .map(ical::unescape_text)
                    .unwrap_or_else(|| "Closed".to_owned()),
                frame,
                start: start_wall,
                length,
                recurrence,
            });
        }
        Ok(ClosureCalendar {
            name: name.to_owned(),
            events,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many closure events (recurring ones counted once) the calendar holds.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

/// The closures that apply to a room: calendars and clerks' blocks.
#[derive(Clone, Debug, Default)]
pub struct ClosureSet {
    calendars: Vec<ClosureCalendar>,
    blocks: Vec<Closure>,
}

impl ClosureSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_calendar(mut self, calendar: ClosureCalendar) -> Self {
        self.calendars.push(calendar);
        self
    }

    /// Adds a clerk's block, or any other closure already in UTC.
    pub fn with_block(mut self, block: Closure) -> Self {
        self.blocks.push(block);
        self
    }

    /// Every closure overlapping `window`, for a room in `zone`, ordered by start.
    pub fn resolve(&self, zone: Zone, window: &Interval) -> Vec<Closure> {
        let mut found: Vec<Closure> = self
            .blocks
            .iter()
            .filter(|b| b.interval.overlaps(window))
            .cloned()
            .collect();
        for calendar in &self.calendars {
            for event in &calendar.events {
                resolve_event(calendar, event, zone, window, &mut found);
            }
        }
        found.sort_by(|a, b| (a.interval, &a.label).cmp(&(b.interval, &b.label)));
        found
    }
}

fn resolve_event(
    calendar: &ClosureCalendar,
    event: &ClosureEvent,
    room_zone: Zone,
    window: &Interval,
    out: &mut Vec<Closure>,
) {
    let zone = match event.frame {
        Frame::Utc => Zone::UTC,
        Frame::Zoned(z) => z,
        Frame::Room => room_zone,
    };
    let to_utc = |t: NaiveDateTime| match event.frame {
        Frame::Utc => t.and_utc(),
        _ => zone.to_utc_or_after_gap(t),
    };
    let closure = |interval: Interval, label: String| Closure {
        label,
        source: ClosureSource::Calendar {
            calendar: calendar.name.clone(),
            uid: event.uid.clone(),
        },
        interval,
    };
    let mut push = |start: NaiveDateTime| {
        let Some(end) = start.checked_add_signed(event.length) else {
            return;
        };
        if let Ok(interval) = Interval::new(to_utc(start), to_utc(end))
            && interval.overlaps(window)
        {
            out.push(closure(interval, event.label.clone()));
        }
    };
    match &event.recurrence {
        None => push(event.start),
        Some(r) => {
            // A day of margin on each side covers any zone offset between UTC and the frame.
            let margin = TimeDelta::days(1);
            let from = zone
                .local(window.start())
                .checked_sub_signed(event.length + margin);
            let to = zone.local(window.end()).checked_add_signed(margin);
            let (Some(from), Some(to)) = (from, to) else {
                return;
            };
            match r.occurrences_between(event.start, zone, from, to, MAX_SCAN) {
                Ok((starts, false)) => starts.into_iter().for_each(push),
                // Too many repetitions before the window to find the ones inside it: closed,
                // rather than silently open.
                Ok((_, true)) => out.push(closure(
                    *window,
                    format!(
                        "{} (repeats too often to expand; treated as closed)",
                        event.label
                    ),
                )),
                // UNTIL before DTSTART: the closure never occurs.
                Err(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn day(y: i32, m: u32, d: u32) -> Interval {
        let zone = Zone::default();
        let start = zone
            .to_utc(
                NaiveDate::from_ymd_opt(y, m, d)
                    .unwrap()
                    .and_hms_opt(12, 0, 0)
                    .unwrap(),
            )
            .unwrap();
        Interval::new(start, start + TimeDelta::hours(2)).unwrap()
    }

    const CAL: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n\
BEGIN:VEVENT\r\nUID:a\r\nSUMMARY:All day\r\nDTSTART;VALUE=DATE:20270517\r\nDTEND;VALUE=DATE:20270518\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:b\r\nSUMMARY:Maintenance\r\nDTSTART;TZID=Europe/Oslo:20270601T080000\r\nDTEND;TZID=Europe/Oslo:20270601T160000\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:c\r\nSUMMARY:Cleaning\r\nDTSTART;TZID=Europe/Oslo:20270104T060000\r\nDURATION:PT2H\r\nRRULE:FREQ=WEEKLY;BYDAY=MO\r\nEXDATE;TZID=Europe/Oslo:20270111T060000\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";

    #[test]
    fn an_all_day_closure_blocks_the_whole_local_day_and_no_more() {
        let set = ClosureSet::new().with_calendar(ClosureCalendar::parse("t", CAL).unwrap());
        let zone = Zone::default();
        assert_eq!(set.resolve(zone, &day(2027, 5, 17))[0].label, "All day");
        assert!(set.resolve(zone, &day(2027, 5, 18)).is_empty());
        let c = &set.resolve(zone, &day(2027, 5, 17))[0];
        assert_eq!(
            c.interval.start(),
            chrono::Utc.with_ymd_and_hms(2027, 5, 16, 22, 0, 0).unwrap()
        );
    }

    #[test]
    fn a_recurring_closure_repeats_except_on_its_exdates() {
        let set = ClosureSet::new().with_calendar(ClosureCalendar::parse("t", CAL).unwrap());
        let zone = Zone::default();
        let at = |d: u32, h: u32| {
            let s = zone
                .to_utc(
                    NaiveDate::from_ymd_opt(2027, 1, d)
                        .unwrap()
                        .and_hms_opt(h, 0, 0)
                        .unwrap(),
                )
                .unwrap();
            Interval::new(s, s + TimeDelta::minutes(30)).unwrap()
        };
        assert_eq!(set.resolve(zone, &at(4, 7)).len(), 1);
        assert!(set.resolve(zone, &at(11, 7)).is_empty(), "EXDATE");
        assert_eq!(set.resolve(zone, &at(18, 7)).len(), 1);
        assert!(set.resolve(zone, &at(18, 8)).is_empty(), "ends at 08:00");
    }

    #[test]
    fn utc_and_floating_closures_are_read_as_an_instant_and_as_room_time() {
        let text = "BEGIN:VCALENDAR\r\n\
BEGIN:VEVENT\r\nUID:u\r\nSUMMARY:Power cut\r\nDTSTART:20270301T100000Z\r\nDTEND:20270301T120000Z\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:f\r\nSUMMARY:Exam\r\nDTSTART:20270302T100000\r\nDURATION:PT2H\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";
        let set = ClosureSet::new().with_calendar(ClosureCalendar::parse("t", text).unwrap());
        let window = Interval::new(
            chrono::Utc.with_ymd_and_hms(2027, 3, 1, 0, 0, 0).unwrap(),
            chrono::Utc.with_ymd_and_hms(2027, 3, 3, 0, 0, 0).unwrap(),
        )
        .unwrap();
        let found = set.resolve(Zone::default(), &window);
        let utc = |d, h| chrono::Utc.with_ymd_and_hms(2027, 3, d, h, 0, 0).unwrap();
        assert_eq!(
            found[0].interval,
            Interval::new(utc(1, 10), utc(1, 12)).unwrap()
        );
        // Floating 10:00 is Oslo wall time for an Oslo room: 09:00 UTC in winter.
        assert_eq!(
            found[1].interval,
            Interval::new(utc(2, 9), utc(2, 11)).unwrap()
        );
        let in_utc_room = set.resolve(Zone::UTC, &window);
        assert_eq!(
            in_utc_room[1].interval,
            Interval::new(utc(2, 10), utc(2, 12)).unwrap()
        );
    }

    #[test]
    fn a_daily_closure_that_began_long_ago_still_closes_today() {
        let text = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:d\r\nSUMMARY:Night cleaning\r\n\
DTSTART;TZID=Europe/Oslo:19900101T060000\r\nDURATION:PT1H\r\nRRULE:FREQ=DAILY\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let set = ClosureSet::new().with_calendar(ClosureCalendar::parse("t", text).unwrap());
        let zone = Zone::default();
        let s = zone
            .to_utc(
                NaiveDate::from_ymd_opt(2027, 6, 1)
                    .unwrap()
                    .and_hms_opt(6, 30, 0)
                    .unwrap(),
            )
            .unwrap();
        let found = set.resolve(zone, &Interval::new(s, s + TimeDelta::minutes(10)).unwrap());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].label, "Night cleaning");
    }

    #[test]
    fn closures_repeating_more_than_daily_or_lasting_centuries_are_refused() {
        let event = |body: &str| {
            format!(
                "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\n{body}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
            )
        };
        for body in [
            "DTSTART:20270101T100000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=DAILY;BYHOUR=8,12",
            "DTSTART:20270101T100000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=HOURLY",
            "DTSTART:20270101T100000Z\r\nDURATION:P999999W999999W999999W999999W999999W999999W",
            "DTSTART:20270101T100000\r\nDTEND:20270101T120000Z",
        ] {
            assert!(
                ClosureCalendar::parse("t", &event(body)).is_err(),
                "{body:?} should be refused"
            );
        }
    }

    #[test]
    fn a_clerks_block_is_a_closure_too() {
        let block = Closure {
            label: "Floor polishing".into(),
            source: ClosureSource::Block { id: "blk-1".into() },
            interval: day(2027, 2, 2),
        };
        let set = ClosureSet::new().with_block(block.clone());
        assert_eq!(set.resolve(Zone::default(), &day(2027, 2, 2)), [block]);
    }

    #[test]
    fn a_closure_calendar_of_thousands_of_events_is_read() {
        let mut text = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n");
        for d in 0..3500 {
            let day = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap() + chrono::Days::new(d);
            text.push_str(&format!(
                "BEGIN:VEVENT\r\nUID:e{d}\r\nSUMMARY:Vask\r\nDTSTART;VALUE=DATE:{}\r\nDTEND;VALUE=DATE:{}\r\nEND:VEVENT\r\n",
                day.format("%Y%m%d"),
                (day + chrono::Days::new(1)).format("%Y%m%d")
            ));
        }
        text.push_str("END:VCALENDAR\r\n");
        assert!(text.lines().count() > 20_000);
        assert_eq!(ClosureCalendar::parse("plan", &text).unwrap().len(), 3500);
    }

    #[test]
    fn malformed_calendars_are_errors_not_panics() {
        let cases = [
            "",
            "hello",
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:2027\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20270101T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;TZID=Mars/Base:20270101T100000\r\nDURATION:PT1H\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20270101\r\nRRULE:FREQ=DAILY;COUNT=x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20270101T100000Z\r\nDTEND:20270101T090000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        ];
        for text in cases {
            assert!(
                ClosureCalendar::parse("bad", text).is_err(),
                "{text:?} should be refused"
            );
        }
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics_the_ics_parser(text in "(?s).{0,300}") {
            let _ = ClosureCalendar::parse("fuzz", &text);
        }

        #[test]
        fn arbitrary_text_inside_a_vcalendar_never_panics_the_ics_parser(body in "(?s).{0,400}") {
            // Past the header check, so the icalendar parser itself sees the noise.
            let _ = ClosureCalendar::parse("fuzz", &format!("BEGIN:VCALENDAR\r\n{body}"));
            let _ = ClosureCalendar::parse("fuzz", &format!("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n{body}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"));
        }

        #[test]
        fn calendar_shaped_text_never_panics_the_ics_parser(
            lines in prop::collection::vec(
                (prop::sample::select(vec!["DTSTART", "DTEND", "DURATION", "RRULE", "EXDATE", "RDATE", "SUMMARY", "UID", "DTSTART;VALUE=DATE", "DTSTART;TZID=Europe/Oslo", "EXDATE;TZID=X"]),
                 "[0-9TZPDHMW=;:,A-Z+-]{0,24}"),
                0..8),
        ) {
            let mut text = String::from("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n");
            for (k, v) in lines {
                text.push_str(&format!("{k}:{v}\r\n"));
            }
            text.push_str("END:VEVENT\r\nEND:VCALENDAR\r\n");
            if let Ok(cal) = ClosureCalendar::parse("fuzz", &text) {
                let set = ClosureSet::new().with_calendar(cal);
                let _ = set.resolve(Zone::default(), &day(2027, 5, 17));
            }
        }
    }
}
