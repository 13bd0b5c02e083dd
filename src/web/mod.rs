//! The web portal for residents and the console for clerks: server-rendered pages
//! (askama templates in `web/templates`, Fluent messages in `web/locales`, CSS and a little
//! JavaScript in `web/static`), on top of the same booking service as the API.
//!
//! Every flow works without JavaScript. Forms post, then redirect (POST/redirect/GET); a form
//! that needs fixing is shown again with its errors linked to their fields. Every form
//! carries a CSRF token ([`session`]); booking forms also carry an idempotency key.

pub mod account;
pub mod assets;
pub mod console;
pub mod error;

pub mod notifications;

pub mod resident;
pub mod session;

use axum::Router;
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, SET_COOKIE, VARY};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::de::DeserializeOwned;

use crate::app::AppState;
pub use crate::i18n::{Arg, Lang, ToArg};
use crate::identity::Principal;
pub use session::Visitor;

/// The portal's routes. `GET /` (the start page) is reached through the CalDAV root route,
/// which keeps PROPFIND and OPTIONS on `/` for calendar apps.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(account::routes())
        .merge(assets::routes())
        .merge(console::routes())
        .merge(notifications::routes())
        .merge(resident::routes())
}

/// What every page's layout needs.
pub struct Page {
    pub lang: Lang,
    pub title: String,
    /// Which navigation entry is current (`aria-current`).
    pub section: &'static str,
    pub user_name: Option<String>,
    pub is_clerk: bool,
    pub is_resident: bool,
    pub csrf: String,
    /// This page's path and query (the language switch comes back to it).
    pub here: String,
    pub asset_version: &'static str,
}

impl Page {
    pub fn new(v: &Visitor, section: &'static str, title: String) -> Page {
        Page {
            lang: v.lang,
            title,
            section,
            user_name: v.user.as_ref().map(|u| u.name().to_owned()),
            is_clerk: v.is_clerk(),
            is_resident: matches!(v.user, Some(Principal::Resident { .. })),
            csrf: v.csrf.clone(),
            here: v.here.clone(),
            asset_version: assets::version(),
        }
    }

    /// A message in the page's language.
    pub fn t(&self, key: &str) -> String {
        self.lang.t(key)
    }

    /// A message with one argument.
    pub fn t1(&self, key: &str, name: &str, value: impl ToArg) -> String {
        self.lang.t_args(key, &[(name, value.to_arg())])
    }

    /// A message with two arguments.
    pub fn t2(&self, key: &str, n1: &str, v1: impl ToArg, n2: &str, v2: impl ToArg) -> String {
        self.lang
            .t_args(key, &[(n1, v1.to_arg()), (n2, v2.to_arg())])
    }

    /// The language switch's link: the other language, back to this page.
    pub fn switch_href(&self) -> String {
        format!(
            "/lang/{}?next={}",
            self.lang.other().code(),
            urlencode(&self.here)
        )
    }

    pub fn current(&self, section: &str) -> &'static str {
        if self.section == section {
            "page"
        } else {
            "false"
        }
    }
}

/// A form's errors, each tied to its field (`id` of the input), in the order shown.
#[derive(Clone, Debug, Default)]
pub struct FieldErrors(pub Vec<(String, String)>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, message: String) {
        self.0.push((field.to_owned(), message));
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A booking's dates by status in words, such as "8 godkjent, 1 avslått, 1 avlyst".
pub fn dates_summary(
    lang: Lang,
    dates: impl Iterator<Item = crate::scheduling::OccurrenceStatus>,
) -> String {
    crate::booking::dates_count(dates)
        .into_iter()
        .map(|(status, n)| {
            lang.t_args(
                &format!("dates-{}", status.as_str()),
                &[("count", n.to_arg())],
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Percent-encodes a query value.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A local path to come back to after a form: never another site (`//host`, `/\host`).
pub fn safe_next(next: Option<&str>) -> Option<String> {
    let n = next?.trim();
    let ok = n.starts_with('/')
        && !n.starts_with("//")
        && !n.starts_with("/\\")
        && n.len() <= 2000
        && !n.chars().any(|c| c.is_control());
    ok.then(|| n.to_owned())
}

/// Renders a template as a page response, with the visitor's cookies and the headers every
/// page gets.
pub fn render<T: askama::Template>(v: &Visitor, status: StatusCode, template: &T) -> Response {
    match template.render() {
        Ok(html) => {
            let mut response = (status, html).into_response();
            page_headers(v, response.headers_mut());
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "a page template failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be shown",
            )
                .into_response()
        }
    }
}

fn page_headers(v: &Visitor, h: &mut HeaderMap) {
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // Pages depend on the signed-in person and the language. A signed-in person's pages
    // name them (and often their bookings): none is stored, so that on a shared computer
    // the back button after signing out shows nothing of theirs.
    let cache = if v.user.is_some() {
        "private, no-store"
    } else {
        "private, no-cache"
    };
    h.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(VARY, HeaderValue::from_static("Cookie, Accept-Language"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
        ),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    for c in v.cookie_headers() {
        h.append(SET_COOKIE, c);
    }
}

/// A redirect after a form (303: the browser follows with GET), with cookies to set.
pub fn see_other(v: &Visitor, to: &str, cookies: &[String]) -> Response {
    let mut response = Redirect::to(to).into_response();
    *response.status_mut() = StatusCode::SEE_OTHER;
    for c in v.cookie_headers() {
        response.headers_mut().append(SET_COOKIE, c);
    }
    for c in cookies {
        if let Ok(value) = HeaderValue::from_str(c) {
            response.headers_mut().append(SET_COOKIE, value);
        }
    }
    response
}

#[derive(askama::Template)]
#[template(path = "error.html")]
struct ErrorPage {
    page: Page,
    heading: String,
    message: String,
}

/// A page that says what went wrong and how to go on.
pub fn error_page(v: &Visitor, status: StatusCode, heading_key: &str, message: String) -> Response {
    let heading = v.lang.t(heading_key);
    let page = Page::new(v, "", heading.clone());
    render(
        v,
        status,
        &ErrorPage {
            page,
            heading,
            message,
        },
    )
}

/// A page answered instead of the one asked for (a refused form, a missing page). Handlers
/// return `Result<Response, PageError>` and use `?`.
pub struct PageError(Box<Response>);

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        *self.0
    }
}

impl From<Response> for PageError {
    fn from(r: Response) -> Self {
        PageError(Box::new(r))
    }
}

/// Reads an `application/x-www-form-urlencoded` body; a malformed one is a 400 page.
pub fn parse_form<T: DeserializeOwned>(v: &Visitor, body: &[u8]) -> Result<T, PageError> {
    serde_urlencoded::from_bytes(body).map_err(|e| {
        PageError::from(error_page(
            v,
            StatusCode::BAD_REQUEST,
            "error-bad-form",
            v.lang.t_args(
                "error-bad-form-detail",
                &[("detail", e.to_string().to_arg())],
            ),
        ))
    })
}

/// A query string read into `T`; one that does not fit (a field given twice, a number that is
/// not one) is a 400 page in the visitor's language, not a line of plain text.
pub struct PageQuery<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for PageQuery<T> {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(q)) => Ok(PageQuery(q)),
            Err(e) => Err(bad_address(parts, state, e.body_text()).await),
        }
    }
}

/// A path parameter read into `T`; one that does not fit (bytes that are not UTF-8) is a
/// 400 page, as for [`PageQuery`].
pub struct PagePath<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for PagePath<T> {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(p)) => Ok(PagePath(p)),
            Err(e) => Err(bad_address(parts, state, e.body_text()).await),
        }
    }
}

async fn bad_address(parts: &mut Parts, state: &AppState, detail: String) -> PageError {
    let v = match Visitor::from_request_parts(parts, state).await {
        Ok(v) => v,
        Err(never) => match never {},
    };
    error_page(
        &v,
        StatusCode::BAD_REQUEST,
        "error-bad-request",
        v.lang
            .t_args("error-bad-address", &[("detail", detail.to_arg())]),
    )
    .into()
}

/// Refuses a form without this visitor's CSRF token (or sent from another site).
pub fn check_csrf(v: &Visitor, posted: &str) -> Result<(), PageError> {
    if v.csrf_ok(posted) {
        Ok(())
    } else {
        Err(error_page(
            v,
            StatusCode::FORBIDDEN,
            "error-csrf",
            v.lang.t("error-csrf-detail"),
        )
        .into())
    }
}

/// The page for a store or directory that does not answer.
pub fn unavailable(v: &Visitor, e: impl std::fmt::Display) -> Response {
    tracing::warn!(error = %e, "a page could not be served");
    error_page(
        v,
        StatusCode::SERVICE_UNAVAILABLE,
        "error-unavailable",
        v.lang.t("error-unavailable-detail"),
    )
}

/// Sends the visitor to sign in, and back here afterwards.
pub fn sign_in_first(v: &Visitor) -> Response {
    see_other(v, &format!("/login?next={}", urlencode(&v.here)), &[])
}

/// The portal's 404 page (`startup` sends browsers here; programs get problem+json).
pub async fn not_found(v: Visitor) -> Response {
    error_page(
        &v,
        StatusCode::NOT_FOUND,
        "error-not-found",
        v.lang.t("error-not-found-detail"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(
            safe_next(Some("/my/bookings")).as_deref(),
            Some("/my/bookings")
        );
        assert_eq!(safe_next(Some("//evil.example/")), None);
        assert_eq!(safe_next(Some("/\\evil.example")), None);
        assert_eq!(safe_next(Some("https://evil.example/")), None);
        assert_eq!(safe_next(Some("/a\nb")), None);
        assert_eq!(safe_next(None), None);
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(
            urlencode("/halls/x?week=2027-W10&a=b c"),
            "/halls/x%3Fweek%3D2027-W10%26a%3Db%20c"
        );
        assert_eq!(urlencode("Møterom"), "M%C3%B8terom");
    }
}
