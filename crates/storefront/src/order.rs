//! The order's page, by its token link (`/shop/{store}/orders/{id}?token=...`, where checkout
//! leads and what the order mail links to): status, what was bought, the bank account and due
//! date of a pending bank transfer, shipments with tracking numbers, digital downloads with
//! what is left of them, and the receipt once paid. The token reads as the API's
//! `X-Order-Token` does; a wrong or missing one is "not found", as there.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use checkout::documents::{self, DocumentKind, ReceiptChoice};
use checkout::order::{self, OrderView, PaymentMethod, PaymentStatus};
use console::error::Failure;
use console::form::Fields;
use digital::delivery::{self, OrderDeliveries};
use http_api::AppState;
use kernel::{DeliveryId, OrderId};
use maud::{Markup, html};
use serde::Deserialize;

use crate::layout::{self, Frame, L};
use crate::pages::encode;
use crate::shop::Shop;

#[derive(Debug, Default, Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
    /// What the download form answered, when it was refused.
    refused: Option<String>,
}

fn token_of(q: &TokenQuery) -> Result<String, Failure> {
    q.token
        .clone()
        .filter(|t| !t.is_empty() && t.len() <= 200)
        .ok_or_else(|| Failure::from(checkout::CheckoutError::OrderNotFound))
}

pub fn status_label(s: checkout::order::OrderStatus) -> &'static str {
    use checkout::order::OrderStatus::*;
    match s {
        PendingPayment => "ご入金待ち",
        Processing => "発送準備中",
        PartiallyShipped => "一部発送済み",
        Shipped => "発送済み",
        Delivered => "お届け済み",
        Completed => "完了",
        Canceled => "キャンセル",
    }
}

pub async fn show(
    State(s): State<AppState>,
    shop: Shop,
    Path((_store, id)): Path<(String, OrderId)>,
    Query(q): Query<TokenQuery>,
) -> Response {
    let base = shop.base();
    let loaded = async {
        let token = token_of(&q)?;
        let mut tx = shop.begin(&s).await?;
        let name = shop.name(&mut tx).await?;
        let view = order::by_token(&mut tx, shop.store_id, id, &token).await?;
        let digital = view.items.iter().any(|l| l.fulfillment_type == catalog::variant::FulfillmentType::Digital);
        let deliveries =
            if digital { Some(delivery::list_for_shopper(&mut tx, shop.store_id, id, &token).await?) } else { None };
        tx.commit().await?;
        Ok::<_, Failure>((name, token, view, deliveries))
    }
    .await;
    let (name, token, view, deliveries) = match loaded {
        Ok(l) => l,
        Err(f) => return layout::failure_page(None, &f),
    };
    let title = format!("ご注文 #{}", view.number);
    let body = page_body(&base, Access::Token(&token), &view, deliveries.as_ref(), q.refused.as_deref());
    let frame = Frame { base: &base, store_name: &name, title: &title, description: None };
    layout::respond(StatusCode::OK, layout::page(&frame, body))
}

/// How the shopper reached the order: by its token link, or signed in to the account whose
/// order it is. Either may download and see the receipt; the links differ.
#[derive(Clone, Copy)]
pub enum Access<'a> {
    Token(&'a str),
    Account,
}

impl Access<'_> {
    /// The order's own path with `rest` (`/receipt`, `/downloads/{id}`), as this access reaches it.
    fn path(&self, base: &str, o: &OrderView, rest: &str) -> String {
        match self {
            Access::Token(_) => format!("{base}/orders/{}{rest}", o.id),
            Access::Account => format!("{base}/account/orders/{}{rest}", o.id),
        }
    }

    /// A link to `rest`, with the token when there is one.
    fn link(&self, base: &str, o: &OrderView, rest: &str) -> String {
        match self {
            Access::Token(t) => format!("{}?token={}", self.path(base, o, rest), encode(t)),
            Access::Account => self.path(base, o, rest),
        }
    }
}

/// The order: status, payment, items, shipments, the downloads (`deliveries`, for an order
/// with digital lines) and the receipt once paid, for the token link and the account alike.
pub fn page_body(
    base: &str,
    access: Access,
    o: &OrderView,
    deliveries: Option<&OrderDeliveries>,
    refused: Option<&str>,
) -> Markup {
    html! {
        h1 { "ご注文 #" (o.number) }
        p { "ご注文ありがとうございます。" span.status data-status=(o.status.as_str()) { (status_label(o.status)) } }
        p.muted {
            "ご注文日時 " (L.datetime(&o.placed_at)) " · 確認メールを " (o.email) " にお送りしました。"
            @if matches!(access, Access::Token(_)) { "このページのURLでいつでもご注文の状況を確認できます。" }
        }
        @if o.payment.method == PaymentMethod::BankTransfer && o.payment.status == PaymentStatus::Pending {
            section.panel.bank #bank-transfer aria-labelledby="bank-h" {
                h2 #bank-h { "お振込のご案内" }
                p { "下記の口座へ " strong #amount-due { (L.money(&o.payment.amount)) } " をお振り込みください。" }
                @if let Some(a) = &o.payment.bank_account {
                    dl.summary {
                        dt { "銀行" } dd { (a.bank_name) " " (a.branch_name) }
                        dt { "口座種別" } dd { (if a.account_type == "toza" { "当座" } else { "普通" }) }
                        dt { "口座番号" } dd #account-number { (a.account_number) }
                        dt { "口座名義" } dd { (a.account_holder_kana) }
                    }
                }
                @if let Some(due) = &o.payment.due_at {
                    p { "お振込期限: " strong #due { (L.datetime(due)) } }
                }
            }
        }
        @if o.payment.method == PaymentMethod::Cod {
            p.panel #cod { "代金引換: 商品のお届け時に " strong { (L.money(&o.payment.amount)) } " をお支払いください。" }
        }
        @if o.payment.status == PaymentStatus::Confirmed {
            p.notice #paid { "ご入金を確認しました。" }
        }
        section.panel aria-labelledby="items-h" {
            h2 #items-h { "ご注文の商品" }
            div.table-wrap {
                table {
                    thead { tr { th { "商品" } th.num { "数量" } th.num { "小計" } } }
                    tbody {
                        @for l in &o.items {
                            tr data-sku=(l.sku) {
                                td { (l.product_title) @if !l.variant_title.is_empty() && l.variant_title != l.product_title { " " span.muted { (l.variant_title) } } }
                                td.num { (l.quantity) }
                                td.num { @if let Some(t) = &l.line_total { (L.money(t)) } }
                            }
                        }
                    }
                }
            }
            table.totals {
                tr { th { "商品合計" } td.num { (L.money(&o.subtotal)) } }
                @if o.discount.amount > 0 { tr { th { "割引" } td.num { "-" (L.money(&o.discount)) } } }
                tr { th { "送料" } td.num { (L.money(&o.shipping_fee)) } }
                @if o.cod_fee.amount > 0 { tr { th { "代引手数料" } td.num { (L.money(&o.cod_fee)) } } }
                tr.grand { th { "お支払い合計（税込）" } td.num #order-total { (L.money(&o.total)) } }
            }
        }
        @if !o.shipments.is_empty() && o.items.iter().any(|l| l.fulfillment_type != catalog::variant::FulfillmentType::Digital) {
            section.panel aria-labelledby="ship-h" {
                h2 #ship-h { "配送状況" }
                @if let Some(a) = &o.shipping_address {
                    p.muted { "お届け先: 〒" (a.postal_code) " " (a.prefecture) (a.city) (a.line1) " " (a.name) " 様" }
                }
                @if let Some(d) = &o.delivery_date { p { "お届け希望日: " (L.date(d)) @if let Some(sl) = &o.delivery_slot { " " (sl) } } }
                ul.shipments {
                    @for sh in &o.shipments {
                        li data-shipment=(sh.id) {
                            (match sh.status {
                                checkout::order::ShipmentStatus::Pending => "発送準備中",
                                checkout::order::ShipmentStatus::Shipped => "発送済み",
                                checkout::order::ShipmentStatus::Delivered => "お届け済み",
                                checkout::order::ShipmentStatus::Canceled => "キャンセル",
                            })
                            @if let Some(no) = &sh.tracking_no {
                                " · " (sh.carrier.as_deref().unwrap_or("配送業者")) " 伝票番号 " span.tracking { (no) }
                            }
                            @if let Some(at) = &sh.shipped_at { span.muted { " （" (L.datetime(at)) " 発送）" } }
                        }
                    }
                }
            }
        }
        @if let Some(d) = deliveries {
            section.panel #downloads aria-labelledby="dl-h" {
                h2 #dl-h { "ダウンロード" }
                @if let Some(code) = refused {
                    div.problem role="alert" data-code=(code) {
                        (match code {
                            "download_limit_reached" => "ダウンロード回数の上限に達しました。",
                            "download_expired" => "ダウンロード期限が過ぎました。",
                            "download_revoked" => "このダウンロードは停止されています。",
                            _ => "ダウンロードできませんでした。",
                        })
                    }
                }
                @if d.deliveries.is_empty() {
                    p.muted { "ご入金の確認後にダウンロードできるようになります。" }
                }
                ul {
                    @for dl in &d.deliveries {
                        li data-delivery=(dl.id) {
                            strong { (dl.product_title) } " "
                            @if let Some(f) = &dl.filename { span.muted { (f) } " " }
                            @if let Some(left) = dl.downloads_remaining { span.remaining data-remaining=(left) { "残り" (left) "回" } " " }
                            @if let Some(until) = &dl.url_expires_at { span.muted { (L.datetime(until)) "まで" } " " }
                            @if dl.downloadable {
                                form.download method="post" action=(access.path(base, o, &format!("/downloads/{}", dl.id))) {
                                    @if let Access::Token(t) = access { input type="hidden" name="token" value=(t); }
                                    button type="submit" { "ダウンロード" }
                                }
                            } @else {
                                span.muted.not-downloadable { "ダウンロードできません" }
                            }
                        }
                    }
                }
            }
        }
        @if o.payment.status == PaymentStatus::Confirmed {
            p { a #receipt href=(access.link(base, o, "/receipt")) { "領収書を表示する" } }
        }
    }
}

/// The receipt (領収書) as the API prints it, for the holder of the token.
pub async fn receipt(
    State(s): State<AppState>,
    shop: Shop,
    Path((_store, id)): Path<(String, OrderId)>,
    Query(q): Query<TokenQuery>,
) -> Response {
    let done = async {
        let token = token_of(&q)?;
        let mut tx = shop.begin(&s).await?;
        let html = documents::for_shopper(
            &mut tx,
            shop.store_id,
            id,
            &token,
            DocumentKind::Receipt,
            &ReceiptChoice::default(),
        )
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

/// A download: counts one and goes to the signed URL (the API's `download::take`); a used-up
/// or expired one comes back to the order's page saying so.
pub async fn download(
    State(s): State<AppState>,
    shop: Shop,
    _headers: HeaderMap,
    Path((_store, id, delivery)): Path<(String, OrderId, DeliveryId)>,
    body: Bytes,
) -> Response {
    let f = Fields::parse(&body).unwrap_or_default();
    let token = f.get("token").to_string();
    let back = |code: &str| {
        Redirect::to(&format!("{}/orders/{id}?token={}&refused={code}", shop.base(), encode(&token))).into_response()
    };
    let Some(storage) = s.storage.as_ref() else { return back("storage_unavailable") };
    let taken = async {
        let mut tx = shop.begin(&s).await?;
        let granted = digital::download::take(&mut tx, storage, shop.store_id, id, delivery, &token, None).await?;
        tx.commit().await?;
        Ok::<_, Failure>(granted)
    }
    .await;
    download_answer(taken, back)
}

/// What a download form answers: 303 to the signed URL, or back to the order's page saying
/// why not (used up, expired, revoked); anything else is a failure page.
pub fn download_answer(
    taken: Result<digital::download::GrantedDownload, Failure>,
    back: impl Fn(&str) -> Response,
) -> Response {
    match taken {
        Ok(g) => {
            let mut res = Redirect::to(&g.url).into_response();
            res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        Err(f) if f.status == StatusCode::GONE => back(f.code),
        Err(f) => layout::failure_page(None, &f),
    }
}
