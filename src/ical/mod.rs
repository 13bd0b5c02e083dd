//! Calendar object resources that staff write (RFC 4791 §4.1, §5.3.2): a small lossless
//! iCalendar reader and writer (RFC 5545 §3.1 content lines, folding, parameters), the checks
//! a PUT must pass, and the times of an event as instants.
//!
//! Lossless on purpose: the organiser's copy is kept as sent, and scheduling only edits the
//! parameters of room ATTENDEE lines and adds properties and overrides (RFC 6638 §3.2.2), so
//! what a client wrote (alarms, X- properties, its own VTIMEZONEs) comes back unchanged.
//! Invariants: parsing never panics on any input; lines are written folded at 75 octets on
//! character boundaries (RFC 5545 §3.1).

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, TimeZone as _, Utc};

/// One property: upper-cased name, parameters (upper-cased names, raw values as written,
/// quotes included), and the raw value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prop {
    pub name: String,
    pub params: Vec<(String, String)>,
    pub value: String,
}

impl Prop {
    pub fn new(name: &str, value: impl Into<String>) -> Prop {
        Prop {
            name: name.to_owned(),
            params: Vec::new(),
            value: value.into(),
        }
    }

    /// A parameter's value, unquoted.
    pub fn param(&self, name: &str) -> Option<String> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim_matches('"').to_owned())
    }

    /// Sets (or replaces) a parameter; quoted when its value needs it (RFC 5545 §3.2).
    pub fn set_param(&mut self, name: &str, value: &str) {
        let clean: String = value
            .chars()
            .filter(|c| *c != '"' && !c.is_control())
            .collect();
        let raw = if clean.contains([':', ';', ',']) {
            format!("\"{clean}\"")
        } else {
            clean
        };
        match self
            .params
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(p) => p.1 = raw,
            None => self.params.push((name.to_owned(), raw)),
        }
    }

    pub fn remove_param(&mut self, name: &str) {
        self.params.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }
}

/// A component: its name (upper case), its properties in order, and its sub-components.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Component {
    pub name: String,
    pub props: Vec<Prop>,
    pub children: Vec<Component>,
}

impl Component {
    pub fn prop(&self, name: &str) -> Option<&Prop> {
        self.props.iter().find(|p| p.name == name)
    }

    pub fn props<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Prop> {
        self.props.iter().filter(move |p| p.name == name)
    }

    pub fn value(&self, name: &str) -> Option<&str> {
        self.prop(name).map(|p| p.value.as_str())
    }

    /// Replaces every property of this name with `prop`, or adds it.
    pub fn set(&mut self, prop: Prop) {
        match self.props.iter().position(|p| p.name == prop.name) {
            Some(i) => {
                let name = prop.name.clone();
                self.props[i] = prop;
                let mut seen = false;
                self.props.retain(|p| {
                    if p.name != name {
                        return true;
                    }
                    let keep = !seen;
                    seen = true;
                    keep
                });
            }
            None => self.props.push(prop),
        }
    }

    pub fn remove(&mut self, name: &str) {
        self.props.retain(|p| p.name != name);
    }

    /// The iCalendar text, CRLF line ends, folded.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        fold(out, &format!("BEGIN:{}", self.name));
        for p in &self.props {
            let mut line = p.name.clone();
            for (n, v) in &p.params {
                line.push(';');
                line.push_str(n);
                line.push('=');
                line.push_str(v);
            }
            line.push(':');
            line.push_str(&p.value);
            fold(out, &line);
        }
        for c in &self.children {
            c.write(out);
        }
        fold(out, &format!("END:{}", self.name));
    }
}

/// The PRODID of every calendar Lokal writes (RFC 5545 §3.7.3).
pub const PRODID: &str = "-//Lokal//Lokal//EN";

/// The longest content line, in octets, without the line break (RFC 5545 §3.1).
const LINE_OCTETS: usize = 75;

/// Appends `line` and CRLF, folded (RFC 5545 §3.1): at most 75 octets a line, the break (CRLF
/// and a space) never inside a UTF-8 character. The one line folder of the crate.
pub fn fold(out: &mut String, line: &str) {
    let mut rest = line;
    let mut limit = LINE_OCTETS;
    while rest.len() > limit {
        let mut cut = limit;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (head, tail) = rest.split_at(cut);
        out.push_str(head);
        out.push_str("\r\n ");
        rest = tail;
        // A continuation line starts with the space.
        limit = LINE_OCTETS - 1;
    }
    out.push_str(rest);
    out.push_str("\r\n");
}

/// Text fit for a property value before escaping: line breaks as LF (CRLF and lone CR
/// included), tabs kept, every other control character dropped (RFC 5545 §3.3.11 allows no
/// controls but HTAB in TEXT).
pub fn clean_text(s: &str) -> String {
    s.replace("\r\n", "\n")
        .chars()
        .filter_map(|c| match c {
            '\r' => Some('\n'),
            '\n' | '\t' => Some(c),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect()
}

/// A TEXT value escaped (RFC 5545 §3.3.11): backslash, `;`, `,` and line breaks; CR and other
/// control characters dropped.
pub fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A TEXT value unescaped (RFC 5545 §3.3.11): `\n` or `\N` is a line break, any other escaped
/// character stands for itself.
pub fn unescape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n' | 'N') => out.push('\n'),
                Some(o) => out.push(o),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// What is wrong with a body, in the terms of RFC 4791 §5.3.2.1 (the CalDAV face names each
/// as its precondition).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Not iCalendar text at all (RFC 5545 §3 syntax): `valid-calendar-data`.
    Data,
    /// iCalendar, but not one calendar object resource (RFC 4791 §4.1):
    /// `valid-calendar-object-resource`.
    Object,
    /// A component other than VEVENT: `supported-calendar-component`.
    Component,
}

impl Fault {
    /// The RFC 4791 §5.3.2.1 precondition element this fault fails.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Data => "valid-calendar-data",
            Fault::Object => "valid-calendar-object-resource",
            Fault::Component => "supported-calendar-component",
        }
    }
}

/// Why a body is not a calendar object resource: what is wrong, and a sentence for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    pub fault: Fault,
    pub message: String,
}

fn invalid_data(message: impl Into<String>) -> Invalid {
    Invalid {
        fault: Fault::Data,
        message: message.into(),
    }
}

fn invalid_object(message: impl Into<String>) -> Invalid {
    Invalid {
        fault: Fault::Object,
        message: message.into(),
    }
}

/// The most components and properties one object may have.
const MAX_LINES: usize = 20_000;
const MAX_NESTING: usize = 8;

/// Parses an iCalendar stream holding exactly one VCALENDAR, of at most 20 000 content lines
/// (a calendar object or a scheduling request).
pub fn parse(text: &str) -> Result<Component, Invalid> {
    parse_lines(text, MAX_LINES)
}

/// [`parse`] for a whole calendar file whose size the caller has already bounded (a closure
/// calendar of thousands of events): at most `max_lines` content lines.
pub fn parse_lines(text: &str, max_lines: usize) -> Result<Component, Invalid> {
    // Unfold (RFC 5545 §3.1): a line break followed by a space or tab continues the line.
    // Each content line is read as soon as the next one starts, so the nesting bound stops a
    // body of deeply nested components at its first lines, before the length bound.
    let mut reader = Reader::default();
    let mut current: Option<String> = None;
    for raw in text.split('\n') {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(rest) = raw.strip_prefix([' ', '\t']) {
            match current.as_mut() {
                Some(last) => last.push_str(rest),
                None => return Err(invalid_data("the body starts with a continuation line")),
            }
        } else if !raw.is_empty() {
            if let Some(line) = current.replace(raw.to_owned()) {
                reader.line(&line)?;
            }
            if reader.lines + 1 > max_lines {
                return Err(invalid_data("the body has too many lines"));
            }
        }
    }
    if let Some(line) = current {
        reader.line(&line)?;
    }
    reader.finish()
}

/// The state of [`parse`]: the open components and, once closed, the root.
#[derive(Default)]
struct Reader {
    lines: usize,
    stack: Vec<Component>,
    root: Option<Component>,
}

/// A component name is an iana-token or x-name (RFC 5545 §3.1: letters, digits and `-`),
/// at most 64 characters here. Anything else (a body with CR-only line ends reads as one long
/// BEGIN value) is refused at once, and never echoed at length in the refusal.
fn is_component_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl Reader {
    fn line(&mut self, line: &str) -> Result<(), Invalid> {
        self.lines += 1;
        let prop = content_line(line).ok_or_else(|| {
            invalid_data(format!(
                "line {} is not a content line: {line:.60}",
                self.lines
            ))
        })?;
        if self.root.is_some() {
            return Err(invalid_data("there is content after END:VCALENDAR"));
        }
        match prop.name.as_str() {
            "BEGIN" => {
                if self.stack.len() >= MAX_NESTING {
                    return Err(invalid_data("components are nested too deeply"));
                }
                let name = prop.value.trim().to_ascii_uppercase();
                if name.is_empty() {
                    return Err(invalid_data("BEGIN without a component name"));
                }
                if !is_component_name(&name) {
                    return Err(invalid_data(format!(
                        "line {}: BEGIN:{name:.60} is not a component name",
                        self.lines
                    )));
                }
                self.stack.push(Component {
                    name,
                    props: Vec::new(),
                    children: Vec::new(),
                });
            }
            "END" => {
                let name = prop.value.trim().to_ascii_uppercase();
                if !is_component_name(&name) {
                    return Err(invalid_data(format!(
                        "line {}: END:{name:.60} is not a component name",
                        self.lines
                    )));
                }
                let done = self
                    .stack
                    .pop()
                    .ok_or_else(|| invalid_data(format!("END:{name} without a BEGIN")))?;
                if done.name != name {
                    return Err(invalid_data(format!(
                        "END:{name} closes BEGIN:{}",
                        done.name
                    )));
                }
                match self.stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => self.root = Some(done),
                }
            }
            _ => match self.stack.last_mut() {
                Some(c) => c.props.push(prop),
                None => return Err(invalid_data("a property outside BEGIN:VCALENDAR")),
            },
        }
        Ok(())
    }

    fn finish(self) -> Result<Component, Invalid> {
        if let Some(open) = self.stack.last() {
            return Err(invalid_data(format!("BEGIN:{} is never closed", open.name)));
        }
        let root = self
            .root
            .ok_or_else(|| invalid_data("the body holds no BEGIN:VCALENDAR"))?;
        if root.name != "VCALENDAR" {
            return Err(invalid_data(format!(
                "the body is a {}, not a VCALENDAR",
                root.name
            )));
        }
        Ok(root)
    }
}

/// `NAME *(;PARAM=VALUE[,VALUE]) : VALUE` (RFC 5545 §3.1). Quoted parameter values may hold
/// `:` `;` and `,`.
fn content_line(line: &str) -> Option<Prop> {
    let name_end = line.find([';', ':'])?;
    let name = &line[..name_end];
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return None;
    }
    let mut params = Vec::new();
    let mut rest = &line[name_end..];
    while let Some(after) = rest.strip_prefix(';') {
        let eq = after.find('=')?;
        let pname = &after[..eq];
        if pname.is_empty() || !pname.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return None;
        }
        let mut i = eq + 1;
        let bytes = after.as_bytes();
        // One or more values separated by commas, each quoted or not.
        loop {
            if bytes.get(i) == Some(&b'"') {
                let close = after[i + 1..].find('"')?;
                i += close + 2;
            } else {
                while let Some(&b) = bytes.get(i) {
                    if b == b',' || b == b';' || b == b':' || b == b'"' {
                        break;
                    }
                    i += 1;
                }
            }
            if bytes.get(i) == Some(&b',') {
                i += 1;
                continue;
            }
            break;
        }
        params.push((pname.to_ascii_uppercase(), after[eq + 1..i].to_owned()));
        rest = &after[i..];
    }
    let value = rest.strip_prefix(':')?;
    Some(Prop {
        name: name.to_ascii_uppercase(),
        params,
        value: value.to_owned(),
    })
}

/// A checked calendar object resource (RFC 4791 §4.1): one UID, VEVENTs only (plus their
/// VTIMEZONEs), at most one master, each with a DTSTART.
pub struct Object {
    pub root: Component,
    pub uid: String,
}

impl Object {
    /// The master VEVENT (the one without RECURRENCE-ID), if any.
    pub fn master(&self) -> Option<&Component> {
        self.root
            .children
            .iter()
            .find(|c| c.name == "VEVENT" && c.prop("RECURRENCE-ID").is_none())
    }

    pub fn master_mut(&mut self) -> Option<&mut Component> {
        self.root
            .children
            .iter_mut()
            .find(|c| c.name == "VEVENT" && c.prop("RECURRENCE-ID").is_none())
    }
}

/// Checks a body for a staff calendar.
pub fn check(text: &str) -> Result<Object, Invalid> {
    let root = parse(text)?;
    if root.prop("METHOD").is_some() {
        return Err(invalid_object(
            "a calendar object resource must not have METHOD (RFC 4791 §4.1); send iTIP messages to the outbox",
        ));
    }
    let mut uid: Option<String> = None;
    let mut masters = 0;
    let mut events = 0;
    for c in &root.children {
        match c.name.as_str() {
            "VEVENT" => {
                events += 1;
                let this = c
                    .value("UID")
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                    .ok_or_else(|| invalid_object("every VEVENT needs a UID"))?;
                match &uid {
                    None => uid = Some(this.to_owned()),
                    Some(u) if u == this => {}
                    Some(_) => {
                        return Err(invalid_object(
                            "all components of one calendar object resource must have the same UID",
                        ));
                    }
                }
                if c.prop("DTSTART").is_none() {
                    return Err(invalid_object("every VEVENT needs a DTSTART"));
                }
                if c.prop("RECURRENCE-ID").is_none() {
                    masters += 1;
                }
            }
            "VTIMEZONE" => {}
            "VTODO" | "VJOURNAL" | "VFREEBUSY" | "VAVAILABILITY" => {
                return Err(Invalid {
                    fault: Fault::Component,
                    message: format!("this calendar holds events (VEVENT) only, not {}", c.name),
                });
            }
            other if other.starts_with("X-") => {}
            other => {
                return Err(invalid_object(format!(
                    "{other} is not allowed at the top of a calendar object"
                )));
            }
        }
    }
    if events == 0 {
        return Err(invalid_object("the calendar object holds no VEVENT"));
    }
    if masters > 1 {
        return Err(invalid_object(
            "a calendar object may have only one VEVENT without RECURRENCE-ID",
        ));
    }
    let uid = uid.ok_or_else(|| invalid_object("every VEVENT needs a UID"))?;
    if uid.len() > 1000 {
        return Err(invalid_object("the UID is longer than 1000 characters"));
    }
    Ok(Object { root, uid })
}

/// How a date-time property was written, to write derived ones (RECURRENCE-ID of an
/// override) the same way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    Utc,
    Zone {
        tzid: String,
        tz: chrono_tz::Tz,
    },
    /// VALUE=DATE: whole days in the room's zone.
    Date,
}

/// A time as written: an instant, or a whole day (VALUE=DATE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    At(DateTime<Utc>),
    Day(NaiveDate),
}

/// Why an event's times cannot be booked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeError(pub String);

/// A TZID as an IANA zone: the name itself, a name after a vendor prefix
/// (`/mozilla.org/20050126_1/Europe/Oslo`), or a few Windows names Outlook writes.
pub fn zone_of(tzid: &str) -> Option<chrono_tz::Tz> {
    let tzid = tzid.trim().trim_matches('"');
    const WINDOWS: [(&str, &str); 6] = [
        ("W. Europe Standard Time", "Europe/Oslo"),
        ("Romance Standard Time", "Europe/Copenhagen"),
        ("Central Europe Standard Time", "Europe/Budapest"),
        ("FLE Standard Time", "Europe/Helsinki"),
        ("GMT Standard Time", "Europe/London"),
        ("UTC", "UTC"),
    ];
    if let Some((_, iana)) = WINDOWS.iter().find(|(w, _)| *w == tzid) {
        return iana.parse().ok();
    }
    if let Ok(tz) = tzid.parse() {
        return Some(tz);
    }
    // Strip leading segments until what is left is a zone name.
    let mut rest = tzid;
    while let Some((_, after)) = rest.split_once('/') {
        rest = after;
        if rest.contains('/')
            && let Ok(tz) = rest.parse()
        {
            return Some(tz);
        }
    }
    None
}

/// Reads a DTSTART/DTEND/RECURRENCE-ID-like property.
pub fn when(prop: &Prop) -> Result<(When, Frame), TimeError> {
    let v = prop.value.trim();
    let is_date = prop
        .param("VALUE")
        .is_some_and(|x| x.eq_ignore_ascii_case("DATE"))
        || (v.len() == 8 && v.chars().all(|c| c.is_ascii_digit()));
    if is_date {
        let d = NaiveDate::parse_from_str(v, "%Y%m%d")
            .map_err(|_| TimeError(format!("{}:{v} is not a date", prop.name)))?;
        return Ok((When::Day(d), Frame::Date));
    }
    if let Some(utc) = v.strip_suffix(['Z', 'z']) {
        let t = NaiveDateTime::parse_from_str(utc, "%Y%m%dT%H%M%S")
            .map_err(|_| TimeError(format!("{}:{v} is not a date-time", prop.name)))?;
        return Ok((When::At(t.and_utc()), Frame::Utc));
    }
    let local = NaiveDateTime::parse_from_str(v, "%Y%m%dT%H%M%S")
        .map_err(|_| TimeError(format!("{}:{v} is not a date-time", prop.name)))?;
    let Some(tzid) = prop.param("TZID") else {
        return Err(TimeError(format!(
            "{} {v} is a floating time (no TZID and no Z): a room can only be booked at a definite time; give TZID=Europe/Oslo or UTC",
            prop.name
        )));
    };
    let tz = zone_of(&tzid).ok_or_else(|| {
        TimeError(format!(
            "{}: the time zone {tzid:?} is not known; use an IANA name such as Europe/Oslo",
            prop.name
        ))
    })?;
    // In a gap the wall time does not exist: take the instant just after it; in a fold, the
    // first pass (as RFC 5545 §3.3.5 says).
    let instant = match tz.from_local_datetime(&local) {
        chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        chrono::LocalResult::None => tz
            .from_local_datetime(&(local + TimeDelta::hours(1)))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| TimeError(format!("{}:{v} does not exist in {tzid}", prop.name)))?,
    };
    Ok((When::At(instant), Frame::Zone { tzid, tz }))
}

/// A DURATION value (RFC 5545 §3.3.6), e.g. `PT1H30M`, `P1D`, `P2W`.
pub fn duration(text: &str) -> Option<TimeDelta> {
    let t = text.trim();
    let (negative, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let t = t.strip_prefix('P')?;
    let mut total = TimeDelta::zero();
    let mut number = String::new();
    let mut in_time = false;
    let mut any = false;
    for c in t.chars() {
        match c {
            '0'..='9' => number.push(c),
            'T' if number.is_empty() => in_time = true,
            _ => {
                let n: i64 = number.parse().ok()?;
                number.clear();
                any = true;
                let part = match (c, in_time) {
                    ('W', false) => TimeDelta::try_weeks(n)?,
                    ('D', false) => TimeDelta::try_days(n)?,
                    ('H', true) => TimeDelta::try_hours(n)?,
                    ('M', true) => TimeDelta::try_minutes(n)?,
                    ('S', true) => TimeDelta::try_seconds(n)?,
                    _ => return None,
                };
                // Checked: `+=` on TimeDelta panics on overflow, and the text is the client's.
                total = total.checked_add(&part)?;
            }
        }
    }
    if !number.is_empty() || !any {
        return None;
    }
    Some(if negative { -total } else { total })
}

/// An event's start and end as written, with the frame its start is written in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventTimes {
    pub start: When,
    pub end: When,
    pub frame: Frame,
}

/// The start and end of a VEVENT (DTEND, or DTSTART + DURATION, or RFC 5545 §3.6.1's
/// defaults: one day for a date, nothing for a date-time).
pub fn event_times(event: &Component) -> Result<EventTimes, TimeError> {
    let start_prop = event
        .prop("DTSTART")
        .ok_or_else(|| TimeError("the event has no DTSTART".into()))?;
    let (start, frame) = when(start_prop)?;
    let end = if let Some(p) = event.prop("DTEND") {
        when(p)?.0
    } else if let Some(p) = event.prop("DURATION") {
        let d = duration(&p.value)
            .ok_or_else(|| TimeError(format!("DURATION:{} is not a duration", p.value)))?;
        match start {
            When::At(t) => When::At(
                t.checked_add_signed(d)
                    .ok_or_else(|| TimeError("DURATION is out of range".into()))?,
            ),
            When::Day(day) => When::Day(
                day.checked_add_signed(TimeDelta::days(d.num_days()))
                    .ok_or_else(|| TimeError("DURATION is out of range".into()))?,
            ),
        }
    } else {
        match start {
            When::Day(d) => When::Day(d.succ_opt().unwrap_or(d)),
            When::At(t) => When::At(t),
        }
    };
    match (start, end) {
        (When::At(_), When::At(_)) | (When::Day(_), When::Day(_)) => {}
        _ => {
            return Err(TimeError(
                "DTSTART and DTEND must both be dates or both date-times".into(),
            ));
        }
    }
    Ok(EventTimes { start, end, frame })
}

/// Writes an instant in `frame`, for RECURRENCE-ID and DTSTART/DTEND of an override.
pub fn written(name: &str, at: DateTime<Utc>, frame: &Frame, day_zone: chrono_tz::Tz) -> Prop {
    match frame {
        Frame::Utc => Prop::new(name, at.format("%Y%m%dT%H%M%SZ").to_string()),
        Frame::Zone { tzid, tz } => {
            let mut p = Prop::new(
                name,
                at.with_timezone(tz).format("%Y%m%dT%H%M%S").to_string(),
            );
            p.set_param("TZID", tzid);
            p
        }
        Frame::Date => {
            let mut p = Prop::new(
                name,
                at.with_timezone(&day_zone).format("%Y%m%d").to_string(),
            );
            p.set_param("VALUE", "DATE");
            p
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_body_with_cr_only_line_ends_is_refused_without_echoing_it() {
        let body = format!("BEGIN:VCALENDAR\r{}\rEND:VCALENDAR\r", "X".repeat(100_000));
        let err = parse(&body).unwrap_err();
        assert!(err.message.len() < 200, "{}", err.message.len());
        assert!(
            err.message.contains("not a component name"),
            "{}",
            err.message
        );
    }
    use super::*;

    const EVENT: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:a@b\r\nDTSTART;TZID=Europe/Oslo:20270111T100000\r\nDTEND;TZID=Europe/Oslo:20270111T110000\r\nSUMMARY:Plan\r\nATTENDEE;CN=\"Dahl, Erik\";CUTYPE=ROOM:mailto:x@y\r\nDESCRIPTION:a long line that goes on and on and on and on and on and on and on and on and on\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn an_event_reads_and_writes_back_unchanged() {
        let c = parse(EVENT).unwrap();
        assert_eq!(parse(&c.to_text()).unwrap(), c);
        let ev = &c.children[0];
        let a = ev.prop("ATTENDEE").unwrap();
        assert_eq!(a.param("CN").as_deref(), Some("Dahl, Erik"));
        assert_eq!(a.param("cutype").as_deref(), Some("ROOM"));
        assert_eq!(a.value, "mailto:x@y");
        for line in c.to_text().split("\r\n") {
            assert!(line.len() <= 75, "{line}");
        }
    }

    #[test]
    fn malformed_bodies_are_refused_not_panicked_on() {
        for bad in [
            "",
            "hello",
            "BEGIN:VCALENDAR\r\n",
            "END:VCALENDAR\r\n",
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nEND:VCALENDAR\r\n",
            " continuation\r\n",
            "BEGIN:VCALENDAR\r\nX;A=\"unclosed:v\r\nEND:VCALENDAR\r\n",
            "BEGIN:VEVENT\r\nEND:VEVENT\r\n",
            "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\nBEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
        ] {
            assert!(check(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn objects_need_one_uid_events_only_and_a_start() {
        assert_eq!(check(EVENT).unwrap().uid, "a@b");
        let no_uid = EVENT.replace("UID:a@b\r\n", "");
        assert_eq!(
            check(&no_uid).err().unwrap().fault.name(),
            "valid-calendar-object-resource"
        );
        let todo = EVENT.replace("VEVENT", "VTODO");
        assert_eq!(
            check(&todo).err().unwrap().fault.name(),
            "supported-calendar-component"
        );
        let no_start = EVENT.replace("DTSTART;TZID=Europe/Oslo:20270111T100000\r\n", "");
        assert!(check(&no_start).is_err());
    }

    #[test]
    fn times_are_read_in_their_zones_and_floating_ones_are_refused() {
        let c = parse(EVENT).unwrap();
        let t = event_times(&c.children[0]).unwrap();
        assert_eq!(t.start, When::At("2027-01-11T09:00:00Z".parse().unwrap()));
        let floating = EVENT.replace(";TZID=Europe/Oslo:20270111T100000", ":20270111T100000");
        let c = parse(&floating).unwrap();
        assert!(event_times(&c.children[0]).is_err());
        assert_eq!(
            zone_of("/mozilla.org/20050126_1/Europe/Oslo"),
            Some(chrono_tz::Europe::Oslo)
        );
        assert_eq!(zone_of("Mars/Olympus"), None);
        assert_eq!(duration("PT1H30M"), Some(TimeDelta::minutes(90)));
        assert_eq!(duration("P1W"), Some(TimeDelta::days(7)));
        assert_eq!(duration("PT"), None);
        assert_eq!(duration("1H"), None);
        // Parts that each fit but whose sum does not: refused, never a panic.
        assert_eq!(duration("P100000000000D100000000000D"), None);
        assert_eq!(duration("P9000000000000WT9000000000000H"), None);
        assert_eq!(duration("-P100000000000D100000000000D"), None);
    }
}
