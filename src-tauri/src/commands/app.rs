//! The window itself: the event subscription, the launch report, the first paint, the clipboard.

use patchbay_engine::{Doctor, EventBatch, Hub};
use tauri::AppHandle;
use tauri::State;
use tauri::ipc::Channel;
use tauri_plugin_clipboard_manager::ClipboardExt;

use super::{CommandError, Result};
use crate::bridge::Subscription;

#[tauri::command]
pub fn subscribe(
    hub: State<'_, Hub>,
    subscription: State<'_, Subscription>,
    on_event: Channel<EventBatch>,
) {
    subscription.replace(&hub, on_event);
}

/// Where the data and the key are. Never asks the keyring (it is called at launch).
#[tauri::command]
pub async fn doctor(hub: State<'_, Hub>) -> Result<Doctor> {
    Ok(hub.doctor(false).await)
}

/// Tries the key again because the person asked (they unlocked their keyring): this may show
/// the keyring's unlock prompt. The same report as `doctor`, with the vault's state now.
#[tauri::command]
pub async fn reopen_vault(hub: State<'_, Hub>) -> Result<Doctor> {
    Ok(hub.doctor(true).await)
}

/// Puts `text` on the system clipboard (the person clicked Copy). Through Rust rather than the
/// page's `navigator.clipboard`, which WebKitGTK refuses in many setups with a raw message.
#[tauri::command]
pub fn copy_text(app: AppHandle, text: String) -> Result<()> {
    app.clipboard().write_text(text).map_err(|e| CommandError {
        message: format!("could not copy to the clipboard: {e}"),
        field: None,
    })
}

/// When the process started (for the startup figure), and who waits for the first paint.
pub struct Started {
    at: std::time::Instant,
    painted: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
}

impl Started {
    pub fn new(at: std::time::Instant, painted: tokio::sync::oneshot::Sender<()>) -> Self {
        Started {
            at,
            painted: std::sync::Mutex::new(Some(painted)),
        }
    }
}

/// The window reports its first painted server list: logged (target `patchbay::startup`) with
/// the time since the process started, which BENCHMARKS.md's startup figure reads; and the
/// servers start connecting. A reload reports again; only the first report counts.
#[tauri::command]
pub fn ui_painted(started: State<'_, Started>, servers: usize) {
    if let Some(painted) = started.painted.lock().unwrap().take() {
        tracing::info!(
            target: "patchbay::startup",
            ms = started.at.elapsed().as_millis() as u64,
            servers,
            "first server list painted"
        );
        let _ = painted.send(());
    }
}
