//! The current protocol revision (2026-07-28) against a real server of that era: the small test
//! server on the official TypeScript SDK v2 (tests/peers/v2-server.mjs), over stateless
//! Streamable HTTP and over stdio. The session probes with `server/discover`; questions come as
//! `input_required` results and reach the person as 2025-era questions do; list changes come
//! on the `subscriptions/listen` stream. server-everything stays on the 2025 era.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use common::*;
use patchbay_engine::events::Event;
use patchbay_engine::{
    Answer, CallOutcome, CallRequest, Era, Hub, ServerDef, ServerState, TransportDef,
};
use serde_json::json;

fn v2_js() -> std::path::PathBuf {
    peers_dir().join("v2-server.mjs")
}

/// The v2 server over stateless Streamable HTTP; killed when dropped.
type V2Http = UrlLineServer;

fn v2_http() -> V2Http {
    v2_http_with(&[], Stdio::null())
}

fn v2_http_with(options: &[&str], stderr: Stdio) -> V2Http {
    let mut args = vec!["http", "--port", "0"];
    args.extend_from_slice(options);
    UrlLineServer::start("v2-server.mjs", &args, stderr)
}

/// The v2 server with `--log` (and `options`), and the methods of the requests it got, in order,
/// kept as its log arrives.
fn v2_http_logged(options: &[&str]) -> (V2Http, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let mut args = vec!["--log"];
    args.extend_from_slice(options);
    let mut server = v2_http_with(&args, Stdio::piped());
    let methods = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let log = BufReader::new(server.child.stderr.take().unwrap());
    let seen = methods.clone();
    std::thread::spawn(move || {
        for line in log.lines().map_while(Result::ok) {
            let logged: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            let body: serde_json::Value =
                serde_json::from_str(logged["body"].as_str().unwrap_or("null")).unwrap_or_default();
            if let Some(method) = body["method"].as_str() {
                seen.lock().unwrap().push(method.to_string());
            }
        }
    });
    (server, methods)
}

fn v2_stdio_def(name: &str) -> ServerDef {
    let mut def = ServerDef::new(
        name,
        TransportDef::Stdio {
            command: node().to_string_lossy().into(),
            args: vec![v2_js().to_string_lossy().into(), "stdio".into()],
            env: Default::default(),
            cwd: None,
        },
    );
    def.request_timeout_secs = 30;
    def
}

/// Each test runs against both transports; `http` keeps the HTTP server alive.
async fn connected(dir: &tempfile::TempDir, stdio: bool) -> (Hub, Option<V2Http>) {
    let hub = hub(dir).await;
    let http = (!stdio).then(v2_http);
    let def = match &http {
        Some(server) => http_def("v2", &server.url),
        None => v2_stdio_def("v2"),
    };
    hub.add_server(def).await.unwrap();
    assert_eq!(
        hub.connect_and_wait("v2").await.unwrap(),
        ServerState::Connected
    );
    (hub, http)
}

fn call(tool: &str, arguments: serde_json::Value) -> CallRequest {
    CallRequest {
        server: "v2".into(),
        tool: tool.into(),
        arguments: arguments.as_object().cloned(),
        timeout: Some(Duration::from_secs(20)),
        task: false,
    }
}

const WAIT: Duration = Duration::from_secs(20);

/// The next question put to the person: its id and request.
async fn asked(
    events: &mut tokio::sync::broadcast::Receiver<Event>,
) -> (String, serde_json::Value) {
    match expect_event(events, WAIT, |e| {
        matches!(e, Event::ElicitationRequested { .. })
    })
    .await
    {
        Event::ElicitationRequested { id, request, .. } => (id, request),
        _ => unreachable!(),
    }
}

async fn speaks_the_current_revision(stdio: bool) {
    let dir = tempfile::tempdir().unwrap();
    let (hub, _http) = connected(&dir, stdio).await;
    let spoke = hub.details("v2").unwrap().spoke.expect("what it spoke");
    assert_eq!(spoke.era, Era::Stateless);
    assert_eq!(spoke.protocol_version, "2026-07-28");
    let listed = hub.servers().await.unwrap();
    assert_eq!(
        listed[0].spoke.as_ref().map(|s| s.era),
        Some(Era::Stateless)
    );
    // The era removed ping and the log level: the round trip is timed another way, and the
    // log level is refused with the reason.
    assert!(hub.ping("v2").await.is_ok());
    let refused = hub
        .set_log_level("v2", patchbay_engine::LogLevel::Debug)
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("does not apply"), "{refused}");
    assert!(refused.contains("2026-07-28"), "{refused}");
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn speaks_2026_07_28_over_http() {
    speaks_the_current_revision(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn speaks_2026_07_28_over_stdio() {
    speaks_the_current_revision(true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn server_everything_stays_on_the_2025_era() {
    let dir = tempfile::tempdir().unwrap();
    let hub = connected_everything(&dir).await;
    let spoke = hub.details("ev").unwrap().spoke.expect("what it spoke");
    assert_eq!(spoke.era, Era::Session);
    assert_eq!(spoke.protocol_version, "2025-11-25");
    hub.shutdown().await;
}

/// The server's question reaches the person as an ordinary question; the answer goes back in
/// the retry with the server's state, and the call finishes.
async fn a_question_through_input_required(stdio: bool) {
    let dir = tempfile::tempdir().unwrap();
    let (hub, _http) = connected(&dir, stdio).await;
    let mut events = hub.subscribe();
    let started = hub.start_call(call("ask_name", json!({}))).unwrap();
    let (id, request) = asked(&mut events).await;
    assert_eq!(request["message"], "What is your name?");
    let name = json!({ "name": "Ada" }).as_object().cloned().unwrap();
    assert!(
        hub.answer_elicitation("v2", &id, Answer::Accept(name))
            .unwrap()
    );
    let report = started.finish().await;
    assert_eq!(report.outcome, CallOutcome::Ok, "{report:?}");
    // The server checks that its requestState came back untouched.
    assert_eq!(text_of(report.result.as_ref().unwrap()), "Hello, Ada!");
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_question_through_input_required_over_http() {
    a_question_through_input_required(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_question_through_input_required_over_stdio() {
    a_question_through_input_required(true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_declined_question_goes_back_as_declined() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, _http) = connected(&dir, false).await;
    let mut events = hub.subscribe();
    let started = hub.start_call(call("ask_name", json!({}))).unwrap();
    let (id, _) = asked(&mut events).await;
    hub.answer_elicitation("v2", &id, Answer::Decline).unwrap();
    let report = started.finish().await;
    assert_eq!(report.outcome, CallOutcome::ToolError);
    assert_eq!(
        text_of(report.result.as_ref().unwrap()),
        "No name given (decline)"
    );
    hub.shutdown().await;
}

/// Cancel between rounds: the call ends as cancelled, its open question is withdrawn from the
/// window, and no retry goes out.
#[tokio::test(flavor = "multi_thread")]
async fn cancel_while_the_person_is_asked_withdraws_the_question() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, _http) = connected(&dir, false).await;
    let mut events = hub.subscribe();
    let started = hub.start_call(call("ask_name", json!({}))).unwrap();
    let (id, _) = asked(&mut events).await;
    assert!(hub.cancel_call(&started.call_id));
    expect_event(&mut events, WAIT, |e| {
        matches!(e, Event::ElicitationFinished { id: i, action, .. } if *i == id && action == "cancel")
    })
    .await;
    let report = started.finish().await;
    assert_eq!(report.outcome, CallOutcome::Cancelled, "{report:?}");
    // The question is gone: a late answer finds nothing.
    assert!(!hub.answer_elicitation("v2", &id, Answer::Decline).unwrap());
    hub.shutdown().await;
}

/// A server that never stops asking is stopped by Patchbay, with a sentence that says so.
#[tokio::test(flavor = "multi_thread")]
async fn rounds_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, _http) = connected(&dir, false).await;
    let report = hub.call_tool(call("ask_forever", json!({}))).await.unwrap();
    assert_eq!(report.outcome, CallOutcome::Failed);
    let error = report.error.unwrap();
    assert!(error.contains("asked for more input 10 times"), "{error}");
    hub.shutdown().await;
}

/// The statuses a call's task went through, in the order they were told.
fn task_statuses(seen: &[Event], id: &str) -> Vec<String> {
    seen.iter()
        .filter_map(|e| match e {
            Event::TaskStatus {
                call_id, status, ..
            } if call_id == id => Some(status.clone()),
            _ => None,
        })
        .collect()
}

/// Tasks are an extension in 2026-07-28 (SEP-2663) that every call declares; the server chooses
/// to run `task_count` as a task, and the call follows it with tasks/get to its result ("as a
/// task" asks for nothing more: the server decides).
async fn a_task_the_server_chose_is_followed_to_its_result(stdio: bool) {
    let dir = tempfile::tempdir().unwrap();
    let (hub, _http) = connected(&dir, stdio).await;
    let mut events = hub.subscribe();
    // As the window sends it to such a server: not asking for a task (the server decides).
    let report = hub
        .call_tool(call("task_count", json!({ "steps": 3, "delay_ms": 150 })))
        .await
        .unwrap();
    assert_eq!(report.outcome, CallOutcome::Ok, "{report:?}");
    assert_eq!(
        text_of(report.result.as_ref().unwrap()),
        "counted to 3 for nobody"
    );
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        seen.push(e);
    }
    let statuses = task_statuses(&seen, &report.call_id);
    assert_eq!(
        statuses.first().map(String::as_str),
        Some("working"),
        "{statuses:?}"
    );
    assert_eq!(
        statuses.last().map(String::as_str),
        Some("completed"),
        "{statuses:?}"
    );
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_the_server_chose_is_followed_to_its_result_over_http() {
    a_task_the_server_chose_is_followed_to_its_result(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_the_server_chose_is_followed_to_its_result_over_stdio() {
    a_task_the_server_chose_is_followed_to_its_result(true).await;
}

/// A task that needs the person (`input_required` with inputRequests): the question reaches the
/// dialog once, and the answer goes back with tasks/update.
async fn a_tasks_question_is_answered_with_tasks_update(stdio: bool) {
    let dir = tempfile::tempdir().unwrap();
    let (hub, _http) = connected(&dir, stdio).await;
    let mut events = hub.subscribe();
    let started = hub
        .start_call(call(
            "task_count",
            json!({ "steps": 1, "delay_ms": 50, "ask": true }),
        ))
        .unwrap();
    let (id, request) = asked(&mut events).await;
    assert_eq!(request["message"], "Who is counting?");
    let who = json!({ "who": "Ada" }).as_object().cloned().unwrap();
    assert!(
        hub.answer_elicitation("v2", &id, Answer::Accept(who))
            .unwrap()
    );
    let report = started.finish().await;
    assert_eq!(report.outcome, CallOutcome::Ok, "{report:?}");
    assert_eq!(
        text_of(report.result.as_ref().unwrap()),
        "counted to 1 for Ada"
    );
    // Asked once, though tasks/get may show the question outstanding after the answer.
    while let Ok(e) = events.try_recv() {
        assert!(
            !matches!(e, Event::ElicitationRequested { .. }),
            "asked again: {e:?}"
        );
    }
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tasks_question_is_answered_with_tasks_update_over_http() {
    a_tasks_question_is_answered_with_tasks_update(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tasks_question_is_answered_with_tasks_update_over_stdio() {
    a_tasks_question_is_answered_with_tasks_update(true).await;
}

/// What a server may do wrong with a task, each refused with a sentence: a failed task says why
/// (its message on one line), a task that keeps asking stops at ten rounds, and an id no person
/// could be shown is not used.
#[tokio::test(flavor = "multi_thread")]
async fn a_task_that_fails_keeps_asking_or_has_an_odd_id_ends_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, _http) = connected(&dir, true).await;
    let report = hub
        .call_tool(call(
            "task_count",
            json!({ "steps": 1, "delay_ms": 10, "fail": true }),
        ))
        .await
        .unwrap();
    assert_eq!(report.outcome, CallOutcome::Failed, "{report:?}");
    let error = report.error.unwrap();
    assert!(
        error.contains("the task for 'task_count' failed: counting failed"),
        "{error}"
    );

    let report = hub
        .call_tool(call(
            "task_count",
            json!({ "steps": 1, "delay_ms": 10, "long_id": true }),
        ))
        .await
        .unwrap();
    assert_eq!(report.outcome, CallOutcome::Failed, "{report:?}");
    assert!(
        report
            .error
            .as_deref()
            .unwrap()
            .contains("an id Patchbay will not use"),
        "{report:?}"
    );

    // Eleven rounds asked: ten answered, the eleventh not put to the person.
    let mut events = hub.subscribe();
    let started = hub
        .start_call(call(
            "task_count",
            json!({ "steps": 1, "delay_ms": 10, "asks": 11 }),
        ))
        .unwrap();
    for _ in 0..10 {
        let (id, _) = asked(&mut events).await;
        let who = json!({ "who": "Ada" }).as_object().cloned().unwrap();
        assert!(
            hub.answer_elicitation("v2", &id, Answer::Accept(who))
                .unwrap()
        );
    }
    let report = started.finish().await;
    assert_eq!(report.outcome, CallOutcome::Failed, "{report:?}");
    assert!(
        report
            .error
            .as_deref()
            .unwrap()
            .contains("more input 10 times"),
        "{report:?}"
    );
    while let Ok(e) = events.try_recv() {
        assert!(
            !matches!(e, Event::ElicitationRequested { .. }),
            "an eleventh question was shown: {e:?}"
        );
    }
    hub.shutdown().await;
}

/// Cancel while the task works: tasks/cancel reaches the server, and the call ends cancelled.
#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_task_is_cancelled_at_the_server() {
    let (server, methods) = v2_http_logged(&[]);
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(&dir).await;
    hub.add_server(http_def("v2", &server.url)).await.unwrap();
    assert_eq!(
        hub.connect_and_wait("v2").await.unwrap(),
        ServerState::Connected
    );
    let mut events = hub.subscribe();
    let started = hub
        .start_call(call("task_count", json!({ "steps": 50, "delay_ms": 1000 })))
        .unwrap();
    let call_id = started.call_id.clone();
    expect_event(
        &mut events,
        WAIT,
        |e| matches!(e, Event::TaskStatus { call_id: c, .. } if *c == call_id),
    )
    .await;
    assert!(hub.cancel_call(&call_id));
    let report = started.finish().await;
    assert_eq!(report.outcome, CallOutcome::Cancelled, "{report:?}");
    tokio::time::timeout(WAIT, async {
        while !methods.lock().unwrap().iter().any(|m| m == "tasks/cancel") {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the server got tasks/cancel");
    hub.shutdown().await;
}

/// One round may ask a few things at once; a flood of questions is refused before any dialog
/// opens.
#[tokio::test(flavor = "multi_thread")]
async fn a_round_that_asks_too_much_is_refused_before_anyone_is_asked() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, _http) = connected(&dir, false).await;
    let mut events = hub.subscribe();
    let report = hub
        .call_tool(call("ask_many", json!({ "count": 9 })))
        .await
        .unwrap();
    assert_eq!(report.outcome, CallOutcome::Failed);
    let error = report.error.unwrap();
    assert!(error.contains("9 things at once"), "{error}");
    while let Ok(event) = events.try_recv() {
        assert!(
            !matches!(event, Event::ElicitationRequested { .. }),
            "a question was shown: {event:?}"
        );
    }
    // Two at once are asked, both.
    let started = hub
        .start_call(call("ask_many", json!({ "count": 2 })))
        .unwrap();
    for _ in 0..2 {
        let (id, _) = asked(&mut events).await;
        hub.answer_elicitation("v2", &id, Answer::Decline).unwrap();
    }
    let report = started.finish().await;
    assert_eq!(text_of(report.result.as_ref().unwrap()), "2 answers");
    hub.shutdown().await;
}

/// A question cannot outlive the connection it came on: disconnecting closes its dialog.
#[tokio::test(flavor = "multi_thread")]
async fn a_question_closes_when_the_connection_ends() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, _http) = connected(&dir, true).await;
    let mut events = hub.subscribe();
    let prompt = {
        let hub = hub.clone();
        tokio::spawn(async move {
            hub.get_prompt("v2", "greet_asking", Default::default())
                .await
        })
    };
    let (id, _) = asked(&mut events).await;
    hub.disconnect("v2").await.unwrap();
    expect_event(&mut events, WAIT, |e| {
        matches!(e, Event::ElicitationFinished { id: i, action, .. } if *i == id && action == "cancel")
    })
    .await;
    let error = prompt.await.unwrap().unwrap_err().to_string();
    assert!(error.contains("connection ended"), "{error}");
    hub.shutdown().await;
}

/// prompts/get goes through rounds too.
#[tokio::test(flavor = "multi_thread")]
async fn a_prompt_that_asks_first() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, _http) = connected(&dir, true).await;
    let mut events = hub.subscribe();
    let answering = hub.clone();
    let answerer = tokio::spawn(async move {
        let (id, _) = asked(&mut events).await;
        let who = json!({ "who": "Grace" }).as_object().cloned().unwrap();
        answering
            .answer_elicitation("v2", &id, Answer::Accept(who))
            .unwrap();
    });
    let prompt = hub
        .get_prompt("v2", "greet_asking", Default::default())
        .await
        .unwrap();
    answerer.await.unwrap();
    assert_eq!(
        prompt["messages"][0]["content"]["text"],
        "Please greet Grace."
    );
    hub.shutdown().await;
}

async fn progress_streams(stdio: bool) {
    let dir = tempfile::tempdir().unwrap();
    let (hub, _http) = connected(&dir, stdio).await;
    let mut events = hub.subscribe();
    let started = hub
        .start_call(call("slow_count", json!({ "steps": 3, "delay_ms": 50 })))
        .unwrap();
    let call_id = started.call_id.clone();
    for step in 1..=3 {
        let Event::Progress { progress, .. } = expect_event(
            &mut events,
            WAIT,
            |e| matches!(e, Event::Progress { call_id: c, .. } if *c == call_id),
        )
        .await
        else {
            unreachable!()
        };
        assert_eq!(progress, step as f64);
    }
    let report = started.finish().await;
    assert_eq!(text_of(report.result.as_ref().unwrap()), "counted to 3");
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn progress_streams_over_http() {
    progress_streams(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn progress_streams_over_stdio() {
    progress_streams(true).await;
}

/// A tool added at run time is announced on the listen stream, and appears in the list without
/// a reconnect.
async fn a_tool_added_at_run_time_appears(stdio: bool) {
    let dir = tempfile::tempdir().unwrap();
    let (hub, _http) = connected(&dir, stdio).await;
    let before = hub.tools("v2").await.unwrap();
    assert!(!before.iter().any(|t| t.name == "newcomer"));
    let mut events = hub.subscribe();
    // The listen stream opens just after the connection: wait for the server to acknowledge
    // it (the journal shows that), so the announcement has a stream to travel on.
    let listening = async {
        loop {
            let journal = hub.notifications("v2").unwrap();
            if journal
                .iter()
                .any(|n| n.method == "notifications/subscriptions/acknowledged")
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(WAIT, listening)
        .await
        .expect("the listen stream was acknowledged");
    let report = hub
        .call_tool(call("add_tool", json!({ "name": "newcomer" })))
        .await
        .unwrap();
    assert_eq!(report.outcome, CallOutcome::Ok, "{report:?}");
    expect_event(
        &mut events,
        WAIT,
        |e| matches!(e, Event::ToolsChanged { server } if server == "v2"),
    )
    .await;
    let after = hub.tools("v2").await.unwrap();
    assert!(after.iter().any(|t| t.name == "newcomer"), "{after:?}");
    assert_eq!(hub.state("v2"), Some(ServerState::Connected));
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tool_added_at_run_time_appears_over_http() {
    a_tool_added_at_run_time_appears(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tool_added_at_run_time_appears_over_stdio() {
    a_tool_added_at_run_time_appears(true).await;
}

/// A tool list the server lets clients keep (`ttlMs`) is not asked for again inside that time;
/// a list change drops it, and so does Refresh; the next listing asks the server.
#[tokio::test(flavor = "multi_thread")]
async fn a_list_is_kept_for_its_ttl_and_dropped_on_a_change_or_refresh() {
    let dir = tempfile::tempdir().unwrap();
    // The server logs every request it gets, in order: keep the methods.
    let (server, methods) = v2_http_logged(&["--ttl-ms", "600000"]);
    // The tools/list requests the server got before the `n`th tools/call (a marker: the log is
    // in order, so once the marker is in, so is everything sent before it).
    let lists_before_call = |n: usize| {
        let methods = methods.clone();
        async move {
            loop {
                {
                    let methods = methods.lock().unwrap();
                    let calls: Vec<usize> = methods
                        .iter()
                        .enumerate()
                        .filter(|(_, m)| *m == "tools/call")
                        .map(|(i, _)| i)
                        .collect();
                    if let Some(at) = calls.get(n - 1) {
                        return methods[..*at].iter().filter(|m| *m == "tools/list").count();
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    let hub = hub(&dir).await;
    hub.add_server(http_def("v2", &server.url)).await.unwrap();
    assert_eq!(
        hub.connect_and_wait("v2").await.unwrap(),
        ServerState::Connected
    );
    let first = hub.tools("v2").await.unwrap();
    let second = hub.tools("v2").await.unwrap();
    assert_eq!(first.len(), second.len());
    hub.call_tool(call("echo", json!({ "message": "marker" })))
        .await
        .unwrap();
    let lists = tokio::time::timeout(WAIT, lists_before_call(1))
        .await
        .unwrap();
    assert_eq!(lists, 1, "the list was asked for again inside its ttl");
    // The listen stream must be open for the change to arrive.
    let mut events = hub.subscribe();
    tokio::time::timeout(WAIT, async {
        while !hub
            .notifications("v2")
            .unwrap()
            .iter()
            .any(|n| n.method == "notifications/subscriptions/acknowledged")
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the listen stream was acknowledged");
    hub.call_tool(call("add_tool", json!({ "name": "cached" })))
        .await
        .unwrap();
    expect_event(&mut events, WAIT, |e| {
        matches!(e, Event::ToolsChanged { .. })
    })
    .await;
    let after = hub.tools("v2").await.unwrap();
    assert!(after.iter().any(|t| t.name == "cached"), "{after:?}");
    hub.call_tool(call("echo", json!({ "message": "marker" })))
        .await
        .unwrap();
    // tools/call #1 echo, #2 add_tool, #3 echo: one more list between them, after the change.
    let lists = tokio::time::timeout(WAIT, lists_before_call(3))
        .await
        .unwrap();
    assert_eq!(lists, 2);
    // Refresh: every view is told to list again, and the next listing asks the server (once).
    let mut events = hub.subscribe();
    hub.refresh_lists("v2").await.unwrap();
    expect_event(
        &mut events,
        WAIT,
        |e| matches!(e, Event::ToolsChanged { server } if server == "v2"),
    )
    .await;
    expect_event(
        &mut events,
        WAIT,
        |e| matches!(e, Event::ListChanged { list, .. } if list == "resources"),
    )
    .await;
    hub.tools("v2").await.unwrap();
    hub.tools("v2").await.unwrap();
    hub.call_tool(call("echo", json!({ "message": "marker" })))
        .await
        .unwrap();
    let lists = tokio::time::timeout(WAIT, lists_before_call(4))
        .await
        .unwrap();
    assert_eq!(
        lists, 3,
        "Refresh did not ask the server again, or asked twice"
    );
    hub.shutdown().await;
}
