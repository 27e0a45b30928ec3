//! Finding (or, for a data dir with nothing sealed, making) the key.
//!
//! The store's vault record says where the key lives and holds a constant sealed under it:
//!
//! - **A record exists:** only the key that opens its check is accepted, from the home the
//!   record names. Not found (the keyring cannot be reached, is locked, has lost the entry, is
//!   turned off; the key file is gone) means *locked for this run*, with a reason that says
//!   what to do. Nothing is written: a new key would make every saved secret unreadable.
//! - **No record, but sealed rows** (a data dir from before the record existed): the key that
//!   opens them, from the key file or the keyring, becomes the record's; none opens them means
//!   locked, as above.
//! - **No record and nothing sealed:** a new key, in the keyring when it works (else a key
//!   file, created whole or not at all), and the record. Nothing can be lost here.
//!
//! Making or identifying a key happens under an exclusive lock on `vault.lock` in the data
//! dir, so two processes opening a fresh data dir at once agree on one key instead of each
//! writing its own into the same keyring entry.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::KeyInit;

use super::context::{self, KEY_CHECK, KEY_CHECK_PLAIN};
use super::key::{self, KEY_FILE, Key, Keyring};
use super::{KeyBackend, Vault, open_with, seal_with};
use crate::store::{KeyHome, SealedRow, Store, VaultRecord};

const LOCK_FILE: &str = "vault.lock";
/// How long a process waits for another one that is making or finding the key (which may be
/// waiting for a person at the keyring's unlock prompt).
const LOCK_WAIT: Duration = Duration::from_secs(30);
/// How many sealed values of each kind are tried when identifying a key without a record.
const SAMPLES: usize = 8;

/// Opens the vault of `data_dir`. Never fails: without its key the vault is locked.
pub(super) async fn open(store: &Store, data_dir: &Path, keyring: Arc<dyn Keyring>) -> Vault {
    let dir = data_dir.to_path_buf();
    let lock = match tokio::task::spawn_blocking(move || take_lock(&dir)).await {
        Ok(Ok(lock)) => lock,
        Ok(Err(reason)) => return Vault::locked(reason),
        Err(e) => return Vault::locked(format!("could not take the vault lock: {e}")),
    };
    let vault = open_locked(store, data_dir, keyring).await;
    drop(lock);
    vault
}

pub(super) fn take_lock(data_dir: &Path) -> Result<File, String> {
    crate::files::lock(
        &data_dir.join(LOCK_FILE),
        LOCK_WAIT,
        "opening the vault (perhaps waiting at the keyring's unlock prompt)",
    )
}

async fn open_locked(store: &Store, data_dir: &Path, keyring: Arc<dyn Keyring>) -> Vault {
    let record = match store.vault_record().await {
        Ok(r) => r,
        Err(e) => return Vault::locked(format!("the vault record cannot be read: {e}")),
    };
    let file = data_dir.join(KEY_FILE);
    match record {
        Some(record) => {
            let dir = data_dir.to_path_buf();
            blocking(move || from_record(&record, &dir, &*keyring)).await
        }
        None => {
            let sealed = match store.sealed_rows(SAMPLES).await {
                Ok(rows) => rows,
                Err(e) => return Vault::locked(format!("the store cannot be read: {e}")),
            };
            let dir = data_dir.to_path_buf();
            let found = blocking(move || {
                if sealed.is_empty() {
                    make_key(&dir, &*keyring)
                } else {
                    identify_key(&dir, &*keyring, &sealed)
                }
            })
            .await;
            let Found { key, home, backend } = match found {
                Ok(found) => found,
                Err(reason) => return Vault::locked(reason),
            };
            let note = match &backend {
                KeyBackend::KeyFile { reason, .. } => Some(reason.clone()),
                _ => None,
            };
            let cipher = XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(&key));
            let record = VaultRecord {
                home,
                check: seal_with(&cipher, KEY_CHECK_PLAIN, KEY_CHECK),
                note,
                account: (home == KeyHome::Keyring).then(|| key::keyring_account(data_dir)),
            };
            match store.put_vault_record(record).await {
                Ok(_) => Vault::with_key(&key, backend),
                Err(e) => Vault::locked(format!(
                    "the key was found but its record could not be written ({e}); nothing was changed, try again (key {})",
                    file.display()
                )),
            }
        }
    }
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work)
        .await
        .expect("vault task panicked")
}

struct Found {
    key: Key,
    home: KeyHome,
    backend: KeyBackend,
}

fn opens_check(key: &Key, record: &VaultRecord) -> bool {
    let cipher = XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(key));
    open_with(&cipher, &record.check, KEY_CHECK).is_ok_and(|p| p == KEY_CHECK_PLAIN)
}

/// What to do about a key that is gone for good.
const GONE: &str = "if it cannot be brought back, `patchbay-cli vault reset` starts over (your servers stay; saved logins and env and header values must be entered again)";

/// The key the record names, from where it says it lives; locked (nothing written) otherwise.
fn from_record(record: &VaultRecord, data_dir: &Path, keyring: &dyn Keyring) -> Vault {
    let file = data_dir.join(KEY_FILE);
    // The entry it was stored under (the data dir may have moved since).
    let account = record
        .account
        .clone()
        .unwrap_or_else(|| key::keyring_account(data_dir));
    match record.home {
        KeyHome::File => match key::read_key_file(&file) {
            Ok(Some(key)) if opens_check(&key, record) => Vault::with_key(
                &key,
                KeyBackend::KeyFile {
                    path: file,
                    reason: record
                        .note
                        .clone()
                        .unwrap_or_else(|| "no OS keyring when the key was made".into()),
                },
            ),
            Ok(Some(_)) => Vault::locked(format!(
                "the key file {} holds another key than the one that sealed this data dir's secrets (it was replaced); put the original back; {GONE}",
                file.display()
            )),
            Ok(None) => Vault::locked(format!(
                "the key file {} that seals this data dir's secrets is missing; restore it from a backup; {GONE}",
                file.display()
            )),
            Err(reason) => Vault::locked(reason),
        },
        KeyHome::Keyring if keyring.turned_off() => Vault::locked(format!(
            "this data dir keeps its key in the OS keyring ({}), and PATCHBAY_KEYRING=off keeps Patchbay away from it; unset PATCHBAY_KEYRING to use your saved logins",
            key::keyring_entry_name(&account)
        )),
        KeyHome::Keyring => match key::read_keyring(keyring, &account) {
            Ok(Some(key)) if opens_check(&key, record) => {
                Vault::with_key(&key, KeyBackend::Keyring)
            }
            Ok(Some(_)) => Vault::locked(format!(
                "the keyring entry {} holds another key than the one that sealed this data dir's secrets; nothing was changed; {GONE}",
                key::keyring_entry_name(&account)
            )),
            Ok(None) => Vault::locked(format!(
                "the OS keyring has no entry {} any more, and the saved secrets are sealed under it; {GONE}",
                key::keyring_entry_name(&account)
            )),
            Err(e) => Vault::locked(format!(
                "the OS keyring holds this data dir's key but cannot be reached ({e}). Unlock the keyring, or run Patchbay from your desktop session; your saved logins are kept and nothing was changed"
            )),
        },
    }
}

/// A data dir with nothing sealed: find or make its key.
fn make_key(data_dir: &Path, keyring: &dyn Keyring) -> Result<Found, String> {
    let file = data_dir.join(KEY_FILE);
    // A key file made earlier (nothing sealed under it yet): keep using it.
    if let Some(key) = key::read_key_file(&file)? {
        return Ok(Found {
            key,
            home: KeyHome::File,
            backend: KeyBackend::KeyFile {
                path: file,
                reason: "a key file from an earlier run without a keyring".into(),
            },
        });
    }
    let account = key::keyring_account(data_dir);
    let why = match key::read_keyring(keyring, &account) {
        Ok(Some(key)) => {
            return Ok(Found {
                key,
                home: KeyHome::Keyring,
                backend: KeyBackend::Keyring,
            });
        }
        Ok(None) => {
            let key = key::new_key();
            match key::write_keyring(keyring, &account, &key) {
                Ok(()) => {
                    return Ok(Found {
                        key,
                        home: KeyHome::Keyring,
                        backend: KeyBackend::Keyring,
                    });
                }
                Err(e) => e,
            }
        }
        Err(e) => e,
    };
    // A keyring that is there but locked (its unlock prompt dismissed) is not "no keyring": a
    // key file made now would hold every secret from then on. Locked for this run instead.
    if is_locked_keyring(&why) {
        return Err(format!(
            "the OS keyring is locked ({why}); unlock it (or accept its prompt) and try again"
        ));
    }
    // No keyring: nothing is sealed yet, so a key file loses nothing.
    let key = key::new_key();
    key::write_key_file(&file, &key).map_err(|e| {
        format!(
            "no OS keyring ({why}), and the key file {} could not be written: {e}",
            file.display()
        )
    })?;
    tracing::warn!(path = %file.display(), reason = %why, "no OS keyring: the vault key is in a key file only this user can read");
    Ok(Found {
        key,
        home: KeyHome::File,
        backend: KeyBackend::KeyFile {
            path: file,
            reason: format!("no OS keyring ({why})"),
        },
    })
}

/// A data dir from before the vault record: the key that opens its sealed values, from the
/// key file or the keyring (the one that opens most of them, should both open some).
fn identify_key(
    data_dir: &Path,
    keyring: &dyn Keyring,
    sealed: &[SealedRow],
) -> Result<Found, String> {
    let file = data_dir.join(KEY_FILE);
    let opened = |key: &Key| {
        let cipher = XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(key));
        sealed
            .iter()
            .filter(|row| {
                let (blob, ctx) = context::of_row(row);
                open_with(&cipher, blob, &ctx).is_ok()
            })
            .count()
    };
    let mut problems = Vec::new();
    let mut best: Option<(usize, Found)> = None;
    match key::read_key_file(&file) {
        Ok(Some(key)) => {
            let n = opened(&key);
            if n > 0 {
                best = Some((
                    n,
                    Found {
                        key,
                        home: KeyHome::File,
                        backend: KeyBackend::KeyFile {
                            path: file.clone(),
                            reason: "a key file from an earlier run without a keyring".into(),
                        },
                    },
                ));
            }
        }
        Ok(None) => {}
        Err(e) => problems.push(e),
    }
    if !keyring.turned_off() || best.is_none() {
        match key::read_keyring(keyring, &key::keyring_account(data_dir)) {
            Ok(Some(key)) => {
                let n = opened(&key);
                if n > best.as_ref().map_or(0, |(m, _)| *m) {
                    best = Some((
                        n,
                        Found {
                            key,
                            home: KeyHome::Keyring,
                            backend: KeyBackend::Keyring,
                        },
                    ));
                }
            }
            Ok(None) => problems.push(format!(
                "the OS keyring has no entry {}",
                key::keyring_entry_name(&key::keyring_account(data_dir))
            )),
            Err(e) => problems.push(format!("the OS keyring cannot be reached ({e})")),
        }
    }
    best.map(|(_, found)| found).ok_or_else(|| {
        format!(
            "the key that sealed this data dir's secrets cannot be found: {}. Unlock the keyring or run Patchbay from your desktop session; nothing was changed; {GONE}",
            if problems.is_empty() {
                "neither the key file nor the keyring holds it".to_string()
            } else {
                problems.join("; ")
            }
        )
    })
}

/// Whether a keyring error says the keyring is there but locked (a dismissed or failed unlock
/// prompt), as opposed to no keyring at all (no session bus, no Secret Service). The `keyring`
/// crate reports both as "no storage access", so the words tell.
fn is_locked_keyring(why: &str) -> bool {
    let why = why.to_ascii_lowercase();
    why.contains("dismissed") || why.contains("locked")
}
