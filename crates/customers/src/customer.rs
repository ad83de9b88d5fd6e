//! Canonical customers: one per person per tenant. Staff see a customer only through their
//! store's profile of it; a customer without a profile in the caller's store is a 404 there.
//!
//! A merged customer is a tombstone pointing at its survivor: every lookup by id follows it,
//! so old references (an order's customer_id, a bookmarked URL) reach the survivor.

use chrono::{DateTime, Utc};
use db::Tx;
use kernel::access::{Acting, Permission};
use kernel::{CustomerId, Page, PageRequest, StoreId, Validator, jp};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use crate::CustomersError;
use crate::address::{self, CustomerAddress};
use crate::identity::{self, Identity, Source};
use crate::profile::{self, Profile, ProfileSeed, ProfileStatus, UpdateCustomer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum CustomerStatus {
    Active,
    Blocked,
    /// A tombstone: merged into `merged_into_id`.
    Merged,
    /// Personal data erased (docs/CUSTOMERS.md).
    Erased,
}

#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub(crate) struct CustomerRow {
    pub id: CustomerId,
    pub status: CustomerStatus,
    pub merged_into_id: Option<CustomerId>,
}

/// Locks a customer row FOR SHARE, following a merge tombstone to its survivor. `None` when
/// there is no such customer or it was erased. Everything that writes a customer's profiles,
/// identities or addresses takes this lock first, and a merge or erasure takes the rows FOR
/// UPDATE: so they run one after the other, and a write that waited for a merge lands on the
/// survivor.
pub(crate) async fn lock_live(tx: &mut Tx, id: CustomerId) -> Result<Option<CustomerRow>, sqlx::Error> {
    follow(tx, id, "FOR SHARE").await
}

/// Like [`lock_live`] without taking a lock (reads).
pub(crate) async fn find_live(tx: &mut Tx, id: CustomerId) -> Result<Option<CustomerRow>, sqlx::Error> {
    follow(tx, id, "").await
}

async fn follow(tx: &mut Tx, mut id: CustomerId, lock: &str) -> Result<Option<CustomerRow>, sqlx::Error> {
    // merges re-point older tombstones at the newest survivor, so this is one hop; the bound
    // only guards against a cycle that the merge code never creates
    for _ in 0..16 {
        let row: Option<CustomerRow> =
            sqlx::query_as(&format!("SELECT id, status, merged_into_id FROM customers WHERE id = $1 {lock}"))
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?;
        match row {
            Some(CustomerRow { status: CustomerStatus::Merged, merged_into_id: Some(next), .. }) => id = next,
            Some(row) if row.status == CustomerStatus::Erased => return Ok(None),
            other => return Ok(other),
        }
    }
    Ok(None)
}

/// The live customer behind `id` (following a merge), provided `store` has a profile of it;
/// locked FOR SHARE when `lock` (before writing its data).
pub(crate) async fn live_in_store(
    tx: &mut Tx,
    store: StoreId,
    id: CustomerId,
    lock: bool,
) -> Result<CustomerId, CustomersError> {
    let live = if lock { lock_live(tx, id).await? } else { find_live(tx, id).await? };
    let live = live.ok_or(CustomersError::CustomerNotFound)?;
    let seen: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM customer_profiles WHERE store_id = $1 AND customer_id = $2)")
            .bind(store)
            .bind(live.id)
            .fetch_one(&mut **tx)
            .await?;
    if seen { Ok(live.id) } else { Err(CustomersError::CustomerNotFound) }
}

/// A customer as staff of one store see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerDetail {
    pub id: CustomerId,
    pub status: CustomerStatus,
    pub created_at: DateTime<Utc>,
    /// Emails, phones and external ids that resolve to this customer, tenant-wide.
    pub identities: Vec<Identity>,
    /// This store's profile (never another store's).
    pub profile: Profile,
    pub addresses: Vec<CustomerAddress>,
}

/// One row of the customer list: the customer and this store's profile fields.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct CustomerSummary {
    pub id: CustomerId,
    pub name: String,
    pub name_kana: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub status: ProfileStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerSearch {
    /// Matches name, kana (hiragana or katakana), email or phone (any common form, or its
    /// last digits).
    pub q: Option<String>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
}

/// A new customer in the caller's store. The email or phone is resolved through the identity
/// map first: a customer already known in another store of the tenant gets a profile here
/// (no duplicate is made).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCustomer {
    pub email: Option<String>,
    /// Japanese forms accepted (090-1234-5678, +81 90 ..., full-width digits).
    pub phone: Option<String>,
    pub name: Option<String>,
    pub name_kana: Option<String>,
    pub notes: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub preferences: Option<Map<String, Value>>,
}

pub async fn create_customer(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    input: CreateCustomer,
) -> Result<CustomerDetail, CustomersError> {
    by.require(Permission::CustomersWrite)?;
    let mut v = Validator::new();
    let keys = identity::parse_keys(&mut v, input.email.as_deref(), input.phone.as_deref(), None);
    let mut seed = ProfileSeed::parse(&mut v, input.name.as_deref(), input.name_kana.as_deref(), &keys);
    seed.notes = profile::parse_notes(&mut v, input.notes.as_deref());
    if let Some(prefs) = input.preferences {
        profile::check_preferences(&mut v, &prefs);
        seed.preferences = prefs.into_iter().filter(|(_, val)| !val.is_null()).collect();
    }
    if keys.is_empty() && v.is_ok() {
        v.push("email", "required", "give an email or a phone");
    }
    v.into_result()?;
    let resolved = identity::resolve_parsed(tx, store, &keys, seed, false, Source::Staff).await?;
    if !resolved.created_profile {
        return Err(CustomersError::CustomerExists(resolved.customer_id));
    }
    detail(tx, store, resolved.customer_id).await
}

pub async fn get_customer(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    id: CustomerId,
) -> Result<CustomerDetail, CustomersError> {
    by.require(Permission::CustomersRead)?;
    let live = find_live(tx, id).await?.ok_or(CustomersError::CustomerNotFound)?;
    detail(tx, store, live.id).await
}

/// The detail of a live customer as `store` sees it; 404 without a profile there.
pub(crate) async fn detail(tx: &mut Tx, store: StoreId, id: CustomerId) -> Result<CustomerDetail, CustomersError> {
    let (status, created_at): (CustomerStatus, DateTime<Utc>) =
        sqlx::query_as("SELECT status, created_at FROM customers WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(CustomersError::CustomerNotFound)?;
    let profile = profile::find(tx, store, id).await?.ok_or(CustomersError::CustomerNotFound)?;
    let identities = identity::list_identities(tx, id).await?;
    let addresses = address::list(tx, id).await?;
    Ok(CustomerDetail { id, status, created_at, identities, profile, addresses })
}

/// Changes this store's profile of a customer (see [`profile::update_profile`]).
pub async fn update_customer(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    id: CustomerId,
    input: UpdateCustomer,
) -> Result<CustomerDetail, CustomersError> {
    let p = profile::update_profile(tx, store, by, id, input).await?;
    detail(tx, store, p.customer_id).await
}

/// What a search string can match, prepared once.
struct Search {
    /// ILIKE pattern of the text as typed (name).
    text: String,
    /// ILIKE pattern of the text width-folded and lower-cased (email).
    email_like: String,
    /// ILIKE pattern of the text as katakana (name_kana).
    kana: String,
    /// The E.164 form, when the text is a phone number.
    phone: Option<String>,
    /// LIKE pattern of the national digits (e.g. "%12345678%"), when the text is 4+ digits.
    digits: Option<String>,
    /// The normalised email, when the text is one.
    email: Option<String>,
}

fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

impl Search {
    fn parse(q: &str) -> Option<Search> {
        let q = profile::normalize_spaces(q);
        if q.is_empty() {
            return None;
        }
        let folded = jp::fold_width(&q);
        let digits: String = folded.chars().filter(char::is_ascii_digit).collect();
        let phone_like = folded.chars().all(|c| c.is_ascii_digit() || " -+().".contains(c));
        let national = digits.strip_prefix("81").filter(|_| folded.starts_with('+')).unwrap_or(&digits);
        let national = national.strip_prefix('0').unwrap_or(national);
        Some(Search {
            text: format!("%{}%", like_escape(&q)),
            email_like: format!("%{}%", like_escape(&folded.to_lowercase())),
            kana: format!("%{}%", like_escape(&profile::normalize_kana(&q))),
            phone: jp::normalize_phone(&q).ok(),
            digits: (phone_like && national.len() >= 4).then(|| format!("%{national}%")),
            email: identity::normalize_email(&q).ok(),
        })
    }
}

/// The store's customers (those with a profile here), newest last, optionally searched.
pub async fn list_customers(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    query: &CustomerSearch,
) -> Result<Page<CustomerSummary>, CustomersError> {
    by.require(Permission::CustomersRead)?;
    let page = PageRequest { limit: query.limit, cursor: query.cursor.clone() };
    let limit = page.limit()?;
    let after: Option<CustomerId> = page.after()?;
    let mut v = Validator::new();
    if query.q.as_deref().is_some_and(|q| q.chars().count() > 200) {
        v.push("q", "too_long", "must be at most 200 characters");
    }
    v.into_result()?;
    let search = query.q.as_deref().and_then(Search::parse);
    let rows = sqlx::query_as(
        "SELECT c.id, p.name, p.name_kana, p.email, p.phone, p.status, c.created_at, p.updated_at
           FROM customer_profiles p JOIN customers c ON c.id = p.customer_id
          WHERE p.store_id = $1 AND c.deleted_at IS NULL
            AND ($2::uuid IS NULL OR p.customer_id > $2)
            AND (NOT $3 OR p.name ILIKE $4 OR p.name_kana ILIKE $5 OR p.email ILIKE $6
                 OR p.phone = $7 OR p.phone LIKE $8
                 OR EXISTS (SELECT 1 FROM customer_identities i
                             WHERE i.customer_id = c.id AND i.identity_value IN ($7, $9)))
          ORDER BY p.customer_id LIMIT $10",
    )
    .bind(store)
    .bind(after)
    .bind(search.is_some())
    .bind(search.as_ref().map(|s| s.text.as_str()))
    .bind(search.as_ref().map(|s| s.kana.as_str()))
    .bind(search.as_ref().map(|s| s.email_like.as_str()))
    .bind(search.as_ref().and_then(|s| s.phone.as_deref()))
    .bind(search.as_ref().and_then(|s| s.digits.as_deref()))
    .bind(search.as_ref().and_then(|s| s.email.as_deref()))
    .bind(limit as i64 + 1)
    .fetch_all(&mut **tx)
    .await?;
    Ok(Page::from_rows(rows, limit, |c: &CustomerSummary| c.id))
}

/// A customer's row and identities as the control database's identity map has them, to be
/// copied into a store database under the same ids (docs/ROUTING.md).
pub(crate) struct Copy {
    customer: Value,
    identities: Value,
}

impl Copy {
    pub(crate) async fn read(map: &mut Tx, id: CustomerId) -> Result<Copy, sqlx::Error> {
        let (customer, identities): (Value, Value) = sqlx::query_as(
            "SELECT (SELECT to_jsonb(c) FROM customers c WHERE c.id = $1),
                    (SELECT coalesce(jsonb_agg(to_jsonb(i)), '[]'::jsonb) FROM customer_identities i WHERE i.customer_id = $1)",
        )
        .bind(id)
        .fetch_one(&mut **map)
        .await?;
        Ok(Copy { customer, identities })
    }

    /// Upserts the copy: the row by id (a live row takes the map's status; a tombstone here
    /// stays one, and lookups follow it), each identity by its value (one held here by another
    /// customer follows the map).
    pub(crate) async fn write(&self, tx: &mut Tx) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO customers (id, tenant_id, status, merged_into_id, deleted_at, created_at, updated_at)
             SELECT id, tenant_id, status, NULL, deleted_at, created_at, updated_at FROM jsonb_populate_record(NULL::customers, $1)
             ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status
              WHERE customers.status IN ('active', 'blocked')",
        )
        .bind(&self.customer)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "INSERT INTO customer_identities (id, tenant_id, customer_id, identity_type, identity_value, verified, source, created_at)
             SELECT id, tenant_id, customer_id, identity_type, identity_value, verified, source, created_at
               FROM jsonb_populate_recordset(NULL::customer_identities, $1)
             ON CONFLICT (tenant_id, identity_type, identity_value) DO UPDATE
                SET customer_id = EXCLUDED.customer_id, verified = EXCLUDED.verified, source = EXCLUDED.source",
        )
        .bind(&self.identities)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_reads_phones_digits_kana_and_emails() {
        let s = Search::parse("090-1234-5678").unwrap();
        assert_eq!(s.phone.as_deref(), Some("+819012345678"));
        assert_eq!(s.digits.as_deref(), Some("%9012345678%"));
        let s = Search::parse("5678").unwrap();
        assert_eq!((s.phone, s.digits.as_deref()), (None, Some("%5678%")));
        let s = Search::parse("たなか").unwrap();
        assert_eq!(s.kana, "%タナカ%");
        assert_eq!(s.digits, None);
        let s = Search::parse(" Taro@Example.com ").unwrap();
        assert_eq!(s.email.as_deref(), Some("taro@example.com"));
        assert_eq!(Search::parse("100%_").unwrap().text, "%100\\%\\_%");
        assert_eq!(Search::parse("ＴＡＲＯ").unwrap().email_like, "%taro%");
        assert!(Search::parse("  ").is_none());
    }
}
