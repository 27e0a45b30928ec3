//! `Hub`: the one door into the engine. The desktop shell, the CLI and the tests hold one.

mod doctor;
mod login;
mod rename;
mod requests;
mod servers;

pub use doctor::{Doctor, VaultReset};
pub use requests::StartedCall;
pub use servers::{ImportChoices, ImportPreview, ImportedServer, SavedExport};

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::broadcast;

use crate::auth::{self, AuthContext, LoginError};
use crate::calls::RunningCalls;
use crate::config::{self, ConfigError, ServerDef};
use crate::definitions::{self, SecretsError};
use crate::events::{Event, EventBus, ServerState};
use crate::session::{Session, SessionTimings, Spoken, Unavailable};
use crate::store::{LoginState, Store, StoreError};

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

impl HubError {
    /// The field of a server's definition the error is about, for a form to show it there.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            HubError::Invalid(invalid) => Some(invalid.field),
            HubError::Store(StoreError::Duplicate(_)) => Some("name"),
            _ => None,
        }
    }
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

/// Everything the server details panel shows about one server.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ServerDetails {
    pub name: String,
    pub state: ServerState,
    /// What the handshake (`initialize`, or `server/discover` from 2026-07-28) negotiated:
    /// protocol version, capabilities, server info, instructions; MCP's own camelCase shape.
    pub initialize: Option<serde_json::Value>,
    /// The revision and era the server spoke on its last connection in this run (the server
    /// list has what an earlier run kept).
    pub spoke: Option<Spoken>,
    /// The process id of a local server while it runs.
    pub pid: Option<u32>,
    /// The server's own output (stderr), oldest first.
    pub log: Vec<String>,
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
    /// The revision and era it spoke on its last connection (this run's, else the last one
    /// the store kept, marked `remembered`).
    pub spoke: Option<Spoken>,
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

/// A stored server as this process holds it.
#[derive(Clone)]
struct Installed {
    /// As last stored (values masked).
    def: ServerDef,
    session: Arc<Session>,
    /// The calls running on this session, so a rename can end them before it moves their
    /// history.
    calls: Arc<CallGate>,
}

/// Each running call holds a read guard until its history is written; a rename cancels them
/// (`stop`) and takes the write guard, so it moves the history only once every call has
/// written its row under the old name.
#[derive(Default)]
struct CallGate {
    open: Arc<tokio::sync::RwLock<()>>,
    stop: tokio_util::sync::CancellationToken,
}

struct Inner {
    data_dir: PathBuf,
    store: Store,
    auth: AuthContext,
    /// One login flow per server however many callers ask.
    logins: login::Logins,
    bus: EventBus,
    timings: SessionTimings,
    http: reqwest::Client,
    running: RunningCalls,
    /// Each server this process knows, by name: its definition as last stored (masked) and
    /// its session, in one entry so the two never disagree. The store is the truth; this
    /// follows it, changed only by `install`, `show` and `uninstall` after a store write under
    /// `edits`. Held briefly; never across an await.
    installed: Mutex<HashMap<String, Installed>>,
    /// Serialises changes to the set of servers and their definitions (add, update, enable,
    /// roots, review, remove): each writes the store, then `installed`, so two at once would
    /// otherwise each undo half of the other (or leave a session with no stored server).
    edits: tokio::sync::Mutex<()>,
    /// Imports previewed and waiting for the person's word.
    imports: servers::PendingImports,
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
                logins: Default::default(),
                bus: EventBus::new(),
                timings: options.timings,
                http,
                running: RunningCalls::default(),
                installed: Mutex::new(HashMap::new()),
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

    /// A stored server gets a new session made with `def` (replacing any it had; the caller
    /// has shut the old one down).
    fn install(&self, def: ServerDef) {
        let session = Session::spawn(
            def.clone(),
            self.inner.bus.clone(),
            self.inner.timings,
            self.inner.auth.clone(),
        );
        self.inner.installed.lock().unwrap().insert(
            def.name.clone(),
            Installed {
                def,
                session,
                calls: Default::default(),
            },
        );
    }

    /// A stored change its session takes without restarting (enabled, roots): memory follows.
    fn show(&self, def: ServerDef) {
        if let Some(installed) = self.inner.installed.lock().unwrap().get_mut(&def.name) {
            installed.def = def;
        }
    }

    /// A removed server: its session, for the caller to shut down.
    fn uninstall(&self, name: &str) -> Option<Arc<Session>> {
        self.uninstall_entry(name).map(|i| i.session)
    }

    /// A removed server's whole entry (its session and its running calls).
    fn uninstall_entry(&self, name: &str) -> Option<Installed> {
        self.inner.installed.lock().unwrap().remove(name)
    }

    fn entry(&self, name: &str) -> Result<Installed, HubError> {
        self.inner
            .installed
            .lock()
            .unwrap()
            .get(name)
            .cloned()
            .ok_or_else(|| HubError::UnknownServer(name.to_string()))
    }

    fn installed(&self) -> Vec<Installed> {
        self.inner
            .installed
            .lock()
            .unwrap()
            .values()
            .cloned()
            .collect()
    }

    fn session(&self, name: &str) -> Result<Arc<Session>, HubError> {
        self.inner
            .installed
            .lock()
            .unwrap()
            .get(name)
            .map(|i| i.session.clone())
            .ok_or_else(|| HubError::UnknownServer(name.to_string()))
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.bus.subscribe()
    }

    /// Every server in the order they were added, with its state and login (values masked).
    pub async fn servers(&self) -> Result<Vec<ServerView>, HubError> {
        let defs = self.inner.store.list_servers().await?;
        let logins = self.inner.store.login_states().await?;
        let spokes = self.inner.store.spokes().await?;
        Ok(defs
            .into_iter()
            .map(|def| {
                let snapshot = self.session(&def.name).ok().map(|s| s.snapshot());
                let state = snapshot
                    .as_ref()
                    .map_or(ServerState::Disconnected, |s| s.state.clone());
                // This run's connection, else what the store kept from an earlier one.
                let spoke = snapshot.and_then(|s| s.spoke()).or_else(|| {
                    spokes
                        .get(&def.name)
                        .and_then(|r| crate::session::remembered(&def, r))
                });
                let login = match logins.get(&def.name) {
                    _ if def.remote_url().is_none() => Login::None,
                    None => Login::None,
                    Some(LoginState::Saved) => Login::Saved,
                    Some(LoginState::Refused(why)) => Login::NeedsLogin {
                        reason: auth::refused_reason(why),
                    },
                };
                ServerView {
                    def,
                    state,
                    login,
                    spoke,
                }
            })
            .collect())
    }

    /// The server's definition as this process last stored or read it (values masked).
    pub fn server(&self, name: &str) -> Result<ServerDef, HubError> {
        self.inner
            .installed
            .lock()
            .unwrap()
            .get(name)
            .map(|i| i.def.clone())
            .ok_or_else(|| HubError::UnknownServer(name.into()))
    }

    pub fn state(&self, name: &str) -> Option<ServerState> {
        self.session(name).ok().map(|s| s.snapshot().state)
    }

    /// Everything the session shows now (its rmcp peer, process id, attempts), for tests.
    #[cfg(feature = "testing")]
    pub fn snapshot(&self, name: &str) -> Result<crate::session::Snapshot, HubError> {
        Ok(self.session(name)?.snapshot())
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
            spoke: snapshot.spoke(),
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
        for installed in self.installed() {
            if installed.def.enabled {
                installed.session.connect();
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

    /// Closes every connection and waits until every server process is gone.
    pub async fn shutdown(&self) {
        let installed = self.installed();
        futures::future::join_all(installed.iter().map(|i| i.session.shutdown())).await;
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
