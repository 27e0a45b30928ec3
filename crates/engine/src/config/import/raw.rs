//! A config file as read: JSON text -> raw shapes, with serde_json's line and column and
//! serde_path_to_error's field path in every error.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::path::Path;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::error::Category;

use super::positions::Lines;
use crate::config::ConfigError;

/// The parts of a config file Patchbay reads. Other top-level keys (Claude Desktop keeps its
/// preferences in the same file) are none of our business and pass silently.
#[derive(Deserialize)]
pub(super) struct RawFile {
    #[serde(rename = "mcpServers", default)]
    pub(super) mcp_servers: Option<Entries>,
    #[serde(default)]
    pub(super) servers: Option<Entries>,
    /// VS Code: values the editor prompts for, referenced as `${input:ID}`.
    #[serde(default)]
    pub(super) inputs: Option<Vec<Obj<RawInput>>>,
}

/// One server entry in any of the three formats.
#[derive(Deserialize)]
pub(super) struct RawEntry {
    #[serde(rename = "type")]
    pub(super) kind: Option<String>,
    pub(super) command: Option<String>,
    pub(super) args: Option<Args>,
    pub(super) env: Option<BTreeMap<String, EnvValue>>,
    #[serde(rename = "envFile")]
    pub(super) env_file: Option<String>,
    pub(super) cwd: Option<String>,
    pub(super) url: Option<String>,
    pub(super) headers: Option<BTreeMap<String, String>>,
    pub(super) disabled: Option<bool>,
}

/// The keys of [`RawEntry`]; any other key is ignored with a warning.
pub(super) const ENTRY_KEYS: &[&str] = &[
    "type", "command", "args", "env", "envFile", "cwd", "url", "headers", "disabled",
];

#[derive(Deserialize)]
pub(super) struct RawInput {
    pub(super) id: String,
    pub(super) description: Option<String>,
    pub(super) password: Option<bool>,
}

/// What an object stands for, for "expected ..." in type errors.
pub(super) trait Described {
    const WHAT: &'static str;
}
impl Described for RawFile {
    const WHAT: &'static str = "a JSON object with `mcpServers` or `servers`";
}
impl Described for RawEntry {
    const WHAT: &'static str = "an object describing a server (`command` or `url`)";
}
impl Described for RawInput {
    const WHAT: &'static str = "an object describing an input (`id`, `description`)";
}

/// A `T` that must be written as a JSON object. (serde's derived structs also accept an array,
/// field by position, which would turn `"github": ["npx"]` into nonsense instead of an error.)
pub(super) struct Obj<T>(pub(super) T);

impl<'de, T: Deserialize<'de> + Described> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de> + Described> Visitor<'de> for ObjVisitor<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(T::WHAT)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map))
            }
        }
        deserializer
            .deserialize_map(ObjVisitor(PhantomData))
            .map(Obj)
    }
}

/// Server entries in the order the file lists them (serde_json's map would sort them), keeping
/// a name that appears twice so it can be reported.
pub(super) struct Entries(pub(super) Vec<(String, Obj<RawEntry>)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor;
        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object with one entry per server, keyed by its name")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut entries = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    entries.push((name, map.next_value()?));
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor)
    }
}

/// Command-line arguments: a list of strings. (A single string is the usual mistake; the
/// message says what is wanted.)
pub(super) struct Args(pub(super) Vec<String>);

impl<'de> Deserialize<'de> for Args {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ArgsVisitor;
        impl<'de> Visitor<'de> for ArgsVisitor {
            type Value = Args;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of strings, one per argument, like [\"-y\", \"some-server\"]")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Args, A::Error> {
                let mut args = Vec::new();
                while let Some(arg) = seq.next_element()? {
                    args.push(arg);
                }
                Ok(Args(args))
            }
        }
        deserializer.deserialize_seq(ArgsVisitor)
    }
}

/// An environment value: VS Code allows numbers, and `null` for "unset".
pub(super) struct EnvValue(pub(super) Option<String>);

impl<'de> Deserialize<'de> for EnvValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EnvVisitor;
        impl<'de> Visitor<'de> for EnvVisitor {
            type Value = EnvValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<EnvValue, E> {
                Ok(EnvValue(Some(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<EnvValue, E> {
                Ok(EnvValue(Some(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<EnvValue, E> {
                Ok(EnvValue(Some(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<EnvValue, E> {
                Ok(EnvValue(Some(v.to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<EnvValue, E> {
                Ok(EnvValue(None))
            }
        }
        deserializer.deserialize_any(EnvVisitor)
    }
}

pub(super) fn parse(file: &Path, text: &[u8], lines: &Lines) -> Result<RawFile, ConfigError> {
    let mut de = serde_json::Deserializer::from_slice(text);
    let Obj(raw) = serde_path_to_error::deserialize::<_, Obj<RawFile>>(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let error = e.into_inner();
        // A path is only meaningful when the JSON was well formed but of the wrong shape.
        let field = (error.classify() == Category::Data && path != ".").then_some(path);
        parse_error(file, text, lines, &error, field)
    })?;
    de.end()
        .map_err(|e| parse_error(file, text, lines, &e, None))?;
    Ok(raw)
}

fn parse_error(
    file: &Path,
    text: &[u8],
    lines: &Lines,
    error: &serde_json::Error,
    field: Option<String>,
) -> ConfigError {
    let mut message = error.to_string();
    // The position is in the error's own fields; keep the message free of it.
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    if message.ends_with(&suffix) {
        message.truncate(message.len() - suffix.len());
    }
    let (line, column) = if error.classify() == Category::Eof {
        // serde_json puts an early end past the final newline (an empty line after the last);
        // point just after the last thing actually written instead.
        let end = text
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .map_or(0, |last| last + 1);
        lines.position(end)
    } else {
        // serde_json says column 0 when it fails before reading the value's first byte.
        (error.line(), error.column().max(1))
    };
    ConfigError::Parse {
        file: file.to_path_buf(),
        line,
        column,
        field,
        message,
    }
}
