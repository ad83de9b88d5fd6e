//! Japanese addresses: name, kana, a 7-digit postal code, one of the 47 prefectures, city,
//! line1, line2, phone. [`AddressInput`] is what people type; [`Address::parse`] turns it into
//! the stored shape (postal code `123-4567`, canonical prefecture name with its JIS code, phone
//! in E.164), naming every bad field, and checks the postal code against Japan Post's table
//! (crates/postal): it must exist and lie in the prefecture given. Customer addresses use it here; order addresses (checkout)
//! have the same shape and reuse the parsing.

use chrono::{DateTime, Utc};
use db::Tx;
use kernel::access::{Acting, Permission};
use kernel::jp::{self, Prefecture};
use kernel::{AddressId, CustomerId, StoreId, ValidationErrors, Validator};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::event::{AddressChange, CustomerAddressCreated, CustomerAddressDeleted, CustomerAddressUpdated};
use crate::profile::{normalize_kana, normalize_spaces};
use crate::{CustomersError, customer};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum AddressType {
    #[default]
    Shipping,
    Billing,
}

/// An address as typed. Postal code as `123-4567`, `1234567` or in full-width digits;
/// prefecture by name (`東京都`, `東京`, `Tokyo`) or JIS code (`13`, `01`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressInput {
    /// `shipping` (default) or `billing`.
    #[serde(rename = "type")]
    pub kind: Option<AddressType>,
    #[schema(example = "山田 太郎")]
    pub name: String,
    #[schema(example = "ヤマダ タロウ")]
    pub name_kana: Option<String>,
    #[schema(example = "150-0001")]
    pub postal_code: String,
    #[schema(example = "東京都")]
    pub prefecture: String,
    #[schema(example = "渋谷区神宮前")]
    pub city: String,
    #[schema(example = "1-2-3")]
    pub line1: String,
    #[schema(example = "神宮前ビル 4F")]
    pub line2: Option<String>,
    #[schema(example = "090-1234-5678")]
    pub phone: Option<String>,
}

/// A valid Japanese address, normalised for storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema, sqlx::FromRow)]
pub struct Address {
    #[serde(rename = "type")]
    #[sqlx(rename = "type")]
    pub kind: AddressType,
    pub name: String,
    /// Katakana.
    pub name_kana: String,
    /// `123-4567`.
    pub postal_code: String,
    /// Canonical name, e.g. `東京都`.
    pub prefecture: String,
    /// JIS X 0401 code, 1 to 47.
    pub prefecture_code: i16,
    pub city: String,
    pub line1: String,
    pub line2: Option<String>,
    /// E.164.
    pub phone: Option<String>,
}

impl Address {
    /// Parses an address, collecting an error for every bad field.
    pub fn parse(input: &AddressInput) -> Result<Address, ValidationErrors> {
        let mut v = Validator::new();
        let address = Address::parse_in(&mut v, "", input);
        v.finish(()).map(|()| address.expect("an address when no field failed"))
    }

    /// Parses an address nested in a larger input: field errors are named `{prefix}{field}`
    /// (e.g. `shipping_address.postal_code`). `None` when a field failed.
    pub fn parse_in(v: &mut Validator, prefix: &str, input: &AddressInput) -> Option<Address> {
        let f = |name: &str| format!("{prefix}{name}");
        let mut ok = true;
        let mut fail = |v: &mut Validator, field: &str, code: &str, message: String| {
            v.push(&f(field), code, message);
            ok = false;
        };
        let mut text = |v: &mut Validator, field: &str, raw: &str, required: bool| {
            let s = normalize_spaces(raw);
            if s.is_empty() && required {
                fail(v, field, "required", "must not be empty".into());
            } else if s.chars().count() > 200 {
                fail(v, field, "too_long", "must be at most 200 characters".into());
            }
            s
        };
        let name = text(v, "name", &input.name, true);
        let name_kana = text(v, "name_kana", &normalize_kana(input.name_kana.as_deref().unwrap_or("")), false);
        let postal_code = jp::normalize_postal_code(&input.postal_code);
        let prefecture = Prefecture::parse(&input.prefecture);
        let city = text(v, "city", &input.city, true);
        let line1 = text(v, "line1", &input.line1, true);
        let line2 = Some(text(v, "line2", input.line2.as_deref().unwrap_or(""), false)).filter(|s| !s.is_empty());
        let phone = input.phone.as_deref().filter(|p| !p.trim().is_empty()).map(jp::normalize_phone).transpose();
        for (field, raw, result) in [
            ("postal_code", &input.postal_code, postal_code.as_ref().err()),
            ("prefecture", &input.prefecture, prefecture.as_ref().err()),
        ] {
            if raw.trim().is_empty() {
                fail(v, field, "required", "must not be empty".into());
            } else if let Some(e) = result {
                fail(v, field, "invalid", e.to_string());
            }
        }
        if let Err(e) = &phone {
            fail(v, "phone", "invalid", e.to_string());
        }
        if let (Ok(code), Ok(pref)) = (&postal_code, &prefecture) {
            ok &= check_postal_prefecture(v, &f("postal_code"), code, pref);
        }
        if !ok {
            return None;
        }
        let prefecture = prefecture.ok()?;
        Some(Address {
            kind: input.kind.unwrap_or_default(),
            name,
            name_kana,
            postal_code: postal_code.ok()?,
            prefecture: prefecture.name.to_string(),
            prefecture_code: prefecture.code as i16,
            city,
            line1,
            line2,
            phone: phone.ok()?,
        })
    }

    /// The address as input again (for partial updates).
    pub fn to_input(&self) -> AddressInput {
        AddressInput {
            kind: Some(self.kind),
            name: self.name.clone(),
            name_kana: Some(self.name_kana.clone()),
            postal_code: self.postal_code.clone(),
            prefecture: self.prefecture.clone(),
            city: self.city.clone(),
            line1: self.line1.clone(),
            line2: self.line2.clone(),
            phone: self.phone.clone(),
        }
    }
}

/// The postal code must exist in Japan Post's table ([`postal::prefectures`]) and lie in the
/// given prefecture: `postal_code_unknown`, or `postal_code_prefecture_mismatch` naming the
/// prefecture(s) the code belongs to.
fn check_postal_prefecture(v: &mut Validator, field: &str, code: &str, prefecture: &Prefecture) -> bool {
    let actual = postal::prefectures(code);
    if actual.is_empty() {
        v.push(field, "postal_code_unknown", format!("{code} is not a Japan Post postal code"));
        return false;
    }
    if !actual.contains(&prefecture.code) {
        let names: Vec<&str> = actual.iter().filter_map(|c| Prefecture::from_code(*c)).map(|p| p.name).collect();
        v.push(
            field,
            "postal_code_prefecture_mismatch",
            format!("{code} is in {}, not {}", names.join(" / "), prefecture.name),
        );
        return false;
    }
    true
}

/// A customer's saved address.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct CustomerAddress {
    pub id: AddressId,
    pub customer_id: CustomerId,
    #[serde(flatten)]
    #[sqlx(flatten)]
    pub address: Address,
    /// The customer's default address of its type (at most one per type).
    pub is_default: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A new saved address: an [`AddressInput`] and whether it becomes the default of its type
/// (the first address of a type always does).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAddress {
    #[serde(rename = "type")]
    pub kind: Option<AddressType>,
    pub name: String,
    pub name_kana: Option<String>,
    pub postal_code: String,
    pub prefecture: String,
    pub city: String,
    pub line1: String,
    pub line2: Option<String>,
    pub phone: Option<String>,
    pub is_default: Option<bool>,
}

impl CreateAddress {
    fn split(self) -> (AddressInput, Option<bool>) {
        let input = AddressInput {
            kind: self.kind,
            name: self.name,
            name_kana: self.name_kana,
            postal_code: self.postal_code,
            prefecture: self.prefecture,
            city: self.city,
            line1: self.line1,
            line2: self.line2,
            phone: self.phone,
        };
        (input, self.is_default)
    }
}

/// A change to a saved address; absent fields stay, `""` clears kana, line2 and phone.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAddress {
    #[serde(rename = "type")]
    pub kind: Option<AddressType>,
    pub name: Option<String>,
    pub name_kana: Option<String>,
    pub postal_code: Option<String>,
    pub prefecture: Option<String>,
    pub city: Option<String>,
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub phone: Option<String>,
    pub is_default: Option<bool>,
}

const COLUMNS: &str = "id, customer_id, type, name, name_kana, postal_code, prefecture, prefecture_code, city, line1, \
                       line2, phone, is_default, created_at, updated_at";

pub(crate) async fn list(tx: &mut Tx, customer: CustomerId) -> Result<Vec<CustomerAddress>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM customer_addresses WHERE customer_id = $1 ORDER BY type, is_default DESC, id"
    ))
    .bind(customer)
    .fetch_all(&mut **tx)
    .await
}

pub async fn list_addresses(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    customer: CustomerId,
) -> Result<Vec<CustomerAddress>, CustomersError> {
    by.require(Permission::CustomersRead)?;
    let live = customer::live_in_store(tx, store, customer, false).await?;
    Ok(list(tx, live).await?)
}

pub async fn create_address(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    customer: CustomerId,
    input: CreateAddress,
) -> Result<CustomerAddress, CustomersError> {
    by.require(Permission::CustomersWrite)?;
    let (input, is_default) = input.split();
    let address = Address::parse(&input)?;
    let live = customer::live_in_store(tx, store, customer, true).await?;
    let has_default: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM customer_addresses WHERE customer_id = $1 AND type = $2 AND is_default)",
    )
    .bind(live)
    .bind(address.kind)
    .fetch_one(&mut **tx)
    .await?;
    let is_default = is_default.unwrap_or(false) || !has_default;
    if is_default {
        clear_default(tx, live, address.kind).await?;
    }
    let saved = insert(tx, live, &address, is_default).await?;
    record(tx, store, CustomerAddressCreated, &saved).await?;
    Ok(saved)
}

pub(crate) async fn insert(
    tx: &mut Tx,
    customer: CustomerId,
    a: &Address,
    is_default: bool,
) -> Result<CustomerAddress, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO customer_addresses (id, tenant_id, customer_id, type, name, name_kana, postal_code, prefecture,
                                         prefecture_code, city, line1, line2, phone, is_default)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING {COLUMNS}"
    ))
    .bind(AddressId::new())
    .bind(tx.tenant())
    .bind(customer)
    .bind(a.kind)
    .bind(&a.name)
    .bind(&a.name_kana)
    .bind(&a.postal_code)
    .bind(&a.prefecture)
    .bind(a.prefecture_code)
    .bind(&a.city)
    .bind(&a.line1)
    .bind(&a.line2)
    .bind(&a.phone)
    .bind(is_default)
    .fetch_one(&mut **tx)
    .await
}

async fn clear_default(tx: &mut Tx, customer: CustomerId, kind: AddressType) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE customer_addresses SET is_default = false WHERE customer_id = $1 AND type = $2 AND is_default")
        .bind(customer)
        .bind(kind)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn lock(tx: &mut Tx, customer: CustomerId, id: AddressId) -> Result<CustomerAddress, CustomersError> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM customer_addresses WHERE id = $1 AND customer_id = $2 FOR UPDATE"))
        .bind(id)
        .bind(customer)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(CustomersError::AddressNotFound)
}

pub async fn update_address(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    customer: CustomerId,
    id: AddressId,
    patch: UpdateAddress,
) -> Result<CustomerAddress, CustomersError> {
    by.require(Permission::CustomersWrite)?;
    let live = customer::live_in_store(tx, store, customer, true).await?;
    let current = lock(tx, live, id).await?;
    let mut input = current.address.to_input();
    let set = |slot: &mut String, value: Option<String>| {
        if let Some(v) = value {
            *slot = v;
        }
    };
    if patch.kind.is_some() {
        input.kind = patch.kind;
    }
    set(&mut input.name, patch.name);
    set(&mut input.postal_code, patch.postal_code);
    set(&mut input.prefecture, patch.prefecture);
    set(&mut input.city, patch.city);
    set(&mut input.line1, patch.line1);
    if patch.name_kana.is_some() {
        input.name_kana = patch.name_kana;
    }
    if patch.line2.is_some() {
        input.line2 = patch.line2;
    }
    if patch.phone.is_some() {
        input.phone = patch.phone;
    }
    let address = Address::parse(&input)?;
    let is_default = patch.is_default.unwrap_or(current.is_default && address.kind == current.address.kind);
    if is_default {
        clear_default(tx, live, address.kind).await?;
    }
    let saved: CustomerAddress = sqlx::query_as(&format!(
        "UPDATE customer_addresses SET type = $2, name = $3, name_kana = $4, postal_code = $5, prefecture = $6,
                prefecture_code = $7, city = $8, line1 = $9, line2 = $10, phone = $11, is_default = $12
          WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(address.kind)
    .bind(&address.name)
    .bind(&address.name_kana)
    .bind(&address.postal_code)
    .bind(&address.prefecture)
    .bind(address.prefecture_code)
    .bind(&address.city)
    .bind(&address.line1)
    .bind(&address.line2)
    .bind(&address.phone)
    .bind(is_default)
    .fetch_one(&mut **tx)
    .await?;
    record(tx, store, CustomerAddressUpdated, &saved).await?;
    Ok(saved)
}

pub async fn delete_address(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    customer: CustomerId,
    id: AddressId,
) -> Result<(), CustomersError> {
    by.require(Permission::CustomersWrite)?;
    let live = customer::live_in_store(tx, store, customer, true).await?;
    let current = lock(tx, live, id).await?;
    sqlx::query("DELETE FROM customer_addresses WHERE id = $1").bind(id).execute(&mut **tx).await?;
    record(tx, store, CustomerAddressDeleted, &current).await?;
    Ok(())
}

/// Address events carry ids only (no personal data in the outbox).
async fn record<P: events::Payload>(
    tx: &mut Tx,
    store: StoreId,
    event: fn(AddressChange) -> P,
    a: &CustomerAddress,
) -> Result<(), sqlx::Error> {
    events::record(tx, events::NewEvent::of(&event(AddressChange::new(a))).in_store(store)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> AddressInput {
        AddressInput {
            kind: None,
            name: "山田　太郎".into(),
            name_kana: Some("やまだ たろう".into()),
            postal_code: "１５０－０００１".into(),
            prefecture: "Tokyo".into(),
            city: "渋谷区神宮前".into(),
            line1: "1-2-3".into(),
            line2: Some("  ".into()),
            phone: Some("090-1234-5678".into()),
        }
    }

    #[test]
    fn a_typed_address_is_stored_normalised() {
        let a = Address::parse(&input()).unwrap();
        assert_eq!(a.kind, AddressType::Shipping);
        assert_eq!(a.name, "山田 太郎");
        assert_eq!(a.name_kana, "ヤマダ タロウ");
        assert_eq!(a.postal_code, "150-0001");
        assert_eq!((a.prefecture.as_str(), a.prefecture_code), ("東京都", 13));
        assert_eq!(a.line2, None);
        assert_eq!(a.phone.as_deref(), Some("+819012345678"));
        assert_eq!(Address::parse(&a.to_input()).unwrap(), a);
    }

    #[test]
    fn every_bad_field_is_named_with_the_prefix() {
        let bad = AddressInput {
            postal_code: "123456".into(),
            prefecture: "Edo".into(),
            city: " ".into(),
            phone: Some("12".into()),
            ..input()
        };
        let mut v = Validator::new();
        assert!(Address::parse_in(&mut v, "shipping_address.", &bad).is_none());
        let errors: Vec<(String, String)> =
            v.into_result().unwrap_err().0.into_iter().map(|e| (e.field, e.code)).collect();
        let expected = [
            ("shipping_address.city", "required"),
            ("shipping_address.postal_code", "invalid"),
            ("shipping_address.prefecture", "invalid"),
            ("shipping_address.phone", "invalid"),
        ];
        assert_eq!(errors, expected.map(|(f, c)| (f.to_string(), c.to_string())));
    }

    #[test]
    fn the_postal_code_must_exist_and_lie_in_the_prefecture() {
        let errors = |input: AddressInput| -> Vec<(String, String, String)> {
            let mut v = Validator::new();
            assert!(Address::parse_in(&mut v, "shipping_address.", &input).is_none());
            v.into_result().unwrap_err().0.into_iter().map(|e| (e.field, e.code, e.message)).collect()
        };
        let kyoto_in_mie = AddressInput { postal_code: "600-8216".into(), prefecture: "三重".into(), ..input() };
        let got = errors(kyoto_in_mie);
        assert_eq!(got.len(), 1);
        assert_eq!(
            (got[0].0.as_str(), got[0].1.as_str()),
            ("shipping_address.postal_code", "postal_code_prefecture_mismatch")
        );
        assert_eq!(got[0].2, "600-8216 is in 京都府, not 三重県");
        for unknown in ["000-0000", "9999999"] {
            let got = errors(AddressInput { postal_code: unknown.into(), ..input() });
            assert_eq!(got[0].1, "postal_code_unknown", "{unknown}");
        }
        // a code spanning two prefectures is good in either
        for pref in ["愛知県", "三重県"] {
            assert!(
                Address::parse(&AddressInput { postal_code: "498-0000".into(), prefecture: pref.into(), ..input() })
                    .is_ok()
            );
        }
    }

    #[test]
    fn an_earlier_failure_elsewhere_does_not_hide_a_good_address() {
        let mut v = Validator::new();
        v.push("email", "invalid", "x");
        assert!(Address::parse_in(&mut v, "", &input()).is_some());
    }
}
