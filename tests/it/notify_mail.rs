//! Who gets which mail: the real worker sending through a real SMTP server (aiosmtpd, see
//! `support::smtp`). The mails' contents are tested in `mail.rs`; this checks the wiring: the
//! resident requester gets a receipt, the approval and the cancellation, in their language,
//! with a stable Message-ID; the room's clerk gets one digest for two requests made within
//! `digest_minutes`, and not before the window has passed.

use std::time::{Duration, Instant};

use chrono::TimeDelta;
use lokal::notify::Notifier;
use serde_json::json;

use crate::support::app::{TempDir, TestApp, test_config};
use crate::support::browser::Browser;
use crate::support::smtp::{Received, SmtpSink};

const ERIK: (&str, &str) = ("erik.dahl", "erik-clerk-2027"); // clerk: Kulturhuset
const ERIK_MAIL: &str = "erik.dahl@fjordvik.kommune.no";

fn to(m: &Received) -> String {
    m.envelope_to.join(",").to_lowercase()
}

async fn wait_until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_requester_gets_each_decision_and_the_clerk_one_digest_for_two_requests() {
    let sink = SmtpSink::start();
    let dir = TempDir::new("notify-mail");
    let url = format!("sqlite:{}", dir.0.join("lokal.db").display());
    let mut config = test_config(&url);
    config.notify.poll_interval_secs = 0.05;
    config.notify.digest_minutes = 15;
    config.notify.mail = sink.mail_config();
    let app = TestApp::start(config.clone()).await;
    let worker = Notifier::new(&app.state, &config.notify, &config.server.public_base())
        .unwrap()
        .spawn();

    // Kari registers in English.
    let (status, body) = app
        .post(
            "/api/v1/residents",
            None,
            json!({"email": "kari@example.no", "password": "kari-password-2027", "name": "Kari Nordmann", "language": "en"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let kari = Some(("kari@example.no", "kari-password-2027"));
    let room = app.room("Storsalen").await;
    let mut ids = Vec::new();
    for day in [13, 14] {
        let (status, body) = app
            .post(
                "/api/v1/bookings",
                kari,
                json!({"room_id": room, "start": format!("2027-01-{day}T18:00"),
                       "end": format!("2027-01-{day}T21:00"), "purpose": "Korøving", "attendees": 30}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["status"], "pending");
        ids.push(body["id"].as_str().unwrap().to_owned());
    }

    // Two receipts to Kari at once; the clerk's digest waits for its window.
    let got = sink.wait_for(2, Duration::from_secs(20)).await;
    assert!(got.iter().all(|m| to(m) == "kari@example.no"), "{got:?}");
    let store = lokal::startup::store_of(&app.state).clone();
    wait_until("the digest to collect both requests", async || {
        let digests = store.deliveries_on("digest").await.unwrap();
        digests.len() == 1 && digests[0].digest_items().len() == 2
    })
    .await;
    assert_eq!(sink.received().len(), 2);

    // The window passes: one digest to Erik with both requests.
    app.clock.advance(TimeDelta::minutes(16));
    let got = sink.wait_for(3, Duration::from_secs(20)).await;
    let digests: Vec<&Received> = got.iter().filter(|m| to(m) == ERIK_MAIL).collect();
    assert_eq!(digests.len(), 1, "{got:?}");
    let text = digests[0].text();
    assert!(text.contains("Erik Dahl"), "{text}");
    assert!(text.contains("Storsalen"), "{text}");
    assert_eq!(text.matches("Korøving").count(), 2, "{text}");

    // The clerk approves one; Kari cancels the other.
    let (status, body) = app
        .post(
            &format!("/api/v1/bookings/{}/approve", ids[0]),
            Some(ERIK),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .post(
            &format!("/api/v1/bookings/{}/cancel", ids[1]),
            kari,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let got = sink.wait_for(5, Duration::from_secs(20)).await;
    worker.stop().await;

    let karis: Vec<&Received> = got.iter().filter(|m| to(m) == "kari@example.no").collect();
    assert_eq!(karis.len(), 4, "{got:?}");
    // In English, the language she registered in.
    let mut subjects: Vec<String> = karis.iter().map(|m| m.header("Subject").unwrap()).collect();
    subjects.sort();
    assert_eq!(
        subjects,
        [
            "Approved: Storsalen",
            "Cancelled: Storsalen",
            "Request received: Storsalen",
            "Request received: Storsalen"
        ]
    );
    // Each mail has its own Message-ID, the one stored with its delivery.
    let mut message_ids: Vec<String> = karis
        .iter()
        .map(|m| m.header("Message-ID").unwrap())
        .collect();
    message_ids.sort();
    message_ids.dedup();
    assert_eq!(message_ids.len(), 4);
    for id in &ids {
        for d in store.deliveries_of(id).await.unwrap() {
            assert_eq!(d.status, "delivered", "{d:?}");
            assert!(
                message_ids.iter().any(|m| m.contains(&d.message_id)),
                "{d:?} not in {message_ids:?}"
            );
        }
    }
    // The approval and the cancellation carry their calendar methods (RFC 6047).
    let methods: Vec<String> = karis
        .iter()
        .flat_map(|m| m.calendars())
        .filter_map(|p| p.params.get("method").cloned())
        .map(|m| m.to_uppercase())
        .collect();
    assert!(methods.contains(&"REQUEST".to_owned()), "{methods:?}");
    assert!(methods.contains(&"CANCEL".to_owned()), "{methods:?}");
    // No second digest: both requests are decided.
    assert_eq!(got.iter().filter(|m| to(m) == ERIK_MAIL).count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_residents_mail_language_follows_the_portal_they_registered_in_and_switch_to() {
    let app = TestApp::sqlite().await;
    let store = lokal::startup::store_of(&app.state).clone();
    let lang_of = async |email: &str| {
        let r = store.resident_by_email(email).await.unwrap().unwrap();
        store.resident_contact(&r.id).await.unwrap().unwrap().lang
    };
    // Registered through the English portal: English mail.
    let ola = Browser::new(&app);
    ola.set_cookie("lokal_lang", "en");
    ola.register("Ola Nordmann", "ola@example.no").await;
    assert_eq!(lang_of("ola@example.no").await, "en");
    // Switching to Norwegian while signed in switches the mail too.
    let switched = ola.get("/lang/nb").await;
    assert_eq!(switched.status, 303);
    assert_eq!(lang_of("ola@example.no").await, "nb");
    // Through the API: nb by default; a language that is not nb or en is refused.
    app.resident("per@example.no").await;
    assert_eq!(lang_of("per@example.no").await, "nb");
    let (status, problem) = app
        .post(
            "/api/v1/residents",
            None,
            json!({"email": "liv@example.no", "password": "liv-password-2027", "name": "Liv", "language": "sv"}),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert!(
        store
            .resident_by_email("liv@example.no")
            .await
            .unwrap()
            .is_none()
    );
}
