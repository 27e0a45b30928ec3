//! `login`, `auth-status`, `logout`: a remote server's saved login (OAuth).

use std::time::Duration;

use clap::Subcommand;
use patchbay_engine::{BrowserMode, Hub, HubError, now_ms};
use serde_json::json;

use crate::exit::OK;
use crate::output::{Out, tagged};

#[derive(Subcommand)]
pub enum AuthCommand {
    /// Log in to a remote server through the browser; exits 0 once the tokens are stored.
    Login {
        name: String,
        /// `system` opens the browser; `print` only prints the link; `follow` (automation)
        /// requests the link itself and needs an authorization server that asks no person.
        #[arg(long, value_enum, default_value_t = BrowserMode::System)]
        browser: BrowserMode,
        /// Give up if the browser has not answered within this many seconds.
        #[arg(long, default_value_t = 300, value_name = "SECS")]
        timeout: u64,
    },
    /// A server's saved login: issuer, scopes, expiry (never the token).
    AuthStatus { name: String },
    /// Revoke a server's login at its authorization server and delete it here.
    Logout { name: String },
}

pub async fn run(hub: &Hub, out: Out, command: AuthCommand) -> Result<u8, HubError> {
    match command {
        AuthCommand::Login {
            name,
            browser,
            timeout,
        } => login(hub, out, &name, browser, timeout).await,
        AuthCommand::AuthStatus { name } => auth_status(hub, out, &name).await,
        AuthCommand::Logout { name } => logout(hub, out, &name).await,
    }
}

async fn login(
    hub: &Hub,
    out: Out,
    name: &str,
    browser: BrowserMode,
    timeout: u64,
) -> Result<u8, HubError> {
    let status = hub
        .login_showing(name, browser, Duration::from_secs(timeout), |url| {
            let line = json!({"event": "login_url", "server": name, "url": url});
            out.emit(line, || {
                format!(
                    "Log in to {name} in your browser. If it did not open, open this link:\n{url}"
                )
            });
        })
        .await?;
    out.emit(tagged("logged_in", &status), || {
        format!(
            "{name}: logged in at {}",
            status.issuer.as_deref().unwrap_or("?")
        )
    });
    Ok(OK)
}

async fn auth_status(hub: &Hub, out: Out, name: &str) -> Result<u8, HubError> {
    let status = hub.auth_status(name).await?;
    out.emit(tagged("auth_status", &status), || {
        if let Some(problem) = &status.problem {
            return format!("{name}: needs login: {problem}");
        }
        if !status.logged_in {
            return format!("{name}: not logged in");
        }
        let expiry = match status.expires_at_ms {
            Some(at) => {
                let left = (at - now_ms()) / 1000;
                if left > 0 {
                    format!("access token expires in {left}s")
                } else {
                    "access token expired".into()
                }
            }
            None => "no expiry given".into(),
        };
        format!(
            "{name}: logged in at {} (client {}), scopes [{}], {expiry}, {}",
            status.issuer.as_deref().unwrap_or("?"),
            status.client_id.as_deref().unwrap_or("?"),
            status.scopes.join(" "),
            if status.can_refresh {
                "refreshes by itself"
            } else {
                "no refresh token: log in again when it expires"
            },
        )
    });
    Ok(OK)
}

async fn logout(hub: &Hub, out: Out, name: &str) -> Result<u8, HubError> {
    let report = hub.logout(name).await?;
    out.emit(tagged("logout", &report), || {
        match (&report.removed, &report.note) {
            (false, _) => format!("{name}: there was no saved login"),
            (true, None) => {
                format!("{name}: logged out; the authorization server revoked the login")
            }
            (true, Some(note)) => format!("{name}: logged out here ({note})"),
        }
    });
    Ok(OK)
}
