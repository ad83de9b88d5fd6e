//! The home page: today's work (payments awaited and overdue, orders to ship, low stock).

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use kernel::access::{Acting, Permission};
use maud::html;

use crate::error::Failure;
use crate::session::Signed;
use crate::{BASE, Console, layout};

pub fn routes() -> Router<Console> {
    Router::new().route("/", get(home))
}

async fn home(State(state): State<Console>, s: Signed) -> Result<Response, Failure> {
    let l = s.lang;
    let by = Acting::Staff(&s.ctx);
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    let store = tenancy::stores::get_store(&mut tx, s.ctx.store_id).await?;
    let work = if s.ctx.allows(Permission::OrdersRead) {
        Some(checkout::orders::work(&mut tx, s.ctx.store_id, by).await?)
    } else {
        None
    };
    let low = if s.ctx.allows(Permission::InventoryRead) {
        Some(inventory::movements::low_stock(&mut tx, s.ctx.store_id, by, 20).await?)
    } else {
        None
    };
    // a mall's vendors and their statements are a page of their own
    let is_mall = tenancy::vendors::house_vendor(&mut tx).await?.is_none();
    tx.commit().await?;
    let body = html! {
        h1 { (store.name) }
        @if is_mall && s.ctx.allows(Permission::CatalogRead) {
            p.mall { a href={ (BASE) "/vendors" } { (l.t("出店者と支払明細書 →", "Vendors and statements →")) } }
        }
        @if let Some(w) = work {
            h2 { (l.t("今日の仕事", "Today's work")) }
            div.cards {
                a.card href={ (BASE) "/orders?status=pending_payment" } data-work="awaiting_payment" {
                    span.count { (w.awaiting_payment) }
                    (l.t("入金待ちの注文", "Orders awaiting payment"))
                }
                a.card.alert[w.overdue > 0] href={ (BASE) "/orders?overdue=true" } data-work="overdue" {
                    span.count { (w.overdue) }
                    (l.t("支払期限切れ", "Payment overdue"))
                }
                a.card href={ (BASE) "/orders?status=processing" } data-work="to_ship" {
                    span.count { (w.to_ship) }
                    (l.t("発送待ちの注文", "Orders to ship"))
                }
                @if let Some((_, rows)) = &low {
                    div.card.alert[!rows.is_empty()] data-work="low_stock" {
                        span.count { (rows.len()) @if rows.len() >= 20 { "+" } }
                        (l.t("在庫僅少", "Low stock"))
                    }
                }
            }
        }
        @if let Some((threshold, rows)) = &low {
            @if !rows.is_empty() {
                h2 { (l.t("在庫僅少", "Low stock")) " " span.muted { "(≤ " (threshold) ")" } }
                div.table-wrap {
                    table.responsive.low-stock {
                        thead { tr {
                            th { "SKU" } th { (l.t("拠点", "Location")) }
                            th.num { (l.t("在庫", "Stock")) } th.num { (l.t("引当", "Reserved")) } th.num { (l.t("有効在庫", "Available")) }
                        } }
                        tbody {
                            @for r in rows {
                                tr {
                                    td data-label="SKU" { (r.sku) }
                                    td data-label=(l.t("拠点", "Location")) { (r.location_code) }
                                    td.num data-label=(l.t("在庫", "Stock")) { (r.stock) }
                                    td.num data-label=(l.t("引当", "Reserved")) { (r.reserved) }
                                    td.num data-label=(l.t("有効在庫", "Available")) { (r.available) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(&s, "/", l.t("ホーム", "Home"), body))
}
