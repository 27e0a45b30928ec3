//! Text for people, or one JSON object per line for scripts.
//!
//! Text mode prints what servers send (tool results, descriptions, log lines, questions,
//! error descriptions, their stderr), and a server is hostile until shown otherwise: every
//! line goes through [`terminal_safe`], so none can move the cursor, clear the screen, set the
//! clipboard (OSC 52), disguise a link (OSC 8) or reorder the text (bidi controls). JSON mode
//! stays exact JSON, with the same characters written as `\uXXXX` escapes ([`json_line`]):
//! JSON escapes only C0 controls by itself, and a script may print what it reads.

use std::borrow::Cow;
use std::fmt::Write;

use serde_json::{Value, json};

#[derive(Clone, Copy)]
pub struct Out {
    pub json: bool,
}

impl Out {
    /// Prints `value` in JSON mode, `text` otherwise.
    pub fn emit(&self, value: Value, text: impl FnOnce() -> String) {
        if self.json {
            println!("{}", json_line(&value));
        } else {
            println!("{}", terminal_safe(&text()));
        }
    }

    /// A line of text in text mode; nothing in JSON mode.
    pub fn note(&self, text: &str) {
        if !self.json {
            eprintln!("{}", terminal_safe(text));
        }
    }

    /// An error, on stderr for people and as an `error` event on stdout for scripts.
    pub fn error(&self, message: &str) {
        if self.json {
            println!(
                "{}",
                json_line(&json!({"event": "error", "message": message}))
            );
        } else {
            eprintln!("error: {}", terminal_safe(message));
        }
    }
}

/// `{"event": event, ...the fields of value}`: one JSON line for a thing the engine returns.
pub fn tagged(event: &str, value: &impl serde::Serialize) -> Value {
    with_fields(json!({ "event": event }), value)
}

/// `line` (a JSON object) with the fields of `value` added, when `value` is an object.
pub fn with_fields(mut line: Value, value: &impl serde::Serialize) -> Value {
    if let (Some(fields), Ok(Value::Object(more))) =
        (line.as_object_mut(), serde_json::to_value(value))
    {
        fields.extend(more);
    }
    line
}

/// Whether `c` must not reach a terminal as it is: C0 controls but tab and newline, DEL, C1
/// controls, the bidirectional marks, overrides and isolates that reorder what is shown, and
/// the invisible characters that hide text (word joiner, invisible operators, the BOM).
fn unsafe_char(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || invisible_or_reordering(c)
}

fn invisible_or_reordering(c: char) -> bool {
    matches!(
        c,
        '\u{061c}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}'
    )
}

/// `value` as one line of JSON in which C1 controls, line and paragraph separators, and the
/// characters [`terminal_safe`] escapes are written as `\uXXXX`: the same JSON value, safe to
/// print.
pub fn json_line(value: &Value) -> String {
    json_safe(value.to_string())
}

/// Serialized JSON (one line or pretty) with the characters of [`json_line`] escaped.
pub fn json_safe(text: String) -> String {
    let risky = |c: char| {
        ('\u{80}'..='\u{9f}').contains(&c)
            || matches!(c, '\u{2028}' | '\u{2029}')
            || invisible_or_reordering(c)
    };
    if !text.chars().any(risky) {
        return text;
    }
    // Outside strings serde_json writes only ASCII, so every such character is inside one.
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if risky(c) {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

/// `text` with every unsafe character written as a visible escape (`\x1b`, `\u{202e}`), so it
/// shows what was sent without doing what it asks.
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if !unsafe_char(c) {
            out.push(c);
        } else if (c as u32) < 0x80 {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_shown_not_obeyed() {
        let hostile = "ok\x1b]52;c;cm0gLXJmIH4=\x07 \x1b[2J\x1b]8;;https://evil\x1b\\click\x1b]8;;\x1b\\ \r\u{9b}31m \u{202e}txt.exe";
        let safe = terminal_safe(hostile);
        assert!(!safe.chars().any(unsafe_char), "{safe}");
        assert_eq!(
            safe,
            "ok\\x1b]52;c;cm0gLXJmIH4=\\x07 \\x1b[2J\\x1b]8;;https://evil\\x1b\\click\\x1b]8;;\\x1b\\ \\x0d\\u{9b}31m \\u{202e}txt.exe"
        );
    }

    #[test]
    fn json_stays_the_same_value_with_nothing_raw_in_it() {
        let value = json!({"text": "a\u{9b}31m\u{202e}b\u{2028}c\u{1b}[2J ✓"});
        let line = json_line(&value);
        assert!(
            line.is_ascii()
                || !line.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c)
                    || c == '\u{202e}'
                    || c == '\u{2028}'),
            "{line}"
        );
        assert!(
            line.contains("\\u009b") && line.contains("\\u202e"),
            "{line}"
        );
        assert_eq!(serde_json::from_str::<Value>(&line).unwrap(), value);
    }

    #[test]
    fn ordinary_text_passes_untouched() {
        let text = "line one\n\tindented — ünïcode ✓ 日本語";
        assert!(matches!(terminal_safe(text), Cow::Borrowed(_)));
    }
}
