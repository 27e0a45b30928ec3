//! SQLite: the one database file. Servers and tool-call history.
//! STUB: API fixed, bodies to be written.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::ServerDef;

/// How a tool call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
}

/// One tool call as it is kept in history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    pub started_at_ms: i64,
    pub duration_ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: {source}")]
    Open { path: String, #[source] source: rusqlite::Error },
    #[error("database {path} could not be migrated: {message}")]
    Migrate { path: String, message: String },
    #[error("a server named '{0}' already exists; remove it first or pick another name")]
    Duplicate(String),
    #[error("no server named '{0}'")]
    NotFound(String),
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
}

/// Handle to the database; cheap to clone, safe to share between tasks.
#[derive(Clone)]
pub struct Store {}

impl Store {
    pub fn open(_path: &Path) -> Result<Store, StoreError> { todo!() }
    pub async fn list_servers(&self) -> Result<Vec<ServerDef>, StoreError> { todo!() }
    pub async fn get_server(&self, _name: &str) -> Result<Option<ServerDef>, StoreError> { todo!() }
    pub async fn add_servers(&self, _defs: Vec<ServerDef>) -> Result<(), StoreError> { todo!() }
    pub async fn update_server(&self, _def: ServerDef) -> Result<(), StoreError> { todo!() }
    pub async fn remove_server(&self, _name: &str) -> Result<(), StoreError> { todo!() }
    pub async fn record_call(&self, _rec: CallRecord) -> Result<(), StoreError> { todo!() }
    pub async fn history(&self, _server: &str, _limit: usize) -> Result<Vec<CallRecord>, StoreError> { todo!() }
}
