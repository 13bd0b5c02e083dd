//! The CalDAV methods (RFC 4918, RFC 4791, RFC 6578, RFC 6638) on the resources of
//! `resource`: OPTIONS, PROPFIND, REPORT, GET and HEAD everywhere; PUT and DELETE in a staff
//! member's own calendar (where inviting a room books it, see `schedule`), DELETE in their
//! schedule inbox, POST to their outbox. Every other write gets 403 with the privilege it
//! lacks: room calendars change only through booking.
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
use chrono::{DateTime, TimeZone as _, Utc};

use super::error::DavError;
use super::resource::{Node, Path, Viewer};
use super::schedule::{self, Conditions, Organiser, WriteError};
use super::xml::{
    self, CalendarData, CompFilter, PropName, PropRequest, PropStat, PropValue, Report,
    ResponseBody, SyncLevel,
};
use crate::app::AppState;
use crate::calendar::ical;
use crate::calendar::{Calendars, RoomCalendar};
use crate::identity::Principal;
use crate::store::CalendarEntry;

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
struct Ctx<'a> {
    cals: &'a Calendars,
    viewer: Viewer,
    /// `staff:<id>`, the key of the viewer's follow settings.
    user_id: String,
    name: String,
    principal: Principal,
    /// The directory email, looked up only for requests that need it.
    email: Option<String>,
}

async fn handle(state: &AppState, cals: &Calendars, req: Request) -> Result<Response, DavError> {
    let (parts, body) = req.into_parts();
    // Already read whole by `whole_body`; this only collects it.
    let body = read_body(&parts.headers, body).await?;
    if parts.method == Method::OPTIONS {
        return Ok(options());
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
            let depth = depth(&parts.headers)?;
            let request = xml::parse_propfind(&body)?;
            let node = resolve(&ctx, &path, needs_entries(&request)).await?;
            propfind(&ctx, node, &target_href, depth, &request).await
        }
        "REPORT" => {
            let report = xml::parse_report(&body)?;
            let node = resolve(&ctx, &path, false).await?;
            self::report(&ctx, node, report).await
        }
        "GET" | "HEAD" => {
            let node = resolve(&ctx, &path, true).await?;
            get(&ctx, node, &parts.headers, parts.method == Method::HEAD).await
        }
        "PUT" if is_staff_object(&path) => {
            let Path::Object(_, name) = &path else {
                return Err(DavError::NotFound);
            };
            own(&ctx, &path)?;
            let me = organiser(&ctx, &parts.headers);
            let written = schedule::put(
                cals,
                &state.bookings,
                &me,
                name,
                &body,
                &conditions(&parts.headers),
            )
            .await;
            let written = match written {
                Ok(w) => w,
                Err(e) => return write_error(e),
            };
            let status = if written.created {
                StatusCode::CREATED
            } else {
                StatusCode::NO_CONTENT
            };
            let mut response = status.into_response();
            if let Some(etag) = written.etag
                && let Ok(v) = HeaderValue::from_str(&etag)
            {
                response.headers_mut().insert(header::ETAG, v);
            }
            Ok(response)
        }
        "DELETE" if is_staff_object(&path) => {
            let Path::Object(_, name) = &path else {
                return Err(DavError::NotFound);
            };
            own(&ctx, &path)?;
            let me = organiser(&ctx, &parts.headers);
            match schedule::delete(
                cals,
                &state.bookings,
                &me,
                name,
                &conditions(&parts.headers),
            )
            .await
            {
                Ok(()) => Ok(StatusCode::NO_CONTENT.into_response()),
                Err(e) => write_error(e),
            }
        }
        "DELETE" if matches!(&path, Path::Object(c, _) if matches!(**c, Path::Inbox(_))) => {
            let Path::Object(_, name) = &path else {
                return Err(DavError::NotFound);
            };
            own(&ctx, &path)?;
            if cals
                .store
                .delete_inbox_item(&ctx.viewer.login, name)
                .await?
            {
                Ok(StatusCode::NO_CONTENT.into_response())
            } else {
                Err(DavError::NotFound)
            }
        }
        "POST" if matches!(path, Path::Outbox(_)) => {
            own(&ctx, &path)?;
            outbox_post(cals, &ctx, &body).await
        }
        // Writes: RFC 3744 §7.1.1 says which privilege is missing.
        "PUT" | "DELETE" | "MOVE" | "COPY" | "PROPPATCH" | "MKCALENDAR" | "MKCOL" | "POST"
        | "LOCK" | "UNLOCK" | "ACL" => Err(refuse_write(&ctx, &path, parts.method.as_str()).await),
        _ => Err(DavError::MethodNotAllowed(
            "OPTIONS, GET, HEAD, PROPFIND, REPORT",
        )),
    }
}

/// An object of a staff member's own calendar.
fn is_staff_object(path: &Path) -> bool {
    matches!(path, Path::Object(c, _) if matches!(**c, Path::Meetings(_)))
}

/// A user's resources are theirs alone.
fn own(ctx: &Ctx<'_>, path: &Path) -> Result<(), DavError> {
    match path.user() {
        Some(login) if login == ctx.viewer.login => Ok(()),
        _ => Err(DavError::Precondition(xml::need_privileges(
            &path.href(),
            &PropName::WRITE_CONTENT,
        ))),
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
fn my_addresses(ctx: &Ctx<'_>) -> Vec<String> {
    let login = &ctx.viewer.login;
    let mut addresses: Vec<String> = ctx.email.iter().map(|e| format!("mailto:{e}")).collect();
    addresses.push(format!("urn:lokal:staff:{login}"));
    addresses.push(Path::UserPrincipal(login.clone()).href());
    addresses
}

fn organiser<'a>(ctx: &'a Ctx<'_>, headers: &HeaderMap) -> Organiser<'a> {
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

fn conditions(headers: &HeaderMap) -> Conditions {
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

/// A failed precondition as a DAV error body with its status (RFC 4791 §1.3: the
/// precondition element inside `DAV:error`, and a sentence for people).
fn write_error(e: WriteError) -> Result<Response, DavError> {
    match e {
        WriteError::NotFound => Err(DavError::NotFound),
        WriteError::Store(e) => Err(e.into()),
        WriteError::Precondition {
            status,
            caldav,
            element,
            message,
        } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
            let mut response = if caldav {
                (
                    status,
                    xml::error(&PropName::caldav(element), Some(&message)),
                )
                    .into_response()
            } else {
                (status, format!("{message}\n")).into_response()
            };
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(if caldav {
                    "application/xml; charset=utf-8"
                } else {
                    "text/plain; charset=utf-8"
                }),
            );
            Ok(response)
        }
    }
}

/// POST to the schedule outbox (RFC 6638 §5): free-busy requests for rooms, answered by
/// `freebusy`; the ORGANIZER must be one of the caller's addresses.
async fn outbox_post(cals: &Calendars, ctx: &Ctx<'_>, body: &[u8]) -> Result<Response, DavError> {
    super::freebusy::outbox_post_as(cals, &ctx.principal, Some(&my_addresses(ctx)), body).await
}

fn options() -> Response {
    let mut response = StatusCode::OK.into_response();
    let headers = response.headers_mut();
    // RFC 4791 §5.1: calendar-access; class 3 for RFC 4918.
    // RFC 6638 §2: calendar-auto-schedule, the server schedules implicitly.
    headers.insert(
        "DAV",
        HeaderValue::from_static("1, 3, calendar-access, calendar-auto-schedule"),
    );
    headers.insert(
        header::ALLOW,
        HeaderValue::from_static("OPTIONS, GET, HEAD, PROPFIND, REPORT, PUT, DELETE, POST"),
    );
    response
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

/// The Depth header (RFC 4918 §10.2): 0 or 1. Infinity is refused with
/// `DAV:propfind-finite-depth` (§9.1); no header counts as 0.
fn depth(headers: &HeaderMap) -> Result<u8, DavError> {
    match headers.get("Depth").map(|v| v.to_str().map(str::trim)) {
        None => Ok(0),
        Some(Ok("0")) => Ok(0),
        Some(Ok("1")) => Ok(1),
        Some(Ok(v)) if v.eq_ignore_ascii_case("infinity") => {
            Err(DavError::Precondition(xml::error(
                &PropName::dav("propfind-finite-depth"),
                Some("Depth: infinity is not supported; use 0 or 1"),
            )))
        }
        _ => Err(DavError::BadRequest(
            "the Depth header must be 0 or 1".into(),
        )),
    }
}

/// Reads a request body of at most [`MAX_BODY`] bytes; a larger one is refused (413) without
/// being read.
async fn read_body(headers: &HeaderMap, body: Body) -> Result<Vec<u8>, DavError> {
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

fn forbidden_read(href: &str) -> DavError {
    DavError::Precondition(xml::need_privileges(href, &PropName::READ))
}

/// Resolves a path for the viewer. A user's resources are theirs alone.
async fn resolve(ctx: &Ctx<'_>, path: &Path, with_entry: bool) -> Result<Node, DavError> {
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
            change_seq: ctx.cals.store.staff_change_seq(login).await?,
        },
        Path::Inbox(login) => Node::Inbox(login.clone()),
        Path::Outbox(login) => Node::Outbox(login.clone()),
        Path::Object(collection, name) if matches!(**collection, Path::Meetings(_)) => {
            let object = ctx
                .cals
                .store
                .staff_object(&ctx.viewer.login, name)
                .await?
                .ok_or(DavError::NotFound)?;
            staff_node(ctx, path.clone(), object, with_entry).await?
        }
        Path::Object(collection, name) if matches!(**collection, Path::Inbox(_)) => ctx
            .cals
            .store
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
async fn calendar_of(ctx: &Ctx<'_>, path: &Path) -> Result<RoomCalendar, DavError> {
    let found = match path {
        Path::UserCalendar(_, room) => ctx.cals.followed_room(&ctx.user_id, room).await?,
        Path::RoomCalendar(room) => ctx.cals.room(room).await?,
        _ => None,
    };
    found.ok_or(DavError::NotFound)
}

/// Whether answering needs the bookings themselves, not only their change numbers.
fn needs_entries(request: &PropRequest) -> bool {
    match request {
        PropRequest::PropName => false,
        PropRequest::AllProp { include: names } | PropRequest::Prop(names) => names
            .iter()
            .any(|n| *n == PropName::CALENDAR_DATA || *n == PropName::GETLASTMODIFIED),
    }
}

/// The members of a collection, for Depth: 1.
async fn children(ctx: &Ctx<'_>, node: &Node, with_entries: bool) -> Result<Vec<Node>, DavError> {
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
            for o in ctx.cals.store.staff_objects(login).await? {
                let path = Path::Object(Box::new(Path::Meetings(login.clone())), o.name.clone());
                objects.push(staff_node(ctx, path, o, with_entries).await?);
            }
            objects
        }
        Node::Inbox(login) => ctx
            .cals
            .store
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
                    change_seq: ctx.cals.store.staff_change_seq(login).await?,
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
            let room = &cal.room.room.id;
            if with_entries {
                ctx.cals
                    .store
                    .calendar_entries(room, None)
                    .await?
                    .into_iter()
                    .map(|e| object_node(path, cal, e))
                    .collect()
            } else {
                ctx.cals
                    .store
                    .calendar_index(room)
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
async fn staff_node(
    ctx: &Ctx<'_>,
    path: Path,
    object: crate::store::StaffObject,
    with_data: bool,
) -> Result<Node, DavError> {
    let data = if with_data {
        Some(schedule::render(ctx.cals, &ctx.viewer.login, &object).await?)
    } else {
        None
    };
    Ok(Node::StaffObject {
        path,
        etag: schedule::etag(object.change_seq),
        data,
    })
}

fn inbox_node(path: Path, item: crate::store::InboxItem) -> Node {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(item.body.as_bytes());
    let tag: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    Node::StaffObject {
        path,
        etag: format!("\"i{tag}\""),
        data: Some(item.body),
    }
}

fn object_node(calendar: &Path, cal: &RoomCalendar, entry: CalendarEntry) -> Node {
    Node::Object {
        path: Path::Object(Box::new(calendar.clone()), entry.booking.id.clone()),
        cal: cal.clone(),
        id: entry.booking.id.clone(),
        change_seq: entry.change_seq,
        entry: Some(Box::new(entry)),
    }
}

/// The calendar data of an object, as the request's `calendar-data` asks (RFC 4791 §9.6).
fn render(node: &Node, data: &CalendarData) -> Option<String> {
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

fn empty_calendar() -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:{}\r\nEND:VCALENDAR\r\n",
        ical::PRODID
    )
}

/// One multistatus response for a node.
fn respond(
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
fn split(
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

fn multistatus(responses: &[xml::Response], sync_token: Option<&str>) -> Response {
    let body = xml::multistatus(responses, sync_token);
    let mut response = (StatusCode::MULTI_STATUS, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    response
}

async fn propfind(
    ctx: &Ctx<'_>,
    node: Node,
    target_href: &str,
    depth: u8,
    request: &PropRequest,
) -> Result<Response, DavError> {
    let data = CalendarData::Full;
    let mut responses = vec![respond(
        &node,
        target_href.to_owned(),
        request,
        &ctx.viewer,
        &data,
    )];
    if depth == 1 {
        for child in children(ctx, &node, needs_entries(request)).await? {
            let href = child.href();
            responses.push(respond(&child, href, request, &ctx.viewer, &data));
        }
    }
    Ok(multistatus(&responses, None))
}

fn calendar_parts(node: &Node) -> Option<(&Path, &RoomCalendar, i64)> {
    match node {
        Node::Calendar {
            path,
            cal,
            change_seq,
        } => Some((path, cal, *change_seq)),
        _ => None,
    }
}

fn not_a_calendar(report: &str) -> DavError {
    DavError::Precondition(xml::error(
        &PropName::SUPPORTED_REPORT,
        Some(&format!("{report} applies to a calendar collection")),
    ))
}

const EARLIEST: i64 = -62_135_596_800; // 0001-01-01T00:00:00Z
const LATEST: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z

fn instant(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

/// What a calendar-query filter asks of VEVENTs (RFC 4791 §9.7): `None` when it can match
/// nothing here (another component, or is-not-defined), else the time range, if any.
/// A time window, UTC.
type Window = (DateTime<Utc>, DateTime<Utc>);

/// What a calendar-query asks of the VEVENTs: a time window and text tests on UID or
/// SUMMARY (the ones clients use to find an event).
#[derive(Default)]
struct EventFilter {
    window: Option<Window>,
    texts: Vec<(String, xml::TextMatch)>,
}

impl EventFilter {
    /// RFC 4791 §9.7.5: a substring test, ASCII case-insensitive unless `i;octet`.
    fn matches(&self, booking: &crate::store::BookingRecord) -> bool {
        self.texts.iter().all(|(prop, m)| {
            let value = match prop.as_str() {
                "UID" => ical::uid(&booking.id),
                _ => booking.purpose.clone(),
            };
            let found = match m.collation {
                xml::Collation::Octet => value.contains(&m.text),
                xml::Collation::AsciiCasemap => value
                    .to_ascii_lowercase()
                    .contains(&m.text.to_ascii_lowercase()),
            };
            found != m.negate
        })
    }
}

/// What a calendar-query filter asks of VEVENTs (RFC 4791 §9.7): `None` when it can match
/// nothing here (another component, or is-not-defined).
fn event_filter(filter: &CompFilter) -> Result<Option<EventFilter>, DavError> {
    let unsupported =
        |what: &str| DavError::Precondition(xml::error(&PropName::SUPPORTED_FILTER, Some(what)));
    if !filter.name.eq_ignore_ascii_case("VCALENDAR") {
        return Err(DavError::Precondition(xml::error(
            &PropName::VALID_FILTER,
            Some("the outer comp-filter must be VCALENDAR"),
        )));
    }
    if filter.is_not_defined {
        return Ok(None);
    }
    // Room calendars hold only VEVENTs: a query for anything else (VTODO, VJOURNAL) is
    // answered with nothing, whatever else it asks.
    if filter
        .comps
        .iter()
        .any(|c| !c.name.eq_ignore_ascii_case("VEVENT") || c.is_not_defined)
    {
        return Ok(None);
    }
    if !filter.prop_filters.is_empty() {
        return Err(unsupported("prop-filter on VCALENDAR is not supported"));
    }
    let mut wanted = EventFilter::default();
    for comp in &filter.comps {
        if !comp.comps.is_empty() {
            return Err(unsupported("comp-filter inside VEVENT is not supported"));
        }
        for p in &comp.prop_filters {
            let name = p.name.to_ascii_uppercase();
            let supported = (name == "UID" || name == "SUMMARY")
                && p.time_range.is_none()
                && p.param_filters.is_empty();
            match (&p.text_match, p.is_not_defined) {
                // Every event has a UID and a SUMMARY.
                (None, true) if supported => return Ok(None),
                (None, false) if supported => {}
                (Some(m), false) if supported => wanted.texts.push((name, m.clone())),
                _ => {
                    return Err(unsupported(
                        "only text-match on UID or SUMMARY is supported in a prop-filter",
                    ));
                }
            }
        }
        if let Some(range) = &comp.time_range {
            wanted.window = Some((
                range.start.unwrap_or_else(|| instant(EARLIEST)),
                range.end.unwrap_or_else(|| instant(LATEST)),
            ));
        }
    }
    Ok(Some(wanted))
}

async fn report(ctx: &Ctx<'_>, node: Node, report: Report) -> Result<Response, DavError> {
    if let Node::Meetings { login, change_seq } = &node {
        return staff_report(ctx, login, *change_seq, report).await;
    }
    match report {
        Report::CalendarQuery {
            props,
            data,
            filter,
            limit,
        } => {
            let wanted = event_filter(&filter)?;
            let window = wanted.as_ref().map(|w| w.window);
            let (entries, path, cal) = match &node {
                Node::Calendar { path, cal, .. } => {
                    let room = &cal.room.room.id;
                    let entries = match window {
                        None => Vec::new(),
                        Some(None) => ctx.cals.store.calendar_entries(room, None).await?,
                        Some(Some((from, to))) => {
                            ctx.cals
                                .store
                                .calendar_entries_between(room, from, to)
                                .await?
                        }
                    };
                    (entries, path.clone(), cal.clone())
                }
                Node::Object { path, cal, id, .. } => {
                    let Path::Object(calendar, _) = path else {
                        return Err(DavError::NotFound);
                    };
                    let room = &cal.room.room.id;
                    let entries = match window {
                        None => Vec::new(),
                        Some(None) => ctx.cals.entry(cal, id).await?.into_iter().collect(),
                        Some(Some((from, to))) => ctx
                            .cals
                            .store
                            .calendar_entries_between(room, from, to)
                            .await?
                            .into_iter()
                            .filter(|e| e.booking.id == *id)
                            .collect(),
                    };
                    ((entries), (**calendar).clone(), cal.clone())
                }
                _ => return Err(not_a_calendar("calendar-query")),
            };
            let mut responses: Vec<xml::Response> = entries
                .into_iter()
                .filter(|e| wanted.as_ref().is_some_and(|w| w.matches(&e.booking)))
                .map(|e| {
                    let n = object_node(&path, &cal, e);
                    respond(&n, n.href(), &props, &ctx.viewer, &data)
                })
                .collect();
            if let Some(limit) = limit.map(|l| l as usize)
                && responses.len() > limit
            {
                // RFC 5323 §5.17 via RFC 4791 §7.8: the truncated set, and 507 on the target.
                responses.truncate(limit);
                responses.push(xml::Response {
                    href: node.href(),
                    body: ResponseBody::Status(507),
                });
            }
            Ok(multistatus(&responses, None))
        }
        Report::Multiget { props, data, hrefs } => {
            let Some((path, cal, _)) = calendar_parts(&node) else {
                return Err(not_a_calendar("calendar-multiget"));
            };
            // Each href must name an object of this calendar (RFC 4791 §7.9).
            let mut wanted: Vec<(String, Option<String>)> = Vec::new();
            for href in hrefs {
                let id = xml::decode_href(&href)
                    .and_then(|p| Path::parse(&p))
                    .and_then(|p| match p {
                        Path::Object(calendar, id) if *calendar == *path => Some(id),
                        _ => None,
                    });
                wanted.push((href, id));
            }
            let ids: Vec<String> = wanted.iter().filter_map(|(_, id)| id.clone()).collect();
            let mut found: std::collections::HashMap<String, CalendarEntry> = ctx
                .cals
                .store
                .calendar_entries(&cal.room.room.id, Some(&ids))
                .await?
                .into_iter()
                .map(|e| (e.booking.id.clone(), e))
                .collect();
            let mut responses = Vec::new();
            for (href, id) in wanted {
                match id.and_then(|id| found.remove(&id)) {
                    Some(entry) => {
                        let n = object_node(path, cal, entry);
                        responses.push(respond(&n, n.href(), &props, &ctx.viewer, &data));
                    }
                    None => responses.push(xml::Response {
                        href: xml::decode_href(&href).unwrap_or(href),
                        body: ResponseBody::Status(404),
                    }),
                }
            }
            Ok(multistatus(&responses, None))
        }
        Report::SyncCollection {
            token,
            level: _level @ (SyncLevel::One | SyncLevel::Infinite),
            limit,
            props,
            data,
        } => {
            let Some((path, cal, current)) = calendar_parts(&node) else {
                return Err(not_a_calendar("sync-collection"));
            };
            sync_collection(ctx, path, cal, current, token, limit, &props, &data).await
        }
        Report::FreeBusyQuery { range } => {
            let Some((_, cal, _)) = calendar_parts(&node) else {
                return Err(not_a_calendar("free-busy-query"));
            };
            let (Some(from), Some(to)) = (range.start, range.end) else {
                return Err(DavError::BadRequest(
                    "free-busy-query needs a time-range with start and end".into(),
                ));
            };
            let periods = ctx.cals.busy_periods(cal, from, to).await?;
            let body = ical::freebusy(&periods, from, to, ctx.cals.now());
            let mut response = (StatusCode::OK, body).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/calendar; charset=utf-8"),
            );
            Ok(response)
        }
    }
}

/// RFC 6578: the members changed since `token` (all members without one), the removed ones as
/// 404, and a new token. With a limit, the oldest changes first and a token that resumes
/// after them (§3.6, with 507 on the collection).
#[allow(clippy::too_many_arguments)]
async fn sync_collection(
    ctx: &Ctx<'_>,
    path: &Path,
    cal: &RoomCalendar,
    current: i64,
    token: Option<String>,
    limit: Option<u32>,
    props: &PropRequest,
    data: &CalendarData,
) -> Result<Response, DavError> {
    let room = &cal.room.room.id;
    let invalid = || {
        DavError::Precondition(xml::error(
            &PropName::VALID_SYNC_TOKEN,
            Some("this sync token is not one of this calendar's; sync again without a token"),
        ))
    };
    let mut changes: Vec<(String, i64, bool)> = match token.as_deref().map(str::trim) {
        None | Some("") => {
            let mut all: Vec<(String, i64, bool)> = ctx
                .cals
                .store
                .calendar_index(room)
                .await?
                .into_iter()
                .map(|(id, seq)| (id, seq, true))
                .collect();
            all.sort_by_key(|c| c.1);
            all
        }
        Some(t) => {
            let since = cal.parse_sync_token(t).ok_or_else(invalid)?;
            if since > current {
                return Err(invalid());
            }
            ctx.cals
                .store
                .calendar_changes(room, since)
                .await?
                .into_iter()
                .map(|c| (c.id, c.change_seq, c.visible))
                .collect()
        }
    };
    let mut new_token = current;
    let mut truncated = false;
    if let Some(limit) = limit.map(|l| l as usize)
        && changes.len() > limit
    {
        // Never cut between two changes with the same number: the next sync resumes after
        // the number, and would skip the rest of them.
        let mut cut = limit;
        while cut > 0 && changes[cut - 1].1 == changes[cut].1 {
            cut -= 1;
        }
        if cut == 0 {
            let tied = changes[0].1;
            cut = changes.iter().take_while(|c| c.1 == tied).count();
        }
        if cut < changes.len() {
            changes.truncate(cut);
            new_token = changes.last().map(|c| c.1).unwrap_or(current);
            truncated = true;
        }
    }
    let visible: Vec<String> = changes
        .iter()
        .filter(|c| c.2)
        .map(|c| c.0.clone())
        .collect();
    let mut entries: std::collections::HashMap<String, CalendarEntry> =
        if needs_entries(props) && !visible.is_empty() {
            ctx.cals
                .store
                .calendar_entries(room, Some(&visible))
                .await?
                .into_iter()
                .map(|e| (e.booking.id.clone(), e))
                .collect()
        } else {
            std::collections::HashMap::new()
        };
    let mut responses = Vec::new();
    for (id, change_seq, is_visible) in changes {
        let object = Path::Object(Box::new(path.clone()), id.clone());
        if is_visible {
            let entry = entries.remove(&id).map(Box::new);
            let n = Node::Object {
                path: object,
                cal: cal.clone(),
                id,
                change_seq: entry.as_ref().map(|e| e.change_seq).unwrap_or(change_seq),
                entry,
            };
            responses.push(respond(&n, n.href(), props, &ctx.viewer, data));
        } else {
            responses.push(xml::Response {
                href: object.href(),
                body: ResponseBody::Status(404),
            });
        }
    }
    if truncated {
        responses.push(xml::Response {
            href: path.href(),
            body: ResponseBody::Status(507),
        });
    }
    Ok(multistatus(&responses, Some(&cal.sync_token(new_token))))
}

/// REPORTs on a staff member's own calendar: calendar-query (by time range and UID/SUMMARY
/// text), calendar-multiget, and sync-collection with deletions as 404 (RFC 6578 §3.5).
async fn staff_report(
    ctx: &Ctx<'_>,
    login: &str,
    current: i64,
    report: Report,
) -> Result<Response, DavError> {
    let collection = Path::Meetings(login.to_owned());
    let object_path = |name: &str| Path::Object(Box::new(collection.clone()), name.to_owned());
    match report {
        Report::CalendarQuery {
            props,
            data: _,
            filter,
            limit,
        } => {
            let Some(wanted) = event_filter(&filter)? else {
                return Ok(multistatus(&[], None));
            };
            let mut responses = Vec::new();
            for o in ctx.cals.store.staff_objects(login).await? {
                if !staff_matches(&o, &wanted) {
                    continue;
                }
                let n = staff_node(ctx, object_path(&o.name), o, needs_entries(&props)).await?;
                responses.push(respond(
                    &n,
                    n.href(),
                    &props,
                    &ctx.viewer,
                    &CalendarData::Full,
                ));
            }
            if let Some(limit) = limit.map(|l| l as usize)
                && responses.len() > limit
            {
                responses.truncate(limit);
                responses.push(xml::Response {
                    href: collection.href(),
                    body: ResponseBody::Status(507),
                });
            }
            Ok(multistatus(&responses, None))
        }
        Report::Multiget { props, hrefs, .. } => {
            let mut responses = Vec::new();
            for href in hrefs {
                let name = xml::decode_href(&href)
                    .and_then(|p| Path::parse(&p))
                    .and_then(|p| match p {
                        Path::Object(c, name) if *c == collection => Some(name),
                        _ => None,
                    });
                let found = match &name {
                    Some(name) => ctx.cals.store.staff_object(login, name).await?,
                    None => None,
                };
                match (name, found) {
                    (Some(name), Some(o)) => {
                        let n =
                            staff_node(ctx, object_path(&name), o, needs_entries(&props)).await?;
                        responses.push(respond(
                            &n,
                            n.href(),
                            &props,
                            &ctx.viewer,
                            &CalendarData::Full,
                        ));
                    }
                    _ => responses.push(xml::Response {
                        href: xml::decode_href(&href).unwrap_or(href),
                        body: ResponseBody::Status(404),
                    }),
                }
            }
            Ok(multistatus(&responses, None))
        }
        Report::SyncCollection {
            token,
            limit,
            props,
            ..
        } => {
            let since = match token.as_deref().map(str::trim) {
                None | Some("") => 0,
                Some(t) => schedule::parse_sync_token(login, t)
                    .filter(|s| *s <= current)
                    .ok_or_else(|| {
                        DavError::Precondition(xml::error(
                            &PropName::VALID_SYNC_TOKEN,
                            Some("this sync token is not one of this calendar's; sync again without a token"),
                        ))
                    })?,
            };
            let mut changes = ctx.cals.store.staff_changes(login, since).await?;
            if since == 0 {
                // A first sync lists what is there, not what was deleted.
                changes.retain(|c| c.live);
            }
            let mut new_token = current;
            let mut truncated = false;
            if let Some(limit) = limit.map(|l| l as usize)
                && changes.len() > limit
            {
                // Every change has its own number, so the cut can fall anywhere.
                changes.truncate(limit.max(1));
                new_token = changes.last().map(|c| c.change_seq).unwrap_or(current);
                truncated = true;
            }
            let mut responses = Vec::new();
            for c in changes {
                let path = object_path(&c.name);
                let object = if c.live {
                    ctx.cals.store.staff_object(login, &c.name).await?
                } else {
                    None
                };
                match object {
                    Some(o) => {
                        let n = staff_node(ctx, path, o, needs_entries(&props)).await?;
                        responses.push(respond(
                            &n,
                            n.href(),
                            &props,
                            &ctx.viewer,
                            &CalendarData::Full,
                        ));
                    }
                    None => responses.push(xml::Response {
                        href: path.href(),
                        body: ResponseBody::Status(404),
                    }),
                }
            }
            if truncated {
                responses.push(xml::Response {
                    href: collection.href(),
                    body: ResponseBody::Status(507),
                });
            }
            Ok(multistatus(
                &responses,
                Some(&schedule::sync_token(login, new_token)),
            ))
        }
        Report::FreeBusyQuery { .. } => Err(not_a_calendar("free-busy-query")),
    }
}

/// Whether a staff object passes a calendar-query's tests: UID/SUMMARY text, and a time
/// range against its first occurrence (a recurring event matches any window after its start,
/// a conservative answer: clients filter expanded occurrences themselves).
fn staff_matches(o: &crate::store::StaffObject, wanted: &EventFilter) -> bool {
    let Ok(root) = crate::ical::parse(&o.body) else {
        return false;
    };
    let Some(master) = root
        .children
        .iter()
        .find(|c| c.name == "VEVENT" && c.prop("RECURRENCE-ID").is_none())
        .or_else(|| root.children.iter().find(|c| c.name == "VEVENT"))
    else {
        return false;
    };
    let texts_ok = wanted.texts.iter().all(|(prop, m)| {
        let value = master.value(prop).unwrap_or_default();
        let found = match m.collation {
            xml::Collation::Octet => value.contains(&m.text),
            xml::Collation::AsciiCasemap => value
                .to_ascii_lowercase()
                .contains(&m.text.to_ascii_lowercase()),
        };
        found != m.negate
    });
    if !texts_ok {
        return false;
    }
    let Some((from, to)) = wanted.window else {
        return true;
    };
    let Ok(times) = crate::ical::event_times(master) else {
        // Floating or unknown zones: let the client decide.
        return true;
    };
    let instant = |w: crate::ical::When| match w {
        crate::ical::When::At(t) => t,
        crate::ical::When::Day(d) => d.and_time(chrono::NaiveTime::MIN).and_utc(),
    };
    let (start, end) = (instant(times.start), instant(times.end));
    let recurring = root.children.iter().any(|c| {
        c.prop("RRULE").is_some() || c.prop("RDATE").is_some() || c.prop("RECURRENCE-ID").is_some()
    });
    if recurring {
        return start < to;
    }
    // RFC 4791 §9.9: a zero-length event matches at its instant.
    start < to && (end > from || (end == start && start >= from))
}

async fn get(
    ctx: &Ctx<'_>,
    node: Node,
    headers: &HeaderMap,
    head: bool,
) -> Result<Response, DavError> {
    let (body, etag, modified) = match &node {
        Node::Object {
            cal,
            change_seq,
            entry: Some(entry),
            ..
        } => (
            render(&node, &CalendarData::Full).ok_or(DavError::NotFound)?,
            cal.etag(*change_seq),
            Some(entry.booking.updated_at),
        ),
        Node::Calendar {
            cal, change_seq, ..
        } => {
            // The whole calendar as one iCalendar file, for apps that GET a collection.
            let bookings = ctx.cals.bookings(cal).await?;
            // Stamped with the last change, not the clock: the same ETag, the same bytes.
            let stamp = ctx
                .cals
                .store
                .room_last_change(&cal.room.room.id)
                .await?
                .unwrap_or(cal.room.synced_at);
            let body = ical::feed(&bookings, &cal.info(), &cal.staff_detail(), stamp);
            (body, format!("\"{}\"", cal.ctag(*change_seq)), Some(stamp))
        }
        Node::StaffObject {
            etag,
            data: Some(data),
            ..
        } => (data.clone(), etag.clone(), None),
        Node::Root => {
            let text = "Lokal CalDAV: add this server's address to your calendar app and log in with your directory account.\n";
            return Ok((StatusCode::OK, text).into_response());
        }
        _ => return Err(DavError::MethodNotAllowed("OPTIONS, PROPFIND, REPORT")),
    };
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else if head {
        let mut r = StatusCode::OK.into_response();
        if let Ok(v) = HeaderValue::from_str(&body.len().to_string()) {
            r.headers_mut().insert(header::CONTENT_LENGTH, v);
        }
        r
    } else {
        (StatusCode::OK, body).into_response()
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if let Some(m) = modified
        && let Ok(v) = HeaderValue::from_str(&m.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
    {
        h.insert(header::LAST_MODIFIED, v);
    }
    if !not_modified {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/calendar; charset=utf-8"),
        );
    }
    Ok(response)
}

/// 403 for a write, naming the privilege the viewer lacks (RFC 3744 §7.1.1): creating or
/// removing members needs bind/unbind on the collection, changing content write-content,
/// changing properties write-properties.
async fn refuse_write(ctx: &Ctx<'_>, path: &Path, method: &str) -> DavError {
    let parent = match path {
        Path::Object(calendar, _) => calendar.href(),
        other => other.href(),
    };
    let exists = match path {
        Path::Object(..) => resolve(ctx, path, false).await.is_ok(),
        _ => true,
    };
    let (href, privilege) = match method {
        "MKCALENDAR" | "MKCOL" => (path.href(), PropName::BIND),
        "DELETE" | "MOVE" => (parent, PropName::UNBIND),
        "PUT" if exists => (path.href(), PropName::WRITE_CONTENT),
        "PUT" | "COPY" | "POST" => (parent, PropName::BIND),
        "PROPPATCH" => (path.href(), PropName::WRITE_PROPERTIES),
        _ => (path.href(), PropName::WRITE),
    };
    DavError::Precondition(xml::need_privileges(&href, &privilege))
}
