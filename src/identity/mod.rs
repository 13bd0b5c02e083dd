//! Who is calling: residents (accounts in the store) and staff (directory logins).
//!
//! Identity is a chain of [`IdentityProvider`]s, so another kind of login (OpenID Connect
//! through ID-porten) can be added as one more provider without touching the API. A provider
//! answers "this is not mine" (`Ok(None)`), "this is X", or "I cannot tell right now"
//! (unavailable); only when no provider claims a login and one was unavailable does the
//! caller get 503 instead of 401.
//!
//! Failed logins are throttled per (account, client address) and per client address, with
//! growing delays ([`throttle`]); an account is never locked for everyone. Passwords are hashed
//! and checked on a bounded pool ([`hashing`]); a login for an email with no account checks a
//! dummy hash, so it takes as long as a wrong password. Who the client is comes from
//! [`client`] (the peer, or a trusted proxy's header).
//!
//! Identity also owns resident registration ([`Identity::register`]: the account and its mail
//! language in one store transaction), the one generator of secret tokens ([`new_token`],
//! [`random_bytes`]) and the one constant-time comparison of secrets ([`constant_time_eq`],
//! from `subtle`), which the faces and the other services use rather than their own.

pub mod client;
pub mod hashing;
pub mod session;
pub mod throttle;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;

use crate::clock::Clock;
use crate::directory::{Directory, DirectoryError, Roles, dn};
use crate::i18n::Lang;
use crate::scheduling::{Requester, RequesterKind};
use crate::store::{ResidentRecord, Store, StoreError};

pub use client::{AddrKey, ClientAddr, ClientAddrPolicy, client_addr};
pub use hashing::{HashError, HashPool, Lane};
pub use throttle::DirectoryGuard;
pub use throttle::ThrottleSettings;
use throttle::{AccountKey, LoginThrottle, RegistrationThrottle, Turns};

/// Why a request's HTTP Basic credentials (RFC 7617) cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialsError {
    /// No `Authorization` header.
    Missing,
    /// A header that is not valid HTTP Basic.
    Malformed,
    /// An empty login or password (an empty password is an anonymous bind on some directories).
    Empty,
}

impl CredentialsError {
    /// What the caller should do, in words.
    pub fn message(self) -> &'static str {
        match self {
            CredentialsError::Missing => {
                "log in with HTTP Basic: a resident's email or a staff login, and the password"
            }
            CredentialsError::Malformed => "the Authorization header is not valid HTTP Basic",
            CredentialsError::Empty => "invalid login or password",
        }
    }
}

/// The login and password of a request's `Authorization: Basic` header, decoded by the
/// `headers` crate (scheme, base64, UTF-8, the first colon).
pub fn basic_credentials(
    headers: &axum::http::HeaderMap,
) -> Result<(String, String), CredentialsError> {
    use axum_extra::headers::HeaderMapExt as _;
    use axum_extra::headers::authorization::{Authorization, Basic};
    if !headers.contains_key(axum::http::header::AUTHORIZATION) {
        return Err(CredentialsError::Missing);
    }
    let Some(Authorization(basic)) = headers.typed_get::<Authorization<Basic>>() else {
        return Err(CredentialsError::Malformed);
    };
    if basic.username().is_empty() || basic.password().is_empty() {
        return Err(CredentialsError::Empty);
    }
    Ok((basic.username().to_owned(), basic.password().to_owned()))
}

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Principal {
    Resident {
        id: String,
        email: String,
        name: String,
    },
    Staff {
        id: String,
        login: String,
        name: String,
        roles: Roles,
    },
}

impl Principal {
    /// The id bookings are filed under: `resident:<id>` or `staff:<directory id>`.
    pub fn requester_id(&self) -> String {
        match self {
            Principal::Resident { id, .. } => format!("resident:{id}"),
            Principal::Staff { id, .. } => format!("staff:{id}"),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Principal::Resident { name, .. } | Principal::Staff { name, .. } => name,
        }
    }

    /// The core's view: kind and group names (the first RDN value of each group DN).
    pub fn requester(&self) -> Requester {
        match self {
            Principal::Resident { .. } => Requester {
                id: self.requester_id(),
                kind: RequesterKind::Resident,
                groups: Vec::new(),
            },
            Principal::Staff { roles, .. } => Requester {
                id: self.requester_id(),
                kind: RequesterKind::Staff,
                groups: roles.groups.iter().filter_map(|g| group_name(g)).collect(),
            },
        }
    }

    /// Whether the caller is in the group named by `group_dn`.
    pub fn is_member_of(&self, group_dn: &str) -> bool {
        match self {
            Principal::Staff { roles, .. } => roles.is_member_of(group_dn),
            Principal::Resident { .. } => false,
        }
    }

    pub fn is_admin(&self) -> bool {
        matches!(self, Principal::Staff { roles, .. } if roles.admin)
    }

    pub fn is_clerk(&self) -> bool {
        matches!(self, Principal::Staff { roles, .. } if roles.clerk || roles.admin)
    }
}

/// `cn=kultur,ou=Groups,…` → `kultur`.
fn group_name(group_dn: &str) -> Option<String> {
    let first = dn::canonical(group_dn);
    let rdn = first.split(',').next()?;
    let (_, value) = rdn.split_once('=')?;
    Some(value.trim().to_owned())
}

/// Why a login failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("invalid login or password")]
    InvalidCredentials,
    /// This account from this address (or this address at all) failed too often lately.
    #[error("too many failed logins from your address; try again in {retry_after_secs} s")]
    TooManyFailures { retry_after_secs: u64 },
    /// The account's budget of failed directory logins is spent and this client is not one
    /// it signed in from lately: asking the directory again could lock the account there.
    #[error("too many failed logins for this account lately; try again in {retry_after_secs} s")]
    AccountGuarded { retry_after_secs: u64 },
    /// The password-hashing queue is full.
    #[error("the server is busy checking other passwords; try again in {retry_after_secs} s")]
    Busy { retry_after_secs: u64 },
    /// The directory does not answer.
    #[error("the login service is unavailable: {0}")]
    Unavailable(String),
    /// The store does not answer (resident logins).
    #[error("the database is unavailable: {0}")]
    StoreUnavailable(String),
}

/// One kind of login.
#[async_trait::async_trait]
pub trait IdentityProvider: Send + Sync {
    /// `Ok(None)` when the login is not this provider's (or, for a provider that cannot
    /// tell, when the password is wrong); `Err(InvalidCredentials)` when the login is this
    /// provider's and the password is wrong, which ends the search.
    async fn authenticate(
        &self,
        login: &str,
        password: &str,
        attempt: Attempt,
    ) -> Result<Option<Principal>, IdentityError>;
}

/// Who is trying to log in: the client's address, and whether the login gave its right
/// password from there lately (see [`throttle`]).
#[derive(Clone, Copy, Debug)]
pub struct Attempt {
    pub addr: AddrKey,
    pub known: bool,
}

/// Residents: email and an argon2id password hash in the store.
pub struct ResidentLogins {
    store: Arc<Store>,
    cache: CredentialCache,
    hasher: Arc<HashPool>,
}

impl ResidentLogins {
    pub fn new(
        store: Arc<Store>,
        clock: Arc<dyn Clock>,
        cache_secs: u64,
        hasher: Arc<HashPool>,
    ) -> Self {
        ResidentLogins {
            store,
            cache: CredentialCache::new(clock, cache_secs),
            hasher,
        }
    }
}

impl From<HashError> for IdentityError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy { retry_after_secs } => IdentityError::Busy { retry_after_secs },
            HashError::Failed(why) => IdentityError::StoreUnavailable(why),
        }
    }
}

#[async_trait::async_trait]
impl IdentityProvider for ResidentLogins {
    async fn authenticate(
        &self,
        login: &str,
        password: &str,
        _attempt: Attempt,
    ) -> Result<Option<Principal>, IdentityError> {
        let email = normalize_email(login);
        if !email.contains('@') {
            return Ok(None);
        }
        if let Some(p) = self.cache.get(&email, password) {
            return Ok(Some(p));
        }
        let Some(resident) = self
            .store
            .resident_by_email(&email)
            .await
            .map_err(|e| IdentityError::StoreUnavailable(e.to_string()))?
        else {
            // No such resident: pay for a check anyway, so that whether an email has an
            // account does not show in the time the answer takes.
            self.hasher.verify_dummy(password).await?;
            return Ok(None);
        };
        // argon2 is deliberately slow: it runs on the bounded pool, off the async workers.
        let ok = self
            .hasher
            .verify(&resident.password_hash, password)
            .await?;
        if !ok {
            // The login is a resident's: no other provider may answer for it.
            return Err(IdentityError::InvalidCredentials);
        }
        let principal = Principal::Resident {
            id: resident.id,
            email: resident.email,
            name: resident.name,
        };
        self.cache.put(&email, password, principal.clone());
        Ok(Some(principal))
    }
}

/// Staff and clerks: a bind against the directory, roles from its groups.
///
/// Successful binds are remembered for a short while (the same credential cache as residents'
/// logins), so a calendar app's burst of CalDAV requests costs one bind, not one each; staff
/// who logged in shortly before a directory outage keep working through it.
///
/// Binds are counted against the person's budget of failed binds ([`DirectoryGuard`]) so
/// that strangers cannot make the directory's own lockout policy lock the person out through
/// Lokal: only a login the directory knows is bound, a remembered password needs no bind, and
/// beyond the budget the answer is [`IdentityError::AccountGuarded`] without a bind.
pub struct DirectoryLogins {
    directory: Arc<dyn Directory>,
    cache: CredentialCache,
    guard: Arc<DirectoryGuard>,
}

impl DirectoryLogins {
    pub fn new(
        directory: Arc<dyn Directory>,
        clock: Arc<dyn Clock>,
        cache_secs: u64,
        guard: Arc<DirectoryGuard>,
    ) -> Self {
        DirectoryLogins {
            directory,
            cache: CredentialCache::new(clock, cache_secs),
            guard,
        }
    }
}

#[async_trait::async_trait]
impl IdentityProvider for DirectoryLogins {
    async fn authenticate(
        &self,
        login: &str,
        password: &str,
        attempt: Attempt,
    ) -> Result<Option<Principal>, IdentityError> {
        let key = login.trim().to_lowercase();
        if let Some(p) = self.cache.get(&key, password) {
            return Ok(Some(p));
        }
        // An empty password is never sent (an anonymous bind on some servers).
        if password.is_empty() {
            return Ok(None);
        }
        // Only a person the directory has can be bound, and counted.
        let found = match self.directory.find_person(login).await {
            Ok(Some(p)) => p,
            Ok(None) => return Ok(None),
            Err(e) => return Err(IdentityError::Unavailable(e.to_string())),
        };
        let ticket = self
            .guard
            .admit(AccountKey::of(&found.id), attempt.addr, attempt.known)
            .map_err(|retry_after_secs| IdentityError::AccountGuarded { retry_after_secs })?;
        let person = match self.directory.authenticate(login, password).await {
            Ok(p) => {
                ticket.bound();
                p
            }
            Err(DirectoryError::InvalidCredentials) => {
                ticket.refused();
                return Ok(None);
            }
            Err(e) => return Err(IdentityError::Unavailable(e.to_string())),
        };
        let roles = self
            .directory
            .roles(&person)
            .await
            .map_err(|e| IdentityError::Unavailable(e.to_string()))?;
        let principal = Principal::Staff {
            id: person.id,
            login: person.login,
            name: person.name,
            roles,
        };
        self.cache.put(&key, password, principal.clone());
        Ok(Some(principal))
    }
}

/// How logins and registrations are limited.
#[derive(Clone, Debug)]
pub struct IdentitySettings {
    pub throttle: ThrottleSettings,
    /// Registrations per client address at once, then one per `register_interval`.
    pub register_burst: u32,
    pub register_interval: TimeDelta,
    /// Login attempts checked at the same time for one client address (more wait their turn).
    pub logins_per_address: usize,
    pub client_addrs: ClientAddrPolicy,
}

impl Default for IdentitySettings {
    fn default() -> Self {
        IdentitySettings {
            throttle: ThrottleSettings::default(),
            register_burst: 10,
            register_interval: TimeDelta::seconds(60),
            logins_per_address: 8,
            client_addrs: ClientAddrPolicy::default(),
        }
    }
}

/// The chain of providers with the login throttle, the registration limit and the hashing
/// pool.
pub struct Identity {
    providers: Vec<Box<dyn IdentityProvider>>,
    throttle: LoginThrottle,
    turns: Turns,
    registrations: RegistrationThrottle,
    hasher: Arc<HashPool>,
    client_addrs: ClientAddrPolicy,
    /// Where resident accounts are registered.
    residents: Arc<Store>,
    clock: Arc<dyn Clock>,
}

impl Identity {
    pub fn new(
        providers: Vec<Box<dyn IdentityProvider>>,
        residents: Arc<Store>,
        clock: Arc<dyn Clock>,
        hasher: Arc<HashPool>,
        settings: IdentitySettings,
    ) -> Self {
        Identity {
            providers,
            residents,
            throttle: LoginThrottle::new(clock.clone(), settings.throttle.clone()),
            turns: Turns::new(settings.logins_per_address),
            registrations: RegistrationThrottle::new(
                clock.clone(),
                settings.register_burst,
                settings.register_interval,
                settings.throttle.max_tracked,
            ),
            hasher,
            client_addrs: settings.client_addrs,
            clock,
        }
    }

    /// How the client's address is worked out (for the middleware).
    pub fn client_addrs(&self) -> &ClientAddrPolicy {
        &self.client_addrs
    }

    /// Checks a login and password from `client` against each provider in turn. The span
    /// names who was found, never the login or the password.
    ///
    /// One attempt per (login, client) runs at a time: a second waits for the first and then
    /// finds its password remembered (or its failure counted), so parallel first logins all
    /// succeed at the cost of one check, and parallel guesses count one by one. Attempts are
    /// throttled per (login, client) and per client, never per login alone.
    #[tracing::instrument(name = "identity.authenticate", skip_all, fields(who = tracing::field::Empty))]
    pub async fn authenticate(
        &self,
        login: &str,
        password: &str,
        client: ClientAddr,
    ) -> Result<Principal, IdentityError> {
        let account = AccountKey::of(login);
        let addr = client.key();
        let refused = |retry_after_secs| IdentityError::TooManyFailures { retry_after_secs };
        // Refused at once when already waiting, without queueing for a turn.
        self.throttle.check(account, addr).map_err(refused)?;
        let _turn = self.turns.wait(account, addr).await;
        // The attempts before this one have ended: their failures count now.
        self.throttle.check(account, addr).map_err(refused)?;
        let attempt = Attempt {
            addr,
            known: self.throttle.known(account, addr),
        };
        let mut unavailable = None;
        for provider in &self.providers {
            match provider.authenticate(login, password, attempt).await {
                Ok(Some(p)) => {
                    self.throttle.succeeded(account, addr);
                    tracing::Span::current().record("who", p.requester_id());
                    return Ok(p);
                }
                Ok(None) => {}
                Err(e @ (IdentityError::Unavailable(_) | IdentityError::StoreUnavailable(_))) => {
                    unavailable = Some(e)
                }
                Err(IdentityError::InvalidCredentials) => {
                    self.throttle.failed(account, addr);
                    return Err(IdentityError::InvalidCredentials);
                }
                // Busy: no password was found wrong, nothing counts.
                Err(e) => return Err(e),
            }
        }
        if let Some(e) = unavailable {
            // Not counted as a failure: no password was found wrong.
            return Err(e);
        }
        self.throttle.failed(account, addr);
        Err(IdentityError::InvalidCredentials)
    }

    /// Registers a resident from `client`: checks the values, takes one of the client's
    /// registrations, hashes the password (argon2id, on the pool), and stores the account with
    /// the language of its mails, in one store transaction (an account never exists without
    /// its language).
    #[tracing::instrument(name = "identity.register", skip_all, fields(lang = %new.lang.code(), resident = tracing::field::Empty))]
    pub async fn register(
        &self,
        new: NewResident<'_>,
        client: ClientAddr,
    ) -> Result<ResidentRecord, RegistrationError> {
        let checked = check_registration(new.email, new.password, new.name)?;
        let addr = client.key();
        self.registrations
            .take(addr)
            .map_err(|retry_after_secs| RegistrationError::TooMany { retry_after_secs })?;
        let hash = match self.hasher.hash(new.password, Lane::Registration).await {
            Ok(h) => h,
            Err(HashError::Busy { retry_after_secs }) => {
                // Nothing was done: the client keeps this registration for its next try.
                self.registrations.give_back(addr);
                return Err(RegistrationError::Busy { retry_after_secs });
            }
            Err(HashError::Failed(why)) => return Err(RegistrationError::Unavailable(why)),
        };
        let record = ResidentRecord {
            id: uuid::Uuid::new_v4().to_string(),
            email: checked.email,
            name: checked.name,
            password_hash: hash,
            created_at: self.clock.now(),
        };
        match self
            .residents
            .add_resident_with_lang(&record, new.lang.code())
            .await
        {
            Ok(()) => {
                tracing::Span::current().record("resident", record.id.as_str());
                Ok(record)
            }
            Err(StoreError::DuplicateKey) => Err(RegistrationError::Exists),
            Err(e) => Err(RegistrationError::Unavailable(e.to_string())),
        }
    }
}

/// A resident's registration, as the faces receive it. `Debug` never shows the password.
#[derive(Clone, Copy)]
pub struct NewResident<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub name: &'a str,
    /// The language of the resident's mails.
    pub lang: Lang,
}

impl std::fmt::Debug for NewResident<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewResident")
            .field("email", &self.email)
            .field("password", &"***")
            .field("name", &self.name)
            .field("lang", &self.lang)
            .finish()
    }
}

type CachedLogin = ([u8; 32], DateTime<Utc>, Principal);

/// Remembers verified passwords for a short while, as a keyed SHA-256 under a
/// random per-process key, so that each API call does not pay for argon2 again.
struct CredentialCache {
    clock: Arc<dyn Clock>,
    ttl: TimeDelta,
    key: [u8; 32],
    /// login → (keyed digest of the password, expiry, who).
    entries: Mutex<HashMap<String, CachedLogin>>,
}

impl CredentialCache {
    fn new(clock: Arc<dyn Clock>, ttl_secs: u64) -> Self {
        // Without randomness the cache stays off rather than use a guessable key.
        let (key, ttl_secs) = match random_bytes::<32>() {
            Ok(key) => (key, ttl_secs),
            Err(_) => ([0u8; 32], 0),
        };
        CredentialCache {
            clock,
            ttl: TimeDelta::seconds(i64::try_from(ttl_secs).unwrap_or(0)),
            key,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn digest(&self, login: &str, password: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.key);
        h.update((login.len() as u64).to_le_bytes());
        h.update(login.as_bytes());
        h.update(password.as_bytes());
        h.finalize().into()
    }

    fn get(&self, login: &str, password: &str) -> Option<Principal> {
        if self.ttl <= TimeDelta::zero() {
            return None;
        }
        let digest = self.digest(login, password);
        let map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let (stored, expires, principal) = map.get(login)?;
        let same = constant_time_eq(stored, &digest);
        (same && *expires > self.clock.now()).then(|| principal.clone())
    }

    fn put(&self, login: &str, password: &str, principal: Principal) {
        if self.ttl <= TimeDelta::zero() {
            return;
        }
        let digest = self.digest(login, password);
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let now = self.clock.now();
        if map.len() > 100_000 {
            map.retain(|_, e| e.1 > now);
        }
        map.insert(login.to_owned(), (digest, now + self.ttl, principal));
    }
}

/// Emails are compared lower-cased and trimmed.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// There is no OS random source: no secret can be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no randomness: {0}")]
pub struct NoRandomness(String);

/// `N` bytes from the operating system's random source.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], NoRandomness> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| NoRandomness(e.to_string()))?;
    Ok(bytes)
}

/// A new secret token: `bytes` random bytes (use at least 32 for anything that grants
/// access), URL-safe base64 without padding, so it fits in a URL path and a cookie as it is.
/// The one token generator of Lokal: sessions, CSRF tokens and private feed URLs use it.
pub fn new_token(bytes: usize) -> Result<String, NoRandomness> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| NoRandomness(e.to_string()))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf))
}

/// Whether two secrets (tokens, digests) are equal, in time that does not depend on where
/// they differ (`subtle`). Secrets of different lengths are unequal at once: their lengths
/// are not secret.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// An argon2id PHC string for `password`, with a random salt, on the calling thread (for
/// tools and tests; the server hashes on its [`HashPool`]).
pub fn hash_password(password: &str) -> Result<String, String> {
    hashing::hash_now(password)
}

/// Whether `password` matches a PHC string made by [`hash_password`], on the calling thread.
pub fn verify_password(phc: &str, password: &str) -> bool {
    hashing::verify_now(phc, password)
}

/// Why a registration was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationError {
    #[error("{0}")]
    Invalid(String),
    #[error("an account with this email already exists")]
    Exists,
    /// Too many new accounts from this client address lately.
    #[error("too many new accounts from your address; try again in {retry_after_secs} s")]
    TooMany { retry_after_secs: u64 },
    /// The password-hashing queue is full.
    #[error("the server is busy; try again in {retry_after_secs} s")]
    Busy { retry_after_secs: u64 },
    #[error("{0}")]
    Unavailable(String),
}

/// A registration's values, checked.
struct CheckedRegistration {
    email: String,
    name: String,
}

/// Checks a registration's values before anything costly is done.
fn check_registration(
    email: &str,
    password: &str,
    name: &str,
) -> Result<CheckedRegistration, RegistrationError> {
    let email = normalize_email(email);
    let valid_email = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if !valid_email {
        return Err(RegistrationError::Invalid(
            "email must be an address like name@example.no".into(),
        ));
    }
    let name = name.trim();
    if !crate::limits::fits(name, crate::limits::NAME_CHARS) || name.chars().any(char::is_control) {
        return Err(RegistrationError::Invalid(
            "name must be 1 to 200 characters".into(),
        ));
    }
    let length = password.chars().count();
    if !(10..=1024).contains(&length) {
        return Err(RegistrationError::Invalid(
            "password must be 10 to 1024 characters".into(),
        ));
    }
    Ok(CheckedRegistration {
        email,
        name: name.to_owned(),
    })
}

#[cfg(test)]
mod token_tests {
    use super::*;

    #[test]
    fn tokens_are_url_safe_and_fresh_each_time() {
        let a = new_token(32).unwrap();
        let b = new_token(32).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }

    #[test]
    fn secrets_compare_in_full() {
        assert!(constant_time_eq(b"abcdef", b"abcdef"));
        assert!(!constant_time_eq(b"abcdef", b"abcdeg"));
        assert!(!constant_time_eq(b"abcdef", b"abcde"));
        assert!(constant_time_eq(b"", b""));
    }
}
