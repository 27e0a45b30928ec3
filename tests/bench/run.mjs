#!/usr/bin/env node
// Patchbay against the official TypeScript SDK clients, on loopback, side by side, in both MCP eras.
// Run it through `scripts/bench` (which installs the pinned peers first); see BENCHMARKS.md.
//
//   node tests/bench/run.mjs [--ts-only] [--no-build] [--cli PATH] [--repeat-c1 N] [--repeat-c32 N]
//                            [--servers S] [--skip-connect] [--era 2025|2026|both] [--json]
//
// Two eras, each with its own server and reference client (--era picks one; both by default):
//   2025        server-everything (2025-era `initialize` only) and tests/peers/bench/ts-client.mjs
//               (@modelcontextprotocol/sdk, the v1 SDK).
//   2026-07-28  tests/peers/v2-server.mjs (@modelcontextprotocol/server 2.4.0) and
//               tests/peers/bench/ts2-client.mjs --server v2 --negotiation pin
//               (@modelcontextprotocol/client 2.4.0 pinned to 2026-07-28: server/discover, then
//               stateless requests). Patchbay gets no flag: it probes with server/discover and
//               speaks 2026-07-28 to this server by itself.
//
// 1. Builds the CLI once: cargo build --release --locked -p patchbay-cli (unless --ts-only/--no-build).
// Then for each era, in turn:
// 2. Starts the era's server over Streamable HTTP on a free loopback port (endpoint /mcp).
// 3. In a temp data dir, registers that endpoint (http) and a stdio instance of the same server.
// 4. For each transport (http, stdio) and concurrency (1, 32): `patchbay-cli call NAME echo
//    --repeat N --concurrency C`, then the era's TS client with the same numbers; each prints one
//    {"event":"summary",...} line, read here.
// 5. Registers S (20) stdio servers in a second data dir and times `patchbay-cli connect --all`,
//    then the TS client's `--mode connect --servers S`.
// 6. Stops the era's HTTP server.
// Then prints one table per era; the ratios are Patchbay / TS SDK. --json prints instead
//   {"node":..,"peers":{..},"rows":[{era,label,transport,c,n,pb,ts},..],"connect":[{era,label,servers,pb,ts},..]}
//
// Node: this script and the servers run on the Node that runs this script (scripts/bench uses the
// pinned Node 22 from tests/peers), or PATCHBAY_TEST_NODE if that is set.

import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const PEERS = path.join(ROOT, "tests/peers");
const EVERYTHING = path.join(PEERS, "node_modules/@modelcontextprotocol/server-everything/dist/index.js");
const TS_CLIENT = path.join(PEERS, "bench/ts-client.mjs");
const V2_SERVER = path.join(PEERS, "v2-server.mjs");
const TS2_CLIENT = path.join(PEERS, "bench/ts2-client.mjs");
const NODE = process.env.PATCHBAY_TEST_NODE || process.execPath;
const TARGET = process.env.CARGO_TARGET_DIR ? path.resolve(process.env.CARGO_TARGET_DIR) : path.join(ROOT, "target");

function parseArgs(argv) {
  const opts = {
    tsOnly: false,
    build: true,
    cli: path.join(TARGET, "release/patchbay-cli"),
    repeatC1: 500,
    repeatC32: 2000,
    servers: 20,
    connect: true,
    eras: ["2025", "2026"],
    json: false,
  };
  const num = (flag, v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) fail(`${flag} takes a whole number of at least 1, not ${v}`, 2);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (argv[i + 1] === undefined) fail(`${a} needs a value`, 2);
      return argv[++i];
    };
    switch (a) {
      case "--ts-only": opts.tsOnly = true; break;
      case "--no-build": opts.build = false; break;
      case "--cli": opts.cli = path.resolve(value()); opts.build = false; break;
      case "--repeat-c1": opts.repeatC1 = num(a, value()); break;
      case "--repeat-c32": opts.repeatC32 = num(a, value()); break;
      case "--servers": opts.servers = num(a, value()); break;
      case "--skip-connect": opts.connect = false; break;
      case "--era": {
        const v = value();
        if (v === "both") opts.eras = ["2025", "2026"];
        else if (v === "2025") opts.eras = ["2025"];
        else if (v === "2026" || v === "2026-07-28") opts.eras = ["2026"];
        else fail(`--era is 2025, 2026 or both, not ${v}`, 2);
        break;
      }
      case "--json": opts.json = true; break;
      case "-h":
      case "--help":
        process.stdout.write(
          "usage: run.mjs [--ts-only] [--no-build] [--cli PATH] [--repeat-c1 N] [--repeat-c32 N]\n" +
            "               [--servers S] [--skip-connect] [--era 2025|2026|both] [--json]\n",
        );
        process.exit(0);
      default:
        fail(`unknown argument ${a} (try --help)`, 2);
    }
  }
  return opts;
}

function fail(message, code = 1) {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(code);
}

const log = (message) => process.stderr.write(`bench: ${message}\n`);

/** Runs a program to completion; resolves with its stdout lines, rejects with its stderr. */
function run(cmd, args, { env } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env: env ?? process.env });
    const out = [];
    const err = [];
    child.stdout.on("data", (d) => out.push(d));
    child.stderr.on("data", (d) => err.push(d));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const stdout = Buffer.concat(out).toString("utf8");
      if (code === 0) return resolve(stdout.split("\n").filter((l) => l.trim() !== ""));
      const stderr = Buffer.concat(err).toString("utf8").trim();
      const tail = stdout.trim().split("\n").slice(-3).join("\n");
      reject(new Error(`${path.basename(cmd)} ${args.join(" ")} exited ${code ?? signal}\n${stderr}\n${tail}`.trim()));
    });
  });
}

/** The last stdout line that parses as JSON with this event name. */
function lastEvent(lines, event) {
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const v = JSON.parse(lines[i]);
      if (v && v.event === event) return v;
    } catch {
      // not JSON: a human line; skip it
    }
  }
  throw new Error(`no {"event":"${event}"} line in the output:\n${lines.slice(-5).join("\n")}`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** server-everything over Streamable HTTP; resolves once it says it is listening. */
async function startEverythingHttp() {
  const port = await freePort();
  const child = spawn(NODE, [EVERYTHING, "streamableHttp"], {
    env: { ...process.env, PORT: String(port) },
    // It logs a line to stdout per request: discard, so the pipe can never fill up.
    stdio: ["ignore", "ignore", "pipe"],
  });
  await new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`server-everything did not listen within 20 s:\n${seen}`)), 20_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server-everything exited ${code} before listening:\n${seen}`));
    });
    child.stderr.on("data", (d) => {
      seen += d.toString("utf8");
      if (/listening on port/i.test(seen)) {
        clearTimeout(timer);
        child.removeAllListeners("exit");
        resolve();
      }
    });
  });
  child.stderr.resume();
  return { child, url: `http://127.0.0.1:${port}/mcp` };
}

/** tests/peers/v2-server.mjs over stateless Streamable HTTP; resolves with the URL it prints. */
async function startV2Http() {
  const child = spawn(NODE, [V2_SERVER, "http", "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  let errText = "";
  child.stderr.on("data", (d) => {
    // Only errors go to its stderr (no --log); keep the start for a failure message.
    if (errText.length < 4000) errText += d.toString("utf8");
  });
  const url = await new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`v2-server did not listen within 20 s:\n${seen}${errText}`)), 20_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`v2-server exited ${code} before listening:\n${seen}${errText}`));
    });
    child.stdout.on("data", (d) => {
      seen += d.toString("utf8");
      const nl = seen.indexOf("\n");
      if (nl < 0) return;
      clearTimeout(timer);
      child.removeAllListeners("exit");
      try {
        resolve(JSON.parse(seen.slice(0, nl)).url);
      } catch {
        reject(new Error(`v2-server printed ${seen.slice(0, nl)}, not {"url":...}`));
      }
    });
  });
  child.stdout.resume();
  return { child, url };
}

/** The version field of an installed package under tests/peers/node_modules, or "?". */
function peerVersion(name) {
  try {
    return JSON.parse(fs.readFileSync(path.join(PEERS, "node_modules", name, "package.json"), "utf8")).version;
  } catch {
    return "?";
  }
}

const PEER_VERSIONS = {
  sdk: peerVersion("@modelcontextprotocol/sdk"),
  client: peerVersion("@modelcontextprotocol/client"),
  server: peerVersion("@modelcontextprotocol/server"),
  everything: peerVersion("@modelcontextprotocol/server-everything"),
};

// The two eras: their server (HTTP and stdio), their reference TS client, and their labels.
const ERAS = {
  2025: {
    era: "2025",
    label: "2025 · server-everything",
    name: "everything",
    needs: [EVERYTHING, TS_CLIENT],
    startHttp: startEverythingHttp,
    stdio: [EVERYTHING, "stdio"],
    tsClient: [TS_CLIENT],
    ts: `@modelcontextprotocol/sdk ${PEER_VERSIONS.sdk} Client (initialize handshake)`,
    server: `@modelcontextprotocol/server-everything ${PEER_VERSIONS.everything}`,
  },
  2026: {
    era: "2026-07-28",
    label: "2026-07-28 · v2 server",
    name: "v2",
    needs: [V2_SERVER, TS2_CLIENT, path.join(PEERS, "node_modules/@modelcontextprotocol/client/package.json")],
    startHttp: startV2Http,
    stdio: [V2_SERVER, "stdio"],
    tsClient: [TS2_CLIENT, "--server", "v2", "--negotiation", "pin"],
    ts: `@modelcontextprotocol/client ${PEER_VERSIONS.client} Client pinned to 2026-07-28 (server/discover, stateless)`,
    server: `tests/peers/v2-server.mjs on @modelcontextprotocol/server ${PEER_VERSIONS.server}`,
  },
};

function makeCli(bin, dataDir) {
  return (...args) => run(bin, ["--data-dir", dataDir, "--json", ...args]);
}

async function patchbayCalls(cli, name, n, c) {
  const lines = await cli("call", name, "echo", "--args", '{"message":"bench"}', "--repeat", String(n), "--concurrency", String(c));
  return lastEvent(lines, "summary");
}

async function tsCalls(era, transport, url, n, c) {
  const args = [...era.tsClient, "--transport", transport, "--repeat", String(n), "--concurrency", String(c)];
  if (transport === "http") args.push("--url", url);
  return lastEvent(await run(NODE, args), "summary");
}

// ---- the table ------------------------------------------------------------------------------

const fmt = (v, digits = 2) => (v === undefined || v === null ? "-" : Number(v).toFixed(digits));
const ratio = (a, b) => (a == null || b == null || b === 0 ? "-" : (a / b).toFixed(2));

function table(era, rows, connect, pbLabel) {
  const head = [
    "transport", "conc", "calls",
    "PB p50 ms", "PB p99 ms", "PB calls/s",
    "TS p50 ms", "TS p99 ms", "TS calls/s",
    "p50 PB/TS", "calls/s PB/TS",
  ];
  const body = rows.map(({ transport, c, n, pb, ts }) => [
    transport, String(c), String(n),
    fmt(pb?.p50_ms), fmt(pb?.p99_ms), fmt(pb?.calls_per_sec, 0),
    fmt(ts?.p50_ms), fmt(ts?.p99_ms), fmt(ts?.calls_per_sec, 0),
    ratio(pb?.p50_ms, ts?.p50_ms), ratio(pb?.calls_per_sec, ts?.calls_per_sec),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells) => cells.map((s, i) => (i < 1 ? s.padEnd(widths[i]) : s.padStart(widths[i]))).join("  ");
  const title = `== ${era.label} `;
  const out = [
    title + "=".repeat(Math.max(3, widths.reduce((a, w) => a + w + 2, -2) - title.length)),
    `server: ${era.server}`,
    `PB = ${pbLabel}; TS = ${era.ts}`,
    "",
    line(head),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...body.map(line),
  ];
  const errs = rows.filter((r) => (r.pb?.errors ?? 0) + (r.ts?.errors ?? 0) > 0);
  for (const r of errs) {
    out.push(`note: ${r.transport} c=${r.c}: Patchbay ${r.pb?.errors ?? "-"} errors, TS ${r.ts?.errors ?? "-"} errors`);
  }
  if (connect) {
    out.push("");
    out.push(
      `${connect.servers} stdio servers to connected: Patchbay ${fmt(connect.pb?.elapsed_ms, 0)} ms, ` +
        `TS SDK ${fmt(connect.ts?.elapsed_ms, 0)} ms, PB/TS ${ratio(connect.pb?.elapsed_ms, connect.ts?.elapsed_ms)}`,
    );
    if (connect.pb?.failed) out.push(`note: Patchbay: ${connect.pb.failed} of ${connect.servers} servers failed to connect`);
  }
  return out.join("\n") + "\n";
}

// ---- main -----------------------------------------------------------------------------------

const opts = parseArgs(process.argv.slice(2));
const cleanups = [];
const cleanup = () => {
  while (cleanups.length) {
    try {
      cleanups.pop()();
    } catch {
      // best effort
    }
  }
};
process.on("SIGINT", () => {
  cleanup();
  process.exit(130);
});

/** One era's cases and connect run; the era's HTTP server is stopped before it returns. */
async function runEra(era) {
  const server = await era.startHttp();
  const stopServer = () => server.child.kill("SIGTERM");
  cleanups.push(stopServer);
  log(`[${era.label}] server listening at ${server.url}`);

  let cli;
  if (!opts.tsOnly) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "patchbay-bench-"));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    cli = makeCli(opts.cli, dir);
    await cli("servers", "add", `${era.name}-http`, "--url", server.url, "--transport", "http");
    await cli("servers", "add", `${era.name}-stdio`, "--", NODE, ...era.stdio);
  }

  const cases = [];
  for (const transport of ["http", "stdio"]) {
    cases.push({ transport, c: 1, n: opts.repeatC1 }, { transport, c: 32, n: opts.repeatC32 });
  }
  const rows = [];
  for (const { transport, c, n } of cases) {
    log(`[${era.label}] ${transport}, concurrency ${c}, ${n} calls`);
    const pb = cli ? await patchbayCalls(cli, `${era.name}-${transport}`, n, c) : undefined;
    const ts = await tsCalls(era, transport, server.url, n, c);
    rows.push({ era: era.era, label: era.label, transport, c, n, pb, ts });
  }
  stopServer();

  let connect;
  if (opts.connect) {
    log(`[${era.label}] ${opts.servers} stdio servers to connected`);
    let pb;
    if (!opts.tsOnly) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "patchbay-bench-connect-"));
      cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
      const many = makeCli(opts.cli, dir);
      for (let i = 1; i <= opts.servers; i++) {
        await many("servers", "add", `${era.name}-${String(i).padStart(2, "0")}`, "--", NODE, ...era.stdio);
      }
      pb = lastEvent(await many("connect", "--all"), "connected_all");
    }
    const ts = lastEvent(
      await run(NODE, [...era.tsClient, "--mode", "connect", "--servers", String(opts.servers)]),
      "connected_all",
    );
    connect = { era: era.era, label: era.label, servers: opts.servers, pb, ts };
  }
  return { rows, connect };
}

try {
  const eras = opts.eras.map((e) => ERAS[e]);
  for (const f of eras.flatMap((e) => e.needs)) {
    if (!fs.existsSync(f)) throw new Error(`${f} is missing: run scripts/bench (it installs tests/peers)`);
  }
  if (!opts.tsOnly && opts.build) {
    log("building patchbay-cli (release)");
    const b = spawnSync("cargo", ["build", "--release", "--locked", "-p", "patchbay-cli"], {
      cwd: ROOT,
      stdio: ["ignore", 2, 2],
    });
    if (b.status !== 0) throw new Error("cargo build --release -p patchbay-cli failed");
  }
  if (!opts.tsOnly && !fs.existsSync(opts.cli)) throw new Error(`no CLI binary at ${opts.cli}`);

  const results = [];
  for (const era of eras) results.push({ era, ...(await runEra(era)) });

  if (opts.json) {
    process.stdout.write(
      JSON.stringify({
        node: process.versions.node,
        peers: PEER_VERSIONS,
        cli: opts.tsOnly ? null : opts.cli,
        rows: results.flatMap((r) => r.rows),
        connect: results.map((r) => r.connect).filter(Boolean),
      }) + "\n",
    );
  } else {
    const release = path.join(TARGET, "release/patchbay-cli");
    const pbLabel = opts.tsOnly ? "patchbay-cli (not run: --ts-only)" : opts.cli === release ? "patchbay-cli (release)" : opts.cli;
    const parts = results.map((r) => table(r.era, r.rows, r.connect, pbLabel));
    parts.push(
      `TS clients and servers on Node ${process.versions.node}. ` +
        "p50 PB/TS below 1 and calls/s PB/TS above 1 mean Patchbay is faster.\n",
    );
    process.stdout.write(parts.join("\n"));
  }
  cleanup();
  process.exit(0);
} catch (err) {
  cleanup();
  fail(err?.message ?? String(err));
}
