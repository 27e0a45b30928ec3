//! The key itself and the two places it can live: the OS keyring (one entry per data dir) and a
//! key file in the data dir that only the user can read.

use std::io::Write;
use std::path::Path;

use rand::RngCore;

pub(super) const KEY_LEN: usize = 32;
const KEYRING_SERVICE: &str = "patchbay";
pub(super) const KEY_FILE: &str = "vault.key";

pub(super) type Key = [u8; KEY_LEN];

/// The OS keyring as the vault sees it: one entry per data dir. A trait so unit tests can stand
/// in for the OS keyring (the one component tests may double; the real one is tested through
/// the CLI against gnome-keyring in `crates/cli/tests/keyring.rs`).
pub trait Keyring: Send + Sync {
    /// `Ok(None)` when there is no entry yet; `Err` when the keyring itself cannot be used.
    fn get(&self, account: &str) -> Result<Option<String>, String>;
    fn set(&self, account: &str, value: &str) -> Result<(), String>;
    /// Whether this keyring was turned off on purpose (`PATCHBAY_KEYRING=off`), for messages.
    fn turned_off(&self) -> bool {
        false
    }
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
    fn turned_off(&self) -> bool {
        true
    }
}

/// One keyring entry per data dir, so two data dirs (a test's and the person's) never share.
pub(super) fn keyring_account(data_dir: &Path) -> String {
    let dir = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    format!("vault-key:{}", dir.display())
}

pub(super) fn keyring_entry_name(account: &str) -> String {
    format!("{KEYRING_SERVICE}/{account}")
}

pub(super) fn new_key() -> Key {
    let mut key = [0u8; KEY_LEN];
    rand::rng().fill_bytes(&mut key);
    key
}

// Hex rather than raw bytes: some keyrings only keep text.
pub(super) fn encode_key(key: &Key) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn decode_key(text: &str) -> Option<Key> {
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

/// The key in the keyring entry `account`: `Ok(None)` when there is none.
pub(super) fn read_keyring(keyring: &dyn Keyring, account: &str) -> Result<Option<Key>, String> {
    match keyring.get(account)? {
        None => Ok(None),
        Some(text) => decode_key(&text).map(Some).ok_or_else(|| {
            format!("the keyring entry '{KEYRING_SERVICE}/{account}' does not hold a Patchbay key")
        }),
    }
}

/// Stores a new key in the keyring and reads it back: some keyrings accept a write they do not
/// keep.
pub(super) fn write_keyring(keyring: &dyn Keyring, account: &str, key: &Key) -> Result<(), String> {
    keyring.set(account, &encode_key(key))?;
    match keyring.get(account)?.as_deref().and_then(decode_key) {
        Some(back) if back == *key => Ok(()),
        _ => Err("the keyring did not keep the key it was given".into()),
    }
}

/// The key file's key: `Ok(None)` when there is no file.
pub(super) fn read_key_file(path: &Path) -> Result<Option<Key>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(format!(
                "the key file {} cannot be read: {e}",
                path.display()
            ));
        }
    };
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
    decode_key(&text).map(Some).ok_or_else(|| {
        format!(
            "the key file {} does not hold a Patchbay key",
            path.display()
        )
    })
}

/// Creates the key file whole or not at all: written to a private temporary file beside it
/// (owner-only from the start), synced, then linked into place, failing if a key file already
/// exists. Another process never sees half a key, and a key file is never replaced.
pub(super) fn write_key_file(path: &Path, key: &Key) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    // `tempfile` creates files 0600 on unix.
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(encode_key(key).as_bytes())?;
    file.as_file().sync_all()?;
    file.persist_noclobber(path).map_err(|e| e.error)?;
    // The rename itself survives a crash only once the directory is synced.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_as_hex_and_garbage_is_refused() {
        let key = new_key();
        assert_eq!(decode_key(&encode_key(&key)), Some(key));
        for bad in ["", "zz", &"0".repeat(63), &"é".repeat(32)] {
            assert_eq!(decode_key(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_key_file_is_private_from_the_start_and_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        let first = new_key();
        write_key_file(&path, &first).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "key file mode {mode:o}");
        }
        let err = write_key_file(&path, &new_key()).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(read_key_file(&path).unwrap(), Some(first));
        // No temporary file is left behind by the refused write.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(KEY_FILE)]);
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
            assert!(read_key_file(&path).unwrap().is_some());
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
