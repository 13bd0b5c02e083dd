//! Multistatus answers (RFC 4918 §13, §9.1): one response per node with its found
//! properties in a 200 propstat and the others in a 404 one, calendar data rendered as the
//! request's `calendar-data` asks (RFC 4791 §9.6), and the 207 with its optional sync token
//! (RFC 6578 §3.2).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

use super::resource::{Node, Viewer};
use super::xml::{self, CalendarData, PropName, PropRequest, PropStat, PropValue, ResponseBody};
use crate::calendar::ical;

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
