//! Text for people, or one JSON object per line for scripts.

use serde_json::{Value, json};

#[derive(Clone, Copy)]
pub struct Out {
    pub json: bool,
}

impl Out {
    /// Prints `value` in JSON mode, `text` otherwise.
    pub fn emit(&self, value: Value, text: impl FnOnce() -> String) {
        if self.json {
            println!("{value}");
        } else {
            println!("{}", text());
        }
    }

    /// An error, on stderr for people and as an `error` event on stdout for scripts.
    pub fn error(&self, message: &str) {
        if self.json {
            println!("{}", json!({"event": "error", "message": message}));
        } else {
            eprintln!("error: {message}");
        }
    }
}
