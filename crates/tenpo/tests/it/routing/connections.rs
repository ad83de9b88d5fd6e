//! Connections: the operator adds a database on a second server, `tenpo migrate` brings it up
//! to date (runtime role and RLS there), `/readyz` and `serve` refuse it while it lags, its pool
//! opens on first use and closes when idle, and its password appears in no answer, log or table.

use std::process::Stdio;
use std::time::{Duration, Instant};

use db::testing::SECOND_SERVER_PASSWORD;
use reqwest::Method;
use serde_json::{Value, json};

use super::{APP_PASSWORD, OnSecond, tables_containing};
use crate::support::TestApp;
use crate::support::process::{exit_within, stderr_of, tenpo};

fn spawn_options(c: &mut tenpo::config::Config, o: &mut crate::support::TestOptions) {
    o.worker = false;
    c.database.app_password = Some(APP_PASSWORD.into());
    c.database.store_idle_secs = 1;
    c.database.store_max_connections = 3;
}

/// `tenpo ARGS` on the test's control database, with the runtime role's password; its whole
/// output (stdout and stderr, debug logs included) and whether it succeeded.
fn run(app: &TestApp, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = tenpo(app);
    cmd.args(args).env("TENPO_APP_DB_PASSWORD", APP_PASSWORD).env("TENPO_LOG", "debug");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[tokio::test]
async fn a_lagging_database_is_refused_by_name_until_migrate_brings_it_up_with_its_role_and_rls() {
    let app = TestApp::spawn_with(spawn_options).await;
    let second = OnSecond::create(false).await;
    let secret = second.password_file();
    let mut answers = Vec::new();

    let added = app
        .op(
            Method::POST,
            "/platform/v1/databases",
            Some(json!({ "db_key": "second", "kind": "dedicated", "host": second.host(), "port": 5432,
                         "database": second.name(), "username": "tenpo",
                         "password_secret_ref": format!("file:{}", secret.display()) })),
        )
        .await
        .expect(201);
    assert_eq!(added["status"], "active");
    assert_eq!(added["schema_version"], Value::Null);
    answers.push(added.to_string());
    // nothing connects until something needs the database
    assert_eq!(second.runtime_connections().await, 0);

    // never migrated: not ready, and the answer names it
    let lag = app.call(Method::GET, "/readyz", None, None).await.expect_problem(503, "database_lagging");
    assert!(lag["detail"].as_str().unwrap().contains("second"), "{lag}");
    answers.push(lag.to_string());
    // nor does serve start on it
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut serve = tenpo(&app)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("TENPO_AUTO_MIGRATE", "false")
        .env("TENPO_APP_DB_PASSWORD", APP_PASSWORD)
        .env("TENPO_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = exit_within(&mut serve, Duration::from_secs(60));
    let err = stderr_of(&mut serve);
    assert!(!status.success(), "serve started on a lagging database: {err}");
    assert!(err.contains("second") && err.contains("tenpo migrate"), "{err}");
    let mut logs = vec![err];

    let (ok, out) = run(&app, &["migrate"], &[]);
    assert!(ok, "{out}");
    assert!(out.contains("database second: applied"), "{out}");
    logs.push(out);
    let (ok, out) = run(&app, &["migrate"], &[]);
    assert!(ok && out.contains("database second: up to date"), "{out}");
    logs.push(out);

    // the second server now has every migration, the runtime role and forced RLS
    let main_versions: i64 = app.count("SELECT max(version) FROM _sqlx_migrations").await;
    let there: i64 =
        sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations").fetch_one(&second.owner).await.unwrap();
    assert_eq!(there, main_versions);
    let (sup, bypass): (bool, bool) =
        sqlx::query_as("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'tenpo_app'")
            .fetch_one(&second.owner)
            .await
            .unwrap();
    assert!(!sup && !bypass, "the runtime role there can bypass RLS");
    let unprotected: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_class c
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
          WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace
            AND (NOT c.relrowsecurity OR NOT c.relforcerowsecurity)",
    )
    .fetch_one(&second.owner)
    .await
    .unwrap();
    assert_eq!(unprotected, 0);
    let tenant_tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_attribute WHERE attname = 'tenant_id' AND attrelid IN
           (SELECT oid FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace)",
    )
    .fetch_one(&second.owner)
    .await
    .unwrap();
    assert!(tenant_tables > 30, "{tenant_tables} tenant tables there");
    let recorded = app.op(Method::GET, "/platform/v1/databases/second", None).await.expect(200);
    assert_eq!(recorded["schema_version"], main_versions);
    answers.push(recorded.to_string());

    let checked = app.op(Method::POST, "/platform/v1/databases/second/check", None).await.expect(200);
    assert_eq!(checked["status"], "ok", "{checked}");
    assert_eq!(checked["owner_connects"], true);
    assert_eq!(checked["isolation_ok"], true);
    assert_eq!(checked["schema_version"], main_versions);
    answers.push(checked.to_string());

    let ready = app.call(Method::GET, "/readyz", None, None).await.expect(200);
    assert_eq!(ready["status"], "ready");
    let dbs = ready["databases"].as_array().unwrap();
    assert_eq!(dbs.iter().map(|d| d["db_key"].as_str().unwrap()).collect::<Vec<_>>(), ["main", "second"]);
    assert!(dbs.iter().all(|d| d["status"] == "ok"), "{ready}");
    assert!(dbs[1]["pool_open"].as_u64().unwrap() <= 3, "{ready}");
    answers.push(ready.to_string());
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains(r#"tenpo_db_up{db="second"} 1"#), "{metrics}");
    assert!(metrics.contains(r#"tenpo_db_lagging{db="second"} 0"#), "{metrics}");
    assert!(metrics.contains(r#"tenpo_db_up{db="main"} 1"#), "{metrics}");

    // the pool opened on use; unused, its connections close
    assert!(second.runtime_connections().await >= 1, "the runtime role never connected there");
    let started = Instant::now();
    while second.runtime_connections().await > 0 {
        assert!(started.elapsed() < Duration::from_secs(15), "the idle pool still holds connections");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // taken out of use: reported, not asked, and ready
    let inactive =
        app.op(Method::PATCH, "/platform/v1/databases/second", Some(json!({ "status": "inactive" }))).await.expect(200);
    answers.push(inactive.to_string());
    let ready = app.call(Method::GET, "/readyz", None, None).await.expect(200);
    assert_eq!(ready["databases"][1]["status"], "inactive");

    for text in answers.iter().chain(&logs) {
        assert!(!text.contains(SECOND_SERVER_PASSWORD), "the password leaked: {text}");
    }
    assert_eq!(tables_containing(&app.owner, SECOND_SERVER_PASSWORD).await, Vec::<String>::new());
    assert_eq!(tables_containing(&second.owner, SECOND_SERVER_PASSWORD).await, Vec::<String>::new());
    let _ = std::fs::remove_file(secret);
}

#[tokio::test]
async fn the_cli_adds_lists_and_checks_a_connection_whose_password_is_read_from_the_environment_only() {
    let app = TestApp::spawn_with(spawn_options).await;
    let second = OnSecond::create(true).await;
    let var = ("TENPO_TEST_SECOND_PASSWORD", SECOND_SERVER_PASSWORD);
    let mut logs = Vec::new();
    let (ok, out) = run(
        &app,
        &[
            "db",
            "add",
            "--key",
            "noisy-1",
            "--host",
            &second.host(),
            "--database",
            second.name(),
            "--user",
            "tenpo",
            "--password-ref",
            "env:TENPO_TEST_SECOND_PASSWORD",
        ],
        &[],
    );
    assert!(ok, "{out}");
    logs.push(out);
    let (ok, out) = run(&app, &["migrate"], &[var]);
    assert!(ok && out.contains("database noisy-1:"), "{out}");
    logs.push(out);
    let (ok, out) = run(&app, &["db", "check", "--key", "noisy-1"], &[var]);
    assert!(ok, "{out}");
    assert!(out.contains(r#""owner_connects": true"#) && out.contains(r#""status": "ok""#), "{out}");
    logs.push(out);
    // without the variable the owner cannot sign in: the error names the reference, exit 1
    let (ok, out) = run(&app, &["db", "check", "--key", "noisy-1"], &[]);
    assert!(!ok, "{out}");
    assert!(out.contains("env:TENPO_TEST_SECOND_PASSWORD") && out.contains("not set"), "{out}");
    logs.push(out);
    let (ok, out) = run(&app, &["db", "list"], &[var]);
    assert!(ok && out.contains(r#""db_key": "noisy-1""#), "{out}");
    logs.push(out);

    // the API knows it too, and refuses what it must
    let listed = app.op(Method::GET, "/platform/v1/databases", None).await.expect(200);
    assert_eq!(listed[0]["password_secret_ref"], "env:TENPO_TEST_SECOND_PASSWORD");
    let unresolved = app.op(Method::POST, "/platform/v1/databases/noisy-1/check", None).await;
    let body = unresolved.expect_problem(422, "db_secret_unavailable");
    assert!(body["detail"].as_str().unwrap().contains("env:TENPO_TEST_SECOND_PASSWORD"), "{body}");
    let base =
        json!({ "db_key": "noisy-2", "kind": "shared", "host": "db2.internal", "database": "d", "username": "u" });
    let mut plain = base.clone();
    plain["password_secret_ref"] = json!("hunter2-the-password");
    let refused =
        app.op(Method::POST, "/platform/v1/databases", Some(plain)).await.expect_problem(422, "validation_failed");
    assert_eq!(refused["errors"][0]["field"], "password_secret_ref", "{refused}");
    let mut main = base.clone();
    main["db_key"] = json!("main");
    app.op(Method::POST, "/platform/v1/databases", Some(main)).await.expect_problem(422, "validation_failed");
    let mut taken = base.clone();
    taken["db_key"] = json!("noisy-1");
    app.op(Method::POST, "/platform/v1/databases", Some(taken)).await.expect_problem(409, "db_key_taken");
    app.op(Method::GET, "/platform/v1/databases/nope", None).await.expect_problem(404, "db_connection_not_found");
    assert_eq!(app.count("SELECT count(*) FROM db_connections").await, 1);

    for text in logs.iter().chain([&listed.to_string(), &body.to_string()]) {
        assert!(!text.contains(SECOND_SERVER_PASSWORD), "the password leaked: {text}");
    }
    assert_eq!(tables_containing(&app.owner, SECOND_SERVER_PASSWORD).await, Vec::<String>::new());
    assert_eq!(tables_containing(&second.owner, SECOND_SERVER_PASSWORD).await, Vec::<String>::new());
}
