//! Logging in to a remote server through the system browser, and out.

use std::time::Duration;

use patchbay_engine::{AuthStatus, BrowserMode, Hub, LogoutReport};
use tauri::{AppHandle, State};
use tauri_plugin_opener::OpenerExt;

use super::{Result, bring_to_front};

#[derive(Default)]
pub struct Openers(std::sync::Mutex<std::collections::HashSet<String>>);

/// How long a login waits for the browser.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Logs in through the system browser. The engine checks the authorization URL before it
/// announces it; only then does the opener plugin get it. `PATCHBAY_BROWSER=follow` (for
/// automated tests) lets the engine deliver the redirect itself instead.
#[tauri::command]
pub async fn login(
    app: AppHandle,
    hub: State<'_, Hub>,
    openers: State<'_, Openers>,
    name: String,
) -> Result<AuthStatus> {
    let follow = std::env::var("PATCHBAY_BROWSER").is_ok_and(|m| m == "follow");
    let mode = if follow {
        BrowserMode::Follow
    } else {
        BrowserMode::Print
    };
    // One browser tab per login: a second click joins the running login (the engine runs one
    // flow per server), and only the first caller opens its URL.
    let opens = !follow && openers.0.lock().unwrap().insert(name.clone());
    let mut opened = false;
    let outcome = hub
        .login_showing(&name, mode, LOGIN_TIMEOUT, |url| {
            if opens && !opened {
                opened = true;
                if let Err(e) = app.opener().open_url(url, None::<&str>) {
                    tracing::warn!("could not open the browser: {e}");
                }
            }
        })
        .await;
    if opens {
        openers.0.lock().unwrap().remove(&name);
    }
    let status = outcome?;
    bring_to_front(&app);
    Ok(status)
}

#[tauri::command]
pub fn cancel_login(hub: State<'_, Hub>, name: String) -> bool {
    hub.cancel_login(&name)
}

#[tauri::command]
pub async fn logout(hub: State<'_, Hub>, name: String) -> Result<LogoutReport> {
    Ok(hub.logout(&name).await?)
}

#[tauri::command]
pub async fn auth_status(hub: State<'_, Hub>, name: String) -> Result<AuthStatus> {
    Ok(hub.auth_status(&name).await?)
}
