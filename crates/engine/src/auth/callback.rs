//! The loopback redirect (RFC 8252): a listener on 127.0.0.1 with an OS-chosen port and path
//! `/callback`. It takes exactly one callback whose `state` matches this login and hands it to
//! the login, which answers the browser only once the code exchange is done: the page says
//! "logged in" only when the person is. A request with another state (a stale tab, a stray
//! request) gets a failure page and does not end the login. A request whose `Host` is not this
//! listener's own loopback address is refused too: a web page can point a name it controls at
//! 127.0.0.1 (DNS rebinding), but it cannot make the browser send `Host: 127.0.0.1:PORT`.
//!
//! It stays small whatever connects: at most `MAX_CONNECTIONS` open connections (more are
//! closed at once), a connection that does not send its headers within `HEADER_TIMEOUT` is
//! closed, none is kept alive after its answer, and [`CallbackServer::close`] closes every
//! socket before the login reports its end.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub const CALLBACK_PATH: &str = "/callback";
/// Open connections at most; a browser needs one or two.
const MAX_CONNECTIONS: usize = 16;
/// How long a connection may take to send its request headers.
#[cfg(not(test))]
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
#[cfg(test)]
const HEADER_TIMEOUT: Duration = Duration::from_millis(500);
/// How long the browser waits for the login to say how it ended (the code exchange).
const ANSWER_WAIT: Duration = Duration::from_secs(120);
/// How long `close` lets an answer being written finish before cutting the connection.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// What the authorization server sent back through the browser.
#[derive(Debug, Clone, PartialEq)]
pub enum Callback {
    Code {
        code: String,
        iss: Option<String>,
    },
    /// The AS said no (`error=access_denied`, ...).
    Denied {
        error: String,
        description: Option<String>,
    },
}

/// The callback, with the browser waiting for how the login ended.
pub struct PendingCallback {
    pub callback: Callback,
    reply: oneshot::Sender<Result<(), String>>,
}

impl PendingCallback {
    /// Tells the browser how the login ended: logged in, or what failed.
    pub fn answer(self, outcome: Result<(), String>) {
        let _ = self.reply.send(outcome);
    }
}

pub struct CallbackListener {
    listener: TcpListener,
    redirect_uri: String,
    port: u16,
}

impl CallbackListener {
    pub async fn bind() -> std::io::Result<CallbackListener> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        Ok(CallbackListener {
            listener,
            redirect_uri: format!("http://127.0.0.1:{port}{CALLBACK_PATH}"),
            port,
        })
    }

    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Starts answering; the callback comes from [`CallbackServer::next`] once `expect` has
    /// named the login's `state`.
    pub fn serve(self, server: String) -> CallbackServer {
        let (tx, rx) = oneshot::channel::<PendingCallback>();
        let shared = Arc::new(Shared {
            port: self.port,
            server,
            state: Mutex::new(None),
            slot: Mutex::new(Some(tx)),
        });
        let stop = CancellationToken::new();
        let task = tokio::spawn(accept_loop(self.listener, shared.clone(), stop.clone()));
        CallbackServer {
            shared,
            rx: Some(rx),
            stop,
            task: Some(task),
        }
    }
}

/// A running listener. Dropping it stops it too, but only `close` waits until every socket is
/// closed.
pub struct CallbackServer {
    shared: Arc<Shared>,
    rx: Option<oneshot::Receiver<PendingCallback>>,
    stop: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

struct Shared {
    port: u16,
    server: String,
    /// The `state` of this login, once its authorization URL is made.
    state: Mutex<Option<String>>,
    /// Where the one matching callback goes; empty once it has.
    slot: Mutex<Option<oneshot::Sender<PendingCallback>>>,
}

impl CallbackServer {
    /// The login's `state`: only a callback that carries it is taken.
    pub fn expect(&self, state: &str) {
        *self.shared.state.lock().unwrap() = Some(state.to_string());
    }

    /// The matching callback; `None` if the listener stopped first. Cancel-safe.
    pub async fn next(&mut self) -> Option<PendingCallback> {
        let rx = self.rx.as_mut()?;
        let got = rx.await.ok();
        self.rx = None;
        got
    }

    /// Stops listening and closes every connection (an answer being written gets a moment to
    /// finish); returns once all are closed.
    pub async fn close(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for CallbackServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, stop: CancellationToken) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
            // Reap finished connections as they end.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let Ok((stream, _)) = accepted else {
            // Out of file descriptors or the like: do not spin on it.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        // Over the cap: closed at once (dropped), the listener stays responsive.
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            continue;
        };
        let shared = shared.clone();
        let stop = stop.clone();
        connections.spawn(async move {
            let _permit = permit;
            let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(answer(&req, &shared).await) }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.cancelled() => {
                    // Let an answer being written finish, then cut the connection.
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(CLOSE_GRACE, conn).await;
                }
            }
        });
    }
    // No new connections from here; the ones open end within the grace, or are cut.
    drop(listener);
    let all_closed = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(CLOSE_GRACE * 2, all_closed)
        .await
        .is_err()
    {
        connections.shutdown().await;
    }
}

/// Whether `Host` names this listener: `127.0.0.1:PORT` or `localhost:PORT`.
fn host_is_ours(req: &Request<hyper::body::Incoming>, port: u16) -> bool {
    let Some(host) = req.headers().get(hyper::header::HOST) else {
        return false;
    };
    let Ok(host) = host.to_str() else {
        return false;
    };
    let host = host.to_ascii_lowercase();
    host == format!("127.0.0.1:{port}") || host == format!("localhost:{port}")
}

async fn answer(req: &Request<hyper::body::Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    if !host_is_ours(req, shared.port) {
        return page(
            StatusCode::MISDIRECTED_REQUEST,
            "Wrong address",
            "Patchbay only takes its login answer at 127.0.0.1. Nothing was logged in.",
        );
    }
    if req.uri().path() != CALLBACK_PATH {
        return page(
            StatusCode::NOT_FOUND,
            "Not found",
            "This is Patchbay's login callback; nothing else lives here.",
        );
    }
    let params: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let expected = shared.state.lock().unwrap().clone();
    if expected.is_none() || params.get("state") != expected.as_ref() {
        return page(
            StatusCode::BAD_REQUEST,
            "Login link expired",
            "This answer does not belong to the login Patchbay is waiting for (it may come from an older tab). Start the login again from Patchbay.",
        );
    }
    let callback = match (params.get("code"), params.get("error")) {
        (_, Some(error)) => Callback::Denied {
            error: error.clone(),
            description: params.get("error_description").cloned(),
        },
        (Some(code), None) => Callback::Code {
            code: code.clone(),
            iss: params.get("iss").cloned(),
        },
        (None, None) => {
            return page(
                StatusCode::BAD_REQUEST,
                "Login failed",
                "The authorization server sent neither a code nor an error. Start the login again from Patchbay.",
            );
        }
    };
    let Some(tx) = shared.slot.lock().unwrap().take() else {
        return page(
            StatusCode::CONFLICT,
            "Already done",
            "This login has already finished. You can close this tab.",
        );
    };
    let (reply, outcome) = oneshot::channel();
    let denied = match &callback {
        Callback::Denied { error, description } => Some(format!(
            "{}{}",
            html_escape(error),
            description
                .as_deref()
                .map(|d| format!(": {}", html_escape(d)))
                .unwrap_or_default()
        )),
        Callback::Code { .. } => None,
    };
    if tx.send(PendingCallback { callback, reply }).is_err() {
        return page(
            StatusCode::GONE,
            "Login stopped",
            "Patchbay stopped waiting for this login. Start it again from Patchbay.",
        );
    }
    if let Some(denied) = denied {
        return page(
            StatusCode::OK,
            "Login refused",
            &format!(
                "The authorization server refused the login ({denied}). Go back to Patchbay to try again."
            ),
        );
    }
    // The page tells the truth: it waits for the code exchange (and the save) to end.
    match tokio::time::timeout(ANSWER_WAIT, outcome).await {
        Ok(Ok(Ok(()))) => page(
            StatusCode::OK,
            "Logged in",
            &format!(
                "Patchbay is now logged in to {}. You can close this tab and go back to Patchbay.",
                html_escape(&shared.server)
            ),
        ),
        Ok(Ok(Err(why))) => page(
            StatusCode::OK,
            "Login failed",
            &format!(
                "The login did not complete: {}. Go back to Patchbay to try again.",
                html_escape(&why)
            ),
        ),
        Ok(Err(_)) => page(
            StatusCode::OK,
            "Login stopped",
            "The login was stopped in Patchbay before it completed. Start it again from Patchbay.",
        ),
        Err(_) => page(
            StatusCode::OK,
            "Still working",
            "Patchbay is taking long to finish the login; go back to Patchbay to see how it ended.",
        ),
    }
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(status: StatusCode, title: &str, body: &str) -> Response<Full<Bytes>> {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} — Patchbay</title>\
         <meta name=\"color-scheme\" content=\"light dark\"><style>body{{font:16px system-ui,sans-serif;max-width:36em;margin:15vh auto;padding:0 1em}}</style></head>\
         <body><main><h1>{title}</h1><p>{body}</p></main></body></html>"
    );
    Response::builder()
        .status(status)
        .header("content-type", "text/html; charset=utf-8")
        .header("cache-control", "no-store")
        .header(
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'",
        )
        .body(Full::new(Bytes::from(html)))
        .expect("static response parts are valid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// One raw HTTP/1.1 request, so the test controls every header (a client library would
    /// set `Host` itself). Returns the status code and body, or `None` when nothing listens.
    async fn raw_get(port: u16, host: &str, target: &str) -> Option<(u16, String)> {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()?;
        let request = format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut reply = String::new();
        stream.read_to_string(&mut reply).await.ok()?;
        let status = reply.split(' ').nth(1)?.parse().ok()?;
        Some((status, reply))
    }

    async fn status(port: u16, host: &str, target: &str) -> Option<u16> {
        raw_get(port, host, target).await.map(|(s, _)| s)
    }

    async fn listening(state: &str) -> (u16, CallbackServer) {
        let listener = CallbackListener::bind().await.unwrap();
        let port = listener.port;
        assert_eq!(
            listener.redirect_uri(),
            format!("http://127.0.0.1:{port}/callback")
        );
        let server = listener.serve("demo".into());
        server.expect(state);
        (port, server)
    }

    /// Whether the peer closed `stream` (EOF or reset) within `within`.
    async fn closed_within(stream: &mut tokio::net::TcpStream, within: Duration) -> bool {
        let mut buf = [0u8; 64];
        matches!(
            tokio::time::timeout(within, stream.read(&mut buf)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }

    #[tokio::test]
    async fn a_foreign_host_or_state_is_refused_and_the_login_keeps_waiting() {
        let (port, mut server) = listening("s1").await;
        let here = format!("127.0.0.1:{port}");
        // DNS rebinding: a page at evil.example resolved to 127.0.0.1.
        let rebound = format!("evil.example:{port}");
        assert_eq!(
            status(port, &rebound, "/callback?code=c&state=s1").await,
            Some(421)
        );
        assert_eq!(
            status(port, &here, "/callback?code=c&state=other").await,
            Some(400)
        );
        assert_eq!(status(port, &here, "/elsewhere").await, Some(404));
        assert_eq!(status(port, &here, "/callback?state=s1").await, Some(400));
        assert!(
            tokio::time::timeout(Duration::from_millis(50), server.next())
                .await
                .is_err(),
            "none of those ends the login"
        );
        server.close().await;
    }

    #[tokio::test]
    async fn the_page_says_logged_in_only_once_the_login_has_succeeded() {
        let (port, mut server) = listening("s1").await;
        let localhost = format!("localhost:{port}");
        let browser = tokio::spawn(async move {
            raw_get(
                port,
                &localhost,
                "/callback?code=the-code&state=s1&iss=https%3A%2F%2Fas",
            )
            .await
        });
        let pending = server.next().await.expect("the callback");
        assert_eq!(
            pending.callback,
            Callback::Code {
                code: "the-code".into(),
                iss: Some("https://as".into())
            }
        );
        // The browser is still waiting: the exchange has not happened yet.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!browser.is_finished());
        pending.answer(Ok(()));
        let (code, page) = browser.await.unwrap().unwrap();
        assert_eq!(code, 200);
        assert!(page.contains("Logged in"), "{page}");
        // One callback per login: a second answer is refused.
        let here = format!("127.0.0.1:{port}");
        assert_eq!(
            status(port, &here, "/callback?code=again&state=s1").await,
            Some(409)
        );
        server.close().await;
        assert_eq!(
            status(port, &here, "/callback?code=again&state=s1").await,
            None
        );
    }

    #[tokio::test]
    async fn a_failed_exchange_is_what_the_page_says() {
        let (port, mut server) = listening("s2").await;
        let here = format!("127.0.0.1:{port}");
        let browser =
            tokio::spawn(async move { raw_get(port, &here, "/callback?code=c&state=s2").await });
        server.next().await.unwrap().answer(Err(
            "the authorization server did not accept the login code: <invalid_grant>".into(),
        ));
        let (_, page) = browser.await.unwrap().unwrap();
        assert!(
            page.contains("Login failed") && page.contains("&lt;invalid_grant&gt;"),
            "{page}"
        );
        assert!(!page.contains("Logged in"), "{page}");
        server.close().await;
    }

    #[tokio::test]
    async fn an_error_from_the_authorization_server_ends_the_login_with_its_words() {
        let (port, mut server) = listening("s2").await;
        let here = format!("127.0.0.1:{port}");
        let (code, page) = raw_get(
            port,
            &here,
            "/callback?error=access_denied&error_description=%3Cb%3Eno%3C%2Fb%3E&state=s2",
        )
        .await
        .unwrap();
        assert_eq!(code, 200);
        assert!(page.contains("&lt;b&gt;no"), "{page}");
        assert_eq!(
            server.next().await.unwrap().callback,
            Callback::Denied {
                error: "access_denied".into(),
                description: Some("<b>no</b>".into())
            }
        );
        server.close().await;
    }

    #[tokio::test]
    async fn close_closes_every_socket_before_it_returns() {
        let (port, server) = listening("s3").await;
        // A browser that connected and said nothing yet, and one waiting for its answer.
        let mut idle = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let mut half = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        half.write_all(b"GET /callback?code=c&state=s3 HTTP/1.1\r\n")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        server.close().await;
        // Closed by the time `close` returned: no wait needed.
        assert!(closed_within(&mut idle, Duration::from_millis(1)).await);
        assert!(closed_within(&mut half, Duration::from_millis(1)).await);
        assert!(
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn connections_are_capped_and_a_silent_one_is_dropped() {
        let (port, server) = listening("s4").await;
        let mut held = Vec::new();
        for _ in 0..MAX_CONNECTIONS {
            held.push(
                tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .unwrap(),
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        // One over the cap is closed at once.
        let mut extra = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        assert!(closed_within(&mut extra, Duration::from_secs(2)).await);
        // A connection that never sends its headers is closed after the header timeout, which
        // frees its place.
        assert!(closed_within(&mut held[0], HEADER_TIMEOUT * 4).await);
        let here = format!("127.0.0.1:{port}");
        assert_eq!(status(port, &here, "/elsewhere").await, Some(404));
        server.close().await;
    }
}
