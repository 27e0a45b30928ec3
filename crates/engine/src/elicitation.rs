//! A server asking the person for input (`elicitation/create`: a form, or a link to open in
//! the browser). (Its sibling, a request for a model's reply, is `sampling.rs`.)
//!
//! Who owns what: the session's client handler receives the request, registers a pending
//! answer here under a fresh id, publishes `ElicitationRequested`, and waits. Whoever shows the
//! person the form (the app's dialog, the CLI's policy, the conformance client) answers once
//! through `Hub::answer_elicitation`; the first answer wins and later ones find nothing. If the
//! server gives up (its request is cancelled or the connection drops) or nobody answers in
//! time, the request is declined or cancelled and `ElicitationFinished` tells the UI to close
//! the dialog.

use serde_json::{Map, Value};

use crate::pending::{Pending, WAIT};

/// What the person decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Accept(Map<String, Value>),
    Decline,
    Cancel,
}

/// What the person did with a question, as MCP names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum AnswerAction {
    Accept,
    Decline,
    Cancel,
}

impl Answer {
    /// `accept` with `content` (none: empty), `decline` or `cancel`.
    pub fn new(action: AnswerAction, content: Option<Map<String, Value>>) -> Answer {
        match action {
            AnswerAction::Accept => Answer::Accept(content.unwrap_or_default()),
            AnswerAction::Decline => Answer::Decline,
            AnswerAction::Cancel => Answer::Cancel,
        }
    }

    /// MCP's name for the answer.
    pub fn action(&self) -> &'static str {
        match self {
            Answer::Accept(_) => "accept",
            Answer::Decline => "decline",
            Answer::Cancel => "cancel",
        }
    }

    /// The answer to a URL-mode question: accepting means "I opened the link", with no content.
    pub fn to_url_result_json(&self) -> Value {
        match self {
            Answer::Accept(_) => serde_json::json!({ "action": "accept" }),
            other => other.to_result_json(),
        }
    }

    pub fn to_result_json(&self) -> Value {
        match self {
            Answer::Accept(content) => {
                serde_json::json!({ "action": "accept", "content": content })
            }
            Answer::Decline => serde_json::json!({ "action": "decline" }),
            Answer::Cancel => serde_json::json!({ "action": "cancel" }),
        }
    }
}

pub type Elicitations = Pending<Answer>;

/// Most links of one `URLElicitationRequiredError` shown to the person.
const MAX_LINKS: usize = 3;

/// The links of a `URLElicitationRequiredError` (`data.elicitations`), shown to the person as
/// URL-mode questions; the call itself has already failed, so the answer only closes the
/// question (and, for `accept`, whoever shows it opens the link). Links that fail the URL check
/// are left out. Returns the links shown (or already showing, for a retry).
pub(crate) fn ask_to_open(
    server: &str,
    bus: &crate::events::EventBus,
    elicitations: &Elicitations,
    data: Option<&Value>,
) -> Vec<String> {
    use crate::events::Event;
    let mut shown = Vec::new();
    let asks = data
        .and_then(|d| d.get("elicitations"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for ask in asks {
        // A server decides how many questions its error asks; a person answers a few at most.
        if shown.len() == MAX_LINKS {
            break;
        }
        let Some(url) = ask.get("url").and_then(Value::as_str) else {
            continue;
        };
        let link = match crate::auth::browser::check_url(url) {
            Ok(checked) => checked.to_string(),
            Err(why) => {
                tracing::warn!(%server, "left out a server's link: {why}");
                continue;
            }
        };
        let asked = ask
            .get("elicitationId")
            .and_then(Value::as_str)
            .map(String::from);
        // Asked again by a retry while the first is still open: one question is enough.
        if asked.as_deref().is_some_and(|a| elicitations.asking(a)) {
            shown.push(link);
            continue;
        }
        let (id, reply) = elicitations.register_asking(Some(link.clone()), asked);
        bus.publish(Event::ElicitationRequested {
            server: server.into(),
            id: id.clone(),
            request: ask,
        });
        shown.push(link);
        let (server, bus, elicitations) = (server.to_string(), bus.clone(), elicitations.clone());
        tokio::spawn(async move {
            let answer = match tokio::time::timeout(WAIT, reply).await {
                Ok(Ok(answer)) => answer,
                _ => Answer::Cancel,
            };
            elicitations.forget(&id);
            bus.publish(Event::ElicitationFinished {
                server,
                id,
                action: answer.action().into(),
            });
        });
    }
    shown
}

/// The content a form would start with: every property's `default`. Answering with this is
/// "accept the defaults" (what the conformance suite's elicitation scenario expects).
pub fn defaults(requested_schema: &Value) -> Map<String, Value> {
    requested_schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|props| {
            props
                .iter()
                .filter_map(|(name, prop)| prop.get("default").map(|d| (name.clone(), d.clone())))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_first_answer_wins_and_defaults_come_from_the_schema() {
        let pending = Elicitations::default();
        let (id, mut rx) = pending.register();
        assert!(pending.answer(&id, Answer::Decline));
        assert!(!pending.answer(&id, Answer::Cancel), "answered already");
        assert_eq!(rx.try_recv().unwrap(), Answer::Decline);
        assert!(!pending.answer("el-unknown", Answer::Decline));

        let schema = json!({"type": "object", "properties": {
            "name": {"type": "string", "default": "John Doe"},
            "age": {"type": "integer", "default": 30},
            "note": {"type": "string"}
        }});
        let d = defaults(&schema);
        assert_eq!(Value::Object(d), json!({"name": "John Doe", "age": 30}));
        assert!(serde_json::from_value::<AnswerAction>(json!("sure")).is_err());
    }
}

#[cfg(test)]
mod link_tests {
    use super::*;
    use crate::events::{Event, EventBus};
    use serde_json::json;

    #[tokio::test]
    async fn an_errors_links_are_checked_capped_and_asked_once() {
        let bus = EventBus::new();
        let mut events = bus.subscribe();
        let pending = Elicitations::default();
        let link = |id: &str, url: &str| json!({"mode": "url", "elicitationId": id, "url": url, "message": "m"});
        let data = json!({"elicitations": [
            link("a", "http://evil.example/x"),
            link("b", "https://ok.example/b"),
            link("c", "https://user@evil.example/c"),
            link("d", "https://ok.example/d"),
            link("e", "https://ok.example/e"),
            link("f", "https://ok.example/f"),
        ]});
        let shown = ask_to_open("s", &bus, &pending, Some(&data));
        // Those that pass the URL check, three at most.
        assert_eq!(
            shown,
            [
                "https://ok.example/b",
                "https://ok.example/d",
                "https://ok.example/e"
            ]
        );
        let asked: Vec<String> = std::iter::from_fn(|| events.try_recv().ok())
            .filter_map(|e| match e {
                Event::ElicitationRequested { request, .. } => {
                    request["elicitationId"].as_str().map(String::from)
                }
                _ => None,
            })
            .collect();
        assert_eq!(asked, ["b", "d", "e"]);
        // A retry that meets the same error while those are open asks nothing new.
        assert_eq!(ask_to_open("s", &bus, &pending, Some(&data)), shown);
        assert!(events.try_recv().is_err());
        assert!(ask_to_open("s", &bus, &pending, None).is_empty());
    }
}
