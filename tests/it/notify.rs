//! Notifications end to end: the real worker posting to a real HTTP receiver (axum on
//! loopback, inside the test) that checks the Standard Webhooks signature itself, counts
//! what it accepted by `webhook-id`, and can be told to fail.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use chrono::TimeDelta;
use hmac::{KeyInit, Mac};
use lokal::config::Config;
use lokal::notify::{Notifier, WebhookConfig, WebhookFormat, WorkerHandle};
use serde_json::{Value, json};

use crate::support::app::{TempDir, TestApp, test_config};
use crate::support::browser::{Browser, hidden};
use crate::support::postgres::Postgres;

const ERIK: (&str, &str) = ("erik.dahl", "erik-clerk-2027"); // clerk: Kulturhuset, Idrettshallen
const KEY_B64: &str = "c2VjcmV0LWtleS1mb3ItdGhlLXRlc3RzLTIwMjc=";

/// One POST the receiver got.
#[derive(Clone, Debug)]
struct Received {
    id: String,
    body: String,
    signature_ok: bool,
    accepted: bool,
}

#[derive(Default)]
struct ReceiverState {
    got: Mutex<Vec<Received>>,
    /// Attempts per message id, for "fail the first N of each".
    tries: Mutex<HashMap<String, u32>>,
    fail_first: Mutex<u32>,
    down: AtomicBool,
}

/// A webhook receiver on loopback.
struct Receiver {
    url: String,
    state: Arc<ReceiverState>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Receiver {
    async fn start(fail_first: u32) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let state = Arc::new(ReceiverState::default());
        *state.fail_first.lock().unwrap() = fail_first;
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(state.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Receiver {
            url,
            state,
            _stop: stop,
        }
    }

    fn got(&self) -> Vec<Received> {
        self.state.got.lock().unwrap().clone()
    }

    /// What was accepted, deduplicated by `webhook-id` as a receiver would: id → body.
    fn accepted(&self) -> HashMap<String, Value> {
        self.got()
            .into_iter()
            .filter(|r| r.accepted)
            .map(|r| (r.id, serde_json::from_str(&r.body).unwrap()))
            .collect()
    }

    fn accepted_of_type(&self, kind: &str) -> Vec<Value> {
        self.accepted()
            .into_values()
            .filter(|b| b["type"] == kind)
            .collect()
    }
}

/// Verifies the Standard Webhooks signature with its own HMAC, then answers 500 for the
/// first `fail_first` attempts of each message id (and while "down"), 200 after.
async fn receive(
    State(s): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (id, timestamp, signature) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    );
    let key = base64::engine::general_purpose::STANDARD
        .decode(KEY_B64)
        .unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    let signature_ok = !id.is_empty()
        && timestamp.parse::<i64>().is_ok()
        && signature.split(' ').any(|s| s == expected);
    let tries = {
        let mut t = s.tries.lock().unwrap();
        let n = t.entry(id.clone()).or_default();
        *n += 1;
        *n
    };
    let fail = s.down.load(Ordering::SeqCst) || tries <= *s.fail_first.lock().unwrap();
    let accepted = signature_ok && !fail;
    s.got.lock().unwrap().push(Received {
        id,
        body,
        signature_ok,
        accepted,
    });
    if !signature_ok {
        StatusCode::UNAUTHORIZED
    } else if fail {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::NO_CONTENT
    }
}

fn hook(name: &str, url: &str, buildings: &[&str], format: WebhookFormat) -> WebhookConfig {
    WebhookConfig {
        name: name.into(),
        url: url.into(),
        secret: format!("whsec_{KEY_B64}"),
        secret_file: None,
        buildings: buildings.iter().map(|b| b.to_string()).collect(),
        events: vec![],
        format,
    }
}

/// The test configuration with a fast worker: short pauses, one-second backoff (the test
/// moves the clock), no mail.
fn notify_config(store_url: &str, hooks: Vec<WebhookConfig>) -> Config {
    let mut config = test_config(store_url);
    let n = &mut config.notify;
    n.poll_interval_secs = 0.05;
    n.backoff_base_secs = 1.0;
    n.backoff_max_secs = 1.0;
    n.mail_residents = false;
    n.mail_clerks = false;
    n.webhooks = hooks;
    config.server.public_url = "https://booking.fjordvik.example".into();
    config
}

fn start_worker(app: &TestApp, config: &Config) -> WorkerHandle {
    Notifier::new(&app.state, &config.notify, &config.server.public_base())
        .unwrap()
        .spawn()
}

/// Moves the test's clock on in small steps (so retries come due) until `done`, for at most
/// 20 seconds of real time.
async fn until(app: &TestApp, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        app.clock.advance(TimeDelta::seconds(2));
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Registers Kari Nordmann (a name without her address in it, unlike `TestApp::resident`).
async fn kari(app: &TestApp) -> (String, String) {
    let login = (
        "kari@example.no".to_owned(),
        "kari-password-2027".to_owned(),
    );
    let (status, body) = app
        .post(
            "/api/v1/residents",
            None,
            json!({"email": login.0, "password": login.1, "name": "Kari Nordmann"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    login
}

fn basic(l: &(String, String)) -> Option<(&str, &str)> {
    Some((l.0.as_str(), l.1.as_str()))
}

/// A resident asks for Storsalen (Kulturhuset, approved by a clerk); returns the booking id.
async fn request_storsalen(app: &TestApp, resident: &(String, String), day: u32) -> String {
    let room = app.room("Storsalen").await;
    let (status, body) = app
        .post(
            "/api/v1/bookings",
            basic(resident),
            json!({"room_id": room, "start": format!("2027-01-{day:02}T18:00"),
                   "end": format!("2027-01-{day:02}T21:00"), "purpose": "Korøving", "attendees": 30}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "pending");
    body["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_arrives_once_after_two_failures_signed_and_with_the_same_id() {
    let receiver = Receiver::start(2).await;
    let dir = TempDir::new("notify");
    let url = format!("sqlite:{}", dir.0.join("lokal.db").display());
    let config = notify_config(
        &url,
        vec![hook("kultur", &receiver.url, &[], WebhookFormat::Json)],
    );
    let app = TestApp::start(config.clone()).await;
    let worker = start_worker(&app, &config);
    let kari = kari(&app).await;
    let id = request_storsalen(&app, &kari, 13).await;
    let (status, body) = app
        .post(
            &format!("/api/v1/bookings/{id}/approve"),
            Some(ERIK),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    until(&app, "the approval to be accepted", || {
        !receiver.accepted_of_type("booking.approved").is_empty()
    })
    .await;
    worker.stop().await;

    let got = receiver.got();
    assert!(got.iter().all(|r| r.signature_ok), "{got:?}");
    let approved: Vec<&Received> = got
        .iter()
        .filter(|r| r.body.contains("\"booking.approved\""))
        .collect();
    // Two 500s, then the 200: three posts, one message id, the same bytes each time.
    assert_eq!(approved.len(), 3, "{approved:?}");
    assert!(approved.iter().all(|r| r.id == approved[0].id));
    assert!(approved.iter().all(|r| r.body == approved[0].body));
    assert_eq!(
        approved.iter().map(|r| r.accepted).collect::<Vec<_>>(),
        [false, false, true]
    );
    // Deduplicated by id, the receiver has each event once: the request and the approval.
    let accepted = receiver.accepted();
    assert_eq!(accepted.len(), 2, "{accepted:?}");
    let event = &receiver.accepted_of_type("booking.approved")[0];
    assert_eq!(event["id"], approved[0].id.as_str());
    assert_eq!(event["booking"]["id"], id.as_str());
    assert_eq!(event["booking"]["status"], "approved");
    assert_eq!(event["booking"]["room"]["name"], "Storsalen");
    assert_eq!(event["booking"]["room"]["building"], "Kulturhuset");
    assert_eq!(event["booking"]["local_start"], "2027-01-13T18:00");
    assert_eq!(event["booking"]["occurrences"], 1);
    assert_eq!(
        event["booking"]["links"]["console"],
        format!("https://booking.fjordvik.example/console/bookings/{id}")
    );
    assert_eq!(event["booking"]["requester_name"], "Kari Nordmann");
    let requested = &receiver.accepted_of_type("booking.requested")[0];
    assert_eq!(requested["booking"]["status"], "pending");
    // The resident's address never leaves in a webhook.
    assert!(got.iter().all(|r| !r.body.contains("kari@example.no")));

    // Counted for Prometheus: two retries of each event, then both delivered.
    let (_, metrics) = app.get("/metrics", None).await;
    let metrics = metrics.as_str().unwrap().to_owned();
    assert!(
        metrics.contains("lokal_notifications_total{channel=\"webhook\",outcome=\"delivered\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("lokal_notifications_total{channel=\"webhook\",outcome=\"retried\"} 4"),
        "{metrics}"
    );
    // Every attempt is timed: six of them, in the delivery latency histogram.
    assert!(
        metrics.contains("# TYPE lokal_notification_delivery_seconds histogram"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "lokal_notification_delivery_seconds_bucket{channel=\"webhook\",le=\"+Inf\"} 6"
        ),
        "{metrics}"
    );

    // The store agrees: both delivered, the approval after three attempts.
    let deliveries = lokal::startup::store_of(&app.state)
        .deliveries_of(&id)
        .await
        .unwrap();
    assert_eq!(deliveries.len(), 2);
    assert!(deliveries.iter().all(|d| d.status == "delivered"));
    assert_eq!(
        deliveries
            .iter()
            .find(|d| d.event == "booking.approved")
            .unwrap()
            .attempts,
        3
    );
}

async fn undelivered_events_survive_a_restart(url: &str) {
    let receiver = Receiver::start(0).await;
    receiver.state.down.store(true, Ordering::SeqCst);
    let config = notify_config(
        url,
        vec![hook("kultur", &receiver.url, &[], WebhookFormat::Json)],
    );

    // The first Lokal: the receiver is down, so the first request fails and waits for a
    // retry; the second is made while the worker is stopped and stays in the outbox.
    let app = TestApp::start(config.clone()).await;
    let worker = start_worker(&app, &config);
    let kari = kari(&app).await;
    let first = request_storsalen(&app, &kari, 13).await;
    let store = lokal::startup::store_of(&app.state).clone();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let d = store.deliveries_of(&first).await.unwrap();
        if d.first().is_some_and(|d| d.last_error.is_some()) {
            break;
        }
        assert!(Instant::now() < deadline, "no failed attempt: {d:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    worker.stop().await;
    let second = request_storsalen(&app, &kari, 14).await;
    assert!(receiver.accepted().is_empty());
    drop(app);
    drop(store);

    // A new Lokal on the same database, with the receiver back up.
    receiver.state.down.store(false, Ordering::SeqCst);
    let app = TestApp::start(config.clone()).await;
    let worker = start_worker(&app, &config);
    until(&app, "both requests to arrive", || {
        receiver.accepted_of_type("booking.requested").len() == 2
    })
    .await;
    worker.stop().await;
    let ids: Vec<String> = receiver
        .accepted_of_type("booking.requested")
        .iter()
        .map(|b| b["booking"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(ids.contains(&first) && ids.contains(&second), "{ids:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undelivered_events_survive_a_restart_on_sqlite() {
    let dir = TempDir::new("notify");
    let url = format!("sqlite:{}", dir.0.join("lokal.db").display());
    undelivered_events_survive_a_restart(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undelivered_events_survive_a_restart_on_postgres() {
    let pg = Postgres::start();
    undelivered_events_survive_a_restart(&pg.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_shows_in_the_console_and_a_retry_delivers_it() {
    let receiver = Receiver::start(0).await;
    receiver.state.down.store(true, Ordering::SeqCst);
    let dir = TempDir::new("notify");
    let url = format!("sqlite:{}", dir.0.join("lokal.db").display());
    let mut config = notify_config(
        &url,
        vec![hook("kultur", &receiver.url, &[], WebhookFormat::Json)],
    );
    config.notify.max_attempts = 2;
    let app = TestApp::start(config.clone()).await;
    let worker = start_worker(&app, &config);
    let kari = kari(&app).await;
    let id = request_storsalen(&app, &kari, 13).await;
    let store = lokal::startup::store_of(&app.state).clone();
    let mut dead = None;
    let deadline = Instant::now() + Duration::from_secs(20);
    while dead.is_none() {
        let d = store.deliveries_of(&id).await.unwrap();
        if d.first().is_some_and(|d| d.status == "dead") {
            dead = d.into_iter().next();
        } else {
            assert!(Instant::now() < deadline, "never dead: {d:?}");
            app.clock.advance(TimeDelta::seconds(2));
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    let dead = dead.unwrap();
    assert_eq!(dead.attempts, 2);
    assert!(
        dead.last_error.as_deref().unwrap().contains("HTTP 500"),
        "{dead:?}"
    );
    assert_eq!(receiver.got().len(), 2);

    // The clerk of Kulturhuset sees it, and retries it.
    let erik = Browser::signed_in(&app, ERIK.0, ERIK.1).await;
    let page = erik.get("/console/notifications").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(&format!("id=\"delivery-{}\"", dead.id)));
    assert!(page.body.contains("HTTP 500"));
    assert!(page.body.contains(&format!("/console/bookings/{id}")));
    // A clerk of another building does not.
    let astrid = Browser::signed_in(&app, "astrid.moen", "astrid-clerk-2027").await;
    let other = astrid.get("/console/notifications").await;
    assert_eq!(other.status, 200);
    assert!(!other.body.contains(&format!("delivery-{}", dead.id)));
    let token = hidden(&other.body, "csrf");
    let refused = astrid
        .post(
            &format!("/console/notifications/{}/retry", dead.id),
            &[("csrf", token.as_str())],
        )
        .await;
    assert_eq!(refused.status, 404);

    receiver.state.down.store(false, Ordering::SeqCst);
    let token = hidden(&page.body, "csrf");
    let retried = erik
        .post(
            &format!("/console/notifications/{}/retry", dead.id),
            &[("csrf", token.as_str())],
        )
        .await;
    assert_eq!(retried.status, 303, "{}", retried.body);
    until(&app, "the retried delivery to arrive", || {
        receiver.accepted_of_type("booking.requested").len() == 1
    })
    .await;
    worker.stop().await;
    let after = store.delivery(dead.id).await.unwrap().unwrap();
    assert_eq!(after.status, "delivered");
    assert_eq!(after.message_id, dead.message_id);
    let page = erik.get("/console/notifications").await;
    assert!(!page.body.contains(&format!("delivery-{}", dead.id)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_for_one_building_gets_only_its_events_and_teams_gets_a_card() {
    let kultur = Receiver::start(0).await;
    let raadhus = Receiver::start(0).await;
    let dir = TempDir::new("notify");
    let url = format!("sqlite:{}", dir.0.join("lokal.db").display());
    let config = notify_config(
        &url,
        vec![
            hook(
                "kulturhuset-teams",
                &kultur.url,
                &["Kulturhuset"],
                WebhookFormat::Teams,
            ),
            hook(
                "raadhuset",
                &raadhus.url,
                &["Rådhuset"],
                WebhookFormat::Json,
            ),
        ],
    );
    let app = TestApp::start(config.clone()).await;
    let worker = start_worker(&app, &config);
    let kari = kari(&app).await;
    let id = request_storsalen(&app, &kari, 13).await;
    until(&app, "the Teams card", || !kultur.accepted().is_empty()).await;
    worker.stop().await;

    // Fanned out to the Kulturhuset webhook only.
    let deliveries = lokal::startup::store_of(&app.state)
        .deliveries_of(&id)
        .await
        .unwrap();
    assert_eq!(
        deliveries
            .iter()
            .map(|d| d.target.as_str())
            .collect::<Vec<_>>(),
        ["kulturhuset-teams"]
    );
    assert!(raadhus.got().is_empty());

    let card = kultur.accepted().into_values().next().unwrap();
    assert_eq!(card["type"], "message");
    let attachment = &card["attachments"][0];
    assert_eq!(
        attachment["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let content = &attachment["content"];
    assert_eq!(content["type"], "AdaptiveCard");
    assert_eq!(content["version"], "1.4");
    let text = content.to_string();
    assert!(text.contains("Storsalen"), "{text}");
    assert!(text.contains("Korøving"), "{text}");
    let actions = content["actions"].as_array().unwrap();
    assert!(
        actions.iter().any(|a| a["type"] == "Action.OpenUrl"
            && a["url"] == "https://booking.fjordvik.example/console"),
        "{actions:?}"
    );
}

/// The store's half of the guarantees, on one backend: an outbox row is fanned out once; a
/// claimed delivery is leased to one claimer (even when eight race for it) until it is
/// recorded or its lease runs out (a crashed sender), and a dead one comes back only by a
/// retry.
async fn fan_out_once_and_lease_to_one(url: &str) {
    use lokal::store::NewDelivery;
    let app = TestApp::start(test_config(url)).await;
    let kari = kari(&app).await;
    let booking = request_storsalen(&app, &kari, 13).await;
    let store = lokal::startup::store_of(&app.state).clone();
    let now = crate::support::app::test_now();

    let events = store.unfanned(10).await.unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].kind, "booking.pending");
    let delivery = NewDelivery {
        booking_id: Some(booking.clone()),
        room_id: None,
        event: "booking.requested".into(),
        channel: "webhook".into(),
        target: "x".into(),
        lang: "nb".into(),
        message_id: format!("{}.webhook.x@test", events[0].id),
        body: Some("{}".into()),
    };
    let outbox = events[0].id;
    assert!(
        store
            .fan_out(outbox, std::slice::from_ref(&delivery), &[], now)
            .await
            .unwrap()
    );
    assert!(!store.fan_out(outbox, &[delivery], &[], now).await.unwrap());
    assert!(store.unfanned(10).await.unwrap().is_empty());
    assert_eq!(store.deliveries_of(&booking).await.unwrap().len(), 1);

    // Eight claimers race: one wins.
    let lease = TimeDelta::seconds(60);
    let mut racing = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let s = store.clone();
        racing.spawn(async move { s.claim_due(now, lease, 10).await.unwrap().len() });
    }
    let mut won = 0;
    while let Some(n) = racing.join_next().await {
        won += n.unwrap();
    }
    assert_eq!(won, 1);
    assert!(store.claim_due(now, lease, 10).await.unwrap().is_empty());
    // The winner "crashed": after the lease it is due again, its attempt counted.
    let again = store
        .claim_due(now + TimeDelta::seconds(61), lease, 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 2);
    let id = again[0].id;

    store.mark_failed(id, "HTTP 500", None).await.unwrap();
    let later = now + TimeDelta::hours(5);
    assert!(store.claim_due(later, lease, 10).await.unwrap().is_empty());
    assert!(store.retry_delivery(id, later).await.unwrap());
    let retried = store.claim_due(later, lease, 10).await.unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].attempts, 1);
    store.mark_delivered(id, later).await.unwrap();
    assert!(
        store
            .claim_due(later + TimeDelta::hours(1), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(!store.retry_delivery(id, later).await.unwrap());
    assert_eq!(
        store.delivery(id).await.unwrap().unwrap().status,
        "delivered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_fans_out_once_and_leases_a_delivery_to_one_sender() {
    let dir = TempDir::new("notify");
    let url = format!("sqlite:{}", dir.0.join("lokal.db").display());
    fan_out_once_and_lease_to_one(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_fans_out_once_and_leases_a_delivery_to_one_sender() {
    let pg = Postgres::start();
    fan_out_once_and_lease_to_one(&pg.url).await;
}

/// A webhook's URL can be its credential (Teams, Slack): a failure names the hook, and
/// neither the stored error nor the console page shows the URL, whether the receiver answers
/// 500 or nothing listens at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_webhook_never_shows_its_url() {
    const SECRET: &str = "sig=TOPSECRET-teams-token-4711";
    let receiver = Receiver::start(0).await;
    receiver.state.down.store(true, Ordering::SeqCst);
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        format!("http://127.0.0.1:{port}/hook?{SECRET}")
    };
    let dir = TempDir::new("notify");
    let url = format!("sqlite:{}", dir.0.join("lokal.db").display());
    let mut config = notify_config(
        &url,
        vec![
            hook(
                "kultur-500",
                &format!("{}?{SECRET}", receiver.url),
                &[],
                WebhookFormat::Json,
            ),
            hook("kultur-closed", &closed, &[], WebhookFormat::Json),
        ],
    );
    config.notify.max_attempts = 1;
    let app = TestApp::start(config.clone()).await;
    let worker = start_worker(&app, &config);
    let kari = kari(&app).await;
    let id = request_storsalen(&app, &kari, 13).await;
    let store = lokal::startup::store_of(&app.state).clone();
    let deadline = Instant::now() + Duration::from_secs(20);
    let dead = loop {
        let d = store.deliveries_of(&id).await.unwrap();
        if d.len() == 2 && d.iter().all(|d| d.status == "dead") {
            break d;
        }
        assert!(Instant::now() < deadline, "never dead: {d:?}");
        app.clock.advance(TimeDelta::seconds(2));
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    worker.stop().await;
    for d in &dead {
        let error = d.last_error.as_deref().unwrap();
        assert!(error.contains(&format!("webhook {}", d.target)), "{d:?}");
        assert!(!error.contains("TOPSECRET"), "{d:?}");
        assert!(!error.contains("127.0.0.1"), "{d:?}");
    }
    let erik = Browser::signed_in(&app, ERIK.0, ERIK.1).await;
    let page = erik.get("/console/notifications").await;
    assert_eq!(page.status, 200, "{}", page.body);
    for d in &dead {
        assert!(page.body.contains(&format!("id=\"delivery-{}\"", d.id)));
    }
    assert!(page.body.contains("HTTP 500 from webhook kultur-500"));
    assert!(!page.body.contains("TOPSECRET"));
}

/// A clerk's retry must not take a delivery away from the worker sending it right now.
async fn a_leased_delivery_is_not_retried(url: &str) {
    use lokal::store::NewDelivery;
    let app = TestApp::start(test_config(url)).await;
    let kari = kari(&app).await;
    let booking = request_storsalen(&app, &kari, 13).await;
    let store = lokal::startup::store_of(&app.state).clone();
    let now = crate::support::app::test_now();
    let events = store.unfanned(10).await.unwrap();
    let delivery = NewDelivery {
        booking_id: Some(booking.clone()),
        room_id: None,
        event: "booking.requested".into(),
        channel: "webhook".into(),
        target: "x".into(),
        lang: "nb".into(),
        message_id: format!("{}.webhook.x@test", events[0].id),
        body: Some("{}".into()),
    };
    assert!(
        store
            .fan_out(events[0].id, &[delivery], &[], now)
            .await
            .unwrap()
    );
    let lease = TimeDelta::seconds(60);
    let id = store.claim_due(now, lease, 10).await.unwrap()[0].id;
    // Failing, retried later by the worker: a clerk may retry it.
    store
        .mark_failed(id, "HTTP 500", Some(now + TimeDelta::hours(1)))
        .await
        .unwrap();
    let later = now + TimeDelta::hours(2);
    // The worker has it leased again (its last error still stands): a clerk may not.
    assert_eq!(store.claim_due(later, lease, 10).await.unwrap().len(), 1);
    assert!(!store.retry_delivery(id, later).await.unwrap());
    let d = store.delivery(id).await.unwrap().unwrap();
    assert_eq!(d.attempts, 2);
    assert!(store.claim_due(later, lease, 10).await.unwrap().is_empty());
    // Once the lease has run out (the sender died), the retry is allowed.
    let expired = later + TimeDelta::seconds(61);
    assert!(store.retry_delivery(id, expired).await.unwrap());
    assert_eq!(store.claim_due(expired, lease, 10).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_does_not_retry_a_leased_delivery() {
    let dir = TempDir::new("notify");
    let url = format!("sqlite:{}", dir.0.join("lokal.db").display());
    a_leased_delivery_is_not_retried(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_does_not_retry_a_leased_delivery() {
    let pg = Postgres::start();
    a_leased_delivery_is_not_retried(&pg.url).await;
}

/// A digest that was attempted keeps its items and Message-ID; a later request opens a new
/// digest instead of joining the one being retried.
async fn an_attempted_digest_takes_no_more_items(url: &str) {
    use lokal::store::DigestEntry;
    let app = TestApp::start(test_config(url)).await;
    let kari = kari(&app).await;
    let first = request_storsalen(&app, &kari, 13).await;
    let store = lokal::startup::store_of(&app.state).clone();
    let now = crate::support::app::test_now();
    let entry = |booking: &str, n: u32| DigestEntry {
        target: "erik.dahl@fjordvik.example".into(),
        name: "Erik Dahl".into(),
        lang: "nb".into(),
        booking_id: booking.to_owned(),
        due: now,
        message_id: format!("digest.{n}@test"),
    };
    let events = store.unfanned(10).await.unwrap();
    assert_eq!(events.len(), 1);
    assert!(
        store
            .fan_out(events[0].id, &[], &[entry(&first, 1)], now)
            .await
            .unwrap()
    );
    let lease = TimeDelta::seconds(60);
    let claimed = store.claim_due(now, lease, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    store
        .mark_failed(claimed[0].id, "SMTP 451", Some(now + TimeDelta::minutes(5)))
        .await
        .unwrap();

    let second = request_storsalen(&app, &kari, 14).await;
    let events = store.unfanned(10).await.unwrap();
    assert_eq!(events.len(), 1);
    assert!(
        store
            .fan_out(events[0].id, &[], &[entry(&second, 2)], now)
            .await
            .unwrap()
    );
    let digests = store.deliveries_on("digest").await.unwrap();
    assert_eq!(digests.len(), 2, "{digests:?}");
    assert_eq!(digests[0].message_id, "digest.1@test");
    assert_eq!(digests[0].items, format!("[\"{first}\"]"));
    assert_eq!(digests[1].message_id, "digest.2@test");
    assert_eq!(digests[1].items, format!("[\"{second}\"]"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_does_not_grow_an_attempted_digest() {
    let dir = TempDir::new("notify");
    let url = format!("sqlite:{}", dir.0.join("lokal.db").display());
    an_attempted_digest_takes_no_more_items(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_does_not_grow_an_attempted_digest() {
    let pg = Postgres::start();
    an_attempted_digest_takes_no_more_items(&pg.url).await;
}

/// Outbox rows that cannot be fanned out (here: more than a page of them, about a booking
/// row the store cannot read) stay for the next round but do not hold up newer events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_that_cannot_be_fanned_out_do_not_stall_newer_events() {
    let receiver = Receiver::start(0).await;
    let dir = TempDir::new("notify");
    let url = format!("sqlite:{}", dir.0.join("lokal.db").display());
    let config = notify_config(
        &url,
        vec![hook("kultur", &receiver.url, &[], WebhookFormat::Json)],
    );
    let app = TestApp::start(config.clone()).await;
    let kari = kari(&app).await;
    let bad = request_storsalen(&app, &kari, 13).await;
    let good = request_storsalen(&app, &kari, 14).await;
    let db = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("UPDATE bookings SET created_at = 'not a time' WHERE id = $1")
        .bind(&bad)
        .execute(&db)
        .await
        .unwrap();
    // 150 events about the unreadable booking, all older than the good booking's event.
    for _ in 0..150 {
        sqlx::query(
            "INSERT INTO outbox (created_at, kind, booking_id, payload) \
             SELECT created_at, kind, booking_id, payload FROM outbox WHERE booking_id = $1 \
             ORDER BY id LIMIT 1",
        )
        .bind(&bad)
        .execute(&db)
        .await
        .unwrap();
    }
    let moved = sqlx::query(
        "INSERT INTO outbox (created_at, kind, booking_id, payload) \
         SELECT created_at, kind, booking_id, payload FROM outbox WHERE booking_id = $1",
    )
    .bind(&good)
    .execute(&db)
    .await
    .unwrap();
    assert_eq!(moved.rows_affected(), 1);
    sqlx::query(
        "DELETE FROM outbox WHERE booking_id = $1 \
         AND id < (SELECT MAX(id) FROM outbox WHERE booking_id = $1)",
    )
    .bind(&good)
    .execute(&db)
    .await
    .unwrap();
    db.close().await;

    let worker = start_worker(&app, &config);
    until(&app, "the good booking's webhook", || {
        receiver
            .accepted_of_type("booking.requested")
            .iter()
            .any(|b| b["booking"]["id"] == good.as_str())
    })
    .await;
    worker.stop().await;
    let store = lokal::startup::store_of(&app.state).clone();
    assert_eq!(store.unfanned(1000).await.unwrap().len(), 151);
}
