//! Carrier label CSVs: shipments out to Yamato B2 Cloud (42 columns, 送り状発行データ) and Sagawa
//! e-飛伝 (74 columns), and the tracking numbers back in.
//!
//! The export writes text; `kernel::csv_file` makes it Shift_JIS (both programs read only that)
//! and the lines end in CRLF. A COD order's label is 2 (コレクト) on B2 with the amount collected,
//! the COD fee included, and its consumption tax; a prepaid one is 0 (発払い). The slot's time code
//! is the store's `carrier_code` for the order's slot (`crate::delivery`). Names and addresses
//! are made full-width and split over the carrier's fields (B2: address 32 + building 16, name
//! 16; e-飛伝: three address fields of 16, two name fields of 16); an address that does not fit
//! refuses the export naming the order, rather than print a label that cuts it.
//!
//! Each row's お客様管理番号 is the shipment's reference: the order number, with `-2`, `-3` for
//! an order's later shipments (a mall order has one per vendor). The import reads that column
//! and the tracking number from the CSV the carrier's program writes back and ships exactly
//! those shipments through [`crate::fulfillment::ship`], so events and the shipped mail happen
//! as for a manual ship; every row that does not match is reported with its line and reason.

use chrono::{DateTime, NaiveDate, Utc};
use db::Tx;
use kernel::access::Acting;
use kernel::{OrderId, ShipmentId, StoreId, ValidationErrors};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::CheckoutError;
use crate::fulfillment::{self, ShipShipment};
use crate::order::ShipmentStatus;

/// The carrier program a CSV is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CarrierFormat {
    /// ヤマト運輸 B2クラウド.
    YamatoB2,
    /// 佐川急便 e-飛伝.
    SagawaEhiden,
}

impl CarrierFormat {
    /// The carrier's name as the shipment records it.
    pub fn carrier(self) -> &'static str {
        match self {
            CarrierFormat::YamatoB2 => "ヤマト運輸",
            CarrierFormat::SagawaEhiden => "佐川急便",
        }
    }

    pub fn filename(self) -> &'static str {
        match self {
            CarrierFormat::YamatoB2 => "yamato-b2.csv",
            CarrierFormat::SagawaEhiden => "sagawa-ehiden.csv",
        }
    }

    /// The columns of the tracking CSV the carrier's program writes back: the reference we
    /// wrote, the tracking number.
    fn tracking_columns(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            CarrierFormat::YamatoB2 => (&["お客様管理番号"], &["伝票番号", "送り状番号"]),
            CarrierFormat::SagawaEhiden => {
                (&["お客様管理番号"], &["お問い合せ送り状No.", "お問合せ送り状No.", "お問い合せ送り状No", "送り状番号"])
            }
        }
    }
}

/// B2 Cloud's 42 columns, in order.
pub const YAMATO_B2_COLUMNS: [&str; 42] = [
    "お客様管理番号",
    "送り状種類",
    "クール区分",
    "伝票番号",
    "出荷予定日",
    "お届け予定日",
    "配達時間帯",
    "お届け先コード",
    "お届け先電話番号",
    "お届け先電話番号枝番",
    "お届け先郵便番号",
    "お届け先住所",
    "お届け先アパートマンション名",
    "お届け先会社・部門１",
    "お届け先会社・部門２",
    "お届け先名",
    "お届け先名(ｶﾅ)",
    "敬称",
    "ご依頼主コード",
    "ご依頼主電話番号",
    "ご依頼主電話番号枝番",
    "ご依頼主郵便番号",
    "ご依頼主住所",
    "ご依頼主アパートマンション",
    "ご依頼主名",
    "ご依頼主名(ｶﾅ)",
    "品名コード１",
    "品名１",
    "品名コード２",
    "品名２",
    "荷扱い１",
    "荷扱い２",
    "記事",
    "ｺﾚｸﾄ代金引換額（税込)",
    "内消費税額等",
    "止置き",
    "営業所コード",
    "発行枚数",
    "個数口表示フラグ",
    "請求先顧客コード",
    "請求先分類コード",
    "運賃管理番号",
];

/// e-飛伝's 74 columns, in order.
pub const SAGAWA_EHIDEN_COLUMNS: [&str; 74] = [
    "お届け先コード取得区分",
    "お届け先コード",
    "お届け先電話番号",
    "お届け先郵便番号",
    "お届け先住所１",
    "お届け先住所２",
    "お届け先住所３",
    "お届け先名称１",
    "お届け先名称２",
    "お客様管理番号",
    "お客様コード",
    "部署ご担当者コード取得区分",
    "部署ご担当者コード",
    "部署ご担当者名称",
    "荷送人電話番号",
    "ご依頼主コード取得区分",
    "ご依頼主コード",
    "ご依頼主電話番号",
    "ご依頼主郵便番号",
    "ご依頼主住所１",
    "ご依頼主住所２",
    "ご依頼主名称１",
    "ご依頼主名称２",
    "荷姿",
    "品名１",
    "品名２",
    "品名３",
    "品名４",
    "品名５",
    "荷札荷姿",
    "荷札品名１",
    "荷札品名２",
    "荷札品名３",
    "荷札品名４",
    "荷札品名５",
    "荷札品名６",
    "荷札品名７",
    "荷札品名８",
    "荷札品名９",
    "荷札品名１０",
    "荷札品名１１",
    "出荷個数",
    "スピード指定",
    "クール便指定",
    "配達日",
    "配達指定時間帯",
    "配達指定時間（時分）",
    "代引金額",
    "消費税",
    "決済種別",
    "保険金額",
    "指定シール１",
    "指定シール２",
    "指定シール３",
    "営業所受取",
    "ＳＲＣ区分",
    "営業所受取営業所コード",
    "元着区分",
    "メールアドレス",
    "ご不在時連絡先",
    "出荷日",
    "お問い合せ送り状No.",
    "出荷場印字区分",
    "集約解除指定",
    "編集０１",
    "編集０２",
    "編集０３",
    "編集０４",
    "編集０５",
    "編集０６",
    "編集０７",
    "編集０８",
    "編集０９",
    "編集１０",
];

/// Half-width to full-width: ASCII letters, digits and signs, the space, half-width katakana
/// (with their voicing marks joined). Carriers print names and addresses in full-width.
pub fn to_full_width(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let mut out = String::with_capacity(s.len() * 3);
    let mut kana = String::new();
    let flush = |kana: &mut String, out: &mut String| {
        out.extend(kana.nfkc());
        kana.clear();
    };
    for c in s.chars() {
        match c {
            '\u{FF61}'..='\u{FF9F}' => kana.push(c),
            _ => {
                flush(&mut kana, &mut out);
                match c {
                    ' ' => out.push('\u{3000}'),
                    '!'..='~' => out.push(char::from_u32(c as u32 + 0xFEE0).unwrap_or(c)),
                    _ => out.push(c),
                }
            }
        }
    }
    flush(&mut kana, &mut out);
    out
}

/// Splits full-width text over fields of `width` characters each, at most `fields` of them;
/// `None` if it does not fit.
pub fn split_fields(s: &str, width: usize, fields: usize) -> Option<Vec<String>> {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() > width * fields {
        return None;
    }
    let mut out: Vec<String> = chars.chunks(width).map(|c| c.iter().collect()).collect();
    out.resize(fields, String::new());
    Some(out)
}

/// A Japanese phone number as labels print it: `+81 90...` in E.164 becomes `090...`.
fn domestic_phone(e164: Option<&str>) -> String {
    match e164 {
        Some(p) if p.starts_with("+81") => format!("0{}", &p[3..]),
        Some(p) => p.to_string(),
        None => String::new(),
    }
}

/// Which shipments to export.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CarrierExport {
    #[param(inline)]
    pub format: CarrierFormat,
    /// The shipments' status; `pending` (the default: waiting to leave, of orders that may
    /// ship: paid, or cash on delivery) or `shipped` (labels printed again).
    pub status: Option<ShipmentStatus>,
}

#[derive(sqlx::FromRow)]
struct Row {
    order_number: i64,
    /// 1 for an order's first shipment, 2 for its second...
    nth: i64,
    payment_method: crate::order::PaymentMethod,
    total_amount: i64,
    tax_amount: i64,
    delivery_date: Option<NaiveDate>,
    carrier_code: Option<String>,
    name: String,
    postal_code: String,
    prefecture: String,
    city: String,
    line1: String,
    line2: Option<String>,
    phone: Option<String>,
    item: Option<String>,
    items: i64,
    store_name: String,
}

fn reference(order_number: i64, nth: i64) -> String {
    if nth <= 1 { order_number.to_string() } else { format!("{order_number}-{nth}") }
}

/// The store's shipments in a carrier's layout, as text (CRLF lines); a vendor's staff get only
/// their vendor's shipments. `orders` narrows them to those orders' shipments (the console's
/// selected or filtered orders); `None` is every order.
pub async fn export(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    q: &CarrierExport,
    orders: Option<&[OrderId]>,
    now: DateTime<Utc>,
) -> Result<String, CheckoutError> {
    by.require(kernel::access::Permission::OrdersRead)?;
    let status = q.status.unwrap_or(ShipmentStatus::Pending);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT * FROM (
            SELECT s.order_id, o.order_number, row_number() OVER (PARTITION BY s.order_id ORDER BY s.id) AS nth, s.vendor_id, s.status,
                   o.status AS order_status, o.payment_method, o.total_amount,
                   coalesce((SELECT sum(t.tax_amount) FROM order_tax_lines t WHERE t.order_id = o.id), 0)::bigint AS tax_amount,
                   o.delivery_date,
                   (SELECT d.carrier_code FROM store_delivery_slots d WHERE d.store_id = o.store_id AND d.code = o.delivery_slot) AS carrier_code,
                   a.name, a.postal_code, a.prefecture, a.city, a.line1, a.line2, a.phone,
                   (SELECT i.product_title FROM order_items i WHERE i.order_id = o.id AND i.vendor_id = s.vendor_id ORDER BY i.id LIMIT 1) AS item,
                   (SELECT count(*) FROM order_items i WHERE i.order_id = o.id AND i.vendor_id = s.vendor_id) AS items,
                   st.name AS store_name
              FROM shipments s JOIN orders o ON o.id = s.order_id JOIN stores st ON st.id = o.store_id
              JOIN order_addresses a ON a.order_id = o.id AND a.type = 'shipping'
             WHERE o.store_id = $1) r
          WHERE r.status = $2 AND ($3::uuid IS NULL OR r.vendor_id = $3)
            AND r.order_status NOT IN ('canceled', 'pending_payment')
            AND ($4::uuid[] IS NULL OR r.order_id = ANY($4))
          ORDER BY r.order_number, r.nth",
    )
    .bind(store)
    .bind(status)
    .bind(by.vendor())
    .bind(orders)
    .fetch_all(&mut **tx)
    .await?;
    let ships_on = now.with_timezone(&kernel::jp::jst()).date_naive();
    let mut out = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    let header: &[&str] = match q.format {
        CarrierFormat::YamatoB2 => &YAMATO_B2_COLUMNS,
        CarrierFormat::SagawaEhiden => &SAGAWA_EHIDEN_COLUMNS,
    };
    out.write_record(header).map_err(internal)?;
    let mut v = kernel::Validator::new();
    for r in &rows {
        let reference = reference(r.order_number, r.nth);
        let field = format!("orders[{reference}].shipping_address");
        let cod = r.payment_method == crate::order::PaymentMethod::Cod;
        let name = to_full_width(&r.name);
        let street = to_full_width(&format!("{}{}{}", r.prefecture, r.city, r.line1));
        let building = to_full_width(r.line2.as_deref().unwrap_or(""));
        let item = to_full_width(&match (&r.item, r.items) {
            (Some(t), 1) => t.clone(),
            (Some(t), _) => format!("{t} 他"),
            (None, _) => "商品".into(),
        });
        let item: String = item.chars().take(25).collect();
        let phone = domestic_phone(r.phone.as_deref());
        let date = r.delivery_date;
        let record: Vec<String> = match q.format {
            CarrierFormat::YamatoB2 => {
                let Some(addr) = split_fields(&street, 32, 1) else {
                    v.push(
                        &field,
                        "too_long",
                        format!("order {reference}: the address is over B2's 32 characters; shorten it"),
                    );
                    continue;
                };
                if building.chars().count() > 16 || name.chars().count() > 16 {
                    v.push(
                        &field,
                        "too_long",
                        format!("order {reference}: the building or the name is over 16 characters"),
                    );
                    continue;
                }
                let mut c = vec![String::new(); 42];
                c[0] = reference;
                c[1] = if cod { "2" } else { "0" }.into();
                c[2] = "0".into();
                c[4] = ships_on.format("%Y/%m/%d").to_string();
                c[5] = date.map(|d| d.format("%Y/%m/%d").to_string()).unwrap_or_default();
                c[6] = r.carrier_code.clone().unwrap_or_default();
                c[8] = phone;
                c[10] = r.postal_code.clone();
                c[11] = addr[0].clone();
                c[12] = building;
                c[15] = name;
                c[17] = "様".into();
                c[24] = to_full_width(&r.store_name).chars().take(16).collect();
                c[27] = item;
                if cod {
                    c[33] = r.total_amount.to_string();
                    c[34] = r.tax_amount.to_string();
                }
                c
            }
            CarrierFormat::SagawaEhiden => {
                let full = format!("{street}{building}");
                let Some(addr) = split_fields(&full, 16, 3) else {
                    v.push(
                        &field,
                        "too_long",
                        format!("order {reference}: the address is over e-飛伝's 3 × 16 characters"),
                    );
                    continue;
                };
                let Some(names) = split_fields(&name, 16, 2) else {
                    v.push(
                        &field,
                        "too_long",
                        format!("order {reference}: the name is over e-飛伝's 2 × 16 characters"),
                    );
                    continue;
                };
                let mut c = vec![String::new(); 74];
                c[0] = "0".into();
                c[2] = phone;
                c[3] = r.postal_code.clone();
                c[4..7].clone_from_slice(&addr);
                c[7..9].clone_from_slice(&names);
                c[9] = reference;
                c[21] = to_full_width(&r.store_name).chars().take(16).collect();
                c[24] = item;
                c[41] = "1".into();
                c[44] = date.map(|d| d.format("%Y%m%d").to_string()).unwrap_or_default();
                c[45] = r.carrier_code.clone().unwrap_or_default();
                if cod {
                    c[47] = r.total_amount.to_string();
                    c[48] = r.tax_amount.to_string();
                }
                c[60] = ships_on.format("%Y%m%d").to_string();
                c
            }
        };
        out.write_record(&record).map_err(internal)?;
    }
    v.into_result()?;
    let bytes = out.into_inner().map_err(|e| internal(e.into_error()))?;
    Ok(String::from_utf8(bytes).unwrap_or_default())
}

fn internal(e: impl std::fmt::Display) -> CheckoutError {
    CheckoutError::Db(sqlx::Error::Protocol(format!("writing the carrier CSV: {e}")))
}

/// A row of a tracking file that shipped nothing, and why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UnmatchedRow {
    /// The file's line (the header is line 1).
    pub line: u64,
    pub reference: String,
    pub tracking_no: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TrackingImport {
    /// The shipments marked shipped: reference and tracking number.
    pub shipped: Vec<ShippedRow>,
    pub unmatched: Vec<UnmatchedRow>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShippedRow {
    pub line: u64,
    pub reference: String,
    pub order_id: OrderId,
    pub shipment_id: ShipmentId,
    pub tracking_no: String,
}

fn bad_file(message: impl Into<String>) -> CheckoutError {
    CheckoutError::Validation(ValidationErrors::one("file", "invalid", message))
}

/// Reads a carrier's tracking CSV (Shift_JIS or UTF-8) and ships each shipment it names.
pub async fn import_tracking(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    format: CarrierFormat,
    bytes: &[u8],
) -> Result<TrackingImport, CheckoutError> {
    by.require(kernel::access::Permission::OrdersFulfill)?;
    let text = match std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)) {
        Ok(t) => t.to_string(),
        Err(_) => {
            let (t, bad) = encoding_rs::SHIFT_JIS.decode_without_bom_handling(bytes);
            if bad {
                return Err(bad_file("the file is neither Shift_JIS nor UTF-8 text"));
            }
            t.into_owned()
        }
    };
    kernel::csv_file::check_quotes(&text).map_err(|e| bad_file(e.to_string()))?;
    let lines = kernel::csv_file::Lines::new(&text);
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| bad_file(e.to_string()))?.clone();
    let (ref_names, no_names) = format.tracking_columns();
    let find = |names: &[&str]| headers.iter().position(|h| names.contains(&h.trim()));
    let (Some(ref_col), Some(no_col)) = (find(ref_names), find(no_names)) else {
        return Err(bad_file(format!("the file needs the columns {} and {}", ref_names[0], no_names[0])));
    };
    let mut report = TrackingImport { shipped: Vec::new(), unmatched: Vec::new() };
    for record in reader.records() {
        let record = record.map_err(|e| bad_file(e.to_string()))?;
        let line = lines.line_of(record.position().map_or(0, |p| p.byte()));
        let reference = record.get(ref_col).unwrap_or("").trim().to_string();
        let tracking_no: String = record.get(no_col).unwrap_or("").trim().chars().filter(|c| *c != '-').collect();
        let result = ship_row(tx, store, by, format, &reference, &tracking_no).await?;
        match result {
            Ok((order_id, shipment_id)) => {
                report.shipped.push(ShippedRow { line, reference, order_id, shipment_id, tracking_no })
            }
            Err(reason) => report.unmatched.push(UnmatchedRow { line, reference, tracking_no, reason }),
        }
    }
    Ok(report)
}

/// Ships the shipment a row names, or says why not (a database failure is the whole import's).
async fn ship_row(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    format: CarrierFormat,
    reference: &str,
    tracking_no: &str,
) -> Result<Result<(OrderId, ShipmentId), String>, CheckoutError> {
    if tracking_no.is_empty() {
        return Ok(Err("no tracking number".into()));
    }
    let Some((number, nth)) = parse_reference(reference) else {
        return Ok(Err("not a reference this store exported".into()));
    };
    let found: Option<(OrderId, ShipmentId)> = sqlx::query_as(
        "SELECT order_id, id FROM (
            SELECT s.order_id, s.id, s.vendor_id, row_number() OVER (PARTITION BY s.order_id ORDER BY s.id) AS nth
              FROM shipments s JOIN orders o ON o.id = s.order_id WHERE o.store_id = $1 AND o.order_number = $2) r
          WHERE r.nth = $3 AND ($4::uuid IS NULL OR r.vendor_id = $4)",
    )
    .bind(store)
    .bind(number)
    .bind(nth)
    .bind(by.vendor())
    .fetch_optional(&mut **tx)
    .await?;
    let Some((order, shipment)) = found else {
        return Ok(Err("no such shipment".into()));
    };
    let input = ShipShipment { carrier: format.carrier().into(), tracking_no: tracking_no.to_string() };
    match fulfillment::ship(tx, store, by, order, shipment, input).await {
        Ok(_) => Ok(Ok((order, shipment))),
        Err(CheckoutError::Db(e)) => Err(CheckoutError::Db(e)),
        Err(e) => Ok(Err(e.to_string())),
    }
}

/// `1001` or `1001-2`: (order number, nth shipment).
fn parse_reference(s: &str) -> Option<(i64, i64)> {
    let (number, nth) = match s.split_once('-') {
        Some((n, k)) => (n.parse().ok()?, k.parse().ok()?),
        None => (s.parse().ok()?, 1),
    };
    (nth >= 1).then_some((number, nth))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_width_becomes_full_width() {
        assert_eq!(to_full_width("ｶﾞｰﾃﾞﾝ 1-2-3 Aﾋﾞﾙ"), "ガーデン　１－２－３　Ａビル");
        assert_eq!(to_full_width("渋谷区神宮前"), "渋谷区神宮前");
    }

    #[test]
    fn fields_split_at_their_width_or_refuse() {
        let s: String = std::iter::repeat_n('あ', 20).collect();
        let f = split_fields(&s, 16, 3).unwrap();
        assert_eq!((f[0].chars().count(), f[1].chars().count(), f[2].as_str()), (16, 4, ""));
        assert!(split_fields(&s, 16, 1).is_none());
    }

    #[test]
    fn references_read_back() {
        assert_eq!(parse_reference("1001"), Some((1001, 1)));
        assert_eq!(parse_reference("1001-2"), Some((1001, 2)));
        assert_eq!(parse_reference("1001-0"), None);
        assert_eq!(parse_reference("abc"), None);
        assert_eq!(domestic_phone(Some("+819012345678")), "09012345678");
    }
}
