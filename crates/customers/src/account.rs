//! Shoppers' accounts: sign-up with an email and a password, verification of the email by a
//! code sent to it, sign-in per store with an expiring, revocable bearer token (`tpc_...`),
//! sign-out, and password reset by a code.
//!
//! An account is a password on a canonical customer (`customer_credentials`), so it is the
//! tenant's: one person signs in to every store of the tenant with the same email and
//! password, and the sign-up goes through the identity map ([`identity::resolve`], source
//! `signup`) like checkout and import do. A guest who bought before signing up finds those
//! orders in the account: their email already named this customer.
//!
//! * The password is hashed with argon2id (as staff's, `tenancy::password`).
//! * An account signs in only once its email is proven by a code (`verified_at`): an identity
//!   verified by other means (an import) does not prove the person who chose the password.
//! * A sign-up for an email whose account is not yet verified replaces the password and sends
//!   a new code, so nobody can hold an address they cannot read.
//! * Sign-in, verification and reset are throttled per account and per client address with
//!   staff's throttle (`tenancy::throttle`); a code also dies after 5 wrong tries.
//! * Codes are 6 digits, valid 30 minutes, stored as SHA-256; the mail carrying them is
//!   recorded in the same transaction ([`mail::send`]) and its body is emptied once sent.
//! * Tokens are 32 random bytes; only their SHA-256 is stored.

use std::net::IpAddr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use db::{Db, Tx};
use kernel::{CustomerId, StoreId, TenantId, Validator};
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tenancy::auth::AuthSettings;
use tenancy::throttle::Attempt;
use tenancy::{AuthError, password};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::CustomersError;
use crate::identity::{self, ResolveInput, Source};

/// How long a code is good for.
pub const CODE_MINUTES: i64 = 30;
/// Wrong tries a code survives.
const CODE_TRIES: i32 = 5;
/// At most one new code per account and purpose this often (a resend sooner sends nothing).
const CODE_EVERY_SECS: f64 = 60.0;

#[derive(Debug, Clone)]
pub struct AccountSettings {
    /// Lifetime of a shopper's token.
    pub session_ttl: Duration,
    /// The sign-in throttle (shared with staff's numbers).
    pub throttle: AuthSettings,
}

impl Default for AccountSettings {
    fn default() -> Self {
        AccountSettings { session_ttl: Duration::from_secs(30 * 86_400), throttle: AuthSettings::default() }
    }
}

/// The signed-in shopper of a request.
#[derive(Debug, Clone, Copy)]
pub struct ShopperContext {
    pub tenant_id: TenantId,
    pub store_id: StoreId,
    pub customer_id: CustomerId,
    pub session_id: Uuid,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUp {
    #[schema(example = "hanako@example.jp")]
    pub email: String,
    /// At least 10 characters.
    pub password: String,
    pub name: Option<String>,
    pub name_kana: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SignedUp {
    pub email: String,
    /// `verification_sent`: a code went to the email; `POST .../account/verify` with it.
    pub status: &'static str,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailOnly {
    pub email: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmail {
    pub email: String,
    /// The 6-digit code from the email.
    #[schema(example = "123456")]
    pub code: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPassword {
    pub email: String,
    pub code: String,
    /// The new password, at least 10 characters.
    pub password: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SignedIn {
    /// Send as `Authorization: Bearer <token>` on `/store/v1/stores/{store}/account...` and
    /// when opening carts. Shown once.
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub customer_id: CustomerId,
}

fn hash(s: &str) -> Vec<u8> {
    Sha256::digest(s.as_bytes()).to_vec()
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("tpc_{}", URL_SAFE_NO_PAD.encode(bytes))
}

fn new_code() -> String {
    format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000))
}

fn parse_email(v: &mut Validator, raw: &str) -> String {
    v.check("email", identity::normalize_email(raw)).unwrap_or_default()
}

fn check_password(v: &mut Validator, field: &str, p: &str) {
    let n = p.chars().count();
    if n < password::MIN_LEN {
        v.push(field, "too_short", format!("must be at least {} characters", password::MIN_LEN));
    } else if n > password::MAX_LEN {
        v.push(field, "too_long", format!("must be at most {} characters", password::MAX_LEN));
    }
}

/// The customer an email names, with their credential, if any.
async fn account_of(tx: &mut Tx, email: &str) -> Result<Option<(CustomerId, Option<(String, bool)>)>, sqlx::Error> {
    let found = identity::lookup(tx, &[identity::Key::email(email.to_string())]).await?;
    let Some((_, customer)) = found.into_iter().next() else { return Ok(None) };
    let Some(live) = crate::customer::find_live(tx, customer).await? else { return Ok(None) };
    let cred: Option<(String, bool)> = sqlx::query_as(
        "SELECT password_hash, verified_at IS NOT NULL FROM customer_credentials WHERE customer_id = $1",
    )
    .bind(live.id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(Some((live.id, cred)))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Purpose {
    VerifyEmail,
    ResetPassword,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify_email",
            Purpose::ResetPassword => "reset_password",
        }
    }
}

/// Issues a code and records its mail, unless one was issued in the last minute.
async fn issue_code(
    tx: &mut Tx,
    store: StoreId,
    customer: CustomerId,
    email: &str,
    purpose: Purpose,
) -> Result<(), sqlx::Error> {
    let recent: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM customer_codes WHERE customer_id = $1 AND purpose = $2 AND used_at IS NULL
                          AND created_at > now() - make_interval(secs => $3))",
    )
    .bind(customer)
    .bind(purpose.as_str())
    .bind(CODE_EVERY_SECS)
    .fetch_one(&mut **tx)
    .await?;
    if recent {
        return Ok(());
    }
    let code = new_code();
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO customer_codes (id, tenant_id, store_id, customer_id, purpose, email, code_hash, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(mins => $8))",
    )
    .bind(id)
    .bind(tx.tenant())
    .bind(store)
    .bind(customer)
    .bind(purpose.as_str())
    .bind(email)
    .bind(hash(&code))
    .bind(CODE_MINUTES as i32)
    .execute(&mut **tx)
    .await?;
    let key = format!("customer_code:{id}");
    let out = mail::Outgoing { store, key: &key, to: email };
    match purpose {
        Purpose::VerifyEmail => {
            mail::send(tx, out, &mail::templates::AccountVerification { code, valid_minutes: CODE_MINUTES }).await?
        }
        Purpose::ResetPassword => {
            mail::send(tx, out, &mail::templates::PasswordReset { code, valid_minutes: CODE_MINUTES }).await?
        }
    };
    Ok(())
}

/// Uses a code: right and alive, it is spent; wrong, every open code of the purpose loses a try.
async fn use_code(
    tx: &mut Tx,
    customer: CustomerId,
    email: &str,
    purpose: Purpose,
    code: &str,
) -> Result<bool, sqlx::Error> {
    let used: Option<Uuid> = sqlx::query_scalar(
        "UPDATE customer_codes SET used_at = now()
          WHERE customer_id = $1 AND purpose = $2 AND email = $3 AND code_hash = $4
            AND used_at IS NULL AND expires_at > now() AND attempts < $5
         RETURNING id",
    )
    .bind(customer)
    .bind(purpose.as_str())
    .bind(email)
    .bind(hash(code.trim()))
    .bind(CODE_TRIES)
    .fetch_optional(&mut **tx)
    .await?;
    if used.is_some() {
        // the other open codes of this purpose are spent with it
        sqlx::query(
            "UPDATE customer_codes SET used_at = now() WHERE customer_id = $1 AND purpose = $2 AND used_at IS NULL",
        )
        .bind(customer)
        .bind(purpose.as_str())
        .execute(&mut **tx)
        .await?;
        return Ok(true);
    }
    sqlx::query(
        "UPDATE customer_codes SET attempts = attempts + 1 WHERE customer_id = $1 AND purpose = $2 AND used_at IS NULL",
    )
    .bind(customer)
    .bind(purpose.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(false)
}

async fn open_session(
    tx: &mut Tx,
    store: StoreId,
    customer: CustomerId,
    s: &AccountSettings,
    client: Option<IpAddr>,
    user_agent: Option<&str>,
) -> Result<SignedIn, sqlx::Error> {
    let token = new_token();
    let expires_at: DateTime<Utc> = sqlx::query_scalar(
        "INSERT INTO customer_sessions (id, tenant_id, store_id, customer_id, token_hash, expires_at, last_used_at, user_agent, ip)
         VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6), now(), left($7, 500), $8) RETURNING expires_at",
    )
    .bind(Uuid::now_v7())
    .bind(tx.tenant())
    .bind(store)
    .bind(customer)
    .bind(hash(&token))
    .bind(s.session_ttl.as_secs_f64())
    .bind(user_agent)
    .bind(client.map(sqlx::types::ipnetwork::IpNetwork::from))
    .fetch_one(&mut **tx)
    .await?;
    Ok(SignedIn { token, expires_at, customer_id: customer })
}

/// Signs up: the customer the email names (or a new one) gets this password, and a
/// verification code goes to the email. 409 `account_exists` when the email's account is
/// verified already.
pub async fn sign_up(tx: &mut Tx, store: StoreId, input: SignUp) -> Result<SignedUp, CustomersError> {
    let mut v = Validator::new();
    let email = parse_email(&mut v, &input.email);
    check_password(&mut v, "password", &input.password);
    v.into_result()?;
    if let Some((_, Some((_, true)))) = account_of(tx, &email).await? {
        return Err(CustomersError::AccountExists);
    }
    let hashed = password::hash(input.password).await?;
    let resolved = identity::resolve(
        tx,
        store,
        ResolveInput { email: Some(email.clone()), name: input.name, name_kana: input.name_kana, ..Default::default() },
        Source::Signup,
    )
    .await?;
    let customer = resolved.customer_id;
    // a concurrent sign-up that verified meanwhile keeps its password
    let set: Option<bool> = sqlx::query_scalar(
        "INSERT INTO customer_credentials (tenant_id, customer_id, password_hash) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, customer_id) DO UPDATE SET password_hash = EXCLUDED.password_hash
           WHERE customer_credentials.verified_at IS NULL
         RETURNING true",
    )
    .bind(tx.tenant())
    .bind(customer)
    .bind(&hashed)
    .fetch_optional(&mut **tx)
    .await?;
    if set.is_none() {
        return Err(CustomersError::AccountExists);
    }
    issue_code(tx, store, customer, &email, Purpose::VerifyEmail).await?;
    record(tx, store, Happened::SignedUp, customer).await?;
    tracing::info!(customer_id = %customer, store_id = %store, "shopper signed up");
    Ok(SignedUp { email, status: "verification_sent" })
}

/// Sends another verification code to an email whose account is not verified yet (at most
/// one a minute). Answers the same whatever the email, so it tells nobody which exist.
pub async fn resend_verification(tx: &mut Tx, store: StoreId, input: EmailOnly) -> Result<(), CustomersError> {
    let mut v = Validator::new();
    let email = parse_email(&mut v, &input.email);
    v.into_result()?;
    if let Some((customer, Some((_, false)))) = account_of(tx, &email).await? {
        issue_code(tx, store, customer, &email, Purpose::VerifyEmail).await?;
    }
    Ok(())
}

/// Checks a code the way sign-in checks a password: throttled, and a wrong one counted.
async fn check_code(
    db: &Db,
    tenant: TenantId,
    s: &AccountSettings,
    client: Option<IpAddr>,
    email: &str,
    purpose: Purpose,
    code: &str,
) -> Result<(Tx, CustomerId), CustomersError> {
    let mut attempt = Attempt::from(db, &s.throttle, client).await?;
    let mut tx = db.begin(tenant).await?;
    let found = account_of(&mut tx, email).await?;
    let customer = match found {
        Some((c, Some(_))) => {
            attempt.for_account("customer", c).await?;
            Some(c)
        }
        _ => None,
    };
    let ok = match customer {
        Some(c) => use_code(&mut tx, c, email, purpose, code).await?,
        None => false,
    };
    let Some(customer) = customer.filter(|_| ok) else {
        // keep the spent try, then count the failure
        tx.commit().await?;
        attempt.failed().await?;
        return Err(CustomersError::InvalidCode);
    };
    attempt.succeeded().await?;
    Ok((tx, customer))
}

/// Proves the email with its code: the account is verified and signed in.
pub async fn verify_email(
    db: &Db,
    tenant: TenantId,
    store: StoreId,
    s: &AccountSettings,
    input: VerifyEmail,
    client: Option<IpAddr>,
    user_agent: Option<&str>,
) -> Result<SignedIn, CustomersError> {
    let mut v = Validator::new();
    let email = parse_email(&mut v, &input.email);
    v.text("code", &input.code, 20);
    v.into_result()?;
    let (mut tx, customer) = check_code(db, tenant, s, client, &email, Purpose::VerifyEmail, &input.code).await?;
    mark_verified(&mut tx, store, customer, &email).await?;
    let signed = open_session(&mut tx, store, customer, s, client, user_agent).await?;
    tx.commit().await?;
    Ok(signed)
}

async fn mark_verified(tx: &mut Tx, store: StoreId, customer: CustomerId, email: &str) -> Result<(), CustomersError> {
    sqlx::query("UPDATE customer_credentials SET verified_at = coalesce(verified_at, now()) WHERE customer_id = $1")
        .bind(customer)
        .execute(&mut **tx)
        .await?;
    identity::claim(tx, customer, &[identity::Key::email(email.to_string())], true, Source::Signup).await?;
    record(tx, store, Happened::EmailVerified, customer).await?;
    Ok(())
}

/// Signs in with the email and password. A wrong email or password is one answer (401
/// `invalid_credentials`); the right password of an unverified account is 403
/// `email_not_verified`. The store gets a profile of the customer if it had none.
pub async fn sign_in(
    db: &Db,
    tenant: TenantId,
    store: StoreId,
    s: &AccountSettings,
    input: SignIn,
    client: Option<IpAddr>,
    user_agent: Option<&str>,
) -> Result<SignedIn, CustomersError> {
    let mut v = Validator::new();
    v.text("email", &input.email, 320);
    if input.password.is_empty() {
        v.push("password", "required", "must not be empty");
    } else if input.password.chars().count() > password::MAX_LEN {
        v.push("password", "too_long", format!("must be at most {} characters", password::MAX_LEN));
    }
    v.into_result()?;
    let mut attempt = Attempt::from(db, &s.throttle, client).await?;
    let email = identity::normalize_email(&input.email).ok();
    let found = match &email {
        Some(e) => {
            let mut tx = db.begin(tenant).await?;
            let f = account_of(&mut tx, e).await?;
            tx.commit().await?;
            f
        }
        None => None,
    };
    let (customer, stored, verified) = match found {
        Some((c, Some((h, verified)))) => {
            attempt.for_account("customer", c).await?;
            (Some(c), Some(h), verified)
        }
        _ => (None, None, false),
    };
    let ok = password::verify(input.password, stored).await?;
    let Some(customer) = customer.filter(|_| ok) else {
        attempt.failed().await?;
        tracing::info!(store_id = %store, "failed shopper sign-in");
        return Err(AuthError::InvalidCredentials.into());
    };
    attempt.succeeded().await?;
    if !verified {
        return Err(CustomersError::EmailNotVerified);
    }
    let mut tx = db.begin(tenant).await?;
    // the account is the tenant's: a store seeing this shopper for the first time gets a profile
    identity::resolve(&mut tx, store, ResolveInput { email: email.clone(), ..Default::default() }, Source::Signup)
        .await?;
    let signed = open_session(&mut tx, store, customer, s, client, user_agent).await?;
    tx.commit().await?;
    tracing::info!(customer_id = %customer, store_id = %store, "shopper signed in");
    Ok(signed)
}

/// Resolves a shopper's token in `store` (a token of another store is unknown here).
pub async fn authenticate(db: &Db, tenant: TenantId, store: StoreId, token: &str) -> Result<ShopperContext, AuthError> {
    if !token.starts_with("tpc_") || token.len() > 100 {
        return Err(AuthError::InvalidToken);
    }
    let mut tx = db.begin(tenant).await?;
    let row: Option<(Uuid, CustomerId)> = sqlx::query_as(
        "UPDATE customer_sessions SET last_used_at = now()
          WHERE token_hash = $1 AND store_id = $2 AND revoked_at IS NULL AND expires_at > now()
         RETURNING id, customer_id",
    )
    .bind(hash(token))
    .bind(store)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    let (session_id, customer_id) = row.ok_or(AuthError::InvalidToken)?;
    Ok(ShopperContext { tenant_id: tenant, store_id: store, customer_id, session_id })
}

/// Ends the session of the token.
pub async fn sign_out(tx: &mut Tx, ctx: &ShopperContext) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE customer_sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL")
        .bind(ctx.session_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Sends a reset code to an email that has an account (at most one a minute). Answers the same
/// whatever the email.
pub async fn request_password_reset(tx: &mut Tx, store: StoreId, input: EmailOnly) -> Result<(), CustomersError> {
    let mut v = Validator::new();
    let email = parse_email(&mut v, &input.email);
    v.into_result()?;
    if let Some((customer, Some(_))) = account_of(tx, &email).await? {
        issue_code(tx, store, customer, &email, Purpose::ResetPassword).await?;
    }
    Ok(())
}

/// Sets a new password with a reset code. Every session of the account ends; the code proved
/// the email too, so an unverified account is verified by it.
pub async fn reset_password(
    db: &Db,
    tenant: TenantId,
    store: StoreId,
    s: &AccountSettings,
    input: ResetPassword,
    client: Option<IpAddr>,
) -> Result<(), CustomersError> {
    let mut v = Validator::new();
    let email = parse_email(&mut v, &input.email);
    v.text("code", &input.code, 20);
    check_password(&mut v, "password", &input.password);
    v.into_result()?;
    let hashed = password::hash(input.password).await?;
    let (mut tx, customer) = check_code(db, tenant, s, client, &email, Purpose::ResetPassword, &input.code).await?;
    sqlx::query("UPDATE customer_credentials SET password_hash = $2 WHERE customer_id = $1")
        .bind(customer)
        .bind(&hashed)
        .execute(&mut *tx)
        .await?;
    mark_verified(&mut tx, store, customer, &email).await?;
    let ended =
        sqlx::query("UPDATE customer_sessions SET revoked_at = now() WHERE customer_id = $1 AND revoked_at IS NULL")
            .bind(customer)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    record(&mut tx, store, Happened::PasswordReset, customer).await?;
    tx.commit().await?;
    tracing::info!(customer_id = %customer, sessions_ended = ended, "shopper password reset");
    Ok(())
}

enum Happened {
    SignedUp,
    EmailVerified,
    PasswordReset,
}

/// Account events carry ids only.
async fn record(tx: &mut Tx, store: StoreId, what: Happened, customer: CustomerId) -> Result<(), sqlx::Error> {
    use crate::event::{AccountEvent, CustomerEmailVerified, CustomerPasswordReset, CustomerSignedUp};
    let e = AccountEvent { customer_id: customer, store_id: store };
    let event = match what {
        Happened::SignedUp => events::NewEvent::of(&CustomerSignedUp(e)),
        Happened::EmailVerified => events::NewEvent::of(&CustomerEmailVerified(e)),
        Happened::PasswordReset => events::NewEvent::of(&CustomerPasswordReset(e)),
    };
    events::record(tx, event.in_store(store)).await?;
    Ok(())
}

/// The signed-in shopper's account as this store knows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Account {
    pub customer_id: CustomerId,
    /// The email the account signs in with.
    pub email: String,
    pub name: String,
    pub name_kana: String,
    pub phone: Option<String>,
    pub email_verified: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAccount {
    pub name: Option<String>,
    pub name_kana: Option<String>,
    /// Japanese forms accepted (090-1234-5678, +81 90 ...); empty clears it.
    pub phone: Option<String>,
}

/// The emails the customer proved they own (sign-up or reset codes).
pub async fn verified_emails(tx: &mut Tx, customer: CustomerId) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT identity_value FROM customer_identities WHERE customer_id = $1 AND identity_type = 'email' AND verified",
    )
    .bind(customer)
    .fetch_all(&mut **tx)
    .await
}

pub async fn get_account(tx: &mut Tx, ctx: &ShopperContext) -> Result<Account, CustomersError> {
    let p = crate::profile::lock(tx, ctx.store_id, ctx.customer_id).await?.ok_or(CustomersError::CustomerNotFound)?;
    let emails = verified_emails(tx, ctx.customer_id).await?;
    let email = p.email.clone().filter(|e| emails.contains(e)).or_else(|| emails.first().cloned()).unwrap_or_default();
    Ok(Account {
        customer_id: ctx.customer_id,
        email_verified: !email.is_empty(),
        email,
        name: p.name,
        name_kana: p.name_kana,
        phone: p.phone,
        created_at: p.created_at,
    })
}

/// Changes the shopper's name, kana or phone in this store's profile (synced to the tenant's
/// other stores like a staff edit; the email stays the sign-in email).
pub async fn update_account(
    tx: &mut Tx,
    ctx: &ShopperContext,
    input: UpdateAccount,
) -> Result<Account, CustomersError> {
    let patch = crate::profile::UpdateCustomer {
        name: input.name,
        name_kana: input.name_kana,
        phone: input.phone,
        ..Default::default()
    };
    crate::profile::update_profile(tx, ctx.store_id, kernel::access::Acting::System, ctx.customer_id, patch).await?;
    get_account(tx, ctx).await
}

/// A merge of `duplicate` into `survivor`: the survivor keeps its own password, or takes the
/// duplicate's; the duplicate's sessions end (its shopper signs in again, as the survivor) and
/// its open codes die.
pub(crate) async fn merge(tx: &mut Tx, survivor: CustomerId, duplicate: CustomerId) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE customer_credentials SET customer_id = $1
          WHERE customer_id = $2 AND NOT EXISTS (SELECT 1 FROM customer_credentials WHERE customer_id = $1)",
    )
    .bind(survivor)
    .bind(duplicate)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM customer_credentials WHERE customer_id = $1").bind(duplicate).execute(&mut **tx).await?;
    sqlx::query("UPDATE customer_sessions SET customer_id = $1, revoked_at = coalesce(revoked_at, now()) WHERE customer_id = $2")
        .bind(survivor)
        .bind(duplicate)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM customer_codes WHERE customer_id = $1").bind(duplicate).execute(&mut **tx).await?;
    Ok(())
}

/// Erasure: the account goes with the person's data.
pub(crate) async fn erase(tx: &mut Tx, customers: &[CustomerId]) -> Result<(), sqlx::Error> {
    for table in ["customer_credentials", "customer_sessions", "customer_codes"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE customer_id = ANY($1)"))
            .bind(customers)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
