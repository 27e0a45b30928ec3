// The desktop app end to end, as a person uses it: add server-everything over stdio and watch
// it connect, run a long operation and watch its progress, cancel a call, answer the server's
// question (elicitation) and its sampling request in dialogs, run a tool as a task, kill the server's
// process and watch it recover, log in to an OAuth-protected server and log out, and speak
// 2026-07-28 to a server on the TypeScript SDK v2 (its question, a tool it adds, a task it runs). Screenshots of
// the main views go to PATCHBAY_E2E_SCREENSHOTS (scripts/e2e --screenshots: docs/screenshots),
// else to a scratch folder, so a test run leaves the tree as it found it.
import { $, $$, browser, expect } from '@wdio/globals';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const shots = process.env.PATCHBAY_E2E_SCREENSHOTS || path.join(os.tmpdir(), 'patchbay-e2e-screenshots');
const node = process.env.PATCHBAY_TEST_NODE ?? process.execPath;
const everything = path.join(root, 'tests/peers/node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const marker = `pbe2e-${process.pid}-${Date.now()}`;

const badge = (server) => $(`li[data-server="${server}"] .badge`);
const stateOf = async (server) => (await badge(server)).getAttribute('data-state');

async function waitForState(server, want, timeout = 30000) {
  let last = 'absent';
  await browser
    .waitUntil(async () => (last = await stateOf(server).catch(() => 'absent')) === want, { timeout })
    .catch(() => {
      throw new Error(`${server} never became ${want} in ${timeout} ms (last: ${last})`);
    });
}

async function shot(name) {
  fs.mkdirSync(shots, { recursive: true });
  await browser.saveScreenshot(path.join(shots, `${name}.png`));
}

/** Processes whose environment holds `marker` (the server-everything we started). */
function serverPids() {
  const pids = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/environ`, 'latin1').includes(marker)) pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

/** Every badge state a server shows from now on, recorded in the page as it changes. */
async function recordStates(server) {
  await browser.execute((name) => {
    window.__states = [];
    const read = () => {
      const b = document.querySelector(`li[data-server="${name}"] .badge`);
      const s = b?.getAttribute('data-state');
      if (s && window.__states.at(-1) !== s) window.__states.push(s);
    };
    new MutationObserver(read).observe(document.body, { subtree: true, childList: true, attributes: true });
  }, server);
}

async function addServer({ name, command, args, env, url }) {
  await $('button=Add server').click();
  await $('#server-name').setValue(name);
  if (url) {
    await $('input[value="http"]').click();
    await $('#server-url').setValue(url);
  } else {
    await $('#server-command').setValue(command);
    // One argument per line. (WebKitWebDriver drops "\n" from setValue, so press Enter.)
    const box = $('#server-args');
    for (const [i, arg] of args.entries()) {
      if (i > 0) await browser.keys('Enter');
      await box.addValue(arg);
    }
    expect(await box.getValue()).toBe(args.join('\n'));
    // One row per variable: its name, and its value (a secret: a hidden field).
    for (const [i, pair] of (env ? env.split('\n') : []).entries()) {
      const [key, ...value] = pair.split('=');
      await $('button=Add variable').click();
      await $(`input[aria-label="Name of variable ${i + 1}"]`).setValue(key);
      await $(`input[aria-label="Value of ${key}"]`).setValue(value.join('='));
    }
  }
  await $('form button[type="submit"]').click();
}

describe('Patchbay', () => {
  it('opens on the server list at once', async () => {
    await expect($('nav[aria-label="Servers"]')).toBeDisplayed();
    await expect($('nav')).toHaveText(expect.stringContaining('No servers yet'));
  });

  it('adds server-everything over stdio and shows it connecting, then connected', async () => {
    await recordStates('everything');
    await addServer({ name: 'everything', command: node, args: [everything, 'stdio'], env: `PATCHBAY_TEST_MARKER=${marker}` });
    await waitForState('everything', 'connected');
    const seen = await browser.execute(() => window.__states);
    expect(seen).toEqual(['connecting', 'connected']);
    expect(serverPids()).toHaveLength(1);
  });

  it('runs trigger-long-running-operation and shows its progress advance', async () => {
    await $('li[data-server="everything"] button.name').click();
    const tool = $('button[data-tool="trigger-long-running-operation"]');
    await tool.waitForDisplayed();
    await tool.click();
    await $('#arg-duration').setValue('3');
    await $('#arg-steps').setValue('6');
    await $('button=Run').click();
    const values = [];
    await browser.waitUntil(
      async () => {
        const bar = await $('.progress progress');
        const v = (await bar.isExisting()) ? Number(await bar.getAttribute('value')) : NaN;
        if (Number.isFinite(v) && v > 0 && values.at(-1) !== v) values.push(v);
        return (await $('section.result').isExisting()) || values.length >= 3;
      },
      { timeout: 20000, interval: 100 },
    );
    await shot('playground-progress');
    await $('section.result').waitForExist({ timeout: 20000 });
    expect(values.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < values.length; i++) expect(values[i]).toBeGreaterThan(values[i - 1]);
    await expect($('section.result')).toHaveAttribute('data-outcome', 'ok');
    await expect($('.log')).toHaveText(expect.stringContaining('progress 6 of 6'));
    await shot('playground-result');
  });

  it('opens the last tool of the list with its form and Run in view, and the page does not scroll', async () => {
    const tools = await $$('button[data-tool]');
    expect(tools.length).toBeGreaterThan(10);
    const last = tools[tools.length - 1];
    const name = await last.getAttribute('data-tool');
    await last.click(); // the list scrolls in its own pane to reach it
    await expect($('button.tool[aria-current="true"]')).toHaveAttribute('data-tool', name);
    const view = await browser.execute(() => {
      const seen = (el) => {
        const r = el?.getBoundingClientRect();
        return !!r && r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight;
      };
      const run = [...document.querySelectorAll('form button')].find((b) => b.textContent.trim() === 'Run');
      return {
        pageScrolled: document.scrollingElement.scrollTop + document.querySelector('main').scrollTop,
        header: seen(document.querySelector('main header h1')),
        tabs: seen(document.querySelector('[role=tablist]')),
        title: seen(document.querySelector('#tool-title')),
        run: seen(run),
      };
    });
    expect(view).toEqual({ pageScrolled: 0, header: true, tabs: true, title: true, run: true });
    await $('button[data-tool="trigger-long-running-operation"]').click();
  });

  it('cancels a running call', async () => {
    await $('#arg-duration').setValue('30');
    await $('#arg-steps').setValue('30');
    await $('button=Run').click();
    await browser.waitUntil(async () => Number(await $('.progress progress').getAttribute('value')) >= 1, { timeout: 15000 });
    await $('button=Cancel').click();
    await $('section.result').waitForExist({ timeout: 10000 });
    await expect($('section.result')).toHaveAttribute('data-outcome', 'cancelled');
    await expect($('.history')).toHaveText(expect.stringContaining('cancelled'));
  });

  it('runs a tool from the keyboard alone: / to search, arrows, Enter, Ctrl+Enter', async () => {
    await $('main h1').click(); // somewhere that is not a field
    await browser.keys('/');
    await expect($('#tool-filter')).toBeFocused();
    await browser.keys('echo');
    await browser.keys('ArrowDown');
    await expect($('button[data-tool="echo"]')).toBeFocused();
    await browser.keys('Enter');
    await expect($('#tool-title')).toHaveText(expect.stringContaining('Echo'));
    await $('#arg-message').click();
    await browser.keys('typed without a mouse');
    await browser.keys(['Control', 'Enter']);
    await $('section.result').waitForExist({ timeout: 10000 });
    await expect($('section.result')).toHaveText(expect.stringContaining('typed without a mouse'));
    // Copy goes through Rust's clipboard plugin, not the page's.
    await $('button[aria-label="Copy content[0]"]').click();
    await browser.waitUntil(async () => (await $('section.result [role=status]:not(:empty)').isExisting()), { timeout: 5000 });
    await expect($$('section.result [role=status]')).toBeElementsArrayOfSize({ gte: 1 });
    const said = await browser.execute(() => [...document.querySelectorAll('section.result [role=status]')].map((e) => e.textContent).join(' '));
    expect(said).toContain('Copied content[0].');
    // Empty the search again, as a person would.
    await $('#tool-filter').click();
    await browser.keys(['Control', 'a']);
    await browser.keys('Backspace');
    await expect($('button[data-tool="trigger-long-running-operation"]')).toBeDisplayed();
  });

  it('fits the window’s minimum size (640 px): nothing spills sideways, and the server list folds away', async () => {
    const before = await browser.getWindowSize();
    await browser.setWindowSize(640, 480);
    await browser.waitUntil(async () => (await browser.execute(() => window.innerWidth)) <= 660, { timeout: 5000 });
    // The list pane is short now: scroll it to the tool, as a person would with the wheel.
    // (WebKitWebDriver cannot scroll a nested pane itself, so the page does.)
    await browser.execute((el) => el.scrollIntoView({ block: 'center' }), await $('button[data-tool="echo"]'));
    await $('button[data-tool="echo"]').click();
    const measure = () =>
      browser.execute(() => {
        const main = document.querySelector('main');
        const seen = (el) => {
          const r = el?.getBoundingClientRect();
          return !!r && r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight && r.left >= 0 && r.right <= window.innerWidth;
        };
        const run = [...document.querySelectorAll('form button')].find((b) => b.textContent.trim() === 'Run');
        return {
          spills: document.documentElement.scrollWidth > window.innerWidth || main.scrollWidth > main.clientWidth,
          title: seen(document.querySelector('#tool-title')),
          run: seen(run),
          mainWidth: main.clientWidth,
        };
      });
    const narrow = await measure();
    expect(narrow).toMatchObject({ spills: false, title: true, run: true });
    await $('button*=Hide servers').click();
    await expect($('#sidebar')).not.toBeDisplayed();
    const folded = await measure();
    expect(folded).toMatchObject({ spills: false, title: true, run: true });
    expect(folded.mainWidth).toBeGreaterThan(narrow.mainWidth + 150);
    await $('button*=Servers').click();
    await expect($('#sidebar')).toBeDisplayed();
    await browser.setWindowSize(before.width, before.height);
  });

  it('shows a server’s question as a dialog and sends the answer', async () => {
    await $('button[data-tool="trigger-elicitation-request"]').click();
    await $('button=Run').click();
    const dialog = $('[role="dialog"]');
    await dialog.waitForDisplayed({ timeout: 15000 });
    await expect(dialog).toHaveText(expect.stringContaining('everything asks'));
    // A real form, titled enums and multi-selects included, with the schema's defaults.
    await expect(dialog.$('#arg-titledSingleSelectEnum')).toHaveValue('hero-1');
    await expect(dialog.$('label*=Tuna').$('input')).toBeSelected();
    await dialog.$('label*=Salmon').click();
    // `name` is required and has no default: Accept names it and sends nothing.
    await dialog.$('button=Accept').click();
    await expect(dialog.$('#arg-name-error')).toHaveText('required');
    await dialog.$('#arg-name').setValue('Ada Lovelace');
    await shot('question');
    await dialog.$('button=Accept').click();
    await dialog.waitForDisplayed({ reverse: true, timeout: 10000 });
    await $('section.result').waitForExist({ timeout: 15000 });
    await expect($('section.result')).toHaveText(expect.stringContaining('User provided the requested information'));
    await expect($('section.result')).toHaveText(expect.stringContaining('Ada Lovelace'));
    await expect($('section.result')).toHaveText(expect.stringContaining('fish-2'));
  });

  it('asks the person for a sampling reply and sends what they wrote', async () => {
    await $('button[data-tool="trigger-sampling-request"]').click();
    await $('#arg-prompt').setValue('say hi');
    await $('button=Run').click();
    const dialog = $('[role="dialog"]');
    await dialog.waitForDisplayed({ timeout: 15000 });
    await expect(dialog).toHaveText(expect.stringContaining('say hi'));
    await $('#sampling-reply').setValue('Hello from the person at the keyboard');
    await shot('sampling');
    await dialog.$('button=Approve and send').click();
    await dialog.waitForDisplayed({ reverse: true, timeout: 10000 });
    await $('section.result').waitForExist({ timeout: 15000 });
    await expect($('section.result')).toHaveText(expect.stringContaining('Hello from the person at the keyboard'));
  });

  it('runs a tool as a task, follows its status, and answers its question on the way', async () => {
    await $('button[data-tool="simulate-research-query"]').click();
    await $('#arg-topic').setValue('python');
    await $('#arg-ambiguous').click();
    await $('label*=Run as a task').click();
    await $('button=Run').click();
    await expect($('.task-status')).toHaveText(expect.stringContaining('working'));
    const dialog = $('[role="dialog"]');
    await dialog.waitForDisplayed({ timeout: 20000 });
    // The titled choices of the server's oneOf, shown by title, sent by value.
    await dialog.$('select').selectByVisibleText('Python snake species');
    // The task waits for this answer, and says so.
    await expect($('.log')).toHaveText(expect.stringContaining('task input required'), { wait: 10000 });
    await shot('task-question');
    await dialog.$('button=Accept').click();
    await dialog.waitForDisplayed({ reverse: true, timeout: 10000 });
    await $('section.result').waitForExist({ timeout: 30000 });
    await expect($('section.result')).toHaveAttribute('data-outcome', 'ok');
    await expect($('section.result')).toHaveText(expect.stringContaining('Clarification**: snake'));
    await expect($('.log')).toHaveText(expect.stringContaining('task completed'));
    await shot('task');
  });

  it('shows the error badge when the server process dies, then recovers by itself', async () => {
    await recordStates('everything');
    const [pid] = serverPids();
    process.kill(pid, 'SIGKILL');
    // First the error (the old 'connected' badge must not satisfy the wait), then the recovery.
    await browser.waitUntil(async () => (await browser.execute(() => window.__states)).includes('error'), {
      timeout: 30000,
      timeoutMsg: 'no error badge after the server process was killed',
    });
    await waitForState('everything', 'connected', 60000);
    const seen = await browser.execute(() => window.__states);
    expect(seen).toContain('error');
    expect(seen.at(-1)).toBe('connected');
    const pids = serverPids();
    expect(pids).toHaveLength(1);
    expect(pids[0]).not.toBe(pid);
    await $('button[role="tab"]=Details').click();
    await expect($('section.details')).toHaveText(expect.stringContaining('Capabilities'));
    await shot('details');
    await $('button[role="tab"]=Playground').click();
  });

  it('reads a resource and gets a prompt with its arguments', async () => {
    await $('li[data-server="everything"] button.name').click();
    await $('button[role="tab"]=Resources').click();
    const doc = $('button[data-uri="demo://resource/static/document/architecture.md"]');
    await doc.waitForDisplayed({ timeout: 15000 });
    await doc.click();
    await expect($('article')).toHaveText(expect.stringContaining('Architecture'));
    await shot('resources');
    await $('button[role="tab"]=Prompts').click();
    await $('button[data-prompt="args-prompt"]').click();
    await $('#parg-city').setValue('Lyon');
    await $('button=Get prompt').click();
    await expect($('ol[aria-label="Prompt messages"]')).toHaveText(expect.stringContaining('Lyon'));
    await $('button[role="tab"]=Playground').click();
  });

  it('logs in to an OAuth-protected server and logs out', async () => {
    const resource = process.env.PATCHBAY_E2E_OAUTH_RESOURCE;
    expect(resource).toBeTruthy();
    await addServer({ name: 'protected', url: resource });
    await waitForState('protected', 'needs_auth');
    await shot('needs-login');
    await $('li[data-server="protected"]').$('button=Log in').click();
    await waitForState('protected', 'connected');
    await $('li[data-server="protected"] button.name').click();
    await $('button[data-tool="echo"]').waitForDisplayed();
    await shot('servers');
    await $('li[data-server="protected"]').$('button[aria-label="More actions"]').click();
    await $('li[data-server="protected"]').$('button=Log out').click();
    await waitForState('protected', 'needs_auth');
  });

  it('speaks 2026-07-28 to a v2 server over stateless HTTP: its question reaches the dialog, a tool added at run time appears, a task it chose is followed', async () => {
    // The TypeScript SDK v2 test server, as that SDK serves by default; it prints its URL.
    const v2 = spawn(node, [path.join(root, 'tests/peers/v2-server.mjs'), 'http', '--port', '0'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    try {
      const url = await new Promise((resolve, reject) => {
        v2.stdout.once('data', (line) => resolve(JSON.parse(String(line)).url));
        v2.once('exit', () => reject(new Error('the v2 server exited')));
      });
      await addServer({ name: 'v2', url });
      await waitForState('v2', 'connected');
      await $('li[data-server="v2"] button.name').click();
      await $('button[role="tab"]=Details').click();
      await expect($('section.details')).toHaveText(expect.stringContaining('2026-07-28 · stateless (server/discover)'));
      await $('button[role="tab"]=Playground').click();
      // The question comes inside an input_required answer; the retry carries the answer.
      await $('button[data-tool="ask_name"]').click();
      await $('button=Run').click();
      const dialog = $('[role="dialog"]');
      await dialog.waitForDisplayed({ timeout: 15000 });
      await expect(dialog).toHaveText(expect.stringContaining('What is your name?'));
      await dialog.$('#arg-name').setValue('Ada');
      await dialog.$('button=Accept').click();
      await dialog.waitForDisplayed({ reverse: true, timeout: 10000 });
      await expect($('section.result')).toHaveText(expect.stringContaining('Hello, Ada!'), { wait: 15000 });
      // A tool added at run time is announced on the listen stream and listed without a reconnect.
      await $('button[data-tool="add_tool"]').click();
      // Its `name` has a pattern, checked on Run in a worker (the app's CSP must let it start):
      // a value that does not match stays at the field and nothing runs.
      await $('#arg-name').setValue('Not A Name');
      await $('button=Run').click();
      await expect($('#arg-name-error')).toHaveText(expect.stringContaining('does not match the pattern'), { wait: 10000 });
      await $('#arg-name').setValue('newcomer');
      await $('button=Run').click();
      await $('button[data-tool="newcomer"]').waitForDisplayed({ timeout: 15000 });
      // A call the server runs as a task (the Tasks extension): the Run bar says the server
      // decides, the task's status shows, and its question reaches the dialog.
      await $('button[data-tool="task_count"]').click();
      await expect($('.runbar')).toHaveText(expect.stringContaining('This server decides which calls run as tasks'));
      await $('#arg-ask').click();
      await $('button=Run').click();
      await expect($('.task-status')).toHaveText(expect.stringContaining('Task task-'), { wait: 15000 });
      await dialog.waitForDisplayed({ timeout: 15000 });
      await expect(dialog).toHaveText(expect.stringContaining('Who is counting?'));
      await dialog.$('#arg-who').setValue('Ada');
      await dialog.$('button=Accept').click();
      await expect($('section.result')).toHaveText(expect.stringContaining('counted to 3 for Ada'), { wait: 15000 });
      expect(await stateOf('v2')).toBe('connected');
    } finally {
      v2.kill();
    }
  });

  it('says in plain words that nothing listens on a closed port, with the whole message behind Details', async () => {
    // A real loopback port that was free a moment ago: nothing listens there.
    const port = await new Promise((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address();
        probe.close(() => resolve(port));
      });
    });
    await addServer({ name: 'closed', url: `http://127.0.0.1:${port}/mcp` });
    await waitForState('closed', 'error');
    await $('li[data-server="closed"] button.name').click();
    const pane = $('section[aria-label="What went wrong with closed"]');
    await expect(pane.$('[role="alert"]')).toHaveText(`Nothing is listening on 127.0.0.1:${port} — is the server running?`);
    await pane.$('summary=Details').click();
    await expect(pane.$('pre')).toHaveText(expect.stringContaining('Connection refused'));
    await shot('closed-port');
  });
});
