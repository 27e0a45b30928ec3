//! The OAuth peer (tests/peers/oauth): oidc-provider plus a protected server-everything.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use patchbay_engine::Hub;
use patchbay_engine::store::Expected;
use patchbay_engine::vault::Secret;
use serde_json::Value;

use super::{node, peers_dir};

/// The OAuth peer process; killed on drop (its server-everything child goes with it).
pub struct AuthServer {
    child: Child,
    pub issuer: String,
    pub resource: String,
    http: reqwest::Client,
}

impl Drop for AuthServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl AuthServer {
    pub fn start(at_ttl: u32) -> AuthServer {
        Self::start_with(at_ttl, &[])
    }

    /// Guarding the legacy HTTP+SSE transport (`/sse` and its message endpoint) instead.
    pub fn start_sse(at_ttl: u32) -> AuthServer {
        Self::start_with(at_ttl, &[("UPSTREAM", "sse")])
    }

    /// With extra environment for the peer (e.g. `PREREG_CLIENT_ID`).
    pub fn start_with(at_ttl: u32, env: &[(&str, &str)]) -> AuthServer {
        let script = peers_dir().join("oauth/server.mjs");
        let mut child = Command::new(node())
            .arg(&script)
            .envs(env.iter().copied())
            .env("AT_TTL", at_ttl.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the OAuth peer");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("ready line");
        let ready: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("OAuth peer ready line {line:?}: {e}"));
        AuthServer {
            child,
            issuer: ready["issuer"].as_str().unwrap().into(),
            resource: ready["resource"].as_str().unwrap().into(),
            http: reqwest::Client::new(),
        }
    }

    /// A real first credential: DCR + authorization code + PKCE, done by the peer's headless
    /// browser script.
    pub async fn tokens(&self) -> Value {
        let out = tokio::process::Command::new(node())
            .arg(peers_dir().join("oauth/get-tokens.mjs"))
            .args(["--issuer", &self.issuer, "--resource", &self.resource])
            .output()
            .await
            .expect("run get-tokens.mjs");
        assert!(
            out.status.success(),
            "get-tokens failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("get-tokens JSON")
    }

    pub async fn stats(&self) -> Value {
        self.http
            .get(format!("{}/test/stats", self.issuer))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn refreshes(&self) -> u64 {
        self.stats().await["token_requests"]["refresh_token"]
            .as_u64()
            .unwrap()
    }

    /// Waits until the AS has received `n` refresh requests (counted on arrival, before any
    /// injected delay), so a test can act while one is in flight.
    pub async fn wait_for_refreshes(&self, n: u64) {
        for _ in 0..400 {
            if self.refreshes().await >= n {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("the AS never received {n} refresh requests");
    }

    pub async fn post(&self, path: &str) {
        let r = self
            .http
            .post(format!("{}{path}", self.issuer))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
    }

    /// Whether the resource server accepts `token` (an MCP initialize through the proxy).
    pub async fn accepts(&self, token: &Secret) -> bool {
        let body = serde_json::json!({
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "refresh-test", "version": "0"}}
        });
        let r = self
            .http
            .post(&self.resource)
            .bearer_auth(token.expose())
            .header("accept", "application/json, text/event-stream")
            .json(&body)
            .send()
            .await
            .unwrap();
        r.status() == 200
    }
}

/// Makes the server's stored access token look valid for another hour while the AS has (or
/// soon will have) expired it: the next request carries it and meets a 401.
pub async fn pretend_token_is_fresh(hub: &Hub, server: &str) {
    let refresher = hub.refresher().await;
    let creds = refresher.credentials();
    let cred = creds.current(server).await.unwrap().unwrap();
    let mut meta = cred.meta.clone();
    meta.expires_at_ms = meta.expires_at_ms.map(|at| at + 3_600_000);
    meta.issued_at_ms = None;
    creds
        .save(
            &cred.key,
            Expected::Version(cred.version),
            &cred.access_token,
            cred.refresh_token.as_ref(),
            None,
            meta,
        )
        .await
        .unwrap();
}
