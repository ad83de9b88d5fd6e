use std::process::ExitCode;

use clap::Parser;
use tenpo::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    bound_malloc_arenas();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(tenpo::commands::run(cli));
    // background threads were told to stop; do not let one that has not hang the exit
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// glibc gives threads that allocate at once arenas of their own (up to 8 per core) and keeps
/// what each freed for that arena: the server's resident memory grew with its threads (the
/// runtime's, the blocking pool's, the index writer's) to about twice what it uses. Two arenas,
/// unless `MALLOC_ARENA_MAX` says otherwise (README, "Memory").
fn bound_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; called before any other thread exists
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}
