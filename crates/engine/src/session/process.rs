//! A stdio server's process: spawned in its own process group so that it and every child it
//! starts can be signalled together, its stderr kept as the server's log, and a shutdown that
//! leaves nothing behind.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::pin::Pin;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use process_wrap::tokio::{ChildWrapper, CommandWrap, KillOnDrop, ProcessGroup};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader, ReadBuf};
use tokio::process::{ChildStdin, ChildStdout};

use crate::events::{Event, EventBus};

/// How many lines of a server's output are kept for the details view and error messages.
const LOG_LINES: usize = 500;

/// The server's own log: stderr lines and any non-MCP text it printed on stdout.
#[derive(Clone, Default)]
pub struct ServerLog {
    lines: Arc<Mutex<VecDeque<String>>>,
}

impl ServerLog {
    pub fn push(&self, line: String) {
        let mut lines = self.lines.lock().unwrap();
        if lines.len() == LOG_LINES {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().iter().cloned().collect()
    }

    pub fn last_line(&self) -> Option<String> {
        self.lines.lock().unwrap().back().cloned()
    }

    /// The line that best says why a server died: the last of its final lines that reads like
    /// an error ("Error: Cannot find module ..."), else the last line. Runtimes print a banner
    /// after the error ("Node.js v22.1.0"), which alone tells a person nothing.
    pub fn telling_line(&self) -> Option<String> {
        let lines = self.lines.lock().unwrap();
        let recent = lines.iter().rev().take(40);
        let errorish = |l: &&String| {
            let t = l.trim_start();
            !t.starts_with("at ")
                && (t.contains("Error")
                    || t.contains("Exception")
                    || t.to_ascii_lowercase().starts_with("error")
                    || t.contains("fatal")
                    || t.contains("panicked"))
        };
        recent
            .clone()
            .find(errorish)
            .or_else(|| lines.back())
            .cloned()
    }
}

pub struct ServerProcess {
    child: Box<dyn ChildWrapper>,
    pub pid: u32,
    /// The task copying stderr into the log; finished once stderr is closed.
    stderr_reader: Option<tokio::task::JoinHandle<()>>,
}

pub struct SpawnedServer {
    pub process: ServerProcess,
    pub stdout: StdoutTap<ChildStdout>,
    pub stdin: ChildStdin,
}

pub struct StdioSpec<'a> {
    pub command: &'a str,
    pub args: &'a [String],
    pub env: &'a BTreeMap<String, String>,
    pub cwd: Option<&'a PathBuf>,
}

impl ServerProcess {
    pub fn spawn(
        server: &str,
        spec: StdioSpec<'_>,
        log: ServerLog,
        bus: EventBus,
    ) -> std::io::Result<SpawnedServer> {
        let mut cmd = tokio::process::Command::new(spec.command);
        // The server gets Patchbay's environment without Patchbay's own variables (which may
        // carry a client secret or name the data dir), plus its own.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("PATCHBAY_") {
                cmd.env_remove(&key);
            }
        }
        cmd.args(spec.args)
            .envs(spec.env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(cwd) = spec.cwd {
            cmd.current_dir(cwd);
        }
        #[cfg(target_os = "linux")]
        unsafe {
            // If Patchbay itself dies without a chance to clean up, the kernel kills the server.
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut wrap = CommandWrap::from(cmd);
        // Own process group: a shutdown signals the server and every process it started.
        wrap.wrap(ProcessGroup::leader()).wrap(KillOnDrop);
        let mut child = wrap.spawn()?;
        let pid = child.id().unwrap_or_default();
        let stdin = child.stdin().take().expect("stdin is piped");
        let stdout = child.stdout().take().expect("stdout is piped");
        let stderr_reader = child.stderr().take().map(|stderr| {
            let (server, log, bus) = (server.to_string(), log.clone(), bus.clone());
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    log.push(line.clone());
                    bus.publish(Event::ServerOutput {
                        server: server.clone(),
                        line,
                    });
                }
            })
        });
        let stdout = StdoutTap::new(stdout, server.to_string(), log, bus);
        Ok(SpawnedServer {
            process: ServerProcess {
                child,
                pid,
                stderr_reader,
            },
            stdout,
            stdin,
        })
    }

    /// Waits (briefly) until everything the process wrote to stderr is in the log, so an error
    /// message can quote its last words. Bounded: a grandchild may hold stderr open.
    pub async fn drain_stderr(&mut self, within: Duration) {
        if let Some(reader) = self.stderr_reader.as_mut()
            && tokio::time::timeout(within, reader).await.is_ok()
        {
            self.stderr_reader = None;
        }
    }

    /// The exit status if the process has already exited.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits a little for the process to exit by itself (its stdin is closed by then).
    pub async fn wait_for_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        tokio::time::timeout(within, self.child.wait())
            .await
            .ok()
            .and_then(Result::ok)
    }

    /// The MCP stdio shutdown: the caller has closed stdin; then SIGTERM, then SIGKILL, each to
    /// the whole group, so no grandchild survives. Returns the exit status when known.
    pub async fn shutdown(mut self) -> Option<ExitStatus> {
        let mut status = self.wait_for_exit(Duration::from_millis(500)).await;
        if status.is_none() {
            let _ = self.child.signal(libc::SIGTERM);
            status = self.wait_for_exit(Duration::from_secs(2)).await;
        }
        // Always sweep the group: the leader may be gone while children it started live on.
        let _ = self.child.start_kill();
        if status.is_none() {
            status = self.wait_for_exit(Duration::from_secs(2)).await;
        }
        self.wait_for_group_gone(Duration::from_secs(1)).await;
        status
    }

    /// SIGKILL is asynchronous: wait (bounded) until no process of the group is left, so that
    /// "disconnected" really means gone.
    async fn wait_for_group_gone(&self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        // The group id is the leader's pid (ProcessGroup::leader).
        let pgid = self.pid as libc::pid_t;
        while pgid > 0 && tokio::time::Instant::now() < deadline {
            if unsafe { libc::killpg(pgid, 0) } != 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Passes stdout through to rmcp unchanged, remembering lines that are not JSON-RPC so that
/// "this server printed garbage" can be told to the person instead of a silent hang
/// (rmcp's codec skips unparsable lines).
pub struct StdoutTap<R> {
    inner: R,
    partial: Vec<u8>,
    server: String,
    log: ServerLog,
    bus: EventBus,
}

impl<R> StdoutTap<R> {
    fn new(inner: R, server: String, log: ServerLog, bus: EventBus) -> Self {
        StdoutTap {
            inner,
            partial: Vec::new(),
            server,
            log,
            bus,
        }
    }

    fn scan(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if b == b'\n' {
                let line = String::from_utf8_lossy(&self.partial).trim().to_string();
                self.partial.clear();
                if !line.is_empty() && !line.starts_with('{') && !line.starts_with('[') {
                    let line = format!("stdout (not MCP): {line}");
                    self.log.push(line.clone());
                    self.bus.publish(Event::ServerOutput {
                        server: self.server.clone(),
                        line,
                    });
                }
            } else if self.partial.len() < 1024 {
                // Only the start of a line is needed to tell JSON from text.
                self.partial.push(b);
            }
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for StdoutTap<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &poll {
            this.scan(&buf.filled()[before..]);
        }
        poll
    }
}

#[cfg(test)]
mod log_tests {
    use super::ServerLog;

    #[test]
    fn the_error_is_the_telling_line_not_the_runtime_banner_after_it() {
        let log = ServerLog::default();
        for line in [
            "node:internal/modules/cjs/loader:1228",
            "  throw err;",
            "Error: Cannot find module '/x/index.jsstdio'",
            "    at Module._resolveFilename (node:internal/modules/cjs/loader:1225:15)",
            "  code: 'MODULE_NOT_FOUND',",
            "",
            "Node.js v22.23.3",
        ] {
            log.push(line.into());
        }
        assert_eq!(
            log.telling_line().as_deref(),
            Some("Error: Cannot find module '/x/index.jsstdio'")
        );
        let quiet = ServerLog::default();
        quiet.push("bye".into());
        assert_eq!(quiet.telling_line().as_deref(), Some("bye"));
        assert_eq!(ServerLog::default().telling_line(), None);
    }
}
