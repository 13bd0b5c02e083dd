//! Prometheus metrics in the text exposition format: request counts and durations per route
//! and status, bookings created per status, whether the directory answers, and rooms synced.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// (method, route, status) → (count, total seconds).
type RequestTable = BTreeMap<(String, String, u16), (u64, f64)>;

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<RequestTable>,
    bookings: Mutex<BTreeMap<String, u64>>,
    directory_up: AtomicBool,
    rooms: AtomicU64,
    syncs_failed: AtomicU64,
    /// (channel, outcome: delivered | retried | dead) → count.
    notifications: Mutex<BTreeMap<(String, String), u64>>,
}

impl Metrics {
    pub fn request(&self, method: &str, route: &str, status: u16, took: Duration) {
        let mut map = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        let e = map
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default();
        e.0 += 1;
        e.1 += took.as_secs_f64();
    }

    pub fn booking_created(&self, status: &str) {
        *self
            .bookings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(status.to_owned())
            .or_default() += 1;
    }

    pub fn set_directory_up(&self, up: bool) {
        self.directory_up.store(up, Ordering::Relaxed);
    }

    pub fn set_rooms(&self, n: usize) {
        self.rooms.store(n as u64, Ordering::Relaxed);
    }

    pub fn sync_failed(&self) {
        self.syncs_failed.fetch_add(1, Ordering::Relaxed);
    }

    /// One notification attempt's outcome: `delivered`, `retried` or `dead`.
    pub fn notification(&self, channel: &str, outcome: &str) {
        *self
            .notifications
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((channel.to_owned(), outcome.to_owned()))
            .or_default() += 1;
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let label = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        out.push_str("# HELP lokal_http_requests_total HTTP requests answered.\n# TYPE lokal_http_requests_total counter\n");
        let requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        for ((m, r, s), (n, _)) in requests.iter() {
            let _ = writeln!(
                out,
                "lokal_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{s}\"}} {n}",
                label(m),
                label(r)
            );
        }
        out.push_str("# HELP lokal_http_request_duration_seconds Time to answer.\n# TYPE lokal_http_request_duration_seconds summary\n");
        for ((m, r, s), (n, sum)) in requests.iter() {
            let labels = format!(
                "method=\"{}\",route=\"{}\",status=\"{s}\"",
                label(m),
                label(r)
            );
            let _ = writeln!(
                out,
                "lokal_http_request_duration_seconds_sum{{{labels}}} {sum}"
            );
            let _ = writeln!(
                out,
                "lokal_http_request_duration_seconds_count{{{labels}}} {n}"
            );
        }
        drop(requests);
        out.push_str("# HELP lokal_bookings_created_total Bookings created, by status.\n# TYPE lokal_bookings_created_total counter\n");
        for (status, n) in self
            .bookings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "lokal_bookings_created_total{{status=\"{}\"}} {n}",
                label(status)
            );
        }
        let _ = writeln!(
            out,
            "# HELP lokal_directory_up Whether the directory answered last time it was asked.\n# TYPE lokal_directory_up gauge\nlokal_directory_up {}",
            u8::from(self.directory_up.load(Ordering::Relaxed))
        );
        let _ = writeln!(
            out,
            "# HELP lokal_rooms Rooms in the store, not retired.\n# TYPE lokal_rooms gauge\nlokal_rooms {}",
            self.rooms.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP lokal_directory_sync_failures_total Directory syncs that failed.\n# TYPE lokal_directory_sync_failures_total counter\nlokal_directory_sync_failures_total {}",
            self.syncs_failed.load(Ordering::Relaxed)
        );
        out.push_str("# HELP lokal_notifications_total Notification attempts, by channel and outcome (delivered, retried, dead).\n# TYPE lokal_notifications_total counter\n");
        for ((channel, outcome), n) in self
            .notifications
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "lokal_notifications_total{{channel=\"{}\",outcome=\"{}\"}} {n}",
                label(channel),
                label(outcome)
            );
        }
        out
    }
}
