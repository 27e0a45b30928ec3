//! Multi round-trip requests (SEP-2322, protocol 2026-07-28): a server that needs something
//! from the person answers a call, a prompt or a read with `input_required`; the client answers
//! its `inputRequests` the way it answers a 2025-era server's own requests (the same dialogs,
//! the same roots) and sends the request again, with a new id, the answers, and the server's
//! `requestState` exactly as it came.
//!
//! rmcp's `RunningService::call_tool` drives these rounds too, but only through the service
//! that owns the connection, and with no way to stop between rounds or to keep each round's
//! progress with its call; the session hands out peers, so the rounds are driven here.

use std::time::Duration;

use rmcp::model::{InputRequest, InputRequiredResult, InputResponses};
use tokio_util::sync::CancellationToken;

use super::Session;

/// How many `input_required` answers one request may get before Patchbay stops asking the
/// person: a server that keeps asking is stuck, or is fishing.
pub(crate) const MAX_ROUNDS: usize = 10;
/// How many things one round may ask for at once: each question is a dialog in front of the
/// person (the same bound as the links one error may ask to open is 3; a form round may
/// reasonably ask a few things).
const MAX_INPUTS: usize = 8;
/// The largest `requestState` sent back: it is the server's to keep small.
const MAX_STATE: usize = 1024 * 1024;

/// What one round of a request came back with.
pub(crate) enum Round<T> {
    /// The request ended (well or not); nothing more to send.
    Done(T),
    /// The server needs answers (or only its state back) before it can finish.
    Input(InputRequiredResult),
}

/// Why the rounds stopped before the request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stopped {
    /// The caller cancelled, possibly while the person was being asked.
    Cancelled,
    /// `MAX_ROUNDS` answers and the server still asks.
    TooManyRounds { server: String },
    /// The person (or the check on a link) refused what the server asked for, in a way the
    /// protocol answers with an error rather than a result (a sampling request).
    Refused { server: String, message: String },
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stopped::Cancelled => write!(f, "cancelled by the user"),
            Stopped::TooManyRounds { server } => write!(
                f,
                "server '{server}' asked for more input {MAX_ROUNDS} times without finishing; Patchbay stopped there (the server may be stuck)"
            ),
            Stopped::Refused { server, message } => {
                write!(
                    f,
                    "server '{server}' asked for something that was refused: {message}"
                )
            }
        }
    }
}

impl Session {
    /// Runs `round` until the request ends: each `input_required` gets its requests answered
    /// (concurrently, as the person answers them) and the next round carries those answers and
    /// the untouched `requestState` (none when none was sent). `cancel` stops it between
    /// rounds and withdraws any question still open.
    // A plain closure returning a future, not an async closure: the future must be `Send` for
    // every lifetime, which async closures cannot promise yet.
    pub(crate) async fn with_input<T, Fut>(
        &self,
        cancel: &CancellationToken,
        mut round: impl FnMut(Option<InputResponses>, Option<String>) -> Fut,
    ) -> Result<T, Stopped>
    where
        Fut: Future<Output = Round<T>>,
    {
        let (mut responses, mut state) = (None, None);
        let mut state_only = 0u32;
        for answered in 0..=MAX_ROUNDS {
            let asked = match round(responses.take(), state.take()).await {
                Round::Done(value) => return Ok(value),
                Round::Input(asked) => asked,
            };
            // Stop before asking the person anything more: answers nobody will send are not
            // asked for.
            if answered == MAX_ROUNDS {
                break;
            }
            if asked
                .request_state
                .as_ref()
                .is_some_and(|s| s.len() > MAX_STATE)
            {
                return Err(self.refused(format!(
                    "its request state is over {} MB",
                    MAX_STATE / (1024 * 1024)
                )));
            }
            let requests = asked.input_requests.unwrap_or_default();
            if requests.is_empty() {
                // Only state to send back (the server is working in steps): do not hammer it.
                let pause = Duration::from_millis((50u64 << state_only.min(3)).min(250));
                state_only += 1;
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = cancel.cancelled() => return Err(Stopped::Cancelled),
                }
            } else {
                state_only = 0;
                responses = Some(self.answer_inputs(requests, cancel).await?);
            }
            state = asked.request_state;
        }
        Err(Stopped::TooManyRounds {
            server: self.name.clone(),
        })
    }

    fn refused(&self, message: String) -> Stopped {
        Stopped::Refused {
            server: self.name.clone(),
            message,
        }
    }

    /// Answers one round's requests, all at once: each question reaches the person as the
    /// 2025-era request would, and a cancel withdraws those still open.
    pub(crate) async fn answer_inputs(
        &self,
        requests: rmcp::model::InputRequests,
        cancel: &CancellationToken,
    ) -> Result<InputResponses, Stopped> {
        if requests.len() > MAX_INPUTS {
            return Err(self.refused(format!(
                "{} things at once (Patchbay answers at most {MAX_INPUTS} in one round)",
                requests.len()
            )));
        }
        let client = self.client();
        // A child token: withdrawing this round's questions must not cancel the call.
        let questions = cancel.child_token();
        // Nor may a question outlive the connection it came on: nobody could send its answer.
        let connection = self.snapshot().connection;
        let answers = futures::future::try_join_all(requests.into_iter().map(|(key, request)| {
            let (client, questions) = (&client, &questions);
            async move {
                let refused = |e: rmcp::ErrorData| {
                    self.refused(crate::causes::bounded(
                        &e.message,
                        crate::causes::SERVER_TEXT,
                    ))
                };
                let value = match request {
                    InputRequest::Elicitation(r) => serde_json::to_value(
                        client.elicit(r.params, questions).await.map_err(refused)?,
                    ),
                    #[allow(deprecated)]
                    InputRequest::CreateMessage(r) => serde_json::to_value(
                        client.sample(r.params, questions).await.map_err(refused)?,
                    ),
                    #[allow(deprecated)]
                    InputRequest::ListRoots(_) => serde_json::to_value(client.roots()),
                    _ => return Err(self.refused("a kind of input Patchbay does not know".into())),
                };
                Ok::<_, Stopped>((key, value.unwrap_or_default()))
            }
        }));
        let gone = async {
            match &connection {
                Some(connection) => connection.cancelled().await,
                None => std::future::pending().await,
            }
        };
        let answered = tokio::select! {
            r = answers => r,
            _ = cancel.cancelled() => Err(Stopped::Cancelled),
            _ = gone => Err(self.refused("the connection ended while the person was being asked".into())),
        };
        // Whatever ended the round, no question of it stays open.
        questions.cancel();
        if cancel.is_cancelled() {
            return Err(Stopped::Cancelled);
        }
        Ok(answered?.into_iter().collect())
    }
}
