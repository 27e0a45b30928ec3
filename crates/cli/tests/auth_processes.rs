//! OAuth across real processes: `patchbay-cli` against the OAuth peer (tests/peers/oauth), with
//! a scripted browser through real sign-in and consent pages, many CLI processes refreshing one
//! credential at once, and a CLI killed in the middle of a refresh.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{ChildStdout, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{
    OAuthPeer, cli, cli_command, finish, json_lines, lines, node, oauth_peer, oauth_peer_with,
    peers_dir,
};
use serde_json::Value;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn add_remote(dir: &Path, peer: &OAuthPeer) {
    let out = cli(dir, &["servers", "add", "remote", "--url", peer.resource()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

fn login_follow(dir: &Path) {
    let out = cli(
        dir,
        &[
            "--json",
            "login",
            "remote",
            "--browser",
            "follow",
            "--timeout",
            "10",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(lines(&out).last().unwrap()["event"], "logged_in");
}

/// `auth-status --json` in a fresh process; it must exit 0.
fn auth_status(dir: &Path) -> Value {
    let out = cli(dir, &["--json", "auth-status", "remote"]);
    assert_eq!(out.status.code(), Some(0), "auth-status: {}", stderr(&out));
    let status = lines(&out).pop().expect("an auth_status line");
    assert_eq!(status["event"], "auth_status");
    status
}

fn call_echo(dir: &Path, message: &str) -> Output {
    let args = format!(r#"{{"message":"{message}"}}"#);
    cli(
        dir,
        &[
            "--json",
            "call",
            "remote",
            "echo",
            "--args",
            &args,
            "--timeout",
            "10",
        ],
    )
}

fn assert_echoed(out: &Output, message: &str) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "call failed: stdout {} stderr {}",
        String::from_utf8_lossy(&out.stdout),
        stderr(out)
    );
    let result = lines(out).pop().unwrap();
    assert_eq!(result["event"], "result", "{result}");
    assert_eq!(result["outcome"], "ok", "{result}");
    assert_eq!(
        result["result"]["content"][0]["text"],
        format!("Echo: {message}")
    );
}

/// Sleeps until the stored access token has expired (by its own `expires_at_ms`).
fn wait_until_expired(dir: &Path) -> i64 {
    let expires = auth_status(dir)["expires_at_ms"]
        .as_i64()
        .expect("an expiry");
    let left = expires + 300 - now_ms();
    assert!(
        left < 5_000,
        "the access token lives too long for this test"
    );
    if left > 0 {
        std::thread::sleep(Duration::from_millis(left as u64));
    }
    expires
}

/// `login --browser print` running in the background, and the URL it printed first.
struct PrintLogin {
    child: std::process::Child,
    stdout: BufReader<ChildStdout>,
    url: String,
}

fn start_print_login(dir: &Path, timeout_secs: u64) -> PrintLogin {
    let mut child = cli_command(dir)
        .args([
            "--json",
            "login",
            "remote",
            "--browser",
            "print",
            "--timeout",
        ])
        .arg(timeout_secs.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the login");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).expect("the first line");
    let first: Value = serde_json::from_str(&first)
        .unwrap_or_else(|e| panic!("login's first line {first:?}: {e}"));
    assert_eq!(first["event"], "login_url", "{first}");
    let url = first["url"].as_str().unwrap().to_string();
    PrintLogin { child, stdout, url }
}

impl PrintLogin {
    /// Waits for the CLI to exit; returns its output with the lines after the URL.
    fn finish(self, limit: Duration) -> Output {
        let PrintLogin {
            child, mut stdout, ..
        } = self;
        let mut out = finish(child, limit, "patchbay-cli login");
        stdout.read_to_end(&mut out.stdout).unwrap();
        out
    }
}

/// tests/peers/oauth/browser.mjs on `url`, with extra arguments.
fn browser(url: &str, extra: &[&str]) -> (bool, Vec<Value>) {
    let child = std::process::Command::new(node())
        .arg(peers_dir().join("oauth/browser.mjs"))
        .arg(url)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run browser.mjs");
    let out = finish(child, Duration::from_secs(15), "browser.mjs");
    assert!(
        out.stderr.is_empty(),
        "browser.mjs stderr: {}",
        stderr(&out)
    );
    (out.status.success(), json_lines(&out.stdout))
}

fn count(stats: &Value, pointer: &str) -> u64 {
    stats
        .pointer(pointer)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("no {pointer} in {stats}"))
}

/// Test 1. A person's login, played by a scripted browser: `--browser print` prints the URL,
/// the browser signs in on a real HTML form, consents on a real page and is redirected to the
/// CLI's loopback callback. A wrong password stops at the sign-in page and stores nothing.
#[test]
fn print_login_through_real_sign_in_and_consent_pages() {
    let peer = oauth_peer_with(&["--interactive"], &[]);
    assert_eq!(peer.1["interactive"], true);
    let dir = tempfile::tempdir().unwrap();
    add_remote(dir.path(), &peer);

    // The pages want a person: follow mode cannot get past them, and says so.
    let out = cli(
        dir.path(),
        &["login", "remote", "--browser", "follow", "--timeout", "10"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("wants a person to sign in"),
        "{}",
        stderr(&out)
    );

    // A wrong password: the sign-in page says so, no code reaches the CLI, nothing is stored.
    let login = start_print_login(dir.path(), 3);
    let (ok, steps) = browser(&login.url, &["--password", "not-the-password"]);
    assert!(!ok, "{steps:?}");
    let last = steps.last().unwrap();
    assert_eq!(last["event"], "error", "{steps:?}");
    assert_eq!(
        last["page_error"], "Wrong username or password.",
        "{steps:?}"
    );
    assert!(!steps.iter().any(|s| s["event"] == "callback"), "{steps:?}");
    let out = login.finish(Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let printed = json_lines(&out.stdout);
    let last = printed.last().unwrap();
    assert_eq!(last["event"], "error", "{printed:?}");
    assert!(
        last["message"]
            .as_str()
            .unwrap()
            .contains("no answer from the browser"),
        "{printed:?}"
    );
    assert!(
        !printed.iter().any(|l| l["event"] == "logged_in"),
        "{printed:?}"
    );
    let status = auth_status(dir.path());
    assert_eq!(status["logged_in"], false, "{status}");
    let stats = peer.stats();
    assert_eq!(
        count(&stats, "/token_requests/authorization_code"),
        0,
        "{stats}"
    );
    assert_eq!(count(&stats, "/interactions/login_failures"), 1, "{stats}");
    assert_eq!(count(&stats, "/interactions/logins"), 0, "{stats}");

    // Cancel on the sign-in page: the CLI hears access_denied at once, no timeout needed.
    let login = start_print_login(dir.path(), 15);
    let (ok, steps) = browser(&login.url, &["--deny"]);
    assert!(ok, "{steps:?}");
    assert_eq!(
        steps.last().unwrap()["title"],
        "Login refused — Patchbay",
        "{steps:?}"
    );
    let out = login.finish(Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let printed = json_lines(&out.stdout);
    let message = printed.last().unwrap()["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("access_denied"), "{printed:?}");
    assert_eq!(auth_status(dir.path())["logged_in"], false);

    // The right password: sign-in form, consent form, then the CLI's callback.
    let started = Instant::now();
    let login = start_print_login(dir.path(), 15);
    assert!(
        login.url.contains("code_challenge_method=S256"),
        "{}",
        login.url
    );
    let (ok, steps) = browser(&login.url, &[]);
    assert!(ok, "{steps:?}");
    let trail: Vec<(String, String)> = steps
        .iter()
        .map(|s| {
            let detail = match s["event"].as_str().unwrap() {
                "submit" => s["action"].as_str().unwrap().rsplit('/').next().unwrap(),
                _ => s["title"].as_str().unwrap_or(""),
            };
            (s["event"].as_str().unwrap().to_string(), detail.to_string())
        })
        .collect();
    let expected = [
        ("page", "Sign in"),
        ("submit", "login"),
        ("page", "Allow access?"),
        ("submit", "confirm"),
        ("callback", "Logged in — Patchbay"),
    ];
    assert_eq!(
        trail,
        expected.map(|(e, d)| (e.to_string(), d.to_string())),
        "{steps:?}"
    );
    let callback = steps.last().unwrap();
    assert_eq!(callback["status"], 200);
    assert_eq!(callback["path"], "/callback");
    assert!(
        callback["origin"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:"),
        "{callback}"
    );
    let login_fields: Vec<_> = steps[1]["fields"].as_array().unwrap().clone();
    assert_eq!(login_fields, vec!["username", "password"]);

    let out = login.finish(Duration::from_secs(15));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let done = json_lines(&out.stdout).pop().expect("a logged_in line");
    assert_eq!(done["event"], "logged_in", "{done}");
    assert_eq!(done["issuer"], peer.issuer());
    assert_eq!(done["can_refresh"], true);
    eprintln!(
        "print login with the scripted browser took {:?}",
        started.elapsed()
    );

    let stats = peer.stats();
    assert_eq!(
        count(&stats, "/token_requests/authorization_code"),
        1,
        "{stats}"
    );
    assert_eq!(count(&stats, "/interactions/logins"), 1, "{stats}");
    assert_eq!(count(&stats, "/interactions/consents"), 1, "{stats}");

    // The stored login works from another process.
    let status = auth_status(dir.path());
    assert_eq!(status["logged_in"], true, "{status}");
    assert_echoed(
        &call_echo(dir.path(), "after-print-login"),
        "after-print-login",
    );
}

/// Test 2. Ten CLI processes on one data dir find the same expired access token at once: all
/// of them succeed, the refresh token is redeemed once (the SQLite lease), and nobody is sent
/// to log in again.
#[test]
fn ten_processes_refresh_one_expired_login_together() {
    let peer = oauth_peer();
    let dir = tempfile::tempdir().unwrap();
    add_remote(dir.path(), &peer);
    // A 2 s access token for the login; tokens from refreshes live 60 s, so a process that
    // starts late finds the refreshed token still good and has no reason to refresh again.
    peer.post("/test/at-ttl?s=2");
    login_follow(dir.path());
    peer.post("/test/at-ttl?s=60");
    let expired = wait_until_expired(dir.path());
    peer.post("/test/reset-stats");

    let started = Instant::now();
    let children: Vec<_> = (0..10)
        .map(|i| {
            cli_command(dir.path())
                .args(["--json", "call", "remote", "echo", "--timeout", "10"])
                .arg("--args")
                .arg(format!(r#"{{"message":"p{i}"}}"#))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start a call")
        })
        .collect();
    let outputs: Vec<Output> = children
        .into_iter()
        .map(|c| finish(c, Duration::from_secs(25), "patchbay-cli call"))
        .collect();
    eprintln!("10 concurrent calls took {:?}", started.elapsed());
    for (i, out) in outputs.iter().enumerate() {
        assert_echoed(out, &format!("p{i}"));
    }

    let stats = peer.stats();
    eprintln!("stats after 10 concurrent calls: {stats}");
    assert_eq!(count(&stats, "/token_requests/refresh_token"), 1, "{stats}");
    assert_eq!(count(&stats, "/refresh_invalid_grant"), 0, "{stats}");
    assert_eq!(stats["token_errors"], serde_json::json!({}), "{stats}");
    assert_eq!(
        count(&stats, "/token_requests/authorization_code"),
        0,
        "{stats}"
    );
    assert_eq!(count(&stats, "/authorization_requests"), 0, "{stats}");
    assert_eq!(count(&stats, "/interactions/logins"), 0, "{stats}");
    assert_eq!(count(&stats, "/registrations"), 0, "{stats}");
    // No request went out with the expired token: each process refreshed, or took the
    // refreshed token, before its first request.
    assert_eq!(count(&stats, "/rs_unauthorized"), 0, "{stats}");

    let status = auth_status(dir.path());
    assert_eq!(status["logged_in"], true, "{status}");
    assert!(
        status["expires_at_ms"].as_i64().unwrap() > expired.max(now_ms()),
        "{status}"
    );
}

/// Test 3. A CLI SIGKILLed while it refreshes (the token endpoint is slowed down by the peer)
/// leaves a readable credential, old or new, never none; the next process is not stuck behind
/// the dead one's lease for longer than the lease lasts; and the next call works, unless the
/// authorization server had already rotated the refresh token the dead process never stored,
/// in which case it says a new login is needed (and one works).
///
/// `kill` is when: a fixed time after the call started (the refresh request reaches the AS
/// within ~100 ms, so 200 and 800 ms fall inside the 1.5 s delay), or a few ms after the AS
/// answered the refresh (a race: the dead process may or may not have stored the answer).
fn kill_during_refresh(phase: &str, kill: KillAt) {
    const DELAY_MS: u64 = 1500;
    let lease_ttl = lease_ttl();

    let peer = oauth_peer();
    let dir = tempfile::tempdir().unwrap();
    add_remote(dir.path(), &peer);
    peer.post("/test/at-ttl?s=2");
    login_follow(dir.path());
    peer.post("/test/at-ttl?s=60");
    let old_expiry = wait_until_expired(dir.path());
    peer.post(&format!("/test/delay?ms={DELAY_MS}&phase={phase}"));
    peer.post("/test/reset-stats");

    let mut call = cli_command(dir.path())
        .args([
            "--json",
            "call",
            "remote",
            "echo",
            "--args",
            r#"{"message":"doomed"}"#,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the call");
    let spawned = Instant::now();
    // Sleep until the kill point, noting when the refresh request reaches the AS (the lease is
    // taken just before it is sent).
    let mut refresh_arrived = None;
    let mut kill_at = match kill {
        KillAt::Ms(ms) => Some(spawned + Duration::from_millis(ms)),
        KillAt::AfterAnswerMs(_) => None,
    };
    while kill_at.is_none_or(|at| Instant::now() < at) {
        if refresh_arrived.is_none() && count(&peer.stats(), "/token_requests/refresh_token") > 0 {
            let arrived = spawned.elapsed();
            refresh_arrived = Some(arrived);
            if let KillAt::AfterAnswerMs(ms) = kill {
                kill_at = Some(spawned + arrived + Duration::from_millis(DELAY_MS + ms));
            }
        }
        assert!(
            spawned.elapsed() < Duration::from_secs(5),
            "no refresh request reached the AS"
        );
        let left = kill_at.map_or(Duration::MAX, |at| {
            at.saturating_duration_since(Instant::now())
        });
        std::thread::sleep(left.min(Duration::from_millis(5)));
    }
    // None: still running, so this is a real SIGKILL (a late kill point may find the call done).
    let exited_before_kill = call.try_wait().unwrap();
    let _ = call.kill(); // SIGKILL
    call.wait().unwrap();
    let killed = Instant::now();
    let at_kill = peer.stats();
    peer.post("/test/delay?ms=0");
    // A fixed kill point must hit a refresh in flight: sent, and inside the AS's delay.
    let mid_refresh = refresh_arrived.is_some_and(|at| {
        killed - spawned + Duration::from_millis(100) < at + Duration::from_millis(DELAY_MS)
    });
    if let KillAt::Ms(_) = kill {
        assert!(
            exited_before_kill.is_none(),
            "the call ended before the kill"
        );
        assert!(
            mid_refresh,
            "not killed mid-refresh: arrived {refresh_arrived:?}, killed {:?}",
            killed - spawned
        );
    }

    // A fresh process reads the credential at once, without touching the lease.
    let status = auth_status(dir.path());
    assert_eq!(
        status["logged_in"], true,
        "credential gone after SIGKILL: {status}"
    );
    assert_eq!(status["can_refresh"], true, "{status}");
    assert!(
        status.get("problem").is_none(),
        "credential unreadable: {status}"
    );
    let stored_expiry = status["expires_at_ms"].as_i64().unwrap();
    let stored_new = stored_expiry != old_expiry;

    // Let a request still sleeping in the peer's delay finish (or be dropped) before judging.
    let settle = killed + Duration::from_millis(DELAY_MS + 300);
    if let Some(left) = settle.checked_duration_since(Instant::now()) {
        std::thread::sleep(left);
    }
    let settled = peer.stats();
    let sent = count(&settled, "/token_requests/refresh_token");
    let dropped = count(&settled, "/refresh_dropped");
    // Whether the AS redeemed (and so rotated) the refresh token the dead process sent.
    let redeemed = sent - dropped;
    assert!(redeemed <= 1, "{settled}");
    assert_eq!(count(&settled, "/refresh_invalid_grant"), 0, "{settled}");
    if stored_new {
        assert_eq!(
            redeemed, 1,
            "a new credential without a redeemed refresh? {settled}"
        );
        assert!(stored_expiry > old_expiry);
    }

    let next_started = Instant::now();
    // With the engine's log on stderr (never tokens), to show where the time went on failure.
    let next = cli_command(dir.path())
        .env("RUST_LOG", "patchbay_engine=info")
        .args(["--json", "call", "remote", "echo", "--timeout", "10"])
        .args(["--args", r#"{"message":"after-kill"}"#])
        .output()
        .expect("run the next call");
    let next_took = next_started.elapsed();
    eprintln!(
        "phase={phase} kill={kill:?} (killed at {:?}, exited before: {exited_before_kill:?}): refresh request arrived at {refresh_arrived:?}, refresh requests at kill {}, sent {sent}, dropped {dropped}, stored {}, next call exit {:?} after {next_took:?} ({:?} after spawn)",
        killed - spawned,
        count(&at_kill, "/token_requests/refresh_token"),
        if stored_new { "new" } else { "old" },
        next.status.code(),
        spawned.elapsed(),
    );
    // The dead process's lease does not hold the next one up: its holder is gone, so the lease
    // is taken over at once instead of waited out (it would last the refresh timeout). The bound is
    // slack for starting a process, one delayed refresh and one call.
    assert!(
        next_took < Duration::from_secs(8) && next_took < lease_ttl,
        "the next call took {next_took:?}; a dead holder's lease (lasting {lease_ttl:?}) must not be waited out\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&next.stdout),
        stderr(&next)
    );

    let after = peer.stats();
    if mid_refresh {
        // Killed inside the delay: with `before` the AS dropped the request unredeemed, with
        // `after` it had already rotated; either way the answer never reached the store.
        assert!(
            !stored_new,
            "a new credential from a process killed before the answer"
        );
        let expect = if phase == "before" { 0 } else { 1 };
        assert_eq!(redeemed, expect, "{settled}");
    }
    if redeemed == 1 && !stored_new {
        // The only allowed failure: the AS rotated the refresh token, the new one died with the
        // process, and the stored (now spent) one is refused. That must read as "log in again".
        assert_eq!(next.status.code(), Some(3), "{next:?}");
        let printed = lines(&next);
        assert_eq!(
            printed.last().map(|l| (&l["event"], &l["state"])),
            Some((&"state".into(), &"needs_auth".into())),
            "needs-login not reported: {printed:?}"
        );
        assert_eq!(count(&after, "/refresh_invalid_grant"), 1, "{after}");
        // Spent, and known to be: every later process says "needs login" (not "logged in,
        // refreshes by itself"), in words too.
        let status = auth_status(dir.path());
        assert_eq!(status["logged_in"], false, "{status}");
        assert!(
            status["problem"]
                .as_str()
                .is_some_and(|p| p.contains("log in again")),
            "{status}"
        );
        let text = cli(
            dir.path(),
            &["call", "remote", "echo", "--args", r#"{"message":"x"}"#],
        );
        assert_eq!(text.status.code(), Some(3), "{text:?}");
        let said = String::from_utf8_lossy(&text.stdout);
        assert!(said.contains("needs_auth"), "{said}");
        login_follow(dir.path());
        assert_echoed(&call_echo(dir.path(), "relogged"), "relogged");
    } else {
        assert_echoed(&next, "after-kill");
        assert_eq!(count(&after, "/refresh_invalid_grant"), 0, "{after}");
        assert_eq!(
            count(&after, "/token_requests/authorization_code"),
            0,
            "{after}"
        );
        // A credential stored by the dead process is used as is; otherwise one more refresh.
        let expected = if stored_new { sent } else { sent + 1 };
        assert_eq!(
            count(&after, "/token_requests/refresh_token"),
            expected,
            "{after}"
        );
    }
    let status = auth_status(dir.path());
    assert_eq!(status["logged_in"], true, "{status}");
}

/// How long a refresh lease lasts: the CLI's refresh timeout (a lease is taken for as long as
/// the refresh it guards may run), so a dead holder's lease blocks others at most that long.
fn lease_ttl() -> Duration {
    patchbay_engine::HubOptions::new("unused").refresh_timeout
}

#[derive(Debug, Clone, Copy)]
enum KillAt {
    /// This many ms after the call started.
    Ms(u64),
    /// This many ms after the AS answered the refresh (its arrival plus the injected delay).
    AfterAnswerMs(u64),
}

// phase=before: the AS holds the refresh request for 1.5 s before redeeming it, and drops it
// unredeemed if the client is gone by then. The credential must stay the old one and still work.

#[test]
fn sigkill_while_refresh_waits_before_redeeming_at_200ms() {
    kill_during_refresh("before", KillAt::Ms(200));
}

#[test]
fn sigkill_while_refresh_waits_before_redeeming_at_800ms() {
    kill_during_refresh("before", KillAt::Ms(800));
}

#[test]
fn sigkill_around_the_refresh_answer() {
    kill_during_refresh("before", KillAt::AfterAnswerMs(5));
}

// phase=after: the AS redeems (rotates) at once and answers 1.5 s later. A process killed in
// between leaves the old, now spent, refresh token: readable, and reported as needing a login.

#[test]
fn sigkill_after_the_server_rotated_at_200ms() {
    kill_during_refresh("after", KillAt::Ms(200));
}

#[test]
fn sigkill_after_the_server_rotated_at_800ms() {
    kill_during_refresh("after", KillAt::Ms(800));
}

#[test]
fn sigkill_around_the_rotated_answer() {
    kill_during_refresh("after", KillAt::AfterAnswerMs(5));
}

/// A process that starts right after another took the refresh lease and died: the dead
/// holder's lease is taken over at once, and the refresh succeeds. (It used to wait out the
/// lease and then give up, its own timeout spent on the wait.)
#[test]
fn a_dead_lease_holder_does_not_fail_the_next_refresh() {
    let peer = oauth_peer();
    let dir = tempfile::tempdir().unwrap();
    add_remote(dir.path(), &peer);
    peer.post("/test/at-ttl?s=2");
    login_follow(dir.path());
    peer.post("/test/at-ttl?s=60");
    wait_until_expired(dir.path());
    peer.post("/test/delay?ms=500&phase=before");
    peer.post("/test/reset-stats");
    let mut first = cli_command(dir.path())
        .args([
            "--json",
            "call",
            "remote",
            "echo",
            "--args",
            r#"{"message":"a"}"#,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let spawned = Instant::now();
    // Its refresh request is out, so it holds the lease: kill it, start the next at once.
    while count(&peer.stats(), "/token_requests/refresh_token") == 0 {
        assert!(spawned.elapsed() < Duration::from_secs(5), "no refresh");
        std::thread::sleep(Duration::from_millis(2));
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let next = call_echo(dir.path(), "b");
    eprintln!(
        "next call after {:?}: {}",
        spawned.elapsed(),
        String::from_utf8_lossy(&next.stdout)
    );
    assert_echoed(&next, "b");
    assert!(
        spawned.elapsed() < Duration::from_secs(8),
        "{:?}",
        spawned.elapsed()
    );
    let stats = peer.stats();
    assert_eq!(count(&stats, "/token_requests/refresh_token"), 2, "{stats}");
}
