//! The identity map: which canonical customer an email, a phone number or an external id
//! belongs to, unique per tenant, and resolution: finding (or creating) the customer behind
//! what someone typed at sign-up, import or checkout.
//!
//! Values are normalised on the way in: emails trimmed, width-folded and lower-cased; phone
//! numbers in any common Japanese form stored as E.164 (`kernel::jp::normalize_phone`).

use chrono::{DateTime, Utc};
use db::Tx;
use kernel::{CustomerId, IdentityId, ProfileId, StoreId, Validator, jp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::CustomersError;
use crate::customer;
use crate::profile::{self, ProfileSeed};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum IdentityType {
    Email,
    Phone,
    /// An id in another system (a previous shop platform, a loyalty card).
    External,
}

impl IdentityType {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityType::Email => "email",
            IdentityType::Phone => "phone",
            IdentityType::External => "external",
        }
    }
}

/// How the identity map learned an identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Source {
    /// The shopper signed up.
    Signup,
    /// A CSV import.
    Import,
    /// Moved to the survivor of a merge.
    Merge,
    /// Typed at checkout.
    Checkout,
    /// Entered by staff.
    Staff,
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Identity {
    pub id: IdentityId,
    #[serde(rename = "type")]
    #[sqlx(rename = "identity_type")]
    pub kind: IdentityType,
    /// Normalised: emails lower-case, phones E.164 (+819012345678).
    #[sqlx(rename = "identity_value")]
    pub value: String,
    /// The customer proved they own it (e.g. confirmed a sign-up email).
    pub verified: bool,
    pub source: Source,
    pub created_at: DateTime<Utc>,
}

/// An identity as stored: type and normalised value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub kind: IdentityType,
    pub value: String,
}

impl Key {
    pub fn email(value: String) -> Key {
        Key { kind: IdentityType::Email, value }
    }
    pub fn phone(value: String) -> Key {
        Key { kind: IdentityType::Phone, value }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an email address")]
pub struct InvalidEmail;

/// Trims, folds compatibility forms (NFKC: full-width, styled letters) and lower-cases an email,
/// and checks its shape. Every email that identifies a customer or an order goes through here.
///
/// ```
/// use tenpo_customers::identity::normalize_email;
/// assert_eq!(normalize_email(" Taro@Example.COM ").unwrap(), "taro@example.com");
/// assert_eq!(normalize_email("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｃｏｍ").unwrap(), "taro@example.com");
/// ```
pub fn normalize_email(raw: &str) -> Result<String, InvalidEmail> {
    let e = jp::fold_compat(raw).trim().to_lowercase();
    let ok = e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
        });
    if ok { Ok(e) } else { Err(InvalidEmail) }
}

/// Reads the identities given to resolution, in priority order (email, phone, external),
/// recording bad ones in `v`. Empty strings count as absent.
pub(crate) fn parse_keys(
    v: &mut Validator,
    email: Option<&str>,
    phone: Option<&str>,
    external_id: Option<&str>,
) -> Vec<Key> {
    let mut keys = Vec::new();
    if let Some(e) = email.filter(|e| !e.trim().is_empty())
        && let Some(e) = v.check("email", normalize_email(e))
    {
        keys.push(Key::email(e));
    }
    if let Some(p) = phone.filter(|p| !p.trim().is_empty())
        && let Some(p) = v.check("phone", jp::normalize_phone(p))
    {
        keys.push(Key::phone(p));
    }
    if let Some(x) = v.opt_text("external_id", external_id, 320) {
        keys.push(Key { kind: IdentityType::External, value: x });
    }
    keys
}

/// What resolution is given: at least one of email, phone or external id, and what the
/// customer's profile in the store should start with.
#[derive(Debug, Clone, Default)]
pub struct ResolveInput {
    pub email: Option<String>,
    pub phone: Option<String>,
    pub external_id: Option<String>,
    pub name: Option<String>,
    pub name_kana: Option<String>,
    /// The caller proved the customer owns the email/phone (e.g. a confirmed sign-up link).
    pub verified: bool,
}

/// The outcome of resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    pub customer_id: CustomerId,
    pub profile_id: ProfileId,
    /// A new canonical customer was created.
    pub created_customer: bool,
    /// The store had no profile for the customer; one was created.
    pub created_profile: bool,
}

/// Finds the tenant's canonical customer for an email, phone or external id, or creates one,
/// and makes sure `store` has a profile for them. Race-safe: two concurrent resolutions of
/// the same new email create one customer (the identity's unique index decides).
///
/// Rules (docs/CUSTOMERS.md): identities are tried in priority order email, phone, external;
/// the first one known names the customer. Identities not yet known are added to that
/// customer; one that belongs to a different customer stays with it (staff may merge the two).
/// A new profile starts with the given name, kana, email and phone; an existing profile only
/// has its empty fields filled, never overwritten.
pub async fn resolve(
    tx: &mut Tx,
    store: StoreId,
    input: ResolveInput,
    source: Source,
) -> Result<Resolved, CustomersError> {
    let mut v = Validator::new();
    let keys = parse_keys(&mut v, input.email.as_deref(), input.phone.as_deref(), input.external_id.as_deref());
    let seed = ProfileSeed::parse(&mut v, input.name.as_deref(), input.name_kana.as_deref(), &keys);
    if keys.is_empty() && v.is_ok() {
        v.push("email", "required", "give an email, a phone or an external id");
    }
    v.into_result()?;
    resolve_parsed(tx, store, &keys, seed, input.verified, source).await
}

/// [`resolve`] with input already validated; `keys` is non-empty, in priority order.
pub(crate) async fn resolve_parsed(
    tx: &mut Tx,
    store: StoreId,
    keys: &[Key],
    seed: ProfileSeed,
    verified: bool,
    source: Source,
) -> Result<Resolved, CustomersError> {
    // a store on its own database resolves on the control database's map (below)
    let unknown = match tx.control() {
        None => create_if_unknown(tx, keys, verified, source).await?,
        Some(_) => Unknown::Lost,
    };
    if let Unknown::Created(customer_id, now) = unknown {
        // a new customer with every key: nothing to claim, and the store has no profile yet
        let (profile, changed) = profile::insert_new(tx, store, customer_id, &seed, now).await?;
        events::record_many(
            tx,
            // in the general path's order: the profile's event, then the customer's
            vec![
                profile::profile_event(crate::event::CustomerProfileCreated, &profile, &changed),
                events::NewEvent::of(&crate::event::CustomerCreated { customer_id, source }).in_store(store),
            ],
        )
        .await?;
        return Ok(Resolved { customer_id, profile_id: profile.id, created_customer: true, created_profile: true });
    }
    let (customer_id, created_customer) = match tx.control().cloned() {
        None => {
            let known = match unknown {
                Unknown::Known(known) => Some(known),
                _ => None,
            };
            find_or_create(tx, keys, verified, source, known).await?
        }
        Some(control) => from_the_map(&control, tx, keys, verified, source).await?,
    };
    let added = claim(tx, customer_id, keys, verified, source).await?;
    let ensured = profile::ensure(tx, store, customer_id, &seed).await?;
    if created_customer {
        let event = crate::event::CustomerCreated { customer_id, source };
        events::record(tx, events::NewEvent::of(&event).in_store(store)).await?;
    }
    if !added.is_empty() && !created_customer {
        record_identities_added(tx, store, customer_id, &added, source).await?;
    }
    Ok(Resolved { customer_id, profile_id: ensured.profile_id, created_customer, created_profile: ensured.created })
}

pub(crate) async fn record_identities_added(
    tx: &mut Tx,
    store: StoreId,
    customer: CustomerId,
    added: &[IdentityType],
    source: Source,
) -> Result<(), sqlx::Error> {
    let event = crate::event::CustomerIdentitiesAdded { customer_id: customer, types: added.to_vec(), source };
    events::record(tx, events::NewEvent::of(&event).in_store(store)).await?;
    Ok(())
}

/// Who each of these identities belongs to now.
pub(crate) async fn lookup(tx: &mut Tx, keys: &[Key]) -> Result<Vec<(Key, CustomerId)>, sqlx::Error> {
    let kinds: Vec<&str> = keys.iter().map(|k| k.kind.as_str()).collect();
    let values: Vec<&str> = keys.iter().map(|k| k.value.as_str()).collect();
    let rows: Vec<(IdentityType, String, CustomerId)> = sqlx::query_as(
        "SELECT i.identity_type, i.identity_value, i.customer_id
           FROM customer_identities i
           JOIN UNNEST($1::text[], $2::text[]) AS k(kind, value) ON i.identity_type = k.kind AND i.identity_value = k.value",
    )
    .bind(&kinds)
    .bind(&values)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(|(kind, value, c)| (Key { kind, value }, c)).collect())
}

/// What [`create_if_unknown`] found.
enum Unknown {
    /// A new customer with every key, and the database clock for the profile.
    Created(CustomerId, DateTime<Utc>),
    /// Some keys are known: who holds each (what [`lookup`] answers).
    Known(Vec<(Key, CustomerId)>),
    /// A concurrent resolution claimed the first key meanwhile.
    Lost,
}

/// A new guest's resolution in one statement: when none of the keys is known, a new customer
/// holding all of them (the keys in priority order, as [`find_or_create`] then [`claim`] would
/// leave them), with the database clock for the profile. Nothing is left behind when a key is
/// known (then the same statement answers who holds it, so a returning customer is looked up
/// once) or a concurrent resolution claimed the first key meanwhile: then the general path
/// decides.
async fn create_if_unknown(tx: &mut Tx, keys: &[Key], verified: bool, source: Source) -> Result<Unknown, sqlx::Error> {
    let id = CustomerId::new();
    let identity_ids: Vec<IdentityId> = keys.iter().map(|_| IdentityId::new()).collect();
    let kinds: Vec<&str> = keys.iter().map(|k| k.kind.as_str()).collect();
    let values: Vec<&str> = keys.iter().map(|k| k.value.as_str()).collect();
    type Row = (Option<CustomerId>, bool, DateTime<Utc>, Vec<i64>, Vec<CustomerId>);
    let (created, first_claimed, now, known_ords, known_owners): Row = sqlx::query_as(
        "WITH k AS (SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[]) WITH ORDINALITY AS k(id, kind, value, ord)),
         known AS (
           SELECT k.ord, i.customer_id
             FROM customer_identities i JOIN k ON i.identity_type = k.kind AND i.identity_value = k.value),
         c AS (INSERT INTO customers (id, tenant_id) SELECT $4, $5 WHERE NOT EXISTS (SELECT 1 FROM known) RETURNING id),
         added AS (
           INSERT INTO customer_identities (id, tenant_id, customer_id, identity_type, identity_value, verified, source)
           SELECT k.id, $5, c.id, k.kind, k.value, $6, $7 FROM k, c ORDER BY k.ord
           ON CONFLICT (tenant_id, identity_type, identity_value) DO NOTHING
           RETURNING identity_type, identity_value)
         SELECT (SELECT id FROM c),
                EXISTS (SELECT 1 FROM added a JOIN k ON k.ord = 1 AND a.identity_type = k.kind AND a.identity_value = k.value),
                clock_timestamp(), ARRAY(SELECT ord FROM known ORDER BY ord),
                ARRAY(SELECT customer_id FROM known ORDER BY ord)",
    )
    .bind(&identity_ids)
    .bind(&kinds)
    .bind(&values)
    .bind(id)
    .bind(tx.tenant())
    .bind(verified)
    .bind(source)
    .fetch_one(&mut **tx)
    .await?;
    match (created, first_claimed) {
        (Some(id), true) => Ok(Unknown::Created(id, now)),
        (Some(id), false) => {
            // someone else committed the first key first: drop ours, the general path uses theirs
            sqlx::query("DELETE FROM customer_identities WHERE customer_id = $1").bind(id).execute(&mut **tx).await?;
            sqlx::query("DELETE FROM customers WHERE id = $1").bind(id).execute(&mut **tx).await?;
            Ok(Unknown::Lost)
        }
        (None, _) => Ok(Unknown::Known(
            known_ords
                .iter()
                .zip(known_owners)
                .filter_map(|(ord, c)| Some((keys.get(usize::try_from(*ord).ok()?.checked_sub(1)?)?.clone(), c)))
                .collect(),
        )),
    }
}

/// The customer the first known key names (locked against merges, followed through one), or a
/// new customer holding the first key.
async fn find_or_create(
    tx: &mut Tx,
    keys: &[Key],
    verified: bool,
    source: Source,
    mut looked_up: Option<Vec<(Key, CustomerId)>>,
) -> Result<(CustomerId, bool), CustomersError> {
    // Each round either finds a customer or inserts the first key; a round repeats only when a
    // concurrent transaction won that insert (then the next lookup sees its customer) or when
    // the customer found was erased meanwhile (then its identities are gone). `looked_up` is
    // the first round's lookup when the caller's statement did it.
    for _ in 0..8 {
        let known = match looked_up.take() {
            Some(known) => known,
            None => lookup(tx, keys).await?,
        };
        if let Some(found) = keys.iter().find_map(|k| known.iter().find(|(key, _)| key == k).map(|(_, c)| *c)) {
            if let Some(live) = customer::lock_live(tx, found).await? {
                return Ok((live.id, false));
            }
            continue;
        }
        let id = CustomerId::new();
        sqlx::query("INSERT INTO customers (id, tenant_id) VALUES ($1, $2)")
            .bind(id)
            .bind(tx.tenant())
            .execute(&mut **tx)
            .await?;
        let first = &keys[0];
        let claimed: Option<IdentityId> = sqlx::query_scalar(
            "INSERT INTO customer_identities (id, tenant_id, customer_id, identity_type, identity_value, verified, source)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (tenant_id, identity_type, identity_value) DO NOTHING RETURNING id",
        )
        .bind(IdentityId::new())
        .bind(tx.tenant())
        .bind(id)
        .bind(first.kind)
        .bind(&first.value)
        .bind(verified)
        .bind(source)
        .fetch_optional(&mut **tx)
        .await?;
        if claimed.is_some() {
            return Ok((id, true));
        }
        // someone else committed this identity first: drop ours and use theirs
        sqlx::query("DELETE FROM customers WHERE id = $1").bind(id).execute(&mut **tx).await?;
    }
    Err(CustomersError::Db(sqlx::Error::Protocol("identity resolution did not settle".into())))
}

/// Resolution for a store on a database of its own (docs/ROUTING.md): the tenant's identity map
/// is the control database's, so the customer is found (or created) and the keys claimed there,
/// in a transaction of its own that commits first; then the customer's row and identities are
/// copied into the store's database under the same ids, where its orders and profiles point at
/// them, and the copy is locked there as [`find_or_create`] locks it. Every step is an upsert, so
/// a store transaction that rolls back leaves only what the next resolution finds again.
async fn from_the_map(
    control: &db::Db,
    tx: &mut Tx,
    keys: &[Key],
    verified: bool,
    source: Source,
) -> Result<(CustomerId, bool), CustomersError> {
    for _ in 0..8 {
        let mut map = control.begin(tx.tenant()).await?;
        let (id, created) = find_or_create(&mut map, keys, verified, source, None).await?;
        claim(&mut map, id, keys, verified, source).await?;
        let copy = customer::Copy::read(&mut map, id).await?;
        map.commit().await?;
        copy.write(tx).await?;
        if let Some(live) = customer::lock_live(tx, id).await? {
            return Ok((live.id, created));
        }
        // merged or erased in this database meanwhile (its map row follows): look again
    }
    Err(CustomersError::Db(sqlx::Error::Protocol("identity resolution did not settle".into())))
}

/// Adds the keys nobody holds yet to `customer`; marks the customer's own keys verified when
/// `verified`. Keys held by other customers are left alone. Returns the types added.
pub(crate) async fn claim(
    tx: &mut Tx,
    customer: CustomerId,
    keys: &[Key],
    verified: bool,
    source: Source,
) -> Result<Vec<IdentityType>, sqlx::Error> {
    // every key in one statement, in priority order (concurrent claims insert in one order)
    let ids: Vec<IdentityId> = keys.iter().map(|_| IdentityId::new()).collect();
    let kinds: Vec<&str> = keys.iter().map(|k| k.kind.as_str()).collect();
    let values: Vec<&str> = keys.iter().map(|k| k.value.as_str()).collect();
    let inserted: Vec<(IdentityType, String)> = sqlx::query_as(
        "INSERT INTO customer_identities (id, tenant_id, customer_id, identity_type, identity_value, verified, source)
         SELECT k.id, $4, $5, k.kind, k.value, $6, $7
           FROM UNNEST($1::uuid[], $2::text[], $3::text[]) WITH ORDINALITY AS k(id, kind, value, ord) ORDER BY k.ord
         ON CONFLICT (tenant_id, identity_type, identity_value) DO NOTHING RETURNING identity_type, identity_value",
    )
    .bind(&ids)
    .bind(&kinds)
    .bind(&values)
    .bind(tx.tenant())
    .bind(customer)
    .bind(verified)
    .bind(source)
    .fetch_all(&mut **tx)
    .await?;
    let is_new = |k: &&Key| inserted.iter().any(|(kind, value)| *kind == k.kind && *value == k.value);
    let added: Vec<IdentityType> = keys.iter().filter(is_new).map(|k| k.kind).collect();
    if verified {
        let (kinds, values): (Vec<&str>, Vec<&str>) =
            keys.iter().filter(|k| !is_new(k)).map(|k| (k.kind.as_str(), k.value.as_str())).unzip();
        if !kinds.is_empty() {
            sqlx::query(
                "UPDATE customer_identities i SET verified = true
                   FROM UNNEST($2::text[], $3::text[]) AS k(kind, value)
                  WHERE i.customer_id = $1 AND i.identity_type = k.kind AND i.identity_value = k.value AND NOT i.verified",
            )
            .bind(customer)
            .bind(&kinds)
            .bind(&values)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(added)
}

/// Claims one identity for `customer` on a staff edit: added if nobody holds it, fine if the
/// customer already does, [`CustomersError::IdentityTaken`] if another customer does.
pub(crate) async fn claim_for_edit(tx: &mut Tx, customer: CustomerId, key: &Key) -> Result<bool, CustomersError> {
    let added = claim(tx, customer, std::slice::from_ref(key), false, Source::Staff).await?;
    if !added.is_empty() {
        return Ok(true);
    }
    let holder: Option<CustomerId> = sqlx::query_scalar(
        "SELECT customer_id FROM customer_identities WHERE identity_type = $1 AND identity_value = $2",
    )
    .bind(key.kind)
    .bind(&key.value)
    .fetch_optional(&mut **tx)
    .await?;
    match holder {
        Some(h) if h != customer => Err(CustomersError::IdentityTaken(key.kind.as_str())),
        _ => Ok(false),
    }
}

pub async fn list_identities(tx: &mut Tx, customer: CustomerId) -> Result<Vec<Identity>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, identity_type, identity_value, verified, source, created_at
           FROM customer_identities WHERE customer_id = $1 ORDER BY identity_type, id",
    )
    .bind(customer)
    .fetch_all(&mut **tx)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_typed_many_ways_are_one() {
        for form in [
            "taro@example.com",
            " Taro@Example.COM ",
            "ＴＡＲＯ＠ＥＸＡＭＰＬＥ．ＣＯＭ",
            "\u{3000}taro@example.com",
            "ｔaro@example.com",
        ] {
            assert_eq!(normalize_email(form).as_deref(), Ok("taro@example.com"), "{form}");
        }
        // NFKC: styled and circled letters are the letters
        assert_eq!(normalize_email("𝐭𝐚𝐫𝐨@example.com").as_deref(), Ok("taro@example.com"));
    }

    proptest::proptest! {
        /// However an address is typed (case, full width, surrounding spaces), it is one identity.
        #[test]
        fn an_email_typed_any_way_is_one_identity(
            local in "[a-z0-9][a-z0-9._+-]{0,15}",
            domain in "[a-z0-9]{1,10}\\.(jp|com|co\\.jp)",
            upper in proptest::bool::ANY,
            wide in proptest::bool::ANY,
        ) {
            let plain = format!("{local}@{domain}");
            let mut typed = if upper { plain.to_uppercase() } else { plain.clone() };
            if wide {
                typed = typed.chars().map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap_or(c)).collect();
            }
            proptest::prop_assert_eq!(normalize_email(&format!(" {typed}\u{3000}")), Ok(plain.clone()));
            proptest::prop_assert_eq!(normalize_email(&plain), Ok(plain));
        }
    }

    #[test]
    fn bad_emails_are_refused() {
        for bad in [
            "",
            "taro",
            "@example.com",
            "taro@",
            "taro@example",
            "ta ro@example.com",
            "a@b@c.com",
            "a@.com",
            "a@b..com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_come_in_priority_order_and_blank_means_absent() {
        let mut v = Validator::new();
        let keys = parse_keys(&mut v, Some(" A@B.JP "), Some("090-1234-5678"), Some("  "));
        assert!(v.is_ok());
        assert_eq!(keys, [Key::email("a@b.jp".into()), Key::phone("+819012345678".into())]);
        let mut v = Validator::new();
        let keys = parse_keys(&mut v, Some("nope"), Some("12"), None);
        assert!(keys.is_empty());
        let fields: Vec<_> = v.into_result().unwrap_err().0.into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["email", "phone"]);
    }
}
