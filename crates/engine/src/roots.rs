//! A server's roots (the folders it may work in), as the live session answers `roots/list`.
//!
//! Who owns what: the store holds the truth (inside the server's definition). `Hub::set_roots`
//! writes the store first, then this shared list, then tells a connected server
//! (`notifications/roots/list_changed`); the session's client handler only reads it when the
//! server asks. Two edits at once are serialised by the hub, so the store, this list and what
//! the server is told always end on the same list.

use std::sync::{Arc, RwLock};

// Roots are deprecated (SEP-2577) for protocol revisions after 2025-11-25, which today's
// servers still speak.
#[allow(deprecated)]
use rmcp::model::Root;

use crate::config::RootDef;

/// The list and a count of its changes: a connection attempt that saw an older count tells the
/// server once it is up (an edit made while it connected found no peer to tell).
#[derive(Clone, Default)]
pub struct Roots(Arc<RwLock<(u64, Vec<RootDef>)>>);

impl Roots {
    pub fn new(roots: Vec<RootDef>) -> Self {
        Roots(Arc::new(RwLock::new((0, roots))))
    }

    pub fn set(&self, roots: Vec<RootDef>) {
        let mut list = self.0.write().unwrap();
        *list = (list.0 + 1, roots);
    }

    pub fn get(&self) -> Vec<RootDef> {
        self.0.read().unwrap().1.clone()
    }

    /// How many times the list was changed.
    pub fn version(&self) -> u64 {
        self.0.read().unwrap().0
    }

    /// The list as MCP shapes it.
    #[allow(deprecated)]
    pub fn to_mcp(&self) -> Vec<Root> {
        self.get()
            .into_iter()
            .map(|r| {
                let root = Root::new(r.uri);
                match r.name {
                    Some(name) => root.with_name(name),
                    None => root,
                }
            })
            .collect()
    }
}
