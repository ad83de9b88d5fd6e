//! The cart page and its forms: add (a cart is made on the first add and kept in the cart
//! cookie), quantities, the promotion code. Each form posts and redirects to the cart page
//! (Post/Redirect/Get), which says what became of the add: held, added, queued for a flash sale
//! (the page looks again every two seconds, no script needed) or refused (sold out).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use checkout::CheckoutError;
use checkout::cart::{self, CartKey, CartStatus, CartView, CreateCart};
use checkout::items::{self, AddItem, Decision, RequestStatus, SetQuantity};
use checkout::promotions::{self, ApplyCode};
use console::error::Failure;
use console::form::{Fields, Reading, int};
use db::Tx;
use http_api::AppState;
use http_api::shop::{Added, add_to_cart};
use kernel::{CartItemId, FieldError, ReservationRequestId, VariantId};
use maud::{Markup, html};
use serde::Deserialize;

use crate::layout::{self, Frame, L};
use crate::shop::{Shop, from_api};

#[derive(Debug, Default, Deserialize)]
pub struct CartQuery {
    added: Option<String>,
    refused: Option<String>,
    queued: Option<String>,
    done: Option<String>,
}

/// The shopper's active cart (from the cookie), if there is one.
pub async fn active_cart(tx: &mut Tx, shop: &Shop, key: Option<&CartKey>) -> Result<Option<CartView>, Failure> {
    let Some(key) = key else { return Ok(None) };
    match cart::get_cart(tx, shop.store_id, key).await {
        Ok(view) if view.status == CartStatus::Active => Ok(Some(view)),
        Ok(_) | Err(CheckoutError::CartNotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub async fn show(State(s): State<AppState>, shop: Shop, headers: HeaderMap, Query(q): Query<CartQuery>) -> Response {
    let key = shop.cart(&headers);
    render(&s, &shop, key.as_ref(), &q, None, "").await
}

/// The cart page; `failure` is a refused form of this page (the code typed stays).
async fn render(
    s: &AppState,
    shop: &Shop,
    key: Option<&CartKey>,
    q: &CartQuery,
    failure: Option<&Failure>,
    typed_code: &str,
) -> Response {
    let base = shop.base();
    let result = async {
        let mut tx = shop.begin(s).await?;
        let name = shop.name(&mut tx).await?;
        let view = active_cart(&mut tx, shop, key).await?;
        // a queued flash-sale add: its decision now
        let request = match (key, q.queued.as_deref().and_then(|r| r.parse::<ReservationRequestId>().ok())) {
            (Some(key), Some(id)) => items::get_request(&mut tx, shop.store_id, key, id).await.ok(),
            _ => None,
        };
        tx.commit().await?;
        Ok::<_, Failure>((name, view, request))
    }
    .await;
    let (name, view, request) = match result {
        Ok(r) => r,
        Err(f) => return layout::failure_page(None, &f),
    };
    let still_queued =
        request.as_ref().is_some_and(|r| matches!(r.status, RequestStatus::Queued | RequestStatus::Processing));
    let body = html! {
        h1 { "カート" }
        (notice(q, request.as_ref().map(|r| r.decision())))
        (layout::problem(failure))
        @match &view {
            None => {
                p #empty { "カートは空です。" }
                p { a href={ (base) "/" } { "お買い物を続ける" } }
            }
            Some(cart) if cart.items.is_empty() => {
                p #empty { "カートは空です。" }
                p { a href={ (base) "/" } { "お買い物を続ける" } }
            }
            Some(cart) => (lines(&base, cart, typed_code))
        }
    };
    let frame = Frame { base: &base, store_name: &name, title: "カート", description: None };
    let status = failure.map(|f| f.status).unwrap_or(StatusCode::OK);
    let count = view.as_ref().map(|v| v.item_count).unwrap_or(0);
    let mut res = layout::respond(status, layout::page_with_cart(&frame, Some(count), body));
    if still_queued {
        // the queue decides within seconds: look again without a script
        res.headers_mut().insert(header::REFRESH, HeaderValue::from_static("2"));
    }
    if key.is_some() && view.is_none() {
        // ordered, abandoned or gone: a new cart starts with the next add
        if let Ok(v) = HeaderValue::from_str(&shop.forget_cart()) {
            res.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    res
}

/// What the last form did, in fixed words (never text from the URL).
fn notice(q: &CartQuery, queued: Option<Decision>) -> Markup {
    let refused = |code: &str| match code {
        "sold_out" => "申し訳ありません。この商品は売り切れました。",
        "insufficient_stock" => "ご希望の数量の在庫がありません。数量を減らしてお試しください。",
        "limit_exceeded" => "お一人様の購入数の上限を超えています。",
        _ => "カートに追加できませんでした。",
    };
    html! {
        @if let Some(d) = queued {
            @match d {
                Decision::Pending => {
                    div.queued role="status" data-add="queued" {
                        "ただいま順番に受け付けています。このままお待ちください（自動で更新します）。"
                    }
                }
                Decision::Held { .. } => { div.notice role="status" data-add="held" { "順番が来ました。在庫を確保してカートに追加しました。" } }
                Decision::Added => { div.notice role="status" data-add="added" { "カートに追加しました。" } }
                Decision::Refused(r) => { div.problem role="alert" data-add="refused" data-code=(r.code()) { (refused(r.code())) } }
            }
        } @else if let Some(code) = q.refused.as_deref() {
            div.problem role="alert" data-add="refused" data-code=(code) { (refused(code)) }
        } @else if let Some(added) = q.added.as_deref() {
            div.notice role="status" data-add=(if added == "held" { "held" } else { "added" }) {
                @if added == "held" { "カートに追加しました。在庫を確保しています。" } @else { "カートに追加しました。" }
            }
        } @else if let Some(done) = q.done.as_deref() {
            div.notice role="status" {
                (match done {
                    "code" => "クーポンコードを適用しました。",
                    "code_removed" => "クーポンコードを外しました。",
                    _ => "カートを更新しました。",
                })
            }
        }
    }
}

fn lines(base: &str, cart: &CartView, typed_code: &str) -> Markup {
    html! {
        div.table-wrap {
            table.cart {
                thead { tr { th { "商品" } th.num { "単価" } th { "数量" } th.num { "小計" } } }
                tbody {
                    @for line in &cart.items {
                        tr data-sku=(line.sku) {
                            td {
                                (line.product_title)
                                @if !line.variant_title.is_empty() && line.variant_title != line.product_title { br; span.muted { (line.variant_title) } }
                                @if let Some(until) = &line.hold_expires_at {
                                    br; span.muted.hold { (L.datetime(until)) " まで在庫を確保しています" }
                                }
                            }
                            td.num { (L.money(&line.unit_price)) }
                            td {
                                form.qty method="post" action={ (base) "/cart/items/" (line.id) } {
                                    label.visually-hidden for={ "qty-" (line.id) } { (line.product_title) "の数量" }
                                    input.qty id={ "qty-" (line.id) } type="number" name="quantity" value=(line.quantity) min="0" max="1000" inputmode="numeric";
                                    " "
                                    button.secondary type="submit" { "更新" }
                                }
                                form.remove method="post" action={ (base) "/cart/items/" (line.id) } {
                                    input type="hidden" name="quantity" value="0";
                                    button.link type="submit" { "削除" }
                                }
                            }
                            td.num { (L.money(&line.line_total)) }
                        }
                    }
                }
            }
        }
        table.totals {
            tr { th { "商品合計" } td.num { (L.money(&cart.subtotal)) } }
            @if cart.discount.amount > 0 {
                tr.discount { th { "割引" @if let Some(c) = &cart.promotion_code { "（" (c) "）" } } td.num { "-" (L.money(&cart.discount)) } }
            }
            tr.grand { th { "合計（税込）" } td.num #cart-total { (L.money(&cart.total)) } }
        }
        p.muted { "送料・手数料はご注文手続きで表示します。" }
        div.panel {
            @if let Some(code) = &cart.promotion_code {
                form method="post" action={ (base) "/cart/promotion/remove" } {
                    "クーポンコード " strong { (code) } " "
                    button.link type="submit" { "外す" }
                }
            } @else {
                form.row method="post" action={ (base) "/cart/promotion" } {
                    div {
                        label for="code" { "クーポンコード" }
                        input #code type="text" name="code" value=(typed_code) autocomplete="off";
                    }
                    button.secondary type="submit" { "適用" }
                }
            }
        }
        div.actions {
            a.button #to-checkout href={ (base) "/checkout" } { "ご注文手続きへ" }
            a href={ (base) "/" } { "お買い物を続ける" }
        }
    }
}

fn see_cart(shop: &Shop, query: &str, cookie: Option<String>) -> Response {
    let mut res = Redirect::to(&format!("{}/cart{query}", shop.base())).into_response();
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        res.headers_mut().insert(header::SET_COOKIE, c);
    }
    res
}

/// The form's fields, or the refusal of a body that is no form.
fn fields(body: &Bytes) -> Result<Fields, Failure> {
    Fields::parse(body)
}

/// Add to cart: the cart is made on the first add (and kept in the cookie); the add goes
/// through the API's own add-to-cart (the flash-sale queue included).
pub async fn add(State(s): State<AppState>, shop: Shop, headers: HeaderMap, body: Bytes) -> Response {
    let base = shop.base();
    let f = match fields(&body) {
        Ok(f) => f,
        Err(e) => return layout::failure_page(None, &e),
    };
    let mut reading = Reading::default();
    let variant = reading.take(
        f.get("variant_id")
            .parse::<VariantId>()
            .map_err(|_| FieldError::new("variant_id", "invalid", "choose a variant")),
    );
    let quantity =
        if f.get("quantity").trim().is_empty() { Some(1) } else { reading.take(int("quantity", f.get("quantity"))) };
    if let Err(e) = reading.done() {
        return layout::failure_page(None, &e);
    }
    let (Some(variant_id), Some(quantity)) = (variant, quantity) else { return Redirect::to(&base).into_response() };
    // the shopper's cart, or a new one
    let existing = shop.cart(&headers);
    let made = async {
        let mut tx = shop.begin(&s).await?;
        if let Some(key) = &existing
            && active_cart(&mut tx, &shop, Some(key)).await?.is_some()
        {
            tx.commit().await?;
            return Ok::<_, Failure>((key.clone(), None));
        }
        let (_, created) = cart::create_cart(&mut tx, shop.store_id, CreateCart::default(), None, None).await?;
        tx.commit().await?;
        let id = created["cart"]["id"].as_str().and_then(|i| i.parse().ok());
        let secret = created["secret"].as_str().map(str::to_string);
        match (id, secret) {
            (Some(id), Some(secret)) => {
                let key = CartKey { id, secret };
                let cookie = shop.keep_cart(&key);
                Ok((key, Some(cookie)))
            }
            _ => Err(Failure::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the cart was not made")),
        }
    }
    .await;
    let (key, cookie) = match made {
        Ok(k) => k,
        Err(f) => return layout::failure_page(None, &f),
    };
    let input = AddItem { variant_id, quantity: Some(quantity) };
    match add_to_cart(&s, &shop.front(), &key, &input, None).await {
        Ok(Added::Decided(record)) => match record.decision() {
            Decision::Held { .. } => see_cart(&shop, "?added=held", cookie),
            Decision::Added => see_cart(&shop, "?added=added", cookie),
            Decision::Refused(r) => see_cart(&shop, &format!("?refused={}", r.code()), cookie),
            Decision::Pending => see_cart(&shop, &format!("?queued={}", record.id), cookie),
        },
        Ok(Added::Queued(request)) => see_cart(&shop, &format!("?queued={request}"), cookie),
        Err(e) if e.status == StatusCode::CONFLICT => see_cart(&shop, &format!("?refused={}", e.code), cookie),
        Err(e) => {
            let f = from_api(e);
            render(&s, &shop, Some(&key), &CartQuery::default(), Some(&f), "").await
        }
    }
}

/// A line's quantity (0 removes it).
pub async fn set_quantity(
    State(s): State<AppState>,
    shop: Shop,
    headers: HeaderMap,
    Path((_store, item)): Path<(String, CartItemId)>,
    body: Bytes,
) -> Response {
    let Some(key) = shop.cart(&headers) else { return see_cart(&shop, "", None) };
    let f = match fields(&body) {
        Ok(f) => f,
        Err(e) => return layout::failure_page(None, &e),
    };
    let done = async {
        let quantity = int("quantity", f.get("quantity")).map_err(|e| Failure::invalid(vec![e]))?;
        let mut tx = shop.begin(&s).await?;
        items::set_quantity(&mut tx, shop.store_id, &key, item, &SetQuantity { quantity }).await?;
        tx.commit().await?;
        Ok::<_, Failure>(())
    }
    .await;
    match done {
        Ok(()) => see_cart(&shop, "?done=quantity", None),
        Err(f) => render(&s, &shop, Some(&key), &CartQuery::default(), Some(&f), "").await,
    }
}

/// A promotion code on the cart; each reason it does not apply is the API's own message.
pub async fn apply_code(State(s): State<AppState>, shop: Shop, headers: HeaderMap, body: Bytes) -> Response {
    let Some(key) = shop.cart(&headers) else { return see_cart(&shop, "", None) };
    let f = match fields(&body) {
        Ok(f) => f,
        Err(e) => return layout::failure_page(None, &e),
    };
    let code = f.get("code").trim().to_string();
    let done = async {
        let mut tx = shop.begin(&s).await?;
        promotions::apply_to_cart(&mut tx, shop.store_id, &key, ApplyCode { code: code.clone() }).await?;
        tx.commit().await?;
        Ok::<_, Failure>(())
    }
    .await;
    match done {
        Ok(()) => see_cart(&shop, "?done=code", None),
        Err(f) => render(&s, &shop, Some(&key), &CartQuery::default(), Some(&f), &code).await,
    }
}

pub async fn remove_code(State(s): State<AppState>, shop: Shop, headers: HeaderMap) -> Response {
    let Some(key) = shop.cart(&headers) else { return see_cart(&shop, "", None) };
    let done = async {
        let mut tx = shop.begin(&s).await?;
        promotions::remove_from_cart(&mut tx, shop.store_id, &key).await?;
        tx.commit().await?;
        Ok::<_, Failure>(())
    }
    .await;
    match done {
        Ok(()) => see_cart(&shop, "?done=code_removed", None),
        Err(f) => render(&s, &shop, Some(&key), &CartQuery::default(), Some(&f), "").await,
    }
}
