//! Hostile and odd invitations: every truncation of a good invitation, and a list of edge
//! cases (runaway recurrences, impossible times, absurd sizes, nesting, bytes that are not
//! text), PUT into a staff calendar and POSTed to the schedule outbox. Whatever Lokal makes of
//! them, it answers with a status below 500, keeps serving, and books nothing from a body
//! that is not a whole iCalendar object. tests/it/scheduling.rs has the exact answers for the
//! named preconditions; this is the net under them.

use serde_json::Value;

use crate::support::app::TestApp;

const LARS: (&str, &str) = ("lars.haugen", "lars-demo-2027");
const LARS_MAIL: &str = "mailto:lars.haugen@fjordvik.kommune.no";

fn invitation(room: &str, extra: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Lokal tests//EN\r\nBEGIN:VEVENT\r\n\
         UID:odd@t\r\nDTSTAMP:20270104T090000Z\r\nDTSTART;TZID=Europe/Oslo:20270105T100000\r\n\
         DTEND;TZID=Europe/Oslo:20270105T110000\r\nSUMMARY:Møte\r\nORGANIZER:{LARS_MAIL}\r\n\
         ATTENDEE;PARTSTAT=ACCEPTED:{LARS_MAIL}\r\n\
         ATTENDEE;CUTYPE=ROOM;PARTSTAT=NEEDS-ACTION:mailto:{room}\r\n{extra}\
         END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

async fn send(app: &TestApp, method: &str, path: &str, body: Vec<u8>) -> (u16, String) {
    let response = app
        .client
        .request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{}{path}", app.base),
        )
        .basic_auth(LARS.0, Some(LARS.1))
        .header("Content-Type", "text/calendar; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: no answer ({e}): did the server panic?"));
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

async fn bookings(app: &TestApp) -> Vec<Value> {
    let (status, body) = app.get("/api/v1/bookings?mine=true", Some(LARS)).await;
    assert_eq!(status, 200, "{body}");
    body["bookings"].as_array().cloned().unwrap_or_default()
}

const OBJECT: &str = "/dav/calendars/users/lars.haugen/meetings/odd.ics";
const OUTBOX: &str = "/dav/calendars/users/lars.haugen/outbox/";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_invitation_is_refused_and_books_nothing() {
    let app = TestApp::sqlite().await;
    let good = invitation("formannskapssalen@rom.fjordvik.kommune.no", "");
    // Every cut that leaves out END:VCALENDAR, on char boundaries, about 40 of them.
    let end = good.rfind("END:VCALENDAR").unwrap();
    let step = (end / 40).max(1);
    let mut cuts: Vec<usize> = (0..end).step_by(step).collect();
    cuts.push(end);
    for cut in cuts {
        let Some(part) = good.get(..cut) else {
            continue;
        };
        let (status, text) = send(&app, "PUT", OBJECT, part.as_bytes().to_vec()).await;
        assert!(
            (400..500).contains(&status),
            "cut at {cut}: {status} {text}"
        );
        let (status, text) = send(&app, "POST", OUTBOX, part.as_bytes().to_vec()).await;
        assert!(
            (400..500).contains(&status),
            "outbox, cut at {cut}: {status} {text}"
        );
    }
    assert_eq!(bookings(&app).await, Vec::<Value>::new());
    // The whole invitation still books: the refusals left nothing behind.
    let (status, text) = send(&app, "PUT", OBJECT, good.into_bytes()).await;
    assert_eq!(status, 201, "{text}");
    assert_eq!(bookings(&app).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_invitations_never_get_a_5xx() {
    let app = TestApp::sqlite().await;
    let room = "formannskapssalen@rom.fjordvik.kommune.no";
    let good = invitation(room, "");
    let swap = |from: &str, to: &str| {
        assert!(good.contains(from), "{from}");
        good.replace(from, to)
    };
    let many_rooms: String = (0..300)
        .map(|i| format!("ATTENDEE;CUTYPE=ROOM:mailto:room{i}@rom.fjordvik.kommune.no\r\n"))
        .collect();
    let same_room: String = (0..50)
        .map(|_| format!("ATTENDEE;CUTYPE=ROOM:mailto:{room}\r\n"))
        .collect();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("not utf-8", vec![0xff, 0xfe, 0xfd, b'\r', b'\n']),
        (
            "nul bytes",
            good.replace("SUMMARY:Møte", "SUMMARY:M\0te").into_bytes(),
        ),
        (
            "secondly forever",
            invitation(room, "RRULE:FREQ=SECONDLY\r\n").into_bytes(),
        ),
        (
            "minutely a million",
            invitation(room, "RRULE:FREQ=MINUTELY;COUNT=1000000\r\n").into_bytes(),
        ),
        (
            "daily forever",
            invitation(room, "RRULE:FREQ=DAILY\r\n").into_bytes(),
        ),
        (
            "garbage rule",
            invitation(room, "RRULE:FREQ=;;;BYDAY=XX\r\n").into_bytes(),
        ),
        (
            "until before start",
            invitation(room, "RRULE:FREQ=WEEKLY;UNTIL=19990101T000000Z\r\n").into_bytes(),
        ),
        (
            "garbage exdate",
            invitation(room, "EXDATE:yesterday\r\n").into_bytes(),
        ),
        (
            "end before start",
            swap(
                "DTEND;TZID=Europe/Oslo:20270105T110000",
                "DTEND;TZID=Europe/Oslo:20270105T090000",
            )
            .into_bytes(),
        ),
        (
            "negative duration",
            swap("DTEND;TZID=Europe/Oslo:20270105T110000", "DURATION:-PT1H").into_bytes(),
        ),
        (
            "huge duration",
            swap("DTEND;TZID=Europe/Oslo:20270105T110000", "DURATION:P99999W").into_bytes(),
        ),
        (
            "spring-forward gap",
            swap("20270105T100000", "20270328T023000")
                .replace("20270105T110000", "20270328T033000")
                .into_bytes(),
        ),
        (
            "year 9999",
            swap("20270105T100000", "99991231T230000")
                .replace("20270105T110000", "99991231T233000")
                .into_bytes(),
        ),
        (
            "year 0",
            swap("20270105T100000", "00000101T100000")
                .replace("20270105T110000", "00000101T110000")
                .into_bytes(),
        ),
        (
            "all-day",
            swap(
                "DTSTART;TZID=Europe/Oslo:20270105T100000",
                "DTSTART;VALUE=DATE:20270105",
            )
            .replace(
                "DTEND;TZID=Europe/Oslo:20270105T110000",
                "DTEND;VALUE=DATE:20270106",
            )
            .into_bytes(),
        ),
        (
            "zone path",
            swap(
                "TZID=Europe/Oslo:20270105T100000",
                "TZID=../../etc/passwd:20270105T100000",
            )
            .into_bytes(),
        ),
        (
            "long uid",
            swap("UID:odd@t", &format!("UID:{}", "u".repeat(20_000))).into_bytes(),
        ),
        ("300 rooms", invitation(room, &many_rooms).into_bytes()),
        (
            "one room 50 times",
            invitation(room, &same_room).into_bytes(),
        ),
        (
            "empty attendee",
            invitation(room, "ATTENDEE;CUTYPE=ROOM:\r\n").into_bytes(),
        ),
        (
            "bare mailto",
            invitation(room, "ATTENDEE;CUTYPE=ROOM:mailto:\r\n").into_bytes(),
        ),
        (
            "nested event",
            invitation(room, "BEGIN:VEVENT\r\nUID:inner@t\r\nEND:VEVENT\r\n").into_bytes(),
        ),
        (
            "stray recurrence-id",
            invitation(room, "RECURRENCE-ID:20270105T090000Z\r\n").into_bytes(),
        ),
        (
            "deep nesting",
            good.replace(
                "BEGIN:VEVENT",
                &format!("{}BEGIN:VEVENT", "BEGIN:X-A\r\n".repeat(2_000)),
            )
            .replace(
                "END:VCALENDAR",
                &format!("{}END:VCALENDAR", "END:X-A\r\n".repeat(2_000)),
            )
            .into_bytes(),
        ),
        (
            "one long folded line",
            swap(
                "SUMMARY:Møte",
                &format!("SUMMARY:{}", "ø\r\n ".repeat(50_000)),
            )
            .into_bytes(),
        ),
    ];
    for (name, body) in cases {
        let (status, text) = send(&app, "PUT", OBJECT, body.clone()).await;
        assert!(status < 500, "PUT {name}: {status} {text}");
        let (status, text) = send(&app, "POST", OUTBOX, body).await;
        assert!(status < 500, "POST {name}: {status} {text}");
        // Start every case from an empty object (a refusal left none; a booking is cancelled).
        let response = app
            .client
            .delete(format!("{}{OBJECT}", app.base))
            .basic_auth(LARS.0, Some(LARS.1))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().as_u16() < 500,
            "DELETE after {name}: {}",
            response.status()
        );
    }
    // Still serving, and nothing left blocking the room.
    let (status, _) = app.get("/readyz", None).await;
    assert_eq!(status, 200);
    let blocking: Vec<Value> = bookings(&app)
        .await
        .into_iter()
        .filter(|b| b["status"] == "approved" || b["status"] == "pending")
        .collect();
    assert_eq!(blocking, Vec::<Value>::new());
}
