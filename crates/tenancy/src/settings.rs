//! A store's settings that shape selling: how long carts hold stock, when a cart counts as
//! abandoned, what "low stock" means and whether shoppers see exact numbers.
//! (Payment and shipping settings join these with checkout.)

use chrono::{DateTime, Utc};
use db::Tx;
use kernel::access::{Acting, Permission};
use kernel::{StoreId, Validator};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::TenancyError;

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct StoreSettings {
    /// How long adding to a cart holds stock (default 900 s).
    pub reservation_ttl_seconds: i32,
    /// Carts untouched this long are abandoned and release their holds.
    pub cart_abandon_after_seconds: i32,
    /// Availability shows "low" at or below this many units.
    pub low_stock_threshold: i32,
    /// Whether the storefront shows exact available numbers.
    pub show_stock_quantity: bool,
    /// Browser origins (`https://shop.example.jp`) whose pages may call this store's storefront
    /// API (CORS), besides those every store allows (`TENPO_CORS_ORIGINS`). Empty: none.
    pub cors_origins: Vec<String>,
    /// The name shoppers' emails come from (default: the store's name).
    pub mail_sender_name: Option<String>,
    /// The language of shoppers' emails: `ja` (default) or `en`.
    pub mail_locale: String,
    /// The store's qualified-invoice registration number (適格請求書発行事業者登録番号),
    /// `T` + 13 digits, printed on its invoices and receipts (docs/JAPAN.md). In a mall each
    /// vendor's own number is printed instead.
    pub registration_number: Option<String>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateStoreSettings {
    pub reservation_ttl_seconds: Option<i32>,
    pub cart_abandon_after_seconds: Option<i32>,
    pub low_stock_threshold: Option<i32>,
    pub show_stock_quantity: Option<bool>,
    /// Replaces the list (at most 50 origins, `scheme://host[:port]`).
    pub cors_origins: Option<Vec<String>>,
    /// Empty clears it (emails then come from the store's name).
    pub mail_sender_name: Option<String>,
    /// `ja` or `en`.
    pub mail_locale: Option<String>,
    /// `T` + 13 digits with the National Tax Agency's check digit (full-width and hyphens are
    /// fine); empty clears it.
    #[schema(example = "T7123456789012")]
    pub registration_number: Option<String>,
}

/// Most origins a store may allow.
pub const MAX_CORS_ORIGINS: usize = 50;

const COLUMNS: &str = "reservation_ttl_seconds, cart_abandon_after_seconds, low_stock_threshold, show_stock_quantity,
                       cors_origins, mail_sender_name, mail_locale, registration_number, updated_at";

/// The origins a store allows for CORS (besides the deployment's own list).
pub async fn cors_origins(tx: &mut Tx, store: StoreId) -> Result<Vec<String>, sqlx::Error> {
    let list: Option<Vec<String>> = sqlx::query_scalar("SELECT cors_origins FROM store_settings WHERE store_id = $1")
        .bind(store)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(list.unwrap_or_default())
}

/// The name a store's messages are sent under (its sender name, else its name) and their
/// language (`ja` or `en`).
pub async fn mail_identity(tx: &mut Tx, store: StoreId) -> Result<(String, String), sqlx::Error> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT coalesce(nullif(ss.mail_sender_name, ''), s.name), ss.mail_locale
           FROM stores s JOIN store_settings ss ON ss.store_id = s.id WHERE s.id = $1",
    )
    .bind(store)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.unwrap_or_else(|| ("Tenpo".into(), "ja".into())))
}

/// The store's qualified-invoice registration number, if it has one.
pub async fn registration_number(tx: &mut Tx, store: StoreId) -> Result<Option<String>, sqlx::Error> {
    let n: Option<Option<String>> =
        sqlx::query_scalar("SELECT registration_number FROM store_settings WHERE store_id = $1")
            .bind(store)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(n.flatten())
}

pub async fn get_settings(tx: &mut Tx, store: StoreId, by: Acting<'_>) -> Result<StoreSettings, TenancyError> {
    by.require(Permission::SettingsRead)?;
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM store_settings WHERE store_id = $1"))
        .bind(store)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(TenancyError::StoreNotFound)
}

pub async fn update_settings(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    input: UpdateStoreSettings,
) -> Result<StoreSettings, TenancyError> {
    by.require(Permission::StoreManage)?;
    let mut v = Validator::new();
    if let Some(t) = input.reservation_ttl_seconds {
        v.range("reservation_ttl_seconds", t, 1, 86_400);
    }
    if let Some(t) = input.cart_abandon_after_seconds {
        v.range("cart_abandon_after_seconds", t, 60, 2_592_000);
    }
    if let Some(t) = input.low_stock_threshold {
        v.range("low_stock_threshold", t, 0, 1_000_000);
    }
    let cors_origins = input.cors_origins.as_ref().map(|list| {
        if list.len() > MAX_CORS_ORIGINS {
            v.push("cors_origins", "too_many", format!("at most {MAX_CORS_ORIGINS} origins"));
        }
        let mut out: Vec<String> = Vec::new();
        for (i, raw) in list.iter().enumerate() {
            if let Some(o) = v.check(&format!("cors_origins[{i}]"), kernel::origin::normalize_origin(raw))
                && !out.contains(&o)
            {
                out.push(o);
            }
        }
        out
    });
    let sender = input.mail_sender_name.as_deref().map(|n| n.trim().to_string());
    if sender.as_deref().is_some_and(|n| n.chars().count() > 100) {
        v.push("mail_sender_name", "too_long", "must be at most 100 characters");
    }
    if sender.as_deref().is_some_and(|n| n.contains(['\r', '\n', '<', '>', '"'])) {
        v.push("mail_sender_name", "invalid", "must not contain line breaks, quotes or angle brackets");
    }
    if let Some(l) = &input.mail_locale
        && !matches!(l.as_str(), "ja" | "en")
    {
        v.push("mail_locale", "invalid", "use ja or en");
    }
    // Some("") clears the number; a number is checked, check digit included
    let registration = input.registration_number.as_deref().map(str::trim).map(|raw| match raw {
        "" => Some(String::new()),
        raw => v.check("registration_number", kernel::jp::normalize_registration_number(raw)),
    });
    v.into_result()?;
    let registration = registration.flatten();
    let s: StoreSettings = sqlx::query_as(&format!(
        "UPDATE store_settings SET
           reservation_ttl_seconds = coalesce($2, reservation_ttl_seconds),
           cart_abandon_after_seconds = coalesce($3, cart_abandon_after_seconds),
           low_stock_threshold = coalesce($4, low_stock_threshold),
           show_stock_quantity = coalesce($5, show_stock_quantity),
           cors_origins = coalesce($6, cors_origins),
           mail_sender_name = CASE WHEN $7::text IS NULL THEN mail_sender_name ELSE nullif($7, '') END,
           mail_locale = coalesce($8, mail_locale),
           registration_number = CASE WHEN $9::text IS NULL THEN registration_number ELSE nullif($9, '') END
         WHERE store_id = $1 RETURNING {COLUMNS}"
    ))
    .bind(store)
    .bind(input.reservation_ttl_seconds)
    .bind(input.cart_abandon_after_seconds)
    .bind(input.low_stock_threshold)
    .bind(input.show_stock_quantity)
    .bind(cors_origins)
    .bind(sender)
    .bind(&input.mail_locale)
    .bind(registration)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(TenancyError::StoreNotFound)?;
    events::record(
        tx,
        events::NewEvent::of(&crate::event::StoreSettingsUpdated { store_id: store, settings: s.clone() })
            .in_store(store),
    )
    .await?;
    Ok(s)
}
