//! Sessions with a saved login against a real authorization server and a protected
//! server-everything (tests/peers/oauth): `needs_auth` until a login, then connected by itself;
//! a 401 mid-session healed by one refresh and a retry the caller never sees; a login that is
//! truly gone shows `needs_auth` again.

mod common;

use std::time::Duration;

use patchbay_engine::auth::browser::BrowserMode;
use patchbay_engine::events::Event;
use patchbay_engine::{CallOutcome, CallRequest, Hub, ServerState};

use common::oauth::AuthServer;

fn echo(message: &str) -> CallRequest {
    CallRequest {
        server: "remote".into(),
        tool: "echo".into(),
        arguments: serde_json::json!({ "message": message })
            .as_object()
            .cloned(),
        timeout: Some(Duration::from_secs(20)),
        task: false,
    }
}

async fn wait_state(hub: &Hub, want: &str) {
    for _ in 0..400 {
        if hub.state("remote").map(|s| s.name()) == Some(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "server never reached {want}; it is {:?}",
        hub.state("remote")
    );
}

async fn logged_in_hub(dir: &tempfile::TempDir, auth: &AuthServer) -> Hub {
    let hub = common::hub(dir).await;
    hub.add_server(common::http_def("remote", &auth.resource))
        .await
        .unwrap();
    hub.login("remote", BrowserMode::Follow, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        hub.connect_and_wait("remote").await.unwrap(),
        ServerState::Connected
    );
    hub
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn needs_auth_until_login_then_connects_by_itself() {
    let auth = AuthServer::start(60);
    let dir = tempfile::tempdir().unwrap();
    let hub = common::hub(&dir).await;
    hub.add_server(common::http_def("remote", &auth.resource))
        .await
        .unwrap();
    let mut events = hub.subscribe();
    assert_eq!(
        hub.connect_and_wait("remote").await.unwrap(),
        ServerState::NeedsAuth
    );
    let err = hub.call_tool(echo("early")).await.unwrap();
    assert_eq!(err.outcome, CallOutcome::Failed);
    assert!(err.error.unwrap().contains("needs a login"));

    hub.login("remote", BrowserMode::Follow, Duration::from_secs(60))
        .await
        .unwrap();
    common::expect_event(&mut events, Duration::from_secs(20), |e| {
        matches!(e, Event::State { server, state: ServerState::Connected } if server == "remote")
    })
    .await;
    let report = hub.call_tool(echo("after login")).await.unwrap();
    assert_eq!(report.outcome, CallOutcome::Ok, "{report:?}");
    assert!(common::text_of(report.result.as_ref().unwrap()).contains("after login"));
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_mid_session_is_refreshed_once_for_many_calls_and_retried() {
    let auth = AuthServer::start(3);
    let dir = tempfile::tempdir().unwrap();
    let hub = logged_in_hub(&dir, &auth).await;
    common::oauth::pretend_token_is_fresh(&hub, "remote").await;
    // Past the AS's 3 s lifetime: the token we still think fresh is dead there.
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    auth.post("/test/reset-stats").await;

    // The figure: 50 concurrent calls hitting 401 cause exactly one token request.
    let calls = (0..50).map(|i| {
        let hub = hub.clone();
        tokio::spawn(async move { hub.call_tool(echo(&format!("call {i}"))).await })
    });
    for (i, r) in futures::future::join_all(calls)
        .await
        .into_iter()
        .enumerate()
    {
        let report = r.unwrap().unwrap();
        assert_eq!(report.outcome, CallOutcome::Ok, "call {i}: {report:?}");
        assert!(common::text_of(report.result.as_ref().unwrap()).contains(&format!("call {i}")));
    }
    let stats = auth.stats().await;
    assert!(stats["rs_unauthorized"].as_u64().unwrap() >= 1, "{stats}");
    assert_eq!(stats["token_requests"]["refresh_token"], 1, "{stats}");
    assert_eq!(hub.state("remote"), Some(ServerState::Connected));
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_lived_tokens_are_refreshed_ahead_without_a_401() {
    let auth = AuthServer::start(8);
    let dir = tempfile::tempdir().unwrap();
    let hub = logged_in_hub(&dir, &auth).await;
    auth.post("/test/reset-stats").await;
    // One and a half token lifetimes of calls; each token is refreshed 2 s before it expires.
    for i in 0..12 {
        let report = hub.call_tool(echo(&format!("tick {i}"))).await.unwrap();
        assert_eq!(report.outcome, CallOutcome::Ok, "{report:?}");
        tokio::time::sleep(Duration::from_millis(1_000)).await;
    }
    let stats = auth.stats().await;
    let refreshes = stats["token_requests"]["refresh_token"].as_u64().unwrap();
    assert!((1..=6).contains(&refreshes), "{stats}");
    assert_eq!(stats["rs_unauthorized"], 0, "{stats}");
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_login_shows_needs_auth_and_a_new_login_recovers() {
    let auth = AuthServer::start(60);
    let dir = tempfile::tempdir().unwrap();
    let hub = logged_in_hub(&dir, &auth).await;
    auth.post("/test/revoke-grants").await;

    let report = hub.call_tool(echo("revoked")).await.unwrap();
    assert_eq!(report.outcome, CallOutcome::Failed, "{report:?}");
    wait_state(&hub, "needs_auth").await;

    hub.login("remote", BrowserMode::Follow, Duration::from_secs(60))
        .await
        .unwrap();
    wait_state(&hub, "connected").await;
    let report = hub.call_tool(echo("back")).await.unwrap();
    assert_eq!(report.outcome, CallOutcome::Ok, "{report:?}");
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_moves_a_connected_server_to_needs_auth() {
    let auth = AuthServer::start(60);
    let dir = tempfile::tempdir().unwrap();
    let hub = logged_in_hub(&dir, &auth).await;
    let report = hub.logout("remote").await.unwrap();
    assert!(report.removed && report.revoked, "{report:?}");
    wait_state(&hub, "needs_auth").await;
    let call = hub.call_tool(echo("after logout")).await.unwrap();
    assert_eq!(call.outcome, CallOutcome::Failed);
    assert!(call.error.unwrap().contains("needs a login"));
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_made_during_a_login_wait_for_it_and_then_run() {
    let auth = AuthServer::start(60);
    let dir = tempfile::tempdir().unwrap();
    let hub = common::hub(&dir).await;
    hub.add_server(common::http_def("remote", &auth.resource))
        .await
        .unwrap();
    assert_eq!(
        hub.connect_and_wait("remote").await.unwrap(),
        ServerState::NeedsAuth
    );
    let mut events = hub.subscribe();
    // A login that waits for a browser we answer later (print mode).
    let login = {
        let hub = hub.clone();
        tokio::spawn(async move {
            hub.login("remote", BrowserMode::Print, Duration::from_secs(60))
                .await
        })
    };
    let url = loop {
        if let Event::LoginUrl { url, .. } = events.recv().await.unwrap() {
            break url;
        }
    };
    // Calls arrive while the person is still in the browser.
    let calls: Vec<_> = (0..5)
        .map(|i| {
            let hub = hub.clone();
            tokio::spawn(async move { hub.call_tool(echo(&format!("waited {i}"))).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        calls.iter().all(|c| !c.is_finished()),
        "the calls wait for the login"
    );
    // The "browser": walk the AS's redirects with cookies into our callback.
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let r = browser.get(&url).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    login.await.unwrap().unwrap();
    for (i, c) in calls.into_iter().enumerate() {
        let report = c.await.unwrap().unwrap();
        assert_eq!(report.outcome, CallOutcome::Ok, "call {i}: {report:?}");
        assert!(common::text_of(report.result.as_ref().unwrap()).contains(&format!("waited {i}")));
    }

    // A cancelled login ends the wait with a clear failure.
    hub.logout("remote").await.unwrap();
    wait_state(&hub, "needs_auth").await;
    let login = {
        let hub = hub.clone();
        tokio::spawn(async move {
            hub.login("remote", BrowserMode::Print, Duration::from_secs(60))
                .await
        })
    };
    loop {
        if let Event::LoginUrl { .. } = events.recv().await.unwrap() {
            break;
        }
    }
    let call = {
        let hub = hub.clone();
        tokio::spawn(async move { hub.call_tool(echo("never")).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(hub.cancel_login("remote"));
    assert!(login.await.unwrap().is_err());
    let report = call.await.unwrap().unwrap();
    assert_eq!(report.outcome, CallOutcome::Failed);
    assert!(report.error.unwrap().contains("needs a login"));
    hub.shutdown().await;
}

/// A token endpoint that hangs: the refresh gives up at its bound, the server shows
/// `needs_auth` (not a vague transport error), the late answer is never stored, and logging in
/// again recovers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_token_endpoint_times_out_into_needs_auth_and_nothing_late_is_stored() {
    let auth = AuthServer::start(3);
    let dir = tempfile::tempdir().unwrap();
    let hub = common::hub_with(&dir, |o| o.refresh_timeout = Duration::from_secs(2)).await;
    hub.add_server(common::http_def("remote", &auth.resource))
        .await
        .unwrap();
    hub.login("remote", BrowserMode::Follow, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        hub.connect_and_wait("remote").await.unwrap(),
        ServerState::Connected
    );
    let before = hub.auth_status("remote").await.unwrap();
    // Past the 3 s token: the next request needs a refresh, and the AS sits on it for 6 s.
    tokio::time::sleep(Duration::from_millis(3_300)).await;
    auth.post("/test/delay?ms=6000&phase=before").await;
    auth.post("/test/reset-stats").await;

    let started = std::time::Instant::now();
    let report = hub.call_tool(echo("during the hang")).await.unwrap();
    assert_ne!(report.outcome, CallOutcome::Ok, "{report:?}");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "the refresh must give up at its 2 s bound, not wait for the AS: {:?}",
        started.elapsed()
    );
    wait_state(&hub, "needs_auth").await;
    assert!(auth.refreshes().await >= 1);

    // The AS's answer would have come at 6 s: wait past it; the stored login is the old one.
    tokio::time::sleep(Duration::from_millis(6_500)).await;
    let after = hub.auth_status("remote").await.unwrap();
    assert_eq!(
        after.expires_at_ms, before.expires_at_ms,
        "a late answer was stored"
    );
    let stats = auth.stats().await;
    assert_eq!(
        stats["refresh_dropped"].as_u64(),
        Some(auth.refreshes().await),
        "{stats}"
    );

    auth.post("/test/delay?ms=0").await;
    hub.login("remote", BrowserMode::Follow, Duration::from_secs(60))
        .await
        .unwrap();
    wait_state(&hub, "connected").await;
    let report = hub.call_tool(echo("after the hang")).await.unwrap();
    assert_eq!(report.outcome, CallOutcome::Ok, "{report:?}");
    hub.shutdown().await;
}
