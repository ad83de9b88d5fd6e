//! The events statements record (docs/EVENTS.md).

use kernel::{Money, StatementId, VendorId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `statement.closed`: a vendor's statement was closed and numbered.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StatementClosed {
    pub statement_id: StatementId,
    pub vendor_id: VendorId,
    pub number: i64,
    pub lines: i64,
    /// What the mall pays the vendor for it.
    pub net_payable: Money,
}
events::payload!(StatementClosed => StatementClosed, |p| p.statement_id);

/// `statement.paid`: the payout of a statement was recorded.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StatementPaid {
    pub statement_id: StatementId,
    pub vendor_id: VendorId,
    pub net_payable: Money,
    pub paid_on: chrono::NaiveDate,
    pub bank_reference: String,
}
events::payload!(StatementPaid => StatementPaid, |p| p.statement_id);
