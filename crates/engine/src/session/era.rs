//! The two eras of MCP a server may speak, told apart by its protocol version: the 2025 era
//! (`initialize`, then a session) and 2026-07-28 on (`server/discover`, no session; no `ping`,
//! `logging/setLevel` or `resources/subscribe`).

use rmcp::model::{ClientRequest, DiscoverRequest, DiscoverRequestParams, PingRequest};
use rmcp::{Peer, RoleClient};

/// The revision of MCP a server spoke, and so the era: how the connection started and what
/// it offers (a 2026-07-28 server has no `ping`, log level or `resources/subscribe`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Spoken {
    pub era: Era,
    pub protocol_version: String,
    /// True when this is what it spoke on an earlier connection (another run, or another
    /// process): it has not connected since. Shown as "last time".
    #[serde(default)]
    pub remembered: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum Era {
    /// 2026-07-28 on: `server/discover`, and every request carries what it needs.
    Stateless,
    /// 2025-11-25 and before: `initialize`, then a session.
    Session,
}

impl From<&rmcp::model::ProtocolVersion> for Spoken {
    fn from(version: &rmcp::model::ProtocolVersion) -> Spoken {
        Spoken {
            era: if version.has_initialize() {
                Era::Session
            } else {
                Era::Stateless
            },
            protocol_version: shown(version.as_str()),
            remembered: false,
        }
    }
}

/// What a server spoke, kept in the store (`servers.spoke`) across runs, with the transport it
/// was spoken over: a definition pointed elsewhere since then has nothing remembered.
#[derive(serde::Serialize, serde::Deserialize)]
struct Remembered {
    /// A digest of the transport it was spoken over (`transport_key`).
    transport: String,
    era: Era,
    protocol_version: String,
}

/// A digest of the transport as shown (values masked): enough to tell "the same server" from
/// "pointed elsewhere", without keeping a second copy of its command line or URL (which may
/// carry a token a person has since moved into a sealed value).
fn transport_key(def: &crate::config::ServerDef) -> String {
    use sha2::Digest;
    let shown = serde_json::to_string(&def.masked().transport).unwrap_or_default();
    sha2::Sha256::digest(shown.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The record to keep of what `def`'s server spoke.
pub(crate) fn to_remember(def: &crate::config::ServerDef, spoken: &Spoken) -> String {
    serde_json::to_string(&Remembered {
        transport: transport_key(def),
        era: spoken.era,
        protocol_version: spoken.protocol_version.clone(),
    })
    .unwrap_or_default()
}

/// What `def`'s server spoke last time, from the kept record, if it was over the same transport
/// (a record this version cannot read counts as none).
pub(crate) fn remembered(def: &crate::config::ServerDef, record: &str) -> Option<Spoken> {
    let r: Remembered = serde_json::from_str(record).ok()?;
    (r.transport == transport_key(def)).then(|| Spoken {
        era: r.era,
        // Written by us from a checked value, but read back from a file another process can
        // write: checked again.
        protocol_version: shown(&r.protocol_version),
        remembered: true,
    })
}

impl std::fmt::Display for Spoken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let how = match self.era {
            Era::Stateless => "stateless, server/discover",
            Era::Session => "a session, initialize",
        };
        let when = if self.remembered { "; last time" } else { "" };
        write!(f, "MCP {} ({how}{when})", self.protocol_version)
    }
}

/// A revision as a person may see it: MCP names them by date (`2025-11-25`); anything else a
/// server sent is not repeated (it could be long, or carry line breaks into a terminal).
fn shown(version: &str) -> String {
    let dated = version.len() == 10
        && version.char_indices().all(|(i, c)| {
            if i == 4 || i == 7 {
                c == '-'
            } else {
                c.is_ascii_digit()
            }
        });
    if dated {
        version.to_string()
    } else {
        "not a dated revision".to_string()
    }
}

/// Whether the server speaks a revision without sessions (2026-07-28 on).
pub(crate) fn stateless(peer: &Peer<RoleClient>) -> bool {
    peer.peer_info()
        .is_some_and(|info| !info.protocol_version.has_initialize())
}

/// A request that only asks "are you there": `ping`, or `server/discover` to a server of the
/// era that removed `ping` (it changes nothing, and is sent uncached).
pub(crate) fn are_you_there(peer: &Peer<RoleClient>) -> ClientRequest {
    if stateless(peer) {
        ClientRequest::DiscoverRequest(DiscoverRequest::new(DiscoverRequestParams {}))
    } else {
        ClientRequest::PingRequest(PingRequest::default())
    }
}
