//! Configuration: embedded defaults, then `lokal.toml`, then `LOKAL_*` environment variables
//! (nested keys joined by `__`, e.g. `LOKAL_DIRECTORY__URL`). This is the only module that
//! reads the environment.
//!
//! The defaults run Lokal on the demo data: the directory is `seed/directory.ldif`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::{Deserialize, Serialize};

use crate::directory::{BuildingFrom, GroupsFrom, LdapSettings, Mapping, Preset, Selector};

/// The whole configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub directory: DirectoryConfig,
    pub store: StoreConfig,
    pub scheduling: SchedulingConfig,
    pub auth: AuthConfig,
    /// Email and webhooks about bookings (docs/notifications.md).
    #[serde(default)]
    pub notify: crate::notify::NotifyConfig,
}

/// `lokal serve`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// The address to listen on; `--listen` overrides it.
    pub listen: String,
    /// Creates demo bookings on first start (when the store has none).
    pub demo_data: bool,
    /// The largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// How often pending requests are checked for an expired hold, in seconds.
    pub expiry_interval_secs: u64,
    /// `text` or `json` (one JSON object per line, for log collectors).
    pub log_format: LogFormat,
    /// The address people reach Lokal at, for links in mails and webhooks (e.g.
    /// `https://booking.kommune.no`); empty means `http://localhost:<port of listen>`.
    #[serde(default)]
    pub public_url: String,
    /// Connections served at once. The cap in force is at most the open-file limit less 128
    /// (descriptors for the store, the directory and SMTP); at the cap, the connection idle
    /// longest is closed to make room, or, when every one is in a request, the newcomer gets
    /// `503`.
    pub max_connections: usize,
    /// A connection with no request in progress is closed after this many seconds without a
    /// byte (keep-alive connections between requests, and new ones before their first).
    pub idle_timeout_secs: u64,
    /// A request's head (request line and headers) must be complete within this many seconds
    /// of its first byte.
    pub header_timeout_secs: u64,
    /// A request's body must have arrived within this many seconds.
    pub body_timeout_secs: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Where the rules come from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulingConfig {
    /// The policy file.
    pub policies: PathBuf,
    /// The folder of closure calendars (`NAME.ics`, named by policies).
    pub calendars: PathBuf,
    /// The policy of a room whose directory entry names none.
    pub default_policy: String,
    /// The zone of a room whose directory entry names none.
    pub default_time_zone: String,
}

/// Logins, registrations and password hashing (docs/api.md, "Failed logins").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Failed logins for one account from one client address before each further attempt
    /// waits (`delay_base_secs`, doubling per failure up to `delay_max_secs`). The account is
    /// never locked for other addresses.
    pub max_failures: u32,
    /// How long failures are remembered after the last one.
    pub failure_window_secs: u64,
    /// Failed logins from one client address, over all accounts, before its attempts wait
    /// (password spraying).
    pub address_max_failures: u32,
    /// The first wait after the free failures; each further failure doubles it.
    pub delay_base_secs: u64,
    /// The longest wait.
    pub delay_max_secs: u64,
    /// Client addresses (and accounts per address) remembered at most, per table.
    pub max_tracked: usize,
    /// Failed binds per directory person from clients not known for it (at most 3 from one
    /// address) before only the clients it signed in from lately may try (2 more), so that
    /// strangers cannot make the directory's own lockout policy lock the account. Lokal
    /// causes at most this + 2 failed binds per window: keep that below the directory's
    /// lockout threshold. 0 turns the guard off.
    pub directory_max_failures: u32,
    /// How long those failures are remembered after the last one: at least the directory's
    /// own "reset the lockout counter after" time.
    pub directory_failure_window_secs: u64,
    /// How long a resident's verified password is remembered (as a keyed hash, in memory),
    /// so that each API call does not pay for argon2 again. 0 turns it off.
    pub credential_cache_secs: u64,
    /// Threads that hash and check passwords (argon2, 19 MiB each); 0 means one per core.
    pub hash_threads: usize,
    /// Passwords waiting or being hashed at most; beyond that the answer is 503 with
    /// `Retry-After`. Registrations may fill only half of it.
    pub hash_queue: usize,
    /// New accounts one client address may register at once...
    pub register_burst: u32,
    /// ...and then one per this many seconds.
    pub register_interval_secs: u64,
    /// Reverse proxies (IP addresses or CIDR blocks) whose `client_ip_header` names the
    /// client. Empty: the client is the TCP peer.
    pub trusted_proxies: Vec<String>,
    /// The header a trusted proxy puts the client's address in: `X-Forwarded-For` (the
    /// rightmost entry that is not a trusted proxy counts), `X-Real-IP`, or `Forwarded`.
    pub client_ip_header: String,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            max_failures: 5,
            failure_window_secs: 900,
            address_max_failures: 20,
            delay_base_secs: 1,
            delay_max_secs: 300,
            max_tracked: 100_000,
            directory_max_failures: 6,
            directory_failure_window_secs: 1800,
            credential_cache_secs: 300,
            hash_threads: 0,
            hash_queue: 32,
            register_burst: 10,
            register_interval_secs: 60,
            trusted_proxies: Vec::new(),
            client_ip_header: "X-Forwarded-For".into(),
        }
    }
}

impl AuthConfig {
    /// The identity service's settings.
    pub fn identity_settings(&self) -> Result<crate::identity::IdentitySettings, ConfigError> {
        let secs =
            |s: u64| chrono::TimeDelta::seconds(i64::try_from(s).unwrap_or(i64::MAX / 2_000));
        let client_addrs =
            crate::identity::ClientAddrPolicy::new(&self.trusted_proxies, &self.client_ip_header)
                .map_err(ConfigError)?;
        Ok(crate::identity::IdentitySettings {
            throttle: crate::identity::ThrottleSettings {
                max_failures: self.max_failures,
                address_max_failures: self.address_max_failures,
                window: secs(self.failure_window_secs),
                base_delay: secs(self.delay_base_secs),
                max_delay: secs(self.delay_max_secs),
                max_tracked: self.max_tracked,
                directory_max_failures: self.directory_max_failures,
                directory_window: secs(self.directory_failure_window_secs),
            },
            register_burst: self.register_burst,
            register_interval: secs(self.register_interval_secs),
            client_addrs,
            ..crate::identity::IdentitySettings::default()
        })
    }

    fn validate(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            ("auth.max_failures", self.max_failures),
            ("auth.address_max_failures", self.address_max_failures),
            ("auth.register_burst", self.register_burst),
        ] {
            if value == 0 {
                return Err(ConfigError(format!("{key} must be at least 1")));
            }
        }
        if !(60..=86_400).contains(&self.directory_failure_window_secs) {
            return Err(ConfigError(
                "auth.directory_failure_window_secs must be between 60 and 86400 (a day)".into(),
            ));
        }
        if !(1..=3600).contains(&self.delay_base_secs) {
            return Err(ConfigError(
                "auth.delay_base_secs must be between 1 and 3600".into(),
            ));
        }
        if self.delay_max_secs < self.delay_base_secs || self.delay_max_secs > 86_400 {
            return Err(ConfigError(
                "auth.delay_max_secs must be at least auth.delay_base_secs and at most a day (86400)"
                    .into(),
            ));
        }
        if !(100..=10_000_000).contains(&self.max_tracked) {
            return Err(ConfigError(
                "auth.max_tracked must be between 100 and 10000000".into(),
            ));
        }
        if self.hash_threads > 256 {
            return Err(ConfigError(
                "auth.hash_threads must be at most 256 (0 means one per core); each uses 19 MiB"
                    .into(),
            ));
        }
        if !(2..=100_000).contains(&self.hash_queue) {
            return Err(ConfigError(
                "auth.hash_queue must be between 2 and 100000".into(),
            ));
        }
        if self.register_interval_secs == 0 {
            return Err(ConfigError(
                "auth.register_interval_secs must be at least 1".into(),
            ));
        }
        self.identity_settings().map(|_| ())
    }
}

/// Where Lokal keeps its data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite:PATH` (the file and its folder are created) or `postgres://USER@HOST:PORT/DB`.
    pub url: String,
}

/// Where rooms, people and roles come from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryConfig {
    /// `file:PATH.ldif`, `ldap://HOST[:PORT]` or `ldaps://HOST[:PORT]`.
    pub url: String,
    pub preset: Preset,
    pub base_dn: String,
    /// The service account for searches (LDAP only).
    pub bind_dn: String,
    pub bind_password: String,
    /// Read the service account's password from this file instead (trailing newline dropped).
    pub bind_password_file: Option<PathBuf>,
    pub starttls: bool,
    /// A PEM file of CA certificates to trust besides the system's.
    pub ca_file: Option<PathBuf>,
    /// Turns certificate checks off. For tests only; never in production.
    pub insecure_skip_verify: bool,
    /// The limit for connecting and for each operation, in seconds.
    pub timeout_secs: f64,
    pub page_size: i32,
    /// How often rooms are copied from the directory into the store, in seconds.
    pub sync_interval_secs: u64,
    /// Members of these groups (DNs) are clerks.
    pub clerk_groups: Vec<String>,
    /// Members of these groups (DNs) are administrators.
    pub admin_groups: Vec<String>,
    /// Overrides of the preset's attribute mapping.
    pub mapping: MappingOverrides,
}

/// Any field of the mapping, to override the preset's value.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MappingOverrides {
    pub rooms: Option<Selector>,
    pub people: Option<Selector>,
    pub groups: Option<Selector>,
    pub id: Option<String>,
    pub login: Option<String>,
    pub person_name: Option<String>,
    pub email: Option<String>,
    pub room_name: Option<String>,
    pub building: Option<BuildingFrom>,
    pub capacity: Option<String>,
    pub equipment: Option<String>,
    pub policy: Option<String>,
    pub approver_group: Option<String>,
    pub resource_type: Option<String>,
    pub floor: Option<String>,
    pub time_zone: Option<String>,
    pub description: Option<String>,
    /// The room's e-mail address (`mail` in both presets; empty turns it off).
    pub room_email: Option<String>,
    /// The room's parts, as DNs of other rooms (`lokalPart` in the OpenLDAP preset, none in
    /// Active Directory's; empty turns it off).
    pub parts: Option<String>,
    pub member_groups: Option<GroupsFrom>,
}

const SEED_BASE: &str = "dc=fjordvik,dc=kommune,dc=no";

impl Default for Config {
    fn default() -> Self {
        Config {
            directory: DirectoryConfig {
                url: "file:seed/directory.ldif".into(),
                preset: Preset::Openldap,
                base_dn: SEED_BASE.into(),
                bind_dn: format!("cn=lokal-service,ou=Services,{SEED_BASE}"),
                bind_password: String::new(),
                bind_password_file: None,
                starttls: false,
                ca_file: None,
                insecure_skip_verify: false,
                timeout_secs: 5.0,
                page_size: 500,
                sync_interval_secs: 300,
                clerk_groups: vec![
                    format!("cn=lokal-clerks-raadhuset,ou=Groups,{SEED_BASE}"),
                    format!("cn=lokal-clerks-kulturhuset,ou=Groups,{SEED_BASE}"),
                    format!("cn=lokal-clerks-fjordvik-skole,ou=Groups,{SEED_BASE}"),
                    format!("cn=lokal-clerks-idrettshallen,ou=Groups,{SEED_BASE}"),
                ],
                admin_groups: vec![format!("cn=lokal-admins,ou=Groups,{SEED_BASE}")],
                mapping: MappingOverrides::default(),
            },
            store: StoreConfig {
                url: "sqlite:data/lokal.db".into(),
            },
            server: ServerConfig {
                listen: "127.0.0.1:8080".into(),
                demo_data: true,
                max_body_bytes: 64 * 1024,
                expiry_interval_secs: 60,
                log_format: LogFormat::Text,
                public_url: String::new(),
                max_connections: 10_000,
                idle_timeout_secs: 60,
                header_timeout_secs: 10,
                body_timeout_secs: 30,
            },
            scheduling: SchedulingConfig {
                policies: "seed/policies.toml".into(),
                calendars: "calendars".into(),
                default_policy: "hall".into(),
                default_time_zone: "Europe/Oslo".into(),
            },
            auth: AuthConfig::default(),
            notify: crate::notify::NotifyConfig::default(),
        }
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

impl Config {
    /// Defaults, then the TOML file (if given, or `lokal.toml` if it exists), then `LOKAL_*`.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let env = Env::prefixed("LOKAL_").split("__");
        // The keys the environment sets, taken out of the file before the environment is laid
        // over it (see `Overridden`).
        let overridden: Vec<String> = env.iter().map(|(key, _)| key.to_string()).collect();
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        let path = match file {
            Some(path) => {
                if !path.exists() {
                    return Err(ConfigError(format!("{} does not exist", path.display())));
                }
                path
            }
            None => Path::new("lokal.toml"),
        };
        figment = figment.merge(Overridden {
            inner: Toml::file(path),
            keys: overridden,
        });
        figment = figment.merge(env);
        let config: Config = figment.extract().map_err(|e| ConfigError(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let d = &self.directory;
        if !(d.timeout_secs > 0.0 && d.timeout_secs <= 600.0) {
            return Err(ConfigError(
                "directory.timeout_secs must be between 0 and 600".into(),
            ));
        }
        if !(1..=10_000).contains(&d.page_size) {
            return Err(ConfigError(
                "directory.page_size must be between 1 and 10000".into(),
            ));
        }
        if d.sync_interval_secs == 0 {
            return Err(ConfigError(
                "directory.sync_interval_secs must be at least 1".into(),
            ));
        }
        if self.server.expiry_interval_secs == 0 {
            return Err(ConfigError(
                "server.expiry_interval_secs must be at least 1".into(),
            ));
        }
        if self.server.max_body_bytes < 1024 {
            return Err(ConfigError(
                "server.max_body_bytes must be at least 1024".into(),
            ));
        }
        let srv = &self.server;
        if !(1..=1_000_000).contains(&srv.max_connections) {
            return Err(ConfigError(
                "server.max_connections must be between 1 and 1000000".into(),
            ));
        }
        for (key, value) in [
            ("server.idle_timeout_secs", srv.idle_timeout_secs),
            ("server.header_timeout_secs", srv.header_timeout_secs),
            ("server.body_timeout_secs", srv.body_timeout_secs),
        ] {
            if !(1..=3600).contains(&value) {
                return Err(ConfigError(format!(
                    "{key} must be between 1 and 3600 seconds"
                )));
            }
        }
        const YEAR: u64 = 366 * 24 * 3600;
        for (key, value) in [
            ("auth.failure_window_secs", self.auth.failure_window_secs),
            (
                "auth.register_interval_secs",
                self.auth.register_interval_secs,
            ),
            (
                "auth.credential_cache_secs",
                self.auth.credential_cache_secs,
            ),
            ("directory.sync_interval_secs", d.sync_interval_secs),
            (
                "server.expiry_interval_secs",
                self.server.expiry_interval_secs,
            ),
        ] {
            if value > YEAR {
                return Err(ConfigError(format!(
                    "{key} must be at most a year ({YEAR})"
                )));
            }
        }
        self.auth.validate()?;
        self.notify.validate().map_err(ConfigError)?;
        if !(self.server.public_url.is_empty()
            || self.server.public_url.starts_with("http://")
            || self.server.public_url.starts_with("https://"))
        {
            return Err(ConfigError(
                "server.public_url must start with http:// or https://".into(),
            ));
        }
        if crate::scheduling::Zone::parse(&self.scheduling.default_time_zone).is_err() {
            return Err(ConfigError(format!(
                "scheduling.default_time_zone {:?} is not an IANA time zone",
                self.scheduling.default_time_zone
            )));
        }
        Ok(())
    }
}

/// A provider with the keys the environment sets taken out, so that a `LOKAL_*` variable
/// replaces the file's value at its key whole. Figment merges tables key by key: without this,
/// a selector in the file (`rooms = { all = [...] }`) and one from
/// `LOKAL_DIRECTORY__MAPPING__ROOMS='{ object_class = "room" }'` became one table naming two
/// selectors, of which deserializing took the file's (the first key), and the environment
/// was silently ignored.
struct Overridden<P> {
    inner: P,
    /// Dotted keys, e.g. `directory.mapping.rooms`.
    keys: Vec<String>,
}

impl<P: Provider> Provider for Overridden<P> {
    fn metadata(&self) -> Metadata {
        self.inner.metadata()
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut data = self.inner.data()?;
        for dict in data.values_mut() {
            for key in &self.keys {
                remove_key(dict, key);
            }
        }
        Ok(data)
    }

    fn profile(&self) -> Option<Profile> {
        self.inner.profile()
    }
}

/// Removes a dotted key (`a.b.c`) from nested tables, if it is there.
fn remove_key(dict: &mut Dict, key: &str) {
    match key.split_once('.') {
        None => {
            dict.remove(key);
        }
        Some((head, rest)) => {
            if let Some(Value::Dict(_, inner)) = dict.get_mut(head) {
                remove_key(inner, rest);
            }
        }
    }
}

impl ServerConfig {
    /// The public base URL without a trailing slash: `public_url`, or
    /// `http://localhost:<port>` from `listen`.
    pub fn public_base(&self) -> String {
        if !self.public_url.is_empty() {
            return self.public_url.trim_end_matches('/').to_owned();
        }
        let port = self
            .listen
            .rsplit_once(':')
            .map(|(_, p)| p)
            .unwrap_or("8080");
        format!("http://localhost:{port}")
    }
}

impl DirectoryConfig {
    /// The preset's mapping with the overrides applied.
    pub fn mapping(&self) -> Mapping {
        let mut m = Mapping::preset(self.preset, &self.base_dn);
        let o = self.mapping.clone();
        macro_rules! take {
            ($($field:ident),*) => { $( if let Some(v) = o.$field { m.$field = v; } )* };
        }
        take!(
            rooms,
            people,
            groups,
            id,
            login,
            person_name,
            email,
            room_name,
            building,
            capacity,
            equipment,
            member_groups
        );
        macro_rules! take_opt {
            ($($field:ident),*) => { $( if let Some(v) = o.$field { m.$field = (!v.is_empty()).then_some(v); } )* };
        }
        take_opt!(
            policy,
            approver_group,
            resource_type,
            floor,
            time_zone,
            description,
            room_email,
            parts
        );
        m.clerk_groups = self.clerk_groups.clone();
        m.admin_groups = self.admin_groups.clone();
        m
    }

    /// LDAP connection settings, reading the password file if one is named.
    pub fn ldap_settings(&self) -> Result<LdapSettings, ConfigError> {
        let bind_password = match &self.bind_password_file {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| {
                    ConfigError(format!(
                        "directory.bind_password_file {}: {e}",
                        path.display()
                    ))
                })?
                .trim_end_matches(['\r', '\n'])
                .to_owned(),
            None => self.bind_password.clone(),
        };
        Ok(LdapSettings {
            url: self.url.clone(),
            bind_dn: self.bind_dn.clone(),
            bind_password,
            starttls: self.starttls,
            ca_file: self.ca_file.clone(),
            insecure_skip_verify: self.insecure_skip_verify,
            timeout: Duration::from_secs_f64(self.timeout_secs),
            page_size: self.page_size,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overridden_key_is_taken_out_of_nested_tables_whole() {
        let file = r#"
            [directory.mapping]
            rooms = { all = [{ object_class = "room" }] }
            login = "uid"
            [server]
            listen = "0.0.0.0:80"
        "#;
        let data = Overridden {
            inner: Toml::string(file),
            keys: vec![
                "directory.mapping.rooms".into(),
                "server.nothing.here".into(),
                "store".into(),
            ],
        }
        .data()
        .unwrap();
        let dict = data.values().next().unwrap();
        let mapping = dict["directory"].as_dict().unwrap()["mapping"]
            .as_dict()
            .unwrap();
        assert!(!mapping.contains_key("rooms"));
        assert_eq!(mapping["login"].as_str(), Some("uid"));
        assert_eq!(
            dict["server"].as_dict().unwrap()["listen"].as_str(),
            Some("0.0.0.0:80")
        );
    }

    #[test]
    fn connection_settings_are_checked() {
        let mut config = Config::default();
        config.server.idle_timeout_secs = 0;
        assert!(config.validate().is_err());
        let mut config = Config::default();
        config.server.max_connections = 0;
        assert!(config.validate().is_err());
        assert!(Config::default().validate().is_ok());
    }
}
