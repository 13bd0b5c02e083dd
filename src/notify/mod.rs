//! Notifications: the outbox worker that tells people about status changes, by email (the
//! requester's receipt and decisions, the clerks' digest) and by webhook.
//!
//! How an event travels:
//! 1. a status change writes an outbox row in its own transaction (migration 0003);
//! 2. the worker *fans out* each new row into deliveries, one per destination, in one
//!    transaction with stamping the row (`Store::fan_out`). Who gets what is decided here, in
//!    [`Notifier::plan`], once: a webhook's body is fixed then, so every attempt is the same;
//! 3. the worker claims due deliveries with a lease, sends each, and marks it delivered only
//!    when the receiver accepted it; a failure is retried with exponential backoff and jitter
//!    until `max_attempts`, then the delivery is dead and shows in the clerk console, whose
//!    clerks can retry it. A clerk digest belongs to no room, so a dead digest is only in the
//!    log (`notification failed for good`, `channel=digest`). A digest takes new items only
//!    until its first attempt; after that its items and Message-ID are fixed and new requests
//!    open a new digest.
//!
//! Keeping up (issue 15): the worker is three tasks. The *fan-out* task wakes when this
//! process writes an outbox row (`Bookings::outbox_signal`), when another instance does
//! (PostgreSQL `LISTEN lokal_outbox`, see `store::outbox`), or after `poll_interval_secs` at
//! the latest, and fans out new rows a page at a time, one transaction per page. Two *sender*
//! tasks, one for mail and one for webhooks, each claim a batch of due deliveries, send them
//! with at most `notify.parallel` in flight, and record the batch's outcomes in one
//! transaction; a slow or dead SMTP server holds up only the mail lane, a hanging webhook only
//! the webhook lane. Memory is bounded by the page and batch sizes, never by the backlog, which
//! waits in the store.
//!
//! Invariants: delivery is at least once (a crash between sending and marking sends again);
//! every delivery carries a message id that is the same on every attempt (`webhook-id`, the
//! mail's Message-ID), so receivers can deduplicate; nothing is lost across a restart,
//! because everything lives in the store and an expired lease makes a delivery due again.
//! Due times and backoff follow the injected [`Clock`]; only the polling pause is real time.
//!
//! This is a face: it reaches the outbox and the deliveries only through the delivery queue
//! service (`booking::deliveries::Deliveries`), never the store, and imports no other face.
//! Each attempt is counted in `lokal_notifications_total{channel,outcome}` and timed in
//! `lokal_notification_delivery_seconds{channel}` (see `telemetry`).

pub mod webhook;

pub mod mail;
mod smtp;

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use tokio::sync::{Notify, Semaphore, watch};

use crate::app::AppState;
use crate::booking::deliveries::{
    Attempt, AttemptOutcome, BookingRecord, Deliveries, DeliveryRecord, DigestEntry, FanOut, Lane,
    NewDelivery, NotifyFacts, OutboxEvent, ResidentContact, StoreError, StoredRoom,
};
use crate::clock::Clock;
use crate::directory::Directory;
use crate::i18n::Lang;

pub use webhook::{WebhookConfig, WebhookFormat};

/// `[notify]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    /// Runs the delivery worker. Off, events wait in the outbox (nothing is lost).
    pub enabled: bool,
    /// How long the worker rests when it has nothing to do, in seconds. New bookings wake it
    /// at once (on PostgreSQL also those of other instances); this is the fallback, and the
    /// pace at which retries and digests that come due are noticed.
    pub poll_interval_secs: f64,
    /// Mails in flight at once, and as many webhook requests (each lane has its own bound);
    /// also the number of idle SMTP connections kept for reuse.
    pub parallel: usize,
    /// Attempts before a delivery is dead.
    pub max_attempts: u32,
    /// The first retry waits about this long; each further one twice as long…
    pub backoff_base_secs: f64,
    /// …but never longer than this.
    pub backoff_max_secs: f64,
    /// How long a worker may hold a delivery while sending it, in seconds; after that
    /// another worker (or this one, restarted) may send it again.
    pub lease_secs: u64,
    /// A clerk gets at most one digest of new requests per this many minutes.
    pub digest_minutes: u64,
    /// The limit for one webhook POST, in seconds.
    pub webhook_timeout_secs: f64,
    /// Mail residents about their requests (receipt, approval, rejection, cancellation).
    pub mail_residents: bool,
    /// Mail clerks a digest of new requests on their rooms.
    pub mail_clerks: bool,
    /// The host part of message ids (`…@HOST`); empty takes the public URL's host.
    pub message_id_host: String,
    pub webhooks: Vec<WebhookConfig>,
    pub mail: mail::MailConfig,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            enabled: true,
            poll_interval_secs: 2.0,
            parallel: 16,
            max_attempts: 10,
            backoff_base_secs: 30.0,
            backoff_max_secs: 3600.0,
            lease_secs: 120,
            digest_minutes: 15,
            webhook_timeout_secs: 10.0,
            mail_residents: true,
            mail_clerks: true,
            message_id_host: String::new(),
            webhooks: Vec::new(),
            mail: mail::MailConfig::default(),
        }
    }
}

impl NotifyConfig {
    /// Checks the values and every webhook (its secret must be readable).
    pub fn validate(&self) -> Result<(), String> {
        if !(self.poll_interval_secs > 0.0 && self.poll_interval_secs <= 3600.0) {
            return Err("notify.poll_interval_secs must be between 0 and 3600".into());
        }
        if !(1..=256).contains(&self.parallel) {
            return Err("notify.parallel must be between 1 and 256".into());
        }
        if !(1..=100).contains(&self.max_attempts) {
            return Err("notify.max_attempts must be between 1 and 100".into());
        }
        if !(self.backoff_base_secs >= 0.0
            && self.backoff_max_secs >= self.backoff_base_secs
            && self.backoff_max_secs <= 7.0 * 24.0 * 3600.0)
        {
            return Err(
                "notify.backoff_base_secs must be at least 0 and at most notify.backoff_max_secs (at most a week)"
                    .into(),
            );
        }
        if self.lease_secs == 0 || (self.lease_secs as f64) < self.webhook_timeout_secs {
            return Err("notify.lease_secs must be at least notify.webhook_timeout_secs".into());
        }
        if !(self.webhook_timeout_secs > 0.0 && self.webhook_timeout_secs <= 300.0) {
            return Err("notify.webhook_timeout_secs must be between 0 and 300".into());
        }
        if self.digest_minutes > 24 * 60 {
            return Err("notify.digest_minutes must be at most a day (1440)".into());
        }
        let mut names = std::collections::HashSet::new();
        for hook in &self.webhooks {
            hook.validate()?;
            if !names.insert(hook.name.as_str()) {
                return Err(format!(
                    "notify.webhooks: the name {:?} is used twice",
                    hook.name
                ));
            }
        }
        Ok(())
    }
}

/// The wait before retry number `attempt` (1 after the first failure): `base · 2^(attempt-1)`,
/// capped at `max`, then scaled by `jitter` in [0, 1] onto its upper half, so that receivers
/// coming back from an outage are not hit by every sender at once.
pub fn backoff(attempt: u32, base_secs: f64, max_secs: f64, jitter: f64) -> Duration {
    let exp = attempt.saturating_sub(1).min(62);
    let full = (base_secs * 2f64.powi(exp as i32)).min(max_secs).max(0.0);
    let scaled = full * (0.5 + 0.5 * jitter.clamp(0.0, 1.0));
    Duration::from_secs_f64(scaled)
}

fn jitter() -> f64 {
    getrandom::u64()
        .map(|n| (n >> 11) as f64 / (1u64 << 53) as f64)
        .unwrap_or(0.5)
}

/// The event type of an outbox row: a creation waiting for a clerk is `booking.requested`;
/// a creation approved at once is only `booking.approved` (there was no request to wait on).
pub fn event_type(from: Option<&str>, to: &str) -> Option<&'static str> {
    Some(match (from, to) {
        (None, "pending") => "booking.requested",
        (_, "approved") => "booking.approved",
        (_, "rejected") => "booking.rejected",
        (_, "cancelled") => "booking.cancelled",
        (_, "expired") => "booking.expired",
        _ => return None,
    })
}

#[derive(Deserialize)]
struct OutboxPayload {
    from: Option<String>,
    to: String,
    reason: Option<String>,
    /// A row of migration 0012's time, about one date; such rows were never told.
    #[serde(default)]
    seq: Option<i64>,
    /// The dates (occurrences) a decision about dates is about (migration 0015); none for a
    /// row about the whole booking.
    #[serde(default)]
    seqs: Option<Vec<i64>>,
}

/// The event type of a decision about some dates of a booking (`payload.seqs`).
pub fn dates_event_type(to: &str) -> Option<&'static str> {
    Some(match to {
        "approved" => "booking.dates_approved",
        "rejected" => "booking.dates_rejected",
        "cancelled" => "booking.dates_cancelled",
        "expired" => "booking.dates_expired",
        "moved" => "booking.dates_moved",
        _ => return None,
    })
}

/// What a mail about some dates carries in its delivery's `body`: the dates and the reason
/// said for all of them, fixed when the notice is fanned out.
#[derive(Debug, Default, Deserialize, serde::Serialize)]
struct DatesBody {
    seqs: Vec<i64>,
    #[serde(default)]
    reason: Option<String>,
}

/// Why a notification step failed (logged by the worker, which tries again later).
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the directory: {0}")]
    Directory(String),
    #[error("notification configuration: {0}")]
    Config(String),
}

/// The worker's parts.
pub struct Notifier {
    deliveries: Deliveries,
    directory: Arc<dyn Directory>,
    clock: Arc<dyn Clock>,
    config: NotifyConfig,
    public_url: String,
    host: String,
    http: reqwest::Client,
    mailer: mail::Mailer,
    metrics: Arc<crate::telemetry::Metrics>,
    /// Pinged when this process writes outbox rows (and by the PostgreSQL listener).
    outbox_written: Arc<Notify>,
    /// Pinged after a fan-out made deliveries: one per lane.
    mail_due: Notify,
    hooks_due: Notify,
}

/// Outbox rows read and fanned out per transaction.
const FAN_OUT_PAGE: usize = 200;
/// Rounds of `parallel` attempts per claimed batch (see [`Notifier::send_batch`]).
const BATCH_ROUNDS: usize = 8;
/// Pages per fan-out pass: a pass tries each row at most once (see [`Notifier::fan_out`]).
const FAN_OUT_PAGES: usize = 50;

/// A running worker: wake it after a change, stop it at shutdown.
pub struct WorkerHandle {
    me: Arc<Notifier>,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl WorkerHandle {
    /// Makes the worker look at the outbox and the due deliveries now rather than after its
    /// pause.
    pub fn wake(&self) {
        self.me.outbox_written.notify_one();
        self.me.mail_due.notify_one();
        self.me.hooks_due.notify_one();
    }

    /// Stops the worker after the batches it is at (mails in flight are finished and
    /// recorded), and waits for it.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Resolves when the worker is told to stop; never when its handle was dropped without
/// stopping it (`lokal serve` lets the worker run until the runtime ends).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Waits for `wake`, `pause` or the stop signal; true when stopping.
async fn rest(wake: &Notify, pause: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = stopped(stop) => true,
        _ = tokio::time::sleep(pause) => false,
        _ = wake.notified() => false,
    }
}

impl Notifier {
    /// The worker for `state`, with `public_url` (no trailing slash) for links.
    pub fn new(
        state: &AppState,
        config: &NotifyConfig,
        public_url: &str,
    ) -> Result<Notifier, NotifyError> {
        config.validate().map_err(NotifyError::Config)?;
        let public_url = public_url.trim_end_matches('/').to_owned();
        let host = if config.message_id_host.is_empty() {
            host_of(&public_url)
        } else {
            config.message_id_host.clone()
        };
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs_f64(config.webhook_timeout_secs))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Lokal/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| NotifyError::Config(format!("the HTTP client: {e}")))?;
        let connections = u32::try_from(config.parallel).unwrap_or(u32::MAX);
        let mailer = mail::Mailer::with_connections(&config.mail, connections)
            .map_err(|e| NotifyError::Config(e.to_string()))?;
        Ok(Notifier {
            deliveries: Deliveries::new(&state.bookings),
            directory: state.directory.clone(),
            clock: state.bookings.clock.clone(),
            config: config.clone(),
            public_url,
            host,
            http,
            mailer,
            metrics: state.metrics.clone(),
            outbox_written: state.bookings.outbox_signal(),
            mail_due: Notify::new(),
            hooks_due: Notify::new(),
        })
    }

    /// Runs the worker until stopped: the fan-out task, the mail and the webhook senders,
    /// and on PostgreSQL the listener for other instances' outbox rows. Each rests
    /// `poll_interval_secs` at most when it has nothing to do (cut short by
    /// [`WorkerHandle::wake`] and by new outbox rows).
    pub fn spawn(self) -> WorkerHandle {
        let (stop, stopped) = watch::channel(false);
        let me = Arc::new(self);
        let pause = Duration::from_secs_f64(me.config.poll_interval_secs);
        let mut tasks = Vec::new();

        let (w, mut s) = (me.clone(), stopped.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                match w.fan_out().await {
                    Ok(0) => {}
                    Ok(_) => {
                        w.mail_due.notify_one();
                        w.hooks_due.notify_one();
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "fanning out notifications failed; trying again")
                    }
                }
                if rest(&w.outbox_written, pause, &mut s).await {
                    break;
                }
            }
        }));
        for lane in [Lane::Mail, Lane::Webhooks] {
            let (w, mut s) = (me.clone(), stopped.clone());
            tasks.push(tokio::spawn(async move {
                let wake = match lane {
                    Lane::Webhooks => &w.hooks_due,
                    _ => &w.mail_due,
                };
                loop {
                    // A full batch means more may be due: go on without resting.
                    let full = match w.send_batch(lane).await {
                        Ok(full) => full,
                        Err(e) => {
                            tracing::warn!(error = %e, "sending notifications failed; trying again");
                            false
                        }
                    };
                    let stopping = *s.borrow();
                    if stopping || (!full && rest(wake, pause, &mut s).await) {
                        break;
                    }
                }
            }));
        }
        let (w, mut s) = (me.clone(), stopped);
        tasks.push(tokio::spawn(async move {
            w.listen(&mut s).await;
        }));
        WorkerHandle { me, stop, tasks }
    }

    /// Hears other instances' outbox rows (PostgreSQL `LISTEN`) and wakes the fan-out task;
    /// returns at once on SQLite. A lost connection is made again, and wakes the task too
    /// (notices sent meanwhile are lost).
    async fn listen(&self, stop: &mut watch::Receiver<bool>) {
        loop {
            let listener = tokio::select! {
                l = self.deliveries.listener() => l,
                _ = stopped(stop) => return,
            };
            let mut listener = match listener {
                Ok(Some(l)) => l,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "listening for new notifications failed; polling meanwhile");
                    if rest(&Notify::new(), Duration::from_secs(5), stop).await {
                        return;
                    }
                    continue;
                }
            };
            self.outbox_written.notify_one();
            loop {
                let next = tokio::select! {
                    n = listener.next() => n,
                    _ = stopped(stop) => return,
                };
                match next {
                    Ok(_) => self.outbox_written.notify_one(),
                    Err(e) => {
                        tracing::warn!(error = %e, "the listener for new notifications failed; connecting again");
                        self.outbox_written.notify_one();
                        break;
                    }
                }
            }
            if rest(&Notify::new(), Duration::from_secs(1), stop).await {
                return;
            }
        }
    }

    /// One round: fan out what is new, then send what is due, until nothing more is due
    /// (at most a bounded number of batches per lane).
    pub async fn round(self: &Arc<Self>) -> Result<(), NotifyError> {
        self.fan_out().await?;
        for lane in [Lane::Mail, Lane::Webhooks] {
            for _ in 0..20 {
                if !self.send_batch(lane).await? {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Fans out the outbox rows that are new, a page at a time: each page's rows are planned
    /// concurrently (at most `parallel` at once) and stamped with their deliveries in one
    /// transaction. The number of rows fanned out.
    ///
    /// Pages by id: a row that cannot be fanned out now stays in the outbox for the next
    /// pass, but must not hide the rows after it (with a page of such rows, newer events would
    /// otherwise wait forever). Each row is tried, and logged, at most once per pass.
    pub async fn fan_out(self: &Arc<Self>) -> Result<usize, NotifyError> {
        let mut last = 0;
        let mut done = 0;
        let page = i64::try_from(FAN_OUT_PAGE).unwrap_or(100);
        let bound = Arc::new(Semaphore::new(self.config.parallel));
        for _ in 0..FAN_OUT_PAGES {
            let events = self.deliveries.new_events_after(last, page).await?;
            let n = events.len();
            let ids: Vec<String> = events.iter().filter_map(|e| e.booking_id.clone()).collect();
            let facts = Arc::new(self.facts(&ids).await);
            let mut planning = tokio::task::JoinSet::new();
            for event in events {
                last = last.max(event.id);
                let (me, bound, facts) = (self.clone(), bound.clone(), facts.clone());
                planning.spawn(async move {
                    let _permit = bound.acquire_owned().await;
                    let planned = me.plan(&event, &facts).await;
                    (event.id, planned)
                });
            }
            let mut batch = Vec::with_capacity(n);
            while let Some(planned) = planning.join_next().await {
                match planned {
                    Ok((outbox_id, Ok((deliveries, digests)))) => batch.push(FanOut {
                        outbox_id,
                        deliveries,
                        digests,
                    }),
                    // Left in the outbox; the next pass tries again.
                    Ok((outbox, Err(e))) => {
                        tracing::warn!(outbox, error = %e, "an event could not be fanned out yet")
                    }
                    Err(e) => tracing::warn!(error = %e, "planning a notification failed"),
                }
            }
            done += self.deliveries.fan_out_batch(&batch).await?;
            if n < FAN_OUT_PAGE {
                break;
            }
        }
        Ok(done)
    }

    /// Claims a batch of due deliveries of `lane`, sends them with at most `parallel` in
    /// flight, and records the outcomes in one transaction. True when the batch was full
    /// (more may be due).
    ///
    /// A batch is `BATCH_ROUNDS × parallel` deliveries: on SQLite each claim and each record
    /// queues behind the bookings being written, so fewer, larger batches keep up far better
    /// under load. The lease is `lease_secs` per round a delivery may wait, so that none runs
    /// out while a delivery waits its turn behind others in its batch (that would let another
    /// instance send the same message).
    pub async fn send_batch(self: &Arc<Self>, lane: Lane) -> Result<bool, NotifyError> {
        let parallel = self.config.parallel.max(1);
        let size = parallel * BATCH_ROUNDS;
        let lease_secs = i64::try_from(self.config.lease_secs).unwrap_or(120);
        let lease = TimeDelta::seconds(lease_secs.saturating_mul(BATCH_ROUNDS as i64));
        let due = self
            .deliveries
            .claim_due_in(lane, lease, i64::try_from(size).unwrap_or(64))
            .await?;
        let n = due.len();
        if n == 0 {
            return Ok(false);
        }
        // What the batch's mails are about, read at once.
        let ids: Vec<String> = due
            .iter()
            .filter(|d| d.channel == "email")
            .filter_map(|d| d.booking_id.clone())
            .collect();
        let facts = Arc::new(if ids.is_empty() {
            NotifyFacts::default()
        } else {
            self.facts(&ids).await
        });
        let bound = Arc::new(Semaphore::new(parallel));
        let mut sending = tokio::task::JoinSet::new();
        for d in due {
            let (me, bound, facts) = (self.clone(), bound.clone(), facts.clone());
            sending.spawn(async move {
                let _permit = bound.acquire_owned().await;
                me.deliver(d, &facts).await
            });
        }
        // Outcomes are written a round (`parallel`) at a time as they complete, not once for
        // the whole batch: a process that stops mid-batch sends again at most the round it
        // had not recorded yet, as before batching.
        let mut attempts = Vec::with_capacity(parallel);
        while let Some(done) = sending.join_next().await {
            match done {
                Ok(a) => attempts.push(a),
                // A sender that panicked: its lease runs out and it is tried again.
                Err(e) => tracing::error!(error = %e, "a notification sender failed"),
            }
            if attempts.len() >= parallel {
                self.record(&attempts).await?;
                attempts.clear();
            }
        }
        if !attempts.is_empty() {
            self.record(&attempts).await?;
        }
        Ok(n == size)
    }

    /// Writes outcomes, trying again after a short pause when the store refuses once (a busy
    /// SQLite writer, a PostgreSQL failover): an outcome that is not written means a message
    /// that is sent again when its lease runs out.
    async fn record(&self, attempts: &[Attempt]) -> Result<(), NotifyError> {
        let mut pause = Duration::from_millis(200);
        for _ in 0..3 {
            match self.deliveries.record(attempts).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    tracing::warn!(error = %e, outcomes = attempts.len(), "recording notification outcomes failed; trying again");
                    tokio::time::sleep(pause).await;
                    pause *= 4;
                }
            }
        }
        self.deliveries.record(attempts).await.map_err(Into::into)
    }

    /// The facts about these bookings, read at once; none when the store refuses (each
    /// event or mail then reads its own, and fails on its own if the store is down).
    async fn facts(&self, booking_ids: &[String]) -> NotifyFacts {
        match self.deliveries.facts(booking_ids).await {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %e, "reading what a batch of notifications is about failed; reading one by one");
                NotifyFacts::default()
            }
        }
    }

    async fn booking(
        &self,
        facts: &NotifyFacts,
        id: &str,
    ) -> Result<Option<BookingRecord>, StoreError> {
        match facts.booking(id) {
            Some(b) => Ok(Some(b.clone())),
            None => self.deliveries.booking(id).await,
        }
    }

    async fn room(&self, facts: &NotifyFacts, id: &str) -> Result<Option<StoredRoom>, StoreError> {
        match facts.room(id) {
            Some(r) => Ok(Some(r.clone())),
            None => self.deliveries.room(id).await,
        }
    }

    async fn contact(
        &self,
        facts: &NotifyFacts,
        resident: &str,
    ) -> Result<Option<ResidentContact>, StoreError> {
        match facts.contact(resident) {
            Some(c) => Ok(Some(c.clone())),
            None => self.deliveries.resident_contact(resident).await,
        }
    }

    fn message_id(&self, outbox_id: i64, channel: &str, target: &str) -> String {
        let digest = Sha256::digest(target.as_bytes());
        let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        format!("{outbox_id}.{channel}.{hex}@{}", self.host)
    }

    /// Who gets an outbox event: matching webhooks, the resident requester by email, and for
    /// a new request the clerks of its room in their digest.
    pub async fn plan(
        &self,
        event: &OutboxEvent,
        facts: &NotifyFacts,
    ) -> Result<(Vec<NewDelivery>, Vec<DigestEntry>), NotifyError> {
        let payload: OutboxPayload = match serde_json::from_str(&event.payload) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(outbox = event.id, error = %e, "an outbox row Lokal cannot read; nobody is told");
                return Ok((Vec::new(), Vec::new()));
            }
        };
        let kind = match &payload.seqs {
            Some(_) => dates_event_type(&payload.to),
            None => event_type(payload.from.as_deref(), &payload.to),
        };
        let Some(kind) = kind else {
            return Ok((Vec::new(), Vec::new()));
        };
        // A row about one date written before migration 0015 (no list): never told.
        if payload.seq.is_some() && payload.seqs.is_none() {
            return Ok((Vec::new(), Vec::new()));
        }
        let dates: &[i64] = payload.seqs.as_deref().unwrap_or_default();
        let Some(booking_id) = &event.booking_id else {
            return Ok((Vec::new(), Vec::new()));
        };
        let Some(booking) = self.booking(facts, booking_id).await? else {
            return Ok((Vec::new(), Vec::new()));
        };
        let Some(room) = self.room(facts, &booking.room_id).await? else {
            return Ok((Vec::new(), Vec::new()));
        };
        let building = room.room.building.as_deref();
        let mut deliveries = Vec::new();
        for hook in &self.config.webhooks {
            if !hook.wants(kind, building) {
                continue;
            }
            let message_id = self.message_id(event.id, "webhook", &hook.name);
            let facts = webhook::EventFacts {
                message_id: &message_id,
                event: kind,
                occurred_at: event.created_at,
                // A notice about some dates: the booking's own status (the dates' are listed).
                status: if payload.seqs.is_some() {
                    booking.status.as_str()
                } else {
                    &payload.to
                },
                booking: &booking,
                room: &room,
                reason: payload.reason.as_deref(),
                dates,
                public_url: &self.public_url,
            };
            let body = match hook.format {
                WebhookFormat::Json => webhook::json_body(&facts),
                WebhookFormat::Teams => webhook::teams_body(&facts),
            };
            deliveries.push(NewDelivery {
                booking_id: Some(booking.id.clone()),
                room_id: Some(room.room.id.clone()),
                event: kind.to_owned(),
                channel: "webhook".into(),
                target: hook.name.clone(),
                lang: "nb".into(),
                message_id,
                body: Some(body.to_string()),
            });
        }
        // Residents hear about their own requests. Staff requesters do not get mail: they
        // book from the console or their calendar app, which shows the outcome.
        if self.config.mail_residents
            && let Some(resident) = booking.requester_id.strip_prefix("resident:")
            && let Some(contact) = self.contact(facts, resident).await?
        {
            deliveries.push(NewDelivery {
                booking_id: Some(booking.id.clone()),
                room_id: Some(room.room.id.clone()),
                event: kind.to_owned(),
                channel: "email".into(),
                target: contact.email.clone(),
                lang: contact.lang,
                message_id: self.message_id(event.id, "email", &contact.email),
                body: payload.seqs.as_ref().map(|seqs| {
                    serde_json::to_string(&DatesBody {
                        seqs: seqs.clone(),
                        reason: payload.reason.clone(),
                    })
                    .unwrap_or_default()
                }),
            });
        }
        let mut digests = Vec::new();
        if self.config.mail_clerks
            && kind == "booking.requested"
            && let Some(group) = &room.room.approver_group
        {
            let clerks = self
                .directory
                .group_members(group)
                .await
                .map_err(|e| NotifyError::Directory(e.to_string()))?;
            let now = self.clock.now();
            let due = now
                .checked_add_signed(TimeDelta::minutes(
                    i64::try_from(self.config.digest_minutes).unwrap_or(15),
                ))
                .unwrap_or(now);
            for clerk in clerks {
                let Some(email) = clerk.email.filter(|e| e.contains('@')) else {
                    continue;
                };
                digests.push(DigestEntry {
                    target: email.to_lowercase(),
                    name: clerk.name.clone(),
                    lang: "nb".into(),
                    booking_id: booking.id.clone(),
                    due,
                    message_id: format!("digest.{}@{}", uuid::Uuid::new_v4(), self.host),
                });
            }
        }
        Ok((deliveries, digests))
    }

    /// Sends one claimed delivery; the outcome, for the caller to record.
    async fn deliver(&self, d: DeliveryRecord, facts: &NotifyFacts) -> Attempt {
        let started = std::time::Instant::now();
        let outcome = match d.channel.as_str() {
            "webhook" => self.send_webhook(&d).await,
            "email" => self.send_booking_mail(&d, facts).await,
            "digest" => self.send_digest(&d).await,
            other => Err(Failure::permanent(format!("unknown channel {other}"))),
        };
        self.metrics.delivery_took(&d.channel, started.elapsed());
        let now = self.clock.now();
        match outcome {
            Ok(()) => {
                tracing::info!(delivery = d.id, channel = %d.channel, event = %d.event, "notification delivered");
                self.metrics.notification(&d.channel, "delivered");
                Attempt {
                    id: d.id,
                    outcome: AttemptOutcome::Delivered,
                }
            }
            Err(f) => {
                let attempts = u32::try_from(d.attempts).unwrap_or(u32::MAX);
                let retry_at = if f.permanent || attempts >= self.config.max_attempts {
                    None
                } else {
                    let wait = backoff(
                        attempts,
                        self.config.backoff_base_secs,
                        self.config.backoff_max_secs,
                        jitter(),
                    );
                    Some(
                        now.checked_add_signed(
                            TimeDelta::from_std(wait).unwrap_or(TimeDelta::hours(1)),
                        )
                        .unwrap_or(now),
                    )
                };
                match retry_at {
                    Some(at) => {
                        tracing::warn!(delivery = d.id, channel = %d.channel, attempts, retry_at = %at, error = %f.message, "notification failed; retrying later")
                    }
                    None => {
                        tracing::error!(delivery = d.id, channel = %d.channel, attempts, error = %f.message, "notification failed for good; it is a dead letter now")
                    }
                }
                self.metrics.notification(
                    &d.channel,
                    if retry_at.is_some() {
                        "retried"
                    } else {
                        "dead"
                    },
                );
                Attempt {
                    id: d.id,
                    outcome: AttemptOutcome::Failed {
                        error: f.message,
                        retry_at,
                    },
                }
            }
        }
    }

    async fn send_webhook(&self, d: &DeliveryRecord) -> Result<(), Failure> {
        let Some(hook) = self.config.webhooks.iter().find(|h| h.name == d.target) else {
            return Err(Failure::permanent(format!(
                "the webhook {:?} is no longer configured",
                d.target
            )));
        };
        let body = d.body.as_deref().unwrap_or("{}");
        webhook::post(
            &self.http,
            hook,
            &d.message_id,
            body,
            self.clock.now(),
            Duration::from_secs_f64(self.config.webhook_timeout_secs),
        )
        .await
        .map_err(|e| Failure {
            permanent: e.permanent,
            message: e.message,
        })
    }

    async fn send_booking_mail(
        &self,
        d: &DeliveryRecord,
        facts: &NotifyFacts,
    ) -> Result<(), Failure> {
        let kind = match d.event.as_str() {
            "booking.requested" => mail::BookingMailKind::Received,
            "booking.approved" => mail::BookingMailKind::Approved,
            "booking.rejected" => mail::BookingMailKind::Rejected,
            "booking.cancelled" => mail::BookingMailKind::Cancelled,
            "booking.expired" => mail::BookingMailKind::Expired,
            "booking.dates_approved" => mail::BookingMailKind::DatesApproved,
            "booking.dates_rejected" => mail::BookingMailKind::DatesRejected,
            "booking.dates_cancelled" => mail::BookingMailKind::DatesCancelled,
            "booking.dates_expired" => mail::BookingMailKind::DatesExpired,
            "booking.dates_moved" => mail::BookingMailKind::DatesMoved,
            other => return Err(Failure::permanent(format!("no mail for {other}"))),
        };
        let about_dates: Option<DatesBody> = if kind.about_dates() {
            let body = d.body.as_deref().unwrap_or_default();
            Some(serde_json::from_str(body).map_err(|e| {
                Failure::permanent(format!("a mail about dates without its dates: {e}"))
            })?)
        } else {
            None
        };
        let booking_id = d.booking_id.as_deref().unwrap_or_default();
        let booking = self
            .booking(facts, booking_id)
            .await
            .map_err(Failure::transient)?
            .ok_or_else(|| Failure::permanent(format!("no booking {booking_id}")))?;
        let room = self
            .room(facts, &booking.room_id)
            .await
            .map_err(Failure::transient)?
            .ok_or_else(|| Failure::permanent(format!("no room {}", booking.room_id)))?;
        let reason = match &about_dates {
            Some(dates) => dates.reason.clone(),
            None => self.reason_of(d, facts).await,
        };
        let name = match booking.requester_id.strip_prefix("resident:") {
            Some(id) => self
                .contact(facts, id)
                .await
                .map_err(Failure::transient)?
                .map(|c| c.name)
                .unwrap_or_else(|| booking.requester_name.clone()),
            None => booking.requester_name.clone(),
        };
        let booking_url = format!("{}/my/bookings/{}", self.public_url, booking.id);
        let message = mail::booking_mail(
            &self.config.mail,
            &mail::BookingMail {
                kind,
                lang: Lang::parse(&d.lang).unwrap_or_default(),
                to_name: &name,
                to_email: &d.target,
                booking: &booking,
                room_name: &room.room.name,
                building: room.room.building.as_deref(),
                reason: reason.as_deref(),
                dates: about_dates
                    .as_ref()
                    .map(|d| d.seqs.as_slice())
                    .unwrap_or_default(),
                message_id: &d.message_id,
                booking_url: &booking_url,
            },
        )
        .map_err(|e| Failure::permanent(e.to_string()))?;
        self.mailer.send(message).await.map_err(|e| Failure {
            permanent: e.permanent,
            message: e.message,
        })
    }

    /// The reason the outbox row gave (a clerk's rejection, a cancellation's note).
    async fn reason_of(&self, d: &DeliveryRecord, facts: &NotifyFacts) -> Option<String> {
        let booking_id = d.booking_id.as_deref()?;
        let to = d.event.strip_prefix("booking.")?;
        let to = if to == "requested" { "pending" } else { to };
        if let Some(known) = facts.reason(booking_id, to) {
            return known.map(str::to_owned);
        }
        self.deliveries.reason_for(booking_id, to).await.ok()?
    }

    async fn send_digest(&self, d: &DeliveryRecord) -> Result<(), Failure> {
        let mut items = Vec::new();
        for id in d.digest_items() {
            let Some(booking) = self
                .deliveries
                .booking(&id)
                .await
                .map_err(Failure::transient)?
            else {
                continue;
            };
            // Decided meanwhile: nothing left to tell about it.
            if booking.status != crate::scheduling::BookingStatus::Pending {
                continue;
            }
            let room_name = self
                .deliveries
                .room(&booking.room_id)
                .await
                .map_err(Failure::transient)?
                .map(|r| r.room.name)
                .unwrap_or_default();
            let when = mail::when_text(Lang::parse(&d.lang).unwrap_or_default(), &booking);
            items.push(mail::DigestItem {
                booking_id: booking.id.clone(),
                room_name,
                when,
                requester_name: booking.requester_name.clone(),
                purpose: booking.purpose.clone(),
            });
        }
        if items.is_empty() {
            return Ok(());
        }
        let queue_url = format!("{}/console", self.public_url);
        let message = mail::digest_mail(
            &self.config.mail,
            &mail::DigestMail {
                lang: Lang::parse(&d.lang).unwrap_or_default(),
                to_name: d.body.as_deref().unwrap_or_default(),
                to_email: &d.target,
                items: &items,
                message_id: &d.message_id,
                queue_url: &queue_url,
            },
        )
        .map_err(|e| Failure::permanent(e.to_string()))?;
        self.mailer.send(message).await.map_err(|e| Failure {
            permanent: e.permanent,
            message: e.message,
        })
    }
}

/// A failed attempt.
struct Failure {
    permanent: bool,
    message: String,
}

impl Failure {
    fn permanent(message: String) -> Failure {
        Failure {
            permanent: true,
            message,
        }
    }

    fn transient(e: StoreError) -> Failure {
        Failure {
            permanent: false,
            message: e.to_string(),
        }
    }
}

/// `https://lokal.kommune.no:8443/x` → `lokal.kommune.no`.
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or(rest);
    let host = authority
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(authority);
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    };
    if host.is_empty() {
        "lokal.invalid".into()
    } else {
        host.to_owned()
    }
}

/// Starts the worker for `lokal serve`, if notifications are on.
pub fn start(
    state: &AppState,
    config: &NotifyConfig,
    public_url: &str,
) -> Result<Option<WorkerHandle>, NotifyError> {
    if !config.enabled {
        return Ok(None);
    }
    Ok(Some(Notifier::new(state, config, public_url)?.spawn()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_up_to_the_cap() {
        let full = |n| backoff(n, 30.0, 3600.0, 1.0).as_secs();
        assert_eq!(full(1), 30);
        assert_eq!(full(2), 60);
        assert_eq!(full(3), 120);
        assert_eq!(full(7), 1920);
        assert_eq!(full(8), 3600);
        assert_eq!(full(60), 3600);
        assert_eq!(full(u32::MAX), 3600);
    }

    #[test]
    fn jitter_keeps_the_wait_in_the_upper_half() {
        assert_eq!(backoff(3, 30.0, 3600.0, 0.0).as_secs(), 60);
        assert_eq!(backoff(3, 30.0, 3600.0, 0.5).as_secs(), 90);
        for _ in 0..100 {
            let w = backoff(4, 30.0, 3600.0, jitter()).as_secs_f64();
            assert!((120.0..=240.0).contains(&w), "{w}");
        }
    }

    #[test]
    fn events_are_named_from_the_status_change() {
        assert_eq!(event_type(None, "pending"), Some("booking.requested"));
        assert_eq!(event_type(None, "approved"), Some("booking.approved"));
        assert_eq!(
            event_type(Some("pending"), "approved"),
            Some("booking.approved")
        );
        assert_eq!(
            event_type(Some("pending"), "expired"),
            Some("booking.expired")
        );
        assert_eq!(event_type(Some("approved"), "pending"), None);
    }

    #[test]
    fn the_message_id_host_comes_from_the_public_url() {
        assert_eq!(
            host_of("https://lokal.kommune.no:8443/x"),
            "lokal.kommune.no"
        );
        assert_eq!(host_of("http://localhost:8080"), "localhost");
        assert_eq!(host_of(""), "lokal.invalid");
    }
}
