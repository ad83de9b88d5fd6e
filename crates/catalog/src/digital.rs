//! How long a digital purchase's download link lives and how many downloads it allows.
//!
//! **Effective-value rule**: for each of the two settings, the product's value when it has one,
//! else the store's. The store always has a URL lifetime (default 7 days); its download limit
//! may be empty, meaning unlimited. So a product with `max_downloads = null` in a store with
//! `default_max_downloads = 5` allows 5; with 3 it allows 3; a store with no limit and a
//! product with none allow any number. Deliveries copy the effective values when created.

use chrono::{DateTime, Utc};
use db::Tx;
use kernel::access::{Acting, Permission};
use kernel::{ProductId, StoreId, Validator};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::CatalogError;

pub const MAX_TTL_SECONDS: i32 = 10 * 365 * 24 * 3600;

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct StoreDigitalSettings {
    pub default_url_ttl_seconds: i32,
    /// Empty means unlimited.
    pub default_max_downloads: Option<i32>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateStoreDigitalSettings {
    pub default_url_ttl_seconds: Option<i32>,
    /// `null` for unlimited.
    #[serde(default, deserialize_with = "kernel::validate::nullable")]
    #[schema(value_type = Option<i32>)]
    pub default_max_downloads: Option<Option<i32>>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProductDigitalSettings {
    /// `null` to use the store's.
    #[serde(default, deserialize_with = "kernel::validate::nullable")]
    #[schema(value_type = Option<i32>)]
    pub url_ttl_seconds: Option<Option<i32>>,
    /// `null` to use the store's.
    #[serde(default, deserialize_with = "kernel::validate::nullable")]
    #[schema(value_type = Option<i32>)]
    pub max_downloads: Option<Option<i32>>,
}

/// A product's own settings and the values that apply.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductDigitalSettings {
    pub product_id: ProductId,
    /// The product's override, if any.
    pub url_ttl_seconds: Option<i32>,
    pub max_downloads: Option<i32>,
    pub effective: EffectiveDigitalSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct EffectiveDigitalSettings {
    pub url_ttl_seconds: i32,
    /// `null`: unlimited.
    pub max_downloads: Option<i32>,
}

/// The effective-value rule (see the module docs).
pub fn effective(
    store: &StoreDigitalSettings,
    product_ttl: Option<i32>,
    product_max: Option<i32>,
) -> EffectiveDigitalSettings {
    EffectiveDigitalSettings {
        url_ttl_seconds: product_ttl.unwrap_or(store.default_url_ttl_seconds),
        max_downloads: product_max.or(store.default_max_downloads),
    }
}

async fn store_settings(tx: &mut Tx, store: StoreId) -> Result<StoreDigitalSettings, CatalogError> {
    sqlx::query_as("SELECT default_url_ttl_seconds, default_max_downloads, updated_at FROM store_digital_settings WHERE store_id = $1")
        .bind(store)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(CatalogError::StoreNotFound)
}

pub async fn get_store_settings(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
) -> Result<StoreDigitalSettings, CatalogError> {
    by.require(Permission::SettingsRead)?;
    store_settings(tx, store).await
}

pub async fn update_store_settings(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    input: UpdateStoreDigitalSettings,
) -> Result<StoreDigitalSettings, CatalogError> {
    by.require(Permission::StoreManage)?;
    let mut v = Validator::new();
    if let Some(t) = input.default_url_ttl_seconds {
        v.range("default_url_ttl_seconds", t, 60, MAX_TTL_SECONDS);
    }
    if let Some(Some(m)) = input.default_max_downloads {
        v.range("default_max_downloads", m, 1, 1_000_000);
    }
    v.into_result()?;
    let s: StoreDigitalSettings = sqlx::query_as(
        "UPDATE store_digital_settings SET
           default_url_ttl_seconds = coalesce($2, default_url_ttl_seconds),
           default_max_downloads = CASE WHEN $3 THEN $4 ELSE default_max_downloads END
         WHERE store_id = $1 RETURNING default_url_ttl_seconds, default_max_downloads, updated_at",
    )
    .bind(store)
    .bind(input.default_url_ttl_seconds)
    .bind(input.default_max_downloads.is_some())
    .bind(input.default_max_downloads.flatten())
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(CatalogError::StoreNotFound)?;
    let event = crate::event::StoreDigitalSettingsUpdated { store_id: store, settings: s.clone() };
    events::record(tx, events::NewEvent::of(&event).in_store(store)).await?;
    Ok(s)
}

/// A product's digital settings and the effective values (the rule above).
pub async fn product_settings(
    tx: &mut Tx,
    store: StoreId,
    product: ProductId,
) -> Result<ProductDigitalSettings, CatalogError> {
    let own: Option<(Option<i32>, Option<i32>)> =
        sqlx::query_as("SELECT url_ttl_seconds, max_downloads FROM product_digital_settings WHERE product_id = $1")
            .bind(product)
            .fetch_optional(&mut **tx)
            .await?;
    let (ttl, max) = own.unwrap_or((None, None));
    let s = store_settings(tx, store).await?;
    Ok(ProductDigitalSettings {
        product_id: product,
        url_ttl_seconds: ttl,
        max_downloads: max,
        effective: effective(&s, ttl, max),
    })
}

pub async fn get_product_settings(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    product: ProductId,
) -> Result<ProductDigitalSettings, CatalogError> {
    crate::product::get_product(tx, store, by, product).await?;
    product_settings(tx, store, product).await
}

pub async fn update_product_settings(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    product: ProductId,
    input: UpdateProductDigitalSettings,
) -> Result<ProductDigitalSettings, CatalogError> {
    by.require(Permission::DigitalManage)?;
    crate::product::lock(tx, store, by, product).await?;
    let mut v = Validator::new();
    if let Some(Some(t)) = input.url_ttl_seconds {
        v.range("url_ttl_seconds", t, 60, MAX_TTL_SECONDS);
    }
    if let Some(Some(m)) = input.max_downloads {
        v.range("max_downloads", m, 1, 1_000_000);
    }
    v.into_result()?;
    sqlx::query(
        "INSERT INTO product_digital_settings (product_id, tenant_id, url_ttl_seconds, max_downloads)
         VALUES ($1, $2, $4, $6)
         ON CONFLICT (product_id) DO UPDATE SET
           url_ttl_seconds = CASE WHEN $3 THEN $4 ELSE product_digital_settings.url_ttl_seconds END,
           max_downloads = CASE WHEN $5 THEN $6 ELSE product_digital_settings.max_downloads END",
    )
    .bind(product)
    .bind(tx.tenant())
    .bind(input.url_ttl_seconds.is_some())
    .bind(input.url_ttl_seconds.flatten())
    .bind(input.max_downloads.is_some())
    .bind(input.max_downloads.flatten())
    .execute(&mut **tx)
    .await?;
    let s = product_settings(tx, store, product).await?;
    events::record(tx, events::NewEvent::of(&crate::event::ProductDigitalSettingsUpdated(s.clone())).in_store(store))
        .await?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_values_override_store_values() {
        let store = StoreDigitalSettings {
            default_url_ttl_seconds: 600,
            default_max_downloads: Some(5),
            updated_at: Utc::now(),
        };
        assert_eq!(
            effective(&store, None, None),
            EffectiveDigitalSettings { url_ttl_seconds: 600, max_downloads: Some(5) }
        );
        assert_eq!(
            effective(&store, Some(60), Some(3)),
            EffectiveDigitalSettings { url_ttl_seconds: 60, max_downloads: Some(3) }
        );
        let unlimited = StoreDigitalSettings { default_max_downloads: None, ..store };
        assert_eq!(effective(&unlimited, None, None).max_downloads, None);
    }
}
