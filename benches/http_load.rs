//! Booking creation over HTTP on loopback, under load: throughput and per-request latency
//! (p50, p99) of `POST /api/v1/bookings`, on SQLite and on PostgreSQL, with 10k and 100k
//! bookings already in the store. A script, not a timed test: it prints a Markdown table to
//! paste into docs/performance.md (target: at least 1,000 bookings/s on SQLite).
//!
//! ```sh
//! cargo bench --bench http_load
//! cargo bench --bench http_load -- --existing 10000,100000 --requests 5000 --concurrency 32 \
//!     --backends sqlite,postgres
//! ```
//!
//! `--keep` leaves the temp folder (the SQLite files) behind for a look afterwards.
//!
//! For each backend and each count of existing bookings it makes a fresh store (a SQLite file
//! in a temp folder, or a new database in a throwaway PostgreSQL cluster started here as the
//! tests start theirs), builds the server in-process on the seed directory with a bench
//! policy file (every room open around the clock, booked directly by anybody), registers one
//! resident, seeds the existing bookings with plain SQL, and then sends the requests from
//! `--concurrency` clients at once. Every request asks for a distinct free hour, interleaved
//! with the existing bookings, so each one should come back 201 approved; anything else is
//! counted as an error and its first few answers are printed.

use std::net::TcpListener as StdTcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone as _, Utc};
use chrono_tz::Tz;
use lokal::clock::{Clock as _, SystemClock};
use lokal::config::Config;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

const POLICIES: &str = r#"# Bench policies: every room open around the clock, booked directly by anybody.
[policy.hall]
granularity = "15m"
max_duration = "24h"
horizon = "3650d"
[policy.hall.approval]
book_in = ["@everyone"]

[policy.meeting-room]
granularity = "15m"
max_duration = "24h"
horizon = "3650d"
[policy.meeting-room.approval]
book_in = ["@everyone"]

[policy.gym]
granularity = "15m"
max_duration = "24h"
horizon = "3650d"
[policy.gym.approval]
book_in = ["@everyone"]

[policy.club-room]
granularity = "15m"
max_duration = "24h"
horizon = "3650d"
[policy.club-room.approval]
book_in = ["@everyone"]

[policy.under-renovation]
granularity = "15m"
max_duration = "24h"
horizon = "3650d"
[policy.under-renovation.approval]
book_in = ["@everyone"]
"#;

const RESIDENT: (&str, &str, &str) = (
    "bench.resident@example.no",
    "bench-password-2027",
    "Bench Resident",
);

/// Rows per multi-row INSERT (19 columns: well under SQLite's and PostgreSQL's bind limits).
const CHUNK: usize = 500;
/// Bookings per seeding transaction.
const TX_ROWS: usize = 20_000;
/// Non-201 answers printed per run.
const SHOW_ERRORS: usize = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

struct Args {
    existing: Vec<usize>,
    requests: usize,
    concurrency: usize,
    backends: Vec<Backend>,
    /// Keep the temp folder (the SQLite files) for a look afterwards.
    keep: bool,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        existing: vec![10_000, 100_000],
        requests: 5_000,
        concurrency: 32,
        backends: vec![Backend::Sqlite, Backend::Postgres],
        keep: false,
    };
    let list = |v: &str| -> anyhow::Result<Vec<usize>> {
        v.split(',')
            .map(|n| {
                n.trim()
                    .replace('_', "")
                    .parse::<usize>()
                    .with_context(|| format!("{n:?} is not a count"))
            })
            .collect()
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (key, inline) = match arg.split_once('=') {
            Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
            None => (arg.clone(), None),
        };
        let mut value = || -> anyhow::Result<String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => it.next().ok_or_else(|| anyhow!("{key} needs a value")),
            }
        };
        match key.as_str() {
            // cargo bench passes --bench to every bench binary.
            "--bench" => {}
            "--existing" => args.existing = list(&value()?)?,
            "--requests" => args.requests = list(&value()?)?.first().copied().unwrap_or(0),
            "--concurrency" => {
                args.concurrency = list(&value()?)?.first().copied().unwrap_or(0);
            }
            "--backends" => {
                args.backends = value()?
                    .split(',')
                    .map(|b| match b.trim().to_lowercase().as_str() {
                        "sqlite" => Ok(Backend::Sqlite),
                        "postgres" | "postgresql" | "pg" => Ok(Backend::Postgres),
                        other => Err(anyhow!("unknown backend {other:?}: sqlite or postgres")),
                    })
                    .collect::<anyhow::Result<_>>()?;
            }
            "--keep" => args.keep = true,
            "-h" | "--help" => {
                println!(
                    "cargo bench --bench http_load -- [--existing 10000,100000] [--requests 5000] \
                     [--concurrency 32] [--backends sqlite,postgres] [--keep]"
                );
                std::process::exit(0);
            }
            other => eprintln!("http_load: ignoring the argument {other:?}"),
        }
    }
    if args.requests == 0 || args.concurrency == 0 {
        bail!("--requests and --concurrency must be at least 1");
    }
    Ok(args)
}

// ---------------------------------------------------------------------------------------------
// A throwaway PostgreSQL cluster, started the way tests/it/support/postgres.rs starts one:
// initdb and pg_ctl in a temp folder, trust authentication, a free 127.0.0.1 port, fsync off,
// as the postgres user when we are root; stopped and removed when dropped.

struct Postgres {
    dir: PathBuf,
    bin: PathBuf,
    /// `postgres://postgres@127.0.0.1:PORT`, without a database.
    base_url: String,
}

fn pg_bin_dir() -> anyhow::Result<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    versions.retain(|p| p.join("initdb").exists());
    versions.sort();
    versions.pop().ok_or_else(|| {
        anyhow!(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run scripts/test \
             once, which installs it, or leave it out with --backends sqlite"
        )
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.trim_ascii() == b"0")
        .unwrap_or(false)
}

/// A PostgreSQL tool, run as the `postgres` user when we are root (initdb refuses root).
fn pg_command(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.arg("-u").arg("postgres").arg("--").arg(program);
        c
    } else {
        Command::new(program)
    }
}

impl Postgres {
    fn start() -> anyhow::Result<Postgres> {
        let bin = pg_bin_dir()?;
        let dir = std::env::temp_dir().join(format!("lokal-bench-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        if is_root() {
            let ok = Command::new("chown")
                .arg("postgres:postgres")
                .arg(&dir)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                bail!("chown postgres {} failed", dir.display());
            }
        }
        let data = dir.join("data").display().to_string();
        let out = pg_command(&bin.join("initdb"))
            .args(["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"])
            .output()
            .context("running initdb")?;
        if !out.status.success() {
            bail!(
                "initdb failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let d = dir.display().to_string();
        for _ in 0..5 {
            let port = StdTcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .context("finding a free port")?
                .port();
            let options = format!("-p {port} -k {d} -c listen_addresses=127.0.0.1 -c fsync=off");
            let ok = pg_command(&bin.join("pg_ctl"))
                .args(["-D", &data, "-o", &options, "-l"])
                .arg(dir.join("log"))
                .args(["-w", "-t", "20", "start"])
                .output()
                .is_ok_and(|o| o.status.success());
            if ok {
                return Ok(Postgres {
                    dir,
                    bin,
                    base_url: format!("postgres://postgres@127.0.0.1:{port}"),
                });
            }
        }
        bail!("PostgreSQL did not start; see {}/log", dir.display())
    }

    /// The version the server reports, e.g. "15.14".
    fn version(&self) -> String {
        Command::new(self.bin.join("postgres"))
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.join("data").display().to_string();
        let _ = pg_command(&self.bin.join("pg_ctl"))
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ---------------------------------------------------------------------------------------------
// Slots: one-hour bookings on the hour, in the rooms' local wall time, day after day.

#[derive(Clone, Debug)]
struct Room {
    id: String,
    zone: Tz,
}

#[derive(Clone, Debug)]
struct Slot {
    room: usize,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    local_start: String,
    local_end: String,
}

/// A day on which every zone keeps one offset from midnight to midnight (no DST change), so
/// each local hour is one unambiguous UTC hour.
fn plain_day(day: NaiveDate, zones: &[Tz]) -> bool {
    zones.iter().all(|tz| {
        let a = tz
            .from_local_datetime(&day.and_time(NaiveTime::MIN))
            .single();
        let next = day.succ_opt().map(|n| n.and_time(NaiveTime::MIN));
        let b = next.and_then(|n| tz.from_local_datetime(&n).single());
        match (a, b) {
            (Some(a), Some(b)) => b - a == TimeDelta::hours(24),
            _ => false,
        }
    })
}

/// `count` distinct slots, room by room then hour by hour then day by day, from `first_day`.
fn slots(rooms: &[Room], first_day: NaiveDate, count: usize) -> anyhow::Result<Vec<Slot>> {
    let mut zones: Vec<Tz> = rooms.iter().map(|r| r.zone).collect();
    zones.dedup();
    let mut out = Vec::with_capacity(count);
    let mut day = first_day;
    while out.len() < count {
        if plain_day(day, &zones) {
            'day: for hour in 0..24 {
                for (i, room) in rooms.iter().enumerate() {
                    if out.len() == count {
                        break 'day;
                    }
                    let ls: NaiveDateTime = day.and_time(
                        NaiveTime::from_hms_opt(hour, 0, 0).ok_or_else(|| anyhow!("hour"))?,
                    );
                    let le = ls + TimeDelta::hours(1);
                    let start = room
                        .zone
                        .from_local_datetime(&ls)
                        .single()
                        .ok_or_else(|| anyhow!("{ls} is not one instant"))?
                        .with_timezone(&Utc);
                    out.push(Slot {
                        room: i,
                        start,
                        end: start + TimeDelta::hours(1),
                        local_start: ls.format("%Y-%m-%dT%H:%M").to_string(),
                        local_end: le.format("%Y-%m-%dT%H:%M").to_string(),
                    });
                }
            }
        }
        day = day.succ_opt().ok_or_else(|| anyhow!("ran out of days"))?;
    }
    Ok(out)
}

/// Splits `all` into the existing bookings and the requests, the requests spread evenly among
/// the existing ones (so each request's room has bookings before and after it), then shuffles
/// the requests with a fixed seed.
fn split(all: Vec<Slot>, requests: usize) -> (Vec<Slot>, Vec<Slot>) {
    let total = all.len();
    let mut is_request = vec![false; total];
    for j in 0..requests {
        // The middle of the j-th of `requests` equal stretches.
        is_request[((2 * j + 1) * total) / (2 * requests)] = true;
    }
    let (mut reqs, mut existing) = (Vec::new(), Vec::new());
    for (slot, r) in all.into_iter().zip(is_request) {
        if r {
            reqs.push(slot);
        } else {
            existing.push(slot);
        }
    }
    // Fisher-Yates with xorshift64*: the same order on every run.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in (1..reqs.len()).rev() {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let r = state.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let j = usize::try_from(r % (i as u64 + 1)).unwrap_or(0);
        reqs.swap(i, j);
    }
    (existing, reqs)
}

// ---------------------------------------------------------------------------------------------
// Seeding the existing bookings with plain SQL, in big transactions.

struct SeedRow {
    id: String,
    room_id: String,
    requester_id: String,
    time_zone: String,
    slot: Slot,
}

macro_rules! seed_with {
    ($pool:expr, $db:ty, $rows:expr, $now:expr) => {{
        let pool = $pool;
        let now: DateTime<Utc> = $now;
        for batch in $rows.chunks(TX_ROWS) {
            let mut tx = pool.begin().await?;
            for chunk in batch.chunks(CHUNK) {
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO bookings (id, room_id, requester_id, requester_name, purpose, \
                     attendees, local_start, local_end, time_zone, recurrence, on_conflict, status, \
                     status_reason, hold_until, idempotency_key, request_hash, reasons, created_at, \
                     updated_at) ",
                );
                q.push_values(chunk, |mut b, r: &SeedRow| {
                    b.push_bind(r.id.clone())
                        .push_bind(r.room_id.clone())
                        .push_bind(r.requester_id.clone())
                        .push_bind("Seeded Resident")
                        .push_bind("Seeded booking")
                        .push_bind(10_i64)
                        .push_bind(r.slot.local_start.clone())
                        .push_bind(r.slot.local_end.clone())
                        .push_bind(r.time_zone.clone())
                        .push_bind(None::<String>)
                        .push_bind("reject")
                        .push_bind("approved")
                        .push_bind(None::<String>)
                        .push_bind(None::<DateTime<Utc>>)
                        .push_bind(None::<String>)
                        .push_bind("seeded")
                        .push_bind("[]")
                        .push_bind(now)
                        .push_bind(now);
                });
                q.build().execute(&mut *tx).await?;
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO occurrences (booking_id, seq, room_id, start_at, end_at, \
                     block_start, block_end, status) ",
                );
                q.push_values(chunk, |mut b, r: &SeedRow| {
                    b.push_bind(r.id.clone())
                        .push_bind(0_i64)
                        .push_bind(r.room_id.clone())
                        .push_bind(r.slot.start)
                        .push_bind(r.slot.end)
                        .push_bind(r.slot.start)
                        .push_bind(r.slot.end)
                        .push_bind("approved");
                });
                q.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
        }
        let approved: (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM bookings WHERE status = 'approved'")
                .fetch_one(pool)
                .await?;
        approved.0
    }};
}

enum Db {
    Sqlite(PathBuf),
    Postgres(String),
}

async fn seed(db: &Db, rows: &[SeedRow], now: DateTime<Utc>) -> anyhow::Result<i64> {
    Ok(match db {
        Db::Sqlite(path) => {
            let options = SqliteConnectOptions::from_str(&format!("sqlite:{}", path.display()))?
                .journal_mode(SqliteJournalMode::Wal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(30));
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await?;
            let n = seed_with!(&pool, sqlx::Sqlite, rows, now);
            pool.close().await;
            n
        }
        Db::Postgres(url) => {
            let pool = PgPoolOptions::new().max_connections(1).connect(url).await?;
            let n = seed_with!(&pool, sqlx::Postgres, rows, now);
            // What autovacuum would do soon after a bulk load in a real deployment.
            sqlx::query("ANALYZE").execute(&pool).await?;
            pool.close().await;
            n
        }
    })
}

async fn count_approved(db: &Db) -> anyhow::Result<i64> {
    let sql = "SELECT COUNT(*) FROM bookings WHERE status = 'approved'";
    let n: (i64,) = match db {
        Db::Sqlite(path) => {
            let options = SqliteConnectOptions::from_str(&format!("sqlite:{}", path.display()))?;
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await?;
            let n = sqlx::query_as(sql).fetch_one(&pool).await?;
            pool.close().await;
            n
        }
        Db::Postgres(url) => {
            let pool = PgPoolOptions::new().max_connections(1).connect(url).await?;
            let n = sqlx::query_as(sql).fetch_one(&pool).await?;
            pool.close().await;
            n
        }
    };
    Ok(n.0)
}

// ---------------------------------------------------------------------------------------------
// One run: a fresh store, the server, the seed, the load.

struct Outcome {
    backend: Backend,
    existing: usize,
    requests: usize,
    concurrency: usize,
    seed_secs: f64,
    wall: Duration,
    p50: Duration,
    p99: Duration,
    max: Duration,
    errors: usize,
    statuses: Vec<(u16, usize)>,
}

/// The nearest-rank percentile of sorted values.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

async fn run_one(
    backend: Backend,
    db: Db,
    store_url: String,
    work: &Path,
    existing: usize,
    args: &Args,
) -> anyhow::Result<Outcome> {
    let policies = work.join("bench-policies.toml");
    std::fs::write(&policies, POLICIES)?;
    let mut config = Config::default();
    config.store.url = store_url;
    config.directory.url = "file:seed/directory.ldif".into();
    config.server.demo_data = false;
    config.scheduling.policies = policies;
    config.scheduling.calendars = work.to_path_buf();

    let clock = SystemClock;
    let state = lokal::startup::build_state(&config, Arc::new(SystemClock)).await?;
    if !lokal::startup::sync_rooms(&state).await {
        bail!("the rooms could not be synced from seed/directory.ldif");
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(lokal::startup::serve(
        listener,
        state,
        config.server.max_body_bytes,
        async move {
            let _ = stopped.await;
        },
    ));

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(120))
        .build()?;

    // The rooms, as the API lists them.
    let list: serde_json::Value = client
        .get(format!("{base}/api/v1/rooms"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let mut rooms = Vec::new();
    for r in list["rooms"].as_array().into_iter().flatten() {
        if r["bookable"] != serde_json::Value::Bool(true) {
            continue;
        }
        let id = r["id"].as_str().unwrap_or_default().to_owned();
        let zone_name = r["time_zone"].as_str().unwrap_or("Europe/Oslo");
        let zone: Tz = zone_name
            .parse()
            .map_err(|e| anyhow!("room {id}: zone {zone_name}: {e}"))?;
        rooms.push(Room { id, zone });
    }
    if rooms.len() != 16 {
        bail!(
            "expected the 16 seed rooms to be bookable, got {}",
            rooms.len()
        );
    }

    // One resident.
    let (email, password, name) = RESIDENT;
    let registered = client
        .post(format!("{base}/api/v1/residents"))
        .json(&serde_json::json!({"email": email, "password": password, "name": name}))
        .send()
        .await?;
    if registered.status() != reqwest::StatusCode::CREATED {
        bail!(
            "registering the resident: {} {}",
            registered.status(),
            registered.text().await.unwrap_or_default()
        );
    }

    // The slots: from the day after tomorrow (in the rooms' zone), the existing bookings and
    // the requests interleaved.
    let now = clock.now();
    let first_day = rooms[0]
        .zone
        .from_utc_datetime(&now.naive_utc())
        .date_naive()
        + TimeDelta::days(2);
    let all = slots(&rooms, first_day, existing + args.requests)?;
    if let Some(last) = all.last()
        && last.end > now + TimeDelta::days(3640)
    {
        bail!("too many slots for the 3650-day horizon: ask for fewer bookings");
    }
    let (seeded, requests) = split(all, args.requests);
    let rows: Vec<SeedRow> = seeded
        .into_iter()
        .enumerate()
        .map(|(i, slot)| SeedRow {
            id: uuid::Uuid::new_v4().to_string(),
            room_id: rooms[slot.room].id.clone(),
            requester_id: format!("resident:seed-{:04}", i % 1000),
            time_zone: rooms[slot.room].zone.name().to_owned(),
            slot,
        })
        .collect();
    let seed_started = Instant::now();
    let approved = seed(&db, &rows, now).await?;
    let seed_secs = seed_started.elapsed().as_secs_f64();
    if approved != existing as i64 {
        bail!("seeded {approved} bookings, expected {existing}");
    }
    drop(rows);

    // Warm-up: one authenticated call, so that the load measures booking creation and not
    // the one argon2 verification the credential cache saves every later request.
    let warm = client
        .get(format!("{base}/api/v1/bookings?mine=true"))
        .basic_auth(email, Some(password))
        .send()
        .await?;
    if !warm.status().is_success() {
        bail!("warm-up: {} {}", warm.status(), warm.text().await?);
    }

    // The load.
    let bodies: Arc<Vec<(String, String)>> = Arc::new(
        requests
            .iter()
            .map(|s| {
                let body = serde_json::json!({
                    "room_id": rooms[s.room].id,
                    "start": s.start.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                    "end": s.end.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                    "purpose": "Load bench",
                    "attendees": 1,
                });
                (body.to_string(), rooms[s.room].id.clone())
            })
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let url = format!("{base}/api/v1/bookings");
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let (client, bodies, next, url) =
            (client.clone(), bodies.clone(), next.clone(), url.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut statuses: Vec<u16> = Vec::new();
            let mut failures: Vec<String> = Vec::new();
            loop {
                let j = next.fetch_add(1, Ordering::Relaxed);
                let Some((body, _)) = bodies.get(j) else {
                    break;
                };
                let t = Instant::now();
                let sent = client
                    .post(&url)
                    .basic_auth(email, Some(password))
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                let (status, text) = match sent {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        (status, r.text().await.unwrap_or_default())
                    }
                    Err(e) => (0, e.to_string()),
                };
                latencies.push(t.elapsed());
                // A 201 must be an approved booking, as every slot is free and in policy; a
                // 201 that is not approved is counted as an error, under the made-up 299.
                let ok = status == 201 && text.contains("\"status\":\"approved\"");
                statuses.push(if status == 201 && !ok { 299 } else { status });
                if !ok && failures.len() < SHOW_ERRORS {
                    failures.push(format!("{status} {text} (request {body})"));
                }
            }
            (latencies, statuses, failures)
        }));
    }
    let mut latencies = Vec::with_capacity(args.requests);
    let mut statuses = Vec::with_capacity(args.requests);
    let mut failures = Vec::new();
    for w in workers {
        let (l, s, f) = w.await?;
        latencies.extend(l);
        statuses.extend(s);
        failures.extend(f);
    }
    let wall = started.elapsed();
    drop(client);
    let _ = stop.send(());
    match tokio::time::timeout(Duration::from_secs(30), server).await {
        Ok(joined) => joined??,
        Err(_) => eprintln!("http_load: the server did not stop within 30 s"),
    }

    latencies.sort();
    let mut counts: Vec<(u16, usize)> = Vec::new();
    for s in &statuses {
        match counts.iter_mut().find(|(c, _)| c == s) {
            Some((_, n)) => *n += 1,
            None => counts.push((*s, 1)),
        }
    }
    counts.sort();
    let errors = statuses.iter().filter(|s| **s != 201).count();
    for f in failures.iter().take(SHOW_ERRORS) {
        eprintln!("http_load: {} {existing}: {f}", backend.name());
    }
    let after = count_approved(&db).await?;
    let expected = (existing + args.requests - errors) as i64;
    if after != expected {
        eprintln!(
            "http_load: {} {existing}: {after} approved bookings in the store, expected {expected}",
            backend.name()
        );
    }
    Ok(Outcome {
        backend,
        existing,
        requests: args.requests,
        concurrency: args.concurrency,
        seed_secs,
        wall,
        p50: percentile(&latencies, 50.0),
        p99: percentile(&latencies, 99.0),
        max: latencies.last().copied().unwrap_or_default(),
        errors,
        statuses: counts,
    })
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kb| format!(", {:.1} GiB RAM", kb as f64 / 1024.0 / 1024.0))
        .unwrap_or_default();
    format!("{cores} cores (nproc), {model}{mem}")
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let shown: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let command = if shown.is_empty() {
        "cargo bench --bench http_load".to_owned()
    } else {
        format!("cargo bench --bench http_load -- {}", shown.join(" "))
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let work = std::env::temp_dir().join(format!("lokal-bench-http-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;

    println!("machine: {}", machine());
    println!("command: {command}");
    println!(
        "load: {} requests from {} concurrent clients per run, HTTP/1.1 keep-alive on loopback; \
         client and server share the machine",
        thousands(args.requests),
        args.concurrency
    );

    let mut outcomes = Vec::new();
    let mut failed = false;
    for &backend in &args.backends {
        let pg = match backend {
            Backend::Postgres => match Postgres::start() {
                Ok(pg) => {
                    println!("PostgreSQL: {}", pg.version());
                    Some(pg)
                }
                Err(e) => {
                    eprintln!("http_load: PostgreSQL: {e:#}");
                    failed = true;
                    continue;
                }
            },
            Backend::Sqlite => None,
        };
        for &existing in &args.existing {
            let (db, url) = match (&pg, backend) {
                (Some(pg), _) => {
                    let name = format!("bench_{existing}");
                    let admin = format!("{}/postgres", pg.base_url);
                    runtime.block_on(async {
                        let pool = PgPoolOptions::new()
                            .max_connections(1)
                            .connect(&admin)
                            .await?;
                        sqlx::query(&format!("CREATE DATABASE {name}"))
                            .execute(&pool)
                            .await?;
                        pool.close().await;
                        anyhow::Ok(())
                    })?;
                    let url = format!("{}/{name}", pg.base_url);
                    (Db::Postgres(url.clone()), url)
                }
                (None, _) => {
                    let path = work.join(format!("lokal-{existing}.db"));
                    (
                        Db::Sqlite(path.clone()),
                        format!("sqlite:{}", path.display()),
                    )
                }
            };
            eprintln!(
                "http_load: {} with {existing} existing bookings…",
                backend.name()
            );
            match runtime.block_on(run_one(backend, db, url, &work, existing, &args)) {
                Ok(o) => {
                    eprintln!(
                        "http_load:   seeded in {:.1} s; {} requests in {:.2} s; statuses {:?}; max {} ms",
                        o.seed_secs,
                        o.requests,
                        o.wall.as_secs_f64(),
                        o.statuses,
                        ms(o.max)
                    );
                    outcomes.push(o);
                }
                Err(e) => {
                    eprintln!("http_load: {} {existing}: {e:#}", backend.name());
                    failed = true;
                }
            }
        }
        drop(pg);
    }
    if args.keep {
        eprintln!("http_load: kept {}", work.display());
    } else {
        let _ = std::fs::remove_dir_all(&work);
    }

    println!();
    println!(
        "| backend | existing bookings | requests | clients | bookings/s | p50 (ms) | p99 (ms) | errors |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for o in &outcomes {
        let ok = o.requests - o.errors;
        println!(
            "| {} | {} | {} | {} | {:.0} | {} | {} | {} |",
            o.backend.name(),
            thousands(o.existing),
            thousands(o.requests),
            o.concurrency,
            ok as f64 / o.wall.as_secs_f64(),
            ms(o.p50),
            ms(o.p99),
            o.errors
        );
    }
    if let Some(best) = outcomes
        .iter()
        .filter(|o| o.backend == Backend::Sqlite)
        .map(|o| (o.requests - o.errors) as f64 / o.wall.as_secs_f64())
        .reduce(f64::min)
    {
        println!();
        println!(
            "SQLite target ≥ 1,000 bookings/s: {} (slowest SQLite run {best:.0}/s)",
            if best >= 1000.0 { "met" } else { "NOT met" }
        );
    }
    if failed {
        bail!("some runs failed; see above");
    }
    Ok(())
}
