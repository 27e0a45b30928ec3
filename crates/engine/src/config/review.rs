//! What a local server runs, shown in full before a server the person did not type in
//! themselves first starts: the command, its arguments, every env variable and its value (only
//! those whose name says they hold a secret are masked, and never one that changes what runs),
//! and the working directory, with a warning for each env variable that changes what runs. A
//! fingerprint of the whole plan makes the person's "yes" apply to exactly what they saw.

use std::path::PathBuf;

use serde::Serialize;

use super::{MASK, ServerDef, TransportDef};

/// What a stdio server gets from Patchbay's own environment, said wherever a plan is shown.
pub const INHERITED_ENV: &str =
    "It also gets Patchbay's own environment, without Patchbay's own PATCHBAY_* variables.";

/// Env variables that change which code runs or how: a preload, a search path, interpreter
/// and runtime options, hooks, where a package runner fetches from, what git or docker talks
/// to, where programs look for their configuration, proxies and trusted certificates. Names
/// ending in `*` are prefixes. Compared without regard to case, as Windows does. (Not a proof
/// that others are harmless: every value but a secret's is shown anyway.)
const CHANGES_WHAT_RUNS: &[&str] = &[
    "NODE_*",
    "NPM_CONFIG_*",
    "YARN_*",
    "BUN_*",
    "DENO_*",
    "ELECTRON_*",
    "LD_*",
    "DYLD_*",
    "PATH",
    "PATHEXT",
    "PYTHON*",
    "PIP_*",
    "UV_*",
    "PIPX_*",
    "CONDA_*",
    "VIRTUAL_ENV",
    "PERL5OPT",
    "PERL5LIB",
    "PERLLIB",
    "RUBYOPT",
    "RUBYLIB",
    "GEM_*",
    "BUNDLE_*",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "JAVA_HOME",
    "CLASSPATH",
    "DOTNET_*",
    "CORECLR_*",
    "COR_PROFILER*",
    "GCONV_PATH",
    "LUA_INIT*",
    "LUA_PATH*",
    "LUA_CPATH*",
    "PHPRC",
    "PHP_INI_SCAN_DIR",
    "BASH_ENV",
    "BASH_FUNC_*",
    "ENV",
    "ZDOTDIR",
    "SHELL",
    "SHELLOPTS",
    "IFS",
    "PROMPT_COMMAND",
    "HOME",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "TMPDIR",
    "GIT_*",
    "DOCKER_*",
    "CONTAINER_HOST",
    "KUBECONFIG",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "GOFLAGS",
    "GOPROXY",
    "GOPATH",
    "RUSTFLAGS",
    "RUSTC_WRAPPER",
    "CARGO_*",
];

/// Name parts that say a variable holds a secret (`GITHUB_PERSONAL_ACCESS_TOKEN`, `API_KEY`,
/// `DB_PASSWORD`): its value is masked in a plan until the person asks to see it.
const SECRET_WORDS: &[&str] = &[
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "PASS",
    "PASSPHRASE",
    "KEY",
    "APIKEY",
    "AUTH",
    "AUTHORIZATION",
    "CREDENTIAL",
    "CREDENTIALS",
    "COOKIE",
    "SESSION",
    "PRIVATE",
    "PAT",
    "DSN",
    "SIGNATURE",
];

/// Whether `name` says its value is a secret (a word of it, split at `_` and `-`, is one of
/// [`SECRET_WORDS`], or it ends in one run together, as in `GITHUBTOKEN`).
pub fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper
        .split(['_', '-'])
        .any(|word| SECRET_WORDS.contains(&word))
        || ["TOKEN", "SECRET", "PASSWORD", "APIKEY"]
            .iter()
            .any(|w| upper.ends_with(w))
}

/// Whether setting `name` changes what code a program runs.
pub fn changes_what_runs(name: &str) -> bool {
    let name = name.to_ascii_uppercase();
    CHANGES_WHAT_RUNS.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == *p,
    })
}

/// One env variable as a plan shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct EnvEntry {
    pub name: String,
    /// The value, or [`MASK`] when its name says it is a secret and it was not asked for.
    pub value: String,
    /// It changes what runs: its value is always shown, with a warning.
    pub changes_what_runs: bool,
}

/// Exactly what starting a local server runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct LaunchPlan {
    pub server: String,
    pub command: String,
    pub args: Vec<String>,
    pub env: Vec<EnvEntry>,
    pub cwd: Option<PathBuf>,
    /// What the person should weigh before saying yes.
    pub warnings: Vec<String>,
    /// What it gets besides `env` ([`INHERITED_ENV`]).
    pub inherits: String,
    /// A fingerprint of everything above with every value (SHA-256, hex): a confirmation
    /// carries it, so it applies to exactly the plan the person saw.
    pub digest: String,
}

impl ServerDef {
    /// What starting this server runs, from a definition with its secret values (see
    /// `secrets.rs`). Values whose names say they are secrets are masked unless `reveal`
    /// (never one that changes what runs). `None` for a remote server.
    pub fn launch_plan(&self, reveal: bool) -> Option<LaunchPlan> {
        let TransportDef::Stdio {
            command,
            args,
            env,
            cwd,
        } = &self.transport
        else {
            return None;
        };
        let mut warnings = Vec::new();
        let entries = env
            .iter()
            .map(|(name, value)| {
                let changes = changes_what_runs(name);
                if changes {
                    warnings.push(format!(
                        "{name} changes which code runs or how; make sure you expect {name}={value}"
                    ));
                }
                EnvEntry {
                    name: name.clone(),
                    value: if reveal || changes {
                        value.clone()
                    } else {
                        MASK.to_string()
                    },
                    changes_what_runs: changes,
                }
            })
            .collect();
        if !command.contains('/') && !command.contains('\\') {
            warnings.push(format!(
                "'{command}' is looked up on PATH: the first program of that name runs"
            ));
        }
        let digest = {
            use sha2::Digest;
            let whole = serde_json::json!([command, args, env, cwd]);
            sha2::Sha256::digest(whole.to_string().as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        };
        Some(LaunchPlan {
            server: self.name.clone(),
            command: command.clone(),
            args: args.clone(),
            env: entries,
            cwd: cwd.clone(),
            warnings,
            inherits: INHERITED_ENV.to_string(),
            digest,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_changing_names_are_recognised_in_any_case_and_by_prefix() {
        for yes in [
            "NODE_OPTIONS",
            "node_options",
            "LD_PRELOAD",
            "DYLD_INSERT_LIBRARIES",
            "PATH",
            "npm_config_registry",
            "UV_INDEX_URL",
        ] {
            assert!(changes_what_runs(yes), "{yes}");
        }
        for no in ["GITHUB_TOKEN", "DEBUG", "PATHS_TO_SCAN", "HOME_DIR"] {
            assert!(!changes_what_runs(no), "{no}");
        }
    }

    #[test]
    fn a_plan_shows_everything_that_runs_and_masks_the_rest() {
        let def = ServerDef::new(
            "x",
            TransportDef::Stdio {
                command: "npx".into(),
                args: vec!["-y".into(), "pkg".into()],
                env: [
                    (
                        "NODE_OPTIONS".to_string(),
                        "--import=data:text/javascript,evil()".to_string(),
                    ),
                    ("API_KEY".to_string(), "k-123".to_string()),
                ]
                .into(),
                cwd: Some("/srv".into()),
            },
        );
        let plan = def.launch_plan(false).unwrap();
        assert_eq!(plan.command, "npx");
        assert_eq!(plan.cwd.as_deref(), Some(std::path::Path::new("/srv")));
        let by_name = |n: &str| plan.env.iter().find(|e| e.name == n).unwrap().clone();
        assert_eq!(by_name("API_KEY").value, MASK);
        assert_eq!(
            by_name("NODE_OPTIONS").value,
            "--import=data:text/javascript,evil()"
        );
        assert!(
            plan.warnings.iter().any(|w| w.contains("NODE_OPTIONS")),
            "{:?}",
            plan.warnings
        );
        assert!(
            plan.warnings.iter().any(|w| w.contains("PATH")),
            "{:?}",
            plan.warnings
        );
        assert_eq!(
            def.launch_plan(true)
                .unwrap()
                .env
                .iter()
                .find(|e| e.name == "API_KEY")
                .unwrap()
                .value,
            "k-123"
        );
    }
}
