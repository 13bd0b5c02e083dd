//! Prometheus metrics, through the `metrics` crate and `metrics-exporter-prometheus`: request
//! counts and latency per route and status, bookings created per status, whether the
//! directory answers, rooms synced, and notification attempts and delivery latency.
//!
//! Invariants:
//! - **One recorder per application, never a global one.** Each [`Metrics`] owns its own
//!   [`PrometheusRecorder`] and records into it through [`metrics::with_local_recorder`].
//!   The integration tests run many Lokal apps in one process and assert exact counts per
//!   app; a process-wide recorder (`metrics::set_global_recorder`) would add every app's
//!   requests and deliveries into one set of series, and could be installed only once.
//! - The latencies are true Prometheus histograms (`_bucket`, `_sum`, `_count` series), with
//!   fixed buckets ([`REQUEST_BUCKETS`], [`DELIVERY_BUCKETS`]), so they can be aggregated
//!   across instances (a summary's quantiles cannot).
//! - Every series of the old text exporter keeps its name and labels (`docs/api.md`,
//!   `docs/notifications.md`): `lokal_http_requests_total{method,route,status}`,
//!   `lokal_http_request_duration_seconds{method,route,status}`,
//!   `lokal_bookings_created_total{status}`, `lokal_directory_up`, `lokal_rooms`,
//!   `lokal_directory_sync_failures_total`, `lokal_notifications_total{channel,outcome}`; new:
//!   `lokal_notification_delivery_seconds{channel}`.
//! - Histogram samples wait in the recorder until they are drained into buckets, which a
//!   scrape does; without scrapes, [`Metrics::run_upkeep`] (called by `startup` every few
//!   seconds) keeps them from growing without bound.

use std::time::Duration;

use metrics::Unit;
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

const HTTP_REQUESTS: &str = "lokal_http_requests_total";
const HTTP_DURATION: &str = "lokal_http_request_duration_seconds";
const BOOKINGS_CREATED: &str = "lokal_bookings_created_total";
const DIRECTORY_UP: &str = "lokal_directory_up";
const ROOMS: &str = "lokal_rooms";
const SYNC_FAILURES: &str = "lokal_directory_sync_failures_total";
const NOTIFICATIONS: &str = "lokal_notifications_total";
const DELIVERY_DURATION: &str = "lokal_notification_delivery_seconds";

/// Upper bounds of the request latency buckets, in seconds: most answers take milliseconds;
/// a booking on a busy SQLite, or an LDAP bind, may take up to a few seconds.
pub const REQUEST_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Upper bounds of the delivery latency buckets, in seconds: an SMTP hand-over or a webhook
/// POST, up to the webhook timeout (at most 300 s).
pub const DELIVERY_BUCKETS: [f64; 11] = [
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0, 300.0,
];

/// One application's metrics.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A fresh recorder with the histogram buckets and every series' help text; the gauges
    /// and the sync-failure counter start at 0, so they show before their first change.
    pub fn new() -> Self {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.into()), &REQUEST_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full(DELIVERY_DURATION.into()), &DELIVERY_BUCKETS)
            });
        // The bucket lists are constants and not empty, the only way the builder refuses
        // them; should that ever change, latencies fall back to summaries, still exported.
        let recorder = match builder {
            Ok(b) => b.build_recorder(),
            Err(_) => PrometheusBuilder::new().build_recorder(),
        };
        let handle = recorder.handle();
        let me = Metrics { recorder, handle };
        me.record(|| {
            metrics::describe_counter!(HTTP_REQUESTS, "HTTP requests answered.");
            metrics::describe_histogram!(HTTP_DURATION, Unit::Seconds, "Time to answer.");
            metrics::describe_counter!(BOOKINGS_CREATED, "Bookings created, by status.");
            metrics::describe_gauge!(
                DIRECTORY_UP,
                "Whether the directory answered last time it was asked."
            );
            metrics::describe_gauge!(ROOMS, "Rooms in the store, not retired.");
            metrics::describe_counter!(SYNC_FAILURES, "Directory syncs that failed.");
            metrics::describe_counter!(
                NOTIFICATIONS,
                "Notification attempts, by channel and outcome (delivered, retried, dead)."
            );
            metrics::describe_histogram!(
                DELIVERY_DURATION,
                Unit::Seconds,
                "Time one notification attempt took (an SMTP hand-over or a webhook POST), by channel."
            );
            metrics::gauge!(DIRECTORY_UP).set(0.0);
            metrics::gauge!(ROOMS).set(0.0);
            metrics::counter!(SYNC_FAILURES).absolute(0);
        });
        me
    }

    /// Runs `f` with this application's recorder as the thread's recorder.
    fn record(&self, f: impl FnOnce()) {
        metrics::with_local_recorder(&self.recorder, f);
    }

    /// One answered request: counted, and its latency in the histogram.
    pub fn request(&self, method: &str, route: &str, status: u16, took: Duration) {
        let labels = [
            ("method", method.to_owned()),
            ("route", route.to_owned()),
            ("status", status.to_string()),
        ];
        self.record(|| {
            metrics::counter!(HTTP_REQUESTS, &labels).increment(1);
            metrics::histogram!(HTTP_DURATION, &labels).record(took.as_secs_f64());
        });
    }

    pub fn booking_created(&self, status: &str) {
        let status = status.to_owned();
        self.record(|| metrics::counter!(BOOKINGS_CREATED, "status" => status).increment(1));
    }

    pub fn set_directory_up(&self, up: bool) {
        self.record(|| metrics::gauge!(DIRECTORY_UP).set(if up { 1.0 } else { 0.0 }));
    }

    pub fn set_rooms(&self, n: usize) {
        // Exact for any realistic number of rooms (below 2^53).
        self.record(|| metrics::gauge!(ROOMS).set(n as f64));
    }

    pub fn sync_failed(&self) {
        self.record(|| metrics::counter!(SYNC_FAILURES).increment(1));
    }

    /// One notification attempt's outcome: `delivered`, `retried` or `dead`.
    pub fn notification(&self, channel: &str, outcome: &str) {
        let labels = [
            ("channel", channel.to_owned()),
            ("outcome", outcome.to_owned()),
        ];
        self.record(|| metrics::counter!(NOTIFICATIONS, &labels).increment(1));
    }

    /// How long one notification attempt took, whatever its outcome.
    pub fn delivery_took(&self, channel: &str, took: Duration) {
        let channel = channel.to_owned();
        self.record(|| {
            metrics::histogram!(DELIVERY_DURATION, "channel" => channel).record(took.as_secs_f64())
        });
    }

    /// Moves waiting histogram samples into their buckets (see the module header).
    pub fn run_upkeep(&self) {
        self.handle.run_upkeep();
    }

    /// The Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        self.handle.render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_apps_count_their_requests_apart() {
        let a = Metrics::new();
        let b = Metrics::new();
        a.request("GET", "/api/v1/rooms", 200, Duration::from_millis(3));
        a.request("GET", "/api/v1/rooms", 200, Duration::from_millis(30));
        b.request("GET", "/api/v1/rooms", 200, Duration::from_millis(3));
        let line =
            "lokal_http_requests_total{method=\"GET\",route=\"/api/v1/rooms\",status=\"200\"}";
        assert!(a.render().contains(&format!("{line} 2")), "{}", a.render());
        assert!(b.render().contains(&format!("{line} 1")), "{}", b.render());
    }

    #[test]
    fn latencies_are_histograms_with_buckets() {
        let m = Metrics::new();
        m.request("GET", "/healthz", 200, Duration::from_millis(2));
        m.delivery_took("webhook", Duration::from_millis(40));
        let text = m.render();
        assert!(
            text.contains("# TYPE lokal_http_request_duration_seconds histogram"),
            "{text}"
        );
        assert!(
            text.contains("lokal_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",status=\"200\",le=\"0.0025\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "lokal_notification_delivery_seconds_bucket{channel=\"webhook\",le=\"0.05\"} 1"
            ),
            "{text}"
        );
    }

    #[test]
    fn the_gauges_show_before_their_first_change() {
        let m = Metrics::new();
        let text = m.render();
        assert!(text.contains("lokal_directory_up 0"), "{text}");
        assert!(text.contains("lokal_rooms 0"), "{text}");
        assert!(
            text.contains("lokal_directory_sync_failures_total 0"),
            "{text}"
        );
        m.set_directory_up(true);
        m.set_rooms(7);
        let text = m.render();
        assert!(text.contains("lokal_directory_up 1"), "{text}");
        assert!(text.contains("lokal_rooms 7"), "{text}");
    }
}
