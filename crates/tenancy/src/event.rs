//! The events tenancy records (docs/EVENTS.md): one payload struct per event type.

use kernel::access::Actor;
use kernel::{LocationId, StoreId, TenantId};
use serde::Serialize;
use utoipa::ToSchema;

use crate::locations::Location;
use crate::mall::MallSettings;
use crate::settings::StoreSettings;
use crate::staff::StaffMember;
use crate::stores::Store;
use crate::tenants::Tenant;
use crate::vendors::Vendor;

/// `tenant.created`: the tenant as the operator API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TenantCreated(pub Tenant);
events::payload!(TenantCreated => TenantCreated, |p| p.0.id);

/// `tenant.updated`: the tenant after the change.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TenantUpdated(pub Tenant);
events::payload!(TenantUpdated => TenantUpdated, |p| p.0.id);

/// `vendor.created`: the vendor.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VendorCreated(pub Vendor);
events::payload!(VendorCreated => VendorCreated, |p| p.0.id);

/// `vendor.updated`: the vendor after the change (name, status, commission, registration
/// number, bank account).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VendorUpdated(pub Vendor);
events::payload!(VendorUpdated => VendorUpdated, |p| p.0.id);

/// `mall.settings_updated`: the mall's settings after the change.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MallSettingsUpdated {
    pub tenant_id: TenantId,
    pub settings: MallSettings,
}
events::payload!(MallSettingsUpdated => MallSettingsUpdated, |p| p.tenant_id);

/// `store.created`: the store.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StoreCreated(pub Store);
events::payload!(StoreCreated => StoreCreated, |p| p.0.id);

/// `store.updated`: the store after the change.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StoreUpdated(pub Store);
events::payload!(StoreUpdated => StoreUpdated, |p| p.0.id);

/// `store.settings_updated`: the store's settings after the change.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StoreSettingsUpdated {
    pub store_id: StoreId,
    pub settings: StoreSettings,
}
events::payload!(StoreSettingsUpdated => StoreSettingsUpdated, |p| p.store_id);

/// `staff.created`, `staff.updated`, `staff.deleted`: the member and who acted.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StaffChange {
    pub staff: StaffMember,
    pub actor: Actor,
}

/// `staff.created`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StaffCreated(pub StaffChange);
events::payload!(StaffCreated => StaffCreated, |p| p.0.staff.id);

/// `staff.updated`: the member after the change.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StaffUpdated(pub StaffChange);
events::payload!(StaffUpdated => StaffUpdated, |p| p.0.staff.id);

/// `staff.deleted`: the member as they were.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StaffDeleted(pub StaffChange);
events::payload!(StaffDeleted => StaffDeleted, |p| p.0.staff.id);

/// `location.created`: the location.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LocationCreated(pub Location);
events::payload!(LocationCreated => LocationCreated, |p| p.0.id);

/// `location.updated`: the location after the change.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LocationUpdated(pub Location);
events::payload!(LocationUpdated => LocationUpdated, |p| p.0.id);

/// `location.deleted`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LocationDeleted {
    pub id: LocationId,
}
events::payload!(LocationDeleted => LocationDeleted, |p| p.id);
