//! The store's commercial disclosures page (特定商取引法に基づく表記): the set the store
//! published (`tenancy::disclosures::published`, what `GET .../legal-disclosures` answers)
//! and, in a mall, each vendor's own. Not published yet: a 404 page saying so.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use console::error::Failure;
use http_api::AppState;
use maud::{Markup, html};
use tenancy::disclosures::Disclosures;

use crate::layout::{self, Frame, L};
use crate::shop::Shop;

/// The items in the law's order, with their names as shops write them.
fn items(d: &Disclosures) -> Vec<(&'static str, &'static str, Option<&str>)> {
    vec![
        ("seller_name", "販売業者", d.seller_name.as_deref()),
        ("responsible_person", "運営統括責任者", d.responsible_person.as_deref()),
        ("address", "所在地", d.address.as_deref()),
        ("phone", "電話番号", d.phone.as_deref()),
        ("email", "メールアドレス", d.email.as_deref()),
        ("price_note", "販売価格", d.price_note.as_deref()),
        ("extra_charges", "商品代金以外の必要料金", d.extra_charges.as_deref()),
        ("payment_methods", "お支払い方法", d.payment_methods.as_deref()),
        ("payment_timing", "お支払い時期", d.payment_timing.as_deref()),
        ("delivery_timing", "引渡時期", d.delivery_timing.as_deref()),
        ("returns_policy", "返品・交換・キャンセル", d.returns_policy.as_deref()),
        ("offer_validity", "申込みの有効期限", d.offer_validity.as_deref()),
        ("defect_liability", "契約不適合責任", d.defect_liability.as_deref()),
        ("special_conditions", "販売数量の制限等", d.special_conditions.as_deref()),
    ]
}

fn table(d: &Disclosures) -> Markup {
    html! {
        dl.summary.legal {
            @for (key, label, value) in items(d) {
                @if let Some(v) = value {
                    dt { (label) } dd.pre data-item=(key) { (v) }
                }
            }
        }
    }
}

pub async fn show(State(s): State<AppState>, shop: Shop) -> Response {
    let base = shop.base();
    let loaded = async {
        let mut tx = shop.begin(&s).await?;
        let name = shop.name(&mut tx).await?;
        let published = tenancy::disclosures::published(&mut tx, shop.store_id).await;
        tx.commit().await?;
        Ok::<_, Failure>((name, published))
    }
    .await;
    let (name, published) = match loaded {
        Ok(l) => l,
        Err(f) => return layout::failure_page(None, &f),
    };
    let title = "特定商取引法に基づく表記";
    let frame = Frame { base: &base, store_name: &name, title, description: None };
    let p = match published {
        Ok(p) => p,
        Err(e) => return layout::failure_page(Some(&frame), &e.into()),
    };
    let body = html! {
        h1 { (title) }
        (table(&p.disclosures))
        p.muted { "最終更新 " (L.datetime(&p.updated_at)) }
        @for v in &p.vendors {
            section aria-labelledby={ "v-" (v.vendor_id) } {
                h2 id={ "v-" (v.vendor_id) } { (v.vendor_name) " の表記" }
                (table(&v.disclosures))
            }
        }
    };
    layout::respond(StatusCode::OK, layout::page(&frame, body))
}
