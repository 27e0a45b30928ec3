//! Native file dialogs, and importing and exporting server definitions.

use std::path::PathBuf;

use patchbay_engine::{
    Export, FoundConfig, Hub, ImportChoices, ImportPreview, SavedExport, ServerDef,
};
use tauri::{AppHandle, State};
use tauri_plugin_dialog::DialogExt;

use super::Result;

/// Asks where to save, with a native dialog; `None` when the person closed it.
pub(crate) async fn pick_save_path(
    app: &AppHandle,
    title: &str,
    file_name: &str,
) -> Option<PathBuf> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_title(title)
        .set_file_name(file_name)
        .save_file(move |path| {
            let _ = tx.send(path);
        });
    chosen(rx).await
}

/// A native file picker for a Claude Desktop, VS Code or Cursor config file.
#[tauri::command]
pub async fn pick_import_file(app: AppHandle) -> Option<String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_title("Import MCP servers")
        .add_filter("MCP configuration", &["json", "jsonc"])
        .pick_file(move |path| {
            let _ = tx.send(path);
        });
    chosen(rx).await.map(|p| p.display().to_string())
}

/// What a native dialog answered: a local path, or `None` when the person closed it.
pub(crate) async fn chosen(
    rx: tokio::sync::oneshot::Receiver<Option<tauri_plugin_dialog::FilePath>>,
) -> Option<PathBuf> {
    rx.await.ok().flatten().and_then(|p| p.into_path().ok())
}

/// The Claude Desktop, VS Code and Cursor config files on this machine, to offer for import.
#[tauri::command]
pub async fn found_configs(hub: State<'_, Hub>) -> Result<Vec<FoundConfig>> {
    Ok(hub.found_configs().await)
}

/// Reads a config file and keeps what it would add (values masked); nothing is stored.
#[tauri::command]
pub async fn preview_import(hub: State<'_, Hub>, path: String) -> Result<ImportPreview> {
    Ok(hub
        .preview_import(std::path::Path::new(&path), false)
        .await?)
}

/// A kept import with its env and header values shown (the person clicked "Show values").
#[tauri::command]
pub fn reveal_import(hub: State<'_, Hub>, id: String) -> Result<ImportPreview> {
    Ok(hub.reveal_import(&id, true)?)
}

/// Adds exactly the previewed import `id`, renamed and skipped as the person chose: disabled
/// and waiting for review, or (`start`: the person has read what each runs and said yes) as the
/// file has them, started. A taken name is refused at the name field, the preview kept.
#[tauri::command]
pub async fn import_servers(
    hub: State<'_, Hub>,
    id: String,
    start: bool,
    choices: ImportChoices,
) -> Result<Vec<ServerDef>> {
    let added = hub.apply_import_as(&id, start, &choices).await?;
    // A server the file marked disabled stays disabled.
    for def in added.iter().filter(|d| d.enabled) {
        let _ = hub.connect(&def.name);
    }
    Ok(added)
}

/// Every server in Claude Desktop's `mcpServers` shape, for the clipboard; env and header
/// values only when the person asked for them.
#[tauri::command]
pub async fn export_servers(hub: State<'_, Hub>, include_secrets: bool) -> Result<Export> {
    Ok(hub.export_claude(include_secrets).await?)
}

/// Every server in Claude Desktop's `mcpServers` shape, saved where the person chooses with a
/// native dialog (readable only by them); env and header values only when they asked for them.
/// `None` when they closed the dialog.
#[tauri::command]
pub async fn save_export(
    app: AppHandle,
    hub: State<'_, Hub>,
    include_secrets: bool,
) -> Result<Option<SavedExport>> {
    let Some(path) = pick_save_path(&app, "Export servers", "mcp-servers.json").await else {
        return Ok(None);
    };
    Ok(Some(hub.export_claude_to(&path, include_secrets).await?))
}
