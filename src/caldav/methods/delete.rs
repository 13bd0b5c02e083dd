//! DELETE in a staff member's own calendar (the calendar service cancels the bookings the
//! object made, RFC 6638 §3.2.2.3) and in their schedule inbox (RFC 6638 §4.2).

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::caldav::dav::{Ctx, conditions, organiser, own};
use crate::caldav::error::DavError;
use crate::caldav::resource::Path;

/// DELETE of an object of the caller's own calendar.
pub(in crate::caldav) async fn delete_staff_object(
    ctx: &Ctx<'_>,
    path: &Path,
    headers: &HeaderMap,
) -> Result<Response, DavError> {
    let Path::Object(_, name) = path else {
        return Err(DavError::NotFound);
    };
    own(ctx, path)?;
    let me = organiser(ctx, headers);
    ctx.cals
        .delete_staff_object(&me, name, &conditions(headers))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// DELETE of a message of the caller's schedule inbox.
pub(in crate::caldav) async fn delete_inbox_item(
    ctx: &Ctx<'_>,
    path: &Path,
) -> Result<Response, DavError> {
    let Path::Object(_, name) = path else {
        return Err(DavError::NotFound);
    };
    own(ctx, path)?;
    if ctx.cals.delete_inbox_item(&ctx.viewer.login, name).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(DavError::NotFound)
    }
}
