//! What a server offers besides tools: resources (and their templates), prompts and argument
//! completions. (Its log level and a ping are `server_controls.rs`.) Requests go through rmcp's typed methods; what comes
//! back is MCP's own JSON (`Resource`, `ReadResourceResult`, `GetPromptResult`...), which the
//! CLI prints and the UI renders as the specification defines it. Parameters are built from
//! JSON too, because rmcp's parameter types are non-exhaustive.

use rmcp::model::{
    CompleteRequestParams, GetPromptRequestParams, GetPromptResponse, InputResponses,
    PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse,
    SubscribeRequestParams, UnsubscribeRequestParams,
};
use rmcp::service::{Peer, RoleClient, ServiceError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::session::Round;

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

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{0}")]
    Service(#[from] ServiceError),
    #[error("{0}")]
    Invalid(String),
}

/// Why a request a 2025-era server offers does not apply to this one.
pub(crate) fn not_in_this_era(what: &str) -> CatalogError {
    CatalogError::Invalid(format!(
        "{what} does not apply: the server speaks MCP 2026-07-28, which removed it"
    ))
}

/// A request's parameters, built from JSON (rmcp's parameter types are non-exhaustive).
pub(crate) fn params<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, CatalogError> {
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

/// `resources/read`: the contents, text or base64 blob, as the server sent them; or, from a
/// 2026-07-28 server, what it needs first (`responses` and `state` answer an earlier round).
pub(crate) async fn read(
    peer: &Peer<RoleClient>,
    uri: &str,
    responses: Option<InputResponses>,
    state: Option<String>,
) -> Result<Round<Value>, CatalogError> {
    let mut p: ReadResourceRequestParams = params(json!({ "uri": uri }))?;
    p.input_responses = responses;
    p.request_state = state;
    Ok(match peer.read_resource_once(p).await? {
        ReadResourceResponse::Complete(r) => Round::Done(to_json(r)),
        ReadResourceResponse::InputRequired(asked) => Round::Input(asked),
        _ => return Err(ServiceError::UnexpectedResponse.into()),
    })
}

/// `prompts/get` with the person's argument values; rounds as for `read`.
pub(crate) async fn get_prompt(
    peer: &Peer<RoleClient>,
    name: &str,
    arguments: serde_json::Map<String, Value>,
    responses: Option<InputResponses>,
    state: Option<String>,
) -> Result<Round<Value>, CatalogError> {
    let mut p: GetPromptRequestParams = params(json!({ "name": name, "arguments": arguments }))?;
    p.input_responses = responses;
    p.request_state = state;
    Ok(match peer.get_prompt_once(p).await? {
        GetPromptResponse::Complete(r) => Round::Done(to_json(r)),
        GetPromptResponse::InputRequired(asked) => Round::Input(asked),
        _ => return Err(ServiceError::UnexpectedResponse.into()),
    })
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

/// `resources/subscribe` / `unsubscribe`; updates arrive as `resource_updated` events.
#[allow(deprecated)]
pub async fn subscribe(peer: &Peer<RoleClient>, uri: &str, on: bool) -> Result<(), CatalogError> {
    if crate::session::stateless(peer) {
        return Err(not_in_this_era("resources/subscribe"));
    }
    if on {
        let p: SubscribeRequestParams = params(json!({ "uri": uri }))?;
        peer.subscribe(p).await?;
    } else {
        let p: UnsubscribeRequestParams = params(json!({ "uri": uri }))?;
        peer.unsubscribe(p).await?;
    }
    Ok(())
}
