//! Who is visiting: their language, their session (if signed in) and their form token.
//!
//! Sessions live in the store (`web_sessions`); the browser holds a random token in the
//! `lokal_session` cookie (HttpOnly, SameSite=Lax, Secure behind TLS) and the store only its
//! SHA-256. Every form carries a CSRF token: the session's own when signed in, otherwise the
//! value of the `lokal_csrf` cookie (double submit), which a page sets on first visit.

use axum::extract::FromRequestParts;
use axum::http::header::{ACCEPT_LANGUAGE, COOKIE, HOST, ORIGIN};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use base64::Engine as _;
use chrono::{DateTime, TimeDelta, Utc};

use crate::app::AppState;
use crate::i18n::Lang;
use crate::identity::Principal;
use crate::store::SessionRecord;

pub const SESSION_COOKIE: &str = "lokal_session";
pub const CSRF_COOKIE: &str = "lokal_csrf";
pub const LANG_COOKIE: &str = "lokal_lang";

/// How long a session lives unused, and at most: residents stay signed in for weeks, staff
/// for a working day (their directory roles are read again at the next sign-in).
fn lifetimes(p: &Principal) -> (TimeDelta, TimeDelta) {
    match p {
        Principal::Resident { .. } => (TimeDelta::days(14), TimeDelta::days(60)),
        Principal::Staff { .. } => (TimeDelta::hours(8), TimeDelta::hours(12)),
    }
}

/// A used session's expiry is moved at most this often (each move is a write).
const TOUCH_EVERY: TimeDelta = TimeDelta::minutes(5);

/// The visitor of a page or form.
#[derive(Clone, Debug)]
pub struct Visitor {
    pub lang: Lang,
    /// The signed-in person.
    pub user: Option<Principal>,
    /// The token a form must carry.
    pub csrf: String,
    /// The request's path and query, to come back to (language switch, sign-in).
    pub here: String,
    /// Whether cookies get `Secure` (the request came over TLS, as a proxy says).
    pub secure: bool,
    /// The session's token hash, when signed in.
    pub(crate) session: Option<String>,
    /// Cookies to set on the response (a new CSRF cookie).
    pub(crate) set_cookies: Vec<String>,
    /// Whether the request's Origin (if any) is this site.
    pub(crate) same_origin: bool,
}

/// Random bytes, URL-safe base64.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    // getrandom fails only without an OS random source; a constant token would be worse
    // than no service, so the zeros are replaced by a fresh UUID's randomness as a fallback.
    if getrandom::fill(&mut bytes).is_err() {
        bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn token_hash(token: &str) -> String {
    crate::calendar::token_hash(token)
}

/// The value of one cookie.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Secure when asked.
pub fn set_cookie(name: &str, value: &str, max_age: Option<i64>, secure: bool) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// Whether the request came over TLS: to this server directly (never, it speaks plain HTTP)
/// or through a reverse proxy that says so.
fn behind_tls(headers: &HeaderMap) -> bool {
    let forwarded_proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').next().is_some_and(|p| p.trim() == "https"));
    let forwarded = headers
        .get("forwarded")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("proto=https"));
    forwarded_proto || forwarded
}

/// Whether an `Origin` header, if present, names the host the request was sent to. Browsers
/// send Origin with every cross-site POST: a mismatch is a forged form even if a token leaked.
/// Behind reverse proxies the browser's host is the `Host` passed on, or the first one a
/// proxy lists in `X-Forwarded-Host` or `Forwarded: host=` (later ones are proxies' own).
fn origin_matches(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let Some(origin_host) = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .filter(|h| !h.is_empty())
    else {
        return false;
    };
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let forwarded_host = text("x-forwarded-host").and_then(|v| v.split(',').next());
    let forwarded = text("forwarded").and_then(|v| {
        v.split(',').next()?.split(';').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("host")
                .then(|| v.trim().trim_matches('"'))
        })
    });
    [text(HOST.as_str()), forwarded_host, forwarded]
        .into_iter()
        .flatten()
        .map(str::trim)
        .any(|host| !host.is_empty() && host.eq_ignore_ascii_case(origin_host))
}

fn language(headers: &HeaderMap) -> Lang {
    cookie(headers, LANG_COOKIE)
        .and_then(Lang::parse)
        .or_else(|| {
            headers
                .get(ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::from_accept_language)
        })
        .unwrap_or_default()
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let headers = &parts.headers;
        let secure = behind_tls(headers);
        let here = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/".to_owned());
        let mut visitor = Visitor {
            lang: language(headers),
            user: None,
            csrf: String::new(),
            here,
            secure,
            session: None,
            set_cookies: Vec::new(),
            same_origin: origin_matches(headers),
        };
        if let Some(token) = cookie(headers, SESSION_COOKIE) {
            let now = state.bookings.clock.now();
            let hash = token_hash(token);
            // A store that does not answer leaves the visitor signed out for this request:
            // the page says so where it matters (forms answer 503).
            if let Ok(Some(s)) = state.bookings.store.session(&hash, now).await
                && let Ok(principal) = serde_json::from_str::<Principal>(&s.principal)
            {
                touch(state, &s, &principal, now).await;
                visitor.csrf = s.csrf;
                visitor.user = Some(principal);
                visitor.session = Some(hash);
            }
        }
        if visitor.session.is_none() {
            match cookie(headers, CSRF_COOKIE).filter(|t| t.len() >= 32 && t.len() <= 64) {
                Some(t) => visitor.csrf = t.to_owned(),
                None => {
                    let token = random_token();
                    visitor
                        .set_cookies
                        .push(set_cookie(CSRF_COOKIE, &token, None, secure));
                    visitor.csrf = token;
                }
            }
        }
        Ok(visitor)
    }
}

async fn touch(state: &AppState, s: &SessionRecord, p: &Principal, now: DateTime<Utc>) {
    if now - s.seen_at < TOUCH_EVERY {
        return;
    }
    let (idle, max) = lifetimes(p);
    let expires = (now + idle).min(s.created_at + max);
    if let Err(e) = state
        .bookings
        .store
        .touch_session(&s.token_hash, now, expires)
        .await
    {
        tracing::warn!(error = %e, "could not extend a web session");
    }
}

impl Visitor {
    /// Whether a posted form's token is this visitor's, and the form was not sent from
    /// another site.
    pub fn csrf_ok(&self, posted: &str) -> bool {
        use subtle_eq as eq;
        self.same_origin && !self.csrf.is_empty() && eq(posted.as_bytes(), self.csrf.as_bytes())
    }

    pub fn is_clerk(&self) -> bool {
        self.user.as_ref().is_some_and(Principal::is_clerk)
    }

    /// Starts a session for `principal`: a new token (never the one from before sign-in).
    /// Returns the `Set-Cookie` value.
    pub async fn sign_in(
        &self,
        state: &AppState,
        principal: &Principal,
    ) -> Result<String, crate::store::StoreError> {
        let now = state.bookings.clock.now();
        let token = random_token();
        let (idle, _) = lifetimes(principal);
        let record = SessionRecord {
            token_hash: token_hash(&token),
            user_id: principal.requester_id(),
            principal: serde_json::to_string(principal).unwrap_or_default(),
            csrf: random_token(),
            created_at: now,
            seen_at: now,
            expires_at: now + idle,
        };
        state.bookings.store.add_session(&record).await?;
        if let Some(old) = &self.session {
            let _ = state.bookings.store.delete_session(old).await;
        }
        Ok(set_cookie(
            SESSION_COOKIE,
            &token,
            Some((lifetimes(principal).1).num_seconds()),
            self.secure,
        ))
    }

    /// Ends the session. Returns the `Set-Cookie` value that clears the cookie.
    pub async fn sign_out(&self, state: &AppState) -> String {
        if let Some(hash) = &self.session
            && let Err(e) = state.bookings.store.delete_session(hash).await
        {
            tracing::warn!(error = %e, "could not delete a web session");
        }
        set_cookie(SESSION_COOKIE, "", Some(0), self.secure)
    }

    /// Header values for the cookies this visit sets.
    pub fn cookie_headers(&self) -> impl Iterator<Item = HeaderValue> + '_ {
        self.set_cookies
            .iter()
            .filter_map(|c| HeaderValue::from_str(c).ok())
    }
}

/// Constant-time comparison of two byte strings.
fn subtle_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn cookies_are_found_among_others() {
        let h = headers(&[("cookie", "a=1; lokal_session=abc; b=2"), ("cookie", "c=3")]);
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "c"), Some("3"));
        assert_eq!(cookie(&h, "lokal"), None);
    }

    #[test]
    fn a_cross_site_origin_is_refused() {
        let same = headers(&[
            ("host", "lokal.example"),
            ("origin", "https://lokal.example"),
        ]);
        assert!(origin_matches(&same));
        let other = headers(&[
            ("host", "lokal.example"),
            ("origin", "https://evil.example"),
        ]);
        assert!(!origin_matches(&other));
        let none = headers(&[("host", "lokal.example")]);
        assert!(origin_matches(&none));
        let null = headers(&[("host", "lokal.example"), ("origin", "null")]);
        assert!(!origin_matches(&null));
    }

    #[test]
    fn behind_proxies_the_origin_is_matched_with_the_host_the_browser_used() {
        // A chain of proxies lists hosts; the first is the one the browser asked for.
        let chain = headers(&[
            ("host", "10.0.0.5:8080"),
            ("x-forwarded-host", "lokal.example, lb.internal"),
            ("origin", "https://lokal.example"),
        ]);
        assert!(origin_matches(&chain));
        let forwarded = headers(&[
            ("host", "10.0.0.5:8080"),
            ("forwarded", "for=1.2.3.4;host=lokal.example;proto=https"),
            ("origin", "https://lokal.example"),
        ]);
        assert!(origin_matches(&forwarded));
        // A proxy that passes Host on and names itself in X-Forwarded-Host.
        let passed_on = headers(&[
            ("host", "lokal.example"),
            ("x-forwarded-host", "proxy.internal"),
            ("origin", "https://lokal.example"),
        ]);
        assert!(origin_matches(&passed_on));
        // Another site stays another site.
        let evil = headers(&[
            ("host", "10.0.0.5:8080"),
            ("x-forwarded-host", "lokal.example, lb.internal"),
            ("origin", "https://evil.example"),
        ]);
        assert!(!origin_matches(&evil));
        let listed_second = headers(&[
            ("host", "10.0.0.5:8080"),
            ("x-forwarded-host", "lokal.example, evil.example"),
            ("origin", "https://evil.example"),
        ]);
        assert!(!origin_matches(&listed_second));
    }

    #[test]
    fn cookies_are_secure_only_behind_tls() {
        assert!(behind_tls(&headers(&[("x-forwarded-proto", "https")])));
        assert!(behind_tls(&headers(&[(
            "forwarded",
            "for=1.2.3.4;proto=https"
        )])));
        assert!(!behind_tls(&headers(&[("x-forwarded-proto", "http")])));
        assert!(set_cookie("a", "b", None, true).ends_with("; Secure"));
        let plain = set_cookie("a", "b", Some(5), false);
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Lax"));
        assert!(!plain.contains("Secure"));
    }

    #[test]
    fn tokens_compare_in_full() {
        assert!(subtle_eq(b"abc", b"abc"));
        assert!(!subtle_eq(b"abc", b"abd"));
        assert!(!subtle_eq(b"abc", b"ab"));
    }
}
