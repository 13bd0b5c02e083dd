//! REPORT (RFC 3253 §3.6) on calendar collections: calendar-query (RFC 4791 §7.8),
//! calendar-multiget (§7.9), sync-collection (RFC 6578 §3.2) and, on room calendars,
//! free-busy-query (RFC 4791 §7.10).
//!
//! Room calendars and staff calendars ("Lokal: møter") both implement [`Collection`], so each
//! REPORT is written once, over it:
//! - a `limit` (RFC 5323 §5.17 via RFC 4791 §7.8, RFC 6578 §3.6) answers the truncated set and
//!   507 on the target;
//! - sync-collection lists changes oldest first; a truncation never cuts between two changes
//!   with the same number (the next sync resumes after the number) and its token resumes
//!   after the last change listed; removed members are 404 (§3.5);
//! - a multiget href that is not a member of the collection is 404 (RFC 4791 §7.9).

use std::collections::HashMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeZone as _, Utc};

use crate::caldav::dav::Ctx;
use crate::caldav::error::{DavError, Precondition};
use crate::caldav::multistatus::{multistatus, respond};
use crate::caldav::resource::{Node, Path, Viewer};
use crate::caldav::tree::{needs_entries, object_node, resolve, staff_node};
use crate::caldav::xml::{
    self, CalendarData, CompFilter, PropRequest, Report, ResponseBody, SyncLevel,
};
use crate::calendar::{BookingRecord, RoomCalendar, StaffObject, ical, schedule};

/// One change of a collection's member (RFC 6578 §3): its name, its change number, and
/// whether it is still there.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Change {
    name: String,
    seq: i64,
    live: bool,
}

/// A calendar collection as the REPORTs see it. Members are `Path::Object(path, name)`.
trait Collection {
    /// The collection's path.
    fn path(&self) -> &Path;
    /// The href a truncated calendar-query names with 507: the REPORT's target.
    fn target_href(&self) -> String {
        self.path().href()
    }
    /// The collection's current change number.
    fn current(&self) -> i64;
    /// The sync token for change number `seq`.
    fn sync_token(&self, seq: i64) -> String;
    /// The change number in one of this collection's sync tokens; `None` for anything else.
    fn parse_sync_token(&self, token: &str) -> Option<i64>;
    /// The members a calendar-query's VEVENT tests match, with their data when `with_data`.
    async fn query(&self, filter: &EventFilter, with_data: bool) -> Result<Vec<Node>, DavError>;
    /// Every live member, oldest change first: a sync without a token.
    async fn initial(&self) -> Result<Vec<Change>, DavError>;
    /// The changes after change number `since`, removed members included, oldest first.
    async fn changes(&self, since: i64) -> Result<Vec<Change>, DavError>;
    /// The members named in `wanted`, by name, with their data when `with_data`. When
    /// `must_exist`, only those that exist now; otherwise a member may be answered from its
    /// change alone.
    async fn members(
        &self,
        wanted: &[Change],
        with_data: bool,
        must_exist: bool,
    ) -> Result<HashMap<String, Node>, DavError>;
}

/// REPORT on `path`.
pub(in crate::caldav) async fn report(
    ctx: &Ctx<'_>,
    path: &Path,
    body: &[u8],
) -> Result<Response, DavError> {
    let report = xml::parse_report(body)?;
    let node = resolve(ctx, path, false).await?;
    // A calendar-query's filter is checked before its target.
    let wanted = match &report {
        Report::CalendarQuery { filter, .. } => event_filter(filter)?,
        _ => None,
    };
    let name = report_name(&report);
    match node {
        Node::Meetings { login, change_seq } => {
            if matches!(report, Report::FreeBusyQuery { .. }) {
                return Err(not_a_calendar(name));
            }
            let staff = StaffCollection {
                ctx,
                path: Path::Meetings(login.clone()),
                login,
                current: change_seq,
            };
            run(&staff, &ctx.viewer, report, wanted).await
        }
        Node::Calendar {
            path,
            cal,
            change_seq,
        } => {
            if let Report::FreeBusyQuery { range } = &report {
                return free_busy(ctx, &cal, range).await;
            }
            let room = RoomCollection {
                ctx,
                target: path.href(),
                path,
                cal,
                current: change_seq,
                only: None,
            };
            run(&room, &ctx.viewer, report, wanted).await
        }
        // A calendar-query on one object (RFC 4791 §7.8: the target may be a resource).
        Node::Object { path, cal, id, .. } if matches!(report, Report::CalendarQuery { .. }) => {
            let Path::Object(calendar, _) = &path else {
                return Err(DavError::NotFound);
            };
            let room = RoomCollection {
                ctx,
                target: path.href(),
                path: (**calendar).clone(),
                cal,
                current: 0,
                only: Some(id),
            };
            run(&room, &ctx.viewer, report, wanted).await
        }
        _ => Err(not_a_calendar(name)),
    }
}

fn report_name(report: &Report) -> &'static str {
    match report {
        Report::CalendarQuery { .. } => "calendar-query",
        Report::Multiget { .. } => "calendar-multiget",
        Report::SyncCollection { .. } => "sync-collection",
        Report::FreeBusyQuery { .. } => "free-busy-query",
    }
}

/// A REPORT on a collection: the multistatus responses and the sync token, if any.
async fn run<C: Collection>(
    c: &C,
    viewer: &Viewer,
    report: Report,
    wanted: Option<EventFilter>,
) -> Result<Response, DavError> {
    let (responses, token) = match report {
        Report::CalendarQuery {
            props, data, limit, ..
        } => (
            calendar_query(c, viewer, &props, &data, wanted.as_ref(), limit).await?,
            None,
        ),
        Report::Multiget { props, data, hrefs } => {
            (multiget(c, viewer, &props, &data, hrefs).await?, None)
        }
        Report::SyncCollection {
            token,
            level: _level @ (SyncLevel::One | SyncLevel::Infinite),
            limit,
            props,
            data,
        } => {
            let (responses, token) =
                sync_collection(c, viewer, token.as_deref(), limit, &props, &data).await?;
            (responses, Some(token))
        }
        Report::FreeBusyQuery { .. } => return Err(not_a_calendar("free-busy-query")),
    };
    Ok(multistatus(&responses, token.as_deref()))
}

/// The 507 that ends a truncated answer (RFC 5323 §5.17, RFC 6578 §3.6).
fn insufficient_storage(href: String) -> xml::Response {
    xml::Response {
        href,
        body: ResponseBody::Status(507),
    }
}

fn not_found(href: String) -> xml::Response {
    xml::Response {
        href,
        body: ResponseBody::Status(404),
    }
}

/// calendar-query (RFC 4791 §7.8); `wanted` is `None` when the filter can match nothing.
async fn calendar_query<C: Collection>(
    c: &C,
    viewer: &Viewer,
    props: &PropRequest,
    data: &CalendarData,
    wanted: Option<&EventFilter>,
    limit: Option<u32>,
) -> Result<Vec<xml::Response>, DavError> {
    let Some(wanted) = wanted else {
        return Ok(Vec::new());
    };
    let mut responses: Vec<xml::Response> = c
        .query(wanted, needs_entries(props))
        .await?
        .iter()
        .map(|n| respond(n, n.href(), props, viewer, data))
        .collect();
    if let Some(limit) = limit.map(|l| l as usize)
        && responses.len() > limit
    {
        responses.truncate(limit);
        responses.push(insufficient_storage(c.target_href()));
    }
    Ok(responses)
}

/// calendar-multiget (RFC 4791 §7.9): each href that names a member, in the order asked; any
/// other href is 404. An href asked again is answered once (a multistatus names each href in
/// one response, RFC 4918 §13), so repeating one big member cannot multiply the answer.
async fn multiget<C: Collection>(
    c: &C,
    viewer: &Viewer,
    props: &PropRequest,
    data: &CalendarData,
    hrefs: Vec<String>,
) -> Result<Vec<xml::Response>, DavError> {
    let mut asked: Vec<(String, Option<String>)> = Vec::new();
    // Repeats are recognised after resolving (`a.ics`, `a.ics?1` and `http://host/…/a.ics`
    // name one member), and by their text when they resolve to nothing.
    let mut seen = std::collections::HashSet::new();
    for href in hrefs {
        let name = xml::decode_href(&href)
            .and_then(|p| Path::parse(&p))
            .and_then(|p| match p {
                Path::Object(collection, name) if *collection == *c.path() => Some(name),
                _ => None,
            });
        let key = match &name {
            Some(n) => (true, n.clone()),
            None => (false, href.clone()),
        };
        if !seen.insert(key) {
            continue;
        }
        asked.push((href, name));
    }
    let wanted: Vec<Change> = asked
        .iter()
        .filter_map(|(_, name)| name.clone())
        .map(|name| Change {
            name,
            seq: 0,
            live: true,
        })
        .collect();
    let found = if wanted.is_empty() {
        HashMap::new()
    } else {
        c.members(&wanted, needs_entries(props), true).await?
    };
    Ok(asked
        .into_iter()
        .map(|(href, name)| match name.and_then(|n| found.get(&n)) {
            Some(n) => respond(n, n.href(), props, viewer, data),
            None => not_found(xml::decode_href(&href).unwrap_or(href)),
        })
        .collect())
}

/// Cuts `changes` (oldest first) to at most `limit`, never between two changes with the same
/// number (the next sync resumes after the number, and would skip the rest of them), and at
/// least one number's changes. Returns the token's change number and whether it cut.
fn cut(changes: &mut Vec<Change>, limit: Option<u32>, current: i64) -> (i64, bool) {
    let Some(limit) = limit.map(|l| l as usize) else {
        return (current, false);
    };
    if changes.len() <= limit {
        return (current, false);
    }
    let mut at = limit;
    while at > 0 && changes[at - 1].seq == changes[at].seq {
        at -= 1;
    }
    if at == 0 {
        let tied = changes[0].seq;
        at = changes.iter().take_while(|c| c.seq == tied).count();
    }
    if at < changes.len() {
        changes.truncate(at);
        (changes.last().map(|c| c.seq).unwrap_or(current), true)
    } else {
        (current, false)
    }
}

/// sync-collection (RFC 6578 §3.2): the members changed since `token` (every member without
/// one), removed ones as 404, and the new token.
async fn sync_collection<C: Collection>(
    c: &C,
    viewer: &Viewer,
    token: Option<&str>,
    limit: Option<u32>,
    props: &PropRequest,
    data: &CalendarData,
) -> Result<(Vec<xml::Response>, String), DavError> {
    let current = c.current();
    let mut changes = match token.map(str::trim) {
        None | Some("") => c.initial().await?,
        Some(t) => {
            let since = c
                .parse_sync_token(t)
                .filter(|s| *s <= current)
                .ok_or_else(|| {
                    DavError::precondition(
                        Precondition::ValidSyncToken,
                        "this sync token is not one of this calendar's; sync again without a token"
                            .to_owned(),
                    )
                })?;
            c.changes(since).await?
        }
    };
    let (new_token, truncated) = cut(&mut changes, limit, current);
    let live: Vec<Change> = changes.iter().filter(|c| c.live).cloned().collect();
    let mut found = if live.is_empty() {
        HashMap::new()
    } else {
        c.members(&live, needs_entries(props), false).await?
    };
    let mut responses = Vec::with_capacity(changes.len() + 1);
    for change in changes {
        let member = change.live.then(|| found.remove(&change.name)).flatten();
        match member {
            Some(n) => responses.push(respond(&n, n.href(), props, viewer, data)),
            None => responses.push(not_found(
                Path::Object(Box::new(c.path().clone()), change.name).href(),
            )),
        }
    }
    if truncated {
        responses.push(insufficient_storage(c.path().href()));
    }
    Ok((responses, c.sync_token(new_token)))
}

/// free-busy-query (RFC 4791 §7.10) on a room calendar.
async fn free_busy(
    ctx: &Ctx<'_>,
    cal: &RoomCalendar,
    range: &xml::TimeRange,
) -> Result<Response, DavError> {
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

fn not_a_calendar(report: &str) -> DavError {
    DavError::precondition(
        Precondition::SupportedReport,
        format!("{report} applies to a calendar collection"),
    )
}

/// A room's calendar: its bookings, read through the calendar service.
struct RoomCollection<'a> {
    ctx: &'a Ctx<'a>,
    path: Path,
    target: String,
    cal: RoomCalendar,
    current: i64,
    /// A calendar-query on one object: only that booking.
    only: Option<String>,
}

impl Collection for RoomCollection<'_> {
    fn path(&self) -> &Path {
        &self.path
    }

    fn target_href(&self) -> String {
        self.target.clone()
    }

    fn current(&self) -> i64 {
        self.current
    }

    fn sync_token(&self, seq: i64) -> String {
        self.cal.sync_token(seq)
    }

    fn parse_sync_token(&self, token: &str) -> Option<i64> {
        self.cal.parse_sync_token(token)
    }

    async fn query(&self, filter: &EventFilter, _with_data: bool) -> Result<Vec<Node>, DavError> {
        // The bookings are read whole: the text tests need them.
        let cals = self.ctx.cals;
        let entries = match (&self.only, filter.window) {
            (None, None) => cals.entries(&self.cal, None).await?,
            (None, Some((from, to))) => cals.entries_between(&self.cal, from, to).await?,
            (Some(id), None) => cals.entry(&self.cal, id).await?.into_iter().collect(),
            (Some(id), Some((from, to))) => cals
                .entries_between(&self.cal, from, to)
                .await?
                .into_iter()
                .filter(|e| e.booking.id == *id)
                .collect(),
        };
        Ok(entries
            .into_iter()
            .filter(|e| filter.matches(&e.booking))
            .map(|e| object_node(&self.path, &self.cal, e))
            .collect())
    }

    async fn initial(&self) -> Result<Vec<Change>, DavError> {
        let mut all: Vec<Change> = self
            .ctx
            .cals
            .index(&self.cal)
            .await?
            .into_iter()
            .map(|(name, seq)| Change {
                name,
                seq,
                live: true,
            })
            .collect();
        all.sort_by_key(|c| c.seq);
        Ok(all)
    }

    async fn changes(&self, since: i64) -> Result<Vec<Change>, DavError> {
        Ok(self
            .ctx
            .cals
            .changes(&self.cal, since)
            .await?
            .into_iter()
            .map(|c| Change {
                name: c.id,
                seq: c.change_seq,
                live: c.visible,
            })
            .collect())
    }

    async fn members(
        &self,
        wanted: &[Change],
        with_data: bool,
        must_exist: bool,
    ) -> Result<HashMap<String, Node>, DavError> {
        let mut entries: HashMap<String, _> = if with_data || must_exist {
            let ids: Vec<String> = wanted.iter().map(|c| c.name.clone()).collect();
            self.ctx
                .cals
                .entries(&self.cal, Some(&ids))
                .await?
                .into_iter()
                .map(|e| (e.booking.id.clone(), e))
                .collect()
        } else {
            HashMap::new()
        };
        let mut nodes = HashMap::new();
        for change in wanted {
            let node = match entries.remove(&change.name) {
                Some(entry) => object_node(&self.path, &self.cal, entry),
                None if must_exist => continue,
                // Answered from the change: its number is the ETag's.
                None => Node::Object {
                    path: Path::Object(Box::new(self.path.clone()), change.name.clone()),
                    cal: self.cal.clone(),
                    id: change.name.clone(),
                    change_seq: change.seq,
                    entry: None,
                },
            };
            nodes.insert(change.name.clone(), node);
        }
        Ok(nodes)
    }
}

/// A staff member's own calendar ("Lokal: møter"): the objects they wrote, served with the
/// rooms' answers.
struct StaffCollection<'a> {
    ctx: &'a Ctx<'a>,
    path: Path,
    login: String,
    current: i64,
}

impl Collection for StaffCollection<'_> {
    fn path(&self) -> &Path {
        &self.path
    }

    fn current(&self) -> i64 {
        self.current
    }

    fn sync_token(&self, seq: i64) -> String {
        schedule::sync_token(&self.login, seq)
    }

    fn parse_sync_token(&self, token: &str) -> Option<i64> {
        schedule::parse_sync_token(&self.login, token)
    }

    async fn query(&self, filter: &EventFilter, with_data: bool) -> Result<Vec<Node>, DavError> {
        let mut nodes = Vec::new();
        for o in self.ctx.cals.staff_objects(&self.login).await? {
            if staff_matches(&o, filter) {
                let path = Path::Object(Box::new(self.path.clone()), o.name.clone());
                nodes.push(staff_node(self.ctx, path, o, with_data).await?);
            }
        }
        Ok(nodes)
    }

    async fn initial(&self) -> Result<Vec<Change>, DavError> {
        // A first sync lists what is there, not what was deleted.
        let mut all = self.changes(0).await?;
        all.retain(|c| c.live);
        Ok(all)
    }

    async fn changes(&self, since: i64) -> Result<Vec<Change>, DavError> {
        Ok(self
            .ctx
            .cals
            .staff_changes(&self.login, since)
            .await?
            .into_iter()
            .map(|c| Change {
                name: c.name,
                seq: c.change_seq,
                live: c.live,
            })
            .collect())
    }

    async fn members(
        &self,
        wanted: &[Change],
        with_data: bool,
        _must_exist: bool,
    ) -> Result<HashMap<String, Node>, DavError> {
        let mut nodes = HashMap::new();
        for change in wanted {
            if nodes.contains_key(&change.name) {
                continue;
            }
            if let Some(o) = self
                .ctx
                .cals
                .staff_object(&self.login, &change.name)
                .await?
            {
                let path = Path::Object(Box::new(self.path.clone()), change.name.clone());
                let node = staff_node(self.ctx, path, o, with_data).await?;
                nodes.insert(change.name.clone(), node);
            }
        }
        Ok(nodes)
    }
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
    fn matches(&self, booking: &BookingRecord) -> bool {
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
        |what: &str| DavError::precondition(Precondition::SupportedFilter, what.to_owned());
    if !filter.name.eq_ignore_ascii_case("VCALENDAR") {
        return Err(DavError::precondition(
            Precondition::ValidFilter,
            "the outer comp-filter must be VCALENDAR".to_owned(),
        ));
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

/// Whether a staff object passes a calendar-query's tests: UID/SUMMARY text, and a time
/// range against its first occurrence (a recurring event matches any window after its start,
/// a conservative answer: clients filter expanded occurrences themselves).
fn staff_matches(o: &StaffObject, wanted: &EventFilter) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A staff-like collection held in memory: `(name, change number, live)`.
    struct Fake {
        path: Path,
        changes: Vec<Change>,
    }

    fn change(name: &str, seq: i64, live: bool) -> Change {
        Change {
            name: name.to_owned(),
            seq,
            live,
        }
    }

    fn fake(changes: Vec<Change>) -> Fake {
        Fake {
            path: Path::Meetings("kari".into()),
            changes,
        }
    }

    impl Fake {
        fn node(&self, c: &Change) -> Node {
            Node::StaffObject {
                path: Path::Object(Box::new(self.path.clone()), c.name.clone()),
                etag: format!("\"s{}\"", c.seq),
                data: None,
            }
        }
    }

    impl Collection for Fake {
        fn path(&self) -> &Path {
            &self.path
        }
        fn current(&self) -> i64 {
            self.changes.iter().map(|c| c.seq).max().unwrap_or(0)
        }
        fn sync_token(&self, seq: i64) -> String {
            format!("t{seq}")
        }
        fn parse_sync_token(&self, token: &str) -> Option<i64> {
            token.strip_prefix('t')?.parse().ok()
        }
        async fn query(&self, _: &EventFilter, _: bool) -> Result<Vec<Node>, DavError> {
            Ok(self
                .changes
                .iter()
                .filter(|c| c.live)
                .map(|c| self.node(c))
                .collect())
        }
        async fn initial(&self) -> Result<Vec<Change>, DavError> {
            Ok(self.changes.iter().filter(|c| c.live).cloned().collect())
        }
        async fn changes(&self, since: i64) -> Result<Vec<Change>, DavError> {
            Ok(self
                .changes
                .iter()
                .filter(|c| c.seq > since)
                .cloned()
                .collect())
        }
        async fn members(
            &self,
            wanted: &[Change],
            _: bool,
            _: bool,
        ) -> Result<HashMap<String, Node>, DavError> {
            Ok(wanted
                .iter()
                .filter_map(|w| self.changes.iter().find(|c| c.name == w.name && c.live))
                .map(|c| (c.name.clone(), self.node(c)))
                .collect())
        }
    }

    fn viewer() -> Viewer {
        Viewer {
            login: "kari".into(),
        }
    }

    fn etag_only() -> PropRequest {
        PropRequest::Prop(vec![xml::PropName::GETETAG])
    }

    fn statuses(responses: &[xml::Response]) -> Vec<(String, Option<u16>)> {
        responses
            .iter()
            .map(|r| {
                let status = match &r.body {
                    ResponseBody::Status(s) => Some(*s),
                    _ => None,
                };
                (r.href.clone(), status)
            })
            .collect()
    }

    const HOME: &str = "/dav/calendars/users/kari/meetings/";

    #[test]
    fn a_cut_never_falls_between_two_changes_with_the_same_number() {
        let mut changes = vec![
            change("a", 1, true),
            change("b", 2, true),
            change("c", 2, true),
            change("d", 3, true),
        ];
        assert_eq!(cut(&mut changes, Some(2), 3), (1, true));
        assert_eq!(changes.len(), 1);
    }

    #[test]
    fn a_cut_keeps_at_least_the_first_number_whole() {
        let mut changes = vec![
            change("a", 1, true),
            change("b", 1, true),
            change("c", 2, true),
        ];
        assert_eq!(cut(&mut changes, Some(0), 2), (1, true));
        assert_eq!(changes.len(), 2);
        let mut all = vec![change("a", 1, true), change("b", 1, true)];
        assert_eq!(cut(&mut all, Some(1), 1), (1, false));
        assert_eq!(all.len(), 2);
    }

    #[test]
    fn no_limit_or_a_large_one_keeps_everything_and_the_current_token() {
        let mut changes = vec![change("a", 1, true), change("b", 2, false)];
        assert_eq!(cut(&mut changes, None, 5), (5, false));
        assert_eq!(cut(&mut changes, Some(2), 5), (5, false));
        assert_eq!(changes.len(), 2);
    }

    #[tokio::test]
    async fn a_truncated_sync_ends_with_507_and_a_token_that_resumes_after_it() {
        let c = fake(vec![
            change("a", 1, true),
            change("b", 2, false),
            change("c", 3, true),
        ]);
        let (responses, token) = sync_collection(
            &c,
            &viewer(),
            Some("t0"),
            Some(2),
            &etag_only(),
            &CalendarData::Full,
        )
        .await
        .unwrap();
        assert_eq!(
            statuses(&responses),
            [
                (format!("{HOME}a.ics"), None),
                (format!("{HOME}b.ics"), Some(404)),
                (HOME.to_owned(), Some(507)),
            ]
        );
        assert_eq!(token, "t2");
        let (responses, token) = sync_collection(
            &c,
            &viewer(),
            Some(&token),
            Some(2),
            &etag_only(),
            &CalendarData::Full,
        )
        .await
        .unwrap();
        assert_eq!(statuses(&responses), [(format!("{HOME}c.ics"), None)]);
        assert_eq!(token, "t3");
    }

    #[tokio::test]
    async fn a_first_sync_lists_the_live_members_and_a_foreign_token_is_refused() {
        let c = fake(vec![change("a", 1, true), change("b", 2, false)]);
        let (responses, token) = sync_collection(
            &c,
            &viewer(),
            Some(" "),
            None,
            &etag_only(),
            &CalendarData::Full,
        )
        .await
        .unwrap();
        assert_eq!(statuses(&responses), [(format!("{HOME}a.ics"), None)]);
        assert_eq!(token, "t2");
        for bad in ["x1", "t9"] {
            let e = sync_collection(
                &c,
                &viewer(),
                Some(bad),
                None,
                &etag_only(),
                &CalendarData::Full,
            )
            .await
            .unwrap_err();
            assert!(
                matches!(
                    e,
                    DavError::Precondition {
                        condition: Precondition::ValidSyncToken,
                        ..
                    }
                ),
                "{bad}: {e:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_multiget_answers_each_href_in_order_and_404_for_strangers() {
        let c = fake(vec![change("a", 1, true), change("gone", 2, false)]);
        let hrefs = vec![
            format!("{HOME}gone.ics"),
            "/dav/calendars/users/ola/meetings/a.ics".to_owned(),
            format!("{HOME}a.ics"),
            "not a path".to_owned(),
        ];
        let responses = multiget(&c, &viewer(), &etag_only(), &CalendarData::Full, hrefs)
            .await
            .unwrap();
        assert_eq!(
            statuses(&responses),
            [
                (format!("{HOME}gone.ics"), Some(404)),
                (
                    "/dav/calendars/users/ola/meetings/a.ics".to_owned(),
                    Some(404)
                ),
                (format!("{HOME}a.ics"), None),
                ("not a path".to_owned(), Some(404)),
            ]
        );
    }

    #[tokio::test]
    async fn an_href_asked_many_times_is_answered_once() {
        let c = fake(vec![change("a", 1, true)]);
        let mut hrefs = vec![format!("{HOME}a.ics"); 1000];
        hrefs.extend((0..1000).map(|i| format!("{HOME}a.ics?{i}")));
        hrefs.push(format!("http://elsewhere.example{HOME}a.ics"));
        let responses = multiget(&c, &viewer(), &etag_only(), &CalendarData::Full, hrefs)
            .await
            .unwrap();
        assert_eq!(statuses(&responses), [(format!("{HOME}a.ics"), None)]);
    }

    #[tokio::test]
    async fn a_query_over_its_limit_is_cut_with_507_on_the_target() {
        let c = fake(vec![
            change("a", 1, true),
            change("b", 2, true),
            change("c", 3, true),
        ]);
        let all = EventFilter::default();
        let responses = calendar_query(
            &c,
            &viewer(),
            &etag_only(),
            &CalendarData::Full,
            Some(&all),
            Some(2),
        )
        .await
        .unwrap();
        assert_eq!(
            statuses(&responses),
            [
                (format!("{HOME}a.ics"), None),
                (format!("{HOME}b.ics"), None),
                (HOME.to_owned(), Some(507)),
            ]
        );
        let none = calendar_query(&c, &viewer(), &etag_only(), &CalendarData::Full, None, None)
            .await
            .unwrap();
        assert!(none.is_empty());
    }
}
