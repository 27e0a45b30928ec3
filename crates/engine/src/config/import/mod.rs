//! Import of other clients' config files: Claude Desktop (`claude_desktop_config.json`), Cursor
//! (`~/.cursor/mcp.json`) and VS Code (`.vscode/mcp.json`, JSON with comments).
//!
//! The point of this module is its errors: a file that cannot be imported yields a
//! [`ConfigError`] naming the file, the 1-based line and the field path
//! (`mcpServers.github.args`), so a person can go straight to the mistake. Nothing here stores
//! anything; the caller shows the [`ImportPlan`] and stores it as a whole.

mod jsonc;
mod positions;
mod raw;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use super::{ConfigError, ServerDef, TransportDef};
use positions::{KeyIndex, Lines};
use raw::{Args, ENTRY_KEYS, Entries, EnvValue, Obj, RawEntry, RawInput, parse};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_is_recognised_by_path() {
        assert!(url_path_ends_in_sse("https://x.example/sse"));
        assert!(url_path_ends_in_sse("https://x.example/mcp/sse/?k=1"));
        assert!(!url_path_ends_in_sse("https://x.example/mcp"));
        assert!(!url_path_ends_in_sse("https://x.example/mcp?transport=sse"));
    }
}
