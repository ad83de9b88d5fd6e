//! A store's checkout settings: payment methods (bank transfer with its account and due days,
//! cash on delivery with its limit and fee tiers), shipping (flat fee, free-shipping threshold,
//! per-prefecture fees), the delivery time slots it offers and its delivery-date calendar
//! (`crate::delivery`).

use chrono::{DateTime, NaiveDate, Utc, Weekday};
use db::Tx;
use kernel::access::{Acting, Permission};
use kernel::jp::Prefecture;
use kernel::{Currency, Money, StoreId, Validator};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::CheckoutError;
use crate::delivery::{Area, DeliveryRules, ExtraDays, SlotPreset};
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
    /// The time code the carrier's label software reads for this slot (Yamato B2 Cloud
    /// `0812`, Sagawa e-飛伝 `01`); the presets fill it. Left out when the slot has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_code: Option<String>,
}

/// Extra transit days to a prefecture or to the postal codes starting with a prefix, as the
/// settings answer them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExtraDaysView {
    pub prefecture: Option<Prefecture>,
    pub postal_code_prefix: Option<String>,
    pub days: i32,
}

/// Extra transit days, as they are set: a prefecture or a postal-code prefix, not both.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtraDaysInput {
    /// JIS code 1-47, or the name (沖縄県, 沖縄, Okinawa).
    #[schema(value_type = Option<String>)]
    pub prefecture: Option<serde_json::Value>,
    /// 1 to 7 digits (a hyphen is allowed): `100-21` covers the Ogasawara islands.
    pub postal_code_prefix: Option<String>,
    pub days: i32,
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
    /// Business days from the day an order counts from to the day it ships.
    pub delivery_lead_days: i32,
    /// Orders at or after this hour (Japan time) count from the next business day; `null`: none.
    pub delivery_cutoff_hour: Option<i32>,
    /// How many days the shopper may choose a delivery date from, the earliest included.
    pub delivery_window_days: i32,
    /// Weekdays the store does not ship: `mon` .. `sun`.
    pub closed_weekdays: Vec<String>,
    /// Dates the store does not ship (its own holidays), in order.
    pub closed_dates: Vec<NaiveDate>,
    /// Whether Japan's public holidays are closed days.
    pub closed_on_holidays: bool,
    /// Extra transit days (Okinawa, remote islands).
    pub delivery_extra_days: Vec<ExtraDaysView>,
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
    /// Replaces the slots with a carrier's, with its time codes (not with `delivery_slots`).
    pub delivery_slot_preset: Option<SlotPreset>,
    pub delivery_lead_days: Option<i32>,
    /// 1-23; `null` removes the cut-off.
    #[serde(default, deserialize_with = "kernel::validate::nullable")]
    #[schema(value_type = Option<i32>)]
    pub delivery_cutoff_hour: Option<Option<i32>>,
    pub delivery_window_days: Option<i32>,
    /// Replaces the closed weekdays: `mon` .. `sun` (or `monday`); at most six.
    pub closed_weekdays: Option<Vec<String>>,
    /// Replaces the closed dates.
    pub closed_dates: Option<Vec<NaiveDate>>,
    pub closed_on_holidays: Option<bool>,
    /// Replaces the extra transit days.
    pub delivery_extra_days: Option<Vec<ExtraDaysInput>>,
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
    slot_carrier_code: Vec<Option<String>>,
    delivery_lead_days: i32,
    delivery_cutoff_hour: Option<i32>,
    delivery_window_days: i32,
    closed_weekdays: Vec<i16>,
    closed_dates: Vec<NaiveDate>,
    closed_on_holidays: bool,
    extra_prefecture: Vec<Option<i16>>,
    extra_prefix: Vec<Option<String>>,
    extra_days: Vec<i32>,
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
                ARRAY(SELECT label FROM store_delivery_slots d WHERE d.store_id = s.store_id ORDER BY position, code) AS slot_label,
                ARRAY(SELECT carrier_code FROM store_delivery_slots d WHERE d.store_id = s.store_id ORDER BY position, code) AS slot_carrier_code,
                delivery_lead_days, delivery_cutoff_hour, delivery_window_days, closed_weekdays,
                ARRAY(SELECT d FROM unnest(closed_dates) d ORDER BY d) AS closed_dates, closed_on_holidays,
                ARRAY(SELECT prefecture_code FROM store_delivery_extra_days e WHERE e.store_id = s.store_id ORDER BY prefecture_code, postal_code_prefix) AS extra_prefecture,
                ARRAY(SELECT postal_code_prefix FROM store_delivery_extra_days e WHERE e.store_id = s.store_id ORDER BY prefecture_code, postal_code_prefix) AS extra_prefix,
                ARRAY(SELECT days FROM store_delivery_extra_days e WHERE e.store_id = s.store_id ORDER BY prefecture_code, postal_code_prefix) AS extra_days
           FROM store_settings s WHERE s.store_id = $1",
    )
    .bind(store)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(CheckoutError::CartNotFound)?;
    let c = r.currency;
    let tiers = r.tier_up_to.into_iter().zip(r.tier_fee);
    let fees = r.fee_prefecture.into_iter().zip(r.fee_amount);
    let slots = r.slot_code.into_iter().zip(r.slot_label).zip(r.slot_carrier_code);
    let extra = r.extra_prefecture.into_iter().zip(r.extra_prefix).zip(r.extra_days);
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
        delivery_slots: slots
            .into_iter()
            .map(|((code, label), carrier_code)| DeliverySlot { code, label, carrier_code })
            .collect(),
        delivery_lead_days: r.delivery_lead_days,
        delivery_cutoff_hour: r.delivery_cutoff_hour,
        delivery_window_days: r.delivery_window_days,
        closed_weekdays: r.closed_weekdays.iter().filter_map(|&n| weekday_of(n)).map(weekday_name).collect(),
        closed_dates: r.closed_dates,
        closed_on_holidays: r.closed_on_holidays,
        delivery_extra_days: extra
            .map(|((prefecture, postal_code_prefix), days)| ExtraDaysView {
                prefecture: prefecture.and_then(|c| Prefecture::from_code(c as u8)),
                postal_code_prefix,
                days,
            })
            .collect(),
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

    /// The store's delivery-date calendar as the window rule uses it.
    pub fn delivery_rules(&self) -> DeliveryRules {
        DeliveryRules {
            lead_days: self.delivery_lead_days.max(0) as u32,
            cutoff_hour: self.delivery_cutoff_hour.map(|h| h.max(0) as u32),
            window_days: self.delivery_window_days.max(1) as u32,
            closed_weekdays: self.closed_weekdays.iter().filter_map(|w| w.parse().ok()).collect(),
            closed_dates: self.closed_dates.clone(),
            closed_on_holidays: self.closed_on_holidays,
            extra_days: self
                .delivery_extra_days
                .iter()
                .filter_map(|e| {
                    let area = match (&e.prefecture, &e.postal_code_prefix) {
                        (Some(p), _) => Area::Prefecture(p.code),
                        (None, Some(prefix)) => Area::PostalPrefix(prefix.clone()),
                        (None, None) => return None,
                    };
                    Some(ExtraDays { area, days: e.days.max(0) as u32 })
                })
                .collect(),
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

/// ISO weekday number (1 = Monday) as stored.
fn weekday_of(n: i16) -> Option<Weekday> {
    match n {
        1..=7 => Some(Weekday::try_from((n - 1) as u8).ok()?),
        _ => None,
    }
}

fn weekday_name(w: Weekday) -> String {
    w.to_string().to_lowercase()
}

/// A prefecture given as a JSON string or number.
fn prefecture_in(v: &mut Validator, field: &str, value: &serde_json::Value) -> Option<u8> {
    let text = match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    v.check(field, Prefecture::parse(&text)).map(|p| p.code)
}

/// Checks the slots (given or a preset's): (code, label, carrier code).
fn check_slots(v: &mut Validator, input: &UpdateCheckoutSettings) -> Vec<(String, String, Option<String>)> {
    let mut slots: Vec<(String, String, Option<String>)> = Vec::new();
    if let Some(preset) = input.delivery_slot_preset {
        if input.delivery_slots.is_some() {
            v.push("delivery_slot_preset", "invalid", "give either delivery_slots or delivery_slot_preset, not both");
        }
        return preset.slots().iter().map(|(c, l, t)| (c.to_string(), l.to_string(), Some(t.to_string()))).collect();
    }
    let Some(s) = &input.delivery_slots else { return slots };
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
        if slots.iter().any(|(c, _, _)| *c == code) {
            v.push(&format!("delivery_slots[{i}].code"), "duplicate", "two slots have this code");
        }
        let carrier = slot.carrier_code.as_deref().map(str::trim).filter(|c| !c.is_empty());
        if carrier.is_some_and(|c| c.len() > 4 || !c.bytes().all(|b| b.is_ascii_digit())) {
            v.push(&format!("delivery_slots[{i}].carrier_code"), "invalid", "1 to 4 digits, e.g. 0812");
        }
        slots.push((code, label, carrier.map(str::to_string)));
    }
    slots
}

/// The delivery calendar's fields: closed weekdays (ISO numbers), closed dates, extra days.
struct Calendar {
    weekdays: Option<Vec<i16>>,
    dates: Option<Vec<NaiveDate>>,
    extra: Vec<(Option<i16>, Option<String>, i32)>,
}

fn check_calendar(v: &mut Validator, input: &UpdateCheckoutSettings) -> Calendar {
    if let Some(d) = input.delivery_lead_days {
        v.range("delivery_lead_days", d, 0, 30);
    }
    if let Some(Some(h)) = input.delivery_cutoff_hour {
        v.range("delivery_cutoff_hour", h, 1, 23);
    }
    if let Some(d) = input.delivery_window_days {
        v.range("delivery_window_days", d, 1, 90);
    }
    let weekdays = input.closed_weekdays.as_ref().map(|names| {
        let mut days: Vec<i16> = Vec::new();
        for (i, name) in names.iter().enumerate() {
            match name.trim().parse::<Weekday>() {
                Ok(w) if !days.contains(&(w.number_from_monday() as i16)) => days.push(w.number_from_monday() as i16),
                Ok(_) => v.push(&format!("closed_weekdays[{i}]"), "duplicate", "this weekday is listed twice"),
                Err(_) => {
                    v.push(&format!("closed_weekdays[{i}]"), "invalid", "one of mon, tue, wed, thu, fri, sat, sun")
                }
            }
        }
        if days.len() == 7 {
            v.push("closed_weekdays", "invalid", "a store closed every weekday never ships");
        }
        days.sort_unstable();
        days
    });
    let dates = input.closed_dates.as_ref().map(|dates| {
        if dates.len() > 400 {
            v.push("closed_dates", "too_long", "at most 400 dates");
        }
        let mut dates = dates.clone();
        dates.sort_unstable();
        dates.dedup();
        dates
    });
    let mut extra: Vec<(Option<i16>, Option<String>, i32)> = Vec::new();
    for (i, e) in input.delivery_extra_days.iter().flatten().enumerate() {
        let field = format!("delivery_extra_days[{i}]");
        v.range(&format!("{field}.days"), e.days, 0, 30);
        let area = match (&e.prefecture, &e.postal_code_prefix) {
            (Some(p), None) => prefecture_in(v, &format!("{field}.prefecture"), p).map(|c| (Some(c as i16), None)),
            (None, Some(prefix)) => {
                let digits: String = kernel::jp::fold_width(prefix).chars().filter(|c| *c != '-').collect();
                if digits.is_empty() || digits.len() > 7 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    v.push(&format!("{field}.postal_code_prefix"), "invalid", "1 to 7 digits of a postal code");
                    None
                } else {
                    Some((None, Some(digits)))
                }
            }
            _ => {
                v.push(&field, "invalid", "give a prefecture or a postal_code_prefix, one of them");
                None
            }
        };
        if let Some((p, prefix)) = area {
            if extra.iter().any(|(ep, eprefix, _)| *ep == p && *eprefix == prefix) {
                v.push(&field, "duplicate", "this area is listed twice");
            }
            extra.push((p, prefix, e.days));
        }
    }
    Calendar { weekdays, dates, extra }
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
            let code = prefecture_in(&mut v, &format!("prefecture_fees[{i}].prefecture"), &pf.prefecture);
            let fee = money(&mut v, &format!("prefecture_fees[{i}].fee"), &pf.fee, c);
            if let Some(code) = code {
                if fees.iter().any(|(c, _)| *c == code) {
                    v.push(&format!("prefecture_fees[{i}].prefecture"), "duplicate", "this prefecture is listed twice");
                }
                fees.push((code, fee));
            }
        }
    }
    let slots = check_slots(&mut v, &input);
    let calendar = check_calendar(&mut v, &input);
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
           cod_fee_basis = coalesce($10, cod_fee_basis),
           delivery_lead_days = coalesce($11, delivery_lead_days),
           delivery_cutoff_hour = CASE WHEN $12 THEN $13 ELSE delivery_cutoff_hour END,
           delivery_window_days = coalesce($14, delivery_window_days),
           closed_weekdays = coalesce($15, closed_weekdays),
           closed_dates = coalesce($16, closed_dates),
           closed_on_holidays = coalesce($17, closed_on_holidays)
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
    .bind(input.delivery_lead_days)
    .bind(input.delivery_cutoff_hour.is_some())
    .bind(input.delivery_cutoff_hour.flatten())
    .bind(input.delivery_window_days)
    .bind(&calendar.weekdays)
    .bind(&calendar.dates)
    .bind(input.closed_on_holidays)
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
    if input.delivery_slots.is_some() || input.delivery_slot_preset.is_some() {
        sqlx::query("DELETE FROM store_delivery_slots WHERE store_id = $1").bind(store).execute(&mut **tx).await?;
        for (i, (code, label, carrier_code)) in slots.iter().enumerate() {
            sqlx::query(
                "INSERT INTO store_delivery_slots (tenant_id, store_id, code, label, position, carrier_code) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(tx.tenant())
            .bind(store)
            .bind(code)
            .bind(label)
            .bind(i as i32)
            .bind(carrier_code)
            .execute(&mut **tx)
            .await?;
        }
    }
    if input.delivery_extra_days.is_some() {
        sqlx::query("DELETE FROM store_delivery_extra_days WHERE store_id = $1").bind(store).execute(&mut **tx).await?;
        for (prefecture, prefix, days) in &calendar.extra {
            sqlx::query(
                "INSERT INTO store_delivery_extra_days (tenant_id, store_id, prefecture_code, postal_code_prefix, days) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(tx.tenant())
            .bind(store)
            .bind(prefecture)
            .bind(prefix)
            .bind(days)
            .execute(&mut **tx)
            .await?;
        }
    }
    let s = load(tx, store).await?;
    let event = crate::event::StoreCheckoutSettingsUpdated { store_id: store, settings: s.clone() };
    events::record(tx, events::NewEvent::of(&event).in_store(store)).await?;
    Ok(s)
}
