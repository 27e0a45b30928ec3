//! A tool call the server chose to run as a task: the Tasks extension (SEP-2663,
//! `io.modelcontextprotocol/tasks`), which MCP 2026-07-28 moved tasks into. Patchbay declares
//! the extension, so a server may answer `tools/call` with a task (`resultType: "task"`) instead
//! of a result; task creation is the server's choice, not the caller's.
//!
//! The task is followed with `tasks/get` at the server's poll interval (within bounds). Its
//! questions (`input_required` with `inputRequests`) reach the person as every other question
//! does, and the answers go back with `tasks/update`, each key once (the server may show a key
//! still outstanding for a while after its answer; past the call's timeout that is "the server
//! did not take the answers"). While the person answers, the task is still watched: a task
//! that ends meanwhile closes its questions. A cancel sends `tasks/cancel`, and so does every
//! other way of giving up on a task that has not ended, so nothing goes on running unseen.
//! The whole is bounded by the task's own time to live (24 h at most).
//!
//! Everything the server says is checked first: a task id or question key that is long or holds
//! control characters ends the call (it has to be sent back exactly, so it cannot be shortened);
//! a status message is one bounded line; a result must be a tool result.
//!
//! rmcp has the types and the three requests (`Peer::get_task` / `update_task` /
//! `cancel_task`), but its `call_tool` refuses a task rather than follow it, so the loop is here.
//! As for the 2025-11-25 tasks (`tasks.rs`), the call's own exchange is the only publisher of its
//! `TaskStatus` events.

use std::collections::HashSet;
use std::time::Duration;

use rmcp::model::{
    CallToolResult, CancelTaskParams, DetailedTask, GetTaskParams, InputRequests, Task,
    TaskPayload, UpdateTaskParams,
};
use rmcp::service::ServiceError;
use rmcp::{Peer, RoleClient};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::handles::{MAX_HANDLE, one_line, usable};
use super::{CallContext, CallRequest, Ending, broken, tool_result};
use crate::events::Event;
use crate::session::{MAX_ROUNDS, Stopped};
use crate::store::CallOutcome;

/// Bounds on how often `tasks/get` is asked, whatever the server suggests (as for 2025 tasks).
const MIN_POLL: Duration = Duration::from_millis(250);
const DEFAULT_POLL: Duration = Duration::from_secs(1);
const MAX_POLL: Duration = Duration::from_secs(5);
/// How long a cancel waits for the server's acknowledgement (the person is waiting).
const CANCEL_WAIT: Duration = Duration::from_secs(5);
/// The longest a task is followed: its time to live when it has one, and never more than this.
const LONGEST: Duration = Duration::from_secs(24 * 60 * 60);
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
            message: task.status_message.as_deref().map(one_line),
        }
    }
}

/// One follow of one task: what the call needs to talk about it.
struct Following<'a> {
    ctx: &'a CallContext,
    peer: &'a Peer<RoleClient>,
    call_id: &'a str,
    req: &'a CallRequest,
    timeout: Duration,
    task_id: String,
    shown: Shown,
}

/// How following ended, before the task is let go.
enum Stop {
    /// The task ended at the server (or the server forgot it): nothing to cancel.
    Ended(Ending),
    /// Patchbay gives up on a task that has not ended: it is cancelled at the server first.
    GiveUp(Ending),
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
    if !usable(&created.task_id) {
        // Not sent back: a handle this odd is refused, not echoed. The server forgets the task
        // at its time to live.
        return failed(format!(
            "server '{server}' started a task for '{}' with an id Patchbay will not use (over {MAX_HANDLE} characters, or with control characters)",
            req.tool
        ));
    }
    let mut f = Following {
        ctx,
        peer,
        call_id,
        req,
        timeout,
        task_id: created.task_id.clone(),
        shown: Shown::of(&created),
    };
    f.publish();
    let lives = created
        .ttl_ms
        .map_or(LONGEST, |ms| Duration::from_millis(ms).min(LONGEST));
    let stop = tokio::select! {
        stop = f.run(&created, cancel) => stop,
        _ = tokio::time::sleep(lives) => Stop::GiveUp((
            CallOutcome::TimedOut,
            None,
            Some(format!(
                "task {} at server '{server}' did not end within {} s, the time it was to live; it was cancelled",
                f.task_id,
                lives.as_secs()
            )),
        )),
    };
    match stop {
        Stop::Ended(ending) => ending,
        Stop::GiveUp(ending) => {
            f.cancel_at_server().await;
            let status = if ending.0 == CallOutcome::Cancelled {
                "cancelled by the user"
            } else {
                "Patchbay stopped following it"
            };
            f.shown = Shown {
                status: "cancelled".into(),
                message: Some(status.into()),
            };
            f.publish();
            ending
        }
    }
}

impl Following<'_> {
    async fn run(&mut self, created: &Task, cancel: &CancellationToken) -> Stop {
        let server = self.req.server.clone();
        let mut poll = poll_of(created).unwrap_or(DEFAULT_POLL);
        // Keys of `inputRequests` already answered: never put to the person twice.
        let mut answered: HashSet<String> = HashSet::new();
        // Since when the task has shown only answered questions (the server is slow to take
        // them, or lost them).
        let mut waiting_since: Option<Instant> = None;
        let mut rounds = 0usize;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = cancel.cancelled() => return cancelled(),
            }
            let detailed = match self.look(cancel).await {
                Ok(detailed) => detailed,
                Err(stop) => return stop,
            };
            poll = poll_of(&detailed.task).unwrap_or(poll);
            let input_requests = match detailed.payload {
                TaskPayload::Completed { result } => {
                    return Stop::Ended(
                        match serde_json::from_value::<CallToolResult>(serde_json::Value::Object(
                            result,
                        )) {
                            Ok(result) => {
                                tool_result(serde_json::to_value(result).unwrap_or_default())
                            }
                            Err(_) => failed(format!(
                                "server '{server}' ended the task for '{}' with something that is not a tool result",
                                self.req.tool
                            )),
                        },
                    );
                }
                TaskPayload::Failed { error } => {
                    let message = error
                        .get("message")
                        .and_then(|m| m.as_str())
                        .unwrap_or("no reason given");
                    return Stop::Ended(failed(format!(
                        "server '{server}': the task for '{}' failed: {}",
                        self.req.tool,
                        crate::causes::bounded(message, crate::causes::SERVER_TEXT)
                    )));
                }
                TaskPayload::Cancelled => {
                    return Stop::Ended((
                        CallOutcome::Cancelled,
                        None,
                        Some(format!("server '{server}' cancelled the task")),
                    ));
                }
                TaskPayload::InputRequired { input_requests } => input_requests,
                // Working, and statuses a later revision may add: keep looking.
                _ => {
                    waiting_since = None;
                    continue;
                }
            };
            if input_requests.keys().any(|k| !usable(k)) {
                return Stop::GiveUp(failed(format!(
                    "server '{server}' asked something under a key Patchbay will not use (over {MAX_HANDLE} characters, or with control characters)"
                )));
            }
            let fresh: InputRequests = input_requests
                .into_iter()
                .filter(|(key, _)| !answered.contains(key))
                .collect();
            if fresh.is_empty() {
                // Only questions already answered: the server takes its time (its ack is
                // eventually consistent), but not forever.
                let since = *waiting_since.get_or_insert_with(Instant::now);
                if since.elapsed() > self.timeout {
                    return Stop::GiveUp(self.answers_not_taken());
                }
                continue;
            }
            waiting_since = None;
            // The same bound as a request's rounds: a task that keeps asking is stuck.
            if rounds == MAX_ROUNDS {
                return Stop::GiveUp(failed(
                    Stopped::TooManyRounds {
                        server: server.clone(),
                    }
                    .to_string(),
                ));
            }
            rounds += 1;
            answered.extend(fresh.keys().cloned());
            let keys: Vec<String> = fresh.keys().cloned().collect();
            let responses = match self.ask(fresh, &keys, poll, cancel).await {
                Ok(responses) => responses,
                Err(stop) => return stop,
            };
            if let Err(stop) = self.update(responses, cancel).await {
                return stop;
            }
        }
    }

    /// `tasks/get`, shown to the person when it changed.
    async fn look(&mut self, cancel: &CancellationToken) -> Result<DetailedTask, Stop> {
        let server = &self.req.server;
        let got = tokio::select! {
            r = tokio::time::timeout(self.timeout, self.peer.get_task(GetTaskParams::new(self.task_id.clone()))) => r,
            _ = cancel.cancelled() => return Err(cancelled()),
        };
        let detailed = match got {
            Ok(Ok(got)) => got.task,
            Ok(Err(ServiceError::McpError(e))) => {
                return Err(Stop::GiveUp(failed(format!(
                    "server '{server}' no longer answers for task {} (it may have outlived the time the server keeps tasks): {}",
                    self.task_id,
                    crate::causes::bounded(&e.message, crate::causes::SERVER_TEXT)
                ))));
            }
            Ok(Err(ServiceError::UnexpectedResponse)) => {
                return Err(Stop::GiveUp(failed(format!(
                    "server '{server}' answered tasks/get with something that is not a task"
                ))));
            }
            Ok(Err(e)) => return Err(Stop::GiveUp(broken(self.ctx, server, &e))),
            Err(_) => {
                return Err(Stop::GiveUp((
                    CallOutcome::TimedOut,
                    None,
                    Some(format!(
                        "server '{server}' did not answer tasks/get for {} s; task {} was cancelled (raise the timeout with --timeout)",
                        self.timeout.as_secs_f64(),
                        self.task_id
                    )),
                )));
            }
        };
        let now = Shown::of(&detailed.task);
        if now != self.shown {
            self.shown = now;
            self.publish();
        }
        Ok(detailed)
    }

    /// Puts the round's questions to the person. The task is watched meanwhile: if it leaves
    /// `input_required` for these keys (it ended, or moved on), the questions close.
    async fn ask(
        &mut self,
        fresh: InputRequests,
        keys: &[String],
        poll: Duration,
        cancel: &CancellationToken,
    ) -> Result<rmcp::model::InputResponses, Stop> {
        let server = self.req.server.clone();
        let session = self.ctx.session.clone();
        let answering = session.answer_inputs(fresh, cancel);
        tokio::pin!(answering);
        loop {
            tokio::select! {
                answered = &mut answering => return match answered {
                    Ok(responses) => Ok(responses),
                    Err(Stopped::Cancelled) => Err(cancelled()),
                    Err(stopped) => Err(Stop::GiveUp(failed(stopped.to_string()))),
                },
                _ = tokio::time::sleep(poll) => {}
            }
            let detailed = self.look(cancel).await?;
            let still_asked = match &detailed.payload {
                TaskPayload::InputRequired { input_requests } => {
                    keys.iter().any(|k| input_requests.contains_key(k))
                }
                _ => false,
            };
            if !still_asked {
                // Dropping `answering` closes the questions in the window.
                return Err(match detailed.payload {
                    TaskPayload::Completed { .. }
                    | TaskPayload::Failed { .. }
                    | TaskPayload::Cancelled => Stop::Ended(failed(format!(
                        "server '{server}' ended task {} while its question was open; run the call again",
                        self.task_id
                    ))),
                    _ => Stop::GiveUp(failed(format!(
                        "server '{server}' withdrew the question of task {} before it was answered",
                        self.task_id
                    ))),
                });
            }
        }
    }

    /// `tasks/update` with the person's answers; Cancel still works while it is under way.
    async fn update(
        &self,
        responses: rmcp::model::InputResponses,
        cancel: &CancellationToken,
    ) -> Result<(), Stop> {
        let server = &self.req.server;
        let update = UpdateTaskParams::new(self.task_id.clone(), responses);
        let sent = tokio::select! {
            r = tokio::time::timeout(self.timeout, self.peer.update_task(update)) => r,
            _ = cancel.cancelled() => return Err(cancelled()),
        };
        match sent {
            Ok(Ok(())) => Ok(()),
            Ok(Err(ServiceError::McpError(e))) => Err(Stop::GiveUp(failed(format!(
                "server '{server}' refused the answers for task {}: {}",
                self.task_id,
                crate::causes::bounded(&e.message, crate::causes::SERVER_TEXT)
            )))),
            Ok(Err(e)) => Err(Stop::GiveUp(broken(self.ctx, server, &e))),
            Err(_) => Err(Stop::GiveUp(self.answers_not_taken())),
        }
    }

    /// The server kept the person's answers waiting past the call's timeout.
    fn answers_not_taken(&self) -> Ending {
        (
            CallOutcome::TimedOut,
            None,
            Some(format!(
                "server '{}' did not take the answers for task {} within {} s",
                self.req.server,
                self.task_id,
                self.timeout.as_secs_f64()
            )),
        )
    }

    /// `tasks/cancel`, acknowledged or not within `CANCEL_WAIT` (the server cancels
    /// cooperatively; an ack does not mean it has stopped).
    async fn cancel_at_server(&self) {
        let _ = tokio::time::timeout(
            CANCEL_WAIT,
            self.peer
                .cancel_task(CancelTaskParams::new(self.task_id.clone())),
        )
        .await;
    }

    fn publish(&self) {
        self.ctx.bus.publish(Event::TaskStatus {
            server: self.req.server.clone(),
            call_id: self.call_id.into(),
            task_id: self.task_id.clone(),
            status: self.shown.status.clone(),
            message: self.shown.message.clone(),
        });
    }
}

fn failed(message: String) -> Ending {
    (CallOutcome::Failed, None, Some(message))
}

/// The person cancelled: the task is cancelled at the server, and the call ends as cancelled.
fn cancelled() -> Stop {
    Stop::GiveUp((
        CallOutcome::Cancelled,
        None,
        Some("cancelled by the user".into()),
    ))
}
