//! Existing bookings and the index that finds the ones a new interval clashes with.
//!
//! The conflict model is in terms of the *physical parts* a booking blocks (shared/DESIGN.md,
//! "Divisible halls"): a booking of "Gymsal A+B" blocks parts `A` and `B`, a booking of
//! "Gymsal A" blocks `A`, and two bookings conflict when they share a part and their blocked
//! intervals (buffers included) overlap. A plain room is a single part named after the room.
//!
//! Each part has a static *centered interval tree* (Edelsbrunner's interval tree, with every
//! node split on the median start), so a check costs O(log n + k) for k conflicts:
//! - intervals starting inside the query `[a, b)` come from a search over sorted starts (a
//!   sampled first level that stays in cache, then one block of 64);
//! - intervals starting before `a` and still running at `a`: when at most 32 intervals start
//!   within the longest interval's length before `a`, a short backward scan finds them (the
//!   common case: bookings are short and rarely overlap); otherwise one root-to-leaf walk
//!   stabs the tree at `a`, each node yielding matches until its first miss.
//!
//! Only blocking bookings (`pending`, `approved`) are indexed.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::interval::Interval;

/// The status of a booking. `pending` and `approved` block their slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BookingStatus {
    Pending,
    Approved,
    Rejected,
    Cancelled,
    Expired,
}

impl BookingStatus {
    /// Every status, in the order of a booking's life.
    pub const ALL: [BookingStatus; 5] = [
        BookingStatus::Pending,
        BookingStatus::Approved,
        BookingStatus::Rejected,
        BookingStatus::Cancelled,
        BookingStatus::Expired,
    ];

    /// Whether a booking in this status holds its slot against others.
    pub fn is_blocking(self) -> bool {
        matches!(self, BookingStatus::Pending | BookingStatus::Approved)
    }

    /// The stable name: in the database, the API, webhooks and messages' keys.
    pub fn as_str(self) -> &'static str {
        match self {
            BookingStatus::Pending => "pending",
            BookingStatus::Approved => "approved",
            BookingStatus::Rejected => "rejected",
            BookingStatus::Cancelled => "cancelled",
            BookingStatus::Expired => "expired",
        }
    }

    /// The status with this stable name.
    pub fn parse(name: &str) -> Option<BookingStatus> {
        BookingStatus::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl std::fmt::Display for BookingStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The status of one date of a booking: a booking status, or `skipped` for a date of a series
/// that was left out when the series was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OccurrenceStatus {
    Booked(BookingStatus),
    Skipped,
}

impl OccurrenceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OccurrenceStatus::Booked(s) => s.as_str(),
            OccurrenceStatus::Skipped => "skipped",
        }
    }

    pub fn parse(name: &str) -> Option<OccurrenceStatus> {
        match name {
            "skipped" => Some(OccurrenceStatus::Skipped),
            _ => BookingStatus::parse(name).map(OccurrenceStatus::Booked),
        }
    }

    /// The booking status of a booked date; `None` for a skipped one.
    pub fn booked(self) -> Option<BookingStatus> {
        match self {
            OccurrenceStatus::Booked(s) => Some(s),
            OccurrenceStatus::Skipped => None,
        }
    }

    pub fn is_blocking(self) -> bool {
        self.booked().is_some_and(BookingStatus::is_blocking)
    }
}

/// A booking's status, derived from its dates' (issue 16): `pending` while any date waits for
/// a clerk; else `approved` while any date is approved (a series of 8 approved, 1 rejected and
/// 1 cancelled dates is approved); else `cancelled` if any date was cancelled, `rejected` if
/// any was rejected, and `expired` otherwise. Skipped dates do not count; `None` when no date
/// counts.
pub fn derived_status(dates: impl IntoIterator<Item = OccurrenceStatus>) -> Option<BookingStatus> {
    let mut seen = [false; 5];
    for d in dates {
        if let Some(s) = d.booked()
            && let Some(i) = BookingStatus::ALL.iter().position(|a| *a == s)
        {
            seen[i] = true;
        }
    }
    [
        BookingStatus::Pending,
        BookingStatus::Approved,
        BookingStatus::Cancelled,
        BookingStatus::Rejected,
        BookingStatus::Expired,
    ]
    .into_iter()
    .find(|s| {
        BookingStatus::ALL
            .iter()
            .position(|a| a == s)
            .is_some_and(|i| seen[i])
    })
}

impl std::fmt::Display for OccurrenceStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for OccurrenceStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl From<BookingStatus> for OccurrenceStatus {
    fn from(s: BookingStatus) -> Self {
        OccurrenceStatus::Booked(s)
    }
}

impl<'de> Deserialize<'de> for OccurrenceStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        OccurrenceStatus::parse(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown occurrence status {name:?}")))
    }
}

impl PartialEq<BookingStatus> for OccurrenceStatus {
    fn eq(&self, other: &BookingStatus) -> bool {
        *self == OccurrenceStatus::Booked(*other)
    }
}

/// A booking that already exists, as the core sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExistingBooking {
    /// A stable id, shown in conflict reasons.
    pub id: String,
    /// Who asked for it; quotas count per requester.
    pub requester: String,
    /// The physical parts it blocks.
    pub parts: Vec<String>,
    /// The booked time, as displayed.
    pub span: Interval,
    /// The time it keeps others out: `span` widened by the setup and teardown buffers that
    /// applied when it was booked.
    pub blocked: Interval,
    pub status: BookingStatus,
}

/// One indexed interval: a booking's blocked interval in microseconds since the epoch.
#[derive(Clone, Copy, Debug)]
struct Entry {
    start: i64,
    end: i64,
    booking: u32,
}

const NO_NODE: u32 = u32::MAX;

/// A node of the centered tree: every entry in `[lo, hi)` of `by_start` and `by_end` contains
/// `center` (start <= center < end). `left` holds entries ending at or before `center`,
/// `right` those starting after it.
#[derive(Clone, Copy, Debug)]
struct Node {
    center: i64,
    lo: u32,
    hi: u32,
    left: u32,
    right: u32,
}

/// Every `SAMPLE`-th start is kept in a small array that stays in cache.
const SAMPLE: usize = 64;
/// Up to this many candidates before `a` are scanned instead of walking the tree.
const SCAN_LIMIT: usize = 32;

/// The interval tree of one part.
#[derive(Debug, Default)]
struct PartTree {
    /// All entries sorted by start, for the "starts inside the query" half.
    sorted: Vec<Entry>,
    /// `sorted[i].start`, densely packed for searching.
    starts: Vec<i64>,
    /// `starts[0]`, `starts[SAMPLE]`, `starts[2 * SAMPLE]`, ...
    sample: Vec<i64>,
    /// The longest entry, end minus start.
    max_len: i64,
    nodes: Vec<Node>,
    /// Per node, its entries by ascending start.
    by_start: Vec<Entry>,
    /// Per node, its entries by descending end.
    by_end: Vec<Entry>,
    root: u32,
}

impl PartTree {
    fn build(mut entries: Vec<Entry>) -> Self {
        entries.sort_unstable_by_key(|e| (e.start, e.end, e.booking));
        let starts: Vec<i64> = entries.iter().map(|e| e.start).collect();
        let mut tree = PartTree {
            sample: starts.iter().step_by(SAMPLE).copied().collect(),
            starts,
            max_len: entries.iter().map(|e| e.end - e.start).max().unwrap_or(0),
            sorted: entries.clone(),
            nodes: Vec::new(),
            by_start: Vec::with_capacity(entries.len()),
            by_end: Vec::with_capacity(entries.len()),
            root: NO_NODE,
        };
        tree.root = tree.build_node(entries);
        tree
    }

    /// Builds the subtree over `entries` (sorted by start) and returns its node index.
    /// Splitting on the median start puts at most half the entries on each side, so the
    /// depth is at most log2(n) + 1.
    fn build_node(&mut self, entries: Vec<Entry>) -> u32 {
        if entries.is_empty() {
            return NO_NODE;
        }
        let center = entries[entries.len() / 2].start;
        let mut left = Vec::new();
        let mut right = Vec::new();
        let mut here = Vec::new();
        for e in entries {
            if e.end <= center {
                left.push(e);
            } else if e.start > center {
                right.push(e);
            } else {
                here.push(e);
            }
        }
        let lo = self.by_start.len() as u32;
        // `here` is already sorted by start, because `entries` was.
        self.by_start.extend_from_slice(&here);
        here.sort_unstable_by_key(|e| std::cmp::Reverse(e.end));
        self.by_end.extend_from_slice(&here);
        let hi = self.by_start.len() as u32;
        let index = self.nodes.len() as u32;
        self.nodes.push(Node {
            center,
            lo,
            hi,
            left: NO_NODE,
            right: NO_NODE,
        });
        let l = self.build_node(left);
        let r = self.build_node(right);
        self.nodes[index as usize].left = l;
        self.nodes[index as usize].right = r;
        index
    }

    /// The first position whose start is at least `x`.
    fn lower_bound(&self, x: i64) -> usize {
        let k = self.sample.partition_point(|&s| s < x);
        if k == 0 {
            return 0;
        }
        // starts[(k - 1) * SAMPLE] < x, and starts[k * SAMPLE] >= x where it exists.
        let lo = (k - 1) * SAMPLE + 1;
        let hi = (k * SAMPLE).min(self.starts.len());
        lo + self.starts[lo..hi].partition_point(|&s| s < x)
    }

    /// Calls `hit` with every entry overlapping `[a, b)`, each exactly once.
    fn query(&self, a: i64, b: i64, hit: &mut impl FnMut(u32)) {
        // Entries with a <= start < b overlap, as every entry is non-empty.
        let from = self.lower_bound(a);
        for e in &self.sorted[from..] {
            if e.start >= b {
                break;
            }
            hit(e.booking);
        }
        // Entries with start < a < end. Any such entry starts after a - max_len; when few
        // entries do, scanning them back from `from` is cheaper than the tree walk.
        let reach = a.saturating_sub(self.max_len);
        if from <= SCAN_LIMIT || self.starts[from - SCAN_LIMIT - 1] <= reach {
            for e in self.sorted[..from].iter().rev() {
                if e.start <= reach {
                    break;
                }
                if e.end > a {
                    hit(e.booking);
                }
            }
            return;
        }
        self.stab(a, hit);
    }

    /// Calls `hit` with every entry with start < a < end, by one root-to-leaf walk.
    fn stab(&self, a: i64, hit: &mut impl FnMut(u32)) {
        let mut node = self.root;
        while node != NO_NODE {
            let n = self.nodes[node as usize];
            let (lo, hi) = (n.lo as usize, n.hi as usize);
            if a < n.center {
                // Every entry here ends after center > a; report those starting before a.
                for e in &self.by_start[lo..hi] {
                    if e.start >= a {
                        break;
                    }
                    hit(e.booking);
                }
                node = n.left;
            } else if a > n.center {
                // Every entry here starts at or before center < a; report those ending after a.
                for e in &self.by_end[lo..hi] {
                    if e.end <= a {
                        break;
                    }
                    hit(e.booking);
                }
                node = n.right;
            } else {
                // a == center: entries here end after a; the left subtree ends by a and the
                // right one starts after it, so neither can hold a match.
                for e in &self.by_start[lo..hi] {
                    if e.start >= a {
                        break;
                    }
                    hit(e.booking);
                }
                break;
            }
        }
    }
}

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// The blocking bookings of one or more rooms, indexed for conflict checks and quotas.
#[derive(Debug, Default)]
pub struct BookingIndex {
    bookings: Vec<ExistingBooking>,
    parts: HashMap<String, PartTree>,
    /// Per requester, their bookings' positions sorted by displayed start.
    by_requester: HashMap<String, Vec<u32>>,
}

impl BookingIndex {
    /// Indexes the blocking bookings among `bookings`; the others are dropped.
    pub fn new(bookings: impl IntoIterator<Item = ExistingBooking>) -> Self {
        let bookings: Vec<ExistingBooking> = bookings
            .into_iter()
            .filter(|b| b.status.is_blocking())
            .collect();
        let mut per_part: HashMap<String, Vec<Entry>> = HashMap::new();
        let mut by_requester: HashMap<String, Vec<u32>> = HashMap::new();
        for (i, b) in bookings.iter().enumerate() {
            let entry = Entry {
                start: micros(b.blocked.start()),
                end: micros(b.blocked.end()),
                booking: i as u32,
            };
            // Intervals are whole microseconds and non-empty, so this always holds; an empty
            // entry could never match and would unbalance the tree.
            if entry.end <= entry.start {
                continue;
            }
            let mut parts: Vec<&String> = b.parts.iter().collect();
            parts.sort_unstable();
            parts.dedup();
            for part in parts {
                per_part.entry(part.clone()).or_default().push(entry);
            }
            by_requester
                .entry(b.requester.clone())
                .or_default()
                .push(i as u32);
        }
        for list in by_requester.values_mut() {
            list.sort_unstable_by_key(|&i| bookings[i as usize].span.start());
        }
        let parts = per_part
            .into_iter()
            .map(|(part, entries)| (part, PartTree::build(entries)))
            .collect();
        BookingIndex {
            bookings,
            parts,
            by_requester,
        }
    }

    /// How many blocking bookings are indexed.
    pub fn len(&self) -> usize {
        self.bookings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bookings.is_empty()
    }

    /// The blocking bookings that share a part with `parts` and whose blocked interval
    /// overlaps `blocked`, ordered by start then id. Touching intervals do not conflict.
    pub fn conflicts(&self, parts: &[String], blocked: &Interval) -> Vec<&ExistingBooking> {
        let (a, b) = (micros(blocked.start()), micros(blocked.end()));
        let mut hits: Vec<u32> = Vec::new();
        for part in parts {
            if let Some(tree) = self.parts.get(part) {
                tree.query(a, b, &mut |i| hits.push(i));
            }
        }
        // A booking on several of the parts asked for is found once per part.
        hits.sort_unstable();
        hits.dedup();
        let mut found: Vec<&ExistingBooking> = hits
            .into_iter()
            .map(|i| &self.bookings[i as usize])
            .collect();
        found.sort_by(|x, y| (x.blocked.start(), &x.id).cmp(&(y.blocked.start(), &y.id)));
        found
    }

    /// The requester's blocking bookings whose displayed start lies in `window`.
    pub fn requester_bookings_in<'a>(
        &'a self,
        requester: &str,
        window: &Interval,
    ) -> impl Iterator<Item = &'a ExistingBooking> + 'a {
        let list: &[u32] = self
            .by_requester
            .get(requester)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let from =
            list.partition_point(|&i| self.bookings[i as usize].span.start() < window.start());
        let end = window.end();
        list[from..]
            .iter()
            .map(|&i| &self.bookings[i as usize])
            .take_while(move |b| b.span.start() < end)
    }
}

/// The reference answer: a pairwise scan over every booking. Used by tests and benches to
/// check the index, never on a request path.
pub fn brute_force_conflicts<'a>(
    bookings: &'a [ExistingBooking],
    parts: &[String],
    blocked: &Interval,
) -> Vec<&'a ExistingBooking> {
    let mut found: Vec<&ExistingBooking> = bookings
        .iter()
        .filter(|b| b.status.is_blocking())
        .filter(|b| b.parts.iter().any(|p| parts.contains(p)))
        .filter(|b| b.blocked.overlaps(blocked))
        .collect();
    found.sort_by(|x, y| (x.blocked.start(), &x.id).cmp(&(y.blocked.start(), &y.id)));
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeDelta, TimeZone};
    use proptest::prelude::*;

    fn at(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 1, 4, 0, 0, 0).unwrap() + TimeDelta::minutes(minute)
    }

    fn booking(id: &str, parts: &[&str], start: i64, end: i64, buf: (i64, i64)) -> ExistingBooking {
        let span = Interval::new(at(start), at(end)).unwrap();
        ExistingBooking {
            id: id.into(),
            requester: "r".into(),
            parts: parts.iter().map(|p| p.to_string()).collect(),
            span,
            blocked: span.widen(TimeDelta::minutes(buf.0), TimeDelta::minutes(buf.1)),
            status: BookingStatus::Approved,
        }
    }

    fn ids(found: Vec<&ExistingBooking>) -> Vec<String> {
        found.into_iter().map(|b| b.id.clone()).collect()
    }

    #[test]
    fn a_booking_touching_another_does_not_conflict() {
        let index = BookingIndex::new([booking("b1", &["hall"], 60, 120, (0, 0))]);
        let after = Interval::new(at(120), at(180)).unwrap();
        let before = Interval::new(at(0), at(60)).unwrap();
        assert!(index.conflicts(&["hall".into()], &after).is_empty());
        assert!(index.conflicts(&["hall".into()], &before).is_empty());
    }

    #[test]
    fn buffers_turn_a_near_miss_into_a_conflict() {
        let index = BookingIndex::new([booking("b1", &["hall"], 60, 120, (0, 30))]);
        let q = Interval::new(at(130), at(180)).unwrap();
        assert_eq!(ids(index.conflicts(&["hall".into()], &q)), ["b1"]);
    }

    #[test]
    fn a_booking_of_the_whole_hall_blocks_each_part_and_is_named_once() {
        let index = BookingIndex::new([booking("whole", &["A", "B"], 60, 120, (0, 0))]);
        let q = Interval::new(at(90), at(100)).unwrap();
        assert_eq!(ids(index.conflicts(&["A".into()], &q)), ["whole"]);
        assert_eq!(
            ids(index.conflicts(&["A".into(), "B".into()], &q)),
            ["whole"]
        );
        assert!(index.conflicts(&["C".into()], &q).is_empty());
    }

    #[test]
    fn a_booking_listing_a_part_twice_is_named_once() {
        let index = BookingIndex::new([booking("twice", &["A", "A"], 60, 120, (0, 0))]);
        let q = Interval::new(at(90), at(100)).unwrap();
        assert_eq!(ids(index.conflicts(&["A".into()], &q)), ["twice"]);
        assert_eq!(
            ids(index.conflicts(&["A".into(), "A".into()], &q)),
            ["twice"]
        );
    }

    #[test]
    fn sub_microsecond_bookings_neither_crash_the_index_nor_hide_overlaps() {
        let t = at(60);
        let tiny = Interval::new(
            t + TimeDelta::nanoseconds(100),
            t + TimeDelta::nanoseconds(200),
        )
        .unwrap();
        let odd_end = Interval::new(at(0), t + TimeDelta::nanoseconds(500)).unwrap();
        let make = |id: &str, span: Interval| ExistingBooking {
            id: id.into(),
            requester: "r".into(),
            parts: vec!["A".into()],
            span,
            blocked: span,
            status: BookingStatus::Approved,
        };
        let bookings = vec![make("tiny", tiny), make("odd", odd_end)];
        let index = BookingIndex::new(bookings.clone());
        let parts = vec!["A".to_string()];
        let q = Interval::new(t, at(120)).unwrap();
        assert_eq!(
            ids(index.conflicts(&parts, &q)),
            ids(brute_force_conflicts(&bookings, &parts, &q))
        );
        assert_eq!(ids(index.conflicts(&parts, &q)).len(), 2);
    }

    #[test]
    fn cancelled_and_rejected_bookings_do_not_block() {
        let mut b = booking("gone", &["hall"], 60, 120, (0, 0));
        b.status = BookingStatus::Cancelled;
        let index = BookingIndex::new([b]);
        assert!(index.is_empty());
    }

    #[test]
    fn a_long_booking_spanning_the_query_is_found() {
        let index = BookingIndex::new([
            booking("long", &["hall"], 0, 10_000, (0, 0)),
            booking("short", &["hall"], 5, 6, (0, 0)),
        ]);
        let q = Interval::new(at(500), at(501)).unwrap();
        assert_eq!(ids(index.conflicts(&["hall".into()], &q)), ["long"]);
    }

    #[test]
    fn quotas_see_only_the_requesters_bookings_in_the_window() {
        let mut other = booking("other", &["hall"], 0, 60, (0, 0));
        other.requester = "someone-else".into();
        let index = BookingIndex::new([
            booking("early", &["hall"], 0, 60, (0, 0)),
            booking("inside", &["hall"], 200, 260, (0, 0)),
            other,
        ]);
        let w = Interval::new(at(100), at(300)).unwrap();
        let found: Vec<_> = index
            .requester_bookings_in("r", &w)
            .map(|b| b.id.as_str())
            .collect();
        assert_eq!(found, ["inside"]);
    }

    fn arb_booking() -> impl Strategy<Value = (u8, i64, i64, i64, i64, u8)> {
        // part, start minute, length, setup, teardown, status
        (0u8..3, 0i64..2_000, 1i64..300, 0i64..60, 0i64..60, 0u8..5)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        #[test]
        fn the_index_finds_exactly_what_a_pairwise_scan_finds(
            raw in prop::collection::vec(arb_booking(), 0..120),
            queries in prop::collection::vec((0i64..2_300, 1i64..400, 0u8..4), 1..30),
        ) {
            let statuses = [
                BookingStatus::Pending, BookingStatus::Approved, BookingStatus::Rejected,
                BookingStatus::Cancelled, BookingStatus::Expired,
            ];
            let names = ["A", "B", "C"];
            let bookings: Vec<ExistingBooking> = raw.iter().enumerate().map(|(i, &(p, s, len, su, td, st))| {
                // Some bookings cover two parts, like a divisible hall booked whole.
                let parts: Vec<&str> = if p == 2 { vec!["A", "B"] } else { vec![names[p as usize]] };
                let mut b = booking(&format!("b{i}"), &parts, s, s + len, (su, td));
                b.status = statuses[st as usize];
                b
            }).collect();
            let index = BookingIndex::new(bookings.clone());
            for (start, len, p) in queries {
                // Query endpoints land on existing endpoints often enough to test touching.
                let q = Interval::new(at(start), at(start + len)).unwrap();
                let parts: Vec<String> = match p {
                    3 => vec!["A".into(), "B".into()],
                    _ => vec![names[p as usize].into()],
                };
                let fast = ids(index.conflicts(&parts, &q));
                let slow = ids(brute_force_conflicts(&bookings, &parts, &q));
                prop_assert_eq!(fast, slow);
            }
        }

        #[test]
        fn the_tree_walk_finds_exactly_the_intervals_running_at_a_point(
            raw in prop::collection::vec((0i64..500, 1i64..400), 0..300),
            points in prop::collection::vec(0i64..1_000, 1..20),
        ) {
            // Dense, long intervals: the shape where queries leave the backward scan for the
            // tree walk. The walk is checked on its own here.
            let entries: Vec<Entry> = raw.iter().enumerate()
                .map(|(i, &(s, l))| Entry { start: s, end: s + l, booking: i as u32 })
                .collect();
            let tree = PartTree::build(entries.clone());
            for a in points {
                let mut fast = Vec::new();
                tree.stab(a, &mut |i| fast.push(i));
                fast.sort_unstable();
                let slow: Vec<u32> = entries.iter().filter(|e| e.start < a && a < e.end).map(|e| e.booking).collect();
                prop_assert_eq!(fast, slow);
            }
        }

        #[test]
        fn dense_bookings_are_found_exactly_whichever_path_the_query_takes(
            raw in prop::collection::vec((0i64..600, 1i64..300), 0..250),
            queries in prop::collection::vec((0i64..900, 1i64..120), 1..20),
        ) {
            let bookings: Vec<ExistingBooking> = raw.iter().enumerate()
                .map(|(i, &(s, l))| booking(&format!("b{i}"), &["A"], s, s + l, (0, 0)))
                .collect();
            let index = BookingIndex::new(bookings.clone());
            let parts = vec!["A".to_string()];
            for (s, l) in queries {
                let q = Interval::new(at(s), at(s + l)).unwrap();
                prop_assert_eq!(ids(index.conflicts(&parts, &q)), ids(brute_force_conflicts(&bookings, &parts, &q)));
            }
        }

        #[test]
        fn the_index_agrees_with_the_scan_when_queries_touch_existing_endpoints(
            raw in prop::collection::vec((0i64..50, 1i64..10), 1..60),
            pick in 0usize..60, len in 1i64..20, before in any::<bool>(),
        ) {
            let bookings: Vec<ExistingBooking> = raw.iter().enumerate()
                .map(|(i, &(s, l))| booking(&format!("b{i}"), &["A"], s, s + l, (0, 0)))
                .collect();
            let target = &bookings[pick % bookings.len()];
            // A query that ends exactly where a booking starts, or starts where it ends.
            let q = if before {
                Interval::new(target.blocked.start() - TimeDelta::minutes(len), target.blocked.start()).unwrap()
            } else {
                Interval::new(target.blocked.end(), target.blocked.end() + TimeDelta::minutes(len)).unwrap()
            };
            let index = BookingIndex::new(bookings.clone());
            let parts = vec!["A".to_string()];
            prop_assert_eq!(ids(index.conflicts(&parts, &q)), ids(brute_force_conflicts(&bookings, &parts, &q)));
        }
    }
}
