//! What people read is words: a refusal's reasons, once per date, and never a Rust `Debug`
//! rendering (issue 15: a CalDAV decline COMMENT read `(40\, MaxCount { limit: 40 })`, and
//! `room-closed` came twice for one date, four times for a three-date series).

use serde_json::{Value, json};

use crate::support::app::{TestApp, test_config};
use crate::support::postgres::Postgres;

const LARS: (&str, &str) = ("lars.haugen", "lars-demo-2027"); // plain staff
const LARS_MAIL: &str = "mailto:lars.haugen@fjordvik.kommune.no";

/// Fails on text that looks like a Rust `Debug` rendering of a value.
fn assert_words(text: &str, what: &str) {
    for debug in [
        "MaxCount",
        "Horizon {",
        "limit:",
        "window_end",
        " { ",
        "Some(",
        "None",
    ] {
        assert!(!text.contains(debug), "{what}: {debug:?} in {text:?}");
    }
}

fn booking(room: &str, start: &str, end: &str) -> Value {
    json!({"room_id": room, "start": start, "end": end, "purpose": "Øving", "attendees": 12})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_dates_is_said_in_words_by_the_api() {
    let app = TestApp::sqlite().await;
    let kari = app.resident("kari@example.no").await;
    let room = app.room("Klubbrommet").await;
    let mut body = booking(&room, "2027-01-06T18:00", "2027-01-06T20:00");
    body["recurrence"] = json!("FREQ=DAILY");
    let (status, problem) = app
        .post(
            "/api/v1/bookings",
            Some((kari.0.as_str(), kari.1.as_str())),
            body,
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["code"], "too-many-occurrences");
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("the series"), "{detail}");
    assert!(detail.contains("COUNT or UNTIL"), "{detail}");
    assert_words(detail, "the API's detail");
}

/// A closed room's refusal names `room-closed` once, for one date and for a series.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_room_is_given_as_the_reason_once_per_request_on_sqlite_and_postgres() {
    let pg = Postgres::start();
    for app in [
        TestApp::sqlite().await,
        TestApp::start(test_config(&pg.url)).await,
    ] {
        let kari = app.resident("kari@example.no").await;
        let kari = Some((kari.0.as_str(), kari.1.as_str()));
        let galleriet = app.room("Galleriet").await; // lokalPolicy: under-renovation (closed)
        let one = booking(&galleriet, "2027-01-06T18:00", "2027-01-06T20:00");
        let mut series = one.clone();
        series["recurrence"] = json!("FREQ=WEEKLY;COUNT=3");
        for (what, body) in [("one date", one), ("three dates", series)] {
            let (status, problem) = app.post("/api/v1/bookings", kari, body).await;
            assert!((400..500).contains(&status), "{what}: {status} {problem}");
            assert_eq!(problem["code"], "room-closed", "{what}: {problem}");
            let reasons = problem["reasons"].as_array().cloned().unwrap_or_default();
            let closed = reasons
                .iter()
                .filter(|r| r["code"] == "room-closed")
                .count();
            assert_eq!(closed, 1, "{what}: {problem}");
            for r in &reasons {
                assert_words(r["message"].as_str().unwrap_or_default(), what);
            }
        }
    }
}

/// Item 8 of issue 15: a room invited by a series longer than its policy allows declines
/// with a COMMENT in words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_declining_a_series_too_long_says_why_in_words_in_the_caldav_comment() {
    let app = TestApp::sqlite().await; // staff log in against the seed directory (file:)
    let room = app.room("Formannskapssalen").await;
    let href = format!(
        "{}/dav/calendars/users/lars.haugen/meetings/daily.ics",
        app.base
    );
    let ics = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Lokal tests//EN\r\nBEGIN:VEVENT\r\n\
         UID:daily@t\r\nDTSTAMP:20270104T090000Z\r\nDTSTART;TZID=Europe/Oslo:20270105T100000\r\n\
         DTEND;TZID=Europe/Oslo:20270105T110000\r\nRRULE:FREQ=DAILY\r\nSUMMARY:Daglig\r\n\
         ORGANIZER;CN=Lars Haugen:{LARS_MAIL}\r\nATTENDEE;CN=Lars Haugen;PARTSTAT=ACCEPTED:{LARS_MAIL}\r\n\
         ATTENDEE;CUTYPE=ROOM;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:urn:uuid:{room}\r\n\
         END:VEVENT\r\nEND:VCALENDAR\r\n"
    );
    let put = app
        .client
        .put(&href)
        .basic_auth(LARS.0, Some(LARS.1))
        .header("content-type", "text/calendar")
        .body(ics)
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "{}", put.status());
    let served = app
        .client
        .get(&href)
        .basic_auth(LARS.0, Some(LARS.1))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let unfolded = served.replace("\r\n ", "");
    let comment = unfolded
        .lines()
        .find(|l| l.starts_with("COMMENT;X-LOKAL=1:"))
        .unwrap_or_else(|| panic!("no COMMENT in {served}"));
    assert!(
        comment.contains("Gjentakelsen har for mange datoer")
            || comment.contains("The repetition has too many dates"),
        "{comment}"
    );
    assert_words(comment, "the COMMENT");
    let status = unfolded
        .lines()
        .find(|l| l.starts_with("REQUEST-STATUS:"))
        .unwrap_or_else(|| panic!("no REQUEST-STATUS in {served}"));
    assert_words(status, "the REQUEST-STATUS");
}
