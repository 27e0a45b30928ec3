#!/usr/bin/env node
// The desktop app's startup and memory; run it through `scripts/bench-app` (see BENCHMARKS.md).
//
//   node tests/bench/app.mjs [--runs N] [--servers S] [--no-build] [--app PATH] [--cli PATH] [--json]
//
// 1. Builds the app and the CLI in release mode (unless --no-build).
// 2. Registers S (10) stdio server-everything servers in a temp data dir with patchbay-cli.
// 3. Starts one Xvfb, then N (5) times: starts the app with that data dir, and takes
//    - startup: from spawning the process to the window's "first server list painted" report
//      (the page calls `ui_painted` two animation frames after rendering the list);
//    - memory, once every server logged `server state state="connected"`: resident set size
//      (VmRSS) summed over the app and every process under it, split into the app's own
//      processes (patchbay + WebKit's web and network processes) and the MCP servers it runs;
//    then SIGTERMs the app, waits for it to exit, and checks no server process is left.
// 4. Prints min / median / max.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const EVERYTHING = path.join(ROOT, 'tests/peers/node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const NODE = process.env.PATCHBAY_TEST_NODE || process.execPath;
const TARGET = process.env.CARGO_TARGET_DIR ? path.resolve(process.env.CARGO_TARGET_DIR) : path.join(ROOT, 'target');

const opts = { runs: 5, servers: 10, build: true, json: false, app: path.join(TARGET, 'release/patchbay'), cli: path.join(TARGET, 'release/patchbay-cli') };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  const value = () => process.argv[++i] ?? fail(`${a} needs a value`);
  if (a === '--runs') opts.runs = Number(value());
  else if (a === '--servers') opts.servers = Number(value());
  else if (a === '--no-build') opts.build = false;
  else if (a === '--app') (opts.app = path.resolve(value())), (opts.build = false);
  else if (a === '--cli') (opts.cli = path.resolve(value())), (opts.build = false);
  else if (a === '--json') opts.json = true;
  else fail(`unknown option ${a}`);
}

function fail(message) {
  console.error(`error: ${message}`);
  process.exit(2);
}
const log = (m) => process.stderr.write(`==> ${m}\n`);

/** pid -> { ppid, rss (kB), comm } for every process we can read. */
function processTable() {
  const table = new Map();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = fs.readFileSync(`/proc/${entry}/status`, 'utf8');
      const field = (k) => status.match(new RegExp(`^${k}:\\s*(.*)$`, 'm'))?.[1] ?? '';
      // PSS counts each shared page once across processes (WebKit's libraries are mapped by
      // all three app processes), so it is the fair sum; RSS is given too, as `ps` shows it.
      let pss = 0;
      try {
        pss = parseInt(fs.readFileSync(`/proc/${entry}/smaps_rollup`, 'utf8').match(/^Pss:\s*(\d+)/m)?.[1] ?? '0');
      } catch {
        // not ours to read
      }
      table.set(Number(entry), { ppid: Number(field('PPid')), rss: parseInt(field('VmRSS')) || 0, pss, comm: field('Name') });
    } catch {
      // gone meanwhile
    }
  }
  return table;
}

function descendants(root, table) {
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const [pid, p] of table) if (p.ppid === out[i]) out.push(pid);
  return out;
}

function serverPids(marker) {
  return [...processTable().keys()].filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/environ`, 'latin1').includes(marker);
    } catch {
      return false;
    }
  });
}

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0], median: s[Math.floor((s.length - 1) / 2)], max: s.at(-1) };
}

async function once(env, marker) {
  const t0 = process.hrtime.bigint();
  const app = spawn(opts.app, [], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise((resolve) => app.once('exit', resolve));
  let paintedMs = null;
  const connectedServers = new Set();
  const allConnected = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${connectedServers.size} of ${opts.servers} servers connected in 60 s`)), 60000);
    readline.createInterface({ input: app.stderr }).on('line', (line) => {
      if (process.env.PATCHBAY_BENCH_VERBOSE) process.stderr.write(`    app: ${line}\n`);
      if (paintedMs === null && line.includes('first server list painted')) paintedMs = Number(process.hrtime.bigint() - t0) / 1e6;
      const server = line.match(/server=([^}\s]+)/)?.[1];
      if (server && line.includes('server state') && line.includes('state="connected"')) connectedServers.add(server);
      if (connectedServers.size >= opts.servers && paintedMs !== null) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  try {
    await allConnected;
  } catch (e) {
    app.kill('SIGTERM');
    await exited;
    throw e;
  }
  await new Promise((r) => setTimeout(r, 1000)); // let the page settle after the last update
  const table = processTable();
  const tree = descendants(app.pid, table);
  const servers = new Set(serverPids(marker));
  let appKb = 0;
  let appPssKb = 0;
  let serverKb = 0;
  for (const pid of tree) {
    const p = table.get(pid);
    if (servers.has(pid)) serverKb += p.rss;
    else (appKb += p.rss), (appPssKb += p.pss);
  }
  const appProcs = tree.filter((p) => !servers.has(p)).map((p) => table.get(p).comm);
  app.kill('SIGTERM');
  await exited;
  await new Promise((r) => setTimeout(r, 500));
  const left = serverPids(marker).length;
  return { paintedMs, appMb: appKb / 1024, appPssMb: appPssKb / 1024, serverMb: serverKb / 1024, serverCount: servers.size, appProcs, left };
}

async function main() {
  if (opts.build) {
    log('building patchbay and patchbay-cli (release)');
    const b = spawnSync('cargo', ['build', '--release', '--locked', '-p', 'patchbay-app', '-p', 'patchbay-cli'], { cwd: ROOT, stdio: 'inherit' });
    if (b.status !== 0) fail('cargo build --release failed');
  }
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'patchbay-bench-app-'));
  const marker = `pbbench-${process.pid}`;
  const env = {
    ...process.env,
    PATCHBAY_DATA_DIR: path.join(scratch, 'data'),
    XDG_CONFIG_HOME: path.join(scratch, 'config'),
    PATCHBAY_KEYRING: 'off',
    PATCHBAY_SINGLE_INSTANCE: 'off',
    RUST_LOG: 'warn,patchbay::startup=info,patchbay_engine::session=info',
  };
  for (let i = 0; i < opts.servers; i++) {
    const r = spawnSync(opts.cli, ['servers', 'add', `ev${i}`, '--env', `PATCHBAY_BENCH_MARKER=${marker}`, '--', NODE, EVERYTHING, 'stdio'], { env, encoding: 'utf8' });
    if (r.status !== 0) fail(`patchbay-cli servers add failed: ${r.stderr}`);
  }
  const display = `:${90 + (process.pid % 9)}`;
  const xvfb = spawn('Xvfb', [display, '-screen', '0', '1280x900x24', '-nolisten', 'tcp'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 800));
  env.DISPLAY = display;
  const runs = [];
  try {
    for (let i = 0; i < opts.runs; i++) {
      const r = await once(env, marker);
      log(`run ${i + 1}: painted ${r.paintedMs.toFixed(0)} ms, app RSS ${r.appMb.toFixed(0)} MB / PSS ${r.appPssMb.toFixed(0)} MB (${r.appProcs.join(', ')}), ${r.serverCount} servers ${r.serverMb.toFixed(0)} MB, left behind ${r.left}`);
      runs.push(r);
    }
  } finally {
    xvfb.kill('SIGTERM');
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  const summary = {
    servers: opts.servers,
    runs: runs.length,
    painted_ms: stats(runs.map((r) => r.paintedMs)),
    app_rss_mb: stats(runs.map((r) => r.appMb)),
    app_pss_mb: stats(runs.map((r) => r.appPssMb)),
    servers_rss_mb: stats(runs.map((r) => r.serverMb)),
    servers_left_behind: Math.max(...runs.map((r) => r.left)),
  };
  if (opts.json) console.log(JSON.stringify(summary));
  else {
    const f = (s, d = 0) => `${s.min.toFixed(d)} / ${s.median.toFixed(d)} / ${s.max.toFixed(d)}`;
    console.log(`Patchbay app, ${opts.servers} stdio servers, ${runs.length} runs (min / median / max)`);
    console.log(`  process start -> first painted server list: ${f(summary.painted_ms)} ms`);
    console.log(`  memory of the app processes (patchbay + WebKit), all ${opts.servers} connected: PSS ${f(summary.app_pss_mb)} MB, RSS ${f(summary.app_rss_mb)} MB`);
    console.log(`  resident memory, the ${opts.servers} server-everything processes: ${f(summary.servers_rss_mb)} MB`);
    console.log(`  server processes left after SIGTERM: ${summary.servers_left_behind}`);
  }
  if (summary.servers_left_behind > 0) process.exit(1);
}

main().catch((e) => fail(e.message));
