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

use super::handles::{one_line, usable};
use super::{
    CallContext, CallRequest, Ending, broken, gone, lost, refused, send_cancelled, tool_result,
};
use crate::events::Event;
use crate::store::CallOutcome;

/// How long the server is asked to keep a task (counted from its creation: a server may drop a
/// task at its TTL whatever its status, so this is generous; the server may grant less).
const TASK_TTL_MS: u64 = 24 * 60 * 60 * 1000;
/// Bounds on how often `tasks/get` is asked, whatever the server suggests.
const MIN_POLL: Duration = Duration::from_millis(250);
const DEFAULT_POLL: Duration = Duration::from_secs(1);
/// How long a cancel waits for a task being created to be named, so it can be cancelled too.
const CANCEL_WAIT: Duration = Duration::from_secs(5);
const MAX_POLL: Duration = Duration::from_secs(5);

/// The parts of a task Patchbay shows, and how often to ask.
#[derive(Debug, Clone)]
struct Status {
    status: String,
    message: Option<String>,
    /// `None` when the answer did not say (rmcp's reading of `tasks/get` drops it).
    poll: Option<Duration>,
}

impl Status {
    /// Whether a person would see a change.
    fn same_as(&self, other: &Status) -> bool {
        self.status == other.status && self.message == other.message
    }
}

impl Status {
    /// A task as the server described it; `None` when it is not one, or when its id is not one
    /// Patchbay will show or send back (see `handles`).
    fn read(task: &Value) -> Option<(String, Status)> {
        let id = task
            .get("taskId")?
            .as_str()
            .filter(|id| usable(id))?
            .to_string();
        // The statuses SEP-1686 defines, as one word; anything else is shown as "unknown".
        let status = match task.get("status")?.as_str()? {
            s @ ("working" | "input_required" | "completed" | "failed" | "cancelled") => s,
            _ => "unknown",
        }
        .to_string();
        let message = task
            .get("statusMessage")
            .and_then(Value::as_str)
            .map(one_line);
        // `pollInterval` in SEP-1686 (`pollIntervalMs` in the later extension, whose shape rmcp
        // reads `tasks/get` answers into, dropping the former).
        let poll = task
            .get("pollInterval")
            .or_else(|| task.get("pollIntervalMs"))
            .and_then(Value::as_u64)
            .map(|ms| Duration::from_millis(ms).clamp(MIN_POLL, MAX_POLL));
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
    let handle = match peer
        .send_cancellable_request(
            custom("tools/call", params),
            PeerRequestOptions::no_options(),
        )
        .await
    {
        Ok(handle) => handle,
        Err(e) => {
            ctx.session.request_failed(&e);
            return failed(lost(server, &e));
        }
    };
    let (request_id, mut answer) = (handle.id.clone(), handle.rx);
    let created = tokio::select! {
        r = tokio::time::timeout(timeout, &mut answer) => r,
        _ = cancel.cancelled() => {
            // The task may exist already at the server: let it say (briefly: the person is
            // waiting for the cancel), then cancel it there too.
            let late = tokio::time::timeout(timeout.min(CANCEL_WAIT), &mut answer).await;
            match late {
                Ok(Ok(Ok(r))) => {
                    if let Some((task_id, _)) = to_json(r).get("task").and_then(Status::read) {
                        cancel_task(&peer, &task_id, timeout).await;
                    }
                }
                Err(_) => send_cancelled(&peer, request_id, "cancelled by the user").await,
                _ => {}
            }
            return (CallOutcome::Cancelled, None, Some("cancelled by the user before the task started".into()));
        }
    };
    let created = match created {
        Ok(Ok(Ok(result))) => to_json(result),
        Ok(Ok(Err(ServiceError::McpError(e)))) => return refused(ctx, req, &e),
        Ok(Ok(Err(e))) => return broken(ctx, server, &e),
        Ok(Err(_)) => return gone(ctx),
        Err(_) => {
            send_cancelled(&peer, request_id, "timed out").await;
            return (
                CallOutcome::TimedOut,
                None,
                Some(format!(
                    "server '{server}' did not start the task within {}s; the request was withdrawn (raise the timeout with --timeout)",
                    timeout.as_secs_f64()
                )),
            );
        }
    };
    // A server that ignores the task parameter answers with the tool's result itself.
    let Some((task_id, mut status)) = created.get("task").and_then(Status::read) else {
        if created.get("content").is_some() {
            return tool_result(created);
        }
        return failed(format!(
            "server '{server}' answered a task-augmented call with neither a task nor a result"
        ));
    };
    publish(ctx, server, call_id, &task_id, &status);

    // Told of status changes by the server's notifications, as well as by polling.
    let (nudge_tx, mut nudged) = mpsc::unbounded_channel();
    let inbox = ctx.session.inbox();
    inbox.watch_task(&task_id, nudge_tx);
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
    inbox.unwatch_task(&task_id);
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
    // The server's suggestion from the task's creation; later answers may lack it.
    let mut poll = status.poll.unwrap_or(DEFAULT_POLL);
    let mut next_poll = tokio::time::Instant::now() + poll;
    // Once the task has ended, its result is due: waited for at most `timeout`.
    let mut result_due: Option<tokio::time::Instant> = None;
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
                if cancel_task(peer, task_id, timeout).await {
                    send_cancelled(peer, result_id, "cancelled by the user").await;
                    let cancelled = Status { status: "cancelled".into(), message: Some("cancelled by the user".into()), poll: None };
                    if !cancelled.same_as(status) {
                        publish(ctx, server, call_id, task_id, &cancelled);
                    }
                    return (CallOutcome::Cancelled, None, Some("cancelled by the user".into()));
                }
                // Too late: the task had ended. Its result says how, so wait for it.
                let r = match tokio::time::timeout(timeout, &mut answer).await {
                    Ok(r) => r,
                    Err(_) => return no_result(server, task_id, timeout),
                };
                return ended(ctx, server, &req.tool, r, status);
            }
            _ = tokio::time::sleep_until(next_poll), if !status.terminal() => {}
            _ = async { tokio::time::sleep_until(result_due.unwrap()).await }, if result_due.is_some() => {
                send_cancelled(peer, result_id, "no result").await;
                return no_result(server, task_id, timeout);
            }
            Some(()) = nudged.recv() => {
                // A burst of status notifications is one look.
                while nudged.try_recv().is_ok() {}
            }
        }
        let got = tokio::time::timeout(
            timeout,
            peer.send_request(custom("tasks/get", json!({ "taskId": task_id }))),
        )
        .await;
        match got {
            Ok(Ok(r)) => {
                if let Some((_, now)) = Status::read(&to_json(r)) {
                    poll = now.poll.unwrap_or(poll);
                    if !now.same_as(status) {
                        *status = now;
                        publish(ctx, server, call_id, task_id, status);
                    }
                }
            }
            Ok(Err(ServiceError::McpError(e))) => {
                send_cancelled(peer, result_id, "the task is gone").await;
                return (
                    CallOutcome::Failed,
                    None,
                    Some(format!(
                        "server '{server}' no longer knows task {task_id} (it may have outlived the time the server keeps tasks): {}",
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
        if status.terminal() && result_due.is_none() {
            result_due = Some(tokio::time::Instant::now() + timeout);
        }
        next_poll = tokio::time::Instant::now() + poll;
    }
}

fn no_result(server: &str, task_id: &str, timeout: Duration) -> Ending {
    (
        CallOutcome::TimedOut,
        None,
        Some(format!(
            "task {task_id} at server '{server}' ended, but its result did not come within {}s",
            timeout.as_secs_f64()
        )),
    )
}

/// `tasks/cancel`: true when the server cancelled the task (or no longer has it), false when it
/// refused because the task had already ended.
async fn cancel_task(peer: &Peer<RoleClient>, task_id: &str, timeout: Duration) -> bool {
    let answer = tokio::time::timeout(
        timeout,
        peer.send_request(custom("tasks/cancel", json!({ "taskId": task_id }))),
    )
    .await;
    match answer {
        Ok(Ok(r)) => Status::read(&to_json(r)).is_none_or(|(_, s)| s.status == "cancelled"),
        // Refused: SEP-1686 servers refuse to cancel a task in a terminal status.
        Ok(Err(ServiceError::McpError(_))) => false,
        // No answer: treat it as cancelled here; the server forgets the task at its TTL.
        _ => true,
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
        Ok(Ok(result)) => tool_result(to_json(result)),
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
        Ok(Err(e)) => broken(ctx, server, &e),
        Err(_) => gone(ctx),
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
        assert_eq!(s.poll, Some(MIN_POLL));
        assert!(!s.terminal());
        let (_, s) = Status::read(&json!({"taskId": "t1", "status": "completed",
            "pollIntervalMs": 60_000}))
        .unwrap();
        assert_eq!(s.poll, Some(MAX_POLL));
        assert!(s.terminal());
        assert!(Status::read(&json!({"status": "working"})).is_none());
        // What a server sends is checked: an id that could not be shown, a status no revision
        // has, a message of several lines.
        assert!(Status::read(&json!({"taskId": "t\n1", "status": "working"})).is_none());
        let (_, s) = Status::read(&json!({"taskId": "t1", "status": "done\nerror: x",
            "statusMessage": "line 1\nline 2"}))
        .unwrap();
        assert_eq!(s.status, "unknown");
        assert_eq!(s.message.as_deref(), Some("line 1 line 2"));
    }
}
