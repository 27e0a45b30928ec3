//! A server's definition at rest: its env and header values sealed by the vault, the rest in
//! the clear (see `config/secrets.rs` for what counts as a secret value, and
//! `store/servers.rs` for how a row keeps them).
//!
//! Who sees what: the hub, the window and the CLI hold definitions *shown* (values masked);
//! the values come back only through [`reveal`]: when a session starts the server, and when
//! the person asks to see them (`--show-secrets`, a click in the app, an export with secrets).

use crate::config::{SecretValues, ServerDef, TransportDef};
use crate::store::{NewServer, Store, StoreError, StoredSecrets};
use crate::vault::{VaultCell, VaultError, context};

#[derive(Debug, Clone, thiserror::Error)]
pub enum SecretsError {
    #[error("server '{server}': its env and header values cannot be sealed or opened: {source}")]
    Vault {
        server: String,
        #[source]
        source: VaultError,
    },
    #[error("server '{server}': {message}")]
    Store { server: String, message: String },
    #[error(
        "server '{server}': no value is stored for {}; type it in again",
        names.join(", ")
    )]
    Missing { server: String, names: Vec<String> },
}

impl SecretsError {
    fn store(server: &str, e: StoreError) -> SecretsError {
        SecretsError::Store {
            server: server.into(),
            message: e.to_string(),
        }
    }
}

/// `def` (with its values, or some masked ones standing for `stored`) ready to store: shown
/// form and sealed values. Asks the vault only when there is something to seal.
pub async fn seal(
    vault: &VaultCell,
    def: &ServerDef,
    stored: Option<&SecretValues>,
) -> Result<NewServer, SecretsError> {
    let mut full = def.clone();
    if let Some(stored) = stored {
        full.fill_secrets(stored);
    }
    let (shown, values) = full.split_secrets();
    // Whatever is still masked was never given a value.
    let missing = ServerDef::clone(&full).fill_secrets(&SecretValues::default());
    if !missing.is_empty() {
        return Err(SecretsError::Missing {
            server: def.name.clone(),
            names: missing,
        });
    }
    if values.is_empty() {
        return Ok(NewServer {
            def: shown,
            sealed: None,
        });
    }
    let plain = serde_json::to_vec(&values).expect("strings serialize");
    let sealed = vault
        .get()
        .await
        .seal(&plain, &context::server_secrets(&def.name))
        .map_err(|source| SecretsError::Vault {
            server: def.name.clone(),
            source,
        })?;
    Ok(NewServer {
        def: shown,
        sealed: Some(sealed),
    })
}

/// The server's stored values. Asks the vault only when they are sealed.
pub async fn stored_values(
    store: &Store,
    vault: &VaultCell,
    server: &str,
) -> Result<SecretValues, SecretsError> {
    let secrets = store
        .server_secrets(server)
        .await
        .map_err(|e| SecretsError::store(server, e))?;
    open_values(vault, server, secrets).await
}

async fn open_values(
    vault: &VaultCell,
    server: &str,
    secrets: StoredSecrets,
) -> Result<SecretValues, SecretsError> {
    match secrets {
        StoredSecrets::None => Ok(SecretValues::default()),
        StoredSecrets::Plain(values) => Ok(values),
        StoredSecrets::Sealed(sealed) => {
            let plain = vault
                .get()
                .await
                .open_sealed(&sealed, &context::server_secrets(server))
                .map_err(|source| SecretsError::Vault {
                    server: server.into(),
                    source,
                })?;
            serde_json::from_slice(&plain).map_err(|_| SecretsError::Vault {
                server: server.into(),
                source: VaultError::Unsealable,
            })
        }
    }
}

/// Why a server is not started.
#[derive(Debug, Clone, thiserror::Error)]
pub enum NotStarted {
    #[error("server '{0}' was removed")]
    Removed(String),
    #[error(
        "server '{server}' cannot be read by this version of Patchbay ({reason}); update Patchbay, or remove the server"
    )]
    Unreadable { server: String, reason: String },
    #[error(
        "server '{0}' was imported and has not started yet: see what it runs and confirm it first (Review and start in the app, or `patchbay-cli servers enable {0}`)"
    )]
    NeedsReview(String),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
}

/// What starting `server` runs: its definition *as stored now*, with its values, read from one
/// row. Whatever this process remembers of it (another process may have removed, re-imported or
/// edited it since) is not trusted: a local server waiting for the person's review is never
/// started, and a definition this version cannot read neither.
pub async fn for_start(
    store: &Store,
    vault: &VaultCell,
    server: &str,
) -> Result<ServerDef, NotStarted> {
    let (def, _) = as_stored(store, vault, server).await?;
    if matches!(def.transport, TransportDef::Stdio { .. }) && def.needs_review {
        return Err(NotStarted::NeedsReview(server.into()));
    }
    Ok(def)
}

/// The definition as stored now, with its values, and the row's revision: what a review shows
/// (and a confirmation then applies to, if the revision has not moved).
pub async fn as_stored(
    store: &Store,
    vault: &VaultCell,
    server: &str,
) -> Result<(ServerDef, i64), NotStarted> {
    let row = store
        .server_for_start(server)
        .await
        .map_err(|e| SecretsError::store(server, e))?
        .ok_or_else(|| NotStarted::Removed(server.into()))?;
    if let TransportDef::Unreadable { reason } = &row.def.transport {
        return Err(NotStarted::Unreadable {
            server: server.into(),
            reason: reason.clone(),
        });
    }
    Ok((fill(vault, row.def, row.secrets).await?, row.revision))
}

/// The server's definition as stored now with its values, read from one row (a definition and
/// values from two reads could belong to two versions of it). `None` when it is gone; an
/// unreadable definition comes back as it is (it has nothing to reveal).
pub async fn reveal(
    store: &Store,
    vault: &VaultCell,
    server: &str,
) -> Result<Option<ServerDef>, SecretsError> {
    match store
        .server_for_start(server)
        .await
        .map_err(|e| SecretsError::store(server, e))?
    {
        None => Ok(None),
        Some(row) => Ok(Some(fill(vault, row.def, row.secrets).await?)),
    }
}

/// `def` (shown form) with `secrets` in place of its masks; the vault is asked only when there
/// are masked values and they are sealed.
async fn fill(
    vault: &VaultCell,
    def: ServerDef,
    secrets: StoredSecrets,
) -> Result<ServerDef, SecretsError> {
    if !def.is_masked() {
        return Ok(def);
    }
    let values = open_values(vault, &def.name, secrets).await?;
    let mut full = def;
    let missing = full.fill_secrets(&values);
    if missing.is_empty() {
        Ok(full)
    } else {
        Err(SecretsError::Missing {
            server: full.name,
            names: missing,
        })
    }
}

/// Seals the values of rows from before values were sealed (`plain`), if the vault can be
/// had; rows edited meanwhile are left to their editor. Returns how many were sealed.
pub async fn seal_plain_rows(store: &Store, vault: &VaultCell, plain: &[String]) -> usize {
    if plain.is_empty() || vault.get().await.is_locked() {
        return 0;
    }
    let mut done = 0;
    for name in plain {
        let Ok(Some(shown)) = store.get_server(name).await else {
            continue;
        };
        let Ok(StoredSecrets::Plain(values)) = store.server_secrets(name).await else {
            continue;
        };
        match seal(vault, &shown, Some(&values)).await {
            Ok(NewServer {
                def,
                sealed: Some(sealed),
            }) => match store.seal_plain_server(name, def, sealed).await {
                Ok(true) => done += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(server = %name, "could not seal its env and header values: {e}")
                }
            },
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(server = %name, "could not seal its env and header values: {e}")
            }
        }
    }
    if done > 0 {
        tracing::info!(
            servers = done,
            "sealed env and header values kept in the clear by an older version"
        );
        match store.scrub().await {
            Ok(true) => {}
            Ok(false) => tracing::info!(
                "another process holds the database open; its log is emptied when it closes"
            ),
            Err(e) => tracing::warn!("could not rewrite the database without the old values: {e}"),
        }
    }
    done
}
