//! The legacy HTTP+SSE client transport of MCP 2024-11-05, on rmcp's [`Transport`] trait.
//!
//! The client GETs the server's SSE URL and keeps that stream open. The server's first event,
//! `endpoint`, names the URL the client POSTs its JSON-RPC messages to; every server→client
//! message arrives on the stream as a `message` event.
//!
//! - [`SseClientTransport::connect`] returns once the `endpoint` event has arrived; an endpoint on
//!   another origin than the SSE URL is refused, so a server cannot point our POSTs (and the
//!   headers they carry) elsewhere.
//! - A spawned task reads the stream into a channel, so [`Transport::receive`] is cancel-safe;
//!   `receive` yields `None` once the stream ends or fails, which is how the session learns the
//!   connection dropped. [`Transport::close`] (or dropping the transport) stops that task.
//! - Sends are independent `'static` futures and may run concurrently.
//! - Header values are marked sensitive and are never logged; neither are URLs' queries, which
//!   carry session ids and sometimes keys.
//!
//! Long because: it is one job, a whole transport (connect, read, send, close), with its unit
//! tests beside it.
use std::{borrow::Cow, fmt, sync::Arc, time::Duration};

use futures::{StreamExt, stream::BoxStream};
use reqwest::{
    StatusCode,
    header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, HeaderMap, HeaderValue, WWW_AUTHENTICATE},
};
use rmcp::{
    RoleClient,
    model::ServerJsonRpcMessage,
    service::{RxJsonRpcMessage, TxJsonRpcMessage},
    transport::{Transport, streamable_http_client::AuthRequiredError},
};
use sse_stream::{Sse, SseStream};

use super::authorized::Bearer;
use tokio::{sync::mpsc, task::JoinHandle};
use tokio_util::sync::{CancellationToken, DropGuard};
use url::Url;

/// How long [`SseClientTransport::connect`] waits, at most, for the stream and its `endpoint` event.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one POST of a message may take; servers answer 202 at once, the reply comes on the stream.
const POST_TIMEOUT: Duration = Duration::from_secs(60);
/// The largest single event accepted from the server.
const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;
/// Messages read ahead of the session before the reader waits.
const CHANNEL_CAPACITY: usize = 256;
/// How much of an error response's body is quoted in an error.
const ERROR_BODY_QUOTE: usize = 300;
/// How much of a successful POST's body is read (and discarded) before giving up on it.
const DRAIN_LIMIT: usize = 64 * 1024;
const EVENT_STREAM: &str = "text/event-stream";

#[derive(Debug, thiserror::Error)]
pub enum SseTransportError {
    #[error("{0}")]
    Other(String),
    #[error("the server requires authorization (HTTP 401)")]
    Unauthorized { www_authenticate: Option<String> },
    /// A POST was refused with 401 mid-session (an expired or revoked credential). Its source is
    /// rmcp's [`AuthRequiredError`], so rmcp's `is_authorization_required` / `auth_challenge`
    /// recognise it.
    #[error("the server refused a message as unauthorized (HTTP 401); log in again")]
    MessageUnauthorized(#[source] AuthRequiredError),
    #[error("the server URL is not valid: {0}")]
    InvalidUrl(String),
    #[error("the server URL must be http or https, not '{0}'")]
    UnsupportedScheme(String),
    #[error("could not open the event stream: {}", error_chain(.0))]
    Connect(#[source] reqwest::Error),
    #[error("the server answered HTTP {status}{}", quote_body(.body))]
    HttpStatus { status: StatusCode, body: String },
    #[error(
        "the server did not answer with an event stream (content type {}); is this the SSE URL of a legacy MCP server?",
        .content_type.as_deref().unwrap_or("missing")
    )]
    NotEventStream { content_type: Option<String> },
    #[error("the event stream ended before the server named its message endpoint")]
    NoEndpoint,
    #[error("the event stream failed before the server named its message endpoint: {0}")]
    StreamBroken(String),
    #[error("the server did not name its message endpoint within {}s", .0.as_secs())]
    Timeout(Duration),
    #[error("the server's message endpoint is not a valid URL: {0}")]
    InvalidEndpoint(String),
    #[error(
        "the server named a message endpoint on another origin ({endpoint_origin}, the stream is on {stream_origin}); refused"
    )]
    ForeignEndpoint {
        endpoint_origin: String,
        stream_origin: String,
    },
    #[error("could not encode a message: {0}")]
    Encode(#[source] serde_json::Error),
    #[error("could not send a message to the server: {}", error_chain(.0))]
    Post(#[source] reqwest::Error),
    #[error("the transport is closed")]
    Closed,
}

/// `error` and its sources, joined with ": ", each part said once.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(error);
    while let Some(e) = current {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

fn quote_body(body: &str) -> String {
    if body.is_empty() {
        String::new()
    } else {
        format!(": {body}")
    }
}

/// The server's saved login, for every request of one SSE session: the same per-request
/// credential, destination check and one-refresh-then-retry on 401 as Streamable HTTP.
/// `stream_url` is what the login must be for (the message endpoint is on its origin).
#[derive(Clone)]
pub struct SseLogin {
    pub bearer: Bearer,
    pub stream_url: String,
}

impl SseLogin {
    /// Sends `request` (built afresh per attempt) with the saved login, retrying once with a
    /// refreshed one after a 401. The response, 401 or not, is the caller's to read.
    async fn send(
        login: Option<&SseLogin>,
        request: impl Fn(Option<&str>) -> reqwest::RequestBuilder,
        failed: impl Fn(reqwest::Error) -> SseTransportError,
    ) -> Result<reqwest::Response, SseTransportError> {
        let cred = match login {
            Some(l) => l
                .bearer
                .credential(&l.stream_url)
                .await
                .map_err(|e| SseTransportError::Other(e.0))?,
            None => None,
        };
        let token = cred.as_ref().map(|c| c.access_token.expose());
        let response = request(token).send().await.map_err(&failed)?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let (Some(login), Some(cred)) = (login, cred.as_ref()) else {
            return Ok(response);
        };
        match login
            .bearer
            .after_401(cred, &login.stream_url)
            .await
            .map_err(|e| SseTransportError::Other(e.0))?
        {
            Some(fresh) => request(Some(fresh.access_token.expose()))
                .send()
                .await
                .map_err(failed),
            None => Ok(response),
        }
    }
}

/// Everything a send needs; shared by all in-flight sends.
struct Poster {
    client: reqwest::Client,
    endpoint: Url,
    headers: HeaderMap,
    login: Option<SseLogin>,
}

impl Poster {
    async fn post(&self, item: TxJsonRpcMessage<RoleClient>) -> Result<(), SseTransportError> {
        let body = serde_json::to_vec(&item).map_err(SseTransportError::Encode)?;
        let mut headers = self.headers.clone();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let response = SseLogin::send(
            self.login.as_ref(),
            |token| {
                let request = self
                    .client
                    .post(self.endpoint.clone())
                    .headers(headers.clone())
                    .timeout(POST_TIMEOUT)
                    .body(body.clone());
                match token {
                    Some(t) => request.bearer_auth(t),
                    None => request,
                }
            },
            |e| SseTransportError::Post(e.without_url()),
        )
        .await?;
        let status = response.status();
        if status.is_success() {
            // Read the (tiny) "Accepted" body so the connection can be reused.
            let _ = read_prefix(response, DRAIN_LIMIT).await;
            return Ok(());
        }
        if status == StatusCode::UNAUTHORIZED {
            let challenge = www_authenticate(response.headers()).unwrap_or_default();
            return Err(SseTransportError::MessageUnauthorized(
                AuthRequiredError::new(challenge),
            ));
        }
        tracing::debug!(%status, "the server refused a message");
        Err(SseTransportError::HttpStatus {
            status,
            body: body_quote(response).await,
        })
    }
}

/// A client transport for MCP's legacy HTTP+SSE transport (protocol 2024-11-05).
pub struct SseClientTransport {
    poster: Arc<Poster>,
    rx: mpsc::Receiver<ServerJsonRpcMessage>,
    stop: CancellationToken,
    reader: Option<JoinHandle<()>>,
    _stop_on_drop: DropGuard,
}

impl fmt::Debug for SseClientTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // No headers and no query: both may carry secrets.
        f.debug_struct("SseClientTransport")
            .field(
                "endpoint_origin",
                &self.poster.endpoint.origin().ascii_serialization(),
            )
            .field("endpoint_path", &self.poster.endpoint.path())
            .field("closed", &self.stop.is_cancelled())
            .finish_non_exhaustive()
    }
}

impl SseClientTransport {
    /// Opens the event stream at `url` and waits for the server's `endpoint` event.
    ///
    /// `headers` go with the GET and with every POST, and so does the saved login of `login`
    /// (read fresh for each request). Gives up after [`CONNECT_TIMEOUT`].
    pub async fn connect(
        client: reqwest::Client,
        url: &str,
        headers: reqwest::header::HeaderMap,
        login: Option<SseLogin>,
    ) -> Result<Self, SseTransportError> {
        let url = Url::parse(url).map_err(|e| SseTransportError::InvalidUrl(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(SseTransportError::UnsupportedScheme(
                url.scheme().to_string(),
            ));
        }
        let mut headers = headers;
        for value in headers.values_mut() {
            value.set_sensitive(true);
        }
        match tokio::time::timeout(CONNECT_TIMEOUT, Self::open(client, url, headers, login)).await {
            Ok(result) => result,
            Err(_) => Err(SseTransportError::Timeout(CONNECT_TIMEOUT)),
        }
    }

    async fn open(
        client: reqwest::Client,
        url: Url,
        headers: HeaderMap,
        login: Option<SseLogin>,
    ) -> Result<Self, SseTransportError> {
        let origin = url.origin().ascii_serialization();
        tracing::debug!(%origin, path = url.path(), "opening the SSE stream");
        let mut get_headers = headers.clone();
        get_headers.insert(ACCEPT, HeaderValue::from_static(EVENT_STREAM));
        get_headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        let response = SseLogin::send(
            login.as_ref(),
            |token| {
                let request = client.get(url.clone()).headers(get_headers.clone());
                match token {
                    Some(t) => request.bearer_auth(t),
                    None => request,
                }
            },
            |e| SseTransportError::Connect(e.without_url()),
        )
        .await?;

        let status = response.status();
        if status == StatusCode::UNAUTHORIZED {
            return Err(SseTransportError::Unauthorized {
                www_authenticate: www_authenticate(response.headers()),
            });
        }
        if !status.is_success() {
            return Err(SseTransportError::HttpStatus {
                status,
                body: body_quote(response).await,
            });
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        if !content_type.as_deref().is_some_and(is_event_stream) {
            return Err(SseTransportError::NotEventStream { content_type });
        }

        let mut events = event_stream(response);
        let mut early = Vec::new();
        let endpoint = loop {
            match events.next().await {
                None => return Err(SseTransportError::NoEndpoint),
                Some(Err(e)) => return Err(SseTransportError::StreamBroken(error_chain(&e))),
                Some(Ok(sse)) if sse.event.as_deref() == Some("endpoint") => {
                    break resolve_endpoint(&url, sse.data.as_deref().unwrap_or_default())?;
                }
                // The endpoint should come first; keep anything before it rather than lose it.
                Some(Ok(sse)) => early.extend(decode(sse)),
            }
        };
        tracing::debug!(%origin, path = endpoint.path(), "the server named its message endpoint");

        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        let stop = CancellationToken::new();
        let reader = tokio::spawn(read_events(events, early, tx, stop.clone()));
        Ok(SseClientTransport {
            poster: Arc::new(Poster {
                client,
                endpoint,
                headers,
                login,
            }),
            rx,
            _stop_on_drop: stop.clone().drop_guard(),
            stop,
            reader: Some(reader),
        })
    }
}

impl Transport<RoleClient> for SseClientTransport {
    type Error = SseTransportError;

    fn name() -> Cow<'static, str> {
        "sse".into()
    }

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let poster = self.poster.clone();
        let closed = self.stop.is_cancelled();
        async move {
            if closed {
                return Err(SseTransportError::Closed);
            }
            poster.post(item).await
        }
    }

    fn receive(&mut self) -> impl Future<Output = Option<RxJsonRpcMessage<RoleClient>>> + Send {
        self.rx.recv()
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.stop.cancel();
        self.rx.close();
        if let Some(reader) = self.reader.take() {
            let _ = reader.await;
        }
        Ok(())
    }
}

/// Feeds the stream's messages to the channel until the stream ends or fails, the transport is
/// closed, or nobody receives any more. Dropping `tx` is what tells `receive` the stream is over.
async fn read_events(
    mut events: BoxStream<'static, Result<Sse, sse_stream::Error>>,
    early: Vec<ServerJsonRpcMessage>,
    tx: mpsc::Sender<ServerJsonRpcMessage>,
    stop: CancellationToken,
) {
    for message in early {
        if !forward(&tx, &stop, message).await {
            return;
        }
    }
    loop {
        let next = tokio::select! {
            biased;
            _ = stop.cancelled() => {
                tracing::debug!("the SSE transport was closed");
                return;
            }
            next = events.next() => next,
        };
        match next {
            None => {
                tracing::debug!("the server closed the event stream");
                return;
            }
            Some(Err(e)) => {
                tracing::warn!(error = %error_chain(&e), "the event stream failed");
                return;
            }
            Some(Ok(sse)) => {
                for message in decode(sse) {
                    if !forward(&tx, &stop, message).await {
                        return;
                    }
                }
            }
        }
    }
}

/// Hands one message to the session; false when the transport is closed or nobody receives.
async fn forward(
    tx: &mpsc::Sender<ServerJsonRpcMessage>,
    stop: &CancellationToken,
    message: ServerJsonRpcMessage,
) -> bool {
    tokio::select! {
        biased;
        _ = stop.cancelled() => false,
        sent = tx.send(message) => sent.is_ok(),
    }
}

/// The JSON-RPC messages in one event: none for pings, unknown events and unparsable data.
fn decode(sse: Sse) -> Vec<ServerJsonRpcMessage> {
    match sse.event.as_deref() {
        None | Some("message") => {}
        Some("endpoint") => {
            tracing::warn!(
                "ignoring a second endpoint event; the message endpoint is fixed at connect"
            );
            return Vec::new();
        }
        Some(other) => {
            tracing::debug!(event = other, "skipping an event that is not a message");
            return Vec::new();
        }
    }
    let Some(data) = sse.data else {
        return Vec::new();
    };
    let data = data.trim();
    if data.is_empty() {
        return Vec::new();
    }
    let parsed = if data.starts_with('[') {
        serde_json::from_str::<Vec<ServerJsonRpcMessage>>(data)
    } else {
        serde_json::from_str::<ServerJsonRpcMessage>(data).map(|m| vec![m])
    };
    parsed.unwrap_or_else(|e| {
        // The data is the server's, not ours; its size is enough to tell what went wrong.
        tracing::warn!(error = %e, bytes = data.len(), "skipping an event that is not a JSON-RPC message");
        Vec::new()
    })
}

/// Resolves the `endpoint` event's data against the SSE URL; only the same origin is accepted.
fn resolve_endpoint(stream_url: &Url, data: &str) -> Result<Url, SseTransportError> {
    let data = data.trim();
    if data.is_empty() {
        return Err(SseTransportError::InvalidEndpoint(
            "the endpoint event is empty".into(),
        ));
    }
    let mut endpoint = stream_url
        .join(data)
        .map_err(|e| SseTransportError::InvalidEndpoint(e.to_string()))?;
    endpoint.set_fragment(None);
    let (endpoint_origin, stream_origin) = (endpoint.origin(), stream_url.origin());
    if endpoint_origin != stream_origin || !endpoint_origin.is_tuple() {
        tracing::warn!(
            endpoint_origin = %endpoint_origin.ascii_serialization(),
            stream_origin = %stream_origin.ascii_serialization(),
            "refusing a message endpoint on another origin"
        );
        return Err(SseTransportError::ForeignEndpoint {
            endpoint_origin: endpoint_origin.ascii_serialization(),
            stream_origin: stream_origin.ascii_serialization(),
        });
    }
    Ok(endpoint)
}

/// Whether a Content-Type names `text/event-stream` (any parameters, any case).
fn is_event_stream(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|media| media.trim().eq_ignore_ascii_case(EVENT_STREAM))
}

fn www_authenticate(headers: &HeaderMap) -> Option<String> {
    headers
        .get(WWW_AUTHENTICATE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// The response's events, each bounded to [`MAX_EVENT_BYTES`].
fn event_stream(response: reqwest::Response) -> BoxStream<'static, Result<Sse, sse_stream::Error>> {
    let mut limit = EventSizeLimit::new(MAX_EVENT_BYTES);
    let bytes = response.bytes_stream().map(move |chunk| match chunk {
        Ok(chunk) => match limit.observe(&chunk) {
            Ok(()) => Ok(chunk),
            Err(()) => Err(std::io::Error::other(format!(
                "an event exceeded {MAX_EVENT_BYTES} bytes"
            ))),
        },
        Err(e) => Err(std::io::Error::other(e.without_url())),
    });
    SseStream::from_bytes_stream(bytes).boxed()
}

/// Counts the bytes of the event being received, so a server cannot grow one without end.
struct EventSizeLimit {
    max: usize,
    event: usize,
    line: usize,
    after_cr: bool,
}

impl EventSizeLimit {
    fn new(max: usize) -> Self {
        EventSizeLimit {
            max,
            event: 0,
            line: 0,
            after_cr: false,
        }
    }

    fn observe(&mut self, chunk: &[u8]) -> Result<(), ()> {
        for &byte in chunk {
            let after_cr = std::mem::replace(&mut self.after_cr, byte == b'\r');
            match byte {
                b'\n' if after_cr => {}
                b'\r' | b'\n' => {
                    // A blank line ends the event.
                    self.event = if self.line == 0 {
                        0
                    } else {
                        self.event + self.line + 1
                    };
                    self.line = 0;
                }
                _ => self.line += 1,
            }
            if self.event + self.line > self.max {
                return Err(());
            }
        }
        Ok(())
    }
}

/// Up to `limit` bytes of the body.
async fn read_prefix(mut response: reqwest::Response, limit: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                body.extend_from_slice(&chunk[..chunk.len().min(limit - body.len())])
            }
            _ => break,
        }
    }
    body
}

/// The start of an error response's body, on one line, for the error message.
async fn body_quote(response: reqwest::Response) -> String {
    let body = read_prefix(response, ERROR_BODY_QUOTE * 4).await;
    let text = String::from_utf8_lossy(&body);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match text.char_indices().nth(ERROR_BODY_QUOTE) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("http://127.0.0.1:3001/sse?token=x").unwrap()
    }

    #[test]
    fn relative_endpoint_resolves_against_the_stream_url() {
        let endpoint = resolve_endpoint(&base(), " /message?sessionId=abc\n").unwrap();
        assert_eq!(
            endpoint.as_str(),
            "http://127.0.0.1:3001/message?sessionId=abc"
        );
        let endpoint = resolve_endpoint(&base(), "messages/?session_id=1").unwrap();
        assert_eq!(
            endpoint.as_str(),
            "http://127.0.0.1:3001/messages/?session_id=1"
        );
        let endpoint = resolve_endpoint(&base(), "http://127.0.0.1:3001/m#frag").unwrap();
        assert_eq!(endpoint.as_str(), "http://127.0.0.1:3001/m");
    }

    #[test]
    fn endpoint_on_another_origin_is_refused() {
        for foreign in [
            "http://evil.example/message",
            "//evil.example/message",
            "https://127.0.0.1:3001/message",
            "http://127.0.0.1:3002/message",
            "http://localhost:3001/message",
            "data:text/plain,hi",
        ] {
            let refused = resolve_endpoint(&base(), foreign);
            assert!(
                matches!(refused, Err(SseTransportError::ForeignEndpoint { .. })),
                "{foreign}: {refused:?}"
            );
        }
        assert!(matches!(
            resolve_endpoint(&base(), "  "),
            Err(SseTransportError::InvalidEndpoint(_))
        ));
        // The default port is the same origin.
        let https = Url::parse("https://example.com/sse").unwrap();
        assert!(resolve_endpoint(&https, "https://example.com:443/messages").is_ok());
    }

    #[test]
    fn event_stream_content_types() {
        assert!(is_event_stream("text/event-stream"));
        assert!(is_event_stream("Text/Event-Stream; charset=utf-8"));
        assert!(!is_event_stream("application/json"));
        assert!(!is_event_stream("text/event-streamx"));
    }

    #[test]
    fn decode_skips_what_is_not_a_message() {
        let message = r#"{"jsonrpc":"2.0","id":1,"result":{}}"#;
        assert_eq!(
            decode(Sse::default().event("message").data(message)).len(),
            1
        );
        assert_eq!(decode(Sse::default().data(message)).len(), 1);
        assert_eq!(
            decode(Sse::default().data(format!("[{message},{message}]"))).len(),
            2
        );
        assert!(decode(Sse::default().event("ping").data(message)).is_empty());
        assert!(decode(Sse::default().event("endpoint").data("/elsewhere")).is_empty());
        assert!(decode(Sse::default().data("not json")).is_empty());
        assert!(decode(Sse::default().event("message")).is_empty());
    }

    #[test]
    fn event_size_limit_counts_one_event_at_a_time() {
        let mut limit = EventSizeLimit::new(20);
        for _ in 0..10 {
            assert!(limit.observe(b"data: 0123456789\r\n\r\n").is_ok());
        }
        assert!(limit.observe(b"data: 0123456789\n").is_ok());
        assert!(limit.observe(b"data: 01").is_err());
        let mut limit = EventSizeLimit::new(20);
        assert!(limit.observe(b"data: 0123456789012345678901234").is_err());
    }

    #[test]
    fn error_messages_carry_no_urls() {
        let e = SseTransportError::HttpStatus {
            status: StatusCode::NOT_FOUND,
            body: "Cannot GET /nope".into(),
        };
        assert_eq!(
            e.to_string(),
            "the server answered HTTP 404 Not Found: Cannot GET /nope"
        );
    }
}
