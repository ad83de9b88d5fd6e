//! The signed-in shopper's pages: the profile (name, kana, phone), the saved addresses (add,
//! edit, delete, with the checkout's address fields) and the order history with each order.
//! Every page reads and writes through the functions behind the API's `/account` routes
//! (`customers::account`, `customers::address`, `checkout::orders::for_customer`), for the
//! shopper of the `tenpo_shopper` cookie only: another shopper's address or order is "not
//! found", as there. Without a session, a page leads to the sign-in.

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Redirect, Response};
use checkout::documents::{self, DocumentKind};
use console::error::Failure;
use console::form::Fields;
use customers::account::{self, ShopperContext, UpdateAccount};
use customers::address::{self, CreateAddress, CustomerAddress, UpdateAddress};
use digital::delivery;
use http_api::AppState;
use kernel::access::Acting;
use kernel::{AddressId, DeliveryId, OrderId, PageRequest};
use maud::{Markup, html};
use serde::Deserialize;

use crate::address as fields_of;
use crate::layout::{self, L, input};
use crate::order::{Access, download_answer, page_body, status_label};
use crate::pages::encode;
use crate::shop::Shop;

#[derive(Debug, Default, Deserialize)]
pub struct Done {
    done: Option<String>,
    cursor: Option<String>,
}

/// The store and its signed-in shopper; without a session, the way to the sign-in page.
pub struct Signed {
    shop: Shop,
    ctx: ShopperContext,
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Self::Rejection> {
        let shop = Shop::from_request_parts(parts, s).await?;
        match shop.shopper(s, &parts.headers).await {
            Ok(Some(ctx)) => Ok(Signed { shop, ctx }),
            Ok(None) => Err(Redirect::to(&format!("{}/account/signin", shop.base())).into_response()),
            Err(f) => Err(layout::failure_page(None, &f)),
        }
    }
}

/// The account's menu, above each of its pages.
fn menu(base: &str, here: &str) -> Markup {
    let item = |key: &str, path: &str, label: &str| {
        html! {
            li { a href={ (base) "/account" (path) } aria-current=[(key == here).then_some("page")] { (label) } }
        }
    };
    html! {
        nav.account-menu aria-label="アカウント" {
            ul {
                (item("profile", "", "会員情報"))
                (item("addresses", "/addresses", "お届け先"))
                (item("orders", "/orders", "ご注文履歴"))
                li {
                    form.inline method="post" action={ (base) "/account/signout" } {
                        button.link #sign-out type="submit" { "ログアウト" }
                    }
                }
            }
        }
    }
}

/// A notice after a change (fixed words by key, never text from the URL).
fn notice(done: Option<&str>) -> Markup {
    let text = match done {
        Some("saved") => Some("保存しました。"),
        Some("added") => Some("お届け先を追加しました。"),
        Some("deleted") => Some("お届け先を削除しました。"),
        _ => None,
    };
    html! { @if let Some(t) = text { p.notice role="status" { (t) } } }
}

fn see(shop: &Shop, rest: &str) -> Response {
    Redirect::to(&format!("{}/account{rest}", shop.base())).into_response()
}

// ---- the profile ----

pub async fn profile(State(s): State<AppState>, Signed { shop, ctx }: Signed, Query(q): Query<Done>) -> Response {
    profile_page(&s, &shop, &ctx, None, None, q.done.as_deref()).await
}

async fn profile_page(
    s: &AppState,
    shop: &Shop,
    ctx: &ShopperContext,
    typed: Option<&Fields>,
    failure: Option<&Failure>,
    done: Option<&str>,
) -> Response {
    let loaded = async {
        let mut tx = shop.begin(s).await?;
        let a = account::get_account(&mut tx, ctx).await?;
        tx.commit().await?;
        Ok::<_, Failure>(a)
    }
    .await;
    let a = match loaded {
        Ok(a) => a,
        Err(f) => return layout::failure_page(None, &f),
    };
    let stored = Fields::from_pairs(vec![
        ("name".into(), a.name.clone()),
        ("name_kana".into(), a.name_kana.clone()),
        ("phone".into(), a.phone.as_deref().map(fields_of::national_phone).unwrap_or_default()),
    ]);
    let f = typed.unwrap_or(&stored);
    let base = shop.base();
    let body = html! {
        h1 { "会員情報" }
        (menu(&base, "profile"))
        (notice(done))
        (console::layout::problem(failure, &["name", "name_kana", "phone"]))
        dl.summary {
            dt { "メールアドレス" } dd #account-email { (a.email) }
            dt { "登録日" } dd { (L.date(&a.created_at.with_timezone(&kernel::jp::jst()).date_naive())) }
        }
        form.account #profile method="post" action={ (base) "/account" } novalidate {
            (input("name", "お名前", "text", f.get("name"), "name", failure))
            (input("name_kana", "お名前（フリガナ）", "text", f.get("name_kana"), "off", failure))
            (input("phone", "電話番号", "tel", f.get("phone"), "tel", failure))
            div.actions { button.primary type="submit" { "保存する" } }
        }
    };
    let status = failure.map(|f| f.status).unwrap_or(StatusCode::OK);
    shop.page(s, "会員情報", status, body).await
}

/// Name, kana and phone, through the API's `PATCH .../account` (an empty phone clears it).
pub async fn update_profile(State(s): State<AppState>, Signed { shop, ctx }: Signed, body: Bytes) -> Response {
    let f = match Fields::parse(&body) {
        Ok(f) => f,
        Err(e) => return layout::failure_page(None, &e),
    };
    let patch = UpdateAccount {
        name: Some(f.get("name").trim().to_string()),
        name_kana: Some(f.get("name_kana").trim().to_string()),
        phone: Some(f.get("phone").trim().to_string()),
    };
    let done = async {
        let mut tx = shop.begin(&s).await?;
        account::update_account(&mut tx, &ctx, patch).await?;
        tx.commit().await?;
        Ok::<_, Failure>(())
    }
    .await;
    match done {
        Ok(()) => see(&shop, "?done=saved"),
        Err(e) => profile_page(&s, &shop, &ctx, Some(&f), Some(&e), None).await,
    }
}

// ---- saved addresses ----

/// The shopper's saved addresses (the checkout offers them too).
pub async fn saved_addresses(s: &AppState, shop: &Shop, ctx: &ShopperContext) -> Result<Vec<CustomerAddress>, Failure> {
    let mut tx = shop.begin(s).await?;
    let list = address::list_addresses(&mut tx, ctx.store_id, Acting::System, ctx.customer_id).await?;
    tx.commit().await?;
    Ok(list)
}

pub async fn addresses(State(s): State<AppState>, Signed { shop, ctx }: Signed, Query(q): Query<Done>) -> Response {
    addresses_page(&s, &shop, &ctx, &Fields::default(), None, q.done.as_deref()).await
}

async fn addresses_page(
    s: &AppState,
    shop: &Shop,
    ctx: &ShopperContext,
    typed: &Fields,
    failure: Option<&Failure>,
    done: Option<&str>,
) -> Response {
    let list = match saved_addresses(s, shop, ctx).await {
        Ok(l) => l,
        Err(f) => return layout::failure_page(None, &f),
    };
    let base = shop.base();
    let body = html! {
        h1 { "お届け先" }
        (menu(&base, "addresses"))
        (notice(done))
        @if list.is_empty() {
            p #no-addresses { "保存したお届け先はまだありません。" }
        }
        ul.addresses {
            @for a in &list {
                li data-address=(a.id) {
                    span { (fields_of::one_line(&a.address)) }
                    @if a.is_default { " " span.badge { "いつものお届け先" } }
                    " "
                    a.edit href={ (base) "/account/addresses/" (a.id) } { "編集" }
                    form.inline method="post" action={ (base) "/account/addresses/" (a.id) "/delete" } {
                        button.link.delete type="submit" { "削除" }
                    }
                }
            }
        }
        section.panel aria-labelledby="add-h" {
            h2 #add-h { "お届け先を追加" }
            (console::layout::problem(failure, &SHOWN))
            form.account #add-address method="post" action={ (base) "/account/addresses" } novalidate {
                (fields_of::fields("", typed, failure))
                (default_box(typed.checked("is_default")))
                div.actions { button.primary type="submit" { "追加する" } }
            }
        }
    };
    let status = failure.map(|f| f.status).unwrap_or(StatusCode::OK);
    shop.page(s, "お届け先", status, body).await
}

/// The fields the address form shows errors at.
const SHOWN: [&str; 8] = ["name", "name_kana", "postal_code", "prefecture", "city", "line1", "line2", "phone"];

fn default_box(checked: bool) -> Markup {
    html! {
        div.field {
            label.choice {
                input #is_default type="checkbox" name="is_default" value="1" checked[checked];
                span { "いつものお届け先にする" }
            }
        }
    }
}

/// Saves an address through the API's `POST .../account/addresses` rules.
pub async fn add_address(State(s): State<AppState>, Signed { shop, ctx }: Signed, body: Bytes) -> Response {
    let f = match Fields::parse(&body) {
        Ok(f) => f,
        Err(e) => return layout::failure_page(None, &e),
    };
    let a = fields_of::input("", &f);
    let create = CreateAddress {
        kind: None,
        name: a.name,
        name_kana: a.name_kana,
        postal_code: a.postal_code,
        prefecture: a.prefecture,
        city: a.city,
        line1: a.line1,
        line2: a.line2,
        phone: a.phone,
        is_default: f.checked("is_default").then_some(true),
    };
    let done = async {
        let mut tx = shop.begin(&s).await?;
        address::create_address(&mut tx, ctx.store_id, Acting::System, ctx.customer_id, create).await?;
        tx.commit().await?;
        Ok::<_, Failure>(())
    }
    .await;
    match done {
        Ok(()) => see(&shop, "/addresses?done=added"),
        Err(e) => addresses_page(&s, &shop, &ctx, &f, Some(&e), None).await,
    }
}

pub async fn edit_address(
    State(s): State<AppState>,
    Signed { shop, ctx }: Signed,
    Path((_store, id)): Path<(String, AddressId)>,
) -> Response {
    edit_page(&s, &shop, &ctx, id, None, None).await
}

async fn edit_page(
    s: &AppState,
    shop: &Shop,
    ctx: &ShopperContext,
    id: AddressId,
    typed: Option<&Fields>,
    failure: Option<&Failure>,
) -> Response {
    let list = match saved_addresses(s, shop, ctx).await {
        Ok(l) => l,
        Err(f) => return layout::failure_page(None, &f),
    };
    // only the shopper's own: another's id is not found, as in the API
    let Some(current) = list.into_iter().find(|a| a.id == id) else {
        return layout::failure_page(None, &Failure::from(customers::CustomersError::AddressNotFound));
    };
    let stored = Fields::from_pairs(fields_of::pairs("", &current.address));
    let f = typed.unwrap_or(&stored);
    let base = shop.base();
    let body = html! {
        h1 { "お届け先の編集" }
        (menu(&base, "addresses"))
        (console::layout::problem(failure, &SHOWN))
        form.account #edit-address method="post" action={ (base) "/account/addresses/" (id) } novalidate {
            (fields_of::fields("", f, failure))
            (default_box(if typed.is_some() { f.checked("is_default") } else { current.is_default }))
            div.actions {
                button.primary type="submit" { "保存する" }
                a href={ (base) "/account/addresses" } { "戻る" }
            }
        }
    };
    let status = failure.map(|f| f.status).unwrap_or(StatusCode::OK);
    shop.page(s, "お届け先の編集", status, body).await
}

/// Changes a saved address through the API's `PATCH .../account/addresses/{address_id}`.
pub async fn update_address(
    State(s): State<AppState>,
    Signed { shop, ctx }: Signed,
    Path((_store, id)): Path<(String, AddressId)>,
    body: Bytes,
) -> Response {
    let f = match Fields::parse(&body) {
        Ok(f) => f,
        Err(e) => return layout::failure_page(None, &e),
    };
    let a = fields_of::input("", &f);
    let patch = UpdateAddress {
        kind: None,
        name: Some(a.name),
        name_kana: Some(a.name_kana.unwrap_or_default()),
        postal_code: Some(a.postal_code),
        prefecture: Some(a.prefecture),
        city: Some(a.city),
        line1: Some(a.line1),
        line2: Some(a.line2.unwrap_or_default()),
        phone: Some(a.phone.unwrap_or_default()),
        is_default: Some(f.checked("is_default")),
    };
    let done = async {
        let mut tx = shop.begin(&s).await?;
        address::update_address(&mut tx, ctx.store_id, Acting::System, ctx.customer_id, id, patch).await?;
        tx.commit().await?;
        Ok::<_, Failure>(())
    }
    .await;
    match done {
        Ok(()) => see(&shop, "/addresses?done=saved"),
        Err(e) if e.status == StatusCode::NOT_FOUND => layout::failure_page(None, &e),
        Err(e) => edit_page(&s, &shop, &ctx, id, Some(&f), Some(&e)).await,
    }
}

pub async fn delete_address(
    State(s): State<AppState>,
    Signed { shop, ctx }: Signed,
    Path((_store, id)): Path<(String, AddressId)>,
) -> Response {
    let done = async {
        let mut tx = shop.begin(&s).await?;
        address::delete_address(&mut tx, ctx.store_id, Acting::System, ctx.customer_id, id).await?;
        tx.commit().await?;
        Ok::<_, Failure>(())
    }
    .await;
    match done {
        Ok(()) => see(&shop, "/addresses?done=deleted"),
        Err(e) => layout::failure_page(None, &e),
    }
}

// ---- orders ----

/// The history: the API's `GET .../account/orders` (newest first, 20 a page).
pub async fn orders(State(s): State<AppState>, Signed { shop, ctx }: Signed, Query(q): Query<Done>) -> Response {
    let loaded = async {
        let mut tx = shop.begin(&s).await?;
        let emails = account::verified_emails(&mut tx, ctx.customer_id).await?;
        let page = PageRequest { limit: Some(20), cursor: q.cursor.clone() };
        let list = checkout::orders::for_customer(&mut tx, ctx.store_id, ctx.customer_id, &emails, &page).await?;
        tx.commit().await?;
        Ok::<_, Failure>(list)
    }
    .await;
    let list = match loaded {
        Ok(l) => l,
        Err(f) => return layout::failure_page(None, &f),
    };
    let base = shop.base();
    let body = html! {
        h1 { "ご注文履歴" }
        (menu(&base, "orders"))
        @if list.items.is_empty() {
            p #no-orders { "ご注文はまだありません。" }
        } @else {
            div.table-wrap {
                table.orders {
                    thead { tr { th { "ご注文番号" } th { "ご注文日" } th { "状況" } th.num { "お支払い合計" } } }
                    tbody {
                        @for o in &list.items {
                            tr data-order=(o.id) {
                                td { a href={ (base) "/account/orders/" (o.id) } { "#" (o.number) } }
                                td { (L.datetime(&o.placed_at)) }
                                td { span.status data-status=(o.status.as_str()) { (status_label(o.status)) } }
                                td.num { @if let Some(t) = &o.total { (L.money(t)) } }
                            }
                        }
                    }
                }
            }
            @if let Some(c) = &list.next_cursor {
                p { a rel="next" href={ (base) "/account/orders?cursor=" (encode(c)) } { "さらに表示" } }
            }
        }
    };
    shop.page(&s, "ご注文履歴", StatusCode::OK, body).await
}

/// One order of the shopper's (the API's `GET .../account/orders/{order_id}`), as the order
/// page shows it: with its downloads (what is left, until when) and the receipt once paid.
pub async fn order(
    State(s): State<AppState>,
    Signed { shop, ctx }: Signed,
    Path((_store, id)): Path<(String, OrderId)>,
    Query(q): Query<Refused>,
) -> Response {
    let loaded = async {
        let mut tx = shop.begin(&s).await?;
        let emails = account::verified_emails(&mut tx, ctx.customer_id).await?;
        let v = checkout::orders::customer_order(&mut tx, ctx.store_id, ctx.customer_id, &emails, id).await?;
        let digital = v.items.iter().any(|l| l.fulfillment_type == catalog::variant::FulfillmentType::Digital);
        let deliveries = if digital {
            Some(delivery::list_for_customer(&mut tx, ctx.store_id, ctx.customer_id, &emails, id).await?)
        } else {
            None
        };
        tx.commit().await?;
        Ok::<_, Failure>((v, deliveries))
    }
    .await;
    let (view, deliveries) = match loaded {
        Ok(v) => v,
        Err(f) => return layout::failure_page(None, &f),
    };
    let base = shop.base();
    let title = format!("ご注文 #{}", view.number);
    let body = html! {
        (menu(&base, "orders"))
        (page_body(&base, Access::Account, &view, deliveries.as_ref(), q.refused.as_deref()))
        p { a href={ (base) "/account/orders" } { "ご注文履歴に戻る" } }
    };
    shop.page(&s, &title, StatusCode::OK, body).await
}

#[derive(Debug, Default, Deserialize)]
pub struct Refused {
    /// What the download form answered, when it was refused.
    refused: Option<String>,
}

/// The receipt (領収書) of one of the shopper's orders, as the token link prints it.
pub async fn receipt(
    State(s): State<AppState>,
    Signed { shop, ctx }: Signed,
    Path((_store, id)): Path<(String, OrderId)>,
) -> Response {
    let done = async {
        let mut tx = shop.begin(&s).await?;
        let emails = account::verified_emails(&mut tx, ctx.customer_id).await?;
        let kind = DocumentKind::Receipt;
        let html =
            documents::for_customer(&mut tx, ctx.store_id, ctx.customer_id, &emails, id, kind, &Default::default())
                .await?;
        tx.commit().await?;
        Ok::<_, Failure>(html)
    }
    .await;
    match done {
        Ok(html) => Html(html).into_response(),
        Err(f) => layout::failure_page(None, &f),
    }
}

/// A download of one of the shopper's orders: counted as the token link's
/// (`digital::download::take_for_customer`), then the signed URL or back saying why not.
pub async fn download(
    State(s): State<AppState>,
    Signed { shop, ctx }: Signed,
    Path((_store, id, delivery)): Path<(String, OrderId, DeliveryId)>,
) -> Response {
    let back = |code: &str| see(&shop, &format!("/orders/{id}?refused={code}"));
    let Some(storage) = s.storage.as_ref() else { return back("storage_unavailable") };
    let taken = async {
        let mut tx = shop.begin(&s).await?;
        let emails = account::verified_emails(&mut tx, ctx.customer_id).await?;
        let granted = digital::download::take_for_customer(
            &mut tx,
            storage,
            ctx.store_id,
            ctx.customer_id,
            &emails,
            id,
            delivery,
        )
        .await?;
        tx.commit().await?;
        Ok::<_, Failure>(granted)
    }
    .await;
    download_answer(taken, back)
}
