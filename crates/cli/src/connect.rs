//! `connect`: one server with each state change printed, or every enabled one (`--all`) with
//! how long it took for all of them.

use std::time::{Duration, Instant};

use clap::Args;
use patchbay_engine::{Event, Hub, HubError, ServerState};
use serde_json::json;

use crate::exit::{CONNECTION, OK};
use crate::hub::{next_event, state_line};
use crate::output::Out;

#[derive(Args)]
pub struct ConnectArgs {
    /// The server's name (or use --all).
    #[arg(required_unless_present = "all")]
    name: Option<String>,
    /// Connect every enabled server and report how long it took for all of them.
    #[arg(long, conflicts_with = "name")]
    all: bool,
}

pub async fn run(hub: &Hub, out: Out, args: ConnectArgs) -> Result<u8, HubError> {
    match args.name {
        Some(name) => connect(hub, out, &name).await,
        None => connect_all(hub, out).await,
    }
}

/// Connects `name`, printing each state change; the result says whether it worked.
async fn connect_printing(hub: &Hub, out: Out, name: &str) -> Result<bool, HubError> {
    hub.server(name)?;
    let mut events = hub.subscribe();
    let printer = {
        let name = name.to_string();
        tokio::spawn(async move {
            while let Some(event) = next_event(&mut events, out, None).await {
                if let Event::State { server, state } = event
                    && server == name
                {
                    state_line(out, &server, &state);
                    if !matches!(state, ServerState::Connecting) {
                        return;
                    }
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
    if !connect_printing(hub, out, name).await? {
        return Ok(CONNECTION);
    }
    // Which revision it speaks, and so how Patchbay started the connection.
    if let Some(spoke) = hub.details(name)?.spoke {
        out.emit(
            json!({"event": "protocol", "server": name, "era": spoke.era,
                   "protocol_version": spoke.protocol_version}),
            || format!("{name}: speaks {spoke}"),
        );
    }
    Ok(OK)
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
