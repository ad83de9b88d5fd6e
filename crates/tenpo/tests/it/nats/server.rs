//! NATS for the tests: the machine's server (127.0.0.1:4222, `.ci/run` starts it), each test with
//! a stream and subject prefix of its own, or a nats-server of the test's own on a free port with
//! its own store directory, for tests that stop and start it.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream;

use crate::support::process::free_port;
use crate::support::scratch_dir;

/// Where a test's events go: a server, and a stream and prefix nobody else uses.
pub struct Nats {
    pub url: String,
    pub stream: String,
    pub prefix: String,
}

impl Nats {
    /// The machine's server (`TENPO_TEST_NATS_URL`, else nats://127.0.0.1:4222).
    pub fn shared() -> Nats {
        let url = std::env::var("TENPO_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
        Nats::on(url)
    }

    fn on(url: String) -> Nats {
        let n = uuid::Uuid::new_v4().simple().to_string();
        Nats { url, stream: format!("T{n}"), prefix: format!("t{n}") }
    }

    /// The environment of a `tenpo` child publishing here.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("TENPO_NATS_URL", self.url.clone()),
            ("TENPO_NATS_STREAM", self.stream.clone()),
            ("TENPO_NATS_SUBJECT_PREFIX", self.prefix.clone()),
        ]
    }

    /// The same, for an in-process Tenpo.
    pub fn configure(&self, n: &mut ::nats::NatsSettings) {
        n.url = Some(self.url.clone());
        n.stream = self.stream.clone();
        n.subject_prefix = self.prefix.clone();
        n.lease_secs = 3;
        n.ack_timeout_secs = 1;
        n.poll_ms = 100;
    }

    async fn context(&self) -> jetstream::Context {
        let client = async_nats::connect(self.url.as_str()).await.expect("connect to NATS");
        jetstream::new(client)
    }

    /// How many messages the stream holds (0 before it exists).
    pub async fn count(&self) -> u64 {
        let js = self.context().await;
        match js.get_stream(&self.stream).await {
            Ok(mut s) => s.info().await.expect("stream info").state.messages,
            Err(_) => 0,
        }
    }

    /// Every message of the stream, in order: (subject, Nats-Msg-Id, body).
    pub async fn messages(&self) -> Vec<Message> {
        let js = self.context().await;
        let mut stream = js.get_stream(&self.stream).await.expect("the stream exists");
        let state = stream.info().await.expect("stream info").state.clone();
        let mut out = Vec::new();
        for seq in state.first_sequence..=state.last_sequence {
            let m = stream.get_raw_message(seq).await.expect("a message");
            let id = m.headers.get(async_nats::header::NATS_MESSAGE_ID).map(|v| v.as_str().to_string());
            let id = id.unwrap_or_else(|| panic!("a message without Nats-Msg-Id: {:?}", m.headers));
            out.push(Message {
                subject: m.subject.to_string(),
                id,
                body: serde_json::from_slice(&m.payload).expect("a JSON body"),
            });
        }
        out
    }

    /// The stream's configuration as the server has it.
    pub async fn config(&self) -> jetstream::stream::Config {
        let js = self.context().await;
        let mut stream = js.get_stream(&self.stream).await.expect("the stream exists");
        stream.info().await.expect("stream info").config.clone()
    }

    pub async fn delete(&self) {
        let _ = self.context().await.delete_stream(&self.stream).await;
    }
}

#[derive(Debug, Clone)]
pub struct Message {
    pub subject: String,
    pub id: String,
    pub body: serde_json::Value,
}

/// How often each id occurs.
pub fn tally(messages: &[Message]) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for m in messages {
        *seen.entry(m.id.clone()).or_insert(0) += 1;
    }
    seen
}

/// A nats-server of the test's own, with JetStream, on a free port and its own store.
pub struct OwnServer {
    pub port: u16,
    dir: std::path::PathBuf,
    child: Option<Child>,
}

impl OwnServer {
    pub async fn start() -> OwnServer {
        let mut s = OwnServer { port: free_port(), dir: scratch_dir("tenpo-test-nats"), child: None };
        s.restart().await;
        s
    }

    pub fn nats(&self) -> Nats {
        Nats::on(format!("nats://127.0.0.1:{}", self.port))
    }

    /// Starts it (again, on the same port and store) and waits until it takes connections.
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        std::fs::create_dir_all(&self.dir).unwrap();
        let bin = ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or("nats-server");
        let child = Command::new(bin)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string(), "-js", "-sd"])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server (Debian's package nats-server)");
        self.child = Some(child);
        let started = Instant::now();
        while async_nats::connect(format!("nats://127.0.0.1:{}", self.port)).await.is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "nats-server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops it (SIGKILL: an outage, nothing said to the clients).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
