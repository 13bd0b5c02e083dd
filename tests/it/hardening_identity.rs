//! Identity on the open internet (issue 15): password hashing that keeps memory flat under a
//! burst of registrations, a login throttle nobody can turn against the account holder,
//! parallel first logins that all succeed, unknown emails that cost what known ones cost, and
//! the client address behind a trusted proxy.
//!
//! Clients come from different loopback addresses (127.0.0.2, 127.0.0.3, …: every 127/8
//! address reaches a server on 127.0.0.1 without setup), so each is its own client address.

use std::io::{BufRead as _, BufReader, Read as _};
use std::net::IpAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::app::{TempDir, TestApp, read, test_config};
use crate::support::browser::Browser;
use crate::support::postgres::Postgres;
use crate::support::slapd::repo;

const ERIK: (&str, &str) = ("erik.dahl", "erik-clerk-2027");

/// A client whose connections come from `ip` (a loopback address).
fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn get_as(
    client: &reqwest::Client,
    app: &TestApp,
    path: &str,
    user: (&str, &str),
) -> (u16, Option<String>, Value) {
    let response = client
        .get(format!("{}{path}", app.base))
        .basic_auth(user.0, Some(user.1))
        .send()
        .await
        .unwrap();
    let retry = retry_after(&response);
    let (status, body) = read(response).await;
    (status, retry, body)
}

fn retry_after(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned())
}

async fn propfind_as(client: &reqwest::Client, app: &TestApp, user: (&str, &str)) -> u16 {
    client
        .request(
            reqwest::Method::from_bytes(b"PROPFIND").unwrap(),
            format!("{}/dav/", app.base),
        )
        .basic_auth(user.0, Some(user.1))
        .header("Depth", "0")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

// ---------------------------------------------------------------------------------------------
// Memory under a burst of registrations: the real binary, its RSS from /proc.

/// `lokal serve` as its own process on `store_url`, stopped when dropped.
struct Server {
    child: Child,
    base: String,
    _dir: TempDir,
}

impl Server {
    fn start(store_url: &str) -> Server {
        let dir = TempDir::new("identity-serve");
        let config = dir.0.join("lokal.toml");
        std::fs::write(
            &config,
            format!(
                "[server]\nlisten = \"127.0.0.1:0\"\ndemo_data = false\n\n[store]\nurl = {:?}\n\n\
                 [directory]\nurl = {:?}\n\n[scheduling]\npolicies = {:?}\ncalendars = {:?}\n",
                store_url,
                format!("file:{}", repo().join("seed/directory.ldif").display()),
                repo().join("seed/policies.toml").display().to_string(),
                repo().join("calendars").display().to_string(),
            ),
        )
        .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_lokal"))
            .arg("--config")
            .arg(&config)
            .arg("serve")
            .current_dir(&dir.0)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        // Keep the pipe drained so the server never blocks on it.
        std::thread::spawn(move || {
            let mut rest = Vec::new();
            let _ = stdout.read_to_end(&mut rest);
        });
        let base = first
            .trim()
            .strip_prefix("Lokal is running at ")
            .unwrap_or_else(|| panic!("no URL printed: {first:?}"))
            .trim_end_matches('/')
            .to_owned();
        Server {
            child,
            base,
            _dir: dir,
        }
    }

    /// The server's resident set size, in bytes (VmRSS of /proc/<pid>/status).
    fn rss(&self) -> u64 {
        rss_of(self.child.id())
    }
}

fn rss_of(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const MB: u64 = 1024 * 1024;

/// 64 registrations at once from four client addresses (16 each, more than one address's
/// burst): memory stays flat, a normal request is answered while they run, and every
/// registration is either stored (201) or refused with a reason and `Retry-After` (503 when
/// the hashing queue is full, 429 for the address's limit). Nothing is lost silently.
async fn sixty_four_registrations_at_once(store_url: &str) {
    let server = Server::start(store_url);
    let rooms = client_from("127.0.0.1")
        .get(format!("{}/api/v1/rooms", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(rooms.status(), 200);
    let idle = server.rss();
    assert!(idle > 0, "no VmRSS for the server");

    // The highest RSS while the registrations run, sampled by a thread of its own.
    let peak = Arc::new(AtomicU64::new(idle));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done, pid) = (peak.clone(), done.clone(), server.child.id());
        std::thread::spawn(move || {
            while !done.load(Ordering::Acquire) {
                peak.fetch_max(rss_of(pid), Ordering::AcqRel);
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };

    let (refused_tx, mut refused_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    // One client per address, made before the burst (making a client takes a while).
    let clients: Vec<reqwest::Client> = (2..6)
        .map(|n| client_from(&format!("127.0.0.{n}")))
        .collect();
    let mut tasks = Vec::new();
    for i in 0..64 {
        let client = clients[i % 4].clone();
        let url = format!("{}/api/v1/residents", server.base);
        let refused_tx = refused_tx.clone();
        tasks.push(tokio::spawn(async move {
            let email = format!("burst{i}@example.no");
            let response = client
                .post(url)
                .json(&json!({"email": email, "password": "a-long-password-2027", "name": format!("Burst {i}")}))
                .send()
                .await
                .unwrap();
            let retry = retry_after(&response);
            let (status, body) = read(response).await;
            if status != 201 {
                let _ = refused_tx.send(());
            }
            (email, status, retry, body, Instant::now())
        }));
    }
    drop(refused_tx);
    // Once refusals come back the burst is under way: a normal request now.
    refused_rx
        .recv()
        .await
        .expect("some registration was refused");
    let rooms = client_from("127.0.0.1")
        .get(format!("{}/api/v1/rooms", server.base))
        .send()
        .await
        .unwrap();
    let rooms_answered = Instant::now();
    assert_eq!(rooms.status(), 200);

    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    done.store(true, Ordering::Release);
    sampler.join().unwrap();
    let peak = peak.load(Ordering::Acquire);

    let count = |s: u16| results.iter().filter(|r| r.1 == s).count();
    let (created, limited, busy) = (count(201), count(429), count(503));
    eprintln!(
        "64 registrations on {}: {created} × 201, {limited} × 429, {busy} × 503; RSS idle {} MB, peak {} MB",
        store_url.split(':').next().unwrap_or_default(),
        idle / MB,
        peak / MB
    );
    assert_eq!(created + limited + busy, 64, "every answer is one of these");
    assert!(created > 0, "some registrations are accepted");
    assert!(
        busy > 0,
        "the hashing queue is bounded: {created} accepted at once"
    );
    // An address may register 10 at once; a 503 gives its registration back.
    assert!(created <= 4 * 10, "{created}");
    assert!(
        peak - idle < 150 * MB,
        "RSS grew by {} MB (idle {} MB, peak {} MB)",
        (peak - idle) / MB,
        idle / MB,
        peak / MB
    );
    let last_created = results
        .iter()
        .filter(|r| r.1 == 201)
        .map(|r| r.4)
        .max()
        .unwrap();
    assert!(
        rooms_answered < last_created,
        "the normal request was answered while registrations were still being hashed"
    );
    for (_, status, retry, body, _) in results.iter().filter(|r| r.1 != 201) {
        let secs: u64 = retry
            .as_deref()
            .unwrap_or_else(|| panic!("{status} without Retry-After: {body}"))
            .parse()
            .unwrap();
        assert!(secs >= 1);
        let expected = if *status == 429 {
            "too-many-registrations"
        } else {
            "busy"
        };
        assert_eq!(body["code"], expected, "{body}");
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains("try again in"), "{detail}");
    }
    // What was accepted is stored; what was refused is not.
    let store = lokal::store::Store::open(store_url).await.unwrap();
    for (email, status, ..) in &results {
        let stored = store.resident_by_email(email).await.unwrap().is_some();
        assert_eq!(stored, *status == 201, "{email}: {status}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_registrations_at_once_keep_memory_flat_on_sqlite() {
    let dir = TempDir::new("identity-burst");
    let url = format!("sqlite:{}", dir.0.join("lokal.db").display());
    sixty_four_registrations_at_once(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_registrations_at_once_keep_memory_flat_on_postgresql() {
    let pg = Postgres::start();
    sixty_four_registrations_at_once(&pg.url).await;
}

// ---------------------------------------------------------------------------------------------
// The throttle.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_from_one_address_do_not_lock_the_account_for_another() {
    let app = TestApp::sqlite().await;
    let attacker = client_from("127.0.0.2");
    let erik_at_work = client_from("127.0.0.3");
    // A clerk's account (a directory login): the attacker's first three wrong passwords are
    // binds; then its address's share of Erik's bind budget is spent and the directory is not
    // asked again from there (its own lockout policy must not be reachable through Lokal).
    for n in 0..5 {
        let (status, retry, problem) = get_as(
            &attacker,
            &app,
            "/api/v1/bookings?mine=true",
            (ERIK.0, "guess"),
        )
        .await;
        if n < 3 {
            assert_eq!(status, 401, "{problem}");
        } else {
            assert_eq!(status, 429, "{problem}");
            assert_eq!(problem["code"], "account-protected");
            assert_eq!(retry.as_deref(), Some("1800"));
        }
    }
    // Even the right password from the attacker's address is not bound...
    let (status, _, problem) = get_as(&attacker, &app, "/api/v1/bookings?mine=true", ERIK).await;
    assert_eq!(status, 429, "{problem}");
    assert_eq!(propfind_as(&attacker, &app, ERIK).await, 429);
    // ...while Erik himself signs in from his own address: API, CalDAV and the portal.
    let (status, _, body) = get_as(&erik_at_work, &app, "/api/v1/bookings?mine=true", ERIK).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(propfind_as(&erik_at_work, &app, ERIK).await, 207);
    let portal = Browser::new(&app);
    let page = portal
        .submit(
            "/login",
            "/login",
            &[("login", ERIK.0), ("password", ERIK.1)],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);

    // A resident's account (checked by Lokal itself, no directory): five wrong passwords from
    // one address make that address wait, doubling; the resident from elsewhere signs in.
    let kari = app.resident("kari@example.no").await;
    let kari_login = (kari.0.as_str(), kari.1.as_str());
    for _ in 0..5 {
        let (status, _, _) = get_as(
            &attacker,
            &app,
            "/api/v1/bookings?mine=true",
            (kari_login.0, "guess"),
        )
        .await;
        assert_eq!(status, 401);
    }
    let (status, retry, problem) =
        get_as(&attacker, &app, "/api/v1/bookings?mine=true", kari_login).await;
    assert_eq!(status, 429, "{problem}");
    assert_eq!(problem["code"], "too-many-failed-logins");
    assert_eq!(retry.as_deref(), Some("1"), "the first delay is one second");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("from your address"),
        "{problem}"
    );
    let (status, _, body) = get_as(
        &erik_at_work,
        &app,
        "/api/v1/bookings?mine=true",
        kari_login,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    app.clock.advance(chrono::TimeDelta::seconds(1));
    let (status, _, _) = get_as(
        &attacker,
        &app,
        "/api/v1/bookings?mine=true",
        (kari_login.0, "guess"),
    )
    .await;
    assert_eq!(status, 401);
    let (status, retry, _) =
        get_as(&attacker, &app, "/api/v1/bookings?mine=true", kari_login).await;
    assert_eq!((status, retry.as_deref()), (429, Some("2")));
}

/// A directory with its own lockout policy counts every failed bind. Strangers spread over
/// many addresses, even sending at once, must not be able to make it lock a clerk out of
/// everything through Lokal: after `auth.directory_max_failures` (6) failed binds Lokal stops
/// asking the directory for that person, except from the clients it signed in from lately
/// (two more), and logins the directory lacks never count (no oracle of who has an account).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_on_many_addresses_cannot_spend_a_clerks_directory_lockout_budget() {
    let app = TestApp::sqlite().await;
    let office = client_from("127.0.0.3");
    let (status, _, body) = get_as(&office, &app, "/api/v1/bookings?mine=true", ERIK).await;
    assert_eq!(status, 200, "{body}");
    // Twenty strangers at once, one wrong password each.
    let mut tries = tokio::task::JoinSet::new();
    for n in 0..20 {
        let (stranger, base) = (
            client_from(&format!("127.0.1.{}", 10 + n)),
            app.base.clone(),
        );
        tries.spawn(async move {
            let response = stranger
                .get(format!("{base}/api/v1/bookings?mine=true"))
                .basic_auth(ERIK.0, Some("guess"))
                .send()
                .await
                .unwrap();
            let retry = retry_after(&response);
            let (status, body) = read(response).await;
            (status, retry, body)
        });
    }
    let answers: Vec<(u16, Option<String>, Value)> = tries.join_all().await;
    let wrong = answers.iter().filter(|(s, _, _)| *s == 401).count();
    let guarded: Vec<_> = answers.iter().filter(|(s, _, _)| *s == 429).collect();
    assert_eq!(wrong, 6, "exactly the budget was bound: {answers:?}");
    assert_eq!(guarded.len(), 14, "{answers:?}");
    for (_, retry, problem) in &guarded {
        assert_eq!(problem["code"], "account-protected", "{problem}");
        let retry: u64 = retry.as_deref().unwrap().parse().unwrap();
        assert!((1..=1800).contains(&retry), "{retry}");
    }
    let newcomer = client_from("127.0.1.99");
    let (status, _, problem) = get_as(
        &newcomer,
        &app,
        "/api/v1/bookings?mine=true",
        (ERIK.0, "another guess"),
    )
    .await;
    assert_eq!(status, 429, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("only devices that signed in to it before"),
        "{problem}"
    );
    assert_eq!(propfind_as(&newcomer, &app, (ERIK.0, "guess")).await, 429);
    // A password Lokal remembers (Erik signed in minutes ago) needs no bind: it works from a
    // new device too.
    let (status, _, body) = get_as(&newcomer, &app, "/api/v1/bookings?mine=true", ERIK).await;
    assert_eq!(status, 200, "{body}");
    // Erik's office, where he signed in before, still works: API and CalDAV.
    let (status, _, body) = get_as(&office, &app, "/api/v1/bookings?mine=true", ERIK).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(propfind_as(&office, &app, ERIK).await, 207);
    // Logins nobody has never reach a budget: 401, never 429, from twenty addresses.
    for n in 0..20 {
        let stranger = client_from(&format!("127.0.2.{}", 10 + n));
        let (status, _, body) = get_as(
            &stranger,
            &app,
            "/api/v1/bookings?mine=true",
            ("nobody@example.no", "guess"),
        )
        .await;
        assert_eq!(status, 401, "{body}");
    }
    // The count is forgotten 30 minutes after the last failure: the directory is asked again.
    app.clock.advance(chrono::TimeDelta::minutes(30));
    let stranger = client_from("127.0.3.1");
    let (status, _, body) = get_as(
        &stranger,
        &app,
        "/api/v1/bookings?mine=true",
        (ERIK.0, "guess"),
    )
    .await;
    assert_eq!(status, 401, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spraying_one_wrong_password_over_sixty_logins_from_one_address_is_slowed() {
    let app = TestApp::sqlite().await;
    let sprayer = client_from("127.0.0.2");
    let mut statuses = Vec::new();
    for n in 0..60 {
        let who = format!("person{n}@example.no");
        let (status, _, _) = get_as(
            &sprayer,
            &app,
            "/api/v1/bookings?mine=true",
            (&who, "Sommer2027!"),
        )
        .await;
        statuses.push(status);
    }
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let slowed = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((checked, slowed), (20, 40), "{statuses:?}");
    // Another address is not slowed, and neither are the sprayed accounts from it.
    let (status, _, _) = get_as(
        &client_from("127.0.0.3"),
        &app,
        "/api/v1/bookings?mine=true",
        ("person59@example.no", "Sommer2027!"),
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_simultaneous_correct_first_logins_all_succeed() {
    let app = TestApp::sqlite().await;
    let kari = app.resident("kari@example.no").await;
    // One address (a calendar app's or a script's connections), cold credential cache.
    let one = client_from("127.0.0.2");
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let request = one
            .get(format!("{}/api/v1/bookings?mine=true", app.base))
            .basic_auth(&kari.0, Some(&kari.1));
        tasks.push(tokio::spawn(async move {
            request.send().await.unwrap().status().as_u16()
        }));
    }
    let mut api = Vec::new();
    for t in tasks {
        api.push(t.await.unwrap());
    }
    assert_eq!(api, [200; 10]);
    // CalDAV: a staff member's app opening ten connections on its first sync.
    let app_client = client_from("127.0.0.3");
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let request = app_client
            .request(
                reqwest::Method::from_bytes(b"PROPFIND").unwrap(),
                format!("{}/dav/", app.base),
            )
            .basic_auth(ERIK.0, Some(ERIK.1))
            .header("Depth", "0");
        tasks.push(tokio::spawn(async move {
            request.send().await.unwrap().status().as_u16()
        }));
    }
    let mut dav = Vec::new();
    for t in tasks {
        dav.push(t.await.unwrap());
    }
    assert_eq!(dav, [207; 10]);
    // And ten residents' first logins at once from ten addresses (registered from there).
    let mut tasks = Vec::new();
    for n in 0..10 {
        let client = client_from(&format!("127.0.0.{}", 10 + n));
        let email = format!("first{n}@example.no");
        let response = client
            .post(format!("{}/api/v1/residents", app.base))
            .json(&json!({"email": email, "password": "a-long-password-2027", "name": "F"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let request = client
            .get(format!("{}/api/v1/bookings?mine=true", app.base))
            .basic_auth(email, Some("a-long-password-2027"));
        tasks.push(tokio::spawn(async move {
            request.send().await.unwrap().status().as_u16()
        }));
    }
    let mut many = Vec::new();
    for t in tasks {
        many.push(t.await.unwrap());
    }
    assert_eq!(many, [200; 10]);
}

/// The median of `times`.
fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_email_takes_as_long_as_a_wrong_password_for_a_known_one() {
    let dir = TempDir::new("identity-timing");
    let mut config = test_config(&format!("sqlite:{}", dir.0.join("lokal.db").display()));
    // The throttle stays out of the way of 30 failures: this is about time, not limits.
    config.auth.max_failures = 1000;
    config.auth.address_max_failures = 1000;
    let app = TestApp::start(config).await;
    let kari = app.resident("kari@example.no").await;
    let client = client_from("127.0.0.2");
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    // Interleaved, each first in turn, so that whatever else the machine does falls on both
    // alike.
    for n in 0..15 {
        let nobody = format!("nobody{n}@example.no");
        let mut pair = [
            (kari.0.as_str(), &mut known),
            (nobody.as_str(), &mut unknown),
        ];
        if n % 2 == 1 {
            pair.reverse();
        }
        for (login, times) in pair {
            let started = Instant::now();
            let (status, _, _) = get_as(
                &client,
                &app,
                "/api/v1/bookings?mine=true",
                (login, "wrong-password"),
            )
            .await;
            times.push(started.elapsed());
            assert_eq!(status, 401);
        }
    }
    let (known, unknown) = (median(known), median(unknown));
    let ratio = unknown.as_secs_f64() / known.as_secs_f64();
    eprintln!("median wrong password {known:?}, unknown email {unknown:?}, ratio {ratio:.2}");
    assert!(
        (0.5..=2.0).contains(&ratio),
        "unknown email {unknown:?} vs wrong password {known:?}: ratio {ratio:.2}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_beyond_an_address_burst_wait_with_a_reason_on_the_api_and_the_portal() {
    let app = TestApp::sqlite().await;
    let client = client_from("127.0.0.1");
    for n in 0..10 {
        let response = client
            .post(format!("{}/api/v1/residents", app.base))
            .json(&json!({"email": format!("r{n}@example.no"), "password": "a-long-password-2027", "name": "R"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    let response = client
        .post(format!("{}/api/v1/residents", app.base))
        .json(&json!({"email": "r10@example.no", "password": "a-long-password-2027", "name": "R"}))
        .send()
        .await
        .unwrap();
    assert_eq!(retry_after(&response).as_deref(), Some("60"));
    let (status, problem) = read(response).await;
    assert_eq!(status, 429);
    assert_eq!(problem["code"], "too-many-registrations");
    assert_eq!(
        problem["detail"],
        "too many new accounts were registered from your address; try again in 60 s"
    );
    // The portal's form (same address, 127.0.0.1) says it in words, keeping what was typed.
    let browser = Browser::new(&app);
    let page = browser
        .submit(
            "/register",
            "/register",
            &[
                ("name", "Ola Nordmann"),
                ("email", "ola@example.no"),
                ("password", "a-long-password-2027"),
                ("password_again", "a-long-password-2027"),
            ],
        )
        .await;
    assert_eq!(page.status, 429);
    assert!(
        page.body
            .contains("Det er opprettet for mange kontoer fra din tilkobling. Vent 60 sekunder"),
        "{}",
        page.body
    );
    assert!(page.body.contains("ola@example.no"));
    // Another address registers as usual, and after a minute this one may again.
    let (status, _) = read(
        client_from("127.0.0.2")
            .post(format!("{}/api/v1/residents", app.base))
            .json(&json!({"email": "other@example.no", "password": "a-long-password-2027", "name": "O"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201);
    app.clock.advance(chrono::TimeDelta::seconds(60));
    app.resident("r11@example.no").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_the_forwarded_address_is_the_client_and_otherwise_ignored() {
    let dir = TempDir::new("identity-proxy");
    let mut config = test_config(&format!("sqlite:{}", dir.0.join("lokal.db").display()));
    config.auth.trusted_proxies = vec!["127.0.0.5".into()];
    let app = TestApp::start(config).await;
    // A resident's login: Lokal's own throttle, not the directory's budget.
    let (email, password) = app.resident("ola@example.no").await;
    let ola = (email.as_str(), password.as_str());
    let proxy = client_from("127.0.0.5");
    let via_proxy = |client_ip: &str, user: (&str, &str)| {
        proxy
            .get(format!("{}/api/v1/bookings?mine=true", app.base))
            .basic_auth(user.0, Some(user.1))
            // The client's own claim on the left; the proxy appends the real peer.
            .header("X-Forwarded-For", format!("10.9.9.9, {client_ip}"))
            .send()
    };
    for _ in 0..5 {
        let r = via_proxy("198.51.100.1", (ola.0, "guess")).await.unwrap();
        assert_eq!(r.status(), 401);
    }
    let r = via_proxy("198.51.100.1", ola).await.unwrap();
    assert_eq!(r.status(), 429, "the attacker behind the proxy waits");
    let r = via_proxy("198.51.100.2", ola).await.unwrap();
    assert_eq!(
        r.status(),
        200,
        "another client behind the same proxy does not"
    );
    // A client that is not the proxy cannot pick its address with the header.
    let direct = client_from("127.0.0.6");
    for n in 0..5 {
        let r = direct
            .get(format!("{}/api/v1/bookings?mine=true", app.base))
            .basic_auth(ola.0, Some("guess"))
            .header("X-Forwarded-For", format!("203.0.113.{n}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let r = direct
        .get(format!("{}/api/v1/bookings?mine=true", app.base))
        .basic_auth(ola.0, Some(ola.1))
        .header("X-Forwarded-For", "203.0.113.99")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
}

#[test]
fn auth_settings_old_keys_still_load_and_a_wrong_proxy_is_named() {
    let dir = TempDir::new("identity-config");
    let file = dir.0.join("lokal.toml");
    // A configuration from before the throttle: its keys keep working.
    std::fs::write(
        &file,
        "[auth]\nmax_failures = 3\nfailure_window_secs = 60\ncredential_cache_secs = 0\n",
    )
    .unwrap();
    let config = lokal::config::Config::load(Some(&file)).unwrap();
    assert_eq!(config.auth.max_failures, 3);
    assert_eq!(
        config.auth.address_max_failures, 20,
        "new keys have defaults"
    );
    std::fs::write(
        &file,
        "[auth]\ntrusted_proxies = [\"10.0.0.1\", \"10.0.0.0/33\"]\n",
    )
    .unwrap();
    let e = lokal::config::Config::load(Some(&file))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("auth.trusted_proxies") && e.contains("10.0.0.0/33"),
        "{e}"
    );
    std::fs::write(&file, "[auth]\nlockout_minutes = 15\n").unwrap();
    let e = lokal::config::Config::load(Some(&file))
        .unwrap_err()
        .to_string();
    assert!(e.contains("lockout_minutes"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_beyond_the_hashing_queue_get_503_busy_with_retry_after_and_are_not_counted() {
    let dir = TempDir::new("identity-busy");
    let mut config = test_config(&format!("sqlite:{}", dir.0.join("lokal.db").display()));
    config.auth.hash_threads = 1;
    config.auth.hash_queue = 2;
    let app = TestApp::start(config).await;
    let mut logins = Vec::new();
    for n in 0..12 {
        let client = client_from(&format!("127.0.0.{}", 20 + n));
        let email = format!("busy{n}@example.no");
        let response = client
            .post(format!("{}/api/v1/residents", app.base))
            .json(&json!({"email": email, "password": "a-long-password-2027", "name": "B"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        logins.push((client, email));
    }
    let mut tasks = Vec::new();
    for (client, email) in &logins {
        let request = client
            .get(format!("{}/api/v1/bookings?mine=true", app.base))
            .basic_auth(email, Some("a-long-password-2027"));
        tasks.push(tokio::spawn(async move {
            let response = request.send().await.unwrap();
            let retry = retry_after(&response);
            let (status, body) = read(response).await;
            (status, retry, body)
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    let ok = answers.iter().filter(|a| a.0 == 200).count();
    let busy: Vec<_> = answers.iter().filter(|a| a.0 == 503).collect();
    assert_eq!(ok + busy.len(), 12, "{answers:?}");
    assert!(!busy.is_empty() && ok >= 2, "{answers:?}");
    for (_, retry, body) in &busy {
        assert!(retry.is_some(), "{body}");
        assert_eq!(body["code"], "busy", "{body}");
    }
    // Nothing was lost: each of them signs in now, one by one.
    for (client, email) in &logins {
        let (status, _, body) = get_as(
            client,
            &app,
            "/api/v1/bookings?mine=true",
            (email, "a-long-password-2027"),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
}
