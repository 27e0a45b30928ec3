//! The Streamable HTTP client with the server's saved login. Every request reads the current
//! credential from the store (refreshed first when it is about to expire), so after any
//! refresh or login every session uses the new token on its next request. A 401 on a request
//! that carried a token asks the refresh coordinator for a newer one (one refresh however many
//! requests fail at once) and retries that request once, invisibly to the caller. When refresh
//! cannot help, the 401 goes up and the session shows `needs_auth`. A token goes only to the
//! resource it was issued for, and only over https or to this machine ([`Bearer`]).
//!
//! Written over rmcp's `StreamableHttpClient` trait rather than using rmcp's `AuthClient`:
//! that one keeps its own token manager per connection and refreshes under a per-connection
//! lock, where we need one coordinator (single flight, CAS, cross-process lease) for all.

use std::collections::HashMap;
use std::sync::Arc;

use futures::stream::BoxStream;
use http::{HeaderName, HeaderValue};
use rmcp::model::{ClientJsonRpcMessage, ClientRequest};
use rmcp::transport::streamable_http_client::{
    SseError, StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
    StreamableHttpResponseLimits,
};
use sse_stream::Sse;

use crate::auth::destinations::{check_bearer_destination, resource_covers};
use crate::auth::{AuthContext, Credential, RefreshError};
use crate::transport::common_stream::CommonStream;

type HttpError = StreamableHttpError<reqwest::Error>;

/// A server's saved login, as a transport uses it: read fresh from the store for each request,
/// sent only where it belongs, and healed once after a 401. Shared by Streamable HTTP
/// ([`AuthorizedHttp`]) and the legacy SSE transport.
#[derive(Clone)]
pub struct Bearer {
    server: String,
    auth: AuthContext,
}

/// Why a request could not get its token (other than "there is none").
#[derive(Debug, Clone)]
pub struct BearerError(pub String);

impl Bearer {
    pub fn new(server: String, auth: AuthContext) -> Bearer {
        Bearer { server, auth }
    }

    /// The credential to send to `url` now, if there is one it may be sent to. A login that is
    /// gone, refused or unreadable means "send without": the server's 401 then tells the
    /// session a login is needed. So does a login made for another resource (a definition
    /// re-pointed meanwhile, by this process or another), and a URL where a token could be
    /// read on the way (plain http to another machine).
    pub async fn credential(&self, url: &str) -> Result<Option<Credential>, BearerError> {
        // (A server without a saved login never wakes the keyring: the row is read first, and
        // the vault opened only to unseal one.)
        let cred = match self.auth.refresher().await.current(&self.server).await {
            Ok(c) => c,
            Err(RefreshError::NeedsLogin { .. }) => None,
            // The token has expired and its refresh hung past the bound: nothing usable to
            // send, so the server's 401 puts the session in needs_auth, where a login recovers.
            Err(e @ RefreshError::TimedOut { .. }) => {
                tracing::warn!("{e}");
                None
            }
            Err(e) => return Err(BearerError(e.to_string())),
        };
        Ok(cred.filter(|c| self.may_go_to(c, url)))
    }

    fn may_go_to(&self, cred: &Credential, url: &str) -> bool {
        if let Err(why) = check_bearer_destination(url) {
            tracing::warn!(server = %self.server, "not sending the saved login: {why}");
            return false;
        }
        if !resource_covers(&cred.key.resource, url) {
            tracing::warn!(
                server = %self.server,
                resource = %cred.key.resource,
                "not sending the saved login: it was made for another resource than this server's URL"
            );
            return false;
        }
        true
    }

    /// After `stale` met a 401 at `url`: a newer credential to retry with once (one refresh
    /// however many requests fail at once), or `None` when refresh cannot help.
    pub async fn after_401(
        &self,
        stale: &Credential,
        url: &str,
    ) -> Result<Option<Credential>, BearerError> {
        let refresher = self.auth.refresher().await;
        match refresher.refresh(stale).await {
            Ok(fresh) if fresh.access_token != stale.access_token => {
                tracing::debug!("401 healed by a refreshed token; retrying once");
                Ok(Some(fresh).filter(|c| self.may_go_to(c, url)))
            }
            Ok(_) | Err(RefreshError::NeedsLogin { .. }) => Ok(None),
            Err(e @ RefreshError::TimedOut { .. }) => {
                tracing::warn!("{e}");
                Ok(None)
            }
            Err(e) => Err(BearerError(e.to_string())),
        }
    }
}

#[derive(Clone)]
pub struct AuthorizedHttp {
    inner: reqwest::Client,
    /// None when the person set their own Authorization header: it goes as they wrote it.
    bearer: Option<Bearer>,
    cause: LastCause,
    common: CommonStream,
}

/// Why the last request could not be sent at all (refused, DNS, TLS...), in full. rmcp wraps
/// the HTTP client's error in messages that drop its causes ("error sending request"), so the
/// transport keeps the whole chain here for the connection attempt to report.
#[derive(Clone, Default)]
pub struct LastCause(Arc<std::sync::Mutex<Option<String>>>);

impl LastCause {
    /// The cause last recorded, taken (so a later failure never reports an old one).
    pub fn take(&self) -> Option<String> {
        self.0.lock().unwrap().take()
    }

    fn record(&self, e: &reqwest::Error) {
        *self.0.lock().unwrap() = Some(crate::causes::describe(e));
    }
}

impl AuthorizedHttp {
    /// `bearer`: the saved login to add, or None when the person's own header carries one.
    /// `cause` and `common` are the connection attempt's views of what happened on the wire.
    pub fn new(
        inner: reqwest::Client,
        bearer: Option<Bearer>,
        cause: LastCause,
        common: CommonStream,
    ) -> AuthorizedHttp {
        AuthorizedHttp {
            inner,
            bearer,
            cause,
            common,
        }
    }

    /// Notes a session id in the answer to `initialize` (rmcp then opens the common stream).
    /// Only there: a 2026-07-28 connection ignores any session id a server sends, and opens no
    /// such stream to wait for.
    fn posted(
        &self,
        message: &ClientJsonRpcMessage,
        sent: Result<StreamableHttpPostResponse, HttpError>,
    ) -> Result<StreamableHttpPostResponse, HttpError> {
        let initialize = matches!(
            message,
            ClientJsonRpcMessage::Request(r) if matches!(r.request, ClientRequest::InitializeRequest(_))
        );
        if initialize
            && let Ok(
                StreamableHttpPostResponse::Json(_, Some(_))
                | StreamableHttpPostResponse::Sse(_, Some(_)),
            ) = &sent
        {
            self.common.session_given();
        }
        sent
    }

    /// Notes the answer to the common stream's first GET (a session, no `Last-Event-ID`).
    fn got_stream<T>(
        &self,
        session_id: &Option<Arc<str>>,
        last_event_id: &Option<String>,
        got: Result<T, HttpError>,
    ) -> Result<T, HttpError> {
        if session_id.is_some() && last_event_id.is_none() {
            self.common.answered();
        }
        got
    }

    async fn with_login<T, F, Fut>(&self, uri: &str, send: F) -> Result<T, HttpError>
    where
        F: Fn(Option<String>) -> Fut,
        Fut: Future<Output = Result<T, HttpError>>,
    {
        let failed = |e: BearerError| StreamableHttpError::UnexpectedServerResponse(e.0.into());
        let Some(bearer) = &self.bearer else {
            let sent = send(None).await;
            if let Err(StreamableHttpError::Client(e)) = &sent {
                self.cause.record(e);
            }
            return sent;
        };
        let cred = bearer.credential(uri).await.map_err(failed)?;
        let token = cred.as_ref().map(|c| c.access_token.expose().to_string());
        let sent = send(token).await;
        if let Err(StreamableHttpError::Client(e)) = &sent {
            self.cause.record(e);
        }
        match sent {
            Err(StreamableHttpError::AuthRequired(challenge)) => {
                let Some(cred) = cred else {
                    return Err(StreamableHttpError::AuthRequired(challenge));
                };
                match bearer.after_401(&cred, uri).await.map_err(failed)? {
                    Some(fresh) => send(Some(fresh.access_token.expose().to_string())).await,
                    None => Err(StreamableHttpError::AuthRequired(challenge)),
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
        let sent = self
            .with_login(&uri, |token| {
                self.inner.post_message(
                    uri.clone(),
                    message.clone(),
                    session_id.clone(),
                    token,
                    custom_headers.clone(),
                )
            })
            .await;
        self.posted(&message, sent)
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
        let sent = self
            .with_login(&uri, |token| {
                self.inner.post_message_with_max_sse_event_size(
                    uri.clone(),
                    message.clone(),
                    session_id.clone(),
                    token,
                    custom_headers.clone(),
                    max_sse_event_size,
                )
            })
            .await;
        self.posted(&message, sent)
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
        let sent = self
            .with_login(&uri, |token| {
                self.inner.post_message_with_response_limits(
                    uri.clone(),
                    message.clone(),
                    session_id.clone(),
                    token,
                    custom_headers.clone(),
                    limits,
                )
            })
            .await;
        self.posted(&message, sent)
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), HttpError> {
        self.with_login(&uri, |token| {
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
        let got = self
            .with_login(&uri, |token| {
                self.inner.get_stream(
                    uri.clone(),
                    session_id.clone(),
                    last_event_id.clone(),
                    token,
                    custom_headers.clone(),
                )
            })
            .await;
        self.got_stream(&session_id, &last_event_id, got)
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
        let got = self
            .with_login(&uri, |token| {
                self.inner.get_stream_with_max_sse_event_size(
                    uri.clone(),
                    session_id.clone(),
                    last_event_id.clone(),
                    token,
                    custom_headers.clone(),
                    max_sse_event_size,
                )
            })
            .await;
        self.got_stream(&session_id, &last_event_id, got)
    }
}
