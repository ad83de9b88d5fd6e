//! Staff sign-in, throttling, token expiry and revocation, and the role matrix.

use reqwest::Method;
use serde_json::json;

use crate::support::TestApp;
use crate::support::fixtures::PASSWORD;

async fn try_login(app: &TestApp, store: &str, login: &str, password: &str) -> crate::support::Answer {
    app.call(
        Method::POST,
        "/admin/v1/auth/login",
        None,
        Some(json!({ "store": store, "login": login, "password": password })),
    )
    .await
}

#[tokio::test]
async fn staff_sign_in_with_email_login_id_or_phone_in_any_common_form() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    app.post(
        "/admin/v1/staff",
        &shop.owner_token,
        json!({ "login_id": "Tanaka.K", "phone": "090-1234-5678", "password": PASSWORD, "role": "staff" }),
    )
    .await
    .expect(201);
    for login in ["tanaka.k", "TANAKA.K", "09012345678", "+81 90 1234 5678", "０９０－１２３４－５６７８"]
    {
        let body = try_login(&app, &shop.handle, login, PASSWORD).await.expect(200);
        assert_eq!(body["staff"]["role"], "staff", "{login}");
        assert!(body["token"].as_str().unwrap().starts_with("tps_"));
    }
    let body = try_login(&app, &shop.handle, &shop.owner_email.to_uppercase(), PASSWORD).await.expect(200);
    assert_eq!(body["staff"]["role"], "owner");
    // the store can be named by id too
    try_login(&app, &shop.store_id, &shop.owner_email, PASSWORD).await.expect(200);
    // only the hash of a token is stored
    let token = body["token"].as_str().unwrap();
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM staff_sessions WHERE token_hash::text LIKE '%{token}%'")).await,
        0
    );
}

#[tokio::test]
async fn wrong_password_unknown_login_and_unknown_store_look_the_same() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let a = try_login(&app, &shop.handle, &shop.owner_email, "wrong-password-123")
        .await
        .expect_problem(401, "invalid_credentials");
    let b =
        try_login(&app, &shop.handle, "nobody@example.com", PASSWORD).await.expect_problem(401, "invalid_credentials");
    let c =
        try_login(&app, "no-such-store", &shop.owner_email, PASSWORD).await.expect_problem(401, "invalid_credentials");
    assert_eq!(a["detail"], b["detail"]);
    assert_eq!(b["detail"], c["detail"]);
}

#[tokio::test]
async fn repeated_failures_lock_the_account_even_for_the_right_password() {
    let app = TestApp::spawn_with(|c, o| {
        o.worker = false;
        c.auth.max_failures_per_account = 3;
        c.auth.lockout_secs = 2;
    })
    .await;
    let shop = app.shop().await;
    for _ in 0..3 {
        try_login(&app, &shop.handle, &shop.owner_email, "wrong-password-123")
            .await
            .expect_problem(401, "invalid_credentials");
    }
    let locked = try_login(&app, &shop.handle, &shop.owner_email, PASSWORD).await;
    let retry: u64 = locked.headers.get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    locked.expect_problem(429, "too_many_attempts");
    // another account in the same store is not locked
    let (_, _) = app.member(&shop, "staff").await;
    // after the lockout the right password works again
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    try_login(&app, &shop.handle, &shop.owner_email, PASSWORD).await.expect(200);
}

#[tokio::test]
async fn repeated_failures_from_one_address_lock_that_address() {
    let app = TestApp::spawn_with(|c, o| {
        o.worker = false;
        c.auth.max_failures_per_address = 4;
    })
    .await;
    let shop = app.shop().await;
    for i in 0..4 {
        try_login(&app, &shop.handle, &format!("guess{i}@example.com"), "whatever-123")
            .await
            .expect_problem(401, "invalid_credentials");
    }
    try_login(&app, &shop.handle, &shop.owner_email, PASSWORD).await.expect_problem(429, "too_many_attempts");
}

#[tokio::test]
async fn tokens_expire() {
    let app = TestApp::spawn_with(|c, o| {
        o.worker = false;
        c.auth.session_ttl_secs = 1;
    })
    .await;
    let shop = app.shop().await;
    let token = app.login(&shop.handle, &shop.owner_email, PASSWORD).await;
    app.get("/admin/v1/auth/me", &token).await.expect(200);
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    app.get("/admin/v1/auth/me", &token).await.expect_problem(401, "invalid_token");
}

#[tokio::test]
async fn logout_logout_all_password_change_and_disabling_end_sessions() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;

    let t1 = app.login(&shop.handle, &shop.owner_email, PASSWORD).await;
    app.call(Method::POST, "/admin/v1/auth/logout", Some(&t1), None).await.expect(204);
    app.get("/admin/v1/auth/me", &t1).await.expect_problem(401, "invalid_token");
    app.get("/admin/v1/auth/me", &shop.owner_token).await.expect(200);

    let t2 = app.login(&shop.handle, &shop.owner_email, PASSWORD).await;
    let sessions = app.get("/admin/v1/auth/sessions", &t2).await.expect(200);
    assert_eq!(sessions.as_array().unwrap().len(), 2);
    let out = app.call(Method::POST, "/admin/v1/auth/logout-all", Some(&t2), None).await.expect(200);
    assert_eq!(out["revoked"], 2);
    app.get("/admin/v1/auth/me", &t2).await.expect_problem(401, "invalid_token");
    app.get("/admin/v1/auth/me", &shop.owner_token).await.expect_problem(401, "invalid_token");

    let owner = app.login(&shop.handle, &shop.owner_email, PASSWORD).await;
    let shop = crate::support::Shop { owner_token: owner.clone(), ..shop };
    let (member, member_token) = app.member(&shop, "staff").await;
    let id = member["id"].as_str().unwrap();
    app.patch(&format!("/admin/v1/staff/{id}"), &owner, json!({ "password": "a-brand-new-password" }))
        .await
        .expect(200);
    app.get("/admin/v1/auth/me", &member_token).await.expect_problem(401, "invalid_token");
    let email = member["email"].as_str().unwrap();
    try_login(&app, &shop.handle, email, PASSWORD).await.expect_problem(401, "invalid_credentials");
    let member_token = app.login(&shop.handle, email, "a-brand-new-password").await;
    app.patch(&format!("/admin/v1/staff/{id}"), &owner, json!({ "status": "disabled" })).await.expect(200);
    app.get("/admin/v1/auth/me", &member_token).await.expect_problem(401, "invalid_token");
    try_login(&app, &shop.handle, email, "a-brand-new-password").await.expect_problem(401, "invalid_credentials");
}

#[tokio::test]
async fn a_suspended_tenant_cannot_sign_in_or_use_its_tokens() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    app.op(Method::PATCH, &format!("/platform/v1/tenants/{}", shop.tenant_id), Some(json!({ "status": "suspended" })))
        .await
        .expect(200);
    app.get("/admin/v1/store", &shop.owner_token).await.expect_problem(401, "invalid_token");
}

#[tokio::test]
async fn the_role_matrix_is_enforced() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let (_, staff) = app.member(&shop, "staff").await;
    let (admin_member, admin) = app.member(&shop, "admin").await;

    // staff: may read, may not manage
    app.get("/admin/v1/locations", &staff).await.expect(200);
    app.post("/admin/v1/locations", &staff, json!({ "code": "x", "name": "X" }))
        .await
        .expect_problem(403, "permission_denied");
    app.post("/admin/v1/staff", &staff, json!({ "email": "x@y.test", "password": PASSWORD, "role": "staff" }))
        .await
        .expect_problem(403, "permission_denied");
    app.patch("/admin/v1/store", &staff, json!({ "name": "Mine" })).await.expect_problem(403, "permission_denied");
    // but may change their own name
    let me = app.get("/admin/v1/auth/me", &staff).await.expect(200);
    let my_id = me["staff"]["id"].as_str().unwrap();
    app.patch(&format!("/admin/v1/staff/{my_id}"), &staff, json!({ "name": "Sato" })).await.expect(200);
    app.patch(&format!("/admin/v1/staff/{my_id}"), &staff, json!({ "role": "owner" }))
        .await
        .expect_problem(403, "permission_denied");

    // admin: manages staff, not admins or owners
    app.post("/admin/v1/locations", &admin, json!({ "code": "osaka", "name": "Osaka" })).await.expect(201);
    app.post("/admin/v1/staff", &admin, json!({ "email": "new@y.test", "password": PASSWORD, "role": "staff" }))
        .await
        .expect(201);
    app.post("/admin/v1/staff", &admin, json!({ "email": "boss@y.test", "password": PASSWORD, "role": "owner" }))
        .await
        .expect_problem(403, "cannot_manage_role");
    app.patch(&format!("/admin/v1/staff/{}", shop.owner_id), &admin, json!({ "status": "disabled" }))
        .await
        .expect_problem(403, "cannot_manage_role");
    let admin_id = admin_member["id"].as_str().unwrap();
    app.patch(&format!("/admin/v1/staff/{admin_id}"), &admin, json!({ "role": "owner" }))
        .await
        .expect_problem(403, "cannot_manage_role");

    // owner: the last active owner cannot be demoted, disabled or deleted
    app.patch(&format!("/admin/v1/staff/{}", shop.owner_id), &shop.owner_token, json!({ "role": "admin" }))
        .await
        .expect_problem(409, "last_owner");
    app.delete(&format!("/admin/v1/staff/{}", shop.owner_id), &shop.owner_token)
        .await
        .expect_problem(409, "last_owner");
    // with a second owner it can
    app.patch(&format!("/admin/v1/staff/{admin_id}"), &shop.owner_token, json!({ "role": "owner" })).await.expect(200);
    app.patch(&format!("/admin/v1/staff/{}", shop.owner_id), &shop.owner_token, json!({ "role": "admin" }))
        .await
        .expect(200);

    // me lists the permissions of the role
    let perms = me["permissions"].as_array().unwrap();
    assert!(perms.contains(&json!("orders_fulfill")));
    assert!(!perms.contains(&json!("staff_manage")));
}

#[tokio::test]
async fn sign_in_names_are_unique_per_store_only() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let a = app.shop().await;
    let b = app.shop().await;
    let body = json!({ "email": "same@example.com", "password": PASSWORD, "role": "staff" });
    app.post("/admin/v1/staff", &a.owner_token, body.clone()).await.expect(201);
    app.post(
        "/admin/v1/staff",
        &a.owner_token,
        json!({ "email": "SAME@example.com ", "password": PASSWORD, "role": "staff" }),
    )
    .await
    .expect_problem(409, "staff_login_taken");
    app.post("/admin/v1/staff", &b.owner_token, body).await.expect(201);
}
