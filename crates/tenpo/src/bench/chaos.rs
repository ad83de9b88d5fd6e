//! `tenpo bench chaos`: the server process is killed (SIGKILL) at random moments under a mixed
//! load, restarted, killed again, and afterwards the data is checked.
//!
//! The server is this binary's `tenpo serve`, a child process on a fresh database (cloned from
//! the migrated template, as for the other scenarios) and a fixed port. The load: `concurrency`
//! shoppers, each doing units back to back, of three kinds in turn: a checkout of two normal
//! items (6 in 10), a flash-sale add of the hot item followed by its checkout when granted
//! (2 in 10), and a download of a paid digital item (2 in 10). Every write carries an
//! `Idempotency-Key`; a request that meets a broken connection or a 5xx is sent again, same
//! key, until it is answered. First a phase without kills (the baseline), then the kills: each
//! at a random moment 1-3 s after the server became ready, then the restart.
//!
//! Then the server is stopped (SIGTERM) and it verifies:
//! * `tenpo check` is clean (every invariant, over the bench's tenant);
//! * no lost order: every 201 a client saw is in the database once, under its number, and the
//!   database has no order no client saw;
//! * nothing oversold: the hot item's sold units are at most its stock, and stock left plus
//!   sold is exactly the stock it started with;
//! * downloads counted once: the delivery's count is the number of keys that got a 303.
//!
//! It exits non-zero when one does not hold.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hyper::body::Bytes;
use rand::Rng;
use serde_json::{Value, json};

use super::Target;
use super::client::Connection;
use super::scenarios::{Shop, new_shop, post};
use crate::cli::BenchArgs;
use crate::config::Config;

/// Units of the hot item (TENPO_BENCH_UNITS).
const HOT_UNITS: i32 = 300;
/// How long one request is retried before the run gives up on it.
const GIVE_UP: Duration = Duration::from_secs(120);

/// The child server: spawned again after each kill, always on the same port.
struct Server {
    exe: PathBuf,
    addr: std::net::SocketAddr,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<tokio::process::Child>,
    /// The highest peak RSS (MB) of the server's lives, read before each kill and stop.
    peak_rss_mb: f64,
}

impl Server {
    fn spawn(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log)?;
        let child = tokio::process::Command::new(&self.exe)
            .args(["serve", "--listen", &self.addr.to_string()])
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            // the runtime role connects to the bench's database, not a configured one
            .env_remove("TENPO_LISTEN")
            .env_remove("TENPO_APP_DATABASE_URL")
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", self.exe.display()))?;
        self.child = Some(child);
        Ok(())
    }

    /// Waits until /readyz answers 200 (the database reachable, the parts started).
    async fn ready(&mut self, client: &reqwest::Client) -> anyhow::Result<()> {
        let url = format!("http://{}/readyz", self.addr);
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!("the server exited at start ({status}); its log: {}", self.log.display());
            }
            if client.get(&url).send().await.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the server was not ready within 120 s; its log: {}", self.log.display());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Remembers the running server's peak RSS (VmHWM).
    fn note_rss(&mut self) {
        let peak =
            self.child.as_ref().and_then(|c| c.id()).and_then(|pid| super::peak_rss_of(&format!("/proc/{pid}/status")));
        self.peak_rss_mb = self.peak_rss_mb.max(peak.unwrap_or(0.0));
    }

    async fn kill(&mut self) -> anyhow::Result<()> {
        self.note_rss();
        if let Some(mut child) = self.child.take() {
            child.start_kill()?; // SIGKILL
            child.wait().await?;
        }
        Ok(())
    }

    /// SIGTERM, then waits for the graceful stop.
    async fn stop(&mut self) -> anyhow::Result<Option<i32>> {
        self.note_rss();
        let Some(mut child) = self.child.take() else { return Ok(None) };
        if let Some(pid) = child.id() {
            tokio::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().await?;
        }
        match tokio::time::timeout(Duration::from_secs(60), child.wait()).await {
            Ok(status) => Ok(status?.code()),
            Err(_) => {
                child.start_kill()?;
                child.wait().await?;
                bail!("the server did not stop within 60 s of SIGTERM")
            }
        }
    }
}

/// What every shopper shares: the shop, and everything the clients saw.
struct Shared {
    addr: std::net::SocketAddr,
    handle: String,
    variants: Vec<String>,
    hot: String,
    download: (String, String, String),
    stop: AtomicBool,
    units: AtomicU64,
    requests: AtomicU64,
    retries: AtomicU64,
    /// order id -> (number, hot units), from each 201 a client saw
    orders: Mutex<HashMap<String, (i64, i64)>>,
    duplicate_answers: AtomicU64,
    hot_granted: AtomicU64,
    hot_refused: AtomicU64,
    downloads: AtomicU64,
    unexpected: Mutex<Vec<String>>,
}

impl Shared {
    fn unexpected(&self, what: String) {
        if let Ok(mut u) = self.unexpected.lock() {
            u.push(what);
        }
    }
}

/// One shopper's connection, reopened after each failure.
struct Client {
    shared: Arc<Shared>,
    conn: Option<Connection>,
}

impl Client {
    /// Sends until answered with something other than a 5xx: a broken connection (the server
    /// died) or a 5xx is retried with the same request, Idempotency-Key included.
    async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> anyhow::Result<(u16, Bytes)> {
        let started = Instant::now();
        let mut first = true;
        loop {
            if !first {
                self.shared.retries.fetch_add(1, Ordering::Relaxed);
                if started.elapsed() > GIVE_UP {
                    bail!("{method} {path}: no answer within {} s", GIVE_UP.as_secs());
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            first = false;
            if self.conn.is_none() {
                match Connection::open(self.shared.addr).await {
                    Ok(c) => self.conn = Some(c),
                    Err(_) => continue,
                }
            }
            let Some(conn) = self.conn.as_mut() else { continue };
            self.shared.requests.fetch_add(1, Ordering::Relaxed);
            match conn.send(method, path, headers, body.map(<[u8]>::to_vec)).await {
                Ok((status, _)) if status >= 500 => self.conn = None,
                Ok(answer) => return Ok(answer),
                Err(_) => self.conn = None,
            }
        }
    }

    async fn expect(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
        want: &[u16],
    ) -> anyhow::Result<(u16, Value)> {
        let body = body.map(|b| serde_json::to_vec(&b)).transpose()?;
        let (status, bytes) = self.send(method, path, headers, body.as_deref()).await?;
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !want.contains(&status) {
            bail!("{method} {path}: {status} {}", String::from_utf8_lossy(&bytes));
        }
        Ok((status, value))
    }

    /// Opens a cart (idempotent by its key); answers (id, secret).
    async fn cart(&mut self, key: &str) -> anyhow::Result<(String, String)> {
        let store = format!("/store/v1/stores/{}", self.shared.handle);
        let (_, cart) = self
            .expect("POST", &format!("{store}/carts"), &[("idempotency-key", key)], Some(json!({})), &[201])
            .await?;
        Ok((
            cart["cart"]["id"].as_str().context("cart id")?.to_string(),
            cart["secret"].as_str().context("cart secret")?.to_string(),
        ))
    }

    async fn add(&mut self, cart: &(String, String), variant: &str, key: &str) -> anyhow::Result<(u16, Value)> {
        let path = format!("/store/v1/stores/{}/carts/{}/items", self.shared.handle, cart.0);
        let headers = [("x-cart-secret", cart.1.as_str()), ("idempotency-key", key)];
        self.expect("POST", &path, &headers, Some(json!({ "variant_id": variant, "quantity": 1 })), &[201, 202, 409])
            .await
    }

    /// Places the order; records the 201's order (hot: the units of the hot item in it).
    async fn checkout(&mut self, cart: &(String, String), key: &str, shopper: u64, hot: i64) -> anyhow::Result<()> {
        let path = format!("/store/v1/stores/{}/carts/{}/checkout", self.shared.handle, cart.0);
        let headers = [("x-cart-secret", cart.1.as_str()), ("idempotency-key", key)];
        let body = json!({
            "email": format!("chaos{shopper}@bench.test"),
            "payment_method": "bank_transfer",
            "shipping_address": { "name": "山田 花子", "name_kana": "ヤマダ ハナコ", "postal_code": "150-0001",
                                  "prefecture": "東京都", "city": "渋谷区神宮前", "line1": "1-2-3",
                                  "phone": format!("090-{:04}-{:04}", shopper / 10_000 % 10_000, shopper % 10_000) }
        });
        let (_, placed) = self.expect("POST", &path, &headers, Some(body), &[201]).await?;
        let id = placed["order"]["id"].as_str().context("order id")?.to_string();
        let number = placed["order"]["number"].as_i64().context("order number")?;
        let mut orders = self.shared.orders.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        if orders.insert(id, (number, hot)).is_some() {
            // one checkout per cart and key: a second 201 with the same order is impossible here
            self.shared.duplicate_answers.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    async fn normal_checkout(&mut self, n: u64) -> anyhow::Result<()> {
        let cart = self.cart(&format!("chaos-cart-{n}")).await?;
        let vs = &self.shared.variants;
        let (a, b) = (vs[n as usize % vs.len()].clone(), vs[(n as usize + 7) % vs.len()].clone());
        for (i, v) in [a, b].iter().enumerate() {
            let (status, answer) = self.add(&cart, v, &format!("chaos-add-{n}-{i}")).await?;
            if status != 201 {
                bail!("adding a normal item answered {status} {answer}");
            }
        }
        self.checkout(&cart, &format!("chaos-order-{n}"), n, 0).await
    }

    async fn flash(&mut self, n: u64) -> anyhow::Result<()> {
        let cart = self.cart(&format!("chaos-cart-{n}")).await?;
        let hot = self.shared.hot.clone();
        let (mut status, mut answer) = self.add(&cart, &hot, &format!("chaos-hot-{n}")).await?;
        // a 202: the decision comes by polling (or by the same add again, after a crash)
        let deadline = Instant::now() + GIVE_UP;
        while status == 202 {
            if Instant::now() > deadline {
                bail!("the hot add of unit {n} was never decided");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            let poll = answer["poll_url"].as_str().context("poll_url")?.to_string();
            let (s, a) = self.expect("GET", &poll, &[("x-cart-secret", cart.1.as_str())], None, &[200]).await?;
            match a["status"].as_str() {
                Some("held") => (status, answer) = (201, a),
                Some("refused") => (status, answer) = (409, a),
                _ => answer = json!({ "poll_url": poll, "last": s }),
            }
        }
        if status == 409 {
            self.shared.hot_refused.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        self.shared.hot_granted.fetch_add(1, Ordering::Relaxed);
        self.checkout(&cart, &format!("chaos-order-{n}"), n, 1).await
    }

    async fn download(&mut self, n: u64) -> anyhow::Result<()> {
        let (order, token, delivery) = self.shared.download.clone();
        let path = format!("/store/v1/stores/{}/orders/{order}/downloads/{delivery}", self.shared.handle);
        let key = format!("chaos-download-{n}");
        self.expect("POST", &path, &[("x-order-token", &token), ("idempotency-key", &key)], None, &[303]).await?;
        self.shared.downloads.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// A shopper: units back to back until told to stop (the unit under way is finished).
async fn shopper(shared: Arc<Shared>, first: u64, step: u64) {
    let mut client = Client { shared: shared.clone(), conn: None };
    let mut n = first;
    while !shared.stop.load(Ordering::Relaxed) {
        let result = match n % 10 {
            0..=5 => client.normal_checkout(n).await,
            6 | 7 => client.flash(n).await,
            _ => client.download(n).await,
        };
        match result {
            Ok(()) => {
                shared.units.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => shared.unexpected(format!("unit {n}: {e:#}")),
        }
        n += step;
    }
}

fn free_port() -> anyhow::Result<std::net::SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?)
}

fn median_max(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort_unstable();
    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    (v.get(v.len() / 2).map(ms).unwrap_or(0.0), v.last().map(ms).unwrap_or(0.0))
}

pub async fn run(config: &Config, args: &BenchArgs) -> anyhow::Result<()> {
    if args.url.is_some() {
        bail!("chaos kills the server it starts: it does not take --url");
    }
    let kills = args.kills;
    let hot_units = std::env::var("TENPO_BENCH_UNITS").ok().and_then(|v| v.parse().ok()).unwrap_or(HOT_UNITS);
    let cluster = db::Databases::open(config.database_settings()).await.context("cannot open the database")?;
    let maintenance = cluster.owner_options().clone().database("postgres");
    let owner = db::testing::fresh_database(&maintenance, "tenpo_bench_").await?;
    let database = owner.get_database().unwrap_or_default().to_string();
    let work = std::env::temp_dir().join(format!("tenpo-bench-chaos-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&work)?;
    let dbs = db::Databases::from_options(owner.clone(), config.database_settings());
    let result = chaos(config, args, kills, hot_units, &owner, &dbs, &work).await;
    if let Err(e) = db::testing::drop_database(&maintenance, &database).await {
        eprintln!("warning: could not drop {database}: {e}");
    }
    cluster.shutdown().await;
    match result {
        Ok(report) => {
            let _ = std::fs::remove_dir_all(&work);
            println!("{report}");
            if report.contains("FAILED") {
                bail!("chaos: an invariant did not hold (above)");
            }
            Ok(())
        }
        Err(e) => Err(e.context(format!("the server's log and files are kept in {}", work.display()))),
    }
}

async fn chaos(
    config: &Config,
    args: &BenchArgs,
    kills: usize,
    hot_units: i32,
    owner: &sqlx::postgres::PgConnectOptions,
    dbs: &db::Databases,
    work: &Path,
) -> anyhow::Result<String> {
    let addr = free_port()?;
    let token = format!("bench_{}", uuid::Uuid::new_v4().simple());
    let env = vec![
        ("DATABASE_URL".to_string(), sqlx::ConnectOptions::to_url_lossy(owner).to_string()),
        ("TENPO_AUTO_MIGRATE".into(), "false".into()),
        ("TENPO_OPERATOR_TOKEN".into(), token.clone()),
        ("TENPO_DATA_DIR".into(), work.join("data").display().to_string()),
        ("TENPO_STORAGE_DIR".into(), work.join("files").display().to_string()),
        ("TENPO_SEARCH_INDEX_DIR".into(), work.join("index").display().to_string()),
        ("TENPO_LOG".into(), std::env::var("TENPO_LOG").unwrap_or_else(|_| "warn".into())),
    ];
    let mut server = Server {
        exe: std::env::current_exe()?,
        addr,
        env,
        log: work.join("server.log"),
        child: None,
        peak_rss_mb: 0.0,
    };
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    server.spawn()?;
    let outcome = async {
        server.ready(&client).await?;
        let target = Target {
            base: format!("http://{addr}"),
            operator_token: token.clone(),
            client: client.clone(),
            concurrency: args.concurrency,
            duration: Duration::from_secs(args.duration.max(1)),
            local: None,
        };
        load(config, &target, &mut server, kills, hot_units, dbs).await
    }
    .await;
    if server.child.is_some() {
        let _ = server.kill().await;
    }
    outcome
}

async fn load(
    _config: &Config,
    t: &Target,
    server: &mut Server,
    kills: usize,
    hot_units: i32,
    dbs: &db::Databases,
) -> anyhow::Result<String> {
    // the shop: 20 normal items with ample stock, one hot item, one paid digital item
    let shop = new_shop(t).await?;
    let yen = |amount: i64| json!({ "amount": amount, "currency": "JPY" });
    let mut variants = Vec::new();
    for i in 0..20 {
        let p = post(
            t,
            "/admin/v1/products",
            &shop.owner_token,
            json!({ "title": format!("Chaos item {i}"), "status": "active",
                    "variants": [{ "sku": format!("C{i}"), "price": yen(500 + 110 * i), "inventory_quantity": 1_000_000 }] }),
        )
        .await?;
        variants.push(p["variants"][0]["id"].as_str().context("variant id")?.to_string());
    }
    let p = post(
        t,
        "/admin/v1/products",
        &shop.owner_token,
        json!({ "title": "Chaos flash sale", "status": "active",
                "variants": [{ "sku": "HOT", "price": yen(2980), "inventory_quantity": hot_units, "is_hot": true }] }),
    )
    .await?;
    let hot = p["variants"][0]["id"].as_str().context("hot variant id")?.to_string();
    let download = paid_download(t, &shop.store_handle, &shop.owner_token).await?;

    let shared = Arc::new(Shared {
        addr: server.addr,
        handle: shop.store_handle.clone(),
        variants,
        hot: hot.clone(),
        download: download.clone(),
        stop: AtomicBool::new(false),
        units: AtomicU64::new(0),
        requests: AtomicU64::new(0),
        retries: AtomicU64::new(0),
        orders: Mutex::new(HashMap::new()),
        duplicate_answers: AtomicU64::new(0),
        hot_granted: AtomicU64::new(0),
        hot_refused: AtomicU64::new(0),
        downloads: AtomicU64::new(0),
        unexpected: Mutex::new(Vec::new()),
    });
    let c = t.concurrency.max(1) as u64;
    eprintln!(
        "  {c} shoppers; a {}s baseline without kills, then {kills} kills (each 1-3 s after the server is ready)",
        t.duration.as_secs()
    );
    let shoppers: Vec<_> = (0..c).map(|i| tokio::spawn(shopper(shared.clone(), i, c))).collect();

    // the baseline: no kills
    let b0 = shared.units.load(Ordering::Relaxed);
    tokio::time::sleep(t.duration).await;
    let baseline_units = shared.units.load(Ordering::Relaxed) - b0;
    let baseline = baseline_units as f64 / t.duration.as_secs_f64();

    // the kills
    let (mut up_units, mut up_time, mut recoveries) = (0u64, Duration::ZERO, Vec::new());
    for k in 0..kills {
        let wait = Duration::from_millis(rand::thread_rng().gen_range(1000..3000));
        let (u0, t0) = (shared.units.load(Ordering::Relaxed), Instant::now());
        tokio::time::sleep(wait).await;
        up_units += shared.units.load(Ordering::Relaxed) - u0;
        up_time += t0.elapsed();
        let killed = Instant::now();
        server.kill().await?;
        server.spawn()?;
        server.ready(&t.client).await?;
        recoveries.push(killed.elapsed());
        eprintln!(
            "  kill {}/{kills} after {} ms: ready again in {} ms",
            k + 1,
            wait.as_millis(),
            killed.elapsed().as_millis()
        );
    }
    // a last stretch up, then the shoppers finish the unit they are in
    let (u0, t0) = (shared.units.load(Ordering::Relaxed), Instant::now());
    tokio::time::sleep(Duration::from_secs(1)).await;
    shared.stop.store(true, Ordering::Relaxed);
    for s in shoppers {
        s.await?;
    }
    up_units += shared.units.load(Ordering::Relaxed) - u0;
    up_time += t0.elapsed();
    // the worker drains the outbox (deliveries, events) before the graceful stop
    tokio::time::sleep(Duration::from_secs(2)).await;
    let exit = server.stop().await?;

    verify(
        &shared,
        &shop,
        dbs,
        Verify {
            hot,
            hot_units,
            download,
            kills,
            baseline,
            between: up_units as f64 / up_time.as_secs_f64().max(1e-9),
            recoveries,
            exit,
            concurrency: c,
            baseline_secs: t.duration.as_secs(),
        },
    )
    .await
    .map(|report| {
        format!(
            "{report}\nserver peak RSS {:.0} MB (VmHWM of the server process, the highest of its lives)",
            server.peak_rss_mb
        )
    })
}

/// What the run measured and what it verifies against.
struct Verify {
    hot: String,
    hot_units: i32,
    download: (String, String, String),
    kills: usize,
    baseline: f64,
    between: f64,
    recoveries: Vec<Duration>,
    exit: Option<i32>,
    concurrency: u64,
    baseline_secs: u64,
}

/// A paid digital item with its file, delivered: answers (order id, order token, delivery id).
async fn paid_download(t: &Target, handle: &str, token: &str) -> anyhow::Result<(String, String, String)> {
    let p = post(
        t,
        "/admin/v1/products",
        token,
        json!({ "title": "Chaos guide", "status": "active",
                "variants": [{ "sku": "GUIDE", "price": { "amount": 550, "currency": "JPY" }, "fulfillment_type": "digital" }] }),
    )
    .await?;
    let product = p["id"].as_str().context("product id")?;
    let variant = p["variants"][0]["id"].as_str().context("variant id")?;
    let res = t
        .client
        .put(t.url(&format!("/admin/v1/products/{product}/variants/{variant}/asset")))
        .query(&[("filename", "guide.pdf")])
        .bearer_auth(token)
        .header("content-type", "application/pdf")
        .body(vec![b'x'; 4096])
        .send()
        .await?;
    anyhow::ensure!(res.status().as_u16() == 201, "uploading the file: {}", res.status());
    let store = format!("/store/v1/stores/{handle}");
    let cart = post(t, &format!("{store}/carts"), "", json!({})).await?;
    let (cart_id, secret) =
        (cart["cart"]["id"].as_str().context("cart id")?, cart["secret"].as_str().context("cart secret")?);
    let item = t
        .client
        .post(t.url(&format!("{store}/carts/{cart_id}/items")))
        .header("x-cart-secret", secret)
        .json(&json!({ "variant_id": variant, "quantity": 1 }))
        .send()
        .await?;
    anyhow::ensure!(item.status().as_u16() == 201, "adding the guide: {}", item.status());
    let placed = t
        .client
        .post(t.url(&format!("{store}/carts/{cart_id}/checkout")))
        .header("x-cart-secret", secret)
        .json(&json!({ "email": "reader@bench.test", "payment_method": "bank_transfer" }))
        .send()
        .await?;
    anyhow::ensure!(placed.status().as_u16() == 201, "placing the guide's order: {}", placed.status());
    let placed: Value = placed.json().await?;
    let order = placed["order"]["id"].as_str().context("order id")?.to_string();
    let order_token = placed["order_token"].as_str().context("order token")?.to_string();
    post(
        t,
        &format!("/admin/v1/orders/{order}/payments/confirm"),
        token,
        json!({ "received": placed["order"]["total"] }),
    )
    .await?;
    // the delivery is made by the worker from payment.confirmed
    for _ in 0..600 {
        let list: Value = t
            .client
            .get(t.url(&format!("{store}/orders/{order}/downloads")))
            .header("x-order-token", &order_token)
            .send()
            .await?
            .json()
            .await?;
        if let Some(d) = list["deliveries"][0]["id"].as_str() {
            return Ok((order, order_token, d.to_string()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the paid guide was never delivered")
}

async fn verify(shared: &Shared, shop: &Shop, dbs: &db::Databases, v: Verify) -> anyhow::Result<String> {
    let (handle, tenant, hot_units, download) = (&shop.store_handle, shop.tenant_id, v.hot_units, &v.download);
    let db = dbs.connect().await?;
    let check = crate::commands::check::report(&db, Duration::from_secs(300)).await?;
    let mut tx = db.begin(tenant).await?;
    let rows: Vec<(uuid::Uuid, i64)> =
        sqlx::query_as("SELECT id, order_number FROM orders").fetch_all(&mut *tx).await?;
    let hot_id: uuid::Uuid = v.hot.parse()?;
    let sold: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(i.quantity), 0)::int8 FROM order_items i JOIN orders o ON o.id = i.order_id
          WHERE i.variant_id = $1 AND o.status <> 'canceled'",
    )
    .bind(hot_id)
    .fetch_one(&mut *tx)
    .await?;
    let (stock, reserved): (i64, i64) = sqlx::query_as(
        "SELECT coalesce(sum(stock), 0)::int8, coalesce(sum(reserved), 0)::int8 FROM inventory_stocks WHERE variant_id = $1",
    )
    .bind(hot_id)
    .fetch_one(&mut *tx)
    .await?;
    let downloaded: i32 = sqlx::query_scalar("SELECT downloaded_count FROM digital_deliveries WHERE id = $1::uuid")
        .bind(&download.2)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    db.close().await;

    let seen = shared.orders.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.clone();
    let mut in_db: HashMap<String, Vec<i64>> = HashMap::new();
    for (id, number) in rows {
        in_db.entry(id.to_string()).or_default().push(number);
    }
    let lost = seen.iter().filter(|(id, (number, _))| in_db.get(*id).map(Vec::as_slice) != Some(&[*number])).count();
    // the database's orders no client saw, besides the digital order placed before the load
    let unseen = in_db.keys().filter(|id| !seen.contains_key(*id) && **id != download.0).count();
    let hot_seen: i64 = seen.values().map(|(_, h)| h).sum();
    let oversold = (sold - hot_units as i64).max(0);
    let exact = stock + sold == hot_units as i64 && sold == hot_seen;
    let downloads_ok = downloaded as u64 == shared.downloads.load(Ordering::Relaxed);
    let unexpected = shared.unexpected.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.clone();
    let verdict = |ok: bool| if ok { "ok" } else { "FAILED" };
    let (rec_median, rec_max) = median_max(v.recoveries.clone());

    let mut out = String::new();
    use std::fmt::Write;
    writeln!(out, "\nchaos: {} kills (SIGKILL) under {} shoppers, store {handle}", v.kills, v.concurrency)?;
    writeln!(
        out,
        "requests {} (retries after a broken connection or a 5xx, reconnects included: {}), units done {}, orders confirmed {} (hot {}), hot adds granted {} refused {}, downloads {}",
        shared.requests.load(Ordering::Relaxed),
        shared.retries.load(Ordering::Relaxed),
        shared.units.load(Ordering::Relaxed),
        seen.len(),
        hot_seen,
        shared.hot_granted.load(Ordering::Relaxed),
        shared.hot_refused.load(Ordering::Relaxed),
        shared.downloads.load(Ordering::Relaxed)
    )?;
    writeln!(
        out,
        "recovery (kill to ready): median {rec_median:.0} ms, max {rec_max:.0} ms over {} restarts",
        v.recoveries.len()
    )?;
    writeln!(
        out,
        "throughput: {:.1} units/s between kills vs {:.1} units/s baseline without kills ({}s) = {:.2}x",
        v.between,
        v.baseline,
        v.baseline_secs,
        v.between / v.baseline.max(1e-9)
    )?;
    writeln!(
        out,
        "graceful stop after the run (SIGTERM): exit {}: {}",
        v.exit.map_or("by signal".into(), |c| c.to_string()),
        verdict(v.exit == Some(0))
    )?;
    writeln!(
        out,
        "tenpo check: {} violations over {} invariants: {}",
        check.violations(),
        check.checks.len(),
        verdict(check.ok)
    )?;
    if !check.ok {
        writeln!(out, "{check}")?;
    }
    writeln!(
        out,
        "lost orders: {lost} of {} confirmed to clients (each must be in the database once, same number); {unseen} in the database no client saw; {} repeated answers: {}",
        seen.len(),
        shared.duplicate_answers.load(Ordering::Relaxed),
        verdict(lost == 0 && unseen == 0)
    )?;
    writeln!(
        out,
        "hot item: stock {hot_units}, sold {sold} (clients saw {hot_seen}), left {stock} ({reserved} reserved), oversold {oversold}; stock left + sold = {}: {}",
        stock + sold,
        verdict(oversold == 0 && exact)
    )?;
    writeln!(
        out,
        "downloads: {} granted to clients, {downloaded} counted on the delivery: {}",
        shared.downloads.load(Ordering::Relaxed),
        verdict(downloads_ok)
    )?;
    writeln!(out, "units that failed: {}: {}", unexpected.len(), verdict(unexpected.is_empty()))?;
    for u in unexpected.iter().take(10) {
        writeln!(out, "  {u}")?;
    }
    Ok(out)
}
