//! Health, readiness, metrics, the API reference, request ids and framework-level errors.

use reqwest::Method;

use crate::support::TestApp;

#[tokio::test]
async fn health_readiness_metrics_and_reference_answer() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    app.call(Method::GET, "/healthz", None, None).await.expect(200);
    let ready = app.call(Method::GET, "/readyz", None, None).await.expect(200);
    assert_eq!(ready["database"], "ok");

    let spec = app.call(Method::GET, "/openapi.json", None, None).await.expect(200);
    assert!(spec["paths"]["/admin/v1/auth/login"]["post"].is_object());
    assert!(spec["components"]["securitySchemes"]["staff"].is_object());

    let docs = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("swagger-ui"));
    // the UI's script is served by Tenpo itself: the page works offline
    let script = app.client.get(app.url("/docs/swagger-ui-bundle.js")).send().await.unwrap();
    assert_eq!(script.status(), 200);
    assert!(script.bytes().await.unwrap().len() > 100_000);

    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("tenpo_http_requests_total"), "{metrics}");
    assert!(metrics.contains(r#"route="/readyz""#), "{metrics}");
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_errors_repeat_it() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let res = app.client.get(app.url("/no/such/thing")).header("x-request-id", "req-123").send().await.unwrap();
    assert_eq!(res.headers()["x-request-id"], "req-123");
    let a = TestApp::read(res).await;
    assert_eq!(a.body["request_id"], "req-123");
    a.expect_problem(404, "not_found");

    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert!(res.headers().contains_key("x-request-id"));

    app.call(Method::DELETE, "/healthz", None, None).await.expect_problem(405, "method_not_allowed");
    app.call(Method::GET, "/admin/v1/store", None, None).await.expect_problem(401, "missing_token");
    app.call(Method::GET, "/admin/v1/store", Some("tps_not-a-real-token"), None)
        .await
        .expect_problem(401, "invalid_token");
}

#[tokio::test]
async fn a_request_that_finds_no_free_connection_is_a_503_overloaded_with_retry_after() {
    let app = TestApp::spawn_with(|c, o| {
        o.worker = false;
        c.database.max_connections = 3;
        c.database.acquire_timeout_secs = 1;
    })
    .await;
    let shop = app.shop().await;
    // something holds every connection of the pool (under load: every other request)
    let mut held = Vec::new();
    while let Ok(Ok(c)) = tokio::time::timeout(std::time::Duration::from_millis(300), app.db.platform().acquire()).await
    {
        held.push(c);
    }
    assert!(!held.is_empty());
    let carts = format!("/store/v1/stores/{}/carts", shop.handle);
    for answer in [
        app.get("/admin/v1/orders", &shop.owner_token).await,
        app.call(Method::POST, &carts, None, Some(serde_json::json!({}))).await,
    ] {
        assert_eq!(answer.status, 503, "{:?}", answer.body);
        assert_eq!(answer.content_type, "application/problem+json");
        assert_eq!(answer.body["code"], "overloaded");
        assert!(answer.body["detail"].as_str().unwrap().contains("retry"), "{}", answer.body);
        assert_eq!(answer.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    }
    drop(held);
    // nothing was done, and the next try goes through
    assert_eq!(app.count("SELECT count(*) FROM carts").await, 0);
    app.get("/admin/v1/orders", &shop.owner_token).await.expect(200);
    app.call(Method::POST, &carts, None, Some(serde_json::json!({}))).await.expect(201);
}
