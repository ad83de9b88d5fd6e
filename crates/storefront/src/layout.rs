//! The page shell (the store's name, search, the cart link) and the pieces several pages
//! show: prices, images, availability, and a refusal that has no form to go back to.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use catalog::storefront::{Availability, StorefrontImage};
use console::error::Failure;
use console::i18n::Lang;
use kernel::Money;
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::assets::{CSS_PATH, JS_PATH};

/// The storefront speaks Japanese (the console's `i18n` formats money and dates).
pub const L: Lang = Lang::Ja;

/// What the header shows.
pub struct Frame<'a> {
    /// `/shop/{store}`
    pub base: &'a str,
    pub store_name: &'a str,
    pub title: &'a str,
    /// `<meta name="description">`, when there is one.
    pub description: Option<&'a str>,
}

/// A whole page. The shopper's cart count is filled in by the script (the page may be cached
/// for every shopper); [`page_with_cart`] writes it.
pub fn page(f: &Frame<'_>, body: Markup) -> Markup {
    page_with_cart(f, None, body)
}

/// A whole page that knows how many items the shopper's cart holds (a page of theirs, never
/// cached): the count is right without the script.
pub fn page_with_cart(f: &Frame<'_>, cart_count: Option<i64>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="ja" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (f.title) " | " (f.store_name) }
                @if let Some(d) = f.description { meta name="description" content=(d); }
                link rel="stylesheet" href=(CSS_PATH);
                (crate::brand::theme_link(f.base))
                script src=(JS_PATH) defer {}
            }
            body {
                a.skip href="#main" { "本文へ移動" }
                header.shop {
                    a.brand href={ (f.base) "/" } { (f.store_name) }
                    form.search role="search" method="get" action={ (f.base) "/search" } {
                        label.visually-hidden for="q" { "商品を検索" }
                        input #q type="search" name="q" placeholder="商品を検索";
                        button type="submit" { "検索" }
                    }
                    a.cart-link href={ (f.base) "/cart" } data-cart-count-url={ (f.base) "/cart/count" } {
                        "カート"
                        (crate::brand::cart_count(cart_count))
                    }
                }
                main #main { (body) }
                footer.shop {
                    a href={ (f.base) "/" } { (f.store_name) }
                    " · "
                    a href={ (f.base) "/legal" } { "特定商取引法に基づく表記" }
                    " · "
                    a href={ (f.base) "/privacy" } { "プライバシーポリシー" }
                    span.muted { " · Powered by Tenpo" }
                }
            }
        }
    }
}

/// A page answer with its status.
pub fn respond(status: StatusCode, markup: Markup) -> Response {
    (status, Html(markup.into_string())).into_response()
}

/// A short page of its own, before the store is known (no such store, a foreign form).
pub fn plain_error(text: &str) -> Html<String> {
    let m = html! {
        (DOCTYPE)
        html lang="ja" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (text) }
                link rel="stylesheet" href=(CSS_PATH);
            }
            body { main #main { h1 { (text) } } }
        }
    };
    Html(m.into_string())
}

/// A refusal with no form to show it on: the API's status, code and message.
pub fn failure_page(frame: Option<&Frame<'_>>, f: &Failure) -> Response {
    let heading = match f.status.as_u16() {
        404 => "見つかりませんでした",
        s if s >= 500 => "エラーが発生しました。しばらくしてからもう一度お試しください。",
        _ => "お手続きできませんでした",
    };
    let body = html! {
        h1 { (heading) }
        (problem(Some(f)))
    };
    let markup = match frame {
        Some(frame) => page(&Frame { title: heading, ..*frame }, body),
        None => html! { (PreEscaped(plain_error(heading).0)) },
    };
    respond(f.status, markup)
}

/// The refusal above a form: the API's message and code, and the field errors.
pub fn problem(f: Option<&Failure>) -> Markup {
    console::layout::problem(f, &[])
}

/// One labelled input of a form, filled with what was typed, its field error below it.
pub fn input(
    name: &str,
    label: &str,
    kind: &str,
    value: &str,
    autocomplete: &str,
    failure: Option<&Failure>,
) -> Markup {
    html! {
        div.field {
            label for=(name) { (label) }
            input id=(name) type=(kind) name=(name) value=(value) autocomplete=(autocomplete);
            (console::layout::field_error(failure, name))
        }
    }
}

/// A price as shoppers read it: ¥1,080（税込）, the compare-at price struck through before it.
pub fn price(price: &Money, compare_at: Option<&Money>) -> Markup {
    html! {
        span.price {
            @if let Some(c) = compare_at.filter(|c| c.amount > price.amount) {
                del.compare-at { (L.money(c)) } " "
            }
            strong data-price=(price.amount) { (L.money(price)) }
            small.tax { "（税込）" }
        }
    }
}

/// The availability of a variant or product, in words.
pub fn stock(a: Availability, digital: bool) -> Markup {
    let (class, text) = match (a, digital) {
        (_, true) => ("in_stock", "ダウンロード商品"),
        (Availability::InStock, _) => ("in_stock", "在庫あり"),
        (Availability::Low, _) => ("low", "残りわずか"),
        (Availability::SoldOut, _) => ("sold_out", "売り切れ"),
    };
    html! { span.stock.(class) data-availability=(class) { (text) } }
}

/// An image with its renditions as `srcset`, its size reserved, loaded lazily unless it is
/// the page's main image.
pub fn image(img: &StorefrontImage, sizes: &str, eager: bool) -> Markup {
    let mut srcset: Vec<String> = img.renditions.iter().map(|r| format!("{} {}w", r.url, r.width)).collect();
    srcset.push(format!("{} {}w", img.url, img.width));
    // the 600 px copy (else the original) for browsers without srcset
    let src = img.renditions.iter().find(|r| r.width >= 600).map(|r| r.url.as_str()).unwrap_or(img.url.as_str());
    html! {
        img src=(src) srcset=(srcset.join(", ")) sizes=(sizes) width=(img.width) height=(img.height) alt=(img.alt)
            loading=(if eager { "eager" } else { "lazy" }) decoding="async";
    }
}
