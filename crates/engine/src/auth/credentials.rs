//! Typed credentials over the store and the vault: tokens go in sealed and come out as
//! [`Secret`]s. The store is the truth: nothing here caches a token past one call.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::store::{CredentialKey, CredentialRow, Expected, Store, StoreError};
use crate::vault::{Secret, Vault, VaultCell, VaultError, context};

/// How the client proves itself at the token endpoint (from the AS metadata and registration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenAuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    None,
}

/// What is kept beside the sealed tokens, in the clear: nothing here is secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CredentialMeta {
    pub token_endpoint: String,
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    pub auth_method: TokenAuthMethod,
    /// Unix epoch ms when the access token expires, when the AS said.
    #[serde(default)]
    pub expires_at_ms: Option<i64>,
    /// Unix epoch ms when the access token was issued (when we asked for it): with the expiry,
    /// its lifetime, so short-lived tokens are not refreshed on every request.
    #[serde(default)]
    pub issued_at_ms: Option<i64>,
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// One credential as read at `version`.
#[derive(Debug, Clone, PartialEq)]
pub struct Credential {
    pub key: CredentialKey,
    pub version: i64,
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    pub client_secret: Option<Secret>,
    pub meta: CredentialMeta,
    /// Why the authorization server refused the refresh token, once it has: the login is dead
    /// and is never sent again (see `Store::mark_refused`).
    pub refused: Option<String>,
}

/// The sealed part, as JSON inside the AEAD.
#[derive(Serialize, Deserialize)]
struct Sealed {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// The credentials table seen through the vault. Cheap to clone. The vault is opened on the
/// first secret that needs it, never before (a server without a saved login never asks the
/// keyring).
#[derive(Clone, Debug)]
pub struct Credentials {
    store: Store,
    vault: Arc<VaultCell>,
}

impl Credentials {
    pub fn new(store: Store, vault: Arc<VaultCell>) -> Credentials {
        Credentials { store, vault }
    }

    /// The vault, opened now if need be.
    pub async fn vault(&self) -> Arc<Vault> {
        self.vault.get().await
    }

    pub fn vault_cell(&self) -> &VaultCell {
        &self.vault
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// The server's current credential. A row the vault cannot open is an error (the caller
    /// treats it as "log in again"), never a crash and never plaintext.
    pub async fn current(&self, server: &str) -> Result<Option<Credential>, CredentialsError> {
        match self.store.credential_for(server).await? {
            Some(row) => Ok(Some(self.open_row(row).await?)),
            None => Ok(None),
        }
    }

    pub async fn get(&self, key: &CredentialKey) -> Result<Option<Credential>, CredentialsError> {
        match self.store.credential(key).await? {
            Some(row) => Ok(Some(self.open_row(row).await?)),
            None => Ok(None),
        }
    }

    pub(crate) async fn open_row(
        &self,
        row: CredentialRow,
    ) -> Result<Credential, CredentialsError> {
        let plain = self
            .vault()
            .await
            .open_sealed(&row.sealed, &context::credential(&row.key))?;
        let sealed: Sealed = serde_json::from_slice(&plain).map_err(|_| VaultError::Unsealable)?;
        let meta: CredentialMeta = serde_json::from_value(row.meta).map_err(|e| {
            StoreError::Corrupt(format!("credential of server '{}': {e}", row.key.server))
        })?;
        Ok(Credential {
            key: row.key,
            version: row.version,
            access_token: Secret::new(sealed.access_token),
            refresh_token: sealed.refresh_token.map(Secret::new),
            client_secret: sealed.client_secret.map(Secret::new),
            meta,
            refused: row.refused,
        })
    }

    /// Writes tokens; returns the credential as now stored. `Expected::Version` makes it a
    /// compare-and-swap (see `Store::put_credential`).
    pub async fn save(
        &self,
        key: &CredentialKey,
        expected: Expected,
        access_token: &Secret,
        refresh_token: Option<&Secret>,
        client_secret: Option<&Secret>,
        meta: CredentialMeta,
    ) -> Result<Credential, CredentialsError> {
        let plain = serde_json::to_vec(&Sealed {
            access_token: access_token.expose().to_string(),
            refresh_token: refresh_token.map(|s| s.expose().to_string()),
            client_secret: client_secret.map(|s| s.expose().to_string()),
        })
        .expect("strings serialize");
        let sealed = self.vault().await.seal(&plain, &context::credential(key))?;
        let meta_json = serde_json::to_value(&meta).expect("meta serializes");
        let version = self
            .store
            .put_credential(key, expected, sealed, meta_json)
            .await?;
        Ok(Credential {
            key: key.clone(),
            version,
            access_token: access_token.clone(),
            refresh_token: refresh_token.cloned(),
            client_secret: client_secret.cloned(),
            meta,
            refused: None,
        })
    }

    /// Seals a pre-registered client's secret for storing with its server.
    pub async fn seal_client_secret(
        &self,
        server: &str,
        secret: &Secret,
    ) -> Result<Vec<u8>, CredentialsError> {
        Ok(self
            .vault()
            .await
            .seal(secret.expose().as_bytes(), &context::client_secret(server))?)
    }

    /// Every saved login of `from` and its pre-registered client's secret (as stored), sealed
    /// again for the server's new name `to`: sealed values are bound to their server's name.
    /// Asks the vault only if there is something to open.
    pub(crate) async fn resealed_for(
        &self,
        from: &str,
        to: &str,
    ) -> Result<(Vec<crate::store::MovedLogin>, Option<(Vec<u8>, Vec<u8>)>), CredentialsError> {
        let mut logins = Vec::new();
        for row in self.store.credentials_of(from).await? {
            let vault = self.vault().await;
            let plain = vault.open_sealed(&row.sealed, &context::credential(&row.key))?;
            let moved = CredentialKey {
                server: to.into(),
                ..row.key.clone()
            };
            logins.push(crate::store::MovedLogin {
                sealed: vault.seal(&plain, &context::credential(&moved))?,
                from: row.key,
                version: row.version,
            });
        }
        let secret = match self.store.client_secret(from).await? {
            Some(read) => {
                let vault = self.vault().await;
                let plain = vault.open_sealed(&read, &context::client_secret(from))?;
                let sealed = vault.seal(&plain, &context::client_secret(to))?;
                Some((read, sealed))
            }
            None => None,
        };
        Ok((logins, secret))
    }

    /// The server's pre-registered client secret, if it has one.
    pub async fn client_secret(&self, server: &str) -> Result<Option<Secret>, CredentialsError> {
        let Some(sealed) = self.store.client_secret(server).await? else {
            return Ok(None);
        };
        let plain = self
            .vault()
            .await
            .open_sealed(&sealed, &context::client_secret(server))?;
        let text = String::from_utf8(plain).map_err(|_| VaultError::Unsealable)?;
        Ok(Some(Secret::new(text)))
    }

    /// The client Patchbay registered itself at `issuer` (RFC 7591), to reuse.
    pub async fn registered_client(
        &self,
        issuer: &str,
    ) -> Result<Option<(String, Option<Secret>)>, CredentialsError> {
        let Some((id, sealed)) = self.store.registered_client(issuer).await? else {
            return Ok(None);
        };
        let secret = match sealed {
            Some(sealed) => {
                let plain = self
                    .vault()
                    .await
                    .open_sealed(&sealed, &context::registered_client(issuer))?;
                Some(Secret::new(
                    String::from_utf8(plain).map_err(|_| VaultError::Unsealable)?,
                ))
            }
            None => None,
        };
        Ok(Some((id, secret)))
    }

    pub async fn save_registered_client(
        &self,
        issuer: &str,
        client_id: &str,
        secret: Option<&Secret>,
    ) -> Result<(), CredentialsError> {
        let sealed = match secret {
            Some(s) => Some(
                self.vault()
                    .await
                    .seal(s.expose().as_bytes(), &context::registered_client(issuer))?,
            ),
            None => None,
        };
        Ok(self
            .store
            .put_registered_client(issuer, client_id, sealed)
            .await?)
    }

    pub async fn forget_registered_client(&self, issuer: &str) -> Result<(), CredentialsError> {
        Ok(self.store.forget_registered_client(issuer).await?)
    }

    pub async fn forget(&self, server: &str) -> Result<usize, CredentialsError> {
        Ok(self.store.delete_credentials(server).await?)
    }
}
