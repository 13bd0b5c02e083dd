//! Rooms as calendar users: their `mailto:` addresses from the directory, the lookup from an
//! address to a room, and free-busy requests through the schedule outbox (RFC 6638 §5), on the
//! real router and store with the seed directory.

use lokal::caldav::freebusy::outbox_post;
use lokal::calendar::Calendars;
use lokal::identity::Principal;
use serde_json::{Value, json};

use crate::support::app::TestApp;

const INGRID: (&str, &str) = ("ingrid.berg", "ingrid-demo-2027"); // kultur: books halls directly
const LARS: (&str, &str) = ("lars.haugen", "lars-demo-2027"); // plain staff: halls need a clerk

const STORSALEN: &str = "mailto:storsalen@rom.fjordvik.kommune.no";

async fn staff(app: &TestApp, who: (&str, &str)) -> Principal {
    app.state
        .identity
        .authenticate(who.0, who.1, lokal::identity::ClientAddr::Unknown)
        .await
        .unwrap()
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

/// Storsalen busy (approved) 10–12 and tentatively (pending) 14–16 on 12 January, Oslo time.
async fn busy_storsalen(app: &TestApp) {
    let storsalen = app.room("Storsalen").await;
    book(
        app,
        INGRID,
        &storsalen,
        json!({"start": "2027-01-12T10:00", "end": "2027-01-12T12:00", "purpose": "Korøving", "attendees": 30}),
        "approved",
    )
    .await;
    book(
        app,
        LARS,
        &storsalen,
        json!({"start": "2027-01-12T14:00", "end": "2027-01-12T16:00", "purpose": "Kurs", "attendees": 10}),
        "pending",
    )
    .await;
}

async fn post(app: &TestApp, path: &str, who: (&str, &str), body: &str) -> (u16, String) {
    let response = app
        .client
        .post(format!("{}{path}", app.base))
        .basic_auth(who.0, Some(who.1))
        .header("Content-Type", "text/calendar; charset=utf-8")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// The outbox over HTTP: the owner's POST gets the schedule-response; someone else's outbox,
/// another organiser and garbage are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schedule_outbox_answers_free_busy_requests_over_http() {
    let app = TestApp::sqlite().await;
    busy_storsalen(&app).await;
    let outbox = "/dav/calendars/users/lars.haugen/outbox/";
    let window = ("20270111T230000Z", "20270118T230000Z");
    let mine = request(
        "mailto:lars.haugen@fjordvik.kommune.no",
        &[STORSALEN, "mailto:ingrid.berg@fjordvik.kommune.no"],
        window.0,
        window.1,
    );
    let (status, xml) = post(&app, outbox, LARS, &mine).await;
    assert_eq!(status, 200, "{xml}");
    let got = answers(&xml);
    assert_eq!(got.len(), 2, "{xml}");
    assert_eq!(got[0].status, "2.0;Success");
    assert_eq!(
        reply(got[0].data.as_deref().unwrap()).0,
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
    assert!(got[1].status.starts_with("3.7;"), "{:?}", got[1]);

    // Ingrid cannot post to Lars's outbox; Lars cannot send as Ingrid; garbage is a 400.
    let (status, body) = post(&app, outbox, INGRID, &mine).await;
    assert_eq!(status, 403, "{body}");
    let as_ingrid = request(
        "mailto:ingrid.berg@fjordvik.kommune.no",
        &[STORSALEN],
        window.0,
        window.1,
    );
    let (status, body) = post(&app, outbox, LARS, &as_ingrid).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("organizer-allowed"), "{body}");
    let (status, body) = post(&app, outbox, LARS, "BEGIN:VCALENDAR\r\ngarbage").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("valid-calendar-data"), "{body}");
}

/// What the free-busy script does: python caldav's RFC 6638 call for the busy time of the
/// addresses on its command line; prints one JSON line with each recipient's FREEBUSY lines
/// and the errors as python caldav reports them.
const FREEBUSY_SCRIPT: &str = r#"
import json, sys
from datetime import datetime, timezone
import caldav

base, user, password = sys.argv[1:4]
client = caldav.DAVClient(url=base + "/dav/", username=user, password=password, timeout=60)
answers = client.principal().freebusy_request(
    datetime(2027, 1, 11, 23, 0, tzinfo=timezone.utc),
    datetime(2027, 1, 18, 23, 0, tzinfo=timezone.utc),
    sys.argv[4:],
)
errors = answers.pop("errors", {})
result = {"errors": {k: str(v) for k, v in errors.items()}, "busy": {}}
for recipient, fb in answers.items():
    text = fb.data.replace("\r\n ", "").replace("\n ", "")
    result["busy"][recipient] = [l.strip() for l in text.splitlines() if l.startswith("FREEBUSY")]
print(json.dumps(result), flush=True)
"#;

/// Python caldav (3.6.0, as in caldav_clients.rs) asks for a room's busy time through its
/// free-busy API and gets the room's BUSY and BUSY-TENTATIVE periods; a person gets an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_caldav_gets_a_rooms_busy_time_through_the_outbox() {
    let app = TestApp::sqlite().await;
    busy_storsalen(&app).await;
    let python = crate::support::python::venv(&["caldav==3.6.0"]);
    let dir = crate::support::app::TempDir::new("freebusy-py");
    let script = dir.0.join("freebusy.py");
    std::fs::write(&script, FREEBUSY_SCRIPT).unwrap();
    let base = app.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg(&script)
            .args([base.as_str(), LARS.0, LARS.1, STORSALEN])
            .arg("mailto:ingrid.berg@fjordvik.kommune.no")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the caldav script failed: {}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"));
    let lines: Vec<&str> = result["busy"][STORSALEN]
        .as_array()
        .unwrap_or_else(|| panic!("{result}"))
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{result}");
    assert!(
        lines[0].contains("FBTYPE=BUSY:")
            && lines[0].ends_with("20270112T090000Z/20270112T110000Z"),
        "{result}"
    );
    assert!(
        lines[1].contains("FBTYPE=BUSY-TENTATIVE")
            && lines[1].ends_with("20270112T130000Z/20270112T150000Z"),
        "{result}"
    );
    let error = result["errors"]["mailto:ingrid.berg@fjordvik.kommune.no"]
        .as_str()
        .unwrap_or_else(|| panic!("{result}"));
    assert!(error.starts_with("3.7"), "{result}");
}
