//! The store conformance suite: every storage test runs against SQLite and against a real,
//! throwaway PostgreSQL.

use chrono::{DateTime, TimeDelta, Utc};
use lokal::config::Config;
use lokal::directory::{DirRoom, connect};
use lokal::store::{Store, SyncReport};

use crate::support::postgres::Postgres;
use crate::support::slapd::repo;

async fn seed_rooms() -> Vec<DirRoom> {
    let url = format!("file:{}", repo().join("seed/directory.ldif").display());
    let dir = connect(&url, Config::default().directory.mapping(), None)
        .await
        .unwrap();
    dir.rooms().await.unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// Syncing rooms from the directory: added, unchanged, renamed (same id), retired and
/// restored, never deleted.
async fn room_sync(store: &Store) {
    let mut rooms = seed_rooms().await;
    let report = store
        .sync_rooms(&rooms, at("2027-01-01T06:00:00Z"))
        .await
        .unwrap();
    assert_eq!(
        report,
        SyncReport {
            added: 18,
            ..SyncReport::default()
        }
    );
    let stored = store.rooms(false).await.unwrap();
    assert_eq!(stored.len(), 18);
    let storsalen = stored.iter().find(|r| r.room.name == "Storsalen").unwrap();
    assert_eq!(
        storsalen.room,
        rooms
            .iter()
            .find(|r| r.name == "Storsalen")
            .unwrap()
            .clone()
    );

    let report = store
        .sync_rooms(&rooms, at("2027-01-01T06:05:00Z"))
        .await
        .unwrap();
    assert_eq!(
        report,
        SyncReport {
            unchanged: 18,
            ..SyncReport::default()
        }
    );

    // Galleriet leaves the directory; Lillesalen is renamed (new DN, same entryUUID).
    let galleriet = rooms.iter().position(|r| r.name == "Galleriet").unwrap();
    let gone = rooms.remove(galleriet);
    let lille = rooms.iter_mut().find(|r| r.name == "Lillesalen").unwrap();
    let lille_id = lille.id.clone();
    lille.name = "Kammersalen".into();
    lille.dn = "cn=Kammersalen,ou=Kulturhuset,ou=Buildings,dc=fjordvik,dc=kommune,dc=no".into();
    let later = at("2027-01-01T06:10:00Z");
    let report = store.sync_rooms(&rooms, later).await.unwrap();
    assert_eq!(
        report,
        SyncReport {
            unchanged: 16,
            updated: 1,
            retired: 1,
            ..SyncReport::default()
        }
    );
    let active = store.rooms(false).await.unwrap();
    assert_eq!(active.len(), 17);
    assert_eq!(
        active
            .iter()
            .find(|r| r.room.id == lille_id)
            .unwrap()
            .room
            .name,
        "Kammersalen"
    );
    let all = store.rooms(true).await.unwrap();
    assert_eq!(all.len(), 18, "a retired room is kept");
    let retired = all.iter().find(|r| r.room.id == gone.id).unwrap();
    assert_eq!(retired.retired_at, Some(later));

    // It comes back.
    rooms.push(gone.clone());
    let report = store
        .sync_rooms(&rooms, later + TimeDelta::minutes(5))
        .await
        .unwrap();
    assert_eq!(
        report,
        SyncReport {
            unchanged: 17,
            restored: 1,
            ..SyncReport::default()
        }
    );
    assert_eq!(store.rooms(false).await.unwrap().len(), 18);

    // An empty directory answer retires everything but deletes nothing.
    let report = store
        .sync_rooms(&[], later + TimeDelta::minutes(10))
        .await
        .unwrap();
    assert_eq!(report.retired, 18);
    assert_eq!(store.rooms(true).await.unwrap().len(), 18);
}

#[tokio::test]
async fn sqlite_passes_the_store_suite_and_keeps_its_data_across_reopening() {
    let dir = std::env::temp_dir().join(format!("lokal-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let url = format!("sqlite:{}", dir.join("nested/lokal.db").display());
    {
        let store = Store::open(&url).await.unwrap();
        room_sync(&store).await;
    }
    // Opening again runs no migration twice and finds the rooms.
    let store = Store::open(&url).await.unwrap();
    assert_eq!(store.rooms(true).await.unwrap().len(), 18);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn postgres_passes_the_same_store_suite() {
    let pg = Postgres::start();
    let store = Store::open(&pg.url).await.unwrap();
    room_sync(&store).await;
    drop(store);
    let store = Store::open(&pg.url).await.unwrap();
    assert_eq!(store.rooms(true).await.unwrap().len(), 18);
}

#[tokio::test]
async fn a_bad_store_url_is_a_clear_error() {
    for url in ["mysql://x", "sqlite:/proc/nope/lokal.db"] {
        match Store::open(url).await {
            Err(e) => assert!(!e.to_string().is_empty()),
            Ok(_) => panic!("{url} should fail"),
        }
    }
    match Store::open("postgres://postgres@127.0.0.1:1/none").await {
        Err(lokal::store::StoreError::Unavailable(_)) => {}
        Err(other) => panic!("expected unavailable, got {other}"),
        Ok(_) => panic!("nothing listens on port 1"),
    }
}

#[test]
fn lokal_sync_directory_copies_the_rooms_into_the_store() {
    let dir = std::env::temp_dir().join(format!("lokal-sync-cli-{}", std::process::id()));
    let url = format!("sqlite:{}", dir.join("lokal.db").display());
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_lokal"))
            .current_dir(repo())
            .arg("sync-directory")
            .env("LOKAL_STORE__URL", &url)
            .output()
            .unwrap()
    };
    let first = run();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&first.stdout),
        "18 rooms in the directory: 18 added, 0 updated, 0 unchanged, 0 restored, 0 retired\n"
    );
    let second = run();
    assert!(String::from_utf8_lossy(&second.stdout).contains("18 unchanged"));
    std::fs::remove_dir_all(&dir).ok();
}

fn new_booking(id: &str, room: &str, start: &str, end: &str) -> lokal::store::NewBooking {
    use lokal::scheduling::{BookingStatus, Interval};
    let span = Interval::new(at(start), at(end)).unwrap();
    lokal::store::NewBooking {
        id: id.into(),
        room_id: room.into(),
        requester_id: "resident:r1".into(),
        requester_name: "R".into(),
        purpose: "p".into(),
        attendees: 1,
        local_start: start.into(),
        local_end: end.into(),
        time_zone: "Europe/Oslo".into(),
        recurrence: None,
        on_conflict: "reject".into(),
        status: BookingStatus::Approved,
        hold_until: None,
        reasons: "[]".into(),
        occurrences: vec![lokal::store::NewOccurrence {
            span,
            blocked: span,
            status: Some(BookingStatus::Approved),
        }],
    }
}

fn key<'a>(room: &'a str, start: &str, end: &str) -> lokal::store::CreateKey<'a> {
    lokal::store::CreateKey {
        room_id: room,
        requester_id: "resident:r1",
        idempotency_key: None,
        request_hash: "h",
        window: lokal::scheduling::Interval::new(at(start), at(end)).unwrap(),
        building: None,
        quota_window: None,
    }
}

/// What the decision sees, and what the database itself refuses. Returns whether the
/// database refused an overlap that a (deliberately blind) decision let through.
async fn booking_suite(store: &Store) -> bool {
    use lokal::store::{Created, StoreError};
    store
        .sync_rooms(&seed_rooms().await, at("2027-01-01T06:00:00Z"))
        .await
        .unwrap();
    let room = store.rooms(false).await.unwrap()[0].room.id.clone();
    let now = at("2027-01-02T00:00:00Z");
    let first = store
        .create_booking(
            key(&room, "2027-01-05T17:00:00Z", "2027-01-05T19:00:00Z"),
            now,
            "resident:r1",
            |_| {
                Ok::<_, ()>(new_booking(
                    "b1",
                    &room,
                    "2027-01-05T17:00:00Z",
                    "2027-01-05T19:00:00Z",
                ))
            },
        )
        .await
        .unwrap();
    assert!(
        matches!(first, Created::Inserted(ref b) if b.status == lokal::scheduling::BookingStatus::Approved)
    );

    // The next decision in the same window sees it.
    let mut seen = Vec::new();
    let refused = store
        .create_booking(
            key(&room, "2027-01-05T18:00:00Z", "2027-01-05T20:00:00Z"),
            now,
            "resident:r1",
            |snapshot| {
                seen = snapshot.existing.iter().map(|b| b.id.clone()).collect();
                Err::<lokal::store::NewBooking, _>("conflict")
            },
        )
        .await
        .unwrap();
    assert!(matches!(refused, Created::Refused("conflict")));
    assert_eq!(seen, ["b1"]);

    // A decision that ignores what it saw: only a database constraint can stop it.
    let blind = store
        .create_booking(
            key(&room, "2027-01-05T18:00:00Z", "2027-01-05T20:00:00Z"),
            now,
            "resident:r1",
            |_| {
                Ok::<_, ()>(new_booking(
                    "b2",
                    &room,
                    "2027-01-05T18:00:00Z",
                    "2027-01-05T20:00:00Z",
                ))
            },
        )
        .await;
    let refused_by_database = matches!(blind, Err(StoreError::Overlap));
    if refused_by_database {
        // Nothing of the refused booking was written: no booking row, no audit row.
        assert!(store.booking("b2").await.unwrap().is_none());
        assert!(store.history("b2").await.unwrap().is_empty());
    }

    // A touching booking is no conflict, even for the constraint.
    let touching = store
        .create_booking(
            key(&room, "2027-01-05T19:00:00Z", "2027-01-05T20:00:00Z"),
            now,
            "resident:r1",
            |_| {
                Ok::<_, ()>(new_booking(
                    "b3",
                    &room,
                    "2027-01-05T19:00:00Z",
                    "2027-01-05T20:00:00Z",
                ))
            },
        )
        .await
        .unwrap();
    assert!(matches!(touching, Created::Inserted(_)));

    // Every change is in the audit log, with an outbox row.
    assert_eq!(store.history("b1").await.unwrap().len(), 1);
    let outbox = store.undelivered().await.unwrap();
    assert!(
        outbox
            .iter()
            .any(|(kind, id, _)| kind == "booking.approved" && id.as_deref() == Some("b1"))
    );
    refused_by_database
}

#[tokio::test]
async fn sqlite_passes_the_booking_suite() {
    let dir = crate::support::app::TempDir::new("store-bookings");
    let store = Store::open(&format!("sqlite:{}", dir.0.join("l.db").display()))
        .await
        .unwrap();
    // SQLite has no exclusion constraint: its guarantee is that writers are serialized, so
    // every decision sees the one before it (checked above and by the concurrency tests).
    assert!(!booking_suite(&store).await);
}

#[tokio::test]
async fn postgres_passes_the_booking_suite_and_its_constraint_refuses_any_overlap() {
    let pg = Postgres::start();
    let store = Store::open(&pg.url).await.unwrap();
    assert!(
        booking_suite(&store).await,
        "the EXCLUDE constraint must refuse the overlap"
    );
}

#[tokio::test]
async fn the_audit_log_cannot_be_changed_on_either_backend() {
    let dir = crate::support::app::TempDir::new("audit");
    let sqlite_url = format!("sqlite:{}", dir.0.join("l.db").display());
    let pg = Postgres::start();
    for url in [sqlite_url.as_str(), pg.url.as_str()] {
        let store = Store::open(url).await.unwrap();
        booking_suite(&store).await;
        drop(store);
        for sql in [
            "UPDATE audit SET actor = 'someone else'",
            "DELETE FROM audit",
        ] {
            let result = if url.starts_with("sqlite:") {
                let mut c = <sqlx::SqliteConnection as sqlx::Connection>::connect(url)
                    .await
                    .unwrap();
                sqlx::query(sql).execute(&mut c).await.map(|_| ())
            } else {
                let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(url)
                    .await
                    .unwrap();
                sqlx::query(sql).execute(&mut c).await.map(|_| ())
            };
            let message = result.expect_err(sql).to_string();
            assert!(message.contains("append-only"), "{url}: {sql}: {message}");
        }
    }
}

/// An approve and a cancel racing on one pending booking: exactly one wins, and the booking
/// and its dates agree afterwards.
async fn racing_transitions(store: &Store) {
    use lokal::scheduling::BookingStatus;
    store
        .sync_rooms(&seed_rooms().await, at("2027-01-01T06:00:00Z"))
        .await
        .unwrap();
    let room = store.rooms(false).await.unwrap()[1].room.id.clone();
    let now = at("2027-01-02T00:00:00Z");
    for round in 0..20 {
        let id = format!("race-{round}");
        let start = at("2027-02-01T10:00:00Z") + TimeDelta::hours(2 * round);
        let end = start + TimeDelta::hours(1);
        let (s, e) = (start.to_rfc3339(), end.to_rfc3339());
        let mut pending = new_booking(&id, &room, &s, &e);
        pending.status = BookingStatus::Pending;
        pending.occurrences[0].status = Some(BookingStatus::Pending);
        store
            .create_booking(key(&room, &s, &e), now, "resident:r1", |_| {
                Ok::<_, ()>(pending)
            })
            .await
            .unwrap();
        let (a, b) = tokio::join!(
            store.transition(
                &id,
                &[BookingStatus::Pending],
                BookingStatus::Approved,
                "staff:c",
                None,
                now
            ),
            store.transition(
                &id,
                &[BookingStatus::Pending, BookingStatus::Approved],
                BookingStatus::Cancelled,
                "resident:r1",
                Some("r"),
                now
            ),
        );
        let winners = [a.is_ok(), b.is_ok()].iter().filter(|w| **w).count();
        let booking = store.booking(&id).await.unwrap().unwrap();
        assert!(winners >= 1, "round {round}");
        assert!(
            booking
                .occurrences
                .iter()
                .all(|o| o.status == booking.status),
            "round {round}: booking {} with dates {:?}",
            booking.status,
            booking
                .occurrences
                .iter()
                .map(|o| &o.status)
                .collect::<Vec<_>>()
        );
        // Approve-then-cancel may both succeed in sequence; then the history has both.
        let history = store.history(&id).await.unwrap();
        assert_eq!(history.len(), 1 + winners, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_status_changes_stay_consistent_on_sqlite() {
    let dir = crate::support::app::TempDir::new("race");
    let store = Store::open(&format!("sqlite:{}", dir.0.join("l.db").display()))
        .await
        .unwrap();
    racing_transitions(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_status_changes_stay_consistent_on_postgres() {
    let pg = Postgres::start();
    let store = Store::open(&pg.url).await.unwrap();
    racing_transitions(&store).await;
}

/// The store refuses an occurrence longer than its look-back, and a request whose hold ran
/// out blocks none of its dates, approved ones included.
async fn holds_and_limits(store: &Store) {
    use lokal::scheduling::{BookingStatus, Interval};
    use lokal::store::{Created, StoreError};
    store
        .sync_rooms(&seed_rooms().await, at("2027-01-01T06:00:00Z"))
        .await
        .unwrap();
    let room = store.rooms(false).await.unwrap()[2].room.id.clone();
    let t0 = at("2027-01-02T00:00:00Z");

    let long = store
        .create_booking(
            key(&room, "2027-01-02T00:00:00Z", "2027-01-22T00:00:00Z"),
            t0,
            "resident:r1",
            |_| {
                Ok::<_, ()>(new_booking(
                    "long",
                    &room,
                    "2027-01-02T00:00:00Z",
                    "2027-01-22T00:00:00Z",
                ))
            },
        )
        .await;
    assert!(matches!(long, Err(StoreError::TooLong)), "{long:?}");
    assert!(store.booking("long").await.unwrap().is_none());

    // A pending series: an approved date on 5 January, a pending one on 20 February, held
    // for one hour.
    let mut mixed = new_booking(
        "mixed",
        &room,
        "2027-01-05T10:00:00Z",
        "2027-01-05T11:00:00Z",
    );
    mixed.status = BookingStatus::Pending;
    mixed.hold_until = Some(t0 + TimeDelta::hours(1));
    let later = Interval::new(at("2027-02-20T10:00:00Z"), at("2027-02-20T11:00:00Z")).unwrap();
    mixed.occurrences.push(lokal::store::NewOccurrence {
        span: later,
        blocked: later,
        status: Some(BookingStatus::Pending),
    });
    let made = store
        .create_booking(
            key(&room, "2027-01-05T10:00:00Z", "2027-02-20T11:00:00Z"),
            t0,
            "resident:r1",
            |_| Ok::<_, ()>(mixed),
        )
        .await
        .unwrap();
    assert!(matches!(made, Created::Inserted(_)));
    // Within the hold, the approved date blocks.
    let mut seen = Vec::new();
    store
        .create_booking(
            key(&room, "2027-01-05T10:30:00Z", "2027-01-05T11:30:00Z"),
            t0,
            "resident:r2",
            |s| {
                seen = s.existing.iter().map(|b| b.id.clone()).collect();
                Err::<lokal::store::NewBooking, _>(())
            },
        )
        .await
        .unwrap();
    assert_eq!(seen, ["mixed"]);
    // After it, none of the request's dates blocks any more, nor shows as busy.
    let t2 = t0 + TimeDelta::hours(2);
    let mut seen = vec!["not called".to_owned()];
    store
        .create_booking(
            key(&room, "2027-01-05T10:30:00Z", "2027-01-05T11:30:00Z"),
            t2,
            "resident:r2",
            |s| {
                seen = s.existing.iter().map(|b| b.id.clone()).collect();
                Err::<lokal::store::NewBooking, _>(())
            },
        )
        .await
        .unwrap();
    assert_eq!(seen, Vec::<String>::new());
    let window = Interval::new(at("2027-01-05T00:00:00Z"), at("2027-01-06T00:00:00Z")).unwrap();
    assert_eq!(store.busy(&room, &window, t2).await.unwrap(), []);
}

#[tokio::test]
async fn sqlite_refuses_long_blocks_and_run_out_holds_block_nothing() {
    let dir = crate::support::app::TempDir::new("holds");
    let store = Store::open(&format!("sqlite:{}", dir.0.join("l.db").display()))
        .await
        .unwrap();
    holds_and_limits(&store).await;
}

#[tokio::test]
async fn postgres_refuses_long_blocks_and_run_out_holds_block_nothing() {
    let pg = Postgres::start();
    let store = Store::open(&pg.url).await.unwrap();
    holds_and_limits(&store).await;
}

/// Many creations at once, as a busy evening brings them: some go through, some are refused
/// by their decision, and some are abandoned halfway (a client that hangs up). On SQLite they
/// share commits (the group commit); on both backends, every creation reported as made is
/// there whole, nothing refused or abandoned is half there, and the writer is free afterwards
/// (for this process and, on SQLite, for another process on the same file).
async fn crowded_creations(store: std::sync::Arc<Store>, url: &str) {
    use lokal::store::Created;
    use std::time::Duration;
    const SERIES: i64 = 1200;
    store
        .sync_rooms(&seed_rooms().await, at("2027-01-01T06:00:00Z"))
        .await
        .unwrap();
    let room = store.rooms(false).await.unwrap()[2].room.id.clone();
    let now = at("2027-01-02T00:00:00Z");
    let mut tasks = Vec::new();
    for i in 0..120i64 {
        let (store, room) = (store.clone(), room.clone());
        tasks.push(tokio::spawn(async move {
            let start = at("2027-03-01T00:00:00Z") + TimeDelta::hours(i);
            let (s, e) = (
                start.to_rfc3339(),
                (start + TimeDelta::hours(1)).to_rfc3339(),
            );
            let id = format!("crowd-{i}");
            let mut booking = new_booking(&id, &room, &s, &e);
            if i % 8 == 3 {
                // A long series (written in several statements), far from the others.
                let first = at("2028-01-01T00:00:00Z") + TimeDelta::hours(1000 * i);
                booking.occurrences = (0..SERIES)
                    .map(|j| {
                        let start = first + TimeDelta::hours(j);
                        let span =
                            lokal::scheduling::Interval::new(start, start + TimeDelta::minutes(30))
                                .unwrap();
                        lokal::store::NewOccurrence {
                            span,
                            blocked: span,
                            status: Some(lokal::scheduling::BookingStatus::Approved),
                        }
                    })
                    .collect();
            }
            let (deciding, decided) = tokio::sync::oneshot::channel();
            let create = store.create_booking(key(&room, &s, &e), now, "resident:r1", move |_| {
                let _ = deciding.send(());
                if i % 4 == 1 {
                    Err("refused")
                } else {
                    Ok(booking)
                }
            });
            // Every fourth creation is abandoned once its decision is made, at varying points
            // of its writes.
            let outcome = if i % 4 == 3 {
                let micros = u64::try_from((i * 97) % 1500).unwrap();
                tokio::select! {
                    outcome = create => Some(outcome),
                    () = async {
                        let _ = decided.await;
                        tokio::time::sleep(Duration::from_micros(micros)).await;
                    } => None,
                }
            } else {
                Some(create.await)
            };
            (i, id, outcome)
        }));
    }
    let mut made = 0;
    for task in tasks {
        let (i, id, outcome) = task.await.unwrap();
        let stored = store.booking(&id).await.unwrap();
        let history = store.history(&id).await.unwrap();
        match outcome {
            Some(Ok(Created::Inserted(b))) => {
                made += 1;
                let stored = stored.unwrap_or_else(|| panic!("{id} reported made but missing"));
                assert_eq!(stored.occurrences.len(), 1, "{id}");
                assert_eq!(b, stored, "{id}");
                assert_eq!(history.len(), 1, "{id}");
            }
            Some(Ok(Created::Refused("refused"))) => {
                assert_eq!(i % 4, 1);
                assert!(stored.is_none(), "{id} refused but stored");
                assert!(history.is_empty(), "{id}");
            }
            Some(other) => panic!("{id}: {other:?}"),
            // Abandoned: either all of it is there or none of it.
            None => match stored {
                Some(b) => {
                    let dates = if i % 8 == 3 { SERIES } else { 1 };
                    assert_eq!(b.occurrences.len() as i64, dates, "{id} half written");
                    assert_eq!(history.len(), 1, "{id} half written");
                }
                None => assert!(history.is_empty(), "{id} half written"),
            },
        }
    }
    assert!(
        made >= 60,
        "only {made} of the 60 plain creations were made"
    );
    // The writer is not wedged: one more creation goes through at once.
    let last = tokio::time::timeout(
        Duration::from_secs(10),
        store.create_booking(
            key(&room, "2027-04-01T10:00:00Z", "2027-04-01T11:00:00Z"),
            now,
            "resident:r1",
            |_| {
                Ok::<_, ()>(new_booking(
                    "crowd-last",
                    &room,
                    "2027-04-01T10:00:00Z",
                    "2027-04-01T11:00:00Z",
                ))
            },
        ),
    )
    .await
    .expect("the writer is wedged")
    .unwrap();
    assert!(matches!(last, Created::Inserted(_)));
    // And no transaction is left open: another process can write (SQLite waits at most its
    // busy timeout for the lock, then says busy).
    let other = Store::open(url).await.unwrap();
    let report = other
        .sync_rooms(&seed_rooms().await, at("2027-01-01T07:00:00Z"))
        .await
        .unwrap();
    assert_eq!(report.unchanged, 18);
    assert_eq!(other.overlapping_pairs().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crowded_creations_are_whole_or_absent_on_sqlite() {
    let dir = crate::support::app::TempDir::new("crowd");
    let url = format!("sqlite:{}", dir.0.join("l.db").display());
    let store = std::sync::Arc::new(Store::open(&url).await.unwrap());
    crowded_creations(store, &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crowded_creations_are_whole_or_absent_on_postgres() {
    let pg = Postgres::start();
    let store = std::sync::Arc::new(Store::open(&pg.url).await.unwrap());
    crowded_creations(store, &pg.url).await;
}

// ---- Group commit: liveness and honesty under cancellation and refusals ----

async fn review_store(
    what: &str,
) -> (
    crate::support::app::TempDir,
    String,
    std::sync::Arc<Store>,
    String,
) {
    let dir = crate::support::app::TempDir::new(what);
    let url = format!("sqlite:{}", dir.0.join("l.db").display());
    let store = std::sync::Arc::new(Store::open(&url).await.unwrap());
    store
        .sync_rooms(&seed_rooms().await, at("2027-01-01T06:00:00Z"))
        .await
        .unwrap();
    let room = store.rooms(false).await.unwrap()[2].room.id.clone();
    (dir, url, store, room)
}

/// A lone creation whose client hangs up right after its decision leaves the batch open
/// (BEGIN IMMEDIATE, no members, nobody queued): the process, idle, keeps SQLite's write
/// lock until some later writer of its own comes along, and another process cannot write.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_abandoned_lone_creation_does_not_keep_the_write_lock() {
    let (_dir, url, store, room) = review_store("review-idle").await;
    let now = at("2027-01-02T00:00:00Z");
    let (s, e) = ("2027-03-01T10:00:00Z", "2027-03-01T11:00:00Z");
    let (deciding, decided) = tokio::sync::oneshot::channel();
    let booking = new_booking("lone", &room, s, e);
    let create = store.create_booking(key(&room, s, e), now, "resident:r1", move |_| {
        let _ = deciding.send(());
        Ok::<_, ()>(booking)
    });
    tokio::select! {
        _ = create => panic!("expected to abandon it"),
        _ = decided => {}
    }
    // No waiting here: the other process's busy timeout (5 s) is the wait.
    // The process is idle now. Another process (as `lokal sync-directory` would be):
    let other = Store::open(&url).await.unwrap();
    let t0 = std::time::Instant::now();
    let r = other
        .sync_rooms(&seed_rooms().await, at("2027-01-01T07:00:00Z"))
        .await;
    assert!(
        r.is_ok(),
        "another process cannot write while this one is idle: {:?} after {:?}",
        r.err(),
        t0.elapsed()
    );
}

/// A made booking waits for its commit for as long as refused creations keep queueing:
/// refusals never become members, so MAX_BATCH never fills, and `waiting` never falls to 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stream_of_refusals_does_not_hold_up_a_made_booking() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};
    let (_dir, _url, store, room) = review_store("review-starve").await;
    let now = at("2027-01-02T00:00:00Z");
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    // One permit per refusal: the made booking is asked for once the refusals are flowing.
    let refused = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
    let mut refusers = Vec::new();
    for _ in 0..6 {
        let (store, room, stop, refused) =
            (store.clone(), room.clone(), stop.clone(), refused.clone());
        refusers.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let r = store
                    .create_booking(
                        key(&room, "2027-03-01T10:00:00Z", "2027-03-01T11:00:00Z"),
                        now,
                        "resident:r1",
                        |_| Err::<lokal::store::NewBooking, _>("taken"),
                    )
                    .await;
                assert!(matches!(r, Ok(lokal::store::Created::Refused("taken"))));
                refused.add_permits(1);
            }
        }));
    }
    drop(refused.acquire_many(12).await.unwrap());
    let (s, e) = ("2027-03-02T10:00:00Z", "2027-03-02T11:00:00Z");
    let t0 = Instant::now();
    // The refusals go on until it is answered: held up by them, it would never be.
    let made = tokio::time::timeout(
        Duration::from_secs(1),
        store.create_booking(key(&room, s, e), now, "resident:r1", |_| {
            Ok::<_, ()>(new_booking("made", &room, s, e))
        }),
    )
    .await;
    let waited = t0.elapsed();
    stop.store(true, Ordering::SeqCst);
    for r in refusers {
        r.await.unwrap();
    }
    let made = made.unwrap_or_else(|_| {
        panic!("the made booking was not answered within {waited:?} while refusals went on")
    });
    assert!(matches!(made, Ok(lokal::store::Created::Inserted(_))));
}

/// The creation that flushes the batch is dropped while the commit (in its own task) runs:
/// the batch is committed, but the other members are told "the write batch was dropped".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_committed_booking_is_never_reported_as_failed() {
    use std::future::Future;
    use std::task::Poll;
    use std::time::Duration;
    let (_dir, _url, store, room) = review_store("review-flush").await;
    let now = at("2027-01-02T00:00:00Z");
    let mut wrong = Vec::new();
    for k in 1..=40i64 {
        let day = at("2027-03-01T10:00:00Z") + TimeDelta::days(k);
        let (a_s, a_e) = (day.to_rfc3339(), (day + TimeDelta::hours(1)).to_rfc3339());
        let b_day = day + TimeDelta::hours(3);
        let (b_s, b_e) = (
            b_day.to_rfc3339(),
            (b_day + TimeDelta::hours(1)).to_rfc3339(),
        );
        let a_id = format!("a-{k}");
        // A decides slowly, so that B is queued (counted as waiting) when A's writes are in:
        // A then waits for B to commit for both.
        let (deciding, decided) = tokio::sync::oneshot::channel();
        let a = {
            let (store, room, a_id) = (store.clone(), room.clone(), a_id.clone());
            tokio::spawn(async move {
                let booking = new_booking(&a_id, &room, &a_s, &a_e);
                store
                    .create_booking(key(&room, &a_s, &a_e), now, "resident:r1", move |_| {
                        let _ = deciding.send(());
                        // A slow decision, holding the writer's turn while B queues.
                        std::thread::sleep(Duration::from_millis(30));
                        Ok::<_, ()>(booking)
                    })
                    .await
            })
        };
        // B is asked for once A holds the writer's turn.
        decided.await.unwrap();
        // B: its client hangs up after its k-th wait.
        let b_booking = new_booking(&format!("b-{k}"), &room, &b_s, &b_e);
        let mut b = Box::pin(store.create_booking(
            key(&room, &b_s, &b_e),
            now,
            "resident:r1",
            move |_| Ok::<_, ()>(b_booking),
        ));
        let mut pendings = 0;
        std::future::poll_fn(|cx| match b.as_mut().poll(cx) {
            Poll::Ready(_) => Poll::Ready(()),
            Poll::Pending => {
                pendings += 1;
                if pendings >= k {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            }
        })
        .await;
        drop(b);
        let a_out = a.await.unwrap();
        // A write of our own waits for SQLite's write lock, so any commit still in flight
        // (B's, in its own task) has ended when it returns.
        store.expire_holds(now).await.unwrap();
        let stored = store.booking(&a_id).await.unwrap();
        if let (Err(e), Some(_)) = (&a_out, &stored) {
            wrong.push(format!("{a_id}: told {e} but it is committed"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// Web sessions: found by their token's hash while live, gone when expired or ended, and
/// swept by the expiry job.
async fn web_sessions(store: &Store) {
    use lokal::store::SessionRecord;
    let t0 = at("2027-01-04T09:00:00Z");
    let session = |hash: &str, expires: &str| SessionRecord {
        token_hash: hash.to_owned(),
        user_id: "resident:1".into(),
        principal: r#"{"Resident":{"id":"1","email":"a@b.no","name":"A"}}"#.into(),
        csrf: format!("csrf-{hash}"),
        created_at: t0,
        seen_at: t0,
        expires_at: at(expires),
    };
    store
        .add_session(&session("h1", "2027-01-05T09:00:00Z"))
        .await
        .unwrap();
    store
        .add_session(&session("h2", "2027-01-04T10:00:00Z"))
        .await
        .unwrap();
    let found = store.session("h1", t0).await.unwrap().unwrap();
    assert_eq!(found, session("h1", "2027-01-05T09:00:00Z"));
    assert_eq!(store.session("nope", t0).await.unwrap(), None);
    // Expired at its expiry instant, not a second later.
    let t1 = at("2027-01-04T10:00:00Z");
    assert_eq!(store.session("h2", t1).await.unwrap(), None);
    // A touch moves the expiry.
    store
        .touch_session("h1", t1, at("2027-01-06T09:00:00Z"))
        .await
        .unwrap();
    let t2 = at("2027-01-05T12:00:00Z");
    assert_eq!(
        store.session("h1", t2).await.unwrap().map(|s| s.seen_at),
        Some(t1)
    );
    // The sweep removes only the expired one; logout removes the other.
    assert_eq!(store.delete_expired_sessions(t2).await.unwrap(), 1);
    assert!(store.session("h1", t2).await.unwrap().is_some());
    store.delete_session("h1").await.unwrap();
    assert_eq!(store.session("h1", t2).await.unwrap(), None);
}

#[tokio::test]
async fn sqlite_keeps_web_sessions() {
    let dir = crate::support::app::TempDir::new("sessions");
    let store = Store::open(&format!("sqlite:{}", dir.0.join("l.db").display()))
        .await
        .unwrap();
    web_sessions(&store).await;
}

#[tokio::test]
async fn postgres_keeps_web_sessions() {
    let pg = Postgres::start();
    let store = Store::open(&pg.url).await.unwrap();
    web_sessions(&store).await;
}
