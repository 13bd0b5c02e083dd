//! Web sessions, as an identity service: who is signed in to the portal, their form (CSRF)
//! token, and resident accounts made on the web (registration, the mail language).
//!
//! Invariants:
//! - the store holds only the SHA-256 of a session token ([`token_hash`]), never the token;
//!   the browser holds the token (the web face puts it in a cookie);
//! - signing in always makes a new token (never the one from before sign-in: no session
//!   fixation) and a new form token; the session before it, if any, is ended;
//! - a session lives unused for a while and at most for a fixed time ([`lifetimes`]);
//!   its expiry is moved at most every [`TOUCH_EVERY`] (each move is a write);
//! - form tokens are compared in constant time ([`tokens_match`]).
//!
//! Nothing here knows HTTP: the web face (`web::session`) turns these into cookies.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use super::{NoRandomness, Principal};
use crate::clock::Clock;
use crate::store::Store;
pub use crate::store::{SessionRecord, StoreError};

/// How long a session lives unused, and at most: residents stay signed in for weeks, staff
/// for a working day (their directory roles are read again at the next sign-in).
pub fn lifetimes(p: &Principal) -> (TimeDelta, TimeDelta) {
    match p {
        Principal::Resident { .. } => (TimeDelta::days(14), TimeDelta::days(60)),
        Principal::Staff { .. } => (TimeDelta::hours(8), TimeDelta::hours(12)),
    }
}

/// A used session's expiry is moved at most this often.
pub const TOUCH_EVERY: TimeDelta = TimeDelta::minutes(5);

/// 32 random bytes, URL-safe base64 (43 characters).
pub fn random_token() -> Result<String, NoRandomness> {
    super::new_token(32)
}

/// The stored form of a session token: its SHA-256, lowercase hex.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether a posted form token is the expected one: constant time, in full, never empty.
pub fn tokens_match(posted: &str, expected: &str) -> bool {
    !expected.is_empty() && bool::from(posted.as_bytes().ct_eq(expected.as_bytes()))
}

/// A live session, found by its token. `Debug` hides the form token.
#[derive(Clone)]
pub struct Session {
    pub principal: Principal,
    /// The session's form token.
    pub csrf: String,
    /// The stored hash of the token (to end the session).
    pub token_hash: String,
}

/// A session just opened: the token for the browser, and how long the browser keeps it.
/// `Debug` hides the token.
#[derive(Clone)]
pub struct Opened {
    pub token: String,
    pub max_age: TimeDelta,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("principal", &self.principal)
            .field("csrf", &"***")
            .field("token_hash", &self.token_hash)
            .finish()
    }
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("token", &"***")
            .field("max_age", &self.max_age)
            .finish()
    }
}

/// The web sessions service.
#[derive(Clone)]
pub struct Sessions {
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
}

impl Sessions {
    pub fn new(store: Arc<Store>, clock: Arc<dyn Clock>) -> Self {
        Sessions { store, clock }
    }

    /// The live session of `token`, its expiry moved when due. A session whose principal no
    /// longer reads back (an older format) counts as none.
    pub async fn find(&self, token: &str) -> Result<Option<Session>, StoreError> {
        let now = self.clock.now();
        let hash = token_hash(token);
        let Some(s) = self.store.session(&hash, now).await? else {
            return Ok(None);
        };
        let Ok(principal) = serde_json::from_str::<Principal>(&s.principal) else {
            return Ok(None);
        };
        self.touch(&s, &principal, now).await;
        Ok(Some(Session {
            principal,
            csrf: s.csrf,
            token_hash: hash,
        }))
    }

    async fn touch(&self, s: &SessionRecord, p: &Principal, now: DateTime<Utc>) {
        if now - s.seen_at < TOUCH_EVERY {
            return;
        }
        let (idle, max) = lifetimes(p);
        let expires = (now + idle).min(s.created_at + max);
        if let Err(e) = self.store.touch_session(&s.token_hash, now, expires).await {
            tracing::warn!(error = %e, "could not extend a web session");
        }
    }

    /// Opens a session for `principal` with a new token, and ends `previous` (the hash of the
    /// session before sign-in), if any.
    pub async fn open(
        &self,
        principal: &Principal,
        previous: Option<&str>,
    ) -> Result<Opened, StoreError> {
        let now = self.clock.now();
        let unavailable = |e: NoRandomness| StoreError::Unavailable(e.to_string());
        let token = random_token().map_err(unavailable)?;
        let (idle, max) = lifetimes(principal);
        // A principal always serializes (strings and flags); an empty one reads back as no
        // session, never as someone else.
        let principal_json = serde_json::to_string(principal).unwrap_or_default();
        let record = SessionRecord {
            token_hash: token_hash(&token),
            user_id: principal.requester_id(),
            principal: principal_json,
            csrf: random_token().map_err(unavailable)?,
            created_at: now,
            seen_at: now,
            expires_at: now + idle,
        };
        self.store.add_session(&record).await?;
        if let Some(old) = previous {
            self.close(old).await;
        }
        Ok(Opened {
            token,
            max_age: max,
        })
    }

    /// Ends the session with this token hash (sign-out). A store that does not answer is
    /// logged: the browser forgets its cookie anyway, and the session expires.
    pub async fn close(&self, token_hash: &str) {
        if let Err(e) = self.store.delete_session(token_hash).await {
            tracing::warn!(error = %e, "could not delete a web session");
        }
    }

    /// Removes the sessions that have expired; the number removed.
    pub async fn sweep(&self) -> Result<u64, StoreError> {
        self.store.delete_expired_sessions(self.clock.now()).await
    }

    /// Sets the language a resident's mails are written in (`nb` or `en`).
    pub async fn set_language(&self, resident_id: &str, lang: &str) -> Result<(), StoreError> {
        self.store.set_resident_lang(resident_id, lang).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_in_full() {
        assert!(tokens_match("abc", "abc"));
        assert!(!tokens_match("abc", "abd"));
        assert!(!tokens_match("ab", "abc"));
        assert!(!tokens_match("", ""));
    }

    #[test]
    fn tokens_are_long_and_url_safe_and_stored_hashed() {
        let t = random_token().unwrap();
        assert_eq!(t.len(), 43);
        assert!(
            t.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(t, random_token().unwrap());
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn residents_stay_signed_in_for_weeks() {
        let ola = Principal::Resident {
            id: "r".into(),
            email: "ola@example.no".into(),
            name: "Ola".into(),
        };
        assert_eq!(lifetimes(&ola), (TimeDelta::days(14), TimeDelta::days(60)));
    }
}
