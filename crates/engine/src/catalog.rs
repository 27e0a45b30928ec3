//! What a server offers besides tools: resources (and their templates), prompts, argument
//! completions, its log level, and a ping. Requests go through rmcp's typed methods; what comes
//! back is MCP's own JSON (`Resource`, `ReadResourceResult`, `GetPromptResult`...), which the
//! CLI prints and the UI renders as the specification defines it. Parameters are built from
//! JSON too, because rmcp's parameter types are non-exhaustive.

use std::time::{Duration, Instant};

use rmcp::model::{
    ClientRequest, CompleteRequestParams, GetPromptRequestParams, PaginatedRequestParams,
    PingRequest, ReadResourceRequestParams, ServerResult, SubscribeRequestParams,
    UnsubscribeRequestParams,
};
use rmcp::service::{Peer, RoleClient, ServiceError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One page of a list; `next_cursor` asks for the next one.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Page {
    pub items: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Which list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Listing {
    Resources,
    #[serde(rename = "templates")]
    #[cfg_attr(feature = "clap", value(name = "templates"))]
    ResourceTemplates,
    Prompts,
}

/// The levels of `logging/setLevel`, as MCP names them (RFC 5424's, least severe first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum LogLevel {
    Debug,
    Info,
    Notice,
    Warning,
    Error,
    Critical,
    Alert,
    Emergency,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Notice => "notice",
            LogLevel::Warning => "warning",
            LogLevel::Error => "error",
            LogLevel::Critical => "critical",
            LogLevel::Alert => "alert",
            LogLevel::Emergency => "emergency",
        }
    }
}

impl std::fmt::Display for LogLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for LogLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        serde_json::from_value(Value::String(s.into())).map_err(|_| {
            format!("{s:?} is not a log level; use one of debug, info, notice, warning, error, critical, alert, emergency")
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{0}")]
    Service(#[from] ServiceError),
    #[error("{0}")]
    Invalid(String),
}

fn params<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, CatalogError> {
    serde_json::from_value(value).map_err(|e| CatalogError::Invalid(e.to_string()))
}

fn to_json(value: impl Serialize) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

pub async fn list(
    peer: &Peer<RoleClient>,
    what: Listing,
    cursor: Option<String>,
) -> Result<Page, CatalogError> {
    let page: Option<PaginatedRequestParams> = Some(params(json!({ "cursor": cursor }))?);
    Ok(match what {
        Listing::Resources => {
            let r = peer.list_resources(page).await?;
            Page {
                items: r.resources.iter().map(to_json).collect(),
                next_cursor: r.next_cursor,
            }
        }
        Listing::ResourceTemplates => {
            let r = peer.list_resource_templates(page).await?;
            Page {
                items: r.resource_templates.iter().map(to_json).collect(),
                next_cursor: r.next_cursor,
            }
        }
        Listing::Prompts => {
            let r = peer.list_prompts(page).await?;
            Page {
                items: r.prompts.iter().map(to_json).collect(),
                next_cursor: r.next_cursor,
            }
        }
    })
}

/// `resources/read`: the contents, text or base64 blob, as the server sent them.
pub async fn read(peer: &Peer<RoleClient>, uri: &str) -> Result<Value, CatalogError> {
    let p: ReadResourceRequestParams = params(json!({ "uri": uri }))?;
    Ok(to_json(peer.read_resource(p).await?))
}

/// `prompts/get` with the person's argument values.
pub async fn get_prompt(
    peer: &Peer<RoleClient>,
    name: &str,
    arguments: serde_json::Map<String, Value>,
) -> Result<Value, CatalogError> {
    let p: GetPromptRequestParams = params(json!({ "name": name, "arguments": arguments }))?;
    Ok(to_json(peer.get_prompt(p).await?))
}

/// What a completion may complete: a prompt's argument or a resource template's variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompletionTarget {
    Prompt(String),
    ResourceTemplate(String),
}

/// `completion/complete`: the server's suggestions for `argument` as typed so far.
pub async fn complete(
    peer: &Peer<RoleClient>,
    target: &CompletionTarget,
    argument: &str,
    typed: &str,
) -> Result<Vec<String>, CatalogError> {
    let reference = match target {
        CompletionTarget::Prompt(name) => json!({ "type": "ref/prompt", "name": name }),
        CompletionTarget::ResourceTemplate(uri) => json!({ "type": "ref/resource", "uri": uri }),
    };
    let p: CompleteRequestParams = params(json!({
        "ref": reference,
        "argument": { "name": argument, "value": typed },
    }))?;
    Ok(peer.complete(p).await?.completion.values)
}

/// `logging/setLevel`. (Deprecated in rmcp for the 2026 protocol; servers of today use it.)
#[allow(deprecated)]
pub async fn set_level(peer: &Peer<RoleClient>, level: LogLevel) -> Result<(), CatalogError> {
    let p: rmcp::model::SetLevelRequestParams = params(json!({ "level": level }))?;
    peer.set_level(p).await?;
    Ok(())
}

/// `resources/subscribe` / `unsubscribe`; updates arrive as `resource_updated` events.
#[allow(deprecated)]
pub async fn subscribe(peer: &Peer<RoleClient>, uri: &str, on: bool) -> Result<(), CatalogError> {
    if on {
        let p: SubscribeRequestParams = params(json!({ "uri": uri }))?;
        peer.subscribe(p).await?;
    } else {
        let p: UnsubscribeRequestParams = params(json!({ "uri": uri }))?;
        peer.unsubscribe(p).await?;
    }
    Ok(())
}

/// `ping`, timed from sending to the answer.
pub async fn ping(peer: &Peer<RoleClient>) -> Result<Duration, CatalogError> {
    let started = Instant::now();
    match peer
        .send_request(ClientRequest::PingRequest(PingRequest::default()))
        .await?
    {
        ServerResult::EmptyResult(_) => Ok(started.elapsed()),
        _ => Err(CatalogError::Service(ServiceError::UnexpectedResponse)),
    }
}
