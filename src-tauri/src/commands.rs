//! The window's commands: each one calls the engine's `Hub` and nothing more. Errors reach the
//! UI as `{ message, field }`, where `field` names the form field a validation error is about.

use std::path::PathBuf;
use std::time::Duration;

use patchbay_engine::{
    Answer, AnswerAction, AuthStatus, BrowserMode, CallReport, CallRequest, CompletionTarget,
    Doctor, EventBatch, Export, Hub, HubError, ImportPreview, LaunchPlan, Listing, LogLevel,
    LogoutReport, Notice, Page, PastCall, Preview, RootDef, SamplingAnswer, Secret, ServerDef,
    ServerDetails, ServerView, preview,
};
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{AppHandle, Manager, State};
use tauri_plugin_dialog::DialogExt;
use tauri_plugin_opener::OpenerExt;

use crate::bridge::Subscription;

/// Servers whose login URL a `login` command is waiting to open.
#[derive(Default)]
pub struct Openers(std::sync::Mutex<std::collections::HashSet<String>>);

/// How long a login waits for the browser.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Serialize)]
pub struct CommandError {
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'static str>,
}

impl From<HubError> for CommandError {
    fn from(e: HubError) -> Self {
        let field = match &e {
            HubError::Invalid(invalid) => Some(invalid.field),
            _ => None,
        };
        CommandError {
            message: e.to_string(),
            field,
        }
    }
}

type Result<T> = std::result::Result<T, CommandError>;

pub fn handler() -> impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        subscribe,
        list_servers,
        server_details,
        add_server,
        update_server,
        set_enabled,
        remove_server,
        connect,
        reconnect,
        disconnect,
        login,
        cancel_login,
        logout,
        auth_status,
        list_tools,
        call_tool,
        cancel_call,
        history,
        pick_import_file,
        preview_import,
        reveal_import,
        import_servers,
        export_servers,
        reveal_server,
        launch_plan,
        confirm_launch,
        doctor,
        ui_painted,
        answer_elicitation,
        answer_sampling,
        list_catalog,
        read_resource,
        get_prompt,
        complete,
        ping,
        set_log_level,
        pick_folder,
        add_root,
        remove_root,
        save_call_result,
        save_resource,
        complete_template,
        subscribe_resource,
        notifications,
    ]
}

/// Shows the main window and gives it focus (after a login, or a second launch).
pub fn bring_to_front(app: &AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

#[tauri::command]
fn subscribe(
    hub: State<'_, Hub>,
    subscription: State<'_, Subscription>,
    on_event: Channel<EventBatch>,
) {
    subscription.replace(&hub, on_event);
}

#[tauri::command]
async fn list_servers(hub: State<'_, Hub>) -> Result<Vec<ServerView>> {
    Ok(hub.servers().await?)
}

/// The notifications the server sent this session (all but progress), oldest first.
#[tauri::command]
fn notifications(hub: State<'_, Hub>, name: String) -> Result<Vec<Notice>> {
    Ok(hub.notifications(&name)?)
}

#[tauri::command]
fn server_details(hub: State<'_, Hub>, name: String) -> Result<ServerDetails> {
    Ok(hub.details(&name)?)
}

#[tauri::command]
async fn add_server(
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

#[tauri::command]
async fn update_server(hub: State<'_, Hub>, def: ServerDef) -> Result<()> {
    Ok(hub.update_server(def).await?)
}

#[tauri::command]
async fn set_enabled(hub: State<'_, Hub>, name: String, enabled: bool) -> Result<()> {
    Ok(hub.set_enabled(&name, enabled).await?)
}

#[tauri::command]
async fn remove_server(hub: State<'_, Hub>, name: String) -> Result<()> {
    Ok(hub.remove_server(&name).await?)
}

#[tauri::command]
fn connect(hub: State<'_, Hub>, name: String) -> Result<()> {
    Ok(hub.connect(&name)?)
}

#[tauri::command]
fn reconnect(hub: State<'_, Hub>, name: String) -> Result<()> {
    Ok(hub.reconnect(&name)?)
}

#[tauri::command]
async fn disconnect(hub: State<'_, Hub>, name: String) -> Result<()> {
    Ok(hub.disconnect(&name).await?)
}

/// Logs in through the system browser. The engine checks the authorization URL before it
/// announces it; only then does the opener plugin get it. `PATCHBAY_BROWSER=follow` (for
/// automated tests) lets the engine deliver the redirect itself instead.
#[tauri::command]
async fn login(
    app: AppHandle,
    hub: State<'_, Hub>,
    openers: State<'_, Openers>,
    name: String,
) -> Result<AuthStatus> {
    let follow = std::env::var("PATCHBAY_BROWSER").is_ok_and(|m| m == "follow");
    let mode = if follow {
        BrowserMode::Follow
    } else {
        BrowserMode::Print
    };
    // One browser tab per login: a second click joins the running login (the engine runs one
    // flow per server), and only the first caller opens its URL.
    let opens = !follow && openers.0.lock().unwrap().insert(name.clone());
    let mut opened = false;
    let outcome = hub
        .login_showing(&name, mode, LOGIN_TIMEOUT, |url| {
            if opens && !opened {
                opened = true;
                if let Err(e) = app.opener().open_url(url, None::<&str>) {
                    tracing::warn!("could not open the browser: {e}");
                }
            }
        })
        .await;
    if opens {
        openers.0.lock().unwrap().remove(&name);
    }
    let status = outcome?;
    bring_to_front(&app);
    Ok(status)
}

#[tauri::command]
fn cancel_login(hub: State<'_, Hub>, name: String) -> bool {
    hub.cancel_login(&name)
}

#[tauri::command]
async fn logout(hub: State<'_, Hub>, name: String) -> Result<LogoutReport> {
    Ok(hub.logout(&name).await?)
}

#[tauri::command]
async fn auth_status(hub: State<'_, Hub>, name: String) -> Result<AuthStatus> {
    Ok(hub.auth_status(&name).await?)
}

/// The server's tools as MCP defines them (name, description, inputSchema, annotations).
#[tauri::command]
async fn list_tools(hub: State<'_, Hub>, name: String) -> Result<Vec<serde_json::Value>> {
    let tools = hub.tools(&name).await?;
    Ok(tools
        .into_iter()
        .filter_map(|t| serde_json::to_value(t).ok())
        .collect())
}

/// Runs a tool. `on_started` gets the call id at once, so the window can cancel the call and
/// tie progress events to it; the report comes back when the call ends.
#[tauri::command]
async fn call_tool(
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
fn cancel_call(hub: State<'_, Hub>, call_id: String) -> bool {
    hub.cancel_call(&call_id)
}

#[tauri::command]
async fn history(hub: State<'_, Hub>, name: String, limit: usize) -> Result<Vec<PastCall>> {
    Ok(hub
        .history(&name, limit)
        .await?
        .into_iter()
        .map(PastCall::from)
        .collect())
}

/// Asks where to save, with a native dialog; `None` when the person closed it.
async fn pick_save_path(app: &AppHandle, title: &str, file_name: &str) -> Option<PathBuf> {
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

/// Saves a past call's whole result where the person chooses; the path, or `None` when they
/// closed the dialog.
#[tauri::command]
async fn save_call_result(
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

/// Reads a resource afresh and saves its contents (decoded) where the person chooses.
#[tauri::command]
async fn save_resource(
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

/// A native file picker for a Claude Desktop, VS Code or Cursor config file.
#[tauri::command]
async fn pick_import_file(app: AppHandle) -> Option<String> {
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
async fn chosen(
    rx: tokio::sync::oneshot::Receiver<Option<tauri_plugin_dialog::FilePath>>,
) -> Option<PathBuf> {
    rx.await.ok().flatten().and_then(|p| p.into_path().ok())
}

/// Reads a config file and keeps what it would add (values masked); nothing is stored.
#[tauri::command]
async fn preview_import(hub: State<'_, Hub>, path: String) -> Result<ImportPreview> {
    Ok(hub
        .preview_import(std::path::Path::new(&path), false)
        .await?)
}

/// A kept import with its env and header values shown (the person clicked "Show values").
#[tauri::command]
fn reveal_import(hub: State<'_, Hub>, id: String) -> Result<ImportPreview> {
    Ok(hub.reveal_import(&id, true)?)
}

/// Adds exactly the previewed import `id`: disabled and waiting for review, or (`start`: the
/// person has read what each runs and said yes) as the file has them, started.
#[tauri::command]
async fn import_servers(hub: State<'_, Hub>, id: String, start: bool) -> Result<Vec<ServerDef>> {
    let added = hub.apply_import(&id, start).await?;
    // A server the file marked disabled stays disabled.
    for def in added.iter().filter(|d| d.enabled) {
        let _ = hub.connect(&def.name);
    }
    Ok(added)
}

/// Every server in Claude Desktop's `mcpServers` shape, for the clipboard; env and header
/// values only when the person asked for them.
#[tauri::command]
async fn export_servers(hub: State<'_, Hub>, include_secrets: bool) -> Result<Export> {
    Ok(hub.export_claude(include_secrets).await?)
}

/// A server's definition with its env and header values (the person clicked "Show values").
#[tauri::command]
async fn reveal_server(hub: State<'_, Hub>, name: String) -> Result<ServerDef> {
    Ok(hub.reveal_server(&name).await?)
}

/// What a local server runs, for the person to read before it first starts.
#[tauri::command]
async fn launch_plan(hub: State<'_, Hub>, name: String, reveal: bool) -> Result<LaunchPlan> {
    Ok(hub.launch_plan(&name, reveal).await?)
}

/// The person has read what the server runs (the plan whose `digest` this is) and starts it.
#[tauri::command]
async fn confirm_launch(hub: State<'_, Hub>, name: String, digest: String) -> Result<()> {
    Ok(hub.confirm_launch(&name, &digest).await?)
}

/// Where the data and the key are. Never asks the keyring (it is called at launch).
#[tauri::command]
async fn doctor(hub: State<'_, Hub>) -> Result<Doctor> {
    Ok(hub.doctor(false).await)
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
fn ui_painted(started: State<'_, Started>, servers: usize) {
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

/// The person's answer to a server's question: `accept` (with `content`), `decline` or
/// `cancel`. Accepting a URL-mode question opens its link (checked by the engine: https, or
/// http to this machine) in the system browser. `false` when the question is no longer open.
#[tauri::command]
fn answer_elicitation(
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
fn answer_sampling(
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

/// One page of a server's `resources`, resource `templates` or `prompts`.
#[tauri::command]
async fn list_catalog(
    hub: State<'_, Hub>,
    name: String,
    what: Listing,
    cursor: Option<String>,
) -> Result<Page> {
    Ok(hub.list(&name, what, cursor).await?)
}

/// A resource's contents, shortened if huge (`save_resource` writes the whole).
#[tauri::command]
async fn read_resource(hub: State<'_, Hub>, name: String, uri: String) -> Result<Preview> {
    Ok(preview(hub.read_resource(&name, &uri).await?))
}

#[tauri::command]
async fn get_prompt(
    hub: State<'_, Hub>,
    name: String,
    prompt: String,
    arguments: serde_json::Map<String, serde_json::Value>,
) -> Result<serde_json::Value> {
    Ok(hub.get_prompt(&name, &prompt, arguments).await?)
}

/// Suggestions for a prompt's argument as typed so far.
#[tauri::command]
async fn complete(
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
async fn complete_template(
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
async fn subscribe_resource(
    hub: State<'_, Hub>,
    name: String,
    uri: String,
    on: bool,
) -> Result<()> {
    Ok(hub.subscribe_resource(&name, &uri, on).await?)
}

/// The round trip to the server, in milliseconds.
#[tauri::command]
async fn ping(hub: State<'_, Hub>, name: String) -> Result<f64> {
    Ok(hub.ping(&name).await?.as_secs_f64() * 1000.0)
}

#[tauri::command]
async fn set_log_level(hub: State<'_, Hub>, name: String, level: LogLevel) -> Result<()> {
    Ok(hub.set_log_level(&name, level).await?)
}

/// A native folder picker, for a root.
#[tauri::command]
async fn pick_folder(app: AppHandle) -> Option<String> {
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
async fn add_root(hub: State<'_, Hub>, name: String, folder: String) -> Result<Vec<RootDef>> {
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
async fn remove_root(hub: State<'_, Hub>, name: String, uri: String) -> Result<Vec<RootDef>> {
    Ok(hub
        .edit_roots(&name, |roots| {
            roots.retain(|r| r.uri != uri);
            Ok(())
        })
        .await?)
}
