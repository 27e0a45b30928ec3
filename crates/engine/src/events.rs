//! The typed event bus. The engine publishes; the CLI prints, the shell forwards, tests assert.

use serde::Serialize;
use tokio::sync::broadcast;

use crate::store::CallOutcome;

/// A server's connection state, as a person sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ServerState {
    Disconnected,
    Connecting,
    Connected,
    /// The server wants a login that Patchbay does not have.
    NeedsAuth,
    /// Failed; `retry_at_ms` (unix epoch ms) says when the next automatic attempt starts,
    /// `None` when retrying cannot help until the person changes something.
    Error {
        message: String,
        retry_at_ms: Option<i64>,
    },
}

impl ServerState {
    pub fn name(&self) -> &'static str {
        match self {
            ServerState::Disconnected => "disconnected",
            ServerState::Connecting => "connecting",
            ServerState::Connected => "connected",
            ServerState::NeedsAuth => "needs_auth",
            ServerState::Error { .. } => "error",
        }
    }
}

/// Everything that happens, in the order it happened for any one server.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    State {
        server: String,
        #[serde(flatten)]
        state: ServerState,
    },
    /// `notifications/progress` for a running call.
    Progress {
        server: String,
        call_id: String,
        progress: f64,
        total: Option<f64>,
        message: Option<String>,
    },
    /// `notifications/message`. `call_id` is set when the message can be tied to one call
    /// (MCP does not tag log messages with a request, so it is set when exactly one call is running).
    Log {
        server: String,
        call_id: Option<String>,
        level: String,
        logger: Option<String>,
        data: serde_json::Value,
    },
    /// `notifications/tools/list_changed`: list the tools again.
    ToolsChanged { server: String },
    /// A line the server's process wrote to stderr (or non-MCP text on stdout).
    ServerOutput { server: String, line: String },
    CallStarted {
        server: String,
        call_id: String,
        tool: String,
    },
    CallFinished {
        server: String,
        call_id: String,
        outcome: CallOutcome,
        duration_ms: u64,
    },
    /// A login is waiting for the browser at `url` (the authorization URL; it holds no secret
    /// a third party could use: the code verifier never leaves Patchbay).
    LoginUrl { server: String, url: String },
    /// A login ended: `ok`, or the reason it did not.
    LoginFinished {
        server: String,
        ok: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
}

impl Event {
    pub fn server(&self) -> &str {
        match self {
            Event::State { server, .. }
            | Event::Progress { server, .. }
            | Event::Log { server, .. }
            | Event::ToolsChanged { server }
            | Event::ServerOutput { server, .. }
            | Event::CallStarted { server, .. }
            | Event::CallFinished { server, .. }
            | Event::LoginUrl { server, .. }
            | Event::LoginFinished { server, .. } => server,
        }
    }
}

/// Broadcast bus. Slow subscribers lag (and are told so by tokio) rather than slowing the engine.
#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Event>,
}

impl EventBus {
    pub fn new() -> Self {
        // Large enough for a burst of progress from many concurrent calls.
        let (tx, _) = broadcast::channel(16 * 1024);
        EventBus { tx }
    }

    pub fn publish(&self, event: Event) {
        tracing::trace!(?event, "event");
        // No subscriber is fine: the engine does not depend on being watched.
        let _ = self.tx.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}
