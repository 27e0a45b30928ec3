//! One server's live session. A single actor task owns the rmcp client (and, for stdio, the
//! process); everything else talks to it with messages, so bursts of clicks or failing calls
//! coalesce into one connection attempt.
//!
//! Ownership: the actor owns `Live` (service + process). Callers get a clone of the rmcp `Peer`
//! through the `watch` snapshot to send requests concurrently; the peer is only a handle to the
//! actor-owned service, and stops working once the actor closes it.

mod backoff;
mod client;
mod connect;
mod inbox;
pub(crate) mod process;

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rmcp::model::ServerPeerInfo;
use rmcp::service::{QuitReason, RunningServiceCancellationToken};
use rmcp::{Peer, RoleClient};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

pub use backoff::Backoff;
pub use inbox::Inbox;
pub use process::ServerLog;

use crate::clock::now_ms;
use crate::config::ServerDef;
use crate::events::{Event, EventBus, ServerState};
use crate::roots::Roots;
use connect::{ConnectError, connect};
use process::ServerProcess;

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
        });
        let inbox = Arc::new(Inbox::default());
        let log = ServerLog::default();
        let roots = Roots::new(def.roots.clone());
        let actor = Actor {
            def: def.clone(),
            bus,
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

/// A working connection, owned by the actor.
struct Live {
    stop: Option<RunningServiceCancellationToken>,
    /// Completes when rmcp's service loop ends, for whatever reason.
    ended: Pin<Box<dyn Future<Output = Result<QuitReason, tokio::task::JoinError>> + Send>>,
    peer: Peer<RoleClient>,
    process: Option<ServerProcess>,
    since: Instant,
}

struct Actor {
    def: ServerDef,
    bus: EventBus,
    log: ServerLog,
    inbox: Arc<Inbox>,
    snapshot: watch::Sender<Snapshot>,
    commands: mpsc::UnboundedReceiver<Command>,
    timings: SessionTimings,
    /// Tokens for remote servers that need a login.
    auth: crate::auth::AuthContext,
    /// What the client answers `roots/list` with; shared with the `Session` handle.
    roots: Roots,
    /// Consecutive failures, for the backoff.
    failures: u32,
    retry_at: Option<tokio::time::Instant>,
    live: Option<Live>,
    /// Commands taken off the channel while coalescing that still have to be handled.
    deferred: VecDeque<Command>,
}

async fn next_command(
    deferred: &mut VecDeque<Command>,
    commands: &mut mpsc::UnboundedReceiver<Command>,
) -> Option<Command> {
    match deferred.pop_front() {
        Some(c) => Some(c),
        None => commands.recv().await,
    }
}

/// What the actor does after a command.
enum Next {
    Continue,
    Exit,
}

impl Actor {
    async fn run(mut self) {
        loop {
            let next = if let Some(live) = self.live.as_mut() {
                tokio::select! {
                    cmd = next_command(&mut self.deferred, &mut self.commands) => self.on_command_live(cmd).await,
                    _ = &mut live.ended => {
                        let live = self.live.take().expect("live");
                        let message = self.describe_drop(live, true).await;
                        self.fail(message, true);
                        Next::Continue
                    }
                }
            } else {
                let retry_at = self.retry_at;
                tokio::select! {
                    cmd = next_command(&mut self.deferred, &mut self.commands) => self.on_command_idle(cmd).await,
                    _ = async { tokio::time::sleep_until(retry_at.unwrap()).await }, if retry_at.is_some() => {
                        self.retry_at = None;
                        self.attempt().await
                    }
                }
            };
            if let Next::Exit = next {
                return;
            }
        }
    }

    async fn on_command_idle(&mut self, cmd: Option<Command>) -> Next {
        match cmd {
            Some(Command::Connect) | Some(Command::Reconnect) => {
                // A person asked: start now, with a fresh backoff.
                self.failures = 0;
                self.retry_at = None;
                self.attempt().await
            }
            Some(Command::Suspect) | Some(Command::AuthLost(_)) => Next::Continue,
            Some(Command::LoggedOut) => {
                self.retry_at = None;
                self.failures = 0;
                self.needs_auth(None);
                Next::Continue
            }
            Some(Command::Disconnect(ack)) => {
                self.retry_at = None;
                self.failures = 0;
                self.set_state(ServerState::Disconnected, None, None);
                if let Some(ack) = ack {
                    let _ = ack.send(());
                }
                Next::Continue
            }
            Some(Command::Shutdown(ack)) => {
                self.retry_at = None;
                self.set_state(ServerState::Disconnected, None, None);
                let _ = ack.send(());
                Next::Exit
            }
            None => Next::Exit,
        }
    }

    async fn on_command_live(&mut self, cmd: Option<Command>) -> Next {
        match cmd {
            Some(Command::Connect) => Next::Continue,
            Some(Command::Reconnect) => {
                let live = self.live.take().expect("live");
                self.close(live).await;
                self.failures = 0;
                self.attempt().await
            }
            Some(Command::LoggedOut) => {
                let live = self.live.take().expect("live");
                self.close(live).await;
                self.needs_auth(None);
                Next::Continue
            }
            Some(Command::AuthLost(challenge)) => {
                self.drain(|c| matches!(c, Command::AuthLost(_) | Command::Suspect));
                let live = self.live.take().expect("live");
                self.close(live).await;
                self.retry_at = None;
                self.needs_auth(challenge);
                Next::Continue
            }
            Some(Command::Suspect) => {
                let peer = self.live.as_ref().expect("live").peer.clone();
                let ping = tokio::time::timeout(
                    self.timings.ping_timeout,
                    peer.send_request(rmcp::model::ClientRequest::PingRequest(Default::default())),
                )
                .await;
                // Several failing calls queue several suspicions; one check answers them all.
                self.drain(|c| matches!(c, Command::Suspect));
                // The server still answers, but not to us: the login is gone (refresh was
                // already tried by the transport). Waiting for a person, not retrying.
                if let Ok(Err(e)) = &ping
                    && (e.is_authorization_required() || e.auth_challenge().is_some())
                {
                    let challenge = e.auth_challenge().map(String::from);
                    let live = self.live.take().expect("live");
                    self.close(live).await;
                    self.retry_at = None;
                    self.needs_auth(challenge);
                    return Next::Continue;
                }
                let alive = matches!(ping, Ok(Ok(_)));
                if !alive {
                    let live = self.live.take().expect("live");
                    let message = self.describe_drop(live, false).await;
                    self.fail(message, true);
                }
                Next::Continue
            }
            Some(Command::Disconnect(ack)) => {
                let live = self.live.take().expect("live");
                self.close(live).await;
                self.set_state(ServerState::Disconnected, None, None);
                if let Some(ack) = ack {
                    let _ = ack.send(());
                }
                Next::Continue
            }
            Some(Command::Shutdown(ack)) => {
                let live = self.live.take().expect("live");
                self.close(live).await;
                self.set_state(ServerState::Disconnected, None, None);
                let _ = ack.send(());
                Next::Exit
            }
            None => {
                let live = self.live.take().expect("live");
                self.close(live).await;
                Next::Exit
            }
        }
    }

    /// Drops queued commands that `redundant` says add nothing; the others keep their order.
    fn drain(&mut self, redundant: impl Fn(&Command) -> bool) {
        while let Ok(c) = self.commands.try_recv() {
            if !redundant(&c) {
                self.deferred.push_back(c);
            }
        }
    }

    /// One connection attempt. Commands that arrive meanwhile are coalesced: more connect or
    /// reconnect requests are absorbed; a disconnect or shutdown cancels the attempt.
    async fn attempt(&mut self) -> Next {
        self.set_state(ServerState::Connecting, None, None);
        let roots_seen = self.roots.version();
        let cancel = CancellationToken::new();
        let mut stop_request: Option<Command> = None;
        let outcome = {
            let attempt = connect(
                &self.def,
                &self.bus,
                &self.log,
                &self.inbox,
                &self.auth,
                &self.roots,
                self.timings.connect_timeout,
                cancel.clone(),
            );
            tokio::pin!(attempt);
            loop {
                tokio::select! {
                    r = &mut attempt => break r,
                    cmd = next_command(&mut self.deferred, &mut self.commands), if stop_request.is_none() => match cmd {
                        Some(Command::Connect) | Some(Command::Reconnect) | Some(Command::Suspect) | Some(Command::AuthLost(_)) => {}
                        Some(Command::LoggedOut) => { cancel.cancel(); stop_request = Some(Command::LoggedOut); }
                        Some(c) => { cancel.cancel(); stop_request = Some(c); }
                        None => { cancel.cancel(); }
                    },
                }
            }
        };
        // Connects and reconnects that queued up while this attempt ran were answered by it:
        // a burst of clicks is one attempt, even when the attempt finished before the actor
        // had read them all.
        self.drain(|c| matches!(c, Command::Connect | Command::Reconnect | Command::Suspect));
        self.bump_attempts();
        match (outcome, stop_request) {
            (Ok(live), None) => {
                self.failures = 0;
                let info = live.peer.peer_info();
                let pid = live.process.as_ref().map(|p| p.pid);
                let peer = live.peer.clone();
                self.live = Some(live);
                self.set_state(
                    ServerState::Connected,
                    Some(peer.clone()),
                    info.map(|i| (i, pid)),
                );
                // Roots edited while this attempt ran had no peer to tell; the server may
                // already have asked for the old list.
                if self.roots.version() != roots_seen {
                    let server = self.def.name.clone();
                    tokio::spawn(async move { announce_roots(&server, &peer).await });
                }
                Next::Continue
            }
            (outcome, Some(stop)) => {
                if let Ok(live) = outcome {
                    self.close(live).await;
                }
                if matches!(stop, Command::LoggedOut) {
                    self.needs_auth(None);
                    return Next::Continue;
                }
                self.set_state(ServerState::Disconnected, None, None);
                match stop {
                    Command::Disconnect(ack) => {
                        if let Some(ack) = ack {
                            let _ = ack.send(());
                        }
                        Next::Continue
                    }
                    Command::Shutdown(ack) => {
                        let _ = ack.send(());
                        Next::Exit
                    }
                    _ => Next::Continue,
                }
            }
            (Err(ConnectError::NeedsAuth { challenge }), None) => {
                self.needs_auth(challenge);
                Next::Continue
            }
            (Err(e), None) => {
                let retry = e.retry_can_help();
                self.fail(e.to_string(), retry);
                Next::Continue
            }
        }
    }

    fn fail(&mut self, message: String, retry: bool) {
        tracing::warn!(server = %self.def.name, "{message}");
        self.failures += 1;
        let retry_at_ms = if retry {
            let delay = self.timings.backoff.delay(self.failures);
            self.retry_at = Some(tokio::time::Instant::now() + delay);
            Some(now_ms() + delay.as_millis() as i64)
        } else {
            self.retry_at = None;
            None
        };
        self.set_state(
            ServerState::Error {
                message,
                retry_at_ms,
            },
            None,
            None,
        );
    }

    /// Closes a connection on purpose: the service first (which closes the server's stdin), then
    /// the process group.
    async fn close(&mut self, mut live: Live) {
        if let Some(stop) = live.stop.take() {
            stop.cancel();
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut live.ended).await;
        if let Some(process) = live.process.take() {
            process.shutdown().await;
        }
    }

    /// The connection ended without being asked to: say why, as precisely as we can.
    /// `ended` says whether rmcp's service loop has already finished (its future must not be
    /// polled again then).
    async fn describe_drop(&mut self, mut live: Live, ended: bool) -> String {
        let name = &self.def.name;
        let connected_for = live.since.elapsed();
        if connected_for > Duration::from_secs(30) {
            // It worked for a while: this is a fresh failure, not a flapping server.
            self.failures = 0;
        }
        if !ended {
            if let Some(stop) = live.stop.take() {
                stop.cancel();
            }
            let _ = tokio::time::timeout(Duration::from_secs(2), &mut live.ended).await;
        }
        match live.process.take() {
            Some(mut process) => {
                let status = match process.try_status() {
                    Some(s) => Some(s),
                    None => process.wait_for_exit(Duration::from_millis(500)).await,
                };
                process.drain_stderr(Duration::from_millis(500)).await;
                process.shutdown().await;
                connect::exit_message(name, status, self.log.telling_line())
            }
            None => format!(
                "lost the connection to server '{name}' ({})",
                self.def.transport_target()
            ),
        }
    }

    fn bump_attempts(&mut self) {
        self.snapshot.send_modify(|s| s.attempts_done += 1);
    }

    fn needs_auth(&mut self, challenge: Option<String>) {
        self.snapshot.send_modify(|s| s.auth_challenge = challenge);
        self.set_state(ServerState::NeedsAuth, None, None);
    }

    fn set_state(
        &mut self,
        state: ServerState,
        peer: Option<Peer<RoleClient>>,
        info: Option<(Arc<ServerPeerInfo>, Option<u32>)>,
    ) {
        // The event is published inside the snapshot's write: a reader woken by the snapshot
        // finds the event already on the bus (a subscriber made then never gets it late), and
        // a subscriber that reads the snapshot on the event waits for the write to finish, so
        // it sees the state the event describes.
        let (bus, server) = (&self.bus, &self.def.name);
        self.snapshot.send_modify(|s| {
            if state != ServerState::NeedsAuth {
                s.auth_challenge = None;
            }
            s.state = state.clone();
            s.peer = peer;
            match info {
                Some((info, pid)) => {
                    s.info = Some(info);
                    s.pid = pid;
                }
                None if s.state != ServerState::Connected => s.pid = None,
                None => {}
            }
            // The lifecycle at info level: what `RUST_LOG=info` shows a person (and the benches).
            tracing::info!(state = state.name(), "server state");
            bus.publish(Event::State {
                server: server.clone(),
                state,
            });
        });
    }
}
