//! Who is acting, and what they may do.
//!
//! Staff have one of three roles in one store; each role grants a fixed set of permissions
//! (docs/PERMISSIONS.md is generated from [`Role::permissions`] and checked by a test). Services
//! call [`Acting::require`] before acting: that is the one mechanism that enforces the matrix.
//!
//! In a mall, a staff member may be bound to a vendor ([`StaffContext::vendor_id`]). Vendor staff
//! keep their role, but only the permissions [`Permission::reaches_vendors`] lets through, and
//! every one of those is narrowed to their own vendor: services ask [`Acting::vendor`] (or
//! [`Acting::sees_vendor`]) and hide whatever belongs to another vendor as a 404.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::id::{SessionId, StaffId, StoreId, TenantId, VendorId};
use crate::problem::Problem;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Staff,
}

/// Every permission a role can grant. Names are stable: they appear in errors and docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// See the store and its locations.
    StoreRead,
    /// See the store's settings (stock holds, checkout, digital goods).
    SettingsRead,
    /// Change store settings; manage the mall's vendors.
    StoreManage,
    /// Add, change and remove locations.
    LocationsManage,
    StaffRead,
    /// Create, change and disable staff (admins only for the `staff` role).
    StaffManage,
    CatalogRead,
    CatalogWrite,
    InventoryRead,
    /// Adjust stock levels.
    InventoryWrite,
    CustomersRead,
    CustomersWrite,
    /// Merge two customers into one.
    CustomersMerge,
    /// Erase a customer's personal data.
    CustomersErase,
    OrdersRead,
    /// Ship and deliver shipments.
    OrdersFulfill,
    /// Confirm payments, cancel orders, record refunds.
    OrdersManage,
    /// Cancel one vendor's unshipped lines of an order.
    OrdersCancelLines,
    PromotionsRead,
    PromotionsWrite,
    /// Upload assets, manage digital deliveries.
    DigitalManage,
    /// Webhook endpoints and their delivery log.
    WebhooksManage,
    /// CSV exports (orders, catalog, customers).
    DataExport,
    /// Vendors' statements (精算書).
    StatementsRead,
    /// Close statements and record their payout.
    StatementsManage,
}

impl Permission {
    pub const ALL: [Permission; 25] = [
        Permission::StoreRead,
        Permission::SettingsRead,
        Permission::StoreManage,
        Permission::LocationsManage,
        Permission::StaffRead,
        Permission::StaffManage,
        Permission::CatalogRead,
        Permission::CatalogWrite,
        Permission::InventoryRead,
        Permission::InventoryWrite,
        Permission::CustomersRead,
        Permission::CustomersWrite,
        Permission::CustomersMerge,
        Permission::CustomersErase,
        Permission::OrdersRead,
        Permission::OrdersFulfill,
        Permission::OrdersManage,
        Permission::OrdersCancelLines,
        Permission::PromotionsRead,
        Permission::PromotionsWrite,
        Permission::DigitalManage,
        Permission::WebhooksManage,
        Permission::DataExport,
        Permission::StatementsRead,
        Permission::StatementsManage,
    ];

    pub fn name(self) -> &'static str {
        use Permission::*;
        match self {
            StoreRead => "store_read",
            SettingsRead => "settings_read",
            StoreManage => "store_manage",
            LocationsManage => "locations_manage",
            StaffRead => "staff_read",
            StaffManage => "staff_manage",
            CatalogRead => "catalog_read",
            CatalogWrite => "catalog_write",
            InventoryRead => "inventory_read",
            InventoryWrite => "inventory_write",
            CustomersRead => "customers_read",
            CustomersWrite => "customers_write",
            CustomersMerge => "customers_merge",
            CustomersErase => "customers_erase",
            OrdersRead => "orders_read",
            OrdersFulfill => "orders_fulfill",
            OrdersManage => "orders_manage",
            OrdersCancelLines => "orders_cancel_lines",
            PromotionsRead => "promotions_read",
            PromotionsWrite => "promotions_write",
            DigitalManage => "digital_manage",
            WebhooksManage => "webhooks_manage",
            DataExport => "data_export",
            StatementsRead => "statements_read",
            StatementsManage => "statements_manage",
        }
    }

    /// Whether vendor staff can hold this permission at all (mall mode). Those that can act only
    /// on their own vendor's part: its products, its locations and their stock, its order lines
    /// and shipments, its deliveries, its staff and its statements. The rest (store settings,
    /// vendors, customers, promotions, payments, webhooks) are the mall's alone.
    pub fn reaches_vendors(self) -> bool {
        use Permission::*;
        matches!(
            self,
            StoreRead
                | LocationsManage
                | StaffRead
                | StaffManage
                | CatalogRead
                | CatalogWrite
                | InventoryRead
                | InventoryWrite
                | OrdersRead
                | OrdersFulfill
                | OrdersCancelLines
                | DigitalManage
                | DataExport
                | StatementsRead
        )
    }
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Staff => "staff",
        }
    }

    /// The role matrix.
    pub fn allows(self, p: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Owner => true,
            // everything but erasing customers' personal data (an owner's decision)
            Role::Admin => p != CustomersErase,
            // day-to-day operations: look things up, keep stock right, ship orders
            Role::Staff => matches!(
                p,
                StoreRead
                    | SettingsRead
                    | StaffRead
                    | CatalogRead
                    | InventoryRead
                    | InventoryWrite
                    | CustomersRead
                    | OrdersRead
                    | OrdersFulfill
                    | PromotionsRead
            ),
        }
    }

    pub fn permissions(self) -> Vec<Permission> {
        Permission::ALL.into_iter().filter(|p| self.allows(*p)).collect()
    }

    /// Whether a member of this role may create or change a member of `other`.
    /// Owners manage everyone; admins manage staff only; staff manage no one.
    pub fn can_manage(self, other: Role) -> bool {
        match self {
            Role::Owner => true,
            Role::Admin => other == Role::Staff,
            Role::Staff => false,
        }
    }
}

/// The authenticated staff member a request acts for, resolved once from the bearer token.
#[derive(Debug, Clone)]
pub struct StaffContext {
    pub tenant_id: TenantId,
    pub store_id: StoreId,
    pub staff_id: StaffId,
    pub session_id: SessionId,
    pub role: Role,
    /// Mall mode: staff of one vendor act only on that vendor's products and shipments.
    pub vendor_id: Option<VendorId>,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.explain())]
pub struct PermissionDenied {
    pub role: Role,
    pub permission: Permission,
    /// The member is a vendor's staff and the permission is the mall's alone.
    pub vendor_staff: bool,
}

impl PermissionDenied {
    fn explain(&self) -> String {
        if self.vendor_staff {
            format!("vendor staff never have the {} permission: it is the mall's", self.permission.name())
        } else {
            format!("your role ({}) lacks the {} permission", self.role.as_str(), self.permission.name())
        }
    }
}

impl Problem for PermissionDenied {
    fn status(&self) -> u16 {
        403
    }
    fn code(&self) -> &'static str {
        "permission_denied"
    }
}

impl StaffContext {
    /// Whether this member holds a permission: their role grants it and, for a vendor's staff,
    /// it is one that reaches vendors.
    pub fn allows(&self, p: Permission) -> bool {
        self.role.allows(p) && (self.vendor_id.is_none() || p.reaches_vendors())
    }

    pub fn require(&self, p: Permission) -> Result<(), PermissionDenied> {
        if self.allows(p) {
            Ok(())
        } else {
            let vendor_staff = self.vendor_id.is_some() && self.role.allows(p);
            Err(PermissionDenied { role: self.role, permission: p, vendor_staff })
        }
    }
}

/// On whose behalf a use case runs. Services call [`Acting::require`] for each permission they
/// need: staff are held to their role's permissions (and vendor staff to their vendor), the
/// operator and the system are not.
#[derive(Debug, Clone, Copy)]
pub enum Acting<'a> {
    Operator,
    Staff(&'a StaffContext),
    System,
}

impl Acting<'_> {
    pub fn require(&self, p: Permission) -> Result<(), PermissionDenied> {
        match self {
            Acting::Staff(ctx) => ctx.require(p),
            Acting::Operator | Acting::System => Ok(()),
        }
    }

    /// The staff role, if a staff member is acting.
    pub fn role(&self) -> Option<Role> {
        match self {
            Acting::Staff(ctx) => Some(ctx.role),
            _ => None,
        }
    }

    /// Mall mode: the vendor a staff member is limited to, if any. Every read and action of a
    /// service narrows by it: rows of other vendors are answered as if they did not exist.
    pub fn vendor(&self) -> Option<VendorId> {
        match self {
            Acting::Staff(ctx) => ctx.vendor_id,
            _ => None,
        }
    }

    /// Whether a row of `vendor` is within the acting party's reach: always, unless a vendor's
    /// staff member acts for another vendor.
    pub fn sees_vendor(&self, vendor: VendorId) -> bool {
        self.vendor().is_none_or(|mine| mine == vendor)
    }

    pub fn staff_id(&self) -> Option<StaffId> {
        match self {
            Acting::Staff(ctx) => Some(ctx.staff_id),
            _ => None,
        }
    }

    pub fn actor(&self) -> Actor {
        match self {
            Acting::Staff(ctx) => Actor::Staff(ctx.staff_id),
            Acting::Operator => Actor::Operator,
            Acting::System => Actor::System,
        }
    }

    /// Whether the acting party may create or change a staff member of `role`.
    pub fn can_manage(&self, role: Role) -> bool {
        self.role().is_none_or(|mine| mine.can_manage(role))
    }
}

/// Who caused a change, as recorded in histories and movement rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum Actor {
    Staff(StaffId),
    Shopper,
    System,
    Operator,
}

impl Actor {
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::Staff(_) => "staff",
            Actor::Shopper => "shopper",
            Actor::System => "system",
            Actor::Operator => "operator",
        }
    }

    pub fn id(&self) -> Option<uuid::Uuid> {
        match self {
            Actor::Staff(id) => Some(id.0),
            _ => None,
        }
    }
}

impl From<&StaffContext> for Actor {
    fn from(ctx: &StaffContext) -> Self {
        Actor::Staff(ctx.staff_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_can_do_everything_and_staff_cannot_manage_staff() {
        assert_eq!(Role::Owner.permissions().len(), Permission::ALL.len());
        assert!(!Role::Staff.allows(Permission::StaffManage));
        assert!(!Role::Admin.allows(Permission::CustomersErase));
        assert!(Role::Staff.allows(Permission::OrdersFulfill));
    }

    #[test]
    fn vendor_staff_keep_their_role_but_only_the_permissions_that_reach_vendors() {
        let ctx = |role, vendor: Option<VendorId>| StaffContext {
            tenant_id: TenantId::new(),
            store_id: StoreId::new(),
            staff_id: StaffId::new(),
            session_id: SessionId::new(),
            role,
            vendor_id: vendor,
        };
        let owner = ctx(Role::Owner, Some(VendorId::new()));
        assert!(owner.require(Permission::CatalogWrite).is_ok());
        let denied = owner.require(Permission::CustomersRead).unwrap_err();
        assert!(denied.vendor_staff, "the role has it; the vendor binding takes it away");
        assert!(denied.to_string().contains("vendor staff"));
        assert!(owner.require(Permission::OrdersManage).is_err());
        assert!(owner.require(Permission::SettingsRead).is_err());
        // a vendor's staff member still lacks what their role lacks
        let staff = ctx(Role::Staff, Some(VendorId::new()));
        let denied = staff.require(Permission::CatalogWrite).unwrap_err();
        assert!(!denied.vendor_staff);
        // the mall's own staff are not limited
        assert!(ctx(Role::Owner, None).require(Permission::CustomersRead).is_ok());
        let acting = Acting::Staff(&owner);
        assert!(acting.sees_vendor(owner.vendor_id.unwrap()));
        assert!(!acting.sees_vendor(VendorId::new()));
        assert!(Acting::Operator.sees_vendor(VendorId::new()));
    }

    #[test]
    fn admins_manage_only_staff() {
        assert!(Role::Admin.can_manage(Role::Staff));
        assert!(!Role::Admin.can_manage(Role::Admin));
        assert!(!Role::Admin.can_manage(Role::Owner));
        assert!(Role::Owner.can_manage(Role::Owner));
        assert!(!Role::Staff.can_manage(Role::Staff));
    }
}

#[cfg(test)]
mod doc_tests {
    use super::*;

    #[test]
    fn permissions_doc_matches_the_matrix() {
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/PERMISSIONS.md")).unwrap();
        for p in Permission::ALL {
            let row = doc
                .lines()
                .find(|l| l.starts_with(&format!("| {} |", p.name())))
                .unwrap_or_else(|| panic!("docs/PERMISSIONS.md has no row for {}", p.name()));
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            for (i, role) in [Role::Owner, Role::Admin, Role::Staff].into_iter().enumerate() {
                let documented = cells[2 + i] == "yes";
                assert_eq!(documented, role.allows(p), "{} for {}", p.name(), role.as_str());
                // the vendor columns: "own" where a vendor's member of that role holds it
                let vendor_cell = cells[5 + i];
                let expected = if role.allows(p) && p.reaches_vendors() { "own" } else { "no" };
                assert_eq!(vendor_cell, expected, "{} for a vendor's {}", p.name(), role.as_str());
            }
        }
    }
}
