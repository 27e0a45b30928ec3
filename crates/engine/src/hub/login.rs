//! Logging in to a remote server: one login flight per server however many callers ask (the
//! `logins` table holds the flight and its cancel, never a result), its cancel, the saved
//! login's status, and logout.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use tokio::sync::{broadcast, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{Hub, HubError};
use crate::auth::browser::BrowserMode;
use crate::auth::{
    self, AuthStatus, LoginError, LoginObserver, LoginRequest, LogoutReport, RefreshCoordinator,
};
use crate::events::{Event, EventBus, ServerState};

type LoginFlight = Shared<BoxFuture<'static, Result<AuthStatus, LoginError>>>;

/// The logins under way, by server: each one's flight (which every caller awaits) and its
/// cancel. Holds no result: a flight is removed as it ends.
#[derive(Default)]
pub(super) struct Logins(Mutex<HashMap<String, (CancellationToken, LoginFlight)>>);

impl Logins {
    fn get(&self, server: &str) -> Option<(CancellationToken, LoginFlight)> {
        self.0.lock().unwrap().get(server).cloned()
    }

    /// Makes `flight` the server's login, unless one is under way: then that one, to join.
    fn claim(
        &self,
        server: &str,
        cancel: &CancellationToken,
        flight: &LoginFlight,
    ) -> Option<LoginFlight> {
        match self.0.lock().unwrap().entry(server.to_string()) {
            Entry::Occupied(running) => Some(running.get().1.clone()),
            Entry::Vacant(slot) => {
                slot.insert((cancel.clone(), flight.clone()));
                None
            }
        }
    }

    fn finished(&self, server: &str) {
        self.0.lock().unwrap().remove(server);
    }
}

/// Publishes a login's progress on the bus.
struct BusObserver {
    bus: EventBus,
    server: String,
}

impl LoginObserver for BusObserver {
    fn waiting_for_browser(&self, url: &str) {
        self.bus.publish(Event::LoginUrl {
            server: self.server.clone(),
            url: url.into(),
        });
    }
}

impl Hub {
    /// The credentials and their refresh coordinator; opens the vault on first use. (Tests
    /// reach the stored credentials through it.)
    #[cfg(feature = "testing")]
    pub async fn refresher(&self) -> Arc<RefreshCoordinator> {
        self.coordinator().await
    }

    pub(super) async fn coordinator(&self) -> Arc<RefreshCoordinator> {
        self.inner.auth.refresher().await
    }

    /// [`Hub::login`], handing this server's authorization URL to `on_url` when the login
    /// announces it. The one way a front end learns the URL: the app opens it, the CLI prints it.
    /// (A caller who joins a login whose URL was already announced is not handed it again.)
    pub async fn login_showing(
        &self,
        name: &str,
        mode: BrowserMode,
        timeout: Duration,
        mut on_url: impl FnMut(&str) + Send,
    ) -> Result<AuthStatus, HubError> {
        use broadcast::error::RecvError;
        // Subscribed before the login starts, so its URL cannot be announced unseen.
        let mut events = self.subscribe();
        let watch = async {
            loop {
                match events.recv().await {
                    Ok(Event::LoginUrl { server, url }) if server == name => on_url(&url),
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => std::future::pending::<()>().await,
                }
            }
        };
        tokio::select! {
            status = self.login(name, mode, timeout) => status,
            never = watch => never,
        }
    }

    /// Logs in to a remote server through the browser (`mode`) and stores the tokens. A second
    /// call while one runs joins it: one browser tab however many callers wait. Progress comes
    /// as `LoginUrl` / `LoginFinished` events.
    pub async fn login(
        &self,
        name: &str,
        mode: BrowserMode,
        timeout: Duration,
    ) -> Result<AuthStatus, HubError> {
        let def = self.server(name)?;
        let url = def
            .remote_url()
            .ok_or_else(|| HubError::NotRemote(name.into()))?
            .to_string();
        // A token may only travel where nobody can read it on the way.
        if let Err(why) = auth::destinations::check_bearer_destination(&url) {
            return Err(HubError::Login(LoginError::Start {
                server: name.into(),
                message: why,
            }));
        }
        // Where the tokens will be kept must be usable before the person spends time in the
        // browser: a locked vault is found now, not after they have logged in.
        if let Err(e) = self.inner.auth.vault().reopen().await.usable() {
            return Err(HubError::Login(LoginError::Start {
                server: name.into(),
                message: format!("the login could not be saved: {e}"),
            }));
        }
        let refresher = self.coordinator().await;
        let snapshot = self.session(name)?.snapshot();
        let challenge = match snapshot.state {
            ServerState::NeedsAuth => snapshot.auth_challenge,
            _ => None,
        };
        let client = match &def.oauth_client_id {
            Some(id) => Some(auth::PreRegisteredClient {
                id: id.clone(),
                secret: refresher.credentials().client_secret(name).await?,
            }),
            None => None,
        };
        let granted_scopes = auth::status(refresher.credentials(), name)
            .await
            .map(|s| s.scopes)
            .unwrap_or_default();
        // Step-up is bounded: a 403 that asks only for scopes this login already has would
        // send the person round the same loop forever; say so instead. (A caller that arrives
        // while a login runs just joins it.)
        let joining = self.inner.logins.get(name).is_some();
        if !joining
            && let Some(wanted) = challenge
                .as_deref()
                .and_then(|c| auth::step_up_scopes(c, &url, &granted_scopes))
            && wanted.len() == granted_scopes.len()
        {
            return Err(HubError::Login(LoginError::Start {
                server: name.into(),
                message: format!(
                    "the server refuses access although this login already has the scopes it names ({}); logging in again cannot help, ask the server's administrator",
                    granted_scopes.join(" ")
                ),
            }));
        }
        // The flight is made before the task it waits for, so that claiming the server's slot
        // is the only thing done under the table's lock; whoever claims it starts the task.
        let cancel = CancellationToken::new();
        let (started, task) = oneshot::channel::<JoinHandle<Result<AuthStatus, LoginError>>>();
        let server = name.to_string();
        let flight: LoginFlight = async move {
            let outcome = match task.await {
                Ok(task) => task.await.map_err(|e| e.to_string()),
                Err(_) => Err("it never started".to_string()),
            };
            outcome.unwrap_or_else(|message| {
                Err(LoginError::Start {
                    server,
                    message: format!("the login task failed: {message}"),
                })
            })
        }
        .boxed()
        .shared();
        if let Some(running) = self.inner.logins.claim(name, &cancel, &flight) {
            return Ok(running.await?);
        }
        // A rename (or removal) takes the server out of `installed` and then stops its login:
        // one that claimed its slot after that finds the server gone here, and never stores
        // tokens under a name no server has.
        match self.session(name) {
            Ok(session) => session.set_login_running(true),
            Err(gone) => {
                self.inner.logins.finished(name);
                return Err(gone);
            }
        }
        let req = LoginRequest {
            server: name.into(),
            url,
            browser: mode,
            timeout,
            challenge,
            granted_scopes,
            client,
            client_metadata_url: def.oauth_client_metadata_url.clone(),
        };
        let span = tracing::info_span!("login", server = %name);
        let task = tokio::spawn(tracing::Instrument::instrument(
            self.clone().run_login(refresher, req, cancel),
            span,
        ));
        let _ = started.send(task);
        Ok(flight.await?)
    }

    /// One login, to its end: the browser, the tokens saved, the session resumed, the slot freed
    /// and the outcome told.
    async fn run_login(
        self,
        refresher: Arc<RefreshCoordinator>,
        req: LoginRequest,
        cancel: CancellationToken,
    ) -> Result<AuthStatus, LoginError> {
        let observer = BusObserver {
            bus: self.inner.bus.clone(),
            server: req.server.clone(),
        };
        let outcome = auth::login(refresher.credentials(), &req, &observer, cancel).await;
        let status = match outcome {
            Ok(_) => auth::status(refresher.credentials(), &req.server)
                .await
                .map_err(|e| LoginError::Save {
                    server: req.server.clone(),
                    message: e.to_string(),
                }),
            Err(e) => Err(e),
        };
        // Resume and lower the flag before freeing the slot: a login that starts after this one
        // must find its own flag, not ours.
        if let Ok(session) = self.session(&req.server) {
            // A session that stopped for want of a login starts again now; requests waiting on
            // the login then wait on that connect.
            if status.is_ok() {
                session.resume_after_login().await;
            }
            session.set_login_running(false);
        }
        self.inner.logins.finished(&req.server);
        self.inner.bus.publish(Event::LoginFinished {
            server: req.server.clone(),
            ok: status.is_ok(),
            message: status.as_ref().err().map(|e| e.to_string()),
        });
        status
    }

    /// Cancels a running login and waits until it has ended (so it cannot store tokens after
    /// whatever the caller does next).
    pub(super) async fn stop_login(&self, name: &str) {
        if let Some((cancel, flight)) = self.inner.logins.get(name) {
            cancel.cancel();
            let _ = flight.await;
        }
    }

    /// Stops a running login (its waiters get `Cancelled`). False if none was running.
    pub fn cancel_login(&self, name: &str) -> bool {
        match self.inner.logins.get(name) {
            Some((cancel, _)) => {
                cancel.cancel();
                true
            }
            None => false,
        }
    }

    /// The server's saved login: issuer, scopes, expiry; never a token.
    pub async fn auth_status(&self, name: &str) -> Result<AuthStatus, HubError> {
        self.server(name)?;
        let refresher = self.coordinator().await;
        Ok(auth::status(refresher.credentials(), name).await?)
    }

    /// Revokes the server's login at its authorization server (when it can) and deletes it.
    pub async fn logout(&self, name: &str) -> Result<LogoutReport, HubError> {
        self.server(name)?;
        // A login still waiting for the browser would otherwise log the person back in.
        self.stop_login(name).await;
        let refresher = self.coordinator().await;
        let report = auth::logout(refresher.credentials(), &self.inner.http, name).await?;
        if report.removed {
            self.session(name)?.logged_out();
        }
        Ok(report)
    }
}
