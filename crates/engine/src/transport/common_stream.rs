//! Whether a 2025-era Streamable HTTP session's standalone GET stream (the "common stream" rmcp
//! opens once `initialize` has given a session id) has been answered yet.
//!
//! A server may send its own requests (elicitation, sampling, roots) and notifications on that
//! stream alone, and a server built on the TypeScript SDK drops them silently while the stream is
//! not open. rmcp opens it in a task of its own, racing the first requests, so a person who calls
//! a tool the moment the badge turns green could have that tool's question lost, and the call
//! would hang. The connection is therefore reported connected only once the stream's GET has been
//! answered (or refused: then there is no such stream to wait for).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;

#[derive(Clone)]
pub struct CommonStream(Arc<State>);

struct State {
    /// A response carried a session id: rmcp will open the common stream.
    expected: AtomicBool,
    /// The first GET for it came back, with a stream or an error.
    answered: watch::Sender<bool>,
}

impl Default for CommonStream {
    fn default() -> Self {
        CommonStream(Arc::new(State {
            expected: AtomicBool::new(false),
            answered: watch::channel(false).0,
        }))
    }
}

impl CommonStream {
    /// A POST's response named a session (`Mcp-Session-Id`).
    pub(crate) fn session_given(&self) {
        self.0.expected.store(true, Ordering::Release);
    }

    /// The common stream's first GET (a session, no `Last-Event-ID`) came back.
    pub(crate) fn answered(&self) {
        self.0.answered.send_replace(true);
    }

    /// Waits until the common stream is open (or refused), when the session has one, for at most
    /// `bound`. False when it is still not answered after that.
    pub async fn opened(&self, bound: Duration) -> bool {
        if !self.0.expected.load(Ordering::Acquire) {
            return true;
        }
        let mut answered = self.0.answered.subscribe();
        tokio::time::timeout(bound, answered.wait_for(|a| *a))
            .await
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_only_for_a_stream_a_session_will_open() {
        let none = CommonStream::default();
        assert!(
            none.opened(Duration::ZERO).await,
            "no session: nothing to wait for"
        );

        let stream = CommonStream::default();
        stream.session_given();
        assert!(
            !stream.opened(Duration::from_millis(20)).await,
            "not answered yet"
        );
        let waiting = tokio::spawn({
            let stream = stream.clone();
            async move { stream.opened(Duration::from_secs(30)).await }
        });
        stream.answered();
        assert!(waiting.await.unwrap());
        assert!(
            stream.opened(Duration::ZERO).await,
            "answered stays answered"
        );
    }
}
