//! A tool call run as a task (SEP-1686, MCP 2025-11-25): `tools/call` with a `task` parameter
//! answers at once with a task; the task's status is followed with `tasks/get` (at the
//! server's poll interval, and at once on `notifications/tasks/status`), its result fetched with
//! `tasks/result`, and a cancel sends `tasks/cancel`.
//!
//! rmcp models the later Tasks extension (SEP-2663), not this one, so the requests go out as
//! custom requests and their answers are read as JSON.
//!
//! Who owns what: the call's own exchange (this module) is the only publisher of its
//! `TaskStatus` events, so each status is told once and in order. `tasks/result` is asked for
//! as soon as the task exists: it waits until the task ends and, meanwhile, carries the
//! server's questions for the task (elicitation with `input_required`), which the session's
//! client handler answers as usual.

use std::time::Duration;

use rmcp::model::{ClientRequest, CustomRequest, RequestId, ServerResult};
use rmcp::service::{PeerRequestOptions, ServiceError};
use rmcp::{Peer, RoleClient};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::calls::{CallContext, CallRequest, Ending, lost, send_cancelled};
use crate::events::Event;
use crate::store::CallOutcome;

/// How long the server is asked to keep a task's result after it ends.
const TASK_TTL_MS: u64 = 10 * 60 * 1000;
/// Bounds on how often `tasks/get` is asked, whatever the server suggests.
const MIN_POLL: Duration = Duration::from_millis(250);
const MAX_POLL: Duration = Duration::from_secs(5);

/// The parts of a task Patchbay shows.
#[derive(Debug, Clone, PartialEq)]
struct Status {
    status: String,
    message: Option<String>,
    poll: Duration,
}

impl Status {
    fn read(task: &Value) -> Option<(String, Status)> {
        let id = task.get("taskId")?.as_str()?.to_string();
        let status = task.get("status")?.as_str()?.to_string();
        let message = task
            .get("statusMessage")
            .and_then(Value::as_str)
            .map(String::from);
        // `pollInterval` in SEP-1686; `pollIntervalMs` where rmcp re-shaped the answer.
        let poll = task
            .get("pollInterval")
            .or_else(|| task.get("pollIntervalMs"))
            .and_then(Value::as_u64)
            .map(Duration::from_millis)
            .unwrap_or(Duration::from_secs(1))
            .clamp(MIN_POLL, MAX_POLL);
        Some((
            id,
            Status {
                status,
                message,
                poll,
            },
        ))
    }

    fn terminal(&self) -> bool {
        matches!(self.status.as_str(), "completed" | "failed" | "cancelled")
    }
}

fn custom(method: &str, params: Value) -> ClientRequest {
    ClientRequest::CustomRequest(CustomRequest::new(method, Some(params)))
}

fn to_json(result: ServerResult) -> Value {
    serde_json::to_value(result).unwrap_or(Value::Null)
}

/// Runs `req` as a task on `peer` to its end.
pub(crate) async fn exchange_task(
    ctx: &CallContext,
    peer: Peer<RoleClient>,
    call_id: &str,
    req: &CallRequest,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Ending {
    let server = &req.server;
    let failed = |message: String| (CallOutcome::Failed, None, Some(message));
    let params = json!({
        "name": req.tool,
        "arguments": req.arguments.clone().unwrap_or_default(),
        "task": { "ttl": TASK_TTL_MS },
    });
    let created = tokio::select! {
        r = tokio::time::timeout(timeout, peer.send_request(custom("tools/call", params))) => r,
        _ = cancel.cancelled() => {
            return (CallOutcome::Cancelled, None, Some("cancelled by the user before the task started".into()));
        }
    };
    let created = match created {
        Ok(Ok(result)) => to_json(result),
        Ok(Err(ServiceError::McpError(e))) => {
            return failed(format!(
                "server '{server}' refused to run '{}' as a task: {}",
                req.tool, e.message
            ));
        }
        Ok(Err(e)) => {
            ctx.session.request_failed(&e);
            return failed(lost(server, &e));
        }
        Err(_) => {
            return failed(format!(
                "server '{server}' did not start the task within {}s",
                timeout.as_secs_f64()
            ));
        }
    };
    // A server that ignores the task parameter answers with the tool's result itself.
    let Some((task_id, mut status)) = created.get("task").and_then(Status::read) else {
        if created.get("content").is_some() {
            return crate::calls::tool_result(created);
        }
        return failed(format!(
            "server '{server}' answered a task-augmented call with neither a task nor a result"
        ));
    };
    publish(ctx, server, call_id, &task_id, &status);

    // Told of status changes by the server's notifications, as well as by polling.
    let (nudge_tx, mut nudged) = mpsc::unbounded_channel();
    let registry = ctx.session.calls();
    registry.watch_task(&task_id, nudge_tx);
    let ending = follow(
        ctx,
        &peer,
        call_id,
        req,
        timeout,
        cancel,
        &task_id,
        &mut status,
        &mut nudged,
    )
    .await;
    registry.unwatch_task(&task_id);
    ending
}

#[allow(clippy::too_many_arguments)]
async fn follow(
    ctx: &CallContext,
    peer: &Peer<RoleClient>,
    call_id: &str,
    req: &CallRequest,
    timeout: Duration,
    cancel: &CancellationToken,
    task_id: &str,
    status: &mut Status,
    nudged: &mut mpsc::UnboundedReceiver<()>,
) -> Ending {
    let server = &req.server;
    let result = match peer
        .send_cancellable_request(
            custom("tasks/result", json!({ "taskId": task_id })),
            PeerRequestOptions::no_options(),
        )
        .await
    {
        Ok(handle) => handle,
        Err(e) => {
            ctx.session.request_failed(&e);
            return (CallOutcome::Failed, None, Some(lost(server, &e)));
        }
    };
    let result_id: RequestId = result.id.clone();
    let mut answer = result.rx;
    let mut next_poll = tokio::time::Instant::now() + status.poll;
    loop {
        tokio::select! {
            biased;
            r = &mut answer => {
                let ending = ended(ctx, server, &req.tool, r, status);
                // The result can overtake the poll that would have seen the end: tell it here.
                if !status.terminal() {
                    let last = match ending.0 {
                        CallOutcome::Ok | CallOutcome::ToolError => "completed",
                        CallOutcome::Cancelled => "cancelled",
                        _ => "failed",
                    };
                    *status = Status { status: last.into(), message: None, poll: status.poll };
                    publish(ctx, server, call_id, task_id, status);
                }
                return ending;
            }
            _ = cancel.cancelled() => {
                let _ = tokio::time::timeout(
                    timeout,
                    peer.send_request(custom("tasks/cancel", json!({ "taskId": task_id }))),
                )
                .await;
                send_cancelled(peer, result_id, "cancelled by the user").await;
                let cancelled = Status { status: "cancelled".into(), message: Some("cancelled by the user".into()), poll: status.poll };
                if cancelled != *status {
                    publish(ctx, server, call_id, task_id, &cancelled);
                }
                return (CallOutcome::Cancelled, None, Some("cancelled by the user".into()));
            }
            _ = tokio::time::sleep_until(next_poll), if !status.terminal() => {}
            Some(()) = nudged.recv() => {}
        }
        let got = tokio::time::timeout(
            timeout,
            peer.send_request(custom("tasks/get", json!({ "taskId": task_id }))),
        )
        .await;
        match got {
            Ok(Ok(r)) => {
                if let Some((_, now)) = Status::read(&to_json(r))
                    && now != *status
                {
                    *status = now;
                    publish(ctx, server, call_id, task_id, status);
                }
            }
            Ok(Err(ServiceError::McpError(e))) => {
                send_cancelled(peer, result_id, "the task is gone").await;
                return (
                    CallOutcome::Failed,
                    None,
                    Some(format!(
                        "server '{server}' no longer knows task {task_id}: {}",
                        e.message
                    )),
                );
            }
            Ok(Err(e)) => {
                ctx.session.request_failed(&e);
                return (CallOutcome::Failed, None, Some(lost(server, &e)));
            }
            Err(_) => {
                send_cancelled(peer, result_id, "timed out").await;
                return (
                    CallOutcome::TimedOut,
                    None,
                    Some(format!(
                        "server '{server}' did not answer tasks/get for {}s; stopped following task {task_id}",
                        timeout.as_secs_f64()
                    )),
                );
            }
        }
        next_poll = tokio::time::Instant::now() + status.poll;
    }
}

/// `tasks/result` answered: the tool's result, or why there is none.
fn ended(
    ctx: &CallContext,
    server: &str,
    tool: &str,
    answer: Result<Result<ServerResult, ServiceError>, tokio::sync::oneshot::error::RecvError>,
    status: &Status,
) -> Ending {
    match answer {
        Ok(Ok(result)) => crate::calls::tool_result(to_json(result)),
        Ok(Err(ServiceError::McpError(e))) => {
            let why = if status.status == "cancelled" {
                (CallOutcome::Cancelled, "the task was cancelled")
            } else {
                (CallOutcome::Failed, "the task failed")
            };
            (
                why.0,
                None,
                Some(format!(
                    "server '{server}': {} ('{tool}'): {}",
                    why.1, e.message
                )),
            )
        }
        Ok(Err(e)) => {
            ctx.session.request_failed(&e);
            (CallOutcome::Failed, None, Some(lost(server, &e)))
        }
        Err(_) => {
            ctx.session.suspect();
            (CallOutcome::Failed, None, Some(ctx.session.lost_message()))
        }
    }
}

fn publish(ctx: &CallContext, server: &str, call_id: &str, task_id: &str, status: &Status) {
    ctx.bus.publish(Event::TaskStatus {
        server: server.into(),
        call_id: call_id.into(),
        task_id: task_id.into(),
        status: status.status.clone(),
        message: status.message.clone(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_is_read_from_either_shape_and_polling_stays_within_bounds() {
        let (id, s) = Status::read(&json!({"taskId": "t1", "status": "working",
            "statusMessage": "Gathering", "pollInterval": 10}))
        .unwrap();
        assert_eq!(id, "t1");
        assert_eq!(s.message.as_deref(), Some("Gathering"));
        assert_eq!(s.poll, MIN_POLL);
        assert!(!s.terminal());
        let (_, s) = Status::read(&json!({"taskId": "t1", "status": "completed",
            "pollIntervalMs": 60_000}))
        .unwrap();
        assert_eq!(s.poll, MAX_POLL);
        assert!(s.terminal());
        assert!(Status::read(&json!({"status": "working"})).is_none());
    }
}
