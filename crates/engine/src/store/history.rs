//! The `call_history` table: one row per finished tool call.

use rusqlite::params;

use super::{CallOutcome, CallRecord, Store, StoreError};

impl Store {
    pub async fn record_call(&self, rec: CallRecord) -> Result<(), StoreError> {
        self.with(move |c| {
            c.execute(
                "INSERT INTO call_history
                    (call_id, server, tool, arguments, result, error, outcome, started_at_ms, duration_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    rec.call_id,
                    rec.server,
                    rec.tool,
                    rec.arguments.to_string(),
                    rec.result.as_ref().map(|r| r.to_string()),
                    rec.error,
                    rec.outcome.as_str(),
                    rec.started_at_ms,
                    i64::try_from(rec.duration_ms).unwrap_or(i64::MAX),
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// One call by its id, if it is in the history.
    pub async fn call(&self, call_id: &str) -> Result<Option<CallRecord>, StoreError> {
        let call_id = call_id.to_string();
        self.with(move |c| {
            let mut stmt = c.prepare(
                "SELECT call_id, server, tool, arguments, result, error, outcome, started_at_ms, duration_ms
                 FROM call_history WHERE call_id = ?1",
            )?;
            let mut rows = stmt.query_map(params![call_id], Row::read)?;
            rows.next().transpose()?.map(Row::decode).transpose()
        })
        .await
    }

    /// The server's most recent calls, newest first, at most `limit`.
    pub async fn history(&self, server: &str, limit: usize) -> Result<Vec<CallRecord>, StoreError> {
        let server = server.to_string();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with(move |c| {
            let mut stmt = c.prepare(
                "SELECT call_id, server, tool, arguments, result, error, outcome, started_at_ms, duration_ms
                 FROM call_history WHERE server = ?1
                 ORDER BY started_at_ms DESC, rowid DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![server, limit], Row::read)?;
            rows.map(|row| row?.decode()).collect()
        })
        .await
    }
}

/// A history row as stored, before its JSON is parsed.
struct Row {
    call_id: String,
    server: String,
    tool: String,
    arguments: String,
    result: Option<String>,
    error: Option<String>,
    outcome: String,
    started_at_ms: i64,
    duration_ms: i64,
}

impl Row {
    /// The columns in the order both queries select them.
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
        Ok(Row {
            call_id: r.get(0)?,
            server: r.get(1)?,
            tool: r.get(2)?,
            arguments: r.get(3)?,
            result: r.get(4)?,
            error: r.get(5)?,
            outcome: r.get(6)?,
            started_at_ms: r.get(7)?,
            duration_ms: r.get(8)?,
        })
    }

    fn decode(self) -> Result<CallRecord, StoreError> {
        let json = |what: &str, text: &str| {
            serde_json::from_str(text)
                .map_err(|e| StoreError::Corrupt(format!("{what} of call {}: {e}", self.call_id)))
        };
        Ok(CallRecord {
            arguments: json("arguments", &self.arguments)?,
            result: self
                .result
                .as_deref()
                .map(|t| json("result", t))
                .transpose()?,
            outcome: CallOutcome::parse(&self.outcome).ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "call {} has an unknown outcome {:?}",
                    self.call_id, self.outcome
                ))
            })?,
            duration_ms: u64::try_from(self.duration_ms).unwrap_or(0),
            started_at_ms: self.started_at_ms,
            error: self.error,
            tool: self.tool,
            server: self.server,
            call_id: self.call_id,
        })
    }
}
