//! Requests to the token endpoint, through the `oauth2` crate (its request building, client
//! authentication and error parsing), carried by our reqwest client.

use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthType, ClientId, ClientSecret, HttpRequest, HttpResponse, RefreshToken, RequestTokenError,
    TokenResponse, TokenUrl,
};

use super::credentials::{Credential, TokenAuthMethod};
use crate::clock::now_ms;
use crate::vault::Secret;

/// What the token endpoint granted.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    pub access_token: Secret,
    /// A rotated refresh token, when the AS sent one; `None` means keep the old one.
    pub refresh_token: Option<Secret>,
    pub expires_at_ms: Option<i64>,
    /// When we asked for it (the expiry counts from there).
    pub issued_at_ms: i64,
    /// Scopes the AS says it granted, when it said.
    pub scopes: Option<Vec<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The AS refused the grant (`invalid_grant`): the refresh token is spent or revoked.
    #[error("the authorization server rejected the refresh token ({0})")]
    InvalidGrant(String),
    #[error("the authorization server answered with an error: {0}")]
    Refused(String),
    #[error("the token endpoint could not be reached: {0}")]
    Transport(String),
    #[error("the token endpoint's answer could not be read: {0}")]
    Malformed(String),
    #[error("{0}")]
    Unsafe(String),
}

/// The transport error type `oauth2` wants from our HTTP function.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct HttpFailure(String);

async fn send(http: reqwest::Client, request: HttpRequest) -> Result<HttpResponse, HttpFailure> {
    let request = reqwest::Request::try_from(request).map_err(|e| HttpFailure(e.to_string()))?;
    let response = http
        .execute(request)
        .await
        .map_err(|e| HttpFailure(e.without_url().to_string()))?;
    let mut out = http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        out = out.header(name, value);
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| HttpFailure(e.without_url().to_string()))?;
    out.body(body.to_vec())
        .map_err(|e| HttpFailure(e.to_string()))
}

/// `grant_type=refresh_token` for `cred`, with the RFC 8707 `resource`.
pub(crate) async fn refresh(
    http: &reqwest::Client,
    cred: &Credential,
    refresh_token: &Secret,
) -> Result<TokenGrant, TokenError> {
    // The refresh token and any client secret go only where the login's own rule allows
    // (https, or this machine for a server on this machine), whatever the stored metadata says.
    super::destinations::check_endpoint(
        "token endpoint",
        &cred.meta.token_endpoint,
        &cred.key.resource,
    )
    .map_err(TokenError::Unsafe)?;
    let token_url = TokenUrl::new(cred.meta.token_endpoint.clone())
        .map_err(|e| TokenError::Malformed(format!("token endpoint: {e}")))?;
    let mut client = BasicClient::new(ClientId::new(cred.key.client_id.clone()))
        .set_token_uri(token_url)
        .set_auth_type(match cred.meta.auth_method {
            TokenAuthMethod::ClientSecretBasic => AuthType::BasicAuth,
            TokenAuthMethod::ClientSecretPost | TokenAuthMethod::None => AuthType::RequestBody,
        });
    if cred.meta.auth_method != TokenAuthMethod::None
        && let Some(secret) = &cred.client_secret
    {
        client = client.set_client_secret(ClientSecret::new(secret.expose().to_string()));
    }
    let http = http.clone();
    let sender = move |req: HttpRequest| send(http.clone(), req);
    let started = now_ms();
    let response = client
        .exchange_refresh_token(&RefreshToken::new(refresh_token.expose().to_string()))
        .add_extra_param("resource", cred.key.resource.clone())
        .request_async(&sender)
        .await
        .map_err(|e| match e {
            RequestTokenError::ServerResponse(r) => {
                let text = match r.error_description() {
                    Some(d) => format!("{}: {d}", r.error()),
                    None => r.error().to_string(),
                };
                if *r.error() == BasicErrorResponseType::InvalidGrant {
                    TokenError::InvalidGrant(text)
                } else {
                    TokenError::Refused(text)
                }
            }
            RequestTokenError::Request(e) => TokenError::Transport(e.to_string()),
            RequestTokenError::Parse(e, _) => TokenError::Malformed(e.to_string()),
            RequestTokenError::Other(e) => TokenError::Malformed(e),
        })?;
    Ok(TokenGrant {
        access_token: Secret::new(response.access_token().secret().clone()),
        refresh_token: response
            .refresh_token()
            .map(|t| Secret::new(t.secret().clone())),
        expires_at_ms: response
            .expires_in()
            .map(|d| started + i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)),
        issued_at_ms: started,
        scopes: response
            .scopes()
            .map(|s| s.iter().map(|s| s.to_string()).collect()),
    })
}
