//! Requests about the connection rather than what the server offers: the level of the log
//! messages it sends (`logging/setLevel`) and a `ping`. The 2026-07-28 revision removed both
//! (and `resources/subscribe`): to such a server the round trip is timed with `server/discover`,
//! which every server of that era answers and which changes nothing, and the log level is
//! refused with the reason.

use std::time::{Duration, Instant};

use rmcp::model::ServerResult;
use rmcp::service::{Peer, RoleClient, ServiceError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::catalog::{CatalogError, not_in_this_era, params};
use crate::session::{are_you_there, stateless};

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

/// `logging/setLevel`. (Deprecated in rmcp for the 2026 protocol; 2025-era servers use it.)
#[allow(deprecated)]
pub async fn set_level(peer: &Peer<RoleClient>, level: LogLevel) -> Result<(), CatalogError> {
    if stateless(peer) {
        return Err(not_in_this_era("setting the log level"));
    }
    let p: rmcp::model::SetLevelRequestParams = params(json!({ "level": level }))?;
    peer.set_level(p).await?;
    Ok(())
}

/// The round trip of `are_you_there`, timed from sending to the answer.
pub async fn ping(peer: &Peer<RoleClient>) -> Result<Duration, CatalogError> {
    let started = Instant::now();
    match peer.send_request(are_you_there(peer)).await? {
        ServerResult::EmptyResult(_) | ServerResult::DiscoverResult(_) => Ok(started.elapsed()),
        _ => Err(CatalogError::Service(ServiceError::UnexpectedResponse)),
    }
}
