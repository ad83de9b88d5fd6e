//! Command-line interface.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "tenpo", version, about = "Multi-tenant commerce backend for merchants selling in Japan")]
pub struct Cli {
    /// TOML configuration file (keys documented in the README).
    #[arg(long, global = true, env = "TENPO_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API and the background worker in one process.
    Serve(ServeArgs),
    /// Run only the background worker (outbox relay, sweepers).
    Worker,
    /// Apply database migrations and set up the runtime role, then exit.
    Migrate,
    /// Serve with a seeded demo tenant, store, location, products and owner login.
    Demo(DemoArgs),
    /// Operator: tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Operator: stores.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Operator: the databases stores can live in (db_connections, docs/ROUTING.md).
    #[command(subcommand)]
    Db(DbCommand),
    /// Operator: staff.
    #[command(subcommand)]
    Staff(StaffCommand),
    /// Operator: a mall's vendors.
    #[command(subcommand)]
    Vendor(VendorCommand),
    /// Operator: a mall's vendors' statements (精算書): list, show, close, record the payout, CSV.
    #[command(subcommand)]
    Statement(StatementCommand),
    /// Check every invariant the data must keep (stock and reservations, orders with their
    /// payments, shipments, status, numbers and events, the outbox, digital deliveries) over
    /// every tenant. Exits 1 on a violation.
    Check(CheckArgs),
    /// Inventory consistency checks.
    #[command(subcommand)]
    Inventory(InventoryCommand),
    /// Catalog import and export (Shopify product CSV layout).
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Customers: CSV import.
    #[command(subcommand)]
    Customers(CustomersCommand),
    /// Storefront search index.
    #[command(subcommand)]
    Search(SearchCommand),
    /// Japan Post postal codes (docs/JAPAN.md).
    #[command(subcommand)]
    Postal(PostalCommand),
    /// Run a benchmark scenario and print its figures beside a baseline.
    Bench(BenchArgs),
    /// Print the OpenAPI document of the HTTP API (the one served at /openapi.json) and exit.
    Openapi,
}

#[derive(Debug, Subcommand)]
pub enum SearchCommand {
    /// Rebuild the search documents of one store (or of every store) from the database, with a
    /// progress bar. An interrupted reindex resumes where it stopped (search_sync_state).
    Reindex {
        /// Store handle or id; every store of every tenant when omitted.
        #[arg(long)]
        store: Option<String>,
        /// Products per batch.
        #[arg(long, default_value_t = 500)]
        batch: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum PostalCommand {
    /// Load a newer official Japan Post file (the whole UTF-8 ken_all CSV, utf_ken_all.csv)
    /// into the database; servers started afterwards use it instead of the compiled-in table.
    Update { file: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum CustomersCommand {
    /// Import customers from a CSV file (UTF-8; columns email, phone, name, name_kana, notes,
    /// external_id) into a store, with a progress bar; prints the report as JSON.
    Import {
        file: PathBuf,
        /// Store handle or id.
        #[arg(long)]
        store: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum InventoryCommand {
    /// Check, for every stock row of every tenant, that `reserved` equals what its active
    /// reservations hold and that no number is negative. Exits 1 when something drifted.
    Check {
        /// Fix drifted rows (with a `repair` movement each).
        #[arg(long)]
        repair: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Import a product CSV (UTF-8 or Shift_JIS) into a store, with a progress bar. All or
    /// nothing unless --partial.
    Import {
        file: PathBuf,
        /// Store handle or id.
        #[arg(long)]
        store: String,
        /// Import the good products and report the rows skipped.
        #[arg(long)]
        partial: bool,
        /// The tax class of variants whose Variant Tax Class is empty (a Shopify file has
        /// none): standard (default) or reduced. Food-like types at standard are warned about.
        #[arg(long, value_parser = ["standard", "reduced"])]
        tax_class: Option<String>,
    },
    /// Export a store's catalog as a product CSV.
    Export {
        /// Store handle or id.
        #[arg(long)]
        store: String,
        #[arg(long, value_enum, default_value = "utf-8")]
        encoding: CsvEncodingArg,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Print the report as JSON (for monitoring) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Seconds an outbox event may wait past its time (or its lease) before it counts as stuck.
    #[arg(long, default_value_t = 300)]
    pub stuck_after: u64,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen address (overrides TENPO_LISTEN).
    #[arg(long)]
    pub listen: Option<String>,
    /// Do not run the worker in this process.
    #[arg(long, conflicts_with = "no_http")]
    pub no_worker: bool,
    /// Do not run the HTTP API in this process (same as `tenpo worker`).
    #[arg(long)]
    pub no_http: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Listen address (overrides TENPO_LISTEN).
    #[arg(long)]
    pub listen: Option<String>,
    /// Seed the demo data and exit instead of serving.
    #[arg(long)]
    pub seed_only: bool,
    /// Also seed a demo mall (store `demo-mall`): three vendors with their logins, warehouses
    /// and products.
    #[arg(long)]
    pub mall: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TenantType {
    SingleBrand,
    Mall,
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant; prints it as JSON.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long = "type", value_enum, default_value = "single-brand")]
        kind: TenantType,
        #[arg(long, default_value = "JPY")]
        currency: String,
    },
    /// List tenants as JSON.
    List,
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Create a store in a tenant; prints it as JSON.
    Create {
        /// Tenant id.
        #[arg(long)]
        tenant: uuid::Uuid,
        #[arg(long)]
        handle: String,
        #[arg(long)]
        name: String,
        /// Do not create the `main` location.
        #[arg(long)]
        no_default_location: bool,
    },
    /// Route a store without data yet to a database (`tenpo db add`), or back to `main`; prints
    /// the route as JSON. Every API process sees the change within a second.
    Route {
        /// Store handle or id.
        #[arg(long)]
        store: String,
        /// A connection's key, or `main`.
        #[arg(long)]
        to: String,
    },
    /// Move a store with its data to another database while it keeps serving (docs/ROUTING.md):
    /// copy, a short write freeze, the changed rows, verify, switch, and the source's rows
    /// deleted after the grace period. Runs again resume the store's open move. Progress on
    /// stderr, the report (with the freeze's length) as JSON on stdout.
    Move {
        /// Store handle or id.
        #[arg(long)]
        store: String,
        /// A connection's key, or `main`.
        #[arg(long, required_unless_present = "abort")]
        to: Option<String>,
        /// Seconds the source keeps the store's rows after the switch.
        #[arg(long, default_value_t = 30)]
        grace_secs: u64,
        /// Abort the store's open move instead: the store stays on its source, whole.
        #[arg(long, conflicts_with = "to")]
        abort: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DbKindArg {
    Shared,
    Dedicated,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Add a database connection; prints it as JSON. The password is never given here: only
    /// where it is read from when connecting (--password-ref env:NAME or file:/path).
    Add {
        /// 1 to 64 lower-case letters, digits, _ and -.
        #[arg(long)]
        key: String,
        #[arg(long, value_enum, default_value = "dedicated")]
        kind: DbKindArg,
        /// Host name or address, or a unix socket directory (/path).
        #[arg(long)]
        host: String,
        #[arg(long, default_value_t = 5432)]
        port: i32,
        #[arg(long)]
        database: String,
        /// The database's owner (migration) role.
        #[arg(long)]
        user: String,
        /// env:NAME or file:/path (empty: no password).
        #[arg(long, default_value = "")]
        password_ref: String,
    },
    /// List the database connections as JSON.
    List,
    /// Connect to one (or every active) database now, as its owner and as the runtime role;
    /// prints the reports as JSON. Exits 1 when one is unreachable, lagging or unprotected.
    Check {
        /// Only this connection.
        #[arg(long)]
        key: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Owner,
    Admin,
    Staff,
}

#[derive(Debug, Subcommand)]
pub enum StaffCommand {
    /// Add a staff member to a store; prints it as JSON (with a generated password when none
    /// is given).
    Create {
        /// Store handle or id.
        #[arg(long)]
        store: String,
        #[arg(long, value_enum, default_value = "owner")]
        role: RoleArg,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        login_id: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        #[arg(long, default_value = "")]
        name: String,
        /// Mall mode: the vendor (id) the member works for.
        #[arg(long)]
        vendor: Option<uuid::Uuid>,
        /// At least 10 characters; generated when omitted. Prefer TENPO_STAFF_PASSWORD to keep
        /// it out of shell history.
        #[arg(long, env = "TENPO_STAFF_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum VendorStatusArg {
    Active,
    Suspended,
}

#[derive(Debug, Subcommand)]
pub enum VendorCommand {
    /// Add a vendor to a mall tenant; prints it as JSON.
    Create {
        /// Tenant id.
        #[arg(long)]
        tenant: uuid::Uuid,
        #[arg(long)]
        name: String,
        /// Default commission rate from today, in basis points (1000 = 10%).
        #[arg(long, default_value_t = 0)]
        commission_bps: i32,
        /// Qualified-invoice registration number, T + 13 digits.
        #[arg(long)]
        registration_number: Option<String>,
        /// Where payouts go, as JSON: {"bank_name", "branch_name", "account_type" (futsu or toza),
        /// "account_number", "account_holder_kana"}.
        #[arg(long, value_parser = parse_bank_account)]
        bank_account: Option<kernel::jp::BankAccount>,
    },
    /// Change a vendor; prints it as JSON.
    Update {
        /// Tenant id.
        #[arg(long)]
        tenant: uuid::Uuid,
        /// Vendor id.
        #[arg(long)]
        vendor: uuid::Uuid,
        #[arg(long)]
        name: Option<String>,
        /// `suspended` takes its products off sale; its open orders can still be fulfilled.
        #[arg(long, value_enum)]
        status: Option<VendorStatusArg>,
        /// A new default commission rate, in basis points.
        #[arg(long)]
        commission_bps: Option<i32>,
        /// The day (YYYY-MM-DD, Asia/Tokyo) the new rate takes effect; today when omitted.
        #[arg(long)]
        effective_from: Option<chrono::NaiveDate>,
        #[arg(long)]
        registration_number: Option<String>,
        /// A new bank account for payouts, as JSON (see `vendor create`).
        #[arg(long, value_parser = parse_bank_account)]
        bank_account: Option<kernel::jp::BankAccount>,
    },
    /// List a tenant's vendors as JSON.
    List {
        /// Tenant id.
        #[arg(long)]
        tenant: uuid::Uuid,
    },
}

fn parse_bank_account(s: &str) -> Result<kernel::jp::BankAccount, String> {
    serde_json::from_str(s).map_err(|e| format!("a JSON object of the bank account's fields: {e}"))
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StatementStatusArg {
    Closed,
    Paid,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CsvEncodingArg {
    /// UTF-8 with a byte-order mark (Excel).
    #[value(name = "utf-8-bom")]
    Utf8Bom,
    /// UTF-8 without a byte-order mark (programs).
    #[value(name = "utf-8")]
    Utf8,
    /// Shift_JIS (Windows-31J).
    #[value(name = "shift_jis", alias = "shift-jis")]
    ShiftJis,
}

impl From<CsvEncodingArg> for kernel::csv_file::CsvEncoding {
    fn from(a: CsvEncodingArg) -> Self {
        match a {
            CsvEncodingArg::Utf8Bom => kernel::csv_file::CsvEncoding::Utf8Bom,
            CsvEncodingArg::Utf8 => kernel::csv_file::CsvEncoding::Utf8,
            CsvEncodingArg::ShiftJis => kernel::csv_file::CsvEncoding::ShiftJis,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum StatementCommand {
    /// List a mall's closed and paid statements as JSON, newest first.
    List {
        /// Tenant id.
        #[arg(long)]
        tenant: uuid::Uuid,
        /// Only this vendor's (id).
        #[arg(long)]
        vendor: Option<uuid::Uuid>,
        #[arg(long, value_enum)]
        status: Option<StatementStatusArg>,
    },
    /// Print one statement with its lines as JSON.
    Show {
        /// Tenant id.
        #[arg(long)]
        tenant: uuid::Uuid,
        /// Statement id.
        #[arg(long)]
        statement: uuid::Uuid,
    },
    /// Print a vendor's open statement (what closing now would count) as JSON.
    Open {
        /// Tenant id.
        #[arg(long)]
        tenant: uuid::Uuid,
        /// Vendor id.
        #[arg(long)]
        vendor: uuid::Uuid,
    },
    /// Close a vendor's statement now (numbered, final); prints it as JSON.
    Close {
        /// Tenant id.
        #[arg(long)]
        tenant: uuid::Uuid,
        /// Vendor id.
        #[arg(long)]
        vendor: uuid::Uuid,
    },
    /// Record a closed statement's payout (made outside Tenpo); prints it as JSON.
    Paid {
        /// Tenant id.
        #[arg(long)]
        tenant: uuid::Uuid,
        /// Statement id.
        #[arg(long)]
        statement: uuid::Uuid,
        /// The day the transfer was made (YYYY-MM-DD).
        #[arg(long)]
        paid_on: chrono::NaiveDate,
        /// The bank's reference for the transfer.
        #[arg(long)]
        bank_reference: String,
    },
    /// Write a statement as CSV (with the vendor's registration number).
    Csv {
        /// Tenant id.
        #[arg(long)]
        tenant: uuid::Uuid,
        /// Statement id.
        #[arg(long)]
        statement: uuid::Uuid,
        #[arg(long, value_enum, default_value = "utf-8-bom")]
        encoding: CsvEncodingArg,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Scenario: `admin-read`, `storefront`, `flash-sale`, `search`, `checkout`, `events`,
    /// `console`, `storefront-pages` or `chaos` (see the README).
    pub scenario: String,
    /// Target a running server instead of starting one on a fresh database.
    #[arg(long)]
    pub url: Option<String>,
    /// Operator token of the target server (with --url).
    #[arg(long, env = "TENPO_OPERATOR_TOKEN", hide_env_values = true)]
    pub operator_token: Option<String>,
    /// Concurrent clients.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Seconds each measured phase runs.
    #[arg(long, default_value_t = 5)]
    pub duration: u64,
    /// `chaos`: how many times the server is killed (SIGKILL) and restarted.
    #[arg(long, default_value_t = 10)]
    pub kills: usize,
}
