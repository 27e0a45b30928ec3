//! Trust: what a definition keeps secret stays sealed and masked, nothing imported runs before
//! the person has seen it, and a stored definition this version cannot read does not stop the
//! hub. (What a server inherits from Patchbay's environment is tested through the CLI, whose
//! environment a test can set: crates/cli/tests/trust.rs.)

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use patchbay_engine::config::MASK;
use patchbay_engine::{HubError, ImportChoices, ServerDef, ServerState, TransportDef};

use common::{http_def, hub, marker, processes_with_marker, stdio_def, text_of};

/// Every byte of the data dir's database files, for "is this text anywhere on disk".
fn database_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut all = Vec::new();
    for name in ["patchbay.db", "patchbay.db-wal"] {
        all.extend(std::fs::read(dir.join(name)).unwrap_or_default());
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

fn with_env(mut def: ServerDef, pairs: &[(&str, &str)]) -> ServerDef {
    if let TransportDef::Stdio { env, .. } = &mut def.transport {
        env.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    }
    def
}

fn env_of(def: &ServerDef) -> BTreeMap<String, String> {
    match &def.transport {
        TransportDef::Stdio { env, .. } => env.clone(),
        _ => panic!("not stdio"),
    }
}

#[tokio::test]
async fn env_and_header_values_are_sealed_at_rest_masked_when_shown_and_given_to_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(&dir).await;
    let secret = "ghp_0123456789abcdefSECRET";
    let def = with_env(
        stdio_def("gh", &marker()),
        &[("GITHUB_PERSONAL_ACCESS_TOKEN", secret)],
    );
    hub.add_server(def).await.unwrap();
    let mut remote = common::http_def("api", "https://api.example.com/mcp");
    if let TransportDef::Http { headers, .. } = &mut remote.transport {
        headers.insert("Authorization".into(), "Bearer header-SECRET-42".into());
    }
    hub.add_server(remote).await.unwrap();

    // Nowhere in the database files.
    let disk = database_bytes(dir.path());
    assert!(
        !contains(&disk, secret),
        "the env value is in the database in the clear"
    );
    assert!(
        !contains(&disk, "header-SECRET-42"),
        "the header value is in the database in the clear"
    );

    // Shown masked: lists, the in-memory definition.
    let views = hub.servers().await.unwrap();
    let shown = serde_json::to_string(&views).unwrap();
    assert!(
        !shown.contains(secret) && !shown.contains("header-SECRET-42"),
        "{shown}"
    );
    assert_eq!(
        env_of(&hub.server("gh").unwrap())["GITHUB_PERSONAL_ACCESS_TOKEN"],
        MASK
    );

    // Revealed on request.
    assert_eq!(
        env_of(&hub.reveal_server("gh").await.unwrap())["GITHUB_PERSONAL_ACCESS_TOKEN"],
        secret
    );

    // The server itself gets the real value.
    assert_eq!(
        hub.connect_and_wait("gh").await.unwrap(),
        ServerState::Connected
    );
    let report = hub
        .call_tool(patchbay_engine::CallRequest {
            server: "gh".into(),
            tool: "get-env".into(),
            arguments: None,
            timeout: None,
            task: false,
        })
        .await
        .unwrap();
    let env: serde_json::Value =
        serde_json::from_str(&text_of(report.result.as_ref().unwrap())).unwrap();
    assert_eq!(env["GITHUB_PERSONAL_ACCESS_TOKEN"], secret);

    // An edit that leaves a value masked keeps it; one that retypes it replaces it.
    let mut edited = hub.server("gh").unwrap();
    if let TransportDef::Stdio { env, .. } = &mut edited.transport {
        env.insert("EXTRA".into(), "new-value".into());
    }
    hub.update_server(edited).await.unwrap();
    let revealed = env_of(&hub.reveal_server("gh").await.unwrap());
    assert_eq!(revealed["GITHUB_PERSONAL_ACCESS_TOKEN"], secret);
    assert_eq!(revealed["EXTRA"], "new-value");
    assert!(!contains(&database_bytes(dir.path()), "new-value"));

    // Export leaves them out unless asked.
    let bare = hub.export_claude(false).await.unwrap();
    let text = bare.document.to_string();
    assert!(
        !text.contains(secret) && !text.contains("header-SECRET-42") && !text.contains(MASK),
        "{text}"
    );
    assert_eq!(bare.secrets_left_out, 4);
    let full = hub.export_claude(true).await.unwrap();
    assert_eq!(
        full.document["mcpServers"]["gh"]["env"]["GITHUB_PERSONAL_ACCESS_TOKEN"],
        secret
    );

    // Saved to a file: the same document, readable only by its owner, even over a file that
    // was readable by all; values left out unless asked.
    let out = dir.path().join("exported.json");
    std::fs::write(&out, b"old").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let saved = hub.export_claude_to(&out, false).await.unwrap();
    assert_eq!((saved.servers, saved.secrets_left_out), (2, 4));
    let written: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(written, bare.document);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{mode:o}");
    }
    hub.export_claude_to(&out, true).await.unwrap();
    let written: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(written, full.document);
    // A folder that is not there is a plain error naming the path.
    let nowhere = dir.path().join("missing/exported.json");
    let err = hub.export_claude_to(&nowhere, false).await.unwrap_err();
    assert!(err.to_string().contains("missing/exported.json"), "{err}");
    hub.shutdown().await;
}

#[tokio::test]
async fn a_masked_value_with_nothing_behind_it_is_refused_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(&dir).await;
    let def = with_env(stdio_def("x", &marker()), &[("TOKEN", MASK)]);
    let err = hub.add_server(def).await.unwrap_err();
    assert!(err.to_string().contains("env TOKEN"), "{err}");
    assert!(hub.servers().await.unwrap().is_empty());
}

#[tokio::test]
async fn values_an_older_version_kept_in_the_clear_are_sealed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "legacy-SECRET-value";
    {
        let hub = hub(&dir).await;
        hub.add_server(stdio_def("old", &marker())).await.unwrap();
        hub.shutdown().await;
    }
    // As an older Patchbay left it: the definition with its value in the clear, nothing sealed,
    // and the values of a server it removed still in free pages of the file.
    let earlier = "earlier-SECRET-value";
    {
        let conn = rusqlite::Connection::open(dir.path().join("patchbay.db")).unwrap();
        conn.pragma_update(None, "secure_delete", "OFF").unwrap();
        let def = with_env(stdio_def("old", &marker()), &[("API_KEY", secret)]);
        conn.execute(
            "UPDATE servers SET definition = ?1, sealed_secrets = NULL WHERE name = 'old'",
            [serde_json::to_string(&def).unwrap()],
        )
        .unwrap();
        let removed = with_env(
            stdio_def("removed", &marker()),
            // Its value deep in the row's overflow pages (names sort: PAD first), which only a
            // rewrite of the file clears.
            &[("PAD", &"x".repeat(100_000)), ("ZZ_API_KEY", earlier)],
        );
        conn.execute(
            "INSERT INTO servers (name, definition, enabled, position, created_at_ms, updated_at_ms)
             VALUES ('removed', ?1, 1, 99, 0, 0)",
            [serde_json::to_string(&removed).unwrap()],
        )
        .unwrap();
        conn.execute("DELETE FROM servers WHERE name = 'removed'", [])
            .unwrap();
    }
    assert!(
        contains(&database_bytes(dir.path()), earlier),
        "the test did not leave an old copy"
    );
    let hub = hub(&dir).await;
    // Shown masked at once, even before it is sealed.
    assert_eq!(env_of(&hub.server("old").unwrap())["API_KEY"], MASK);
    // Sealed in the background, and gone from the file.
    let mut sealed = false;
    for _ in 0..200 {
        let conn = rusqlite::Connection::open(dir.path().join("patchbay.db")).unwrap();
        let n: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM servers WHERE name = 'old' AND sealed_secrets IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        if n == 1 {
            sealed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(sealed, "the plain row was never sealed");
    assert!(
        !contains(&database_bytes(dir.path()), secret),
        "the old value lingers in the file"
    );
    assert_eq!(
        env_of(&hub.reveal_server("old").await.unwrap())["API_KEY"],
        secret
    );
    hub.shutdown().await;
}

fn write_config(dir: &std::path::Path, marker: &str, node_options: &str) -> std::path::PathBuf {
    let file = dir.join("claude_desktop_config.json");
    let config = serde_json::json!({"mcpServers": {
        "imported": {
            "command": common::node(),
            "args": [common::everything_js(), "stdio"],
            "env": {"PATCHBAY_TEST_MARKER": marker, "NODE_OPTIONS": node_options, "API_KEY": "k-SECRET"},
            "cwd": dir,
        }
    }});
    std::fs::write(&file, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    file
}

#[tokio::test]
async fn an_imported_server_runs_nothing_until_the_person_has_seen_it_and_said_yes() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(&dir).await;
    let marker = marker();
    let file = write_config(dir.path(), &marker, "--no-warnings");

    let preview = hub.preview_import(&file, false).await.unwrap();
    let [server] = preview.servers.as_slice() else {
        panic!("{preview:?}");
    };
    let plan = server.launch.as_ref().expect("a local server has a plan");
    assert_eq!(plan.command, common::node().to_string_lossy());
    assert_eq!(plan.cwd.as_deref(), Some(dir.path()));
    let value = |n: &str| plan.env.iter().find(|e| e.name == n).unwrap().value.clone();
    assert_eq!(value("API_KEY"), MASK, "secret-looking values are masked");
    assert_eq!(
        value("NODE_OPTIONS"),
        "--no-warnings",
        "what changes what runs is shown"
    );
    assert!(
        plan.warnings.iter().any(|w| w.contains("NODE_OPTIONS")),
        "{:?}",
        plan.warnings
    );
    assert!(
        !serde_json::to_string(&preview)
            .unwrap()
            .contains("k-SECRET")
    );

    // The file changes after the preview: what is added is what was shown.
    write_config(dir.path(), &marker, "--require=/tmp/evil.js");
    let added = hub.apply_import(&preview.id, false).await.unwrap();
    assert_eq!(added.len(), 1);
    let stored = hub.reveal_server("imported").await.unwrap();
    assert_eq!(env_of(&stored)["NODE_OPTIONS"], "--no-warnings");
    assert!(!stored.enabled && stored.needs_review);
    // A preview is used once.
    assert!(matches!(
        hub.apply_import(&preview.id, false).await,
        Err(HubError::NoImport(_))
    ));

    // Not started by anything but the person's yes: not by connect, not by enable.
    let state = hub.connect_and_wait("imported").await.unwrap();
    let ServerState::Error {
        message,
        retry_at_ms,
    } = state
    else {
        panic!("expected an error, got {state:?}");
    };
    assert!(message.contains("has not started yet"), "{message}");
    assert_eq!(
        retry_at_ms, None,
        "no retry starts it behind the person's back"
    );
    assert!(matches!(
        hub.set_enabled("imported", true).await,
        Err(HubError::NeedsReview(_))
    ));
    assert!(
        processes_with_marker(&marker).is_empty(),
        "it ran before the person said yes"
    );

    // The person reads the plan and says yes, to that plan: a yes to an older plan is refused.
    let plan = hub.launch_plan("imported", false).await.unwrap();
    assert!(plan.warnings.iter().any(|w| w.contains("NODE_OPTIONS")));
    assert!(matches!(
        hub.confirm_launch("imported", "0000").await,
        Err(HubError::PlanChanged(_))
    ));
    assert!(processes_with_marker(&marker).is_empty());
    hub.confirm_launch("imported", &plan.digest).await.unwrap();
    assert_eq!(
        hub.connect_and_wait("imported").await.unwrap(),
        ServerState::Connected
    );
    let def = hub.server("imported").unwrap();
    assert!(def.enabled && !def.needs_review);
    hub.shutdown().await;
}

#[tokio::test]
async fn importing_with_the_persons_yes_starts_as_the_file_says() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(&dir).await;
    let file = write_config(dir.path(), &marker(), "--no-warnings");
    let preview = hub.preview_import(&file, false).await.unwrap();
    hub.apply_import(&preview.id, true).await.unwrap();
    let def = hub.server("imported").unwrap();
    assert!(def.enabled && !def.needs_review);
    assert_eq!(
        hub.connect_and_wait("imported").await.unwrap(),
        ServerState::Connected
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn a_definition_this_version_cannot_read_is_listed_and_does_not_stop_the_hub() {
    let dir = tempfile::tempdir().unwrap();
    {
        let hub = hub(&dir).await;
        hub.add_server(stdio_def("fine", &marker())).await.unwrap();
        hub.add_server(stdio_def("future", &marker()))
            .await
            .unwrap();
        hub.shutdown().await;
    }
    let future = r#"{"name":"future","transport":{"type":"websocket","url":"wss://x.example/mcp"},"enabled":true}"#;
    {
        let conn = rusqlite::Connection::open(dir.path().join("patchbay.db")).unwrap();
        conn.execute(
            "UPDATE servers SET definition = ?1 WHERE name = 'future'",
            [future],
        )
        .unwrap();
    }
    let hub = hub(&dir).await;
    let views = hub.servers().await.unwrap();
    let names: Vec<&str> = views.iter().map(|v| v.def.name.as_str()).collect();
    assert_eq!(names, ["fine", "future"]);
    let TransportDef::Unreadable { reason } = &views[1].def.transport else {
        panic!("{:?}", views[1].def);
    };
    assert!(reason.contains("websocket"), "{reason}");
    // The others work.
    assert_eq!(
        hub.connect_and_wait("fine").await.unwrap(),
        ServerState::Connected
    );
    // It says why, never retries, and is never written back (its stored text stays).
    let state = hub.connect_and_wait("future").await.unwrap();
    assert!(
        matches!(&state, ServerState::Error { message, retry_at_ms: None } if message.contains("update Patchbay")),
        "{state:?}"
    );
    assert!(hub.set_enabled("future", false).await.is_err());
    let stored: String = rusqlite::Connection::open(dir.path().join("patchbay.db"))
        .unwrap()
        .query_row(
            "SELECT definition FROM servers WHERE name = 'future'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, future);
    // It can be removed.
    hub.remove_server("future").await.unwrap();
    assert_eq!(hub.servers().await.unwrap().len(), 1);
    hub.shutdown().await;
}

#[tokio::test]
async fn a_yes_applies_only_to_the_plan_that_was_shown() {
    let dir = tempfile::tempdir().unwrap();
    let app = hub(&dir).await;
    let marker = marker();
    let file = write_config(dir.path(), &marker, "--no-warnings");
    let preview = app.preview_import(&file, false).await.unwrap();
    app.apply_import(&preview.id, false).await.unwrap();
    let seen = app.launch_plan("imported", false).await.unwrap();

    // Meanwhile another process changes what it runs.
    let other = hub(&dir).await;
    let mut changed = other.server("imported").unwrap();
    if let TransportDef::Stdio { env, .. } = &mut changed.transport {
        env.insert("NODE_OPTIONS".into(), "--require=/tmp/evil.js".into());
    }
    other.update_server(changed).await.unwrap();

    assert!(matches!(
        app.confirm_launch("imported", &seen.digest).await,
        Err(HubError::PlanChanged(_))
    ));
    let state = app.connect_and_wait("imported").await.unwrap();
    assert!(matches!(state, ServerState::Error { .. }), "{state:?}");
    assert!(
        processes_with_marker(&marker).is_empty(),
        "the changed plan ran unseen"
    );
    let now = app.launch_plan("imported", false).await.unwrap();
    assert!(now.env.iter().any(|e| e.value == "--require=/tmp/evil.js"));
    app.shutdown().await;
    other.shutdown().await;
}

#[tokio::test]
async fn a_session_starts_what_is_stored_now_not_what_it_remembers() {
    let dir = tempfile::tempdir().unwrap();
    let app = hub(&dir).await;
    let marker = marker();
    // The app knows "imported" as a reviewed server...
    let file = write_config(dir.path(), &marker, "--no-warnings");
    let preview = app.preview_import(&file, false).await.unwrap();
    app.apply_import(&preview.id, true).await.unwrap();
    // ...which another process removes and imports again from a file, not yet reviewed.
    let other = hub(&dir).await;
    other.remove_server("imported").await.unwrap();
    let file = write_config(dir.path(), &marker, "--require=/tmp/evil.js");
    let again = other.preview_import(&file, false).await.unwrap();
    other.apply_import(&again.id, false).await.unwrap();

    // The app's own session, told to connect, does not start it.
    let state = app.connect_and_wait("imported").await.unwrap();
    assert!(
        matches!(&state, ServerState::Error { message, .. } if message.contains("has not started yet")),
        "{state:?}"
    );
    assert!(
        processes_with_marker(&marker).is_empty(),
        "an unreviewed plan ran"
    );
    app.shutdown().await;
    other.shutdown().await;
}

#[tokio::test]
async fn a_remote_server_moved_to_another_host_does_not_take_its_headers_along() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(&dir).await;
    let mut api = common::http_def("api", "https://api.example.com/mcp");
    if let TransportDef::Http { headers, .. } = &mut api.transport {
        headers.insert("Authorization".into(), "Bearer for-api-example".into());
    }
    hub.add_server(api).await.unwrap();
    // The same host, another path: the header stays.
    let mut same = hub.server("api").unwrap();
    same.transport = TransportDef::Http {
        url: "https://api.example.com/v2/mcp".into(),
        headers: [("Authorization".to_string(), MASK.to_string())].into(),
    };
    same.enabled = false;
    hub.update_server(same.clone()).await.unwrap();
    let TransportDef::Http { headers, .. } = hub.reveal_server("api").await.unwrap().transport
    else {
        panic!()
    };
    assert_eq!(headers["Authorization"], "Bearer for-api-example");
    // Another host: the masked header is refused, naming the field; nothing changes.
    let mut moved = same.clone();
    moved.transport = TransportDef::Http {
        url: "https://elsewhere.example.net/mcp".into(),
        headers: [("Authorization".to_string(), MASK.to_string())].into(),
    };
    let err = hub.update_server(moved).await.unwrap_err();
    assert!(
        matches!(&err, HubError::Invalid(i) if i.field == "headers"),
        "{err:?}"
    );
    assert_eq!(
        hub.server("api").unwrap().remote_url(),
        Some("https://api.example.com/v2/mcp")
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn a_locked_vault_is_found_before_the_browser_opens() {
    let dir = tempfile::tempdir().unwrap();
    {
        let hub = hub(&dir).await;
        // A sealed value makes the key (a key file: the tests keep the keyring out).
        hub.add_server(with_env(stdio_def("s", &marker()), &[("TOKEN", "t")]))
            .await
            .unwrap();
        hub.add_server(common::http_def("remote", "https://mcp.example.com/mcp"))
            .await
            .unwrap();
        hub.shutdown().await;
    }
    std::fs::remove_file(dir.path().join("vault.key")).unwrap();
    let hub = hub(&dir).await;
    let mut events = hub.subscribe();
    let err = hub
        .login(
            "remote",
            patchbay_engine::auth::browser::BrowserMode::Print,
            Duration::from_secs(30),
        )
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("could not be saved") && text.contains("missing"),
        "{text}"
    );
    // No login link was ever offered: the person never went to the browser for nothing.
    while let Ok(event) = events.try_recv() {
        assert!(
            !matches!(event, patchbay_engine::Event::LoginUrl { .. }),
            "{event:?}"
        );
    }
    assert!(
        !dir.path().join("vault.key").exists(),
        "no new key was made"
    );
    hub.shutdown().await;
}

/// An import with a name already taken: nothing is lost, the person renames or skips, and what
/// is added is exactly their choice; a refused try leaves the preview for the next one.
#[tokio::test]
async fn an_import_adds_under_the_names_the_person_chose() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(&dir).await;
    hub.add_server(http_def("alpha", "http://127.0.0.1:9/mcp"))
        .await
        .unwrap();
    let file = dir.path().join("claude_desktop_config.json");
    std::fs::write(
        &file,
        r#"{"mcpServers": {
            "alpha": {"type": "http", "url": "https://a.example/mcp"},
            "beta": {"type": "http", "url": "https://b.example/mcp"},
            "gamma": {"type": "http", "url": "https://c.example/mcp"}}}"#,
    )
    .unwrap();
    let preview = hub.preview_import(&file, false).await.unwrap();
    let exists = |n: &str| {
        preview
            .servers
            .iter()
            .find(|s| s.def.name == n)
            .unwrap()
            .exists
    };
    assert!(exists("alpha") && !exists("beta"));

    // As the file has it: refused at the name, and the preview is still there.
    let err = hub.apply_import(&preview.id, false).await.unwrap_err();
    assert!(err.to_string().contains("'alpha' already exists"), "{err}");
    assert_eq!(err.field(), Some("name"));
    // Renamed onto another of the file's servers: refused too.
    let clash = ImportChoices {
        rename: [("alpha".to_string(), "beta".to_string())].into(),
        skip: vec![],
    };
    let err = hub
        .apply_import_as(&preview.id, false, &clash)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("'beta' already exists"), "{err}");

    // Renamed, one skipped: exactly that is added, and the server already there is untouched.
    let choices = ImportChoices {
        rename: [("alpha".to_string(), "alpha-2".to_string())].into(),
        skip: vec!["gamma".to_string()],
    };
    let added = hub
        .apply_import_as(&preview.id, false, &choices)
        .await
        .unwrap();
    let names: Vec<&str> = added.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["alpha-2", "beta"]);
    let url = |n: &str| hub.server(n).unwrap().remote_url().unwrap().to_string();
    assert_eq!(url("alpha"), "http://127.0.0.1:9/mcp");
    assert_eq!(url("alpha-2"), "https://a.example/mcp");
    assert!(hub.server("gamma").is_err());
    // Used once.
    assert!(matches!(
        hub.apply_import_as(&preview.id, false, &choices).await,
        Err(HubError::NoImport(_))
    ));
    hub.shutdown().await;
}
