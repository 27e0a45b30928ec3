//! Tauri's code generation reads tauri.conf.json and embeds `frontendDist` (../ui/dist) into the
//! binary, and builds the permission set from the app manifest below.
//!
//! `scripts/run` and `scripts/test` build the UI (Vite) into ui/dist first. So that a bare
//! `cargo build --workspace` in a fresh clone still compiles, a missing ui/dist gets a one-page
//! stand-in that says how to build the real UI (ui/dist is build output and is gitignored).
use std::fs;
use std::path::Path;

/// Every command in `commands::handler()`. Naming them makes Tauri check each call against the
/// window's capability, so the window can call these and nothing else of ours.
const COMMANDS: &[&str] = &[
    "subscribe",
    "list_servers",
    "server_details",
    "add_server",
    "update_server",
    "set_enabled",
    "remove_server",
    "connect",
    "reconnect",
    "disconnect",
    "login",
    "cancel_login",
    "logout",
    "auth_status",
    "list_tools",
    "call_tool",
    "cancel_call",
    "history",
    "pick_import_file",
    "preview_import",
    "reveal_import",
    "import_servers",
    "export_servers",
    "reveal_server",
    "launch_plan",
    "confirm_launch",
    "doctor",
    "ui_painted",
    "answer_elicitation",
    "answer_sampling",
    "list_catalog",
    "read_resource",
    "get_prompt",
    "complete",
    "ping",
    "set_log_level",
    "pick_folder",
    "add_root",
    "remove_root",
    "save_call_result",
    "save_resource",
    "complete_template",
    "subscribe_resource",
    "notifications",
];

const STAND_IN: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Patchbay</title></head>\
<body><main><h1>Patchbay</h1><p>This build has no UI: run <code>scripts/run</code> (or <code>npm --prefix ui ci &amp;&amp; npm --prefix ui run build</code>) and build again.</p></main></body></html>";

fn main() {
    let dist = Path::new("../ui/dist");
    println!("cargo:rerun-if-changed=../ui/dist");
    if !dist.join("index.html").exists() {
        fs::create_dir_all(dist).expect("create ui/dist");
        fs::write(dist.join("index.html"), STAND_IN)
            .expect("write the stand-in ui/dist/index.html");
    }
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri-build");
}
