//! Customers: search (name, kana, email or phone, as the API's), a customer's page with their
//! identities, this store's profile, saved addresses and orders, and merging a duplicate into
//! them (candidates found by the same search). The admin API's use cases
//! (`customers::customer`, `customers::merge`, `checkout::orders::list`).

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use checkout::orders::{self, OrderFilter};
use customers::customer::{self, CustomerDetail, CustomerSearch, CustomerSummary};
use customers::merge::{self, MergeCustomers};
use kernel::access::{Acting, Permission};
use kernel::{CustomerId, FieldError, PageRequest};
use maud::html;
use serde::Deserialize;

use super::orders::status_label;
use super::{parse_id, query, query_without};
use crate::error::Failure;
use crate::layout::{self, csrf, field_error, notice, problem};
use crate::session::{Posted, Signed};
use crate::{BASE, Console};

pub fn routes() -> Router<Console> {
    Router::new()
        .route("/customers", get(list))
        .route("/customers/{customer_id}", get(detail))
        .route("/customers/{customer_id}/merge", post(merge_into))
}

async fn list(State(state): State<Console>, s: Signed, RawQuery(raw): RawQuery) -> Result<Response, Failure> {
    let l = s.lang;
    let (q, mut failed) = match query::<CustomerSearch>(raw.as_deref()) {
        Ok(q) => (q, None),
        Err(e) => (CustomerSearch::default(), Some(e)),
    };
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    let found = customer::list_customers(&mut tx, s.ctx.store_id, Acting::Staff(&s.ctx), &q).await;
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
    let body = html! {
        h1 { (l.t("顧客", "Customers")) }
        (problem(failed.as_ref(), &[]))
        form.filters method="get" action={ (BASE) "/customers" } {
            div {
                label for="f-q" { (l.t("氏名・フリガナ・メール・電話番号", "Name, kana, email or phone")) }
                input #f-q name="q" type="search" value=(q.q.clone().unwrap_or_default());
            }
            div.actions {
                button type="submit" { (l.t("検索", "Search")) }
                a.button.secondary href={ (BASE) "/customers" } { (l.t("クリア", "Clear")) }
            }
        }
        (customer_table(l, &page.items, None))
        @if let Some(cursor) = &page.next_cursor {
            div.pager {
                a.next href={ (BASE) "/customers?" (query_without(raw.as_deref(), &["cursor"])) "&cursor=" (cursor) } { (l.t("次のページ →", "Next page →")) }
            }
        }
    };
    Ok(layout::page(&s, "/customers", l.t("顧客", "Customers"), body))
}

/// Customers as rows; with `pick`, a radio button per row to choose the duplicate to merge
/// (the customer of the page itself left out).
fn customer_table(l: crate::i18n::Lang, rows: &[CustomerSummary], pick: Option<CustomerId>) -> maud::Markup {
    html! {
        div.table-wrap {
            table.responsive.customers {
                thead { tr {
                    @if pick.is_some() { th {} }
                    th { (l.t("氏名", "Name")) } th { (l.t("フリガナ", "Kana")) } th { (l.t("メールアドレス", "Email")) }
                    th { (l.t("電話番号", "Phone")) } th { (l.t("登録日時", "Since")) }
                } }
                tbody {
                    @for c in rows.iter().filter(|c| Some(c.id) != pick) {
                        tr data-customer=(c.id) {
                            @if pick.is_some() {
                                td { input type="radio" name="duplicate_id" value=(c.id) aria-label=(c.name); }
                            }
                            td data-label=(l.t("氏名", "Name")) { a href={ (BASE) "/customers/" (c.id) } { (c.name) } }
                            td data-label=(l.t("フリガナ", "Kana")) { (c.name_kana) }
                            td data-label=(l.t("メールアドレス", "Email")) { (c.email.clone().unwrap_or_default()) }
                            td data-label=(l.t("電話番号", "Phone")) { (c.phone.clone().unwrap_or_default()) }
                            td data-label=(l.t("登録日時", "Since")) { (l.datetime(&c.created_at)) }
                        }
                    }
                    @if rows.iter().all(|c| Some(c.id) == pick) {
                        tr { td colspan="6" .muted { (l.t("該当する顧客はいません。", "No customers match.")) } }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize, Default)]
struct DetailQuery {
    done: Option<String>,
    /// The search for a duplicate to merge.
    merge_q: Option<String>,
}

async fn detail(
    State(state): State<Console>,
    s: Signed,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Failure> {
    let id: CustomerId = parse_id(&id)?;
    let dq: DetailQuery = query(raw.as_deref()).unwrap_or_default();
    show(&state, &s, id, &dq, None).await
}

async fn show(
    state: &Console,
    s: &Signed,
    id: CustomerId,
    dq: &DetailQuery,
    failed: Option<&Failure>,
) -> Result<Response, Failure> {
    let l = s.lang;
    let by = Acting::Staff(&s.ctx);
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    let c: CustomerDetail = customer::get_customer(&mut tx, s.ctx.store_id, by, id).await?;
    let placed = if s.ctx.allows(Permission::OrdersRead) {
        let filter = OrderFilter { customer_id: Some(c.id), ..Default::default() };
        Some(orders::list(&mut tx, s.ctx.store_id, by, &filter, &PageRequest { limit: Some(20), cursor: None }).await?)
    } else {
        None
    };
    let can_merge = s.ctx.allows(Permission::CustomersMerge);
    let candidates = match dq.merge_q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        Some(q) if can_merge => {
            let search = CustomerSearch { q: Some(q.to_string()), limit: Some(20), cursor: None };
            Some(customer::list_customers(&mut tx, s.ctx.store_id, by, &search).await?.items)
        }
        _ => None,
    };
    tx.commit().await?;
    let p = &c.profile;
    let body = html! {
        h1 { (p.name) @if !p.name_kana.is_empty() { " " span.muted { (p.name_kana) } } }
        (notice(l, dq.done.as_deref()))
        div.grid2 {
            section.panel.profile {
                h2 { (l.t("プロフィール", "Profile")) }
                table {
                    tr { th { (l.t("メールアドレス", "Email")) } td { (p.email.clone().unwrap_or_default()) } }
                    tr { th { (l.t("電話番号", "Phone")) } td { (p.phone.clone().unwrap_or_default()) } }
                    tr { th { (l.t("状態", "Status")) } td data-status=(serde_json::to_value(p.status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()) {
                        (if matches!(p.status, customers::profile::ProfileStatus::Blocked) { l.t("取引停止", "Blocked") } else { l.t("有効", "Active") }) } }
                    tr { th { (l.t("登録日時", "Since")) } td { (l.datetime(&c.created_at)) } }
                    @if let Some(n) = &p.notes { tr { th { (l.t("メモ", "Notes")) } td { (n) } } }
                }
            }
            section.panel.identities {
                h2 { (l.t("識別情報", "Identities")) }
                ul {
                    @for i in &c.identities {
                        li data-identity=(i.kind.as_str()) {
                            span.muted { (match i.kind.as_str() { "email" => l.t("メール", "Email"), "phone" => l.t("電話", "Phone"), _ => l.t("外部ID", "External id") }) } " "
                            (i.value)
                            @if i.verified { " ✓" }
                        }
                    }
                }
            }
        }
        h2 { (l.t("住所", "Addresses")) }
        div.grid2 {
            @for a in &c.addresses {
                section.panel.address {
                    p {
                        span.muted { (if matches!(a.address.kind, customers::address::AddressType::Billing) { l.t("請求先", "Billing") } else { l.t("お届け先", "Shipping") }) @if a.is_default { " · " (l.t("既定", "default")) } } br;
                        (a.address.name) " (" (a.address.name_kana) ")" br;
                        "〒" (a.address.postal_code) " " (a.address.prefecture) (a.address.city) (a.address.line1)
                        @if let Some(l2) = &a.address.line2 { " " (l2) } br;
                        @if let Some(ph) = &a.address.phone { (ph) }
                    }
                }
            }
            @if c.addresses.is_empty() { p.muted { (l.t("登録された住所はありません。", "No saved addresses.")) } }
        }
        @if let Some(page) = &placed {
            h2 { (l.t("注文", "Orders")) }
            div.table-wrap {
                table.responsive.orders {
                    thead { tr { th { (l.t("注文番号", "No.")) } th { (l.t("注文日時", "Placed")) } th { (l.t("対応状況", "Status")) } th.num { (l.t("合計", "Total")) } } }
                    tbody {
                        @for o in &page.items {
                            tr data-order=(o.number) {
                                td data-label=(l.t("注文番号", "No.")) { a href={ (BASE) "/orders/" (o.id) } { "#" (o.number) } }
                                td data-label=(l.t("注文日時", "Placed")) { (l.datetime(&o.placed_at)) }
                                td data-label=(l.t("対応状況", "Status")) { span class={ "status " (o.status.as_str()) } { (status_label(l, o.status)) } }
                                td.num data-label=(l.t("合計", "Total")) { (o.total.map(|m| l.money(&m)).unwrap_or_default()) }
                            }
                        }
                        @if page.items.is_empty() { tr { td colspan="4" .muted { (l.t("注文はありません。", "No orders.")) } } }
                    }
                }
            }
        }
        @if can_merge {
            section.panel.merge {
                h2 { (l.t("重複した顧客を統合", "Merge a duplicate")) }
                p.muted { (l.t("選んだ顧客の識別情報・住所・注文をこの顧客に移し、選んだ顧客は統合済みになります。", "The chosen customer's identities, addresses and orders move to this customer; the chosen one is kept only as merged.")) }
                form.merge-search method="get" action={ (BASE) "/customers/" (c.id) } {
                    div {
                        label for="merge-q" { (l.t("統合する顧客を検索", "Find the duplicate")) }
                        input #merge-q name="merge_q" type="search" value=(dq.merge_q.clone().unwrap_or_default());
                    }
                    button.secondary type="submit" { (l.t("検索", "Search")) }
                }
                @if let Some(found) = &candidates {
                    (problem(failed, &["duplicate_id"]))
                    form.merge method="post" action={ (BASE) "/customers/" (c.id) "/merge" } {
                        (csrf(&s.csrf()))
                        input type="hidden" name="merge_q" value=(dq.merge_q.clone().unwrap_or_default());
                        (customer_table(l, found, Some(c.id)))
                        (field_error(failed, "duplicate_id"))
                        button.danger type="submit" data-confirm=(l.t("選んだ顧客をこの顧客に統合しますか？元に戻せません。", "Merge the chosen customer into this one? This cannot be undone.")) { (l.t("統合する", "Merge")) }
                    }
                } @else {
                    (problem(failed, &[]))
                }
            }
        }
        p { a href={ (BASE) "/customers" } { "← " (l.t("顧客一覧", "All customers")) } }
    };
    let status = failed.map(|f| f.status).unwrap_or(StatusCode::OK);
    Ok(layout::page_with_status(s, "/customers", &p.name, body, status))
}

/// Merges the chosen duplicate into the customer of the page (`customers::merge`, the API's
/// `POST /admin/v1/customers/{id}/merge`).
async fn merge_into(State(state): State<Console>, Path(id): Path<String>, posted: Posted) -> Result<Response, Failure> {
    let Posted { signed: s, form: f } = posted;
    let id: CustomerId = parse_id(&id)?;
    let duplicate = match f.get("duplicate_id").trim() {
        "" => Err(FieldError::new("duplicate_id", "required", "choose the customer to merge")),
        raw => raw
            .parse::<CustomerId>()
            .map_err(|_| FieldError::new("duplicate_id", "invalid", "must be a UUID (as returned by the API)")),
    };
    let here = state.db.store(s.ctx.store_id).await?;
    let mut tx = here.begin(s.ctx.tenant_id).await?;
    let result = match duplicate {
        Ok(duplicate_id) => {
            merge::merge_customers(&mut tx, s.ctx.store_id, Acting::Staff(&s.ctx), id, MergeCustomers { duplicate_id })
                .await
                .map(|d| (d.id, duplicate_id))
                .map_err(Failure::from)
        }
        Err(e) => Err(Failure::invalid(vec![e])),
    };
    match result {
        Ok((survivor, duplicate_id)) => {
            tx.commit().await?;
            merge::spread(&state.db, s.ctx.tenant_id, here.db_key(), survivor, duplicate_id).await?;
            Ok(Redirect::to(&format!("{BASE}/customers/{id}?done=merged")).into_response())
        }
        Err(failure) if failure.is_form_error() => {
            tx.rollback().await?;
            let dq = DetailQuery { done: None, merge_q: f.opt("merge_q") };
            show(&state, &s, id, &dq, Some(&failure)).await
        }
        Err(failure) => Err(failure),
    }
}
