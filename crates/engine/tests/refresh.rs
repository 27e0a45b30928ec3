//! The refresh coordinator against a real, rotating authorization server (oidc-provider, in
//! tests/peers/oauth): single flight within a process and across processes, identity isolation,
//! timeouts whose late answers are never stored, compare-and-swap against newer logins, and
//! `invalid_grant` handling. Faults (slow answers, revoked grants) are injected through the
//! peer's /test endpoints on purpose.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use patchbay_engine::auth::{
    Credential, CredentialMeta, Credentials, RefreshCoordinator, RefreshError, TokenAuthMethod,
};
use patchbay_engine::store::{CredentialKey, Expected, Store};
use patchbay_engine::vault::{Secret, VaultCell};
use serde_json::Value;

use common::oauth::AuthServer;

fn credentials(dir: &Path) -> Credentials {
    let store = Store::open(&dir.join("patchbay.db")).unwrap();
    // The key in a key file, never in the keyring of whoever runs the tests.
    let vault = VaultCell::new(store.clone(), dir.to_path_buf(), false);
    Credentials::new(store, Arc::new(vault))
}

fn coordinator(creds: &Credentials, timeout: Duration) -> Arc<RefreshCoordinator> {
    RefreshCoordinator::new(creds.clone(), reqwest::Client::new(), timeout)
}

/// Stores a login from `tokens` for `server`, as a login would.
async fn save_login(creds: &Credentials, server: &str, tokens: &Value) -> Credential {
    let key = CredentialKey {
        server: server.into(),
        issuer: tokens["issuer"].as_str().unwrap().into(),
        client_id: tokens["client_id"].as_str().unwrap().into(),
        resource: tokens["resource"].as_str().unwrap().into(),
    };
    let meta = CredentialMeta {
        token_endpoint: tokens["token_endpoint"].as_str().unwrap().into(),
        revocation_endpoint: tokens["revocation_endpoint"].as_str().map(Into::into),
        auth_method: TokenAuthMethod::None,
        expires_at_ms: None,
        issued_at_ms: None,
        scopes: vec!["mcp".into()],
    };
    creds
        .save(
            &key,
            Expected::Any,
            &Secret::new(tokens["access_token"].as_str().unwrap()),
            Some(&Secret::new(tokens["refresh_token"].as_str().unwrap())),
            None,
            meta,
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn concurrent_401s_share_one_refresh_and_nothing_is_cached_after() {
    let auth = AuthServer::start(60);
    let dir = tempfile::tempdir().unwrap();
    let creds = credentials(dir.path());
    let stale = save_login(&creds, "remote", &auth.tokens().await).await;
    let coord = coordinator(&creds, Duration::from_secs(10));

    let calls = (0..24).map(|_| {
        let coord = coord.clone();
        let stale = stale.clone();
        tokio::spawn(async move { coord.refresh(&stale).await })
    });
    let results: Vec<Credential> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.unwrap().expect("refresh"))
        .collect();

    assert_eq!(
        auth.refreshes().await,
        1,
        "24 concurrent 401s, one refresh request"
    );
    let fresh = &results[0];
    assert!(fresh.version > stale.version);
    assert_ne!(fresh.access_token, stale.access_token);
    assert_ne!(
        fresh.refresh_token, stale.refresh_token,
        "the AS rotated it"
    );
    for r in &results {
        assert_eq!(r, fresh, "every waiter gets the same new credential");
    }
    let stored = creds.current("remote").await.unwrap().unwrap();
    assert_eq!(
        &stored, fresh,
        "the rotated refresh token is stored with its access token"
    );
    assert!(auth.accepts(&stored.access_token).await);

    // A late 401 from a request that still carried the old token: no network, the newer one.
    let again = coord.refresh(&stale).await.unwrap();
    assert_eq!(&again, fresh);
    assert_eq!(auth.refreshes().await, 1);

    // Once settled, the table holds no result: the next 401 on the new token refreshes anew.
    let next = coord.refresh(fresh).await.unwrap();
    assert_eq!(auth.refreshes().await, 2);
    assert!(next.version > fresh.version);
    assert!(auth.accepts(&next.access_token).await);
    assert_eq!(auth.stats().await["refresh_invalid_grant"], 0);
}

#[tokio::test]
async fn two_processes_on_one_database_redeem_a_refresh_token_once() {
    let auth = AuthServer::start(60);
    let dir = tempfile::tempdir().unwrap();
    // Two stores on one file, each with its own coordinator: what the app and the CLI are.
    let app = credentials(dir.path());
    let cli = credentials(dir.path());
    let stale = save_login(&app, "remote", &auth.tokens().await).await;
    let (a, b) = (
        coordinator(&app, Duration::from_secs(10)),
        coordinator(&cli, Duration::from_secs(10)),
    );
    // Slow answers widen the window in which both would send the same refresh token.
    auth.post("/test/delay?ms=300").await;

    let (ra, rb) = tokio::join!(a.refresh(&stale), b.refresh(&stale));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra, rb, "both processes end up with the same tokens");
    assert_eq!(
        auth.refreshes().await,
        1,
        "one refresh request between them"
    );
    assert_eq!(
        auth.stats().await["refresh_invalid_grant"],
        0,
        "the AS never saw a refresh token twice (which would revoke the whole grant)"
    );
    assert!(auth.accepts(&ra.access_token).await);
}

#[tokio::test]
async fn two_servers_never_share_a_refresh_or_its_tokens() {
    let auth = AuthServer::start(60);
    let dir = tempfile::tempdir().unwrap();
    let creds = credentials(dir.path());
    let a = save_login(&creds, "alpha", &auth.tokens().await).await;
    let b = save_login(&creds, "beta", &auth.tokens().await).await;
    let coord = coordinator(&creds, Duration::from_secs(10));

    let (fa, fb) = tokio::join!(coord.refresh(&a), coord.refresh(&b));
    let (fa, fb) = (fa.unwrap(), fb.unwrap());
    assert_eq!(auth.refreshes().await, 2, "one refresh per identity");
    assert_eq!(fa.key, a.key);
    assert_eq!(fb.key, b.key);
    assert_ne!(fa.access_token, fb.access_token);
    assert_eq!(creds.current("alpha").await.unwrap().unwrap(), fa);
    assert_eq!(creds.current("beta").await.unwrap().unwrap(), fb);
}

#[tokio::test]
async fn a_refresh_past_its_timeout_is_cancelled_and_its_late_answer_never_stored() {
    let auth = AuthServer::start(60);
    let dir = tempfile::tempdir().unwrap();
    let creds = credentials(dir.path());
    let stale = save_login(&creds, "remote", &auth.tokens().await).await;
    let coord = coordinator(&creds, Duration::from_millis(600));
    // The AS redeems the refresh token at once but answers only after 2 s.
    auth.post("/test/delay?ms=2000&phase=after").await;

    let err = coord.refresh(&stale).await.unwrap_err();
    assert!(
        matches!(&err, RefreshError::TimedOut { server, .. } if server == "remote"),
        "{err:?}"
    );
    assert!(err.to_string().contains("took longer than"), "{err}");

    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(auth.refreshes().await, 1);
    let stored = creds.current("remote").await.unwrap().unwrap();
    assert_eq!(
        stored, stale,
        "the answer that came after the timeout was dropped"
    );

    // That refresh token was spent by the AS, so the honest next step is a login.
    auth.post("/test/delay?ms=0").await;
    let err = coord.refresh(&stored).await.unwrap_err();
    assert!(matches!(err, RefreshError::NeedsLogin { .. }), "{err:?}");
}

#[tokio::test]
async fn a_slow_refresh_never_overwrites_a_newer_login() {
    let auth = AuthServer::start(60);
    let dir = tempfile::tempdir().unwrap();
    let creds = credentials(dir.path());
    let stale = save_login(&creds, "remote", &auth.tokens().await).await;
    let coord = coordinator(&creds, Duration::from_secs(10));
    let newer_tokens = auth.tokens().await;
    auth.post("/test/delay?ms=1500&phase=after").await;

    let refreshing = {
        let coord = coord.clone();
        let stale = stale.clone();
        tokio::spawn(async move { coord.refresh(&stale).await })
    };
    auth.wait_for_refreshes(1).await;
    let login = save_login(&creds, "remote", &newer_tokens).await;

    let got = refreshing.await.unwrap().unwrap();
    assert_eq!(auth.refreshes().await, 1, "the refresh did happen");
    assert_eq!(got, login, "its caller gets the newer login");
    assert_eq!(creds.current("remote").await.unwrap().unwrap(), login);
}

#[tokio::test]
async fn a_rejected_refresh_token_means_login_unless_newer_tokens_were_stored() {
    let auth = AuthServer::start(60);
    let dir = tempfile::tempdir().unwrap();
    let creds = credentials(dir.path());
    let coord = coordinator(&creds, Duration::from_secs(10));

    // Rejected, and nothing newer: a login is needed.
    let stale = save_login(&creds, "remote", &auth.tokens().await).await;
    auth.post("/test/revoke-grants").await;
    let err = coord.refresh(&stale).await.unwrap_err();
    match &err {
        RefreshError::NeedsLogin { server, reason } => {
            assert_eq!(server, "remote");
            assert!(reason.contains("invalid_grant"), "{reason}");
        }
        other => panic!("expected NeedsLogin, got {other:?}"),
    }
    // The same credential stays, now marked refused for every process (no one sends its
    // refresh token again; a login replaces it).
    let kept = creds.current("remote").await.unwrap().unwrap();
    assert!(
        kept.refused
            .as_deref()
            .is_some_and(|r| r.contains("invalid_grant")),
        "{:?}",
        kept.refused
    );
    assert_eq!(
        Credential {
            refused: None,
            ..kept
        },
        stale
    );
    let before = auth.refreshes().await;
    assert!(matches!(
        coord.refresh(&stale).await,
        Err(RefreshError::NeedsLogin { .. })
    ));
    assert_eq!(
        auth.refreshes().await,
        before,
        "a refused refresh token is not sent again"
    );

    // Rejected while another process logged in: the newer credential is used, no login.
    let stale = save_login(&creds, "remote", &auth.tokens().await).await;
    // The AS holds the refresh 4 s before it looks at it; meanwhile the grant is revoked and
    // another process logs in.
    auth.post("/test/delay?ms=4000&phase=before").await;
    let refreshing = {
        let coord = coord.clone();
        let stale = stale.clone();
        tokio::spawn(async move { coord.refresh(&stale).await })
    };
    auth.wait_for_refreshes(2).await;
    auth.post("/test/revoke-grants").await;
    let other_process = credentials(dir.path());
    let login = save_login(&other_process, "remote", &auth.tokens().await).await;
    let got = refreshing.await.unwrap().unwrap();
    assert!(
        auth.stats().await["refresh_invalid_grant"]
            .as_u64()
            .unwrap()
            >= 2
    );
    assert_eq!(got, login);
    assert!(auth.accepts(&got.access_token).await);
}

#[tokio::test]
async fn a_credential_about_to_expire_is_refreshed_before_use() {
    let auth = AuthServer::start(60);
    let dir = tempfile::tempdir().unwrap();
    let creds = credentials(dir.path());
    let mut login = save_login(&creds, "remote", &auth.tokens().await).await;
    // Stored as expiring in 3 s: inside the proactive window.
    login.meta.expires_at_ms = Some(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
            + 3_000,
    );
    let login = creds
        .save(
            &login.key,
            Expected::Version(login.version),
            &login.access_token,
            login.refresh_token.as_ref(),
            None,
            login.meta.clone(),
        )
        .await
        .unwrap();
    let coord = coordinator(&creds, Duration::from_secs(10));

    let current = coord.current("remote").await.unwrap().unwrap();
    assert_eq!(auth.refreshes().await, 1);
    assert!(current.version > login.version);
    assert!(current.meta.expires_at_ms.unwrap() > login.meta.expires_at_ms.unwrap());
    // Far from expiry now: the next use reads the store and sends nothing.
    assert_eq!(coord.current("remote").await.unwrap().unwrap(), current);
    assert_eq!(auth.refreshes().await, 1);
}

#[tokio::test]
async fn tokens_are_sealed_in_the_database_file() {
    let auth = AuthServer::start(60);
    let dir = tempfile::tempdir().unwrap();
    let creds = credentials(dir.path());
    let tokens = auth.tokens().await;
    save_login(&creds, "remote", &tokens).await;
    drop(creds);
    let mut bytes = Vec::new();
    for f in ["patchbay.db", "patchbay.db-wal"] {
        if let Ok(b) = std::fs::read(dir.path().join(f)) {
            bytes.extend(b);
        }
    }
    for field in ["access_token", "refresh_token"] {
        let token = tokens[field].as_str().unwrap().as_bytes();
        assert!(
            !bytes.windows(token.len()).any(|w| w == token),
            "the {field} is in the database file in the clear"
        );
    }
}

#[tokio::test]
async fn logout_revokes_at_the_authorization_server_and_forgets_here() {
    let auth = AuthServer::start(60);
    let dir = tempfile::tempdir().unwrap();
    let creds = credentials(dir.path());
    let login = save_login(&creds, "remote", &auth.tokens().await).await;
    assert!(auth.accepts(&login.access_token).await);
    let before = patchbay_engine::auth::status(&creds, "remote")
        .await
        .unwrap();
    assert!(before.logged_in && before.can_refresh);
    assert_eq!(before.issuer.as_deref(), Some(auth.issuer.as_str()));
    assert!(
        !serde_json::to_string(&before)
            .unwrap()
            .contains(login.access_token.expose())
    );

    let report = patchbay_engine::auth::logout(&creds, &reqwest::Client::new(), "remote")
        .await
        .unwrap();
    assert!(report.removed && report.revoked, "{report:?}");
    assert_eq!(auth.stats().await["revocations"], 1);
    assert!(
        !auth.accepts(&login.access_token).await,
        "revoking the refresh token revoked its grant's access token too"
    );
    assert!(creds.current("remote").await.unwrap().is_none());
    let after = patchbay_engine::auth::status(&creds, "remote")
        .await
        .unwrap();
    assert!(!after.logged_in);
}

#[tokio::test]
async fn a_login_sealed_under_a_missing_key_is_kept_and_works_again_when_the_key_is_back() {
    let auth = AuthServer::start(60);
    let dir = tempfile::tempdir().unwrap();
    let creds = credentials(dir.path());
    let stale = save_login(&creds, "remote", &auth.tokens().await).await;
    drop(creds);
    // The key goes missing (what an unreachable keyring looks like to a key-file data dir).
    let key_file = dir.path().join("vault.key");
    let key = std::fs::read(&key_file).unwrap();
    std::fs::remove_file(&key_file).unwrap();
    let creds = credentials(dir.path());
    let coord = coordinator(&creds, Duration::from_secs(10));
    let err = coord.current("remote").await.unwrap_err();
    assert!(
        matches!(&err, RefreshError::Locked { reason, .. } if reason.contains("missing")),
        "{err:?}"
    );
    assert!(matches!(
        coord.refresh(&stale).await,
        Err(RefreshError::Locked { .. })
    ));
    let status = patchbay_engine::auth::status(&creds, "remote")
        .await
        .unwrap();
    assert!(!status.logged_in);
    assert!(status.problem.unwrap().contains("missing"));
    assert!(
        !key_file.exists(),
        "no new key was made over the saved login"
    );
    assert_eq!(
        auth.refreshes().await,
        0,
        "nothing was sent with a token we cannot read"
    );
    // The key is back: the same login works, no new login needed.
    std::fs::write(&key_file, key).unwrap();
    let creds = credentials(dir.path());
    let back = creds.current("remote").await.unwrap().unwrap();
    assert_eq!(back.access_token, stale.access_token);
    assert!(auth.accepts(&back.access_token).await);
}
