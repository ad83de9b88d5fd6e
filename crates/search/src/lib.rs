//! Storefront search: one interface, two backends, kept in sync from the outbox.
//!
//! * [`Search`]: the handle the API, the worker and the CLI share. It wraps a [`Backend`]:
//!   [`embedded::Embedded`] (tantivy on local disk, the default; Japanese without a dictionary,
//!   see [`analyze`]) or [`meili::Meili`] (Meilisearch over its HTTP API).
//! * [`document`]: a product's search document, built from the database's current state.
//! * [`sync`]: the outbox consumer (marks products to refresh, in the relay's transaction) and
//!   the task that refreshes them in batches.
//! * [`reindex`]: rebuilds a store's documents from the database, resumable through
//!   `search_sync_state`.
//!
//! Every query names a tenant and a store; every backend filters by both, so no document of
//! another store can come back. docs/SEARCH.md has the rules.

pub mod analyze;
pub mod document;
pub mod embedded;
mod error;
pub mod meili;
pub mod reindex;
pub mod storefront;
pub mod sync;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kernel::{ProductId, StoreId, TenantId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use document::ProductDoc;
pub use error::SearchError;

/// The order of results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Hash)]
#[serde(rename_all = "snake_case")]
pub enum SortBy {
    /// Best match first (the default with a query).
    Relevance,
    /// Most recently published first (the default without a query).
    Newest,
    /// Lowest price first (a product's price is its lowest variant price).
    PriceAsc,
    PriceDesc,
}

/// A query, always within one tenant's store.
#[derive(Debug, Clone)]
pub struct SearchQuery {
    pub tenant_id: TenantId,
    pub store_id: StoreId,
    /// Free text; empty lists everything that passes the filters.
    pub text: String,
    /// Product statuses to include (the storefront asks for `active` only).
    pub statuses: Vec<String>,
    /// Exact vendor name.
    pub vendor: Option<String>,
    /// An option value as `Name:Value` (e.g. `Size:M`).
    pub option: Option<String>,
    /// Bounds on the product's lowest price, inclusive, in minor units.
    pub price_min: Option<i64>,
    pub price_max: Option<i64>,
    /// Only products with a variant available (true) or without (false).
    pub in_stock: Option<bool>,
    pub sort: SortBy,
    pub offset: usize,
    pub limit: usize,
    /// Count facet values over all matches.
    pub facets: bool,
}

impl SearchQuery {
    /// Every active product of the store, newest first.
    pub fn all(tenant_id: TenantId, store_id: StoreId) -> Self {
        SearchQuery {
            tenant_id,
            store_id,
            text: String::new(),
            statuses: vec!["active".into()],
            vendor: None,
            option: None,
            price_min: None,
            price_max: None,
            in_stock: None,
            sort: SortBy::Newest,
            offset: 0,
            limit: 20,
            facets: false,
        }
    }
}

/// Counts of facet values over every match of a query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Facets {
    /// Vendor name -> products.
    pub vendor: BTreeMap<String, u64>,
    /// Option name -> value -> products (`{"Size": {"M": 3}}`).
    pub options: BTreeMap<String, BTreeMap<String, u64>>,
}

impl Facets {
    /// Adds one product's `Name:Value` option pairs.
    pub(crate) fn add_option(&mut self, pair: &str, n: u64) {
        if let Some((name, value)) = pair.split_once(':') {
            *self.options.entry(name.to_string()).or_default().entry(value.to_string()).or_default() += n;
        }
    }
}

/// What a query found: product ids in order, and counts.
#[derive(Debug, Clone, Default)]
pub struct SearchHits {
    pub ids: Vec<ProductId>,
    /// Matches in all (an estimate on Meilisearch beyond its `maxTotalHits`).
    pub total: u64,
    pub facets: Facets,
}

/// A search engine holding product documents.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// `embedded` or `meilisearch`: the `backend` of search_sync_state rows.
    fn name(&self) -> &'static str;

    /// Whether this process may write (an embedded index is written by one process).
    fn writable(&self) -> bool;

    /// Adds or replaces documents (by product id); durable when it returns.
    async fn upsert(&self, docs: Vec<ProductDoc>) -> Result<(), SearchError>;

    /// Removes documents; unknown ids are fine.
    async fn delete(&self, ids: Vec<ProductId>) -> Result<(), SearchError>;

    /// Removes a store's documents written before `before` (what a finished reindex did not
    /// touch: products deleted meanwhile).
    async fn delete_stale(&self, tenant: TenantId, store: StoreId, before: DateTime<Utc>) -> Result<(), SearchError>;

    async fn search(&self, query: &SearchQuery) -> Result<SearchHits, SearchError>;
}

/// Which backend, and its settings.
#[derive(Debug, Clone)]
pub enum SearchSettings {
    /// tantivy under `dir`. `write` asks for the index writer (the worker); without it, or when
    /// another process holds it, the index is opened for reading and follows that process's
    /// commits.
    /// `writer_memory` bounds what the writer buffers before it flushes a segment (bytes; at
    /// least [`embedded::MIN_WRITER_MEMORY`]): the largest part of the process's memory that
    /// search holds.
    Embedded { dir: PathBuf, write: bool, writer_memory: usize },
    /// Meilisearch at `url` with `key` (a key allowed to manage the index), index `index`.
    Meilisearch { url: String, key: Option<String>, index: String },
}

/// The search handle: cheap to clone, shared by the API, the worker and the CLI of a process.
#[derive(Clone)]
pub struct Search {
    backend: Arc<dyn Backend>,
    /// Wakes the sync task when the consumer marked products (same process).
    pub(crate) wake: Arc<tokio::sync::Notify>,
}

impl Search {
    /// Opens the configured backend (creating the embedded index, or applying the Meilisearch
    /// index settings).
    pub async fn open(settings: &SearchSettings) -> Result<Search, SearchError> {
        let backend: Arc<dyn Backend> = match settings {
            SearchSettings::Embedded { dir, write, writer_memory } => {
                Arc::new(embedded::Embedded::open(dir, *write, *writer_memory)?)
            }
            SearchSettings::Meilisearch { url, key, index } => {
                Arc::new(meili::Meili::connect(url, key.clone(), index).await?)
            }
        };
        Ok(Search::from_backend(backend))
    }

    pub fn from_backend(backend: Arc<dyn Backend>) -> Search {
        Search { backend, wake: Arc::new(tokio::sync::Notify::new()) }
    }

    pub fn backend(&self) -> &dyn Backend {
        self.backend.as_ref()
    }

    pub fn name(&self) -> &'static str {
        self.backend.name()
    }

    pub async fn search(&self, query: &SearchQuery) -> Result<SearchHits, SearchError> {
        self.backend.search(query).await
    }

    /// Wakes this process's sync task after products were marked ([`sync::mark`]) and the
    /// marks committed; a sync task in another process finds them at its next poll.
    pub fn wake_sync(&self) {
        self.wake.notify_one();
    }
}
