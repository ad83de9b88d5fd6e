//! Which of the store's locations carry a product. No rows means every location: a new
//! warehouse then carries the store's existing products without touching each one.
//!
//! In a mall a product's stock lives at its vendor's locations or at the mall's own (locations
//! without a vendor), never at another vendor's; a vendor's staff name only their own.

use db::Tx;
use kernel::access::{Acting, Permission};
use kernel::{LocationId, ProductId, StoreId, Validator, VendorId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::CatalogError;

/// Checks that the ids are live locations of the store that can hold stock of `vendor`'s product
/// and that the acting party sees; records a field error otherwise.
pub(crate) async fn check_ids(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    vendor: VendorId,
    v: &mut Validator,
    ids: &[LocationId],
) -> Result<Vec<LocationId>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let found: Vec<LocationId> = sqlx::query_scalar(
        "SELECT id FROM store_locations WHERE id = ANY($1) AND store_id = $2 AND deleted_at IS NULL
            AND (vendor_id IS NULL OR vendor_id = $3) AND ($4::uuid IS NULL OR vendor_id = $4)",
    )
    .bind(ids)
    .bind(store)
    .bind(vendor)
    .bind(by.vendor())
    .fetch_all(&mut **tx)
    .await?;
    let mut out = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        if !found.contains(id) {
            v.push(&format!("location_ids[{i}]"), "invalid", "no such location in this store");
        } else if !out.contains(id) {
            out.push(*id);
        }
    }
    Ok(out)
}

pub(crate) async fn write(tx: &mut Tx, product: ProductId, ids: &[LocationId]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM product_locations WHERE product_id = $1").bind(product).execute(&mut **tx).await?;
    if !ids.is_empty() {
        sqlx::query(
            "INSERT INTO product_locations (tenant_id, product_id, location_id) SELECT $1, $2, unnest($3::uuid[])",
        )
        .bind(tx.tenant())
        .bind(product)
        .bind(ids)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Where a product's first stock goes: its vendor's first location by priority, else the
/// mall's (or the store's) first, among the product's own list if it has one.
pub(crate) async fn first_location(
    tx: &mut Tx,
    store: StoreId,
    product: ProductId,
) -> Result<LocationId, CatalogError> {
    let id: Option<LocationId> = sqlx::query_scalar(
        "SELECT l.id FROM store_locations l JOIN products p ON p.id = $2
          WHERE l.store_id = $1 AND l.deleted_at IS NULL AND l.status = 'active'
            AND (l.vendor_id IS NULL OR l.vendor_id = p.vendor_id)
            AND (NOT EXISTS (SELECT 1 FROM product_locations WHERE product_id = $2)
                 OR EXISTS (SELECT 1 FROM product_locations pl WHERE pl.product_id = $2 AND pl.location_id = l.id))
          ORDER BY l.vendor_id IS NULL, l.priority, l.code LIMIT 1",
    )
    .bind(store)
    .bind(product)
    .fetch_optional(&mut **tx)
    .await?;
    id.ok_or_else(|| {
        kernel::ValidationErrors::one("inventory_quantity", "invalid", "the store has no active location to hold stock")
            .into()
    })
}

/// [`first_location`] of new products without locations of their own, per vendor, in one
/// query; a vendor without one is left out.
pub(crate) async fn first_locations_of(
    tx: &mut Tx,
    store: StoreId,
    vendors: &[VendorId],
) -> Result<std::collections::HashMap<VendorId, LocationId>, sqlx::Error> {
    let rows: Vec<(VendorId, LocationId)> = sqlx::query_as(
        "SELECT DISTINCT ON (v.id) v.id, l.id FROM unnest($2::uuid[]) AS v(id)
           JOIN store_locations l ON l.store_id = $1 AND l.deleted_at IS NULL AND l.status = 'active'
                                 AND (l.vendor_id IS NULL OR l.vendor_id = v.id)
          ORDER BY v.id, l.vendor_id IS NULL, l.priority, l.code",
    )
    .bind(store)
    .bind(vendors)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().collect())
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetProductLocations {
    /// Empty for every location of the store.
    pub location_ids: Vec<LocationId>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductLocations {
    pub product_id: ProductId,
    /// Empty: every location of the store carries the product.
    pub location_ids: Vec<LocationId>,
}

pub async fn set_product_locations(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    product: ProductId,
    input: SetProductLocations,
) -> Result<ProductLocations, CatalogError> {
    by.require(Permission::CatalogWrite)?;
    let (_, _, vendor) = crate::product::lock(tx, store, by, product).await?;
    let mut v = Validator::new();
    let ids = check_ids(tx, store, by, vendor, &mut v, &input.location_ids).await?;
    v.into_result()?;
    write(tx, product, &ids).await?;
    let p = crate::product::load_one(tx, store, product).await?;
    crate::product::record(tx, crate::event::ProductUpdated, &p).await?;
    Ok(ProductLocations { product_id: product, location_ids: p.location_ids })
}
