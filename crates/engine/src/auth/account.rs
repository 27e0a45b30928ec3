//! What a person can ask about a saved login, and logging out. Nothing here ever returns or
//! prints a token.

use serde::Serialize;

use super::credentials::{Credentials, CredentialsError, TokenAuthMethod};

/// A saved login as `auth-status` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct AuthStatus {
    pub server: String,
    pub logged_in: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    pub scopes: Vec<String>,
    /// Unix epoch ms when the access token expires, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub expires_at_ms: Option<i64>,
    pub can_refresh: bool,
    /// Why the saved login cannot be used, when it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

pub async fn status(
    credentials: &Credentials,
    server: &str,
) -> Result<AuthStatus, CredentialsError> {
    let empty = AuthStatus {
        server: server.into(),
        logged_in: false,
        issuer: None,
        client_id: None,
        resource: None,
        scopes: vec![],
        expires_at_ms: None,
        can_refresh: false,
        problem: None,
    };
    // One read of the row. A refused login is told from it alone: no vault (and no keyring)
    // needed to say so.
    let row = match credentials.store().credential_for(server).await? {
        None => return Ok(empty),
        Some(row) if row.refused.is_some() => {
            let scopes = row
                .meta
                .get("scopes")
                .and_then(|s| serde_json::from_value(s.clone()).ok())
                .unwrap_or_default();
            return Ok(AuthStatus {
                problem: row.refused.as_deref().map(super::refresh::refused_reason),
                issuer: Some(row.key.issuer),
                client_id: Some(row.key.client_id),
                resource: Some(row.key.resource),
                scopes,
                ..empty
            });
        }
        Some(row) => row,
    };
    match credentials.open_row(row).await {
        Ok(c) => Ok(AuthStatus {
            logged_in: true,
            issuer: Some(c.key.issuer),
            client_id: Some(c.key.client_id),
            resource: Some(c.key.resource),
            scopes: c.meta.scopes,
            expires_at_ms: c.meta.expires_at_ms,
            can_refresh: c.refresh_token.is_some(),
            ..empty
        }),
        Err(CredentialsError::Vault(e)) => Ok(AuthStatus {
            problem: Some(e.to_string()),
            ..empty
        }),
        Err(e) => Err(e),
    }
}

/// What `logout` did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct LogoutReport {
    pub server: String,
    /// Whether there was a saved login to remove.
    pub removed: bool,
    /// Whether the authorization server confirmed the revocation (RFC 7009).
    pub revoked: bool,
    /// Why it was not revoked, when it was not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Revokes the saved login at the authorization server when it offers revocation (the refresh
/// token, which takes the grant's access tokens with it; else the access token), then deletes
/// it here whatever the AS said: after logout nothing of it is left on this machine.
pub async fn logout(
    credentials: &Credentials,
    http: &reqwest::Client,
    server: &str,
) -> Result<LogoutReport, CredentialsError> {
    let (revoked, note) = match credentials.current(server).await {
        Ok(Some(c)) => match c.meta.revocation_endpoint.as_deref() {
            None => (
                false,
                Some("the authorization server offers no revocation".to_string()),
            ),
            Some(url) => {
                let token = match &c.refresh_token {
                    Some(rt) => Revocable::Refresh(rt.expose()),
                    None => Revocable::Access(c.access_token.expose()),
                };
                match revoke(
                    http,
                    url,
                    &c.key.resource,
                    &c.key.client_id,
                    c.meta.auth_method,
                    c.client_secret.as_ref().map(|s| s.expose()),
                    token,
                )
                .await
                {
                    Ok(()) => (true, None),
                    Err(e) => (false, Some(format!("revocation failed: {e}"))),
                }
            }
        },
        Ok(None) => (false, None),
        Err(CredentialsError::Vault(e)) => (false, Some(e.to_string())),
        Err(e) => return Err(e),
    };
    let removed = credentials.forget(server).await? > 0;
    Ok(LogoutReport {
        server: server.into(),
        removed,
        revoked,
        note: if removed { note } else { None },
    })
}

/// RFC 7009 by hand: the `oauth2` crate refuses any revocation endpoint that is not https,
/// and an authorization server on loopback http (a local or test AS, RFC 8252) is legitimate.
/// We apply our own rule instead (`destinations.rs`): https, or http on a loopback host for a
/// server on this machine (`resource`, the login's).
async fn revoke(
    http: &reqwest::Client,
    url: &str,
    resource: &str,
    client_id: &str,
    method: TokenAuthMethod,
    secret: Option<&str>,
    token: Revocable<'_>,
) -> Result<(), String> {
    super::destinations::check_endpoint("revocation endpoint", url, resource)?;
    let parsed = url::Url::parse(url).map_err(|e| format!("bad revocation endpoint {url}: {e}"))?;
    let (value, hint) = match token {
        Revocable::Refresh(t) => (t, "refresh_token"),
        Revocable::Access(t) => (t, "access_token"),
    };
    let mut form = vec![("token", value), ("token_type_hint", hint)];
    let mut request = http.post(parsed);
    match (method, secret) {
        (TokenAuthMethod::ClientSecretBasic, Some(secret)) => {
            request = request.basic_auth(client_id, Some(secret));
        }
        (TokenAuthMethod::ClientSecretPost, Some(secret)) => {
            form.push(("client_id", client_id));
            form.push(("client_secret", secret));
        }
        _ => form.push(("client_id", client_id)),
    }
    let response = request
        .form(&form)
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!(
            "the authorization server answered {}",
            response.status()
        ))
    }
}

enum Revocable<'a> {
    Refresh(&'a str),
    Access(&'a str),
}
