//! Running tools, and answering what a server asks the person while one runs.

use patchbay_engine::{
    Answer, AnswerAction, CallReport, CallRequest, Hub, PastCall, SamplingAnswer,
};
use tauri::ipc::Channel;
use tauri::{AppHandle, State};
use tauri_plugin_opener::OpenerExt;

use super::files::pick_save_path;
use super::{CommandError, Result};

/// The server's tools as MCP defines them (name, description, inputSchema, annotations).
#[tauri::command]
pub async fn list_tools(hub: State<'_, Hub>, name: String) -> Result<Vec<serde_json::Value>> {
    let tools = hub.tools(&name).await?;
    Ok(tools
        .into_iter()
        .filter_map(|t| serde_json::to_value(t).ok())
        .collect())
}

/// Runs a tool. `on_started` gets the call id at once, so the window can cancel the call and
/// tie progress events to it; the report comes back when the call ends.
#[tauri::command]
pub async fn call_tool(
    hub: State<'_, Hub>,
    server: String,
    tool: String,
    arguments: Option<serde_json::Map<String, serde_json::Value>>,
    task: bool,
    on_started: Channel<String>,
) -> Result<CallReport> {
    let started = hub.start_call(CallRequest {
        server,
        tool,
        arguments,
        timeout: None,
        task,
    })?;
    let _ = on_started.send(started.call_id.clone());
    // A huge result stays in the history, whole, for `save_call_result`.
    Ok(started.finish().await.for_window())
}

#[tauri::command]
pub fn cancel_call(hub: State<'_, Hub>, call_id: String) -> bool {
    hub.cancel_call(&call_id)
}

/// One past call with its result, shortened for the window like a live one (the whole is saved
/// with `save_call_result`); `None` when the history no longer has it.
#[tauri::command]
pub async fn past_call(hub: State<'_, Hub>, call_id: String) -> Result<Option<CallReport>> {
    Ok(hub
        .past_call(&call_id)
        .await?
        .map(|record| CallReport::from(record).for_window()))
}

#[tauri::command]
pub async fn history(hub: State<'_, Hub>, name: String, limit: usize) -> Result<Vec<PastCall>> {
    Ok(hub
        .history(&name, limit)
        .await?
        .into_iter()
        .map(PastCall::from)
        .collect())
}

/// Saves a past call's whole result where the person chooses; the path, or `None` when they
/// closed the dialog.
#[tauri::command]
pub async fn save_call_result(
    app: AppHandle,
    hub: State<'_, Hub>,
    call_id: String,
    file_name: String,
) -> Result<Option<String>> {
    let Some(path) = pick_save_path(&app, "Save the whole result", &file_name).await else {
        return Ok(None);
    };
    hub.save_call_result(&call_id, &path).await?;
    Ok(Some(path.display().to_string()))
}

/// The person's answer to a server's question: `accept` (with `content`), `decline` or
/// `cancel`. Accepting a URL-mode question opens its link (checked by the engine: https, or
/// http to this machine) in the system browser. `false` when the question is no longer open.
#[tauri::command]
pub fn answer_elicitation(
    app: AppHandle,
    hub: State<'_, Hub>,
    server: String,
    id: String,
    action: AnswerAction,
    content: Option<serde_json::Map<String, serde_json::Value>>,
) -> Result<bool> {
    let answer = Answer::new(action, content);
    let link = match answer {
        Answer::Accept(_) => hub.elicitation_link(&server, &id)?,
        _ => None,
    };
    let open = hub.answer_elicitation(&server, &id, answer)?;
    if open && let Some(link) = link {
        app.opener()
            .open_url(link, None::<&str>)
            .map_err(|e| CommandError {
                message: format!("could not open the browser: {e}"),
                field: None,
            })?;
    }
    Ok(open)
}

/// The person's reply to a server's sampling request (`text`, approved), or `None` to reject.
/// `false` when the request is no longer open.
#[tauri::command]
pub fn answer_sampling(
    hub: State<'_, Hub>,
    server: String,
    id: String,
    reply: Option<String>,
) -> Result<bool> {
    let answer = match reply {
        Some(text) => SamplingAnswer::Approve {
            text,
            model: "patchbay (written by a person)".into(),
        },
        None => SamplingAnswer::Reject,
    };
    Ok(hub.answer_sampling(&server, &id, answer)?)
}
