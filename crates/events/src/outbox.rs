use chrono::{DateTime, Utc};
use db::Tx;
use kernel::{EventId, StoreId, TenantId};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::catalog::{EventType, Payload};

/// An event to record, built from its typed payload: `NewEvent::of(&payload).in_store(store)`.
#[derive(Debug, Clone)]
pub struct NewEvent {
    store_id: Option<StoreId>,
    event_type: EventType,
    aggregate_id: String,
    payload: Value,
    idempotency_key: Option<String>,
}

impl NewEvent {
    /// The one way to build an event: its type, aggregate and version come from the payload.
    pub fn of<P: Payload>(payload: &P) -> Self {
        NewEvent {
            store_id: None,
            event_type: P::TYPE,
            aggregate_id: payload.aggregate_id(),
            payload: serde_json::to_value(payload).unwrap_or(Value::Null),
            idempotency_key: None,
        }
    }

    /// The store the event belongs to: its webhooks get it (events without a store go to
    /// every endpoint of the tenant).
    pub fn in_store(mut self, store: StoreId) -> Self {
        self.store_id = Some(store);
        self
    }

    /// Makes recording idempotent per tenant: a second event with the same key is not written.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    pub fn event_type(&self) -> EventType {
        self.event_type
    }
}

/// A recorded event as consumers see it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Event {
    pub id: EventId,
    pub tenant_id: TenantId,
    pub store_id: Option<StoreId>,
    pub aggregate_type: String,
    pub aggregate_id: String,
    /// The name as stored; [`Event::kind`] gives the catalog's type.
    pub event_type: String,
    #[sqlx(rename = "payload_json")]
    pub payload: Value,
    /// This event's place among its aggregate's events (1, 2, ...; in commit order).
    pub sequence: Option<i64>,
    /// The payload's schema version ([`EventType::version`] when it was recorded).
    #[sqlx(rename = "schema_version")]
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub attempts: i32,
}

/// A payload that is not what its event type says.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("event {id} is a {actual}, not a {expected}")]
    OtherType { id: EventId, actual: String, expected: EventType },
    #[error("event {id} ({kind}) has a payload of another shape: {source}")]
    Shape { id: EventId, kind: EventType, source: serde_json::Error },
}

impl Event {
    /// The event's type in the catalog (`None` for a name the catalog no longer has).
    pub fn kind(&self) -> Option<EventType> {
        EventType::parse(&self.event_type)
    }

    pub fn is(&self, kind: EventType) -> bool {
        self.event_type == kind.name()
    }

    /// The typed payload, when the event is of `P`'s type.
    pub fn data<P: Payload + DeserializeOwned>(&self) -> Result<P, PayloadError> {
        if !self.is(P::TYPE) {
            return Err(PayloadError::OtherType { id: self.id, actual: self.event_type.clone(), expected: P::TYPE });
        }
        serde_json::from_value(self.payload.clone()).map_err(|source| PayloadError::Shape {
            id: self.id,
            kind: P::TYPE,
            source,
        })
    }

    /// The event as integrators receive it (webhook body, NATS message).
    pub fn envelope(&self) -> Envelope<'_> {
        Envelope {
            id: self.id,
            kind: &self.event_type,
            version: self.version,
            timestamp: self.created_at,
            tenant_id: self.tenant_id,
            store_id: self.store_id,
            aggregate: Aggregate { kind: &self.aggregate_type, id: &self.aggregate_id, sequence: self.sequence },
            data: &self.payload,
        }
    }
}

/// What leaves Tenpo for an event: the Standard Webhooks shape (`type`, `timestamp`, `data`)
/// with the event id (the dedupe key: `webhook-id`, `Nats-Msg-Id`), the payload's version and
/// the aggregate with the event's sequence number among its events.
#[derive(Debug, Serialize)]
pub struct Envelope<'a> {
    pub id: EventId,
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub version: i32,
    pub timestamp: DateTime<Utc>,
    pub tenant_id: TenantId,
    pub store_id: Option<StoreId>,
    pub aggregate: Aggregate<'a>,
    pub data: &'a Value,
}

#[derive(Debug, Serialize)]
pub struct Aggregate<'a> {
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub id: &'a str,
    pub sequence: Option<i64>,
}

/// Records an event in the caller's transaction, numbered after the aggregate's last event.
/// Returns `None` when an event with the same idempotency key already exists for the tenant.
///
/// The aggregate's counter row stays locked until the transaction ends, so the events of one
/// aggregate are numbered in the order they commit.
pub async fn record(tx: &mut Tx, event: NewEvent) -> Result<Option<EventId>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_scalar(
        "WITH seq AS (
           INSERT INTO outbox_sequences AS s (tenant_id, aggregate_type, aggregate_id, last_sequence)
           SELECT $2, $4, $5, 1
            WHERE $8::text IS NULL
               OR NOT EXISTS (SELECT 1 FROM outbox_events WHERE tenant_id = $2 AND idempotency_key = $8)
           ON CONFLICT (tenant_id, aggregate_type, aggregate_id) DO UPDATE SET last_sequence = s.last_sequence + 1
           RETURNING last_sequence)
         INSERT INTO outbox_events (id, tenant_id, store_id, aggregate_type, aggregate_id, event_type, payload_json,
                                    idempotency_key, sequence, schema_version)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, seq.last_sequence, $9 FROM seq
         ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
         RETURNING id",
    )
    .bind(EventId::new())
    .bind(tenant)
    .bind(event.store_id)
    .bind(event.event_type.aggregate())
    .bind(&event.aggregate_id)
    .bind(event.event_type.name())
    .bind(&event.payload)
    .bind(&event.idempotency_key)
    .bind(event.event_type.version())
    .fetch_optional(&mut **tx)
    .await
}

/// Records many events in the caller's transaction in one statement (a bulk import's), each
/// numbered after its aggregate's last event as [`record`] numbers them; events of one
/// aggregate keep the order given. Idempotency keys are not looked at: give events without one.
pub async fn record_many(tx: &mut Tx, events: Vec<NewEvent>) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    let within = Within::new(events.into_iter().map(|e| (e, false)).collect());
    within
        .bind(
            sqlx::query_as::<_, (i32,)>(&format!("WITH {} SELECT 1", within.ctes(1, 2, "'{}'::jsonb")))
                .bind(tx.tenant()),
        )
        .fetch_one(&mut **tx)
        .await?;
    Ok(())
}

/// Events recorded by a statement of the caller's, as its CTEs (`outbox_ev`, `outbox_seq`,
/// `outbox_out`), so a write that ends a transaction records its events in the same round
/// trip. Numbered as [`record_many`] numbers them (which is this, alone). An event marked so
/// has its payload merged (`||`) with a jsonb expression of the caller's statement: a value
/// only that statement knows, such as the number it just drew. Idempotency keys are not looked
/// at: give events without one.
pub struct Within {
    ids: Vec<EventId>,
    stores: Vec<Option<StoreId>>,
    kinds: Vec<&'static str>,
    aggregates: Vec<String>,
    names: Vec<&'static str>,
    payloads: Vec<Value>,
    versions: Vec<i32>,
    patched: Vec<bool>,
}

impl Within {
    /// The events, each with whether the caller's expression is merged into its payload.
    pub fn new(events: Vec<(NewEvent, bool)>) -> Within {
        debug_assert!(events.iter().all(|e| e.0.idempotency_key.is_none()), "Within takes no idempotency keys");
        let mut w = Within {
            ids: Vec::new(),
            stores: Vec::new(),
            kinds: Vec::new(),
            aggregates: Vec::new(),
            names: Vec::new(),
            payloads: Vec::new(),
            versions: Vec::new(),
            patched: Vec::new(),
        };
        for (e, patched) in events {
            w.ids.push(EventId::new());
            w.stores.push(e.store_id);
            w.kinds.push(e.event_type.aggregate());
            w.names.push(e.event_type.name());
            w.versions.push(e.event_type.version());
            w.aggregates.push(e.aggregate_id);
            w.payloads.push(e.payload);
            w.patched.push(patched);
        }
        w
    }

    /// The CTEs (without a leading `WITH`), reading the tenant from `$tenant` and their own
    /// eight parameters from `$first` on ([`Within::bind`] binds them, in that place); `patch`
    /// is the jsonb expression merged into the marked payloads.
    pub fn ctes(&self, tenant: usize, first: usize, patch: &str) -> String {
        let p = |i: usize| first + i;
        format!(
            "outbox_ev AS (
               SELECT e.*, row_number() OVER (PARTITION BY e.aggregate_type, e.aggregate_id ORDER BY e.ord) AS nth,
                      count(*) OVER (PARTITION BY e.aggregate_type, e.aggregate_id) AS of_aggregate
                 FROM unnest(${}::uuid[], ${}::uuid[], ${}::text[], ${}::text[], ${}::text[], ${}::jsonb[], ${}::int[], ${}::bool[])
                      WITH ORDINALITY AS e(id, store_id, aggregate_type, aggregate_id, event_type, payload, version, patched, ord)),
             outbox_seq AS (
               INSERT INTO outbox_sequences AS s (tenant_id, aggregate_type, aggregate_id, last_sequence)
               SELECT ${tenant}, aggregate_type, aggregate_id, max(of_aggregate) FROM outbox_ev GROUP BY aggregate_type, aggregate_id
               ON CONFLICT (tenant_id, aggregate_type, aggregate_id) DO UPDATE SET last_sequence = s.last_sequence + EXCLUDED.last_sequence
               RETURNING aggregate_type, aggregate_id, last_sequence),
             outbox_out AS (
               INSERT INTO outbox_events (id, tenant_id, store_id, aggregate_type, aggregate_id, event_type, payload_json,
                                          sequence, schema_version)
               SELECT ev.id, ${tenant}, ev.store_id, ev.aggregate_type, ev.aggregate_id, ev.event_type,
                      CASE WHEN ev.patched THEN ev.payload || ({patch}) ELSE ev.payload END,
                      seq.last_sequence - ev.of_aggregate + ev.nth, ev.version
                 FROM outbox_ev ev JOIN outbox_seq seq USING (aggregate_type, aggregate_id)
                ORDER BY ev.ord
               RETURNING id)",
            p(0),
            p(1),
            p(2),
            p(3),
            p(4),
            p(5),
            p(6),
            p(7),
        )
    }

    /// Binds the eight parameters of [`Within::ctes`], next in `q`.
    pub fn bind<'q, O>(
        &'q self,
        q: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
        q.bind(&self.ids)
            .bind(&self.stores)
            .bind(&self.kinds)
            .bind(&self.aggregates)
            .bind(&self.names)
            .bind(&self.payloads)
            .bind(&self.versions)
            .bind(&self.patched)
    }
}
