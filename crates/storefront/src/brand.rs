//! What makes a shop its own: its colours and logo from the settings (`{base}/theme.css`), its
//! privacy page, and the cart count in the header.
//!
//! The colours and the logo are a stylesheet of their own rather than markup in each page: the
//! CSP allows styles from the shop's origin only (no inline `style`), and the cached pages stay
//! the same bytes for every branding. The stylesheet is kept in the read cache (a settings
//! change drops it at once) and answered with its ETag, `no-cache`: a browser asks again on
//! each page and gets 304 until the branding changes.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use console::error::Failure;
use http_api::AppState;
use http_api::shop::respond_as;
use maud::{Markup, html};
use tenancy::settings::Storefront;

use crate::layout::{self, Frame};
use crate::shop::Shop;

/// The `<link>` to the store's theme, in every page's head.
pub fn theme_link(base: &str) -> Markup {
    html! { link rel="stylesheet" href={ (base) "/theme.css" }; }
}

/// The count beside the header's cart link: written when the page knows it, else an empty
/// slot the script fills from `{base}/cart/count`.
pub fn cart_count(count: Option<i64>) -> Markup {
    html! {
        span.cart-count data-cart-count=[count] aria-live="polite" {
            @if let Some(n) = count.filter(|n| *n > 0) { "（" (n) "）" }
        }
    }
}

/// The theme: the colours as the custom properties the stylesheet reads (`--accent` for links
/// and buttons, `--brand-accent` for prices), the logo before the store's name. Empty when the
/// store set none: the stylesheet's defaults apply.
pub fn theme_css(look: &Storefront) -> String {
    let mut css = String::new();
    let vars: Vec<String> = [("--accent", &look.brand_primary), ("--brand-accent", &look.brand_accent)]
        .into_iter()
        .filter_map(|(name, v)| v.as_deref().map(|v| format!("{name}: {v};")))
        .collect();
    if !vars.is_empty() {
        css.push_str(&format!(":root {{ {} }}\n", vars.join(" ")));
    }
    // the values were checked when saved (#rrggbb; a /media/ path of safe characters)
    if let Some(logo) = &look.logo_url {
        css.push_str(&format!(
            "header.shop .brand::before {{ content: \"\"; display: inline-block; width: 2.5rem; height: 2.5rem; \
             margin-right: .5rem; vertical-align: middle; background: url(\"{logo}\") center / contain no-repeat; }}\n"
        ));
    }
    css
}

/// `GET {base}/theme.css`
pub async fn theme(State(s): State<AppState>, shop: Shop, headers: HeaderMap) -> Response {
    let answer = s
        .cache
        .get_or_compute(shop.store_id, "page:theme".to_string(), || async {
            let mut tx = shop.begin(&s).await?;
            let look = shop.look(&mut tx).await?;
            tx.commit().await?;
            Ok::<_, Failure>(theme_css(&look).into_bytes())
        })
        .await;
    match answer {
        Ok(value) => respond_as(&headers, value, "text/css; charset=utf-8"),
        Err(f) => (f.status, "").into_response(),
    }
}

/// `GET {base}/cart/count`: `{"count": n}`, the items in the shopper's cart (0 without one),
/// for the script's header count.
pub async fn count(State(s): State<AppState>, shop: Shop, headers: HeaderMap) -> Response {
    let key = shop.cart(&headers);
    let result = async {
        let mut tx = shop.begin(&s).await?;
        let view = crate::cart::active_cart(&mut tx, &shop, key.as_ref()).await?;
        tx.commit().await?;
        Ok::<_, Failure>(view.map(|v| v.item_count).unwrap_or(0))
    }
    .await;
    match result {
        Ok(n) => {
            let mut res = ([(header::CONTENT_TYPE, "application/json")], format!("{{\"count\":{n}}}")).into_response();
            res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        Err(f) => (f.status, "").into_response(),
    }
}

/// The privacy policy shoppers read when the store wrote none: what a small Japanese shop's
/// policy (個人情報保護方針) says, under the store's name.
pub fn default_policy(store: &str) -> String {
    format!(
        "{store}（以下「当店」といいます）は、お客様の個人情報を次のとおり取り扱います。\n\n\
         1. 取得する情報\nご注文・お問い合わせの際に、お名前、ご住所、電話番号、メールアドレス、ご注文内容などを取得します。\n\n\
         2. 利用目的\n商品の発送、ご注文の確認とご連絡、お支払いの確認、お問い合わせへの回答、法令に基づく対応のために利用します。\n\n\
         3. 第三者への提供\n法令に基づく場合を除き、ご本人の同意なく第三者に提供しません。商品の配送や決済のため、配送業者・決済事業者に必要な範囲で委託することがあります。\n\n\
         4. 安全管理\n個人情報への不正アクセス、紛失、漏えいを防ぐため、必要かつ適切な措置を講じます。\n\n\
         5. 開示・訂正・削除\nご本人からご自身の個人情報の開示、訂正、利用停止、削除のご請求があった場合は、ご本人であることを確認のうえ、遅滞なく対応します。\n\n\
         6. お問い合わせ\n個人情報の取扱いに関するお問い合わせは、特定商取引法に基づく表記に記載の連絡先までお願いいたします。"
    )
}

/// `GET {base}/privacy`: the store's privacy policy (plain text, blank lines part paragraphs),
/// or the default template.
pub async fn privacy(State(s): State<AppState>, shop: Shop) -> Response {
    let base = shop.base();
    let loaded = async {
        let mut tx = shop.begin(&s).await?;
        let look = shop.look(&mut tx).await?;
        tx.commit().await?;
        Ok::<_, Failure>(look)
    }
    .await;
    let look = match loaded {
        Ok(l) => l,
        Err(f) => return layout::failure_page(None, &f),
    };
    let title = "プライバシーポリシー";
    let text = look.privacy_policy.clone().unwrap_or_else(|| default_policy(&look.name));
    let body = html! {
        h1 { (title) }
        div.policy data-default=[look.privacy_policy.is_none().then_some("true")] {
            @for para in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
                p.pre { (para) }
            }
        }
    };
    let frame = Frame { base: &base, store_name: &look.name, title, description: None };
    layout::respond(StatusCode::OK, layout::page(&frame, body))
}
