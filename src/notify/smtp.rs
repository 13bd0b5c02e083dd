//! SMTP sending: Lokal's own small pool of lettre SMTP connections, on sockets Lokal opens.
//!
//! Why not lettre's `AsyncSmtpTransport` and its pool (used until issue 15's drain was
//! profiled): lettre writes a message and then its end (`CRLF . CRLF`) in two writes and waits
//! for the reply, on a socket without `TCP_NODELAY`. Nagle's algorithm holds the five-byte end
//! until the server acknowledges the message, and the server delays that acknowledgement
//! (Linux: 40 ms) because it has nothing to say before the end arrives. Every mail waited
//! ~40 ms for nothing, so 16 mails in flight made at most ~330 mails/s with the CPU mostly
//! idle. The pool also sent a `NOOP` before every reuse, one more round trip per mail.
//!
//! Here a connection is opened by Lokal (`TCP_NODELAY` on, the same TLS as lettre's:
//! native-tls with the system's roots, TLS 1.2 or newer) and handed to lettre's
//! [`AsyncSmtpConnection`], which speaks SMTP (EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA). Idle
//! connections are kept (at most `keep`, each for at most a minute); one idle for more than a
//! few seconds is checked with `NOOP` before it is used. A reused connection that turns out
//! to be closed (the server timed it out) costs one retry on a new connection, never a failed
//! mail. Every step is bounded by `mail.smtp.timeout_secs` (each address of the host in turn,
//! then greeting, TLS and login together, then each mail). Failures while connecting are
//! transient, 5xx replies included (a rotated password must not kill the waiting mails).
//!
//! Errors: [`SendError::permanent`] only for an SMTP 5xx reply to a mail (RFC 5321 §4.2.1).

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::mail::SendError;

/// An idle connection older than this is closed rather than reused.
const MAX_IDLE: Duration = Duration::from_secs(60);
/// An idle connection older than this is checked with `NOOP` before it is reused.
const CHECK_AFTER: Duration = Duration::from_secs(5);

/// How the connection is secured.
pub(super) enum Security {
    None,
    /// STARTTLS, required (RFC 3207).
    Starttls(TlsParameters),
    /// TLS from the first byte (RFC 8314).
    Implicit(tokio_native_tls::TlsConnector),
}

/// Sends mail over pooled SMTP connections; safe to share between tasks.
pub(super) struct SmtpClient {
    host: String,
    port: u16,
    security: Security,
    timeout: Duration,
    credentials: Option<Credentials>,
    hello: ClientId,
    keep: usize,
    idle: Mutex<Vec<Idle>>,
}

struct Idle {
    conn: AsyncSmtpConnection,
    since: Instant,
}

/// A failure before or outside an SMTP reply: always worth trying again later.
fn transient(message: impl Into<String>) -> SendError {
    SendError {
        permanent: false,
        message: message.into(),
    }
}

fn smtp_error(e: lettre::transport::smtp::Error) -> SendError {
    SendError {
        permanent: e.is_permanent(),
        message: format!("smtp: {e}"),
    }
}

impl SmtpClient {
    pub(super) fn new(
        host: String,
        port: u16,
        security: Security,
        timeout: Duration,
        credentials: Option<Credentials>,
        keep: usize,
    ) -> SmtpClient {
        SmtpClient {
            host,
            port,
            security,
            timeout,
            credentials,
            hello: ClientId::default(),
            keep: keep.max(1),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Implicit TLS as lettre does it: native-tls, the system's roots, TLS 1.2 or newer.
    pub(super) fn implicit_tls() -> Result<Security, String> {
        let connector = native_tls::TlsConnector::builder()
            .min_protocol_version(Some(native_tls::Protocol::Tlsv12))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Security::Implicit(tokio_native_tls::TlsConnector::from(
            connector,
        )))
    }

    /// Sends one message to the envelope's recipients.
    pub(super) async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<(), SendError> {
        if let Some(mut conn) = self.reuse().await {
            match self.transaction(&mut conn, envelope, message).await {
                Ok(()) => {
                    self.give_back(conn);
                    return Ok(());
                }
                // The server answered: the answer stands (a 5xx is permanent, a 4xx is
                // retried later by the worker).
                Err(Some(e)) => return Err(e),
                // No answer (the connection was closed under us): once more, on a new one.
                Err(None) => {}
            }
        }
        let mut conn = self.connect().await?;
        match self.transaction(&mut conn, envelope, message).await {
            Ok(()) => {
                self.give_back(conn);
                Ok(())
            }
            Err(e) => Err(e.unwrap_or_else(|| transient("smtp: the connection was closed"))),
        }
    }

    /// MAIL, RCPT, DATA within the timeout. `Err(None)` when the server gave no answer at all
    /// (a closed or timed-out connection), `Err(Some(_))` for its refusal.
    async fn transaction(
        &self,
        conn: &mut AsyncSmtpConnection,
        envelope: &Envelope,
        message: &[u8],
    ) -> Result<(), Option<SendError>> {
        match tokio::time::timeout(self.timeout, conn.send(envelope, message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if e.status().is_some() => Err(Some(smtp_error(e))),
            Ok(Err(e)) if e.is_client() => Err(Some(smtp_error(e))),
            Ok(Err(_)) => Err(None),
            Err(_) => Err(Some(transient(format!(
                "smtp: no answer from {}:{} within {} s",
                self.host,
                self.port,
                self.timeout.as_secs()
            )))),
        }
    }

    /// The most recently used idle connection that is still good, if any.
    async fn reuse(&self) -> Option<AsyncSmtpConnection> {
        loop {
            let idle = {
                let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
                idle.pop()?
            };
            let age = idle.since.elapsed();
            if age > MAX_IDLE {
                // The rest are older still.
                let old: Vec<Idle> = {
                    let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
                    std::mem::take(&mut *idle)
                };
                drop(old);
                return None;
            }
            let mut conn = idle.conn;
            if age <= CHECK_AFTER {
                return Some(conn);
            }
            if let Ok(true) = tokio::time::timeout(self.timeout, conn.test_connected()).await {
                return Some(conn);
            }
        }
    }

    fn give_back(&self, conn: AsyncSmtpConnection) {
        if conn.has_broken() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.keep {
            idle.push(Idle {
                conn,
                since: Instant::now(),
            });
        }
    }

    /// A new connection: TCP (no Nagle), TLS as configured, EHLO, STARTTLS, AUTH. Every
    /// failure here is transient, 5xx replies included: they are about the session (a
    /// rotated password, a server refusing connections for a while), not about a mail, and
    /// must not turn the mails waiting into dead letters.
    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let where_ = format!("{}:{}", self.host, self.port);
        let tcp = self.tcp().await?;
        match tokio::time::timeout(self.timeout, self.open(tcp)).await {
            Ok(r) => r.map_err(|e| SendError {
                permanent: false,
                ..e
            }),
            Err(_) => Err(transient(format!(
                "smtp: {where_} did not finish greeting, TLS and login within {} s",
                self.timeout.as_secs()
            ))),
        }
    }

    /// A TCP connection to the first of the host's addresses that answers, each tried with
    /// its own timeout (a black-holed IPv6 address must not hide a working IPv4 one).
    async fn tcp(&self) -> Result<TcpStream, SendError> {
        let where_ = format!("{}:{}", self.host, self.port);
        let addrs: Vec<SocketAddr> =
            match tokio::time::timeout(self.timeout, tokio::net::lookup_host(&where_)).await {
                Ok(Ok(addrs)) => addrs.collect(),
                Ok(Err(e)) => {
                    return Err(transient(format!("smtp: cannot resolve {where_}: {e}")));
                }
                Err(_) => {
                    return Err(transient(format!(
                        "smtp: resolving {where_} took more than {} s",
                        self.timeout.as_secs()
                    )));
                }
            };
        let mut last = format!("smtp: {where_} has no address");
        for addr in addrs {
            match tokio::time::timeout(self.timeout, TcpStream::connect(addr)).await {
                Ok(Ok(tcp)) => return Ok(tcp),
                Ok(Err(e)) => last = format!("smtp: cannot connect to {where_} ({addr}): {e}"),
                Err(_) => {
                    last = format!(
                        "smtp: cannot connect to {where_} ({addr}) within {} s",
                        self.timeout.as_secs()
                    )
                }
            }
        }
        Err(transient(last))
    }

    async fn open(&self, tcp: TcpStream) -> Result<AsyncSmtpConnection, SendError> {
        let where_ = format!("{}:{}", self.host, self.port);
        // See the module comment: without this every mail waits for a delayed ACK.
        tcp.set_nodelay(true)
            .map_err(|e| transient(format!("smtp: {where_}: {e}")))?;
        let peer = tcp
            .peer_addr()
            .map_err(|e| transient(format!("smtp: {where_}: {e}")))?;
        let stream: Box<dyn AsyncTokioStream> = match &self.security {
            Security::Implicit(tls) => {
                let tls = tls
                    .connect(&self.host, tcp)
                    .await
                    .map_err(|e| transient(format!("smtp: TLS with {where_}: {e}")))?;
                Box::new(TlsStream { inner: tls, peer })
            }
            _ => Box::new(tcp),
        };
        let mut conn = AsyncSmtpConnection::connect_with_transport(stream, &self.hello)
            .await
            .map_err(smtp_error)?;
        if let Security::Starttls(parameters) = &self.security {
            if !conn.can_starttls() {
                conn.abort().await;
                return Err(transient(format!(
                    "smtp: {where_} does not offer STARTTLS, which mail.smtp.tls = \"starttls\" requires"
                )));
            }
            conn.starttls(parameters.clone(), &self.hello)
                .await
                .map_err(smtp_error)?;
        }
        if let Some(credentials) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .map_err(smtp_error)?;
        }
        Ok(conn)
    }
}

/// A TLS stream as lettre's connection wants it.
struct TlsStream {
    inner: tokio_native_tls::TlsStream<TcpStream>,
    peer: SocketAddr,
}

impl std::fmt::Debug for TlsStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsStream")
            .field("peer", &self.peer)
            .finish()
    }
}

impl AsyncRead for TlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for TlsStream {
    fn peer_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.peer)
    }
}

#[cfg(test)]
mod tests {
    //! Against a small SMTP server in the test (a fake; the integration tests use aiosmtpd):
    //! what the pool does when a server closes a connection it had kept.

    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use lettre::Address;
    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
    use tokio::net::TcpListener;

    use super::*;

    /// Accepts connections, takes `per_connection` messages on each and then closes it; counts
    /// connections and messages. A message whose recipient contains "refuse" gets a 550.
    async fn server(per_connection: usize) -> (u16, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (conns, mails) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (c, m) = (conns.clone(), mails.clone());
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                let m = m.clone();
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut lines = BufReader::new(read).lines();
                    write.write_all(b"220 test ESMTP\r\n").await.unwrap();
                    let mut taken = 0;
                    while let Ok(Some(line)) = lines.next_line().await {
                        let upper = line.to_ascii_uppercase();
                        let answer: &[u8] = if upper.starts_with("EHLO") {
                            b"250-test\r\n250 8BITMIME\r\n"
                        } else if upper.starts_with("RCPT") {
                            if line.contains("refuse") {
                                b"550 5.1.1 no such user\r\n"
                            } else {
                                b"250 ok\r\n"
                            }
                        } else if upper.starts_with("DATA") {
                            write.write_all(b"354 go on\r\n").await.unwrap();
                            while let Ok(Some(l)) = lines.next_line().await {
                                if l == "." {
                                    break;
                                }
                            }
                            m.fetch_add(1, Ordering::SeqCst);
                            taken += 1;
                            b"250 queued\r\n"
                        } else if upper.starts_with("QUIT") {
                            b"221 bye\r\n"
                        } else {
                            b"250 ok\r\n"
                        };
                        if write.write_all(answer).await.is_err() {
                            break;
                        }
                        if taken >= per_connection {
                            break;
                        }
                    }
                });
            }
        });
        (port, conns, mails)
    }

    fn client(port: u16) -> SmtpClient {
        SmtpClient::new(
            "127.0.0.1".into(),
            port,
            Security::None,
            Duration::from_secs(10),
            None,
            4,
        )
    }

    fn envelope(to: &str) -> Envelope {
        Envelope::new(
            Some("lokal@example.no".parse::<Address>().unwrap()),
            vec![to.parse::<Address>().unwrap()],
        )
        .unwrap()
    }

    const MAIL: &[u8] = b"Subject: test\r\n\r\nHello.\r\n";

    #[tokio::test]
    async fn mails_in_a_row_share_one_connection() {
        let (port, conns, mails) = server(usize::MAX).await;
        let c = client(port);
        for _ in 0..5 {
            c.send(&envelope("a@example.no"), MAIL).await.unwrap();
        }
        assert_eq!(mails.load(Ordering::SeqCst), 5);
        assert_eq!(conns.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_kept_connection_the_server_closed_costs_a_new_connection_not_a_failed_mail() {
        let (port, conns, mails) = server(1).await;
        let c = client(port);
        for _ in 0..3 {
            c.send(&envelope("a@example.no"), MAIL).await.unwrap();
        }
        assert_eq!(mails.load(Ordering::SeqCst), 3);
        assert_eq!(conns.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_refused_recipient_is_permanent_and_the_next_mail_still_goes() {
        let (port, _, mails) = server(usize::MAX).await;
        let c = client(port);
        let e = c
            .send(&envelope("refuse@example.no"), MAIL)
            .await
            .unwrap_err();
        assert!(e.permanent, "{}", e.message);
        assert!(
            e.message.contains("550") || e.message.contains("no such user"),
            "{}",
            e.message
        );
        c.send(&envelope("a@example.no"), MAIL).await.unwrap();
        assert_eq!(mails.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_server_refusing_the_session_with_a_5xx_is_transient_not_a_dead_mail() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let _ = socket
                    .write_all(b"554 5.3.2 not accepting mail now\r\n")
                    .await;
            }
        });
        let e = client(port)
            .send(&envelope("a@example.no"), MAIL)
            .await
            .unwrap_err();
        assert!(!e.permanent, "{}", e.message);
        assert!(
            e.message.contains("554") || e.message.contains("not accepting"),
            "{}",
            e.message
        );
    }

    #[tokio::test]
    async fn nobody_listening_is_a_transient_error() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let e = client(port)
            .send(&envelope("a@example.no"), MAIL)
            .await
            .unwrap_err();
        assert!(!e.permanent);
        assert!(e.message.contains("cannot connect"), "{}", e.message);
    }
}
