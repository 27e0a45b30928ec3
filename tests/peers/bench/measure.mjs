// The measurement shared by the benchmark's TypeScript SDK clients (ts-client.mjs on the v1 SDK,
// ts2-client.mjs on v2), so both are timed and reported the same way `patchbay-cli call --repeat`
// is. Each client file supplies only its SDK: how it connects, which stdio server, its options.
//
// Common options: --mode calls|connect (calls), --transport stdio|http (stdio), --url URL (needed
// for calls over http), --repeat N (500), --concurrency C (1), --warmup W (20), --servers S (20).
// A bad option prints "<client>: <why>" and the client's usage on stderr and exits 2; a run that
// fails prints "<client>: <error>" and exits 1.
//
// Calls mode: connects once, makes W warm-up calls (not measured), then N calls of `echo` spread
// over C workers that each take the next index until all N are done. Each call's latency is timed
// alone; elapsed is from the first measured call's start to the last one's end. Percentiles are
// nearest-rank. Prints ONE line on stdout:
//   {"event":"summary","count":N,"errors":E,"p50_ms":..,"p99_ms":..,"calls_per_sec":..,"elapsed_ms":..}
// A call that throws or returns isError counts as an error (and its latency is still recorded).
//
// Connect mode: starts S stdio servers, one client each, all at once, and prints
// {"event":"connected_all","count":S,"elapsed_ms":..} once every client is connected.

import { performance } from "node:perf_hooks";

/**
 * Runs one benchmark client: parses process.argv, runs the mode, prints its one line and exits.
 *
 * sdk.name            prefix of every stderr message ("ts-client")
 * sdk.usage           the usage text printed after a bad option
 * sdk.options         the client's extra options (all take a string) with their defaults
 * sdk.check(opts, usage)   validates those; runs after the --mode and --transport checks
 * sdk.message(id)     the echo message for a call: id is its index, or "warmup-<i>"
 * sdk.stdio(opts), sdk.http(url)   a new transport
 * sdk.connect(transport, opts)     a connected SDK Client
 * sdk.close(client, transport)
 */
export async function measure(sdk) {
  const opts = parseArgs(sdk, process.argv.slice(2));
  try {
    const summary = opts.mode === "connect" ? await runConnect(sdk, opts) : await runCalls(sdk, opts);
    process.stdout.write(JSON.stringify(summary) + "\n");
    process.exit(0);
  } catch (err) {
    process.stderr.write(`${sdk.name}: ${err?.stack ?? err}\n`);
    process.exit(1);
  }
}

function parseArgs(sdk, argv) {
  const usage = (message) => {
    process.stderr.write(`${sdk.name}: ${message}\n${sdk.usage}`);
    process.exit(2);
  };
  const opts = {
    mode: "calls",
    transport: "stdio",
    url: undefined,
    ...sdk.options,
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
  sdk.check?.(opts, usage);
  if (opts.mode === "calls" && opts.transport === "http" && !opts.url) usage("--transport http needs --url");
  if (opts.concurrency < 1 || opts.servers < 1) usage("--concurrency and --servers must be at least 1");
  return opts;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

const round = (x) => (x === null ? null : Math.round(x * 1000) / 1000);

async function echo(sdk, client, id) {
  const result = await client.callTool({ name: "echo", arguments: { message: sdk.message(id) } });
  return !result.isError;
}

async function runCalls(sdk, opts) {
  const transport = opts.transport === "http" ? sdk.http(opts.url) : sdk.stdio(opts);
  const client = await sdk.connect(transport, opts);
  try {
    for (let i = 0; i < opts.warmup; i++) await echo(sdk, client, `warmup-${i}`);

    const latencies = new Array(opts.repeat);
    let next = 0;
    let errors = 0;
    const worker = async () => {
      while (next < opts.repeat) {
        const i = next++;
        const t0 = performance.now();
        let ok = false;
        try {
          ok = await echo(sdk, client, i);
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
    await sdk.close(client, transport);
  }
}

async function runConnect(sdk, opts) {
  const transports = Array.from({ length: opts.servers }, () => sdk.stdio(opts));
  const start = performance.now();
  const settled = await Promise.allSettled(transports.map((t) => sdk.connect(t, opts)));
  const elapsed = performance.now() - start;
  await Promise.all(
    settled.map((s, i) =>
      (s.status === "fulfilled" ? sdk.close(s.value, transports[i]) : transports[i].close()).catch(() => {}),
    ),
  );
  const failed = settled.filter((s) => s.status === "rejected");
  if (failed.length > 0) {
    throw new Error(`${failed.length} of ${opts.servers} servers failed to connect: ${failed[0].reason}`);
  }
  return { event: "connected_all", count: opts.servers, elapsed_ms: round(elapsed) };
}
