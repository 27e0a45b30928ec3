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
        let answer = tokio::select! {
            a = reply => a.unwrap_or(Answer::Cancel),
            _ = context.ct.cancelled() => Answer::Cancel,
            _ = tokio::time::sleep(ELICITATION_WAIT) => Answer::Cancel,
        };
        self.elicitations.forget(&id);
        self.bus.publish(Event::ElicitationFinished {
            server: self.server.clone(),
            id,
            action: answer.action().into(),
        });
        answer_json(if url_mode {
            answer.to_url_result_json()
        } else {
            answer.to_result_json()
        })
    }

    /// The folders the person gave this server, read fresh for every request.
    async fn list_roots(
        &self,
        _context: RequestContext<RoleClient>,
    ) -> Result<ListRootsResult, McpError> {
        Ok(ListRootsResult::new(self.roots.to_mcp()))
    }

    /// Human in the loop: the person sees the request and writes (or edits) the reply.
    #[allow(deprecated)]
    async fn create_message(
        &self,
        request: CreateMessageRequestParams,
        context: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, McpError> {
        let (id, reply) = self.samplings.register();
        self.bus.publish(Event::SamplingRequested {
            server: self.server.clone(),
            id: id.clone(),
            request: serde_json::to_value(&request).unwrap_or_default(),
        });
        let answer = tokio::select! {
            a = reply => a.ok(),
            _ = context.ct.cancelled() => None,
            _ = tokio::time::sleep(ELICITATION_WAIT) => None,
        };
        self.samplings.forget(&id);
        self.bus.publish(Event::SamplingFinished {
            server: self.server.clone(),
            id,
            action: match &answer {
                Some(SamplingAnswer::Approve { .. }) => "approve",
                Some(SamplingAnswer::Reject) => "reject",
                None => "cancel",
            }
            .into(),
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
