//! The servers: their definitions, their connections, their roots.

use patchbay_engine::{
    Hub, LaunchPlan, Notice, RootDef, Secret, ServerDef, ServerDetails, ServerView,
};
use tauri::{AppHandle, State};
use tauri_plugin_dialog::DialogExt;

use super::Result;
use super::files::chosen;

#[tauri::command]
pub async fn list_servers(hub: State<'_, Hub>) -> Result<Vec<ServerView>> {
    Ok(hub.servers().await?)
}

/// The notifications the server sent this session (all but progress), oldest first.
#[tauri::command]
pub fn notifications(hub: State<'_, Hub>, name: String) -> Result<Vec<Notice>> {
    Ok(hub.notifications(&name)?)
}

#[tauri::command]
pub fn server_details(hub: State<'_, Hub>, name: String) -> Result<ServerDetails> {
    Ok(hub.details(&name)?)
}

#[tauri::command]
pub async fn add_server(
    hub: State<'_, Hub>,
    def: ServerDef,
    client_secret: Option<String>,
) -> Result<()> {
    let (name, enabled) = (def.name.clone(), def.enabled);
    match client_secret.filter(|s| !s.is_empty()) {
        Some(secret) => {
            hub.add_server_with_client_secret(def, Secret::new(secret))
                .await?
        }
        None => hub.add_server(def).await?,
    }
    if enabled {
        hub.connect(&name)?;
    }
    Ok(())
}

/// Replaces the definition of the server now called `name`; a `def` with another name renames
/// it (its history and saved login move with it). A taken name is refused at the name field.
#[tauri::command]
pub async fn update_server(hub: State<'_, Hub>, name: String, def: ServerDef) -> Result<()> {
    Ok(hub.edit_server(&name, def).await?)
}

#[tauri::command]
pub async fn set_enabled(hub: State<'_, Hub>, name: String, enabled: bool) -> Result<()> {
    Ok(hub.set_enabled(&name, enabled).await?)
}

#[tauri::command]
pub async fn remove_server(hub: State<'_, Hub>, name: String) -> Result<()> {
    Ok(hub.remove_server(&name).await?)
}

#[tauri::command]
pub fn connect(hub: State<'_, Hub>, name: String) -> Result<()> {
    Ok(hub.connect(&name)?)
}

#[tauri::command]
pub fn reconnect(hub: State<'_, Hub>, name: String) -> Result<()> {
    Ok(hub.reconnect(&name)?)
}

#[tauri::command]
pub async fn disconnect(hub: State<'_, Hub>, name: String) -> Result<()> {
    Ok(hub.disconnect(&name).await?)
}

/// A server's definition with its env and header values (the person clicked "Show values").
#[tauri::command]
pub async fn reveal_server(hub: State<'_, Hub>, name: String) -> Result<ServerDef> {
    Ok(hub.reveal_server(&name).await?)
}

/// What a local server runs, for the person to read before it first starts.
#[tauri::command]
pub async fn launch_plan(hub: State<'_, Hub>, name: String, reveal: bool) -> Result<LaunchPlan> {
    Ok(hub.launch_plan(&name, reveal).await?)
}

/// The person has read what the server runs (the plan whose `digest` this is) and starts it.
#[tauri::command]
pub async fn confirm_launch(hub: State<'_, Hub>, name: String, digest: String) -> Result<()> {
    Ok(hub.confirm_launch(&name, &digest).await?)
}

/// A native folder picker, for a root.
#[tauri::command]
pub async fn pick_folder(app: AppHandle) -> Option<String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_title("A folder the server may work in")
        .pick_folder(move |path| {
            let _ = tx.send(path);
        });
    chosen(rx).await.map(|p| p.display().to_string())
}

/// Adds a folder to the server's roots; the new list comes back.
#[tauri::command]
pub async fn add_root(hub: State<'_, Hub>, name: String, folder: String) -> Result<Vec<RootDef>> {
    let folder = std::path::PathBuf::from(folder.trim());
    Ok(hub
        .edit_roots(&name, |roots| {
            roots.push(RootDef::from_folder(&folder, None)?);
            Ok(())
        })
        .await?)
}

/// Removes a root (by its URL); the new list comes back.
#[tauri::command]
pub async fn remove_root(hub: State<'_, Hub>, name: String, uri: String) -> Result<Vec<RootDef>> {
    Ok(hub
        .edit_roots(&name, |roots| {
            roots.retain(|r| r.uri != uri);
            Ok(())
        })
        .await?)
}
