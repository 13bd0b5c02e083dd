//! The resources a path names, resolved for the viewer through the calendar service: a
//! user's resources are theirs alone (RFC 3744 need-privileges otherwise), a room calendar is
//! reachable under a user's home when they follow it and at its direct URL while the room
//! lives; and the members of each collection for Depth: 1 (RFC 4918 §9.1).

use super::dav::Ctx;
use super::error::DavError;
use super::resource::{Node, Path};
use super::xml::{PropName, PropRequest};
use crate::calendar::{CalendarEntry, InboxItem, RoomCalendar, StaffObject, schedule};

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
