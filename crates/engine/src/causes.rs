//! An error and its causes as one line: what each layer adds, said once.

/// Every error in a chain, joined, without repeating a message its cause already says.
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
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
