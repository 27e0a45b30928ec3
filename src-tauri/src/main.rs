//! Patchbay's desktop shell. For now it opens the main window on the placeholder UI; the Tauri
//! commands that call the engine's `Hub`, and the bridge that forwards its events, come next.

// No console window beside the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

// The shell is built on the engine; its commands will hold a `patchbay_engine::Hub`.
use patchbay_engine as _;

fn main() {
    tauri::Builder::default()
        .run(tauri::generate_context!())
        .expect("Patchbay could not start its window");
}
