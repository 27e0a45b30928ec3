//! `patchbay-cli`: the engine from a terminal. `--json` prints one JSON object per line.
//!
//! The exit codes, and when each is used, are in `exit.rs`.
//!
//! Each command family keeps its clap arguments beside its handler (`servers`, `connect`,
//! `catalog`, `call`, `roots`, `auth`, `vault`); they share only the leaves `exit`, `output`,
//! `hub` and `launch`. This file holds the top-level command line and the dispatch.

mod auth;
mod call;
mod catalog;
mod connect;
mod exit;
mod hub;
mod launch;
mod output;
mod roots;
mod servers;
mod vault;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use patchbay_engine::Hub;

use crate::output::Out;

#[derive(Parser)]
#[command(
    name = "patchbay-cli",
    version,
    about = "Connect to MCP servers, list and call their tools."
)]
struct Cli {
    /// Where Patchbay keeps its database (default: the platform data dir).
    #[arg(long, global = true, env = "PATCHBAY_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Print one JSON object per line instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Add, list, remove, import and export server definitions.
    #[command(subcommand)]
    Servers(servers::ServersCommand),
    /// Connect to a server and report each state change; exits once connected or failed.
    Connect(connect::ConnectArgs),
    #[command(flatten)]
    Catalog(catalog::CatalogCommand),
    /// Call a tool, printing progress and log messages as they arrive.
    Call(call::CallArgs),
    /// The folders a server may work in (MCP roots): list them, or add and remove some.
    Roots(roots::RootsArgs),
    /// Recent calls to a server, newest first.
    History(call::HistoryArgs),
    #[command(flatten)]
    Auth(auth::AuthCommand),
    #[command(flatten)]
    Secrets(vault::SecretsCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Quiet by default: every failure a person needs to know about is printed once, in
    // Patchbay's own words (`error: ...`); rmcp's internal error lines ("worker quit with
    // fatal ...") would only repeat it in Rust's. RUST_LOG shows everything.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error,rmcp=off")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = runtime.block_on(run(cli));
    ExitCode::from(code)
}

async fn run(cli: Cli) -> u8 {
    let out = Out { json: cli.json };
    let hub = match hub::open(cli.data_dir).await {
        Ok(hub) => hub,
        Err(message) => {
            out.error(&message);
            return exit::USAGE;
        }
    };
    let code = tokio::select! {
        code = dispatch(&hub, out, cli.command) => code,
        _ = tokio::signal::ctrl_c() => {
            out.error("interrupted");
            exit::INTERRUPTED
        }
    };
    // Every command ends here: connections closed, server processes gone.
    hub.shutdown().await;
    code
}

async fn dispatch(hub: &Hub, out: Out, command: Command) -> u8 {
    let result = match command {
        Command::Servers(cmd) => servers::run(hub, out, cmd).await,
        Command::Connect(args) => connect::run(hub, out, args).await,
        Command::Catalog(cmd) => catalog::run(hub, out, cmd).await,
        Command::Call(args) => call::run(hub, out, args).await,
        Command::Roots(args) => roots::run(hub, out, args).await,
        Command::History(args) => call::history(hub, out, args).await,
        Command::Auth(cmd) => auth::run(hub, out, cmd).await,
        Command::Secrets(cmd) => vault::run(hub, out, cmd).await,
    };
    result.unwrap_or_else(|e| {
        out.error(&e.to_string());
        exit::for_error(&e)
    })
}
