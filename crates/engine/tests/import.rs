//! Importing Claude Desktop, Cursor and VS Code config files, and what a bad file says.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use patchbay_engine::TransportDef;
use patchbay_engine::config::{ConfigError, ImportPlan, ServerDef, export_claude, import_file};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import")
        .join(name)
}

fn import(name: &str) -> ImportPlan {
    import_file(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn import_err(name: &str) -> ConfigError {
    match import_file(&fixture(name)) {
        Ok(plan) => panic!("{name} imported: {plan:?}"),
        Err(e) => e,
    }
}

/// Imports `text` written to a temporary file with the given name.
fn import_text(
    file_name: &str,
    text: &str,
) -> (tempfile::TempDir, Result<ImportPlan, ConfigError>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file_name);
    std::fs::write(&path, text).unwrap();
    let result = import_file(&path);
    (dir, result)
}

fn text_err(text: &str) -> ConfigError {
    match import_text("mcp.json", text) {
        (_, Ok(plan)) => panic!("imported: {plan:?}"),
        (_, Err(e)) => e,
    }
}

fn stdio(
    name: &str,
    command: &str,
    args: &[&str],
    env: &[(&str, &str)],
    cwd: Option<&str>,
) -> ServerDef {
    ServerDef::new(
        name,
        TransportDef::Stdio {
            command: command.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            cwd: cwd.map(PathBuf::from),
        },
    )
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn http(name: &str, url: &str, headers: &[(&str, &str)]) -> ServerDef {
    ServerDef::new(
        name,
        TransportDef::Http {
            url: url.into(),
            headers: map(headers),
        },
    )
}

fn sse(name: &str, url: &str, headers: &[(&str, &str)]) -> ServerDef {
    ServerDef::new(
        name,
        TransportDef::Sse {
            url: url.into(),
            headers: map(headers),
        },
    )
}

fn disabled(mut def: ServerDef) -> ServerDef {
    def.enabled = false;
    def
}

// --- Good files -------------------------------------------------------------------------------

#[test]
fn claude_desktop_config() {
    let plan = import("claude_desktop_config.json");
    assert_eq!(
        plan.servers,
        [
            stdio(
                "filesystem",
                "npx",
                &[
                    "-y",
                    "@modelcontextprotocol/server-filesystem",
                    "/Users/ada/Desktop",
                    "/Users/ada/Downloads"
                ],
                &[],
                None
            ),
            stdio(
                "github",
                "docker",
                &[
                    "run",
                    "-i",
                    "--rm",
                    "-e",
                    "GITHUB_PERSONAL_ACCESS_TOKEN",
                    "ghcr.io/github/github-mcp-server"
                ],
                &[("GITHUB_PERSONAL_ACCESS_TOKEN", "ghp_exampleexampleexample")],
                None
            ),
            disabled(stdio(
                "sqlite",
                "uvx",
                &["mcp-server-sqlite", "--db-path", "/Users/ada/test.db"],
                &[],
                Some("/Users/ada")
            )),
            sse("linear", "https://mcp.linear.app/sse", &[]),
            http(
                "notion",
                "https://mcp.notion.com/mcp",
                &[("Authorization", "Bearer ntn_example")]
            ),
        ]
    );
    // Claude Desktop's own settings in the same file are not ours to warn about.
    assert_eq!(plan.warnings, Vec::<String>::new());
}

#[test]
fn vscode_file_with_comments_trailing_commas_and_inputs() {
    let plan = import("vscode_mcp.json");
    assert_eq!(
        plan.servers,
        [
            stdio(
                "Perplexity",
                "npx",
                &["-y", "server-perplexity-ask"],
                &[
                    ("PERPLEXITY_API_KEY", "${input:perplexity-key}"),
                    ("PORT", "8080")
                ],
                None
            ),
            stdio(
                "fetch",
                "uvx",
                &["mcp-server-fetch"],
                &[],
                Some("${workspaceFolder}")
            ),
            http(
                "github",
                "https://api.githubcopilot.com/mcp/",
                &[("Authorization", "Bearer ${env:GITHUB_TOKEN}")]
            ),
            sse("legacy", "http://localhost:3001/sse", &[]),
        ]
    );
    assert_eq!(
        plan.warnings,
        [
            "server 'Perplexity': `servers.Perplexity.env.PERPLEXITY_API_KEY` contains ${input:perplexity-key} \
             (the input \"Perplexity API Key\", a secret, which VS Code asks for when it starts the server); \
             it is imported as written, so edit this value after import",
            "server 'fetch': `servers.fetch.envFile` (${workspaceFolder}/.env) is not read by Patchbay; \
             copy the variables the server needs into `env` after import",
            "server 'fetch': `servers.fetch.cwd` contains ${workspaceFolder} (a variable only VS Code can fill in); \
             it is imported as written, so edit this value after import",
            "server 'github': `servers.github.headers.Authorization` contains ${env:GITHUB_TOKEN} \
             (the environment variable GITHUB_TOKEN, which Patchbay does not expand); \
             it is imported as written, so edit this value after import",
        ]
    );
}

#[test]
fn cursor_file_with_url_servers() {
    let plan = import("cursor_mcp.json");
    assert_eq!(
        plan.servers,
        [
            stdio(
                "browser-tools",
                "npx",
                &["@agentdeskai/browser-tools-mcp@1.2.0"],
                &[],
                None
            ),
            http(
                "context7",
                "https://mcp.context7.com/mcp",
                &[("CONTEXT7_API_KEY", "ctx7_example")]
            ),
            sse("playwright-sse", "http://localhost:8931/sse", &[]),
            sse("events", "https://example.com/events", &[]),
            http("streamable", "https://example.com/mcp", &[]),
            stdio("with-extras", "node", &["server.js"], &[], None),
        ]
    );
    assert_eq!(
        plan.warnings,
        [
            "server 'with-extras': ignored `mcpServers.with-extras.autoApprove`, which Patchbay does not use",
            "server 'with-extras': ignored `mcpServers.with-extras.timeout`, which Patchbay does not use",
        ]
    );
}

#[test]
fn an_empty_server_list_imports_nothing_with_a_warning() {
    let (_dir, plan) = import_text("claude_desktop_config.json", r#"{"mcpServers": {}}"#);
    let plan = plan.unwrap();
    assert!(plan.servers.is_empty());
    assert_eq!(
        plan.warnings,
        ["`mcpServers` has no servers; nothing to import from it"]
    );
}

#[test]
fn fields_that_do_not_fit_the_transport_are_ignored_with_a_warning() {
    let (_dir, plan) = import_text(
        "mcp.json",
        r#"{"mcpServers": {
            "remote": {"url": "https://x.example/mcp", "env": {"A": "b"}},
            "local": {"command": "node", "headers": {"X": "y"}}
        }}"#,
    );
    let plan = plan.unwrap();
    assert_eq!(
        plan.servers,
        [
            http("remote", "https://x.example/mcp", &[]),
            stdio("local", "node", &[], &[], None)
        ]
    );
    assert_eq!(
        plan.warnings,
        [
            "server 'remote': ignored `mcpServers.remote.env`; it applies only to servers started with `command`",
            "server 'local': ignored `mcpServers.local.headers`; headers apply only to remote servers",
        ]
    );
}

// --- Export ------------------------------------------------------------------------------------

fn by_name(mut defs: Vec<ServerDef>) -> Vec<ServerDef> {
    defs.sort_by(|a, b| a.name.cmp(&b.name));
    defs
}

fn round_trip(servers: &[ServerDef]) -> ImportPlan {
    let exported = export_claude(servers, true).document;
    let (_dir, plan) = import_text(
        "claude_desktop_config.json",
        &serde_json::to_string_pretty(&exported).unwrap(),
    );
    plan.unwrap()
}

#[test]
fn export_then_import_gives_the_same_servers() {
    for name in [
        "claude_desktop_config.json",
        "cursor_mcp.json",
        "vscode_mcp.json",
    ] {
        let original = import(name).servers;
        let plan = round_trip(&original);
        // The export is a JSON object: servers come back in name order.
        assert_eq!(by_name(plan.servers), by_name(original), "{name}");
    }

    let all_kinds = vec![
        stdio(
            "a-local",
            "/usr/bin/env",
            &["python3", "-m", "srv"],
            &[("K", "v"), ("EMPTY", "")],
            Some("/srv"),
        ),
        disabled(stdio("b-off", "x", &[], &[], None)),
        http(
            "c-http",
            "https://x.example/mcp",
            &[("Authorization", "Bearer t")],
        ),
        // An SSE server whose URL does not say so: the explicit type carries it.
        disabled(sse("d-sse", "https://x.example/events", &[])),
    ];
    let plan = round_trip(&all_kinds);
    assert_eq!(plan.servers, all_kinds);
    assert_eq!(plan.warnings, Vec::<String>::new());
}

// --- Bad files: each error names the file, the line, the field ----------------------------------

#[test]
fn truncated_json_names_the_file_and_the_line_where_it_stops() {
    let err = import_err("truncated.json");
    let ConfigError::Parse {
        ref file,
        line,
        field: ref f,
        ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!(file, &fixture("truncated.json"));
    assert_eq!(line, 5, "{err}");
    assert_eq!(f, &None);
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("{}:5:", fixture("truncated.json").display())),
        "{message}"
    );
    assert!(message.contains("truncated.json:5:"), "{message}");
    assert!(message.contains("EOF while parsing"), "{message}");
}

#[test]
fn args_as_a_string_names_the_field_and_its_line() {
    let err = import_err("args_string.json");
    let ConfigError::Parse {
        line,
        field: Some(ref field),
        ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!(field, "mcpServers.memory.args");
    assert_eq!(line, 9);
    let message = err.to_string();
    assert!(message.contains("args_string.json:9:"), "{message}");
    assert!(message.contains("field `mcpServers.memory.args`: invalid type: string \"-y @modelcontextprotocol/server-memory\", expected a list of strings"), "{message}");
}

#[test]
fn a_server_with_neither_command_nor_url() {
    let err = import_err("no_command.json");
    let ConfigError::Invalid {
        ref file,
        line,
        ref field,
        ref message,
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!(file, &fixture("no_command.json"));
    assert_eq!((line, field.as_str()), (7, "mcpServers.broken"));
    assert!(message.contains("neither `command`"), "{message}");
    assert!(
        err.to_string()
            .contains("no_command.json:7: field `mcpServers.broken`: has neither"),
        "{err}"
    );
}

#[test]
fn a_bad_url_points_at_the_url() {
    let err = import_err("bad_url.json");
    let ConfigError::Invalid {
        line,
        ref field,
        ref message,
        ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!((line, field.as_str()), (7, "mcpServers.remote.url"));
    assert!(
        message.contains("\"mcp.example.com/mcp\" is not a URL"),
        "{message}"
    );
    assert!(err.to_string().contains("bad_url.json:7:"), "{err}");
}

#[test]
fn an_empty_object_is_an_unknown_format() {
    let err = import_err("empty.json");
    assert!(
        matches!(&err, ConfigError::UnknownFormat { file } if file == &fixture("empty.json")),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("empty.json: no servers found"),
        "{err}"
    );
}

#[test]
fn an_unreadable_file_is_io() {
    let err = import_file(&fixture("does-not-exist.json")).unwrap_err();
    assert!(matches!(err, ConfigError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("does-not-exist.json"), "{err}");
}

fn invalid_at(err: &ConfigError) -> (usize, &str, &str) {
    match err {
        ConfigError::Invalid {
            line,
            field,
            message,
            ..
        } => (*line, field.as_str(), message.as_str()),
        other => panic!("not Invalid: {other:?}"),
    }
}

fn parse_at(err: &ConfigError) -> (usize, Option<&str>, &str) {
    match err {
        ConfigError::Parse {
            line,
            field,
            message,
            ..
        } => (*line, field.as_deref(), message.as_str()),
        other => panic!("not Parse: {other:?}"),
    }
}

fn where_invalid(err: &ConfigError) -> (usize, &str) {
    let (line, field, _) = invalid_at(err);
    (line, field)
}

fn where_parse(err: &ConfigError) -> (usize, Option<&str>) {
    let (line, field, _) = parse_at(err);
    (line, field)
}

#[test]
fn semantic_errors_point_at_the_entry_or_the_field() {
    // Both command and url.
    let err = text_err(
        "{\n \"mcpServers\": {\n  \"both\": {\n   \"command\": \"x\",\n   \"url\": \"https://x.example\"\n  }\n }\n}",
    );
    let (line, field, message) = invalid_at(&err);
    assert_eq!((line, field), (3, "mcpServers.both"));
    assert!(
        message.starts_with("has both `command` and `url`"),
        "{message}"
    );

    // An unknown type.
    let err = text_err(
        "{\"servers\": {\n\"ws\": {\n\"type\": \"websocket\",\n\"url\": \"wss://x.example\"}}}",
    );
    let (line, field, message) = invalid_at(&err);
    assert_eq!((line, field), (3, "servers.ws.type"));
    assert!(
        message.contains("\"websocket\" is not a transport"),
        "{message}"
    );

    // A type that contradicts the fields.
    let err = text_err(
        "{\"servers\": {\"s\": {\n\"url\": \"https://x.example\",\n\"type\": \"stdio\"}}}",
    );
    assert_eq!(where_invalid(&err), (3, "servers.s.type"));

    // A stdio type without a command: no such key, so the entry's line.
    let err = text_err("{\"servers\": {\n\n\"s\": {\"type\": \"stdio\"}}}");
    assert_eq!(where_invalid(&err), (3, "servers.s.command"));

    // What ServerDef::validate catches, mapped to the file's field names.
    let err = text_err("{\"mcpServers\": {\"e\": {\n\"command\": \"  \"}}}");
    assert_eq!(where_invalid(&err), (2, "mcpServers.e.command"));
    let err = text_err("{\"mcpServers\": {\"f\": {\n\"url\": \"ftp://x.example/mcp\"}}}");
    let (line, field, message) = invalid_at(&err);
    assert_eq!((line, field), (2, "mcpServers.f.url"));
    assert!(
        message.contains("must start with http:// or https://"),
        "{message}"
    );
    let err = text_err(
        "{\"mcpServers\": {\"h\": {\"url\": \"https://x.example\",\n\n\"headers\": {\"bad name\": \"v\"}}}}",
    );
    assert_eq!(where_invalid(&err), (3, "mcpServers.h.headers"));
    let err =
        text_err("{\"mcpServers\": {\"v\": {\"command\": \"x\",\n\"env\": {\"A=B\": \"v\"}}}}");
    assert_eq!(where_invalid(&err), (2, "mcpServers.v.env"));
    let err = text_err("{\"mcpServers\": {\n\"\": {\"command\": \"x\"}}}");
    let (line, field, message) = invalid_at(&err);
    assert_eq!((line, field), (2, "mcpServers."));
    assert!(message.starts_with("the server name is empty"), "{message}");
}

#[test]
fn a_name_defined_twice_points_at_the_second() {
    let err = text_err(
        "{\"mcpServers\": {\n\"twin\": {\"command\": \"a\"},\n\"other\": {\"command\": \"b\"},\n\"twin\": {\"command\": \"c\"}\n}}",
    );
    let (line, field, message) = invalid_at(&err);
    assert_eq!((line, field), (4, "mcpServers.twin"));
    assert!(message.contains("already defined at line 2"), "{message}");
}

#[test]
fn wrong_shapes_are_parse_errors_with_a_path() {
    let err = text_err("[\n{\"mcpServers\": {}}\n]");
    let (line, field, message) = parse_at(&err);
    assert_eq!((line, field), (1, None));
    assert!(
        message.contains("expected a JSON object with `mcpServers` or `servers`"),
        "{message}"
    );

    let err = text_err("{\n\"mcpServers\": [\"npx\"]\n}");
    let (line, field, message) = parse_at(&err);
    assert_eq!((line, field), (2, Some("mcpServers")));
    assert!(
        message.contains("expected an object with one entry per server"),
        "{message}"
    );

    let err = text_err("{\"mcpServers\": {\n\"x\": [\"npx\", \"-y\"]\n}}");
    let (line, field, _) = parse_at(&err);
    assert_eq!((line, field), (2, Some("mcpServers.x")));

    let err = text_err(
        "{\"mcpServers\": {\"x\": {\"command\": \"npx\",\n\"env\": {\n\"DEBUG\": true}}}}",
    );
    assert_eq!(where_parse(&err), (3, Some("mcpServers.x.env.DEBUG")));

    let err =
        text_err("{\"mcpServers\": {\"x\": {\"command\": \"npx\",\n\"args\": [\"a\",\n 3]}}}");
    assert_eq!(where_parse(&err), (3, Some("mcpServers.x.args[1]")));

    let err = text_err("{\"servers\": {}, \"inputs\": [{\n\"description\": \"no id\"}]}");
    assert_eq!(parse_at(&err).1, Some("inputs[0]"));
}

#[test]
fn syntax_errors_keep_their_lines_through_comments() {
    // A multi-line block comment before the mistake must not shift the line.
    let err = text_err(
        "{\n/* one\n two\n three */\n\"servers\": {\n\"a\": {\"command\": \"x\"}\n\"b\": {}\n}}",
    );
    let (line, field, message) = parse_at(&err);
    assert_eq!((line, field), (7, None));
    assert!(message.contains("expected `,` or `}`"), "{message}");

    let err = text_err("{\n\"servers\": {} / nope\n}");
    let (line, _, message) = parse_at(&err);
    assert_eq!(line, 2);
    assert!(message.contains("starts no comment"), "{message}");

    let err = text_err("{\"servers\": {}}\n\n{\"again\": 1}");
    assert_eq!(parse_at(&err).0, 3);

    let err = text_err("");
    assert_eq!(parse_at(&err).0, 1);
}
