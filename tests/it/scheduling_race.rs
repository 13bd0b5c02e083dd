//! The same guarantee for invitations as for the API: REST bookings (staff and residents) and
//! invitations (staff PUTting events that invite the room into their own calendars) race for
//! one free slot of an auto-approve room, all released at once; exactly one blocking booking
//! remains, every other API call gets 409, and every other organiser's copy shows the room
//! DECLINED. A second race of invitations alone makes an invitation win (the API is quicker,
//! so it wins the mixed race), and the API is then refused that slot. On SQLite and on
//! PostgreSQL, with real concurrent HTTP requests released by a barrier.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::Barrier;

use crate::support::app::{TestApp, test_config};
use crate::support::postgres::Postgres;

/// Staff who invite the room, each from their own calendar.
const INVITERS: [(&str, &str); 4] = [
    ("lars.haugen", "lars-demo-2027"),
    ("ingrid.berg", "ingrid-demo-2027"),
    ("nora.odegard", "Blåbærsyltetøy-2027"),
    ("tone.vik", "tone-admin-2027"),
];

/// Staff who book through the API.
const API_STAFF: [(&str, &str); 2] = [
    ("astrid.moen", "astrid-clerk-2027"),
    ("erik.dahl", "erik-clerk-2027"),
];

/// Residents who book through the API.
const RESIDENTS: usize = 3;

/// The race is for Klubbrommet (policy club-room: anybody who can log in books directly),
/// invited by its address, as calendar apps do.
const ROOM: &str = "mailto:klubbrommet@rom.fjordvik.kommune.no";

fn event(uid: &str, login: &str, start: &str, end: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Lokal race test//EN\r\nBEGIN:VEVENT\r\n\
         UID:{uid}\r\nDTSTAMP:20270104T090000Z\r\nDTSTART;TZID=Europe/Oslo:{start}\r\n\
         DTEND;TZID=Europe/Oslo:{end}\r\nSUMMARY:Møte {login}\r\n\
         ORGANIZER:mailto:{login}@fjordvik.kommune.no\r\n\
         ATTENDEE;PARTSTAT=ACCEPTED:mailto:{login}@fjordvik.kommune.no\r\n\
         ATTENDEE;CUTYPE=ROOM;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:{ROOM}\r\n\
         END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

fn object(login: &str, day: u32) -> String {
    format!("/dav/calendars/users/{login}/meetings/race-{login}-{day}.ics")
}

/// The room attendee's PARTSTAT in an organiser's copy.
fn room_partstat(ics: &str) -> Option<String> {
    let unfolded = ics.replace("\r\n ", "").replace("\r\n\t", "");
    unfolded
        .lines()
        .find(|l| l.starts_with("ATTENDEE") && l.to_ascii_lowercase().ends_with(ROOM))
        .and_then(|l| {
            l.split(';')
                .find_map(|p| p.strip_prefix("PARTSTAT="))
                .map(|p| p.split(':').next().unwrap_or(p).to_owned())
        })
}

enum Outcome {
    Api(u16, Value),
    Invitation(String, u16, String),
}

/// Races for one slot on `day` (January 2027, a weekday): the invitations, and with
/// `with_api` the API bookings too.
async fn race(app: &TestApp, day: u32, with_api: bool) {
    let room = app.room("Klubbrommet").await;
    let date = format!("2027-01-{day:02}");
    let mut api_logins: Vec<(String, String)> = Vec::new();
    if with_api {
        api_logins.extend(
            API_STAFF
                .iter()
                .map(|(u, p)| (u.to_string(), p.to_string())),
        );
        for i in 0..RESIDENTS {
            api_logins.push(app.resident(&format!("racer{i}-{day}@example.no")).await);
        }
    }
    // Every login once before the race, so the race is about booking, not password hashing.
    for (u, p) in &api_logins {
        let (status, _) = app.get("/api/v1/bookings?mine=true", Some((u, p))).await;
        assert_eq!(status, 200, "{u}");
    }
    for (u, p) in INVITERS {
        let response = app
            .client
            .request(
                reqwest::Method::from_bytes(b"PROPFIND").unwrap(),
                format!("{}/dav/calendars/users/{u}/meetings/", app.base),
            )
            .basic_auth(u, Some(p))
            .header("Depth", "0")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 207, "{u}");
    }

    // Overlapping slots on Wednesday 6 January: 17:00–19:00 and 17:30–19:30, local time.
    let slots = [("17:00", "19:00"), ("17:30", "19:30")];
    let contenders = api_logins.len() + INVITERS.len();
    let barrier = Arc::new(Barrier::new(contenders));
    let mut tasks = Vec::new();
    for (i, (u, p)) in api_logins.into_iter().enumerate() {
        let (start, end) = slots[i % 2];
        let request = app
            .client
            .post(format!("{}/api/v1/bookings", app.base))
            .basic_auth(&u, Some(&p))
            .json(&json!({
                "room_id": room, "start": format!("{date}T{start}"),
                "end": format!("{date}T{end}"), "purpose": format!("API {u}"), "attendees": 4,
            }));
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let response = request.send().await.unwrap();
            let (status, body) = crate::support::app::read(response).await;
            Outcome::Api(status, body)
        }));
    }
    for (i, (u, p)) in INVITERS.into_iter().enumerate() {
        let (start, end) = slots[(i + 1) % 2];
        let compact = |t: &str| format!("202701{day:02}T{}00", t.replace(':', ""));
        let request = app
            .client
            .put(format!("{}{}", app.base, object(u, day)))
            .basic_auth(u, Some(p))
            .header("Content-Type", "text/calendar; charset=utf-8")
            .header("If-None-Match", "*")
            .body(event(
                &format!("race-{u}-{day}@test"),
                u,
                &compact(start),
                &compact(end),
            ));
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            Outcome::Invitation(u.to_owned(), status, response.text().await.unwrap())
        }));
    }

    let (mut created, mut conflicts, mut accepted, mut declined) = (0, 0, 0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Outcome::Api(201, body) => {
                assert_eq!(body["status"], "approved", "{body}");
                created += 1;
            }
            Outcome::Api(409, body) => {
                assert_eq!(body["code"], "conflict", "{body}");
                conflicts += 1;
            }
            Outcome::Api(status, body) => panic!("API answered {status}: {body}"),
            Outcome::Invitation(login, status, body) => {
                assert!(
                    matches!(status, 201 | 204),
                    "PUT by {login}: {status} {body}"
                );
                let (status, copy) = get(app, &login, day).await;
                assert_eq!(status, 200, "{copy}");
                match room_partstat(&copy).as_deref() {
                    Some("ACCEPTED") => accepted += 1,
                    Some("DECLINED") => declined += 1,
                    other => panic!("{login}'s copy has the room {other:?}: {copy}"),
                }
            }
        }
    }
    assert_eq!(
        created + accepted,
        1,
        "API {created}, invitations {accepted}: one winner"
    );
    assert_eq!(conflicts + declined, contenders - 1);

    // One blocking booking in the store, as the API and the room calendar show it.
    let store = &lokal::startup::store_of(&app.state);
    assert_eq!(store.overlapping_pairs().await.unwrap(), 0);
    let (_, busy) = app
        .get(
            &format!(
                "/api/v1/rooms/{room}/availability?from={date}&to=2027-01-{:02}",
                day + 1
            ),
            None,
        )
        .await;
    assert_eq!(busy["busy"].as_array().unwrap().len(), 1, "{busy}");
}

async fn get(app: &TestApp, login: &str, day: u32) -> (u16, String) {
    let password = INVITERS
        .iter()
        .find(|(u, _)| *u == login)
        .map(|(_, p)| *p)
        .unwrap();
    let response = app
        .client
        .get(format!("{}{}", app.base, object(login, day)))
        .basic_auth(login, Some(password))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// Both races, and the API refused for a slot an invitation won (API bookings are quicker
/// than invitations, so in the mixed race an API call nearly always wins; the race of
/// invitations alone makes one of them win).
async fn races(app: &TestApp) {
    race(app, 6, true).await;
    race(app, 7, false).await;
    let room = app.room("Klubbrommet").await;
    let (status, body) = app
        .post(
            "/api/v1/bookings",
            Some(API_STAFF[0]),
            json!({"room_id": room, "start": "2027-01-07T18:00", "end": "2027-01-07T19:00",
                   "purpose": "Too late", "attendees": 2}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "conflict", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invitations_and_api_bookings_racing_for_one_slot_leave_one_booking_on_sqlite() {
    let app = TestApp::sqlite().await;
    races(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invitations_and_api_bookings_racing_for_one_slot_leave_one_booking_on_postgres() {
    let pg = Postgres::start();
    let app = TestApp::start(test_config(&pg.url)).await;
    races(&app).await;
}
