//! Room policies: the named rule sets that decide what may be booked and by whom.
//!
//! Policies are written in TOML (`seed/policies.toml` for the demo) and validated once into a
//! [`Policy`]; a `Policy` value is always consistent (windows ordered, `min <= max`, and so
//! on). Parsing takes text, never a path: reading files is the caller's job.
//!
//! The approval model follows Exchange room mailboxes: *book-in* groups are auto-approved when
//! a request is in policy, everyone else allowed to book gets `pending`, and out-of-policy
//! requests are rejected unless the requester may request out of policy.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{NaiveTime, Timelike, Weekday};
use serde::{Deserialize, Serialize};

use super::recurrence::MAX_COUNT;
use super::time::Span;

const MINUTES_PER_DAY: u32 = 24 * 60;

/// A window of opening hours within one local day, in minutes after midnight. `end` may be
/// 1440 (written `24:00`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Window {
    start: u32,
    end: u32,
}

impl Window {
    pub fn start_minute(self) -> u32 {
        self.start
    }
    pub fn end_minute(self) -> u32 {
        self.end
    }

    /// Parses `08:00-22:00`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let hint = "write opening hours as HH:MM-HH:MM, e.g. \"08:00-22:00\"";
        let (a, b) = text
            .split_once('-')
            .ok_or_else(|| format!("{text:?}: {hint}"))?;
        let minute = |s: &str| -> Result<u32, String> {
            let s = s.trim();
            if s == "24:00" {
                return Ok(MINUTES_PER_DAY);
            }
            NaiveTime::parse_from_str(s, "%H:%M")
                .map(|t| t.hour() * 60 + t.minute())
                .map_err(|_| format!("{text:?}: {s:?} is not a time; {hint}"))
        };
        let (start, end) = (minute(a)?, minute(b)?);
        if start >= end {
            return Err(format!("{text:?}: the window must end after it starts"));
        }
        Ok(Window { start, end })
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02}:{:02}-{:02}:{:02}",
            self.start / 60,
            self.start % 60,
            self.end / 60,
            self.end % 60
        )
    }
}

impl Serialize for Window {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Opening hours: zero or more windows per weekday, in local wall time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpeningHours {
    /// Indexed by `Weekday::num_days_from_monday()`; each day's windows sorted and disjoint.
    days: [Vec<Window>; 7],
}

impl OpeningHours {
    /// Open around the clock, every day.
    pub fn always() -> Self {
        let all = vec![Window {
            start: 0,
            end: MINUTES_PER_DAY,
        }];
        OpeningHours {
            days: std::array::from_fn(|_| all.clone()),
        }
    }

    pub fn windows(&self, day: Weekday) -> &[Window] {
        &self.days[day.num_days_from_monday() as usize]
    }
}

/// Who a rule applies to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub enum Audience {
    /// `@everyone`: anybody who can log in.
    Everyone,
    /// `@residents`: resident accounts.
    Residents,
    /// `@staff`: people in the directory.
    Staff,
    /// A directory group, by name (compared without regard to case).
    Group(String),
}

impl Audience {
    fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        match t {
            "@everyone" => Ok(Audience::Everyone),
            "@residents" => Ok(Audience::Residents),
            "@staff" => Ok(Audience::Staff),
            _ if t.starts_with('@') => Err(format!(
                "{t:?} is not a known audience: use @everyone, @residents, @staff or a group name"
            )),
            "" => Err("an empty group name".into()),
            _ => Ok(Audience::Group(t.to_owned())),
        }
    }
}

impl From<Audience> for String {
    fn from(a: Audience) -> String {
        match a {
            Audience::Everyone => "@everyone".into(),
            Audience::Residents => "@residents".into(),
            Audience::Staff => "@staff".into(),
            Audience::Group(g) => g,
        }
    }
}

/// The period a quota counts over, in the room's local calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QuotaPeriod {
    /// An ISO week, Monday to Sunday.
    Week,
    /// A calendar month.
    Month,
}

/// At most `max_bookings` bookings or `max_hours` hours per requester per period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Quota {
    pub period: QuotaPeriod,
    pub max_bookings: Option<u32>,
    pub max_minutes: Option<i64>,
}

/// Who may book, and how.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Approval {
    /// Not bookable at all.
    pub closed: bool,
    /// Auto-approved when in policy.
    pub book_in: Vec<Audience>,
    /// May ask; a clerk decides.
    pub request_in: Vec<Audience>,
    /// May ask out of policy; a clerk decides.
    pub out_of_policy: Vec<Audience>,
}

/// How many occurrences of a series may be skipped when the requester asks to skip rejected
/// dates rather than lose the whole series.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SeriesRule {
    pub max_skipped: u32,
    pub max_skipped_percent: u8,
}

/// A room's rules, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub name: String,
    pub description: Option<String>,
    pub opening_hours: OpeningHours,
    pub min_duration: Span,
    pub max_duration: Span,
    /// Starts and ends must fall on a multiple of this after local midnight.
    pub granularity: Span,
    /// How long before its start a booking must be asked for.
    pub lead_time: Span,
    /// How far ahead of now a booking may end.
    pub horizon: Span,
    pub setup: Span,
    pub teardown: Span,
    /// An attendee limit of the policy's own; the room's capacity applies as well.
    pub max_attendees: Option<u32>,
    pub quota: Option<Quota>,
    pub approval: Approval,
    pub series: SeriesRule,
    /// The most occurrences of one series decided at once.
    pub max_occurrences: usize,
    /// The closure calendars (files in `calendars/`, by stem) that apply.
    pub closure_calendars: Vec<String>,
    /// How long a pending request holds its slot while it waits for a clerk.
    pub hold: Span,
    /// Whether staff calendars (CalDAV, private feeds) name who booked. Off by default: a
    /// resident's name appears nowhere unless the room's policy allows it.
    pub show_organiser: bool,
}

/// Why a policy file was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("the policy file is not valid TOML: {0}")]
    Toml(String),
    #[error("policy {policy:?}, {field}: {message}")]
    Invalid {
        policy: String,
        field: String,
        message: String,
    },
    #[error("no policy named {name:?}; the file defines: {known}")]
    Unknown { name: String, known: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    policy: BTreeMap<String, RawPolicy>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    description: Option<String>,
    opening_hours: Option<BTreeMap<String, Vec<String>>>,
    min_duration: Option<String>,
    max_duration: Option<String>,
    granularity: Option<String>,
    lead_time: Option<String>,
    horizon: Option<String>,
    setup: Option<String>,
    teardown: Option<String>,
    max_attendees: Option<u32>,
    quota: Option<RawQuota>,
    approval: Option<RawApproval>,
    series: Option<RawSeries>,
    max_occurrences: Option<usize>,
    #[serde(default)]
    closure_calendars: Vec<String>,
    hold: Option<String>,
    show_organiser: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuota {
    period: QuotaPeriod,
    max_bookings: Option<u32>,
    max_hours: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApproval {
    #[serde(default)]
    closed: bool,
    #[serde(default)]
    book_in: Vec<String>,
    request_in: Option<Vec<String>>,
    #[serde(default)]
    out_of_policy: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSeries {
    max_skipped: Option<u32>,
    max_skipped_percent: Option<u8>,
}

/// All the policies of one file, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicySet {
    policies: BTreeMap<String, Policy>,
}

impl PolicySet {
    /// Parses and validates a policy file.
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| PolicyError::Toml(e.to_string()))?;
        let mut policies = BTreeMap::new();
        for (name, p) in raw.policy {
            let policy = Policy::from_raw(&name, p)?;
            policies.insert(name, policy);
        }
        Ok(PolicySet { policies })
    }

    pub fn get(&self, name: &str) -> Result<&Policy, PolicyError> {
        self.policies.get(name).ok_or_else(|| PolicyError::Unknown {
            name: name.to_owned(),
            known: self.names().collect::<Vec<_>>().join(", "),
        })
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.policies.keys().map(String::as_str)
    }
}

fn weekday_index(key: &str) -> Option<usize> {
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    days.iter().position(|d| key.eq_ignore_ascii_case(d))
}

impl Policy {
    fn from_raw(name: &str, raw: RawPolicy) -> Result<Self, PolicyError> {
        let invalid = |field: &str, message: String| PolicyError::Invalid {
            policy: name.to_owned(),
            field: field.to_owned(),
            message,
        };
        let span =
            |field: &str, value: &Option<String>, default: Span| -> Result<Span, PolicyError> {
                match value {
                    None => Ok(default),
                    Some(text) => Span::parse(text).map_err(|e| invalid(field, e.to_string())),
                }
            };

        let opening_hours = match raw.opening_hours {
            None => OpeningHours::always(),
            Some(map) => {
                let mut days: [Vec<Window>; 7] = Default::default();
                for (key, windows) in map {
                    let i = weekday_index(&key).ok_or_else(|| {
                        invalid(
                            "opening_hours",
                            format!(
                                "{key:?} is not a weekday: use mon, tue, wed, thu, fri, sat or sun"
                            ),
                        )
                    })?;
                    let mut parsed = windows
                        .iter()
                        .map(|w| Window::parse(w))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|m| invalid(&format!("opening_hours.{key}"), m))?;
                    parsed.sort();
                    if let Some(pair) = parsed.windows(2).find(|p| p[0].end > p[1].start) {
                        return Err(invalid(
                            &format!("opening_hours.{key}"),
                            format!("the windows {} and {} overlap", pair[0], pair[1]),
                        ));
                    }
                    days[i] = parsed;
                }
                OpeningHours { days }
            }
        };

        let granularity = span(
            "granularity",
            &raw.granularity,
            Span::from_minutes(15).unwrap_or_default(),
        )?;
        if granularity.minutes() == 0 || i64::from(MINUTES_PER_DAY) % granularity.minutes() != 0 {
            return Err(invalid(
                "granularity",
                format!(
                    "{granularity} must be more than zero and divide a day evenly (e.g. 15m, 30m, 1h)"
                ),
            ));
        }
        let min_duration = span("min_duration", &raw.min_duration, granularity)?;
        let max_duration = span(
            "max_duration",
            &raw.max_duration,
            Span::from_minutes(24 * 60).unwrap_or_default(),
        )?;
        if max_duration.minutes() == 0 {
            return Err(invalid("max_duration", "must be more than zero".into()));
        }
        if min_duration > max_duration {
            return Err(invalid(
                "min_duration",
                format!("{min_duration} is longer than max_duration {max_duration}"),
            ));
        }
        let lead_time = span("lead_time", &raw.lead_time, Span::ZERO)?;
        let horizon = span(
            "horizon",
            &raw.horizon,
            Span::from_minutes(365 * 24 * 60).unwrap_or_default(),
        )?;
        if horizon <= lead_time {
            return Err(invalid(
                "horizon",
                format!(
                    "{horizon} must be longer than lead_time {lead_time}, or nothing can be booked"
                ),
            ));
        }
        let setup = span("setup", &raw.setup, Span::ZERO)?;
        let hold = span(
            "hold",
            &raw.hold,
            Span::from_minutes(7 * 24 * 60).unwrap_or(Span::ZERO),
        )?;
        if hold == Span::ZERO {
            return Err(invalid(
                "hold",
                "must be longer than 0, or a request expires as soon as it is made".into(),
            ));
        }
        let teardown = span("teardown", &raw.teardown, Span::ZERO)?;

        let quota = match raw.quota {
            None => None,
            Some(q) => {
                if q.max_bookings.is_none() && q.max_hours.is_none() {
                    return Err(invalid(
                        "quota",
                        "give max_bookings, max_hours or both".into(),
                    ));
                }
                Some(Quota {
                    period: q.period,
                    max_bookings: q.max_bookings,
                    max_minutes: q.max_hours.map(|h| i64::from(h) * 60),
                })
            }
        };

        let audiences = |field: &str, list: &[String]| -> Result<Vec<Audience>, PolicyError> {
            list.iter()
                .map(|s| Audience::parse(s).map_err(|m| invalid(field, m)))
                .collect()
        };
        let approval = match raw.approval {
            None => Approval {
                closed: false,
                book_in: Vec::new(),
                request_in: vec![Audience::Everyone],
                out_of_policy: Vec::new(),
            },
            Some(a) => Approval {
                closed: a.closed,
                book_in: audiences("approval.book_in", &a.book_in)?,
                request_in: match a.request_in {
                    None => vec![Audience::Everyone],
                    Some(list) => audiences("approval.request_in", &list)?,
                },
                out_of_policy: audiences("approval.out_of_policy", &a.out_of_policy)?,
            },
        };

        let series = SeriesRule {
            max_skipped: raw
                .series
                .as_ref()
                .and_then(|s| s.max_skipped)
                .unwrap_or(10),
            max_skipped_percent: raw
                .series
                .as_ref()
                .and_then(|s| s.max_skipped_percent)
                .unwrap_or(50),
        };
        if series.max_skipped_percent > 100 {
            return Err(invalid(
                "series.max_skipped_percent",
                "must be between 0 and 100".into(),
            ));
        }
        let max_occurrences = raw.max_occurrences.unwrap_or(100);
        if max_occurrences == 0 || max_occurrences > MAX_COUNT as usize {
            return Err(invalid(
                "max_occurrences",
                format!("must be between 1 and {MAX_COUNT}"),
            ));
        }

        Ok(Policy {
            name: name.to_owned(),
            description: raw.description,
            opening_hours,
            min_duration,
            max_duration,
            granularity,
            lead_time,
            horizon,
            setup,
            teardown,
            max_attendees: raw.max_attendees,
            quota,
            approval,
            series,
            max_occurrences,
            closure_calendars: raw.closure_calendars,
            hold,
            show_organiser: raw.show_organiser.unwrap_or(false),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
[policy.hall]
description = "Halls"
min_duration = "1h"
max_duration = "4h"
granularity = "30m"
lead_time = "2d"
horizon = "180d"
setup = "15m"
teardown = "30m"
max_attendees = 120
closure_calendars = ["holidays-no"]

[policy.hall.opening_hours]
mon = ["08:00-12:00", "17:00-22:00"]
sat = ["10:00-24:00"]

[policy.hall.quota]
period = "week"
max_bookings = 2
max_hours = 6

[policy.hall.approval]
book_in = ["kultur"]
request_in = ["@everyone"]
out_of_policy = ["booking-clerks"]

[policy.hall.series]
max_skipped = 3
max_skipped_percent = 20
"#;

    #[test]
    fn a_full_policy_file_loads_with_every_rule() {
        let set = PolicySet::from_toml(SAMPLE).unwrap();
        let p = set.get("hall").unwrap();
        assert_eq!(p.opening_hours.windows(Weekday::Mon).len(), 2);
        assert_eq!(p.opening_hours.windows(Weekday::Sat)[0].end_minute(), 1440);
        assert!(p.opening_hours.windows(Weekday::Sun).is_empty());
        assert_eq!(p.teardown.minutes(), 30);
        assert_eq!(p.quota.as_ref().unwrap().max_minutes, Some(360));
        assert_eq!(p.approval.book_in, [Audience::Group("kultur".into())]);
        assert_eq!(p.series.max_skipped, 3);
    }

    #[test]
    fn a_missing_policy_names_the_ones_that_exist() {
        let set = PolicySet::from_toml(SAMPLE).unwrap();
        let err = set.get("gym").unwrap_err().to_string();
        assert!(err.contains("\"gym\"") && err.contains("hall"), "{err}");
    }

    #[test]
    fn bad_policy_values_are_errors_that_name_the_field() {
        let cases = [
            (
                "[policy.p]\nmin_duration = \"5h\"\nmax_duration = \"1h\"",
                "min_duration",
            ),
            ("[policy.p]\ngranularity = \"7m\"", "granularity"),
            (
                "[policy.p.opening_hours]\nmon = [\"10:00-09:00\"]",
                "opening_hours.mon",
            ),
            (
                "[policy.p.opening_hours]\nmon = [\"08:00-12:00\", \"11:00-13:00\"]",
                "opening_hours.mon",
            ),
            (
                "[policy.p.opening_hours]\nfunday = [\"08:00-12:00\"]",
                "opening_hours",
            ),
            (
                "[policy.p.approval]\nbook_in = [\"@admins\"]",
                "approval.book_in",
            ),
            ("[policy.p.quota]\nperiod = \"week\"", "quota"),
            (
                "[policy.p]\nhorizon = \"1d\"\nlead_time = \"2d\"",
                "horizon",
            ),
            ("[policy.p]\nsetup = \"soon\"", "setup"),
        ];
        for (text, field) in cases {
            match PolicySet::from_toml(text) {
                Err(PolicyError::Invalid { field: f, .. }) => assert_eq!(f, field, "{text}"),
                other => panic!("{text}: expected an error on {field}, got {other:?}"),
            }
        }
    }

    #[test]
    fn unknown_keys_and_broken_toml_are_errors() {
        assert!(matches!(
            PolicySet::from_toml("[policy.p]\nmax_duraton = \"1h\""),
            Err(PolicyError::Toml(_))
        ));
        assert!(matches!(
            PolicySet::from_toml("[policy.p"),
            Err(PolicyError::Toml(_))
        ));
    }
}
