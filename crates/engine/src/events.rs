//! The typed event bus. The engine publishes; the CLI prints, the shell forwards, tests assert.

use serde::Serialize;
use tokio::sync::broadcast;

use crate::store::CallOutcome;

/// A server's connection state, as a person sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
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
        #[cfg_attr(feature = "ts", ts(type = "number | null"))]
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
// `HubEvent` in TypeScript, where `Event` is the DOM's.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export, rename = "HubEvent"))]
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
    /// `notifications/resources/list_changed` or `prompts/list_changed`: `list` is
    /// "resources" or "prompts"; list it again.
    ListChanged { server: String, list: String },
    /// `notifications/resources/updated` for a resource subscribed to: read it again.
    ResourceUpdated { server: String, uri: String },
    /// The server asks the person for input (`elicitation/create`): `request` is MCP's
    /// params: `mode` "form" with `message` and `requestedSchema`, or `mode` "url" with
    /// `message`, `url` (checked: https, or http to this machine) and `elicitationId`, where
    /// accepting means opening the link. Answer with `Hub::answer_elicitation`.
    ElicitationRequested {
        server: String,
        id: String,
        request: serde_json::Value,
    },
    /// That request is over (answered, or the server gave up): close its dialog.
    ElicitationFinished {
        server: String,
        id: String,
        action: String,
    },
    /// The server says the person finished what a URL-mode question sent them to do
    /// (`notifications/elicitation/complete`): `elicitation_id` is the question's own id (the
    /// `elicitationId` in its request), not Patchbay's.
    ElicitationCompleted {
        server: String,
        elicitation_id: String,
    },
    /// The server asks for a model's reply (`sampling/createMessage`): `request` is MCP's
    /// params (`messages`, `systemPrompt`, `maxTokens`...). The person writes the reply and
    /// approves it, or rejects; answer with `Hub::answer_sampling`.
    SamplingRequested {
        server: String,
        id: String,
        request: serde_json::Value,
    },
    /// That request is over: `approve`, `reject`, or `cancel` (the server gave up).
    SamplingFinished {
        server: String,
        id: String,
        action: String,
    },
    /// A notification the server sent (anything but progress), as its journal keeps it.
    Notice {
        server: String,
        notice: crate::notices::Notice,
    },
    /// A line the server's process wrote to stderr (or non-MCP text on stdout).
    ServerOutput { server: String, line: String },
    CallStarted {
        server: String,
        call_id: String,
        tool: String,
    },
    /// A call run as a task changed status: `working`, `input_required` (the server waits for
    /// an answer, such as a question to the person), `completed`, `failed` or `cancelled`, with
    /// the server's message.
    TaskStatus {
        server: String,
        call_id: String,
        task_id: String,
        status: String,
        message: Option<String>,
    },
    CallFinished {
        server: String,
        call_id: String,
        outcome: CallOutcome,
        #[cfg_attr(feature = "ts", ts(type = "number"))]
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
            | Event::ListChanged { server, .. }
            | Event::ResourceUpdated { server, .. }
            | Event::ElicitationRequested { server, .. }
            | Event::ElicitationFinished { server, .. }
            | Event::ElicitationCompleted { server, .. }
            | Event::SamplingRequested { server, .. }
            | Event::SamplingFinished { server, .. }
            | Event::Notice { server, .. }
            | Event::ServerOutput { server, .. }
            | Event::CallStarted { server, .. }
            | Event::TaskStatus { server, .. }
            | Event::CallFinished { server, .. }
            | Event::LoginUrl { server, .. }
            | Event::LoginFinished { server, .. } => server,
        }
    }
}

/// Events gathered over one frame, for a UI. Progress that a later progress of the same call in
/// the same batch supersedes is dropped (a bar shows only the newest value); every other event,
/// and the newest progress of each call, is kept in order. `lagged` says the subscriber fell
/// behind the bus and lost events: re-read the state.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct EventBatch {
    pub events: Vec<Event>,
    pub lagged: bool,
}

/// Waits for the next event, then gathers what else arrives within `window`. `None` once the
/// bus is gone. Thousands of progress notifications a second become one message per window.
pub async fn next_batch(
    rx: &mut broadcast::Receiver<Event>,
    window: std::time::Duration,
) -> Option<EventBatch> {
    use broadcast::error::RecvError;
    let mut batch = EventBatch {
        events: Vec::new(),
        lagged: false,
    };
    loop {
        match rx.recv().await {
            Ok(event) => {
                batch.events.push(event);
                break;
            }
            Err(RecvError::Lagged(_)) => batch.lagged = true,
            Err(RecvError::Closed) => return None,
        }
    }
    let deadline = tokio::time::Instant::now() + window;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(event)) => batch.events.push(event),
            Ok(Err(RecvError::Lagged(_))) => batch.lagged = true,
            Ok(Err(RecvError::Closed)) | Err(_) => break,
        }
    }
    batch.events = coalesce_progress(batch.events);
    Some(batch)
}

/// Keeps the last progress event of each call and everything else, in order.
fn coalesce_progress(events: Vec<Event>) -> Vec<Event> {
    let mut newest = std::collections::HashMap::new();
    for (i, event) in events.iter().enumerate() {
        if let Event::Progress {
            server, call_id, ..
        } = event
        {
            newest.insert((server.clone(), call_id.clone()), i);
        }
    }
    events
        .into_iter()
        .enumerate()
        .filter(|(i, event)| match event {
            Event::Progress {
                server, call_id, ..
            } => newest.get(&(server.clone(), call_id.clone())) == Some(i),
            _ => true,
        })
        .map(|(_, event)| event)
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn progress(call: &str, p: f64) -> Event {
        Event::Progress {
            server: "s".into(),
            call_id: call.into(),
            progress: p,
            total: Some(100.0),
            message: None,
        }
    }

    fn finished(call: &str) -> Event {
        Event::CallFinished {
            server: "s".into(),
            call_id: call.into(),
            outcome: CallOutcome::Ok,
            duration_ms: 1,
        }
    }

    #[tokio::test]
    async fn a_burst_of_progress_becomes_the_newest_value_per_call_and_nothing_else_is_lost() {
        let bus = EventBus::new();
        let mut rx = bus.subscribe();
        for i in 0..5000 {
            bus.publish(progress("a", i as f64));
            if i % 1000 == 0 {
                bus.publish(progress("b", i as f64));
            }
        }
        bus.publish(finished("a"));
        let batch = next_batch(&mut rx, Duration::from_millis(50))
            .await
            .unwrap();
        assert!(!batch.lagged);
        assert_eq!(
            batch.events,
            vec![progress("b", 4000.0), progress("a", 4999.0), finished("a")]
        );
    }

    #[tokio::test]
    async fn a_subscriber_that_fell_behind_is_told_so_and_the_last_events_still_arrive() {
        let bus = EventBus::new();
        let mut rx = bus.subscribe();
        for i in 0..(20 * 1024) {
            bus.publish(progress("a", i as f64));
        }
        bus.publish(finished("a"));
        let batch = next_batch(&mut rx, Duration::from_millis(50))
            .await
            .unwrap();
        assert!(batch.lagged);
        assert_eq!(batch.events.last(), Some(&finished("a")));
        assert_eq!(batch.events.len(), 2, "{:?}", batch.events);
    }

    #[tokio::test]
    async fn the_batch_ends_when_the_bus_does() {
        let bus = EventBus::new();
        let mut rx = bus.subscribe();
        bus.publish(finished("a"));
        drop(bus);
        let batch = next_batch(&mut rx, Duration::from_secs(5)).await.unwrap();
        assert_eq!(batch.events, vec![finished("a")]);
        assert!(next_batch(&mut rx, Duration::from_secs(5)).await.is_none());
    }
}
