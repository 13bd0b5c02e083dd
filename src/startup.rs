//! Wiring for `lokal serve`: open the store and the directory, load the rules, sync rooms,
//! start the background jobs (directory sync, hold expiry, metrics upkeep), and serve until
//! asked to stop.
//!
//! `lokal serve` binds its port first, so a taken port fails at once, before anything is
//! synced or started; then it checks that every policy a room names exists (a room naming a
//! missing one would answer every booking with a 500) and refuses to start if not. Serving
//! itself is [`listener`]: capped, timed connections.
//!
//! Each application built here owns its own metrics recorder (`telemetry::Metrics`), never a
//! process-wide one, so that several apps in one process (the integration tests) count apart;
//! the `measure` layer records every request into it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use std::time::Instant;

use anyhow::Context as _;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::HeaderName;
use axum::http::header::ACCEPT;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use chrono::{Datelike, TimeDelta};
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

mod listener;

pub use listener::ConnLimits;

use crate::app::AppState;
use crate::booking::{Bookings, CreateBooking, OnConflict, Rules};
use crate::clock::Clock;
use crate::config::Config;
use crate::directory::{DirRoom, Directory, UnknownPolicy};
use crate::identity::{
    ClientAddr, DirectoryGuard, DirectoryLogins, HashPool, Identity, NewResident, Principal,
    ResidentLogins,
};
use crate::store::Store;
use crate::telemetry::Metrics;

/// Opens the configured directory (a file, or an LDAP server: no connection is made yet).
pub async fn open_directory(config: &Config) -> anyhow::Result<Arc<dyn Directory>> {
    let d = &config.directory;
    let ldap = if d.url.starts_with("ldap") {
        Some(d.ldap_settings()?)
    } else {
        None
    };
    let directory = crate::directory::connect(&d.url, d.mapping(), ldap).await?;
    Ok(Arc::from(directory))
}

/// Everything the server needs, built from the configuration.
pub async fn build_state(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
    let store = Arc::new(
        Store::open(&config.store.url)
            .await
            .with_context(|| format!("opening the store {}", redact(&config.store.url)))?,
    );
    let directory = open_directory(config).await?;
    let rules = load_rules(config)?;
    // The one pool that hashes and checks residents' passwords: memory stays at its threads'
    // blocks whatever the number of registrations and logins at once.
    let hasher = HashPool::start(config.auth.hash_threads, config.auth.hash_queue)
        .map_err(anyhow::Error::msg)
        .context("starting the password-hashing threads")?;
    let settings = config.auth.identity_settings()?;
    let guard = DirectoryGuard::new(clock.clone(), &settings.throttle);
    let identity = Identity::new(
        vec![
            Box::new(ResidentLogins::new(
                store.clone(),
                clock.clone(),
                config.auth.credential_cache_secs,
                hasher.clone(),
            )),
            Box::new(DirectoryLogins::new(
                directory.clone(),
                clock.clone(),
                config.auth.credential_cache_secs,
                guard,
            )),
        ],
        store.clone(),
        clock.clone(),
        hasher,
        settings,
    );
    Ok(AppState {
        bookings: Bookings::new(store, Arc::new(rules), clock),
        identity: Arc::new(identity),
        directory,
        metrics: Arc::new(Metrics::default()),
    })
}

/// The policies and closure calendars named by `scheduling.*`.
pub fn load_rules(config: &Config) -> anyhow::Result<Rules> {
    let s = &config.scheduling;
    Rules::load(
        &s.policies,
        &s.calendars,
        &s.default_policy,
        &s.default_time_zone,
    )
    .map_err(anyhow::Error::msg)
    .context("loading the scheduling rules")
}

/// Fails, naming the rooms and the policies, when rooms name a policy the policy file does not
/// define: such a room could not be booked (every booking would fail with a 500), so Lokal
/// refuses that directory rather than serve it.
pub fn check_room_policies<'a>(
    rooms: impl IntoIterator<Item = &'a DirRoom>,
    rules: &Rules,
    policies_file: &std::path::Path,
) -> anyhow::Result<()> {
    let unknown = crate::directory::unknown_policies(rooms, |name| rules.defines(name));
    if unknown.is_empty() {
        return Ok(());
    }
    Err(unknown_policies_error(&unknown, policies_file))
}

fn unknown_policies_error(
    unknown: &[UnknownPolicy],
    policies_file: &std::path::Path,
) -> anyhow::Error {
    anyhow::anyhow!(
        "rooms name policies that the policy file {} does not define:\n{}\n\
         Add these policies to the file, or correct the rooms' policy attribute in the \
         directory (directory.mapping.policy). See docs/directory.md.",
        policies_file.display(),
        crate::directory::describe_unknown_policies(unknown)
    )
}

/// Why a sync did not happen.
enum SyncError {
    /// The directory did not answer.
    Directory(crate::directory::DirectoryError),
    /// Rooms name policies the policy file lacks.
    UnknownPolicies(Vec<UnknownPolicy>),
    Store(crate::store::StoreError),
}

/// The store under `state`'s services, for the wiring (room sync, demo data) and for tests
/// that seed or inspect the database. Faces cannot call this: they never import the wiring
/// (`tests/it/architecture/layers.rs`).
pub fn store_of(state: &AppState) -> &Arc<Store> {
    state.bookings.store()
}

/// Copies the directory's rooms into the store. A directory that does not answer is logged
/// and the store keeps serving what it has; so is a directory whose rooms name policies the
/// policy file lacks (nothing of that sync is stored: the rooms stay as they were).
pub async fn sync_rooms(state: &AppState) -> bool {
    match try_sync_rooms(state).await {
        Ok(()) => true,
        Err(SyncError::Directory(e)) => {
            tracing::warn!(error = %e, "the directory did not answer; serving rooms from the store");
            false
        }
        Err(SyncError::UnknownPolicies(unknown)) => {
            tracing::error!(
                "rooms name policies that the policy file does not define; keeping the rooms as \
                 they were until the directory or the policy file is corrected:\n{}",
                crate::directory::describe_unknown_policies(&unknown)
            );
            false
        }
        Err(SyncError::Store(e)) => {
            tracing::error!(error = %e, "storing the directory's rooms failed");
            false
        }
    }
}

async fn try_sync_rooms(state: &AppState) -> Result<(), SyncError> {
    let rooms = match state.directory.rooms().await {
        Ok(rooms) => rooms,
        Err(e) => {
            state.metrics.set_directory_up(false);
            state.metrics.sync_failed();
            return Err(SyncError::Directory(e));
        }
    };
    state.metrics.set_directory_up(true);
    let unknown =
        crate::directory::unknown_policies(&rooms, |name| state.bookings.rules.defines(name));
    if !unknown.is_empty() {
        state.metrics.sync_failed();
        return Err(SyncError::UnknownPolicies(unknown));
    }
    match state
        .bookings
        .store()
        .sync_rooms(&rooms, state.bookings.clock.now())
        .await
    {
        Ok(report) => {
            state.metrics.set_rooms(rooms.len());
            tracing::info!(
                rooms = rooms.len(),
                added = report.added,
                updated = report.updated,
                retired = report.retired,
                restored = report.restored,
                "rooms synced from the directory"
            );
            for refused in &report.refused_parts {
                tracing::warn!(
                    room = %refused.room_id,
                    bookings = %refused.booking_ids.join(", "),
                    "the directory's new parts of this room were not stored: its coming \
                     bookings would overlap these; cancel or move them and sync again"
                );
            }
            Ok(())
        }
        Err(e) => {
            state.metrics.sync_failed();
            Err(SyncError::Store(e))
        }
    }
}

/// The first sync of `lokal serve`: like [`sync_rooms`], but rooms naming a missing policy
/// stop the start, and when the directory does not answer, the rooms the store already has are
/// checked instead.
async fn sync_rooms_at_start(state: &AppState, config: &Config) -> anyhow::Result<()> {
    let policies_file = &config.scheduling.policies;
    match try_sync_rooms(state).await {
        Ok(()) => Ok(()),
        Err(SyncError::UnknownPolicies(unknown)) => {
            Err(unknown_policies_error(&unknown, policies_file))
        }
        Err(SyncError::Directory(e)) => {
            tracing::warn!(error = %e, "the directory did not answer; serving rooms from the store");
            let stored = state
                .bookings
                .store()
                .rooms(false)
                .await
                .context("reading the stored rooms")?;
            check_room_policies(
                stored.iter().map(|r| &r.room),
                &state.bookings.rules,
                policies_file,
            )
        }
        Err(SyncError::Store(e)) => {
            tracing::error!(error = %e, "storing the directory's rooms failed");
            Ok(())
        }
    }
}

/// Runs the directory sync and the hold expiry every so often, and the notification worker,
/// until the runtime stops. The worker's handle is returned so that a graceful shutdown can
/// let it finish and record the deliveries it is sending.
pub fn spawn_background(state: &AppState, config: &Config) -> Option<crate::notify::WorkerHandle> {
    let worker = match crate::notify::start(state, &config.notify, &config.server.public_base()) {
        Ok(Some(worker)) => {
            tracing::info!("notification worker started");
            Some(worker)
        }
        Ok(None) => {
            tracing::info!("notifications are off (notify.enabled = false)");
            None
        }
        Err(e) => {
            tracing::error!(error = %e, "the notification worker could not start");
            None
        }
    };
    let every = Duration::from_secs(config.directory.sync_interval_secs);
    let s = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            sync_rooms(&s).await;
        }
    });
    // Histogram samples wait in the recorder until drained into their buckets; a scrape does
    // that, and so does this, for a server nobody scrapes.
    let s = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            s.metrics.run_upkeep();
        }
    });
    let every = Duration::from_secs(config.server.expiry_interval_secs);
    let s = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match s.bookings.expire_holds().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(expired = n, "pending requests expired"),
                Err(e) => tracing::warn!(error = %e, "expiring holds failed"),
            }
            if let Err(e) = s.bookings.sessions().sweep().await {
                tracing::warn!(error = %e, "removing expired web sessions failed");
            }
        }
    });
    worker
}

/// The demo resident made on first start with demo data.
pub const DEMO_RESIDENT: (&str, &str, &str) = (
    "kari.nordmann@example.no",
    "kari-demo-2027",
    "Kari Nordmann",
);

/// On first start (no bookings at all), a few bookings so the demo has something to show:
/// an approved club-room evening and a pending hall request by the demo resident, and a hall
/// booked directly by a culture officer.
pub async fn create_demo_data(state: &AppState) -> anyhow::Result<usize> {
    let store = state.bookings.store();
    if store.has_bookings().await? {
        return Ok(0);
    }
    let now = state.bookings.clock.now();
    let (email, password, name) = DEMO_RESIDENT;
    let resident = match store.resident_by_email(email).await? {
        Some(r) => r,
        None => state
            .identity
            .register(
                NewResident {
                    email,
                    password,
                    name,
                    lang: crate::i18n::Lang::Nb,
                },
                ClientAddr::Unknown,
            )
            .await
            .map_err(|e| anyhow::anyhow!("demo resident: {e}"))?,
    };
    let kari = Principal::Resident {
        id: resident.id,
        email: resident.email,
        name: resident.name,
    };
    let mut who = vec![kari.clone(), kari];
    if let Ok(Some(person)) = state.directory.find_person("ingrid.berg").await
        && let Ok(roles) = state.directory.roles(&person).await
    {
        who.push(Principal::Staff {
            id: person.id,
            login: person.login,
            name: person.name,
            roles,
        });
    }
    let rooms = store.rooms(false).await?;
    let room_named = |name: &str| {
        rooms
            .iter()
            .find(|r| r.room.name == name)
            .map(|r| r.room.id.clone())
    };
    let plan = [
        ("Klubbrommet", 3, "18:00", "20:00", "Strikkekafé"),
        ("Storsalen", 12, "18:00", "22:00", "Korkonsert"),
        ("Lillesalen", 9, "19:00", "21:00", "Litteraturkveld"),
    ];
    let mut made = 0;
    for (who, (room, days, from, to, purpose)) in who.iter().zip(plan) {
        let Some(room_id) = room_named(room) else {
            continue;
        };
        // A weekday, so the demo does not fall on Sunday's short opening hours; a day the
        // room is closed (a holiday) moves the booking on to the next.
        let mut day = (now + TimeDelta::days(days)).date_naive();
        for _ in 0..14 {
            while day.weekday().number_from_monday() > 5 {
                day = day.succ_opt().unwrap_or(day);
            }
            let request = CreateBooking {
                room_id: room_id.clone(),
                start: format!("{day}T{from}"),
                end: format!("{day}T{to}"),
                purpose: purpose.to_owned(),
                attendees: 20,
                recurrence: None,
                on_conflict: OnConflict::Reject,
            };
            match state.bookings.create(who, request, None).await {
                Ok(_) => {
                    made += 1;
                    break;
                }
                Err(e) => {
                    tracing::debug!(room, %day, error = %e, "demo booking refused; trying the next day")
                }
            }
            day = day.succ_opt().unwrap_or(day);
        }
    }
    Ok(made)
}

/// Serves on `listener` until `shutdown` completes, then finishes the requests in flight, with
/// the connection limits of the default configuration.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    max_body_bytes: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let limits = conn_limits(&Config::default().server, None);
    serve_with(listener, state, max_body_bytes, limits, shutdown).await
}

/// [`serve`] with the given connection limits.
pub async fn serve_with(
    listener: TcpListener,
    state: AppState,
    max_body_bytes: usize,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = router(state, max_body_bytes);
    listener::serve(listener, app, limits, shutdown).await;
    Ok(())
}

/// The connection limits of `server.*`, the cap no higher than the open-file limit `nofile`
/// allows.
pub fn conn_limits(server: &crate::config::ServerConfig, nofile: Option<u64>) -> ConnLimits {
    ConnLimits {
        max_connections: ConnLimits::cap(server.max_connections, nofile),
        idle_timeout: Duration::from_secs(server.idle_timeout_secs),
        header_timeout: Duration::from_secs(server.header_timeout_secs),
        body_timeout: Duration::from_secs(server.body_timeout_secs),
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// `lokal serve`.
pub async fn run(mut config: Config, listen: Option<String>) -> anyhow::Result<()> {
    // `--listen` wins over `server.listen`, also for the links in mails and webhooks
    // (`server.public_base`).
    if let Some(addr) = listen {
        config.server.listen = addr;
    }
    // The port first: when it is taken, nothing has been opened, synced or started yet.
    let addr = config.server.listen.clone();
    let listener = TcpListener::bind(&addr).await.with_context(|| {
        format!("cannot listen on {addr} (server.listen or --listen): is another program using it?")
    })?;
    let local = listener.local_addr().context("reading the bound address")?;
    config.server.listen = local.to_string();
    let nofile = listener::raise_open_files_limit();
    let limits = conn_limits(&config.server, nofile);
    if limits.max_connections < config.server.max_connections {
        tracing::info!(
            max_connections = limits.max_connections,
            configured = config.server.max_connections,
            open_files = nofile,
            "connections capped below server.max_connections by the open-file limit"
        );
    }
    let clock: Arc<dyn Clock> = Arc::new(crate::clock::SystemClock);
    let state = build_state(&config, clock).await?;
    sync_rooms_at_start(&state, &config).await?;
    if config.server.demo_data {
        match create_demo_data(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(bookings = n, "demo bookings created"),
            Err(e) => tracing::warn!(error = %e, "demo data could not be created"),
        }
    }
    // A notification setting that cannot work (a mail folder that cannot be made, an SMTP
    // host missing) stops the start, rather than leaving every notification waiting unseen.
    if config.notify.enabled {
        crate::notify::Notifier::new(&state, &config.notify, &config.server.public_base())
            .context("starting notifications")?;
    }
    let worker = spawn_background(&state, &config);
    // Written without println!, which panics when stdout is closed: a supervisor that reads
    // only the first line must not bring the server down.
    let mut banner = format!(
        "Lokal is running at http://{local}/\n  API:      http://{local}/api/v1/rooms  (OpenAPI: http://{local}/api/v1/openapi.json)\n  Health:   http://{local}/healthz  http://{local}/readyz  http://{local}/metrics\n"
    );
    if config.server.demo_data {
        banner.push_str(&format!(
            "  Demo resident: {} / {} (staff logins: seed/demo-logins.md)\n",
            DEMO_RESIDENT.0, DEMO_RESIDENT.1
        ));
    }
    {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(banner.as_bytes()).and_then(|()| out.flush());
    }
    let served = serve_with(
        listener,
        state,
        config.server.max_body_bytes,
        limits,
        shutdown_signal(),
    )
    .await;
    // The notification worker finishes the deliveries it is sending and records them, so a
    // restart does not send them again; a receiver that hangs cannot hold the stop for long.
    if let Some(worker) = worker
        && tokio::time::timeout(Duration::from_secs(30), worker.stop())
            .await
            .is_err()
    {
        tracing::warn!(
            "the notification worker did not stop within 30 s; its unrecorded deliveries are sent again after the restart"
        );
    }
    served
}

/// A URL with its password hidden, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole application: every face's routes, the `/` dispatch, the 404 for everything else,
/// and the layers every request passes (request id, logging, body limit, metrics).
pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    Router::new()
        .merge(crate::http::routes())
        .merge(crate::caldav::routes())
        .merge(crate::web::routes())
        // `/` is two things: calendar apps given only the server's address PROPFIND it to find
        // their principal (RFC 6764 §6), browsers GET the portal's start page.
        .route(
            "/",
            any(root).layer(axum::middleware::from_fn(crate::caldav::whole_body)),
        )
        .fallback(fallback)
        .layer(axum::middleware::from_fn_with_state(
            state.identity.clone(),
            crate::identity::client_addr,
        ))
        .layer(axum::middleware::from_fn_with_state(state.clone(), measure))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req
                .headers()
                .get(REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            // A private feed's path is its secret: never in the logs.
            let path = req.uri().path();
            let path = if path.starts_with("/feeds/private/") {
                "/feeds/private/…"
            } else {
                path
            };
            tracing::info_span!("request", method = %req.method(), path = %path, request_id = %id)
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

async fn root(State(state): State<AppState>, req: Request) -> Response {
    match req.method().as_str() {
        "PROPFIND" | "OPTIONS" => crate::caldav::serve(state, req).await,
        "GET" | "HEAD" => {
            axum::handler::Handler::call(crate::web::resident::start, req, state).await
        }
        _ => crate::http::not_found().await.into_response(),
    }
}

/// No face has this path: browsers get the portal's 404 page, programs problem+json.
async fn fallback(State(state): State<AppState>, req: Request) -> Response {
    let wants_html = req
        .headers()
        .get(ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if wants_html {
        axum::handler::Handler::call(crate::web::not_found, req, state).await
    } else {
        crate::http::not_found().await.into_response()
    }
}

/// Counts and times every request into this application's metrics, by method, matched route
/// (never the raw path: a private feed's path is its secret, and routes keep the series few)
/// and status.
/// The method as a metrics label. HTTP lets a client send any token as a method; each new one
/// would be a new set of series (a histogram is 15 of them) kept for the life of the process,
/// so methods Lokal does not serve are counted together as `other`.
fn method_label(method: &axum::http::Method) -> &'static str {
    const KNOWN: [&str; 11] = [
        "GET",
        "HEAD",
        "POST",
        "PUT",
        "DELETE",
        "OPTIONS",
        "PATCH",
        "PROPFIND",
        "PROPPATCH",
        "REPORT",
        "MKCALENDAR",
    ];
    KNOWN
        .into_iter()
        .find(|m| *m == method.as_str())
        .unwrap_or("other")
}

async fn measure(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(req).await;
    state.metrics.request(
        method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_made_up_method_is_one_metrics_label_not_a_new_series_each() {
        let made_up = axum::http::Method::from_bytes(b"FLOOD12345").unwrap();
        assert_eq!(method_label(&made_up), "other");
        assert_eq!(method_label(&axum::http::Method::GET), "GET");
        let propfind = axum::http::Method::from_bytes(b"PROPFIND").unwrap();
        assert_eq!(method_label(&propfind), "PROPFIND");
    }
}
