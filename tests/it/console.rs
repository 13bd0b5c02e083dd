//! The clerks' console through the real router, driven like a browser: cookies kept by hand,
//! the CSRF token read out of each form, forms posted urlencoded, redirects looked at rather
//! than followed.

use serde_json::{Value, json};

use crate::support::app::TestApp;
use crate::support::browser::{Browser, element, hidden};

const ERIK: (&str, &str) = ("erik.dahl", "erik-clerk-2027"); // clerk: Kulturhuset, Idrettshallen
const ASTRID: (&str, &str) = ("astrid.moen", "astrid-clerk-2027"); // clerk: Rådhuset, Fjordvik skole
const INGRID: (&str, &str) = ("ingrid.berg", "ingrid-demo-2027"); // staff, not a clerk

fn login(l: &(String, String)) -> Option<(&str, &str)> {
    Some((l.0.as_str(), l.1.as_str()))
}

/// A resident's request through the API; returns the booking.
async fn request(
    app: &TestApp,
    who: &(String, String),
    room: &str,
    start: &str,
    end: &str,
) -> Value {
    let (status, body) = app
        .post(
            "/api/v1/bookings",
            login(who),
            json!({"room_id": room, "start": start, "end": end, "purpose": "Korøvelse", "attendees": 40}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body
}

async fn status_of(app: &TestApp, who: &(String, String), id: &str) -> Value {
    let (status, body) = app.get(&format!("/api/v1/bookings/{id}"), login(who)).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_appears_in_its_clerks_queue_with_conflicts_and_competitors_and_is_approved() {
    let app = TestApp::sqlite().await;
    let kari = app.resident("kari@example.no").await;
    let ola = app.resident("ola@example.no").await;
    let storsalen = app.room("Storsalen").await;
    let mine = request(
        &app,
        &kari,
        &storsalen,
        "2027-01-13T18:00",
        "2027-01-13T21:00",
    )
    .await;
    assert_eq!(mine["status"], "pending");
    let id = mine["id"].as_str().unwrap();
    let other = request(
        &app,
        &ola,
        &storsalen,
        "2027-01-13T10:00",
        "2027-01-13T12:00",
    )
    .await;
    let other_id = other["id"].as_str().unwrap();
    // A closure added after the request overlaps its teardown buffer (a closure over the
    // booked time itself would make it impossible to approve: tests/it/dates.rs).
    let (status, _) = app
        .post(
            "/api/v1/closures",
            Some(ERIK),
            json!({"room_id": storsalen, "start": "2027-01-13T21:00", "end": "2027-01-13T23:00", "reason": "Lydsjekk"}),
        )
        .await;
    assert_eq!(status, 201);

    let erik = Browser::signed_in(&app, ERIK.0, ERIK.1).await;
    let queue = erik.get("/console").await;
    assert_eq!(queue.status, 200, "{}", queue.body);
    let card = element(&queue.body, &format!("request-{id}"), "article");
    assert!(card.contains(&format!(r#"aria-labelledby="request-{id}-title""#)));
    assert!(card.contains("Storsalen"), "{card}");
    assert!(card.contains("Resident kari@example.no"), "{card}");
    assert!(card.contains("Korøvelse"));
    assert!(card.contains("Må avgjøres innen"));
    assert!(
        card.contains("stengt – Lydsjekk"),
        "the closure conflict: {card}"
    );
    assert!(
        card.contains(&format!(r#"href="/console/bookings/{other_id}""#)),
        "the competing request: {card}"
    );
    assert!(card.contains("Resident ola@example.no"));
    assert!(card.contains(">Godkjenn</button>"));
    assert!(card.contains(&format!(r#"id="template-{id}""#)));
    assert!(card.contains(&format!(r#"id="reason-{id}""#)));

    let done = erik
        .post(
            &format!("/console/bookings/{id}/approve"),
            &[("csrf", &hidden(&queue.body, "csrf"))],
        )
        .await;
    assert_eq!(
        (done.status, done.location.as_deref()),
        (303, Some("/console?notice=approved"))
    );
    let after = erik.get(done.location.as_deref().unwrap()).await;
    assert!(
        after
            .body
            .contains(r#"role="status"><p>Søknaden er godkjent"#),
        "{}",
        after.body
    );
    assert!(!after.body.contains(&format!(r#"id="request-{id}""#)));
    assert_eq!(status_of(&app, &kari, id).await["status"], "approved");

    // Deciding it again is refused with a message, not an error page.
    let again = erik
        .post(
            &format!("/console/bookings/{id}/approve"),
            &[("csrf", &hidden(&queue.body, "csrf"))],
        )
        .await;
    assert_eq!(again.status, 409);
    assert!(again.body.contains("allerede avgjort"), "{}", again.body);

    // The detail shows the audit trail: pending → approved, by the clerk.
    let detail = erik.get(&format!("/console/bookings/{id}")).await;
    assert_eq!(detail.status, 200);
    let history = &detail.body[detail.body.find("<table class=\"history\"").unwrap()..];
    assert!(history.contains("<caption>"));
    assert!(
        history.contains("<td>Erik Dahl (deg)</td><td>Til behandling</td><td>Godkjent</td>"),
        "{history}"
    );
    assert!(
        history.contains("(søkeren)</td><td>–</td><td>Til behandling</td>"),
        "{history}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_takes_a_template_or_free_text_and_needs_one_of_them() {
    let app = TestApp::sqlite().await;
    let kari = app.resident("kari@example.no").await;
    let storsalen = app.room("Storsalen").await;
    let first = request(
        &app,
        &kari,
        &storsalen,
        "2027-01-13T18:00",
        "2027-01-13T21:00",
    )
    .await;
    let first = first["id"].as_str().unwrap();
    let second = request(
        &app,
        &kari,
        &storsalen,
        "2027-01-14T18:00",
        "2027-01-14T21:00",
    )
    .await;
    let second = second["id"].as_str().unwrap();
    let erik = Browser::signed_in(&app, ERIK.0, ERIK.1).await;
    let token = hidden(&erik.get("/console").await.body, "csrf");

    // Neither: the queue again, with the error linked to that request's reason field.
    let refused = erik
        .post(
            &format!("/console/bookings/{first}/reject"),
            &[("csrf", &token), ("template", ""), ("reason", "  ")],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused
            .body
            .contains(&format!(r##"href="#reason-{first}""##)),
        "{}",
        refused.body
    );
    assert!(
        refused
            .body
            .contains(&format!(r#"id="reason-{first}-error""#))
    );
    assert_eq!(status_of(&app, &kari, first).await["status"], "pending");
    // "Other" without text is not a reason either.
    let refused = erik
        .post(
            &format!("/console/bookings/{first}/reject"),
            &[("csrf", &token), ("template", "other"), ("reason", "")],
        )
        .await;
    assert_eq!(refused.status, 422);

    let done = erik
        .post(
            &format!("/console/bookings/{first}/reject"),
            &[("csrf", &token), ("template", "busy"), ("reason", "")],
        )
        .await;
    assert_eq!(
        (done.status, done.location.as_deref()),
        (303, Some("/console?notice=rejected"))
    );
    let b = status_of(&app, &kari, first).await;
    assert_eq!(
        (b["status"].as_str(), b["status_reason"].as_str()),
        (Some("rejected"), Some("Lokalet er opptatt"))
    );

    // Free text wins over the template.
    let done = erik
        .post(
            &format!("/console/bookings/{second}/reject"),
            &[
                ("csrf", &token),
                ("template", "hours"),
                ("reason", "Salen pusses opp"),
            ],
        )
        .await;
    assert_eq!(done.status, 303);
    assert_eq!(
        status_of(&app, &kari, second).await["status_reason"],
        "Salen pusses opp"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_clerks_of_the_room_see_and_decide_and_forms_need_their_token() {
    let app = TestApp::sqlite().await;
    let kari = app.resident("kari@example.no").await;
    let storsalen = app.room("Storsalen").await;
    let b = request(
        &app,
        &kari,
        &storsalen,
        "2027-01-13T18:00",
        "2027-01-13T21:00",
    )
    .await;
    let id = b["id"].as_str().unwrap();

    let anonymous = Browser::new(&app);
    let page = anonymous.get("/console").await;
    assert_eq!(
        (page.status, page.location.as_deref()),
        (303, Some("/login?next=/console"))
    );

    for (who, password) in [INGRID, (kari.0.as_str(), kari.1.as_str())] {
        let browser = Browser::signed_in(&app, who, password).await;
        for path in ["/console", "/console/calendar", "/console/search?q=kari"] {
            assert_eq!(browser.get(path).await.status, 403, "{who} on {path}");
        }
    }
    // Residents have no calendar links; staff do.
    let resident = Browser::signed_in(&app, &kari.0, &kari.1).await;
    assert_eq!(resident.get("/console/calendars").await.status, 403);
    let ingrid = Browser::signed_in(&app, INGRID.0, INGRID.1).await;
    assert_eq!(ingrid.get("/console/calendars").await.status, 200);

    // Another building's clerk neither sees nor decides it.
    let astrid = Browser::signed_in(&app, ASTRID.0, ASTRID.1).await;
    let queue = astrid.get("/console").await;
    assert_eq!(queue.status, 200);
    assert!(!queue.body.contains(id));
    assert!(queue.body.contains("Ingen søknader venter"));
    assert_eq!(
        astrid.get(&format!("/console/bookings/{id}")).await.status,
        404
    );
    let token = hidden(&queue.body, "csrf");
    let refused = astrid
        .post(
            &format!("/console/bookings/{id}/approve"),
            &[("csrf", &token)],
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    let refused = astrid
        .post(
            &format!("/console/bookings/{id}/reject"),
            &[("csrf", &token), ("template", "busy")],
        )
        .await;
    assert_eq!(refused.status, 403);
    let refused = astrid
        .post(
            &format!("/console/bookings/{id}/cancel"),
            &[("csrf", &token), ("reason", "x")],
        )
        .await;
    assert_eq!(refused.status, 404);
    let found = astrid.get("/console/search?q=kari").await;
    assert!(!found.body.contains(id));
    assert_eq!(status_of(&app, &kari, id).await["status"], "pending");

    // Without the form's token, nothing happens.
    let erik = Browser::signed_in(&app, ERIK.0, ERIK.1).await;
    let forged = erik
        .post(&format!("/console/bookings/{id}/approve"), &[])
        .await;
    assert_eq!(forged.status, 403);
    let forged = erik
        .post(
            &format!("/console/bookings/{id}/approve"),
            &[("csrf", "not-the-token")],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(status_of(&app, &kari, id).await["status"], "pending");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closure_made_with_the_form_makes_the_room_busy_and_shows_in_the_calendar() {
    let app = TestApp::sqlite().await;
    let kari = app.resident("kari@example.no").await;
    let storsalen = app.room("Storsalen").await;
    let hit = request(
        &app,
        &kari,
        &storsalen,
        "2027-01-20T18:00",
        "2027-01-20T20:00",
    )
    .await;
    let erik = Browser::signed_in(&app, ERIK.0, ERIK.1).await;
    let calendar = erik
        .get(&format!("/console/calendar?room={storsalen}&week=2027-W03"))
        .await;
    assert_eq!(calendar.status, 200, "{}", calendar.body);
    assert!(calendar.body.contains("<caption"));
    assert!(
        calendar
            .body
            .contains(r#"data-date="2027-01-20" data-hour="18""#)
    );
    assert!(
        calendar.body.contains("Resident kari@example.no"),
        "the pending request is in the week"
    );
    let token = hidden(&calendar.body, "csrf");

    let made = erik
        .post(
            "/console/closures",
            &[
                ("csrf", &token),
                ("room", &storsalen),
                ("start_date", "2027-01-20"),
                ("start_time", "17:00"),
                ("end_date", "2027-01-20"),
                ("end_time", "23:00"),
                ("reason", "Vannlekkasje"),
            ],
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    // The closure's page, listing the booking it hits.
    let location = made.location.clone().unwrap_or_default();
    assert!(
        location.starts_with("/console/closures/")
            && location.ends_with("?notice=closed&affected=1"),
        "{location}"
    );
    let (_, busy) = app
        .get(
            &format!("/api/v1/rooms/{storsalen}/availability?from=2027-01-20&to=2027-01-21"),
            None,
        )
        .await;
    assert_eq!(
        busy["busy"],
        json!([{"start": "2027-01-20T16:00:00Z", "end": "2027-01-20T22:00:00Z"}])
    );
    let after = erik.get(&location).await;
    assert!(after.body.contains("Én booking berøres"), "{}", after.body);
    let hit_id = hit["id"].as_str().unwrap_or_default();
    assert!(
        after
            .body
            .contains(&format!(r#"href="/console/bookings/{hit_id}""#))
    );
    let week = erik
        .get(&format!("/console/calendar?room={storsalen}&week=2027-W03"))
        .await;
    assert!(week.body.contains("Stengt: Vannlekkasje"));
    let _ = hit;

    // A whole building's week stays a light page.
    let building = erik
        .get("/console/calendar?building=Kulturhuset&week=2027-W03")
        .await;
    assert_eq!(building.status, 200);
    assert!(building.body.contains("Stengt: Vannlekkasje"));
    assert!(
        building.body.len() < 100_000,
        "{} bytes",
        building.body.len()
    );

    // Bad input: the form again with linked errors, or a 4xx page; never a 500.
    let bad = erik
        .post(
            "/console/closures",
            &[
                ("csrf", &token),
                ("room", &storsalen),
                ("start_date", "2027-01-21"),
                ("start_time", "18:00"),
                ("end_date", "2027-01-21"),
                ("end_time", "17:00"),
                ("reason", ""),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains(r##"href="#end_time""##));
    assert!(bad.body.contains(r#"id="reason-error""#));
    let bad = erik
        .post(
            "/console/closures",
            &[
                ("csrf", &token),
                ("room", &storsalen),
                ("start_date", "igår"),
                ("start_time", "25:99"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    for path in [
        "/console/calendar?week=garbage".to_owned(),
        "/console/calendar?week=2027-W99".to_owned(),
        "/console/calendar?room=no-such-room".to_owned(),
        "/console/calendar?building=Nowhere".to_owned(),
        "/console/bookings/no-such-booking".to_owned(),
        "/console/search?date=2027-13-45".to_owned(),
    ] {
        let page = erik.get(&path).await;
        assert!((400..500).contains(&page.status), "{path}: {}", page.status);
    }
    // Another building's clerk cannot close this room.
    let astrid = Browser::signed_in(&app, ASTRID.0, ASTRID.1).await;
    let token = hidden(&astrid.get("/console/calendar").await.body, "csrf");
    let refused = astrid
        .post(
            "/console/closures",
            &[
                ("csrf", &token),
                ("room", &storsalen),
                ("start_date", "2027-01-22"),
                ("start_time", "10:00"),
                ("end_date", "2027-01-22"),
                ("end_time", "12:00"),
                ("reason", "Nei"),
            ],
        )
        .await;
    assert_eq!(refused.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_bookings_by_part_of_the_email_and_by_date_in_the_clerks_rooms_only() {
    search_suite(TestApp::sqlite().await).await;
}

#[tokio::test]
async fn search_finds_the_same_on_postgres() {
    let pg = crate::support::postgres::Postgres::start();
    search_suite(TestApp::start(crate::support::app::test_config(&pg.url)).await).await;
}

/// The console's search, on the store `app` runs on.
async fn search_suite(app: TestApp) {
    let kari = app.resident("kari.nordmann@example.no").await;
    let storsalen = app.room("Storsalen").await;
    let b = request(
        &app,
        &kari,
        &storsalen,
        "2027-01-13T18:00",
        "2027-01-13T21:00",
    )
    .await;
    let id = b["id"].as_str().unwrap();
    let link = format!(r#"href="/console/bookings/{id}""#);
    let erik = Browser::signed_in(&app, ERIK.0, ERIK.1).await;
    for query in [
        "q=NORDMANN%40EX",
        "q=nordmann",
        "date=2027-01-13",
        &format!("room={storsalen}&date=2027-01-13"),
    ] {
        let page = erik.get(&format!("/console/search?{query}")).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains(&link), "{query}: {}", page.body);
    }
    for query in ["q=ola", "date=2027-01-14", "q=%25", "q=_"] {
        let page = erik.get(&format!("/console/search?{query}")).await;
        assert!(!page.body.contains(&link), "{query}");
        assert!(page.body.contains("Fant ingen bookinger"), "{query}");
    }
    let astrid = Browser::signed_in(&app, ASTRID.0, ASTRID.1).await;
    let page = astrid.get("/console/search?q=nordmann").await;
    assert!(!page.body.contains(&link));
}

/// The hrefs in a PROPFIND answer.
async fn followed(app: &TestApp) -> Vec<String> {
    let response = reqwest::Client::new()
        .request(
            reqwest::Method::from_bytes(b"PROPFIND").unwrap(),
            format!("{}/dav/calendars/users/erik.dahl/", app.base),
        )
        .basic_auth(ERIK.0, Some(ERIK.1))
        .header("Depth", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 207);
    let xml = response.text().await.unwrap();
    xml.split("<d:href>")
        .chain(xml.split("<D:href>"))
        .chain(xml.split("<href>"))
        .skip(1)
        .filter_map(|s| s.split('<').next())
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn following_and_unfollowing_a_room_changes_the_calendar_home() {
    let app = TestApp::sqlite().await;
    let storsalen = app.room("Storsalen").await;
    let href = format!("/dav/calendars/users/erik.dahl/{storsalen}/");
    let before = followed(&app).await;
    assert!(before.contains(&href), "{before:?}");

    let erik = Browser::signed_in(&app, ERIK.0, ERIK.1).await;
    let page = erik.get("/console/calendars").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains(&format!("/dav/calendars/rooms/{storsalen}/calendar/"))
    );
    assert!(page.body.contains(&format!("/feeds/rooms/{storsalen}.ics")));
    assert!(page.body.contains("webcal://"));
    assert!(page.body.contains("/.well-known/caldav"));
    let token = hidden(&page.body, "csrf");
    let path = format!("/console/calendars/{storsalen}/follow");
    let done = erik
        .post(&path, &[("csrf", &token), ("follow", "false")])
        .await;
    assert_eq!(done.status, 303);
    assert!(!followed(&app).await.contains(&href));
    let done = erik
        .post(&path, &[("csrf", &token), ("follow", "true")])
        .await;
    assert_eq!(done.status, 303);
    assert!(followed(&app).await.contains(&href));
    // No token, or nonsense: nothing changes.
    assert_eq!(erik.post(&path, &[("follow", "false")]).await.status, 403);
    assert_eq!(
        erik.post(&path, &[("csrf", &token), ("follow", "maybe")])
            .await
            .status,
        400
    );
    assert_eq!(
        erik.post(
            "/console/calendars/no-such-room/follow",
            &[("csrf", &token), ("follow", "true")]
        )
        .await
        .status,
        404
    );
    assert!(followed(&app).await.contains(&href));
}
