//! Products: what a store sells, with up to three options (Size, Colour, ...) whose combinations
//! are the variants. A product is `draft`, `active` (on the storefront) or `archived`; see
//! [`check_transition`] for the moves allowed between them.

use chrono::{DateTime, Utc};
use db::Tx;
use kernel::access::{Acting, Permission};
use kernel::{LocationId, Page, PageRequest, ProductId, StoreId, Validator, VendorId};
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, QueryBuilder};
use utoipa::{IntoParams, ToSchema};

use crate::error::from_constraint;
use crate::event::{ProductArchived, ProductCreated, ProductDeleted, ProductUpdated};
use crate::variant::{self, CreateVariant, Variant};
use crate::{CatalogError, handle};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ProductStatus {
    /// Being prepared; not on the storefront.
    Draft,
    /// On the storefront.
    Active,
    /// Retired; not on the storefront, kept for orders and history.
    Archived,
}

impl ProductStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProductStatus::Draft => "draft",
            ProductStatus::Active => "active",
            ProductStatus::Archived => "archived",
        }
    }
}

/// The legal moves between statuses:
///
/// | from \ to | draft | active | archived |
/// |---|---|---|---|
/// | draft | – | publish | archive |
/// | active | unpublish | – | archive |
/// | archived | unarchive | **refused** | – |
///
/// An archived product goes back to draft first, so it is reviewed before it sells again.
/// Staying in the same status is not a move and is always allowed.
pub fn check_transition(from: ProductStatus, to: ProductStatus) -> Result<(), CatalogError> {
    use ProductStatus::*;
    match (from, to) {
        (Archived, Active) => Err(CatalogError::IllegalStatusTransition { from, to }),
        _ => Ok(()),
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Product {
    pub id: ProductId,
    pub store_id: StoreId,
    pub vendor_id: VendorId,
    /// URL slug, unique in the store.
    pub handle: String,
    pub title: String,
    pub description: String,
    pub status: ProductStatus,
    pub product_type: String,
    pub tags: Vec<String>,
    /// Option names in order (e.g. ["Size", "Colour"]); each variant has one value per option.
    pub options: Vec<String>,
    pub variants: Vec<Variant>,
    /// In position order; the first is the main image.
    pub images: Vec<crate::image::ProductImage>,
    /// The page title search engines show (CSV `SEO Title`); the title when unset.
    pub seo_title: Option<String>,
    /// The description search engines show (CSV `SEO Description`).
    pub seo_description: Option<String>,
    /// Locations that carry the product; empty means every location of the store.
    pub location_ids: Vec<LocationId>,
    pub published_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct ProductRow {
    options: Vec<String>,
    location_ids: Vec<LocationId>,
    id: ProductId,
    store_id: StoreId,
    vendor_id: VendorId,
    handle: String,
    title: String,
    description: String,
    status: ProductStatus,
    product_type: String,
    tags: Vec<String>,
    seo_title: Option<String>,
    seo_description: Option<String>,
    published_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, store_id, vendor_id, handle, title, description, status, product_type, tags, seo_title, seo_description, published_at, created_at, updated_at";

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProduct {
    #[schema(example = "Organic Green Tea")]
    pub title: String,
    /// Generated from the title when omitted.
    pub handle: Option<String>,
    #[serde(default)]
    pub description: String,
    /// Default `draft`.
    pub status: Option<ProductStatus>,
    /// Required in a mall; a single-brand tenant's products belong to its house vendor.
    pub vendor_id: Option<VendorId>,
    #[serde(default)]
    pub product_type: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Up to three option names.
    #[serde(default)]
    pub options: Vec<String>,
    #[serde(default)]
    pub variants: Vec<CreateVariant>,
    /// Up to 255 characters; the title is used when omitted.
    pub seo_title: Option<String>,
    /// Up to 1000 characters.
    pub seo_description: Option<String>,
    /// Omit (or leave empty) for every location of the store.
    #[serde(default)]
    pub location_ids: Vec<LocationId>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProduct {
    pub title: Option<String>,
    pub handle: Option<String>,
    pub description: Option<String>,
    pub status: Option<ProductStatus>,
    pub vendor_id: Option<VendorId>,
    pub product_type: Option<String>,
    pub tags: Option<Vec<String>>,
    /// Renames options; the number of options cannot change once variants exist.
    pub options: Option<Vec<String>>,
    /// `null` or `""` clears it.
    #[serde(default, deserialize_with = "kernel::validate::nullable")]
    #[schema(value_type = Option<String>)]
    pub seo_title: Option<Option<String>>,
    /// `null` or `""` clears it.
    #[serde(default, deserialize_with = "kernel::validate::nullable")]
    #[schema(value_type = Option<String>)]
    pub seo_description: Option<Option<String>>,
}

/// Checks the SEO texts: trimmed, empty means none.
fn check_seo(v: &mut Validator, title: Option<&str>, description: Option<&str>) -> (Option<String>, Option<String>) {
    let title = title.map(str::trim).filter(|t| !t.is_empty()).map(str::to_string);
    let description = description.map(str::trim).filter(|t| !t.is_empty()).map(str::to_string);
    if title.as_deref().is_some_and(|t| t.chars().count() > 255) {
        v.push("seo_title", "too_long", "must be at most 255 characters");
    }
    if description.as_deref().is_some_and(|t| t.chars().count() > 1000) {
        v.push("seo_description", "too_long", "must be at most 1000 characters");
    }
    (title, description)
}

/// Filters and order of the admin product list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductQuery {
    pub status: Option<ProductStatus>,
    pub vendor_id: Option<VendorId>,
    /// Text in the title or a variant's SKU.
    pub q: Option<String>,
    /// Only products changed at or after this instant (RFC 3339).
    pub updated_since: Option<DateTime<Utc>>,
    /// `updated_at`, `created_at` or `title`; prefix `-` for descending (default `-updated_at`).
    pub sort: Option<String>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

struct Fields {
    title: String,
    description: String,
    product_type: String,
    tags: Vec<String>,
    options: Vec<String>,
}

fn check_text_fields(v: &mut Validator, description: &str, product_type: &str, tags: &[String], options: &[String]) {
    if description.chars().count() > 65_536 {
        v.push("description", "too_long", "must be at most 65536 characters");
    }
    if product_type.chars().count() > 255 {
        v.push("product_type", "too_long", "must be at most 255 characters");
    }
    if tags.len() > 250 {
        v.push("tags", "too_long", "at most 250 tags");
    }
    for (i, t) in tags.iter().enumerate() {
        if t.trim().is_empty() || t.chars().count() > 255 {
            v.push(&format!("tags[{i}]"), "invalid", "tags are 1 to 255 characters");
        }
    }
    if options.len() > 3 {
        v.push("options", "too_long", "at most three options");
    }
    let mut seen = std::collections::HashSet::new();
    for (i, o) in options.iter().enumerate() {
        let name = o.trim();
        if name.is_empty() || name.chars().count() > 255 {
            v.push(&format!("options[{i}]"), "invalid", "option names are 1 to 255 characters");
        } else if !seen.insert(name.to_lowercase()) {
            v.push(&format!("options[{i}]"), "duplicate", "option names must differ");
        }
    }
}

fn clean_tags(tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tags.iter().map(|t| t.trim().to_string()).filter(|t| !t.is_empty()) {
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// The vendor a new product belongs to: the house vendor of a single-brand tenant, the
/// acting vendor of mall vendor staff, else the vendor given (required in a mall).
async fn resolve_vendor(tx: &mut Tx, by: Acting<'_>, requested: Option<VendorId>) -> Result<VendorId, CatalogError> {
    if let Some(own) = by.vendor() {
        if requested.is_some_and(|r| r != own) {
            return Err(kernel::ValidationErrors::one(
                "vendor_id",
                "invalid",
                "vendor staff create products of their own vendor",
            )
            .into());
        }
        return Ok(own);
    }
    if let Some(house) = tenancy::vendors::house_vendor(tx).await? {
        if requested.is_some_and(|r| r != house.id) {
            return Err(kernel::ValidationErrors::one(
                "vendor_id",
                "invalid",
                "a single-brand tenant sells as its own vendor",
            )
            .into());
        }
        return Ok(house.id);
    }
    let Some(id) = requested else {
        return Err(kernel::ValidationErrors::one("vendor_id", "required", "a mall product needs its vendor").into());
    };
    let active: Option<bool> = sqlx::query_scalar("SELECT status = 'active' FROM vendors WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    match active {
        Some(true) => Ok(id),
        _ => Err(kernel::ValidationErrors::one("vendor_id", "invalid", "no such active vendor").into()),
    }
}

/// A new product's fields as checked, before anything is read from the database.
struct NewProduct {
    fields: Fields,
    explicit_handle: Option<String>,
    seo_title: Option<String>,
    seo_description: Option<String>,
    parsed: Vec<Option<variant::NewVariant>>,
}

/// The checks of a new product that need no database (field errors go to `v`).
fn check_new(v: &mut Validator, input: &CreateProduct) -> NewProduct {
    let title = v.text("title", &input.title, 255);
    let explicit_handle = input.handle.as_deref().map(handle::normalize).filter(|h| !h.is_empty());
    if explicit_handle.as_deref().is_some_and(|h| !handle::is_valid(h)) {
        v.push("handle", "invalid", "use lower-case letters, digits and dashes");
    }
    let fields = Fields {
        title,
        description: input.description.trim().to_string(),
        product_type: input.product_type.trim().to_string(),
        tags: clean_tags(&input.tags),
        options: input.options.iter().map(|o| o.trim().to_string()).collect(),
    };
    check_text_fields(v, &fields.description, &fields.product_type, &fields.tags, &fields.options);
    let (seo_title, seo_description) = check_seo(v, input.seo_title.as_deref(), input.seo_description.as_deref());
    if input.variants.len() > 100 {
        v.push("variants", "too_long", "at most 100 variants per product");
    }
    if fields.options.is_empty() && input.variants.len() > 1 {
        v.push("options", "required", "give option names to have more than one variant");
    }
    let mut parsed = Vec::with_capacity(input.variants.len());
    for (i, variant) in input.variants.iter().enumerate() {
        parsed.push(variant::parse_new(v, &format!("variants[{i}]."), variant, fields.options.len()));
    }
    NewProduct { fields, explicit_handle, seo_title, seo_description, parsed }
}

/// Creates a product with its options, variants and locations.
pub async fn create_product(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    input: CreateProduct,
) -> Result<Product, CatalogError> {
    by.require(Permission::CatalogWrite)?;
    let mut v = Validator::new();
    let NewProduct { fields, explicit_handle, seo_title, seo_description, parsed } = check_new(&mut v, &input);
    let currency = crate::tenant_currency(tx).await?;
    let vendor = resolve_vendor(tx, by, input.vendor_id).await?;
    let locations = crate::locations::check_ids(tx, store, by, vendor, &mut v, &input.location_ids).await?;
    v.into_result()?;
    for p in parsed.iter().flatten() {
        variant::check_currency(p, currency)?;
    }
    let status = input.status.unwrap_or(ProductStatus::Draft);

    let id = ProductId::new();
    let handle = match explicit_handle {
        Some(h) => h,
        None => available_handle(tx, store, &handle::from_title(&fields.title)).await?,
    };
    sqlx::query(
        "INSERT INTO products (id, tenant_id, store_id, vendor_id, handle, title, description, status, product_type, tags, published_at,
            seo_title, seo_description)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, CASE WHEN $8 = 'active' THEN now() END, $11, $12)",
    )
    .bind(id)
    .bind(tx.tenant())
    .bind(store)
    .bind(vendor)
    .bind(&handle)
    .bind(&fields.title)
    .bind(&fields.description)
    .bind(status)
    .bind(&fields.product_type)
    .bind(&fields.tags)
    .bind(seo_title)
    .bind(seo_description)
    .execute(&mut **tx)
    .await
    .map_err(|e| from_constraint(e, &handle, ""))?;
    write_options(tx, id, &fields.options).await?;
    crate::locations::write(tx, id, &locations).await?;
    for (i, new) in parsed.into_iter().flatten().enumerate() {
        variant::insert(tx, store, id, i as i32, new, by).await?;
    }
    let product = load_one(tx, store, id).await?;
    if status == ProductStatus::Active && !publishable(&product) {
        return Err(CatalogError::NotPublishable);
    }
    record(tx, ProductCreated, &product).await?;
    Ok(product)
}

/// Creates many products at once (a bulk import's), each as [`create_product`] would, in a
/// few multi-row statements whatever their number: the products, their options, their
/// variants (2,000 a statement) and their `product.created` events. For products with a
/// handle, no locations of their own and variants without a digital asset or initial stock;
/// when one is otherwise, or any check fails, the answer is an error and the caller (who
/// holds a savepoint) creates them one by one with [`create_product`], which names the
/// product that fails. The products are answered in the order given.
pub async fn create_products(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    inputs: Vec<CreateProduct>,
) -> Result<Vec<Product>, CatalogError> {
    by.require(Permission::CatalogWrite)?;
    if inputs.is_empty() {
        return Ok(Vec::new());
    }
    let currency = crate::tenant_currency(tx).await?;
    let mut vendors: std::collections::HashMap<Option<VendorId>, VendorId> = std::collections::HashMap::new();
    let mut news = Vec::with_capacity(inputs.len());
    for input in &inputs {
        let mut v = Validator::new();
        let new = check_new(&mut v, input);
        if !input.location_ids.is_empty()
            || new.explicit_handle.is_none()
            || input.variants.iter().any(|x| x.digital_asset_id.is_some() || x.inventory_quantity.is_some())
        {
            v.push("variants", "one_by_one", "created one by one");
        }
        v.into_result()?;
        for p in new.parsed.iter().flatten() {
            variant::check_currency(p, currency)?;
        }
        let status = input.status.unwrap_or(ProductStatus::Draft);
        if status == ProductStatus::Active && new.parsed.is_empty() {
            return Err(CatalogError::NotPublishable);
        }
        let vendor = match vendors.get(&input.vendor_id) {
            Some(v) => *v,
            None => {
                let v = resolve_vendor(tx, by, input.vendor_id).await?;
                vendors.insert(input.vendor_id, v);
                v
            }
        };
        news.push((ProductId::new(), vendor, status, new));
    }
    let tenant = tx.tenant();
    let mut b: QueryBuilder<Postgres> = QueryBuilder::new(
        "INSERT INTO products (id, tenant_id, store_id, vendor_id, handle, title, description, status, product_type, tags,
            seo_title, seo_description, published_at) ",
    );
    b.push_values(&news, |mut r, (id, vendor, status, new)| {
        r.push_bind(*id)
            .push_bind(tenant)
            .push_bind(store)
            .push_bind(*vendor)
            .push_bind(new.explicit_handle.clone())
            .push_bind(new.fields.title.clone())
            .push_bind(new.fields.description.clone())
            .push_bind(*status)
            .push_bind(new.fields.product_type.clone())
            .push_bind(new.fields.tags.clone())
            .push_bind(new.seo_title.clone())
            .push_bind(new.seo_description.clone())
            // published when created active, as create_product does
            .push(if *status == ProductStatus::Active { "now()" } else { "NULL" });
    });
    b.push(" RETURNING id, published_at, created_at, updated_at");
    type Stamps = (ProductId, Option<DateTime<Utc>>, DateTime<Utc>, DateTime<Utc>);
    let stamps: Vec<Stamps> = b.build_query_as().fetch_all(&mut **tx).await.map_err(|e| from_constraint(e, "", ""))?;
    let stamps: std::collections::HashMap<ProductId, Stamps> = stamps.into_iter().map(|s| (s.0, s)).collect();
    let options: Vec<(ProductId, i16, String)> = news
        .iter()
        .flat_map(|(id, _, _, new)| new.fields.options.iter().enumerate().map(|(i, o)| (*id, i as i16 + 1, o.clone())))
        .collect();
    for chunk in options.chunks(5000) {
        let mut b: QueryBuilder<Postgres> =
            QueryBuilder::new("INSERT INTO product_options (tenant_id, product_id, position, name) ");
        b.push_values(chunk, |mut r, (id, position, name)| {
            r.push_bind(tenant).push_bind(*id).push_bind(*position).push_bind(name.clone());
        });
        b.build().execute(&mut **tx).await?;
    }
    let mut rows = Vec::new();
    let mut counts = Vec::with_capacity(news.len());
    let mut products = Vec::with_capacity(news.len());
    for (id, vendor, status, new) in news {
        let NewProduct { fields, explicit_handle, seo_title, seo_description, parsed } = new;
        let variants: Vec<variant::NewVariant> = parsed.into_iter().flatten().collect();
        counts.push(variants.len());
        rows.extend(variants.into_iter().enumerate().map(|(i, v)| (id, i as i32, v)));
        let (_, published_at, created_at, updated_at) =
            stamps.get(&id).copied().ok_or(CatalogError::ProductNotFound)?;
        products.push(Product {
            id,
            store_id: store,
            vendor_id: vendor,
            handle: explicit_handle.unwrap_or_default(),
            title: fields.title,
            description: fields.description,
            status,
            product_type: fields.product_type,
            tags: fields.tags,
            options: fields.options,
            variants: Vec::new(),
            images: Vec::new(),
            seo_title,
            seo_description,
            location_ids: Vec::new(),
            published_at,
            created_at,
            updated_at,
        });
    }
    let mut variants = variant::insert_many(tx, store, rows).await?.into_iter();
    for (p, n) in products.iter_mut().zip(counts) {
        p.variants = variants.by_ref().take(n).collect();
    }
    let events =
        products.iter().map(|p| events::NewEvent::of(&ProductCreated(p.clone())).in_store(p.store_id)).collect();
    events::record_many(tx, events).await?;
    Ok(products)
}

/// The handle itself if free in the store, else the handle with the first free `-2`, `-3`, ...
pub(crate) async fn available_handle(tx: &mut Tx, store: StoreId, base: &str) -> Result<String, CatalogError> {
    let taken: Vec<String> = sqlx::query_scalar(
        "SELECT handle FROM products WHERE store_id = $1 AND deleted_at IS NULL AND (handle = $2 OR handle LIKE $3)",
    )
    .bind(store)
    .bind(base)
    .bind(format!("{}-%", base.replace('%', "").replace('_', "\\_")))
    .fetch_all(&mut **tx)
    .await?;
    if !taken.iter().any(|h| h == base) {
        return Ok(base.to_string());
    }
    let n = (2..).find(|n| !taken.contains(&format!("{base}-{n}"))).unwrap_or(2);
    Ok(format!("{base}-{n}"))
}

async fn write_options(tx: &mut Tx, product: ProductId, options: &[String]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM product_options WHERE product_id = $1").bind(product).execute(&mut **tx).await?;
    for (i, name) in options.iter().enumerate() {
        sqlx::query("INSERT INTO product_options (tenant_id, product_id, position, name) VALUES ($1, $2, $3, $4)")
            .bind(tx.tenant())
            .bind(product)
            .bind(i as i16 + 1)
            .bind(name)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

fn publishable(p: &Product) -> bool {
    p.variants.iter().any(|v| v.status == variant::VariantStatus::Active)
}

/// Loads products (with options, variants and locations) by id, in the order given; deleted
/// products are left out. The search index builds its documents from this.
pub async fn load(tx: &mut Tx, store: StoreId, ids: &[ProductId]) -> Result<Vec<Product>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<ProductRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS},
                ARRAY(SELECT name FROM product_options o WHERE o.product_id = products.id ORDER BY position) AS options,
                ARRAY(SELECT pl.location_id FROM product_locations pl JOIN store_locations l ON l.id = pl.location_id
                       WHERE pl.product_id = products.id ORDER BY l.priority, l.code) AS location_ids
           FROM products WHERE id = ANY($1) AND store_id = $2 AND deleted_at IS NULL"
    ))
    .bind(ids)
    .bind(store)
    .fetch_all(&mut **tx)
    .await?;
    let mut variants = variant::load_for(tx, ids).await?;
    let mut images = crate::image::for_products(tx, ids).await?;
    let mut by_id: std::collections::HashMap<ProductId, Product> = rows
        .into_iter()
        .map(|r| {
            let p = Product {
                id: r.id,
                store_id: r.store_id,
                vendor_id: r.vendor_id,
                handle: r.handle,
                title: r.title,
                description: r.description,
                status: r.status,
                product_type: r.product_type,
                tags: r.tags,
                options: r.options,
                variants: variants.remove(&r.id).unwrap_or_default(),
                images: images.remove(&r.id).unwrap_or_default(),
                seo_title: r.seo_title,
                seo_description: r.seo_description,
                location_ids: r.location_ids,
                published_at: r.published_at,
                created_at: r.created_at,
                updated_at: r.updated_at,
            };
            (p.id, p)
        })
        .collect();
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

pub(crate) async fn load_one(tx: &mut Tx, store: StoreId, id: ProductId) -> Result<Product, CatalogError> {
    load(tx, store, &[id]).await?.pop().ok_or(CatalogError::ProductNotFound)
}

/// Locks a product row for a change, within the acting vendor's scope; answers its status, its
/// number of options and its vendor.
pub(crate) async fn lock(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    id: ProductId,
) -> Result<(ProductStatus, usize, VendorId), CatalogError> {
    let row: Option<(ProductStatus, VendorId)> = sqlx::query_as(
        "SELECT status, vendor_id FROM products WHERE id = $1 AND store_id = $2 AND deleted_at IS NULL FOR UPDATE",
    )
    .bind(id)
    .bind(store)
    .fetch_optional(&mut **tx)
    .await?;
    let (status, vendor) = row.ok_or(CatalogError::ProductNotFound)?;
    if !by.sees_vendor(vendor) {
        return Err(CatalogError::ProductNotFound);
    }
    let option_count: i64 = sqlx::query_scalar("SELECT count(*) FROM product_options WHERE product_id = $1")
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
    Ok((status, option_count as usize, vendor))
}

pub async fn get_product(tx: &mut Tx, store: StoreId, by: Acting<'_>, id: ProductId) -> Result<Product, CatalogError> {
    by.require(Permission::CatalogRead)?;
    let p = load_one(tx, store, id).await?;
    if !by.sees_vendor(p.vendor_id) {
        return Err(CatalogError::ProductNotFound);
    }
    Ok(p)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortKey {
    UpdatedAt,
    CreatedAt,
    Title,
}

fn parse_sort(sort: Option<&str>) -> Result<(SortKey, bool), CatalogError> {
    let s = sort.unwrap_or("-updated_at");
    let (desc, key) = match s.strip_prefix('-') {
        Some(k) => (true, k),
        None => (false, s),
    };
    let key = match key {
        "updated_at" => SortKey::UpdatedAt,
        "created_at" => SortKey::CreatedAt,
        "title" => SortKey::Title,
        _ => {
            return Err(kernel::ValidationErrors::one(
                "sort",
                "invalid",
                "sort by updated_at, created_at or title, with - for descending",
            )
            .into());
        }
    };
    Ok((key, desc))
}

/// The admin product list: filters, sort, cursor pagination (keyset on the sort key and id).
pub async fn list_products(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    query: &ProductQuery,
) -> Result<Page<Product>, CatalogError> {
    by.require(Permission::CatalogRead)?;
    let page = PageRequest { limit: query.limit, cursor: query.cursor.clone() };
    let limit = page.limit()?;
    let (key, desc) = parse_sort(query.sort.as_deref())?;
    let after: Option<(String, ProductId)> = page.after()?;
    let column = match key {
        SortKey::UpdatedAt => "updated_at",
        SortKey::CreatedAt => "created_at",
        SortKey::Title => "title",
    };
    // timestamps travel in cursors as RFC 3339 text in UTC, whatever the session's settings
    let key_expr = match key {
        SortKey::Title => "title".to_string(),
        _ => format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"),
    };
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new("SELECT id, ");
    qb.push(key_expr).push(" FROM products WHERE store_id = ").push_bind(store).push(" AND deleted_at IS NULL");
    if let Some(s) = query.status {
        qb.push(" AND status = ").push_bind(s);
    }
    if let Some(vendor) = by.vendor().or(query.vendor_id) {
        qb.push(" AND vendor_id = ").push_bind(vendor);
    }
    if let Some(since) = query.updated_since {
        qb.push(" AND updated_at >= ").push_bind(since);
    }
    if let Some(q) = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        if q.chars().count() > 200 {
            return Err(kernel::ValidationErrors::one("q", "too_long", "at most 200 characters").into());
        }
        let pattern = format!("%{}%", q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        qb.push(" AND (title ILIKE ")
            .push_bind(pattern.clone())
            .push(" OR EXISTS (SELECT 1 FROM variants v WHERE v.product_id = products.id AND v.deleted_at IS NULL AND v.sku ILIKE ")
            .push_bind(pattern)
            .push("))");
    }
    let cast = if key == SortKey::Title { "" } else { "::timestamptz" };
    if let Some((value, id)) = after {
        if key != SortKey::Title && value.parse::<DateTime<Utc>>().is_err() {
            return Err(kernel::PageError::InvalidCursor.into());
        }
        qb.push(format!(" AND ({column}, id) {} (", if desc { "<" } else { ">" }))
            .push_bind(value)
            .push(cast)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
    let dir = if desc { "DESC" } else { "ASC" };
    qb.push(format!(" ORDER BY {column} {dir}, id {dir} LIMIT ")).push_bind(limit as i64 + 1);
    let keys: Vec<(ProductId, String)> = qb.build_query_as().fetch_all(&mut **tx).await?;
    let page_keys = Page::from_rows(keys, limit, |(id, value)| (value.clone(), *id));
    let ids: Vec<ProductId> = page_keys.items.iter().map(|(id, _)| *id).collect();
    let products = load(tx, store, &ids).await?;
    Ok(Page { items: products, next_cursor: page_keys.next_cursor })
}

/// Changes a product's fields and, through the legal transitions, its status.
pub async fn update_product(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    id: ProductId,
    input: UpdateProduct,
) -> Result<Product, CatalogError> {
    by.require(Permission::CatalogWrite)?;
    let (status, option_count, _) = lock(tx, store, by, id).await?;
    let mut v = Validator::new();
    let title = input.title.as_deref().map(|t| v.text("title", t, 255));
    let new_handle = input.handle.as_deref().map(handle::normalize);
    if new_handle.as_deref().is_some_and(|h| !handle::is_valid(h)) {
        v.push("handle", "invalid", "use lower-case letters, digits and dashes");
    }
    let tags = input.tags.as_deref().map(clean_tags);
    let options: Option<Vec<String>> = input.options.as_ref().map(|o| o.iter().map(|s| s.trim().to_string()).collect());
    check_text_fields(
        &mut v,
        input.description.as_deref().unwrap_or(""),
        input.product_type.as_deref().unwrap_or(""),
        tags.as_deref().unwrap_or(&[]),
        options.as_deref().unwrap_or(&[]),
    );
    let (seo_title, seo_description) = check_seo(
        &mut v,
        input.seo_title.as_ref().map(|t| t.as_deref().unwrap_or("")),
        input.seo_description.as_ref().map(|t| t.as_deref().unwrap_or("")),
    );
    if let Some(o) = &options {
        let has_variants: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM variants WHERE product_id = $1 AND deleted_at IS NULL)")
                .bind(id)
                .fetch_one(&mut **tx)
                .await?;
        if has_variants && o.len() != option_count {
            v.push("options", "invalid", format!("the product's variants have {option_count} option values; rename options, do not add or remove them"));
        }
    }
    v.into_result()?;
    if let Some(to) = input.status {
        check_transition(status, to)?;
    }
    if input.vendor_id.is_some() {
        let vendor = resolve_vendor(tx, by, input.vendor_id).await?;
        sqlx::query("UPDATE products SET vendor_id = $2 WHERE id = $1")
            .bind(id)
            .bind(vendor)
            .execute(&mut **tx)
            .await?;
    }
    let handle_for_error = new_handle.clone().unwrap_or_default();
    sqlx::query(
        "UPDATE products SET
           title = coalesce($2, title),
           handle = coalesce($3, handle),
           description = coalesce($4, description),
           product_type = coalesce($5, product_type),
           tags = coalesce($6, tags),
           status = coalesce($7, status),
           seo_title = CASE WHEN $8 THEN $9 ELSE seo_title END,
           seo_description = CASE WHEN $10 THEN $11 ELSE seo_description END,
           published_at = CASE WHEN coalesce($7, status) = 'active' THEN coalesce(published_at, now()) ELSE published_at END
         WHERE id = $1",
    )
    .bind(id)
    .bind(title)
    .bind(new_handle)
    .bind(input.description.map(|d| d.trim().to_string()))
    .bind(input.product_type.map(|t| t.trim().to_string()))
    .bind(tags)
    .bind(input.status)
    .bind(input.seo_title.is_some())
    .bind(seo_title)
    .bind(input.seo_description.is_some())
    .bind(seo_description)
    .execute(&mut **tx)
    .await
    .map_err(|e| from_constraint(e, &handle_for_error, ""))?;
    if let Some(o) = options {
        write_options(tx, id, &o).await?;
    }
    let product = load_one(tx, store, id).await?;
    if product.status == ProductStatus::Active && status != ProductStatus::Active && !publishable(&product) {
        return Err(CatalogError::NotPublishable);
    }
    if status != ProductStatus::Archived && product.status == ProductStatus::Archived {
        record(tx, ProductArchived, &product).await?;
    } else {
        record(tx, ProductUpdated, &product).await?;
    }
    Ok(product)
}

/// Moves a product to a status (publish, unpublish, archive, unarchive).
pub async fn set_status(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    id: ProductId,
    to: ProductStatus,
) -> Result<Product, CatalogError> {
    update_product(tx, store, by, id, UpdateProduct { status: Some(to), ..Default::default() }).await
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkStatus {
    /// Up to 250 products.
    pub product_ids: Vec<ProductId>,
    pub status: ProductStatus,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BulkFailure {
    pub product_id: ProductId,
    pub code: String,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BulkResult {
    pub updated: Vec<ProductId>,
    /// Products left as they were, and why.
    pub failed: Vec<BulkFailure>,
}

/// Moves many products to one status; each product that cannot move is reported, the others move.
pub async fn bulk_set_status(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    input: BulkStatus,
) -> Result<BulkResult, CatalogError> {
    by.require(Permission::CatalogWrite)?;
    if input.product_ids.is_empty() || input.product_ids.len() > 250 {
        return Err(kernel::ValidationErrors::one("product_ids", "out_of_range", "give 1 to 250 products").into());
    }
    let mut result = BulkResult { updated: Vec::new(), failed: Vec::new() };
    for id in input.product_ids {
        // a savepoint per product: one product's refusal does not undo the others
        sqlx::query("SAVEPOINT bulk_item").execute(&mut **tx).await?;
        match set_status(tx, store, by, id, input.status).await {
            Ok(_) => {
                sqlx::query("RELEASE SAVEPOINT bulk_item").execute(&mut **tx).await?;
                result.updated.push(id);
            }
            Err(CatalogError::Db(e)) => return Err(CatalogError::Db(e)),
            Err(e) => {
                sqlx::query("ROLLBACK TO SAVEPOINT bulk_item").execute(&mut **tx).await?;
                use kernel::Problem;
                result.failed.push(BulkFailure { product_id: id, code: e.code().to_string(), detail: e.to_string() });
            }
        }
    }
    Ok(result)
}

/// Soft-deletes a product and its variants: gone from lists and the storefront, its handle and
/// SKUs free again, while orders keep referring to it.
pub async fn delete_product(tx: &mut Tx, store: StoreId, by: Acting<'_>, id: ProductId) -> Result<(), CatalogError> {
    by.require(Permission::CatalogWrite)?;
    lock(tx, store, by, id).await?;
    let product = load_one(tx, store, id).await?;
    sqlx::query("UPDATE variants SET deleted_at = now() WHERE product_id = $1 AND deleted_at IS NULL")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE products SET deleted_at = now() WHERE id = $1").bind(id).execute(&mut **tx).await?;
    record(tx, ProductDeleted, &product).await?;
    Ok(())
}

pub(crate) async fn record<P: events::Payload>(
    tx: &mut Tx,
    event: fn(Product) -> P,
    product: &Product,
) -> Result<(), sqlx::Error> {
    events::record(tx, events::NewEvent::of(&event(product.clone())).in_store(product.store_id)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProductStatus::*;

    #[test]
    fn transitions() {
        for (from, to) in [
            (Draft, Active),
            (Draft, Archived),
            (Active, Draft),
            (Active, Archived),
            (Archived, Draft),
            (Active, Active),
        ] {
            assert!(check_transition(from, to).is_ok(), "{from:?} -> {to:?}");
        }
        assert!(matches!(check_transition(Archived, Active), Err(CatalogError::IllegalStatusTransition { .. })));
    }

    #[test]
    fn sort_parsing() {
        assert_eq!(parse_sort(None).unwrap(), (SortKey::UpdatedAt, true));
        assert_eq!(parse_sort(Some("title")).unwrap(), (SortKey::Title, false));
        assert!(parse_sort(Some("price")).is_err());
    }
}
