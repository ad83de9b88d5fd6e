//! The Meilisearch backend, over its HTTP API (v1.2 or later).
//!
//! * At start: `POST /indexes` (`{"uid", "primaryKey": "id"}`; an existing index is fine) and
//!   `PATCH /indexes/{uid}/settings` with the searchable, filterable and sortable attributes,
//!   typo tolerance matching the embedded index, pagination and faceting limits. Each answers
//!   with a task (`202 {"taskUid", ...}`) that is polled at `GET /tasks/{uid}` until it
//!   succeeds; a failed task is reported with Meilisearch's error code and message.
//! * Writes: `POST /indexes/{uid}/documents?primaryKey=id` in batches of up to 1,000
//!   documents, `POST /indexes/{uid}/documents/delete-batch` (ids) and
//!   `POST /indexes/{uid}/documents/delete` (`{"filter"}`), each awaited through its task, so a
//!   write is applied when the call returns (what the sync task needs before it forgets a mark).
//! * Queries: `POST /indexes/{uid}/search` with `q`, `filter` (always `tenant_id` and
//!   `store_id`), `facets`, `sort`, `offset`, `limit` and `attributesToRetrieve: ["id"]`.
//! * Every request carries `Authorization: Bearer <key>` when a key is configured.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kernel::{ProductId, StoreId, TenantId};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{Backend, Facets, ProductDoc, SearchError, SearchHits, SearchQuery, SortBy};

/// Documents per `POST .../documents` request.
pub const BATCH: usize = 1000;

pub struct Meili {
    client: reqwest::Client,
    url: String,
    key: Option<String>,
    index: String,
    /// How long to wait for a task before reporting the engine unavailable.
    pub task_timeout: Duration,
    /// The index exists with Tenpo's settings (applied once per process).
    ready: AtomicBool,
}

/// The index settings Tenpo applies.
pub fn settings() -> Value {
    json!({
        "searchableAttributes": ["title", "vendor", "product_type", "tags", "option_values", "skus", "description"],
        "filterableAttributes": ["tenant_id", "store_id", "status", "vendor", "option_values", "price_min", "in_stock", "indexed_at"],
        "sortableAttributes": ["price_min", "published_at"],
        "typoTolerance": { "enabled": true, "minWordSizeForTypos": { "oneTypo": 3, "twoTypos": 8 } },
        "pagination": { "maxTotalHits": 10000 },
        "faceting": { "maxValuesPerFacet": 500 }
    })
}

/// A task summary (`202` answers) or a task (`GET /tasks/{uid}`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TaskRef {
    task_uid: u64,
}

#[derive(Debug, Deserialize)]
struct Task {
    uid: u64,
    status: String,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    error: Option<MeiliErrorBody>,
}

#[derive(Debug, Deserialize)]
struct MeiliErrorBody {
    #[serde(default)]
    message: String,
    #[serde(default)]
    code: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchAnswer {
    hits: Vec<IdOnly>,
    #[serde(default)]
    estimated_total_hits: Option<u64>,
    #[serde(default)]
    total_hits: Option<u64>,
    #[serde(default)]
    facet_distribution: BTreeMap<String, BTreeMap<String, u64>>,
}

#[derive(Debug, Deserialize)]
struct IdOnly {
    id: ProductId,
}

impl Meili {
    /// Connects, creates the index if needed and applies the settings. An unreachable server
    /// is not fatal (Tenpo starts, search answers 503, the settings are applied when it comes
    /// back); a refusal (bad key, invalid settings) is.
    pub async fn connect(url: &str, key: Option<String>, index: &str) -> Result<Meili, SearchError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| SearchError::Unavailable(e.to_string()))?;
        let m = Meili {
            client,
            url: url.trim_end_matches('/').to_string(),
            key: key.filter(|k| !k.is_empty()),
            index: index.to_string(),
            task_timeout: Duration::from_secs(120),
            ready: AtomicBool::new(false),
        };
        match m.ready().await {
            Ok(()) => {}
            Err(SearchError::Unavailable(e)) => tracing::warn!(error = %e, "meilisearch unreachable; will retry"),
            Err(e) => return Err(e),
        }
        Ok(m)
    }

    /// Creates the index and applies the settings, once.
    async fn ready(&self) -> Result<(), SearchError> {
        if self.ready.load(Ordering::Acquire) {
            return Ok(());
        }
        self.ensure_index().await?;
        self.ready.store(true, Ordering::Release);
        Ok(())
    }

    async fn ensure_index(&self) -> Result<(), SearchError> {
        let task = self.enqueue(Method::POST, "/indexes", json!({ "uid": self.index, "primaryKey": "id" })).await?;
        match self.wait(task).await {
            Ok(()) => {}
            Err(SearchError::Rejected(e)) if e.contains("index_already_exists") => {}
            Err(e) => return Err(e),
        }
        let task = self.enqueue(Method::PATCH, &format!("/indexes/{}/settings", self.index), settings()).await?;
        self.wait(task).await
    }

    async fn request(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, SearchError> {
        let mut req = self.client.request(method.clone(), format!("{}{path}", self.url));
        if let Some(k) = &self.key {
            req = req.bearer_auth(k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.map_err(|e| SearchError::Unavailable(format!("{method} {path}: {e}")))?;
        let status = res.status();
        let text = res.text().await.map_err(|e| SearchError::Unavailable(format!("{method} {path}: {e}")))?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(SearchError::Unavailable(format!("{method} {path}: {status}: {}", message(&value, &text))));
        }
        if !status.is_success() {
            return Err(SearchError::Rejected(format!("{method} {path}: {status}: {}", message(&value, &text))));
        }
        Ok(value)
    }

    /// Sends a write and returns its task uid.
    async fn enqueue(&self, method: Method, path: &str, body: Value) -> Result<u64, SearchError> {
        let v = self.request(method.clone(), path, Some(body)).await?;
        serde_json::from_value::<TaskRef>(v)
            .map(|t| t.task_uid)
            .map_err(|e| SearchError::Rejected(format!("{method} {path}: not a task: {e}")))
    }

    /// Polls a task until it is done; a failed or canceled task is an error.
    async fn wait(&self, uid: u64) -> Result<(), SearchError> {
        let started = std::time::Instant::now();
        let mut pause = Duration::from_millis(10);
        loop {
            let v = self.request(Method::GET, &format!("/tasks/{uid}"), None).await?;
            let task: Task = serde_json::from_value(v)
                .map_err(|e| SearchError::Rejected(format!("GET /tasks/{uid}: not a task: {e}")))?;
            match task.status.as_str() {
                "succeeded" => return Ok(()),
                "failed" | "canceled" => {
                    let (code, msg) = task.error.map(|e| (e.code, e.message)).unwrap_or_default();
                    tracing::warn!(task = task.uid, kind = %task.kind, code = %code, "meilisearch task failed");
                    return Err(SearchError::Rejected(format!(
                        "task {} ({}) {}: {code}: {msg}",
                        task.uid, task.kind, task.status
                    )));
                }
                _ => {}
            }
            if started.elapsed() > self.task_timeout {
                return Err(SearchError::Unavailable(format!("task {uid} not done after {:?}", self.task_timeout)));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }

    fn docs_path(&self) -> String {
        format!("/indexes/{}/documents", self.index)
    }
}

fn message(v: &Value, raw: &str) -> String {
    match (v["code"].as_str(), v["message"].as_str()) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        _ => raw.chars().take(300).collect(),
    }
}

/// A filter string value, quoted for Meilisearch's filter syntax.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The filter expression of a query: tenant and store always, then the optional filters.
pub fn filter_of(q: &SearchQuery) -> String {
    let mut parts = vec![
        format!("tenant_id = {}", quote(&q.tenant_id.to_string())),
        format!("store_id = {}", quote(&q.store_id.to_string())),
    ];
    if !q.statuses.is_empty() {
        let list: Vec<String> = q.statuses.iter().map(|s| quote(s)).collect();
        parts.push(format!("status IN [{}]", list.join(", ")));
    }
    if let Some(v) = &q.vendor {
        parts.push(format!("vendor = {}", quote(v)));
    }
    if let Some(o) = &q.option {
        parts.push(format!("option_values = {}", quote(o)));
    }
    if let Some(p) = q.price_min {
        parts.push(format!("price_min >= {p}"));
    }
    if let Some(p) = q.price_max {
        parts.push(format!("price_min <= {p}"));
    }
    if let Some(s) = q.in_stock {
        parts.push(format!("in_stock = {s}"));
    }
    parts.join(" AND ")
}

#[async_trait]
impl Backend for Meili {
    fn name(&self) -> &'static str {
        "meilisearch"
    }

    fn writable(&self) -> bool {
        true
    }

    async fn upsert(&self, docs: Vec<ProductDoc>) -> Result<(), SearchError> {
        if docs.is_empty() {
            return Ok(());
        }
        self.ready().await?;
        let mut tasks = Vec::new();
        for chunk in docs.chunks(BATCH) {
            let body = serde_json::to_value(chunk).map_err(|e| SearchError::Rejected(e.to_string()))?;
            tasks.push(self.enqueue(Method::POST, &format!("{}?primaryKey=id", self.docs_path()), body).await?);
        }
        for t in tasks {
            self.wait(t).await?;
        }
        Ok(())
    }

    async fn delete(&self, ids: Vec<ProductId>) -> Result<(), SearchError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.ready().await?;
        let body = json!(ids.iter().map(|i| i.to_string()).collect::<Vec<_>>());
        let t = self.enqueue(Method::POST, &format!("{}/delete-batch", self.docs_path()), body).await?;
        self.wait(t).await
    }

    async fn delete_stale(&self, tenant: TenantId, store: StoreId, before: DateTime<Utc>) -> Result<(), SearchError> {
        self.ready().await?;
        let filter = format!(
            "tenant_id = {} AND store_id = {} AND indexed_at < {}",
            quote(&tenant.to_string()),
            quote(&store.to_string()),
            before.timestamp_millis()
        );
        let t =
            self.enqueue(Method::POST, &format!("{}/delete", self.docs_path()), json!({ "filter": filter })).await?;
        self.wait(t).await
    }

    async fn search(&self, q: &SearchQuery) -> Result<SearchHits, SearchError> {
        self.ready().await?;
        let mut body = json!({
            "q": q.text,
            "filter": filter_of(q),
            "offset": q.offset,
            "limit": q.limit,
            "attributesToRetrieve": ["id"],
        });
        let sort = match q.sort {
            SortBy::Relevance if !q.text.trim().is_empty() => None,
            SortBy::Relevance | SortBy::Newest => Some("published_at:desc"),
            SortBy::PriceAsc => Some("price_min:asc"),
            SortBy::PriceDesc => Some("price_min:desc"),
        };
        if let Some(s) = sort {
            body["sort"] = json!([s]);
        }
        if q.facets {
            body["facets"] = json!(["vendor", "option_values"]);
        }
        let v = self.request(Method::POST, &format!("/indexes/{}/search", self.index), Some(body)).await?;
        let answer: SearchAnswer =
            serde_json::from_value(v).map_err(|e| SearchError::Rejected(format!("search answer: {e}")))?;
        let mut facets = Facets::default();
        if let Some(v) = answer.facet_distribution.get("vendor") {
            facets.vendor = v.clone();
        }
        if let Some(o) = answer.facet_distribution.get("option_values") {
            for (pair, n) in o {
                facets.add_option(pair, *n);
            }
        }
        Ok(SearchHits {
            ids: answer.hits.into_iter().map(|h| h.id).collect(),
            total: answer.total_hits.or(answer.estimated_total_hits).unwrap_or(0),
            facets,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_always_name_tenant_and_store_and_quote_values() {
        let mut q = SearchQuery::all(TenantId::new(), StoreId::new());
        q.vendor = Some("Tea \"House\"".into());
        q.price_max = Some(2000);
        let f = filter_of(&q);
        assert!(f.starts_with(&format!("tenant_id = \"{}\" AND store_id = \"{}\"", q.tenant_id, q.store_id)));
        assert!(f.contains("vendor = \"Tea \\\"House\\\"\""));
        assert!(f.contains("price_min <= 2000"));
        assert!(f.contains("status IN [\"active\"]"));
    }
}
