//! Test harness: [`TestApp`] (a running Tenpo on its own database) and fixture builders.

#![allow(dead_code)]

pub mod browser;
pub mod fixtures;
pub mod process;
pub mod smtp;

use std::time::Duration;

use db::testing::TestDatabase;
use db::{Databases, Db};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use sqlx::PgPool;
use tenpo::app::{self, Parts, Running};
use tenpo::config::Config;

pub use fixtures::Shop;

pub const OPERATOR_TOKEN: &str = "operator-token-for-tests";

/// A running Tenpo on a fresh database.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    /// The runtime pool (tenant-scoped, RLS applies).
    pub db: Db,
    /// An owner connection to the test database, for assertions that look across tenants.
    pub owner: PgPool,
    pub config: Config,
    running: Option<Running>,
    database: TestDatabase,
}

/// A JSON answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub content_type: String,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    /// Asserts the status and returns the body.
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.body);
        self.body
    }

    /// Asserts a problem+json answer with this status and code.
    #[track_caller]
    pub fn expect_problem(self, status: u16, code: &str) -> Value {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.body);
        assert_eq!(self.content_type, "application/problem+json", "body: {}", self.body);
        assert_eq!(self.body["code"], code, "body: {}", self.body);
        self.body
    }
}

pub struct TestOptions {
    pub http: bool,
    pub worker: bool,
}

impl Default for TestOptions {
    fn default() -> Self {
        TestOptions { http: true, worker: true }
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_, _| {}).await
    }

    /// Starts Tenpo with a configuration and parts the test may change.
    pub async fn spawn_with(tune: impl FnOnce(&mut Config, &mut TestOptions)) -> TestApp {
        let database = TestDatabase::create().await.expect("test database");
        let mut config = Config { operator_token: Some(OPERATOR_TOKEN.into()), ..Default::default() };
        config.database.max_connections = 20;
        // every test's server shares two cores with the others and their builds: a request that
        // waits its turn for a pooled connection is slow there, not wrong (the race tests queue
        // hundreds of requests on these 20 connections)
        config.database.acquire_timeout_secs = 60;
        // tests run many workers against small pools; keep leases short so retries are quick
        config.worker.outbox_lease_secs = 5;
        // domain tests read their writes at once; the cache has tests of its own
        config.http.storefront_cache_secs = 0;
        // each test its own embedded search index (removed when the TestApp drops)
        config.search.index_dir = Some(search_dir());
        // and its own directory of digital goods, with a fixed key (nothing under the data dir)
        config.storage.local.dir = Some(scratch_dir("tenpo-test-objects"));
        config.storage.local.signing_secret = Some(storage::Secret::new(LOCAL_SIGNING_SECRET));
        let mut opts = TestOptions::default();
        tune(&mut config, &mut opts);
        let databases = Databases::from_options(database.owner.clone(), config.database_settings());
        let db = databases.connect().await.expect("runtime pool");
        let owner = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect_with(database.owner.clone())
            .await
            .expect("owner pool");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("port");
        let running = app::start(&db, &config, Parts { http: opts.http, worker: opts.worker }, Some(listener))
            .await
            .expect("start");
        let base = format!("http://{}", running.addr.expect("address"));
        let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
        TestApp { base, client, db, owner, config, running: Some(running), database }
    }

    /// The owner's connection URL of this test's database (for running the CLI against it).
    pub fn owner_url(&self) -> String {
        use sqlx::ConnectOptions;
        self.database.owner.to_url_lossy().to_string()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request with an optional bearer token and JSON body; reads a JSON answer.
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Self::read(req.send().await.expect("request")).await
    }

    pub async fn read(res: reqwest::Response) -> Answer {
        let status = res.status();
        let headers = res.headers().clone();
        let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let bytes = res.bytes().await.expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Answer { status, content_type, headers, body }
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::PATCH, path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Answer {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// An operator call.
    pub async fn op(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        self.call(method, path, Some(OPERATOR_TOKEN), body).await
    }

    /// Counts rows across tenants (owner connection, no RLS).
    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.owner).await.expect("count")
    }

    /// The events of one aggregate by sequence number: (type, sequence, payload).
    pub async fn events_of(&self, aggregate_id: &str) -> Vec<(String, i64, Value)> {
        sqlx::query_as(
            "SELECT event_type, sequence, payload_json FROM outbox_events WHERE aggregate_id = $1 ORDER BY sequence",
        )
        .bind(aggregate_id)
        .fetch_all(&self.owner)
        .await
        .expect("events")
    }

    /// The payload of the one event of this type about this aggregate, as its typed struct.
    pub async fn payload_of<P: events::Payload + serde::de::DeserializeOwned>(&self, aggregate_id: &str) -> P {
        let found: Vec<P> = self
            .events_of(aggregate_id)
            .await
            .into_iter()
            .filter(|(t, _, _)| t == P::TYPE.name())
            .map(|(_, _, data)| serde_json::from_value(data).expect("the payload has its type's shape"))
            .collect();
        assert_eq!(found.len(), 1, "one {} about {aggregate_id}", P::TYPE);
        found.into_iter().next().unwrap()
    }

    /// Stops the API and the worker (the database stays for assertions).
    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop(Duration::from_secs(5)).await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown.cancel();
        }
        let _ = &self.database;
        if let Some(dir) = &self.config.search.index_dir
            && dir.starts_with(search_dir_root())
        {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some(dir) = &self.config.storage.local.dir
            && dir.starts_with(std::env::temp_dir().join("tenpo-test-objects"))
        {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The key that signs local download links in tests.
pub const LOCAL_SIGNING_SECRET: &str = "test-local-download-signing-secret-0123456789";

/// A fresh directory under `<temp>/<root>`.
pub fn scratch_dir(root: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(root).join(uuid::Uuid::new_v4().simple().to_string())
}

fn search_dir_root() -> std::path::PathBuf {
    std::env::temp_dir().join("tenpo-test-search")
}

/// A fresh directory for a test's search index.
pub fn search_dir() -> std::path::PathBuf {
    search_dir_root().join(uuid::Uuid::new_v4().simple().to_string())
}

/// A real Japan Post postal code of the prefecture given in any form the API takes (an address
/// is refused when its code lies elsewhere); Tokyo's 150-0001 for anything else.
pub fn postal_code_in(prefecture: &str) -> &'static str {
    match kernel::jp::Prefecture::parse(prefecture).map(|p| p.code) {
        Ok(1) => "060-0001",
        Ok(26) => "600-8216",
        Ok(27) => "530-0001",
        Ok(47) => "900-0001",
        _ => "150-0001",
    }
}
