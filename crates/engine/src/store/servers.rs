//! The `servers` table: definitions in insertion order.

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::{Store, StoreError, decode_def, encode_def, now_ms};
use crate::config::ServerDef;

impl Store {
    /// Every server, in the order they were added.
    pub async fn list_servers(&self) -> Result<Vec<ServerDef>, StoreError> {
        self.with(|c| {
            let mut stmt =
                c.prepare("SELECT name, definition FROM servers ORDER BY position, name")?;
            let rows =
                stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            rows.map(|row| {
                let (name, def) = row?;
                decode_def(&name, &def)
            })
            .collect()
        })
        .await
    }

    pub async fn get_server(&self, name: &str) -> Result<Option<ServerDef>, StoreError> {
        let name = name.to_string();
        self.with(move |c| {
            c.query_row(
                "SELECT definition FROM servers WHERE name = ?1",
                [&name],
                |r| r.get::<_, String>(0),
            )
            .optional()?
            .map(|d| decode_def(&name, &d))
            .transpose()
        })
        .await
    }

    /// Adds every definition or none: one transaction. A name already stored, or given twice in
    /// `defs`, is [`StoreError::Duplicate`]; an unusable definition is [`StoreError::Invalid`].
    pub async fn add_servers(&self, defs: Vec<ServerDef>) -> Result<(), StoreError> {
        self.add_servers_with_secret(defs, None).await
    }

    /// As `add_servers`, and in the same transaction the sealed client secret of one of them
    /// (`(server, sealed)`), so a server never exists without the secret it was added with.
    pub async fn add_servers_with_secret(
        &self,
        defs: Vec<ServerDef>,
        secret: Option<(String, Vec<u8>)>,
    ) -> Result<(), StoreError> {
        for def in &defs {
            def.validate()?;
        }
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut position: i64 = tx.query_row("SELECT COALESCE(MAX(position), 0) FROM servers", [], |r| r.get(0))?;
            let now = now_ms();
            {
                let mut exists = tx.prepare("SELECT EXISTS(SELECT 1 FROM servers WHERE name = ?1)")?;
                let mut insert = tx.prepare(
                    "INSERT INTO servers (name, definition, enabled, position, created_at_ms, updated_at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                )?;
                for def in &defs {
                    // Also catches a name given twice in `defs`: the first copy is already inserted.
                    if exists.query_row([&def.name], |r| r.get::<_, bool>(0))? {
                        return Err(StoreError::Duplicate(def.name.clone()));
                    }
                    position += 1;
                    insert.execute(params![def.name, encode_def(def), def.enabled, position, now])?;
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

    /// Replaces the definition of the server with `def.name`; its position is kept.
    pub async fn update_server(&self, def: ServerDef) -> Result<(), StoreError> {
        def.validate()?;
        self.with(move |c| {
            let n = c.execute(
                "UPDATE servers SET definition = ?2, enabled = ?3, updated_at_ms = ?4 WHERE name = ?1",
                params![def.name, encode_def(&def), def.enabled, now_ms()],
            )?;
            if n == 0 { Err(StoreError::NotFound(def.name)) } else { Ok(()) }
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
