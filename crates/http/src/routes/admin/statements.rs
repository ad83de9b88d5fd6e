//! Mall mode: vendors' statements (精算書): the open one, closing, the closed list, one with its
//! lines, its CSV, and its payout.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use kernel::access::Acting;
use kernel::csv_file::CsvEncoding;
use kernel::{Page, PageRequest, StatementId, VendorId};
use mall::statements::{self, MarkPaid, Statement, StatementFilter};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::download::{self, CsvQuery};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Staff};
use crate::problem::{ApiResult, ProblemBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(open_statement))
        .routes(routes!(close_statement))
        .routes(routes!(list_statements))
        .routes(routes!(get_statement))
        .routes(routes!(statement_csv))
        .routes(routes!(statement_paid))
}

/// A vendor's open statement: what closing now would count (not stored).
#[utoipa::path(get, path = "/admin/v1/vendors/{vendor_id}/statements/open", tag = "mall", security(("staff" = [])),
    responses((status = 200, body = Statement), (status = 404, body = ProblemBody, description = "vendor_not_found"),
              (status = 422, body = ProblemBody, description = "not_a_mall")))]
async fn open_statement(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(vendor): ApiPath<VendorId>,
) -> ApiResult<Json<Statement>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let st = statements::open(&mut tx, Acting::Staff(&ctx), vendor).await?;
    tx.commit().await?;
    Ok(Json(st))
}

/// Close a vendor's statement now (the mall's staff): what is settled by now and not yet
/// counted, numbered and final.
#[utoipa::path(post, path = "/admin/v1/vendors/{vendor_id}/statements/close", tag = "mall", security(("staff" = [])),
    responses((status = 200, body = Statement), (status = 404, body = ProblemBody, description = "vendor_not_found"),
              (status = 422, body = ProblemBody, description = "not_a_mall")))]
async fn close_statement(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(vendor): ApiPath<VendorId>,
) -> ApiResult<Json<Statement>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let st = statements::close_now(&mut tx, Acting::Staff(&ctx), vendor).await?;
    tx.commit().await?;
    Ok(Json(st))
}

/// Closed and paid statements, newest first (a vendor's staff: their own vendor's).
#[utoipa::path(get, path = "/admin/v1/statements", tag = "mall", security(("staff" = [])), params(StatementFilter, PageRequest),
    responses((status = 200, body = Page<Statement>)))]
async fn list_statements(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<StatementFilter>,
    ApiQuery(page): ApiQuery<PageRequest>,
) -> ApiResult<Json<Page<Statement>>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let list = statements::list(&mut tx, Acting::Staff(&ctx), &q, &page).await?;
    tx.commit().await?;
    Ok(Json(list))
}

/// One statement with its lines.
#[utoipa::path(get, path = "/admin/v1/statements/{statement_id}", tag = "mall", security(("staff" = [])),
    responses((status = 200, body = Statement), (status = 404, body = ProblemBody, description = "statement_not_found")))]
async fn get_statement(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<StatementId>,
) -> ApiResult<Json<Statement>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let st = statements::get(&mut tx, Acting::Staff(&ctx), id).await?;
    tx.commit().await?;
    Ok(Json(st))
}

/// The statement as CSV (UTF-8 with a BOM unless `encoding` says otherwise), with the vendor's
/// registration number.
#[utoipa::path(get, path = "/admin/v1/statements/{statement_id}/csv", tag = "mall", security(("staff" = [])), params(CsvQuery),
    responses((status = 200, content_type = "text/csv", body = String),
              (status = 404, body = ProblemBody, description = "statement_not_found"),
              (status = 422, body = ProblemBody, description = "csv_unencodable")))]
async fn statement_csv(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<StatementId>,
    ApiQuery(q): ApiQuery<CsvQuery>,
) -> ApiResult<Response> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let text = statements::csv(&mut tx, Acting::Staff(&ctx), id).await?;
    tx.commit().await?;
    download::csv(&text, &q, CsvEncoding::Utf8Bom, "statement.csv")
}

/// Record a statement's payout: the day and the bank's reference (payouts happen offline).
#[utoipa::path(post, path = "/admin/v1/statements/{statement_id}/paid", tag = "mall", security(("staff" = [])),
    request_body = MarkPaid,
    responses((status = 200, body = Statement), (status = 404, body = ProblemBody, description = "statement_not_found"),
              (status = 409, body = ProblemBody, description = "statement_paid")))]
async fn statement_paid(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<StatementId>,
    ApiJson(input): ApiJson<MarkPaid>,
) -> ApiResult<Json<Statement>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let st = statements::mark_paid(&mut tx, Acting::Staff(&ctx), id, input).await?;
    tx.commit().await?;
    Ok(Json(st))
}
