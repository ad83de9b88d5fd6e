//! The online move of a store to another database (`tenpo store move`, docs/ROUTING.md).
//!
//! A move is a row of `store_moves` (control database) whose state records each step, so a
//! crashed move resumes where it stood and an aborted one leaves the store on its source:
//!
//! * `copying`: the store's rows are upserted into the target table by table in foreign-key
//!   order while the store keeps serving from its source (replaying is harmless);
//! * `frozen`: the store's handles open read-only transactions (writes answer 503
//!   `store_moving`, reads go on); the move waits for the source's transactions begun before
//!   the freeze, then makes the target equal to the source table by table (rows that differ by
//!   their hash copied again, rows gone from the source deleted), and verifies row counts and
//!   checksums per table on both sides;
//! * `switched`: the route changed and the freeze ended in one control transaction (both
//!   notify `tenpo_routes`); after the grace period the source's rows are deleted;
//! * `done` | `aborted`.
//!
//! Which tables are the store's is read from the catalog: every table with a `store_id` column
//! (control tables excepted), every table reaching one of those through a foreign key (its rows
//! follow their parent's), and the tenant's own tables (customers and the like: upserted,
//! never deleted from the source, since the tenant's other stores may use them).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use kernel::{StoreId, TenantId};
use serde::Serialize;

use crate::connections::{self, ConnectionStatus, MAIN};
use crate::migrate::quote_ident;
use crate::routing::{RouteError, route_of};
use crate::{Db, Tx};

/// Tables that are control data or mirrors of it: never moved.
const CONTROL: [&str; 12] = [
    "_sqlx_migrations",
    "tenants",
    "vendors",
    "stores",
    "store_staff",
    "staff_sessions",
    "login_throttle",
    "db_connections",
    "store_db_routing",
    "store_moves",
    "postal_codes",
    "postal_source",
];

/// How long the freeze waits before it looks at the source's transactions: every process has
/// heard of it by then.
const FREEZE_SETTLE: Duration = Duration::from_millis(250);
/// How long the freeze waits for the source's transactions begun before it.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum MoveError {
    #[error(transparent)]
    Route(#[from] RouteError),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("{0}")]
    Refused(String),
    #[error("verification failed, the move was aborted and the store stays on its source: {0}")]
    Verify(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// The store's own rows: the target made exactly equal, the source's deleted at the end.
    Store,
    /// The tenant's rows (customers ...): upserted, never deleted.
    Tenant,
}

#[derive(Debug, Clone)]
struct Table {
    name: String,
    scope: Scope,
    /// A condition on `t` (the table's alias) selecting the store's rows.
    filter: String,
    /// `row(<primary key>)::text` of `t`.
    key: String,
    /// Whether a foreign key of the table points at itself (its rows are copied in one
    /// statement, so a row may come before the row it points at).
    self_ref: bool,
}

/// One table's figures after the verification.
#[derive(Debug, Clone, Serialize)]
pub struct TableReport {
    pub table: String,
    pub rows: i64,
    pub checksum: String,
}

/// What `tenpo store move` prints.
#[derive(Debug, Clone, Serialize)]
pub struct MoveReport {
    pub move_id: uuid::Uuid,
    pub store_id: StoreId,
    pub from: String,
    pub to: String,
    pub state: String,
    /// How long the store's writes were refused.
    pub freeze_ms: Option<i64>,
    pub tables: Vec<TableReport>,
}

/// Options of a move.
#[derive(Debug, Clone, Default)]
pub struct MoveOptions {
    /// How long the source's rows are kept after the switch.
    pub grace: Duration,
    /// A pause after each copied table (tests stop a move mid-copy).
    pub copy_pause: Duration,
    /// A pause at the start of the freeze (tests look at a frozen store).
    pub freeze_hold: Duration,
    /// Rows per copy batch (0: [`COPY_BATCH`]).
    pub copy_batch: i64,
}

struct Open {
    id: uuid::Uuid,
    from_key: String,
    to_key: String,
    state: String,
}

async fn open_move(control: &Db, store: StoreId) -> Result<Option<Open>, sqlx::Error> {
    let row: Option<(uuid::Uuid, String, String, String)> = sqlx::query_as(
        "SELECT id, from_key, to_key, state FROM store_moves
          WHERE store_id = $1 AND state IN ('copying', 'frozen', 'switched')",
    )
    .bind(store)
    .fetch_optional(control.platform())
    .await?;
    Ok(row.map(|(id, from_key, to_key, state)| Open { id, from_key, to_key, state }))
}

async fn set_state(control: &Db, id: uuid::Uuid, state: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE store_moves SET state = $2 WHERE id = $1")
        .bind(id)
        .bind(state)
        .execute(control.platform())
        .await?;
    Ok(())
}

/// Moves the store to the database `to` (a connection's key, or `main`), or resumes its open
/// move there. `progress` is told each step.
pub async fn run(
    db: &Db,
    tenant: TenantId,
    store: StoreId,
    to: &str,
    options: &MoveOptions,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<MoveReport, MoveError> {
    let control = db.control();
    let open = match open_move(&control, store).await? {
        Some(open) if open.to_key != to => {
            return Err(MoveError::Refused(format!(
                "a move of this store to {:?} is open ({}); resume it with --to {} or abort it with --abort",
                open.to_key, open.state, open.to_key
            )));
        }
        Some(open) => {
            progress(&format!("resuming the move {} from its step {:?}", open.id, open.state));
            open
        }
        None => {
            let current = route_of(control.platform(), store).await?;
            if current.db_key == to {
                return Err(MoveError::Refused(format!("the store already lives in {to:?}")));
            }
            ready(&control, to).await?;
            let id: uuid::Uuid = sqlx::query_scalar(
                "INSERT INTO store_moves (store_id, from_key, to_key) VALUES ($1, $2, $3) RETURNING id",
            )
            .bind(store)
            .bind(&current.db_key)
            .bind(to)
            .fetch_one(control.platform())
            .await?;
            progress(&format!("move {id}: {} -> {to}", current.db_key));
            Open { id, from_key: current.db_key, to_key: to.to_string(), state: "copying".into() }
        }
    };
    let source = control.database(Some(&open.from_key)).await?;
    let target = control.database(Some(&open.to_key)).await?;
    let tables = plan(&source).await?;
    let mut state = open.state.clone();
    let mut report = MoveReport {
        move_id: open.id,
        store_id: store,
        from: open.from_key.clone(),
        to: open.to_key.clone(),
        state: state.clone(),
        freeze_ms: None,
        tables: Vec::new(),
    };

    if state == "copying" {
        if !target.is_main() {
            crate::mirror::mirror_into(&control, &target, tenant).await?;
            let mut from = control.begin(tenant).await?;
            let rows = rows_of(&mut from, "stores", &format!("t.id = '{store}'"), None).await?;
            from.commit().await?;
            let mut into = target.begin(tenant).await?;
            crate::mirror::upsert(&mut into, "stores", &rows).await?;
            into.commit().await?;
        }
        let mut snapshot = source.begin_snapshot(tenant).await?;
        for (n, table) in tables.iter().enumerate() {
            let copied = copy_table(&mut snapshot, &target, tenant, store, table, options.copy_batch).await?;
            progress(&format!("copy [{}/{}] {}: {copied} rows", n + 1, tables.len(), table.name));
            tokio::time::sleep(options.copy_pause).await;
        }
        snapshot.commit().await?;
        sqlx::query("UPDATE store_moves SET state = 'frozen', frozen_at = clock_timestamp() WHERE id = $1")
            .bind(open.id)
            .execute(control.platform())
            .await?;
        state = "frozen".into();
        progress("frozen: the store's writes answer 503 store_moving");
    }

    if state == "frozen" {
        let started = Instant::now();
        tokio::time::sleep(options.freeze_hold).await;
        let delta = async {
            drain(&source).await?;
            let mut verified = Err(String::new());
            for round in 1..=3 {
                let changed = sync_exact(&source, &target, tenant, store, &tables).await?;
                progress(&format!("delta round {round}: {changed} rows changed since their copy"));
                verified = verify(&source, &target, tenant, store, &tables).await?;
                if verified.is_ok() {
                    break;
                }
            }
            verified.map_err(MoveError::Verify)
        };
        let figures = match delta.await {
            Ok(figures) => figures,
            Err(e) => {
                // a failed move leaves the store on its source, whole, and lifts the freeze
                abort_open(&control, &target, tenant, store, &tables, open.id, &e.to_string()).await?;
                return Err(e);
            }
        };
        progress(&format!("verified {} tables: row counts and checksums equal", figures.len()));
        report.tables = figures;
        // the route and the freeze's end in one transaction: a process hears both at once
        let mut tx = control.platform().begin().await?;
        if open.to_key == MAIN {
            sqlx::query("DELETE FROM store_db_routing WHERE store_id = $1").bind(store).execute(&mut *tx).await?;
        } else {
            sqlx::query(
                "INSERT INTO store_db_routing (store_id, db_key) VALUES ($1, $2)
                 ON CONFLICT (store_id) DO UPDATE SET db_key = EXCLUDED.db_key",
            )
            .bind(store)
            .bind(&open.to_key)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE store_moves SET state = 'switched',
                    freeze_ms = (extract(epoch FROM clock_timestamp() - frozen_at) * 1000)::bigint
              WHERE id = $1",
        )
        .bind(open.id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if !target.is_main() {
            crate::mirror::mirror_into(&control, &target, tenant).await?;
        }
        state = "switched".into();
        progress(&format!("switched to {} ({:?} in this run's freeze step)", open.to_key, started.elapsed()));
    }

    if state == "switched" {
        progress(&format!("grace period: the source's rows are deleted in {:?}", options.grace));
        tokio::time::sleep(options.grace).await;
        let deleted = delete_store_rows(&source, tenant, store, &tables).await?;
        set_state(&control, open.id, "done").await?;
        state = "done".into();
        progress(&format!("done: {deleted} rows deleted from {}", open.from_key));
    }
    report.freeze_ms = sqlx::query_scalar("SELECT freeze_ms FROM store_moves WHERE id = $1")
        .bind(open.id)
        .fetch_one(control.platform())
        .await?;
    report.state = state;
    Ok(report)
}

/// Aborts the store's open move: the rows copied to the target are deleted, the freeze ends and
/// the store stays on its source. A move that has switched already is not aborted (move the
/// store back instead).
pub async fn abort(db: &Db, tenant: TenantId, store: StoreId) -> Result<MoveReport, MoveError> {
    let control = db.control();
    let Some(open) = open_move(&control, store).await? else {
        return Err(MoveError::Refused("this store has no open move".into()));
    };
    if open.state == "switched" {
        return Err(MoveError::Refused(format!(
            "the move has switched the store to {:?} already; move it back instead",
            open.to_key
        )));
    }
    let target = control.database(Some(&open.to_key)).await?;
    let tables = plan(&target).await?;
    abort_open(&control, &target, tenant, store, &tables, open.id, "aborted by the operator").await?;
    Ok(MoveReport {
        move_id: open.id,
        store_id: store,
        from: open.from_key,
        to: open.to_key,
        state: "aborted".into(),
        freeze_ms: None,
        tables: Vec::new(),
    })
}

async fn abort_open(
    control: &Db,
    target: &Db,
    tenant: TenantId,
    store: StoreId,
    tables: &[Table],
    id: uuid::Uuid,
    why: &str,
) -> Result<(), MoveError> {
    delete_store_rows(target, tenant, store, tables).await?;
    sqlx::query("UPDATE store_moves SET state = 'aborted', error = $2 WHERE id = $1")
        .bind(id)
        .bind(why)
        .execute(control.platform())
        .await?;
    Ok(())
}

/// The target must be active, answering and migrated (as for a route).
async fn ready(control: &Db, key: &str) -> Result<(), MoveError> {
    if key == MAIN {
        return Ok(());
    }
    let conn = connections::get(control.platform(), key).await.map_err(RouteError::from)?;
    if conn.status == ConnectionStatus::Inactive {
        return Err(RouteError::NotReady { key: conn.db_key, why: "it is inactive".into() }.into());
    }
    let health = connections::health_of(&conn.db_key, &control.connections().pool(&conn)).await;
    if health.status != connections::HealthStatus::Ok {
        let why = health.error.unwrap_or_else(|| "it does not answer".into());
        return Err(RouteError::NotReady { key: conn.db_key, why }.into());
    }
    Ok(())
}

/// Waits until every process has heard of the freeze (a settling moment: they hear a change of
/// `tenpo_routes` within milliseconds), then until no transaction of the runtime role on the
/// source that began before then is still open: every write of the store made through a handle
/// that had not heard of the freeze has ended.
async fn drain(source: &Db) -> Result<(), MoveError> {
    tokio::time::sleep(FREEZE_SETTLE).await;
    let since: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT clock_timestamp()").fetch_one(source.platform()).await?;
    let started = Instant::now();
    loop {
        let older: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
              WHERE datname = current_database() AND usename = current_user AND pid <> pg_backend_pid()
                AND xact_start < $1",
        )
        .bind(since)
        .fetch_one(source.platform())
        .await?;
        if older == 0 {
            return Ok(());
        }
        if started.elapsed() > DRAIN_LIMIT {
            return Err(MoveError::Refused(format!(
                "{older} transactions begun before the freeze are still open on the source"
            )));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The store's tables in foreign-key order (parents first), read from the catalog.
async fn plan(db: &Db) -> Result<Vec<Table>, MoveError> {
    let columns: Vec<(String, bool, bool, Vec<String>)> = sqlx::query_as(
        "SELECT c.relname::text,
                EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'store_id' AND NOT a.attisdropped),
                EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped),
                coalesce(ARRAY(SELECT quote_ident(a.attname::text) FROM pg_index i
                                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                                WHERE i.indrelid = c.oid AND i.indisprimary ORDER BY a.attnum), '{}')
           FROM pg_class c
          WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace
          ORDER BY 1",
    )
    .fetch_all(db.platform())
    .await?;
    let fks: Vec<(String, String, Vec<String>, Vec<String>)> = sqlx::query_as(
        "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text,
                ARRAY(SELECT quote_ident(a.attname::text) FROM unnest(c.conkey) WITH ORDINALITY k(n, o)
                        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o),
                ARRAY(SELECT quote_ident(a.attname::text) FROM unnest(c.confkey) WITH ORDINALITY k(n, o)
                        JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.o)
           FROM pg_constraint c
          WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
          ORDER BY 1, c.conname",
    )
    .fetch_all(db.platform())
    .await?;
    let included: HashMap<String, (bool, Vec<String>)> = columns
        .into_iter()
        .filter(|(name, _, tenant, key)| *tenant && !key.is_empty() && !CONTROL.contains(&name.as_str()))
        .map(|(name, store, _, key)| (name, (store, key)))
        .collect();
    // filters: the store's own tables, then the tables reaching them through a foreign key
    let mut filters: HashMap<String, (Scope, String)> = included
        .iter()
        .filter(|(_, (store, _))| *store)
        .map(|(name, _)| (name.clone(), (Scope::Store, "t.store_id = $STORE".to_string())))
        .collect();
    loop {
        let mut found = false;
        for (child, parent, cols, refs) in &fks {
            if filters.contains_key(child) || !included.contains_key(child) || child == parent {
                continue;
            }
            if let Some((Scope::Store, parent_filter)) = filters.get(parent) {
                // each nested subquery names its own alias
                let alias = format!("p{}", filters.len());
                let inner = parent_filter.replace("t.", &format!("{alias}."));
                let cols: Vec<String> = cols.iter().map(|c| format!("t.{c}")).collect();
                let refs: Vec<String> = refs.iter().map(|c| format!("{alias}.{c}")).collect();
                let filter = format!(
                    "({}) IN (SELECT {} FROM {} {alias} WHERE {inner})",
                    cols.join(", "),
                    refs.join(", "),
                    quote_ident(parent)
                );
                filters.insert(child.clone(), (Scope::Store, filter));
                found = true;
            }
        }
        if !found {
            break;
        }
    }
    for name in included.keys() {
        filters.entry(name.clone()).or_insert((Scope::Tenant, "t.tenant_id = $TENANT".into()));
    }
    // foreign-key order among the moved tables (self references aside)
    let mut deps: HashMap<&str, HashSet<&str>> = HashMap::new();
    for (child, parent, _, _) in &fks {
        if child != parent && filters.contains_key(child) && filters.contains_key(parent) {
            deps.entry(child.as_str()).or_default().insert(parent.as_str());
        }
    }
    let mut names: Vec<&str> = filters.keys().map(String::as_str).collect();
    names.sort();
    let mut order: Vec<Table> = Vec::new();
    let mut placed: HashSet<&str> = HashSet::new();
    while placed.len() < names.len() {
        let before = placed.len();
        for name in &names {
            if placed.contains(name) || deps.get(name).is_some_and(|d| d.iter().any(|p| !placed.contains(p))) {
                continue;
            }
            placed.insert(name);
            let (scope, filter) = filters[*name].clone();
            let key = format!(
                "row({})::text",
                included[*name].1.iter().map(|c| format!("t.{c}")).collect::<Vec<_>>().join(", ")
            );
            let self_ref = fks.iter().any(|(child, parent, _, _)| child == parent && child == name);
            order.push(Table { name: name.to_string(), scope, filter, key, self_ref });
        }
        if placed.len() == before {
            let left: Vec<&&str> = names.iter().filter(|n| !placed.contains(*n)).collect();
            return Err(MoveError::Refused(format!("the foreign keys of {left:?} form a cycle")));
        }
    }
    Ok(order)
}

fn filter_of(table: &Table, tenant: TenantId, store: StoreId) -> String {
    table.filter.replace("$STORE", &format!("'{store}'::uuid")).replace("$TENANT", &format!("'{tenant}'::uuid"))
}

/// The matching rows of `table` as a JSON array of whole rows (only `keys` when given).
async fn rows_of(
    tx: &mut Tx,
    table: &str,
    filter: &str,
    keys: Option<(&str, &[String])>,
) -> Result<serde_json::Value, sqlx::Error> {
    let t = quote_ident(table);
    let select = "SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]'::jsonb)";
    match keys {
        Some((key, k)) => {
            sqlx::query_scalar(&format!("{select} FROM {t} t WHERE {filter} AND {key} = ANY($1)"))
                .bind(k)
                .fetch_one(&mut **tx)
                .await
        }
        None => sqlx::query_scalar(&format!("{select} FROM {t} t WHERE {filter}")).fetch_one(&mut **tx).await,
    }
}

/// Both sides' transactions, the store's tenant set, in UTC (the row hashes compare text).
async fn pair(source: &Db, target: &Db, tenant: TenantId) -> Result<(Tx, Tx), sqlx::Error> {
    let mut from = source.begin(tenant).await?;
    let mut to = target.begin(tenant).await?;
    for tx in [&mut from, &mut to] {
        sqlx::query("SET LOCAL TimeZone = 'UTC'").execute(&mut **tx).await?;
    }
    // rows keep their updated_at (touch_updated_at)
    sqlx::query("SET LOCAL tenpo.copying = 'on'").execute(&mut *to).await?;
    Ok((from, to))
}

/// How many rows the copy reads and upserts at once by default: what a move holds in memory
/// per table while copying.
const COPY_BATCH: i64 = 2000;

/// Copies one table's rows of the store, read in the copy's one snapshot of the source (a child
/// row is never copied before its parent), [`COPY_BATCH`] rows at a time through a cursor, each
/// batch upserted in a transaction of its own on the target (a table referencing itself at once).
async fn copy_table(
    from: &mut Tx,
    target: &Db,
    tenant: TenantId,
    store: StoreId,
    table: &Table,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    let batch = if batch > 0 { batch } else { COPY_BATCH };
    let t = quote_ident(&table.name);
    sqlx::query(&format!(
        "DECLARE tenpo_move_copy NO SCROLL CURSOR FOR SELECT to_jsonb(t) FROM {t} t WHERE {}",
        filter_of(table, tenant, store)
    ))
    .execute(&mut **from)
    .await?;
    let fetch = if table.self_ref {
        "FETCH ALL FROM tenpo_move_copy".to_string()
    } else {
        format!("FETCH {batch} FROM tenpo_move_copy")
    };
    let mut n = 0;
    loop {
        let rows: Vec<serde_json::Value> = sqlx::query_scalar(&fetch).fetch_all(&mut **from).await?;
        if rows.is_empty() {
            break;
        }
        let mut to = target.begin(tenant).await?;
        sqlx::query("SET LOCAL tenpo.copying = 'on'").execute(&mut *to).await?;
        n += crate::mirror::upsert(&mut to, &table.name, &serde_json::Value::Array(rows)).await?;
        to.commit().await?;
    }
    sqlx::query("CLOSE tenpo_move_copy").execute(&mut **from).await?;
    Ok(n)
}

/// The row hashes of the store's rows of `table`: primary key text -> md5 of the row's text.
async fn hashes(tx: &mut Tx, table: &Table, filter: &str) -> Result<HashMap<String, String>, sqlx::Error> {
    let rows: Vec<(String, String)> = sqlx::query_as(&format!(
        "SELECT {key}, md5(t::text) FROM {t} t WHERE {filter}",
        key = table.key,
        t = quote_ident(&table.name)
    ))
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().collect())
}

/// Makes the target's rows of the store equal to the source's: rows gone from the source
/// deleted from the target (children first, so a row replaced under the same unique key makes
/// room), then changed and new rows copied in foreign-key order. Answers how many rows it
/// changed.
async fn sync_exact(
    source: &Db,
    target: &Db,
    tenant: TenantId,
    store: StoreId,
    tables: &[Table],
) -> Result<u64, sqlx::Error> {
    let mut changed = 0;
    for table in tables.iter().rev().filter(|t| t.scope == Scope::Store) {
        let filter = filter_of(table, tenant, store);
        let (mut from, mut to) = pair(source, target, tenant).await?;
        let theirs = hashes(&mut from, table, &filter).await?;
        let ours = hashes(&mut to, table, &filter).await?;
        let gone: Vec<String> = ours.keys().filter(|k| !theirs.contains_key(*k)).cloned().collect();
        if !gone.is_empty() {
            let sql = format!("DELETE FROM {} t WHERE {} = ANY($1)", quote_ident(&table.name), table.key);
            changed += sqlx::query(&sql).bind(&gone).execute(&mut *to).await?.rows_affected();
        }
        from.commit().await?;
        to.commit().await?;
    }
    for table in tables {
        let filter = filter_of(table, tenant, store);
        let (mut from, mut to) = pair(source, target, tenant).await?;
        let theirs = hashes(&mut from, table, &filter).await?;
        let ours = hashes(&mut to, table, &filter).await?;
        let differ: Vec<String> =
            theirs.iter().filter(|(k, h)| ours.get(*k) != Some(h)).map(|(k, _)| k.clone()).collect();
        if !differ.is_empty() {
            let rows = rows_of(&mut from, &table.name, &filter, Some((&table.key, &differ))).await?;
            changed += crate::mirror::upsert(&mut to, &table.name, &rows).await?;
        }
        from.commit().await?;
        to.commit().await?;
    }
    Ok(changed)
}

/// Row counts and checksums of every table on both sides; the first difference otherwise.
async fn verify(
    source: &Db,
    target: &Db,
    tenant: TenantId,
    store: StoreId,
    tables: &[Table],
) -> Result<Result<Vec<TableReport>, String>, sqlx::Error> {
    let mut figures = Vec::new();
    for table in tables {
        let filter = filter_of(table, tenant, store);
        let (mut from, mut to) = pair(source, target, tenant).await?;
        if table.scope == Scope::Tenant {
            // the tenant's rows: each of the source's is in the target, the same
            let theirs = hashes(&mut from, table, &filter).await?;
            let ours = hashes(&mut to, table, &filter).await?;
            from.commit().await?;
            to.commit().await?;
            if let Some((k, _)) = theirs.iter().find(|(k, h)| ours.get(*k) != Some(h)) {
                return Ok(Err(format!("{}: the row {k} differs", table.name)));
            }
            figures.push(TableReport { table: table.name.clone(), rows: theirs.len() as i64, checksum: String::new() });
            continue;
        }
        let sql = format!(
            "SELECT count(*), coalesce(md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))), '')
               FROM {} t WHERE {filter}",
            quote_ident(&table.name)
        );
        let a: (i64, String) = sqlx::query_as(&sql).fetch_one(&mut *from).await?;
        let b: (i64, String) = sqlx::query_as(&sql).fetch_one(&mut *to).await?;
        from.commit().await?;
        to.commit().await?;
        if a != b {
            return Ok(Err(format!(
                "{}: {} rows ({}) on the source, {} ({}) on the target",
                table.name, a.0, a.1, b.0, b.1
            )));
        }
        figures.push(TableReport { table: table.name.clone(), rows: a.0, checksum: a.1 });
    }
    Ok(Ok(figures))
}

/// Deletes the store's own rows from one database, children first.
async fn delete_store_rows(db: &Db, tenant: TenantId, store: StoreId, tables: &[Table]) -> Result<u64, sqlx::Error> {
    let mut deleted = 0;
    for table in tables.iter().rev().filter(|t| t.scope == Scope::Store) {
        let mut tx = db.begin(tenant).await?;
        let done = sqlx::query(&format!(
            "DELETE FROM {} t WHERE {}",
            quote_ident(&table.name),
            filter_of(table, tenant, store)
        ))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        deleted += done.rows_affected();
    }
    Ok(deleted)
}
