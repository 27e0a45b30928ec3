//! The CLI contract, run as a real process against the real server-everything.

mod common;

use common::{add_everything, cli, lines, oauth_peer};
use serde_json::json;

fn processes_with(marker: &str) -> usize {
    let needle = format!("PATCHBAY_TEST_MARKER={marker}");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read(e.path().join("environ"))
                .map(|env| env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()))
                .unwrap_or(false)
        })
        .count()
}

#[test]
fn servers_connect_tools_call_history() {
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("cli-{}", std::process::id());
    add_everything(dir.path(), "every", &marker);

    // --json is global: accepted after the command too.
    let list = cli(dir.path(), &["servers", "list", "--json"]);
    let list = lines(&list);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["server"]["name"], "every");
    assert_eq!(list[0]["server"]["transport"]["type"], "stdio");

    let connect = cli(dir.path(), &["--json", "connect", "every"]);
    assert_eq!(connect.status.code(), Some(0));
    let connect = lines(&connect);
    let states: Vec<_> = connect
        .iter()
        .filter(|l| l["event"] == "state")
        .map(|l| l["state"].clone())
        .collect();
    assert_eq!(states, vec![json!("connecting"), json!("connected")]);
    // Then which revision it spoke: server-everything is of the 2025 era (initialize).
    let spoke = connect.last().unwrap();
    assert_eq!(spoke["event"], "protocol");
    assert_eq!(spoke["era"], "session");
    assert_eq!(spoke["protocol_version"], "2025-11-25");

    let tools = lines(&cli(dir.path(), &["--json", "tools", "every"]));
    let echo = tools
        .iter()
        .find(|t| t["name"] == "echo")
        .expect("echo tool");
    assert_eq!(echo["event"], "tool");
    assert_eq!(
        echo["inputSchema"]["properties"]["message"]["type"],
        "string"
    );

    let call = cli(
        dir.path(),
        &[
            "--json",
            "call",
            "every",
            "echo",
            "--args",
            r#"{"message":"hi"}"#,
        ],
    );
    assert_eq!(call.status.code(), Some(0));
    let result = lines(&call).pop().unwrap();
    assert_eq!(result["event"], "result");
    assert_eq!(result["outcome"], "ok");
    assert_eq!(result["result"]["content"][0]["text"], "Echo: hi");

    // Progress lines, in order, then the result.
    let long = cli(
        dir.path(),
        &[
            "--json",
            "call",
            "every",
            "trigger-long-running-operation",
            "--args",
            r#"{"duration":1,"steps":4}"#,
        ],
    );
    assert_eq!(long.status.code(), Some(0));
    let out = lines(&long);
    let progress: Vec<f64> = out
        .iter()
        .filter(|l| l["event"] == "progress")
        .map(|l| l["progress"].as_f64().unwrap())
        .collect();
    assert_eq!(progress, vec![1.0, 2.0, 3.0, 4.0]);
    assert_eq!(out.last().unwrap()["event"], "result");

    // A timeout is an unsuccessful call: exit 1.
    let slow = cli(
        dir.path(),
        &[
            "--json",
            "call",
            "every",
            "trigger-long-running-operation",
            "--args",
            r#"{"duration":10,"steps":1}"#,
            "--timeout",
            "0.5",
        ],
    );
    assert_eq!(slow.status.code(), Some(1));
    assert_eq!(lines(&slow).pop().unwrap()["outcome"], "timed_out");

    let history = lines(&cli(dir.path(), &["--json", "history", "every"]));
    let outcomes: Vec<_> = history
        .iter()
        .map(|h| h["outcome"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(outcomes, vec!["timed_out", "ok", "ok"]);
    assert_eq!(history[2]["arguments"], json!({"message": "hi"}));

    assert_eq!(
        processes_with(&marker),
        0,
        "a server process outlived the CLI"
    );
    let removed = cli(dir.path(), &["servers", "remove", "every"]);
    assert_eq!(removed.status.code(), Some(0));
    assert!(lines(&cli(dir.path(), &["--json", "servers", "list"])).is_empty());
}

#[test]
fn repeat_runs_concurrent_calls_and_summarises() {
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("cli-repeat-{}", std::process::id());
    add_everything(dir.path(), "every", &marker);
    let out = cli(
        dir.path(),
        &[
            "--json",
            "call",
            "every",
            "echo",
            "--args",
            r#"{"message":"x"}"#,
            "--repeat",
            "40",
            "--concurrency",
            "8",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = lines(&out);
    assert_eq!(
        out.iter()
            .filter(|l| l["event"] == "result" && l["outcome"] == "ok")
            .count(),
        40
    );
    let summary = out.last().unwrap();
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["count"], 40);
    assert_eq!(summary["errors"], 0);
    assert!(summary["p50_ms"].as_f64().unwrap() <= summary["p99_ms"].as_f64().unwrap());
    assert_eq!(processes_with(&marker), 0);
}

#[test]
fn exit_codes_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    // Unknown server: usage error.
    let out = cli(dir.path(), &["tools", "nobody"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no server named 'nobody'"));

    // Refused connection: exit 3 with the state error.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/mcp");
    assert_eq!(
        cli(dir.path(), &["servers", "add", "down", "--url", &url])
            .status
            .code(),
        Some(0)
    );
    let out = cli(dir.path(), &["--json", "connect", "down"]);
    assert_eq!(out.status.code(), Some(3));
    let last = lines(&out).pop().unwrap();
    assert_eq!(last["state"], "error");
    assert!(last["message"].as_str().unwrap().contains(&url));

    // Bad --args JSON: usage error.
    let out = cli(dir.path(), &["call", "down", "echo", "--args", "{nope"]);
    assert_eq!(out.status.code(), Some(2));

    // A malformed config file: exit 2, names file and line, stores nothing.
    let file = dir.path().join("mcp.json");
    std::fs::write(
        &file,
        "{\n  \"mcpServers\": {\n    \"x\": {\"command\": \"a\",}\n",
    )
    .unwrap();
    let out = cli(dir.path(), &["servers", "import", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("mcp.json:"), "{err}");
    let names: Vec<_> = lines(&cli(dir.path(), &["--json", "servers", "list"]))
        .iter()
        .map(|l| l["server"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, vec!["down"]);
}

#[test]
fn doctor_and_auth_status_say_where_secrets_live_and_who_is_logged_in() {
    let dir = tempfile::tempdir().unwrap();
    let out = cli(dir.path(), &["--json", "doctor"]);
    assert_eq!(out.status.code(), Some(0));
    let report = lines(&out).pop().unwrap();
    assert_eq!(report["event"], "doctor");
    assert_eq!(report["backend"], "key_file", "{report}");
    assert!(
        report["reason"]
            .as_str()
            .unwrap()
            .contains("PATCHBAY_KEYRING=off")
    );
    let key_file = dir.path().join("vault.key");
    assert_eq!(report["path"], key_file.to_str().unwrap());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    let text = String::from_utf8_lossy(&cli(dir.path(), &["doctor"]).stdout).to_string();
    assert!(text.contains("readable only by you"), "{text}");

    cli(
        dir.path(),
        &[
            "servers",
            "add",
            "remote",
            "--url",
            "http://127.0.0.1:9/mcp",
        ],
    );
    let out = cli(dir.path(), &["--json", "auth-status", "remote"]);
    assert_eq!(out.status.code(), Some(0));
    let status = lines(&out).pop().unwrap();
    assert_eq!(status["event"], "auth_status");
    assert_eq!(status["logged_in"], false);
    // doctor lists every configured server and its login, never a token.
    let report = lines(&cli(dir.path(), &["--json", "doctor"]))
        .pop()
        .unwrap();
    let peers = report["peers"].as_array().unwrap();
    assert_eq!(peers.len(), 1, "{report}");
    assert_eq!(peers[0]["name"], "remote");
    assert_eq!(peers[0]["transport"], "http");
    assert_eq!(peers[0]["target"], "http://127.0.0.1:9/mcp");
    assert_eq!(peers[0]["auth"]["logged_in"], false);
    let text = String::from_utf8_lossy(&cli(dir.path(), &["doctor"]).stdout).to_string();
    assert!(
        text.contains("remote [http] http://127.0.0.1:9/mcp, not logged in"),
        "{text}"
    );
    let out = cli(dir.path(), &["logout", "remote"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no saved login"));
    let out = cli(dir.path(), &["auth-status", "nobody"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn login_follow_then_status_then_logout() {
    let peer = oauth_peer();
    let resource = peer.1["resource"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    cli(dir.path(), &["servers", "add", "remote", "--url", resource]);

    let out = cli(
        dir.path(),
        &["--json", "login", "remote", "--browser", "follow"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = lines(&out);
    assert_eq!(printed[0]["event"], "login_url");
    assert!(
        printed[0]["url"]
            .as_str()
            .unwrap()
            .contains("code_challenge_method=S256")
    );
    let done = printed.last().unwrap();
    assert_eq!(done["event"], "logged_in");
    assert_eq!(done["issuer"], peer.1["issuer"]);

    // Another process (this is a new one) sees the login; no token is ever printed.
    let out = cli(dir.path(), &["auth-status", "remote"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("logged in at"), "{text}");
    assert!(text.contains("refreshes by itself"), "{text}");

    let out = cli(dir.path(), &["--json", "logout", "remote"]);
    let report = lines(&out).pop().unwrap();
    assert_eq!(
        (report["removed"].as_bool(), report["revoked"].as_bool()),
        (Some(true), Some(true))
    );
    let out = cli(dir.path(), &["--json", "auth-status", "remote"]);
    assert_eq!(lines(&out).pop().unwrap()["logged_in"], false);

    // A login that cannot finish: exit 3 with the reason.
    let out = cli(
        dir.path(),
        &["login", "remote", "--browser", "print", "--timeout", "1"],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).contains("open this link"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no answer from the browser"));
}
