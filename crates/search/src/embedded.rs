//! The embedded backend: a tantivy index on local disk (`<data dir>/search` by default).
//!
//! * Text goes through [`crate::analyze`] (width and kana folding, words for Latin scripts,
//!   single characters and pairs for CJK), registered as the `tenpo` tokenizer. Two text fields:
//!   `title` (weighted 3×) and `body` (description, vendor, type, tags, option values, SKUs).
//! * Filters are exact terms (tenant, store, status, vendor, option value, in stock) and a
//!   range on the lowest price; they do not change scores.
//! * One process writes (tantivy's lock file enforces it); its commits are durable when
//!   [`Embedded::upsert`] returns. Other processes on the same directory open it for reading
//!   and reload within a second of each commit (the reader watches `meta.json`).
//! * A query collects every match of the store with its sort keys from fast fields, counts
//!   facets over them (an array indexed by the value's ordinal in the segment, not a map),
//!   and selects the page (a partial selection, then a sort of the page only): a store's
//!   matches are at most its product count, so this stays well under a millisecond for ten
//!   thousand products. The query's tokens are analysed once.

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kernel::{ProductId, StoreId, TenantId};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::directory::MmapDirectory;
use tantivy::query::{BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::{FAST, Field, INDEXED, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions};
use tantivy::tokenizer::{TextAnalyzer, Token, TokenStream, Tokenizer};
use tantivy::{DocId, Index, IndexReader, IndexWriter, ReloadPolicy, Score, SegmentOrdinal, SegmentReader};
use tantivy::{TantivyDocument, TantivyError, Term};
use uuid::Uuid;

use crate::analyze::{self, QueryToken};
use crate::{Backend, Facets, ProductDoc, SearchError, SearchHits, SearchQuery, SortBy};

const TOKENIZER: &str = "tenpo";
/// The least memory tantivy lets one writer thread buffer.
pub const MIN_WRITER_MEMORY: usize = 15 * 1024 * 1024;
/// The default of what the writer may buffer before it flushes a segment (`search.writer_memory_mb`):
/// the sync and the reindex commit every 500 products, far below it.
pub const DEFAULT_WRITER_MEMORY: usize = 16 * 1024 * 1024;
const TITLE_BOOST: f32 = 3.0;

/// The `tenpo` tokenizer: [`analyze::index_tokens`] as a tantivy token stream.
#[derive(Clone, Default)]
struct TenpoTokenizer;

struct VecStream {
    tokens: Vec<Token>,
    at: usize,
}

impl TokenStream for VecStream {
    fn advance(&mut self) -> bool {
        self.at += 1;
        self.at <= self.tokens.len()
    }
    fn token(&self) -> &Token {
        &self.tokens[self.at - 1]
    }
    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.at - 1]
    }
}

impl Tokenizer for TenpoTokenizer {
    type TokenStream<'a> = VecStream;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecStream {
        let tokens = analyze::index_tokens(text)
            .into_iter()
            .enumerate()
            .map(|(i, t)| Token { offset_from: 0, offset_to: 0, position: i, text: t, position_length: 1 })
            .collect();
        VecStream { tokens, at: 0 }
    }
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    id_hi: Field,
    id_lo: Field,
    tenant: Field,
    store: Field,
    status: Field,
    vendor: Field,
    option: Field,
    price_min: Field,
    in_stock: Field,
    published_at: Field,
    indexed_at: Field,
    title: Field,
    body: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default().set_tokenizer(TOKENIZER).set_index_option(IndexRecordOption::WithFreqs),
    );
    let f = Fields {
        id: b.add_text_field("id", STRING),
        id_hi: b.add_u64_field("id_hi", FAST),
        id_lo: b.add_u64_field("id_lo", FAST),
        tenant: b.add_text_field("tenant_id", STRING),
        store: b.add_text_field("store_id", STRING),
        status: b.add_text_field("status", STRING),
        vendor: b.add_text_field("vendor", STRING | FAST),
        option: b.add_text_field("option_values", STRING | FAST),
        price_min: b.add_i64_field("price_min", INDEXED | FAST),
        in_stock: b.add_u64_field("in_stock", INDEXED),
        published_at: b.add_i64_field("published_at", FAST),
        indexed_at: b.add_i64_field("indexed_at", INDEXED),
        title: b.add_text_field("title", text.clone()),
        body: b.add_text_field("body", text),
    };
    (b.build(), f)
}

/// The embedded index of this process.
#[derive(Clone)]
pub struct Embedded {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    reader: IndexReader,
    writer: Option<Mutex<IndexWriter<TantivyDocument>>>,
    f: Fields,
}

impl Embedded {
    /// Opens (or creates) the index in `dir`. With `write`, takes the writer unless another
    /// process holds it; then this process only reads (and logs why).
    pub fn open(dir: &Path, write: bool, writer_memory: usize) -> Result<Embedded, SearchError> {
        std::fs::create_dir_all(dir)?;
        let (schema, f) = schema();
        let index = match open_index(dir, &schema) {
            Ok(i) => i,
            Err(TantivyError::SchemaError(_)) if write => {
                // an index from an older layout: it is derived data; start afresh (reindex fills it)
                tracing::warn!(dir = %dir.display(), "search index has an older layout; recreating it (run `tenpo search reindex`)");
                std::fs::remove_dir_all(dir)?;
                std::fs::create_dir_all(dir)?;
                open_index(dir, &schema)?
            }
            Err(e) => return Err(e.into()),
        };
        let writer = if write {
            match index.writer_with_num_threads::<TantivyDocument>(1, writer_memory.max(MIN_WRITER_MEMORY)) {
                Ok(w) => Some(Mutex::new(w)),
                Err(TantivyError::LockFailure(..)) => {
                    tracing::info!(dir = %dir.display(), "search index is written by another process; reading only");
                    None
                }
                Err(e) => return Err(e.into()),
            }
        } else {
            None
        };
        let reader = index.reader_builder().reload_policy(ReloadPolicy::OnCommitWithDelay).try_into()?;
        Ok(Embedded { inner: Arc::new(Inner { dir: dir.to_path_buf(), reader, writer, f }) })
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Runs `f` with the writer on a blocking thread, commits, and makes the commit visible to
    /// this process's readers at once.
    async fn write<F>(&self, f: F) -> Result<(), SearchError>
    where
        F: FnOnce(&IndexWriter<TantivyDocument>, &Fields) -> Result<(), SearchError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let Some(writer) = &inner.writer else { return Err(SearchError::ReadOnly) };
            let mut w = writer.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(e) = f(&w, &inner.f) {
                let _ = w.rollback();
                return Err(e);
            }
            w.commit()?;
            drop(w);
            inner.reader.reload()?;
            Ok(())
        })
        .await
        .map_err(|e| SearchError::Io(std::io::Error::other(e.to_string())))?
    }
}

fn open_index(dir: &Path, schema: &Schema) -> Result<Index, TantivyError> {
    let mmap = MmapDirectory::open(dir).map_err(|e| TantivyError::SystemError(e.to_string()))?;
    let index = Index::open_or_create(mmap, schema.clone())?;
    index.tokenizers().register(TOKENIZER, TextAnalyzer::from(TenpoTokenizer));
    Ok(index)
}

fn to_tantivy(f: &Fields, d: &ProductDoc) -> TantivyDocument {
    let mut doc = TantivyDocument::default();
    let (hi, lo) = split_id(d.id.as_uuid());
    doc.add_text(f.id, d.id.to_string());
    doc.add_u64(f.id_hi, hi);
    doc.add_u64(f.id_lo, lo);
    doc.add_text(f.tenant, d.tenant_id.to_string());
    doc.add_text(f.store, d.store_id.to_string());
    doc.add_text(f.status, &d.status);
    doc.add_text(f.vendor, &d.vendor);
    for o in &d.option_values {
        doc.add_text(f.option, o);
    }
    doc.add_i64(f.price_min, d.price_min);
    doc.add_u64(f.in_stock, d.in_stock as u64);
    doc.add_i64(f.published_at, d.published_at);
    doc.add_i64(f.indexed_at, d.indexed_at);
    doc.add_text(f.title, &d.title);
    let mut body = String::with_capacity(d.description.len() + 128);
    for part in [d.description.as_str(), d.vendor.as_str(), d.product_type.as_str()] {
        body.push_str(part);
        body.push('\n');
    }
    for part in d.tags.iter().chain(&d.skus) {
        body.push_str(part);
        body.push('\n');
    }
    for o in &d.option_values {
        body.push_str(o.split_once(':').map(|(_, v)| v).unwrap_or(o));
        body.push('\n');
    }
    doc.add_text(f.body, body);
    doc
}

fn split_id(id: Uuid) -> (u64, u64) {
    let n = id.as_u128();
    ((n >> 64) as u64, n as u64)
}

fn join_id(hi: u64, lo: u64) -> Uuid {
    Uuid::from_u128(((hi as u128) << 64) | lo as u128)
}

#[async_trait]
impl Backend for Embedded {
    fn name(&self) -> &'static str {
        "embedded"
    }

    fn writable(&self) -> bool {
        self.inner.writer.is_some()
    }

    async fn upsert(&self, docs: Vec<ProductDoc>) -> Result<(), SearchError> {
        if docs.is_empty() {
            return Ok(());
        }
        self.write(move |w, f| {
            for d in &docs {
                w.delete_term(Term::from_field_text(f.id, &d.id.to_string()));
                w.add_document(to_tantivy(f, d))?;
            }
            Ok(())
        })
        .await
    }

    async fn delete(&self, ids: Vec<ProductId>) -> Result<(), SearchError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.write(move |w, f| {
            for id in &ids {
                w.delete_term(Term::from_field_text(f.id, &id.to_string()));
            }
            Ok(())
        })
        .await
    }

    async fn delete_stale(&self, tenant: TenantId, store: StoreId, before: DateTime<Utc>) -> Result<(), SearchError> {
        let before = before.timestamp_millis();
        self.write(move |w, f| {
            let q = BooleanQuery::new(vec![
                (Occur::Must, term(f.tenant, &tenant.to_string())),
                (Occur::Must, term(f.store, &store.to_string())),
                (
                    Occur::Must,
                    Box::new(RangeQuery::new(
                        Bound::Unbounded,
                        Bound::Excluded(Term::from_field_i64(f.indexed_at, before)),
                    )),
                ),
            ]);
            w.delete_query(Box::new(q))?;
            Ok(())
        })
        .await
    }

    async fn search(&self, query: &SearchQuery) -> Result<SearchHits, SearchError> {
        let inner = self.inner.clone();
        let query = query.clone();
        tokio::task::spawn_blocking(move || run_query(&inner, &query))
            .await
            .map_err(|e| SearchError::Io(std::io::Error::other(e.to_string())))?
    }
}

fn term(field: Field, text: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(Term::from_field_text(field, text), IndexRecordOption::Basic))
}

fn filter(q: Box<dyn Query>) -> (Occur, Box<dyn Query>) {
    (Occur::Must, Box::new(ConstScoreQuery::new(q, 0.0)))
}

/// The text part: every query token must match, in the title or the body.
fn text_query(f: &Fields, tokens: &[QueryToken]) -> Option<Box<dyn Query>> {
    if tokens.is_empty() {
        return None;
    }
    let last_word = tokens.iter().rposition(|t| matches!(t, QueryToken::Word(_)));
    let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let mut any: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (field, boost) in [(f.title, TITLE_BOOST), (f.body, 1.0)] {
            match token {
                QueryToken::Gram(g) => {
                    let t = Term::from_field_text(field, g);
                    any.push((
                        Occur::Should,
                        Box::new(BoostQuery::new(Box::new(TermQuery::new(t, IndexRecordOption::WithFreqs)), boost)),
                    ));
                }
                QueryToken::Word(w) => {
                    let t = Term::from_field_text(field, w);
                    any.push((
                        Occur::Should,
                        Box::new(BoostQuery::new(
                            Box::new(TermQuery::new(t.clone(), IndexRecordOption::WithFreqs)),
                            2.0 * boost,
                        )),
                    ));
                    let typos = analyze::typo_budget(w);
                    if typos > 0 {
                        any.push((
                            Occur::Should,
                            Box::new(BoostQuery::new(Box::new(FuzzyTermQuery::new(t.clone(), typos, true)), boost)),
                        ));
                    }
                    // the word being typed: a prefix of a longer word
                    if Some(i) == last_word && w.chars().count() >= 2 {
                        any.push((
                            Occur::Should,
                            Box::new(BoostQuery::new(Box::new(FuzzyTermQuery::new_prefix(t, 0, true)), boost)),
                        ));
                    }
                }
            }
        }
        must.push((Occur::Must, Box::new(BooleanQuery::new(any))));
    }
    Some(Box::new(BooleanQuery::new(must)))
}

fn build_query(f: &Fields, q: &SearchQuery, tokens: &[QueryToken]) -> Box<dyn Query> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> =
        vec![filter(term(f.tenant, &q.tenant_id.to_string())), filter(term(f.store, &q.store_id.to_string()))];
    if !q.statuses.is_empty() {
        let any = q.statuses.iter().map(|s| (Occur::Should, term(f.status, s))).collect();
        clauses.push(filter(Box::new(BooleanQuery::new(any))));
    }
    if let Some(v) = &q.vendor {
        clauses.push(filter(term(f.vendor, v)));
    }
    if let Some(o) = &q.option {
        clauses.push(filter(term(f.option, o)));
    }
    if q.price_min.is_some() || q.price_max.is_some() {
        let lo = q.price_min.map_or(Bound::Unbounded, |v| Bound::Included(Term::from_field_i64(f.price_min, v)));
        let hi = q.price_max.map_or(Bound::Unbounded, |v| Bound::Included(Term::from_field_i64(f.price_min, v)));
        clauses.push(filter(Box::new(RangeQuery::new(lo, hi))));
    }
    if let Some(s) = q.in_stock {
        clauses.push(filter(Box::new(TermQuery::new(
            Term::from_field_u64(f.in_stock, s as u64),
            IndexRecordOption::Basic,
        ))));
    }
    if let Some(text) = text_query(f, tokens) {
        clauses.push((Occur::Must, text));
    }
    Box::new(BooleanQuery::new(clauses))
}

/// One match with its sort keys.
#[derive(Debug, Clone, Copy)]
struct Hit {
    score: Score,
    price: i64,
    published: i64,
    id: u128,
}

struct AllHits {
    scoring: bool,
    facets: bool,
}

struct SegmentHits {
    scoring: bool,
    hits: Vec<Hit>,
    id_hi: Column<u64>,
    id_lo: Column<u64>,
    price: Column<i64>,
    published: Column<i64>,
    vendor: Option<StrColumn>,
    option: Option<StrColumn>,
    /// Matches per value ordinal of the segment's vendor and option columns.
    vendor_counts: Vec<u64>,
    option_counts: Vec<u64>,
}

struct SegmentFruit {
    hits: Vec<Hit>,
    vendor: Vec<(String, u64)>,
    option: Vec<(String, u64)>,
}

impl Collector for AllHits {
    type Fruit = (Vec<Hit>, Facets);
    type Child = SegmentHits;

    fn for_segment(&self, _ord: SegmentOrdinal, segment: &SegmentReader) -> tantivy::Result<SegmentHits> {
        let ff = segment.fast_fields();
        let vendor = if self.facets { ff.str("vendor")? } else { None };
        let option = if self.facets { ff.str("option_values")? } else { None };
        let slots = |c: &Option<StrColumn>| vec![0; c.as_ref().map_or(0, |c| c.num_terms())];
        Ok(SegmentHits {
            scoring: self.scoring,
            hits: Vec::with_capacity(segment.num_docs() as usize),
            id_hi: ff.u64("id_hi")?,
            id_lo: ff.u64("id_lo")?,
            price: ff.i64("price_min")?,
            published: ff.i64("published_at")?,
            vendor_counts: slots(&vendor),
            option_counts: slots(&option),
            vendor,
            option,
        })
    }

    fn requires_scoring(&self) -> bool {
        self.scoring
    }

    fn merge_fruits(&self, fruits: Vec<SegmentFruit>) -> tantivy::Result<(Vec<Hit>, Facets)> {
        let mut hits = Vec::new();
        let mut facets = Facets::default();
        for f in fruits {
            hits.extend(f.hits);
            for (v, n) in f.vendor {
                *facets.vendor.entry(v).or_default() += n;
            }
            for (o, n) in f.option {
                facets.add_option(&o, n);
            }
        }
        Ok((hits, facets))
    }
}

impl SegmentCollector for SegmentHits {
    type Fruit = SegmentFruit;

    fn collect(&mut self, doc: DocId, score: Score) {
        let hi = self.id_hi.first(doc).unwrap_or(0);
        let lo = self.id_lo.first(doc).unwrap_or(0);
        self.hits.push(Hit {
            score: if self.scoring { score } else { 0.0 },
            price: self.price.first(doc).unwrap_or(0),
            published: self.published.first(doc).unwrap_or(0),
            id: join_id(hi, lo).as_u128(),
        });
        if let Some(v) = &self.vendor {
            for ord in v.term_ords(doc) {
                if let Some(n) = self.vendor_counts.get_mut(ord as usize) {
                    *n += 1;
                }
            }
        }
        if let Some(o) = &self.option {
            for ord in o.term_ords(doc) {
                if let Some(n) = self.option_counts.get_mut(ord as usize) {
                    *n += 1;
                }
            }
        }
    }

    fn harvest(self) -> SegmentFruit {
        let names = |col: &Option<StrColumn>, counts: Vec<u64>| -> Vec<(String, u64)> {
            let Some(col) = col else { return Vec::new() };
            counts
                .into_iter()
                .enumerate()
                .filter(|(_, n)| *n > 0)
                .filter_map(|(ord, n)| {
                    let mut s = String::new();
                    col.ord_to_str(ord as u64, &mut s).ok().filter(|found| *found).map(|_| (s, n))
                })
                .filter(|(s, _)| !s.is_empty())
                .collect()
        };
        SegmentFruit {
            vendor: names(&self.vendor, self.vendor_counts),
            option: names(&self.option, self.option_counts),
            hits: self.hits,
        }
    }
}

fn run_query(inner: &Inner, q: &SearchQuery) -> Result<SearchHits, SearchError> {
    let searcher = inner.reader.searcher();
    let tokens = analyze::query_tokens(&q.text);
    let query = build_query(&inner.f, q, &tokens);
    let relevance = q.sort == SortBy::Relevance && !tokens.is_empty();
    let (mut hits, facets) = searcher.search(&*query, &AllHits { scoring: relevance, facets: q.facets })?;
    let order: fn(&Hit, &Hit) -> std::cmp::Ordering = match q.sort {
        SortBy::Relevance if relevance => {
            |a, b| b.score.total_cmp(&a.score).then(b.published.cmp(&a.published)).then(b.id.cmp(&a.id))
        }
        SortBy::Relevance | SortBy::Newest => |a, b| b.published.cmp(&a.published).then(b.id.cmp(&a.id)),
        SortBy::PriceAsc => |a, b| a.price.cmp(&b.price).then(a.id.cmp(&b.id)),
        SortBy::PriceDesc => |a, b| b.price.cmp(&a.price).then(b.id.cmp(&a.id)),
    };
    let total = hits.len() as u64;
    let end = q.offset.saturating_add(q.limit).min(hits.len());
    // only the hits up to the page's end need their order: select them, then sort those
    if end > 0 && end < hits.len() {
        hits.select_nth_unstable_by(end - 1, order);
        hits.truncate(end);
    }
    hits.sort_unstable_by(order);
    let ids = hits.iter().skip(q.offset).take(q.limit).map(|h| ProductId::from(Uuid::from_u128(h.id))).collect();
    Ok(SearchHits { ids, total, facets })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_split_and_join() {
        let id = Uuid::now_v7();
        let (hi, lo) = split_id(id);
        assert_eq!(join_id(hi, lo), id);
    }
}
