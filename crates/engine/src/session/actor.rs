//! The session's actor: the one task that owns a server's connection (the rmcp service and,
//! for stdio, the process) and takes the handle's commands in order, coalescing bursts.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rmcp::model::ServerPeerInfo;
use rmcp::service::{QuitReason, RunningServiceCancellationToken};
use rmcp::{Peer, RoleClient};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::connect::{self, ConnectError, connect};
use super::process::{ServerLog, ServerProcess};
use super::{Command, Inbox, SessionTimings, Snapshot, announce_roots};
use crate::clock::now_ms;
use crate::config::ServerDef;
use crate::events::{Event, EventBus, ServerState};
use crate::roots::Roots;

/// A working connection, owned by the actor.
/// How long the actor waits for the store to keep what a server spoke.
const REMEMBER_WAIT: Duration = Duration::from_secs(1);

pub(super) struct Live {
    pub(super) stop: Option<RunningServiceCancellationToken>,
    /// Completes when rmcp's service loop ends, for whatever reason.
    pub(super) ended:
        Pin<Box<dyn Future<Output = Result<QuitReason, tokio::task::JoinError>> + Send>>,
    pub(super) peer: Peer<RoleClient>,
    pub(super) process: Option<ServerProcess>,
    pub(super) since: Instant,
    /// Cancels the connection's token (`Snapshot::connection`) when it goes: its listen stream
    /// stops, and questions still open close.
    pub(super) ended_with: Option<tokio_util::sync::DropGuard>,
    /// It started with `initialize` because the server misread `server/discover` (this time,
    /// or on an earlier connection of this session).
    pub(super) initialize_first: bool,
}

pub(super) struct Actor {
    pub(super) def: ServerDef,
    /// The server misread `server/discover`: this session's connections start with `initialize`.
    pub(super) initialize_first: bool,
    /// What this session last wrote to the store of what the server spoke.
    pub(super) remembered: Option<String>,
    pub(super) bus: EventBus,
    pub(super) log: ServerLog,
    pub(super) inbox: Arc<Inbox>,
    pub(super) snapshot: watch::Sender<Snapshot>,
    pub(super) commands: mpsc::UnboundedReceiver<Command>,
    pub(super) timings: SessionTimings,
    /// Tokens for remote servers that need a login.
    pub(super) auth: crate::auth::AuthContext,
    /// What the client answers `roots/list` with; shared with the `Session` handle.
    pub(super) roots: Roots,
    /// Consecutive failures, for the backoff.
    pub(super) failures: u32,
    pub(super) retry_at: Option<tokio::time::Instant>,
    pub(super) live: Option<Live>,
    /// Commands taken off the channel while coalescing that still have to be handled.
    pub(super) deferred: VecDeque<Command>,
    /// The resources the person subscribed to, for the listen stream.
    pub(super) subscribed: watch::Receiver<std::collections::BTreeSet<String>>,
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
    pub(super) async fn run(mut self) {
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
                    peer.send_request(super::are_you_there(&peer)),
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
                self.initialize_first,
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
            (Ok(mut live), None) => {
                self.failures = 0;
                // Ends with the connection: its listen stream, and any question still open.
                let connection = CancellationToken::new();
                if super::stateless(&live.peer) {
                    tokio::spawn(super::listen::listen(
                        self.def.name.clone(),
                        self.bus.clone(),
                        live.peer.clone(),
                        self.subscribed.clone(),
                        connection.clone(),
                    ));
                }
                live.ended_with = Some(connection.clone().drop_guard());
                self.snapshot
                    .send_modify(|s| s.connection = Some(connection));
                let info = live.peer.peer_info();
                let pid = live.process.as_ref().map(|p| p.pid);
                let peer = live.peer.clone();
                self.initialize_first = live.initialize_first;
                self.live = Some(live);
                self.set_state(
                    ServerState::Connected,
                    Some(peer.clone()),
                    info.map(|i| (i, pid)),
                );
                self.remember_what_it_spoke().await;
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

    /// Keeps what the server spoke in the store, for the server list of a later run (or another
    /// process), when it changed since this session last wrote it. The actor waits for the write
    /// (so a shutdown right after a connection finds it done) at most `REMEMBER_WAIT`: a
    /// database another process holds never holds up a disconnect for long (the write then
    /// finishes by itself).
    async fn remember_what_it_spoke(&mut self) {
        let Some(spoken) = self.snapshot.borrow().spoke() else {
            return;
        };
        let record = super::to_remember(&self.def, &spoken);
        if self.remembered.as_deref() == Some(record.as_str()) {
            return;
        }
        let write = self
            .auth
            .store()
            .remember_spoke(&self.def.name, record.clone());
        match tokio::time::timeout(REMEMBER_WAIT, write).await {
            Ok(Ok(())) => self.remembered = Some(record),
            Ok(Err(e)) => tracing::warn!("could not keep which revision the server spoke: {e}"),
            Err(_) => tracing::warn!("keeping which revision the server spoke is taking long"),
        }
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
            if peer.is_none() {
                s.connection = None;
            }
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
