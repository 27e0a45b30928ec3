//! What a server offers, each command connecting first: its tools, resources, resource
//! templates, prompts, completions, its log level, its notifications, and ping. Each prints
//! MCP's own JSON with `--json`.

use std::path::PathBuf;

use clap::Subcommand;
use patchbay_engine::{CompletionTarget, Event, Hub, HubError, Listing, LogLevel, Notice};
use serde_json::{Value, json};

use crate::exit::{CONNECTION, OK, USAGE};
use crate::hub::{connect_quietly, next_event};
use crate::output::{Out, tagged, with_fields};

#[derive(Subcommand)]
pub enum CatalogCommand {
    /// List a server's tools with their input schemas.
    Tools { name: String },
    /// A server's resources (every page, or one page from --cursor).
    Resources {
        name: String,
        /// List resource templates instead.
        #[arg(long)]
        templates: bool,
        /// Start at this page (from a previous `next_cursor`); only that page is printed.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Read a resource; text is printed, a binary one must go to a file with --out.
    Read {
        name: String,
        uri: String,
        /// Write the contents (decoded) to this file.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// A server's prompts (every page, or one page from --cursor).
    Prompts {
        name: String,
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Get a prompt with its arguments and print its messages.
    Prompt {
        name: String,
        prompt: String,
        /// Arguments as a JSON object of strings, e.g. '{"city": "Paris"}'.
        #[arg(long, value_name = "JSON")]
        args: Option<String>,
    },
    /// The server's suggestions for a prompt argument or template variable as typed so far.
    Complete {
        name: String,
        /// Complete an argument of this prompt.
        #[arg(
            long,
            conflicts_with = "template",
            required_unless_present = "template"
        )]
        prompt: Option<String>,
        /// Complete a variable of this resource template (its URI template).
        #[arg(long)]
        template: Option<String>,
        argument: String,
        #[arg(default_value = "")]
        typed: String,
    },
    /// Set the level of log messages the server sends (logging/setLevel).
    LogLevel { name: String, level: LogLevel },
    /// Print the notifications the server sends (all but progress) as they arrive, for
    /// SECS seconds or until Ctrl-C.
    Watch {
        name: String,
        #[arg(long, value_name = "SECS")]
        seconds: Option<f64>,
    },
    /// Measure a round trip to the server.
    Ping {
        name: String,
        #[arg(long, default_value_t = 1)]
        count: u32,
    },
}

impl CatalogCommand {
    fn server(&self) -> &str {
        match self {
            CatalogCommand::Tools { name }
            | CatalogCommand::Resources { name, .. }
            | CatalogCommand::Read { name, .. }
            | CatalogCommand::Prompts { name, .. }
            | CatalogCommand::Prompt { name, .. }
            | CatalogCommand::Complete { name, .. }
            | CatalogCommand::LogLevel { name, .. }
            | CatalogCommand::Watch { name, .. }
            | CatalogCommand::Ping { name, .. } => name,
        }
    }
}

pub async fn run(hub: &Hub, out: Out, command: CatalogCommand) -> Result<u8, HubError> {
    let name = command.server().to_string();
    if !connect_quietly(hub, out, &name).await? {
        return Ok(CONNECTION);
    }
    match command {
        CatalogCommand::Tools { .. } => tools(hub, out, &name).await,
        CatalogCommand::Resources {
            templates, cursor, ..
        } => {
            let what = if templates {
                Listing::ResourceTemplates
            } else {
                Listing::Resources
            };
            list(hub, out, &name, what, cursor).await
        }
        CatalogCommand::Prompts { cursor, .. } => {
            list(hub, out, &name, Listing::Prompts, cursor).await
        }
        CatalogCommand::Read { uri, out: file, .. } => read(hub, out, &name, &uri, file).await,
        CatalogCommand::Prompt { prompt, args, .. } => {
            let arguments = match args.as_deref().map(serde_json::from_str::<Value>) {
                None => serde_json::Map::new(),
                Some(Ok(Value::Object(map))) => map,
                Some(_) => {
                    out.error("--args must be a JSON object, like '{\"city\": \"Paris\"}'");
                    return Ok(USAGE);
                }
            };
            let result = hub.get_prompt(&name, &prompt, arguments).await?;
            out.emit(tagged("prompt", &result), || render_prompt(&result));
            Ok(OK)
        }
        CatalogCommand::Complete {
            prompt,
            template,
            argument,
            typed,
            ..
        } => {
            let target = match (prompt, template) {
                (Some(p), _) => CompletionTarget::Prompt(p),
                (None, Some(t)) => CompletionTarget::ResourceTemplate(t),
                (None, None) => unreachable!("clap requires one"),
            };
            let values = hub.complete(&name, target, &argument, &typed).await?;
            out.emit(json!({"event": "completion", "values": values}), || {
                values.join("\n")
            });
            Ok(OK)
        }
        CatalogCommand::LogLevel { level, .. } => {
            hub.set_log_level(&name, level).await?;
            out.emit(json!({"event": "log_level", "level": level}), || {
                format!("{name} now sends log messages at {level} and above")
            });
            Ok(OK)
        }
        CatalogCommand::Watch { seconds, .. } => watch(hub, out, &name, seconds).await,
        CatalogCommand::Ping { count, .. } => {
            for _ in 0..count.max(1) {
                let rtt = hub.ping(&name).await?;
                let ms = rtt.as_secs_f64() * 1000.0;
                out.emit(json!({"event": "pong", "rtt_ms": ms}), || {
                    format!("pong from {name}: {ms:.2} ms")
                });
            }
            Ok(OK)
        }
    }
}

async fn tools(hub: &Hub, out: Out, name: &str) -> Result<u8, HubError> {
    for tool in hub.tools(name).await? {
        let line = with_fields(json!({"event": "tool", "server": name}), &tool);
        out.emit(line, || {
            format!(
                "{}\n    {}\n    input: {}",
                tool.name,
                tool.description
                    .as_deref()
                    .unwrap_or("")
                    .replace('\n', "\n    "),
                serde_json::to_string(&tool.input_schema).unwrap_or_default()
            )
        });
    }
    Ok(OK)
}

/// The journal so far (what arrived while connecting), then each notice as it arrives.
async fn watch(hub: &Hub, out: Out, name: &str, seconds: Option<f64>) -> Result<u8, HubError> {
    let mut events = hub.subscribe();
    let print = |n: &Notice| {
        out.emit(tagged("notification", n), || {
            let level = n
                .level
                .as_deref()
                .map(|l| format!(" [{l}]"))
                .unwrap_or_default();
            let params = match n.params.get("data") {
                Some(Value::String(text)) => text.clone(),
                _ => n.params.to_string(),
            };
            format!("{}{level} {params}", n.method)
        })
    };
    let mut seen = 0;
    for n in hub.notifications(name)? {
        seen = n.seq;
        print(&n);
    }
    let until = seconds
        .map(|s| tokio::time::Instant::now() + std::time::Duration::from_secs_f64(s.max(0.0)));
    loop {
        let next = next_event(&mut events, out, Some("events"));
        let event = match until {
            Some(at) => tokio::time::timeout_at(at, next).await.ok().flatten(),
            None => next.await,
        };
        match event {
            None => return Ok(OK),
            Some(Event::Notice { server, notice }) if server == name && notice.seq > seen => {
                print(&notice)
            }
            Some(_) => {}
        }
    }
}

/// Every page from the first, or the one page `cursor` names (then `next_cursor` is printed).
async fn list(
    hub: &Hub,
    out: Out,
    name: &str,
    what: Listing,
    cursor: Option<String>,
) -> Result<u8, HubError> {
    let (event, one_page) = (
        match what {
            Listing::Resources => "resource",
            Listing::ResourceTemplates => "resource_template",
            Listing::Prompts => "prompt",
        },
        cursor.is_some(),
    );
    let mut cursor = cursor;
    loop {
        let page = hub.list(name, what, cursor.clone()).await?;
        for item in &page.items {
            out.emit(tagged(event, item), || describe(item));
        }
        match page.next_cursor {
            Some(next) if one_page => {
                out.emit(json!({"event": "next_cursor", "cursor": next}), || {
                    format!("more: --cursor {next}")
                });
                break;
            }
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(OK)
}

fn describe(item: &Value) -> String {
    let s = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or("");
    let head = [s("uri"), s("uriTemplate"), s("name")]
        .into_iter()
        .find(|v| !v.is_empty())
        .unwrap_or("?");
    let mut text = head.to_string();
    if !s("mimeType").is_empty() {
        text.push_str(&format!(" ({})", s("mimeType")));
    }
    if !s("description").is_empty() {
        text.push_str(&format!(
            "\n    {}",
            s("description").replace('\n', "\n    ")
        ));
    }
    if let Some(args) = item.get("arguments").and_then(Value::as_array) {
        for a in args {
            let req = if a.get("required").and_then(Value::as_bool) == Some(true) {
                " (required)"
            } else {
                ""
            };
            text.push_str(&format!(
                "\n    arg {}{req}",
                a.get("name").and_then(Value::as_str).unwrap_or("?")
            ));
        }
    }
    text
}

async fn read(
    hub: &Hub,
    out: Out,
    name: &str,
    uri: &str,
    file: Option<PathBuf>,
) -> Result<u8, HubError> {
    if let Some(file) = file {
        let bytes = hub.save_resource(name, uri, &file).await?;
        out.emit(
            json!({"event": "saved", "file": file, "bytes": bytes}),
            || format!("saved {bytes} bytes to {}", file.display()),
        );
        return Ok(OK);
    }
    let result = hub.read_resource(name, uri).await?;
    let contents = result
        .get("contents")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for c in &contents {
        out.emit(tagged("contents", c), || {
            match (
                c.get("text").and_then(Value::as_str),
                c.get("blob").and_then(Value::as_str),
            ) {
                (Some(text), _) => text.to_string(),
                (None, Some(blob)) => format!(
                    "({} bytes of {}; save it with --out FILE)",
                    blob.len() / 4 * 3,
                    c.get("mimeType")
                        .and_then(Value::as_str)
                        .unwrap_or("binary data")
                ),
                _ => String::new(),
            }
        });
    }
    Ok(OK)
}

fn render_prompt(result: &Value) -> String {
    let mut text = String::new();
    if let Some(d) = result.get("description").and_then(Value::as_str) {
        text.push_str(d);
        text.push('\n');
    }
    for m in result
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("?");
        let content = m.get("content").cloned().unwrap_or(Value::Null);
        let body = match content.get("text").and_then(Value::as_str) {
            Some(t) => t.to_string(),
            None => content.to_string(),
        };
        text.push_str(&format!("[{role}] {body}\n"));
    }
    text.trim_end().to_string()
}
