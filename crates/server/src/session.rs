//! The web UI's sign-in: a signed session cookie and the CSRF token its forms carry.
//!
//! Design decisions, and why:
//! - **Stateless, signed cookies.** `v2.<expiry>.<nonce>.<principal>.<tag>`, the tag an HMAC-SHA256 of the
//!   rest under `server.auth.session_secret`. Any instance with the same secret accepts it
//!   (nothing to share but config), and a forged or altered cookie fails the tag check.
//!   Sessions end at their expiry; signing out removes the cookie from the browser.
//! - **Each session names who signed in** — a stored token by id, a config token or the
//!   password by a keyed fingerprint (an HMAC under the session secret, so the cookie reveals
//!   nothing to guess a password from) — and every request checks that this is still allowed:
//!   revoking the token, removing it from config or changing the password ends its sessions at
//!   once, on every instance.
//! - **The cookie is HttpOnly and SameSite=Strict**: scripts cannot read it and other sites'
//!   pages cannot send it. Forms that change state also carry a CSRF token derived from the
//!   session (an HMAC of its nonce), checked in constant time, so a request without it is refused
//!   even from a browser that would send the cookie.
//! - **Signing in takes an API token** (from config or `tickerwatch token create`), checked the
//!   same way the API checks bearer tokens, **or the password** of `server.auth.password`; neither
//!   is ever stored in the cookie.

use std::num::NonZeroU32;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, header};
use chrono::{DateTime, Utc};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use storage::{Storage, StorageError};

use crate::ServerConfig;
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;

type HmacSha256 = Hmac<sha2_hmac::Sha256>;

/// The session cookie's name.
pub(crate) const COOKIE: &str = "tw_session";
const VERSION: &str = "v2";
const DEFAULT_HOURS: u32 = 12;

/// Sign-in attempts allowed per minute, per process, whatever their outcome.
const SIGNIN_ATTEMPTS_PER_MINUTE: u32 = 20;

/// Signs and checks sessions under one secret, and throttles sign-in attempts.
#[derive(Clone)]
pub(crate) struct SessionKeys {
    secret: Vec<u8>,
    lifetime: chrono::Duration,
    signin_attempts: Arc<DefaultDirectRateLimiter>,
}

/// A valid session: what its forms' CSRF token is derived from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Session {
    nonce: String,
    pub(crate) expires_at: DateTime<Utc>,
    pub(crate) principal: Principal,
}

/// Who signed in, as the cookie records it (no secret in it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Principal {
    /// A token made with `tickerwatch token create` or on the settings page, by its id.
    StoredToken(i64),
    /// A token from `server.auth.tokens`, by [`SessionKeys::fingerprint`].
    ConfigToken(String),
    /// The password of `server.auth.password`, by [`SessionKeys::fingerprint`].
    Password(String),
}

impl Principal {
    fn encode(&self) -> String {
        match self {
            Self::StoredToken(id) => format!("t{id}"),
            Self::ConfigToken(fingerprint) => format!("c{fingerprint}"),
            Self::Password(fingerprint) => format!("p{fingerprint}"),
        }
    }

    fn decode(text: &str) -> Option<Self> {
        let (kind, rest) = text.split_at_checked(1)?;
        let is_fingerprint = rest.len() == 16 && rest.bytes().all(|b| b.is_ascii_hexdigit());
        match kind {
            "t" => rest.parse().ok().map(Self::StoredToken),
            "c" if is_fingerprint => Some(Self::ConfigToken(rest.to_owned())),
            "p" if is_fingerprint => Some(Self::Password(rest.to_owned())),
            _ => None,
        }
    }
}

impl SessionKeys {
    /// Keys from config; a random secret when none is configured.
    pub(crate) fn new(secret: Option<&str>, hours: Option<u32>) -> Self {
        let secret = match secret {
            Some(secret) => secret.as_bytes().to_vec(),
            None => {
                let mut bytes = vec![0_u8; 32];
                rand::rng().fill_bytes(&mut bytes);
                bytes
            }
        };
        let lifetime = chrono::Duration::hours(i64::from(hours.unwrap_or(DEFAULT_HOURS).max(1)));
        let per_minute = NonZeroU32::new(SIGNIN_ATTEMPTS_PER_MINUTE).expect("a positive constant");
        let signin_attempts = Arc::new(RateLimiter::direct(Quota::per_minute(per_minute)));
        Self { secret, lifetime, signin_attempts }
    }

    /// Takes one sign-in attempt from the per-minute allowance; false when it is spent. A token
    /// is too long to guess, a password is not: this bounds guessing to a few per minute.
    pub(crate) fn allow_signin_attempt(&self) -> bool {
        self.signin_attempts.check().is_ok()
    }

    fn tag(&self, message: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("HMAC takes keys of any length");
        mac.update(message.as_bytes());
        mac
    }

    /// A short keyed fingerprint of a secret (a config token or the password): it tells whether
    /// the secret a session was opened with is still configured, and cannot be reversed or
    /// guessed from without the session secret.
    pub(crate) fn fingerprint(&self, secret: &str) -> String {
        let tag = self.tag(&format!("who.{secret}")).finalize().into_bytes();
        hex::encode(&tag[..8])
    }

    /// A new session for `principal` from `now`: the cookie value and the session.
    pub(crate) fn issue(&self, now: DateTime<Utc>, principal: Principal) -> (String, Session) {
        let mut nonce = [0_u8; 16];
        rand::rng().fill_bytes(&mut nonce);
        let session = Session { nonce: hex::encode(nonce), expires_at: now + self.lifetime, principal };
        let body = format!(
            "{VERSION}.{}.{}.{}",
            session.expires_at.timestamp(),
            session.nonce,
            session.principal.encode()
        );
        let tag = hex::encode(self.tag(&body).finalize().into_bytes());
        (format!("{body}.{tag}"), session)
    }

    /// The session a cookie value stands for, if its tag is right and it has not expired.
    /// Whether its principal may still sign in is the caller's check (it needs storage).
    pub(crate) fn verify(&self, value: &str, now: DateTime<Utc>) -> Option<Session> {
        let (body, tag) = value.rsplit_once('.')?;
        let tag = hex::decode(tag).ok()?;
        self.tag(body).verify_slice(&tag).ok()?;
        let mut parts = body.split('.');
        let (version, expiry, nonce, principal) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if version != VERSION || parts.next().is_some() {
            return None;
        }
        let expires_at = DateTime::from_timestamp(expiry.parse().ok()?, 0)?;
        let principal = Principal::decode(principal)?;
        (expires_at > now).then(|| Session { nonce: nonce.to_owned(), expires_at, principal })
    }

    /// The CSRF token of `session`'s forms.
    pub(crate) fn csrf_token(&self, session: &Session) -> String {
        hex::encode(self.tag(&format!("csrf.{}", session.nonce)).finalize().into_bytes())
    }

    /// Whether `token` is `session`'s CSRF token (constant time).
    pub(crate) fn check_csrf(&self, session: &Session, token: &str) -> bool {
        hex::decode(token)
            .is_ok_and(|token| self.tag(&format!("csrf.{}", session.nonce)).verify_slice(&token).is_ok())
    }

    /// The `Set-Cookie` value that stores `cookie` in the browser.
    pub(crate) fn set_cookie(&self, cookie: &str) -> HeaderValue {
        let value = format!(
            "{COOKIE}={cookie}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
            self.lifetime.num_seconds()
        );
        HeaderValue::from_str(&value).expect("hex and digits only")
    }
}

/// The request's valid session, if any: signed, not expired, and its principal still allowed
/// to sign in (the stored token not revoked, the config token or password still configured).
///
/// # Errors
/// When the database cannot be asked about a stored token.
pub(crate) async fn valid_session(
    storage: &Storage,
    config: &ServerConfig,
    keys: &SessionKeys,
    headers: &HeaderMap,
) -> Result<Option<Session>, StorageError> {
    let Some(session) = cookie_value(headers).and_then(|cookie| keys.verify(cookie, Utc::now())) else {
        return Ok(None);
    };
    let auth = &config.auth;
    let allowed = match &session.principal {
        Principal::StoredToken(id) => {
            storage.token_by_id(*id).await?.is_some_and(|token| token.revoked_at.is_none())
        }
        Principal::ConfigToken(fingerprint) => {
            auth.tokens.iter().any(|token| keys.fingerprint(token.expose()) == *fingerprint)
        }
        Principal::Password(fingerprint) => {
            auth.password.as_ref().is_some_and(|password| keys.fingerprint(password.expose()) == *fingerprint)
        }
    };
    if !allowed {
        tracing::info!(
            "A web session was refused: what it signed in with is revoked or no longer configured."
        );
    }
    Ok(allowed.then_some(session))
}

/// The `Set-Cookie` value that removes the session cookie.
pub(crate) fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("tw_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// The session cookie's value among the request's cookies.
pub(crate) fn cookie_value(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(name, value)| (name == COOKIE).then_some(value))
}

/// A local path to return to after signing in; anything else (another host, `//host`, a
/// scheme) becomes `/`, so the sign-in form cannot redirect elsewhere.
pub(crate) fn safe_return_path(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains(['\\', '\r', '\n'])
                && path.len() <= 512 =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 10, 12, 0, 0).unwrap()
    }

    #[test]
    fn issued_sessions_verify_until_they_expire_and_not_after_tampering() {
        let keys = SessionKeys::new(Some("secret"), Some(2));
        let (cookie, session) = keys.issue(now(), Principal::StoredToken(7));
        assert_eq!(session.principal, Principal::StoredToken(7));
        assert_eq!(keys.verify(&cookie, now()), Some(session.clone()));
        assert_eq!(keys.verify(&cookie, now() + chrono::Duration::hours(2)), None, "expired");
        // Another secret, a longer expiry, a flipped tag: all refused.
        assert_eq!(SessionKeys::new(Some("other"), None).verify(&cookie, now()), None);
        let parts: Vec<&str> = cookie.split('.').collect();
        let later =
            format!("v2.{}.{}.{}.{}", session.expires_at.timestamp() + 3600, parts[2], parts[3], parts[4]);
        assert_eq!(keys.verify(&later, now()), None);
        // Another principal under the same tag: refused.
        let other = format!("v2.{}.{}.t8.{}", parts[1], parts[2], parts[4]);
        assert_eq!(keys.verify(&other, now()), None);
        let mut flipped = cookie.clone();
        let last = flipped.pop().unwrap();
        flipped.push(if last == '0' { '1' } else { '0' });
        assert_eq!(keys.verify(&flipped, now()), None);
        assert_eq!(keys.verify("garbage", now()), None);
        assert_eq!(keys.verify("", now()), None);
    }

    #[test]
    fn csrf_tokens_belong_to_one_session() {
        let keys = SessionKeys::new(None, None);
        let (_, one) = keys.issue(now(), Principal::StoredToken(1));
        let (_, two) = keys.issue(now(), Principal::StoredToken(1));
        let token = keys.csrf_token(&one);
        assert!(keys.check_csrf(&one, &token));
        assert!(!keys.check_csrf(&two, &token));
        assert!(!keys.check_csrf(&one, ""));
        assert!(!keys.check_csrf(&one, "not hex"));
    }

    #[test]
    fn principals_round_trip_and_fingerprints_are_keyed() {
        let keys = SessionKeys::new(Some("secret"), None);
        let fingerprint = keys.fingerprint("correct horse battery");
        assert_eq!(fingerprint.len(), 16);
        assert_ne!(fingerprint, SessionKeys::new(Some("other"), None).fingerprint("correct horse battery"));
        assert_ne!(fingerprint, keys.fingerprint("correct horse battery!"));
        for principal in [
            Principal::StoredToken(42),
            Principal::ConfigToken(keys.fingerprint("tw_config_token_value")),
            Principal::Password(fingerprint),
        ] {
            let (cookie, _) = keys.issue(now(), principal.clone());
            assert_eq!(keys.verify(&cookie, now()).map(|s| s.principal), Some(principal));
        }
        for bad in ["", "t", "tx", "cshort", "q0123456789abcdef", "p0123456789abcdeg"] {
            assert_eq!(Principal::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn cookies_are_found_among_others_and_return_paths_stay_local() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("theme=dark; tw_session=v1.1.ab.cd; x=y"));
        assert_eq!(cookie_value(&headers), Some("v1.1.ab.cd"));
        assert_eq!(cookie_value(&HeaderMap::new()), None);
        assert_eq!(safe_return_path(Some("/symbols/AAPL?range=1m")), "/symbols/AAPL?range=1m");
        for bad in ["//evil.example", "https://evil.example", "evil", "/\\evil", ""] {
            assert_eq!(safe_return_path(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_return_path(None), "/");
    }
}
