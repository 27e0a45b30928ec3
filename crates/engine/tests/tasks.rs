//! Tool calls run as tasks (SEP-1686) against the real server-everything's
//! `simulate-research-query`: status followed to the end, a question asked on the way
//! (input_required), and cancel.

mod common;

use std::time::Duration;

use common::*;
use patchbay_engine::elicitation::Answer;
use patchbay_engine::events::Event;
use patchbay_engine::{CallOutcome, CallRequest};
use serde_json::json;
use tokio::sync::broadcast;

fn research(topic: &str, ambiguous: bool) -> CallRequest {
    CallRequest {
        server: "ev".into(),
        tool: "simulate-research-query".into(),
        arguments: json!({ "topic": topic, "ambiguous": ambiguous })
            .as_object()
            .cloned(),
        timeout: None,
        task: true,
    }
}

/// The task's statuses as published for `call_id`, until the call finished.
async fn statuses(
    rx: &mut broadcast::Receiver<Event>,
    call_id: &str,
) -> Vec<(String, Option<String>)> {
    let mut seen = Vec::new();
    loop {
        let event = expect_event(rx, Duration::from_secs(30), |e| {
            matches!(e, Event::TaskStatus { call_id: c, .. } | Event::CallFinished { call_id: c, .. } if c == call_id)
        })
        .await;
        match event {
            Event::TaskStatus {
                status, message, ..
            } => seen.push((status, message)),
            _ => return seen,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_is_followed_stage_by_stage_to_its_result() {
    let dir = tempfile::tempdir().unwrap();
    let hub = connected_everything(&dir).await;
    let mut events = hub.subscribe();
    let started = hub.start_call(research("python", false)).unwrap();
    let call_id = started.call_id.clone();
    let seen = statuses(&mut events, &call_id).await;
    let report = started.finish().await;
    assert_eq!(report.outcome, CallOutcome::Ok, "{:?}", report.error);
    assert!(
        text_of(report.result.as_ref().unwrap()).contains("# Research Report: python"),
        "{:?}",
        report.result
    );
    // Each stage is told once, in order.
    let messages: Vec<&str> = seen.iter().filter_map(|(_, m)| m.as_deref()).collect();
    let stages = [
        "Gathering sources...",
        "Analyzing content...",
        "Synthesizing findings...",
        "Generating report...",
    ];
    let mut at = 0;
    for m in &messages {
        if at < stages.len() && *m == stages[at] {
            at += 1;
        }
    }
    assert_eq!(at, stages.len(), "{seen:?}");
    assert_eq!(seen[0].0, "working");
    assert!(
        seen.windows(2).all(|w| w[0] != w[1]),
        "no status twice in a row: {seen:?}"
    );
    // And the whole result is in the history.
    let past = hub.history("ev", 1).await.unwrap();
    assert_eq!(past[0].call_id, call_id);
    assert_eq!(past[0].result, report.result);
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_that_needs_an_answer_asks_and_goes_on_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let hub = connected_everything(&dir).await;
    let mut events = hub.subscribe();
    let started = hub.start_call(research("python", true)).unwrap();
    let call_id = started.call_id.clone();

    // Everything the call says, answering the question when it comes.
    let mut seen = Vec::new();
    loop {
        let event = expect_event(&mut events, Duration::from_secs(30), |e| {
            matches!(e, Event::ElicitationRequested { .. })
                || matches!(e, Event::TaskStatus { call_id: c, .. } | Event::CallFinished { call_id: c, .. } if *c == call_id)
        })
        .await;
        match event {
            Event::ElicitationRequested { id, request, .. } => {
                // The titled choices arrive as the server wrote them.
                let choices = &request["requestedSchema"]["properties"]["interpretation"]["oneOf"];
                assert!(
                    choices
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|c| c["const"] == "snake" && c["title"] == "Python snake species"),
                    "{request}"
                );
                seen.push("asked".to_string());
                let mut content = serde_json::Map::new();
                content.insert("interpretation".into(), json!("snake"));
                assert!(
                    hub.answer_elicitation("ev", &id, Answer::Accept(content))
                        .unwrap()
                );
            }
            Event::TaskStatus {
                status, message, ..
            } => seen.push(format!("{status}: {}", message.unwrap_or_default())),
            _ => break,
        }
    }
    let at = |prefix: &str| seen.iter().position(|s| s.starts_with(prefix));
    let waiting = at("input_required").unwrap_or_else(|| panic!("{seen:?}"));
    let resumed =
        at("working: Continuing with interpretation").unwrap_or_else(|| panic!("{seen:?}"));
    assert!(
        waiting < resumed && at("asked").unwrap() < resumed,
        "{seen:?}"
    );
    assert!(seen.last().unwrap().starts_with("completed"), "{seen:?}");
    let report = started.finish().await;
    assert_eq!(report.outcome, CallOutcome::Ok, "{:?}", report.error);
    let text = text_of(report.result.as_ref().unwrap());
    assert!(text.contains("**Clarification**: snake"), "{text}");
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_task_is_cancelled_at_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let hub = connected_everything(&dir).await;
    let mut events = hub.subscribe();
    let started = hub.start_call(research("rust", false)).unwrap();
    let call_id = started.call_id.clone();
    let task_id = match expect_event(
        &mut events,
        Duration::from_secs(30),
        |e| matches!(e, Event::TaskStatus { call_id: c, .. } if *c == call_id),
    )
    .await
    {
        Event::TaskStatus { task_id, .. } => task_id,
        _ => unreachable!(),
    };
    assert!(hub.cancel_call(&call_id));
    let report = started.finish().await;
    assert_eq!(report.outcome, CallOutcome::Cancelled);
    assert!(report.result.is_none());

    // The server itself says the task is cancelled.
    let peer = hub.snapshot("ev").unwrap().peer.unwrap();
    let got = peer
        .send_request(rmcp::model::ClientRequest::CustomRequest(
            rmcp::model::CustomRequest::new("tasks/get", Some(json!({ "taskId": task_id }))),
        ))
        .await
        .unwrap();
    assert_eq!(serde_json::to_value(got).unwrap()["status"], "cancelled");
    hub.shutdown().await;
}
