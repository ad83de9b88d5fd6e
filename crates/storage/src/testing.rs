//! Test support shared by this crate's tests and Tenpo's integration tests: an S3-compatible
//! server (s3rver, from npm) started on a free port, so the S3 path is tested against a real
//! server rather than a mock. Not used by the service itself.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// An s3rver (npm `s3rver`, an S3-compatible server) on a free port of 127.0.0.1, with its data
/// in a temporary directory; killed when dropped. Its credentials are `S3RVER` / `S3RVER`.
pub struct S3rver {
    pub port: u16,
    _child: Child,
    _dir: tempfile::TempDir,
}

impl S3rver {
    pub const ACCESS_KEY_ID: &str = "S3RVER";
    pub const SECRET_ACCESS_KEY: &str = "S3RVER";

    pub async fn start() -> S3rver {
        let script = s3rver_script();
        let dir = tempfile::tempdir().unwrap();
        // Port 0: s3rver binds a free port and prints it, so parallel tests never collide.
        let mut child = Command::new("node")
            .arg(&script)
            .args(["--directory"])
            .arg(dir.path())
            .args(["--address", "127.0.0.1", "--port", "0", "--silent"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run node {}: {e}", script.display()));
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let port = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                // "S3rver listening on 127.0.0.1:41234"
                if let Some(addr) = line.strip_prefix("S3rver listening on ") {
                    return addr.rsplit(':').next().unwrap().trim().parse::<u16>().unwrap();
                }
            }
            panic!("s3rver exited before listening");
        })
        .await
        .expect("s3rver did not start within 30 s");
        // Keep draining stdout so s3rver never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        S3rver { port, _child: child, _dir: dir }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates a bucket (s3rver accepts the unsigned request).
    pub async fn create_bucket(&self, name: &str) {
        crate::install_tls_provider();
        let response = reqwest::Client::new().put(format!("{}/{name}", self.endpoint())).send().await.unwrap();
        assert!(response.status().is_success(), "create bucket: {}", response.status());
    }
}

/// The s3rver entry point: `$TENPO_S3RVER` if set; else the copy `.ci/run` installs under
/// `.ci/node`; else a copy installed here, on first use, under `target/test-tools/node` from the
/// same package.json and lock file (with a file lock, so parallel test processes install once).
fn s3rver_script() -> PathBuf {
    if let Some(path) = std::env::var_os("TENPO_S3RVER") {
        return PathBuf::from(path);
    }
    ci_node_tool(Path::new("node_modules/s3rver/bin/s3rver.js"))
}

/// A file of the test tools from npm (`.ci/node/package.json`: s3rver, playwright-core): the
/// copy `.ci/run` installs under `.ci/node`; else a copy installed on first use under
/// `target/test-tools/node` from the same package.json and lock file (with a file lock, so
/// parallel test processes install once).
pub fn ci_node_tool(relative: &Path) -> PathBuf {
    // this crate lives in <workspace>/crates/storage
    let workspace = std::fs::canonicalize(Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")).unwrap();
    let manifest_dir = workspace.join(".ci/node");
    let ci_copy = manifest_dir.join(relative);
    if ci_copy.exists() {
        return ci_copy;
    }

    // target/debug/deps/it-<hash> -> target
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).expect("test binary under target/<profile>/deps").to_path_buf();
    let cache = target.join("test-tools/node");
    let script = cache.join(relative);
    if script.exists() {
        return script;
    }
    std::fs::create_dir_all(&cache).unwrap();
    let lock = std::fs::File::create(target.join("test-tools/node.lock")).unwrap();
    fs4::fs_std::FileExt::lock_exclusive(&lock).unwrap();
    if !script.exists() {
        for file in ["package.json", "package-lock.json"] {
            std::fs::copy(manifest_dir.join(file), cache.join(file)).unwrap();
        }
        eprintln!("installing the npm test tools (.ci/node) into {}", cache.display());
        let status = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(&cache)
            .stdout(Stdio::null())
            .status()
            .expect("npm (Node.js) is needed to install the npm test tools (.ci/node)");
        assert!(status.success(), "npm ci of .ci/node failed: {status}");
    }
    fs4::fs_std::FileExt::unlock(&lock).unwrap();
    script
}
