//! `patchbay-cli`: the engine from a terminal. `--json` prints one JSON object per line.
//!
//! Exit codes: 0 success, 1 the tool returned an error (or the call did not succeed),
//! 2 usage or configuration error, 3 connection or auth failure.

mod catalog;
mod commands;
mod output;
mod roots;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use patchbay_engine::BrowserMode;

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
    Servers(ServersCommand),
    /// Connect to a server and report each state change; exits once connected or failed.
    Connect {
        /// The server's name (or use --all).
        #[arg(required_unless_present = "all")]
        name: Option<String>,
        /// Connect every enabled server and report how long it took for all of them.
        #[arg(long, conflicts_with = "name")]
        all: bool,
    },
    /// List a server's tools with their input schemas.
    Tools { name: String },
    #[command(flatten)]
    Catalog(catalog::CatalogCommand),
    /// Call a tool, printing progress and log messages as they arrive.
    Call(CallArgs),
    /// The folders a server may work in (MCP roots): list them, or add and remove some.
    Roots(roots::RootsArgs),
    /// Recent calls to a server, newest first.
    History {
        name: String,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Log in to a remote server through the browser; exits 0 once the tokens are stored.
    Login {
        name: String,
        /// `system` opens the browser; `print` only prints the link; `follow` (automation)
        /// requests the link itself and needs an authorization server that asks no person.
        #[arg(long, value_enum, default_value_t = BrowserMode::System)]
        browser: BrowserMode,
        /// Give up if the browser has not answered within this many seconds.
        #[arg(long, default_value_t = 300, value_name = "SECS")]
        timeout: u64,
    },
    /// A server's saved login: issuer, scopes, expiry (never the token).
    AuthStatus { name: String },
    /// Revoke a server's login at its authorization server and delete it here.
    Logout { name: String },
    /// Where Patchbay keeps its data, and whether secrets are in the OS keyring or a key file.
    Doctor,
    /// The key that seals saved logins and env and header values.
    #[command(subcommand)]
    Vault(VaultCommand),
}

#[derive(Subcommand)]
enum VaultCommand {
    /// Start over when the key is gone for good (its keyring entry deleted, its key file
    /// lost): every saved login and every env and header value is forgotten (servers stay).
    /// Not for a keyring that is only locked or out of reach: unlock it instead.
    Reset {
        /// Yes, forget them.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Subcommand)]
enum ServersCommand {
    /// Add a server: `--url URL` for a remote one, or `-- COMMAND ARGS...` for a local process.
    Add(Box<AddArgs>),
    /// Every server with its definition (env and header values masked).
    List {
        /// Show env and header values instead of masking them.
        #[arg(long)]
        show_secrets: bool,
    },
    /// Remove a server and its call history.
    Remove { name: String },
    /// Add the servers of a Claude Desktop, VS Code or Cursor config file (all or nothing).
    /// Prints what each local server would run; they are added disabled, waiting for your
    /// review, unless you pass --yes.
    Import {
        file: PathBuf,
        /// Show what would be added without storing anything.
        #[arg(long)]
        dry_run: bool,
        /// You have read what they run: add them enabled (as the file has them) and start them.
        #[arg(long, conflicts_with = "dry_run")]
        yes: bool,
        /// Show env and header values instead of masking them.
        #[arg(long)]
        show_secrets: bool,
    },
    /// Print every server in Claude Desktop's `claude_desktop_config.json` shape. Env and
    /// header values are left out (written as "") unless --include-secrets.
    Export {
        /// Include env and header values (keep the output private).
        #[arg(long)]
        include_secrets: bool,
    },
    /// Enable a server. An imported local server prints what it runs first, and starts only
    /// with --yes.
    Enable {
        name: String,
        /// You have read what it runs: start it.
        #[arg(long)]
        yes: bool,
        /// Show env values instead of masking them.
        #[arg(long)]
        show_secrets: bool,
    },
    /// Disable a server (it is not connected at start).
    Disable { name: String },
}

#[derive(Args)]
struct AddArgs {
    name: String,
    /// URL of a remote server.
    #[arg(long, conflicts_with = "command")]
    url: Option<String>,
    /// Remote transport: `http` (Streamable HTTP) or `sse` (legacy HTTP+SSE).
    #[arg(long, value_parser = ["http", "sse"], default_value = "http", requires = "url")]
    transport: String,
    /// An HTTP header for a remote server, `Name: value`. Repeatable.
    #[arg(long = "header", value_name = "K:V", requires = "url")]
    headers: Vec<String>,
    /// A client id registered by hand at the server's authorization server (instead of
    /// letting Patchbay register itself).
    #[arg(long, value_name = "ID", requires = "url")]
    client_id: Option<String>,
    /// That client's secret, kept sealed. `PATCHBAY_CLIENT_SECRET` works too, and keeps it out
    /// of the shell history.
    #[arg(
        long,
        value_name = "SECRET",
        env = "PATCHBAY_CLIENT_SECRET",
        hide_env_values = true,
        requires = "client_id"
    )]
    client_secret: Option<String>,
    /// The https URL of a Client ID Metadata Document describing Patchbay, used as the client
    /// id at authorization servers that accept one (instead of registering dynamically).
    #[arg(
        long,
        value_name = "URL",
        requires = "url",
        conflicts_with = "client_id"
    )]
    client_metadata_url: Option<String>,
    /// An environment variable for a local server, `NAME=value`. Repeatable.
    #[arg(long = "env", value_name = "K=V")]
    env: Vec<String>,
    /// Working directory for a local server.
    #[arg(long)]
    cwd: Option<PathBuf>,
    /// Per-request timeout in seconds.
    #[arg(long, value_name = "SECS")]
    timeout: Option<u64>,
    /// Store the server disabled (not connected at start).
    #[arg(long)]
    disabled: bool,
    /// The command line of a local server, after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

#[derive(Args)]
struct CallArgs {
    name: String,
    tool: String,
    /// Arguments as a JSON object.
    #[arg(long, value_name = "JSON")]
    args: Option<String>,
    /// Give up after this many seconds without a result or progress.
    #[arg(long, value_name = "SECS")]
    timeout: Option<f64>,
    /// Run the call this many times (for load tests and benchmarks).
    #[arg(long, default_value_t = 1, value_name = "N")]
    repeat: usize,
    /// How many of the repeated calls run at once.
    #[arg(long, default_value_t = 1, value_name = "C")]
    concurrency: usize,
    /// When the server asks a question during the call (elicitation): `decline` it; accept
    /// a form's `defaults` (and a link without opening it); or `open` a link in the browser
    /// (only https, or http to this machine) and accept, forms with their defaults.
    #[arg(long, default_value = "decline", value_parser = ["decline", "defaults", "open"])]
    elicit: String,
    /// Run the call as a task (MCP tasks, SEP-1686): its status is printed as it changes.
    #[arg(long)]
    task: bool,
    /// When the server asks for a model's reply during the call (sampling): approve this
    /// text as the reply. Without it, sampling requests are rejected.
    #[arg(long, value_name = "TEXT")]
    sample_reply: Option<String>,
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
    let code = runtime.block_on(commands::run(cli));
    ExitCode::from(code)
}
