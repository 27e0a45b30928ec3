//! Tauri's code generation reads tauri.conf.json and embeds `frontendDist` (../ui/dist) into the binary.
//!
//! `scripts/run` and `scripts/test` copy the UI into ui/dist before building. So that a bare
//! `cargo build --workspace` in a fresh clone also compiles, this script does the same copy when
//! ui/dist has no index.html yet (ui/dist is build output and is gitignored).
use std::fs;
use std::path::Path;

/// The files of the placeholder UI, copied as they are until the UI gets its own build.
const UI_FILES: &[&str] = &["index.html", "style.css"];

fn main() {
    let ui = Path::new("../ui");
    let dist = ui.join("dist");
    for file in UI_FILES {
        println!("cargo:rerun-if-changed=../ui/{file}");
    }
    if !dist.join("index.html").exists() {
        fs::create_dir_all(&dist).expect("create ui/dist");
        for file in UI_FILES {
            fs::copy(ui.join(file), dist.join(file))
                .unwrap_or_else(|e| panic!("copy ui/{file} into ui/dist: {e}"));
        }
    }
    tauri_build::build()
}
