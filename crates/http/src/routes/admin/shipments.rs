//! Carrier label CSVs: shipments out to Yamato B2 Cloud or Sagawa e-飛伝, tracking numbers back
//! in (`checkout::carrier_csv`, docs/JAPAN.md).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use checkout::carrier_csv::{self, CarrierExport, CarrierFormat, TrackingImport};
use kernel::access::Acting;
use kernel::csv_file::CsvEncoding;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::download::{self, CsvQuery};
use crate::extract::{ApiQuery, Staff};
use crate::problem::{ApiResult, ProblemBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export_shipments)).routes(routes!(import_tracking))
}

/// Shipments as a carrier's label CSV: `format=yamato_b2` (B2 Cloud, 42 columns) or
/// `sagawa_ehiden` (e-飛伝, 74 columns); Shift_JIS with CRLF lines. `status` is `pending` by
/// default (waiting to leave, of orders that may ship). A vendor's staff get their shipments.
/// An address longer than the carrier's fields is 422 naming the order.
#[utoipa::path(get, path = "/admin/v1/shipments/export", tag = "orders", security(("staff" = [])), params(CarrierExport, CsvQuery),
    responses((status = 200, content_type = "text/csv", body = String),
              (status = 422, body = ProblemBody, description = "validation_failed, csv_unencodable")))]
async fn export_shipments(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<CarrierExport>,
    ApiQuery(file): ApiQuery<CsvQuery>,
) -> ApiResult<Response> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let csv = carrier_csv::export(&mut tx, ctx.store_id, Acting::Staff(&ctx), &q, None, s.settings.clock.now()).await?;
    tx.commit().await?;
    download::csv(&csv, &file, CsvEncoding::ShiftJis, q.format.filename())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ImportQuery {
    /// The carrier program that wrote the file.
    #[param(inline)]
    format: CarrierFormat,
}

/// The tracking-number CSV a carrier's program writes back (Shift_JIS or UTF-8, a header row
/// with お客様管理番号 and 伝票番号, or お問い合せ送り状No. for e-飛伝): each row's shipment is
/// marked shipped with its tracking number, as a manual ship is (events, the shipped mail).
/// Rows that match no shipment of the caller's, or cannot ship, are listed in `unmatched`.
#[utoipa::path(post, path = "/admin/v1/shipments/tracking-import", tag = "orders", security(("staff" = [])), params(ImportQuery),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = TrackingImport), (status = 415, body = ProblemBody),
              (status = 422, body = ProblemBody, description = "validation_failed (the file)")))]
async fn import_tracking(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<ImportQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<TrackingImport>> {
    super::require_csv(&headers)?;
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let report = carrier_csv::import_tracking(&mut tx, ctx.store_id, Acting::Staff(&ctx), q.format, &body).await?;
    tx.commit().await?;
    Ok(Json(report))
}
