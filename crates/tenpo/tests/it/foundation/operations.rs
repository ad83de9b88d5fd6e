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
