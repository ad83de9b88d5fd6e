//! The Meilisearch backend against a small Meilisearch-compatible server started in the test
//! (a real HTTP server on 127.0.0.1). It checks each request against Meilisearch's documented
//! API: the Authorization header, the document, delete and settings endpoints and their bodies,
//! and that filters and sorts name only attributes made filterable or sortable; it answers with
//! Meilisearch's task objects (enqueued first, succeeded or failed when polled) and search
//! answers. With `MEILI_URL` (and `MEILI_KEY`) set, the same tests run against that server.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{product, search_until, titles};
use crate::support::TestApp;

const KEY: &str = "test-master-key-0123456789";

#[derive(Default)]
struct Fake {
    indexes: BTreeMap<String, Index>,
    tasks: Vec<Value>,
    /// How often each task was polled (a task answers `enqueued` the first time).
    polled: BTreeMap<u64, u32>,
    /// "METHOD path" of every request.
    log: Vec<String>,
    /// Fail the next document addition (to see failures reported).
    fail_next_documents: bool,
}

#[derive(Default)]
struct Index {
    docs: BTreeMap<String, Value>,
    settings: Value,
}

type Shared = Arc<Mutex<Fake>>;

fn meili_error(status: StatusCode, code: &str, kind: &str, message: &str) -> Response {
    (
        status,
        Json(json!({ "message": message, "code": code, "type": kind,
                     "link": format!("https://docs.meilisearch.com/errors#{code}") })),
    )
        .into_response()
}

fn unauthorized(headers: &HeaderMap) -> Option<Response> {
    match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        None => Some(meili_error(
            StatusCode::UNAUTHORIZED,
            "missing_authorization_header",
            "auth",
            "The Authorization header is missing. It must use the bearer authorization method.",
        )),
        Some(v) if v == format!("Bearer {KEY}") => None,
        Some(_) => {
            Some(meili_error(StatusCode::FORBIDDEN, "invalid_api_key", "auth", "The provided API key is invalid."))
        }
    }
}

/// Enqueues a task and answers its summary (202), as Meilisearch does for every write.
fn enqueue(f: &mut Fake, index: &str, kind: &str, error: Option<Value>) -> Response {
    let uid = f.tasks.len() as u64;
    let now = "2026-01-01T00:00:00.000000Z";
    f.tasks.push(json!({
        "uid": uid, "batchUid": null, "indexUid": index, "status": if error.is_some() { "failed" } else { "succeeded" },
        "type": kind, "canceledBy": null, "details": {}, "error": error, "duration": "PT0.001S",
        "enqueuedAt": now, "startedAt": now, "finishedAt": now,
    }));
    (
        StatusCode::ACCEPTED,
        Json(json!({ "taskUid": uid, "indexUid": index, "status": "enqueued", "type": kind, "enqueuedAt": now })),
    )
        .into_response()
}

fn string_list(v: &Value) -> Option<Vec<String>> {
    v.as_array()?.iter().map(|s| s.as_str().map(str::to_string)).collect()
}

async fn create_index(State(s): State<Shared>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if let Some(r) = unauthorized(&headers) {
        return r;
    }
    let mut f = s.lock().unwrap();
    f.log.push("POST /indexes".into());
    let Some(uid) = body["uid"].as_str().map(str::to_string) else {
        return meili_error(StatusCode::BAD_REQUEST, "missing_index_uid", "invalid_request", "`uid` is missing");
    };
    if body["primaryKey"] != "id" {
        return meili_error(StatusCode::BAD_REQUEST, "invalid_index_primary_key", "invalid_request", "bad primaryKey");
    }
    if f.indexes.contains_key(&uid) {
        let e = json!({ "message": format!("Index `{uid}` already exists."), "code": "index_already_exists",
                        "type": "invalid_request", "link": "https://docs.meilisearch.com/errors#index_already_exists" });
        return enqueue(&mut f, &uid, "indexCreation", Some(e));
    }
    f.indexes.insert(uid.clone(), Index::default());
    enqueue(&mut f, &uid, "indexCreation", None)
}

async fn update_settings(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(uid): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    if let Some(r) = unauthorized(&headers) {
        return r;
    }
    let mut f = s.lock().unwrap();
    f.log.push(format!("PATCH /indexes/{uid}/settings"));
    for key in ["searchableAttributes", "filterableAttributes", "sortableAttributes"] {
        if string_list(&body[key]).is_none() {
            return meili_error(
                StatusCode::BAD_REQUEST,
                "invalid_settings",
                "invalid_request",
                &format!("{key} must be a list of attribute names"),
            );
        }
    }
    let known = [
        "searchableAttributes",
        "filterableAttributes",
        "sortableAttributes",
        "typoTolerance",
        "pagination",
        "faceting",
        "rankingRules",
        "displayedAttributes",
    ];
    if let Some(k) = body.as_object().unwrap().keys().find(|k| !known.contains(&k.as_str())) {
        return meili_error(StatusCode::BAD_REQUEST, "bad_request", "invalid_request", &format!("Unknown field `{k}`"));
    }
    let Some(index) = f.indexes.get_mut(&uid) else {
        return meili_error(StatusCode::NOT_FOUND, "index_not_found", "invalid_request", "no such index");
    };
    index.settings = body;
    enqueue(&mut f, &uid, "settingsUpdate", None)
}

async fn add_documents(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(uid): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
    body: String,
) -> Response {
    if let Some(r) = unauthorized(&headers) {
        return r;
    }
    if headers.get("content-type").and_then(|v| v.to_str().ok()) != Some("application/json") {
        return meili_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_content_type",
            "invalid_request",
            "use application/json",
        );
    }
    let mut f = s.lock().unwrap();
    f.log.push(format!("POST /indexes/{uid}/documents"));
    if q.get("primaryKey").map(String::as_str) != Some("id") {
        return meili_error(
            StatusCode::BAD_REQUEST,
            "invalid_index_primary_key",
            "invalid_request",
            "primaryKey=id expected",
        );
    }
    let Ok(Value::Array(docs)) = serde_json::from_str::<Value>(&body) else {
        return meili_error(
            StatusCode::BAD_REQUEST,
            "malformed_payload",
            "invalid_request",
            "expected an array of documents",
        );
    };
    if std::mem::take(&mut f.fail_next_documents) {
        let e = json!({ "message": "Document identifier `bad id` is invalid.", "code": "invalid_document_id",
                        "type": "invalid_request", "link": "https://docs.meilisearch.com/errors#invalid_document_id" });
        return enqueue(&mut f, &uid, "documentAdditionOrUpdate", Some(e));
    }
    let Some(index) = f.indexes.get_mut(&uid) else {
        return meili_error(StatusCode::NOT_FOUND, "index_not_found", "invalid_request", "no such index");
    };
    for d in docs {
        let Some(id) = d["id"].as_str().map(str::to_string) else {
            return meili_error(
                StatusCode::BAD_REQUEST,
                "missing_document_id",
                "invalid_request",
                "a document has no id",
            );
        };
        index.docs.insert(id, d);
    }
    enqueue(&mut f, &uid, "documentAdditionOrUpdate", None)
}

async fn delete_batch(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(uid): Path<String>,
    Json(ids): Json<Value>,
) -> Response {
    if let Some(r) = unauthorized(&headers) {
        return r;
    }
    let mut f = s.lock().unwrap();
    f.log.push(format!("POST /indexes/{uid}/documents/delete-batch"));
    let Some(ids) = string_list(&ids) else {
        return meili_error(
            StatusCode::BAD_REQUEST,
            "malformed_payload",
            "invalid_request",
            "expected an array of ids",
        );
    };
    if let Some(index) = f.indexes.get_mut(&uid) {
        for id in ids {
            index.docs.remove(&id);
        }
    }
    enqueue(&mut f, &uid, "documentDeletion", None)
}

async fn delete_by_filter(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(uid): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    if let Some(r) = unauthorized(&headers) {
        return r;
    }
    let mut f = s.lock().unwrap();
    f.log.push(format!("POST /indexes/{uid}/documents/delete"));
    let Some(filter) = body["filter"].as_str().map(str::to_string) else {
        return meili_error(
            StatusCode::BAD_REQUEST,
            "invalid_document_filter",
            "invalid_request",
            "`filter` is missing",
        );
    };
    let Some(index) = f.indexes.get_mut(&uid) else {
        return meili_error(StatusCode::NOT_FOUND, "index_not_found", "invalid_request", "no such index");
    };
    let filterable = string_list(&index.settings["filterableAttributes"]).unwrap_or_default();
    let conds = match parse_filter(&filter, &filterable) {
        Ok(c) => c,
        Err(e) => return meili_error(StatusCode::BAD_REQUEST, "invalid_document_filter", "invalid_request", &e),
    };
    index.docs.retain(|_, d| !conds.iter().all(|c| c.matches(d)));
    enqueue(&mut f, &uid, "documentDeletion", None)
}

async fn get_task(State(s): State<Shared>, headers: HeaderMap, Path(uid): Path<u64>) -> Response {
    if let Some(r) = unauthorized(&headers) {
        return r;
    }
    let mut f = s.lock().unwrap();
    f.log.push("GET /tasks/{uid}".into());
    let Some(mut task) = f.tasks.get(uid as usize).cloned() else {
        return meili_error(StatusCode::NOT_FOUND, "task_not_found", "invalid_request", "no such task");
    };
    let n = f.polled.entry(uid).or_default();
    *n += 1;
    if *n == 1 {
        // the first poll finds it still waiting, as a real queue often does
        task["status"] = json!("enqueued");
        task["error"] = Value::Null;
        task["startedAt"] = Value::Null;
        task["finishedAt"] = Value::Null;
    }
    Json(task).into_response()
}

/// One condition of a filter expression joined by AND.
enum Cond {
    Eq(String, Value),
    In(String, Vec<Value>),
    Cmp(String, &'static str, f64),
}

impl Cond {
    fn matches(&self, d: &Value) -> bool {
        let has = |attr: &str, v: &Value| match &d[attr] {
            Value::Array(items) => items.contains(v),
            other => other == v,
        };
        match self {
            Cond::Eq(a, v) => has(a, v),
            Cond::In(a, vs) => vs.iter().any(|v| has(a, v)),
            Cond::Cmp(a, op, n) => d[a].as_f64().is_some_and(|x| match *op {
                ">=" => x >= *n,
                "<=" => x <= *n,
                "<" => x < *n,
                _ => x > *n,
            }),
        }
    }
}

fn literal(s: &str) -> Value {
    let s = s.trim();
    if let Some(inner) = s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        return json!(inner.replace("\\\"", "\"").replace("\\\\", "\\"));
    }
    match s {
        "true" => json!(true),
        "false" => json!(false),
        _ => s.parse::<f64>().map(|n| json!(n)).unwrap_or(json!(s)),
    }
}

/// The subset of Meilisearch's filter syntax Tenpo sends: `attr = value`, `attr IN [..]`,
/// comparisons, joined by AND. Attributes must be filterable, as Meilisearch requires.
fn parse_filter(filter: &str, filterable: &[String]) -> Result<Vec<Cond>, String> {
    let mut out = Vec::new();
    for part in filter.split(" AND ") {
        let part = part.trim();
        let attr = part.split_whitespace().next().unwrap_or_default().to_string();
        if !filterable.contains(&attr) {
            return Err(format!("Attribute `{attr}` is not filterable."));
        }
        let rest = part[attr.len()..].trim();
        let cond = if let Some(list) = rest.strip_prefix("IN [").and_then(|r| r.strip_suffix(']')) {
            Cond::In(attr, list.split(", ").map(literal).collect())
        } else if let Some(v) = rest.strip_prefix(">=") {
            Cond::Cmp(attr, ">=", v.trim().parse().map_err(|_| format!("bad number in {part}"))?)
        } else if let Some(v) = rest.strip_prefix("<=") {
            Cond::Cmp(attr, "<=", v.trim().parse().map_err(|_| format!("bad number in {part}"))?)
        } else if let Some(v) = rest.strip_prefix('<') {
            Cond::Cmp(attr, "<", v.trim().parse().map_err(|_| format!("bad number in {part}"))?)
        } else if let Some(v) = rest.strip_prefix('=') {
            Cond::Eq(attr, literal(v))
        } else {
            return Err(format!("cannot parse `{part}`"));
        };
        out.push(cond);
    }
    Ok(out)
}

async fn search_index(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(uid): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    if let Some(r) = unauthorized(&headers) {
        return r;
    }
    let mut f = s.lock().unwrap();
    f.log.push(format!("POST /indexes/{uid}/search"));
    let Some(index) = f.indexes.get(&uid) else {
        return meili_error(StatusCode::NOT_FOUND, "index_not_found", "invalid_request", "no such index");
    };
    let filterable = string_list(&index.settings["filterableAttributes"]).unwrap_or_default();
    let sortable = string_list(&index.settings["sortableAttributes"]).unwrap_or_default();
    let filter = body["filter"].as_str().unwrap_or_default();
    // Tenpo must always scope by tenant and store
    if !filter.starts_with("tenant_id = ") || !filter.contains(" AND store_id = ") {
        return meili_error(StatusCode::BAD_REQUEST, "invalid_search_filter", "invalid_request", "unscoped query");
    }
    let conds = match parse_filter(filter, &filterable) {
        Ok(c) => c,
        Err(e) => return meili_error(StatusCode::BAD_REQUEST, "invalid_search_filter", "invalid_request", &e),
    };
    let sort: Vec<String> = string_list(&body["sort"]).unwrap_or_default();
    for s in &sort {
        let attr = s.split(':').next().unwrap_or_default();
        if !sortable.iter().any(|a| a == attr) {
            return meili_error(
                StatusCode::BAD_REQUEST,
                "invalid_search_sort",
                "invalid_request",
                &format!("Attribute `{attr}` is not sortable."),
            );
        }
    }
    if body["attributesToRetrieve"] != json!(["id"]) {
        return meili_error(
            StatusCode::BAD_REQUEST,
            "invalid_search_attributes_to_retrieve",
            "invalid_request",
            "expected [\"id\"]",
        );
    }
    let words: Vec<String> =
        body["q"].as_str().unwrap_or_default().to_lowercase().split_whitespace().map(str::to_string).collect();
    let mut hits: Vec<&Value> = index
        .docs
        .values()
        .filter(|d| conds.iter().all(|c| c.matches(d)))
        .filter(|d| {
            let text = format!("{} {} {}", d["title"], d["description"], d["tags"]).to_lowercase();
            words.iter().all(|w| text.contains(w.as_str()))
        })
        .collect();
    if let Some(s) = sort.first() {
        let (attr, dir) = s.split_once(':').unwrap_or((s, "asc"));
        hits.sort_by(|a, b| a[attr].as_f64().partial_cmp(&b[attr].as_f64()).unwrap());
        if dir == "desc" {
            hits.reverse();
        }
    }
    let mut facet_distribution = serde_json::Map::new();
    for facet in string_list(&body["facets"]).unwrap_or_default() {
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for d in &hits {
            match &d[&facet] {
                Value::Array(vs) => {
                    vs.iter().filter_map(Value::as_str).for_each(|v| *counts.entry(v.into()).or_default() += 1)
                }
                Value::String(v) => *counts.entry(v.clone()).or_default() += 1,
                _ => {}
            }
        }
        facet_distribution.insert(facet, json!(counts));
    }
    let offset = body["offset"].as_u64().unwrap_or(0) as usize;
    let limit = body["limit"].as_u64().unwrap_or(20) as usize;
    let page: Vec<Value> = hits.iter().skip(offset).take(limit).map(|d| json!({ "id": d["id"] })).collect();
    let mut answer = json!({ "hits": page, "query": body["q"], "processingTimeMs": 0, "limit": limit,
                             "offset": offset, "estimatedTotalHits": hits.len() });
    if body.get("facets").is_some() {
        answer["facetDistribution"] = Value::Object(facet_distribution);
    }
    Json(answer).into_response()
}

/// A Meilisearch-compatible server on a free port: its URL and state.
async fn fake_meilisearch() -> (String, Shared) {
    let state: Shared = Arc::default();
    let app = Router::new()
        .route("/indexes", post(create_index))
        .route("/indexes/{uid}/settings", patch(update_settings))
        .route("/indexes/{uid}/documents", post(add_documents))
        .route("/indexes/{uid}/documents/delete-batch", post(delete_batch))
        .route("/indexes/{uid}/documents/delete", post(delete_by_filter))
        .route("/indexes/{uid}/search", post(search_index))
        .route("/tasks/{uid}", get(get_task))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    (url, state)
}

/// The server to test against: `MEILI_URL`/`MEILI_KEY` when set, else the fake.
async fn server() -> (String, String, Option<Shared>) {
    match std::env::var("MEILI_URL").ok().filter(|u| !u.is_empty()) {
        Some(url) => (url, std::env::var("MEILI_KEY").unwrap_or_default(), None),
        None => {
            let (url, state) = fake_meilisearch().await;
            (url, KEY.to_string(), Some(state))
        }
    }
}

fn unique_index() -> String {
    format!("tenpo_test_{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn search_meilisearch_backend_speaks_the_http_api() {
    let (url, key, fake) = server().await;
    let index = unique_index();
    let app = TestApp::spawn_with(|c, _| {
        c.search.meilisearch_url = Some(url.clone());
        c.search.meilisearch_key = Some(key.clone());
        c.search.meilisearch_index = index.clone();
    })
    .await;
    let a = app.shop().await;
    let b = app.shop().await;
    let tea = product(&app, &a, "Organic Green Tea", None, &[("GT-S", 1200, 3), ("GT-L", 2400, 0)]).await;
    product(&app, &a, "Ceramic Mug", None, &[("MUG", 3000, 1)]).await;
    product(&app, &b, "Organic Green Tea", None, &[("B", 900, 1)]).await;

    let page = search_until(&app, &a.handle, "q=green+tea", |p| p["total"] == 1).await;
    assert_eq!(titles(&page), ["Organic Green Tea"]);
    assert_eq!(page["items"][0]["id"], tea["id"]);
    let all = search_until(&app, &a.handle, "sort=price_asc", |p| p["total"] == 2).await;
    assert_eq!(titles(&all), ["Ceramic Mug", "Organic Green Tea"]);
    assert_eq!(all["items"][0]["title"], "Organic Green Tea", "price order");
    assert_eq!(all["facets"]["options"]["Size"], json!({ "GT-S": 1, "GT-L": 1 }));
    let cheap = super::find(&app, &a.handle, "price_max=2000").await;
    assert_eq!(titles(&cheap), ["Organic Green Tea"]);
    // store B's tea is in the same index, never in A's answers
    let other = search_until(&app, &b.handle, "q=green+tea", |p| p["total"] == 1).await;
    assert_ne!(other["items"][0]["id"], tea["id"]);

    // archiving removes it (the document is rewritten with its status; the storefront filters)
    let id = tea["id"].as_str().unwrap();
    app.call(reqwest::Method::POST, &format!("/admin/v1/products/{id}/archive"), Some(&a.owner_token), None)
        .await
        .expect(200);
    search_until(&app, &a.handle, "q=green+tea", |p| p["total"] == 0).await;

    if let Some(fake) = fake {
        let f = fake.lock().unwrap();
        let log = &f.log;
        let count = |what: &str| log.iter().filter(|l| l.as_str() == what).count();
        assert_eq!(log.first().map(String::as_str), Some("POST /indexes"), "{log:?}");
        let writes: Vec<&String> = log.iter().filter(|l| !l.starts_with("GET /tasks/")).collect();
        assert_eq!(writes[1], &format!("PATCH /indexes/{index}/settings"), "settings before any document: {log:?}");
        let settings = &f.indexes[&index].settings;
        assert_eq!(settings["filterableAttributes"].as_array().unwrap().len(), 8);
        assert!(settings["sortableAttributes"].as_array().unwrap().contains(&json!("price_min")));
        assert!(count(&format!("POST /indexes/{index}/documents")) >= 1);
        // every write was followed by task polling until it succeeded
        let writes = f.tasks.len();
        assert!(f.polled.len() == writes && f.polled.values().all(|n| *n >= 2), "{:?}", f.polled);
    }
}

#[tokio::test]
async fn search_meilisearch_batches_documents_and_reports_failed_tasks() {
    let (url, key, fake) = server().await;
    let index = unique_index();
    let meili = search::meili::Meili::connect(&url, Some(key.clone()), &index).await.unwrap();
    let tenant = kernel::TenantId::new();
    let store = kernel::StoreId::new();
    let doc = |i: usize| search::ProductDoc {
        id: kernel::ProductId::new(),
        tenant_id: tenant,
        store_id: store,
        status: "active".into(),
        handle: format!("p-{i}"),
        title: format!("Product {i}"),
        description: String::new(),
        vendor: "V".into(),
        product_type: String::new(),
        tags: vec![],
        option_values: vec![],
        skus: vec![format!("SKU-{i}")],
        price_min: 100 + i as i64,
        price_max: 100 + i as i64,
        in_stock: true,
        published_at: i as i64,
        indexed_at: chrono::Utc::now().timestamp_millis(),
    };
    use search::Backend;
    let docs: Vec<_> = (0..2500).map(doc).collect();
    let ids: Vec<_> = docs.iter().map(|d| d.id).collect();
    meili.upsert(docs).await.unwrap();
    let mut q = search::SearchQuery::all(tenant, store);
    q.limit = 5;
    q.sort = search::SortBy::PriceAsc;
    let hits = meili.search(&q).await.unwrap();
    assert_eq!(hits.total, 2500);
    assert_eq!(hits.ids[0], ids[0]);
    meili.delete(ids[..500].to_vec()).await.unwrap();
    assert_eq!(meili.search(&q).await.unwrap().total, 2000);
    meili.delete_stale(tenant, store, chrono::Utc::now() + chrono::Duration::seconds(1)).await.unwrap();
    assert_eq!(meili.search(&q).await.unwrap().total, 0);

    if let Some(fake) = fake {
        {
            let f = fake.lock().unwrap();
            let posts = f.log.iter().filter(|l| **l == format!("POST /indexes/{index}/documents")).count();
            assert_eq!(posts, 3, "2,500 documents in batches of 1,000");
        }
        // a failed task is reported with Meilisearch's code
        fake.lock().unwrap().fail_next_documents = true;
        let err = meili.upsert(vec![doc(1)]).await.unwrap_err();
        assert!(err.to_string().contains("invalid_document_id"), "{err}");
        // a wrong key is refused at once
        let e = search::meili::Meili::connect(&url, Some("wrong".into()), &unique_index()).await.err().unwrap();
        assert!(e.to_string().contains("invalid_api_key"), "{e}");
    }
}
