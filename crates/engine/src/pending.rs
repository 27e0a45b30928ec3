//! A server's request waiting for the person's answer (an elicitation or a sampling request),
//! by id: the first answer wins, later ones find nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

/// How long a server's question waits for the person before it is cancelled.
pub(crate) const WAIT: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// One pending request: where its answer goes and, for a URL-mode question, the link the
/// person agrees to open (already checked: https, or http to this machine).
struct Waiting<T> {
    reply: oneshot::Sender<T>,
    link: Option<String>,
    /// The server's own id for the question (`elicitationId`), if it gave one.
    asked: Option<String>,
}

/// Pending server requests of one session, by id; the first answer wins.
pub struct Pending<T> {
    pending: Arc<Mutex<HashMap<String, Waiting<T>>>>,
}

impl<T> Clone for Pending<T> {
    fn clone(&self) -> Self {
        Pending {
            pending: self.pending.clone(),
        }
    }
}

impl<T> Default for Pending<T> {
    fn default() -> Self {
        Pending {
            pending: Arc::default(),
        }
    }
}

impl<T> Pending<T> {
    pub fn register(&self) -> (String, oneshot::Receiver<T>) {
        self.register_with_link(None)
    }

    /// A request whose acceptance means "open this link": `link` has passed the URL check.
    pub fn register_with_link(&self, link: Option<String>) -> (String, oneshot::Receiver<T>) {
        self.register_asking(link, None)
    }

    /// `register_with_link`, remembering the server's own id for the question.
    pub fn register_asking(
        &self,
        link: Option<String>,
        asked: Option<String>,
    ) -> (String, oneshot::Receiver<T>) {
        let id = format!("ask-{:016x}", rand::random::<u64>());
        let (reply, rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap()
            .insert(id.clone(), Waiting { reply, link, asked });
        (id, rx)
    }

    /// Whether a question the server calls `asked` is still waiting for the person.
    pub fn asking(&self, asked: &str) -> bool {
        self.pending
            .lock()
            .unwrap()
            .values()
            .any(|w| w.asked.as_deref() == Some(asked))
    }

    /// The checked link of a pending URL-mode request.
    pub fn link(&self, id: &str) -> Option<String> {
        self.pending.lock().unwrap().get(id)?.link.clone()
    }

    /// Delivers an answer; `false` when the request is unknown or already answered or gone.
    pub fn answer(&self, id: &str, answer: T) -> bool {
        match self.pending.lock().unwrap().remove(id) {
            Some(w) => w.reply.send(answer).is_ok(),
            None => false,
        }
    }

    pub fn forget(&self, id: &str) {
        self.pending.lock().unwrap().remove(id);
    }
}
