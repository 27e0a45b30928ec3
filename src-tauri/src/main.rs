//! Patchbay's desktop shell: opens the engine's `Hub`, exposes it to the window through thin
//! commands (`commands.rs`), and forwards its events over a `Channel` (`bridge.rs`). No MCP or
//! OAuth logic lives here; the engine decides everything, including which URLs may be opened.

// No console window beside the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod bridge;
mod commands;

use patchbay_engine::{Hub, HubOptions};
use tauri::Manager;
use tauri_plugin_window_state::StateFlags;

/// The longest the app waits for its servers to stop when it quits.
const SHUTDOWN_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The longest the servers wait for the window's first paint before connecting anyway.
const FIRST_PAINT_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

fn main() {
    let started = std::time::Instant::now();
    // rmcp's internal errors ("worker quit with fatal ...") are off by default: the window
    // says what failed in Patchbay's own words. RUST_LOG shows everything.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,rmcp=off")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let mut builder = tauri::Builder::default();
    // First, so a second launch only brings the running window forward. Automated tests start
    // their own instance beside whatever runs on the desktop: `PATCHBAY_SINGLE_INSTANCE=off`.
    if std::env::var("PATCHBAY_SINGLE_INSTANCE").as_deref() != Ok("off") {
        builder = builder.plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            commands::bring_to_front(app);
        }));
    }
    let app = builder
        .plugin(
            tauri_plugin_window_state::Builder::default()
                // Not decorations or visibility: restoring those surprises people.
                .with_state_flags(StateFlags::SIZE | StateFlags::POSITION | StateFlags::MAXIMIZED)
                .build(),
        )
        // The page opens nothing itself; login URLs are opened from Rust once the engine passed them.
        .plugin(
            tauri_plugin_opener::Builder::new()
                .open_js_links_on_click(false)
                .build(),
        )
        .plugin(tauri_plugin_dialog::init())
        // Copies go through Rust (`copy_text`): the page reaches no plugin command itself.
        .plugin(tauri_plugin_clipboard_manager::init())
        .setup(move |app| {
            // Opening the store is quick (SQLite, migrations); connecting is not, so the
            // window shows every server's state at once while they connect in the background.
            let data_dir = HubOptions::default_data_dir()?;
            let hub = tauri::async_runtime::block_on(Hub::open(HubOptions::new(data_dir)))?;
            // Servers start connecting once the window has painted its list (or after a
            // moment, if it never says so): ten servers starting up compete with the webview
            // for the CPU, and the person should see their servers first. (Measured in
            // BENCHMARKS.md: first paint 0.4 s instead of 1.35 s with 10 stdio servers.)
            let (painted, first_paint) = tokio::sync::oneshot::channel();
            let connecting = hub.clone();
            tauri::async_runtime::spawn(async move {
                let _ = tokio::time::timeout(FIRST_PAINT_WAIT, first_paint).await;
                connecting.connect_all();
            });
            app.manage(hub);
            app.manage(bridge::Subscription::default());
            app.manage(commands::login::Openers::default());
            app.manage(commands::app::Started::new(started, painted));
            // SIGTERM, SIGINT or SIGHUP (a logout, `kill`, Ctrl-C in a terminal) ends the app
            // the same way closing its window does, so every server process is stopped.
            #[cfg(unix)]
            let handle = app.handle().clone();
            #[cfg(unix)]
            tauri::async_runtime::spawn(async move {
                use tokio::signal::unix::{SignalKind, signal};
                let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
                    signal(SignalKind::terminate()),
                    signal(SignalKind::interrupt()),
                    signal(SignalKind::hangup()),
                ) else {
                    return;
                };
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                    _ = hup.recv() => {}
                }
                handle.exit(0);
            });
            Ok(())
        })
        .invoke_handler(commands::handler())
        .build(tauri::generate_context!())
        .unwrap_or_else(|e| {
            eprintln!("Patchbay could not start: {e}");
            std::process::exit(1);
        });
    app.run(|app, event| {
        if let tauri::RunEvent::Exit = event {
            // Every server process goes with the app, never left behind.
            // Bounded: a server that ignores its shutdown is killed with its process group
            // when the hub drops, after this.
            if let Some(hub) = app.try_state::<Hub>() {
                let _ = tauri::async_runtime::block_on(tokio::time::timeout(
                    SHUTDOWN_WAIT,
                    hub.shutdown(),
                ));
            }
        }
    });
}
