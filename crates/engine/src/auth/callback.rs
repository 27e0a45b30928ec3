//! The loopback redirect (RFC 8252): a listener on 127.0.0.1 with an OS-chosen port and path
//! `/callback`. It accepts exactly one callback whose `state` matches this login, answers the
//! browser with a small page, and closes after that, on cancel, or at its timeout. A request
//! with another state (a stale tab, a stray request) gets a failure page and does not end the
//! login.

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
}

impl CallbackListener {
    pub async fn bind() -> std::io::Result<CallbackListener> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        Ok(CallbackListener {
            listener,
            redirect_uri: format!("http://127.0.0.1:{port}{CALLBACK_PATH}"),
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
                    let reply = answer(&req, &state, &server, &slot);
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

fn answer(
    req: &Request<hyper::body::Incoming>,
    state: &str,
    server: &str,
    slot: &Mutex<Option<oneshot::Sender<Callback>>>,
) -> Response<Full<Bytes>> {
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
