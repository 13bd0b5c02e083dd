//! Group commit for SQLite's one writer.
//!
//! SQLite has one writer at a time, and every round trip to sqlx's SQLite connection thread
//! costs 150–200 µs on a loaded machine; a commit costs more. So booking creations that queue
//! up behind each other share one transaction: each creation runs inside a savepoint of the
//! open batch (its decision sees the earlier ones, as they are in the same transaction), and
//! the last creation in the queue, or the one that fills the batch, commits for all. Nobody is
//! answered before the commit that holds their booking, so a confirmed booking is durable as
//! before; a failed commit fails every member of the batch, and nothing of it stays.
//!
//! Any other writer (a transition, a closure, a room sync) commits the open batch before its
//! own transaction, so the writes still happen in the order they queued.
//!
//! Cancellation and liveness: a creation whose future is dropped halfway leaves its savepoint
//! behind; the next writer rolls back to it before going on. Each batch has a watchdog task that
//! ends it when nobody is queued any more (whatever happened to the creation that should have
//! committed: dropped, refused, panicked) or when it is older than [`MAX_AGE`] (a stream of
//! refused requests cannot hold up a made booking), so an idle process never keeps SQLite's
//! write lock. The commit and the answer to the members happen in a task of their own, so a
//! flusher dropped mid-commit cannot leave them without the true outcome.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sqlx::sqlite::{SqliteConnection, SqlitePool};
use sqlx::{Sqlite, Transaction};
use tokio::sync::{Mutex, MutexGuard, watch};

use super::StoreError;

/// The savepoint around one creation inside a batch.
pub(super) const SAVEPOINT: &str = "lokal_create";

/// At most this many creations share one commit, so the first of them waits for at most
/// this many others.
const MAX_BATCH: usize = 32;

/// A batch is committed once it is this old, even while creations keep queueing.
const MAX_AGE: Duration = Duration::from_millis(50);

/// How often a batch's watchdog looks at it.
const WATCH_TICK: Duration = Duration::from_millis(10);

type Outcome = Option<Result<(), String>>;

/// SQLite's writer: queues writers in order, and batches creations.
pub(super) struct Writer {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    /// Creations waiting for their turn: while there are some, a batch stays open for them.
    waiting: AtomicUsize,
}

#[derive(Default)]
pub(super) struct State {
    open: Option<Batch>,
    next_id: u64,
}

struct Batch {
    id: u64,
    opened: Instant,
    tx: Transaction<'static, Sqlite>,
    /// Creations whose writes are in and wait for the commit.
    members: usize,
    /// A creation is between its savepoint and releasing it (or was dropped there).
    dirty: bool,
    done: watch::Sender<Outcome>,
}

/// Counts a creation as waiting until it has its turn (or is dropped before).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Waiting(counter)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Writer {
    pub(super) fn new() -> Self {
        Writer {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                waiting: AtomicUsize::new(0),
            }),
        }
    }

    /// The turn of a writer with a transaction of its own: the open batch is committed first.
    pub(super) async fn turn(&self) -> MutexGuard<'_, State> {
        let mut state = self.inner.state.lock().await;
        state.recover().await;
        // A failed batch commit is its members' error; this writer goes on regardless.
        let _ = state.flush().await;
        state
    }

    /// Joins (or opens) the batch for one creation. The caller runs its statements on
    /// [`Member::conn`], starting with `SAVEPOINT lokal_create`, and ends with
    /// [`Member::commit`] or [`Member::undo`].
    pub(super) async fn join(&self, pool: &SqlitePool) -> Result<Member<'_>, StoreError> {
        let waiting = Waiting::new(&self.inner.waiting);
        let mut state = self.inner.state.lock().await;
        drop(waiting);
        state.recover().await;
        if state.open.is_none() {
            let tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            state.next_id += 1;
            let id = state.next_id;
            state.open = Some(Batch {
                id,
                opened: Instant::now(),
                tx,
                members: 0,
                dirty: false,
                done: watch::Sender::new(None),
            });
            tokio::spawn(watchdog(self.inner.clone(), id));
        }
        Ok(Member {
            writer: self,
            state,
        })
    }
}

/// Ends batch `id` once nobody is queued for it any more, or once it is [`MAX_AGE`] old.
async fn watchdog(inner: Arc<Inner>, id: u64) {
    loop {
        tokio::time::sleep(WATCH_TICK).await;
        let mut state = inner.state.lock().await;
        let Some(batch) = state.open.as_ref().filter(|b| b.id == id) else {
            return; // already committed (or thrown away)
        };
        let idle = inner.waiting.load(Ordering::SeqCst) == 0;
        if idle || batch.opened.elapsed() >= MAX_AGE {
            state.recover().await;
            // Members learn the outcome from the batch itself.
            let _ = state.flush().await;
            return;
        }
    }
}

impl State {
    /// Rolls back what a dropped creation left behind in the open batch.
    async fn recover(&mut self) {
        let Some(batch) = self.open.as_mut() else {
            return;
        };
        if !batch.dirty {
            return;
        }
        let undo = format!("ROLLBACK TO {SAVEPOINT}; RELEASE {SAVEPOINT}");
        let conn: &mut SqliteConnection = &mut batch.tx;
        match sqlx::query(&undo).execute(conn).await {
            Ok(_) => batch.dirty = false,
            // The dropped creation never got as far as its savepoint: nothing to undo.
            Err(e) if e.to_string().contains("no such savepoint") => batch.dirty = false,
            Err(e) => self.abort(e.to_string()).await,
        }
    }

    /// Commits the open batch, if any, and tells its members how it went.
    async fn flush(&mut self) -> Result<(), StoreError> {
        let Some(batch) = self.open.take() else {
            return Ok(());
        };
        let Batch { tx, done, .. } = batch;
        // The commit and the members' answer in a task of their own: a flusher dropped
        // mid-commit cannot leave the members without the true outcome.
        let committed = tokio::spawn(async move {
            let result = tx.commit().await;
            done.send_replace(Some(result.as_ref().map(|_| ()).map_err(|e| e.to_string())));
            result
        })
        .await;
        match committed {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::from(e)),
            Err(e) => Err(StoreError::Unavailable(e.to_string())),
        }
    }

    /// Throws the open batch away: its members get `why` as their error.
    async fn abort(&mut self, why: String) {
        if let Some(batch) = self.open.take() {
            let Batch { tx, done, .. } = batch;
            let _ = tokio::spawn(async move {
                let _ = tx.rollback().await;
                done.send_replace(Some(Err(why)));
            })
            .await;
        }
    }
}

/// One creation's place in the open batch, holding the writer's turn.
pub(super) struct Member<'a> {
    writer: &'a Writer,
    state: MutexGuard<'a, State>,
}

impl Member<'_> {
    /// The batch's connection. The creation's first statement must be its savepoint.
    pub(super) fn conn(&mut self) -> Result<&mut SqliteConnection, StoreError> {
        match self.state.open.as_mut() {
            Some(batch) => {
                batch.dirty = true;
                Ok(&mut *batch.tx)
            }
            None => Err(StoreError::Unavailable(
                "the write batch was closed unexpectedly".into(),
            )),
        }
    }

    /// The creation's writes are in and its savepoint released: waits until the batch that
    /// holds them is committed.
    pub(super) async fn commit(mut self) -> Result<(), StoreError> {
        let Some(batch) = self.state.open.as_mut() else {
            return Err(StoreError::Unavailable(
                "the write batch was closed unexpectedly".into(),
            ));
        };
        batch.dirty = false;
        batch.members += 1;
        if batch.members >= MAX_BATCH
            || batch.opened.elapsed() >= MAX_AGE
            || self.writer.inner.waiting.load(Ordering::SeqCst) == 0
        {
            return self.state.flush().await;
        }
        let mut done = batch.done.subscribe();
        drop(self.state);
        // A later creation, or the batch's watchdog, commits it.
        let outcome = done.wait_for(Option::is_some).await.map(|o| o.clone());
        match outcome {
            Ok(Some(Ok(()))) => Ok(()),
            Ok(Some(Err(e))) => Err(StoreError::Unavailable(e)),
            Ok(None) | Err(_) => Err(StoreError::Unavailable(
                "the write batch was dropped".into(),
            )),
        }
    }

    /// The creation keeps nothing (refused, replayed, or failed): rolls back to its savepoint.
    /// With `flush`, the batch is committed too, so that what it holds can be read.
    pub(super) async fn undo(mut self, flush: bool) -> Result<(), StoreError> {
        self.state.recover().await;
        let idle = self.writer.inner.waiting.load(Ordering::SeqCst) == 0;
        if flush || idle {
            // Nobody is queued to commit what the batch holds (with no members, this ends an
            // empty transaction): SQLite's write lock is free again for other processes.
            self.state.flush().await?;
        }
        Ok(())
    }
}
