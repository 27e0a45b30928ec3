//! A tool call the server chose to run as a task: the Tasks extension (SEP-2663,
//! `io.modelcontextprotocol/tasks`), which MCP 2026-07-28 moved tasks into. Patchbay declares
//! the extension, so a server may answer `tools/call` with a task (`resultType: "task"`) instead
//! of a result; task creation is the server's choice, not the caller's.
//!
//! The task is followed with `tasks/get` at the server's poll interval (within bounds). Its
//! questions (`input_required` with `inputRequests`) reach the person as every other question
//! does, and the answers go back with `tasks/update`, each key once (the server may show a key
//! still outstanding for a while after its answer). A cancel sends `tasks/cancel`.
//!
//! rmcp has the types and the three requests (`Peer::get_task` / `update_task` /
//! `cancel_task`), but its `call_tool` refuses a task rather than follow it, so the loop is here.
//! As for the 2025-11-25 tasks (`tasks.rs`), the call's own exchange is the only publisher of its
//! `TaskStatus` events.

use std::collections::HashSet;
use std::time::Duration;

use rmcp::model::{
    CancelTaskParams, GetTaskParams, InputRequests, Task, TaskPayload, UpdateTaskParams,
};
use rmcp::service::ServiceError;
use rmcp::{Peer, RoleClient};
use tokio_util::sync::CancellationToken;

use super::{CallContext, CallRequest, Ending, broken, tool_result};
use crate::events::Event;
use crate::session::{MAX_ROUNDS, Stopped};
use crate::store::CallOutcome;

/// Bounds on how often `tasks/get` is asked, whatever the server suggests.
const MIN_POLL: Duration = Duration::from_millis(100);
const DEFAULT_POLL: Duration = Duration::from_secs(1);
const MAX_POLL: Duration = Duration::from_secs(5);
/// How long a cancel waits for the server's acknowledgement (the person is waiting).
const CANCEL_WAIT: Duration = Duration::from_secs(5);

fn poll_of(task: &Task) -> Option<Duration> {
    task.poll_interval_ms
        .map(|ms| Duration::from_millis(ms).clamp(MIN_POLL, MAX_POLL))
}

/// What a person sees of a task: its status and message, told once per change.
#[derive(PartialEq)]
struct Shown {
    status: String,
    message: Option<String>,
}

impl Shown {
    fn of(task: &Task) -> Shown {
        let status = serde_json::to_value(task.status)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_else(|| "working".into());
        Shown {
            status,
            message: task
                .status_message
                .as_deref()
                .map(|m| crate::causes::bounded(m, crate::causes::SERVER_TEXT)),
        }
    }
}

/// Follows the task `created` (the server's answer to the call) to its end.
pub(crate) async fn follow(
    ctx: &CallContext,
    peer: &Peer<RoleClient>,
    call_id: &str,
    req: &CallRequest,
    timeout: Duration,
    cancel: &CancellationToken,
    created: Task,
) -> Ending {
    let server = &req.server;
    let task_id = created.task_id.clone();
    let mut shown = Shown::of(&created);
    publish(ctx, server, call_id, &task_id, &shown);
    let mut poll = poll_of(&created).unwrap_or(DEFAULT_POLL);
    // Keys of `inputRequests` already answered: never put to the person twice.
    let mut answered: HashSet<String> = HashSet::new();
    let mut rounds = 0usize;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = cancel.cancelled() => return cancelled(ctx, peer, call_id, server, &task_id).await,
        }
        let got = tokio::select! {
            r = tokio::time::timeout(timeout, peer.get_task(GetTaskParams::new(task_id.clone()))) => r,
            _ = cancel.cancelled() => return cancelled(ctx, peer, call_id, server, &task_id).await,
        };
        let detailed = match got {
            Ok(Ok(got)) => got.task,
            Ok(Err(ServiceError::McpError(e))) => {
                return failed(format!(
                    "server '{server}' no longer knows task {task_id} (it may have outlived the time the server keeps tasks): {}",
                    crate::causes::bounded(&e.message, crate::causes::SERVER_TEXT)
                ));
            }
            Ok(Err(e)) => return broken(ctx, server, &e),
            Err(_) => {
                return (
                    CallOutcome::TimedOut,
                    None,
                    Some(format!(
                        "server '{server}' did not answer tasks/get for {}s; stopped following task {task_id} (raise the timeout with --timeout)",
                        timeout.as_secs_f64()
                    )),
                );
            }
        };
        poll = poll_of(&detailed.task).unwrap_or(poll);
        let now = Shown::of(&detailed.task);
        if now != shown {
            shown = now;
            publish(ctx, server, call_id, &task_id, &shown);
        }
        match detailed.payload {
            TaskPayload::Completed { result } => {
                return tool_result(serde_json::Value::Object(result));
            }
            TaskPayload::Failed { error } => {
                let message = error
                    .get("message")
                    .and_then(|m| m.as_str())
                    .unwrap_or("no reason given");
                return failed(format!(
                    "server '{server}': the task for '{}' failed: {}",
                    req.tool,
                    crate::causes::bounded(message, crate::causes::SERVER_TEXT)
                ));
            }
            TaskPayload::Cancelled => {
                return (
                    CallOutcome::Cancelled,
                    None,
                    Some(format!("server '{server}' cancelled the task")),
                );
            }
            TaskPayload::InputRequired { input_requests } => {
                let fresh: InputRequests = input_requests
                    .into_iter()
                    .filter(|(key, _)| !answered.contains(key))
                    .collect();
                if fresh.is_empty() {
                    continue;
                }
                // The same bound as a request's rounds: a task that keeps asking is stuck.
                if rounds == MAX_ROUNDS {
                    let _ = tokio::time::timeout(
                        CANCEL_WAIT,
                        peer.cancel_task(CancelTaskParams::new(task_id.clone())),
                    )
                    .await;
                    return failed(
                        Stopped::TooManyRounds {
                            server: server.clone(),
                        }
                        .to_string(),
                    );
                }
                rounds += 1;
                answered.extend(fresh.keys().cloned());
                let responses = match ctx.session.answer_inputs(fresh, cancel).await {
                    Ok(responses) => responses,
                    Err(Stopped::Cancelled) => {
                        return cancelled(ctx, peer, call_id, server, &task_id).await;
                    }
                    Err(stopped) => {
                        let _ = tokio::time::timeout(
                            CANCEL_WAIT,
                            peer.cancel_task(CancelTaskParams::new(task_id.clone())),
                        )
                        .await;
                        return failed(stopped.to_string());
                    }
                };
                let update = UpdateTaskParams::new(task_id.clone(), responses);
                match tokio::time::timeout(timeout, peer.update_task(update)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(ServiceError::McpError(e))) => {
                        return failed(format!(
                            "server '{server}' refused the answers for task {task_id}: {}",
                            crate::causes::bounded(&e.message, crate::causes::SERVER_TEXT)
                        ));
                    }
                    Ok(Err(e)) => return broken(ctx, server, &e),
                    Err(_) => {
                        return (
                            CallOutcome::TimedOut,
                            None,
                            Some(format!(
                                "server '{server}' did not take the answers for task {task_id} within {}s",
                                timeout.as_secs_f64()
                            )),
                        );
                    }
                }
            }
            // Working, and statuses a later revision may add: keep looking.
            _ => {}
        }
    }
}

fn failed(message: String) -> Ending {
    (CallOutcome::Failed, None, Some(message))
}

/// The person cancelled: `tasks/cancel` (acknowledged, not awaited for the task to stop; the
/// server cancels cooperatively), and the call ends as cancelled.
async fn cancelled(
    ctx: &CallContext,
    peer: &Peer<RoleClient>,
    call_id: &str,
    server: &str,
    task_id: &str,
) -> Ending {
    let _ = tokio::time::timeout(
        CANCEL_WAIT,
        peer.cancel_task(CancelTaskParams::new(task_id.to_string())),
    )
    .await;
    let shown = Shown {
        status: "cancelled".into(),
        message: Some("cancelled by the user".into()),
    };
    publish(ctx, server, call_id, task_id, &shown);
    (
        CallOutcome::Cancelled,
        None,
        Some("cancelled by the user".into()),
    )
}

fn publish(ctx: &CallContext, server: &str, call_id: &str, task_id: &str, shown: &Shown) {
    ctx.bus.publish(Event::TaskStatus {
        server: server.into(),
        call_id: call_id.into(),
        task_id: task_id.into(),
        status: shown.status.clone(),
        message: shown.message.clone(),
    });
}
