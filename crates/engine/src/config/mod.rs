//! Server definitions: what a person configured, independent of any live connection.
//! Import/export of other clients' config files lives in `import`/`export`.

mod export;
mod found;
mod import;
mod review;
mod secrets;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use export::{Export, export_claude};
pub use found::{ConfigApp, FoundConfig, found_configs, found_configs_in};
pub use import::{ImportPlan, import_file};
pub use review::{EnvEntry, INHERITED_ENV, LaunchPlan, changes_what_runs, looks_secret};
pub use secrets::{MASK, SecretValues};

/// Default per-request timeout when a definition does not set one.
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 60;

/// One server as the person defined it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ServerDef {
    pub name: String,
    pub transport: TransportDef,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Per-request timeout in seconds; a call's own `--timeout` overrides it.
    #[serde(default = "default_timeout")]
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub request_timeout_secs: u64,
    /// A client id registered by hand at the server's authorization server (a remote server
    /// only). Its secret, if it has one, is kept sealed apart from the definition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth_client_id: Option<String>,
    /// The https URL of a Client ID Metadata Document that describes Patchbay, for
    /// authorization servers that take a URL as the client id (`client_id_metadata_document_supported`).
    /// Used only when no client id was entered; without it Patchbay registers itself (DCR).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth_client_metadata_url: Option<String>,
    /// Folders the server may work in (MCP roots), sent when it asks (`roots/list`); a change
    /// is announced to a connected server with `notifications/roots/list_changed`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "ts", ts(optional, as = "Option<Vec<RootDef>>"))]
    pub roots: Vec<RootDef>,
    /// A local server the person did not type in themselves (imported from a file) whose
    /// command line they have not confirmed yet: it is never started until they have seen
    /// what it runs ([`ServerDef::launch_plan`]) and said yes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[cfg_attr(feature = "ts", ts(optional, as = "Option<bool>"))]
    pub needs_review: bool,
}

/// One MCP root: a `file://` URL of a folder, and the name a server may show for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct RootDef {
    pub uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl RootDef {
    /// A root for a folder on this machine: the path must be absolute and name an existing
    /// folder. The name defaults to the folder's own name.
    pub fn from_folder(path: &std::path::Path, name: Option<String>) -> Result<RootDef, String> {
        if !path.is_absolute() {
            return Err(format!(
                "{} is not an absolute path; give the full path of the folder",
                path.display()
            ));
        }
        if !path.is_dir() {
            return Err(format!(
                "{} is not a folder on this machine; check the path",
                path.display()
            ));
        }
        let uri = url::Url::from_directory_path(path)
            .map_err(|_| format!("{} cannot be written as a file:// URL", path.display()))?;
        let name = name
            .filter(|n| !n.trim().is_empty())
            .or_else(|| path.file_name().map(|n| n.to_string_lossy().into_owned()));
        Ok(RootDef {
            uri: uri.to_string(),
            name,
        })
    }

    /// The folder this root names, when its URL is a local `file://` path.
    pub fn folder(&self) -> Option<PathBuf> {
        url::Url::parse(&self.uri).ok()?.to_file_path().ok()
    }
}

fn yes() -> bool {
    true
}
fn default_timeout() -> u64 {
    DEFAULT_REQUEST_TIMEOUT_SECS
}

/// How to reach a server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum TransportDef {
    /// A local process speaking MCP on stdin/stdout.
    Stdio {
        command: String,
        #[serde(default)]
        args: Vec<String>,
        #[serde(default)]
        env: BTreeMap<String, String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cwd: Option<PathBuf>,
    },
    /// Streamable HTTP (MCP 2025-03-26 and later).
    Http {
        url: String,
        #[serde(default)]
        headers: BTreeMap<String, String>,
    },
    /// The legacy HTTP+SSE transport (MCP 2024-11-05).
    Sse {
        url: String,
        #[serde(default)]
        headers: BTreeMap<String, String>,
    },
    /// A stored definition this Patchbay cannot read (written by a newer version, or damaged).
    /// Listed with the reason so the person can remove it; never connected and never written
    /// back, so the stored original stays as it was.
    Unreadable { reason: String },
}

impl TransportDef {
    pub fn kind(&self) -> &'static str {
        match self {
            TransportDef::Stdio { .. } => "stdio",
            TransportDef::Http { .. } => "http",
            TransportDef::Sse { .. } => "sse",
            TransportDef::Unreadable { .. } => "unreadable",
        }
    }
}

impl ServerDef {
    pub fn new(name: impl Into<String>, transport: TransportDef) -> Self {
        ServerDef {
            name: name.into(),
            transport,
            enabled: true,
            request_timeout_secs: DEFAULT_REQUEST_TIMEOUT_SECS,
            oauth_client_id: None,
            oauth_client_metadata_url: None,
            roots: Vec::new(),
            needs_review: false,
        }
    }

    /// The URL of a remote server; `None` for a local process.
    pub fn remote_url(&self) -> Option<&str> {
        match &self.transport {
            TransportDef::Http { url, .. } | TransportDef::Sse { url, .. } => Some(url),
            TransportDef::Stdio { .. } | TransportDef::Unreadable { .. } => None,
        }
    }

    /// Checks what a person could have typed wrong; the message names the field.
    pub fn validate(&self) -> Result<(), InvalidServer> {
        let bad = |field: &'static str, message: String| InvalidServer {
            server: self.name.clone(),
            field,
            message,
        };
        validate_name(&self.name).map_err(|m| bad("name", m))?;
        if self.request_timeout_secs == 0 {
            return Err(bad(
                "request_timeout_secs",
                "must be at least 1 second".into(),
            ));
        }
        if let Some(id) = &self.oauth_client_id {
            if matches!(self.transport, TransportDef::Stdio { .. }) {
                return Err(bad(
                    "client_id",
                    "is only for remote servers; a local process does not log in".into(),
                ));
            }
            if id.trim().is_empty() || id.chars().any(|c| c.is_control()) {
                return Err(bad("client_id", "is empty or not printable".into()));
            }
        }
        if let Some(doc) = &self.oauth_client_metadata_url {
            if matches!(self.transport, TransportDef::Stdio { .. }) {
                return Err(bad(
                    "client_metadata_url",
                    "is only for remote servers; a local process does not log in".into(),
                ));
            }
            // The CIMD draft: an https URL with a path; the AS fetches it to learn who we are.
            let usable = url::Url::parse(doc)
                .is_ok_and(|u| u.scheme() == "https" && u.host().is_some() && u.path() != "/");
            if !usable {
                return Err(bad(
                    "client_metadata_url",
                    format!(
                        "{doc:?} must be an https:// URL with a path, such as https://example.com/patchbay.json"
                    ),
                ));
            }
        }
        validate_roots(&self.roots).map_err(|m| bad("roots", m))?;
        match &self.transport {
            TransportDef::Stdio { command, env, .. } => {
                if command.trim().is_empty() {
                    return Err(bad("command", "is empty; give the program to run".into()));
                }
                if let Some(k) = env.keys().find(|k| k.is_empty() || k.contains('=')) {
                    return Err(bad("env", format!("variable name {k:?} is not valid")));
                }
            }
            TransportDef::Http { url, headers } | TransportDef::Sse { url, headers } => {
                let parsed = url::Url::parse(url)
                    .map_err(|e| bad("url", format!("{url:?} is not a URL ({e})")))?;
                if !matches!(parsed.scheme(), "http" | "https") {
                    return Err(bad(
                        "url",
                        format!("{url:?} must start with http:// or https://"),
                    ));
                }
                for (k, v) in headers {
                    if http::HeaderName::from_bytes(k.as_bytes()).is_err() {
                        return Err(bad("headers", format!("{k:?} is not a valid header name")));
                    }
                    // A masked value stands for a stored one (see `secrets.rs`).
                    if v != MASK && http::HeaderValue::from_str(v).is_err() {
                        return Err(bad(
                            "headers",
                            format!("the value of {k:?} is not a valid header value"),
                        ));
                    }
                }
            }
            TransportDef::Unreadable { reason } => {
                return Err(bad(
                    "transport",
                    format!(
                        "cannot be read by this version of Patchbay ({reason}); update Patchbay, or remove the server"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Roots are `file://` URLs (the only kind MCP defines), each named once.
fn validate_roots(roots: &[RootDef]) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for root in roots {
        let usable = url::Url::parse(&root.uri).is_ok_and(|u| u.scheme() == "file");
        if !usable {
            return Err(format!(
                "{:?} is not a file:// URL; a root is a folder, such as file:///home/me/project",
                root.uri
            ));
        }
        if !seen.insert(root.uri.trim_end_matches('/')) {
            return Err(format!("{:?} is listed twice", root.uri));
        }
    }
    Ok(())
}

/// A server name is how a person refers to it on the command line and in the UI.
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("is empty; give the server a name".into());
    }
    if name.chars().count() > 64 {
        return Err("is longer than 64 characters".into());
    }
    if name.chars().any(|c| c.is_control()) {
        return Err("contains control characters".into());
    }
    Ok(())
}

/// A definition that cannot be used, naming the field that is wrong.
#[derive(Debug, Clone, thiserror::Error)]
#[error("server '{server}': {field} {message}")]
pub struct InvalidServer {
    pub server: String,
    pub field: &'static str,
    pub message: String,
}

/// A config file that could not be read or understood. Nothing is stored when this is returned.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {file}: {source}")]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Not JSON, or JSON of the wrong shape. `field` is a path like `mcpServers.github.args`.
    #[error("{file}:{line}:{column}: {}{message}", field.as_deref().map(|f| format!("field `{f}`: ")).unwrap_or_default())]
    Parse {
        file: PathBuf,
        line: usize,
        column: usize,
        field: Option<String>,
        message: String,
    },
    /// Valid JSON, but a server in it cannot be used.
    #[error("{file}:{line}: field `{field}`: {message}")]
    Invalid {
        file: PathBuf,
        line: usize,
        field: String,
        message: String,
    },
    #[error(
        "{file}: no servers found; expected an `mcpServers` object (Claude Desktop, Cursor) or a `servers` object (VS Code)"
    )]
    UnknownFormat { file: PathBuf },
}

impl ServerDef {
    /// Where the server lives, for messages: its URL or its command line.
    pub fn transport_target(&self) -> String {
        match &self.transport {
            TransportDef::Stdio { command, args, .. } => std::iter::once(command.as_str())
                .chain(args.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(" "),
            TransportDef::Http { url, .. } | TransportDef::Sse { url, .. } => url.clone(),
            TransportDef::Unreadable { .. } => "(unreadable definition)".into(),
        }
    }
}
