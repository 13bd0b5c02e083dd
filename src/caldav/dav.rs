//! The CalDAV dispatcher (RFC 4918, RFC 4791, RFC 6578, RFC 6638): authenticates, resolves
//! the path to a resource of `resource`, and hands the request to its method in `methods`
//! (one file per method): OPTIONS, PROPFIND, REPORT, GET and HEAD everywhere; PUT and DELETE
//! in a staff member's own calendar (where inviting a room books it, see
//! `calendar::schedule`), DELETE in their schedule inbox, POST to their outbox. Every other
//! write gets 403 with the privilege it lacks: room calendars change only through booking.
//! Resources are resolved in `tree`, and multistatus answers written in `multistatus`.
//!
//! Every request but OPTIONS needs a staff login (HTTP Basic against the directory, through
//! the identity layer's cache and failure limit). Residents get 403: CalDAV is for staff.

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::any;

use super::error::DavError;
use super::methods;
use super::resource::{Path, Viewer};
use super::xml::{self, PropName};
use crate::app::AppState;
use crate::calendar::Calendars;
use crate::calendar::schedule::{Conditions, Organiser};
use crate::identity::Principal;

/// The largest DAV request body read. Report and PROPFIND bodies are small; anything larger is
/// refused before it is read.
pub const MAX_BODY: usize = 1024 * 1024;

/// The DAV routes: `/dav/...`, `/.well-known/caldav` (RFC 6764 §5), and PROPFIND/OPTIONS on
/// `/` so that apps given only the server's address find their principal.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/.well-known/caldav", any(well_known))
        .route("/dav", any(dav))
        .route("/dav/", any(dav))
        .route("/dav/{*rest}", any(dav))
        .layer(axum::middleware::from_fn(whole_body))
}

/// Reads the whole (bounded) request body before any answer: one sent while the client is
/// still sending (a 401 to a PROPFIND without a login, the well-known redirect, a refused PUT)
/// makes hyper close the connection without `Connection: close`, and a client that reuses it
/// for its next request (the retry with a login, the redirected PROPFIND) gets a reset.
pub async fn whole_body(req: Request, next: axum::middleware::Next) -> Response {
    let (parts, body) = req.into_parts();
    match read_body(&parts.headers, body).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(e) => e.into_response(),
    }
}

/// RFC 6764 §5 names 301, 303 and 307; 307 keeps the method and the body (a PROPFIND stays
/// a PROPFIND with its body).
async fn well_known() -> Redirect {
    Redirect::temporary("/dav/")
}

/// A DAV request on `/` (PROPFIND, OPTIONS), which `startup` dispatches here.
pub async fn serve(state: AppState, req: Request) -> Response {
    dav(State(state), req).await
}

async fn dav(State(state): State<AppState>, req: Request) -> Response {
    let calendars = Calendars::new(&state.bookings);
    match handle(&state, &calendars, req).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

/// What every method needs.
pub(super) struct Ctx<'a> {
    pub(super) cals: &'a Calendars,
    pub(super) viewer: Viewer,
    /// `staff:<id>`, the key of the viewer's follow settings.
    pub(super) user_id: String,
    pub(super) name: String,
    pub(super) principal: Principal,
    /// The directory email, looked up only for requests that need it.
    pub(super) email: Option<String>,
}

async fn handle(state: &AppState, cals: &Calendars, req: Request) -> Result<Response, DavError> {
    let (parts, body) = req.into_parts();
    // Already read whole by `whole_body`; this only collects it.
    let body = read_body(&parts.headers, body).await?;
    if parts.method == Method::OPTIONS {
        return Ok(methods::options::options());
    }
    let mut ctx = authenticate(state, cals, &parts).await?;
    let raw_path = parts.uri.path();
    let decoded = xml::decode_href(raw_path).ok_or(DavError::NotFound)?;
    let path = if decoded == "/" {
        Path::Root
    } else {
        Path::parse(&decoded).ok_or(DavError::NotFound)?
    };
    // Principals name their mailto: address, and scheduling checks the ORGANIZER by it.
    if matches!(
        (&path, parts.method.as_str()),
        (Path::UserPrincipal(_) | Path::Principals, _) | (_, "PUT" | "DELETE" | "POST")
    ) {
        ctx.email = email_of(state, &ctx.viewer.login).await;
    }
    // The href the answer names for the target: the one asked for (`/` stays `/`).
    let target_href = if decoded == "/" {
        "/".to_owned()
    } else {
        path.href()
    };
    match parts.method.as_str() {
        "PROPFIND" => {
            methods::propfind::propfind(&ctx, &path, &target_href, &parts.headers, &body).await
        }
        "REPORT" => methods::report::report(&ctx, &path, &body).await,
        "GET" | "HEAD" => {
            methods::get::get(&ctx, &path, &parts.headers, parts.method == Method::HEAD).await
        }
        "PUT" if is_staff_object(&path) => {
            methods::put::put(&ctx, &path, &parts.headers, &body).await
        }
        "DELETE" if is_staff_object(&path) => {
            methods::delete::delete_staff_object(&ctx, &path, &parts.headers).await
        }
        "DELETE" if matches!(&path, Path::Object(c, _) if matches!(**c, Path::Inbox(_))) => {
            methods::delete::delete_inbox_item(&ctx, &path).await
        }
        "POST" if matches!(path, Path::Outbox(_)) => methods::post::post(&ctx, &path, &body).await,
        // Writes: RFC 3744 §7.1.1 says which privilege is missing.
        "PUT" | "DELETE" | "MOVE" | "COPY" | "PROPPATCH" | "MKCALENDAR" | "MKCOL" | "POST"
        | "LOCK" | "UNLOCK" | "ACL" => {
            Err(methods::refuse_write(&ctx, &path, parts.method.as_str()).await)
        }
        _ => Err(DavError::MethodNotAllowed(
            "OPTIONS, GET, HEAD, PROPFIND, REPORT",
        )),
    }
}

/// An object of a staff member's own calendar.
pub(super) fn is_staff_object(path: &Path) -> bool {
    matches!(path, Path::Object(c, _) if matches!(**c, Path::Meetings(_)))
}

/// A user's resources are theirs alone.
pub(super) fn own(ctx: &Ctx<'_>, path: &Path) -> Result<(), DavError> {
    match path.user() {
        Some(login) if login == ctx.viewer.login => Ok(()),
        _ => Err(DavError::need_privileges(
            path.href(),
            PropName::WRITE_CONTENT,
        )),
    }
}

/// The directory email of a login, if the directory has one.
async fn email_of(state: &AppState, login: &str) -> Option<String> {
    match state.directory.find_person(login).await {
        Ok(Some(p)) => p.email.filter(|e| !e.trim().is_empty()),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(error = %e, "the directory did not give the email of {login}");
            None
        }
    }
}

/// The caller's calendar-user addresses (RFC 6638 §2.4.1), as their principal lists them.
pub(super) fn my_addresses(ctx: &Ctx<'_>) -> Vec<String> {
    let login = &ctx.viewer.login;
    let mut addresses: Vec<String> = ctx.email.iter().map(|e| format!("mailto:{e}")).collect();
    addresses.push(format!("urn:lokal:staff:{login}"));
    addresses.push(Path::UserPrincipal(login.clone()).href());
    addresses
}

pub(super) fn organiser<'a>(ctx: &'a Ctx<'_>, headers: &HeaderMap) -> Organiser<'a> {
    let login = &ctx.viewer.login;
    let addresses = my_addresses(ctx);
    // Answers are worded in Bokmål unless the client prefers English.
    let lang = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::i18n::Lang::from_accept_language)
        .unwrap_or_default();
    Organiser {
        principal: &ctx.principal,
        login,
        addresses,
        lang,
    }
}

pub(super) fn conditions(headers: &HeaderMap) -> Conditions {
    let text = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    Conditions {
        if_match: text(header::IF_MATCH),
        if_none_match: text(header::IF_NONE_MATCH),
    }
}

async fn authenticate<'a>(
    state: &AppState,
    cals: &'a Calendars,
    parts: &Parts,
) -> Result<Ctx<'a>, DavError> {
    let (login, password) = crate::identity::basic_credentials(&parts.headers)
        .map_err(|e| DavError::Unauthorized(e.message().into()))?;
    let client = parts
        .extensions
        .get::<crate::identity::ClientAddr>()
        .copied()
        .unwrap_or(crate::identity::ClientAddr::Unknown);
    match state
        .identity
        .authenticate(&login, &password, client)
        .await?
    {
        principal @ Principal::Staff { .. } => {
            let user_id = principal.requester_id();
            let Principal::Staff {
                login,
                name,
                id: principal_id,
                roles,
            } = principal
            else {
                return Err(DavError::Forbidden("CalDAV is for staff".into()));
            };
            Ok(Ctx {
                cals,
                principal: Principal::Staff {
                    id: principal_id,
                    login: login.clone(),
                    name: name.clone(),
                    roles,
                },
                viewer: Viewer { login },
                user_id,
                name,
                email: None,
            })
        }
        Principal::Resident { .. } => Err(DavError::Forbidden(
            "CalDAV is for staff; residents follow their bookings in the portal".into(),
        )),
    }
}

/// Reads a request body of at most [`MAX_BODY`] bytes; a larger one is refused (413) without
/// being read.
pub(super) async fn read_body(headers: &HeaderMap, body: Body) -> Result<Vec<u8>, DavError> {
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > MAX_BODY as u64
    {
        return Err(DavError::TooLarge);
    }
    let bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| DavError::TooLarge)?;
    Ok(bytes.to_vec())
}
