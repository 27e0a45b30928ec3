//! What Patchbay tells a server about itself, and the in-order view of what a server sends.

use std::borrow::Cow;
use std::sync::Arc;

// Sampling and roots are deprecated (SEP-2577) for protocol revisions after 2025-11-25, which
// today's servers still speak.
use rmcp::model::{
    ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult, Implementation,
    ServerNotification,
};
#[allow(deprecated)]
use rmcp::model::{CreateMessageRequestParams, CreateMessageResult, ListRootsResult};
use rmcp::service::{RequestContext, RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use rmcp::{ClientHandler, ErrorData as McpError, RoleClient};
use tokio_util::sync::CancellationToken;

use crate::elicitation::{Answer, Elicitations};
use crate::events::{Event, EventBus};
use crate::pending::WAIT as ELICITATION_WAIT;
use crate::roots::Roots;
use crate::sampling::{SamplingAnswer, Samplings};

/// The client side of one connection. Notifications are observed in order by [`Observed`]
/// rather than here, because rmcp runs notification handlers as separate tasks, which may
/// reorder progress. Server requests: elicitation (a form, or a link to open) is answered by
/// whoever shows the person the question; sampling by the person too; roots from the server's
/// definition.
#[derive(Clone)]
pub struct PatchbayClient {
    server: String,
    bus: EventBus,
    elicitations: Elicitations,
    samplings: Samplings,
    roots: Roots,
}

impl PatchbayClient {
    pub fn new(
        server: String,
        bus: EventBus,
        elicitations: Elicitations,
        samplings: Samplings,
        roots: Roots,
    ) -> Self {
        PatchbayClient {
            server,
            bus,
            elicitations,
            samplings,
            roots,
        }
    }
}

#[allow(deprecated)]
impl ClientHandler for PatchbayClient {
    fn get_info(&self) -> ClientConfig {
        // Built from JSON: rmcp's capability types are non-exhaustive.
        let capabilities: ClientCapabilities = serde_json::from_value(serde_json::json!({
            "elicitation": { "form": {}, "url": {} },
            "sampling": {},
            "roots": { "listChanged": true },
            // The Tasks extension (SEP-2663): a server may answer a call with a task, which
            // the call then follows (`calls/extension_tasks.rs`).
            "extensions": { "io.modelcontextprotocol/tasks": {} },
        }))
        .unwrap_or_default();
        ClientConfig::new(
            capabilities,
            Implementation::new("patchbay", env!("CARGO_PKG_VERSION")),
        )
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, McpError> {
        self.elicit(request, &context.ct).await
    }

    async fn list_roots(
        &self,
        _context: RequestContext<RoleClient>,
    ) -> Result<ListRootsResult, McpError> {
        Ok(self.roots())
    }

    #[allow(deprecated)]
    async fn create_message(
        &self,
        request: CreateMessageRequestParams,
        context: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, McpError> {
        self.sample(request, &context.ct).await
    }
}

/// The answers themselves, whichever way the server asked: a request of its own (2025 era), or
/// an `input_required` result whose requests the call answers before it retries (2026-07-28).
#[allow(deprecated)]
impl PatchbayClient {
    /// Asks the person (a form, or a link to open); `cancel` withdraws the question.
    pub(crate) async fn elicit(
        &self,
        request: ElicitRequestParams,
        cancel: &CancellationToken,
    ) -> Result<ElicitResult, McpError> {
        let link = match &request {
            ElicitRequestParams::UrlElicitationParams { url, .. } => {
                // The same rule as an authorization URL: only https (or http to this machine)
                // ever reaches a browser. Anything else is declined without asking anyone.
                match crate::auth::browser::check_url(url) {
                    Ok(checked) => Some(checked.to_string()),
                    Err(why) => {
                        tracing::warn!(server = %self.server, "declined a server's link: {why}");
                        return answer_json(Answer::Decline.to_result_json());
                    }
                }
            }
            _ => None,
        };
        let url_mode = link.is_some();
        let (id, reply) = self.elicitations.register_with_link(link);
        self.bus.publish(Event::ElicitationRequested {
            server: self.server.clone(),
            id: id.clone(),
            request: serde_json::to_value(&request).unwrap_or_default(),
        });
        let mut open = Open::question(self, id);
        let answer = tokio::select! {
            a = reply => a.unwrap_or(Answer::Cancel),
            _ = cancel.cancelled() => Answer::Cancel,
            _ = tokio::time::sleep(ELICITATION_WAIT) => Answer::Cancel,
        };
        open.close(answer.action());
        answer_json(if url_mode {
            answer.to_url_result_json()
        } else {
            answer.to_result_json()
        })
    }

    /// The folders the person gave this server, read fresh for every request.
    pub(crate) fn roots(&self) -> ListRootsResult {
        ListRootsResult::new(self.roots.to_mcp())
    }

    /// Human in the loop: the person sees the request and writes (or edits) the reply;
    /// `cancel` withdraws it.
    pub(crate) async fn sample(
        &self,
        request: CreateMessageRequestParams,
        cancel: &CancellationToken,
    ) -> Result<CreateMessageResult, McpError> {
        let (id, reply) = self.samplings.register();
        self.bus.publish(Event::SamplingRequested {
            server: self.server.clone(),
            id: id.clone(),
            request: serde_json::to_value(&request).unwrap_or_default(),
        });
        let mut open = Open::sampling(self, id);
        let answer = tokio::select! {
            a = reply => a.ok(),
            _ = cancel.cancelled() => None,
            _ = tokio::time::sleep(ELICITATION_WAIT) => None,
        };
        open.close(match &answer {
            Some(SamplingAnswer::Approve { .. }) => "approve",
            Some(SamplingAnswer::Reject) => "reject",
            None => "cancel",
        });
        // The spec's answer to a rejected or abandoned request is an error.
        match answer.as_ref().and_then(SamplingAnswer::to_result_json) {
            Some(result) => serde_json::from_value(result)
                .map_err(|e| McpError::internal_error(e.to_string(), None)),
            None => Err(McpError::new(
                rmcp::model::ErrorCode(-1),
                "the person declined to answer this sampling request",
                None,
            )),
        }
    }
}

/// A request shown to the person, until it is closed: by an answer, or, when whoever waited
/// for it stopped waiting (its future dropped: a sibling question was refused, the call was
/// abandoned), as cancelled. Either way the window hears it ended and no answer can land.
struct Open<'a> {
    client: &'a PatchbayClient,
    id: String,
    sampling: bool,
    closed: bool,
}

impl<'a> Open<'a> {
    fn question(client: &'a PatchbayClient, id: String) -> Self {
        Open {
            client,
            id,
            sampling: false,
            closed: false,
        }
    }

    fn sampling(client: &'a PatchbayClient, id: String) -> Self {
        Open {
            client,
            id,
            sampling: true,
            closed: false,
        }
    }

    fn close(&mut self, action: &str) {
        if std::mem::replace(&mut self.closed, true) {
            return;
        }
        let (server, id, action) = (self.client.server.clone(), self.id.clone(), action.into());
        if self.sampling {
            self.client.samplings.forget(&id);
            self.client
                .bus
                .publish(Event::SamplingFinished { server, id, action });
        } else {
            self.client.elicitations.forget(&id);
            self.client
                .bus
                .publish(Event::ElicitationFinished { server, id, action });
        }
    }
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.close("cancel");
    }
}

fn answer_json(answer: serde_json::Value) -> Result<ElicitResult, McpError> {
    serde_json::from_value(answer).map_err(|e| McpError::internal_error(e.to_string(), None))
}

pub type NotificationTap = Arc<dyn Fn(&ServerNotification) + Send + Sync>;

/// Wraps any client transport and shows every incoming notification to `tap` in arrival order,
/// before rmcp dispatches it. This is what keeps progress events ordered and lets a call's
/// progress be published before its result.
pub struct Observed<T> {
    inner: T,
    tap: NotificationTap,
}

impl<T> Observed<T> {
    pub fn new(inner: T, tap: NotificationTap) -> Self {
        Observed { inner, tap }
    }
}

impl<T: Transport<RoleClient>> Transport<RoleClient> for Observed<T> {
    type Error = T::Error;

    fn name() -> Cow<'static, str> {
        T::name()
    }

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.inner.send(item)
    }

    fn receive(&mut self) -> impl Future<Output = Option<RxJsonRpcMessage<RoleClient>>> + Send {
        let tap = self.tap.clone();
        let next = self.inner.receive();
        async move {
            let message = next.await;
            if let Some(rmcp::model::JsonRpcMessage::Notification(n)) = &message {
                tap(&n.notification);
            }
            message
        }
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close()
    }
}
