//! A mall's vendors and their statements: the vendors (a vendor's staff see their own) with the
//! statement being counted now, closing it, the closed and paid statements, one statement with
//! its lines, totals per tax rate, commission and what is paid out, its CSV (UTF-8 or
//! Shift_JIS) and recording the payout. The admin API's use cases (`tenancy::vendors`,
//! `mall::statements`).

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::NaiveDate;
use kernel::access::{Acting, Permission};
use kernel::{FieldError, PageRequest, StatementId, VendorId};
use mall::statements::{self, MarkPaid, Statement, StatementFilter, StatementStatus};
use maud::{Markup, html};
use serde::Deserialize;

use super::{parse_id, query};
use crate::error::Failure;
use crate::form::Fields;
use crate::i18n::Lang;
use crate::layout::{self, csrf, field_error, notice, problem};
use crate::session::{Posted, Signed};
use crate::{BASE, Console};

pub fn routes() -> Router<Console> {
    Router::new()
        .route("/vendors", get(vendors))
        .route("/vendors/{vendor_id}/statement", get(open_statement))
        .route("/vendors/{vendor_id}/statement/close", post(close))
        .route("/vendors/{vendor_id}/disclosures", get(disclosures_page).post(save_disclosures))
        .route("/statements", get(list))
        .route("/statements/{statement_id}", get(detail))
        .route("/statements/{statement_id}/csv", get(csv))
        .route("/statements/{statement_id}/paid", post(paid))
}

fn status_label(l: Lang, s: StatementStatus) -> &'static str {
    match s {
        StatementStatus::Open => l.t("集計中", "Open"),
        StatementStatus::Closed => l.t("確定", "Closed"),
        StatementStatus::Paid => l.t("支払済み", "Paid"),
    }
}

#[derive(Deserialize, Default)]
struct Done {
    done: Option<String>,
}

async fn vendors(State(state): State<Console>, s: Signed) -> Result<Response, Failure> {
    let l = s.lang;
    let by = Acting::Staff(&s.ctx);
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    let found = tenancy::vendors::list_vendors(&mut tx, by, &PageRequest { limit: Some(200), cursor: None }).await?;
    tx.commit().await?;
    let statements = s.ctx.allows(Permission::StatementsRead);
    let body = html! {
        h1 { (l.t("出店者", "Vendors")) }
        @if statements { p { a href={ (BASE) "/statements" } { (l.t("支払明細書の一覧 →", "All statements →")) } } }
        div.table-wrap {
            table.responsive.vendors {
                thead { tr {
                    th { (l.t("出店者", "Vendor")) } th { (l.t("状態", "Status")) } th.num { (l.t("手数料率", "Commission")) }
                    th { (l.t("登録番号", "Registration no.")) } th {}
                } }
                tbody {
                    @for v in found.items.iter().filter(|v| !v.is_house) {
                        tr data-vendor=(v.name) {
                            td data-label=(l.t("出店者", "Vendor")) { (v.name) }
                            td data-label=(l.t("状態", "Status")) { (serde_json::to_value(v.status).ok().and_then(|x| x.as_str().map(str::to_string)).unwrap_or_default()) }
                            td.num data-label=(l.t("手数料率", "Commission")) { (format!("{}%", v.commission_rate_bps as f64 / 100.0)) }
                            td data-label=(l.t("登録番号", "Registration no.")) { (v.registration_number.clone().unwrap_or_default()) }
                            td {
                                @if statements { a.open href={ (BASE) "/vendors/" (v.id) "/statement" } { (l.t("今期の明細", "Current statement")) } " " }
                                a.disclosures href={ (BASE) "/vendors/" (v.id) "/disclosures" } { (l.t("特定商取引法に基づく表記", "Commercial disclosures")) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(&s, "/vendors", l.t("出店者", "Vendors"), body))
}

/// A statement's figures and lines (the open one, a closed one or a paid one).
fn statement_body(l: Lang, st: &Statement) -> Markup {
    html! {
        p.muted {
            (l.t("期間", "Period")) " " (l.datetime(&st.period_start)) " – " (l.datetime(&st.period_end))
            " · " (l.t("締め日", "Closing")) " " (l.date(&st.closing_date))
            @if let Some(r) = &st.registration_number { " · " (l.t("登録番号", "Registration no.")) " " (r) }
        }
        div.grid2 {
            section.panel.figures {
                table {
                    tr { th { (l.t("売上（税込）", "Sales (tax incl.)")) } td.num data-figure="sales" { (l.money(&st.sales)) } }
                    @for r in &st.sales_by_rate {
                        tr.tax { th.muted { (r.rate_bps / 100) (l.t("%対象", "% sales")) } td.num.muted { (l.money(&r.sales)) " (" (l.t("内消費税", "tax")) " " (l.money(&r.tax)) ")" } }
                    }
                    tr { th { (l.t("販売手数料", "Commission")) } td.num { "-" (l.money(&st.commission)) } }
                    tr { th { (l.t("手数料の消費税", "Tax on commission")) } td.num { "-" (l.money(&st.commission_tax)) } }
                    tr { th { (l.t("振込手数料", "Transfer fee")) } td.num { "-" (l.money(&st.transfer_fee)) } }
                    @if st.carried_in.amount != 0 { tr { th { (l.t("前期からの繰越", "Carried in")) } td.num { (l.money(&st.carried_in)) } } }
                    @if st.carried_out.amount != 0 { tr { th { (l.t("次期への繰越", "Carried out")) } td.num { (l.money(&st.carried_out)) } } }
                    tr.total { th { (l.t("お支払額", "Net payable")) } td.num data-figure="net_payable" { (l.money(&st.net_payable)) } }
                }
            }
        }
        @if let Some(lines) = &st.lines {
            div.table-wrap {
                table.responsive.statement-lines {
                    thead { tr {
                        th { (l.t("注文番号", "Order")) } th { "SKU" } th { (l.t("商品", "Product")) } th { (l.t("計上日時", "Settled")) }
                        th.num { "10%" } th.num { "8%" } th.num { (l.t("手数料", "Commission")) }
                    } }
                    tbody {
                        @for line in lines {
                            tr data-order=(line.order_number) {
                                td data-label=(l.t("注文番号", "Order")) { a href={ (BASE) "/orders/" (line.order_id) } { "#" (line.order_number) } }
                                td data-label="SKU" { (line.sku) }
                                td data-label=(l.t("商品", "Product")) { (line.product_title) }
                                td data-label=(l.t("計上日時", "Settled")) { (l.datetime(&line.settled_at)) }
                                td.num data-label="10%" { (l.money(&kernel::Money::jpy(line.sales_10))) }
                                td.num data-label="8%" { (l.money(&kernel::Money::jpy(line.sales_8))) }
                                td.num data-label=(l.t("手数料", "Commission")) { (l.money(&kernel::Money::jpy(line.commission))) }
                            }
                        }
                        @if lines.is_empty() { tr { td colspan="7" .muted { (l.t("明細はありません。", "No lines.")) } } }
                    }
                }
            }
        }
    }
}

async fn open_statement(
    State(state): State<Console>,
    s: Signed,
    Path(vendor): Path<String>,
) -> Result<Response, Failure> {
    let l = s.lang;
    let vendor: VendorId = parse_id(&vendor)?;
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    let st = statements::open(&mut tx, Acting::Staff(&s.ctx), vendor).await?;
    tx.commit().await?;
    let body = html! {
        h1 { (st.vendor_name) " " span.status { (status_label(l, st.status)) } }
        (statement_body(l, &st))
        @if s.ctx.allows(Permission::StatementsManage) {
            form.close method="post" action={ (BASE) "/vendors/" (vendor) "/statement/close" } {
                (csrf(&s.csrf()))
                button type="submit" data-confirm=(l.t("この明細を確定しますか？", "Close this statement now?")) { (l.t("今すぐ締める", "Close now")) }
            }
        }
        p { a href={ (BASE) "/vendors" } { "← " (l.t("出店者", "Vendors")) } }
    };
    Ok(layout::page(&s, "/vendors", &st.vendor_name, body))
}

async fn close(State(state): State<Console>, Path(vendor): Path<String>, posted: Posted) -> Result<Response, Failure> {
    let s = posted.signed;
    let vendor: VendorId = parse_id(&vendor)?;
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    let st = statements::close_now(&mut tx, Acting::Staff(&s.ctx), vendor).await?;
    tx.commit().await?;
    let to = match st.id {
        Some(id) => format!("{BASE}/statements/{id}?done=closed"),
        None => format!("{BASE}/vendors/{vendor}/statement"),
    };
    Ok(Redirect::to(&to).into_response())
}

async fn list(State(state): State<Console>, s: Signed, RawQuery(raw): RawQuery) -> Result<Response, Failure> {
    let l = s.lang;
    let q: StatementFilter = query(raw.as_deref())?;
    let page: PageRequest = query(raw.as_deref())?;
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    let found = statements::list(&mut tx, Acting::Staff(&s.ctx), &q, &page).await?;
    tx.commit().await?;
    let body = html! {
        h1 { (l.t("支払明細書", "Statements")) }
        div.table-wrap {
            table.responsive.statements {
                thead { tr {
                    th { "No." } th { (l.t("出店者", "Vendor")) } th { (l.t("締め日", "Closing")) } th { (l.t("状態", "Status")) }
                    th.num { (l.t("売上", "Sales")) } th.num { (l.t("お支払額", "Net payable")) }
                } }
                tbody {
                    @for st in &found.items {
                        tr data-statement=(st.number.unwrap_or(0)) {
                            td data-label="No." { @if let Some(id) = st.id { a href={ (BASE) "/statements/" (id) } { (st.number.unwrap_or(0)) } } }
                            td data-label=(l.t("出店者", "Vendor")) { (st.vendor_name) }
                            td data-label=(l.t("締め日", "Closing")) { (l.date(&st.closing_date)) }
                            td data-label=(l.t("状態", "Status")) { (status_label(l, st.status)) }
                            td.num data-label=(l.t("売上", "Sales")) { (l.money(&st.sales)) }
                            td.num data-label=(l.t("お支払額", "Net payable")) { (l.money(&st.net_payable)) }
                        }
                    }
                    @if found.items.is_empty() { tr { td colspan="6" .muted { (l.t("確定した明細はありません。", "No closed statements yet.")) } } }
                }
            }
        }
        @if let Some(cursor) = &found.next_cursor {
            div.pager { a.next href={ (BASE) "/statements?cursor=" (cursor) } { (l.t("次のページ →", "Next page →")) } }
        }
    };
    Ok(layout::page(&s, "/vendors", l.t("支払明細書", "Statements"), body))
}

async fn detail(
    State(state): State<Console>,
    s: Signed,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Failure> {
    let id: StatementId = parse_id(&id)?;
    let done: Done = query(raw.as_deref()).unwrap_or_default();
    statement_page(&state, &s, id, done.done.as_deref(), None, &Fields::default()).await
}

async fn statement_page(
    state: &Console,
    s: &Signed,
    id: StatementId,
    done: Option<&str>,
    failed: Option<&Failure>,
    typed: &Fields,
) -> Result<Response, Failure> {
    let l = s.lang;
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    let st = statements::get(&mut tx, Acting::Staff(&s.ctx), id).await?;
    tx.commit().await?;
    let e = failed;
    let body = html! {
        h1 { (l.t("支払明細書", "Statement")) " No." (st.number.unwrap_or(0)) " · " (st.vendor_name) " "
            span.status data-status=(serde_json::to_value(st.status).ok().and_then(|x| x.as_str().map(str::to_string)).unwrap_or_default()) { (status_label(l, st.status)) } }
        (notice(l, done))
        @if let (Some(on), Some(r)) = (&st.paid_on, &st.bank_reference) { p { (l.t("支払日", "Paid on")) " " (l.date(on)) " · " (r) } }
        (statement_body(l, &st))
        @if s.ctx.allows(Permission::DataExport) {
            div.actions {
                a.button.secondary href={ (BASE) "/statements/" (id) "/csv" } download { "CSV (Excel)" }
                a.button.secondary href={ (BASE) "/statements/" (id) "/csv?encoding=shift_jis" } download { "CSV (Shift_JIS)" }
            }
        }
        @if st.status == StatementStatus::Closed && s.ctx.allows(Permission::StatementsManage) {
            section.panel.mark-paid {
                h2 { (l.t("支払を記録", "Record the payout")) }
                (problem(e, &["paid_on", "bank_reference"]))
                form.mark-paid method="post" action={ (BASE) "/statements/" (id) "/paid" } {
                    (csrf(&s.csrf()))
                    div { label for="paid_on" { (l.t("振込日", "Paid on")) } input #paid_on name="paid_on" type="date" value=(typed.get("paid_on")); (field_error(e, "paid_on")) }
                    div { label for="bank_reference" { (l.t("振込の照会番号", "Bank reference")) } input #bank_reference name="bank_reference" value=(typed.get("bank_reference")); (field_error(e, "bank_reference")) }
                    button type="submit" { (l.t("支払済みにする", "Mark paid")) }
                }
            }
        }
        p { a href={ (BASE) "/statements" } { "← " (l.t("支払明細書", "Statements")) } }
    };
    let status = failed.map(|f| f.status).unwrap_or(StatusCode::OK);
    Ok(layout::page_with_status(s, "/vendors", l.t("支払明細書", "Statement"), body, status))
}

async fn csv(
    State(state): State<Console>,
    s: Signed,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Failure> {
    let id: StatementId = parse_id(&id)?;
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    let text = statements::csv(&mut tx, Acting::Staff(&s.ctx), id).await?;
    tx.commit().await?;
    super::csv_download(&text, raw.as_deref(), kernel::csv_file::CsvEncoding::Utf8Bom, "statement.csv")
}

async fn paid(State(state): State<Console>, Path(id): Path<String>, posted: Posted) -> Result<Response, Failure> {
    let Posted { signed: s, form: f } = posted;
    let id: StatementId = parse_id(&id)?;
    let paid_on = NaiveDate::parse_from_str(f.get("paid_on").trim(), "%Y-%m-%d")
        .map_err(|_| Failure::invalid(vec![FieldError::new("paid_on", "invalid", "must be a date (2026-12-01)")]));
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    let result = match paid_on {
        Ok(paid_on) => {
            let input = MarkPaid { paid_on, bank_reference: f.get("bank_reference").to_string() };
            statements::mark_paid(&mut tx, Acting::Staff(&s.ctx), id, input).await.map(|_| ()).map_err(Failure::from)
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("{BASE}/statements/{id}?done=paid")).into_response())
        }
        Err(failure) if failure.is_form_error() => {
            tx.rollback().await?;
            statement_page(&state, &s, id, None, Some(&failure), &f).await
        }
        Err(failure) => Err(failure),
    }
}

/// A mall vendor's own commercial disclosures (the seller of its goods), as
/// `GET /admin/v1/vendors/{vendor_id}/legal-disclosures` answers them: the mall's staff see
/// each vendor's, a vendor's staff their own (another vendor's is a 404, as in the API).
async fn disclosures_page(
    State(state): State<Console>,
    s: Signed,
    Path(vendor): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Failure> {
    let vendor: VendorId = parse_id(&vendor)?;
    let done: Done = query(raw.as_deref()).unwrap_or_default();
    vendor_disclosures(&state, &s, vendor, done.done.as_deref(), None).await
}

async fn vendor_disclosures(
    state: &Console,
    s: &Signed,
    vendor: VendorId,
    done: Option<&str>,
    failed: Option<(&Failure, &Fields)>,
) -> Result<Response, Failure> {
    let l = s.lang;
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    let d = tenancy::disclosures::get(&mut tx, s.ctx.store_id, Some(vendor), Acting::Staff(&s.ctx)).await?;
    let name = tenancy::vendors::get_vendor(&mut tx, vendor).await?.name;
    tx.commit().await?;
    let saved = Fields::from_pairs(super::settings::disclosures_fields(&d));
    let (e, t) = match failed {
        Some((f, typed)) => (Some(f), typed),
        None => (None, &saved),
    };
    let action = format!("{BASE}/vendors/{vendor}/disclosures");
    let can = s.ctx.allows(Permission::StoreManage);
    let body = html! {
        h1 { (name) }
        p { a href={ (BASE) "/vendors" } { (l.t("← 出店者の一覧", "← Vendors")) } }
        (notice(l, done))
        (super::settings::disclosures_form(l, &s.csrf(), &action, &d, e, t, can))
    };
    let status = e.map(|f| f.status).unwrap_or(StatusCode::OK);
    Ok(layout::page_with_status(s, "/vendors", l.t("特定商取引法に基づく表記", "Commercial disclosures"), body, status))
}

/// Replaces a vendor's disclosures (the mall's owners and admins: `tenancy::disclosures::update`
/// with the vendor), publishing only with every required item; refused, the API's messages
/// are next to the items and nothing is saved.
async fn save_disclosures(
    State(state): State<Console>,
    Path(vendor): Path<String>,
    posted: Posted,
) -> Result<Response, Failure> {
    let Posted { signed: s, form } = posted;
    let vendor: VendorId = parse_id(&vendor)?;
    let input = super::settings::disclosures_input(&form);
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    match tenancy::disclosures::update(&mut tx, s.ctx.store_id, Some(vendor), Acting::Staff(&s.ctx), input).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("{BASE}/vendors/{vendor}/disclosures?done=saved")).into_response())
        }
        Err(e) => {
            tx.rollback().await?;
            let f = Failure::from(e);
            if !f.is_form_error() {
                return Err(f);
            }
            vendor_disclosures(&state, &s, vendor, None, Some((&f, &form))).await
        }
    }
}
