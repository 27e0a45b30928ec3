//! Resources, resource templates, prompts, completions, log level, subscriptions and ping,
//! through the engine against the real server-everything over stdio.

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::*;
use patchbay_engine::ServerState;
use patchbay_engine::catalog::{CompletionTarget, Listing};
use patchbay_engine::events::Event;
use patchbay_engine::server_controls::LogLevel;
use serde_json::Value;

fn strings<'a>(items: &'a [Value], key: &str) -> Vec<&'a str> {
    items.iter().filter_map(|i| i[key].as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_templates_and_reading_text_and_binary() {
    let dir = tempfile::tempdir().unwrap();
    let hub = connected_everything(&dir).await;

    let page = hub.list("ev", Listing::Resources, None).await.unwrap();
    let uris = strings(&page.items, "uri");
    assert!(uris.len() >= 5, "{uris:?}");
    assert!(
        uris.contains(&"demo://resource/static/document/architecture.md"),
        "{uris:?}"
    );
    assert!(page.items.iter().all(|r| r["name"].is_string()));

    let templates = hub
        .list("ev", Listing::ResourceTemplates, None)
        .await
        .unwrap();
    let patterns = strings(&templates.items, "uriTemplate");
    assert!(
        patterns.contains(&"demo://resource/dynamic/blob/{resourceId}"),
        "{patterns:?}"
    );

    let text = hub
        .read_resource("ev", "demo://resource/static/document/architecture.md")
        .await
        .unwrap();
    let first = &text["contents"][0];
    assert_eq!(first["mimeType"], "text/markdown");
    assert!(first["text"].as_str().unwrap().contains("Architecture"));

    let blob = hub
        .read_resource("ev", "demo://resource/dynamic/blob/3")
        .await
        .unwrap();
    let encoded = blob["contents"][0]["blob"]
        .as_str()
        .expect("a binary resource");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    assert!(!bytes.is_empty());

    let err = hub
        .read_resource("ev", "demo://nothing/here")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("reading the resource"), "{err}");
    assert_eq!(
        hub.state("ev"),
        Some(ServerState::Connected),
        "a refused read is not a lost connection"
    );
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompts_with_arguments_and_completions() {
    let dir = tempfile::tempdir().unwrap();
    let hub = connected_everything(&dir).await;

    let prompts = hub.list("ev", Listing::Prompts, None).await.unwrap();
    let names = strings(&prompts.items, "name");
    assert!(
        names.contains(&"args-prompt") && names.contains(&"completable-prompt"),
        "{names:?}"
    );
    let args = prompts
        .items
        .iter()
        .find(|p| p["name"] == "args-prompt")
        .unwrap();
    assert_eq!(args["arguments"][0]["name"], "city");
    assert_eq!(args["arguments"][0]["required"], true);

    let mut arguments = serde_json::Map::new();
    arguments.insert("city".into(), "Paris".into());
    let got = hub
        .get_prompt("ev", "args-prompt", arguments)
        .await
        .unwrap();
    let message = &got["messages"][0];
    assert_eq!(message["role"], "user");
    assert!(
        message["content"]["text"]
            .as_str()
            .unwrap()
            .contains("Paris"),
        "{got}"
    );

    let values = hub
        .complete(
            "ev",
            CompletionTarget::Prompt("completable-prompt".into()),
            "department",
            "S",
        )
        .await
        .unwrap();
    assert_eq!(values, vec!["Sales", "Support"]);
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_bring_resource_updates_and_log_level_and_ping_work() {
    let dir = tempfile::tempdir().unwrap();
    let hub = connected_everything(&dir).await;
    let mut events = hub.subscribe();
    let uri = "demo://resource/static/document/features.md";
    hub.subscribe_resource("ev", uri, true).await.unwrap();
    // server-everything sends updates for subscribed resources every 5 s once asked to.
    let report = hub
        .call_tool(patchbay_engine::CallRequest {
            server: "ev".into(),
            tool: "toggle-subscriber-updates".into(),
            arguments: None,
            timeout: None,
            task: false,
        })
        .await
        .unwrap();
    assert_eq!(
        report.outcome,
        patchbay_engine::CallOutcome::Ok,
        "{report:?}"
    );
    expect_event(
        &mut events,
        Duration::from_secs(15),
        |e| matches!(e, Event::ResourceUpdated { server, uri: u } if server == "ev" && u == uri),
    )
    .await;
    hub.subscribe_resource("ev", uri, false).await.unwrap();

    hub.set_log_level("ev", LogLevel::Debug).await.unwrap();
    let err = "loud".parse::<LogLevel>().unwrap_err();
    assert!(
        err.to_string().contains("\"loud\" is not a log level"),
        "{err}"
    );

    let rtt = hub.ping("ev").await.unwrap();
    assert!(
        rtt > Duration::ZERO && rtt < Duration::from_secs(5),
        "{rtt:?}"
    );
    hub.shutdown().await;
}

/// A server's question during a call: whoever shows the form answers once, the call goes on
/// with that answer, and the question is closed with its outcome. A question nobody can answer
/// any more (the connection went) is closed as cancelled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_servers_question_is_answered_once_and_the_call_goes_on() {
    use patchbay_engine::elicitation::Answer;
    let dir = tempfile::tempdir().unwrap();
    let hub = connected_everything(&dir).await;
    let ask = || patchbay_engine::CallRequest {
        server: "ev".into(),
        tool: "trigger-elicitation-request".into(),
        arguments: None,
        timeout: Some(Duration::from_secs(30)),
        task: false,
    };

    for (answer, expect) in [
        (
            Answer::Accept(
                serde_json::json!({"integer": 7, "number": 2.5})
                    .as_object()
                    .cloned()
                    .unwrap(),
            ),
            "Favorite Integer: 7",
        ),
        (Answer::Decline, "declined"),
    ] {
        let mut events = hub.subscribe();
        let started = hub.start_call(ask()).unwrap();
        let (id, request) = match expect_event(&mut events, Duration::from_secs(15), |e| {
            matches!(e, Event::ElicitationRequested { .. })
        })
        .await
        {
            Event::ElicitationRequested { id, request, .. } => (id, request),
            _ => unreachable!(),
        };
        assert_eq!(request["mode"], "form");
        assert!(
            request["requestedSchema"]["properties"].is_object(),
            "{request}"
        );
        let action = match &answer {
            Answer::Accept(_) => "accept",
            _ => "decline",
        };
        assert!(hub.answer_elicitation("ev", &id, answer.clone()).unwrap());
        assert!(
            !hub.answer_elicitation("ev", &id, answer).unwrap(),
            "answered once"
        );
        let report = started.finish().await;
        let text = common::text_of(report.result.as_ref().unwrap());
        assert!(text.contains(expect), "{text}");
        expect_event(&mut events, Duration::from_secs(5), |e| {
            matches!(e, Event::ElicitationFinished { id: i, action: a, .. } if *i == id && a == action)
        })
        .await;
    }

    // The connection goes while the question is open: nobody can use an answer any more, so
    // the question closes as cancelled (the dialog goes away) and a late answer finds nothing.
    let mut events = hub.subscribe();
    let started = hub.start_call(ask()).unwrap();
    let id = match expect_event(&mut events, Duration::from_secs(15), |e| {
        matches!(e, Event::ElicitationRequested { .. })
    })
    .await
    {
        Event::ElicitationRequested { id, .. } => id,
        _ => unreachable!(),
    };
    hub.disconnect("ev").await.unwrap();
    expect_event(&mut events, Duration::from_secs(10), |e| {
        matches!(e, Event::ElicitationFinished { id: i, action, .. } if *i == id && action == "cancel")
    })
    .await;
    assert_ne!(
        started.finish().await.outcome,
        patchbay_engine::CallOutcome::Ok
    );
    assert!(!hub.answer_elicitation("ev", &id, Answer::Decline).unwrap());
    hub.shutdown().await;
}

/// A server asks for a model's reply (sampling): the person's approved reply goes back as the
/// assistant message; a rejection goes back as an error the server reports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampling_is_answered_by_the_person() {
    use patchbay_engine::sampling::SamplingAnswer;
    let dir = tempfile::tempdir().unwrap();
    let hub = connected_everything(&dir).await;
    let ask = || patchbay_engine::CallRequest {
        server: "ev".into(),
        tool: "trigger-sampling-request".into(),
        arguments: serde_json::json!({"prompt": "say hi"}).as_object().cloned(),
        timeout: Some(Duration::from_secs(30)),
        task: false,
    };
    for (answer, expect) in [
        (
            SamplingAnswer::Approve {
                text: "hi from a person".into(),
                model: "patchbay-human".into(),
            },
            "hi from a person",
        ),
        (SamplingAnswer::Reject, "declined to answer"),
    ] {
        let mut events = hub.subscribe();
        let started = hub.start_call(ask()).unwrap();
        let (id, request) = match expect_event(&mut events, Duration::from_secs(15), |e| {
            matches!(e, Event::SamplingRequested { .. })
        })
        .await
        {
            Event::SamplingRequested { id, request, .. } => (id, request),
            _ => unreachable!(),
        };
        assert!(
            request["messages"][0]["content"]["text"]
                .as_str()
                .unwrap()
                .contains("say hi"),
            "{request}"
        );
        assert_eq!(request["systemPrompt"], "You are a helpful test server.");
        assert!(hub.answer_sampling("ev", &id, answer).unwrap());
        let report = started.finish().await;
        let text = report
            .result
            .as_ref()
            .map(common::text_of)
            .unwrap_or_default()
            + report.error.as_deref().unwrap_or_default();
        assert!(text.contains(expect), "{report:?}");
    }
    hub.shutdown().await;
}

/// The journal keeps what the server sent besides answers (not progress), with log levels,
/// and tells subscribers as each arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_are_kept_in_a_journal_with_their_levels() {
    let dir = tempfile::tempdir().unwrap();
    let hub = connected_everything(&dir).await;
    let mut events = hub.subscribe();
    let report = hub
        .call_tool(patchbay_engine::CallRequest {
            server: "ev".into(),
            tool: "toggle-simulated-logging".into(),
            arguments: None,
            timeout: None,
            task: false,
        })
        .await
        .unwrap();
    assert_eq!(report.error, None);
    let logged = expect_event(
        &mut events,
        Duration::from_secs(15),
        |e| matches!(e, Event::Notice { notice, .. } if notice.method == "notifications/message"),
    )
    .await;
    let Event::Notice { server, notice } = logged else {
        unreachable!()
    };
    assert_eq!(server, "ev");
    let level = notice.level.clone().expect("a log message has a level");
    assert!(
        notice.params["data"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains(&level),
        "{notice:?}"
    );
    let journal = hub.notifications("ev").unwrap();
    assert!(journal.contains(&notice));
    assert!(
        journal
            .iter()
            .any(|n| n.method == "notifications/tools/list_changed"),
        "{journal:?}"
    );
    assert!(journal.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(journal.iter().all(|n| n.method != "notifications/progress"));
    hub.shutdown().await;
}
