//! Bearer-token auth.
//!
//! Every mutating request (POST, PUT, PATCH, DELETE) needs `Authorization: Bearer <token>`;
//! reads need one only when `server.auth.protect_reads` is set, and then a signed-in web UI
//! session's cookie serves too (reads only). A token is valid when it equals a
//! token from config (compared in constant time) or when its SHA-256 matches a stored token that
//! has not been revoked. The database holds only hashes, so a leaked database leaks no token;
//! tokens are never logged (only the stored token's name is).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::Response;
use rand::RngCore;
use sha2::{Digest, Sha256};
use storage::Storage;

use crate::error::ApiError;
use crate::session::{SessionKeys, valid_session};
use crate::{AppState, ServerConfig};

/// Prefix of generated tokens, so one found in a file or a log is recognisable as ours.
pub const TOKEN_PREFIX: &str = "tw_";

/// A fresh random token: `tw_` and 64 hex digits (32 bytes from the OS-seeded CSPRNG). Show it
/// once and store only [`hash_token`] of it.
pub fn generate_token() -> String {
    let mut bytes = [0_u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", hex::encode(bytes))
}

/// The SHA-256 of `token` as lower-case hex: what `storage` stores and looks tokens up by.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// True when `a == b`, taking the same time wherever they differ. Both sides are hashed first,
/// so the comparison is over equal lengths and leaks nothing about the configured token's length
/// either.
fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter().zip(b.iter()).fold(0_u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// The token from an `Authorization: Bearer …` header, if there is a well-formed one.
fn bearer_token(request: &Request) -> Option<&str> {
    let value = request.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Whether `method` changes state and so always needs a token.
fn is_mutating(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// What the auth middleware needs: cheap handles rather than a clone of the whole
/// [`AppState`] per request.
#[derive(Clone)]
pub(crate) struct AuthState {
    storage: Storage,
    config: Arc<ServerConfig>,
    sessions: SessionKeys,
}

impl AuthState {
    pub(crate) fn new(state: &AppState) -> Self {
        Self {
            storage: state.storage.clone(),
            config: Arc::clone(&state.config),
            sessions: state.sessions.clone(),
        }
    }
}

/// Which token a request was authenticated with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenSource {
    /// `server.auth.tokens[index]`.
    Config(usize),
    /// The stored token with this id.
    Stored(i64),
}

/// Checks `token` against the config tokens, then the stored ones.
pub(crate) async fn authenticate(state: &AuthState, token: &str) -> Result<TokenSource, ApiError> {
    if let Some(index) =
        state.config.auth.tokens.iter().position(|known| constant_time_eq(known.expose(), token))
    {
        tracing::debug!(token_name = "config", "Request authenticated.");
        return Ok(TokenSource::Config(index));
    }
    match state.storage.token_by_hash(&hash_token(token)).await? {
        Some(record) if record.revoked_at.is_some() => {
            tracing::info!(token_name = %record.name, "Revoked token refused.");
            Err(ApiError::Forbidden)
        }
        Some(record) => {
            tracing::debug!(token_name = %record.name, "Request authenticated.");
            Ok(TokenSource::Stored(record.id))
        }
        None => Err(ApiError::Unauthorized),
    }
}

/// Whether `given` is the configured web password (constant time); false when none is set.
pub(crate) fn is_password(config: &ServerConfig, given: &str) -> bool {
    config.auth.password.as_ref().is_some_and(|password| constant_time_eq(password.expose(), given))
}

/// Middleware on the `/api` routes: 401 without a valid token, 403 with a revoked one.
pub(crate) async fn require_token(
    State(state): State<AuthState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let mutating = is_mutating(request.method());
    if mutating || state.config.auth.protect_reads {
        match bearer_token(&request) {
            Some(token) => {
                authenticate(&state, token).await?;
            }
            // A read from the web UI's own script (the live alert stream, the jobs table): the
            // browser sends its session cookie, and an EventSource cannot send a bearer token.
            // Only reads: a cookie never authorises a change through the API (no CSRF token).
            None if !mutating
                && valid_session(&state.storage, &state.config, &state.sessions, request.headers())
                    .await?
                    .is_some() => {}
            None => return Err(ApiError::Unauthorized),
        }
    }
    Ok(next.run(request).await)
}

#[cfg(test)]
mod tests {
    use axum::body::Body;

    use super::*;

    #[test]
    fn generated_tokens_are_prefixed_random_and_long() {
        let (a, b) = (generate_token(), generate_token());
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 64);
        assert!(a[TOKEN_PREFIX.len()..].chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn hash_is_sha256_hex() {
        assert_eq!(hash_token("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn constant_time_eq_compares_values() {
        assert!(constant_time_eq("tw_same", "tw_same"));
        assert!(!constant_time_eq("tw_same", "tw_samf"));
        assert!(!constant_time_eq("tw_same", "tw_sam"));
        assert!(!constant_time_eq("", "x"));
    }

    #[test]
    fn parses_bearer_headers() {
        let with = |value: &str| {
            Request::builder().header(header::AUTHORIZATION, value).body(Body::empty()).unwrap()
        };
        assert_eq!(bearer_token(&with("Bearer tw_abc")), Some("tw_abc"));
        assert_eq!(bearer_token(&with("bearer  tw_abc ")), Some("tw_abc"));
        assert_eq!(bearer_token(&with("Basic dXNlcjpwdw==")), None);
        assert_eq!(bearer_token(&with("Bearer ")), None);
        assert_eq!(bearer_token(&Request::new(Body::empty())), None);
    }

    #[test]
    fn only_reads_are_open() {
        assert!(!is_mutating(&Method::GET));
        assert!(!is_mutating(&Method::HEAD));
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            assert!(is_mutating(&method));
        }
    }
}
