//! Web portal sessions (migration 0006): one row per signed-in browser, found by the SHA-256
//! of the cookie's token.

use chrono::{DateTime, Utc};

use super::{Pool, Store, StoreError};

/// A stored session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    pub token_hash: String,
    /// `resident:<id>` or `staff:<id>`.
    pub user_id: String,
    /// The signed-in person, as JSON.
    pub principal: String,
    /// The session's form token.
    pub csrf: String,
    pub created_at: DateTime<Utc>,
    pub seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

type SessionRow = (
    String,
    String,
    String,
    String,
    DateTime<Utc>,
    DateTime<Utc>,
    DateTime<Utc>,
);

impl Store {
    /// Stores a new session.
    pub async fn add_session(&self, s: &SessionRecord) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let _turn = self.write_turn().await;
            sqlx::query(
                "INSERT INTO web_sessions (token_hash, user_id, principal, csrf, created_at, seen_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&s.token_hash)
            .bind(&s.user_id)
            .bind(&s.principal)
            .bind(&s.csrf)
            .bind(s.created_at)
            .bind(s.seen_at)
            .bind(s.expires_at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The live session with this token hash (`None` when unknown or expired at `now`).
    pub async fn session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let row: Option<SessionRow> = on_pool!(self, pool => sqlx::query_as(
            "SELECT token_hash, user_id, principal, csrf, created_at, seen_at, expires_at \
             FROM web_sessions WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(pool)
        .await?);
        Ok(row.map(|r| SessionRecord {
            token_hash: r.0,
            user_id: r.1,
            principal: r.2,
            csrf: r.3,
            created_at: r.4,
            seen_at: r.5,
            expires_at: r.6,
        }))
    }

    /// Records that a session was used and moves its expiry.
    pub async fn touch_session(
        &self,
        token_hash: &str,
        seen_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let _turn = self.write_turn().await;
            sqlx::query("UPDATE web_sessions SET seen_at = $2, expires_at = $3 WHERE token_hash = $1")
                .bind(token_hash)
                .bind(seen_at)
                .bind(expires_at)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Ends a session (logout).
    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let _turn = self.write_turn().await;
            sqlx::query("DELETE FROM web_sessions WHERE token_hash = $1")
                .bind(token_hash)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Removes the sessions that expired before `now`; returns how many.
    pub async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(on_pool!(self, pool => {
            let _turn = self.write_turn().await;
            sqlx::query("DELETE FROM web_sessions WHERE expires_at <= $1")
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }
}
