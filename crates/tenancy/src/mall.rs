//! A mall's settings: when vendors' statements close (締め日), whether the shipping and COD fees
//! carry commission, the transfer fee and the minimum payout, and how long vendors see shoppers'
//! contact details after delivery. One row per tenant; a tenant without one has the defaults.
//! docs/MALL.md.

use chrono::{DateTime, Utc};
use db::Tx;
use kernel::access::{Acting, Permission};
use kernel::{Currency, Money, Validator};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::TenancyError;
use crate::tenants::{self, TenantKind};

/// The day of the month statements close, at its end in Asia/Tokyo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[sqlx(type_name = "text")]
pub enum ClosingDay {
    /// 月末締め: the last day of the month.
    #[serde(rename = "month_end")]
    #[sqlx(rename = "month_end")]
    MonthEnd,
    #[serde(rename = "15")]
    #[sqlx(rename = "15")]
    Day15,
    #[serde(rename = "20")]
    #[sqlx(rename = "20")]
    Day20,
    #[serde(rename = "25")]
    #[sqlx(rename = "25")]
    Day25,
}

impl ClosingDay {
    /// The closing day in a month of `days_in_month` days.
    pub fn day_in(self, days_in_month: u32) -> u32 {
        match self {
            ClosingDay::MonthEnd => days_in_month,
            ClosingDay::Day15 => 15,
            ClosingDay::Day20 => 20,
            ClosingDay::Day25 => 25,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MallSettings {
    /// 締め日 (default `month_end`).
    pub closing_day: ClosingDay,
    /// Whether a line's share of the shipping fee carries commission (default no).
    pub commission_on_shipping: bool,
    /// Whether a line's share of the cash-on-delivery fee carries commission (default no).
    pub commission_on_cod_fee: bool,
    /// Deducted from each payout (振込手数料); none when nothing is paid out.
    pub transfer_fee: Money,
    /// A statement whose payable amount is below this pays nothing and carries it forward.
    pub min_payout: Money,
    /// Shopper contact details in a vendor's view are masked this many days after its shipment
    /// was delivered (default 30).
    pub contact_mask_days: i32,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMallSettings {
    pub closing_day: Option<ClosingDay>,
    pub commission_on_shipping: Option<bool>,
    pub commission_on_cod_fee: Option<bool>,
    pub transfer_fee: Option<Money>,
    pub min_payout: Option<Money>,
    pub contact_mask_days: Option<i32>,
}

#[derive(sqlx::FromRow)]
struct Row {
    closing_day: ClosingDay,
    commission_on_shipping: bool,
    commission_on_cod_fee: bool,
    transfer_fee_amount: i64,
    min_payout_amount: i64,
    contact_mask_days: i32,
    updated_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "closing_day, commission_on_shipping, commission_on_cod_fee, transfer_fee_amount,
    min_payout_amount, contact_mask_days, updated_at";

impl Row {
    fn into_settings(self, currency: Currency) -> MallSettings {
        MallSettings {
            closing_day: self.closing_day,
            commission_on_shipping: self.commission_on_shipping,
            commission_on_cod_fee: self.commission_on_cod_fee,
            transfer_fee: Money::new(self.transfer_fee_amount, currency),
            min_payout: Money::new(self.min_payout_amount, currency),
            contact_mask_days: self.contact_mask_days,
            updated_at: self.updated_at,
        }
    }
}

impl Default for Row {
    fn default() -> Self {
        Row {
            closing_day: ClosingDay::MonthEnd,
            commission_on_shipping: false,
            commission_on_cod_fee: false,
            transfer_fee_amount: 0,
            min_payout_amount: 0,
            contact_mask_days: 30,
            updated_at: None,
        }
    }
}

async fn currency(tx: &mut Tx) -> Result<Currency, TenancyError> {
    Ok(tenants::find(tx).await?.ok_or(TenancyError::TenantNotFound)?.default_currency)
}

/// The settings of the transaction's tenant (the defaults when it never set them). For the
/// services that apply them: no permission is asked.
pub async fn load(tx: &mut Tx) -> Result<MallSettings, TenancyError> {
    let row: Option<Row> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM mall_settings")).fetch_optional(&mut **tx).await?;
    let c = currency(tx).await?;
    Ok(row.unwrap_or_default().into_settings(c))
}

pub async fn get_settings(tx: &mut Tx, by: Acting<'_>) -> Result<MallSettings, TenancyError> {
    by.require(Permission::SettingsRead)?;
    load(tx).await
}

/// Changes the mall's settings (mall tenants only). A new closing day applies from the next
/// statement; a statement already open keeps the period it was opened with.
pub async fn update_settings(
    tx: &mut Tx,
    by: Acting<'_>,
    input: UpdateMallSettings,
) -> Result<MallSettings, TenancyError> {
    by.require(Permission::StoreManage)?;
    let tenant = tenants::find(tx).await?.ok_or(TenancyError::TenantNotFound)?;
    if tenant.kind != TenantKind::Mall {
        return Err(TenancyError::NotAMall);
    }
    let c = tenant.default_currency;
    let mut v = Validator::new();
    for (field, m, max) in
        [("transfer_fee", input.transfer_fee, 100_000), ("min_payout", input.min_payout, 100_000_000)]
    {
        if let Some(m) = m {
            if m.currency != c {
                v.push(&format!("{field}.currency"), "invalid", format!("the mall's currency is {c}"));
            }
            v.range(&format!("{field}.amount"), m.amount, 0, max);
        }
    }
    if let Some(d) = input.contact_mask_days {
        v.range("contact_mask_days", d, 0, 3650);
    }
    v.into_result()?;
    sqlx::query("INSERT INTO mall_settings (tenant_id) VALUES ($1) ON CONFLICT (tenant_id) DO NOTHING")
        .bind(tx.tenant())
        .execute(&mut **tx)
        .await?;
    let row: Row = sqlx::query_as(&format!(
        "UPDATE mall_settings SET
           closing_day = coalesce($1, closing_day),
           commission_on_shipping = coalesce($2, commission_on_shipping),
           commission_on_cod_fee = coalesce($3, commission_on_cod_fee),
           transfer_fee_amount = coalesce($4, transfer_fee_amount),
           min_payout_amount = coalesce($5, min_payout_amount),
           contact_mask_days = coalesce($6, contact_mask_days)
         RETURNING {COLUMNS}"
    ))
    .bind(input.closing_day)
    .bind(input.commission_on_shipping)
    .bind(input.commission_on_cod_fee)
    .bind(input.transfer_fee.map(|m| m.amount))
    .bind(input.min_payout.map(|m| m.amount))
    .bind(input.contact_mask_days)
    .fetch_one(&mut **tx)
    .await?;
    let settings = row.into_settings(c);
    let event = crate::event::MallSettingsUpdated { tenant_id: tx.tenant(), settings: settings.clone() };
    events::record(tx, events::NewEvent::of(&event)).await?;
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_closing_day_of_a_month() {
        assert_eq!(ClosingDay::MonthEnd.day_in(28), 28);
        assert_eq!(ClosingDay::MonthEnd.day_in(31), 31);
        assert_eq!(ClosingDay::Day20.day_in(30), 20);
    }
}
