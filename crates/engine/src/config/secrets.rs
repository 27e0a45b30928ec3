//! A definition's secret values: every env value of a local server and every header value of a
//! remote one. Patchbay cannot tell an API key from a setting, so it treats them all as
//! secrets: sealed at rest (the definition keeps only their names, see `definitions.rs`), and
//! shown as [`MASK`] wherever a definition is shown, until the person asks to see them.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::{ServerDef, TransportDef};

/// What a definition shows in place of each secret value. Sent back unchanged in an edited
/// definition, it means "keep the stored value". (Not valid in a header, so a masked header can
/// never reach a server.)
pub const MASK: &str = "••••••••";

/// A server's env and header values, by name. Its `Debug` prints the names only.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretValues {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

impl fmt::Debug for SecretValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretValues")
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl SecretValues {
    pub fn is_empty(&self) -> bool {
        self.env.is_empty() && self.headers.is_empty()
    }
}

impl ServerDef {
    fn secret_maps(
        &self,
    ) -> (
        Option<&BTreeMap<String, String>>,
        Option<&BTreeMap<String, String>>,
    ) {
        match &self.transport {
            TransportDef::Stdio { env, .. } => (Some(env), None),
            TransportDef::Http { headers, .. } | TransportDef::Sse { headers, .. } => {
                (None, Some(headers))
            }
            TransportDef::Unreadable { .. } => (None, None),
        }
    }

    fn secret_maps_mut(
        &mut self,
    ) -> (
        Option<&mut BTreeMap<String, String>>,
        Option<&mut BTreeMap<String, String>>,
    ) {
        match &mut self.transport {
            TransportDef::Stdio { env, .. } => (Some(env), None),
            TransportDef::Http { headers, .. } | TransportDef::Sse { headers, .. } => {
                (None, Some(headers))
            }
            TransportDef::Unreadable { .. } => (None, None),
        }
    }

    /// Whether the definition has any env or header values at all.
    pub fn has_secrets(&self) -> bool {
        let (env, headers) = self.secret_maps();
        env.is_some_and(|m| !m.is_empty()) || headers.is_some_and(|m| !m.is_empty())
    }

    /// The definition as it may be shown (each secret value replaced by [`MASK`]) and the
    /// values taken out. Values already masked are not taken (there is nothing to take).
    pub fn split_secrets(&self) -> (ServerDef, SecretValues) {
        let mut shown = self.clone();
        let mut values = SecretValues::default();
        let (env, headers) = shown.secret_maps_mut();
        for (map, out) in [(env, &mut values.env), (headers, &mut values.headers)] {
            for (k, v) in map.into_iter().flatten() {
                if v != MASK {
                    out.insert(k.clone(), std::mem::replace(v, MASK.to_string()));
                }
            }
        }
        (shown, values)
    }

    /// The definition with its secret values masked.
    pub fn masked(&self) -> ServerDef {
        self.split_secrets().0
    }

    /// Puts `values` in place of the masked values they have; returns the names still masked
    /// (a value nobody typed in and nothing stored).
    pub fn fill_secrets(&mut self, values: &SecretValues) -> Vec<String> {
        let mut missing = Vec::new();
        let (env, headers) = self.secret_maps_mut();
        for (map, from, what) in [
            (env, &values.env, "env"),
            (headers, &values.headers, "header"),
        ] {
            for (k, v) in map.into_iter().flatten() {
                if v == MASK {
                    match from.get(k) {
                        Some(value) => v.clone_from(value),
                        None => missing.push(format!("{what} {k}")),
                    }
                }
            }
        }
        missing
    }

    /// Whether any env or header value is not masked: such a definition must not be stored or
    /// shown as it is.
    pub fn holds_secret_values(&self) -> bool {
        let (env, headers) = self.secret_maps();
        env.into_iter()
            .chain(headers)
            .flat_map(|m| m.values())
            .any(|v| v != MASK)
    }

    /// Whether any value is still masked.
    pub fn is_masked(&self) -> bool {
        let (env, headers) = self.secret_maps();
        env.into_iter()
            .chain(headers)
            .flat_map(|m| m.values())
            .any(|v| v == MASK)
    }
}

/// The window needs the mask too (a value sent back masked means "keep it"): written beside
/// the ts-rs bindings as `Mask.ts`, and checked with them by `scripts/test`.
#[cfg(all(test, feature = "ts"))]
#[test]
fn export_bindings_mask() {
    let dir =
        std::path::PathBuf::from(std::env::var("TS_RS_EXPORT_DIR").expect("TS_RS_EXPORT_DIR"));
    let dir = if dir.is_absolute() {
        dir
    } else {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir)
    };
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("Mask.ts"),
        format!(
            "// This file was generated from the engine's `config::MASK`. Do not edit this file manually.\n\n/** What a definition shows in place of each env and header value; sent back unchanged, it keeps the stored value. */\nexport const MASK = {};\n",
            serde_json::to_string(MASK).unwrap()
        ),
    )
    .unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stdio(env: &[(&str, &str)]) -> ServerDef {
        ServerDef::new(
            "gh",
            TransportDef::Stdio {
                command: "npx".into(),
                args: vec![],
                env: env
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                cwd: None,
            },
        )
    }

    #[test]
    fn splitting_masks_every_value_and_filling_puts_them_back() {
        let def = stdio(&[("GITHUB_TOKEN", "ghp_secret"), ("MODE", "fast")]);
        let (shown, values) = def.split_secrets();
        let text = serde_json::to_string(&shown).unwrap();
        assert!(
            !text.contains("ghp_secret") && !text.contains("fast"),
            "{text}"
        );
        assert!(shown.is_masked());
        assert_eq!(values.env.len(), 2);
        assert!(!format!("{values:?}").contains("ghp_secret"));
        let mut back = shown.clone();
        assert!(back.fill_secrets(&values).is_empty());
        assert_eq!(back, def);
    }

    #[test]
    fn an_edit_keeps_masked_values_and_takes_typed_ones() {
        let stored = stdio(&[("A", "old-a"), ("B", "old-b")]).split_secrets().1;
        // The form sent A untouched, B retyped, and a new C.
        let mut edited = stdio(&[("A", MASK), ("B", "new-b"), ("C", "c")]);
        assert!(edited.fill_secrets(&stored).is_empty());
        assert_eq!(edited, stdio(&[("A", "old-a"), ("B", "new-b"), ("C", "c")]));
        // A masked value with nothing stored behind it is named.
        let mut orphan = stdio(&[("D", MASK)]);
        assert_eq!(orphan.fill_secrets(&stored), vec!["env D".to_string()]);
    }

    #[test]
    fn headers_are_secrets_too() {
        let def = ServerDef::new(
            "api",
            TransportDef::Http {
                url: "https://x.example/mcp".into(),
                headers: [("Authorization".to_string(), "Bearer abc".to_string())].into(),
            },
        );
        let (shown, values) = def.split_secrets();
        assert_eq!(values.headers["Authorization"], "Bearer abc");
        assert!(
            shown.validate().is_ok(),
            "a masked definition is still a valid one"
        );
        assert!(!serde_json::to_string(&shown).unwrap().contains("abc"));
    }
}
