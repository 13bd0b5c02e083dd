//! How Lokal reads rooms, people and groups out of a directory: the attribute mapping, with
//! presets for OpenLDAP (our schema, `seed/schema/`) and Active Directory (Exchange room
//! mailboxes). Every field can be overridden in the configuration.
//!
//! Entries from either backend arrive as an [`Entry`]; turning one into a [`DirRoom`] or a
//! [`Person`] happens here only, so both backends give the same answers.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::dn;
use super::{DirRoom, Person};

/// A directory entry: its DN and attribute values, attribute names lower-cased (options
/// such as `;binary` dropped).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    pub dn: String,
    pub attrs: HashMap<String, Vec<Vec<u8>>>,
}

impl Entry {
    pub fn new(dn: impl Into<String>) -> Self {
        Entry {
            dn: dn.into(),
            attrs: HashMap::new(),
        }
    }

    /// Adds a value. Values of tagged descriptions (`cn;lang-en`) are left out: Lokal reads
    /// the plain attribute only, as a server does for `userPassword` and as the mapping
    /// expects for names. `;binary` is a transfer option, not a tag, and is kept.
    pub fn add(&mut self, description: &str, value: Vec<u8>) {
        let mut parts = description.split(';');
        let name = parts.next().unwrap_or(description).to_ascii_lowercase();
        if parts.any(|option| !option.eq_ignore_ascii_case("binary")) {
            return;
        }
        self.attrs.entry(name).or_default().push(value);
    }

    pub fn values(&self, attr: &str) -> &[Vec<u8>] {
        self.attrs
            .get(&attr.to_ascii_lowercase())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The values as text; values that are not UTF-8 are skipped.
    pub fn texts(&self, attr: &str) -> Vec<String> {
        self.values(attr)
            .iter()
            .filter_map(|v| String::from_utf8(v.clone()).ok())
            .collect()
    }

    pub fn text(&self, attr: &str) -> Option<String> {
        self.texts(attr)
            .into_iter()
            .next()
            .filter(|s| !s.is_empty())
    }
}

/// Which entries are rooms, people or groups: a small filter language that renders to an LDAP
/// filter for servers and is evaluated in memory for LDIF files, so both agree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Selector {
    /// `(objectClass=NAME)`.
    ObjectClass(String),
    /// `(ATTR=VALUE)`, compared without regard to case.
    Equals(String, String),
    /// All of them.
    All(Vec<Selector>),
}

impl Selector {
    /// The LDAP filter, with every value escaped.
    pub fn to_filter(&self) -> String {
        match self {
            Selector::ObjectClass(c) => format!("(objectClass={})", dn::escape_filter_value(c)),
            Selector::Equals(a, v) => format!("({}={})", attr_name(a), dn::escape_filter_value(v)),
            Selector::All(list) => format!(
                "(&{})",
                list.iter().map(Selector::to_filter).collect::<String>()
            ),
        }
    }

    /// Whether `entry` matches, comparing values as `caseIgnoreMatch` does (see [`fold`]).
    /// Without a schema, object classes must be listed on the entry (no superclass lookup).
    pub fn matches(&self, entry: &Entry) -> bool {
        match self {
            Selector::ObjectClass(c) => entry
                .texts("objectClass")
                .iter()
                .any(|v| v.eq_ignore_ascii_case(c)),
            Selector::Equals(a, v) => {
                let want = fold(v);
                entry.texts(a).iter().any(|x| fold(x) == want)
            }
            Selector::All(list) => list.iter().all(|s| s.matches(entry)),
        }
    }

    /// Every attribute name the selector uses.
    fn attributes(&self) -> Vec<&str> {
        match self {
            Selector::ObjectClass(_) => vec!["objectClass"],
            Selector::Equals(a, _) => vec![a.as_str()],
            Selector::All(list) => list.iter().flat_map(Selector::attributes).collect(),
        }
    }
}

/// A value as `caseIgnoreMatch` compares it (RFC 4518, simplified): Unicode compatibility
/// normalization (NFKC), case folding, and insignificant spaces (leading, trailing, repeated)
/// removed.
pub fn fold(value: &str) -> String {
    use unicode_normalization::UnicodeNormalization as _;
    let folded: String = value.nfkc().collect::<String>().to_lowercase();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether `name` is an attribute description LDAP allows (RFC 4512 §2.5: a keystring or a
/// numeric OID), so that a configured name cannot inject filter syntax.
pub fn valid_attribute(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() => chars.all(|c| c.is_ascii_alphanumeric() || c == '-'),
        Some(c) if c.is_ascii_digit() => name
            .split('.')
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit())),
        _ => false,
    }
}

/// Keeps attribute names to the characters LDAP allows (defence in depth: names are
/// validated when the mapping is checked).
fn attr_name(a: &str) -> String {
    a.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
        .collect()
}

/// Where a room's building comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum BuildingFrom {
    /// The nearest `ou` above the room in its DN (buildings are organizational units).
    ParentOu,
    /// An attribute of the room.
    Attribute(String),
}

/// Where a person's groups come from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum GroupsFrom {
    /// Groups matching `groups` whose `member` attribute holds the person's DN.
    Member { attribute: String },
    /// An attribute of the person listing group DNs (`memberOf`).
    MemberOf { attribute: String },
}

/// The attribute mapping.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// Where searches start.
    pub base_dn: String,
    pub rooms: Selector,
    pub people: Selector,
    pub groups: Selector,
    /// The stable id: `entryUUID` (OpenLDAP) or `objectGUID` (AD). Falls back to the DN.
    pub id: String,
    pub login: String,
    pub person_name: String,
    pub email: String,
    pub room_name: String,
    pub building: BuildingFrom,
    pub capacity: String,
    pub equipment: String,
    pub policy: Option<String>,
    pub approver_group: Option<String>,
    pub resource_type: Option<String>,
    pub floor: Option<String>,
    pub time_zone: Option<String>,
    pub description: Option<String>,
    /// The room's e-mail address, its calendar-user address for scheduling (RFC 6638).
    pub room_email: Option<String>,
    /// The room's parts (a divisible hall's halves), as DNs of other rooms: `lokalPart` in
    /// our schema; no attribute in the Active Directory preset. `None`: no room has parts.
    #[serde(default)]
    pub parts: Option<String>,
    pub member_groups: GroupsFrom,
    /// Members of these groups are clerks.
    pub clerk_groups: Vec<String>,
    /// Members of these groups are administrators.
    pub admin_groups: Vec<String>,
}

/// The named starting points for a mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    Openldap,
    ActiveDirectory,
}

impl Mapping {
    /// OpenLDAP with Lokal's schema (`seed/schema/lokal.schema`).
    pub fn openldap(base_dn: &str) -> Self {
        Mapping {
            base_dn: base_dn.to_owned(),
            rooms: Selector::All(vec![
                Selector::ObjectClass("room".into()),
                Selector::ObjectClass("lokalBookable".into()),
            ]),
            people: Selector::ObjectClass("inetOrgPerson".into()),
            groups: Selector::ObjectClass("groupOfNames".into()),
            id: "entryUUID".into(),
            login: "uid".into(),
            person_name: "cn".into(),
            email: "mail".into(),
            room_name: "cn".into(),
            building: BuildingFrom::ParentOu,
            capacity: "lokalCapacity".into(),
            equipment: "lokalEquipment".into(),
            policy: Some("lokalPolicy".into()),
            approver_group: Some("lokalApproverGroup".into()),
            resource_type: Some("lokalResourceType".into()),
            floor: Some("lokalFloor".into()),
            time_zone: Some("lokalTimeZone".into()),
            description: Some("description".into()),
            room_email: Some("mail".into()),
            parts: Some("lokalPart".into()),
            member_groups: GroupsFrom::Member {
                attribute: "member".into(),
            },
            clerk_groups: Vec::new(),
            admin_groups: Vec::new(),
        }
    }

    /// Active Directory with Exchange room mailboxes.
    pub fn active_directory(base_dn: &str) -> Self {
        Mapping {
            base_dn: base_dn.to_owned(),
            rooms: Selector::Equals("msExchRecipientTypeDetails".into(), "16".into()),
            people: Selector::Equals("msExchRecipientTypeDetails".into(), "1".into()),
            groups: Selector::ObjectClass("group".into()),
            id: "objectGUID".into(),
            login: "sAMAccountName".into(),
            person_name: "displayName".into(),
            email: "mail".into(),
            room_name: "displayName".into(),
            building: BuildingFrom::Attribute("physicalDeliveryOfficeName".into()),
            capacity: "msExchResourceCapacity".into(),
            equipment: "msExchResourceSearchProperties".into(),
            policy: None,
            approver_group: None,
            resource_type: None,
            floor: None,
            time_zone: None,
            description: Some("description".into()),
            room_email: Some("mail".into()),
            // Exchange has no attribute for this; a site names one (e.g. an
            // extensionAttribute holding DNs) through `directory.mapping.parts`.
            parts: None,
            member_groups: GroupsFrom::MemberOf {
                attribute: "memberOf".into(),
            },
            clerk_groups: Vec::new(),
            admin_groups: Vec::new(),
        }
    }

    pub fn preset(preset: Preset, base_dn: &str) -> Self {
        match preset {
            Preset::Openldap => Self::openldap(base_dn),
            Preset::ActiveDirectory => Self::active_directory(base_dn),
        }
    }

    /// Checks every attribute name and the base DN. Called before a directory is opened.
    pub fn validate(&self) -> Result<(), String> {
        if super::dn::parse(&self.base_dn).is_none_or(|rdns| rdns.is_empty()) {
            return Err(format!("the base DN {:?} is not a DN", self.base_dn));
        }
        let mut names: Vec<String> = self.room_attributes();
        names.extend(self.person_attributes());
        for selector in [&self.rooms, &self.people, &self.groups] {
            names.extend(selector.attributes().into_iter().map(str::to_owned));
        }
        match &self.member_groups {
            GroupsFrom::Member { attribute } | GroupsFrom::MemberOf { attribute } => {
                names.push(attribute.clone())
            }
        }
        match names.into_iter().find(|n| !valid_attribute(n)) {
            Some(bad) => Err(format!("{bad:?} is not an attribute name")),
            None => Ok(()),
        }
    }

    /// The attributes to ask a server for when reading rooms.
    pub fn room_attributes(&self) -> Vec<String> {
        let mut attrs = vec![
            self.id.clone(),
            self.room_name.clone(),
            self.capacity.clone(),
            self.equipment.clone(),
            "cn".into(),
            "objectClass".into(),
        ];
        if let BuildingFrom::Attribute(a) = &self.building {
            attrs.push(a.clone());
        }
        attrs.extend(
            [
                &self.policy,
                &self.approver_group,
                &self.resource_type,
                &self.floor,
                &self.time_zone,
                &self.description,
                &self.room_email,
                &self.parts,
            ]
            .into_iter()
            .flatten()
            .cloned(),
        );
        attrs
    }

    /// The attributes to ask a server for when reading people.
    pub fn person_attributes(&self) -> Vec<String> {
        let mut attrs = vec![
            self.id.clone(),
            self.login.clone(),
            self.person_name.clone(),
            self.email.clone(),
            "cn".into(),
        ];
        if let GroupsFrom::MemberOf { attribute } = &self.member_groups {
            attrs.push(attribute.clone());
        }
        attrs
    }

    /// The entry's stable id: the id attribute (a GUID rendered in its usual text form), or
    /// the normalized DN when the entry has none.
    pub fn stable_id(&self, entry: &Entry) -> String {
        match entry.values(&self.id).first() {
            Some(raw) if self.id.eq_ignore_ascii_case("objectGUID") && raw.len() == 16 => {
                guid_text(raw)
            }
            Some(raw) => match std::str::from_utf8(raw) {
                Ok(s) if !s.trim().is_empty() => s.trim().to_ascii_lowercase(),
                _ => dn::normalize(&entry.dn),
            },
            None => dn::normalize(&entry.dn),
        }
    }

    /// Reads a room. Malformed values (a capacity that is not a number) are left out rather
    /// than failing the whole listing.
    pub fn room(&self, entry: &Entry) -> DirRoom {
        let building = match &self.building {
            BuildingFrom::ParentOu => dn::parse(&entry.dn).and_then(|rdns| {
                rdns.iter()
                    .skip(1)
                    .flat_map(|avas| avas.iter())
                    .find(|a| a.attr == "ou")
                    .map(|a| a.value.clone())
            }),
            BuildingFrom::Attribute(a) => entry.text(a),
        };
        let opt = |a: &Option<String>| a.as_ref().and_then(|a| entry.text(a));
        let mut equipment = entry.texts(&self.equipment);
        equipment.sort();
        let mut parts: Vec<String> = self
            .parts
            .as_ref()
            .map(|a| entry.texts(a))
            .unwrap_or_default()
            .into_iter()
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .map(|p| dn::canonical(&p))
            .collect();
        parts.sort_by_key(|p| dn::normalize(p));
        parts.dedup_by(|a, b| dn::same(a, b));
        DirRoom {
            id: self.stable_id(entry),
            dn: dn::canonical(&entry.dn),
            name: entry
                .text(&self.room_name)
                .or_else(|| entry.text("cn"))
                .unwrap_or_else(|| entry.dn.clone()),
            building,
            capacity: entry
                .text(&self.capacity)
                .and_then(|c| c.trim().parse().ok()),
            equipment,
            policy: opt(&self.policy),
            approver_group: opt(&self.approver_group).map(|g| dn::canonical(&g)),
            resource_type: opt(&self.resource_type),
            floor: opt(&self.floor),
            time_zone: opt(&self.time_zone),
            description: opt(&self.description),
            email: opt(&self.room_email).and_then(|m| room_address(&m)),
            parts,
        }
    }

    /// Reads a person (groups are filled in separately).
    pub fn person(&self, entry: &Entry) -> Person {
        Person {
            id: self.stable_id(entry),
            dn: dn::canonical(&entry.dn),
            login: entry.text(&self.login).unwrap_or_default(),
            name: entry
                .text(&self.person_name)
                .or_else(|| entry.text("cn"))
                .unwrap_or_default(),
            email: entry.text(&self.email),
        }
    }
}

/// A room's e-mail address as its calendar-user address uses it: trimmed, a `mailto:` or
/// Exchange `SMTP:` prefix dropped, and only if it looks like an address (`local@domain`, no
/// spaces); anything else is left out, as a malformed capacity is.
fn room_address(value: &str) -> Option<String> {
    let v = value.trim();
    let v = ["mailto:", "smtp:"]
        .iter()
        .find_map(|p| {
            v.get(..p.len())
                .filter(|head| head.eq_ignore_ascii_case(p))
                .map(|_| &v[p.len()..])
        })
        .unwrap_or(v);
    let (local, domain) = v.split_once('@')?;
    let plausible = !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && !v
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>');
    plausible.then(|| v.to_owned())
}

/// Renders a 16-byte GUID as Windows does: the first three fields little-endian.
fn guid_text(b: &[u8]) -> String {
    format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[3],
        b[2],
        b[1],
        b[0],
        b[5],
        b[4],
        b[7],
        b[6],
        b[8],
        b[9],
        b[10],
        b[11],
        b[12],
        b[13],
        b[14],
        b[15]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_render_escaped_filters_and_match_the_same_entries() {
        let s = Selector::All(vec![
            Selector::ObjectClass("room".into()),
            Selector::Equals("cn".into(), "Gymsal A+B, (delbar)".into()),
        ]);
        assert_eq!(
            s.to_filter(),
            "(&(objectClass=room)(cn=Gymsal A+B, \\28delbar\\29))"
        );
        let mut e = Entry::new("cn=x");
        e.add("objectClass", b"Room".to_vec());
        e.add("CN", b"gymsal a+b, (delbar)".to_vec());
        assert!(s.matches(&e));
        assert_eq!(
            Selector::Equals("uid)(x".into(), "*".into()).to_filter(),
            "(uidx=\\2a)"
        );
    }

    #[test]
    fn values_compare_as_case_ignore_match_does() {
        assert_eq!(fold("  ØYVIND.ÅS "), fold("øyvind.ås"));
        assert_eq!(fold("ＡＳＴＲＩＤ.ＭＯＥＮ"), "astrid.moen");
        assert_eq!(fold("Gymsal  A+B"), "gymsal a+b");
    }

    #[test]
    fn attribute_names_from_config_are_checked() {
        assert!(
            valid_attribute("sAMAccountName")
                && valid_attribute("msExch-x1")
                && valid_attribute("2.5.4.3")
        );
        for bad in ["", "uid=*)(cn", "1uid", "cn;lang-en", "a b", "2..5"] {
            assert!(!valid_attribute(bad), "{bad:?}");
        }
        let mut m = Mapping::openldap("dc=x");
        m.login = "uid=*)(cn".into();
        assert!(m.validate().is_err());
        assert!(Mapping::openldap("").validate().is_err());
        assert!(Mapping::active_directory("dc=ad,dc=x").validate().is_ok());
    }

    #[test]
    fn tagged_values_are_left_out_and_binary_is_kept() {
        let mut e = Entry::new("cn=x");
        e.add("cn", b"Storhall".to_vec());
        e.add("cn;lang-en", b"Great Hall".to_vec());
        e.add("userPassword;lang-en", b"pw".to_vec());
        e.add("objectGUID;binary", vec![1, 2]);
        assert_eq!(e.texts("cn"), ["Storhall"]);
        assert!(e.values("userPassword").is_empty());
        assert_eq!(e.values("objectGUID"), [vec![1, 2]]);
    }

    #[test]
    fn an_object_guid_is_shown_in_windows_form() {
        let raw: Vec<u8> = (0u8..16).collect();
        assert_eq!(guid_text(&raw), "03020100-0504-0706-0809-0a0b0c0d0e0f");
    }

    #[test]
    fn the_building_is_the_nearest_ou_above_the_room() {
        let mut e = Entry::new("cn=Gymsal A\\+B\\, (delbar),ou=Idrettshallen,ou=Buildings,dc=x");
        e.add("cn", b"Gymsal A+B, (delbar)".to_vec());
        e.add("lokalCapacity", b"not a number".to_vec());
        let r = Mapping::openldap("dc=x").room(&e);
        assert_eq!(r.building.as_deref(), Some("Idrettshallen"));
        assert_eq!(r.name, "Gymsal A+B, (delbar)");
        assert_eq!(r.capacity, None);
        assert_eq!(r.email, None);
    }

    #[test]
    fn a_rooms_mail_is_its_address_when_it_looks_like_one() {
        let room = |mail: &str| {
            let mut e = Entry::new("cn=Storsalen,ou=Kulturhuset,dc=x");
            e.add("mail", mail.as_bytes().to_vec());
            Mapping::openldap("dc=x").room(&e).email
        };
        assert_eq!(
            room(" storsalen@rom.x.no "),
            Some("storsalen@rom.x.no".into())
        );
        assert_eq!(
            room("MAILTO:Storsalen@Rom.x.no"),
            Some("Storsalen@Rom.x.no".into())
        );
        assert_eq!(
            room("SMTP:storsalen@rom.x.no"),
            Some("storsalen@rom.x.no".into())
        );
        for bad in [
            "storsalen",
            "@rom.x.no",
            "storsalen@",
            "a b@x.no",
            "a@b@c",
            "<a@b.no>",
        ] {
            assert_eq!(room(bad), None, "{bad:?}");
        }
        let mut e = Entry::new("cn=Storsalen,dc=x");
        e.add("mail", b"storsalen@rom.x.no".to_vec());
        let mut m = Mapping::active_directory("dc=x");
        assert_eq!(m.room(&e).email.as_deref(), Some("storsalen@rom.x.no"));
        m.room_email = None;
        assert_eq!(m.room(&e).email, None);
    }
}
