//! Closures that touch bookings (issue 16), through the real router on SQLite and PostgreSQL:
//! a closure lists the bookings and pending requests it hits (a dry run too), and the clerk
//! keeps each (with a reason, in its history) or cancels the dates hit (the slot is freed, the
//! other dates of a series stay).

use std::time::Duration;

use lokal::notify::Notifier;
use serde_json::{Value, json};

use crate::support::app::{TempDir, TestApp, test_config};
use crate::support::browser::{Browser, hidden};
use crate::support::postgres::Postgres;
use crate::support::smtp::SmtpSink;

const ERIK: (&str, &str) = ("erik.dahl", "erik-clerk-2027"); // clerk: Kulturhuset, Idrettshallen
const ASTRID: (&str, &str) = ("astrid.moen", "astrid-clerk-2027"); // clerk: Rådhuset, Fjordvik skole

fn login(l: &(String, String)) -> Option<(&str, &str)> {
    Some((l.0.as_str(), l.1.as_str()))
}

async fn book(app: &TestApp, who: &(String, String), body: Value) -> String {
    let (status, made) = app.post("/api/v1/bookings", login(who), body).await;
    assert_eq!(status, 201, "{made}");
    made["id"].as_str().unwrap().to_owned()
}

/// Three bookings in Lillesalen (Kulturhuset: Erik decides) that a closure from Wednesday 20
/// January 19:00 to Thursday 21 January 23:00 hits: Kari's approved weekly choir (its second
/// date, 20 January 18–20, overlaps the closure's first hour), Ola's pending request on the
/// Thursday morning and Kari's pending request on the Thursday evening.
struct Three {
    room: String,
    kari: (String, String),
    ola: (String, String),
    choir: String,
    morning: String,
    evening: String,
}

async fn three_bookings(app: &TestApp) -> Three {
    let kari = app.resident("kari@example.no").await;
    let ola = app.resident("ola@example.no").await;
    let room = app.room("Lillesalen").await;
    let choir = book(
        app,
        &kari,
        json!({"room_id": room, "start": "2027-01-13T18:00", "end": "2027-01-13T20:00",
               "purpose": "Korøvelse", "attendees": 30, "recurrence": "FREQ=WEEKLY;COUNT=4"}),
    )
    .await;
    let (status, approved) = app
        .post(
            &format!("/api/v1/bookings/{choir}/approve"),
            Some(ERIK),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{approved}");
    let morning = book(
        app,
        &ola,
        json!({"room_id": room, "start": "2027-01-21T10:00", "end": "2027-01-21T12:00",
               "purpose": "Styremøte", "attendees": 8}),
    )
    .await;
    let evening = book(
        app,
        &kari,
        json!({"room_id": room, "start": "2027-01-21T18:00", "end": "2027-01-21T20:00",
               "purpose": "Bursdag", "attendees": 20}),
    )
    .await;
    Three {
        room,
        kari,
        ola,
        choir,
        morning,
        evening,
    }
}

fn closure_body(room: &str) -> Value {
    json!({"room_id": room, "start": "2027-01-20T19:00", "end": "2027-01-21T23:00", "reason": "Gulvpolering"})
}

fn hit_ids(view: &Value) -> Vec<String> {
    view["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["booking_id"].as_str().unwrap().to_owned())
        .collect()
}

fn hit<'a>(view: &'a Value, id: &str) -> &'a Value {
    view["hits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["booking_id"] == id)
        .unwrap_or_else(|| panic!("{id} is not hit: {view}"))
}

async fn a_closure_lists_what_it_hits_and_the_clerk_keeps_or_cancels(app: &TestApp) {
    let t = three_bookings(app).await;
    let expected = vec![t.choir.clone(), t.morning.clone(), t.evening.clone()];

    // The dry run: what it would hit, nothing saved. Only clerks of the room.
    let (status, preview) = app
        .post(
            "/api/v1/closures/preview",
            Some(ERIK),
            closure_body(&t.room),
        )
        .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(hit_ids(&preview), expected, "{preview}");
    assert_eq!(preview["hits_total"], 3);
    assert_eq!(preview["hits_more"], 0);
    assert!(preview.get("id").is_none());
    let choir = hit(&preview, &t.choir);
    assert_eq!(choir["requester_name"], "Resident kari@example.no");
    assert_eq!(choir["purpose"], "Korøvelse");
    assert_eq!(
        choir["dates"],
        json!([{"seq": 1, "start": "2027-01-20T17:00:00Z", "end": "2027-01-20T19:00:00Z", "status": "approved"}])
    );
    assert_eq!(hit(&preview, &t.morning)["status"], "pending");
    for who in [login(&t.kari), Some(ASTRID)] {
        let (status, problem) = app
            .post("/api/v1/closures/preview", who, closure_body(&t.room))
            .await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (403, Some("forbidden")),
            "{problem}"
        );
    }
    // Nothing was saved: the room can still be asked for in that time.
    let (_, busy) = app
        .get(
            &format!(
                "/api/v1/rooms/{}/availability?from=2027-01-21&to=2027-01-22",
                t.room
            ),
            None,
        )
        .await;
    assert_eq!(busy["busy"].as_array().unwrap().len(), 2, "{busy}");
    // The world moves after the dry run: a request made meanwhile is hit too.
    let meanwhile = book(
        app,
        &t.ola,
        json!({"room_id": t.room, "start": "2027-01-21T14:00", "end": "2027-01-21T15:00",
               "purpose": "Kurs", "attendees": 5}),
    )
    .await;

    // Saved: the list as it is now, and again from its own address.
    let (status, made) = app
        .post("/api/v1/closures", Some(ERIK), closure_body(&t.room))
        .await;
    assert_eq!(status, 201, "{made}");
    let expected = vec![
        t.choir.clone(),
        t.morning.clone(),
        meanwhile.clone(),
        t.evening.clone(),
    ];
    assert_eq!(hit_ids(&made), expected);
    assert_eq!(made["affected"], json!(expected));
    assert_eq!(made["hits_total"], 4);
    let id = made["id"].as_str().unwrap().to_owned();
    let (status, again) = app
        .get(&format!("/api/v1/closures/{id}/bookings"), Some(ERIK))
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(hit_ids(&again), expected);
    for (who, code) in [(login(&t.kari), 403), (Some(ASTRID), 403)] {
        let (status, _) = app
            .get(&format!("/api/v1/closures/{id}/bookings"), who)
            .await;
        assert_eq!(status, code);
    }
    let (status, problem) = app
        .get("/api/v1/closures/no-such-closure/bookings", Some(ERIK))
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (404, Some("unknown-closure"))
    );

    let choose = |booking: &str| format!("/api/v1/closures/{id}/bookings/{booking}");
    // Only a clerk of the booking's room chooses.
    for who in [login(&t.kari), login(&t.ola), Some(ASTRID)] {
        let (status, problem) = app
            .post(
                &choose(&t.evening),
                who,
                json!({"decision": "cancel", "reason": "Nei"}),
            )
            .await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (403, Some("forbidden")),
            "{problem}"
        );
    }
    let (status, problem) = app
        .post(
            &choose("no-such-booking"),
            Some(ERIK),
            json!({"decision": "cancel"}),
        )
        .await;
    assert_eq!((status, problem["code"].as_str()), (404, Some("not-found")));
    let (status, problem) = app
        .post(
            "/api/v1/closures/no-such-closure/bookings/x",
            Some(ERIK),
            json!({"decision": "cancel"}),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (404, Some("unknown-closure"))
    );
    let (status, problem) = app
        .post(
            &choose(&t.choir),
            Some(ERIK),
            json!({"decision": "postpone"}),
        )
        .await;
    assert_eq!(status, 422, "{problem}");

    // Cancel: the choir's date in the closure is cancelled, its other dates stay approved,
    // and the slot is free (only the closure's own time is busy that evening).
    let (_, busy) = app
        .get(
            &format!(
                "/api/v1/rooms/{}/availability?from=2027-01-20&to=2027-01-21",
                t.room
            ),
            None,
        )
        .await;
    assert_eq!(busy["busy"][0]["start"], "2027-01-20T17:00:00Z", "{busy}");
    let (status, choir) = app
        .post(
            &choose(&t.choir),
            Some(ERIK),
            json!({"decision": "cancel", "reason": "Vi finner en annen sal til dere."}),
        )
        .await;
    assert_eq!(status, 200, "{choir}");
    assert_eq!(choir["decision"]["decision"], "cancel");
    assert_eq!(choir["dates"][0]["status"], "cancelled");
    let (_, booking) = app
        .get(&format!("/api/v1/bookings/{}", t.choir), login(&t.kari))
        .await;
    let statuses: Vec<&str> = booking["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["approved", "cancelled", "approved", "approved"]);
    assert_eq!(booking["status"], "approved");
    let reason = booking["occurrences"][1]["status_reason"].as_str().unwrap();
    assert!(
        reason.contains("Gulvpolering") && reason.contains("annen sal"),
        "{reason}"
    );
    let (_, busy) = app
        .get(
            &format!(
                "/api/v1/rooms/{}/availability?from=2027-01-20&to=2027-01-21",
                t.room
            ),
            None,
        )
        .await;
    assert_eq!(
        busy["busy"],
        json!([{"start": "2027-01-20T18:00:00Z", "end": "2027-01-20T23:00:00Z"}])
    );
    let (_, history) = app
        .get(
            &format!("/api/v1/bookings/{}/history", t.choir),
            login(&t.kari),
        )
        .await;
    let last = history["history"].as_array().unwrap().last().unwrap();
    assert_eq!(
        (&last["seq"], &last["from"], &last["to"]),
        (&json!(1), &json!("approved"), &json!("cancelled")),
        "{history}"
    );
    // The same choice again answers as the first; the other one is refused.
    let (status, same) = app
        .post(&choose(&t.choir), Some(ERIK), json!({"decision": "cancel"}))
        .await;
    assert_eq!(status, 200, "{same}");
    assert_eq!(same["decision"], choir["decision"]);
    let (status, problem) = app
        .post(
            &choose(&t.choir),
            Some(ERIK),
            json!({"decision": "keep", "reason": "Likevel"}),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("already-decided")),
        "{problem}"
    );

    // Keep: a reason is required, and it is recorded in the booking's history.
    let (status, problem) = app
        .post(
            &choose(&t.morning),
            Some(ERIK),
            json!({"decision": "keep", "reason": "  "}),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("reason-required"))
    );
    let (status, kept) = app
        .post(
            &choose(&t.morning),
            Some(ERIK),
            json!({"decision": "keep", "reason": "Polering starter først kl. 13 den dagen"}),
        )
        .await;
    assert_eq!(status, 200, "{kept}");
    assert_eq!(kept["decision"]["decision"], "keep");
    assert_eq!(kept["dates"][0]["status"], "pending");
    let (_, history) = app
        .get(
            &format!("/api/v1/bookings/{}/history", t.morning),
            login(&t.ola),
        )
        .await;
    let last = history["history"].as_array().unwrap().last().unwrap();
    assert_eq!(
        (&last["seq"], &last["from"], &last["to"]),
        (&json!(0), &json!("pending"), &json!("pending")),
        "{history}"
    );
    let note = last["reason"].as_str().unwrap();
    assert!(
        note.contains("Gulvpolering") && note.contains("kl. 13"),
        "{note}"
    );

    // The list shows the choices; the booking not decided yet has none.
    let (_, listed) = app
        .get(&format!("/api/v1/closures/{id}/bookings"), Some(ERIK))
        .await;
    assert_eq!(hit_ids(&listed), expected);
    assert_eq!(hit(&listed, &t.choir)["decision"]["decision"], "cancel");
    assert_eq!(hit(&listed, &t.morning)["decision"]["decision"], "keep");
    assert_eq!(hit(&listed, &t.evening)["decision"], Value::Null);

    // The requester cancels meanwhile: the clerk's cancel finds nothing left to cancel, and
    // says so without an error.
    let (status, _) = app
        .post(
            &format!("/api/v1/bookings/{meanwhile}/cancel"),
            login(&t.ola),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, late) = app
        .post(
            &choose(&meanwhile),
            Some(ERIK),
            json!({"decision": "cancel"}),
        )
        .await;
    assert_eq!(status, 200, "{late}");
    assert_eq!(late["dates"], json!([]), "{late}");
    let (_, history) = app
        .get(
            &format!("/api/v1/bookings/{meanwhile}/history"),
            login(&t.ola),
        )
        .await;
    assert_eq!(history["history"].as_array().unwrap().len(), 2, "{history}");

    // A booking the closure does not hit is not one to choose for.
    let elsewhere = book(
        app,
        &t.kari,
        json!({"room_id": t.room, "start": "2027-01-25T10:00", "end": "2027-01-25T12:00",
               "purpose": "Møte", "attendees": 5}),
    )
    .await;
    let (status, _) = app
        .post(
            &choose(&elsewhere),
            Some(ERIK),
            json!({"decision": "cancel"}),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closure_lists_what_it_hits_and_the_clerk_keeps_or_cancels_on_sqlite() {
    a_closure_lists_what_it_hits_and_the_clerk_keeps_or_cancels(&TestApp::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closure_lists_what_it_hits_and_the_clerk_keeps_or_cancels_on_postgres() {
    let pg = Postgres::start();
    let app = TestApp::start(test_config(&pg.url)).await;
    a_closure_lists_what_it_hits_and_the_clerk_keeps_or_cancels(&app).await;
}

async fn closing_a_half_hits_the_whole_halls_booking(app: &TestApp) {
    let kari = app.resident("kari@example.no").await;
    let whole = app.room("Gymsal A+B, (delbar)").await;
    let half = app.room("Gymsal A").await;
    let other_half = app.room("Gymsal B").await;
    let booking = book(
        app,
        &kari,
        json!({"room_id": whole, "start": "2027-01-20T18:00", "end": "2027-01-20T20:00",
               "purpose": "Håndball", "attendees": 20}),
    )
    .await;
    let (status, preview) = app
        .post(
            "/api/v1/closures/preview",
            Some(ASTRID),
            json!({"room_id": half, "start": "2027-01-20", "end": "2027-01-21", "reason": "Lekkasje"}),
        )
        .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(hit_ids(&preview), vec![booking.clone()]);
    assert_eq!(hit(&preview, &booking)["room_id"], json!(whole));
    // The other half is not closed by it.
    let (status, preview) = app
        .post(
            "/api/v1/closures/preview",
            Some(ASTRID),
            json!({"room_id": other_half, "start": "2027-01-21", "end": "2027-01-22", "reason": "Lekkasje"}),
        )
        .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["hits_total"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_a_half_hits_the_whole_halls_booking_on_sqlite() {
    closing_a_half_hits_the_whole_halls_booking(&TestApp::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_a_half_hits_the_whole_halls_booking_on_postgres() {
    let pg = Postgres::start();
    let app = TestApp::start(test_config(&pg.url)).await;
    closing_a_half_hits_the_whole_halls_booking(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_lists_the_bookings_a_closure_hits_and_takes_the_clerks_choice() {
    let app = TestApp::sqlite().await;
    let t = three_bookings(&app).await;
    let erik = Browser::signed_in(&app, ERIK.0, ERIK.1).await;
    let calendar = erik
        .get(&format!("/console/calendar?room={}&week=2027-W03", t.room))
        .await;
    assert_eq!(calendar.status, 200);
    let token = hidden(&calendar.body, "csrf");
    let made = erik
        .post(
            "/console/closures",
            &[
                ("csrf", &token),
                ("room", &t.room),
                ("start_date", "2027-01-20"),
                ("start_time", "19:00"),
                ("end_date", "2027-01-21"),
                ("end_time", "23:00"),
                ("reason", "Gulvpolering"),
            ],
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let location = made.location.clone().unwrap();
    assert!(
        location.starts_with("/console/closures/")
            && location.ends_with("?notice=closed&affected=3"),
        "{location}"
    );
    let page = erik.get(&location).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("3 bookinger berøres"), "{}", page.body);
    for id in [&t.choir, &t.morning, &t.evening] {
        assert!(
            page.body
                .contains(&format!(r#"href="/console/bookings/{id}""#)),
            "a link to {id}"
        );
        assert!(page.body.contains(&format!(r#"<label for="reason-{id}">"#)));
    }
    assert!(page.body.contains("Resident ola@example.no"));
    assert!(page.body.contains("<legend>"));
    assert!(page.body.contains("ons. 20.01.2027") || page.body.contains("20.01.2027"));
    let closure_path = location.split('?').next().unwrap().to_owned();
    let token = hidden(&page.body, "csrf");

    // Keep without a reason: the page again, the error linked to its field.
    let action = |id: &str| format!("{closure_path}/bookings/{id}");
    let refused = erik
        .post(
            &action(&t.morning),
            &[("csrf", &token), ("decision", "keep"), ("reason", "")],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused
            .body
            .contains(&format!(r##"href="#reason-{}""##, t.morning))
    );
    assert!(
        refused
            .body
            .contains(&format!(r#"id="reason-{}-error""#, t.morning))
    );
    // Without the form's token, nothing happens.
    let forged = erik
        .post(
            &action(&t.morning),
            &[("decision", "keep"), ("reason", "x")],
        )
        .await;
    assert_eq!(forged.status, 403);

    let kept = erik
        .post(
            &action(&t.morning),
            &[
                ("csrf", &token),
                ("decision", "keep"),
                ("reason", "Polering starter kl. 13"),
            ],
        )
        .await;
    assert_eq!(kept.status, 303, "{}", kept.body);
    let cancelled = erik
        .post(
            &action(&t.evening),
            &[
                ("csrf", &token),
                ("decision", "cancel"),
                ("reason", "Beklager!"),
            ],
        )
        .await;
    assert_eq!(cancelled.status, 303, "{}", cancelled.body);
    let page = erik.get(cancelled.location.as_deref().unwrap()).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Datoene er avlyst"), "{}", page.body);
    assert!(page.body.contains("Beholdt"));
    assert!(page.body.contains("Polering starter kl. 13"));
    // Only the choir still has its form.
    assert!(!page.body.contains(&format!(r#"id="reason-{}""#, t.morning)));
    assert!(page.body.contains(&format!(r#"id="reason-{}""#, t.choir)));
    let (_, evening) = app
        .get(&format!("/api/v1/bookings/{}", t.evening), login(&t.kari))
        .await;
    assert_eq!(evening["status"], "cancelled");
    // The booking's page shows the kept note in its history.
    let detail = erik.get(&format!("/console/bookings/{}", t.morning)).await;
    assert!(
        detail.body.contains("Polering starter kl. 13"),
        "{}",
        detail.body
    );

    // The calendar's list links the closure to its page, to come back to the list.
    let week = erik
        .get(&format!("/console/calendar?room={}&week=2027-W03", t.room))
        .await;
    assert!(
        week.body.contains(&format!(r#"href="{closure_path}""#)),
        "{}",
        week.body
    );

    // Another building's clerk cannot see it.
    let astrid = Browser::signed_in(&app, ASTRID.0, ASTRID.1).await;
    let page = astrid.get(&closure_path).await;
    assert_eq!(page.status, 403);
    let page = erik.get("/console/closures/no-such-closure").await;
    assert_eq!(page.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closure_over_many_bookings_lists_them_all_and_the_console_pages_them() {
    let app = TestApp::sqlite().await;
    let kari = app.resident("kari@example.no").await;
    // Klubbrommet (club room: booked at once, no quota; Erik decides): ten slots a day for
    // five days.
    let room = app.room("Klubbrommet").await;
    let mut ids = Vec::new();
    for day in 11..=15 {
        for slot in 0..10 {
            let start = 8 * 60 + slot * 90;
            let at = |m: u32| format!("2027-01-{day}T{:02}:{:02}", m / 60, m % 60);
            ids.push(
                book(
                    &app,
                    &kari,
                    json!({"room_id": room, "start": at(start), "end": at(start + 60),
                           "purpose": format!("Øving {day}/{slot}"), "attendees": 5}),
                )
                .await,
            );
        }
    }
    let (status, made) = app
        .post(
            "/api/v1/closures",
            Some(ERIK),
            json!({"room_id": room, "start": "2027-01-11", "end": "2027-01-16", "reason": "Oppussing"}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["hits_total"], 50);
    assert_eq!(made["hits_more"], 0);
    assert_eq!(hit_ids(&made), ids, "first date first");
    let id = made["id"].as_str().unwrap();

    let erik = Browser::signed_in(&app, ERIK.0, ERIK.1).await;
    let first = erik.get(&format!("/console/closures/{id}")).await;
    assert_eq!(first.status, 200);
    assert_eq!(
        first
            .body
            .matches(r#"<article class="request card""#)
            .count(),
        40
    );
    assert!(
        first.body.contains("Bookinger 1–40 av 50"),
        "{}",
        first.body
    );
    assert!(first.body.contains(&format!(
        r#"href="/console/closures/{id}?page=1" rel="next""#
    )));
    assert!(first.body.len() < 100_000, "{} bytes", first.body.len());
    let second = erik.get(&format!("/console/closures/{id}?page=1")).await;
    assert_eq!(
        second
            .body
            .matches(r#"<article class="request card""#)
            .count(),
        10
    );
    assert!(second.body.contains(&format!(r#"id="hit-{}""#, ids[49])));
    // A choice on the second page comes back to it.
    let token = hidden(&second.body, "csrf");
    let kept = erik
        .post(
            &format!("/console/closures/{id}/bookings/{}", ids[45]),
            &[
                ("csrf", &token),
                ("decision", "keep"),
                ("reason", "Rommet pusses opp etterpå"),
                ("page", "1"),
            ],
        )
        .await;
    assert_eq!(kept.status, 303);
    assert!(
        kept.location.as_deref().unwrap().contains("page=1#hit-"),
        "{:?}",
        kept.location
    );
    let garbage = erik.get(&format!("/console/closures/{id}?page=999")).await;
    assert_eq!(garbage.status, 200);
    let garbage = erik.get(&format!("/console/closures/{id}?page=x")).await;
    assert!((400..500).contains(&garbage.status));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_for_a_closure_mails_each_requester_the_dates_cancelled() {
    let sink = SmtpSink::start();
    let dir = TempDir::new("closures-mail");
    let url = format!("sqlite:{}", dir.0.join("lokal.db").display());
    let mut config = test_config(&url);
    config.notify.poll_interval_secs = 0.05;
    config.notify.mail = sink.mail_config();
    config.notify.mail_clerks = false;
    let app = TestApp::start(config.clone()).await;
    let worker = Notifier::new(&app.state, &config.notify, &config.server.public_base())
        .unwrap()
        .spawn();
    let t = three_bookings(&app).await;
    // The choir's receipt and approval, and a receipt for each request.
    let before = sink.wait_for(4, Duration::from_secs(20)).await.len();
    let (status, made) = app
        .post("/api/v1/closures", Some(ERIK), closure_body(&t.room))
        .await;
    assert_eq!(status, 201, "{made}");
    let id = made["id"].as_str().unwrap();
    for booking in [&t.choir, &t.morning, &t.evening] {
        let (status, hit) = app
            .post(
                &format!("/api/v1/closures/{id}/bookings/{booking}"),
                Some(ERIK),
                json!({"decision": "cancel", "reason": "Beklager ulempen."}),
            )
            .await;
        assert_eq!(status, 200, "{hit}");
    }
    let got = sink.wait_for(before + 3, Duration::from_secs(20)).await;
    let told: Vec<_> = got[before..].to_vec();
    assert_eq!(told.len(), 3, "{told:?}");
    for (mail, who) in told
        .iter()
        .zip(["kari@example.no", "ola@example.no", "kari@example.no"])
    {
        assert!(
            mail.envelope_to.iter().any(|t| t.eq_ignore_ascii_case(who)),
            "{who}: {:?}",
            mail.envelope_to
        );
        let text = mail.text();
        assert!(text.contains("Gulvpolering"), "{text}");
        assert!(text.contains("Beklager ulempen."), "{text}");
    }
    // The choir's mail cancels its one date in the closure, by RECURRENCE-ID.
    let calendars = told[0].calendars();
    assert_eq!(calendars.len(), 1);
    let ics = calendars[0].body.replace("\r\n ", "");
    assert!(ics.contains("METHOD:CANCEL"), "{ics}");
    assert!(
        ics.contains("RECURRENCE-ID;TZID=Europe/Oslo:20270120T180000"),
        "{ics}"
    );
    drop(worker);
}
