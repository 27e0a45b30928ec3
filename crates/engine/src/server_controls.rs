//! Requests about the connection rather than what the server offers: the level of the log
//! messages it sends (`logging/setLevel`) and a `ping`.

use std::time::{Duration, Instant};

use rmcp::model::{ClientRequest, PingRequest, ServerResult};
use rmcp::service::{Peer, RoleClient, ServiceError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::catalog::{CatalogError, params};

/// The levels of `logging/setLevel`, as MCP names them (RFC 5424's, least severe first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum LogLevel {
    Debug,
    Info,
    Notice,
    Warning,
    Error,
    Critical,
    Alert,
    Emergency,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Notice => "notice",
            LogLevel::Warning => "warning",
            LogLevel::Error => "error",
            LogLevel::Critical => "critical",
            LogLevel::Alert => "alert",
            LogLevel::Emergency => "emergency",
        }
    }
}

impl std::fmt::Display for LogLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for LogLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        serde_json::from_value(Value::String(s.into())).map_err(|_| {
            format!("{s:?} is not a log level; use one of debug, info, notice, warning, error, critical, alert, emergency")
        })
    }
}

/// `logging/setLevel`. (Deprecated in rmcp for the 2026 protocol; servers of today use it.)
#[allow(deprecated)]
pub async fn set_level(peer: &Peer<RoleClient>, level: LogLevel) -> Result<(), CatalogError> {
    let p: rmcp::model::SetLevelRequestParams = params(json!({ "level": level }))?;
    peer.set_level(p).await?;
    Ok(())
}

/// `ping`, timed from sending to the answer.
pub async fn ping(peer: &Peer<RoleClient>) -> Result<Duration, CatalogError> {
    let started = Instant::now();
    match peer
        .send_request(ClientRequest::PingRequest(PingRequest::default()))
        .await?
    {
        ServerResult::EmptyResult(_) => Ok(started.elapsed()),
        _ => Err(CatalogError::Service(ServiceError::UnexpectedResponse)),
    }
}
