//! The `ldap://` and `ldaps://` backend, through ldap3.
//!
//! - Searches run as a service account on one shared connection, re-opened after a failure.
//! - Users are authenticated by search-then-bind on a *fresh* connection: clones of an ldap3
//!   handle share one connection, so binding on a clone would change the identity of all.
//! - StartTLS and `ldaps://` check certificates, against the system's CAs plus an optional CA
//!   file.
//! - Every operation has a timeout; searches are paged (RFC 2696), since servers such as AD
//!   cap unpaged searches.
//! - ldap3's entry parsing panics on malformed data; it runs under `catch_unwind`, and
//!   referrals are filtered out before it.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchEntry};
use tokio::sync::Mutex;

use super::mapping::{Entry, GroupsFrom, Mapping};
use super::{DirRoom, Directory, DirectoryError, LdapSettings, Person, Roles, dn, plausible_login};

/// LDAP result code for a failed bind (RFC 4511 §4.1.9).
const INVALID_CREDENTIALS: u32 = 49;

/// A directory on an LDAP server.
pub struct LdapDirectory {
    settings: LdapSettings,
    mapping: Mapping,
    tls: Option<native_tls::TlsConnector>,
    /// The service account's connection, opened on first use and after a failure.
    shared: Mutex<Option<Ldap>>,
}

fn unavailable(e: impl std::fmt::Display) -> DirectoryError {
    DirectoryError::Unavailable(e.to_string())
}

fn from_ldap(e: LdapError) -> DirectoryError {
    match e {
        LdapError::LdapResult { result } if result.rc == INVALID_CREDENTIALS => {
            DirectoryError::InvalidCredentials
        }
        other => unavailable(other),
    }
}

impl LdapDirectory {
    pub fn new(settings: LdapSettings, mapping: Mapping) -> Result<Self, DirectoryError> {
        // An empty password would make the service bind anonymous on many servers, and every
        // search would quietly see nothing.
        if settings.bind_dn.trim().is_empty() || settings.bind_password.is_empty() {
            return Err(DirectoryError::Config(
                "an LDAP directory needs a service account: set directory.bind_dn and directory.bind_password (or bind_password_file)".into(),
            ));
        }
        let needs_tls = settings.starttls || settings.url.starts_with("ldaps://");
        let tls = if needs_tls {
            let mut builder = native_tls::TlsConnector::builder();
            if let Some(path) = &settings.ca_file {
                let pem = std::fs::read_to_string(path).map_err(|e| {
                    DirectoryError::Config(format!(
                        "cannot read the CA file {}: {e}",
                        path.display()
                    ))
                })?;
                // native-tls reads one certificate per call; a CA file is often a bundle.
                let mut count = 0;
                for block in pem.split("-----BEGIN CERTIFICATE-----").skip(1) {
                    let one = format!("-----BEGIN CERTIFICATE-----{block}");
                    let cert = native_tls::Certificate::from_pem(one.as_bytes()).map_err(|e| {
                        DirectoryError::Config(format!(
                            "{}: a certificate is not valid PEM: {e}",
                            path.display()
                        ))
                    })?;
                    builder.add_root_certificate(cert);
                    count += 1;
                }
                if count == 0 {
                    return Err(DirectoryError::Config(format!(
                        "{} holds no PEM certificate",
                        path.display()
                    )));
                }
            }
            if settings.insecure_skip_verify {
                builder.danger_accept_invalid_certs(true);
            }
            Some(
                builder
                    .build()
                    .map_err(|e| DirectoryError::Config(format!("TLS: {e}")))?,
            )
        } else {
            None
        };
        Ok(LdapDirectory {
            settings,
            mapping,
            tls,
            shared: Mutex::new(None),
        })
    }

    fn timeout(&self) -> Duration {
        self.settings.timeout
    }

    /// Bounds a whole directory call (lock waits, connect, bind and every page) by the
    /// configured timeout.
    async fn deadline<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, DirectoryError>>,
    ) -> Result<T, DirectoryError> {
        tokio::time::timeout(self.timeout(), call)
            .await
            .map_err(|_| {
                unavailable(format!(
                    "no answer from {} within {:?}",
                    self.settings.url,
                    self.timeout()
                ))
            })?
    }

    /// Opens a connection (with StartTLS if configured); nobody is bound yet.
    async fn open(&self) -> Result<Ldap, DirectoryError> {
        let mut conn_settings = LdapConnSettings::new()
            .set_conn_timeout(self.timeout())
            .set_starttls(self.settings.starttls);
        if let Some(tls) = &self.tls {
            conn_settings = conn_settings.set_connector(tls.clone());
        }
        let url = self.settings.url.clone();
        guarded(async move {
            let (conn, ldap) = LdapConnAsync::with_settings(conn_settings, &url)
                .await
                .map_err(unavailable)?;
            tokio::spawn(async move {
                // The connection ends with an error when the server goes away; every pending
                // and later operation then fails and is reported as unavailable.
                let _ = conn.drive().await;
            });
            Ok(ldap)
        })
        .await
    }

    /// The service account's connection, opened and bound if needed. The lock is held only
    /// to look and to store, never while talking to the server.
    async fn service(&self) -> Result<Ldap, DirectoryError> {
        {
            let mut shared = self.shared.lock().await;
            if let Some(ldap) = shared.as_mut()
                && !ldap.is_closed()
            {
                return Ok(ldap.clone());
            }
        }
        let ldap = self.open().await?;
        match bind(
            ldap.clone(),
            &self.settings.bind_dn,
            &self.settings.bind_password,
            self.timeout(),
        )
        .await
        {
            Ok(()) => {}
            Err(DirectoryError::InvalidCredentials) => {
                return Err(DirectoryError::Config(format!(
                    "the service account {:?} was refused by the server (invalid credentials)",
                    self.settings.bind_dn
                )));
            }
            Err(e) => return Err(e),
        }
        *self.shared.lock().await = Some(ldap.clone());
        Ok(ldap)
    }

    /// Forgets the shared connection so the next call reconnects.
    async fn drop_shared(&self) {
        *self.shared.lock().await = None;
    }

    /// A paged search as the service account, read into entries.
    async fn search(
        &self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: Vec<String>,
    ) -> Result<Vec<Entry>, DirectoryError> {
        let result = match self.service().await {
            Ok(ldap) => {
                guarded(run_search(
                    ldap,
                    base.to_owned(),
                    scope,
                    filter.to_owned(),
                    attrs,
                    self.timeout(),
                    self.settings.page_size,
                ))
                .await
            }
            Err(e) => Err(e),
        };
        if matches!(
            result,
            Err(DirectoryError::Unavailable(_) | DirectoryError::Malformed(_))
        ) {
            self.drop_shared().await;
        }
        result
    }

    async fn person_entry(&self, login: &str) -> Result<Option<Entry>, DirectoryError> {
        if !plausible_login(login) {
            return Ok(None);
        }
        let filter = format!(
            "(&{}({}={}))",
            self.mapping.people.to_filter(),
            self.mapping.login,
            dn::escape_filter_value(login)
        );
        let mut found = self
            .search(
                &self.mapping.base_dn,
                Scope::Subtree,
                &filter,
                self.mapping.person_attributes(),
            )
            .await?;
        // Exactly one: two people with one login are refused rather than guessed between.
        Ok(if found.len() == 1 { found.pop() } else { None })
    }
}

/// Runs one exchange with the server in its own task, so that a panic inside ldap3 (it
/// panics on some malformed replies) becomes an error instead of unwinding through Lokal.
async fn guarded<T: Send + 'static>(
    exchange: impl std::future::Future<Output = Result<T, DirectoryError>> + Send + 'static,
) -> Result<T, DirectoryError> {
    match tokio::spawn(exchange).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => Err(DirectoryError::Malformed(
            "the server sent a reply the LDAP client could not parse".into(),
        )),
        Err(e) => Err(unavailable(e)),
    }
}

/// A simple bind on `ldap`.
async fn bind(mut ldap: Ldap, dn: &str, password: &str, t: Duration) -> Result<(), DirectoryError> {
    let (dn, password) = (dn.to_owned(), password.to_owned());
    guarded(async move {
        let result = ldap
            .with_timeout(t)
            .simple_bind(&dn, &password)
            .await
            .map_err(unavailable)?;
        result.success().map(|_| ()).map_err(from_ldap)
    })
    .await
}

/// A paged search, read into entries.
async fn run_search(
    mut ldap: Ldap,
    base: String,
    scope: Scope,
    filter: String,
    attrs: Vec<String>,
    t: Duration,
    page_size: i32,
) -> Result<Vec<Entry>, DirectoryError> {
    let adapters: Vec<Box<dyn Adapter<'_, String, Vec<String>>>> = vec![
        Box::new(EntriesOnly::new()),
        Box::new(PagedResults::new(page_size)),
    ];
    let mut stream = ldap
        .with_timeout(t)
        .streaming_search_with(adapters, &base, scope, &filter, attrs)
        .await
        .map_err(unavailable)?;
    let mut entries = Vec::new();
    while let Some(raw) = stream.next().await.map_err(unavailable)? {
        // ldap3 panics on malformed entries; keep that inside this call.
        let parsed = std::panic::catch_unwind(AssertUnwindSafe(|| SearchEntry::construct(raw)))
            .map_err(|_| DirectoryError::Malformed("an entry could not be parsed".into()))?;
        let mut e = Entry::new(parsed.dn);
        for (name, values) in parsed.attrs {
            for v in values {
                e.add(&name, v.into_bytes());
            }
        }
        for (name, values) in parsed.bin_attrs {
            for v in values {
                e.add(&name, v);
            }
        }
        entries.push(e);
    }
    let done = stream.finish().await;
    match done.rc {
        0 => Ok(entries),
        // noSuchObject: a base below the configured one (a person's DN) is gone.
        32 if scope == Scope::Base => Ok(Vec::new()),
        32 => Err(DirectoryError::Config(format!(
            "the base DN {base:?} does not exist on the server"
        ))),
        rc => Err(unavailable(format!(
            "the search failed: result code {rc} {}",
            done.text
        ))),
    }
}

#[async_trait::async_trait]
impl Directory for LdapDirectory {
    async fn rooms(&self) -> Result<Vec<DirRoom>, DirectoryError> {
        self.deadline(async {
            let entries = self
                .search(
                    &self.mapping.base_dn,
                    Scope::Subtree,
                    &self.mapping.rooms.to_filter(),
                    self.mapping.room_attributes(),
                )
                .await?;
            let mut rooms: Vec<DirRoom> = entries.iter().map(|e| self.mapping.room(e)).collect();
            rooms.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
            Ok(rooms)
        })
        .await
    }

    async fn find_person(&self, login: &str) -> Result<Option<Person>, DirectoryError> {
        self.deadline(async {
            Ok(self
                .person_entry(login)
                .await?
                .map(|e| self.mapping.person(&e)))
        })
        .await
    }

    async fn authenticate(&self, login: &str, password: &str) -> Result<Person, DirectoryError> {
        // "DN + empty password" is an anonymous bind that succeeds on many servers (RFC 4513
        // §5.1.2), so it is refused before anything is sent.
        if password.is_empty() {
            return Err(DirectoryError::InvalidCredentials);
        }
        self.deadline(async {
            let entry = self
                .person_entry(login)
                .await?
                .ok_or(DirectoryError::InvalidCredentials)?;
            // A fresh connection: binding on the shared one would change its identity.
            let user_conn = self.open().await?;
            let outcome = bind(user_conn.clone(), &entry.dn, password, self.timeout()).await;
            let mut closing = user_conn;
            tokio::spawn(async move {
                let _ = closing.unbind().await;
            });
            outcome.map(|()| self.mapping.person(&entry))
        })
        .await
    }

    async fn roles(&self, person: &Person) -> Result<Roles, DirectoryError> {
        self.deadline(async {
            let groups: Vec<String> = match &self.mapping.member_groups {
                GroupsFrom::Member { attribute } => {
                    let filter = format!(
                        "(&{}({}={}))",
                        self.mapping.groups.to_filter(),
                        attribute,
                        dn::escape_filter_value(&person.dn)
                    );
                    self.search(
                        &self.mapping.base_dn,
                        Scope::Subtree,
                        &filter,
                        vec!["1.1".into()],
                    )
                    .await?
                    .into_iter()
                    .map(|e| e.dn)
                    .collect()
                }
                GroupsFrom::MemberOf { attribute } => self
                    .search(
                        &person.dn,
                        Scope::Base,
                        "(objectClass=*)",
                        vec![attribute.clone()],
                    )
                    .await?
                    .iter()
                    .flat_map(|e| e.texts(attribute))
                    .collect(),
            };
            Ok(Roles::from_groups(&self.mapping, groups))
        })
        .await
    }

    async fn group_members(&self, group_dn: &str) -> Result<Vec<Person>, DirectoryError> {
        self.deadline(async {
            let entries = match &self.mapping.member_groups {
                GroupsFrom::Member { attribute } => {
                    let member_dns: Vec<String> = self
                        .search(
                            group_dn,
                            Scope::Base,
                            "(objectClass=*)",
                            vec![attribute.clone()],
                        )
                        .await?
                        .iter()
                        .flat_map(|e| e.texts(attribute))
                        .collect();
                    let mut found = Vec::new();
                    for member in member_dns {
                        // A member that is not a person (a nested group) or is gone is skipped.
                        if let Ok(mut e) = self
                            .search(
                                &member,
                                Scope::Base,
                                &self.mapping.people.to_filter(),
                                self.mapping.person_attributes(),
                            )
                            .await
                        {
                            found.append(&mut e);
                        }
                    }
                    found
                }
                GroupsFrom::MemberOf { attribute } => {
                    let filter = format!(
                        "(&{}({}={}))",
                        self.mapping.people.to_filter(),
                        attribute,
                        dn::escape_filter_value(group_dn)
                    );
                    self.search(
                        &self.mapping.base_dn,
                        Scope::Subtree,
                        &filter,
                        self.mapping.person_attributes(),
                    )
                    .await?
                }
            };
            Ok(entries.iter().map(|e| self.mapping.person(e)).collect())
        })
        .await
    }

    async fn health(&self) -> Result<(), DirectoryError> {
        self.deadline(async {
            let found = self
                .search(&self.mapping.base_dn, Scope::Base, "(objectClass=*)", vec!["1.1".into()])
                .await?;
            if found.is_empty() {
                return Err(DirectoryError::Config(format!(
                    "the base DN {:?} does not exist on the server, or the service account cannot read it",
                    self.mapping.base_dn
                )));
            }
            Ok(())
        })
        .await
    }
}
