//! Where other MCP clients keep their config files on this machine, for a first run to offer
//! them: Claude Desktop, VS Code (its user `mcp.json`) and Cursor. Only files `import_file`
//! reads are named (VS Code's `settings.json` keeps its servers under a key it does not read).

use std::path::{Path, PathBuf};

use serde::Serialize;

/// The client a config file belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum ConfigApp {
    ClaudeDesktop,
    VsCode,
    VsCodeInsiders,
    Cursor,
}

/// A config file found on this machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct FoundConfig {
    pub app: ConfigApp,
    pub path: PathBuf,
}

/// Where each client keeps its file, from the platform's config folder (`~/.config` on Linux,
/// `~/Library/Application Support` on macOS, `%APPDATA%` on Windows) and the home folder.
fn candidates(config: &Path, home: &Path) -> Vec<(ConfigApp, PathBuf)> {
    vec![
        (
            ConfigApp::ClaudeDesktop,
            config.join("Claude").join("claude_desktop_config.json"),
        ),
        (
            ConfigApp::VsCode,
            config.join("Code").join("User").join("mcp.json"),
        ),
        (
            ConfigApp::VsCodeInsiders,
            config.join("Code - Insiders").join("User").join("mcp.json"),
        ),
        (ConfigApp::Cursor, home.join(".cursor").join("mcp.json")),
    ]
}

/// The files of [`candidates`] that exist under these folders. Blocking (it looks at files).
pub fn found_configs_in(config: &Path, home: &Path) -> Vec<FoundConfig> {
    candidates(config, home)
        .into_iter()
        .filter(|(_, path)| path.is_file())
        .map(|(app, path)| FoundConfig { app, path })
        .collect()
}

/// The config files of Claude Desktop, VS Code and Cursor on this machine. Blocking.
pub fn found_configs() -> Vec<FoundConfig> {
    match directories::BaseDirs::new() {
        Some(dirs) => found_configs_in(dirs.config_dir(), dirs.home_dir()),
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_only_the_files_that_are_there() {
        let root = tempfile::tempdir().unwrap();
        let (config, home) = (root.path().join("config"), root.path().join("home"));
        assert!(found_configs_in(&config, &home).is_empty());
        let claude = config.join("Claude/claude_desktop_config.json");
        let cursor = home.join(".cursor/mcp.json");
        for file in [&claude, &cursor] {
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, "{\"mcpServers\": {}}").unwrap();
        }
        // A folder where a file is expected is not a config file.
        std::fs::create_dir_all(config.join("Code/User/mcp.json")).unwrap();
        assert_eq!(
            found_configs_in(&config, &home),
            [
                FoundConfig {
                    app: ConfigApp::ClaudeDesktop,
                    path: claude
                },
                FoundConfig {
                    app: ConfigApp::Cursor,
                    path: cursor
                },
            ]
        );
    }
}
