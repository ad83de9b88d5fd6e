//! Webhooks: the store's endpoints, adding one (its signing secret shown that once), an
//! endpoint's page (its URL, topics and description, on/off, a ping) with its delivery log
//! filtered by outcome and topic, and one delivery's attempts with a resend. The admin API's
//! use cases (`webhooks::endpoint`, `webhooks::log`), with the same URL checks and messages.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use kernel::{PageRequest, WebhookDeliveryId, WebhookEndpointId};
use maud::{Markup, html};
use serde::Deserialize;
use webhooks::endpoint::{self, CreateEndpoint, Endpoint, UpdateEndpoint};
use webhooks::log::{self, DeliveryFilter};

use super::{parse_id, query};
use crate::error::Failure;
use crate::form::Fields;
use crate::i18n::Lang;
use crate::layout::{self, csrf, field_error, notice, problem};
use crate::session::{Posted, Signed};
use crate::{BASE, Console};

pub fn routes() -> Router<Console> {
    Router::new()
        .route("/webhooks", get(list).post(create))
        .route("/webhooks/{webhook_id}", get(detail).post(update))
        .route("/webhooks/{webhook_id}/ping", post(ping))
        .route("/webhooks/{webhook_id}/delete", post(delete))
        .route("/webhooks/{webhook_id}/deliveries/{delivery_id}", get(delivery))
        .route("/webhooks/{webhook_id}/deliveries/{delivery_id}/resend", post(resend))
}

/// Topic filters typed as one text: separated by commas, spaces or new lines.
fn topics_of(raw: &str) -> Vec<String> {
    raw.split([',', ' ', '\n', '\r', '、']).map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect()
}

fn state_of(l: Lang, e: &Endpoint) -> Markup {
    html! {
        @if e.enabled {
            span.status.active data-enabled="true" { (l.t("有効", "On")) }
            @if let Some(since) = &e.failing_since { " " span.muted { (l.t("失敗中：", "failing since ")) (l.datetime(since)) } }
        } @else {
            span.status.canceled data-enabled="false" { (l.t("停止", "Off")) }
            @if let Some(r) = &e.disabled_reason { " " span.muted { "(" (r) ")" } }
        }
    }
}

#[derive(Deserialize, Default)]
struct Done {
    done: Option<String>,
}

async fn list(State(state): State<Console>, s: Signed, RawQuery(raw): RawQuery) -> Result<Response, Failure> {
    let done: Done = query(raw.as_deref()).unwrap_or_default();
    list_page(&state, &s, done.done.as_deref(), None, &Fields::default(), None).await
}

async fn list_page(
    state: &Console,
    s: &Signed,
    done: Option<&str>,
    failed: Option<&Failure>,
    typed: &Fields,
    created: Option<(&Endpoint, &str)>,
) -> Result<Response, Failure> {
    let l = s.lang;
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    let endpoints = endpoint::list(&mut tx, &s.ctx, &PageRequest { limit: Some(200), cursor: None }).await?.items;
    tx.commit().await?;
    let e = failed;
    let body = html! {
        h1 { "Webhook" }
        (notice(l, done))
        @if let Some((ep, secret)) = created {
            div.notice.secret role="status" {
                p { (l.t("エンドポイントを追加しました。署名用シークレットは今だけ表示されます：", "Endpoint added. Its signing secret is shown this once:")) }
                p { code.secret data-endpoint=(ep.id) { (secret) } }
            }
        }
        div.table-wrap {
            table.responsive.webhooks {
                thead { tr { th { "URL" } th { (l.t("トピック", "Topics")) } th { (l.t("状態", "State")) } th { (l.t("説明", "Description")) } } }
                tbody {
                    @for ep in &endpoints {
                        tr data-url=(ep.url) {
                            td data-label="URL" { a href={ (BASE) "/webhooks/" (ep.id) } { (ep.url) } }
                            td data-label=(l.t("トピック", "Topics")) { (ep.topics.join(", ")) }
                            td data-label=(l.t("状態", "State")) { (state_of(l, ep)) }
                            td data-label=(l.t("説明", "Description")) { (ep.description) }
                        }
                    }
                    @if endpoints.is_empty() { tr { td colspan="4" .muted { (l.t("エンドポイントはありません。", "No endpoints yet.")) } } }
                }
            }
        }
        section.panel.new-webhook {
            h2 { (l.t("エンドポイントを追加", "Add an endpoint")) }
            (problem(e, &["url", "topics", "description"]))
            form.new-webhook method="post" novalidate action={ (BASE) "/webhooks" } {
                (csrf(&s.csrf()))
                div { label for="url" { "URL (https://...)" } input #url name="url" type="url" value=(typed.get("url")); (field_error(e, "url")) }
                div {
                    label for="topics" { (l.t("トピック（空欄ですべて、例: order.* payment.confirmed）", "Topics (empty: all; e.g. order.* payment.confirmed)")) }
                    input #topics name="topics" value=(typed.get("topics"));
                    (field_error(e, "topics"))
                    @for (i, _) in topics_of(typed.get("topics")).iter().enumerate() { (field_error(e, &format!("topics[{i}]"))) }
                }
                div { label for="description" { (l.t("説明", "Description")) } input #description name="description" value=(typed.get("description")); (field_error(e, "description")) }
                button type="submit" { (l.t("追加", "Add")) }
            }
        }
    };
    let status = failed.map(|f| f.status).unwrap_or(StatusCode::OK);
    Ok(layout::page_with_status(s, "/webhooks", "Webhook", body, status))
}

async fn create(State(state): State<Console>, posted: Posted) -> Result<Response, Failure> {
    let Posted { signed: s, form: f } = posted;
    let topics = topics_of(f.get("topics"));
    let input = CreateEndpoint {
        url: f.get("url").trim().to_string(),
        topics: (!topics.is_empty()).then_some(topics),
        description: f.opt("description"),
        enabled: None,
    };
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    match endpoint::create(&mut tx, &s.ctx, &state.settings.webhooks, input).await.map_err(Failure::from) {
        Ok(created) => {
            tx.commit().await?;
            list_page(&state, &s, None, None, &Fields::default(), Some((&created.endpoint, &created.secret))).await
        }
        Err(failure) if failure.is_form_error() => {
            tx.rollback().await?;
            list_page(&state, &s, None, Some(&failure), &f, None).await
        }
        Err(failure) => Err(failure),
    }
}

#[derive(Deserialize, Default)]
struct LogQuery {
    done: Option<String>,
    outcome: Option<String>,
    topic: Option<String>,
    cursor: Option<String>,
}

async fn detail(
    State(state): State<Console>,
    s: Signed,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Failure> {
    let id: WebhookEndpointId = parse_id(&id)?;
    let q: LogQuery = query(raw.as_deref())?;
    endpoint_page(&state, &s, id, &q, None, &Fields::default()).await
}

async fn endpoint_page(
    state: &Console,
    s: &Signed,
    id: WebhookEndpointId,
    q: &LogQuery,
    failed: Option<&Failure>,
    typed: &Fields,
) -> Result<Response, Failure> {
    let l = s.lang;
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    let ep = endpoint::get(&mut tx, &s.ctx, id).await?;
    let filter = DeliveryFilter { topic: q.topic.clone(), outcome: q.outcome.clone(), from: None, to: None };
    let page = PageRequest { limit: Some(50), cursor: q.cursor.clone() };
    let found = log::list(&mut tx, &s.ctx, id, &filter, &page).await;
    tx.commit().await?;
    let (deliveries, log_failed) = match found {
        Ok(p) => (p, None),
        Err(e) => {
            let f = Failure::from(e);
            if !f.is_form_error() {
                return Err(f);
            }
            (kernel::Page { items: Vec::new(), next_cursor: None }, Some(f))
        }
    };
    let token = s.csrf();
    let e = failed;
    let value = |name: &str, saved: String| if e.is_some() { typed.get(name).to_string() } else { saved };
    let action = |rest: &str| format!("{BASE}/webhooks/{}{rest}", ep.id);
    let body = html! {
        h1 { "Webhook " span.muted { (ep.url) } }
        (notice(l, q.done.as_deref()))
        p { (state_of(l, &ep)) }
        section.panel.edit-webhook {
            (problem(e, &["url", "topics", "description"]))
            form.edit-webhook method="post" novalidate action=(action("")) {
                (csrf(&token))
                div { label for="url" { "URL" } input #url name="url" type="url" value=(value("url", ep.url.clone())); (field_error(e, "url")) }
                div { label for="topics" { (l.t("トピック", "Topics")) } input #topics name="topics" value=(value("topics", ep.topics.join(" "))); (field_error(e, "topics")) }
                div { label for="description" { (l.t("説明", "Description")) } input #description name="description" value=(value("description", ep.description.clone())); (field_error(e, "description")) }
                div { label.inline { input type="checkbox" name="enabled" checked[if e.is_some() { typed.checked("enabled") } else { ep.enabled }]; (l.t("有効", "On")) } }
                button type="submit" { (l.t("保存", "Save")) }
            }
            div.actions {
                form method="post" action=(action("/ping")) { (csrf(&token)) button.secondary type="submit" { (l.t("テスト送信（ping）", "Send a ping")) } }
                form method="post" action=(action("/delete")) { (csrf(&token)) button.danger type="submit" data-confirm=(l.t("このエンドポイントを削除しますか？", "Delete this endpoint?")) { (l.t("削除", "Delete")) } }
            }
        }
        h2 { (l.t("配信履歴", "Delivery log")) }
        (problem(log_failed.as_ref(), &[]))
        form.filters method="get" action=(action("")) {
            div {
                label for="f-outcome" { (l.t("結果", "Outcome")) }
                select #f-outcome name="outcome" {
                    option value="" { (l.t("すべて", "All")) }
                    @for (v, ja, en) in [("pending", "再送待ち", "Pending"), ("sending", "送信中", "Sending"), ("succeeded", "成功", "Succeeded"), ("failed", "失敗", "Failed")] {
                        option value=(v) selected[q.outcome.as_deref() == Some(v)] { (l.t(ja, en)) }
                    }
                }
            }
            div { label for="f-topic" { (l.t("トピック", "Topic")) } input #f-topic name="topic" value=(q.topic.clone().unwrap_or_default()); }
            div.actions { button type="submit" { (l.t("絞り込む", "Filter")) } }
        }
        div.table-wrap {
            table.responsive.deliveries {
                thead { tr { th { (l.t("イベント", "Event")) } th { (l.t("日時", "When")) } th { (l.t("結果", "Outcome")) } th.num { (l.t("試行", "Attempts")) } th { (l.t("最後の応答", "Last answer")) } } }
                tbody {
                    @for d in &deliveries.items {
                        tr data-event=(d.event_type) data-outcome=(d.status) {
                            td data-label=(l.t("イベント", "Event")) { a href=(action(&format!("/deliveries/{}", d.id))) { (d.event_type) } }
                            td data-label=(l.t("日時", "When")) { (l.datetime(&d.event_created_at)) }
                            td data-label=(l.t("結果", "Outcome")) { (d.status) @if let Some(n) = &d.next_attempt_at { " " span.muted { "→ " (l.datetime(n)) } } }
                            td.num data-label=(l.t("試行", "Attempts")) { (d.attempts) }
                            td data-label=(l.t("最後の応答", "Last answer")) { @if let Some(c) = d.last_status_code { (c) } @if let Some(err) = &d.last_error { " " span.muted { (err) } } }
                        }
                    }
                    @if deliveries.items.is_empty() { tr { td colspan="5" .muted { (l.t("配信はありません。", "No deliveries.")) } } }
                }
            }
        }
        @if let Some(cursor) = &deliveries.next_cursor {
            div.pager { a.next href={ (action("")) "?cursor=" (cursor) } { (l.t("次のページ →", "Next page →")) } }
        }
        p { a href={ (BASE) "/webhooks" } { "← Webhook" } }
    };
    let status = failed.map(|f| f.status).unwrap_or(StatusCode::OK);
    Ok(layout::page_with_status(s, "/webhooks", "Webhook", body, status))
}

async fn update(State(state): State<Console>, Path(id): Path<String>, posted: Posted) -> Result<Response, Failure> {
    let Posted { signed: s, form: f } = posted;
    let id: WebhookEndpointId = parse_id(&id)?;
    let input = UpdateEndpoint {
        url: Some(f.get("url").trim().to_string()),
        topics: Some(topics_of(f.get("topics"))).filter(|t| !t.is_empty()),
        description: Some(f.get("description").to_string()),
        enabled: Some(f.checked("enabled")),
    };
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    match endpoint::update(&mut tx, &s.ctx, &state.settings.webhooks, id, input).await.map_err(Failure::from) {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("{BASE}/webhooks/{id}?done=saved")).into_response())
        }
        Err(failure) if failure.is_form_error() => {
            tx.rollback().await?;
            endpoint_page(&state, &s, id, &LogQuery::default(), Some(&failure), &f).await
        }
        Err(failure) => Err(failure),
    }
}

async fn ping(State(state): State<Console>, Path(id): Path<String>, posted: Posted) -> Result<Response, Failure> {
    let s = posted.signed;
    let id: WebhookEndpointId = parse_id(&id)?;
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    log::ping(&mut tx, &s.ctx, id).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("{BASE}/webhooks/{id}?done=pinged")).into_response())
}

async fn delete(State(state): State<Console>, Path(id): Path<String>, posted: Posted) -> Result<Response, Failure> {
    let s = posted.signed;
    let id: WebhookEndpointId = parse_id(&id)?;
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    endpoint::delete(&mut tx, &s.ctx, id).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("{BASE}/webhooks?done=deleted")).into_response())
}

async fn delivery(
    State(state): State<Console>,
    s: Signed,
    Path((id, delivery_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Failure> {
    let l = s.lang;
    let id: WebhookEndpointId = parse_id(&id)?;
    let did: WebhookDeliveryId = parse_id(&delivery_id)?;
    let done: Done = query(raw.as_deref()).unwrap_or_default();
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    let d = log::get(&mut tx, &s.ctx, id, did).await?;
    tx.commit().await?;
    let body = html! {
        h1 { (d.event_type) " " span.muted { (d.status) } }
        (notice(l, done.done.as_deref()))
        p.muted { (l.t("イベント", "Event")) " " code { (d.event_id) } " · " (l.datetime(&d.event_created_at)) }
        form method="post" action={ (BASE) "/webhooks/" (id) "/deliveries/" (d.id) "/resend" } {
            (csrf(&s.csrf()))
            button.secondary type="submit" { (l.t("再送する", "Send again")) }
        }
        h2 { (l.t("試行", "Attempts")) }
        ol.timeline.attempts {
            @for a in d.attempt_log.iter().flatten() {
                li data-outcome=(a.outcome) {
                    span.muted { (l.datetime(&a.created_at)) } " #" (a.attempt) " "
                    strong { (a.outcome) } " "
                    @if let Some(c) = a.status_code { "HTTP " (c) " " }
                    span.muted { (a.duration_ms) " ms" }
                    @if let Some(err) = &a.error { " — " (err) }
                    @if !a.response_body.is_empty() { pre.response { (a.response_body) } }
                }
            }
        }
        p { a href={ (BASE) "/webhooks/" (id) } { "← " (l.t("配信履歴", "Delivery log")) } }
    };
    Ok(layout::page(&s, "/webhooks", &d.event_type, body))
}

async fn resend(
    State(state): State<Console>,
    Path((id, delivery_id)): Path<(String, String)>,
    posted: Posted,
) -> Result<Response, Failure> {
    let s = posted.signed;
    let id: WebhookEndpointId = parse_id(&id)?;
    let did: WebhookDeliveryId = parse_id(&delivery_id)?;
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    log::resend(&mut tx, &s.ctx, id, did).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("{BASE}/webhooks/{id}/deliveries/{did}?done=resent")).into_response())
}
