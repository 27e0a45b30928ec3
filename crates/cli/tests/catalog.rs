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
