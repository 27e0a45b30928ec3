//! What a person asks when something is wrong: where the data lives and how secrets are kept
//! (`doctor`), and starting over when the vault's key is gone for good (`reset_vault`).

use std::path::PathBuf;

use serde::Serialize;

use super::{Hub, HubError};
use crate::auth::{self, AuthStatus};
use crate::vault::KeyBackend;

/// What `doctor` reports.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Doctor {
    pub data_dir: PathBuf,
    pub database: PathBuf,
    #[serde(flatten)]
    pub key_backend: KeyBackend,
    /// Every configured server: how it is reached and, for remote ones, its saved login.
    pub peers: Vec<DoctorServer>,
}

/// One configured server as `doctor` sees it. Never holds a token.
// The window knows it as `DoctorPeer`, in the report's `peers`; in the engine "peer" is rmcp's
// handle to a connected server only.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export, rename = "DoctorPeer"))]
pub struct DoctorServer {
    pub name: String,
    pub transport: &'static str,
    /// The command line or URL.
    pub target: String,
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthStatus>,
}

/// What `reset_vault` forgot.
#[derive(Debug, Clone, Serialize)]
pub struct VaultReset {
    /// Saved logins removed.
    pub logins: usize,
    /// Servers whose env and header values must be typed in again.
    pub servers: usize,
}

impl Hub {
    /// Where the data lives and how secrets are kept, for `doctor`. `open_vault` tries the key
    /// now (a person asked; this may show the keyring's unlock prompt); without it, the report
    /// says where the key lives without asking the keyring (the window's notice at launch).
    pub async fn doctor(&self, open_vault: bool) -> Doctor {
        let vault = self.inner.auth.vault();
        let key_backend = if open_vault {
            vault.reopen().await.backend().clone()
        } else {
            vault.backend_without_opening().await
        };
        let refresher = self.coordinator().await;
        let defs = self.inner.store.list_servers().await.unwrap_or_default();
        let mut servers = Vec::with_capacity(defs.len());
        for def in defs {
            let auth = if def.remote_url().is_some() && open_vault {
                auth::status(refresher.credentials(), &def.name).await.ok()
            } else {
                None
            };
            servers.push(DoctorServer {
                transport: def.transport.kind(),
                target: def.transport_target(),
                name: def.name,
                enabled: def.enabled,
                auth,
            });
        }
        Doctor {
            data_dir: self.inner.data_dir.clone(),
            database: self.inner.data_dir.join("patchbay.db"),
            key_backend,
            peers: servers,
        }
    }

    /// Starts over when the key that sealed this data dir's secrets is gone for good (the
    /// keyring entry deleted, the key file lost): forgets every saved login and client secret
    /// and every server's env and header values (the servers stay, their values shown as to be
    /// typed again), and makes a new key on the next secret. Never needed while the key can
    /// still come back (an unreachable or locked keyring): that is only a locked vault.
    pub async fn reset_vault(&self) -> Result<VaultReset, HubError> {
        let _edit = self.inner.edits.lock().await;
        let (logins, servers) =
            self.inner
                .auth
                .vault()
                .reset()
                .await
                .map_err(|message| HubError::Save {
                    path: self.inner.data_dir.clone(),
                    message,
                })?;
        Ok(VaultReset { logins, servers })
    }
}
