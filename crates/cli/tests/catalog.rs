//! The CLI's resource, prompt, completion, log-level and ping commands against server-everything.

mod common;

use common::{add_everything, cli, lines};

fn ok(out: &std::process::Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn resources_prompts_completions_and_ping_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    add_everything(dir.path(), "ev", "pbcli-catalog");
    let d = dir.path();

    let out = cli(d, &["--json", "resources", "ev"]);
    ok(&out);
    let resources = lines(&out);
    assert!(resources.len() >= 5);
    assert!(
        resources
            .iter()
            .all(|r| r["event"] == "resource" && r["uri"].is_string())
    );

    let out = cli(d, &["resources", "ev", "--templates"]);
    ok(&out);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("demo://resource/dynamic/blob/{resourceId}")
    );

    // Text prints; binary is saved whole with --out, decoded.
    let out = cli(
        d,
        &[
            "read",
            "ev",
            "demo://resource/static/document/architecture.md",
        ],
    );
    ok(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Architecture"));
    let out = cli(d, &["read", "ev", "demo://resource/dynamic/blob/2"]);
    ok(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("save it with --out FILE"));
    let file = d.join("blob.bin");
    let out = cli(
        d,
        &[
            "--json",
            "read",
            "ev",
            "demo://resource/dynamic/blob/2",
            "--out",
            file.to_str().unwrap(),
        ],
    );
    ok(&out);
    let saved = lines(&out).pop().unwrap();
    assert_eq!(saved["event"], "saved");
    assert_eq!(
        saved["bytes"].as_u64().unwrap(),
        std::fs::metadata(&file).unwrap().len()
    );
    assert!(saved["bytes"].as_u64().unwrap() > 0);

    let out = cli(d, &["prompts", "ev"]);
    ok(&out);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        text.contains("args-prompt") && text.contains("arg city (required)"),
        "{text}"
    );
    let out = cli(
        d,
        &[
            "prompt",
            "ev",
            "args-prompt",
            "--args",
            r#"{"city": "Lyon"}"#,
        ],
    );
    ok(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("[user]"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Lyon"));
    let out = cli(d, &["prompt", "ev", "args-prompt", "--args", "[1]"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("must be a JSON object"));

    let out = cli(
        d,
        &[
            "--json",
            "complete",
            "ev",
            "--prompt",
            "completable-prompt",
            "department",
            "Eng",
        ],
    );
    ok(&out);
    assert_eq!(
        lines(&out).pop().unwrap()["values"],
        serde_json::json!(["Engineering"])
    );

    let out = cli(d, &["log-level", "ev", "warning"]);
    ok(&out);
    let out = cli(d, &["--json", "ping", "ev", "--count", "3"]);
    ok(&out);
    let pongs = lines(&out);
    assert_eq!(pongs.len(), 3);
    assert!(pongs.iter().all(|p| p["rtt_ms"].as_f64().unwrap() > 0.0));
}

#[test]
fn call_answers_the_servers_questions_by_its_policy() {
    let dir = tempfile::tempdir().unwrap();
    add_everything(dir.path(), "ev", "pbcli-asks");
    let d = dir.path();
    let text = |out: &std::process::Output| String::from_utf8_lossy(&out.stdout).to_string();

    let out = cli(
        d,
        &[
            "call",
            "ev",
            "trigger-elicitation-request",
            "--elicit",
            "defaults",
        ],
    );
    ok(&out);
    assert!(
        text(&out).contains("answered with the form's defaults"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("User provided the requested information"));
    let out = cli(d, &["call", "ev", "trigger-elicitation-request"]);
    ok(&out);
    assert!(text(&out).contains("User declined"), "{}", text(&out));

    let args = r#"{"prompt": "say hi"}"#;
    let out = cli(
        d,
        &[
            "call",
            "ev",
            "trigger-sampling-request",
            "--args",
            args,
            "--sample-reply",
            "hey from the cli",
        ],
    );
    ok(&out);
    assert!(text(&out).contains("hey from the cli"), "{}", text(&out));
    let out = cli(
        d,
        &["call", "ev", "trigger-sampling-request", "--args", args],
    );
    assert!(
        text(&out).contains("rejected (--sample-reply TEXT answers it)"),
        "{}",
        text(&out)
    );
    assert!(
        format!("{}{}", text(&out), String::from_utf8_lossy(&out.stderr))
            .contains("declined to answer"),
        "{}",
        text(&out)
    );
}

#[test]
fn roots_are_listed_added_and_removed_and_the_server_gets_them() {
    let dir = tempfile::tempdir().unwrap();
    add_everything(dir.path(), "ev", "pbcli-roots");
    let d = dir.path();
    let alpha = d.join("alpha");
    std::fs::create_dir(&alpha).unwrap();
    let alpha = alpha.to_str().unwrap();

    let out = cli(d, &["roots", "ev"]);
    ok(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("has no roots"));

    let out = cli(d, &["--json", "roots", "ev", "--add", alpha]);
    ok(&out);
    let listed = lines(&out);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["root"]["name"], "alpha");
    let uri = listed[0]["root"]["uri"].as_str().unwrap().to_string();
    assert_eq!(uri, format!("file://{alpha}/"));

    // A bad folder is refused by name, with exit 2, and changes nothing.
    let out = cli(d, &["roots", "ev", "--add", "relative/dir"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an absolute path"));
    let out = cli(d, &["roots", "ev", "--remove", "/not/a/root"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no root"));

    // The server is sent them when it asks.
    let out = cli(d, &["call", "ev", "get-roots-list"]);
    ok(&out);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains("(1 total)") && text.contains(&uri), "{text}");

    let out = cli(d, &["roots", "ev", "--remove", alpha]);
    ok(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("has no roots"));
}

#[test]
fn a_call_runs_as_a_task_and_a_link_question_follows_the_elicit_policy() {
    let dir = tempfile::tempdir().unwrap();
    add_everything(dir.path(), "ev", "pbcli-tasks");
    let d = dir.path();

    let out = cli(
        d,
        &[
            "--json",
            "call",
            "ev",
            "simulate-research-query",
            "--task",
            "--args",
            r#"{"topic": "rust"}"#,
        ],
    );
    ok(&out);
    let printed = lines(&out);
    let statuses: Vec<&str> = printed
        .iter()
        .filter(|l| l["event"] == "task_status")
        .filter_map(|l| l["status"].as_str())
        .collect();
    assert_eq!(statuses.first(), Some(&"working"), "{printed:?}");
    assert_eq!(statuses.last(), Some(&"completed"), "{printed:?}");
    let result = printed.last().unwrap();
    assert_eq!(result["event"], "result");
    assert_eq!(result["outcome"], "ok");
    assert!(
        result["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("# Research Report: rust")
    );

    // A link the server asks to open: declined by default, accepted with `defaults`.
    let args = r#"{"url": "https://auth.example.com/consent"}"#;
    let out = cli(
        d,
        &["call", "ev", "trigger-url-elicitation", "--args", args],
    );
    ok(&out);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        text.contains("asks you to open https://auth.example.com/consent")
            && text.contains("User declined"),
        "{text}"
    );
    let out = cli(
        d,
        &[
            "call",
            "ev",
            "trigger-url-elicitation",
            "--args",
            args,
            "--elicit",
            "defaults",
        ],
    );
    ok(&out);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("User completed the URL elicitation flow")
    );
}

#[test]
fn watch_prints_the_notifications_the_server_sends() {
    let dir = tempfile::tempdir().unwrap();
    add_everything(dir.path(), "ev", "pbcli-watch");
    let out = cli(dir.path(), &["--json", "watch", "ev", "--seconds", "1"]);
    ok(&out);
    let printed = lines(&out);
    // server-everything announces its tools changing as it sets itself up for this client.
    assert!(
        printed.iter().any(|l| l["event"] == "notification"
            && l["method"] == "notifications/tools/list_changed"
            && l["seq"].as_u64().is_some()),
        "{printed:?}"
    );
}
