//! An order's printable documents (docs/JAPAN.md): the invoice (適格請求書), the receipt (領収書)
//! and the delivery slip (納品書), as HTML for printing on A4.
//!
//! Every figure is the order's as stored: its lines, their prices and shares, its totals and its
//! consumption tax per rate. A document is one page per seller: in a single-brand store the
//! store (its name and registration number, `store_settings`), in a mall each vendor whose lines
//! the order holds (its name and registration number), with the totals and tax per rate of that
//! vendor's part (`vendor_part::narrow`: rounded once per rate, as that vendor's invoice states
//! it). A vendor's staff get their own part only.
//!
//! The receipt's addressee and 但し書き are chosen once: the first copy records them
//! (`order_receipts`), and every later copy shows those and is marked 再発行. A receipt exists
//! once the payment is received. A customer's erasure replaces the addressee of their orders'
//! receipts (`erase_addressees`); later copies show `(erased)`.

use catalog::variant::TaxClass;
use chrono::{DateTime, NaiveDate, Utc};
use db::Tx;
use kernel::access::{Acting, Permission};
use kernel::{Currency, Money, OrderId, StoreId, Validator, VendorId};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::CheckoutError;
use crate::order::{self, OrderView, PaymentMethod, PaymentStatus};
use crate::vendor_part;

/// Which document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DocumentKind {
    /// 請求書 (適格請求書 when the seller has a registration number).
    Invoice,
    /// 領収書: once the payment is received.
    Receipt,
    /// 納品書: the items with the address they ship to.
    DeliverySlip,
}

/// The receipt's addressee (宛名) and 但し書き, taken by the first copy only.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReceiptChoice {
    /// Receipt only, first copy: the addressee (default: the billing, else the shipping name).
    pub addressee: Option<String>,
    /// Receipt only, first copy: 但し書き (default: お品代).
    pub purpose: Option<String>,
}

/// The default 但し書き.
pub const DEFAULT_PURPOSE: &str = "お品代";

/// The document for staff: the whole order for the store's (or mall's) staff, the vendor's own
/// part for a vendor's staff (another vendor's order is a 404).
pub async fn for_staff(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    id: OrderId,
    kind: DocumentKind,
    choice: &ReceiptChoice,
) -> Result<String, CheckoutError> {
    by.require(Permission::OrdersRead)?;
    let view = vendor_part::for_staff(tx, store, by, id).await?;
    document(tx, store, view, kind, choice).await
}

/// The document for the shopper holding the order token.
pub async fn for_shopper(
    tx: &mut Tx,
    store: StoreId,
    id: OrderId,
    token: &str,
    kind: DocumentKind,
    choice: &ReceiptChoice,
) -> Result<String, CheckoutError> {
    let view = order::by_token(tx, store, id, token).await?;
    document(tx, store, view, kind, choice).await
}

/// The document for the signed-in shopper whose order it is ([`crate::orders::customer_order`]).
pub async fn for_customer(
    tx: &mut Tx,
    store: StoreId,
    customer: kernel::CustomerId,
    emails: &[String],
    id: OrderId,
    kind: DocumentKind,
    choice: &ReceiptChoice,
) -> Result<String, CheckoutError> {
    let view = crate::orders::customer_order(tx, store, customer, emails, id).await?;
    document(tx, store, view, kind, choice).await
}

/// A seller's page: who sells (name, registration number) and the part of the order it sold.
struct SellerPart {
    name: String,
    registration_number: Option<String>,
    part: OrderView,
}

/// The recorded receipt: what every copy shows.
struct Receipt {
    addressee: String,
    purpose: String,
    copies: i32,
}

async fn document(
    tx: &mut Tx,
    store: StoreId,
    view: OrderView,
    kind: DocumentKind,
    choice: &ReceiptChoice,
) -> Result<String, CheckoutError> {
    let receipt = match kind {
        DocumentKind::Receipt => Some(issue_receipt(tx, &view, choice).await?),
        _ => None,
    };
    let sellers = sellers(tx, store, view).await?;
    Ok(render(kind, &sellers, receipt.as_ref(), kernel::jp::today()).into_string())
}

/// The order split by seller (module docs).
async fn sellers(tx: &mut Tx, store: StoreId, view: OrderView) -> Result<Vec<SellerPart>, CheckoutError> {
    let house = tenancy::vendors::house_vendor(tx).await?;
    if house.is_some() {
        let name: Option<String> =
            sqlx::query_scalar("SELECT name FROM stores WHERE id = $1").bind(store).fetch_optional(&mut **tx).await?;
        let registration_number = tenancy::settings::registration_number(tx, store).await?;
        return Ok(vec![SellerPart { name: name.unwrap_or_default(), registration_number, part: view }]);
    }
    let mut vendors: Vec<VendorId> = Vec::new();
    for l in view.items.iter().filter(|l| l.canceled_at.is_none()) {
        if !vendors.contains(&l.vendor_id) {
            vendors.push(l.vendor_id);
        }
    }
    let mut out = Vec::new();
    for v in vendors {
        let vendor = tenancy::vendors::get_vendor(tx, v)
            .await
            .map_err(|e| CheckoutError::Db(sqlx::Error::Protocol(e.to_string())))?;
        let part = if view.vendor_id == Some(v) {
            view.clone()
        } else {
            // the part's own figures; contact details as the whole order has them
            let mut part = vendor_part::narrow(view.clone(), v, 36_500, Utc::now());
            part.billing_address = view.billing_address.clone();
            part
        };
        out.push(SellerPart { name: vendor.name, registration_number: vendor.registration_number, part });
    }
    Ok(out)
}

/// Erasure (`crate::erasure`): the receipts of these customers' orders keep no addressee (a
/// name the shopper may have typed); later copies show `(erased)`.
pub(crate) async fn erase_addressees(tx: &mut Tx, customers: &[kernel::CustomerId]) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE order_receipts r SET addressee = $2 FROM orders o
          WHERE o.id = r.order_id AND o.customer_id = ANY($1) AND r.addressee <> $2",
    )
    .bind(customers)
    .bind(customers::erase::ERASED)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

/// The first copy records the addressee and 但し書き; later copies count and show those.
async fn issue_receipt(tx: &mut Tx, view: &OrderView, choice: &ReceiptChoice) -> Result<Receipt, CheckoutError> {
    if view.payment.status != PaymentStatus::Confirmed {
        return Err(CheckoutError::ReceiptBeforePayment);
    }
    let mut v = Validator::new();
    let addressee = match choice.addressee.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
        Some(a) => short_text(&mut v, "addressee", a),
        None => default_addressee(view),
    };
    let purpose = match choice.purpose.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => short_text(&mut v, "purpose", p),
        None => DEFAULT_PURPOSE.to_string(),
    };
    v.into_result()?;
    let (addressee, purpose, copies): (String, String, i32) = sqlx::query_as(
        "INSERT INTO order_receipts (tenant_id, order_id, addressee, purpose) VALUES (app_tenant_id(), $1, $2, $3)
         ON CONFLICT (order_id) DO UPDATE SET copies = order_receipts.copies + 1, last_issued_at = now()
         RETURNING addressee, purpose, copies",
    )
    .bind(view.id)
    .bind(&addressee)
    .bind(&purpose)
    .fetch_one(&mut **tx)
    .await?;
    Ok(Receipt { addressee, purpose, copies })
}

fn short_text(v: &mut Validator, field: &str, s: &str) -> String {
    if s.chars().count() > 100 {
        v.push(field, "too_long", "must be at most 100 characters");
    }
    if s.chars().any(char::is_control) {
        v.push(field, "invalid", "must be one line of text");
    }
    s.to_string()
}

/// Who an invoice or receipt is made out to when the shopper did not say.
fn default_addressee(view: &OrderView) -> String {
    let name = view.billing_address.as_ref().or(view.shipping_address.as_ref()).map(|a| a.name.trim().to_string());
    let name = name.filter(|n| !n.is_empty()).unwrap_or_else(|| view.email.clone());
    name.chars().take(100).collect()
}

/// ¥1,234 for yen; other currencies in their major units.
fn yen(amount: i64, c: Currency) -> String {
    if c.as_str() != "JPY" {
        return Money::new(amount, c).to_string();
    }
    let digits = amount.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    format!("{}¥{out}", if amount < 0 { "-" } else { "" })
}

fn jst_date(at: &DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&kernel::jp::jst()).date_naive()
}

fn ja_date(d: NaiveDate) -> String {
    d.format("%Y年%-m月%-d日").to_string()
}

const PRINT_CSS: &str = r#"
@page { size: A4; margin: 14mm; }
* { box-sizing: border-box; }
body { margin: 0; color: #000; font: 10pt/1.5 "Noto Sans CJK JP", "Noto Sans JP", "IPAexGothic", "Hiragino Sans", "Yu Gothic", sans-serif; }
.doc { page-break-after: always; break-after: page; }
.doc:last-child { page-break-after: auto; break-after: auto; }
h1 { font-size: 20pt; letter-spacing: .5em; text-align: center; margin: 0 0 6mm; }
.reissue { display: inline-block; border: 2px solid #000; padding: 0 2mm; font-size: 12pt; letter-spacing: 0; margin-left: 4mm; vertical-align: middle; }
.head { display: flex; justify-content: space-between; gap: 10mm; margin-bottom: 6mm; }
.addressee { font-size: 14pt; border-bottom: 1px solid #000; min-width: 80mm; padding-bottom: 1mm; }
.meta { text-align: right; }
.seller { margin-top: 3mm; }
.amount { font-size: 18pt; border: 2px solid #000; padding: 2mm 6mm; display: inline-block; margin: 2mm 0; }
table { border-collapse: collapse; width: 100%; margin-top: 4mm; }
th, td { border: 1px solid #555; padding: 1.2mm 2mm; text-align: left; vertical-align: top; }
th { background: #eee; }
td.num, th.num { text-align: right; white-space: nowrap; }
table.totals { width: 60%; margin-left: 40%; }
.note { font-size: 9pt; margin-top: 3mm; }
.skipped { border: 2px solid #b00; background: #fff4f4; padding: 2mm 6mm; margin: 8mm auto; max-width: 210mm; }
@media print { .skipped { display: none; } }
@media screen { body { background: #ddd; } .doc { background: #fff; width: 210mm; min-height: 297mm; margin: 8mm auto; padding: 14mm; box-shadow: 0 0 3mm #999; } }
"#;

/// The Content-Security-Policy for a page that serves a document: its own inline style sheet
/// (allowed by its hash, so a strict policy such as the console's does not strip the A4 layout
/// and the page breaks) and nothing else.
pub fn content_security_policy() -> String {
    use base64::Engine;
    use sha2::Digest;
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(PRINT_CSS.as_bytes()));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    )
}

/// The document's name as printed.
fn title_of(kind: DocumentKind) -> &'static str {
    match kind {
        DocumentKind::Invoice => "請求書",
        DocumentKind::Receipt => "領収書",
        DocumentKind::DeliverySlip => "納品書",
    }
}

/// The document's HTML: one page per seller.
fn render(kind: DocumentKind, sellers: &[SellerPart], receipt: Option<&Receipt>, today: NaiveDate) -> Markup {
    let number = sellers.first().map(|s| s.part.number).unwrap_or_default();
    shell(kind, &format!("{} 注文番号 {number}", title_of(kind)), pages(kind, sellers, receipt, today))
}

/// One order's pages of a document, one per seller.
fn pages(kind: DocumentKind, sellers: &[SellerPart], receipt: Option<&Receipt>, today: NaiveDate) -> Markup {
    let reissue = receipt.is_some_and(|r| r.copies > 1);
    html! {
        @for s in sellers {
            (page(kind, title_of(kind), s, receipt, reissue, today))
        }
    }
}

/// A printable HTML document around pages (each `.doc` ends with a page break).
fn shell(kind: DocumentKind, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="ja" {
            head {
                meta charset="utf-8";
                title { (title) }
                style { (PreEscaped(PRINT_CSS)) }
            }
            body data-document=(match kind { DocumentKind::Invoice => "invoice", DocumentKind::Receipt => "receipt", DocumentKind::DeliverySlip => "delivery-slip" }) {
                (body)
            }
        }
    }
}

/// An order a batch left out, and why.
#[derive(Debug, Clone)]
pub struct Skipped {
    pub order_id: OrderId,
    /// Its number, when the order was found.
    pub number: Option<i64>,
    /// The reason's stable code (`receipt_before_payment`, `order_not_found`).
    pub code: &'static str,
}

/// Several orders' documents on one printable page (the console's bulk print).
#[derive(Debug, Clone)]
pub struct Batch {
    pub html: String,
    /// The numbers of the orders printed, in the order asked.
    pub printed: Vec<i64>,
    pub skipped: Vec<Skipped>,
}

/// One document of each of the orders, for staff, in the order given, each order's pages as
/// its own document has them (page breaks between). An order staff cannot see, and for a
/// receipt an order not paid yet, is left out and named as skipped at the top of the page
/// (on screen; it is not printed). Each receipt printed counts as a copy of that order's.
pub async fn batch_for_staff(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    ids: &[OrderId],
    kind: DocumentKind,
) -> Result<Batch, CheckoutError> {
    use kernel::Problem;
    by.require(Permission::OrdersRead)?;
    let today = kernel::jp::today();
    let (mut body, mut printed, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
    for &id in ids {
        let view = match vendor_part::for_staff(tx, store, by, id).await {
            Ok(v) => v,
            Err(CheckoutError::Db(e)) => return Err(CheckoutError::Db(e)),
            Err(e) => {
                skipped.push(Skipped { order_id: id, number: None, code: e.code() });
                continue;
            }
        };
        let receipt = match kind {
            DocumentKind::Receipt => match issue_receipt(tx, &view, &ReceiptChoice::default()).await {
                Ok(r) => Some(r),
                Err(CheckoutError::Db(e)) => return Err(CheckoutError::Db(e)),
                Err(e) => {
                    skipped.push(Skipped { order_id: id, number: Some(view.number), code: e.code() });
                    continue;
                }
            },
            _ => None,
        };
        printed.push(view.number);
        let sellers = sellers(tx, store, view).await?;
        body.push(pages(kind, &sellers, receipt.as_ref(), today));
    }
    let page = html! {
        @if !skipped.is_empty() {
            section.skipped {
                p { "次の注文は印刷していません:" }
                ul {
                    @for s in &skipped {
                        li data-skipped=(s.number.map(|n| n.to_string()).unwrap_or_default()) {
                            @match s.number { Some(n) => { "注文番号 " (n) }, None => { (s.order_id) } }
                            " — "
                            (match s.code {
                                "receipt_before_payment" => "入金前のため領収書は発行できません",
                                "order_not_found" => "注文が見つかりません",
                                _ => "印刷できません",
                            })
                        }
                    }
                }
            }
        }
        @for b in &body { (b) }
    };
    let title = format!("{} {}件", title_of(kind), printed.len());
    Ok(Batch { html: shell(kind, &title, page).into_string(), printed, skipped })
}

fn page(
    kind: DocumentKind,
    title: &str,
    s: &SellerPart,
    receipt: Option<&Receipt>,
    reissue: bool,
    today: NaiveDate,
) -> Markup {
    let o = &s.part;
    let c = o.currency;
    let lines: Vec<_> = o.items.iter().filter(|l| l.canceled_at.is_none()).collect();
    let has_reduced = lines.iter().any(|l| l.tax_class == TaxClass::Reduced);
    let addressee = match receipt {
        Some(r) => r.addressee.clone(),
        None if kind == DocumentKind::DeliverySlip => {
            o.shipping_address.as_ref().map(|a| a.name.clone()).unwrap_or_else(|| default_addressee(o))
        }
        None => default_addressee(o),
    };
    html! {
        section.doc data-vendor=(o.items.first().map(|l| l.vendor_id.to_string()).unwrap_or_default()) {
            h1 {
                (title)
                @if reissue { span.reissue data-reissue { "再発行" } }
            }
            div.head {
                div {
                    div.addressee data-addressee { (addressee) " 様" }
                    @if kind == DocumentKind::DeliverySlip {
                        @if let Some(a) = &o.shipping_address {
                            p {
                                "〒" (a.postal_code) " " (a.prefecture) (a.city) (a.line1)
                                @if let Some(l2) = &a.line2 { " " (l2) }
                            }
                        }
                    }
                }
                div.meta {
                    div { "発行日 " (ja_date(today)) }
                    div { "注文番号 " (o.number) }
                    div { "注文日 " (ja_date(jst_date(&o.placed_at))) }
                    div.seller {
                        strong { (s.name) }
                        @if let Some(n) = &s.registration_number {
                            div data-registration-number=(n) { "登録番号 " (n) }
                        }
                    }
                }
            }
            @if let Some(r) = receipt {
                p { "金額 " span.amount data-amount=(o.total.amount) { (yen(o.total.amount, c)) "-" } " (税込)" }
                p { "但し " (r.purpose) " として　上記正に領収いたしました。" }
                p {
                    @if let Some(at) = o.payment.confirmed_at { "領収日 " (ja_date(jst_date(&at))) "　" }
                    "お支払い方法 " (match o.payment.method { PaymentMethod::BankTransfer => "銀行振込", PaymentMethod::Cod => "代金引換" })
                }
            }
            @if kind == DocumentKind::Invoice {
                p { "下記の通りご請求申し上げます。" }
            }
            @if kind == DocumentKind::DeliverySlip {
                p { "下記の通り納品いたします。" }
            }
            table.lines {
                thead { tr { th { "品名" } th.num { "数量" } th.num { "単価" } th.num { "金額" } } }
                tbody {
                    @for l in &lines {
                        tr data-sku=(l.sku) {
                            td {
                                (l.product_title)
                                @if !l.variant_title.is_empty() { " / " (l.variant_title) }
                                @if l.tax_class == TaxClass::Reduced { " ※" }
                            }
                            td.num { (l.quantity) }
                            td.num { (yen(l.price_amount, c)) }
                            td.num { (yen(l.price_amount * l.quantity as i64, c)) }
                        }
                    }
                }
            }
            table.totals {
                tr { th { "小計" } td.num { (yen(o.subtotal.amount, c)) } }
                @if o.discount.amount > 0 { tr { th { "値引き" } td.num { "-" (yen(o.discount.amount, c)) } } }
                tr { th { "送料" } td.num { (yen(o.shipping_fee.amount, c)) } }
                @if o.cod_fee.amount > 0 { tr { th { "代引手数料" } td.num { (yen(o.cod_fee.amount, c)) } } }
                tr { th { "合計 (税込)" } td.num data-total=(o.total.amount) { (yen(o.total.amount, c)) } }
                @for t in &o.tax_lines {
                    tr data-rate=(t.rate_bps) data-taxable=(t.taxable_amount) data-tax=(t.tax_amount) {
                        th { (t.rate_bps / 100) "%対象" }
                        td.num { (yen(t.taxable_amount, c)) " (内消費税 " (yen(t.tax_amount, c)) ")" }
                    }
                }
            }
            @if has_reduced { p.note { "※は軽減税率 (8%) 対象商品です。" } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yen_groups_thousands() {
        assert_eq!(yen(0, Currency::JPY), "¥0");
        assert_eq!(yen(1944, Currency::JPY), "¥1,944");
        assert_eq!(yen(1_234_567, Currency::JPY), "¥1,234,567");
        assert_eq!(yen(-500, Currency::JPY), "-¥500");
    }
}
