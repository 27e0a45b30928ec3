//! The CLI's exit codes, in one place: scripts branch on them, so each keeps its meaning.

use patchbay_engine::HubError;

/// The command did what it was asked.
pub const OK: u8 = 0;
/// A tool call returned an error or did not succeed (timed out, cancelled, failed).
pub const CALL_FAILED: u8 = 1;
/// The command line or the configuration is wrong (bad arguments, unknown server, a question
/// that needs `--yes`), or the data dir could not be opened.
pub const USAGE: u8 = 2;
/// The server could not be reached or logged in to.
pub const CONNECTION: u8 = 3;
/// Ctrl-C ended the command (the shell's 128 + SIGINT).
pub const INTERRUPTED: u8 = 130;

/// The exit code for an engine error that ended a command.
pub fn for_error(error: &HubError) -> u8 {
    match error {
        HubError::Unavailable(_) | HubError::Request { .. } | HubError::Login(_) => CONNECTION,
        _ => USAGE,
    }
}
