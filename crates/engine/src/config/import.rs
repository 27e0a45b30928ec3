//! STUB: import of Claude Desktop / VS Code / Cursor config files.
use std::path::Path;
use super::{ConfigError, ServerDef};

/// What an import would add, for a preview before anything is stored.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportPlan {
    pub servers: Vec<ServerDef>,
    /// Things the person should know (an unresolved `${input:..}`, an ignored field).
    pub warnings: Vec<String>,
}

pub fn import_file(_path: &Path) -> Result<ImportPlan, ConfigError> { todo!() }
