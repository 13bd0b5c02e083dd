//! CalDAV reads of one room calendar holding 2,000 and 20,000 bookings, through the real
//! router in-process (no socket): a `calendar-query` REPORT for one week with calendar-data,
//! and a `PROPFIND` Depth 1 for every object's getetag and getcontenttype (what an app sends
//! to see what changed when it has no sync token). Each request logs in with HTTP Basic, as apps
//! do; the credential cache makes that cheap after the first.
//!
//! ```sh
//! cargo bench --bench caldav
//! ```
//!
//! With `LOKAL_BENCH_KEEP=1` the temp folder (the SQLite files) stays behind for a look.
//!
//! Storsalen's bookings are seeded with plain SQL (as benches/http_load.rs does), at the same
//! density for both sizes: about four a day, on a grid of one-hour slots, 10% of them weekly
//! series of ten dates on slots of their own, the rest single bookings; all approved, with the
//! hall's 30-minute buffers, occurrence rows and the change numbers of migration 0005. The
//! bookings start 35 weeks before the week queried (the week of the bench clock, 4 January
//! 2027), so that week is equally full at both sizes, and a query that reads only the week
//! should take about as long at 20,000 as at 2,000. After criterion's own report, a Markdown
//! table of the medians and the 20k/2k ratios of this run is printed for docs/performance.md.

use std::collections::HashMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::str::FromStr as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine as _;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone as _, Utc};
use chrono_tz::Tz;
use criterion::{BenchmarkId, Criterion};
use lokal::clock::ManualClock;
use lokal::config::Config;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use tower::ServiceExt as _;

const SIZES: [usize; 2] = [2_000, 20_000];
const ROOM: &str = "Storsalen";
const LOGIN: (&str, &str) = ("lars.haugen", "lars-demo-2027");
/// Rows per multi-row INSERT (20 columns: well under SQLite's bind limit).
const CHUNK: usize = 500;
/// The hall policy's setup and teardown.
const BUFFER: TimeDelta = TimeDelta::minutes(30);
/// Start times of the grid's one-hour slots: four for single bookings, four for series.
const SINGLE_SLOTS: [(u32, u32); 4] = [(8, 0), (9, 30), (11, 0), (12, 30)];
const SERIES_SLOTS: [(u32, u32); 4] = [(14, 0), (15, 30), (17, 0), (18, 30)];
/// Dates in a series.
const SERIES_DATES: i64 = 10;
/// Weeks of bookings before the week queried.
const WEEKS_BEFORE: i64 = 35;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 1, 4, 9, 0, 0)
        .single()
        .unwrap_or_default()
}

/// Monday 4 January 2027, the bench clock's week.
fn queried_monday() -> NaiveDate {
    NaiveDate::from_ymd_opt(2027, 1, 4).unwrap_or_default()
}

struct Seeded {
    id: String,
    local_start: String,
    local_end: String,
    recurrence: Option<&'static str>,
    /// (start, end) of each date, UTC.
    dates: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

fn at(zone: Tz, day: NaiveDate, (h, m): (u32, u32)) -> (NaiveDateTime, DateTime<Utc>) {
    let local = day.and_time(NaiveTime::from_hms_opt(h, m, 0).unwrap_or_default());
    let utc = zone
        .from_local_datetime(&local)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("{local} is not one instant in {zone}"));
    (local, utc)
}

/// `n` bookings of the room: every tenth a weekly series, the others single. Series tile their
/// four slots: in each block of 70 days, slot s holds the seven series starting on the block's
/// first seven days. Singles take about 3.6 of their four slots a day, so both kinds span the
/// same n / 4 days.
fn bookings(n: usize, zone: Tz) -> Vec<Seeded> {
    let first = queried_monday() - TimeDelta::weeks(WEEKS_BEFORE);
    let fmt = |t: NaiveDateTime| t.format("%Y-%m-%dT%H:%M").to_string();
    let (mut singles, mut series) = (0i64, 0i64);
    let mut last_single_day = -1i64;
    let mut slot_in_day = 0usize;
    (0..n)
        .map(|i| {
            let id = uuid::Uuid::new_v4().to_string();
            if i % 10 == 0 {
                let k = series;
                series += 1;
                let (block, within) = (k / 28, k % 28);
                let slot = SERIES_SLOTS[(within % 4) as usize];
                let day = first + TimeDelta::days(block * 70 + within / 4);
                let (local, _) = at(zone, day, slot);
                let dates = (0..SERIES_DATES)
                    .map(|w| {
                        let (_, start) = at(zone, day + TimeDelta::weeks(w), slot);
                        (start, start + TimeDelta::hours(1))
                    })
                    .collect();
                Seeded {
                    id,
                    local_start: fmt(local),
                    local_end: fmt(local + TimeDelta::hours(1)),
                    recurrence: Some("FREQ=WEEKLY;COUNT=10"),
                    dates,
                }
            } else {
                let m = singles;
                singles += 1;
                let day_index = m * 5 / 18;
                if day_index != last_single_day {
                    last_single_day = day_index;
                    slot_in_day = 0;
                }
                let slot = SINGLE_SLOTS[slot_in_day.min(SINGLE_SLOTS.len() - 1)];
                slot_in_day += 1;
                let day = first + TimeDelta::days(day_index);
                let (local, start) = at(zone, day, slot);
                Seeded {
                    id,
                    local_start: fmt(local),
                    local_end: fmt(local + TimeDelta::hours(1)),
                    recurrence: None,
                    dates: vec![(start, start + TimeDelta::hours(1))],
                }
            }
        })
        .collect()
}

/// Inserts the bookings and their occurrences, stamps each with a change number (in insertion
/// order) and the room with the last, as migration 0005's trigger would have.
async fn seed(db: &std::path::Path, room_id: &str, zone: Tz, rows: &[Seeded]) {
    let options = SqliteConnectOptions::from_str(&format!("sqlite:{}", db.display()))
        .unwrap_or_else(|e| panic!("{e}"))
        .busy_timeout(Duration::from_secs(30));
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap_or_else(|e| panic!("opening {}: {e}", db.display()));
    let mut tx = pool.begin().await.unwrap_or_else(|e| panic!("{e}"));
    let stamp = now();
    let mut seq = 0i64;
    for chunk in rows.chunks(CHUNK) {
        let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO bookings (id, room_id, requester_id, requester_name, purpose, attendees, \
             local_start, local_end, time_zone, recurrence, on_conflict, status, status_reason, \
             hold_until, idempotency_key, request_hash, reasons, created_at, updated_at, change_seq) ",
        );
        q.push_values(chunk, |mut b, r| {
            seq += 1;
            b.push_bind(r.id.clone())
                .push_bind(room_id.to_owned())
                .push_bind(format!("resident:seed-{:04}", seq % 1000))
                .push_bind("Seeded Resident")
                .push_bind(format!("Øving {seq}, sal og scene"))
                .push_bind(40_i64)
                .push_bind(r.local_start.clone())
                .push_bind(r.local_end.clone())
                .push_bind(zone.name())
                .push_bind(r.recurrence)
                .push_bind("reject")
                .push_bind("approved")
                .push_bind(None::<String>)
                .push_bind(None::<DateTime<Utc>>)
                .push_bind(None::<String>)
                .push_bind("seeded")
                .push_bind("[]")
                .push_bind(stamp)
                .push_bind(stamp)
                .push_bind(seq);
        });
        q.build()
            .execute(&mut *tx)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let dates: Vec<(&str, i64, DateTime<Utc>, DateTime<Utc>)> = chunk
            .iter()
            .flat_map(|r| {
                r.dates
                    .iter()
                    .enumerate()
                    .map(|(i, (s, e))| (r.id.as_str(), i as i64, *s, *e))
            })
            .collect();
        for part in dates.chunks(CHUNK) {
            let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT INTO occurrences (booking_id, seq, room_id, start_at, end_at, block_start, \
                 block_end, status) ",
            );
            q.push_values(part, |mut b, (id, i, s, e)| {
                b.push_bind(*id)
                    .push_bind(*i)
                    .push_bind(room_id.to_owned())
                    .push_bind(*s)
                    .push_bind(*e)
                    .push_bind(*s - BUFFER)
                    .push_bind(*e + BUFFER)
                    .push_bind("approved");
            });
            q.build()
                .execute(&mut *tx)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
    sqlx::query("UPDATE rooms SET change_seq = $1 WHERE id = $2")
        .bind(seq)
        .bind(room_id)
        .execute(&mut *tx)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    tx.commit().await.unwrap_or_else(|e| panic!("{e}"));
    pool.close().await;
}

/// One size: the server in-process on its own SQLite file, with the room seeded.
struct Setup {
    router: Router,
    calendar: String,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    /// Bookings with a date in the week, and in the calendar.
    in_week: usize,
    total: usize,
    occurrences: usize,
}

async fn setup(n: usize, work: &std::path::Path) -> Setup {
    let db = work.join(format!("caldav-{n}.db"));
    let mut config = Config::default();
    config.store.url = format!("sqlite:{}", db.display());
    config.directory.url = "file:seed/directory.ldif".into();
    config.scheduling.policies = PathBuf::from("seed/policies.toml");
    config.scheduling.calendars = PathBuf::from("calendars");
    config.server.demo_data = false;
    let clock = Arc::new(ManualClock::new(now()));
    let state = lokal::startup::build_state(&config, clock)
        .await
        .unwrap_or_else(|e| panic!("building the state: {e:#}"));
    assert!(
        lokal::startup::sync_rooms(&state).await,
        "the rooms could not be synced from seed/directory.ldif"
    );
    let router = lokal::startup::router(state, config.server.max_body_bytes);

    let (status, body) = send(&router, Request::get("/api/v1/rooms"), String::new()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rooms: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let room = rooms["rooms"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["name"] == ROOM))
        .unwrap_or_else(|| panic!("no room {ROOM} in {body}"));
    let room_id = room["id"].as_str().unwrap_or_default().to_owned();
    let zone: Tz = room["time_zone"]
        .as_str()
        .unwrap_or("Europe/Oslo")
        .parse()
        .unwrap_or(chrono_tz::Europe::Oslo);

    let rows = bookings(n, zone);
    seed(&db, &room_id, zone, &rows).await;
    let (_, from) = at(zone, queried_monday(), (0, 0));
    let (_, to) = at(zone, queried_monday() + TimeDelta::weeks(1), (0, 0));
    let in_week = rows
        .iter()
        .filter(|r| r.dates.iter().any(|(s, e)| *s < to && *e > from))
        .count();
    Setup {
        router,
        calendar: format!("/dav/calendars/rooms/{room_id}/calendar/"),
        from,
        to,
        in_week,
        total: rows.len(),
        occurrences: rows.iter().map(|r| r.dates.len()).sum(),
    }
}

fn authorization() -> String {
    let token =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", LOGIN.0, LOGIN.1));
    format!("Basic {token}")
}

async fn send(
    router: &Router,
    req: axum::http::request::Builder,
    body: String,
) -> (StatusCode, String) {
    let req = req
        .header(header::AUTHORIZATION, authorization())
        .body(Body::from(body))
        .unwrap_or_else(|e| panic!("{e}"));
    let response = router
        .clone()
        .oneshot(req)
        .await
        .unwrap_or_else(|e| match e {});
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn ical_utc(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

fn calendar_query(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:getetag/><C:calendar-data/></D:prop>
  <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
    <C:time-range start="{}" end="{}"/>
  </C:comp-filter></C:comp-filter></C:filter>
</C:calendar-query>"#,
        ical_utc(from),
        ical_utc(to)
    )
}

const PROPFIND: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/><D:getcontenttype/></D:prop></D:propfind>"#;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Op {
    Query,
    Propfind,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Query => "calendar-query, one week, with calendar-data",
            Op::Propfind => "PROPFIND Depth 1 (getetag, getcontenttype)",
        }
    }

    fn request(self, s: &Setup) -> (axum::http::request::Builder, String) {
        match self {
            Op::Query => (
                Request::builder()
                    .method("REPORT")
                    .uri(&s.calendar)
                    .header("Depth", "1")
                    .header(header::CONTENT_TYPE, "application/xml; charset=utf-8"),
                calendar_query(s.from, s.to),
            ),
            Op::Propfind => (
                Request::builder()
                    .method("PROPFIND")
                    .uri(&s.calendar)
                    .header("Depth", "1")
                    .header(header::CONTENT_TYPE, "application/xml; charset=utf-8"),
                PROPFIND.to_owned(),
            ),
        }
    }
}

/// Per-iteration times of every call of the routine; criterion's samples are the last
/// `SAMPLES` calls of each benchmark (the ones before are its warm-up).
type Times = Arc<Mutex<HashMap<(Op, usize), Vec<Duration>>>>;

const SAMPLES: usize = 20;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    match v.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2,
    }
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2}")
    } else {
        format!("{ms:.1}")
    }
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

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let work = std::env::temp_dir().join(format!("lokal-bench-caldav-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap_or_else(|e| panic!("{e}"));

    let mut c = Criterion::default()
        .sample_size(SAMPLES)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .configure_from_args();
    let times: Times = Arc::default();
    let mut sizes = Vec::new();
    let mut group = c.benchmark_group("caldav");
    for n in SIZES {
        let started = Instant::now();
        let s = runtime.block_on(setup(n, &work));
        let seeded = started.elapsed();
        // Check the answers once before timing them.
        for op in [Op::Query, Op::Propfind] {
            // The first request also verifies the password, which the cache then saves the
            // later ones; it is not timed.
            let (req, body) = op.request(&s);
            let (status, text) = runtime.block_on(send(&s.router, req, body));
            assert_eq!(
                status,
                StatusCode::MULTI_STATUS,
                "{}",
                &text[..text.len().min(2000)]
            );
            let objects = text.matches(".ics</").count();
            let expected = match op {
                Op::Query => s.in_week,
                Op::Propfind => s.total,
            };
            assert_eq!(objects, expected, "{:?} at {n}: objects in the answer", op);
            if op == Op::Query {
                assert_eq!(text.matches("BEGIN:VCALENDAR").count(), expected);
            }
            eprintln!(
                "caldav: {n} bookings ({} dates), seeded in {:.1} s: {:?} answers {} objects, {} KiB",
                s.occurrences,
                seeded.as_secs_f64(),
                op,
                objects,
                text.len() / 1024
            );
        }
        for op in [Op::Query, Op::Propfind] {
            let id = match op {
                Op::Query => "calendar-query-week",
                Op::Propfind => "propfind-depth1",
            };
            let times = times.clone();
            group.bench_with_input(BenchmarkId::new(id, n), &n, |b, _| {
                b.iter_custom(|iters| {
                    let elapsed = runtime.block_on(async {
                        let started = Instant::now();
                        for _ in 0..iters {
                            let (req, body) = op.request(&s);
                            let (status, text) = send(&s.router, req, body).await;
                            black_box((status, text.len()));
                        }
                        started.elapsed()
                    });
                    if let Ok(mut t) = times.lock() {
                        t.entry((op, n))
                            .or_default()
                            .push(elapsed / u32::try_from(iters.max(1)).unwrap_or(u32::MAX));
                    }
                    elapsed
                })
            });
        }
        sizes.push((n, s.in_week, s.occurrences));
        drop(s);
    }
    group.finish();
    c.final_summary();
    if std::env::var_os("LOKAL_BENCH_KEEP").is_some() {
        eprintln!("caldav: kept {}", work.display());
    } else {
        let _ = std::fs::remove_dir_all(&work);
    }

    // The table for docs/performance.md: criterion's samples of this run.
    let times = times.lock().map(|t| t.clone()).unwrap_or_default();
    let medians: HashMap<(Op, usize), Duration> = times
        .into_iter()
        .map(|(k, v)| {
            let skip = v.len().saturating_sub(SAMPLES);
            (k, median(v[skip..].to_vec()))
        })
        .collect();
    println!();
    println!("machine: {}", machine());
    println!("command: cargo bench --bench caldav");
    println!();
    print!("| request |");
    for (n, in_week, dates) in &sizes {
        print!(" {n} bookings ({dates} dates; {in_week} in the week): median (ms) |");
    }
    println!(" 20k / 2k |");
    println!("|---|{}---:|", "---:|".repeat(sizes.len()));
    for op in [Op::Query, Op::Propfind] {
        print!("| {} |", op.name());
        for (n, _, _) in &sizes {
            match medians.get(&(op, *n)) {
                Some(m) => print!(" {} |", ms(*m)),
                None => print!(" |"),
            }
        }
        let ratio = match (
            medians.get(&(op, SIZES[0])),
            medians.get(&(op, SIZES[SIZES.len() - 1])),
        ) {
            (Some(small), Some(big)) if !small.is_zero() => {
                format!("{:.2}", big.as_secs_f64() / small.as_secs_f64())
            }
            _ => String::new(),
        };
        println!(" {ratio} |");
    }
}
