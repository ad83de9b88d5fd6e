//! Checkout in three steps, each a form that posts: the shopper's details (email, address with
//! postal-code autofill as an enhancement, delivery date and slot where the store has them,
//! payment method with its fee), the final confirmation (everything the order will be and the
//! seller's terms, from the API's confirmation), and placing the order.
//!
//! The confirmation carries a fresh Idempotency-Key in a hidden field: a double click or a
//! reload of the placing post sends the same key, and the API's own placing (`http_api::shop::
//! place`) answers the same order and token again, so one order is placed.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use checkout::cart::{CartKey, CartView};
use checkout::order::{self, CheckoutOptions, Confirmation, MethodOption, PaymentMethod, PlaceOrder};
use console::error::Failure;
use console::form::{Fields, Reading};
use console::layout::field_error;
use customers::address::{AddressType, CustomerAddress};
use http_api::AppState;
use http_api::shop::{confirm as confirm_order, place as place_order};
use kernel::{AddressId, FieldError};
use maud::{Markup, html};
use serde::Deserialize;

use crate::address;
use crate::cart::active_cart;
use crate::layout::{self, Frame, L};
use crate::shop::{Shop, from_api};

/// The details form's address fields are named as the order names them.
const SHIPPING: &str = "shipping_address.";

/// Every field the steps carry.
const CARRIED: &[&str] = &[
    "email",
    "shipping_address.name",
    "shipping_address.name_kana",
    "shipping_address.postal_code",
    "shipping_address.prefecture",
    "shipping_address.city",
    "shipping_address.line1",
    "shipping_address.line2",
    "shipping_address.phone",
    "payment_method",
    "delivery_date",
    "delivery_slot",
];

fn method_label(m: PaymentMethod) -> &'static str {
    match m {
        PaymentMethod::BankTransfer => "銀行振込（前払い）",
        PaymentMethod::Cod => "代金引換",
    }
}

fn method_code(m: PaymentMethod) -> &'static str {
    match m {
        PaymentMethod::BankTransfer => "bank_transfer",
        PaymentMethod::Cod => "cod",
    }
}

/// The cart and its checkout options (for the typed prefecture, when it is one).
async fn load(
    s: &AppState,
    shop: &Shop,
    key: &CartKey,
    prefecture: Option<&str>,
) -> Result<(String, Option<(CartView, CheckoutOptions)>), Failure> {
    let mut tx = shop.begin(s).await?;
    let name = shop.name(&mut tx).await?;
    let Some(view) = active_cart(&mut tx, shop, Some(key)).await?.filter(|v| !v.items.is_empty()) else {
        return Ok((name, None));
    };
    let options = match order::options(&mut tx, shop.store_id, key, prefecture).await {
        Ok(o) => o,
        Err(e) => {
            let mut f = Failure::from(e);
            // the quote names the prefecture `prefecture`; the form, as the order does
            for e in &mut f.fields {
                if e.field == "prefecture" {
                    e.field = "shipping_address.prefecture".into();
                }
            }
            return Err(f);
        }
    };
    tx.commit().await?;
    Ok((name, Some((view, options))))
}

fn to_cart(shop: &Shop) -> Response {
    Redirect::to(&format!("{}/cart", shop.base())).into_response()
}

#[derive(Debug, Default, Deserialize)]
pub struct FormQuery {
    /// A saved address of the signed-in shopper to fill the address with.
    address: Option<AddressId>,
}

/// The signed-in shopper at checkout: their email and saved addresses.
struct Me {
    customer_id: kernel::CustomerId,
    email: String,
    addresses: Vec<CustomerAddress>,
}

async fn me(s: &AppState, shop: &Shop, headers: &HeaderMap) -> Result<Option<Me>, Failure> {
    let Some(ctx) = shop.shopper(s, headers).await? else { return Ok(None) };
    let mut tx = shop.begin(s).await?;
    let email = customers::account::get_account(&mut tx, &ctx).await?.email;
    tx.commit().await?;
    Ok(Some(Me {
        customer_id: ctx.customer_id,
        email,
        addresses: crate::account::saved_addresses(s, shop, &ctx).await?,
    }))
}

/// Step 1: the details form. Signed in, the cart becomes the account's (the API's
/// `PUT carts/{id}/customer`), the email is the account's and the address a saved one (the
/// chosen one, else the default); a guest is offered to sign in first.
pub async fn form(State(s): State<AppState>, shop: Shop, headers: HeaderMap, Query(q): Query<FormQuery>) -> Response {
    let Some(key) = shop.cart(&headers) else { return to_cart(&shop) };
    let mut pairs = Vec::new();
    let me = match me(&s, &shop, &headers).await {
        Ok(m) => m,
        Err(e) => return layout::failure_page(None, &e),
    };
    if let Some(me) = me {
        match crate::signin::claim_cart(&s, &shop, &headers, me.customer_id).await {
            Ok(true) => {}
            // ordered, gone or another account's: this shopper starts a cart of their own
            Ok(false) => return crate::signin::with_cookies(to_cart(&shop), &[shop.forget_cart()]),
            Err(e) => return layout::failure_page(None, &e),
        }
        pairs.push(("email".to_string(), me.email.clone()));
        let chosen = match q.address {
            Some(id) => me.addresses.iter().find(|a| a.id == id),
            None => me.addresses.iter().find(|a| a.is_default && a.address.kind == AddressType::Shipping),
        };
        if let Some(a) = chosen {
            pairs.extend(address::pairs(SHIPPING, &a.address));
        }
    }
    details(&s, &shop, &key, &headers, &Fields::from_pairs(pairs), None).await
}

/// Back from the confirmation to the details, filled in as they were.
pub async fn edit(State(s): State<AppState>, shop: Shop, headers: HeaderMap, body: Bytes) -> Response {
    let Some(key) = shop.cart(&headers) else { return to_cart(&shop) };
    let f = Fields::parse(&body).unwrap_or_default();
    details(&s, &shop, &key, &headers, &f, None).await
}

async fn details(
    s: &AppState,
    shop: &Shop,
    key: &CartKey,
    headers: &HeaderMap,
    f: &Fields,
    failure: Option<&Failure>,
) -> Response {
    let base = shop.base();
    let (name, loaded) = match load(s, shop, key, None).await {
        Ok(l) => l,
        Err(e) => return layout::failure_page(None, &e),
    };
    let me = match me(s, shop, headers).await {
        Ok(m) => m,
        Err(e) => return layout::failure_page(None, &e),
    };
    let Some((view, options)) = loaded else { return to_cart(shop) };
    let shipped = view.items.iter().any(|l| l.fulfillment_type != catalog::variant::FulfillmentType::Digital);
    let chosen = f.get("payment_method");
    let first_available = options.payment_methods.iter().find(|m| m.available).map(|m| method_code(m.method));
    let shown: Vec<&str> = CARRIED.to_vec();
    let body = html! {
        h1 { "ご注文手続き" }
        (who(&base, me.as_ref(), f))
        (console::layout::problem(failure, &shown))
        form.checkout method="post" action={ (base) "/checkout" } novalidate {
            fieldset {
                legend { "ご連絡先" }
                div.field {
                    label for="email" { "メールアドレス" }
                    input #email type="email" name="email" value=(f.get("email")) autocomplete="email" required;
                    (field_error(failure, "email"))
                }
            }
            fieldset {
                legend { @if shipped { "お届け先" } @else { "ご住所" } }
                (address::fields(SHIPPING, f, failure))
                (field_error(failure, "shipping_address"))
            }
            @if shipped {
                fieldset {
                    legend { "お届け希望日時（任意）" }
                    div.field {
                        label for="delivery_date" { "お届け希望日" }
                        input #delivery_date type="date" name="delivery_date" value=(f.get("delivery_date"));
                        (field_error(failure, "delivery_date"))
                    }
                    @if !options.delivery_slots.is_empty() {
                        div.field {
                            label for="delivery_slot" { "お届け時間帯" }
                            select #delivery_slot name="delivery_slot" {
                                option value="" { "指定なし" }
                                @for slot in &options.delivery_slots {
                                    option value=(slot.code) selected[f.get("delivery_slot") == slot.code] { (slot.label) }
                                }
                            }
                            (field_error(failure, "delivery_slot"))
                        }
                    }
                }
            }
            fieldset.methods {
                legend { "お支払い方法" }
                @for m in &options.payment_methods {
                    (method_choice(m, chosen, first_available))
                }
                (field_error(failure, "payment_method"))
            }
            div.actions {
                button.primary type="submit" { "確認画面へ進む" }
                a href={ (base) "/cart" } { "カートに戻る" }
            }
        }
    };
    let frame = Frame { base: &base, store_name: &name, title: "ご注文手続き", description: None };
    layout::respond(failure.map(|f| f.status).unwrap_or(StatusCode::OK), layout::page(&frame, body))
}

/// Signed in: who, and the saved addresses to deliver to (a link fills the form with one, no
/// script needed). A guest: sign in, make an account, or go on as a guest.
fn who(base: &str, me: Option<&Me>, f: &Fields) -> Markup {
    html! {
        @match me {
            Some(me) => {
                section.panel #signed-in aria-labelledby="me-h" {
                    h2 #me-h { "ログイン中" }
                    p { strong #me-email { (me.email) } " でご注文します。ご注文は" a href={ (base) "/account/orders" } { "ご注文履歴" } "に残ります。" }
                    @if !me.addresses.is_empty() {
                        ul.addresses {
                            @for a in &me.addresses {
                                @let used = address::pairs(SHIPPING, &a.address).iter().all(|(k, v)| f.get(k) == v);
                                li data-address=(a.id) {
                                    span { (address::one_line(&a.address)) } " "
                                    @if used { strong.chosen { "このお届け先に届けます" } }
                                    @else { a.use-address href={ (base) "/checkout?address=" (a.id) } { "この住所に届ける" } }
                                }
                            }
                        }
                    }
                }
            }
            None => {
                section.panel #sign-in-or-guest aria-labelledby="guest-h" {
                    h2 #guest-h { "ログインまたはゲスト購入" }
                    p {
                        a.button.secondary #checkout-sign-in href={ (base) "/account/signin?next=checkout" } { "ログインして購入" }
                        " "
                        a href={ (base) "/account/signup?next=checkout" } { "アカウントを作成" }
                    }
                    p.muted { "アカウントなしでも、このまま下のフォームに入力してゲストとしてご購入いただけます。" }
                }
            }
        }
    }
}

fn method_choice(m: &MethodOption, chosen: &str, first_available: Option<&str>) -> Markup {
    let code = method_code(m.method);
    let checked = m.available && (chosen == code || (chosen.is_empty() && first_available == Some(code)));
    html! {
        label.choice data-method=(code) {
            input type="radio" name="payment_method" value=(code) checked[checked] disabled[!m.available];
            span {
                strong { (method_label(m.method)) }
                @if m.cod_fee.amount > 0 { " 手数料 " (L.money(&m.cod_fee)) }
                @if m.available {
                    span.muted { " お支払い合計 " (L.money(&m.total)) "（送料 " (L.money(&m.shipping_fee)) "）" }
                } @else if let Some(r) = &m.reason {
                    span.muted { " ご利用いただけません: " (r) }
                }
            }
        }
    }
}

/// The order the fields describe (field errors of what is no date or no method).
fn read(f: &Fields) -> Result<PlaceOrder, Failure> {
    let mut r = Reading::default();
    let method = match f.get("payment_method") {
        "bank_transfer" => Some(PaymentMethod::BankTransfer),
        "cod" => Some(PaymentMethod::Cod),
        "" => {
            r.push(FieldError::new("payment_method", "required", "choose a payment method"));
            None
        }
        _ => {
            r.push(FieldError::new("payment_method", "invalid", "not a payment method"));
            None
        }
    };
    let date = match f.opt("delivery_date") {
        None => None,
        Some(d) => r.take(
            chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                .map_err(|_| FieldError::new("delivery_date", "invalid", "a date such as 2026-12-24")),
        ),
    };
    r.done()?;
    let shipping_address = address::any(SHIPPING, f).then(|| address::input(SHIPPING, f));
    Ok(PlaceOrder {
        email: f.get("email").trim().to_string(),
        shipping_address,
        billing_address: None,
        payment_method: method.unwrap_or(PaymentMethod::BankTransfer),
        delivery_date: date,
        delivery_slot: f.opt("delivery_slot"),
    })
}

/// Step 2: the final confirmation (最終確認画面): what is bought, for how much, sent where and
/// when, paid how, on the seller's terms: the API's confirmation (`http_api::shop::confirm`),
/// which checks the form as placing does and prices it by the same rule.
pub async fn confirm(State(s): State<AppState>, shop: Shop, headers: HeaderMap, body: Bytes) -> Response {
    let Some(key) = shop.cart(&headers) else { return to_cart(&shop) };
    let f = match Fields::parse(&body) {
        Ok(f) => f,
        Err(e) => return layout::failure_page(None, &e),
    };
    let input = match read(&f) {
        Ok(i) => i,
        Err(e) => return details(&s, &shop, &key, &headers, &f, Some(&e)).await,
    };
    let c = match confirm_order(&s, &shop.front(), &key, &input).await {
        Ok(c) => c,
        Err(e) => {
            let e = from_api(e);
            return if e.is_form_error() {
                details(&s, &shop, &key, &headers, &f, Some(&e)).await
            } else if e.status == StatusCode::NOT_FOUND {
                to_cart(&shop)
            } else {
                layout::failure_page(None, &e)
            };
        }
    };
    let name = match shop.begin(&s).await {
        Ok(mut tx) => shop.name(&mut tx).await.unwrap_or_default(),
        Err(e) => return layout::failure_page(None, &e),
    };
    let base = shop.base();
    let idempotency_key = uuid::Uuid::new_v4().to_string();
    let body = html! {
        h1 { "ご注文内容の確認" }
        p { "まだご注文は確定していません。内容をご確認のうえ「注文を確定する」を押してください。" }
        section.panel aria-labelledby="items-h" {
            h2 #items-h { "ご注文の商品" }
            div.table-wrap {
                table.lines {
                    thead { tr { th { "商品" } th.num { "単価" } th.num { "数量" } th.num { "小計" } } }
                    tbody {
                        @for line in &c.lines {
                            tr data-sku=(line.sku) {
                                td {
                                    (line.product_title)
                                    @if !line.variant_title.is_empty() && line.variant_title != line.product_title { " " span.muted { (line.variant_title) } }
                                    @if line.reduced_rate { " " span.muted { "※軽減税率対象" } }
                                }
                                td.num { (L.money(&line.unit_price)) }
                                td.num { (line.quantity) }
                                td.num { (L.money(&line.line_total)) }
                            }
                        }
                    }
                }
            }
            (totals(&c))
        }
        section.panel aria-labelledby="ship-h" {
            h2 #ship-h { "お届け先・ご連絡先" }
            dl.summary {
                dt { "メールアドレス" } dd { (input.email) }
                @if let Some(a) = &input.shipping_address {
                    dt { "お名前" } dd { (a.name) @if let Some(k) = &a.name_kana { "（" (k) "）" } }
                    dt { "ご住所" } dd { "〒" (a.postal_code) " " (a.prefecture) (a.city) (a.line1) @if let Some(l) = &a.line2 { " " (l) } }
                    @if let Some(p) = &a.phone { dt { "電話番号" } dd { (p) } }
                }
                @if let Some(d) = &c.delivery.date { dt { "お届け希望日" } dd { (L.date(d)) } }
                @if let Some(sl) = &c.delivery.slot { dt { "お届け時間帯" } dd #slot { (sl.label) } }
                @if let Some(t) = &c.delivery.timing { dt { "お届け時期" } dd.pre { (t) } }
            }
        }
        section.panel aria-labelledby="pay-h" {
            h2 #pay-h { "お支払い方法" }
            p #method data-method=(method_code(c.payment_method)) {
                (method_label(c.payment_method))
                @if c.payment_fee.amount > 0 { " （手数料 " (L.money(&c.payment_fee)) "）" }
            }
            @match c.payment_method {
                PaymentMethod::BankTransfer => p.muted { "ご注文後に振込先をご案内します。" },
                PaymentMethod::Cod => p.muted { "商品のお届け時に配達員へお支払いください。" },
            }
        }
        @for t in &c.terms {
            section.panel.terms aria-label={ (t.seller_name) "のご購入条件" } {
                h2 { "ご購入条件" @if c.terms.len() > 1 { "（" (t.seller_name) "）" } }
                dl.summary {
                    dt { "販売業者" } dd { (t.seller_name) }
                    dt { "お支払い時期" } dd.pre { (t.payment_timing) }
                    dt { "引渡時期" } dd.pre { (t.delivery_timing) }
                    dt { "返品・キャンセル" } dd.pre data-term="returns" { (t.returns_policy) }
                    @if let Some(v) = &t.offer_validity { dt { "申込みの有効期限" } dd.pre { (v) } }
                }
                p { a href={ (base) "/legal" } { "特定商取引法に基づく表記" } }
            }
        }
        form.place method="post" action={ (base) "/checkout/place" } data-once {
            @for field in CARRIED {
                input type="hidden" name=(field) value=(f.get(field));
            }
            input type="hidden" name="idempotency_key" value=(idempotency_key);
            div.actions {
                button.primary #place type="submit" { "注文を確定する" }
                button.secondary type="submit" formaction={ (base) "/checkout/edit" } { "入力内容を修正する" }
            }
        }
    };
    let frame = Frame { base: &base, store_name: &name, title: "ご注文内容の確認", description: None };
    layout::respond(StatusCode::OK, layout::page(&frame, body))
}

fn totals(c: &Confirmation) -> Markup {
    let yen = |amount: i64| L.money(&kernel::Money { amount, currency: c.total.currency });
    html! {
        table.totals {
            tr { th { "商品合計" } td.num { (L.money(&c.subtotal)) } }
            @if c.discount.amount > 0 {
                tr { th { "割引" @if let Some(code) = &c.promotion_code { "（" (code) "）" } } td.num { "-" (L.money(&c.discount)) } }
            }
            tr { th { "送料" } td.num #shipping-fee { (L.money(&c.shipping_fee)) } }
            @if c.payment_fee.amount > 0 { tr { th { "代引手数料" } td.num #cod-fee { (L.money(&c.payment_fee)) } } }
            tr.grand { th { "お支払い合計（税込）" } td.num #grand-total { (L.money(&c.total)) } }
            @for t in &c.tax_lines {
                tr.tax { td.muted colspan="2" {
                    (t.rate_bps / 100) "%対象 " (yen(t.taxable_amount)) "（内消費税 " (yen(t.tax_amount)) "）"
                } }
            }
        }
    }
}

/// Step 3: place the order (the API's placing, with the confirmation's Idempotency-Key), then
/// to the order's page by its token link.
pub async fn place(State(s): State<AppState>, shop: Shop, headers: HeaderMap, body: Bytes) -> Response {
    let Some(key) = shop.cart(&headers) else { return to_cart(&shop) };
    let f = match Fields::parse(&body) {
        Ok(f) => f,
        Err(e) => return layout::failure_page(None, &e),
    };
    let input = match read(&f) {
        Ok(i) => i,
        Err(e) => return details(&s, &shop, &key, &headers, &f, Some(&e)).await,
    };
    let idem = f.opt("idempotency_key").unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    match place_order(&s, &shop.front(), &key, &input, &idem).await {
        Ok((_, placed)) => {
            let id = placed["order"]["id"].as_str().unwrap_or_default();
            let token = placed["order_token"].as_str().unwrap_or_default();
            Redirect::to(&format!("{}/orders/{id}?token={}", shop.base(), crate::pages::encode(token))).into_response()
        }
        Err(e) => {
            let failure = from_api(e);
            if failure.status == StatusCode::UNPROCESSABLE_ENTITY || failure.code == "prices_changed" {
                details(&s, &shop, &key, &headers, &f, Some(&failure)).await
            } else {
                let base = shop.base();
                let name = match shop.begin(&s).await {
                    Ok(mut tx) => shop.name(&mut tx).await.unwrap_or_default(),
                    Err(_) => String::new(),
                };
                let frame = Frame { base: &base, store_name: &name, title: "", description: None };
                layout::failure_page(Some(&frame), &failure)
            }
        }
    }
}
