//! The residents' web pages through the real router, driven as a browser would: GET a form,
//! read its hidden fields out of the HTML, POST it url-encoded, follow the redirect, carry
//! the cookies.

use serde_json::json;

use crate::support::app::TestApp;
use crate::support::browser::{Answer, Browser, PASSWORD, element, hidden};

/// Fills in the booking form of `room` and sends it; returns the answer to the POST.
async fn book(b: &Browser, room: &str, fields: &[(&str, &str)]) -> Answer {
    let form = b.get(&format!("/halls/{room}/book")).await;
    assert_eq!(form.status, 200, "{}", form.body);
    let csrf = hidden(&form.body, "csrf");
    let key = hidden(&form.body, "idempotency_key");
    let mut all: Vec<(&str, &str)> = vec![
        ("csrf", &csrf),
        ("idempotency_key", &key),
        ("action", "submit"),
    ];
    all.extend_from_slice(fields);
    b.post(&format!("/halls/{room}/book"), &all).await
}

fn booking_id(location: &str) -> String {
    let rest = location.strip_prefix("/my/bookings/").unwrap();
    rest.split('?').next().unwrap().to_owned()
}

fn web_login(email: &str) -> (String, String) {
    (email.to_owned(), PASSWORD.to_owned())
}

const EVENING: [(&str, &str); 5] = [
    ("date", "2027-01-13"),
    ("start", "18:00"),
    ("end", "20:00"),
    ("purpose", "Hemmelig bursdagsfest for Kari"),
    ("attendees", "40"),
];

async fn count(app: &TestApp, login: &(String, String)) -> usize {
    let (status, body) = app
        .get(
            "/api/v1/bookings?mine=true",
            Some((login.0.as_str(), login.1.as_str())),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["bookings"].as_array().unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_search_finds_free_halls_big_enough_and_public_pages_never_say_who_booked() {
    let app = TestApp::sqlite().await;
    let storsalen = app.room("Storsalen").await;
    let visitor = Browser::new(&app);

    // What is free Thursday 18–20 for 40 people?
    let search = "/?date=2027-01-07&from=18:00&to=20:00&people=40";
    let found = visitor.get(search).await;
    assert_eq!(found.status, 200, "{}", found.body);
    assert!(found.body.contains("id=\"rooms-found\""));
    // The link carries the searched date and times (askama writes `&` as `&#38;`).
    let links = found.body.replace("&#38;", "&");
    assert!(
        links.contains(&format!(
            "href=\"/halls/{storsalen}?date=2027-01-07&from=18%3A00&to=20%3A00\""
        )),
        "{}",
        found.body
    );
    assert!(found.body.contains(">Storsalen<"));
    // Øvingsrommet takes 20: too small.
    assert!(!found.body.contains("Øvingsrommet"), "{}", found.body);
    // The equipment filter: only halls with a stage.
    let staged = visitor.get(&format!("{search}&equipment=stage")).await;
    assert!(staged.body.contains(">Storsalen<") && !staged.body.contains(">Lillesalen<"));

    // Kari asks for Storsalen on Wednesday the 13th.
    let kari = Browser::new(&app);
    kari.register("Kari Hemmeligsen", "kari.hemmeligsen@example.no")
        .await;
    let sent = book(&kari, &storsalen, &EVENING).await;
    assert_eq!(sent.status, 303, "{}", sent.body);

    // The hall's week shows the evening busy, in words, and nothing about Kari.
    let hall = visitor
        .get(&format!("/halls/{storsalen}?week=2027-W02"))
        .await;
    assert_eq!(hall.status, 200);
    let week = element(&hall.body, "week-caption", "table");
    assert!(week.contains("<td class=\"busy\">Opptatt</td>"), "{week}");
    assert!(week.contains("<td class=\"free\">Ledig</td>"));
    assert!(week.contains("<td class=\"closed\">Stengt</td>"));
    assert!(hall.body.contains("Forrige uke") && hall.body.contains("Neste uke"));
    // This week (now is Monday 10:00 in Oslo): the hours gone say so, not "free".
    let this_week = visitor.get(&format!("/halls/{storsalen}")).await;
    let now_week = element(&this_week.body, "week-caption", "table");
    let first_row = &now_week[now_week.find("08:00").unwrap()..now_week.find("09:00–").unwrap()];
    assert!(
        first_row.starts_with("08:00") && first_row.contains("<td class=\"closed\">Passert</td>"),
        "{first_row}"
    );
    let later = &now_week[now_week.find("10:00–").unwrap()..now_week.find("11:00–").unwrap()];
    assert!(later.contains("<td class=\"free\">Ledig</td>"), "{later}");
    assert!(
        !now_week[now_week.find("11:00–").unwrap()..].contains("Passert"),
        "{now_week}"
    );
    let again = visitor
        .get("/?date=2027-01-13&from=18:00&to=20:00&people=40")
        .await;
    assert!(!again.body.contains(">Storsalen<"), "taken, so not free");
    // Free means bookable: the hour after the evening is taken by its teardown and a new
    // booking's setup (30 min each), the one after that is free; the week shows the same.
    let after = visitor
        .get("/?date=2027-01-13&from=20:00&to=21:00&people=40")
        .await;
    assert!(
        !after.body.contains(">Storsalen<"),
        "clashes with the buffers"
    );
    let later = visitor
        .get("/?date=2027-01-13&from=21:00&to=22:00&people=40")
        .await;
    assert!(later.body.contains(">Storsalen<"), "free after the buffers");
    assert_eq!(
        week.matches("<td class=\"busy\">").count(),
        4,
        "17:00 to 21:00 on Wednesday: {week}"
    );
    for page in [&found, &hall, &again, &visitor.get("/").await] {
        assert!(!page.body.contains("Hemmelig"), "{}", page.body);
        assert!(!page.body.contains("kari.hemmeligsen"));
    }

    // An unknown hall and a garbage week are pages that say so.
    assert_eq!(visitor.get("/halls/no-such-hall").await.status, 404);
    assert_eq!(
        visitor
            .get(&format!("/halls/{storsalen}?week=garbage"))
            .await
            .status,
        400
    );
    // A search with the end before the start is the form again, the error at its field.
    let bad = visitor.get("/?date=2027-13-45&from=20:00&to=18:00").await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("id=\"date-error\"") && bad.body.contains("id=\"to-error\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_check_writes_nothing_and_explains_a_conflict_in_both_languages() {
    check_suite(TestApp::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_check_reads_the_same_snapshot_on_postgres() {
    let pg = crate::support::postgres::Postgres::start();
    check_suite(TestApp::start(crate::support::app::test_config(&pg.url)).await).await;
}

/// The booking form's check, on the store `app` runs on.
async fn check_suite(app: TestApp) {
    let storsalen = app.room("Storsalen").await;
    let kari = app.resident("kari@example.no").await;
    let (status, body) = app
        .post(
            "/api/v1/bookings",
            Some((kari.0.as_str(), kari.1.as_str())),
            json!({"room_id": storsalen, "start": "2027-01-14T18:00", "end": "2027-01-14T20:00",
                   "purpose": "Kari sitt private selskap", "attendees": 30}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let kari_booking = body["id"].as_str().unwrap().to_owned();

    let ola = Browser::new(&app);
    ola.register("Ola Nordmann", "ola@example.no").await;
    let ola_login = app.resident("ola.api@example.no").await;
    let before = count(&app, &kari).await;
    let check = format!(
        "/halls/{storsalen}/book?date=2027-01-14&start=19:00&end=21:00&purpose=&attendees=40&repeat_until=&action=check"
    );
    let nb = ola.get(&check).await;
    assert_eq!(nb.status, 200, "{}", nb.body);
    let result = element(&nb.body, "check-result", "section");
    assert!(result.contains("Søknaden vil bli avslått"), "{result}");
    assert!(
        result.contains("<li data-code=\"conflict\">Lokalet er opptatt"),
        "{result}"
    );
    assert!(
        result.contains("17:30–20:30"),
        "blocked with the buffers: {result}"
    );
    assert!(!nb.body.contains(&kari_booking) && !nb.body.contains("Kari"));

    let ola_en = Browser::new(&app);
    for (name, value) in ola.cookies() {
        ola_en.set_cookie(&name, &value);
    }
    ola_en.set_cookie("lokal_lang", "en");
    let en = ola_en.get(&check).await;
    let result = element(&en.body, "check-result", "section");
    assert!(result.contains("The request would be refused"), "{result}");
    assert!(
        result.contains("<li data-code=\"conflict\">The hall is taken"),
        "{result}"
    );

    // A free evening would go to a clerk.
    let free = ola
        .get(&format!(
            "/halls/{storsalen}/book?date=2027-01-15&start=18:00&end=20:00&attendees=40&action=check"
        ))
        .await;
    assert!(
        free.body.contains("vil bli sendt til en saksbehandler"),
        "{}",
        free.body
    );
    // The form's own check button posts, so its token never lands in an address or the
    // history; it needs the token like any form, and writes nothing either.
    let form = ola.get(&format!("/halls/{storsalen}/book")).await;
    assert!(!form.body.contains("formmethod=\"get\""));
    let csrf = hidden(&form.body, "csrf");
    let key = hidden(&form.body, "idempotency_key");
    let fields = [
        ("action", "check"),
        ("date", "2027-01-14"),
        ("start", "19:00"),
        ("end", "21:00"),
        ("purpose", "Korøving"),
        ("attendees", "40"),
        ("repeat_until", ""),
    ];
    let mut with_token = vec![("csrf", csrf.as_str()), ("idempotency_key", key.as_str())];
    with_token.extend_from_slice(&fields);
    let posted = ola
        .post(&format!("/halls/{storsalen}/book"), &with_token)
        .await;
    assert_eq!(posted.status, 200, "{}", posted.body);
    let result = element(&posted.body, "check-result", "section");
    assert!(result.contains("data-code=\"conflict\""), "{result}");
    let forged = ola.post(&format!("/halls/{storsalen}/book"), &fields).await;
    assert_eq!(forged.status, 403);
    // Nothing was written by any check.
    assert_eq!(count(&app, &kari).await, before);
    assert_eq!(count(&app, &ola_login).await, 0);
    assert!(count(&app, &web_login("ola@example.no")).await == 0);
    // The form asks to sign in first.
    let anonymous = Browser::new(&app).get(&check).await;
    assert_eq!(anonymous.status, 303);
    assert!(anonymous.location.unwrap().starts_with("/login?next="));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_sent_twice_with_one_key_makes_one_pending_booking() {
    one_key_suite(TestApp::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_key_makes_one_booking_on_postgres() {
    let pg = crate::support::postgres::Postgres::start();
    one_key_suite(TestApp::start(crate::support::app::test_config(&pg.url)).await).await;
}

/// Two posts of one booking form, on the store `app` runs on.
async fn one_key_suite(app: TestApp) {
    let storsalen = app.room("Storsalen").await;
    let kari = Browser::new(&app);
    kari.register("Kari Nordmann", "kari@example.no").await;
    let form = kari.get(&format!("/halls/{storsalen}/book")).await;
    let csrf = hidden(&form.body, "csrf");
    let key = hidden(&form.body, "idempotency_key");
    let mut fields: Vec<(&str, &str)> = vec![
        ("csrf", &csrf),
        ("idempotency_key", &key),
        ("action", "submit"),
    ];
    fields.extend_from_slice(&EVENING);
    let path = format!("/halls/{storsalen}/book");
    let first = kari.post(&path, &fields).await;
    assert_eq!(first.status, 303, "{}", first.body);
    let second = kari.post(&path, &fields).await;
    assert_eq!(second.status, 303, "{}", second.body);
    assert_eq!(first.location, second.location);
    let location = first.location.unwrap();
    assert!(location.ends_with("?notice=created"));
    let id = booking_id(&location);

    let detail = kari.get(&location).await;
    assert_eq!(detail.status, 200);
    assert!(
        detail.body.contains(
            "<span class=\"status status-pending\" id=\"booking-status\">Til behandling</span>"
        ),
        "{}",
        detail.body
    );
    assert!(detail.body.contains("Søknaden må behandles innen"));
    let mine = kari.get("/my/bookings").await;
    assert_eq!(
        mine.body.matches(&format!("/my/bookings/{id}\"")).count(),
        1
    );
    assert_eq!(
        count(&app, &web_login("kari@example.no")).await,
        1,
        "one booking for two clicks"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_without_its_token_or_with_bad_fields_writes_nothing() {
    let app = TestApp::sqlite().await;
    let storsalen = app.room("Storsalen").await;
    let kari = Browser::new(&app);
    kari.register("Kari Nordmann", "kari@example.no").await;
    let path = format!("/halls/{storsalen}/book");
    let mut fields: Vec<(&str, &str)> = vec![("idempotency_key", "k1"), ("action", "submit")];
    fields.extend_from_slice(&EVENING);
    let forged = kari.post(&path, &fields).await;
    assert_eq!(forged.status, 403);

    let long = "x".repeat(2000);
    for (field, value) in [
        ("date", "garbage"),
        ("end", "17:00"),
        ("attendees", "abc"),
        ("purpose", long.as_str()),
    ] {
        let fields: Vec<(&str, &str)> = EVENING
            .iter()
            .map(|&(k, v)| (k, if k == field { value } else { v }))
            .collect();
        let answer = book(&kari, &storsalen, &fields).await;
        assert_eq!(answer.status, 422, "{field}: {}", answer.body);
        assert!(
            answer.body.contains(&format!("id=\"{field}-error\"")),
            "{field}"
        );
        assert!(
            answer.body.contains(&format!("<a href=\"#{field}\">")),
            "{field}: summary link"
        );
        assert!(
            answer
                .body
                .contains(&format!("aria-describedby=\"{field}-error\""))
                || answer.body.contains(&format!(" {field}-error\""))
        );
    }
    assert!(count(&app, &web_login("kari@example.no")).await == 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_requester_sees_cancels_and_downloads_a_booking() {
    let app = TestApp::sqlite().await;
    let storsalen = app.room("Storsalen").await;
    let kari = Browser::new(&app);
    kari.register("Kari Nordmann", "kari@example.no").await;
    let sent = book(&kari, &storsalen, &EVENING).await;
    let location = sent.location.unwrap();
    let id = booking_id(&location);

    let ola = Browser::new(&app);
    ola.register("Ola Nordmann", "ola@example.no").await;
    assert_eq!(ola.get(&format!("/my/bookings/{id}")).await.status, 404);
    assert_eq!(ola.get(&format!("/my/bookings/{id}.ics")).await.status, 404);
    let ola_page = ola.get("/my/bookings").await;
    let csrf = hidden(&ola_page.body, "csrf");
    let cancel = ola
        .post(&format!("/my/bookings/{id}/cancel"), &[("csrf", &csrf)])
        .await;
    assert_eq!(cancel.status, 404);

    // Kari's calendar file: a valid VCALENDAR with the booking's UID, tentative while pending.
    let ics = kari.get(&format!("/my/bookings/{id}.ics")).await;
    assert_eq!(ics.status, 200, "{}", ics.body);
    assert_eq!(ics.content_type, "text/calendar; charset=utf-8");
    assert_eq!(
        ics.disposition,
        format!("attachment; filename=\"booking-{id}.ics\"")
    );
    let unfolded = icalendar::parser::unfold(&ics.body);
    let calendar = icalendar::parser::read_calendar(&unfolded).unwrap();
    let event = calendar
        .components
        .iter()
        .find(|c| c.name == "VEVENT")
        .expect("an event");
    let prop = |name: &str| event.find_prop(name).map(|p| p.val.as_str().to_owned());
    assert_eq!(prop("UID"), Some(format!("{id}@lokal")));
    assert_eq!(prop("STATUS").as_deref(), Some("TENTATIVE"));
    assert!(calendar.components.iter().any(|c| c.name == "VTIMEZONE"));

    // Kari cancels.
    let detail = kari.get(&format!("/my/bookings/{id}")).await;
    assert!(
        detail
            .body
            .contains(&format!("href=\"/my/bookings/{id}.ics\" download"))
    );
    let csrf = hidden(&detail.body, "csrf");
    let cancelled = kari
        .post(&format!("/my/bookings/{id}/cancel"), &[("csrf", &csrf)])
        .await;
    assert_eq!(cancelled.status, 303);
    let after = kari.get(cancelled.location.as_deref().unwrap()).await;
    assert!(after.body.contains("Bookingen er avlyst."));
    assert!(
        after
            .body
            .contains("status status-cancelled\" id=\"booking-status\">Avlyst<")
    );
    assert!(
        !after.body.contains("/cancel\""),
        "no cancel form once cancelled"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weekly_repetition_skips_the_date_that_is_taken() {
    let app = TestApp::sqlite().await;
    let storsalen = app.room("Storsalen").await;
    let lisa = app.resident("lisa@example.no").await;
    let (status, body) = app
        .post(
            "/api/v1/bookings",
            Some((lisa.0.as_str(), lisa.1.as_str())),
            json!({"room_id": storsalen, "start": "2027-01-21T18:00", "end": "2027-01-21T20:00",
                   "purpose": "Årsmøte", "attendees": 30}),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    let kari = Browser::new(&app);
    kari.register("Kari Nordmann", "kari@example.no").await;
    let check = kari
        .get(&format!(
            "/halls/{storsalen}/book?date=2027-01-07&start=18:00&end=20:00&attendees=40&repeat_until=2027-02-04&action=check"
        ))
        .await;
    assert_eq!(check.status, 200, "{}", check.body);
    let skipped = element(&check.body, "skipped-dates", "ul");
    assert!(skipped.contains("torsdag 21. januar 2027"), "{skipped}");
    assert!(!skipped.contains("14. januar"), "{skipped}");
    assert!(check.body.contains("data-code=\"conflict\""));

    let mut fields = vec![("repeat_until", "2027-02-04")];
    fields.extend_from_slice(&[
        ("date", "2027-01-07"),
        ("start", "18:00"),
        ("end", "20:00"),
        ("purpose", "Korøving"),
        ("attendees", "40"),
    ]);
    let sent = book(&kari, &storsalen, &fields).await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    let detail = kari.get(sent.location.as_deref().unwrap()).await;
    let dates = element(&detail.body, "dates", "table");
    assert_eq!(dates.matches("status-skipped").count(), 1, "{dates}");
    assert!(dates.contains("torsdag 21. januar 2027 18:00–20:00</td><td><span class=\"status status-skipped\">Hoppet over"), "{dates}");
    assert_eq!(dates.matches("status-pending").count(), 4, "{dates}");
    assert!(
        detail
            .body
            .contains("<li data-code=\"conflict\">Noen datoer kolliderte")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn my_bookings_are_only_the_requesters_even_for_the_clerk_of_the_hall() {
    let app = TestApp::sqlite().await;
    let storsalen = app.room("Storsalen").await;
    let kari = Browser::new(&app);
    kari.register("Kari Nordmann", "kari@example.no").await;
    let sent = book(&kari, &storsalen, &EVENING).await;
    let id = booking_id(&sent.location.unwrap());

    // Erik decides for Storsalen: the console is his place for Kari's request, not her pages
    // (there, a cancellation needs a reason for Kari).
    let erik = Browser::signed_in(&app, "erik.dahl", "erik-clerk-2027").await;
    let detail = erik.get(&format!("/my/bookings/{id}")).await;
    assert_eq!(detail.status, 404);
    assert!(!detail.body.contains("Hemmelig bursdagsfest"));
    assert_eq!(
        erik.get(&format!("/my/bookings/{id}.ics")).await.status,
        404
    );
    let csrf = hidden(&erik.get("/my/bookings").await.body, "csrf");
    let cancel = erik
        .post(&format!("/my/bookings/{id}/cancel"), &[("csrf", &csrf)])
        .await;
    assert_eq!(cancel.status, 404);
    let still = kari.get(&format!("/my/bookings/{id}")).await;
    assert!(
        still
            .body
            .contains("status status-pending\" id=\"booking-status\""),
        "still pending"
    );
    // The console still shows it to him.
    assert_eq!(
        erik.get(&format!("/console/bookings/{id}")).await.status,
        200
    );
}
