//! Roots: the folders a server may work in, sent when the real server-everything asks
//! (`roots/list`), announced with `notifications/roots/list_changed` when edited, stored with
//! the server, and serialised when edits race.

mod common;

use std::time::Duration;

use common::*;
use patchbay_engine::events::Event;
use patchbay_engine::{CallRequest, Hub, HubError, RootDef, ServerState};

fn folder(dir: &tempfile::TempDir, name: &str) -> RootDef {
    let path = dir.path().join(name);
    std::fs::create_dir_all(&path).unwrap();
    RootDef::from_folder(&path, None).unwrap()
}

/// What server-everything says it was given, via its `get-roots-list` tool.
async fn roots_seen_by_server(hub: &Hub) -> String {
    let report = hub
        .call_tool(CallRequest {
            server: "ev".into(),
            tool: "get-roots-list".into(),
            arguments: None,
            timeout: None,
            task: false,
        })
        .await
        .unwrap();
    assert_eq!(report.error, None);
    text_of(report.result.as_ref().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_gets_its_roots_and_hears_of_an_edit_without_reconnecting() {
    let dir = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let alpha = folder(&work, "alpha");
    let beta = folder(&work, "beta");
    assert!(alpha.uri.starts_with("file:///"), "{}", alpha.uri);
    assert_eq!(alpha.name.as_deref(), Some("alpha"));

    let hub = hub(&dir).await;
    let mut def = stdio_def("ev", &marker());
    def.roots = vec![alpha.clone()];
    hub.add_server(def).await.unwrap();
    assert_eq!(
        hub.connect_and_wait("ev").await.unwrap(),
        ServerState::Connected
    );
    let pid = hub.details("ev").unwrap().pid;

    let seen = roots_seen_by_server(&hub).await;
    assert!(seen.contains("(1 total)"), "{seen}");
    assert!(
        seen.contains(&alpha.uri) && seen.contains("alpha"),
        "{seen}"
    );

    // The edit reaches the running server: it is told, asks again, and says so in a log message.
    let mut events = hub.subscribe();
    hub.set_roots("ev", vec![alpha.clone(), beta.clone()])
        .await
        .unwrap();
    expect_event(&mut events, Duration::from_secs(10), |e| {
        matches!(e, Event::Log { server, data, .. }
            if server == "ev" && data.as_str().is_some_and(|d| d.contains("2 root(s)")))
    })
    .await;
    let seen = roots_seen_by_server(&hub).await;
    assert!(seen.contains("(2 total)"), "{seen}");
    assert!(seen.contains(&beta.uri), "{seen}");
    assert_eq!(
        hub.details("ev").unwrap().pid,
        pid,
        "the same process: no reconnect"
    );

    // Kept with the server: another hub on the same data dir sees them.
    hub.shutdown().await;
    drop(hub);
    let again = common::hub(&dir).await;
    assert_eq!(again.server("ev").unwrap().roots, vec![alpha, beta]);
    again.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_root_is_refused_by_name_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let alpha = folder(&work, "alpha");
    let hub = hub(&dir).await;
    let mut def = stdio_def("ev", &marker());
    def.roots = vec![alpha.clone()];
    def.enabled = false;
    hub.add_server(def).await.unwrap();

    let not_file = RootDef {
        uri: "https://example.com/repo".into(),
        name: None,
    };
    let err = hub.set_roots("ev", vec![not_file]).await.unwrap_err();
    assert!(
        matches!(&err, HubError::Invalid(i) if i.field == "roots"),
        "{err}"
    );
    assert!(err.to_string().contains("is not a file:// URL"), "{err}");

    let err = hub
        .set_roots("ev", vec![alpha.clone(), alpha.clone()])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("listed twice"), "{err}");

    let missing = RootDef::from_folder(&work.path().join("nowhere"), None).unwrap_err();
    assert!(missing.contains("is not a folder"), "{missing}");
    let relative = RootDef::from_folder(std::path::Path::new("src"), None).unwrap_err();
    assert!(relative.contains("not an absolute path"), "{relative}");

    assert_eq!(hub.server("ev").unwrap().roots, vec![alpha.clone()]);
    hub.shutdown().await;
    drop(hub);
    let again = common::hub(&dir).await;
    assert_eq!(again.server("ev").unwrap().roots, vec![alpha]);
    again.shutdown().await;
}

/// Many edits at once: each is whole, and the store, the hub and the server end on the same
/// list (the last edit's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_edits_end_with_store_hub_and_server_agreeing() {
    let dir = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let folders: Vec<RootDef> = (0..8).map(|i| folder(&work, &format!("f{i}"))).collect();
    let hub = hub(&dir).await;
    hub.add_server(stdio_def("ev", &marker())).await.unwrap();
    assert_eq!(
        hub.connect_and_wait("ev").await.unwrap(),
        ServerState::Connected
    );
    // The server fetches roots once, then follows list_changed.
    let seen = roots_seen_by_server(&hub).await;
    assert!(seen.contains("no roots are currently configured"), "{seen}");

    let mut events = hub.subscribe();
    let edits = (0..8).map(|i| {
        let hub = hub.clone();
        let roots = folders[..=i].to_vec();
        tokio::spawn(async move { hub.set_roots("ev", roots).await })
    });
    for edit in futures::future::join_all(edits).await {
        edit.unwrap().unwrap();
    }
    let in_hub = hub.server("ev").unwrap().roots;
    assert!(folders.starts_with(&in_hub) && !in_hub.is_empty());

    // The last announcement wins at the server too. Each edit has its own length, so the
    // server's log message for this length means it took the final list.
    let want = format!("{} root(s)", in_hub.len());
    expect_event(&mut events, Duration::from_secs(10), |e| {
        matches!(e, Event::Log { server, data, .. }
            if server == "ev" && data.as_str().is_some_and(|d| d.contains(&want)))
    })
    .await;
    let agreed = roots_seen_by_server(&hub).await;
    assert!(
        agreed.contains(&format!("({} total)", in_hub.len())),
        "{agreed}"
    );
    assert!(in_hub.iter().all(|r| agreed.contains(&r.uri)), "{agreed}");

    hub.shutdown().await;
    drop(hub);
    let again = common::hub(&dir).await;
    assert_eq!(again.server("ev").unwrap().roots, in_hub);
    again.shutdown().await;
}

/// Edits that each add a root, all at once: none is lost. Saving the server's form (which
/// does not edit roots) keeps them, and a removed server cannot be brought back by an edit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_additions_all_land_and_other_edits_keep_them() {
    let dir = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let folders: Vec<RootDef> = (0..12).map(|i| folder(&work, &format!("f{i}"))).collect();
    let hub = hub(&dir).await;
    let mut def = stdio_def("ev", &marker());
    def.enabled = false;
    hub.add_server(def.clone()).await.unwrap();

    let adds = folders.iter().cloned().map(|root| {
        let hub = hub.clone();
        tokio::spawn(async move {
            hub.edit_roots("ev", |roots| {
                roots.push(root);
                Ok(())
            })
            .await
        })
    });
    for add in futures::future::join_all(adds).await {
        add.unwrap().unwrap();
    }
    let mut kept = hub.server("ev").unwrap().roots;
    kept.sort_by(|a, b| a.uri.cmp(&b.uri));
    let mut want = folders.clone();
    want.sort_by(|a, b| a.uri.cmp(&b.uri));
    assert_eq!(kept, want);

    // A form saved with a stale (here: empty) list of roots does not drop them.
    def.request_timeout_secs = 5;
    def.roots = Vec::new();
    hub.update_server(def).await.unwrap();
    assert_eq!(hub.server("ev").unwrap().roots.len(), folders.len());
    assert_eq!(hub.server("ev").unwrap().request_timeout_secs, 5);

    // Remove and edit at once: whichever goes first, the server ends up gone, not half there.
    let (removed, edited) = tokio::join!(
        hub.remove_server("ev"),
        hub.edit_roots("ev", |roots| {
            roots.pop();
            Ok(())
        })
    );
    removed.unwrap();
    if let Err(e) = edited {
        assert!(e.to_string().contains("no server named 'ev'"), "{e}");
    }
    assert!(hub.server("ev").is_err());
    assert!(hub.servers().await.unwrap().is_empty());
    hub.shutdown().await;
    drop(hub);
    assert!(common::hub(&dir).await.server("ev").is_err());
}
