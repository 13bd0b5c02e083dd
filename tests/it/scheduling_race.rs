//! The same guarantee for invitations as for the API: REST bookings (staff and residents) and
//! invitations (staff PUTting events that invite the room into their own calendars) race for
//! one free slot of an auto-approve room, all released at once; exactly one blocking booking
//! remains, every other API call gets 409, and every other organiser's copy shows the room
//! DECLINED. On SQLite and on PostgreSQL.

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
/// invited by `urn:uuid:<its id>`.
fn event(uid: &str, login: &str, room: &str, start: &str, end: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Lokal race test//EN\r\nBEGIN:VEVENT\r\n\
         UID:{uid}\r\nDTSTAMP:20270104T090000Z\r\nDTSTART;TZID=Europe/Oslo:{start}\r\n\
         DTEND;TZID=Europe/Oslo:{end}\r\nSUMMARY:Møte {login}\r\n\
         ORGANIZER:mailto:{login}@fjordvik.kommune.no\r\n\
         ATTENDEE;PARTSTAT=ACCEPTED:mailto:{login}@fjordvik.kommune.no\r\n\
         ATTENDEE;CUTYPE=ROOM;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:urn:uuid:{room}\r\n\
         END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

fn object(login: &str) -> String {
    format!("/dav/calendars/users/{login}/meetings/race-{login}.ics")
}

/// The room attendee's PARTSTAT in an organiser's copy.
fn room_partstat(ics: &str, room: &str) -> Option<String> {
    let unfolded = ics.replace("\r\n ", "").replace("\r\n\t", "");
    let address = format!("urn:uuid:{room}");
    unfolded
        .lines()
        .find(|l| l.starts_with("ATTENDEE") && l.ends_with(&address))
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

async fn race(app: &TestApp) {
    let room = app.room("Klubbrommet").await;
    let mut residents = Vec::new();
    for i in 0..RESIDENTS {
        residents.push(app.resident(&format!("racer{i}@example.no")).await);
    }
    // Every login once before the race, so the race is about booking, not password hashing.
    let mut api_logins: Vec<(String, String)> = API_STAFF
        .iter()
        .map(|(u, p)| (u.to_string(), p.to_string()))
        .collect();
    api_logins.extend(residents);
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
                "room_id": room, "start": format!("2027-01-06T{start}"),
                "end": format!("2027-01-06T{end}"), "purpose": format!("API {u}"), "attendees": 4,
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
        let compact = |t: &str| format!("20270106T{}00", t.replace(':', ""));
        let request = app
            .client
            .put(format!("{}{}", app.base, object(u)))
            .basic_auth(u, Some(p))
            .header("Content-Type", "text/calendar; charset=utf-8")
            .header("If-None-Match", "*")
            .body(event(
                &format!("race-{u}@test"),
                u,
                &room,
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
                let (status, copy) = get(app, &login).await;
                assert_eq!(status, 200, "{copy}");
                match room_partstat(&copy, &room).as_deref() {
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
    let store = &app.state.bookings.store;
    assert_eq!(store.overlapping_pairs().await.unwrap(), 0);
    let (_, busy) = app
        .get(
            &format!("/api/v1/rooms/{room}/availability?from=2027-01-06&to=2027-01-07"),
            None,
        )
        .await;
    assert_eq!(busy["busy"].as_array().unwrap().len(), 1, "{busy}");
}

async fn get(app: &TestApp, login: &str) -> (u16, String) {
    let password = INVITERS
        .iter()
        .find(|(u, _)| *u == login)
        .map(|(_, p)| *p)
        .unwrap();
    let response = app
        .client
        .get(format!("{}{}", app.base, object(login)))
        .basic_auth(login, Some(password))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invitations_and_api_bookings_racing_for_one_slot_leave_one_booking_on_sqlite() {
    let app = TestApp::sqlite().await;
    race(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invitations_and_api_bookings_racing_for_one_slot_leave_one_booking_on_postgres() {
    let pg = Postgres::start();
    let app = TestApp::start(test_config(&pg.url)).await;
    race(&app).await;
}
