//! Placing an order from a cart: one transaction, [`place_order`], in the steps its body
//! names. The cart is locked; the form, prices, availability and the code are checked again;
//! the cart's holds are kept and what lapsed is held now; the chosen payment method is priced
//! by the quote's rule; the order, its lines, addresses, tax lines, payment and one shipment
//! per vendor are written; then, last, the rows every checkout competes for (the stock sold,
//! the code's use, the store's order number); then the events. Any refusal leaves nothing
//! behind.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use catalog::variant::{FulfillmentType, TaxClass};
use chrono::{DateTime, NaiveDate, Utc};
use customers::address::{Address, AddressInput, AddressType};
use db::Tx;
use inventory::reservation::{self, Ask};
use kernel::access::Actor;
use kernel::{
    CartItemId, CustomerId, LocationId, Money, OrderId, OrderItemId, PaymentId, ProductId, ReservationId, ShipmentId,
    StoreId, Validator, VariantId, VendorId,
};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::quote::{self, Quote};
use super::read_model::{OrderLine, OrderView, Payment, Shipment, hash_token};
use super::status::{OrderStatus, PaymentMethod, PaymentStatus, ShipmentStatus, derive_status};
use crate::CheckoutError;
use crate::cart::{self, CartKey, CartRow};
use crate::event::{OrderPlaced, PaymentConfirmed};
use crate::promotions::{self, Promotion};
use crate::settings::{self, CheckoutSettings};
use crate::totals::{Line, Totals};
use crate::{idempotency, items};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrder {
    #[schema(example = "hanako@example.jp")]
    pub email: String,
    pub shipping_address: Option<AddressInput>,
    /// Defaults to the shipping address.
    pub billing_address: Option<AddressInput>,
    pub payment_method: PaymentMethod,
    /// A delivery date the shopper asks for (physical goods).
    pub delivery_date: Option<NaiveDate>,
    /// One of the store's delivery slots (`GET .../checkout-options`).
    pub delivery_slot: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlacedOrder {
    pub order: OrderView,
    /// Send as `X-Order-Token` to see the order later. Shown once.
    pub order_token: String,
}

/// Places an order from a cart (module docs), now. `idem` is the Idempotency-Key.
pub async fn place_order(
    tx: &mut Tx,
    store: StoreId,
    key: &CartKey,
    input: &PlaceOrder,
    idem: &str,
) -> Result<(u16, serde_json::Value), CheckoutError> {
    place_order_at(tx, store, key, input, idem, Utc::now()).await
}

/// [`place_order`] at `now` (the delivery date is checked against the window of that moment).
pub async fn place_order_at(
    tx: &mut Tx,
    store: StoreId,
    key: &CartKey,
    input: &PlaceOrder,
    idem: &str,
    now: DateTime<Utc>,
) -> Result<(u16, serde_json::Value), CheckoutError> {
    // keys are the store's: the same key on another cart is another request
    let scope = format!("checkout:{store}");
    let hash = idempotency::request_hash(&(key.id, input));
    // one request per cart at a time: replays and racing retries wait here, then replay
    let (cart, answer) = lock_the_cart(tx, store, key, &scope, idem, &hash).await?;
    if let Some(answer) = answer {
        return Ok(answer);
    }
    let cart = cart::still_active(cart)?;
    let s = settings::load(tx, store).await?;
    let lines = read_the_lines(tx, &cart).await?;
    let form = check_the_form(input, &lines, &s, now)?;
    check_prices_and_availability(tx, &lines).await?;
    let held = hold_the_stock(tx, store, &cart, &lines).await?;
    let promotion = promotions::for_cart(tx, store, cart.promotion_id).await?;
    let customer = identify_the_customer(tx, store, &cart, &form).await?;
    check_the_code(tx, promotion.as_ref(), customer, &form.email, &lines).await?;
    let totals = price_the_order(input.payment_method, &lines, promotion.as_ref(), &form, &s)?;
    let commission = freeze_the_commission(tx, &lines, &totals).await?;

    let placing = Placing::new(store, &cart, input, form, lines, held, promotion, customer, totals, commission, &s);
    // the order with its lines, tax lines, addresses, payment, shipments and first status, and
    // the cart marked ordered: one statement, whose answer is built from what it wrote
    let written = placing.write_the_order(tx, idem, s.bank_transfer_due_days).await?;
    let placed = placing.as_placed(written, &s);

    // last, the rows every checkout competes for, so each is held only from here to the commit:
    // the stock rows (the holds become a sale), the code's use count, the store's order counter
    sell_the_held_stock(tx, store, &placing.held.holds, placing.order).await?;
    if let Some(p) = &placing.promotion {
        promotions::claim_use(tx, p, placing.order, Some(placing.customer), &placing.form.email).await?;
    }
    // and in the same last statement the events and the stored answer, both with that number
    let events = placing.events(&placed);
    let mut body =
        serde_json::to_value(PlacedOrder { order: placed, order_token: placing.token.clone() }).unwrap_or_default();
    let number = number_announce_and_store(tx, store, placing.order, &events, (&scope, idem, &hash), &body).await?;
    body["order"]["number"] = number.into();

    metrics::counter!("tenpo_orders_placed_total").increment(1);
    Ok((201, body))
}

/// Locks the cart (with its secret), whatever its status, and reads the key's stored answer in
/// the same statement: a second request for the same cart waits here until the first commits,
/// then replays its stored answer. An active cart's lock is the shopper's activity too.
///
/// A statement that waited for the lock reads the key with its older snapshot, from before the
/// first request's commit; the cart it locked is the current row, though. So an active cart
/// means no checkout of it committed (its answer would have been stored with the cart marked
/// ordered), and a cart no longer active whose key was not seen is looked up again, now.
async fn lock_the_cart(
    tx: &mut Tx,
    store: StoreId,
    key: &CartKey,
    scope: &str,
    idem: &str,
    hash: &[u8],
) -> Result<(CartRow, Option<(u16, serde_json::Value)>), CheckoutError> {
    #[derive(sqlx::FromRow)]
    struct Locked {
        #[sqlx(flatten)]
        cart: CartRow,
        request_hash: Option<Vec<u8>>,
        response_status: Option<i32>,
        response_body: Option<serde_json::Value>,
    }
    let locked: Locked = sqlx::query_as(&format!(
        "WITH c AS (
           UPDATE carts SET last_activity_at = CASE WHEN status = 'active' THEN now() ELSE last_activity_at END
            WHERE id = $1 AND store_id = $2 AND secret_hash = $3 RETURNING {})
         SELECT c.*, k.request_hash, k.response_status, k.response_body
           FROM c LEFT JOIN idempotency_keys k ON k.scope = $4 AND k.key = $5",
        cart::COLUMNS
    ))
    .bind(key.id)
    .bind(store)
    .bind(key.secret_hash())
    .bind(scope)
    .bind(idem)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(CheckoutError::CartNotFound)?;
    let stored = locked.request_hash.map(|h| (h, locked.response_status, locked.response_body));
    let answer = match (stored, &locked.cart.status) {
        (None, s) if *s != cart::CartStatus::Active => idempotency::find(tx, scope, idem, hash).await?,
        (stored, _) => idempotency::answer_of(stored, hash)?,
    };
    Ok((locked.cart, answer))
}

/// A cart line with what the order needs of its variant and product now.
#[derive(sqlx::FromRow)]
pub(super) struct CartLineRow {
    id: CartItemId,
    pub(super) variant_id: VariantId,
    product_id: ProductId,
    pub(super) vendor_id: VendorId,
    pub(super) quantity: i32,
    pub(super) price_amount: i64,
    current_price: i64,
    pub(super) product_title: String,
    pub(super) variant_title: String,
    pub(super) sku: String,
    fulfillment_type: FulfillmentType,
    pub(super) tax_class: TaxClass,
    sellable: bool,
    /// The single-brand tenant's own vendor: no commission.
    pub(super) house: bool,
    /// The line's live holds, oldest first: ids, quantities, locations.
    hold_ids: Option<Vec<ReservationId>>,
    hold_quantities: Option<Vec<i32>>,
    hold_locations: Option<Vec<LocationId>>,
}

impl CartLineRow {
    fn physical(&self) -> bool {
        self.fulfillment_type == FulfillmentType::Physical
    }

    /// The line as the order arithmetic sees it.
    fn priced(&self) -> Line {
        quote::line(self.price_amount, self.quantity, self.tax_class, self.fulfillment_type)
    }
}

/// The cart's lines, in the order they were added, each with its live holds; an empty cart is
/// refused.
pub(super) async fn read_the_lines(tx: &mut Tx, cart: &CartRow) -> Result<Vec<CartLineRow>, CheckoutError> {
    let lines: Vec<CartLineRow> = sqlx::query_as(
        "SELECT i.id, i.variant_id, p.id AS product_id, i.vendor_id, i.quantity, i.price_amount, v.price_amount AS current_price,
                p.title AS product_title, v.title AS variant_title, v.sku, v.fulfillment_type, v.tax_class,
                (v.status = 'active' AND p.status = 'active' AND v.deleted_at IS NULL AND p.deleted_at IS NULL
                 AND EXISTS (SELECT 1 FROM vendors ve WHERE ve.id = p.vendor_id AND ve.status = 'active')) AS sellable,
                EXISTS (SELECT 1 FROM vendors ve WHERE ve.id = i.vendor_id AND ve.is_house) AS house,
                h.ids AS hold_ids, h.quantities AS hold_quantities, h.locations AS hold_locations
           FROM cart_items i JOIN variants v ON v.id = i.variant_id JOIN products p ON p.id = v.product_id
           LEFT JOIN LATERAL (
                SELECT array_agg(r.id ORDER BY r.id) AS ids, array_agg(r.quantity ORDER BY r.id) AS quantities,
                       array_agg(r.location_id ORDER BY r.id) AS locations
                  FROM inventory_reservations r
                 WHERE r.cart_item_id = i.id AND r.status = 'active' AND r.expires_at > now()) h
             ON v.fulfillment_type = 'physical'
          WHERE i.cart_id = $1 ORDER BY i.created_at, i.id",
    )
    .bind(cart.id)
    .fetch_all(&mut **tx)
    .await?;
    if lines.is_empty() {
        return Err(CheckoutError::EmptyCart);
    }
    Ok(lines)
}

/// The checkout form, checked: the email as the customer's identity has it, the addresses.
pub(super) struct Form {
    email: String,
    shipping_address: Option<Address>,
    billing_address: Option<Address>,
}

/// Checks the form against the cart, the store's delivery slots and its delivery window at
/// `now` for the shipping address, naming every bad field.
pub(super) fn check_the_form(
    input: &PlaceOrder,
    lines: &[CartLineRow],
    s: &CheckoutSettings,
    now: DateTime<Utc>,
) -> Result<Form, CheckoutError> {
    let mut v = Validator::new();
    let typed = v.text("email", &input.email, 254);
    // the customer's identity and the order's email are one string, however it was typed
    let email = if typed.is_empty() {
        typed
    } else {
        v.check("email", customers::identity::normalize_email(&typed)).unwrap_or(typed)
    };
    let shipped = lines.iter().any(CartLineRow::physical);
    let shipping_address = match (&input.shipping_address, shipped) {
        (Some(a), _) => Address::parse_in(&mut v, "shipping_address.", a),
        (None, true) => {
            v.push("shipping_address", "required", "physical goods need a shipping address");
            None
        }
        (None, false) => None,
    };
    let billing_address = input.billing_address.as_ref().and_then(|a| Address::parse_in(&mut v, "billing_address.", a));
    if let Some(slot) = &input.delivery_slot {
        if !shipped {
            v.push("delivery_slot", "invalid", "only for physical goods");
        } else if !s.delivery_slots.iter().any(|d| &d.code == slot) {
            v.push("delivery_slot", "invalid", "not one of the store's delivery slots");
        }
    }
    if let Some(date) = input.delivery_date {
        let to = crate::delivery::Destination {
            prefecture: shipping_address.as_ref().map(|a| a.prefecture_code as u8),
            postal_code: shipping_address.as_ref().map(|a| a.postal_code.as_str()),
        };
        let window = s.delivery_rules().window(now, to);
        if !shipped {
            v.push("delivery_date", "invalid", "only for physical goods");
        } else if !window.contains(date) {
            v.push(
                "delivery_date",
                "out_of_range",
                format!("choose a day from {} to {}", window.earliest, window.latest),
            );
        }
    }
    v.into_result()?;
    Ok(Form { email, shipping_address, billing_address })
}

/// Everything is still sold, at the price the cart shows. A changed price is written into the
/// cart (kept, though the checkout is refused) so the shopper sees the new total.
pub(super) async fn check_prices_and_availability(tx: &mut Tx, lines: &[CartLineRow]) -> Result<(), CheckoutError> {
    if lines.iter().any(|l| !l.sellable) {
        return Err(CheckoutError::VariantNotAvailable);
    }
    let changed: Vec<&CartLineRow> = lines.iter().filter(|l| l.current_price != l.price_amount).collect();
    if changed.is_empty() {
        return Ok(());
    }
    for l in &changed {
        sqlx::query("UPDATE cart_items SET price_amount = $2 WHERE id = $1")
            .bind(l.id)
            .bind(l.current_price)
            .execute(&mut **tx)
            .await?;
    }
    Err(CheckoutError::PricesChanged)
}

/// The holds the order will consume, and the location each physical line's units come from.
struct Held {
    holds: Vec<ReservationId>,
    location_of: HashMap<CartItemId, LocationId>,
}

/// Keeps each physical line's live holds (read with the lines) and holds now what lapsed.
async fn hold_the_stock(
    tx: &mut Tx,
    store: StoreId,
    cart: &CartRow,
    lines: &[CartLineRow],
) -> Result<Held, CheckoutError> {
    let held: Vec<(ReservationId, CartItemId, i32, LocationId)> = lines
        .iter()
        .filter(|l| l.physical())
        .flat_map(|l| {
            let (ids, qty, loc) = (&l.hold_ids, &l.hold_quantities, &l.hold_locations);
            let n = ids.as_ref().map_or(0, Vec::len);
            (0..n).filter_map(move |i| {
                Some((*ids.as_ref()?.get(i)?, l.id, *qty.as_ref()?.get(i)?, *loc.as_ref()?.get(i)?))
            })
        })
        .collect();
    let mut holds: Vec<ReservationId> = Vec::new();
    // the location each line's units come from (its first hold's)
    let mut location_of: HashMap<CartItemId, LocationId> = HashMap::new();
    for l in lines.iter().filter(|l| l.physical()) {
        let mine: Vec<&(ReservationId, CartItemId, i32, LocationId)> = held.iter().filter(|h| h.1 == l.id).collect();
        let have: i32 = mine.iter().map(|h| h.2).sum();
        if let Some(first) = mine.first() {
            location_of.insert(l.id, first.3);
        }
        if have > l.quantity {
            // more held than wanted (should not happen): give the excess back
            let excess: Vec<ReservationId> = mine.iter().skip(1).map(|h| h.0).collect();
            reservation::end(tx, store, &excess, reservation::ReservationStatus::Released, Actor::Shopper).await?;
            holds.extend(mine.first().map(|h| h.0));
            continue;
        }
        holds.extend(mine.iter().map(|h| h.0));
        if have < l.quantity {
            let ask = Ask {
                variant: l.variant_id,
                quantity: l.quantity - have,
                cart: cart.id,
                cart_item: Some(l.id),
                customer: cart.customer_id,
                // read only when a hold lapsed: most checkouts re-hold nothing
                ttl_seconds: items::reservation_ttl(tx, store).await?,
            };
            match reservation::reserve(tx, store, &ask).await? {
                Ok(h) => {
                    location_of.entry(l.id).or_insert(h.location_id);
                    holds.push(h.reservation_id);
                }
                Err(refusal) => return Err(CheckoutError::Refused(refusal)),
            }
        }
    }
    Ok(Held { holds, location_of })
}

/// The customer the order is for: a signed-in shopper's cart is their account's; a guest is
/// found (or made) by the email and phone.
async fn identify_the_customer(
    tx: &mut Tx,
    store: StoreId,
    cart: &CartRow,
    form: &Form,
) -> Result<CustomerId, CheckoutError> {
    if let Some(c) = cart.customer_id {
        return Ok(c);
    }
    let address = form.shipping_address.as_ref();
    let found = customers::identity::resolve(
        tx,
        store,
        customers::identity::ResolveInput {
            email: Some(form.email.clone()),
            phone: address.and_then(|a| a.phone.clone()),
            external_id: None,
            name: address.map(|a| a.name.clone()),
            name_kana: address.map(|a| a.name_kana.clone()).filter(|k| !k.is_empty()),
            verified: false,
        },
        customers::identity::Source::Checkout,
    )
    .await
    .map_err(|e| {
        use kernel::Problem;
        match e.status() {
            500 => CheckoutError::Db(sqlx::Error::Protocol(e.to_string())),
            _ => CheckoutError::Validation(kernel::ValidationErrors::one("email", e.code(), e.to_string())),
        }
    })?;
    Ok(found.customer_id)
}

/// The cart's code still applies: active, in its dates, above its minimum, within its uses
/// for this customer.
async fn check_the_code(
    tx: &mut Tx,
    promotion: Option<&Promotion>,
    customer: CustomerId,
    email: &str,
    lines: &[CartLineRow],
) -> Result<(), CheckoutError> {
    let Some(p) = promotion else { return Ok(()) };
    let subtotal: i64 = lines.iter().map(|l| l.priced().total()).sum();
    let uses = promotions::customer_uses(tx, p.id, Some(customer), Some(email)).await?;
    promotions::check(p, Utc::now(), subtotal, uses).map_err(CheckoutError::Ineligible)
}

/// The order's totals paid by `method`, by the quote's rule: refused if the store does not
/// offer that method for this cart.
pub(super) fn price_the_order(
    method: PaymentMethod,
    lines: &[CartLineRow],
    promotion: Option<&Promotion>,
    form: &Form,
    s: &CheckoutSettings,
) -> Result<Totals, CheckoutError> {
    let lines: Vec<Line> = lines.iter().map(CartLineRow::priced).collect();
    let shipping = quote::shipping_rules(s, form.shipping_address.as_ref().map(|a| a.prefecture_code as u8));
    let Quote { totals, unavailable } = quote::quote(method, &lines, promotion.map(|p| p.discount()), &shipping, s);
    match unavailable {
        Some(why) => Err(CheckoutError::PaymentMethodUnavailable(why)),
        None => Ok(totals),
    }
}

/// The mall's commission on one line (docs/MALL.md): rate, base, amount.
type Commission = (i32, i64, i64);

/// The mall's commission on each line, frozen here; a single-brand tenant sells as itself and
/// pays none (no round trip on its checkouts).
async fn freeze_the_commission(
    tx: &mut Tx,
    lines: &[CartLineRow],
    t: &Totals,
) -> Result<Vec<Commission>, CheckoutError> {
    let terms = if lines.iter().all(|l| l.house) {
        tenancy::commission::Terms::default()
    } else {
        tenancy::commission::terms(
            tx,
            &lines.iter().map(|l| (l.product_id, l.vendor_id)).collect::<Vec<_>>(),
            kernel::jp::today(),
        )
        .await?
    };
    Ok(lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let rate = terms.rate(l.product_id);
            let goods = l.price_amount * l.quantity as i64 - t.line_discounts[i];
            let base = terms.base(goods, t.line_shipping_fees[i], t.line_cod_fees[i]);
            (rate, base, tenancy::commission::amount(base, rate))
        })
        .collect())
}

/// What writing the order answers: what the database set.
#[derive(sqlx::FromRow)]
struct Written {
    placed_at: DateTime<Utc>,
    due_at: Option<DateTime<Utc>>,
    confirmed_at: Option<DateTime<Utc>>,
}

/// An order decided and about to be written: everything its rows are written from.
struct Placing<'a> {
    order: OrderId,
    store: StoreId,
    cart: &'a CartRow,
    input: &'a PlaceOrder,
    form: Form,
    lines: Vec<CartLineRow>,
    held: Held,
    promotion: Option<Promotion>,
    customer: CustomerId,
    totals: Totals,
    commission: Vec<Commission>,
    currency: kernel::Currency,
    token: String,
    line_ids: Vec<OrderItemId>,
    payment: PaymentId,
    /// One shipment per vendor with something to ship.
    shipments: Vec<(ShipmentId, VendorId)>,
    /// Nothing to pay (a code took it all): paid at once, so digital goods are delivered now.
    free: bool,
    /// Something is shipped.
    shipped: bool,
    status: OrderStatus,
}

impl<'a> Placing<'a> {
    #[allow(clippy::too_many_arguments)]
    fn new(
        store: StoreId,
        cart: &'a CartRow,
        input: &'a PlaceOrder,
        form: Form,
        lines: Vec<CartLineRow>,
        held: Held,
        promotion: Option<Promotion>,
        customer: CustomerId,
        totals: Totals,
        commission: Vec<Commission>,
        s: &CheckoutSettings,
    ) -> Placing<'a> {
        let free = totals.total == 0;
        let shipped = lines.iter().any(CartLineRow::physical);
        let payment_status = if free { PaymentStatus::Confirmed } else { PaymentStatus::Pending };
        let status = derive_status(input.payment_method, payment_status, &[], false);
        let status = if shipped && status == OrderStatus::Completed { OrderStatus::Processing } else { status };
        let mut vendors: Vec<VendorId> = lines.iter().filter(|l| l.physical()).map(|l| l.vendor_id).collect();
        vendors.sort();
        vendors.dedup();
        Placing {
            line_ids: lines.iter().map(|_| OrderItemId::new()).collect(),
            shipments: vendors.into_iter().map(|v| (ShipmentId::new(), v)).collect(),
            order: OrderId::new(),
            store,
            cart,
            input,
            form,
            lines,
            held,
            promotion,
            customer,
            totals,
            commission,
            currency: s.currency,
            token: new_token(),
            payment: PaymentId::new(),
            free,
            shipped,
            status,
        }
    }

    /// Writes the order in one statement: the order row (its number comes last,
    /// [`assign_number`]; until then it carries a negative placeholder), its lines with the
    /// location their units come from, the tax per rate, the addresses (billing defaults to
    /// shipping), the payment (pending, a bank transfer due within the store's days, or confirmed
    /// at once when there is nothing to pay), one shipment per vendor with something to ship and
    /// the first status in the history; and marks the cart ordered, and the customer's.
    async fn write_the_order(&self, tx: &mut Tx, idem: &str, due_days: i32) -> Result<Written, CheckoutError> {
        let placeholder = -(rand::random::<i64>() & i64::MAX).max(1);
        let (t, lines, promotion) = (&self.totals, &self.lines, self.promotion.as_ref());
        let due = (self.input.payment_method == PaymentMethod::BankTransfer && !self.free).then_some(due_days);
        let payment_status = if self.free { PaymentStatus::Confirmed } else { PaymentStatus::Pending };
        let addresses = self.addresses();
        let written: Written = sqlx::query_as(
            "WITH o AS (
               INSERT INTO orders (id, tenant_id, store_id, order_number, customer_id, cart_id, email, status, currency,
                   subtotal_amount, discount_amount, shipping_fee_amount, cod_fee_amount, total_amount, payment_method,
                   promotion_id, promotion_code, delivery_date, delivery_slot, token_hash, idempotency_key, placed_signed_in)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)
               RETURNING placed_at),
             i AS (
               INSERT INTO order_items (id, tenant_id, order_id, vendor_id, variant_id, product_title, variant_title, sku,
                   fulfillment_type, tax_class, price_amount, price_currency, quantity, discount_amount, location_id,
                   shipping_fee_share, cod_fee_share, commission_rate_bps, commission_base_amount, commission_amount)
               SELECT u.id, $2, $1, u.vendor_id, u.variant_id, u.product_title, u.variant_title, u.sku, u.fulfillment_type,
                      u.tax_class, u.price_amount, $9, u.quantity, u.discount_amount, u.location_id,
                      u.shipping_fee_share, u.cod_fee_share, u.commission_rate_bps, u.commission_base_amount,
                      u.commission_amount
                 FROM UNNEST($23::uuid[], $24::uuid[], $25::uuid[], $26::text[], $27::text[], $28::text[], $29::text[],
                             $30::text[], $31::int8[], $32::int4[], $33::int8[], $34::uuid[], $35::int8[], $36::int8[],
                             $37::int4[], $38::int8[], $39::int8[])
                   AS u(id, vendor_id, variant_id, product_title, variant_title, sku, fulfillment_type, tax_class,
                        price_amount, quantity, discount_amount, location_id, shipping_fee_share, cod_fee_share,
                        commission_rate_bps, commission_base_amount, commission_amount)),
             x AS (
               INSERT INTO order_tax_lines (tenant_id, order_id, rate_bps, taxable_amount, tax_amount)
               SELECT $2, $1, u.rate_bps, u.taxable_amount, u.tax_amount
                 FROM UNNEST($40::int4[], $41::int8[], $42::int8[]) AS u(rate_bps, taxable_amount, tax_amount)),
             a AS (
               INSERT INTO order_addresses (tenant_id, order_id, type, name, name_kana, postal_code, prefecture,
                   prefecture_code, city, line1, line2, phone)
               SELECT $2, $1, u.type, u.name, u.name_kana, u.postal_code, u.prefecture, u.prefecture_code, u.city,
                      u.line1, u.line2, u.phone
                 FROM UNNEST($43::text[], $44::text[], $45::text[], $46::text[], $47::text[], $48::int2[], $49::text[],
                             $50::text[], $51::text[], $52::text[])
                   AS u(type, name, name_kana, postal_code, prefecture, prefecture_code, city, line1, line2, phone)),
             p AS (
               INSERT INTO payments (id, tenant_id, order_id, method, amount, currency, due_at, status, received_amount,
                   confirmed_at)
               VALUES ($53, $2, $1, $15, $14, $9,
                       CASE WHEN $54::int IS NULL THEN NULL ELSE now() + make_interval(days => $54) END,
                       $55, CASE WHEN $56 THEN 0 END, CASE WHEN $56 THEN now() END)
               RETURNING due_at, confirmed_at),
             s AS (
               INSERT INTO shipments (id, tenant_id, order_id, vendor_id)
               SELECT u.id, $2, $1, u.vendor_id FROM UNNEST($57::uuid[], $58::uuid[]) AS u(id, vendor_id)),
             h AS (
               INSERT INTO order_status_history (tenant_id, order_id, from_status, to_status, actor_type)
               VALUES ($2, $1, NULL, $8, $59)),
             c AS (
               UPDATE carts SET status = 'ordered', customer_id = coalesce(customer_id, $5), email = $7 WHERE id = $6)
             SELECT o.placed_at, p.due_at, p.confirmed_at FROM o, p",
        )
        .bind(self.order)
        .bind(tx.tenant())
        .bind(self.store)
        .bind(placeholder)
        .bind(self.customer)
        .bind(self.cart.id)
        .bind(&self.form.email)
        .bind(self.status)
        .bind(self.currency)
        .bind(t.subtotal)
        .bind(t.discount)
        .bind(t.shipping_fee)
        .bind(t.cod_fee)
        .bind(t.total)
        .bind(self.input.payment_method)
        .bind(promotion.map(|p| p.id))
        .bind(promotion.map(|p| p.code.clone()))
        .bind(self.input.delivery_date)
        .bind(&self.input.delivery_slot)
        .bind(hash_token(&self.token))
        .bind(idem)
        .bind(self.cart.customer_id.is_some())
        // the lines
        .bind(&self.line_ids)
        .bind(lines.iter().map(|l| l.vendor_id).collect::<Vec<_>>())
        .bind(lines.iter().map(|l| l.variant_id).collect::<Vec<_>>())
        .bind(lines.iter().map(|l| l.product_title.as_str()).collect::<Vec<_>>())
        .bind(lines.iter().map(|l| l.variant_title.as_str()).collect::<Vec<_>>())
        .bind(lines.iter().map(|l| l.sku.as_str()).collect::<Vec<_>>())
        .bind(lines.iter().map(|l| l.fulfillment_type).collect::<Vec<_>>())
        .bind(lines.iter().map(|l| l.tax_class).collect::<Vec<_>>())
        .bind(lines.iter().map(|l| l.price_amount).collect::<Vec<_>>())
        .bind(lines.iter().map(|l| l.quantity).collect::<Vec<_>>())
        .bind(&t.line_discounts)
        .bind(lines.iter().map(|l| self.location_of(l)).collect::<Vec<_>>())
        .bind(&t.line_shipping_fees)
        .bind(&t.line_cod_fees)
        .bind(self.commission.iter().map(|c| c.0).collect::<Vec<_>>())
        .bind(self.commission.iter().map(|c| c.1).collect::<Vec<_>>())
        .bind(self.commission.iter().map(|c| c.2).collect::<Vec<_>>())
        // the tax per rate
        .bind(t.tax_lines.iter().map(|tl| tl.rate_bps as i32).collect::<Vec<_>>())
        .bind(t.tax_lines.iter().map(|tl| tl.taxable_amount).collect::<Vec<_>>())
        .bind(t.tax_lines.iter().map(|tl| tl.tax_amount).collect::<Vec<_>>())
        // the addresses
        .bind(addresses.iter().map(|a| a.kind).collect::<Vec<_>>())
        .bind(addresses.iter().map(|a| a.name.as_str()).collect::<Vec<_>>())
        .bind(addresses.iter().map(|a| a.name_kana.as_str()).collect::<Vec<_>>())
        .bind(addresses.iter().map(|a| a.postal_code.as_str()).collect::<Vec<_>>())
        .bind(addresses.iter().map(|a| a.prefecture.as_str()).collect::<Vec<_>>())
        .bind(addresses.iter().map(|a| a.prefecture_code).collect::<Vec<_>>())
        .bind(addresses.iter().map(|a| a.city.as_str()).collect::<Vec<_>>())
        .bind(addresses.iter().map(|a| a.line1.as_str()).collect::<Vec<_>>())
        .bind(addresses.iter().map(|a| a.line2.as_deref()).collect::<Vec<_>>())
        .bind(addresses.iter().map(|a| a.phone.as_deref()).collect::<Vec<_>>())
        // the payment
        .bind(self.payment)
        .bind(due)
        .bind(payment_status)
        .bind(self.free)
        // the shipments, the history
        .bind(self.shipments.iter().map(|(id, _)| *id).collect::<Vec<_>>())
        .bind(self.shipments.iter().map(|(_, vendor)| *vendor).collect::<Vec<_>>())
        .bind(Actor::Shopper.kind())
        .fetch_one(&mut **tx)
        .await
        .map_err(|e| match &e {
            // another cart's checkout took this key first (it waited here for that one's commit)
            sqlx::Error::Database(d) if d.constraint() == Some("orders_idempotency_key") => {
                CheckoutError::IdempotencyKeyReused
            }
            _ => e.into(),
        })?;
        Ok(written)
    }

    /// Where a line's units come from: its first hold's location (physical lines).
    fn location_of(&self, l: &CartLineRow) -> Option<LocationId> {
        if l.physical() { self.held.location_of.get(&l.id).copied() } else { None }
    }

    /// The order's addresses as written: the shipping one, and the billing one (the shipping
    /// address unless another was given).
    fn addresses(&self) -> Vec<Address> {
        let shipping = self.form.shipping_address.as_ref();
        [(AddressType::Shipping, shipping), (AddressType::Billing, self.form.billing_address.as_ref().or(shipping))]
            .into_iter()
            .filter_map(|(kind, a)| a.map(|a| Address { kind, ..a.clone() }))
            .collect()
    }

    /// The order as `read_model::view` would read it back, built from what was just written.
    fn as_placed(&self, written: Written, s: &CheckoutSettings) -> OrderView {
        let (c, t) = (self.currency, &self.totals);
        let mut items: Vec<OrderLine> = self
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| OrderLine {
                id: self.line_ids[i],
                variant_id: l.variant_id,
                vendor_id: l.vendor_id,
                product_title: l.product_title.clone(),
                variant_title: l.variant_title.clone(),
                sku: l.sku.clone(),
                fulfillment_type: l.fulfillment_type,
                tax_class: l.tax_class,
                unit_price: Some(Money::new(l.price_amount, c)),
                price_amount: l.price_amount,
                price_currency: c,
                quantity: l.quantity,
                discount_amount: t.line_discounts[i],
                discount: Some(Money::new(t.line_discounts[i], c)),
                line_total: Some(Money::new(l.price_amount * l.quantity as i64 - t.line_discounts[i], c)),
                shipping_fee_share: t.line_shipping_fees[i],
                cod_fee_share: t.line_cod_fees[i],
                commission_rate_bps: self.commission[i].0,
                commission_base_amount: self.commission[i].1,
                commission_amount: self.commission[i].2,
                canceled_at: None,
                commission: None,
            })
            .collect();
        items.sort_by_key(|l| l.id);
        let mut tax_lines = t.tax_lines.clone();
        tax_lines.sort_by_key(|tl| std::cmp::Reverse(tl.rate_bps));
        let method = self.input.payment_method;
        let pending = !self.free;
        let addresses = self.addresses();
        let address = |kind| addresses.iter().find(|a| a.kind == kind).cloned();
        let mut shipments: Vec<Shipment> = self
            .shipments
            .iter()
            .map(|(id, vendor)| Shipment {
                id: *id,
                vendor_id: *vendor,
                status: ShipmentStatus::Pending,
                carrier: None,
                tracking_no: None,
                shipped_at: None,
                delivered_at: None,
            })
            .collect();
        shipments.sort_by_key(|s| s.id);
        OrderView {
            id: self.order,
            store_id: self.store,
            number: 0,
            status: self.status,
            email: self.form.email.clone(),
            customer_id: Some(self.customer),
            currency: c,
            items,
            subtotal: Money::new(t.subtotal, c),
            discount: Money::new(t.discount, c),
            promotion_code: self.promotion.as_ref().map(|p| p.code.clone()),
            shipping_fee: Money::new(t.shipping_fee, c),
            cod_fee: Money::new(t.cod_fee, c),
            total: Money::new(t.total, c),
            tax_lines,
            payment: Payment {
                id: self.payment,
                method,
                status: if pending { PaymentStatus::Pending } else { PaymentStatus::Confirmed },
                amount: Money::new(t.total, c),
                received: (!pending).then(|| Money::new(0, c)),
                amount_mismatch: false,
                due_at: written.due_at,
                confirmed_at: written.confirmed_at,
                refund_owed: Money::new(0, c),
                refunded_at: None,
                bank_account: (method == PaymentMethod::BankTransfer && pending).then(|| s.bank_account.clone()),
            },
            shipments,
            shipping_address: address(AddressType::Shipping),
            billing_address: address(AddressType::Billing),
            delivery_date: self.input.delivery_date,
            delivery_slot: self.input.delivery_slot.clone(),
            placed_at: written.placed_at,
            canceled_at: None,
            cancel_reason: None,
            history: None,
            vendor_id: None,
            contact_masked: false,
        }
    }

    /// The outbox events: `order.placed` (its number is the statement's that draws it), and
    /// `payment.confirmed` for a free order.
    fn events(&self, placed: &OrderView) -> events::Within {
        let method = self.input.payment_method;
        let event = OrderPlaced {
            order_id: self.order,
            number: placed.number,
            total: placed.total,
            payment_method: method,
            digital_only: !self.shipped,
            customer_id: Some(self.customer),
        };
        let mut events = vec![(events::NewEvent::of(&event).in_store(self.store), true)];
        if self.free {
            let event = PaymentConfirmed::new(self.order, self.payment, method, placed.total, placed.total);
            events.push((events::NewEvent::of(&event).in_store(self.store), false));
        }
        events::Within::new(events)
    }
}

/// The holds become a sale: stock and reserved both go down. A hold that lapsed and was
/// released since it was read refuses the checkout (checking out again holds anew).
async fn sell_the_held_stock(
    tx: &mut Tx,
    store: StoreId,
    holds: &[ReservationId],
    order: OrderId,
) -> Result<(), CheckoutError> {
    let consumed = reservation::consume(tx, store, holds, order).await?;
    if consumed.len() != holds.len() {
        return Err(CheckoutError::HoldLapsed);
    }
    Ok(())
}

/// The checkout's last statement. It gives the order the store's next number: sequential per
/// store, without gaps (a failed checkout rolls its number back); the counter row is locked
/// from here to the commit, so nothing else follows it. The same statement records the events
/// and stores the answer under the Idempotency-Key (`request` is the scope, key and request
/// hash), both with that number. Answers the number.
async fn number_announce_and_store(
    tx: &mut Tx,
    store: StoreId,
    order: OrderId,
    events: &events::Within,
    request: (&str, &str, &[u8]),
    body: &serde_json::Value,
) -> Result<i64, sqlx::Error> {
    let (scope, idem, hash) = request;
    let sql = format!(
        "WITH n AS (UPDATE store_order_counters SET last_number = last_number + 1 WHERE store_id = $1 RETURNING last_number),
         o AS (UPDATE orders SET order_number = n.last_number FROM n WHERE orders.id = $2 RETURNING orders.order_number),
         {},
         {}
         SELECT order_number FROM o",
        events.ctes(3, 4, "(SELECT jsonb_build_object('number', order_number) FROM o)"),
        idempotency::save_cte(3, 12, "jsonb_set($17, '{order,number}', to_jsonb((SELECT order_number FROM o)))"),
    );
    let q = sqlx::query_as::<_, (i64,)>(&sql).bind(store).bind(order).bind(tx.tenant());
    let (number,) = events
        .bind(q)
        .bind(store)
        .bind(scope)
        .bind(idem)
        .bind(hash)
        .bind(201_i32)
        .bind(body)
        .fetch_one(&mut **tx)
        .await?;
    Ok(number)
}

fn new_token() -> String {
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("ot_{}", URL_SAFE_NO_PAD.encode(bytes))
}
