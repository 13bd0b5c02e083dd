//! The DAV resources under `/dav`, their paths and their properties.
//!
//! ```text
//! /dav/                                        root
//! /dav/principals/                             principal collection
//! /dav/principals/users/<login>/               a staff member (only their own)
//! /dav/principals/rooms/                       the rooms, as principals
//! /dav/principals/rooms/<room id>/             a room: calendar-user-type ROOM (RFC 6638 §2.4.2)
//! /dav/calendars/users/<login>/                a staff member's calendar home: the rooms they follow
//! /dav/calendars/users/<login>/<room id>/      a followed room's calendar
//! /dav/calendars/users/<login>/meetings/       the staff member's own, writable calendar
//! /dav/calendars/users/<login>/inbox/          their schedule inbox (RFC 6638 §2.2)
//! /dav/calendars/users/<login>/outbox/         their schedule outbox (RFC 6638 §2.1)
//! /dav/calendars/rooms/<room id>/              a room's calendar home
//! /dav/calendars/rooms/<room id>/calendar/     the room's calendar, at a stable direct URL
//! <calendar>/<booking id>.ics                  one booking (a calendar object resource)
//! ```
//!
//! Hrefs here are decoded paths; `xml` percent-encodes them on the way out.

use super::xml::{PropName, PropValue};
use crate::calendar::CalendarEntry;
use crate::calendar::RoomCalendar;

/// A path under `/dav`, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Path {
    Root,
    Principals,
    UserPrincipal(String),
    RoomPrincipals,
    RoomPrincipal(String),
    Calendars,
    UserHome(String),
    UserCalendar(String, String),
    /// A staff member's writable calendar. Its name can never be a room id (a UUID).
    Meetings(String),
    Inbox(String),
    Outbox(String),
    RoomHome(String),
    RoomCalendar(String),
    Object(Box<Path>, String),
}

impl Path {
    /// Parses a decoded request path (`/dav/...`). `None` for paths that name nothing.
    pub fn parse(path: &str) -> Option<Path> {
        let rest = path.strip_prefix("/dav")?;
        let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        if segments.iter().any(|s| *s == "." || *s == "..") {
            return None;
        }
        let own = |s: &str| s.to_owned();
        Some(match segments.as_slice() {
            [] => Path::Root,
            ["principals"] => Path::Principals,
            ["principals", "users", login] => Path::UserPrincipal(own(login)),
            ["principals", "rooms"] => Path::RoomPrincipals,
            ["principals", "rooms", id] => Path::RoomPrincipal(own(id)),
            ["calendars"] => Path::Calendars,
            ["calendars", "users", login] => Path::UserHome(own(login)),
            ["calendars", "users", login, "meetings"] => Path::Meetings(own(login)),
            ["calendars", "users", login, "inbox"] => Path::Inbox(own(login)),
            ["calendars", "users", login, "outbox"] => Path::Outbox(own(login)),
            ["calendars", "users", login, "meetings", object] => {
                Path::Object(Box::new(Path::Meetings(own(login))), object_id(object)?)
            }
            ["calendars", "users", login, "inbox", object] => {
                Path::Object(Box::new(Path::Inbox(own(login))), object_id(object)?)
            }
            ["calendars", "users", login, room] => Path::UserCalendar(own(login), own(room)),
            ["calendars", "users", login, room, object] => Path::Object(
                Box::new(Path::UserCalendar(own(login), own(room))),
                object_id(object)?,
            ),
            ["calendars", "rooms", id] => Path::RoomHome(own(id)),
            ["calendars", "rooms", id, "calendar"] => Path::RoomCalendar(own(id)),
            ["calendars", "rooms", id, "calendar", object] => {
                Path::Object(Box::new(Path::RoomCalendar(own(id))), object_id(object)?)
            }
            _ => return None,
        })
    }

    /// The decoded path of this resource; collections end with `/`.
    pub fn href(&self) -> String {
        match self {
            Path::Root => "/dav/".into(),
            Path::Principals => "/dav/principals/".into(),
            Path::UserPrincipal(login) => format!("/dav/principals/users/{login}/"),
            Path::RoomPrincipals => "/dav/principals/rooms/".into(),
            Path::RoomPrincipal(id) => format!("/dav/principals/rooms/{id}/"),
            Path::Calendars => "/dav/calendars/".into(),
            Path::UserHome(login) => format!("/dav/calendars/users/{login}/"),
            Path::UserCalendar(login, room) => format!("/dav/calendars/users/{login}/{room}/"),
            Path::Meetings(login) => format!("/dav/calendars/users/{login}/meetings/"),
            Path::Inbox(login) => format!("/dav/calendars/users/{login}/inbox/"),
            Path::Outbox(login) => format!("/dav/calendars/users/{login}/outbox/"),
            Path::RoomHome(id) => format!("/dav/calendars/rooms/{id}/"),
            Path::RoomCalendar(id) => format!("/dav/calendars/rooms/{id}/calendar/"),
            Path::Object(calendar, id) => format!("{}{id}.ics", calendar.href()),
        }
    }

    /// The login in a user's path, if any.
    pub fn user(&self) -> Option<&str> {
        match self {
            Path::UserPrincipal(login)
            | Path::UserHome(login)
            | Path::UserCalendar(login, _)
            | Path::Meetings(login)
            | Path::Inbox(login)
            | Path::Outbox(login) => Some(login),
            Path::Object(calendar, _) => calendar.user(),
            _ => None,
        }
    }
}

fn object_id(segment: &str) -> Option<String> {
    let id = segment.strip_suffix(".ics")?;
    (!id.is_empty()).then(|| id.to_owned())
}

/// A resolved resource, with what its properties need.
pub enum Node {
    Root,
    Collection(Path),
    UserPrincipal {
        login: String,
        name: String,
        /// Their directory email, when it was looked up (calendar-user-address-set).
        email: Option<String>,
    },
    RoomPrincipal(Box<RoomCalendar>),
    UserHome(String),
    RoomHome(Box<RoomCalendar>),
    Calendar {
        path: Path,
        cal: RoomCalendar,
        change_seq: i64,
    },
    Object {
        path: Path,
        cal: RoomCalendar,
        id: String,
        change_seq: i64,
        /// Loaded when the body is needed (calendar-data).
        entry: Option<Box<CalendarEntry>>,
    },
    /// A staff member's writable calendar.
    Meetings {
        login: String,
        change_seq: i64,
    },
    Inbox(String),
    Outbox(String),
    /// An object of a staff calendar (the organiser's copy, with the rooms' answers) or a
    /// message of a schedule inbox.
    StaffObject {
        path: Path,
        etag: String,
        /// Rendered when the body is needed (calendar-data).
        data: Option<String>,
    },
}

/// Who is asking: the href of their principal.
pub struct Viewer {
    pub login: String,
}

impl Viewer {
    pub fn principal(&self) -> String {
        Path::UserPrincipal(self.login.clone()).href()
    }
}

const REPORTS: [PropName; 4] = [
    PropName::CALENDAR_QUERY,
    PropName::CALENDAR_MULTIGET,
    PropName::SYNC_COLLECTION,
    PropName::FREE_BUSY_QUERY,
];

fn calendar_user_type() -> PropName {
    PropName::caldav("calendar-user-type")
}

impl Node {
    pub fn href(&self) -> String {
        match self {
            Node::Root => Path::Root.href(),
            Node::Collection(path)
            | Node::Calendar { path, .. }
            | Node::Object { path, .. }
            | Node::StaffObject { path, .. } => path.href(),
            Node::Meetings { login, .. } => Path::Meetings(login.clone()).href(),
            Node::Inbox(login) => Path::Inbox(login.clone()).href(),
            Node::Outbox(login) => Path::Outbox(login.clone()).href(),
            Node::UserPrincipal { login, .. } => Path::UserPrincipal(login.clone()).href(),
            Node::RoomPrincipal(cal) => Path::RoomPrincipal(cal.room.room.id.clone()).href(),
            Node::UserHome(login) => Path::UserHome(login.clone()).href(),
            Node::RoomHome(cal) => Path::RoomHome(cal.room.room.id.clone()).href(),
        }
    }

    /// The properties `allprop` returns (RFC 4918 §9.1; calendar-data is not among them,
    /// RFC 4791 §9.6), and `propname` lists.
    pub fn names(&self) -> Vec<PropName> {
        let mut names = vec![
            PropName::RESOURCETYPE,
            PropName::DISPLAYNAME,
            PropName::CURRENT_USER_PRINCIPAL,
            PropName::CURRENT_USER_PRIVILEGE_SET,
        ];
        match self {
            Node::UserPrincipal { .. } => names.extend([
                PropName::PRINCIPAL_URL,
                PropName::CALENDAR_HOME_SET,
                PropName::CALENDAR_USER_ADDRESS_SET,
                calendar_user_type(),
                SCHEDULE_INBOX_URL,
                SCHEDULE_OUTBOX_URL,
            ]),
            Node::RoomPrincipal(_) => names.extend([
                PropName::PRINCIPAL_URL,
                PropName::CALENDAR_HOME_SET,
                PropName::CALENDAR_USER_ADDRESS_SET,
                calendar_user_type(),
            ]),
            Node::Meetings { .. } => names.extend([
                PropName::CALENDAR_DESCRIPTION,
                PropName::SUPPORTED_CALENDAR_COMPONENT_SET,
                PropName::SUPPORTED_REPORT_SET,
                PropName::GETCTAG,
                PropName::SYNC_TOKEN,
                PropName::OWNER,
                PropName::MAX_RESOURCE_SIZE,
                SCHEDULE_CALENDAR_TRANSP,
            ]),
            Node::Inbox(_) => names.push(SCHEDULE_DEFAULT_CALENDAR_URL),
            Node::StaffObject { .. } => names.extend([PropName::GETETAG, PropName::GETCONTENTTYPE]),
            Node::Calendar { .. } => names.extend([
                PropName::CALENDAR_DESCRIPTION,
                PropName::SUPPORTED_CALENDAR_COMPONENT_SET,
                PropName::SUPPORTED_REPORT_SET,
                PropName::GETCTAG,
                PropName::SYNC_TOKEN,
                PropName::OWNER,
            ]),
            // getlastmodified only when asked for by name: it needs the booking itself, and
            // allprop on a calendar of 20,000 bookings should not load them all.
            Node::Object { .. } => names.extend([PropName::GETETAG, PropName::GETCONTENTTYPE]),
            _ => {}
        }
        names
    }

    /// The value of one property, or `None` where this resource has no such property.
    /// `data` renders calendar-data for objects.
    pub fn prop(
        &self,
        name: &PropName,
        viewer: &Viewer,
        data: &dyn Fn(&Node) -> Option<String>,
    ) -> Option<PropValue> {
        if *name == PropName::CURRENT_USER_PRINCIPAL {
            return Some(PropValue::Href(viewer.principal()));
        }
        if let Some(value) = self.staff_prop(name) {
            return value;
        }
        if *name == PropName::CURRENT_USER_PRIVILEGE_SET {
            // Read-only for everybody (RFC 3744 §5.4): apps then show the calendars as
            // read-only. Writes to rooms come through booking, not PUT.
            let mut privileges = vec![PropName::READ, PropName::READ_CURRENT_USER_PRIVILEGE_SET];
            if matches!(self, Node::Calendar { .. }) {
                privileges.push(PropName::READ_FREE_BUSY);
            }
            return Some(PropValue::Privileges(privileges));
        }
        match self {
            Node::Root | Node::Collection(_) | Node::UserHome(_) | Node::RoomHome(_) => {
                if *name == PropName::RESOURCETYPE {
                    return Some(PropValue::ResourceType(vec![PropName::COLLECTION]));
                }
                if *name == PropName::DISPLAYNAME {
                    return Some(PropValue::Text(match self {
                        Node::RoomHome(cal) => cal.room.room.name.clone(),
                        Node::UserHome(login) => login.clone(),
                        _ => "Lokal".into(),
                    }));
                }
                None
            }
            Node::UserPrincipal {
                login,
                name: display,
                email,
            } => {
                if *name == PropName::CALENDAR_USER_ADDRESS_SET {
                    // The mailto: address first: clients take the first as the ORGANIZER.
                    let mut set: Vec<String> =
                        email.iter().map(|e| format!("mailto:{e}")).collect();
                    set.push(format!("urn:lokal:staff:{login}"));
                    set.push(Path::UserPrincipal(login.clone()).href());
                    return Some(PropValue::Hrefs(set));
                }
                if *name == SCHEDULE_INBOX_URL {
                    return Some(PropValue::Href(Path::Inbox(login.clone()).href()));
                }
                if *name == SCHEDULE_OUTBOX_URL {
                    return Some(PropValue::Href(Path::Outbox(login.clone()).href()));
                }
                principal_prop(name, &Path::UserPrincipal(login.clone()), display, || {
                    (
                        Path::UserHome(login.clone()).href(),
                        format!("urn:lokal:staff:{login}"),
                        "INDIVIDUAL",
                    )
                })
            }
            Node::RoomPrincipal(cal) => {
                let id = cal.room.room.id.clone();
                if *name == PropName::CALENDAR_USER_ADDRESS_SET {
                    // `mailto:` its directory address first (what apps invite), then urn:uuid.
                    return Some(PropValue::Hrefs(cal.addresses()));
                }
                principal_prop(
                    name,
                    &Path::RoomPrincipal(id.clone()),
                    &cal.room.room.name,
                    || {
                        (
                            Path::RoomHome(id.clone()).href(),
                            format!("urn:uuid:{id}"),
                            "ROOM",
                        )
                    },
                )
            }
            Node::Calendar {
                cal, change_seq, ..
            } => {
                if *name == PropName::RESOURCETYPE {
                    Some(PropValue::ResourceType(vec![
                        PropName::COLLECTION,
                        PropName::CALENDAR,
                    ]))
                } else if *name == PropName::DISPLAYNAME {
                    Some(PropValue::Text(cal.room.room.name.clone()))
                } else if *name == PropName::CALENDAR_DESCRIPTION {
                    let room = &cal.room.room;
                    let mut text = room.name.clone();
                    if let Some(b) = &room.building {
                        text.push_str(&format!(", {b}"));
                    }
                    Some(PropValue::Text(text))
                } else if *name == PropName::SUPPORTED_CALENDAR_COMPONENT_SET {
                    Some(PropValue::SupportedComponents(vec!["VEVENT".into()]))
                } else if *name == PropName::SUPPORTED_REPORT_SET {
                    Some(PropValue::SupportedReports(REPORTS.to_vec()))
                } else if *name == PropName::GETCTAG {
                    Some(PropValue::Text(cal.ctag(*change_seq)))
                } else if *name == PropName::SYNC_TOKEN {
                    Some(PropValue::Text(cal.sync_token(*change_seq)))
                } else if *name == PropName::OWNER {
                    Some(PropValue::Href(
                        Path::RoomPrincipal(cal.room.room.id.clone()).href(),
                    ))
                } else {
                    None
                }
            }
            // Answered by `staff_prop`.
            Node::Meetings { .. } | Node::Inbox(_) | Node::Outbox(_) | Node::StaffObject { .. } => {
                None
            }
            Node::Object {
                cal,
                change_seq,
                entry,
                ..
            } => {
                if *name == PropName::RESOURCETYPE {
                    Some(PropValue::ResourceType(Vec::new()))
                } else if *name == PropName::GETETAG {
                    Some(PropValue::Text(cal.etag(*change_seq)))
                } else if *name == PropName::GETCONTENTTYPE {
                    Some(PropValue::Text(
                        "text/calendar; charset=utf-8; component=vevent".into(),
                    ))
                } else if *name == PropName::GETLASTMODIFIED {
                    entry.as_ref().map(|e| {
                        PropValue::Text(
                            e.booking
                                .updated_at
                                .format("%a, %d %b %Y %H:%M:%S GMT")
                                .to_string(),
                        )
                    })
                } else if *name == PropName::CALENDAR_DATA {
                    data(self).map(PropValue::CData)
                } else {
                    None
                }
            }
        }
    }
}

/// RFC 6638 §2.2.1, §2.1.1, §9.2, §9.1.
pub const SCHEDULE_INBOX_URL: PropName = PropName::caldav("schedule-inbox-URL");
pub const SCHEDULE_OUTBOX_URL: PropName = PropName::caldav("schedule-outbox-URL");
pub const SCHEDULE_DEFAULT_CALENDAR_URL: PropName =
    PropName::caldav("schedule-default-calendar-URL");
pub const SCHEDULE_CALENDAR_TRANSP: PropName = PropName::caldav("schedule-calendar-transp");

impl Node {
    /// The properties of the staff member's own resources (calendar, inbox, outbox and
    /// their members): `Some(answer)` for those resources, `None` for every other.
    fn staff_prop(&self, name: &PropName) -> Option<Option<PropValue>> {
        let privileges = |p: Vec<PropName>| Some(PropValue::Privileges(p));
        Some(match self {
            Node::Meetings { login, change_seq } => {
                if *name == PropName::CURRENT_USER_PRIVILEGE_SET {
                    privileges(vec![
                        PropName::READ,
                        PropName::WRITE,
                        PropName::WRITE_CONTENT,
                        PropName::BIND,
                        PropName::UNBIND,
                        PropName::READ_CURRENT_USER_PRIVILEGE_SET,
                        PropName::READ_FREE_BUSY,
                    ])
                } else if *name == PropName::RESOURCETYPE {
                    Some(PropValue::ResourceType(vec![
                        PropName::COLLECTION,
                        PropName::CALENDAR,
                    ]))
                } else if *name == PropName::DISPLAYNAME {
                    Some(PropValue::Text("Lokal: møter".into()))
                } else if *name == PropName::CALENDAR_DESCRIPTION {
                    Some(PropValue::Text(
                        "Invite rooms to events here: Lokal books them and answers for them".into(),
                    ))
                } else if *name == PropName::SUPPORTED_CALENDAR_COMPONENT_SET {
                    Some(PropValue::SupportedComponents(vec!["VEVENT".into()]))
                } else if *name == PropName::SUPPORTED_REPORT_SET {
                    Some(PropValue::SupportedReports(vec![
                        PropName::CALENDAR_QUERY,
                        PropName::CALENDAR_MULTIGET,
                        PropName::SYNC_COLLECTION,
                    ]))
                } else if *name == PropName::GETCTAG {
                    Some(PropValue::Text(format!("s{change_seq}")))
                } else if *name == PropName::SYNC_TOKEN {
                    Some(PropValue::Text(crate::calendar::schedule::sync_token(
                        login,
                        *change_seq,
                    )))
                } else if *name == PropName::OWNER {
                    Some(PropValue::Href(Path::UserPrincipal(login.clone()).href()))
                } else if *name == PropName::MAX_RESOURCE_SIZE {
                    Some(PropValue::Text(
                        crate::calendar::schedule::MAX_RESOURCE_SIZE.to_string(),
                    ))
                } else if *name == SCHEDULE_CALENDAR_TRANSP {
                    // Events here make the organiser busy (RFC 6638 §9.1).
                    Some(PropValue::ResourceType(vec![PropName::caldav("opaque")]))
                } else {
                    None
                }
            }
            Node::Inbox(login) | Node::Outbox(login) => {
                let inbox = matches!(self, Node::Inbox(_));
                if *name == PropName::CURRENT_USER_PRIVILEGE_SET {
                    privileges(if inbox {
                        vec![
                            PropName::READ,
                            PropName::UNBIND,
                            PropName::READ_CURRENT_USER_PRIVILEGE_SET,
                        ]
                    } else {
                        vec![
                            PropName::READ,
                            PropName::caldav("schedule-send"),
                            PropName::READ_CURRENT_USER_PRIVILEGE_SET,
                        ]
                    })
                } else if *name == PropName::RESOURCETYPE {
                    Some(PropValue::ResourceType(vec![
                        PropName::COLLECTION,
                        PropName::caldav(if inbox {
                            "schedule-inbox"
                        } else {
                            "schedule-outbox"
                        }),
                    ]))
                } else if *name == PropName::DISPLAYNAME {
                    Some(PropValue::Text(
                        if inbox { "Inbox" } else { "Outbox" }.into(),
                    ))
                } else if *name == SCHEDULE_DEFAULT_CALENDAR_URL && inbox {
                    Some(PropValue::Href(Path::Meetings(login.clone()).href()))
                } else {
                    None
                }
            }
            Node::StaffObject { etag, data, .. } => {
                if *name == PropName::CURRENT_USER_PRIVILEGE_SET {
                    privileges(vec![
                        PropName::READ,
                        PropName::WRITE,
                        PropName::WRITE_CONTENT,
                        PropName::READ_CURRENT_USER_PRIVILEGE_SET,
                    ])
                } else if *name == PropName::RESOURCETYPE {
                    Some(PropValue::ResourceType(Vec::new()))
                } else if *name == PropName::GETETAG {
                    Some(PropValue::Text(etag.clone()))
                } else if *name == PropName::GETCONTENTTYPE {
                    Some(PropValue::Text(
                        "text/calendar; charset=utf-8; component=vevent".into(),
                    ))
                } else if *name == PropName::CALENDAR_DATA {
                    data.clone().map(PropValue::CData)
                } else {
                    None
                }
            }
            _ => return None,
        })
    }
}

fn principal_prop(
    name: &PropName,
    path: &Path,
    display: &str,
    details: impl Fn() -> (String, String, &'static str),
) -> Option<PropValue> {
    if *name == PropName::RESOURCETYPE {
        Some(PropValue::ResourceType(vec![
            PropName::COLLECTION,
            PropName::PRINCIPAL,
        ]))
    } else if *name == PropName::DISPLAYNAME {
        Some(PropValue::Text(display.to_owned()))
    } else if *name == PropName::PRINCIPAL_URL {
        Some(PropValue::Href(path.href()))
    } else if *name == PropName::CALENDAR_HOME_SET {
        Some(PropValue::Href(details().0))
    } else if *name == PropName::CALENDAR_USER_ADDRESS_SET {
        Some(PropValue::Hrefs(vec![details().1]))
    } else if *name == calendar_user_type() {
        Some(PropValue::Text(details().2.to_owned()))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip_and_refuse_what_names_nothing() {
        for p in [
            Path::Root,
            Path::Principals,
            Path::UserPrincipal("astrid.moen".into()),
            Path::RoomPrincipals,
            Path::RoomPrincipal("r1".into()),
            Path::Calendars,
            Path::UserHome("astrid.moen".into()),
            Path::UserCalendar("astrid.moen".into(), "r1".into()),
            Path::RoomHome("r1".into()),
            Path::RoomCalendar("r1".into()),
            Path::Meetings("a".into()),
            Path::Inbox("a".into()),
            Path::Outbox("a".into()),
            Path::Object(Box::new(Path::Meetings("a".into())), "e1".into()),
            Path::Object(Box::new(Path::Inbox("a".into())), "m1".into()),
            Path::Object(Box::new(Path::RoomCalendar("r1".into())), "b1".into()),
            Path::Object(
                Box::new(Path::UserCalendar("a".into(), "r1".into())),
                "b1".into(),
            ),
        ] {
            assert_eq!(Path::parse(&p.href()), Some(p.clone()), "{}", p.href());
        }
        assert_eq!(Path::parse("/dav"), Some(Path::Root));
        for bad in [
            "/dav/x",
            "/dav/calendars/rooms/r1/calendar/b1",
            "/dav/calendars/rooms/r1/calendar/.ics",
            "/dav/calendars/rooms/../calendar/",
            "/dav/principals/users/a/b",
            "/api/v1",
        ] {
            assert_eq!(Path::parse(bad), None, "{bad}");
        }
        assert_eq!(
            Path::UserCalendar("a".into(), "r1".into()).user(),
            Some("a")
        );
        assert_eq!(Path::RoomCalendar("r1".into()).user(), None);
    }
}
