//! The mail backlog under a stream of bookings (issue 15): bookings arrive over HTTP at a set
//! rate for a set time, each approved at once and so mailed a receipt (with its iMIP
//! invitation) by the notification worker to a real SMTP server on loopback. Records the
//! bookings/s achieved, the backlog over time (outbox rows not fanned out, deliveries pending,
//! mails received) and the time from the last booking until the last mail is received. A
//! script, not a timed test: it prints Markdown for docs/performance.md (target: at 1,000
//! bookings/s for 60 s, the backlog drains within 60 s of the last booking).
//!
//! ```sh
//! cargo bench --bench mail_backlog
//! cargo bench --bench mail_backlog -- --rate 1000 --seconds 60 --clients 64 --parallel 16 \
//!     --backends sqlite,postgres --transport smtp
//! ```
//!
//! For each backend it makes a fresh store (a SQLite file in a temp folder, or a database in a
//! throwaway PostgreSQL cluster started here as the tests start theirs, `fsync = off`), builds
//! the server in-process on the seed directory with a bench policy file (every room open around
//! the clock, booked directly by anybody), starts the notification worker exactly as
//! `lokal serve` does (default poll interval, `notify.parallel` from `--parallel`), registers
//! one resident, and then sends one booking every 1/rate seconds from up to `--clients`
//! connections (a client that falls behind the schedule sends at once; the achieved rate is
//! reported). Every request asks for its own free UTC hour, so each should be 201 approved.
//!
//! The SMTP server is a small one in this script (`Sink`): it speaks enough SMTP for lettre
//! (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), reads each message whole, counts messages and
//! connections, and keeps nothing. `--transport file` writes `.eml` files instead (one per mail,
//! into the temp folder), to show that the file transport keeps up too.

use std::net::TcpListener as StdTcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use chrono::{DurationRound as _, TimeDelta};
use lokal::clock::{Clock as _, SystemClock};
use lokal::config::Config;
use lokal::notify::mail::{MailTransport, SmtpTls};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};

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
    rate: usize,
    seconds: usize,
    clients: usize,
    parallel: usize,
    backends: Vec<Backend>,
    file: bool,
    drain_limit: u64,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        rate: 1000,
        seconds: 60,
        clients: 64,
        parallel: 16,
        backends: vec![Backend::Sqlite],
        file: false,
        drain_limit: 600,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        if arg == "--bench" {
            continue;
        }
        let (key, value) = match arg.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => {
                let v = it.next().ok_or_else(|| anyhow!("{arg} needs a value"))?;
                (arg.clone(), v)
            }
        };
        let count = |v: &str| -> anyhow::Result<usize> {
            v.replace('_', "")
                .parse()
                .with_context(|| format!("{key}: {v:?} is not a count"))
        };
        match key.as_str() {
            "--rate" => args.rate = count(&value)?,
            "--seconds" => args.seconds = count(&value)?,
            "--clients" => args.clients = count(&value)?,
            "--parallel" => args.parallel = count(&value)?,
            "--drain-limit" => args.drain_limit = count(&value)? as u64,
            "--transport" => {
                args.file = match value.as_str() {
                    "smtp" => false,
                    "file" => true,
                    other => bail!("--transport: smtp or file, not {other:?}"),
                }
            }
            "--backends" => {
                args.backends = value
                    .split(',')
                    .map(|b| match b.trim() {
                        "sqlite" => Ok(Backend::Sqlite),
                        "postgres" => Ok(Backend::Postgres),
                        other => Err(anyhow!("--backends: sqlite or postgres, not {other:?}")),
                    })
                    .collect::<anyhow::Result<_>>()?
            }
            other => bail!(
                "unknown option {other}; see the header of benches/mail_backlog.rs for the options"
            ),
        }
    }
    if args.rate == 0 || args.seconds == 0 || args.clients == 0 {
        bail!("--rate, --seconds and --clients must be at least 1");
    }
    Ok(args)
}

// ---------------------------------------------------------------------------------------------
// The SMTP sink.

#[derive(Default)]
struct Sink {
    messages: AtomicUsize,
    connections: AtomicUsize,
}

impl Sink {
    async fn start() -> anyhow::Result<(Arc<Sink>, u16)> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let sink = Arc::new(Sink::default());
        let s = sink.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                s.connections.fetch_add(1, Ordering::Relaxed);
                let s = s.clone();
                tokio::spawn(async move {
                    let _ = s.session(socket).await;
                });
            }
        });
        Ok((sink, port))
    }

    async fn session(&self, socket: tokio::net::TcpStream) -> std::io::Result<()> {
        let (read, mut write) = socket.into_split();
        let mut read = BufReader::new(read);
        write.write_all(b"220 sink.bench ESMTP\r\n").await?;
        let mut line = Vec::new();
        loop {
            line.clear();
            if read.read_until(b'\n', &mut line).await? == 0 {
                return Ok(());
            }
            let verb = line
                .get(..4)
                .map(|v| v.to_ascii_uppercase())
                .unwrap_or_default();
            match &verb[..] {
                b"EHLO" => {
                    write
                        .write_all(b"250-sink.bench\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
                        .await?
                }
                b"HELO" | b"MAIL" | b"RCPT" | b"RSET" | b"NOOP" => {
                    write.write_all(b"250 OK\r\n").await?
                }
                b"DATA" => {
                    write.write_all(b"354 go on\r\n").await?;
                    loop {
                        line.clear();
                        if read.read_until(b'\n', &mut line).await? == 0 {
                            return Ok(());
                        }
                        if line == b".\r\n" || line == b".\n" {
                            break;
                        }
                    }
                    self.messages.fetch_add(1, Ordering::Relaxed);
                    write.write_all(b"250 2.0.0 Saved\r\n").await?;
                }
                b"QUIT" => {
                    write.write_all(b"221 bye\r\n").await?;
                    return Ok(());
                }
                _ => write.write_all(b"502 not here\r\n").await?,
            }
        }
    }
}

/// Mails in `dir` (the file transport's `.eml` files).
fn files_in(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .count()
        })
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// A throwaway PostgreSQL cluster (as benches/http_load.rs and the tests start theirs).

struct Postgres {
    dir: PathBuf,
    bin: PathBuf,
    url: String,
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
        let dir = std::env::temp_dir().join(format!("lokal-bench-mail-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        if is_root()
            && !Command::new("chown")
                .arg("postgres:postgres")
                .arg(&dir)
                .status()
                .is_ok_and(|s| s.success())
        {
            bail!("chown postgres {} failed", dir.display());
        }
        let data = dir.join("data").display().to_string();
        let out = pg_command(&bin.join("initdb"))
            .args(["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"])
            .output()
            .context("running initdb")?;
        if !out.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let d = dir.display().to_string();
        for _ in 0..5 {
            let port = StdTcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
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
                    url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
                });
            }
        }
        bail!("PostgreSQL did not start; see {}/log", dir.display())
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
// One run.

/// One line of the backlog's timeline.
struct Sample {
    at: f64,
    booked: usize,
    unfanned: i64,
    pending: i64,
    mailed: usize,
    rss_mb: f64,
}

struct Outcome {
    backend: Backend,
    booked: usize,
    errors: usize,
    booking_secs: f64,
    mailed: usize,
    drain_secs: Option<f64>,
    connections: usize,
    peak_backlog: i64,
    peak_rss_mb: f64,
    timeline: Vec<Sample>,
}

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|l| l.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn run_one(backend: Backend, url: &str, work: &Path, args: &Args) -> anyhow::Result<Outcome> {
    let (sink, port) = Sink::start().await?;
    let policies = work.join("bench-policies.toml");
    std::fs::write(&policies, POLICIES)?;
    let mail_dir = work.join(format!("mail-{}", backend.name()));
    let mut config = Config::default();
    config.store.url = url.to_owned();
    config.directory.url = "file:seed/directory.ldif".into();
    config.server.demo_data = false;
    config.scheduling.policies = policies;
    config.scheduling.calendars = work.to_path_buf();
    config.notify.parallel = args.parallel;
    config.notify.mail_clerks = false;
    config.notify.mail.from = "Lokal <booking@bench.example>".into();
    if args.file {
        config.notify.mail.transport = MailTransport::File;
        config.notify.mail.file_dir = mail_dir.clone();
    } else {
        config.notify.mail.transport = MailTransport::Smtp;
        config.notify.mail.smtp.host = "127.0.0.1".into();
        config.notify.mail.smtp.port = port;
        config.notify.mail.smtp.tls = SmtpTls::None;
    }
    let mailed = {
        let (sink, dir, file) = (sink.clone(), mail_dir.clone(), args.file);
        move || {
            if file {
                files_in(&dir)
            } else {
                sink.messages.load(Ordering::Relaxed)
            }
        }
    };

    let state = lokal::startup::build_state(&config, Arc::new(SystemClock)).await?;
    if !lokal::startup::sync_rooms(&state).await {
        bail!("the rooms could not be synced from seed/directory.ldif");
    }
    let store = lokal::startup::store_of(&state).clone();
    let worker = lokal::notify::Notifier::new(&state, &config.notify, "http://127.0.0.1")?.spawn();
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
        .pool_max_idle_per_host(args.clients)
        .timeout(Duration::from_secs(120))
        .build()?;

    let list: serde_json::Value = client
        .get(format!("{base}/api/v1/rooms"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let rooms: Vec<String> = list["rooms"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["bookable"] == serde_json::Value::Bool(true))
        .filter_map(|r| r["id"].as_str().map(str::to_owned))
        .collect();
    if rooms.is_empty() {
        bail!("no bookable rooms");
    }
    let (email, password, name) = RESIDENT;
    let registered = client
        .post(format!("{base}/api/v1/residents"))
        .json(&serde_json::json!({"email": email, "password": password, "name": name}))
        .send()
        .await?;
    if registered.status() != reqwest::StatusCode::CREATED {
        bail!("registering the resident: {}", registered.status());
    }
    // One authenticated call fills the credential cache (argon2 once, not per request).
    client
        .get(format!("{base}/api/v1/bookings?mine=true"))
        .basic_auth(email, Some(password))
        .send()
        .await?
        .error_for_status()?;

    // Each booking its own UTC hour: room by room, then hour by hour, from the day after
    // tomorrow (no opening hours in the bench policies, and UTC hours have no DST gaps).
    let total = args.rate * args.seconds;
    let first = (SystemClock.now() + TimeDelta::days(2)).duration_trunc(TimeDelta::days(1))?;
    let bodies: Arc<Vec<String>> = Arc::new(
        (0..total)
            .map(|i| {
                let start = first + TimeDelta::hours((i / rooms.len()) as i64);
                serde_json::json!({
                    "room_id": rooms[i % rooms.len()],
                    "start": start.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                    "end": (start + TimeDelta::hours(1)).format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                    "purpose": "Mail bench",
                    "attendees": 1,
                })
                .to_string()
            })
            .collect(),
    );

    let booked = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..args.clients {
        let (client, bodies, next) = (client.clone(), bodies.clone(), next.clone());
        let (booked, errors) = (booked.clone(), errors.clone());
        let url = format!("{base}/api/v1/bookings");
        let rate = args.rate as f64;
        clients.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                // Booking number i is due i/rate seconds after the start.
                let due = started + Duration::from_secs_f64(i as f64 / rate);
                tokio::time::sleep_until(due.into()).await;
                let answer = client
                    .post(&url)
                    .basic_auth(RESIDENT.0, Some(RESIDENT.1))
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                match answer {
                    Ok(r) if r.status() == reqwest::StatusCode::CREATED => {
                        booked.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(r) => {
                        if errors.fetch_add(1, Ordering::Relaxed) < 3 {
                            let status = r.status();
                            eprintln!(
                                "booking {i}: {status} {}",
                                r.text().await.unwrap_or_default()
                            );
                        }
                    }
                    Err(e) => {
                        if errors.fetch_add(1, Ordering::Relaxed) < 3 {
                            eprintln!("booking {i}: {e}");
                        }
                    }
                }
            }
        }));
    }

    // The sampler: every second until the backlog is gone (or the drain limit passes).
    let mut timeline = Vec::new();
    let mut booking_secs = None;
    let mut drained_at = None;
    let mut peak_backlog = 0;
    let mut peak_rss_mb: f64 = 0.0;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let at = started.elapsed().as_secs_f64();
        let (unfanned, pending) = store.notification_backlog().await?;
        let sample = Sample {
            at,
            booked: booked.load(Ordering::Relaxed),
            unfanned,
            pending,
            mailed: mailed(),
            rss_mb: rss_mb(),
        };
        peak_backlog = peak_backlog.max(unfanned + pending);
        peak_rss_mb = peak_rss_mb.max(sample.rss_mb);
        let all_sent = booking_secs.is_none() && clients.iter().all(|c| c.is_finished());
        if all_sent {
            booking_secs = Some(at);
        }
        let done = booking_secs.is_some() && sample.mailed >= sample.booked;
        eprintln!(
            "{:6.1}s  booked {:>6}  outbox {:>6}  pending {:>6}  mailed {:>6}  rss {:>6.1} MB",
            at, sample.booked, unfanned, pending, sample.mailed, sample.rss_mb
        );
        timeline.push(sample);
        if done {
            drained_at = Some(at);
            break;
        }
        if let Some(b) = booking_secs
            && at - b > args.drain_limit as f64
        {
            break;
        }
    }
    // The last booking's answer came at most a second before `booking_secs`; the drain is
    // timed from the sample that first saw every client done, so it is rounded up by up to 1 s.
    let booking_secs = booking_secs.unwrap_or_default();
    let mailed_now = mailed();
    worker.stop().await;
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(30), server).await;
    Ok(Outcome {
        backend,
        booked: booked.load(Ordering::Relaxed),
        errors: errors.load(Ordering::Relaxed),
        booking_secs,
        mailed: mailed_now,
        drain_secs: drained_at.map(|d| d - booking_secs),
        connections: sink.connections.load(Ordering::Relaxed),
        peak_backlog,
        peak_rss_mb,
        timeline,
    })
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
    format!("{cores} cores (nproc), {model}")
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let shown: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let command = if shown.is_empty() {
        "cargo bench --bench mail_backlog".to_owned()
    } else {
        format!("cargo bench --bench mail_backlog -- {}", shown.join(" "))
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let work = std::env::temp_dir().join(format!("lokal-bench-mail-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    println!("machine: {}", machine());
    println!("command: {command}");
    println!(
        "load: {} bookings/s asked for {} s from up to {} clients; notify.parallel = {}; mail by {}",
        args.rate,
        args.seconds,
        args.clients,
        args.parallel,
        if args.file {
            "file"
        } else {
            "SMTP (sink in this script)"
        }
    );
    let mut outcomes = Vec::new();
    for &backend in &args.backends {
        let pg = match backend {
            Backend::Postgres => Some(Postgres::start()?),
            Backend::Sqlite => None,
        };
        let url = match &pg {
            Some(pg) => pg.url.clone(),
            None => format!("sqlite:{}", work.join("lokal.db").display()),
        };
        let outcome = runtime.block_on(run_one(backend, &url, &work, &args))?;
        drop(pg);
        outcomes.push(outcome);
    }
    println!();
    println!(
        "| backend | bookings | errors | bookings/s | mails | SMTP connections | peak backlog | drained after the last booking | peak RSS (MB) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for o in &outcomes {
        println!(
            "| {} | {} | {} | {:.0} | {} | {} | {} | {} | {:.0} |",
            o.backend.name(),
            o.booked,
            o.errors,
            o.booked as f64 / o.booking_secs.max(0.001),
            o.mailed,
            if args.file {
                "(file)".to_owned()
            } else {
                o.connections.to_string()
            },
            o.peak_backlog,
            o.drain_secs.map_or_else(
                || "not within the limit".to_owned(),
                |d| format!("{d:.0} s")
            ),
            o.peak_rss_mb,
        );
    }
    for o in &outcomes {
        println!();
        println!("{}: backlog every 10 s", o.backend.name());
        println!();
        println!(
            "| t (s) | booked | outbox rows not fanned out | deliveries pending | mails received | RSS (MB) |"
        );
        println!("|---:|---:|---:|---:|---:|---:|");
        for (i, s) in o.timeline.iter().enumerate() {
            if i % 10 == 0 || i + 1 == o.timeline.len() {
                println!(
                    "| {:.0} | {} | {} | {} | {} | {:.0} |",
                    s.at, s.booked, s.unfanned, s.pending, s.mailed, s.rss_mb
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&work);
    if outcomes.iter().any(|o| o.drain_secs.is_none()) {
        bail!("the backlog did not drain within --drain-limit seconds");
    }
    Ok(())
}
