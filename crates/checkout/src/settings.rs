//! A store's checkout settings: payment methods (bank transfer with its account and due days,
//! cash on delivery with its limit and fee tiers), shipping (flat fee, free-shipping threshold,
//! per-prefecture fees) and the delivery time slots it offers.

use chrono::{DateTime, Utc};
use db::Tx;
use kernel::access::{Acting, Permission};
use kernel::jp::Prefecture;
use kernel::{Currency, Money, StoreId, Validator};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::CheckoutError;
pub use crate::totals::CodFeeBasis;

/// Where shoppers send a bank transfer (振込先).
pub use kernel::jp::BankAccount;

/// A store's shipping fee for one prefecture, as the settings answer it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PrefectureFee {
    pub prefecture: Prefecture,
    pub fee: Money,
}

/// A store's shipping fee for one prefecture, as it is set.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrefectureFeeInput {
    /// JIS code 1-47, or the name (東京都, 東京, Tokyo).
    #[schema(value_type = String)]
    pub prefecture: serde_json::Value,
    pub fee: Money,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodTier {
    /// The tier applies up to this amount: the total before the fee, or the amount collected
    /// with the fee (`cod_fee_basis`).
    pub up_to: Money,
    pub fee: Money,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliverySlot {
    /// e.g. `am`, `14-16`
    pub code: String,
    /// e.g. 午前中, 14時〜16時
    pub label: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckoutSettings {
    pub currency: Currency,
    /// The store wants to take bank transfers; they are offered only once the bank account is
    /// complete (`bank_transfer_offered`).
    pub bank_transfer_enabled: bool,
    /// Whether shoppers are offered bank transfer now: enabled, with a complete account.
    pub bank_transfer_offered: bool,
    /// Days a bank-transfer order waits for payment before it is canceled.
    pub bank_transfer_due_days: i32,
    pub bank_account: BankAccount,
    pub cod_enabled: bool,
    /// Cash on delivery is offered for totals up to this amount.
    pub cod_limit: Money,
    pub cod_fee_tiers: Vec<CodTier>,
    /// What a tier's bound is compared with: `subtotal` (the total before the fee, the default)
    /// or `collected` (the amount collected, fee included, as carriers tier it).
    pub cod_fee_basis: CodFeeBasis,
    pub shipping_flat_fee: Money,
    pub free_shipping_threshold: Option<Money>,
    pub prefecture_fees: Vec<PrefectureFee>,
    pub delivery_slots: Vec<DeliverySlot>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCheckoutSettings {
    pub bank_transfer_enabled: Option<bool>,
    pub bank_transfer_due_days: Option<i32>,
    pub bank_account: Option<BankAccount>,
    pub cod_enabled: Option<bool>,
    pub cod_limit: Option<Money>,
    /// Replaces the tiers.
    pub cod_fee_tiers: Option<Vec<CodTier>>,
    pub cod_fee_basis: Option<CodFeeBasis>,
    pub shipping_flat_fee: Option<Money>,
    /// `null` turns free shipping off.
    #[serde(default, deserialize_with = "kernel::validate::nullable")]
    #[schema(value_type = Option<Money>)]
    pub free_shipping_threshold: Option<Option<Money>>,
    /// Replaces the per-prefecture fees.
    pub prefecture_fees: Option<Vec<PrefectureFeeInput>>,
    /// Replaces the slots.
    pub delivery_slots: Option<Vec<DeliverySlot>>,
}

#[derive(sqlx::FromRow)]
struct Row {
    currency: Currency,
    bank_transfer_enabled: bool,
    bank_transfer_due_days: i32,
    bank_account: sqlx::types::Json<BankAccount>,
    cod_enabled: bool,
    cod_limit_amount: i64,
    cod_fee_basis: CodFeeBasis,
    shipping_flat_fee_amount: i64,
    free_shipping_threshold_amount: Option<i64>,
    updated_at: DateTime<Utc>,
    tier_up_to: Vec<i64>,
    tier_fee: Vec<i64>,
    fee_prefecture: Vec<i16>,
    fee_amount: Vec<i64>,
    slot_code: Vec<String>,
    slot_label: Vec<String>,
}

/// The settings as checkout uses them.
pub async fn load(tx: &mut Tx, store: StoreId) -> Result<CheckoutSettings, CheckoutError> {
    let r: Row = sqlx::query_as(
        "SELECT currency, bank_transfer_enabled, bank_transfer_due_days, bank_account, cod_enabled, cod_limit_amount,
                cod_fee_basis, shipping_flat_fee_amount, free_shipping_threshold_amount, updated_at,
                ARRAY(SELECT up_to_amount FROM store_cod_fee_tiers t WHERE t.store_id = s.store_id ORDER BY up_to_amount) AS tier_up_to,
                ARRAY(SELECT fee_amount FROM store_cod_fee_tiers t WHERE t.store_id = s.store_id ORDER BY up_to_amount) AS tier_fee,
                ARRAY(SELECT prefecture_code FROM store_shipping_rates r WHERE r.store_id = s.store_id ORDER BY prefecture_code) AS fee_prefecture,
                ARRAY(SELECT fee_amount FROM store_shipping_rates r WHERE r.store_id = s.store_id ORDER BY prefecture_code) AS fee_amount,
                ARRAY(SELECT code FROM store_delivery_slots d WHERE d.store_id = s.store_id ORDER BY position, code) AS slot_code,
                ARRAY(SELECT label FROM store_delivery_slots d WHERE d.store_id = s.store_id ORDER BY position, code) AS slot_label
           FROM store_settings s WHERE s.store_id = $1",
    )
    .bind(store)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(CheckoutError::CartNotFound)?;
    let c = r.currency;
    let tiers = r.tier_up_to.into_iter().zip(r.tier_fee);
    let fees = r.fee_prefecture.into_iter().zip(r.fee_amount);
    let slots = r.slot_code.into_iter().zip(r.slot_label);
    Ok(CheckoutSettings {
        currency: c,
        bank_transfer_enabled: r.bank_transfer_enabled,
        bank_transfer_offered: r.bank_transfer_enabled && r.bank_account.0.is_complete(),
        bank_transfer_due_days: r.bank_transfer_due_days,
        bank_account: r.bank_account.0,
        cod_enabled: r.cod_enabled,
        cod_limit: Money::new(r.cod_limit_amount, c),
        cod_fee_tiers: tiers
            .into_iter()
            .map(|(u, f)| CodTier { up_to: Money::new(u, c), fee: Money::new(f, c) })
            .collect(),
        cod_fee_basis: r.cod_fee_basis,
        shipping_flat_fee: Money::new(r.shipping_flat_fee_amount, c),
        free_shipping_threshold: r.free_shipping_threshold_amount.map(|a| Money::new(a, c)),
        prefecture_fees: fees
            .into_iter()
            .filter_map(|(code, fee)| {
                Some(PrefectureFee { prefecture: Prefecture::from_code(code as u8)?, fee: Money::new(fee, c) })
            })
            .collect(),
        delivery_slots: slots.into_iter().map(|(code, label)| DeliverySlot { code, label }).collect(),
        updated_at: r.updated_at,
    })
}

impl CheckoutSettings {
    /// The store's COD fee tiers as the order arithmetic uses them.
    pub fn cod_rules(&self) -> crate::totals::CodRules {
        crate::totals::CodRules {
            tiers: self.cod_fee_tiers.iter().map(|t| (t.up_to.amount, t.fee.amount)).collect(),
            basis: self.cod_fee_basis,
        }
    }

    /// The shipping fee a store set for a prefecture, if any.
    pub fn prefecture_fee(&self, code: u8) -> Option<i64> {
        self.prefecture_fees.iter().find(|f| f.prefecture.code == code).map(|f| f.fee.amount)
    }
}

pub async fn get(tx: &mut Tx, store: StoreId, by: Acting<'_>) -> Result<CheckoutSettings, CheckoutError> {
    by.require(Permission::SettingsRead)?;
    load(tx, store).await
}

/// Staff turning bank transfer on, or replacing the account while it is on, must leave a
/// complete account: shoppers are never told to pay into nothing. (A store that was created
/// enabled without an account simply does not offer it until the account is set.)
fn check_bank_transfer_can_be_offered(
    current: &CheckoutSettings,
    input: &UpdateCheckoutSettings,
) -> Result<(), CheckoutError> {
    let enabled = input.bank_transfer_enabled.unwrap_or(current.bank_transfer_enabled);
    let touched = input.bank_transfer_enabled == Some(true) || input.bank_account.is_some();
    let account = input.bank_account.as_ref().unwrap_or(&current.bank_account);
    match account.missing() {
        missing if enabled && touched && !missing.is_empty() => Err(CheckoutError::BankAccountIncomplete(missing)),
        _ => Ok(()),
    }
}

fn money(v: &mut Validator, field: &str, m: &Money, currency: Currency) -> i64 {
    if m.currency != currency {
        v.push(&format!("{field}.currency"), "invalid", format!("must be the store's currency {currency}"));
    }
    if m.amount < 0 || m.amount > 100_000_000_000 {
        v.push(&format!("{field}.amount"), "out_of_range", "must be between 0 and 100000000000");
    }
    m.amount
}

pub async fn update(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    input: UpdateCheckoutSettings,
) -> Result<CheckoutSettings, CheckoutError> {
    by.require(Permission::StoreManage)?;
    let current = load(tx, store).await?;
    let c = current.currency;
    let mut v = Validator::new();
    if let Some(d) = input.bank_transfer_due_days {
        v.range("bank_transfer_due_days", d, 1, 60);
    }
    if let Some(a) = &input.bank_account {
        a.check(&mut v, "bank_account.");
    }
    let cod_limit = input.cod_limit.as_ref().map(|m| money(&mut v, "cod_limit", m, c));
    let flat = input.shipping_flat_fee.as_ref().map(|m| money(&mut v, "shipping_flat_fee", m, c));
    let free = input
        .free_shipping_threshold
        .as_ref()
        .map(|m| m.as_ref().map(|m| money(&mut v, "free_shipping_threshold", m, c)));
    let mut tiers = Vec::new();
    if let Some(t) = &input.cod_fee_tiers {
        if t.len() > 20 {
            v.push("cod_fee_tiers", "too_long", "at most 20 tiers");
        }
        for (i, tier) in t.iter().enumerate() {
            let up = money(&mut v, &format!("cod_fee_tiers[{i}].up_to"), &tier.up_to, c);
            let fee = money(&mut v, &format!("cod_fee_tiers[{i}].fee"), &tier.fee, c);
            if up == 0 {
                v.push(&format!("cod_fee_tiers[{i}].up_to.amount"), "out_of_range", "must be above 0");
            }
            tiers.push((up, fee));
        }
        tiers.sort_unstable();
        if tiers.windows(2).any(|w| w[0].0 == w[1].0) {
            v.push("cod_fee_tiers", "duplicate", "two tiers have the same bound");
        }
    }
    let mut fees = Vec::new();
    if let Some(f) = &input.prefecture_fees {
        for (i, pf) in f.iter().enumerate() {
            let text = match &pf.prefecture {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                _ => String::new(),
            };
            let code = v.check(&format!("prefecture_fees[{i}].prefecture"), Prefecture::parse(&text)).map(|p| p.code);
            let fee = money(&mut v, &format!("prefecture_fees[{i}].fee"), &pf.fee, c);
            if let Some(code) = code {
                if fees.iter().any(|(c, _)| *c == code) {
                    v.push(&format!("prefecture_fees[{i}].prefecture"), "duplicate", "this prefecture is listed twice");
                }
                fees.push((code, fee));
            }
        }
    }
    let mut slots = Vec::new();
    if let Some(s) = &input.delivery_slots {
        if s.len() > 20 {
            v.push("delivery_slots", "too_long", "at most 20 slots");
        }
        for (i, slot) in s.iter().enumerate() {
            let code = slot.code.trim().to_lowercase();
            if code.is_empty()
                || code.len() > 32
                || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                v.push(&format!("delivery_slots[{i}].code"), "invalid", "1 to 32 of a-z, 0-9, '-' and '_'");
            }
            let label = v.text(&format!("delivery_slots[{i}].label"), &slot.label, 100);
            if slots.iter().any(|(c, _): &(String, String)| *c == code) {
                v.push(&format!("delivery_slots[{i}].code"), "duplicate", "two slots have this code");
            }
            slots.push((code, label));
        }
    }
    v.into_result()?;
    check_bank_transfer_can_be_offered(&current, &input)?;
    sqlx::query(
        "UPDATE store_settings SET
           bank_transfer_enabled = coalesce($2, bank_transfer_enabled),
           bank_transfer_due_days = coalesce($3, bank_transfer_due_days),
           bank_account = coalesce($4, bank_account),
           cod_enabled = coalesce($5, cod_enabled),
           cod_limit_amount = coalesce($6, cod_limit_amount),
           shipping_flat_fee_amount = coalesce($7, shipping_flat_fee_amount),
           free_shipping_threshold_amount = CASE WHEN $8 THEN $9 ELSE free_shipping_threshold_amount END,
           cod_fee_basis = coalesce($10, cod_fee_basis)
         WHERE store_id = $1",
    )
    .bind(store)
    .bind(input.bank_transfer_enabled)
    .bind(input.bank_transfer_due_days)
    .bind(input.bank_account.map(sqlx::types::Json))
    .bind(input.cod_enabled)
    .bind(cod_limit)
    .bind(flat)
    .bind(free.is_some())
    .bind(free.flatten())
    .bind(input.cod_fee_basis)
    .execute(&mut **tx)
    .await?;
    if input.cod_fee_tiers.is_some() {
        sqlx::query("DELETE FROM store_cod_fee_tiers WHERE store_id = $1").bind(store).execute(&mut **tx).await?;
        for (up, fee) in &tiers {
            sqlx::query("INSERT INTO store_cod_fee_tiers (tenant_id, store_id, up_to_amount, fee_amount) VALUES ($1, $2, $3, $4)")
                .bind(tx.tenant())
                .bind(store)
                .bind(up)
                .bind(fee)
                .execute(&mut **tx)
                .await?;
        }
    }
    if input.prefecture_fees.is_some() {
        sqlx::query("DELETE FROM store_shipping_rates WHERE store_id = $1").bind(store).execute(&mut **tx).await?;
        for (code, fee) in &fees {
            sqlx::query("INSERT INTO store_shipping_rates (tenant_id, store_id, prefecture_code, fee_amount) VALUES ($1, $2, $3, $4)")
                .bind(tx.tenant())
                .bind(store)
                .bind(*code as i16)
                .bind(fee)
                .execute(&mut **tx)
                .await?;
        }
    }
    if input.delivery_slots.is_some() {
        sqlx::query("DELETE FROM store_delivery_slots WHERE store_id = $1").bind(store).execute(&mut **tx).await?;
        for (i, (code, label)) in slots.iter().enumerate() {
            sqlx::query("INSERT INTO store_delivery_slots (tenant_id, store_id, code, label, position) VALUES ($1, $2, $3, $4, $5)")
                .bind(tx.tenant())
                .bind(store)
                .bind(code)
                .bind(label)
                .bind(i as i32)
                .execute(&mut **tx)
                .await?;
        }
    }
    let s = load(tx, store).await?;
    let event = crate::event::StoreCheckoutSettingsUpdated { store_id: store, settings: s.clone() };
    events::record(tx, events::NewEvent::of(&event).in_store(store)).await?;
    Ok(s)
}
