//! Issue 15, items 4 and 9, against the real `lokal` binary: connections are timed and capped
//! (idle, slow-header and slow-body clients are cut; 2,000 idle connections, also under
//! `ulimit -n 1024`, neither lock a real request out nor flood the log), and the configuration
//! is checked before Lokal serves (a policy the file lacks, an environment override of a
//! mapping selector, a port that is taken).

use std::io::{BufRead, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::app::TempDir;
use crate::support::postgres::Postgres;
use crate::support::slapd::repo;

/// The `lokal` binary: this build's, or `TEST_LOKAL_BIN` (not `LOKAL_*`, which Lokal reads as
/// configuration) where a target directory is shared by several checkouts (each build
/// overwrites `target/debug/lokal`).
fn binary() -> String {
    std::env::var("TEST_LOKAL_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_lokal").to_owned())
}

/// `lokal` with the seed directory and policies, a store of its own and no demo data,
/// configured by `LOKAL_*` variables.
fn lokal(dir: &Path, store_url: &str) -> Command {
    let mut cmd = Command::new(binary());
    cmd.current_dir(dir)
        .env(
            "LOKAL_DIRECTORY__URL",
            format!("file:{}", repo().join("seed/directory.ldif").display()),
        )
        .env(
            "LOKAL_SCHEDULING__POLICIES",
            repo().join("seed/policies.toml"),
        )
        .env("LOKAL_SCHEDULING__CALENDARS", repo().join("calendars"))
        .env("LOKAL_STORE__URL", store_url)
        .env("LOKAL_SERVER__DEMO_DATA", "false")
        .env("RUST_LOG", "warn");
    cmd
}

fn sqlite_url(dir: &TempDir) -> String {
    format!("sqlite:{}", dir.0.join("lokal.db").display())
}

/// A running `lokal serve`: its URL, its log so far, stopped with SIGTERM when dropped.
struct Server {
    child: Child,
    addr: String,
    log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `command` (a `lokal serve --listen 127.0.0.1:0`, possibly under a shell) and
    /// waits for the line with its URL.
    fn start(mut command: Command) -> Server {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting lokal serve");
        let log = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let addr = first
            .trim()
            .strip_prefix("Lokal is running at http://")
            .unwrap_or_else(|| {
                let _ = child.wait();
                panic!("no URL printed: {first:?}\n{}", log.lock().unwrap())
            })
            .trim_end_matches('/')
            .to_owned();
        Server { child, addr, log }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let response = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap()
            .get(format!("http://{}{path}", self.addr))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}\n{}", self.log()));
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// Enough descriptors in this process for the client side of the connections.
fn allow_open_files(n: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain calls on a struct we own.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        if limit.rlim_cur < n {
            limit.rlim_cur = n.min(limit.rlim_max);
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
        }
        assert!(
            limit.rlim_cur >= n,
            "this test needs {n} open files (ulimit -n)"
        );
    }
}

/// Opens `n` connections that send nothing.
async fn open_idle(addr: &str, n: usize) -> Vec<TcpStream> {
    let mut conns = Vec::with_capacity(n);
    for batch in 0..n.div_ceil(100) {
        let tasks: Vec<_> = (0..100.min(n - batch * 100))
            .map(|_| {
                let addr = addr.to_owned();
                tokio::spawn(async move { TcpStream::connect(addr).await })
            })
            .collect();
        for t in tasks {
            conns.push(t.await.unwrap().expect("connecting"));
        }
    }
    conns
}

/// Waits until the server has closed every connection (a read gives EOF or a reset) and
/// fails if that takes longer than `bound`.
async fn all_closed_within(conns: Vec<TcpStream>, bound: Duration) {
    let n = conns.len();
    let waits = conns.into_iter().map(|mut c| {
        tokio::spawn(async move {
            let mut buf = [0u8; 64];
            // Anything the server sends before it closes (nothing, for an idle connection)
            // is read past.
            loop {
                match c.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => continue,
                }
            }
        })
    });
    let all = futures_join(waits.collect());
    tokio::time::timeout(bound, all).await.unwrap_or_else(|_| {
        panic!("not all of the {n} idle connections were closed within {bound:?}")
    });
}

async fn futures_join(tasks: Vec<tokio::task::JoinHandle<()>>) {
    for t in tasks {
        t.await.unwrap();
    }
}

const IDLE_SECS: u64 = 2;
/// The idle timeout of the connection-cap test.
const CAP_IDLE_SECS: u64 = 20;

/// The idle-connection scenario of the issue: 2,000 connections that send nothing, a normal
/// request while they are open, and every one of them closed by the server within a bound
/// derived from the idle timeout.
async fn idle_connections_scenario(server: &Server, idle_secs: u64) {
    allow_open_files(4096);
    let idle = open_idle(&server.addr, 2000).await;
    let (status, body) = server.get("/readyz").await;
    assert_eq!(status, 200, "{body}");
    let (status, rooms) = server.get("/api/v1/rooms").await;
    assert_eq!(status, 200, "{rooms}");
    assert!(rooms.contains("Storsalen"));
    // Idle means closed within the idle timeout (measured from when each was accepted, all
    // within the last moments), with room for a slow machine; never the 75 s and more
    // connections were held before.
    all_closed_within(idle, Duration::from_secs(idle_secs * 5)).await;
    // The server still serves afterwards.
    let (status, _) = server.get("/readyz").await;
    assert_eq!(status, 200);
}

/// Lines of the log about accepting connections, for the "no flood" check.
fn accept_lines(log: &str) -> usize {
    log.lines()
        .filter(|l| l.contains("accept") || l.contains("Too many open files"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_idle_connections_are_closed_after_the_idle_timeout_and_requests_still_succeed()
 {
    let dir = TempDir::new("idle");
    let mut cmd = lokal(&dir.0, &sqlite_url(&dir));
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .env("LOKAL_SERVER__IDLE_TIMEOUT_SECS", IDLE_SECS.to_string());
    let server = Server::start(cmd);
    idle_connections_scenario(&server, IDLE_SECS).await;
    let log = server.log();
    assert_eq!(accept_lines(&log), 0, "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_ulimit_1024_idle_connections_never_lock_out_a_request_nor_flood_the_log() {
    let dir = TempDir::new("idle-ulimit");
    // The shell lowers both the soft and the hard limit, so Lokal cannot raise it back.
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        "ulimit -n 1024 && exec \"$0\" serve --listen 127.0.0.1:0",
        &binary(),
    ]);
    let configured = lokal(&dir.0, &sqlite_url(&dir));
    for (key, value) in configured.get_envs() {
        if let Some(value) = value {
            cmd.env(key, value);
        }
    }
    // Long enough that all 2,000 are open at once even on a loaded machine (with 2 s, the
    // first ones were closed as idle before the last were opened, and the cap was never
    // reached): this test is about the cap, the one above about the idle timeout.
    cmd.current_dir(&dir.0)
        .env("LOKAL_SERVER__IDLE_TIMEOUT_SECS", CAP_IDLE_SECS.to_string());
    let server = Server::start(cmd);
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.child.id())).unwrap();
    let open_files = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap()
        .split_whitespace()
        .nth(3)
        .unwrap()
        .to_owned();
    assert_eq!(open_files, "1024", "{limits}");
    idle_connections_scenario(&server, CAP_IDLE_SECS).await;
    let log = server.log();
    // More connections than descriptors: the server made room by closing idle ones, and
    // said so once, not once per connection.
    assert!(log.contains("at the connection cap"), "{log}");
    assert!(accept_lines(&log) <= 2, "the log is flooded:\n{log}");
    assert!(
        log.lines().filter(|l| l.contains("connection cap")).count() <= 3,
        "{log}"
    );
    assert!(!log.contains("Too many open files"), "{log}");
}

/// Sends `head` one byte every `every` until the server closes the connection; returns how
/// many bytes went out.
async fn trickle(addr: &str, head: &[u8], every: Duration) -> usize {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 256];
    for (sent, byte) in head.iter().enumerate() {
        if stream.write_all(&[*byte]).await.is_err() {
            return sent;
        }
        match tokio::time::timeout(every, stream.read(&mut buf)).await {
            Err(_) => continue,
            Ok(Ok(0)) | Ok(Err(_)) => return sent + 1,
            // A response means the server waited for the whole head: the test fails below.
            Ok(Ok(_)) => return usize::MAX,
        }
    }
    usize::MAX
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_header_sender_is_cut_after_the_header_timeout() {
    let dir = TempDir::new("slowloris");
    let mut cmd = lokal(&dir.0, &sqlite_url(&dir));
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .env("LOKAL_SERVER__HEADER_TIMEOUT_SECS", "2")
        .env("LOKAL_SERVER__IDLE_TIMEOUT_SECS", "60");
    let server = Server::start(cmd);
    let head = format!(
        "GET /api/v1/rooms HTTP/1.1\r\nhost: {}\r\nuser-agent: {}\r\n\r\n",
        server.addr,
        "slow".repeat(40)
    );
    let every = Duration::from_millis(250);
    let sent = trickle(&server.addr, head.as_bytes(), every).await;
    assert_ne!(
        sent,
        usize::MAX,
        "the server waited for the whole slow head"
    );
    // Cut after about the header timeout (2 s = 8 bytes at 4 a second), long before the
    // idle timeout (60 s) or the end of the head (~200 bytes).
    assert!(
        (4..=40).contains(&sent),
        "cut after {sent} bytes at one per {every:?}"
    );
    // A normal request is unaffected.
    let (status, _) = server.get("/api/v1/rooms").await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_body_is_refused_after_the_body_timeout() {
    let dir = TempDir::new("slow-body");
    let mut cmd = lokal(&dir.0, &sqlite_url(&dir));
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .env("LOKAL_SERVER__BODY_TIMEOUT_SECS", "2")
        .env("LOKAL_SERVER__IDLE_TIMEOUT_SECS", "60");
    let server = Server::start(cmd);
    let body = r#"{"email":"slow@example.no","password":"a-long-password","name":"Slow"}"#;
    let mut stream = TcpStream::connect(&server.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/residents HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut sent = 0;
    for byte in body.bytes() {
        if stream.write_all(&[byte]).await.is_err() {
            break;
        }
        sent += 1;
        let mut buf = [0u8; 1024];
        match tokio::time::timeout(Duration::from_millis(250), stream.read(&mut buf)).await {
            Err(_) => continue,
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                answer.extend_from_slice(&buf[..n]);
                break;
            }
        }
    }
    assert!(sent < body.len(), "the whole slow body was waited for");
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
        "{answer}"
    );
    // No resident was made from a body that never arrived.
    let (status, _) = server.get("/readyz").await;
    assert_eq!(status, 200);
}

/// The seed directory with the five gym rooms (the divisible hall and its halves among them)
/// naming a policy the policy file lacks.
fn directory_naming_a_missing_policy(dir: &TempDir) -> PathBuf {
    let seed = std::fs::read_to_string(repo().join("seed/directory.ldif")).unwrap();
    assert_eq!(seed.matches("lokalPolicy: gym\n").count(), 5);
    let ldif = dir.0.join("directory.ldif");
    std::fs::write(
        &ldif,
        seed.replace("lokalPolicy: gym\n", "lokalPolicy: closed\n"),
    )
    .unwrap();
    ldif
}

fn assert_names_the_rooms_and_the_policy(stderr: &str) {
    assert!(stderr.contains("\"closed\""), "{stderr}");
    assert!(stderr.contains("named by 5 rooms"), "{stderr}");
    for room in [
        "Gymsal A+B, (delbar)",
        "Gymsal A (Fjordvik skole)",
        "Gymsal B (Fjordvik skole)",
        "Hovedhallen",
        "Styrkerommet",
    ] {
        assert!(stderr.contains(room), "{room} not named: {stderr}");
    }
    assert!(stderr.contains("policies.toml"), "{stderr}");
}

async fn stored_rooms(store_url: &str) -> usize {
    let store = lokal::store::Store::open(store_url).await.unwrap();
    store.rooms(true).await.unwrap().len()
}

async fn a_missing_policy_stops_every_command(store_url: &str, dir: &TempDir) {
    let ldif = directory_naming_a_missing_policy(dir);
    let run = |args: &[&str]| {
        let out = lokal(&dir.0, store_url)
            .env("LOKAL_DIRECTORY__URL", format!("file:{}", ldif.display()))
            .env("RUST_LOG", "info")
            .args(args)
            .output()
            .unwrap();
        (
            out.status,
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (status, stdout, stderr) = run(&["serve", "--listen", "127.0.0.1:0"]);
    assert!(!status.success(), "lokal serve started: {stdout}{stderr}");
    assert!(!stdout.contains("Lokal is running"), "{stdout}");
    assert_names_the_rooms_and_the_policy(&stderr);

    let (status, stdout, stderr) = run(&["sync-directory"]);
    assert!(!status.success(), "{stdout}{stderr}");
    assert_names_the_rooms_and_the_policy(&stderr);

    let (status, stdout, stderr) = run(&["directory", "rooms"]);
    assert!(!status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("Hovedhallen"),
        "the listing is still shown: {stdout}"
    );
    assert_names_the_rooms_and_the_policy(&stderr);

    // Nothing of that directory reached the store.
    assert_eq!(stored_rooms(store_url).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_naming_a_missing_policy_stops_serve_and_sync_on_sqlite() {
    let dir = TempDir::new("missing-policy");
    a_missing_policy_stops_every_command(&sqlite_url(&dir), &dir).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_naming_a_missing_policy_stops_serve_and_sync_on_postgres() {
    let pg = Postgres::start();
    let dir = TempDir::new("missing-policy-pg");
    a_missing_policy_stops_every_command(&pg.url, &dir).await;
}

#[test]
fn an_environment_override_of_a_mapping_selector_beats_the_file() {
    let dir = TempDir::new("env-selector");
    let file = dir.0.join("lokal.toml");
    // The file selects every room; the environment only the one named Storsalen.
    std::fs::write(
        &file,
        "[directory.mapping]\n\
         rooms = { all = [{ object_class = \"room\" }, { object_class = \"lokalBookable\" }] }\n",
    )
    .unwrap();
    let rooms = |env: Option<&str>| {
        let mut cmd = lokal(&dir.0, &sqlite_url(&dir));
        cmd.arg("--config")
            .arg(&file)
            .args(["directory", "rooms", "--format", "json"]);
        if let Some(selector) = env {
            cmd.env("LOKAL_DIRECTORY__MAPPING__ROOMS", selector);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rooms: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        rooms
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(rooms(None).len(), 18);
    assert_eq!(
        rooms(Some(r#"{ equals = ["cn", "Storsalen"] }"#)),
        ["Storsalen"]
    );
    // The same for the same kind of selector, and for a plain key beside it.
    assert_eq!(
        rooms(Some(
            r#"{ all = [{ object_class = "room" }, { equals = ["cn", "Storsalen"] }] }"#
        )),
        ["Storsalen"]
    );
}

async fn a_taken_port_fails_before_anything_is_synced(store_url: &str, dir: &TempDir) {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = lokal(&dir.0, store_url)
        .env("RUST_LOG", "info")
        .args(["serve", "--listen", &addr])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
    assert!(!stderr.contains("rooms synced"), "{stderr}");
    assert!(!stderr.contains("notification worker"), "{stderr}");
    // Not even the store was opened (SQLite would have made its file).
    assert!(!dir.0.join("lokal.db").exists());
    assert_eq!(stored_rooms(store_url).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_port_fails_at_once_before_rooms_are_synced_on_sqlite() {
    let dir = TempDir::new("port-taken");
    a_taken_port_fails_before_anything_is_synced(&sqlite_url(&dir), &dir).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_port_fails_at_once_before_rooms_are_synced_on_postgres() {
    let pg = Postgres::start();
    let dir = TempDir::new("port-taken-pg");
    a_taken_port_fails_before_anything_is_synced(&pg.url, &dir).await;
}
