//! The page shell (navigation by permission, language switch, sign-out) and the small pieces
//! every form shares: the CSRF field, a field's error, the form's problem.

use axum::response::{Html, IntoResponse, Response};
use kernel::access::Permission;
use maud::{DOCTYPE, Markup, html};

use crate::BASE;
use crate::error::Failure;
use crate::i18n::Lang;
use crate::session::Signed;

/// Sections of the navigation: (path under BASE, Japanese, English, the permission that shows it).
const NAV: &[(&str, &str, &str, Permission)] = &[
    ("/", "ホーム", "Home", Permission::StoreRead),
    ("/orders", "注文", "Orders", Permission::OrdersRead),
    ("/products", "商品", "Products", Permission::CatalogRead),
    ("/inventory", "在庫", "Inventory", Permission::InventoryRead),
    ("/customers", "顧客", "Customers", Permission::CustomersRead),
    ("/promotions", "プロモーション", "Promotions", Permission::PromotionsRead),
    ("/settings", "設定", "Settings", Permission::SettingsRead),
    ("/staff", "スタッフ", "Staff", Permission::StaffRead),
    ("/webhooks", "Webhook", "Webhooks", Permission::WebhooksManage),
];

/// Sections that exist yet (the navigation shows no dead links).
fn built(path: &str) -> bool {
    matches!(
        path,
        "/" | "/orders"
            | "/products"
            | "/inventory"
            | "/customers"
            | "/settings"
            | "/staff"
            | "/promotions"
            | "/webhooks"
    )
}

/// A signed-in page: `section` is the NAV path it belongs to.
pub fn page(s: &Signed, section: &str, title: &str, body: Markup) -> Response {
    page_with_status(s, section, title, body, axum::http::StatusCode::OK)
}

pub fn page_with_status(
    s: &Signed,
    section: &str,
    title: &str,
    body: Markup,
    status: axum::http::StatusCode,
) -> Response {
    let l = s.lang;
    let other = match l {
        Lang::Ja => ("en", "English"),
        Lang::En => ("ja", "日本語"),
    };
    let markup = html! {
        (DOCTYPE)
        html lang=(l.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Tenpo" }
                link rel="stylesheet" href={ (BASE) "/assets/console.css" };
                script src={ (BASE) "/assets/console.js" } defer {}
            }
            body {
                header.top {
                    a.brand href={ (BASE) "/" } { "Tenpo" }
                    nav.main {
                        @for (path, ja, en, perm) in NAV {
                            @if built(path) && s.ctx.allows(*perm) {
                                a href={ (BASE) (path) } aria-current=[(*path == section).then_some("page")] { (l.t(ja, en)) }
                            }
                        }
                    }
                    div.account {
                        a.lang href={ (BASE) "/lang/" (other.0) } { (other.1) }
                        form method="post" action={ (BASE) "/logout" } {
                            (csrf(&s.csrf()))
                            button.link type="submit" { (l.t("ログアウト", "Sign out")) }
                        }
                    }
                }
                main { (body) }
            }
        }
    };
    (status, Html(markup.into_string())).into_response()
}

pub fn csrf(token: &str) -> Markup {
    html! { input type="hidden" name="_csrf" value=(token); }
}

/// The error of one field, shown next to it.
pub fn field_error(f: Option<&Failure>, name: &str) -> Markup {
    html! {
        @if let Some(msg) = f.and_then(|f| f.field(name)) {
            span.field-error data-field=(name) { (msg) }
        }
    }
}

/// The form's problem, above it: the API's message, and the field errors no field shows.
pub fn problem(f: Option<&Failure>, shown: &[&str]) -> Markup {
    html! {
        @if let Some(f) = f {
            div.problem role="alert" data-code=(f.code) {
                p { (f.message) }
                @for e in f.fields.iter().filter(|e| !shown.contains(&e.field.as_str())) {
                    p { (e.field) ": " (e.message) }
                }
            }
        }
    }
}

/// A notice after a change went through (Post/Redirect/Get): fixed texts by key, never text
/// from the query string.
pub fn notice(l: Lang, key: Option<&str>) -> Markup {
    let text = match key {
        Some("confirmed") => Some(l.t("入金を確認しました。", "Payment confirmed.")),
        Some("shipped") => Some(l.t("発送済みにしました。", "Marked as shipped.")),
        Some("delivered") => Some(l.t("配達済みにしました。", "Marked as delivered.")),
        Some("canceled") => Some(l.t("注文をキャンセルしました。", "Order canceled.")),
        Some("refunded") => Some(l.t("返金済みにしました。", "Refund recorded as paid.")),
        Some("bulk") => Some(l.t("選択した注文を処理しました。", "The selected orders were processed.")),
        Some("saved") => Some(l.t("保存しました。", "Saved.")),
        Some("created") => Some(l.t("作成しました。", "Created.")),
        Some("deleted") => Some(l.t("削除しました。", "Deleted.")),
        Some("pinged") => {
            Some(l.t("pingを送りました。配信履歴に表示されます。", "Ping sent: it appears in the delivery log."))
        }
        Some("resent") => Some(l.t("再送を予約しました。", "Queued to be sent again.")),
        Some("closed") => Some(l.t("明細を締めました。", "Statement closed.")),
        Some("paid") => Some(l.t("支払を記録しました。", "Payout recorded.")),
        Some("revoked") => Some(l.t("セッションを終了しました。", "Sessions ended.")),
        Some("merged") => Some(l.t("顧客を統合しました。", "Customers merged.")),
        Some("stock") => Some(l.t("在庫を更新しました。", "Stock updated.")),
        Some("adjusted") => Some(l.t("在庫を調整しました。", "Stock adjusted.")),
        Some("image_added") => Some(l.t("画像を追加しました。", "Image added.")),
        Some("file_uploaded") => Some(l.t("ファイルを登録しました。", "File uploaded.")),
        Some("file_removed") => Some(l.t("ファイルを外しました。", "File removed.")),
        _ => None,
    };
    html! {
        @if let Some(t) = text { div.notice role="status" { (t) } }
    }
}
