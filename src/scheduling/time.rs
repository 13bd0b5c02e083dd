//! Wall-clock time in a room's zone, and the one rule that turns it into UTC.
//!
//! Invariants (shared/DESIGN.md, "Time rules"):
//! - a local time that does not exist (spring-forward gap) is an error, never silently shifted;
//! - an ambiguous local time (autumn fold) takes the *earlier* offset, i.e. the first of the two
//!   instants;
//! - nothing here reads the clock.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// The zone a room lives in when its directory entry names none.
pub const DEFAULT_ZONE: Tz = chrono_tz::Europe::Oslo;

/// An IANA time zone, built only by parsing a known name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Zone(Tz);

impl Zone {
    /// Coordinated Universal Time.
    pub const UTC: Zone = Zone(chrono_tz::UTC);

    /// Parses an IANA zone name such as `Europe/Oslo`.
    pub fn parse(name: &str) -> Result<Self, TimeError> {
        Tz::from_str(name.trim())
            .map(Zone)
            .map_err(|_| TimeError::UnknownZone {
                name: name.to_owned(),
            })
    }

    /// The chrono-tz zone.
    pub fn tz(self) -> Tz {
        self.0
    }

    /// The IANA name.
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// Converts a local wall time in this zone to UTC by the project's rule: a nonexistent
    /// time is an error, an ambiguous one takes the earlier offset.
    pub fn to_utc(self, local: NaiveDateTime) -> Result<DateTime<Utc>, TimeError> {
        match self.0.from_local_datetime(&local) {
            LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
            // The earlier offset is the one in force before the fold, so its instant is the
            // smaller of the two.
            LocalResult::Ambiguous(a, b) => Ok(a.min(b).with_timezone(&Utc)),
            LocalResult::None => Err(TimeError::Nonexistent {
                local,
                zone: self.name(),
            }),
        }
    }

    /// Like [`Zone::to_utc`], but a time in a gap moves forward to the first instant after
    /// the gap. Used only for the *boundaries* of closures (an all-day closure starting at a
    /// midnight that a zone skips still starts that day), never for a requested booking.
    pub fn to_utc_or_after_gap(self, local: NaiveDateTime) -> DateTime<Utc> {
        if let Ok(t) = self.to_utc(local) {
            return t;
        }
        // Gaps are at most a few hours in the tz database; walk forward minute by minute
        // within a bound, then fall back to reading the wall time as UTC.
        let mut probe = local;
        for _ in 0..(26 * 60) {
            let Some(next) = probe.checked_add_signed(TimeDelta::minutes(1)) else {
                break;
            };
            probe = next;
            if let Ok(t) = self.to_utc(probe) {
                return t;
            }
        }
        local.and_utc()
    }

    /// The local wall time of an instant in this zone.
    pub fn local(self, t: DateTime<Utc>) -> NaiveDateTime {
        t.with_timezone(&self.0).naive_local()
    }
}

impl Default for Zone {
    fn default() -> Self {
        Zone(DEFAULT_ZONE)
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Zone {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Zone {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Zone::parse(&name).map_err(serde::de::Error::custom)
    }
}

/// Errors from time handling.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("unknown time zone {name:?}: use an IANA name such as \"Europe/Oslo\"")]
    UnknownZone { name: String },
    #[error("{local} does not exist in {zone}: the clocks skip it (daylight-saving change)")]
    Nonexistent {
        local: NaiveDateTime,
        zone: &'static str,
    },
    #[error("invalid duration {text:?}: {why}")]
    InvalidDuration { text: String, why: &'static str },
    #[error("invalid local date-time {text:?}: use YYYY-MM-DDTHH:MM")]
    InvalidLocalTime { text: String },
}

/// Parses a local wall time written `YYYY-MM-DDTHH:MM` (seconds optional; a space may stand
/// for the `T`).
pub fn parse_local(text: &str) -> Result<NaiveDateTime, TimeError> {
    let t = text.trim();
    for format in [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(v) = NaiveDateTime::parse_from_str(t, format) {
            return Ok(v);
        }
    }
    Err(TimeError::InvalidLocalTime {
        text: text.to_owned(),
    })
}

/// A non-negative length of time written for people: `90m`, `2h`, `1h30m`, `180d`, `0`.
///
/// Policies use it for durations, buffers, lead time and horizon.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    minutes: i64,
}

impl Span {
    /// The longest span accepted: about 100 years, far beyond any policy, and small enough
    /// that adding it to any date chrono can hold near today cannot overflow.
    pub const MAX_MINUTES: i64 = 100 * 366 * 24 * 60;

    pub const ZERO: Span = Span { minutes: 0 };

    pub fn from_minutes(minutes: i64) -> Result<Self, TimeError> {
        if !(0..=Self::MAX_MINUTES).contains(&minutes) {
            return Err(TimeError::InvalidDuration {
                text: format!("{minutes}m"),
                why: "must be between 0 and 100 years",
            });
        }
        Ok(Span { minutes })
    }

    pub fn minutes(self) -> i64 {
        self.minutes
    }

    pub fn delta(self) -> TimeDelta {
        TimeDelta::minutes(self.minutes)
    }

    pub fn parse(text: &str) -> Result<Self, TimeError> {
        let bad = |why| TimeError::InvalidDuration {
            text: text.to_owned(),
            why,
        };
        let t = text.trim();
        if t == "0" {
            return Ok(Span::ZERO);
        }
        if t.is_empty() {
            return Err(bad("it is empty"));
        }
        let mut total: i64 = 0;
        let mut number: Option<i64> = None;
        for c in t.chars() {
            match c {
                '0'..='9' => {
                    let digit = i64::from(c as u8 - b'0');
                    let n = number.unwrap_or(0);
                    number = Some(
                        n.checked_mul(10)
                            .and_then(|n| n.checked_add(digit))
                            .ok_or_else(|| bad("the number is too large"))?,
                    );
                }
                'd' | 'h' | 'm' => {
                    let n = number
                        .take()
                        .ok_or_else(|| bad("a unit needs a number before it"))?;
                    let per = match c {
                        'd' => 24 * 60,
                        'h' => 60,
                        _ => 1,
                    };
                    total = n
                        .checked_mul(per)
                        .and_then(|m| total.checked_add(m))
                        .ok_or_else(|| bad("the number is too large"))?;
                }
                ' ' => {}
                _ => return Err(bad("use numbers with the units d, h and m, e.g. 1h30m")),
            }
        }
        if number.is_some() {
            return Err(bad("a number needs a unit: d, h or m"));
        }
        Span::from_minutes(total).map_err(|_| bad("must be at most 100 years"))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (d, rest) = (self.minutes / (24 * 60), self.minutes % (24 * 60));
        let (h, m) = (rest / 60, rest % 60);
        if self.minutes == 0 {
            return f.write_str("0m");
        }
        if d > 0 {
            write!(f, "{d}d")?;
        }
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if m > 0 {
            write!(f, "{m}m")?;
        }
        Ok(())
    }
}

impl Serialize for Span {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Span::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn local(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .and_then(|d| d.and_hms_opt(h, mi, 0))
            .unwrap()
    }

    #[test]
    fn oslo_0230_on_spring_forward_day_does_not_exist() {
        let err = Zone::default()
            .to_utc(local(2026, 3, 29, 2, 30))
            .unwrap_err();
        assert!(matches!(
            err,
            TimeError::Nonexistent {
                zone: "Europe/Oslo",
                ..
            }
        ));
        assert!(err.to_string().contains("does not exist"));
    }

    #[test]
    fn oslo_0230_on_fall_back_day_takes_the_earlier_offset() {
        let t = Zone::default().to_utc(local(2026, 10, 25, 2, 30)).unwrap();
        // Before the fold Oslo is on CEST (+02:00), so 02:30 local is 00:30 UTC, not 01:30.
        assert_eq!(t.to_rfc3339(), "2026-10-25T00:30:00+00:00");
    }

    #[test]
    fn an_unknown_zone_is_an_error_that_names_it() {
        let err = Zone::parse("Europe/Atlantis").unwrap_err();
        assert_eq!(
            err,
            TimeError::UnknownZone {
                name: "Europe/Atlantis".into()
            }
        );
    }

    #[test]
    fn a_gap_boundary_moves_to_the_first_instant_after_the_gap() {
        let t = Zone::default().to_utc_or_after_gap(local(2026, 3, 29, 2, 0));
        assert_eq!(t.to_rfc3339(), "2026-03-29T01:00:00+00:00");
    }

    #[test]
    fn spans_parse_people_friendly_units() {
        assert_eq!(Span::parse("1h30m").unwrap().minutes(), 90);
        assert_eq!(Span::parse("180d").unwrap().minutes(), 180 * 24 * 60);
        assert_eq!(Span::parse("0").unwrap(), Span::ZERO);
        assert_eq!(Span::parse("2h").unwrap().to_string(), "2h");
    }

    #[test]
    fn spans_with_missing_units_or_huge_numbers_are_errors() {
        for bad in [
            "",
            "90",
            "h",
            "1x",
            "99999999999999999999m",
            "-5m",
            "200000d",
        ] {
            assert!(Span::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
