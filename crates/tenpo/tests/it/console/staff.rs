//! Staff and promotions in the browser: the owner adds a member (a short password first: the
//! API's message at the field, nobody added), the member signs in with what the owner chose
//! and sees what their role allows, the owner makes them an admin and ends their sessions;
//! the owner creates a promotion code and turns it off; each change seen through the API. In
//! a mall, a vendor's owner sees their vendor's members only.

use serde_json::json;

use crate::checkout::tea_shop;
use crate::mall;
use crate::support::TestApp;
use crate::support::browser::Browser;
use crate::support::fixtures::PASSWORD;

#[tokio::test]
async fn console_owner_adds_staff_changes_their_role_and_runs_promotions_seen_through_the_api() {
    let app = TestApp::spawn().await;
    let tea = tea_shop(&app).await;
    let shop = &tea.shop;
    let token = &shop.owner_token;
    let members = || app.count("SELECT count(*) FROM store_staff WHERE deleted_at IS NULL");
    let before = members().await;
    let mut b = Browser::start(&app.base).await;
    assert_eq!(b.sign_in(&shop.handle, &shop.owner_email, PASSWORD).await, 200);

    b.goto("/console/staff").await;
    assert_eq!(b.count("table.staff tbody tr").await as i64, before);
    let api_says = app
        .post(
            "/admin/v1/staff",
            token,
            json!({ "name": "鈴木", "email": "suzuki@example.jp", "password": "short", "role": "staff" }),
        )
        .await
        .expect(422);
    b.fill("#new-name", "鈴木 一郎").await;
    b.fill("#new-email", "suzuki@example.jp").await;
    b.fill("#new-password", "short").await;
    b.select("#new-role", "staff").await;
    assert_eq!(b.click("form.new-staff button[type=submit]").await, 422);
    assert_eq!(
        b.text("form.new-staff [data-field=password]").await,
        api_says["errors"][0]["message"].as_str().unwrap()
    );
    assert_eq!(b.value("#new-email").await, "suzuki@example.jp", "what was typed stays");
    assert_eq!(members().await, before);
    b.fill("#new-password", "a-long-enough-password").await;
    assert_eq!(b.click("form.new-staff button[type=submit]").await, 200);
    assert_eq!(members().await, before + 1);
    let listed = app.get("/admin/v1/staff", token).await.expect(200);
    let member =
        listed["items"].as_array().unwrap().iter().find(|m| m["email"] == "suzuki@example.jp").unwrap().clone();
    assert_eq!(member["role"], "staff");
    let id = member["id"].as_str().unwrap().to_string();
    b.screenshots("staff").await;

    // the member signs in in a browser of their own and sees what a staff role allows
    let mut m = Browser::start(&app.base).await;
    assert_eq!(m.sign_in(&shop.handle, "suzuki@example.jp", "a-long-enough-password").await, 200);
    assert!(m.text("nav.main").await.contains("注文"));
    m.goto("/console/staff").await;
    assert_eq!(m.count("form.new-staff, form.member").await, 0, "a staff member manages no one");
    m.goto("/console/settings").await;
    assert_eq!(m.count("section.shipping button[type=submit]").await, 0, "nor the settings");

    // made an admin: through the API too
    b.select("tr[data-staff='suzuki@example.jp'] select[name=role]", "admin").await;
    assert_eq!(b.click("tr[data-staff='suzuki@example.jp'] form.member button[type=submit]").await, 200);
    assert_eq!(app.get(&format!("/admin/v1/staff/{id}"), token).await.expect(200)["role"], "admin");
    // a role change ends the member's sessions: their next page is the sign-in form
    m.goto("/console/orders").await;
    assert!(m.url().await.ends_with("/console/login"), "signed out by the role change");
    assert_eq!(m.sign_in(&shop.handle, "suzuki@example.jp", "a-long-enough-password").await, 200);
    // ending their sessions from the list signs them out again
    assert_eq!(b.click("tr[data-staff='suzuki@example.jp'] button.link").await, 200);
    m.goto("/console/orders").await;
    assert!(m.url().await.ends_with("/console/login"));
    m.close().await;

    // promotions: a code with a percentage that is no number first, then 10% off from ¥3,000
    b.goto("/console/promotions").await;
    b.fill("#code", "spring10").await;
    b.select("#discount_type", "percent").await;
    b.fill("#amount", "十").await;
    assert_eq!(b.click("form.new-promotion button[type=submit]").await, 422);
    assert!(b.count("form.new-promotion [data-field=percent_off_bps]").await == 1);
    assert_eq!(app.get("/admin/v1/promotions", token).await.expect(200)["items"].as_array().unwrap().len(), 0);
    b.fill("#amount", "10").await;
    b.fill("#min_subtotal", "3,000").await;
    b.fill("#starts_at", "2026-12-01T09:00").await;
    assert_eq!(b.click("form.new-promotion button[type=submit]").await, 200);
    let codes = app.get("/admin/v1/promotions", token).await.expect(200);
    let code = &codes["items"][0];
    assert_eq!((code["code"].as_str(), code["percent_off_bps"].as_i64()), (Some("SPRING10"), Some(1000)));
    assert_eq!(code["min_subtotal"]["amount"], 3000);
    assert_eq!(code["starts_at"], "2026-12-01T00:00:00Z", "09:00 in Japan");
    // the same code again: the API's refusal, at the form
    b.fill("#code", "SPRING10").await;
    b.select("#discount_type", "fixed").await;
    b.fill("#amount", "500").await;
    assert_eq!(b.click("form.new-promotion button[type=submit]").await, 409);
    assert!(b.text("section.new-promotion .problem").await.contains("SPRING10"));
    b.screenshots("promotions").await;
    assert_eq!(b.click("tr[data-code=SPRING10] form.toggle button").await, 200);
    assert_eq!(app.get("/admin/v1/promotions", token).await.expect(200)["items"][0]["status"], "inactive");
    b.close().await;
}

/// A vendor's owner sees and adds their vendor's members only.
#[tokio::test]
async fn console_vendor_owner_sees_only_their_vendors_staff() {
    let app = TestApp::spawn().await;
    let shop = mall::mall(&app).await;
    let a = mall::vendor(&app, &shop, "Vendor A", 1000).await;
    let b_vendor = mall::vendor(&app, &shop, "Vendor B", 1000).await;
    let mut br = Browser::start(&app.base).await;
    assert_eq!(br.sign_in(&shop.handle, &a.owner.email, PASSWORD).await, 200);
    br.goto("/console/staff").await;
    let shown = br.texts("table.staff tbody tr").await.join("\n");
    for m in [&a.owner, &a.admin, &a.staff] {
        assert!(shown.contains(&m.email), "{shown}");
    }
    assert!(!shown.contains(&b_vendor.owner.email) && !shown.contains(&shop.owner_email), "{shown}");
    assert_eq!(br.count("#new-vendor").await, 0, "a vendor's owner does not choose the vendor");
    br.fill("#new-name", "A の新人").await;
    br.fill("#new-email", "new-a@example.jp").await;
    br.fill("#new-password", "a-long-enough-password").await;
    assert_eq!(br.click("form.new-staff button[type=submit]").await, 200);
    let listed = app.get("/admin/v1/staff?limit=200", &shop.owner_token).await.expect(200);
    let added = listed["items"].as_array().unwrap().iter().find(|m| m["email"] == "new-a@example.jp").unwrap().clone();
    assert_eq!(added["vendor_id"], a.id.as_str());
    br.close().await;
}
