//! Export to Claude Desktop's `claude_desktop_config.json` shape, which Cursor reads as well.
//! [`super::import_file`] reads this output back to the same definitions, except for
//! `request_timeout_secs`, which the format has no place for.

use serde_json::{Map, Value, json};

use super::{ServerDef, TransportDef};

/// `{"mcpServers": {NAME: {...}}}`: stdio servers as `command`/`args`/`env`/`cwd`, remote ones
/// as `type`/`url`/`headers`; a disabled server carries `"disabled": true`.
pub fn export_claude(servers: &[ServerDef]) -> Value {
    let mut out = Map::new();
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
                    entry.insert("env".into(), json!(env));
                }
                if let Some(cwd) = cwd {
                    entry.insert("cwd".into(), json!(cwd.to_string_lossy()));
                }
            }
            TransportDef::Http { url, headers } | TransportDef::Sse { url, headers } => {
                entry.insert("type".into(), json!(def.transport.kind()));
                entry.insert("url".into(), json!(url));
                if !headers.is_empty() {
                    entry.insert("headers".into(), json!(headers));
                }
            }
        }
        if !def.enabled {
            entry.insert("disabled".into(), json!(true));
        }
        out.insert(def.name.clone(), Value::Object(entry));
    }
    json!({ "mcpServers": out })
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
            export_claude(&servers),
            json!({"mcpServers": {
                "local": {"command": "uvx", "args": ["mcp-server-time"]},
                "remote": {"type": "http", "url": "https://x.example/mcp", "headers": {"X-Key": "k"}},
                "legacy": {"type": "sse", "url": "https://x.example/sse", "disabled": true},
            }})
        );
    }
}
