//! The loopback redirect (RFC 8252): a listener on 127.0.0.1 with an OS-chosen port and path
//! `/callback`. It accepts exactly one callback whose `state` matches this login, answers the
//! browser with a small page, and closes after that, on cancel, or at its timeout. A request
//! with another state (a stale tab, a stray request) gets a failure page and does not end the
//! login. A request whose `Host` is not this listener's own loopback address is refused too:
//! a web page can point a name it controls at 127.0.0.1 (DNS rebinding), but it cannot make the
//! browser send `Host: 127.0.0.1:PORT`.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

pub const CALLBACK_PATH: &str = "/callback";

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

    /// Serves until one callback with `state` arrives (returned), or `stop` is cancelled
    /// (`None`). The socket is closed when this returns.
    pub async fn accept(
        self,
        state: String,
        server: String,
        stop: CancellationToken,
    ) -> Option<Callback> {
        let (tx, rx) = oneshot::channel::<Callback>();
        let slot = Arc::new(Mutex::new(Some(tx)));
        let port = self.port;
        let accepting = async {
            loop {
                let Ok((stream, _)) = self.listener.accept().await else {
                    // Out of file descriptors or the like: do not spin on it.
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                };
                let slot = slot.clone();
                let state = state.clone();
                let server = server.clone();
                let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let reply = answer(&req, port, &state, &server, &slot);
                    async move { Ok::<_, Infallible>(reply) }
                });
                tokio::spawn(async move {
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        };
        tokio::select! {
            got = rx => got.ok(),
            _ = accepting => None,
            _ = stop.cancelled() => None,
        }
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

fn answer(
    req: &Request<hyper::body::Incoming>,
    port: u16,
    state: &str,
    server: &str,
    slot: &Mutex<Option<oneshot::Sender<Callback>>>,
) -> Response<Full<Bytes>> {
    if !host_is_ours(req, port) {
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
    if params.get("state").map(String::as_str) != Some(state) {
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
    let Some(tx) = slot.lock().unwrap().take() else {
        return page(
            StatusCode::CONFLICT,
            "Already done",
            "This login has already finished. You can close this tab.",
        );
    };
    let reply = match &callback {
        Callback::Code { .. } => page(
            StatusCode::OK,
            "Logged in",
            &format!(
                "Patchbay is now logged in to {}. You can close this tab and go back to Patchbay.",
                html_escape(server)
            ),
        ),
        Callback::Denied { error, description } => page(
            StatusCode::OK,
            "Login refused",
            &format!(
                "The authorization server refused the login ({}{}). Go back to Patchbay to try again.",
                html_escape(error),
                description
                    .as_deref()
                    .map(|d| format!(": {}", html_escape(d)))
                    .unwrap_or_default()
            ),
        ),
    };
    let _ = tx.send(callback);
    reply
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
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// One raw HTTP/1.1 request, so the test controls every header (a client library would
    /// set `Host` itself). Returns the status code, or `None` when nothing listens any more.
    async fn raw_get(port: u16, host: &str, target: &str) -> Option<u16> {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()?;
        let request = format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut reply = String::new();
        stream.read_to_string(&mut reply).await.ok()?;
        reply.split(' ').nth(1)?.parse().ok()
    }

    async fn listening(
        state: &str,
    ) -> (
        u16,
        CancellationToken,
        tokio::task::JoinHandle<Option<Callback>>,
    ) {
        let listener = CallbackListener::bind().await.unwrap();
        let port = listener.port;
        assert_eq!(
            listener.redirect_uri(),
            format!("http://127.0.0.1:{port}/callback")
        );
        let stop = CancellationToken::new();
        let task = tokio::spawn(listener.accept(state.into(), "demo".into(), stop.clone()));
        (port, stop, task)
    }

    #[tokio::test]
    async fn a_foreign_host_or_state_is_refused_and_the_login_keeps_waiting() {
        let (port, _stop, task) = listening("s1").await;
        let here = format!("127.0.0.1:{port}");
        // DNS rebinding: a page at evil.example resolved to 127.0.0.1.
        let rebound = format!("evil.example:{port}");
        assert_eq!(
            raw_get(port, &rebound, "/callback?code=c&state=s1").await,
            Some(421)
        );
        assert_eq!(
            raw_get(port, &here, "/callback?code=c&state=other").await,
            Some(400)
        );
        assert_eq!(raw_get(port, &here, "/elsewhere").await, Some(404));
        assert_eq!(raw_get(port, &here, "/callback?state=s1").await, Some(400));
        assert!(!task.is_finished(), "none of those ends the login");

        let localhost = format!("localhost:{port}");
        assert_eq!(
            raw_get(
                port,
                &localhost,
                "/callback?code=the-code&state=s1&iss=https%3A%2F%2Fas"
            )
            .await,
            Some(200)
        );
        assert_eq!(
            task.await.unwrap(),
            Some(Callback::Code {
                code: "the-code".into(),
                iss: Some("https://as".into())
            })
        );
        // One callback per login: the listener is closed, a second answer reaches nobody.
        assert_eq!(
            raw_get(port, &here, "/callback?code=again&state=s1").await,
            None
        );
    }

    #[tokio::test]
    async fn an_error_from_the_authorization_server_ends_the_login_with_its_words() {
        let (port, _stop, task) = listening("s2").await;
        let here = format!("127.0.0.1:{port}");
        assert_eq!(
            raw_get(
                port,
                &here,
                "/callback?error=access_denied&error_description=%3Cb%3Eno%3C%2Fb%3E&state=s2"
            )
            .await,
            Some(200)
        );
        assert_eq!(
            task.await.unwrap(),
            Some(Callback::Denied {
                error: "access_denied".into(),
                description: Some("<b>no</b>".into())
            })
        );
    }

    #[tokio::test]
    async fn after_a_cancel_or_timeout_a_late_callback_reaches_nobody() {
        let (port, stop, task) = listening("s3").await;
        // The login's timeout fires (the login cancels the same token on timeout or cancel).
        tokio::time::sleep(Duration::from_millis(20)).await;
        stop.cancel();
        assert_eq!(task.await.unwrap(), None);
        let here = format!("127.0.0.1:{port}");
        assert_eq!(
            raw_get(port, &here, "/callback?code=late&state=s3").await,
            None
        );
    }
}
