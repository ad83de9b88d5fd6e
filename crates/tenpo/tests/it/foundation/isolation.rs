//! Tenant isolation, proven at the database and over HTTP.

use kernel::TenantId;
use reqwest::Method;
use serde_json::json;

use crate::support::TestApp;

/// Every table with a tenant_id column.
async fn tenant_tables(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'
          WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace ORDER BY 1",
    )
    .fetch_all(&app.owner)
    .await
    .unwrap()
}

#[tokio::test]
async fn no_tenant_owned_table_lacks_row_level_security() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let without_rls: Vec<String> = sqlx::query_scalar(
        "SELECT relname::text FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace AND NOT relrowsecurity ORDER BY 1",
    )
    .fetch_all(&app.owner)
    .await
    .unwrap();
    // only operator tables without tenant_id, and the migrations ledger
    assert_eq!(
        without_rls,
        [
            "_sqlx_migrations",
            "db_connections",
            "login_throttle",
            "postal_codes",
            "postal_source",
            "store_db_routing",
            "store_moves"
        ]
    );
    let not_forced: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'
          WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace AND NOT c.relforcerowsecurity",
    )
    .fetch_all(&app.owner)
    .await
    .unwrap();
    assert!(not_forced.is_empty(), "{not_forced:?}");
    assert!(tenant_tables(&app).await.len() >= 40, "the whole schema is there");
}

#[tokio::test]
async fn a_tenant_transaction_sees_and_writes_only_its_own_rows() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let a = app.shop().await;
    let b = app.shop().await;
    let (ta, tb): (TenantId, TenantId) = (a.tenant_id.parse().unwrap(), b.tenant_id.parse().unwrap());

    // B has rows in many tables; A's transaction sees none of them, in any table
    let mut tx = app.db.begin(ta).await.unwrap();
    for table in tenant_tables(&app).await {
        let foreign: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table} WHERE tenant_id <> $1"))
            .bind(ta)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(foreign, 0, "{table} leaks another tenant's rows");
    }
    let stores: Vec<String> = sqlx::query_scalar("SELECT handle FROM stores").fetch_all(&mut *tx).await.unwrap();
    assert_eq!(stores, std::slice::from_ref(&a.handle));
    let tenants: i64 = sqlx::query_scalar("SELECT count(*) FROM tenants").fetch_one(&mut *tx).await.unwrap();
    assert_eq!(tenants, 1);

    // writing a row for B from A's transaction is refused by the policy
    let err = sqlx::query("INSERT INTO store_locations (tenant_id, store_id, code, name) VALUES ($1, $2, 'x', 'x')")
        .bind(tb)
        .bind(b.store_id.parse::<uuid::Uuid>().unwrap())
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("row-level security"), "{err}");
    drop(tx);

    // and a row of A cannot point at B's store either (composite foreign keys)
    let mut tx = app.db.begin(ta).await.unwrap();
    let err = sqlx::query("INSERT INTO store_locations (tenant_id, store_id, code, name) VALUES ($1, $2, 'x', 'x')")
        .bind(ta)
        .bind(b.store_id.parse::<uuid::Uuid>().unwrap())
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert!(db::is_foreign_key_violation(&err), "{err}");
    drop(tx);

    // B's updates and deletes from A's transaction touch nothing
    let mut tx = app.db.begin(ta).await.unwrap();
    let changed = sqlx::query("UPDATE stores SET name = 'hijacked' WHERE id = $1")
        .bind(b.store_id.parse::<uuid::Uuid>().unwrap())
        .execute(&mut *tx)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(changed, 0);
    tx.commit().await.unwrap();
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM stores WHERE id = '{}' AND name = 'hijacked'", b.store_id)).await,
        0
    );
}

#[tokio::test]
async fn a_query_without_a_tenant_sees_nothing() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    app.shop().await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM stores").fetch_one(app.db.platform()).await.unwrap();
    assert_eq!(n, 0);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM store_staff").fetch_one(app.db.platform()).await.unwrap();
    assert_eq!(n, 0);
    assert!(app.count("SELECT count(*) FROM stores").await >= 1, "the rows exist");
}

#[tokio::test]
async fn the_runtime_role_cannot_switch_row_level_security_off() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    app.shop().await;
    let pool = app.db.platform();
    let role: (bool, bool) = sqlx::query_as("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(role, (false, false));
    for ddl in [
        "ALTER TABLE stores DISABLE ROW LEVEL SECURITY",
        "ALTER TABLE stores NO FORCE ROW LEVEL SECURITY",
        "DROP POLICY tenant_isolation ON stores",
        "CREATE POLICY open ON stores USING (true)",
        "ALTER TABLE stores OWNER TO tenpo_app",
    ] {
        let err = sqlx::query(ddl).execute(pool).await.unwrap_err();
        assert!(
            err.to_string().contains("must be owner") || err.to_string().contains("permission denied"),
            "{ddl}: {err}"
        );
    }
    // asking to skip RLS makes queries fail rather than see everything
    let mut conn = pool.acquire().await.unwrap();
    sqlx::query("SET row_security = off").execute(&mut *conn).await.unwrap();
    let err = sqlx::query("SELECT count(*) FROM stores").execute(&mut *conn).await.unwrap_err();
    assert!(err.to_string().contains("row-level security"), "{err}");
}

#[tokio::test]
async fn staff_of_one_tenant_cannot_see_change_or_guess_anothers_resources() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let a = app.shop().await;
    let b = app.shop().await;
    let (b_member, _) = app.member(&b, "staff").await;
    let b_staff = b_member["id"].as_str().unwrap();

    for (method, path) in [
        (Method::GET, format!("/admin/v1/locations/{}", b.location_id)),
        (Method::PATCH, format!("/admin/v1/locations/{}", b.location_id)),
        (Method::DELETE, format!("/admin/v1/locations/{}", b.location_id)),
        (Method::GET, format!("/admin/v1/staff/{b_staff}")),
        (Method::PATCH, format!("/admin/v1/staff/{b_staff}")),
        (Method::DELETE, format!("/admin/v1/staff/{b_staff}")),
        (Method::POST, format!("/admin/v1/staff/{b_staff}/revoke-sessions")),
        (Method::GET, format!("/admin/v1/staff/{}", b.owner_id)),
    ] {
        let body = (method == Method::PATCH).then(|| json!({ "name": "mine now" }));
        let answer = app.call(method.clone(), &path, Some(&a.owner_token), body).await;
        assert_eq!(answer.status.as_u16(), 404, "{method} {path}: {}", answer.body);
        assert_eq!(answer.content_type, "application/problem+json");
    }
    // lists show only A's own
    let staff = app.get("/admin/v1/staff", &a.owner_token).await.expect(200);
    assert_eq!(staff["items"].as_array().unwrap().len(), 1);
    let locations = app.get("/admin/v1/locations", &a.owner_token).await.expect(200);
    assert_eq!(locations.as_array().unwrap().len(), 1);
    assert_eq!(locations[0]["id"], a.location_id.as_str());
    let store = app.get("/admin/v1/store", &a.owner_token).await.expect(200);
    assert_eq!(store["id"], a.store_id.as_str());
    // nothing of B changed
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM store_staff WHERE id = '{b_staff}' AND name = '' AND deleted_at IS NULL"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM store_locations WHERE id = '{}' AND deleted_at IS NULL",
            b.location_id
        ))
        .await,
        1
    );
    // B's staff still signs in and works
    app.get("/admin/v1/locations", &b.owner_token).await.expect(200);
}

#[tokio::test]
async fn stores_of_one_tenant_are_separate_too() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let first = app.shop().await;
    let second = app.store_in(&first.tenant_id, &format!("{}-2", first.handle)).await;
    app.get(&format!("/admin/v1/locations/{}", second.location_id), &first.owner_token)
        .await
        .expect_problem(404, "location_not_found");
    app.get(&format!("/admin/v1/staff/{}", second.owner_id), &first.owner_token)
        .await
        .expect_problem(404, "staff_not_found");
}

#[tokio::test]
async fn the_operator_api_addresses_a_store_only_through_its_tenant() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let a = app.shop().await;
    let b = app.shop().await;
    app.op(Method::GET, &format!("/platform/v1/tenants/{}/stores/{}", a.tenant_id, b.store_id), None)
        .await
        .expect_problem(404, "store_not_found");
    app.op(
        Method::POST,
        &format!("/platform/v1/tenants/{}/stores/{}/locations", a.tenant_id, b.store_id),
        Some(json!({ "code": "sneaky", "name": "x" })),
    )
    .await
    .expect_problem(404, "store_not_found");
    app.op(Method::GET, &format!("/platform/v1/tenants/{}", uuid::Uuid::now_v7()), None)
        .await
        .expect_problem(404, "tenant_not_found");
    // a staff token is not an operator token, and the other way round
    app.call(Method::GET, "/platform/v1/tenants", Some(&a.owner_token), None)
        .await
        .expect_problem(401, "invalid_token");
    app.call(Method::GET, "/admin/v1/store", Some(crate::support::OPERATOR_TOKEN), None)
        .await
        .expect_problem(401, "invalid_token");
}
