//! The event catalog: every event Tenpo records, with its name, its aggregate and the version
//! of its payload. Names are a public contract: they are webhook topics and NATS subjects, and
//! each payload (one Rust struct per type, in the domain that records it, implementing
//! [`Payload`]) is published as a JSON schema in the OpenAPI document's `webhooks` section.
//!
//! Adding an event: a line here, a payload struct with `#[derive(Serialize, ToSchema)]` in the
//! domain's `event` module, `events::payload!` to tie them, a line in the OpenAPI catalog
//! (`http::routes::webhooks_doc`) and in docs/EVENTS.md (tests check both). Changing a payload
//! incompatibly (removing or retyping a field) bumps its version here.

use serde::Serialize;

macro_rules! catalog {
    ($( $(#[doc = $doc:literal])+ $variant:ident = $name:literal on $aggregate:literal v $version:literal; )+) => {
        /// Every event type Tenpo records.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum EventType {
            $( $(#[doc = $doc])+ $variant, )+
        }

        impl EventType {
            /// The whole catalog, in the order of docs/EVENTS.md.
            pub const ALL: &'static [EventType] = &[$(EventType::$variant),+];

            /// The public name, e.g. `payment.confirmed`.
            pub const fn name(self) -> &'static str {
                match self { $(EventType::$variant => $name,)+ }
            }

            /// The kind of thing the event is about, e.g. `order`; the event's aggregate id is
            /// the id of that thing, and its sequence number counts that thing's events.
            pub const fn aggregate(self) -> &'static str {
                match self { $(EventType::$variant => $aggregate,)+ }
            }

            /// The version of the payload's shape; it grows when a field is removed or retyped.
            pub const fn version(self) -> i32 {
                match self { $(EventType::$variant => $version,)+ }
            }

            /// One sentence on when the event happens.
            pub fn summary(self) -> &'static str {
                match self { $(EventType::$variant => concat!($($doc),+).trim_ascii(),)+ }
            }

            /// The type of a name, if it is one of the catalog's.
            pub fn parse(name: &str) -> Option<EventType> {
                match name { $($name => Some(EventType::$variant),)+ _ => None }
            }
        }
    };
}

catalog! {
    /// A tenant was created by the operator.
    TenantCreated = "tenant.created" on "tenant" v 1;
    /// The operator changed a tenant's name or status.
    TenantUpdated = "tenant.updated" on "tenant" v 1;
    /// A mall vendor was created.
    VendorCreated = "vendor.created" on "vendor" v 1;
    /// A mall vendor changed: its name, status (active, suspended), commission, registration number or bank account.
    VendorUpdated = "vendor.updated" on "vendor" v 1;
    /// The mall's settings changed (closing day, commission on fees, payouts, contact masking).
    MallSettingsUpdated = "mall.settings_updated" on "tenant" v 1;
    /// A store was created.
    StoreCreated = "store.created" on "store" v 1;
    /// A store's name, handle or status changed.
    StoreUpdated = "store.updated" on "store" v 1;
    /// The store's general settings changed (holds, stock display, abandoned carts).
    StoreSettingsUpdated = "store.settings_updated" on "store" v 1;
    /// The store's checkout settings changed (payment methods, shipping, COD fees).
    StoreCheckoutSettingsUpdated = "store.checkout_settings_updated" on "store" v 1;
    /// The store's defaults for digital deliveries changed.
    StoreDigitalSettingsUpdated = "store.digital_settings_updated" on "store" v 1;
    /// The store joined or left customer sync.
    StoreCustomerSyncUpdated = "store.customer_sync_updated" on "store" v 1;
    /// A staff member was added to the store.
    StaffCreated = "staff.created" on "staff" v 1;
    /// A staff member's role, status or contact changed.
    StaffUpdated = "staff.updated" on "staff" v 1;
    /// A staff member was removed.
    StaffDeleted = "staff.deleted" on "staff" v 1;
    /// A stock location was created.
    LocationCreated = "location.created" on "location" v 1;
    /// A stock location changed.
    LocationUpdated = "location.updated" on "location" v 1;
    /// A stock location was deleted.
    LocationDeleted = "location.deleted" on "location" v 1;
    /// A product was created.
    ProductCreated = "product.created" on "product" v 1;
    /// A product changed (fields, options, status other than archiving, the locations carrying it).
    ProductUpdated = "product.updated" on "product" v 1;
    /// A product was archived.
    ProductArchived = "product.archived" on "product" v 1;
    /// A product was deleted (with its variants).
    ProductDeleted = "product.deleted" on "product" v 1;
    /// A digital product's delivery settings changed.
    ProductDigitalSettingsUpdated = "product.digital_settings_updated" on "product" v 1;
    /// A variant was added to a product.
    VariantCreated = "variant.created" on "variant" v 1;
    /// A variant changed (price, SKU, status, file).
    VariantUpdated = "variant.updated" on "variant" v 1;
    /// A variant was deleted.
    VariantDeleted = "variant.deleted" on "variant" v 1;
    /// Staff set or adjusted the stock of a variant at a location.
    InventoryStockChanged = "inventory.stock_changed" on "variant" v 1;
    /// A new customer appeared in the tenant (sign-up, checkout, import or staff).
    CustomerCreated = "customer.created" on "customer" v 1;
    /// A known customer gained identities (an email, a phone).
    CustomerIdentitiesAdded = "customer.identities_added" on "customer" v 1;
    /// A customer got a profile in this store.
    CustomerProfileCreated = "customer.profile_created" on "customer" v 1;
    /// A customer's profile in this store changed (the names of the fields, never their values).
    CustomerProfileUpdated = "customer.profile_updated" on "customer" v 1;
    /// Customer sync carried another store's profile changes to this store's profile.
    CustomerProfileSynced = "customer.profile_synced" on "customer" v 1;
    /// A customer address was added.
    CustomerAddressCreated = "customer.address_created" on "customer" v 1;
    /// A customer address changed.
    CustomerAddressUpdated = "customer.address_updated" on "customer" v 1;
    /// A customer address was deleted.
    CustomerAddressDeleted = "customer.address_deleted" on "customer" v 1;
    /// Two customers were merged into the survivor (the aggregate).
    CustomerMerged = "customer.merged" on "customer" v 1;
    /// A customer's personal data was erased.
    CustomerErased = "customer.erased" on "customer" v 1;
    /// A CSV import created or updated customers of the store.
    CustomerImported = "customer.imported" on "store" v 1;
    /// A shopper signed up for an account; a verification code went to the email.
    CustomerSignedUp = "customer.signed_up" on "customer" v 1;
    /// A shopper proved they own their account's email (the account can sign in).
    CustomerEmailVerified = "customer.email_verified" on "customer" v 1;
    /// A shopper set a new password with a reset code; every session of the account ended.
    CustomerPasswordReset = "customer.password_reset" on "customer" v 1;
    /// A cart was left without checking out, and its holds were released.
    CartAbandoned = "cart.abandoned" on "cart" v 1;
    /// A shopper placed an order.
    OrderPlaced = "order.placed" on "order" v 1;
    /// An order's status changed (derived from its payment and shipments).
    OrderStatusChanged = "order.status_changed" on "order" v 1;
    /// An order was canceled; its stock went back.
    OrderCanceled = "order.canceled" on "order" v 1;
    /// Some lines of an order were canceled (a vendor's unshipped lines); the order is what is left.
    OrderLinesCanceled = "order.lines_canceled" on "order" v 1;
    /// An order's payment was confirmed (bank transfer received, COD collected, or nothing to pay).
    PaymentConfirmed = "payment.confirmed" on "order" v 1;
    /// A bank transfer arrived short; the order keeps waiting.
    PaymentShort = "payment.short" on "order" v 1;
    /// A pending payment failed because its order was canceled.
    PaymentFailed = "payment.failed" on "order" v 1;
    /// An owed refund was paid.
    PaymentRefunded = "payment.refunded" on "order" v 1;
    /// A shipment left with a carrier and tracking number.
    ShipmentShipped = "shipment.shipped" on "shipment" v 1;
    /// A shipment arrived.
    ShipmentDelivered = "shipment.delivered" on "shipment" v 1;
    /// A shipment was canceled with its order.
    ShipmentCanceled = "shipment.canceled" on "shipment" v 1;
    /// A promotion code was created.
    PromotionCreated = "promotion.created" on "promotion" v 1;
    /// A promotion code changed.
    PromotionUpdated = "promotion.updated" on "promotion" v 1;
    /// A promotion code was deleted.
    PromotionDeleted = "promotion.deleted" on "promotion" v 1;
    /// A vendor's statement (精算書) was closed and numbered.
    StatementClosed = "statement.closed" on "statement" v 1;
    /// A statement's payout was recorded.
    StatementPaid = "statement.paid" on "statement" v 1;
    /// A file was uploaded for a digital variant.
    DigitalAssetUploaded = "digital.asset_uploaded" on "digital_asset" v 1;
    /// A replaced file no delivery needs any more was deleted.
    DigitalAssetDeleted = "digital.asset_deleted" on "digital_asset" v 1;
    /// A paid digital item got its delivery (download link, expiry, limit).
    DigitalDeliveryCreated = "digital.delivery_created" on "digital_delivery" v 1;
    /// A delivery was revoked by staff or by the order's cancellation.
    DigitalDeliveryRevoked = "digital.delivery_revoked" on "digital_delivery" v 1;
    /// Staff extended a delivery's expiry.
    DigitalDeliveryExtended = "digital.delivery_extended" on "digital_delivery" v 1;
    /// Staff changed a delivery's download limit or reset its count.
    DigitalDeliveryLimitChanged = "digital.delivery_limit_changed" on "digital_delivery" v 1;
    /// A delivery passed its expiry.
    DigitalDeliveryExpired = "digital.delivery_expired" on "digital_delivery" v 1;
    /// A shopper downloaded a digital item.
    DigitalDownloaded = "digital.downloaded" on "digital_delivery" v 1;
    /// Tenpo stopped delivering to a webhook endpoint: the receiver answered 410, or failed for 3 days.
    WebhookEndpointDisabled = "webhook_endpoint.disabled" on "webhook_endpoint" v 1;
    /// A test event staff sent to one webhook endpoint (only that endpoint receives it).
    WebhookEndpointPing = "webhook_endpoint.ping" on "webhook_endpoint" v 1;
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for EventType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// A typed event payload: the one struct of an event type. Implement it with [`payload!`].
pub trait Payload: Serialize {
    const TYPE: EventType;

    /// The id of the aggregate the event is about (its kind is `TYPE.aggregate()`).
    fn aggregate_id(&self) -> String;
}

/// Ties a payload struct to its event type and says where its aggregate id is:
/// `events::payload!(PaymentConfirmed => PaymentConfirmed, |p| p.order_id);`
#[macro_export]
macro_rules! payload {
    ($ty:ty => $event:ident, |$p:ident| $id:expr) => {
        impl $crate::Payload for $ty {
            const TYPE: $crate::EventType = $crate::EventType::$event;
            fn aggregate_id(&self) -> String {
                let $p = self;
                $id.to_string()
            }
        }
    };
}

/// Whether an event type matches a topic filter: an exact name (`order.placed`), a prefix
/// wildcard (`order.*`, every name starting with `order.`) or `*` (everything).
pub fn topic_matches(filter: &str, event_type: &str) -> bool {
    match filter.strip_suffix('*') {
        Some("") => true,
        Some(prefix) if prefix.ends_with('.') => event_type.starts_with(prefix),
        _ => filter == event_type,
    }
}

/// Checks a topic filter against the catalog: it must name a type, or be a wildcard that
/// matches at least one. Returns why not.
pub fn check_topic(filter: &str) -> Result<(), &'static str> {
    if filter == "*" {
        return Ok(());
    }
    if filter.contains('*') && !(filter.ends_with(".*") && filter.matches('*').count() == 1) {
        return Err("a wildcard is `*` or ends a prefix, as in `order.*`");
    }
    if EventType::ALL.iter().any(|t| topic_matches(filter, t.name())) {
        Ok(())
    } else {
        Err("no event type matches it (see docs/EVENTS.md)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_parse_back_and_follow_the_pattern() {
        let mut names: Vec<&str> = EventType::ALL.iter().map(|t| t.name()).collect();
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.name()), Some(*t));
            let (head, tail) = t.name().split_once('.').expect("a dot");
            assert!(!head.is_empty() && !tail.is_empty(), "{t}");
            assert!(t.name().chars().all(|c| c.is_ascii_lowercase() || c == '_' || c == '.'), "{t}");
            assert!(!t.summary().is_empty() && t.version() >= 1, "{t}");
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), EventType::ALL.len());
        assert_eq!(EventType::parse("order.unknown"), None);
    }

    #[test]
    fn topic_filters_match_names_prefixes_and_everything() {
        assert!(topic_matches("*", "order.placed"));
        assert!(topic_matches("order.*", "order.placed"));
        assert!(!topic_matches("order.*", "orders.placed"));
        assert!(!topic_matches("order.*", "payment.confirmed"));
        assert!(topic_matches("payment.confirmed", "payment.confirmed"));
        assert!(!topic_matches("payment.confirmed", "payment.confirmed_x"));
        assert!(!topic_matches("order*", "order.placed"), "a wildcard ends a dotted prefix");
    }

    #[test]
    fn topic_filters_are_checked_against_the_catalog() {
        assert!(check_topic("*").is_ok());
        assert!(check_topic("order.*").is_ok());
        assert!(check_topic("customer.profile_updated").is_ok());
        assert!(check_topic("order.shipped").is_err());
        assert!(check_topic("orders.*").is_err());
        assert!(check_topic("order*").is_err());
        assert!(check_topic("*.placed").is_err());
    }
}
