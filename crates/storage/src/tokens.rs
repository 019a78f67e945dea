//! API tokens, stored as SHA-256 hashes only (the caller hashes; this module never sees a token).

use chrono::{DateTime, Utc};

use crate::rows::{RowExt, from_unix, now_unix};
use crate::{Storage, StorageError};

/// A stored API token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

fn token_from_row(row: &impl RowExt) -> Result<TokenRecord, StorageError> {
    Ok(TokenRecord {
        id: row.int("id")?,
        name: row.text("name")?,
        created_at: from_unix("created_at", row.int("created_at")?)?,
        revoked_at: row.int_opt("revoked_at")?.map(|s| from_unix("revoked_at", s)).transpose()?,
    })
}

impl Storage {
    /// Stores a new token's hash under a unique name.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails or the name is taken.
    pub async fn create_token(&self, name: &str, token_hash: &str) -> Result<TokenRecord, StorageError> {
        const SQL: &str = "INSERT INTO api_tokens (name, token_hash, created_at) VALUES ($1, $2, $3) \
                           RETURNING id, name, created_at, revoked_at";
        Ok(with_pool!(self, pool => {
            // fetch_all runs the write statement to completion (see `create_run`).
            let rows = sqlx::query(SQL).bind(name).bind(token_hash).bind(now_unix()).fetch_all(pool).await?;
            let row = rows.first().ok_or_else(|| StorageError::corrupt("api_tokens", name, "INSERT returned no row"))?;
            token_from_row(row)?
        }))
    }

    /// The token with this hash, revoked or not.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn token_by_hash(&self, token_hash: &str) -> Result<Option<TokenRecord>, StorageError> {
        const SQL: &str = "SELECT id, name, created_at, revoked_at FROM api_tokens WHERE token_hash = $1";
        Ok(with_pool!(self, pool => {
            match sqlx::query(SQL).bind(token_hash).fetch_optional(pool).await? {
                Some(row) => Some(token_from_row(&row)?),
                None => None,
            }
        }))
    }

    /// The token with this id, revoked or not: how a web session signed in with a stored token
    /// learns that it has been revoked since.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn token_by_id(&self, id: i64) -> Result<Option<TokenRecord>, StorageError> {
        const SQL: &str = "SELECT id, name, created_at, revoked_at FROM api_tokens WHERE id = $1";
        Ok(with_pool!(self, pool => {
            match sqlx::query(SQL).bind(id).fetch_optional(pool).await? {
                Some(row) => Some(token_from_row(&row)?),
                None => None,
            }
        }))
    }

    /// Revokes a token by name; returns false if there is no such active token.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn revoke_token(&self, name: &str) -> Result<bool, StorageError> {
        const SQL: &str = "UPDATE api_tokens SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL";
        Ok(with_pool!(self, pool => {
            sqlx::query(SQL).bind(name).bind(now_unix()).execute(pool).await?.rows_affected() > 0
        }))
    }

    /// Every token, oldest first.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn tokens(&self) -> Result<Vec<TokenRecord>, StorageError> {
        const SQL: &str = "SELECT id, name, created_at, revoked_at FROM api_tokens ORDER BY id";
        Ok(with_pool!(self, pool => {
            sqlx::query(SQL).fetch_all(pool).await?.iter().map(token_from_row).collect::<Result<Vec<_>, _>>()?
        }))
    }
}
