//! The vault against a real Secret Service: gnome-keyring-daemon on a private D-Bus session bus
//! that each test starts itself (never the keyring of whoever runs the tests), with `HOME` and the
//! XDG directories in a temporary directory.
//!
//! The outage these tests are about: a data dir whose key is in the OS keyring, then one run of
//! `patchbay-cli` where the keyring cannot be had (no session bus, a bus where nobody listens,
//! `PATCHBAY_KEYRING=off`, a locked keyring whose unlock prompt cannot be shown). That run must
//! find the vault locked and write nothing; with the keyring back, every secret is still there.
//!
//! Needs `dbus-daemon` (package dbus-daemon), `dbus-send` (dbus-bin), `gnome-keyring-daemon`
//! (gnome-keyring) and `secret-tool` (libsecret-tools); scripts/test installs them.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{everything, finish, json_lines, node, oauth_peer};
use serde_json::Value;
use tempfile::TempDir;

/// The login keyring's password.
const PASSWORD: &str = "keyring-test-password";
const LOGIN: &str = "/org/freedesktop/secrets/collection/login";
/// How long one CLI run may take; a run stuck at an unlock prompt fails the test instead of
/// hanging it.
const RUN_LIMIT: Duration = Duration::from_secs(60);
const MASK: &str = "••••••••";

/// `bin` on PATH, or a failure that names the Debian package that brings it.
fn need(bin: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(bin))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{bin}` is not installed: the keyring tests need the Debian package {package} \
                 (scripts/test installs it; or apt-get install {package})"
            )
        })
}

/// A private session bus with gnome-keyring-daemon on it. Everything lives in one temporary
/// directory: the bus socket, `HOME`, `XDG_RUNTIME_DIR`, `XDG_DATA_HOME` (where the login keyring
/// file is kept). Both daemons are killed on drop, also when a test panics.
struct PrivateKeyring {
    root: TempDir,
    address: String,
    bus: Child,
    daemon: Option<Child>,
    dbus_send: PathBuf,
    secret_tool: PathBuf,
    gnome_keyring: PathBuf,
}

impl Drop for PrivateKeyring {
    fn drop(&mut self) {
        if let Some(mut daemon) = self.daemon.take() {
            let _ = daemon.kill();
            let _ = daemon.wait();
        }
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}

impl PrivateKeyring {
    /// A new bus and an unlocked login keyring on it (created with `PASSWORD`).
    fn start() -> PrivateKeyring {
        let dbus_daemon = need("dbus-daemon", "dbus-daemon");
        let dbus_send = need("dbus-send", "dbus-bin");
        let gnome_keyring = need("gnome-keyring-daemon", "gnome-keyring");
        let secret_tool = need("secret-tool", "libsecret-tools");

        // Short: a unix socket path has at most 107 bytes.
        let root = tempfile::Builder::new()
            .prefix("pbkr")
            .tempdir_in("/tmp")
            .expect("a temporary directory");
        for sub in ["home", "run", "data", "config", "cache"] {
            std::fs::create_dir(root.path().join(sub)).unwrap();
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                root.path().join("run"),
                std::fs::Permissions::from_mode(0o700),
            )
            .unwrap();
        }
        // The bus's own configuration: no service directories, so nothing is ever started on
        // the bus behind the test's back (not gnome-keyring, not a prompter).
        let socket = root.path().join("bus");
        let config = root.path().join("bus.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                socket.display()
            ),
        )
        .unwrap();
        let bus_log = std::fs::File::create(root.path().join("dbus-daemon.log")).unwrap();
        let mut bus = Command::new(&dbus_daemon)
            .env_clear()
            .envs(home_env(root.path()))
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(bus_log)
            .spawn()
            .expect("start dbus-daemon");
        // dbus-daemon prints its address once it listens: that is the readiness signal.
        let mut address = String::new();
        BufReader::new(bus.stdout.take().unwrap())
            .read_line(&mut address)
            .expect("read dbus-daemon's address");
        let address = address.trim().to_string();
        let mut keyring = PrivateKeyring {
            address,
            bus,
            daemon: None,
            dbus_send,
            secret_tool,
            gnome_keyring,
            root,
        };
        assert!(
            keyring.address.starts_with("unix:path="),
            "dbus-daemon did not start: {}",
            keyring.log("dbus-daemon.log")
        );
        keyring.start_daemon(true);
        keyring
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.root.path().join(name)).unwrap_or_default()
    }

    /// gnome-keyring-daemon in the foreground, with the login keyring unlocked by `PASSWORD`
    /// on stdin, or left locked; returns once the login collection answers as wanted.
    fn start_daemon(&mut self, unlock: bool) {
        assert!(self.daemon.is_none());
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.path().join("gnome-keyring.log"))
            .unwrap();
        let mut command = Command::new(&self.gnome_keyring);
        command
            .env_clear()
            .envs(home_env(self.root.path()))
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .args(["--foreground", "--components=secrets"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(log);
        if unlock {
            command.arg("--unlock");
        }
        let mut daemon = command.spawn().expect("start gnome-keyring-daemon");
        let mut stdin = daemon.stdin.take().unwrap();
        if unlock {
            stdin.write_all(PASSWORD.as_bytes()).unwrap();
        }
        drop(stdin);
        self.daemon = Some(daemon);
        self.wait_for_login_locked(!unlock);
    }

    fn stop_daemon(&mut self) {
        let mut daemon = self.daemon.take().expect("a running gnome-keyring-daemon");
        daemon.kill().unwrap();
        daemon.wait().unwrap();
        // Gone from the bus too, before anything else is started or asked.
        self.wait_until(
            Duration::from_secs(20),
            "gnome-keyring to leave the bus",
            |k| {
                let out = k.dbus_send(&[
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                    "string:org.freedesktop.secrets",
                ]);
                out.status.success()
                    && String::from_utf8_lossy(&out.stdout).contains("boolean false")
            },
        );
    }

    /// Restarts gnome-keyring-daemon: as at a new login, unlocked with the password, or locked.
    fn restart_daemon(&mut self, unlock: bool) {
        self.stop_daemon();
        self.start_daemon(unlock);
    }

    /// Locks the login collection over the Secret Service API, as a screen lock or a timeout does.
    fn lock(&mut self) {
        let out = self.dbus_send(&[
            "--dest=org.freedesktop.secrets",
            "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service.Lock",
            &format!("array:objpath:{LOGIN}"),
        ]);
        assert!(
            out.status.success(),
            "Lock: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.wait_for_login_locked(true);
    }

    /// Polls the login collection's `Locked` property until it is `locked`.
    fn wait_for_login_locked(&mut self, locked: bool) {
        let want = format!("boolean {locked}");
        self.wait_until(
            Duration::from_secs(20),
            &format!("the login keyring (locked: {locked})"),
            |k| {
                let out = k.dbus_send(&[
                    "--dest=org.freedesktop.secrets",
                    LOGIN,
                    "org.freedesktop.DBus.Properties.Get",
                    "string:org.freedesktop.Secret.Collection",
                    "string:Locked",
                ]);
                out.status.success() && String::from_utf8_lossy(&out.stdout).contains(&want)
            },
        );
    }

    /// Polls `ready` until it holds; fails after `limit`, or at once if gnome-keyring-daemon
    /// exits, with both daemons' logs.
    fn wait_until(
        &mut self,
        limit: Duration,
        what: &str,
        mut ready: impl FnMut(&PrivateKeyring) -> bool,
    ) {
        let deadline = Instant::now() + limit;
        loop {
            if ready(self) {
                return;
            }
            let exited = match self.daemon.as_mut() {
                Some(daemon) => daemon.try_wait().unwrap(),
                None => None,
            };
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "waited for {what}: gnome-keyring-daemon {}; its log:\n{}\ndbus-daemon log:\n{}",
                match exited {
                    Some(status) => format!("exited ({status})"),
                    None => format!("still not ready after {limit:?}"),
                },
                self.log("gnome-keyring.log"),
                self.log("dbus-daemon.log")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn dbus_send(&self, args: &[&str]) -> Output {
        let child = Command::new(&self.dbus_send)
            .env_clear()
            .envs(home_env(self.root.path()))
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .args(["--session", "--print-reply", "--reply-timeout=5000"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run dbus-send");
        finish(child, Duration::from_secs(10), "dbus-send")
    }

    /// The vault key Patchbay keeps in this keyring for `data_dir`, read with secret-tool
    /// (libsecret) rather than Patchbay's own code.
    fn vault_key(&self, data_dir: &Path) -> Option<String> {
        let account = format!(
            "vault-key:{}",
            std::fs::canonicalize(data_dir).unwrap().display()
        );
        let child = Command::new(&self.secret_tool)
            .env_clear()
            .envs(home_env(self.root.path()))
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .args(["lookup", "service", "patchbay", "username", &account])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run secret-tool");
        let out = finish(child, Duration::from_secs(10), "secret-tool lookup");
        let key = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if out.status.success() && !key.is_empty() {
            Some(key)
        } else {
            None
        }
    }

    /// `patchbay-cli --data-dir DIR` talking to this keyring.
    fn cli(&self, dir: &Path) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_patchbay-cli"));
        command
            .env_remove("PATCHBAY_KEYRING")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .envs(home_env(self.root.path()))
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .arg("--data-dir")
            .arg(dir);
        command
    }

    /// `patchbay-cli --data-dir DIR` in one of the outages.
    fn cli_without(&self, dir: &Path, outage: Outage) -> Command {
        let mut command = self.cli(dir);
        match outage {
            Outage::NobodyListens => {
                command.env(
                    "DBUS_SESSION_BUS_ADDRESS",
                    format!("unix:path={}", self.root.path().join("nobody").display()),
                );
            }
            // XDG_RUNTIME_DIR is the test's own, with no `bus` in it: libdbus finds no bus.
            Outage::NoSessionBus => {
                command.env_remove("DBUS_SESSION_BUS_ADDRESS");
            }
            Outage::TurnedOff => {
                command.env("PATCHBAY_KEYRING", "off");
            }
        }
        command
    }
}

/// `HOME` and the XDG directories, all inside `root`; and a PATH.
fn home_env(root: &Path) -> Vec<(&'static str, PathBuf)> {
    vec![
        (
            "PATH",
            PathBuf::from(std::env::var_os("PATH").unwrap_or_default()),
        ),
        ("HOME", root.join("home")),
        ("XDG_RUNTIME_DIR", root.join("run")),
        ("XDG_DATA_HOME", root.join("data")),
        ("XDG_CONFIG_HOME", root.join("config")),
        ("XDG_CACHE_HOME", root.join("cache")),
    ]
}

/// The ways a run can be without the keyring that holds the key.
#[derive(Clone, Copy, Debug)]
enum Outage {
    /// `DBUS_SESSION_BUS_ADDRESS` names a socket nobody listens on.
    NobodyListens,
    /// No session bus at all (ssh without one).
    NoSessionBus,
    /// `PATCHBAY_KEYRING=off` on a data dir that has used the keyring.
    TurnedOff,
}

impl Outage {
    /// What `doctor`'s reason must say.
    fn reason(self) -> &'static str {
        match self {
            Outage::NobodyListens | Outage::NoSessionBus => "cannot be reached",
            Outage::TurnedOff => "PATCHBAY_KEYRING=off",
        }
    }
}

fn run(mut command: Command, args: &[&str]) -> Output {
    let child = command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run patchbay-cli");
    finish(child, RUN_LIMIT, &format!("patchbay-cli {args:?}"))
}

fn show(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok(out: &Output) -> Vec<Value> {
    assert_eq!(out.status.code(), Some(0), "{}", show(out));
    json_lines(&out.stdout)
}

fn doctor(command: Command) -> Value {
    let out = run(command, &["--json", "doctor"]);
    let line = ok(&out).pop().expect("a doctor line");
    assert_eq!(line["event"], "doctor", "{line}");
    line
}

fn key_file(dir: &Path) -> PathBuf {
    dir.join("vault.key")
}

/// `servers add NAME --env VAR=VALUE -- node server-everything stdio`.
fn add_everything_with(command: Command, name: &str, var: &str, value: &str) -> Output {
    let node = node();
    run(
        command,
        &[
            "--json",
            "servers",
            "add",
            name,
            "--env",
            &format!("{var}={value}"),
            "--",
            node.to_str().unwrap(),
            &everything(),
            "stdio",
        ],
    )
}

/// `servers list --json [--show-secrets]` as (name, env) pairs.
fn listed_env(out: &Output) -> Vec<(String, Value)> {
    ok(out)
        .into_iter()
        .map(|line| {
            assert_eq!(line["event"], "server", "{line}");
            (
                line["server"]["name"].as_str().unwrap().to_string(),
                line["server"]["transport"]["env"].clone(),
            )
        })
        .collect()
}

fn call(command: Command, server: &str, tool: &str, args: &str) -> Output {
    run(
        command,
        &[
            "--json",
            "call",
            server,
            tool,
            "--args",
            args,
            "--timeout",
            "20",
        ],
    )
}

fn result_text(out: &Output) -> String {
    let result = ok(out).pop().expect("a result line");
    assert_eq!(result["event"], "result", "{result}");
    assert_eq!(result["outcome"], "ok", "{result}");
    result["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .to_string()
}

/// While the keyring holding the key cannot be had: the vault is locked, with `reason`; commands
/// that need a secret fail; nothing is written, no key file above all.
fn assert_locked_and_untouched(
    command: impl Fn() -> Command,
    dir: &Path,
    reason: &str,
    token: &str,
) {
    let report = doctor(command());
    assert_eq!(report["backend"], "locked", "{report}");
    let why = report["reason"].as_str().unwrap_or_default();
    assert!(why.contains(reason), "reason {why:?} should say {reason:?}");

    // The list itself needs no key: the value stays masked.
    let listed = listed_env(&run(command(), &["--json", "servers", "list"]));
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].1["KEYRING_TEST_TOKEN"], MASK);

    // Showing the value needs the key: an error, not a value and not a crash.
    let out = run(command(), &["--json", "servers", "list", "--show-secrets"]);
    assert_ne!(out.status.code(), Some(0), "{}", show(&out));
    let last = json_lines(&out.stdout).pop().expect("an error line");
    assert_eq!(last["event"], "error", "{last}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(token));

    // Sealing a new secret needs the key too: refused, rather than sealed under a new key.
    let out = add_everything_with(command(), "second", "OTHER_TOKEN", "other-value");
    assert_ne!(out.status.code(), Some(0), "{}", show(&out));

    // The server is not started without its env.
    let out = call(command(), "ev", "echo", r#"{"message":"hi"}"#);
    assert_ne!(out.status.code(), Some(0), "{}", show(&out));

    assert!(
        !key_file(dir).exists(),
        "a run without the keyring wrote a key file"
    );
}

/// With the keyring back: the key is the one from before, the value is there, and the server
/// gets it.
fn assert_all_there(keyring: &PrivateKeyring, dir: &Path, key: &str, token: &str) {
    assert_eq!(doctor(keyring.cli(dir))["backend"], "keyring");
    assert_eq!(
        keyring.vault_key(dir).as_deref(),
        Some(key),
        "the keyring entry was replaced"
    );
    assert!(!key_file(dir).exists());
    let listed = listed_env(&run(
        keyring.cli(dir),
        &["--json", "servers", "list", "--show-secrets"],
    ));
    assert_eq!(
        listed,
        vec![(
            "ev".to_string(),
            serde_json::json!({ "KEYRING_TEST_TOKEN": token })
        )],
        "the saved value is back and nothing was added"
    );
}

/// Logs in with the keyring working: a server with a sealed env value, its key in the keyring.
fn set_up(keyring: &PrivateKeyring, dir: &Path, token: &str) -> String {
    ok(&add_everything_with(
        keyring.cli(dir),
        "ev",
        "KEYRING_TEST_TOKEN",
        token,
    ));
    assert_eq!(doctor(keyring.cli(dir))["backend"], "keyring");
    let key = keyring
        .vault_key(dir)
        .expect("the vault key is in the keyring");
    assert_eq!(key.len(), 64, "a 32-byte key in hex: {key}");
    assert!(
        !key_file(dir).exists(),
        "a key file beside a working keyring"
    );
    // Sealed: the value is in no file of the data dir in the clear (the database, its WAL).
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "the env value is in {} in the clear",
            path.display()
        );
    }
    key
}

/// The issue: one run without a reachable keyring made a new key file, and every saved secret
/// was lost. Each kind of outage, one after the other on the same data dir; the value survives
/// all of them and reaches the server once the keyring is back.
#[test]
fn a_run_without_the_keyring_locks_the_vault_and_loses_nothing() {
    let keyring = PrivateKeyring::start();
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();
    let token = "tok-sealed-4d1f";
    let key = set_up(&keyring, dir, token);

    for outage in [
        Outage::NobodyListens,
        Outage::NoSessionBus,
        Outage::TurnedOff,
    ] {
        assert_locked_and_untouched(
            || keyring.cli_without(dir, outage),
            dir,
            outage.reason(),
            token,
        );
        assert_eq!(
            keyring.vault_key(dir).as_deref(),
            Some(key.as_str()),
            "{outage:?} changed the keyring entry"
        );
    }

    assert_all_there(&keyring, dir, &key, token);
    // The sealed value is what the server is started with.
    let env: Value =
        serde_json::from_str(&result_text(&call(keyring.cli(dir), "ev", "get-env", "{}"))).unwrap();
    assert_eq!(env["KEYRING_TEST_TOKEN"], token);
    assert_eq!(
        result_text(&call(keyring.cli(dir), "ev", "echo", r#"{"message":"hi"}"#)),
        "Echo: hi"
    );
}

/// A locked login keyring, whose unlock prompt cannot be shown here (no prompter on the bus):
/// the prompt is dismissed, the vault is locked for that run (without hanging), nothing is
/// written; once the keyring is unlocked, the value is back. Both a keyring locked while the
/// daemon runs and one that starts locked.
#[test]
fn a_locked_keyring_locks_the_vault_until_it_is_unlocked() {
    let mut keyring = PrivateKeyring::start();
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();
    let token = "tok-locked-93ab";
    let key = set_up(&keyring, dir, token);

    keyring.lock();
    assert_locked_and_untouched(|| keyring.cli(dir), dir, "cannot be reached", token);

    keyring.restart_daemon(false);
    assert_locked_and_untouched(|| keyring.cli(dir), dir, "cannot be reached", token);

    keyring.restart_daemon(true);
    assert_all_there(&keyring, dir, &key, token);
}

/// A real OAuth login, its tokens sealed under the keyring's key, survives an outage: with the
/// keyring back, calls go through on the saved tokens, with no new login at the server.
#[test]
fn an_oauth_login_survives_a_keyring_outage() {
    let keyring = PrivateKeyring::start();
    let peer = oauth_peer();
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();

    ok(&run(
        keyring.cli(dir),
        &[
            "--json",
            "servers",
            "add",
            "remote",
            "--url",
            peer.resource(),
        ],
    ));
    let login = ok(&run(
        keyring.cli(dir),
        &[
            "--json",
            "login",
            "remote",
            "--browser",
            "follow",
            "--timeout",
            "10",
        ],
    ));
    assert_eq!(login.last().unwrap()["event"], "logged_in");
    let key = keyring
        .vault_key(dir)
        .expect("the vault key is in the keyring");
    let auth_status = |command: Command| {
        let status = ok(&run(command, &["--json", "auth-status", "remote"]))
            .pop()
            .unwrap();
        assert_eq!(status["event"], "auth_status", "{status}");
        status
    };
    assert_eq!(auth_status(keyring.cli(dir))["logged_in"], true);
    let before = peer.stats();
    assert_eq!(before["authorization_requests"], 1, "{before}");

    for outage in [
        Outage::NobodyListens,
        Outage::NoSessionBus,
        Outage::TurnedOff,
    ] {
        let report = doctor(keyring.cli_without(dir, outage));
        assert_eq!(report["backend"], "locked", "{outage:?}: {report}");
        // The tokens cannot be opened in this run, and the status says why.
        let status = auth_status(keyring.cli_without(dir, outage));
        assert_eq!(status["logged_in"], false, "{outage:?}: {status}");
        let problem = status["problem"].as_str().unwrap_or_default();
        assert!(
            problem.contains(outage.reason()),
            "{outage:?}: problem {problem:?}"
        );
        let out = run(
            keyring.cli_without(dir, outage),
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
        assert_ne!(out.status.code(), Some(0), "{outage:?}: {}", show(&out));
        assert!(!key_file(dir).exists(), "{outage:?} wrote a key file");
    }

    assert_eq!(doctor(keyring.cli(dir))["backend"], "keyring");
    assert_eq!(keyring.vault_key(dir).as_deref(), Some(key.as_str()));
    assert_eq!(auth_status(keyring.cli(dir))["logged_in"], true);
    assert_eq!(
        result_text(&call(
            keyring.cli(dir),
            "remote",
            "echo",
            r#"{"message":"back"}"#
        )),
        "Echo: back"
    );
    let after = peer.stats();
    for counter in [
        &["authorization_requests"][..],
        &["token_requests", "authorization_code"],
        &["interactions", "logins"],
    ] {
        let get = |v: &Value| counter.iter().fold(v.clone(), |v, k| v[*k].clone());
        assert_eq!(get(&after), get(&before), "{counter:?}: no new login");
    }
}
