//! PUT of an object into a staff member's own calendar (RFC 4791 §5.3.2): the calendar
//! service stores it and books the rooms it invites (RFC 6638 §3.2); this file maps the
//! answer to 201/204 with the ETag when the stored copy reads back as sent (§5.3.4), and a
//! refusal to its precondition.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::caldav::dav::{Ctx, conditions, organiser, own};
use crate::caldav::error::DavError;
use crate::caldav::resource::Path;

/// PUT of `body` at `path`, an object of the caller's own calendar.
pub(in crate::caldav) async fn put(
    ctx: &Ctx<'_>,
    path: &Path,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, DavError> {
    let Path::Object(_, name) = path else {
        return Err(DavError::NotFound);
    };
    own(ctx, path)?;
    let me = organiser(ctx, headers);
    let written = ctx
        .cals
        .put_staff_object(&me, name, body, &conditions(headers))
        .await?;
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
