//! The events customers record (docs/EVENTS.md). They carry ids and field names, never
//! personal data: receivers read the customer through the API, and erasure needs no rewrite of
//! events already sent.

use kernel::access::Actor;
use kernel::{AddressId, CustomerId, ProfileId, StoreId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::address::{AddressType, CustomerAddress};
use crate::identity::{IdentityType, Source};
use crate::merge::MergeCounts;
use crate::profile::Profile;

/// `customer.created`: a customer new to the tenant.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerCreated {
    pub customer_id: CustomerId,
    pub source: Source,
}
events::payload!(CustomerCreated => CustomerCreated, |p| p.customer_id);

/// `customer.identities_added`: the kinds of identity a known customer gained.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerIdentitiesAdded {
    pub customer_id: CustomerId,
    pub types: Vec<IdentityType>,
    pub source: Source,
}
events::payload!(CustomerIdentitiesAdded => CustomerIdentitiesAdded, |p| p.customer_id);

/// Which fields of a store profile changed, and its version after the change.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProfileChange {
    pub customer_id: CustomerId,
    pub profile_id: ProfileId,
    pub store_id: StoreId,
    /// Names of the fields that changed.
    pub fields: Vec<String>,
    pub version: i64,
}

impl ProfileChange {
    pub fn new(p: &Profile, fields: &[String]) -> Self {
        ProfileChange {
            customer_id: p.customer_id,
            profile_id: p.id,
            store_id: p.store_id,
            fields: fields.to_vec(),
            version: p.version,
        }
    }
}

/// `customer.profile_created`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustomerProfileCreated(pub ProfileChange);
events::payload!(CustomerProfileCreated => CustomerProfileCreated, |p| p.0.customer_id);

/// `customer.profile_updated`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustomerProfileUpdated(pub ProfileChange);
events::payload!(CustomerProfileUpdated => CustomerProfileUpdated, |p| p.0.customer_id);

/// `customer.profile_synced`: the profile in this store took changes from `from_store_id`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerProfileSynced {
    #[serde(flatten)]
    pub change: ProfileChange,
    pub from_store_id: StoreId,
}
events::payload!(CustomerProfileSynced => CustomerProfileSynced, |p| p.change.customer_id);

/// An address of a customer (the payload of every `customer.address_*` event).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AddressChange {
    pub customer_id: CustomerId,
    pub address_id: AddressId,
    #[serde(rename = "type")]
    pub kind: AddressType,
}

impl AddressChange {
    pub fn new(a: &CustomerAddress) -> Self {
        AddressChange { customer_id: a.customer_id, address_id: a.id, kind: a.address.kind }
    }
}

/// `customer.address_created`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerAddressCreated(pub AddressChange);
events::payload!(CustomerAddressCreated => CustomerAddressCreated, |p| p.0.customer_id);

/// `customer.address_updated`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerAddressUpdated(pub AddressChange);
events::payload!(CustomerAddressUpdated => CustomerAddressUpdated, |p| p.0.customer_id);

/// `customer.address_deleted`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerAddressDeleted(pub AddressChange);
events::payload!(CustomerAddressDeleted => CustomerAddressDeleted, |p| p.0.customer_id);

/// `customer.merged`: `merged_id` became a tombstone pointing at `survivor_id`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerMerged {
    pub survivor_id: CustomerId,
    pub merged_id: CustomerId,
    pub counts: MergeCounts,
    pub actor: Actor,
}
events::payload!(CustomerMerged => CustomerMerged, |p| p.survivor_id);

/// `customer.erased`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerErased {
    pub customer_id: CustomerId,
    pub actor: Actor,
}
events::payload!(CustomerErased => CustomerErased, |p| p.customer_id);

/// `customer.imported`: one committed batch of a CSV import.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustomerImported {
    pub store_id: StoreId,
    /// Rows in the batch.
    pub rows: usize,
    /// Customers the batch created.
    pub created_ids: Vec<CustomerId>,
    /// Customers whose profile in the store the batch created or changed.
    pub customer_ids: Vec<CustomerId>,
}
events::payload!(CustomerImported => CustomerImported, |p| p.store_id);

/// `store.customer_sync_updated`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StoreCustomerSyncUpdated {
    pub store_id: StoreId,
    pub customer_sync_enabled: bool,
    pub actor: Actor,
}
events::payload!(StoreCustomerSyncUpdated => StoreCustomerSyncUpdated, |p| p.store_id);

/// `customer.signed_up`, `customer.email_verified`, `customer.password_reset`: what happened
/// to a shopper's account, in which store.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountEvent {
    pub customer_id: CustomerId,
    pub store_id: StoreId,
}

/// `customer.signed_up`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerSignedUp(pub AccountEvent);
events::payload!(CustomerSignedUp => CustomerSignedUp, |p| p.0.customer_id);

/// `customer.email_verified`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerEmailVerified(pub AccountEvent);
events::payload!(CustomerEmailVerified => CustomerEmailVerified, |p| p.0.customer_id);

/// `customer.password_reset`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerPasswordReset(pub AccountEvent);
events::payload!(CustomerPasswordReset => CustomerPasswordReset, |p| p.0.customer_id);
