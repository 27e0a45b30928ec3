//! A server's notifications journal: what it sent besides answers, newest last, for a person
//! reading along (the details panel, `patchbay-cli watch`). Progress is left out: it
//! belongs to its call, which shows it, and a busy server sends it by the thousand.
//!
//! Who owns what: the session's transport tap writes, in arrival order; readers copy. Bounded,
//! so a chatty server costs at most `KEEP` entries.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::clock::now_ms;
use serde::Serialize;
use serde_json::Value;

/// How many notifications a server's journal keeps.
pub const KEEP: usize = 1000;

/// How much of each notification's params the journal keeps.
pub const KEPT_OF_EACH: crate::preview::Limits = crate::preview::Limits {
    text: 16 * 1024,
    blob: 64 * 1024,
    items: 100,
};

/// One notification as the server sent it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Notice {
    /// Counts up across every server of this process (sessions come and go when a server is
    /// edited), so a reader can tell which notices it already has.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub seq: u64,
    /// Unix epoch milliseconds, when it arrived.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub at_ms: i64,
    /// MCP's method, such as `notifications/message`.
    pub method: String,
    /// For `notifications/message`: its level (debug … emergency).
    pub level: Option<String>,
    /// MCP's params as sent, with long texts cut and large binaries left out
    /// (`KEPT_OF_EACH`).
    pub params: Value,
}

#[derive(Clone, Default)]
pub struct Notices {
    inner: Arc<Mutex<Journal>>,
}

#[derive(Default)]
struct Journal {
    kept: VecDeque<Notice>,
}

static NEXT_SEQ: AtomicU64 = AtomicU64::new(1);

impl Notices {
    /// Records one notification; returns it as kept.
    pub fn record(&self, method: &str, level: Option<String>, params: Value) -> Notice {
        let mut j = self.inner.lock().unwrap();
        let notice = Notice {
            // Taken under the journal's lock, so a journal's notices are in `seq` order.
            seq: NEXT_SEQ.fetch_add(1, Ordering::Relaxed),
            at_ms: now_ms(),
            method: method.into(),
            level,
            params,
        };
        if j.kept.len() == KEEP {
            j.kept.pop_front();
        }
        j.kept.push_back(notice.clone());
        notice
    }

    /// Every notice kept, oldest first.
    pub fn all(&self) -> Vec<Notice> {
        self.inner.lock().unwrap().kept.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_journal_keeps_the_newest_in_order() {
        let notices = Notices::default();
        for i in 0..(KEEP + 5) {
            notices.record("notifications/message", None, Value::from(i));
        }
        let all = notices.all();
        assert_eq!(all.len(), KEEP);
        assert_eq!(all[0].params, Value::from(5));
        assert!(all.windows(2).all(|w| w[0].seq + 1 == w[1].seq));
    }
}
