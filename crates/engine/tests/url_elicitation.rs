//! URL-mode elicitation against the real server-everything's `trigger-url-elicitation`: the
//! request path (a question whose "accept" means opening a checked link), a link that fails
//! the URL check (declined without asking anyone), and the error path (-32042), whose links are
//! shown as questions and whose call works when run again.

mod common;

use std::time::Duration;

use common::*;
use patchbay_engine::elicitation::Answer;
use patchbay_engine::events::Event;
use patchbay_engine::{CallOutcome, CallRequest};
use serde_json::json;

fn open_link(args: serde_json::Value) -> CallRequest {
    CallRequest {
        server: "ev".into(),
        tool: "trigger-url-elicitation".into(),
        arguments: args.as_object().cloned(),
        timeout: None,
        task: false,
    }
}

/// The next URL-mode question: its id and request.
async fn next_link_question(
    events: &mut tokio::sync::broadcast::Receiver<Event>,
) -> (String, serde_json::Value) {
    match expect_event(
        events,
        Duration::from_secs(20),
        |e| matches!(e, Event::ElicitationRequested { request, .. } if request["mode"] == "url"),
    )
    .await
    {
        Event::ElicitationRequested { id, request, .. } => (id, request),
        _ => unreachable!(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepting_a_link_question_answers_accept_with_no_content() {
    let dir = tempfile::tempdir().unwrap();
    let hub = connected_everything(&dir).await;
    let mut events = hub.subscribe();
    let started = hub
        .start_call(open_link(json!({
            "url": "https://auth.example.com/consent?step=1",
            "message": "Approve the payment",
            "elicitationId": "pay-1",
        })))
        .unwrap();
    let (id, request) = next_link_question(&mut events).await;
    assert_eq!(request["message"], "Approve the payment");
    assert_eq!(request["elicitationId"], "pay-1");
    assert_eq!(
        hub.elicitation_link("ev", &id).unwrap().as_deref(),
        Some("https://auth.example.com/consent?step=1")
    );
    assert!(
        hub.answer_elicitation("ev", &id, Answer::Accept(Default::default()))
            .unwrap()
    );
    let report = started.finish().await;
    assert_eq!(report.outcome, CallOutcome::Ok, "{:?}", report.error);
    let text = text_of(report.result.as_ref().unwrap());
    assert!(
        text.contains("User completed the URL elicitation flow"),
        "{text}"
    );
    // MCP: accepting a URL-mode question carries no content.
    assert!(
        text.contains(r#""action": "accept""#) && !text.contains("content"),
        "{text}"
    );
    assert_eq!(
        hub.elicitation_link("ev", &id).unwrap(),
        None,
        "answered: gone"
    );
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_that_fails_the_url_check_is_declined_without_asking() {
    let dir = tempfile::tempdir().unwrap();
    let hub = connected_everything(&dir).await;
    let mut events = hub.subscribe();
    // Plain http to another machine: never opened (the same rule as an authorization URL).
    let report = hub
        .call_tool(open_link(json!({ "url": "http://evil.example.com/phish" })))
        .await
        .unwrap();
    assert_eq!(report.outcome, CallOutcome::Ok, "{:?}", report.error);
    let text = text_of(report.result.as_ref().unwrap());
    assert!(text.contains("User declined to open the URL"), "{text}");
    while let Ok(e) = events.try_recv() {
        assert!(
            !matches!(e, Event::ElicitationRequested { .. }),
            "nobody was asked: {e:?}"
        );
    }
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_error_path_shows_its_link_and_the_call_works_when_run_again() {
    let dir = tempfile::tempdir().unwrap();
    let hub = connected_everything(&dir).await;
    let mut events = hub.subscribe();
    let args = json!({ "url": "https://auth.example.com/grant", "errorPath": true });

    let report = hub.call_tool(open_link(args.clone())).await.unwrap();
    assert_eq!(report.outcome, CallOutcome::Failed);
    let error = report.error.unwrap();
    assert!(
        error.contains("needs you to open a link first (https://modelcontextprotocol.io/)")
            && error.contains("run the call again"),
        "{error}"
    );
    // The link is a question like any other; accepting it closes it.
    let (id, request) = next_link_question(&mut events).await;
    assert_eq!(request["url"], "https://modelcontextprotocol.io");
    assert_eq!(
        hub.elicitation_link("ev", &id).unwrap().as_deref(),
        Some("https://modelcontextprotocol.io/")
    );
    assert!(
        hub.answer_elicitation("ev", &id, Answer::Accept(Default::default()))
            .unwrap()
    );
    expect_event(&mut events, Duration::from_secs(5), |e| {
        matches!(e, Event::ElicitationFinished { id: i, action, .. } if *i == id && action == "accept")
    })
    .await;

    // Run again: the server now asks on the request path; declining is reported by the tool.
    let started = hub.start_call(open_link(args)).unwrap();
    let (id, request) = next_link_question(&mut events).await;
    assert_eq!(request["url"], "https://auth.example.com/grant");
    assert!(hub.answer_elicitation("ev", &id, Answer::Decline).unwrap());
    let report = started.finish().await;
    assert_eq!(report.outcome, CallOutcome::Ok, "{:?}", report.error);
    assert!(text_of(report.result.as_ref().unwrap()).contains("User declined"));
    hub.shutdown().await;
}
