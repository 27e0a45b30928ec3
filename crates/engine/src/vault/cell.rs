//! The vault of one hub, opened on first use: the keyring is asked only when a secret is first
//! sealed or opened, so a launch or a command that touches no secret never meets the keyring's
//! unlock prompt.
//!
//! Two callers at once: the first opens, the second waits for that same open (a mutex held
//! across it), then both use the one `Vault`. A vault that came out locked is not kept for
//! good: after `LOCKED_RETRY` (or at once, for a person's own request through `reopen`) the
//! next caller tries again, so unlocking the keyring while the app runs is enough.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{KeyBackend, Keyring, NoKeyring, OsKeyring, Vault, open};
use crate::store::{KeyHome, Store};

/// How long a locked vault is kept before the next use tries the keyring again.
const LOCKED_RETRY: Duration = Duration::from_secs(60);

pub struct VaultCell {
    store: Store,
    data_dir: PathBuf,
    keyring: Arc<dyn Keyring>,
    opened: tokio::sync::Mutex<Option<(Arc<Vault>, Instant)>>,
}

impl std::fmt::Debug for VaultCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultCell")
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

impl VaultCell {
    /// `os_keyring: false` is `PATCHBAY_KEYRING=off`: the key lives in a key file.
    pub fn new(store: Store, data_dir: PathBuf, os_keyring: bool) -> VaultCell {
        let keyring: Arc<dyn Keyring> = if os_keyring {
            Arc::new(OsKeyring)
        } else {
            Arc::new(NoKeyring)
        };
        Self::with_keyring(store, data_dir, keyring)
    }

    pub fn with_keyring(store: Store, data_dir: PathBuf, keyring: Arc<dyn Keyring>) -> VaultCell {
        VaultCell {
            store,
            data_dir,
            keyring,
            opened: tokio::sync::Mutex::new(None),
        }
    }

    /// The vault, opened now if it has not been (or was locked a while ago).
    pub async fn get(&self) -> Arc<Vault> {
        self.open_if(|vault, at| vault.is_locked() && at.elapsed() >= LOCKED_RETRY)
            .await
    }

    /// The vault, trying again at once if it is locked: for a person's own request (a login,
    /// `doctor`), which should see whether unlocking the keyring helped.
    pub async fn reopen(&self) -> Arc<Vault> {
        self.open_if(|vault, _| vault.is_locked()).await
    }

    async fn open_if(&self, stale: impl Fn(&Vault, Instant) -> bool) -> Arc<Vault> {
        let mut opened = self.opened.lock().await;
        if let Some((vault, at)) = opened.as_ref()
            && !stale(vault, *at)
        {
            return vault.clone();
        }
        let vault = Arc::new(open::open(&self.store, &self.data_dir, self.keyring.clone()).await);
        *opened = Some((vault.clone(), Instant::now()));
        vault
    }

    /// Starts over, for a key that is gone for good: forgets the record and everything sealed
    /// under the key (`Store::reset_vault`), keeps a key file aside as `vault.key.old`, and
    /// makes a new key on the next secret. Returns (logins, servers) that lost their secrets.
    pub async fn reset(&self) -> Result<(usize, usize), String> {
        let mut opened = self.opened.lock().await;
        let dir = self.data_dir.clone();
        let lock = tokio::task::spawn_blocking(move || open::take_lock(&dir))
            .await
            .map_err(|e| e.to_string())??;
        let counts = self.store.reset_vault().await.map_err(|e| e.to_string())?;
        let file = self.data_dir.join(super::key::KEY_FILE);
        if file.exists() {
            std::fs::rename(&file, self.data_dir.join("vault.key.old"))
                .map_err(|e| format!("could not move {} aside: {e}", file.display()))?;
        }
        *opened = None;
        drop(lock);
        Ok(counts)
    }

    /// Where the key lives, without asking the keyring: the open vault's word if it is open,
    /// else the store's record. For the window's notice at launch; never waits for a vault
    /// being opened (which may be waiting at the keyring's prompt).
    pub async fn backend_without_opening(&self) -> KeyBackend {
        if let Ok(opened) = self.opened.try_lock()
            && let Some((vault, _)) = opened.as_ref()
        {
            return vault.backend().clone();
        }
        match self.store.vault_record().await {
            Ok(Some(record)) => match record.home {
                KeyHome::Keyring => KeyBackend::Keyring,
                KeyHome::File => KeyBackend::KeyFile {
                    path: self.data_dir.join(super::key::KEY_FILE),
                    reason: record
                        .note
                        .unwrap_or_else(|| "no OS keyring when the key was made".into()),
                },
            },
            Ok(None) => KeyBackend::NoKeyYet,
            Err(e) => KeyBackend::Locked {
                reason: format!("the vault record cannot be read: {e}"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::context;
    use super::super::key::{KEY_FILE, keyring_account};
    use super::*;
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Stands in for the OS keyring; `reachable` can be switched off and on, as a session bus
    /// or an unlock prompt comes and goes.
    #[derive(Default)]
    struct FakeKeyring {
        entries: Mutex<HashMap<String, String>>,
        unreachable: AtomicBool,
        forgetful: bool,
        asked: AtomicBool,
    }

    impl Keyring for FakeKeyring {
        fn get(&self, account: &str) -> Result<Option<String>, String> {
            self.asked.store(true, Ordering::SeqCst);
            if self.unreachable.load(Ordering::SeqCst) {
                return Err("no Secret Service on the session bus".into());
            }
            Ok(self.entries.lock().unwrap().get(account).cloned())
        }
        fn set(&self, account: &str, value: &str) -> Result<(), String> {
            self.asked.store(true, Ordering::SeqCst);
            if self.unreachable.load(Ordering::SeqCst) {
                return Err("no Secret Service on the session bus".into());
            }
            if !self.forgetful {
                self.entries
                    .lock()
                    .unwrap()
                    .insert(account.into(), value.into());
            }
            Ok(())
        }
    }

    async fn store(dir: &std::path::Path) -> Store {
        let path = dir.join("patchbay.db");
        tokio::task::spawn_blocking(move || Store::open(&path).unwrap())
            .await
            .unwrap()
    }

    fn cell(store: &Store, dir: &std::path::Path, ring: &Arc<FakeKeyring>) -> VaultCell {
        VaultCell::with_keyring(store.clone(), dir.to_path_buf(), ring.clone())
    }

    /// Seals something and stores it, as a login would: from now on the key matters.
    async fn keep_a_secret(store: &Store, vault: &Vault) {
        let sealed = vault
            .seal(b"client-secret", &context::client_secret("demo"))
            .unwrap();
        store
            .add_servers_with_secret(vec![], Some(("demo".into(), sealed)))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn the_keyring_is_asked_only_when_a_secret_is_needed() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        let ring = Arc::new(FakeKeyring::default());
        let cell = cell(&store, dir.path(), &ring);
        assert_eq!(cell.backend_without_opening().await, KeyBackend::NoKeyYet);
        assert!(!ring.asked.load(Ordering::SeqCst));
        assert_eq!(cell.get().await.backend(), &KeyBackend::Keyring);
        assert!(ring.asked.load(Ordering::SeqCst));
        assert!(
            !dir.path().join(KEY_FILE).exists(),
            "no key file when a keyring works"
        );
    }

    #[tokio::test]
    async fn a_keyring_out_of_reach_never_replaces_a_key_that_sealed_something() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        let ring = Arc::new(FakeKeyring::default());
        let first = cell(&store, dir.path(), &ring).get().await;
        keep_a_secret(&store, &first).await;

        // Another run, where the keyring cannot be reached: locked, saying why, and nothing
        // written (no key file that would win from then on).
        ring.unreachable.store(true, Ordering::SeqCst);
        let away = cell(&store, dir.path(), &ring).get().await;
        let KeyBackend::Locked { reason } = away.backend() else {
            panic!("expected locked, got {:?}", away.backend());
        };
        assert!(
            reason.contains("cannot be reached") && reason.contains("Unlock the keyring"),
            "{reason}"
        );
        assert!(!dir.path().join(KEY_FILE).exists());

        // PATCHBAY_KEYRING=off on this data dir: a clear error, not a new key.
        let off = VaultCell::new(store.clone(), dir.path().to_path_buf(), false)
            .get()
            .await;
        let KeyBackend::Locked { reason } = off.backend() else {
            panic!("expected locked, got {:?}", off.backend());
        };
        assert!(reason.contains("PATCHBAY_KEYRING=off"), "{reason}");
        assert!(!dir.path().join(KEY_FILE).exists());

        // The keyring back: the secret opens.
        ring.unreachable.store(false, Ordering::SeqCst);
        let back = cell(&store, dir.path(), &ring).get().await;
        let sealed = store.client_secret("demo").await.unwrap().unwrap();
        assert_eq!(
            back.open_sealed(&sealed, &context::client_secret("demo"))
                .unwrap(),
            b"client-secret"
        );
    }

    #[tokio::test]
    async fn a_wrong_key_is_recognised_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        let ring = Arc::new(FakeKeyring::default());
        keep_a_secret(&store, &*cell(&store, dir.path(), &ring).get().await).await;
        // Someone put another key in the entry.
        ring.entries.lock().unwrap().insert(
            keyring_account(dir.path()),
            super::super::key::encode_key(&super::super::key::new_key()),
        );
        let v = cell(&store, dir.path(), &ring).get().await;
        assert!(
            matches!(v.backend(), KeyBackend::Locked { reason } if reason.contains("another key")),
            "{:?}",
            v.backend()
        );
    }

    #[tokio::test]
    async fn without_a_keyring_a_fresh_dir_gets_a_private_key_file_that_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        let ring = Arc::new(FakeKeyring::default());
        ring.unreachable.store(true, Ordering::SeqCst);
        let a = cell(&store, dir.path(), &ring).get().await;
        let KeyBackend::KeyFile { reason, .. } = a.backend().clone() else {
            panic!("expected a key file, got {:?}", a.backend());
        };
        assert!(reason.contains("no Secret Service"), "{reason}");
        keep_a_secret(&store, &a).await;
        // The file stays the key even once a keyring works.
        ring.unreachable.store(false, Ordering::SeqCst);
        let b = cell(&store, dir.path(), &ring).get().await;
        assert!(matches!(b.backend(), KeyBackend::KeyFile { .. }));
        let sealed = store.client_secret("demo").await.unwrap().unwrap();
        assert!(
            b.open_sealed(&sealed, &context::client_secret("demo"))
                .is_ok()
        );
        // Without the file: locked, not a new file.
        std::fs::remove_file(dir.path().join(KEY_FILE)).unwrap();
        let c = cell(&store, dir.path(), &ring).get().await;
        assert!(
            matches!(c.backend(), KeyBackend::Locked { reason } if reason.contains("missing")),
            "{:?}",
            c.backend()
        );
        assert!(!dir.path().join(KEY_FILE).exists());
    }

    #[tokio::test]
    async fn a_keyring_that_forgets_falls_back_to_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        let ring = Arc::new(FakeKeyring {
            forgetful: true,
            ..Default::default()
        });
        let v = cell(&store, dir.path(), &ring).get().await;
        assert!(
            matches!(v.backend(), KeyBackend::KeyFile { reason, .. } if reason.contains("did not keep")),
            "{:?}",
            v.backend()
        );
    }

    #[tokio::test]
    async fn a_data_dir_from_before_the_record_keeps_the_key_its_secrets_were_sealed_under() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        let ring = Arc::new(FakeKeyring::default());
        // As an older Patchbay left it: a key in the keyring, a secret sealed under it, and no
        // record; then a key file written by a run without the keyring.
        let old = super::super::key::new_key();
        ring.entries.lock().unwrap().insert(
            keyring_account(dir.path()),
            super::super::key::encode_key(&old),
        );
        let legacy = Vault::with_key(&old, KeyBackend::Keyring);
        keep_a_secret(&store, &legacy).await;
        super::super::key::write_key_file(
            &dir.path().join(KEY_FILE),
            &super::super::key::new_key(),
        )
        .unwrap();
        let v = cell(&store, dir.path(), &ring).get().await;
        assert_eq!(v.backend(), &KeyBackend::Keyring);
        assert!(store.vault_record().await.unwrap().is_some());
        // With neither reachable, it is locked and writes nothing.
        let dir2 = tempfile::tempdir().unwrap();
        let store2 = super::tests::store(dir2.path()).await;
        keep_a_secret(&store2, &legacy).await;
        let away = Arc::new(FakeKeyring::default());
        away.unreachable.store(true, Ordering::SeqCst);
        let v = cell(&store2, dir2.path(), &away).get().await;
        assert!(
            matches!(v.backend(), KeyBackend::Locked { .. }),
            "{:?}",
            v.backend()
        );
        assert!(!dir2.path().join(KEY_FILE).exists());
        assert!(store2.vault_record().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_locked_vault_is_tried_again_on_a_persons_request() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        let ring = Arc::new(FakeKeyring::default());
        keep_a_secret(&store, &*cell(&store, dir.path(), &ring).get().await).await;
        ring.unreachable.store(true, Ordering::SeqCst);
        let cell = cell(&store, dir.path(), &ring);
        assert!(cell.get().await.is_locked());
        ring.unreachable.store(false, Ordering::SeqCst);
        assert!(cell.get().await.is_locked(), "kept for a while");
        assert!(
            !cell.reopen().await.is_locked(),
            "a person's request tries again"
        );
    }

    #[tokio::test]
    async fn a_moved_data_dir_still_finds_its_key_in_the_keyring() {
        let root = tempfile::tempdir().unwrap();
        let before = root.path().join("before");
        std::fs::create_dir(&before).unwrap();
        let store_before = store(&before).await;
        let ring = Arc::new(FakeKeyring::default());
        keep_a_secret(
            &store_before,
            &*cell(&store_before, &before, &ring).get().await,
        )
        .await;
        drop(store_before);
        let after = root.path().join("after");
        std::fs::rename(&before, &after).unwrap();
        let store_after = store(&after).await;
        let v = cell(&store_after, &after, &ring).get().await;
        assert_eq!(v.backend(), &KeyBackend::Keyring);
        let sealed = store_after.client_secret("demo").await.unwrap().unwrap();
        assert!(
            v.open_sealed(&sealed, &context::client_secret("demo"))
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_locked_keyring_on_a_fresh_dir_is_not_taken_for_no_keyring() {
        struct Dismissed;
        impl Keyring for Dismissed {
            fn get(&self, _: &str) -> Result<Option<String>, String> {
                Err("Couldn't access platform secure storage: Secret Service: unlock prompt was dismissed".into())
            }
            fn set(&self, _: &str, _: &str) -> Result<(), String> {
                Err("unlock prompt was dismissed".into())
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        let v =
            VaultCell::with_keyring(store.clone(), dir.path().to_path_buf(), Arc::new(Dismissed))
                .get()
                .await;
        assert!(
            matches!(v.backend(), KeyBackend::Locked { reason } if reason.contains("unlock it")),
            "{:?}",
            v.backend()
        );
        assert!(
            !dir.path().join(KEY_FILE).exists(),
            "no key file in place of a locked keyring"
        );
        assert!(store.vault_record().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_reset_starts_over_and_forgets_only_what_the_lost_key_sealed() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        let ring = Arc::new(FakeKeyring::default());
        keep_a_secret(&store, &*cell(&store, dir.path(), &ring).get().await).await;
        // The entry is gone for good: locked, and nothing written.
        ring.entries.lock().unwrap().clear();
        let cell = cell(&store, dir.path(), &ring);
        assert!(
            matches!(cell.get().await.backend(), KeyBackend::Locked { reason } if reason.contains("vault reset")),
            "the locked reason names the way out"
        );
        cell.reset().await.unwrap();
        assert!(store.client_secret("demo").await.unwrap().is_none());
        let fresh = cell.get().await;
        assert_eq!(fresh.backend(), &KeyBackend::Keyring);
        assert!(fresh.seal(b"x", "c").is_ok());
    }

    #[tokio::test]
    async fn two_hubs_opening_a_fresh_dir_at_once_agree_on_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        let ring = Arc::new(FakeKeyring::default());
        let cells: Vec<_> = (0..8).map(|_| cell(&store, dir.path(), &ring)).collect();
        let vaults = futures::future::join_all(cells.iter().map(|c| c.get())).await;
        let sealed = vaults[0].seal(b"x", "c").unwrap();
        for v in &vaults {
            assert_eq!(v.open_sealed(&sealed, "c").unwrap(), b"x");
        }
    }
}
