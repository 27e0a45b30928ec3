//! The vault's record (where the key lives, and a value sealed under it) and a look at every
//! sealed value the store keeps, so the vault can tell whether anything would be lost. The
//! store never sees a key or a secret in the clear.

use rusqlite::{OptionalExtension, params};

use super::{CredentialKey, Store, StoreError, now_ms};

/// Where a data dir's vault key lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyHome {
    Keyring,
    File,
}

impl KeyHome {
    fn as_str(self) -> &'static str {
        match self {
            KeyHome::Keyring => "keyring",
            KeyHome::File => "file",
        }
    }
}

/// The vault's row: written once, when the key is made (or first identified).
#[derive(Debug, Clone, PartialEq)]
pub struct VaultRecord {
    pub home: KeyHome,
    /// A constant sealed under the key: the key that opens it is this data dir's key.
    pub check: Vec<u8>,
    /// The keyring entry's account, when the key is in the keyring: found again under it even
    /// if the data dir moves.
    pub account: Option<String>,
    /// Why the key is in a file, when it is.
    pub note: Option<String>,
}

/// One sealed value, with what identifies it (the vault binds each to its row).
#[derive(Debug, Clone, PartialEq)]
pub enum SealedRow {
    Credential { key: CredentialKey, sealed: Vec<u8> },
    ClientSecret { server: String, sealed: Vec<u8> },
    RegisteredClient { issuer: String, sealed: Vec<u8> },
    ServerSecrets { server: String, sealed: Vec<u8> },
}

impl Store {
    pub async fn vault_record(&self) -> Result<Option<VaultRecord>, StoreError> {
        self.with(|c| {
            let row: Option<(String, Vec<u8>, Option<String>, Option<String>)> = c
                .query_row(
                    "SELECT home, key_check, note, keyring_account FROM vault WHERE id = 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            row.map(|(home, check, note, account)| {
                let home = match home.as_str() {
                    "keyring" => KeyHome::Keyring,
                    "file" => KeyHome::File,
                    other => {
                        return Err(StoreError::Corrupt(format!(
                            "the vault record names an unknown key home '{other}'"
                        )));
                    }
                };
                Ok(VaultRecord {
                    home,
                    check,
                    note,
                    account,
                })
            })
            .transpose()
        })
        .await
    }

    /// Writes the record if there is none yet; `false` when one was already there (it is kept).
    pub async fn put_vault_record(&self, record: VaultRecord) -> Result<bool, StoreError> {
        self.with(move |c| {
            let n = c.execute(
                "INSERT OR IGNORE INTO vault (id, home, key_check, note, keyring_account, created_at_ms)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5)",
                params![
                    record.home.as_str(),
                    record.check,
                    record.note,
                    record.account,
                    now_ms()
                ],
            )?;
            Ok(n == 1)
        })
        .await
    }

    /// Forgets the vault and everything sealed under it, in one transaction: the record, every
    /// saved login and client secret, and every server's sealed env and header values (the
    /// definitions keep their names, masked, so the person sees what to type in again). For a
    /// key that is gone for good. Returns how many logins and servers lost their secrets.
    pub async fn reset_vault(&self) -> Result<(usize, usize), StoreError> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.execute("DELETE FROM vault", [])?;
            let logins = tx.execute("DELETE FROM credentials", [])?;
            tx.execute("DELETE FROM client_secrets", [])?;
            tx.execute("DELETE FROM registered_clients", [])?;
            let servers = tx.execute(
                "UPDATE servers SET sealed_secrets = NULL, revision = revision + 1
                 WHERE sealed_secrets IS NOT NULL",
                [],
            )?;
            tx.commit()?;
            Ok((logins, servers))
        })
        .await
    }

    /// Up to `limit` sealed values of each kind.
    pub async fn sealed_rows(&self, limit: usize) -> Result<Vec<SealedRow>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with(move |c| {
            let mut rows = Vec::new();
            let mut stmt = c.prepare(
                "SELECT server, issuer, client_id, resource, sealed FROM credentials
                 ORDER BY version DESC LIMIT ?1",
            )?;
            for row in stmt.query_map([limit], |r| {
                Ok(SealedRow::Credential {
                    key: CredentialKey {
                        server: r.get(0)?,
                        issuer: r.get(1)?,
                        client_id: r.get(2)?,
                        resource: r.get(3)?,
                    },
                    sealed: r.get(4)?,
                })
            })? {
                rows.push(row?);
            }
            let mut stmt = c.prepare("SELECT server, sealed FROM client_secrets LIMIT ?1")?;
            for row in stmt.query_map([limit], |r| {
                Ok(SealedRow::ClientSecret {
                    server: r.get(0)?,
                    sealed: r.get(1)?,
                })
            })? {
                rows.push(row?);
            }
            let mut stmt = c.prepare(
                "SELECT issuer, sealed_secret FROM registered_clients
                 WHERE sealed_secret IS NOT NULL LIMIT ?1",
            )?;
            for row in stmt.query_map([limit], |r| {
                Ok(SealedRow::RegisteredClient {
                    issuer: r.get(0)?,
                    sealed: r.get(1)?,
                })
            })? {
                rows.push(row?);
            }
            let mut stmt = c.prepare(
                "SELECT name, sealed_secrets FROM servers WHERE sealed_secrets IS NOT NULL LIMIT ?1",
            )?;
            for row in stmt.query_map([limit], |r| {
                Ok(SealedRow::ServerSecrets {
                    server: r.get(0)?,
                    sealed: r.get(1)?,
                })
            })? {
                rows.push(row?);
            }
            Ok(rows)
        })
        .await
    }
}
