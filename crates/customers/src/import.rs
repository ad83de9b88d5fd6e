//! CSV import of customers into a store: every row is resolved through the identity map, so a
//! person who appears in several rows (or is already known in the tenant) becomes one
//! customer.
//!
//! The file: UTF-8 (a BOM is fine), a header row naming columns among `email`, `phone`,
//! `name`, `name_kana`, `notes`, `external_id` (any case; at least one of email, phone or
//! external_id), then one customer per row. Rows are validated first; bad rows are reported
//! (line, field, reason) and skipped. Good rows are imported in batches of [`BATCH_ROWS`], each
//! in one transaction with a handful of set-based statements. A batch that meets a concurrent
//! change to the same identities is redone row by row through [`identity::resolve`].
//!
//! Matched customers keep their profile values: an import only fills empty fields.

use std::collections::{HashMap, HashSet};

use db::{Db, Tx};
use kernel::access::{Acting, Permission};
use kernel::{CustomerId, ProfileId, StoreId, TenantId, Validator};
use serde::Serialize;
use utoipa::ToSchema;

use crate::CustomersError;
use crate::identity::{self, Key, Source};
use crate::profile::{self, Profile, ProfileSeed};

pub const BATCH_ROWS: usize = 500;
/// Rows in one file.
pub const MAX_ROWS: usize = 200_000;
/// Row errors listed in the report (all are counted).
pub const MAX_REPORTED_ERRORS: usize = 1000;

const COLUMNS: [&str; 6] = ["email", "phone", "name", "name_kana", "notes", "external_id"];

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct ImportReport {
    /// Data rows in the file.
    pub rows: u64,
    /// Rows that created a new customer.
    pub created: u64,
    /// Rows that resolved to an existing customer (known before, or created by an earlier row).
    pub matched: u64,
    /// Rows refused; see `errors`.
    pub rejected: u64,
    /// The first refused rows' problems.
    pub errors: Vec<RowError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RowError {
    /// Line in the file (the header is line 1).
    pub line: u64,
    pub field: String,
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
}

/// A valid row, ready to resolve.
#[derive(Debug, Clone)]
pub struct Row {
    pub line: u64,
    pub keys: Vec<Key>,
    pub seed: ProfileSeed,
}

/// The parsed file: the rows to import and the problems of the others.
#[derive(Debug, Default)]
pub struct Parsed {
    pub rows: Vec<Row>,
    pub rejected: u64,
    pub errors: Vec<RowError>,
}

/// Reads and validates a customer CSV. A file that cannot be read as such (not UTF-8, no
/// header, unknown columns) is an error; bad rows are collected in [`Parsed::errors`].
pub fn read_csv(bytes: &[u8]) -> Result<Parsed, CustomersError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| CustomersError::UnreadableCsv("the file is not UTF-8 text (save it as \"CSV UTF-8\")".into()))?;
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    if let Some(line) = kernel::text::nul_line(text) {
        return Err(CustomersError::UnreadableCsv(format!(
            "line {line} contains the NUL character, which text cannot hold"
        )));
    }
    let lines = kernel::csv_file::Lines::new(text);
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| CustomersError::UnreadableCsv(e.to_string()))?.clone();
    let mut index: HashMap<&'static str, usize> = HashMap::new();
    for (i, raw) in headers.iter().enumerate() {
        let name = raw.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        let Some(column) = COLUMNS.iter().find(|c| **c == name) else {
            return Err(CustomersError::UnreadableCsv(format!(
                "unknown column {raw:?}; the columns are {}",
                COLUMNS.join(", ")
            )));
        };
        if index.insert(column, i).is_some() {
            return Err(CustomersError::UnreadableCsv(format!("the column {column:?} appears twice")));
        }
    }
    if !["email", "phone", "external_id"].iter().any(|c| index.contains_key(c)) {
        return Err(CustomersError::UnreadableCsv("the header needs an email, phone or external_id column".into()));
    }
    let mut parsed = Parsed::default();
    for (n, record) in reader.records().enumerate() {
        let line = record.as_ref().ok().and_then(|r| r.position()).map_or(n as u64 + 2, |p| lines.line_of(p.byte()));
        if n >= MAX_ROWS {
            return Err(CustomersError::UnreadableCsv(format!("more than {MAX_ROWS} rows; split the file")));
        }
        let mut reject = |field: &str, code: &str, message: String| {
            parsed.rejected += 1;
            if parsed.errors.len() < MAX_REPORTED_ERRORS {
                parsed.errors.push(RowError { line, field: field.into(), code: code.into(), message });
            }
        };
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                reject("row", "invalid", e.to_string());
                continue;
            }
        };
        if record.len() > headers.len() {
            reject("row", "invalid", format!("{} fields for {} columns", record.len(), headers.len()));
            continue;
        }
        let get = |c: &str| index.get(c).and_then(|i| record.get(*i)).filter(|s| !s.trim().is_empty());
        let mut v = Validator::new();
        let keys = identity::parse_keys(&mut v, get("email"), get("phone"), get("external_id"));
        let mut seed = ProfileSeed::parse(&mut v, get("name"), get("name_kana"), &keys);
        seed.notes = profile::parse_notes(&mut v, get("notes"));
        if keys.is_empty() && v.is_ok() {
            v.push("email", "required", "a row needs an email, a phone or an external_id");
        }
        match v.into_result() {
            Ok(()) => parsed.rows.push(Row { line, keys, seed }),
            Err(errors) => {
                // one rejected row, however many of its fields failed
                let first = &errors.0[0];
                reject(&first.field, &first.code, errors.to_string());
            }
        }
    }
    Ok(parsed)
}

/// Imports a customer CSV into `store`, reporting progress after each batch. The same service
/// behind `POST /admin/v1/customers/import` and `tenpo customers import`.
pub async fn import_csv(
    db: &Db,
    tenant: TenantId,
    store: StoreId,
    by: Acting<'_>,
    csv: &[u8],
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<ImportReport, CustomersError> {
    by.require(Permission::CustomersWrite)?;
    let parsed = read_csv(csv)?;
    let total = parsed.rows.len() as u64 + parsed.rejected;
    let mut report =
        ImportReport { rows: total, rejected: parsed.rejected, errors: parsed.errors, ..Default::default() };
    let mut done = parsed.rejected;
    progress(Progress { done, total });
    for batch in parsed.rows.chunks(BATCH_ROWS) {
        // a store on a database of its own resolves each row through the control database's
        // identity map (docs/ROUTING.md); the set-based batch works on one database only
        let batched = if db.is_main() { import_batch(db, tenant, store, batch).await } else { Ok(None) };
        let outcome = match batched {
            Ok(Some(outcome)) => outcome,
            Ok(None) => import_row_by_row(db, tenant, store, batch).await?,
            Err(e) if db::is_retryable(&e) || db::is_unique_violation(&e) => {
                import_row_by_row(db, tenant, store, batch).await?
            }
            Err(e) => return Err(e.into()),
        };
        report.created += outcome.created;
        report.matched += outcome.matched;
        done += batch.len() as u64;
        progress(Progress { done, total });
    }
    tracing::info!(
        tenant_id = %tenant, store_id = %store, rows = report.rows, created = report.created,
        matched = report.matched, rejected = report.rejected, "customers imported"
    );
    Ok(report)
}

#[derive(Debug, Default)]
struct Outcome {
    created: u64,
    matched: u64,
}

/// One batch, set-based. `None` when a concurrent change got in the way (then nothing was
/// written and the caller redoes the batch row by row).
async fn import_batch(db: &Db, tenant: TenantId, store: StoreId, rows: &[Row]) -> Result<Option<Outcome>, sqlx::Error> {
    let mut tx = db.begin(tenant).await?;
    let mut keys: Vec<Key> = rows.iter().flat_map(|r| r.keys.iter().cloned()).collect();
    keys.sort();
    keys.dedup();
    let known: HashMap<Key, CustomerId> = identity::lookup(&mut tx, &keys).await?.into_iter().collect();

    // the customers found are locked as every writer of customer data does; one merged or
    // erased since the lookup means the identities moved: redo row by row
    let mut existing: Vec<CustomerId> = known.values().copied().collect();
    existing.sort();
    existing.dedup();
    let live: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT id FROM customers WHERE id = ANY($1) AND status IN ('active', 'blocked')
                                ORDER BY id FOR SHARE) c",
    )
    .bind(&existing)
    .fetch_one(&mut *tx)
    .await?;
    if live as usize != existing.len() {
        return Ok(None);
    }

    // resolve each row in file order: the first known key (email, phone, external) names the
    // customer; keys nobody holds go to that customer
    let mut owner = known;
    let mut outcome = Outcome::default();
    let mut new_customers: Vec<CustomerId> = Vec::new();
    let mut new_identities: Vec<(Key, CustomerId)> = Vec::new();
    let mut seeds: Vec<(CustomerId, ProfileSeed)> = Vec::new();
    let mut seed_of: HashMap<CustomerId, usize> = HashMap::new();
    for row in rows {
        let customer = match row.keys.iter().find_map(|k| owner.get(k).copied()) {
            Some(c) => {
                outcome.matched += 1;
                c
            }
            None => {
                outcome.created += 1;
                let c = CustomerId::new();
                new_customers.push(c);
                c
            }
        };
        for k in &row.keys {
            if !owner.contains_key(k) {
                owner.insert(k.clone(), customer);
                new_identities.push((k.clone(), customer));
            }
        }
        match seed_of.get(&customer) {
            Some(&i) => seeds[i].1.absorb(row.seed.clone()),
            None => {
                seed_of.insert(customer, seeds.len());
                seeds.push((customer, row.seed.clone()));
            }
        }
    }

    sqlx::query("INSERT INTO customers (id, tenant_id) SELECT unnest($1::uuid[]), $2")
        .bind(&new_customers)
        .bind(tenant)
        .execute(&mut *tx)
        .await?;
    new_identities.sort_by(|a, b| a.0.cmp(&b.0));
    let ids: Vec<uuid::Uuid> = new_identities.iter().map(|_| uuid::Uuid::now_v7()).collect();
    let owners: Vec<CustomerId> = new_identities.iter().map(|(_, c)| *c).collect();
    let kinds: Vec<&str> = new_identities.iter().map(|(k, _)| k.kind.as_str()).collect();
    let values: Vec<&str> = new_identities.iter().map(|(k, _)| k.value.as_str()).collect();
    let claimed = sqlx::query(
        "INSERT INTO customer_identities (id, tenant_id, customer_id, identity_type, identity_value, verified, source)
         SELECT i, $2, c, k, v, false, 'import' FROM UNNEST($1::uuid[], $3::uuid[], $4::text[], $5::text[]) AS u(i, c, k, v)
         ON CONFLICT (tenant_id, identity_type, identity_value) DO NOTHING",
    )
    .bind(&ids)
    .bind(tenant)
    .bind(&owners)
    .bind(&kinds)
    .bind(&values)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if claimed as usize != new_identities.len() {
        // a concurrent resolution took one of these identities
        return Ok(None);
    }

    let touched = upsert_profiles(&mut tx, store, &seeds).await?;
    let Some(touched) = touched else { return Ok(None) };
    if !touched.is_empty() || !new_customers.is_empty() {
        let event = crate::event::CustomerImported {
            store_id: store,
            rows: rows.len(),
            created_ids: new_customers.clone(),
            customer_ids: touched.clone(),
        };
        events::record(&mut tx, events::NewEvent::of(&event).in_store(store)).await?;
    }
    tx.commit().await?;
    Ok(Some(outcome))
}

/// Creates the missing profiles and fills empty fields of existing ones. Returns the customers
/// whose profile changed, or `None` if a concurrent transaction created one of the profiles.
async fn upsert_profiles(
    tx: &mut Tx,
    store: StoreId,
    seeds: &[(CustomerId, ProfileSeed)],
) -> Result<Option<Vec<CustomerId>>, sqlx::Error> {
    let customers: Vec<CustomerId> = seeds.iter().map(|(c, _)| *c).collect();
    let existing: Vec<Profile> = sqlx::query_as(&format!(
        "SELECT {} FROM customer_profiles WHERE store_id = $1 AND customer_id = ANY($2) ORDER BY id FOR UPDATE",
        profile::COLUMNS
    ))
    .bind(store)
    .bind(&customers)
    .fetch_all(&mut **tx)
    .await?;
    let existing: HashMap<CustomerId, Profile> = existing.into_iter().map(|p| (p.customer_id, p)).collect();
    let now = profile::clock_now(tx).await?;
    let mut inserts = Vec::new();
    let mut updates = Vec::new();
    for (customer, seed) in seeds {
        match existing.get(customer) {
            Some(p) => {
                let mut p = p.clone();
                let (changed, notes) = seed.fill(&mut p, now);
                if !changed.is_empty() || notes {
                    updates.push(p);
                }
            }
            None => {
                let mut p = profile::blank(store, *customer, now);
                seed.fill(&mut p, now);
                inserts.push(p);
            }
        }
    }
    let touched: Vec<CustomerId> = inserts.iter().chain(updates.iter()).map(|p| p.customer_id).collect();
    let columns = |ps: &[Profile]| Columns {
        ids: ps.iter().map(|p| p.id).collect(),
        customers: ps.iter().map(|p| p.customer_id).collect(),
        names: ps.iter().map(|p| p.name.clone()).collect(),
        kanas: ps.iter().map(|p| p.name_kana.clone()).collect(),
        emails: ps.iter().map(|p| p.email.clone()).collect(),
        phones: ps.iter().map(|p| p.phone.clone()).collect(),
        notes: ps.iter().map(|p| p.notes.clone()).collect(),
        preferences: ps.iter().map(|p| p.preferences.clone()).collect(),
        clocks: ps.iter().map(|p| serde_json::to_value(&p.field_clock.0).unwrap_or_default()).collect(),
    };
    if !inserts.is_empty() {
        let c = columns(&inserts);
        let inserted = sqlx::query(
            "INSERT INTO customer_profiles (id, tenant_id, store_id, customer_id, name, name_kana, email, phone, notes,
                                            preferences, field_clock)
             SELECT i, $2, $3, c, n, k, e, p, t, pr, fc
               FROM UNNEST($1::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                           $10::jsonb[], $11::jsonb[]) AS u(i, c, n, k, e, p, t, pr, fc)
             ON CONFLICT (store_id, customer_id) DO NOTHING",
        )
        .bind(&c.ids)
        .bind(tx.tenant())
        .bind(store)
        .bind(&c.customers)
        .bind(&c.names)
        .bind(&c.kanas)
        .bind(&c.emails)
        .bind(&c.phones)
        .bind(&c.notes)
        .bind(&c.preferences)
        .bind(&c.clocks)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if inserted as usize != inserts.len() {
            return Ok(None);
        }
    }
    if !updates.is_empty() {
        let c = columns(&updates);
        sqlx::query(
            "UPDATE customer_profiles p SET name = u.n, name_kana = u.k, email = u.e, phone = u.p, notes = u.t,
                    preferences = u.pr, field_clock = u.fc, version = p.version + 1
               FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[],
                           $8::jsonb[]) AS u(i, n, k, e, p, t, pr, fc)
              WHERE p.id = u.i",
        )
        .bind(&c.ids)
        .bind(&c.names)
        .bind(&c.kanas)
        .bind(&c.emails)
        .bind(&c.phones)
        .bind(&c.notes)
        .bind(&c.preferences)
        .bind(&c.clocks)
        .execute(&mut **tx)
        .await?;
    }
    Ok(Some(touched))
}

struct Columns {
    ids: Vec<ProfileId>,
    customers: Vec<CustomerId>,
    names: Vec<String>,
    kanas: Vec<String>,
    emails: Vec<Option<String>>,
    phones: Vec<Option<String>>,
    notes: Vec<Option<String>>,
    preferences: Vec<serde_json::Value>,
    clocks: Vec<serde_json::Value>,
}

/// The race-safe path, one resolution per row, in one transaction.
async fn import_row_by_row(db: &Db, tenant: TenantId, store: StoreId, rows: &[Row]) -> Result<Outcome, CustomersError> {
    let mut tx = db.begin(tenant).await?;
    let mut outcome = Outcome::default();
    let mut seen = HashSet::new();
    for row in rows {
        let r = identity::resolve_parsed(&mut tx, store, &row.keys, row.seed.clone(), false, Source::Import).await?;
        if r.created_customer && seen.insert(r.customer_id) {
            outcome.created += 1;
        } else {
            outcome.matched += 1;
        }
    }
    tx.commit().await?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_validated_and_bad_ones_reported_by_line() {
        let csv = "\u{FEFF}Email,Phone,Name,Name Kana\n\
                   taro@example.com,090-1234-5678,山田 太郎,やまだ たろう\n\
                   not-an-email,,x,\n\
                   ,,nobody,\n\
                   ,０３－１２３４－５６７８,,\n";
        let parsed = read_csv(csv.as_bytes()).unwrap();
        assert_eq!(parsed.rows.len(), 2);
        assert_eq!(parsed.rows[0].seed.name_kana.as_deref(), Some("ヤマダ タロウ"));
        assert_eq!(parsed.rows[1].keys, [Key::phone("+81312345678".into())]);
        assert_eq!(parsed.rejected, 2);
        let lines: Vec<(u64, &str)> = parsed.errors.iter().map(|e| (e.line, e.field.as_str())).collect();
        assert_eq!(lines, [(3, "email"), (4, "email")]);
    }

    #[test]
    fn an_unreadable_file_is_refused_whole() {
        for bad in [&b"email,shoe_size\na@b.jp,27\n"[..], b"name\nx\n", b"email,email\n", b"\xff\xfe"] {
            assert!(matches!(read_csv(bad), Err(CustomersError::UnreadableCsv(_))), "{bad:?}");
        }
    }

    #[test]
    fn extra_fields_reject_the_row() {
        let parsed = read_csv(b"email\na@b.jp,extra\nc@d.jp\n").unwrap();
        assert_eq!((parsed.rows.len(), parsed.rejected), (1, 1));
    }
}
