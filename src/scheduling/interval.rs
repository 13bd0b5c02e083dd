//! Half-open UTC intervals `[start, end)`.
//!
//! Invariants: `start < end`, so an interval is never empty; both ends are whole microseconds
//! (PostgreSQL's resolution), the start rounded down and the end up. Two intervals that merely
//! touch (`a.end == b.start`) do not overlap.

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

/// A non-empty half-open interval of instants in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Interval {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

/// Why an interval could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IntervalError {
    #[error("the end ({end}) is before the start ({start})")]
    EndBeforeStart {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    },
    #[error("the interval is empty: it starts and ends at {at}")]
    Empty { at: DateTime<Utc> },
}

impl Interval {
    /// Makes `[start, end)`; fails unless `start < end`. Ends are widened to whole
    /// microseconds.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Self, IntervalError> {
        if end < start {
            Err(IntervalError::EndBeforeStart { start, end })
        } else if end == start {
            Err(IntervalError::Empty { at: start })
        } else {
            Ok(Interval {
                start: floor_micros(start),
                end: ceil_micros(end),
            })
        }
    }

    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }

    pub fn end(&self) -> DateTime<Utc> {
        self.end
    }

    pub fn duration(&self) -> TimeDelta {
        self.end - self.start
    }

    /// True when the two share at least one instant. Touching intervals do not.
    pub fn overlaps(&self, other: &Interval) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// True when `other` lies wholly inside `self`.
    pub fn contains(&self, other: &Interval) -> bool {
        self.start <= other.start && other.end <= self.end
    }

    /// The interval widened by `before` at the start and `after` at the end: a booking's
    /// *blocked* interval, with setup and teardown buffers. Saturates at chrono's limits.
    pub fn widen(&self, before: TimeDelta, after: TimeDelta) -> Interval {
        let start = self.start.checked_sub_signed(before).unwrap_or(self.start);
        let end = self.end.checked_add_signed(after).unwrap_or(self.end);
        // Widening by non-negative amounts keeps start < end; negative buffers are refused
        // when a policy is loaded, but stay safe here too.
        if start < end {
            Interval {
                start: floor_micros(start),
                end: ceil_micros(end),
            }
        } else {
            *self
        }
    }
}

fn floor_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    let extra = i64::from(t.timestamp_subsec_nanos() % 1_000);
    t - TimeDelta::nanoseconds(extra)
}

fn ceil_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    let extra = i64::from(t.timestamp_subsec_nanos() % 1_000);
    if extra == 0 {
        return t;
    }
    t.checked_add_signed(TimeDelta::nanoseconds(1_000 - extra))
        .unwrap_or(t)
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}, {})",
            self.start.format("%Y-%m-%dT%H:%MZ"),
            self.end.format("%Y-%m-%dT%H:%MZ")
        )
    }
}

/// The instants covered by `spans`, as few intervals as possible: sorted, with overlapping or
/// touching intervals joined (`[9, 10)` and `[10, 11)` become `[9, 11)`).
pub fn merge(mut spans: Vec<Interval>) -> Vec<Interval> {
    spans.sort();
    let mut out: Vec<Interval> = Vec::with_capacity(spans.len());
    for s in spans {
        match out.last_mut() {
            Some(last) if s.start <= last.end => last.end = last.end.max(s.end),
            _ => out.push(s),
        }
    }
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn merging_joins_overlapping_and_touching_intervals_and_keeps_gaps() {
        let t = |h: u32| Utc.with_ymd_and_hms(2027, 1, 4, h, 0, 0).unwrap();
        let iv = |a: u32, b: u32| Interval::new(t(a), t(b)).unwrap();
        assert_eq!(
            merge(vec![
                iv(12, 13),
                iv(9, 10),
                iv(10, 11),
                iv(9, 10),
                iv(14, 16),
                iv(15, 17)
            ]),
            vec![iv(9, 11), iv(12, 13), iv(14, 17)]
        );
        assert_eq!(merge(Vec::new()), Vec::new());
    }
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 1, 4, h, 0, 0).unwrap()
    }

    #[test]
    fn an_interval_touching_another_does_not_overlap_it() {
        let a = Interval::new(at(10), at(12)).unwrap();
        let b = Interval::new(at(12), at(14)).unwrap();
        assert!(!a.overlaps(&b) && !b.overlaps(&a));
    }

    #[test]
    fn end_before_start_and_zero_length_are_errors() {
        assert!(matches!(
            Interval::new(at(12), at(10)),
            Err(IntervalError::EndBeforeStart { .. })
        ));
        assert!(matches!(
            Interval::new(at(12), at(12)),
            Err(IntervalError::Empty { .. })
        ));
    }

    #[test]
    fn ends_are_widened_to_whole_microseconds() {
        let a = Interval::new(
            at(10) + TimeDelta::nanoseconds(100),
            at(10) + TimeDelta::nanoseconds(200),
        )
        .unwrap();
        assert_eq!(a.start(), at(10));
        assert_eq!(a.end(), at(10) + TimeDelta::microseconds(1));
    }

    #[test]
    fn widening_adds_buffers_on_both_sides() {
        let a = Interval::new(at(10), at(12)).unwrap();
        let w = a.widen(TimeDelta::minutes(30), TimeDelta::hours(1));
        assert_eq!(w.start(), at(10) - TimeDelta::minutes(30));
        assert_eq!(w.end(), at(13));
    }
}
