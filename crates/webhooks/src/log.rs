//! The delivery log: deliveries (one per event and endpoint) and their attempts; resending one,
//! replaying a time range, and a test ping.

use chrono::{DateTime, Utc};
use db::Tx;
use events::NewEvent;
use kernel::access::{Permission, StaffContext};
use kernel::{EventId, Page, PageRequest, ValidationErrors, WebhookDeliveryId, WebhookEndpointId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::endpoint::find;
use crate::error::WebhookError;
use crate::event::WebhookEndpointPing;

/// One event's delivery to one endpoint.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Delivery {
    pub id: WebhookDeliveryId,
    pub endpoint_id: WebhookEndpointId,
    /// The event (the `webhook-id` of every attempt).
    pub event_id: EventId,
    pub event_type: String,
    pub event_created_at: DateTime<Utc>,
    /// `pending` (waiting for its next attempt), `sending`, `succeeded` or `failed` (given up,
    /// or the endpoint answered 410).
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub succeeded_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Every attempt, oldest first (in the answer of one delivery only).
    #[sqlx(skip)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt_log: Option<Vec<Attempt>>,
}

/// One attempt: what was sent when, and what the receiver answered.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Attempt {
    pub attempt: i32,
    /// `succeeded` (a 2xx) or `failed`.
    pub outcome: String,
    /// The receiver's HTTP status; `null` when none came (timeout, refused connection).
    pub status_code: Option<i32>,
    pub duration_ms: i32,
    #[schema(value_type = Object)]
    pub response_headers: serde_json::Value,
    /// The first 4 KB of the response body.
    pub response_body: String,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryFilter {
    /// A topic filter (`order.*`, `payment.confirmed`).
    pub topic: Option<String>,
    /// `pending`, `sending`, `succeeded` or `failed`.
    pub outcome: Option<String>,
    /// Events recorded at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Events recorded before this time.
    pub to: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Replay {
    /// Topic filters of the events to send again.
    pub topics: Vec<String>,
    /// Events recorded at or after this time...
    pub from: DateTime<Utc>,
    /// ...and before this one.
    pub to: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Replayed {
    /// How many events were queued for the endpoint (again).
    pub queued: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PingSent {
    /// The ping's event id: its delivery appears in the endpoint's log.
    pub event_id: EventId,
}

const COLUMNS: &str = "id, endpoint_id, event_id, event_type, event_created_at, status, attempts,
                       CASE WHEN status = 'pending' THEN next_attempt_at END AS next_attempt_at, last_status_code,
                       last_error, succeeded_at, created_at, updated_at";

/// An endpoint's deliveries, newest first, filtered.
pub async fn list(
    tx: &mut Tx,
    ctx: &StaffContext,
    endpoint: WebhookEndpointId,
    filter: &DeliveryFilter,
    page: &PageRequest,
) -> Result<Page<Delivery>, WebhookError> {
    ctx.require(Permission::WebhooksManage)?;
    let limit = page.limit()?;
    let after: Option<WebhookDeliveryId> = page.after()?;
    if let Some(t) = &filter.topic {
        events::check_topic(t).map_err(|why| ValidationErrors::one("topic", "unknown_topic", why))?;
    }
    if let Some(o) = &filter.outcome
        && !["pending", "sending", "succeeded", "failed"].contains(&o.as_str())
    {
        return Err(ValidationErrors::one("outcome", "invalid", "pending, sending, succeeded or failed").into());
    }
    find(tx, ctx.store_id, endpoint).await?;
    let rows: Vec<Delivery> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM webhook_deliveries
          WHERE endpoint_id = $1 AND ($2::uuid IS NULL OR id < $2)
            AND ($3::text IS NULL OR tenpo_topic_matches(ARRAY[$3], event_type))
            AND ($4::text IS NULL OR status = $4)
            AND ($5::timestamptz IS NULL OR event_created_at >= $5)
            AND ($6::timestamptz IS NULL OR event_created_at < $6)
          ORDER BY id DESC LIMIT $7"
    ))
    .bind(endpoint)
    .bind(after)
    .bind(&filter.topic)
    .bind(&filter.outcome)
    .bind(filter.from)
    .bind(filter.to)
    .bind(i64::from(limit) + 1)
    .fetch_all(&mut **tx)
    .await?;
    Ok(Page::from_rows(rows, limit, |d| d.id))
}

/// One delivery with every attempt.
pub async fn get(
    tx: &mut Tx,
    ctx: &StaffContext,
    endpoint: WebhookEndpointId,
    id: WebhookDeliveryId,
) -> Result<Delivery, WebhookError> {
    ctx.require(Permission::WebhooksManage)?;
    find(tx, ctx.store_id, endpoint).await?;
    let mut d: Delivery =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM webhook_deliveries WHERE id = $1 AND endpoint_id = $2"))
            .bind(id)
            .bind(endpoint)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(WebhookError::DeliveryNotFound)?;
    let attempts: Vec<Attempt> = sqlx::query_as(
        "SELECT attempt, outcome, status_code, duration_ms, response_headers, response_body, error, created_at
           FROM webhook_attempts WHERE delivery_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&mut **tx)
    .await?;
    d.attempt_log = Some(attempts);
    Ok(d)
}

/// Sends a delivery again now, with a fresh retry schedule (unless it is being sent).
pub async fn resend(
    tx: &mut Tx,
    ctx: &StaffContext,
    endpoint: WebhookEndpointId,
    id: WebhookDeliveryId,
) -> Result<Delivery, WebhookError> {
    ctx.require(Permission::WebhooksManage)?;
    find(tx, ctx.store_id, endpoint).await?;
    sqlx::query(
        "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now(), retry_base = attempts
          WHERE id = $1 AND endpoint_id = $2 AND status <> 'sending'",
    )
    .bind(id)
    .bind(endpoint)
    .execute(&mut **tx)
    .await?;
    get(tx, ctx, endpoint, id).await
}

/// Queues every event of the topics recorded in `[from, to)` for the endpoint: events it never
/// got (it did not exist, was disabled or filtered them out) and events it got (sent again).
pub async fn replay(
    tx: &mut Tx,
    ctx: &StaffContext,
    endpoint: WebhookEndpointId,
    input: Replay,
) -> Result<Replayed, WebhookError> {
    ctx.require(Permission::WebhooksManage)?;
    let mut v = kernel::Validator::new();
    if input.topics.is_empty() || input.topics.len() > 100 {
        v.push("topics", "required", "give 1 to 100 topic filters");
    }
    for (i, t) in input.topics.iter().enumerate() {
        if let Err(why) = events::check_topic(t) {
            v.push(&format!("topics[{i}]"), "unknown_topic", why);
        }
    }
    if input.to <= input.from {
        v.push("to", "before_from", "must be after `from`");
    }
    v.into_result()?;
    let e = find(tx, ctx.store_id, endpoint).await?;
    let queued: i64 = sqlx::query_scalar(
        "WITH q AS (
           INSERT INTO webhook_deliveries (tenant_id, endpoint_id, event_id, event_type, event_created_at)
           SELECT ev.tenant_id, $1, ev.id, ev.event_type, ev.created_at FROM outbox_events ev
            WHERE (ev.store_id = $2 OR ev.store_id IS NULL) AND ev.created_at >= $3 AND ev.created_at < $4
              AND tenpo_topic_matches($5, ev.event_type) AND ev.event_type <> 'webhook_endpoint.ping'
           ON CONFLICT (endpoint_id, event_id) DO UPDATE
              SET status = 'pending', next_attempt_at = now(), retry_base = webhook_deliveries.attempts
            WHERE webhook_deliveries.status <> 'sending'
           RETURNING 1)
         SELECT count(*) FROM q",
    )
    .bind(endpoint)
    .bind(e.store_id)
    .bind(input.from)
    .bind(input.to)
    .bind(&input.topics)
    .fetch_one(&mut **tx)
    .await?;
    tracing::info!(endpoint = %endpoint, queued, "webhook replay queued");
    Ok(Replayed { queued })
}

/// Records a `webhook_endpoint.ping` event for the endpoint alone.
pub async fn ping(tx: &mut Tx, ctx: &StaffContext, endpoint: WebhookEndpointId) -> Result<PingSent, WebhookError> {
    ctx.require(Permission::WebhooksManage)?;
    find(tx, ctx.store_id, endpoint).await?;
    let event = events::record(tx, NewEvent::of(&WebhookEndpointPing { endpoint_id: endpoint }).in_store(ctx.store_id))
        .await?
        .ok_or(WebhookError::EndpointNotFound)?;
    Ok(PingSent { event_id: event })
}
