//! `tenpo bench storefront-pages`: the storefront's HTML pages (crates/storefront) beside the
//! storefront API's JSON for the same data in the same run: the product list, a tag's list, a
//! product, the cart. The bars (issue 20): the list page at least half the JSON list's requests per second
//! at c=64 with p99 under 10 ms, under 60 KB of HTML, CSS and JS on first load; the product
//! and cart pages of the same order.

use std::sync::Arc;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::Target;
use super::load::{Failure, Phase, Report, measure_gets, measure_on_connections};
use super::scenarios::{catalog_csv, new_shop, post};

/// Products in the catalog; pages show 24 (the HTML list's page size, asked of the JSON too).
const PRODUCTS: usize = 100;

/// GETs `path` with `headers` from each client's own connection, expecting 200.
async fn gets_with(
    name: &str,
    t: &Target,
    path: String,
    headers: Vec<(&'static str, String)>,
) -> anyhow::Result<Phase> {
    let (path, headers) = (Arc::new(path), Arc::new(headers));
    Ok(measure_on_connections(name, t.addr()?, t.concurrency, t.duration, move |mut conn, _| {
        let (path, headers) = (path.clone(), headers.clone());
        Box::pin(async move {
            let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let answer = match conn.send("GET", &path, &h, None).await {
                Ok((200, _)) => Ok(()),
                Ok((status, _)) => Err(Failure::Answer(format!("{path}: status {status}"))),
                Err(e) => Err(Failure::Connection(e)),
            };
            (conn, answer)
        })
    })
    .await)
}

pub async fn storefront_pages(t: &Target) -> anyhow::Result<Report> {
    let shop = new_shop(t).await?;
    let res = t
        .client
        .post(t.url("/admin/v1/products/import"))
        .bearer_auth(&shop.owner_token)
        .header("content-type", "text/csv")
        .body(catalog_csv(PRODUCTS))
        .send()
        .await?;
    if !res.status().is_success() {
        bail!("catalog import failed: {}", res.text().await.unwrap_or_default());
    }
    let h = shop.store_handle.clone();
    // a cart with two lines, for the cart page and the JSON cart
    let created = post(t, &format!("/store/v1/stores/{h}/carts"), "", json!({})).await?;
    let (cart, secret) = (
        created["cart"]["id"].as_str().context("cart id")?.to_string(),
        created["secret"].as_str().context("cart secret")?.to_string(),
    );
    let list: Value =
        t.client.get(t.url(&format!("/store/v1/stores/{h}/products?limit=2"))).send().await?.json().await?;
    for p in list["items"].as_array().context("products")? {
        let variant = p["variants"][0]["id"].as_str().context("variant")?;
        let res = t
            .client
            .post(t.url(&format!("/store/v1/stores/{h}/carts/{cart}/items")))
            .header("x-cart-secret", &secret)
            .json(&json!({ "variant_id": variant, "quantity": 1 }))
            .send()
            .await?;
        anyhow::ensure!(res.status().is_success(), "add to cart: {}", res.status());
    }

    // first load: the list page, its stylesheets (the shared one and the store's theme), script
    // and the cart count the script asks for
    let page = t.client.get(t.url(&format!("/shop/{h}/"))).send().await?;
    anyhow::ensure!(page.status().is_success(), "the list page: {}", page.status());
    let etag = page.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_string);
    let html_bytes = page.bytes().await?.len();
    let mut asset_bytes = 0;
    let theme = format!("/shop/{h}/theme.css");
    let count = format!("/shop/{h}/cart/count");
    for asset in ["/shop-assets/storefront.css", "/shop-assets/storefront.js", theme.as_str(), count.as_str()] {
        let res = t.client.get(t.url(asset)).send().await?;
        // an older binary without the theme or the count: nothing to load
        if res.status().is_success() {
            asset_bytes += res.bytes().await?.len();
        }
    }

    let addr = t.addr()?;
    let (c, d) = (t.concurrency, t.duration);
    let fixed = |p: String| -> Arc<dyn Fn(u64) -> String + Send + Sync> { Arc::new(move |_| p.clone()) };
    let each = |prefix: String| -> Arc<dyn Fn(u64) -> String + Send + Sync> {
        Arc::new(move |n| format!("{prefix}tea-{}", n % PRODUCTS as u64))
    };
    let base = measure_gets("baseline: GET /healthz", addr, c, d, fixed("/healthz".into()), None, 200).await;
    let json_list = measure_gets(
        "JSON product list, 24 (cached)",
        addr,
        c,
        d,
        fixed(format!("/store/v1/stores/{h}/products?limit=24")),
        None,
        200,
    )
    .await;
    let html_list =
        measure_gets("HTML product list, 24 (cached)", addr, c, d, fixed(format!("/shop/{h}/")), None, 200).await;
    // a tag's list (every product carries "green"): the same page size through the tag filter
    let json_tag = measure_gets(
        "JSON tag list ?tag=green, 24 (cached)",
        addr,
        c,
        d,
        fixed(format!("/store/v1/stores/{h}/products?tag=green&limit=24")),
        None,
        200,
    )
    .await;
    let html_tag = measure_gets(
        "HTML tag page /tags/green, 24 (cached)",
        addr,
        c,
        d,
        fixed(format!("/shop/{h}/tags/green")),
        None,
        200,
    )
    .await;
    let html_304 =
        measure_gets("HTML product list, If-None-Match", addr, c, d, fixed(format!("/shop/{h}/")), etag, 304).await;
    let json_product =
        measure_gets("JSON product (cached)", addr, c, d, each(format!("/store/v1/stores/{h}/products/")), None, 200)
            .await;
    let html_product =
        measure_gets("HTML product page (cached)", addr, c, d, each(format!("/shop/{h}/products/")), None, 200).await;
    let json_cart = gets_with(
        "JSON cart",
        t,
        format!("/store/v1/stores/{h}/carts/{cart}"),
        vec![("x-cart-secret", secret.clone())],
    )
    .await?;
    let html_cart = gets_with(
        "HTML cart page",
        t,
        format!("/shop/{h}/cart"),
        vec![("cookie", format!("tenpo_cart={cart}.{secret}"))],
    )
    .await?;

    let ratio = |a: &Phase, b: &Phase| a.per_second() / b.per_second().max(1e-9);
    let notes = vec![
        format!(
            "list page: {:.2}x the JSON list's req/s (bar: at least 0.5x), p99 {:.2} ms (bar: under 10 ms) at c={c}",
            ratio(&html_list, &json_list),
            html_list.percentile_ms(0.99)
        ),
        format!(
            "tag page: {:.2}x the JSON tag list's req/s, p99 {:.2} ms; {:.2}x the product list page's req/s",
            ratio(&html_tag, &json_tag),
            html_tag.percentile_ms(0.99),
            ratio(&html_tag, &html_list)
        ),
        format!(
            "first load: {html_bytes} bytes of HTML + {asset_bytes} bytes of CSS and JS = {} bytes (bar: under 60 KB), images apart",
            html_bytes + asset_bytes
        ),
        format!(
            "product page {:.2}x the JSON product, cart page {:.2}x the JSON cart",
            ratio(&html_product, &json_product),
            ratio(&html_cart, &json_cart)
        ),
    ];
    Ok(Report {
        title: format!("storefront-pages: store {h}, {PRODUCTS} products x 3 variants, pages of 24"),
        phases: vec![
            base,
            json_list,
            html_list,
            json_tag,
            html_tag,
            html_304,
            json_product,
            html_product,
            json_cart,
            html_cart,
        ],
        notes,
    })
}
