//! The client under test for the official MCP conformance suite
//! (`@modelcontextprotocol/conformance client --command "patchbay-conformance"`): the suite
//! appends its scenario server's URL. This drives the same engine as the app and the CLI:
//! connect, log in in `follow` mode when the server wants a login, list the tools, call each one
//! with the arguments a person would fill in (or those the scenario names), answer what the
//! server asks on the way, disconnect. Exit 0 when all of that worked.

use std::process::ExitCode;
use std::time::Duration;

use patchbay_engine::{
    Answer, BrowserMode, CallOutcome, CallRequest, Event, Hub, HubOptions, SamplingAnswer, Secret,
    ServerDef, ServerState, TransportDef, form_defaults,
};

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    // `[--client-metadata-url URL] SERVER_URL`: the suite appends the server's URL.
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let metadata_document = match args.iter().position(|a| a == "--client-metadata-url") {
        Some(i) if i + 1 < args.len() => {
            let doc = args.remove(i + 1);
            args.remove(i);
            Some(doc)
        }
        _ => None,
    };
    let [url] = <[String; 1]>::try_from(args).unwrap_or_else(|_| {
        eprintln!("usage: patchbay-conformance [--client-metadata-url URL] SERVER_URL");
        std::process::exit(2)
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run(url, metadata_document)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

async fn run(url: String, metadata_document: Option<String>) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut options = HubOptions::new(dir.path());
    options.os_keyring = false;
    let hub = Hub::open(options).await?;
    // A server that asks the person something (elicitation) gets the form's defaults, as a
    // person who just presses Accept would send.
    let mut events = hub.subscribe();
    let answering = hub.clone();
    tokio::spawn(async move {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            match events.recv().await {
                Ok(Event::ElicitationRequested {
                    server,
                    id,
                    request,
                }) => {
                    let content = form_defaults(&request["requestedSchema"]);
                    let _ = answering.answer_elicitation(&server, &id, Answer::Accept(content));
                }
                // A sampling request gets the reply a person would type and approve.
                Ok(Event::SamplingRequested { server, id, .. }) => {
                    let reply = SamplingAnswer::Approve {
                        text: "A reply from the conformance client.".into(),
                        model: "person".into(),
                    };
                    let _ = answering.answer_sampling(&server, &id, reply);
                }
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break,
            }
        }
    });
    let outcome = exercise(&hub, url, metadata_document).await;
    hub.shutdown().await;
    outcome
}

async fn exercise(hub: &Hub, url: String, metadata_document: Option<String>) -> anyhow::Result<()> {
    let name = "under-test";
    let mut def = ServerDef::new(
        name,
        TransportDef::Http {
            url,
            headers: Default::default(),
        },
    );
    // Scenarios with a pre-registered client say so in MCP_CONFORMANCE_CONTEXT, the way a
    // person would type them into `servers add --client-id --client-secret`.
    let context: serde_json::Value = std::env::var("MCP_CONFORMANCE_CONTEXT")
        .ok()
        .and_then(|c| serde_json::from_str(&c).ok())
        .unwrap_or_default();
    def.oauth_client_id = context["client_id"].as_str().map(String::from);
    // A person who hosts a metadata document for Patchbay enters its URL the same way.
    if def.oauth_client_id.is_none() {
        def.oauth_client_metadata_url = metadata_document;
    }
    match context["client_secret"].as_str() {
        Some(secret) if def.oauth_client_id.is_some() => {
            hub.add_server_with_client_secret(def, Secret::new(secret))
                .await?
        }
        _ => hub.add_server(def).await?,
    }
    let mut state = hub.connect_and_wait(name).await?;
    // A first login, and at most two step-ups: what a person would click before giving up.
    for _ in 0..3 {
        if state != ServerState::NeedsAuth {
            break;
        }
        hub.login(name, BrowserMode::Follow, Duration::from_secs(20))
            .await?;
        state = hub.connect_and_wait(name).await?;
    }
    if state != ServerState::Connected {
        anyhow::bail!("not connected: {state:?}");
    }
    // A request that meets a 401/403 mid-session puts the server back in needs_auth: log in
    // again (with the challenged scopes) and retry, a bounded number of times.
    let mut tools = hub.tools(name).await;
    for _ in 0..2 {
        if tools.is_ok() {
            break;
        }
        if !logged_in_again(hub, name).await? {
            break;
        }
        tools = hub.tools(name).await;
    }
    let tools = tools?;
    eprintln!("{} tools", tools.len());
    // The calls a scenario names (with the arguments it wants mirrored), or else every tool with
    // what a person would fill in: each required field, from its default or its type.
    let calls: Vec<(String, serde_json::Map<String, serde_json::Value>)> =
        match context["toolCalls"].as_array() {
            Some(named) => named
                .iter()
                .filter_map(|c| {
                    Some((
                        c["name"].as_str()?.to_string(),
                        c["arguments"].as_object().cloned().unwrap_or_default(),
                    ))
                })
                .collect(),
            None => tools
                .iter()
                .map(|t| {
                    let schema = serde_json::Value::Object((*t.input_schema).clone());
                    (t.name.to_string(), filled_in(&schema))
                })
                .collect(),
        };
    for (tool, arguments) in calls {
        let call = || CallRequest {
            server: name.into(),
            tool: tool.clone(),
            arguments: Some(arguments.clone()),
            timeout: Some(Duration::from_secs(10)),
            task: false,
        };
        let mut report = hub.call_tool(call()).await?;
        // A 403 insufficient_scope: step up (one more login with the union of scopes), retry.
        for _ in 0..2 {
            if report.outcome != CallOutcome::Failed {
                break;
            }
            if !logged_in_again(hub, name).await? {
                break;
            }
            report = hub.call_tool(call()).await?;
        }
        eprintln!(
            "called {tool}: {:?} {}",
            report.outcome,
            report.error.unwrap_or_default()
        );
    }
    Ok(())
}

/// The arguments a person fills in before pressing Run: every required property, from its
/// `default`, `const`, first `enum` value or first example, or else a plain value of its type
/// (within its minimum); nested objects the same way.
fn filled_in(schema: &serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    use serde_json::{Value, json};
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = schema["properties"].as_object() else {
        return Default::default();
    };
    properties
        .iter()
        .filter(|(key, _)| required.contains(&key.as_str()))
        .map(|(key, p)| {
            let typed = p["type"]
                .as_str()
                .or_else(|| p["type"].as_array()?.first()?.as_str());
            let value = [&p["default"], &p["const"], &p["enum"][0], &p["examples"][0]]
                .into_iter()
                .find(|v| !v.is_null())
                .cloned()
                .unwrap_or_else(|| match typed {
                    Some("number") | Some("integer") if p["minimum"].is_number() => {
                        p["minimum"].clone()
                    }
                    Some("number") | Some("integer") => json!(1),
                    Some("boolean") => json!(true),
                    Some("object") => Value::Object(filled_in(p)),
                    Some("array") => json!([]),
                    Some("null") => Value::Null,
                    _ => json!("test"),
                });
            (key.clone(), value)
        })
        .collect()
}

/// After a failed request: if the server went to `needs_auth`, log in again (the session kept
/// the challenge, so a step-up asks for the wider scopes) and reconnect. False if it did not.
async fn logged_in_again(hub: &Hub, name: &str) -> anyhow::Result<bool> {
    tokio::time::sleep(Duration::from_millis(200)).await;
    if hub.state(name) != Some(ServerState::NeedsAuth) {
        return Ok(false);
    }
    hub.login(name, BrowserMode::Follow, Duration::from_secs(20))
        .await?;
    hub.connect_and_wait(name).await?;
    Ok(true)
}
