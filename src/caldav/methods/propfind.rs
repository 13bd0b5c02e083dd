//! PROPFIND (RFC 4918 §9.1) at Depth 0 or 1: the target's properties, and its members'.
//! The properties themselves are in `resource`.

use axum::http::HeaderMap;
use axum::response::Response;

use crate::caldav::dav::Ctx;
use crate::caldav::error::{DavError, Precondition};
use crate::caldav::multistatus::{multistatus, respond};
use crate::caldav::resource::Path;
use crate::caldav::tree::{children, needs_entries, resolve};
use crate::caldav::xml::{self, CalendarData};

/// The Depth header (RFC 4918 §10.2): 0 or 1. Infinity is refused with
/// `DAV:propfind-finite-depth` (§9.1); no header counts as 0.
fn depth(headers: &HeaderMap) -> Result<u8, DavError> {
    match headers.get("Depth").map(|v| v.to_str().map(str::trim)) {
        None => Ok(0),
        Some(Ok("0")) => Ok(0),
        Some(Ok("1")) => Ok(1),
        Some(Ok(v)) if v.eq_ignore_ascii_case("infinity") => Err(DavError::precondition(
            Precondition::PropfindFiniteDepth,
            "Depth: infinity is not supported; use 0 or 1".to_owned(),
        )),
        _ => Err(DavError::BadRequest(
            "the Depth header must be 0 or 1".into(),
        )),
    }
}

/// PROPFIND (RFC 4918 §9.1) on `path`, answered for `target_href` (the href asked for).
pub(in crate::caldav) async fn propfind(
    ctx: &Ctx<'_>,
    path: &Path,
    target_href: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, DavError> {
    let depth = depth(headers)?;
    let request = xml::parse_propfind(body)?;
    let request = &request;
    let node = resolve(ctx, path, needs_entries(request)).await?;
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
