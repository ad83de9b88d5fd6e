//! Operations endpoints: liveness, readiness, Prometheus metrics, the OpenAPI document and its
//! reference page (Swagger UI, served from assets compiled into the binary: works offline).

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use utoipa_swagger_ui::SwaggerUi;

use crate::AppState;
use crate::problem::ApiError;

/// The process-wide Prometheus recorder (installed once, however many routers are built).
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
            .map(|b| b.build_recorder())
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let handle = recorder.handle();
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

pub fn router(openapi: serde_json::Value) -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .merge(SwaggerUi::new("/docs").external_url_unchecked("/openapi.json", openapi))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Ready when the main database answers and no database (the main one or a store's,
/// `db_connections`) lags behind this binary's migrations. A store database that does not
/// answer is reported (its stores answer 503) without taking the whole process out of service.
async fn readyz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    use db::connections::HealthStatus;
    let Ok(all) = tokio::time::timeout(std::time::Duration::from_secs(3), state.db.health()).await else {
        return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", "the database is not reachable"));
    };
    if all.first().is_none_or(|main| main.status == HealthStatus::Unreachable) {
        return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", "the database is not reachable"));
    }
    let lagging: Vec<String> = all
        .iter()
        .filter(|h| h.status == HealthStatus::Lagging)
        .map(|h| format!("{} ({})", h.db_key, h.error.as_deref().unwrap_or("behind")))
        .collect();
    if !lagging.is_empty() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_lagging",
            format!("database(s) behind this binary's migrations: {}", lagging.join(", ")),
        ));
    }
    let degraded = all.iter().any(|h| h.status == HealthStatus::Unreachable);
    Ok(Json(serde_json::json!({
        "status": if degraded { "degraded" } else { "ready" },
        "database": "ok",
        "databases": all,
        "storefront_cache": state.cache.state(),
    })))
}

/// Prometheus text, with each database's health measured now: `tenpo_db_up`,
/// `tenpo_db_lagging`, `tenpo_db_pool_connections` and `tenpo_db_pool_idle` by `db` key.
async fn metrics_text(State(state): State<AppState>) -> Response {
    use db::connections::HealthStatus;
    if let Ok(all) = tokio::time::timeout(std::time::Duration::from_secs(3), state.db.health()).await {
        for h in all {
            let db = [("db", h.db_key.clone())];
            let up = matches!(h.status, HealthStatus::Ok | HealthStatus::Lagging);
            metrics::gauge!("tenpo_db_up", &db).set(if up { 1.0 } else { 0.0 });
            metrics::gauge!("tenpo_db_lagging", &db).set(if h.status == HealthStatus::Lagging { 1.0 } else { 0.0 });
            metrics::gauge!("tenpo_db_pool_connections", &db).set(h.pool_open as f64);
            metrics::gauge!("tenpo_db_pool_idle", &db).set(h.pool_idle as f64);
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], prometheus().render()).into_response()
}

/// Middleware: request counts and latencies by route template (never by raw path, so ids do
/// not explode the label set).
pub async fn record_metrics(req: Request, next: Next) -> Response {
    let _ = prometheus();
    let route =
        req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let started = Instant::now();
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("tenpo_http_requests_total", &labels).increment(1);
    metrics::histogram!("tenpo_http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    res
}
