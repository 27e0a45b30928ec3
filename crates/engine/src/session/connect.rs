//! One connection attempt for each kind of transport, and the words for what went wrong.

use std::collections::{BTreeMap, HashMap};
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rmcp::model::{ProtocolVersion, ServerResult};
use rmcp::service::{ClientInitializeError, ClientLifecycleMode, ClientServiceExt};
use rmcp::transport::async_rw::AsyncRwTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, Transport};
use tokio_util::sync::CancellationToken;

use super::Inbox;
use super::actor::Live;
use super::client::{NotificationTap, Observed, PatchbayClient};
use super::process::{ServerLog, ServerProcess, StdioSpec};
use crate::auth::AuthContext;
use crate::causes::describe;
use crate::config::{ServerDef, TransportDef};
use crate::definitions::NotStarted;
use crate::events::EventBus;
use crate::roots::Roots;
use crate::transport::authorized::{AuthorizedHttp, Bearer, LastCause};
use crate::transport::common_stream::CommonStream;
use crate::transport::sse::{SseClientTransport, SseLogin, SseTransportError};

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("server '{server}': command '{command}' was not found; check the command and PATH")]
    CommandNotFound { server: String, command: String },
    #[error("server '{server}': could not start '{command}': {source}")]
    Spawn {
        server: String,
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Exited(String),
    #[error("server '{server}' did not answer the MCP handshake within {}s{}", after.as_secs(), hint.as_deref().map(|h| format!("; {h}")).unwrap_or_default())]
    Timeout {
        server: String,
        after: Duration,
        hint: Option<String>,
    },
    #[error("server '{server}': cannot reach {url}: {detail}")]
    Unreachable {
        server: String,
        url: String,
        detail: String,
    },
    #[error("server '{server}': the MCP handshake failed: {detail}")]
    Handshake { server: String, detail: String },
    /// `challenge`: the server's `WWW-Authenticate`, which says where to log in and which
    /// scopes it wants.
    #[error("server needs a login")]
    NeedsAuth { challenge: Option<String> },
    #[error("cancelled")]
    Cancelled,
    /// The `server/discover` probe got an answer that is neither a discover result nor an
    /// error (an empty result): the attempt is made again with `initialize`. Never leaves
    /// `connect`.
    #[error("the server's answer to server/discover could not be read")]
    ProbeMisread,
    /// The env or header values could not be had (the vault is locked, or a value is missing).
    /// Not retried by itself: each try could raise the keyring's prompt again; Reconnect tries.
    #[error("{0}")]
    Secrets(String),
    /// Removed, unreadable, or an imported local server the person has not confirmed yet.
    #[error("{0}")]
    NotStarted(String),
}

impl ConnectError {
    /// Whether trying the same thing again later may work.
    pub fn retry_can_help(&self) -> bool {
        !matches!(
            self,
            ConnectError::CommandNotFound { .. }
                | ConnectError::NeedsAuth { .. }
                | ConnectError::Secrets(_)
                | ConnectError::NotStarted(_)
        )
    }
}

/// How long a connection waits, after the handshake, for a 2025-era session's event stream to
/// open (see `transport::common_stream`); a server that never answers that GET is used anyway.
const COMMON_STREAM_WAIT: Duration = Duration::from_secs(5);

/// "server 'x' exited with status 1: <last stderr line>"
pub fn exit_message(server: &str, status: Option<ExitStatus>, last_line: Option<String>) -> String {
    use std::os::unix::process::ExitStatusExt;
    let how = match status {
        Some(s) if s.code().is_some() => format!("exited with status {}", s.code().unwrap()),
        Some(s) => format!("was killed by signal {}", s.signal().unwrap_or_default()),
        None => "closed its connection".to_string(),
    };
    match last_line {
        Some(line) => format!(
            "server '{server}' {how}: {}",
            crate::causes::bounded(&line, crate::causes::SERVER_TEXT)
        ),
        None => format!("server '{server}' {how}"),
    }
}

/// A definition's headers as HTTP headers, in order; the first name or value HTTP does not
/// allow fails the attempt, naming it.
fn http_headers(
    server: &str,
    headers: &BTreeMap<String, String>,
) -> Result<Vec<(http::HeaderName, http::HeaderValue)>, ConnectError> {
    headers
        .iter()
        .map(|(k, v)| {
            match (
                http::HeaderName::from_bytes(k.as_bytes()),
                http::HeaderValue::from_str(v),
            ) {
                (Ok(k), Ok(v)) => Ok((k, v)),
                _ => Err(ConnectError::Handshake {
                    server: server.to_string(),
                    detail: format!("header {k:?} is not valid"),
                }),
            }
        })
        .collect()
}

/// `initialize_first`: the server misread `server/discover` on an earlier connection of this
/// session, so this one starts with `initialize` (one spawn or handshake, not two, per
/// reconnect). A new session (a new run, an edited definition) probes again.
#[allow(clippy::too_many_arguments)]
pub(super) async fn connect(
    def: &ServerDef,
    bus: &EventBus,
    log: &ServerLog,
    inbox: &Arc<Inbox>,
    auth: &AuthContext,
    roots: &Roots,
    timeout: Duration,
    cancel: CancellationToken,
    initialize_first: bool,
) -> Result<Live, ConnectError> {
    let attempt = |lifecycle| {
        connect_with(
            def,
            bus,
            log,
            inbox,
            auth,
            roots,
            timeout,
            cancel.clone(),
            lifecycle,
        )
    };
    let first = if initialize_first {
        Lifecycle::Initialize
    } else {
        Lifecycle::Probe
    };
    let (mut live, started_with) = match attempt(first).await {
        // Some 2025-era servers answer any method they do not know with an empty result, which
        // rmcp's probe cannot read as "no": a fresh connection goes straight to `initialize`.
        Err(ConnectError::ProbeMisread) => {
            tracing::info!(server = %def.name, "server/discover was misread; using initialize");
            (attempt(Lifecycle::Initialize).await?, Lifecycle::Initialize)
        }
        other => (other?, first),
    };
    live.initialize_first = started_with == Lifecycle::Initialize;
    Ok(live)
}

/// How a connection starts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lifecycle {
    /// `server/discover`, falling back to `initialize` when the server does not know it.
    Probe,
    /// `initialize` only.
    Initialize,
}

impl Lifecycle {
    /// Both eras, chosen per server; rmcp's `Auto` does the probing and the fallback.
    fn mode(self) -> ClientLifecycleMode {
        match self {
            Lifecycle::Probe => ClientLifecycleMode::Auto {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
                legacy_version: Some(ProtocolVersion::LATEST_WITH_INITIALIZE),
            },
            Lifecycle::Initialize => ClientLifecycleMode::Initialize,
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn connect_with(
    def: &ServerDef,
    bus: &EventBus,
    log: &ServerLog,
    inbox: &Arc<Inbox>,
    auth: &AuthContext,
    roots: &Roots,
    timeout: Duration,
    cancel: CancellationToken,
    lifecycle: Lifecycle,
) -> Result<Live, ConnectError> {
    // What runs is the definition as stored now, with its values from the vault; they live
    // only as long as this attempt needs them.
    let def = &crate::definitions::for_start(auth.store(), auth.vault(), &def.name)
        .await
        .map_err(|e| match e {
            NotStarted::Secrets(e) => ConnectError::Secrets(e.to_string()),
            other => ConnectError::NotStarted(other.to_string()),
        })?;
    // One HTTP client for the whole hub (connection pool, redirect policy).
    let http = auth.http();
    let tap: NotificationTap = {
        let (server, bus, inbox) = (def.name.clone(), bus.clone(), inbox.clone());
        Arc::new(move |n| inbox.observe(&server, &bus, n))
    };
    let name = def.name.clone();
    let client = PatchbayClient::new(
        name.clone(),
        bus.clone(),
        inbox.elicitations.clone(),
        inbox.samplings.clone(),
        roots.clone(),
    );
    match &def.transport {
        TransportDef::Stdio {
            command,
            args,
            env,
            cwd,
        } => {
            let spec = StdioSpec {
                command,
                args,
                env,
                cwd: cwd.as_ref(),
            };
            let spawned =
                ServerProcess::spawn(&name, spec, log.clone(), bus.clone()).map_err(|source| {
                    if source.kind() == std::io::ErrorKind::NotFound {
                        ConnectError::CommandNotFound {
                            server: name.clone(),
                            command: command.clone(),
                        }
                    } else {
                        ConnectError::Spawn {
                            server: name.clone(),
                            command: command.clone(),
                            source,
                        }
                    }
                })?;
            let mut process = spawned.process;
            let transport = Observed::new(
                AsyncRwTransport::new_client(spawned.stdout, spawned.stdin),
                tap,
            );
            let outcome = handshake(transport, client.clone(), lifecycle, timeout, &cancel).await;
            match outcome {
                Ok(connected) => Ok(connected.into_live(Some(process))),
                Err(Failure::Cancelled) => {
                    process.shutdown().await;
                    Err(ConnectError::Cancelled)
                }
                Err(Failure::ProbeMisread) => {
                    process.shutdown().await;
                    Err(ConnectError::ProbeMisread)
                }
                Err(Failure::Timeout) => {
                    let hint = log
                        .lines()
                        .into_iter()
                        .rev()
                        .find(|l| l.starts_with("stdout (not MCP)"))
                        .map(|l| format!("it printed text that is not MCP on stdout ({l})"));
                    process.shutdown().await;
                    Err(ConnectError::Timeout {
                        server: name,
                        after: timeout,
                        hint,
                    })
                }
                Err(Failure::Init(e)) => {
                    // Most often the process died before answering; its status says more.
                    let status = match process.try_status() {
                        Some(s) => Some(s),
                        None => process.wait_for_exit(Duration::from_millis(500)).await,
                    };
                    process.drain_stderr(Duration::from_millis(500)).await;
                    process.shutdown().await;
                    if status.is_some() || matches!(*e, ClientInitializeError::ConnectionClosed(_))
                    {
                        Err(ConnectError::Exited(exit_message(
                            &name,
                            status,
                            log.telling_line(),
                        )))
                    } else {
                        Err(ConnectError::Handshake {
                            server: name,
                            detail: describe(&*e),
                        })
                    }
                }
            }
        }
        TransportDef::Http { url, headers } => {
            let custom: HashMap<_, _> = http_headers(&name, headers)?.into_iter().collect();
            // A person's own Authorization header wins over OAuth (an API key, a static token).
            let own_auth = custom.contains_key(&http::header::AUTHORIZATION);
            if !own_auth {
                saved_login_usable(&name, auth, url).await?;
            }
            let config = StreamableHttpClientTransportConfig::with_uri(url.as_str())
                .custom_headers(custom)
                // The default of 16 would queue a 32-wide burst of calls behind itself.
                .max_concurrent_requests(128);
            let cause = LastCause::default();
            let common = CommonStream::default();
            // A person's own Authorization header goes as they wrote it, with no saved login.
            let bearer = (!own_auth).then(|| Bearer::new(name.clone(), auth.clone()));
            let authorized =
                AuthorizedHttp::new(http.clone(), bearer, cause.clone(), common.clone());
            let transport = Observed::new(
                StreamableHttpClientTransport::with_client(authorized, config),
                tap,
            );
            let started = Instant::now();
            let outcome = handshake(transport, client.clone(), lifecycle, timeout, &cancel).await;
            if outcome.is_ok() {
                // Connected means the server can reach us: a 2025-era session's own stream is
                // open before the first call can make the server ask something on it.
                let left = timeout
                    .saturating_sub(started.elapsed())
                    .min(COMMON_STREAM_WAIT);
                let opened = tokio::select! {
                    opened = common.opened(left) => opened,
                    // A disconnect or shutdown does not wait for it.
                    _ = cancel.cancelled() => true,
                };
                if !opened {
                    tracing::warn!(server = %name, "the session's event stream did not open within {left:?}; going on without waiting");
                }
            }
            match outcome {
                Ok(connected) => Ok(connected.into_live(None)),
                Err(f) => Err(remote_failure(&name, url, timeout, f, cause.take())),
            }
        }
        TransportDef::Sse { url, headers } => {
            let map: reqwest::header::HeaderMap =
                http_headers(&name, headers)?.into_iter().collect();
            // As for Streamable HTTP: a person's own Authorization header wins over OAuth.
            if !map.contains_key(http::header::AUTHORIZATION) {
                saved_login_usable(&name, auth, url).await?;
            }
            let login = (!map.contains_key(http::header::AUTHORIZATION)).then(|| SseLogin {
                bearer: Bearer::new(name.clone(), auth.clone()),
                stream_url: url.clone(),
            });
            let started = Instant::now();
            let opened = tokio::select! {
                r = tokio::time::timeout(timeout, SseClientTransport::connect(http.clone(), url, map, login)) => r,
                _ = cancel.cancelled() => return Err(ConnectError::Cancelled),
            };
            let transport = match opened {
                Err(_) => {
                    return Err(ConnectError::Timeout {
                        server: name,
                        after: timeout,
                        hint: None,
                    });
                }
                Ok(Err(SseTransportError::Unauthorized { www_authenticate })) => {
                    return Err(ConnectError::NeedsAuth {
                        challenge: www_authenticate,
                    });
                }
                Ok(Err(e)) => {
                    return Err(ConnectError::Unreachable {
                        server: name,
                        url: url.clone(),
                        detail: describe(&e),
                    });
                }
                Ok(Ok(t)) => t,
            };
            let remaining = timeout
                .saturating_sub(started.elapsed())
                .max(Duration::from_secs(1));
            match handshake(
                Observed::new(transport, tap),
                client.clone(),
                lifecycle,
                remaining,
                &cancel,
            )
            .await
            {
                Ok(connected) => Ok(connected.into_live(None)),
                Err(f) => Err(remote_failure(&name, url, timeout, f, None)),
            }
        }
        TransportDef::Unreadable { .. } => unreachable!("for_start refuses it"),
    }
}

/// A saved login that cannot be read this run (the vault is locked) stops the attempt with the
/// vault's own reason, rather than going out without a token and coming back as "needs login":
/// the login is kept, and a login would not help.
async fn saved_login_usable(
    server: &str,
    auth: &AuthContext,
    url: &str,
) -> Result<(), ConnectError> {
    match Bearer::new(server.to_string(), auth.clone())
        .credential(url)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => Err(ConnectError::Secrets(e.0)),
    }
}

/// `cause`: why the transport could not send at all, when it knows (see `LastCause`).
fn remote_failure(
    name: &str,
    url: &str,
    timeout: Duration,
    f: Failure,
    cause: Option<String>,
) -> ConnectError {
    match f {
        Failure::Cancelled => ConnectError::Cancelled,
        Failure::ProbeMisread => ConnectError::ProbeMisread,
        Failure::Timeout => ConnectError::Timeout {
            server: name.to_string(),
            after: timeout,
            hint: None,
        },
        Failure::Init(e) if e.is_authorization_required() || e.auth_challenge().is_some() => {
            ConnectError::NeedsAuth {
                challenge: e.auth_challenge().map(String::from),
            }
        }
        Failure::Init(e) if matches!(*e, ClientInitializeError::TransportError { .. }) => {
            ConnectError::Unreachable {
                server: name.to_string(),
                url: url.to_string(),
                detail: cause.unwrap_or_else(|| describe(&*e)),
            }
        }
        Failure::Init(e) => ConnectError::Handshake {
            server: name.to_string(),
            detail: describe(&*e),
        },
    }
}

enum Failure {
    Cancelled,
    ProbeMisread,
    Timeout,
    Init(Box<ClientInitializeError>),
}

/// A finished handshake, before the actor takes it over.
pub(super) struct Connected {
    service: rmcp::service::RunningService<rmcp::RoleClient, PatchbayClient>,
}

impl Connected {
    fn into_live(self, process: Option<ServerProcess>) -> Live {
        let stop = Some(self.service.cancellation_token());
        let peer = self.service.peer().clone();
        Live {
            stop,
            ended: Box::pin(self.service.waiting()),
            peer,
            process,
            since: Instant::now(),
            ended_with: None,
            initialize_first: false,
        }
    }
}

/// The handshake over `transport`, bounded by `timeout` and abandoned on `cancel`.
async fn handshake<T>(
    transport: T,
    client: PatchbayClient,
    lifecycle: Lifecycle,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<Connected, Failure>
where
    T: Transport<rmcp::RoleClient> + 'static,
{
    tokio::select! {
        r = tokio::time::timeout(timeout, client.serve_with_lifecycle(transport, lifecycle.mode())) => match r {
            Ok(Ok(service)) => Ok(Connected { service }),
            Ok(Err(ClientInitializeError::ExpectedInitResult(Some(ServerResult::EmptyResult(_)))))
                if lifecycle == Lifecycle::Probe => Err(Failure::ProbeMisread),
            Ok(Err(e)) => Err(Failure::Init(Box::new(e))),
            Err(_) => Err(Failure::Timeout),
        },
        _ = cancel.cancelled() => Err(Failure::Cancelled),
    }
}
