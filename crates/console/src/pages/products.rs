//! Products: the list with search and status filter; a new product with its options, variants
//! (SKU, price, compare-at price, tax class, physical or digital, first stock) and locations; a
//! product's page with its fields, each variant, stock per location and the file of a digital
//! variant; the CSV import (with its report) and export. Every read and change is the use case
//! the admin API calls (`catalog::product`, `catalog::variant`, `catalog::csv`,
//! `inventory::stock`), with the same messages.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use catalog::csv::{ImportMode, ImportReport};
use catalog::product::{self, CreateProduct, Product, ProductQuery, ProductStatus, UpdateProduct};
use catalog::variant::{self, CreateVariant, FulfillmentType, TaxClass, UpdateVariant, Variant, VariantStatus};
use inventory::stock::{AdjustReason, SetStock, StockLevel};
use kernel::access::{Acting, Permission};
use kernel::{FieldError, ImageId, LocationId, ProductId, VariantId, VendorId};
use maud::{Markup, html};
use serde::Deserialize;
use tenancy::locations::Location;

use super::{parse_id, query, query_without};
use crate::error::Failure;
use crate::form::{self, Fields, Reading};
use crate::i18n::Lang;
use crate::layout::{self, csrf, field_error, notice, problem};
use crate::session::{Posted, PostedParts, Signed};
use crate::{BASE, Console};
use catalog::digital::{ProductDigitalSettings, UpdateProductDigitalSettings};
use catalog::image::{ImageStatus, ProductImage, UpdateImage};

/// The largest CSV the import form takes: the API's own limit for the same import.
const IMPORT_LIMIT: usize = 64 * 1024 * 1024;
/// Variant rows the new-product form starts with ("add a row" adds more).
const START_ROWS: usize = 2;
const MAX_ROWS: usize = 100;
/// The largest digital file the console's form takes (it is read whole before being stored);
/// larger files go through the API's upload, which streams (docs/CONSOLE.md).
pub const FILE_LIMIT: usize = 100 * 1024 * 1024;
/// Room for a multipart body's other parts around the file.
const FORM_ROOM: usize = 64 * 1024;

pub fn routes(settings: &crate::ConsoleSettings) -> Router<Console> {
    // an image a little over the limit still reaches the domain, which names it at the field
    let image_limit = usize::try_from(settings.image_max_bytes).unwrap_or(usize::MAX).saturating_add(FORM_ROOM);
    Router::new()
        .route("/products", get(list))
        .route("/products/new", get(new_form).post(create))
        .route("/products/export", get(export))
        .route("/products/import", get(import_form).post(import).layer(DefaultBodyLimit::max(IMPORT_LIMIT)))
        .route("/products/{product_id}", get(detail).post(update))
        .route("/products/{product_id}/delete", post(delete))
        .route("/products/{product_id}/variants", post(add_variant))
        .route("/products/{product_id}/variants/{variant_id}", post(change_variant))
        .route("/products/{product_id}/variants/{variant_id}/delete", post(delete_variant))
        .route("/products/{product_id}/stock", post(set_stock))
        .route("/products/{product_id}/images", post(upload_image).layer(DefaultBodyLimit::max(image_limit)))
        .route("/products/{product_id}/images/{image_id}", post(change_image))
        .route("/products/{product_id}/images/{image_id}/delete", post(delete_image))
        .route(
            "/products/{product_id}/variants/{variant_id}/file",
            post(upload_file).layer(DefaultBodyLimit::max(FILE_LIMIT + FORM_ROOM)),
        )
        .route("/products/{product_id}/variants/{variant_id}/file/delete", post(remove_file))
        .route("/products/{product_id}/digital", post(digital_settings))
}

pub fn status_label(l: Lang, s: ProductStatus) -> &'static str {
    match s {
        ProductStatus::Draft => l.t("下書き", "Draft"),
        ProductStatus::Active => l.t("公開中", "Active"),
        ProductStatus::Archived => l.t("アーカイブ", "Archived"),
    }
}

const STATUSES: [ProductStatus; 3] = [ProductStatus::Draft, ProductStatus::Active, ProductStatus::Archived];

fn tax_label(l: Lang, t: TaxClass) -> &'static str {
    match t {
        TaxClass::Standard => l.t("標準税率 10%", "Standard 10%"),
        TaxClass::Reduced => l.t("軽減税率 8%", "Reduced 8%"),
    }
}

pub fn reason_label(l: Lang, r: AdjustReason) -> &'static str {
    match r {
        AdjustReason::Receipt => l.t("入荷", "Receipt"),
        AdjustReason::Correction => l.t("訂正", "Correction"),
        AdjustReason::Damage => l.t("破損", "Damage"),
        AdjustReason::Return => l.t("返品", "Return"),
        AdjustReason::Count => l.t("棚卸", "Count"),
    }
}

pub const REASONS: [AdjustReason; 5] =
    [AdjustReason::Count, AdjustReason::Receipt, AdjustReason::Correction, AdjustReason::Damage, AdjustReason::Return];

pub fn parse_reason(field: &str, raw: &str) -> Result<AdjustReason, FieldError> {
    serde_json::from_value(serde_json::Value::String(raw.to_string()))
        .map_err(|_| FieldError::new(field, "invalid", "must be receipt, correction, damage, return or count"))
}

#[derive(Deserialize, Default)]
struct Done {
    done: Option<String>,
}

async fn list(State(state): State<Console>, s: Signed, RawQuery(raw): RawQuery) -> Result<Response, Failure> {
    let l = s.lang;
    let (q, mut failed) = match query::<ProductQuery>(raw.as_deref()) {
        Ok(q) => (q, None),
        Err(e) => (ProductQuery::default(), Some(e)),
    };
    let done: Done = query(raw.as_deref()).unwrap_or_default();
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    let found = product::list_products(&mut tx, s.ctx.store_id, Acting::Staff(&s.ctx), &q).await;
    tx.commit().await?;
    let page = match found {
        Ok(p) => p,
        Err(e) => {
            let f = Failure::from(e);
            if !f.is_form_error() {
                return Err(f);
            }
            failed = Some(f);
            kernel::Page { items: Vec::new(), next_cursor: None }
        }
    };
    let can_write = s.ctx.allows(Permission::CatalogWrite);
    let can_export = s.ctx.allows(Permission::DataExport);
    let body = html! {
        h1 { (l.t("商品", "Products")) }
        (notice(l, done.done.as_deref()))
        (problem(failed.as_ref(), &[]))
        div.actions {
            @if can_write {
                a.button href={ (BASE) "/products/new" } { (l.t("商品を登録", "New product")) }
                a.button.secondary href={ (BASE) "/products/import" } { (l.t("CSVインポート", "Import CSV")) }
            }
            @if can_export {
                a.button.secondary href={ (BASE) "/products/export" } download { (l.t("CSVエクスポート", "Export CSV")) }
                a.button.secondary href={ (BASE) "/products/export?encoding=utf-8-bom" } download { "CSV (Excel)" }
                a.button.secondary href={ (BASE) "/products/export?encoding=shift_jis" } download { "CSV (Shift_JIS)" }
            }
        }
        form.filters method="get" action={ (BASE) "/products" } {
            div {
                label for="f-q" { (l.t("商品名・SKU", "Title or SKU")) }
                input #f-q name="q" type="search" value=(q.q.clone().unwrap_or_default());
            }
            div {
                label for="f-status" { (l.t("状態", "Status")) }
                select #f-status name="status" {
                    option value="" { (l.t("すべて", "All")) }
                    @for st in STATUSES {
                        option value=(st.as_str()) selected[q.status == Some(st)] { (status_label(l, st)) }
                    }
                }
            }
            div.actions {
                button type="submit" { (l.t("検索", "Search")) }
                a.button.secondary href={ (BASE) "/products" } { (l.t("クリア", "Clear")) }
            }
        }
        div.table-wrap {
            table.responsive.products {
                thead { tr {
                    th { (l.t("商品名", "Title")) } th { (l.t("状態", "Status")) } th { "SKU" }
                    th.num { (l.t("価格", "Price")) } th { (l.t("更新日時", "Updated")) }
                } }
                tbody {
                    @for p in &page.items {
                        tr data-product=(p.handle) {
                            td data-label=(l.t("商品名", "Title")) { a href={ (BASE) "/products/" (p.id) } { (p.title) } }
                            td data-label=(l.t("状態", "Status")) { span class={ "status " (p.status.as_str()) } { (status_label(l, p.status)) } }
                            td data-label="SKU" { (p.variants.iter().map(|v| v.sku.as_str()).collect::<Vec<_>>().join(", ")) }
                            td.num data-label=(l.t("価格", "Price")) { (price_range(l, &p.variants)) }
                            td data-label=(l.t("更新日時", "Updated")) { (l.datetime(&p.updated_at)) }
                        }
                    }
                    @if page.items.is_empty() {
                        tr { td colspan="5" .muted { (l.t("該当する商品はありません。", "No products match.")) } }
                    }
                }
            }
        }
        @if let Some(cursor) = &page.next_cursor {
            div.pager {
                a.next href={ (BASE) "/products?" (query_without(raw.as_deref(), &["cursor", "done"])) "&cursor=" (cursor) } { (l.t("次のページ →", "Next page →")) }
            }
        }
    };
    Ok(layout::page(&s, "/products", l.t("商品", "Products"), body))
}

fn price_range(l: Lang, variants: &[Variant]) -> String {
    let prices: Vec<_> = variants.iter().map(|v| v.price).collect();
    match (prices.iter().min_by_key(|m| m.amount), prices.iter().max_by_key(|m| m.amount)) {
        (Some(lo), Some(hi)) if lo.amount == hi.amount => l.money(lo),
        (Some(lo), Some(hi)) => format!("{} – {}", l.money(lo), l.money(hi)),
        _ => String::new(),
    }
}

async fn export(
    State(state): State<Console>,
    s: Signed,
    RawQuery(raw): RawQuery,
    headers: axum::http::HeaderMap,
) -> Result<Response, Failure> {
    // Image Src absolute on this request's host (catalog::csv::media_base)
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let base = catalog::csv::media_base(None, host);
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    let csv = catalog::csv::export(&mut tx, s.ctx.store_id, Acting::Staff(&s.ctx), &base).await?;
    tx.commit().await?;
    super::csv_download(&csv, raw.as_deref(), kernel::csv_file::CsvEncoding::Utf8, "products.csv")
}

// ---------------------------------------------------------------------------------------------
// The form's pieces shared by the new product and a product's page

/// What the product forms need besides the product: the store's locations (those the member
/// sees) and, in a mall for the mall's staff, the vendors to choose from.
struct Choices {
    locations: Vec<Location>,
    vendors: Option<Vec<(VendorId, String)>>,
}

async fn choices(tx: &mut db::Tx, s: &Signed) -> Result<Choices, Failure> {
    let by = Acting::Staff(&s.ctx);
    let locations = tenancy::locations::list_locations(tx, s.ctx.store_id, by).await?;
    let vendors = if s.ctx.vendor_id.is_none() && tenancy::vendors::house_vendor(tx).await?.is_none() {
        let page = kernel::PageRequest { limit: Some(200), cursor: None };
        let found = tenancy::vendors::list_vendors(tx, by, &page).await?;
        Some(found.items.into_iter().map(|v| (v.id, v.name)).collect())
    } else {
        None
    };
    Ok(Choices { locations, vendors })
}

/// Option names as typed: up to the last one filled in (a gap is the domain's error to give).
fn options_of(f: &Fields) -> Vec<String> {
    let names: Vec<String> = (0..3).map(|i| f.get(&format!("options[{i}]")).trim().to_string()).collect();
    let used = names.iter().rposition(|n| !n.is_empty()).map_or(0, |i| i + 1);
    names.into_iter().take(used).collect()
}

/// Tags typed as one text: separated by commas (either width) or 、.
fn tags_of(raw: &str) -> Vec<String> {
    kernel::jp::fold_width(raw).split([',', '、']).map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect()
}

fn status_of(field: &str, raw: &str) -> Result<Option<ProductStatus>, FieldError> {
    match raw {
        "" => Ok(None),
        "draft" => Ok(Some(ProductStatus::Draft)),
        "active" => Ok(Some(ProductStatus::Active)),
        "archived" => Ok(Some(ProductStatus::Archived)),
        _ => Err(FieldError::new(field, "invalid", "must be draft, active or archived")),
    }
}

fn tax_of(field: &str, raw: &str) -> Result<TaxClass, FieldError> {
    match raw {
        "" | "standard" => Ok(TaxClass::Standard),
        "reduced" => Ok(TaxClass::Reduced),
        _ => Err(FieldError::new(field, "invalid", "must be standard or reduced")),
    }
}

fn id_of<T: std::str::FromStr>(field: &str, raw: &str) -> Result<Option<T>, FieldError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse().map(Some).map_err(|_| FieldError::new(field, "invalid", "must be a UUID (as returned by the API)"))
}

/// A variant as typed in the fields `{prefix}sku`, `{prefix}price`, ... (`prefix` is
/// `variants[3].` on the new-product form, `new.` for a variant added on a product's page).
/// Field errors name the domain's own paths (`variants[3].price.amount`).
fn variant_of(f: &Fields, prefix: &str, options: usize, r: &mut Reading) -> CreateVariant {
    let p = |name: &str| format!("{prefix}{name}");
    let price = r.take(form::yen(&p("price.amount"), f.get(&p("price"))));
    let compare_at = match f.opt(&p("compare_at_price")) {
        Some(raw) => r.take(form::yen(&p("compare_at_price.amount"), &raw)),
        None => None,
    };
    let quantity = match f.opt(&p("inventory_quantity")) {
        Some(raw) => r.take(form::int(&p("inventory_quantity"), &raw)),
        None => None,
    };
    let fulfillment = match f.get(&p("fulfillment_type")) {
        "digital" => FulfillmentType::Digital,
        _ => FulfillmentType::Physical,
    };
    let mut v = CreateVariant::new(f.get(&p("sku")).to_string(), price.unwrap_or(kernel::Money::jpy(0)));
    v.option_values = (0..options).map(|j| f.get(&format!("{prefix}option_values[{j}]")).to_string()).collect();
    v.compare_at_price = compare_at;
    v.tax_class = r.take(tax_of(&p("tax_class"), f.get(&p("tax_class"))));
    v.fulfillment_type = Some(fulfillment);
    v.inventory_quantity = quantity;
    v
}

/// Whether a variant row of the new-product form was left empty (it is then not sent).
fn row_blank(f: &Fields, i: usize) -> bool {
    let p = |name: &str| format!("variants[{i}].{name}");
    ["sku", "price", "compare_at_price", "inventory_quantity"].iter().all(|n| f.get(&p(n)).trim().is_empty())
        && (0..3).all(|j| f.get(&p(&format!("option_values[{j}]"))).trim().is_empty())
}

/// The domain numbers the variants it was sent; the form's rows may have had empty ones
/// between them: `variants[k].` of the k-th sent is `variants[rows[k]].` on the form.
fn renumber(mut failure: Failure, rows: &[usize]) -> Failure {
    for e in &mut failure.fields {
        if let Some(rest) = e.field.strip_prefix("variants[")
            && let Some((k, tail)) = rest.split_once(']')
            && let Some(row) = k.parse::<usize>().ok().and_then(|k| rows.get(k))
        {
            e.field = format!("variants[{row}]{tail}");
        }
    }
    failure
}

fn text_input(id: &str, name: &str, value: &str, failed: Option<&Failure>) -> Markup {
    html! {
        input id=(id) name=(name) value=(value);
        (field_error(failed, name))
    }
}

/// A yen input with the error of its amount.
fn yen_input(name: &str, value: &str, failed: Option<&Failure>, label: &str) -> Markup {
    html! {
        input name=(name) inputmode="numeric" value=(value) aria-label=(label);
        (field_error(failed, &format!("{name}.amount")))
        (field_error(failed, name))
    }
}

fn tax_select(l: Lang, name: &str, current: TaxClass) -> Markup {
    html! {
        select name=(name) aria-label=(l.t("税率", "Tax class")) {
            @for t in [TaxClass::Standard, TaxClass::Reduced] {
                option value=(if t == TaxClass::Standard { "standard" } else { "reduced" }) selected[t == current] { (tax_label(l, t)) }
            }
        }
    }
}

/// The fields of a product itself (not its variants), on both forms.
fn product_fields(l: Lang, typed: &Fields, failed: Option<&Failure>, c: &Choices, is_new: bool) -> Markup {
    let e = failed;
    let chosen: Vec<&str> = typed.all("location_ids");
    html! {
        div.grid2 {
            div {
                label for="title" { (l.t("商品名", "Title")) }
                (text_input("title", "title", typed.get("title"), e))
            }
            div {
                label for="handle" { (l.t("URL（ハンドル）", "Handle (URL)")) }
                input #handle name="handle" value=(typed.get("handle")) placeholder=(if is_new { l.t("空欄なら商品名から作成", "made from the title when empty") } else { "" });
                (field_error(e, "handle"))
            }
        }
        div {
            label for="description" { (l.t("説明", "Description")) }
            textarea #description name="description" rows="4" { (typed.get("description")) }
            (field_error(e, "description"))
        }
        fieldset.seo {
            legend { (l.t("検索エンジン向け（SEO）", "For search engines (SEO)")) }
            div {
                label for="seo_title" { (l.t("SEOタイトル（空欄なら商品名）", "SEO title (empty: the title)")) }
                input #seo_title name="seo_title" value=(typed.get("seo_title"));
                (field_error(e, "seo_title"))
            }
            div {
                label for="seo_description" { (l.t("SEO説明文", "SEO description")) }
                textarea #seo_description name="seo_description" rows="2" { (typed.get("seo_description")) }
                (field_error(e, "seo_description"))
            }
        }
        div.grid2 {
            div {
                label for="status" { (l.t("状態", "Status")) }
                select #status name="status" {
                    @for st in STATUSES {
                        @if !(is_new && st == ProductStatus::Archived) {
                            option value=(st.as_str()) selected[typed.get("status") == st.as_str()] { (status_label(l, st)) }
                        }
                    }
                }
                (field_error(e, "status"))
            }
            div {
                label for="product_type" { (l.t("商品タイプ", "Product type")) }
                (text_input("product_type", "product_type", typed.get("product_type"), e))
            }
            div {
                label for="tags" { (l.t("タグ（カンマ区切り）", "Tags (comma separated)")) }
                (text_input("tags", "tags", typed.get("tags"), e))
                @for (i, _) in tags_of(typed.get("tags")).iter().enumerate() { (field_error(e, &format!("tags[{i}]"))) }
            }
            @if let Some(vendors) = &c.vendors {
                div {
                    label for="vendor_id" { (l.t("出店者", "Vendor")) }
                    select #vendor_id name="vendor_id" {
                        @if is_new { option value="" { (l.t("選択してください", "Choose")) } }
                        @for (id, name) in vendors {
                            option value=(id) selected[typed.get("vendor_id") == id.to_string()] { (name) }
                        }
                    }
                    (field_error(e, "vendor_id"))
                }
            }
        }
        fieldset.options {
            legend { (l.t("オプション名（サイズ・色など、最大3つ）", "Option names (size, colour, ...; up to three)")) }
            div.grid3 {
                @for i in 0..3 {
                    @let name = format!("options[{i}]");
                    div {
                        input id={ "option-" (i) } name=(name) value=(typed.get(&name)) aria-label={ (l.t("オプション", "Option")) " " (i + 1) };
                        (field_error(e, &name))
                    }
                }
            }
            (field_error(e, "options"))
        }
        @if !c.locations.is_empty() {
            fieldset.locations {
                legend { (l.t("取扱拠点（未選択ならすべて）", "Locations (none chosen: all)")) }
                @for loc in &c.locations {
                    label.inline {
                        input type="checkbox" name="location_ids" value=(loc.id) checked[chosen.contains(&loc.id.to_string().as_str())];
                        " " (loc.name) " (" (loc.code) ")"
                    }
                }
                @for (i, _) in chosen.iter().enumerate() { (field_error(e, &format!("location_ids[{i}]"))) }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A new product

async fn new_form(State(state): State<Console>, s: Signed) -> Result<Response, Failure> {
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    let c = choices(&mut tx, &s).await?;
    tx.commit().await?;
    Ok(new_page(&s, &c, &Fields::default(), START_ROWS, None))
}

fn row_count(f: &Fields) -> usize {
    f.get("rows").parse::<usize>().unwrap_or(START_ROWS).clamp(1, MAX_ROWS)
}

fn new_page(s: &Signed, c: &Choices, typed: &Fields, rows: usize, failed: Option<&Failure>) -> Response {
    let l = s.lang;
    let e = failed;
    let mut shown: Vec<String> = [
        "title",
        "handle",
        "description",
        "seo_title",
        "seo_description",
        "status",
        "product_type",
        "tags",
        "vendor_id",
        "options",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    shown.extend((0..3).map(|i| format!("options[{i}]")));
    for i in 0..rows {
        for n in [
            "sku",
            "price",
            "price.amount",
            "compare_at_price",
            "compare_at_price.amount",
            "tax_class",
            "inventory_quantity",
            "option_values",
        ] {
            shown.push(format!("variants[{i}].{n}"));
        }
        shown.extend((0..3).map(|j| format!("variants[{i}].option_values[{j}]")));
    }
    shown.extend(tags_of(typed.get("tags")).iter().enumerate().map(|(i, _)| format!("tags[{i}]")));
    shown.extend(typed.all("location_ids").iter().enumerate().map(|(i, _)| format!("location_ids[{i}]")));
    let shown: Vec<&str> = shown.iter().map(String::as_str).collect();
    let options = options_of(typed).len().max(1);
    let body = html! {
        h1 { (l.t("商品を登録", "New product")) }
        (problem(e, &shown))
        form.product.new-product method="post" action={ (BASE) "/products/new" } {
            (csrf(&s.csrf()))
            input type="hidden" name="rows" value=(rows);
            (product_fields(l, typed, e, c, true))
            h2 { (l.t("バリエーション", "Variants")) }
            p.muted { (l.t("SKU・価格を入力した行が登録されます。在庫数は最初の拠点に入ります。", "Rows with a SKU and price are created. Stock goes to the first location.")) }
            div.table-wrap {
                table.responsive.variant-rows {
                    thead { tr {
                        th { "SKU" }
                        @for j in 0..options { th { (l.t("オプション値", "Option value")) " " (j + 1) } }
                        th { (l.t("価格（円）", "Price (yen)")) } th { (l.t("通常価格（円）", "Compare-at (yen)")) }
                        th { (l.t("税率", "Tax")) } th { (l.t("種類", "Kind")) } th { (l.t("在庫数", "Stock")) }
                    } }
                    tbody {
                        @for i in 0..rows {
                            @let p = |n: &str| format!("variants[{i}].{n}");
                            tr data-row=(i) {
                                td data-label="SKU" { (text_input(&format!("sku-{i}"), &p("sku"), typed.get(&p("sku")), e)) }
                                @for j in 0..options {
                                    @let name = p(&format!("option_values[{j}]"));
                                    td data-label={ (l.t("オプション値", "Option value")) " " (j + 1) } {
                                        input name=(name) value=(typed.get(&name)) aria-label={ (l.t("オプション値", "Option value")) " " (j + 1) };
                                        (field_error(e, &name))
                                    }
                                }
                                td data-label=(l.t("価格（円）", "Price (yen)")) {
                                    (yen_input(&p("price"), typed.get(&p("price")), e, l.t("価格", "Price")))
                                    (field_error(e, &p("option_values")))
                                }
                                td data-label=(l.t("通常価格（円）", "Compare-at (yen)")) {
                                    (yen_input(&p("compare_at_price"), typed.get(&p("compare_at_price")), e, l.t("通常価格", "Compare-at price")))
                                }
                                td data-label=(l.t("税率", "Tax")) {
                                    (tax_select(l, &p("tax_class"), tax_of("", typed.get(&p("tax_class"))).unwrap_or(TaxClass::Standard)))
                                }
                                td data-label=(l.t("種類", "Kind")) {
                                    select name=(p("fulfillment_type")) aria-label=(l.t("種類", "Kind")) {
                                        option value="physical" { (l.t("配送", "Shipped")) }
                                        option value="digital" selected[typed.get(&p("fulfillment_type")) == "digital"] { (l.t("デジタル", "Digital")) }
                                    }
                                }
                                td data-label=(l.t("在庫数", "Stock")) {
                                    input name=(p("inventory_quantity")) inputmode="numeric" value=(typed.get(&p("inventory_quantity"))) aria-label=(l.t("在庫数", "Stock"));
                                    (field_error(e, &p("inventory_quantity")))
                                }
                            }
                        }
                    }
                }
            }
            (field_error(e, "variants"))
            div.actions {
                button.secondary type="submit" name="action" value="more" formnovalidate { (l.t("行を追加", "Add a row")) }
                button type="submit" name="action" value="save" { (l.t("登録する", "Create product")) }
            }
        }
    };
    let status = failed.map(|f| f.status).unwrap_or(StatusCode::OK);
    layout::page_with_status(s, "/products", l.t("商品を登録", "New product"), body, status)
}

async fn create(State(state): State<Console>, posted: Posted) -> Result<Response, Failure> {
    let Posted { signed: s, form: f } = posted;
    let rows = row_count(&f);
    let by = Acting::Staff(&s.ctx);
    if f.get("action") == "more" {
        let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
        let c = choices(&mut tx, &s).await?;
        tx.commit().await?;
        return Ok(new_page(&s, &c, &f, (rows + 1).min(MAX_ROWS), None));
    }
    let options = options_of(&f);
    let mut r = Reading::default();
    let mut sent_rows = Vec::new();
    let mut variants = Vec::new();
    for i in (0..rows).filter(|i| !row_blank(&f, *i)) {
        sent_rows.push(i);
        variants.push(variant_of(&f, &format!("variants[{i}]."), options.len(), &mut r));
    }
    let input = CreateProduct {
        title: f.get("title").to_string(),
        handle: f.opt("handle"),
        description: f.get("description").to_string(),
        status: r.take(status_of("status", f.get("status"))).flatten(),
        vendor_id: r.take(id_of("vendor_id", f.get("vendor_id"))).flatten(),
        product_type: f.get("product_type").to_string(),
        tags: tags_of(f.get("tags")),
        options,
        variants,
        location_ids: f
            .all("location_ids")
            .iter()
            .enumerate()
            .filter_map(|(i, id)| r.take(id_of::<LocationId>(&format!("location_ids[{i}]"), id)).flatten())
            .collect(),
        seo_title: f.opt("seo_title"),
        seo_description: f.opt("seo_description"),
    };
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    let result = match r.done() {
        Ok(()) => product::create_product(&mut tx, s.ctx.store_id, by, input).await.map_err(Failure::from),
        Err(e) => Err(e),
    };
    match result {
        Ok(p) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("{BASE}/products/{}?done=created", p.id)).into_response())
        }
        Err(failure) if failure.is_form_error() => {
            tx.rollback().await?;
            let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
            let c = choices(&mut tx, &s).await?;
            tx.commit().await?;
            Ok(new_page(&s, &c, &f, rows, Some(&renumber(failure, &sent_rows))))
        }
        Err(failure) => Err(failure),
    }
}

// ---------------------------------------------------------------------------------------------
// A product's page

/// Which form of the product's page failed, to show its errors next to its fields.
#[derive(Clone, Copy, PartialEq)]
enum Form {
    Product,
    Variant(VariantId),
    NewVariant,
    Stock,
    Delete,
    NewImage,
    Image(ImageId),
    File(VariantId),
    Digital,
}

/// Stock of a physical variant at each location it can be held at.
struct StockRow {
    variant: VariantId,
    levels: Vec<(LocationId, Option<StockLevel>)>,
}

struct Loaded {
    product: Product,
    choices: Choices,
    stock: Vec<StockRow>,
    /// The file of each digital variant that has one.
    files: Vec<(VariantId, digital::asset::Asset)>,
    /// The product's download period and limit (its own and those that apply), when it has a
    /// digital variant.
    digital: Option<ProductDigitalSettings>,
}

/// The locations that hold the product's stock: its own list, or every location of the store
/// (in a mall, the mall's and its vendor's).
fn stock_locations<'a>(p: &Product, c: &'a Choices) -> Vec<&'a Location> {
    c.locations
        .iter()
        .filter(|l| p.location_ids.is_empty() || p.location_ids.contains(&l.id))
        .filter(|l| l.vendor_id.is_none() || l.vendor_id == Some(p.vendor_id))
        .collect()
}

async fn load(tx: &mut db::Tx, s: &Signed, id: ProductId) -> Result<Loaded, Failure> {
    let by = Acting::Staff(&s.ctx);
    let product = product::get_product(tx, s.ctx.store_id, by, id).await?;
    let choices = choices(tx, s).await?;
    let mut stock = Vec::new();
    let mut files = Vec::new();
    let locations: Vec<LocationId> = stock_locations(&product, &choices).iter().map(|l| l.id).collect();
    for v in &product.variants {
        match v.fulfillment_type {
            FulfillmentType::Physical if s.ctx.allows(Permission::InventoryRead) => {
                let levels = inventory::stock::levels_of(tx, v.id).await?;
                stock.push(StockRow {
                    variant: v.id,
                    levels: locations
                        .iter()
                        .map(|loc| (*loc, levels.iter().find(|lv| lv.location_id == *loc).cloned()))
                        .collect(),
                });
            }
            FulfillmentType::Digital => {
                if let Some(asset) = v.digital_asset_id
                    && let Ok(a) = digital::asset::get_asset(tx, s.ctx.store_id, by, asset).await
                {
                    files.push((v.id, a));
                }
            }
            _ => {}
        }
    }
    let digital = if product.variants.iter().any(|v| v.fulfillment_type == FulfillmentType::Digital) {
        Some(catalog::digital::get_product_settings(tx, s.ctx.store_id, by, id).await?)
    } else {
        None
    };
    Ok(Loaded { product, choices, stock, files, digital })
}

async fn detail(
    State(state): State<Console>,
    s: Signed,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Failure> {
    let id: ProductId = parse_id(&id)?;
    let done: Done = query(raw.as_deref()).unwrap_or_default();
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    let loaded = load(&mut tx, &s, id).await?;
    tx.commit().await?;
    Ok(product_page(&s, &loaded, done.done.as_deref(), None, &Fields::default()))
}

/// The product's current fields as the form shows them.
fn fields_of(p: &Product) -> Fields {
    let mut pairs = vec![
        ("title".to_string(), p.title.clone()),
        ("handle".to_string(), p.handle.clone()),
        ("description".to_string(), p.description.clone()),
        ("status".to_string(), p.status.as_str().to_string()),
        ("product_type".to_string(), p.product_type.clone()),
        ("tags".to_string(), p.tags.join(", ")),
        ("vendor_id".to_string(), p.vendor_id.to_string()),
        ("seo_title".to_string(), p.seo_title.clone().unwrap_or_default()),
        ("seo_description".to_string(), p.seo_description.clone().unwrap_or_default()),
    ];
    for (i, o) in p.options.iter().enumerate() {
        pairs.push((format!("options[{i}]"), o.clone()));
    }
    for loc in &p.location_ids {
        pairs.push(("location_ids".to_string(), loc.to_string()));
    }
    Fields::from_pairs(pairs)
}

fn product_page(
    s: &Signed,
    d: &Loaded,
    done: Option<&str>,
    failed: Option<(Form, &Failure)>,
    typed: &Fields,
) -> Response {
    let l = s.lang;
    let p = &d.product;
    let err = |form: Form| failed.filter(|(f, _)| *f == form).map(|(_, e)| e);
    let can_write = s.ctx.allows(Permission::CatalogWrite);
    let can_stock = s.ctx.allows(Permission::InventoryWrite);
    let can_file = can_write && s.ctx.allows(Permission::DigitalManage);
    let token = s.csrf();
    let action = |rest: &str| format!("{BASE}/products/{}{rest}", p.id);
    let product_typed = if matches!(failed, Some((Form::Product, _))) { typed.clone() } else { fields_of(p) };
    let locations = stock_locations(p, &d.choices);
    let sku_of = |id: VariantId| p.variants.iter().find(|v| v.id == id).map(|v| v.sku.as_str()).unwrap_or("");
    let body = html! {
        h1 {
            (p.title) " "
            span class={ "status " (p.status.as_str()) } data-status=(p.status.as_str()) { (status_label(l, p.status)) }
        }
        (notice(l, done))
        p.muted { (l.t("更新", "Updated")) " " (l.datetime(&p.updated_at)) " · /" (p.handle) }
        @if can_write {
            @let e = err(Form::Product);
            section.panel.product-fields {
                h2 { (l.t("商品情報", "Product")) }
                (problem(e, &["title", "handle", "description", "seo_title", "seo_description", "status", "product_type", "tags", "vendor_id", "options", "options[0]", "options[1]", "options[2]"]))
                form.product method="post" action=(action("")) {
                    (csrf(&token))
                    (product_fields(l, &product_typed, e, &d.choices, false))
                    div.actions { button type="submit" { (l.t("保存", "Save")) } }
                }
            }
        } @else {
            p { (p.description) }
        }
        (images_panel(s, p, failed, typed, &token, can_write))
        @if let Some(dg) = &d.digital {
            (digital_panel(s, p, dg, err(Form::Digital), typed, &token, can_file))
        }
        h2 { (l.t("バリエーション", "Variants")) }
        @for v in &p.variants {
            @let e = err(Form::Variant(v.id));
            @let t = |name: &str, current: String| if e.is_some() { typed.get(name).to_string() } else { current };
            section.panel.variant data-sku=(v.sku) {
                h3 {
                    (v.sku) @if !v.title.is_empty() { " · " (v.title) } " "
                    span.muted { (l.money(&v.price)) @if let Some(c) = &v.compare_at_price { " (" del { (l.money(c)) } ")" } " · " (tax_label(l, v.tax_class))
                        " · " (if v.fulfillment_type == FulfillmentType::Digital { l.t("デジタル", "Digital") } else { l.t("配送", "Shipped") })
                        @if v.status == VariantStatus::Archived { " · " (l.t("販売停止", "archived")) } }
                }
                @if v.fulfillment_type == FulfillmentType::Digital {
                    (file_panel(s, d, v, err(Form::File(v.id)), &token, can_file))
                }
                @if can_write {
                    (problem(e, &["sku", "price", "price.amount", "compare_at_price", "compare_at_price.amount", "tax_class", "option_values", "option_values[0]", "option_values[1]", "option_values[2]", "status", "image_id"]))
                    form.variant method="post" action=(action(&format!("/variants/{}", v.id))) {
                        (csrf(&token))
                        div { label { "SKU" } (text_input(&format!("sku-{}", v.id), "sku", &t("sku", v.sku.clone()), e)) }
                        @for (j, opt) in p.options.iter().enumerate() {
                            @let name = format!("option_values[{j}]");
                            div {
                                label { (opt) }
                                input name=(name) value=(t(&name, v.option_values.get(j).cloned().unwrap_or_default()));
                                (field_error(e, &name))
                            }
                        }
                        div { label { (l.t("価格（円）", "Price (yen)")) } (yen_input("price", &t("price", v.price.amount.to_string()), e, l.t("価格", "Price"))) }
                        div { label { (l.t("通常価格（円）", "Compare-at (yen)")) } (yen_input("compare_at_price", &t("compare_at_price", v.compare_at_price.map(|m| m.amount.to_string()).unwrap_or_default()), e, l.t("通常価格", "Compare-at price"))) }
                        div { label { (l.t("税率", "Tax")) } (tax_select(l, "tax_class", v.tax_class)) }
                        @if !p.images.is_empty() {
                            div {
                                label { (l.t("画像", "Image")) }
                                select name="image_id" {
                                    option value="" { (l.t("なし", "None")) }
                                    @for img in &p.images {
                                        option value=(img.id) selected[v.image_id == Some(img.id)] { "#" (img.position) " " (img.alt) }
                                    }
                                }
                                (field_error(e, "image_id"))
                            }
                        }
                        div {
                            label { (l.t("販売", "Selling")) }
                            select name="status" {
                                option value="active" { (l.t("販売中", "Active")) }
                                option value="archived" selected[v.status == VariantStatus::Archived] { (l.t("販売停止", "Archived")) }
                            }
                            (field_error(e, "status"))
                        }
                        button type="submit" { (l.t("保存", "Save")) }
                    }
                    form.delete-variant method="post" action=(action(&format!("/variants/{}/delete", v.id))) {
                        (csrf(&token))
                        button.link type="submit" data-confirm=(l.t("このバリエーションを削除しますか？", "Delete this variant?")) { (l.t("削除", "Delete")) }
                    }
                }
            }
        }
        @if can_write {
            @let e = err(Form::NewVariant);
            @let t = |name: &str| if e.is_some() { typed.get(name).to_string() } else { String::new() };
            section.panel.add-variant {
                h3 { (l.t("バリエーションを追加", "Add a variant")) }
                (problem(e, &["new.sku", "new.price", "new.price.amount", "new.compare_at_price", "new.compare_at_price.amount", "new.inventory_quantity", "new.option_values", "new.option_values[0]", "new.option_values[1]", "new.option_values[2]"]))
                form.add-variant method="post" action=(action("/variants")) {
                    (csrf(&token))
                    div { label { "SKU" } (text_input("new-sku", "new.sku", &t("new.sku"), e)) }
                    @for (j, opt) in p.options.iter().enumerate() {
                        @let name = format!("new.option_values[{j}]");
                        div { label { (opt) } input name=(name) value=(t(&name)); (field_error(e, &name)) }
                    }
                    div { label { (l.t("価格（円）", "Price (yen)")) } (yen_input("new.price", &t("new.price"), e, l.t("価格", "Price"))) }
                    div { label { (l.t("通常価格（円）", "Compare-at (yen)")) } (yen_input("new.compare_at_price", &t("new.compare_at_price"), e, l.t("通常価格", "Compare-at price"))) }
                    div { label { (l.t("税率", "Tax")) } (tax_select(l, "new.tax_class", TaxClass::Standard)) }
                    div {
                        label { (l.t("種類", "Kind")) }
                        select name="new.fulfillment_type" {
                            option value="physical" { (l.t("配送", "Shipped")) }
                            option value="digital" { (l.t("デジタル", "Digital")) }
                        }
                    }
                    div { label { (l.t("在庫数", "Stock")) } input name="new.inventory_quantity" inputmode="numeric" value=(t("new.inventory_quantity")); (field_error(e, "new.inventory_quantity")) }
                    (field_error(e, "new.option_values"))
                    button type="submit" { (l.t("追加", "Add")) }
                }
            }
        }
        @if !d.stock.is_empty() && !locations.is_empty() {
            @let e = err(Form::Stock);
            section.panel.stock {
                h2 { (l.t("拠点ごとの在庫", "Stock per location")) }
                (problem(e, &[]))
                form.stock method="post" action=(action("/stock")) {
                    (csrf(&token))
                    div.table-wrap {
                        table.responsive.stock-levels {
                            thead { tr {
                                th { "SKU" }
                                @for loc in &locations { th.num { (loc.name) } }
                            } }
                            tbody {
                                @for row in &d.stock {
                                    tr data-sku=(sku_of(row.variant)) {
                                        td data-label="SKU" { (sku_of(row.variant)) }
                                        @for (loc, level) in &row.levels {
                                            @let name = format!("stock.{}.{}", row.variant, loc);
                                            @let label = locations.iter().find(|x| x.id == *loc).map(|x| x.name.as_str()).unwrap_or("");
                                            td.num data-label=(label) {
                                                @if can_stock {
                                                    input.qty name=(name) inputmode="numeric" aria-label={ (sku_of(row.variant)) " " (label) }
                                                        value=(if e.is_some() { typed.get(&name).to_string() } else { level.as_ref().map_or(0, |lv| lv.stock).to_string() });
                                                } @else {
                                                    (level.as_ref().map_or(0, |lv| lv.stock))
                                                }
                                                @if let Some(lv) = level {
                                                    @if lv.reserved > 0 { " " span.muted { "(" (l.t("引当", "reserved")) " " (lv.reserved) ")" } }
                                                }
                                                " " a.history href={ (BASE) "/inventory/level?variant_id=" (row.variant) "&location_id=" (loc) } { (l.t("履歴", "history")) }
                                                (field_error(e, &name))
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    @if can_stock {
                        div.actions {
                            div {
                                label for="stock-reason" { (l.t("理由", "Reason")) }
                                select #stock-reason name="reason" {
                                    @for r in REASONS { option value=(reason_value(r)) { (reason_label(l, r)) } }
                                }
                            }
                            div {
                                label for="stock-note" { (l.t("メモ", "Note")) }
                                input #stock-note name="note" value=(if e.is_some() { typed.get("note") } else { "" });
                                (field_error(e, "note"))
                            }
                            button type="submit" { (l.t("在庫を更新", "Update stock")) }
                        }
                    }
                }
            }
        }
        @if can_write {
            section.panel.delete-product {
                (problem(err(Form::Delete), &[]))
                form method="post" action=(action("/delete")) {
                    (csrf(&token))
                    button.danger type="submit" data-confirm=(l.t("この商品を削除しますか？", "Delete this product?")) { (l.t("商品を削除", "Delete product")) }
                }
            }
        }
        p { a href={ (BASE) "/products" } { "← " (l.t("商品一覧", "All products")) } }
    };
    let status = failed.map(|(_, f)| f.status).unwrap_or(StatusCode::OK);
    layout::page_with_status(s, "/products", &p.title, body, status)
}

pub fn reason_value(r: AdjustReason) -> &'static str {
    match r {
        AdjustReason::Receipt => "receipt",
        AdjustReason::Correction => "correction",
        AdjustReason::Damage => "damage",
        AdjustReason::Return => "return",
        AdjustReason::Count => "count",
    }
}

/// Runs one form of the product's page in a transaction: on success back to the page (or
/// `to`) with a notice; on a problem the person can fix, the page again with the API's
/// messages at the form and nothing changed.
async fn act<F>(
    state: &Console,
    posted: Posted,
    raw_id: &str,
    form: Form,
    done: &str,
    run: F,
) -> Result<Response, Failure>
where
    F: AsyncFnOnce(&mut db::Tx, &Signed, ProductId, &Fields) -> Result<Option<String>, Failure>,
{
    let Posted { signed: s, form: fields } = posted;
    let id: ProductId = parse_id(raw_id)?;
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    match run(&mut tx, &s, id, &fields).await {
        Ok(to) => {
            tx.commit().await?;
            let to = to.unwrap_or_else(|| format!("{BASE}/products/{id}"));
            Ok(Redirect::to(&format!("{to}?done={done}")).into_response())
        }
        Err(f) if f.is_form_error() => {
            tx.rollback().await?;
            let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
            let loaded = load(&mut tx, &s, id).await?;
            tx.commit().await?;
            Ok(product_page(&s, &loaded, None, Some((form, &f)), &fields))
        }
        Err(f) => Err(f),
    }
}

async fn update(State(state): State<Console>, Path(id): Path<String>, posted: Posted) -> Result<Response, Failure> {
    act(&state, posted, &id, Form::Product, "saved", async |tx, s, id, f| {
        let mut r = Reading::default();
        let vendor = r.take(id_of::<VendorId>("vendor_id", f.get("vendor_id"))).flatten();
        let input = UpdateProduct {
            title: Some(f.get("title").to_string()),
            handle: f.opt("handle"),
            description: Some(f.get("description").to_string()),
            status: r.take(status_of("status", f.get("status"))).flatten(),
            vendor_id: vendor,
            product_type: Some(f.get("product_type").to_string()),
            tags: Some(tags_of(f.get("tags"))),
            options: Some(options_of(f)),
            // blank clears them, as `""` does in the API
            seo_title: Some(f.opt("seo_title")),
            seo_description: Some(f.opt("seo_description")),
        };
        let locations: Vec<LocationId> = f
            .all("location_ids")
            .iter()
            .enumerate()
            .filter_map(|(i, id)| r.take(id_of::<LocationId>(&format!("location_ids[{i}]"), id)).flatten())
            .collect();
        r.done()?;
        let by = Acting::Staff(&s.ctx);
        let before = product::get_product(tx, s.ctx.store_id, by, id).await?;
        let input = UpdateProduct { vendor_id: input.vendor_id.filter(|v| *v != before.vendor_id), ..input };
        product::update_product(tx, s.ctx.store_id, by, id, input).await?;
        if locations != before.location_ids {
            let set = catalog::locations::SetProductLocations { location_ids: locations };
            catalog::locations::set_product_locations(tx, s.ctx.store_id, by, id, set).await?;
        }
        Ok(None)
    })
    .await
}

async fn delete(State(state): State<Console>, Path(id): Path<String>, posted: Posted) -> Result<Response, Failure> {
    act(&state, posted, &id, Form::Delete, "deleted", async |tx, s, id, _| {
        product::delete_product(tx, s.ctx.store_id, Acting::Staff(&s.ctx), id).await?;
        Ok(Some(format!("{BASE}/products")))
    })
    .await
}

async fn add_variant(
    State(state): State<Console>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, Failure> {
    act(&state, posted, &id, Form::NewVariant, "created", async |tx, s, id, f| {
        let by = Acting::Staff(&s.ctx);
        let options = product::get_product(tx, s.ctx.store_id, by, id).await?.options.len();
        let mut r = Reading::default();
        let input = variant_of(f, "new.", options, &mut r);
        r.done()?;
        variant::create_variant(tx, s.ctx.store_id, by, id, input).await.map_err(|e| {
            // the API names a variant's own fields without a prefix: shown at this form's
            let mut failure = Failure::from(e);
            for fe in &mut failure.fields {
                fe.field = format!("new.{}", fe.field);
            }
            failure
        })?;
        Ok(None)
    })
    .await
}

async fn change_variant(
    State(state): State<Console>,
    Path((id, variant_id)): Path<(String, String)>,
    posted: Posted,
) -> Result<Response, Failure> {
    let vid: VariantId = parse_id(&variant_id)?;
    act(&state, posted, &id, Form::Variant(vid), "saved", async |tx, s, id, f| {
        let by = Acting::Staff(&s.ctx);
        let options = product::get_product(tx, s.ctx.store_id, by, id).await?.options.len();
        let mut r = Reading::default();
        let price = r.take(form::yen("price.amount", f.get("price")));
        let compare_at = match f.opt("compare_at_price") {
            Some(raw) => r.take(form::yen("compare_at_price.amount", &raw)).map(Some),
            None => Some(None),
        };
        let status = match f.get("status") {
            "archived" => VariantStatus::Archived,
            _ => VariantStatus::Active,
        };
        let input = UpdateVariant {
            sku: Some(f.get("sku").to_string()),
            option_values: (options > 0)
                .then(|| (0..options).map(|j| f.get(&format!("option_values[{j}]")).to_string()).collect()),
            price,
            compare_at_price: compare_at,
            tax_class: r.take(tax_of("tax_class", f.get("tax_class"))),
            status: Some(status),
            // the select is shown when the product has images
            image_id: if f.all("image_id").is_empty() {
                None
            } else {
                Some(r.take(id_of::<ImageId>("image_id", f.get("image_id"))).flatten())
            },
            ..Default::default()
        };
        r.done()?;
        variant::update_variant(tx, s.ctx.store_id, by, id, vid, input).await?;
        Ok(None)
    })
    .await
}

async fn delete_variant(
    State(state): State<Console>,
    Path((id, variant_id)): Path<(String, String)>,
    posted: Posted,
) -> Result<Response, Failure> {
    let vid: VariantId = parse_id(&variant_id)?;
    act(&state, posted, &id, Form::Variant(vid), "deleted", async |tx, s, id, _| {
        variant::delete_variant(tx, s.ctx.store_id, Acting::Staff(&s.ctx), id, vid).await?;
        Ok(None)
    })
    .await
}

/// Sets the stock of each cell whose number was changed, as counted numbers (`inventory::stock::set`,
/// the API's `PUT /admin/v1/inventory/levels`), all in one transaction.
async fn set_stock(State(state): State<Console>, Path(id): Path<String>, posted: Posted) -> Result<Response, Failure> {
    act(&state, posted, &id, Form::Stock, "stock", async |tx, s, id, f| {
        let loaded = load(tx, s, id).await?;
        let reason = parse_reason("reason", f.get("reason")).map_err(|e| Failure::invalid(vec![e]))?;
        let mut r = Reading::default();
        let mut changes = Vec::new();
        for row in &loaded.stock {
            for (loc, level) in &row.levels {
                let name = format!("stock.{}.{}", row.variant, loc);
                let Some(raw) = f.opt(&name) else { continue };
                if let Some(n) = r.take(form::int(&name, &raw))
                    && n != level.as_ref().map_or(0, |lv| lv.stock)
                {
                    changes.push((name, row.variant, *loc, n));
                }
            }
        }
        r.done()?;
        for (name, variant, location, stock) in changes {
            let input = SetStock {
                variant_id: variant,
                location_id: location,
                stock,
                reason: Some(reason),
                note: f.opt("note"),
            };
            inventory::stock::set(tx, s.ctx.store_id, Acting::Staff(&s.ctx), input).await.map_err(|e| {
                let mut failure = Failure::from(e);
                for fe in failure.fields.iter_mut().filter(|fe| fe.field == "stock") {
                    fe.field = name.clone();
                }
                failure
            })?;
        }
        Ok(None)
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Images, a digital variant's file, the download period and limit

fn image_status_label(l: Lang, st: ImageStatus) -> &'static str {
    match st {
        ImageStatus::Pending => l.t("サイズ違いを作成中", "making its sizes"),
        ImageStatus::Ready => l.t("公開可", "ready"),
        ImageStatus::Failed => l.t("失敗", "failed"),
    }
}

/// The smallest copy of an image to show on the page (its 200 px rendition once made, else the
/// original), with its size.
fn thumbnail(img: &ProductImage) -> Option<(&str, Option<i32>, Option<i32>)> {
    match img.renditions.iter().min_by_key(|r| r.width) {
        Some(r) => Some((r.url.as_str(), Some(r.width), Some(r.height))),
        None => img.url.as_deref().map(|u| (u, img.width, img.height)),
    }
}

/// A length of time in seconds as a person reads it (7日, 12時間, 90秒).
fn duration(l: Lang, secs: i32) -> String {
    if secs % 86_400 == 0 {
        format!("{}{}", secs / 86_400, l.t("日", " days"))
    } else if secs % 3600 == 0 {
        format!("{}{}", secs / 3600, l.t("時間", " hours"))
    } else {
        format!("{}{}", secs, l.t("秒", " seconds"))
    }
}

fn images_panel(
    s: &Signed,
    p: &Product,
    failed: Option<(Form, &Failure)>,
    typed: &Fields,
    token: &str,
    can_write: bool,
) -> Markup {
    let l = s.lang;
    let err = |form: Form| failed.filter(|(f, _)| *f == form).map(|(_, e)| e);
    let action = |rest: &str| format!("{BASE}/products/{}{rest}", p.id);
    let status_str = |st: ImageStatus| match st {
        ImageStatus::Pending => "pending",
        ImageStatus::Ready => "ready",
        ImageStatus::Failed => "failed",
    };
    html! {
        section.panel.images {
            h2 { (l.t("画像", "Images")) }
            @if p.images.is_empty() { p.muted { (l.t("画像はまだありません。1番目の画像がメイン画像です。", "No images yet. The first image is the main one.")) } }
            ul.images {
                @for img in &p.images {
                    @let e = err(Form::Image(img.id));
                    @let t = |name: &str, current: String| if e.is_some() { typed.get(name).to_string() } else { current };
                    li.image data-image=(img.id) data-position=(img.position) data-status=(status_str(img.status)) {
                        @if let Some((src, w, h)) = thumbnail(img) {
                            img.thumb src=(src) alt=(img.alt) width=[w] height=[h];
                        } @else {
                            span.thumb.placeholder { (l.t("取得待ち", "waiting")) }
                        }
                        p.muted {
                            "#" (img.position) " · " span.image-status { (image_status_label(l, img.status)) }
                            @if let (Some(w), Some(h)) = (img.width, img.height) { " · " (w) "×" (h) }
                            @if let Some(ct) = &img.content_type { " · " (ct) }
                        }
                        @if let Some(why) = &img.error { p.field-error { (why) } }
                        @if can_write {
                            (problem(e, &["alt", "position"]))
                            form.image method="post" action=(action(&format!("/images/{}", img.id))) {
                                (csrf(token))
                                div {
                                    label { (l.t("代替テキスト", "Alt text")) }
                                    input name="alt" value=(t("alt", img.alt.clone()));
                                    (field_error(e, "alt"))
                                }
                                div {
                                    label { (l.t("順番", "Position")) }
                                    input name="position" inputmode="numeric" value=(t("position", img.position.to_string()));
                                    (field_error(e, "position"))
                                }
                                button type="submit" { (l.t("保存", "Save")) }
                            }
                            form.delete-image method="post" action=(action(&format!("/images/{}/delete", img.id))) {
                                (csrf(token))
                                button.link type="submit" data-confirm=(l.t("この画像を削除しますか？", "Delete this image?")) { (l.t("削除", "Delete")) }
                            }
                        }
                    }
                }
            }
            @if can_write {
                @let e = err(Form::NewImage);
                @let t = |name: &str| if e.is_some() { typed.get(name).to_string() } else { String::new() };
                h3 { (l.t("画像を追加", "Add an image")) }
                (problem(e, &["file", "alt", "position"]))
                form.add-image method="post" action=(action("/images")) enctype="multipart/form-data" {
                    (csrf(token))
                    div {
                        label for="image-file" { (l.t("画像ファイル（JPEG・PNG・WebP）", "Image file (JPEG, PNG, WebP)")) }
                        input #image-file type="file" name="file" accept="image/jpeg,image/png,image/webp";
                        (field_error(e, "file"))
                    }
                    div {
                        label for="image-alt" { (l.t("代替テキスト", "Alt text")) }
                        input #image-alt name="alt" value=(t("alt"));
                        (field_error(e, "alt"))
                    }
                    div {
                        label for="image-position" { (l.t("順番（空欄で最後）", "Position (empty: last)")) }
                        input #image-position name="position" inputmode="numeric" value=(t("position"));
                        (field_error(e, "position"))
                    }
                    button type="submit" { (l.t("画像を追加", "Add image")) }
                }
            }
        }
    }
}

/// A digital variant's file: what it is, and (for those allowed) uploading, replacing and
/// removing it.
fn file_panel(s: &Signed, d: &Loaded, v: &Variant, e: Option<&Failure>, token: &str, can_file: bool) -> Markup {
    let l = s.lang;
    let file = d.files.iter().find(|(id, _)| *id == v.id).map(|(_, a)| a);
    let action = |rest: &str| format!("{BASE}/products/{}/variants/{}/file{rest}", d.product.id, v.id);
    html! {
        div.digital-file data-sku=(v.sku) {
            p {
                (l.t("ダウンロードファイル", "Download file")) ": "
                @match file {
                    Some(a) => {
                        strong.filename { (a.filename) } " (" (crate::i18n::group(a.size_bytes as u64)) " bytes · " (a.content_type) " · " (l.datetime(&a.created_at)) ")"
                    }
                    None => { span.muted.no-file { (l.t("未登録", "none yet")) } }
                }
            }
            @if can_file {
                (problem(e, &["file", "filename", "Content-Type"]))
                form.upload-file method="post" action=(action("")) enctype="multipart/form-data" {
                    (csrf(token))
                    div {
                        label { (if file.is_some() { l.t("差し替えるファイル", "Replacement file") } else { l.t("ファイル", "File") }) }
                        input type="file" name="file" aria-label=(l.t("ファイル", "File"));
                        (field_error(e, "file"))
                        (field_error(e, "filename"))
                        (field_error(e, "Content-Type"))
                    }
                    button type="submit" { (if file.is_some() { l.t("差し替える", "Replace") } else { l.t("アップロード", "Upload") }) }
                }
                @if file.is_some() {
                    p.muted { (l.t("差し替えても、それまでに購入した方は購入時のファイルをダウンロードできます。", "After a replacement, earlier buyers still download the file they bought.")) }
                    form.remove-file method="post" action=(action("/delete")) {
                        (csrf(token))
                        button.link type="submit" data-confirm=(l.t("このファイルを外しますか？", "Remove this file?")) { (l.t("ファイルを外す", "Remove the file")) }
                    }
                }
            }
        }
    }
}

/// The product's download period and limit: the values that apply (its own or the store's
/// defaults) and, for those allowed, its own.
fn digital_panel(
    s: &Signed,
    p: &Product,
    dg: &ProductDigitalSettings,
    e: Option<&Failure>,
    typed: &Fields,
    token: &str,
    can_file: bool,
) -> Markup {
    let l = s.lang;
    let t = |name: &str, current: Option<i32>| {
        if e.is_some() { typed.get(name).to_string() } else { current.map(|n| n.to_string()).unwrap_or_default() }
    };
    let whose = |own: bool| {
        if own {
            l.t("この商品の設定", "this product's")
        } else {
            l.t("ストアの既定", "the store's default")
        }
    };
    html! {
        section.panel.digital-settings {
            h2 { (l.t("ダウンロードの期限と回数", "Download period and limit")) }
            table {
                tr {
                    th { (l.t("ダウンロード期限", "Download period")) }
                    td data-effective="url_ttl_seconds" { (duration(l, dg.effective.url_ttl_seconds)) }
                    td.muted { (whose(dg.url_ttl_seconds.is_some())) }
                }
                tr {
                    th { (l.t("ダウンロード回数上限", "Download limit")) }
                    td data-effective="max_downloads" {
                        @match dg.effective.max_downloads { Some(n) => { (n) (l.t("回", " times")) } None => { (l.t("無制限", "unlimited")) } }
                    }
                    td.muted { (whose(dg.max_downloads.is_some())) }
                }
            }
            @if can_file {
                (problem(e, &["url_ttl_seconds", "max_downloads"]))
                form.digital method="post" action={ (BASE) "/products/" (p.id) "/digital" } {
                    (csrf(token))
                    div {
                        label for="url_ttl_seconds" { (l.t("この商品の期限（秒、空欄でストアの既定）", "This product's period (seconds; empty: the store's)")) }
                        input #url_ttl_seconds name="url_ttl_seconds" inputmode="numeric" value=(t("url_ttl_seconds", dg.url_ttl_seconds));
                        (field_error(e, "url_ttl_seconds"))
                    }
                    div {
                        label for="max_downloads" { (l.t("この商品の回数上限（空欄でストアの既定）", "This product's limit (empty: the store's)")) }
                        input #max_downloads name="max_downloads" inputmode="numeric" value=(t("max_downloads", dg.max_downloads));
                        (field_error(e, "max_downloads"))
                    }
                    button type="submit" { (l.t("保存", "Save")) }
                }
                p.muted { a href={ (BASE) "/settings" } { (l.t("ストアの既定は設定で変更できます。", "The store's defaults are in the settings.")) } }
            }
        }
    }
}

/// The product's page after a form that is not a transaction of its own (an upload): back to
/// the page with a notice, or the page again with the API's messages at that form.
async fn settle(
    state: &Console,
    s: &Signed,
    id: ProductId,
    form: Form,
    done: &str,
    result: Result<(), Failure>,
    typed: &Fields,
) -> Result<Response, Failure> {
    match result {
        Ok(()) => Ok(Redirect::to(&format!("{BASE}/products/{id}?done={done}")).into_response()),
        Err(f) if f.is_form_error() => {
            let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
            let loaded = load(&mut tx, s, id).await?;
            tx.commit().await?;
            Ok(product_page(s, &loaded, None, Some((form, &f)), typed))
        }
        Err(f) => Err(f),
    }
}

/// An upload's refusal that names no field (a file that is no image, too large) is shown at
/// the file input.
fn at_file(mut f: Failure) -> Failure {
    if f.fields.is_empty() && f.is_form_error() {
        f.fields.push(FieldError::new("file", f.code, f.message.clone()));
    }
    f
}

fn body_of(data: Vec<u8>) -> impl futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send {
    futures::stream::once(async move { Ok::<_, std::io::Error>(bytes::Bytes::from(data)) })
}

/// Uploads an image (`images::upload::upload`, as `POST .../images`): its type from its
/// content, at a position, with its alt text.
async fn upload_image(
    State(state): State<Console>,
    Path(id): Path<String>,
    posted: PostedParts,
) -> Result<Response, Failure> {
    let id: ProductId = parse_id(&id)?;
    let typed = posted.fields();
    let s = &posted.signed;
    let result = async {
        let mut r = Reading::default();
        let position = typed.opt("position").and_then(|raw| r.take(form::int("position", &raw)));
        let file = posted.file("file");
        if file.is_none() {
            r.push(FieldError::new("file", "required", "choose an image file"));
        }
        r.done()?;
        let file = file.expect("checked above");
        let storage = state.settings.storage.as_ref().ok_or(images::ImageError::StorageUnavailable)?;
        let upload = images::upload::Upload {
            alt: typed.get("alt").to_string(),
            position,
            content_length: Some(file.data.len() as u64),
        };
        images::upload::upload(
            &state.db.store(s.ctx.store_id).await?,
            storage,
            state.settings.image_max_bytes,
            s.ctx.tenant_id,
            s.ctx.store_id,
            Acting::Staff(&s.ctx),
            id,
            upload,
            body_of(file.data.clone()),
        )
        .await
        .map_err(|e| at_file(e.into()))?;
        Ok(())
    }
    .await;
    settle(&state, s, id, Form::NewImage, "image_added", result, &typed).await
}

/// An image's alt text and position (`catalog::image::update`, as `PATCH .../images/{id}`).
async fn change_image(
    State(state): State<Console>,
    Path((id, image_id)): Path<(String, String)>,
    posted: Posted,
) -> Result<Response, Failure> {
    let image: ImageId = parse_id(&image_id)?;
    act(&state, posted, &id, Form::Image(image), "saved", async |tx, s, id, f| {
        let mut r = Reading::default();
        let position = f.opt("position").and_then(|raw| r.take(form::int("position", &raw)));
        r.done()?;
        let input = UpdateImage { alt: Some(f.get("alt").to_string()), position };
        catalog::image::update(tx, s.ctx.store_id, Acting::Staff(&s.ctx), id, image, input).await?;
        Ok(None)
    })
    .await
}

/// Deletes an image and its stored copies (`images::upload::delete`, as `DELETE .../images/{id}`).
async fn delete_image(
    State(state): State<Console>,
    Path((id, image_id)): Path<(String, String)>,
    posted: Posted,
) -> Result<Response, Failure> {
    let id: ProductId = parse_id(&id)?;
    let image: ImageId = parse_id(&image_id)?;
    let Posted { signed: s, form: typed } = posted;
    let result = async {
        images::upload::delete(
            &state.db.store(s.ctx.store_id).await?,
            state.settings.storage.as_ref(),
            s.ctx.tenant_id,
            s.ctx.store_id,
            Acting::Staff(&s.ctx),
            id,
            image,
        )
        .await?;
        Ok(())
    }
    .await;
    settle(&state, &s, id, Form::Image(image), "deleted", result, &typed).await
}

/// Uploads or replaces a digital variant's file (`digital::asset::upload`, as
/// `PUT .../variants/{id}/asset`): its name is the chosen file's, its type the browser's.
async fn upload_file(
    State(state): State<Console>,
    Path((id, variant_id)): Path<(String, String)>,
    posted: PostedParts,
) -> Result<Response, Failure> {
    let id: ProductId = parse_id(&id)?;
    let variant: VariantId = parse_id(&variant_id)?;
    let typed = posted.fields();
    let s = &posted.signed;
    let result = async {
        let Some(file) = posted.file("file") else {
            return Err(Failure::invalid(vec![FieldError::new("file", "required", "choose a file")]));
        };
        let storage = state.settings.storage.as_ref().ok_or(digital::DigitalError::StorageUnavailable)?;
        let upload = digital::asset::Upload {
            filename: file.filename.clone().unwrap_or_default(),
            content_type: file.content_type.clone(),
            content_length: Some(file.data.len() as u64),
        };
        digital::asset::upload(
            &state.db.store(s.ctx.store_id).await?,
            storage,
            s.ctx.tenant_id,
            s.ctx.store_id,
            Acting::Staff(&s.ctx),
            id,
            variant,
            upload,
            body_of(file.data.clone()),
        )
        .await
        .map_err(|e| at_file(e.into()))?;
        Ok(())
    }
    .await;
    settle(&state, s, id, Form::File(variant), "file_uploaded", result, &typed).await
}

/// The variant sells no file any more (`PATCH .../variants/{id}` with `digital_asset_id: null`).
async fn remove_file(
    State(state): State<Console>,
    Path((id, variant_id)): Path<(String, String)>,
    posted: Posted,
) -> Result<Response, Failure> {
    let vid: VariantId = parse_id(&variant_id)?;
    act(&state, posted, &id, Form::File(vid), "file_removed", async |tx, s, id, _| {
        let input = UpdateVariant { digital_asset_id: Some(None), ..Default::default() };
        variant::update_variant(tx, s.ctx.store_id, Acting::Staff(&s.ctx), id, vid, input).await?;
        Ok(None)
    })
    .await
}

/// The product's own download period and limit; blank is the store's
/// (`PUT .../digital-settings` with `null`).
async fn digital_settings(
    State(state): State<Console>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, Failure> {
    act(&state, posted, &id, Form::Digital, "saved", async |tx, s, id, f| {
        let mut r = Reading::default();
        let ttl = f.opt("url_ttl_seconds").and_then(|raw| r.take(form::int("url_ttl_seconds", &raw)));
        let max = f.opt("max_downloads").and_then(|raw| r.take(form::int("max_downloads", &raw)));
        r.done()?;
        let input = UpdateProductDigitalSettings { url_ttl_seconds: Some(ttl), max_downloads: Some(max) };
        catalog::digital::update_product_settings(tx, s.ctx.store_id, Acting::Staff(&s.ctx), id, input).await?;
        Ok(None)
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// CSV import

async fn import_form(s: Signed) -> Result<Response, Failure> {
    Ok(import_page(&s, None, None, "all_or_nothing"))
}

fn import_page(s: &Signed, report: Option<&ImportReport>, failed: Option<&Failure>, mode: &str) -> Response {
    let l = s.lang;
    let body = html! {
        h1 { (l.t("商品CSVインポート", "Import products (CSV)")) }
        p.muted { (l.t("Shopifyの商品CSV形式（UTF-8またはShift_JIS）。ハンドルが同じ商品は更新、新しいハンドルは登録されます。", "Shopify's product CSV layout (UTF-8 or Shift_JIS). A known handle updates its product; a new one creates one.")) }
        @if let Some(f) = failed {
            div.problem role="alert" data-code=(f.code) {
                p { (f.message) }
                @if !f.fields.is_empty() {
                    ul.import-errors {
                        @for e in &f.fields { li data-field=(e.field) { strong { (e.field) } ": " (e.message) } }
                    }
                }
            }
        }
        @if let Some(r) = report {
            section.panel.import-report role="status" {
                h2 { (l.t("インポート結果", "Import report")) }
                table {
                    tr { th { (l.t("読み込んだ行", "Rows read")) } td.num data-count="rows" { (r.rows) } }
                    tr { th { (l.t("登録した商品", "Products created")) } td.num data-count="products_created" { (r.products_created) } }
                    tr { th { (l.t("更新した商品", "Products updated")) } td.num data-count="products_updated" { (r.products_updated) } }
                    tr { th { (l.t("登録したバリエーション", "Variants created")) } td.num data-count="variants_created" { (r.variants_created) } }
                    tr { th { (l.t("更新したバリエーション", "Variants updated")) } td.num data-count="variants_updated" { (r.variants_updated) } }
                    @if let Some(enc) = &r.encoding { tr { th { (l.t("文字コード", "Encoding")) } td { (serde_json::to_value(enc).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()) } } }
                }
                @if !r.skipped.is_empty() {
                    h3 { (l.t("取り込まなかった行", "Rows skipped")) }
                    ul.import-skipped { @for e in &r.skipped { li data-field=(e.field) { strong { (e.field) } ": " (e.message) } } }
                }
                p { a href={ (BASE) "/products" } { (l.t("商品一覧へ", "To the products")) } }
            }
        }
        form.import method="post" action={ (BASE) "/products/import" } enctype="multipart/form-data" {
            (csrf(&s.csrf()))
            div {
                label for="file" { (l.t("CSVファイル", "CSV file")) }
                input #file type="file" name="file" accept=".csv,text/csv";
                (field_error(failed, "file"))
            }
            div {
                label for="mode" { (l.t("エラー行があるとき", "When a row is bad")) }
                select #mode name="mode" {
                    option value="all_or_nothing" selected[mode != "partial"] { (l.t("何も取り込まない", "Import nothing")) }
                    option value="partial" selected[mode == "partial"] { (l.t("その商品だけ飛ばす", "Skip that product")) }
                }
            }
            div.actions { button type="submit" { (l.t("インポート", "Import")) } }
        }
    };
    let status = failed.map(|f| f.status).unwrap_or(StatusCode::OK);
    layout::page_with_status(s, "/products", l.t("商品CSVインポート", "Import products"), body, status)
}

async fn import(State(state): State<Console>, posted: PostedParts) -> Result<Response, Failure> {
    let mode_text = posted.text("mode");
    let s = &posted.signed;
    let mode = match mode_text.as_str() {
        "partial" => ImportMode::Partial,
        _ => ImportMode::AllOrNothing,
    };
    let Some(file) = posted.file("file") else {
        let f = Failure::invalid(vec![FieldError::new("file", "required", "choose a CSV file")]);
        return Ok(import_page(s, None, Some(&f), &mode_text));
    };
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    let found =
        catalog::csv::import(&mut tx, s.ctx.store_id, Acting::Staff(&s.ctx), &file.data, mode, &mut |_, _| {}).await;
    match found {
        Ok(report) => {
            // searchable at the worker's next search sync, not after the outbox delivered every event
            search::sync::mark(&mut tx, s.ctx.store_id, &report.product_ids).await?;
            tx.commit().await?;
            Ok(import_page(s, Some(&report), None, &mode_text))
        }
        Err(e) => {
            tx.rollback().await?;
            let f = Failure::from(e);
            if !f.is_form_error() {
                return Err(f);
            }
            Ok(import_page(s, None, Some(&f), &mode_text))
        }
    }
}
