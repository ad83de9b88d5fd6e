//! Variants: the things actually sold, one per combination of option values, each with its SKU
//! (unique in the product), price (in the tenant's currency; compare-at price above it),
//! consumption-tax class, and how it is fulfilled (shipped, or downloaded).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use db::Tx;
use kernel::access::{Acting, Permission};
use kernel::{AssetId, Currency, ImageId, Money, ProductId, StoreId, Validator, VariantId};
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, QueryBuilder};
use utoipa::ToSchema;

use crate::CatalogError;
use crate::error::from_constraint;
use crate::event::{VariantChange, VariantCreated, VariantDeleted, VariantUpdated};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum FulfillmentType {
    /// Shipped by its vendor; has stock.
    Physical,
    /// Downloaded after payment; no stock, no shipping.
    Digital,
}

/// Japanese consumption tax classes: standard 10%, reduced 8% (food and drink other than
/// alcohol and dining out; subscribed newspapers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum TaxClass {
    Standard,
    Reduced,
}

impl TaxClass {
    /// The rate in basis points.
    pub fn rate_bps(self) -> i64 {
        match self {
            TaxClass::Standard => 1000,
            TaxClass::Reduced => 800,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum VariantStatus {
    Active,
    /// Kept for orders; not sold.
    Archived,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Variant {
    pub id: VariantId,
    pub product_id: ProductId,
    pub sku: String,
    /// e.g. "M / Red"; derived from the option values when not given.
    pub title: String,
    /// One value per product option, in the product's option order.
    pub option_values: Vec<String>,
    pub fulfillment_type: FulfillmentType,
    /// Tax-inclusive price.
    pub price: Money,
    /// The "was" price shown struck through; above the price when set.
    pub compare_at_price: Option<Money>,
    pub tax_class: TaxClass,
    /// Flash-sale variant: add-to-cart goes through the reservation queue.
    pub is_hot: bool,
    pub hot_limit_per_customer: Option<i32>,
    /// The file a digital variant sells.
    pub digital_asset_id: Option<AssetId>,
    /// The product image showing this variant (one of `images` of its product).
    pub image_id: Option<ImageId>,
    pub weight_grams: Option<i32>,
    pub barcode: Option<String>,
    pub status: VariantStatus,
    pub position: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct VariantRow {
    id: VariantId,
    product_id: ProductId,
    sku: String,
    title: String,
    option1: Option<String>,
    option2: Option<String>,
    option3: Option<String>,
    fulfillment_type: FulfillmentType,
    price_amount: i64,
    price_currency: Currency,
    compare_at_amount: Option<i64>,
    compare_at_currency: Option<Currency>,
    tax_class: TaxClass,
    is_hot: bool,
    hot_limit_per_customer: Option<i32>,
    digital_asset_id: Option<AssetId>,
    image_id: Option<ImageId>,
    weight_grams: Option<i32>,
    barcode: Option<String>,
    status: VariantStatus,
    position: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "id, product_id, sku, title, option1, option2, option3, fulfillment_type, price_amount, price_currency,
    compare_at_amount, compare_at_currency, tax_class, is_hot, hot_limit_per_customer, digital_asset_id, image_id, weight_grams,
    barcode, status, position, created_at, updated_at";

impl CreateVariant {
    /// A physical, standard-rate variant with just a SKU and a price.
    pub fn new(sku: impl Into<String>, price: Money) -> Self {
        CreateVariant {
            sku: sku.into(),
            title: None,
            option_values: Vec::new(),
            fulfillment_type: None,
            price,
            compare_at_price: None,
            tax_class: None,
            is_hot: false,
            hot_limit_per_customer: None,
            digital_asset_id: None,
            weight_grams: None,
            barcode: None,
            inventory_quantity: None,
        }
    }
}

impl From<VariantRow> for Variant {
    fn from(r: VariantRow) -> Self {
        Variant {
            id: r.id,
            product_id: r.product_id,
            sku: r.sku,
            title: r.title,
            option_values: [r.option1, r.option2, r.option3].into_iter().flatten().collect(),
            fulfillment_type: r.fulfillment_type,
            price: Money::new(r.price_amount, r.price_currency),
            compare_at_price: r.compare_at_amount.zip(r.compare_at_currency).map(|(a, c)| Money::new(a, c)),
            tax_class: r.tax_class,
            is_hot: r.is_hot,
            hot_limit_per_customer: r.hot_limit_per_customer,
            digital_asset_id: r.digital_asset_id,
            image_id: r.image_id,
            weight_grams: r.weight_grams,
            barcode: r.barcode,
            status: r.status,
            position: r.position,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVariant {
    #[schema(example = "TEA-GRN-50")]
    pub sku: String,
    pub title: Option<String>,
    /// One value per product option.
    #[serde(default)]
    pub option_values: Vec<String>,
    /// Default `physical`.
    pub fulfillment_type: Option<FulfillmentType>,
    pub price: Money,
    pub compare_at_price: Option<Money>,
    /// Default `standard` (10%).
    pub tax_class: Option<TaxClass>,
    #[serde(default)]
    pub is_hot: bool,
    pub hot_limit_per_customer: Option<i32>,
    pub digital_asset_id: Option<AssetId>,
    pub weight_grams: Option<i32>,
    pub barcode: Option<String>,
    /// Initial stock at the product's first location (physical variants).
    pub inventory_quantity: Option<i32>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateVariant {
    pub sku: Option<String>,
    pub title: Option<String>,
    pub option_values: Option<Vec<String>>,
    pub price: Option<Money>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "kernel::validate::nullable")]
    #[schema(value_type = Option<Money>)]
    pub compare_at_price: Option<Option<Money>>,
    pub tax_class: Option<TaxClass>,
    pub is_hot: Option<bool>,
    #[serde(default, deserialize_with = "kernel::validate::nullable")]
    #[schema(value_type = Option<i32>)]
    pub hot_limit_per_customer: Option<Option<i32>>,
    #[serde(default, deserialize_with = "kernel::validate::nullable")]
    #[schema(value_type = Option<AssetId>)]
    pub digital_asset_id: Option<Option<AssetId>>,
    /// One of the product's images; `null` for none.
    #[serde(default, deserialize_with = "kernel::validate::nullable")]
    #[schema(value_type = Option<ImageId>)]
    pub image_id: Option<Option<ImageId>>,
    #[serde(default, deserialize_with = "kernel::validate::nullable")]
    #[schema(value_type = Option<i32>)]
    pub weight_grams: Option<Option<i32>>,
    #[serde(default, deserialize_with = "kernel::validate::nullable")]
    #[schema(value_type = Option<String>)]
    pub barcode: Option<Option<String>>,
    pub status: Option<VariantStatus>,
    pub position: Option<i32>,
}

/// A variant that passed validation, ready to insert.
#[derive(Debug, Clone)]
pub(crate) struct NewVariant {
    pub sku: String,
    pub title: String,
    pub options: [Option<String>; 3],
    pub fulfillment_type: FulfillmentType,
    pub price: Money,
    pub compare_at: Option<Money>,
    pub tax_class: TaxClass,
    pub is_hot: bool,
    pub hot_limit: Option<i32>,
    pub asset: Option<AssetId>,
    pub weight: Option<i32>,
    pub barcode: Option<String>,
    pub inventory_quantity: Option<i32>,
}

fn check_sku(v: &mut Validator, field: &str, raw: &str) -> String {
    let sku = v.text(field, raw, 100);
    if sku.chars().any(char::is_control) {
        v.push(field, "invalid", "no control characters");
    }
    sku
}

fn check_options(v: &mut Validator, field: &str, values: &[String], expected: usize) -> [Option<String>; 3] {
    if values.len() != expected {
        v.push(field, "invalid", format!("give exactly {expected} option values, one per product option"));
    }
    let mut out: [Option<String>; 3] = Default::default();
    for (i, value) in values.iter().take(3).enumerate() {
        let t = value.trim();
        if t.is_empty() || t.chars().count() > 255 {
            v.push(&format!("{field}[{i}]"), "invalid", "option values are 1 to 255 characters");
        }
        out[i] = Some(t.to_string());
    }
    out
}

fn check_price_pair(v: &mut Validator, prefix: &str, price: Money, compare_at: Option<Money>) {
    if price.amount < 0 || price.amount > 1_000_000_000_000 {
        v.push(&format!("{prefix}price.amount"), "out_of_range", "must be between 0 and 1000000000000");
    }
    if let Some(c) = compare_at {
        if c.currency != price.currency {
            v.push(&format!("{prefix}compare_at_price.currency"), "invalid", "must be the price's currency");
        } else if c.amount <= price.amount {
            v.push(&format!("{prefix}compare_at_price.amount"), "not_above_price", "must be greater than the price");
        } else if c.amount > 1_000_000_000_000 {
            v.push(&format!("{prefix}compare_at_price.amount"), "out_of_range", "too large");
        }
    }
}

fn derive_title(options: &[Option<String>; 3]) -> String {
    options.iter().flatten().cloned().collect::<Vec<_>>().join(" / ")
}

/// Validates a new variant; collects every problem into `v`.
pub(crate) fn parse_new(
    v: &mut Validator,
    prefix: &str,
    input: &CreateVariant,
    option_count: usize,
) -> Option<NewVariant> {
    let f = |name: &str| format!("{prefix}{name}");
    let sku = check_sku(v, &f("sku"), &input.sku);
    let options = check_options(v, &f("option_values"), &input.option_values, option_count);
    let title = input
        .title
        .as_deref()
        .and_then(|t| v.opt_text(&f("title"), Some(t), 255))
        .unwrap_or_else(|| derive_title(&options));
    let fulfillment_type = input.fulfillment_type.unwrap_or(FulfillmentType::Physical);
    check_price_pair(v, prefix, input.price, input.compare_at_price);
    if let Some(limit) = input.hot_limit_per_customer {
        v.range(&f("hot_limit_per_customer"), limit, 1, 1_000_000);
    }
    if let Some(w) = input.weight_grams {
        v.range(&f("weight_grams"), w, 0, 100_000_000);
    }
    let barcode = input.barcode.as_deref().and_then(|b| v.opt_text(&f("barcode"), Some(b), 64));
    if let Some(q) = input.inventory_quantity {
        v.range(&f("inventory_quantity"), q, 0, 100_000_000);
    }
    match fulfillment_type {
        FulfillmentType::Digital => {
            if input.is_hot {
                v.push(&f("is_hot"), "invalid", "digital variants have no stock to queue for");
            }
            if input.inventory_quantity.is_some() {
                v.push(&f("inventory_quantity"), "invalid", "digital variants have no stock");
            }
        }
        FulfillmentType::Physical => {
            if input.digital_asset_id.is_some() {
                v.push(&f("digital_asset_id"), "invalid", "only digital variants have an asset");
            }
        }
    }
    Some(NewVariant {
        sku,
        title,
        options,
        fulfillment_type,
        price: input.price,
        compare_at: input.compare_at_price,
        tax_class: input.tax_class.unwrap_or(TaxClass::Standard),
        is_hot: input.is_hot,
        hot_limit: input.hot_limit_per_customer,
        asset: input.digital_asset_id,
        weight: input.weight_grams,
        barcode,
        inventory_quantity: input.inventory_quantity,
    })
}

pub(crate) fn check_currency(v: &NewVariant, tenant: Currency) -> Result<(), CatalogError> {
    if v.price.currency != tenant {
        return Err(CatalogError::CurrencyMismatch { expected: tenant, given: v.price.currency });
    }
    Ok(())
}

async fn check_asset(tx: &mut Tx, store: StoreId, asset: Option<AssetId>, field: &str) -> Result<(), CatalogError> {
    let Some(asset) = asset else { return Ok(()) };
    let found: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM digital_assets WHERE id = $1 AND store_id = $2 AND deleted_at IS NULL)",
    )
    .bind(asset)
    .bind(store)
    .fetch_one(&mut **tx)
    .await?;
    if found {
        Ok(())
    } else {
        Err(kernel::ValidationErrors::one(field, "invalid", "no such digital asset in this store").into())
    }
}

pub(crate) async fn insert(
    tx: &mut Tx,
    store: StoreId,
    product: ProductId,
    position: i32,
    new: NewVariant,
    by: Acting<'_>,
) -> Result<Variant, CatalogError> {
    check_asset(tx, store, new.asset, "digital_asset_id").await?;
    let [o1, o2, o3] = new.options.clone();
    let row: VariantRow = sqlx::query_as(&format!(
        "INSERT INTO variants (id, tenant_id, store_id, product_id, sku, title, option1, option2, option3, position,
            fulfillment_type, price_amount, price_currency, compare_at_amount, compare_at_currency, tax_class, is_hot,
            hot_limit_per_customer, digital_asset_id, weight_grams, barcode)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
         RETURNING {COLUMNS}"
    ))
    .bind(VariantId::new())
    .bind(tx.tenant())
    .bind(store)
    .bind(product)
    .bind(&new.sku)
    .bind(&new.title)
    .bind(o1)
    .bind(o2)
    .bind(o3)
    .bind(position)
    .bind(new.fulfillment_type)
    .bind(new.price.amount)
    .bind(new.price.currency)
    .bind(new.compare_at.map(|m| m.amount))
    .bind(new.compare_at.map(|m| m.currency))
    .bind(new.tax_class)
    .bind(new.is_hot)
    .bind(new.hot_limit)
    .bind(new.asset)
    .bind(new.weight)
    .bind(&new.barcode)
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| from_constraint(e, "", &new.sku))?;
    let variant = Variant::from(row);
    if let Some(qty) = new.inventory_quantity.filter(|q| *q > 0) {
        let location = crate::locations::first_location(tx, store, product).await?;
        let change = inventory::stock::StockChange {
            variant: variant.id,
            location,
            change: inventory::stock::Change::SetTo(qty),
            reason: inventory::stock::MovementReason::Receipt,
            note: Some(if by.staff_id().is_some() { "initial stock" } else { "initial stock (by operator)" }),
        };
        inventory::stock::change_stock(tx, store, Acting::System, change).await?;
    }
    Ok(variant)
}

/// Inserts the variants of new products, `(product, position, variant)`, with multi-row
/// statements of at most 2,000 rows, and answers them in the order given. For variants
/// without a digital asset or initial stock (the caller checks: [`insert`] handles those).
pub(crate) async fn insert_many(
    tx: &mut Tx,
    store: StoreId,
    rows: Vec<(ProductId, i32, NewVariant)>,
) -> Result<Vec<Variant>, CatalogError> {
    let tenant = tx.tenant();
    let mut out = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(2000) {
        let mut b: QueryBuilder<Postgres> = QueryBuilder::new(
            "INSERT INTO variants (id, tenant_id, store_id, product_id, sku, title, option1, option2, option3, position,
                fulfillment_type, price_amount, price_currency, compare_at_amount, compare_at_currency, tax_class, is_hot,
                hot_limit_per_customer, weight_grams, barcode) ",
        );
        b.push_values(chunk, |mut r, (product, position, new)| {
            let [o1, o2, o3] = new.options.clone();
            r.push_bind(VariantId::new())
                .push_bind(tenant)
                .push_bind(store)
                .push_bind(*product)
                .push_bind(new.sku.clone())
                .push_bind(new.title.clone())
                .push_bind(o1)
                .push_bind(o2)
                .push_bind(o3)
                .push_bind(*position)
                .push_bind(new.fulfillment_type)
                .push_bind(new.price.amount)
                .push_bind(new.price.currency)
                .push_bind(new.compare_at.map(|m| m.amount))
                .push_bind(new.compare_at.map(|m| m.currency))
                .push_bind(new.tax_class)
                .push_bind(new.is_hot)
                .push_bind(new.hot_limit)
                .push_bind(new.weight)
                .push_bind(new.barcode.clone());
        });
        b.push(format!(" RETURNING {COLUMNS}"));
        let inserted: Vec<VariantRow> =
            b.build_query_as().fetch_all(&mut **tx).await.map_err(|e| from_constraint(e, "", ""))?;
        // by (product, SKU), unique: the order RETURNING gives is not promised
        let mut by_key: HashMap<(ProductId, String), VariantRow> =
            inserted.into_iter().map(|r| ((r.product_id, r.sku.clone()), r)).collect();
        for (product, _, new) in chunk {
            let row = by_key.remove(&(*product, new.sku.clone())).ok_or(CatalogError::VariantNotFound)?;
            out.push(Variant::from(row));
        }
    }
    Ok(out)
}

/// Variants of products, active and archived (not deleted), in position order.
pub(crate) async fn load_for(
    tx: &mut Tx,
    products: &[ProductId],
) -> Result<HashMap<ProductId, Vec<Variant>>, sqlx::Error> {
    let rows: Vec<VariantRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM variants WHERE product_id = ANY($1) AND deleted_at IS NULL ORDER BY product_id, position, id"
    ))
    .bind(products)
    .fetch_all(&mut **tx)
    .await?;
    let mut out: HashMap<ProductId, Vec<Variant>> = HashMap::new();
    for r in rows {
        out.entry(r.product_id).or_default().push(r.into());
    }
    Ok(out)
}

async fn load_variant(tx: &mut Tx, product: ProductId, id: VariantId) -> Result<Variant, CatalogError> {
    let row: Option<VariantRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM variants WHERE id = $1 AND product_id = $2 AND deleted_at IS NULL"
    ))
    .bind(id)
    .bind(product)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(Variant::from).ok_or(CatalogError::VariantNotFound)
}

pub async fn get_variant(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    product: ProductId,
    id: VariantId,
) -> Result<Variant, CatalogError> {
    crate::product::get_product(tx, store, by, product).await?;
    load_variant(tx, product, id).await
}

/// Adds a variant to a product.
pub async fn create_variant(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    product: ProductId,
    input: CreateVariant,
) -> Result<Variant, CatalogError> {
    by.require(Permission::CatalogWrite)?;
    let (_, option_count, _) = crate::product::lock(tx, store, by, product).await?;
    let mut v = Validator::new();
    let new = parse_new(&mut v, "", &input, option_count);
    v.into_result()?;
    let new = new.expect("validated");
    check_currency(&new, crate::tenant_currency(tx).await?)?;
    let (count, max_position): (i64, Option<i32>) =
        sqlx::query_as("SELECT count(*), max(position) FROM variants WHERE product_id = $1 AND deleted_at IS NULL")
            .bind(product)
            .fetch_one(&mut **tx)
            .await?;
    if option_count == 0 && count >= 1 {
        return Err(CatalogError::OptionsRequired);
    }
    let variant = insert(tx, store, product, max_position.map_or(0, |p| p + 1), new, by).await?;
    record(tx, VariantCreated, store, &variant).await?;
    touch_product(tx, product).await?;
    Ok(variant)
}

/// Changes a variant.
pub async fn update_variant(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    product: ProductId,
    id: VariantId,
    input: UpdateVariant,
) -> Result<Variant, CatalogError> {
    by.require(Permission::CatalogWrite)?;
    let (product_status, option_count, _) = crate::product::lock(tx, store, by, product).await?;
    let current = load_variant(tx, product, id).await?;
    let mut v = Validator::new();
    let sku = input.sku.as_deref().map(|s| check_sku(&mut v, "sku", s));
    let options = input.option_values.as_deref().map(|o| check_options(&mut v, "option_values", o, option_count));
    let title = input.title.as_deref().map(|t| v.opt_text("title", Some(t), 255).unwrap_or_default());
    let price = input.price.unwrap_or(current.price);
    let compare_at = input.compare_at_price.unwrap_or(current.compare_at_price);
    check_price_pair(&mut v, "", price, compare_at);
    let is_hot = input.is_hot.unwrap_or(current.is_hot);
    let asset = input.digital_asset_id.unwrap_or(current.digital_asset_id);
    match current.fulfillment_type {
        FulfillmentType::Digital if is_hot => {
            v.push("is_hot", "invalid", "digital variants have no stock to queue for")
        }
        FulfillmentType::Physical if asset.is_some() => {
            v.push("digital_asset_id", "invalid", "only digital variants have an asset")
        }
        _ => {}
    }
    if let Some(Some(limit)) = input.hot_limit_per_customer {
        v.range("hot_limit_per_customer", limit, 1, 1_000_000);
    }
    if let Some(Some(w)) = input.weight_grams {
        v.range("weight_grams", w, 0, 100_000_000);
    }
    let barcode = input.barcode.clone().map(|b| b.and_then(|b| v.opt_text("barcode", Some(&b), 64)));
    if let Some(p) = input.position {
        v.range("position", p, 0, 1_000_000);
    }
    v.into_result()?;
    let tenant_currency = crate::tenant_currency(tx).await?;
    if price.currency != tenant_currency {
        return Err(CatalogError::CurrencyMismatch { expected: tenant_currency, given: price.currency });
    }
    check_asset(tx, store, asset, "digital_asset_id").await?;
    if let Some(Some(image)) = input.image_id {
        crate::image::check_belongs(tx, product, image, "image_id").await?;
    }
    if input.status == Some(VariantStatus::Archived) && product_status == crate::product::ProductStatus::Active {
        let others: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM variants WHERE product_id = $1 AND id <> $2 AND status = 'active' AND deleted_at IS NULL",
        )
        .bind(product)
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
        if others == 0 {
            return Err(CatalogError::NotPublishable);
        }
    }
    let sku_for_error = sku.clone().unwrap_or_default();
    let [o1, o2, o3] = options.clone().unwrap_or_default();
    let row: VariantRow = sqlx::query_as(&format!(
        "UPDATE variants SET
           sku = coalesce($2, sku),
           title = coalesce($3, CASE WHEN $4 THEN $5 ELSE title END),
           option1 = CASE WHEN $4 THEN $6 ELSE option1 END,
           option2 = CASE WHEN $4 THEN $7 ELSE option2 END,
           option3 = CASE WHEN $4 THEN $8 ELSE option3 END,
           price_amount = $9, price_currency = $10,
           compare_at_amount = $11, compare_at_currency = $12,
           tax_class = coalesce($13, tax_class),
           is_hot = $14,
           hot_limit_per_customer = CASE WHEN $15 THEN $16 ELSE hot_limit_per_customer END,
           digital_asset_id = $17,
           weight_grams = CASE WHEN $18 THEN $19 ELSE weight_grams END,
           barcode = CASE WHEN $20 THEN $21 ELSE barcode END,
           status = coalesce($22, status),
           position = coalesce($23, position),
           image_id = CASE WHEN $24 THEN $25 ELSE image_id END
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(&sku)
    .bind(title)
    .bind(options.is_some())
    .bind(options.as_ref().map(derive_title))
    .bind(o1)
    .bind(o2)
    .bind(o3)
    .bind(price.amount)
    .bind(price.currency)
    .bind(compare_at.map(|m| m.amount))
    .bind(compare_at.map(|m| m.currency))
    .bind(input.tax_class)
    .bind(is_hot)
    .bind(input.hot_limit_per_customer.is_some())
    .bind(input.hot_limit_per_customer.flatten())
    .bind(asset)
    .bind(input.weight_grams.is_some())
    .bind(input.weight_grams.flatten())
    .bind(barcode.is_some())
    .bind(barcode.flatten())
    .bind(input.status)
    .bind(input.position)
    .bind(input.image_id.is_some())
    .bind(input.image_id.flatten())
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| from_constraint(e, "", &sku_for_error))?;
    let variant = Variant::from(row);
    record(tx, VariantUpdated, store, &variant).await?;
    touch_product(tx, product).await?;
    Ok(variant)
}

/// Soft-deletes a variant (orders keep referring to it). The last active variant of an active
/// product cannot go.
pub async fn delete_variant(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    product: ProductId,
    id: VariantId,
) -> Result<(), CatalogError> {
    by.require(Permission::CatalogWrite)?;
    let (status, _, _) = crate::product::lock(tx, store, by, product).await?;
    let variant = load_variant(tx, product, id).await?;
    if status == crate::product::ProductStatus::Active {
        let others: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM variants WHERE product_id = $1 AND id <> $2 AND status = 'active' AND deleted_at IS NULL",
        )
        .bind(product)
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
        if others == 0 {
            return Err(CatalogError::NotPublishable);
        }
    }
    sqlx::query("UPDATE variants SET deleted_at = now() WHERE id = $1").bind(id).execute(&mut **tx).await?;
    record(tx, VariantDeleted, store, &variant).await?;
    touch_product(tx, product).await?;
    Ok(())
}

async fn touch_product(tx: &mut Tx, product: ProductId) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE products SET updated_at = now() WHERE id = $1").bind(product).execute(&mut **tx).await?;
    Ok(())
}

async fn record<P: events::Payload>(
    tx: &mut Tx,
    event: fn(VariantChange) -> P,
    store: StoreId,
    variant: &Variant,
) -> Result<(), sqlx::Error> {
    let payload = event(VariantChange { product_id: variant.product_id, variant: variant.clone() });
    events::record(tx, events::NewEvent::of(&payload).in_store(store)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(price: i64, compare: Option<i64>) -> CreateVariant {
        CreateVariant { compare_at_price: compare.map(Money::jpy), ..CreateVariant::new("SKU-1", Money::jpy(price)) }
    }

    #[test]
    fn compare_at_must_exceed_price() {
        let mut v = Validator::new();
        parse_new(&mut v, "", &input(1000, Some(1000)), 0);
        let err = v.into_result().unwrap_err();
        assert_eq!(err.0[0].field, "compare_at_price.amount");
        assert_eq!(err.0[0].code, "not_above_price");
        let mut v = Validator::new();
        parse_new(&mut v, "", &input(1000, Some(1200)), 0);
        assert!(v.is_ok());
    }

    #[test]
    fn option_values_must_match_the_product_options() {
        let mut v = Validator::new();
        let mut i = input(100, None);
        i.option_values = vec!["M".into()];
        parse_new(&mut v, "", &i, 2);
        assert_eq!(v.into_result().unwrap_err().0[0].field, "option_values");
    }

    #[test]
    fn digital_variants_have_no_stock_or_queue() {
        let mut v = Validator::new();
        let mut i = input(100, None);
        i.fulfillment_type = Some(FulfillmentType::Digital);
        i.is_hot = true;
        i.inventory_quantity = Some(3);
        parse_new(&mut v, "", &i, 0);
        assert_eq!(v.into_result().unwrap_err().0.len(), 2);
    }
}
