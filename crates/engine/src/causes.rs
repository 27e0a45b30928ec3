//! An error and its causes as one line: what each layer adds, said once.

/// The most of a server's own words an error message carries: a server may answer with
/// megabytes, and every reader (the window's classifier, a terminal, the event bus) pays for it.
pub const SERVER_TEXT: usize = 2000;

/// `text` cut to at most `max` characters, saying so.
pub fn bounded(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!(
            "{}… ({} more characters)",
            &text[..end],
            text[end..].chars().count()
        ),
        None => text.to_string(),
    }
}

/// Every error in a chain, joined, without repeating a message its cause already says; bounded
/// (a cause may quote what the server sent).
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    bounded(&describe_whole(e), 2 * SERVER_TEXT)
}

fn describe_whole(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = Some(e);
    while let Some(err) = cur {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.retain(|p| !text.contains(p.as_str()));
            parts.push(text);
        }
        cur = err.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_and_says_how_much_was_left_out() {
        assert_eq!(bounded("héllo", 10), "héllo");
        assert_eq!(bounded("héllo wörld", 5), "héllo… (6 more characters)");
        let huge = "x".repeat(1_000_000);
        assert!(bounded(&huge, SERVER_TEXT).len() < SERVER_TEXT + 40);
    }
}
