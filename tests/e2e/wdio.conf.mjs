// End-to-end tests of the real Patchbay binary: tauri-driver + WebKitWebDriver, WebdriverIO in
// classic mode, under xvfb-run (see scripts/e2e). The app gets a fresh data dir, a key file
// instead of the keyring, its own window-state dir, and `follow` logins (no person at a browser).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const app = process.env.PATCHBAY_BIN ?? path.join(root, 'target/debug/patchbay');
const driverBin = process.env.TAURI_DRIVER ?? 'tauri-driver';
// The launcher makes the scratch dir; workers (which load this file again) inherit it.
const scratch = process.env.PATCHBAY_E2E_SCRATCH ?? fs.mkdtempSync(path.join(os.tmpdir(), 'patchbay-e2e-'));

Object.assign(process.env, {
  PATCHBAY_DATA_DIR: path.join(scratch, 'data'),
  XDG_CONFIG_HOME: path.join(scratch, 'config'),
  PATCHBAY_KEYRING: 'off',
  PATCHBAY_SINGLE_INSTANCE: 'off',
  PATCHBAY_BROWSER: 'follow',
  PATCHBAY_E2E_SCRATCH: scratch,
});

let driver;
let oauth;

function waitPort(port, ms = 20000) {
  return new Promise((resolve, reject) => {
    const end = Date.now() + ms;
    const attempt = () => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.end(), resolve()));
      s.once('error', () => {
        s.destroy();
        if (Date.now() > end) reject(new Error(`nothing listens on port ${port}`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

/** The OAuth peer (oidc-provider in front of server-everything); its first line says where. */
async function startOAuthPeer() {
  const node = process.env.PATCHBAY_TEST_NODE ?? process.execPath;
  const child = spawn(node, [path.join(root, 'tests/peers/oauth/server.mjs')], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const line = await new Promise((resolve, reject) => {
    readline.createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the OAuth peer exited (${code})`)));
  });
  const ready = JSON.parse(line);
  process.env.PATCHBAY_E2E_OAUTH_RESOURCE = ready.resource;
  return child;
}

export const config = {
  runner: 'local',
  hostname: '127.0.0.1',
  port: 4444,
  specs: ['./specs/**/*.e2e.mjs'],
  maxInstances: 1,
  capabilities: [
    {
      'tauri:options': { application: app, args: [] },
      'wdio:enforceWebDriverClassic': true,
    },
  ],
  framework: 'mocha',
  reporters: ['spec'],
  mochaOpts: { ui: 'bdd', timeout: 120000 },
  logLevel: 'warn',
  waitforTimeout: 30000,
  connectionRetryCount: 3,
  onPrepare: async () => {
    if (!fs.existsSync(app)) throw new Error(`no app binary at ${app}; build it first (scripts/e2e does)`);
    oauth = await startOAuthPeer();
    driver = spawn(driverBin, ['--port', '4444', '--native-port', '4445'], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    await waitPort(4444);
    await waitPort(4445);
  },
  onComplete: () => {
    driver?.kill('SIGTERM');
    oauth?.kill('SIGTERM');
    fs.rmSync(scratch, { recursive: true, force: true });
  },
};
