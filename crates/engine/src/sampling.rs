//! A server asking for a model's reply (`sampling/createMessage`), answered by the person: no
//! model is involved. The request waits in the session's [`Samplings`] like a question
//! (`elicitation.rs`), and is answered through `Hub::answer_sampling`.

use serde_json::Value;

use crate::pending::Pending;

/// The person's answer to a sampling request: the assistant message they wrote (or edited)
/// and approved, or a rejection.
#[derive(Debug, Clone, PartialEq)]
pub enum SamplingAnswer {
    Approve { text: String, model: String },
    Reject,
}

impl SamplingAnswer {
    /// A `CreateMessageResult` as MCP shapes it; `None` for a rejection (sent as an error).
    pub fn to_result_json(&self) -> Option<Value> {
        match self {
            SamplingAnswer::Approve { text, model } => Some(serde_json::json!({
                "role": "assistant",
                "content": { "type": "text", "text": text },
                "model": model,
                "stopReason": "endTurn",
            })),
            SamplingAnswer::Reject => None,
        }
    }
}

pub type Samplings = Pending<SamplingAnswer>;
