//! The private PostgreSQL cluster behind zero-config start.
//!
//! With no `DATABASE_URL`, Tenpo runs its own cluster from the installed server binaries under
//! `<data dir>/postgres`: `initdb` once, then `pg_ctl start` listening only on a unix socket in
//! that directory (no TCP port, so it never collides with another PostgreSQL), and
//! `pg_ctl stop` on exit. PostgreSQL refuses to run as root, so when Tenpo runs as root the
//! cluster's files belong to the `postgres` user and its commands run through `runuser`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::postgres::PgConnectOptions;
use tokio::process::Command;

const SUPERUSER: &str = "tenpo";
const PORT: u16 = 5432;
/// Unix socket paths are limited to about 107 bytes including `/.s.PGSQL.5432`.
const MAX_SOCKET_DIR_LEN: usize = 90;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "no PostgreSQL server binaries (initdb, pg_ctl) found. Install the server package \
         (Debian/Ubuntu: `apt-get install postgresql`; Fedora: `dnf install postgresql-server`; \
         macOS: `brew install postgresql`), point TENPO_PG_BIN at its bin directory, or set \
         DATABASE_URL to use an existing server"
    )]
    BinariesNotFound,
    #[error(
        "running as root, the private cluster needs the `postgres` system user (install the postgresql package) or DATABASE_URL"
    )]
    NoPostgresUser,
    #[error("{command} failed: {output}")]
    Command { command: String, output: String },
    #[error("cannot prepare {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Turns off fsync and synchronous commit: for throwaway test clusters only.
    pub unsafe_fast: bool,
    pub max_connections: u32,
    /// Sign-ins need a password (scram-sha-256), the superuser's being this one, set when the
    /// cluster is first created. `None`: trust on the cluster's own socket.
    pub superuser_password: Option<String>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions { unsafe_fast: false, max_connections: 200, superuser_password: None }
    }
}

/// A running private cluster. [`PrivateCluster::stop`] stops it if this process started it.
#[derive(Debug)]
pub struct PrivateCluster {
    pgdata: PathBuf,
    socket_dir: PathBuf,
    bin_dir: PathBuf,
    run_as_postgres: bool,
    started_here: bool,
}

impl PrivateCluster {
    pub async fn start(data_dir: &Path, opts: ClusterOptions) -> Result<Self, ClusterError> {
        let bin_dir = find_bin_dir().ok_or(ClusterError::BinariesNotFound)?;
        let run_as_postgres = is_root();
        if run_as_postgres && !user_exists("postgres") {
            return Err(ClusterError::NoPostgresUser);
        }
        let mut base = absolute(&data_dir.join("postgres"));
        if run_as_postgres && !postgres_can_reach(data_dir).await {
            // e.g. a checkout under /root, which the postgres user cannot traverse
            let fallback = std::env::temp_dir().join(format!("tenpo-pg-{}", short_hash(&base)));
            tracing::info!(
                wanted = %base.display(), using = %fallback.display(),
                "the postgres user cannot reach the data directory; keeping the cluster elsewhere"
            );
            base = fallback;
        }
        let pgdata = base.join("data");
        let socket_dir = socket_dir_for(&base);
        let cluster = PrivateCluster { pgdata, socket_dir, bin_dir, run_as_postgres, started_here: false };
        cluster.prepare_dirs(&base)?;
        if !cluster.pgdata.join("PG_VERSION").exists() {
            cluster.initdb(&base, opts.superuser_password.as_deref()).await?;
        }
        let running = cluster.pg_ctl(&["status", "-D", &path_str(&cluster.pgdata)]).await.is_ok();
        if running {
            tracing::info!(pgdata = %cluster.pgdata.display(), "private PostgreSQL already running");
            return Ok(cluster);
        }
        let log = base.join("server.log");
        let mut server_opts = format!(
            "-c listen_addresses='' -c unix_socket_directories='{}' -c port={PORT} -c max_connections={}",
            cluster.socket_dir.display(),
            opts.max_connections
        );
        if opts.unsafe_fast {
            server_opts.push_str(" -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
        }
        let started = std::time::Instant::now();
        cluster
            .pg_ctl(&[
                "start",
                "-D",
                &path_str(&cluster.pgdata),
                "-w",
                "-t",
                "60",
                "-l",
                &path_str(&log),
                "-o",
                &server_opts,
            ])
            .await?;
        tracing::info!(
            pgdata = %cluster.pgdata.display(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "started private PostgreSQL"
        );
        Ok(PrivateCluster { started_here: true, ..cluster })
    }

    /// Connection options for the cluster's superuser (the owner role) on `database`.
    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new().socket(&self.socket_dir).port(PORT).username(SUPERUSER).database(database)
    }

    pub fn pgdata(&self) -> &Path {
        &self.pgdata
    }

    /// Stops the cluster if this process started it; one started by another process is left
    /// running for that process.
    pub async fn stop(self) {
        if !self.started_here {
            return;
        }
        match self.pg_ctl(&["stop", "-D", &path_str(&self.pgdata), "-m", "fast", "-w"]).await {
            Ok(_) => tracing::info!("stopped private PostgreSQL"),
            Err(e) => tracing::warn!(error = %e, "could not stop private PostgreSQL"),
        }
    }

    /// Leaves the cluster running when this handle goes away (shared test clusters).
    pub fn detach(mut self) {
        self.started_here = false;
    }

    fn prepare_dirs(&self, base: &Path) -> Result<(), ClusterError> {
        for dir in [base, &self.socket_dir] {
            std::fs::create_dir_all(dir).map_err(|source| ClusterError::Io { path: dir.to_path_buf(), source })?;
            if self.run_as_postgres {
                chown_to_postgres(dir)?;
            }
        }
        Ok(())
    }

    async fn initdb(&self, base: &Path, password: Option<&str>) -> Result<(), ClusterError> {
        let initdb = path_str(&self.bin_dir.join("initdb"));
        let pgdata = path_str(&self.pgdata);
        let pwfile = base.join("initdb.pw");
        let pwfile_arg = format!("--pwfile={}", path_str(&pwfile));
        let mut args = vec![initdb.as_str(), "-D", &pgdata, "-U", SUPERUSER];
        match password {
            Some(pw) => {
                std::fs::write(&pwfile, pw).map_err(|source| ClusterError::Io { path: pwfile.clone(), source })?;
                if self.run_as_postgres {
                    chown_to_postgres(&pwfile)?;
                }
                args.extend(["--auth=scram-sha-256", pwfile_arg.as_str()]);
            }
            None => args.push("--auth=trust"),
        }
        args.extend(["--encoding=UTF8", "--locale=C", "--no-instructions"]);
        let done = self.run(&args).await.map(|_| ());
        let _ = std::fs::remove_file(&pwfile);
        done
    }

    async fn pg_ctl(&self, args: &[&str]) -> Result<String, ClusterError> {
        let pg_ctl = path_str(&self.bin_dir.join("pg_ctl"));
        let mut all = vec![pg_ctl.as_str()];
        all.extend_from_slice(args);
        self.run(&all).await
    }

    async fn run(&self, args: &[&str]) -> Result<String, ClusterError> {
        let mut cmd = if self.run_as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).args(args);
            c
        } else {
            let mut c = Command::new(args[0]);
            c.args(&args[1..]);
            c
        };
        // pg_ctl start leaves the server running: do not tie it to our stdout/stderr pipes,
        // nor to any descriptor this process inherited (a caller's lock file, a test runner's
        // pipe): the server would hold it for as long as it runs.
        cmd.stdin(std::process::Stdio::null());
        // SAFETY: the closure only makes system calls that are async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                mark_inherited_close_on_exec();
                Ok(())
            });
        }
        let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
            .await
            .map_err(|_| ClusterError::Command { command: args.join(" "), output: "timed out".into() })?
            .map_err(|e| ClusterError::Command { command: args.join(" "), output: e.to_string() })?;
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        if out.status.success() {
            Ok(text)
        } else {
            Err(ClusterError::Command { command: args.join(" "), output: text.trim().to_string() })
        }
    }
}

fn socket_dir_for(base: &Path) -> PathBuf {
    let dir = base.join("run");
    if dir.as_os_str().len() <= MAX_SOCKET_DIR_LEN {
        dir
    } else {
        PathBuf::from("/tmp").join(format!("tenpo-{}", short_hash(base)))
    }
}

/// Directories that may hold PostgreSQL server binaries, most specific first.
fn find_bin_dir() -> Option<PathBuf> {
    let has_tools = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os("TENPO_PG_BIN").map(PathBuf::from) {
        return has_tools(&dir).then_some(dir);
    }
    // Debian and Ubuntu keep server binaries out of PATH, one directory per major version.
    let mut versioned: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse().ok()?;
            Some((major, e.path().join("bin")))
        })
        .collect();
    versioned.sort_by_key(|v| std::cmp::Reverse(v.0));
    let mut candidates: Vec<PathBuf> = versioned.into_iter().map(|(_, p)| p).collect();
    candidates.extend(["/usr/local/pgsql/bin", "/opt/homebrew/bin", "/usr/local/bin", "/usr/bin"].map(PathBuf::from));
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path));
    }
    candidates.into_iter().find(|d| has_tools(d))
}

/// Marks every descriptor above stderr close-on-exec (in a child between fork and exec): what a
/// command started from here runs with is its stdin, stdout and stderr only.
fn mark_inherited_close_on_exec() {
    #[cfg(target_os = "linux")]
    // SAFETY: close_range only changes descriptor flags.
    if unsafe { libc::close_range(3, libc::c_uint::MAX, libc::CLOSE_RANGE_CLOEXEC as libc::c_int) } == 0 {
        return;
    }
    // older kernels: one descriptor at a time, up to the soft limit
    // SAFETY: sysconf and fcntl on any number are safe; unknown descriptors fail harmlessly.
    let max = unsafe { libc::sysconf(libc::_SC_OPEN_MAX) }.clamp(256, 65_536) as libc::c_int;
    for fd in 3..max {
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 {
                libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
            }
        }
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn user_exists(name: &str) -> bool {
    std::fs::read_to_string("/etc/passwd")
        .map(|p| p.lines().any(|l| l.split(':').next() == Some(name)))
        .unwrap_or(false)
}

/// Whether the postgres user can traverse every directory down to `dir` (after we create it).
async fn postgres_can_reach(dir: &Path) -> bool {
    if std::fs::create_dir_all(dir).is_err() {
        return false;
    }
    let dir = absolute(dir);
    Command::new("runuser")
        .args(["-u", "postgres", "--", "test", "-x"])
        .arg(&dir)
        .stdin(std::process::Stdio::null())
        .status()
        .await
        .map(|s| s.success())
        .unwrap_or(false)
}

fn chown_to_postgres(dir: &Path) -> Result<(), ClusterError> {
    let status = std::process::Command::new("chown")
        .arg("postgres:")
        .arg(dir)
        .status()
        .map_err(|source| ClusterError::Io { path: dir.to_path_buf(), source })?;
    if status.success() {
        Ok(())
    } else {
        Err(ClusterError::Command { command: format!("chown postgres: {}", dir.display()), output: status.to_string() })
    }
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn short_hash(p: &Path) -> String {
    let digest = Sha256::digest(p.as_os_str().as_encoded_bytes());
    hex::encode(&digest[..6])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The server started here holds none of this process's descriptors, even one that was
    /// opened without close-on-exec (as a caller's `flock` file is).
    #[tokio::test]
    async fn the_server_inherits_no_descriptor() {
        let Some(_) = find_bin_dir() else { return eprintln!("no PostgreSQL server binaries; skipped") };
        let dir = std::env::temp_dir().join(format!("tenpo-cluster-fd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::process::Command::new("chmod").arg("755").arg(&dir).status().unwrap();
        let held = dir.join("held.lock");
        let file = std::fs::File::create(&held).unwrap();
        use std::os::fd::AsRawFd;
        // SAFETY: clearing the flag of a descriptor we own.
        unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETFD, 0) };

        let cluster = PrivateCluster::start(
            &dir,
            ClusterOptions { unsafe_fast: true, max_connections: 20, ..Default::default() },
        )
        .await
        .unwrap();
        let pid = std::fs::read_to_string(cluster.pgdata().join("postmaster.pid")).unwrap();
        let pid = pid.lines().next().unwrap().trim().to_string();
        let open: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .flatten()
            .filter_map(|e| std::fs::read_link(e.path()).ok())
            .map(|p| p.display().to_string())
            .collect();
        cluster.stop().await;
        let _ = std::fs::remove_dir_all(&dir);
        assert!(!open.is_empty(), "the postmaster's descriptors were readable");
        assert!(!open.iter().any(|p| p.ends_with("held.lock")), "the server holds {}: {open:?}", held.display());
    }
}
