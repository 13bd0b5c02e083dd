//! Divisible halls end to end (issue 16): the seed's "Gymsal A+B, (delbar)" is made of
//! "Gymsal A" and "Gymsal B" (`lokalPart`). Booking the whole blocks both halves and either
//! half blocks the whole: in races of the API and CalDAV invitations (SQLite and PostgreSQL),
//! in PostgreSQL's own constraint against rows written directly in SQL, in the halves' and the
//! whole's free-busy and feeds, in the search for a free room, and on the hall's pages. The
//! directory part: parts read the same from the LDIF file and from slapd, a foreign schema's
//! attribute mapped, and a bad part refused at sync.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::Barrier;

use crate::support::app::{TestApp, test_config};
use crate::support::postgres::Postgres;
use crate::support::slapd::{Options, Slapd, repo};

const WHOLE: &str = "Gymsal A+B, (delbar)";
const WHOLE_MAIL: &str = "mailto:gymsal-ab@rom.fjordvik.kommune.no";
const HALF_A_MAIL: &str = "mailto:gymsal-a@rom.fjordvik.kommune.no";
const BASE: &str = "ou=Fjordvik skole,ou=Buildings,dc=fjordvik,dc=kommune,dc=no";

/// Staff who invite a room, each from their own calendar.
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

const LARS: (&str, &str) = INVITERS[0];
const ASTRID: (&str, &str) = API_STAFF[0];

fn event(uid: &str, login: &str, room: &str, start: &str, end: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Lokal halls test//EN\r\nBEGIN:VEVENT\r\n\
         UID:{uid}\r\nDTSTAMP:20270104T090000Z\r\nDTSTART;TZID=Europe/Oslo:{start}\r\n\
         DTEND;TZID=Europe/Oslo:{end}\r\nSUMMARY:Trening {login}\r\n\
         ORGANIZER:mailto:{login}@fjordvik.kommune.no\r\n\
         ATTENDEE;PARTSTAT=ACCEPTED:mailto:{login}@fjordvik.kommune.no\r\n\
         ATTENDEE;CUTYPE=ROOM;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:{room}\r\n\
         END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

fn object(login: &str, day: u32) -> String {
    format!("/dav/calendars/users/{login}/meetings/hall-{login}-{day}.ics")
}

/// The room attendee's PARTSTAT in an organiser's copy.
fn room_partstat(ics: &str, room: &str) -> Option<String> {
    let unfolded = ics.replace("\r\n ", "").replace("\r\n\t", "");
    unfolded
        .lines()
        .find(|l| l.starts_with("ATTENDEE") && l.to_ascii_lowercase().ends_with(room))
        .and_then(|l| {
            l.split(';')
                .find_map(|p| p.strip_prefix("PARTSTAT="))
                .map(|p| p.split(':').next().unwrap_or(p).to_owned())
        })
}

async fn text(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut req = app.client.get(format!("{}{path}", app.base));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let response = req.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

async fn dav(
    app: &TestApp,
    verb: &str,
    path: &str,
    user: (&str, &str),
    body: &str,
) -> (u16, String) {
    let response = app
        .client
        .request(
            reqwest::Method::from_bytes(verb.as_bytes()).unwrap(),
            format!("{}{path}", app.base),
        )
        .basic_auth(user.0, Some(user.1))
        .header("Depth", "0")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

async fn book(
    app: &TestApp,
    user: (&str, &str),
    room: &str,
    start: &str,
    end: &str,
) -> (u16, Value) {
    app.post(
        "/api/v1/bookings",
        Some(user),
        json!({"room_id": room, "start": start, "end": end, "purpose": "Innebandy", "attendees": 20}),
    )
    .await
}

enum Outcome {
    Api(u16, Value),
    Invitation(String, u16, String),
}

/// Races on `day` (January 2027): API bookings of the room named `api_room` against
/// invitations of the room at `invited`, two overlapping slots, all released at once. The
/// two rooms share a physical part, so exactly one contender may win.
async fn race(app: &TestApp, day: u32, api_room: &str, invited: &str) {
    let room = app.room(api_room).await;
    let date = format!("2027-01-{day:02}");
    let mut api_logins: Vec<(String, String)> = API_STAFF
        .iter()
        .map(|(u, p)| (u.to_string(), p.to_string()))
        .collect();
    for i in 0..2 {
        api_logins.push(app.resident(&format!("hall{i}-{day}@example.no")).await);
    }
    // Every login once before the race, so the race is about booking, not password hashing.
    for (u, p) in &api_logins {
        let (status, _) = app.get("/api/v1/bookings?mine=true", Some((u, p))).await;
        assert_eq!(status, 200, "{u}");
    }
    for (u, p) in INVITERS {
        let (status, _) = dav(
            app,
            "PROPFIND",
            &format!("/dav/calendars/users/{u}/meetings/"),
            (u, p),
            "",
        )
        .await;
        assert_eq!(status, 207, "{u}");
    }

    let slots = [("18:00", "20:00"), ("18:30", "20:30")];
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
                "end": format!("{date}T{end}"), "purpose": format!("API {u}"), "attendees": 10,
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
                &format!("hall-{u}-{day}@test"),
                u,
                invited,
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

    let (mut created, mut conflicts, mut won, mut declined) = (0, 0, 0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Outcome::Api(201, body) => {
                assert!(
                    matches!(body["status"].as_str(), Some("pending" | "approved")),
                    "{body}"
                );
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
                let password = INVITERS
                    .iter()
                    .find(|(u, _)| *u == login)
                    .map(|(_, p)| *p)
                    .unwrap();
                let (status, copy) =
                    dav(app, "GET", &object(&login, day), (&login, password), "").await;
                assert_eq!(status, 200, "{copy}");
                match room_partstat(&copy, invited).as_deref() {
                    Some("ACCEPTED" | "TENTATIVE") => won += 1,
                    Some("DECLINED") => declined += 1,
                    other => panic!("{login}'s copy has the room {other:?}: {copy}"),
                }
            }
        }
    }
    assert_eq!(
        created + won,
        1,
        "API {created}, invitations {won}: one winner for the hall and its half"
    );
    assert_eq!(conflicts + declined, contenders - 1);

    let store = lokal::startup::store_of(&app.state);
    assert_eq!(store.overlapping_pairs().await.unwrap(), 0);
    // The whole and half A are both busy then, once; half B only if the whole won.
    let whole_won = (api_room == WHOLE) == (created == 1);
    for (name, busy) in [
        (WHOLE, 1),
        ("Gymsal A", 1),
        ("Gymsal B", usize::from(whole_won)),
    ] {
        let id = app.room(name).await;
        let (_, body) = app
            .get(
                &format!(
                    "/api/v1/rooms/{id}/availability?from={date}&to=2027-01-{:02}",
                    day + 1
                ),
                None,
            )
            .await;
        assert_eq!(
            body["busy"].as_array().unwrap().len(),
            busy,
            "{name}: {body}"
        );
    }
}

async fn races(app: &TestApp) {
    // The API books the whole while staff invite half A; then the other way round.
    race(app, 6, WHOLE, HALF_A_MAIL).await;
    race(app, 7, "Gymsal A", WHOLE_MAIL).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_whole_and_a_half_racing_through_the_api_and_invitations_leave_one_booking_on_sqlite() {
    let app = TestApp::sqlite().await;
    races(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_whole_and_a_half_racing_through_the_api_and_invitations_leave_one_booking_on_postgres()
{
    let pg = Postgres::start();
    let app = TestApp::start(test_config(&pg.url)).await;
    races(&app).await;
}

/// Rows written straight into PostgreSQL, past the application: the database itself refuses
/// the whole and a half at the same time, follows status changes, and lets the two halves be.
#[tokio::test]
async fn postgres_refuses_the_whole_and_a_half_written_directly_in_sql() {
    use sqlx::Connection as _;
    let pg = Postgres::start();
    let app = TestApp::start(test_config(&pg.url)).await;
    let whole = app.room(WHOLE).await;
    let half_a = app.room("Gymsal A").await;
    let half_b = app.room("Gymsal B").await;
    let mut conn = sqlx::PgConnection::connect(&pg.url).await.unwrap();

    async fn insert(
        conn: &mut sqlx::PgConnection,
        id: &str,
        room: &str,
        start: &str,
        end: &str,
    ) -> Result<(), sqlx::Error> {
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        sqlx::query(
            "INSERT INTO bookings (id, room_id, requester_id, requester_name, purpose, attendees, \
             local_start, local_end, time_zone, on_conflict, status, request_hash, created_at, updated_at) \
             VALUES ($1, $2, 'staff:sql', 'SQL', 'Direct', 10, $3, $4, 'Europe/Oslo', 'reject', \
             'approved', 'h', now(), now())",
        )
        .bind(id)
        .bind(room)
        .bind(start)
        .bind(end)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO occurrences (booking_id, seq, room_id, start_at, end_at, block_start, block_end, status) \
             VALUES ($1, 0, $2, $3::timestamptz, $4::timestamptz, $3::timestamptz, $4::timestamptz, 'approved')",
        )
        .bind(id)
        .bind(room)
        .bind(start)
        .bind(end)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }
    let refused = |r: Result<(), sqlx::Error>| match r {
        Err(sqlx::Error::Database(db)) => {
            assert_eq!(db.code().as_deref(), Some("23P01"), "{db}");
            assert_eq!(db.constraint(), Some("occurrence_parts_no_overlap"), "{db}");
        }
        other => panic!("expected the exclusion constraint, got {other:?}"),
    };

    insert(
        &mut conn,
        "sql-whole",
        &whole,
        "2027-01-08T17:00:00Z",
        "2027-01-08T19:00:00Z",
    )
    .await
    .unwrap();
    refused(
        insert(
            &mut conn,
            "sql-a",
            &half_a,
            "2027-01-08T18:00:00Z",
            "2027-01-08T20:00:00Z",
        )
        .await,
    );
    refused(
        insert(
            &mut conn,
            "sql-b",
            &half_b,
            "2027-01-08T16:00:00Z",
            "2027-01-08T17:30:00Z",
        )
        .await,
    );
    // Touching is no overlap (half-open intervals).
    insert(
        &mut conn,
        "sql-b2",
        &half_b,
        "2027-01-08T19:00:00Z",
        "2027-01-08T20:00:00Z",
    )
    .await
    .unwrap();
    // The two halves never block each other.
    insert(
        &mut conn,
        "sql-a2",
        &half_a,
        "2027-01-09T17:00:00Z",
        "2027-01-09T19:00:00Z",
    )
    .await
    .unwrap();
    insert(
        &mut conn,
        "sql-b3",
        &half_b,
        "2027-01-09T17:00:00Z",
        "2027-01-09T19:00:00Z",
    )
    .await
    .unwrap();
    refused(
        insert(
            &mut conn,
            "sql-whole2",
            &whole,
            "2027-01-09T18:00:00Z",
            "2027-01-09T18:30:00Z",
        )
        .await,
    );

    // Cancelling the whole in SQL frees its halves (the trigger keeps the parts in step) ...
    sqlx::query("UPDATE occurrences SET status = 'cancelled' WHERE booking_id = 'sql-whole'")
        .execute(&mut conn)
        .await
        .unwrap();
    insert(
        &mut conn,
        "sql-a3",
        &half_a,
        "2027-01-08T18:00:00Z",
        "2027-01-08T20:00:00Z",
    )
    .await
    .unwrap();
    // ... and bringing it back while a half holds the time is refused.
    let back =
        sqlx::query("UPDATE occurrences SET status = 'approved' WHERE booking_id = 'sql-whole'")
            .execute(&mut conn)
            .await
            .map(|_| ());
    refused(back);
    // A move in time takes the parts along: half A onto a time the whole holds.
    insert(
        &mut conn,
        "sql-whole3",
        &whole,
        "2027-01-10T17:00:00Z",
        "2027-01-10T19:00:00Z",
    )
    .await
    .unwrap();
    let moved = sqlx::query(
        "UPDATE occurrences SET start_at = start_at + interval '2 days', end_at = end_at + interval '2 days', \
         block_start = block_start + interval '2 days', block_end = block_end + interval '2 days' \
         WHERE booking_id = 'sql-a3'",
    )
    .execute(&mut conn)
    .await
    .map(|_| ());
    refused(moved);

    let store = lokal::startup::store_of(&app.state);
    assert_eq!(store.overlapping_pairs().await.unwrap(), 0);
    // The application sees the directly written bookings as blocking the whole too.
    let (status, body) = book(&app, ASTRID, &whole, "2027-01-08T19:00", "2027-01-08T21:00").await;
    assert_eq!(status, 409, "{body}");
}

/// The busy periods in a free-busy answer.
fn freebusy_lines(body: &str) -> Vec<String> {
    body.replace("\r\n ", "")
        .lines()
        .filter(|l| l.starts_with("FREEBUSY"))
        .map(str::to_owned)
        .collect()
}

async fn calendars_and_feeds(app: &TestApp) {
    let whole = app.room(WHOLE).await;
    let half_a = app.room("Gymsal A").await;
    let half_b = app.room("Gymsal B").await;
    let feed = |id: &str| format!("/feeds/rooms/{id}.ics");
    let etag = |app: &TestApp, id: String| {
        let url = format!("{}{}", app.base, feed(&id));
        let client = app.client.clone();
        async move {
            let r = client.get(url).send().await.unwrap();
            r.headers()["etag"].to_str().unwrap().to_owned()
        }
    };
    let a_before = etag(app, half_a.clone()).await;

    // Thursday 7 January, 18:00–20:00 Oslo (17:00–19:00 UTC): the whole, by a clerk.
    // Half A's calendar before: its sync token.
    let sync = |token: &str| {
        format!(
            r#"<d:sync-collection xmlns:d="DAV:"><d:sync-token>{token}</d:sync-token><d:sync-level>1</d:sync-level>
  <d:prop><d:getetag/></d:prop></d:sync-collection>"#
        )
    };
    let half_a_calendar = format!("/dav/calendars/rooms/{half_a}/calendar/");
    let (status, body) = dav(app, "REPORT", &half_a_calendar, LARS, &sync("")).await;
    assert_eq!(status, 207, "{body}");
    let token = body
        .split("<d:sync-token>")
        .nth(1)
        .and_then(|t| t.split("</d:sync-token>").next())
        .unwrap()
        .to_owned();

    let (status, body) = book(app, ASTRID, &whole, "2027-01-07T18:00", "2027-01-07T20:00").await;
    assert_eq!(status, 201, "{body}");
    let booked = body["id"].as_str().unwrap().to_owned();

    // Half A's CalDAV calendar: the whole's booking is a member since that token, busy only.
    let (status, body) = dav(app, "REPORT", &half_a_calendar, LARS, &sync(&token)).await;
    assert_eq!(status, 207, "{body}");
    assert!(
        body.contains(&format!("{half_a_calendar}{booked}.ics")),
        "{body}"
    );
    let (status, object) = dav(
        app,
        "GET",
        &format!("{half_a_calendar}{booked}.ics"),
        LARS,
        "",
    )
    .await;
    assert_eq!(status, 200, "{object}");
    assert!(object.contains("SUMMARY:Opptatt"), "{object}");
    for secret in ["Innebandy", "Astrid", "ORGANIZER", "astrid"] {
        assert!(!object.contains(secret), "{secret} in {object}");
    }

    let query = r#"<c:free-busy-query xmlns:c="urn:ietf:params:xml:ns:caldav">
  <c:time-range start="20270104T000000Z" end="20270111T000000Z"/></c:free-busy-query>"#;
    for id in [&half_a, &half_b, &whole] {
        let (status, body) = dav(
            app,
            "REPORT",
            &format!("/dav/calendars/rooms/{id}/calendar/"),
            LARS,
            query,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let lines = freebusy_lines(&body);
        assert_eq!(lines.len(), 1, "{body}");
        assert!(
            lines[0].ends_with("20270107T170000Z/20270107T190000Z"),
            "{body}"
        );
    }

    // The half's public feed: busy at that time, nothing of who or why; its ETag moved.
    for id in [&half_a, &half_b] {
        let (status, ics) = text(app, &feed(id), &[]).await;
        assert_eq!(status, 200, "{ics}");
        assert!(ics.contains("SUMMARY:Opptatt"), "{ics}");
        assert!(
            ics.contains("DTSTART;TZID=Europe/Oslo:20270107T180000"),
            "{ics}"
        );
        assert!(
            !ics.contains("Innebandy") && !ics.contains("Astrid"),
            "{ics}"
        );
    }
    assert_ne!(etag(app, half_a.clone()).await, a_before);
    let (_, english) = text(app, &feed(&half_a), &[("Accept-Language", "en")]).await;
    assert!(english.contains("SUMMARY:Busy"), "{english}");

    // A half's booking shows in the whole's free-busy, and not in the other half's.
    let (status, body) = book(app, ASTRID, &half_b, "2027-01-08T18:00", "2027-01-08T19:00").await;
    assert_eq!(status, 201, "{body}");
    for (id, n) in [(&whole, 2), (&half_a, 1), (&half_b, 2)] {
        let (_, body) = dav(
            app,
            "REPORT",
            &format!("/dav/calendars/rooms/{id}/calendar/"),
            LARS,
            query,
        )
        .await;
        assert_eq!(freebusy_lines(&body).len(), n, "{id}: {body}");
    }
    let (_, ics) = text(app, &feed(&whole), &[]).await;
    assert!(
        ics.contains("DTSTART;TZID=Europe/Oslo:20270108T180000"),
        "{ics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_halfs_free_busy_and_feed_show_the_wholes_booking_as_busy_on_sqlite() {
    let app = TestApp::sqlite().await;
    calendars_and_feeds(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_halfs_free_busy_and_feed_show_the_wholes_booking_as_busy_on_postgres() {
    let pg = Postgres::start();
    let app = TestApp::start(test_config(&pg.url)).await;
    calendars_and_feeds(&app).await;
}

async fn free_names(app: &TestApp, day: &str) -> Vec<String> {
    let (status, body) = app
        .get(
            &format!("/api/v1/availability?from={day}T18:00&to={day}T20:00&capacity=40"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn search(app: &TestApp) {
    // Thursday 18–20 for 40 people: the whole and both halves hold them.
    let free = free_names(app, "2027-01-07").await;
    for name in [WHOLE, "Gymsal A", "Gymsal B"] {
        assert!(free.iter().any(|n| n == name), "{name} in {free:?}");
    }
    // Half B booked: half A is offered, not the whole.
    let half_b = app.room("Gymsal B").await;
    let (status, body) = book(app, ASTRID, &half_b, "2027-01-07T18:30", "2027-01-07T19:30").await;
    assert_eq!(status, 201, "{body}");
    let free = free_names(app, "2027-01-07").await;
    assert!(free.iter().any(|n| n == "Gymsal A"), "{free:?}");
    assert!(
        !free.iter().any(|n| n == WHOLE || n == "Gymsal B"),
        "{free:?}"
    );
    // The whole booked (another day): neither half is offered.
    let whole = app.room(WHOLE).await;
    let (status, body) = book(app, ASTRID, &whole, "2027-01-08T19:00", "2027-01-08T21:00").await;
    assert_eq!(status, 201, "{body}");
    let free = free_names(app, "2027-01-08").await;
    assert!(
        !free.iter().any(|n| n == WHOLE || n.starts_with("Gymsal ")),
        "{free:?}"
    );
    // And the portal's week of half A shows the whole's time as busy.
    let (status, page) = text(
        app,
        &format!("/halls/{}?week=2027-W01", app.room("Gymsal A").await),
        &[],
    )
    .await;
    assert_eq!(status, 200);
    assert!(page.contains("class=\"busy\""), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_search_offers_a_free_half_and_not_a_blocked_whole_on_sqlite() {
    let app = TestApp::sqlite().await;
    search(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_search_offers_a_free_half_and_not_a_blocked_whole_on_postgres() {
    let pg = Postgres::start();
    let app = TestApp::start(test_config(&pg.url)).await;
    search(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_halls_pages_say_what_it_is_made_of_and_what_booking_it_blocks() {
    let app = TestApp::sqlite().await;
    let whole = app.room(WHOLE).await;
    let half_a = app.room("Gymsal A").await;
    let (status, page) = text(&app, &format!("/halls/{whole}"), &[]).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Gymsal A+B, (delbar) består av Gymsal A og Gymsal B."),
        "{page}"
    );
    assert!(
        page.contains("Booker du hele lokalet, er alle delene opptatt"),
        "{page}"
    );
    assert!(
        page.contains(&format!("href=\"/halls/{half_a}\"")),
        "{page}"
    );
    let (_, page) = text(
        &app,
        &format!("/halls/{half_a}"),
        &[("Accept-Language", "en")],
    )
    .await;
    assert!(
        page.contains("Gymsal A is part of Gymsal A+B, (delbar)."),
        "{page}"
    );
    assert!(page.contains(&format!("href=\"/halls/{whole}\"")), "{page}");
    // The search's cards say it too.
    let (status, page) = text(&app, "/?date=2027-01-07&from=18:00&to=20:00&people=40", &[]).await;
    assert_eq!(status, 200);
    assert!(page.contains("Del av Gymsal A+B, (delbar)."), "{page}");
    assert!(
        page.contains("Består av Gymsal A og Gymsal B; booker du hele, er alle delene opptatt."),
        "{page}"
    );
    // A plain room says nothing of the kind.
    let (_, page) = text(
        &app,
        &format!("/halls/{}", app.room("Storsalen").await),
        &[],
    )
    .await;
    assert!(!page.contains("division-heading"), "{page}");
}

// --- the directory ---

/// The seed's hall, read by either backend.
fn assert_seed_hall(rooms: &[lokal::directory::DirRoom]) {
    let whole = rooms.iter().find(|r| r.name == WHOLE).unwrap();
    assert_eq!(
        whole.parts,
        [format!("cn=Gymsal A,{BASE}"), format!("cn=Gymsal B,{BASE}")]
    );
    let resolved = lokal::directory::resolve_parts(rooms).unwrap();
    let id = |name: &str| rooms.iter().find(|r| r.name == name).unwrap().id.clone();
    let mut halves = vec![id("Gymsal A"), id("Gymsal B")];
    halves.sort();
    assert_eq!(resolved.leaves[&whole.id], halves);
    assert_eq!(resolved.leaves[&id("Gymsal A")], [id("Gymsal A")]);
    assert_eq!(resolved.leaves[&id("Storsalen")], [id("Storsalen")]);
}

#[tokio::test]
async fn parts_read_the_same_from_the_ldif_file_and_from_slapd() {
    let mapping = lokal::config::Config::default().directory.mapping();
    let url = format!("file:{}", repo().join("seed/directory.ldif").display());
    let file = lokal::directory::connect(&url, mapping.clone(), None)
        .await
        .unwrap()
        .rooms()
        .await
        .unwrap();
    let server = Slapd::start(Options::default());
    let ldap = lokal::directory::connect(&server.url, mapping, Some(settings(&server)))
        .await
        .unwrap()
        .rooms()
        .await
        .unwrap();
    assert_seed_hall(&file);
    assert_seed_hall(&ldap);
    let parts = |rooms: &[lokal::directory::DirRoom]| -> Vec<(String, Vec<String>)> {
        let mut v: Vec<_> = rooms
            .iter()
            .map(|r| (r.id.clone(), r.parts.clone()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(parts(&file), parts(&ldap));
}

fn settings(server: &Slapd) -> lokal::directory::LdapSettings {
    lokal::directory::LdapSettings {
        url: server.url.clone(),
        bind_dn: "cn=lokal-service,ou=Services,dc=fjordvik,dc=kommune,dc=no".into(),
        bind_password: "lokal-service-secret".into(),
        starttls: false,
        ca_file: None,
        insecure_skip_verify: false,
        timeout: std::time::Duration::from_secs(5),
        page_size: 500,
    }
}

/// A foreign schema: the halls of Rådhuset name their parts in `seeAlso` (RFC 4524 allows
/// it on `room`), mapped with `parts = "seeAlso"`; `lokalPart` then means nothing.
const FOREIGN: &str = "\
dn: cn=Kommunestyresalen,ou=Rådhuset,ou=Buildings,dc=fjordvik,dc=kommune,dc=no
objectClass: top
objectClass: room
objectClass: lokalBookable
cn: Kommunestyresalen
lokalCapacity: 90
lokalPolicy: meeting-room
seeAlso: cn=Kommunestyresalen nord,ou=Rådhuset,ou=Buildings,dc=fjordvik,dc=kommune,dc=no
seeAlso: cn=Kommunestyresalen sør,ou=Rådhuset,ou=Buildings,dc=fjordvik,dc=kommune,dc=no
entryUUID: 0d3f4a6b-1c2e-5f70-8a9b-c1d2e3f40a01

dn: cn=Kommunestyresalen nord,ou=Rådhuset,ou=Buildings,dc=fjordvik,dc=kommune,dc=no
objectClass: top
objectClass: room
objectClass: lokalBookable
cn: Kommunestyresalen nord
lokalCapacity: 45
lokalPolicy: meeting-room
entryUUID: 0d3f4a6b-1c2e-5f70-8a9b-c1d2e3f40a02

dn: cn=Kommunestyresalen sør,ou=Rådhuset,ou=Buildings,dc=fjordvik,dc=kommune,dc=no
objectClass: top
objectClass: room
objectClass: lokalBookable
cn: Kommunestyresalen sør
lokalCapacity: 45
lokalPolicy: meeting-room
entryUUID: 0d3f4a6b-1c2e-5f70-8a9b-c1d2e3f40a03
";

#[tokio::test]
async fn a_foreign_schemas_part_attribute_is_mapped_the_same_on_both_backends() {
    let dir = crate::support::app::TempDir::new("halls-foreign");
    // LDIF wants non-ASCII DNs in base64; slapadd and our reader both take the UTF-8 form of
    // a `dn::` line, so write them that way.
    let foreign: String = FOREIGN
        .lines()
        .map(|l| match l.strip_prefix("dn: ") {
            Some(dn) if !dn.is_ascii() => format!("dn:: {}", base64(dn)),
            _ => match l.strip_prefix("seeAlso: ") {
                Some(v) if !v.is_ascii() => format!("seeAlso:: {}", base64(v)),
                _ => match l.strip_prefix("cn: ") {
                    Some(v) if !v.is_ascii() => format!("cn:: {}", base64(v)),
                    _ => l.to_owned(),
                },
            },
        })
        .collect::<Vec<_>>()
        .join("\n");
    let extra = dir.0.join("foreign.ldif");
    std::fs::write(&extra, format!("{foreign}\n")).unwrap();
    let combined = dir.0.join("combined.ldif");
    let seed = std::fs::read_to_string(repo().join("seed/directory.ldif")).unwrap();
    std::fs::write(&combined, format!("{seed}\n{foreign}\n")).unwrap();

    let mut config = lokal::config::Config::default();
    config.directory.mapping.parts = Some("seeAlso".into());
    let mapping = config.directory.mapping();
    assert_eq!(mapping.parts.as_deref(), Some("seeAlso"));
    let file = lokal::directory::connect(
        &format!("file:{}", combined.display()),
        mapping.clone(),
        None,
    )
    .await
    .unwrap()
    .rooms()
    .await
    .unwrap();
    let server = Slapd::start(Options {
        extra_ldif: vec![extra],
        ..Options::default()
    });
    let ldap = lokal::directory::connect(&server.url, mapping, Some(settings(&server)))
        .await
        .unwrap()
        .rooms()
        .await
        .unwrap();
    for rooms in [&file, &ldap] {
        let hall = rooms
            .iter()
            .find(|r| r.name == "Kommunestyresalen")
            .unwrap();
        assert_eq!(hall.parts.len(), 2, "{hall:?}");
        // lokalPart is not the mapped attribute: the gym has no parts here.
        let gym = rooms.iter().find(|r| r.name == WHOLE).unwrap();
        assert!(gym.parts.is_empty(), "{gym:?}");
        let resolved = lokal::directory::resolve_parts(rooms).unwrap();
        assert_eq!(resolved.leaves[&hall.id].len(), 2);
    }
    let mut a: Vec<_> = file
        .iter()
        .map(|r| (r.id.clone(), r.parts.clone()))
        .collect();
    let mut b: Vec<_> = ldap
        .iter()
        .map(|r| (r.id.clone(), r.parts.clone()))
        .collect();
    a.sort();
    b.sort();
    assert_eq!(a, b);
}

fn base64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
}

/// A part that is no room, a room naming itself, and a cycle: the sync is refused with a
/// message naming the rooms, and the stored rooms stay as they were.
#[tokio::test]
async fn a_bad_part_refuses_the_sync_and_keeps_the_rooms() {
    let mapping = lokal::config::Config::default().directory.mapping();
    let url = format!("file:{}", repo().join("seed/directory.ldif").display());
    let rooms = lokal::directory::connect(&url, mapping, None)
        .await
        .unwrap()
        .rooms()
        .await
        .unwrap();
    let dir = crate::support::app::TempDir::new("halls-bad");
    let store = lokal::store::Store::open(&format!("sqlite:{}", dir.0.join("lokal.db").display()))
        .await
        .unwrap();
    let now: chrono::DateTime<chrono::Utc> = "2027-01-04T09:00:00Z".parse().unwrap();
    store.sync_rooms(&rooms, now).await.unwrap();
    let whole = rooms.iter().position(|r| r.name == WHOLE).unwrap();
    let whole_id = rooms[whole].id.clone();
    assert_eq!(store.room_leaves(&whole_id).await.unwrap().len(), 2);

    let cases: Vec<(Vec<lokal::directory::DirRoom>, &str)> = vec![
        {
            let mut r = rooms.clone();
            r[whole].parts.push(format!("cn=Gymsal C,{BASE}"));
            (r, "names the part \"cn=Gymsal C,")
        },
        {
            let mut r = rooms.clone();
            let dn = r[whole].dn.clone();
            r[whole].parts.push(dn);
            (r, "names itself as one of its parts")
        },
        {
            let mut r = rooms.clone();
            let dn = r[whole].dn.clone();
            let a = r.iter().position(|x| x.name == "Gymsal A").unwrap();
            r[a].parts = vec![dn];
            (r, "cycle: Gymsal A -> Gymsal A+B, (delbar) -> Gymsal A")
        },
    ];
    for (bad, says) in cases {
        let e = store
            .sync_rooms(&bad, now + chrono::TimeDelta::minutes(5))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains(says), "{e}");
        assert_eq!(store.room_leaves(&whole_id).await.unwrap().len(), 2);
    }
    // Storing a changed hall: the whole's leaves follow the directory.
    let mut fewer = rooms.clone();
    fewer[whole].parts.truncate(1);
    store
        .sync_rooms(&fewer, now + chrono::TimeDelta::minutes(10))
        .await
        .unwrap();
    assert_eq!(store.room_leaves(&whole_id).await.unwrap().len(), 1);
}

/// The console: a half's week shows the whole's booking as "Booket som Gymsal A+B", with no
/// details, and each week says how the hall is divided.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consoles_week_of_a_half_shows_the_wholes_booking_without_details() {
    let app = TestApp::sqlite().await;
    let whole = app.room(WHOLE).await;
    let half_a = app.room("Gymsal A").await;
    let kari = app.resident("kari.gym@example.no").await;
    let (status, body) = book(
        &app,
        (&kari.0, &kari.1),
        &whole,
        "2027-01-07T18:00",
        "2027-01-07T20:00",
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let astrid = crate::support::browser::Browser::signed_in(&app, ASTRID.0, ASTRID.1).await;
    let week = astrid
        .get(&format!("/console/calendar?room={half_a}&week=2027-W01"))
        .await;
    assert_eq!(week.status, 200, "{}", week.body);
    assert!(
        week.body.contains("Booket som Gymsal A+B, (delbar)"),
        "{}",
        week.body
    );
    assert!(
        week.body
            .contains("Gymsal A er en del av Gymsal A+B, (delbar). En booking av hele lokalet"),
        "{}",
        week.body
    );
    for secret in ["Innebandy", "Resident kari"] {
        assert!(!week.body.contains(secret), "{secret} in the half's week");
    }
    // The whole's own week shows the booking with its details, as any booking.
    let week = astrid
        .get(&format!("/console/calendar?room={whole}&week=2027-W01"))
        .await;
    assert!(week.body.contains("Innebandy"), "{}", week.body);
    assert!(
        week.body
            .contains("Gymsal A+B, (delbar) består av Gymsal A og Gymsal B."),
        "{}",
        week.body
    );
}

/// The seed directory, and the app started on a copy of it whose hall names no parts yet:
/// the whole and its halves are then three plain rooms that may be booked at one time.
async fn app_without_parts(pg: Option<&Postgres>) -> (TestApp, crate::support::app::TempDir) {
    let dir = crate::support::app::TempDir::new("halls-unparted");
    let seed = std::fs::read_to_string(repo().join("seed/directory.ldif")).unwrap();
    let unparted: String = seed
        .lines()
        .filter(|l| !l.starts_with("lokalPart:"))
        .map(|l| format!("{l}\n"))
        .collect();
    let ldif = dir.0.join("directory.ldif");
    std::fs::write(&ldif, unparted).unwrap();
    let url = match pg {
        Some(pg) => pg.url.clone(),
        None => format!("sqlite:{}", dir.0.join("lokal.db").display()),
    };
    let mut config = test_config(&url);
    config.directory.url = format!("file:{}", ldif.display());
    (TestApp::start(config).await, dir)
}

/// The seed directory's rooms, with the hall's parts.
async fn seed_rooms() -> Vec<lokal::directory::DirRoom> {
    let mapping = lokal::config::Config::default().directory.mapping();
    let url = format!("file:{}", repo().join("seed/directory.ldif").display());
    lokal::directory::connect(&url, mapping, None)
        .await
        .unwrap()
        .rooms()
        .await
        .unwrap()
}

async fn booking_status(app: &TestApp, user: (&str, &str), id: &str) -> String {
    let (status, body) = app.get(&format!("/api/v1/bookings/{id}"), Some(user)).await;
    assert_eq!(status, 200, "{body}");
    body["status"].as_str().unwrap().to_owned()
}

/// A database with history: the whole and half A were both booked for one evening last week
/// and for one next week, before the directory named the hall's parts. Declaring the parts
/// then stores every other room and keeps the hall's old parts, naming the two coming
/// bookings in the way; once one of them is cancelled, the next sync stores the parts, and
/// last week's two bookings stay as they were.
async fn parts_declared_on_history(app: &TestApp) {
    let whole = app.room(WHOLE).await;
    let half_a = app.room("Gymsal A").await;
    let (kari, ola) = (API_STAFF[0], API_STAFF[1]);
    let mut ids = Vec::new();
    for day in ["2027-01-05", "2027-01-12"] {
        for (who, room) in [(kari, &whole), (ola, &half_a)] {
            let (status, body) = book(
                app,
                who,
                room,
                &format!("{day}T18:00"),
                &format!("{day}T20:00"),
            )
            .await;
            assert_eq!(status, 201, "{body}");
            let id = body["id"].as_str().unwrap().to_owned();
            // The school's clerk approves it, so it does not expire.
            let (status, body) = app
                .post(
                    &format!("/api/v1/bookings/{id}/approve"),
                    Some(ASTRID),
                    json!({}),
                )
                .await;
            assert_eq!(status, 200, "{body}");
            ids.push(id);
        }
    }
    // Last week's evening is history now.
    let later: chrono::DateTime<chrono::Utc> = "2027-01-06T09:00:00Z".parse().unwrap();
    app.clock.set(later);
    let store = lokal::startup::store_of(&app.state);
    let rooms = seed_rooms().await;
    let report = store.sync_rooms(&rooms, later).await.unwrap();
    assert_eq!(report.refused_parts.len(), 1, "{report:?}");
    assert_eq!(report.refused_parts[0].room_id, whole);
    let mut in_the_way = vec![ids[2].clone(), ids[3].clone()];
    in_the_way.sort();
    assert_eq!(report.refused_parts[0].booking_ids, in_the_way);
    // The hall still blocks only itself: its old parts.
    assert_eq!(
        store.room_leaves(&whole).await.unwrap(),
        vec![whole.clone()]
    );
    // The sync went through for the rest of the directory: the hall's pages name the parts.
    let stored = store.rooms(false).await.unwrap();
    let stored_whole = stored.iter().find(|r| r.room.id == whole).unwrap();
    assert_eq!(stored_whole.room.parts.len(), 2);

    // Erik gives up next week's evening; the next sync stores the parts.
    let (status, body) = app
        .post(
            &format!("/api/v1/bookings/{}/cancel", ids[3]),
            Some(ola),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let report = store.sync_rooms(&rooms, later).await.unwrap();
    assert!(report.refused_parts.is_empty(), "{report:?}");
    assert_eq!(store.room_leaves(&whole).await.unwrap().len(), 2);
    // Last week's whole and half both stay booked; from now on the whole blocks half A.
    assert_eq!(booking_status(app, kari, &ids[0]).await, "approved");
    assert_eq!(booking_status(app, ola, &ids[1]).await, "approved");
    let (status, body) = book(app, ola, &half_a, "2027-01-12T19:00", "2027-01-12T20:00").await;
    assert_eq!(status, 409, "{body}");
}

#[tokio::test]
async fn parts_declared_on_a_database_with_history_refuse_only_the_clashing_hall_on_sqlite() {
    let (app, _dir) = app_without_parts(None).await;
    parts_declared_on_history(&app).await;
}

#[tokio::test]
async fn parts_declared_on_a_database_with_history_refuse_only_the_clashing_hall_on_postgres() {
    let pg = Postgres::start();
    let (app, _dir) = app_without_parts(Some(&pg)).await;
    parts_declared_on_history(&app).await;
}

/// Half A's and the whole's sync tokens and feed ETags, in that order.
async fn tags(app: &TestApp, ids: &[&str]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for id in ids {
        let calendar = format!("/dav/calendars/rooms/{id}/calendar/");
        let body = r#"<d:sync-collection xmlns:d="DAV:"><d:sync-token/><d:sync-level>1</d:sync-level>
  <d:prop><d:getetag/></d:prop></d:sync-collection>"#;
        let (status, body) = dav(app, "REPORT", &calendar, LARS, body).await;
        assert_eq!(status, 207, "{body}");
        let token = body
            .split("<d:sync-token>")
            .nth(1)
            .and_then(|t| t.split("</d:sync-token>").next())
            .unwrap()
            .to_owned();
        let feed = app
            .client
            .get(format!("{}/feeds/rooms/{id}.ics", app.base))
            .send()
            .await
            .unwrap();
        let etag = feed.headers()["etag"].to_str().unwrap().to_owned();
        out.push((token, etag));
    }
    out
}

/// A sync from `token` on the room's calendar: 403 valid-sync-token when the token is stale.
async fn sync_from(app: &TestApp, id: &str, token: &str) -> (u16, String) {
    let body = format!(
        r#"<d:sync-collection xmlns:d="DAV:"><d:sync-token>{token}</d:sync-token><d:sync-level>1</d:sync-level>
  <d:prop><d:getetag/></d:prop></d:sync-collection>"#
    );
    dav(
        app,
        "REPORT",
        &format!("/dav/calendars/rooms/{id}/calendar/"),
        LARS,
        &body,
    )
    .await
}

/// The directory takes half A out of the hall, then puts it back: each time the calendars of
/// the half and of the whole show other bookings without any booking changing, so clients'
/// old sync tokens are refused (they sync again from scratch, RFC 6578 §3.2) and the feeds'
/// ETags move, for the part taken out as for the part put back.
async fn composition_changes_reach_calendars(app: &TestApp) {
    let whole = app.room(WHOLE).await;
    let half_a = app.room("Gymsal A").await;
    let (status, body) = book(app, ASTRID, &whole, "2027-01-07T18:00", "2027-01-07T20:00").await;
    assert_eq!(status, 201, "{body}");
    let store = lokal::startup::store_of(&app.state);
    let rooms = seed_rooms().await;
    let at = |m: i64| test_now_plus(m);
    let mut without_a = rooms.clone();
    let w = without_a.iter().position(|r| r.name == WHOLE).unwrap();
    without_a[w]
        .parts
        .retain(|p| !p.starts_with("cn=Gymsal A,"));
    assert_eq!(without_a[w].parts.len(), 1);

    let ids = [half_a.as_str(), whole.as_str()];
    let before = tags(app, &ids).await;
    for (id, (token, _)) in ids.iter().zip(&before) {
        let (status, body) = sync_from(app, id, token).await;
        assert_eq!(status, 207, "{id}: {body}");
    }
    let report = store.sync_rooms(&without_a, at(5)).await.unwrap();
    assert!(report.refused_parts.is_empty(), "{report:?}");
    let taken_out = tags(app, &ids).await;
    for ((id, (token, etag)), (_, now_etag)) in ids.iter().zip(&before).zip(&taken_out) {
        let (status, body) = sync_from(app, id, token).await;
        assert_eq!(status, 403, "{id}: {body}");
        assert!(body.contains("valid-sync-token"), "{body}");
        assert_ne!(etag, now_etag, "{id}'s feed");
    }
    // The half no longer shows the whole's booking.
    let (_, ics) = text(app, &format!("/feeds/rooms/{half_a}.ics"), &[]).await;
    assert!(!ics.contains("20270107T180000"), "{ics}");

    let report = store.sync_rooms(&rooms, at(10)).await.unwrap();
    assert!(report.refused_parts.is_empty(), "{report:?}");
    let put_back = tags(app, &ids).await;
    for ((id, (token, etag)), (_, now_etag)) in ids.iter().zip(&taken_out).zip(&put_back) {
        let (status, body) = sync_from(app, id, token).await;
        assert_eq!(status, 403, "{id}: {body}");
        assert_ne!(etag, now_etag, "{id}'s feed");
    }
    let (_, ics) = text(app, &format!("/feeds/rooms/{half_a}.ics"), &[]).await;
    assert!(ics.contains("20270107T180000"), "{ics}");
}

fn test_now_plus(minutes: i64) -> chrono::DateTime<chrono::Utc> {
    crate::support::app::test_now() + chrono::TimeDelta::minutes(minutes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_hall_invalidates_the_sync_tokens_and_feed_etags_of_its_parts_on_sqlite() {
    let app = TestApp::sqlite().await;
    composition_changes_reach_calendars(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_hall_invalidates_the_sync_tokens_and_feed_etags_of_its_parts_on_postgres() {
    let pg = Postgres::start();
    let app = TestApp::start(test_config(&pg.url)).await;
    composition_changes_reach_calendars(&app).await;
}

/// A directory sync declaring the hall's parts races a booking of the whole while half A is
/// booked at that time, round after round: either the booking comes first (and the sync
/// keeps the hall's old parts, naming it) or the sync does (and the booking is refused). The
/// whole is never booked over half A with its new parts stored.
async fn sync_races_booking(app: &TestApp) {
    let whole = app.room(WHOLE).await;
    let half_a = app.room("Gymsal A").await;
    let store = lokal::startup::store_of(&app.state).clone();
    let with_parts = Arc::new(seed_rooms().await);
    let mut without: Vec<lokal::directory::DirRoom> = (*with_parts).clone();
    for r in &mut without {
        r.parts.clear();
    }
    let now = crate::support::app::test_now();
    let mut outcomes = (0, 0);
    for day in 5..=16u32 {
        let date = format!("2027-01-{day:02}");
        let report = store.sync_rooms(&without, now).await.unwrap();
        assert!(report.refused_parts.is_empty(), "{report:?}");
        let (status, body) = book(
            app,
            API_STAFF[1],
            &half_a,
            &format!("{date}T17:00"),
            &format!("{date}T18:00"),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        let barrier = Arc::new(Barrier::new(2));
        let syncing = {
            let (store, rooms, barrier) = (store.clone(), with_parts.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store.sync_rooms(&rooms, now).await.unwrap()
            })
        };
        barrier.wait().await;
        let (status, body) = book(
            app,
            ASTRID,
            &whole,
            &format!("{date}T17:00"),
            &format!("{date}T18:00"),
        )
        .await;
        let report = syncing.await.unwrap();
        let refused = report.refused_parts.iter().any(|r| r.room_id == whole);
        match status {
            201 => {
                assert!(
                    refused,
                    "{date}: the whole booked over half A, and the parts stored"
                );
                let id = body["id"].as_str().unwrap();
                let (status, body) = app
                    .post(
                        &format!("/api/v1/bookings/{id}/cancel"),
                        Some(ASTRID),
                        json!({}),
                    )
                    .await;
                assert_eq!(status, 200, "{body}");
                outcomes.0 += 1;
            }
            409 => {
                assert!(!refused, "{date}: {report:?}");
                outcomes.1 += 1;
            }
            other => panic!("{date}: {other} {body}"),
        }
    }
    assert_eq!(outcomes.0 + outcomes.1, 12, "{outcomes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sync_declaring_parts_and_a_booking_of_the_whole_never_both_win_on_sqlite() {
    let (app, _dir) = app_without_parts(None).await;
    sync_races_booking(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sync_declaring_parts_and_a_booking_of_the_whole_never_both_win_on_postgres() {
    let pg = Postgres::start();
    let (app, _dir) = app_without_parts(Some(&pg)).await;
    sync_races_booking(&app).await;
}

/// Kari's request for half A waits for a clerk past its hold; booking the whole at that time
/// expires it and goes through, as a stale hold on the whole itself would.
async fn stale_hold_on_a_half(app: &TestApp) {
    let whole = app.room(WHOLE).await;
    let half_a = app.room("Gymsal A").await;
    let kari = app.resident("kari.stale@example.no").await;
    let kari = (kari.0.as_str(), kari.1.as_str());
    let (status, body) = book(app, kari, &half_a, "2027-01-20T18:00", "2027-01-20T20:00").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "pending", "{body}");
    let held = body["id"].as_str().unwrap().to_owned();
    // The seven days' hold has run out.
    app.clock.set("2027-01-12T09:00:00Z".parse().unwrap());
    let (status, body) = book(app, ASTRID, &whole, "2027-01-20T18:00", "2027-01-20T20:00").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(booking_status(app, kari, &held).await, "expired");
}

#[tokio::test]
async fn a_stale_hold_on_a_half_is_expired_by_a_booking_of_the_whole_on_sqlite() {
    let app = TestApp::sqlite().await;
    stale_hold_on_a_half(&app).await;
}

#[tokio::test]
async fn a_stale_hold_on_a_half_is_expired_by_a_booking_of_the_whole_on_postgres() {
    let pg = Postgres::start();
    let app = TestApp::start(test_config(&pg.url)).await;
    stale_hold_on_a_half(&app).await;
}

/// PostgreSQL: transactions writing several audit rows in the rooms of one hall (a
/// cancellation expiring stale holds first, the expiry job) run alongside creations in the
/// hall's other rooms, and every one of them goes through: none is chosen as the victim of a
/// deadlock (which would come back as a 5xx).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expiries_cancellations_and_creations_in_one_hall_do_not_deadlock_on_postgres() {
    let pg = Postgres::start();
    let app = Arc::new(TestApp::start(test_config(&pg.url)).await);
    let rooms = [
        app.room(WHOLE).await,
        app.room("Gymsal A").await,
        app.room("Gymsal B").await,
    ];
    let kari = app.resident("kari.stale-many@example.no").await;
    let ola = app.resident("ola.fresh-many@example.no").await;
    // Kari's requests, one per room and day, whose holds will have run out.
    let mut stale = Vec::new();
    for (i, room) in rooms.iter().enumerate() {
        for day in [18 + i, 23 + i] {
            let date = format!("2027-01-{day:02}");
            let (status, body) = book(
                &app,
                (&kari.0, &kari.1),
                room,
                &format!("{date}T17:00"),
                &format!("{date}T18:00"),
            )
            .await;
            assert_eq!(status, 201, "{body}");
            stale.push(body["id"].as_str().unwrap().to_owned());
        }
    }
    app.clock.set("2027-01-12T09:00:00Z".parse().unwrap());
    // Ola's fresh requests, cancelled in the race.
    let mut fresh = Vec::new();
    for (i, room) in rooms.iter().enumerate() {
        let date = format!("2027-01-{:02}", 28 + i);
        let (status, body) = book(
            &app,
            (&ola.0, &ola.1),
            room,
            &format!("{date}T17:00"),
            &format!("{date}T18:00"),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        fresh.push(body["id"].as_str().unwrap().to_owned());
    }
    // Kari's requests are stale by now; the first write in the race expires them.
    let barrier = Arc::new(Barrier::new(fresh.len() + 2 + rooms.len()));
    let mut tasks = Vec::new();
    for id in fresh {
        let (app, barrier, ola) = (app.clone(), barrier.clone(), ola.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let (status, body) = app
                .post(
                    &format!("/api/v1/bookings/{id}/cancel"),
                    Some((&ola.0, &ola.1)),
                    json!({}),
                )
                .await;
            (status, body.to_string())
        }));
    }
    for _ in 0..2 {
        let (app, barrier) = (app.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let at: chrono::DateTime<chrono::Utc> = "2027-01-12T09:00:00Z".parse().unwrap();
            match lokal::startup::store_of(&app.state).expire_holds(at).await {
                Ok(_) => (200, String::new()),
                Err(e) => (500, e.to_string()),
            }
        }));
    }
    for (i, room) in rooms.iter().cloned().enumerate() {
        let (app, barrier) = (app.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            // The time of one of Kari's stale requests in another room of the hall.
            let date = format!("2027-01-{:02}", 18 + (i + 1) % 3);
            let (status, body) = book(
                &app,
                ASTRID,
                &room,
                &format!("{date}T17:00"),
                &format!("{date}T18:00"),
            )
            .await;
            (status, body.to_string())
        }));
    }
    for task in tasks {
        let (status, body) = task.await.unwrap();
        assert!(status < 300, "{status}: {body}");
    }
    for id in &stale {
        assert_eq!(
            booking_status(&app, (&kari.0, &kari.1), id).await,
            "expired"
        );
    }
}

/// An organiser books the whole by invitation, then swaps it for half A at the same times:
/// the whole is freed first, so half A accepts instead of being refused by the organiser's
/// own booking of the whole.
async fn swap_whole_for_half(app: &TestApp) {
    let put = |room: &'static str, tag: Option<String>| {
        let mut request = app
            .client
            .put(format!("{}{}", app.base, object(LARS.0, 14)))
            .basic_auth(LARS.0, Some(LARS.1))
            .header("Content-Type", "text/calendar; charset=utf-8")
            .body(event(
                "hall-swap-14@test",
                LARS.0,
                room,
                "20270114T180000",
                "20270114T200000",
            ));
        request = match tag {
            Some(tag) => request.header("If-Match", tag),
            None => request.header("If-None-Match", "*"),
        };
        request.send()
    };
    let response = put(WHOLE_MAIL, None).await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let (status, copy) = dav(app, "GET", &object(LARS.0, 14), LARS, "").await;
    assert_eq!(status, 200, "{copy}");
    // Held (a clerk approves the gym's bookings): it blocks the slot all the same.
    assert!(
        matches!(
            room_partstat(&copy, WHOLE_MAIL).as_deref(),
            Some("ACCEPTED" | "TENTATIVE")
        ),
        "{copy}"
    );
    let tag = app
        .client
        .get(format!("{}{}", app.base, object(LARS.0, 14)))
        .basic_auth(LARS.0, Some(LARS.1))
        .send()
        .await
        .unwrap()
        .headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();

    let response = put(HALF_A_MAIL, Some(tag)).await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let (status, copy) = dav(app, "GET", &object(LARS.0, 14), LARS, "").await;
    assert_eq!(status, 200, "{copy}");
    // Held (a clerk approves the gym's bookings): it blocks the slot all the same.
    assert!(
        matches!(
            room_partstat(&copy, HALF_A_MAIL).as_deref(),
            Some("ACCEPTED" | "TENTATIVE")
        ),
        "{copy}"
    );
    // Half A is busy then, and half B free: the whole's booking is gone.
    for (name, busy) in [("Gymsal A", 1), ("Gymsal B", 0), (WHOLE, 1)] {
        let id = app.room(name).await;
        let (_, body) = app
            .get(
                &format!("/api/v1/rooms/{id}/availability?from=2027-01-14&to=2027-01-15"),
                None,
            )
            .await;
        assert_eq!(
            body["busy"].as_array().unwrap().len(),
            busy,
            "{name}: {body}"
        );
    }
}

#[tokio::test]
async fn an_organiser_swapping_the_whole_for_a_half_at_the_same_times_keeps_the_half_on_sqlite() {
    let app = TestApp::sqlite().await;
    swap_whole_for_half(&app).await;
}

#[tokio::test]
async fn an_organiser_swapping_the_whole_for_a_half_at_the_same_times_keeps_the_half_on_postgres() {
    let pg = Postgres::start();
    let app = TestApp::start(test_config(&pg.url)).await;
    swap_whole_for_half(&app).await;
}
