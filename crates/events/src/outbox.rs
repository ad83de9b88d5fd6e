use chrono::{DateTime, Utc};
use db::Tx;
use kernel::{EventId, StoreId, TenantId};
use serde::Serialize;
use serde_json::Value;

/// An event to record, e.g. `product.created` for aggregate `product` `<id>`.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub store_id: Option<StoreId>,
    pub aggregate_type: &'static str,
    pub aggregate_id: String,
    pub event_type: &'static str,
    pub payload: Value,
    /// Makes recording idempotent per tenant: a second event with the same key is not written.
    pub idempotency_key: Option<String>,
}

impl NewEvent {
    pub fn new(
        event_type: &'static str,
        aggregate_type: &'static str,
        aggregate_id: impl ToString,
        payload: impl Serialize,
    ) -> Self {
        NewEvent {
            store_id: None,
            aggregate_type,
            aggregate_id: aggregate_id.to_string(),
            event_type,
            payload: serde_json::to_value(payload).unwrap_or(Value::Null),
            idempotency_key: None,
        }
    }

    pub fn in_store(mut self, store: StoreId) -> Self {
        self.store_id = Some(store);
        self
    }

    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }
}

/// A recorded event as consumers see it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Event {
    pub id: EventId,
    pub tenant_id: TenantId,
    pub store_id: Option<StoreId>,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub event_type: String,
    #[sqlx(rename = "payload_json")]
    #[serde(rename = "data")]
    pub payload: Value,
    pub created_at: DateTime<Utc>,
    #[serde(skip)]
    pub attempts: i32,
}

/// Records an event in the caller's transaction. Returns `None` when an event with the same
/// idempotency key already exists for the tenant.
pub async fn record(tx: &mut Tx, event: NewEvent) -> Result<Option<EventId>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_scalar(
        "INSERT INTO outbox_events (id, tenant_id, store_id, aggregate_type, aggregate_id, event_type, payload_json, idempotency_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
         RETURNING id",
    )
    .bind(EventId::new())
    .bind(tenant)
    .bind(event.store_id)
    .bind(event.aggregate_type)
    .bind(&event.aggregate_id)
    .bind(event.event_type)
    .bind(&event.payload)
    .bind(&event.idempotency_key)
    .fetch_optional(&mut **tx)
    .await
}
