//! Exporting a store's catalog in the Shopify product CSV layout (UTF-8, with the columns in
//! [`super::COLUMNS`]). Importing the file into an empty store reproduces the catalog.
//!
//! Images as Shopify writes them: image N (by position) on the product's row N, on extra
//! image-only rows when there are more images than variants; `Image Src` is the original's
//! URL (`media_base` + `/media/...`, or the URL an imported image is still to be fetched
//! from), `Variant Image` the URL of the variant's image.

use std::collections::HashMap;

use db::Tx;
use kernel::access::{Acting, Permission};
use kernel::{ProductId, StoreId, VariantId, VendorId};

use crate::CatalogError;
use crate::product::{self, ProductStatus};
use crate::variant::{FulfillmentType, TaxClass};

/// The origin an export's image paths get: the configured public URL, else the request's
/// `Host` (over http; a name, an address and a port only), else nothing (relative paths).
pub fn media_base(public_url: Option<&str>, host: Option<&str>) -> String {
    match (public_url, host) {
        (Some(url), _) => url.trim_end_matches('/').to_string(),
        (None, Some(h))
            if !h.is_empty()
                && h.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']')) =>
        {
            format!("http://{h}")
        }
        _ => String::new(),
    }
}

/// `media_base` is put before image paths (`/media/...`) to make `Image Src` absolute, such as
/// `https://api.example.com`; empty leaves them relative.
pub async fn export(tx: &mut Tx, store: StoreId, by: Acting<'_>, media_base: &str) -> Result<String, CatalogError> {
    let media_base = media_base.trim_end_matches('/');
    by.require(Permission::CatalogRead)?;
    by.require(Permission::DataExport)?;
    let ids: Vec<ProductId> = sqlx::query_scalar(
        "SELECT id FROM products WHERE store_id = $1 AND deleted_at IS NULL AND ($2::uuid IS NULL OR vendor_id = $2) ORDER BY created_at, id",
    )
    .bind(store)
    .bind(by.vendor())
    .fetch_all(&mut **tx)
    .await?;
    let vendors: HashMap<VendorId, String> = sqlx::query_as::<_, (VendorId, String)>("SELECT id, name FROM vendors")
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .collect();
    let mut out = csv::Writer::from_writer(Vec::new());
    let write = |w: &mut csv::Writer<Vec<u8>>, row: Vec<String>| {
        w.write_record(&row).map_err(|e| CatalogError::UnreadableCsv(e.to_string()))
    };
    write(&mut out, super::COLUMNS.iter().map(|s| s.to_string()).collect())?;
    for chunk in ids.chunks(200) {
        let products = product::load(tx, store, chunk).await?;
        let variant_ids: Vec<VariantId> = products.iter().flat_map(|p| p.variants.iter().map(|v| v.id)).collect();
        let stock: HashMap<VariantId, i64> = sqlx::query_as::<_, (VariantId, i64)>(
            "SELECT variant_id, sum(stock)::bigint FROM inventory_stocks WHERE variant_id = ANY($1) GROUP BY variant_id",
        )
        .bind(&variant_ids)
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .collect();
        for p in products {
            let status = match p.status {
                ProductStatus::Active => "active",
                ProductStatus::Draft => "draft",
                ProductStatus::Archived => "archived",
            };
            let options: Vec<String> = if p.options.is_empty() { vec!["Title".into()] } else { p.options.clone() };
            let src = |img: &crate::image::ProductImage| -> String {
                match (&img.url, &img.source_url) {
                    (Some(url), _) => format!("{media_base}{url}"),
                    (None, Some(source)) => source.clone(),
                    (None, None) => String::new(),
                }
            };
            let image_cols = |n: usize| -> Vec<String> {
                match p.images.get(n) {
                    Some(img) => vec![src(img), (n + 1).to_string(), img.alt.clone()],
                    None => vec![String::new(), String::new(), String::new()],
                }
            };
            for (i, v) in p.variants.iter().enumerate() {
                let first = i == 0;
                let product_field = |s: &str| if first { s.to_string() } else { String::new() };
                let mut values = v.option_values.clone();
                if p.options.is_empty() {
                    values = vec!["Default Title".into()];
                }
                let option = |n: usize| -> (String, String) {
                    let name = if first { options.get(n).cloned().unwrap_or_default() } else { String::new() };
                    (name, values.get(n).cloned().unwrap_or_default())
                };
                let (o1n, o1v) = option(0);
                let (o2n, o2v) = option(1);
                let (o3n, o3v) = option(2);
                let physical = v.fulfillment_type == FulfillmentType::Physical;
                let variant_image =
                    v.image_id.and_then(|id| p.images.iter().find(|img| img.id == id)).map(&src).unwrap_or_default();
                let mut row = vec![
                    p.handle.clone(),
                    product_field(&p.title),
                    product_field(&p.description),
                    product_field(vendors.get(&p.vendor_id).map(String::as_str).unwrap_or("")),
                    product_field(&p.product_type),
                    product_field(&p.tags.join(", ")),
                    product_field(if p.status == ProductStatus::Active { "TRUE" } else { "FALSE" }),
                    o1n,
                    o1v,
                    o2n,
                    o2v,
                    o3n,
                    o3v,
                    v.sku.clone(),
                    v.weight_grams.map(|g| g.to_string()).unwrap_or_default(),
                    if physical { "shopify".into() } else { String::new() },
                    if physical { stock.get(&v.id).copied().unwrap_or(0).to_string() } else { String::new() },
                    "deny".into(),
                    "manual".into(),
                    v.price.format_major(),
                    v.compare_at_price.map(|m| m.format_major()).unwrap_or_default(),
                    if physical { "TRUE" } else { "FALSE" }.into(),
                    "TRUE".into(),
                    v.barcode.clone().unwrap_or_default(),
                    "g".into(),
                    product_field(status),
                    match v.tax_class {
                        TaxClass::Standard => "standard",
                        TaxClass::Reduced => "reduced",
                    }
                    .into(),
                    if v.is_hot { "TRUE" } else { "FALSE" }.into(),
                ];
                row.extend(image_cols(i));
                row.push(variant_image);
                row.push(product_field(p.seo_title.as_deref().unwrap_or("")));
                row.push(product_field(p.seo_description.as_deref().unwrap_or("")));
                write(&mut out, row)?;
            }
            // images beyond the variant rows: image-only rows
            for n in p.variants.len()..p.images.len() {
                let mut row = vec![String::new(); super::COLUMNS.len()];
                row[0] = p.handle.clone();
                let at = super::COLUMNS.iter().position(|c| *c == "Image Src").expect("Image Src is a column");
                for (k, value) in image_cols(n).into_iter().enumerate() {
                    row[at + k] = value;
                }
                write(&mut out, row)?;
            }
        }
    }
    let bytes = out.into_inner().map_err(|e| CatalogError::UnreadableCsv(e.to_string()))?;
    Ok(String::from_utf8(bytes).unwrap_or_default())
}
