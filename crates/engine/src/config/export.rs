//! STUB: export to Claude Desktop's shape.
use super::ServerDef;
pub fn export_claude(_servers: &[ServerDef]) -> serde_json::Value { todo!() }
