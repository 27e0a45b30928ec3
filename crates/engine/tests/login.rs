//! Interactive login through the Hub against a real authorization server (oidc-provider in
//! tests/peers/oauth): discovery from the server's 401, Dynamic Client Registration, PKCE,
//! the loopback callback, browser modes, one flow however many callers, cancel, timeout and a
//! callback that does not belong to the login.

mod common;

use std::time::Duration;

use patchbay_engine::auth::browser::BrowserMode;
use patchbay_engine::auth::{LoginError, TokenAuthMethod};
use patchbay_engine::events::Event;
use patchbay_engine::vault::Secret;
use patchbay_engine::{Hub, HubError, HubOptions};
use tokio::sync::broadcast;

use common::oauth::AuthServer;

async fn hub(dir: &std::path::Path) -> Hub {
    let mut options = HubOptions::new(dir);
    options.os_keyring = false;
    Hub::open(options).await.unwrap()
}

async fn hub_with_remote(dir: &std::path::Path, auth: &AuthServer) -> Hub {
    let hub = hub(dir).await;
    hub.add_server(common::http_def("remote", &auth.resource))
        .await
        .unwrap();
    hub
}

/// The next `LoginUrl` for `server`.
async fn login_url(events: &mut broadcast::Receiver<Event>, server: &str) -> url::Url {
    loop {
        if let Event::LoginUrl { server: s, url } = events.recv().await.unwrap()
            && s == server
        {
            return url::Url::parse(&url).unwrap();
        }
    }
}

/// A `print`-mode login running in the background: it waits for a callback we deliver.
fn spawn_print_login(
    hub: &Hub,
) -> tokio::task::JoinHandle<Result<patchbay_engine::auth::AuthStatus, HubError>> {
    let hub = hub.clone();
    tokio::spawn(async move {
        hub.login("remote", BrowserMode::Print, Duration::from_secs(60))
            .await
    })
}

fn query(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_mode_logs_in_and_the_tokens_work_and_refresh() {
    let auth = AuthServer::start(60);
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_with_remote(dir.path(), &auth).await;
    let mut events = hub.subscribe();

    let status = hub
        .login("remote", BrowserMode::Follow, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(status.logged_in && status.can_refresh, "{status:?}");
    assert_eq!(status.issuer.as_deref(), Some(auth.issuer.as_str()));
    assert_eq!(status.resource.as_deref(), Some(auth.resource.as_str()));

    // What the authorization URL asked for: PKCE S256, state, RFC 8707 resource, loopback.
    let url = login_url(&mut events, "remote").await;
    assert_eq!(
        query(&url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert!(query(&url, "code_challenge").is_some() && query(&url, "state").is_some());
    assert_eq!(
        query(&url, "resource").as_deref(),
        Some(auth.resource.as_str())
    );
    let redirect = url::Url::parse(&query(&url, "redirect_uri").unwrap()).unwrap();
    assert_eq!(redirect.host_str(), Some("127.0.0.1"));
    assert_eq!(redirect.path(), "/callback");
    loop {
        match events.recv().await.unwrap() {
            Event::LoginFinished {
                server,
                ok,
                message,
            } if server == "remote" => {
                assert!(ok, "{message:?}");
                break;
            }
            _ => {}
        }
    }
    let stats = auth.stats().await;
    assert_eq!(stats["registrations"], 1);
    assert_eq!(stats["token_requests"]["authorization_code"], 1);

    let refresher = hub.refresher().await;
    let cred = refresher
        .credentials()
        .current("remote")
        .await
        .unwrap()
        .unwrap();
    assert!(
        auth.accepts(&cred.access_token).await,
        "the stored token is accepted"
    );
    let fresh = refresher.refresh(&cred).await.unwrap();
    assert!(auth.accepts(&fresh.access_token).await);

    // The callback listener closed after the one accepted callback.
    let port = redirect.port().unwrap();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_callers_share_one_login() {
    let auth = AuthServer::start(60);
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_with_remote(dir.path(), &auth).await;
    let mut events = hub.subscribe();

    let logins = (0..5).map(|_| {
        let hub = hub.clone();
        tokio::spawn(async move {
            hub.login("remote", BrowserMode::Follow, Duration::from_secs(60))
                .await
        })
    });
    let results = futures::future::join_all(logins).await;
    for r in &results {
        assert!(r.as_ref().unwrap().is_ok(), "{r:?}");
    }
    let stats = auth.stats().await;
    assert_eq!(stats["registrations"], 1, "one client registration");
    assert_eq!(
        stats["token_requests"]["authorization_code"], 1,
        "one browser flow"
    );
    let mut urls = 0;
    while let Ok(event) = events.try_recv() {
        if matches!(event, Event::LoginUrl { .. }) {
            urls += 1;
        }
    }
    assert_eq!(urls, 1, "one browser tab");
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_callback_is_refused_and_a_refusal_ends_the_login() {
    let auth = AuthServer::start(60);
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_with_remote(dir.path(), &auth).await;
    let mut events = hub.subscribe();
    let login = spawn_print_login(&hub);
    let url = login_url(&mut events, "remote").await;
    let redirect = query(&url, "redirect_uri").unwrap();
    let state = query(&url, "state").unwrap();
    let http = reqwest::Client::new();

    // A callback with another state (an old tab, a forged link) does not end the login.
    let r = http
        .get(format!("{redirect}?code=stolen&state=not-{state}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("does not belong to the login")
    );
    assert!(!login.is_finished());

    // The authorization server says no, with the right state: the login ends with its words.
    let r = http
        .get(format!(
            "{redirect}?error=access_denied&error_description=no%20thanks&state={state}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("refused the login"));
    let err = login.await.unwrap().unwrap_err();
    match &err {
        HubError::Login(LoginError::Denied {
            error, description, ..
        }) => {
            assert_eq!(error, "access_denied");
            assert_eq!(description.as_deref(), Some("no thanks"));
        }
        other => panic!("expected Denied, got {other:?}"),
    }
    assert!(err.to_string().contains("refused the login"), "{err}");
    assert!(!hub.auth_status("remote").await.unwrap().logged_in);
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_and_timeout_end_the_login_and_close_the_listener() {
    let auth = AuthServer::start(60);
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_with_remote(dir.path(), &auth).await;
    let mut events = hub.subscribe();

    let login = spawn_print_login(&hub);
    let url = login_url(&mut events, "remote").await;
    assert!(hub.cancel_login("remote"));
    let err = login.await.unwrap().unwrap_err();
    assert!(
        matches!(err, HubError::Login(LoginError::Cancelled { .. })),
        "{err:?}"
    );
    let port = url::Url::parse(&query(&url, "redirect_uri").unwrap())
        .unwrap()
        .port()
        .unwrap();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    assert!(!hub.cancel_login("remote"), "nothing left to cancel");

    let err = hub
        .login("remote", BrowserMode::Print, Duration::from_millis(500))
        .await
        .unwrap_err();
    assert!(
        matches!(err, HubError::Login(LoginError::TimedOut { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("Start it again"), "{err}");
    hub.shutdown().await;
}

#[tokio::test]
async fn only_remote_servers_log_in_and_a_server_without_oauth_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(dir.path()).await;
    hub.add_server(common::stdio_def("local", &common::marker()))
        .await
        .unwrap();
    let err = hub
        .login("local", BrowserMode::Follow, Duration::from_secs(10))
        .await
        .unwrap_err();
    assert!(matches!(err, HubError::NotRemote(_)), "{err:?}");

    // server-everything over HTTP has no OAuth at all.
    let peer = common::HttpTestServer::start("streamableHttp");
    hub.add_server(common::http_def("open", &peer.url()))
        .await
        .unwrap();
    let err = hub
        .login("open", BrowserMode::Follow, Duration::from_secs(10))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("may not need a login"), "{err}");

    // Nothing listening: discovery fails and says what to check.
    hub.add_server(common::http_def(
        "down",
        &format!("http://127.0.0.1:{}/mcp", common::free_port()),
    ))
    .await
    .unwrap();
    let err = hub
        .login("down", BrowserMode::Follow, Duration::from_secs(10))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("is the server running"), "{err}");
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pre_registered_confidential_client_logs_in_and_refreshes_with_its_secret() {
    let auth = AuthServer::start_with(
        60,
        &[
            ("PREREG_CLIENT_ID", "patchbay-by-hand"),
            ("PREREG_CLIENT_SECRET", "s3cret-of-the-client-XYZ"),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(dir.path()).await;
    let mut def = common::http_def("remote", &auth.resource);
    def.oauth_client_id = Some("patchbay-by-hand".into());
    hub.add_server_with_client_secret(def, Secret::new("s3cret-of-the-client-XYZ"))
        .await
        .unwrap();

    let status = hub
        .login("remote", BrowserMode::Follow, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(status.client_id.as_deref(), Some("patchbay-by-hand"));
    let stats = auth.stats().await;
    assert_eq!(stats["registrations"], 0, "no dynamic registration");
    assert_eq!(stats["token_requests"]["authorization_code"], 1);

    // The refresh authenticates with the secret (client_secret_basic) and works.
    let refresher = hub.refresher().await;
    let cred = refresher
        .credentials()
        .current("remote")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cred.meta.auth_method, TokenAuthMethod::ClientSecretBasic);
    let fresh = refresher.refresh(&cred).await.unwrap();
    assert!(auth.accepts(&fresh.access_token).await);
    hub.shutdown().await;
    drop(hub);

    // The secret is sealed in the database, and goes with its server.
    let mut bytes = Vec::new();
    for f in ["patchbay.db", "patchbay.db-wal"] {
        if let Ok(b) = std::fs::read(dir.path().join(f)) {
            bytes.extend(b);
        }
    }
    let secret = b"s3cret-of-the-client-XYZ";
    assert!(!bytes.windows(secret.len()).any(|w| w == secret));
    let reopened = crate::hub(dir.path()).await;
    reopened.remove_server("remote").await.unwrap();
    let refresher = reopened.refresher().await;
    assert!(
        refresher
            .credentials()
            .client_secret("remote")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_client_secret_without_a_client_id_or_for_a_local_server_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(dir.path()).await;
    let err = hub
        .add_server_with_client_secret(
            common::http_def("a", "https://x.example/mcp"),
            Secret::new("s"),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("needs a client id"), "{err}");
    let mut local = common::stdio_def("b", "m");
    local.oauth_client_id = Some("id".into());
    let err = hub.add_server(local).await.unwrap_err();
    assert!(err.to_string().contains("only for remote servers"), "{err}");
    // A Client ID Metadata Document must be an https URL with a path (the AS fetches it).
    for bad in [
        "http://x.example/patchbay.json",
        "https://x.example/",
        "not a url",
    ] {
        let mut remote = common::http_def("c", "https://x.example/mcp");
        remote.oauth_client_metadata_url = Some(bad.into());
        let err = hub.add_server(remote).await.unwrap_err();
        assert!(err.to_string().contains("client_metadata_url"), "{err}");
        assert!(
            err.to_string().contains("https:// URL with a path"),
            "{err}"
        );
    }
    assert!(
        hub.servers().await.unwrap().is_empty(),
        "nothing was stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metadata_document_url_is_not_used_where_the_authorization_server_does_not_take_one() {
    // oidc-provider does not advertise `client_id_metadata_document_supported`: Patchbay must
    // register itself as usual rather than send a URL the AS would refuse. (The conformance
    // suite's auth/basic-cimd covers an AS that does take one.)
    let auth = AuthServer::start(60);
    let dir = tempfile::tempdir().unwrap();
    let hub = hub(dir.path()).await;
    let mut def = common::http_def("remote", &auth.resource);
    def.oauth_client_metadata_url = Some("https://patchbay.example/client.json".into());
    hub.add_server(def).await.unwrap();
    let status = hub
        .login("remote", BrowserMode::Follow, Duration::from_secs(30))
        .await
        .unwrap();
    assert!(status.logged_in);
    let client_id = status.client_id.unwrap();
    assert!(!client_id.starts_with("https://"), "{client_id}");
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_registration_per_authorization_server_is_reused() {
    let auth = AuthServer::start(60);
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_with_remote(dir.path(), &auth).await;
    hub.add_server(common::http_def("second", &auth.resource))
        .await
        .unwrap();
    let first = hub
        .login("remote", BrowserMode::Follow, Duration::from_secs(60))
        .await
        .unwrap();
    hub.logout("remote").await.unwrap();
    let again = hub
        .login("remote", BrowserMode::Follow, Duration::from_secs(60))
        .await
        .unwrap();
    let other = hub
        .login("second", BrowserMode::Follow, Duration::from_secs(60))
        .await
        .unwrap();
    let stats = auth.stats().await;
    assert_eq!(stats["registrations"], 1, "{stats}");
    assert_eq!(stats["token_requests"]["authorization_code"], 3, "{stats}");
    assert_eq!(first.client_id, again.client_id);
    assert_eq!(first.client_id, other.client_id);
    // Same client, two servers: still two credentials that never share tokens.
    let refresher = hub.refresher().await;
    let a = refresher
        .credentials()
        .current("remote")
        .await
        .unwrap()
        .unwrap();
    let b = refresher
        .credentials()
        .current("second")
        .await
        .unwrap()
        .unwrap();
    assert_ne!(a.key, b.key);
    assert_ne!(a.access_token, b.access_token);
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_or_removal_during_a_login_stops_it() {
    let auth = AuthServer::start(60);
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_with_remote(dir.path(), &auth).await;
    let mut events = hub.subscribe();
    let login = spawn_print_login(&hub);
    login_url(&mut events, "remote").await;
    hub.logout("remote").await.unwrap();
    let err = login.await.unwrap().unwrap_err();
    assert!(
        matches!(err, HubError::Login(LoginError::Cancelled { .. })),
        "{err:?}"
    );
    assert!(!hub.auth_status("remote").await.unwrap().logged_in);

    let login = spawn_print_login(&hub);
    login_url(&mut events, "remote").await;
    hub.remove_server("remote").await.unwrap();
    assert!(login.await.unwrap().is_err());
    hub.shutdown().await;
}

/// Editing a server to point at another URL forgets its saved login: the new address must
/// never be sent the old server's tokens. Other edits keep it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_pointed_elsewhere_forgets_its_login() {
    let auth = AuthServer::start(60);
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_with_remote(dir.path(), &auth).await;
    hub.login("remote", BrowserMode::Follow, Duration::from_secs(30))
        .await
        .unwrap();
    let mut same = common::http_def("remote", &auth.resource);
    same.request_timeout_secs = 9;
    hub.update_server(same).await.unwrap();
    assert!(hub.auth_status("remote").await.unwrap().logged_in);

    let elsewhere = common::http_def("remote", "http://127.0.0.1:9/mcp");
    hub.update_server(elsewhere).await.unwrap();
    assert!(!hub.auth_status("remote").await.unwrap().logged_in);
    hub.shutdown().await;
}
