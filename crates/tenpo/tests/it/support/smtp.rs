//! A real SMTP server for the email tests: aiosmtpd (PyPI, pinned in `.ci/requirements.txt`)
//! running `.ci/smtp_sink.py` on a free port; every message it accepts is a file the test reads
//! back. `.ci/run` installs the pinned tools in the venv `.ci/py` (`.ci/python-tools`); without
//! it, the first test that needs it makes the same venv under `target/test-tools/py`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// One delivered message, decoded.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub from: String,
    pub subject: String,
    pub message_id: String,
    pub body: String,
}

pub struct Smtp {
    pub port: u16,
    dir: PathBuf,
    _child: Child,
}

impl Smtp {
    pub async fn start() -> Smtp {
        Self::start_with(0).await
    }

    /// A server that answers the first `fail_first` messages with a temporary failure (451).
    pub async fn start_with(fail_first: u32) -> Smtp {
        let python = python();
        let dir = super::scratch_dir("tenpo-test-smtp");
        std::fs::create_dir_all(&dir).unwrap();
        let mut child = Command::new(&python)
            .arg(workspace().join(".ci/smtp_sink.py"))
            .arg(&dir)
            .args(["--fail-first", &fail_first.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 is needed for the SMTP test server");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let port = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(p) = line.strip_prefix("listening on ") {
                    return p.trim().parse::<u16>().unwrap();
                }
            }
            panic!("the SMTP test server exited before listening");
        })
        .await
        .expect("the SMTP test server did not start within 30 s");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Smtp { port, dir, _child: child }
    }

    /// Points a configuration at this server.
    pub fn configure(&self, config: &mut tenpo::config::Config) {
        config.mail.smtp_host = Some("127.0.0.1".into());
        config.mail.smtp_port = Some(self.port);
        config.mail.tls = mail::TlsMode::None;
        config.mail.from_address = Some("shop@tenpo.test".into());
        config.mail.poll_ms = 50;
    }

    /// Every message received so far, in arrival order.
    pub fn messages(&self) -> Vec<Mail> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        files.sort();
        files.iter().map(|f| parse(&std::fs::read(f).unwrap())).collect()
    }

    /// Waits until at least `n` messages arrived (up to 30 s), then a moment more so a
    /// duplicate would show.
    pub async fn wait_for(&self, n: usize) -> Vec<Mail> {
        for _ in 0..600 {
            if self.messages().len() >= n {
                tokio::time::sleep(Duration::from_millis(500)).await;
                return self.messages();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{n} messages expected, {} arrived: {:#?}", self.messages().len(), self.messages());
    }

    /// The messages sent to `to`.
    pub fn to(&self, to: &str) -> Vec<Mail> {
        self.messages().into_iter().filter(|m| m.to.contains(to)).collect()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn parse(raw: &[u8]) -> Mail {
    use mailparse::MailHeaderMap;
    let m = mailparse::parse_mail(raw).expect("a parseable message");
    let h = |name: &str| m.headers.get_first_value(name).unwrap_or_default();
    Mail {
        to: h("To"),
        from: h("From"),
        subject: h("Subject"),
        message_id: h("Message-ID"),
        body: m.get_body().expect("a text body"),
    }
}

fn workspace() -> PathBuf {
    std::fs::canonicalize(Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")).unwrap()
}

/// A Python with aiosmtpd: `.ci/py` (made by `.ci/python-tools`), else the same venv made once
/// here under `target/test-tools/py` from `.ci/requirements.txt`.
fn python() -> PathBuf {
    let workspace = workspace();
    let has_aiosmtpd = |venv: &Path| {
        std::process::Command::new(venv.join("bin/python3"))
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let ci = workspace.join(".ci/py");
    if has_aiosmtpd(&ci) {
        return ci.join("bin/python3");
    }
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).expect("test binary under target/<profile>/deps").to_path_buf();
    let venv = target.join("test-tools/py");
    if has_aiosmtpd(&venv) {
        return venv.join("bin/python3");
    }
    std::fs::create_dir_all(target.join("test-tools")).unwrap();
    let lock = std::fs::File::create(target.join("test-tools/py.lock")).unwrap();
    lock.lock().unwrap();
    if !has_aiosmtpd(&venv) {
        eprintln!("installing the pinned PyPI test tools into {}", venv.display());
        let run = |args: &[&std::ffi::OsStr]| {
            let status = std::process::Command::new(args[0]).args(&args[1..]).stdout(Stdio::null()).status();
            assert!(status.is_ok_and(|s| s.success()), "{args:?} failed (python3 with venv and pip is needed)");
        };
        run(&["python3".as_ref(), "-m".as_ref(), "venv".as_ref(), venv.as_os_str()]);
        let pip = venv.join("bin/pip");
        let requirements = workspace.join(".ci/requirements.txt");
        run(&[pip.as_os_str(), "install".as_ref(), "--quiet".as_ref(), "-r".as_ref(), requirements.as_os_str()]);
    }
    lock.unlock().unwrap();
    venv.join("bin/python3")
}
