//! The `file:` backend: an LDIF file read once, answering like slapd loaded with the same file.

use std::path::Path;

use super::ldif;
use super::mapping::{Entry, GroupsFrom, Mapping};
use super::{DirRoom, Directory, DirectoryError, Person, Roles, dn, password, plausible_login};

/// A directory held in memory from an LDIF file.
pub struct FileDirectory {
    mapping: Mapping,
    entries: Vec<Entry>,
}

impl FileDirectory {
    pub fn open(path: &Path, mapping: Mapping) -> Result<Self, DirectoryError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| DirectoryError::Config(format!("cannot read {}: {e}", path.display())))?;
        Self::from_ldif(&text, mapping).map_err(|e| match e {
            DirectoryError::Config(m) => DirectoryError::Config(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    pub fn from_ldif(text: &str, mapping: Mapping) -> Result<Self, DirectoryError> {
        let entries = ldif::parse(text)
            .map_err(|e| DirectoryError::Config(e.to_string()))?
            .into_iter()
            .map(|le| {
                let mut e = Entry::new(le.dn);
                for (name, value) in le.attrs {
                    e.add(&name, value);
                }
                e
            })
            .collect();
        Ok(FileDirectory { mapping, entries })
    }

    /// Entries under the mapping's base DN (subtree scope) matching `selector`.
    fn under_base<'a>(
        &'a self,
        selector: &'a super::Selector,
    ) -> impl Iterator<Item = &'a Entry> + 'a {
        let base = dn::normalize(&self.mapping.base_dn);
        let suffix = format!(",{base}");
        self.entries.iter().filter(move |e| {
            let d = dn::normalize(&e.dn);
            (d == base || d.ends_with(&suffix)) && selector.matches(e)
        })
    }

    fn person_entry(&self, login: &str) -> Result<Option<&Entry>, DirectoryError> {
        if !plausible_login(login) {
            return Ok(None);
        }
        // Logins compare as caseIgnoreMatch does on a server (case, width, spaces).
        let want = super::mapping::fold(login);
        let mut found = self.under_base(&self.mapping.people).filter(|e| {
            e.texts(&self.mapping.login)
                .iter()
                .any(|v| super::mapping::fold(v) == want)
        });
        match (found.next(), found.next()) {
            (Some(e), None) => Ok(Some(e)),
            // Two people with one login: refuse rather than pick one.
            _ => Ok(None),
        }
    }
}

#[async_trait::async_trait]
impl Directory for FileDirectory {
    async fn rooms(&self) -> Result<Vec<DirRoom>, DirectoryError> {
        let mut rooms: Vec<DirRoom> = self
            .under_base(&self.mapping.rooms)
            .map(|e| self.mapping.room(e))
            .collect();
        rooms.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
        Ok(rooms)
    }

    async fn find_person(&self, login: &str) -> Result<Option<Person>, DirectoryError> {
        Ok(self.person_entry(login)?.map(|e| self.mapping.person(e)))
    }

    async fn authenticate(&self, login: &str, password: &str) -> Result<Person, DirectoryError> {
        // An empty password would be an anonymous bind on a server: refuse it first.
        if password.is_empty() {
            return Err(DirectoryError::InvalidCredentials);
        }
        let entry = self
            .person_entry(login)?
            .ok_or(DirectoryError::InvalidCredentials)?;
        if entry
            .values("userPassword")
            .iter()
            .any(|stored| password::verify(stored, password))
        {
            Ok(self.mapping.person(entry))
        } else {
            Err(DirectoryError::InvalidCredentials)
        }
    }

    async fn roles(&self, person: &Person) -> Result<Roles, DirectoryError> {
        let groups: Vec<String> = match &self.mapping.member_groups {
            GroupsFrom::Member { attribute } => {
                let me = dn::normalize(&person.dn);
                self.under_base(&self.mapping.groups)
                    .filter(|g| g.texts(attribute).iter().any(|m| dn::normalize(m) == me))
                    .map(|g| g.dn.clone())
                    .collect()
            }
            // memberOf is whatever the entry stores, as a server returns it.
            GroupsFrom::MemberOf { attribute } => self
                .entries
                .iter()
                .filter(|e| dn::same(&e.dn, &person.dn))
                .flat_map(|e| e.texts(attribute))
                .collect(),
        };
        Ok(Roles::from_groups(&self.mapping, groups))
    }

    async fn group_members(&self, group_dn: &str) -> Result<Vec<Person>, DirectoryError> {
        let people = self.under_base(&self.mapping.people);
        Ok(match &self.mapping.member_groups {
            GroupsFrom::Member { attribute } => {
                let members: Vec<String> = self
                    .under_base(&self.mapping.groups)
                    .filter(|g| dn::same(&g.dn, group_dn))
                    .flat_map(|g| g.texts(attribute))
                    .map(|m| dn::normalize(&m))
                    .collect();
                people
                    .filter(|p| members.contains(&dn::normalize(&p.dn)))
                    .map(|p| self.mapping.person(p))
                    .collect()
            }
            GroupsFrom::MemberOf { attribute } => people
                .filter(|p| p.texts(attribute).iter().any(|g| dn::same(g, group_dn)))
                .map(|p| self.mapping.person(p))
                .collect(),
        })
    }

    async fn health(&self) -> Result<(), DirectoryError> {
        // Like a base search on a server: the base entry must exist.
        if self
            .entries
            .iter()
            .any(|e| dn::same(&e.dn, &self.mapping.base_dn))
        {
            Ok(())
        } else {
            Err(DirectoryError::Config(format!(
                "the base DN {:?} is not in the LDIF file",
                self.mapping.base_dn
            )))
        }
    }
}
