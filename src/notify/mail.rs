//! E-mail: composing the mails residents and clerks get, and sending them.
//!
//! What this module owns:
//! - [`MailConfig`], the `[mail]` settings, and [`Mailer`], the transport they choose: SMTP
//!   (lettre over tokio, STARTTLS, implicit TLS or plain), `.eml` files in a folder
//!   (development), or one line in the log;
//! - [`booking_mail`]: a resident's mail about their own booking, in their language
//!   (Bokmål or English, texts in `web/locales/*/mail.ftl`): received, approved, rejected,
//!   cancelled or expired, with the hall, building, dates in the room's local time, the reason
//!   and a link;
//! - [`digest_mail`]: a clerk's digest of new requests, with a link to the queue.
//!
//! Who gets which mail, when and how often is the outbox worker's business (see the rest of
//! `notify`), not this module's.
//!
//! Invariants:
//! - **iMIP** (RFC 6047): an approval carries the booking as `METHOD:REQUEST` and a
//!   cancellation as `METHOD:CANCEL`, written by [`crate::calendar::ical::itip_object`] from the
//!   same rendering as the room's CalDAV object (UID `{booking id}@lokal`, VTIMEZONE, series as
//!   RRULE/EXDATE/RDATE). The calendar is both a `text/calendar; method=...` part of the
//!   `multipart/alternative` body (RFC 6047 §2.4, which is what calendar-aware mail apps act
//!   on) and an `invite.ics` attachment for the others. No other mail carries a calendar: a
//!   REQUEST was never sent for them.
//! - **SEQUENCE** (RFC 5545 §3.8.7.4) is the number of whole seconds between the booking's
//!   creation and its last change (`updated_at - created_at`), plus one for a CANCEL. It never
//!   decreases over a booking's life, is 0 for a booking approved as it was made, is the same
//!   when the same state is sent again, and a CANCEL is always above every REQUEST sent
//!   before it, even one from the same second. DTSTAMP is the booking's `updated_at`.
//! - **Headers**: `Message-ID` is `<{message_id}>` (the caller's stable id, so that a re-sent
//!   mail is recognised as the same; `@` and the sender's domain are added when the id has no
//!   `@`), `Auto-Submitted: auto-generated` (RFC 3834) so that vacation responders stay
//!   quiet. Names, subjects and ids that come from users have every control character
//!   (CR and LF included) replaced before they reach a header, so no text can add a header;
//!   lettre encodes the rest (RFC 2047). A recipient address that does not parse is a
//!   [`MailError`], never a panic.
//! - **Errors**: [`SendError::permanent`] is true only for an SMTP 5xx reply (RFC 5321
//!   §4.2.1: the same mail would fail again); 4xx replies, connection and TLS failures,
//!   timeouts and file errors are transient, for the worker to retry.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::TlsParameters;
use lettre::{Address, AsyncFileTransport, AsyncTransport, Tokio1Executor};
use serde::{Deserialize, Serialize};

use crate::booking::records::{BookingRecord, OccurrenceRecord};
use crate::calendar::ical::{self, Detail, Itip, ItipMethod, RoomInfo};
use crate::i18n::reasons;
use crate::i18n::{Arg, Lang, ToArg};
use crate::scheduling::{Zone, parse_local};

use super::smtp::{Security, SmtpClient};

/// The most dates a mail lists; a longer series ends with "… and N more dates".
const MAX_LISTED_DATES: usize = 60;

/// How mail leaves Lokal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransport {
    /// An SMTP server (`[mail.smtp]`).
    Smtp,
    /// One `.eml` file a mail in `file_dir`: for development, to read the mails.
    #[default]
    File,
    /// One line in the log a mail (recipient, subject, Message-ID); the mail goes nowhere.
    Log,
}

/// How the SMTP connection is secured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection, then STARTTLS, which is required (RFC 3207); usually port 587.
    #[default]
    Starttls,
    /// TLS from the first byte (implicit TLS, RFC 8314); usually port 465.
    Tls,
    /// No TLS at all: only for a server on the same host or in tests.
    None,
}

/// `[mail]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// `smtp`, `file` (the default) or `log`.
    pub transport: MailTransport,
    /// The sender, a mailbox (`Name <address>`); also the ORGANIZER of calendar invitations.
    pub from: String,
    /// Where replies go, when not to `from`.
    pub reply_to: Option<String>,
    /// The folder the `file` transport writes `.eml` files into (made when missing).
    pub file_dir: PathBuf,
    pub smtp: SmtpConfig,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            transport: MailTransport::File,
            from: "Lokal <lokal@localhost>".to_owned(),
            reply_to: None,
            file_dir: PathBuf::from("data/mail"),
            smtp: SmtpConfig::default(),
        }
    }
}

/// `[mail.smtp]`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// Log in (AUTH PLAIN or LOGIN) with this name and `password` or `password_file`.
    pub username: Option<String>,
    pub password: Option<String>,
    /// A file whose content (trailing line break removed) is the password.
    pub password_file: Option<PathBuf>,
    /// How long one SMTP command may take, in seconds.
    pub timeout_secs: u64,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            host: String::new(),
            port: 587,
            tls: SmtpTls::Starttls,
            username: None,
            password: None,
            password_file: None,
            timeout_secs: 30,
        }
    }
}

/// The password is never printed.
impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("password_file", &self.password_file)
            .field("timeout_secs", &self.timeout_secs)
            .finish()
    }
}

/// A mail that cannot be made, or a configuration that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// A `[mail]` setting is wrong; `key` names it (e.g. `mail.smtp.host`).
    #[error("{key}: {message}")]
    Config { key: &'static str, message: String },
    /// An address (of `what`: a recipient, the sender) that is not a valid e-mail address.
    #[error("{what}: not a valid e-mail address: {value:?}")]
    Address { what: &'static str, value: String },
    /// The data cannot make a mail (e.g. a booking with an unknown time zone).
    #[error("the mail cannot be composed: {0}")]
    Compose(String),
}

/// A mail that was not sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    /// True when sending the same mail again cannot succeed (an SMTP 5xx reply).
    pub permanent: bool,
    pub message: String,
}

/// Sends mails with the configured transport. Cheap to share behind an `Arc`, and safe to use
/// from several tasks at once.
///
/// SMTP connections are pooled ([`super::smtp`]): a mail takes an idle connection if there
/// is one, else opens one, and gives it back after the mail, so a burst of mails shares a few
/// connections instead of paying TCP, EHLO, TLS and AUTH per mail (issue 15). At most
/// `connections` idle connections are kept, each for at most a minute.
pub struct Mailer {
    transport: Transport,
}

/// Idle SMTP connections kept by [`Mailer::new`] (see [`Mailer::with_connections`]).
const DEFAULT_SMTP_CONNECTIONS: u32 = 4;

enum Transport {
    Smtp(Box<SmtpClient>),
    File(AsyncFileTransport<Tokio1Executor>),
    Log,
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.transport {
            Transport::Smtp(_) => "smtp",
            Transport::File(_) => "file",
            Transport::Log => "log",
        };
        f.debug_struct("Mailer").field("transport", &kind).finish()
    }
}

fn config_error(key: &'static str, message: impl Into<String>) -> MailError {
    MailError::Config {
        key,
        message: message.into(),
    }
}

impl Mailer {
    /// The transport `cfg` describes, after checking every setting it uses (the sender, the
    /// SMTP host, credentials and password file, the mail folder, which is made if missing).
    pub fn new(cfg: &MailConfig) -> Result<Mailer, MailError> {
        Mailer::with_connections(cfg, DEFAULT_SMTP_CONNECTIONS)
    }

    /// [`Mailer::new`], keeping up to `connections` idle SMTP connections for reuse (the
    /// worker passes `notify.parallel`, its number of mails in flight).
    pub fn with_connections(cfg: &MailConfig, connections: u32) -> Result<Mailer, MailError> {
        sender(cfg)?;
        reply_to(cfg)?;
        let transport = match cfg.transport {
            MailTransport::Smtp => Transport::Smtp(Box::new(smtp_client(&cfg.smtp, connections)?)),
            MailTransport::File => {
                std::fs::create_dir_all(&cfg.file_dir).map_err(|e| {
                    config_error(
                        "mail.file_dir",
                        format!("cannot make {}: {e}", cfg.file_dir.display()),
                    )
                })?;
                Transport::File(AsyncFileTransport::<Tokio1Executor>::new(&cfg.file_dir))
            }
            MailTransport::Log => Transport::Log,
        };
        Ok(Mailer { transport })
    }

    /// Sends one mail. See [`SendError::permanent`] for what is worth retrying.
    pub async fn send(&self, m: lettre::Message) -> Result<(), SendError> {
        match &self.transport {
            Transport::Smtp(smtp) => smtp.send(m.envelope(), &m.formatted()).await,
            Transport::File(file) => file.send(m).await.map(|_| ()).map_err(|e| SendError {
                permanent: false,
                message: format!("mail file: {e}"),
            }),
            Transport::Log => {
                let headers = m.headers();
                let to: Vec<String> = m.envelope().to().iter().map(ToString::to_string).collect();
                tracing::info!(
                    to = %to.join(", "),
                    subject = headers.get_raw("Subject").unwrap_or_default(),
                    message_id = headers.get_raw("Message-ID").unwrap_or_default(),
                    "mail not sent (mail.transport = \"log\")"
                );
                Ok(())
            }
        }
    }
}

fn smtp_client(smtp: &SmtpConfig, connections: u32) -> Result<SmtpClient, MailError> {
    let host = smtp.host.trim();
    if host.is_empty() {
        return Err(config_error(
            "mail.smtp.host",
            "is required when mail.transport is \"smtp\"",
        ));
    }
    if smtp.port == 0 {
        return Err(config_error("mail.smtp.port", "must be a port number"));
    }
    if smtp.timeout_secs == 0 {
        return Err(config_error("mail.smtp.timeout_secs", "must be at least 1"));
    }
    let security = match smtp.tls {
        SmtpTls::None => Security::None,
        SmtpTls::Starttls => Security::Starttls(
            TlsParameters::new(host.to_owned())
                .map_err(|e| config_error("mail.smtp.tls", e.to_string()))?,
        ),
        SmtpTls::Tls => SmtpClient::implicit_tls().map_err(|e| config_error("mail.smtp.tls", e))?,
    };
    let password = match (&smtp.password, &smtp.password_file) {
        (Some(_), Some(_)) => {
            return Err(config_error(
                "mail.smtp.password_file",
                "set either mail.smtp.password or mail.smtp.password_file, not both",
            ));
        }
        (Some(p), None) => Some(p.clone()),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                config_error(
                    "mail.smtp.password_file",
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            Some(text.trim_end_matches(['\r', '\n']).to_owned())
        }
        (None, None) => None,
    };
    let credentials = match (&smtp.username, password) {
        (Some(user), Some(password)) => Some(Credentials::new(user.clone(), password)),
        (Some(_), None) => {
            return Err(config_error(
                "mail.smtp.password",
                "mail.smtp.username is set, but neither mail.smtp.password nor mail.smtp.password_file",
            ));
        }
        (None, Some(_)) => {
            return Err(config_error(
                "mail.smtp.username",
                "a password is set, but no mail.smtp.username",
            ));
        }
        (None, None) => None,
    };
    Ok(SmtpClient::new(
        host.to_owned(),
        smtp.port,
        security,
        Duration::from_secs(smtp.timeout_secs),
        credentials,
        usize::try_from(connections).unwrap_or(1),
    ))
}

/// What happened to a booking, for the resident's mail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BookingMailKind {
    /// A receipt: the request is waiting for a clerk.
    Received,
    /// Approved: carries `METHOD:REQUEST`.
    Approved,
    /// Rejected, with the clerk's reason.
    Rejected,
    /// Cancelled (by the resident or a clerk), with the reason: carries `METHOD:CANCEL`.
    Cancelled,
    /// The hold ran out before a clerk decided.
    Expired,
    /// Some dates approved ([`BookingMail::dates`]), the booking not as a whole (others still
    /// wait): carries `METHOD:REQUEST` of the booking as it stands.
    DatesApproved,
    /// Some dates rejected, with the reason.
    DatesRejected,
    /// Some dates cancelled, with the reason: carries `METHOD:CANCEL` with a RECURRENCE-ID a
    /// date, so the requester's calendar drops those dates and keeps the others.
    DatesCancelled,
    /// Some dates' hold ran out (others were approved).
    DatesExpired,
    /// A date moved to another time: carries `METHOD:REQUEST` of the booking as it stands.
    DatesMoved,
}

impl BookingMailKind {
    /// Whether the mail is about some dates of the booking ([`BookingMail::dates`]).
    pub fn about_dates(self) -> bool {
        matches!(
            self,
            BookingMailKind::DatesApproved
                | BookingMailKind::DatesRejected
                | BookingMailKind::DatesCancelled
                | BookingMailKind::DatesExpired
                | BookingMailKind::DatesMoved
        )
    }
}

/// A resident's mail about their own booking.
#[derive(Clone, Copy, Debug)]
pub struct BookingMail<'a> {
    pub kind: BookingMailKind,
    pub lang: Lang,
    pub to_name: &'a str,
    pub to_email: &'a str,
    pub booking: &'a BookingRecord,
    pub room_name: &'a str,
    pub building: Option<&'a str>,
    /// The clerk's or the resident's reason (rejected, cancelled).
    pub reason: Option<&'a str>,
    /// The dates (occurrence `seq`) a mail about dates is about; empty otherwise.
    pub dates: &'a [i64],
    /// A stable id of this mail, for `Message-ID`.
    pub message_id: &'a str,
    /// The booking's page, for the resident.
    pub booking_url: &'a str,
}

/// One new request in a clerk's digest. `when` is already in words (see [`when_text`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestItem {
    pub booking_id: String,
    pub room_name: String,
    pub when: String,
    pub requester_name: String,
    pub purpose: String,
}

/// A clerk's digest of new pending requests.
#[derive(Clone, Copy, Debug)]
pub struct DigestMail<'a> {
    pub lang: Lang,
    pub to_name: &'a str,
    pub to_email: &'a str,
    pub items: &'a [DigestItem],
    pub message_id: &'a str,
    pub queue_url: &'a str,
}

fn text(s: impl Into<String>) -> Arg {
    Arg::Text(s.into())
}

/// Header text from user data: every control character (CR and LF included) becomes a
/// space, runs of spaces one, so that no value can end a header line.
fn header_text(s: &str) -> String {
    let replaced: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    replaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Body text from user data: line breaks kept (as LF, lettre writes CRLF), other control
/// characters but TAB dropped: the same cleaning as an iCalendar TEXT value gets.
fn body_text(s: &str) -> String {
    crate::ical::clean_text(s)
}

fn sender(cfg: &MailConfig) -> Result<Mailbox, MailError> {
    cfg.from.trim().parse::<Mailbox>().map_err(|e| {
        config_error(
            "mail.from",
            format!("not a mailbox like \"Lokal <lokal@example.org>\": {e}"),
        )
    })
}

fn reply_to(cfg: &MailConfig) -> Result<Option<Mailbox>, MailError> {
    match cfg.reply_to.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => text
            .parse::<Mailbox>()
            .map(Some)
            .map_err(|e| config_error("mail.reply_to", format!("not a mailbox: {e}"))),
    }
}

/// The recipient: `name <email>`, the address checked.
fn recipient(name: &str, email: &str) -> Result<Mailbox, MailError> {
    let address = email
        .trim()
        .parse::<Address>()
        .map_err(|_| MailError::Address {
            what: "recipient",
            value: email.to_owned(),
        })?;
    let name = header_text(name);
    Ok(Mailbox::new((!name.is_empty()).then_some(name), address))
}

/// `<id>`: the id's characters limited to those a msg-id may hold (RFC 5322 §3.6.4), and
/// `@domain` of the sender added when the id has none.
fn message_id(id: &str, from: &Mailbox) -> String {
    let clean: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.@".contains(*c))
        .collect();
    let clean = clean.trim_matches('.');
    if clean.contains('@') {
        format!("<{clean}>")
    } else {
        format!("<{clean}@{}>", from.email.domain())
    }
}

/// The headers every mail of Lokal has.
fn builder(
    cfg: &MailConfig,
    to: Mailbox,
    subject: &str,
    id: &str,
) -> Result<lettre::message::MessageBuilder, MailError> {
    let from = sender(cfg)?;
    let mut b = lettre::Message::builder()
        .message_id(Some(message_id(id, &from)))
        .from(from)
        .to(to)
        .subject(header_text(subject))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".to_owned(),
        ));
    if let Some(reply_to) = reply_to(cfg)? {
        b = b.reply_to(reply_to);
    }
    Ok(b)
}

fn compose_error(e: impl fmt::Display) -> MailError {
    MailError::Compose(e.to_string())
}

fn zone_of(booking: &BookingRecord) -> Result<Zone, MailError> {
    Zone::parse(&booking.time_zone)
        .map_err(|e| compose_error(format!("time zone {:?}: {e}", booking.time_zone)))
}

/// The word for an occurrence whose status differs from its booking's ("ikke med" for a
/// skipped date), or `None`.
fn date_note(
    lang: Lang,
    booking_status: crate::scheduling::BookingStatus,
    o: &OccurrenceRecord,
) -> Option<String> {
    if o.status == booking_status {
        return None;
    }
    use crate::scheduling::{BookingStatus as B, OccurrenceStatus as O};
    let key = match o.status {
        O::Skipped => "mail-date-skipped",
        O::Booked(B::Cancelled) => "mail-date-cancelled",
        O::Booked(B::Rejected) => "mail-date-rejected",
        O::Booked(B::Pending) => "mail-date-pending",
        O::Booked(B::Expired) => "mail-date-expired",
        O::Booked(B::Approved) => return None,
    };
    Some(match date_reason(o) {
        Some(why) if matches!(o.status, O::Booked(B::Cancelled | B::Rejected)) => {
            format!("{}: {why}", lang.t(key))
        }
        _ => lang.t(key),
    })
}

/// A date's own reason in one line, cut to a length a list of dates can carry.
fn date_reason(o: &OccurrenceRecord) -> Option<String> {
    const MAX: usize = 200;
    let why = body_text(o.status_reason.as_deref()?);
    let why = why.split_whitespace().collect::<Vec<_>>().join(" ");
    if why.is_empty() {
        return None;
    }
    Some(match why.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &why[..cut]),
        None => why,
    })
}

/// A booking's time in words, in the room's local time: the span of a single booking
/// ("tirsdag 5. januar 2027 18:00–20:00"), or the first date and the number of dates of a
/// series ("tirsdag 5. januar 2027 18:00–20:00 (+ 9)"). For the clerk digest's
/// [`DigestItem::when`].
pub fn when_text(lang: Lang, booking: &BookingRecord) -> String {
    let Ok(zone) = zone_of(booking) else {
        return format!("{} – {}", booking.local_start, booking.local_end);
    };
    let mut dates: Vec<&OccurrenceRecord> = booking.occurrences.iter().collect();
    dates.sort_by_key(|o| (o.start, o.seq));
    match dates.first() {
        Some(first) => {
            let span = reasons::local_span(lang, zone.local(first.start), zone.local(first.end));
            if dates.len() > 1 {
                format!("{span} (+ {})", dates.len() - 1)
            } else {
                span
            }
        }
        None => match (
            parse_local(&booking.local_start),
            parse_local(&booking.local_end),
        ) {
            (Ok(s), Ok(e)) => reasons::local_span(lang, s, e),
            _ => format!("{} – {}", booking.local_start, booking.local_end),
        },
    }
}

/// The lines saying when: `Tid: ...` for one date; `Datoer (n):` and a line a date for a
/// series, each date that is not part of it marked ("ikke med").
fn when_lines(lang: Lang, booking: &BookingRecord, zone: Zone) -> Vec<String> {
    let mut dates: Vec<&OccurrenceRecord> = booking.occurrences.iter().collect();
    dates.sort_by_key(|o| (o.start, o.seq));
    if dates.len() <= 1 {
        return vec![format!(
            "{}: {}",
            lang.t("mail-label-when"),
            when_text(lang, booking)
        )];
    }
    let mut lines = vec![format!(
        "{}:",
        lang.t_args("mail-label-dates", &[("count", dates.len().to_arg())])
    )];
    for o in dates.iter().take(MAX_LISTED_DATES) {
        let span = reasons::local_span(lang, zone.local(o.start), zone.local(o.end));
        match date_note(lang, booking.status, o) {
            Some(note) => lines.push(format!("  - {span} ({note})")),
            None => lines.push(format!("  - {span}")),
        }
    }
    if dates.len() > MAX_LISTED_DATES {
        lines.push(format!(
            "  {}",
            lang.t_args(
                "mail-more-dates",
                &[("count", (dates.len() - MAX_LISTED_DATES).to_arg())]
            )
        ));
    }
    lines
}

/// The SEQUENCE of a booking's iTIP messages: see the module documentation.
pub fn sequence(booking: &BookingRecord, method: ItipMethod) -> i64 {
    let base = (booking.updated_at - booking.created_at)
        .num_seconds()
        .max(0);
    match method {
        ItipMethod::Request => base,
        ItipMethod::Cancel => base + 1,
    }
}

/// The iMIP calendar of a booking mail: REQUEST for an approval, CANCEL for a cancellation,
/// none otherwise (and none when the booking has no dates to show).
fn calendar(
    cfg: &MailConfig,
    m: &BookingMail,
    zone: Zone,
) -> Result<Option<(ItipMethod, String)>, MailError> {
    let method = match m.kind {
        BookingMailKind::Approved
        | BookingMailKind::DatesApproved
        | BookingMailKind::DatesMoved => ItipMethod::Request,
        BookingMailKind::Cancelled | BookingMailKind::DatesCancelled => ItipMethod::Cancel,
        _ => return Ok(None),
    };
    let from = sender(cfg)?;
    let organiser_name = from
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "Lokal".to_owned());
    let organiser_email = from.email.to_string();
    let attendee = recipient(m.to_name, m.to_email)?;
    let attendee_email = attendee.email.to_string();
    let location = match m.building {
        Some(b) if !b.trim().is_empty() => format!("{}, {}", m.room_name, b),
        _ => m.room_name.to_owned(),
    };
    let room = RoomInfo {
        id: &m.booking.room_id,
        name: &location,
        zone,
    };
    let detail = Detail::Staff {
        show_organiser: false,
    };
    let stamp: DateTime<Utc> = m.booking.updated_at;
    let itip = Itip {
        method,
        sequence: sequence(m.booking, method),
        organiser_email: &organiser_email,
        organiser_name: &organiser_name,
        attendee_email: &attendee_email,
        attendee_name: m.to_name,
    };
    let text = if m.kind == BookingMailKind::DatesCancelled {
        ical::itip_cancel_dates(m.booking, &room, &detail, stamp, &itip, m.dates)
    } else {
        ical::itip_object(m.booking, &room, &detail, stamp, &itip)
    };
    Ok(text.map(|text| (method, text)))
}

/// A resident's mail about their booking: see the module documentation.
pub fn booking_mail(cfg: &MailConfig, m: &BookingMail) -> Result<lettre::Message, MailError> {
    let lang = m.lang;
    let to = recipient(m.to_name, m.to_email)?;
    let zone = zone_of(m.booking)?;
    let room = text(header_text(m.room_name));
    let (subject_key, body_key, calendar_key) = match m.kind {
        BookingMailKind::Received => ("mail-received-subject", "mail-received-body", None),
        BookingMailKind::Approved => (
            "mail-approved-subject",
            "mail-approved-body",
            Some("mail-approved-calendar"),
        ),
        BookingMailKind::Rejected => ("mail-rejected-subject", "mail-rejected-body", None),
        BookingMailKind::Cancelled => (
            "mail-cancelled-subject",
            "mail-cancelled-body",
            Some("mail-cancelled-calendar"),
        ),
        BookingMailKind::Expired => ("mail-expired-subject", "mail-expired-body", None),
        BookingMailKind::DatesApproved => (
            "mail-dates-approved-subject",
            "mail-dates-approved-body",
            Some("mail-approved-calendar"),
        ),
        BookingMailKind::DatesRejected => (
            "mail-dates-rejected-subject",
            "mail-dates-rejected-body",
            None,
        ),
        BookingMailKind::DatesCancelled => (
            "mail-dates-cancelled-subject",
            "mail-dates-cancelled-body",
            Some("mail-dates-cancelled-calendar"),
        ),
        BookingMailKind::DatesExpired => (
            "mail-dates-expired-subject",
            "mail-dates-expired-body",
            None,
        ),
        BookingMailKind::DatesMoved => (
            "mail-dates-moved-subject",
            "mail-dates-moved-body",
            Some("mail-approved-calendar"),
        ),
    };
    // The dates a mail about dates is about, in time order.
    let mut concerned: Vec<&OccurrenceRecord> = m
        .booking
        .occurrences
        .iter()
        .filter(|o| m.kind.about_dates() && m.dates.contains(&o.seq))
        .collect();
    concerned.sort_by_key(|o| (o.start, o.seq));
    let count = concerned.len().to_arg();
    let subject = lang.t_args(
        subject_key,
        &[("room", room.clone()), ("count", count.clone())],
    );
    let calendar = calendar(cfg, m, zone)?;

    let mut body = vec![
        lang.t_args("mail-greeting", &[("name", text(header_text(m.to_name)))]),
        String::new(),
        lang.t_args(body_key, &[("room", room), ("count", count)]),
    ];
    let shared_reason = m.reason.map(body_text).filter(|r| !r.trim().is_empty());
    for o in concerned.iter().take(MAX_LISTED_DATES) {
        let span = reasons::local_span(lang, zone.local(o.start), zone.local(o.end));
        // Each date's own reason, unless one reason is said for all of them below.
        match date_reason(o).filter(|_| shared_reason.is_none()) {
            Some(why) => body.push(format!("  - {span} ({why})")),
            None => body.push(format!("  - {span}")),
        }
    }
    if concerned.len() > MAX_LISTED_DATES {
        body.push(format!(
            "  {}",
            lang.t_args(
                "mail-more-dates",
                &[("count", (concerned.len() - MAX_LISTED_DATES).to_arg())]
            )
        ));
    }
    if let Some(reason) = shared_reason
        && !matches!(
            m.kind,
            BookingMailKind::Received
                | BookingMailKind::Approved
                | BookingMailKind::DatesApproved
                | BookingMailKind::DatesMoved
        )
    {
        body.push(String::new());
        body.push(lang.t_args("mail-reason", &[("reason", text(reason.trim()))]));
    }
    if m.kind.about_dates() {
        body.push(String::new());
        body.push(lang.t("mail-dates-rest"));
    }
    body.push(String::new());
    body.push(format!(
        "{}: {}",
        lang.t("mail-label-room"),
        header_text(m.room_name)
    ));
    if let Some(building) = m.building.filter(|b| !b.trim().is_empty()) {
        body.push(format!(
            "{}: {}",
            lang.t("mail-label-building"),
            header_text(building)
        ));
    }
    body.push(format!(
        "{}: {}",
        lang.t("mail-label-purpose"),
        header_text(&m.booking.purpose)
    ));
    body.extend(when_lines(lang, m.booking, zone));
    body.push(lang.t_args("mail-label-zone", &[("zone", text(zone.name()))]));
    if let (Some(key), Some(_)) = (calendar_key, &calendar) {
        body.push(String::new());
        body.push(lang.t(key));
    }
    body.push(String::new());
    body.push(lang.t_args("mail-link", &[("url", text(m.booking_url))]));
    body.push(String::new());
    body.push(format!("-- \n{}", lang.t("mail-footer")));
    let plain = body.join("\n") + "\n";

    let builder = builder(cfg, to, &subject, m.message_id)?;
    let message = match calendar {
        None => builder.singlepart(SinglePart::plain(plain)),
        Some((method, ics)) => {
            let part_type = ContentType::parse(&format!(
                "text/calendar; method={}; charset=UTF-8",
                method.as_str()
            ))
            .map_err(compose_error)?;
            let file_type = ContentType::parse("application/ics; name=\"invite.ics\"")
                .map_err(compose_error)?;
            builder.multipart(
                MultiPart::mixed()
                    .multipart(
                        MultiPart::alternative()
                            .singlepart(SinglePart::plain(plain))
                            .singlepart(SinglePart::builder().header(part_type).body(ics.clone())),
                    )
                    .singlepart(Attachment::new("invite.ics".to_owned()).body(ics, file_type)),
            )
        }
    };
    message.map_err(compose_error)
}

/// A clerk's digest: "N nye forespørsler", one line a request, the link to the queue.
pub fn digest_mail(cfg: &MailConfig, m: &DigestMail) -> Result<lettre::Message, MailError> {
    let lang = m.lang;
    let to = recipient(m.to_name, m.to_email)?;
    let count = m.items.len();
    let subject = lang.t_args("mail-digest-subject", &[("count", count.to_arg())]);
    let mut body = vec![
        lang.t_args("mail-greeting", &[("name", text(header_text(m.to_name)))]),
        String::new(),
        lang.t_args("mail-digest-intro", &[("count", count.to_arg())]),
        String::new(),
    ];
    for item in m.items {
        let line = lang.t_args(
            "mail-digest-item",
            &[
                ("room", text(header_text(&item.room_name))),
                ("when", text(header_text(&item.when))),
                ("name", text(header_text(&item.requester_name))),
                ("purpose", text(header_text(&item.purpose))),
            ],
        );
        body.push(format!("  - {line}"));
    }
    body.push(String::new());
    body.push(lang.t_args("mail-digest-link", &[("url", text(m.queue_url))]));
    body.push(String::new());
    body.push(format!("-- \n{}", lang.t("mail-footer")));
    let plain = body.join("\n") + "\n";
    builder(cfg, to, &subject, m.message_id)?
        .singlepart(SinglePart::plain(plain))
        .map_err(compose_error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use icalendar::parser::{Component, read_calendar, unfold};
    use mailparse::{MailHeaderMap, ParsedMail};

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn oslo() -> Zone {
        Zone::parse("Europe/Oslo").unwrap()
    }

    fn occ(seq: i64, local: &str, status: &str) -> OccurrenceRecord {
        let start = oslo().to_utc(parse_local(local).unwrap()).unwrap();
        let end = start + TimeDelta::hours(2);
        OccurrenceRecord {
            seq,
            start,
            end,
            block_start: start,
            block_end: end,
            status: crate::scheduling::OccurrenceStatus::parse(status).unwrap(),

            status_reason: None,
            reasons: None,
            replaces: None,
            asked_at: None,
        }
    }

    fn single(status: &str) -> BookingRecord {
        BookingRecord {
            id: "bk-1".into(),
            room_id: "room-1".into(),
            requester_id: "resident:r-42".into(),
            requester_name: "Kari Nordmann".into(),
            purpose: "Korøvelse".into(),
            attendees: 12,
            local_start: "2027-01-05T18:00".into(),
            local_end: "2027-01-05T20:00".into(),
            time_zone: "Europe/Oslo".into(),
            recurrence: None,
            on_conflict: "skip".into(),
            status: crate::scheduling::BookingStatus::parse(status).unwrap(),
            status_reason: None,
            hold_until: None,
            reasons: "[]".into(),
            created_at: utc("2026-12-01T10:00:00Z"),
            updated_at: utc("2026-12-01T10:05:00Z"),
            occurrences: vec![occ(0, "2027-01-05T18:00", status)],
        }
    }

    /// Tuesdays from 5 January 2027, four dates, the second skipped (the hall was taken).
    fn series() -> BookingRecord {
        let mut b = single("approved");
        b.id = "bk-series".into();
        b.recurrence = Some("FREQ=WEEKLY;COUNT=4".into());
        b.occurrences = vec![
            occ(0, "2027-01-05T18:00", "approved"),
            occ(1, "2027-01-12T18:00", "skipped"),
            occ(2, "2027-01-19T18:00", "approved"),
            occ(3, "2027-01-26T18:00", "approved"),
        ];
        b
    }

    fn config() -> MailConfig {
        MailConfig {
            from: "Lokal Fjordvik <booking@fjordvik.example>".into(),
            ..MailConfig::default()
        }
    }

    fn mail<'a>(kind: BookingMailKind, lang: Lang, booking: &'a BookingRecord) -> BookingMail<'a> {
        BookingMail {
            kind,
            lang,
            to_name: "Kari Nordmann",
            to_email: "kari@example.no",
            booking,
            room_name: "Storsalen",
            building: Some("Kulturhuset"),
            reason: Some("Salen skal males"),
            dates: &[],
            message_id: "msg-1",
            booking_url: "https://lokal.example/bookinger/bk-1",
        }
    }

    /// The formatted message, parsed.
    struct Sent(Vec<u8>);

    impl Sent {
        fn of(m: &lettre::Message) -> Sent {
            Sent(m.formatted())
        }
        fn parsed(&self) -> ParsedMail<'_> {
            mailparse::parse_mail(&self.0).unwrap()
        }
        fn header(&self, name: &str) -> Option<String> {
            self.parsed().headers.get_first_value(name)
        }
        fn leaves(&self) -> Vec<(String, Option<String>, String)> {
            fn walk(p: &ParsedMail, out: &mut Vec<(String, Option<String>, String)>) {
                if p.subparts.is_empty() {
                    out.push((
                        p.ctype.mimetype.clone(),
                        p.ctype.params.get("method").cloned(),
                        p.get_body().unwrap(),
                    ));
                }
                for s in &p.subparts {
                    walk(s, out);
                }
            }
            let mut out = Vec::new();
            walk(&self.parsed(), &mut out);
            out
        }
        fn text(&self) -> String {
            self.leaves()
                .into_iter()
                .find(|l| l.0 == "text/plain")
                .unwrap()
                .2
                .replace("\r\n", "\n")
        }
        /// The text/calendar part's method parameter and body.
        fn calendar(&self) -> Option<(String, String)> {
            self.leaves()
                .into_iter()
                .find(|l| l.0 == "text/calendar")
                .map(|l| (l.1.unwrap_or_default(), l.2))
        }
    }

    fn prop<'a>(c: &'a Component<'a>, name: &str) -> Option<&'a str> {
        c.find_prop(name).map(|p| p.val.as_str())
    }

    fn param(c: &Component, prop: &str, key: &str) -> Option<String> {
        c.find_prop(prop)?
            .params
            .iter()
            .find(|p| p.key == key)
            .and_then(|p| p.val.as_ref())
            .map(|v| v.to_string())
    }

    #[test]
    fn every_kind_composes_in_both_languages() {
        let cases = [
            (
                BookingMailKind::Received,
                "pending",
                "Forespørsel mottatt: Storsalen",
                "Request received: Storsalen",
            ),
            (
                BookingMailKind::Approved,
                "approved",
                "Godkjent: Storsalen",
                "Approved: Storsalen",
            ),
            (
                BookingMailKind::Rejected,
                "rejected",
                "Avslått: Storsalen",
                "Rejected: Storsalen",
            ),
            (
                BookingMailKind::Cancelled,
                "cancelled",
                "Avlyst: Storsalen",
                "Cancelled: Storsalen",
            ),
            (
                BookingMailKind::Expired,
                "expired",
                "Ikke behandlet i tide: Storsalen",
                "Not decided in time: Storsalen",
            ),
        ];
        for (kind, status, nb, en) in cases {
            let b = single(status);
            for (lang, subject, date, room_label) in [
                (
                    Lang::Nb,
                    nb,
                    "tirsdag 5. januar 2027 18:00–20:00",
                    "Lokale: Storsalen",
                ),
                (
                    Lang::En,
                    en,
                    "Tuesday 5 January 2027 18:00–20:00",
                    "Room: Storsalen",
                ),
            ] {
                let sent = Sent::of(&booking_mail(&config(), &mail(kind, lang, &b)).unwrap());
                assert_eq!(sent.header("Subject").as_deref(), Some(subject));
                let text = sent.text();
                for wanted in [
                    date,
                    room_label,
                    "Kulturhuset",
                    "Korøvelse",
                    "https://lokal.example/bookinger/bk-1",
                    "Europe/Oslo",
                ] {
                    assert!(
                        text.contains(wanted),
                        "{kind:?} {lang:?} lacks {wanted:?}:\n{text}"
                    );
                }
                let with_reason = matches!(
                    kind,
                    BookingMailKind::Rejected
                        | BookingMailKind::Cancelled
                        | BookingMailKind::Expired
                );
                assert_eq!(
                    text.contains("Salen skal males"),
                    with_reason,
                    "{kind:?}: {text}"
                );
                assert!(!text.contains("mail-"), "an unresolved key: {text}");
                let calendar = sent.calendar().map(|c| c.0);
                let expected = match kind {
                    BookingMailKind::Approved => Some("REQUEST".to_owned()),
                    BookingMailKind::Cancelled => Some("CANCEL".to_owned()),
                    _ => None,
                };
                assert_eq!(calendar, expected, "{kind:?}");
            }
        }
    }

    #[test]
    fn headers_say_who_from_and_which_message() {
        let b = single("approved");
        let mut cfg = config();
        cfg.reply_to = Some("Servicetorget <service@fjordvik.example>".into());
        let sent =
            Sent::of(&booking_mail(&cfg, &mail(BookingMailKind::Approved, Lang::Nb, &b)).unwrap());
        assert_eq!(
            sent.header("Message-ID").as_deref(),
            Some("<msg-1@fjordvik.example>")
        );
        assert_eq!(
            sent.header("Auto-Submitted").as_deref(),
            Some("auto-generated")
        );
        assert!(
            sent.header("From")
                .unwrap()
                .contains("<booking@fjordvik.example>")
        );
        assert!(
            sent.header("Reply-To")
                .unwrap()
                .contains("<service@fjordvik.example>")
        );
        assert!(sent.header("To").unwrap().contains("<kari@example.no>"));
        assert!(sent.header("Date").is_some());
        // An id with its own domain is kept as it is.
        let mut m = mail(BookingMailKind::Received, Lang::Nb, &b);
        m.message_id = "outbox-7.received@lokal";
        let sent = Sent::of(&booking_mail(&cfg, &m).unwrap());
        assert_eq!(
            sent.header("Message-ID").as_deref(),
            Some("<outbox-7.received@lokal>")
        );
    }

    #[test]
    fn an_approval_carries_an_imip_request_in_the_rooms_zone() {
        let b = single("approved");
        let sent = Sent::of(
            &booking_mail(&config(), &mail(BookingMailKind::Approved, Lang::En, &b)).unwrap(),
        );
        let (method, body) = sent.calendar().unwrap();
        assert_eq!(method, "REQUEST");
        let unfolded = unfold(&body);
        let cal = read_calendar(&unfolded).unwrap();
        assert_eq!(
            cal.properties
                .iter()
                .find(|p| p.name == "METHOD")
                .map(|p| p.val.as_str()),
            Some("REQUEST")
        );
        let zone = cal
            .components
            .iter()
            .find(|c| c.name == "VTIMEZONE")
            .unwrap();
        assert_eq!(prop(zone, "TZID"), Some("Europe/Oslo"));
        let events: Vec<&Component> = cal
            .components
            .iter()
            .filter(|c| c.name == "VEVENT")
            .collect();
        assert_eq!(events.len(), 1);
        let e = events[0];
        assert_eq!(prop(e, "UID"), Some("bk-1@lokal"));
        assert_eq!(prop(e, "DTSTART"), Some("20270105T180000"));
        assert_eq!(param(e, "DTSTART", "TZID").as_deref(), Some("Europe/Oslo"));
        assert_eq!(prop(e, "DTEND"), Some("20270105T200000"));
        assert_eq!(prop(e, "STATUS"), Some("CONFIRMED"));
        assert_eq!(prop(e, "SUMMARY"), Some("Korøvelse"));
        assert_eq!(prop(e, "LOCATION"), Some("Storsalen, Kulturhuset"));
        assert_eq!(prop(e, "DTSTAMP"), Some("20261201T100500Z"));
        // Five minutes between creation and approval.
        assert_eq!(prop(e, "SEQUENCE"), Some("300"));
        assert_eq!(
            prop(e, "ORGANIZER"),
            Some("mailto:booking@fjordvik.example")
        );
        assert_eq!(
            param(e, "ORGANIZER", "CN").as_deref(),
            Some("Lokal Fjordvik")
        );
        assert_eq!(prop(e, "ATTENDEE"), Some("mailto:kari@example.no"));
        assert_eq!(param(e, "ATTENDEE", "CN").as_deref(), Some("Kari Nordmann"));
        assert_eq!(
            param(e, "ATTENDEE", "PARTSTAT").as_deref(),
            Some("ACCEPTED")
        );
        assert_eq!(param(e, "ATTENDEE", "RSVP").as_deref(), Some("FALSE"));
        assert!(sent.text().contains("invite.ics"));
    }

    #[test]
    fn a_cancellation_cancels_the_same_uid_with_a_higher_sequence() {
        let approved = single("approved");
        let request = Sent::of(
            &booking_mail(
                &config(),
                &mail(BookingMailKind::Approved, Lang::Nb, &approved),
            )
            .unwrap(),
        );
        let mut cancelled = single("cancelled");
        // Cancelled within the same second as the approval: still above the REQUEST.
        cancelled.updated_at = approved.updated_at + TimeDelta::milliseconds(300);
        let cancel = Sent::of(
            &booking_mail(
                &config(),
                &mail(BookingMailKind::Cancelled, Lang::Nb, &cancelled),
            )
            .unwrap(),
        );
        let seq_uid = |sent: &Sent, method: &str| {
            let (m, body) = sent.calendar().unwrap();
            assert_eq!(m, method);
            let unfolded = unfold(&body);
            let cal = read_calendar(&unfolded).unwrap();
            let events: Vec<&Component> = cal
                .components
                .iter()
                .filter(|c| c.name == "VEVENT")
                .collect();
            assert_eq!(events.len(), 1);
            let e = events[0];
            assert!(e.find_prop("RECURRENCE-ID").is_none());
            (
                prop(e, "SEQUENCE").unwrap().parse::<i64>().unwrap(),
                prop(e, "UID").unwrap().to_owned(),
                prop(e, "STATUS").unwrap().to_owned(),
                prop(e, "DTSTART").unwrap().to_owned(),
            )
        };
        let (req_seq, req_uid, req_status, _) = seq_uid(&request, "REQUEST");
        let (cancel_seq, cancel_uid, cancel_status, cancel_start) = seq_uid(&cancel, "CANCEL");
        assert_eq!(req_uid, cancel_uid);
        assert!(cancel_seq > req_seq, "{cancel_seq} > {req_seq}");
        assert_eq!(
            (req_status.as_str(), cancel_status.as_str()),
            ("CONFIRMED", "CANCELLED")
        );
        assert_eq!(cancel_start, "20270105T180000");
    }

    #[test]
    fn a_series_approval_has_its_rule_and_the_skipped_date_excluded_and_listed() {
        let b = series();
        let sent = Sent::of(
            &booking_mail(&config(), &mail(BookingMailKind::Approved, Lang::Nb, &b)).unwrap(),
        );
        let (_, body) = sent.calendar().unwrap();
        let unfolded = unfold(&body);
        let cal = read_calendar(&unfolded).unwrap();
        let e = cal.components.iter().find(|c| c.name == "VEVENT").unwrap();
        assert_eq!(prop(e, "RRULE"), Some("FREQ=WEEKLY;UNTIL=20270126T170000Z"));
        assert_eq!(prop(e, "EXDATE"), Some("20270112T180000"));
        assert_eq!(param(e, "EXDATE", "TZID").as_deref(), Some("Europe/Oslo"));
        let text = sent.text();
        assert!(text.contains("Datoer (4):"), "{text}");
        assert!(
            text.contains("  - tirsdag 12. januar 2027 18:00–20:00 (ikke med)"),
            "{text}"
        );
        assert!(
            text.contains("  - tirsdag 26. januar 2027 18:00–20:00\n"),
            "{text}"
        );

        // A series cancelled whole: one CANCEL for every date, the rule kept.
        let mut cancelled = series();
        cancelled.status = crate::scheduling::BookingStatus::Cancelled;
        for o in &mut cancelled.occurrences {
            if o.status == crate::scheduling::BookingStatus::Approved {
                o.status = crate::scheduling::BookingStatus::Cancelled.into();
            }
        }
        cancelled.updated_at += TimeDelta::hours(1);
        let sent = Sent::of(
            &booking_mail(
                &config(),
                &mail(BookingMailKind::Cancelled, Lang::Nb, &cancelled),
            )
            .unwrap(),
        );
        let (method, body) = sent.calendar().unwrap();
        assert_eq!(method, "CANCEL");
        let unfolded = unfold(&body);
        let cal = read_calendar(&unfolded).unwrap();
        let events: Vec<&Component> = cal
            .components
            .iter()
            .filter(|c| c.name == "VEVENT")
            .collect();
        assert_eq!(events.len(), 1);
        assert_eq!(prop(events[0], "UID"), Some("bk-series@lokal"));
        assert_eq!(prop(events[0], "STATUS"), Some("CANCELLED"));
        assert!(events[0].find_prop("RRULE").is_some());
    }

    #[test]
    fn one_cancelled_date_of_a_series_cancels_that_instance_only() {
        let mut b = series();
        b.occurrences[2].status = crate::scheduling::BookingStatus::Cancelled.into();
        b.occurrences[2].status_reason = Some("Koret tar pause".into());
        b.updated_at += TimeDelta::hours(1);
        let mut m = mail(BookingMailKind::DatesCancelled, Lang::Nb, &b);
        m.dates = &[2];
        m.reason = Some("Koret tar pause");
        let sent = Sent::of(&booking_mail(&config(), &m).unwrap());
        assert_eq!(
            sent.header("Subject").as_deref(),
            Some("Én dato avlyst: Storsalen")
        );
        let text = sent.text();
        assert!(
            text.contains("Denne datoen i bookingen din av Storsalen er avlyst:\n  - tirsdag 19. januar 2027 18:00–20:00\n"),
            "{text}"
        );
        assert!(text.contains("Begrunnelse: Koret tar pause"), "{text}");
        // The booking as it stands: the cancelled date marked, with why.
        assert!(
            text.contains("  - tirsdag 19. januar 2027 18:00–20:00 (avlyst: Koret tar pause)"),
            "{text}"
        );
        let (method, body) = sent.calendar().unwrap();
        assert_eq!(method, "CANCEL");
        let unfolded = unfold(&body);
        let cal = read_calendar(&unfolded).unwrap();
        let events: Vec<&Component> = cal
            .components
            .iter()
            .filter(|c| c.name == "VEVENT")
            .collect();
        assert_eq!(events.len(), 1, "{body}");
        let e = events[0];
        assert_eq!(prop(e, "UID"), Some("bk-series@lokal"));
        assert_eq!(prop(e, "RECURRENCE-ID"), Some("20270119T180000"));
        assert_eq!(
            param(e, "RECURRENCE-ID", "TZID").as_deref(),
            Some("Europe/Oslo")
        );
        assert_eq!(prop(e, "STATUS"), Some("CANCELLED"));
        assert!(e.find_prop("RRULE").is_none());
        // Higher than the approval's REQUEST before it.
        let request = series();
        let seq: i64 = prop(e, "SEQUENCE").unwrap().parse().unwrap();
        assert!(seq > sequence(&request, ItipMethod::Request));

        // In English, two dates, each with its own reason.
        let mut b = series();
        b.occurrences[0].status = crate::scheduling::BookingStatus::Rejected.into();
        b.occurrences[0].status_reason = Some("Stengt: maling".into());
        b.occurrences[3].status = crate::scheduling::BookingStatus::Rejected.into();
        b.occurrences[3].status_reason = Some("Cup final".into());
        let mut m = mail(BookingMailKind::DatesRejected, Lang::En, &b);
        m.dates = &[3, 0];
        m.reason = None;
        let sent = Sent::of(&booking_mail(&config(), &m).unwrap());
        assert_eq!(
            sent.header("Subject").as_deref(),
            Some("2 dates rejected: Storsalen")
        );
        let text = sent.text();
        assert!(
            text.contains("  - Tuesday 5 January 2027 18:00–20:00 (Stengt: maling)\n  - Tuesday 26 January 2027 18:00–20:00 (Cup final)\n"),
            "{text}"
        );
        assert!(sent.calendar().is_none());
        assert!(!text.contains("mail-"), "{text}");
    }

    #[test]
    fn user_text_cannot_add_headers() {
        let mut b = single("rejected");
        b.purpose = "Fest\r\nBcc: victim@example.org\r\n\r\nspam".into();
        let mut m = mail(BookingMailKind::Rejected, Lang::Nb, &b);
        m.to_name = "Kari\r\nBcc: evil@example.org";
        m.room_name = "Storsalen\r\nX-Injected: yes";
        m.reason = Some("Nei\r\nBcc: third@example.org");
        m.message_id = "id>\r\nBcc: fourth@example.org";
        let sent = Sent::of(&booking_mail(&config(), &m).unwrap());
        let parsed = sent.parsed();
        for h in &parsed.headers {
            let key = h.get_key();
            assert!(
                !key.eq_ignore_ascii_case("Bcc") && !key.eq_ignore_ascii_case("X-Injected"),
                "{key}"
            );
        }
        assert_eq!(
            sent.header("Subject").as_deref(),
            Some("Avslått: Storsalen X-Injected: yes")
        );
        assert_eq!(parsed.headers.get_all_values("To").len(), 1);
        let raw = String::from_utf8_lossy(&sent.0);
        let (head, _) = raw.split_once("\r\n\r\n").unwrap();
        assert!(
            !head.contains("\nBcc:") && !head.contains("\nX-Injected"),
            "{raw}"
        );
        // In the body, a name stays on its line.
        assert!(sent.text().contains("Lokale: Storsalen X-Injected: yes\n"));
    }

    #[test]
    fn a_bad_address_is_an_error_not_a_panic() {
        let b = single("approved");
        for bad in [
            "",
            "kari",
            "kari@",
            "@example.no",
            "kari@exa mple.no",
            "kari@example.no\r\nBcc: x@y.z",
            "<kari@example.no>",
        ] {
            let mut m = mail(BookingMailKind::Approved, Lang::Nb, &b);
            m.to_email = bad;
            match booking_mail(&config(), &m) {
                Err(MailError::Address { what, .. }) => assert_eq!(what, "recipient"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        let mut cfg = config();
        cfg.from = "Lokal <not an address>".into();
        let err = booking_mail(&cfg, &mail(BookingMailKind::Received, Lang::Nb, &b)).unwrap_err();
        assert!(err.to_string().starts_with("mail.from:"), "{err}");
        let mut b = single("approved");
        b.time_zone = "Mars/Olympus".into();
        assert!(matches!(
            booking_mail(&config(), &mail(BookingMailKind::Received, Lang::Nb, &b)),
            Err(MailError::Compose(_))
        ));
    }

    #[test]
    fn a_clerk_digest_counts_and_lists_the_requests() {
        let items = vec![
            DigestItem {
                booking_id: "a".into(),
                room_name: "Storsalen".into(),
                when: "onsdag 13. januar 2027 18:00–21:00".into(),
                requester_name: "Kari Nordmann".into(),
                purpose: "Korøvelse\r\nBcc: x@y.z".into(),
            },
            DigestItem {
                booking_id: "b".into(),
                room_name: "Gymsalen".into(),
                when: "torsdag 14. januar 2027 17:00–19:00".into(),
                requester_name: "Ola Hansen".into(),
                purpose: "Trening".into(),
            },
        ];
        let m = |lang, items| DigestMail {
            lang,
            to_name: "Erik Dahl",
            to_email: "erik@fjordvik.example",
            items,
            message_id: "digest-1",
            queue_url: "https://lokal.example/saksbehandling",
        };
        let sent = Sent::of(&digest_mail(&config(), &m(Lang::Nb, &items)).unwrap());
        assert_eq!(
            sent.header("Subject").as_deref(),
            Some("2 nye forespørsler")
        );
        let text = sent.text();
        assert!(text.contains("  - Storsalen, onsdag 13. januar 2027 18:00–21:00: Kari Nordmann – Korøvelse Bcc: x@y.z\n"), "{text}");
        assert!(text.contains("Gymsalen") && text.contains("https://lokal.example/saksbehandling"));
        let sent = Sent::of(&digest_mail(&config(), &m(Lang::En, &items[..1])).unwrap());
        assert_eq!(sent.header("Subject").as_deref(), Some("1 new request"));
        assert!(sent.text().contains("This request is waiting"));
        assert!(sent.calendar().is_none());
    }

    #[test]
    fn when_text_gives_the_first_date_and_how_many_more() {
        assert_eq!(
            when_text(Lang::En, &single("pending")),
            "Tuesday 5 January 2027 18:00–20:00"
        );
        assert_eq!(
            when_text(Lang::Nb, &series()),
            "tirsdag 5. januar 2027 18:00–20:00 (+ 3)"
        );
    }

    #[test]
    fn bad_settings_name_their_key() {
        let smtp = |f: &dyn Fn(&mut SmtpConfig)| {
            let mut cfg = MailConfig {
                transport: MailTransport::Smtp,
                ..MailConfig::default()
            };
            cfg.smtp.host = "smtp.example.org".into();
            f(&mut cfg.smtp);
            cfg
        };
        let key = |cfg: &MailConfig| match Mailer::new(cfg) {
            Err(MailError::Config { key, .. }) => key,
            other => panic!("{other:?}"),
        };
        assert_eq!(key(&smtp(&|s| s.host = " ".into())), "mail.smtp.host");
        assert_eq!(key(&smtp(&|s| s.port = 0)), "mail.smtp.port");
        assert_eq!(
            key(&smtp(&|s| s.timeout_secs = 0)),
            "mail.smtp.timeout_secs"
        );
        assert_eq!(
            key(&smtp(&|s| s.username = Some("lokal".into()))),
            "mail.smtp.password"
        );
        assert_eq!(
            key(&smtp(&|s| s.password = Some("x".into()))),
            "mail.smtp.username"
        );
        assert_eq!(
            key(&smtp(&|s| {
                s.username = Some("lokal".into());
                s.password_file = Some("/nonexistent/lokal-smtp-password".into());
            })),
            "mail.smtp.password_file"
        );
        let bad_from = MailConfig {
            from: "nobody".into(),
            ..MailConfig::default()
        };
        assert_eq!(key(&bad_from), "mail.from");
        let bad_reply = MailConfig {
            reply_to: Some("x@".into()),
            ..MailConfig::default()
        };
        assert_eq!(key(&bad_reply), "mail.reply_to");
        // Every transport with good settings starts; the password is never printed.
        for tls in [SmtpTls::Starttls, SmtpTls::Tls, SmtpTls::None] {
            let cfg = smtp(&move |s| {
                s.tls = tls;
                s.username = Some("lokal".into());
                s.password = Some("hemmelig".into());
            });
            Mailer::new(&cfg).unwrap();
            assert!(!format!("{cfg:?}").contains("hemmelig"));
        }
        let log = MailConfig {
            transport: MailTransport::Log,
            ..MailConfig::default()
        };
        Mailer::new(&log).unwrap();
    }

    #[test]
    fn settings_read_from_toml_with_defaults() {
        let cfg: MailConfig = toml::from_str(
            "transport = \"smtp\"\nfrom = \"Lokal <a@b.no>\"\n[smtp]\nhost = \"mx\"\ntls = \"tls\"\nport = 465\n",
        )
        .unwrap();
        assert_eq!(cfg.transport, MailTransport::Smtp);
        assert_eq!(
            (cfg.smtp.port, cfg.smtp.tls, cfg.smtp.timeout_secs),
            (465, SmtpTls::Tls, 30)
        );
        assert!(toml::from_str::<MailConfig>("transprot = \"smtp\"").is_err());
        let default: MailConfig = toml::from_str("").unwrap();
        assert_eq!(default, MailConfig::default());
        assert_eq!(default.transport, MailTransport::File);
        assert_eq!(default.smtp.tls, SmtpTls::Starttls);
        assert_eq!(default.smtp.port, 587);
    }

    #[tokio::test]
    async fn the_file_transport_writes_an_eml_file() {
        let dir = std::env::temp_dir().join(format!("lokal-mail-file-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cfg = MailConfig {
            transport: MailTransport::File,
            file_dir: dir.join("nested"),
            ..config()
        };
        let mailer = Mailer::new(&cfg).unwrap();
        let b = single("approved");
        mailer
            .send(booking_mail(&cfg, &mail(BookingMailKind::Approved, Lang::Nb, &b)).unwrap())
            .await
            .unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.join("nested"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].extension().and_then(|e| e.to_str()), Some("eml"));
        let sent = Sent(std::fs::read(&files[0]).unwrap());
        assert_eq!(
            sent.header("Subject").as_deref(),
            Some("Godkjent: Storsalen")
        );
        assert_eq!(sent.calendar().unwrap().0, "REQUEST");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn the_log_transport_sends_nothing_and_succeeds() {
        let cfg = MailConfig {
            transport: MailTransport::Log,
            ..config()
        };
        let b = single("pending");
        Mailer::new(&cfg)
            .unwrap()
            .send(booking_mail(&cfg, &mail(BookingMailKind::Received, Lang::En, &b)).unwrap())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_refused_connection_is_transient() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let mut cfg = config();
        cfg.transport = MailTransport::Smtp;
        cfg.smtp.host = "127.0.0.1".into();
        cfg.smtp.port = port;
        cfg.smtp.tls = SmtpTls::None;
        let mailer = Mailer::new(&cfg).unwrap();
        let b = single("approved");
        let err = mailer
            .send(booking_mail(&cfg, &mail(BookingMailKind::Received, Lang::Nb, &b)).unwrap())
            .await
            .unwrap_err();
        assert!(!err.permanent, "{err:?}");
    }
}
