//! What every part of the engine that needs tokens shares: the store, and the vault and
//! refresh coordinator, made on first use (opening the vault may ask the OS keyring, which a
//! command that never touches a login should not wait for). Cheap to clone.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;

use super::credentials::Credentials;
use super::refresh::RefreshCoordinator;
use crate::store::Store;
use crate::vault::{NoKeyring, OsKeyring, Vault};

#[derive(Clone)]
pub struct AuthContext {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    data_dir: PathBuf,
    os_keyring: bool,
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
                store,
                data_dir,
                os_keyring,
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
                let dir = inner.data_dir.clone();
                let os_keyring = inner.os_keyring;
                let vault = tokio::task::spawn_blocking(move || {
                    if os_keyring {
                        Vault::open(&dir, &OsKeyring)
                    } else {
                        Vault::open(&dir, &NoKeyring)
                    }
                })
                .await
                .expect("vault task");
                RefreshCoordinator::new(
                    Credentials::new(inner.store.clone(), Arc::new(vault)),
                    inner.http.clone(),
                    inner.refresh_timeout,
                )
            })
            .await
            .clone()
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }
}
