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

#[derive(Clone, Default)]
pub struct Roots(Arc<RwLock<Vec<RootDef>>>);

impl Roots {
    pub fn new(roots: Vec<RootDef>) -> Self {
        Roots(Arc::new(RwLock::new(roots)))
    }

    pub fn set(&self, roots: Vec<RootDef>) {
        *self.0.write().unwrap() = roots;
    }

    pub fn get(&self) -> Vec<RootDef> {
        self.0.read().unwrap().clone()
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
