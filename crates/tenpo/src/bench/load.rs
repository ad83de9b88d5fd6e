//! The load loop: N clients issue requests back to back for a fixed time; every latency is kept
//! and the percentiles are exact.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::client::Connection;

/// The figures of one measured phase.
#[derive(Debug, Clone)]
pub struct Phase {
    pub name: String,
    pub requests: u64,
    pub errors: u64,
    pub elapsed: Duration,
    /// Latencies in microseconds, sorted.
    pub latencies: Vec<u32>,
}

impl Phase {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let idx = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[idx.min(self.latencies.len() - 1)] as f64 / 1000.0
    }
}

/// Runs `request` from `concurrency` clients for `duration`. A request returns Err for a
/// failed answer (counted, not timed).
pub async fn measure<F, Fut>(name: &str, concurrency: usize, duration: Duration, request: F) -> Phase
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let request = Arc::new(request);
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(concurrency);
    for client in 0..concurrency {
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut first_error = None;
            let mut n = client as u64;
            while Instant::now() < deadline {
                let t = Instant::now();
                match request(n).await {
                    Ok(()) => latencies.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32),
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                    }
                }
                n += concurrency as u64;
            }
            (latencies, errors, first_error)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for t in tasks {
        if let Ok((l, e, first)) = t.await {
            latencies.extend(l);
            errors += e;
            if let Some(first) = first {
                eprintln!("  {name}: first error: {first}");
            }
        }
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    Phase { name: name.to_string(), requests: latencies.len() as u64, errors, elapsed, latencies }
}

/// Runs GETs from `concurrency` clients, each on its own keep-alive connection, for
/// `duration`. `path(n)` picks the n-th request's path; a request succeeds when it answers
/// `expect`.
pub async fn measure_gets(
    name: &str,
    addr: std::net::SocketAddr,
    concurrency: usize,
    duration: Duration,
    path: Arc<dyn Fn(u64) -> String + Send + Sync>,
    if_none_match: Option<String>,
    expect: u16,
) -> Phase {
    let tag: Option<Arc<str>> = if_none_match.map(Arc::from);
    measure_on_connections(name, addr, concurrency, duration, move |mut conn, n| {
        let (p, tag) = (path(n), tag.clone());
        Box::pin(async move {
            let answer = match conn.get(&p, tag.as_deref()).await {
                Ok((status, _)) if status == expect => Ok(()),
                Ok((status, _)) => Err(Failure::Answer(format!("{p}: status {status}"))),
                Err(e) => Err(Failure::Connection(e)),
            };
            (conn, answer)
        })
    })
    .await
}

/// Why one unit of work failed: a wrong answer (the connection is still good) or a broken
/// connection (a new one is opened).
pub enum Failure {
    Answer(String),
    Connection(String),
}

/// One unit of work on a client's connection (the n-th of the run); hands the connection back.
pub type Unit = Pin<Box<dyn Future<Output = (Connection, Result<(), Failure>)> + Send>>;

/// Runs `unit` from `concurrency` clients, each on its own keep-alive connection, back to back
/// for `duration`; a unit may be several requests, and its latency is the whole.
pub async fn measure_on_connections<F>(
    name: &str,
    addr: std::net::SocketAddr,
    concurrency: usize,
    duration: Duration,
    unit: F,
) -> Phase
where
    F: Fn(Connection, u64) -> Unit + Send + Sync + 'static,
{
    let unit = Arc::new(unit);
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(concurrency);
    for client in 0..concurrency {
        let unit = unit.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut first_error = None;
            let mut conn = match Connection::open(addr).await {
                Ok(c) => c,
                Err(e) => return (latencies, 1, Some(e)),
            };
            let mut n = client as u64;
            while Instant::now() < deadline {
                let t = Instant::now();
                let (back, answer) = unit(conn, n).await;
                conn = back;
                match answer {
                    Ok(()) => latencies.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32),
                    Err(Failure::Answer(e)) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                    }
                    Err(Failure::Connection(e)) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                        match Connection::open(addr).await {
                            Ok(c) => conn = c,
                            Err(_) => break,
                        }
                    }
                }
                n += concurrency as u64;
            }
            (latencies, errors, first_error)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for t in tasks {
        if let Ok((l, e, first)) = t.await {
            latencies.extend(l);
            errors += e;
            if let Some(first) = first {
                eprintln!("  {name}: first error: {first}");
            }
        }
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    Phase { name: name.to_string(), requests: latencies.len() as u64, errors, elapsed, latencies }
}

/// A table of phases, each compared with the first (the baseline).
pub struct Report {
    pub title: String,
    pub phases: Vec<Phase>,
    pub notes: Vec<String>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "\n{}", self.title)?;
        writeln!(
            f,
            "{:<34} {:>9} {:>7} {:>10} {:>8} {:>8} {:>8} {:>9}",
            "phase", "requests", "errors", "req/s", "p50 ms", "p90 ms", "p99 ms", "vs base"
        )?;
        let base = self.phases.first().map(Phase::per_second).unwrap_or(1.0);
        for p in &self.phases {
            writeln!(
                f,
                "{:<34} {:>9} {:>7} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2}x",
                p.name,
                p.requests,
                p.errors,
                p.per_second(),
                p.percentile_ms(0.5),
                p.percentile_ms(0.9),
                p.percentile_ms(0.99),
                p.per_second() / base.max(1e-9)
            )?;
        }
        for n in &self.notes {
            writeln!(f, "{n}")?;
        }
        Ok(())
    }
}
