//! Recurrence rules (RFC 5545 §3.3.10 RRULE, §3.8.5 EXDATE and RDATE), expanded in a room's
//! wall-clock time.
//!
//! A [`Recurrence`] is validated once when parsed; after that it cannot be invalid. Expansion
//! runs on *local wall time*: the rrule crate iterates naive local times (carried in its UTC
//! type, which has no gaps or folds), and each occurrence is converted to an instant later,
//! by [`Zone::to_utc`](super::time::Zone::to_utc). So a weekly 18:00 series stays at 18:00
//! local across DST changes, and an occurrence that lands in a gap is reported, never moved.
//!
//! Expansion is always bounded, by a window end and by a maximum count, and says when it
//! stopped early. The machine's own time zone is never consulted: `UNTIL` is read here rather
//! than by the rrule crate, which would interpret a floating `UNTIL` in the process's zone.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use rrule::{RRule, RRuleSet, Unvalidated};
use serde::Serialize;

use super::time::Zone;

/// The largest `COUNT` accepted. A rule asking for more is refused outright; longer series are
/// written with `UNTIL` or without an end, and are materialised up to the horizon.
pub const MAX_COUNT: u32 = 10_000;

/// The longest rule text accepted, in bytes.
const MAX_RULE_LEN: usize = 1_000;

/// Why a recurrence was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecurrenceError {
    #[error("the recurrence rule is empty")]
    Empty,
    #[error("the recurrence rule is longer than {MAX_RULE_LEN} characters")]
    TooLong,
    #[error("invalid recurrence rule {rule:?}: {message}")]
    Invalid { rule: String, message: String },
    #[error("COUNT={count} is too large: at most {MAX_COUNT} occurrences may be asked for")]
    CountTooLarge { count: u64 },
    #[error("a recurrence rule may have COUNT or UNTIL, not both (RFC 5545 §3.3.10)")]
    CountAndUntil,
    #[error("invalid UNTIL {value:?}: use YYYYMMDD, YYYYMMDDTHHMMSS or YYYYMMDDTHHMMSSZ")]
    InvalidUntil { value: String },
    #[error("UNTIL ({until}) is before the first occurrence ({start})")]
    UntilBeforeStart {
        until: NaiveDateTime,
        start: NaiveDateTime,
    },
}

/// When a series ends, as written in `UNTIL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Until {
    /// `...Z`: an instant, compared in the room's zone.
    Utc(DateTime<Utc>),
    /// A floating date-time: local wall time in the room's zone.
    Local(NaiveDateTime),
    /// A date: occurrences on that local date still count.
    Date(NaiveDate),
}

/// An exception date (EXDATE): either one occurrence or every occurrence on a local date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ExDate {
    At(NaiveDateTime),
    On(NaiveDate),
}

/// A validated recurrence: an RRULE with optional RDATEs and EXDATEs, all in local wall time.
#[derive(Clone, Debug)]
pub struct Recurrence {
    text: String,
    rule: RRule<Unvalidated>,
    until: Option<Until>,
    count: Option<u32>,
    rdates: Vec<NaiveDateTime>,
    exdates: Vec<ExDate>,
}

/// Why an expansion stopped before the series ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "by", rename_all = "kebab-case")]
pub enum Truncation {
    /// Occurrences after the window end (the booking horizon) were not expanded.
    Horizon { window_end: NaiveDateTime },
    /// The maximum number of occurrences was reached.
    MaxCount { limit: usize },
}

/// The outcome of expanding a recurrence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expansion {
    /// Local start times, ascending and distinct.
    pub starts: Vec<NaiveDateTime>,
    pub truncated: Option<Truncation>,
}

fn fake_utc(t: NaiveDateTime) -> DateTime<rrule::Tz> {
    rrule::Tz::UTC.from_utc_datetime(&t)
}

fn invalid(rule: &str, message: impl fmt::Display) -> RecurrenceError {
    RecurrenceError::Invalid {
        rule: rule.to_owned(),
        message: message.to_string(),
    }
}

fn parse_until(value: &str) -> Result<Until, RecurrenceError> {
    let bad = || RecurrenceError::InvalidUntil {
        value: value.to_owned(),
    };
    if let Some(v) = value.strip_suffix(['Z', 'z']) {
        let t = NaiveDateTime::parse_from_str(v, "%Y%m%dT%H%M%S").map_err(|_| bad())?;
        return Ok(Until::Utc(t.and_utc()));
    }
    if value.len() == 8 {
        return NaiveDate::parse_from_str(value, "%Y%m%d")
            .map(Until::Date)
            .map_err(|_| bad());
    }
    NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%S")
        .map(Until::Local)
        .map_err(|_| bad())
}

/// Refuses a BYSETPOS that can never pick an occurrence, before the rrule crate would look
/// for one: it scans up to 100 000 intervals for each occurrence asked for, and each scan
/// builds the interval's whole set, so `FREQ=MINUTELY;BYSETPOS=-5` (a set of one time per
/// minute has no fifth-last) took seconds of CPU per request (found by the rrule fuzz
/// target). RFC 5545 §3.3.10: BYSETPOS picks the n-th of the times one interval of the
/// frequency gives. Lokal books rooms: BYSETPOS is taken with DAILY or coarser frequencies
/// only, and its positions must fit the most times one interval can give.
fn check_set_pos(text: &str, rule: &RRule<Unvalidated>) -> Result<(), RecurrenceError> {
    let positions = rule.get_by_set_pos();
    if positions.is_empty() {
        return Ok(());
    }
    let days: u64 = match rule.get_freq() {
        rrule::Frequency::Daily => 1,
        rrule::Frequency::Weekly => 7,
        rrule::Frequency::Monthly => 31,
        rrule::Frequency::Yearly => 366,
        _ => {
            return Err(invalid(
                text,
                "BYSETPOS is supported with FREQ=DAILY, WEEKLY, MONTHLY or YEARLY only",
            ));
        }
    };
    let count = |n: usize| u64::try_from(n.max(1)).unwrap_or(u64::MAX);
    let most = days
        .saturating_mul(count(rule.get_by_hour().len()))
        .saturating_mul(count(rule.get_by_minute().len()))
        .saturating_mul(count(rule.get_by_second().len()));
    if let Some(p) = positions
        .iter()
        .find(|p| u64::from(p.unsigned_abs()) > most)
    {
        return Err(invalid(
            text,
            format!(
                "BYSETPOS={p} can never match: one interval of this rule gives at most {most} times"
            ),
        ));
    }
    Ok(())
}

impl Recurrence {
    /// Parses an RRULE value such as `FREQ=WEEKLY;BYDAY=TU;UNTIL=20270601`. A leading
    /// `RRULE:` is accepted.
    pub fn parse(text: &str) -> Result<Self, RecurrenceError> {
        let trimmed = text.trim();
        if trimmed.len() > MAX_RULE_LEN {
            return Err(RecurrenceError::TooLong);
        }
        let body = match trimmed.get(..6) {
            Some(p) if p.eq_ignore_ascii_case("RRULE:") => &trimmed[6..],
            _ => trimmed,
        };
        if body.is_empty() {
            return Err(RecurrenceError::Empty);
        }
        // RFC 5545 §3.3.10 is ASCII throughout; the rrule crate slices BYDAY values by bytes
        // and panicked on `BYDAY=EQѫH` (found by the rrule fuzz target).
        if !body.is_ascii() {
            return Err(invalid(
                text,
                "it may hold only ASCII letters, digits and = ; , + -",
            ));
        }
        if body.contains(['\r', '\n', ':']) {
            return Err(invalid(
                text,
                "it must be a single RRULE value, without DTSTART",
            ));
        }
        let mut until = None;
        let mut count = None;
        let mut kept: Vec<&str> = Vec::new();
        for part in body.split(';') {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| invalid(text, format!("{part:?} is not NAME=VALUE")))?;
            if key.eq_ignore_ascii_case("UNTIL") {
                until = Some(parse_until(value)?);
                continue;
            }
            if key.eq_ignore_ascii_case("COUNT") {
                let n: u64 = value
                    .parse()
                    .map_err(|_| invalid(text, format!("COUNT={value} is not a whole number")))?;
                if n > u64::from(MAX_COUNT) {
                    return Err(RecurrenceError::CountTooLarge { count: n });
                }
                count = Some(n as u32);
            }
            kept.push(part);
        }
        if until.is_some() && count.is_some() {
            return Err(RecurrenceError::CountAndUntil);
        }
        let rule = RRule::<Unvalidated>::from_str(&kept.join(";")).map_err(|e| invalid(text, e))?;
        check_set_pos(text, &rule)?;
        // Validate once against a neutral start, so that a rule that can never be expanded is
        // refused here rather than later.
        let probe = NaiveDate::from_ymd_opt(2000, 1, 3)
            .map(|d| d.and_time(NaiveTime::MIN))
            .unwrap_or_default();
        rule.clone()
            .validate(fake_utc(probe))
            .map_err(|e| invalid(text, e))?;
        Ok(Recurrence {
            text: trimmed.to_owned(),
            rule,
            until,
            count,
            rdates: Vec::new(),
            exdates: Vec::new(),
        })
    }

    /// Adds extra occurrences (RDATE), in local wall time.
    pub fn with_rdates(mut self, rdates: impl IntoIterator<Item = NaiveDateTime>) -> Self {
        self.rdates.extend(rdates);
        self
    }

    /// Removes occurrences (EXDATE), in local wall time.
    pub fn with_exdates(mut self, exdates: impl IntoIterator<Item = ExDate>) -> Self {
        self.exdates.extend(exdates);
        self
    }

    /// The rule as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The COUNT the rule asks for, if any.
    pub fn count(&self) -> Option<u32> {
        self.count
    }

    /// Expands the series starting at `start` (local wall time; the first occurrence unless an
    /// EXDATE removes it, RFC 5545 §3.8.5.3), up to `window_end` (local) and at most `max`
    /// occurrences.
    ///
    /// When no occurrence falls before `window_end`, the first one is still returned, so that
    /// the caller can explain why it is too far ahead.
    pub fn expand(
        &self,
        start: NaiveDateTime,
        zone: Zone,
        window_end: NaiveDateTime,
        max: usize,
    ) -> Result<Expansion, RecurrenceError> {
        let mut starts: Vec<NaiveDateTime> = Vec::new();
        let mut truncated = None;
        for t in self.walk(start, zone)? {
            if t > window_end {
                if starts.is_empty() {
                    starts.push(t);
                }
                truncated = Some(Truncation::Horizon { window_end });
                break;
            }
            if starts.len() >= max {
                truncated = Some(Truncation::MaxCount { limit: max });
                break;
            }
            starts.push(t);
        }
        Ok(Expansion { starts, truncated })
    }

    /// Whether the rule repeats at most once a day: DAILY, WEEKLY, MONTHLY or YEARLY, with
    /// at most one BYHOUR, BYMINUTE and BYSECOND value.
    pub fn is_daily_or_coarser(&self) -> bool {
        let coarse = matches!(
            self.rule.get_freq(),
            rrule::Frequency::Daily
                | rrule::Frequency::Weekly
                | rrule::Frequency::Monthly
                | rrule::Frequency::Yearly
        );
        coarse
            && self.rule.get_by_hour().len() <= 1
            && self.rule.get_by_minute().len() <= 1
            && self.rule.get_by_second().len() <= 1
    }

    /// The occurrences starting in `[from, to]` (local), for a series starting at `start`.
    /// At most `max_scan` occurrences are looked at in all, so a rule that started long ago
    /// costs a bounded amount of work; the bool is true when that bound was hit.
    pub fn occurrences_between(
        &self,
        start: NaiveDateTime,
        zone: Zone,
        from: NaiveDateTime,
        to: NaiveDateTime,
        max_scan: usize,
    ) -> Result<(Vec<NaiveDateTime>, bool), RecurrenceError> {
        let mut found = Vec::new();
        for (scanned, t) in self.walk(start, zone)?.enumerate() {
            if scanned >= max_scan {
                return Ok((found, true));
            }
            if t > to {
                break;
            }
            if t >= from {
                found.push(t);
            }
        }
        Ok((found, false))
    }

    /// The RDATEs, in local wall time.
    pub fn rdates(&self) -> &[NaiveDateTime] {
        &self.rdates
    }

    /// The EXDATEs.
    pub fn exdates(&self) -> &[ExDate] {
        &self.exdates
    }

    /// Every occurrence of a series whose first occurrence is `start`, in local wall time,
    /// ascending and distinct. The rrule crate iterates fake-UTC wall time; the filters it
    /// cannot apply (whole-day EXDATEs, a UTC `UNTIL` compared as an instant) are applied here.
    fn walk(&self, start: NaiveDateTime, zone: Zone) -> Result<Walk, RecurrenceError> {
        let mut rule = self.rule.clone();
        let mut until_utc = None;
        if let Some(until) = self.until {
            let local = match until {
                Until::Utc(t) => {
                    if zone.to_utc_or_after_gap(start) > t {
                        return Err(RecurrenceError::UntilBeforeStart {
                            until: zone.local(t),
                            start,
                        });
                    }
                    until_utc = Some(t);
                    // An instant may name either pass of an autumn fold, so the wall-time
                    // bound is loose and the exact test is on instants, in `Walk`.
                    zone.local(t)
                        .checked_add_signed(chrono::TimeDelta::days(2))
                        .unwrap_or(zone.local(t))
                }
                Until::Local(t) => t,
                Until::Date(d) => d
                    .and_hms_opt(23, 59, 59)
                    .unwrap_or(d.and_time(NaiveTime::MIN)),
            };
            if local < start {
                return Err(RecurrenceError::UntilBeforeStart {
                    until: local,
                    start,
                });
            }
            rule = rule.until(fake_utc(local));
        }
        let rule = rule
            .validate(fake_utc(start))
            .map_err(|e| invalid(&self.text, e))?;
        let mut ex_days = Vec::new();
        let mut exdates = Vec::new();
        for x in &self.exdates {
            match *x {
                ExDate::At(t) => exdates.push(fake_utc(t)),
                ExDate::On(d) => ex_days.push(d),
            }
        }
        let set = RRuleSet::new(fake_utc(start))
            .rrule(rule)
            .set_rdates(
                std::iter::once(start)
                    .chain(self.rdates.iter().copied())
                    .map(fake_utc)
                    .collect(),
            )
            .set_exdates(exdates)
            .limit();
        Ok(Walk {
            inner: (&set).into_iter(),
            last: None,
            ex_days,
            until_utc,
            zone,
        })
    }
}

/// See [`Recurrence::walk`].
struct Walk {
    inner: rrule::RRuleSetIter,
    last: Option<NaiveDateTime>,
    ex_days: Vec<NaiveDate>,
    until_utc: Option<DateTime<Utc>>,
    zone: Zone,
}

impl Iterator for Walk {
    type Item = NaiveDateTime;

    fn next(&mut self) -> Option<NaiveDateTime> {
        loop {
            let t = self.inner.next()?.naive_utc();
            if self.last == Some(t) {
                continue; // DTSTART also produced by the rule, or a repeated RDATE.
            }
            self.last = Some(t);
            if self.ex_days.contains(&t.date()) {
                continue;
            }
            // Occurrences ascend in wall time, and so in instants, so the first one past a UTC
            // UNTIL ends the series.
            if self
                .until_utc
                .is_some_and(|u| self.zone.to_utc_or_after_gap(t) > u)
            {
                return None;
            }
            return Some(t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Offset;
    use proptest::prelude::*;

    fn local(s: &str) -> NaiveDateTime {
        super::super::time::parse_local(s).unwrap()
    }

    #[test]
    fn a_weekly_series_at_1800_keeps_1800_local_from_march_to_november() {
        let zone = Zone::default();
        let r = Recurrence::parse("FREQ=WEEKLY;UNTIL=20261130T230000Z").unwrap();
        let e = r
            .expand(
                local("2026-03-02T18:00"),
                zone,
                local("2027-01-01T00:00"),
                500,
            )
            .unwrap();
        assert_eq!(e.truncated, None);
        assert_eq!(e.starts.len(), 40);
        let offsets: std::collections::BTreeSet<i32> = e
            .starts
            .iter()
            .map(|&t| {
                let utc = zone.to_utc(t).unwrap();
                assert_eq!(zone.local(utc).format("%H:%M").to_string(), "18:00");
                utc.with_timezone(&zone.tz())
                    .offset()
                    .fix()
                    .local_minus_utc()
            })
            .collect();
        // Both CET and CEST occur, and every occurrence is still 18:00 on the wall.
        assert_eq!(offsets.into_iter().collect::<Vec<_>>(), [3600, 7200]);
    }

    #[test]
    fn exdates_and_rdates_change_the_series() {
        let r = Recurrence::parse("RRULE:FREQ=DAILY;COUNT=3")
            .unwrap()
            .with_exdates([ExDate::On(NaiveDate::from_ymd_opt(2027, 1, 5).unwrap())])
            .with_rdates([local("2027-01-10T09:00")]);
        let e = r
            .expand(
                local("2027-01-04T09:00"),
                Zone::default(),
                local("2028-01-01T00:00"),
                100,
            )
            .unwrap();
        assert_eq!(
            e.starts,
            [
                local("2027-01-04T09:00"),
                local("2027-01-06T09:00"),
                local("2027-01-10T09:00")
            ]
        );
    }

    #[test]
    fn an_endless_series_stops_at_the_window_and_says_so() {
        let r = Recurrence::parse("FREQ=WEEKLY").unwrap();
        let e = r
            .expand(
                local("2027-01-04T18:00"),
                Zone::default(),
                local("2027-02-01T00:00"),
                100,
            )
            .unwrap();
        assert_eq!(e.starts.len(), 4);
        assert!(matches!(e.truncated, Some(Truncation::Horizon { .. })));
    }

    #[test]
    fn a_long_series_stops_at_the_maximum_count_and_says_so() {
        let r = Recurrence::parse("FREQ=DAILY;COUNT=400").unwrap();
        let e = r
            .expand(
                local("2027-01-04T18:00"),
                Zone::default(),
                local("2030-01-01T00:00"),
                50,
            )
            .unwrap();
        assert_eq!(e.starts.len(), 50);
        assert_eq!(e.truncated, Some(Truncation::MaxCount { limit: 50 }));
    }

    #[test]
    fn a_floating_until_is_read_in_the_rooms_zone_not_the_machines() {
        let r = Recurrence::parse("FREQ=DAILY;UNTIL=20270106T180000").unwrap();
        let e = r
            .expand(
                local("2027-01-04T18:00"),
                Zone::default(),
                local("2028-01-01T00:00"),
                100,
            )
            .unwrap();
        assert_eq!(e.starts.len(), 3);
    }

    #[test]
    fn malformed_rules_are_errors() {
        for bad in [
            "",
            "FREQ=SOMETIMES",
            "FREQ=WEEKLY;BYDAY=XX",
            "FREQ=WEEKLY;COUNT=abc",
            "FREQ=WEEKLY;UNTIL=tomorrow",
            "FREQ=DAILY;COUNT=2;UNTIL=20270101",
            "DTSTART:20270101T000000Z\nRRULE:FREQ=DAILY",
            "INTERVAL=2",
            "FREQ",
        ] {
            assert!(Recurrence::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn a_huge_count_is_refused_before_anything_is_expanded() {
        assert_eq!(
            Recurrence::parse("FREQ=DAILY;COUNT=4294967296").unwrap_err(),
            RecurrenceError::CountTooLarge {
                count: 4_294_967_296
            }
        );
        assert!(Recurrence::parse("FREQ=DAILY;COUNT=99999999999999999999999").is_err());
    }

    #[test]
    fn a_date_exdate_removes_every_occurrence_on_that_day() {
        let r = Recurrence::parse("FREQ=DAILY;BYHOUR=9,15;COUNT=6")
            .unwrap()
            .with_exdates([ExDate::On(NaiveDate::from_ymd_opt(2027, 1, 5).unwrap())]);
        let e = r
            .expand(
                local("2027-01-04T09:00"),
                Zone::default(),
                local("2028-01-01T00:00"),
                100,
            )
            .unwrap();
        assert!(
            e.starts
                .iter()
                .all(|t| t.date() != NaiveDate::from_ymd_opt(2027, 1, 5).unwrap())
        );
        assert_eq!(e.starts.len(), 4);
    }

    #[test]
    fn a_utc_until_in_the_autumn_fold_is_compared_as_an_instant() {
        // 01:00Z on 2026-10-25 is 02:00 CET, the second pass; the 02:30 occurrence that day
        // takes the earlier offset (00:30Z), so it comes before UNTIL and stays.
        let r = Recurrence::parse("FREQ=DAILY;UNTIL=20261025T010000Z").unwrap();
        let e = r
            .expand(
                local("2026-10-23T02:30"),
                Zone::default(),
                local("2027-01-01T00:00"),
                100,
            )
            .unwrap();
        assert_eq!(e.starts.last(), Some(&local("2026-10-25T02:30")));
        assert_eq!(e.starts.len(), 3);
    }

    #[test]
    fn until_before_the_start_is_an_error() {
        let r = Recurrence::parse("FREQ=DAILY;UNTIL=20260101").unwrap();
        let err = r
            .expand(
                local("2027-01-04T18:00"),
                Zone::default(),
                local("2028-01-01T00:00"),
                10,
            )
            .unwrap_err();
        assert!(matches!(err, RecurrenceError::UntilBeforeStart { .. }));
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics_the_rule_parser(text in ".{0,120}") {
            let _ = Recurrence::parse(&text);
        }

        #[test]
        fn arbitrary_text_after_freq_never_panics_parsing_or_expansion(rest in ".{0,80}") {
            if let Ok(r) = Recurrence::parse(&format!("FREQ=DAILY;{rest}")) {
                let _ = r.expand(local("2027-01-04T18:00"), Zone::default(), local("2028-01-01T00:00"), 100);
            }
        }

        #[test]
        fn rule_shaped_text_parses_or_fails_and_always_expands_bounded(
            freq in prop::sample::select(vec!["YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY", "SECONDLY", "X"]),
            parts in prop::collection::vec(
                (prop::sample::select(vec!["INTERVAL", "COUNT", "BYDAY", "BYMONTHDAY", "BYMONTH", "BYSETPOS", "BYHOUR", "BYMINUTE", "BYWEEKNO", "BYYEARDAY", "WKST", "UNTIL"]),
                 "[-+0-9A-Z,]{0,12}"),
                0..5),
        ) {
            let mut text = format!("FREQ={freq}");
            for (k, v) in parts {
                text.push_str(&format!(";{k}={v}"));
            }
            if let Ok(r) = Recurrence::parse(&text) {
                let start = local("2027-01-04T18:00");
                if let Ok(e) = r.expand(start, Zone::default(), local("2028-01-01T00:00"), 100) {
                    prop_assert!(e.starts.len() <= 100);
                    prop_assert_eq!(e.starts.first(), Some(&start));
                    prop_assert!(e.starts.windows(2).all(|w| w[0] < w[1]));
                    prop_assert!(e.starts.iter().all(|&t| t <= local("2028-01-01T00:00")));
                }
            }
        }
    }

    #[test]
    fn a_set_position_that_can_never_match_is_refused_before_any_expansion() {
        // Found by the rrule fuzz target: seconds of CPU per request before.
        for bad in [
            "FREQ=MINUTELY;BYSETPOS=-5;BYMINUTE=30",
            "FREQ=HOURLY;BYSETPOS=2",
            "FREQ=DAILY;BYSETPOS=2",
            "FREQ=WEEKLY;BYSETPOS=8",
            "FREQ=MONTHLY;BYSETPOS=-32",
        ] {
            let err = Recurrence::parse(bad).unwrap_err().to_string();
            assert!(err.contains("BYSETPOS"), "{bad}: {err}");
        }
        // Found by the rrule fuzz target: the rrule crate panicked on a non-ASCII weekday.
        for bad in ["FREQ=WEEKLY;COUNT=10;BYDAY=EQѫH", "FREQ=DAILY;BYDAY=Mø"] {
            assert!(Recurrence::parse(bad).is_err(), "{bad}");
        }
        for good in [
            "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
            "FREQ=DAILY;BYHOUR=9,17;BYSETPOS=2",
            "FREQ=YEARLY;BYMONTH=3;BYDAY=SU;BYSETPOS=-1",
        ] {
            assert!(Recurrence::parse(good).is_ok(), "{good}");
        }
    }
}
