//! Exactly `max_downloads` downloads succeed, however many race.

use super::{bought_guide, delivery_row, downloads, events_of, no_redirects, request_download};
use crate::support::TestApp;

#[tokio::test]
async fn twenty_concurrent_downloads_against_a_limit_of_three_grant_exactly_three() {
    let app = TestApp::spawn().await;
    let (t, order, delivery) = bought_guide(&app, Some(3)).await;
    assert_eq!(downloads(&app, &t.shop, &order).await.expect(200)["deliveries"][0]["max_downloads"], 3);

    let client = no_redirects();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(20));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (app_url, client, barrier) = (app.url(""), client.clone(), barrier.clone());
        let (handle, order_id, token, delivery) =
            (t.shop.handle.clone(), order.id.clone(), order.token.clone(), delivery.clone());
        tasks.spawn(async move {
            barrier.wait().await;
            let res = client
                .post(format!("{app_url}/store/v1/stores/{handle}/orders/{order_id}/downloads/{delivery}"))
                .header("x-order-token", token)
                .send()
                .await
                .unwrap();
            TestApp::read(res).await
        });
    }
    let (mut granted, mut refused) = (0, 0);
    while let Some(answer) = tasks.join_next().await {
        let a = answer.unwrap();
        match a.status.as_u16() {
            303 => granted += 1,
            _ => {
                a.expect_problem(410, "download_limit_reached");
                refused += 1;
            }
        }
    }
    assert_eq!((granted, refused), (3, 17));
    assert_eq!(delivery_row(&app, &delivery).await, ("active".into(), 3, Some(3)));
    let downloaded = events_of(&app, &delivery).await.iter().filter(|e| *e == "digital.downloaded").count();
    assert_eq!(downloaded, 3, "one event per granted download");
    // and a 21st, later, is refused too
    let late = request_download(&app, &client, &t.shop, &order, &delivery).await;
    TestApp::read(late).await.expect_problem(410, "download_limit_reached");
}
