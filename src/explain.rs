//! `lokal explain`: load a "what if" scenario from files and put it to the core.
//!
//! A scenario is a request file (room, requester, request), the policy file, the closure
//! calendars the room's policy names, and optionally a file of existing bookings and clerks'
//! blocks. This module does the file reading and the formatting; the deciding is
//! [`crate::scheduling::decide`]'s alone.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::Deserialize;

use crate::scheduling::{
    BookingIndex, BookingRequest, BookingStatus, Closure, ClosureCalendar, ClosureSet,
    ClosureSource, Decision, ExDate, ExistingBooking, Interval, Outcome, Policy, PolicySet,
    Recurrence, Requester, RequesterKind, Room, SeriesMode, Zone, decide, parse_local,
};

/// Why a scenario could not be loaded. Each names the file and what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

fn invalid(path: &Path, message: impl ToString) -> ScenarioError {
    ScenarioError::Invalid {
        path: path.to_owned(),
        message: message.to_string(),
    }
}

fn read(path: &Path) -> Result<String, ScenarioError> {
    std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
        path: path.to_owned(),
        source,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestFile {
    room: RoomSection,
    requester: RequesterSection,
    request: RequestSection,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoomSection {
    id: String,
    #[serde(default)]
    zone: Option<String>,
    capacity: Option<u32>,
    policy: String,
    #[serde(default)]
    parts: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequesterSection {
    id: String,
    kind: RequesterKind,
    #[serde(default)]
    groups: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestSection {
    start: String,
    end: String,
    #[serde(default)]
    attendees: u32,
    rrule: Option<String>,
    #[serde(default)]
    exdates: Vec<String>,
    #[serde(default)]
    rdates: Vec<String>,
    #[serde(default)]
    series: SeriesMode,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct BookingsFile {
    #[serde(default)]
    booking: Vec<BookingEntry>,
    #[serde(default)]
    block: Vec<BlockEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BookingEntry {
    id: String,
    #[serde(default)]
    requester: String,
    start: String,
    end: String,
    status: BookingStatus,
    parts: Option<Vec<String>>,
    setup: Option<String>,
    teardown: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BlockEntry {
    id: String,
    label: String,
    start: String,
    end: String,
}

/// Where the files of a scenario are.
#[derive(Clone, Debug)]
pub struct ScenarioPaths {
    pub request: PathBuf,
    pub policies: PathBuf,
    /// The folder the policy's `closure_calendars` are looked up in (`NAME.ics`).
    pub calendars: PathBuf,
    /// Extra closure calendars, applied whatever the policy says.
    pub closures: Vec<PathBuf>,
    pub bookings: Option<PathBuf>,
}

/// A loaded scenario, ready to decide.
pub struct Scenario {
    pub request: BookingRequest,
    pub requester: Requester,
    pub room: Room,
    pub policy: Policy,
    pub existing: BookingIndex,
    pub closures: ClosureSet,
    pub closure_names: Vec<String>,
}

/// Reads an instant: RFC 3339 with an offset, or a local wall time in `zone`.
fn instant(path: &Path, text: &str, zone: Zone) -> Result<DateTime<Utc>, ScenarioError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text.trim()) {
        return Ok(t.with_timezone(&Utc));
    }
    let local = parse_local(text).map_err(|e| invalid(path, e))?;
    zone.to_utc(local).map_err(|e| invalid(path, e))
}

fn interval(
    path: &Path,
    what: &str,
    start: &str,
    end: &str,
    zone: Zone,
) -> Result<Interval, ScenarioError> {
    Interval::new(instant(path, start, zone)?, instant(path, end, zone)?)
        .map_err(|e| invalid(path, format!("{what}: {e}")))
}

fn load_calendar(path: &Path) -> Result<ClosureCalendar, ScenarioError> {
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    ClosureCalendar::parse(&name, &read(path)?).map_err(|e| invalid(path, e))
}

impl Scenario {
    pub fn load(paths: &ScenarioPaths) -> Result<Self, ScenarioError> {
        let rpath = paths.request.as_path();
        let file: RequestFile = toml::from_str(&read(rpath)?).map_err(|e| invalid(rpath, e))?;

        let policies = PolicySet::from_toml(&read(&paths.policies)?)
            .map_err(|e| invalid(&paths.policies, e))?;
        let policy = policies
            .get(&file.room.policy)
            .map_err(|e| invalid(rpath, e))?
            .clone();

        let zone = match &file.room.zone {
            Some(z) => Zone::parse(z).map_err(|e| invalid(rpath, format!("room.zone: {e}")))?,
            None => Zone::default(),
        };
        let mut room = Room::new(file.room.id.clone(), zone).with_parts(file.room.parts.clone());
        room.capacity = file.room.capacity;

        let requester = Requester {
            id: file.requester.id,
            kind: file.requester.kind,
            groups: file.requester.groups,
        };

        let r = &file.request;
        let start =
            parse_local(&r.start).map_err(|e| invalid(rpath, format!("request.start: {e}")))?;
        let end = parse_local(&r.end).map_err(|e| invalid(rpath, format!("request.end: {e}")))?;
        let mut request =
            BookingRequest::new(start, end, r.attendees).map_err(|e| invalid(rpath, e))?;
        if let Some(rule) = &r.rrule {
            let mut rec = Recurrence::parse(rule)
                .map_err(|e| invalid(rpath, format!("request.rrule: {e}")))?;
            let mut exdates = Vec::new();
            for x in &r.exdates {
                exdates.push(match NaiveDate::parse_from_str(x.trim(), "%Y-%m-%d") {
                    Ok(d) => ExDate::On(d),
                    Err(_) => ExDate::At(
                        parse_local(x)
                            .map_err(|e| invalid(rpath, format!("request.exdates: {e}")))?,
                    ),
                });
            }
            let rdates = r
                .rdates
                .iter()
                .map(|x| parse_local(x).map_err(|e| invalid(rpath, format!("request.rdates: {e}"))))
                .collect::<Result<Vec<NaiveDateTime>, _>>()?;
            rec = rec.with_exdates(exdates).with_rdates(rdates);
            request = request
                .with_recurrence(rec, r.series)
                .map_err(|e| invalid(rpath, e))?;
        } else if !r.exdates.is_empty() || !r.rdates.is_empty() {
            return Err(invalid(
                rpath,
                "request.exdates and request.rdates need request.rrule",
            ));
        }

        let mut closures = ClosureSet::new();
        let mut closure_names = Vec::new();
        for name in &policy.closure_calendars {
            let path = paths.calendars.join(format!("{name}.ics"));
            closures = closures.with_calendar(load_calendar(&path)?);
            closure_names.push(name.clone());
        }
        for path in &paths.closures {
            let cal = load_calendar(path)?;
            closure_names.push(cal.name().to_owned());
            closures = closures.with_calendar(cal);
        }

        let mut bookings = Vec::new();
        if let Some(bpath) = &paths.bookings {
            let file: BookingsFile =
                toml::from_str(&read(bpath)?).map_err(|e| invalid(bpath, e))?;
            for b in file.booking {
                let span = interval(bpath, &format!("booking {}", b.id), &b.start, &b.end, zone)?;
                let buffer = |v: &Option<String>, default: crate::scheduling::Span| match v {
                    None => Ok(default),
                    Some(t) => crate::scheduling::Span::parse(t)
                        .map_err(|e| invalid(bpath, format!("booking {}: {e}", b.id))),
                };
                let setup = buffer(&b.setup, policy.setup)?;
                let teardown = buffer(&b.teardown, policy.teardown)?;
                bookings.push(ExistingBooking {
                    blocked: span.widen(setup.delta(), teardown.delta()),
                    id: b.id,
                    requester: b.requester,
                    parts: b.parts.unwrap_or_else(|| room.parts.clone()),
                    span,
                    status: b.status,
                });
            }
            for k in file.block {
                closures = closures.with_block(Closure {
                    interval: interval(bpath, &format!("block {}", k.id), &k.start, &k.end, zone)?,
                    label: k.label,
                    source: ClosureSource::Block { id: k.id },
                });
            }
        }

        Ok(Scenario {
            request,
            requester,
            room,
            policy,
            existing: BookingIndex::new(bookings),
            closures,
            closure_names,
        })
    }

    pub fn decide(&self, now: DateTime<Utc>) -> Decision {
        decide(
            &self.request,
            &self.requester,
            &self.room,
            &self.policy,
            &self.existing,
            &self.closures,
            now,
        )
    }
}

fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Approved => "APPROVED",
        Outcome::Pending => "PENDING (a clerk decides)",
        Outcome::Rejected => "REJECTED",
        Outcome::Skipped => "SKIPPED",
    }
}

/// The decision as text for people: the verdict, then each occurrence with its reasons.
pub fn render_text(scenario: &Scenario, decision: &Decision, now: DateTime<Utc>) -> String {
    let mut out = String::new();
    let zone = decision.zone;
    let _ = writeln!(
        out,
        "Room {} ({}), policy {:?}, requester {} ({}), now {}",
        scenario.room.id,
        zone,
        scenario.policy.name,
        scenario.requester.id,
        match scenario.requester.kind {
            crate::scheduling::RequesterKind::Resident => "resident",
            crate::scheduling::RequesterKind::Staff => "staff",
        },
        now.format("%Y-%m-%d %H:%M UTC"),
    );
    if !scenario.closure_names.is_empty() {
        let _ = writeln!(
            out,
            "Closure calendars: {}",
            scenario.closure_names.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "Existing blocking bookings: {}",
        scenario.existing.len()
    );
    let _ = writeln!(out, "Times are local to the room ({zone}).");
    let _ = writeln!(out);
    let _ = writeln!(out, "Decision: {}", outcome_word(decision.outcome));
    for r in &decision.reasons {
        let _ = writeln!(
            out,
            "  - [{}] {}",
            r.code(),
            crate::i18n::reasons::record(r, zone)
        );
    }
    let n = decision.occurrences.len();
    if n > 1 {
        let count = |o| {
            decision
                .occurrences
                .iter()
                .filter(|x| x.outcome == o)
                .count()
        };
        let _ = writeln!(
            out,
            "Occurrences: {n} ({} approved, {} pending, {} rejected, {} skipped)",
            count(Outcome::Approved),
            count(Outcome::Pending),
            count(Outcome::Rejected),
            count(Outcome::Skipped),
        );
    }
    if let Some(t) = &decision.truncated {
        let _ = match t {
            crate::scheduling::Truncation::Horizon { window_end } => writeln!(
                out,
                "The series goes on after {}, beyond the horizon; later dates are decided when they come within it.",
                window_end.format("%Y-%m-%d %H:%M")
            ),
            crate::scheduling::Truncation::MaxCount { limit } => writeln!(
                out,
                "The series goes on after {limit} occurrences, the most decided at once (policy max_occurrences)."
            ),
        };
    }
    for (i, o) in decision.occurrences.iter().enumerate() {
        let end_format = if o.local_end.date() == o.local_start.date() {
            "%H:%M"
        } else {
            "%Y-%m-%d %H:%M"
        };
        let _ = writeln!(
            out,
            "{:>3}. {} {} to {} {}",
            i + 1,
            o.local_start.format("%a"),
            o.local_start.format("%Y-%m-%d %H:%M"),
            o.local_end.format(end_format),
            outcome_word(o.outcome),
        );
        for r in &o.reasons {
            let _ = writeln!(
                out,
                "       - [{}] {}",
                r.code(),
                crate::i18n::reasons::record(r, zone)
            );
        }
    }
    out
}
