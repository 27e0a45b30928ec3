//! What Patchbay tells a server about itself, and the in-order view of what a server sends.

use std::borrow::Cow;
use std::sync::Arc;

use std::time::Duration;

// Sampling is deprecated (SEP-2577) for protocol revisions after 2025-11-25, which today's
// servers still speak.
use rmcp::model::{
    ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult, Implementation,
    ServerNotification,
};
#[allow(deprecated)]
use rmcp::model::{CreateMessageRequestParams, CreateMessageResult};
use rmcp::service::{RequestContext, RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use rmcp::{ClientHandler, ErrorData as McpError, RoleClient};

use crate::elicitation::{Answer, Elicitations, SamplingAnswer, Samplings};
use crate::events::{Event, EventBus};

/// How long a server's question waits for the person before it is cancelled.
const ELICITATION_WAIT: Duration = Duration::from_secs(10 * 60);

/// The client side of one connection. Notifications are observed in order by [`Observed`]
/// rather than here, because rmcp runs notification handlers as separate tasks, which may
/// reorder progress. Server requests: elicitation (form mode) is answered by whoever shows the
/// person the form; sampling and roots come with their own slices of work.
#[derive(Clone)]
pub struct PatchbayClient {
    server: String,
    bus: EventBus,
    elicitations: Elicitations,
    samplings: Samplings,
}

impl PatchbayClient {
    pub fn new(
        server: String,
        bus: EventBus,
        elicitations: Elicitations,
        samplings: Samplings,
    ) -> Self {
        PatchbayClient {
            server,
            bus,
            elicitations,
            samplings,
        }
    }
}

#[allow(deprecated)]
impl ClientHandler for PatchbayClient {
    fn get_info(&self) -> ClientConfig {
        // Built from JSON: rmcp's capability types are non-exhaustive.
        let capabilities: ClientCapabilities = serde_json::from_value(
            serde_json::json!({ "elicitation": { "form": {} }, "sampling": {} }),
        )
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
        // URL mode is not offered (not in the capabilities): a server that asks anyway is
        // declined rather than sent a form answer.
        let answer = if matches!(request, ElicitRequestParams::FormElicitationParams { .. }) {
            let (id, reply) = self.elicitations.register();
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
                action: match &answer {
                    Answer::Accept(_) => "accept",
                    Answer::Decline => "decline",
                    Answer::Cancel => "cancel",
                }
                .into(),
            });
            answer
        } else {
            Answer::Decline
        };
        serde_json::from_value(answer.to_result_json())
            .map_err(|e| McpError::internal_error(e.to_string(), None))
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
