//! The delivery worker: claims due deliveries, POSTs each event signed as Standard Webhooks 1.0
//! says, logs every attempt, and schedules the next one or gives up.
//!
//! * At least once: a delivery is claimed with a lease (`status = 'sending'`); the attempt and
//!   its outcome are recorded in one transaction after the receiver answered. A worker killed in
//!   between leaves the lease to run out, and the delivery is sent again with the same
//!   `webhook-id` (the event id): receivers deduplicate on it.
//! * Isolation: at most `max_in_flight` requests at once, at most `max_per_endpoint` to one
//!   endpoint (the claim counts what every worker holds), each bounded by the connect and total
//!   timeouts; a dead receiver takes its slots and no others.
//! * No connection is held while waiting: the relay's consumer wakes this worker in-process
//!   (a [`Notify`]), and a short poll finds what other processes enqueued and retries that
//!   fell due.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use db::{Db, Tx};
use events::{Event, NewEvent};
use kernel::{StoreId, TenantId, WebhookEndpointId};
use rand::Rng;
use reqwest::dns::{Name, Resolve, Resolving};
use serde_json::{Map, Value};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::event::WebhookEndpointDisabled;
use crate::settings::WebhookSettings;
use crate::{signature, target};

/// How much of a response body the log keeps.
pub const BODY_LOG_BYTES: usize = 4096;

#[derive(Clone)]
pub struct DeliveryWorker {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    settings: WebhookSettings,
    schedule: Vec<Duration>,
    client: reqwest::Client,
    wake: Arc<Notify>,
}

#[derive(sqlx::FromRow)]
struct Claimed {
    id: Uuid,
    tenant_id: TenantId,
}

#[derive(sqlx::FromRow)]
struct Job {
    endpoint_id: WebhookEndpointId,
    store_id: StoreId,
    event_id: Uuid,
    attempts: i32,
    retry_base: i32,
    url: String,
    secret: String,
    previous_secret: Option<String>,
}

/// What the receiver did.
#[derive(Debug)]
struct Answer {
    status: Option<u16>,
    headers: Map<String, Value>,
    body: String,
    error: Option<String>,
    retry_after: Option<Duration>,
    took: Duration,
}

enum Verdict {
    Succeeded,
    Gone,
    Retry(Duration),
    GiveUp,
}

/// Resolves names for the client, keeping only addresses a webhook may reach.
struct PublicResolver {
    allow_private: bool,
}

impl Resolve for PublicResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = self.allow_private;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs = target::resolve_public(&host, allow).await?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

impl DeliveryWorker {
    pub fn new(db: Db, settings: WebhookSettings) -> Result<DeliveryWorker, String> {
        settings.validate()?;
        let schedule = settings.schedule()?;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(settings.connect_timeout_secs))
            .timeout(Duration::from_secs(settings.timeout_secs))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("Tenpo-Webhooks/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(PublicResolver { allow_private: settings.allow_private_targets })
            .build()
            .map_err(|e| format!("cannot build the webhook HTTP client: {e}"))?;
        Ok(DeliveryWorker { inner: Arc::new(Inner { db, settings, schedule, client, wake: Arc::new(Notify::new()) }) })
    }

    /// What wakes this worker: give it to [`crate::enqueue::Enqueue::new`].
    pub fn waker(&self) -> Arc<Notify> {
        self.inner.wake.clone()
    }

    /// Delivers until `shutdown`; requests in flight then finish (or their lease runs out).
    pub async fn run(self, shutdown: CancellationToken) {
        let inner = &self.inner;
        let slots = Arc::new(Semaphore::new(inner.settings.max_in_flight));
        let poll = Duration::from_millis(inner.settings.poll_ms.max(10));
        let mut in_flight = JoinSet::new();
        tracing::info!(max_in_flight = inner.settings.max_in_flight, "webhook delivery worker started");
        while !shutdown.is_cancelled() {
            while in_flight.try_join_next().is_some() {}
            let free = slots.available_permits();
            let claimed = if free == 0 { Ok(Vec::new()) } else { self.claim(free).await };
            let claimed = claimed.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot claim webhook deliveries");
                Vec::new()
            });
            let full = free > 0 && claimed.len() == free;
            for c in claimed {
                let Ok(permit) = slots.clone().try_acquire_owned() else { break };
                let worker = self.clone();
                in_flight.spawn(async move {
                    if let Err(e) = worker.deliver(&c).await {
                        tracing::warn!(delivery = %c.id, error = %e, "webhook attempt not recorded; the lease will run out");
                    }
                    drop(permit);
                    worker.inner.wake.notify_one();
                });
            }
            if full {
                continue;
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = inner.wake.notified() => {}
                _ = tokio::time::sleep(poll) => {}
            }
        }
        while in_flight.join_next().await.is_some() {}
        tracing::info!("webhook delivery worker stopped");
    }

    async fn claim(&self, n: usize) -> Result<Vec<Claimed>, sqlx::Error> {
        let s = &self.inner.settings;
        sqlx::query_as("SELECT id, tenant_id FROM tenpo_claim_webhook_deliveries($1, $2, $3)")
            .bind(n as i32)
            .bind(s.lease_secs as i32)
            .bind(s.max_per_endpoint)
            .fetch_all(self.inner.db.platform())
            .await
    }

    /// One attempt of one claimed delivery: load, send, record.
    async fn deliver(&self, c: &Claimed) -> Result<(), sqlx::Error> {
        let db = &self.inner.db;
        let mut tx = db.begin(c.tenant_id).await?;
        let job: Option<Job> = sqlx::query_as(
            "SELECT d.endpoint_id, e.store_id, d.event_id, d.attempts, d.retry_base, e.url, e.secret,
                    CASE WHEN e.previous_secret_expires_at > now() THEN e.previous_secret END AS previous_secret
               FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
              WHERE d.id = $1 AND d.status = 'sending'",
        )
        .bind(c.id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(job) = job else { return tx.commit().await };
        let event: Event = sqlx::query_as(
            "SELECT id, tenant_id, store_id, aggregate_type, aggregate_id, event_type, payload_json, sequence, schema_version,
                    created_at, attempts
               FROM outbox_events WHERE id = $1",
        )
        .bind(job.event_id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;

        let answer = self.send(&job, &event).await;
        let verdict = self.judge(&job, &answer);
        let mut tx = db.begin(c.tenant_id).await?;
        self.record(&mut tx, c.id, &job, &event, &answer, &verdict).await?;
        tx.commit().await?;
        let outcome = match verdict {
            Verdict::Succeeded => "succeeded",
            Verdict::Gone => "gone",
            Verdict::Retry(_) => "retry",
            Verdict::GiveUp => "given_up",
        };
        metrics::counter!("tenpo_webhook_attempts_total", "outcome" => outcome).increment(1);
        metrics::histogram!("tenpo_webhook_attempt_seconds").record(answer.took.as_secs_f64());
        if matches!(verdict, Verdict::Succeeded) {
            let latency = (Utc::now() - event.created_at).to_std().unwrap_or_default();
            metrics::histogram!("tenpo_webhook_delivery_latency_seconds").record(latency.as_secs_f64());
        }
        Ok(())
    }

    async fn send(&self, job: &Job, event: &Event) -> Answer {
        let started = Instant::now();
        let failed = |error: String| Answer {
            status: None,
            headers: Map::new(),
            body: String::new(),
            error: Some(error),
            retry_after: None,
            took: started.elapsed(),
        };
        // checked again: the operator may have stopped allowing private targets since
        if let Err(why) = target::check_syntax(&job.url, self.inner.settings.allow_private_targets) {
            return failed(format!("the URL is refused now: {why:?}"));
        }
        let body = serde_json::to_vec(&event.envelope()).unwrap_or_default();
        let id = event.id.to_string();
        let timestamp = Utc::now().timestamp();
        let secrets = std::iter::once(job.secret.as_str()).chain(job.previous_secret.as_deref());
        let signatures = signature::header(secrets, &id, timestamp, &body);
        let sent = self
            .inner
            .client
            .post(&job.url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signatures)
            .body(body)
            .send()
            .await;
        let mut res = match sent {
            Ok(r) => r,
            Err(e) => return failed(describe(&e)),
        };
        let status = res.status().as_u16();
        let mut headers = Map::new();
        for (name, value) in res.headers() {
            let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
            match headers.get_mut(name.as_str()) {
                Some(Value::String(s)) => {
                    s.push_str(", ");
                    s.push_str(&v);
                }
                _ => {
                    headers.insert(name.as_str().to_string(), Value::String(v));
                }
            }
        }
        let retry_after = matches!(status, 429 | 503)
            .then(|| res.headers().get("retry-after")?.to_str().ok()?.trim().parse::<u64>().ok())
            .flatten()
            .map(|s| Duration::from_secs(s.min(86_400)));
        let mut kept = Vec::new();
        let mut error = None;
        while kept.len() < BODY_LOG_BYTES {
            match res.chunk().await {
                Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(e) => {
                    error = Some(format!("reading the answer: {}", describe(&e)));
                    break;
                }
            }
        }
        kept.truncate(BODY_LOG_BYTES);
        let mut body = String::from_utf8_lossy(&kept).into_owned();
        body.retain(|c| c != '\0');
        Answer { status: Some(status), headers, body, error, retry_after, took: started.elapsed() }
    }

    fn judge(&self, job: &Job, a: &Answer) -> Verdict {
        match a.status {
            Some(s) if (200..300).contains(&s) => return Verdict::Succeeded,
            Some(410) => return Verdict::Gone,
            _ => {}
        }
        // the attempts since the latest resend or replay: the nth failure waits schedule[n-1]
        let n = (job.attempts - job.retry_base).max(1) as usize;
        let Some(wait) = self.inner.schedule.get(n - 1) else { return Verdict::GiveUp };
        Verdict::Retry(a.retry_after.unwrap_or_else(|| jitter(*wait, self.inner.settings.retry_jitter_percent)))
    }

    async fn record(
        &self,
        tx: &mut Tx,
        delivery: Uuid,
        job: &Job,
        event: &Event,
        a: &Answer,
        verdict: &Verdict,
    ) -> Result<(), sqlx::Error> {
        let ok = matches!(verdict, Verdict::Succeeded);
        sqlx::query(
            "INSERT INTO webhook_attempts (tenant_id, delivery_id, endpoint_id, event_id, attempt, outcome, status_code,
                                           duration_ms, response_headers, response_body, error)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, left($11, 2000))",
        )
        .bind(event.tenant_id)
        .bind(delivery)
        .bind(job.endpoint_id)
        .bind(job.event_id)
        .bind(job.attempts)
        .bind(if ok { "succeeded" } else { "failed" })
        .bind(a.status.map(i32::from))
        .bind(a.took.as_millis().min(i32::MAX as u128) as i32)
        .bind(Value::Object(a.headers.clone()))
        .bind(&a.body)
        .bind(&a.error)
        .execute(&mut **tx)
        .await?;
        let (status, wait) = match verdict {
            Verdict::Succeeded => ("succeeded", None),
            Verdict::Retry(w) => ("pending", Some(w.as_secs_f64())),
            Verdict::Gone | Verdict::GiveUp => ("failed", None),
        };
        // only while the claim is still ours (a lease that ran out went to another worker)
        sqlx::query(
            "UPDATE webhook_deliveries
                SET status = $3, locked_until = NULL, last_status_code = $4, last_error = left($5, 2000),
                    last_duration_ms = $6, succeeded_at = CASE WHEN $3 = 'succeeded' THEN now() END,
                    next_attempt_at = CASE WHEN $7::float8 IS NULL THEN next_attempt_at
                                           ELSE now() + make_interval(secs => $7) END
              WHERE id = $1 AND status = 'sending' AND attempts = $2",
        )
        .bind(delivery)
        .bind(job.attempts)
        .bind(status)
        .bind(a.status.map(i32::from))
        .bind(&a.error)
        .bind(a.took.as_millis().min(i32::MAX as u128) as i32)
        .bind(wait)
        .execute(&mut **tx)
        .await?;
        if ok {
            sqlx::query(
                "UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL",
            )
            .bind(job.endpoint_id)
            .execute(&mut **tx)
            .await?;
            return Ok(());
        }
        if matches!(verdict, Verdict::Gone) {
            tracing::warn!(endpoint = %job.endpoint_id, "the receiver answered 410 Gone; endpoint disabled");
            return disable(tx, job, "gone").await;
        }
        let since: DateTime<Utc> = sqlx::query_scalar(
            "UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, now()) WHERE id = $1 RETURNING failing_since",
        )
        .bind(job.endpoint_id)
        .fetch_one(&mut **tx)
        .await?;
        let failing_for = (Utc::now() - since).to_std().unwrap_or_default();
        if failing_for >= Duration::from_secs(self.inner.settings.disable_after_secs) {
            tracing::warn!(endpoint = %job.endpoint_id, since = %since, "webhook endpoint failing too long; disabled");
            disable(tx, job, "failing").await?;
        }
        Ok(())
    }
}

/// Disables an endpoint (once) and records `webhook_endpoint.disabled`.
async fn disable(tx: &mut Tx, job: &Job, reason: &str) -> Result<(), sqlx::Error> {
    let row: Option<(String, Option<DateTime<Utc>>)> = sqlx::query_as(
        "UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = $2
          WHERE id = $1 AND status = 'active' RETURNING url, failing_since",
    )
    .bind(job.endpoint_id)
    .bind(reason)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some((url, failing_since)) = row {
        let payload =
            WebhookEndpointDisabled { endpoint_id: job.endpoint_id, url, reason: reason.into(), failing_since };
        events::record(tx, NewEvent::of(&payload).in_store(job.store_id)).await?;
    }
    Ok(())
}

/// A wait drawn from ±`percent` around `d`.
fn jitter(d: Duration, percent: u32) -> Duration {
    if percent == 0 || d.is_zero() {
        return d;
    }
    let f = f64::from(percent) / 100.0;
    d.mul_f64(rand::thread_rng().gen_range(1.0 - f..=1.0 + f))
}

/// An HTTP client error with its causes, without the URL (it is in the log's delivery).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_redirect() {
        "redirect"
    } else {
        "request failed"
    };
    let mut out = kind.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// The housekeeping of webhooks: the log's purge (hourly) and the backlog gauges (every 15 s):
/// events waiting for the in-process consumers (the outbox) and for webhooks, and the age of the
/// oldest of each.
pub async fn housekeeping(db: Db, settings: WebhookSettings, shutdown: CancellationToken) {
    let mut last_purge: Option<Instant> = None;
    loop {
        if last_purge.is_none_or(|t| t.elapsed() >= Duration::from_secs(3600)) {
            match sqlx::query_scalar::<_, i64>("SELECT tenpo_purge_webhook_log($1)")
                .bind(settings.log_retention_days as i32)
                .fetch_one(db.platform())
                .await
            {
                Ok(n) if n > 0 => tracing::info!(attempts = n, "webhook delivery log purged"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cannot purge the webhook delivery log"),
            }
            last_purge = Some(Instant::now());
        }
        let backlog: Result<(i64, f64, i64, f64), _> =
            sqlx::query_as("SELECT * FROM tenpo_event_backlog()").fetch_one(db.platform()).await;
        if let Ok((outbox, outbox_age, hooks, hooks_age)) = backlog {
            for (destination, n, age) in [("outbox", outbox, outbox_age), ("webhooks", hooks, hooks_age)] {
                metrics::gauge!("tenpo_events_undelivered", "destination" => destination).set(n as f64);
                metrics::gauge!("tenpo_events_oldest_undelivered_seconds", "destination" => destination).set(age);
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(15)) => {}
        }
    }
}
