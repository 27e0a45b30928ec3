//! `roots`: the folders a server may work in (MCP roots). Stored with the server; a server
//! that is connected elsewhere learns of a change the next time it connects.

use std::path::PathBuf;

use clap::Args;
use patchbay_engine::{Hub, HubError, RootDef};
use serde_json::json;

use crate::exit::{OK, USAGE};
use crate::output::Out;

#[derive(Args)]
pub struct RootsArgs {
    name: String,
    /// Add this folder (an absolute path to an existing folder). Repeatable.
    #[arg(long, value_name = "FOLDER")]
    add: Vec<PathBuf>,
    /// Remove this folder (its path or its file:// URL). Repeatable.
    #[arg(long, value_name = "FOLDER")]
    remove: Vec<String>,
    /// Remove every root first.
    #[arg(long)]
    clear: bool,
}

pub async fn run(hub: &Hub, out: Out, args: RootsArgs) -> Result<u8, HubError> {
    let name = args.name;
    let mut roots = hub.server(&name)?.roots;
    if args.clear || !args.remove.is_empty() || !args.add.is_empty() {
        // Folders are checked before anything is stored; one bad one changes nothing.
        let mut added = Vec::new();
        for folder in &args.add {
            match RootDef::from_folder(folder, None) {
                Ok(root) => added.push(root),
                Err(message) => {
                    out.error(&format!("server '{name}': {message}"));
                    return Ok(USAGE);
                }
            }
        }
        let (clear, remove) = (args.clear, args.remove);
        roots = hub
            .edit_roots(&name, |roots| {
                if clear {
                    roots.clear();
                }
                for gone in &remove {
                    let at = roots.iter().position(|r| same_root(r, gone));
                    match at {
                        Some(i) => drop(roots.remove(i)),
                        None => return Err(format!("has no root {gone:?}; see `roots NAME`")),
                    }
                }
                roots.extend(added);
                Ok(())
            })
            .await?;
    }
    for root in &roots {
        out.emit(
            json!({"event": "root", "server": name, "root": root}),
            || match &root.name {
                Some(n) => format!("{n}\t{}", root.uri),
                None => root.uri.clone(),
            },
        );
    }
    if roots.is_empty() && !out.json {
        println!("server '{name}' has no roots; add a folder with `roots {name} --add FOLDER`");
    }
    Ok(OK)
}

/// A root named by its URL or by its folder's path (with or without a trailing slash).
fn same_root(root: &RootDef, given: &str) -> bool {
    let trim = |s: &str| s.trim_end_matches('/').to_string();
    trim(&root.uri) == trim(given)
        || root
            .folder()
            .is_some_and(|f| trim(&f.to_string_lossy()) == trim(given))
}
