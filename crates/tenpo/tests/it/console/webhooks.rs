//! Webhooks in the browser: the owner adds an endpoint (a URL the API refuses first, with its
//! message, nothing added), sees its secret once, pings it, reads the delivery log and the
//! attempt a real receiver answered, and turns the endpoint off; each seen through the API.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::TestApp;
use crate::support::browser::Browser;
use crate::support::fixtures::PASSWORD;
use crate::webhooks::receiver::Receiver;

#[tokio::test]
async fn console_owner_adds_a_webhook_pings_it_and_reads_its_delivery_log() {
    let app = TestApp::spawn_with(|c, _| {
        c.webhooks.allow_private_targets = true;
        c.webhooks.poll_ms = 50;
    })
    .await;
    let shop = app.shop().await;
    let token = &shop.owner_token;
    let receiver = Receiver::start(vec![]).await;
    let mut b = Browser::start(&app.base).await;
    assert_eq!(b.sign_in(&shop.handle, &shop.owner_email, PASSWORD).await, 200);

    b.goto("/console/webhooks").await;
    let api_says = app.post("/admin/v1/webhooks", token, json!({ "url": "not a url" })).await;
    let api_says = api_says.expect(422);
    b.fill("#url", "not a url").await;
    assert_eq!(b.click("form.new-webhook button[type=submit]").await, 422);
    let shown = b.text("section.new-webhook").await;
    let message = api_says["errors"][0]["message"].as_str().or(api_says["detail"].as_str()).unwrap().to_string();
    assert!(shown.contains(&message), "the API's message {message:?} in {shown}");
    assert_eq!(app.get("/admin/v1/webhooks", token).await.expect(200)["items"].as_array().unwrap().len(), 0);

    b.fill("#url", &receiver.url).await;
    b.fill("#description", "受注連携").await;
    assert_eq!(b.click("form.new-webhook button[type=submit]").await, 200);
    let secret = b.text("code.secret").await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    let listed = app.get("/admin/v1/webhooks", token).await.expect(200);
    let id = listed["items"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(listed["items"][0]["url"], receiver.url.as_str());
    b.goto("/console/webhooks").await;
    assert_eq!(b.count("code.secret").await, 0, "the secret is shown once");

    // a ping reaches the receiver, signed with that secret, and the log shows it
    b.goto(&format!("/console/webhooks/{id}")).await;
    assert_eq!(b.click("form[action$='/ping'] button").await, 200);
    let got = receiver.wait_for(1).await;
    assert!(got[0].signed_by(&secret), "signed with the secret the page showed");
    let started = Instant::now();
    loop {
        b.goto(&format!("/console/webhooks/{id}")).await;
        if b.count("tr[data-outcome=succeeded]").await == 1 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "the ping's delivery never succeeded");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    b.screenshots("webhook").await;
    b.click("tr[data-outcome=succeeded] a").await;
    assert_eq!(b.attr("ol.attempts li", "data-outcome").await.as_deref(), Some("succeeded"));
    assert!(b.text("ol.attempts").await.contains("HTTP 200"));

    // off: through the API too
    b.goto(&format!("/console/webhooks/{id}")).await;
    b.eval("document.querySelector('form.edit-webhook input[name=enabled]').checked = false").await;
    assert_eq!(b.click("form.edit-webhook button[type=submit]").await, 200);
    assert_eq!(app.get(&format!("/admin/v1/webhooks/{id}"), token).await.expect(200)["enabled"], false);
    b.close().await;
}
