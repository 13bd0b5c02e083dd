//! The CalDAV dispatcher (RFC 4918, RFC 4791, RFC 6578, RFC 6638): authenticates, resolves
//! the path to a resource of `resource`, and hands the request to its method in `methods`
//! (one file per method): OPTIONS, PROPFIND, REPORT, GET and HEAD everywhere; PUT and DELETE
//! in a staff member's own calendar (where inviting a room books it, see
//! `calendar::schedule`), DELETE in their schedule inbox, POST to their outbox. Every other
//! write gets 403 with the privilege it lacks: room calendars change only through booking.
//! Also here: what several methods share (resolving nodes, rendering multistatus responses).
//!
//! Every request but OPTIONS needs a staff login (HTTP Basic against the directory, through
//! the identity layer's cache and failure limit). Residents get 403: CalDAV is for staff.

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::any;
use chrono::{DateTime, Utc};

use super::error::DavError;
use super::methods;
use super::resource::{Node, Path, Viewer};
use super::xml::{self, CalendarData, PropName, PropRequest, PropStat, PropValue, ResponseBody};
use crate::app::AppState;
use crate::calendar::ical;
use crate::calendar::schedule::{self, Conditions, Organiser};
use crate::calendar::{CalendarEntry, Calendars, InboxItem, RoomCalendar, StaffObject};
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
    match state.identity.authenticate(&login, &password).await? {
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

pub(super) fn forbidden_read(href: &str) -> DavError {
    DavError::need_privileges(href.to_owned(), PropName::READ)
}

/// Resolves a path for the viewer. A user's resources are theirs alone.
pub(super) async fn resolve(
    ctx: &Ctx<'_>,
    path: &Path,
    with_entry: bool,
) -> Result<Node, DavError> {
    if let Some(login) = path.user()
        && login != ctx.viewer.login
    {
        return Err(forbidden_read(&path.href()));
    }
    let room = |id: String| async move { ctx.cals.room(&id).await?.ok_or(DavError::NotFound) };
    Ok(match path {
        Path::Root => Node::Root,
        Path::Principals | Path::RoomPrincipals | Path::Calendars => Node::Collection(path.clone()),
        Path::UserPrincipal(login) => Node::UserPrincipal {
            login: login.clone(),
            name: ctx.name.clone(),
            email: ctx.email.clone(),
        },
        Path::Meetings(login) => Node::Meetings {
            login: login.clone(),
            change_seq: ctx.cals.staff_change_seq(login).await?,
        },
        Path::Inbox(login) => Node::Inbox(login.clone()),
        Path::Outbox(login) => Node::Outbox(login.clone()),
        Path::Object(collection, name) if matches!(**collection, Path::Meetings(_)) => {
            let object = ctx
                .cals
                .staff_object(&ctx.viewer.login, name)
                .await?
                .ok_or(DavError::NotFound)?;
            staff_node(ctx, path.clone(), object, with_entry).await?
        }
        Path::Object(collection, name) if matches!(**collection, Path::Inbox(_)) => ctx
            .cals
            .inbox_items(&ctx.viewer.login)
            .await?
            .into_iter()
            .find(|i| i.name == *name)
            .map(|i| inbox_node(path.clone(), i))
            .ok_or(DavError::NotFound)?,
        Path::RoomPrincipal(id) => Node::RoomPrincipal(Box::new(room(id.clone()).await?)),
        Path::UserHome(login) => Node::UserHome(login.clone()),
        Path::RoomHome(id) => Node::RoomHome(Box::new(room(id.clone()).await?)),
        Path::UserCalendar(..) | Path::RoomCalendar(_) => {
            let cal = calendar_of(ctx, path).await?;
            let change_seq = ctx.cals.change_seq(&cal).await?;
            Node::Calendar {
                path: path.clone(),
                cal,
                change_seq,
            }
        }
        Path::Object(calendar, id) => {
            let cal = calendar_of(ctx, calendar).await?;
            let entry = ctx.cals.entry(&cal, id).await?.ok_or(DavError::NotFound)?;
            Node::Object {
                path: path.clone(),
                cal,
                id: id.clone(),
                change_seq: entry.change_seq,
                entry: with_entry.then(|| Box::new(entry)),
            }
        }
    })
}

/// The room calendar a calendar path names: a followed room under a user's home, any live
/// room at its direct URL.
pub(super) async fn calendar_of(ctx: &Ctx<'_>, path: &Path) -> Result<RoomCalendar, DavError> {
    let found = match path {
        Path::UserCalendar(_, room) => ctx.cals.followed_room(&ctx.user_id, room).await?,
        Path::RoomCalendar(room) => ctx.cals.room(room).await?,
        _ => None,
    };
    found.ok_or(DavError::NotFound)
}

/// Whether answering needs the bookings themselves, not only their change numbers.
pub(super) fn needs_entries(request: &PropRequest) -> bool {
    match request {
        PropRequest::PropName => false,
        PropRequest::AllProp { include: names } | PropRequest::Prop(names) => names
            .iter()
            .any(|n| *n == PropName::CALENDAR_DATA || *n == PropName::GETLASTMODIFIED),
    }
}

/// The members of a collection, for Depth: 1.
pub(super) async fn children(
    ctx: &Ctx<'_>,
    node: &Node,
    with_entries: bool,
) -> Result<Vec<Node>, DavError> {
    Ok(match node {
        Node::Root => vec![
            Node::Collection(Path::Principals),
            Node::Collection(Path::Calendars),
        ],
        Node::Collection(Path::Principals) => vec![
            Node::UserPrincipal {
                login: ctx.viewer.login.clone(),
                name: ctx.name.clone(),
                email: ctx.email.clone(),
            },
            Node::Collection(Path::RoomPrincipals),
        ],
        Node::Collection(Path::RoomPrincipals) => ctx
            .cals
            .rooms()
            .await?
            .into_iter()
            .map(|c| Node::RoomPrincipal(Box::new(c)))
            .collect(),
        Node::Collection(Path::Calendars) => vec![Node::UserHome(ctx.viewer.login.clone())],
        Node::Meetings { login, .. } => {
            let mut objects = Vec::new();
            for o in ctx.cals.staff_objects(login).await? {
                let path = Path::Object(Box::new(Path::Meetings(login.clone())), o.name.clone());
                objects.push(staff_node(ctx, path, o, with_entries).await?);
            }
            objects
        }
        Node::Inbox(login) => ctx
            .cals
            .inbox_items(login)
            .await?
            .into_iter()
            .map(|i| {
                let path = Path::Object(Box::new(Path::Inbox(login.clone())), i.name.clone());
                inbox_node(path, i)
            })
            .collect(),
        Node::UserHome(login) => {
            let mut calendars = vec![
                Node::Meetings {
                    login: login.clone(),
                    change_seq: ctx.cals.staff_change_seq(login).await?,
                },
                Node::Inbox(login.clone()),
                Node::Outbox(login.clone()),
            ];
            for cal in ctx.cals.followed(&ctx.user_id).await? {
                let change_seq = ctx.cals.change_seq(&cal).await?;
                calendars.push(Node::Calendar {
                    path: Path::UserCalendar(login.clone(), cal.room.room.id.clone()),
                    cal,
                    change_seq,
                });
            }
            calendars
        }
        Node::RoomHome(cal) => {
            let change_seq = ctx.cals.change_seq(cal).await?;
            vec![Node::Calendar {
                path: Path::RoomCalendar(cal.room.room.id.clone()),
                cal: (**cal).clone(),
                change_seq,
            }]
        }
        Node::Calendar { path, cal, .. } => {
            if with_entries {
                ctx.cals
                    .entries(cal, None)
                    .await?
                    .into_iter()
                    .map(|e| object_node(path, cal, e))
                    .collect()
            } else {
                ctx.cals
                    .index(cal)
                    .await?
                    .into_iter()
                    .map(|(id, change_seq)| Node::Object {
                        path: Path::Object(Box::new(path.clone()), id.clone()),
                        cal: cal.clone(),
                        id,
                        change_seq,
                        entry: None,
                    })
                    .collect()
            }
        }
        _ => Vec::new(),
    })
}

/// A staff object as a node; rendered (with the rooms' answers) when its data is needed.
pub(super) async fn staff_node(
    ctx: &Ctx<'_>,
    path: Path,
    object: StaffObject,
    with_data: bool,
) -> Result<Node, DavError> {
    let data = if with_data {
        Some(
            ctx.cals
                .served_staff_object(&ctx.viewer.login, &object)
                .await?,
        )
    } else {
        None
    };
    Ok(Node::StaffObject {
        path,
        etag: schedule::etag(object.change_seq),
        data,
    })
}

pub(super) fn inbox_node(path: Path, item: InboxItem) -> Node {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(item.body.as_bytes());
    let tag: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    Node::StaffObject {
        path,
        etag: format!("\"i{tag}\""),
        data: Some(item.body),
    }
}

pub(super) fn object_node(calendar: &Path, cal: &RoomCalendar, entry: CalendarEntry) -> Node {
    Node::Object {
        path: Path::Object(Box::new(calendar.clone()), entry.booking.id.clone()),
        cal: cal.clone(),
        id: entry.booking.id.clone(),
        change_seq: entry.change_seq,
        entry: Some(Box::new(entry)),
    }
}

/// The calendar data of an object, as the request's `calendar-data` asks (RFC 4791 §9.6).
pub(super) fn render(node: &Node, data: &CalendarData) -> Option<String> {
    let Node::Object {
        cal,
        entry: Some(entry),
        ..
    } = node
    else {
        return None;
    };
    let stamp = entry.booking.updated_at;
    let detail = cal.staff_detail();
    match data {
        CalendarData::Expand(range) => ical::expanded_object(
            &entry.booking,
            &cal.info(),
            &detail,
            stamp,
            range.start.unwrap_or(DateTime::<Utc>::MIN_UTC),
            range.end.unwrap_or(DateTime::<Utc>::MAX_UTC),
        )
        // Nothing of the series falls in the window: an empty calendar, not a missing one.
        .or_else(|| Some(empty_calendar())),
        // The master and only the overrides in the window (§9.6.6).
        CalendarData::LimitRecurrenceSet(range) => ical::limited_object(
            &entry.booking,
            &cal.info(),
            &detail,
            stamp,
            range.start.unwrap_or(DateTime::<Utc>::MIN_UTC),
            range.end.unwrap_or(DateTime::<Utc>::MAX_UTC),
        ),
        CalendarData::Full | CalendarData::None => {
            ical::calendar_object(&entry.booking, &cal.info(), &detail, stamp)
        }
    }
}

pub(super) fn empty_calendar() -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:{}\r\nEND:VCALENDAR\r\n",
        ical::PRODID
    )
}

/// One multistatus response for a node.
pub(super) fn respond(
    node: &Node,
    href: String,
    request: &PropRequest,
    viewer: &Viewer,
    data: &CalendarData,
) -> xml::Response {
    let render = |n: &Node| render(n, data);
    let body = match request {
        PropRequest::PropName => vec![PropStat {
            status: 200,
            props: node
                .names()
                .into_iter()
                .map(|n| (n, PropValue::Empty))
                .collect(),
        }],
        PropRequest::AllProp { include } => {
            let mut names = node.names();
            for extra in include {
                if !names.contains(extra) {
                    names.push(extra.clone());
                }
            }
            split(node, &names, viewer, &render)
        }
        PropRequest::Prop(names) => split(node, names, viewer, &render),
    };
    xml::Response {
        href,
        body: ResponseBody::PropStats(body),
    }
}

/// Found properties in a 200 propstat, the others in a 404 one (RFC 4918 §9.1).
pub(super) fn split(
    node: &Node,
    names: &[PropName],
    viewer: &Viewer,
    render: &dyn Fn(&Node) -> Option<String>,
) -> Vec<PropStat> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for name in names {
        match node.prop(name, viewer, render) {
            Some(value) => found.push((name.clone(), value)),
            None => missing.push((name.clone(), PropValue::Empty)),
        }
    }
    let mut stats = Vec::new();
    if !found.is_empty() {
        stats.push(PropStat {
            status: 200,
            props: found,
        });
    }
    if !missing.is_empty() {
        stats.push(PropStat {
            status: 404,
            props: missing,
        });
    }
    stats
}

pub(super) fn multistatus(responses: &[xml::Response], sync_token: Option<&str>) -> Response {
    let body = xml::multistatus(responses, sync_token);
    let mut response = (StatusCode::MULTI_STATUS, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    response
}
