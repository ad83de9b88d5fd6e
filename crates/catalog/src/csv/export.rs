//! Exporting a store's catalog in the Shopify product CSV layout (UTF-8, with the columns in
//! [`super::COLUMNS`]). Importing the file into an empty store reproduces the catalog.

use std::collections::HashMap;

use db::Tx;
use kernel::access::{Acting, Permission};
use kernel::{ProductId, StoreId, VariantId, VendorId};

use crate::CatalogError;
use crate::product::{self, ProductStatus};
use crate::variant::{FulfillmentType, TaxClass};

pub async fn export(tx: &mut Tx, store: StoreId, by: Acting<'_>) -> Result<String, CatalogError> {
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
                let row = vec![
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
                write(&mut out, row)?;
            }
        }
    }
    let bytes = out.into_inner().map_err(|e| CatalogError::UnreadableCsv(e.to_string()))?;
    Ok(String::from_utf8(bytes).unwrap_or_default())
}
