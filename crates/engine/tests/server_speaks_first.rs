//! A 2025-era server that speaks first, on the session's own event stream (the standalone GET
//! of Streamable HTTP), as servers on the official TypeScript SDK v1 do when a tool asks its
//! question with the server's own request (tests/peers/v1-server.mjs). That SDK drops such a
//! request while the stream is not open, so "connected" has to mean the stream is open.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use patchbay_engine::events::Event;
use patchbay_engine::{Answer, CallOutcome, ServerState};
use serde_json::json;

/// The server holds the stream's GET for 1.5 s (a slow network, a busy server); a call made the
/// moment the server shows connected still gets its question to the person and its answer back.
#[tokio::test]
async fn a_question_on_the_sessions_stream_reaches_a_call_made_at_once() {
    let server = UrlLineServer::start("v1-server.mjs", &["--get-delay-ms", "1500"], Stdio::null());
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(&dir).await;
    let mut events = hub.subscribe();
    hub.add_server(http_def("v1", &server.url)).await.unwrap();
    assert_eq!(
        hub.connect_and_wait("v1").await.unwrap(),
        ServerState::Connected
    );
    let mut call = req("v1", "ask_on_stream", json!({}));
    call.timeout = Some(Duration::from_secs(15));
    let running = hub.start_call(call).unwrap();
    let asked = expect_event(
        &mut events,
        Duration::from_secs(10),
        |e| matches!(e, Event::ElicitationRequested { server, .. } if server == "v1"),
    )
    .await;
    let Event::ElicitationRequested { id, request, .. } = asked else {
        unreachable!()
    };
    assert_eq!(request["message"], "What is your name?");
    let mut name = serde_json::Map::new();
    name.insert("name".into(), json!("Ada"));
    assert!(
        hub.answer_elicitation("v1", &id, Answer::Accept(name))
            .unwrap()
    );
    let report = running.finish().await;
    assert_eq!(report.outcome, CallOutcome::Ok, "{report:?}");
    assert_eq!(text_of(report.result.as_ref().unwrap()), "Hello, Ada!");
    hub.shutdown().await;
}
