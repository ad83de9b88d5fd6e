//! The `tenpo` binary as an operator runs it, on a test's database: for what only a real process
//! shows (exit codes, signals, SIGKILL mid-work).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::TestApp;

/// `tenpo` against the test's database, with a data directory of its own.
pub fn tenpo(app: &TestApp) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tenpo"));
    cmd.env("DATABASE_URL", app.owner_url())
        .env("TENPO_DATA_DIR", std::env::temp_dir().join(format!("tenpo-life-{}", uuid::Uuid::new_v4())))
        .env("TENPO_LOG", "info")
        .env_remove("TENPO_CONFIG");
    cmd
}

/// Waits for the child to exit, at most `limit`; kills it (and fails) past that.
pub fn exit_within(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("the process did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn stderr_of(child: &mut Child) -> String {
    use std::io::Read;
    let mut s = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut s);
    }
    s
}

/// A free port of 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `tenpo serve` (API and worker) on a port, started and ready.
pub struct Served {
    pub child: Child,
    pub base: String,
}

impl Served {
    /// Starts `tenpo serve` on `port` with extra environment, and waits until `/readyz` answers.
    pub async fn start(app: &TestApp, port: u16, env: &[(&str, &str)]) -> Served {
        Self::start_with(app, port, &[], env).await
    }

    /// [`Served::start`] with extra arguments of `serve` (e.g. `--no-worker`).
    pub async fn start_with(app: &TestApp, port: u16, args: &[&str], env: &[(&str, &str)]) -> Served {
        let mut cmd = tenpo(app);
        cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let started = Instant::now();
        while !client.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("tenpo serve exited at start: {status}");
            }
            assert!(started.elapsed() < Duration::from_secs(60), "the server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Served { child, base }
    }

    /// SIGKILL: the process ends mid-work, with nothing cleaned up.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `tenpo worker`: a worker process of its own (killed when dropped).
pub struct WorkerProcess {
    pub child: Child,
}

impl WorkerProcess {
    pub fn start(app: &TestApp, env: &[(&str, &str)]) -> WorkerProcess {
        let mut cmd = tenpo(app);
        cmd.arg("worker").stdout(Stdio::null()).stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        WorkerProcess { child: cmd.spawn().unwrap() }
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
