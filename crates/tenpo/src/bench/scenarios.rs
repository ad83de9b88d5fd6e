//! Benchmark scenarios. Each prepares its data through the HTTP API, measures a baseline and
//! the path under test in the same run, and returns a report.

use std::future::Future;
use std::pin::Pin;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::Target;
use super::load::{Report, measure};

type Scenario = for<'a> fn(&'a Target) -> Pin<Box<dyn Future<Output = anyhow::Result<Report>> + 'a>>;

const SCENARIOS: &[(&str, Scenario)] = &[("admin-read", |t| Box::pin(admin_read(t)))];

pub fn find(name: &str) -> Option<Scenario> {
    SCENARIOS.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

pub fn names() -> Vec<&'static str> {
    SCENARIOS.iter().map(|(n, _)| *n).collect()
}

/// A fresh tenant with one store and its owner signed in.
pub struct Shop {
    pub store_handle: String,
    pub owner_token: String,
}

pub async fn new_shop(t: &Target) -> anyhow::Result<Shop> {
    let suffix = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
    let tenant =
        post(t, "/platform/v1/tenants", &t.operator_token, json!({ "name": "Bench", "type": "single_brand" })).await?;
    let tenant_id = tenant["id"].as_str().context("tenant id")?.to_string();
    let handle = format!("bench-{suffix}");
    let store = post(
        t,
        &format!("/platform/v1/tenants/{tenant_id}/stores"),
        &t.operator_token,
        json!({ "handle": handle, "name": "Bench" }),
    )
    .await?;
    let store_id = store["id"].as_str().context("store id")?;
    let password = "bench-password-1";
    post(
        t,
        &format!("/platform/v1/tenants/{tenant_id}/stores/{store_id}/staff"),
        &t.operator_token,
        json!({ "email": "owner@bench.test", "password": password, "role": "owner" }),
    )
    .await?;
    let login = post(
        t,
        "/admin/v1/auth/login",
        "",
        json!({ "store": handle, "login": "owner@bench.test", "password": password }),
    )
    .await?;
    let token = login["token"].as_str().context("token")?.to_string();
    Ok(Shop { store_handle: handle, owner_token: token })
}

pub async fn post(t: &Target, path: &str, token: &str, body: Value) -> anyhow::Result<Value> {
    let mut req = t.client.post(t.url(path)).json(&body);
    if !token.is_empty() {
        req = req.bearer_auth(token);
    }
    let res = req.send().await?;
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("POST {path}: {status}: {body}");
    }
    Ok(body)
}

fn get_ok(
    client: reqwest::Client,
    url: String,
    token: Option<String>,
) -> impl Fn(u64) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> {
    move |_| {
        let client = client.clone();
        let url = url.clone();
        let token = token.clone();
        Box::pin(async move {
            let mut req = client.get(&url);
            if let Some(t) = &token {
                req = req.bearer_auth(t);
            }
            let res = req.send().await.map_err(|e| e.to_string())?;
            let status = res.status();
            res.bytes().await.map_err(|e| e.to_string())?;
            if status.is_success() { Ok(()) } else { Err(format!("status {status}")) }
        })
    }
}

/// The authenticated admin read path (token resolution, tenant-scoped transaction, query)
/// against the bare HTTP stack (`/healthz`).
async fn admin_read(t: &Target) -> anyhow::Result<Report> {
    let shop = new_shop(t).await?;
    let base =
        measure("baseline: GET /healthz", t.concurrency, t.duration, get_ok(t.client.clone(), t.url("/healthz"), None))
            .await;
    let read = measure(
        "GET /admin/v1/locations (auth+RLS)",
        t.concurrency,
        t.duration,
        get_ok(t.client.clone(), t.url("/admin/v1/locations"), Some(shop.owner_token.clone())),
    )
    .await;
    Ok(Report { title: format!("admin-read: store {}", shop.store_handle), phases: vec![base, read], notes: vec![] })
}
