//! The CLI against a server of the current revision (2026-07-28): the small server on the
//! TypeScript SDK v2 (tests/peers/v2-server.mjs) over stdio. `connect` says which revision it
//! speaks, a question that comes as an `input_required` result follows the `--elicit` policy,
//! and progress is printed as it streams.

mod common;

use common::*;

fn add_v2(dir: &std::path::Path) {
    let node = node();
    let server = peers_dir().join("v2-server.mjs");
    let out = cli(
        dir,
        &[
            "servers",
            "add",
            "v2",
            "--",
            node.to_str().unwrap(),
            server.to_str().unwrap(),
            "stdio",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn text(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn connect_says_which_revision_it_speaks() {
    let dir = tempfile::tempdir().unwrap();
    add_v2(dir.path());
    let out = cli(dir.path(), &["--json", "connect", "v2"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let spoke = lines(&out).pop().unwrap();
    assert_eq!(spoke["event"], "protocol");
    assert_eq!(spoke["era"], "stateless");
    assert_eq!(spoke["protocol_version"], "2026-07-28");
    let out = cli(dir.path(), &["connect", "v2"]);
    assert!(
        text(&out).contains("v2: speaks MCP 2026-07-28 (stateless, server/discover)"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_question_in_an_input_required_result_follows_the_elicit_policy() {
    let dir = tempfile::tempdir().unwrap();
    add_v2(dir.path());
    let d = dir.path();
    // Accepted with the form's defaults: the form has none for `name`, so the server, which got
    // the answer (and its state back) in the retry, says no name was given.
    let out = cli(d, &["call", "v2", "ask_name", "--elicit", "defaults"]);
    assert!(text(&out).contains("What is your name?"), "{}", text(&out));
    assert!(
        text(&out).contains("answered with the form's defaults"),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("No name given (accept)"),
        "{}",
        text(&out)
    );
    // By default a question is declined, and the server hears exactly that.
    let out = cli(d, &["call", "v2", "ask_name"]);
    assert!(
        text(&out).contains("No name given (decline)"),
        "{}",
        text(&out)
    );
}

#[test]
fn progress_streams_from_a_stateless_server() {
    let dir = tempfile::tempdir().unwrap();
    add_v2(dir.path());
    let args = r#"{"steps": 3, "delay_ms": 50}"#;
    let out = cli(
        dir.path(),
        &["--json", "call", "v2", "slow_count", "--args", args],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let progress: Vec<f64> = lines(&out)
        .iter()
        .filter(|l| l["event"] == "progress")
        .map(|l| l["progress"].as_f64().unwrap())
        .collect();
    assert_eq!(progress, vec![1.0, 2.0, 3.0]);
}
