//! The Japanese address fields, as checkout's details form and the account's saved addresses
//! show them: the 47-prefecture select, the postal code that fills prefecture and city (when
//! JavaScript runs), each field named as the API names it (with the form's prefix, such as
//! `shipping_address.`) so its field errors land next to the right input.

use console::error::Failure;
use console::form::Fields;
use console::layout::field_error;
use customers::address::{Address, AddressInput};
use kernel::jp::PREFECTURES;
use maud::{Markup, html};

/// The fields (without prefix), their labels and `autocomplete`.
pub const FIELDS: &[(&str, &str, &str)] = &[
    ("name", "お名前", "name"),
    ("name_kana", "お名前（フリガナ）", "off"),
    ("postal_code", "郵便番号", "postal-code"),
    ("prefecture", "都道府県", "address-level1"),
    ("city", "市区町村", "address-level2"),
    ("line1", "番地", "address-line1"),
    ("line2", "建物名・部屋番号（任意）", "address-line2"),
    ("phone", "電話番号", "tel"),
];

/// The fields, filled from `f` (`prefix` + name), with their errors.
pub fn fields(prefix: &str, f: &Fields, failure: Option<&Failure>) -> Markup {
    html! {
        @for (name, label, auto) in FIELDS {
            @let field = format!("{prefix}{name}");
            @let id = field.replace('.', "-");
            div.field {
                label for=(id) { (label) }
                @if *name == "prefecture" {
                    select id=(id) name=(field) autocomplete=(auto) data-prefecture {
                        option value="" { "選択してください" }
                        @for (_, pref, _) in PREFECTURES {
                            option value=(pref) selected[f.get(&field) == pref] { (pref) }
                        }
                    }
                } @else if *name == "postal_code" {
                    input id=(id) type="text" name=(field) value=(f.get(&field)) autocomplete=(auto) inputmode="numeric" data-postal placeholder="150-0001";
                    span.muted { "入力すると住所を自動で補完します。" }
                } @else {
                    input id=(id) type=(if *auto == "tel" { "tel" } else { "text" }) name=(field) value=(f.get(&field)) autocomplete=(auto) data-city[*name == "city"];
                }
                (field_error(failure, &field))
            }
        }
    }
}

/// Whether any of the fields was typed.
pub fn any(prefix: &str, f: &Fields) -> bool {
    FIELDS.iter().any(|(name, ..)| !f.get(&format!("{prefix}{name}")).trim().is_empty())
}

/// The address the fields describe (checked by the domain, `Address::parse`, not here).
pub fn input(prefix: &str, f: &Fields) -> AddressInput {
    let a = |name: &str| f.get(&format!("{prefix}{name}")).trim().to_string();
    let opt = |name: &str| Some(a(name)).filter(|s| !s.is_empty());
    AddressInput {
        kind: None,
        name: a("name"),
        name_kana: opt("name_kana"),
        postal_code: a("postal_code"),
        prefecture: a("prefecture"),
        city: a("city"),
        line1: a("line1"),
        line2: opt("line2"),
        phone: opt("phone"),
    }
}

/// The form's fields for a saved address (`prefix` + name), to fill the fields with it.
pub fn pairs(prefix: &str, a: &Address) -> Vec<(String, String)> {
    let phone = a.phone.as_deref().map(national_phone).unwrap_or_default();
    [
        ("name", a.name.clone()),
        ("name_kana", a.name_kana.clone()),
        ("postal_code", a.postal_code.clone()),
        ("prefecture", a.prefecture.clone()),
        ("city", a.city.clone()),
        ("line1", a.line1.clone()),
        ("line2", a.line2.clone().unwrap_or_default()),
        ("phone", phone),
    ]
    .into_iter()
    .map(|(k, v)| (format!("{prefix}{k}"), v))
    .collect()
}

/// An address on one line: 〒150-0001 東京都渋谷区神宮前1-2-3 ビル 山田 花子 様.
pub fn one_line(a: &Address) -> String {
    let line2 = a.line2.as_deref().map(|l| format!(" {l}")).unwrap_or_default();
    format!("〒{} {}{}{}{} {} 様", a.postal_code, a.prefecture, a.city, a.line1, line2, a.name)
}

/// A stored phone (E.164) as a Japanese shopper writes it: +819012345678 -> 09012345678.
pub fn national_phone(e164: &str) -> String {
    e164.strip_prefix("+81").map(|n| format!("0{n}")).unwrap_or_else(|| e164.to_string())
}
