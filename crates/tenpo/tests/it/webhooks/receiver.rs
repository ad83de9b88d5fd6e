//! A webhook receiver as an integrator would write one: a real HTTP server on a free port that
//! checks every delivery with its own Standard Webhooks verification (HMAC-SHA256 written out
//! here over sha2, not Tenpo's signing code), and answers as the test scripts it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: Vec<u8>,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    /// Whether one of the signatures is `secret`'s, for this id, timestamp and body, and the
    /// timestamp is within five minutes of now (the specification's replay protection).
    pub fn signed_by(&self, secret: &str) -> bool {
        let Ok(ts) = self.timestamp.parse::<i64>() else { return false };
        if (chrono::Utc::now().timestamp() - ts).abs() > 300 {
            return false;
        }
        let expected = signature(secret, &self.id, &self.timestamp, &self.body);
        self.signature.split(' ').any(|s| s == expected)
    }
}

/// What to answer.
#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16),
    /// This status with `Retry-After: <seconds>`.
    RetryAfter(u16, u32),
    /// Take the request and never answer.
    Hold,
}

#[derive(Default)]
struct Inner {
    got: Mutex<Vec<Received>>,
    script: Mutex<VecDeque<Reply>>,
}

pub struct Receiver {
    pub url: String,
    inner: Arc<Inner>,
}

/// The Standard Webhooks signature: `v1,` + base64(HMAC-SHA256(key, "id.timestamp.body")), the
/// key being the base64 after `whsec_`.
pub fn signature(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").expect("a whsec_ secret")).expect("base64");
    assert_eq!(key.len(), 32, "the secret is 32 random bytes");
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(&key);
    let pad = |byte: u8| block.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(id.as_bytes())
        .chain_update(b".")
        .chain_update(timestamp.as_bytes())
        .chain_update(b".")
        .chain_update(body)
        .finalize();
    let mac = Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize();
    format!("v1,{}", STANDARD.encode(mac))
}

async fn take(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let got = Received {
        id: h("webhook-id"),
        timestamp: h("webhook-timestamp"),
        signature: h("webhook-signature"),
        body: body.to_vec(),
    };
    inner.got.lock().unwrap().push(got);
    let reply = inner.script.lock().unwrap().pop_front().unwrap_or(Reply::Status(200));
    match reply {
        Reply::Status(s) => (StatusCode::from_u16(s).unwrap(), format!("answered {s}")).into_response(),
        Reply::RetryAfter(s, secs) => {
            (StatusCode::from_u16(s).unwrap(), [("retry-after", secs.to_string())], "later").into_response()
        }
        Reply::Hold => std::future::pending().await,
    }
}

impl Receiver {
    /// Starts the receiver; it answers `script` in order, then 200.
    pub async fn start(script: Vec<Reply>) -> Receiver {
        let inner = Arc::new(Inner { got: Mutex::default(), script: Mutex::new(script.into()) });
        let app = Router::new().route("/hook", post(take)).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, inner }
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.got.lock().unwrap().clone()
    }

    /// Waits until `n` requests arrived (a minute at most, then fails).
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let started = Instant::now();
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "only {} of {n} deliveries arrived", got.len());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The requests carrying events of this type.
    pub fn of_type(&self, kind: &str) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.json()["type"] == kind).collect()
    }

    /// Waits until `n` requests of this type arrived.
    pub async fn wait_for_type(&self, kind: &str, n: usize) -> Vec<Received> {
        let started = Instant::now();
        loop {
            let got = self.of_type(kind);
            if got.len() >= n {
                return got;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "only {} of {n} {kind} deliveries arrived", got.len());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
