//! Tokens go only where they belong: a saved login is sent only to the URL it was made for
//! (even by a process still holding an old definition), never over plain http to another
//! machine; and the legacy SSE transport gets its login like Streamable HTTP does.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use patchbay_engine::auth::browser::BrowserMode;
use patchbay_engine::store::Expected;
use patchbay_engine::{CallOutcome, CallRequest, HubError, ServerState};

use common::oauth::AuthServer;

/// A loopback HTTP server that answers every request 401 (asking for a login) and records each
/// request's `Authorization` header, or `None` when it had none.
struct Recorder {
    port: u16,
    seen: Arc<Mutex<Vec<Option<String>>>>,
}

impl Recorder {
    fn start() -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut auth = None;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':')
                        && k.eq_ignore_ascii_case("authorization")
                    {
                        auth = Some(v.trim().to_string());
                    }
                }
                record.lock().unwrap().push(auth);
                let _ = stream.write_all(
                    b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        Recorder { port, seen }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/mcp", self.port)
    }
}

fn echo(server: &str) -> CallRequest {
    CallRequest {
        server: server.into(),
        tool: "echo".into(),
        arguments: serde_json::json!({ "message": "hi" }).as_object().cloned(),
        timeout: Some(Duration::from_secs(20)),
        task: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_holding_an_old_definition_connects_where_the_server_is_now() {
    let auth = AuthServer::start(60);
    let old = Recorder::start();
    let dir = tempfile::tempdir().unwrap();
    // The app: it holds "remote" at its old URL.
    let app = common::hub(&dir).await;
    app.add_server(common::http_def("remote", &old.url()))
        .await
        .unwrap();
    // Another process (the CLI) points it at the real server and logs in there.
    let cli = common::hub(&dir).await;
    cli.update_server(common::http_def("remote", &auth.resource))
        .await
        .unwrap();
    cli.login("remote", BrowserMode::Follow, Duration::from_secs(60))
        .await
        .unwrap();

    // The app, with its stale definition, connects to where the server is now, with its login;
    // the old URL is never sent anything.
    assert_eq!(
        app.connect_and_wait("remote").await.unwrap(),
        ServerState::Connected
    );
    assert_eq!(
        app.call_tool(echo("remote")).await.unwrap().outcome,
        CallOutcome::Ok
    );
    assert!(
        old.seen.lock().unwrap().is_empty(),
        "the old URL was contacted"
    );
    app.shutdown().await;
    cli.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_is_never_sent_to_a_url_it_was_not_made_for() {
    let auth = AuthServer::start(60);
    let elsewhere = Recorder::start();
    let dir = tempfile::tempdir().unwrap();
    let hub = common::hub(&dir).await;
    hub.add_server(common::http_def("remote", &auth.resource))
        .await
        .unwrap();
    hub.login("remote", BrowserMode::Follow, Duration::from_secs(60))
        .await
        .unwrap();
    let refresher = hub.refresher().await;
    let login = refresher
        .credentials()
        .current("remote")
        .await
        .unwrap()
        .unwrap();

    // The server is pointed elsewhere (its login goes), and then a login made for the old
    // address lands late, as one still running in another process would.
    let other = common::hub(&dir).await;
    other
        .update_server(common::http_def("remote", &elsewhere.url()))
        .await
        .unwrap();
    refresher
        .credentials()
        .save(
            &login.key,
            Expected::Any,
            &login.access_token,
            login.refresh_token.as_ref(),
            None,
            login.meta.clone(),
        )
        .await
        .unwrap();

    // The login is for the old resource: the new address never gets it.
    assert_eq!(
        other.connect_and_wait("remote").await.unwrap(),
        ServerState::NeedsAuth
    );
    let seen = elsewhere.seen.lock().unwrap().clone();
    assert!(!seen.is_empty(), "the new address was never asked");
    assert!(
        seen.iter().all(Option::is_none),
        "the login went to a URL it was not made for: {seen:?}"
    );
    hub.shutdown().await;
    other.shutdown().await;
}

#[tokio::test]
async fn no_login_to_plain_http_on_another_machine() {
    let dir = tempfile::tempdir().unwrap();
    let hub = common::hub(&dir).await;
    hub.add_server(common::http_def("lan", "http://mcp.example.com/mcp"))
        .await
        .unwrap();
    let err = hub
        .login("lan", BrowserMode::Follow, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(matches!(err, HubError::Login(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("plain http") && text.contains("https://"),
        "{text}"
    );
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_sse_server_logs_in_gets_its_token_and_heals_a_401() {
    let auth = AuthServer::start_sse(3);
    let dir = tempfile::tempdir().unwrap();
    let hub = common::hub(&dir).await;
    hub.add_server(common::sse_def("legacy", &auth.resource))
        .await
        .unwrap();
    assert_eq!(
        hub.connect_and_wait("legacy").await.unwrap(),
        ServerState::NeedsAuth
    );

    hub.login("legacy", BrowserMode::Follow, Duration::from_secs(60))
        .await
        .unwrap();
    for _ in 0..400 {
        if hub.state("legacy") == Some(ServerState::Connected) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        hub.state("legacy"),
        Some(ServerState::Connected),
        "no endless needs-login loop"
    );
    let report = hub.call_tool(echo("legacy")).await.unwrap();
    assert_eq!(report.outcome, CallOutcome::Ok, "{report:?}");

    // The token expires at the authorization server while we think it fresh: the next message
    // meets a 401, which one refresh heals without the caller seeing it.
    common::oauth::pretend_token_is_fresh(&hub, "legacy").await;
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    auth.post("/test/reset-stats").await;
    let report = hub.call_tool(echo("legacy")).await.unwrap();
    assert_eq!(report.outcome, CallOutcome::Ok, "{report:?}");
    let stats = auth.stats().await;
    assert!(stats["rs_unauthorized"].as_u64().unwrap() >= 1, "{stats}");
    assert_eq!(stats["token_requests"]["refresh_token"], 1, "{stats}");
    hub.shutdown().await;
}
