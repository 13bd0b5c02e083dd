//! Changing a booking (issue 16), through the real router on SQLite and PostgreSQL: a date
//! moves as a new decision of the core, the old slot kept until the new one is granted, in one
//! transaction; a one-date change tells the requester once, with an iMIP message for that date
//! (RECURRENCE-ID); 200 racing moves and bookings on two instances never overlap, and nobody
//! refused loses what they had.

use std::time::Duration;

use lokal::notify::Notifier;
use serde_json::{Value, json};

use crate::support::app::{TempDir, TestApp, test_config};
use crate::support::postgres::Postgres;
use crate::support::smtp::{Received, SmtpSink};

const ERIK: (&str, &str) = ("erik.dahl", "erik-clerk-2027"); // clerk: Kulturhuset

fn login(l: &(String, String)) -> Option<(&str, &str)> {
    Some((l.0.as_str(), l.1.as_str()))
}

fn date(booking: &Value, seq: i64) -> Value {
    booking["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["seq"] == seq)
        .cloned()
        .unwrap_or(Value::Null)
}

/// A booking of Klubbrommet (club room: anybody books directly) on `day`, 18:00–20:00.
async fn club_evening(app: &TestApp, who: &(String, String), day: &str) -> (u16, Value) {
    let room = app.room("Klubbrommet").await;
    app.post(
        "/api/v1/bookings",
        login(who),
        json!({"room_id": room, "start": format!("{day}T18:00"), "end": format!("{day}T20:00"),
               "purpose": "Sjakk", "attendees": 8}),
    )
    .await
}

async fn moving_a_date_frees_the_old_slot_and_takes_the_new(app: &TestApp) {
    let kari = app.resident("kari@example.no").await;
    let ola = app.resident("ola@example.no").await;
    let (status, created) = club_evening(app, &kari, "2027-01-06").await;
    assert_eq!(status, 201, "{created}");
    let id = created["booking"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["booking"]["status"], "approved");

    // To a free evening: moved at once, still approved.
    let (status, moved) = app
        .post(
            &format!("/api/v1/bookings/{id}/occurrences/0/move"),
            login(&kari),
            json!({"start": "2027-01-07T18:00", "end": "2027-01-07T20:00"}),
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["status"], "approved");
    assert_eq!(moved["occurrences"].as_array().unwrap().len(), 1);
    assert_eq!(date(&moved, 0)["start"], "2027-01-07T17:00:00Z");
    assert_eq!(moved["local_start"], "2027-01-07T18:00");
    // The old evening is free for Ola; the new one is Kari's.
    let (status, body) = club_evening(app, &ola, "2027-01-06").await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = club_evening(app, &ola, "2027-01-07").await;
    assert_eq!((status, body["code"].as_str()), (409, Some("conflict")));

    // To a taken evening: refused with the core's reason, and nothing changes.
    let (status, refused) = app
        .post(
            &format!("/api/v1/bookings/{id}/occurrences/0/move"),
            login(&kari),
            json!({"start": "2027-01-06T18:30", "end": "2027-01-06T20:30"}),
        )
        .await;
    assert_eq!((status, refused["code"].as_str()), (409, Some("conflict")));
    let (_, seen) = app
        .get(&format!("/api/v1/bookings/{id}"), login(&kari))
        .await;
    assert_eq!(date(&seen, 0)["start"], "2027-01-07T17:00:00Z");
    assert_eq!(seen["status"], "approved");
    // Outside opening hours: refused, with why.
    let (status, refused) = app
        .post(
            &format!("/api/v1/bookings/{id}/occurrences/0/move"),
            login(&kari),
            json!({"start": "2027-01-08T05:00", "end": "2027-01-08T07:00"}),
        )
        .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (422, Some("outside-opening-hours")),
        "{refused}"
    );

    // Somebody else's booking is not theirs to move; bad input is a clear 4xx.
    let (status, _) = app
        .post(
            &format!("/api/v1/bookings/{id}/occurrences/0/move"),
            login(&ola),
            json!({"start": "2027-01-09T18:00", "end": "2027-01-09T20:00"}),
        )
        .await;
    assert_eq!(status, 404);
    for (seq, body, want) in [
        (
            "3",
            json!({"start": "2027-01-09T18:00", "end": "2027-01-09T20:00"}),
            404,
        ),
        (
            "x",
            json!({"start": "2027-01-09T18:00", "end": "2027-01-09T20:00"}),
            404,
        ),
        (
            "0",
            json!({"start": "soon", "end": "2027-01-09T20:00"}),
            422,
        ),
        (
            "0",
            json!({"start": "2027-01-09T20:00", "end": "2027-01-09T18:00"}),
            422,
        ),
        ("0", json!({"start": "2027-01-09T18:00"}), 422),
    ] {
        let (status, problem) = app
            .post(
                &format!("/api/v1/bookings/{id}/occurrences/{seq}/move"),
                login(&kari),
                body.clone(),
            )
            .await;
        assert_eq!(status, want, "{seq} {body}: {problem}");
        assert!(problem["detail"].is_string(), "{problem}");
    }
    // The trail says from where to where.
    let (_, history) = app
        .get(&format!("/api/v1/bookings/{id}/history"), login(&kari))
        .await;
    let last = history["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["seq"], 0);
    assert_eq!(
        last["reason"],
        "moved from 2027-01-06 18:00–20:00 to 2027-01-07 18:00–20:00"
    );
    // A cancelled date cannot move.
    let (status, _) = app
        .post(
            &format!("/api/v1/bookings/{id}/cancel"),
            login(&kari),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, problem) = app
        .post(
            &format!("/api/v1/bookings/{id}/occurrences/0/move"),
            login(&kari),
            json!({"start": "2027-01-09T18:00", "end": "2027-01-09T20:00"}),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("wrong-status"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_a_date_frees_the_old_slot_and_takes_the_new_on_sqlite() {
    moving_a_date_frees_the_old_slot_and_takes_the_new(&TestApp::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_a_date_frees_the_old_slot_and_takes_the_new_on_postgres() {
    let pg = Postgres::start();
    let app = TestApp::start(test_config(&pg.url)).await;
    moving_a_date_frees_the_old_slot_and_takes_the_new(&app).await;
}

/// Ten Wednesdays 18:00–20:00 in Lillesalen (a clerk decides residents' requests) from
/// 13 January 2027, approved by Erik; returns the booking's id.
async fn approved_choir(app: &TestApp, kari: &(String, String)) -> String {
    let room = app.room("Lillesalen").await;
    let (status, body) = app
        .post(
            "/api/v1/bookings",
            login(kari),
            json!({"room_id": room, "start": "2027-01-13T18:00", "end": "2027-01-13T20:00",
                   "purpose": "Korøvelse", "attendees": 30, "recurrence": "FREQ=WEEKLY;COUNT=10"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["booking"]["id"].as_str().unwrap().to_owned();
    let (status, body) = app
        .post(
            &format!("/api/v1/bookings/{id}/approve"),
            Some(ERIK),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    id
}

async fn a_change_that_needs_the_clerk_keeps_the_old_date_until_approved(app: &TestApp) {
    let kari = app.resident("kari@example.no").await;
    let ola = app.resident("ola@example.no").await;
    let id = approved_choir(app, &kari).await;
    let room = app.room("Lillesalen").await;

    // Kari moves the third Wednesday (27 January) to the Thursday: a resident's new time in a
    // hall needs a clerk, so the Wednesday stays hers and the Thursday waits, held.
    let (status, asked) = app
        .post(
            &format!("/api/v1/bookings/{id}/occurrences/2/move"),
            login(&kari),
            json!({"start": "2027-01-28T18:00", "end": "2027-01-28T20:00"}),
        )
        .await;
    assert_eq!(status, 200, "{asked}");
    assert_eq!(asked["status"], "pending");
    assert_eq!(date(&asked, 2)["status"], "approved");
    let new = date(&asked, 10);
    assert_eq!(
        (
            new["status"].clone(),
            new["replaces"].clone(),
            new["start"].clone()
        ),
        (json!("pending"), json!(2), json!("2027-01-28T17:00:00Z"))
    );
    assert_eq!(asked["summary"], "10 approved, 1 pending");
    // Nobody takes either evening meanwhile.
    for day in ["2027-01-27", "2027-01-28"] {
        let (status, body) = app
            .post(
                "/api/v1/bookings",
                login(&ola),
                json!({"room_id": room, "start": format!("{day}T18:00"), "end": format!("{day}T20:00"),
                       "purpose": "Strikking", "attendees": 10}),
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (409, Some("conflict")),
            "{day}"
        );
    }
    // A second change of the same date waits for the first.
    let (status, problem) = app
        .post(
            &format!("/api/v1/bookings/{id}/occurrences/2/move"),
            login(&kari),
            json!({"start": "2027-01-29T18:00", "end": "2027-01-29T20:00"}),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("change-waiting"))
    );
    // The waiting change itself cannot move (a clerk decides it first, or it is cancelled).
    let (status, problem) = app
        .post(
            &format!("/api/v1/bookings/{id}/occurrences/10/move"),
            login(&kari),
            json!({"start": "2027-01-29T18:00", "end": "2027-01-29T20:00"}),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("change-waiting"))
    );
    // A new time overlapping the date it would replace cannot be held beside it.
    let (status, problem) = app
        .post(
            &format!("/api/v1/bookings/{id}/occurrences/3/move"),
            login(&kari),
            json!({"start": "2027-02-03T19:00", "end": "2027-02-03T21:00"}),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("change-overlaps"))
    );

    // The console tells Erik which date approving it cancels.
    let erik = crate::support::browser::Browser::signed_in(app, ERIK.0, ERIK.1).await;
    let page = erik.get(&format!("/console/bookings/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let row = crate::support::browser::element(&page.body, "date-row-10", "tr");
    assert!(
        row.contains("Flytting av ons. 27.01.2027 18:00–20:00"),
        "{row}"
    );
    // Erik approves the change: the Thursday is hers, the Wednesday is free, in one go.
    let (status, approved) = app
        .post(
            &format!("/api/v1/bookings/{id}/approve"),
            Some(ERIK),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["status"], "approved");
    assert_eq!(date(&approved, 10)["status"], "approved");
    assert_eq!(date(&approved, 2)["status"], "cancelled");
    assert_eq!(
        date(&approved, 2)["status_reason"],
        "moved to 2027-01-28 18:00"
    );
    let (status, body) = app
        .post(
            "/api/v1/bookings",
            login(&ola),
            json!({"room_id": room, "start": "2027-01-27T18:00", "end": "2027-01-27T20:00",
                   "purpose": "Strikking", "attendees": 10}),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    // A change Erik rejects leaves the date as it was.
    let (status, asked) = app
        .post(
            &format!("/api/v1/bookings/{id}/occurrences/4/move"),
            login(&kari),
            json!({"start": "2027-02-11T18:00", "end": "2027-02-11T20:00"}),
        )
        .await;
    assert_eq!(status, 200, "{asked}");
    let (status, rejected) = app
        .post(
            &format!("/api/v1/bookings/{id}/occurrences/11/reject"),
            Some(ERIK),
            json!({"reason": "Torsdagene er fulle"}),
        )
        .await;
    assert_eq!(status, 200, "{rejected}");
    assert_eq!(rejected["status"], "approved");
    assert_eq!(date(&rejected, 4)["status"], "approved");
    assert_eq!(date(&rejected, 4)["start"], "2027-02-10T17:00:00Z");
    assert_eq!(date(&rejected, 11)["status"], "rejected");
    let store = lokal::startup::store_of(&app.state);
    assert_eq!(store.overlapping_pairs().await.unwrap(), 0);

    // A date that has begun is history: it does not move.
    app.clock
        .advance(chrono::TimeDelta::days(10) + chrono::TimeDelta::hours(9));
    let (status, problem) = app
        .post(
            &format!("/api/v1/bookings/{id}/occurrences/0/move"),
            login(&kari),
            json!({"start": "2027-02-25T18:00", "end": "2027-02-25T20:00"}),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("date-passed"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_that_needs_the_clerk_keeps_the_old_date_until_approved_on_sqlite() {
    a_change_that_needs_the_clerk_keeps_the_old_date_until_approved(&TestApp::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_that_needs_the_clerk_keeps_the_old_date_until_approved_on_postgres() {
    let pg = Postgres::start();
    let app = TestApp::start(test_config(&pg.url)).await;
    a_change_that_needs_the_clerk_keeps_the_old_date_until_approved(&app).await;
}

// --- what the requester is told ---

fn to_kari(m: &Received) -> bool {
    m.envelope_to
        .iter()
        .any(|t| t.eq_ignore_ascii_case("kari@example.no"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_cancelled_date_is_mailed_once_with_a_cancel_for_that_date() {
    let sink = SmtpSink::start();
    let dir = TempDir::new("changes-mail");
    let url = format!("sqlite:{}", dir.0.join("lokal.db").display());
    let mut config = test_config(&url);
    config.notify.poll_interval_secs = 0.05;
    config.notify.mail = sink.mail_config();
    config.notify.mail_clerks = false;
    let app = TestApp::start(config.clone()).await;
    let worker = Notifier::new(&app.state, &config.notify, &config.server.public_base())
        .unwrap()
        .spawn();
    let kari = app.resident("kari@example.no").await;
    let id = approved_choir(&app, &kari).await;
    // The receipt and the approval.
    let got = sink.wait_for(2, Duration::from_secs(20)).await;
    assert!(got.iter().all(to_kari), "{got:?}");

    // Kari cancels the fifth Wednesday (10 February).
    let (status, after) = app
        .post(
            &format!("/api/v1/bookings/{id}/occurrences/4/cancel"),
            login(&kari),
            json!({"reason": "Koret tar vinterferie"}),
        )
        .await;
    assert_eq!(status, 200, "{after}");
    let got = sink.wait_for(3, Duration::from_secs(20)).await;
    let mail = got.last().unwrap();
    assert!(to_kari(mail));
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("Én dato avlyst: Lillesalen")
    );
    let text = mail.text();
    assert!(
        text.contains("onsdag 10. februar 2027 18:00–20:00"),
        "{text}"
    );
    assert!(
        text.contains("Begrunnelse: Koret tar vinterferie"),
        "{text}"
    );
    let calendars = mail.calendars();
    assert_eq!(calendars.len(), 1, "{text}");
    assert_eq!(
        calendars[0]
            .params
            .get("method")
            .map(|m| m.to_uppercase())
            .as_deref(),
        Some("CANCEL")
    );
    let ics = calendars[0].body.replace("\r\n ", "");
    assert!(ics.contains(&format!("UID:{id}@lokal")), "{ics}");
    assert!(
        ics.contains("RECURRENCE-ID;TZID=Europe/Oslo:20270210T180000"),
        "{ics}"
    );
    assert_eq!(ics.matches("BEGIN:VEVENT").count(), 1, "{ics}");
    assert!(!ics.contains("RRULE"), "{ics}");
    // The room's CalDAV calendar: the series without that date (an EXDATE at its local time).
    let room = app.room("Lillesalen").await;
    let object = app
        .client
        .get(format!(
            "{}/dav/calendars/rooms/{room}/calendar/{id}.ics",
            app.base
        ))
        .basic_auth(ERIK.0, Some(ERIK.1))
        .send()
        .await
        .unwrap();
    assert_eq!(object.status(), 200);
    let object = object.text().await.unwrap().replace("\r\n ", "");
    assert!(object.contains("RRULE:"), "{object}");
    let exdates: Vec<&str> = object.lines().filter(|l| l.starts_with("EXDATE")).collect();
    assert!(
        exdates.iter().any(|l| l.contains("20270210T180000")),
        "{object}"
    );
    assert!(
        !exdates.iter().any(|l| l.contains("20270217T180000")),
        "{object}"
    );

    // Erik rejects nothing and approves nothing more: no other mail follows. A rejected
    // last waiting date of a series with approved dates is told as a rejected date, not as
    // an approval of the booking.
    let (status, _) = app
        .post(
            &format!("/api/v1/bookings/{id}/occurrences/5/move"),
            login(&kari),
            json!({"start": "2027-02-18T18:00", "end": "2027-02-18T20:00"}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .post(
            &format!("/api/v1/bookings/{id}/occurrences/10/reject"),
            Some(ERIK),
            json!({"reason": "Torsdagene er fulle"}),
        )
        .await;
    assert_eq!(status, 200);
    let got = sink.wait_for(4, Duration::from_secs(20)).await;
    worker.stop().await;
    let mail = got.last().unwrap();
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("Én dato avslått: Lillesalen")
    );
    assert!(
        mail.text().contains("Torsdagene er fulle"),
        "{}",
        mail.text()
    );
    assert!(mail.calendars().is_empty());
    assert_eq!(sink.received().len(), 4, "{:?}", sink.received());
}

// --- racing moves and bookings ---

const RACERS: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_moves_and_bookings_on_two_instances_never_overlap() {
    let pg = Postgres::start();
    let one = TestApp::start(test_config(&pg.url)).await;
    let two = TestApp::start(test_config(&pg.url)).await;
    let apps = [&one, &two];
    let room = one.room("Klubbrommet").await;
    let mover = one.resident("mover@example.no").await;
    let booker = one.resident("booker@example.no").await;
    // Warm both instances' credential caches.
    for app in apps {
        for who in [&mover, &booker] {
            let (status, _) = app.get("/api/v1/bookings?mine=true", login(who)).await;
            assert_eq!(status, 200);
        }
    }
    // Twenty evenings the mover holds, 11 to 30 January.
    let mut held = Vec::new();
    for day in 11..=30 {
        let (status, body) = club_evening(&one, &mover, &format!("2027-01-{day:02}")).await;
        assert_eq!(status, 201, "{body}");
        held.push((
            body["booking"]["id"].as_str().unwrap().to_owned(),
            format!("2027-01-{day:02}T18:00"),
        ));
    }
    // Every request wants an overlapping slot on 1 February: half move one of the held
    // evenings there, half ask anew.
    let starts = ["17:00", "17:30", "18:00", "18:30"];
    let ends = ["19:00", "19:30", "20:00", "20:30"];
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let app = apps[i % 2];
        let slot = json!({"start": format!("2027-02-01T{}", starts[i % 4]),
                          "end": format!("2027-02-01T{}", ends[i % 4])});
        let request = if i % 2 == 0 {
            let (id, _) = &held[(i / 2) % held.len()];
            app.client
                .post(format!(
                    "{}/api/v1/bookings/{id}/occurrences/0/move",
                    app.base
                ))
                .basic_auth(&mover.0, Some(&mover.1))
                .json(&slot)
        } else {
            let mut body = slot.clone();
            body["room_id"] = json!(room);
            body["purpose"] = json!(format!("request {i}"));
            body["attendees"] = json!(5);
            app.client
                .post(format!("{}/api/v1/bookings", app.base))
                .basic_auth(&booker.0, Some(&booker.1))
                .json(&body)
        };
        tasks.push(tokio::spawn(async move {
            crate::support::app::read(request.send().await.unwrap()).await
        }));
    }
    // The winners, by booking: a booking that moved there may move again within the slot it
    // holds (it does not conflict with itself), so one booking may win several times.
    let mut won = std::collections::BTreeSet::new();
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            200 => {
                won.insert(body["id"].as_str().unwrap().to_owned());
            }
            201 => {
                won.insert(body["booking"]["id"].as_str().unwrap().to_owned());
            }
            409 => assert_eq!(body["code"], "conflict", "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(
        won.len(),
        1,
        "every slot overlaps every other: one booking wins: {won:?}"
    );
    let store = lokal::startup::store_of(&one.state);
    assert_eq!(store.overlapping_pairs().await.unwrap(), 0);
    // Every held evening is still held, where it was, except the one that moved (if a move
    // won); nobody refused lost anything.
    let mut moved = 0;
    for (id, start) in &held {
        let (_, b) = one
            .get(&format!("/api/v1/bookings/{id}"), login(&mover))
            .await;
        assert_eq!(b["status"], "approved", "{b}");
        if b["local_start"].as_str().unwrap().starts_with("2027-02-01") {
            moved += 1;
        } else {
            assert_eq!(b["local_start"], *start, "{b}");
        }
    }
    assert!(moved <= 1);
    let (_, busy) = one
        .get(
            &format!("/api/v1/rooms/{room}/availability?from=2027-02-01&to=2027-02-02"),
            None,
        )
        .await;
    assert_eq!(busy["busy"].as_array().unwrap().len(), 1, "{busy}");
}

async fn patch(app: &TestApp, path: &str, who: &(String, String), body: Value) -> (u16, Value) {
    let response = app
        .client
        .patch(format!("{}{path}", app.base))
        .basic_auth(&who.0, Some(&who.1))
        .json(&body)
        .send()
        .await
        .unwrap();
    crate::support::app::read(response).await
}

async fn more_people_are_checked_against_the_room_and_a_purpose_changes(app: &TestApp) {
    let kari = app.resident("kari@example.no").await;
    let ola = app.resident("ola@example.no").await;
    let (status, created) = club_evening(app, &kari, "2027-01-06").await;
    assert_eq!(status, 201, "{created}");
    let id = created["booking"]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/bookings/{id}");

    let (status, changed) = patch(
        app,
        &path,
        &kari,
        json!({"attendees": 12, "purpose": "Sjakk og kaffe"}),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(
        (changed["attendees"].clone(), changed["purpose"].clone()),
        (json!(12), json!("Sjakk og kaffe"))
    );
    assert_eq!(changed["status"], "approved");
    // Klubbrommet holds 30: more is refused, and nothing changes.
    let (status, refused) = patch(app, &path, &kari, json!({"attendees": 31})).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (422, Some("over-capacity")),
        "{refused}"
    );
    let (_, seen) = app.get(&path, login(&kari)).await;
    assert_eq!(seen["attendees"], 12);
    for (body, code) in [
        (json!({}), "nothing-to-change"),
        (json!({"purpose": "   "}), "invalid-purpose"),
        (json!({"attendees": 0}), "invalid-attendees"),
    ] {
        let (status, problem) = patch(app, &path, &kari, body.clone()).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (422, Some(code)),
            "{body}"
        );
    }
    let (status, _) = patch(app, &path, &ola, json!({"attendees": 2})).await;
    assert_eq!(status, 404);
    // The trail says what changed.
    let (_, history) = app.get(&format!("{path}/history"), login(&kari)).await;
    let last = history["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        last["reason"],
        "changed attendees 8 → 12; purpose: Sjakk og kaffe"
    );
    // A cancelled booking is not changed.
    let (status, _) = app
        .post(&format!("{path}/cancel"), login(&kari), json!({}))
        .await;
    assert_eq!(status, 200);
    let (status, problem) = patch(app, &path, &kari, json!({"attendees": 3})).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("wrong-status"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_people_are_checked_against_the_room_and_a_purpose_changes_on_sqlite() {
    more_people_are_checked_against_the_room_and_a_purpose_changes(&TestApp::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_people_are_checked_against_the_room_and_a_purpose_changes_on_postgres() {
    let pg = Postgres::start();
    let app = TestApp::start(test_config(&pg.url)).await;
    more_people_are_checked_against_the_room_and_a_purpose_changes(&app).await;
}
