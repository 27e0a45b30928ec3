//! `servers`: the server definitions — add, list, remove, import, export, enable, disable.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use patchbay_engine::{Hub, HubError, Login, Secret, ServerDef, TransportDef};
use serde_json::{Value, json};

use crate::exit::{OK, USAGE};
use crate::launch::launch_text;
use crate::output::{Out, tagged};

#[derive(Subcommand)]
pub enum ServersCommand {
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
pub struct AddArgs {
    name: String,
    /// URL of a remote server.
    #[arg(long, conflicts_with = "command")]
    url: Option<String>,
    /// Remote transport: `http` (Streamable HTTP) or `sse` (legacy HTTP+SSE).
    #[arg(long, value_enum, default_value = "http", requires = "url")]
    transport: RemoteTransport,
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

/// `--transport`: how a remote server is spoken to. (Plain comments on the variants: doc
/// comments would change `--help`.)
#[derive(Clone, Copy, ValueEnum)]
enum RemoteTransport {
    // Streamable HTTP.
    Http,
    // The legacy HTTP+SSE transport.
    Sse,
}

pub async fn run(hub: &Hub, out: Out, cmd: ServersCommand) -> Result<u8, HubError> {
    match cmd {
        ServersCommand::Add(args) => {
            let mut args = *args;
            let secret = args.client_secret.take();
            let def = match server_def(args) {
                Ok(d) => d,
                Err(message) => {
                    out.error(&message);
                    return Ok(USAGE);
                }
            };
            match secret {
                Some(secret) => {
                    hub.add_server_with_client_secret(def.clone(), Secret::new(secret))
                        .await?
                }
                None => hub.add_server(def.clone()).await?,
            }
            let shown = hub.server(&def.name)?;
            out.emit(json!({"event": "server_added", "server": shown}), || {
                format!("added '{}' ({})", shown.name, shown.transport_target())
            });
        }
        ServersCommand::List { show_secrets } => {
            for view in hub.servers().await? {
                let def = if show_secrets {
                    hub.reveal_server(&view.def.name).await?
                } else {
                    view.def.clone()
                };
                let (era, version, remembered) = match &view.spoke {
                    Some(spoke) => (
                        json!(spoke.era),
                        json!(spoke.protocol_version),
                        json!(spoke.remembered),
                    ),
                    None => (Value::Null, Value::Null, Value::Null),
                };
                out.emit(
                    json!({"event": "server", "server": def, "state": view.state, "login": view.login,
                           "era": era, "protocol_version": version, "remembered": remembered}),
                    || {
                        let mut line = server_line(&def, &view.login);
                        if let Some(spoke) = &view.spoke {
                            line.push_str(&format!(" — {spoke}"));
                        }
                        line
                    },
                );
            }
        }
        ServersCommand::Remove { name } => {
            hub.remove_server(&name).await?;
            out.emit(json!({"event": "server_removed", "server": name}), || {
                format!("removed '{name}'")
            });
        }
        ServersCommand::Import {
            file,
            dry_run,
            yes,
            show_secrets,
        } => {
            // What is added is exactly what was shown: the file is read once.
            let preview = hub.preview_import(&file, show_secrets).await?;
            for w in &preview.warnings {
                out.emit(json!({"event": "warning", "message": w}), || {
                    format!("warning: {w}")
                });
            }
            for server in &preview.servers {
                out.emit(tagged("would_add", server), || {
                    let mut text = format!(
                        "'{}' ({}){}",
                        server.def.name,
                        server.def.transport_target(),
                        if server.exists {
                            " — a server of this name exists already"
                        } else {
                            ""
                        }
                    );
                    if let Some(plan) = &server.launch {
                        text.push('\n');
                        text.push_str(&launch_text(plan));
                    }
                    text
                });
            }
            if dry_run {
                return Ok(OK);
            }
            let added = hub.apply_import(&preview.id, yes).await?;
            for def in &added {
                out.emit(json!({"event": "server_added", "server": def}), || {
                    format!(
                        "added '{}'{}",
                        def.name,
                        if def.enabled { "" } else { " (disabled)" }
                    )
                });
            }
            if !yes && !added.is_empty() {
                out.note(
                    "They were added disabled. Once you have read what each one runs, start it with `patchbay-cli servers enable NAME --yes` (which shows it again first).",
                );
            }
        }
        ServersCommand::Export { include_secrets } => {
            let export = hub.export_claude(include_secrets).await?;
            // Exact JSON either way, with nothing a terminal would act on.
            if out.json {
                println!("{}", crate::output::json_line(&export.document));
            } else {
                let pretty = serde_json::to_string_pretty(&export.document).unwrap_or_default();
                println!("{}", crate::output::json_safe(pretty));
            }
            if export.secrets_left_out > 0 {
                out.note(&format!(
                    "{} env and header values were left out (written as \"\"); --include-secrets includes them",
                    export.secrets_left_out
                ));
            }
        }
        ServersCommand::Enable {
            name,
            yes,
            show_secrets,
        } => {
            let def = hub.server(&name)?;
            if def.needs_review {
                let plan = hub.launch_plan(&name, show_secrets).await?;
                out.emit(tagged("launch_plan", &plan), || launch_text(&plan));
                if !yes {
                    out.error(&format!(
                        "'{name}' was imported and has not started yet; once you have read what it runs (above), start it with `patchbay-cli servers enable {name} --yes`"
                    ));
                    return Ok(USAGE);
                }
                hub.confirm_launch(&name, &plan.digest).await?;
            } else {
                hub.set_enabled(&name, true).await?;
            }
            out.emit(json!({"event": "server_enabled", "server": name}), || {
                format!("enabled '{name}'")
            });
        }
        ServersCommand::Disable { name } => {
            hub.set_enabled(&name, false).await?;
            out.emit(json!({"event": "server_disabled", "server": name}), || {
                format!("disabled '{name}'")
            });
        }
    }
    Ok(OK)
}

/// One server in `servers list`: name, transport, target, and what needs the person.
fn server_line(def: &ServerDef, login: &Login) -> String {
    let mut line = format!(
        "{}\t{}\t{}",
        def.name,
        def.transport.kind(),
        def.transport_target()
    );
    let secrets = match &def.transport {
        TransportDef::Stdio { env, .. } if !env.is_empty() => Some(("env", env)),
        TransportDef::Http { headers, .. } | TransportDef::Sse { headers, .. }
            if !headers.is_empty() =>
        {
            Some(("headers", headers))
        }
        _ => None,
    };
    if let Some((what, values)) = secrets {
        let pairs: Vec<String> = values.iter().map(|(k, v)| format!("{k}={v}")).collect();
        line.push_str(&format!("\t{what}: {}", pairs.join(" ")));
    }
    if let TransportDef::Unreadable { reason } = &def.transport {
        line.push_str(&format!("\tunreadable: {reason}"));
    }
    if def.needs_review {
        line.push_str("\t(imported, not started yet: `servers enable` shows what it runs)");
    } else if !def.enabled {
        line.push_str("\t(disabled)");
    }
    if let Login::NeedsLogin { reason } = login {
        line.push_str(&format!("\tneeds login: {reason}"));
    }
    line
}

fn server_def(args: AddArgs) -> Result<ServerDef, String> {
    let transport = match (args.url, args.command.split_first()) {
        (Some(url), None) => {
            let mut headers = BTreeMap::new();
            for h in &args.headers {
                let (k, v) = h
                    .split_once(':')
                    .ok_or_else(|| format!("--header {h:?} must look like `Name: value`"))?;
                headers.insert(k.trim().to_string(), v.trim().to_string());
            }
            match args.transport {
                RemoteTransport::Sse => TransportDef::Sse { url, headers },
                RemoteTransport::Http => TransportDef::Http { url, headers },
            }
        }
        (None, Some((command, rest))) => {
            let mut env = BTreeMap::new();
            for e in &args.env {
                let (k, v) = e
                    .split_once('=')
                    .ok_or_else(|| format!("--env {e:?} must look like `NAME=value`"))?;
                env.insert(k.to_string(), v.to_string());
            }
            TransportDef::Stdio {
                command: command.clone(),
                args: rest.to_vec(),
                env,
                cwd: args.cwd,
            }
        }
        (None, None) => return Err("give either --url URL or `-- COMMAND ARGS...`".into()),
        (Some(_), Some(_)) => return Err("give either --url or a command, not both".into()),
    };
    let mut def = ServerDef::new(args.name, transport);
    def.enabled = !args.disabled;
    def.oauth_client_id = args.client_id;
    def.oauth_client_metadata_url = args.client_metadata_url;
    if let Some(t) = args.timeout {
        def.request_timeout_secs = t;
    }
    Ok(def)
}
