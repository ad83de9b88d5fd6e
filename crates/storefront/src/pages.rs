//! The catalog's pages: the product list (newest or by price), a product, and search with its
//! facets. The list and the product pages are the same reads as the storefront API's
//! (`catalog::storefront`), kept in the API's read cache (catalog changes drop them at once,
//! stock shows within a second) and answered with an ETag, 304 when the browser has it.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use catalog::storefront::{self, StorefrontProduct, StorefrontQuery, StorefrontSort, TagCount};
use catalog::variant::FulfillmentType;
use console::error::Failure;
use http_api::AppState;
use http_api::shop::respond_as;
use maud::{Markup, html};
use search::storefront::SearchParams;
use serde::Deserialize;

use crate::layout::{self, Frame};
use crate::shop::Shop;

const HTML: &str = "text/html; charset=utf-8";
const PER_PAGE: u32 = 24;

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    sort: Option<String>,
    cursor: Option<String>,
}

fn sort_of(raw: Option<&str>) -> StorefrontSort {
    match raw {
        Some("price_asc") => StorefrontSort::PriceAsc,
        Some("price_desc") => StorefrontSort::PriceDesc,
        _ => StorefrontSort::Newest,
    }
}

/// A page computed once for every shopper (it holds nothing of theirs): from the read cache,
/// or rendered and kept. A refusal (an unknown product, a bad cursor) is a page, not cached.
async fn cached_page<F, Fut>(s: &AppState, shop: &Shop, key: String, headers: &HeaderMap, render: F) -> Response
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Markup, (Failure, String)>>,
{
    let mut refused = None;
    // the page's links start with the base: the store's domain and /shop/{store} differ
    let key = format!("{key}:{}", shop.base());
    let answer = s
        .cache
        .get_or_compute(shop.store_id, key, || async {
            match render().await {
                Ok(m) => Ok(m.into_string().into_bytes()),
                Err(e) => {
                    refused = Some(e);
                    Err(())
                }
            }
        })
        .await;
    match answer {
        Ok(value) => respond_as(headers, value, HTML),
        Err(()) => match refused {
            Some((f, name)) => {
                let base = shop.base();
                let frame = Frame { base: &base, store_name: &name, title: "", description: None };
                layout::failure_page(Some(&frame), &f)
            }
            None => layout::failure_page(None, &Failure::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "")),
        },
    }
}

/// The store's front page: its products, newest first or by price, 24 a page, with the tag
/// navigation.
pub async fn home(State(s): State<AppState>, shop: Shop, headers: HeaderMap, Query(q): Query<ListQuery>) -> Response {
    list_page(&s, &shop, &headers, q, None).await
}

/// A tag's products (「タグ: …」), paged and sorted as the front page.
pub async fn tag(
    State(s): State<AppState>,
    shop: Shop,
    headers: HeaderMap,
    Path((_store, tag)): Path<(String, String)>,
    Query(q): Query<ListQuery>,
) -> Response {
    list_page(&s, &shop, &headers, q, Some(tag)).await
}

/// A product list (all the store's products, or a tag's): the storefront API's list with the
/// same filter, cached per sort, cursor and tag.
async fn list_page(s: &AppState, shop: &Shop, headers: &HeaderMap, q: ListQuery, tag: Option<String>) -> Response {
    let sort = sort_of(q.sort.as_deref());
    let key = format!("page:list:{sort:?}:{:?}:{tag:?}", q.cursor);
    cached_page(s, shop, key, headers, || async {
        let mut tx = shop.begin(s).await.map_err(|f| (f, String::new()))?;
        let name = shop.name(&mut tx).await.map_err(|f| (f, String::new()))?;
        let query = StorefrontQuery {
            sort: Some(sort),
            limit: Some(PER_PAGE),
            cursor: q.cursor.clone(),
            tag: tag.clone(),
            ..Default::default()
        };
        let page = storefront::list(&mut tx, shop.store_id, &query).await.map_err(|e| (e.into(), name.clone()))?;
        let tags = storefront::tags(&mut tx, shop.store_id).await.map_err(|e| (e.into(), name.clone()))?;
        tx.commit().await.map_err(|e| (e.into(), name.clone()))?;
        let base = shop.base();
        let sort_key = match sort {
            StorefrontSort::Newest => "newest",
            StorefrontSort::PriceAsc => "price_asc",
            StorefrontSort::PriceDesc => "price_desc",
        };
        let here = match &tag {
            Some(t) => format!("{base}/tags/{}", encode(t)),
            None => format!("{base}/"),
        };
        let title = match &tag {
            Some(t) => format!("タグ: {t}"),
            None => "商品一覧".to_string(),
        };
        let body = html! {
            h1 { (title) }
            (tag_nav(&base, &tags, tag.as_deref()))
            nav.sorts aria-label="並び順" {
                @for (key, label) in [("newest", "新着順"), ("price_asc", "価格の安い順"), ("price_desc", "価格の高い順")] {
                    a href={ (here) "?sort=" (key) } aria-current=[(key == sort_key).then_some("true")] { (label) }
                }
            }
            (grid(&base, &page.items))
            @if let Some(next) = &page.next_cursor {
                nav.pager { a rel="next" href={ (here) "?sort=" (sort_key) "&cursor=" (encode(next)) } { "次のページ" } }
            }
        };
        Ok(layout::page(&Frame { base: &base, store_name: &name, title: &title, description: None }, body))
    })
    .await
}

/// How many tags the navigation shows (the most used).
const NAV_TAGS: usize = 30;

/// The store's most used tags as links to their lists, the current one marked.
fn tag_nav(base: &str, tags: &[TagCount], current: Option<&str>) -> Markup {
    html! {
        @if !tags.is_empty() {
            nav.tags aria-label="タグ" {
                a href={ (base) "/" } aria-current=[current.is_none().then_some("page")] { "すべて" }
                @for t in tags.iter().take(NAV_TAGS) {
                    a href={ (base) "/tags/" (encode(&t.tag)) } data-tag=(t.tag) aria-current=[(current == Some(t.tag.as_str())).then_some("page")] {
                        (t.tag) span.muted { " (" (t.product_count) ")" }
                    }
                }
            }
        }
    }
}

/// A product's tags as links to their lists.
fn tag_links(base: &str, tags: &[String]) -> Markup {
    html! {
        @if !tags.is_empty() {
            ul.tag-links aria-label="タグ" {
                @for t in tags { li { a href={ (base) "/tags/" (encode(t)) } rel="tag" { (t) } } }
            }
        }
    }
}

/// Products as cards: image, title, price, stock.
fn grid(base: &str, items: &[StorefrontProduct]) -> Markup {
    html! {
        @if items.is_empty() {
            p.muted { "商品はまだありません。" }
        } @else {
            ul.grid {
                @for p in items {
                    li data-product=(p.handle) {
                        a.item href={ (base) "/products/" (p.handle) } {
                            div.thumb {
                                @if let Some(img) = p.images.first() {
                                    (layout::image(img, "(max-width: 600px) 50vw, 240px", false))
                                } @else {
                                    span.none { "画像なし" }
                                }
                            }
                            span.title { (p.title) }
                            div { (list_price(p)) }
                            div { (layout::stock(p.availability, all_digital(p))) }
                        }
                        (tag_links(base, &p.tags))
                    }
                }
            }
        }
    }
}

fn all_digital(p: &StorefrontProduct) -> bool {
    !p.variants.is_empty() && p.variants.iter().all(|v| v.fulfillment_type == FulfillmentType::Digital)
}

/// The lowest price ("¥1,080〜" when variants differ), with the compare-at price of a product
/// with one price.
fn list_price(p: &StorefrontProduct) -> Markup {
    let compare = p.variants.first().and_then(|v| v.compare_at_price.as_ref()).filter(|_| p.price_min == p.price_max);
    html! {
        (layout::price(&p.price_min, compare))
        @if p.price_min != p.price_max { span.muted { "〜" } }
    }
}

/// One product: images, description, its variants to choose from with price and stock, and
/// the add-to-cart form.
pub async fn product(
    State(s): State<AppState>,
    shop: Shop,
    headers: HeaderMap,
    Path((_store, handle)): Path<(String, String)>,
) -> Response {
    let key = format!("page:product:{}", handle.to_lowercase());
    cached_page(&s, &shop, key, &headers, || async {
        let mut tx = shop.begin(&s).await.map_err(|f| (f, String::new()))?;
        let name = shop.name(&mut tx).await.map_err(|f| (f, String::new()))?;
        let p = storefront::by_handle(&mut tx, shop.store_id, &handle).await.map_err(|e| (e.into(), name.clone()))?;
        tx.commit().await.map_err(|e| (e.into(), name.clone()))?;
        let base = shop.base();
        let buyable: Vec<_> =
            p.variants.iter().filter(|v| v.availability != catalog::storefront::Availability::SoldOut).collect();
        let body = html! {
            article.product data-product=(p.handle) {
                div.gallery {
                    @for (i, img) in p.images.iter().enumerate() {
                        (layout::image(img, "(max-width: 768px) 100vw, 600px", i == 0))
                    }
                    @if p.images.is_empty() { div.thumb { span.none { "画像なし" } } }
                }
                div {
                    h1 { (p.title) }
                    @if !p.vendor.is_empty() { p.muted { (p.vendor) } }
                    p { (list_price(&p)) }
                    form.add method="post" action={ (base) "/cart/items" } {
                        fieldset {
                            legend { "種類" }
                            @for (i, v) in p.variants.iter().enumerate() {
                                @let sold_out = v.availability == catalog::storefront::Availability::SoldOut;
                                @let checked = buyable.first().is_some_and(|b| b.id == v.id);
                                label.choice data-variant=(v.sku) {
                                    input type="radio" name="variant_id" value=(v.id) checked[checked] disabled[sold_out] id={ "v" (i) };
                                    span {
                                        (if v.title.is_empty() { p.title.as_str() } else { v.title.as_str() })
                                        " " (layout::price(&v.price, v.compare_at_price.as_ref()))
                                        " " (layout::stock(v.availability, v.fulfillment_type == FulfillmentType::Digital))
                                        @if let Some(n) = v.available_quantity { span.muted { " 残り" (n) "点" } }
                                    }
                                }
                            }
                        }
                        div.row {
                            div {
                                label for="quantity" { "数量" }
                                input.qty #quantity type="number" name="quantity" value="1" min="1" max="1000" inputmode="numeric";
                            }
                            button type="submit" disabled[buyable.is_empty()] {
                                (if buyable.is_empty() { "売り切れ" } else { "カートに入れる" })
                            }
                        }
                    }
                    @if !p.description.is_empty() { div.description { (p.description) } }
                    @if !p.tags.is_empty() {
                        div.product-tags { span.muted { "タグ:" } (tag_links(&base, &p.tags)) }
                    }
                }
            }
        };
        let frame = Frame { base: &base, store_name: &name, title: &p.seo_title, description: p.seo_description.as_deref() };
        Ok(layout::page(&frame, body))
    })
    .await
}

/// Search: the storefront API's search (`search::storefront`), with the vendor and option
/// facets as links that narrow the results. Not cached (as the API's search is not).
pub async fn search(State(s): State<AppState>, shop: Shop, Query(params): Query<SearchParams>) -> Response {
    let base = shop.base();
    let mut tx = match shop.begin(&s).await {
        Ok(tx) => tx,
        Err(f) => return layout::failure_page(None, &f),
    };
    let name = match shop.name(&mut tx).await {
        Ok(n) => n,
        Err(f) => return layout::failure_page(None, &f),
    };
    let frame = Frame { base: &base, store_name: &name, title: "検索", description: None };
    let Some(index) = &s.search else {
        let f = Failure::new(StatusCode::SERVICE_UNAVAILABLE, "search_unavailable", "search is not configured");
        return layout::failure_page(Some(&frame), &f);
    };
    let params = SearchParams { limit: Some(PER_PAGE), ..params };
    let page = match search::storefront::search(&mut tx, index, shop.store_id, &params).await {
        Ok(p) => p,
        Err(e) => return layout::failure_page(Some(&frame), &e.into()),
    };
    let _ = tx.commit().await;
    let q = params.q.clone().unwrap_or_default();
    let link = |vendor: Option<&str>, option: Option<&str>| {
        let mut url = format!("{base}/search?q={}", encode(&q));
        if let Some(v) = vendor.or(params.vendor.as_deref()) {
            url.push_str(&format!("&vendor={}", encode(v)));
        }
        if let Some(o) = option.or(params.option.as_deref()) {
            url.push_str(&format!("&option={}", encode(o)));
        }
        url
    };
    let body = html! {
        h1 {
            @if q.is_empty() { "すべての商品" } @else { "「" (q) "」の検索結果" }
        }
        p.muted data-total=(page.total) { (page.total) "件" }
        @if !page.facets.vendor.is_empty() || !page.facets.options.is_empty() {
            nav.facets aria-label="絞り込み" {
                @if !page.facets.vendor.is_empty() {
                    div {
                        strong { "ブランド" }
                        ul {
                            @for (v, n) in &page.facets.vendor {
                                li { a href=(link(Some(v), None)) data-facet="vendor" aria-current=[(params.vendor.as_deref() == Some(v)).then_some("true")] { (v) " (" (n) ")" } }
                            }
                        }
                    }
                }
                @for (option, values) in &page.facets.options {
                    div {
                        strong { (option) }
                        ul {
                            @for (value, n) in values {
                                @let pair = format!("{option}:{value}");
                                li { a href=(link(None, Some(&pair))) data-facet="option" { (value) " (" (n) ")" } }
                            }
                        }
                    }
                }
                @if params.vendor.is_some() || params.option.is_some() {
                    div { a href={ (base) "/search?q=" (encode(&q)) } { "絞り込みを解除" } }
                }
            }
        }
        (grid(&base, &page.items))
        @if let Some(next) = &page.next_cursor {
            nav.pager { a rel="next" href={ (link(None, None)) "&cursor=" (next) } { "次のページ" } }
        }
    };
    let mut res = layout::respond(StatusCode::OK, layout::page(&frame, body));
    res.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    res
}

/// Percent-encodes a query value.
pub fn encode(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_values_are_encoded() {
        assert_eq!(super::encode("緑茶 a&b"), "%E7%B7%91%E8%8C%B6%20a%26b");
    }
}
