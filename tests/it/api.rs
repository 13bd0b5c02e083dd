//! The booking API through the real router, over HTTP on loopback, against a real store.

use lokal::clock::Clock as _;
use serde_json::{Value, json};

use crate::support::app::TestApp;

const ASTRID: (&str, &str) = ("astrid.moen", "astrid-clerk-2027"); // clerk: Rådhuset, Fjordvik skole
const ERIK: (&str, &str) = ("erik.dahl", "erik-clerk-2027"); // clerk: Kulturhuset, Idrettshallen

fn login(l: &(String, String)) -> Option<(&str, &str)> {
    Some((l.0.as_str(), l.1.as_str()))
}

fn booking(room: &str, start: &str, end: &str) -> Value {
    json!({"room_id": room, "start": start, "end": end, "purpose": "Øving", "attendees": 12})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_booking_an_auto_approved_room_is_approved() {
    let app = TestApp::sqlite().await;
    let kari = app.resident("kari@example.no").await;
    let room = app.room("Klubbrommet").await;
    let (status, body) = app
        .post(
            "/api/v1/bookings",
            login(&kari),
            booking(&room, "2027-01-06T18:00", "2027-01-06T20:00"),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "approved");
    // Local 18:00 in Oslo in winter is 17:00 UTC.
    assert_eq!(
        body["occurrences"],
        json!([{"seq": 0, "start": "2027-01-06T17:00:00Z", "end": "2027-01-06T19:00:00Z", "status": "approved",
                 "status_reason": null, "reasons": []}])
    );
    let (status, got) = app
        .get(
            &format!("/api/v1/bookings/{}", body["id"].as_str().unwrap()),
            login(&kari),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(got["status"], "approved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_room_gives_pending_and_its_clerk_approves_it() {
    let app = TestApp::sqlite().await;
    let kari = app.resident("kari@example.no").await;
    let storsalen = app.room("Storsalen").await; // Kulturhuset: erik.dahl's building
    let (status, body) = app
        .post(
            "/api/v1/bookings",
            login(&kari),
            booking(&storsalen, "2027-01-13T18:00", "2027-01-13T21:00"),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "pending");
    let id = body["id"].as_str().unwrap().to_owned();

    // The clerk of Kulturhuset sees it in the queue; the clerk of Rådhuset does not.
    let (status, queue) = app.get("/api/v1/approvals", Some(ERIK)).await;
    assert_eq!(status, 200, "{queue}");
    let ids: Vec<&str> = queue["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["booking"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id.as_str()]);
    let (_, other_queue) = app.get("/api/v1/approvals", Some(ASTRID)).await;
    assert_eq!(other_queue["approvals"], json!([]));

    // A clerk of another building may not decide it.
    let (status, problem) = app
        .post(
            &format!("/api/v1/bookings/{id}/approve"),
            Some(ASTRID),
            json!({}),
        )
        .await;
    assert_eq!(status, 403, "{problem}");
    assert_eq!(problem["code"], "forbidden");
    // Nor may the resident.
    let (status, _) = app
        .post(
            &format!("/api/v1/bookings/{id}/approve"),
            login(&kari),
            json!({}),
        )
        .await;
    assert_eq!(status, 403);

    let (status, approved) = app
        .post(
            &format!("/api/v1/bookings/{id}/approve"),
            Some(ERIK),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["status"], "approved");
    let (_, seen) = app
        .get(&format!("/api/v1/bookings/{id}"), login(&kari))
        .await;
    assert_eq!(seen["status"], "approved");
    assert_eq!(seen["occurrences"][0]["status"], "approved");

    // Approving twice is refused.
    let (status, problem) = app
        .post(
            &format!("/api/v1/bookings/{id}/approve"),
            Some(ERIK),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("wrong-status"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_needs_a_reason_and_keeps_the_booking_with_it() {
    let app = TestApp::sqlite().await;
    let kari = app.resident("kari@example.no").await;
    let storsalen = app.room("Storsalen").await;
    let (_, body) = app
        .post(
            "/api/v1/bookings",
            login(&kari),
            booking(&storsalen, "2027-01-13T18:00", "2027-01-13T21:00"),
        )
        .await;
    let id = body["id"].as_str().unwrap();
    let (status, problem) = app
        .post(
            &format!("/api/v1/bookings/{id}/reject"),
            Some(ERIK),
            json!({"reason": "  "}),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("reason-required"))
    );
    let (status, rejected) = app
        .post(
            &format!("/api/v1/bookings/{id}/reject"),
            Some(ERIK),
            json!({"reason": "Salen er opptatt til generalprøve"}),
        )
        .await;
    assert_eq!(status, 200, "{rejected}");
    assert_eq!(rejected["status"], "rejected");
    let (_, mine) = app.get("/api/v1/bookings?mine=true", login(&kari)).await;
    assert_eq!(
        mine["bookings"][0]["status_reason"],
        "Salen er opptatt til generalprøve"
    );
    // The slot is free again.
    let (status, _) = app
        .post(
            "/api/v1/bookings",
            login(&kari),
            booking(&storsalen, "2027-01-13T18:00", "2027-01-13T21:00"),
        )
        .await;
    assert_eq!(status, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_sees_only_their_own_bookings() {
    let app = TestApp::sqlite().await;
    let kari = app.resident("kari@example.no").await;
    let ola = app.resident("ola@example.no").await;
    let room = app.room("Klubbrommet").await;
    let (_, karis) = app
        .post(
            "/api/v1/bookings",
            login(&kari),
            booking(&room, "2027-01-06T18:00", "2027-01-06T20:00"),
        )
        .await;
    let (_, olas) = app
        .post(
            "/api/v1/bookings",
            login(&ola),
            booking(&room, "2027-01-07T18:00", "2027-01-07T20:00"),
        )
        .await;
    let (status, mine) = app.get("/api/v1/bookings?mine=true", login(&kari)).await;
    assert_eq!(status, 200);
    let ids: Vec<&Value> = mine["bookings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| &b["id"])
        .collect();
    assert_eq!(ids, [&karis["id"]]);
    // Another resident's booking is not found, neither to read nor to cancel.
    let olas_id = olas["id"].as_str().unwrap();
    let (status, problem) = app
        .get(&format!("/api/v1/bookings/{olas_id}"), login(&kari))
        .await;
    assert_eq!((status, problem["code"].as_str()), (404, Some("not-found")));
    let (status, _) = app
        .post(
            &format!("/api/v1/bookings/{olas_id}/cancel"),
            login(&kari),
            json!({}),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .get(&format!("/api/v1/bookings/{olas_id}/history"), login(&kari))
        .await;
    assert_eq!(status, 404);
    // Without a login, nothing.
    let (status, problem) = app.get("/api/v1/bookings?mine=true", None).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (401, Some("unauthorized"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn availability_shows_busy_intervals_and_no_names() {
    let app = TestApp::sqlite().await;
    let kari = app.resident("kari.secret@example.no").await;
    let room = app.room("Klubbrommet").await;
    let mut request = booking(&room, "2027-01-06T18:00", "2027-01-06T20:00");
    request["purpose"] = json!("Kari Hemmeligsens bursdag");
    let (status, _) = app.post("/api/v1/bookings", login(&kari), request).await;
    assert_eq!(status, 201);
    let (status, body) = app
        .get(
            &format!("/api/v1/rooms/{room}/availability?from=2027-01-06&to=2027-01-07"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"busy": [{"start": "2027-01-06T17:00:00Z", "end": "2027-01-06T19:00:00Z"}]})
    );
    let text = body.to_string();
    for secret in ["Kari", "Hemmelig", "kari.secret", "resident"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    // The many-rooms form: Klubbrommet is busy in that window, so it is not listed as free.
    let (status, free) = app
        .get(
            "/api/v1/availability?from=2027-01-06T18:00&to=2027-01-06T19:00&capacity=20",
            None,
        )
        .await;
    assert_eq!(status, 200, "{free}");
    let names: Vec<&str> = free["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(!names.contains(&"Klubbrommet"), "{names:?}");
    assert!(names.contains(&"Storsalen"), "{names:?}");
    assert!(!names.contains(&"Møterom 1"), "capacity 8 < 20: {names:?}");
    assert!(
        !names.contains(&"Galleriet"),
        "closed for renovation: {names:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_frees_the_slot_and_the_history_shows_every_transition() {
    let app = TestApp::sqlite().await;
    let kari = app.resident("kari@example.no").await;
    let storsalen = app.room("Storsalen").await;
    let (_, created) = app
        .post(
            "/api/v1/bookings",
            login(&kari),
            booking(&storsalen, "2027-01-13T18:00", "2027-01-13T21:00"),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    let (status, _) = app
        .post(
            &format!("/api/v1/bookings/{id}/approve"),
            Some(ERIK),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, cancelled) = app
        .post(
            &format!("/api/v1/bookings/{id}/cancel"),
            login(&kari),
            json!({"reason": "Koret er sykt"}),
        )
        .await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["occurrences"][0]["status"], "cancelled");
    // Cancelling again is refused; the slot is free for someone else.
    let (status, problem) = app
        .post(
            &format!("/api/v1/bookings/{id}/cancel"),
            login(&kari),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("wrong-status"))
    );
    let ola = app.resident("ola@example.no").await;
    let (status, _) = app
        .post(
            "/api/v1/bookings",
            login(&ola),
            booking(&storsalen, "2027-01-13T18:00", "2027-01-13T21:00"),
        )
        .await;
    assert_eq!(status, 201);

    let (status, history) = app
        .get(&format!("/api/v1/bookings/{id}/history"), login(&kari))
        .await;
    assert_eq!(status, 200, "{history}");
    let steps: Vec<(Value, Value)> = history["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["from"].clone(), h["to"].clone()))
        .collect();
    assert_eq!(
        steps,
        [
            (Value::Null, json!("pending")),
            (json!("pending"), json!("approved")),
            (json!("approved"), json!("cancelled")),
        ]
    );
    let entries = history["history"].as_array().unwrap();
    assert!(
        entries[0]["actor"]
            .as_str()
            .unwrap()
            .starts_with("resident:")
    );
    assert!(entries[1]["actor"].as_str().unwrap().starts_with("staff:"));
    assert_eq!(entries[2]["reason"], "Koret er sykt");
    // The clerk of the room sees the history too.
    let (status, _) = app
        .get(&format!("/api/v1/bookings/{id}/history"), Some(ERIK))
        .await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotent_retry_returns_the_same_booking() {
    let app = TestApp::sqlite().await;
    let kari = app.resident("kari@example.no").await;
    let room = app.room("Klubbrommet").await;
    let send = |body: Value, key: &'static str| {
        app.client
            .post(format!("{}/api/v1/bookings", app.base))
            .basic_auth(&kari.0, Some(&kari.1))
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let body = booking(&room, "2027-01-06T18:00", "2027-01-06T20:00");
    let first = send(body.clone(), "k-1").await.unwrap();
    assert_eq!(first.status(), 201);
    let first = first.json::<Value>().await.unwrap();
    let retry = send(body.clone(), "k-1").await.unwrap();
    assert_eq!(retry.status(), 201);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    let retry = retry.json::<Value>().await.unwrap();
    assert_eq!(retry["id"], first["id"]);
    let (_, mine) = app.get("/api/v1/bookings?mine=true", login(&kari)).await;
    assert_eq!(mine["bookings"].as_array().unwrap().len(), 1);
    // The same key with another request is an error, not a silent replay.
    let other = send(
        booking(&room, "2027-01-07T18:00", "2027-01-07T20:00"),
        "k-1",
    )
    .await
    .unwrap();
    assert_eq!(other.status(), 422);
    assert_eq!(
        other.json::<Value>().await.unwrap()["code"],
        "idempotency-key-reused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_series_with_one_conflicting_date_is_refused_whole_or_booked_without_it() {
    let app = TestApp::sqlite().await;
    let kari = app.resident("kari@example.no").await;
    let ola = app.resident("ola@example.no").await;
    let room = app.room("Klubbrommet").await;
    // Ola already has the third Tuesday.
    let (status, _) = app
        .post(
            "/api/v1/bookings",
            login(&ola),
            booking(&room, "2027-01-26T19:00", "2027-01-26T20:00"),
        )
        .await;
    assert_eq!(status, 201);
    let mut series = booking(&room, "2027-01-12T18:00", "2027-01-12T20:00");
    series["recurrence"] = json!("FREQ=WEEKLY;COUNT=4");

    // reject (the default): nothing is booked.
    let (status, problem) = app
        .post("/api/v1/bookings", login(&kari), series.clone())
        .await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["code"], "conflict");
    let (_, mine) = app.get("/api/v1/bookings?mine=true", login(&kari)).await;
    assert_eq!(mine["bookings"], json!([]));

    // skip: three dates booked, the conflicting one skipped.
    series["on_conflict"] = json!("skip");
    let (status, body) = app.post("/api/v1/bookings", login(&kari), series).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "approved");
    let occurrences: Vec<(&str, &str)> = body["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["start"].as_str().unwrap(), o["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        occurrences,
        [
            ("2027-01-12T17:00:00Z", "approved"),
            ("2027-01-19T17:00:00Z", "approved"),
            ("2027-01-26T17:00:00Z", "skipped"),
            ("2027-02-02T17:00:00Z", "approved"),
        ]
    );
    assert!(
        body["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["code"] == "conflict")
    );
    // The skipped date is still Ola's.
    let (_, busy) = app
        .get(
            &format!("/api/v1/rooms/{room}/availability?from=2027-01-26&to=2027-01-27"),
            None,
        )
        .await;
    assert_eq!(
        busy["busy"],
        json!([{"start": "2027-01-26T18:00:00Z", "end": "2027-01-26T19:00:00Z"}])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_hold_expires_and_frees_the_slot() {
    let app = TestApp::sqlite().await;
    let kari = app.resident("kari@example.no").await;
    let storsalen = app.room("Storsalen").await;
    let (_, created) = app
        .post(
            "/api/v1/bookings",
            login(&kari),
            booking(&storsalen, "2027-01-20T18:00", "2027-01-20T21:00"),
        )
        .await;
    assert_eq!(created["status"], "pending");
    // The hall policy holds a request for 7 days.
    assert_eq!(created["booking"]["hold_until"], "2027-01-11T09:00:00Z");
    let id = created["id"].as_str().unwrap();

    app.clock.set("2027-01-11T08:59:00Z".parse().unwrap());
    assert_eq!(
        lokal::startup::store_of(&app.state)
            .expire_holds(app.clock.now())
            .await
            .unwrap(),
        0
    );
    app.clock.set("2027-01-11T09:00:00Z".parse().unwrap());
    assert_eq!(
        lokal::startup::store_of(&app.state)
            .expire_holds(app.clock.now())
            .await
            .unwrap(),
        1
    );

    let (_, seen) = app
        .get(&format!("/api/v1/bookings/{id}"), login(&kari))
        .await;
    assert_eq!(seen["status"], "expired");
    let (status, problem) = app
        .post(
            &format!("/api/v1/bookings/{id}/approve"),
            Some(ERIK),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("wrong-status"))
    );
    let (_, history) = app
        .get(&format!("/api/v1/bookings/{id}/history"), login(&kari))
        .await;
    let last = history["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (
            last["from"].as_str(),
            last["to"].as_str(),
            last["actor"].as_str()
        ),
        (Some("pending"), Some("expired"), Some("lokal"))
    );
    let ola = app.resident("ola@example.no").await;
    let (status, _) = app
        .post(
            "/api/v1/bookings",
            login(&ola),
            booking(&storsalen, "2027-01-20T18:00", "2027-01-20T21:00"),
        )
        .await;
    assert_eq!(status, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_hold_does_not_block_a_new_request_even_before_the_expiry_job_runs() {
    let app = TestApp::sqlite().await;
    let kari = app.resident("kari@example.no").await;
    let ola = app.resident("ola@example.no").await;
    let storsalen = app.room("Storsalen").await;
    let (_, created) = app
        .post(
            "/api/v1/bookings",
            login(&kari),
            booking(&storsalen, "2027-01-20T18:00", "2027-01-20T21:00"),
        )
        .await;
    app.clock.set("2027-01-12T09:00:00Z".parse().unwrap());
    let (status, body) = app
        .post(
            "/api/v1/bookings",
            login(&ola),
            booking(&storsalen, "2027-01-20T18:00", "2027-01-20T21:00"),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, seen) = app
        .get(
            &format!("/api/v1/bookings/{}", created["id"].as_str().unwrap()),
            login(&kari),
        )
        .await;
    assert_eq!(seen["status"], "expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clerk_closure_refuses_new_requests_and_names_the_bookings_it_hits() {
    let app = TestApp::sqlite().await;
    let kari = app.resident("kari@example.no").await;
    let room = app.room("Klubbrommet").await; // Idrettshallen: erik.dahl
    let (_, existing) = app
        .post(
            "/api/v1/bookings",
            login(&kari),
            booking(&room, "2027-01-08T18:00", "2027-01-08T20:00"),
        )
        .await;
    let closure = json!({"room_id": room, "start": "2027-01-08", "end": "2027-01-09", "reason": "Vannlekkasje"});
    let (status, _) = app
        .post("/api/v1/closures", Some(ASTRID), closure.clone())
        .await;
    assert_eq!(status, 403, "another building's clerk");
    let (status, _) = app
        .post("/api/v1/closures", login(&kari), closure.clone())
        .await;
    assert_eq!(status, 403, "a resident");
    let (status, made) = app.post("/api/v1/closures", Some(ERIK), closure).await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["affected"], json!([existing["id"]]));
    let (status, problem) = app
        .post(
            "/api/v1/bookings",
            login(&kari),
            booking(&room, "2027-01-08T10:00", "2027-01-08T12:00"),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("closure")),
        "{problem}"
    );
    // A whole building.
    let (status, made) = app
        .post(
            "/api/v1/closures",
            Some(ERIK),
            json!({"building": "Kulturhuset", "start": "2027-02-01T00:00", "end": "2027-02-02T00:00", "reason": "Strømbrudd"}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let storsalen = app.room("Storsalen").await;
    let (_, busy) = app
        .get(
            &format!("/api/v1/rooms/{storsalen}/availability?from=2027-02-01&to=2027-02-02"),
            None,
        )
        .await;
    assert_eq!(
        busy["busy"],
        json!([{"start": "2027-01-31T23:00:00Z", "end": "2027-02-01T23:00:00Z"}])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_can_be_filtered_by_capacity_building_and_equipment() {
    let app = TestApp::sqlite().await;
    let names = |v: &Value| -> Vec<String> {
        v["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, all) = app.get("/api/v1/rooms", None).await;
    assert_eq!(status, 200);
    assert_eq!(names(&all).len(), 18);
    let room = &all["rooms"][0];
    let keys: Vec<&String> = room.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "bookable",
            "building",
            "capacity",
            "equipment",
            "id",
            "name",
            "time_zone"
        ]
    );
    let (_, big) = app.get("/api/v1/rooms?capacity=150", None).await;
    assert_eq!(names(&big), ["Aulaen", "Hovedhallen", "Storsalen"]);
    let (_, kultur) = app
        .get(
            "/api/v1/rooms?building=Kulturhuset&equipment=projector",
            None,
        )
        .await;
    assert!(
        names(&kultur)
            .iter()
            .all(|n| ["Storsalen", "Lillesalen", "Galleriet", "Verkstedet"].contains(&n.as_str())),
        "{kultur}"
    );
    assert!(!names(&kultur).is_empty());
    let (status, problem) = app.get("/api/v1/rooms?capacity=lots", None).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (400, Some("invalid-query"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_limited_per_account() {
    let app = TestApp::sqlite().await;
    let kari = app.resident("kari@example.no").await;
    for _ in 0..5 {
        let (status, _) = app
            .get(
                "/api/v1/bookings?mine=true",
                Some((&kari.0, "wrong-password")),
            )
            .await;
        assert_eq!(status, 401);
    }
    // Now even the right password is refused for a while, without being checked.
    let (status, problem) = app.get("/api/v1/bookings?mine=true", login(&kari)).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (429, Some("too-many-failed-logins"))
    );
    // Other accounts are not affected.
    let (status, _) = app.get("/api/v1/bookings?mine=true", Some(ERIK)).await;
    assert_eq!(status, 200);
    app.clock.advance(chrono::TimeDelta::minutes(16));
    let (status, _) = app.get("/api/v1/bookings?mine=true", login(&kari)).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registering_twice_with_one_email_is_refused() {
    let app = TestApp::sqlite().await;
    app.resident("kari@example.no").await;
    let (status, problem) = app
        .post(
            "/api/v1/residents",
            None,
            json!({"email": "KARI@example.no", "password": "another-password", "name": "K"}),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("email-taken"))
    );
    let (status, problem) = app
        .post(
            "/api/v1/residents",
            None,
            json!({"email": "ola@example.no", "password": "short", "name": "Ola"}),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("invalid-registration"))
    );
}

/// Every malformed request gets a 4xx problem document with a code, and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_problem_with_a_code_and_writes_nothing() {
    let app = TestApp::sqlite().await;
    let kari = app.resident("kari@example.no").await;
    let room = app.room("Klubbrommet").await;
    let raw = |body: String| {
        app.client
            .post(format!("{}/api/v1/bookings", app.base))
            .basic_auth(&kari.0, Some(&kari.1))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let good = booking(&room, "2027-01-06T18:00", "2027-01-06T20:00");
    let with = |key: &str, value: Value| {
        let mut b = good.clone();
        b[key] = value;
        b.to_string()
    };
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("malformed JSON", "{\"room_id\": ".into(), 400, "malformed-json"),
        ("unknown field", with("colour", json!("red")), 422, "unknown-field"),
        ("wrong type", with("attendees", json!("many")), 422, "invalid-field"),
        ("negative attendees", with("attendees", json!(-3)), 422, "invalid-field"),
        ("missing field", json!({"room_id": room}).to_string(), 422, "missing-field"),
        (
            "a local time in the DST gap",
            json!({"room_id": room, "start": "2027-03-28T02:30", "end": "2027-03-28T04:00", "purpose": "x", "attendees": 2}).to_string(),
            422,
            "nonexistent-local-time",
        ),
        ("unknown room", with("room_id", json!("no-such-room")), 404, "unknown-room"),
        ("not a time", with("start", json!("tomorrow")), 422, "invalid-time"),
        ("end before start", with("end", json!("2027-01-06T17:00")), 422, "invalid-time"),
        ("oversized body", with("purpose", json!("x".repeat(100_000))), 413, "body-too-large"),
        ("an RRULE of 100,000 occurrences", with("recurrence", json!("FREQ=DAILY;COUNT=100000")), 422, "invalid-recurrence"),
        ("an endless RRULE", with("recurrence", json!("FREQ=HOURLY")), 422, "too-many-occurrences"),
        ("a nonsense RRULE", with("recurrence", json!("FREQ=SOMETIMES")), 422, "invalid-recurrence"),
        ("bad on_conflict", with("on_conflict", json!("maybe")), 422, "invalid-field"),
        ("an empty purpose", with("purpose", json!("   ")), 422, "invalid-purpose"),
    ];
    for (what, body, status, code) in cases {
        let response = raw(body).await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{what}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{what}"
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["code"], code, "{what}: {problem}");
        assert_eq!(problem["status"], status, "{what}");
        assert!(!problem["detail"].as_str().unwrap().is_empty(), "{what}");
    }
    let (_, mine) = app.get("/api/v1/bookings?mine=true", login(&kari)).await;
    assert_eq!(mine["bookings"], json!([]));
    assert!(
        !lokal::startup::store_of(&app.state)
            .has_bookings()
            .await
            .unwrap()
    );
    // And the good request still works afterwards.
    let response = raw(good.to_string()).await.unwrap();
    assert_eq!(response.status(), 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_endpoints_answer() {
    let app = TestApp::sqlite().await;
    let response = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    let (status, ready) = app.get("/readyz", None).await;
    assert_eq!(status, 200);
    assert_eq!(ready, json!({"store": "ok", "directory": "ok"}));
    app.get("/api/v1/rooms", None).await;
    let metrics = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            "lokal_http_requests_total{method=\"GET\",route=\"/api/v1/rooms\",status=\"200\"} 1"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("lokal_directory_up 1"), "{metrics}");
    // Request latency is a histogram, with buckets.
    assert!(
        metrics.contains("# TYPE lokal_http_request_duration_seconds histogram"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "lokal_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/rooms\",status=\"200\",le=\"+Inf\"} 1"
        ),
        "{metrics}"
    );
    let (status, problem) = app.get("/nowhere", None).await;
    assert_eq!((status, problem["code"].as_str()), (404, Some("not-found")));
}

/// Directory stopped while Lokal runs: reads and resident bookings go on, staff logins get a
/// clear 503, and when slapd is back, staff log in again without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_directory_down_residents_go_on_and_staff_get_a_clear_503() {
    use crate::support::slapd::{Options, Slapd};
    let slapd = Slapd::start(Options::default());
    let port = slapd.port;
    let dir = crate::support::app::TempDir::new("dirdown");
    let mut config =
        crate::support::app::test_config(&format!("sqlite:{}", dir.0.join("l.db").display()));
    config.directory.url = slapd.url.clone();
    config.directory.bind_password = "lokal-service-secret".into();
    config.directory.timeout_secs = 2.0;
    let app = TestApp::start(config).await;
    let kari = app.resident("kari@example.no").await;
    let room = app.room("Klubbrommet").await;
    let (status, _) = app.get("/api/v1/bookings?mine=true", Some(ERIK)).await;
    assert_eq!(status, 200, "staff login works while slapd runs");

    drop(slapd);
    let (status, rooms) = app.get("/api/v1/rooms", None).await;
    assert_eq!(status, 200);
    assert_eq!(rooms["rooms"].as_array().unwrap().len(), 18);
    let (status, _) = app
        .get(
            &format!("/api/v1/rooms/{room}/availability?from=2027-01-06&to=2027-01-07"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = app
        .post(
            "/api/v1/bookings",
            login(&kari),
            booking(&room, "2027-01-06T18:00", "2027-01-06T20:00"),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    // Erik logged in a moment ago: his checked login is remembered and he goes on working.
    let (status, _) = app.get("/api/v1/bookings?mine=true", Some(ERIK)).await;
    assert_eq!(
        status, 200,
        "a recently checked staff login outlives a short outage"
    );
    // Astrid's login cannot be checked.
    let (status, problem) = app.get("/api/v1/bookings?mine=true", Some(ASTRID)).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (503, Some("directory-unavailable")),
        "{problem}"
    );
    assert!(problem["detail"].as_str().unwrap().contains("directory"));
    let (status, ready) = app.get("/readyz", None).await;
    assert_eq!(
        (status, ready["directory"].as_str()),
        (200, Some("degraded"))
    );
    // A sync while the directory is down keeps the stored rooms.
    assert!(!lokal::startup::sync_rooms(&app.state).await);
    assert_eq!(
        lokal::startup::store_of(&app.state)
            .rooms(false)
            .await
            .unwrap()
            .len(),
        18
    );
    // More staff attempts than the failure limit during the outage: all 503, none counted.
    for _ in 0..6 {
        let (status, _) = app.get("/api/v1/bookings?mine=true", Some(ASTRID)).await;
        assert_eq!(status, 503);
    }
    // A wrong password for a remembered login is not let through by the memory.
    let (status, _) = app
        .get(
            "/api/v1/bookings?mine=true",
            Some((ERIK.0, "not-his-password")),
        )
        .await;
    assert_eq!(
        status, 503,
        "a wrong password is checked against the directory, which is down"
    );
    // A resident's wrong passwords are still counted and limited while the directory is down.
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(
            app.get(
                "/api/v1/bookings?mine=true",
                Some((&kari.0, "wrong-password")),
            )
            .await
            .0,
        );
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 429]);
    // The outage did not count as failed logins.
    let _back = Slapd::start(Options {
        port: Some(port),
        ..Options::default()
    });
    let (status, body) = app.get("/api/v1/bookings?mine=true", Some(ASTRID)).await;
    assert_eq!(status, 200, "{body}");
    let (_, ready) = app.get("/readyz", None).await;
    assert_eq!(ready["directory"], "ok");
}

/// The OpenAPI document is valid OpenAPI 3.1 (checked by openapi-spec-validator, from PyPI,
/// in a virtualenv this test makes) and describes every route the router serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_is_valid_and_complete() {
    let app = TestApp::sqlite().await;
    let response = app
        .client
        .get(format!("{}/api/v1/openapi.json", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().unwrap();
    let router_source =
        std::fs::read_to_string(crate::support::slapd::repo().join("src/http/api.rs")).unwrap();
    let mut routed = 0;
    for line in router_source
        .lines()
        .filter(|l| l.trim_start().starts_with(".route(\"/api/v1/"))
    {
        let path = line.split('"').nth(1).unwrap();
        if path == "/api/v1/openapi.json" {
            continue;
        }
        routed += 1;
        let entry = paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} is routed but not documented"));
        for method in ["get", "post", "patch", "delete"] {
            if line.contains(&format!("{method}(")) {
                assert!(
                    entry.get(method).is_some(),
                    "{method} {path} is routed but not documented"
                );
            }
        }
    }
    assert_eq!(routed, paths.len(), "every documented path is routed");
    // Every create/decide endpoint documents its problem answers.
    assert!(doc["paths"]["/api/v1/bookings"]["post"]["responses"]["409"].is_object());
    // Every problem answer is problem+json naming its codes; an operation that needs a login
    // says so (HTTP Basic) and documents 401 with its challenge, 429 and 503 with Retry-After;
    // a public one has no security and no 401.
    assert_eq!(
        doc["components"]["securitySchemes"]["basic"],
        json!({"type": "http", "scheme": "basic"})
    );
    let public = [
        "GET /api/v1/rooms",
        "GET /api/v1/rooms/{id}/availability",
        "GET /api/v1/availability",
        "POST /api/v1/residents",
    ];
    for (path, methods) in paths {
        for (method, op) in methods.as_object().unwrap() {
            let name = format!("{} {path}", method.to_uppercase());
            let responses = op["responses"].as_object().unwrap();
            for (status, response) in responses.iter().filter(|(s, _)| s.as_str() >= "400") {
                let schema = &response["content"]["application/problem+json"]["schema"];
                let codes = schema["allOf"][1]["properties"]["code"]["enum"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{name} {status}: no codes"));
                assert!(!codes.is_empty(), "{name} {status}");
            }
            assert!(responses.contains_key("503"), "{name}");
            assert!(responses["503"]["headers"]["Retry-After"]["required"] == true);
            if public.contains(&name.as_str()) {
                assert!(op["security"].is_null(), "{name} is public");
                assert!(!responses.contains_key("401"), "{name} is public");
            } else {
                assert_eq!(op["security"], json!([{"basic": []}]), "{name}");
                let unauthorized = &responses["401"];
                assert!(
                    unauthorized["headers"]["WWW-Authenticate"]["required"] == true,
                    "{name}"
                );
                assert!(
                    responses["429"]["headers"]["Retry-After"].is_object(),
                    "{name}"
                );
            }
            if op.get("requestBody").is_some() {
                for status in ["400", "413", "415", "422"] {
                    assert!(responses.contains_key(status), "{name} {status}");
                }
            }
        }
    }
    let approve = &doc["paths"]["/api/v1/bookings/{id}/approve"]["post"]["responses"];
    assert_eq!(
        approve["404"]["content"]["application/problem+json"]["schema"]["allOf"][1]["properties"]["code"]
            ["enum"],
        json!(["not-found"])
    );
    let null_body = &doc["paths"]["/api/v1/bookings"]["post"]["responses"]["400"]["content"]["application/problem+json"]
        ["schema"]["allOf"][1]["properties"]["code"]["enum"];
    assert!(
        null_body
            .as_array()
            .unwrap()
            .contains(&json!("malformed-json"))
    );
    // The constraints the server enforces are in the document.
    let param = |path: &str, name: &str| -> Value {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{path} has no parameter {name}"))
    };
    assert_eq!(
        param("/api/v1/rooms", "capacity")["schema"]["maximum"],
        json!(2147483647)
    );
    let mine = param("/api/v1/bookings", "mine");
    assert_eq!(
        (mine["required"].clone(), mine["schema"]["enum"].clone()),
        (json!(true), json!([true]))
    );

    let python = crate::support::python::venv(&["openapi-spec-validator==0.7.2"]);
    let file = crate::support::app::TempDir::new("openapi");
    let path = file.0.join("openapi.json");
    std::fs::write(&path, &text).unwrap();
    let out = std::process::Command::new(&python)
        .args(["-m", "openapi_spec_validator"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openapi-spec-validator: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // And the validator does reject a broken document, so its "OK" means something.
    let mut broken = doc.clone();
    broken["paths"]["/api/v1/rooms"]["get"]["responses"] = json!("nothing");
    std::fs::write(&path, broken.to_string()).unwrap();
    let out = std::process::Command::new(&python)
        .args(["-m", "openapi_spec_validator"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "the validator accepted a broken document"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_series_of_mixed_dates_frees_every_date() {
    let app = TestApp::sqlite().await;
    // erik.dahl is staff (meeting rooms: booked at once in opening hours) and in
    // bookingkontoret (may ask outside them): a daily week mixes both kinds of date.
    let room = app.room("Formannskapssalen").await;
    let mut series = booking(&room, "2027-01-11T09:00", "2027-01-11T10:00");
    series["recurrence"] = json!("FREQ=DAILY;COUNT=7");
    let (status, created) = app.post("/api/v1/bookings", Some(ERIK), series).await;
    assert_eq!(status, 201, "{created}");
    let statuses: Vec<&str> = created["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert!(
        statuses.contains(&"approved") && statuses.contains(&"pending"),
        "{statuses:?}"
    );
    let id = created["id"].as_str().unwrap();
    let (status, cancelled) = app
        .post(
            &format!("/api/v1/bookings/{id}/cancel"),
            Some(ERIK),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{cancelled}");
    assert!(
        cancelled["occurrences"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["status"] == "cancelled"),
        "{cancelled}"
    );
    let (_, busy) = app
        .get(
            &format!("/api/v1/rooms/{room}/availability?from=2027-01-11&to=2027-01-18"),
            None,
        )
        .await;
    assert_eq!(busy["busy"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_wrong_passwords_are_limited_too() {
    let app = TestApp::sqlite().await;
    let kari = app.resident("kari@example.no").await;
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let request = app
            .client
            .get(format!("{}/api/v1/bookings?mine=true", app.base))
            .basic_auth(&kari.0, Some("wrong-password"));
        tasks.push(tokio::spawn(async move {
            request.send().await.unwrap().status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((checked, refused), (5, 35), "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offset_in_the_second_pass_of_the_autumn_fold_is_refused_not_moved() {
    let app = TestApp::sqlite().await;
    let kari = app.resident("kari@example.no").await;
    let room = app.room("Klubbrommet").await;
    // 02:30 happens twice in Oslo on 2027-10-31: first at +02:00, then at +01:00.
    let (status, problem) = app
        .post(
            "/api/v1/bookings",
            login(&kari),
            booking(
                &room,
                "2027-10-31T02:30:00+01:00",
                "2027-10-31T03:30:00+01:00",
            ),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("ambiguous-local-time")),
        "{problem}"
    );
    // The first pass is read as asked (and then judged by the policy: the room is closed).
    let (status, problem) = app
        .post(
            "/api/v1/bookings",
            login(&kari),
            booking(
                &room,
                "2027-10-31T02:30:00+02:00",
                "2027-10-31T03:30:00+01:00",
            ),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_ne!(problem["code"], "ambiguous-local-time", "{problem}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_weekly_quota_counts_the_requesters_own_bookings() {
    let app = TestApp::sqlite().await;
    let kari = app.resident("kari@example.no").await;
    let ola = app.resident("ola@example.no").await;
    let storsalen = app.room("Storsalen").await; // hall: at most 3 bookings a week each
    for day in 11..14 {
        let (status, body) = app
            .post(
                "/api/v1/bookings",
                login(&kari),
                booking(
                    &storsalen,
                    &format!("2027-01-{day}T18:00"),
                    &format!("2027-01-{day}T20:00"),
                ),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, problem) = app
        .post(
            "/api/v1/bookings",
            login(&kari),
            booking(&storsalen, "2027-01-14T18:00", "2027-01-14T20:00"),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("quota-exceeded")),
        "{problem}"
    );
    // Someone else's quota is their own; and next week Kari may book again.
    let (status, _) = app
        .post(
            "/api/v1/bookings",
            login(&ola),
            booking(&storsalen, "2027-01-14T18:00", "2027-01-14T20:00"),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = app
        .post(
            "/api/v1/bookings",
            login(&kari),
            booking(&storsalen, "2027-01-18T18:00", "2027-01-18T20:00"),
        )
        .await;
    assert_eq!(status, 201);
}

/// A count past the `int32` range the document declares is refused, not quietly taken: as a
/// query filter (400) and as attendees (422). The largest count the document allows is fine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seat_count_beyond_the_documented_maximum_is_refused() {
    let app = TestApp::sqlite().await;
    for path in [
        "/api/v1/rooms?capacity=2147483648",
        "/api/v1/availability?from=2027-01-06T18:00&to=2027-01-06T20:00&capacity=2147483648",
        "/api/v1/rooms?capacity=-1",
    ] {
        let (status, problem) = app.get(path, None).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (400, Some("invalid-query")),
            "{path}: {problem}"
        );
    }
    let (_, problem) = app.get("/api/v1/rooms?capacity=2147483648", None).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("2147483647"),
        "the message names the limit: {problem}"
    );
    let (status, rooms) = app.get("/api/v1/rooms?capacity=2147483647", None).await;
    assert_eq!((status, rooms["rooms"].clone()), (200, json!([])));

    let kari = app.resident("kari@example.no").await;
    let room = app.room("Klubbrommet").await;
    let mut body = booking(&room, "2027-01-06T18:00", "2027-01-06T20:00");
    body["attendees"] = json!(2_147_483_648_u64);
    let (status, problem) = app.post("/api/v1/bookings", login(&kari), body).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("invalid-field")),
        "{problem}"
    );
}

/// A body that is JSON but not an object (`null`, a list, a string) is refused whole as
/// malformed, on every operation that takes a body, and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_null_body_is_malformed_json() {
    let app = TestApp::sqlite().await;
    let kari = app.resident("kari@example.no").await;
    let room = app.room("Klubbrommet").await;
    let (_, created) = app
        .post(
            "/api/v1/bookings",
            login(&kari),
            booking(&room, "2027-01-06T18:00", "2027-01-06T20:00"),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    let cases = [
        (
            "/api/v1/bookings".to_owned(),
            kari.0.as_str(),
            kari.1.as_str(),
        ),
        (
            "/api/v1/residents".to_owned(),
            kari.0.as_str(),
            kari.1.as_str(),
        ),
        (
            format!("/api/v1/bookings/{id}/cancel"),
            kari.0.as_str(),
            kari.1.as_str(),
        ),
        (format!("/api/v1/bookings/{id}/reject"), ERIK.0, ERIK.1),
        ("/api/v1/closures".to_owned(), ERIK.0, ERIK.1),
    ];
    for (path, user, password) in &cases {
        for body in ["null", " [] ", "\"text\"", "3"] {
            let response = app
                .client
                .post(format!("{}{path}", app.base))
                .basic_auth(user, Some(password))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 400, "{path} {body}");
            assert_eq!(
                response.headers()["content-type"],
                "application/problem+json"
            );
            let problem: Value = response.json().await.unwrap();
            assert_eq!(
                problem["code"], "malformed-json",
                "{path} {body}: {problem}"
            );
            assert!(
                problem["detail"].as_str().unwrap().contains("JSON object"),
                "{problem}"
            );
        }
    }
    // The booking is untouched, and cancelling without a body still works.
    let (_, got) = app
        .get(&format!("/api/v1/bookings/{id}"), login(&kari))
        .await;
    assert_eq!(got["status"], created["status"]);
    let response = app
        .client
        .post(format!("{}/api/v1/bookings/{id}/cancel", app.base))
        .basic_auth(&kari.0, Some(&kari.1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // A cancel body of another media type is refused as such.
    let response = app
        .client
        .post(format!("{}/api/v1/bookings/{id}/cancel", app.base))
        .basic_auth(&kari.0, Some(&kari.1))
        .header("content-type", "text/plain")
        .body("because")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
}

/// Deciding a booking that does not exist: 404 for a clerk, 403 for a resident (who may not
/// decide anything), never a 2xx or 5xx.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approving_an_unknown_booking_is_not_found() {
    let app = TestApp::sqlite().await;
    let kari = app.resident("kari@example.no").await;
    // Approving takes no reason (its body names dates, or an override); rejecting needs one.
    for (path, body) in [
        ("/api/v1/bookings/x/approve", json!({})),
        ("/api/v1/bookings/x/reject", json!({"reason": "nei"})),
        ("/api/v1/bookings/x/occurrences/0/approve", json!({})),
        (
            "/api/v1/bookings/x/occurrences/0/reject",
            json!({"reason": "nei"}),
        ),
    ] {
        let (status, problem) = app.post(path, Some(ERIK), body.clone()).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (404, Some("not-found")),
            "{path}: {problem}"
        );
        let (status, problem) = app.post(path, login(&kari), body).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (403, Some("forbidden")),
            "{path}: {problem}"
        );
    }
    let (status, problem) = app
        .post("/api/v1/bookings/x/approve", None, json!({}))
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (401, Some("unauthorized"))
    );
}

/// The window of a free-room search is checked even when no room has the seats asked for, and
/// a resident's mail language is one of the two documented codes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nonsense_is_refused_even_where_it_would_change_nothing() {
    let app = TestApp::sqlite().await;
    let (status, problem) = app
        .get(
            "/api/v1/availability?from=someday&to=later&capacity=100000",
            None,
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("invalid-time")),
        "{problem}"
    );
    for language in ["NB", "no", " en", ""] {
        let (status, problem) = app
            .post(
                "/api/v1/residents",
                None,
                json!({"email": "ola@example.no", "password": "a long passphrase", "name": "Ola",
                       "language": language}),
            )
            .await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (422, Some("invalid-field")),
            "{language:?}: {problem}"
        );
    }
    let (status, _) = app
        .post(
            "/api/v1/residents",
            None,
            json!({"email": "ola@example.no", "password": "a long passphrase", "name": "Ola",
                   "language": null}),
        )
        .await;
    assert_eq!(status, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_bookings_needs_mine_and_a_login() {
    let app = TestApp::sqlite().await;
    let kari = app.resident("kari@example.no").await;
    let (status, body) = app.get("/api/v1/bookings", Some((&kari.0, &kari.1))).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("mine-required")),
        "{body}"
    );
    let (status, _) = app.get("/api/v1/bookings?mine=true", None).await;
    assert_eq!(status, 401);
    let (status, body) = app
        .get("/api/v1/bookings?mine=true", Some((&kari.0, &kari.1)))
        .await;
    assert_eq!(status, 200, "{body}");
}
