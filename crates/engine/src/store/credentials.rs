//! The `credentials` table: one row per credential identity, tokens sealed by the vault (the
//! store never sees them in the clear), a version for compare-and-swap, and a refresh lease.
//!
//! Who writes, and what happens when two arrive at once:
//! - A login replaces the row whatever its version (`Expected::Any`): it is the newest truth,
//!   and it removes the server's other credentials (another client id or issuer), so a late
//!   refresh of an older identity cannot make that one current again.
//! - A refresh writes only if the version it read is still current (`Expected::Version`), so a
//!   slow refresh can never overwrite a newer login or refresh; the loser gets `Conflict` and
//!   re-reads.
//! - Before redeeming a refresh token, a process takes the row's lease (`try_lease`) in the same
//!   IMMEDIATE transaction that checks the version: two processes never send the same refresh
//!   token, which a rotating authorization server would treat as reuse and revoke.

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError, now_ms};

/// A credential's full identity. Every lock, cache and row is keyed by all four parts, so two
/// servers or two accounts that share any one of them never share tokens.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CredentialKey {
    pub server: String,
    pub issuer: String,
    pub client_id: String,
    pub resource: String,
}

/// A row as stored. `sealed` is opaque here; `meta` is JSON without secrets.
#[derive(Debug, Clone, PartialEq)]
pub struct CredentialRow {
    pub key: CredentialKey,
    pub version: i64,
    pub sealed: Vec<u8>,
    pub meta: serde_json::Value,
    pub updated_at_ms: i64,
    /// Why the authorization server refused this credential's refresh token, once it has: the
    /// credential is dead, and every process says "needs login" until a new login replaces it.
    pub refused: Option<String>,
}

/// A server's saved login as the store alone can tell (no vault): for lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginState {
    /// A login is saved and not known to be refused.
    Saved,
    /// The authorization server refused its refresh token: a login is needed.
    Refused(String),
}

/// What a write expects to find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// Replace whatever is there (a fresh login).
    Any,
    /// Only if the row is still at this version (a refresh that read it at this version).
    Version(i64),
}

/// The answer to `try_lease`.
#[derive(Debug, Clone, PartialEq)]
pub enum Lease {
    /// Ours until `until_ms`: go ahead and redeem the refresh token.
    Granted,
    /// The row moved on since it was read (someone refreshed or logged in): this is the
    /// server's current credential now, if it has one.
    Changed(Option<CredentialRow>),
    /// `holder` is refreshing until `until_ms`; wait for the row to change (or, if that
    /// holder's process is gone, take the lease over with `take_over`).
    Held { until_ms: i64, holder: String },
}

const COLUMNS: &str =
    "server, issuer, client_id, resource, version, sealed, meta, updated_at_ms, refused";

type RawRow = (CredentialKey, i64, Vec<u8>, String, i64, Option<String>);

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok((
        CredentialKey {
            server: r.get(0)?,
            issuer: r.get(1)?,
            client_id: r.get(2)?,
            resource: r.get(3)?,
        },
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
    ))
}

fn decode(
    (key, version, sealed, meta, updated_at_ms, refused): RawRow,
) -> Result<CredentialRow, StoreError> {
    let meta = serde_json::from_str(&meta)
        .map_err(|e| StoreError::Corrupt(format!("credential of server '{}': {e}", key.server)))?;
    Ok(CredentialRow {
        key,
        version,
        sealed,
        meta,
        updated_at_ms,
        refused,
    })
}

fn current_for(
    c: &rusqlite::Connection,
    server: &str,
) -> Result<Option<CredentialRow>, StoreError> {
    c.query_row(
        &format!(
            "SELECT {COLUMNS} FROM credentials WHERE server = ?1
             ORDER BY version DESC LIMIT 1"
        ),
        [server],
        read_row,
    )
    .optional()?
    .map(decode)
    .transpose()
}

fn by_key(
    c: &rusqlite::Connection,
    key: &CredentialKey,
) -> Result<Option<CredentialRow>, StoreError> {
    c.query_row(
        &format!(
            "SELECT {COLUMNS} FROM credentials
             WHERE server = ?1 AND issuer = ?2 AND client_id = ?3 AND resource = ?4"
        ),
        params![key.server, key.issuer, key.client_id, key.resource],
        read_row,
    )
    .optional()?
    .map(decode)
    .transpose()
}

impl Store {
    /// The credential a server uses now: the one with the highest version (versions are per
    /// server and only grow).
    pub async fn credential_for(&self, server: &str) -> Result<Option<CredentialRow>, StoreError> {
        let server = server.to_string();
        self.with(move |c| current_for(c, &server)).await
    }

    pub async fn credential(
        &self,
        key: &CredentialKey,
    ) -> Result<Option<CredentialRow>, StoreError> {
        let key = key.clone();
        self.with(move |c| by_key(c, &key)).await
    }

    /// Writes a credential and returns its new version. With `Expected::Version(v)` the write
    /// happens only if the row is still at `v` (else `StoreError::Conflict`, nothing written).
    /// A write clears any lease: the refresh it guarded is over.
    pub async fn put_credential(
        &self,
        key: &CredentialKey,
        expected: Expected,
        sealed: Vec<u8>,
        meta: serde_json::Value,
    ) -> Result<i64, StoreError> {
        let key = key.clone();
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let current: Option<i64> = tx
                .query_row(
                    "SELECT version FROM credentials
                     WHERE server = ?1 AND issuer = ?2 AND client_id = ?3 AND resource = ?4",
                    params![key.server, key.issuer, key.client_id, key.resource],
                    |r| r.get(0),
                )
                .optional()?;
            if let Expected::Version(v) = expected
                && current != Some(v)
            {
                return Err(StoreError::Conflict { current });
            }
            // Versions come from a per-server counter that a logout does not reset: a refresh
            // that read a row before a logout and a new login can never match the new row.
            let next: i64 = tx.query_row(
                "INSERT INTO credential_versions (server, last) VALUES (?1, 1)
                 ON CONFLICT (server) DO UPDATE SET last = last + 1
                 RETURNING last",
                [&key.server],
                |r| r.get(0),
            )?;
            if expected == Expected::Any {
                tx.execute(
                    "DELETE FROM credentials WHERE server = ?1
                     AND NOT (issuer = ?2 AND client_id = ?3 AND resource = ?4)",
                    params![key.server, key.issuer, key.client_id, key.resource],
                )?;
            }
            tx.execute(
                "INSERT INTO credentials
                    (server, issuer, client_id, resource, version, sealed, meta, lease_holder, lease_until_ms, updated_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, NULL, ?8)
                 ON CONFLICT (server, issuer, client_id, resource) DO UPDATE SET
                    version = excluded.version, sealed = excluded.sealed, meta = excluded.meta,
                    lease_holder = NULL, lease_until_ms = NULL, updated_at_ms = excluded.updated_at_ms,
                    refused = NULL",
                params![
                    key.server,
                    key.issuer,
                    key.client_id,
                    key.resource,
                    next,
                    sealed,
                    meta.to_string(),
                    now_ms()
                ],
            )?;
            tx.commit()?;
            Ok(next)
        })
        .await
    }

    /// Takes the refresh lease of the row read at `seen_version`, for `holder`, until
    /// `until_ms`. Check and take are one IMMEDIATE transaction, so of two processes that read
    /// the same version, exactly one is granted.
    pub async fn try_lease(
        &self,
        key: &CredentialKey,
        seen_version: i64,
        holder: &str,
        until_ms: i64,
    ) -> Result<Lease, StoreError> {
        self.take_over(key, seen_version, holder, until_ms, None)
            .await
    }

    /// `try_lease`, treating a lease still held by `dead` as free: its process is gone (it was
    /// killed mid-refresh), so nobody will finish or release it. Only that exact holder's lease
    /// is taken; if another process took it meanwhile, that one is waited for as usual.
    pub async fn take_over(
        &self,
        key: &CredentialKey,
        seen_version: i64,
        holder: &str,
        until_ms: i64,
        dead: Option<&str>,
    ) -> Result<Lease, StoreError> {
        let key = key.clone();
        let holder = holder.to_string();
        let dead = dead.map(str::to_string);
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let row: Option<(i64, Option<String>, Option<i64>)> = tx
                .query_row(
                    "SELECT version, lease_holder, lease_until_ms FROM credentials
                     WHERE server = ?1 AND issuer = ?2 AND client_id = ?3 AND resource = ?4",
                    params![key.server, key.issuer, key.client_id, key.resource],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let (_, lease_holder, lease_until) = match row {
                Some(row) if row.0 == seen_version => row,
                _ => return Ok(Lease::Changed(current_for(&tx, &key.server)?)),
            };
            let now = now_ms();
            if let (Some(other), Some(until)) = (&lease_holder, lease_until)
                && other != &holder
                && until > now
                && dead.as_ref() != Some(other)
            {
                return Ok(Lease::Held {
                    until_ms: until,
                    holder: other.clone(),
                });
            }
            tx.execute(
                "UPDATE credentials SET lease_holder = ?5, lease_until_ms = ?6
                 WHERE server = ?1 AND issuer = ?2 AND client_id = ?3 AND resource = ?4",
                params![
                    key.server,
                    key.issuer,
                    key.client_id,
                    key.resource,
                    holder,
                    until_ms
                ],
            )?;
            tx.commit()?;
            Ok(Lease::Granted)
        })
        .await
    }

    /// Gives the lease back without writing (the refresh failed or timed out).
    pub async fn release_lease(&self, key: &CredentialKey, holder: &str) -> Result<(), StoreError> {
        let key = key.clone();
        let holder = holder.to_string();
        self.with(move |c| {
            c.execute(
                "UPDATE credentials SET lease_holder = NULL, lease_until_ms = NULL
                 WHERE server = ?1 AND issuer = ?2 AND client_id = ?3 AND resource = ?4
                   AND lease_holder = ?5",
                params![key.server, key.issuer, key.client_id, key.resource, holder],
            )?;
            Ok(())
        })
        .await
    }

    /// Marks the credential read at `version` as refused by its authorization server (its
    /// refresh token was rejected), if it is still at that version: a newer login or refresh
    /// stays usable. Its lease goes too. `true` if it was marked.
    pub async fn mark_refused(
        &self,
        key: &CredentialKey,
        version: i64,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let key = key.clone();
        let reason = reason.to_string();
        self.with(move |c| {
            let n = c.execute(
                "UPDATE credentials SET refused = ?6, lease_holder = NULL, lease_until_ms = NULL
                 WHERE server = ?1 AND issuer = ?2 AND client_id = ?3 AND resource = ?4 AND version = ?5",
                params![key.server, key.issuer, key.client_id, key.resource, version, reason],
            )?;
            Ok(n > 0)
        })
        .await
    }

    /// Every server's current login, as far as the store can tell without the vault.
    pub async fn login_states(
        &self,
    ) -> Result<std::collections::HashMap<String, LoginState>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT server, refused FROM credentials AS c
                 WHERE version = (SELECT MAX(version) FROM credentials WHERE server = c.server)",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
            })?;
            let mut out = std::collections::HashMap::new();
            for row in rows {
                let (server, refused) = row?;
                out.insert(
                    server,
                    match refused {
                        Some(why) => LoginState::Refused(why),
                        None => LoginState::Saved,
                    },
                );
            }
            Ok(out)
        })
        .await
    }

    /// Every credential of a server (the current one and any older identity), as stored.
    pub async fn credentials_of(&self, server: &str) -> Result<Vec<CredentialRow>, StoreError> {
        let server = server.to_string();
        self.with(move |c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {COLUMNS} FROM credentials WHERE server = ?1 ORDER BY version"
            ))?;
            let rows = stmt.query_map([&server], read_row)?;
            rows.map(|row| decode(row?)).collect()
        })
        .await
    }

    /// Forgets every credential of a server (logout). Returns how many rows went.
    pub async fn delete_credentials(&self, server: &str) -> Result<usize, StoreError> {
        let server = server.to_string();
        self.with(move |c| Ok(c.execute("DELETE FROM credentials WHERE server = ?1", [&server])?))
            .await
    }
}
