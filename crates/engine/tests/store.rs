//! The store against real database files.

use std::collections::BTreeMap;

use patchbay_engine::TransportDef;
use patchbay_engine::config::ServerDef;
use patchbay_engine::store::{
    CallOutcome, CallRecord, CredentialKey, Expected, Lease, NewServer, Store, StoreError,
    StoredSecrets,
};
use serde_json::json;

/// As the store keeps it: values masked (their sealed copy is the vault's business).
fn stdio(name: &str) -> ServerDef {
    ServerDef::new(
        name,
        TransportDef::Stdio {
            command: "npx".into(),
            args: vec!["-y".into(), format!("@example/{name}")],
            env: BTreeMap::from([("TOKEN".to_string(), "t".to_string())]),
            cwd: Some("/tmp".into()),
        },
    )
    .masked()
}

fn http(name: &str) -> ServerDef {
    ServerDef::new(
        name,
        TransportDef::Http {
            url: format!("https://{name}.example.com/mcp"),
            headers: BTreeMap::from([("Authorization".to_string(), "Bearer x".to_string())]),
        },
    )
    .masked()
}

/// Definitions to store, each with a stand-in for its sealed values.
fn new(defs: Vec<ServerDef>) -> Vec<NewServer> {
    defs.into_iter()
        .map(|def| NewServer {
            sealed: Some(format!("sealed-{}", def.name).into_bytes()),
            def,
        })
        .collect()
}

fn call(server: &str, id: &str, started_at_ms: i64, outcome: CallOutcome) -> CallRecord {
    CallRecord {
        call_id: id.into(),
        server: server.into(),
        tool: "echo".into(),
        arguments: json!({"message": id}),
        result: (outcome == CallOutcome::Ok)
            .then(|| json!({"content": [{"type": "text", "text": id}]})),
        error: (outcome != CallOutcome::Ok).then(|| "it broke".to_string()),
        outcome,
        started_at_ms,
        duration_ms: 12,
    }
}

fn names(defs: &[ServerDef]) -> Vec<&str> {
    defs.iter().map(|d| d.name.as_str()).collect()
}

#[tokio::test]
async fn servers_round_trip_in_insertion_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("nested/deeper/patchbay.db")).unwrap();
    assert!(store.list_servers().await.unwrap().is_empty());

    let mut disabled = http("zeta");
    disabled.enabled = false;
    disabled.request_timeout_secs = 5;
    let first = vec![stdio("mike"), disabled.clone()];
    store.add_servers(new(first.clone())).await.unwrap();
    store.add_servers(new(vec![stdio("alpha")])).await.unwrap();

    let listed = store.list_servers().await.unwrap();
    assert_eq!(names(&listed), ["mike", "zeta", "alpha"]);
    assert_eq!(listed[..2], first[..]);
    assert_eq!(store.get_server("zeta").await.unwrap(), Some(disabled));
    assert_eq!(store.get_server("nobody").await.unwrap(), None);

    let mut changed = http("mike");
    changed.enabled = false;
    store.update_server(changed.clone()).await.unwrap();
    assert_eq!(store.get_server("mike").await.unwrap(), Some(changed));
    assert_eq!(
        names(&store.list_servers().await.unwrap()),
        ["mike", "zeta", "alpha"],
        "update keeps the position"
    );

    assert!(
        matches!(store.update_server(stdio("ghost")).await, Err(StoreError::NotFound(n)) if n == "ghost")
    );
    assert!(
        matches!(store.remove_server("ghost").await, Err(StoreError::NotFound(n)) if n == "ghost")
    );

    store.remove_server("zeta").await.unwrap();
    assert_eq!(
        names(&store.list_servers().await.unwrap()),
        ["mike", "alpha"]
    );
    store.add_servers(new(vec![stdio("zeta")])).await.unwrap();
    assert_eq!(
        names(&store.list_servers().await.unwrap()),
        ["mike", "alpha", "zeta"],
        "re-added goes last"
    );
}

#[tokio::test]
async fn a_duplicate_anywhere_in_a_batch_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("p.db")).unwrap();
    store
        .add_servers(new(vec![stdio("existing")]))
        .await
        .unwrap();

    // Twice in the same batch.
    let err = store
        .add_servers(new(vec![stdio("a"), http("b"), stdio("a")]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Duplicate(n) if n == "a"),
        "{err:?}"
    );
    assert!(err.to_string().contains("'a' already exists"), "{err}");
    assert_eq!(names(&store.list_servers().await.unwrap()), ["existing"]);

    // Clashing with a stored one, after new ones in the same batch.
    let err = store
        .add_servers(new(vec![stdio("c"), http("existing")]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Duplicate(n) if n == "existing"),
        "{err:?}"
    );
    assert_eq!(names(&store.list_servers().await.unwrap()), ["existing"]);
    assert_eq!(store.get_server("c").await.unwrap(), None);
}

#[tokio::test]
async fn an_invalid_definition_in_a_batch_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("p.db")).unwrap();
    let bad = ServerDef::new(
        "bad",
        TransportDef::Http {
            url: "not a url".into(),
            headers: BTreeMap::new(),
        },
    );
    let err = store
        .add_servers(new(vec![stdio("good"), bad.clone()]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(inv) if inv.server == "bad" && inv.field == "url"),
        "{err:?}"
    );
    assert!(err.to_string().starts_with("server 'bad': url"), "{err}");
    assert!(store.list_servers().await.unwrap().is_empty());

    store.add_servers(new(vec![stdio("bad")])).await.unwrap();
    assert!(matches!(
        store.update_server(bad).await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(store.get_server("bad").await.unwrap(), Some(stdio("bad")));
}

#[tokio::test]
async fn history_is_newest_first_limited_and_goes_with_its_server() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("p.db")).unwrap();
    store
        .add_servers(new(vec![stdio("one"), stdio("two")]))
        .await
        .unwrap();

    let calls = [
        call("one", "c1", 1_000, CallOutcome::Ok),
        call("one", "c2", 3_000, CallOutcome::ToolError),
        call("one", "c3", 2_000, CallOutcome::TimedOut),
        call("two", "c4", 5_000, CallOutcome::Cancelled),
        call("one", "c5", 4_000, CallOutcome::Failed),
    ];
    for c in &calls {
        store.record_call(c.clone()).await.unwrap();
    }

    let one = store.history("one", 10).await.unwrap();
    assert_eq!(
        one,
        [
            calls[4].clone(),
            calls[1].clone(),
            calls[2].clone(),
            calls[0].clone()
        ]
    );
    let ids: Vec<_> = store
        .history("one", 2)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.call_id)
        .collect();
    assert_eq!(ids, ["c5", "c2"]);
    assert!(store.history("one", 0).await.unwrap().is_empty());
    assert!(store.history("nobody", 10).await.unwrap().is_empty());

    store.remove_server("one").await.unwrap();
    assert!(store.history("one", 10).await.unwrap().is_empty());
    assert_eq!(store.history("two", 10).await.unwrap(), [calls[3].clone()]);
}

/// A row written under a name no server has (another process finished a call after the server
/// was renamed or removed) is not handed to a new server that takes the name.
#[tokio::test]
async fn a_new_server_does_not_inherit_rows_left_under_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("p.db")).unwrap();
    store
        .record_call(call("gone", "late", 1_000, CallOutcome::Ok))
        .await
        .unwrap();
    store.add_servers(new(vec![stdio("gone")])).await.unwrap();
    assert!(store.history("gone", 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn reopening_keeps_data_and_schema_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.db");
    {
        let store = Store::open(&path).unwrap();
        store
            .add_servers(new(vec![stdio("kept"), http("also")]))
            .await
            .unwrap();
        store
            .record_call(call("kept", "c1", 1, CallOutcome::Ok))
            .await
            .unwrap();
    }
    let version = |path: &std::path::Path| -> i64 {
        rusqlite::Connection::open(path)
            .unwrap()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap()
    };
    let before = version(&path);
    assert!(before >= 1);

    let store = Store::open(&path).unwrap();
    assert_eq!(version(&path), before, "reopening runs no migration again");
    assert_eq!(
        store.list_servers().await.unwrap(),
        [stdio("kept"), http("also")]
    );
    assert_eq!(
        store.history("kept", 5).await.unwrap(),
        [call("kept", "c1", 1, CallOutcome::Ok)]
    );

    let mode: String = rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn two_stores_on_one_file_see_each_others_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let app = Store::open(&path).unwrap();
    let cli = Store::open(&path).unwrap();

    app.add_servers(new(vec![stdio("from-app")])).await.unwrap();
    assert_eq!(names(&cli.list_servers().await.unwrap()), ["from-app"]);
    cli.add_servers(new(vec![http("from-cli")])).await.unwrap();
    assert_eq!(
        names(&app.list_servers().await.unwrap()),
        ["from-app", "from-cli"]
    );

    let err = cli
        .add_servers(new(vec![stdio("from-app")]))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Duplicate(_)));

    cli.record_call(call("from-app", "x", 7, CallOutcome::Ok))
        .await
        .unwrap();
    assert_eq!(app.history("from-app", 1).await.unwrap().len(), 1);
    app.remove_server("from-app").await.unwrap();
    assert!(cli.get_server("from-app").await.unwrap().is_none());
    assert!(cli.history("from-app", 1).await.unwrap().is_empty());
}

#[tokio::test]
async fn concurrent_writers_on_one_file_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("busy.db");
    let stores: Vec<Store> = (0..4).map(|_| Store::open(&path).unwrap()).collect();
    let mut tasks = Vec::new();
    for (i, store) in stores.iter().cloned().enumerate() {
        tasks.push(tokio::spawn(async move {
            for j in 0..10 {
                store
                    .add_servers(new(vec![stdio(&format!("s{i}-{j}"))]))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(stores[0].list_servers().await.unwrap().len(), 40);
}

#[test]
fn a_file_that_is_not_a_database_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(
        &path,
        "these are my notes, not a database; there are quite a few of them here.\n".repeat(20),
    )
    .unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("not a database"), "{message}");
}

#[test]
fn a_database_from_a_newer_patchbay_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    drop(Store::open(&path).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 999)
        .unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Migrate { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}

#[test]
fn a_folder_in_the_way_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("file"), "x").unwrap();
    let err = Store::open(&dir.path().join("file/p.db")).unwrap_err();
    assert!(matches!(err, StoreError::CreateDir { .. }), "{err:?}");
}

fn cred_key(server: &str, client: &str) -> CredentialKey {
    CredentialKey {
        server: server.into(),
        issuer: "https://as.example".into(),
        client_id: client.into(),
        resource: "https://mcp.example/mcp".into(),
    }
}

#[tokio::test]
async fn credential_writes_are_compare_and_swap_on_the_version() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("p.db")).unwrap();
    let key = cred_key("remote", "c1");
    let meta = serde_json::json!({"n": 1});

    let v1 = store
        .put_credential(&key, Expected::Any, b"one".to_vec(), meta.clone())
        .await
        .unwrap();
    let v2 = store
        .put_credential(&key, Expected::Version(v1), b"two".to_vec(), meta.clone())
        .await
        .unwrap();
    assert!(v2 > v1);
    // A second writer that also read v1 loses and writes nothing.
    let err = store
        .put_credential(&key, Expected::Version(v1), b"late".to_vec(), meta.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { current: Some(v) } if v == v2),
        "{err:?}"
    );
    assert_eq!(
        store.credential(&key).await.unwrap().unwrap().sealed,
        b"two"
    );

    // Versions keep growing across a logout, so a refresh that read the old row cannot match
    // a new login's row.
    assert_eq!(store.delete_credentials("remote").await.unwrap(), 1);
    let v3 = store
        .put_credential(&key, Expected::Any, b"three".to_vec(), meta.clone())
        .await
        .unwrap();
    assert!(v3 > v2);
    assert!(matches!(
        store
            .put_credential(&key, Expected::Version(v2), b"x".to_vec(), meta.clone())
            .await,
        Err(StoreError::Conflict { .. })
    ));

    // A login under another client id replaces the server's credential.
    let other = cred_key("remote", "c2");
    let v4 = store
        .put_credential(&other, Expected::Any, b"four".to_vec(), meta.clone())
        .await
        .unwrap();
    assert!(store.credential(&key).await.unwrap().is_none());
    let current = store.credential_for("remote").await.unwrap().unwrap();
    assert_eq!((current.key, current.version), (other, v4));

    // Removing the server removes its credentials.
    store.add_servers(new(vec![http("remote")])).await.unwrap();
    store.remove_server("remote").await.unwrap();
    assert!(store.credential_for("remote").await.unwrap().is_none());
}

#[tokio::test]
async fn one_holder_at_a_time_gets_the_refresh_lease() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.db");
    let (app, cli) = (Store::open(&path).unwrap(), Store::open(&path).unwrap());
    let key = cred_key("remote", "c1");
    let v = app
        .put_credential(&key, Expected::Any, b"t".to_vec(), serde_json::json!({}))
        .await
        .unwrap();
    let later = i64::MAX / 2;

    assert_eq!(
        app.try_lease(&key, v, "app", later).await.unwrap(),
        Lease::Granted
    );
    assert_eq!(
        cli.try_lease(&key, v, "cli", later).await.unwrap(),
        Lease::Held {
            until_ms: later,
            holder: "app".into()
        }
    );
    // Re-entrant for the holder; free again once released.
    assert_eq!(
        app.try_lease(&key, v, "app", later).await.unwrap(),
        Lease::Granted
    );
    app.release_lease(&key, "app").await.unwrap();
    assert_eq!(
        cli.try_lease(&key, v, "cli", later).await.unwrap(),
        Lease::Granted
    );

    // The holder's write clears the lease; a waiter then sees the row has moved on.
    let v2 = cli
        .put_credential(
            &key,
            Expected::Version(v),
            b"t2".to_vec(),
            serde_json::json!({}),
        )
        .await
        .unwrap();
    match app.try_lease(&key, v, "app", later).await.unwrap() {
        Lease::Changed(Some(row)) => assert_eq!((row.version, row.sealed), (v2, b"t2".to_vec())),
        other => panic!("expected Changed, got {other:?}"),
    }
    // An expired lease is taken over (its holder died mid-refresh).
    assert_eq!(
        cli.try_lease(&key, v2, "cli", 1).await.unwrap(),
        Lease::Granted
    );
    assert_eq!(
        app.try_lease(&key, v2, "app", later).await.unwrap(),
        Lease::Granted
    );
}

#[tokio::test]
async fn values_in_the_clear_are_never_stored_and_sealed_ones_come_back_as_stored() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("p.db")).unwrap();
    let clear = ServerDef::new(
        "clear",
        TransportDef::Stdio {
            command: "npx".into(),
            args: vec![],
            env: BTreeMap::from([("TOKEN".to_string(), "in-the-clear".to_string())]),
            cwd: None,
        },
    );
    let err = store
        .add_servers(vec![NewServer {
            def: clear.clone(),
            sealed: None,
        }])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unsealed"), "{err}");
    assert!(store.list_servers().await.unwrap().is_empty());

    store.add_servers(new(vec![stdio("s")])).await.unwrap();
    assert_eq!(
        store.server_secrets("s").await.unwrap(),
        StoredSecrets::Sealed(b"sealed-s".to_vec())
    );
    // An update of the shown form keeps the sealed values.
    let mut changed = stdio("s");
    changed.enabled = false;
    store.update_server(changed).await.unwrap();
    assert_eq!(
        store.server_secrets("s").await.unwrap(),
        StoredSecrets::Sealed(b"sealed-s".to_vec())
    );
    assert!(store.update_server(clear).await.is_err());
}

/// What a server spoke is kept beside its definition, never in it (no revision bump), and a
/// value another process left there that is not text is skipped, not an error for the list.
#[tokio::test]
async fn what_a_server_spoke_is_kept_beside_it_and_a_bad_value_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.db");
    let store = Store::open(&path).unwrap();
    store
        .add_servers(new(vec![stdio("kept"), http("odd")]))
        .await
        .unwrap();
    let revision = store
        .server_for_start("kept")
        .await
        .unwrap()
        .unwrap()
        .revision;
    store
        .remember_spoke("kept", r#"{"era":"session"}"#.into())
        .await
        .unwrap();
    store
        .remember_spoke("gone", "{}".into())
        .await
        .expect("a removed server records nothing, quietly");
    assert_eq!(
        store
            .server_for_start("kept")
            .await
            .unwrap()
            .unwrap()
            .revision,
        revision
    );
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute("UPDATE servers SET spoke = x'ff00' WHERE name = 'odd'", [])
        .unwrap();
    let spokes = store.spokes().await.unwrap();
    assert_eq!(spokes.len(), 1, "{spokes:?}");
    assert_eq!(spokes["kept"], r#"{"era":"session"}"#);
}
