//! No double booking, ever: 200 concurrent requests for overlapping slots in one room, on
//! SQLite, on PostgreSQL, and through two Lokal instances sharing one PostgreSQL. Exactly one
//! survives; the others get 409 `conflict`; a SQL check finds no overlap afterwards.

use serde_json::{Value, json};

use crate::support::app::{TestApp, test_config};
use crate::support::postgres::Postgres;

const REQUESTS: usize = 200;

/// Fires the requests round-robin over `apps`; returns (created, conflicts, other statuses).
async fn race(apps: &[&TestApp]) -> (usize, usize, Vec<(u16, Value)>) {
    let room = apps[0].room("Klubbrommet").await;
    let mut logins = Vec::new();
    for (i, app) in apps.iter().enumerate() {
        // One resident per instance, each registered once; the first call warms the
        // credential cache so the race is about bookings, not password hashing.
        let login = if i == 0 {
            app.resident("racer@example.no").await
        } else {
            (
                "racer@example.no".to_owned(),
                "racer@example.no-password".to_owned(),
            )
        };
        let (status, _) = app
            .get("/api/v1/bookings?mine=true", Some((&login.0, &login.1)))
            .await;
        assert_eq!(status, 200);
        logins.push(login);
    }
    // Every request overlaps every other: 2-hour slots starting 17:00, 17:30, 18:00, 18:30.
    let starts = ["17:00", "17:30", "18:00", "18:30"];
    let ends = ["19:00", "19:30", "20:00", "20:30"];
    let mut tasks = Vec::new();
    for i in 0..REQUESTS {
        let app = apps[i % apps.len()];
        let (user, password) = logins[i % apps.len()].clone();
        let request = app
            .client
            .post(format!("{}/api/v1/bookings", app.base))
            .basic_auth(user, Some(password))
            .json(&json!({
                "room_id": room,
                "start": format!("2027-01-06T{}", starts[i % 4]),
                "end": format!("2027-01-06T{}", ends[i % 4]),
                "purpose": format!("request {i}"),
                "attendees": 10,
            }));
        tasks.push(tokio::spawn(async move {
            let response = request.send().await.unwrap();
            crate::support::app::read(response).await
        }));
    }
    let (mut created, mut conflicts, mut other) = (0, 0, Vec::new());
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            201 => created += 1,
            409 => {
                assert_eq!(body["code"], "conflict", "{body}");
                conflicts += 1;
            }
            _ => other.push((status, body)),
        }
    }
    (created, conflicts, other)
}

async fn assert_one_survivor(apps: &[&TestApp]) {
    let (created, conflicts, other) = race(apps).await;
    assert_eq!(other, [], "unexpected answers");
    assert_eq!((created, conflicts), (1, REQUESTS - 1));
    let store = lokal::startup::store_of(&apps[0].state);
    assert_eq!(store.overlapping_pairs().await.unwrap(), 0);
    let room = apps[0].room("Klubbrommet").await;
    let (_, busy) = apps[0]
        .get(
            &format!("/api/v1/rooms/{room}/availability?from=2027-01-06&to=2027-01-07"),
            None,
        )
        .await;
    assert_eq!(busy["busy"].as_array().unwrap().len(), 1, "{busy}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_racing_requests_leave_one_booking_on_sqlite() {
    let app = TestApp::sqlite().await;
    assert_one_survivor(&[&app]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_racing_requests_leave_one_booking_on_postgres() {
    let pg = Postgres::start();
    let app = TestApp::start(test_config(&pg.url)).await;
    assert_one_survivor(&[&app]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_lokal_instances_on_one_postgres_never_double_book() {
    let pg = Postgres::start();
    let one = TestApp::start(test_config(&pg.url)).await;
    let two = TestApp::start(test_config(&pg.url)).await;
    assert_one_survivor(&[&one, &two]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_works_the_same_on_postgres() {
    let pg = Postgres::start();
    let app = TestApp::start(test_config(&pg.url)).await;
    let (status, ready) = app.get("/readyz", None).await;
    assert_eq!(
        (status, ready["store"].as_str()),
        (200, Some("ok")),
        "{ready}"
    );
    let kari = app.resident("kari@example.no").await;
    let login = Some((kari.0.as_str(), kari.1.as_str()));
    let storsalen = app.room("Storsalen").await;
    let (status, created) = app
        .post(
            "/api/v1/bookings",
            login,
            json!({"room_id": storsalen, "start": "2027-01-13T18:00", "end": "2027-01-13T21:00", "purpose": "Kor", "attendees": 40}),
        )
        .await;
    assert_eq!(
        (status, created["status"].as_str()),
        (201, Some("pending")),
        "{created}"
    );
    let id = created["id"].as_str().unwrap();
    let (status, _) = app
        .post(
            &format!("/api/v1/bookings/{id}/approve"),
            Some(("erik.dahl", "erik-clerk-2027")),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, history) = app
        .get(&format!("/api/v1/bookings/{id}/history"), login)
        .await;
    assert_eq!(history["history"].as_array().unwrap().len(), 2);
    assert_eq!(created["booking"]["hold_until"], "2027-01-11T09:00:00Z");
    // Closures reach the decision on PostgreSQL too.
    let (status, _) = app
        .post(
            "/api/v1/closures",
            Some(("erik.dahl", "erik-clerk-2027")),
            json!({"room_id": storsalen, "start": "2027-01-20", "end": "2027-01-21", "reason": "Lakkering"}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, problem) = app
        .post(
            "/api/v1/bookings",
            login,
            json!({"room_id": storsalen, "start": "2027-01-20T18:00", "end": "2027-01-20T20:00", "purpose": "Kor", "attendees": 40}),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("closure")),
        "{problem}"
    );
}

/// Retries of one request (one Idempotency-Key) sent while the first is still running all
/// get the same booking.
async fn concurrent_retries_replay(app: &TestApp) {
    let kari = app.resident("kari@example.no").await;
    app.get("/api/v1/bookings?mine=true", Some((&kari.0, &kari.1)))
        .await;
    let room = app.room("Klubbrommet").await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let request = app
            .client
            .post(format!("{}/api/v1/bookings", app.base))
            .basic_auth(&kari.0, Some(&kari.1))
            .header("Idempotency-Key", "double-click")
            .json(&json!({"room_id": room, "start": "2027-01-06T18:00", "end": "2027-01-06T20:00", "purpose": "x", "attendees": 3}));
        tasks.push(tokio::spawn(async move {
            crate::support::app::read(request.send().await.unwrap()).await
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, 201, "{body}");
        ids.push(body["id"].clone());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_idempotent_retries_replay_on_sqlite() {
    concurrent_retries_replay(&TestApp::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_idempotent_retries_replay_on_postgres() {
    let pg = Postgres::start();
    concurrent_retries_replay(&TestApp::start(test_config(&pg.url)).await).await;
}
