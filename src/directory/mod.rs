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
