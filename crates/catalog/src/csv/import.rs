//! Importing a Shopify-layout CSV.
//!
//! The whole file is read and checked before anything is written. By default the import is all
//! or nothing: any bad row rejects the file, with every bad row's line number and column. In
//! partial mode a product with a bad row is skipped (and reported) and the rest is imported.
//! A handle that exists in the store updates that product (its variants matched by SKU); a new
//! handle creates one. Stock quantities go to the product's first location, as `import`
//! movements.

use std::collections::{HashMap, HashSet};

use db::Tx;
use kernel::access::{Acting, Permission};
use kernel::{Currency, FieldError, Money, ProductId, StoreId, Validator, VendorId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::decode::{Encoding, decode};
use crate::product::{CreateProduct, ProductStatus, UpdateProduct};
use crate::variant::{self, CreateVariant, FulfillmentType, TaxClass, UpdateVariant};
use crate::{CatalogError, handle};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportMode {
    /// Any bad row rejects the whole file (default).
    #[default]
    AllOrNothing,
    /// Products with a bad row are skipped and reported; the rest is imported.
    Partial,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct ImportReport {
    #[schema(value_type = String)]
    pub encoding: Option<Encoding>,
    /// Data rows read (excluding the header).
    pub rows: usize,
    pub products_created: usize,
    pub products_updated: usize,
    pub variants_created: usize,
    pub variants_updated: usize,
    /// Partial mode: rows that were not imported, with why (`field` is "line N: Column").
    pub skipped: Vec<FieldError>,
}

struct Columns(HashMap<String, usize>);

impl Columns {
    fn get<'r>(&self, rec: &'r csv::StringRecord, name: &str) -> &'r str {
        self.0.get(&name.to_ascii_lowercase()).and_then(|i| rec.get(*i)).map(str::trim).unwrap_or("")
    }
    /// A column's value when the file has the column (`Some(None)` when it is empty there).
    fn optional(&self, rec: &csv::StringRecord, name: &str) -> Option<Option<String>> {
        self.has(name).then(|| Some(self.get(rec, name).to_string()).filter(|v| !v.is_empty()))
    }
    fn has(&self, name: &str) -> bool {
        self.0.contains_key(&name.to_ascii_lowercase())
    }
}

#[derive(Debug)]
struct VariantDraft {
    input: CreateVariant,
    quantity: Option<i32>,
}

#[derive(Debug)]
struct ProductDraft {
    line: u64,
    handle: String,
    title: String,
    description: String,
    vendor: String,
    product_type: String,
    tags: Vec<String>,
    /// `None` when the file has no such column (an update then keeps the product's).
    seo_title: Option<Option<String>>,
    seo_description: Option<Option<String>>,
    status: ProductStatus,
    options: Vec<String>,
    variants: Vec<VariantDraft>,
    errors: Vec<FieldError>,
    lines: Vec<u64>,
}

fn err(line: u64, column: &str, code: &str, message: impl Into<String>) -> FieldError {
    FieldError::new(format!("line {line}: {column}"), code, message)
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Some(true),
        "false" | "no" | "0" => Some(false),
        _ => None,
    }
}

/// The CSV column a validation field of a variant comes from.
fn column_of(field: &str) -> &'static str {
    match field {
        f if f.starts_with("sku") => "Variant SKU",
        f if f.starts_with("price") => "Variant Price",
        f if f.starts_with("compare_at_price") => "Variant Compare At Price",
        f if f.starts_with("option_values") => "Option1 Value",
        f if f.starts_with("weight_grams") => "Variant Grams",
        f if f.starts_with("barcode") => "Variant Barcode",
        f if f.starts_with("is_hot") => "Variant Hot",
        f if f.starts_with("title") => "Title",
        _ => "Variant SKU",
    }
}

fn read_drafts(text: &str, currency: Currency) -> Result<(Vec<ProductDraft>, usize), CatalogError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::None).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| CatalogError::UnreadableCsv(e.to_string()))?.clone();
    let cols = Columns(headers.iter().enumerate().map(|(i, h)| (h.trim().to_ascii_lowercase(), i)).collect());
    if !cols.has("Handle") {
        return Err(CatalogError::UnreadableCsv(
            "the header has no Handle column (Shopify product CSV layout expected)".into(),
        ));
    }
    let mut drafts: Vec<ProductDraft> = Vec::new();
    let mut by_handle: HashMap<String, usize> = HashMap::new();
    let mut rows = 0;
    for record in reader.records() {
        let rec = record.map_err(|e| CatalogError::UnreadableCsv(e.to_string()))?;
        rows += 1;
        let line = rec.position().map(|p| p.line()).unwrap_or(rows as u64 + 1);
        let raw_handle = cols.get(&rec, "Handle");
        let h = handle::normalize(raw_handle);
        if h.is_empty() {
            // a row that belongs to nothing: Shopify never writes one, so it is a mistake
            let mut d = new_draft(line, String::new(), &cols, &rec);
            d.errors.push(err(line, "Handle", "required", "every row needs the product's handle"));
            drafts.push(d);
            continue;
        }
        let index = match by_handle.get(&h) {
            Some(i) => *i,
            None => {
                let mut d = new_draft(line, h.clone(), &cols, &rec);
                if !handle::is_valid(&h) {
                    d.errors.push(err(line, "Handle", "invalid", "use letters, digits and dashes"));
                }
                drafts.push(d);
                by_handle.insert(h.clone(), drafts.len() - 1);
                drafts.len() - 1
            }
        };
        let draft = &mut drafts[index];
        draft.lines.push(line);
        let has_variant =
            ["Variant SKU", "Variant Price", "Option1 Value"].iter().any(|c| !cols.get(&rec, c).is_empty());
        if !has_variant {
            continue; // an image-only row
        }
        read_variant(draft, line, &cols, &rec, currency);
    }
    Ok((drafts, rows))
}

fn new_draft(line: u64, handle: String, cols: &Columns, rec: &csv::StringRecord) -> ProductDraft {
    let mut errors = Vec::new();
    let title = cols.get(rec, "Title").to_string();
    if title.is_empty() {
        errors.push(err(line, "Title", "required", "the first row of a product needs its title"));
    } else if title.chars().count() > 255 {
        errors.push(err(line, "Title", "too_long", "at most 255 characters"));
    }
    let status_text = cols.get(rec, "Status").to_ascii_lowercase();
    let status = match status_text.as_str() {
        "active" => ProductStatus::Active,
        "draft" => ProductStatus::Draft,
        "archived" => ProductStatus::Archived,
        "" => match parse_bool(cols.get(rec, "Published")) {
            Some(true) => ProductStatus::Active,
            _ => ProductStatus::Draft,
        },
        other => {
            errors.push(err(line, "Status", "invalid", format!("{other:?} is not active, draft or archived")));
            ProductStatus::Draft
        }
    };
    let mut options = Vec::new();
    for n in 1..=3 {
        let name = cols.get(rec, &format!("Option{n} Name"));
        if !name.is_empty() {
            options.push(name.to_string());
        }
    }
    // Shopify writes a product without options as option "Title" = "Default Title"
    if options == ["Title"] && cols.get(rec, "Option1 Value") == "Default Title" {
        options.clear();
    }
    ProductDraft {
        line,
        handle,
        title,
        description: cols.get(rec, "Body (HTML)").to_string(),
        vendor: cols.get(rec, "Vendor").to_string(),
        product_type: cols.get(rec, "Type").to_string(),
        tags: cols.get(rec, "Tags").split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect(),
        seo_title: cols.optional(rec, "SEO Title"),
        seo_description: cols.optional(rec, "SEO Description"),
        status,
        options,
        variants: Vec::new(),
        errors,
        lines: Vec::new(),
    }
}

fn read_variant(draft: &mut ProductDraft, line: u64, cols: &Columns, rec: &csv::StringRecord, currency: Currency) {
    let mut option_values = Vec::new();
    for n in 1..=draft.options.len() {
        option_values.push(cols.get(rec, &format!("Option{n} Value")).to_string());
    }
    let price_text = cols.get(rec, "Variant Price");
    let price = if price_text.is_empty() {
        draft.errors.push(err(line, "Variant Price", "required", "every variant needs a price"));
        Money::zero(currency)
    } else {
        Money::parse_major(price_text, currency).unwrap_or_else(|e| {
            draft.errors.push(err(line, "Variant Price", "invalid", e.to_string()));
            Money::zero(currency)
        })
    };
    let compare_text = cols.get(rec, "Variant Compare At Price");
    let compare_at = if compare_text.is_empty() {
        None
    } else {
        match Money::parse_major(compare_text, currency) {
            // Shopify exports write an empty compare-at price as equal to or below the price
            // when none is set; treat "not above" zero as none
            Ok(m) if m.amount == 0 => None,
            Ok(m) => Some(m),
            Err(e) => {
                draft.errors.push(err(line, "Variant Compare At Price", "invalid", e.to_string()));
                None
            }
        }
    };
    let digital = parse_bool(cols.get(rec, "Variant Requires Shipping")) == Some(false);
    let grams = match cols.get(rec, "Variant Grams") {
        "" => None,
        g => match g.parse::<f64>() {
            Ok(v) if (0.0..=100_000_000.0).contains(&v) => Some(v.round() as i32).filter(|g| *g > 0),
            _ => {
                draft.errors.push(err(line, "Variant Grams", "invalid", "not a weight in grams"));
                None
            }
        },
    };
    let quantity = match cols.get(rec, "Variant Inventory Qty") {
        "" => None,
        q => match q.parse::<i32>() {
            Ok(n) if n >= 0 => Some(n),
            _ => {
                draft.errors.push(err(line, "Variant Inventory Qty", "invalid", "a whole number of units, 0 or more"));
                None
            }
        },
    };
    let tax_class = match cols.get(rec, "Variant Tax Class").to_ascii_lowercase().as_str() {
        "" | "standard" => TaxClass::Standard,
        "reduced" => TaxClass::Reduced,
        other => {
            draft.errors.push(err(
                line,
                "Variant Tax Class",
                "invalid",
                format!("{other:?} is not standard or reduced"),
            ));
            TaxClass::Standard
        }
    };
    let is_hot = match cols.get(rec, "Variant Hot") {
        "" => false,
        h => parse_bool(h).unwrap_or_else(|| {
            draft.errors.push(err(line, "Variant Hot", "invalid", "true or false"));
            false
        }),
    };
    let mut sku = cols.get(rec, "Variant SKU").to_string();
    if sku.is_empty() {
        // Shopify allows variants without SKU; Tenpo needs one: derive it from the handle
        sku = if draft.variants.is_empty() {
            draft.handle.clone()
        } else {
            format!("{}-{}", draft.handle, draft.variants.len() + 1)
        };
    }
    let barcode = Some(cols.get(rec, "Variant Barcode").to_string()).filter(|b| !b.is_empty());
    let input = CreateVariant {
        sku,
        title: None,
        option_values,
        fulfillment_type: Some(if digital { FulfillmentType::Digital } else { FulfillmentType::Physical }),
        price,
        compare_at_price: compare_at,
        tax_class: Some(tax_class),
        is_hot,
        hot_limit_per_customer: None,
        digital_asset_id: None,
        weight_grams: if digital { None } else { grams },
        barcode,
        inventory_quantity: None,
    };
    let mut v = Validator::new();
    variant::parse_new(&mut v, "", &input, draft.options.len());
    if let Err(e) = v.into_result() {
        for f in e.0 {
            draft.errors.push(err(line, column_of(&f.field), &f.code, f.message));
        }
    }
    if digital && quantity.is_some_and(|q| q > 0) {
        draft.errors.push(err(
            line,
            "Variant Inventory Qty",
            "invalid",
            "a digital variant (Requires Shipping false) has no stock",
        ));
    }
    if draft.variants.iter().any(|d| d.input.sku == input.sku) {
        draft.errors.push(err(
            line,
            "Variant SKU",
            "duplicate",
            format!("SKU {:?} appears twice in this product", input.sku),
        ));
    }
    if !draft.options.is_empty() && draft.variants.iter().any(|d| d.input.option_values == input.option_values) {
        draft.errors.push(err(line, "Option1 Value", "duplicate", "these option values appear twice in this product"));
    }
    if draft.options.is_empty() && !draft.variants.is_empty() {
        draft.errors.push(err(line, "Option1 Name", "required", "a product with several variants needs option names"));
    }
    draft.variants.push(VariantDraft { input, quantity });
}

/// Imports a catalog CSV into a store. `progress(done, total)` is called after each product.
pub async fn import(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    bytes: &[u8],
    mode: ImportMode,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> Result<ImportReport, CatalogError> {
    by.require(Permission::CatalogWrite)?;
    let decoded = decode(bytes).map_err(CatalogError::UnreadableCsv)?;
    let currency = crate::tenant_currency(tx).await?;
    let (mut drafts, rows) = read_drafts(&decoded.text, currency)?;
    let vendors: HashMap<String, VendorId> =
        sqlx::query_as::<_, (String, VendorId)>("SELECT lower(name), id FROM vendors WHERE status = 'active'")
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .collect();
    let is_mall = tenancy::vendors::house_vendor(tx).await?.is_none();
    let mut seen_handles = HashSet::new();
    for d in &mut drafts {
        if !seen_handles.insert(d.handle.clone()) && !d.handle.is_empty() {
            d.errors.push(err(d.line, "Handle", "duplicate", "the rows of a product must be together"));
        }
        if d.variants.is_empty() && d.errors.is_empty() {
            d.errors.push(err(d.line, "Variant Price", "required", "a product needs at least one variant row"));
        }
        if is_mall && !d.vendor.is_empty() && !vendors.contains_key(&d.vendor.to_lowercase()) {
            d.errors.push(err(d.line, "Vendor", "invalid", format!("no active vendor named {:?}", d.vendor)));
        }
        if is_mall && d.vendor.is_empty() && by.vendor().is_none() {
            d.errors.push(err(d.line, "Vendor", "required", "a mall product needs its vendor"));
        }
    }
    let mut report = ImportReport { encoding: Some(decoded.encoding), rows, ..Default::default() };
    let bad: Vec<FieldError> = drafts.iter().flat_map(|d| d.errors.iter().cloned()).collect();
    if !bad.is_empty() && mode == ImportMode::AllOrNothing {
        return Err(CatalogError::ImportRejected(bad));
    }
    let total = drafts.len();
    let mut done = 0;
    for d in drafts {
        done += 1;
        if !d.errors.is_empty() {
            report.skipped.extend(d.errors);
            progress(done, total);
            continue;
        }
        let vendor = if is_mall { vendors.get(&d.vendor.to_lowercase()).copied() } else { None };
        sqlx::query("SAVEPOINT import_product").execute(&mut **tx).await?;
        let line = d.line;
        match apply(tx, store, by, d, vendor, &mut report).await {
            Ok(()) => {
                sqlx::query("RELEASE SAVEPOINT import_product").execute(&mut **tx).await?;
            }
            Err(CatalogError::Db(e)) => return Err(CatalogError::Db(e)),
            Err(e) => {
                use kernel::Problem;
                let failure = err(line, "Handle", e.code(), e.to_string());
                if mode == ImportMode::AllOrNothing {
                    return Err(CatalogError::ImportRejected(vec![failure]));
                }
                sqlx::query("ROLLBACK TO SAVEPOINT import_product").execute(&mut **tx).await?;
                report.skipped.push(failure);
            }
        }
        progress(done, total);
    }
    tracing::info!(store_id = %store, rows, created = report.products_created, updated = report.products_updated, "catalog imported");
    Ok(report)
}

async fn apply(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    d: ProductDraft,
    vendor: Option<VendorId>,
    report: &mut ImportReport,
) -> Result<(), CatalogError> {
    let existing: Option<ProductId> =
        sqlx::query_scalar("SELECT id FROM products WHERE store_id = $1 AND handle = $2 AND deleted_at IS NULL")
            .bind(store)
            .bind(&d.handle)
            .fetch_optional(&mut **tx)
            .await?;
    let quantities: Vec<(String, Option<i32>)> = d.variants.iter().map(|v| (v.input.sku.clone(), v.quantity)).collect();
    let product = match existing {
        None => {
            let p = crate::product::create_product(
                tx,
                store,
                by,
                CreateProduct {
                    title: d.title,
                    handle: Some(d.handle),
                    description: d.description,
                    status: Some(d.status),
                    vendor_id: vendor,
                    product_type: d.product_type,
                    tags: d.tags,
                    options: d.options,
                    variants: d.variants.into_iter().map(|v| v.input).collect(),
                    location_ids: Vec::new(),
                    seo_title: d.seo_title.flatten(),
                    seo_description: d.seo_description.flatten(),
                },
            )
            .await?;
            report.products_created += 1;
            report.variants_created += p.variants.len();
            p
        }
        Some(id) => {
            let current = crate::product::load_one(tx, store, id).await?;
            // the status last, once the variants are in place
            crate::product::update_product(
                tx,
                store,
                by,
                id,
                UpdateProduct {
                    title: Some(d.title),
                    description: Some(d.description),
                    vendor_id: vendor,
                    product_type: Some(d.product_type),
                    tags: Some(d.tags),
                    options: Some(d.options),
                    seo_title: d.seo_title,
                    seo_description: d.seo_description,
                    ..Default::default()
                },
            )
            .await?;
            for v in d.variants {
                match current.variants.iter().find(|c| c.sku == v.input.sku) {
                    Some(c) => {
                        variant::update_variant(
                            tx,
                            store,
                            by,
                            id,
                            c.id,
                            UpdateVariant {
                                option_values: Some(v.input.option_values),
                                price: Some(v.input.price),
                                compare_at_price: Some(v.input.compare_at_price),
                                tax_class: v.input.tax_class,
                                is_hot: Some(v.input.is_hot),
                                weight_grams: Some(v.input.weight_grams),
                                barcode: Some(v.input.barcode),
                                ..Default::default()
                            },
                        )
                        .await?;
                        report.variants_updated += 1;
                    }
                    None => {
                        variant::create_variant(tx, store, by, id, v.input).await?;
                        report.variants_created += 1;
                    }
                }
            }
            let p = crate::product::set_status(tx, store, by, id, d.status).await?;
            report.products_updated += 1;
            p
        }
    };
    for (sku, qty) in quantities {
        let (Some(qty), Some(v)) = (qty, product.variants.iter().find(|v| v.sku == sku)) else { continue };
        if v.fulfillment_type == FulfillmentType::Digital {
            continue;
        }
        let location = crate::locations::first_location(tx, store, product.id).await?;
        let change = inventory::stock::StockChange {
            variant: v.id,
            location,
            change: inventory::stock::Change::SetTo(qty),
            reason: inventory::stock::MovementReason::Import,
            note: Some("catalog import"),
        };
        inventory::stock::change_stock(tx, store, Acting::System, change).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_products_variants_and_line_numbers() {
        let csv = "Handle,Title,Option1 Name,Option1 Value,Variant SKU,Variant Price,Variant Compare At Price\n\
                   tee,T-shirt,Size,S,TEE-S,1000,\n\
                   tee,,,M,TEE-M,1000,1200\n\
                   mug,Mug,Title,Default Title,MUG,abc,\n";
        let (drafts, rows) = read_drafts(csv, Currency::JPY).unwrap();
        assert_eq!(rows, 3);
        assert_eq!(drafts.len(), 2);
        assert_eq!(drafts[0].variants.len(), 2);
        assert!(drafts[0].errors.is_empty(), "{:?}", drafts[0].errors);
        assert!(drafts[1].options.is_empty(), "Default Title means no options");
        assert_eq!(drafts[1].errors[0].field, "line 4: Variant Price");
    }

    #[test]
    fn compare_at_below_price_names_its_line_and_column() {
        let csv = "Handle,Title,Variant SKU,Variant Price,Variant Compare At Price\nx,X,X1,1000,900\n";
        let (drafts, _) = read_drafts(csv, Currency::JPY).unwrap();
        assert_eq!(drafts[0].errors[0].field, "line 2: Variant Compare At Price");
    }
}
