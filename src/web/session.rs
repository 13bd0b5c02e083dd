//! Who is visiting: their language, their session (if signed in) and their form token.
//!
//! This module owns the cookies and the [`Visitor`] extractor only; sessions, form tokens
//! and token hashes are the identity service's ([`crate::identity::session`]). The browser
//! holds a random token in the `lokal_session` cookie, the store only its SHA-256. Every form
//! carries a CSRF token: the session's own when signed in, otherwise the value of the
//! `lokal_csrf` cookie (double submit, OWASP's "signed double-submit" without the signature:
//! the cookie is HttpOnly and same-site), which a page sets on first visit.
//!
//! Cookies are parsed and written with the `cookie` crate ([`Cookie`], through axum-extra);
//! every cookie is `HttpOnly; SameSite=Lax; Path=/`, with `Secure` when a TLS proxy says the
//! browser came over HTTPS (RFC 6265 section 4.1.2).
//!
//! Reading ([`RequestCookies`]) matches names exactly, without percent-decoding, and the first
//! cookie of a name wins. axum-extra's `CookieJar` decodes names (`lokal%5Fsession` would
//! read as `lokal_session`: a cookie a browser keeps apart from ours, which a sibling
//! subdomain or a plain-HTTP answer could set to sign a victim into the attacker's account)
//! and keeps the last of a name (a later-set cookie would win over ours). Browsers send the
//! cookie with the longest path, then the oldest, first (RFC 6265 section 5.4).

use axum::extract::FromRequestParts;
use axum::http::header::{ACCEPT_LANGUAGE, HOST, ORIGIN};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum_extra::extract::cookie::{Cookie, SameSite};

use crate::app::AppState;
use crate::i18n::Lang;
use crate::identity::Principal;
use crate::identity::session::{StoreError, random_token, tokens_match};

pub const SESSION_COOKIE: &str = "lokal_session";
pub const CSRF_COOKIE: &str = "lokal_csrf";
pub const LANG_COOKIE: &str = "lokal_lang";

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

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Max-Age when given, Secure when
/// asked.
pub fn set_cookie(name: &str, value: &str, max_age: Option<i64>, secure: bool) -> String {
    let mut c = Cookie::build((name.to_owned(), value.to_owned()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure);
    if let Some(age) = max_age
        && let Ok(age) = std::time::Duration::from_secs(age.max(0).unsigned_abs()).try_into()
    {
        c = c.max_age(age);
    }
    c.build().to_string()
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

/// The cookies a request carries, as sent: every `Cookie` header, split by the `cookie`
/// crate without percent-decoding.
pub struct RequestCookies(Vec<Cookie<'static>>);

impl RequestCookies {
    pub fn from_headers(headers: &HeaderMap) -> RequestCookies {
        RequestCookies(
            headers
                .get_all(axum::http::header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| Cookie::split_parse(v.to_owned()))
                .filter_map(Result::ok)
                .collect(),
        )
    }

    /// The value of the first cookie named exactly `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|c| c.name() == name).map(|c| c.value())
    }
}

fn language(headers: &HeaderMap, jar: &RequestCookies) -> Lang {
    jar.get(LANG_COOKIE)
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
        let jar = RequestCookies::from_headers(headers);
        let secure = behind_tls(headers);
        let here = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/".to_owned());
        let mut visitor = Visitor {
            lang: language(headers, &jar),
            user: None,
            csrf: String::new(),
            here,
            secure,
            session: None,
            set_cookies: Vec::new(),
            same_origin: origin_matches(headers),
        };
        if let Some(token) = jar.get(SESSION_COOKIE) {
            // A store that does not answer leaves the visitor signed out for this request:
            // the page says so where it matters (forms answer 503).
            if let Ok(Some(s)) = state.bookings.sessions().find(token).await {
                visitor.csrf = s.csrf;
                visitor.user = Some(s.principal);
                visitor.session = Some(s.token_hash);
            }
        }
        if visitor.session.is_none() {
            match jar
                .get(CSRF_COOKIE)
                .filter(|t| t.len() >= 32 && t.len() <= 64)
            {
                Some(t) => visitor.csrf = t.to_owned(),
                // Without randomness there is no token: the form token stays empty, which
                // `tokens_match` never accepts, so forms are refused rather than guessable.
                None => match random_token() {
                    Ok(token) => {
                        visitor
                            .set_cookies
                            .push(set_cookie(CSRF_COOKIE, &token, None, secure));
                        visitor.csrf = token;
                    }
                    Err(e) => tracing::error!(error = %e, "no form token for a visitor"),
                },
            }
        }
        Ok(visitor)
    }
}

impl Visitor {
    /// Whether a posted form's token is this visitor's (compared in constant time), and the
    /// form was not sent from another site.
    pub fn csrf_ok(&self, posted: &str) -> bool {
        self.same_origin && tokens_match(posted, &self.csrf)
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
    ) -> Result<String, StoreError> {
        let opened = state
            .bookings
            .sessions()
            .open(principal, self.session.as_deref())
            .await?;
        Ok(set_cookie(
            SESSION_COOKIE,
            &opened.token,
            Some(opened.max_age.num_seconds()),
            self.secure,
        ))
    }

    /// Ends the session. Returns the `Set-Cookie` value that clears the cookie.
    pub async fn sign_out(&self, state: &AppState) -> String {
        if let Some(hash) = &self.session {
            state.bookings.sessions().close(hash).await;
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
        let jar = RequestCookies::from_headers(&h);
        assert_eq!(jar.get(SESSION_COOKIE), Some("abc"));
        assert_eq!(jar.get("c"), Some("3"));
        assert!(jar.get("lokal").is_none());
        assert_eq!(language(&h, &jar), Lang::Nb);
        let en = headers(&[("cookie", "lokal_lang=en"), ("accept-language", "nb")]);
        assert_eq!(language(&en, &RequestCookies::from_headers(&en)), Lang::En);
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
        // `cookie` writes Secure before Path; the flag is what counts (RFC 6265 4.1.1: order
        // of attributes is free).
        assert_eq!(
            set_cookie("a", "b", None, true),
            "a=b; HttpOnly; SameSite=Lax; Secure; Path=/"
        );
        let plain = set_cookie("a", "b", Some(5), false);
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Lax"));
        assert!(!plain.contains("Secure"));
        assert!(plain.contains("Path=/") && plain.contains("Max-Age=5"));
        assert_eq!(
            set_cookie(SESSION_COOKIE, "", Some(0), false),
            "lokal_session=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0"
        );
    }

    #[test]
    fn an_encoded_lookalike_or_a_later_duplicate_is_not_our_session() {
        // A browser keeps `lokal%5Fsession` apart from `lokal_session`; so does Lokal.
        let alias = headers(&[("cookie", "lokal%5Fsession=attacker")]);
        assert_eq!(
            RequestCookies::from_headers(&alias).get(SESSION_COOKIE),
            None
        );
        // The first of a name wins (browsers send the longest path, then the oldest, first).
        let both = headers(&[
            ("cookie", "lokal_session=mine; lokal_session=attacker"),
            ("cookie", "lokal_session=third"),
        ]);
        assert_eq!(
            RequestCookies::from_headers(&both).get(SESSION_COOKIE),
            Some("mine")
        );
    }
}
