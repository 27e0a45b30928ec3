//! Patchbay's engine: owns every MCP connection. No GUI; the shell, the CLI and tests hold a [`Hub`].
pub mod config;
pub mod store;
pub mod transport;
