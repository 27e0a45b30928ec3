//! The vault: one 256-bit key that seals every secret the store keeps (tokens, client secrets).
//!
//! The key lives in the OS keyring (Secret Service, Keychain, Credential Manager) through the
//! `keyring` crate. Where there is no keyring (a headless Linux box, CI), it lives in a key file
//! in the data dir that only the user can read, and `doctor` says so.
//!
//! Ownership: one `Vault` per `Hub`, immutable after `open`. Two processes over one data dir
//! find the same key (the same keyring entry, or the same file), so they read each other's
//! secrets. A key that cannot be had leaves the vault *locked*: sealing fails with a clear
//! error and opening a sealed secret fails, which the auth layer turns into `needs_auth`.
//! Nothing ever falls back to plaintext.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand::RngCore;
use serde::Serialize;

/// A secret string. Its `Debug` and `Display` print `***`, so a token inside an error, an event
/// or a `tracing` field cannot leak by accident; `expose` is the one way to the text.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: impl Into<String>) -> Secret {
        Secret(text.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
/// First byte of every sealed blob: the format, so a future change can still read old rows.
const FORMAT_V1: u8 = 1;
const KEYRING_SERVICE: &str = "patchbay";
const KEY_FILE: &str = "vault.key";

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error(
        "the secret store is locked: {0}. Saved logins cannot be used until the key is back; log in again to start over"
    )]
    Locked(String),
    #[error(
        "a saved secret could not be opened (it was sealed under another key, or is damaged); log in again"
    )]
    Unsealable,
}

/// Where the key came from, for `doctor` and the app's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "backend", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum KeyBackend {
    /// The OS keyring holds the key.
    Keyring,
    /// No keyring: a file only this user can read holds the key. `reason` says why.
    KeyFile { path: PathBuf, reason: String },
    /// No key could be had; nothing can be sealed or opened.
    Locked { reason: String },
}

/// The OS keyring as the vault sees it: one entry per data dir. A trait so unit tests can stand
/// in for the OS keyring (the one component tests may double).
pub trait Keyring: Send + Sync {
    /// `Ok(None)` when there is no entry yet; `Err` when the keyring itself cannot be used.
    fn get(&self, account: &str) -> Result<Option<String>, String>;
    fn set(&self, account: &str, value: &str) -> Result<(), String>;
}

/// The real OS keyring through the `keyring` crate.
pub struct OsKeyring;

impl Keyring for OsKeyring {
    fn get(&self, account: &str) -> Result<Option<String>, String> {
        let entry = keyring::Entry::new(KEYRING_SERVICE, account).map_err(|e| e.to_string())?;
        match entry.get_password() {
            Ok(v) => Ok(Some(v)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    fn set(&self, account: &str, value: &str) -> Result<(), String> {
        let entry = keyring::Entry::new(KEYRING_SERVICE, account).map_err(|e| e.to_string())?;
        entry.set_password(value).map_err(|e| e.to_string())
    }
}

/// A keyring that is never there: `PATCHBAY_KEYRING=off`, for headless machines and tests that
/// must not touch the person's real keyring.
pub struct NoKeyring;

impl Keyring for NoKeyring {
    fn get(&self, _: &str) -> Result<Option<String>, String> {
        Err("the keyring is turned off (PATCHBAY_KEYRING=off)".into())
    }
    fn set(&self, _: &str, _: &str) -> Result<(), String> {
        Err("the keyring is turned off (PATCHBAY_KEYRING=off)".into())
    }
}

pub struct Vault {
    cipher: Option<XChaCha20Poly1305>,
    backend: KeyBackend,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Vault {
    /// Finds or makes the key for `data_dir`. Never fails: without a key the vault is locked.
    /// Blocking (keyring and file I/O).
    ///
    /// Order: an existing key file wins (it was chosen when the keyring was missing, and the
    /// secrets sealed since then are under it); else the keyring entry; else, with a working
    /// keyring and no entry, a new key stored there; else (no keyring) a new key file.
    pub fn open(data_dir: &Path, keyring: &dyn Keyring) -> Vault {
        let file = data_dir.join(KEY_FILE);
        if file.exists() {
            return match read_key_file(&file) {
                Ok(key) => Vault::with_key(
                    key,
                    KeyBackend::KeyFile {
                        path: file,
                        reason: "a key file from an earlier run without a keyring".into(),
                    },
                ),
                Err(reason) => Vault::locked(reason),
            };
        }
        let account = keyring_account(data_dir);
        match keyring.get(&account) {
            Ok(Some(text)) => match decode_key(&text) {
                Some(key) => Vault::with_key(key, KeyBackend::Keyring),
                None => Vault::locked(format!(
                    "the keyring entry '{KEYRING_SERVICE}/{account}' does not hold a Patchbay key"
                )),
            },
            Ok(None) => {
                let key = new_key();
                // Read it back: some keyrings accept a write they do not keep.
                match keyring
                    .set(&account, &encode_key(&key))
                    .and_then(|()| keyring.get(&account))
                {
                    Ok(Some(back)) if decode_key(&back) == Some(key) => {
                        Vault::with_key(key, KeyBackend::Keyring)
                    }
                    Ok(_) => Vault::fall_back_to_file(
                        &file,
                        "the keyring did not keep the key it was given".into(),
                    ),
                    Err(e) => Vault::fall_back_to_file(&file, e),
                }
            }
            Err(e) => Vault::fall_back_to_file(&file, e),
        }
    }

    fn fall_back_to_file(file: &Path, why: String) -> Vault {
        let key = new_key();
        match write_key_file(file, &key) {
            Ok(()) => {
                tracing::warn!(path = %file.display(), reason = %why, "no OS keyring: the vault key is in a key file only this user can read");
                Vault::with_key(
                    key,
                    KeyBackend::KeyFile {
                        path: file.to_path_buf(),
                        reason: format!("no OS keyring ({why})"),
                    },
                )
            }
            // Another process made the file first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => match read_key_file(file) {
                Ok(key) => Vault::with_key(
                    key,
                    KeyBackend::KeyFile {
                        path: file.to_path_buf(),
                        reason: format!("no OS keyring ({why})"),
                    },
                ),
                Err(reason) => Vault::locked(reason),
            },
            Err(e) => Vault::locked(format!(
                "no OS keyring ({why}), and the key file {} could not be written: {e}",
                file.display()
            )),
        }
    }

    fn with_key(key: [u8; KEY_LEN], backend: KeyBackend) -> Vault {
        Vault {
            cipher: Some(XChaCha20Poly1305::new(Key::from_slice(&key))),
            backend,
        }
    }

    fn locked(reason: String) -> Vault {
        tracing::warn!(%reason, "the vault is locked");
        Vault {
            cipher: None,
            backend: KeyBackend::Locked { reason },
        }
    }

    pub fn backend(&self) -> &KeyBackend {
        &self.backend
    }

    fn cipher(&self) -> Result<&XChaCha20Poly1305, VaultError> {
        match (&self.cipher, &self.backend) {
            (Some(c), _) => Ok(c),
            (None, KeyBackend::Locked { reason }) => Err(VaultError::Locked(reason.clone())),
            (None, _) => Err(VaultError::Locked("no key".into())),
        }
    }

    /// Seals `plain`, bound to `context` (a row's identity): a sealed blob moved to another row
    /// does not open.
    pub fn seal(&self, plain: &[u8], context: &str) -> Result<Vec<u8>, VaultError> {
        let cipher = self.cipher()?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: context.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 encryption of an in-memory buffer cannot fail");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    pub fn open_sealed(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, VaultError> {
        let cipher = self.cipher()?;
        if sealed.len() < 1 + NONCE_LEN || sealed[0] != FORMAT_V1 {
            return Err(VaultError::Unsealable);
        }
        let (nonce, body) = sealed[1..].split_at(NONCE_LEN);
        cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| VaultError::Unsealable)
    }
}

/// One keyring entry per data dir, so two data dirs (a test's and the person's) never share.
fn keyring_account(data_dir: &Path) -> String {
    let dir = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    format!("vault-key:{}", dir.display())
}

fn new_key() -> [u8; KEY_LEN] {
    let mut key = [0u8; KEY_LEN];
    rand::rng().fill_bytes(&mut key);
    key
}

// Hex rather than raw bytes: some keyrings only keep text.
fn encode_key(key: &[u8; KEY_LEN]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_key(text: &str) -> Option<[u8; KEY_LEN]> {
    let text = text.trim();
    if text.len() != KEY_LEN * 2 || !text.is_ascii() {
        return None;
    }
    let mut key = [0u8; KEY_LEN];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(key)
}

fn read_key_file(path: &Path) -> Result<[u8; KEY_LEN], String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            // Others could read it: tighten, and say so.
            tracing::warn!(path = %path.display(), "the vault key file was readable by others; made it owner-only");
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("the key file {} cannot be read: {e}", path.display()))?;
    decode_key(&text).ok_or_else(|| {
        format!(
            "the key file {} does not hold a Patchbay key",
            path.display()
        )
    })
}

/// Creates the key file with owner-only permissions from the start (never world-readable, not
/// even for an instant), failing if it already exists.
fn write_key_file(path: &Path, key: &[u8; KEY_LEN]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(encode_key(key).as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Mutex;

    /// Stands in for the OS keyring.
    #[derive(Default)]
    struct FakeKeyring {
        entries: Mutex<HashMap<String, String>>,
        broken: bool,
        forgetful: bool,
    }

    impl Keyring for FakeKeyring {
        fn get(&self, account: &str) -> Result<Option<String>, String> {
            if self.broken {
                return Err("no Secret Service on the session bus".into());
            }
            Ok(self.entries.lock().unwrap().get(account).cloned())
        }
        fn set(&self, account: &str, value: &str) -> Result<(), String> {
            if self.broken {
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

    #[test]
    fn secrets_print_as_stars() {
        let s = Secret::new("tok-123");
        assert_eq!(format!("{s:?} {s}"), "*** ***");
        assert_eq!(s.expose(), "tok-123");
    }

    #[test]
    fn keyring_key_is_made_once_and_found_again() {
        let dir = tempfile::tempdir().unwrap();
        let ring = FakeKeyring::default();
        let a = Vault::open(dir.path(), &ring);
        assert_eq!(a.backend(), &KeyBackend::Keyring);
        let sealed = a.seal(b"refresh-token", "row-1").unwrap();
        let b = Vault::open(dir.path(), &ring);
        assert_eq!(b.open_sealed(&sealed, "row-1").unwrap(), b"refresh-token");
        assert!(
            !dir.path().join(KEY_FILE).exists(),
            "no key file when a keyring works"
        );
    }

    #[test]
    fn sealed_text_does_not_contain_the_secret_and_is_bound_to_its_row() {
        let dir = tempfile::tempdir().unwrap();
        let v = Vault::open(dir.path(), &FakeKeyring::default());
        let sealed = v.seal(b"access-token-XYZ", "row-1").unwrap();
        assert!(!sealed.windows(16).any(|w| w == b"access-token-XYZ"));
        assert!(matches!(
            v.open_sealed(&sealed, "row-2"),
            Err(VaultError::Unsealable)
        ));
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(matches!(
            v.open_sealed(&tampered, "row-1"),
            Err(VaultError::Unsealable)
        ));
    }

    #[test]
    fn without_a_keyring_a_private_key_file_is_used_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let broken = FakeKeyring {
            broken: true,
            ..Default::default()
        };
        let a = Vault::open(dir.path(), &broken);
        let KeyBackend::KeyFile { path, reason } = a.backend().clone() else {
            panic!("expected a key file, got {:?}", a.backend());
        };
        assert!(reason.contains("no Secret Service"), "{reason}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "key file mode {mode:o}");
        }
        let sealed = a.seal(b"s", "ctx").unwrap();
        // The file wins over a keyring that works later: secrets sealed under it stay readable.
        let b = Vault::open(dir.path(), &FakeKeyring::default());
        assert!(matches!(b.backend(), KeyBackend::KeyFile { .. }));
        assert_eq!(b.open_sealed(&sealed, "ctx").unwrap(), b"s");
    }

    #[test]
    fn a_keyring_that_forgets_falls_back_to_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let ring = FakeKeyring {
            forgetful: true,
            ..Default::default()
        };
        let v = Vault::open(dir.path(), &ring);
        assert!(
            matches!(v.backend(), KeyBackend::KeyFile { reason, .. } if reason.contains("did not keep")),
            "{:?}",
            v.backend()
        );
    }

    #[test]
    fn an_unreadable_key_locks_the_vault_without_panicking() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(KEY_FILE), "not a key").unwrap();
        let v = Vault::open(dir.path(), &FakeKeyring::default());
        assert!(matches!(v.backend(), KeyBackend::Locked { .. }));
        let err = v.seal(b"x", "c").unwrap_err();
        assert!(matches!(err, VaultError::Locked(_)));
        assert!(err.to_string().contains("log in again"), "{err}");
        assert!(v.open_sealed(&[1; 64], "c").is_err());
    }

    #[test]
    fn a_damaged_keyring_entry_locks_the_vault() {
        let dir = tempfile::tempdir().unwrap();
        let ring = FakeKeyring::default();
        ring.set(&keyring_account(dir.path()), "zz").unwrap();
        let v = Vault::open(dir.path(), &ring);
        assert!(matches!(v.backend(), KeyBackend::Locked { .. }));
    }

    #[test]
    fn a_loose_key_file_is_tightened() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(KEY_FILE);
            std::fs::write(&path, encode_key(&new_key())).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let v = Vault::open(dir.path(), &FakeKeyring::default());
            assert!(matches!(v.backend(), KeyBackend::KeyFile { .. }));
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
