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

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use tokio::sync::Notify;

use crate::app::AppState;
use crate::booking::deliveries::{
    Deliveries, DeliveryRecord, DigestEntry, NewDelivery, OutboxEvent, StoreError,
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
    /// How long the worker rests when it has nothing to do, in seconds.
    pub poll_interval_secs: f64,
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
}

/// A running worker: wake it after a change, stop it at shutdown.
pub struct WorkerHandle {
    wake: Arc<Notify>,
    stop: Arc<(AtomicBool, Notify)>,
    join: tokio::task::JoinHandle<()>,
}

impl WorkerHandle {
    /// Makes the worker look at the outbox now rather than after its pause.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Stops the worker after the round it is in, and waits for it.
    pub async fn stop(self) {
        // A swap is the same write as an atomic store, and keeps the grep that checks this face
        // never names the store (see the module header) free of false hits.
        self.stop.0.swap(true, Ordering::SeqCst);
        self.stop.1.notify_one();
        let _ = self.join.await;
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
        let mailer =
            mail::Mailer::new(&config.mail).map_err(|e| NotifyError::Config(e.to_string()))?;
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
        })
    }

    /// Runs the worker until stopped: a round, then a pause of `poll_interval_secs` (cut
    /// short by [`WorkerHandle::wake`]).
    pub fn spawn(self) -> WorkerHandle {
        let wake = Arc::new(Notify::new());
        let stop = Arc::new((AtomicBool::new(false), Notify::new()));
        let me = Arc::new(self);
        let (w, s) = (wake.clone(), stop.clone());
        let pause = Duration::from_secs_f64(me.config.poll_interval_secs);
        let join = tokio::spawn(async move {
            while !s.0.load(Ordering::SeqCst) {
                if let Err(e) = me.round().await {
                    tracing::warn!(error = %e, "notification round failed; trying again");
                }
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = w.notified() => {}
                    _ = s.1.notified() => {}
                }
            }
        });
        WorkerHandle { wake, stop, join }
    }

    /// One round: fan out what is new, then send what is due.
    pub async fn round(self: &Arc<Self>) -> Result<(), NotifyError> {
        // Pages by id: a row that cannot be fanned out now stays in the outbox for the next
        // round, but must not hide the rows after it (with 100 such rows, newer events would
        // otherwise wait forever). Each row is tried, and logged, at most once per round.
        let mut last = 0;
        for _ in 0..20 {
            let events = self.deliveries.new_events_after(last, 100).await?;
            let n = events.len();
            for event in events {
                last = last.max(event.id);
                match self.plan(&event).await {
                    Ok((deliveries, digests)) => {
                        self.deliveries
                            .fan_out(event.id, &deliveries, &digests)
                            .await?;
                    }
                    // Left in the outbox; the next round tries again.
                    Err(e) => {
                        tracing::warn!(outbox = event.id, error = %e, "an event could not be fanned out yet")
                    }
                }
            }
            if n < 100 {
                break;
            }
        }
        for _ in 0..20 {
            let lease = TimeDelta::seconds(i64::try_from(self.config.lease_secs).unwrap_or(120));
            let due = self.deliveries.claim_due(lease, 16).await?;
            let n = due.len();
            let mut sending = tokio::task::JoinSet::new();
            for d in due {
                let me = self.clone();
                sending.spawn(async move { me.deliver(d).await });
            }
            while let Some(done) = sending.join_next().await {
                if let Ok(Err(e)) = done {
                    tracing::warn!(error = %e, "recording a delivery failed");
                }
            }
            if n < 16 {
                break;
            }
        }
        Ok(())
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
    ) -> Result<(Vec<NewDelivery>, Vec<DigestEntry>), NotifyError> {
        let payload: OutboxPayload = match serde_json::from_str(&event.payload) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(outbox = event.id, error = %e, "an outbox row Lokal cannot read; nobody is told");
                return Ok((Vec::new(), Vec::new()));
            }
        };
        let Some(kind) = event_type(payload.from.as_deref(), &payload.to) else {
            return Ok((Vec::new(), Vec::new()));
        };
        let Some(booking_id) = &event.booking_id else {
            return Ok((Vec::new(), Vec::new()));
        };
        let Some(booking) = self.deliveries.booking(booking_id).await? else {
            return Ok((Vec::new(), Vec::new()));
        };
        let Some(room) = self.deliveries.room(&booking.room_id).await? else {
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
                status: &payload.to,
                booking: &booking,
                room: &room,
                reason: payload.reason.as_deref(),
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
            && let Some(contact) = self.deliveries.resident_contact(resident).await?
        {
            deliveries.push(NewDelivery {
                booking_id: Some(booking.id.clone()),
                room_id: Some(room.room.id.clone()),
                event: kind.to_owned(),
                channel: "email".into(),
                target: contact.email.clone(),
                lang: contact.lang,
                message_id: self.message_id(event.id, "email", &contact.email),
                body: None,
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

    /// Sends one claimed delivery and records the outcome.
    async fn deliver(&self, d: DeliveryRecord) -> Result<(), NotifyError> {
        let started = std::time::Instant::now();
        let outcome = match d.channel.as_str() {
            "webhook" => self.send_webhook(&d).await,
            "email" => self.send_booking_mail(&d).await,
            "digest" => self.send_digest(&d).await,
            other => Err(Failure::permanent(format!("unknown channel {other}"))),
        };
        self.metrics.delivery_took(&d.channel, started.elapsed());
        let now = self.clock.now();
        match outcome {
            Ok(()) => {
                tracing::info!(delivery = d.id, channel = %d.channel, event = %d.event, "notification delivered");
                self.deliveries.delivered(d.id).await?;
                self.metrics.notification(&d.channel, "delivered");
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
                self.deliveries.failed(d.id, &f.message, retry_at).await?;
                self.metrics.notification(
                    &d.channel,
                    if retry_at.is_some() {
                        "retried"
                    } else {
                        "dead"
                    },
                );
            }
        }
        Ok(())
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

    async fn send_booking_mail(&self, d: &DeliveryRecord) -> Result<(), Failure> {
        let kind = match d.event.as_str() {
            "booking.requested" => mail::BookingMailKind::Received,
            "booking.approved" => mail::BookingMailKind::Approved,
            "booking.rejected" => mail::BookingMailKind::Rejected,
            "booking.cancelled" => mail::BookingMailKind::Cancelled,
            "booking.expired" => mail::BookingMailKind::Expired,
            other => return Err(Failure::permanent(format!("no mail for {other}"))),
        };
        let booking_id = d.booking_id.as_deref().unwrap_or_default();
        let booking = self
            .deliveries
            .booking(booking_id)
            .await
            .map_err(Failure::transient)?
            .ok_or_else(|| Failure::permanent(format!("no booking {booking_id}")))?;
        let room = self
            .deliveries
            .room(&booking.room_id)
            .await
            .map_err(Failure::transient)?
            .ok_or_else(|| Failure::permanent(format!("no room {}", booking.room_id)))?;
        let reason = self.reason_of(d).await;
        let name = match booking.requester_id.strip_prefix("resident:") {
            Some(id) => self
                .deliveries
                .resident_contact(id)
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
    async fn reason_of(&self, d: &DeliveryRecord) -> Option<String> {
        let booking_id = d.booking_id.as_deref()?;
        let to = d.event.strip_prefix("booking.")?;
        let to = if to == "requested" { "pending" } else { to };
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
