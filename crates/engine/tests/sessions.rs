//! The engine against the real server-everything over stdio, Streamable HTTP and legacy SSE.

mod common;

use std::time::Duration;

use common::*;
use patchbay_engine::events::Event;
use patchbay_engine::{CallOutcome, Hub, ServerDef, ServerState};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

/// Connect, list tools, see list_changed, call echo and get-sum, progress in order, cancel,
/// and a timeout that resets on progress — the same story on every transport.
///
/// `sees_list_changed`: server-everything sends `tools/list_changed` the moment the session is
/// initialized. Over Streamable HTTP that is before any client can have opened its standalone
/// GET stream, so the server drops it (the TypeScript SDK's client misses it too); there the
/// test checks the resulting tool list instead.
async fn full_story(def: ServerDef, sees_list_changed: bool) {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(&dir).await;
    let name = def.name.clone();
    let mut events = hub.subscribe();
    // A second subscriber for list_changed: the server may send it before the actor has
    // published `connected`, and waiting for `connected` on `events` skips what came first.
    let mut list_events = hub.subscribe();
    hub.add_server(def).await.unwrap();

    assert_eq!(
        hub.connect_and_wait(&name).await.unwrap(),
        ServerState::Connected
    );
    expect_event(&mut events, WAIT, |e| {
        matches!(
            e,
            Event::State {
                state: ServerState::Connecting,
                ..
            }
        )
    })
    .await;
    expect_event(&mut events, WAIT, |e| {
        matches!(
            e,
            Event::State {
                state: ServerState::Connected,
                ..
            }
        )
    })
    .await;

    // server-everything registers its task tool after `initialized` and says so.
    if sees_list_changed {
        expect_event(
            &mut list_events,
            WAIT,
            |e| matches!(e, Event::ToolsChanged { server } if *server == name),
        )
        .await;
    }
    let tools: Vec<String> = hub
        .tools(&name)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    for expected in [
        "echo",
        "get-sum",
        "trigger-long-running-operation",
        "simulate-research-query",
    ] {
        assert!(
            tools.iter().any(|t| t == expected),
            "{expected} missing from {tools:?}"
        );
    }

    let echo = hub
        .call_tool(req(&name, "echo", json!({"message": "hello patchbay"})))
        .await
        .unwrap();
    assert_eq!(echo.outcome, CallOutcome::Ok, "{echo:?}");
    assert_eq!(
        text_of(echo.result.as_ref().unwrap()),
        "Echo: hello patchbay"
    );

    let sum = hub
        .call_tool(req(&name, "get-sum", json!({"a": 2, "b": 3})))
        .await
        .unwrap();
    assert_eq!(sum.outcome, CallOutcome::Ok);
    assert_eq!(
        text_of(sum.result.as_ref().unwrap()),
        "The sum of 2 and 3 is 5."
    );

    // Every progress notification, in order, tied to the call, before it finishes.
    let mut events = hub.subscribe();
    let started = hub
        .start_call(req(
            &name,
            "trigger-long-running-operation",
            json!({"duration": 1, "steps": 5}),
        ))
        .unwrap();
    let call_id = started.call_id.clone();
    let report = started.finish().await;
    assert_eq!(report.outcome, CallOutcome::Ok, "{report:?}");
    let mut progress = Vec::new();
    loop {
        match events.recv().await.unwrap() {
            Event::Progress {
                call_id: id,
                progress: p,
                total,
                ..
            } if id == call_id => {
                assert_eq!(total, Some(5.0));
                progress.push(p);
            }
            Event::CallFinished { call_id: id, .. } if id == call_id => break,
            _ => {}
        }
    }
    assert_eq!(progress, vec![1.0, 2.0, 3.0, 4.0, 5.0]);

    // Cancel a long call after its first progress; the session keeps working.
    let mut events = hub.subscribe();
    let long = hub
        .start_call(req(
            &name,
            "trigger-long-running-operation",
            json!({"duration": 60, "steps": 120}),
        ))
        .unwrap();
    let id = long.call_id.clone();
    expect_event(
        &mut events,
        WAIT,
        |e| matches!(e, Event::Progress { call_id, .. } if *call_id == id),
    )
    .await;
    assert!(hub.cancel_call(&id));
    let cancelled = long.finish().await;
    assert_eq!(cancelled.outcome, CallOutcome::Cancelled);
    assert!(cancelled.duration_ms < 30_000);
    assert_eq!(hub.state(&name), Some(ServerState::Connected));
    let after = hub
        .call_tool(req(&name, "echo", json!({"message": "still here"})))
        .await
        .unwrap();
    assert_eq!(text_of(after.result.as_ref().unwrap()), "Echo: still here");

    // No progress for longer than the timeout: timed out and cancelled.
    let mut slow = req(
        &name,
        "trigger-long-running-operation",
        json!({"duration": 10, "steps": 2}),
    );
    slow.timeout = Some(Duration::from_millis(700));
    let timed_out = hub.call_tool(slow).await.unwrap();
    assert_eq!(timed_out.outcome, CallOutcome::TimedOut);
    assert!(timed_out.error.as_deref().unwrap().contains(&name));

    // Progress every 0.4 s keeps a 1.5 s timeout alive for a 2.4 s call.
    let mut steady = req(
        &name,
        "trigger-long-running-operation",
        json!({"duration": 2.4, "steps": 6}),
    );
    steady.timeout = Some(Duration::from_millis(1500));
    let kept = hub.call_tool(steady).await.unwrap();
    assert_eq!(kept.outcome, CallOutcome::Ok, "{kept:?}");

    // History has every call, newest first, with arguments and outcome.
    let history = hub.history(&name, 50).await.unwrap();
    assert_eq!(history.len(), 7);
    assert_eq!(history[0].outcome, CallOutcome::Ok);
    assert_eq!(history[1].outcome, CallOutcome::TimedOut);
    assert_eq!(
        history.last().unwrap().arguments,
        json!({"message": "hello patchbay"})
    );
    assert!(history.iter().any(|h| h.outcome == CallOutcome::Cancelled));

    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdio_full_story() {
    let marker = marker();
    full_story(stdio_def("everything-stdio", &marker), true).await;
    assert!(
        processes_with_marker(&marker).is_empty(),
        "server process left behind"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamable_http_full_story() {
    let peer = HttpTestServer::start("streamableHttp");
    full_story(http_def("everything-http", &peer.url()), false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_sse_full_story() {
    let peer = HttpTestServer::start("sse");
    full_story(sse_def("everything-sse", &peer.url()), true).await;
}

/// Kill the stdio server mid-call: the call fails clearly, the state goes to error, and the
/// session brings the server back by itself. No process or zombie is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdio_server_killed_mid_call_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(&dir).await;
    let marker = marker();
    hub.add_server(stdio_def("victim", &marker)).await.unwrap();
    assert_eq!(
        hub.connect_and_wait("victim").await.unwrap(),
        ServerState::Connected
    );
    let first_pid = hub.snapshot("victim").unwrap().pid.expect("pid");

    let mut events = hub.subscribe();
    let call = long_call_running(&hub, "victim", 60, &mut events, WAIT).await;
    unsafe { libc::kill(first_pid as i32, libc::SIGKILL) };

    let report = call.finish().await;
    assert_eq!(report.outcome, CallOutcome::Failed);
    let error = report.error.unwrap();
    assert!(error.contains("victim"), "{error}");

    let Event::State {
        state: ServerState::Error {
            message,
            retry_at_ms,
        },
        ..
    } = expect_event(&mut events, WAIT, |e| {
        matches!(
            e,
            Event::State {
                state: ServerState::Error { .. },
                ..
            }
        )
    })
    .await
    else {
        unreachable!()
    };
    assert!(
        message.contains("victim") && message.contains("signal 9"),
        "{message}"
    );
    assert!(retry_at_ms.is_some());
    expect_event(&mut events, WAIT, |e| {
        matches!(
            e,
            Event::State {
                state: ServerState::Connected,
                ..
            }
        )
    })
    .await;
    let second_pid = hub.snapshot("victim").unwrap().pid.expect("pid");
    assert_ne!(first_pid, second_pid);
    let echo = hub
        .call_tool(req("victim", "echo", json!({"message": "back"})))
        .await
        .unwrap();
    assert_eq!(text_of(echo.result.as_ref().unwrap()), "Echo: back");

    hub.shutdown().await;
    assert!(
        processes_with_marker(&marker).is_empty(),
        "server process left behind"
    );
    assert!(
        zombie_children().is_empty(),
        "zombies: {:?}",
        zombie_children()
    );
}

/// The remote server goes away mid-session: error, then connected again once it is back.
async fn remote_restart_recovers(mode: &'static str) {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(&dir).await;
    let mut peer = HttpTestServer::start(mode);
    let port = peer.port;
    let def = if mode == "sse" {
        sse_def("remote", &peer.url())
    } else {
        http_def("remote", &peer.url())
    };
    hub.add_server(def).await.unwrap();
    assert_eq!(
        hub.connect_and_wait("remote").await.unwrap(),
        ServerState::Connected
    );

    let mut events = hub.subscribe();
    peer.kill();
    // A burst of failing calls: each fails clearly, and together they cause one drop, not ten.
    let calls = (0..10).map(|i| {
        hub.call_tool(req(
            "remote",
            "echo",
            json!({"message": format!("anyone {i}?")}),
        ))
    });
    for failed in futures::future::join_all(calls).await {
        let failed = failed.unwrap();
        assert_eq!(failed.outcome, CallOutcome::Failed);
        assert!(failed.error.unwrap().contains("remote"));
    }
    expect_event(&mut events, WAIT, |e| {
        matches!(
            e,
            Event::State {
                state: ServerState::Error { .. },
                ..
            }
        )
    })
    .await;
    let next = expect_event(&mut events, WAIT, |e| matches!(e, Event::State { .. })).await;
    assert!(
        matches!(
            next,
            Event::State {
                state: ServerState::Connecting,
                ..
            }
        ),
        "after the one error comes one attempt, got {next:?}"
    );

    let _peer = HttpTestServer::start_on(mode, port);
    expect_event(&mut events, WAIT, |e| {
        matches!(
            e,
            Event::State {
                state: ServerState::Connected,
                ..
            }
        )
    })
    .await;
    let echo = hub
        .call_tool(req("remote", "echo", json!({"message": "back"})))
        .await
        .unwrap();
    assert_eq!(text_of(echo.result.as_ref().unwrap()), "Echo: back");
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamable_http_server_restart_recovers() {
    remote_restart_recovers("streamableHttp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_sse_server_restart_recovers() {
    remote_restart_recovers("sse").await;
}

/// Broken servers each end in a clear error, while a healthy one keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_servers_fail_clearly_and_do_not_disturb_others() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = patchbay_engine::HubOptions::new(dir.path());
    options.timings.connect_timeout = Duration::from_secs(4);
    let hub = Hub::open(options).await.unwrap();
    let marker = marker();
    hub.add_server(stdio_def("healthy", &marker)).await.unwrap();
    assert_eq!(
        hub.connect_and_wait("healthy").await.unwrap(),
        ServerState::Connected
    );

    let stdio = |name: &str, command: &str, args: &[&str]| {
        ServerDef::new(
            name,
            patchbay_engine::TransportDef::Stdio {
                command: command.into(),
                args: args.iter().map(|s| s.to_string()).collect(),
                env: [("PATCHBAY_TEST_MARKER".to_string(), marker.clone())].into(),
                cwd: None,
            },
        )
    };
    let refused = format!("http://127.0.0.1:{}/mcp", free_port());
    hub.add_servers(vec![
        stdio("missing", "/nonexistent/patchbay-no-such-server", &[]),
        stdio(
            "garbage",
            "sh",
            &["-c", "echo 'Welcome to my server!'; sleep 60"],
        ),
        stdio(
            "crasher",
            "sh",
            &["-c", "echo 'fatal: config not found' >&2; exit 3"],
        ),
        http_def("refused", &refused),
    ])
    .await
    .unwrap();

    let error_of = |state: ServerState| match state {
        ServerState::Error {
            message,
            retry_at_ms,
        } => (message, retry_at_ms),
        other => panic!("expected an error, got {other:?}"),
    };
    let (missing, missing_retry) = error_of(hub.connect_and_wait("missing").await.unwrap());
    assert!(
        missing.contains("'missing'") && missing.contains("not found"),
        "{missing}"
    );
    assert_eq!(
        missing_retry, None,
        "retrying cannot find a missing command"
    );

    let (garbage, _) = error_of(hub.connect_and_wait("garbage").await.unwrap());
    assert!(
        garbage.contains("'garbage'") && garbage.contains("Welcome to my server!"),
        "{garbage}"
    );

    let (crasher, retry) = error_of(hub.connect_and_wait("crasher").await.unwrap());
    assert_eq!(
        crasher,
        "server 'crasher' exited with status 3: fatal: config not found"
    );
    assert!(retry.is_some());

    let (refused_msg, _) = error_of(hub.connect_and_wait("refused").await.unwrap());
    assert!(
        refused_msg.contains("'refused'") && refused_msg.contains(&refused),
        "{refused_msg}"
    );
    assert!(
        refused_msg.to_lowercase().contains("refused"),
        "{refused_msg}"
    );

    assert_eq!(hub.state("healthy"), Some(ServerState::Connected));
    let echo = hub
        .call_tool(req("healthy", "echo", json!({"message": "fine"})))
        .await
        .unwrap();
    assert_eq!(text_of(echo.result.as_ref().unwrap()), "Echo: fine");

    hub.shutdown().await;
    assert!(
        processes_with_marker(&marker).is_empty(),
        "processes left: {:?}",
        processes_with_marker(&marker)
    );
}

/// Five reconnect clicks in a row start one connection attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_burst_starts_one_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(&dir).await;
    let marker = marker();
    hub.add_server(stdio_def("clicky", &marker)).await.unwrap();
    assert_eq!(
        hub.connect_and_wait("clicky").await.unwrap(),
        ServerState::Connected
    );
    let mut events = hub.subscribe();
    for _ in 0..5 {
        hub.reconnect("clicky").unwrap();
    }
    expect_event(&mut events, WAIT, |e| {
        matches!(
            e,
            Event::State {
                state: ServerState::Connected,
                ..
            }
        )
    })
    .await;
    // Anything still queued would show up as another attempt shortly.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut connecting = 1;
    while let Ok(e) = events.try_recv() {
        if matches!(
            e,
            Event::State {
                state: ServerState::Connecting,
                ..
            }
        ) {
            connecting += 1;
        }
    }
    assert_eq!(
        connecting, 1,
        "a burst of reconnects must start exactly one attempt"
    );
    hub.shutdown().await;
    assert!(processes_with_marker(&marker).is_empty());
}

/// A malformed config file changes nothing stored.
#[tokio::test]
async fn bad_import_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(&dir).await;
    hub.add_server(http_def("kept", "http://127.0.0.1:9/mcp"))
        .await
        .unwrap();
    let file = dir.path().join("claude_desktop_config.json");
    std::fs::write(&file, "{\n  \"mcpServers\": {\n    \"a\": {\"command\": \"x\"},\n    \"b\": {\"command\": 42}\n  }\n}\n").unwrap();
    let err = hub
        .preview_import(&file, false)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("claude_desktop_config.json") && err.contains(":4:"),
        "{err}"
    );
    let names: Vec<_> = hub
        .servers()
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.def.name)
        .collect();
    assert_eq!(names, vec!["kept"]);
}

/// Results are kept as received, whatever their content type.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_keep_every_content_type() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(&dir).await;
    let marker = marker();
    hub.add_server(stdio_def("kinds", &marker)).await.unwrap();
    assert_eq!(
        hub.connect_and_wait("kinds").await.unwrap(),
        ServerState::Connected
    );

    let image = hub
        .call_tool(req("kinds", "get-tiny-image", json!({})))
        .await
        .unwrap()
        .result
        .unwrap();
    let block = image["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "image")
        .expect("image block");
    assert_eq!(block["mimeType"], "image/png");
    assert!(block["data"].as_str().unwrap().len() > 100);

    let structured = hub
        .call_tool(req(
            "kinds",
            "get-structured-content",
            json!({"location": "Chicago"}),
        ))
        .await
        .unwrap();
    let sc = &structured.result.as_ref().unwrap()["structuredContent"];
    assert!(
        sc["temperature"].is_number() && sc["conditions"].is_string(),
        "{sc}"
    );

    let links = hub
        .call_tool(req("kinds", "get-resource-links", json!({"count": 2})))
        .await
        .unwrap()
        .result
        .unwrap();
    let links: Vec<_> = links["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "resource_link")
        .collect();
    assert_eq!(links.len(), 2);
    assert!(links[0]["uri"].as_str().unwrap().starts_with("demo://"));

    let embedded = hub
        .call_tool(req("kinds", "get-resource-reference", json!({})))
        .await
        .unwrap()
        .result
        .unwrap();
    let res = embedded["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "resource")
        .expect("resource");
    assert!(
        res["resource"]["uri"].is_string() && res["resource"]["text"].is_string(),
        "{res}"
    );

    // isError results are results, marked as tool errors.
    let bad = hub
        .call_tool(req("kinds", "get-sum", json!({"a": "two"})))
        .await
        .unwrap();
    assert_eq!(bad.outcome, CallOutcome::ToolError);
    assert_eq!(bad.result.unwrap()["isError"], true);
    hub.shutdown().await;
}

/// A server that starts children of its own: disconnect and removal take them all down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_children_die_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(&dir).await;
    let marker = marker();
    let script = format!(
        "sleep 300 & sleep 301 & exec '{}' '{}' stdio",
        node().display(),
        everything_js().display()
    );
    let def = |name: &str| {
        ServerDef::new(
            name,
            patchbay_engine::TransportDef::Stdio {
                command: "sh".into(),
                args: vec!["-c".into(), script.clone()],
                env: [("PATCHBAY_TEST_MARKER".to_string(), marker.clone())].into(),
                cwd: None,
            },
        )
    };
    hub.add_servers(vec![def("parent-a"), def("parent-b")])
        .await
        .unwrap();
    assert_eq!(
        hub.connect_and_wait("parent-a").await.unwrap(),
        ServerState::Connected
    );
    assert_eq!(
        hub.connect_and_wait("parent-b").await.unwrap(),
        ServerState::Connected
    );
    assert_eq!(
        processes_with_marker(&marker).len(),
        6,
        "two servers with two children each"
    );

    hub.disconnect("parent-a").await.unwrap();
    assert_eq!(hub.state("parent-a"), Some(ServerState::Disconnected));
    assert_eq!(
        processes_with_marker(&marker).len(),
        3,
        "parent-a and its children are gone"
    );

    hub.remove_server("parent-b").await.unwrap();
    assert!(processes_with_marker(&marker).is_empty());
    assert!(zombie_children().is_empty());
    hub.shutdown().await;
}

/// The app's Enable/Disable and edit buttons: a disabled server's process is gone and stays
/// gone across a restart of the hub; an edited server restarts with its new definition.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_enable_and_edit_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let mark = marker();
    let hub = hub(&dir).await;
    hub.add_server(stdio_def("ev", &mark)).await.unwrap();
    assert_eq!(
        hub.connect_and_wait("ev").await.unwrap(),
        ServerState::Connected
    );
    assert_eq!(processes_with_marker(&mark).len(), 1);

    hub.set_enabled("ev", false).await.unwrap();
    assert_eq!(hub.state("ev"), Some(ServerState::Disconnected));
    assert!(processes_with_marker(&mark).is_empty());
    assert!(!hub.servers().await.unwrap()[0].def.enabled);
    hub.shutdown().await;
    drop(hub);

    // A new hub on the same data dir does not start what the person disabled.
    let hub = common::hub(&dir).await;
    hub.connect_all();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(hub.state("ev"), Some(ServerState::Disconnected));
    assert!(processes_with_marker(&mark).is_empty());

    hub.set_enabled("ev", true).await.unwrap();
    let connected = |hub: &Hub| hub.state("ev") == Some(ServerState::Connected);
    let deadline = tokio::time::Instant::now() + WAIT;
    while !connected(&hub) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(connected(&hub));

    // Edit: a longer request timeout and a new marker; the old process goes, a new one comes.
    let new_mark = marker();
    let mut edited = stdio_def("ev", &new_mark);
    edited.request_timeout_secs = 7;
    hub.update_server(edited).await.unwrap();
    assert_eq!(
        hub.connect_and_wait("ev").await.unwrap(),
        ServerState::Connected
    );
    assert!(processes_with_marker(&mark).is_empty());
    assert_eq!(processes_with_marker(&new_mark).len(), 1);
    assert_eq!(hub.server("ev").unwrap().request_timeout_secs, 7);
    // A bad edit changes nothing.
    let mut bad = stdio_def("ev", &new_mark);
    bad.request_timeout_secs = 0;
    assert!(hub.update_server(bad).await.is_err());
    assert_eq!(hub.server("ev").unwrap().request_timeout_secs, 7);
    assert_eq!(hub.state("ev"), Some(ServerState::Connected));
    hub.shutdown().await;
    assert!(processes_with_marker(&new_mark).is_empty());
}

/// A remote server nobody listens for: the error says why (the socket's own words), not only
/// rmcp's "error sending request", so the window can say "Nothing is listening on …".
#[tokio::test]
async fn a_closed_port_says_the_connection_was_refused() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(&dir).await;
    let mut events = hub.subscribe();
    // A real loopback port that was just free: nothing listens there.
    let url = format!("http://127.0.0.1:{}/mcp", free_port());
    hub.add_server(http_def("closed", &url)).await.unwrap();
    hub.connect("closed").unwrap();
    let Event::State {
        state: ServerState::Error { message, .. },
        ..
    } = expect_event(&mut events, WAIT, |e| {
        matches!(
            e,
            Event::State {
                state: ServerState::Error { .. },
                ..
            }
        )
    })
    .await
    else {
        unreachable!()
    };
    assert!(message.contains(&url), "{message}");
    assert!(
        message.to_lowercase().contains("connection refused"),
        "{message}"
    );
    assert!(!message.contains("rmcp::"), "{message}");
    hub.shutdown().await;
}
