//! `call` (once, or `--repeat`ed with a summary) and `history`: a tool call with its progress,
//! logs and task status printed as they arrive, and the server's questions during the call
//! (elicitation, sampling) answered by the `--elicit` and `--sample-reply` policy.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use patchbay_engine::{
    Answer, CallOutcome, CallReport, CallRequest, Event, Hub, HubError, SamplingAnswer, check_url,
    form_defaults, open_in_system_browser,
};
use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::exit::{CALL_FAILED, CONNECTION, OK, USAGE};
use crate::hub::{connect_quietly, next_event};
use crate::output::{Out, tagged};

#[derive(Args)]
pub struct CallArgs {
    name: String,
    tool: String,
    /// Arguments as a JSON object.
    #[arg(long, value_name = "JSON")]
    args: Option<String>,
    /// Give up after this many seconds without a result or progress.
    #[arg(long, value_name = "SECS")]
    timeout: Option<f64>,
    /// Run the call this many times (for load tests and benchmarks).
    #[arg(long, default_value_t = 1, value_name = "N")]
    repeat: usize,
    /// How many of the repeated calls run at once.
    #[arg(long, default_value_t = 1, value_name = "C")]
    concurrency: usize,
    /// When the server asks a question during the call (elicitation): `decline` it; accept
    /// a form's `defaults` (and a link without opening it); or `open` a link in the browser
    /// (only https, or http to this machine) and accept, forms with their defaults.
    #[arg(long, value_enum, default_value = "decline")]
    elicit: Elicit,
    /// Run the call as a task (MCP tasks, SEP-1686): its status is printed as it changes.
    #[arg(long)]
    task: bool,
    /// When the server asks for a model's reply during the call (sampling): approve this
    /// text as the reply. Without it, sampling requests are rejected.
    #[arg(long, value_name = "TEXT")]
    sample_reply: Option<String>,
}

/// `--elicit`: how a question the server asks during the call is answered. (Plain comments
/// on the variants: doc comments would change `--help`.)
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Elicit {
    // Decline it.
    Decline,
    // Accept a form with its defaults, a link without opening it.
    Defaults,
    // Open a link in the browser and accept; forms with their defaults.
    Open,
}

#[derive(Args)]
pub struct HistoryArgs {
    name: String,
    #[arg(long, default_value_t = 20)]
    limit: usize,
}

pub async fn run(hub: &Hub, out: Out, args: CallArgs) -> Result<u8, HubError> {
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
            Policy {
                hub: hub.clone(),
                elicit: args.elicit,
                sample_reply: args.sample_reply.clone(),
            },
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
    out.emit(tagged("result", report), || {
        match (&report.result, &report.error) {
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
        }
    });
}

/// How `call` answers the server's requests to the person while it waits.
struct Policy {
    hub: Hub,
    elicit: Elicit,
    sample_reply: Option<String>,
}

/// Prints the progress, log and task events of one call until it finishes, and answers the
/// server's questions (elicitation, sampling) by `policy`.
async fn print_call_events(
    mut events: broadcast::Receiver<Event>,
    out: Out,
    call_id: String,
    policy: Policy,
) {
    while let Some(event) = next_event(&mut events, out, Some("progress events")).await {
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
            } if request["mode"] == "url" => policy.open_link(out, value(), server, id, request),
            Event::ElicitationRequested {
                server,
                id,
                request,
            } => policy.answer_form(out, value(), server, id, request),
            Event::SamplingRequested { server, id, .. } => {
                policy.answer_sampling(out, value(), server, id)
            }
            _ => {}
        }
    }
}

impl Policy {
    /// A link the server asks the person to open: only ever one the engine has checked
    /// (https, or http to this machine).
    fn open_link(&self, out: Out, line: Value, server: &str, id: &str, request: &Value) {
        let link = self.hub.elicitation_link(server, id).ok().flatten();
        let message = request["message"].as_str().unwrap_or("");
        let (answer, what) = match (self.elicit, &link) {
            (Elicit::Open, Some(link)) => match check_url(link)
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
            (Elicit::Defaults, Some(_)) => (
                Answer::Accept(Default::default()),
                "accepted without opening it (--elicit open opens it)".to_string(),
            ),
            _ => (
                Answer::Decline,
                "declined; --elicit open opens it".to_string(),
            ),
        };
        out.emit(line, || {
            format!(
                "{server} asks you to open {}: {message} ({what})",
                link.as_deref().unwrap_or("a link")
            )
        });
        let _ = self.hub.answer_elicitation(server, id, answer);
    }

    /// A form the server asks the person to fill in.
    fn answer_form(&self, out: Out, line: Value, server: &str, id: &str, request: &Value) {
        let answer = match self.elicit {
            Elicit::Defaults | Elicit::Open => {
                Answer::Accept(form_defaults(&request["requestedSchema"]))
            }
            Elicit::Decline => Answer::Decline,
        };
        out.emit(line, || {
            format!(
                "{server} asks: {} ({})",
                request["message"].as_str().unwrap_or(""),
                if self.elicit == Elicit::Decline {
                    "declined; --elicit defaults accepts the defaults"
                } else {
                    "answered with the form's defaults"
                }
            )
        });
        let _ = self.hub.answer_elicitation(server, id, answer);
    }

    /// A model's reply the server asks for: `--sample-reply`, else rejected.
    fn answer_sampling(&self, out: Out, line: Value, server: &str, id: &str) {
        let answer = match &self.sample_reply {
            Some(text) => SamplingAnswer::Approve {
                text: text.clone(),
                model: "patchbay-cli (a person)".into(),
            },
            None => SamplingAnswer::Reject,
        };
        out.emit(line, || match &self.sample_reply {
            Some(_) => format!("{server} asks for a model's reply: sent --sample-reply"),
            None => format!(
                "{server} asks for a model's reply: rejected (--sample-reply TEXT answers it)"
            ),
        });
        let _ = self.hub.answer_sampling(server, id, answer);
    }
}

pub async fn history(hub: &Hub, out: Out, args: HistoryArgs) -> Result<u8, HubError> {
    for rec in hub.history(&args.name, args.limit).await? {
        out.emit(tagged("history", &rec), || {
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
