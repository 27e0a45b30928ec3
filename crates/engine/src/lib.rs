//! Patchbay's engine: owns every MCP connection. No GUI; the shell, the CLI and tests hold a [`Hub`].
//! The layers, who owns each shared thing and the lock order: docs/DESIGN.md.
pub mod auth;
pub mod calls;
pub mod catalog;
mod causes;
pub mod clock;
pub mod config;
pub mod definitions;
pub mod elicitation;
pub mod events;
mod files;
mod hub;
pub mod notices;
mod pending;
pub mod preview;
pub mod roots;
pub mod sampling;
pub mod server_controls;
pub mod session;
pub mod store;
pub mod transport;
pub mod vault;

// The engine's API: everything the shell and the CLI use is named here (the layer check in
// tests/layers.rs holds them to it).
pub use auth::browser::{BrowserMode, check_url, open_in_system_browser};
pub use auth::{AuthStatus, LogoutReport};
pub use calls::{CallReport, CallRequest, PastCall};
pub use catalog::{CompletionTarget, Listing, Page};
pub use clock::now_ms;
pub use config::{
    ConfigApp, EnvEntry, Export, FoundConfig, LaunchPlan, RootDef, ServerDef, TransportDef,
};
pub use elicitation::{Answer, AnswerAction, defaults as form_defaults};
pub use events::{Event, EventBatch, ServerState, next_batch};
pub use hub::{
    Doctor, Hub, HubError, HubOptions, ImportChoices, ImportPreview, ImportedServer, Login,
    SavedExport, ServerDetails, ServerView, StartedCall, VaultReset,
};
pub use notices::Notice;
pub use preview::{Preview, preview};
pub use sampling::SamplingAnswer;
pub use server_controls::LogLevel;
pub use session::{Era, Spoken};
pub use store::{CallOutcome, CallRecord};
pub use vault::{KeyBackend, Secret};
