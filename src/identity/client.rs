//! The client's address: who the throttles count logins and registrations against.
//!
//! It is the TCP peer's address, except when the peer is one of the configured trusted
//! proxies (`auth.trusted_proxies`, empty by default): then it is the rightmost entry of the
//! configured header (`auth.client_ip_header`, `X-Forwarded-For` by default; `Forwarded`
//! (RFC 7239) is read by its `for=` parameters) that is not itself a trusted proxy. Entries to
//! the left of that one were written by the client and are never believed.
//!
//! [`client_addr`] is the middleware that works it out once per request and puts it in the
//! request's extensions; handlers take it with the [`ClientAddr`] extractor. Without the
//! middleware or a peer address (a router driven in-process), the address is `unknown`.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr as _;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

/// Where a request comes from, as far as Lokal can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientAddr {
    Ip(IpAddr),
    /// No peer address (an in-process router, a tool): one shared bucket.
    Unknown,
}

impl std::fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientAddr::Ip(ip) => write!(f, "{ip}"),
            ClientAddr::Unknown => f.write_str("unknown"),
        }
    }
}

/// What the throttles count under: an IPv4 address, or the /64 of an IPv6 address (one
/// subscriber usually holds a whole /64, so counting single IPv6 addresses would let anyone
/// change address at will).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AddrKey {
    V4(u32),
    V6(u64),
    Unknown,
}

impl ClientAddr {
    /// The address, IPv4-mapped IPv6 (`::ffff:a.b.c.d`) shown as IPv4.
    pub fn from_ip(ip: IpAddr) -> ClientAddr {
        ClientAddr::Ip(ip.to_canonical())
    }

    /// The key the throttles count this client under.
    pub fn key(self) -> AddrKey {
        match self {
            ClientAddr::Ip(IpAddr::V4(v4)) => AddrKey::V4(u32::from(v4)),
            ClientAddr::Ip(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => AddrKey::V4(u32::from(v4)),
                None => AddrKey::V6((u128::from(v6) >> 64) as u64),
            },
            ClientAddr::Unknown => AddrKey::Unknown,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if let Some(client) = parts.extensions.get::<ClientAddr>() {
            return Ok(*client);
        }
        // Without the middleware: the peer itself, never a header.
        Ok(parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(ClientAddr::Unknown, |c| ClientAddr::from_ip(c.0.ip())))
    }
}

/// Which peers are proxies whose forwarding header is believed, and which header.
#[derive(Clone, Debug)]
pub struct ClientAddrPolicy {
    trusted: Vec<IpNet>,
    header: HeaderName,
}

impl Default for ClientAddrPolicy {
    fn default() -> Self {
        ClientAddrPolicy {
            trusted: Vec::new(),
            header: HeaderName::from_static("x-forwarded-for"),
        }
    }
}

impl ClientAddrPolicy {
    /// From `auth.trusted_proxies` (IP addresses or CIDR blocks such as `10.0.0.0/8`) and
    /// `auth.client_ip_header`. The error names the entry that is wrong.
    pub fn new(trusted_proxies: &[String], header: &str) -> Result<ClientAddrPolicy, String> {
        let mut trusted = Vec::new();
        for entry in trusted_proxies {
            let entry = entry.trim();
            let net = IpNet::from_str(entry)
                .or_else(|_| IpAddr::from_str(entry).map(IpNet::from))
                .map_err(|_| {
                    format!(
                        "auth.trusted_proxies: {entry:?} is neither an IP address nor a CIDR block like 10.0.0.0/8"
                    )
                })?;
            trusted.push(net);
        }
        let header = HeaderName::from_str(header.trim())
            .map_err(|_| format!("auth.client_ip_header: {header:?} is not an HTTP header name"))?;
        Ok(ClientAddrPolicy { trusted, header })
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    /// The client behind `peer`, given the request's headers.
    pub fn resolve(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> ClientAddr {
        let Some(peer) = peer.map(|ip| ip.to_canonical()) else {
            return ClientAddr::Unknown;
        };
        if !self.is_trusted(peer) {
            return ClientAddr::Ip(peer);
        }
        let forwarded = self.header.as_str() == "forwarded";
        // Several header lines are one list, in order (RFC 9110 §5.3).
        let entries: Vec<&str> = headers
            .get_all(&self.header)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        let mut nearest = peer;
        for entry in entries.iter().rev() {
            let parsed = if forwarded {
                forwarded_for(entry)
            } else {
                parse_ip(entry)
            };
            match parsed {
                Some(ip) if self.is_trusted(ip) => nearest = ip,
                Some(ip) => return ClientAddr::Ip(ip),
                // A hop we cannot read: the nearest trusted one is all we know.
                None => break,
            }
        }
        ClientAddr::Ip(nearest)
    }
}

/// `203.0.113.7`, `203.0.113.7:4711`, `2001:db8::1`, `[2001:db8::1]:4711`, or quoted.
fn parse_ip(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim().trim_matches('"');
    if let Ok(ip) = IpAddr::from_str(entry) {
        return Some(ip.to_canonical());
    }
    if let Ok(sa) = SocketAddr::from_str(entry) {
        return Some(sa.ip().to_canonical());
    }
    let inner = entry.strip_prefix('[')?.split(']').next()?;
    IpAddr::from_str(inner).ok().map(|ip| ip.to_canonical())
}

/// The `for=` node of one `Forwarded` element (RFC 7239 §4, §6); `unknown` and obfuscated
/// identifiers are not addresses.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("for")
            .then(|| parse_ip(value))
            .flatten()
    })
}

/// The middleware: works out the request's [`ClientAddr`] from the connection's peer
/// (`ConnectInfo<SocketAddr>`) and the policy, and puts it in the request's extensions.
pub async fn client_addr(
    State(identity): State<Arc<super::Identity>>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let client = identity.client_addrs().resolve(peer, req.headers());
    req.extensions_mut().insert(client);
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: &str, values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(HeaderName::from_str(name).unwrap(), v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let policy = ClientAddrPolicy::default();
        let h = headers("x-forwarded-for", &["198.51.100.9"]);
        assert_eq!(
            policy.resolve(ip("203.0.113.7"), &h),
            ClientAddr::Ip("203.0.113.7".parse().unwrap())
        );
        assert_eq!(policy.resolve(None, &h), ClientAddr::Unknown);
    }

    #[test]
    fn behind_a_trusted_proxy_the_rightmost_untrusted_entry_is_the_client() {
        let policy = ClientAddrPolicy::new(
            &["10.0.0.0/8".into(), "192.0.2.1".into()],
            "X-Forwarded-For",
        )
        .unwrap();
        // The client wrote the leftmost entry itself; it is never believed.
        let h = headers("x-forwarded-for", &["1.1.1.1, 198.51.100.9", "10.1.2.3"]);
        assert_eq!(
            policy.resolve(ip("192.0.2.1"), &h),
            ClientAddr::Ip("198.51.100.9".parse().unwrap())
        );
        // An untrusted peer's header is not read.
        assert_eq!(
            policy.resolve(ip("203.0.113.7"), &h),
            ClientAddr::Ip("203.0.113.7".parse().unwrap())
        );
        // No header: the proxy itself.
        assert_eq!(
            policy.resolve(ip("10.9.9.9"), &HeaderMap::new()),
            ClientAddr::Ip("10.9.9.9".parse().unwrap())
        );
        // Garbage right of the client: the nearest trusted hop.
        let h = headers("x-forwarded-for", &["198.51.100.9, nonsense"]);
        assert_eq!(
            policy.resolve(ip("10.0.0.1"), &h),
            ClientAddr::Ip("10.0.0.1".parse().unwrap())
        );
    }

    #[test]
    fn the_forwarded_header_is_read_by_its_for_parameters() {
        let policy = ClientAddrPolicy::new(&["::1".into()], "Forwarded").unwrap();
        let h = headers(
            "forwarded",
            &[r#"for=192.0.2.60;proto=http, for="[2001:db8:cafe::17]:4711";by=203.0.113.43"#],
        );
        assert_eq!(
            policy.resolve(ip("::1"), &h),
            ClientAddr::Ip("2001:db8:cafe::17".parse().unwrap())
        );
    }

    #[test]
    fn ipv6_clients_count_by_their_64_and_mapped_ipv4_as_ipv4() {
        let a = ClientAddr::from_ip("2001:db8:1:2::1".parse().unwrap());
        let b = ClientAddr::from_ip("2001:db8:1:2:ffff::9".parse().unwrap());
        let c = ClientAddr::from_ip("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a.key(), b.key());
        assert_ne!(a.key(), c.key());
        let mapped = ClientAddr::from_ip("::ffff:127.0.0.2".parse().unwrap());
        assert_eq!(mapped, ClientAddr::Ip("127.0.0.2".parse().unwrap()));
        assert_eq!(mapped.key(), AddrKey::V4(0x7f00_0002));
    }

    #[test]
    fn a_wrong_proxy_entry_is_a_clear_error() {
        let e = ClientAddrPolicy::new(&["10.0.0.0/33".into()], "X-Forwarded-For").unwrap_err();
        assert!(e.contains("10.0.0.0/33") && e.contains("CIDR"), "{e}");
        let e = ClientAddrPolicy::new(&[], "bad header").unwrap_err();
        assert!(e.contains("auth.client_ip_header"), "{e}");
    }
}
