//! Promotions: the store's codes with their use counts, a new code (a fixed amount or a
//! percentage off, a minimum subtotal, a period in Japan time, use limits), turning a code on
//! and off, deleting one. The admin API's use cases (`checkout::promotions`), with the same
//! messages.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use checkout::promotions::{self, CreatePromotion, DiscountType, Promotion, PromotionStatus, UpdatePromotion};
use chrono::{DateTime, NaiveDateTime, Utc};
use kernel::access::{Acting, Permission};
use kernel::{FieldError, PageRequest, PromotionId};
use maud::html;
use serde::Deserialize;

use super::{parse_id, query};
use crate::error::Failure;
use crate::form::{self, Fields};
use crate::layout::{self, csrf, field_error, notice, problem};
use crate::session::{Posted, Signed};
use crate::{BASE, Console};

pub fn routes() -> Router<Console> {
    Router::new()
        .route("/promotions", get(list).post(create))
        .route("/promotions/{promotion_id}/status", post(toggle))
        .route("/promotions/{promotion_id}/delete", post(delete))
}

#[derive(Deserialize, Default)]
struct Done {
    done: Option<String>,
}

async fn list(State(state): State<Console>, s: Signed, RawQuery(raw): RawQuery) -> Result<Response, Failure> {
    let done: Done = query(raw.as_deref()).unwrap_or_default();
    render(&state, &s, done.done.as_deref(), None, &Fields::default()).await
}

/// A moment typed in a `datetime-local` input, in Japan time.
fn moment(field: &str, raw: &str) -> Result<Option<DateTime<Utc>>, FieldError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M")
        .ok()
        .and_then(|n| n.and_local_timezone(kernel::jp::jst()).single())
        .map(|t| Some(t.with_timezone(&Utc)))
        .ok_or_else(|| FieldError::new(field, "invalid", "must be a date and time (2026-12-01T09:00)"))
}

async fn render(
    state: &Console,
    s: &Signed,
    done: Option<&str>,
    failed: Option<&Failure>,
    typed: &Fields,
) -> Result<Response, Failure> {
    let l = s.lang;
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    let codes: Vec<Promotion> = promotions::list(
        &mut tx,
        s.ctx.store_id,
        Acting::Staff(&s.ctx),
        &PageRequest { limit: Some(200), cursor: None },
    )
    .await?
    .items;
    tx.commit().await?;
    let can_write = s.ctx.allows(Permission::PromotionsWrite);
    let token = s.csrf();
    let e = failed;
    let body = html! {
        h1 { (l.t("プロモーション", "Promotions")) }
        (notice(l, done))
        div.table-wrap {
            table.responsive.promotions {
                thead { tr {
                    th { (l.t("コード", "Code")) } th { (l.t("割引", "Discount")) } th { (l.t("期間", "Period")) }
                    th.num { (l.t("利用回数", "Used")) } th { (l.t("状態", "Status")) } th {}
                } }
                tbody {
                    @for p in &codes {
                        tr data-code=(p.code) {
                            td data-label=(l.t("コード", "Code")) { strong { (p.code) } @if !p.description.is_empty() { br; span.muted { (p.description) } } }
                            td data-label=(l.t("割引", "Discount")) {
                                @match (p.discount_type, &p.amount_off, p.percent_off_bps) {
                                    (DiscountType::Fixed, Some(m), _) => { (l.money(m)) (l.t("引き", " off")) }
                                    (_, _, Some(bps)) => { (format!("{}", bps as f64 / 100.0)) "%" (l.t("引き", " off")) }
                                    _ => {}
                                }
                                @if let Some(min) = &p.min_subtotal { br; span.muted { (l.money(min)) (l.t("以上", " or more")) } }
                            }
                            td data-label=(l.t("期間", "Period")) {
                                @if let Some(a) = &p.starts_at { (l.datetime(a)) } " – " @if let Some(b) = &p.ends_at { (l.datetime(b)) }
                            }
                            td.num data-label=(l.t("利用回数", "Used")) {
                                (p.times_used) @if let Some(n) = p.usage_limit_total { " / " (n) }
                            }
                            td data-label=(l.t("状態", "Status")) {
                                (if p.status == PromotionStatus::Active { l.t("有効", "Active") } else { l.t("停止中", "Inactive") })
                            }
                            td {
                                @if can_write {
                                    form.toggle method="post" action={ (BASE) "/promotions/" (p.id) "/status" } {
                                        (csrf(&token))
                                        button.secondary type="submit" { (if p.status == PromotionStatus::Active { l.t("停止する", "Deactivate") } else { l.t("有効にする", "Activate") }) }
                                    }
                                    form method="post" action={ (BASE) "/promotions/" (p.id) "/delete" } {
                                        (csrf(&token))
                                        button.link type="submit" data-confirm=(l.t("このコードを削除しますか？", "Delete this code?")) { (l.t("削除", "Delete")) }
                                    }
                                }
                            }
                        }
                    }
                    @if codes.is_empty() { tr { td colspan="6" .muted { (l.t("プロモーションはありません。", "No promotions yet.")) } } }
                }
            }
        }
        @if can_write {
            section.panel.new-promotion {
                h2 { (l.t("コードを作成", "New code")) }
                (problem(e, &["code", "description", "discount_type", "amount_off", "amount_off.amount", "percent_off_bps", "min_subtotal", "min_subtotal.amount", "starts_at", "ends_at", "usage_limit_total", "usage_limit_per_customer"]))
                form.new-promotion method="post" action={ (BASE) "/promotions" } {
                    (csrf(&token))
                    div { label for="code" { (l.t("コード", "Code")) } input #code name="code" value=(typed.get("code")); (field_error(e, "code")) }
                    div { label for="description" { (l.t("説明", "Description")) } input #description name="description" value=(typed.get("description")); (field_error(e, "description")) }
                    div {
                        label for="discount_type" { (l.t("割引の種類", "Kind")) }
                        select #discount_type name="discount_type" {
                            option value="fixed" { (l.t("金額（円）", "Amount (yen)")) }
                            option value="percent" selected[typed.get("discount_type") == "percent"] { (l.t("割合（％）", "Percent")) }
                        }
                    }
                    div {
                        label for="amount" { (l.t("割引額・割引率", "Amount or percent")) }
                        input #amount name="amount" inputmode="decimal" value=(typed.get("amount"));
                        (field_error(e, "amount_off.amount")) (field_error(e, "amount_off")) (field_error(e, "percent_off_bps"))
                    }
                    div { label for="min_subtotal" { (l.t("最低購入金額（円）", "Minimum subtotal (yen)")) } input #min_subtotal name="min_subtotal" inputmode="numeric" value=(typed.get("min_subtotal")); (field_error(e, "min_subtotal.amount")) (field_error(e, "min_subtotal")) }
                    div { label for="starts_at" { (l.t("開始", "Starts")) } input #starts_at name="starts_at" type="datetime-local" value=(typed.get("starts_at")); (field_error(e, "starts_at")) }
                    div { label for="ends_at" { (l.t("終了", "Ends")) } input #ends_at name="ends_at" type="datetime-local" value=(typed.get("ends_at")); (field_error(e, "ends_at")) }
                    div { label for="usage_limit_total" { (l.t("利用回数の上限", "Use limit")) } input #usage_limit_total name="usage_limit_total" inputmode="numeric" value=(typed.get("usage_limit_total")); (field_error(e, "usage_limit_total")) }
                    div { label for="usage_limit_per_customer" { (l.t("1人あたりの上限", "Per customer")) } input #usage_limit_per_customer name="usage_limit_per_customer" inputmode="numeric" value=(typed.get("usage_limit_per_customer")); (field_error(e, "usage_limit_per_customer")) }
                    button type="submit" { (l.t("作成", "Create")) }
                }
            }
        }
    };
    let status = failed.map(|f| f.status).unwrap_or(StatusCode::OK);
    Ok(layout::page_with_status(s, "/promotions", l.t("プロモーション", "Promotions"), body, status))
}

async fn create(State(state): State<Console>, posted: Posted) -> Result<Response, Failure> {
    let Posted { signed: s, form: f } = posted;
    let mut r = form::Reading::default();
    let kind = if f.get("discount_type") == "percent" { DiscountType::Percent } else { DiscountType::Fixed };
    let (amount_off, percent_off_bps) = match kind {
        DiscountType::Fixed => (r.take(form::yen("amount_off.amount", f.get("amount"))), None),
        DiscountType::Percent => {
            let folded = kernel::jp::fold_width(f.get("amount"));
            match folded.trim().trim_end_matches('%').trim().parse::<f64>() {
                Ok(p) if p.is_finite() => (None, Some((p * 100.0).round() as i32)),
                _ => {
                    r.push(FieldError::new("percent_off_bps", "invalid", "must be a percentage such as 10 or 7.5"));
                    (None, None)
                }
            }
        }
    };
    let min_subtotal = match f.opt("min_subtotal") {
        Some(raw) => r.take(form::yen("min_subtotal.amount", &raw)),
        None => None,
    };
    let starts_at = r.take(moment("starts_at", f.get("starts_at"))).flatten();
    let ends_at = r.take(moment("ends_at", f.get("ends_at"))).flatten();
    let mut limit = |name: &str| match f.opt(name) {
        Some(raw) => r.take(form::int(name, &raw)),
        None => None,
    };
    let usage_limit_total = limit("usage_limit_total");
    let usage_limit_per_customer = limit("usage_limit_per_customer");
    let input = CreatePromotion {
        code: f.get("code").to_string(),
        description: f.get("description").to_string(),
        discount_type: kind,
        amount_off,
        percent_off_bps,
        status: None,
        starts_at,
        ends_at,
        min_subtotal,
        usage_limit_total,
        usage_limit_per_customer,
    };
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    let result = match r.done() {
        Ok(()) => promotions::create(&mut tx, s.ctx.store_id, Acting::Staff(&s.ctx), input)
            .await
            .map(|_| ())
            .map_err(Failure::from),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("{BASE}/promotions?done=created")).into_response())
        }
        Err(failure) if failure.is_form_error() => {
            tx.rollback().await?;
            render(&state, &s, None, Some(&failure), &f).await
        }
        Err(failure) => Err(failure),
    }
}

async fn toggle(State(state): State<Console>, Path(id): Path<String>, posted: Posted) -> Result<Response, Failure> {
    let s = posted.signed;
    let id: PromotionId = parse_id(&id)?;
    let by = Acting::Staff(&s.ctx);
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    let current = promotions::get(&mut tx, s.ctx.store_id, by, id).await?;
    let to =
        if current.status == PromotionStatus::Active { PromotionStatus::Inactive } else { PromotionStatus::Active };
    promotions::update(&mut tx, s.ctx.store_id, by, id, UpdatePromotion { status: Some(to), ..Default::default() })
        .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("{BASE}/promotions?done=saved")).into_response())
}

async fn delete(State(state): State<Console>, Path(id): Path<String>, posted: Posted) -> Result<Response, Failure> {
    let s = posted.signed;
    let id: PromotionId = parse_id(&id)?;
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    promotions::delete(&mut tx, s.ctx.store_id, Acting::Staff(&s.ctx), id).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("{BASE}/promotions?done=deleted")).into_response())
}
