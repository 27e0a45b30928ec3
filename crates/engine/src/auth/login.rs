//! One interactive login: discovery, client registration, authorization code + PKCE through
//! the person's browser and the loopback callback, then the code exchange. rmcp's `auth`
//! feature does discovery (RFC 9728 protected resource metadata from the server's 401, then
//! the well-known URLs; RFC 8414 / OpenID metadata, path-aware first; the 2025-03-26
//! fallbacks), Dynamic Client Registration, scope selection, PKCE S256, `state`, `resource`
//! (RFC 8707) and the RFC 9207 `iss` check. This module adds what a desktop client needs
//! around it: the URL allow-list, the browser modes, the loopback listener, a timeout and
//! cancel, and storing the result sealed, as the server's one current credential.

use std::time::Duration;

use oauth2::TokenResponse;
use rmcp::transport::auth::{
    AuthorizationManager, AuthorizationRequest, AuthorizationSession, WWWAuthenticateParams,
};
use tokio_util::sync::CancellationToken;

use super::browser::{BrowserMode, UnsafeUrl, check_url, open_in_system_browser};
use super::callback::{Callback, CallbackListener, CallbackServer};
use super::credentials::{
    Credential, CredentialMeta, Credentials, CredentialsError, TokenAuthMethod,
};
use super::destinations::check_endpoint;
use crate::clock::now_ms;
use crate::store::{CredentialKey, Expected};
use crate::vault::Secret;

/// How long a login waits for the browser by default.
pub const DEFAULT_LOGIN_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Redirects `follow` mode walks through at most.
const MAX_FOLLOW_HOPS: usize = 12;

#[derive(Debug, Clone)]
pub struct LoginRequest {
    pub server: String,
    /// The MCP endpoint that wants the login.
    pub url: String,
    pub browser: BrowserMode,
    pub timeout: Duration,
    /// The server's `WWW-Authenticate` that asked for this login, if one did: it names the
    /// protected resource metadata and the scopes wanted.
    pub challenge: Option<String>,
    /// Scopes the current login already has; a step-up (403 `insufficient_scope`) asks for
    /// their union with the challenged ones.
    pub granted_scopes: Vec<String>,
    /// A client registered by hand at the AS; without one, Patchbay registers itself (DCR).
    pub client: Option<PreRegisteredClient>,
    /// A Client ID Metadata Document URL, used as the client id where the AS supports that.
    pub client_metadata_url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PreRegisteredClient {
    pub id: String,
    pub secret: Option<Secret>,
}

/// The scopes a 403 `insufficient_scope` challenge asks for on top of `granted`, when it is
/// one; `None` for any other challenge.
pub fn step_up_scopes(challenge: &str, url: &str, granted: &[String]) -> Option<Vec<String>> {
    let base = url::Url::parse(url).ok()?;
    let params = WWWAuthenticateParams::parse(challenge, &base);
    if !params.is_insufficient_scope() {
        return None;
    }
    let mut scopes: Vec<String> = granted.to_vec();
    for s in params.scope.as_deref().unwrap_or("").split_whitespace() {
        if !scopes.iter().any(|g| g == s) {
            scopes.push(s.to_string());
        }
    }
    Some(scopes)
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum LoginError {
    #[error("server '{server}': could not find how to log in: {message}")]
    Discovery { server: String, message: String },
    #[error("server '{server}': could not start the login: {message}")]
    Start { server: String, message: String },
    #[error("server '{server}': {source}")]
    UnsafeUrl {
        server: String,
        #[source]
        source: UnsafeUrl,
    },
    #[error(
        "server '{server}': {message}; open the login link yourself (patchbay-cli login --browser print)"
    )]
    Browser { server: String, message: String },
    #[error(
        "server '{server}': automatic login (follow mode) did not reach Patchbay's callback: {message}"
    )]
    Follow { server: String, message: String },
    #[error("server '{server}': the authorization server refused the login: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Denied {
        server: String,
        error: String,
        description: Option<String>,
    },
    #[error(
        "server '{server}': no answer from the browser within {secs}s; the login was stopped. Start it again"
    )]
    TimedOut { server: String, secs: u64 },
    #[error("server '{server}': the login was cancelled")]
    Cancelled { server: String },
    #[error("server '{server}': the authorization server did not accept the login code: {message}")]
    Exchange { server: String, message: String },
    #[error("server '{server}': the login worked but could not be saved: {message}")]
    Save { server: String, message: String },
}

/// Events a login reports while it runs.
pub trait LoginObserver: Send + Sync {
    /// The authorization URL, in every mode (the app shows "Copy link"; `print` mode needs it).
    fn waiting_for_browser(&self, url: &str);
}

pub async fn login(
    credentials: &Credentials,
    req: &LoginRequest,
    observer: &dyn LoginObserver,
    cancel: CancellationToken,
) -> Result<Credential, LoginError> {
    let mut reused_at: Option<String> = None;
    let server = req.server.clone();
    let listener = CallbackListener::bind()
        .await
        .map_err(|e| LoginError::Start {
            server: server.clone(),
            message: format!("cannot listen on 127.0.0.1 for the browser's answer: {e}"),
        })?;
    let redirect_uri = listener.redirect_uri().to_string();
    let mut callbacks = listener.serve(server.clone());
    // Cancel and the timeout bound the whole login, not only the wait for the browser: a
    // server or AS that hangs during discovery, registration or the code exchange must not
    // keep the login slot (and every request waiting on it) forever.
    let outcome = tokio::select! {
        r = tokio::time::timeout(
            req.timeout,
            login_once(credentials, req, observer, &redirect_uri, &mut callbacks, &mut reused_at),
        ) => match r {
            Ok(outcome) => outcome,
            Err(_) => Err(LoginError::TimedOut { server, secs: req.timeout.as_secs() }),
        },
        _ = cancel.cancelled() => Err(LoginError::Cancelled { server }),
    };
    // Every socket of the listener is closed before the login says how it ended: whoever acts
    // on that (a new login, a test) never meets this one's listener.
    callbacks.close().await;
    // A reused registration that did not get us in may be one the AS has forgotten: drop it so
    // the next login registers afresh. (Not after cancel or timeout: those say nothing about it.)
    if let (Err(e), Some(issuer)) = (&outcome, &reused_at)
        && !matches!(
            e,
            LoginError::Cancelled { .. } | LoginError::TimedOut { .. }
        )
    {
        tracing::info!("dropping the reused client registration after a failed login");
        let _ = credentials.forget_registered_client(issuer).await;
    }
    outcome
}

async fn login_once(
    credentials: &Credentials,
    req: &LoginRequest,
    observer: &dyn LoginObserver,
    redirect_uri: &str,
    callbacks: &mut CallbackServer,
    reused_at: &mut Option<String>,
) -> Result<Credential, LoginError> {
    let server = req.server.clone();
    let discovery = |message: String| LoginError::Discovery {
        server: server.clone(),
        message,
    };
    let mut manager = AuthorizationManager::new(req.url.as_str())
        .await
        .map_err(|e| discovery(first_line(&e.to_string())))?;
    let resolution = manager
        .resolve_metadata_from_challenge(req.challenge.as_deref())
        .await
        .map_err(|e| {
            discovery(format!(
                "{}; is the server running?",
                first_line(&e.to_string())
            ))
        })?;
    let metadata = resolution.metadata.clone();
    // The code, the tokens and any client secret go to these: https, or this machine only for
    // a server on this machine (see `destinations.rs`).
    let endpoints = [
        (
            "authorization endpoint",
            Some(&metadata.authorization_endpoint),
        ),
        ("token endpoint", Some(&metadata.token_endpoint)),
        (
            "registration endpoint",
            metadata.registration_endpoint.as_ref(),
        ),
    ];
    for (what, endpoint) in endpoints {
        if let Some(endpoint) = endpoint {
            check_endpoint(what, endpoint, &req.url).map_err(|message| LoginError::Start {
                server: server.clone(),
                message,
            })?;
        }
    }
    // The values that bind this login (its state, its resource, where the code goes) are
    // Patchbay's: an authorization endpoint that already carries one could choose them.
    if let Ok(endpoint) = url::Url::parse(&metadata.authorization_endpoint)
        && let Some((name, _)) = endpoint.query_pairs().find(|(k, _)| {
            matches!(
                k.as_ref(),
                "state" | "resource" | "redirect_uri" | "client_id" | "code_challenge"
            )
        })
    {
        return Err(LoginError::Start {
            server: server.clone(),
            message: format!(
                "the authorization endpoint {} already sets `{name}`, which only Patchbay may choose; refused",
                metadata.authorization_endpoint
            ),
        });
    }
    // Nothing published: rmcp falls back to the 2025-03-26 default endpoints, which a server
    // that needs no login at all does not have. Say so if they fail.
    let guessed = !resolution.source.is_discovered();
    manager.set_metadata(resolution.metadata);

    let request = AuthorizationRequest::new(redirect_uri.to_string()).with_client_name("Patchbay");
    // Scopes: a step-up asks for the union of what it has and what the 403 named; otherwise the
    // challenge's scope, else the resource's `scopes_supported`, else none (rmcp's initial
    // selection); `offline_access` is added when the AS offers it.
    let step_up = req
        .challenge
        .as_deref()
        .and_then(|c| step_up_scopes(c, &req.url, &req.granted_scopes));
    let request = match &step_up {
        Some(scopes) => request.with_scopes(scopes.clone()),
        None => request.with_initial_scope_selection(),
    };
    let issuer = metadata.issuer.clone().unwrap_or_else(|| {
        url::Url::parse(&metadata.authorization_endpoint)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default()
    });
    // Client identity, in the spec's order: a client registered by hand; else a Client ID
    // Metadata Document URL when one is configured and the AS takes them (rmcp sends it as the
    // client id); else the one Patchbay registered at this AS before (RFC 8252 lets a native
    // client's loopback port vary); else a new dynamic registration (RFC 7591), kept for next
    // time. Without published metadata, rmcp's 2025-03-26 fallback does the registering.
    let takes_metadata_documents = metadata
        .additional_fields
        .get("client_id_metadata_document_supported")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let metadata_document = req
        .client_metadata_url
        .as_ref()
        .filter(|_| req.client.is_none() && takes_metadata_documents && !guessed);
    let request = match metadata_document {
        Some(doc) => request.with_client_metadata_url(doc.clone()),
        None => request,
    };
    let client = match &req.client {
        Some(client) => Some(client.clone()),
        None if metadata_document.is_some() => None,
        None if metadata.registration_endpoint.is_some() && !guessed => {
            match credentials.registered_client(&issuer).await {
                Ok(Some((id, secret))) => {
                    *reused_at = Some(issuer.clone());
                    Some(PreRegisteredClient { id, secret })
                }
                _ => {
                    let scopes = match &step_up {
                        Some(scopes) => scopes.clone(),
                        None => manager.select_initial_scopes(&[]).await,
                    };
                    let scope_refs: Vec<&str> = scopes.iter().map(String::as_str).collect();
                    let registered = manager
                        .register_client("Patchbay", redirect_uri, &scope_refs)
                        .await
                        .map_err(|e| LoginError::Start {
                            server: server.clone(),
                            message: first_line(&e.to_string()),
                        })?;
                    let secret = registered.client_secret.map(Secret::new);
                    if let Err(e) = credentials
                        .save_registered_client(&issuer, &registered.client_id, secret.as_ref())
                        .await
                    {
                        tracing::warn!("could not keep the client registration: {e}");
                    }
                    Some(PreRegisteredClient {
                        id: registered.client_id,
                        secret,
                    })
                }
            }
        }
        None => None,
    };
    let request = match &client {
        Some(client) => {
            let request = request.with_preregistered_client(client.id.clone());
            match &client.secret {
                Some(secret) => request.with_client_secret(secret.expose().to_string()),
                None => request,
            }
        }
        None => request,
    };
    let session = AuthorizationSession::new(manager, request)
        .await
        .map_err(|(_, e)| LoginError::Start {
            server: server.clone(),
            message: if guessed {
                format!(
                    "the server publishes no OAuth metadata and its default endpoints do not work ({}); it may not need a login at all",
                    first_line(&e.to_string())
                )
            } else {
                first_line(&e.to_string())
            },
        })?;
    let auth_url =
        check_url(session.get_authorization_url()).map_err(|source| LoginError::UnsafeUrl {
            server: server.clone(),
            source,
        })?;
    // The last of each: rmcp appends its own after the endpoint's (and an endpoint that
    // brings its own is refused above).
    let query = |name: &str| {
        auth_url
            .query_pairs()
            .filter(|(k, _)| k == name)
            .last()
            .map(|(_, v)| v.into_owned())
    };
    let state = query("state").ok_or_else(|| LoginError::Start {
        server: server.clone(),
        message: "the authorization URL has no state".into(),
    })?;
    let resource = query("resource").unwrap_or_else(|| req.url.clone());
    let requested_scopes: Vec<String> = query("scope")
        .map(|s| s.split_whitespace().map(String::from).collect())
        .unwrap_or_default();

    callbacks.expect(&state);
    observer.waiting_for_browser(auth_url.as_str());
    tracing::info!(mode = ?req.browser, "waiting for the browser");
    let follow = async {
        match req.browser {
            BrowserMode::System => {
                open_in_system_browser(&auth_url).map_err(|message| LoginError::Browser {
                    server: server.clone(),
                    message,
                })
            }
            BrowserMode::Print => Ok(()),
            BrowserMode::Follow => {
                follow(&auth_url, redirect_uri)
                    .await
                    .map_err(|message| LoginError::Follow {
                        server: server.clone(),
                        message,
                    })
            }
        }
    };
    let callback = async {
        // The browser step failing ends the login; succeeding just means "now wait".
        follow.await?;
        std::future::pending::<Result<(), LoginError>>().await
    };
    // (Cancel and the timeout are the caller's: it stops this and closes the listener.)
    let got = tokio::select! {
        got = callbacks.next() => got,
        Err(e) = callback => return Err(e),
    };
    let Some(pending) = got else {
        return Err(LoginError::Cancelled { server });
    };
    let (code, iss) = match pending.callback.clone() {
        Callback::Code { code, iss } => (code, iss),
        Callback::Denied { error, description } => {
            pending.answer(Err(error.clone()));
            return Err(LoginError::Denied {
                server,
                error,
                description,
            });
        }
    };
    // The browser waits for this: its page says "logged in" only once the tokens are saved.
    let finished = exchange_and_save(
        credentials,
        &server,
        &session,
        (&code, &state, iss.as_deref()),
        CredentialKey {
            server: server.clone(),
            issuer,
            client_id: String::new(),
            resource,
        },
        &metadata,
        client.as_ref(),
        requested_scopes,
    )
    .await;
    pending.answer(finished.as_ref().map(|_| ()).map_err(|e| e.to_string()));
    finished
}

/// The code exchange, and the tokens stored as the server's one current credential.
#[allow(clippy::too_many_arguments)]
async fn exchange_and_save(
    credentials: &Credentials,
    server: &str,
    session: &AuthorizationSession,
    (code, state, iss): (&str, &str, Option<&str>),
    key: CredentialKey,
    metadata: &rmcp::transport::auth::AuthorizationMetadata,
    client: Option<&PreRegisteredClient>,
    requested_scopes: Vec<String>,
) -> Result<Credential, LoginError> {
    let server = server.to_string();
    let started = now_ms();
    let tokens = session
        .handle_callback_with_issuer(code, state, iss)
        .await
        .map_err(|e| LoginError::Exchange {
            server: server.clone(),
            message: e.to_string(),
        })?;
    let (client_id, _) =
        session
            .auth_manager
            .get_credentials()
            .await
            .map_err(|e| LoginError::Exchange {
                server: server.clone(),
                message: e.to_string(),
            })?;
    let key = CredentialKey { client_id, ..key };
    let meta = CredentialMeta {
        token_endpoint: metadata.token_endpoint.clone(),
        revocation_endpoint: metadata
            .additional_fields
            .get("revocation_endpoint")
            .and_then(|v| v.as_str())
            .map(String::from),
        auth_method: token_auth_method(metadata, client),
        expires_at_ms: tokens
            .expires_in()
            .map(|d| started + i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)),
        issued_at_ms: Some(started),
        scopes: tokens
            .scopes()
            .map(|s| s.iter().map(|s| s.to_string()).collect())
            .unwrap_or(requested_scopes),
    };
    let saved = credentials
        .save(
            &key,
            Expected::Any,
            &Secret::new(tokens.access_token().secret().clone()),
            tokens
                .refresh_token()
                .map(|t| Secret::new(t.secret().clone()))
                .as_ref(),
            client.and_then(|c| c.secret.as_ref()),
            meta,
        )
        .await
        .map_err(|e: CredentialsError| LoginError::Save {
            server: server.clone(),
            message: e.to_string(),
        })?;
    tracing::info!(version = saved.version, "logged in");
    Ok(saved)
}

/// How the client authenticates at the token endpoint: a dynamically registered client is
/// public (rmcp registers with `none`); a client with a secret uses `client_secret_basic` unless
/// the AS offers only `client_secret_post` (the same choice rmcp makes for the code exchange).
fn token_auth_method(
    metadata: &rmcp::transport::auth::AuthorizationMetadata,
    client: Option<&PreRegisteredClient>,
) -> TokenAuthMethod {
    if client.and_then(|c| c.secret.as_ref()).is_none() {
        return TokenAuthMethod::None;
    }
    let offered: Vec<&str> = metadata
        .additional_fields
        .get("token_endpoint_auth_methods_supported")
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|m| m.as_str()).collect())
        .unwrap_or_default();
    if offered.contains(&"client_secret_post") && !offered.contains(&"client_secret_basic") {
        TokenAuthMethod::ClientSecretPost
    } else {
        TokenAuthMethod::ClientSecretBasic
    }
}

/// An error from a server can carry a whole HTML page; a person needs its first line.
fn first_line(text: &str) -> String {
    let line = text
        .lines()
        .next()
        .unwrap_or("")
        .trim_end_matches([':', ' ']);
    match line.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_string(),
    }
}

/// `follow` mode: request the authorization URL without a person. Redirects are walked with a
/// cookie jar while they stay on the authorization server's origin (an AS that approves
/// without UI may still bounce through its own interaction URLs); a redirect to our callback is
/// delivered to the listener; a page, or a redirect elsewhere, means a person is needed.
async fn follow(auth_url: &url::Url, redirect_uri: &str) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .map_err(|e| e.to_string())?;
    let origin = auth_url.origin();
    let mut url = auth_url.clone();
    for _ in 0..MAX_FOLLOW_HOPS {
        let response = client.get(url.clone()).send().await.map_err(|e| {
            format!(
                "could not reach the authorization server: {}",
                e.without_url()
            )
        })?;
        let status = response.status();
        if !status.is_redirection() {
            return Err(format!(
                "the authorization server answered {status} with a page instead of redirecting back: it wants a person to sign in; use --browser system or print"
            ));
        }
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| format!("a {status} redirect without a Location"))?;
        let next = url
            .join(location)
            .map_err(|e| format!("a redirect to an unreadable location: {e}"))?;
        let mut bare = next.clone();
        bare.set_query(None);
        bare.set_fragment(None);
        if bare.as_str() == redirect_uri {
            client.get(next).send().await.map_err(|e| {
                // Without the URL: it carries the authorization code.
                format!(
                    "could not deliver the answer to the callback: {}",
                    e.without_url()
                )
            })?;
            return Ok(());
        }
        if next.origin() != origin {
            return Err(format!(
                "the authorization server redirected to {}, which is neither itself nor Patchbay's callback",
                next.origin().ascii_serialization()
            ));
        }
        url = next;
    }
    Err(format!("more than {MAX_FOLLOW_HOPS} redirects"))
}
