//! The messages Tenpo sends, as plain text, in Japanese (the default) or English.
//!
//! Each message is a struct of what it tells, implementing [`Template`]: its kind (the send
//! log's `kind`), and its subject and body per [`Locale`]. Dates are shown in Japan time.
//! Amounts are shown as in Japanese shops: `1,080円` (`¥1,080` in English).

use chrono::{DateTime, FixedOffset, Utc};
use kernel::{Currency, Money};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The language of a store's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Locale {
    #[default]
    Ja,
    En,
}

/// A message ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
}

/// What every message knows of the shop it is sent for.
#[derive(Debug, Clone)]
pub struct Shop {
    /// The name shoppers know the shop by (the store's sender name).
    pub name: String,
}

/// A message kind Tenpo can send.
pub trait Template: Sync {
    /// Stable name of the kind, e.g. `order_confirmation`.
    fn kind(&self) -> &'static str;
    fn render(&self, locale: Locale, shop: &Shop) -> Rendered;
    /// A message whose body must not stay in the send log once sent (it holds a code).
    fn sensitive(&self) -> bool {
        false
    }
}

/// `1,080円` / `¥1,080` for yen; `12.50 USD` otherwise.
pub fn money(m: &Money, locale: Locale) -> String {
    let major = m.format_major();
    let (sign, digits) = major.strip_prefix('-').map(|d| ("-", d)).unwrap_or(("", major.as_str()));
    let (int, frac) = digits.split_once('.').map(|(i, f)| (i, Some(f))).unwrap_or((digits, None));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if let Some(f) = frac {
        grouped = format!("{grouped}.{f}");
    }
    match (m.currency == Currency::JPY, locale) {
        (true, Locale::Ja) => format!("{sign}{grouped}円"),
        (true, Locale::En) => format!("{sign}¥{grouped}"),
        (false, _) => format!("{sign}{grouped} {}", m.currency),
    }
}

fn jst(at: &DateTime<Utc>) -> DateTime<FixedOffset> {
    at.with_timezone(&FixedOffset::east_opt(9 * 3600).expect("JST"))
}

/// A date in Japan time: `2026年12月8日` / `8 Dec 2026`.
pub fn date(at: &DateTime<Utc>, locale: Locale) -> String {
    let d = jst(at);
    match locale {
        Locale::Ja => d.format("%Y年%-m月%-d日").to_string(),
        Locale::En => d.format("%-d %b %Y").to_string(),
    }
}

fn dear(name: Option<&str>, locale: Locale) -> String {
    match (name.map(str::trim).filter(|n| !n.is_empty()), locale) {
        (Some(n), Locale::Ja) => format!("{n} 様"),
        (None, Locale::Ja) => "お客様".into(),
        (Some(n), Locale::En) => format!("Dear {n},"),
        (None, Locale::En) => "Dear customer,".into(),
    }
}

fn footer(shop: &Shop) -> String {
    format!("\n--\n{}\n", shop.name)
}

/// One line of an order as the shopper sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Line {
    pub title: String,
    pub quantity: i32,
    pub total: Money,
}

/// What order messages show of the order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderSummary {
    /// The store's order number (1001, 1002, ...).
    pub number: i64,
    pub customer_name: Option<String>,
    pub lines: Vec<Line>,
    pub subtotal: Money,
    pub discount: Money,
    pub shipping: Money,
    pub cod_fee: Money,
    pub total: Money,
    /// `bank_transfer` or `cod`.
    pub payment_method: String,
    /// The shipping address on one line, when something ships.
    pub ship_to: Option<String>,
}

fn payment_name(method: &str, locale: Locale) -> &'static str {
    match (method, locale) {
        ("bank_transfer", Locale::Ja) => "銀行振込",
        ("bank_transfer", Locale::En) => "bank transfer",
        ("cod", Locale::Ja) => "代金引換",
        ("cod", Locale::En) => "cash on delivery",
        (_, Locale::Ja) => "その他",
        (_, Locale::En) => "other",
    }
}

fn order_block(o: &OrderSummary, locale: Locale) -> String {
    let m = |x: &Money| money(x, locale);
    let mut s = String::new();
    let (number, items, sub, disc, ship, cod, total, pay, to) = match locale {
        Locale::Ja => (
            "ご注文番号",
            "ご注文内容",
            "小計",
            "割引",
            "送料",
            "代引手数料",
            "合計（税込）",
            "お支払い方法",
            "お届け先",
        ),
        Locale::En => (
            "Order number",
            "Items",
            "Subtotal",
            "Discount",
            "Shipping",
            "COD fee",
            "Total (tax incl.)",
            "Payment",
            "Ship to",
        ),
    };
    s.push_str(&format!("{number}: {}\n\n{items}:\n", o.number));
    for l in &o.lines {
        s.push_str(&format!("  {} × {}  {}\n", l.title, l.quantity, m(&l.total)));
    }
    s.push_str(&format!("\n{sub}: {}\n", m(&o.subtotal)));
    if o.discount.amount != 0 {
        s.push_str(&format!("{disc}: -{}\n", m(&o.discount)));
    }
    s.push_str(&format!("{ship}: {}\n", m(&o.shipping)));
    if o.cod_fee.amount != 0 {
        s.push_str(&format!("{cod}: {}\n", m(&o.cod_fee)));
    }
    s.push_str(&format!("{total}: {}\n{pay}: {}\n", m(&o.total), payment_name(&o.payment_method, locale)));
    if let Some(addr) = &o.ship_to {
        s.push_str(&format!("{to}: {addr}\n"));
    }
    s
}

/// 注文確認: sent when an order is placed.
#[derive(Debug, Clone)]
pub struct OrderConfirmation {
    pub order: OrderSummary,
}

impl Template for OrderConfirmation {
    fn kind(&self) -> &'static str {
        "order_confirmation"
    }
    fn render(&self, locale: Locale, shop: &Shop) -> Rendered {
        let o = &self.order;
        let body = order_block(o, locale);
        match locale {
            Locale::Ja => Rendered {
                subject: format!("【{}】ご注文ありがとうございます（注文番号 {}）", shop.name, o.number),
                text: format!(
                    "{}\n\nこのたびは{}をご利用いただき、誠にありがとうございます。\n以下の内容でご注文を承りました。\n\n{body}{}",
                    dear(o.customer_name.as_deref(), locale),
                    shop.name,
                    footer(shop)
                ),
            },
            Locale::En => Rendered {
                subject: format!("[{}] Thank you for your order (order {})", shop.name, o.number),
                text: format!(
                    "{}\n\nThank you for shopping at {}. We have received your order:\n\n{body}{}",
                    dear(o.customer_name.as_deref(), locale),
                    shop.name,
                    footer(shop)
                ),
            },
        }
    }
}

/// The account a bank transfer goes to.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BankAccount {
    pub bank_name: String,
    pub branch_name: String,
    /// `futsu` (普通) or `toza` (当座).
    pub account_type: String,
    pub account_number: String,
    pub account_holder_kana: String,
}

/// お振込のご案内: where and by when to pay an order placed by bank transfer.
#[derive(Debug, Clone)]
pub struct BankTransferInstructions {
    pub number: i64,
    pub customer_name: Option<String>,
    pub amount: Money,
    pub due: DateTime<Utc>,
    pub account: BankAccount,
}

impl Template for BankTransferInstructions {
    fn kind(&self) -> &'static str {
        "bank_transfer_instructions"
    }
    fn render(&self, locale: Locale, shop: &Shop) -> Rendered {
        let a = &self.account;
        let kind = match (a.account_type.as_str(), locale) {
            ("toza", Locale::Ja) => "当座",
            ("toza", Locale::En) => "checking",
            (_, Locale::Ja) => "普通",
            (_, Locale::En) => "ordinary",
        };
        match locale {
            Locale::Ja => Rendered {
                subject: format!("【{}】お振込のご案内（注文番号 {}）", shop.name, self.number),
                text: format!(
                    "{}\n\nご注文番号 {} の代金を、下記の口座へお振込みください。\n\n\
                     お振込金額: {}\nお振込期限: {}\n\n\
                     銀行名: {}\n支店名: {}\n口座種別: {kind}\n口座番号: {}\n口座名義: {}\n\n\
                     期限までにご入金が確認できない場合、ご注文はキャンセルとなります。\n\
                     振込手数料はお客様のご負担となります。\n{}",
                    dear(self.customer_name.as_deref(), locale),
                    self.number,
                    money(&self.amount, locale),
                    date(&self.due, locale),
                    a.bank_name,
                    a.branch_name,
                    a.account_number,
                    a.account_holder_kana,
                    footer(shop)
                ),
            },
            Locale::En => Rendered {
                subject: format!("[{}] How to pay order {} by bank transfer", shop.name, self.number),
                text: format!(
                    "{}\n\nPlease transfer the amount of order {} to this account.\n\n\
                     Amount: {}\nPay by: {}\n\n\
                     Bank: {}\nBranch: {}\nAccount type: {kind}\nAccount number: {}\nAccount holder: {}\n\n\
                     Orders not paid by the date are canceled. Transfer fees are yours to pay.\n{}",
                    dear(self.customer_name.as_deref(), locale),
                    self.number,
                    money(&self.amount, locale),
                    date(&self.due, locale),
                    a.bank_name,
                    a.branch_name,
                    a.account_number,
                    a.account_holder_kana,
                    footer(shop)
                ),
            },
        }
    }
}

/// ご入金確認: the shop has the money.
#[derive(Debug, Clone)]
pub struct PaymentReceived {
    pub number: i64,
    pub customer_name: Option<String>,
    pub amount: Money,
}

impl Template for PaymentReceived {
    fn kind(&self) -> &'static str {
        "payment_received"
    }
    fn render(&self, locale: Locale, shop: &Shop) -> Rendered {
        match locale {
            Locale::Ja => Rendered {
                subject: format!("【{}】ご入金を確認いたしました（注文番号 {}）", shop.name, self.number),
                text: format!(
                    "{}\n\nご注文番号 {} のご入金 {} を確認いたしました。\n商品の準備ができ次第、お届けいたします。\n{}",
                    dear(self.customer_name.as_deref(), locale),
                    self.number,
                    money(&self.amount, locale),
                    footer(shop)
                ),
            },
            Locale::En => Rendered {
                subject: format!("[{}] Payment received for order {}", shop.name, self.number),
                text: format!(
                    "{}\n\nWe have received your payment of {} for order {}. We will ship it as soon as it is ready.\n{}",
                    dear(self.customer_name.as_deref(), locale),
                    money(&self.amount, locale),
                    self.number,
                    footer(shop)
                ),
            },
        }
    }
}

/// 発送のお知らせ: a shipment left, with its carrier and tracking number.
#[derive(Debug, Clone)]
pub struct Shipped {
    pub number: i64,
    pub customer_name: Option<String>,
    pub carrier: Option<String>,
    pub tracking_no: Option<String>,
    /// (title, quantity) of what this shipment carries.
    pub items: Vec<(String, i32)>,
}

impl Template for Shipped {
    fn kind(&self) -> &'static str {
        "shipped"
    }
    fn render(&self, locale: Locale, shop: &Shop) -> Rendered {
        let items: String = self.items.iter().map(|(t, q)| format!("  {t} × {q}\n")).collect();
        let dash = "-".to_string();
        let carrier = self.carrier.as_ref().unwrap_or(&dash);
        let tracking = self.tracking_no.as_ref().unwrap_or(&dash);
        match locale {
            Locale::Ja => Rendered {
                subject: format!("【{}】商品を発送いたしました（注文番号 {}）", shop.name, self.number),
                text: format!(
                    "{}\n\nご注文番号 {} の商品を発送いたしました。\n\n配送業者: {carrier}\nお問い合わせ伝票番号: {tracking}\n\n発送した商品:\n{items}{}",
                    dear(self.customer_name.as_deref(), locale),
                    self.number,
                    footer(shop)
                ),
            },
            Locale::En => Rendered {
                subject: format!("[{}] Order {} has shipped", shop.name, self.number),
                text: format!(
                    "{}\n\nYour order {} has shipped.\n\nCarrier: {carrier}\nTracking number: {tracking}\n\nIn this shipment:\n{items}{}",
                    dear(self.customer_name.as_deref(), locale),
                    self.number,
                    footer(shop)
                ),
            },
        }
    }
}

/// ダウンロードのご案内: a paid digital item can be downloaded.
#[derive(Debug, Clone)]
pub struct DownloadReady {
    pub number: i64,
    pub customer_name: Option<String>,
    pub title: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub max_downloads: Option<i32>,
}

impl Template for DownloadReady {
    fn kind(&self) -> &'static str {
        "download_ready"
    }
    fn render(&self, locale: Locale, shop: &Shop) -> Rendered {
        match locale {
            Locale::Ja => {
                let until =
                    self.expires_at.map(|e| format!("ダウンロード期限: {}\n", date(&e, locale))).unwrap_or_default();
                let times = self.max_downloads.map(|n| format!("ダウンロード回数: {n}回まで\n")).unwrap_or_default();
                Rendered {
                    subject: format!("【{}】ダウンロードのご案内（注文番号 {}）", shop.name, self.number),
                    text: format!(
                        "{}\n\nご注文番号 {} の「{}」をダウンロードいただけます。\nご注文ページからダウンロードしてください。\n\n{until}{times}{}",
                        dear(self.customer_name.as_deref(), locale),
                        self.number,
                        self.title,
                        footer(shop)
                    ),
                }
            }
            Locale::En => {
                let until =
                    self.expires_at.map(|e| format!("Available until: {}\n", date(&e, locale))).unwrap_or_default();
                let times = self.max_downloads.map(|n| format!("Downloads allowed: {n}\n")).unwrap_or_default();
                Rendered {
                    subject: format!("[{}] Your download is ready (order {})", shop.name, self.number),
                    text: format!(
                        "{}\n\n\"{}\" from order {} is ready. Download it from your order page.\n\n{until}{times}{}",
                        dear(self.customer_name.as_deref(), locale),
                        self.title,
                        self.number,
                        footer(shop)
                    ),
                }
            }
        }
    }
}

/// メールアドレスの確認: the code that proves a shopper owns the address they signed up with.
#[derive(Debug, Clone)]
pub struct AccountVerification {
    pub code: String,
    pub valid_minutes: i64,
}

impl Template for AccountVerification {
    fn kind(&self) -> &'static str {
        "account_verification"
    }
    fn sensitive(&self) -> bool {
        true
    }
    fn render(&self, locale: Locale, shop: &Shop) -> Rendered {
        match locale {
            Locale::Ja => Rendered {
                subject: format!("【{}】メールアドレスの確認コード", shop.name),
                text: format!(
                    "{}の会員登録ありがとうございます。\n\n確認コード: {}\n\nこのコードを{}分以内に入力して、登録を完了してください。\nお心当たりのない場合は、このメールを破棄してください。\n{}",
                    shop.name,
                    self.code,
                    self.valid_minutes,
                    footer(shop)
                ),
            },
            Locale::En => Rendered {
                subject: format!("[{}] Your verification code", shop.name),
                text: format!(
                    "Thank you for signing up at {}.\n\nVerification code: {}\n\nEnter it within {} minutes to finish. If you did not sign up, ignore this message.\n{}",
                    shop.name,
                    self.code,
                    self.valid_minutes,
                    footer(shop)
                ),
            },
        }
    }
}

/// パスワード再設定: the code that lets a shopper choose a new password.
#[derive(Debug, Clone)]
pub struct PasswordReset {
    pub code: String,
    pub valid_minutes: i64,
}

impl Template for PasswordReset {
    fn kind(&self) -> &'static str {
        "password_reset"
    }
    fn sensitive(&self) -> bool {
        true
    }
    fn render(&self, locale: Locale, shop: &Shop) -> Rendered {
        match locale {
            Locale::Ja => Rendered {
                subject: format!("【{}】パスワード再設定のご案内", shop.name),
                text: format!(
                    "パスワード再設定のご依頼を受け付けました。\n\n再設定コード: {}\n\nこのコードを{}分以内に入力して、新しいパスワードを設定してください。\nお心当たりのない場合は、このメールを破棄してください（パスワードは変更されません）。\n{}",
                    self.code,
                    self.valid_minutes,
                    footer(shop)
                ),
            },
            Locale::En => Rendered {
                subject: format!("[{}] Reset your password", shop.name),
                text: format!(
                    "We received a request to reset your password.\n\nReset code: {}\n\nEnter it within {} minutes to choose a new password. If you did not ask, ignore this message: your password stays as it is.\n{}",
                    self.code,
                    self.valid_minutes,
                    footer(shop)
                ),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_and_dates_read_as_in_japanese_shops() {
        assert_eq!(money(&Money::jpy(1080), Locale::Ja), "1,080円");
        assert_eq!(money(&Money::jpy(1_234_567), Locale::En), "¥1,234,567");
        assert_eq!(money(&Money::jpy(-500), Locale::Ja), "-500円");
        assert_eq!(money(&Money::jpy(0), Locale::Ja), "0円");
        let usd: Currency = "USD".parse().unwrap();
        assert_eq!(money(&Money::new(123_450, usd), Locale::En), "1,234.50 USD");
        // 15:30 UTC is the next day in Japan
        let at: DateTime<Utc> = "2026-12-07T15:30:00Z".parse().unwrap();
        assert_eq!(date(&at, Locale::Ja), "2026年12月8日");
        assert_eq!(date(&at, Locale::En), "8 Dec 2026");
    }

    #[test]
    fn bank_transfer_instructions_carry_the_account_amount_and_due_date() {
        let t = BankTransferInstructions {
            number: 1001,
            customer_name: Some("山田 花子".into()),
            amount: Money::jpy(4_380),
            due: "2026-12-08T14:59:00Z".parse().unwrap(),
            account: BankAccount {
                bank_name: "テスト銀行".into(),
                branch_name: "本店".into(),
                account_type: "futsu".into(),
                account_number: "1234567".into(),
                account_holder_kana: "テンポ".into(),
            },
        };
        let shop = Shop { name: "お茶の店".into() };
        let ja = t.render(Locale::Ja, &shop);
        assert!(ja.subject.contains("1001") && ja.subject.contains("お茶の店"));
        for part in ["山田 花子 様", "4,380円", "2026年12月8日", "テスト銀行", "本店", "普通", "1234567", "テンポ"]
        {
            assert!(ja.text.contains(part), "{part} missing from {}", ja.text);
        }
        let en = t.render(Locale::En, &shop);
        assert!(en.text.contains("¥4,380") && en.text.contains("ordinary") && en.text.contains("1234567"));
    }
}
