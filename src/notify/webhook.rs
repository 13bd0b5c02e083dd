//! Webhooks: which configured webhook gets which event, the JSON and Teams bodies, the
//! Standard Webhooks signature, and one HTTP POST.
//!
//! Signing follows the Standard Webhooks specification (standardwebhooks.com): the headers
//! `webhook-id` (the delivery's stable message id), `webhook-timestamp` (Unix seconds of this
//! attempt) and `webhook-signature: v1,<base64 of HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.
//! A secret written `whsec_<base64>` is used as the base64-decoded key, as the specification's
//! libraries do; any other secret is used as its UTF-8 bytes.
//!
//! The body is fixed when the event is fanned out, so every attempt sends the same bytes;
//! only the timestamp (and so the signature) changes between attempts.

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::booking::records::{BookingRecord, StoredRoom};

/// `[[notify.webhooks]]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Names the webhook in logs, the console and the delivery's target; must be unique.
    pub name: String,
    pub url: String,
    /// The signing secret (`whsec_<base64>` or any text).
    #[serde(default)]
    pub secret: String,
    /// Read the secret from this file instead (trailing newline dropped).
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// Only rooms in these buildings; empty means every building.
    #[serde(default)]
    pub buildings: Vec<String>,
    /// Only these event types; empty means all of them.
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default)]
    pub format: WebhookFormat,
}

/// What the webhook's body looks like.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// Lokal's own event JSON.
    #[default]
    Json,
    /// A message with an Adaptive Card, for a Microsoft Teams workflow or incoming webhook.
    Teams,
}

/// The event types a webhook can ask for.
pub const EVENT_TYPES: [&str; 10] = [
    "booking.requested",
    "booking.approved",
    "booking.rejected",
    "booking.cancelled",
    "booking.expired",
    "booking.dates_approved",
    "booking.dates_rejected",
    "booking.dates_cancelled",
    "booking.dates_expired",
    "booking.dates_moved",
];

impl WebhookConfig {
    /// Whether this webhook wants `event` for a room in `building`.
    pub fn wants(&self, event: &str, building: Option<&str>) -> bool {
        let event_ok = self.events.is_empty() || self.events.iter().any(|e| e == event);
        let building_ok = self.buildings.is_empty()
            || building.is_some_and(|b| {
                self.buildings
                    .iter()
                    .any(|x| x.trim().eq_ignore_ascii_case(b.trim()))
            });
        event_ok && building_ok
    }

    /// The signing key.
    pub fn key(&self) -> Result<Vec<u8>, String> {
        let secret = match &self.secret_file {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("webhook {}: secret_file {}: {e}", self.name, path.display()))?
                .trim_end_matches(['\r', '\n'])
                .to_owned(),
            None => self.secret.clone(),
        };
        if secret.is_empty() {
            return Err(format!(
                "webhook {}: a secret (or secret_file) is required",
                self.name
            ));
        }
        match secret.strip_prefix("whsec_") {
            Some(b64) => base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| {
                    format!(
                        "webhook {}: the whsec_ secret is not base64: {e}",
                        self.name
                    )
                }),
            None => Ok(secret.into_bytes()),
        }
    }

    /// Checks what can be checked at start.
    pub fn validate(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("notify.webhooks: every webhook needs a name".into());
        }
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            return Err(format!(
                "webhook {}: url must start with http:// or https://",
                self.name
            ));
        }
        for e in &self.events {
            if !EVENT_TYPES.contains(&e.as_str()) {
                return Err(format!(
                    "webhook {}: unknown event {e:?} (known: {})",
                    self.name,
                    EVENT_TYPES.join(", ")
                ));
            }
        }
        self.key().map(|_| ())
    }
}

/// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = match hmac::Hmac::<sha2::Sha256>::new_from_slice(key) {
        Ok(m) => m,
        // HMAC takes keys of any length; this arm is never taken.
        Err(_) => return String::new(),
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(tag)
    )
}

/// What an event body is made from.
pub struct EventFacts<'a> {
    pub message_id: &'a str,
    pub event: &'a str,
    pub occurred_at: DateTime<Utc>,
    /// The status the event moved the booking to.
    pub status: &'a str,
    pub booking: &'a BookingRecord,
    pub room: &'a StoredRoom,
    pub reason: Option<&'a str>,
    /// The dates (occurrence `seq`) a `booking.dates_*` event is about; empty otherwise.
    pub dates: &'a [i64],
    /// The public base URL, without a trailing slash.
    pub public_url: &'a str,
}

/// Lokal's event JSON. The requester's name and the purpose go along (the receiver is the
/// municipality's own system, and a clerk needs them to act); a resident's email address
/// never does.
pub fn json_body(f: &EventFacts) -> Value {
    let b = f.booking;
    let occurrences = b
        .occurrences
        .iter()
        .filter(|o| o.status != crate::scheduling::OccurrenceStatus::Skipped)
        .count();
    json!({
        "id": f.message_id,
        "type": f.event,
        "occurred_at": f.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "booking": {
            "id": b.id,
            "status": f.status,
            "room": {
                "id": f.room.room.id,
                "name": f.room.room.name,
                "building": f.room.room.building,
            },
            "local_start": b.local_start,
            "local_end": b.local_end,
            "time_zone": b.time_zone,
            "recurrence": b.recurrence,
            "occurrences": occurrences,
            "requester_name": b.requester_name,
            "requester_kind": if b.requester_id.starts_with("staff:") { "staff" } else { "resident" },
            "purpose": b.purpose,
            "attendees": b.attendees,
            "links": {
                "console": format!("{}/console/bookings/{}", f.public_url, b.id),
                "api": format!("{}/api/v1/bookings/{}", f.public_url, b.id),
            },
        },
        "reason": f.reason,
        "dates": dates_json(f),
    })
}

/// The dates a `booking.dates_*` event is about, each with its times (UTC and on the room's
/// wall clock), status and reason; `null` for an event about the whole booking.
fn dates_json(f: &EventFacts) -> Value {
    if f.dates.is_empty() {
        return Value::Null;
    }
    let zone = crate::scheduling::Zone::parse(&f.booking.time_zone).ok();
    let mut dates: Vec<&crate::booking::records::OccurrenceRecord> = f
        .booking
        .occurrences
        .iter()
        .filter(|o| f.dates.contains(&o.seq))
        .collect();
    dates.sort_by_key(|o| (o.start, o.seq));
    Value::Array(
        dates
            .into_iter()
            .map(|o| {
                let local = |t| zone.map(|z| z.local(t).format("%Y-%m-%dT%H:%M").to_string());
                json!({
                    "seq": o.seq,
                    "start": o.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "end": o.end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "local_start": local(o.start),
                    "local_end": local(o.end),
                    "status": o.status,
                    "reason": o.status_reason,
                })
            })
            .collect(),
    )
}

/// A Teams message: an Adaptive Card 1.4 in the envelope that both a Teams Workflows
/// "when a webhook request is received" flow and an incoming webhook accept.
pub fn teams_body(f: &EventFacts) -> Value {
    let b = f.booking;
    let title = match f.event {
        "booking.requested" => "New booking request",
        "booking.approved" => "Booking approved",
        "booking.rejected" => "Booking rejected",
        "booking.cancelled" => "Booking cancelled",
        "booking.expired" => "Booking request expired",
        "booking.dates_approved" => "Dates of a booking approved",
        "booking.dates_rejected" => "Dates of a booking rejected",
        "booking.dates_cancelled" => "Dates of a booking cancelled",
        "booking.dates_expired" => "Dates of a booking request expired",
        "booking.dates_moved" => "A date of a booking moved",
        other => other,
    };
    let room = match &f.room.room.building {
        Some(building) => format!("{} ({building})", f.room.room.name),
        None => f.room.room.name.clone(),
    };
    let when = match &b.recurrence {
        Some(rule) => format!(
            "{} – {} ({}; {rule})",
            b.local_start.replace('T', " "),
            b.local_end.replace('T', " "),
            b.time_zone
        ),
        None => format!(
            "{} – {} ({})",
            b.local_start.replace('T', " "),
            b.local_end.replace('T', " "),
            b.time_zone
        ),
    };
    let mut facts = vec![
        json!({"title": "Room", "value": room}),
        json!({"title": "Time", "value": when}),
        json!({"title": "Status", "value": f.status}),
        json!({"title": "Requested by", "value": b.requester_name}),
        json!({"title": "Purpose", "value": b.purpose}),
    ];
    if let Some(reason) = f.reason {
        facts.push(json!({"title": "Reason", "value": reason}));
    }
    if let Value::Array(dates) = dates_json(f) {
        let listed: Vec<String> = dates
            .iter()
            .take(20)
            .filter_map(|d| {
                Some(format!(
                    "{} – {}",
                    d["local_start"].as_str()?,
                    d["local_end"].as_str()?
                ))
            })
            .map(|s| s.replace('T', " "))
            .collect();
        let more = dates.len().saturating_sub(listed.len());
        let mut value = listed.join(", ");
        if more > 0 {
            value.push_str(&format!(" (+ {more})"));
        }
        facts.push(json!({"title": "Dates", "value": value}));
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [
                    {"type": "TextBlock", "size": "Medium", "weight": "Bolder", "text": title, "wrap": true},
                    {"type": "FactSet", "facts": facts},
                ],
                "actions": [
                    {"type": "Action.OpenUrl", "title": "Open the clerk queue", "url": format!("{}/console", f.public_url)},
                    {"type": "Action.OpenUrl", "title": "Open the booking", "url": format!("{}/console/bookings/{}", f.public_url, b.id)},
                ],
            },
        }],
    })
}

/// Why a POST failed.
#[derive(Debug)]
pub struct PostError {
    /// Retrying will not help (the receiver refused the request itself).
    pub permanent: bool,
    pub message: String,
}

/// POSTs `body` to the webhook, signed. Any 2xx is accepted. 408 and 429 and every 5xx,
/// timeout and connection error are worth retrying; any other 4xx is permanent, since
/// sending the same bytes again gets the same answer.
pub async fn post(
    client: &reqwest::Client,
    hook: &WebhookConfig,
    message_id: &str,
    body: &str,
    now: DateTime<Utc>,
    timeout: Duration,
) -> Result<(), PostError> {
    let key = hook.key().map_err(|message| PostError {
        permanent: true,
        message,
    })?;
    let timestamp = now.timestamp();
    let signature = sign(&key, message_id, timestamp, body.as_bytes());
    let response = client
        .post(&hook.url)
        .timeout(timeout)
        .header("content-type", "application/json")
        .header("webhook-id", message_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .map_err(|e| PostError {
            permanent: false,
            // The URL is the credential for some receivers (Teams, Slack): name the hook
            // instead, and strip reqwest's copy of the URL from its error text.
            message: format!("webhook {}: {}", hook.name, error_chain(&e.without_url())),
        })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let text: String = response
        .text()
        .await
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect();
    let code = status.as_u16();
    Err(PostError {
        permanent: status.is_client_error() && code != 408 && code != 429,
        message: format!(
            "HTTP {code} from webhook {}: {}",
            hook.name,
            text.trim().replace(&hook.url, "<url>")
        ),
    })
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_matches_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification's reference libraries.
        let key = base64::engine::general_purpose::STANDARD
            .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_whsec_secret_is_base64_and_any_other_is_its_bytes() {
        let mut hook = WebhookConfig {
            name: "h".into(),
            url: "http://x".into(),
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
            secret_file: None,
            buildings: vec![],
            events: vec![],
            format: WebhookFormat::Json,
        };
        assert_eq!(hook.key().unwrap().len(), 24);
        hook.secret = "plain".into();
        assert_eq!(hook.key().unwrap(), b"plain");
        hook.secret = String::new();
        assert!(hook.validate().is_err());
    }

    #[test]
    fn a_webhook_filters_by_event_and_building() {
        let hook = WebhookConfig {
            name: "h".into(),
            url: "http://x".into(),
            secret: "s".into(),
            secret_file: None,
            buildings: vec!["Rådhuset".into()],
            events: vec!["booking.requested".into()],
            format: WebhookFormat::Json,
        };
        assert!(hook.wants("booking.requested", Some("Rådhuset")));
        assert!(!hook.wants("booking.approved", Some("Rådhuset")));
        assert!(!hook.wants("booking.requested", Some("Kulturhuset")));
        assert!(!hook.wants("booking.requested", None));
    }
}
