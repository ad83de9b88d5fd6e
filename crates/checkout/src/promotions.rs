//! Promotion codes: a fixed amount or a percentage (basis points) off the goods, within an
//! active window, above an optional minimum, up to optional usage limits in total and per
//! customer.
//!
//! Eligibility is a plain function ([`check`]); usage limits hold under concurrency because the
//! use is claimed at order placement with a guarded update of the promotion row
//! (`times_used < usage_limit_total`), which also serialises the per-customer count.

use chrono::{DateTime, Utc};
use db::Tx;
use kernel::access::{Acting, Permission};
use kernel::{CustomerId, Money, OrderId, Page, PageRequest, PromotionId, StoreId, Validator};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::CheckoutError;
use crate::cart::{self, CartKey, CartView};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum DiscountType {
    Fixed,
    Percent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum PromotionStatus {
    Active,
    Inactive,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Promotion {
    pub id: PromotionId,
    /// Upper-case; shoppers may type it in any case.
    pub code: String,
    pub description: String,
    pub discount_type: DiscountType,
    /// Fixed discounts: the amount off.
    pub amount_off: Option<Money>,
    /// Percent discounts, in basis points (1000 = 10%).
    pub percent_off_bps: Option<i32>,
    pub status: PromotionStatus,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub min_subtotal: Option<Money>,
    pub usage_limit_total: Option<i32>,
    pub usage_limit_per_customer: Option<i32>,
    /// Uses by orders that were not canceled.
    pub times_used: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: PromotionId,
    code: String,
    description: String,
    discount_type: DiscountType,
    value_amount: Option<i64>,
    value_currency: Option<kernel::Currency>,
    value_bps: Option<i32>,
    status: PromotionStatus,
    starts_at: Option<DateTime<Utc>>,
    ends_at: Option<DateTime<Utc>>,
    min_subtotal_amount: Option<i64>,
    usage_limit_total: Option<i32>,
    usage_limit_per_customer: Option<i32>,
    times_used: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    currency: kernel::Currency,
}

const COLUMNS: &str =
    "p.id, p.code, p.description, p.discount_type, p.value_amount, p.value_currency, p.value_bps, p.status,
    p.starts_at, p.ends_at, p.min_subtotal_amount, p.usage_limit_total, p.usage_limit_per_customer, p.times_used,
    p.created_at, p.updated_at, s.currency";

impl From<Row> for Promotion {
    fn from(r: Row) -> Self {
        Promotion {
            id: r.id,
            code: r.code,
            description: r.description,
            discount_type: r.discount_type,
            amount_off: r.value_amount.zip(r.value_currency).map(|(a, c)| Money::new(a, c)),
            percent_off_bps: r.value_bps,
            status: r.status,
            starts_at: r.starts_at,
            ends_at: r.ends_at,
            min_subtotal: r.min_subtotal_amount.map(|a| Money::new(a, r.currency)),
            usage_limit_total: r.usage_limit_total,
            usage_limit_per_customer: r.usage_limit_per_customer,
            times_used: r.times_used,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

impl Promotion {
    pub fn discount(&self) -> crate::totals::Discount {
        match self.discount_type {
            DiscountType::Fixed => crate::totals::Discount::Fixed(self.amount_off.map_or(0, |m| m.amount)),
            DiscountType::Percent => crate::totals::Discount::PercentBps(self.percent_off_bps.unwrap_or(0) as i64),
        }
    }
}

/// Why a code does not apply; each has its own error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ineligible {
    Unknown,
    NotStarted,
    Ended,
    Inactive,
    BelowMinimum,
    UsedUp,
}

impl Ineligible {
    pub fn code(self) -> &'static str {
        match self {
            Ineligible::Unknown => "promotion_unknown",
            Ineligible::NotStarted => "promotion_not_started",
            Ineligible::Ended => "promotion_ended",
            Ineligible::Inactive => "promotion_inactive",
            Ineligible::BelowMinimum => "promotion_below_minimum",
            Ineligible::UsedUp => "promotion_used_up",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Ineligible::Unknown => "no such promotion code",
            Ineligible::NotStarted => "this code is not valid yet",
            Ineligible::Ended => "this code has expired",
            Ineligible::Inactive => "this code is not active",
            Ineligible::BelowMinimum => "the order is below this code's minimum",
            Ineligible::UsedUp => "this code has been used up",
        }
    }
}

/// Whether a promotion applies now to goods of `subtotal`, given the customer's earlier uses.
pub fn check(p: &Promotion, now: DateTime<Utc>, subtotal: i64, customer_uses: i64) -> Result<(), Ineligible> {
    if p.status != PromotionStatus::Active {
        return Err(Ineligible::Inactive);
    }
    if p.starts_at.is_some_and(|s| now < s) {
        return Err(Ineligible::NotStarted);
    }
    if p.ends_at.is_some_and(|e| now >= e) {
        return Err(Ineligible::Ended);
    }
    if p.min_subtotal.is_some_and(|m| subtotal < m.amount) {
        return Err(Ineligible::BelowMinimum);
    }
    if p.usage_limit_total.is_some_and(|l| p.times_used >= l) {
        return Err(Ineligible::UsedUp);
    }
    if p.usage_limit_per_customer.is_some_and(|l| customer_uses >= l as i64) {
        return Err(Ineligible::UsedUp);
    }
    Ok(())
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePromotion {
    #[schema(example = "SPRING10")]
    pub code: String,
    #[serde(default)]
    pub description: String,
    pub discount_type: DiscountType,
    /// For `fixed`.
    pub amount_off: Option<Money>,
    /// For `percent`: 1 to 10000 (10000 = 100%).
    pub percent_off_bps: Option<i32>,
    pub status: Option<PromotionStatus>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub min_subtotal: Option<Money>,
    pub usage_limit_total: Option<i32>,
    pub usage_limit_per_customer: Option<i32>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePromotion {
    pub description: Option<String>,
    pub status: Option<PromotionStatus>,
    #[serde(default, deserialize_with = "kernel::validate::nullable")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub starts_at: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "kernel::validate::nullable")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub ends_at: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "kernel::validate::nullable")]
    #[schema(value_type = Option<Money>)]
    pub min_subtotal: Option<Option<Money>>,
    #[serde(default, deserialize_with = "kernel::validate::nullable")]
    #[schema(value_type = Option<i32>)]
    pub usage_limit_total: Option<Option<i32>>,
    #[serde(default, deserialize_with = "kernel::validate::nullable")]
    #[schema(value_type = Option<i32>)]
    pub usage_limit_per_customer: Option<Option<i32>>,
}

/// Codes are stored upper-case: `spring10`, `Spring10` and `SPRING10` are one code.
pub fn normalize_code(raw: &str) -> String {
    kernel::jp::fold_width(raw).trim().to_uppercase()
}

fn valid_code(c: &str) -> bool {
    (1..=64).contains(&c.len())
        && c.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

async fn store_currency(tx: &mut Tx, store: StoreId) -> Result<kernel::Currency, sqlx::Error> {
    sqlx::query_scalar("SELECT currency FROM store_settings WHERE store_id = $1").bind(store).fetch_one(&mut **tx).await
}

pub(crate) async fn find(tx: &mut Tx, store: StoreId, id: PromotionId) -> Result<Option<Promotion>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM promotions p JOIN store_settings s ON s.store_id = p.store_id
          WHERE p.id = $1 AND p.store_id = $2 AND p.deleted_at IS NULL"
    ))
    .bind(id)
    .bind(store)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(Promotion::from))
}

async fn find_by_code(tx: &mut Tx, store: StoreId, code: &str) -> Result<Option<Promotion>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM promotions p JOIN store_settings s ON s.store_id = p.store_id
          WHERE p.store_id = $1 AND p.code = $2 AND p.deleted_at IS NULL"
    ))
    .bind(store)
    .bind(code)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(Promotion::from))
}

pub async fn create(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    input: CreatePromotion,
) -> Result<Promotion, CheckoutError> {
    by.require(Permission::PromotionsWrite)?;
    let currency = store_currency(tx, store).await?;
    let mut v = Validator::new();
    let code = normalize_code(&input.code);
    if !valid_code(&code) {
        v.push("code", "invalid", "1 to 64 of A-Z, 0-9, '-' and '_'");
    }
    v.opt_text("description", Some(&input.description), 500);
    match input.discount_type {
        DiscountType::Fixed => match input.amount_off {
            Some(m) if m.currency != currency => {
                v.push("amount_off.currency", "invalid", format!("must be the store's currency {currency}"))
            }
            Some(m) if m.amount <= 0 || m.amount > 100_000_000_000 => {
                v.push("amount_off.amount", "out_of_range", "must be above 0")
            }
            Some(_) => {}
            None => v.push("amount_off", "required", "a fixed discount needs amount_off"),
        },
        DiscountType::Percent => match input.percent_off_bps {
            Some(b) => {
                v.range("percent_off_bps", b, 1, 10_000);
            }
            None => v.push("percent_off_bps", "required", "a percent discount needs percent_off_bps"),
        },
    }
    if input.discount_type == DiscountType::Fixed && input.percent_off_bps.is_some() {
        v.push("percent_off_bps", "invalid", "only for percent discounts");
    }
    if input.discount_type == DiscountType::Percent && input.amount_off.is_some() {
        v.push("amount_off", "invalid", "only for fixed discounts");
    }
    check_window(&mut v, input.starts_at, input.ends_at);
    let min = check_min(&mut v, input.min_subtotal, currency);
    check_limits(&mut v, input.usage_limit_total, input.usage_limit_per_customer);
    v.into_result()?;
    let id = PromotionId::new();
    sqlx::query(
        "INSERT INTO promotions (id, tenant_id, store_id, code, description, discount_type, value_amount, value_currency, value_bps,
            status, starts_at, ends_at, min_subtotal_amount, usage_limit_total, usage_limit_per_customer)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(id)
    .bind(tx.tenant())
    .bind(store)
    .bind(&code)
    .bind(input.description.trim())
    .bind(input.discount_type)
    .bind(input.amount_off.map(|m| m.amount))
    .bind(input.amount_off.map(|m| m.currency))
    .bind(input.percent_off_bps)
    .bind(input.status.unwrap_or(PromotionStatus::Active))
    .bind(input.starts_at)
    .bind(input.ends_at)
    .bind(min)
    .bind(input.usage_limit_total)
    .bind(input.usage_limit_per_customer)
    .execute(&mut **tx)
    .await
    .map_err(|e| match db::constraint_of(&e) {
        Some("promotions_store_code_key") => CheckoutError::PromotionCodeTaken(code.clone()),
        _ => e.into(),
    })?;
    let p = find(tx, store, id).await?.ok_or(CheckoutError::PromotionNotFound)?;
    events::record(tx, events::NewEvent::of(&crate::event::PromotionCreated(p.clone())).in_store(store)).await?;
    Ok(p)
}

fn check_window(v: &mut Validator, starts: Option<DateTime<Utc>>, ends: Option<DateTime<Utc>>) {
    if let (Some(s), Some(e)) = (starts, ends)
        && s >= e
    {
        v.push("ends_at", "invalid", "must be after starts_at");
    }
}

fn check_min(v: &mut Validator, min: Option<Money>, currency: kernel::Currency) -> Option<i64> {
    let m = min?;
    if m.currency != currency {
        v.push("min_subtotal.currency", "invalid", format!("must be the store's currency {currency}"));
    } else if m.amount < 0 {
        v.push("min_subtotal.amount", "out_of_range", "must not be negative");
    }
    Some(m.amount)
}

fn check_limits(v: &mut Validator, total: Option<i32>, per_customer: Option<i32>) {
    if let Some(t) = total {
        v.range("usage_limit_total", t, 1, 100_000_000);
    }
    if let Some(c) = per_customer {
        v.range("usage_limit_per_customer", c, 1, 100_000_000);
    }
}

pub async fn get(tx: &mut Tx, store: StoreId, by: Acting<'_>, id: PromotionId) -> Result<Promotion, CheckoutError> {
    by.require(Permission::PromotionsRead)?;
    find(tx, store, id).await?.ok_or(CheckoutError::PromotionNotFound)
}

pub async fn list(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    page: &PageRequest,
) -> Result<Page<Promotion>, CheckoutError> {
    by.require(Permission::PromotionsRead)?;
    let limit = page.limit()?;
    let after: Option<PromotionId> = page.after()?;
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM promotions p JOIN store_settings s ON s.store_id = p.store_id
          WHERE p.store_id = $1 AND p.deleted_at IS NULL AND ($2::uuid IS NULL OR p.id > $2) ORDER BY p.id LIMIT $3"
    ))
    .bind(store)
    .bind(after)
    .bind(limit as i64 + 1)
    .fetch_all(&mut **tx)
    .await?;
    Ok(Page::from_rows(rows.into_iter().map(Promotion::from).collect(), limit, |p: &Promotion| p.id))
}

pub async fn update(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    id: PromotionId,
    input: UpdatePromotion,
) -> Result<Promotion, CheckoutError> {
    by.require(Permission::PromotionsWrite)?;
    let current = find(tx, store, id).await?.ok_or(CheckoutError::PromotionNotFound)?;
    let currency = store_currency(tx, store).await?;
    let mut v = Validator::new();
    if let Some(d) = &input.description {
        v.opt_text("description", Some(d), 500);
    }
    let starts = input.starts_at.unwrap_or(current.starts_at);
    let ends = input.ends_at.unwrap_or(current.ends_at);
    check_window(&mut v, starts, ends);
    let min = input.min_subtotal.map(|m| check_min(&mut v, m, currency));
    check_limits(&mut v, input.usage_limit_total.flatten(), input.usage_limit_per_customer.flatten());
    v.into_result()?;
    sqlx::query(
        "UPDATE promotions SET
           description = coalesce($2, description), status = coalesce($3, status),
           starts_at = $4, ends_at = $5,
           min_subtotal_amount = CASE WHEN $6 THEN $7 ELSE min_subtotal_amount END,
           usage_limit_total = CASE WHEN $8 THEN $9 ELSE usage_limit_total END,
           usage_limit_per_customer = CASE WHEN $10 THEN $11 ELSE usage_limit_per_customer END
         WHERE id = $1",
    )
    .bind(id)
    .bind(input.description.as_deref().map(str::trim))
    .bind(input.status)
    .bind(starts)
    .bind(ends)
    .bind(min.is_some())
    .bind(min.flatten())
    .bind(input.usage_limit_total.is_some())
    .bind(input.usage_limit_total.flatten())
    .bind(input.usage_limit_per_customer.is_some())
    .bind(input.usage_limit_per_customer.flatten())
    .execute(&mut **tx)
    .await
    .map_err(|e| match db::is_check_violation(&e) {
        true => CheckoutError::Validation(kernel::ValidationErrors::one(
            "usage_limit_total",
            "out_of_range",
            "below the uses already made",
        )),
        false => e.into(),
    })?;
    let p = find(tx, store, id).await?.ok_or(CheckoutError::PromotionNotFound)?;
    events::record(tx, events::NewEvent::of(&crate::event::PromotionUpdated(p.clone())).in_store(store)).await?;
    Ok(p)
}

/// Deletes a promotion (soft: orders that used it keep the reference). Carts holding it drop it.
pub async fn delete(tx: &mut Tx, store: StoreId, by: Acting<'_>, id: PromotionId) -> Result<(), CheckoutError> {
    by.require(Permission::PromotionsWrite)?;
    find(tx, store, id).await?.ok_or(CheckoutError::PromotionNotFound)?;
    sqlx::query("UPDATE promotions SET deleted_at = now(), status = 'inactive' WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE carts SET promotion_id = NULL WHERE promotion_id = $1 AND status = 'active'")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    events::record(tx, events::NewEvent::of(&crate::event::PromotionDeleted { id }).in_store(store)).await?;
    Ok(())
}

/// A customer's uses of a promotion by orders not canceled.
pub(crate) async fn customer_uses(
    tx: &mut Tx,
    promotion: PromotionId,
    customer: Option<CustomerId>,
    email: Option<&str>,
) -> Result<i64, sqlx::Error> {
    if customer.is_none() && email.is_none() {
        return Ok(0);
    }
    sqlx::query_scalar(
        "SELECT count(*) FROM promotion_usages
          WHERE promotion_id = $1 AND released_at IS NULL AND (customer_id = $2 OR (email IS NOT NULL AND email = $3))",
    )
    .bind(promotion)
    .bind(customer)
    .bind(email)
    .fetch_one(&mut **tx)
    .await
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyCode {
    pub code: String,
}

/// Puts a promotion code on a cart, or says precisely why it does not apply.
pub async fn apply_to_cart(
    tx: &mut Tx,
    store: StoreId,
    key: &CartKey,
    input: ApplyCode,
) -> Result<CartView, CheckoutError> {
    let cart = cart::lock_active(tx, store, key).await?;
    let code = normalize_code(&input.code);
    if !valid_code(&code) {
        return Err(CheckoutError::Ineligible(Ineligible::Unknown));
    }
    let p = find_by_code(tx, store, &code).await?.ok_or(CheckoutError::Ineligible(Ineligible::Unknown))?;
    let view = cart::view(tx, cart.id).await?;
    let uses = customer_uses(tx, p.id, cart.customer_id, cart.email.as_deref()).await?;
    check(&p, Utc::now(), view.subtotal.amount, uses).map_err(CheckoutError::Ineligible)?;
    sqlx::query("UPDATE carts SET promotion_id = $2, last_activity_at = now() WHERE id = $1")
        .bind(cart.id)
        .bind(p.id)
        .execute(&mut **tx)
        .await?;
    cart::view(tx, cart.id).await
}

pub async fn remove_from_cart(tx: &mut Tx, store: StoreId, key: &CartKey) -> Result<CartView, CheckoutError> {
    let cart = cart::lock_active(tx, store, key).await?;
    sqlx::query("UPDATE carts SET promotion_id = NULL, last_activity_at = now() WHERE id = $1")
        .bind(cart.id)
        .execute(&mut **tx)
        .await?;
    cart::view(tx, cart.id).await
}

/// Claims one use of a promotion for an order: the guarded increment makes the total limit
/// hold however many checkouts race, and holds the row so the per-customer count is exact too.
pub(crate) async fn claim_use(
    tx: &mut Tx,
    p: &Promotion,
    order: OrderId,
    customer: Option<CustomerId>,
    email: &str,
) -> Result<(), CheckoutError> {
    let claimed: Option<i32> = sqlx::query_scalar(
        "UPDATE promotions SET times_used = times_used + 1
          WHERE id = $1 AND status = 'active' AND (usage_limit_total IS NULL OR times_used < usage_limit_total)
          RETURNING times_used",
    )
    .bind(p.id)
    .fetch_optional(&mut **tx)
    .await?;
    if claimed.is_none() {
        return Err(CheckoutError::Ineligible(Ineligible::UsedUp));
    }
    if let Some(limit) = p.usage_limit_per_customer
        && customer_uses(tx, p.id, customer, Some(email)).await? >= limit as i64
    {
        return Err(CheckoutError::Ineligible(Ineligible::UsedUp));
    }
    sqlx::query("INSERT INTO promotion_usages (tenant_id, promotion_id, order_id, customer_id, email) VALUES ($1, $2, $3, $4, $5)")
        .bind(tx.tenant())
        .bind(p.id)
        .bind(order)
        .bind(customer)
        .bind(email)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Gives an order's promotion use back (the order was canceled).
pub(crate) async fn release_use(tx: &mut Tx, order: OrderId) -> Result<(), sqlx::Error> {
    let released: Vec<PromotionId> = sqlx::query_scalar(
        "UPDATE promotion_usages SET released_at = now() WHERE order_id = $1 AND released_at IS NULL RETURNING promotion_id",
    )
    .bind(order)
    .fetch_all(&mut **tx)
    .await?;
    for p in released {
        sqlx::query("UPDATE promotions SET times_used = times_used - 1 WHERE id = $1 AND times_used > 0")
            .bind(p)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

pub(crate) async fn for_cart(
    tx: &mut Tx,
    store: StoreId,
    promotion: Option<PromotionId>,
) -> Result<Option<Promotion>, sqlx::Error> {
    match promotion {
        Some(id) => find(tx, store, id).await,
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn promo() -> Promotion {
        Promotion {
            id: PromotionId::new(),
            code: "SPRING".into(),
            description: String::new(),
            discount_type: DiscountType::Percent,
            amount_off: None,
            percent_off_bps: Some(1000),
            status: PromotionStatus::Active,
            starts_at: None,
            ends_at: None,
            min_subtotal: None,
            usage_limit_total: None,
            usage_limit_per_customer: None,
            times_used: 0,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn each_reason_has_its_answer() {
        let now = Utc::now();
        let hour = chrono::Duration::hours(1);
        assert_eq!(check(&promo(), now, 100, 0), Ok(()));
        assert_eq!(
            check(&Promotion { status: PromotionStatus::Inactive, ..promo() }, now, 100, 0),
            Err(Ineligible::Inactive)
        );
        assert_eq!(
            check(&Promotion { starts_at: Some(now + hour), ..promo() }, now, 100, 0),
            Err(Ineligible::NotStarted)
        );
        assert_eq!(check(&Promotion { ends_at: Some(now - hour), ..promo() }, now, 100, 0), Err(Ineligible::Ended));
        assert_eq!(
            check(&Promotion { min_subtotal: Some(Money::jpy(3000)), ..promo() }, now, 2999, 0),
            Err(Ineligible::BelowMinimum)
        );
        assert_eq!(check(&Promotion { min_subtotal: Some(Money::jpy(3000)), ..promo() }, now, 3000, 0), Ok(()));
        assert_eq!(
            check(&Promotion { usage_limit_total: Some(5), times_used: 5, ..promo() }, now, 100, 0),
            Err(Ineligible::UsedUp)
        );
        assert_eq!(
            check(&Promotion { usage_limit_per_customer: Some(1), ..promo() }, now, 100, 1),
            Err(Ineligible::UsedUp)
        );
        assert_eq!(normalize_code(" spring10 "), "SPRING10");
    }
}
