//! Each CLI command: open the hub, do one thing, shut every connection down cleanly.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use patchbay_engine::{
    Answer, BrowserMode, CallOutcome, CallReport, CallRequest, Event, Hub, HubError, HubOptions,
    KeyBackend, LaunchPlan, Login, SamplingAnswer, Secret, ServerDef, ServerState, TransportDef,
    check_url, form_defaults, now_ms, open_in_system_browser,
};
use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::output::Out;
use crate::{AddArgs, CallArgs, Cli, Command, ServersCommand, VaultCommand};

pub const OK: u8 = 0;
pub const CALL_FAILED: u8 = 1;
pub const USAGE: u8 = 2;
pub const CONNECTION: u8 = 3;

pub async fn run(cli: Cli) -> u8 {
    let out = Out { json: cli.json };
    let data_dir = match cli
        .data_dir
        .map(Ok)
        .unwrap_or_else(HubOptions::default_data_dir)
    {
        Ok(d) => d,
        Err(e) => {
            out.error(&e.to_string());
            return USAGE;
        }
    };
    let hub = match Hub::open(HubOptions::new(data_dir)).await {
        Ok(h) => h,
        Err(e) => {
            out.error(&e.to_string());
            return USAGE;
        }
    };
    let code = tokio::select! {
        code = dispatch(&hub, out, cli.command) => code,
        _ = tokio::signal::ctrl_c() => {
            out.error("interrupted");
            130
        }
    };
    // Every command ends here: connections closed, server processes gone.
    hub.shutdown().await;
    code
}

async fn dispatch(hub: &Hub, out: Out, command: Command) -> u8 {
    let result = match command {
        Command::Servers(cmd) => servers(hub, out, cmd).await,
        Command::Connect {
            name: Some(name), ..
        } => connect(hub, out, &name).await,
        Command::Connect { name: None, .. } => connect_all(hub, out).await,
        Command::Tools { name } => tools(hub, out, &name).await,
        Command::Catalog(cmd) => crate::catalog::run(hub, out, cmd).await,
        Command::Call(args) => call(hub, out, args).await,
        Command::Roots(args) => crate::roots::run(hub, out, args).await,
        Command::History { name, limit } => history(hub, out, &name, limit).await,
        Command::Login {
            name,
            browser,
            timeout,
        } => login(hub, out, &name, browser, timeout).await,
        Command::AuthStatus { name } => auth_status(hub, out, &name).await,
        Command::Logout { name } => logout(hub, out, &name).await,
        Command::Doctor => doctor(hub, out).await,
        Command::Vault(VaultCommand::Reset { yes }) => vault_reset(hub, out, yes).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            out.error(&e.to_string());
            match e {
                HubError::Unavailable(_) | HubError::Request { .. } | HubError::Login(_) => {
                    CONNECTION
                }
                _ => USAGE,
            }
        }
    }
}

async fn servers(hub: &Hub, out: Out, cmd: ServersCommand) -> Result<u8, HubError> {
    match cmd {
        ServersCommand::Add(args) => {
            let mut args = *args;
            let secret = args.client_secret.take();
            let def = match server_def(args) {
                Ok(d) => d,
                Err(message) => {
                    out.error(&message);
                    return Ok(USAGE);
                }
            };
            match secret {
                Some(secret) => {
                    hub.add_server_with_client_secret(def.clone(), Secret::new(secret))
                        .await?
                }
                None => hub.add_server(def.clone()).await?,
            }
            let shown = hub.server(&def.name)?;
            out.emit(json!({"event": "server_added", "server": shown}), || {
                format!("added '{}' ({})", shown.name, shown.transport_target())
            });
        }
        ServersCommand::List { show_secrets } => {
            for view in hub.servers().await? {
                let def = if show_secrets {
                    hub.reveal_server(&view.def.name).await?
                } else {
                    view.def.clone()
                };
                out.emit(
                    json!({"event": "server", "server": def, "state": view.state, "login": view.login}),
                    || server_line(&def, &view.login),
                );
            }
        }
        ServersCommand::Remove { name } => {
            hub.remove_server(&name).await?;
            out.emit(json!({"event": "server_removed", "server": name}), || {
                format!("removed '{name}'")
            });
        }
        ServersCommand::Import {
            file,
            dry_run,
            yes,
            show_secrets,
        } => {
            // What is added is exactly what was shown: the file is read once.
            let preview = hub.preview_import(&file, show_secrets).await?;
            for w in &preview.warnings {
                out.emit(json!({"event": "warning", "message": w}), || {
                    format!("warning: {w}")
                });
            }
            for server in &preview.servers {
                out.emit(tagged("would_add", server), || {
                    let mut text = format!(
                        "'{}' ({}){}",
                        server.def.name,
                        server.def.transport_target(),
                        if server.exists {
                            " — a server of this name exists already"
                        } else {
                            ""
                        }
                    );
                    if let Some(plan) = &server.launch {
                        text.push('\n');
                        text.push_str(&launch_text(plan));
                    }
                    text
                });
            }
            if dry_run {
                return Ok(OK);
            }
            let added = hub.apply_import(&preview.id, yes).await?;
            for def in &added {
                out.emit(json!({"event": "server_added", "server": def}), || {
                    format!(
                        "added '{}'{}",
                        def.name,
                        if def.enabled { "" } else { " (disabled)" }
                    )
                });
            }
            if !yes && !added.is_empty() {
                out.note(
                    "They were added disabled. Once you have read what each one runs, start it with `patchbay-cli servers enable NAME --yes` (which shows it again first).",
                );
            }
        }
        ServersCommand::Export { include_secrets } => {
            let export = hub.export_claude(include_secrets).await?;
            // Exact JSON either way, with nothing a terminal would act on.
            if out.json {
                println!("{}", crate::output::json_line(&export.document));
            } else {
                let pretty = serde_json::to_string_pretty(&export.document).unwrap_or_default();
                println!("{}", crate::output::json_safe(pretty));
            }
            if export.secrets_left_out > 0 {
                out.note(&format!(
                    "{} env and header values were left out (written as \"\"); --include-secrets includes them",
                    export.secrets_left_out
                ));
            }
        }
        ServersCommand::Enable {
            name,
            yes,
            show_secrets,
        } => {
            let def = hub.server(&name)?;
            if def.needs_review {
                let plan = hub.launch_plan(&name, show_secrets).await?;
                out.emit(tagged("launch_plan", &plan), || launch_text(&plan));
                if !yes {
                    out.error(&format!(
                        "'{name}' was imported and has not started yet; once you have read what it runs (above), start it with `patchbay-cli servers enable {name} --yes`"
                    ));
                    return Ok(USAGE);
                }
                hub.confirm_launch(&name, &plan.digest).await?;
            } else {
                hub.set_enabled(&name, true).await?;
            }
            out.emit(json!({"event": "server_enabled", "server": name}), || {
                format!("enabled '{name}'")
            });
        }
        ServersCommand::Disable { name } => {
            hub.set_enabled(&name, false).await?;
            out.emit(json!({"event": "server_disabled", "server": name}), || {
                format!("disabled '{name}'")
            });
        }
    }
    Ok(OK)
}

/// One server in `servers list`: name, transport, target, and what needs the person.
fn server_line(def: &ServerDef, login: &Login) -> String {
    let mut line = format!(
        "{}\t{}\t{}",
        def.name,
        def.transport.kind(),
        def.transport_target()
    );
    let secrets = match &def.transport {
        TransportDef::Stdio { env, .. } if !env.is_empty() => Some(("env", env)),
        TransportDef::Http { headers, .. } | TransportDef::Sse { headers, .. }
            if !headers.is_empty() =>
        {
            Some(("headers", headers))
        }
        _ => None,
    };
    if let Some((what, values)) = secrets {
        let pairs: Vec<String> = values.iter().map(|(k, v)| format!("{k}={v}")).collect();
        line.push_str(&format!("\t{what}: {}", pairs.join(" ")));
    }
    if let TransportDef::Unreadable { reason } = &def.transport {
        line.push_str(&format!("\tunreadable: {reason}"));
    }
    if def.needs_review {
        line.push_str("\t(imported, not started yet: `servers enable` shows what it runs)");
    } else if !def.enabled {
        line.push_str("\t(disabled)");
    }
    if let Login::NeedsLogin { reason } = login {
        line.push_str(&format!("\tneeds login: {reason}"));
    }
    line
}

/// What a local server runs, for a person to read before it first starts. Every piece comes
/// from a file someone else wrote: each is one line, its line breaks and tabs written out, so
/// none can fake a line of the plan or push a warning out of sight.
fn launch_text(plan: &LaunchPlan) -> String {
    let mut text = format!("    runs:  {}", shell_quoted(&plan.command));
    for arg in &plan.args {
        text.push(' ');
        text.push_str(&shell_quoted(arg));
    }
    text.push_str(&format!(
        "\n    in:    {}",
        plan.cwd
            .as_deref()
            .map(|c| one_line(&c.display().to_string()))
            .unwrap_or_else(|| "Patchbay's working directory".into())
    ));
    if plan.env.is_empty() {
        text.push_str("\n    env:   (none of its own)");
    }
    for e in &plan.env {
        text.push_str(&format!(
            "\n    env:   {}={}",
            one_line(&e.name),
            one_line(&e.value)
        ));
        if e.changes_what_runs {
            text.push_str("   <- changes what runs");
        }
    }
    text.push_str(&format!("\n    {}", plan.inherits));
    for w in &plan.warnings {
        text.push_str(&format!("\n    warning: {}", one_line(w)));
    }
    text
}

/// `text` on one line: line breaks, carriage returns and tabs written as `\n`, `\r`, `\t`
/// (the rest of what a terminal must not see is escaped when the line is printed).
fn one_line(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
        .replace('\t', "\\t")
}

/// An argument as a shell would need it, so the printed line is the command line (with
/// `$'...'` where it holds a line break or a tab, written out).
fn shell_quoted(arg: &str) -> String {
    if !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c))
    {
        arg.to_string()
    } else if arg.chars().any(|c| c.is_control()) {
        format!("$'{}'", one_line(arg).replace('\'', "\\'"))
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_cannot_fake_its_own_lines() {
        let plan = LaunchPlan {
            server: "x".into(),
            command: "npx\n    env:   SAFE=1".into(),
            args: vec!["-y".into(), "a b".into(), "c\nwarning: none".into()],
            env: vec![patchbay_engine::EnvEntry {
                name: "MODE".into(),
                value: "1\n    in:    /home".into(),
                changes_what_runs: false,
            }],
            cwd: None,
            warnings: vec![],
            inherits: "It also gets ...".into(),
            digest: String::new(),
        };
        let text = launch_text(&plan);
        assert_eq!(text.lines().count(), 4, "{text}");
        assert!(text.contains("$'npx\\n    env:   SAFE=1'"), "{text}");
        assert!(
            text.contains("'a b'") && text.contains("$'c\\nwarning: none'"),
            "{text}"
        );
        assert!(text.contains("MODE=1\\n    in:    /home"), "{text}");
    }
}

fn server_def(args: AddArgs) -> Result<ServerDef, String> {
    let transport = match (args.url, args.command.split_first()) {
        (Some(url), None) => {
            let mut headers = BTreeMap::new();
            for h in &args.headers {
                let (k, v) = h
                    .split_once(':')
                    .ok_or_else(|| format!("--header {h:?} must look like `Name: value`"))?;
                headers.insert(k.trim().to_string(), v.trim().to_string());
            }
            match args.transport.as_str() {
                "sse" => TransportDef::Sse { url, headers },
                _ => TransportDef::Http { url, headers },
            }
        }
        (None, Some((command, rest))) => {
            let mut env = BTreeMap::new();
            for e in &args.env {
                let (k, v) = e
                    .split_once('=')
                    .ok_or_else(|| format!("--env {e:?} must look like `NAME=value`"))?;
                env.insert(k.to_string(), v.to_string());
            }
            TransportDef::Stdio {
                command: command.clone(),
                args: rest.to_vec(),
                env,
                cwd: args.cwd,
            }
        }
        (None, None) => return Err("give either --url URL or `-- COMMAND ARGS...`".into()),
        (Some(_), Some(_)) => return Err("give either --url or a command, not both".into()),
    };
    let mut def = ServerDef::new(args.name, transport);
    def.enabled = !args.disabled;
    def.oauth_client_id = args.client_id;
    def.oauth_client_metadata_url = args.client_metadata_url;
    if let Some(t) = args.timeout {
        def.request_timeout_secs = t;
    }
    Ok(def)
}

fn state_line(out: Out, server: &str, state: &ServerState) {
    out.emit(
        serde_json::to_value(Event::State {
            server: server.to_string(),
            state: state.clone(),
        })
        .unwrap_or(Value::Null),
        || match state {
            ServerState::Error { message, .. } => format!("{server}: error: {message}"),
            other => format!("{server}: {}", other.name()),
        },
    );
}

/// Connects `name`, printing each state change; the result says whether it worked.
async fn connect_printing(hub: &Hub, out: Out, name: &str) -> Result<bool, HubError> {
    hub.server(name)?;
    let mut events = hub.subscribe();
    let printer = {
        let name = name.to_string();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(Event::State { server, state }) if server == name => {
                        state_line(out, &server, &state);
                        if !matches!(state, ServerState::Connecting) {
                            return;
                        }
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        })
    };
    let state = hub.connect_and_wait(name).await?;
    // The printer ends on the same final state; give it a moment to print it.
    let _ = tokio::time::timeout(Duration::from_secs(1), printer).await;
    Ok(state == ServerState::Connected)
}

async fn connect(hub: &Hub, out: Out, name: &str) -> Result<u8, HubError> {
    Ok(if connect_printing(hub, out, name).await? {
        OK
    } else {
        CONNECTION
    })
}

async fn connect_all(hub: &Hub, out: Out) -> Result<u8, HubError> {
    let started = Instant::now();
    let names: Vec<String> = hub
        .servers()
        .await?
        .into_iter()
        .filter(|v| v.def.enabled)
        .map(|v| v.def.name)
        .collect();
    let outcomes = futures::future::join_all(names.iter().map(|n| hub.connect_and_wait(n))).await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut failed = 0;
    for (name, outcome) in names.iter().zip(outcomes) {
        let state = outcome?;
        if state != ServerState::Connected {
            failed += 1;
        }
        state_line(out, name, &state);
    }
    out.emit(
        json!({"event": "connected_all", "count": names.len() - failed, "failed": failed, "elapsed_ms": elapsed_ms}),
        || format!("{} of {} servers connected in {elapsed_ms:.0} ms", names.len() - failed, names.len()),
    );
    Ok(if failed == 0 { OK } else { CONNECTION })
}

async fn tools(hub: &Hub, out: Out, name: &str) -> Result<u8, HubError> {
    if !connect_quietly(hub, out, name).await? {
        return Ok(CONNECTION);
    }
    for tool in hub.tools(name).await? {
        let value = serde_json::to_value(&tool).unwrap_or(Value::Null);
        let mut line = json!({"event": "tool", "server": name});
        if let (Some(line), Some(tool)) = (line.as_object_mut(), value.as_object()) {
            line.extend(tool.clone());
        }
        out.emit(line, || {
            format!(
                "{}\n    {}\n    input: {}",
                tool.name,
                tool.description
                    .as_deref()
                    .unwrap_or("")
                    .replace('\n', "\n    "),
                serde_json::to_string(&tool.input_schema).unwrap_or_default()
            )
        });
    }
    Ok(OK)
}

/// Connects for a command that needs the server; prints only a failure.
pub(crate) async fn connect_quietly(hub: &Hub, out: Out, name: &str) -> Result<bool, HubError> {
    match hub.connect_and_wait(name).await? {
        ServerState::Connected => Ok(true),
        state => {
            state_line(out, name, &state);
            Ok(false)
        }
    }
}

async fn call(hub: &Hub, out: Out, args: CallArgs) -> Result<u8, HubError> {
    let arguments = match args.args.as_deref().map(serde_json::from_str::<Value>) {
        None => None,
        Some(Ok(Value::Object(map))) => Some(map),
        Some(Ok(_)) => {
            out.error("--args must be a JSON object, like '{\"message\": \"hi\"}'");
            return Ok(USAGE);
        }
        Some(Err(e)) => {
            out.error(&format!("--args is not valid JSON: {e}"));
            return Ok(USAGE);
        }
    };
    if args.repeat == 0 || args.concurrency == 0 {
        out.error("--repeat and --concurrency must be at least 1");
        return Ok(USAGE);
    }
    if !connect_quietly(hub, out, &args.name).await? {
        return Ok(CONNECTION);
    }
    let request = CallRequest {
        server: args.name.clone(),
        tool: args.tool.clone(),
        arguments,
        timeout: args.timeout.map(Duration::from_secs_f64),
        task: args.task,
    };
    let reports = if args.repeat == 1 {
        // Subscribe before starting, so no progress of this call can be missed.
        let events = hub.subscribe();
        let started = hub.start_call(request)?;
        let printer = tokio::spawn(print_call_events(
            events,
            out,
            started.call_id.clone(),
            Some(Policy {
                hub: hub.clone(),
                elicit: args.elicit.clone(),
                sample_reply: args.sample_reply.clone(),
            }),
        ));
        let report = started.finish().await;
        // The printer stops at this call's `call_finished`, so every progress line is out first.
        let _ = printer.await;
        print_report(out, &report);
        vec![report]
    } else {
        repeat(hub, out, request, args.repeat, args.concurrency).await?
    };
    Ok(if reports.iter().all(|r| r.outcome == CallOutcome::Ok) {
        OK
    } else {
        CALL_FAILED
    })
}

/// `--repeat N --concurrency C`: N calls over C workers in this one process, then a summary.
async fn repeat(
    hub: &Hub,
    out: Out,
    request: CallRequest,
    n: usize,
    c: usize,
) -> Result<Vec<CallReport>, HubError> {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let workers = (0..c.min(n)).map(|_| {
        let (hub, request, next) = (hub.clone(), request.clone(), next.clone());
        async move {
            let mut mine = Vec::new();
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < n {
                let report = hub.call_tool(request.clone()).await?;
                print_report(out, &report);
                mine.push(report);
            }
            Ok::<_, HubError>(mine)
        }
    });
    let mut reports = Vec::with_capacity(n);
    for r in futures::future::join_all(workers).await {
        reports.extend(r?);
    }
    let elapsed = started.elapsed();
    let mut latencies: Vec<f64> = reports
        .iter()
        .map(|r| r.duration_us as f64 / 1000.0)
        .collect();
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        latencies[((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1]
    };
    let errors = reports
        .iter()
        .filter(|r| r.outcome != CallOutcome::Ok)
        .count();
    let (p50, p99) = (pct(0.50), pct(0.99));
    let per_sec = reports.len() as f64 / elapsed.as_secs_f64();
    out.emit(
        json!({
            "event": "summary", "count": reports.len(), "errors": errors,
            "p50_ms": p50, "p99_ms": p99, "calls_per_sec": per_sec,
            "elapsed_ms": elapsed.as_secs_f64() * 1000.0,
        }),
        || {
            format!(
                "{} calls, {errors} errors, p50 {p50:.2} ms, p99 {p99:.2} ms, {per_sec:.0} calls/s",
                reports.len()
            )
        },
    );
    Ok(reports)
}

fn print_report(out: Out, report: &CallReport) {
    let mut value = serde_json::to_value(report).unwrap_or(Value::Null);
    if let Some(map) = value.as_object_mut() {
        map.insert("event".into(), json!("result"));
    }
    out.emit(value, || match (&report.result, &report.error) {
        (Some(result), _) => {
            let mut text = String::new();
            for block in result
                .get("content")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                match block.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        text.push_str(block.get("text").and_then(Value::as_str).unwrap_or(""))
                    }
                    Some(kind) => text.push_str(&format!("[{kind}]")),
                    None => {}
                }
                text.push('\n');
            }
            if let Some(s) = result.get("structuredContent") {
                text.push_str(&format!("structured: {s}\n"));
            }
            let label = if report.outcome == CallOutcome::ToolError {
                "tool error"
            } else {
                "result"
            };
            format!("{label} ({} ms):\n{}", report.duration_ms, text.trim_end())
        }
        (None, Some(e)) => format!(
            "{} ({} ms): {e}",
            report.outcome.as_str(),
            report.duration_ms
        ),
        (None, None) => format!("{} ({} ms)", report.outcome.as_str(), report.duration_ms),
    });
}

/// How `call` answers the server's requests to the person while it waits.
struct Policy {
    hub: Hub,
    /// `decline` or `defaults`.
    elicit: String,
    sample_reply: Option<String>,
}

/// Prints the progress and log events of one call until it finishes, and answers the
/// server's questions (elicitation) to that server by `policy`: `decline` or `defaults`.
async fn print_call_events(
    mut events: broadcast::Receiver<Event>,
    out: Out,
    call_id: String,
    policy: Option<Policy>,
) {
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                out.error(&format!(
                    "{n} progress events were dropped because the terminal was too slow"
                ));
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let value = || serde_json::to_value(&event).unwrap_or(Value::Null);
        match &event {
            Event::Progress {
                call_id: id,
                progress,
                total,
                message,
                ..
            } if *id == call_id => out.emit(value(), || {
                let total = total.map(|t| format!("/{t}")).unwrap_or_default();
                format!(
                    "progress {progress}{total} {}",
                    message.as_deref().unwrap_or_default()
                )
            }),
            Event::Log {
                call_id: Some(id),
                level,
                data,
                ..
            } if *id == call_id => out.emit(value(), || format!("[{level}] {data}")),
            Event::TaskStatus {
                call_id: id,
                task_id,
                status,
                message,
                ..
            } if *id == call_id => out.emit(value(), || {
                format!(
                    "task {task_id}: {status}{}",
                    message
                        .as_deref()
                        .map(|m| format!(" · {m}"))
                        .unwrap_or_default()
                )
            }),
            Event::CallFinished { call_id: id, .. } if *id == call_id => return,
            Event::ElicitationRequested {
                server,
                id,
                request,
            } => {
                let Some(Policy {
                    hub,
                    elicit: policy,
                    ..
                }) = &policy
                else {
                    continue;
                };
                if request["mode"] == "url" {
                    // A link to open: only ever one the engine has checked (https, or http to
                    // this machine).
                    let link = hub.elicitation_link(server, id).ok().flatten();
                    let message = request["message"].as_str().unwrap_or("");
                    let (answer, what) = match (policy.as_str(), &link) {
                        ("open", Some(link)) => match check_url(link)
                            .map_err(|e| e.to_string())
                            .and_then(|u| open_in_system_browser(&u))
                        {
                            Ok(()) => (
                                Answer::Accept(Default::default()),
                                "opened in your browser".to_string(),
                            ),
                            Err(e) => (
                                Answer::Decline,
                                format!("declined: the browser did not open ({e})"),
                            ),
                        },
                        ("defaults", Some(_)) => (
                            Answer::Accept(Default::default()),
                            "accepted without opening it (--elicit open opens it)".to_string(),
                        ),
                        _ => (
                            Answer::Decline,
                            "declined; --elicit open opens it".to_string(),
                        ),
                    };
                    out.emit(value(), || {
                        format!(
                            "{server} asks you to open {}: {message} ({what})",
                            link.as_deref().unwrap_or("a link")
                        )
                    });
                    let _ = hub.answer_elicitation(server, id, answer);
                    continue;
                }
                let answer = if policy == "defaults" || policy == "open" {
                    Answer::Accept(form_defaults(&request["requestedSchema"]))
                } else {
                    Answer::Decline
                };
                out.emit(value(), || {
                    format!(
                        "{server} asks: {} ({})",
                        request["message"].as_str().unwrap_or(""),
                        if policy == "decline" {
                            "declined; --elicit defaults accepts the defaults"
                        } else {
                            "answered with the form's defaults"
                        }
                    )
                });
                let _ = hub.answer_elicitation(server, id, answer);
            }
            Event::SamplingRequested { server, id, .. } => {
                let Some(Policy {
                    hub, sample_reply, ..
                }) = &policy
                else {
                    continue;
                };
                let answer = match sample_reply {
                    Some(text) => SamplingAnswer::Approve {
                        text: text.clone(),
                        model: "patchbay-cli (a person)".into(),
                    },
                    None => SamplingAnswer::Reject,
                };
                out.emit(value(), || match sample_reply {
                    Some(_) => format!("{server} asks for a model's reply: sent --sample-reply"),
                    None => format!(
                        "{server} asks for a model's reply: rejected (--sample-reply TEXT answers it)"
                    ),
                });
                let _ = hub.answer_sampling(server, id, answer);
            }
            _ => {}
        }
    }
}

async fn history(hub: &Hub, out: Out, name: &str, limit: usize) -> Result<u8, HubError> {
    for rec in hub.history(name, limit).await? {
        let value = serde_json::to_value(&rec).unwrap_or(Value::Null);
        let mut line = json!({"event": "history"});
        if let (Some(line), Some(rec)) = (line.as_object_mut(), value.as_object()) {
            line.extend(rec.clone());
        }
        out.emit(line, || {
            format!(
                "{}\t{}\t{}\t{} ms\t{}",
                rec.started_at_ms,
                rec.tool,
                rec.outcome.as_str(),
                rec.duration_ms,
                rec.arguments
            )
        });
    }
    Ok(OK)
}

/// `{"event":"x", ...fields of value}`.
pub(crate) fn tagged(event: &str, value: &impl serde::Serialize) -> Value {
    let mut line = json!({ "event": event });
    if let (Some(line), Ok(Value::Object(fields))) =
        (line.as_object_mut(), serde_json::to_value(value))
    {
        line.extend(fields);
    }
    line
}

async fn login(
    hub: &Hub,
    out: Out,
    name: &str,
    browser: BrowserMode,
    timeout: u64,
) -> Result<u8, HubError> {
    let status = hub
        .login_showing(name, browser, Duration::from_secs(timeout), |url| {
            let line = json!({"event": "login_url", "server": name, "url": url});
            out.emit(line, || {
                format!(
                    "Log in to {name} in your browser. If it did not open, open this link:\n{url}"
                )
            });
        })
        .await?;
    out.emit(tagged("logged_in", &status), || {
        format!(
            "{name}: logged in at {}",
            status.issuer.as_deref().unwrap_or("?")
        )
    });
    Ok(OK)
}

async fn auth_status(hub: &Hub, out: Out, name: &str) -> Result<u8, HubError> {
    let status = hub.auth_status(name).await?;
    out.emit(tagged("auth_status", &status), || {
        if let Some(problem) = &status.problem {
            return format!("{name}: needs login: {problem}");
        }
        if !status.logged_in {
            return format!("{name}: not logged in");
        }
        let expiry = match status.expires_at_ms {
            Some(at) => {
                let left = (at - now_ms()) / 1000;
                if left > 0 {
                    format!("access token expires in {left}s")
                } else {
                    "access token expired".into()
                }
            }
            None => "no expiry given".into(),
        };
        format!(
            "{name}: logged in at {} (client {}), scopes [{}], {expiry}, {}",
            status.issuer.as_deref().unwrap_or("?"),
            status.client_id.as_deref().unwrap_or("?"),
            status.scopes.join(" "),
            if status.can_refresh {
                "refreshes by itself"
            } else {
                "no refresh token: log in again when it expires"
            },
        )
    });
    Ok(OK)
}

async fn logout(hub: &Hub, out: Out, name: &str) -> Result<u8, HubError> {
    let report = hub.logout(name).await?;
    out.emit(tagged("logout", &report), || {
        match (&report.removed, &report.note) {
            (false, _) => format!("{name}: there was no saved login"),
            (true, None) => {
                format!("{name}: logged out; the authorization server revoked the login")
            }
            (true, Some(note)) => format!("{name}: logged out here ({note})"),
        }
    });
    Ok(OK)
}

async fn vault_reset(hub: &Hub, out: Out, yes: bool) -> Result<u8, HubError> {
    if !yes {
        out.error(
            "this forgets every saved login and every server's env and header values (the servers stay, and show which values to type in again). Only for a key that is gone for good; a locked or unreachable keyring needs unlocking, not this. Run again with --yes to go ahead",
        );
        return Ok(USAGE);
    }
    let reset = hub.reset_vault().await?;
    out.emit(tagged("vault_reset", &reset), || {
        format!(
            "started over: {} saved logins forgotten, {} servers need their env or header values typed in again (`servers list` shows which)",
            reset.logins, reset.servers
        )
    });
    Ok(OK)
}

async fn doctor(hub: &Hub, out: Out) -> Result<u8, HubError> {
    let report = hub.doctor(true).await;
    out.emit(tagged("doctor", &report), || {
        let secrets = match &report.key_backend {
            KeyBackend::Keyring => {
                "sealed under a key in the OS keyring".to_string()
            }
            KeyBackend::KeyFile { path, reason } => format!(
                "sealed under a key in {} (readable only by you), because {reason}",
                path.display()
            ),
            KeyBackend::Locked { reason } => {
                format!("LOCKED: {reason}")
            }
            KeyBackend::NoKeyYet => {
                "nothing sealed yet; the key is made (in the OS keyring when it can be) when the first secret is kept".to_string()
            }
        };
        let mut text = format!(
            "data dir: {}\ndatabase: {}\nsecrets:  {secrets}\nservers:  {}",
            report.data_dir.display(),
            report.database.display(),
            if report.peers.is_empty() {
                "none yet (add one with `servers add`)"
            } else {
                ""
            }
        );
        for peer in &report.peers {
            let login = match &peer.auth {
                None => String::new(),
                Some(a) if a.logged_in => {
                    format!(", logged in at {}", a.issuer.as_deref().unwrap_or("?"))
                }
                Some(a) => match &a.problem {
                    Some(problem) => format!(", not logged in ({problem})"),
                    None => ", not logged in".to_string(),
                },
            };
            let disabled = if peer.enabled { "" } else { ", disabled" };
            text.push_str(&format!(
                "\n  {} [{}] {}{disabled}{login}",
                peer.name, peer.transport, peer.target
            ));
        }
        text
    });
    Ok(OK)
}
