//! Export to Claude Desktop's `claude_desktop_config.json` shape, which Cursor reads as well.
//! [`super::import_file`] reads this output back to the same definitions, except for
//! `request_timeout_secs`, which the format has no place for, and secret values left out.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::{ServerDef, TransportDef};

/// An export, and how many secret values (env and header values) it left out.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Export {
    pub document: serde_json::Value,
    /// Env and header values written as "" because they were not asked for.
    pub secrets_left_out: usize,
}

/// `{"mcpServers": {NAME: {...}}}`: stdio servers as `command`/`args`/`env`/`cwd`, remote ones
/// as `type`/`url`/`headers`; a disabled server carries `"disabled": true`. Env and header
/// values are written only with `secrets` (from definitions that hold them); otherwise each is
/// "" (its name stays, so the person knows what to fill in). Unreadable definitions are left
/// out.
pub fn export_claude(servers: &[ServerDef], secrets: bool) -> Export {
    let mut out = Map::new();
    let mut left_out = 0;
    let mut values = |map: &std::collections::BTreeMap<String, String>| -> Value {
        if secrets {
            return json!(map);
        }
        left_out += map.len();
        Value::Object(map.keys().map(|k| (k.clone(), json!(""))).collect())
    };
    for def in servers {
        let mut entry = Map::new();
        match &def.transport {
            TransportDef::Stdio {
                command,
                args,
                env,
                cwd,
            } => {
                entry.insert("command".into(), json!(command));
                entry.insert("args".into(), json!(args));
                if !env.is_empty() {
                    entry.insert("env".into(), values(env));
                }
                if let Some(cwd) = cwd {
                    entry.insert("cwd".into(), json!(cwd.to_string_lossy()));
                }
            }
            TransportDef::Http { url, headers } | TransportDef::Sse { url, headers } => {
                entry.insert("type".into(), json!(def.transport.kind()));
                entry.insert("url".into(), json!(url));
                if !headers.is_empty() {
                    entry.insert("headers".into(), values(headers));
                }
            }
            TransportDef::Unreadable { .. } => continue,
        }
        if !def.enabled {
            entry.insert("disabled".into(), json!(true));
        }
        out.insert(def.name.clone(), Value::Object(entry));
    }
    Export {
        document: json!({ "mcpServers": out }),
        secrets_left_out: left_out,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn shapes_each_transport() {
        let mut sse = ServerDef::new(
            "legacy",
            TransportDef::Sse {
                url: "https://x.example/sse".into(),
                headers: BTreeMap::new(),
            },
        );
        sse.enabled = false;
        let servers = vec![
            ServerDef::new(
                "local",
                TransportDef::Stdio {
                    command: "uvx".into(),
                    args: vec!["mcp-server-time".into()],
                    env: BTreeMap::new(),
                    cwd: None,
                },
            ),
            ServerDef::new(
                "remote",
                TransportDef::Http {
                    url: "https://x.example/mcp".into(),
                    headers: BTreeMap::from([("X-Key".into(), "k".into())]),
                },
            ),
            sse,
        ];
        assert_eq!(
            export_claude(&servers, true).document,
            json!({"mcpServers": {
                "local": {"command": "uvx", "args": ["mcp-server-time"]},
                "remote": {"type": "http", "url": "https://x.example/mcp", "headers": {"X-Key": "k"}},
                "legacy": {"type": "sse", "url": "https://x.example/sse", "disabled": true},
            }})
        );
        // Without asking for them, secret values stay behind; their names go.
        let bare = export_claude(&servers, false);
        assert_eq!(bare.secrets_left_out, 1);
        assert_eq!(
            bare.document["mcpServers"]["remote"]["headers"],
            json!({"X-Key": ""})
        );
    }
}
