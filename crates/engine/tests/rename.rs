//! Renaming a server by editing it, against real server-everything peers and a real SQLite
//! file: everything kept under the old name moves (history, sealed env and header values, the
//! saved login), the old name is gone, a taken name changes nothing, and a call running at the
//! time is cancelled and its history moves too.

mod common;

use std::time::Duration;

use common::oauth::AuthServer;
use common::*;
use patchbay_engine::auth::browser::BrowserMode;
use patchbay_engine::store::{Lease, Store, StoreError};
use patchbay_engine::{CallOutcome, HubError, ServerState};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

fn names(servers: &[patchbay_engine::ServerView]) -> Vec<String> {
    servers.iter().map(|s| s.def.name.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rename_moves_history_and_values_and_cancels_a_running_call() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(&dir).await;
    let marker = marker();
    // The marker is an env value: sealed under the server's name.
    hub.add_server(stdio_def("ev", &marker)).await.unwrap();
    assert_eq!(
        hub.connect_and_wait("ev").await.unwrap(),
        ServerState::Connected
    );
    let echo = hub
        .call_tool(req("ev", "echo", json!({"message": "before"})))
        .await
        .unwrap();
    assert_eq!(echo.outcome, CallOutcome::Ok);

    // A long call is running when the rename arrives.
    let mut events = hub.subscribe();
    let long = long_call_running(&hub, "ev", 120, &mut events, WAIT).await;
    let mut def = hub.server("ev").unwrap();
    def.name = "everything".into();
    hub.edit_server("ev", def).await.unwrap();
    let cancelled = long.finish().await;
    assert_eq!(cancelled.outcome, CallOutcome::Cancelled, "{cancelled:?}");

    // The old name is gone everywhere; the new one has all of it.
    assert_eq!(names(&hub.servers().await.unwrap()), ["everything"]);
    assert!(matches!(
        hub.history("ev", 10).await,
        Err(HubError::UnknownServer(_))
    ));
    assert!(hub.server("ev").is_err());
    let history = hub.history("everything", 10).await.unwrap();
    let ids: Vec<&str> = history.iter().map(|c| c.call_id.as_str()).collect();
    assert_eq!(ids, [cancelled.call_id.as_str(), echo.call_id.as_str()]);
    assert!(history.iter().all(|c| c.server == "everything"));
    let revealed = hub.reveal_server("everything").await.unwrap();
    assert_eq!(
        revealed.transport,
        stdio_def("everything", &marker).transport
    );

    // It connects under the new name (its sealed values open), one process running.
    let state = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(ServerState::Connected) = hub.state("everything") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(state.is_ok(), "{:?}", hub.state("everything"));
    assert_eq!(processes_with_marker(&marker).len(), 1);
    let after = hub
        .call_tool(req("everything", "echo", json!({"message": "after"})))
        .await
        .unwrap();
    assert_eq!(after.outcome, CallOutcome::Ok);

    // A taken name is refused at the Name field, and nothing changes.
    let mut other = stdio_def("other", &marker);
    other.enabled = false;
    hub.add_server(other).await.unwrap();
    let mut def = hub.server("everything").unwrap();
    def.name = "other".into();
    let taken = hub.edit_server("everything", def).await.unwrap_err();
    assert_eq!(taken.field(), Some("name"), "{taken}");
    assert!(
        taken.to_string().contains("'other' already exists"),
        "{taken}"
    );
    assert_eq!(
        names(&hub.servers().await.unwrap()),
        ["everything", "other"]
    );
    assert_eq!(hub.history("everything", 10).await.unwrap().len(), 3);
    assert!(hub.history("other", 10).await.unwrap().is_empty());
    assert_eq!(hub.state("everything"), Some(ServerState::Connected));

    // Two renames of the same server at once: one after the other (the edit lock), so the
    // second finds no server by the old name.
    let (mut a, mut b) = (
        hub.server("everything").unwrap(),
        hub.server("everything").unwrap(),
    );
    a.name = "a".into();
    b.name = "b".into();
    let (ra, rb) = tokio::join!(
        hub.edit_server("everything", a),
        hub.edit_server("everything", b)
    );
    assert!(
        ra.is_ok() != rb.is_ok(),
        "exactly one rename wins: {ra:?} {rb:?}"
    );
    let lost = ra.err().or(rb.err()).unwrap();
    assert!(matches!(lost, HubError::UnknownServer(_)), "{lost}");
    let winner = if hub.server("a").is_ok() { "a" } else { "b" };
    hub.shutdown().await;
    drop(hub);

    // What was written is in the file: a new hub finds it all under the winning name.
    let hub = common::hub(&dir).await;
    assert_eq!(names(&hub.servers().await.unwrap()), [winner, "other"]);
    assert_eq!(hub.history(winner, 10).await.unwrap().len(), 3);
    assert_eq!(
        hub.reveal_server(winner).await.unwrap().transport,
        stdio_def(winner, &marker).transport
    );
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_login_and_header_values_survive_a_rename() {
    let auth = AuthServer::start(60);
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(&dir).await;
    let mut def = http_def("remote", &auth.resource);
    if let patchbay_engine::TransportDef::Http { headers, .. } = &mut def.transport {
        headers.insert("X-Trace".into(), "sealed-value".into());
    }
    hub.add_server(def).await.unwrap();
    let status = hub
        .login("remote", BrowserMode::Follow, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(status.logged_in, "{status:?}");

    let mut def = hub.server("remote").unwrap();
    def.name = "renamed".into();
    hub.edit_server("remote", def).await.unwrap();

    let refresher = hub.refresher().await;
    let creds = refresher.credentials();
    assert!(creds.current("remote").await.unwrap().is_none());
    let moved = creds
        .current("renamed")
        .await
        .unwrap()
        .expect("the login moved");
    assert_eq!(moved.key.server, "renamed");
    assert!(auth.accepts(&moved.access_token).await);
    let status = hub.auth_status("renamed").await.unwrap();
    assert!(status.logged_in && status.can_refresh, "{status:?}");
    assert_eq!(
        hub.connect_and_wait("renamed").await.unwrap(),
        ServerState::Connected
    );
    // No second login was needed.
    assert_eq!(
        auth.stats().await["token_requests"]["authorization_code"],
        1
    );
    let revealed = hub.reveal_server("renamed").await.unwrap();
    let patchbay_engine::TransportDef::Http { headers, .. } = revealed.transport else {
        panic!("still a Streamable HTTP server");
    };
    assert_eq!(headers["X-Trace"], "sealed-value");
    // And the new name's token refreshes (it is the coordinator's, under its new identity).
    let fresh = refresher.refresh(&moved).await.unwrap();
    assert!(auth.accepts(&fresh.access_token).await);
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rename_waits_for_no_refresh_and_changes_nothing_while_one_runs() {
    let auth = AuthServer::start(60);
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(&dir).await;
    hub.add_server(http_def("remote", &auth.resource))
        .await
        .unwrap();
    hub.login("remote", BrowserMode::Follow, Duration::from_secs(60))
        .await
        .unwrap();
    let before = hub
        .refresher()
        .await
        .credentials()
        .current("remote")
        .await
        .unwrap()
        .unwrap();

    // Another process is redeeming the refresh token right now (it holds the row's lease).
    let other = Store::open(&dir.path().join("patchbay.db")).unwrap();
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        + 60_000;
    assert_eq!(
        other
            .try_lease(&before.key, before.version, "other-process", until)
            .await
            .unwrap(),
        Lease::Granted
    );
    let mut def = hub.server("remote").unwrap();
    def.name = "renamed".into();
    let busy = hub.edit_server("remote", def).await.unwrap_err();
    assert!(
        matches!(busy, HubError::Store(StoreError::Busy { .. })),
        "{busy}"
    );
    assert!(busy.to_string().contains("try again"), "{busy}");
    // Nothing moved; the server goes on under its old name.
    assert_eq!(names(&hub.servers().await.unwrap()), ["remote"]);
    let still = hub
        .refresher()
        .await
        .credentials()
        .current("remote")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(still.version, before.version);
    assert!(
        hub.refresher()
            .await
            .credentials()
            .current("renamed")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        hub.connect_and_wait("remote").await.unwrap(),
        ServerState::Connected
    );
    hub.shutdown().await;
}
