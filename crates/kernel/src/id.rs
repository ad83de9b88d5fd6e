//! Typed ids. Every primary key is a UUIDv7 (time-ordered, so b-tree inserts stay local and ids
//! sort by creation time); the newtypes keep a `StoreId` from being passed where a `TenantId` is
//! expected.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

/// Declares a UUIDv7 id newtype that is transparent for serde, sqlx and OpenAPI.
#[macro_export]
macro_rules! define_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize, sqlx::Type,
        )]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(pub uuid::Uuid);

        impl $name {
            /// A new time-ordered id.
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7())
            }
            pub fn as_uuid(&self) -> uuid::Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<uuid::Uuid> for $name {
            fn from(id: uuid::Uuid) -> Self {
                Self(id)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(&self.0, f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                uuid::Uuid::parse_str(s).map(Self)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::Uuid,
                    )))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

define_id!(TenantId);
define_id!(VendorId);
define_id!(StoreId);
define_id!(LocationId);
define_id!(StaffId);
define_id!(SessionId);
define_id!(ProductId);
define_id!(VariantId);
define_id!(AssetId);
define_id!(ImageId);
define_id!(StockId);
define_id!(ReservationId);
define_id!(ReservationRequestId);
define_id!(CustomerId);
define_id!(ProfileId);
define_id!(IdentityId);
define_id!(AddressId);
define_id!(CartId);
define_id!(CartItemId);
define_id!(OrderId);
define_id!(OrderItemId);
define_id!(PaymentId);
define_id!(ShipmentId);
define_id!(PromotionId);
define_id!(DeliveryId);
define_id!(EventId);
define_id!(WebhookEndpointId);
define_id!(WebhookDeliveryId);
define_id!(StatementId);

/// A reference to a store in a URL: its id or its handle (`/store/v1/stores/demo/...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreRef {
    Id(StoreId),
    Handle(String),
}

impl FromStr for StoreRef {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match Uuid::parse_str(s) {
            Ok(id) => StoreRef::Id(StoreId(id)),
            Err(_) => StoreRef::Handle(s.to_ascii_lowercase()),
        })
    }
}

impl fmt::Display for StoreRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreRef::Id(id) => id.fmt(f),
            StoreRef::Handle(h) => f.write_str(h),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_time_ordered() {
        let a = OrderId::new();
        let b = OrderId::new();
        assert!(a < b, "UUIDv7 ids sort by creation");
        assert_eq!(a.0.get_version_num(), 7);
    }

    #[test]
    fn store_ref_reads_ids_and_handles() {
        let id = StoreId::new();
        assert_eq!(id.to_string().parse::<StoreRef>().unwrap(), StoreRef::Id(id));
        assert_eq!("Demo-Store".parse::<StoreRef>().unwrap(), StoreRef::Handle("demo-store".into()));
    }
}
