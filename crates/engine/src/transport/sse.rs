//! STUB: the legacy HTTP+SSE client transport (MCP 2024-11-05) against rmcp's `Transport` trait.
use std::borrow::Cow;
use rmcp::{RoleClient, service::{RxJsonRpcMessage, TxJsonRpcMessage}, transport::Transport};

#[derive(Debug, thiserror::Error)]
pub enum SseTransportError {
    #[error("{0}")]
    Other(String),
}

pub struct SseClientTransport {}

impl SseClientTransport {
    /// Opens the event stream at `url` and waits for the server's `endpoint` event.
    pub async fn connect(_client: reqwest::Client, _url: &str, _headers: reqwest::header::HeaderMap) -> Result<Self, SseTransportError> { todo!() }
}

impl Transport<RoleClient> for SseClientTransport {
    type Error = SseTransportError;
    fn name() -> Cow<'static, str> { "sse".into() }
    fn send(&mut self, _item: TxJsonRpcMessage<RoleClient>) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static { async { todo!() } }
    fn receive(&mut self) -> impl Future<Output = Option<RxJsonRpcMessage<RoleClient>>> + Send { async { todo!() } }
    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send { async { todo!() } }
}
