//! One server's live session. A single actor task owns the rmcp client (and, for stdio, the
//! process); everything else talks to it with messages, so bursts of clicks or failing calls
//! coalesce into one connection attempt.
//!
//! Ownership: the actor owns `Live` (service + process). Callers get a clone of the rmcp `Peer`
//! through the `watch` snapshot to send requests concurrently; the peer is only a handle to the
//! actor-owned service, and stops working once the actor closes it.

mod actor;
mod backoff;
mod client;
mod connect;
mod era;
mod inbox;
mod listen;
pub(crate) mod process;
mod rounds;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use rmcp::model::ServerPeerInfo;
use rmcp::{Peer, RoleClient};
use tokio::sync::{mpsc, oneshot, watch};

pub use backoff::Backoff;
pub use era::{Era, Spoken};
pub(crate) use era::{are_you_there, remembered, stateless, to_remember};
pub use inbox::Inbox;
pub use process::ServerLog;
pub(crate) use rounds::{MAX_ROUNDS, Round, Stopped};

use crate::config::ServerDef;
use crate::events::{EventBus, ServerState};
use crate::roots::Roots;
use actor::Actor;

/// Timings a session works with; tests shorten them.
#[derive(Debug, Clone, Copy)]
pub struct SessionTimings {
    /// Bound on one connection attempt (spawn or HTTP handshake plus `initialize`).
    pub connect_timeout: Duration,
    pub backoff: Backoff,
    /// How long a health check may take after a call saw the transport fail.
    pub ping_timeout: Duration,
}

impl Default for SessionTimings {
    fn default() -> Self {
        SessionTimings {
            // Longer than the refresh bound (30 s) that a connection may have to wait for.
            connect_timeout: Duration::from_secs(45),
            backoff: Backoff::default(),
            ping_timeout: Duration::from_secs(5),
        }
    }
}

/// What everybody may know about the session right now.
#[derive(Clone)]
pub struct Snapshot {
    pub state: ServerState,
    /// Set only while connected.
    pub peer: Option<Peer<RoleClient>>,
    pub info: Option<Arc<ServerPeerInfo>>,
    /// The stdio server's process id while it runs.
    pub pid: Option<u32>,
    /// Counts finished connection attempts, so a waiter can tell a fresh outcome from an old one.
    pub attempts_done: u64,
    /// While `needs_auth`: the server's last `WWW-Authenticate` (where to log in, which scopes).
    pub auth_challenge: Option<String>,
    /// Cancelled when the connection the peer belongs to ends (set only while connected).
    pub connection: Option<tokio_util::sync::CancellationToken>,
}

impl Snapshot {
    /// What the server spoke on its last connection in this run (kept after it ends).
    pub fn spoke(&self) -> Option<Spoken> {
        self.info
            .as_ref()
            .map(|info| Spoken::from(&info.protocol_version))
    }
}

/// Why a call cannot be sent now.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Unavailable {
    #[error("server '{0}' is not connected; connect it first")]
    NotConnected(String),
    #[error("server '{0}' needs a login first")]
    NeedsAuth(String),
    #[error("server '{server}' is unavailable: {message}")]
    Failed { server: String, message: String },
    #[error("server '{0}' did not finish connecting within {1:?}")]
    StillConnecting(String, Duration),
}

enum Command {
    Connect,
    Reconnect,
    Disconnect(Option<oneshot::Sender<()>>),
    /// A call saw the transport fail: check whether the connection is really gone.
    Suspect,
    /// A request met a 401/403 that refresh could not heal: wait for a login.
    AuthLost(Option<String>),
    /// The person logged out.
    LoggedOut,
    Shutdown(oneshot::Sender<()>),
}

/// The handle the hub keeps for each server.
pub struct Session {
    name: String,
    commands: mpsc::UnboundedSender<Command>,
    snapshot: watch::Receiver<Snapshot>,
    inbox: Arc<Inbox>,
    log: ServerLog,
    /// Whether a login for this server is running: requests that find the server waiting for
    /// a login wait for that login (and the reconnect after it) instead of failing.
    login_running: watch::Sender<bool>,
    roots: Roots,
    bus: EventBus,
    /// The resources the person subscribed to on a server without sessions (its listen stream
    /// carries their updates); kept across reconnects.
    subscribed: watch::Sender<std::collections::BTreeSet<String>>,
}

impl Session {
    /// The server's questions to the person that wait for an answer.
    pub fn elicitations(&self) -> &crate::elicitation::Elicitations {
        &self.inbox.elicitations
    }

    /// The server's sampling requests that wait for the person's reply.
    pub fn samplings(&self) -> &crate::sampling::Samplings {
        &self.inbox.samplings
    }

    pub fn spawn(
        def: ServerDef,
        bus: EventBus,
        timings: SessionTimings,
        auth: crate::auth::AuthContext,
    ) -> Arc<Session> {
        let (commands, rx) = mpsc::unbounded_channel();
        let (snap_tx, snapshot) = watch::channel(Snapshot {
            state: ServerState::Disconnected,
            peer: None,
            info: None,
            pid: None,
            attempts_done: 0,
            auth_challenge: None,
            connection: None,
        });
        let inbox = Arc::new(Inbox::default());
        let log = ServerLog::default();
        let roots = Roots::new(def.roots.clone());
        let (subscribed, wanted) = watch::channel(Default::default());
        let actor = Actor {
            def: def.clone(),
            initialize_first: false,
            remembered: None,
            bus: bus.clone(),
            log: log.clone(),
            inbox: inbox.clone(),
            snapshot: snap_tx,
            commands: rx,
            timings,
            auth,
            roots: roots.clone(),
            failures: 0,
            retry_at: None,
            live: None,
            deferred: VecDeque::new(),
            subscribed: wanted,
        };
        let span = tracing::info_span!("session", server = %def.name);
        tokio::spawn(tracing::Instrument::instrument(actor.run(), span));
        Arc::new(Session {
            name: def.name,
            commands,
            snapshot,
            inbox,
            log,
            login_running: watch::channel(false).0,
            roots,
            bus,
            subscribed,
        })
    }

    /// Replaces the roots this session answers `roots/list` with and, while connected, tells
    /// the server they changed (it asks again). The store must already hold `roots`.
    pub(crate) async fn set_roots(&self, roots: Vec<crate::config::RootDef>) {
        self.roots.set(roots);
        if let Some(peer) = self.snapshot().peer {
            announce_roots(&self.name, &peer).await;
        }
    }

    /// Who answers this server's requests to the person (its questions, sampling, roots).
    pub(crate) fn client(&self) -> client::PatchbayClient {
        client::PatchbayClient::new(
            self.name.clone(),
            self.bus.clone(),
            self.inbox.elicitations.clone(),
            self.inbox.samplings.clone(),
            self.roots.clone(),
        )
    }

    /// Subscribes to (or from) `uri` on a server without sessions: its listen stream is opened
    /// again with the new set. (2025-era servers take `resources/subscribe` instead.)
    pub(crate) fn listen_to_resource(&self, uri: &str, on: bool) {
        self.subscribed.send_if_modified(|uris| {
            if on {
                uris.insert(uri.to_string())
            } else {
                uris.remove(uri)
            }
        });
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn snapshot(&self) -> Snapshot {
        self.snapshot.borrow().clone()
    }

    pub fn watch(&self) -> watch::Receiver<Snapshot> {
        self.snapshot.clone()
    }

    pub fn log(&self) -> &ServerLog {
        &self.log
    }

    pub(crate) fn inbox(&self) -> &Inbox {
        &self.inbox
    }

    pub fn connect(&self) {
        let _ = self.commands.send(Command::Connect);
    }

    pub fn reconnect(&self) {
        let _ = self.commands.send(Command::Reconnect);
    }

    pub(crate) fn suspect(&self) {
        let _ = self.commands.send(Command::Suspect);
    }

    /// The login was removed (logout): the session stops using the server and waits for a
    /// new login.
    pub(crate) fn logged_out(&self) {
        let _ = self.commands.send(Command::LoggedOut);
    }

    /// A request failed: an authorization failure (refresh already tried by the transport)
    /// moves the session to `needs_auth`; anything else makes it check its connection.
    pub(crate) fn request_failed(&self, e: &rmcp::ServiceError) {
        if e.is_authorization_required() || e.auth_challenge().is_some() {
            let _ = self
                .commands
                .send(Command::AuthLost(e.auth_challenge().map(String::from)));
        } else {
            self.suspect();
        }
    }

    pub async fn disconnect(&self) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Disconnect(Some(tx))).is_ok() {
            let _ = rx.await;
        }
    }

    /// Stops the actor: the connection is closed and a stdio server's process group is gone
    /// when this returns.
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Shutdown(tx)).is_ok() {
            let _ = rx.await;
        }
    }

    /// Asks for a connection and waits for the outcome of that attempt.
    pub async fn connect_and_wait(&self) -> ServerState {
        let mut watch = self.snapshot.clone();
        let start = {
            let s = watch.borrow_and_update();
            if s.state == ServerState::Connected {
                return s.state.clone();
            }
            s.attempts_done
        };
        self.connect();
        loop {
            if watch.changed().await.is_err() {
                return ServerState::Disconnected;
            }
            let s = watch.borrow_and_update();
            if s.attempts_done > start && s.state != ServerState::Connecting {
                return s.state.clone();
            }
        }
    }

    /// After a login: starts connecting a session that was waiting for it, and returns once the
    /// actor has taken that up (the state left `needs_auth`), so whoever waits on the login
    /// goes on to wait on the connect and never sees the stale `needs_auth`.
    pub(crate) async fn resume_after_login(&self) {
        let mut watch = self.snapshot.clone();
        if watch.borrow_and_update().state != ServerState::NeedsAuth {
            return;
        }
        self.connect();
        let left = async {
            while watch.changed().await.is_ok() {
                if watch.borrow_and_update().state != ServerState::NeedsAuth {
                    return;
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), left).await;
    }

    /// Marks a login for this server as running or done (the hub's single login flight).
    pub(crate) fn set_login_running(&self, running: bool) {
        self.login_running.send_replace(running);
    }

    /// The peer to send a request with, waiting (up to `wait`) while a connection is being made,
    /// or while a login for a server that needs one is under way.
    pub async fn ready_peer(&self, wait: Duration) -> Result<Peer<RoleClient>, Unavailable> {
        let mut watch = self.snapshot.clone();
        let mut login = self.login_running.subscribe();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            {
                let logging_in = *login.borrow_and_update();
                let s = watch.borrow_and_update();
                match &s.state {
                    ServerState::Connected => {
                        if let Some(peer) = &s.peer {
                            return Ok(peer.clone());
                        }
                    }
                    ServerState::Connecting => {}
                    ServerState::Disconnected => {
                        return Err(Unavailable::NotConnected(self.name.clone()));
                    }
                    // The login's end (and the reconnect it starts) wakes this up.
                    ServerState::NeedsAuth if logging_in => {}
                    ServerState::NeedsAuth => {
                        return Err(Unavailable::NeedsAuth(self.name.clone()));
                    }
                    ServerState::Error { message, .. } => {
                        return Err(Unavailable::Failed {
                            server: self.name.clone(),
                            message: message.clone(),
                        });
                    }
                }
            }
            let changed = async {
                tokio::select! {
                    r = watch.changed() => r.is_ok(),
                    r = login.changed() => r.is_ok(),
                }
            };
            match tokio::time::timeout_at(deadline, changed).await {
                Ok(true) => {}
                Ok(false) => return Err(Unavailable::NotConnected(self.name.clone())),
                Err(_) => return Err(Unavailable::StillConnecting(self.name.clone(), wait)),
            }
        }
    }

    /// What to tell a caller whose request died with the connection.
    pub(crate) fn lost_message(&self) -> String {
        match self.log.last_line() {
            Some(line) => format!(
                "lost the connection to server '{}' during the call (last output: {line})",
                self.name
            ),
            None => format!(
                "lost the connection to server '{}' during the call",
                self.name
            ),
        }
    }
}

/// Tells a server its roots changed. Best effort and bounded: a server that stopped reading
/// must not hold up the edit (a dropped one gets the new list when it reconnects).
async fn announce_roots(server: &str, peer: &Peer<RoleClient>) {
    match tokio::time::timeout(Duration::from_secs(2), peer.notify_roots_list_changed()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!(%server, "could not announce the new roots: {e}"),
        Err(_) => tracing::debug!(%server, "announcing the new roots timed out"),
    }
}
