//! The refresh coordinator: one refresh at a time per credential identity, across tasks and
//! across processes, bounded by a timeout, and never overwriting newer tokens.
//!
//! Who owns what:
//! - In one process, `inflight` maps a `CredentialKey` to the pending refresh (a spawned task
//!   behind a shared future). Callers that arrive while it runs await the same future; the task
//!   removes its own entry when it settles, so the table never holds a result and the next
//!   401 after that starts a fresh refresh.
//! - Across processes (the app and the CLI on one database), the row's lease decides who
//!   redeems the refresh token; the others wait until the row's version moves, then use the
//!   stored tokens. A rotating authorization server never sees one refresh token twice from us.
//! - Writes are compare-and-swap on the version the refresh read: a late answer loses to a
//!   newer login or refresh instead of overwriting it.
//! - A process whose lease holder has exited (killed mid-refresh) does not hold anyone up: the
//!   next process sees the holder's pid is gone and takes the lease over at once.
//! - A refresh that takes longer than `timeout` once it holds the lease is cancelled (its HTTP
//!   request is dropped) and its lease given back; an answer that had not arrived by then is never read, so never
//!   stored. (If the deadline falls during the store write itself, that write may still
//!   commit; it is compare-and-swap, so it can never replace newer tokens. A rotating AS that
//!   redeemed the token just before the deadline leaves us with a spent refresh token: the next
//!   refresh then gets `invalid_grant` and asks for a login.)

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use rand::RngCore;

use super::credentials::{Credential, CredentialMeta, Credentials, CredentialsError};
use super::token::{self, TokenError};
use crate::clock::now_ms;
use crate::store::{CredentialKey, Expected, Lease, StoreError};
use crate::vault::VaultError;

/// Default bound on one refresh; the hub keeps it shorter than the connect timeout (45 s), so
/// a connection attempt that needs a refresh can still finish after the refresh gives up.
pub const DEFAULT_REFRESH_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a process waiting on another's lease looks at the row again.
const LEASE_POLL: Duration = Duration::from_millis(50);

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RefreshError {
    /// Refresh cannot help: no refresh token, or the AS rejected the current one.
    #[error("server '{server}' needs a new login: {reason}")]
    NeedsLogin { server: String, reason: String },
    #[error(
        "refreshing the login of server '{server}' took longer than {secs}s and was cancelled; try again"
    )]
    TimedOut { server: String, secs: u64 },
    #[error("could not refresh the login of server '{server}': {message}")]
    Failed { server: String, message: String },
    /// The saved login cannot be opened this run (the vault is locked); it is kept, and works
    /// again once the key can be had. Not a reason to log in again.
    #[error("the saved login of server '{server}' cannot be opened: {reason}")]
    Locked { server: String, reason: String },
}

type Flight = Shared<BoxFuture<'static, Result<Credential, RefreshError>>>;

pub struct RefreshCoordinator {
    credentials: Credentials,
    http: reqwest::Client,
    timeout: Duration,
    /// This coordinator's name in the lease column.
    holder: String,
    inflight: Mutex<HashMap<CredentialKey, (u64, Flight)>>,
    flights: AtomicU64,
}

/// Whether the process named in a lease holder (`pid<N>-<tag>`, see `new`) has certainly exited.
/// Anything unclear (another format, a live pid, a pid we may not signal) counts as alive, and
/// the lease is simply waited out. A reused pid only makes us wait, never steal.
fn holder_is_gone(holder: &str) -> bool {
    let Some(pid) = holder
        .strip_prefix("pid")
        .and_then(|rest| rest.split('-').next())
        .and_then(|pid| pid.parse::<libc::pid_t>().ok())
        .filter(|pid| *pid > 0)
    else {
        return false;
    };
    // Signal 0 checks existence without signalling.
    // SAFETY: kill(2) with signal 0 sends nothing and touches no memory of ours.
    let failed = unsafe { libc::kill(pid, 0) } == -1;
    failed && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

impl RefreshCoordinator {
    pub fn new(credentials: Credentials, http: reqwest::Client, timeout: Duration) -> Arc<Self> {
        let mut tag = [0u8; 6];
        rand::rng().fill_bytes(&mut tag);
        let tag: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        Arc::new(RefreshCoordinator {
            credentials,
            http,
            timeout,
            holder: format!("pid{}-{tag}", std::process::id()),
            inflight: Mutex::new(HashMap::new()),
            flights: AtomicU64::new(0),
        })
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// Refreshes far enough ahead that a request sent now does not race the expiry: 10 s
    /// before, or a quarter of the token's lifetime for tokens shorter than 40 s.
    fn needs_refresh_soon(cred: &Credential) -> bool {
        let Some(at) = cred.meta.expires_at_ms else {
            return false;
        };
        let lifetime = cred.meta.issued_at_ms.map(|issued| at - issued);
        let margin = lifetime.map_or(10_000, |l| (l / 4).clamp(0, 10_000));
        at - now_ms() < margin
    }

    /// The server's credential, refreshed first when it expires within a few seconds
    /// (proactive refresh). `Ok(None)` when there is no credential at all.
    pub async fn current(
        self: &Arc<Self>,
        server: &str,
    ) -> Result<Option<Credential>, RefreshError> {
        let cred = match self.credentials.current(server).await {
            Ok(Some(c)) => c,
            Ok(None) => return Ok(None),
            Err(e) => return Err(needs_login_or_failed(server, e)),
        };
        if let Some(why) = &cred.refused {
            return Err(RefreshError::NeedsLogin {
                server: server.into(),
                reason: refused_reason(why),
            });
        }
        if !Self::needs_refresh_soon(&cred) || cred.refresh_token.is_none() {
            return Ok(Some(cred));
        }
        match self.refresh(&cred).await {
            Ok(fresh) => Ok(Some(fresh)),
            // A transient failure while the old token still works: use it, refresh later.
            Err(RefreshError::Failed { .. } | RefreshError::TimedOut { .. })
                if cred.meta.expires_at_ms.is_some_and(|at| at > now_ms()) =>
            {
                Ok(Some(cred))
            }
            Err(e) => Err(e),
        }
    }

    /// Called with the credential a request was sent with when the server said 401 (or when it
    /// is about to expire). Returns a newer credential: one this call refreshed, or one that
    /// another task or process stored meanwhile. Concurrent callers for one identity share one
    /// refresh.
    pub async fn refresh(self: &Arc<Self>, stale: &Credential) -> Result<Credential, RefreshError> {
        let flight = {
            let mut inflight = self.inflight.lock().unwrap();
            match inflight.get(&stale.key) {
                Some((_, flight)) => flight.clone(),
                None => {
                    let id = self.flights.fetch_add(1, Ordering::Relaxed);
                    let flight = self.launch(id, stale.key.clone(), stale.version);
                    inflight.insert(stale.key.clone(), (id, flight.clone()));
                    flight
                }
            }
        };
        flight.await
    }

    /// Runs the refresh as its own task, so it finishes (and clears its entry) even if every
    /// caller stops waiting.
    fn launch(self: &Arc<Self>, id: u64, key: CredentialKey, seen: i64) -> Flight {
        let this = self.clone();
        let server = key.server.clone();
        let span = tracing::info_span!("refresh", server = %key.server);
        let task = tokio::spawn(tracing::Instrument::instrument(
            async move {
                let outcome = this.fly(&key, seen).await;
                let mut inflight = this.inflight.lock().unwrap();
                if inflight
                    .get(&key)
                    .is_some_and(|(current, _)| *current == id)
                {
                    inflight.remove(&key);
                }
                outcome
            },
            span,
        ));
        async move {
            task.await.unwrap_or_else(|e| {
                Err(RefreshError::Failed {
                    server,
                    message: format!("the refresh task failed: {e}"),
                })
            })
        }
        .boxed()
        .shared()
    }

    async fn fly(&self, key: &CredentialKey, seen: i64) -> Result<Credential, RefreshError> {
        let server = key.server.clone();
        let store = self.credentials.store();
        let failed = |message: String| RefreshError::Failed {
            server: server.clone(),
            message,
        };
        // Take the lease, or find that someone already moved the row on. Waiting for another
        // holder is bounded by its lease (at most `timeout`), and cut short when its process is
        // gone: a refresh killed mid-flight must not make the next one wait out its lease.
        let mut dead: Option<String> = None;
        loop {
            let until = now_ms() + i64::try_from(self.timeout.as_millis()).unwrap_or(i64::MAX / 4);
            match store
                .take_over(key, seen, &self.holder, until, dead.as_deref())
                .await
                .map_err(|e| failed(e.to_string()))?
            {
                Lease::Granted => break,
                Lease::Changed(Some(row)) => {
                    tracing::debug!("another refresh or login got there first; using its tokens");
                    return self
                        .credentials
                        .open_row(row)
                        .await
                        .map_err(|e| needs_login_or_failed(&server, e));
                }
                Lease::Changed(None) => {
                    return Err(RefreshError::NeedsLogin {
                        server,
                        reason: "the saved login was removed".into(),
                    });
                }
                Lease::Held { until_ms, holder } => {
                    if holder_is_gone(&holder) {
                        tracing::info!(%holder, "the process holding the refresh lease is gone; taking it over");
                        dead = Some(holder);
                        continue;
                    }
                    let left =
                        Duration::from_millis(u64::try_from(until_ms - now_ms()).unwrap_or(0));
                    tokio::time::sleep(left.min(LEASE_POLL).max(Duration::from_millis(5))).await;
                }
            }
        }
        // The timeout bounds the refresh itself, from the moment we hold the lease: time spent
        // waiting for another holder does not eat into it.
        let outcome = match tokio::time::timeout(self.timeout, self.redeem(key, seen)).await {
            Ok(outcome) => outcome,
            Err(_) => {
                tracing::warn!(
                    secs = self.timeout.as_secs(),
                    "refresh timed out; cancelled"
                );
                Err(RefreshError::TimedOut {
                    server: server.clone(),
                    secs: self.timeout.as_secs().max(1),
                })
            }
        };
        if outcome.is_err() {
            let _ = store.release_lease(key, &self.holder).await;
        }
        outcome
    }

    /// Holding the lease on the row at `seen`: send its refresh token and store the answer.
    async fn redeem(&self, key: &CredentialKey, seen: i64) -> Result<Credential, RefreshError> {
        let server = key.server.clone();
        let cred = match self.credentials.get(key).await {
            Ok(Some(c)) if c.version == seen => c,
            Ok(_) => {
                return self
                    .newer_than(key, seen)
                    .await
                    .ok_or(RefreshError::NeedsLogin {
                        server,
                        reason: "the saved login was removed".into(),
                    });
            }
            Err(e) => return Err(needs_login_or_failed(&server, e)),
        };
        if let Some(why) = &cred.refused {
            return Err(RefreshError::NeedsLogin {
                server,
                reason: refused_reason(why),
            });
        }
        let Some(refresh_token) = cred.refresh_token.clone() else {
            return Err(RefreshError::NeedsLogin {
                server,
                reason: "the authorization server gave no refresh token".into(),
            });
        };
        match token::refresh(&self.http, &cred, &refresh_token).await {
            Ok(grant) => {
                let meta = CredentialMeta {
                    expires_at_ms: grant.expires_at_ms,
                    issued_at_ms: Some(grant.issued_at_ms),
                    scopes: grant.scopes.unwrap_or_else(|| cred.meta.scopes.clone()),
                    ..cred.meta.clone()
                };
                // A rotated refresh token is stored in the same write as its access token.
                let refresh_token = grant.refresh_token.or(cred.refresh_token.clone());
                match self
                    .credentials
                    .save(
                        key,
                        Expected::Version(seen),
                        &grant.access_token,
                        refresh_token.as_ref(),
                        cred.client_secret.as_ref(),
                        meta,
                    )
                    .await
                {
                    Ok(fresh) => {
                        tracing::info!(version = fresh.version, "refreshed");
                        Ok(fresh)
                    }
                    Err(CredentialsError::Store(StoreError::Conflict { .. })) => {
                        // A newer login landed while we refreshed: it wins, ours is dropped.
                        tracing::info!("a newer credential was stored meanwhile; keeping it");
                        self.newer_than(key, seen)
                            .await
                            .ok_or_else(|| RefreshError::NeedsLogin {
                                server,
                                reason: "the saved login was removed".into(),
                            })
                    }
                    Err(e) => Err(needs_login_or_failed(&key.server, e)),
                }
            }
            // A stored token endpoint that breaks the rule can never be refreshed at.
            Err(TokenError::Unsafe(why)) => Err(RefreshError::NeedsLogin {
                server,
                reason: why,
            }),
            Err(TokenError::InvalidGrant(why)) => {
                // Only the rejection of the refresh token that is still current means a login
                // is needed; if another process stored newer tokens meanwhile, use those.
                if let Some(newer) = self.newer_than(key, seen).await {
                    return Ok(newer);
                }
                // Dead for every process from now on: `auth-status`, lists, `doctor` and the
                // app's badge say "needs login", and nobody sends this refresh token again.
                // (Compare-and-swap: a login that landed meanwhile stays usable.)
                tracing::info!("refresh token rejected; a login is needed");
                if let Err(e) = self.credentials.store().mark_refused(key, seen, &why).await {
                    tracing::warn!("could not mark the refused login: {e}");
                }
                if let Some(newer) = self.newer_than(key, seen).await {
                    return Ok(newer);
                }
                Err(RefreshError::NeedsLogin {
                    server,
                    reason: refused_reason(&why),
                })
            }
            Err(e) => Err(RefreshError::Failed {
                server,
                message: e.to_string(),
            }),
        }
    }

    /// The server's current credential, if it is not the one read at `seen` (a newer
    /// refresh, or a newer login, possibly under another client id).
    async fn newer_than(&self, key: &CredentialKey, seen: i64) -> Option<Credential> {
        match self.credentials.current(&key.server).await {
            Ok(Some(c)) if !(c.key == *key && c.version == seen) => Some(c),
            _ => None,
        }
    }
}

/// Why a refused login needs a new one, in the person's words.
pub(crate) fn refused_reason(why: &str) -> String {
    format!("the authorization server refused the saved login ({why}); log in again")
}

/// A credential the vault cannot open means "log in again"; a locked vault means "not now"
/// (the login is kept); a database error is a failure.
fn needs_login_or_failed(server: &str, e: CredentialsError) -> RefreshError {
    match e {
        CredentialsError::Vault(VaultError::Locked(reason)) => RefreshError::Locked {
            server: server.into(),
            reason,
        },
        CredentialsError::Vault(v) => RefreshError::NeedsLogin {
            server: server.into(),
            reason: v.to_string(),
        },
        CredentialsError::Store(s) => RefreshError::Failed {
            server: server.into(),
            message: s.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::holder_is_gone;

    #[test]
    fn only_a_holder_whose_process_has_exited_is_gone() {
        assert!(!holder_is_gone(&format!("pid{}-abc", std::process::id())));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(holder_is_gone(&format!("pid{pid}-abc")));
        // Unknown shapes are treated as alive: wait the lease out rather than steal it.
        for other in ["app", "pid-x", "pid0-a", ""] {
            assert!(!holder_is_gone(other), "{other}");
        }
    }
}
