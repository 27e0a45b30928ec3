//! What Patchbay tells a server about itself, and the in-order view of what a server sends.

use std::borrow::Cow;
use std::sync::Arc;

use rmcp::model::{ClientCapabilities, ClientConfig, Implementation, ServerNotification};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use rmcp::{ClientHandler, RoleClient};

/// The client side of one connection. Server requests (sampling, elicitation, roots) come in a
/// later issue; notifications are observed in order by [`Observed`] rather than here, because
/// rmcp runs notification handlers as separate tasks, which may reorder progress.
#[derive(Clone)]
pub struct PatchbayClient;

impl ClientHandler for PatchbayClient {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("patchbay", env!("CARGO_PKG_VERSION")),
        )
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
