//! Tokens never reach the logs: everything the engine, rmcp, reqwest and hyper log at TRACE
//! during a login, calls, a refresh after a 401, and a logout is captured, then searched for
//! every access and refresh token the authorization server issued in that time.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use patchbay_engine::auth::browser::BrowserMode;
use patchbay_engine::{CallOutcome, CallRequest};

use common::oauth::AuthServer;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_appears_in_a_full_trace_log() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let auth = AuthServer::start(3);
    let dir = tempfile::tempdir().unwrap();
    let hub = common::hub(&dir).await;
    hub.add_server(common::http_def("remote", &auth.resource))
        .await
        .unwrap();
    let mut tokens = Vec::new();
    let refresher = hub.refresher().await;
    let remember = async |tokens: &mut Vec<String>| {
        if let Some(c) = refresher.credentials().current("remote").await.unwrap() {
            tokens.push(c.access_token.expose().to_string());
            if let Some(rt) = &c.refresh_token {
                tokens.push(rt.expose().to_string());
            }
        }
    };

    hub.login("remote", BrowserMode::Follow, Duration::from_secs(60))
        .await
        .unwrap();
    remember(&mut tokens).await;
    hub.connect_and_wait("remote").await.unwrap();
    let call = || CallRequest {
        server: "remote".into(),
        tool: "echo".into(),
        arguments: serde_json::json!({"message": "hi"}).as_object().cloned(),
        timeout: Some(Duration::from_secs(20)),
        task: false,
    };
    assert_eq!(
        hub.call_tool(call()).await.unwrap().outcome,
        CallOutcome::Ok
    );

    // Let the token die at the AS while we still think it fresh: a 401, a refresh, a retry.
    common::oauth::pretend_token_is_fresh(&hub, "remote").await;
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    assert_eq!(
        hub.call_tool(call()).await.unwrap().outcome,
        CallOutcome::Ok
    );
    remember(&mut tokens).await;
    hub.logout("remote").await.unwrap();
    hub.shutdown().await;

    assert!(
        tokens.len() >= 4,
        "two logins' worth of tokens: {}",
        tokens.len()
    );
    let stats = auth.stats().await;
    assert_eq!(stats["token_requests"]["refresh_token"], 1, "{stats}");
    let log = String::from_utf8_lossy(&captured.0.lock().unwrap()).to_string();
    assert!(
        log.len() > 10_000,
        "the trace log was captured ({} bytes)",
        log.len()
    );
    for token in &tokens {
        assert!(token.len() >= 16);
        assert!(
            !log.contains(token.as_str()),
            "a token appears in the log near: {}",
            log.find(token.as_str())
                .map(|i| log[i.saturating_sub(200)..i].to_string())
                .unwrap_or_default()
        );
    }
}
