//! Tool calls: progress routed to the call that asked for it, cancel, a timeout that resets on
//! progress, and a history row for every call however it ended.

mod extension_tasks;
mod handles;
mod tasks;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CancelledNotification, CancelledNotificationParam,
    ClientNotification, ClientRequest, JsonObject, ServerResult,
};
use rmcp::service::{PeerRequestOptions, ServiceError};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::events::{Event, EventBus};
use crate::session::{Round, Session, Stopped};
use crate::store::{CallOutcome, CallRecord, Store};

/// What to call.
#[derive(Debug, Clone)]
pub struct CallRequest {
    pub server: String,
    pub tool: String,
    pub arguments: Option<JsonObject>,
    /// Idle timeout: how long to wait without a result or progress. Defaults to the server's.
    /// For a task: how long each of its requests may take.
    pub timeout: Option<Duration>,
    /// Ask for a task (SEP-1686, MCP 2025-11-25): its status is followed and its result fetched
    /// when it ends. For tools that need it (`taskSupport: required`) or long work. From
    /// 2026-07-28 on the server decides (the Tasks extension), and this changes nothing.
    pub task: bool,
}

/// How a call ended, as the caller sees it (and as history keeps it).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct CallReport {
    pub call_id: String,
    pub server: String,
    pub tool: String,
    pub outcome: CallOutcome,
    /// The `CallToolResult` as received.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub duration_ms: u64,
    /// The same, finer, for benchmarks.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub duration_us: u64,
    /// Set when `result` was shortened for a window (`for_window`); the whole is in the history.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub cut: Option<crate::preview::Cut>,
}

impl From<CallRecord> for CallReport {
    /// A past call as its report: what the history kept (no finer duration than milliseconds).
    fn from(r: CallRecord) -> CallReport {
        CallReport {
            call_id: r.call_id,
            server: r.server,
            tool: r.tool,
            outcome: r.outcome,
            result: r.result,
            error: r.error,
            duration_ms: r.duration_ms,
            duration_us: r.duration_ms.saturating_mul(1000),
            cut: None,
        }
    }
}

impl CallReport {
    /// The report as a window gets it: a large result shortened, with what was cut.
    pub fn for_window(mut self) -> CallReport {
        if let Some(result) = self.result.as_mut() {
            self.cut = crate::preview::shorten(result);
        }
        self
    }
}

/// A past call as a window lists it: without its result (saved whole on request) and with its
/// arguments shortened if they are huge, in which case `arguments_cut` says they cannot be sent
/// again as they were.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct PastCall {
    #[serde(flatten)]
    pub record: CallRecord,
    pub arguments_cut: bool,
}

impl From<CallRecord> for PastCall {
    fn from(mut record: CallRecord) -> PastCall {
        record.result = None;
        let arguments_cut = crate::preview::shorten(&mut record.arguments).is_some();
        PastCall {
            record,
            arguments_cut,
        }
    }
}

/// Cancel handles of running calls, by call id, across all servers.
#[derive(Default, Clone)]
pub struct RunningCalls {
    inner: Arc<Mutex<HashMap<String, CancellationToken>>>,
}

impl RunningCalls {
    pub fn cancel(&self, call_id: &str) -> bool {
        match self.inner.lock().unwrap().get(call_id) {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    fn insert(&self, call_id: &str) -> CancellationToken {
        let token = CancellationToken::new();
        self.inner
            .lock()
            .unwrap()
            .insert(call_id.to_string(), token.clone());
        token
    }

    fn remove(&self, call_id: &str) {
        self.inner.lock().unwrap().remove(call_id);
    }
}

pub fn new_call_id() -> String {
    use rand::Rng;
    format!("c{:016x}", rand::rng().random::<u64>())
}

pub(crate) struct CallContext {
    pub session: Arc<Session>,
    pub bus: EventBus,
    pub store: Store,
    pub running: RunningCalls,
    pub default_timeout: Duration,
}

/// Runs one call to the end. Never panics on server behaviour; every ending is a report.
pub(crate) async fn run_call(ctx: CallContext, call_id: String, req: CallRequest) -> CallReport {
    let cancel = ctx.running.insert(&call_id);
    let started = Instant::now();
    let started_at_ms = crate::clock::now_ms();
    ctx.bus.publish(Event::CallStarted {
        server: req.server.clone(),
        call_id: call_id.clone(),
        tool: req.tool.clone(),
    });
    let timeout = req.timeout.unwrap_or(ctx.default_timeout);
    let (outcome, result, error) = exchange(&ctx, &call_id, &req, timeout, &cancel).await;
    ctx.running.remove(&call_id);
    let duration_us = started.elapsed().as_micros() as u64;
    let duration_ms = duration_us / 1000;
    let record = CallRecord {
        call_id: call_id.clone(),
        server: req.server.clone(),
        tool: req.tool.clone(),
        arguments: req
            .arguments
            .clone()
            .map(serde_json::Value::Object)
            .unwrap_or(serde_json::Value::Null),
        result: result.clone(),
        error: error.clone(),
        outcome,
        started_at_ms,
        duration_ms,
    };
    if let Err(e) = ctx.store.record_call(record).await {
        tracing::warn!(server = %req.server, "could not write call history: {e}");
    }
    ctx.bus.publish(Event::CallFinished {
        server: req.server.clone(),
        call_id: call_id.clone(),
        outcome,
        duration_ms,
    });
    CallReport {
        call_id,
        server: req.server,
        tool: req.tool,
        outcome,
        result,
        error,
        duration_ms,
        duration_us,
        cut: None,
    }
}

/// MCP's `URLElicitationRequiredError`.
const URL_ELICITATION_REQUIRED: i32 = -32042;

pub(crate) type Ending = (CallOutcome, Option<serde_json::Value>, Option<String>);

/// A `CallToolResult` (as JSON): `ok`, or `tool_error` when it says `isError`.
pub(crate) fn tool_result(result: serde_json::Value) -> Ending {
    let outcome = if result.get("isError") == Some(&serde_json::Value::Bool(true)) {
        CallOutcome::ToolError
    } else {
        CallOutcome::Ok
    };
    (outcome, Some(result), None)
}

async fn exchange(
    ctx: &CallContext,
    call_id: &str,
    req: &CallRequest,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Ending {
    let peer = tokio::select! {
        ready = ctx.session.ready_peer(timeout) => match ready {
            Ok(peer) => peer,
            Err(u) => return (CallOutcome::Failed, None, Some(u.to_string())),
        },
        _ = cancel.cancelled() => {
            return (CallOutcome::Cancelled, None, Some("cancelled before it was sent".into()));
        }
    };
    // "As a task" asks a 2025-era server for a task (SEP-1686). From 2026-07-28 on a task is the
    // server's choice (the Tasks extension, which every call declares): the call goes as usual
    // and is followed as a task if the server makes one.
    if req.task && !crate::session::stateless(&peer) {
        return tasks::exchange_task(ctx, peer, call_id, req, timeout, cancel).await;
    }
    let peer = &peer;
    let mut base = CallToolRequestParams::new(req.tool.clone());
    base.arguments = req.arguments.clone();
    // A 2026-07-28 server may answer `input_required`: the person answers, and the call goes
    // again. The idle timeout runs per round; the person's time to answer is not the server's.
    let rounds = ctx
        .session
        .with_input(cancel, |responses, state| {
            let mut params = base.clone();
            params.input_responses = responses;
            params.request_state = state;
            one_round(ctx, peer, call_id, req, params, timeout, cancel)
        })
        .await;
    match rounds {
        Ok(ending) => ending,
        Err(Stopped::Cancelled) => (
            CallOutcome::Cancelled,
            None,
            Some("cancelled by the user".into()),
        ),
        Err(stopped) => (CallOutcome::Failed, None, Some(stopped.to_string())),
    }
}

/// One `tools/call` request (a new JSON-RPC id and progress token each round), to its result,
/// its `input_required`, or its end by cancel, timeout or a lost connection.
async fn one_round(
    ctx: &CallContext,
    peer: &rmcp::Peer<rmcp::RoleClient>,
    call_id: &str,
    req: &CallRequest,
    params: CallToolRequestParams,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Round<Ending> {
    let server = &req.server;
    let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
    let handle = match peer
        .send_cancellable_request(request, PeerRequestOptions::no_options())
        .await
    {
        Ok(h) => h,
        Err(e) => {
            ctx.session.request_failed(&e);
            return Round::Done((CallOutcome::Failed, None, Some(lost(server, &e))));
        }
    };
    let (nudge_tx, mut nudge_rx) = mpsc::unbounded_channel();
    let inbox = ctx.session.inbox();
    inbox.register_call(
        server,
        &ctx.bus,
        handle.progress_token.clone(),
        call_id,
        nudge_tx,
    );
    let request_id = handle.id.clone();
    let token = handle.progress_token.clone();
    let mut response = handle.rx;
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let answer = loop {
        tokio::select! {
            biased;
            r = &mut response => break Some(r),
            _ = cancel.cancelled() => break None,
            Some(()) = nudge_rx.recv() => deadline.as_mut().reset(tokio::time::Instant::now() + timeout),
            _ = &mut deadline => {
                inbox.unregister_call(&token);
                send_cancelled(peer, request_id, "timed out").await;
                return Round::Done((
                    CallOutcome::TimedOut,
                    None,
                    Some(format!(
                        "server '{server}' sent no result or progress for {}s; the call was cancelled (raise the timeout with --timeout)",
                        timeout.as_secs_f64()
                    )),
                ));
            }
        }
    };
    inbox.unregister_call(&token);
    let Some(answer) = answer else {
        send_cancelled(peer, request_id, "cancelled by the user").await;
        return Round::Done((
            CallOutcome::Cancelled,
            None,
            Some("cancelled by the user".into()),
        ));
    };
    Round::Done(match answer {
        Ok(Ok(ServerResult::CallToolResult(result))) => {
            let outcome = if result.is_error == Some(true) {
                CallOutcome::ToolError
            } else {
                CallOutcome::Ok
            };
            (outcome, serde_json::to_value(&result).ok(), None)
        }
        Ok(Ok(ServerResult::InputRequiredResult(asked))) => return Round::Input(asked),
        Ok(Ok(ServerResult::CreateTaskResult(created))) => {
            return Round::Done(
                extension_tasks::follow(ctx, peer, call_id, req, timeout, cancel, created.task)
                    .await,
            );
        }
        Ok(Ok(other)) => (
            CallOutcome::Failed,
            serde_json::to_value(&other).ok(),
            Some(format!(
                "server '{server}' answered tools/call with something that is not a tool result"
            )),
        ),
        Ok(Err(ServiceError::McpError(e))) => refused(ctx, req, &e),
        Ok(Err(e)) => broken(ctx, server, &e),
        Err(_) => gone(ctx),
    })
}

/// The server answered the call with an error. -32042 means it needs the person to open a link
/// first (URL-mode elicitation by error): the links are shown as questions, and the call can be
/// run again once they are done.
pub(crate) fn refused(ctx: &CallContext, req: &CallRequest, e: &rmcp::ErrorData) -> Ending {
    let server = &req.server;
    let message = if e.code.0 == URL_ELICITATION_REQUIRED {
        let links = crate::elicitation::ask_to_open(
            server,
            &ctx.bus,
            ctx.session.elicitations(),
            e.data.as_ref(),
        );
        match links.as_slice() {
            [] => format!(
                "server '{server}' needs you to open a link first, but offered none Patchbay will open (only https, or http to this machine): {}",
                e.message
            ),
            [one] => format!(
                "server '{server}' needs you to open a link first ({one}); run the call again once you have"
            ),
            many => format!(
                "server '{server}' needs you to open some links first ({}); run the call again once you have",
                many.join(", ")
            ),
        }
    } else {
        format!(
            "server '{server}' refused the call to '{}': {}",
            req.tool,
            crate::causes::bounded(&e.message, crate::causes::SERVER_TEXT)
        )
    };
    (CallOutcome::Failed, None, Some(message))
}

/// A request failed on the way (transport, auth): the session checks its connection.
pub(crate) fn broken(ctx: &CallContext, server: &str, e: &ServiceError) -> Ending {
    ctx.session.request_failed(e);
    (CallOutcome::Failed, None, Some(lost(server, e)))
}

/// The service dropped a request's responder: the connection is gone.
pub(crate) fn gone(ctx: &CallContext) -> Ending {
    ctx.session.suspect();
    (CallOutcome::Failed, None, Some(ctx.session.lost_message()))
}

pub(crate) fn lost(server: &str, e: &ServiceError) -> String {
    if e.is_authorization_required() || e.auth_challenge().is_some() {
        format!(
            "server '{server}' refused the call: it needs a new login (its login was revoked or lacks a permission)"
        )
    } else {
        format!("lost the connection to server '{server}' during the call: {e}")
    }
}

pub(crate) async fn send_cancelled(
    peer: &rmcp::Peer<rmcp::RoleClient>,
    request_id: rmcp::model::RequestId,
    reason: &str,
) {
    let note = ClientNotification::CancelledNotification(CancelledNotification::new(
        CancelledNotificationParam::new(Some(request_id), Some(reason.to_string())),
    ));
    // Best effort, bounded: the server may already be gone.
    let _ = tokio::time::timeout(Duration::from_secs(2), peer.send_notification(note)).await;
}
