//! Import of other clients' config files: Claude Desktop (`claude_desktop_config.json`), Cursor
//! (`~/.cursor/mcp.json`) and VS Code (`.vscode/mcp.json`, JSON with comments).
//!
//! The point of this module is its errors: a file that cannot be imported yields a
//! [`ConfigError`] naming the file, the 1-based line and the field path
//! (`mcpServers.github.args`), so a person can go straight to the mistake. Nothing here stores
//! anything; the caller shows the [`ImportPlan`] and stores it as a whole.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::Read;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use json_comments::CommentSettings;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::error::Category;

use super::{ConfigError, ServerDef, TransportDef};

/// What a config file would add. The hub keeps it for the person's review (`ImportPreview`)
/// and adds exactly it.
#[derive(Debug, Clone)]
pub struct ImportPlan {
    pub servers: Vec<ServerDef>,
    /// Things the person should know (an unresolved `${input:..}`, an ignored field).
    pub warnings: Vec<String>,
}

/// Reads a Claude Desktop, Cursor or VS Code config file. Blocking (it reads the file).
pub fn import_file(path: &Path) -> Result<ImportPlan, ConfigError> {
    let bytes = std::fs::read(path).map_err(|source| ConfigError::Io {
        file: path.to_path_buf(),
        source,
    })?;
    let lines = Lines::new(&bytes);
    let text = jsonc::to_json(&bytes).map_err(|(offset, message)| {
        let (line, column) = lines.position(offset);
        ConfigError::Parse {
            file: path.to_path_buf(),
            line,
            column,
            field: None,
            message: message.into(),
        }
    })?;
    let raw = parse(path, &text, &lines)?;

    let containers: Vec<(&'static str, Entries)> =
        [("mcpServers", raw.mcp_servers), ("servers", raw.servers)]
            .into_iter()
            .filter_map(|(key, entries)| entries.map(|e| (key, e)))
            .collect();
    if containers.is_empty() {
        return Err(ConfigError::UnknownFormat {
            file: path.to_path_buf(),
        });
    }

    let inputs: HashMap<String, RawInput> = raw
        .inputs
        .unwrap_or_default()
        .into_iter()
        .map(|Obj(input)| (input.id.clone(), input))
        .collect();
    let mut import = Import {
        file: path,
        keys: KeyIndex::build(&text),
        lines,
        inputs,
        warnings: Vec::new(),
        seen: HashMap::new(),
    };
    let mut servers = Vec::new();
    for (container, Entries(entries)) in containers {
        if entries.is_empty() {
            import.warnings.push(format!(
                "`{container}` has no servers; nothing to import from it"
            ));
        }
        let mut nth_of_name: HashMap<String, usize> = HashMap::new();
        for (name, Obj(entry)) in entries {
            let nth = nth_of_name.entry(name.clone()).or_default();
            let at = Entry {
                container,
                name: &name,
                nth: *nth,
            };
            *nth += 1;
            servers.push(import.server(&at, entry)?);
        }
    }
    Ok(ImportPlan {
        servers,
        warnings: import.warnings,
    })
}

// ---------------------------------------------------------------------------------------------
// Parsing: JSON text -> raw shapes, with serde_json's line/column and serde_path_to_error's path.

/// The parts of a config file Patchbay reads. Other top-level keys (Claude Desktop keeps its
/// preferences in the same file) are none of our business and pass silently.
#[derive(Deserialize)]
struct RawFile {
    #[serde(rename = "mcpServers", default)]
    mcp_servers: Option<Entries>,
    #[serde(default)]
    servers: Option<Entries>,
    /// VS Code: values the editor prompts for, referenced as `${input:ID}`.
    #[serde(default)]
    inputs: Option<Vec<Obj<RawInput>>>,
}

/// One server entry in any of the three formats.
#[derive(Deserialize)]
struct RawEntry {
    #[serde(rename = "type")]
    kind: Option<String>,
    command: Option<String>,
    args: Option<Args>,
    env: Option<BTreeMap<String, EnvValue>>,
    #[serde(rename = "envFile")]
    env_file: Option<String>,
    cwd: Option<String>,
    url: Option<String>,
    headers: Option<BTreeMap<String, String>>,
    disabled: Option<bool>,
}

/// The keys of [`RawEntry`]; any other key is ignored with a warning.
const ENTRY_KEYS: &[&str] = &[
    "type", "command", "args", "env", "envFile", "cwd", "url", "headers", "disabled",
];

#[derive(Deserialize)]
struct RawInput {
    id: String,
    description: Option<String>,
    password: Option<bool>,
}

/// What an object stands for, for "expected ..." in type errors.
trait Described {
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
struct Obj<T>(T);

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
struct Entries(Vec<(String, Obj<RawEntry>)>);

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
struct Args(Vec<String>);

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
struct EnvValue(Option<String>);

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

fn parse(file: &Path, text: &[u8], lines: &Lines) -> Result<RawFile, ConfigError> {
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

// ---------------------------------------------------------------------------------------------
// Raw entries -> ServerDefs, with warnings, and errors that point at a line.

struct Import<'a> {
    file: &'a Path,
    keys: KeyIndex,
    lines: Lines,
    inputs: HashMap<String, RawInput>,
    warnings: Vec<String>,
    /// Server names already imported, with the line each came from.
    seen: HashMap<String, usize>,
}

/// Where an entry sits: `container.name`, the `nth` entry of that name in the container.
struct Entry<'n> {
    container: &'static str,
    name: &'n str,
    nth: usize,
}

impl Entry<'_> {
    fn path(&self) -> String {
        format!("{}.{}", self.container, self.name)
    }
    fn field(&self, field: &str) -> String {
        format!("{}.{}.{field}", self.container, self.name)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Stdio,
    Http,
    Sse,
}

impl Import<'_> {
    /// The line of `field` in the entry, or of the entry itself when `field` is absent.
    fn line(&self, at: &Entry, field: Option<&str>) -> usize {
        let entry = [at.container, at.name];
        let offset = field
            .and_then(|f| self.keys.find(&[at.container, at.name, f], at.nth))
            .or_else(|| self.keys.find(&entry, at.nth));
        offset.map(|o| self.lines.position(o).0).unwrap_or(1)
    }

    fn invalid(&self, at: &Entry, field: Option<&str>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.to_path_buf(),
            line: self.line(at, field),
            field: field.map(|f| at.field(f)).unwrap_or_else(|| at.path()),
            message: message.into(),
        }
    }

    fn warn(&mut self, at: &Entry, message: impl fmt::Display) {
        self.warnings
            .push(format!("server '{}': {message}", at.name));
    }

    fn server(&mut self, at: &Entry, raw: RawEntry) -> Result<ServerDef, ConfigError> {
        let line = self.line(at, None);
        if let Some(first) = self.seen.insert(at.name.to_string(), line) {
            return Err(self.invalid(
                at,
                None,
                format!(
                    "a server named '{}' is already defined at line {first}; rename one of them",
                    at.name
                ),
            ));
        }

        let kind = match raw.kind.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None => None,
            Some("stdio") => Some(Kind::Stdio),
            Some("http" | "streamable-http" | "streamable_http" | "streamablehttp") => {
                Some(Kind::Http)
            }
            Some("sse") => Some(Kind::Sse),
            Some(_) => {
                let given = raw.kind.as_deref().unwrap_or_default();
                return Err(self.invalid(
                    at,
                    Some("type"),
                    format!("{given:?} is not a transport Patchbay knows; use \"stdio\", \"http\" or \"sse\""),
                ));
            }
        };

        let kind = match (&raw.command, &raw.url, kind) {
            (Some(_), Some(_), _) => {
                return Err(self.invalid(
                    at,
                    None,
                    "has both `command` and `url`; a server is either a program to run (`command`) or a remote \
                     server (`url`), so remove one",
                ));
            }
            (None, None, Some(Kind::Stdio)) => {
                return Err(self.invalid(
                    at,
                    Some("command"),
                    "is missing; a \"stdio\" server needs the program to run",
                ));
            }
            (None, None, Some(Kind::Http | Kind::Sse)) => {
                return Err(self.invalid(
                    at,
                    Some("url"),
                    "is missing; a remote server needs its URL",
                ));
            }
            (None, None, None) => {
                return Err(self.invalid(
                    at,
                    None,
                    "has neither `command` (a program to run) nor `url` (a remote server); add one",
                ));
            }
            (Some(_), None, Some(Kind::Http | Kind::Sse)) | (None, Some(_), Some(Kind::Stdio)) => {
                let (has, lacks) = if raw.command.is_some() {
                    ("command", "url")
                } else {
                    ("url", "command")
                };
                let given = raw.kind.as_deref().unwrap_or_default();
                return Err(self.invalid(
                    at,
                    Some("type"),
                    format!("is {given:?} but the server has a `{has}` and no `{lacks}`; fix the type or the fields"),
                ));
            }
            (Some(_), None, _) => Kind::Stdio,
            (None, Some(_), Some(kind)) => kind,
            (None, Some(url), None) if url_path_ends_in_sse(url) => Kind::Sse,
            (None, Some(_), None) => Kind::Http,
        };

        for key in self.keys.children(&[at.container, at.name], at.nth) {
            if !ENTRY_KEYS.contains(&key.as_str()) {
                let message = format!("ignored `{}`, which Patchbay does not use", at.field(&key));
                self.warn(at, message);
            }
        }

        let transport = if kind == Kind::Stdio {
            if raw.headers.as_ref().is_some_and(|h| !h.is_empty()) {
                self.warn(
                    at,
                    format!(
                        "ignored `{}`; headers apply only to remote servers",
                        at.field("headers")
                    ),
                );
            }
            let command = raw.command.unwrap_or_default();
            self.check_variables(at, &at.field("command"), &command);
            let args = raw.args.map(|Args(args)| args).unwrap_or_default();
            for (i, arg) in args.iter().enumerate() {
                self.check_variables(at, &format!("{}[{i}]", at.field("args")), arg);
            }
            let mut env = BTreeMap::new();
            for (key, EnvValue(value)) in raw.env.unwrap_or_default() {
                let path = format!("{}.{key}", at.field("env"));
                match value {
                    Some(value) => {
                        self.check_variables(at, &path, &value);
                        env.insert(key, value);
                    }
                    None => self.warn(
                        at,
                        format!("ignored `{path}`: null (unset a variable) is not supported"),
                    ),
                }
            }
            if let Some(env_file) = &raw.env_file {
                let message = format!(
                    "`{}` ({env_file}) is not read by Patchbay; copy the variables the server needs into `env` after import",
                    at.field("envFile")
                );
                self.warn(at, message);
            }
            let cwd = raw.cwd.map(|cwd| {
                self.check_variables(at, &at.field("cwd"), &cwd);
                PathBuf::from(cwd)
            });
            TransportDef::Stdio {
                command,
                args,
                env,
                cwd,
            }
        } else {
            for (key, present) in [
                ("args", raw.args.is_some()),
                ("env", raw.env.is_some()),
                ("envFile", raw.env_file.is_some()),
                ("cwd", raw.cwd.is_some()),
            ] {
                if present {
                    self.warn(
                        at,
                        format!(
                            "ignored `{}`; it applies only to servers started with `command`",
                            at.field(key)
                        ),
                    );
                }
            }
            let url = raw.url.unwrap_or_default();
            self.check_variables(at, &at.field("url"), &url);
            let headers = raw.headers.unwrap_or_default();
            for (key, value) in &headers {
                self.check_variables(at, &format!("{}.{key}", at.field("headers")), value);
            }
            if kind == Kind::Sse {
                TransportDef::Sse { url, headers }
            } else {
                TransportDef::Http { url, headers }
            }
        };

        let mut def = ServerDef::new(at.name, transport);
        def.enabled = !raw.disabled.unwrap_or(false);
        def.validate().map_err(|invalid| match invalid.field {
            field @ ("command" | "env" | "url" | "headers") => {
                self.invalid(at, Some(field), invalid.message)
            }
            other => self.invalid(at, None, format!("the server {other} {}", invalid.message)),
        })?;
        Ok(def)
    }

    /// Warns about each `${...}` in a value: Patchbay keeps the text verbatim and expands nothing.
    fn check_variables(&mut self, at: &Entry, path: &str, value: &str) {
        let mut rest = value;
        while let Some(start) = rest.find("${") {
            let Some(len) = rest[start..].find('}') else {
                break;
            };
            let variable = &rest[start..start + len + 1];
            let inner = &variable[2..variable.len() - 1];
            rest = &rest[start + len + 1..];
            let explanation = if let Some(id) = inner.strip_prefix("input:") {
                match self.inputs.get(id) {
                    Some(input) => {
                        let what = input.description.as_deref().unwrap_or(id);
                        let secret = if input.password == Some(true) {
                            ", a secret"
                        } else {
                            ""
                        };
                        format!(
                            "the input \"{what}\"{secret}, which VS Code asks for when it starts the server"
                        )
                    }
                    None => format!("the input \"{id}\", which is not declared in `inputs`"),
                }
            } else if let Some(name) = inner.strip_prefix("env:") {
                format!("the environment variable {name}, which Patchbay does not expand")
            } else {
                "a variable only VS Code can fill in".to_string()
            };
            self.warn(
                at,
                format!("`{path}` contains {variable} ({explanation}); it is imported as written, so edit this value after import"),
            );
        }
    }
}

fn url_path_ends_in_sse(url: &str) -> bool {
    match url::Url::parse(url) {
        Ok(parsed) => parsed.path().trim_end_matches('/').ends_with("/sse"),
        Err(_) => url
            .split(['?', '#'])
            .next()
            .unwrap_or_default()
            .trim_end_matches('/')
            .ends_with("/sse"),
    }
}

// ---------------------------------------------------------------------------------------------
// Positions: offsets -> lines, and where each object key sits in the text.

/// Byte offsets where each line starts.
struct Lines(Vec<usize>);

impl Lines {
    fn new(text: &[u8]) -> Lines {
        Lines(
            std::iter::once(0)
                .chain(
                    text.iter()
                        .enumerate()
                        .filter(|(_, b)| **b == b'\n')
                        .map(|(i, _)| i + 1),
                )
                .collect(),
        )
    }

    /// 1-based line and column of a byte offset.
    fn position(&self, offset: usize) -> (usize, usize) {
        let line = self.0.partition_point(|start| *start <= offset);
        (line, offset - self.0[line - 1] + 1)
    }
}

/// Every object key in the document with its path and the byte offset of its opening quote.
/// serde does not report positions of values it accepted, so a semantic error ("no command")
/// finds its line here. Built only from text serde_json has already accepted.
struct KeyIndex(Vec<(Vec<String>, usize)>);

impl KeyIndex {
    fn build(text: &[u8]) -> KeyIndex {
        let mut scan = KeyScan {
            text,
            pos: 0,
            keys: Vec::new(),
        };
        scan.value(&mut Vec::new());
        KeyIndex(scan.keys)
    }

    /// The offset of the `nth` key with exactly this path.
    fn find(&self, path: &[&str], nth: usize) -> Option<usize> {
        self.0
            .iter()
            .filter(|(p, _)| p.iter().map(String::as_str).eq(path.iter().copied()))
            .nth(nth)
            .map(|(_, o)| *o)
    }

    /// The keys directly inside the `nth` object at `path`.
    fn children(&self, path: &[&str], nth: usize) -> Vec<String> {
        let Some(start) = self.find(path, nth) else {
            return Vec::new();
        };
        let end = self.find(path, nth + 1).unwrap_or(usize::MAX);
        self.0
            .iter()
            .filter(|(p, o)| {
                *o > start
                    && *o < end
                    && p.len() == path.len() + 1
                    && p.iter().map(String::as_str).zip(path).all(|(a, b)| a == *b)
            })
            .map(|(p, _)| p[path.len()].clone())
            .collect()
    }
}

struct KeyScan<'t> {
    text: &'t [u8],
    pos: usize,
    keys: Vec<(Vec<String>, usize)>,
}

impl KeyScan<'_> {
    fn peek(&mut self) -> Option<u8> {
        while self.text.get(self.pos).is_some_and(u8::is_ascii_whitespace) {
            self.pos += 1;
        }
        self.text.get(self.pos).copied()
    }

    fn value(&mut self, path: &mut Vec<String>) {
        match self.peek() {
            Some(b'{') => {
                self.pos += 1;
                while let Some(b'"') = self.peek() {
                    let at = self.pos;
                    let key = self.string();
                    path.push(key);
                    self.keys.push((path.clone(), at));
                    if self.peek() == Some(b':') {
                        self.pos += 1;
                    }
                    self.value(path);
                    path.pop();
                    if self.peek() == Some(b',') {
                        self.pos += 1;
                    }
                }
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                }
            }
            Some(b'[') => {
                self.pos += 1;
                let mut index = 0;
                while !matches!(self.peek(), None | Some(b']')) {
                    path.push(format!("[{index}]"));
                    let before = self.pos;
                    self.value(path);
                    path.pop();
                    index += 1;
                    if self.peek() == Some(b',') {
                        self.pos += 1;
                    } else if self.pos == before {
                        break;
                    }
                }
                if self.peek() == Some(b']') {
                    self.pos += 1;
                }
            }
            Some(b'"') => {
                self.string();
            }
            Some(_) => {
                while self
                    .text
                    .get(self.pos)
                    .is_some_and(|b| !b",}] \t\r\n".contains(b))
                {
                    self.pos += 1;
                }
            }
            None => {}
        }
    }

    /// Reads a string starting at its opening quote; returns its decoded text.
    fn string(&mut self) -> String {
        let start = self.pos;
        self.pos += 1;
        let mut escaped = false;
        while let Some(&b) = self.text.get(self.pos) {
            self.pos += 1;
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => break,
                _ => {}
            }
        }
        let raw = &self.text[start..self.pos];
        serde_json::from_slice(raw).unwrap_or_else(|_| String::from_utf8_lossy(raw).into_owned())
    }
}

// ---------------------------------------------------------------------------------------------
// JSONC -> JSON, keeping every byte where it was so serde_json's lines and columns still point
// into the person's file.

mod jsonc {
    use super::*;

    /// Comments and trailing commas become spaces; newlines stay. `Err((offset, message))`.
    pub(super) fn to_json(input: &[u8]) -> Result<Vec<u8>, (usize, &'static str)> {
        let mut out = Vec::with_capacity(input.len());
        // `#` is not a comment in JSONC; leave it to serde_json to reject.
        if CommentSettings::c_style()
            .strip_comments(input)
            .read_to_end(&mut out)
            .is_err()
        {
            return Err(comment_error(input));
        }
        debug_assert_eq!(out.len(), input.len());
        // json_comments blanks the newlines inside a /* block */ too; put them back, or every
        // line number after a multi-line comment would be off.
        for (o, i) in out.iter_mut().zip(input) {
            if matches!(i, b'\n' | b'\r') {
                *o = *i;
            }
        }
        // A UTF-8 byte-order mark, as Windows editors write it.
        if out.starts_with(b"\xEF\xBB\xBF") {
            out[..3].fill(b' ');
        }
        blank_trailing_commas(&mut out);
        Ok(out)
    }

    /// VS Code accepts `[1, 2,]` and `{"a": 1,}`. json_comments 0.2 has no option for that and
    /// serde_json none either, so: a comma (outside strings) followed only by whitespace and
    /// then `]` or `}` becomes a space. Comments are already spaces by now.
    fn blank_trailing_commas(text: &mut [u8]) {
        let mut in_string = false;
        let mut escaped = false;
        for i in 0..text.len() {
            let b = text[i];
            if in_string {
                match b {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' => in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b',' => {
                    let next = text[i + 1..].iter().find(|b| !b.is_ascii_whitespace());
                    if matches!(next, Some(b'}' | b']')) {
                        text[i] = b' ';
                    }
                }
                _ => {}
            }
        }
    }

    /// json_comments reports a bad comment without a position; find it by feeding it one byte
    /// at a time (only on this error path; config files are small).
    fn comment_error(input: &[u8]) -> (usize, &'static str) {
        struct OneByte<'a>(&'a [u8]);
        impl Read for OneByte<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                match (self.0.split_first(), buf.first_mut()) {
                    (Some((b, rest)), Some(slot)) => {
                        *slot = *b;
                        self.0 = rest;
                        Ok(1)
                    }
                    _ => Ok(0),
                }
            }
        }
        let mut strip = CommentSettings::c_style().strip_comments(OneByte(input));
        let mut consumed = 0;
        let mut byte = [0u8; 1];
        loop {
            match strip.read(&mut byte) {
                Ok(0) => return (input.len(), "the file ends inside a comment"),
                Ok(_) => consumed += 1,
                Err(_) if consumed >= input.len() => {
                    return (
                        input.len().saturating_sub(1),
                        "the file ends inside a /* comment */ or after a `/`",
                    );
                }
                // The byte that failed follows a `/` that starts no comment.
                Err(_) => {
                    return (
                        consumed.saturating_sub(1),
                        "`/` here starts no comment (use // or /* */)",
                    );
                }
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::to_json;

        #[test]
        fn keeps_every_byte_and_line_in_place() {
            let input = "{\n  // a comment, with a comma,\n  \"a\": [1, 2,], /* a\nblock */\n  \"b\": \"x, }\",\n}\n";
            let out = to_json(input.as_bytes()).unwrap();
            assert_eq!(out.len(), input.len());
            let out = String::from_utf8(out).unwrap();
            assert_eq!(out.lines().count(), input.lines().count());
            let value: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert_eq!(value, serde_json::json!({"a": [1, 2], "b": "x, }"}));
        }

        #[test]
        fn a_stray_slash_is_located() {
            let input = b"{\n  \"a\": 1 / 2\n}";
            let (offset, message) = to_json(input).unwrap_err();
            assert_eq!(input[offset], b'/', "{message}");
            let (offset, _) = to_json(b"{ /* never closed\n").unwrap_err();
            assert_eq!(offset, 17);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_index_finds_nested_keys_in_order() {
        let text = br#"{"a": {"x": 1, "y": [ {"z": "\"q"} ], "x": 2}, "b\u0041": true}"#;
        let keys = KeyIndex::build(text);
        assert_eq!(keys.find(&["a", "x"], 0), Some(7));
        assert_eq!(keys.find(&["a", "x"], 1), Some(38));
        assert_eq!(keys.find(&["a", "y", "[0]", "z"], 0), Some(23));
        assert!(keys.find(&["bA"], 0).is_some());
        assert_eq!(keys.children(&["a"], 0), ["x", "y", "x"]);
    }

    #[test]
    fn positions_are_one_based() {
        let lines = Lines::new(b"ab\ncd\n");
        assert_eq!(lines.position(0), (1, 1));
        assert_eq!(lines.position(1), (1, 2));
        assert_eq!(lines.position(3), (2, 1));
        assert_eq!(lines.position(6), (3, 1));
    }

    #[test]
    fn sse_is_recognised_by_path() {
        assert!(url_path_ends_in_sse("https://x.example/sse"));
        assert!(url_path_ends_in_sse("https://x.example/mcp/sse/?k=1"));
        assert!(!url_path_ends_in_sse("https://x.example/mcp"));
        assert!(!url_path_ends_in_sse("https://x.example/mcp?transport=sse"));
    }
}
