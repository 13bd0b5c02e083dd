//! The HTTP listener behind `lokal serve`: Lokal's own accept loop on hyper's HTTP/1.1 server,
//! so that connections are bounded and timed, which `axum::serve` does not do.
//!
//! What it guarantees (docs/security.md, "Connections"):
//! - At most `max_connections` connections are served at once. A connection arriving at the
//!   cap makes room by closing the connection that has waited longest without a request in
//!   progress (as nginx reuses keep-alive connections when it runs short); when every
//!   connection is in a request, the newcomer gets a short `503` with `Retry-After: 1` and is
//!   closed. So idle connections, however many, never lock real requests out.
//! - A connection with no request in progress is closed after `idle_timeout` without a byte;
//!   once the first byte of a request arrives, its head (request line and headers) must be
//!   complete within `header_timeout`, however slowly it trickles in (slowloris); a request
//!   body must have arrived within `body_timeout` of the first wait for it; a client that
//!   stops reading a response is cut after `idle_timeout`.
//! - Accept errors (EMFILE when the process runs out of file descriptors) back off (10 ms,
//!   doubling to 1 s) instead of spinning, close an idle connection to free a descriptor, and
//!   are logged at most once every ten seconds, with a count.
//! - On shutdown the port is closed at once, idle connections close, and requests in flight
//!   finish (hyper's graceful shutdown); `serve` returns when the last connection is gone.
//! - Every request carries `axum::extract::ConnectInfo<SocketAddr>`, as
//!   `into_make_service_with_connect_info::<SocketAddr>()` would give it.
//!
//! Only HTTP/1.1 (and 1.0) is spoken, as before: Lokal never enabled HTTP/2, and a TLS proxy
//! in front of it speaks HTTP/2 to browsers.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::time::{Instant, Sleep};

/// How connections are bounded and timed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnLimits {
    /// Connections served at once.
    pub max_connections: usize,
    /// How long a connection with no request in progress may send nothing.
    pub idle_timeout: Duration,
    /// How long a request head may take from its first byte.
    pub header_timeout: Duration,
    /// How long a request body may take from the first wait for it.
    pub body_timeout: Duration,
}

/// Descriptors kept back from the connection cap for the store, the directory, SMTP, log
/// files and the short `503` answers at the cap.
pub const FD_RESERVE: u64 = 128;

/// The fewest connections the cap derived from the open-file limit allows.
const MIN_CONNECTIONS: usize = 16;

impl ConnLimits {
    /// The cap in force: `configured`, but never more than the open-file limit `nofile` less
    /// [`FD_RESERVE`] (each connection is one descriptor), and at least a few.
    pub fn cap(configured: usize, nofile: Option<u64>) -> usize {
        let by_fds = nofile
            .map(|n| usize::try_from(n.saturating_sub(FD_RESERVE)).unwrap_or(usize::MAX))
            .unwrap_or(usize::MAX);
        configured.min(by_fds).max(MIN_CONNECTIONS)
    }
}

/// Raises the soft limit on open files to the hard limit (as Go's runtime does: the soft
/// limit of 1,024 most shells and service managers start with is far below what a server
/// needs, and the hard limit is what the administrator allowed) and returns the soft limit
/// in force, or `None` where it cannot be read.
pub fn raise_open_files_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own; RLIMIT_NOFILE is a valid resource.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    // RLIM_INFINITY as the hard limit: ask for a large finite number instead, which Linux
    // caps at fs.nr_open.
    let wanted = limit.rlim_max.min(1 << 20);
    if limit.rlim_cur < wanted {
        let raised = libc::rlimit {
            rlim_cur: wanted,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit reads the struct we own.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            tracing::info!(
                from = limit.rlim_cur,
                to = wanted,
                "raised the open-file limit to its hard limit"
            );
            limit.rlim_cur = wanted;
        }
    }
    Some(limit.rlim_cur)
}

/// Accept errors are logged at most this often.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// How long a connection arriving at the cap waits for the one closed to make room.
const EVICT_WAIT: Duration = Duration::from_millis(200);

/// `503` answers being written at once; beyond this, connections at the cap are just closed.
const REFUSALS: usize = 16;

/// Serves `router` on `listener` until `shutdown` completes, then lets the requests in flight
/// finish and returns when the last connection has closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let limits = Arc::new(limits);
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let permits = Arc::new(Semaphore::new(max));
    let refusals = Arc::new(Semaphore::new(REFUSALS));
    let registry = Arc::new(Registry::default());
    let (stop, stopped) = watch::channel(());
    let mut http = hyper::server::conn::http1::Builder::new();
    http.keep_alive(true);
    // A request head is at most 64 KiB buffered (hyper's default allows ~400 KiB): 10,000
    // connections trickling heads cannot make Lokal hold gigabytes.
    http.max_buf_size(64 * 1024);
    let mut shutdown = pin!(shutdown);
    let mut backoff = Backoff::default();
    let mut accept_errors = Throttle::default();
    let mut at_cap = Throttle::default();
    let mut refused_at_cap = Throttle::default();
    let trimmer = tokio::spawn(release_memory_after_bursts(registry.clone()));
    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, remote) = match accepted {
            Ok(accepted) => {
                backoff.reset();
                accepted
            }
            // The client gave up before we accepted: nothing to do.
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Out of descriptors (EMFILE, ENFILE) or memory: the pending connection stays
                // in the kernel's queue and would fail again at once, so wait, and free a
                // descriptor by closing the connection idle longest.
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
                ) {
                    registry.evict_longest_idle();
                }
                if let Some(times) = accept_errors.note() {
                    tracing::warn!(
                        error = %e,
                        times,
                        "accepting connections failed; backing off (logged once every 10 s)"
                    );
                }
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(backoff.next()) => continue,
                }
            }
        };
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                let made_room = registry.evict_longest_idle();
                let permit = if made_room {
                    tokio::time::timeout(EVICT_WAIT, permits.clone().acquire_owned())
                        .await
                        .ok()
                        .and_then(Result::ok)
                } else {
                    None
                };
                match permit {
                    Some(permit) => {
                        if let Some(times) = at_cap.note() {
                            tracing::warn!(
                                max_connections = max,
                                times,
                                "at the connection cap: closed the connection idle longest to \
                                 make room (logged once every 10 s)"
                            );
                        }
                        permit
                    }
                    None => {
                        if let Some(times) = refused_at_cap.note() {
                            tracing::warn!(
                                max_connections = max,
                                times,
                                "at the connection cap with every connection in a request: \
                                 answered 503 (logged once every 10 s)"
                            );
                        }
                        refuse(stream, &refusals);
                        continue;
                    }
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let conn = Arc::new(Conn::new());
        let slot = registry.insert(conn.clone());
        let io = TokioIo::new(Watched::new(stream, conn.clone(), &limits));
        let service = Serve {
            router: router.clone(),
            conn: conn.clone(),
            remote,
            body_timeout: limits.body_timeout,
        };
        let connection = http.serve_connection(io, service);
        let mut stopped = stopped.clone();
        let registry = registry.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let mut connection = pin!(connection);
            let mut stopping = false;
            loop {
                tokio::select! {
                    result = connection.as_mut() => {
                        if let Err(e) = result {
                            tracing::debug!(error = %e, %remote, "connection ended");
                        }
                        break;
                    }
                    () = conn.evict.notified() => {
                        if conn.activity().in_flight == 0 {
                            break;
                        }
                        // A request arrived meanwhile: let it finish, then close.
                        connection.as_mut().graceful_shutdown();
                    }
                    _ = stopped.changed(), if !stopping => {
                        stopping = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
            registry.remove(slot);
        });
    }
    drop(listener);
    trimmer.abort();
    let _ = stop.send(());
    // Every connection holds a permit until it has closed.
    let everyone = u32::try_from(max).unwrap_or(u32::MAX);
    let _ = permits.acquire_many(everyone).await;
}

/// Gives the memory of a burst of connections back to the system once the burst is over.
///
/// glibc's allocator keeps memory freed by other threads in per-thread arenas and returns it
/// only from the top of each heap, so after 2,000 connections closed the process kept ~35 MB
/// it no longer used (docs/performance.md); `malloc_trim(0)` hands the free pages of every
/// arena back. It is called only when the open connections fell well below their peak since
/// the last call, at most every few seconds, off the async workers.
async fn release_memory_after_bursts(registry: Arc<Registry>) {
    const EVERY: Duration = Duration::from_secs(5);
    const BURST: usize = 256;
    let mut peak = 0;
    let mut tick = tokio::time::interval(EVERY);
    loop {
        tick.tick().await;
        let (open, high) = registry.take_peak();
        peak = peak.max(high);
        if peak >= open + BURST && open <= peak / 2 {
            peak = open;
            let _ = tokio::task::spawn_blocking(trim_heap).await;
        }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim_heap() {
    // SAFETY: malloc_trim has no preconditions; it only returns free memory to the system.
    let released = unsafe { libc::malloc_trim(0) };
    tracing::debug!(
        released = released != 0,
        "returned free heap memory after a burst"
    );
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim_heap() {}

/// Errors that concern one connection only, not the listener.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// What the server answers a connection it cannot take.
fn refusal() -> Vec<u8> {
    let body = serde_json::json!({
        "type": "urn:lokal:problem:too-many-connections",
        "title": "Service Unavailable",
        "status": 503,
        "detail": "the server is at its connection limit and every connection is in a request; try again in a moment",
        "code": "too-many-connections",
    })
    .to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\n\
         retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Answers `503` and closes, in a task of its own with a bounded life; beyond [`REFUSALS`]
/// at once the connection is just closed.
fn refuse(mut stream: TcpStream, refusals: &Arc<Semaphore>) {
    let Ok(permit) = refusals.clone().try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let _permit = permit;
        let answer = async {
            stream.write_all(&refusal()).await?;
            stream.shutdown().await?;
            // Read what the client sends until it closes, so that closing does not reset the
            // connection before the client has read the answer.
            let mut scratch = [0u8; 4096];
            while stream.read(&mut scratch).await? > 0 {}
            Ok::<_, io::Error>(())
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), answer).await;
    });
}

/// Doubling waits after accept errors.
#[derive(Default)]
struct Backoff(Option<Duration>);

impl Backoff {
    fn next(&mut self) -> Duration {
        let next = match self.0 {
            None => Duration::from_millis(10),
            Some(d) => (d * 2).min(Duration::from_secs(1)),
        };
        self.0 = Some(next);
        next
    }

    fn reset(&mut self) {
        self.0 = None;
    }
}

/// Lets an event be logged at most once every [`LOG_EVERY`], with how often it happened.
#[derive(Default)]
struct Throttle {
    last: Option<Instant>,
    count: u64,
}

impl Throttle {
    /// Counts one event; `Some(count since the last log)` when it is time to log.
    fn note(&mut self) -> Option<u64> {
        self.count += 1;
        let now = Instant::now();
        if self.last.is_some_and(|last| now < last + LOG_EVERY) {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.count))
    }
}

/// Where a connection stands, shared by its I/O, its requests and the registry.
struct Activity {
    /// Requests whose response has not been sent in full.
    in_flight: usize,
    /// When the connection last changed state: accepted, the last response sent, or the first
    /// byte of the next request head received.
    since: Instant,
    /// Whether bytes of a request head have arrived while no request is in flight.
    head_started: bool,
    /// Chosen to be closed to make room.
    evicted: bool,
}

/// One connection, as the registry and its own parts see it.
struct Conn {
    activity: Mutex<Activity>,
    /// Wakes the connection's task to close it.
    evict: Notify,
}

impl Conn {
    fn new() -> Self {
        Conn {
            activity: Mutex::new(Activity {
                in_flight: 0,
                since: Instant::now(),
                head_started: false,
                evicted: false,
            }),
            evict: Notify::new(),
        }
    }

    fn activity(&self) -> MutexGuard<'_, Activity> {
        // The critical sections cannot panic; a poisoned lock still holds good data.
        self.activity.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn bytes_arrived(&self) {
        let mut a = self.activity();
        if a.in_flight == 0 && !a.head_started {
            a.head_started = true;
            a.since = Instant::now();
        }
    }

    /// When reading must have made progress by, and why, or `None` during a request (its body
    /// has a timeout of its own, and a handler may take its time).
    fn read_deadline(&self, limits: &ConnLimits) -> Option<(Instant, &'static str)> {
        let a = self.activity();
        if a.in_flight > 0 {
            None
        } else if a.head_started {
            Some((
                a.since + limits.header_timeout,
                "the request head did not arrive in time",
            ))
        } else {
            Some((
                a.since + limits.idle_timeout,
                "the connection was idle too long",
            ))
        }
    }

    fn request_started(self: &Arc<Self>) -> InFlight {
        let mut a = self.activity();
        a.in_flight += 1;
        a.head_started = false;
        InFlight(self.clone())
    }
}

/// A request in progress on its connection, until its response has been sent (or dropped).
struct InFlight(Arc<Conn>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut a = self.0.activity();
        a.in_flight = a.in_flight.saturating_sub(1);
        if a.in_flight == 0 {
            a.since = Instant::now();
            a.head_started = false;
        }
    }
}

/// The open connections, for closing the one idle longest when room is needed.
#[derive(Default)]
struct Registry {
    inner: Mutex<Slots>,
}

#[derive(Default)]
struct Slots {
    slots: Vec<Option<Arc<Conn>>>,
    free: Vec<usize>,
    /// Connections open now, and the most since [`Registry::take_peak`].
    open: usize,
    peak: usize,
    /// For sampling (xorshift).
    seed: u64,
}

/// Connections looked at to find one to close; the oldest idle among them goes (as Redis
/// approximates LRU), so that finding one costs the same at any number of connections.
const SAMPLES: usize = 16;

impl Registry {
    fn slots(&self) -> MutexGuard<'_, Slots> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn insert(&self, conn: Arc<Conn>) -> usize {
        let mut s = self.slots();
        s.open += 1;
        s.peak = s.peak.max(s.open);
        match s.free.pop() {
            Some(i) => {
                s.slots[i] = Some(conn);
                i
            }
            None => {
                s.slots.push(Some(conn));
                s.slots.len() - 1
            }
        }
    }

    fn remove(&self, slot: usize) {
        let mut s = self.slots();
        if let Some(entry) = s.slots.get_mut(slot) {
            *entry = None;
            s.free.push(slot);
            s.open -= 1;
        }
    }

    /// The connections open now and the most open since the last call.
    fn take_peak(&self) -> (usize, usize) {
        let mut s = self.slots();
        let open = s.open;
        let peak = std::mem::replace(&mut s.peak, open);
        (open, peak)
    }

    /// Marks the connection that has waited longest without a request in progress to be
    /// closed and wakes it; `false` when every connection is in a request.
    fn evict_longest_idle(&self) -> bool {
        let mut s = self.slots();
        let n = s.slots.len();
        if n == 0 {
            return false;
        }
        let mut best: Option<(Instant, Arc<Conn>)> = None;
        if n <= SAMPLES * 4 {
            s.slots
                .iter()
                .flatten()
                .for_each(|c| consider(&mut best, c));
        } else {
            if s.seed == 0 {
                s.seed = 0x9E37_79B9_7F4A_7C15;
            }
            for _ in 0..SAMPLES {
                s.seed ^= s.seed << 13;
                s.seed ^= s.seed >> 7;
                s.seed ^= s.seed << 17;
                let i = (s.seed % n as u64) as usize;
                if let Some(conn) = &s.slots[i] {
                    consider(&mut best, conn);
                }
            }
            if best.is_none() {
                // Mostly busy: look at every one.
                s.slots
                    .iter()
                    .flatten()
                    .for_each(|c| consider(&mut best, c));
            }
        }
        drop(s);
        match best {
            Some((_, conn)) => {
                conn.activity().evicted = true;
                conn.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Keeps in `best` whichever of it and `conn` has waited longer without a request in
/// progress (and was not chosen already).
fn consider(best: &mut Option<(Instant, Arc<Conn>)>, conn: &Arc<Conn>) {
    let since = {
        let a = conn.activity();
        if a.in_flight > 0 || a.evicted {
            return;
        }
        a.since
    };
    if best.as_ref().is_none_or(|(b, _)| since < *b) {
        *best = Some((since, conn.clone()));
    }
}

/// A deadline polled together with the I/O it guards.
#[derive(Default)]
struct Timer(Option<Pin<Box<Sleep>>>);

impl Timer {
    /// Whether `deadline` has passed; if not, the task is woken when it does.
    fn poll_expired(&mut self, cx: &mut Context<'_>, deadline: Instant) -> bool {
        let sleep = match &mut self.0 {
            Some(sleep) => {
                if sleep.deadline() != deadline {
                    sleep.as_mut().reset(deadline);
                }
                sleep
            }
            None => self.0.insert(Box::pin(tokio::time::sleep_until(deadline))),
        };
        sleep.as_mut().poll(cx).is_ready()
    }
}

/// A connection's socket, with the idle, header and stalled-write timeouts.
struct Watched {
    stream: TcpStream,
    conn: Arc<Conn>,
    limits: Arc<ConnLimits>,
    read_timer: Timer,
    write_timer: Timer,
    /// When a write that could not proceed must have, while one waits.
    write_deadline: Option<Instant>,
}

impl Watched {
    fn new(stream: TcpStream, conn: Arc<Conn>, limits: &Arc<ConnLimits>) -> Self {
        Watched {
            stream,
            conn,
            limits: limits.clone(),
            read_timer: Timer::default(),
            write_timer: Timer::default(),
            write_deadline: None,
        }
    }

    fn after_write<T>(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match result {
            Poll::Pending => {
                let deadline = *self
                    .write_deadline
                    .get_or_insert_with(|| Instant::now() + self.limits.idle_timeout);
                if self.write_timer.poll_expired(cx, deadline) {
                    Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client stopped reading the response",
                    )))
                } else {
                    Poll::Pending
                }
            }
            ready => {
                self.write_deadline = None;
                ready
            }
        }
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.conn.bytes_arrived();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => match this.conn.read_deadline(&this.limits) {
                Some((deadline, why)) if this.read_timer.poll_expired(cx, deadline) => {
                    Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, why)))
                }
                _ => Poll::Pending,
            },
        }
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.after_write(cx, result)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.after_write(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_flush(cx);
        this.after_write(cx, result)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// One connection's requests into the router.
struct Serve {
    router: Router,
    conn: Arc<Conn>,
    remote: SocketAddr,
    body_timeout: Duration,
}

impl hyper::service::Service<Request<Incoming>> for Serve {
    type Response = Response<Tracked>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Tracked>, Infallible>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let in_flight = self.conn.request_started();
        let body_timeout = self.body_timeout;
        let mut request = request.map(|body| Body::new(TimedBody::new(body, body_timeout)));
        request.extensions_mut().insert(ConnectInfo(self.remote));
        let router = self.router.clone();
        Box::pin(async move {
            let response = match tower::ServiceExt::oneshot(router, request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            Ok(response.map(|body| Tracked {
                body,
                _in_flight: in_flight,
            }))
        })
    }
}

/// A response body that keeps its request counted as in flight until it has been sent.
struct Tracked {
    body: Body,
    _in_flight: InFlight,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A request body that must have arrived within its timeout of the first wait for it.
struct TimedBody {
    body: Incoming,
    limit: Duration,
    deadline: Option<Pin<Box<Sleep>>>,
}

impl TimedBody {
    fn new(body: Incoming, limit: Duration) -> Self {
        TimedBody {
            body,
            limit,
            deadline: None,
        }
    }
}

/// The error a handler reading a [`TimedBody`] sees when it ran out of time.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0} s")]
struct BodyTimeout(u64);

impl http_body::Body for TimedBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::BoxError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => {
                let limit = this.limit;
                let deadline = this
                    .deadline
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                if deadline.as_mut().poll(cx).is_ready() {
                    Poll::Ready(Some(Err(BodyTimeout(limit.as_secs()).into())))
                } else {
                    Poll::Pending
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_descriptors_for_everything_else() {
        assert_eq!(ConnLimits::cap(10_000, Some(1024)), 1024 - 128);
        assert_eq!(ConnLimits::cap(500, Some(1024)), 500);
        assert_eq!(ConnLimits::cap(10_000, None), 10_000);
        assert_eq!(ConnLimits::cap(10_000, Some(100)), MIN_CONNECTIONS);
    }

    #[test]
    fn accept_errors_back_off_up_to_a_second_and_are_logged_rarely() {
        let mut b = Backoff::default();
        let waits: Vec<u128> = (0..10).map(|_| b.next().as_millis()).collect();
        assert_eq!(waits[..4], [10, 20, 40, 80]);
        assert_eq!(waits[9], 1000);
        b.reset();
        assert_eq!(b.next().as_millis(), 10);
        let mut t = Throttle::default();
        assert_eq!(t.note(), Some(1));
        assert!((0..1000).all(|_| t.note().is_none()));
    }

    #[test]
    fn the_refusal_is_a_complete_http_answer() {
        let text = String::from_utf8(refusal()).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let problem: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(problem["code"], "too-many-connections");
    }
}
