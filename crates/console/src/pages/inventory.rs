//! Inventory: stock levels per location, one number's page with an adjustment (units added or
//! taken away, with a reason) and its movement history. The admin API's use cases
//! (`inventory::movements`, `inventory::stock::adjust`), with the same messages.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use inventory::movements::{self, LevelQuery, LevelView, Movement, MovementQuery};
use inventory::stock::{AdjustStock, MovementReason};
use kernel::access::{Acting, Permission};
use kernel::{FieldError, LocationId, VariantId};
use maud::html;
use serde::Deserialize;

use super::products::{REASONS, parse_reason, reason_label, reason_value};
use super::{query, query_without};
use crate::error::Failure;
use crate::form::{self, Fields};
use crate::i18n::Lang;
use crate::layout::{self, csrf, field_error, notice, problem};
use crate::session::{Posted, Signed};
use crate::{BASE, Console};

pub fn routes() -> Router<Console> {
    Router::new()
        .route("/inventory", get(levels))
        .route("/inventory/level", get(level))
        .route("/inventory/adjust", post(adjust))
}

fn movement_label(l: Lang, r: MovementReason) -> &'static str {
    use MovementReason::*;
    match r {
        Receipt => l.t("入荷", "Receipt"),
        Correction => l.t("訂正", "Correction"),
        Damage => l.t("破損", "Damage"),
        Return => l.t("返品", "Return"),
        Count => l.t("棚卸", "Count"),
        Reservation => l.t("引当", "Reservation"),
        Release => l.t("引当解除", "Release"),
        Expiry => l.t("引当期限切れ", "Expiry"),
        Sale => l.t("販売", "Sale"),
        Cancellation => l.t("キャンセル", "Cancellation"),
        Repair => l.t("修復", "Repair"),
        Import => l.t("インポート", "Import"),
    }
}

async fn levels(State(state): State<Console>, s: Signed, RawQuery(raw): RawQuery) -> Result<Response, Failure> {
    let l = s.lang;
    let by = Acting::Staff(&s.ctx);
    let (q, mut failed) = match query::<LevelQuery>(raw.as_deref()) {
        Ok(q) => (q, None),
        Err(e) => (LevelQuery::default(), Some(e)),
    };
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    let locations = tenancy::locations::list_locations(&mut tx, s.ctx.store_id, by).await?;
    let found = movements::list_levels(&mut tx, s.ctx.store_id, by, &q).await;
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
    let name_of = |id: LocationId| locations.iter().find(|x| x.id == id).map(|x| x.name.clone()).unwrap_or_default();
    let body = html! {
        h1 { (l.t("在庫", "Inventory")) }
        (problem(failed.as_ref(), &[]))
        form.filters method="get" action={ (BASE) "/inventory" } {
            div {
                label for="f-location" { (l.t("拠点", "Location")) }
                select #f-location name="location_id" {
                    option value="" { (l.t("すべて", "All")) }
                    @for loc in &locations {
                        option value=(loc.id) selected[q.location_id == Some(loc.id)] { (loc.name) " (" (loc.code) ")" }
                    }
                }
            }
            div.actions { button type="submit" { (l.t("絞り込む", "Filter")) } }
        }
        div.table-wrap {
            table.responsive.levels {
                thead { tr {
                    th { "SKU" } th { (l.t("拠点", "Location")) }
                    th.num { (l.t("在庫", "Stock")) } th.num { (l.t("引当", "Reserved")) } th.num { (l.t("有効在庫", "Available")) }
                    th { (l.t("更新日時", "Updated")) } th {}
                } }
                tbody {
                    @for r in &page.items {
                        tr data-sku=(r.sku) data-location=(r.location_code) {
                            td data-label="SKU" { (r.sku) }
                            td data-label=(l.t("拠点", "Location")) { (name_of(r.location_id)) " (" (r.location_code) ")" }
                            td.num data-label=(l.t("在庫", "Stock")) { (r.stock) }
                            td.num data-label=(l.t("引当", "Reserved")) { (r.reserved) }
                            td.num data-label=(l.t("有効在庫", "Available")) { (r.available) }
                            td data-label=(l.t("更新日時", "Updated")) { (l.datetime(&r.updated_at)) }
                            td { a.level href={ (BASE) "/inventory/level?variant_id=" (r.variant_id) "&location_id=" (r.location_id) } { (l.t("調整・履歴", "Adjust · history")) } }
                        }
                    }
                    @if page.items.is_empty() {
                        tr { td colspan="7" .muted { (l.t("在庫の記録はありません。", "No stock recorded.")) } }
                    }
                }
            }
        }
        @if let Some(cursor) = &page.next_cursor {
            div.pager {
                a.next href={ (BASE) "/inventory?" (query_without(raw.as_deref(), &["cursor"])) "&cursor=" (cursor) } { (l.t("次のページ →", "Next page →")) }
            }
        }
    };
    Ok(layout::page(&s, "/inventory", l.t("在庫", "Inventory"), body))
}

#[derive(Deserialize)]
struct Which {
    variant_id: VariantId,
    location_id: LocationId,
    cursor: Option<String>,
    done: Option<String>,
}

async fn level(State(state): State<Console>, s: Signed, RawQuery(raw): RawQuery) -> Result<Response, Failure> {
    let w: Which = query(raw.as_deref())?;
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    let shown = load(&mut tx, &s, w.variant_id, w.location_id, w.cursor.clone()).await?;
    tx.commit().await?;
    Ok(level_page(&s, &shown, w.done.as_deref(), None, &Fields::default()))
}

struct Shown {
    variant_id: VariantId,
    location_id: LocationId,
    sku: String,
    location: String,
    level: Option<LevelView>,
    history: kernel::Page<Movement>,
}

async fn load(
    tx: &mut db::Tx,
    s: &Signed,
    variant_id: VariantId,
    location_id: LocationId,
    cursor: Option<String>,
) -> Result<Shown, Failure> {
    let by = Acting::Staff(&s.ctx);
    // the location as the member may see it (another vendor's is no page), then its number
    let loc = tenancy::locations::get_location(tx, s.ctx.store_id, by, location_id).await?;
    let q = LevelQuery { variant_id: Some(variant_id), location_id: Some(location_id), limit: Some(1), cursor: None };
    let level = movements::list_levels(tx, s.ctx.store_id, by, &q).await?.items.into_iter().next();
    let mq = MovementQuery {
        variant_id: Some(variant_id),
        location_id: Some(location_id),
        reason: None,
        limit: Some(50),
        cursor,
    };
    let history = movements::list_movements(tx, s.ctx.store_id, by, &mq).await?;
    // a number with no stock row yet has no SKU to show: it appears with the first change
    let sku = level.as_ref().map(|lv| lv.sku.clone()).unwrap_or_default();
    Ok(Shown { variant_id, location_id, sku, location: format!("{} ({})", loc.name, loc.code), level, history })
}

fn level_page(s: &Signed, d: &Shown, done: Option<&str>, failed: Option<&Failure>, typed: &Fields) -> Response {
    let l = s.lang;
    let e = failed;
    let can_adjust = s.ctx.allows(Permission::InventoryWrite);
    let (stock, reserved, available) = d.level.as_ref().map_or((0, 0, 0), |lv| (lv.stock, lv.reserved, lv.available));
    let body = html! {
        h1 { (d.sku) " · " (d.location) }
        (notice(l, done))
        div.cards {
            div.card data-level="stock" { span.count { (stock) } (l.t("在庫", "Stock")) }
            div.card data-level="reserved" { span.count { (reserved) } (l.t("引当", "Reserved")) }
            div.card data-level="available" { span.count { (available) } (l.t("有効在庫", "Available")) }
        }
        @if can_adjust {
            section.panel.adjust {
                h2 { (l.t("在庫を調整", "Adjust stock")) }
                (problem(e, &["delta", "reason", "note"]))
                form.adjust method="post" action={ (BASE) "/inventory/adjust" } {
                    (csrf(&s.csrf()))
                    input type="hidden" name="variant_id" value=(d.variant_id);
                    input type="hidden" name="location_id" value=(d.location_id);
                    div {
                        label for="delta" { (l.t("増減数（減らすときはマイナス）", "Units (negative to take away)")) }
                        input #delta name="delta" inputmode="numeric" value=(typed.get("delta"));
                        (field_error(e, "delta"))
                    }
                    div {
                        label for="reason" { (l.t("理由", "Reason")) }
                        select #reason name="reason" {
                            @for r in REASONS.iter().filter(|r| reason_value(**r) != "count") {
                                option value=(reason_value(*r)) selected[typed.get("reason") == reason_value(*r)] { (reason_label(l, *r)) }
                            }
                        }
                        (field_error(e, "reason"))
                    }
                    div {
                        label for="note" { (l.t("メモ", "Note")) }
                        input #note name="note" value=(typed.get("note"));
                        (field_error(e, "note"))
                    }
                    button type="submit" { (l.t("調整する", "Adjust")) }
                }
            }
        }
        h2 { (l.t("入出庫履歴", "Movement history")) }
        div.table-wrap {
            table.responsive.movements {
                thead { tr {
                    th { (l.t("日時", "When")) } th { (l.t("理由", "Reason")) }
                    th.num { (l.t("増減", "Change")) } th.num { (l.t("在庫（後）", "Stock after")) }
                    th.num { (l.t("引当増減", "Reserved change")) } th { (l.t("操作者", "By")) } th { (l.t("メモ", "Note")) }
                } }
                tbody {
                    @for m in &d.history.items {
                        tr data-reason=(serde_json::to_value(m.reason).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()) {
                            td data-label=(l.t("日時", "When")) { (l.datetime(&m.created_at)) }
                            td data-label=(l.t("理由", "Reason")) { (movement_label(l, m.reason)) }
                            td.num.delta data-label=(l.t("増減", "Change")) { @if m.stock_delta > 0 { "+" } (m.stock_delta) }
                            td.num data-label=(l.t("在庫（後）", "Stock after")) { (m.stock_after) }
                            td.num data-label=(l.t("引当増減", "Reserved change")) { @if m.reserved_delta > 0 { "+" } (m.reserved_delta) }
                            td data-label=(l.t("操作者", "By")) { (m.actor_type) }
                            td data-label=(l.t("メモ", "Note")) { (m.note.clone().unwrap_or_default()) }
                        }
                    }
                    @if d.history.items.is_empty() {
                        tr { td colspan="7" .muted { (l.t("履歴はありません。", "No movements yet.")) } }
                    }
                }
            }
        }
        @if let Some(cursor) = &d.history.next_cursor {
            div.pager {
                a.next href={ (BASE) "/inventory/level?variant_id=" (d.variant_id) "&location_id=" (d.location_id) "&cursor=" (cursor) } { (l.t("さらに古い履歴 →", "Older →")) }
            }
        }
        p { a href={ (BASE) "/inventory" } { "← " (l.t("在庫一覧", "All stock")) } }
    };
    let status = failed.map(|f| f.status).unwrap_or(StatusCode::OK);
    layout::page_with_status(s, "/inventory", l.t("在庫", "Inventory"), body, status)
}

async fn adjust(State(state): State<Console>, posted: Posted) -> Result<Response, Failure> {
    let Posted { signed: s, form: f } = posted;
    let variant_id: VariantId = super::parse_id(f.get("variant_id"))?;
    let location_id: LocationId = super::parse_id(f.get("location_id"))?;
    let mut errors: Vec<FieldError> = Vec::new();
    let delta = form::int("delta", f.get("delta")).map_err(|e| errors.push(e)).ok();
    let reason = parse_reason("reason", f.get("reason")).map_err(|e| errors.push(e)).ok();
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    let result = match (delta, reason) {
        (Some(delta), Some(reason)) if errors.is_empty() => {
            let input = AdjustStock { variant_id, location_id, delta, reason, note: f.opt("note") };
            inventory::stock::adjust(&mut tx, s.ctx.store_id, Acting::Staff(&s.ctx), input).await.map_err(Failure::from)
        }
        _ => Err(Failure::invalid(errors)),
    };
    match result {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!(
                "{BASE}/inventory/level?variant_id={variant_id}&location_id={location_id}&done=adjusted"
            ))
            .into_response())
        }
        Err(failure) if failure.is_form_error() => {
            tx.rollback().await?;
            let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
            let shown = load(&mut tx, &s, variant_id, location_id, None).await?;
            tx.commit().await?;
            Ok(level_page(&s, &shown, None, Some(&failure), &f))
        }
        Err(failure) => Err(failure),
    }
}
