//! A 10 MB tool result from the real server-everything: the caller gets it whole, a window gets
//! it shortened with what was cut, the history keeps it whole and saves it to a file whole;
//! resources save to a file decoded.

mod common;

use base64::Engine as _;
use common::*;
use patchbay_engine::calls::PastCall;
use patchbay_engine::preview::{self, TEXT_LIMIT};
use patchbay_engine::{CallOutcome, CallRequest};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ten_megabyte_result_is_shown_cut_and_saved_whole() {
    let dir = tempfile::tempdir().unwrap();
    let hub = connected_everything(&dir).await;

    // 10 MB that a cut in the wrong place would show. (The TypeScript SDK's stdio reader takes
    // at most 10 MiB in one message, so the request that carries it must stay below that.)
    let message: String = (0..10_000_000 / 8).map(|i| format!("{i:07x} ")).collect();
    assert_eq!(message.len(), 10_000_000);
    let report = hub
        .call_tool(CallRequest {
            server: "ev".into(),
            tool: "echo".into(),
            arguments: Some(
                serde_json::json!({ "message": message })
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
            timeout: None,
            task: false,
        })
        .await
        .unwrap();
    assert_eq!(report.outcome, CallOutcome::Ok, "{:?}", report.error);
    let whole = text_of(report.result.as_ref().unwrap());
    assert_eq!(whole, format!("Echo: {message}"));

    let shown = report.clone().for_window();
    let cut = shown.cut.expect("a 10 MB result is cut for a window");
    assert!(cut.total_bytes > 10_000_000, "{cut:?}");
    assert!(cut.shown_bytes < 300 * 1024, "{cut:?}");
    let shown_text = text_of(shown.result.as_ref().unwrap());
    assert_eq!(shown_text.len(), TEXT_LIMIT);
    assert!(whole.starts_with(&shown_text));

    // The history keeps it whole; a window's list of past calls carries neither the result
    // nor the 10 MB of arguments, and says the arguments cannot be sent again as they were.
    let past = hub.history("ev", 10).await.unwrap();
    assert_eq!(past[0].call_id, report.call_id);
    assert_eq!(text_of(past[0].result.as_ref().unwrap()), whole);
    let listed = PastCall::from(past[0].clone());
    assert!(listed.record.result.is_none());
    assert!(listed.arguments_cut);
    assert!(serde_json::to_vec(&listed).unwrap().len() < 300 * 1024);

    let file = dir.path().join("out/result.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let written = hub.save_call_result(&report.call_id, &file).await.unwrap();
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(written, std::fs::metadata(&file).unwrap().len());
    assert_eq!(&saved, report.result.as_ref().unwrap());
    // Nothing but the file itself is left behind in its folder.
    assert_eq!(
        std::fs::read_dir(file.parent().unwrap()).unwrap().count(),
        1
    );

    let err = hub
        .save_call_result("c-nonesuch", &dir.path().join("x.json"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("is not in the history"), "{err}");
    let err = hub
        .save_call_result(&report.call_id, &dir.path().join("no/such/folder/x.json"))
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("cannot save to "), "{err}");
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_saves_decoded_and_a_failed_call_has_nothing_to_save() {
    let dir = tempfile::tempdir().unwrap();
    let hub = connected_everything(&dir).await;
    let uri = "demo://resource/dynamic/blob/3";
    let read = hub.read_resource("ev", uri).await.unwrap();
    let blob = read["contents"][0]["blob"].as_str().unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(blob)
        .unwrap();
    let file = dir.path().join("blob.bin");
    let written = hub.save_resource("ev", uri, &file).await.unwrap();
    // Save reads the resource again, and this one is made when it is read ("created at" the
    // second of the read): the file holds a fresh copy, decoded, the same as the one read above
    // but for that time.
    let saved = String::from_utf8(std::fs::read(&file).unwrap()).expect("decoded text");
    let shown = String::from_utf8(decoded).unwrap();
    let made_at = |text: &str| {
        text.strip_prefix("Resource 3: This is a base64 blob created at ")
            .map(str::to_string)
    };
    assert!(made_at(&shown).is_some(), "{shown}");
    assert!(
        made_at(&saved).is_some(),
        "not the decoded resource: {saved}"
    );
    assert_eq!(written as usize, saved.len());
    // A resource small enough is shown whole.
    assert!(preview::preview(read).cut.is_none());

    let mut events = hub.subscribe();
    let started = hub
        .start_call(CallRequest {
            server: "ev".into(),
            tool: "trigger-long-running-operation".into(),
            arguments: serde_json::json!({"duration": 30, "steps": 30})
                .as_object()
                .cloned(),
            timeout: None,
            task: false,
        })
        .unwrap();
    let id = started.call_id.clone();
    expect_event(
        &mut events,
        std::time::Duration::from_secs(10),
        |e| matches!(e, patchbay_engine::Event::Progress { call_id, .. } if *call_id == id),
    )
    .await;
    assert!(hub.cancel_call(&id));
    let report = started.finish().await;
    assert_eq!(report.outcome, CallOutcome::Cancelled);
    assert!(report.result.is_none());
    let err = hub
        .save_call_result(&report.call_id, &dir.path().join("x.json"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("has no result to save"), "{err}");
    assert!(!dir.path().join("x.json").exists());
    hub.shutdown().await;
}
