//! The vault: one 256-bit key that seals every secret the store keeps (tokens, client secrets,
//! servers' env and header values).
//!
//! The key lives in the OS keyring (Secret Service, Keychain, Credential Manager) through the
//! `keyring` crate. Where there is no keyring (a headless Linux box, CI), it lives in a key file
//! in the data dir that only the user can read, and `doctor` says so.
//!
//! The rule that keeps logins: **a key that sealed something is never replaced.** The store
//! keeps a record of where the key lives and a constant sealed under it (`open.rs`); a key that
//! cannot be found (the keyring unreachable, locked, turned off) leaves the vault *locked* for
//! that run, with a reason that says what to do, and nothing is written. Sealing then fails
//! with that reason, and opening a sealed secret fails, which the auth layer turns into
//! `needs_auth`. Nothing ever falls back to plaintext.
//!
//! Ownership: one [`VaultCell`] per `Hub`, opened on the first secret that needs it (so a
//! command or a launch that touches no secret never asks the keyring); the `Vault` it holds is
//! immutable. Two processes over one data dir find the same key (the same keyring entry, or
//! the same file), so they read each other's secrets; making a key happens under a lock file,
//! so two processes opening a fresh data dir at once agree on one key.

mod cell;
pub mod context;
mod key;
mod open;

use std::fmt;
use std::path::PathBuf;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use serde::Serialize;

pub use cell::VaultCell;
pub use key::{Keyring, NoKeyring, OsKeyring};

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

const NONCE_LEN: usize = 24;
/// First byte of every sealed blob: the format, so a future change can still read old rows.
const FORMAT_V1: u8 = 1;

#[derive(Debug, Clone, thiserror::Error)]
pub enum VaultError {
    #[error("the secret store is locked: {0}")]
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
    /// The key cannot be had this run; nothing can be sealed or opened. `reason` says why and
    /// what to do.
    Locked { reason: String },
    /// Nothing has been sealed yet, so no key has been made; one is made (in the keyring when
    /// it can be) when the first secret is kept.
    NoKeyYet,
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
    fn with_key(key: &key::Key, backend: KeyBackend) -> Vault {
        Vault {
            cipher: Some(XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(
                key,
            ))),
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

    pub fn is_locked(&self) -> bool {
        self.cipher.is_none()
    }

    /// `Ok` when secrets can be sealed and opened; else why not.
    pub fn usable(&self) -> Result<(), VaultError> {
        self.cipher().map(|_| ())
    }

    fn cipher(&self) -> Result<&XChaCha20Poly1305, VaultError> {
        match (&self.cipher, &self.backend) {
            (Some(c), _) => Ok(c),
            (None, KeyBackend::Locked { reason }) => Err(VaultError::Locked(reason.clone())),
            (None, _) => Err(VaultError::Locked("no key".into())),
        }
    }

    /// Seals `plain`, bound to `context` (a row's identity, see [`context`]): a sealed blob
    /// moved to another row does not open.
    pub fn seal(&self, plain: &[u8], context: &str) -> Result<Vec<u8>, VaultError> {
        let cipher = self.cipher()?;
        Ok(seal_with(cipher, plain, context))
    }

    pub fn open_sealed(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, VaultError> {
        open_with(self.cipher()?, sealed, context)
    }
}

fn seal_with(cipher: &XChaCha20Poly1305, plain: &[u8], context: &str) -> Vec<u8> {
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
    out
}

fn open_with(
    cipher: &XChaCha20Poly1305,
    sealed: &[u8],
    context: &str,
) -> Result<Vec<u8>, VaultError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_print_as_stars() {
        let s = Secret::new("tok-123");
        assert_eq!(format!("{s:?} {s}"), "*** ***");
        assert_eq!(s.expose(), "tok-123");
    }

    #[test]
    fn sealed_text_does_not_contain_the_secret_and_is_bound_to_its_row() {
        let v = Vault::with_key(&key::new_key(), KeyBackend::Keyring);
        let sealed = v.seal(b"access-token-XYZ", "row-1").unwrap();
        assert!(!sealed.windows(16).any(|w| w == b"access-token-XYZ"));
        assert_eq!(
            v.open_sealed(&sealed, "row-1").unwrap(),
            b"access-token-XYZ"
        );
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
        let other = Vault::with_key(&key::new_key(), KeyBackend::Keyring);
        assert!(matches!(
            other.open_sealed(&sealed, "row-1"),
            Err(VaultError::Unsealable)
        ));
    }

    #[test]
    fn a_locked_vault_says_why_and_seals_nothing() {
        let v = Vault::locked("the keyring is away".into());
        let err = v.seal(b"x", "c").unwrap_err();
        assert!(err.to_string().contains("the keyring is away"), "{err}");
        assert!(v.open_sealed(&[1; 64], "c").is_err());
        assert!(v.is_locked());
    }
}
