//! A product's search document, built from the database as it is now (never from an event's
//! payload), so applying it twice, late or out of order still leaves the index right.

use std::collections::HashMap;

use catalog::product::{self, ProductStatus};
use catalog::variant::{FulfillmentType, VariantStatus};
use chrono::Utc;
use db::Tx;
use kernel::{ProductId, StoreId, TenantId, VendorId};
use serde::{Deserialize, Serialize};

/// What the index holds for one product. Only products with at least one active variant have
/// one; prices, options and SKUs come from the active variants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductDoc {
    pub id: ProductId,
    pub tenant_id: TenantId,
    pub store_id: StoreId,
    /// `draft`, `active` or `archived`; the storefront asks for `active`.
    pub status: String,
    pub handle: String,
    pub title: String,
    /// Plain text (HTML tags removed), at most 4,000 characters.
    pub description: String,
    pub vendor: String,
    pub product_type: String,
    pub tags: Vec<String>,
    /// `Name:Value` for every option value of an active variant (`Size:M`).
    pub option_values: Vec<String>,
    pub skus: Vec<String>,
    /// Lowest and highest active variant price, minor units.
    pub price_min: i64,
    pub price_max: i64,
    /// Some active variant is digital or has stock available.
    pub in_stock: bool,
    /// When the product was published (or created), Unix milliseconds: the `newest` order.
    pub published_at: i64,
    /// When this document was built, Unix milliseconds.
    pub indexed_at: i64,
}

/// What to do for a set of products: documents to write and ids to remove.
#[derive(Debug, Default)]
pub struct Changes {
    pub upsert: Vec<ProductDoc>,
    pub delete: Vec<ProductId>,
}

/// Builds the documents of `ids` (products of `store`) from the database. Deleted products,
/// products without an active variant and products of a suspended vendor go to `delete`.
pub async fn build(tx: &mut Tx, store: StoreId, ids: &[ProductId]) -> Result<Changes, sqlx::Error> {
    let tenant = tx.tenant();
    let products = product::load(tx, store, ids).await?;
    let variant_ids: Vec<kernel::VariantId> = products
        .iter()
        .flat_map(|p| p.variants.iter().filter(|v| v.status == VariantStatus::Active).map(|v| v.id))
        .collect();
    let available = inventory::availability::of_variants(tx, &variant_ids).await?;
    let vendor_ids: Vec<VendorId> = products.iter().map(|p| p.vendor_id).collect();
    // a suspended vendor's products are not for sale: they leave the index
    let vendors: HashMap<VendorId, String> = sqlx::query_as::<_, (VendorId, String)>(
        "SELECT id, name FROM vendors WHERE id = ANY($1) AND status = 'active'",
    )
    .bind(&vendor_ids)
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .collect();
    let now = Utc::now().timestamp_millis();
    let mut changes = Changes::default();
    let mut found = std::collections::HashSet::new();
    for p in products {
        found.insert(p.id);
        let Some(vendor) = vendors.get(&p.vendor_id).cloned() else {
            changes.delete.push(p.id);
            continue;
        };
        let active: Vec<_> = p.variants.iter().filter(|v| v.status == VariantStatus::Active).collect();
        let (Some(min), Some(max)) =
            (active.iter().map(|v| v.price.amount).min(), active.iter().map(|v| v.price.amount).max())
        else {
            changes.delete.push(p.id);
            continue;
        };
        let mut option_values = Vec::new();
        for v in &active {
            for (name, value) in p.options.iter().zip(&v.option_values) {
                let pair = format!("{name}:{value}");
                if !option_values.contains(&pair) {
                    option_values.push(pair);
                }
            }
        }
        let in_stock = active
            .iter()
            .any(|v| v.fulfillment_type == FulfillmentType::Digital || available.get(&v.id).copied().unwrap_or(0) > 0);
        changes.upsert.push(ProductDoc {
            id: p.id,
            tenant_id: tenant,
            store_id: p.store_id,
            status: status_str(p.status).into(),
            handle: p.handle,
            title: p.title,
            description: plain_text(&p.description, 4000),
            vendor,
            product_type: p.product_type,
            tags: p.tags,
            option_values,
            skus: active.iter().map(|v| v.sku.clone()).collect(),
            price_min: min,
            price_max: max,
            in_stock,
            published_at: p.published_at.unwrap_or(p.created_at).timestamp_millis(),
            indexed_at: now,
        });
    }
    changes.delete.extend(ids.iter().filter(|id| !found.contains(id)));
    Ok(changes)
}

fn status_str(s: ProductStatus) -> &'static str {
    s.as_str()
}

/// The text of an HTML fragment: tags dropped, common entities decoded, whitespace collapsed.
pub fn plain_text(html: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(html.len().min(max_chars * 3));
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' if in_tag => in_tag = false,
            _ if in_tag => {}
            _ => out.push(c),
        }
    }
    let decoded = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(max_chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_drops_tags() {
        assert_eq!(plain_text("<p>Loose leaf &amp; <b>tea</b></p>\n<p>静岡</p>", 100), "Loose leaf & tea 静岡");
        assert_eq!(plain_text("abcdef", 3), "abc");
    }
}
