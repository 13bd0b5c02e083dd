//! Conflict checks against 1k to 1M bookings in one room: the interval index against a
//! brute-force pairwise scan. Run with `cargo bench --bench conflicts`; the figures and how to
//! read them are in docs/performance.md.

use std::hint::black_box;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use lokal::scheduling::{
    BookingIndex, BookingStatus, ExistingBooking, Interval, brute_force_conflicts,
};

/// A small deterministic generator, so every run measures the same bookings and queries.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: i64) -> i64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % below as u64) as i64
    }
}

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 1, 4, 8, 0, 0)
        .single()
        .unwrap_or_default()
}

/// `n` bookings of one room, back to back with random lengths and gaps, as a busy hall has;
/// about one in five pending, the rest approved, with 15-minute buffers.
fn bookings(n: usize) -> (Vec<ExistingBooking>, i64) {
    let mut rng = Lcg(42);
    let mut minute = 0i64;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        minute += 30 + 15 * rng.next(4);
        let length = 30 * (1 + rng.next(6));
        let span = Interval::new(
            base() + TimeDelta::minutes(minute),
            base() + TimeDelta::minutes(minute + length),
        )
        .unwrap_or_else(|_| unreachable!("lengths are positive"));
        out.push(ExistingBooking {
            id: format!("b{i}"),
            requester: format!("r{}", i % 500),
            parts: vec!["storsalen".into()],
            span,
            blocked: span.widen(TimeDelta::minutes(15), TimeDelta::minutes(15)),
            status: if i % 5 == 0 {
                BookingStatus::Pending
            } else {
                BookingStatus::Approved
            },
        });
        minute += length;
    }
    (out, minute)
}

/// 1,024 two-hour queries spread over the whole booked period.
fn queries(span_minutes: i64) -> Vec<Interval> {
    let mut rng = Lcg(7);
    (0..1024)
        .map(|_| {
            let at = base() + TimeDelta::minutes(rng.next(span_minutes));
            Interval::new(at, at + TimeDelta::hours(2)).unwrap_or_else(|_| unreachable!())
        })
        .collect()
}

fn conflicts(c: &mut Criterion) {
    let parts = vec!["storsalen".to_string()];
    let mut group = c.benchmark_group("conflicts");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for n in [1_000usize, 10_000, 100_000, 1_000_000] {
        let (all, span) = bookings(n);
        let qs = queries(span);
        let index = BookingIndex::new(all.clone());
        let mut i = 0usize;
        group.bench_with_input(BenchmarkId::new("indexed", n), &n, |b, _| {
            b.iter(|| {
                i = (i + 1) % qs.len();
                black_box(index.conflicts(&parts, &qs[i]).len())
            })
        });
        let mut j = 0usize;
        group.bench_with_input(BenchmarkId::new("brute-force", n), &n, |b, _| {
            b.iter(|| {
                j = (j + 1) % qs.len();
                black_box(brute_force_conflicts(&all, &parts, &qs[j]).len())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, conflicts);
criterion_main!(benches);
