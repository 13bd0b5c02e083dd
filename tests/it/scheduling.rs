//! Booking a room by inviting it (RFC 6638 implicit scheduling): staff write events into their
//! own Lokal calendar, and each room they invite answers through the ordinary booking path.
//! Python `caldav` drives the flows a staff member goes through; raw HTTP checks the
//! preconditions, moves, deletes, retries and bad input. Logins go to a real slapd.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

use crate::support::app::{TempDir, TestApp, test_config};
use crate::support::slapd::{Options, Slapd};

const LARS: (&str, &str) = ("lars.haugen", "lars-demo-2027"); // plain staff
const INGRID: (&str, &str) = ("ingrid.berg", "ingrid-demo-2027"); // kultur: books halls directly
const ERIK: (&str, &str) = ("erik.dahl", "erik-clerk-2027"); // clerk of Kulturhuset
const LARS_MAIL: &str = "mailto:lars.haugen@fjordvik.kommune.no";

/// A Lokal on SQLite whose staff log in against a real slapd loaded with the seed.
async fn app() -> (TestApp, Slapd, TempDir) {
    let slapd = Slapd::start(Options::default());
    let dir = TempDir::new("scheduling");
    let mut config = test_config(&format!("sqlite:{}", dir.0.join("l.db").display()));
    config.directory.url = slapd.url.clone();
    config.directory.bind_password = "lokal-service-secret".into();
    (TestApp::start(config).await, slapd, dir)
}

fn meetings(login: &str) -> String {
    format!("/dav/calendars/users/{login}/meetings/")
}

async fn dav(
    app: &TestApp,
    verb: &str,
    path: &str,
    user: (&str, &str),
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut req = app
        .client
        .request(
            reqwest::Method::from_bytes(verb.as_bytes()).unwrap(),
            format!("{}{path}", app.base),
        )
        .basic_auth(user.0, Some(user.1))
        .body(body.to_owned());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let response = req.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

/// An event from 'start' to 'end' (local Oslo times, `YYYYMMDDTHHMMSS`) inviting `rooms`.
fn event(uid: &str, summary: &str, start: &str, end: &str, rooms: &[&str], extra: &str) -> String {
    let mut attendees = String::new();
    for r in rooms {
        // A room id, or a whole address (`mailto:...`).
        let address = if r.contains(':') {
            (*r).to_owned()
        } else {
            format!("urn:uuid:{r}")
        };
        attendees.push_str(&format!(
            "ATTENDEE;CUTYPE=ROOM;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:{address}\r\n"
        ));
    }
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Lokal tests//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n\
         DTSTAMP:20270104T090000Z\r\nDTSTART;TZID=Europe/Oslo:{start}\r\nDTEND;TZID=Europe/Oslo:{end}\r\n\
         SUMMARY:{summary}\r\nORGANIZER;CN=Lars Haugen:{LARS_MAIL}\r\n\
         ATTENDEE;CN=Lars Haugen;PARTSTAT=ACCEPTED:{LARS_MAIL}\r\n{attendees}{extra}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

/// The PARTSTAT the room attendee has in the master VEVENT of `ics`.
fn room_partstat(ics: &str, room: &str) -> Option<String> {
    let unfolded = ics.replace("\r\n ", "");
    let master = unfolded.split("BEGIN:VEVENT").nth(1)?;
    master
        .lines()
        .find(|l| l.starts_with("ATTENDEE") && l.ends_with(&format!("urn:uuid:{room}")))
        .and_then(|l| {
            l.split(';')
                .find_map(|p| p.strip_prefix("PARTSTAT="))
                .map(|p| p.split(':').next().unwrap_or(p).to_owned())
        })
}

async fn bookings_of(app: &TestApp, who: (&str, &str)) -> Vec<Value> {
    let (status, body) = app.get("/api/v1/bookings?mine=true", Some(who)).await;
    assert_eq!(status, 200, "{body}");
    body["bookings"].as_array().cloned().unwrap_or_default()
}

fn in_room<'a>(bookings: &'a [Value], room: &str) -> Vec<&'a Value> {
    bookings.iter().filter(|b| b["room_id"] == room).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_calendar_is_discoverable_and_writable_and_advertises_scheduling() {
    let (app, _slapd, _dir) = app().await;
    let (status, headers, _) = dav(&app, "OPTIONS", "/dav/", LARS, &[], "").await;
    assert_eq!(status, 200);
    let dav_header = headers["dav"].to_str().unwrap();
    assert!(
        dav_header.contains("calendar-auto-schedule"),
        "{dav_header}"
    );

    let propfind = r#"<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
      <d:prop><c:schedule-inbox-URL/><c:schedule-outbox-URL/><c:calendar-user-address-set/></d:prop></d:propfind>"#;
    let (status, _, body) = dav(
        &app,
        "PROPFIND",
        "/dav/principals/users/lars.haugen/",
        LARS,
        &[("Depth", "0")],
        propfind,
    )
    .await;
    assert_eq!(status, 207, "{body}");
    assert!(
        body.contains("/dav/calendars/users/lars.haugen/inbox/"),
        "{body}"
    );
    assert!(
        body.contains("/dav/calendars/users/lars.haugen/outbox/"),
        "{body}"
    );
    assert!(body.contains(LARS_MAIL), "{body}");

    let home = r#"<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
      <d:prop><d:resourcetype/><d:current-user-privilege-set/><c:supported-calendar-component-set/>
      <c:schedule-calendar-transp/><c:schedule-default-calendar-URL/></d:prop></d:propfind>"#;
    let (status, _, body) = dav(
        &app,
        "PROPFIND",
        "/dav/calendars/users/lars.haugen/",
        LARS,
        &[("Depth", "1")],
        home,
    )
    .await;
    assert_eq!(status, 207, "{body}");
    assert!(
        body.contains("/dav/calendars/users/lars.haugen/meetings/"),
        "{body}"
    );
    assert!(body.contains("schedule-inbox"), "{body}");
    assert!(
        body.contains("<d:write/>") || body.contains(":write/>"),
        "{body}"
    );
    assert!(body.contains("opaque"), "{body}");

    // Someone else's calendar is not theirs to write.
    let room = app.room("Formannskapssalen").await;
    let ics = event(
        "x@t",
        "X",
        "20270105T100000",
        "20270105T110000",
        &[&room],
        "",
    );
    let (status, _, _) = dav(
        &app,
        "PUT",
        &format!("{}x.ics", meetings("ingrid.berg")),
        LARS,
        &[],
        &ics,
    )
    .await;
    assert_eq!(status, 403);
    assert!(bookings_of(&app, LARS).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preconditions_moves_deletes_and_retries_keep_bookings_right() {
    let (app, _slapd, _dir) = app().await;
    let room = app.room("Formannskapssalen").await;
    let href = format!("{}plan.ics", meetings("lars.haugen"));
    let ics = event(
        "plan@t",
        "Plan",
        "20270105T100000",
        "20270105T110000",
        &[&room],
        "",
    );

    // If-None-Match: * creates once; a second create is refused (412).
    let (status, headers, body) =
        dav(&app, "PUT", &href, LARS, &[("If-None-Match", "*")], &ics).await;
    assert_eq!(status, 201, "{body}");
    // The stored copy was answered for: no ETag on the PUT (RFC 4791 §5.3.4).
    assert!(headers.get("etag").is_none());
    let (status, _, _) = dav(&app, "PUT", &href, LARS, &[("If-None-Match", "*")], &ics).await;
    assert_eq!(status, 412);

    let (status, headers, body) = dav(&app, "GET", &href, LARS, &[], "").await;
    assert_eq!(status, 200);
    assert_eq!(
        room_partstat(&body, &room).as_deref(),
        Some("ACCEPTED"),
        "{body}"
    );
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let booked = in_room(&bookings_of(&app, LARS).await, &room)
        .into_iter()
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(booked.len(), 1);
    assert_eq!(booked[0]["status"], "approved");
    assert_eq!(booked[0]["purpose"], "Plan");
    let first = booked[0]["id"].as_str().unwrap().to_owned();

    // A stale If-Match is refused.
    let (status, _, _) = dav(&app, "PUT", &href, LARS, &[("If-Match", "\"s999\"")], &ics).await;
    assert_eq!(status, 412);

    // A retry of the same PUT, and a change of the summary only, keep the one booking.
    let (status, _, _) = dav(&app, "PUT", &href, LARS, &[("If-Match", &etag)], &ics).await;
    assert_eq!(status, 204);
    let renamed = ics.replace("SUMMARY:Plan", "SUMMARY:Plan B");
    let (status, _, _) = dav(&app, "PUT", &href, LARS, &[], &renamed).await;
    assert_eq!(status, 204);
    let all = bookings_of(&app, LARS).await;
    assert_eq!(in_room(&all, &room).len(), 1, "{all:?}");
    assert_eq!(in_room(&all, &room)[0]["status"], "approved");

    // Writing back what was read (with Lokal's answers in it) does not book again either.
    let (_, _, served) = dav(&app, "GET", &href, LARS, &[], "").await;
    let (status, _, _) = dav(&app, "PUT", &href, LARS, &[], &served).await;
    assert_eq!(status, 204);
    assert_eq!(in_room(&bookings_of(&app, LARS).await, &room).len(), 1);

    // A move overlapping the old time moves the booking (issue 16): the same booking, at the
    // new time, decided by the core in one transaction; it does not conflict with itself.
    let moved = renamed.replace("20270105T110000", "20270105T113000");
    let (status, _, _) = dav(&app, "PUT", &href, LARS, &[], &moved).await;
    assert_eq!(status, 204);
    let all = bookings_of(&app, LARS).await;
    let mine = in_room(&all, &room);
    assert_eq!(mine.len(), 1, "{all:?}");
    assert_eq!(mine[0]["id"], first.as_str());
    assert_eq!(mine[0]["status"], "approved");
    assert_eq!(mine[0]["local_end"], "2027-01-05T11:30");

    // A move onto a busy slot: DECLINED with a reason, and the booking keeps its old time.
    let (status, _) = app
        .post(
            "/api/v1/bookings",
            Some(INGRID),
            json!({"room_id": room, "start": "2027-01-06T10:00", "end": "2027-01-06T11:00",
                   "purpose": "Styremøte", "attendees": 4}),
        )
        .await;
    assert_eq!(status, 201);
    let busy = moved
        .replace("20270105T100000", "20270106T100000")
        .replace("20270105T113000", "20270106T110000");
    let (status, _, _) = dav(&app, "PUT", &href, LARS, &[], &busy).await;
    assert_eq!(status, 204);
    let (_, _, body) = dav(&app, "GET", &href, LARS, &[], "").await;
    assert_eq!(
        room_partstat(&body, &room).as_deref(),
        Some("DECLINED"),
        "{body}"
    );
    let unfolded = body.replace("\r\n ", "");
    assert!(unfolded.contains("REQUEST-STATUS:4.0;"), "{body}");
    assert!(unfolded.contains("COMMENT;X-LOKAL=1:"), "{body}");
    assert!(
        unfolded.contains("fortsatt ditt på den gamle tiden")
            || unfolded.contains("still yours at the earlier time"),
        "{body}"
    );
    let all = bookings_of(&app, LARS).await;
    let kept = all.iter().find(|b| b["id"] == first.as_str()).unwrap();
    assert_eq!(kept["status"], "approved");
    assert_eq!(kept["local_end"], "2027-01-05T11:30");
    // Ingrid's meeting is untouched and nothing overlaps.
    let store = lokal::startup::store_of(&app.state);
    assert_eq!(store.overlapping_pairs().await.unwrap(), 0);

    // Back at the time the booking holds: the room accepts again, nothing is booked anew.
    let (status, _, _) = dav(&app, "PUT", &href, LARS, &[], &moved).await;
    assert_eq!(status, 204);
    let (_, _, body) = dav(&app, "GET", &href, LARS, &[], "").await;
    assert_eq!(
        room_partstat(&body, &room).as_deref(),
        Some("ACCEPTED"),
        "{body}"
    );
    assert_eq!(in_room(&bookings_of(&app, LARS).await, &room).len(), 1);

    // Moving to another free time moves it again.
    let (status, _, _) = dav(&app, "PUT", &href, LARS, &[], &ics).await;
    assert_eq!(status, 204);
    let (_, _, body) = dav(&app, "GET", &href, LARS, &[], "").await;
    assert_eq!(
        room_partstat(&body, &room).as_deref(),
        Some("ACCEPTED"),
        "{body}"
    );
    let all = bookings_of(&app, LARS).await;
    assert_eq!(in_room(&all, &room).len(), 1, "{all:?}");
    assert_eq!(in_room(&all, &room)[0]["local_end"], "2027-01-05T11:00");
    // Taking the room out of the meeting frees it (the booking just made is
    // cancelled); inviting it again books it.
    let without_room = ics
        .lines()
        .filter(|l| !l.contains("CUTYPE=ROOM"))
        .map(|l| format!("{l}\n"))
        .collect::<String>();
    let (status, _, _) = dav(&app, "PUT", &href, LARS, &[], &without_room).await;
    assert_eq!(status, 204);
    let all = bookings_of(&app, LARS).await;
    assert!(
        in_room(&all, &room)
            .iter()
            .all(|b| b["status"] == "cancelled"),
        "{all:?}"
    );

    let (status, _, _) = dav(&app, "PUT", &href, LARS, &[], &ics).await;
    assert_eq!(status, 204);
    let (_, headers, body) = dav(&app, "GET", &href, LARS, &[], "").await;
    assert_eq!(
        room_partstat(&body, &room).as_deref(),
        Some("ACCEPTED"),
        "{body}"
    );
    let live = bookings_of(&app, LARS).await;
    assert_eq!(
        in_room(&live, &room)
            .iter()
            .filter(|b| b["status"] == "approved")
            .count(),
        1,
        "{live:?}"
    );
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let (status, _, _) = dav(&app, "DELETE", &href, LARS, &[("If-Match", "\"s1\"")], "").await;
    assert_eq!(status, 412);
    let (status, _, _) = dav(&app, "DELETE", &href, LARS, &[("If-Match", &etag)], "").await;
    assert_eq!(status, 204);
    let (status, _, _) = dav(&app, "GET", &href, LARS, &[], "").await;
    assert_eq!(status, 404);
    let all = bookings_of(&app, LARS).await;
    assert!(
        in_room(&all, &room)
            .iter()
            .all(|b| b["status"] == "cancelled"),
        "{all:?}"
    );
    // Each answer reached the schedule inbox as an iTIP REPLY.
    let (status, _, body) = dav(
        &app,
        "PROPFIND",
        "/dav/calendars/users/lars.haugen/inbox/",
        LARS,
        &[("Depth", "1")],
        "",
    )
    .await;
    assert_eq!(status, 207);
    let replies = body.matches("/inbox/").count() - 1;
    assert!(replies >= 3, "{body}");
}

/// The component of `ics` that is an override with RECURRENCE-ID containing `when`.
fn override_with(ics: &str, when: &str) -> Option<String> {
    let unfolded = ics.replace("\r\n ", "");
    unfolded
        .split("BEGIN:VEVENT")
        .skip(1)
        .find(|c| {
            c.lines()
                .any(|l| l.starts_with("RECURRENCE-ID") && l.contains(when))
        })
        .map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_creating_a_deleted_event_books_anew_and_moved_dates_are_not_accepted() {
    let (app, _slapd, _dir) = app().await;
    let room = app.room("Formannskapssalen").await;
    let base = meetings("lars.haugen");
    let href = format!("{base}again.ics");
    let ics = event(
        "again@t",
        "Igjen",
        "20270105T100000",
        "20270105T110000",
        &[&room],
        "",
    );
    let approved = |all: &[Value]| {
        in_room(all, &room)
            .iter()
            .filter(|b| b["status"] == "approved")
            .map(|b| b["id"].as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };

    let (status, _, body) = dav(&app, "PUT", &href, LARS, &[], &ics).await;
    assert_eq!(status, 201, "{body}");
    let first = approved(&bookings_of(&app, LARS).await);
    assert_eq!(first.len(), 1);
    let (status, _, _) = dav(&app, "DELETE", &href, LARS, &[], "").await;
    assert_eq!(status, 204);
    assert!(approved(&bookings_of(&app, LARS).await).is_empty());

    // The same event again, at the same URL: a new booking, not the cancelled one replayed.
    let (status, _, body) = dav(&app, "PUT", &href, LARS, &[], &ics).await;
    assert_eq!(status, 201, "{body}");
    let (_, _, served) = dav(&app, "GET", &href, LARS, &[], "").await;
    assert_eq!(
        room_partstat(&served, &room).as_deref(),
        Some("ACCEPTED"),
        "{served}"
    );
    let second = approved(&bookings_of(&app, LARS).await);
    assert_eq!(second.len(), 1);
    assert_ne!(second, first);

    // Deleted again and re-created at another URL with the same UID: booked anew too.
    let (status, _, _) = dav(&app, "DELETE", &href, LARS, &[], "").await;
    assert_eq!(status, 204);
    let other = format!("{base}again-2.ics");
    let (status, _, body) = dav(&app, "PUT", &other, LARS, &[], &ics).await;
    assert_eq!(status, 201, "{body}");
    let (_, _, served) = dav(&app, "GET", &other, LARS, &[], "").await;
    assert_eq!(
        room_partstat(&served, &room).as_deref(),
        Some("ACCEPTED"),
        "{served}"
    );
    let third = approved(&bookings_of(&app, LARS).await);
    assert_eq!(third.len(), 1);
    assert!(third != first && third != second, "{third:?}");

    // A series with one date moved by the organiser: the series is booked, the moved date is
    // not, and the copy says so instead of showing the room ACCEPTED there.
    let series_room = app.room("Møterom 2").await;
    let series = event(
        "weekly@t",
        "Ukemøte",
        "20270105T100000",
        "20270105T110000",
        &[&series_room],
        "RRULE:FREQ=WEEKLY;COUNT=3\r\n",
    );
    let moved_override = event(
        "weekly@t",
        "Ukemøte",
        "20270112T140000",
        "20270112T150000",
        &[&series_room],
        "RECURRENCE-ID;TZID=Europe/Oslo:20270112T100000\r\n",
    );
    let renamed_override = event(
        "weekly@t",
        "Ukemøte (agenda)",
        "20270119T100000",
        "20270119T110000",
        &[&series_room],
        "RECURRENCE-ID;TZID=Europe/Oslo:20270119T100000\r\n",
    );
    let component = |ics: &str| {
        let start = ics.find("BEGIN:VEVENT").unwrap_or(0);
        let end = ics.find("END:VCALENDAR").unwrap_or(ics.len());
        ics[start..end].to_owned()
    };
    let with_overrides = series.replace(
        "END:VCALENDAR",
        &format!(
            "{}{}END:VCALENDAR",
            component(&moved_override),
            component(&renamed_override)
        ),
    );
    let series_href = format!("{base}weekly.ics");
    let (status, _, body) = dav(&app, "PUT", &series_href, LARS, &[], &with_overrides).await;
    assert_eq!(status, 201, "{body}");
    let (_, _, served) = dav(&app, "GET", &series_href, LARS, &[], "").await;
    assert_eq!(
        room_partstat(&served, &series_room).as_deref(),
        Some("ACCEPTED"),
        "{served}"
    );
    let moved = override_with(&served, "20270112T100000").expect("moved override served");
    let attendee = moved
        .lines()
        .find(|l| l.starts_with("ATTENDEE") && l.ends_with(&format!("urn:uuid:{series_room}")))
        .unwrap_or_default();
    assert!(attendee.contains("PARTSTAT=NEEDS-ACTION"), "{served}");
    assert!(attendee.contains("SCHEDULE-STATUS=5.3"), "{served}");
    assert!(
        moved.contains("COMMENT;X-LOKAL=1:Møterom 2: ") && moved.contains("bookes ikke"),
        "{served}"
    );
    // An override that keeps its date and time is the booked date: ACCEPTED.
    let kept = override_with(&served, "20270119T100000").expect("kept override served");
    assert!(kept.contains("PARTSTAT=ACCEPTED"), "{served}");
    assert!(!kept.contains("COMMENT;X-LOKAL=1"), "{served}");
    // Writing the served copy back keeps it so (Lokal's notes are stripped, not doubled).
    let (status, _, _) = dav(&app, "PUT", &series_href, LARS, &[], &served).await;
    assert_eq!(status, 204);
    let (_, _, again) = dav(&app, "GET", &series_href, LARS, &[], "").await;
    let moved_again = override_with(&again, "20270112T100000").expect("moved override served");
    assert_eq!(
        moved_again.matches("COMMENT;X-LOKAL=1").count(),
        1,
        "{again}"
    );
    assert_eq!(
        in_room(&bookings_of(&app, LARS).await, &series_room).len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_4xx_and_never_a_5xx() {
    let (app, _slapd, _dir) = app().await;
    let room = app.room("Formannskapssalen").await;
    let base = meetings("lars.haugen");
    let good = event(
        "bad@t",
        "B",
        "20270105T100000",
        "20270105T110000",
        &[&room],
        "",
    );
    let cases: Vec<(&str, String, u16, &str)> = vec![
        (
            "malformed",
            "this is not iCalendar".into(),
            400,
            "valid-calendar-data",
        ),
        (
            "unclosed",
            good.replace("END:VCALENDAR\r\n", ""),
            400,
            "valid-calendar-data",
        ),
        (
            "no-uid",
            good.replace("UID:bad@t\r\n", ""),
            403,
            "valid-calendar-object-resource",
        ),
        (
            "todo",
            good.replace("VEVENT", "VTODO"),
            403,
            "supported-calendar-component",
        ),
        (
            "oversized",
            good.replace("SUMMARY:B", &format!("SUMMARY:{}", "x".repeat(300_000))),
            413,
            "max-resource-size",
        ),
        (
            "not-organiser",
            good.replace(
                &format!("ORGANIZER;CN=Lars Haugen:{LARS_MAIL}"),
                "ORGANIZER:mailto:someone@else.no",
            ),
            403,
            "valid-organizer",
        ),
    ];
    for (name, body, status, precondition) in cases {
        let (got, _, text) = dav(&app, "PUT", &format!("{base}{name}.ics"), LARS, &[], &body).await;
        assert_eq!(got, status, "{name}: {text}");
        assert!(text.contains(precondition), "{name}: {text}");
    }
    // A DURATION whose parts overflow when added (each fits on its own): 4xx, no panic,
    // and the server keeps answering.
    for (name, d) in [
        ("huge-days", "P100000000000D100000000000D"),
        ("huge-hours", "PT2000000000000H2000000000000H"),
    ] {
        let body = good.replace(
            "DTEND;TZID=Europe/Oslo:20270105T110000",
            &format!("DURATION:{d}"),
        );
        let href = format!("{base}{name}.ics");
        let (got, _, text) = dav(&app, "PUT", &href, LARS, &[], &body).await;
        assert!((400..500).contains(&got), "{name}: {got} {text}");
        assert!(text.contains("DURATION"), "{name}: {text}");
        let (got, _, _) = dav(&app, "PROPFIND", &base, LARS, &[("Depth", "0")], "").await;
        assert_eq!(got, 207, "{name}: the server stopped answering");
    }
    // A floating time or an unknown zone cannot book a room: 403 with the reason.
    let floating = good.replace("DTSTART;TZID=Europe/Oslo:", "DTSTART:");
    let unknown = good.replace("TZID=Europe/Oslo", "TZID=Mars/Olympus");
    for (name, body, why) in [
        ("floating", floating, "floating"),
        ("unknown", unknown, "Mars/Olympus"),
    ] {
        let href = format!("{base}{name}.ics");
        let (got, _, text) = dav(&app, "PUT", &href, LARS, &[], &body).await;
        assert_eq!(got, 403, "{name}: {text}");
        assert!(
            text.contains("valid-calendar-object-resource") && text.contains(why),
            "{name}: {text}"
        );
    }
    assert!(bookings_of(&app, LARS).await.is_empty());
    // A "room" that is no room here, and a person: kept, with a schedule status each.
    let odd = good
        .replace("UID:bad@t", "UID:bad3@t")
        .replace(
            "END:VEVENT",
            "ATTENDEE;CUTYPE=ROOM:mailto:broom-cupboard@example.no\r\nATTENDEE;CUTYPE=INDIVIDUAL:mailto:kari@example.no\r\nEND:VEVENT",
        );
    let href = format!("{base}odd.ics");
    let (got, _, text) = dav(&app, "PUT", &href, LARS, &[], &odd).await;
    assert_eq!(got, 201, "{text}");
    let (_, _, served) = dav(&app, "GET", &href, LARS, &[], "").await;
    let served = served.replace("\r\n ", "");
    assert!(
        served.contains("SCHEDULE-STATUS=3.7:mailto:broom-cupboard@example.no"),
        "{served}"
    );
    assert!(
        served.contains("SCHEDULE-STATUS=5.3:mailto:kari@example.no"),
        "{served}"
    );
    assert_eq!(
        room_partstat(&served, &room).as_deref(),
        Some("ACCEPTED"),
        "{served}"
    );
    // The same UID at another URL.
    let (got, _, text) = dav(&app, "PUT", &format!("{base}odd2.ics"), LARS, &[], &odd).await;
    assert_eq!(got, 403, "{text}");
    assert!(text.contains("no-uid-conflict"), "{text}");
    // Room calendars stay read-only.
    let (got, _, _) = dav(
        &app,
        "PUT",
        &format!("/dav/calendars/rooms/{room}/calendar/x.ics"),
        LARS,
        &[],
        &good,
    )
    .await;
    assert_eq!(got, 403);
}

/// The venv's python, with python caldav.
fn python() -> PathBuf {
    crate::support::python::venv(&["caldav==3.6.0"])
}

/// What the flows script does: `save` writes the events; `read` reads them back; both print
/// one JSON line with each event's room PARTSTATs and ETag, and the calendar's changes.
const FLOWS: &str = r#"
import json, sys
import caldav

base, user, password, mode, token = sys.argv[1:6]
client = caldav.DAVClient(url=base + "/dav/", username=user, password=password, timeout=60)
principal = client.principal()
cal = [c for c in principal.calendars() if str(c.url).endswith("/meetings/")][0]
inbox = principal.schedule_inbox()

def attendees(component):
    out = {}
    for a in component.get("ATTENDEE", []) if isinstance(component.get("ATTENDEE"), list) else [component.get("ATTENDEE")]:
        if a is None:
            continue
        out[str(a)] = str(a.params.get("PARTSTAT", ""))
    return out

def describe(obj):
    obj.load()
    out = {"etag": None, "master": {}, "overrides": {}, "request_status": [], "comment": []}
    for e in obj.icalendar_instance.walk("VEVENT"):
        rid = e.get("RECURRENCE-ID")
        if rid is None:
            out["master"] = attendees(e)
            rs = e.get("REQUEST-STATUS")
            out["request_status"] = [str(x) for x in (rs if isinstance(rs, list) else [rs])] if rs else []
            cm = e.get("COMMENT")
            out["comment"] = [str(x) for x in (cm if isinstance(cm, list) else [cm])] if cm else []
        else:
            out["overrides"][rid.dt.astimezone().strftime("%Y-%m-%d")] = attendees(e)
    return out

result = {}
if mode == "save":
    for name in sys.argv[6:]:
        with open(name) as f:
            cal.add_event(f.read())
    result["token"] = cal.objects_by_sync_token(load_objects=False).sync_token
from caldav.elements import dav
for obj in cal.events():
    d = describe(obj)
    uid = str(obj.icalendar_component.get("UID"))
    d["etag"] = str(obj.get_property(dav.GetEtag()))
    result[uid] = d
if mode == "read" and token:
    changed = cal.objects_by_sync_token(sync_token=token, load_objects=False)
    result["changed"] = sorted(str(o.url).rsplit("/", 1)[-1] for o in changed)
try:
    result["inbox"] = len(list(inbox.get_items()))
except Exception as e:
    print("inbox get_items: %r" % e, file=sys.stderr)
    result["inbox"] = len(inbox.children())
print(json.dumps(result), flush=True)
"#;

fn run_flows(app: &TestApp, mode: &str, token: &str, files: &[PathBuf]) -> Value {
    let dir = TempDir::new("scheduling-py");
    let script = dir.0.join("flows.py");
    std::fs::write(&script, FLOWS).unwrap();
    let out = Command::new(python())
        .arg(&script)
        .args([app.base.as_str(), LARS.0, LARS.1, mode, token])
        .args(files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the caldav script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

/// The Done-when flows of issue 7, driven by python caldav: a free auto-approve room
/// ACCEPTS, a busy one DECLINES with a reason, a room that needs a clerk is TENTATIVE until the
/// clerk approves through the API (then ACCEPTED, with a new ETag that sync-collection
/// reports), and a weekly series with one busy date has only that date declined.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_caldav_invites_rooms_and_sees_their_answers() {
    let (app, _slapd, _dir) = app().await;
    let free = app.room("Formannskapssalen").await;
    // Invited by its directory address, as apps do (the others by urn:uuid).
    let free_mail = "mailto:formannskapssalen@rom.fjordvik.kommune.no";
    let busy = app.room("Møterom 1").await;
    let hall = app.room("Storsalen").await;
    let series_room = app.room("Møterom 2").await;
    for (room, start, end) in [
        (&busy, "2027-01-05T10:00", "2027-01-05T11:00"),
        (&series_room, "2027-01-12T10:00", "2027-01-12T11:00"),
    ] {
        let (status, body) = app
            .post(
                "/api/v1/bookings",
                Some(INGRID),
                json!({"room_id": room, "start": start, "end": end, "purpose": "Opptatt", "attendees": 3}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let dir = TempDir::new("scheduling-ics");
    let files: Vec<PathBuf> = [
        (
            "free",
            event(
                "free@t",
                "Fritt",
                "20270105T100000",
                "20270105T110000",
                &[free_mail],
                "",
            ),
        ),
        (
            "busy",
            event(
                "busy@t",
                "Opptatt",
                "20270105T100000",
                "20270105T110000",
                &[&busy],
                "",
            ),
        ),
        (
            "hall",
            event(
                "hall@t",
                "Konsert",
                "20270112T180000",
                "20270112T200000",
                &[&hall],
                "",
            ),
        ),
        (
            "series",
            event(
                "series@t",
                "Ukemøte",
                "20270105T100000",
                "20270105T110000",
                &[&series_room],
                "RRULE:FREQ=WEEKLY;COUNT=4\r\n",
            ),
        ),
    ]
    .into_iter()
    .map(|(name, ics)| {
        let path = dir.0.join(format!("{name}.ics"));
        std::fs::write(&path, ics).unwrap();
        path
    })
    .collect();

    let saved = run_flows(&app, "save", "", &files);
    let urn = |r: &str| format!("urn:uuid:{r}");
    assert_eq!(saved["free@t"]["master"][free_mail], "ACCEPTED", "{saved}");
    assert_eq!(in_room(&bookings_of(&app, LARS).await, &free).len(), 1);
    assert_eq!(saved["busy@t"]["master"][urn(&busy)], "DECLINED", "{saved}");
    let reason = saved["busy@t"]["request_status"].to_string();
    assert!(reason.contains("4.0"), "{saved}");
    assert!(
        !saved["busy@t"]["comment"].as_array().unwrap().is_empty(),
        "{saved}"
    );
    assert_eq!(
        saved["hall@t"]["master"][urn(&hall)],
        "TENTATIVE",
        "{saved}"
    );
    assert_eq!(
        saved["series@t"]["master"][urn(&series_room)],
        "ACCEPTED",
        "{saved}"
    );
    let overrides = saved["series@t"]["overrides"].as_object().unwrap();
    assert_eq!(overrides.len(), 1, "{saved}");
    assert_eq!(
        overrides["2027-01-12"][urn(&series_room)],
        "DECLINED",
        "{saved}"
    );
    assert!(saved["inbox"].as_u64().unwrap() >= 4, "{saved}");

    // The series is one booking with the busy date skipped, the others approved.
    let all = bookings_of(&app, LARS).await;
    let series = in_room(&all, &series_room);
    assert_eq!(series.len(), 1, "{all:?}");
    let statuses: Vec<&str> = series[0]["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["approved", "skipped", "approved", "approved"]);

    // The clerk approves the hall request through the API.
    let pending = in_room(&all, &hall);
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["status"], "pending");
    let id = pending[0]["id"].as_str().unwrap();
    let (status, body) = app
        .post(
            &format!("/api/v1/bookings/{id}/approve"),
            Some(ERIK),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let token = saved["token"].as_str().unwrap();
    let read = run_flows(&app, "read", token, &[]);
    assert_eq!(read["hall@t"]["master"][urn(&hall)], "ACCEPTED", "{read}");
    assert_ne!(read["hall@t"]["etag"], saved["hall@t"]["etag"], "{read}");
    let changed = read["changed"].to_string();
    assert!(changed.contains("hall"), "{read}");
    assert!(!changed.contains("free"), "only what changed: {read}");
}

/// On PostgreSQL too: a hall request made by invitation is TENTATIVE, and when the clerk
/// approves, the organiser's copy reads ACCEPTED with a new ETag that sync-collection reports
/// (the trigger of migration 0008 in PL/pgSQL).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clerks_decision_reaches_the_organisers_copy_on_postgres() {
    let pg = crate::support::postgres::Postgres::start();
    let app = TestApp::start(test_config(&pg.url)).await;
    let hall = app.room("Storsalen").await;
    let href = format!("{}konsert.ics", meetings("lars.haugen"));
    let ics = event(
        "konsert@t",
        "Konsert",
        "20270112T180000",
        "20270112T200000",
        &[&hall],
        "",
    );
    let (status, _, body) = dav(&app, "PUT", &href, LARS, &[], &ics).await;
    assert_eq!(status, 201, "{body}");
    let (_, headers, body) = dav(&app, "GET", &href, LARS, &[], "").await;
    assert_eq!(
        room_partstat(&body, &hall).as_deref(),
        Some("TENTATIVE"),
        "{body}"
    );
    let before = headers["etag"].to_str().unwrap().to_owned();

    let sync = |token: &str| {
        format!(
            r#"<?xml version="1.0"?><d:sync-collection xmlns:d="DAV:"><d:sync-token>{token}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#
        )
    };
    let (status, _, listing) = dav(
        &app,
        "REPORT",
        &meetings("lars.haugen"),
        LARS,
        &[],
        &sync(""),
    )
    .await;
    assert_eq!(status, 207, "{listing}");
    let token = listing
        .split("<d:sync-token>")
        .nth(1)
        .and_then(|t| t.split("</d:sync-token>").next())
        .unwrap()
        .to_owned();

    let all = bookings_of(&app, LARS).await;
    let id = in_room(&all, &hall)[0]["id"].as_str().unwrap().to_owned();
    let (status, body) = app
        .post(
            &format!("/api/v1/bookings/{id}/approve"),
            Some(ERIK),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let (_, headers, body) = dav(&app, "GET", &href, LARS, &[], "").await;
    assert_eq!(
        room_partstat(&body, &hall).as_deref(),
        Some("ACCEPTED"),
        "{body}"
    );
    assert_ne!(headers["etag"].to_str().unwrap(), before);
    let (status, _, changes) = dav(
        &app,
        "REPORT",
        &meetings("lars.haugen"),
        LARS,
        &[],
        &sync(&token),
    )
    .await;
    assert_eq!(status, 207, "{changes}");
    assert!(changes.contains("konsert.ics"), "{changes}");

    // Deleting the event cancels the booking; the deletion syncs as a 404.
    let (status, _, _) = dav(&app, "DELETE", &href, LARS, &[], "").await;
    assert_eq!(status, 204);
    let all = bookings_of(&app, LARS).await;
    assert_eq!(in_room(&all, &hall)[0]["status"], "cancelled");
    let (_, _, changes) = dav(
        &app,
        "REPORT",
        &meetings("lars.haugen"),
        LARS,
        &[],
        &sync(&token),
    )
    .await;
    assert!(changes.contains("404"), "{changes}");
}

/// Free-busy for rooms through the schedule outbox, over HTTP (RFC 6638 §5): what an app asks
/// before it invites a room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn free_busy_through_the_outbox_answers_for_rooms() {
    let (app, _slapd, _dir) = app().await;
    let room = app.room("Formannskapssalen").await;
    let ics = event(
        "fb@t",
        "Opptatt",
        "20270105T100000",
        "20270105T110000",
        &[&room],
        "",
    );
    let (status, _, _) = dav(
        &app,
        "PUT",
        &format!("{}fb.ics", meetings("lars.haugen")),
        LARS,
        &[],
        &ics,
    )
    .await;
    assert_eq!(status, 201);
    let request = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nMETHOD:REQUEST\r\nBEGIN:VFREEBUSY\r\n\
         UID:fb-q@t\r\nDTSTAMP:20270104T090000Z\r\nDTSTART:20270105T000000Z\r\nDTEND:20270106T000000Z\r\n\
         ORGANIZER:{LARS_MAIL}\r\nATTENDEE:mailto:formannskapssalen@rom.fjordvik.kommune.no\r\n\
         END:VFREEBUSY\r\nEND:VCALENDAR\r\n"
    );
    let outbox = "/dav/calendars/users/lars.haugen/outbox/";
    let (status, _, body) = dav(
        &app,
        "POST",
        outbox,
        LARS,
        &[("Content-Type", "text/calendar")],
        &request,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("FREEBUSY"), "{body}");
    assert!(
        body.contains("20270105T090000Z"),
        "the booking made by invitation is busy: {body}"
    );
    // Another staff member's outbox is not theirs.
    let (status, _, _) = dav(
        &app,
        "POST",
        "/dav/calendars/users/ingrid.berg/outbox/",
        LARS,
        &[("Content-Type", "text/calendar")],
        &request,
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_date_cancelled_later_shows_in_the_organisers_copy_as_declined_with_why() {
    let (app, _slapd, _dir) = app().await;
    let room = app.room("Møterom 2").await;
    let href = format!("{}weekly-later.ics", meetings("lars.haugen"));
    let series = event(
        "weekly-later@t",
        "Ukemøte",
        "20270105T100000",
        "20270105T110000",
        &[&room],
        "RRULE:FREQ=WEEKLY;COUNT=4\r\n",
    );
    let (status, _, body) = dav(&app, "PUT", &href, LARS, &[], &series).await;
    assert_eq!(status, 201, "{body}");
    let booked = in_room(&bookings_of(&app, LARS).await, &room)
        .into_iter()
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(booked.len(), 1);
    let id = booked[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(booked[0]["status"], "approved");

    // The third Tuesday is cancelled on its own (in the API; a clerk or a closure would do the
    // same): the organiser's copy keeps the series ACCEPTED and declines that date, with why.
    let (status, after) = app
        .post(
            &format!("/api/v1/bookings/{id}/occurrences/2/cancel"),
            Some(LARS),
            json!({"reason": "Kommunestyremøte i rommet"}),
        )
        .await;
    assert_eq!(status, 200, "{after}");
    let (_, _, served) = dav(&app, "GET", &href, LARS, &[], "").await;
    assert_eq!(
        room_partstat(&served, &room).as_deref(),
        Some("ACCEPTED"),
        "{served}"
    );
    let date = override_with(&served, "20270119T100000").unwrap_or_else(|| panic!("{served}"));
    assert!(
        date.lines().any(|l| l.starts_with("ATTENDEE")
            && l.contains("PARTSTAT=DECLINED")
            && l.contains(&room)),
        "{date}"
    );
    assert!(date.contains("Kommunestyremøte i rommet"), "{date}");
    assert!(
        override_with(&served, "20270112T100000").is_none(),
        "{served}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organiser_moving_a_hall_meeting_never_loses_the_hall() {
    let (app, _slapd, _dir) = app().await;
    let room = app.room("Lillesalen").await;
    let href = format!("{}hall.ics", meetings("lars.haugen"));
    let ics = event(
        "hall@t",
        "Seminar",
        "20270112T180000",
        "20270112T200000",
        &[&room],
        "",
    );
    let (status, _, body) = dav(&app, "PUT", &href, LARS, &[], &ics).await;
    assert_eq!(status, 201, "{body}");
    let id = in_room(&bookings_of(&app, LARS).await, &room)[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = app
        .post(
            &format!("/api/v1/bookings/{id}/approve"),
            Some(ERIK),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // Half an hour later: the hall needs a clerk for the new time, and the new time overlaps
    // the old, so it cannot be held beside it: declined, and the hall stays Lars's at 18:00.
    let later = ics
        .replace("20270112T180000", "20270112T183000")
        .replace("20270112T200000", "20270112T203000");
    let (status, _, _) = dav(&app, "PUT", &href, LARS, &[], &later).await;
    assert_eq!(status, 204);
    let (_, _, body) = dav(&app, "GET", &href, LARS, &[], "").await;
    assert_eq!(
        room_partstat(&body, &room).as_deref(),
        Some("DECLINED"),
        "{body}"
    );
    let all = bookings_of(&app, LARS).await;
    let mine = in_room(&all, &room);
    assert_eq!(mine.len(), 1, "{all:?}");
    assert_eq!(mine[0]["status"], "approved");
    assert_eq!(mine[0]["local_start"], "2027-01-12T18:00");

    // Another evening: it waits for the clerk (TENTATIVE) beside the old one.
    let thursday = ics
        .replace("20270112T180000", "20270114T180000")
        .replace("20270112T200000", "20270114T200000");
    let (status, _, _) = dav(&app, "PUT", &href, LARS, &[], &thursday).await;
    assert_eq!(status, 204);
    let (_, _, body) = dav(&app, "GET", &href, LARS, &[], "").await;
    assert_eq!(
        room_partstat(&body, &room).as_deref(),
        Some("TENTATIVE"),
        "{body}"
    );
    let (_, booking) = app.get(&format!("/api/v1/bookings/{id}"), Some(LARS)).await;
    assert_eq!(booking["summary"], "1 approved, 1 pending", "{booking}");

    // Back to Tuesday while the change waits: the change is given up, the room accepts.
    let (status, _, _) = dav(&app, "PUT", &href, LARS, &[], &ics).await;
    assert_eq!(status, 204);
    let (_, _, body) = dav(&app, "GET", &href, LARS, &[], "").await;
    assert_eq!(
        room_partstat(&body, &room).as_deref(),
        Some("ACCEPTED"),
        "{body}"
    );
    let (_, booking) = app.get(&format!("/api/v1/bookings/{id}"), Some(LARS)).await;
    assert_eq!(booking["summary"], "1 approved, 1 cancelled", "{booking}");
    // Thursday again, waiting again.
    let (status, _, _) = dav(&app, "PUT", &href, LARS, &[], &thursday).await;
    assert_eq!(status, 204);
    let (_, _, body) = dav(&app, "GET", &href, LARS, &[], "").await;
    assert_eq!(
        room_partstat(&body, &room).as_deref(),
        Some("TENTATIVE"),
        "{body}"
    );

    // Erik says no: the copy declines the new time, and the hall is still Lars's on Tuesday.
    let (status, body) = app
        .post(
            &format!("/api/v1/bookings/{id}/occurrences/2/reject"),
            Some(ERIK),
            json!({"reason": "Torsdagen er opptatt av kulturskolen"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, _, body) = dav(&app, "GET", &href, LARS, &[], "").await;
    assert_eq!(
        room_partstat(&body, &room).as_deref(),
        Some("DECLINED"),
        "{body}"
    );
    let unfolded = body.replace("\r\n ", "");
    assert!(unfolded.contains("kulturskolen"), "{body}");
    let (_, booking) = app.get(&format!("/api/v1/bookings/{id}"), Some(LARS)).await;
    assert_eq!(booking["status"], "approved", "{booking}");
    assert_eq!(booking["occurrences"][0]["status"], "approved", "{booking}");

    // Back at Tuesday: accepted again.
    let (status, _, _) = dav(&app, "PUT", &href, LARS, &[], &ics).await;
    assert_eq!(status, 204);
    let (_, _, body) = dav(&app, "GET", &href, LARS, &[], "").await;
    assert_eq!(
        room_partstat(&body, &room).as_deref(),
        Some("ACCEPTED"),
        "{body}"
    );
}
