//! Engine events to the window: one `Channel` per subscription (ordered, and cheaper than
//! global events). Each message is one frame's worth of events with stale progress coalesced
//! away by the engine (`next_batch`), so thousands of progress notifications a second never
//! flood the webview, and the final state of every call still arrives.

use std::sync::Mutex;
use std::time::Duration;

use patchbay_engine::{EventBatch, Hub, next_batch};
use tauri::async_runtime::JoinHandle;
use tauri::ipc::Channel;

/// About one display frame.
const FRAME: Duration = Duration::from_millis(16);

/// The window's one live subscription. A reloaded page subscribes again; the old forwarder is
/// stopped then, so a reload never leaves a task sending into a dead channel.
#[derive(Default)]
pub struct Subscription(Mutex<Option<JoinHandle<()>>>);

impl Subscription {
    /// Forwards until the bus closes, the channel fails, or the next `replace`.
    pub fn replace(&self, hub: &Hub, channel: Channel<EventBatch>) {
        let mut rx = hub.subscribe();
        let task = tauri::async_runtime::spawn(async move {
            while let Some(batch) = next_batch(&mut rx, FRAME).await {
                if channel.send(batch).is_err() {
                    break;
                }
            }
        });
        if let Some(old) = self.0.lock().unwrap().replace(task) {
            old.abort();
        }
    }
}
