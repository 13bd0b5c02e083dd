//! Rooms as calendar users: their `mailto:` addresses from the directory, the lookup from an
//! address to a room, and free-busy requests through the schedule outbox (RFC 6638 §5), on the
//! real router and store with the seed directory.

use lokal::caldav::freebusy::outbox_post;
use lokal::caldav::service::Calendars;
use lokal::identity::Principal;
use serde_json::{Value, json};

use crate::support::app::TestApp;

const INGRID: (&str, &str) = ("ingrid.berg", "ingrid-demo-2027"); // kultur: books halls directly
const LARS: (&str, &str) = ("lars.haugen", "lars-demo-2027"); // plain staff: halls need a clerk

const STORSALEN: &str = "mailto:storsalen@rom.fjordvik.kommune.no";

async fn staff(app: &TestApp, who: (&str, &str)) -> Principal {
    app.state.identity.authenticate(who.0, who.1).await.unwrap()
}

async fn book(app: &TestApp, who: (&str, &str), room: &str, body: Value, status: &str) -> String {
    let mut body = body;
    body["room_id"] = json!(room);
    let (code, created) = app.post("/api/v1/bookings", Some(who), body).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["status"], status, "{created}");
    created["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_is_found_by_its_mail_address_in_any_case_or_by_its_uuid() {
    let app = TestApp::sqlite().await;
    let cals = Calendars::new(&app.state.bookings);
    let storsalen = app.room("Storsalen").await;
    for addr in [
        STORSALEN,
        "MAILTO:Storsalen@ROM.fjordvik.kommune.no",
        " mailto:storsalen%40rom.fjordvik.kommune.no ",
        &format!("urn:uuid:{storsalen}"),
        &format!("URN:UUID:{}", storsalen.to_uppercase()),
    ] {
        let found = cals.room_by_address(addr).await.unwrap();
        assert_eq!(
            found.map(|c| c.room.room.id),
            Some(storsalen.clone()),
            "{addr:?}"
        );
    }
    let found = cals
        .room_by_address("mailto:moterom1@rom.fjordvik.kommune.no")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.room.room.name, "Møterom 1");
    assert_eq!(
        found.addresses(),
        [
            "mailto:moterom1@rom.fjordvik.kommune.no".to_owned(),
            format!("urn:uuid:{}", found.room.room.id)
        ]
    );
    // Not rooms, or not bookable ones: a person, an unknown address, a room under renovation
    // (Galleriet), other schemes and garbage.
    for addr in [
        "mailto:lars.haugen@fjordvik.kommune.no",
        "mailto:nobody@rom.fjordvik.kommune.no",
        "mailto:galleriet@rom.fjordvik.kommune.no",
        "storsalen@rom.fjordvik.kommune.no",
        "tel:+4712345678",
        "urn:uuid:00000000-0000-0000-0000-000000000000",
        "mailto:",
        "",
    ] {
        assert!(
            cals.room_by_address(addr).await.unwrap().is_none(),
            "{addr:?}"
        );
    }
}

/// The room principal names the room by its mail address first (what calendar apps invite).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_principal_lists_mailto_its_address_before_its_uuid() {
    let app = TestApp::sqlite().await;
    let room = app.room("Møterom 2").await;
    let body = r#"<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop>
      <c:calendar-user-address-set/><c:calendar-user-type/></d:prop></d:propfind>"#;
    let response = app
        .client
        .request(
            reqwest::Method::from_bytes(b"PROPFIND").unwrap(),
            format!("{}/dav/principals/rooms/{room}/", app.base),
        )
        .basic_auth(LARS.0, Some(LARS.1))
        .header("Depth", "0")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 207);
    let text = response.text().await.unwrap();
    let mail = text
        .find("<d:href>mailto:moterom2@rom.fjordvik.kommune.no</d:href>")
        .unwrap_or_else(|| panic!("{text}"));
    let uuid = text
        .find(&format!("<d:href>urn:uuid:{room}</d:href>"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(mail < uuid, "{text}");
    assert!(text.contains("ROOM</cal:calendar-user-type>"), "{text}");
}

/// One recipient's answer in a schedule-response: recipient, request-status, calendar-data.
#[derive(Debug)]
struct Answer {
    recipient: String,
    status: String,
    data: Option<String>,
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(&text[start..end])
}

/// Reads a `CALDAV:schedule-response` as Lokal writes it (prefix `cal`).
fn answers(xml: &str) -> Vec<Answer> {
    assert!(xml.contains("<cal:schedule-response"), "{xml}");
    xml.split("<cal:response>")
        .skip(1)
        .map(|part| Answer {
            recipient: between(part, "<d:href>", "</d:href>").unwrap().into(),
            status: between(part, "<cal:request-status>", "</cal:request-status>")
                .unwrap()
                .into(),
            data: between(part, "<cal:calendar-data>", "</cal:calendar-data>")
                .map(|d| quick_xml::escape::unescape(d).unwrap().into_owned()),
        })
        .collect()
}

/// `(FBTYPE, period)` of every FREEBUSY line of a reply, and its METHOD, UID, ORGANIZER and
/// ATTENDEE, read with the icalendar crate's parser.
/// Name and value pairs.
type Pairs = Vec<(String, String)>;

fn reply(data: &str) -> (Pairs, Pairs) {
    use icalendar::parser::{read_calendar, unfold};
    let unfolded = unfold(data);
    let cal = read_calendar(&unfolded).unwrap();
    let mut head: Pairs = cal
        .properties
        .iter()
        .map(|p| (p.name.as_str().to_owned(), p.val.as_str().to_owned()))
        .collect();
    assert_eq!(cal.components.len(), 1, "{data}");
    let fb = &cal.components[0];
    assert_eq!(fb.name.as_str(), "VFREEBUSY");
    let mut periods = Vec::new();
    for p in &fb.properties {
        let name = p.name.as_str();
        if name == "FREEBUSY" {
            let kind = p
                .params
                .iter()
                .find(|q| q.key.as_str() == "FBTYPE")
                .and_then(|q| q.val.as_ref())
                .map(|v| v.as_str().to_owned())
                .unwrap_or_default();
            periods.push((kind, p.val.as_str().to_owned()));
        } else {
            head.push((name.to_owned(), p.val.as_str().to_owned()));
        }
    }
    (periods, head)
}

fn request(organizer: &str, attendees: &[&str], start: &str, end: &str) -> String {
    let attendees: String = attendees
        .iter()
        .map(|a| format!("ATTENDEE;CUTYPE=ROOM:{a}\r\n"))
        .collect();
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Lokal tests//EN\r\nMETHOD:REQUEST\r\n\
         BEGIN:VFREEBUSY\r\nUID:fb-test-1\r\nDTSTAMP:20270104T090000Z\r\nDTSTART:{start}\r\n\
         DTEND:{end}\r\nORGANIZER:{organizer}\r\n{attendees}END:VFREEBUSY\r\nEND:VCALENDAR\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_free_busy_request_gets_each_rooms_busy_time_and_says_why_for_the_rest() {
    let app = TestApp::sqlite().await;
    let cals = Calendars::new(&app.state.bookings);
    let storsalen = app.room("Storsalen").await;
    let lillesalen = app.room("Lillesalen").await;
    // Storsalen: approved 10–12 and pending 11–13 (Oslo, UTC+1) on 12 January; Lillesalen free.
    book(
        &app,
        INGRID,
        &storsalen,
        json!({"start": "2027-01-12T10:00", "end": "2027-01-12T12:00", "purpose": "Korøving", "attendees": 30}),
        "approved",
    )
    .await;
    book(
        &app,
        LARS,
        &storsalen,
        json!({"start": "2027-01-12T14:00", "end": "2027-01-12T16:00", "purpose": "Kurs", "attendees": 10}),
        "pending",
    )
    .await;
    // Outside the window: not in the answer.
    book(
        &app,
        INGRID,
        &storsalen,
        json!({"start": "2027-01-20T10:00", "end": "2027-01-20T12:00", "purpose": "Senere", "attendees": 30}),
        "approved",
    )
    .await;

    let lars = staff(&app, LARS).await;
    let body = request(
        "mailto:lars.haugen@fjordvik.kommune.no",
        &[
            "MAILTO:Storsalen@rom.fjordvik.kommune.no",
            &format!("urn:uuid:{lillesalen}"),
            "mailto:ingrid.berg@fjordvik.kommune.no",
            "mailto:galleriet@rom.fjordvik.kommune.no",
        ],
        "20270111T230000Z",
        "20270118T230000Z",
    );
    let response = outbox_post(&cals, &lars, body.as_bytes()).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/xml; charset=utf-8"
    );
    let xml = String::from_utf8(
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    let got = answers(&xml);
    assert_eq!(got.len(), 4, "{xml}");

    // Storsalen, named as the request named it.
    assert_eq!(got[0].recipient, "MAILTO:Storsalen@rom.fjordvik.kommune.no");
    assert_eq!(got[0].status, "2.0;Success");
    let (periods, head) = reply(got[0].data.as_deref().unwrap());
    assert_eq!(
        periods,
        [
            (
                "BUSY".to_owned(),
                "20270112T090000Z/20270112T110000Z".to_owned()
            ),
            (
                "BUSY-TENTATIVE".to_owned(),
                "20270112T130000Z/20270112T150000Z".to_owned()
            ),
        ]
    );
    let get = |name: &str| {
        head.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} in {head:?}"))
    };
    assert_eq!(get("METHOD"), "REPLY");
    assert_eq!(get("UID"), "fb-test-1");
    assert_eq!(get("ORGANIZER"), "mailto:lars.haugen@fjordvik.kommune.no");
    assert_eq!(get("ATTENDEE"), "MAILTO:Storsalen@rom.fjordvik.kommune.no");
    assert_eq!(get("DTSTART"), "20270111T230000Z");
    assert_eq!(get("DTEND"), "20270118T230000Z");

    // Lillesalen by its uuid: free all week, an empty reply.
    assert_eq!(got[1].status, "2.0;Success");
    assert!(reply(got[1].data.as_deref().unwrap()).0.is_empty());

    // A person and a room that cannot be booked: 3.7 with the reason, no data.
    for a in &got[2..] {
        assert!(a.status.starts_with("3.7;Invalid calendar user;"), "{a:?}");
        assert!(a.status.contains("not a bookable room"), "{a:?}");
        assert!(a.data.is_none(), "{a:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_free_busy_requests_get_a_dav_error_and_book_nothing() {
    let app = TestApp::sqlite().await;
    let cals = Calendars::new(&app.state.bookings);
    let lars = staff(&app, LARS).await;
    let ok = |o: &str| request(o, &[STORSALEN], "20270111T230000Z", "20270118T230000Z");
    let cases: Vec<(String, u16, &str)> = vec![
        ("garbage \u{0}\u{7f}".into(), 400, "valid-calendar-data"),
        (
            "BEGIN:VCALENDAR\r\nBEGIN:VFREEBUSY\r\n".into(),
            400,
            "valid-calendar-data",
        ),
        (
            ok("mailto:lars.haugen@fjordvik.kommune.no").replace("VFREEBUSY", "VEVENT"),
            400,
            "valid-scheduling-message",
        ),
        (
            request(
                "mailto:lars.haugen@fjordvik.kommune.no",
                &[STORSALEN],
                "20270111T230000",
                "20270118T230000",
            ),
            400,
            "valid-scheduling-message",
        ),
        (ok("urn:lokal:staff:ingrid.berg"), 403, "organizer-allowed"),
        (ok(STORSALEN), 403, "organizer-allowed"),
        ("x".repeat(200_000), 400, "valid-calendar-data"),
    ];
    for (body, status, precondition) in cases {
        let response = outbox_post(&cals, &lars, body.as_bytes()).await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{body:.80}");
        let text = String::from_utf8(
            axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap()
                .to_vec(),
        )
        .unwrap();
        assert!(
            text.contains(&format!("<cal:{precondition}/>"))
                && text.contains("responsedescription"),
            "{body:.80}: {text}"
        );
    }
    // The caller's own URN is accepted as the organiser.
    let response = outbox_post(&cals, &lars, ok("urn:lokal:staff:lars.haugen").as_bytes())
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let (_, list) = app.get("/api/v1/bookings?mine=true", Some(LARS)).await;
    assert_eq!(list["bookings"].as_array().map(Vec::len), Some(0), "{list}");
}
