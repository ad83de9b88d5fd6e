//! Settings: shipping (flat fee, free-shipping threshold, per-prefecture fees with a
//! 47-prefecture select), cash on delivery (limit and fee tiers), bank transfer (due days and
//! the account shoppers pay into), delivery time slots, digital download defaults and the
//! store's own settings (low-stock threshold, the mails' sender name). Each section is its own
//! form and sends only its fields to the admin API's use case (`checkout::settings::update`,
//! `catalog::digital::update_store_settings`, `tenancy::settings::update_settings`).

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use catalog::digital::{StoreDigitalSettings, UpdateStoreDigitalSettings};
use checkout::settings::{
    self as checkout_settings, BankAccount, CheckoutSettings, CodTier, DeliverySlot, PrefectureFeeInput,
    UpdateCheckoutSettings,
};
use kernel::Money;
use kernel::access::{Acting, Permission};
use maud::{Markup, html};
use serde::Deserialize;
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
}

async fn load(tx: &mut db::Tx, s: &Signed) -> Result<Loaded, Failure> {
    let by = Acting::Staff(&s.ctx);
    Ok(Loaded {
        checkout: checkout_settings::get(tx, s.ctx.store_id, by).await?,
        digital: catalog::digital::get_store_settings(tx, s.ctx.store_id, by).await?,
        store: tenancy::settings::get_settings(tx, s.ctx.store_id, by).await?,
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
    for (i, sl) in c.delivery_slots.iter().enumerate() {
        p.push((format!("delivery_slots[{i}].code"), sl.code.clone()));
        p.push((format!("delivery_slots[{i}].label"), sl.label.clone()));
        p.push((format!("delivery_slots[{i}].carrier_code"), sl.carrier_code.clone().unwrap_or_default()));
    }
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
                                        select name=(pn) aria-label=(l.t("都道府県", "Prefecture")) {
                                            option value="" { "—" }
                                            @for (code, name, en) in kernel::jp::PREFECTURES {
                                                option value=(code) selected[t.get(&pn) == code.to_string()] { (if l == Lang::Ja { name } else { en }) }
                                            }
                                        }
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
            (problem(e, &["cod_limit", "cod_limit.amount"]))
            form method="post" action={ (BASE) "/settings/cod" } {
                (csrf(&token))
                div { label.inline { input type="checkbox" name="cod_enabled" checked[t.checked("cod_enabled")]; (l.t("代金引換を使う", "Offer cash on delivery")) } }
                (yen_field(l, "cod_limit", l.t("上限金額（円）", "Up to (yen)"), t, e))
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
        }
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
    };
    let status = failed.map(|(_, f, _)| f.status).unwrap_or(StatusCode::OK);
    layout::page_with_status(s, "/settings", l.t("設定", "Settings"), body, status)
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
