//! OPTIONS (RFC 4918 §10.1, RFC 4791 §5.1, RFC 6638 §2): the compliance classes and the
//! methods; answered without a login.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The answer to OPTIONS anywhere.
pub(in crate::caldav) fn options() -> Response {
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
