//! What the engine keeps of which revision each server speaks: the revision and era, in the
//! store, shown in the next run's server list until it connects again (forgotten when the
//! definition points elsewhere); and, for this session, that a server misreads `server/discover`
//! (each reconnect then starts one process, not two).

mod common;

use std::time::Duration;

use common::*;
use patchbay_engine::events::Event;
use patchbay_engine::{Era, ServerDef, ServerState, TransportDef};

fn node_def(name: &str, script: &str, args: &[&str]) -> ServerDef {
    let mut all = vec![peers_dir().join(script).to_string_lossy().into_owned()];
    all.extend(args.iter().map(|a| a.to_string()));
    let mut def = ServerDef::new(
        name,
        TransportDef::Stdio {
            command: node().to_string_lossy().into(),
            args: all,
            env: Default::default(),
            cwd: None,
        },
    );
    def.request_timeout_secs = 30;
    def
}

#[tokio::test(flavor = "multi_thread")]
async fn what_a_server_spoke_is_kept_for_the_next_run_and_forgotten_when_it_moves() {
    let dir = tempfile::tempdir().unwrap();
    {
        let hub = hub(&dir).await;
        hub.add_server(node_def("v2", "v2-server.mjs", &["stdio"]))
            .await
            .unwrap();
        hub.add_server(stdio_def("ev", &marker())).await.unwrap();
        for name in ["v2", "ev"] {
            assert_eq!(
                hub.connect_and_wait(name).await.unwrap(),
                ServerState::Connected
            );
        }
        let now = hub.servers().await.unwrap();
        let v2 = now[0].spoke.clone().expect("v2 spoke");
        assert_eq!((v2.era, v2.remembered), (Era::Stateless, false));
        hub.shutdown().await;
    }
    // The next run, before anything connects: what each spoke last time.
    let hub = hub(&dir).await;
    let listed = hub.servers().await.unwrap();
    let v2 = listed[0].spoke.clone().expect("v2 remembered");
    assert_eq!(v2.era, Era::Stateless);
    assert_eq!(v2.protocol_version, "2026-07-28");
    assert!(v2.remembered);
    let ev = listed[1].spoke.clone().expect("ev remembered");
    assert_eq!(ev.era, Era::Session);
    assert!(ev.remembered);
    // Connected again: what it speaks now.
    assert_eq!(
        hub.connect_and_wait("v2").await.unwrap(),
        ServerState::Connected
    );
    let v2 = hub.servers().await.unwrap()[0].spoke.clone().unwrap();
    assert!(!v2.remembered);
    hub.disconnect("v2").await.unwrap();
    // Pointed at another server: what the old one spoke says nothing about it.
    let mut moved = node_def("ev", "v1-server.mjs", &["stdio"]);
    moved.request_timeout_secs = 30;
    hub.update_server(moved).await.unwrap();
    let listed = hub.servers().await.unwrap();
    assert_eq!(listed[1].spoke, None, "{:?}", listed[1].spoke);
    hub.shutdown().await;
}

/// A 2025-era server that answers `server/discover` with an empty result is misread by the
/// probe and gets a fresh process that starts with `initialize`; after that, the session's
/// reconnects go straight to `initialize`: one process per reconnect.
#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_misreads_discover_is_started_once_per_reconnect() {
    let dir = tempfile::tempdir().unwrap();
    let starts = dir.path().join("starts");
    let starts_arg = starts.to_string_lossy().into_owned();
    let hub = hub(&dir).await;
    hub.add_server(node_def(
        "odd",
        "v1-server.mjs",
        &["stdio", "--answer-unknown-empty", "--starts", &starts_arg],
    ))
    .await
    .unwrap();
    assert_eq!(
        hub.connect_and_wait("odd").await.unwrap(),
        ServerState::Connected
    );
    let count = || {
        std::fs::read_to_string(&starts)
            .unwrap_or_default()
            .lines()
            .count()
    };
    assert_eq!(count(), 2, "the probe's process and the initialize one");
    assert_eq!(
        hub.servers().await.unwrap()[0]
            .spoke
            .as_ref()
            .map(|s| s.era),
        Some(Era::Session)
    );
    let mut events = hub.subscribe();
    hub.reconnect("odd").unwrap();
    expect_event(&mut events, Duration::from_secs(30), |e| {
        matches!(
            e,
            Event::State {
                state: ServerState::Connected,
                ..
            }
        )
    })
    .await;
    assert_eq!(count(), 3, "a reconnect started more than one process");
    hub.shutdown().await;
}
