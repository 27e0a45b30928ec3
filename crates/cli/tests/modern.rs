//! The CLI against a server of the current revision (2026-07-28): the small server on the
//! TypeScript SDK v2 (tests/peers/v2-server.mjs) over stdio. `connect` says which revision it
//! speaks, a question that comes as an `input_required` result follows the `--elicit` policy,
//! progress is printed as it streams, and `watch` prints what arrives on the listen stream.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

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
    // Another process, nothing connected: what it spoke last time, said to be from last time.
    let out = cli(dir.path(), &["--json", "servers", "list"]);
    let listed = lines(&out).pop().unwrap();
    assert_eq!(listed["era"], "stateless");
    assert_eq!(listed["protocol_version"], "2026-07-28");
    assert_eq!(listed["remembered"], true);
    let out = cli(dir.path(), &["servers", "list"]);
    assert!(
        text(&out).contains("MCP 2026-07-28 (stateless, server/discover; last time)"),
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

/// A call the server runs as a task (the Tasks extension): its statuses are printed as they
/// change, and the question it asks on the way follows the `--elicit` policy.
#[test]
fn a_task_the_server_chose_prints_its_status_and_asks_through_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    add_v2(dir.path());
    let args = r#"{"steps": 2, "delay_ms": 100, "ask": true}"#;
    let out = cli(
        dir.path(),
        &[
            "call",
            "v2",
            "task_count",
            "--args",
            args,
            "--elicit",
            "defaults",
        ],
    );
    let printed = text(&out);
    assert_eq!(out.status.code(), Some(0), "{printed}");
    assert!(printed.contains(": working"), "{printed}");
    assert!(printed.contains(": input_required"), "{printed}");
    assert!(printed.contains("Who is counting?"), "{printed}");
    // The form has no default for `who`: accepted with nothing in it.
    assert!(printed.contains("counted to 2 for"), "{printed}");
}

/// `watch` keeps the listen stream open and prints what comes on it: here a tool list change
/// caused by another client of the same stateless HTTP server.
#[test]
fn watch_prints_what_arrives_on_the_listen_stream() {
    let mut server = Command::new(node())
        .arg(peers_dir().join("v2-server.mjs"))
        .args(["http", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = serde_json::from_str::<serde_json::Value>(&line).unwrap()["url"]
        .as_str()
        .unwrap()
        .to_string();
    let (watching, calling) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for dir in [&watching, &calling] {
        let out = cli(dir.path(), &["servers", "add", "v2", "--url", &url]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut watch = cli_command(watching.path())
        .args(["--json", "watch", "v2", "--seconds", "20"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut printed = BufReader::new(watch.stdout.take().unwrap()).lines();
    // Once the server acknowledged the stream, a change made elsewhere reaches it.
    let acknowledged = printed
        .by_ref()
        .map(|l| serde_json::from_str::<serde_json::Value>(&l.unwrap()).unwrap())
        .any(|l| l["method"] == "notifications/subscriptions/acknowledged");
    assert!(
        acknowledged,
        "watch ended before the listen stream was acknowledged"
    );
    let args = r#"{"name": "watched"}"#;
    let out = cli(calling.path(), &["call", "v2", "add_tool", "--args", args]);
    assert!(text(&out).contains("added watched"), "{}", text(&out));
    let changed = printed
        .map(|l| serde_json::from_str::<serde_json::Value>(&l.unwrap()).unwrap())
        .any(|l| l["event"] == "notification" && l["method"] == "notifications/tools/list_changed");
    let _ = watch.kill();
    let _ = server.kill();
    let _ = (watch.wait(), server.wait());
    assert!(changed, "watch did not print the tool list change");
}
