//! Trust, through the CLI as a person (or a script) uses it: private files whatever the umask,
//! secrets never printed unless asked, an imported server shown in full before it runs, a
//! server's output unable to drive the terminal, the truth about a refused login in every
//! process, and a quiet stderr.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use serde_json::Value;

use common::{add_everything, cli, cli_command, everything, lines, node, oauth_peer_with};

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn ok(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// `patchbay-cli ARGS` under `umask 022`, the common default that makes files world-readable.
fn cli_with_umask(dir: &Path, args: &[&str]) -> Output {
    let mut command = std::process::Command::new("sh");
    command
        .arg("-c")
        .arg("umask 022; exec \"$@\"")
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_patchbay-cli"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env("PATCHBAY_KEYRING", "off");
    command.output().unwrap()
}

#[test]
fn the_data_dir_is_private_whatever_the_umask() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("fresh");
    let out = cli_with_umask(
        &dir,
        &["servers", "add", "s", "--env", "TOKEN=t", "--", "true"],
    );
    ok(&out);
    assert_eq!(mode(&dir), 0o700, "data dir");
    for file in [
        "patchbay.db",
        "patchbay.db-wal",
        "patchbay.db-shm",
        "vault.key",
    ] {
        let path = dir.join(file);
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "{file}");
        } else {
            assert_ne!(file, "patchbay.db", "the database was not made");
        }
    }

    // A data dir an older version left readable by others is tightened on open.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        dir.join("patchbay.db"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    ok(&cli_with_umask(&dir, &["servers", "list"]));
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("patchbay.db")), 0o600);
}

#[test]
fn header_and_env_values_are_never_printed_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let token = "Bearer sk-live-SECRET123";
    let added = cli(
        dir.path(),
        &[
            "servers",
            "add",
            "api",
            "--url",
            "https://api.example.com/mcp",
            "--header",
            &format!("Authorization: {token}"),
        ],
    );
    ok(&added);
    let added_json = cli(
        dir.path(),
        &[
            "--json",
            "servers",
            "add",
            "gh",
            "--env",
            "GITHUB_PERSONAL_ACCESS_TOKEN=ghp_SECRET456",
            "--",
            "npx",
            "-y",
            "@modelcontextprotocol/server-github",
        ],
    );
    ok(&added_json);
    for out in [&added, &added_json] {
        let all = stdout(out) + &stderr(out);
        assert!(!all.contains("SECRET"), "printed a secret: {all}");
    }

    let list = cli(dir.path(), &["servers", "list"]);
    let list_json = cli(dir.path(), &["--json", "servers", "list"]);
    for out in [&list, &list_json] {
        ok(out);
        let all = stdout(out) + &stderr(out);
        assert!(!all.contains("SECRET"), "printed a secret: {all}");
        assert!(
            all.contains("Authorization") && all.contains("GITHUB_PERSONAL_ACCESS_TOKEN"),
            "{all}"
        );
    }
    // Asked for: shown.
    let shown = cli(dir.path(), &["--json", "servers", "list", "--show-secrets"]);
    ok(&shown);
    let servers = lines(&shown);
    assert_eq!(
        servers[0]["server"]["transport"]["headers"]["Authorization"],
        token
    );
    assert_eq!(
        servers[1]["server"]["transport"]["env"]["GITHUB_PERSONAL_ACCESS_TOKEN"],
        "ghp_SECRET456"
    );

    // Export leaves them out, and says so; --include-secrets includes them.
    let export = cli(dir.path(), &["servers", "export"]);
    ok(&export);
    assert!(!stdout(&export).contains("SECRET"), "{}", stdout(&export));
    assert!(
        stderr(&export).contains("--include-secrets"),
        "{}",
        stderr(&export)
    );
    let doc: Value = serde_json::from_str(&stdout(&export)).unwrap();
    assert_eq!(doc["mcpServers"]["api"]["headers"]["Authorization"], "");
    let full = cli(dir.path(), &["servers", "export", "--include-secrets"]);
    ok(&full);
    assert!(stdout(&full).contains("ghp_SECRET456"));
}

/// A Claude Desktop file with one local server whose env changes what node runs.
fn config_file(dir: &Path, marker: &str) -> std::path::PathBuf {
    let file = dir.join("claude_desktop_config.json");
    let config = serde_json::json!({"mcpServers": {"ev": {
        "command": node(),
        "args": [everything(), "stdio"],
        "env": {"PATCHBAY_TEST_MARKER": marker, "NODE_OPTIONS": "--no-deprecation", "API_KEY": "k-SECRET"},
    }}});
    std::fs::write(&file, config.to_string()).unwrap();
    file
}

#[test]
fn an_import_shows_what_each_server_runs_and_starts_nothing_without_yes() {
    let dir = tempfile::tempdir().unwrap();
    let file = config_file(dir.path(), "m-import");
    let out = cli(dir.path(), &["servers", "import", file.to_str().unwrap()]);
    ok(&out);
    let text = stdout(&out);
    // The whole command line, every env name, the value that changes what runs, a warning.
    assert!(
        text.contains(node().to_str().unwrap()) && text.contains(&everything()),
        "{text}"
    );
    assert!(
        text.contains("NODE_OPTIONS=--no-deprecation") && text.contains("changes what runs"),
        "{text}"
    );
    assert!(
        text.contains("API_KEY=") && !text.contains("k-SECRET"),
        "{text}"
    );
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));

    let list = lines(&cli(dir.path(), &["--json", "servers", "list"]));
    assert_eq!(list[0]["server"]["enabled"], false);
    assert_eq!(list[0]["server"]["needs_review"], true);

    // Connecting does not start it; enabling prints the plan and needs --yes.
    let connect = cli(dir.path(), &["connect", "ev"]);
    assert_eq!(connect.status.code(), Some(3));
    assert!(
        stdout(&connect).contains("has not started yet"),
        "{}",
        stdout(&connect)
    );
    let enable = cli(dir.path(), &["servers", "enable", "ev"]);
    assert_eq!(enable.status.code(), Some(2));
    assert!(
        stdout(&enable).contains("NODE_OPTIONS=--no-deprecation"),
        "{}",
        stdout(&enable)
    );
    ok(&cli(dir.path(), &["servers", "enable", "ev", "--yes"]));
    ok(&cli(dir.path(), &["connect", "ev"]));

    // With --yes the import starts them as the file says.
    let other = tempfile::tempdir().unwrap();
    let file = config_file(other.path(), "m-import-yes");
    ok(&cli(
        other.path(),
        &["servers", "import", file.to_str().unwrap(), "--yes"],
    ));
    let list = lines(&cli(other.path(), &["--json", "servers", "list"]));
    assert_eq!(list[0]["server"]["enabled"], true);
    assert!(list[0]["server"].get("needs_review").is_none());
}

#[test]
fn a_server_cannot_drive_the_terminal_and_json_stays_exact() {
    let dir = tempfile::tempdir().unwrap();
    add_everything(dir.path(), "ev", "m-term");
    let hostile = "A\u{1b}]52;c;cm0gLXJmIH4=\u{7}B\u{1b}[2JC\u{1b}]8;;https://evil.example/\u{1b}\\D\u{9b}E\u{202e}F\rG";
    let args = serde_json::json!({ "message": hostile }).to_string();
    let text = cli(dir.path(), &["call", "ev", "echo", "--args", &args]);
    ok(&text);
    let shown = stdout(&text);
    assert!(
        !shown
            .chars()
            .any(|c| (c.is_control() && c != '\n' && c != '\t') || c == '\u{202e}'),
        "raw control characters reached the terminal: {shown:?}"
    );
    assert!(shown.contains("A\\x1b]52;c;"), "shown, not obeyed: {shown}");

    let json = cli(
        dir.path(),
        &["--json", "call", "ev", "echo", "--args", &args],
    );
    ok(&json);
    let result = lines(&json).pop().unwrap();
    assert_eq!(
        result["result"]["content"][0]["text"],
        format!("Echo: {hostile}"),
        "JSON keeps the exact text"
    );
}

#[test]
fn a_server_gets_no_patchbay_variables_from_patchbay() {
    let dir = tempfile::tempdir().unwrap();
    add_everything(dir.path(), "ev", "m-env");
    let out = cli_command(dir.path())
        .env("PATCHBAY_CLIENT_SECRET", "client-SECRET")
        .env("PATCHBAY_SOMETHING", "x")
        .args(["--json", "call", "ev", "get-env"])
        .output()
        .unwrap();
    ok(&out);
    let result = lines(&out).pop().unwrap();
    let env: Value =
        serde_json::from_str(result["result"]["content"][0]["text"].as_str().unwrap()).unwrap();
    let names: Vec<&String> = env.as_object().unwrap().keys().collect();
    let leaked: Vec<&&String> = names
        .iter()
        .filter(|k| k.starts_with("PATCHBAY_") && **k != "PATCHBAY_TEST_MARKER")
        .collect();
    assert!(leaked.is_empty(), "leaked into the server: {leaked:?}");
    assert_eq!(
        env["PATCHBAY_TEST_MARKER"], "m-env",
        "its own variable is given"
    );
    assert!(
        env.get("PATH").is_some(),
        "the rest of the environment is inherited"
    );
}

#[test]
fn the_default_stderr_is_one_line_in_patchbays_words() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/mcp");
    ok(&cli(dir.path(), &["servers", "add", "down", "--url", &url]));
    let out = cli_command(dir.path())
        .env_remove("RUST_LOG")
        .args(["connect", "down"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(
        !err.contains("ERROR") && !err.contains("rmcp::"),
        "internal lines leaked: {err}"
    );
}

#[test]
fn two_processes_opening_a_fresh_data_dir_at_once_both_succeed() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("fresh");
    let children: Vec<_> = (0..6)
        .map(|i| {
            cli_command(&dir)
                .args([
                    "servers",
                    "add",
                    &format!("s{i}"),
                    "--env",
                    "TOKEN=secret",
                    "--",
                    "true",
                ])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = common::finish(child, Duration::from_secs(60), "servers add");
        ok(&out);
    }
    // One key: every process's sealed value opens.
    let shown = cli(&dir, &["--json", "servers", "list", "--show-secrets"]);
    ok(&shown);
    let servers = lines(&shown);
    assert_eq!(servers.len(), 6);
    for s in servers {
        assert_eq!(s["server"]["transport"]["env"]["TOKEN"], "secret", "{s}");
    }
}

#[test]
fn a_refused_refresh_says_needs_login_in_every_process_until_a_new_login() {
    let peer = oauth_peer_with(&[], &[("AT_TTL", "2")]);
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    ok(&cli(
        dir,
        &["servers", "add", "remote", "--url", peer.resource()],
    ));
    ok(&cli(
        dir,
        &["login", "remote", "--browser", "follow", "--timeout", "20"],
    ));

    // The authorization server forgets the grant; the access token expires.
    peer.post("/test/revoke-grants");
    std::thread::sleep(Duration::from_millis(2500));
    let call = cli(
        dir,
        &[
            "--json",
            "call",
            "remote",
            "echo",
            "--args",
            r#"{"message":"x"}"#,
            "--timeout",
            "10",
        ],
    );
    assert_eq!(call.status.code(), Some(3), "{}", stdout(&call));

    // Every later process says so, without asking the authorization server again.
    let refreshes = peer.stats()["token_requests"]["refresh_token"]
        .as_u64()
        .unwrap();
    let status = lines(&cli(dir, &["--json", "auth-status", "remote"]))
        .pop()
        .unwrap();
    assert_eq!(status["logged_in"], false, "{status}");
    assert_eq!(status["can_refresh"], false, "{status}");
    assert!(
        status["problem"].as_str().unwrap().contains("log in again"),
        "{status}"
    );
    let text = stdout(&cli(dir, &["auth-status", "remote"]));
    assert!(text.contains("needs login"), "{text}");
    let list = lines(&cli(dir, &["--json", "servers", "list"]));
    assert_eq!(list[0]["login"]["state"], "needs_login", "{}", list[0]);
    let doctor = stdout(&cli(dir, &["doctor"]));
    assert!(doctor.contains("not logged in"), "{doctor}");
    let again = cli(
        dir,
        &[
            "--json",
            "call",
            "remote",
            "echo",
            "--args",
            r#"{"message":"x"}"#,
        ],
    );
    assert_eq!(again.status.code(), Some(3));
    assert_eq!(
        peer.stats()["token_requests"]["refresh_token"]
            .as_u64()
            .unwrap(),
        refreshes,
        "the refused refresh token was sent again"
    );

    // A new login replaces it.
    ok(&cli(
        dir,
        &["login", "remote", "--browser", "follow", "--timeout", "20"],
    ));
    let status = lines(&cli(dir, &["--json", "auth-status", "remote"]))
        .pop()
        .unwrap();
    assert_eq!(status["logged_in"], true, "{status}");
    ok(&cli(
        dir,
        &[
            "--json",
            "call",
            "remote",
            "echo",
            "--args",
            r#"{"message":"x"}"#,
        ],
    ));
}
