//! What a server names and says about a task (its id, its question keys, its status message),
//! checked before Patchbay shows it or sends it back. Both kinds of task use these
//! (`tasks.rs`, `extension_tasks.rs`).

/// A task id or question key is the server's handle, sent back as it came: a handle longer
/// than this (or with control characters) is not one a person could ever be shown.
pub(crate) const MAX_HANDLE: usize = 256;
/// A status message is one line of at most this many characters.
pub(crate) const MAX_MESSAGE: usize = 500;

/// Whether `handle` can be shown and sent back as it is.
pub(crate) fn usable(handle: &str) -> bool {
    !handle.is_empty() && handle.len() <= MAX_HANDLE && !handle.chars().any(char::is_control)
}

/// A server's status message as one bounded line: line breaks and other control characters
/// become spaces, so it cannot pose as a line of Patchbay's own in a terminal.
pub(crate) fn one_line(message: &str) -> String {
    let flat: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    crate::causes::bounded(flat.trim(), MAX_MESSAGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_and_messages_from_a_server_are_checked() {
        assert!(usable("task-1"));
        assert!(!usable(""));
        assert!(!usable(&"x".repeat(MAX_HANDLE + 1)));
        assert!(!usable("task\n1"));
        assert_eq!(
            one_line("step 1\nerror: fake\x1b[31m"),
            "step 1 error: fake [31m"
        );
        assert!(one_line(&"y".repeat(10_000)).len() < MAX_MESSAGE + 100);
    }
}
