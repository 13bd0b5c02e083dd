//! Residents' mails through a real SMTP server (aiosmtpd, `support/smtp.rs`): a real booking
//! made and decided through the API, composed by `lokal::notify::mail` and sent by its
//! `Mailer` over SMTP; what arrived is parsed back (MIME with `mailparse`, the iMIP calendar
//! with the `icalendar` crate).

use icalendar::parser::{Component, read_calendar, unfold};
use lokal::i18n::Lang;
use lokal::notify::mail::{BookingMail, BookingMailKind, Mailer, booking_mail};
use lokal::store::BookingRecord;
use serde_json::json;

use crate::support::app::TestApp;
use crate::support::smtp::{Received, SinkOptions, SmtpSink, WAIT};

const ERIK: (&str, &str) = ("erik.dahl", "erik-clerk-2027"); // clerk of Kulturhuset

fn prop<'a>(c: &'a Component<'a>, name: &str) -> Option<&'a str> {
    c.find_prop(name).map(|p| p.val.as_str())
}

fn param(c: &Component, prop: &str, key: &str) -> Option<String> {
    c.find_prop(prop)?
        .params
        .iter()
        .find(|p| p.key == key)
        .and_then(|p| p.val.as_ref())
        .map(|v| v.to_string())
}

/// The one `text/calendar` part of a received mail, with its `method` parameter checked
/// against the calendar's METHOD, handed to `check` parsed.
fn with_calendar(mail: &Received, method: &str, check: impl FnOnce(&Component, &Component)) {
    let calendars = mail.calendars();
    assert_eq!(calendars.len(), 1, "{}", String::from_utf8_lossy(&mail.raw));
    let part = &calendars[0];
    assert_eq!(part.params.get("method").map(String::as_str), Some(method));
    assert_eq!(
        part.params
            .get("charset")
            .map(|c| c.to_ascii_uppercase())
            .as_deref(),
        Some("UTF-8")
    );
    let unfolded = unfold(&part.body);
    let calendar = read_calendar(&unfolded).expect("the iMIP part parses");
    let method_prop = calendar
        .properties
        .iter()
        .find(|p| p.name == "METHOD")
        .map(|p| p.val.to_string());
    assert_eq!(method_prop.as_deref(), Some(method));
    let event = calendar
        .components
        .iter()
        .find(|c| c.name == "VEVENT")
        .expect("a VEVENT");
    let zone = calendar
        .components
        .iter()
        .find(|c| c.name == "VTIMEZONE")
        .expect("a VTIMEZONE");
    check(event, zone);
    // The same calendar is attached as invite.ics for mail apps that ignore the part.
    let attached: Vec<_> = mail
        .parts()
        .into_iter()
        .filter(|p| p.filename.as_deref() == Some("invite.ics"))
        .collect();
    assert_eq!(attached.len(), 1);
    assert_eq!(attached[0].raw, part.raw);
    assert_eq!(attached[0].mimetype, "application/ics");
}

async fn record(app: &TestApp, id: &str) -> BookingRecord {
    lokal::startup::store_of(&app.state)
        .booking(id)
        .await
        .unwrap()
        .expect("the booking is stored")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_arrives_with_an_imip_request_and_the_cancellation_cancels_the_same_uid() {
    let sink = SmtpSink::start();
    let mailer = Mailer::new(&sink.mail_config()).unwrap();
    let config = sink.mail_config();
    let app = TestApp::sqlite().await;
    let kari = app.resident("kari@example.no").await;
    let login = Some((kari.0.as_str(), kari.1.as_str()));
    let storsalen = app.room("Storsalen").await;
    let (status, body) = app
        .post(
            "/api/v1/bookings",
            login,
            json!({"room_id": storsalen, "start": "2027-01-13T18:00", "end": "2027-01-13T21:00",
                   "purpose": "Korøvelse", "attendees": 30}),
        )
        .await;
    assert_eq!((status, body["status"].as_str()), (201, Some("pending")));
    let id = body["id"].as_str().unwrap().to_owned();
    let (status, _) = app
        .post(
            &format!("/api/v1/bookings/{id}/approve"),
            Some(ERIK),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let approved = record(&app, &id).await;
    let room = lokal::startup::store_of(&app.state)
        .room(&storsalen)
        .await
        .unwrap()
        .unwrap()
        .room;
    let url = format!("{}/bookinger/{id}", app.base);

    let mail = |kind, booking: &BookingRecord, message_id: String, reason: Option<&str>| {
        booking_mail(
            &config,
            &BookingMail {
                kind,
                lang: Lang::Nb,
                to_name: "Kari Nordmann",
                to_email: "kari@example.no",
                booking,
                room_name: &room.name,
                building: room.building.as_deref(),
                reason,
                dates: &[],
                message_id: &message_id,
                booking_url: &url,
            },
        )
        .unwrap()
    };
    mailer
        .send(mail(
            BookingMailKind::Approved,
            &approved,
            format!("approved-{id}@lokal.test"),
            None,
        ))
        .await
        .unwrap();
    let got = sink.wait_for(1, WAIT).await;
    let first = &got[0];
    assert_eq!(first.envelope_to, ["kari@example.no"]);
    assert_eq!(
        first.header("To").as_deref(),
        Some("\"Kari Nordmann\" <kari@example.no>")
    );
    assert_eq!(
        first.header("Subject").as_deref(),
        Some("Godkjent: Storsalen")
    );
    assert_eq!(
        first.header("Message-ID").as_deref(),
        Some(format!("<approved-{id}@lokal.test>").as_str())
    );
    assert_eq!(
        first.header("Auto-Submitted").as_deref(),
        Some("auto-generated")
    );
    let text = first.text();
    assert!(text.contains("Hei Kari Nordmann,"), "{text}");
    assert!(text.contains("er godkjent"), "{text}");
    assert!(
        text.contains("onsdag 13. januar 2027 18:00–21:00"),
        "{text}"
    );
    assert!(text.contains(&url), "{text}");
    let uid = format!("{id}@lokal");
    let mut request_sequence = 0;
    with_calendar(first, "REQUEST", |event, zone| {
        assert_eq!(prop(event, "UID"), Some(uid.as_str()));
        assert_eq!(prop(event, "DTSTART"), Some("20270113T180000"));
        assert_eq!(
            param(event, "DTSTART", "TZID").as_deref(),
            Some("Europe/Oslo")
        );
        assert_eq!(prop(zone, "TZID"), Some("Europe/Oslo"));
        assert_eq!(prop(event, "STATUS"), Some("CONFIRMED"));
        assert_eq!(
            prop(event, "ORGANIZER"),
            Some("mailto:booking@fjordvik.example")
        );
        assert_eq!(prop(event, "ATTENDEE"), Some("mailto:kari@example.no"));
        assert_eq!(
            param(event, "ATTENDEE", "PARTSTAT").as_deref(),
            Some("ACCEPTED")
        );
        assert!(prop(event, "LOCATION").unwrap().starts_with("Storsalen"));
        request_sequence = prop(event, "SEQUENCE").unwrap().parse::<i64>().unwrap();
    });

    // The resident cancels; the cancellation's calendar removes the same event.
    let (status, _) = app
        .post(
            &format!("/api/v1/bookings/{id}/cancel"),
            login,
            json!({"reason": "Koret er sykt"}),
        )
        .await;
    assert_eq!(status, 200);
    let cancelled = record(&app, &id).await;
    mailer
        .send(mail(
            BookingMailKind::Cancelled,
            &cancelled,
            format!("cancelled-{id}@lokal.test"),
            Some("Koret er sykt"),
        ))
        .await
        .unwrap();
    let got = sink.wait_for(2, WAIT).await;
    let second = &got[1];
    assert_eq!(
        second.header("Subject").as_deref(),
        Some("Avlyst: Storsalen")
    );
    assert!(second.text().contains("Begrunnelse: Koret er sykt"));
    with_calendar(second, "CANCEL", |event, _| {
        assert_eq!(prop(event, "UID"), Some(uid.as_str()));
        assert_eq!(prop(event, "STATUS"), Some("CANCELLED"));
        let sequence: i64 = prop(event, "SEQUENCE").unwrap().parse().unwrap();
        assert!(
            sequence > request_sequence,
            "{sequence} > {request_sequence}"
        );
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_451_is_transient_and_the_retry_arrives_a_550_is_permanent() {
    let sink = SmtpSink::with(SinkOptions {
        fail_first: 1,
        reject_rcpt: Some("nobody".to_owned()),
    });
    let config = sink.mail_config();
    let mailer = Mailer::new(&config).unwrap();
    let digest = |to: &str| {
        lokal::notify::mail::digest_mail(
            &config,
            &lokal::notify::mail::DigestMail {
                lang: Lang::En,
                to_name: "Erik Dahl",
                to_email: to,
                items: &[],
                message_id: "digest-1@lokal.test",
                queue_url: "http://lokal.test/saksbehandling",
            },
        )
        .unwrap()
    };
    let first = mailer
        .send(digest("erik@fjordvik.example"))
        .await
        .unwrap_err();
    assert!(!first.permanent, "{first:?}");
    assert!(first.message.contains("451"), "{first:?}");
    mailer.send(digest("erik@fjordvik.example")).await.unwrap();
    let got = sink.wait_for(1, WAIT).await;
    assert_eq!(got[0].envelope_to, ["erik@fjordvik.example"]);

    let refused = mailer
        .send(digest("nobody@fjordvik.example"))
        .await
        .unwrap_err();
    assert!(refused.permanent, "{refused:?}");
    assert!(refused.message.contains("550"), "{refused:?}");
    assert_eq!(sink.received().len(), 1);
}
