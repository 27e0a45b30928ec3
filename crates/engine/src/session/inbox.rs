//! The session's inbox: what a server sends besides answers. Notifications are routed to the
//! running call they belong to and journaled for a person; the server's questions to the person
//! (elicitation, sampling) wait here for an answer. Calls (`calls/`) register here; the session
//! owns it and feeds it, and knows nothing of calls.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use rmcp::model::{GetMeta, ProgressNotificationParam, ProgressToken, ServerNotification};
use tokio::sync::mpsc;

use crate::elicitation::Elicitations;
use crate::events::{Event, EventBus};
use crate::notices::Notices;
use crate::sampling::Samplings;

/// A progress notification that arrived before its call registered (the token is known to the
/// server as soon as the request is sent); kept briefly so no progress is ever lost.
const UNCLAIMED_PROGRESS: usize = 64;

struct CallSlot {
    call_id: String,
    /// Each progress nudges the call's idle timeout.
    nudge: mpsc::UnboundedSender<()>,
}

/// What the server sends this session besides answers. Its notifications arrive through the
/// transport tap in wire order and go to the call they belong to (progress, by token; a task's
/// status, by task id), so events for one call are published in the order they arrived.
#[derive(Default)]
pub struct Inbox {
    routes: Mutex<Routes>,
    /// The other direction: the server's requests to the person, waiting for an answer.
    pub elicitations: Elicitations,
    pub samplings: Samplings,
    /// Every notification but progress, for a person reading along.
    pub notices: Notices,
}

/// Where a notification for a running call goes.
#[derive(Default)]
struct Routes {
    by_token: HashMap<ProgressToken, CallSlot>,
    unclaimed: VecDeque<ProgressNotificationParam>,
    /// Tasks being followed, by task id: a status notification makes their call look now.
    tasks: HashMap<String, mpsc::UnboundedSender<()>>,
}

impl Inbox {
    /// Routes the progress of `token` to the call `call_id` (with what arrived before it).
    pub(crate) fn register_call(
        &self,
        server: &str,
        bus: &EventBus,
        token: ProgressToken,
        call_id: &str,
        nudge: mpsc::UnboundedSender<()>,
    ) {
        let mut routes = self.routes.lock().unwrap();
        let (early, rest): (VecDeque<_>, VecDeque<_>) = routes
            .unclaimed
            .drain(..)
            .partition(|p| p.progress_token == token);
        routes.unclaimed = rest;
        for p in early {
            let _ = nudge.send(());
            bus.publish(progress_event(server, call_id, p));
        }
        routes.by_token.insert(
            token,
            CallSlot {
                call_id: call_id.to_string(),
                nudge,
            },
        );
    }

    pub(crate) fn unregister_call(&self, token: &ProgressToken) {
        self.routes.lock().unwrap().by_token.remove(token);
    }

    fn journal(&self, server: &str, bus: &EventBus, notification: &ServerNotification) {
        let wire = serde_json::to_value(notification).unwrap_or_default();
        let method = wire["method"].as_str().unwrap_or("(unknown)").to_string();
        let params = wire
            .get("params")
            .cloned()
            .unwrap_or(serde_json::Value::Null);
        let level = match notification {
            #[allow(deprecated)]
            ServerNotification::LoggingMessageNotification(n) => {
                serde_json::to_value(n.params.level)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
            }
            _ => None,
        };
        let notice = self.notices.record(&method, level, params);
        bus.publish(Event::Notice {
            server: server.to_string(),
            notice,
        });
    }

    pub(crate) fn watch_task(&self, task_id: &str, nudge: mpsc::UnboundedSender<()>) {
        self.routes
            .lock()
            .unwrap()
            .tasks
            .insert(task_id.to_string(), nudge);
    }

    pub(crate) fn unwatch_task(&self, task_id: &str) {
        self.routes.lock().unwrap().tasks.remove(task_id);
    }

    /// Called by the transport tap for every notification, in arrival order.
    pub fn observe(&self, server: &str, bus: &EventBus, notification: &ServerNotification) {
        if !matches!(notification, ServerNotification::ProgressNotification(_)) {
            self.journal(server, bus, notification);
        }
        match notification {
            ServerNotification::ProgressNotification(n) => {
                let mut routes = self.routes.lock().unwrap();
                match routes.by_token.get(&n.params.progress_token) {
                    Some(slot) => {
                        let _ = slot.nudge.send(());
                        bus.publish(progress_event(server, &slot.call_id, n.params.clone()));
                    }
                    None => {
                        if routes.unclaimed.len() == UNCLAIMED_PROGRESS {
                            routes.unclaimed.pop_front();
                        }
                        routes.unclaimed.push_back(n.params.clone());
                    }
                }
            }
            // Deprecated by SEP-2577 for future revisions, but every current server uses it.
            #[allow(deprecated)]
            ServerNotification::LoggingMessageNotification(n) => {
                let routes = self.routes.lock().unwrap();
                // MCP does not say which request a log message belongs to; tie it to a call
                // only when that cannot be wrong.
                let call_id = match routes.by_token.values().collect::<Vec<_>>().as_slice() {
                    [only] => Some(only.call_id.clone()),
                    _ => None,
                };
                let level = serde_json::to_value(n.params.level)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_else(|| "info".into());
                bus.publish(Event::Log {
                    server: server.to_string(),
                    call_id,
                    level,
                    logger: n.params.logger.clone(),
                    data: n.params.data.clone(),
                });
            }
            // What came on a listen stream is told by the listen task, once rmcp has dropped
            // the cached list it changes (it does so only after this tap has seen it), so a
            // window that lists again on the event never gets the old list back.
            n if n.get_meta().subscription_id().is_some() => {}
            n if let Some(changed) = change_event(server, n) => bus.publish(changed),
            // SEP-1686's status notification; rmcp only knows the later one, so it is custom.
            ServerNotification::CustomNotification(n)
                if n.method == "notifications/tasks/status" =>
            {
                let task_id = n
                    .params
                    .as_ref()
                    .and_then(|p| p.get("taskId"))
                    .and_then(serde_json::Value::as_str);
                if let Some(task_id) = task_id
                    && let Some(nudge) = self.routes.lock().unwrap().tasks.get(task_id)
                {
                    let _ = nudge.send(());
                }
            }
            // The person finished what a URL-mode question sent them to do (the server says so).
            ServerNotification::CustomNotification(n)
                if n.method == "notifications/elicitation/complete" =>
            {
                if let Some(id) = n
                    .params
                    .as_ref()
                    .and_then(|p| p.get("elicitationId"))
                    .and_then(serde_json::Value::as_str)
                {
                    bus.publish(Event::ElicitationCompleted {
                        server: server.to_string(),
                        elicitation_id: id.to_string(),
                    });
                }
            }
            _ => {}
        }
    }
}

/// The event a list change or a resource update becomes.
pub(crate) fn change_event(server: &str, notification: &ServerNotification) -> Option<Event> {
    let server = server.to_string();
    Some(match notification {
        ServerNotification::ToolListChangedNotification(_) => Event::ToolsChanged { server },
        ServerNotification::ResourceListChangedNotification(_) => Event::ListChanged {
            server,
            list: "resources".into(),
        },
        ServerNotification::PromptListChangedNotification(_) => Event::ListChanged {
            server,
            list: "prompts".into(),
        },
        ServerNotification::ResourceUpdatedNotification(n) => Event::ResourceUpdated {
            server,
            uri: n.params.uri.clone(),
        },
        _ => return None,
    })
}

fn progress_event(server: &str, call_id: &str, p: ProgressNotificationParam) -> Event {
    Event::Progress {
        server: server.to_string(),
        call_id: call_id.to_string(),
        progress: p.progress,
        total: p.total,
        message: p.message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::CustomNotification;

    fn custom(method: &str, params: serde_json::Value) -> ServerNotification {
        ServerNotification::CustomNotification(CustomNotification::new(method, Some(params)))
    }

    #[test]
    fn a_task_status_notification_wakes_only_its_call_and_a_finished_link_is_told() {
        let inbox = Inbox::default();
        let bus = EventBus::new();
        let mut events = bus.subscribe();
        let (tx, mut rx) = mpsc::unbounded_channel();
        inbox.watch_task("t1", tx);
        let status = |id: &str| {
            custom(
                "notifications/tasks/status",
                serde_json::json!({"taskId": id, "status": "working"}),
            )
        };
        inbox.observe("s", &bus, &status("t2"));
        assert!(rx.try_recv().is_err(), "another task's status");
        inbox.observe("s", &bus, &status("t1"));
        assert!(rx.try_recv().is_ok());
        inbox.unwatch_task("t1");
        inbox.observe("s", &bus, &status("t1"));
        assert!(rx.try_recv().is_err(), "no longer followed");

        inbox.observe(
            "s",
            &bus,
            &custom(
                "notifications/elicitation/complete",
                serde_json::json!({"elicitationId": "pay-1"}),
            ),
        );
        // Each notification goes to the journal; the status ones publish nothing else.
        let published: Vec<Event> = std::iter::from_fn(|| events.try_recv().ok()).collect();
        let journal: Vec<&str> = published
            .iter()
            .filter_map(|e| match e {
                Event::Notice { notice, .. } => Some(notice.method.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            journal,
            [
                "notifications/tasks/status",
                "notifications/tasks/status",
                "notifications/tasks/status",
                "notifications/elicitation/complete"
            ]
        );
        let others: Vec<&Event> = published
            .iter()
            .filter(|e| !matches!(e, Event::Notice { .. }))
            .collect();
        assert_eq!(
            others,
            [&Event::ElicitationCompleted {
                server: "s".into(),
                elicitation_id: "pay-1".into()
            }]
        );
        assert_eq!(inbox.notices.all().len(), 4);
    }
}
