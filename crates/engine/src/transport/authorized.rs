//! The Streamable HTTP client with the server's saved login. Every request reads the current
//! credential from the store (refreshed first when it is about to expire), so after any
//! refresh or login every session uses the new token on its next request. A 401 on a request
//! that carried a token asks the refresh coordinator for a newer one (one refresh however many
//! requests fail at once) and retries that request once, invisibly to the caller. When refresh
//! cannot help, the 401 goes up and the session shows `needs_auth`.
//!
//! Written over rmcp's `StreamableHttpClient` trait rather than using rmcp's `AuthClient`:
//! that one keeps its own token manager per connection and refreshes under a per-connection
//! lock, where we need one coordinator (single flight, CAS, cross-process lease) for all.

use std::collections::HashMap;
use std::sync::Arc;

use futures::stream::BoxStream;
use http::{HeaderName, HeaderValue};
use rmcp::model::ClientJsonRpcMessage;
use rmcp::transport::streamable_http_client::{
    SseError, StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
    StreamableHttpResponseLimits,
};
use sse_stream::Sse;

use crate::auth::{AuthContext, Credential, RefreshError};

type HttpError = StreamableHttpError<reqwest::Error>;

#[derive(Clone)]
pub struct AuthorizedHttp {
    inner: reqwest::Client,
    server: String,
    auth: AuthContext,
}

impl AuthorizedHttp {
    pub fn new(inner: reqwest::Client, server: String, auth: AuthContext) -> AuthorizedHttp {
        AuthorizedHttp {
            inner,
            server,
            auth,
        }
    }

    /// The credential to send now, if there is one. A login that is gone (or unreadable)
    /// means "send without": the server's 401 then tells the session a login is needed.
    async fn credential(&self) -> Result<Option<Credential>, HttpError> {
        match self.auth.refresher().await.current(&self.server).await {
            Ok(c) => Ok(c),
            Err(RefreshError::NeedsLogin { .. }) => Ok(None),
            // The token has expired and its refresh hung past the bound: nothing usable to send,
            // so the server's 401 puts the session in needs_auth, where a login recovers.
            Err(e @ RefreshError::TimedOut { .. }) => {
                tracing::warn!("{e}");
                Ok(None)
            }
            Err(e) => Err(StreamableHttpError::UnexpectedServerResponse(
                e.to_string().into(),
            )),
        }
    }

    async fn with_login<T, F, Fut>(&self, send: F) -> Result<T, HttpError>
    where
        F: Fn(Option<String>) -> Fut,
        Fut: Future<Output = Result<T, HttpError>>,
    {
        let cred = self.credential().await?;
        let token = cred.as_ref().map(|c| c.access_token.expose().to_string());
        match send(token).await {
            Err(StreamableHttpError::AuthRequired(challenge)) => {
                let Some(cred) = cred else {
                    return Err(StreamableHttpError::AuthRequired(challenge));
                };
                let refresher = self.auth.refresher().await;
                match refresher.refresh(&cred).await {
                    Ok(fresh) if fresh.access_token != cred.access_token => {
                        tracing::debug!("401 healed by a refreshed token; retrying once");
                        send(Some(fresh.access_token.expose().to_string())).await
                    }
                    Ok(_) | Err(RefreshError::NeedsLogin { .. }) => {
                        Err(StreamableHttpError::AuthRequired(challenge))
                    }
                    Err(e @ RefreshError::TimedOut { .. }) => {
                        tracing::warn!("{e}");
                        Err(StreamableHttpError::AuthRequired(challenge))
                    }
                    Err(e) => Err(StreamableHttpError::UnexpectedServerResponse(
                        e.to_string().into(),
                    )),
                }
            }
            other => other,
        }
    }
}

// Every method is forwarded (not only `post_message`), so the inner client's response limits
// and SSE event size limits stay in force.
impl StreamableHttpClient for AuthorizedHttp {
    type Error = reqwest::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, HttpError> {
        self.with_login(|token| {
            self.inner.post_message(
                uri.clone(),
                message.clone(),
                session_id.clone(),
                token,
                custom_headers.clone(),
            )
        })
        .await
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<StreamableHttpPostResponse, HttpError> {
        self.with_login(|token| {
            self.inner.post_message_with_max_sse_event_size(
                uri.clone(),
                message.clone(),
                session_id.clone(),
                token,
                custom_headers.clone(),
                max_sse_event_size,
            )
        })
        .await
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> Result<StreamableHttpPostResponse, HttpError> {
        self.with_login(|token| {
            self.inner.post_message_with_response_limits(
                uri.clone(),
                message.clone(),
                session_id.clone(),
                token,
                custom_headers.clone(),
                limits,
            )
        })
        .await
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), HttpError> {
        self.with_login(|token| {
            self.inner.delete_session(
                uri.clone(),
                session_id.clone(),
                token,
                custom_headers.clone(),
            )
        })
        .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, HttpError> {
        self.with_login(|token| {
            self.inner.get_stream(
                uri.clone(),
                session_id.clone(),
                last_event_id.clone(),
                token,
                custom_headers.clone(),
            )
        })
        .await
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, HttpError> {
        self.with_login(|token| {
            self.inner.get_stream_with_max_sse_event_size(
                uri.clone(),
                session_id.clone(),
                last_event_id.clone(),
                token,
                custom_headers.clone(),
                max_sse_event_size,
            )
        })
        .await
    }
}
