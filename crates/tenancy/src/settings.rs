//! A store's settings that shape selling: how long carts hold stock, when a cart counts as
//! abandoned, what "low stock" means and whether shoppers see exact numbers.
//! (Payment and shipping settings join these with checkout.) The storefront pages' branding
//! (colours, logo) and privacy policy are here too; the store's domain is on the store
//! (`stores::parse_domain`), being unique across the deployment.

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
    /// The storefront pages' main colour (`#rrggbb`, buttons and links), at least 4.5:1
    /// against white; the default when unset.
    pub brand_primary: Option<String>,
    /// The second colour (prices, notices), as `brand_primary`.
    pub brand_accent: Option<String>,
    /// The logo in the storefront's header: a `/media/t/<tenant>/...` path (an image the
    /// catalog's images pipeline stored, e.g. a product image's rendition URL).
    pub logo_url: Option<String>,
    /// The storefront's privacy page, plain text (blank lines part paragraphs); a default
    /// Japanese template when unset.
    pub privacy_policy: Option<String>,
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
    /// `#rrggbb` with at least 4.5:1 contrast against white (WCAG AA for text); empty clears.
    #[schema(example = "#1f5f8b")]
    pub brand_primary: Option<String>,
    /// As `brand_primary`.
    #[schema(example = "#a3341c")]
    pub brand_accent: Option<String>,
    /// A `/media/t/<tenant>/...` path of the store's tenant; empty clears.
    pub logo_url: Option<String>,
    /// Plain text, at most 20,000 characters; empty goes back to the default template.
    pub privacy_policy: Option<String>,
}

/// Most origins a store may allow.
pub const MAX_CORS_ORIGINS: usize = 50;

const COLUMNS: &str = "reservation_ttl_seconds, cart_abandon_after_seconds, low_stock_threshold, show_stock_quantity,
                       cors_origins, mail_sender_name, mail_locale, registration_number,
                       brand_primary, brand_accent, logo_url, privacy_policy, updated_at";

/// Most characters of a privacy policy.
pub const MAX_PRIVACY_POLICY: usize = 20_000;

/// What the storefront pages show of a store: its name, branding and privacy policy.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct Storefront {
    pub name: String,
    pub brand_primary: Option<String>,
    pub brand_accent: Option<String>,
    pub logo_url: Option<String>,
    pub privacy_policy: Option<String>,
}

/// The store's name, branding and privacy policy, for its storefront pages.
pub async fn storefront(tx: &mut Tx, store: StoreId) -> Result<Storefront, sqlx::Error> {
    let row: Option<Storefront> = sqlx::query_as(
        "SELECT s.name, ss.brand_primary, ss.brand_accent, ss.logo_url, ss.privacy_policy
           FROM stores s JOIN store_settings ss ON ss.store_id = s.id WHERE s.id = $1",
    )
    .bind(store)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.unwrap_or_default())
}

/// A colour as `#rrggbb` (lower case; `#rgb` is widened) readable as text on white: at
/// least WCAG AA's 4.5:1 contrast.
pub fn parse_colour(raw: &str) -> Result<String, (&'static str, String)> {
    let hex = raw.trim().trim_start_matches('#').to_ascii_lowercase();
    let hex = match hex.len() {
        3 => hex.chars().flat_map(|c| [c, c]).collect(),
        _ => hex,
    };
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(("invalid", "use a colour as #rrggbb".into()));
    }
    let ratio = contrast_with_white(&hex);
    if ratio < 4.5 {
        return Err((
            "low_contrast",
            format!("contrast against white is {ratio:.2}:1; text needs at least 4.5:1 (WCAG AA), use a darker colour"),
        ));
    }
    Ok(format!("#{hex}"))
}

/// The WCAG contrast ratio of `rrggbb` against white (1 to 21).
pub fn contrast_with_white(hex: &str) -> f64 {
    let channel = |i: usize| {
        let c = f64::from(u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0)) / 255.0;
        if c <= 0.040_45 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
    };
    let luminance = 0.2126 * channel(0) + 0.7152 * channel(2) + 0.0722 * channel(4);
    1.05 / (luminance + 0.05)
}

/// A logo path: the tenant's own media (`/media/t/<tenant>/...`), nothing a stylesheet or an
/// attribute would read otherwise.
fn parse_logo(raw: &str, tenant: kernel::TenantId) -> Result<String, String> {
    let prefix = format!("/media/t/{tenant}/");
    let ok = raw.starts_with(&prefix)
        && raw.len() <= 500
        && raw.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.'))
        && !raw.contains("..");
    if ok { Ok(raw.to_string()) } else { Err(format!("use the path of an image of this store's, {prefix}...")) }
}

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
    // Some("") clears a colour or the logo; Some(value) is the checked value
    let mut colour = |field: &str, raw: Option<&str>| {
        raw.map(str::trim).map(|raw| match raw {
            "" => String::new(),
            raw => parse_colour(raw).unwrap_or_else(|(code, message)| {
                v.push(field, code, message);
                String::new()
            }),
        })
    };
    let primary = colour("brand_primary", input.brand_primary.as_deref());
    let accent = colour("brand_accent", input.brand_accent.as_deref());
    let logo = input.logo_url.as_deref().map(str::trim).map(|raw| match raw {
        "" => String::new(),
        raw => v.check("logo_url", parse_logo(raw, tx.tenant())).unwrap_or_default(),
    });
    let privacy = input.privacy_policy.as_deref().map(|t| t.trim().replace("\r\n", "\n"));
    if privacy.as_deref().is_some_and(|t| t.chars().count() > MAX_PRIVACY_POLICY) {
        v.push("privacy_policy", "too_long", format!("must be at most {MAX_PRIVACY_POLICY} characters"));
    }
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
           registration_number = CASE WHEN $9::text IS NULL THEN registration_number ELSE nullif($9, '') END,
           brand_primary = CASE WHEN $10::text IS NULL THEN brand_primary ELSE nullif($10, '') END,
           brand_accent = CASE WHEN $11::text IS NULL THEN brand_accent ELSE nullif($11, '') END,
           logo_url = CASE WHEN $12::text IS NULL THEN logo_url ELSE nullif($12, '') END,
           privacy_policy = CASE WHEN $13::text IS NULL THEN privacy_policy ELSE nullif($13, '') END
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
    .bind(primary)
    .bind(accent)
    .bind(logo)
    .bind(privacy)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_need_aa_contrast_against_white() {
        assert_eq!(parse_colour("#1F5F8B").unwrap(), "#1f5f8b");
        assert_eq!(parse_colour("#000").unwrap(), "#000000");
        // #767676 is the lightest grey that passes (4.54:1); #777777 fails (4.48:1)
        assert!(parse_colour("#767676").is_ok());
        assert_eq!(parse_colour("#777777").unwrap_err().0, "low_contrast");
        assert_eq!(parse_colour("#ffff00").unwrap_err().0, "low_contrast");
        assert_eq!(parse_colour("red").unwrap_err().0, "invalid");
        assert_eq!(parse_colour("#12345g").unwrap_err().0, "invalid");
        assert!((contrast_with_white("000000") - 21.0).abs() < 0.01);
    }

    #[test]
    fn a_logo_is_the_tenants_own_media() {
        let t = kernel::TenantId::new();
        assert!(parse_logo(&format!("/media/t/{t}/images/x/w600.jpg"), t).is_ok());
        assert!(parse_logo(&format!("/media/t/{}/images/x/w600.jpg", kernel::TenantId::new()), t).is_err());
        assert!(parse_logo(&format!("/media/t/{t}/a.jpg);background:url(x"), t).is_err());
        assert!(parse_logo(&format!("/media/t/{t}/../../x"), t).is_err());
        assert!(parse_logo("https://evil.example/logo.png", t).is_err());
    }
}
