//! SQLite: the one database file. Servers, tool-call history, sealed OAuth credentials.
//!
//! The app and the CLI open the same file, possibly at the same time: the database runs in WAL
//! mode with a busy timeout, and every read-then-write happens in an IMMEDIATE transaction so a
//! second writer waits instead of failing.

mod credentials;
mod history;
mod migrations;
mod rename;
mod servers;
mod vault;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::clock::now_ms;
use crate::config::ServerDef;

pub use credentials::{CredentialKey, CredentialRow, Expected, Lease, LoginState};
pub use rename::{MovedLogin, Rename};
pub use servers::{NewServer, ServerRow, StoredSecrets};
pub use vault::{KeyHome, SealedRow, VaultRecord};

/// How long a statement waits for another connection's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long opening waits for another process that is opening (migrating) the same database.
const OPEN_WAIT: Duration = Duration::from_secs(30);

/// How a tool call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum CallOutcome {
    /// The server returned a result without `isError`.
    Ok,
    /// The server returned a result with `isError: true`.
    ToolError,
    /// The call failed: transport error, protocol error, server gone.
    Failed,
    Cancelled,
    TimedOut,
}

impl CallOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Ok => "ok",
            CallOutcome::ToolError => "tool_error",
            CallOutcome::Failed => "failed",
            CallOutcome::Cancelled => "cancelled",
            CallOutcome::TimedOut => "timed_out",
        }
    }

    fn parse(text: &str) -> Option<CallOutcome> {
        [
            CallOutcome::Ok,
            CallOutcome::ToolError,
            CallOutcome::Failed,
            CallOutcome::Cancelled,
            CallOutcome::TimedOut,
        ]
        .into_iter()
        .find(|o| o.as_str() == text)
    }
}

/// One tool call as it is kept in history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct CallRecord {
    pub call_id: String,
    pub server: String,
    pub tool: String,
    pub arguments: serde_json::Value,
    /// The result exactly as received (`CallToolResult` JSON), when there was one.
    pub result: Option<serde_json::Value>,
    /// What went wrong, when `outcome` is failed / cancelled / timed_out.
    pub error: Option<String>,
    pub outcome: CallOutcome,
    /// Unix epoch milliseconds.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub started_at_ms: i64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub duration_ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot create the folder for database {path}: {source}")]
    CreateDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("database {path} could not be migrated: {message}")]
    Migrate { path: String, message: String },
    #[error("a server named '{0}' already exists; choose another name")]
    Duplicate(String),
    #[error("no server named '{0}'")]
    NotFound(String),
    /// Something a change read has changed since (another process wrote it), or is being
    /// changed right now; nothing was written.
    #[error("server '{server}': {why}; nothing was changed, try again in a moment")]
    Busy { server: String, why: &'static str },
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    /// A compare-and-swap write lost: the credential changed since it was read.
    #[error("the credential changed since it was read (now at version {current:?})")]
    Conflict { current: Option<i64> },
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
    /// A definition that fails [`ServerDef::validate`]; nothing was written.
    #[error(transparent)]
    Invalid(#[from] crate::config::InvalidServer),
}

/// Handle to the database; cheap to clone, safe to share between tasks.
/// SQLite work runs on the blocking pool, never on an async worker.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating it and its folder if needed) the database at `path` and brings its
    /// schema up to date. Blocking: call it from `spawn_blocking` inside a runtime.
    ///
    /// The folder is made (or tightened to) owner-only (0700), and the database with its
    /// `-wal` and `-shm` files owner-only (0600), whatever the umask: they hold the servers'
    /// definitions and the whole call history. Opening and migrating happen under an exclusive
    /// lock on `<path>.lock`, so two processes opening a fresh data dir at once both succeed
    /// (the second finds the schema made).
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let shown = path.display().to_string();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            crate::files::private_dir(parent).map_err(|source| StoreError::CreateDir {
                path: shown.clone(),
                source,
            })?;
        }
        let lock_path = crate::files::sibling(path, ".lock");
        let _lock =
            crate::files::lock(&lock_path, OPEN_WAIT, "opening the database").map_err(|e| {
                StoreError::Migrate {
                    path: shown.clone(),
                    message: e,
                }
            })?;
        crate::files::private_files(path).map_err(|source| StoreError::CreateDir {
            path: shown.clone(),
            source,
        })?;
        let open_err = |source| StoreError::Open {
            path: shown.clone(),
            source,
        };
        let mut conn = Connection::open(path).map_err(open_err)?;
        // Two processes (the app and the CLI) share the file: wait for each other's writes.
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        // The first statement that reads the file: a file that is not a database fails here.
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %shown, mode, "database is not in WAL mode; the app and the CLI may wait on each other");
        }
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        // Deleted and overwritten content is zeroed in the file, so a value moved out of the
        // clear (see `seal_plain_server`) does not linger in a free page.
        conn.pragma_update(None, "secure_delete", "ON")
            .map_err(open_err)?;
        migrations::migrations()
            .to_latest(&mut conn)
            .map_err(|e| StoreError::Migrate {
                path: shown.clone(),
                message: e.to_string(),
            })?;
        // SQLite made -wal and -shm with the database's mode; an older file may be looser.
        crate::files::private_files(path).map_err(|source| StoreError::CreateDir {
            path: shown.clone(),
            source,
        })?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `work` on the blocking pool with the connection.
    async fn with<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.conn.clone();
        let task = tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave SQLite half-written (transactions roll
            // back on drop), so a poisoned lock is still a usable connection.
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            work(&mut guard)
        });
        match task.await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => panic!("store task did not run: {e}"),
        }
    }
}

fn encode_def(def: &ServerDef) -> String {
    serde_json::to_string(def).expect("a server definition always serializes")
}

fn decode_def(name: &str, text: &str) -> Result<ServerDef, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt(format!("definition of server '{name}': {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_names_round_trip() {
        for o in [
            CallOutcome::Ok,
            CallOutcome::ToolError,
            CallOutcome::Failed,
            CallOutcome::Cancelled,
            CallOutcome::TimedOut,
        ] {
            assert_eq!(CallOutcome::parse(o.as_str()), Some(o));
            assert_eq!(
                serde_json::to_value(o).unwrap(),
                serde_json::Value::String(o.as_str().into())
            );
        }
        assert_eq!(CallOutcome::parse("nope"), None);
    }
}
