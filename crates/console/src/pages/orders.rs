//! Orders: the list with EC-CUBE's filters and bulk actions, the CSV export, and one order with
//! its lines per vendor, totals and tax per rate, payment, shipments, cancellation and history.
//! Every action is the admin API's use case (`checkout::fulfillment`), called the same way.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use checkout::fulfillment::{self, CancelOrder, ConfirmPayment, DeliverShipment, ShipShipment};
use checkout::order::{OrderStatus, OrderView, PaymentMethod, PaymentStatus, ShipmentStatus};
use checkout::orders::{self, OrderFilter};
use kernel::access::{Acting, Permission};
use kernel::{FieldError, Money, OrderId, PageRequest, ShipmentId};
use maud::{Markup, html};
use serde::Deserialize;

use super::{parse_id, query, query_without};
use crate::error::Failure;
use crate::form::{self, Fields};
use crate::i18n::Lang;
use crate::layout::{self, csrf, field_error, notice, problem};
use crate::session::{Posted, Signed};
use crate::{BASE, Console};

pub fn routes() -> Router<Console> {
    Router::new()
        .route("/orders", get(list))
        .route("/orders/export", get(export))
        .route("/orders/bulk", post(bulk))
        .route("/orders/print", post(print))
        .route("/orders/{order_id}", get(detail))
        .route("/orders/{order_id}/confirm-payment", post(confirm_payment))
        .route("/orders/{order_id}/shipments/{shipment_id}/ship", post(ship))
        .route("/orders/{order_id}/shipments/{shipment_id}/deliver", post(deliver))
        .route("/orders/{order_id}/cancel", post(cancel))
        .route("/orders/{order_id}/refund-paid", post(refund_paid))
        .route("/orders/{order_id}/documents/{kind}", get(document))
}

pub fn status_label(l: Lang, s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::PendingPayment => l.t("入金待ち", "Awaiting payment"),
        OrderStatus::Processing => l.t("発送準備中", "Processing"),
        OrderStatus::PartiallyShipped => l.t("一部発送済み", "Partially shipped"),
        OrderStatus::Shipped => l.t("発送済み", "Shipped"),
        OrderStatus::Delivered => l.t("配達済み", "Delivered"),
        OrderStatus::Completed => l.t("完了", "Completed"),
        OrderStatus::Canceled => l.t("キャンセル", "Canceled"),
    }
}

fn method_label(l: Lang, m: PaymentMethod) -> &'static str {
    match m {
        PaymentMethod::BankTransfer => l.t("銀行振込", "Bank transfer"),
        PaymentMethod::Cod => l.t("代金引換", "Cash on delivery"),
    }
}

fn payment_label(l: Lang, s: PaymentStatus) -> &'static str {
    match s {
        PaymentStatus::Pending => l.t("未入金", "Pending"),
        PaymentStatus::Confirmed => l.t("入金済み", "Confirmed"),
        PaymentStatus::Failed => l.t("失敗", "Failed"),
    }
}

fn shipment_label(l: Lang, s: ShipmentStatus) -> &'static str {
    match s {
        ShipmentStatus::Pending => l.t("未発送", "Not shipped"),
        ShipmentStatus::Shipped => l.t("発送済み", "Shipped"),
        ShipmentStatus::Delivered => l.t("配達済み", "Delivered"),
        ShipmentStatus::Canceled => l.t("キャンセル", "Canceled"),
    }
}

const STATUSES: [OrderStatus; 7] = [
    OrderStatus::PendingPayment,
    OrderStatus::Processing,
    OrderStatus::PartiallyShipped,
    OrderStatus::Shipped,
    OrderStatus::Delivered,
    OrderStatus::Completed,
    OrderStatus::Canceled,
];

/// The carriers offered in forms (any other name may be typed through the API).
const CARRIERS: [&str; 4] = ["ヤマト運輸", "佐川急便", "日本郵便", "西濃運輸"];

#[derive(Deserialize, Default)]
struct Done {
    done: Option<String>,
}

fn selected<T: PartialEq>(a: Option<T>, b: T) -> bool {
    a == Some(b)
}

async fn list(State(state): State<Console>, s: Signed, RawQuery(raw): RawQuery) -> Result<Response, Failure> {
    list_page(&state, &s, raw.as_deref(), None).await
}

/// The list of the filters in `raw`; `prior` is what a bulk action on it could not do (shown
/// above the list, answered with its status).
pub(super) async fn list_page(
    state: &Console,
    s: &Signed,
    raw: Option<&str>,
    prior: Option<Failure>,
) -> Result<Response, Failure> {
    let l = s.lang;
    let parsed = query::<OrderFilter>(raw).and_then(|f| Ok((f, query::<PageRequest>(raw)?)));
    let (filter, page, failed) = match parsed {
        Ok((f, p)) => (f, p, None),
        Err(e) => (OrderFilter::default(), PageRequest::default(), Some(e)),
    };
    let done: Done = query(raw).unwrap_or_default();
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    let found = orders::list(&mut tx, s.ctx.store_id, Acting::Staff(&s.ctx), &filter, &page).await;
    tx.commit().await?;
    let failed = prior.or(failed);
    let (rows, failed) = match (found, failed) {
        (Ok(p), f) => (p, f),
        (Err(e), _) => {
            let f = Failure::from(e);
            if !f.is_form_error() {
                return Err(f);
            }
            (kernel::Page { items: Vec::new(), next_cursor: None }, Some(f))
        }
    };
    let can_confirm = s.ctx.allows(Permission::OrdersManage);
    let can_ship = s.ctx.allows(Permission::OrdersFulfill);
    let can_export = s.ctx.allows(Permission::DataExport);
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let body = html! {
        h1 { (l.t("注文", "Orders")) }
        (notice(l, done.done.as_deref()))
        (problem(failed.as_ref(), &[]))
        form.filters method="get" action={ (BASE) "/orders" } {
            div {
                label for="f-status" { (l.t("対応状況", "Status")) }
                select #f-status name="status" {
                    option value="" { (l.t("すべて", "All")) }
                    @for st in STATUSES {
                        option value=(st.as_str()) selected[selected(filter.status, st)] { (status_label(l, st)) }
                    }
                }
            }
            div {
                label for="f-method" { (l.t("支払方法", "Payment method")) }
                select #f-method name="payment_method" {
                    option value="" { (l.t("すべて", "All")) }
                    option value="bank_transfer" selected[selected(filter.payment_method, PaymentMethod::BankTransfer)] { (method_label(l, PaymentMethod::BankTransfer)) }
                    option value="cod" selected[selected(filter.payment_method, PaymentMethod::Cod)] { (method_label(l, PaymentMethod::Cod)) }
                }
            }
            div {
                label for="f-from" { (l.t("注文日（から）", "Placed from")) }
                input #f-from type="date" name="placed_from" value=(filter.placed_from.map(|d| d.to_string()).unwrap_or_default());
            }
            div {
                label for="f-to" { (l.t("注文日（まで）", "Placed to")) }
                input #f-to type="date" name="placed_to" value=(filter.placed_to.map(|d| d.to_string()).unwrap_or_default());
            }
            div {
                label for="f-number" { (l.t("注文番号", "Order number")) }
                input #f-number name="number" inputmode="numeric" value=(filter.number.map(|n| n.to_string()).unwrap_or_default());
            }
            div {
                label for="f-name" { (l.t("氏名・フリガナ", "Name or kana")) }
                input #f-name name="name" value=(text(&filter.name));
            }
            div {
                label for="f-phone" { (l.t("電話番号", "Phone")) }
                input #f-phone name="phone" type="tel" value=(text(&filter.phone));
            }
            div {
                label for="f-email" { (l.t("メールアドレス", "Email")) }
                input #f-email name="email" type="email" value=(text(&filter.email));
            }
            div {
                label for="f-tracking" { (l.t("お問い合わせ番号", "Tracking number")) }
                input #f-tracking name="tracking_no" value=(text(&filter.tracking_no));
            }
            @if filter.overdue == Some(true) { input type="hidden" name="overdue" value="true"; }
            div.actions {
                button type="submit" { (l.t("検索", "Search")) }
                a.button.secondary href={ (BASE) "/orders" } { (l.t("クリア", "Clear")) }
                @if can_export {
                    a.button.secondary href={ (BASE) "/orders/export?" (query_without(raw, &["cursor", "limit", "done"])) } download { (l.t("CSV出力", "Export CSV")) }
                    a.button.secondary href={ (BASE) "/orders/export?" (query_without(raw, &["cursor", "limit", "done", "encoding"])) "&encoding=utf-8-bom" } download { (l.t("CSV (Excel)", "CSV (Excel)")) }
                    a.button.secondary href={ (BASE) "/orders/export?" (query_without(raw, &["cursor", "limit", "done", "encoding"])) "&encoding=shift_jis" } download { (l.t("CSV (Shift_JIS)", "CSV (Shift_JIS)")) }
                }
            }
        }
        form method="post" action={ (BASE) "/orders/bulk" } {
            (csrf(&s.csrf()))
            @if (can_confirm || can_ship) && !rows.items.is_empty() {
                div.panel.bulk {
                    div.actions {
                        @if can_confirm {
                            button type="submit" name="action" value="confirm" { (l.t("選択した注文を入金済みにする", "Mark selected as paid")) }
                        }
                        @if can_ship {
                            div {
                                label for="bulk-carrier" { (l.t("配送業者", "Carrier")) }
                                select #bulk-carrier name="carrier" { @for c in CARRIERS { option value=(c) { (c) } } }
                            }
                            button type="submit" name="action" value="ship" { (l.t("選択した注文を発送済みにする", "Mark selected as shipped")) }
                        }
                    }
                    p.muted { (l.t("発送済みにする注文には、行ごとにお問い合わせ番号を入力してください。", "Enter a tracking number on each order to mark shipped.")) }
                }
            }
            @if !rows.items.is_empty() {
                div.panel.print.actions {
                    button.secondary type="submit" formaction={ (BASE) "/orders/print" } formtarget="_blank" name="kind" value="delivery-slip" { (l.t("選択した注文の納品書を印刷", "Print delivery slips of selected")) }
                    button.secondary type="submit" formaction={ (BASE) "/orders/print" } formtarget="_blank" name="kind" value="receipt" { (l.t("選択した注文の領収書を印刷（入金済みのみ）", "Print receipts of selected (paid only)")) }
                }
                (super::carrier::list_buttons(l, raw, can_ship))
            }
            div.table-wrap {
                table.responsive.orders {
                    thead { tr {
                        th { input type="checkbox" data-select-all="order" aria-label=(l.t("すべて選択", "Select all")); }
                        th { (l.t("注文番号", "No.")) }
                        th { (l.t("注文日時", "Placed")) }
                        th { (l.t("メールアドレス", "Email")) }
                        th { (l.t("支払方法", "Payment")) }
                        th { (l.t("対応状況", "Status")) }
                        th.num { (l.t("合計", "Total")) }
                        @if can_ship { th { (l.t("お問い合わせ番号", "Tracking no.")) } }
                    } }
                    tbody {
                        @for o in &rows.items {
                            tr data-order=(o.number) {
                                td { input type="checkbox" name="order" value=(o.id) aria-label={ "#" (o.number) }; }
                                td data-label=(l.t("注文番号", "No.")) { a href={ (BASE) "/orders/" (o.id) } { "#" (o.number) } }
                                td data-label=(l.t("注文日時", "Placed")) { (l.datetime(&o.placed_at)) }
                                td data-label=(l.t("メールアドレス", "Email")) { (o.email) }
                                td data-label=(l.t("支払方法", "Payment")) { (method_label(l, o.payment_method)) " · " (payment_label(l, o.payment_status)) }
                                td data-label=(l.t("対応状況", "Status")) { span class={ "status " (o.status.as_str()) } { (status_label(l, o.status)) } }
                                td.num data-label=(l.t("合計", "Total")) { (o.total.map(|m| l.money(&m)).unwrap_or_default()) }
                                @if can_ship {
                                    td data-label=(l.t("お問い合わせ番号", "Tracking no.")) {
                                        @if matches!(o.status, OrderStatus::Processing | OrderStatus::PartiallyShipped) {
                                            input name={ "tracking_" (o.id) } aria-label={ (l.t("お問い合わせ番号", "Tracking number")) " #" (o.number) };
                                        }
                                    }
                                }
                            }
                        }
                        @if rows.items.is_empty() {
                            tr { td colspan="8" .muted { (l.t("該当する注文はありません。", "No orders match.")) } }
                        }
                    }
                }
            }
        }
        @if let Some(cursor) = &rows.next_cursor {
            div.pager {
                a.next href={ (BASE) "/orders?" (query_without(raw, &["cursor", "done"])) "&cursor=" (cursor) } { (l.t("次のページ →", "Next page →")) }
            }
        }
    };
    let status = failed.as_ref().map(|f| f.status).unwrap_or(StatusCode::OK);
    Ok(layout::page_with_status(s, "/orders", l.t("注文", "Orders"), body, status))
}

async fn export(State(state): State<Console>, s: Signed, RawQuery(raw): RawQuery) -> Result<Response, Failure> {
    let filter = query::<OrderFilter>(raw.as_deref())?;
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    let csv = orders::export(&mut tx, s.ctx.store_id, Acting::Staff(&s.ctx), &filter).await?;
    tx.commit().await?;
    super::csv_download(&csv, raw.as_deref(), kernel::csv_file::CsvEncoding::Utf8, "orders.csv")
}

/// One outcome of a bulk action, per order.
struct Outcome {
    number: i64,
    failed: Option<Failure>,
}

/// Bulk actions over the selected orders, each order in its own transaction through the same
/// use case as its own page: "confirm" records the full amount still due of each bank transfer;
/// "ship" ships each order's waiting shipments with the carrier and the order's tracking number.
async fn bulk(State(state): State<Console>, posted: Posted) -> Result<Response, Failure> {
    let Posted { signed: s, form } = posted;
    let l = s.lang;
    let action = form.get("action").to_string();
    let ids: Vec<OrderId> = form.all("order").iter().filter_map(|id| id.parse().ok()).collect();
    if ids.is_empty() {
        return Err(Failure::invalid(vec![FieldError::new("order", "required", "select at least one order")]));
    }
    let by = Acting::Staff(&s.ctx);
    let mut outcomes = Vec::new();
    for id in ids {
        let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
        let order = match orders::get(&mut tx, s.ctx.store_id, by, id).await {
            Ok(o) => o,
            Err(e) => {
                outcomes.push(Outcome { number: 0, failed: Some(e.into()) });
                continue;
            }
        };
        let result: Result<(), Failure> = match action.as_str() {
            "confirm" => {
                let due = order.payment.amount.amount - order.payment.received.map(|m| m.amount).unwrap_or(0);
                let input =
                    ConfirmPayment { received: Money::new(due, order.currency), accept_short: false, note: None };
                fulfillment::confirm_bank_transfer(&mut tx, s.ctx.store_id, by, id, input)
                    .await
                    .map(|_| ())
                    .map_err(Into::into)
            }
            "ship" => {
                let tracking = form.get(&format!("tracking_{id}")).trim().to_string();
                let mut r = Ok(());
                for sh in order.shipments.iter().filter(|sh| sh.status == ShipmentStatus::Pending) {
                    let input =
                        ShipShipment { carrier: form.get("carrier").to_string(), tracking_no: tracking.clone() };
                    if let Err(e) = fulfillment::ship(&mut tx, s.ctx.store_id, by, id, sh.id, input).await {
                        r = Err(e.into());
                        break;
                    }
                }
                r
            }
            _ => Err(Failure::invalid(vec![FieldError::new("action", "invalid", "must be confirm or ship")])),
        };
        match result {
            Ok(()) => {
                tx.commit().await?;
                outcomes.push(Outcome { number: order.number, failed: None });
            }
            Err(f) => {
                tx.rollback().await?;
                outcomes.push(Outcome { number: order.number, failed: Some(f) });
            }
        }
    }
    if outcomes.iter().all(|o| o.failed.is_none()) {
        return Ok(Redirect::to(&format!("{BASE}/orders?done=bulk")).into_response());
    }
    let body = html! {
        h1 { (l.t("一括処理の結果", "Bulk action results")) }
        table.bulk-results {
            thead { tr { th { (l.t("注文番号", "No.")) } th { (l.t("結果", "Result")) } } }
            tbody {
                @for o in &outcomes {
                    tr {
                        td { @if o.number > 0 { "#" (o.number) } }
                        td {
                            @match &o.failed {
                                None => { (l.t("完了", "Done")) }
                                Some(f) => {
                                    span.problem data-code=(f.code) { (f.message) }
                                    @for e in &f.fields { span.field-error data-field=(e.field) { (e.field) ": " (e.message) } }
                                }
                            }
                        }
                    }
                }
            }
        }
        p { a href={ (BASE) "/orders" } { (l.t("注文一覧へ戻る", "Back to orders")) } }
    };
    Ok(layout::page_with_status(
        &s,
        "/orders",
        l.t("一括処理の結果", "Bulk action results"),
        body,
        StatusCode::UNPROCESSABLE_ENTITY,
    ))
}

/// Which form of the order page failed, to show its errors next to its fields.
#[derive(Clone, Copy, PartialEq)]
enum Form {
    Confirm,
    Ship(ShipmentId),
    Deliver(ShipmentId),
    Cancel,
    Refund,
}

/// The order's invoice, receipt or delivery slip, printable (the admin API's document).
async fn document(
    State(state): State<Console>,
    s: Signed,
    Path((id, kind)): Path<(String, String)>,
) -> Result<Response, Failure> {
    use checkout::documents::{self, DocumentKind, ReceiptChoice};
    let id: OrderId = parse_id(&id)?;
    let kind = match kind.as_str() {
        "invoice" => DocumentKind::Invoice,
        "receipt" => DocumentKind::Receipt,
        "delivery-slip" => DocumentKind::DeliverySlip,
        _ => return Err(Failure::new(StatusCode::NOT_FOUND, "not_found", "no such document")),
    };
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    let html =
        documents::for_staff(&mut tx, s.ctx.store_id, Acting::Staff(&s.ctx), id, kind, &ReceiptChoice::default())
            .await?;
    tx.commit().await?;
    Ok(printable(html))
}

/// A printable document: HTML with the document's own style allowed (by its hash).
fn printable(html: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8".to_string()),
            (header::CACHE_CONTROL, "no-store".to_string()),
            (header::CONTENT_SECURITY_POLICY, checkout::documents::content_security_policy()),
        ],
        html,
    )
        .into_response()
}

/// Bulk print from the list: one page with the chosen document (delivery slips or receipts) of
/// each selected order, page breaks between them (`checkout::documents::batch_for_staff`);
/// receipts only for paid orders, the others named at the top as skipped.
async fn print(State(state): State<Console>, posted: Posted) -> Result<Response, Failure> {
    use checkout::documents::{self, DocumentKind};
    let Posted { signed: s, form } = posted;
    let kind = match form.get("kind") {
        "delivery-slip" => DocumentKind::DeliverySlip,
        "receipt" => DocumentKind::Receipt,
        "invoice" => DocumentKind::Invoice,
        _ => {
            return Err(Failure::invalid(vec![FieldError::new(
                "kind",
                "invalid",
                "must be delivery-slip, receipt or invoice",
            )]));
        }
    };
    let ids: Vec<OrderId> = form.all("order").iter().filter_map(|id| id.parse().ok()).collect();
    if ids.is_empty() {
        return Err(Failure::invalid(vec![FieldError::new("order", "required", "select at least one order")]));
    }
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    let batch = documents::batch_for_staff(&mut tx, s.ctx.store_id, Acting::Staff(&s.ctx), &ids, kind).await?;
    tx.commit().await?;
    Ok(printable(batch.html))
}

async fn detail(
    State(state): State<Console>,
    s: Signed,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Failure> {
    let id: OrderId = parse_id(&id)?;
    let done: Done = query(raw.as_deref()).unwrap_or_default();
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    let order = orders::get(&mut tx, s.ctx.store_id, Acting::Staff(&s.ctx), id).await?;
    tx.commit().await?;
    Ok(order_page(&s, &order, done.done.as_deref(), None, &Fields::default()))
}

fn order_page(
    s: &Signed,
    o: &OrderView,
    done: Option<&str>,
    failed: Option<(Form, &Failure)>,
    typed: &Fields,
) -> Response {
    let l = s.lang;
    let err = |form: Form| failed.filter(|(f, _)| *f == form).map(|(_, e)| e);
    let can_manage = s.ctx.allows(Permission::OrdersManage);
    let can_fulfill = s.ctx.allows(Permission::OrdersFulfill);
    let token = s.csrf();
    let action = |rest: &str| format!("{BASE}/orders/{}{rest}", o.id);
    let typed_or = |name: &str, default: String| typed.opt(name).unwrap_or(default);
    let mut vendors: Vec<kernel::VendorId> = Vec::new();
    for line in &o.items {
        if !vendors.contains(&line.vendor_id) {
            vendors.push(line.vendor_id);
        }
    }
    let unshipped =
        o.shipments.iter().all(|sh| matches!(sh.status, ShipmentStatus::Pending | ShipmentStatus::Canceled));
    let body = html! {
        h1 {
            (l.t("注文", "Order")) " #" (o.number) " "
            span class={ "status " (o.status.as_str()) } data-status=(o.status.as_str()) { (status_label(l, o.status)) }
        }
        (notice(l, done))
        p.muted { (l.datetime(&o.placed_at)) " · " (o.email) }
        p.documents {
            @for (kind, ja, en) in [("invoice", "請求書", "Invoice"), ("receipt", "領収書", "Receipt"), ("delivery-slip", "納品書", "Delivery slip")] {
                @if kind != "receipt" || o.payment.status == PaymentStatus::Confirmed {
                    a.button.secondary href=(action(&format!("/documents/{kind}"))) target="_blank" data-document=(kind) { (l.t(ja, en)) " " (l.t("印刷", "print")) }
                    " "
                }
            }
        }
        @if o.vendor_id.is_some() {
            p.muted { (l.t("出店者としての表示です：自店の商品・配送・金額のみ表示されます。", "Your vendor's part of this order only.")) }
        }
        h2 { (l.t("商品", "Items")) }
        @for v in &vendors {
            @if vendors.len() > 1 { h3.muted { (l.t("出店者", "Vendor")) " " (v) } }
            div.table-wrap {
                table.responsive.lines {
                    thead { tr {
                        th { (l.t("商品", "Product")) } th { "SKU" } th { (l.t("税率", "Tax")) }
                        th.num { (l.t("単価", "Price")) } th.num { (l.t("数量", "Qty")) } th.num { (l.t("小計", "Total")) }
                    } }
                    tbody {
                        @for line in o.items.iter().filter(|i| i.vendor_id == *v) {
                            tr {
                                td data-label=(l.t("商品", "Product")) { (line.product_title) @if !line.variant_title.is_empty() { " / " (line.variant_title) } }
                                td data-label="SKU" { (line.sku) }
                                td data-label=(l.t("税率", "Tax")) { (if line.tax_class == catalog::variant::TaxClass::Reduced { "8%" } else { "10%" }) }
                                td.num data-label=(l.t("単価", "Price")) { (line.unit_price.map(|m| l.money(&m)).unwrap_or_default()) }
                                td.num data-label=(l.t("数量", "Qty")) { (line.quantity) }
                                td.num data-label=(l.t("小計", "Total")) { (line.line_total.map(|m| l.money(&m)).unwrap_or_default()) }
                            }
                        }
                    }
                }
            }
        }
        div.grid2 {
            section.panel.totals {
                h2 { (l.t("金額", "Totals")) }
                table {
                    tr { th { (l.t("小計", "Subtotal")) } td.num { (l.money(&o.subtotal)) } }
                    @if o.discount.amount > 0 {
                        tr { th { (l.t("値引き", "Discount")) @if let Some(c) = &o.promotion_code { " (" (c) ")" } } td.num { "-" (l.money(&o.discount)) } }
                    }
                    tr { th { (l.t("送料", "Shipping")) } td.num { (l.money(&o.shipping_fee)) } }
                    @if o.cod_fee.amount > 0 { tr { th { (l.t("代引手数料", "COD fee")) } td.num { (l.money(&o.cod_fee)) } } }
                    tr.total { th { (l.t("合計（税込）", "Total (tax incl.)")) } td.num data-total=(o.total.amount) { (l.money(&o.total)) } }
                    @for t in &o.tax_lines {
                        tr.tax { th.muted { (t.rate_bps / 100) (l.t("%対象", "% taxable")) } td.num.muted { (l.money(&Money::new(t.taxable_amount, o.currency))) " (" (l.t("内消費税", "tax")) " " (l.money(&Money::new(t.tax_amount, o.currency))) ")" } }
                    }
                }
            }
            section.panel.payment {
                h2 { (l.t("支払い", "Payment")) }
                p {
                    (method_label(l, o.payment.method)) " · "
                    span data-payment=(format!("{:?}", o.payment.status).to_lowercase()) { (payment_label(l, o.payment.status)) }
                }
                p { (l.t("請求額", "Due")) ": " (l.money(&o.payment.amount))
                    @if let Some(r) = &o.payment.received { " · " (l.t("入金額", "Received")) ": " (l.money(r)) }
                    @if o.payment.amount_mismatch { " · " strong { (l.t("金額不一致", "amount differs")) } }
                }
                @if let Some(due) = &o.payment.due_at { p.muted { (l.t("支払期限", "Pay by")) ": " (l.datetime(due)) } }
                @if o.payment.refund_owed.amount > 0 {
                    p { strong { (l.t("返金額", "Refund owed")) ": " (l.money(&o.payment.refund_owed)) }
                        @if let Some(at) = &o.payment.refunded_at { " · " (l.t("返金済み", "refunded")) " " (l.datetime(at)) } }
                    @if can_manage && o.payment.refunded_at.is_none() {
                        form method="post" action=(action("/refund-paid")) {
                            (csrf(&token))
                            (problem(err(Form::Refund), &[]))
                            button.secondary type="submit" { (l.t("返金済みにする", "Record refund paid")) }
                        }
                    }
                }
                @if can_manage && o.payment.method == PaymentMethod::BankTransfer && o.payment.status == PaymentStatus::Pending && o.status != OrderStatus::Canceled {
                    @let remaining = o.payment.amount.amount - o.payment.received.map(|m| m.amount).unwrap_or(0);
                    form.confirm-payment method="post" action=(action("/confirm-payment")) {
                        (csrf(&token))
                        (problem(err(Form::Confirm), &["received.amount", "received", "note"]))
                        div {
                            label for="received" { (l.t("入金額（円）", "Amount received (yen)")) }
                            input #received name="received" inputmode="numeric" value=(typed_or("received", remaining.to_string()));
                            (field_error(err(Form::Confirm), "received.amount"))
                            (field_error(err(Form::Confirm), "received"))
                        }
                        div {
                            label { input type="checkbox" name="accept_short" checked[typed.checked("accept_short")]; " " (l.t("不足額を受け入れる", "Accept a short amount")) }
                        }
                        div {
                            label for="note" { (l.t("メモ", "Note")) }
                            input #note name="note" value=(typed.get("note"));
                            (field_error(err(Form::Confirm), "note"))
                        }
                        button type="submit" { (l.t("入金を確認", "Confirm payment")) }
                    }
                }
            }
        }
        h2 { (l.t("配送", "Shipments")) }
        @for sh in &o.shipments {
            section.panel.shipment data-shipment=(sh.id) {
                p {
                    span.status data-shipment-status=(format!("{:?}", sh.status).to_lowercase()) { (shipment_label(l, sh.status)) }
                    @if let Some(c) = &sh.carrier { " · " (c) }
                    @if let Some(t) = &sh.tracking_no { " · " (l.t("お問い合わせ番号", "Tracking")) " " span.tracking { (t) } }
                    @if let Some(at) = &sh.shipped_at { " · " (l.t("発送", "shipped")) " " (l.datetime(at)) }
                    @if let Some(at) = &sh.delivered_at { " · " (l.t("配達", "delivered")) " " (l.datetime(at)) }
                }
                @if can_fulfill && sh.status == ShipmentStatus::Pending && o.status != OrderStatus::Canceled {
                    @let e = err(Form::Ship(sh.id));
                    form.ship method="post" action=(action(&format!("/shipments/{}/ship", sh.id))) {
                        (csrf(&token))
                        (problem(e, &["carrier", "tracking_no"]))
                        div {
                            label for={ "carrier-" (sh.id) } { (l.t("配送業者", "Carrier")) }
                            input id={ "carrier-" (sh.id) } name="carrier" list="carriers" value=(typed_or("carrier", CARRIERS[0].to_string()));
                            (field_error(e, "carrier"))
                        }
                        div {
                            label for={ "tracking-" (sh.id) } { (l.t("お問い合わせ番号", "Tracking number")) }
                            input id={ "tracking-" (sh.id) } name="tracking_no" value=(typed.get("tracking_no"));
                            (field_error(e, "tracking_no"))
                        }
                        button type="submit" { (l.t("発送済みにする", "Mark shipped")) }
                    }
                }
                @if can_fulfill && sh.status == ShipmentStatus::Shipped {
                    @let e = err(Form::Deliver(sh.id));
                    form.deliver method="post" action=(action(&format!("/shipments/{}/deliver", sh.id))) {
                        (csrf(&token))
                        (problem(e, &["collected.amount", "collected"]))
                        @if o.payment.method == PaymentMethod::Cod {
                            div {
                                label for={ "collected-" (sh.id) } { (l.t("代引回収額（円）", "Collected (yen)")) }
                                input id={ "collected-" (sh.id) } name="collected" inputmode="numeric" value=(typed_or("collected", o.payment.amount.amount.to_string()));
                                (field_error(e, "collected.amount"))
                                (field_error(e, "collected"))
                            }
                        }
                        button type="submit" { (l.t("配達済みにする", "Mark delivered")) }
                    }
                }
            }
        }
        datalist #carriers { @for c in CARRIERS { option value=(c) {} } }
        div.grid2 {
            @for (title, a) in [(l.t("お届け先", "Ship to"), &o.shipping_address), (l.t("請求先", "Bill to"), &o.billing_address)] {
                @if let Some(a) = a {
                    section.panel.address {
                        h2 { (title) }
                        p { (a.name) @if !a.name_kana.is_empty() { " (" (a.name_kana) ")" } br;
                            "〒" (a.postal_code) " " (a.prefecture) (a.city) (a.line1) @if let Some(l2) = &a.line2 { " " (l2) } br;
                            @if let Some(p) = &a.phone { (p) } }
                    }
                }
            }
        }
        @if o.delivery_date.is_some() || o.delivery_slot.is_some() {
            p { (l.t("お届け希望", "Delivery")) ": " @if let Some(d) = &o.delivery_date { (l.date(d)) " " } @if let Some(sl) = &o.delivery_slot { (sl) } }
        }
        @if can_manage && unshipped && o.status != OrderStatus::Canceled {
            section.panel.cancel {
                h2 { (l.t("キャンセル", "Cancel")) }
                form method="post" action=(action("/cancel")) {
                    (csrf(&token))
                    (problem(err(Form::Cancel), &["reason"]))
                    div {
                        label for="reason" { (l.t("理由", "Reason")) }
                        input #reason name="reason" value=(typed.get("reason"));
                        (field_error(err(Form::Cancel), "reason"))
                    }
                    button.danger type="submit" data-confirm=(l.t("この注文をキャンセルしますか？", "Cancel this order?")) { (l.t("注文をキャンセル", "Cancel order")) }
                }
            }
        }
        @if let Some(reason) = &o.cancel_reason { p { (l.t("キャンセル理由", "Cancel reason")) ": " (reason) } }
        @if let Some(history) = &o.history {
            h2 { (l.t("履歴", "History")) }
            ol.timeline {
                @for h in history {
                    li {
                        span.muted { (l.datetime(&h.created_at)) } " "
                        @if let Some(from) = &h.from_status { (label_of(l, from)) " → " }
                        strong { (label_of(l, &h.to_status)) }
                        " " span.muted { "(" (h.actor_type) ")" }
                        @if let Some(n) = &h.note { " — " (n) }
                    }
                }
            }
        }
        p { a href={ (BASE) "/orders" } { "← " (l.t("注文一覧", "All orders")) } }
    };
    let status = failed.map(|(_, f)| f.status).unwrap_or(StatusCode::OK);
    layout::page_with_status(s, "/orders", &format!("{} #{}", l.t("注文", "Order"), o.number), body, status)
}

fn label_of(l: Lang, status: &str) -> Markup {
    let found = STATUSES.iter().find(|s| s.as_str() == status);
    html! { @match found { Some(s) => (status_label(l, *s)), None => (status) } }
}

/// Runs one action of the order page in a transaction: on success back to the page with a
/// notice; on a problem the person can fix, the page again with the API's messages at the form.
async fn act<F>(
    state: &Console,
    posted: Posted,
    raw_id: &str,
    form: Form,
    done: &str,
    run: F,
) -> Result<Response, Failure>
where
    F: AsyncFnOnce(&mut db::Tx, kernel::StoreId, Acting<'_>, OrderId, &Fields) -> Result<(), Failure>,
{
    let Posted { signed: s, form: fields } = posted;
    let id: OrderId = parse_id(raw_id)?;
    let by = Acting::Staff(&s.ctx);
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    match run(&mut tx, s.ctx.store_id, by, id, &fields).await {
        Ok(()) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("{BASE}/orders/{id}?done={done}")).into_response())
        }
        Err(f) if f.is_form_error() => {
            tx.rollback().await?;
            let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
            let order = orders::get(&mut tx, s.ctx.store_id, by, id).await?;
            tx.commit().await?;
            Ok(order_page(&s, &order, None, Some((form, &f)), &fields))
        }
        Err(f) => Err(f),
    }
}

async fn confirm_payment(
    State(state): State<Console>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, Failure> {
    act(&state, posted, &id, Form::Confirm, "confirmed", async |tx, store, by, order, f| {
        let received = form::yen("received.amount", f.get("received")).map_err(|e| Failure::invalid(vec![e]))?;
        let input = ConfirmPayment { received, accept_short: f.checked("accept_short"), note: f.opt("note") };
        fulfillment::confirm_bank_transfer(tx, store, by, order, input).await?;
        Ok(())
    })
    .await
}

async fn ship(
    State(state): State<Console>,
    Path((id, shipment)): Path<(String, String)>,
    posted: Posted,
) -> Result<Response, Failure> {
    let shipment: ShipmentId = parse_id(&shipment)?;
    act(&state, posted, &id, Form::Ship(shipment), "shipped", async |tx, store, by, order, f| {
        let input =
            ShipShipment { carrier: f.get("carrier").to_string(), tracking_no: f.get("tracking_no").to_string() };
        fulfillment::ship(tx, store, by, order, shipment, input).await?;
        Ok(())
    })
    .await
}

async fn deliver(
    State(state): State<Console>,
    Path((id, shipment)): Path<(String, String)>,
    posted: Posted,
) -> Result<Response, Failure> {
    let shipment: ShipmentId = parse_id(&shipment)?;
    act(&state, posted, &id, Form::Deliver(shipment), "delivered", async |tx, store, by, order, f| {
        let collected = match f.opt("collected") {
            Some(raw) => Some(form::yen("collected.amount", &raw).map_err(|e| Failure::invalid(vec![e]))?),
            None => None,
        };
        fulfillment::deliver(tx, store, by, order, shipment, DeliverShipment { collected }).await?;
        Ok(())
    })
    .await
}

async fn cancel(State(state): State<Console>, Path(id): Path<String>, posted: Posted) -> Result<Response, Failure> {
    act(&state, posted, &id, Form::Cancel, "canceled", async |tx, store, by, order, f| {
        fulfillment::cancel(tx, store, by, order, CancelOrder { reason: f.get("reason").to_string() }).await?;
        Ok(())
    })
    .await
}

async fn refund_paid(
    State(state): State<Console>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, Failure> {
    act(&state, posted, &id, Form::Refund, "refunded", async |tx, store, by, order, _| {
        fulfillment::mark_refunded(tx, store, by, order).await?;
        Ok(())
    })
    .await
}
