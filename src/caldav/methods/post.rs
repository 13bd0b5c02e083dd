//! POST to a staff member's schedule outbox (RFC 6638 §5): free-busy requests for rooms,
//! answered by `freebusy`; the ORGANIZER must be one of the caller's addresses.

use axum::response::Response;

use crate::caldav::dav::{Ctx, my_addresses, own};
use crate::caldav::error::DavError;
use crate::caldav::resource::Path;

/// POST of `body` to the outbox at `path` (the caller's own).
pub(in crate::caldav) async fn post(
    ctx: &Ctx<'_>,
    path: &Path,
    body: &[u8],
) -> Result<Response, DavError> {
    own(ctx, path)?;
    crate::caldav::freebusy::outbox_post_as(
        ctx.cals,
        &ctx.principal,
        Some(&my_addresses(ctx)),
        body,
    )
    .await
}
