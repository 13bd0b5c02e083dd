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
//! /dav/calendars/rooms/<room id>/              a room's calendar home
//! /dav/calendars/rooms/<room id>/calendar/     the room's calendar, at a stable direct URL
//! <calendar>/<booking id>.ics                  one booking (a calendar object resource)
//! ```
//!
//! Hrefs here are decoded paths; `xml` percent-encodes them on the way out.

use super::service::RoomCalendar;
use super::xml::{PropName, PropValue};
use crate::store::CalendarEntry;

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
            Path::RoomHome(id) => format!("/dav/calendars/rooms/{id}/"),
            Path::RoomCalendar(id) => format!("/dav/calendars/rooms/{id}/calendar/"),
            Path::Object(calendar, id) => format!("{}{id}.ics", calendar.href()),
        }
    }

    /// The login in a user's path, if any.
    pub fn user(&self) -> Option<&str> {
        match self {
            Path::UserPrincipal(login) | Path::UserHome(login) | Path::UserCalendar(login, _) => {
                Some(login)
            }
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
            Node::Collection(path) | Node::Calendar { path, .. } | Node::Object { path, .. } => {
                path.href()
            }
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
            Node::UserPrincipal { .. } | Node::RoomPrincipal(_) => names.extend([
                PropName::PRINCIPAL_URL,
                PropName::CALENDAR_HOME_SET,
                PropName::CALENDAR_USER_ADDRESS_SET,
                calendar_user_type(),
            ]),
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
            } => principal_prop(name, &Path::UserPrincipal(login.clone()), display, || {
                (
                    Path::UserHome(login.clone()).href(),
                    format!("urn:lokal:staff:{login}"),
                    "INDIVIDUAL",
                )
            }),
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
