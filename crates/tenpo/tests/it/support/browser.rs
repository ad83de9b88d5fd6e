//! A real headless Chromium (Debian's `chromium`) driven by playwright-core (npm, pinned in
//! `.ci/node`), for the console and storefront tests: one Chromium per test, reused by all its pages (a fresh
//! context, cookies and all, per [`Browser::new_session`]). Commands go to the driver
//! (`browser.cjs`) one JSON line at a time; a failing command fails the test with the page's
//! text. Screenshots land in `target/console-screenshots/` (the CI artifacts).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

pub const DESKTOP: (u32, u32) = (1280, 900);
pub const PHONE: (u32, u32) = (390, 844);

pub struct Browser {
    base: String,
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

/// Where screenshots go: `target/console-screenshots`.
pub fn screenshot_dir() -> PathBuf {
    // target/debug/deps/it-<hash> -> target
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).expect("test binary under target/<profile>/deps").join("console-screenshots")
}

impl Browser {
    /// Starts Chromium for pages of `base` (the TestApp's address).
    pub async fn start(base: &str) -> Browser {
        let chromium = std::env::var("TENPO_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        assert!(
            Path::new(&chromium).exists(),
            "the console tests need Debian's Chromium at {chromium} (.ci/run installs it: apt-get install chromium)"
        );
        let playwright = storage::testing::ci_node_tool(Path::new("node_modules/playwright-core/index.js"));
        let driver = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/support/browser.cjs");
        let mut child = Command::new("node")
            .arg(driver)
            .env("PLAYWRIGHT_CORE", playwright.parent().unwrap())
            .env("CHROMIUM", &chromium)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("node (Node.js) runs the browser driver");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut b = Browser { base: base.to_string(), child, stdin, stdout };
        let ready = b.read().await;
        assert_eq!(ready["ready"], true, "the browser driver did not start: {ready}");
        b
    }

    async fn read(&mut self) -> Value {
        let line = tokio::time::timeout(std::time::Duration::from_secs(60), self.stdout.next_line())
            .await
            .expect("the browser driver answers within a minute")
            .expect("read from the browser driver")
            .expect("the browser driver exited");
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("the driver said {line}"))
    }

    async fn send(&mut self, cmd: Value) -> Value {
        let mut line = cmd.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await.expect("write to the browser driver");
        let answer = self.read().await;
        if answer["ok"] != true {
            panic!(
                "browser command {cmd} failed: {}\n  at {}\n  page text:\n{}",
                answer["error"],
                answer["url"],
                answer["page"].as_str().unwrap_or("")
            );
        }
        answer["value"].clone()
    }

    fn url_of(&self, path: &str) -> String {
        if path.starts_with("http") { path.to_string() } else { format!("{}{path}", self.base) }
    }

    /// A fresh browser context (no cookies) at desktop size.
    pub async fn new_session(&mut self) {
        self.send(json!({ "op": "context", "width": DESKTOP.0, "height": DESKTOP.1 })).await;
    }

    /// A fresh browser context whose pages run no JavaScript (what a page must work without).
    pub async fn new_session_without_js(&mut self) {
        self.send(json!({ "op": "context", "width": DESKTOP.0, "height": DESKTOP.1, "js": false })).await;
    }

    /// Opens a page; answers its HTTP status.
    pub async fn goto(&mut self, path: &str) -> u16 {
        let url = self.url_of(path);
        self.send(json!({ "op": "goto", "url": url })).await.as_u64().unwrap_or(0) as u16
    }

    pub async fn fill(&mut self, selector: &str, value: &str) {
        self.send(json!({ "op": "fill", "selector": selector, "value": value })).await;
    }

    pub async fn select(&mut self, selector: &str, value: &str) {
        self.send(json!({ "op": "select", "selector": selector, "value": value })).await;
    }

    /// Chooses a file for a file input.
    pub async fn upload(&mut self, selector: &str, path: &Path) {
        self.send(json!({ "op": "upload", "selector": selector, "path": path })).await;
    }

    pub async fn check(&mut self, selector: &str) {
        self.send(json!({ "op": "check", "selector": selector })).await;
    }

    /// Clicks what leads to another page (a submit button, a link) and waits for it; answers
    /// its HTTP status.
    pub async fn click(&mut self, selector: &str) -> u16 {
        self.send(json!({ "op": "click", "selector": selector })).await.as_u64().unwrap_or(0) as u16
    }

    /// Clicks what opens a new tab (a print button) and goes on in that tab; answers its URL.
    pub async fn click_popup(&mut self, selector: &str) -> String {
        self.send(json!({ "op": "popup", "selector": selector })).await.as_str().unwrap_or("").to_string()
    }

    /// Closes the tabs opened by [`Browser::click_popup`] and goes back to the first.
    /// Clicks what answers a file download: the file's suggested name and its bytes.
    pub async fn download(&mut self, selector: &str) -> (String, Vec<u8>) {
        use base64::Engine;
        let v = self.send(json!({ "op": "download", "selector": selector })).await;
        let bytes = base64::engine::general_purpose::STANDARD.decode(v["base64"].as_str().unwrap_or("")).unwrap();
        (v["name"].as_str().unwrap_or("").to_string(), bytes)
    }

    pub async fn first_tab(&mut self) {
        self.send(json!({ "op": "first_tab" })).await;
    }

    pub async fn text(&mut self, selector: &str) -> String {
        self.send(json!({ "op": "text", "selector": selector })).await.as_str().unwrap_or("").to_string()
    }

    pub async fn texts(&mut self, selector: &str) -> Vec<String> {
        let v = self.send(json!({ "op": "texts", "selector": selector })).await;
        v.as_array().unwrap().iter().map(|s| s.as_str().unwrap_or("").to_string()).collect()
    }

    pub async fn count(&mut self, selector: &str) -> u64 {
        self.send(json!({ "op": "count", "selector": selector })).await.as_u64().unwrap()
    }

    pub async fn attr(&mut self, selector: &str, name: &str) -> Option<String> {
        self.send(json!({ "op": "attr", "selector": selector, "name": name })).await.as_str().map(str::to_string)
    }

    pub async fn value(&mut self, selector: &str) -> String {
        self.send(json!({ "op": "value", "selector": selector })).await.as_str().unwrap_or("").to_string()
    }

    pub async fn url(&mut self) -> String {
        self.send(json!({ "op": "url" })).await.as_str().unwrap().to_string()
    }

    pub async fn eval(&mut self, js: &str) -> Value {
        self.send(json!({ "op": "eval", "js": js })).await
    }

    pub async fn cookies(&mut self) -> Value {
        self.send(json!({ "op": "cookies" })).await
    }

    /// Screenshots of the current page at desktop and at phone width:
    /// `target/console-screenshots/<name>-desktop.png` and `-phone.png`.
    pub async fn screenshots(&mut self, name: &str) {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        for (size, (w, h)) in [("desktop", DESKTOP), ("phone", PHONE)] {
            self.send(json!({ "op": "viewport", "width": w, "height": h })).await;
            let path = dir.join(format!("{name}-{size}.png"));
            self.send(json!({ "op": "screenshot", "path": path })).await;
        }
        self.send(json!({ "op": "viewport", "width": DESKTOP.0, "height": DESKTOP.1 })).await;
    }

    /// Signs in through the console's form; answers the status of the page it lands on.
    pub async fn sign_in(&mut self, store: &str, login: &str, password: &str) -> u16 {
        self.goto("/console/login").await;
        self.fill("#store", store).await;
        self.fill("#login", login).await;
        self.fill("#password", password).await;
        self.click("form button[type=submit]").await
    }

    pub async fn close(mut self) {
        let _ = self.stdin.write_all(b"{\"op\":\"close\"}\n").await;
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), self.child.wait()).await;
    }
}
