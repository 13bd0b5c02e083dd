//! The directory: Lokal's source of rooms, people and roles.
//!
//! [`Directory`] is the port; backends are chosen by URL ([`connect`]):
//! - `file:PATH.ldif`: an LDIF file read at start, the embedded default (`seed/directory.ldif`);
//! - `ldap://` and `ldaps://`: a server, through ldap3 ([`ldap::LdapDirectory`]).
//!
//! Both read entries through one [`Mapping`], so they give the same answers for the same data.
//! `ldap3` errors never leave this module: callers see [`DirectoryError`], which keeps invalid
//! credentials apart from an unavailable directory.

pub mod dn;
pub mod file;
pub mod ldap;
pub mod ldif;
pub mod mapping;
pub mod password;

use std::time::Duration;

use serde::Serialize;

pub use mapping::{BuildingFrom, Entry, GroupsFrom, Mapping, Preset, Selector};

/// A room as the directory describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DirRoom {
    /// Stable across renames: entryUUID or objectGUID. Only an entry without one falls back
    /// to its normalized DN (servers generate entryUUID; LDIF files must carry it).
    pub id: String,
    pub dn: String,
    pub name: String,
    pub building: Option<String>,
    pub capacity: Option<u32>,
    /// Sorted.
    pub equipment: Vec<String>,
    pub policy: Option<String>,
    pub approver_group: Option<String>,
    pub resource_type: Option<String>,
    pub floor: Option<String>,
    pub time_zone: Option<String>,
    pub description: Option<String>,
    /// The room's e-mail address (an Exchange room mailbox's `mail`): the calendar-user
    /// address (`mailto:`) staff invite it by. `None` where the directory has none.
    pub email: Option<String>,
    /// The DNs of the rooms this room is made of (a divisible hall's halves), canonical and
    /// sorted; empty for a room that is not divided. Checked at sync by [`resolve_parts`].
    pub parts: Vec<String>,
}

/// A room naming parts that cannot be: a part that is no room of the directory, the room
/// itself, or a cycle. The sync refuses the whole directory with this message, so that a
/// hall is never served without the parts it blocks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PartsError(pub String);

/// The direct parts of every room, by room id (rooms without parts left out), from the part
/// DNs the directory names; and the physical parts (leaves of the part tree) of every room.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoomParts {
    /// Room id -> the ids of its direct parts, sorted.
    pub parts: std::collections::BTreeMap<String, Vec<String>>,
    /// Room id -> the ids of the physical parts it blocks, sorted; a room without parts
    /// blocks itself.
    pub leaves: std::collections::BTreeMap<String, Vec<String>>,
}

/// Resolves the part DNs of `rooms` to room ids and works out every room's physical parts.
/// Refuses a part that is not one of `rooms`, a room naming itself, and a cycle (A made of B
/// made of A), naming the rooms.
pub fn resolve_parts(rooms: &[DirRoom]) -> Result<RoomParts, PartsError> {
    use std::collections::{BTreeMap, BTreeSet};
    let by_dn: std::collections::HashMap<String, &DirRoom> =
        rooms.iter().map(|r| (dn::normalize(&r.dn), r)).collect();
    let label = |r: &DirRoom| format!("{:?} ({})", r.name, r.dn);
    let mut parts: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for room in rooms {
        let mut ids = BTreeSet::new();
        for part in &room.parts {
            let Some(found) = by_dn.get(&dn::normalize(part)) else {
                return Err(PartsError(format!(
                    "room {} names the part {part:?}, which is not a bookable room in the \
                     directory; correct the room's part attribute (directory.mapping.parts)",
                    label(room)
                )));
            };
            if found.id == room.id {
                return Err(PartsError(format!(
                    "room {} names itself as one of its parts",
                    label(room)
                )));
            }
            ids.insert(found.id.clone());
        }
        if !ids.is_empty() {
            parts.insert(room.id.clone(), ids.into_iter().collect());
        }
    }
    let names: std::collections::HashMap<&str, &DirRoom> =
        rooms.iter().map(|r| (r.id.as_str(), r)).collect();
    // Depth-first, with the path on a stack to tell a cycle from a shared part.
    fn leaves_of(
        id: &str,
        parts: &BTreeMap<String, Vec<String>>,
        done: &mut BTreeMap<String, Vec<String>>,
        path: &mut Vec<String>,
    ) -> Result<Vec<String>, Vec<String>> {
        if let Some(l) = done.get(id) {
            return Ok(l.clone());
        }
        if let Some(at) = path.iter().position(|p| p == id) {
            let mut cycle = path[at..].to_vec();
            cycle.push(id.to_owned());
            return Err(cycle);
        }
        let leaves = match parts.get(id) {
            None => vec![id.to_owned()],
            Some(direct) => {
                path.push(id.to_owned());
                let mut all = BTreeSet::new();
                for p in direct {
                    all.extend(leaves_of(p, parts, done, path)?);
                }
                path.pop();
                all.into_iter().collect()
            }
        };
        done.insert(id.to_owned(), leaves.clone());
        Ok(leaves)
    }
    let mut leaves = BTreeMap::new();
    for room in rooms {
        let mut path = Vec::new();
        if let Err(cycle) = leaves_of(&room.id, &parts, &mut leaves, &mut path) {
            // Told the same way whichever room the walk started from: from the first name.
            let mut names: Vec<String> = cycle[1..]
                .iter()
                .map(|id| {
                    names
                        .get(id.as_str())
                        .map_or(id.clone(), |r| r.name.clone())
                })
                .collect();
            let first = (0..names.len()).min_by_key(|&i| &names[i]).unwrap_or(0);
            names.rotate_left(first);
            if let Some(start) = names.first().cloned() {
                names.push(start);
            }
            return Err(PartsError(format!(
                "rooms are parts of each other in a cycle: {}; a part must be a smaller room",
                names.join(" -> ")
            )));
        }
    }
    Ok(RoomParts { parts, leaves })
}

/// A policy name that rooms give and the policy file lacks, with the rooms giving it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownPolicy {
    pub policy: String,
    /// The rooms, as `name (building)`, sorted.
    pub rooms: Vec<String>,
}

/// The policies `rooms` name that `defined` does not know, each with its rooms, sorted by
/// name. A room naming none is left out: it gets the default policy, which is checked when
/// the policy file is loaded.
pub fn unknown_policies<'a>(
    rooms: impl IntoIterator<Item = &'a DirRoom>,
    defined: impl Fn(&str) -> bool,
) -> Vec<UnknownPolicy> {
    let mut by_policy: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for room in rooms {
        if let Some(policy) = room.policy.as_deref()
            && !defined(policy)
        {
            let label = match &room.building {
                Some(b) => format!("{} ({b})", room.name),
                None => room.name.clone(),
            };
            by_policy.entry(policy).or_default().push(label);
        }
    }
    by_policy
        .into_iter()
        .map(|(policy, mut rooms)| {
            rooms.sort();
            UnknownPolicy {
                policy: policy.to_owned(),
                rooms,
            }
        })
        .collect()
}

/// One line per missing policy: `"closed" is named by 3 rooms: A (X), B (X), C (Y)`, the rooms
/// cut off after a dozen.
pub fn describe_unknown_policies(unknown: &[UnknownPolicy]) -> String {
    const SHOWN: usize = 12;
    unknown
        .iter()
        .map(|u| {
            let n = u.rooms.len();
            let mut rooms = u
                .rooms
                .iter()
                .take(SHOWN)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            if n > SHOWN {
                rooms.push_str(&format!(" and {} more", n - SHOWN));
            }
            let noun = if n == 1 { "room" } else { "rooms" };
            format!("  policy {:?} is named by {n} {noun}: {rooms}", u.policy)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A person in the directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Person {
    pub id: String,
    pub dn: String,
    pub login: String,
    pub name: String,
    pub email: Option<String>,
}

/// What a person may do, from their groups.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Roles {
    /// Every directory person is staff.
    pub staff: bool,
    pub clerk: bool,
    pub admin: bool,
    /// The person's groups, as canonical DNs, sorted.
    pub groups: Vec<String>,
}

impl Roles {
    /// Roles from a person's group DNs under `mapping`'s clerk and admin groups.
    pub fn from_groups(mapping: &Mapping, groups: impl IntoIterator<Item = String>) -> Self {
        let mut groups: Vec<String> = groups.into_iter().map(|g| dn::canonical(&g)).collect();
        groups.sort_by_key(|g| dn::normalize(g));
        groups.dedup_by(|a, b| dn::same(a, b));
        let any_of = |list: &[String]| {
            list.iter()
                .any(|g| groups.iter().any(|mine| dn::same(mine, g)))
        };
        Roles {
            staff: true,
            clerk: any_of(&mapping.clerk_groups),
            admin: any_of(&mapping.admin_groups),
            groups,
        }
    }

    /// Whether the person is in the group named by `group_dn`.
    pub fn is_member_of(&self, group_dn: &str) -> bool {
        self.groups.iter().any(|g| dn::same(g, group_dn))
    }
}

/// Errors of the directory layer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    /// Wrong login or password, or an unknown login: callers must not tell these apart.
    #[error("invalid login or password")]
    InvalidCredentials,
    /// The directory cannot be reached or did not answer in time.
    #[error("the directory is unavailable: {0}")]
    Unavailable(String),
    /// The configuration is wrong (bad URL, unreadable file, bad mapping).
    #[error("directory configuration: {0}")]
    Config(String),
    /// The directory answered with something Lokal cannot read.
    #[error("the directory sent data Lokal cannot read: {0}")]
    Malformed(String),
}

/// The port every backend implements.
#[async_trait::async_trait]
pub trait Directory: Send + Sync {
    /// Every room, read page by page where the server pages.
    async fn rooms(&self) -> Result<Vec<DirRoom>, DirectoryError>;
    /// The person with this login, if any.
    async fn find_person(&self, login: &str) -> Result<Option<Person>, DirectoryError>;
    /// Checks a login and password. Unknown logins, wrong passwords and empty passwords all
    /// give [`DirectoryError::InvalidCredentials`].
    async fn authenticate(&self, login: &str, password: &str) -> Result<Person, DirectoryError>;
    /// The person's roles, from their groups.
    async fn roles(&self, person: &Person) -> Result<Roles, DirectoryError>;
    /// Whether the directory answers.
    async fn health(&self) -> Result<(), DirectoryError>;
    /// The people in the group named by `group_dn` (direct members only), for telling a
    /// room's clerks about new requests. Backends that cannot list members find nobody.
    async fn group_members(&self, group_dn: &str) -> Result<Vec<Person>, DirectoryError> {
        let _ = group_dn;
        Ok(Vec::new())
    }
}

/// Connection settings for `ldap://` and `ldaps://` URLs.
#[derive(Clone, Debug)]
pub struct LdapSettings {
    pub url: String,
    /// The service account used for searches.
    pub bind_dn: String,
    pub bind_password: String,
    pub starttls: bool,
    /// A PEM file with the CA(s) to trust, in addition to the system's.
    pub ca_file: Option<std::path::PathBuf>,
    /// Turns certificate checks off. Never in production.
    pub insecure_skip_verify: bool,
    /// The limit for connecting and for every operation.
    pub timeout: Duration,
    pub page_size: i32,
}

/// A login is checked before it reaches any backend: not empty, not absurdly long, no
/// control characters. Anything else is escaped where it is used.
fn plausible_login(login: &str) -> bool {
    !login.trim().is_empty() && login.len() <= 256 && !login.chars().any(char::is_control)
}

/// Opens the directory named by `url`: `file:PATH` or `ldap(s)://HOST[:PORT]`.
pub async fn connect(
    url: &str,
    mapping: Mapping,
    ldap: Option<LdapSettings>,
) -> Result<Box<dyn Directory>, DirectoryError> {
    mapping
        .validate()
        .map_err(|m| DirectoryError::Config(format!("mapping: {m}")))?;
    if let Some(path) = url.strip_prefix("file:") {
        let path = path.strip_prefix("//").unwrap_or(path);
        return Ok(Box::new(file::FileDirectory::open(
            std::path::Path::new(path),
            mapping,
        )?));
    }
    if url.starts_with("ldap://") || url.starts_with("ldaps://") {
        let settings =
            ldap.ok_or_else(|| DirectoryError::Config("an LDAP URL needs bind settings".into()))?;
        let settings = LdapSettings {
            url: url.to_owned(),
            ..settings
        };
        return Ok(Box::new(ldap::LdapDirectory::new(settings, mapping)?));
    }
    Err(DirectoryError::Config(format!(
        "unsupported directory URL {url:?}: use file:PATH.ldif, ldap://HOST or ldaps://HOST"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(name: &str, building: Option<&str>, policy: Option<&str>) -> DirRoom {
        DirRoom {
            id: name.to_lowercase(),
            dn: format!("cn={name},dc=x"),
            name: name.into(),
            building: building.map(Into::into),
            capacity: None,
            equipment: Vec::new(),
            policy: policy.map(Into::into),
            approver_group: None,
            resource_type: None,
            floor: None,
            time_zone: None,
            description: None,
            email: None,
            parts: Vec::new(),
        }
    }

    #[test]
    fn rooms_naming_a_missing_policy_are_listed_by_policy() {
        let rooms = [
            room("Hovedhallen", Some("Idrettshallen"), Some("closed")),
            room("Storsalen", Some("Kulturhuset"), Some("hall")),
            room("Aulaen", None, Some("closed")),
            room("Lager", None, None),
            room("Bua", None, Some("shed")),
        ];
        let unknown = unknown_policies(&rooms, |name| name == "hall");
        assert_eq!(
            unknown,
            [
                UnknownPolicy {
                    policy: "closed".into(),
                    rooms: vec!["Aulaen".into(), "Hovedhallen (Idrettshallen)".into()],
                },
                UnknownPolicy {
                    policy: "shed".into(),
                    rooms: vec!["Bua".into()],
                },
            ]
        );
        assert_eq!(
            describe_unknown_policies(&unknown),
            "  policy \"closed\" is named by 2 rooms: Aulaen, Hovedhallen (Idrettshallen)\n  \
             policy \"shed\" is named by 1 room: Bua"
        );
        assert!(unknown_policies(&rooms[1..2], |name| name == "hall").is_empty());
    }

    fn hall() -> Vec<DirRoom> {
        let mut whole = room("Gymsal A+B", None, None);
        whole.parts = vec!["cn=Gymsal A,dc=x".into(), "CN=Gymsal B, dc=x".into()];
        vec![
            whole,
            room("Gymsal A", None, None),
            room("Gymsal B", None, None),
            room("Lager", None, None),
        ]
    }

    #[test]
    fn a_hall_blocks_its_halves_and_a_half_blocks_itself() {
        let resolved = resolve_parts(&hall()).unwrap();
        assert_eq!(
            resolved.parts.get("gymsal a+b"),
            Some(&vec!["gymsal a".to_string(), "gymsal b".to_string()])
        );
        assert_eq!(
            resolved.leaves.get("gymsal a+b"),
            Some(&vec!["gymsal a".to_string(), "gymsal b".to_string()])
        );
        assert_eq!(
            resolved.leaves.get("gymsal a"),
            Some(&vec!["gymsal a".to_string()])
        );
        assert_eq!(
            resolved.leaves.get("lager"),
            Some(&vec!["lager".to_string()])
        );
        assert!(!resolved.parts.contains_key("lager"));
    }

    #[test]
    fn nested_parts_resolve_to_the_physical_leaves() {
        let mut rooms = hall();
        let mut hall_a = room("Halvdel A", None, None);
        hall_a.parts = vec!["cn=Gymsal A,dc=x".into()];
        rooms[0].parts = vec!["cn=Halvdel A,dc=x".into(), "cn=Gymsal B,dc=x".into()];
        rooms.push(hall_a);
        let resolved = resolve_parts(&rooms).unwrap();
        assert_eq!(
            resolved.leaves.get("gymsal a+b"),
            Some(&vec!["gymsal a".to_string(), "gymsal b".to_string()])
        );
    }

    #[test]
    fn a_bad_part_is_refused_with_the_rooms_named() {
        let mut rooms = hall();
        rooms[0].parts.push("cn=Gymsal C,dc=x".into());
        let e = resolve_parts(&rooms).unwrap_err().to_string();
        assert!(
            e.contains("\"Gymsal A+B\"") && e.contains("cn=Gymsal C,dc=x"),
            "{e}"
        );
        assert!(e.contains("not a bookable room"), "{e}");

        let mut rooms = hall();
        rooms[1].parts = vec!["cn=Gymsal A,dc=x".into()];
        let e = resolve_parts(&rooms).unwrap_err().to_string();
        assert!(e.contains("names itself"), "{e}");

        let mut rooms = hall();
        rooms[1].parts = vec!["cn=Gymsal A+B,dc=x".into()];
        let e = resolve_parts(&rooms).unwrap_err().to_string();
        assert!(
            e.contains("cycle") && e.contains("Gymsal A -> Gymsal A+B -> Gymsal A"),
            "{e}"
        );
    }

    #[test]
    fn a_long_list_of_rooms_is_cut_off() {
        let rooms: Vec<DirRoom> = (0..20)
            .map(|i| room(&format!("Rom {i:02}"), None, Some("gone")))
            .collect();
        let text = describe_unknown_policies(&unknown_policies(&rooms, |_| false));
        assert!(text.contains("named by 20 rooms"), "{text}");
        assert!(text.ends_with("Rom 11 and 8 more"), "{text}");
    }
}
