//! A server's new name: everything kept under the old one (its row, its call history, its saved
//! logins, its pre-registered client's secret) moves in one transaction, or nothing does.
//!
//! Sealed values are bound to their row's identity, which includes the server's name (see
//! `vault::context`), so the caller seals them again for the new name first; the store checks
//! that what they were read from is still what is stored, and refuses otherwise.

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::{CredentialKey, NewServer, Store, StoreError, decode_def, encode_def, now_ms};

/// One saved login of the server as it was read, and its tokens sealed again for the new name.
#[derive(Debug, Clone)]
pub struct MovedLogin {
    pub from: CredentialKey,
    pub version: i64,
    pub sealed: Vec<u8>,
}

/// What a rename writes.
#[derive(Debug, Clone)]
pub struct Rename {
    /// The server's name now.
    pub from: String,
    /// Its new definition (shown form; `def.name` is the new name) and values sealed for it.
    pub server: NewServer,
    /// Every saved login of the server as read, sealed again for the new name.
    pub logins: Vec<MovedLogin>,
    /// Keep the logins (else they are forgotten: the server now points elsewhere).
    pub keep_logins: bool,
    /// The client secret as read (`None`: it had none), and sealed again for the new name.
    pub client_secret: Option<(Vec<u8>, Vec<u8>)>,
    /// Keep the client secret (else it is forgotten: the server moved to another origin).
    pub keep_client_secret: bool,
}

fn busy(server: &str, why: &'static str) -> StoreError {
    StoreError::Busy {
        server: server.into(),
        why,
    }
}

impl Store {
    /// Moves the server `r.from` to `r.server.def.name` with everything kept under its name.
    /// A taken new name is [`StoreError::Duplicate`]; a login or secret that changed since it
    /// was read, or a login being refreshed right now (a live lease, in any process), is
    /// [`StoreError::Busy`]. Either way nothing is written.
    pub async fn rename_server(&self, r: Rename) -> Result<(), StoreError> {
        let to = r.server.def.name.clone();
        r.server.def.validate()?;
        if r.server.def.holds_secret_values() {
            return Err(StoreError::Corrupt(format!(
                "refusing to store the env or header values of server '{to}' unsealed"
            )));
        }
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let from = r.from.as_str();
            let taken: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM servers WHERE name = ?1)",
                [&to],
                |row| row.get(0),
            )?;
            if taken {
                return Err(StoreError::Duplicate(to));
            }
            let stored: Option<String> = tx
                .query_row("SELECT definition FROM servers WHERE name = ?1", [from], |row| {
                    row.get(0)
                })
                .optional()?;
            let Some(stored) = stored else {
                return Err(StoreError::NotFound(from.into()));
            };
            // A row this version cannot read stays as it is (a newer version's definition).
            decode_def(from, &stored)?;

            // The logins must be exactly those that were sealed again, and none mid-refresh:
            // a refresh that lands after the move would find no row, and its new tokens (and a
            // rotated refresh token) would be lost.
            let mut rows = tx.prepare(
                "SELECT issuer, client_id, resource, version, lease_holder, lease_until_ms
                 FROM credentials WHERE server = ?1",
            )?;
            let now = now_ms();
            let mut found = 0;
            let stored_logins = rows.query_map([from], |row| {
                Ok((
                    CredentialKey {
                        server: from.into(),
                        issuer: row.get(0)?,
                        client_id: row.get(1)?,
                        resource: row.get(2)?,
                    },
                    row.get::<_, i64>(3)?,
                    row.get::<_, Option<String>>(4)?,
                    row.get::<_, Option<i64>>(5)?,
                ))
            })?;
            for login in stored_logins {
                let (key, version, holder, until) = login?;
                found += 1;
                if !r.logins.iter().any(|m| m.from == key && m.version == version) {
                    return Err(busy(from, "its saved login changed while it was being renamed"));
                }
                if r.keep_logins && holder.is_some() && until.is_some_and(|u| u > now) {
                    return Err(busy(from, "its saved login is being refreshed right now"));
                }
            }
            drop(rows);
            if found != r.logins.len() {
                return Err(busy(from, "its saved login changed while it was being renamed"));
            }
            let secret: Option<Vec<u8>> = tx
                .query_row("SELECT sealed FROM client_secrets WHERE server = ?1", [from], |row| {
                    row.get(0)
                })
                .optional()?;
            if r.keep_client_secret && secret != r.client_secret.as_ref().map(|(read, _)| read.clone()) {
                return Err(busy(from, "its client secret changed while it was being renamed"));
            }

            // No server has the new name: whatever rows are kept under it belong to none (a
            // call another process finished after its server was removed) and must not be
            // taken for the renamed server's.
            for table in ["call_history", "credentials", "client_secrets"] {
                tx.execute(&format!("DELETE FROM {table} WHERE server = ?1"), [&to])?;
            }
            tx.execute(
                "UPDATE servers SET name = ?2, definition = ?3, enabled = ?4, sealed_secrets = ?5,
                    updated_at_ms = ?6, revision = revision + 1
                 WHERE name = ?1",
                params![from, to, encode_def(&r.server.def), r.server.def.enabled, r.server.sealed, now],
            )?;
            tx.execute("UPDATE call_history SET server = ?2 WHERE server = ?1", [from, &to])?;
            if r.keep_logins {
                for login in &r.logins {
                    let k = &login.from;
                    tx.execute(
                        "INSERT INTO credentials
                            (server, issuer, client_id, resource, version, sealed, meta, updated_at_ms, refused)
                         SELECT ?5, issuer, client_id, resource, version, ?6, meta, updated_at_ms, refused
                         FROM credentials
                         WHERE server = ?1 AND issuer = ?2 AND client_id = ?3 AND resource = ?4",
                        params![k.server, k.issuer, k.client_id, k.resource, to, login.sealed],
                    )?;
                }
                // Versions only grow, per server: the new name's counter starts past every
                // version it now holds. (The old name's stays: it is never reset.)
                tx.execute(
                    "INSERT INTO credential_versions (server, last)
                     SELECT ?2, last FROM credential_versions WHERE server = ?1
                     ON CONFLICT (server) DO UPDATE SET last = MAX(last, excluded.last)",
                    [from, &to],
                )?;
            }
            tx.execute("DELETE FROM credentials WHERE server = ?1", [from])?;
            tx.execute("DELETE FROM client_secrets WHERE server = ?1", [from])?;
            if r.keep_client_secret
                && let Some((_, sealed)) = &r.client_secret
            {
                tx.execute(
                    "INSERT INTO client_secrets (server, sealed) VALUES (?1, ?2)",
                    params![to, sealed],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }
}
