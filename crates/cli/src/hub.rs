//! What every command family shares about the hub: opening it, connecting a server before
//! using it, printing a server's state, and reading the event bus.

use std::path::PathBuf;

use patchbay_engine::{Event, Hub, HubError, HubOptions, ServerState};
use serde_json::Value;
use tokio::sync::broadcast;

use crate::output::Out;

/// The hub over `data_dir`, else the platform's data dir; the error is for the person.
pub async fn open(data_dir: Option<PathBuf>) -> Result<Hub, String> {
    let data_dir = match data_dir {
        Some(dir) => dir,
        None => HubOptions::default_data_dir().map_err(|e| e.to_string())?,
    };
    Hub::open(HubOptions::new(data_dir))
        .await
        .map_err(|e| e.to_string())
}

/// Connects for a command that needs the server; prints only a failure.
pub async fn connect_quietly(hub: &Hub, out: Out, name: &str) -> Result<bool, HubError> {
    match hub.connect_and_wait(name).await? {
        ServerState::Connected => Ok(true),
        state => {
            state_line(out, name, &state);
            Ok(false)
        }
    }
}

/// A server's state, as the `state` event (JSON) or `NAME: state` (text).
pub fn state_line(out: Out, server: &str, state: &ServerState) {
    out.emit(
        serde_json::to_value(Event::State {
            server: server.to_string(),
            state: state.clone(),
        })
        .unwrap_or(Value::Null),
        || match state {
            ServerState::Error { message, .. } => format!("{server}: error: {message}"),
            other => format!("{server}: {}", other.name()),
        },
    );
}

/// The next event, or `None` once the hub is gone. Events this reader fell behind on are
/// skipped; with `dropped` (what they were, e.g. "progress events") the person is told.
pub async fn next_event(
    events: &mut broadcast::Receiver<Event>,
    out: Out,
    dropped: Option<&str>,
) -> Option<Event> {
    loop {
        match events.recv().await {
            Ok(event) => return Some(event),
            Err(broadcast::error::RecvError::Lagged(n)) => {
                if let Some(what) = dropped {
                    out.error(&format!(
                        "{n} {what} were dropped because the terminal was too slow"
                    ));
                }
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        }
    }
}
