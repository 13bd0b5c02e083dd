//! The DAV methods, one file each, over the resources the dispatcher (`dav`) resolves. Writes
//! other than PUT/DELETE in a staff calendar, DELETE in an inbox and POST to an outbox are
//! refused here with the privilege they lack.

pub mod delete;
pub mod get;
pub mod options;
pub mod post;
pub mod propfind;
pub mod put;
pub mod report;

use super::error::DavError;
use super::resource::Path;
use super::xml::PropName;
use crate::caldav::dav::Ctx;
use crate::caldav::tree::resolve;

/// 403 for a write, naming the privilege the viewer lacks (RFC 3744 §7.1.1): creating or
/// removing members needs bind/unbind on the collection, changing content write-content,
/// changing properties write-properties.
pub(in crate::caldav) async fn refuse_write(ctx: &Ctx<'_>, path: &Path, method: &str) -> DavError {
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
    DavError::need_privileges(href, privilege)
}
