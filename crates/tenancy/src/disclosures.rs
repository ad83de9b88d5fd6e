//! Commercial disclosures (特定商取引法に基づく表記): what the Act on Specified Commercial
//! Transactions (art. 11, and art. 23 of its ordinance) requires a mail-order shop to show
//! before a shopper orders: who sells (販売業者, 運営統括責任者, 所在地, 電話番号, メールアドレス),
//! what it costs (販売価格, 商品代金以外の必要料金), how and when to pay (支払方法, 支払時期),
//! when the goods come (引渡時期), returns and cancellation (返品・交換・キャンセル), and, when
//! they exist, the offer's period (申込みの有効期限), terms on defects (契約不適合責任) and
//! special conditions (販売数量の制限等).
//!
//! A store keeps one set; in a mall each vendor, the seller of its goods, keeps its own. A set may
//! be saved incomplete as a draft; [`update`] refuses to publish one that misses a required item,
//! naming each, and only a published set reaches the storefront ([`published`]) and the
//! checkout's final confirmation ([`seller_terms`]).

use chrono::{DateTime, Utc};
use db::Tx;
use kernel::access::{Acting, Permission};
use kernel::{StoreId, Validator, VendorId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::TenancyError;

/// The items themselves, as the shop writes them (plain text, line breaks kept).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
pub struct Disclosures {
    /// 販売業者: the seller's legal name (a company's registered name, an individual's own).
    #[schema(example = "株式会社てんぽ茶舗")]
    pub seller_name: Option<String>,
    /// 運営統括責任者: the representative or the person responsible for the shop.
    #[schema(example = "山田 太郎")]
    pub responsible_person: Option<String>,
    /// 所在地: the address, in full.
    #[schema(example = "〒150-0001 東京都渋谷区神宮前1-2-3")]
    pub address: Option<String>,
    /// 電話番号: a number that is answered.
    #[schema(example = "03-1234-5678")]
    pub phone: Option<String>,
    /// メールアドレス.
    #[schema(example = "shop@example.jp")]
    pub email: Option<String>,
    /// 販売価格: where prices are shown, and that they include tax.
    #[schema(example = "各商品ページに税込価格で表示しています。")]
    pub price_note: Option<String>,
    /// 商品代金以外の必要料金: shipping, the COD fee, transfer fees, with amounts.
    #[schema(example = "送料 全国一律800円、代金引換手数料 330円〜、振込手数料はお客様負担")]
    pub extra_charges: Option<String>,
    /// 支払方法.
    #[schema(example = "銀行振込、代金引換")]
    pub payment_methods: Option<String>,
    /// 支払時期 (per payment method).
    #[schema(example = "銀行振込: ご注文から7日以内、代金引換: 商品お受け取り時")]
    pub payment_timing: Option<String>,
    /// 引渡時期: when the goods are sent or delivered.
    #[schema(example = "ご入金確認後（代金引換はご注文後）3営業日以内に発送します。")]
    pub delivery_timing: Option<String>,
    /// 返品・交換・キャンセル: whether returns are taken, within what period, who pays.
    #[schema(example = "商品到着後8日以内にご連絡ください。お客様都合の返品送料はお客様負担です。")]
    pub returns_policy: Option<String>,
    /// 申込みの有効期限, when the offer has one.
    pub offer_validity: Option<String>,
    /// 契約不適合責任: the seller's terms on defective goods, when it has any.
    pub defect_liability: Option<String>,
    /// 販売数量の制限等、特別な販売条件, when there are any.
    pub special_conditions: Option<String>,
}

/// The items a set cannot be published without, with their names in the law's words.
pub const REQUIRED: [(&str, &str); 11] = [
    ("seller_name", "販売業者"),
    ("responsible_person", "運営統括責任者"),
    ("address", "所在地"),
    ("phone", "電話番号"),
    ("email", "メールアドレス"),
    ("price_note", "販売価格"),
    ("extra_charges", "商品代金以外の必要料金"),
    ("payment_methods", "支払方法"),
    ("payment_timing", "支払時期"),
    ("delivery_timing", "引渡時期"),
    ("returns_policy", "返品・交換・キャンセル"),
];

/// The longest a name, a phone number or an email may be; other items take [`MAX_TEXT`].
pub const MAX_SHORT: usize = 200;
/// The longest a descriptive item (price note, charges, terms) may be.
pub const MAX_TEXT: usize = 2000;

impl Disclosures {
    fn item(&self, field: &str) -> Option<&str> {
        match field {
            "seller_name" => self.seller_name.as_deref(),
            "responsible_person" => self.responsible_person.as_deref(),
            "address" => self.address.as_deref(),
            "phone" => self.phone.as_deref(),
            "email" => self.email.as_deref(),
            "price_note" => self.price_note.as_deref(),
            "extra_charges" => self.extra_charges.as_deref(),
            "payment_methods" => self.payment_methods.as_deref(),
            "payment_timing" => self.payment_timing.as_deref(),
            "delivery_timing" => self.delivery_timing.as_deref(),
            "returns_policy" => self.returns_policy.as_deref(),
            _ => None,
        }
    }

    /// The required items this set lacks (empty: it may be published).
    pub fn missing(&self) -> Vec<&'static str> {
        REQUIRED.iter().filter(|(f, _)| self.item(f).is_none_or(|t| t.trim().is_empty())).map(|(f, _)| *f).collect()
    }

    /// Reads what staff typed: every item trimmed (empty is absent), bounded, the phone number
    /// and the email checked for their shape (kept as typed: they are shown, not dialled).
    pub fn parse(self, v: &mut Validator) -> Disclosures {
        let short = |v: &mut Validator, f: &str, t: Option<String>| v.opt_text(&at(f), t.as_deref(), MAX_SHORT);
        let long = |v: &mut Validator, f: &str, t: Option<String>| v.opt_text(&at(f), t.as_deref(), MAX_TEXT);
        let phone = short(v, "phone", self.phone);
        if let Some(p) = &phone {
            v.check(&at("phone"), kernel::jp::normalize_phone(p));
        }
        let email = short(v, "email", self.email);
        if let Some(e) = &email {
            crate::staff::parse_email(v, &at("email"), e);
        }
        Disclosures {
            seller_name: short(v, "seller_name", self.seller_name),
            responsible_person: short(v, "responsible_person", self.responsible_person),
            address: long(v, "address", self.address),
            phone,
            email,
            price_note: long(v, "price_note", self.price_note),
            extra_charges: long(v, "extra_charges", self.extra_charges),
            payment_methods: long(v, "payment_methods", self.payment_methods),
            payment_timing: long(v, "payment_timing", self.payment_timing),
            delivery_timing: long(v, "delivery_timing", self.delivery_timing),
            returns_policy: long(v, "returns_policy", self.returns_policy),
            offer_validity: long(v, "offer_validity", self.offer_validity),
            defect_liability: long(v, "defect_liability", self.defect_liability),
            special_conditions: long(v, "special_conditions", self.special_conditions),
        }
    }
}

/// An item's field in the request body (`disclosures.seller_name`), where its error is named.
pub fn at(field: &str) -> String {
    format!("disclosures.{field}")
}

/// A store's (or a vendor's) disclosures as staff see them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LegalDisclosures {
    /// The vendor whose they are, in a mall; absent for the store's own.
    pub vendor_id: Option<VendorId>,
    pub disclosures: Disclosures,
    /// Shown on the storefront. Only a complete set can be.
    pub published: bool,
    /// The required items still empty (they block publishing).
    pub missing: Vec<String>,
    /// When they were last saved; absent while nothing was.
    pub updated_at: Option<DateTime<Utc>>,
}

/// A new version of the disclosures: it replaces the whole set.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDisclosures {
    pub disclosures: Disclosures,
    /// Show them on the storefront: refused (422, each missing item named) unless every
    /// required item is filled. `false` keeps them as a draft and takes them off the storefront.
    #[serde(default)]
    pub published: bool,
}

/// The published disclosures of a store (and, in a mall, of its vendors that published theirs),
/// as the storefront shows them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublishedDisclosures {
    pub disclosures: Disclosures,
    pub updated_at: DateTime<Utc>,
    /// In a mall, each vendor's own disclosures (for the goods it sells), by name.
    pub vendors: Vec<VendorDisclosures>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VendorDisclosures {
    pub vendor_id: VendorId,
    pub vendor_name: String,
    pub disclosures: Disclosures,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    #[sqlx(flatten)]
    disclosures: Disclosures,
    published: bool,
    updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "seller_name, responsible_person, address, phone, email, price_note, extra_charges,
                       payment_methods, payment_timing, delivery_timing, returns_policy, offer_validity,
                       defect_liability, special_conditions, published, updated_at";

async fn load(tx: &mut Tx, store: StoreId, vendor: Option<VendorId>) -> Result<Option<Row>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM legal_disclosures WHERE store_id = $1 AND vendor_id IS NOT DISTINCT FROM $2"
    ))
    .bind(store)
    .bind(vendor)
    .fetch_optional(&mut **tx)
    .await
}

fn shown(vendor: Option<VendorId>, row: Option<Row>) -> LegalDisclosures {
    let (disclosures, published, updated_at) = match row {
        Some(r) => (r.disclosures, r.published, Some(r.updated_at)),
        None => (Disclosures::default(), false, None),
    };
    let missing = disclosures.missing().into_iter().map(str::to_string).collect();
    LegalDisclosures { vendor_id: vendor, disclosures, published, missing, updated_at }
}

/// A vendor's own disclosures are a mall's: the house vendor of a single-brand tenant is the
/// store itself, and another vendor is out of a vendor staff member's reach.
async fn check_vendor(tx: &mut Tx, by: Acting<'_>, vendor: Option<VendorId>) -> Result<(), TenancyError> {
    let Some(id) = vendor else { return Ok(()) };
    if !by.sees_vendor(id) {
        return Err(TenancyError::VendorNotFound);
    }
    let v = crate::vendors::get_vendor(tx, id).await?;
    if v.is_house {
        return Err(TenancyError::NotAMall);
    }
    Ok(())
}

/// The store's disclosures (`vendor` None) or a mall vendor's, drafts included. A vendor's
/// staff read their own vendor's.
pub async fn get(
    tx: &mut Tx,
    store: StoreId,
    vendor: Option<VendorId>,
    by: Acting<'_>,
) -> Result<LegalDisclosures, TenancyError> {
    match vendor {
        None => by.require(Permission::SettingsRead)?,
        Some(_) => by.require(Permission::CatalogRead)?,
    }
    check_vendor(tx, by, vendor).await?;
    Ok(shown(vendor, load(tx, store, vendor).await?))
}

/// Replaces the store's (or a mall vendor's) disclosures. Publishing needs every required item:
/// each missing one is a field error (`disclosures.<item>`, `required`) and nothing is saved.
pub async fn update(
    tx: &mut Tx,
    store: StoreId,
    vendor: Option<VendorId>,
    by: Acting<'_>,
    input: UpdateDisclosures,
) -> Result<LegalDisclosures, TenancyError> {
    by.require(Permission::StoreManage)?;
    check_vendor(tx, by, vendor).await?;
    let mut v = Validator::new();
    let d = input.disclosures.parse(&mut v);
    if input.published {
        for (field, name) in REQUIRED {
            if d.item(field).is_none() && !v.has(&at(field)) {
                v.push(&at(field), "required", format!("{name} is required to publish the disclosures"));
            }
        }
    }
    v.into_result()?;
    let row: Row = sqlx::query_as(&format!(
        "INSERT INTO legal_disclosures (tenant_id, store_id, vendor_id, seller_name, responsible_person, address, phone, email,
                price_note, extra_charges, payment_methods, payment_timing, delivery_timing, returns_policy,
                offer_validity, defect_liability, special_conditions, published)
         SELECT s.tenant_id, s.id, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17 FROM stores s WHERE s.id = $1
         ON CONFLICT (store_id, vendor_id) DO UPDATE SET
           seller_name = EXCLUDED.seller_name, responsible_person = EXCLUDED.responsible_person,
           address = EXCLUDED.address, phone = EXCLUDED.phone, email = EXCLUDED.email,
           price_note = EXCLUDED.price_note, extra_charges = EXCLUDED.extra_charges,
           payment_methods = EXCLUDED.payment_methods, payment_timing = EXCLUDED.payment_timing,
           delivery_timing = EXCLUDED.delivery_timing, returns_policy = EXCLUDED.returns_policy,
           offer_validity = EXCLUDED.offer_validity, defect_liability = EXCLUDED.defect_liability,
           special_conditions = EXCLUDED.special_conditions, published = EXCLUDED.published, updated_at = now()
         RETURNING {COLUMNS}"
    ))
    .bind(store)
    .bind(vendor)
    .bind(&d.seller_name)
    .bind(&d.responsible_person)
    .bind(&d.address)
    .bind(&d.phone)
    .bind(&d.email)
    .bind(&d.price_note)
    .bind(&d.extra_charges)
    .bind(&d.payment_methods)
    .bind(&d.payment_timing)
    .bind(&d.delivery_timing)
    .bind(&d.returns_policy)
    .bind(&d.offer_validity)
    .bind(&d.defect_liability)
    .bind(&d.special_conditions)
    .bind(input.published)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(TenancyError::StoreNotFound)?;
    Ok(shown(vendor, Some(row)))
}

/// What the storefront shows: the store's published disclosures and, in a mall, those its
/// vendors published; 404 `legal_disclosures_not_published` until the store published its own.
pub async fn published(tx: &mut Tx, store: StoreId) -> Result<PublishedDisclosures, TenancyError> {
    let own = load(tx, store, None).await?.filter(|r| r.published).ok_or(TenancyError::DisclosuresNotPublished)?;
    let vendors: Vec<(VendorId, String, Row)> = vendor_rows(tx, store, None).await?;
    Ok(PublishedDisclosures {
        disclosures: own.disclosures,
        updated_at: own.updated_at,
        vendors: vendors
            .into_iter()
            .map(|(vendor_id, vendor_name, r)| VendorDisclosures {
                vendor_id,
                vendor_name,
                disclosures: r.disclosures,
                updated_at: r.updated_at,
            })
            .collect(),
    })
}

/// The published sets of a store's vendors (of `only` when given), by vendor name.
async fn vendor_rows(
    tx: &mut Tx,
    store: StoreId,
    only: Option<&[VendorId]>,
) -> Result<Vec<(VendorId, String, Row)>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct VRow {
        vendor_id: VendorId,
        vendor_name: String,
        #[sqlx(flatten)]
        row: Row,
    }
    let rows: Vec<VRow> = sqlx::query_as(&format!(
        "SELECT d.vendor_id, v.name AS vendor_name, {} FROM legal_disclosures d JOIN vendors v ON v.id = d.vendor_id
          WHERE d.store_id = $1 AND d.published AND v.status = 'active' AND ($2::uuid[] IS NULL OR d.vendor_id = ANY($2))
          ORDER BY v.name, v.id",
        COLUMNS.split(',').map(|c| format!("d.{}", c.trim())).collect::<Vec<_>>().join(", ")
    ))
    .bind(store)
    .bind(only)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(|r| (r.vendor_id, r.vendor_name, r.row)).collect())
}

/// The terms a shopper confirms before ordering from one seller (the final confirmation screen
/// the 2022 amendment requires): delivery timing, returns and cancellation, the offer's period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SellerTerms {
    /// In a mall, the vendor whose goods these terms cover; absent for the store's own.
    pub vendor_id: Option<VendorId>,
    pub seller_name: String,
    /// 引渡時期.
    pub delivery_timing: String,
    /// 支払時期.
    pub payment_timing: String,
    /// 返品・交換・キャンセル.
    pub returns_policy: String,
    /// 申込みの有効期限, when the offer has one.
    pub offer_validity: Option<String>,
}

fn terms(vendor_id: Option<VendorId>, d: Disclosures) -> SellerTerms {
    SellerTerms {
        vendor_id,
        seller_name: d.seller_name.unwrap_or_default(),
        delivery_timing: d.delivery_timing.unwrap_or_default(),
        payment_timing: d.payment_timing.unwrap_or_default(),
        returns_policy: d.returns_policy.unwrap_or_default(),
        offer_validity: d.offer_validity,
    }
}

/// The published terms of the sellers of some goods: each mall vendor's own, and the store's
/// for the store's goods and for vendors that have published none. Empty while the store has
/// published nothing.
pub async fn seller_terms(tx: &mut Tx, store: StoreId, vendors: &[VendorId]) -> Result<Vec<SellerTerms>, sqlx::Error> {
    let own = load(tx, store, None).await?.filter(|r| r.published);
    let theirs = if vendors.is_empty() { Vec::new() } else { vendor_rows(tx, store, Some(vendors)).await? };
    let mut out: Vec<SellerTerms> = Vec::new();
    let mut store_needed = vendors.is_empty();
    for id in vendors {
        match theirs.iter().find(|(v, _, _)| v == id) {
            Some((v, _, r)) => out.push(terms(Some(*v), r.disclosures.clone())),
            None => store_needed = true,
        }
    }
    if store_needed && let Some(r) = own {
        out.insert(0, terms(None, r.disclosures));
    }
    Ok(out)
}
