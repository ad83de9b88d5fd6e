//! Throttling of attempts to prove who someone is (a password, a one-time code), shared by
//! staff sign-in and shoppers' accounts.
//!
//! Failures are counted in `login_throttle` per account and per client address (keys are
//! SHA-256 of `kind:value`, so no address or id is stored in the clear). Past the limit within
//! the window, the key is locked for the lockout time: every attempt answers 429 until then,
//! even with the right password.

use std::net::IpAddr;

use db::Db;
use sha2::{Digest, Sha256};

use crate::AuthError;
use crate::auth::AuthSettings;

fn key(kind: &str, value: &str) -> Vec<u8> {
    Sha256::digest(format!("{kind}:{value}").as_bytes()).to_vec()
}

/// One throttled attempt: checked against the client's address first, then against the
/// account once it is known; afterwards either [`Attempt::failed`] or [`Attempt::succeeded`].
pub struct Attempt<'a> {
    db: &'a Db,
    settings: &'a AuthSettings,
    address: Option<Vec<u8>>,
    account: Option<Vec<u8>>,
}

impl<'a> Attempt<'a> {
    /// Starts an attempt from `client`; refused while the address is locked.
    pub async fn from(db: &'a Db, settings: &'a AuthSettings, client: Option<IpAddr>) -> Result<Self, AuthError> {
        let address = client.map(|ip| key("ip", &ip.to_string()));
        if let Some(k) = &address {
            check_locked(db, k).await?;
        }
        Ok(Attempt { db, settings, address, account: None })
    }

    /// The account the attempt is for (`kind` names the kind of account: `staff`, `customer`);
    /// refused while it is locked.
    pub async fn for_account(&mut self, kind: &str, id: impl std::fmt::Display) -> Result<(), AuthError> {
        let k = key(kind, &id.to_string());
        check_locked(self.db, &k).await?;
        self.account = Some(k);
        Ok(())
    }

    /// Counts a failure against the account and the address.
    pub async fn failed(&self) -> Result<(), AuthError> {
        let s = self.settings;
        for (k, max) in [(&self.account, s.max_failures_per_account), (&self.address, s.max_failures_per_address)] {
            if let Some(k) = k {
                record_failure(self.db, k, max, s).await?;
            }
        }
        Ok(())
    }

    /// Clears the account's failures.
    pub async fn succeeded(&self) -> Result<(), AuthError> {
        if let Some(k) = &self.account {
            sqlx::query("DELETE FROM login_throttle WHERE key = $1").bind(k).execute(self.db.platform()).await?;
        }
        Ok(())
    }
}

async fn check_locked(db: &Db, key: &[u8]) -> Result<(), AuthError> {
    let wait: Option<f64> = sqlx::query_scalar(
        "SELECT extract(epoch FROM locked_until - now())::float8 FROM login_throttle WHERE key = $1 AND locked_until > now()",
    )
    .bind(key)
    .fetch_optional(db.platform())
    .await?;
    match wait {
        Some(secs) => Err(AuthError::Throttled { retry_after: secs.ceil().max(1.0) as u64 }),
        None => Ok(()),
    }
}

async fn record_failure(db: &Db, key: &[u8], max: i32, s: &AuthSettings) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO login_throttle AS t (key, failures, window_start) VALUES ($1, 1, now())
         ON CONFLICT (key) DO UPDATE SET
           failures = CASE WHEN t.window_start < now() - make_interval(secs => $3) THEN 1 ELSE t.failures + 1 END,
           window_start = CASE WHEN t.window_start < now() - make_interval(secs => $3) THEN now() ELSE t.window_start END",
    )
    .bind(key)
    .bind(max)
    .bind(s.window.as_secs_f64())
    .execute(db.platform())
    .await?;
    sqlx::query(
        "UPDATE login_throttle SET locked_until = now() + make_interval(secs => $3), failures = 0, window_start = now()
          WHERE key = $1 AND failures >= $2",
    )
    .bind(key)
    .bind(max)
    .bind(s.lockout.as_secs_f64())
    .execute(db.platform())
    .await?;
    Ok(())
}
