//! Settings: shipping (flat fee, free-shipping threshold, per-prefecture fees with a
//! 47-prefecture select), cash on delivery (limit and fee tiers), bank transfer (due days and
//! the account shoppers pay into), delivery time slots, digital download defaults and the
//! store's own settings (low-stock threshold, the mails' sender name), and the commercial
//! disclosures (特定商取引法に基づく表記). Each section is its own form and sends only its fields
//! to the admin API's use case (`checkout::settings::update`,
//! `catalog::digital::update_store_settings`, `tenancy::settings::update_settings`,
//! `tenancy::disclosures::update`), and last the storefront's appearance (its domain, colours,
//! logo and privacy policy: `tenancy::stores::update_store`, `tenancy::settings::update_settings`).

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use catalog::digital::{StoreDigitalSettings, UpdateStoreDigitalSettings};
use checkout::delivery::SlotPreset;
use checkout::settings::{
    self as checkout_settings, BankAccount, CheckoutSettings, CodFeeBasis, CodTier, DeliverySlot, ExtraDaysInput,
    PrefectureFeeInput, UpdateCheckoutSettings,
};
use kernel::Money;
use kernel::access::{Acting, Permission};
use maud::{Markup, html};
use serde::Deserialize;
use tenancy::disclosures::{self, Disclosures, LegalDisclosures, UpdateDisclosures};
use tenancy::settings::{StoreSettings, UpdateStoreSettings};

use super::query;
use crate::error::Failure;
use crate::form::{self, Fields, Reading};
use crate::i18n::Lang;
use crate::layout::{self, csrf, field_error, notice, problem};
use crate::session::{Posted, Signed};
use crate::{BASE, Console};

/// Blank rows offered after the saved ones in the lists (fees, tiers, slots).
const SPARE_ROWS: usize = 3;

pub fn routes() -> Router<Console> {
    Router::new().route("/settings", get(page)).route("/settings/{section}", post(save))
}

#[derive(Deserialize, Default)]
struct Done {
    done: Option<String>,
}

struct Loaded {
    checkout: CheckoutSettings,
    digital: StoreDigitalSettings,
    store: StoreSettings,
    disclosures: LegalDisclosures,
    /// The store's own domain (the store row; its copy where the store's data lives).
    domain: Option<String>,
}

async fn load(tx: &mut db::Tx, s: &Signed) -> Result<Loaded, Failure> {
    let by = Acting::Staff(&s.ctx);
    Ok(Loaded {
        checkout: checkout_settings::get(tx, s.ctx.store_id, by).await?,
        digital: catalog::digital::get_store_settings(tx, s.ctx.store_id, by).await?,
        store: tenancy::settings::get_settings(tx, s.ctx.store_id, by).await?,
        disclosures: disclosures::get(tx, s.ctx.store_id, None, by).await?,
        domain: tenancy::stores::get_store(tx, s.ctx.store_id).await?.domain,
    })
}

async fn page(State(state): State<Console>, s: Signed, RawQuery(raw): RawQuery) -> Result<Response, Failure> {
    let done: Done = query(raw.as_deref()).unwrap_or_default();
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    let loaded = load(&mut tx, &s).await?;
    tx.commit().await?;
    Ok(render(&s, &loaded, done.done.as_deref(), None))
}

/// The saved settings as the forms show them, or what was typed into the section that failed.
fn current(d: &Loaded) -> Fields {
    let c = &d.checkout;
    let mut p: Vec<(String, String)> = vec![
        ("shipping_flat_fee".into(), c.shipping_flat_fee.amount.to_string()),
        ("free_shipping_threshold".into(), c.free_shipping_threshold.map(|m| m.amount.to_string()).unwrap_or_default()),
        ("cod_limit".into(), c.cod_limit.amount.to_string()),
        ("bank_transfer_due_days".into(), c.bank_transfer_due_days.to_string()),
        ("bank_account.bank_name".into(), c.bank_account.bank_name.clone()),
        ("bank_account.branch_name".into(), c.bank_account.branch_name.clone()),
        ("bank_account.account_type".into(), c.bank_account.account_type.clone()),
        ("bank_account.account_number".into(), c.bank_account.account_number.clone()),
        ("bank_account.account_holder_kana".into(), c.bank_account.account_holder_kana.clone()),
        ("default_url_ttl_seconds".into(), d.digital.default_url_ttl_seconds.to_string()),
        ("default_max_downloads".into(), d.digital.default_max_downloads.map(|n| n.to_string()).unwrap_or_default()),
        ("low_stock_threshold".into(), d.store.low_stock_threshold.to_string()),
        ("mail_sender_name".into(), d.store.mail_sender_name.clone().unwrap_or_default()),
        ("registration_number".into(), d.store.registration_number.clone().unwrap_or_default()),
    ];
    if c.cod_enabled {
        p.push(("cod_enabled".into(), "on".into()));
    }
    p.push(("cod_fee_basis".into(), basis_value(c.cod_fee_basis).into()));
    p.extend(disclosures_fields(&d.disclosures));
    if c.bank_transfer_enabled {
        p.push(("bank_transfer_enabled".into(), "on".into()));
    }
    for (i, f) in c.prefecture_fees.iter().enumerate() {
        p.push((format!("prefecture_fees[{i}].prefecture"), f.prefecture.code.to_string()));
        p.push((format!("prefecture_fees[{i}].fee"), f.fee.amount.to_string()));
    }
    for (i, t) in c.cod_fee_tiers.iter().enumerate() {
        p.push((format!("cod_fee_tiers[{i}].up_to"), t.up_to.amount.to_string()));
        p.push((format!("cod_fee_tiers[{i}].fee"), t.fee.amount.to_string()));
    }
    p.push(("delivery_lead_days".into(), c.delivery_lead_days.to_string()));
    p.push(("delivery_cutoff_hour".into(), c.delivery_cutoff_hour.map(|h| h.to_string()).unwrap_or_default()));
    p.push(("delivery_window_days".into(), c.delivery_window_days.to_string()));
    for w in &c.closed_weekdays {
        p.push(("closed_weekdays".into(), w.clone()));
    }
    let dates: Vec<String> = c.closed_dates.iter().map(|d| d.to_string()).collect();
    p.push(("closed_dates".into(), dates.join("\n")));
    if c.closed_on_holidays {
        p.push(("closed_on_holidays".into(), "on".into()));
    }
    for (i, e) in c.delivery_extra_days.iter().enumerate() {
        let area = match (&e.prefecture, &e.postal_code_prefix) {
            (Some(pref), _) => ("prefecture", pref.code.to_string()),
            (None, prefix) => ("postal_code_prefix", prefix.clone().unwrap_or_default()),
        };
        p.push((format!("delivery_extra_days[{i}].{}", area.0), area.1));
        p.push((format!("delivery_extra_days[{i}].days"), e.days.to_string()));
    }
    for (i, sl) in c.delivery_slots.iter().enumerate() {
        p.push((format!("delivery_slots[{i}].code"), sl.code.clone()));
        p.push((format!("delivery_slots[{i}].label"), sl.label.clone()));
        p.push((format!("delivery_slots[{i}].carrier_code"), sl.carrier_code.clone().unwrap_or_default()));
    }
    // the storefront's appearance
    p.push(("domain".into(), d.domain.clone().unwrap_or_default()));
    p.push(("brand_primary".into(), d.store.brand_primary.clone().unwrap_or_default()));
    p.push(("brand_accent".into(), d.store.brand_accent.clone().unwrap_or_default()));
    p.push(("logo_url".into(), d.store.logo_url.clone().unwrap_or_default()));
    p.push(("privacy_policy".into(), d.store.privacy_policy.clone().unwrap_or_default()));
    Fields::from_pairs(p)
}

fn yen_field(l: Lang, name: &str, label: &str, typed: &Fields, e: Option<&Failure>) -> Markup {
    let _ = l;
    html! {
        div {
            label for=(name) { (label) }
            input id=(name) name=(name) inputmode="numeric" value=(typed.get(name));
            (field_error(e, &format!("{name}.amount")))
            (field_error(e, &format!("{name}.currency")))
            (field_error(e, name))
        }
    }
}

fn text_field(name: &str, label: &str, typed: &Fields, e: Option<&Failure>) -> Markup {
    html! {
        div {
            label for=(name) { (label) }
            input id=(name) name=(name) value=(typed.get(name));
            (field_error(e, name))
        }
    }
}

/// How many rows a list shows: the saved (or typed) ones and some blank.
fn rows(typed: &Fields, list: &str, key: &str) -> usize {
    (0..40).take_while(|i| !typed.get(&format!("{list}[{i}].{key}")).is_empty()).count() + SPARE_ROWS
}

fn render(s: &Signed, d: &Loaded, done: Option<&str>, failed: Option<(&str, &Failure, &Fields)>) -> Response {
    let l = s.lang;
    let saved = current(d);
    let can = s.ctx.allows(Permission::StoreManage);
    let token = s.csrf();
    let section = |name: &str| -> (Option<&Failure>, &Fields) {
        match failed {
            Some((sec, f, typed)) if sec == name => (Some(f), typed),
            _ => (None, &saved),
        }
    };
    let submit = html! { @if can { button type="submit" { (l.t("保存", "Save")) } } };
    let body = html! {
        h1 { (l.t("設定", "Settings")) }
        (notice(l, done))
        @let (e, t) = section("shipping");
        section.panel.shipping {
            h2 { (l.t("送料", "Shipping")) }
            (problem(e, &["shipping_flat_fee", "shipping_flat_fee.amount", "free_shipping_threshold", "free_shipping_threshold.amount"]))
            form method="post" action={ (BASE) "/settings/shipping" } {
                (csrf(&token))
                (yen_field(l, "shipping_flat_fee", l.t("全国一律送料（円）", "Flat fee (yen)"), t, e))
                (yen_field(l, "free_shipping_threshold", l.t("送料無料になる金額（円、空欄で無し）", "Free from (yen; empty: never)"), t, e))
                (submit)
            }
        }
        @let (e, t) = section("prefecture_fees");
        section.panel.prefecture-fees {
            h2 { (l.t("都道府県別送料", "Fees per prefecture")) }
            (problem(e, &[]))
            form method="post" action={ (BASE) "/settings/prefecture_fees" } {
                (csrf(&token))
                div.table-wrap {
                    table.responsive.prefecture-fees {
                        thead { tr { th { (l.t("都道府県", "Prefecture")) } th { (l.t("送料（円）", "Fee (yen)")) } } }
                        tbody {
                            @for i in 0..rows(t, "prefecture_fees", "prefecture") {
                                @let (pn, fname) = (format!("prefecture_fees[{i}].prefecture"), format!("prefecture_fees[{i}].fee"));
                                tr {
                                    td data-label=(l.t("都道府県", "Prefecture")) {
                                        (prefecture_select(l, &pn, t))
                                        (field_error(e, &pn))
                                    }
                                    td data-label=(l.t("送料（円）", "Fee (yen)")) {
                                        input name=(fname) inputmode="numeric" value=(t.get(&fname)) aria-label=(l.t("送料", "Fee"));
                                        (field_error(e, &format!("{fname}.amount")))
                                    }
                                }
                            }
                        }
                    }
                }
                p.muted { (l.t("都道府県を「—」にした行は削除されます。", "Rows set to — are removed.")) }
                (submit)
            }
        }
        @let (e, t) = section("cod");
        section.panel.cod {
            h2 { (l.t("代金引換", "Cash on delivery")) }
            (problem(e, &["cod_limit", "cod_limit.amount", "cod_fee_basis"]))
            form method="post" action={ (BASE) "/settings/cod" } {
                (csrf(&token))
                div { label.inline { input type="checkbox" name="cod_enabled" checked[t.checked("cod_enabled")]; (l.t("代金引換を使う", "Offer cash on delivery")) } }
                (yen_field(l, "cod_limit", l.t("上限金額（円）", "Up to (yen)"), t, e))
                div {
                    label for="cod_fee_basis" { (l.t("手数料の段階の判定", "Fee tiers compare")) }
                    select id="cod_fee_basis" name="cod_fee_basis" {
                        option value="subtotal" selected[t.get("cod_fee_basis") == "subtotal"] {
                            (l.t("手数料を含まない合計（従来どおり）", "the total before the fee (as before)"))
                        }
                        option value="collected" selected[t.get("cod_fee_basis") == "collected"] {
                            (l.t("手数料を含む代引金額（運送会社の方式）", "the amount collected, fee included (the carriers' way)"))
                        }
                    }
                    (field_error(e, "cod_fee_basis"))
                }
                table.cod-tiers {
                    thead { tr { th { (l.t("合計（円）まで", "Totals up to (yen)")) } th { (l.t("手数料（円）", "Fee (yen)")) } } }
                    tbody {
                        @for i in 0..rows(t, "cod_fee_tiers", "up_to") {
                            @let (up, fee) = (format!("cod_fee_tiers[{i}].up_to"), format!("cod_fee_tiers[{i}].fee"));
                            tr {
                                td { input name=(up) inputmode="numeric" value=(t.get(&up)) aria-label=(l.t("合計まで", "Up to")); (field_error(e, &format!("{up}.amount"))) }
                                td { input name=(fee) inputmode="numeric" value=(t.get(&fee)) aria-label=(l.t("手数料", "Fee")); (field_error(e, &format!("{fee}.amount"))) }
                            }
                        }
                    }
                }
                (field_error(e, "cod_fee_tiers"))
                (submit)
            }
        }
        @let (e, t) = section("bank");
        section.panel.bank {
            h2 { (l.t("銀行振込", "Bank transfer")) }
            (problem(e, &["bank_transfer_due_days", "bank_account.bank_name", "bank_account.branch_name", "bank_account.account_type", "bank_account.account_number", "bank_account.account_holder_kana"]))
            form method="post" action={ (BASE) "/settings/bank" } {
                (csrf(&token))
                div { label.inline { input type="checkbox" name="bank_transfer_enabled" checked[t.checked("bank_transfer_enabled")]; (l.t("銀行振込を使う", "Offer bank transfer")) } }
                (text_field("bank_transfer_due_days", l.t("支払期限（日）", "Days to pay"), t, e))
                (text_field("bank_account.bank_name", l.t("銀行名", "Bank"), t, e))
                (text_field("bank_account.branch_name", l.t("支店名", "Branch"), t, e))
                div {
                    label for="bank_account.account_type" { (l.t("口座種別", "Account type")) }
                    select id="bank_account.account_type" name="bank_account.account_type" {
                        option value="futsu" selected[t.get("bank_account.account_type") == "futsu"] { (l.t("普通", "Ordinary (futsu)")) }
                        option value="toza" selected[t.get("bank_account.account_type") == "toza"] { (l.t("当座", "Current (toza)")) }
                    }
                    (field_error(e, "bank_account.account_type"))
                }
                (text_field("bank_account.account_number", l.t("口座番号", "Account number"), t, e))
                (text_field("bank_account.account_holder_kana", l.t("口座名義（カナ）", "Holder (kana)"), t, e))
                (submit)
            }
        }
        @let (e, t) = section("slots");
        section.panel.slots {
            h2 { (l.t("お届け時間帯", "Delivery slots")) }
            (problem(e, &[]))
            form method="post" action={ (BASE) "/settings/slots" } {
                (csrf(&token))
                table.delivery-slots {
                    thead { tr { th { (l.t("コード", "Code")) } th { (l.t("表示名", "Label")) } th { (l.t("配送会社の時間帯コード", "Carrier time code")) } } }
                    tbody {
                        @for i in 0..rows(t, "delivery_slots", "code") {
                            @let (code, label) = (format!("delivery_slots[{i}].code"), format!("delivery_slots[{i}].label"));
                            @let carrier = format!("delivery_slots[{i}].carrier_code");
                            tr {
                                td { input name=(code) value=(t.get(&code)) aria-label=(l.t("コード", "Code")); (field_error(e, &code)) }
                                td { input name=(label) value=(t.get(&label)) aria-label=(l.t("表示名", "Label")); (field_error(e, &label)) }
                                td { input name=(carrier) value=(t.get(&carrier)) aria-label=(l.t("配送会社の時間帯コード", "Carrier time code")); (field_error(e, &carrier)) }
                            }
                        }
                    }
                }
                p.muted { (l.t("コードを空欄にした行は削除されます。", "Rows with no code are removed.")) }
                (submit)
            }
            @let (e, t) = section("slot_preset");
            (problem(e, &["delivery_slot_preset"]))
            form.slot-preset method="post" action={ (BASE) "/settings/slot_preset" } {
                (csrf(&token))
                div {
                    label for="delivery_slot_preset" { (l.t("配送会社の時間帯に置き換える", "Replace with a carrier's slots")) }
                    select id="delivery_slot_preset" name="delivery_slot_preset" {
                        option value="yamato" selected[t.get("delivery_slot_preset") == "yamato"] { (l.t("ヤマト運輸（B2クラウドの時間帯コード）", "Yamato (B2 Cloud time codes)")) }
                        option value="sagawa" selected[t.get("delivery_slot_preset") == "sagawa"] { (l.t("佐川急便（e-飛伝の時間帯コード）", "Sagawa (e-飛伝 time codes)")) }
                    }
                    (field_error(e, "delivery_slot_preset"))
                }
                (submit)
            }
        }
        @let (e, t) = section("calendar");
        (calendar_section(l, &token, e, t, can))
        @let (e, t) = section("digital");
        section.panel.digital {
            h2 { (l.t("ダウンロード商品の既定値", "Download defaults")) }
            (problem(e, &["default_url_ttl_seconds", "default_max_downloads"]))
            form method="post" action={ (BASE) "/settings/digital" } {
                (csrf(&token))
                (text_field("default_url_ttl_seconds", l.t("ダウンロード期限（秒）", "Link lifetime (seconds)"), t, e))
                (text_field("default_max_downloads", l.t("ダウンロード回数上限（空欄で無制限）", "Download limit (empty: none)"), t, e))
                (submit)
            }
        }
        @let (e, t) = section("store");
        section.panel.store {
            h2 { (l.t("ストア", "Store")) }
            (problem(e, &["low_stock_threshold", "mail_sender_name", "registration_number"]))
            form method="post" action={ (BASE) "/settings/store" } {
                (csrf(&token))
                (text_field("low_stock_threshold", l.t("在庫僅少とする数", "Low stock at or below"), t, e))
                (text_field("mail_sender_name", l.t("メールの差出人名", "Mail sender name"), t, e))
                (text_field("registration_number", l.t("適格請求書発行事業者登録番号（T＋13桁、空欄で未登録）", "Qualified-invoice registration number (T + 13 digits; empty: none)"), t, e))
                (submit)
            }
        }
        @let (e, t) = section("disclosures");
        (disclosures_form(l, &token, &format!("{BASE}/settings/disclosures"), &d.disclosures, e, t, can))
        (appearance(l, section("appearance"), &token, &submit))
    };
    let status = failed.map(|(_, f, _)| f.status).unwrap_or(StatusCode::OK);
    layout::page_with_status(s, "/settings", l.t("設定", "Settings"), body, status)
}

/// The commercial disclosures' form (the store's on the settings page, a mall vendor's on its
/// own page): every item, * for the required ones, the 公開 checkbox, the draft or published
/// state and the required items still empty; each `disclosures.<item>` error next to its item.
pub(super) fn disclosures_form(
    l: Lang,
    token: &str,
    action: &str,
    d: &LegalDisclosures,
    e: Option<&Failure>,
    t: &Fields,
    can: bool,
) -> Markup {
    html! {
    section.panel.disclosures #disclosures {
        h2 { (l.t("特定商取引法に基づく表記", "Commercial disclosures (特定商取引法)")) }
        (problem(e, &DISCLOSURE_FIELDS.iter().map(|f| f.0).map(disclosures::at).collect::<Vec<_>>().iter().map(String::as_str).collect::<Vec<_>>()))
        p.disclosures-state {
            @if d.published {
                (l.t("公開中：ストアフロントに表示されています。", "Published: shown on the storefront."))
            } @else {
                (l.t("下書き：ストアフロントには表示されません。", "Draft: not shown on the storefront."))
                @if !d.missing.is_empty() {
                    " " (l.t("未入力の必須項目：", "Required items still empty: "))
                    (d.missing.iter().filter_map(|m| DISCLOSURE_FIELDS.iter().find(|f| f.0 == m)).map(|f| if l == Lang::Ja { f.1 } else { f.2 }).collect::<Vec<_>>().join("、"))
                }
            }
        }
        form method="post" action=(action) {
            (csrf(token))
            @for (name, ja, en, long) in DISCLOSURE_FIELDS {
                @let field = disclosures::at(name);
                div {
                    label for=(field) { (if l == Lang::Ja { ja } else { en }) @if disclosures::REQUIRED.iter().any(|r| r.0 == name) { " *" } }
                    @if long {
                        textarea id=(field) name=(field) rows="3" { (t.get(&field)) }
                    } @else {
                        input id=(field) name=(field) value=(t.get(&field));
                    }
                    (field_error(e, &field))
                }
            }
            div { label.inline { input type="checkbox" name="published" checked[t.checked("published")]; (l.t("ストアフロントに公開する（必須項目がすべて必要です）", "Publish on the storefront (needs every required item)")) } }
            p.muted { (l.t("* は公開に必須の項目です。", "* items are required to publish.")) }
            @if can { button type="submit" { (l.t("保存", "Save")) } }
        }
    }
    }
}

/// The saved disclosures as the form's fields.
pub(super) fn disclosures_fields(d: &LegalDisclosures) -> Vec<(String, String)> {
    let mut p = Vec::new();
    for (name, _, _, _) in DISCLOSURE_FIELDS {
        p.push((disclosures::at(name), disclosure_item(&d.disclosures, name).unwrap_or_default().to_string()));
    }
    if d.published {
        p.push(("published".into(), "on".into()));
    }
    p
}

/// The form's disclosures as the API's body has them.
pub(super) fn disclosures_input(f: &Fields) -> UpdateDisclosures {
    UpdateDisclosures { disclosures: disclosures_of(f), published: f.checked("published") }
}

/// A row's prefecture: the 47 in JIS order (their codes as values), "—" for none.
fn prefecture_select(l: Lang, name: &str, t: &Fields) -> Markup {
    html! {
        select name=(name) aria-label=(l.t("都道府県", "Prefecture")) {
            option value="" { "—" }
            @for (code, pref, en) in kernel::jp::PREFECTURES {
                option value=(code) selected[t.get(name) == code.to_string()] { (if l == Lang::Ja { pref } else { en }) }
            }
        }
    }
}

/// The storefront's appearance: its own domain, colours (checked for contrast against white
/// by the API's rule), logo and privacy policy.
fn appearance(l: Lang, (e, t): (Option<&Failure>, &Fields), token: &str, submit: &Markup) -> Markup {
    html! {
        section.panel.appearance #appearance {
            h2 { (l.t("ストアフロントの外観", "Storefront appearance")) }
            (problem(e, &["domain", "brand_primary", "brand_accent", "logo_url", "privacy_policy"]))
            form method="post" action={ (BASE) "/settings/appearance" } {
                (csrf(token))
                (text_field("domain", l.t("独自ドメイン（例 shop.example.jp、空欄でなし）", "Own domain (e.g. shop.example.jp; empty: none)"), t, e))
                (text_field("brand_primary", l.t("メインカラー（#rrggbb、白地で読める濃さ）", "Main colour (#rrggbb, readable on white)"), t, e))
                (text_field("brand_accent", l.t("アクセントカラー（価格の色）", "Accent colour (prices)"), t, e))
                (text_field("logo_url", l.t("ロゴ画像のURL（/media/... 商品画像のURLなど）", "Logo image URL (/media/..., e.g. a product image's)"), t, e))
                div {
                    label for="privacy_policy" { (l.t("プライバシーポリシー（空欄で標準の文面）", "Privacy policy (empty: the default text)")) }
                    textarea id="privacy_policy" name="privacy_policy" rows="8" { (t.get("privacy_policy")) }
                    (field_error(e, "privacy_policy"))
                }
                (submit)
            }
        }
    }
}

/// The disclosures' items on the form: field, Japanese and English label, and whether it is a
/// longer text (a textarea).
const DISCLOSURE_FIELDS: [(&str, &str, &str, bool); 14] = [
    ("seller_name", "販売業者", "Seller", false),
    ("responsible_person", "運営統括責任者", "Responsible person", false),
    ("address", "所在地", "Address", true),
    ("phone", "電話番号", "Phone", false),
    ("email", "メールアドレス", "Email", false),
    ("price_note", "販売価格", "Prices", true),
    ("extra_charges", "商品代金以外の必要料金", "Charges besides the price", true),
    ("payment_methods", "支払方法", "Payment methods", true),
    ("payment_timing", "支払時期", "When payment is due", true),
    ("delivery_timing", "引渡時期", "When the goods are delivered", true),
    ("returns_policy", "返品・交換・キャンセル", "Returns, exchanges, cancellation", true),
    ("offer_validity", "申込みの有効期限", "Period of the offer", true),
    ("defect_liability", "契約不適合責任", "Liability for defects", true),
    ("special_conditions", "販売数量の制限等、特別な販売条件", "Special conditions", true),
];

fn disclosure_item<'a>(d: &'a Disclosures, name: &str) -> Option<&'a str> {
    match name {
        "seller_name" => d.seller_name.as_deref(),
        "responsible_person" => d.responsible_person.as_deref(),
        "address" => d.address.as_deref(),
        "phone" => d.phone.as_deref(),
        "email" => d.email.as_deref(),
        "price_note" => d.price_note.as_deref(),
        "extra_charges" => d.extra_charges.as_deref(),
        "payment_methods" => d.payment_methods.as_deref(),
        "payment_timing" => d.payment_timing.as_deref(),
        "delivery_timing" => d.delivery_timing.as_deref(),
        "returns_policy" => d.returns_policy.as_deref(),
        "offer_validity" => d.offer_validity.as_deref(),
        "defect_liability" => d.defect_liability.as_deref(),
        "special_conditions" => d.special_conditions.as_deref(),
        _ => None,
    }
}

/// The form's disclosures, as the API's body has them (the domain trims and checks them).
fn disclosures_of(f: &Fields) -> Disclosures {
    let item = |name: &str| Some(f.get(&disclosures::at(name)).to_string());
    Disclosures {
        seller_name: item("seller_name"),
        responsible_person: item("responsible_person"),
        address: item("address"),
        phone: item("phone"),
        email: item("email"),
        price_note: item("price_note"),
        extra_charges: item("extra_charges"),
        payment_methods: item("payment_methods"),
        payment_timing: item("payment_timing"),
        delivery_timing: item("delivery_timing"),
        returns_policy: item("returns_policy"),
        offer_validity: item("offer_validity"),
        defect_liability: item("defect_liability"),
        special_conditions: item("special_conditions"),
    }
}

fn basis_value(b: CodFeeBasis) -> &'static str {
    match b {
        CodFeeBasis::Subtotal => "subtotal",
        CodFeeBasis::Collected => "collected",
    }
}

trait YenField {
    fn yen(&mut self, f: &Fields, name: &str) -> Option<Money>;
}

impl YenField for Reading {
    /// A yen field, its error at `{name}.amount` as the API names it.
    fn yen(&mut self, f: &Fields, name: &str) -> Option<Money> {
        self.take(form::yen(&format!("{name}.amount"), f.get(name)))
    }
}

/// The rows of a list form that were filled in (by `key`), with their numbers on the form.
fn filled(f: &Fields, list: &str, key: &str) -> Vec<usize> {
    (0..60).filter(|i| !f.get(&format!("{list}[{i}].{key}")).trim().is_empty()).collect()
}

/// The domain numbers what it was sent; the form's rows may have had blank ones between.
fn renumber(mut failure: Failure, list: &str, rows: &[usize]) -> Failure {
    for e in &mut failure.fields {
        if let Some(rest) = e.field.strip_prefix(&format!("{list}["))
            && let Some((k, tail)) = rest.split_once(']')
            && let Some(row) = k.parse::<usize>().ok().and_then(|k| rows.get(k))
        {
            e.field = format!("{list}[{row}]{tail}");
        }
    }
    failure
}

async fn save(
    State(state): State<Console>,
    axum::extract::Path(section): axum::extract::Path<String>,
    posted: Posted,
) -> Result<Response, Failure> {
    let Posted { signed: s, form: f } = posted;
    let by = Acting::Staff(&s.ctx);
    let store = s.ctx.store_id;
    let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
    let result: Result<(), Failure> = async {
        let mut r = Reading::default();
        let mut update = UpdateCheckoutSettings::default();
        match section.as_str() {
            "shipping" => {
                update.shipping_flat_fee = r.yen(&f, "shipping_flat_fee");
                update.free_shipping_threshold = Some(if f.opt("free_shipping_threshold").is_some() {
                    r.yen(&f, "free_shipping_threshold")
                } else {
                    None
                });
            }
            "prefecture_fees" => {
                let rows = filled(&f, "prefecture_fees", "prefecture");
                let mut fees = Vec::new();
                for i in &rows {
                    let fee = r.yen(&f, &format!("prefecture_fees[{i}].fee"));
                    let prefecture =
                        serde_json::Value::String(f.get(&format!("prefecture_fees[{i}].prefecture")).to_string());
                    fees.push(PrefectureFeeInput { prefecture, fee: fee.unwrap_or(Money::jpy(0)) });
                }
                r.done()?;
                update.prefecture_fees = Some(fees);
                return checkout_settings::update(&mut tx, store, by, update)
                    .await
                    .map(|_| ())
                    .map_err(|e| renumber(e.into(), "prefecture_fees", &rows));
            }
            "cod" => {
                update.cod_enabled = Some(f.checked("cod_enabled"));
                update.cod_limit = r.yen(&f, "cod_limit");
                update.cod_fee_basis = match f.get("cod_fee_basis") {
                    "" => None,
                    "collected" => Some(CodFeeBasis::Collected),
                    "subtotal" => Some(CodFeeBasis::Subtotal),
                    _ => {
                        r.push(kernel::FieldError::new("cod_fee_basis", "invalid", "use subtotal or collected"));
                        None
                    }
                };
                let rows = filled(&f, "cod_fee_tiers", "up_to");
                let mut tiers = Vec::new();
                for i in &rows {
                    let up = r.yen(&f, &format!("cod_fee_tiers[{i}].up_to"));
                    let fee = r.yen(&f, &format!("cod_fee_tiers[{i}].fee"));
                    tiers.push(CodTier { up_to: up.unwrap_or(Money::jpy(0)), fee: fee.unwrap_or(Money::jpy(0)) });
                }
                r.done()?;
                update.cod_fee_tiers = Some(tiers);
                return checkout_settings::update(&mut tx, store, by, update)
                    .await
                    .map(|_| ())
                    .map_err(|e| renumber(e.into(), "cod_fee_tiers", &rows));
            }
            "bank" => {
                update.bank_transfer_enabled = Some(f.checked("bank_transfer_enabled"));
                update.bank_transfer_due_days =
                    r.take(form::int("bank_transfer_due_days", f.get("bank_transfer_due_days")));
                update.bank_account = Some(BankAccount {
                    bank_name: f.get("bank_account.bank_name").trim().to_string(),
                    branch_name: f.get("bank_account.branch_name").trim().to_string(),
                    account_type: f.get("bank_account.account_type").trim().to_string(),
                    account_number: f.get("bank_account.account_number").trim().to_string(),
                    account_holder_kana: f.get("bank_account.account_holder_kana").trim().to_string(),
                });
            }
            "slots" => {
                let rows = filled(&f, "delivery_slots", "code");
                let slots = rows
                    .iter()
                    .map(|i| DeliverySlot {
                        code: f.get(&format!("delivery_slots[{i}].code")).to_string(),
                        label: f.get(&format!("delivery_slots[{i}].label")).to_string(),
                        carrier_code: f.opt(&format!("delivery_slots[{i}].carrier_code")),
                    })
                    .collect();
                update.delivery_slots = Some(slots);
                return checkout_settings::update(&mut tx, store, by, update)
                    .await
                    .map(|_| ())
                    .map_err(|e| renumber(e.into(), "delivery_slots", &rows));
            }
            "slot_preset" => {
                update.delivery_slot_preset = match f.get("delivery_slot_preset") {
                    "yamato" => Some(SlotPreset::Yamato),
                    "sagawa" => Some(SlotPreset::Sagawa),
                    _ => {
                        r.push(kernel::FieldError::new("delivery_slot_preset", "invalid", "use yamato or sagawa"));
                        None
                    }
                };
            }
            "calendar" => {
                let rows = filled_extra_days(&f);
                read_calendar(&mut r, &f, &rows, &mut update);
                r.done()?;
                return checkout_settings::update(&mut tx, store, by, update)
                    .await
                    .map(|_| ())
                    .map_err(|e| renumber(e.into(), "delivery_extra_days", &rows));
            }
            "digital" => {
                let ttl = r.take(form::int("default_url_ttl_seconds", f.get("default_url_ttl_seconds")));
                let max = match f.opt("default_max_downloads") {
                    Some(raw) => r.take(form::int("default_max_downloads", &raw)).map(Some),
                    None => Some(None),
                };
                r.done()?;
                let input = UpdateStoreDigitalSettings { default_url_ttl_seconds: ttl, default_max_downloads: max };
                catalog::digital::update_store_settings(&mut tx, store, by, input).await?;
                return Ok(());
            }
            "store" => {
                let threshold = r.take(form::int("low_stock_threshold", f.get("low_stock_threshold")));
                r.done()?;
                let input = UpdateStoreSettings {
                    low_stock_threshold: threshold,
                    mail_sender_name: Some(f.get("mail_sender_name").to_string()),
                    registration_number: Some(f.get("registration_number").to_string()),
                    ..Default::default()
                };
                tenancy::settings::update_settings(&mut tx, store, by, input).await?;
                return Ok(());
            }
            "appearance" => {
                let input = UpdateStoreSettings {
                    brand_primary: Some(f.get("brand_primary").to_string()),
                    brand_accent: Some(f.get("brand_accent").to_string()),
                    logo_url: Some(f.get("logo_url").to_string()),
                    privacy_policy: Some(f.get("privacy_policy").to_string()),
                    ..Default::default()
                };
                tenancy::settings::update_settings(&mut tx, store, by, input).await?;
                // the domain is the store's (control data): its own transaction, after the
                // settings were accepted
                let domain = f.get("domain").to_string();
                let mut control = state.db.begin(s.ctx.tenant_id).await?;
                let change = tenancy::stores::UpdateStore { domain: Some(domain), ..Default::default() };
                tenancy::stores::update_store(&mut control, store, by, change).await?;
                control.commit().await?;
                db::mirror::refresh_tenant_or_warn(&state.db, s.ctx.tenant_id).await;
                return Ok(());
            }
            "disclosures" => {
                disclosures::update(&mut tx, store, None, by, disclosures_input(&f)).await?;
                return Ok(());
            }
            _ => return Err(Failure::new(StatusCode::NOT_FOUND, "not_found", "no such page")),
        }
        r.done()?;
        checkout_settings::update(&mut tx, store, by, update).await?;
        Ok(())
    }
    .await;
    match result {
        Ok(()) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("{BASE}/settings?done=saved#{section}")).into_response())
        }
        Err(failure) if failure.is_form_error() => {
            tx.rollback().await?;
            let mut tx = state.db.store(s.ctx.store_id).await?.begin(s.ctx.tenant_id).await?;
            let loaded = load(&mut tx, &s).await?;
            tx.commit().await?;
            Ok(render(&s, &loaded, None, Some((section.as_str(), &failure, &f))))
        }
        Err(failure) => Err(failure),
    }
}

/// The weekdays a store may close on, as the API names them.
const WEEKDAYS: [(&str, &str, &str); 7] = [
    ("mon", "月", "Mon"),
    ("tue", "火", "Tue"),
    ("wed", "水", "Wed"),
    ("thu", "木", "Thu"),
    ("fri", "金", "Fri"),
    ("sat", "土", "Sat"),
    ("sun", "日", "Sun"),
];

/// The delivery-date calendar: lead days, the cut-off hour, how many days may be chosen, the
/// closed weekdays, dates and public holidays, and extra transit days per prefecture or postal
/// prefix (the fields of `PATCH /admin/v1/store/checkout-settings`).
fn calendar_section(l: Lang, token: &str, e: Option<&Failure>, t: &Fields, can: bool) -> Markup {
    let closed = t.all("closed_weekdays");
    let weekday_fields: Vec<String> = (0..7).map(|i| format!("closed_weekdays[{i}]")).collect();
    let mut shown: Vec<&str> = vec![
        "delivery_lead_days",
        "delivery_cutoff_hour",
        "delivery_window_days",
        "closed_weekdays",
        "closed_dates",
        "closed_on_holidays",
    ];
    shown.extend(weekday_fields.iter().map(String::as_str));
    let extra_fields: Vec<String> = (0..60)
        .flat_map(|i| {
            let f = format!("delivery_extra_days[{i}]");
            [format!("{f}.prefecture"), format!("{f}.postal_code_prefix"), format!("{f}.days"), f]
        })
        .collect();
    shown.extend(extra_fields.iter().map(String::as_str));
    html! {
        section.panel.calendar #calendar {
            h2 { (l.t("お届け日の設定", "Delivery dates")) }
            (problem(e, &shown))
            form method="post" action={ (BASE) "/settings/calendar" } {
                (csrf(token))
                (text_field("delivery_lead_days", l.t("発送までの営業日数（0〜30）", "Business days to ship (0-30)"), t, e))
                (text_field("delivery_cutoff_hour", l.t("当日扱いの締め時刻（1〜23時、空欄で無し）", "Cut-off hour (1-23; empty: none)"), t, e))
                (text_field("delivery_window_days", l.t("指定できる日数（1〜90）", "Days a date may be chosen from (1-90)"), t, e))
                fieldset.weekdays {
                    legend { (l.t("定休日（曜日）", "Closed weekdays")) }
                    @for (value, ja, en) in WEEKDAYS {
                        label.inline { input type="checkbox" name="closed_weekdays" value=(value) checked[closed.contains(&value)]; (l.t(ja, en)) }
                    }
                    (field_error(e, "closed_weekdays"))
                    @for f in &weekday_fields { (field_error(e, f)) }
                }
                div { label.inline { input type="checkbox" name="closed_on_holidays" checked[t.checked("closed_on_holidays")]; (l.t("祝日は休業", "Closed on public holidays")) } }
                div {
                    label for="closed_dates" { (l.t("休業日（1行に1日、2026-12-31 の形）", "Closed dates (one a line, as 2026-12-31)")) }
                    textarea id="closed_dates" name="closed_dates" rows="4" { (t.get("closed_dates")) }
                    (field_error(e, "closed_dates"))
                }
                h3 { (l.t("地域ごとの追加日数", "Extra days per area")) }
                div.table-wrap {
                    table.responsive.extra-days {
                        thead { tr { th { (l.t("都道府県", "Prefecture")) } th { (l.t("または郵便番号の先頭", "or postal code prefix")) } th { (l.t("追加日数", "Extra days")) } } }
                        tbody {
                            @for i in 0..extra_rows(t) {
                                @let row = format!("delivery_extra_days[{i}]");
                                @let (pn, xn, dn) = (format!("{row}.prefecture"), format!("{row}.postal_code_prefix"), format!("{row}.days"));
                                tr {
                                    td data-label=(l.t("都道府県", "Prefecture")) {
                                        (prefecture_select(l, &pn, t))
                                        (field_error(e, &pn))
                                        (field_error(e, &row))
                                    }
                                    td data-label=(l.t("郵便番号の先頭", "Postal prefix")) {
                                        input name=(xn) inputmode="numeric" value=(t.get(&xn)) aria-label=(l.t("郵便番号の先頭", "Postal prefix"));
                                        (field_error(e, &xn))
                                    }
                                    td data-label=(l.t("追加日数", "Extra days")) {
                                        input name=(dn) inputmode="numeric" value=(t.get(&dn)) aria-label=(l.t("追加日数", "Extra days"));
                                        (field_error(e, &dn))
                                    }
                                }
                            }
                        }
                    }
                }
                p.muted { (l.t("都道府県も郵便番号も空欄の行は削除されます。", "Rows with neither a prefecture nor a postal prefix are removed.")) }
                @if can { button type="submit" { (l.t("保存", "Save")) } }
            }
        }
    }
}

/// A row of the extra days is filled when it names an area (a prefecture or a postal prefix).
fn extra_filled(f: &Fields, i: usize) -> bool {
    ["prefecture", "postal_code_prefix"]
        .iter()
        .any(|k| !f.get(&format!("delivery_extra_days[{i}].{k}")).trim().is_empty())
}

fn filled_extra_days(f: &Fields) -> Vec<usize> {
    (0..60).filter(|&i| extra_filled(f, i)).collect()
}

fn extra_rows(t: &Fields) -> usize {
    (0..40).take_while(|&i| extra_filled(t, i)).count() + SPARE_ROWS
}

/// The calendar form into the API's fields; text that is no number or date is the console's
/// field error and the domain is not called.
fn read_calendar(r: &mut Reading, f: &Fields, rows: &[usize], update: &mut UpdateCheckoutSettings) {
    update.delivery_lead_days = r.take(form::int("delivery_lead_days", f.get("delivery_lead_days")));
    update.delivery_cutoff_hour = match f.opt("delivery_cutoff_hour") {
        Some(raw) => r.take(form::int("delivery_cutoff_hour", &raw)).map(Some),
        None => Some(None),
    };
    update.delivery_window_days = r.take(form::int("delivery_window_days", f.get("delivery_window_days")));
    update.closed_weekdays = Some(f.all("closed_weekdays").iter().map(|w| w.to_string()).collect());
    update.closed_on_holidays = Some(f.checked("closed_on_holidays"));
    let mut dates = Vec::new();
    for line in kernel::jp::fold_width(f.get("closed_dates")).split(['\n', ',', '、']) {
        let day = line.trim().replace('/', "-");
        if day.is_empty() {
            continue;
        }
        match chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d") {
            Ok(d) => dates.push(d),
            Err(_) => {
                r.push(kernel::FieldError::new("closed_dates", "invalid", format!("{day}: not a date as 2026-12-31")));
            }
        }
    }
    update.closed_dates = Some(dates);
    let mut extra = Vec::new();
    for i in rows {
        let row = format!("delivery_extra_days[{i}]");
        let days = r.take(form::int(&format!("{row}.days"), f.get(&format!("{row}.days"))));
        extra.push(ExtraDaysInput {
            prefecture: f.opt(&format!("{row}.prefecture")).map(serde_json::Value::String),
            postal_code_prefix: f.opt(&format!("{row}.postal_code_prefix")),
            days: days.unwrap_or(0),
        });
    }
    update.delivery_extra_days = Some(extra);
}
