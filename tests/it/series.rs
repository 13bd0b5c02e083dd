//! Series clarity (issue 16): a series refused because it reaches beyond the horizon, or has
//! more dates than may be booked at once, names the last date that can be booked now (in the
//! room's zone); the portal's form offers to book until that date.

use serde_json::json;

use crate::support::app::TestApp;
use crate::support::browser::{Browser, element, hidden};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_series_that_reaches_too_far_names_the_last_date_that_can_be_booked() {
    let app = TestApp::sqlite().await;
    let kari = app.resident("kari@example.no").await;
    let kari = Some((kari.0.as_str(), kari.1.as_str()));
    // Storsalen (hall): 180 days ahead from Monday 4 January 2027, so the last Thursday is
    // 1 July.
    let storsalen = app.room("Storsalen").await;
    let (status, problem) = app
        .post(
            "/api/v1/bookings",
            kari,
            json!({"room_id": storsalen, "start": "2027-01-07T18:00", "end": "2027-01-07T20:00",
                   "purpose": "Korøving", "attendees": 40, "recurrence": "FREQ=WEEKLY;UNTIL=20271230T235959"}),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["code"], "too-many-occurrences");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("the last date that can be booked now is 2027-07-01"),
        "{detail}"
    );
    assert!(detail.contains("UNTIL=20270701T235959"), "{detail}");
    // The most dates at once: Klubbrommet (club room) takes 40, so a daily series from
    // 6 January can run to 14 February.
    let klubbrommet = app.room("Klubbrommet").await;
    let (status, problem) = app
        .post(
            "/api/v1/bookings",
            kari,
            json!({"room_id": klubbrommet, "start": "2027-01-06T18:00", "end": "2027-01-06T20:00",
                   "purpose": "Øving", "attendees": 12, "recurrence": "FREQ=DAILY"}),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("more than 40 dates"), "{detail}");
    assert!(detail.contains("2027-02-14"), "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_form_offers_to_book_a_series_until_the_last_date_that_can_be_booked() {
    let app = TestApp::sqlite().await;
    let storsalen = app.room("Storsalen").await;
    let kari = Browser::new(&app);
    kari.register("Kari Nordmann", "kari@example.no").await;
    let form = kari.get(&format!("/halls/{storsalen}/book")).await;
    assert_eq!(form.status, 200);
    let csrf = hidden(&form.body, "csrf");
    let key = hidden(&form.body, "idempotency_key");
    let fields = [
        ("csrf", csrf.as_str()),
        ("idempotency_key", key.as_str()),
        ("date", "2027-01-07"),
        ("start", "18:00"),
        ("end", "20:00"),
        ("purpose", "Korøving"),
        ("attendees", "40"),
        ("repeat_until", "2027-12-30"),
    ];
    let mut sent = fields.to_vec();
    sent.push(("action", "submit"));
    let refused = kari.post(&format!("/halls/{storsalen}/book"), &sent).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    let error = element(&refused.body, "repeat_until-error", "p");
    assert!(error.contains("torsdag 1. juli 2027"), "{error}");
    let offer = element(&refused.body, "until-offer", "button");
    assert!(
        offer.contains(r#"name="until_offer" value="2027-07-01""#),
        "{offer}"
    );
    assert!(
        offer.contains("Book til og med torsdag 1. juli 2027"),
        "{offer}"
    );
    // The button sends the same form, ending on that date.
    let mut again = fields.to_vec();
    again.push(("until_offer", "2027-07-01"));
    let booked = kari.post(&format!("/halls/{storsalen}/book"), &again).await;
    assert_eq!(booked.status, 303, "{}", booked.body);
    let detail = kari.get(booked.location.as_deref().unwrap()).await;
    assert!(detail.body.contains("1. juli 2027"), "{}", detail.body);
    assert!(!detail.body.contains("8. juli 2027"));
}
