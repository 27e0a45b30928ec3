//! Patchbay's engine: owns every MCP connection. No GUI; the shell, the CLI and tests hold a [`Hub`].
pub mod auth;
pub mod calls;
pub mod catalog;
pub mod clock;
pub mod config;
pub mod definitions;
pub mod elicitation;
pub mod events;
mod files;
mod hub;
pub mod notices;
pub mod preview;
pub mod roots;
pub mod session;
pub mod store;
mod tasks;
pub mod transport;
pub mod vault;

pub use calls::{CallReport, CallRequest};
pub use config::{RootDef, ServerDef, TransportDef};
pub use events::{Event, EventBatch, ServerState};
pub use hub::{
    Doctor, Hub, HubError, HubOptions, ImportPreview, ImportedServer, Login, ServerDetails,
    ServerView, StartedCall, VaultReset,
};
pub use store::{CallOutcome, CallRecord};
