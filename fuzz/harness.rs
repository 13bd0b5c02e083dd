//! The fuzz harness: one function per target, shared by the coverage-guided fuzz targets
//! (`fuzz/fuzz_targets/*.rs`, built by cargo-fuzz) and by the corpus replay and seeded
//! mutation run in the normal test suite (`tests/it/fuzz_corpus.rs`), which include this file
//! with `#[path]`. So CI runs the very checks the long runs ran, without building the crate a
//! second time with instrumentation.
//!
//! Each function takes any bytes, must never panic on them, and panics only when an invariant
//! fails: what Lokal writes reads back the same (iCalendar, LDIF), an expansion stays within
//! its bounds, a decision names each reason once per date, and the sentences for people are
//! words, never a Rust `Debug` rendering.
//!
//! Uses only what both the fuzz crate and the test binary have: `lokal`, `chrono`,
//! `serde_json`, `serde_urlencoded` and `base64`.

#![allow(dead_code)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use base64::Engine as _;
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use lokal::i18n::Lang;
use lokal::scheduling::{
    BookingIndex, BookingRequest, ClosureSet, Decision, ExDate, PolicySet, Recurrence, Requester,
    RequesterKind, Room, SeriesMode, Zone, decide,
};

/// One target: its name (its corpus folder under `fuzz/corpus/`) and its function.
pub type Target = (&'static str, fn(&[u8]));

/// The targets.
pub const TARGETS: [Target; 5] = [
    ("ical", ical),
    ("dav_xml", dav_xml),
    ("rrule", rrule),
    ("ldif", ldif),
    ("json", json),
];

// ---------------------------------------------------------------------------------------
// iCalendar: the reader (unfold, content lines, nesting) and what a CalDAV PUT does with an
// object (the checks, the stored text, the booking request, the copy served with answers).

/// `ical`: any text through `ical::parse`, `ical::check` and the calendar service's PUT steps.
pub fn ical(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(root) = lokal::ical::parse(text) {
        // What Lokal writes, it reads back the same (lossless, RFC 5545 §3.1 folding).
        let written = root.to_text();
        match lokal::ical::parse(&written) {
            Ok(again) => assert_eq!(again, root, "parse(to_text(x)) != x for {written:?}"),
            Err(e) => panic!(
                "Lokal cannot read what it wrote: {}\n{written:?}",
                e.message
            ),
        }
        for line in written.split("\r\n") {
            assert!(line.len() <= 75, "a line longer than 75 octets: {line:?}");
        }
        for c in &root.children {
            for p in &c.props {
                let _ = lokal::ical::when(p);
                let _ = lokal::ical::duration(&p.value);
                let _ = lokal::ical::unescape_text(&p.value);
            }
            let _ = lokal::ical::event_times(c);
        }
    }
    match lokal::calendar::schedule::put_steps(text) {
        lokal::calendar::schedule::PutSteps::Refused(message) => {
            assert!(!message.is_empty());
            human(&message, text);
        }
        lokal::calendar::schedule::PutSteps::Accepted {
            stored,
            request,
            served,
        } => {
            if let Err(e) = lokal::ical::check(&stored) {
                panic!("the stored text is refused: {}\n{stored:?}", e.message);
            }
            if let Err(e) = lokal::ical::parse(&served) {
                panic!("the served copy is unreadable: {}\n{served:?}", e.message);
            }
            if let Some(r) = request {
                // What the booking service then does with the request's text.
                let zone = oslo();
                let start = lokal::booking::parse_time(&r.start, zone, "start");
                let end = lokal::booking::parse_time(&r.end, zone, "end");
                let recurrence = r.recurrence.as_deref().map(Recurrence::parse);
                if let (Ok(s), Ok(e)) = (start, end) {
                    decide_bounded(s, e, r.attendees, recurrence.and_then(Result::ok), 0);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// DAV XML.

/// `dav_xml`: any bytes as a PROPFIND and as a REPORT body, and as an href.
pub fn dav_xml(data: &[u8]) {
    use lokal::caldav::xml;
    for result in [
        xml::parse_propfind(data).map(|_| ()),
        xml::parse_report(data).map(|_| ()),
    ] {
        if let Err(e) = result {
            let status = e.status();
            assert!((400..500).contains(&status), "status {status} for {e:?}");
            let message = e.to_string();
            assert!(!message.is_empty());
            // A refusal quotes the client's text briefly, never the whole body back.
            assert!(
                message.len() <= 600,
                "a {}-byte message: {message:.200}",
                message.len()
            );
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(path) = xml::decode_href(text) {
            assert!(!path.contains('\0'));
        }
        let _ = xml::parse_utc(text);
    }
}

// ---------------------------------------------------------------------------------------
// RRULE: parsed, expanded in a room's zone (bounded), and decided by the core.

const ZONES: [&str; 5] = [
    "Europe/Oslo",
    "UTC",
    "America/New_York",
    "Australia/Lord_Howe",
    "Pacific/Apia",
];

/// `rrule`: byte 0 picks the zone and options (bit 4 an EXDATE, bit 5 an RDATE, bit 6 a
/// window query, bit 7 the expansion's own checks, else the core's decision with the other
/// bits for the requester, series mode and policy), bytes 1–2 the first start (15-minute
/// steps from 2027-03-26 00:00, across spring's DST change), the rest is the RRULE text.
pub fn rrule(data: &[u8]) {
    if data.len() < 3 {
        return;
    }
    let Ok(text) = std::str::from_utf8(&data[3..]) else {
        return;
    };
    let Ok(zone) = Zone::parse(ZONES[usize::from(data[0]) % ZONES.len()]) else {
        return;
    };
    let steps = i64::from(u16::from_le_bytes([data[1], data[2]]));
    let Some(start) = NaiveDate::from_ymd_opt(2027, 3, 26)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|t| t.checked_add_signed(TimeDelta::minutes(15 * steps)))
    else {
        return;
    };
    let Ok(mut recurrence) = Recurrence::parse(text) else {
        return;
    };
    if data[0] & 0x10 != 0 {
        recurrence = recurrence.with_exdates([ExDate::On(start.date() + TimeDelta::days(7))]);
    }
    if data[0] & 0x20 != 0 {
        recurrence = recurrence.with_rdates([start + TimeDelta::days(3)]);
    }
    // One expansion an input (a rule that never matches costs the rrule crate its whole
    // loop bound each time): bit 7 checks the expansion itself, else the core decides.
    if data[0] & 0x80 == 0 {
        decide_bounded(
            start,
            start + TimeDelta::minutes(90),
            u32::from(data[0] >> 5) * 20,
            Some(recurrence),
            data[0],
        );
        return;
    }
    let max = 24;
    let window_end = start + TimeDelta::days(120);
    if let Ok(e) = recurrence.expand(start, zone, window_end, max) {
        assert!(e.starts.len() <= max, "{} > {max}", e.starts.len());
        assert!(
            e.starts.windows(2).all(|w| w[0] < w[1]),
            "not ascending and distinct: {:?}",
            e.starts
        );
        if let Some(first) = e.starts.first() {
            assert!(*first >= start, "{first} before the start {start}");
        }
        if e.starts.len() > 1 {
            assert!(e.starts.iter().all(|s| *s <= window_end));
        }
        if let Some(t) = &e.truncated {
            human(&lokal::i18n::reasons::truncation(Lang::En, t), text);
            human(&lokal::i18n::reasons::truncation(Lang::Nb, t), text);
        }
    }
    let (lo, hi) = (start + TimeDelta::days(7), start + TimeDelta::days(21));
    if data[0] & 0x40 != 0
        && let Ok((found, _)) = recurrence.occurrences_between(start, zone, lo, hi, 40)
    {
        assert!(found.len() <= 40);
        assert!(found.iter().all(|t| *t >= lo && *t <= hi));
    }
}

const POLICIES: &str = r#"
[policy.hall]
min_duration = "1h"
max_duration = "6h"
granularity = "30m"
lead_time = "2d"
horizon = "180d"
setup = "30m"
teardown = "30m"
max_attendees = 80
max_occurrences = 12

[policy.hall.opening_hours]
mon = ["08:00-23:00"]
tue = ["08:00-23:00"]
wed = ["08:00-23:00"]
thu = ["08:00-23:00"]
fri = ["08:00-24:00"]
sat = ["10:00-24:00"]
sun = ["12:00-20:00"]

[policy.hall.quota]
period = "week"
max_bookings = 3
max_hours = 10

[policy.hall.approval]
book_in = ["kultur"]
request_in = ["@everyone"]
out_of_policy = ["bookingkontoret"]

[policy.hall.series]
max_skipped = 6
max_skipped_percent = 50

[policy.shut]
[policy.shut.approval]
closed = true
"#;

fn oslo() -> Zone {
    Zone::parse("Europe/Oslo").unwrap_or_default()
}

/// Runs the core on a request as the booking service would (a bounded series), and checks
/// the decision: bounded, each reason once per date, every sentence words in both languages.
fn decide_bounded(
    start: NaiveDateTime,
    end: NaiveDateTime,
    attendees: u32,
    recurrence: Option<Recurrence>,
    flags: u8,
) {
    static SET: std::sync::OnceLock<PolicySet> = std::sync::OnceLock::new();
    let set = SET.get_or_init(|| match PolicySet::from_toml(POLICIES) {
        Ok(s) => s,
        Err(e) => panic!("the harness's policies do not load: {e}"),
    });
    let name = if flags & 0x08 != 0 { "shut" } else { "hall" };
    let Ok(policy) = set.get(name) else {
        panic!("no policy {name}");
    };
    let Ok(mut request) = BookingRequest::new(start, end, attendees) else {
        return;
    };
    let rule_text = recurrence
        .as_ref()
        .map(|r| r.text().to_owned())
        .unwrap_or_default();
    if let Some(r) = recurrence {
        let mode = if flags & 0x04 != 0 {
            SeriesMode::SkipRejected
        } else {
            SeriesMode::AllOrNothing
        };
        match request.with_recurrence(r, mode) {
            Ok(r) => request = r,
            Err(_) => return,
        }
    }
    let zone = Zone::parse(ZONES[usize::from(flags) % ZONES.len()]).unwrap_or_default();
    let room = Room::new("fuzz-hall", zone).with_capacity(60);
    let requester = Requester {
        id: "fuzz".into(),
        kind: if flags & 0x01 != 0 {
            RequesterKind::Staff
        } else {
            RequesterKind::Resident
        },
        groups: if flags & 0x02 != 0 {
            vec!["kultur".into()]
        } else {
            Vec::new()
        },
    };
    let now: DateTime<Utc> = DateTime::from_timestamp(1_798_761_600, 0).unwrap_or_default();
    let d = decide(
        &request,
        &requester,
        &room,
        policy,
        &BookingIndex::new([]),
        &ClosureSet::new(),
        now,
    );
    check_decision(&d, policy.max_occurrences, &rule_text);
}

/// The decision's invariants (see `decide_bounded`).
pub fn check_decision(d: &Decision, max_occurrences: usize, input: &str) {
    assert!(
        d.occurrences.len() <= max_occurrences.max(1),
        "{} occurrences decided, the policy allows {max_occurrences}",
        d.occurrences.len()
    );
    assert!(
        d.occurrences
            .windows(2)
            .all(|w| w[0].local_start < w[1].local_start),
        "dates not ascending and distinct"
    );
    for o in &d.occurrences {
        for (i, r) in o.reasons.iter().enumerate() {
            assert!(
                !o.reasons[..i].contains(r),
                "{} twice for {}",
                r.code(),
                o.local_start
            );
        }
    }
    let all: Vec<_> = d.all_reasons().collect();
    for r in &d.reasons {
        assert_eq!(
            all.iter().filter(|x| **x == r).count(),
            1,
            "the request's reason {} is repeated",
            r.code()
        );
    }
    // The words of the first few (each reason's wording is the same code for every date).
    for r in all.into_iter().take(6) {
        for lang in [Lang::Nb, Lang::En] {
            let s = lokal::i18n::reasons::sentence(lang, r, d.zone);
            assert!(!s.trim().is_empty(), "no words for {}", r.code());
            human(&s, input);
        }
        human(&lokal::i18n::reasons::record(r, d.zone), input);
    }
}

// ---------------------------------------------------------------------------------------
// LDIF.

/// `ldif`: any text through the LDIF reader; what it read, written back as LDIF, reads the
/// same; and the `file:` directory answers from it.
pub fn ldif(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(entries) = lokal::directory::ldif::parse(text) else {
        return;
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut written = String::from("version: 1\n");
    for e in &entries {
        written.push_str(&format!("\ndn:: {}\n", b64.encode(e.dn.as_bytes())));
        for (name, value) in &e.attrs {
            written.push_str(&format!("{name}:: {}\n", b64.encode(value)));
        }
        let _ = lokal::directory::dn::parse(&e.dn);
        let _ = lokal::directory::dn::normalize(&e.dn);
    }
    match lokal::directory::ldif::parse(&written) {
        Ok(again) => assert_eq!(again, entries, "parse(write(x)) != x for {written:?}"),
        Err(e) => panic!("the LDIF written back is refused: {e}\n{written:?}"),
    }
    use lokal::directory::Directory as _;
    let mapping = lokal::directory::mapping::Mapping::openldap("dc=fjordvik,dc=kommune,dc=no");
    if let Ok(dir) = lokal::directory::file::FileDirectory::from_ldif(text, mapping) {
        let _ = ready(dir.rooms());
        for e in entries.iter().take(4) {
            for (name, value) in &e.attrs {
                if name.eq_ignore_ascii_case("uid")
                    && let Ok(login) = std::str::from_utf8(value)
                    && let Some(Ok(Some(person))) = ready(dir.find_person(login))
                {
                    let _ = ready(dir.roles(&person));
                }
            }
        }
    }
}

/// Polls a future that needs no I/O (the in-memory directory) to its end; `None` if it waits.
fn ready<F: Future>(f: F) -> Option<F::Output> {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..64 {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return Some(v);
        }
    }
    None
}

// ---------------------------------------------------------------------------------------
// JSON request bodies and query strings of the API.

/// `json`: any bytes as every JSON body the API reads, and as its query strings; a request
/// that reads is put through the same pure steps the service takes (times, recurrence, the
/// core's decision).
pub fn json(data: &[u8]) {
    use lokal::http::api;
    let value = serde_json::from_slice::<serde_json::Value>(data);
    let booking = serde_json::from_slice::<api::CreateBookingRequest>(data);
    // What reads typed also reads as a Value (a typed read is stricter: it refuses
    // duplicate fields, which a Value keeps the last of).
    if booking.is_ok() {
        assert!(value.is_ok());
    }
    if let Ok(b) = booking {
        let zone = oslo();
        let start = lokal::booking::parse_time(&b.start, zone, "start");
        let end = lokal::booking::parse_time(&b.end, zone, "end");
        for r in [&start, &end] {
            if let Err(e) = r {
                human(&e.to_string(), std::str::from_utf8(data).unwrap_or("{"));
            }
        }
        let recurrence = match b.recurrence.as_deref().map(Recurrence::parse) {
            Some(Err(_)) => return,
            Some(Ok(r)) => Some(r),
            None => None,
        };
        let skip = matches!(b.on_conflict, Some(lokal::booking::OnConflict::Skip));
        if let (Ok(s), Ok(e)) = (start, end) {
            decide_bounded(s, e, b.attendees, recurrence, if skip { 0x04 } else { 0 });
        }
    }
    let _ = serde_json::from_slice::<api::RegisterResident>(data);
    let _ = serde_json::from_slice::<api::CancelRequest>(data);
    let _ = serde_json::from_slice::<api::RejectRequest>(data);
    let _ = serde_json::from_slice::<api::FeedRequest>(data);
    if let Ok(c) = serde_json::from_slice::<api::ClosureRequest>(data) {
        let zone = oslo();
        let _ = lokal::booking::parse_instant(&c.start, zone, "start");
        let _ = lokal::booking::parse_instant(&c.end, zone, "end");
    }
    let _ = serde_urlencoded::from_bytes::<api::RoomFilter>(data);
    let _ = serde_urlencoded::from_bytes::<api::Window>(data);
    let _ = serde_urlencoded::from_bytes::<api::FreeQuery>(data);
    let _ = serde_urlencoded::from_bytes::<api::ListQuery>(data);
}

// ---------------------------------------------------------------------------------------

/// Fails when `s`, a text for people, looks like a Rust `Debug` rendering of a value
/// (`MaxCount { limit: 40 }`, `Some(…)`) that did not come from the input itself.
pub fn human(s: &str, input: &str) {
    if input.contains(['{', '(']) {
        return;
    }
    for (i, _) in s.match_indices(" { ") {
        // `Name { field: …`: an upper-case identifier before, `ident:` after.
        let before = s[..i]
            .rsplit(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .next()
            .unwrap_or("");
        let after = &s[i + 3..];
        let field = after
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .next()
            .unwrap_or("");
        if before.starts_with(|c: char| c.is_ascii_uppercase())
            && !field.is_empty()
            && after[field.len()..].starts_with(':')
        {
            panic!("Debug text for people: {s:?}");
        }
    }
    for marker in ["Some(", "None)", "Ok(", "Err("] {
        assert!(!s.contains(marker), "Debug text for people: {s:?}");
    }
}
