//! Password hashing with argon2id (OWASP's recommended parameters are argon2's defaults:
//! 19 MiB, 2 passes, 1 lane). Hashing is CPU-heavy, so it runs on the blocking pool.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::AuthError;

pub const MIN_LEN: usize = 10;
pub const MAX_LEN: usize = 256;

pub async fn hash(password: String) -> Result<String, AuthError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|_| AuthError::Hashing)
    })
    .await
    .map_err(|_| AuthError::Hashing)?
}

/// Checks a password against a stored hash. With no stored hash (unknown account) it still
/// spends the time of a real check, so timing does not tell which accounts exist.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, AuthError> {
    tokio::task::spawn_blocking(move || {
        let stored = stored.unwrap_or_else(|| DUMMY_HASH.to_string());
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return Ok(false);
        };
        Ok(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok() && stored != DUMMY_HASH)
    })
    .await
    .map_err(|_| AuthError::Hashing)?
}

/// argon2id hash of a random string nobody knows, with the default parameters.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0p2OHTZ6yHhDp9b3Tq2MZd4mCNePq2S0l9mVbWmJl3c";
