//! What each subcommand does.

mod catalog;
pub mod check;
pub mod customers;
mod databases;
mod demo;
mod inventory;
mod operator;
mod search;
mod serve;

use crate::cli::{Cli, Command};
use crate::config::Config;
use crate::logging;

pub use demo::{DEMO_OWNER_EMAIL, DEMO_OWNER_PASSWORD, DEMO_STORE, seed_demo};

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve(args) => {
            if let Some(listen) = args.listen {
                config.listen = listen;
            }
            logging::init(&config.log);
            serve::serve(&config, crate::app::Parts { http: !args.no_http, worker: !args.no_worker }).await
        }
        Command::Worker => {
            logging::init(&config.log);
            serve::serve(&config, crate::app::Parts { http: false, worker: true }).await
        }
        Command::Migrate => {
            logging::init(&config.log);
            serve::migrate(&config).await
        }
        Command::Demo(args) => {
            if let Some(listen) = args.listen {
                config.listen = listen;
            }
            logging::init(&config.log);
            demo::demo(config, args.seed_only, args.mall).await
        }
        Command::Tenant(cmd) => {
            logging::init(&quiet(&config));
            operator::tenant(&config, cmd).await
        }
        Command::Store(cmd) => {
            logging::init(&quiet(&config));
            operator::store(&config, cmd).await
        }
        Command::Db(cmd) => {
            logging::init(&quiet(&config));
            databases::run(&config, cmd).await
        }
        Command::Vendor(cmd) => {
            logging::init(&quiet(&config));
            operator::vendor(&config, cmd).await
        }
        Command::Statement(cmd) => {
            logging::init(&quiet(&config));
            operator::statement(&config, cmd).await
        }
        Command::Staff(cmd) => {
            logging::init(&quiet(&config));
            operator::staff(&config, cmd).await
        }
        Command::Check(args) => {
            logging::init(&quiet(&config));
            check::run(&config, args.json, std::time::Duration::from_secs(args.stuck_after)).await
        }
        Command::Inventory(cmd) => {
            logging::init(&quiet(&config));
            inventory::run(&config, cmd).await
        }
        Command::Catalog(cmd) => {
            logging::init(&quiet(&config));
            catalog::run(&config, cmd).await
        }
        Command::Customers(cmd) => {
            logging::init(&quiet(&config));
            customers::run(&config, cmd).await
        }
        Command::Search(cmd) => {
            logging::init(&quiet(&config));
            search::run(&config, cmd).await
        }
        Command::Bench(args) => {
            // the baseline phases wait on locks by design: their slow statements are the point
            logging::init(&quiet_at(&config, "warn,sqlx::query=error"));
            crate::bench::run(&config, args).await
        }
        Command::Openapi => {
            println!("{}", serde_json::to_string_pretty(&http_api::openapi())?);
            Ok(())
        }
    }
}

/// Prints a value as pretty JSON on stdout (operator commands).
pub(crate) fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Operator commands print JSON on stdout; keep logs to warnings unless TENPO_LOG asks otherwise.
fn quiet(config: &Config) -> crate::config::LogConfig {
    quiet_at(config, "warn")
}

fn quiet_at(config: &Config, level: &str) -> crate::config::LogConfig {
    match std::env::var_os("TENPO_LOG") {
        Some(_) => config.log.clone(),
        None => crate::config::LogConfig { level: level.into(), ..config.log.clone() },
    }
}
