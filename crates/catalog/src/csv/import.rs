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
use kernel::{Currency, FieldError, ImageId, Money, ProductId, StoreId, Validator, VendorId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::decode::{Encoding, decode};
use crate::image::{NewImage, Source, UpdateImage};
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
    /// What was imported differently from the file, or not at all: one per dropped column
    /// (`field` is the column, code `column_dropped`), and products whose type looks like food
    /// but are taxed at the standard rate (`field` "line N: Variant Tax Class", code
    /// `standard_rate_food`).
    pub warnings: Vec<FieldError>,
    /// New images whose `Image Src` the image worker fetches (then makes their renditions).
    pub images_queued: usize,
    /// The products created or updated, for the search sync to mark in the same transaction.
    #[serde(skip)]
    pub product_ids: Vec<ProductId>,
}

impl ImportReport {
    /// Products and variants created and updated, images queued.
    fn counts(&self) -> [usize; 5] {
        [self.products_created, self.products_updated, self.variants_created, self.variants_updated, self.images_queued]
    }

    fn set_counts(&mut self, [pc, pu, vc, vu, iq]: [usize; 5]) {
        (self.products_created, self.products_updated, self.variants_created, self.variants_updated) = (pc, pu, vc, vu);
        self.images_queued = iq;
    }
}

/// How to import.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    pub mode: ImportMode,
    /// The tax class of variants whose `Variant Tax Class` is empty (a Shopify file has none);
    /// `standard` when not given.
    pub tax_class: Option<TaxClass>,
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
    /// `Variant Image`: the Image Src of the image showing this variant.
    image_src: Option<String>,
}

#[derive(Debug)]
struct ImageDraft {
    src: String,
    position: Option<i32>,
    alt: String,
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
    images: Vec<ImageDraft>,
    errors: Vec<FieldError>,
    lines: Vec<u64>,
}

/// Whether an `Image Src` is a URL the image worker can try (the address rule, no private
/// hosts, is applied when it is fetched).
fn check_image_src(src: &str) -> Result<(), &'static str> {
    let lower = src.to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return Err("an image URL starts with https://");
    }
    if src.len() > 2048 {
        return Err("at most 2048 characters");
    }
    if src.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("a URL has no spaces");
    }
    Ok(())
}

/// The image columns of a row (any row of a product: variant rows and image-only rows).
fn read_image(draft: &mut ProductDraft, line: u64, cols: &Columns, rec: &csv::StringRecord) {
    let src = cols.get(rec, "Image Src");
    if src.is_empty() {
        return;
    }
    if let Err(why) = check_image_src(src) {
        draft.errors.push(err(line, "Image Src", "invalid", why));
        return;
    }
    let position = match cols.get(rec, "Image Position") {
        "" => None,
        p => match p.parse::<i32>() {
            Ok(n) if (1..=250).contains(&n) => Some(n),
            _ => {
                draft.errors.push(err(line, "Image Position", "invalid", "a whole number from 1"));
                None
            }
        },
    };
    let alt = cols.get(rec, "Image Alt Text").to_string();
    if alt.chars().count() > 512 {
        draft.errors.push(err(line, "Image Alt Text", "too_long", "at most 512 characters"));
    }
    if !draft.images.iter().any(|i| i.src == src) {
        draft.images.push(ImageDraft { src: src.to_string(), position, alt });
    }
}

/// Words of product types and tags that mean food or drink taxed at the reduced 8% (alcohol
/// is not: it is taxed at 10%).
const FOOD_WORDS: &[&str] = &[
    "food",
    "grocery",
    "groceries",
    "tea",
    "coffee",
    "snack",
    "sweets",
    "candy",
    "chocolate",
    "drink",
    "beverage",
    "juice",
    "rice",
    "noodle",
    "fruit",
    "vegetable",
    "meat",
    "seafood",
    "spice",
    "seasoning",
    "sauce",
    "honey",
    "jam",
    "bakery",
    "confectionery",
    "食品",
    "食料",
    "茶",
    "コーヒー",
    "珈琲",
    "菓子",
    "スイーツ",
    "チョコ",
    "飲料",
    "飲み物",
    "ジュース",
    "麺",
    "そば",
    "うどん",
    "果物",
    "フルーツ",
    "野菜",
    "精肉",
    "鮮魚",
    "海産",
    "調味料",
    "味噌",
    "醤油",
    "蜂蜜",
    "はちみつ",
    "ジャム",
    "米穀",
];
const ALCOHOL_WORDS: &[&str] = &[
    "alcohol",
    "wine",
    "beer",
    "sake",
    "whisky",
    "whiskey",
    "liquor",
    "spirits",
    "酒",
    "ワイン",
    "ビール",
    "焼酎",
    "ウイスキー",
];

/// Whether a product type or tag reads like food or drink (not alcohol).
pub fn looks_like_food(product_type: &str, tags: &[String]) -> bool {
    let texts: Vec<String> =
        std::iter::once(product_type.to_string()).chain(tags.iter().cloned()).map(|t| t.to_lowercase()).collect();
    let has = |words: &[&str]| {
        texts.iter().any(|t| {
            words.iter().any(|w| {
                if w.is_ascii() {
                    t.split(|c: char| !c.is_alphanumeric()).any(|part| part == *w || part == format!("{w}s"))
                } else {
                    t.contains(w)
                }
            })
        })
    };
    has(FOOD_WORDS) && !has(ALCOHOL_WORDS)
}

/// Why a column Tenpo does not read is dropped.
fn drop_reason(column: &str) -> &'static str {
    let c = column.to_ascii_lowercase();
    match c.as_str() {
        "product category" => "Shopify's product taxonomy has no counterpart in Tenpo",
        "gift card" => "Tenpo sells no gift cards",
        "cost per item" => "Tenpo does not keep costs",
        "variant tax code" => "tax codes are not used; Variant Tax Class (or the tax_class default) sets the rate",
        "variant image" | "image src" => "read",
        _ if c.starts_with("option") && c.ends_with("linked to") => "options linked to metafields are not supported",
        _ if c.starts_with("google shopping") => "Google Shopping fields are not kept",
        _ if c.contains("metafields") => "metafields are not kept",
        _ if c.contains(" / ") => "market-specific values are not kept; Tenpo sells in the tenant's currency",
        _ => "Tenpo has no such field",
    }
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

fn read_drafts(
    text: &str,
    currency: Currency,
    tax_class: TaxClass,
) -> Result<(Vec<ProductDraft>, usize, Vec<FieldError>), CatalogError> {
    // an open quote would otherwise swallow the rest of the file into one field
    kernel::csv_file::check_quotes(text).map_err(|e| CatalogError::UnreadableCsv(format!("quoting error: {e}")))?;
    let lines = kernel::csv_file::Lines::new(text);
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::None).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| CatalogError::UnreadableCsv(e.to_string()))?.clone();
    let cols = Columns(headers.iter().enumerate().map(|(i, h)| (h.trim().to_ascii_lowercase(), i)).collect());
    if !cols.has("Handle") {
        return Err(CatalogError::UnreadableCsv(
            "the header has no Handle column (Shopify product CSV layout expected)".into(),
        ));
    }
    // a column every row needs, missing: said once, not on every row
    let missing: Vec<FieldError> = ["Title", "Variant Price"]
        .iter()
        .filter(|c| !cols.has(c))
        .map(|c| {
            FieldError::new(*c, "missing_column", format!("the header has no {c} column, which every product needs"))
        })
        .collect();
    if !missing.is_empty() {
        return Err(CatalogError::ImportRejected(missing));
    }
    let read: HashSet<String> = super::COLUMNS.iter().map(|c| c.to_ascii_lowercase()).collect();
    // the columns Tenpo drops, with how many rows have a value there
    let mut dropped: Vec<(usize, String, usize)> = headers
        .iter()
        .enumerate()
        .filter(|(_, h)| !h.trim().is_empty() && !read.contains(&h.trim().to_ascii_lowercase()))
        .map(|(i, h)| (i, h.trim().to_string(), 0))
        .collect();
    let mut oversell = 0;
    let mut drafts: Vec<ProductDraft> = Vec::new();
    let mut by_handle: HashMap<String, usize> = HashMap::new();
    let mut rows = 0;
    for record in reader.records() {
        let rec = record.map_err(|e| CatalogError::UnreadableCsv(e.to_string()))?;
        rows += 1;
        for (i, _, n) in dropped.iter_mut() {
            if rec.get(*i).is_some_and(|v| !v.trim().is_empty()) {
                *n += 1;
            }
        }
        if cols.get(&rec, "Variant Inventory Policy").eq_ignore_ascii_case("continue") {
            oversell += 1;
        }
        let line = rec.position().map(|p| lines.line_of(p.byte())).unwrap_or(rows as u64 + 1);
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
        read_image(draft, line, &cols, &rec);
        let has_variant =
            ["Variant SKU", "Variant Price", "Option1 Value"].iter().any(|c| !cols.get(&rec, c).is_empty());
        if !has_variant {
            continue; // an image-only row
        }
        read_variant(draft, line, &cols, &rec, currency, tax_class);
    }
    // a Variant Image that no row gave as Image Src is one more image of the product
    for d in &mut drafts {
        let extra: Vec<String> = d
            .variants
            .iter()
            .filter_map(|v| v.image_src.clone())
            .filter(|src| !d.images.iter().any(|i| &i.src == src))
            .collect();
        for src in extra {
            if !d.images.iter().any(|i| i.src == src) {
                d.images.push(ImageDraft { src, position: None, alt: String::new() });
            }
        }
    }
    let mut warnings: Vec<FieldError> = dropped
        .into_iter()
        .map(|(_, name, n)| {
            let reason = drop_reason(&name);
            FieldError::new(name, "column_dropped", format!("not imported: {reason} ({n} rows have a value)"))
        })
        .collect();
    if oversell > 0 {
        warnings.push(FieldError::new(
            "Variant Inventory Policy",
            "column_dropped",
            format!(
                "{oversell} rows say continue (sell when out of stock): Tenpo never oversells, so stock limits them"
            ),
        ));
    }
    Ok((drafts, rows, warnings))
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
        images: Vec::new(),
        errors,
        lines: Vec::new(),
    }
}

fn read_variant(
    draft: &mut ProductDraft,
    line: u64,
    cols: &Columns,
    rec: &csv::StringRecord,
    currency: Currency,
    default_tax: TaxClass,
) {
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
            draft.errors.push(err(line, "Variant Price", "invalid", format!("{price_text:?}: {e}")));
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
                draft.errors.push(err(line, "Variant Compare At Price", "invalid", format!("{compare_text:?}: {e}")));
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
                draft.errors.push(err(line, "Variant Grams", "invalid", format!("{g:?} is not a weight in grams")));
                None
            }
        },
    };
    let quantity = match cols.get(rec, "Variant Inventory Qty") {
        "" => None,
        q => match q.parse::<i32>() {
            Ok(n) if n >= 0 => Some(n),
            _ => {
                draft.errors.push(err(
                    line,
                    "Variant Inventory Qty",
                    "invalid",
                    format!("{q:?} is not a whole number of units, 0 or more"),
                ));
                None
            }
        },
    };
    let tax_class = match cols.get(rec, "Variant Tax Class").to_ascii_lowercase().as_str() {
        "" => default_tax,
        "standard" => TaxClass::Standard,
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
            draft.errors.push(err(line, "Variant Hot", "invalid", format!("{h:?} is not true or false")));
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
    let image_src = Some(cols.get(rec, "Variant Image").to_string()).filter(|s| !s.is_empty());
    if let Some(src) = &image_src
        && let Err(why) = check_image_src(src)
    {
        draft.errors.push(err(line, "Variant Image", "invalid", why));
    }
    draft.variants.push(VariantDraft { input, quantity, image_src });
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
    import_with(tx, store, by, bytes, ImportOptions { mode, tax_class: None }, progress).await
}

/// [`import`] with its options (the default tax class).
pub async fn import_with(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    bytes: &[u8],
    options: ImportOptions,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> Result<ImportReport, CatalogError> {
    let mode = options.mode;
    by.require(Permission::CatalogWrite)?;
    let decoded = decode(bytes).map_err(CatalogError::UnreadableCsv)?;
    let currency = crate::tenant_currency(tx).await?;
    let default_tax = options.tax_class.unwrap_or(TaxClass::Standard);
    let (mut drafts, rows, mut warnings) = read_drafts(&decoded.text, currency, default_tax)?;
    for d in &drafts {
        let standard = d.variants.iter().any(|v| v.input.tax_class == Some(TaxClass::Standard));
        if standard && looks_like_food(&d.product_type, &d.tags) {
            warnings.push(err(
                d.line,
                "Variant Tax Class",
                "standard_rate_food",
                format!(
                    "{:?} (type {:?}) looks like food or drink, taxed at the reduced 8%, but is imported at the standard 10%; give Variant Tax Class reduced, or import with tax_class=reduced",
                    d.handle, d.product_type
                ),
            ));
        }
    }
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
    let mut report = ImportReport { encoding: Some(decoded.encoding), rows, warnings, ..Default::default() };
    let bad: Vec<FieldError> = drafts.iter().flat_map(|d| d.errors.iter().cloned()).collect();
    if !bad.is_empty() && mode == ImportMode::AllOrNothing {
        return Err(CatalogError::ImportRejected(bad));
    }
    // handles already in the store are updates (one by one); new products are created in
    // batches of multi-row statements
    let handles: Vec<&str> = drafts.iter().map(|d| d.handle.as_str()).collect();
    let existing: HashSet<String> = sqlx::query_scalar(
        "SELECT handle FROM products WHERE store_id = $1 AND handle = ANY($2) AND deleted_at IS NULL",
    )
    .bind(store)
    .bind(&handles)
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .collect();
    let mut run = Run { store, by, vendors: &vendors, is_mall, mode, total: drafts.len(), done: 0 };
    let mut batch: Vec<ProductDraft> = Vec::new();
    for d in drafts {
        if d.errors.is_empty() && !existing.contains(&d.handle) {
            batch.push(d);
            if batch.len() >= BATCH {
                run.create_batch(tx, std::mem::take(&mut batch), &mut report, progress).await?;
            }
            continue;
        }
        // in file order: what came before is written (or reported) first
        run.create_batch(tx, std::mem::take(&mut batch), &mut report, progress).await?;
        run.one(tx, d, &mut report, progress).await?;
    }
    run.create_batch(tx, batch, &mut report, progress).await?;
    tracing::info!(store_id = %store, rows, created = report.products_created, updated = report.products_updated, "catalog imported");
    Ok(report)
}

/// New products per batch: a few statements each, whatever the number of rows.
const BATCH: usize = 500;

/// What the writing of one import shares.
struct Run<'a, 'b> {
    store: StoreId,
    by: Acting<'b>,
    vendors: &'a HashMap<String, VendorId>,
    is_mall: bool,
    mode: ImportMode,
    total: usize,
    done: usize,
}

impl Run<'_, '_> {
    fn vendor_of(&self, d: &ProductDraft) -> Option<VendorId> {
        if self.is_mall { self.vendors.get(&d.vendor.to_lowercase()).copied() } else { None }
    }

    /// One product with a bad row (reported), or one to update, or one whose batch failed:
    /// in a savepoint of its own, so a failure skips only it (partial mode).
    async fn one(
        &mut self,
        tx: &mut Tx,
        d: ProductDraft,
        report: &mut ImportReport,
        progress: &mut (dyn FnMut(usize, usize) + Send),
    ) -> Result<(), CatalogError> {
        self.done += 1;
        if !d.errors.is_empty() {
            report.skipped.extend(d.errors);
            progress(self.done, self.total);
            return Ok(());
        }
        let vendor = self.vendor_of(&d);
        sqlx::query("SAVEPOINT import_product").execute(&mut **tx).await?;
        let line = d.line;
        let counted = report.counts();
        match apply(tx, self.store, self.by, d, vendor, report).await {
            Ok(()) => {
                sqlx::query("RELEASE SAVEPOINT import_product").execute(&mut **tx).await?;
            }
            Err(CatalogError::Db(e)) => return Err(CatalogError::Db(e)),
            Err(e) => {
                use kernel::Problem;
                let failure = err(line, "Handle", e.code(), e.to_string());
                if self.mode == ImportMode::AllOrNothing {
                    return Err(CatalogError::ImportRejected(vec![failure]));
                }
                sqlx::query("ROLLBACK TO SAVEPOINT import_product").execute(&mut **tx).await?;
                // what it counted before failing was rolled back with it
                report.set_counts(counted);
                report.skipped.push(failure);
            }
        }
        progress(self.done, self.total);
        Ok(())
    }

    /// New products without bad rows, created together ([`crate::product::create_products`],
    /// stock with [`inventory::stock::set_first_levels`]). Should anything fail, the batch is
    /// rolled back to its savepoint and its products go [`Run::one`] by one, which reports
    /// each failure as an import of one product does.
    async fn create_batch(
        &mut self,
        tx: &mut Tx,
        drafts: Vec<ProductDraft>,
        report: &mut ImportReport,
        progress: &mut (dyn FnMut(usize, usize) + Send),
    ) -> Result<(), CatalogError> {
        if drafts.is_empty() {
            return Ok(());
        }
        sqlx::query("SAVEPOINT import_batch").execute(&mut **tx).await?;
        let before = report.clone();
        match self.create_all(tx, &drafts, report).await {
            Ok(()) => {
                sqlx::query("RELEASE SAVEPOINT import_batch").execute(&mut **tx).await?;
                self.done += drafts.len();
                progress(self.done, self.total);
                return Ok(());
            }
            Err(e) => {
                tracing::debug!(error = %e, products = drafts.len(), "import batch failed; importing its products one by one");
                sqlx::query("ROLLBACK TO SAVEPOINT import_batch").execute(&mut **tx).await?;
                sqlx::query("RELEASE SAVEPOINT import_batch").execute(&mut **tx).await?;
                *report = before;
            }
        }
        for d in drafts {
            self.one(tx, d, report, progress).await?;
        }
        Ok(())
    }

    async fn create_all(
        &self,
        tx: &mut Tx,
        drafts: &[ProductDraft],
        report: &mut ImportReport,
    ) -> Result<(), CatalogError> {
        let inputs = drafts
            .iter()
            .map(|d| CreateProduct {
                title: d.title.clone(),
                handle: Some(d.handle.clone()),
                description: d.description.clone(),
                status: Some(d.status),
                vendor_id: self.vendor_of(d),
                product_type: d.product_type.clone(),
                tags: d.tags.clone(),
                options: d.options.clone(),
                variants: d.variants.iter().map(|v| v.input.clone()).collect(),
                location_ids: Vec::new(),
                seo_title: d.seo_title.clone().flatten(),
                seo_description: d.seo_description.clone().flatten(),
            })
            .collect();
        let products = crate::product::create_products(tx, self.store, self.by, inputs).await?;
        let mut vendors: Vec<VendorId> = products.iter().map(|p| p.vendor_id).collect();
        vendors.sort();
        vendors.dedup();
        let locations = crate::locations::first_locations_of(tx, self.store, &vendors).await?;
        let mut levels = Vec::new();
        for (d, product) in drafts.iter().zip(&products) {
            report.products_created += 1;
            report.variants_created += product.variants.len();
            let images = d
                .images
                .iter()
                .map(|i| ImageDraft { src: i.src.clone(), position: i.position, alt: i.alt.clone() })
                .collect();
            let variant_images: Vec<(String, String)> =
                d.variants.iter().filter_map(|v| v.image_src.clone().map(|src| (v.input.sku.clone(), src))).collect();
            apply_images(tx, self.store, self.by, product, images, variant_images, report).await?;
            for v in &d.variants {
                let Some(qty) = v.quantity else { continue };
                let Some(pv) = product.variants.iter().find(|pv| pv.sku == v.input.sku) else { continue };
                if pv.fulfillment_type == FulfillmentType::Digital {
                    continue;
                }
                let Some(location) = locations.get(&product.vendor_id) else {
                    return Err(kernel::ValidationErrors::one(
                        "inventory_quantity",
                        "invalid",
                        "the store has no active location to hold stock",
                    )
                    .into());
                };
                levels.push(inventory::stock::FirstStock { variant: pv.id, location: *location, stock: qty });
            }
            report.product_ids.push(product.id);
        }
        let reason = inventory::stock::MovementReason::Import;
        inventory::stock::set_first_levels(tx, self.store, Acting::System, &levels, reason, Some("catalog import"))
            .await?;
        Ok(())
    }
}

async fn apply(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    mut d: ProductDraft,
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
    let variant_images: Vec<(String, String)> =
        d.variants.iter().filter_map(|v| v.image_src.clone().map(|src| (v.input.sku.clone(), src))).collect();
    let image_drafts = std::mem::take(&mut d.images);
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
    apply_images(tx, store, by, &product, image_drafts, variant_images, report).await?;
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
    report.product_ids.push(product.id);
    Ok(())
}

/// The images of an imported product: in Image Position order (rows without one after, in
/// file order); an image the product has already (imported from this URL, or exported from
/// this store) is kept. Then each variant's `Variant Image`.
async fn apply_images(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    product: &crate::product::Product,
    mut image_drafts: Vec<ImageDraft>,
    variant_images: Vec<(String, String)>,
    report: &mut ImportReport,
) -> Result<(), CatalogError> {
    if image_drafts.is_empty() && variant_images.is_empty() {
        return Ok(());
    }
    image_drafts.sort_by_key(|i| i.position.unwrap_or(i32::MAX));
    let existing = crate::image::for_products(tx, &[product.id]).await?.remove(&product.id).unwrap_or_default();
    let mut by_src: HashMap<String, ImageId> = HashMap::new();
    for img in image_drafts {
        let known = existing.iter().find(|e| {
            e.source_url.as_deref() == Some(img.src.as_str()) || e.url.as_deref().is_some_and(|u| img.src.ends_with(u))
        });
        let id = match known {
            Some(e) => {
                if e.alt != img.alt {
                    let change = UpdateImage { alt: Some(img.alt.clone()), position: None };
                    crate::image::update(tx, store, by, product.id, e.id, change).await?;
                }
                e.id
            }
            None => {
                let id = ImageId::new();
                let new = NewImage { alt: img.alt.clone(), position: None };
                crate::image::add(tx, store, by, product.id, id, new, Source::Remote(img.src.clone())).await?;
                report.images_queued += 1;
                id
            }
        };
        by_src.insert(img.src, id);
    }
    for (sku, src) in variant_images {
        let (Some(v), Some(image)) = (product.variants.iter().find(|v| v.sku == sku), by_src.get(&src)) else {
            continue;
        };
        if v.image_id != Some(*image) {
            let change = UpdateVariant { image_id: Some(Some(*image)), ..Default::default() };
            variant::update_variant(tx, store, by, product.id, v.id, change).await?;
        }
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
        let (drafts, rows, _) = read_drafts(csv, Currency::JPY, TaxClass::Standard).unwrap();
        assert_eq!(rows, 3);
        assert_eq!(drafts.len(), 2);
        assert_eq!(drafts[0].variants.len(), 2);
        assert!(drafts[0].errors.is_empty(), "{:?}", drafts[0].errors);
        assert!(drafts[1].options.is_empty(), "Default Title means no options");
        assert_eq!(drafts[1].errors[0].field, "line 4: Variant Price");
    }

    #[test]
    fn images_variant_images_and_dropped_columns() {
        let csv = "Handle,Title,Option1 Name,Option1 Value,Variant SKU,Variant Price,Image Src,Image Position,Image Alt Text,Variant Image,Gift Card,Cost per item\n\
                   tee,T,Size,S,S1,100,https://cdn.test/a.jpg,1,front,,FALSE,\n\
                   tee,,,M,M1,100,https://cdn.test/b.jpg,2,,https://cdn.test/c.jpg,,\n\
                   tee,,,,,,https://cdn.test/b.jpg,2,,,,\n\
                   tee,,,,,,ftp://x/y.jpg,3,,,,\n";
        let (drafts, _, warnings) = read_drafts(csv, Currency::JPY, TaxClass::Reduced).unwrap();
        let d = &drafts[0];
        let srcs: Vec<&str> = d.images.iter().map(|i| i.src.as_str()).collect();
        assert_eq!(srcs, ["https://cdn.test/a.jpg", "https://cdn.test/b.jpg", "https://cdn.test/c.jpg"]);
        assert_eq!(d.images[0].alt, "front");
        assert_eq!(d.variants[1].image_src.as_deref(), Some("https://cdn.test/c.jpg"));
        assert_eq!(d.variants[0].input.tax_class, Some(TaxClass::Reduced), "the default tax class");
        assert_eq!(d.errors.len(), 1);
        assert_eq!(d.errors[0].field, "line 5: Image Src");
        let dropped: Vec<(&str, &str)> = warnings.iter().map(|w| (w.field.as_str(), w.message.as_str())).collect();
        assert_eq!(dropped.len(), 2, "{dropped:?}");
        assert_eq!(dropped[0].0, "Gift Card");
        assert!(dropped[0].1.contains("1 rows"), "{dropped:?}");
        assert!(dropped[1].1.contains("costs"), "{dropped:?}");
    }

    #[test]
    fn food_types_are_recognised_and_alcohol_is_not_food() {
        assert!(looks_like_food("Tea", &[]));
        assert!(looks_like_food("", &["緑茶".into()]));
        assert!(looks_like_food("食品", &[]));
        assert!(!looks_like_food("日本酒", &["sake".into()]));
        assert!(!looks_like_food("T-shirt", &["cotton".into()]));
        assert!(!looks_like_food("Steam cleaner", &[]), "words, not letters: tea is not in steam");
    }

    #[test]
    fn compare_at_below_price_names_its_line_and_column() {
        let csv = "Handle,Title,Variant SKU,Variant Price,Variant Compare At Price\nx,X,X1,1000,900\n";
        let (drafts, _, _) = read_drafts(csv, Currency::JPY, TaxClass::Standard).unwrap();
        assert_eq!(drafts[0].errors[0].field, "line 2: Variant Compare At Price");
    }
}
