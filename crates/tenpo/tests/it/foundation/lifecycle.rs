//! The process as an operator runs it: a failed start stops everything it started and exits
//! non-zero; SIGTERM under load lets in-flight requests finish, stops the worker, and exits 0.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::TestApp;
use crate::support::process::{exit_within, stderr_of, tenpo};

#[tokio::test]
async fn a_busy_port_stops_everything_and_serve_exits_non_zero() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    for args in [vec!["serve", "--listen", &addr], vec!["demo", "--listen", &addr]] {
        let mut child = tenpo(&app).args(&args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let status = exit_within(&mut child, Duration::from_secs(60));
        let err = stderr_of(&mut child);
        assert!(!status.success(), "{args:?} exited 0: {err}");
        assert!(err.contains(&format!("cannot listen on {addr}")), "{args:?}: {err}");
    }
}

#[tokio::test]
async fn a_busy_port_stops_the_private_cluster_it_started() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let data = std::env::temp_dir().join(format!("tenpo-busy-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&data).unwrap();
    // as root, the cluster runs as the postgres user, who must reach the directory
    std::process::Command::new("chmod").arg("755").arg(&data).status().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tenpo"))
        .args(["demo", "--listen", &addr])
        .env_remove("DATABASE_URL")
        .env_remove("TENPO_CONFIG")
        .env("TENPO_DATA_DIR", &data)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = exit_within(&mut child, Duration::from_secs(120));
    let err = stderr_of(&mut child);
    assert!(!status.success(), "{err}");
    assert!(err.contains("cannot listen"), "{err}");
    let pgdata = data.join("postgres").join("data");
    assert!(pgdata.join("PG_VERSION").exists(), "the demo made its cluster under {}", pgdata.display());
    assert!(!pgdata.join("postmaster.pid").exists(), "the private PostgreSQL is still running: {err}");
    let _ = std::fs::remove_dir_all(&data);
}

#[tokio::test]
async fn sigterm_under_load_finishes_in_flight_requests_and_exits_zero() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let seeded = tenpo(&app).args(["demo", "--seed-only"]).output().unwrap();
    assert!(seeded.status.success(), "{}", String::from_utf8_lossy(&seeded.stderr));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = tenpo(&app)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    // one connection per request: after SIGTERM a new one is refused, never cut mid-request
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let started = Instant::now();
    while client.get(format!("{base}/readyz")).send().await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(60), "the server did not start: {}", stderr_of(&mut server));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let products: Value =
        client.get(format!("{base}/store/v1/stores/demo/products")).send().await.unwrap().json().await.unwrap();
    let variant = products["items"][0]["variants"][0]["id"].as_str().unwrap().to_string();

    let stop_at = Instant::now() + Duration::from_millis(1500);
    let mut shoppers = tokio::task::JoinSet::new();
    for shopper in 0..24 {
        let (client, base, variant) = (client.clone(), base.clone(), variant.clone());
        shoppers.spawn(async move {
            let mut log = Calls::default();
            for round in 0.. {
                let email = format!("s{shopper}-{round}@example.jp");
                if shop_once(&client, &base, &variant, &email, &mut log).await.is_err()
                    || Instant::now() > stop_at + Duration::from_secs(30)
                {
                    break;
                }
            }
            log.0
        });
    }
    tokio::time::sleep_until(stop_at.into()).await;
    let term_at = Instant::now();
    Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap();
    let status = tokio::task::spawn_blocking(move || {
        let status = exit_within(&mut server, Duration::from_secs(30));
        (status, stderr_of(&mut server))
    });
    let mut calls = Vec::new();
    while let Some(log) = shoppers.join_next().await {
        calls.extend(log.unwrap());
    }
    let (status, log) = status.await.unwrap();
    let mut in_flight = 0;
    let mut answered = 0;
    for (t0, t1, outcome) in calls {
        match outcome {
            Ok((s, body)) => {
                assert!(s < 500, "a request answered {s}: {body}\n{log}");
                answered += 1;
                if t0 < term_at && t1 > term_at {
                    in_flight += 1;
                }
            }
            // a connection the server never accepted is refused, and only once it stops
            // listening, after SIGTERM (the client may have begun before it, under load);
            // a reset or a cut answer means the server dropped a request it had accepted
            Err(e) => assert!(
                e.is_connect() && t1 > term_at,
                "a request sent {:?} before SIGTERM was cut: {e:?}",
                term_at.saturating_duration_since(t0)
            ),
        }
    }
    assert!(status.success(), "exit {status}: {log}");
    assert!(in_flight > 0, "no request was in flight at SIGTERM ({answered} answered)");
    assert!(log.contains("shutting down"), "{log}");
    // the worker stopped between batches: nothing is left claimed
    assert_eq!(app.count("SELECT count(*) FROM outbox_events WHERE status = 'processing'").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM inventory_reservation_requests WHERE status = 'processing'").await, 0);
}

/// Every call a shopper made: when it was sent, when it ended, and how it ended.
#[derive(Default)]
struct Calls(Vec<(Instant, Instant, Outcome)>);

/// A call's status and body, or its error.
type Outcome = Result<(u16, Value), reqwest::Error>;

impl Calls {
    async fn send(&mut self, req: reqwest::RequestBuilder) -> Result<Value, ()> {
        let t0 = Instant::now();
        let answer = match req.send().await {
            Ok(res) => {
                let status = res.status().as_u16();
                res.json::<Value>().await.map(|body| (status, body))
            }
            Err(e) => Err(e),
        };
        match answer {
            Ok((status, body)) => {
                let ok = status < 300;
                self.0.push((t0, Instant::now(), Ok((status, body.clone()))));
                if ok { Ok(body) } else { Err(()) }
            }
            Err(e) => {
                self.0.push((t0, Instant::now(), Err(e)));
                Err(())
            }
        }
    }
}

/// A shopper's whole visit: a cart, one item, checkout.
async fn shop_once(
    client: &reqwest::Client,
    base: &str,
    variant: &str,
    email: &str,
    log: &mut Calls,
) -> Result<(), ()> {
    let s = format!("{base}/store/v1/stores/demo");
    let cart = log.send(client.post(format!("{s}/carts")).json(&json!({}))).await?;
    let (Some(id), Some(secret)) = (cart["cart"]["id"].as_str(), cart["secret"].as_str()) else { return Err(()) };
    let item = json!({ "variant_id": variant, "quantity": 1 });
    log.send(client.post(format!("{s}/carts/{id}/items")).header("x-cart-secret", secret).json(&item)).await?;
    let body = json!({ "email": email, "payment_method": "cod", "shipping_address": crate::checkout::address("京都") });
    let checkout = client
        .post(format!("{s}/carts/{id}/checkout"))
        .header("x-cart-secret", secret)
        .header("idempotency-key", format!("k-{email}"))
        .json(&body);
    log.send(checkout).await.map(|_| ())
}
