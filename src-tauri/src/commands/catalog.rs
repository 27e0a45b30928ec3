//! What a server offers besides tools: resources, prompts, completions; its log level and ping.

use patchbay_engine::{CompletionTarget, Hub, Listing, LogLevel, Page, Preview, preview};
use tauri::{AppHandle, State};

use super::Result;
use super::files::pick_save_path;

/// Reads a resource afresh and saves its contents (decoded) where the person chooses.
#[tauri::command]
pub async fn save_resource(
    app: AppHandle,
    hub: State<'_, Hub>,
    name: String,
    uri: String,
    file_name: String,
) -> Result<Option<String>> {
    let Some(path) = pick_save_path(&app, "Save the resource", &file_name).await else {
        return Ok(None);
    };
    hub.save_resource(&name, &uri, &path).await?;
    Ok(Some(path.display().to_string()))
}

/// One page of a server's `resources`, resource `templates` or `prompts`.
#[tauri::command]
pub async fn list_catalog(
    hub: State<'_, Hub>,
    name: String,
    what: Listing,
    cursor: Option<String>,
) -> Result<Page> {
    Ok(hub.list(&name, what, cursor).await?)
}

/// A resource's contents, shortened if huge (`save_resource` writes the whole).
#[tauri::command]
pub async fn read_resource(hub: State<'_, Hub>, name: String, uri: String) -> Result<Preview> {
    Ok(preview(hub.read_resource(&name, &uri).await?))
}

#[tauri::command]
pub async fn get_prompt(
    hub: State<'_, Hub>,
    name: String,
    prompt: String,
    arguments: serde_json::Map<String, serde_json::Value>,
) -> Result<serde_json::Value> {
    Ok(hub.get_prompt(&name, &prompt, arguments).await?)
}

/// Suggestions for a prompt's argument as typed so far.
#[tauri::command]
pub async fn complete(
    hub: State<'_, Hub>,
    name: String,
    prompt: String,
    argument: String,
    typed: String,
) -> Result<Vec<String>> {
    Ok(hub
        .complete(&name, CompletionTarget::Prompt(prompt), &argument, &typed)
        .await?)
}

/// Suggestions for a resource template's variable as typed so far.
#[tauri::command]
pub async fn complete_template(
    hub: State<'_, Hub>,
    name: String,
    uri_template: String,
    argument: String,
    typed: String,
) -> Result<Vec<String>> {
    Ok(hub
        .complete(
            &name,
            CompletionTarget::ResourceTemplate(uri_template),
            &argument,
            &typed,
        )
        .await?)
}

/// Subscribes to a resource's updates (`on`) or stops; updates arrive as `resource_updated`.
#[tauri::command]
pub async fn subscribe_resource(
    hub: State<'_, Hub>,
    name: String,
    uri: String,
    on: bool,
) -> Result<()> {
    Ok(hub.subscribe_resource(&name, &uri, on).await?)
}

/// Lists the server's tools, prompts and resources again, past what their `ttlMs` let us keep.
#[tauri::command]
pub async fn refresh_lists(hub: State<'_, Hub>, name: String) -> Result<()> {
    Ok(hub.refresh_lists(&name).await?)
}

/// The round trip to the server, in milliseconds.
#[tauri::command]
pub async fn ping(hub: State<'_, Hub>, name: String) -> Result<f64> {
    Ok(hub.ping(&name).await?.as_secs_f64() * 1000.0)
}

#[tauri::command]
pub async fn set_log_level(hub: State<'_, Hub>, name: String, level: LogLevel) -> Result<()> {
    Ok(hub.set_log_level(&name, level).await?)
}
