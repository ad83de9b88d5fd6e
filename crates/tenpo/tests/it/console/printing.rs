//! Printing from the console in the browser: the order page's invoice, receipt and delivery
//! slip buttons, and the order list's bulk print of delivery slips and receipts (one page, one
//! document per order, page breaks between; receipts only for paid orders, the others named as
//! skipped), each checked for what it prints, and the receipts seen through the API.

use serde_json::json;

use crate::checkout::{tea_shop, yen};
use crate::mall;
use crate::support::TestApp;
use crate::support::browser::Browser;
use crate::support::fixtures::PASSWORD;

/// What the page's documents look like when printed: how many, and whether each breaks the page
/// after it (the document's own style sheet applies).
const DOCS: &str = "(() => { const d = [...document.querySelectorAll('.doc')];
    return { count: d.length, breaks: d.slice(0, -1).every(e => getComputedStyle(e).breakAfter === 'page'),
             a4: getComputedStyle(document.body).fontSize }; })()";

#[tokio::test]
async fn console_prints_an_orders_documents_and_the_lists_selection_in_bulk() {
    let app = TestApp::spawn().await;
    let tea = tea_shop(&app).await;
    let shop = &tea.shop;
    let paid = mall::order(&app, shop, &[(&tea.tea, 2), (&tea.cup, 1)], "hanako@example.jp", "bank_transfer").await;
    let unpaid = mall::order(&app, shop, &[(&tea.cup, 1)], "taro@example.jp", "bank_transfer").await;
    let cod = mall::order(&app, shop, &[(&tea.tea, 1)], "jiro@example.jp", "cod").await;
    let (paid_id, paid_no) = (paid["id"].as_str().unwrap(), paid["number"].as_i64().unwrap());
    app.post(
        &format!("/admin/v1/orders/{paid_id}/payments/confirm"),
        &shop.owner_token,
        json!({ "received": yen(paid["total"]["amount"].as_i64().unwrap()) }),
    )
    .await
    .expect(200);
    let mut b = Browser::start(&app.base).await;
    assert_eq!(b.sign_in(&shop.handle, &shop.owner_email, PASSWORD).await, 200);

    // the order page's buttons: each opens its document in a new tab, styled for A4
    b.goto(&format!("/console/orders/{paid_id}")).await;
    b.screenshots("order-paid").await;
    for (kind, title, what) in
        [("invoice", "請求書", "Sencha"), ("delivery-slip", "納品書", "山田 花子"), ("receipt", "領収書", "お品代")]
    {
        let url = b.click_popup(&format!("a[data-document={kind}]")).await;
        assert!(url.ends_with(&format!("/console/orders/{paid_id}/documents/{kind}")), "{url}");
        assert_eq!(b.attr("body", "data-document").await.as_deref(), Some(kind));
        let text = b.text("body").await;
        assert!(text.contains(title) && text.contains(what), "{kind}: {text}");
        assert!(text.contains(&format!("注文番号 {paid_no}")), "{kind}: {text}");
        // the total as the order stores it: 2 × 1,080 + 3,300 + 800 shipping
        assert!(text.contains("¥6,260"), "{kind}: {text}");
        let docs = b.eval(DOCS).await;
        assert_eq!(docs["count"], 1, "{kind}");
        assert_eq!(docs["a4"], "13.3333px", "{kind}: the document's own 10pt style applies");
        b.screenshots(&format!("document-{kind}")).await;
        b.first_tab().await;
    }
    // an unpaid order's page offers no receipt
    b.goto(&format!("/console/orders/{}", unpaid["id"].as_str().unwrap())).await;
    assert_eq!(b.count("a[data-document=receipt]").await, 0);
    assert_eq!(b.count("a[data-document=invoice]").await, 1);

    // the list: select the three orders and print their delivery slips, one per order
    b.goto("/console/orders").await;
    for o in [&paid, &unpaid, &cod] {
        b.check(&format!("input[name=order][value='{}']", o["id"].as_str().unwrap())).await;
    }
    b.screenshots("orders-bulk-print").await;
    b.click_popup("button[name=kind][value=delivery-slip]").await;
    assert_eq!(b.attr("body", "data-document").await.as_deref(), Some("delivery-slip"));
    let docs = b.eval(DOCS).await;
    assert_eq!(
        (&docs["count"], &docs["breaks"]),
        (&json!(3), &json!(true)),
        "one slip per order, a page break between"
    );
    let slips = b.texts(".doc").await;
    // in the list's order, newest first
    for (slip, o) in slips.iter().zip([&cod, &unpaid, &paid]) {
        assert!(slip.contains("納品書") && slip.contains(&format!("注文番号 {}", o["number"])), "{slip}");
    }
    assert_eq!(b.count(".skipped").await, 0);
    b.screenshots("bulk-delivery-slips").await;
    b.first_tab().await;

    // receipts of the same selection: only the paid order's, the two others named as skipped
    b.click_popup("button[name=kind][value=receipt]").await;
    let docs = b.eval(DOCS).await;
    assert_eq!(docs["count"], 1);
    assert!(b.text(".doc").await.contains(&format!("注文番号 {paid_no}")));
    let skipped = b.texts(".skipped li").await;
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    for o in [&unpaid, &cod] {
        let n = o["number"].as_i64().unwrap().to_string();
        assert_eq!(
            b.text(&format!(".skipped li[data-skipped='{n}']")).await,
            format!("注文番号 {n} — 入金前のため領収書は発行できません")
        );
    }
    b.screenshots("bulk-receipts").await;
    b.first_tab().await;
    b.close().await;

    // through the API: the order page's receipt was the first copy, the bulk one the second, so
    // the next one is a reissue (再発行) with the first addressee
    let res = app
        .client
        .get(app.url(&format!("/admin/v1/orders/{paid_id}/documents/receipt")))
        .bearer_auth(&shop.owner_token)
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    assert!(html.contains("再発行") && html.contains("山田 花子"), "{html}");
    assert_eq!(app.count(&format!("SELECT copies::bigint FROM order_receipts WHERE order_id = '{paid_id}'")).await, 3);
}
