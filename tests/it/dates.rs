//! Decisions per date (issue 16), through the real router on SQLite and PostgreSQL: approving
//! asks the core again, date by date; a date is approved, rejected or cancelled on its own; the
//! booking's status follows its dates.

use serde_json::{Value, json};

use crate::support::app::{TestApp, test_config};
use crate::support::browser::{Browser, element, hidden};
use crate::support::postgres::Postgres;

const ERIK: (&str, &str) = ("erik.dahl", "erik-clerk-2027"); // clerk: Kulturhuset, Idrettshallen
const ASTRID: (&str, &str) = ("astrid.moen", "astrid-clerk-2027"); // clerk: Rådhuset, Fjordvik skole

fn login(l: &(String, String)) -> Option<(&str, &str)> {
    Some((l.0.as_str(), l.1.as_str()))
}

/// Ten Wednesdays 18:00–20:00 in Lillesalen (Kulturhuset, hall policy: a clerk decides), from
/// 13 January 2027; returns the pending booking.
async fn choir_series(app: &TestApp, who: &(String, String)) -> Value {
    let room = app.room("Lillesalen").await;
    let (status, body) = app
        .post(
            "/api/v1/bookings",
            login(who),
            json!({"room_id": room, "start": "2027-01-13T18:00", "end": "2027-01-13T20:00",
                   "purpose": "Korøvelse", "attendees": 30, "recurrence": "FREQ=WEEKLY;COUNT=10"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "pending", "{body}");
    assert_eq!(body["occurrences"].as_array().unwrap().len(), 10);
    body["booking"].clone()
}

fn statuses(booking: &Value) -> Vec<String> {
    booking["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap().to_owned())
        .collect()
}

async fn on_postgres() -> (Postgres, TestApp) {
    let pg = Postgres::start();
    let app = TestApp::start(test_config(&pg.url)).await;
    (pg, app)
}

// --- a closure made after the request ---

async fn approving_a_series_skips_the_date_closed_since(app: &TestApp) {
    let kari = app.resident("kari@example.no").await;
    let series = choir_series(app, &kari).await;
    let id = series["id"].as_str().unwrap();
    let room = series["room_id"].as_str().unwrap();
    // The hall is closed on the third Wednesday, after the request came.
    let (status, _) = app
        .post(
            "/api/v1/closures",
            Some(ERIK),
            json!({"room_id": room, "start": "2027-01-27", "end": "2027-01-28", "reason": "Gulvpolering"}),
        )
        .await;
    assert_eq!(status, 201);

    let (status, approved) = app
        .post(
            &format!("/api/v1/bookings/{id}/approve"),
            Some(ERIK),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["status"], "approved");
    let mut expected = vec!["approved".to_owned(); 10];
    expected[2] = "rejected".into();
    assert_eq!(statuses(&approved), expected);
    let closed = &approved["occurrences"][2];
    assert_eq!(closed["start"], "2027-01-27T17:00:00Z");
    assert_eq!(closed["reasons"][0]["code"], "closure", "{closed}");
    assert!(
        closed["status_reason"]
            .as_str()
            .unwrap()
            .contains("Gulvpolering"),
        "{closed}"
    );
    assert!(
        approved["occurrences"][3]["reasons"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(approved["summary"], "9 approved, 1 rejected");

    // The requester sees the same; the history names the refused date.
    let (_, seen) = app
        .get(&format!("/api/v1/bookings/{id}"), login(&kari))
        .await;
    assert_eq!(seen["summary"], "9 approved, 1 rejected");
    let (_, history) = app
        .get(&format!("/api/v1/bookings/{id}/history"), login(&kari))
        .await;
    let rows: Vec<(Value, Value, Value)> = history["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["seq"].clone(), h["from"].clone(), h["to"].clone()))
        .collect();
    assert_eq!(
        rows,
        [
            (Value::Null, Value::Null, json!("pending")),
            (json!(2), json!("pending"), json!("rejected")),
            (Value::Null, json!("pending"), json!("approved")),
        ]
    );
    // Nothing waits any more: approving again is refused.
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
async fn approving_a_series_skips_the_date_closed_since_on_sqlite() {
    approving_a_series_skips_the_date_closed_since(&TestApp::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approving_a_series_skips_the_date_closed_since_on_postgres() {
    let (_pg, app) = on_postgres().await;
    approving_a_series_skips_the_date_closed_since(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_booking_on_a_date_closed_since_cannot_be_approved_and_says_why() {
    let app = TestApp::sqlite().await;
    let kari = app.resident("kari@example.no").await;
    let room = app.room("Storsalen").await;
    let (_, created) = app
        .post(
            "/api/v1/bookings",
            login(&kari),
            json!({"room_id": room, "start": "2027-01-13T18:00", "end": "2027-01-13T20:00", "purpose": "Kor", "attendees": 30}),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    app.post(
        "/api/v1/closures",
        Some(ERIK),
        json!({"room_id": room, "start": "2027-01-13", "end": "2027-01-14", "reason": "Vannlekkasje"}),
    )
    .await;
    let (status, problem) = app
        .post(
            &format!("/api/v1/bookings/{id}/approve"),
            Some(ERIK),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("closure")),
        "{problem}"
    );
    assert!(
        problem["detail"].as_str().unwrap().contains("Vannlekkasje"),
        "{problem}"
    );
    // Nothing was written: still pending, for the clerk to reject.
    let (_, seen) = app
        .get(&format!("/api/v1/bookings/{id}"), login(&kari))
        .await;
    assert_eq!(seen["status"], "pending");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_the_closed_date_disabled_with_why_and_approves_the_rest() {
    let app = TestApp::sqlite().await;
    let kari = app.resident("kari@example.no").await;
    let series = choir_series(&app, &kari).await;
    let id = series["id"].as_str().unwrap();
    let room = series["room_id"].as_str().unwrap();
    app.post(
        "/api/v1/closures",
        Some(ERIK),
        json!({"room_id": room, "start": "2027-01-27", "end": "2027-01-28", "reason": "Gulvpolering"}),
    )
    .await;

    let erik = Browser::signed_in(&app, ERIK.0, ERIK.1).await;
    let detail = erik.get(&format!("/console/bookings/{id}")).await;
    assert_eq!(detail.status, 200, "{}", detail.body);
    let closed = element(&detail.body, "date-row-2", "tr");
    assert!(closed.contains("disabled"), "{closed}");
    assert!(closed.contains("Kan ikke godkjennes"), "{closed}");
    assert!(closed.contains("Gulvpolering"), "{closed}");
    let open = element(&detail.body, "date-row-3", "tr");
    assert!(!open.contains("disabled"), "{open}");
    assert!(detail.body.contains("10 til behandling"), "the summary");

    // "Approve selected": the first two dates only.
    let csrf = hidden(&detail.body, "csrf");
    let done = erik
        .post(
            &format!("/console/bookings/{id}/dates"),
            &[
                ("csrf", &csrf),
                ("d0", "on"),
                ("d1", "on"),
                ("action", "approve"),
            ],
        )
        .await;
    assert_eq!(
        done.location.as_deref(),
        Some(format!("/console/bookings/{id}?notice=dates-approved").as_str()),
        "{}",
        done.body
    );
    let (_, seen) = app
        .get(&format!("/api/v1/bookings/{id}"), login(&kari))
        .await;
    assert_eq!(seen["summary"], "2 approved, 8 pending");
    assert_eq!(seen["status"], "pending");

    // "Godkjenn" on the whole request: the rest is approved, the closed date rejected.
    let done = erik
        .post(
            &format!("/console/bookings/{id}/approve"),
            &[("csrf", &csrf), ("from", "detail")],
        )
        .await;
    assert_eq!(
        done.location.as_deref(),
        Some(format!("/console/bookings/{id}?notice=approved-some").as_str())
    );
    let after = erik.get(done.location.as_deref().unwrap()).await;
    assert!(after.body.contains("ikke alle datoene"), "{}", after.body);
    assert!(
        after.body.contains("9 godkjent, 1 avslått"),
        "{}",
        after.body
    );
    let closed = element(&after.body, "date-row-2", "tr");
    assert!(closed.contains("Avslått"), "{closed}");
    assert!(closed.contains("Gulvpolering"), "{closed}");
    let (_, seen) = app
        .get(&format!("/api/v1/bookings/{id}"), login(&kari))
        .await;
    assert_eq!(seen["status"], "approved");
    assert_eq!(seen["summary"], "9 approved, 1 rejected");

    // A picked date can be rejected on its own, with a reason; no reason, no rejection.
    let csrf = hidden(&after.body, "csrf");
    let refused = erik
        .post(
            &format!("/console/bookings/{id}/dates"),
            &[("csrf", &csrf), ("d5", "on"), ("action", "cancel")],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains("Skriv en begrunnelse"),
        "{}",
        refused.body
    );
    let cancelled = erik
        .post(
            &format!("/console/bookings/{id}/dates"),
            &[
                ("csrf", &csrf),
                ("d5", "on"),
                ("action", "cancel"),
                ("reason", "Kommunestyremøte"),
            ],
        )
        .await;
    assert_eq!(cancelled.status, 303, "{}", cancelled.body);
    let (_, seen) = app
        .get(&format!("/api/v1/bookings/{id}"), login(&kari))
        .await;
    assert_eq!(seen["summary"], "8 approved, 1 rejected, 1 cancelled");
    assert_eq!(seen["occurrences"][5]["status_reason"], "Kommunestyremøte");
}

// --- the requester cancels one date ---

async fn a_resident_cancels_one_date_and_the_others_stay(app: &TestApp) {
    let kari = app.resident("kari@example.no").await;
    let series = choir_series(app, &kari).await;
    let id = series["id"].as_str().unwrap();
    let room = series["room_id"].as_str().unwrap();
    let (status, _) = app
        .post(
            &format!("/api/v1/bookings/{id}/approve"),
            Some(ERIK),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);

    let (status, after) = app
        .post(
            &format!("/api/v1/bookings/{id}/occurrences/4/cancel"),
            login(&kari),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["status"], "approved");
    let mut expected = vec!["approved".to_owned(); 10];
    expected[4] = "cancelled".into();
    assert_eq!(statuses(&after), expected);
    assert_eq!(after["summary"], "9 approved, 1 cancelled");
    assert_eq!(
        after["occurrences"][4]["status_reason"],
        "cancelled by the requester"
    );
    // Once is enough.
    let (status, problem) = app
        .post(
            &format!("/api/v1/bookings/{id}/occurrences/4/cancel"),
            login(&kari),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("wrong-status"))
    );
    // A date that does not exist.
    for seq in ["10", "-1", "x"] {
        let (status, problem) = app
            .post(
                &format!("/api/v1/bookings/{id}/occurrences/{seq}/cancel"),
                login(&kari),
                json!({}),
            )
            .await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (404, Some("not-found")),
            "{seq}"
        );
    }
    // The room's public feed shows the series without that date (an EXDATE at its local time).
    let feed = app
        .client
        .get(format!("{}/feeds/rooms/{room}.ics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let unfolded = feed.replace("\r\n ", "");
    assert!(unfolded.contains(&format!("UID:{id}@lokal")), "{feed}");
    let exdates: Vec<&str> = unfolded
        .lines()
        .filter(|l| l.starts_with("EXDATE"))
        .collect();
    assert!(
        exdates.iter().any(|l| l.contains("20270210T180000")),
        "the cancelled date is an exception: {feed}"
    );
    assert!(
        !exdates.iter().any(|l| l.contains("20270217T180000")),
        "the next week stays: {feed}"
    );
    // The date's slot is free for somebody else; the next week's is not.
    let ola = app.resident("ola@example.no").await;
    let (status, body) = app
        .post(
            "/api/v1/bookings",
            login(&ola),
            json!({"room_id": room, "start": "2027-02-10T18:00", "end": "2027-02-10T20:00", "purpose": "Strikking", "attendees": 10}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, _) = app
        .post(
            "/api/v1/bookings",
            login(&ola),
            json!({"room_id": room, "start": "2027-02-17T18:00", "end": "2027-02-17T20:00", "purpose": "Strikking", "attendees": 10}),
        )
        .await;
    assert_eq!(status, 409);
    // The history has the one date's change, and the booking's status did not move.
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
            last["seq"].clone(),
            last["from"].clone(),
            last["to"].clone()
        ),
        (json!(4), json!("approved"), json!("cancelled"))
    );
    assert!(last["actor"].as_str().unwrap().starts_with("resident:"));
    // Cancelling every other date cancels the booking.
    for seq in [0, 1, 2, 3, 5, 6, 7, 8, 9] {
        let (status, _) = app
            .post(
                &format!("/api/v1/bookings/{id}/occurrences/{seq}/cancel"),
                login(&kari),
                json!({"reason": "Koret tar pause"}),
            )
            .await;
        assert_eq!(status, 200);
    }
    let (_, seen) = app
        .get(&format!("/api/v1/bookings/{id}"), login(&kari))
        .await;
    assert_eq!(seen["status"], "cancelled");
    assert_eq!(seen["summary"], "10 cancelled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_cancels_one_date_and_the_others_stay_on_sqlite() {
    a_resident_cancels_one_date_and_the_others_stay(&TestApp::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_cancels_one_date_and_the_others_stay_on_postgres() {
    let (_pg, app) = on_postgres().await;
    a_resident_cancels_one_date_and_the_others_stay(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_portal_asks_before_cancelling_one_date_or_a_whole_series() {
    let app = TestApp::sqlite().await;
    let kari = app.resident("kari@example.no").await;
    let series = choir_series(&app, &kari).await;
    let id = series["id"].as_str().unwrap();
    app.post(
        &format!("/api/v1/bookings/{id}/approve"),
        Some(ERIK),
        json!({}),
    )
    .await;

    let browser = Browser::signed_in(&app, &kari.0, &kari.1).await;
    let page = browser.get(&format!("/my/bookings/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    // No one-tap cancel of the series: a link to a confirmation, and one per date.
    assert!(
        !page.body.contains(&format!(
            r#"<form method="post" action="/my/bookings/{id}/cancel""#
        )),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(&format!(r#"href="/my/bookings/{id}/cancel""#))
    );
    let link = format!("/my/bookings/{id}/dates/4/cancel");
    assert!(
        page.body.contains(&format!(r#"href="{link}""#)),
        "{}",
        page.body
    );
    assert!(page.body.contains("10 godkjent"), "the summary");

    let confirm = browser.get(&link).await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    let question = element(&confirm.body, "confirm-question", "p");
    assert!(question.contains("Lillesalen"), "{question}");
    assert!(question.contains("De andre datoene beholdes"), "{question}");
    // Nothing happened yet.
    let (_, seen) = app
        .get(&format!("/api/v1/bookings/{id}"), login(&kari))
        .await;
    assert_eq!(seen["summary"], "10 approved");

    let done = browser
        .post(&link, &[("csrf", &hidden(&confirm.body, "csrf"))])
        .await;
    assert_eq!(
        done.location.as_deref(),
        Some(format!("/my/bookings/{id}?notice=date-cancelled").as_str())
    );
    let after = browser.get(done.location.as_deref().unwrap()).await;
    assert!(after.body.contains("Datoen er avlyst"), "{}", after.body);
    assert!(
        after.body.contains("9 godkjent, 1 avlyst"),
        "{}",
        after.body
    );
    assert!(!after.body.contains(&format!(r#"href="{link}""#)));

    // The whole series asks too, naming how many dates go.
    let whole = browser.get(&format!("/my/bookings/{id}/cancel")).await;
    assert_eq!(whole.status, 200);
    assert!(
        element(&whole.body, "confirm-question", "p").contains("alle 9 datoene"),
        "{}",
        whole.body
    );
    // Another resident gets neither page nor cancellation.
    let ola = app.resident("ola@example.no").await;
    let other = Browser::signed_in(&app, &ola.0, &ola.1).await;
    assert_eq!(other.get(&link.replace("/4/", "/5/")).await.status, 404);
    let csrf = hidden(&other.get("/my/bookings").await.body, "csrf");
    let refused = other
        .post(&link.replace("/4/", "/5/"), &[("csrf", &csrf)])
        .await;
    assert_eq!(refused.status, 404);
    let (_, seen) = app
        .get(&format!("/api/v1/bookings/{id}"), login(&kari))
        .await;
    assert_eq!(seen["summary"], "9 approved, 1 cancelled");
}

// --- who may decide ---

async fn only_the_requester_and_the_rooms_clerks_touch_its_dates(app: &TestApp) {
    let kari = app.resident("kari@example.no").await;
    let ola = app.resident("ola@example.no").await;
    let series = choir_series(app, &kari).await;
    let id = series["id"].as_str().unwrap();
    let date = |seq: u32, what: &str| format!("/api/v1/bookings/{id}/occurrences/{seq}/{what}");

    // A resident decides nothing, not even on their own request.
    let (status, _) = app.post(&date(0, "approve"), login(&kari), json!({})).await;
    assert_eq!(status, 403);
    let (status, _) = app
        .post(
            &format!("/api/v1/bookings/{id}/approve"),
            login(&kari),
            json!({}),
        )
        .await;
    assert_eq!(status, 403);
    // Another resident cannot even see the dates.
    let (status, problem) = app.post(&date(0, "cancel"), login(&ola), json!({})).await;
    assert_eq!((status, problem["code"].as_str()), (404, Some("not-found")));
    let (status, _) = app
        .post(&date(0, "reject"), login(&ola), json!({"reason": "Nei"}))
        .await;
    assert_eq!(status, 403);
    // A clerk of another building decides nothing here.
    let (status, problem) = app.post(&date(0, "approve"), Some(ASTRID), json!({})).await;
    assert_eq!((status, problem["code"].as_str()), (403, Some("forbidden")));
    let (status, _) = app
        .post(&date(1, "reject"), Some(ASTRID), json!({"reason": "Nei"}))
        .await;
    assert_eq!(status, 403);
    let (status, _) = app.post(&date(1, "cancel"), Some(ASTRID), json!({})).await;
    assert_eq!(status, 404);
    let (_, seen) = app
        .get(&format!("/api/v1/bookings/{id}"), login(&kari))
        .await;
    assert_eq!(seen["summary"], "10 pending");

    // The room's clerk: one date approved, one rejected with a reason; the rest wait.
    let (status, body) = app.post(&date(0, "approve"), Some(ERIK), json!({})).await;
    assert_eq!(status, 200, "{body}");
    let (status, problem) = app
        .post(&date(1, "reject"), Some(ERIK), json!({"reason": " "}))
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("reason-required"))
    );
    let (status, body) = app
        .post(
            &date(1, "reject"),
            Some(ERIK),
            json!({"reason": "Salen er leid ut til konsert"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "pending");
    assert_eq!(body["summary"], "1 approved, 8 pending, 1 rejected");
    assert_eq!(
        body["occurrences"][1]["status_reason"],
        "Salen er leid ut til konsert"
    );
    // A date already decided is not decided again.
    let (status, problem) = app.post(&date(1, "approve"), Some(ERIK), json!({})).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("wrong-status"))
    );
    let (status, problem) = app
        .post(
            &format!("/api/v1/bookings/{id}/approve"),
            Some(ERIK),
            json!({"dates": [2, 1]}),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("wrong-status"))
    );
    let (status, problem) = app
        .post(
            &format!("/api/v1/bookings/{id}/approve"),
            Some(ERIK),
            json!({"dates": []}),
        )
        .await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("no-dates")));
    // The rest, named.
    let (status, body) = app
        .post(
            &format!("/api/v1/bookings/{id}/approve"),
            Some(ERIK),
            json!({"dates": [2, 3, 4, 5, 6, 7, 8, 9]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "approved");
    assert_eq!(body["summary"], "9 approved, 1 rejected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_requester_and_the_rooms_clerks_touch_its_dates_on_sqlite() {
    only_the_requester_and_the_rooms_clerks_touch_its_dates(&TestApp::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_requester_and_the_rooms_clerks_touch_its_dates_on_postgres() {
    let (_pg, app) = on_postgres().await;
    only_the_requester_and_the_rooms_clerks_touch_its_dates(&app).await;
}

// --- a stale approval ---

async fn a_stale_approval_does_not_double_book(app: &TestApp) {
    let kari = app.resident("kari@example.no").await;
    let ola = app.resident("ola@example.no").await;
    let series = choir_series(app, &kari).await;
    let id = series["id"].as_str().unwrap().to_owned();
    let room = series["room_id"].as_str().unwrap().to_owned();
    // The clerk's page was read while the request still held its dates; its hold ran out
    // since (the expiry job has not run), and Ola asks for the second Wednesday while the
    // clerk approves the series.
    app.clock.set("2027-01-11T10:00:00Z".parse().unwrap());
    let approve_path = format!("/api/v1/bookings/{id}/approve");
    let approve = app.post(&approve_path, Some(ERIK), json!({}));
    let book = app.post(
        "/api/v1/bookings",
        login(&ola),
        json!({"room_id": room, "start": "2027-01-20T18:00", "end": "2027-01-20T20:00", "purpose": "Strikking", "attendees": 10}),
    );
    let ((approved, problem), (booked, body)) = tokio::join!(approve, book);
    assert_eq!(booked, 201, "{body}");
    assert_eq!(
        (approved, problem["code"].as_str()),
        (409, Some("wrong-status")),
        "{problem}"
    );
    let (_, seen) = app
        .get(&format!("/api/v1/bookings/{id}"), login(&kari))
        .await;
    assert_eq!(seen["status"], "expired");
    // The same through one date: refused, and nothing overlaps.
    let (status, _) = app
        .post(
            &format!("/api/v1/bookings/{id}/occurrences/1/approve"),
            Some(ERIK),
            json!({}),
        )
        .await;
    assert_eq!(status, 409);
    let pairs = lokal::startup::store_of(&app.state)
        .overlapping_pairs()
        .await
        .unwrap();
    assert_eq!(pairs, 0);
    let (_, olas) = app
        .get(
            &format!("/api/v1/bookings/{}", body["id"].as_str().unwrap()),
            login(&ola),
        )
        .await;
    assert_eq!(olas["status"], "pending");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_approval_does_not_double_book_on_sqlite() {
    a_stale_approval_does_not_double_book(&TestApp::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_approval_does_not_double_book_on_postgres() {
    let (_pg, app) = on_postgres().await;
    a_stale_approval_does_not_double_book(&app).await;
}

// --- out of policy ---

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_date_out_of_policy_needs_a_recorded_override_from_a_clerk_allowed_to() {
    let app = TestApp::sqlite().await;
    let room = app.room("Storsalen").await;
    // Astrid (bookingkontoret) may ask out of policy: a Sunday evening, after closing time.
    let (status, created) = app
        .post(
            "/api/v1/bookings",
            Some(ASTRID),
            json!({"room_id": room, "start": "2027-01-17T19:00", "end": "2027-01-17T21:00", "purpose": "Dugnadsmøte", "attendees": 20}),
        )
        .await;
    assert_eq!(
        (status, created["status"].as_str()),
        (201, Some("pending")),
        "{created}"
    );
    let id = created["id"].as_str().unwrap();
    // A plain approval leaves it waiting and says why.
    let (status, problem) = app
        .post(
            &format!("/api/v1/bookings/{id}/approve"),
            Some(ERIK),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("outside-opening-hours")),
        "{problem}"
    );
    let (status, problem) = app
        .post(
            &format!("/api/v1/bookings/{id}/approve"),
            Some(ERIK),
            json!({"override_reason": "  "}),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("reason-required"))
    );
    // Erik is in bookingkontoret: he may, and the history says who and why.
    let (status, body) = app
        .post(
            &format!("/api/v1/bookings/{id}/approve"),
            Some(ERIK),
            json!({"override_reason": "Vaktmester er på jobb til 22"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "approved");
    assert_eq!(
        body["occurrences"][0]["reasons"][0]["code"],
        "outside-opening-hours"
    );
    let (_, history) = app
        .get(&format!("/api/v1/bookings/{id}/history"), Some(ERIK))
        .await;
    let last = history["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["to"], "approved");
    assert!(last["actor"].as_str().unwrap().starts_with("staff:"));
    // The override is the date's own row: who, and why.
    let date_row = history["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["seq"] == 0)
        .unwrap_or_else(|| panic!("no row about the date: {history}"));
    assert_eq!(
        (date_row["from"].as_str(), date_row["to"].as_str()),
        (Some("pending"), Some("approved"))
    );
    assert!(date_row["actor"].as_str().unwrap().starts_with("staff:"));
    let override_text = date_row["reason"].as_str().unwrap();
    assert!(override_text.contains("Erik Dahl"), "{override_text}");
    assert!(
        override_text.contains("Vaktmester er på jobb til 22"),
        "{override_text}"
    );
    let (_, seen) = app.get(&format!("/api/v1/bookings/{id}"), Some(ERIK)).await;
    let why = seen["occurrences"][0]["status_reason"].as_str().unwrap();
    assert!(why.contains("Erik Dahl"), "{why}");
    assert!(why.contains("Vaktmester er på jobb til 22"), "{why}");
}
