//! The `servers` table: definitions in insertion order. A definition is stored without its
//! secret values (each env and header value is [`MASK`](crate::config::MASK)); they are sealed by the vault into
//! `sealed_secrets`, which the store never opens. Two exceptions are read, never written:
//!
//! - A row from before values were sealed (`sealed_secrets` is NULL and the definition holds
//!   values) is *plain*: it is listed masked like any other, its values come from
//!   [`Store::server_secrets`] as [`StoredSecrets::Plain`], and an update keeps them until
//!   [`Store::seal_plain_server`] moves them into the sealed column.
//! - A row this version cannot decode (a newer Patchbay's transport, damage) is listed as
//!   [`TransportDef::Unreadable`] with the reason, and is never written back.

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::{Store, StoreError, decode_def, encode_def, now_ms};
use crate::config::{SecretValues, ServerDef, TransportDef};

/// A server's secret values as stored.
#[derive(Debug, Clone, PartialEq)]
pub enum StoredSecrets {
    /// The server has none.
    None,
    /// Sealed by the vault (see `vault::context::server_secrets`).
    Sealed(Vec<u8>),
    /// From before values were sealed: still in the definition, waiting for the vault.
    Plain(SecretValues),
}

/// A row as a connection attempt or a review reads it: the definition (shown form), its
/// secret values as stored, and its revision (bumped by every write).
#[derive(Debug, Clone)]
pub struct ServerRow {
    pub def: ServerDef,
    pub secrets: StoredSecrets,
    pub revision: i64,
}

/// A definition to store: shown form (values masked) and its sealed values, if any.
#[derive(Debug, Clone)]
pub struct NewServer {
    pub def: ServerDef,
    pub sealed: Option<Vec<u8>>,
}

/// A row as read: the definition shown masked, and the values of a plain (legacy) row.
fn read_row(
    name: &str,
    definition: &str,
    enabled: bool,
    sealed: bool,
) -> (ServerDef, Option<SecretValues>) {
    match decode_def(name, definition) {
        Ok(def) => {
            let (shown, values) = def.split_secrets();
            let plain = (!sealed && !values.is_empty()).then_some(values);
            (shown, plain)
        }
        Err(e) => {
            let mut def = ServerDef::new(
                name,
                TransportDef::Unreadable {
                    reason: e.to_string(),
                },
            );
            def.enabled = enabled;
            (def, None)
        }
    }
}

/// The store never writes a secret value in the clear.
fn refuse_clear_values(def: &ServerDef) -> Result<(), StoreError> {
    if def.holds_secret_values() {
        return Err(StoreError::Corrupt(format!(
            "refusing to store the env or header values of server '{}' unsealed",
            def.name
        )));
    }
    if matches!(def.transport, TransportDef::Unreadable { .. }) {
        def.validate()?;
    }
    Ok(())
}

impl Store {
    /// Every server, in the order they were added, shown masked. Unreadable rows are listed as
    /// [`TransportDef::Unreadable`]; plain rows are named in the second list.
    pub async fn list_servers_and_plain(
        &self,
    ) -> Result<(Vec<ServerDef>, Vec<String>), StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT name, definition, enabled, sealed_secrets IS NOT NULL
                 FROM servers ORDER BY position, name",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, bool>(2)?,
                    r.get::<_, bool>(3)?,
                ))
            })?;
            let (mut defs, mut plain) = (Vec::new(), Vec::new());
            for row in rows {
                let (name, definition, enabled, sealed) = row?;
                let (def, values) = read_row(&name, &definition, enabled, sealed);
                if values.is_some() {
                    plain.push(name);
                }
                defs.push(def);
            }
            Ok((defs, plain))
        })
        .await
    }

    /// Every server, in the order they were added, shown masked.
    pub async fn list_servers(&self) -> Result<Vec<ServerDef>, StoreError> {
        Ok(self.list_servers_and_plain().await?.0)
    }

    pub async fn get_server(&self, name: &str) -> Result<Option<ServerDef>, StoreError> {
        let name = name.to_string();
        self.with(move |c| {
            Ok(c.query_row(
                "SELECT definition, enabled, sealed_secrets IS NOT NULL FROM servers WHERE name = ?1",
                [&name],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?, r.get::<_, bool>(2)?)),
            )
            .optional()?
            .map(|(d, enabled, sealed)| read_row(&name, &d, enabled, sealed).0))
        })
        .await
    }

    /// The server's definition (shown form) and its secret values, read together from one
    /// row: what a connection attempt starts, whatever this process remembers. `None` when the
    /// server is gone.
    pub async fn server_for_start(&self, name: &str) -> Result<Option<ServerRow>, StoreError> {
        let name = name.to_string();
        self.with(move |c| {
            let row: Option<(String, bool, Option<Vec<u8>>, i64)> = c
                .query_row(
                    "SELECT definition, enabled, sealed_secrets, revision FROM servers WHERE name = ?1",
                    [&name],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            Ok(row.map(|(definition, enabled, sealed, revision)| {
                let (def, plain) = read_row(&name, &definition, enabled, sealed.is_some());
                let secrets = match (sealed, plain) {
                    (Some(sealed), _) => StoredSecrets::Sealed(sealed),
                    (None, Some(values)) => StoredSecrets::Plain(values),
                    (None, None) => StoredSecrets::None,
                };
                ServerRow {
                    def,
                    secrets,
                    revision,
                }
            }))
        })
        .await
    }

    /// Records the person's yes to a local server's first start (`def`: its shown form with
    /// `needs_review` cleared), if the row is still at `revision`, the one whose plan they saw.
    /// `false` when it changed meanwhile (nothing written).
    pub async fn confirm_reviewed(
        &self,
        def: ServerDef,
        revision: i64,
    ) -> Result<bool, StoreError> {
        def.validate()?;
        refuse_clear_values(&def)?;
        self.with(move |c| {
            let n = c.execute(
                "UPDATE servers SET definition = ?2, enabled = ?3, updated_at_ms = ?4,
                    revision = revision + 1
                 WHERE name = ?1 AND revision = ?5",
                params![def.name, encode_def(&def), def.enabled, now_ms(), revision],
            )?;
            Ok(n == 1)
        })
        .await
    }

    /// The server's secret values as stored.
    pub async fn server_secrets(&self, name: &str) -> Result<StoredSecrets, StoreError> {
        let name = name.to_string();
        self.with(move |c| {
            let row: Option<(String, Option<Vec<u8>>)> = c
                .query_row(
                    "SELECT definition, sealed_secrets FROM servers WHERE name = ?1",
                    [&name],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((definition, sealed)) = row else {
                return Err(StoreError::NotFound(name));
            };
            if let Some(sealed) = sealed {
                return Ok(StoredSecrets::Sealed(sealed));
            }
            let values = decode_def(&name, &definition)?.split_secrets().1;
            Ok(if values.is_empty() {
                StoredSecrets::None
            } else {
                StoredSecrets::Plain(values)
            })
        })
        .await
    }

    /// Moves a plain row's values into the sealed column, if the row is still plain: `shown`
    /// is its definition masked, `sealed` its values sealed. `false` if it was not plain any
    /// more (edited or removed meanwhile). Call [`Store::scrub`] after the last one, so the old
    /// text does not linger in the file.
    pub async fn seal_plain_server(
        &self,
        name: &str,
        shown: ServerDef,
        sealed: Vec<u8>,
    ) -> Result<bool, StoreError> {
        refuse_clear_values(&shown)?;
        let name = name.to_string();
        self.with(move |c| {
            let n = c.execute(
                "UPDATE servers SET definition = ?2, sealed_secrets = ?3, updated_at_ms = ?4,
                    revision = revision + 1
                 WHERE name = ?1 AND sealed_secrets IS NULL",
                params![name, encode_def(&shown), sealed, now_ms()],
            )?;
            Ok(n > 0)
        })
        .await
    }

    /// Rewrites the database file without its free pages (`VACUUM`) and empties the
    /// write-ahead log, so text that was moved out of the clear (and older copies of it, left
    /// by edits before `secure_delete` was on) is gone from the disk. `false` when another
    /// connection kept part of the log in use (it is emptied when the last one closes).
    pub async fn scrub(&self) -> Result<bool, StoreError> {
        self.with(|c| {
            c.execute_batch("VACUUM")?;
            let busy: i64 = c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
            Ok(busy == 0)
        })
        .await
    }

    /// Adds every definition or none: one transaction. A name already stored, or given twice in
    /// `defs`, is [`StoreError::Duplicate`]; an unusable definition is [`StoreError::Invalid`].
    pub async fn add_servers(&self, defs: Vec<NewServer>) -> Result<(), StoreError> {
        self.add_servers_with_secret(defs, None).await
    }

    /// As `add_servers`, and in the same transaction the sealed client secret of one of them
    /// (`(server, sealed)`), so a server never exists without the secret it was added with.
    pub async fn add_servers_with_secret(
        &self,
        defs: Vec<NewServer>,
        secret: Option<(String, Vec<u8>)>,
    ) -> Result<(), StoreError> {
        for new in &defs {
            new.def.validate()?;
            refuse_clear_values(&new.def)?;
        }
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut position: i64 = tx.query_row("SELECT COALESCE(MAX(position), 0) FROM servers", [], |r| r.get(0))?;
            let now = now_ms();
            {
                let mut exists = tx.prepare("SELECT EXISTS(SELECT 1 FROM servers WHERE name = ?1)")?;
                let mut insert = tx.prepare(
                    "INSERT INTO servers (name, definition, enabled, position, created_at_ms, updated_at_ms, sealed_secrets)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
                )?;
                for NewServer { def, sealed } in &defs {
                    // Also catches a name given twice in `defs`: the first copy is already inserted.
                    if exists.query_row([&def.name], |r| r.get::<_, bool>(0))? {
                        return Err(StoreError::Duplicate(def.name.clone()));
                    }
                    // No server had this name: rows kept under it belong to none (a call or a
                    // login another process finished under a name that was renamed or removed)
                    // and must not become the new server's history or login.
                    for table in ["call_history", "credentials", "client_secrets"] {
                        tx.execute(&format!("DELETE FROM {table} WHERE server = ?1"), [&def.name])?;
                    }
                    position += 1;
                    insert.execute(params![def.name, encode_def(def), def.enabled, position, now, sealed])?;
                }
            }
            if let Some((server, sealed)) = &secret {
                tx.execute(
                    "INSERT OR REPLACE INTO client_secrets (server, sealed) VALUES (?1, ?2)",
                    params![server, sealed],
                )?;
            }
            // Dropping `tx` on an early return above rolls everything back.
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// Replaces the definition of the server with `def.name` (shown form); its position and
    /// its sealed values are kept. A plain row keeps its values in the clear, where `def` has
    /// them masked, until it is sealed.
    pub async fn update_server(&self, def: ServerDef) -> Result<(), StoreError> {
        def.validate()?;
        refuse_clear_values(&def)?;
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let row: Option<(String, bool)> = tx
                .query_row(
                    "SELECT definition, sealed_secrets IS NOT NULL FROM servers WHERE name = ?1",
                    [&def.name],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((stored, sealed)) = row else {
                return Err(StoreError::NotFound(def.name));
            };
            // A row this version cannot read stays as it is (a newer version's definition).
            let old = decode_def(&def.name, &stored)?;
            let mut written = def.clone();
            if !sealed {
                written.fill_secrets(&old.split_secrets().1);
            }
            tx.execute(
                "UPDATE servers SET definition = ?2, enabled = ?3, updated_at_ms = ?4,
                    revision = revision + 1
                 WHERE name = ?1",
                params![def.name, encode_def(&written), def.enabled, now_ms()],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// Replaces the definition (shown form) and its sealed values together.
    pub async fn replace_server(
        &self,
        def: ServerDef,
        sealed: Option<Vec<u8>>,
    ) -> Result<(), StoreError> {
        def.validate()?;
        refuse_clear_values(&def)?;
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let stored: Option<String> = tx
                .query_row("SELECT definition FROM servers WHERE name = ?1", [&def.name], |r| r.get(0))
                .optional()?;
            let Some(stored) = stored else {
                return Err(StoreError::NotFound(def.name));
            };
            // A row this version cannot read stays as it is (a newer version's definition).
            decode_def(&def.name, &stored)?;
            tx.execute(
                "UPDATE servers SET definition = ?2, enabled = ?3, sealed_secrets = ?4, updated_at_ms = ?5,
                    revision = revision + 1
                 WHERE name = ?1",
                params![def.name, encode_def(&def), def.enabled, sealed, now_ms()],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// Records what the server spoke on its last connection (JSON, the hub's to read), leaving
    /// its definition and revision as they are. A server removed meanwhile records nothing.
    pub async fn remember_spoke(&self, name: &str, spoke: String) -> Result<(), StoreError> {
        let name = name.to_string();
        self.with(move |c| {
            c.execute(
                "UPDATE servers SET spoke = ?2 WHERE name = ?1",
                params![name, spoke],
            )?;
            Ok(())
        })
        .await
    }

    /// What each server spoke on its last connection, as [`Store::remember_spoke`] recorded it.
    pub async fn spokes(&self) -> Result<std::collections::HashMap<String, String>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare("SELECT name, spoke FROM servers WHERE spoke IS NOT NULL")?;
            // Another process may have written anything there: a value that is not text is
            // skipped (it is only ever shown as "last time"), never an error for the whole list.
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get_ref(1)?.as_str().ok().map(String::from),
                ))
            })?;
            let mut spokes = std::collections::HashMap::new();
            for row in rows {
                if let (name, Some(spoke)) = row? {
                    spokes.insert(name, spoke);
                }
            }
            Ok(spokes)
        })
        .await
    }

    /// Removes the server and its call history together.
    pub async fn remove_server(&self, name: &str) -> Result<(), StoreError> {
        let name = name.to_string();
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if tx.execute("DELETE FROM servers WHERE name = ?1", [&name])? == 0 {
                return Err(StoreError::NotFound(name));
            }
            tx.execute("DELETE FROM call_history WHERE server = ?1", [&name])?;
            tx.execute("DELETE FROM credentials WHERE server = ?1", [&name])?;
            tx.execute("DELETE FROM client_secrets WHERE server = ?1", [&name])?;
            tx.commit()?;
            Ok(())
        })
        .await
    }
}

impl Store {
    /// Forgets the server's pre-registered client secret (its server moved elsewhere).
    pub async fn delete_client_secret(&self, server: &str) -> Result<bool, StoreError> {
        let server = server.to_string();
        self.with(move |c| {
            Ok(c.execute("DELETE FROM client_secrets WHERE server = ?1", [&server])? > 0)
        })
        .await
    }

    /// The sealed secret of the server's pre-registered OAuth client, if it has one.
    pub async fn client_secret(&self, server: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let server = server.to_string();
        self.with(move |c| {
            Ok(c.query_row(
                "SELECT sealed FROM client_secrets WHERE server = ?1",
                [&server],
                |r| r.get(0),
            )
            .optional()?)
        })
        .await
    }
}

impl Store {
    /// The client Patchbay registered at `issuer`, if any: (client id, sealed secret).
    pub async fn registered_client(
        &self,
        issuer: &str,
    ) -> Result<Option<(String, Option<Vec<u8>>)>, StoreError> {
        let issuer = issuer.to_string();
        self.with(move |c| {
            Ok(c.query_row(
                "SELECT client_id, sealed_secret FROM registered_clients WHERE issuer = ?1",
                [&issuer],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
        })
        .await
    }

    pub async fn put_registered_client(
        &self,
        issuer: &str,
        client_id: &str,
        sealed_secret: Option<Vec<u8>>,
    ) -> Result<(), StoreError> {
        let (issuer, client_id) = (issuer.to_string(), client_id.to_string());
        self.with(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO registered_clients (issuer, client_id, sealed_secret, registered_at_ms)
                 VALUES (?1, ?2, ?3, ?4)",
                params![issuer, client_id, sealed_secret, now_ms()],
            )?;
            Ok(())
        })
        .await
    }

    /// Forgets a registration the authorization server no longer honours.
    pub async fn forget_registered_client(&self, issuer: &str) -> Result<(), StoreError> {
        let issuer = issuer.to_string();
        self.with(move |c| {
            c.execute(
                "DELETE FROM registered_clients WHERE issuer = ?1",
                [&issuer],
            )?;
            Ok(())
        })
        .await
    }
}
