//! The schema, as an ordered list of migrations.
//!
//! APPEND-ONLY: once a migration has shipped, never edit or reorder it — databases in the wild
//! have already run it and record only how many migrations they have applied (`user_version`).
//! To change the schema, add a new `M::up(...)` at the end of the list.

use rusqlite_migration::{M, Migrations};

pub(super) fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        // 1: servers and tool-call history.
        M::up(
            "CREATE TABLE servers (
                name TEXT PRIMARY KEY NOT NULL,
                definition TEXT NOT NULL,          -- the ServerDef as JSON
                enabled INTEGER NOT NULL,          -- mirrors definition.enabled, for queries
                position INTEGER NOT NULL,         -- insertion order, for a stable listing
                created_at_ms INTEGER NOT NULL,
                updated_at_ms INTEGER NOT NULL
            );
            CREATE TABLE call_history (
                call_id TEXT PRIMARY KEY NOT NULL,
                server TEXT NOT NULL,
                tool TEXT NOT NULL,
                arguments TEXT NOT NULL,           -- JSON
                result TEXT,                       -- JSON, when the server answered
                error TEXT,
                outcome TEXT NOT NULL,             -- CallOutcome::as_str
                started_at_ms INTEGER NOT NULL,
                duration_ms INTEGER NOT NULL
            );
            CREATE INDEX call_history_by_server ON call_history (server, started_at_ms DESC);",
        ),
        // 2: OAuth credentials, sealed under the vault key; a version for compare-and-swap and a
        // lease so that one process at a time redeems a refresh token.
        M::up(
            "CREATE TABLE credentials (
                server TEXT NOT NULL,
                issuer TEXT NOT NULL,
                client_id TEXT NOT NULL,
                resource TEXT NOT NULL,
                version INTEGER NOT NULL,          -- bumped by every write; CAS compares it
                sealed BLOB NOT NULL,              -- the tokens, sealed (see vault.rs)
                meta TEXT NOT NULL,                -- JSON, no secrets: endpoints, expiry, scopes
                lease_holder TEXT,                 -- who is refreshing right now, if anyone
                lease_until_ms INTEGER,
                updated_at_ms INTEGER NOT NULL,
                PRIMARY KEY (server, issuer, client_id, resource)
            );
            CREATE INDEX credentials_by_server ON credentials (server, updated_at_ms DESC);
            CREATE TABLE credential_versions (
                server TEXT PRIMARY KEY NOT NULL,
                last INTEGER NOT NULL              -- the last version handed out; never reset
            );",
        ),
        // 3: the secret of a pre-registered OAuth client, sealed; one per server.
        M::up(
            "CREATE TABLE client_secrets (
                server TEXT PRIMARY KEY NOT NULL,
                sealed BLOB NOT NULL
            );",
        ),
        // 4: clients Patchbay registered itself (RFC 7591), one per authorization server,
        // reused by every later login there.
        M::up(
            "CREATE TABLE registered_clients (
                issuer TEXT PRIMARY KEY NOT NULL,
                client_id TEXT NOT NULL,
                sealed_secret BLOB,                -- sealed; NULL for a public client
                registered_at_ms INTEGER NOT NULL
            );",
        ),
        // 5: trust. The vault's record: where this data dir's key lives and a value sealed
        // under it, so a key that cannot be found is recognised as missing (never replaced by a
        // new one) and a wrong key is recognised at once. Servers' env and header values,
        // sealed (the definition keeps only their names). Why the authorization server refused
        // a credential's refresh token, once it has: every process then says "needs login".
        M::up(
            "CREATE TABLE vault (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                home TEXT NOT NULL,                -- 'keyring' or 'file'
                keyring_account TEXT,              -- the keyring entry's account, when 'keyring'
                key_check BLOB NOT NULL,           -- a constant, sealed under the key
                note TEXT,                         -- why the key is in a file, when it is
                created_at_ms INTEGER NOT NULL
            );
            ALTER TABLE servers ADD COLUMN sealed_secrets BLOB;   -- SecretValues, sealed
            ALTER TABLE servers ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;  -- bumped by every write
            ALTER TABLE credentials ADD COLUMN refused TEXT;      -- NULL while refreshable",
        ),
        // 6: what each server spoke on its last connection (JSON: the revision, its era, and
        // the transport it was spoken over), shown until it connects again. Not part of the
        // definition: writing it bumps no revision.
        M::up("ALTER TABLE servers ADD COLUMN spoke TEXT;"),
    ])
}

/// How many migrations exist; a database at this `user_version` is current.
#[cfg(test)]
pub(super) const LATEST: i64 = 6;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        migrations()
            .validate()
            .expect("every migration applies to an empty database");
    }

    #[test]
    fn latest_matches_the_list() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        migrations().to_latest(&mut conn).unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, LATEST);
    }
}
