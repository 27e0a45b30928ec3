//! What every part of the engine that needs secrets shares: the store, the vault (opened on the
//! first secret that needs it: opening it may ask the OS keyring, which a command or a launch
//! that never touches a secret should not meet) and the one refresh coordinator. Cheap to
//! clone.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;

use super::credentials::Credentials;
use super::refresh::RefreshCoordinator;
use crate::store::Store;
use crate::vault::VaultCell;

#[derive(Clone)]
pub struct AuthContext {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    vault: Arc<VaultCell>,
    http: reqwest::Client,
    refresh_timeout: Duration,
    refresher: OnceCell<Arc<RefreshCoordinator>>,
}

impl AuthContext {
    pub fn new(
        store: Store,
        data_dir: PathBuf,
        os_keyring: bool,
        http: reqwest::Client,
        refresh_timeout: Duration,
    ) -> AuthContext {
        AuthContext {
            inner: Arc::new(Inner {
                vault: Arc::new(VaultCell::new(store.clone(), data_dir, os_keyring)),
                store,
                http,
                refresh_timeout,
                refresher: OnceCell::new(),
            }),
        }
    }

    /// The one refresh coordinator of this process (so single flight covers every session).
    pub async fn refresher(&self) -> Arc<RefreshCoordinator> {
        let inner = &self.inner;
        inner
            .refresher
            .get_or_init(|| async {
                RefreshCoordinator::new(
                    Credentials::new(inner.store.clone(), inner.vault.clone()),
                    inner.http.clone(),
                    inner.refresh_timeout,
                )
            })
            .await
            .clone()
    }

    pub fn vault(&self) -> &VaultCell {
        &self.inner.vault
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }
}
