//! The event catalog in the OpenAPI document: one entry per event type in the top-level
//! `webhooks` section (OpenAPI 3.1), each the POST a receiver gets, with the Standard Webhooks
//! headers and a body schema: the envelope (`<Type>Event`) around the type's payload schema.

use std::collections::BTreeMap;

use events::{EventType, Payload};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::{OpenApi, RefOr};

/// One event type's payload schema and the schemas it refers to.
pub struct Entry {
    pub kind: EventType,
    /// The component name of the payload schema.
    pub payload: String,
    schema: RefOr<Schema>,
    refers_to: Vec<(String, RefOr<Schema>)>,
}

fn entry<P: Payload + ToSchema>() -> Entry {
    let mut refers_to = Vec::new();
    P::schemas(&mut refers_to);
    Entry { kind: P::TYPE, payload: P::name().into_owned(), schema: P::schema(), refers_to }
}

/// Every payload struct, one per event type (a test checks the list against the catalog).
pub fn catalog() -> Vec<Entry> {
    macro_rules! entries { ($($ty:ty),* $(,)?) => { vec![$(entry::<$ty>()),*] } }
    use catalog::event as cat;
    use checkout::event as co;
    use customers::event as cu;
    use digital::event as dg;
    use mall::event as ml;
    use tenancy::event as te;
    entries![
        te::TenantCreated,
        te::TenantUpdated,
        te::VendorCreated,
        te::VendorUpdated,
        te::MallSettingsUpdated,
        te::StoreCreated,
        te::StoreUpdated,
        te::StoreSettingsUpdated,
        co::StoreCheckoutSettingsUpdated,
        cat::StoreDigitalSettingsUpdated,
        cu::StoreCustomerSyncUpdated,
        te::StaffCreated,
        te::StaffUpdated,
        te::StaffDeleted,
        te::LocationCreated,
        te::LocationUpdated,
        te::LocationDeleted,
        cat::ProductCreated,
        cat::ProductUpdated,
        cat::ProductArchived,
        cat::ProductDeleted,
        cat::ProductDigitalSettingsUpdated,
        cat::VariantCreated,
        cat::VariantUpdated,
        cat::VariantDeleted,
        inventory::event::StockChanged,
        cu::CustomerCreated,
        cu::CustomerIdentitiesAdded,
        cu::CustomerProfileCreated,
        cu::CustomerProfileUpdated,
        cu::CustomerProfileSynced,
        cu::CustomerAddressCreated,
        cu::CustomerAddressUpdated,
        cu::CustomerAddressDeleted,
        cu::CustomerMerged,
        cu::CustomerErased,
        cu::CustomerImported,
        cu::CustomerSignedUp,
        cu::CustomerEmailVerified,
        cu::CustomerPasswordReset,
        co::CartAbandoned,
        co::OrderPlaced,
        co::OrderStatusChanged,
        co::OrderCanceled,
        co::OrderLinesCanceled,
        co::PaymentConfirmed,
        co::PaymentShort,
        co::PaymentFailed,
        co::PaymentRefunded,
        co::ShipmentShipped,
        co::ShipmentDelivered,
        co::ShipmentCanceled,
        co::PromotionCreated,
        co::PromotionUpdated,
        co::PromotionDeleted,
        ml::StatementClosed,
        ml::StatementPaid,
        dg::AssetUploaded,
        dg::AssetDeleted,
        dg::DeliveryCreated,
        dg::DeliveryRevoked,
        dg::DeliveryExtended,
        dg::DeliveryLimitChanged,
        dg::DeliveryExpired,
        dg::Downloaded,
        webhooks::event::WebhookEndpointDisabled,
        webhooks::event::WebhookEndpointPing,
    ]
}

/// The component name of an event type's envelope schema, e.g. `PaymentConfirmedEvent`.
pub fn envelope_name(kind: EventType) -> String {
    format!("{kind:?}Event")
}

fn envelope(kind: EventType, payload: &str) -> Value {
    let uuid = json!({ "type": "string", "format": "uuid" });
    json!({
        "type": "object",
        "description": format!("`{}`: {}", kind.name(), kind.summary()),
        "required": ["id", "type", "version", "timestamp", "tenant_id", "store_id", "aggregate", "data"],
        "properties": {
            "id": { "type": "string", "format": "uuid",
                    "description": "The event id: the same on every retry and replay (`webhook-id`, `Nats-Msg-Id`); deduplicate on it." },
            "type": { "type": "string", "enum": [kind.name()] },
            "version": { "type": "integer", "enum": [kind.version()], "description": "The payload's schema version." },
            "timestamp": { "type": "string", "format": "date-time", "description": "When the change committed." },
            "tenant_id": uuid,
            "store_id": { "type": ["string", "null"], "format": "uuid",
                          "description": "The store, or null for an event of the whole tenant." },
            "aggregate": {
                "type": "object",
                "required": ["type", "id", "sequence"],
                "properties": {
                    "type": { "type": "string", "enum": [kind.aggregate()] },
                    "id": { "type": "string", "description": "The id of the thing the event is about." },
                    "sequence": { "type": ["integer", "null"], "minimum": 1,
                                  "description": "This event's number among the aggregate's events, in commit order: order by it, notice gaps." }
                }
            },
            "data": { "$ref": format!("#/components/schemas/{payload}") }
        }
    })
}

fn operation(kind: EventType) -> Value {
    let header = |name: &str, description: &str| json!({ "name": name, "in": "header", "required": true, "description": description, "schema": { "type": "string" } });
    json!({
        "post": {
            "operationId": format!("event_{}", kind.name().replace('.', "_")),
            "summary": kind.name(),
            "description": kind.summary(),
            "tags": ["events"],
            "parameters": [
                header("webhook-id", "The event id, the same on every attempt."),
                header("webhook-timestamp", "Unix seconds of this attempt."),
                header("webhook-signature", "Space-separated `v1,<base64 HMAC-SHA256 of \"id.timestamp.body\">`, one per live secret."),
            ],
            "requestBody": {
                "required": true,
                "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{}", envelope_name(kind)) } } }
            },
            "responses": {
                "2XX": { "description": "Received: any 2xx ends the delivery." },
                "410": { "description": "Gone: the endpoint is disabled and gets nothing more." },
                "default": { "description": "Anything else is retried on the schedule (429 and 503 honour Retry-After)." }
            }
        }
    })
}

/// Adds every payload and envelope schema to the components and the `webhooks` section.
pub fn publish(openapi: &mut OpenApi) {
    let components = openapi.components.get_or_insert_with(Default::default);
    let mut webhooks = BTreeMap::new();
    for e in catalog() {
        for (name, schema) in e.refers_to {
            components.schemas.entry(name).or_insert(schema);
        }
        components.schemas.insert(e.payload.clone(), e.schema);
        let envelope: Schema = serde_json::from_value(envelope(e.kind, &e.payload)).expect("a valid schema");
        components.schemas.insert(envelope_name(e.kind), RefOr::T(envelope));
        webhooks.insert(e.kind.name().to_string(), operation(e.kind));
    }
    openapi.extensions.get_or_insert_with(Default::default).insert("webhooks".into(), json!(webhooks));
    let tag = utoipa::openapi::tag::TagBuilder::new()
        .name("events")
        .description(Some(
            "What Tenpo sends: one entry per event type under `webhooks` (docs/EVENTS.md). The same envelope is \
             published to NATS JetStream.",
        ))
        .build();
    openapi.tags.get_or_insert_with(Default::default).push(tag);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_openapi_catalog_has_one_payload_per_event_type() {
        let mut kinds: Vec<EventType> = catalog().iter().map(|e| e.kind).collect();
        kinds.sort();
        let before = kinds.len();
        kinds.dedup();
        assert_eq!(kinds.len(), before, "two payload structs claim one event type");
        let mut all = EventType::ALL.to_vec();
        all.sort();
        assert_eq!(kinds, all, "every event type has its payload in the OpenAPI catalog");
    }

    #[test]
    fn payload_schema_names_are_unique() {
        let mut names: Vec<String> = catalog().into_iter().map(|e| e.payload).collect();
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before);
    }

    #[test]
    fn docs_events_md_lists_every_event_with_its_aggregate_and_version() {
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/EVENTS.md")).unwrap();
        for kind in EventType::ALL {
            let row = doc
                .lines()
                .find(|l| l.starts_with(&format!("| `{}` |", kind.name())))
                .unwrap_or_else(|| panic!("docs/EVENTS.md has no row for {kind}"));
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            assert_eq!(cells[2], format!("`{}`", kind.aggregate()), "{kind}");
            assert_eq!(cells[3], kind.version().to_string(), "{kind}");
        }
        let rows = doc.lines().filter(|l| l.starts_with("| `")).count();
        assert_eq!(rows, EventType::ALL.len(), "docs/EVENTS.md lists events the catalog does not have");
    }
}
