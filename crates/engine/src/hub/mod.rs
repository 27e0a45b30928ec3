//! `Hub`: the one door into the engine. The desktop shell, the CLI and the tests hold one.

mod servers;

pub use servers::{ImportPreview, ImportedServer};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use rmcp::model::Tool;
use serde::Serialize;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::auth::browser::BrowserMode;
use crate::auth::{
    self, AuthContext, AuthStatus, LoginError, LoginObserver, LoginRequest, LogoutReport,
    RefreshCoordinator,
};
use crate::calls::{CallContext, CallReport, CallRequest, RunningCalls, new_call_id, run_call};
use crate::catalog::{self, CatalogError, CompletionTarget, Listing, Page};
use crate::config::{self, ConfigError, ServerDef};
use crate::definitions::{self, SecretsError};
use crate::events::{Event, EventBus, ServerState};
use crate::server_controls::{self, LogLevel};
use crate::session::{Session, SessionTimings, Unavailable};
use crate::store::{CallRecord, LoginState, Store, StoreError};
use crate::vault::KeyBackend;

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("no server named '{0}'; see `servers list`")]
    UnknownServer(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Invalid(#[from] config::InvalidServer),
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
    /// A request to a connected server failed; `message` names the operation.
    #[error("server '{server}': {message}")]
    Request { server: String, message: String },
    #[error("no data directory: set PATCHBAY_DATA_DIR or pass --data-dir")]
    NoDataDir,
    #[error(transparent)]
    Credentials(#[from] auth::CredentialsError),
    #[error(transparent)]
    Login(#[from] LoginError),
    #[error("server '{0}' runs as a local process; only remote servers log in")]
    NotRemote(String),
    #[error("cannot save to {}: {message}", path.display())]
    Save { path: PathBuf, message: String },
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error(
        "server '{0}' was imported and has not started yet: see what it runs (`servers enable {0}`, or Enable in the app) and confirm it first"
    )]
    NeedsReview(String),
    #[error("server '{0}' is a remote server; it runs nothing on this machine")]
    NotLocal(String),
    #[error(
        "that import preview is gone (it is kept for an hour, and used once); preview the file again"
    )]
    NoImport(String),
    #[error(
        "what server '{0}' runs has changed since you looked; look at it again before starting it"
    )]
    PlanChanged(String),
}

/// Writes a file whole or not at all (see `files::write_whole`); the bytes written.
async fn write_whole(path: &Path, bytes: Vec<u8>) -> Result<u64, HubError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        crate::files::write_whole(&path, &bytes)
            .map(|()| bytes.len() as u64)
            .map_err(|e| HubError::Save {
                path: path.clone(),
                message: e.to_string(),
            })
    })
    .await
    .expect("save task")
}

/// How to open a hub.
#[derive(Debug, Clone)]
pub struct HubOptions {
    pub data_dir: PathBuf,
    pub timings: SessionTimings,
    /// Bound on one token refresh; shorter than `timings.connect_timeout`.
    pub refresh_timeout: Duration,
    /// Keep the vault key in the OS keyring (else in a key file). Default: yes, unless
    /// `PATCHBAY_KEYRING=off`.
    pub os_keyring: bool,
}

impl HubOptions {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        HubOptions {
            data_dir: data_dir.into(),
            timings: SessionTimings::default(),
            refresh_timeout: auth::DEFAULT_REFRESH_TIMEOUT,
            os_keyring: std::env::var("PATCHBAY_KEYRING").as_deref() != Ok("off"),
        }
    }

    /// The platform data dir (`~/.local/share/patchbay` on Linux), or `PATCHBAY_DATA_DIR`.
    pub fn default_data_dir() -> Result<PathBuf, HubError> {
        if let Some(dir) = std::env::var_os("PATCHBAY_DATA_DIR").filter(|d| !d.is_empty()) {
            return Ok(PathBuf::from(dir));
        }
        directories::ProjectDirs::from("dev", "patchbay", "patchbay")
            .map(|d| d.data_dir().to_path_buf())
            .ok_or(HubError::NoDataDir)
    }
}

type LoginFlight = Shared<BoxFuture<'static, Result<AuthStatus, LoginError>>>;

/// Publishes a login's progress on the bus.
struct BusObserver {
    bus: EventBus,
    server: String,
}

impl LoginObserver for BusObserver {
    fn waiting_for_browser(&self, url: &str) {
        self.bus.publish(Event::LoginUrl {
            server: self.server.clone(),
            url: url.into(),
        });
    }
}

/// What `doctor` reports.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Doctor {
    pub data_dir: PathBuf,
    pub database: PathBuf,
    #[serde(flatten)]
    pub key_backend: KeyBackend,
    /// Every configured server: how it is reached and, for remote ones, its saved login.
    pub peers: Vec<DoctorPeer>,
}

/// One configured server as `doctor` sees it. Never holds a token.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct DoctorPeer {
    pub name: String,
    pub transport: &'static str,
    /// The command line or URL.
    pub target: String,
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthStatus>,
}

/// Everything the server details panel shows about one server.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ServerDetails {
    pub name: String,
    pub state: ServerState,
    /// What `initialize` negotiated (protocol version, capabilities, server info,
    /// instructions), while connected; MCP's own camelCase shape.
    pub initialize: Option<serde_json::Value>,
    /// The process id of a local server while it runs.
    pub pid: Option<u32>,
    /// The server's own output (stderr), oldest first.
    pub log: Vec<String>,
}

/// What `reset_vault` forgot.
#[derive(Debug, Clone, Serialize)]
pub struct VaultReset {
    /// Saved logins removed.
    pub logins: usize,
    /// Servers whose env and header values must be typed in again.
    pub servers: usize,
}

/// A server with its live state, for lists. Its env and header values are masked.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ServerView {
    #[serde(flatten)]
    pub def: ServerDef,
    pub state: ServerState,
    /// Its saved login, for a remote server, as every process sees it.
    pub login: Login,
}

/// A remote server's saved login, as the store tells it (no keyring needed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum Login {
    /// A local server, or a remote one with no saved login.
    None,
    Saved,
    /// The authorization server refused it: a login is needed. `reason` says so in words.
    NeedsLogin {
        reason: String,
    },
}

/// A refresh must give up before the connection attempt waiting on it does, or the attempt
/// fails with a vague timeout instead of the refresh's own answer.
fn refresh_bound(refresh: Duration, connect: Duration) -> Duration {
    if refresh < connect {
        refresh
    } else {
        let bound = connect * 2 / 3;
        tracing::warn!(
            ?refresh,
            ?connect,
            ?bound,
            "the refresh timeout must be shorter than the connect timeout; using {bound:?}"
        );
        bound
    }
}

/// Redirects are followed only within the origin a request started at: a server must not be
/// able to bounce a message (and its custom headers, such as an API key) to another host.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let same = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if same && attempt.previous().len() < 10 {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    data_dir: PathBuf,
    store: Store,
    auth: AuthContext,
    /// One login flow per server however many callers ask: the pending flow and its cancel.
    logins: Mutex<HashMap<String, (CancellationToken, LoginFlight)>>,
    bus: EventBus,
    timings: SessionTimings,
    http: reqwest::Client,
    running: RunningCalls,
    /// Live sessions by server name. Held briefly; never across an await.
    sessions: Mutex<HashMap<String, Arc<Session>>>,
    defs: Mutex<HashMap<String, ServerDef>>,
    /// Serialises changes to the set of servers and their definitions (add, update, enable,
    /// roots, review, remove): each writes the store, then the memory copy and the session, so
    /// two at once would otherwise each undo half of the other (or leave a session with no
    /// stored server).
    edits: tokio::sync::Mutex<()>,
    /// Imports previewed and waiting for the person's word.
    imports: servers::PendingImports,
}

/// A call that has been started; `finish` waits for its end.
pub struct StartedCall {
    pub call_id: String,
    join: tokio::task::JoinHandle<CallReport>,
}

impl StartedCall {
    pub async fn finish(self) -> CallReport {
        self.join.await.expect("call task panicked")
    }
}

impl Hub {
    pub async fn open(options: HubOptions) -> Result<Hub, HubError> {
        let db = options.data_dir.join("patchbay.db");
        let store = tokio::task::spawn_blocking(move || Store::open(&db))
            .await
            .expect("open task")?;
        let (defs, plain) = store.list_servers_and_plain().await?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .redirect(same_origin_redirects())
            .build()
            .expect("HTTP client with default settings");
        let hub = Hub {
            inner: Arc::new(Inner {
                data_dir: options.data_dir.clone(),
                auth: AuthContext::new(
                    store.clone(),
                    options.data_dir.clone(),
                    options.os_keyring,
                    http.clone(),
                    refresh_bound(options.refresh_timeout, options.timings.connect_timeout),
                ),
                store,
                logins: Mutex::new(HashMap::new()),
                bus: EventBus::new(),
                timings: options.timings,
                http,
                running: RunningCalls::default(),
                sessions: Mutex::new(HashMap::new()),
                defs: Mutex::new(HashMap::new()),
                edits: tokio::sync::Mutex::new(()),
                imports: Default::default(),
            }),
        };
        for def in defs {
            hub.install(def);
        }
        // Env and header values an older version kept in the clear are sealed once the vault
        // can be had; in the background, so a keyring prompt never holds up the window.
        // Under the edit lock (taken once the vault is open, so a prompt holds up no edit), so
        // an edit cannot be undone by the sealed copy of the row it changed.
        if !plain.is_empty() {
            let hub = hub.clone();
            tokio::spawn(async move {
                let auth = &hub.inner.auth;
                auth.vault().get().await;
                let _edit = hub.inner.edits.lock().await;
                definitions::seal_plain_rows(auth.store(), auth.vault(), &plain).await;
            });
        }
        Ok(hub)
    }

    fn install(&self, def: ServerDef) {
        let session = Session::spawn(
            def.clone(),
            self.inner.bus.clone(),
            self.inner.timings,
            self.inner.auth.clone(),
        );
        self.inner
            .defs
            .lock()
            .unwrap()
            .insert(def.name.clone(), def.clone());
        self.inner
            .sessions
            .lock()
            .unwrap()
            .insert(def.name, session);
    }

    fn session(&self, name: &str) -> Result<Arc<Session>, HubError> {
        self.inner
            .sessions
            .lock()
            .unwrap()
            .get(name)
            .cloned()
            .ok_or_else(|| HubError::UnknownServer(name.to_string()))
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.bus.subscribe()
    }

    /// Every server in the order they were added, with its state and login (values masked).
    pub async fn servers(&self) -> Result<Vec<ServerView>, HubError> {
        let defs = self.inner.store.list_servers().await?;
        let logins = self.inner.store.login_states().await?;
        Ok(defs
            .into_iter()
            .map(|def| {
                let state = self.state(&def.name).unwrap_or(ServerState::Disconnected);
                let login = match logins.get(&def.name) {
                    _ if def.remote_url().is_none() => Login::None,
                    None => Login::None,
                    Some(LoginState::Saved) => Login::Saved,
                    Some(LoginState::Refused(why)) => Login::NeedsLogin {
                        reason: auth::refused_reason(why),
                    },
                };
                ServerView { def, state, login }
            })
            .collect())
    }

    pub fn server(&self, name: &str) -> Result<ServerDef, HubError> {
        self.inner
            .defs
            .lock()
            .unwrap()
            .get(name)
            .cloned()
            .ok_or_else(|| HubError::UnknownServer(name.into()))
    }

    pub fn state(&self, name: &str) -> Option<ServerState> {
        self.session(name).ok().map(|s| s.snapshot().state)
    }

    pub fn snapshot(&self, name: &str) -> Result<crate::session::Snapshot, HubError> {
        Ok(self.session(name)?.snapshot())
    }

    /// The server's own output (stderr, non-MCP stdout), oldest first.
    pub fn server_log(&self, name: &str) -> Result<Vec<String>, HubError> {
        Ok(self.session(name)?.log().lines())
    }

    /// The notifications the server sent this session (all but progress), oldest first.
    pub fn notifications(&self, name: &str) -> Result<Vec<crate::notices::Notice>, HubError> {
        Ok(self.session(name)?.inbox().notices.all())
    }

    /// State, negotiated capabilities and the server's own log, for the details panel.
    pub fn details(&self, name: &str) -> Result<ServerDetails, HubError> {
        let session = self.session(name)?;
        let snapshot = session.snapshot();
        Ok(ServerDetails {
            name: name.into(),
            initialize: snapshot
                .info
                .as_deref()
                .and_then(|info| serde_json::to_value(info).ok()),
            pid: snapshot.pid,
            state: snapshot.state,
            log: session.log().lines(),
        })
    }

    /// Starts connecting in the background; the story arrives as events.
    pub fn connect(&self, name: &str) -> Result<(), HubError> {
        self.session(name)?.connect();
        Ok(())
    }

    /// Connects and returns the outcome of that attempt (connected, error, needs_auth).
    pub async fn connect_and_wait(&self, name: &str) -> Result<ServerState, HubError> {
        Ok(self.session(name)?.connect_and_wait().await)
    }

    /// Starts every enabled server connecting, in the background.
    pub fn connect_all(&self) {
        let sessions: Vec<_> = self
            .inner
            .sessions
            .lock()
            .unwrap()
            .values()
            .cloned()
            .collect();
        let defs = self.inner.defs.lock().unwrap().clone();
        for s in sessions {
            if defs.get(s.name()).is_some_and(|d| d.enabled) {
                s.connect();
            }
        }
    }

    /// A burst of these starts one attempt.
    pub fn reconnect(&self, name: &str) -> Result<(), HubError> {
        self.session(name)?.reconnect();
        Ok(())
    }

    pub async fn disconnect(&self, name: &str) -> Result<(), HubError> {
        self.session(name)?.disconnect().await;
        Ok(())
    }

    /// The server's tools. rmcp caches the list and drops the cache on `tools/list_changed`.
    pub async fn tools(&self, name: &str) -> Result<Vec<Tool>, HubError> {
        let session = self.session(name)?;
        let wait = Duration::from_secs(self.server(name)?.request_timeout_secs);
        let peer = session.ready_peer(wait).await?;
        match tokio::time::timeout(wait, peer.list_all_tools()).await {
            Ok(Ok(tools)) => Ok(tools),
            Ok(Err(e)) => {
                session.request_failed(&e);
                Err(HubError::Request {
                    server: name.into(),
                    message: format!("listing its tools failed: {e}"),
                })
            }
            Err(_) => Err(HubError::Request {
                server: name.into(),
                message: format!("listing its tools: no answer within {}s", wait.as_secs()),
            }),
        }
    }

    /// Runs one catalog request on the server's connection, bounded by its request timeout.
    /// A transport failure tells the session, which checks the connection, as for tools.
    async fn on_peer<T, F, Fut>(&self, name: &str, what: &str, request: F) -> Result<T, HubError>
    where
        F: FnOnce(rmcp::service::Peer<rmcp::service::RoleClient>) -> Fut,
        Fut: std::future::Future<Output = Result<T, CatalogError>>,
    {
        let session = self.session(name)?;
        let wait = Duration::from_secs(self.server(name)?.request_timeout_secs);
        let peer = session.ready_peer(wait).await?;
        let failed = |message: String| HubError::Request {
            server: name.into(),
            message: format!("{what} failed: {message}"),
        };
        match tokio::time::timeout(wait, request(peer)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(CatalogError::Service(e))) => {
                session.request_failed(&e);
                Err(failed(e.to_string()))
            }
            Ok(Err(CatalogError::Invalid(message))) => Err(failed(message)),
            Err(_) => Err(failed(format!("no answer within {}s", wait.as_secs()))),
        }
    }

    /// One page of the server's resources, resource templates or prompts.
    pub async fn list(
        &self,
        name: &str,
        what: Listing,
        cursor: Option<String>,
    ) -> Result<Page, HubError> {
        self.on_peer(name, "listing", |peer| async move {
            catalog::list(&peer, what, cursor).await
        })
        .await
    }

    /// `resources/read`.
    pub async fn read_resource(
        &self,
        name: &str,
        uri: &str,
    ) -> Result<serde_json::Value, HubError> {
        let uri = uri.to_string();
        self.on_peer(name, "reading the resource", |peer| async move {
            catalog::read(&peer, &uri).await
        })
        .await
    }

    /// `prompts/get`.
    pub async fn get_prompt(
        &self,
        name: &str,
        prompt: &str,
        arguments: serde_json::Map<String, serde_json::Value>,
    ) -> Result<serde_json::Value, HubError> {
        let prompt = prompt.to_string();
        self.on_peer(name, "getting the prompt", |peer| async move {
            catalog::get_prompt(&peer, &prompt, arguments).await
        })
        .await
    }

    /// `completion/complete`: suggestions for an argument as typed so far.
    pub async fn complete(
        &self,
        name: &str,
        target: CompletionTarget,
        argument: &str,
        typed: &str,
    ) -> Result<Vec<String>, HubError> {
        let (argument, typed) = (argument.to_string(), typed.to_string());
        self.on_peer(name, "completing", |peer| async move {
            catalog::complete(&peer, &target, &argument, &typed).await
        })
        .await
    }

    /// `logging/setLevel`.
    pub async fn set_log_level(&self, name: &str, level: LogLevel) -> Result<(), HubError> {
        self.on_peer(name, "setting the log level", |peer| async move {
            server_controls::set_level(&peer, level).await
        })
        .await
    }

    /// `resources/subscribe` (`on`) or `unsubscribe`.
    pub async fn subscribe_resource(
        &self,
        name: &str,
        uri: &str,
        on: bool,
    ) -> Result<(), HubError> {
        let uri = uri.to_string();
        self.on_peer(name, "subscribing", |peer| async move {
            catalog::subscribe(&peer, &uri, on).await
        })
        .await
    }

    /// Answers a server's `elicitation/create`; `false` when it is no longer waiting (answered
    /// already, or the server gave up).
    pub fn answer_elicitation(
        &self,
        server: &str,
        id: &str,
        answer: crate::elicitation::Answer,
    ) -> Result<bool, HubError> {
        Ok(self.session(server)?.elicitations().answer(id, answer))
    }

    /// The link a pending URL-mode question asks the person to open (already checked: https, or
    /// http to this machine); whoever answers `accept` opens it.
    pub fn elicitation_link(&self, server: &str, id: &str) -> Result<Option<String>, HubError> {
        Ok(self.session(server)?.elicitations().link(id))
    }

    /// Answers a server's `sampling/createMessage` with the person's reply, or rejects it;
    /// `false` when it is no longer waiting.
    pub fn answer_sampling(
        &self,
        server: &str,
        id: &str,
        answer: crate::sampling::SamplingAnswer,
    ) -> Result<bool, HubError> {
        Ok(self.session(server)?.samplings().answer(id, answer))
    }

    /// `ping`: the round trip.
    pub async fn ping(&self, name: &str) -> Result<Duration, HubError> {
        self.on_peer(name, "ping", |peer| async move {
            server_controls::ping(&peer).await
        })
        .await
    }

    /// Starts a call; its progress and logs arrive as events tagged with the returned id.
    pub fn start_call(&self, req: CallRequest) -> Result<StartedCall, HubError> {
        let session = self.session(&req.server)?;
        let def = self.server(&req.server)?;
        let call_id = new_call_id();
        let ctx = CallContext {
            session,
            bus: self.inner.bus.clone(),
            store: self.inner.store.clone(),
            running: self.inner.running.clone(),
            default_timeout: Duration::from_secs(def.request_timeout_secs),
        };
        let join = tokio::spawn(run_call(ctx, call_id.clone(), req));
        Ok(StartedCall { call_id, join })
    }

    pub async fn call_tool(&self, req: CallRequest) -> Result<CallReport, HubError> {
        Ok(self.start_call(req)?.finish().await)
    }

    /// Cancels a running call (sends `notifications/cancelled`). False if it already ended.
    pub fn cancel_call(&self, call_id: &str) -> bool {
        self.inner.running.cancel(call_id)
    }

    pub async fn history(&self, name: &str, limit: usize) -> Result<Vec<CallRecord>, HubError> {
        self.server(name)?;
        Ok(self.inner.store.history(name, limit).await?)
    }

    /// Writes a past call's whole result (MCP's `CallToolResult`, as JSON) to `path`; returns
    /// the bytes written.
    pub async fn save_call_result(&self, call_id: &str, path: &Path) -> Result<u64, HubError> {
        let record = self
            .inner
            .store
            .call(call_id)
            .await?
            .ok_or_else(|| HubError::Save {
                path: path.into(),
                message: format!("call {call_id} is not in the history"),
            })?;
        let Some(result) = record.result else {
            return Err(HubError::Save {
                path: path.into(),
                message: format!(
                    "the call to '{}' has no result to save ({})",
                    record.tool,
                    record.error.as_deref().unwrap_or("it ended without one")
                ),
            });
        };
        let bytes = serde_json::to_vec_pretty(&result).expect("JSON values serialise");
        write_whole(path, bytes).await
    }

    /// Reads a resource afresh and writes its contents to `path` (texts as UTF-8, blobs
    /// decoded); returns the bytes written.
    pub async fn save_resource(&self, name: &str, uri: &str, path: &Path) -> Result<u64, HubError> {
        let read = self.read_resource(name, uri).await?;
        let bytes = crate::preview::resource_bytes(&read).map_err(|message| HubError::Save {
            path: path.into(),
            message: format!("server '{name}': {message}"),
        })?;
        write_whole(path, bytes).await
    }

    /// The credentials and their refresh coordinator; opens the vault on first use.
    pub async fn refresher(&self) -> Arc<RefreshCoordinator> {
        self.inner.auth.refresher().await
    }

    /// [`Hub::login`], handing this server's authorization URL to `on_url` when the login
    /// announces it. The one way a front end learns the URL: the app opens it, the CLI prints it.
    /// (A caller who joins a login whose URL was already announced is not handed it again.)
    pub async fn login_showing(
        &self,
        name: &str,
        mode: BrowserMode,
        timeout: Duration,
        mut on_url: impl FnMut(&str) + Send,
    ) -> Result<AuthStatus, HubError> {
        use broadcast::error::RecvError;
        // Subscribed before the login starts, so its URL cannot be announced unseen.
        let mut events = self.subscribe();
        let watch = async {
            loop {
                match events.recv().await {
                    Ok(Event::LoginUrl { server, url }) if server == name => on_url(&url),
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => std::future::pending::<()>().await,
                }
            }
        };
        tokio::select! {
            status = self.login(name, mode, timeout) => status,
            never = watch => never,
        }
    }

    /// Logs in to a remote server through the browser (`mode`) and stores the tokens. A second
    /// call while one runs joins it: one browser tab however many callers wait. Progress comes
    /// as `LoginUrl` / `LoginFinished` events.
    pub async fn login(
        &self,
        name: &str,
        mode: BrowserMode,
        timeout: Duration,
    ) -> Result<AuthStatus, HubError> {
        let def = self.server(name)?;
        let url = def
            .remote_url()
            .ok_or_else(|| HubError::NotRemote(name.into()))?
            .to_string();
        // A token may only travel where nobody can read it on the way.
        if let Err(why) = auth::destinations::check_bearer_destination(&url) {
            return Err(HubError::Login(LoginError::Start {
                server: name.into(),
                message: why,
            }));
        }
        // Where the tokens will be kept must be usable before the person spends time in the
        // browser: a locked vault is found now, not after they have logged in.
        if let Err(e) = self.inner.auth.vault().reopen().await.usable() {
            return Err(HubError::Login(LoginError::Start {
                server: name.into(),
                message: format!("the login could not be saved: {e}"),
            }));
        }
        let refresher = self.refresher().await;
        let snapshot = self.session(name)?.snapshot();
        let challenge = match snapshot.state {
            ServerState::NeedsAuth => snapshot.auth_challenge,
            _ => None,
        };
        let client = match &def.oauth_client_id {
            Some(id) => Some(auth::PreRegisteredClient {
                id: id.clone(),
                secret: refresher.credentials().client_secret(name).await?,
            }),
            None => None,
        };
        let granted_scopes = auth::status(refresher.credentials(), name)
            .await
            .map(|s| s.scopes)
            .unwrap_or_default();
        // Step-up is bounded: a 403 that asks only for scopes this login already has would
        // send the person round the same loop forever; say so instead. (A caller that arrives
        // while a login runs just joins it.)
        let joining = self.inner.logins.lock().unwrap().contains_key(name);
        if !joining
            && let Some(wanted) = challenge
                .as_deref()
                .and_then(|c| auth::step_up_scopes(c, &url, &granted_scopes))
            && wanted.len() == granted_scopes.len()
        {
            return Err(HubError::Login(LoginError::Start {
                server: name.into(),
                message: format!(
                    "the server refuses access although this login already has the scopes it names ({}); logging in again cannot help, ask the server's administrator",
                    granted_scopes.join(" ")
                ),
            }));
        }
        let flight = {
            let mut logins = self.inner.logins.lock().unwrap();
            match logins.get(name) {
                Some((_, flight)) => flight.clone(),
                None => {
                    let cancel = CancellationToken::new();
                    let hub = self.clone();
                    if let Ok(session) = self.session(name) {
                        session.set_login_running(true);
                    }
                    let req = LoginRequest {
                        server: name.into(),
                        url,
                        browser: mode,
                        timeout,
                        challenge,
                        granted_scopes,
                        client,
                        client_metadata_url: def.oauth_client_metadata_url.clone(),
                    };
                    let task_cancel = cancel.clone();
                    let span = tracing::info_span!("login", server = %name);
                    let task = tokio::spawn(tracing::Instrument::instrument(
                        async move {
                            let observer = BusObserver {
                                bus: hub.inner.bus.clone(),
                                server: req.server.clone(),
                            };
                            let outcome =
                                auth::login(refresher.credentials(), &req, &observer, task_cancel)
                                    .await;
                            let status = match outcome {
                                Ok(_) => auth::status(refresher.credentials(), &req.server)
                                    .await
                                    .map_err(|e| LoginError::Save {
                                        server: req.server.clone(),
                                        message: e.to_string(),
                                    }),
                                Err(e) => Err(e),
                            };
                            // Resume and lower the flag before freeing the slot: a login that
                            // starts after this one must find its own flag, not ours.
                            if let Ok(session) = hub.session(&req.server) {
                                // A session that stopped for want of a login starts again now;
                                // requests waiting on the login then wait on that connect.
                                if status.is_ok() {
                                    session.resume_after_login().await;
                                }
                                session.set_login_running(false);
                            }
                            hub.inner.logins.lock().unwrap().remove(&req.server);
                            hub.inner.bus.publish(Event::LoginFinished {
                                server: req.server.clone(),
                                ok: status.is_ok(),
                                message: status.as_ref().err().map(|e| e.to_string()),
                            });
                            status
                        },
                        span,
                    ));
                    let server = name.to_string();
                    let flight: LoginFlight = async move {
                        task.await.unwrap_or_else(|e| {
                            Err(LoginError::Start {
                                server,
                                message: format!("the login task failed: {e}"),
                            })
                        })
                    }
                    .boxed()
                    .shared();
                    logins.insert(name.into(), (cancel, flight.clone()));
                    flight
                }
            }
        };
        Ok(flight.await?)
    }

    /// Cancels a running login and waits until it has ended (so it cannot store tokens after
    /// whatever the caller does next).
    async fn stop_login(&self, name: &str) {
        let flight = self.inner.logins.lock().unwrap().get(name).cloned();
        if let Some((cancel, flight)) = flight {
            cancel.cancel();
            let _ = flight.await;
        }
    }

    /// Stops a running login (its waiters get `Cancelled`). False if none was running.
    pub fn cancel_login(&self, name: &str) -> bool {
        match self.inner.logins.lock().unwrap().get(name) {
            Some((cancel, _)) => {
                cancel.cancel();
                true
            }
            None => false,
        }
    }

    /// The server's saved login: issuer, scopes, expiry; never a token.
    pub async fn auth_status(&self, name: &str) -> Result<AuthStatus, HubError> {
        self.server(name)?;
        let refresher = self.refresher().await;
        Ok(auth::status(refresher.credentials(), name).await?)
    }

    /// Revokes the server's login at its authorization server (when it can) and deletes it.
    pub async fn logout(&self, name: &str) -> Result<LogoutReport, HubError> {
        self.server(name)?;
        // A login still waiting for the browser would otherwise log the person back in.
        self.stop_login(name).await;
        let refresher = self.refresher().await;
        let report = auth::logout(refresher.credentials(), &self.inner.http, name).await?;
        if report.removed {
            self.session(name)?.logged_out();
        }
        Ok(report)
    }

    /// Where the data lives and how secrets are kept, for `doctor`. `open_vault` tries the key
    /// now (a person asked; this may show the keyring's unlock prompt); without it, the report
    /// says where the key lives without asking the keyring (the window's notice at launch).
    pub async fn doctor(&self, open_vault: bool) -> Doctor {
        let vault = self.inner.auth.vault();
        let key_backend = if open_vault {
            vault.reopen().await.backend().clone()
        } else {
            vault.backend_without_opening().await
        };
        let refresher = self.refresher().await;
        let defs = self.inner.store.list_servers().await.unwrap_or_default();
        let mut peers = Vec::with_capacity(defs.len());
        for def in defs {
            let auth = if def.remote_url().is_some() && open_vault {
                auth::status(refresher.credentials(), &def.name).await.ok()
            } else {
                None
            };
            peers.push(DoctorPeer {
                transport: def.transport.kind(),
                target: def.transport_target(),
                name: def.name,
                enabled: def.enabled,
                auth,
            });
        }
        Doctor {
            data_dir: self.inner.data_dir.clone(),
            database: self.inner.data_dir.join("patchbay.db"),
            key_backend,
            peers,
        }
    }

    /// Starts over when the key that sealed this data dir's secrets is gone for good (the
    /// keyring entry deleted, the key file lost): forgets every saved login and client secret
    /// and every server's env and header values (the servers stay, their values shown as to be
    /// typed again), and makes a new key on the next secret. Never needed while the key can
    /// still come back (an unreachable or locked keyring): that is only a locked vault.
    pub async fn reset_vault(&self) -> Result<VaultReset, HubError> {
        let _edit = self.inner.edits.lock().await;
        let (logins, servers) =
            self.inner
                .auth
                .vault()
                .reset()
                .await
                .map_err(|message| HubError::Save {
                    path: self.inner.data_dir.clone(),
                    message,
                })?;
        Ok(VaultReset { logins, servers })
    }

    /// Closes every connection and waits until every server process is gone.
    pub async fn shutdown(&self) {
        let sessions: Vec<_> = self
            .inner
            .sessions
            .lock()
            .unwrap()
            .values()
            .cloned()
            .collect();
        futures::future::join_all(sessions.iter().map(|s| s.shutdown())).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refresh_always_gives_up_before_the_connection_waiting_on_it() {
        let s = Duration::from_secs;
        assert_eq!(refresh_bound(s(30), s(45)), s(30));
        assert_eq!(refresh_bound(s(30), s(20)), s(20) * 2 / 3);
        assert_eq!(refresh_bound(s(45), s(45)), s(30));
        assert!(
            auth::DEFAULT_REFRESH_TIMEOUT < SessionTimings::default().connect_timeout,
            "the defaults need no correcting"
        );
    }
}
